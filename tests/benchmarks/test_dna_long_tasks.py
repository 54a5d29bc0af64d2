"""Data of the long-range and defaults benchmarks: what decides a label; splits that do not overlap."""

from __future__ import annotations

import numpy as np
import pytest

from tests.benchmarks.conftest import load_script


@pytest.fixture(scope="module")
def long_range():
    return load_script("dna_long_range")


def test_long_range_labels_are_the_order_of_two_motifs_the_distance_apart(long_range) -> None:
    background = long_range.read_background()
    assert len(background) > 400_000 and set(background) <= set("ACGTN")
    a, b = long_range.pick_motifs(background, seed=0)
    assert a != b and a not in background and b not in background
    distance = 300
    data = long_range.make_set(background, (a, b), distance, n=40, seed=1)
    assert sorted(np.bincount(data.labels)) == [20, 20]
    for seq, label in zip(data.sequences, data.labels, strict=True):
        assert len(seq) == 2 * distance
        assert seq.count(a) == 1 and seq.count(b) == 1  # the same motif counts in both classes
        first, second = (a, b) if label == 1 else (b, a)
        assert seq.index(second) - seq.index(first) == distance
        assert seq.index(first) < distance - long_range.MOTIF_LENGTH


def test_long_range_sets_are_seeded(long_range) -> None:
    background = long_range.read_background()
    motifs = long_range.pick_motifs(background, seed=0)
    one = long_range.make_set(background, motifs, 100, n=10, seed=3)
    again = long_range.make_set(background, motifs, 100, n=10, seed=3)
    other = long_range.make_set(background, motifs, 100, n=10, seed=4)
    assert one.sequences == again.sequences and one.sequences != other.sequences


def test_fasta_origin_windows_are_balanced_and_split_by_position() -> None:
    defaults = load_script("dna_defaults")
    train, valid, test = defaults.load_task("fasta_origin_120")
    for part in (train, valid, test):
        assert np.bincount(part.labels).tolist() == [len(part) // 2] * 2
        assert all(len(s) == 120 for s in part.sequences)
    # No window is shared between splits on either strand
    from titans_seq.data.dna import reverse_complement

    seen = set(train.sequences) | {reverse_complement(s) for s in train.sequences}
    assert not seen & (set(valid.sequences) | set(test.sequences))


def test_every_defaults_task_loads_with_two_classes_everywhere() -> None:
    defaults = load_script("dna_defaults")
    for task in ("planted_motif", "gue_human_tf_0_400", "gb_enhancers_cohn"):
        sets = defaults.load_task(task)
        assert all(len(np.unique(part.labels)) == 2 for part in sets)
    assert len(defaults.load_task("gue_human_tf_0_400")[0]) == 400
