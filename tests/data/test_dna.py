"""DNA data layer: alphabet, tokenizers, reverse complement, FASTA/BED/CSV sources and bundled tasks.

pyfaidx writes a ``.fai`` index next to the FASTA it opens. Tests never open a FASTA inside the repository's
``datasets/`` folder with the default index location: they copy the FASTA into a temporary folder first, or
pass ``index_dir`` (and ``test_index_dir_keeps_the_data_folder_clean`` checks that nothing is written).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from titans_seq.data.dna import (
    CLS_ID,
    PAD_ID,
    UNK_ID,
    CharTokenizer,
    KmerTokenizer,
    SequenceSet,
    check_classification_data,
    reverse_complement,
    reverse_complement_ids,
    validate_labels,
    validate_sequences,
)
from titans_seq.data.dna_sources import (
    DEFAULT_DATA_DIR,
    GUE_TASKS,
    list_dna_tasks,
    load_dna_task,
    load_genomic_benchmark,
    read_bed,
    read_genomic_benchmark_coordinates,
    read_intervals,
    read_sequence_csv,
)

FASTA_DIR = DEFAULT_DATA_DIR / "fasta"
GB_DIR = DEFAULT_DATA_DIR / "genomic_benchmarks"

dna = st.text(alphabet="ACGTNacgtn", min_size=1, max_size=60)
acgt = st.text(alphabet="ACGT", min_size=1, max_size=60)
file_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fasta_text(path: Path) -> dict[str, str]:
    """Records of a FASTA file parsed by hand (name = first word of the header), case kept."""
    records: dict[str, list[str]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = []
        else:
            records[name].append(line.strip())
    return {k: "".join(v) for k, v in records.items()}


@pytest.fixture(scope="module")
def genomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, str]]:
    """Bundled FASTAs copied out of the repository: {file: (copy, record name, record text)}."""
    folder = tmp_path_factory.mktemp("fasta")
    out = {}
    for name in ("NC_005816.fna", "chr17.hg19.part.fa"):
        copy = Path(shutil.copy(FASTA_DIR / name, folder / name))
        ((record, text),) = fasta_text(copy).items()
        out[name] = (copy, record, text)
    return out


# ------------------------------------------------------------------------------ reverse complement


def test_reverse_complement_examples() -> None:
    assert reverse_complement("AACgtN") == "NacGTT"
    assert reverse_complement("ACGTRYKMBVDHSW") == "WSDHBVKMRYACGT"
    with pytest.raises(ValueError, match=r"'X' at position 2"):
        reverse_complement("ACXT")


@given(dna)
def test_reverse_complement_is_an_involution_keeping_case(seq: str) -> None:
    rc = reverse_complement(seq)
    assert reverse_complement(rc) == seq
    assert len(rc) == len(seq)
    assert [c.islower() for c in rc] == [c.islower() for c in reversed(seq)]
    assert rc.upper().count("N") == seq.upper().count("N")


@given(
    st.lists(dna, min_size=1, max_size=5),
    st.sampled_from(["left", "right"]),
    st.booleans(),
)
def test_reverse_complement_ids_is_an_involution_and_matches_strings(
    seqs: list[str], side: str, add_cls: bool
) -> None:
    tok = CharTokenizer()
    batch = tok(seqs, padding_side=side, add_cls=add_cls)
    rc = tok.reverse_complement_ids(batch.input_ids)
    np.testing.assert_array_equal(tok.reverse_complement_ids(rc), batch.input_ids)
    # Same as tokenizing the reverse-complement strings; padding and CLS stay where they were.
    expected = tok([reverse_complement(s) for s in seqs], padding_side=side, add_cls=add_cls).input_ids
    np.testing.assert_array_equal(rc, expected)
    np.testing.assert_array_equal(rc == PAD_ID, batch.input_ids == PAD_ID)
    # torch path (and 1-D input) computes the same thing
    np.testing.assert_array_equal(tok.reverse_complement_ids(torch.from_numpy(batch.input_ids)).numpy(), rc)
    np.testing.assert_array_equal(tok.reverse_complement_ids(batch.input_ids[0]), rc[0])
    np.testing.assert_array_equal(reverse_complement_ids(batch.input_ids), rc)


def test_reverse_complement_ids_explicit_rows() -> None:
    tok = CharTokenizer()
    a, c, g, t, n = (tok.vocab[b] for b in "ACGTN")
    ids = np.array([[CLS_ID, a, a, c, PAD_ID, PAD_ID], [PAD_ID, CLS_ID, g, t, n, t]])
    expected = np.array([[CLS_ID, g, t, t, PAD_ID, PAD_ID], [PAD_ID, CLS_ID, a, n, a, c]])
    np.testing.assert_array_equal(tok.reverse_complement_ids(ids), expected)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 8\)"):
        tok.reverse_complement_ids(np.array([[3, 9]]))


@pytest.mark.parametrize("tok", [CharTokenizer(), KmerTokenizer(1), KmerTokenizer(3)], ids=["char", "1", "3"])
def test_complement_table_is_an_involution_matching_the_strings(tok) -> None:
    table = tok.complement
    assert table.shape == (tok.vocab_size,) and table[:3].tolist() == [PAD_ID, CLS_ID, UNK_ID]
    np.testing.assert_array_equal(table[table], np.arange(tok.vocab_size))
    # Reversing the ids and looking them up is tokenizing the reverse-complement string.
    seq = "ACGTTGCAAAGC"
    np.testing.assert_array_equal(table[tok.encode(seq)[::-1]], tok.encode(reverse_complement(seq)))
    table[0] = 5  # a copy: the tokenizer's own table is untouched
    assert tok.complement[0] == PAD_ID


# ------------------------------------------------------------------------------ tokenizers


def test_char_vocabulary_is_fixed() -> None:
    tok = CharTokenizer()
    assert tok.vocab == {"[PAD]": 0, "[CLS]": 1, "[UNK]": 2, "A": 3, "C": 4, "G": 5, "T": 6, "N": 7}
    assert tok.encode("acgtn").tolist() == [3, 4, 5, 6, 7]  # soft-masked bases are uppercased
    assert tok.encode("AC", add_cls=True).tolist() == [CLS_ID, 3, 4]


@given(st.lists(dna, min_size=1, max_size=6), st.sampled_from(["left", "right"]))
def test_char_tokenizer_round_trips(seqs: list[str], side: str) -> None:
    tok = CharTokenizer()
    batch = tok(seqs, padding_side=side, add_cls=True, return_tensors="pt")
    assert batch.input_ids.dtype == torch.int64 and batch.attention_mask.dtype == torch.bool
    assert tok.batch_decode(batch.input_ids) == [s.upper() for s in seqs]
    assert batch.attention_mask.sum(1).tolist() == [len(s) + 1 for s in seqs]
    assert all(tok.decode(tok.encode(s)) == s.upper() for s in seqs)


@given(acgt, st.integers(1, 6), st.integers(1, 6))
def test_kmer_ids_decode_back_to_the_kmers(seq: str, k: int, stride: int) -> None:
    tok = KmerTokenizer(k, stride=stride)
    assert tok.vocab_size == 4**k + 3
    if len(seq) < k:
        with pytest.raises(ValueError, match=f"shorter than k={k}"):
            tok.encode(seq)
        return
    ids = tok.encode(seq)
    kmers = [seq[i : i + k] for i in range(0, len(seq) - k + 1, stride)]
    assert tok.convert_ids_to_tokens(ids) == kmers
    assert ids.min() >= 3 and ids.max() < tok.vocab_size
    if stride <= k:
        assert tok.decode(ids) == seq[: (len(kmers) - 1) * stride + k]
    if (len(seq) - k) % stride == 0:  # windows are symmetric: RC of ids = ids of the RC
        np.testing.assert_array_equal(tok.reverse_complement_ids(ids), tok.encode(reverse_complement(seq)))


def test_kmer_tokenizer_values() -> None:
    tok = KmerTokenizer(2)
    assert tok.vocab["AA"] == 3 and tok.vocab["AC"] == 4 and tok.vocab["TT"] == 18
    assert tok.encode("AACNT").tolist() == [3, 4, UNK_ID, UNK_ID]
    assert tok.convert_ids_to_tokens([CLS_ID, 3, UNK_ID, PAD_ID]) == ["[CLS]", "AA", "[UNK]", "[PAD]"]
    assert KmerTokenizer(3, stride=3).convert_ids_to_tokens(
        KmerTokenizer(3, stride=3).encode("ACGTACGT")
    ) == [
        "ACG",
        "TAC",
    ]
    with pytest.raises(ValueError, match="k must be an integer in"):
        KmerTokenizer(0)
    with pytest.raises(ValueError, match="stride"):
        KmerTokenizer(3, stride=0)


def test_padding_and_truncation_sides() -> None:
    tok = CharTokenizer()
    seqs = ["ACGTAC", "GG"]
    a, c, g, t = 3, 4, 5, 6
    cases = {
        ("right", "right"): [[a, c, g, t], [g, g, 0, 0]],
        ("left", "right"): [[a, c, g, t], [0, 0, g, g]],
        ("right", "left"): [[g, t, a, c], [g, g, 0, 0]],
        ("left", "left"): [[g, t, a, c], [0, 0, g, g]],
    }
    for (pad, trunc), expected in cases.items():
        batch = tok(seqs, max_length=4, padding_side=pad, truncation_side=trunc)
        assert batch.input_ids.tolist() == expected, (pad, trunc)
        np.testing.assert_array_equal(batch.attention_mask, np.array(expected) != PAD_ID)
    # CLS is kept and counted in max_length; truncation cuts the sequence, never the CLS.
    batch = tok(seqs, max_length=3, add_cls=True, truncation_side="left", padding_side="left")
    assert batch.input_ids.tolist() == [[CLS_ID, a, c], [CLS_ID, g, g]]
    # No max_length: pad to the longest row, never truncate.
    assert tok(seqs).input_ids.shape == (2, 6)
    with pytest.raises(ValueError, match="padding_side must be one of 'left', 'right'; got 'top'"):
        tok(seqs, padding_side="top")
    with pytest.raises(ValueError, match="max_length must be an integer >= 2"):
        tok(seqs, max_length=1, add_cls=True)


# ------------------------------------------------------------------------------ validation


def test_bad_characters_name_character_index_and_position() -> None:
    with pytest.raises(ValueError, match=r"sequence 1 has character 'X' at position 3"):
        validate_sequences(["ACGT", "acgXt"])
    with pytest.raises(
        ValueError, match=r"sequence 0 \('chr1:5-9\(\+\)'\) has character 'R' at position 1.*unknown='N'"
    ):
        validate_sequences(["ARGT"], names=["chr1:5-9(+)"])
    with pytest.raises(ValueError, match=r"sequence 2 has character 'é' at position 0"):
        CharTokenizer()(["A", "C", "éA"])
    with pytest.raises(ValueError, match=r"sequence 0 has character 'U' at position 0"):
        validate_sequences(["UA"], unknown="N")  # U is not an IUPAC DNA ambiguity code
    assert validate_sequences(["ryswkmbdhv", "AcGt"], unknown="N") == ["NNNNNNNNNN", "ACGT"]
    assert CharTokenizer(unknown="N").encode("AR").tolist() == [3, 7]


def test_empty_missing_and_wrong_type_sequences() -> None:
    with pytest.raises(ValueError, match="sequence 2 is empty"):
        validate_sequences(["A", "C", ""])
    with pytest.raises(ValueError, match="sequence 1 is missing"):
        validate_sequences(pd.Series(["A", None]))
    with pytest.raises(TypeError, match="sequence 0 is a int"):
        validate_sequences([3])
    with pytest.raises(TypeError, match="not a single string"):
        validate_sequences("ACGT")
    with pytest.raises(ValueError, match="unknown must be one of 'error', 'N'; got 'drop'"):
        validate_sequences(["A"], unknown="drop")


def test_labels_validation() -> None:
    with pytest.raises(ValueError, match=r"labels hold a single class \(1\); at least 2 classes are needed"):
        validate_labels([1, 1, 1])
    with pytest.raises(ValueError, match="got 3 sequences but 2 labels"):
        check_classification_data(["A", "C", "G"], [0, 1])
    with pytest.raises(ValueError, match="label 1 is missing"):
        validate_labels([0.0, np.nan, 1.0])
    # lengths and classes are checked before the (more expensive) sequence scan
    with pytest.raises(ValueError, match="single class"):
        check_classification_data(["A", "X"], [0, 0])
    seqs, y = check_classification_data(pd.Series(["ac", "GT"]), pd.Series(["b", "a"]))
    assert seqs == ["AC", "GT"] and y.tolist() == ["b", "a"]


def test_sequence_set_from_memory() -> None:
    sset = SequenceSet.from_sequences(pd.Series(["acg", "TTN", "GR"]), ["pos", "neg", "pos"], unknown="N")
    assert sset.sequences == ["ACG", "TTN", "GN"]
    assert sset.classes.tolist() == ["neg", "pos"] and sset.label_ids.tolist() == [1, 0, 1]
    assert sset.names == ["0", "1", "2"] and len(sset) == 3
    sub = sset.take([1])
    assert (
        sub.sequences == ["TTN"] and sub.classes.tolist() == ["neg", "pos"] and sub.label_ids.tolist() == [0]
    )
    with pytest.raises(ValueError, match="got 2 sequences but 1 labels"):
        SequenceSet.from_sequences(["A", "C"], [0])
    with pytest.raises(ValueError, match="character 'R'"):
        SequenceSet(["AR"])  # the constructor itself is strict
    with pytest.raises(ValueError, match="label 2 is not in classes"):
        SequenceSet(["A"], np.array([2]), classes=np.array([0, 1]))
    with pytest.raises(ValueError, match="has no labels"):
        _ = SequenceSet(["A"]).label_ids


# ------------------------------------------------------------------------------ FASTA + intervals


@file_settings
@given(data=st.data(), which=st.sampled_from(["NC_005816.fna", "chr17.hg19.part.fa"]))
def test_intervals_equal_python_slicing(genomes, data: st.DataObject, which: str) -> None:
    path, record, text = genomes[which]
    starts = data.draw(st.lists(st.integers(0, len(text) - 1), min_size=1, max_size=4))
    ends = [data.draw(st.integers(s + 1, min(len(text), s + 300))) for s in starts]
    frame = pd.DataFrame({"chrom": record, "start": starts, "end": ends})
    plus = read_intervals(path, frame.assign(strand="+"))
    minus = read_intervals(path, frame.assign(strand="-"))
    # pyfaidx and BED are 0-based half-open: text[start:end], soft-masked bases uppercased
    assert plus.sequences == [text[s:e].upper() for s, e in zip(starts, ends, strict=True)]
    assert minus.sequences == [reverse_complement(s) for s in plus.sequences]
    assert plus.names[0] == f"{record}:{starts[0]}-{ends[0]}(+)"


def test_chr17_is_soft_masked_and_uppercased(genomes) -> None:
    path, record, text = genomes["chr17.hg19.part.fa"]
    start = text.index("gtggtcccag")  # a lowercase (repeat-masked) stretch
    sset = read_intervals(path, pd.DataFrame({"chrom": [record], "start": [start], "end": [start + 10]}))
    assert sset.sequences == ["GTGGTCCCAG"]
    assert read_intervals(
        path, pd.DataFrame({"chrom": [record], "start": [39990], "end": [40000]})
    ).sequences == [text[39990:].upper()]


def test_bed_file_with_names_labels_and_strand(genomes, tmp_path: Path) -> None:
    path, record, text = genomes["NC_005816.fna"]
    lines = [
        "track name=test",
        "# a comment",
        f"{record}\t0\t10\tpos\t0\t+",
        f"{record}\t100\t112\tneg\t0\t-",
        f"{record}\t9600\t9609\tpos\t0\t.",
    ]
    bed = tmp_path / "peaks.bed.gz"
    with gzip.open(bed, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    frame = read_bed(bed)
    assert list(frame.columns) == ["chrom", "start", "end", "name", "score", "strand"]
    assert frame["start"].tolist() == [0, 100, 9600]
    sset = read_intervals(path, bed, label_column="name", name_column="name")
    assert sset.sequences == [text[0:10], reverse_complement(text[100:112]), text[9600:9609]]
    assert sset.labels.tolist() == ["pos", "neg", "pos"] and sset.classes.tolist() == ["neg", "pos"]
    # the same intervals as a CSV
    csv = tmp_path / "peaks.csv"
    frame.rename(columns={"name": "label"}).to_csv(csv, index=False)
    assert read_intervals(path, csv, label_column="label").sequences == sset.sequences


def test_interval_errors(genomes, tmp_path: Path) -> None:
    path, record, _ = genomes["NC_005816.fna"]

    def frame(chrom: str = record, start: int = 0, end: int = 10, strand: str = "+") -> pd.DataFrame:
        return pd.DataFrame({"chrom": [chrom], "start": [start], "end": [end], "strand": [strand]})

    with pytest.raises(
        ValueError,
        match=rf"interval 0 \({re.escape(record)}:9600-9610\(\+\)\) ends past the end of contig "
        r".* \(length 9609\)",
    ):
        read_intervals(path, frame(start=9600, end=9610))
    with pytest.raises(
        ValueError, match=r"contig 'chrZ' is not in .*NC_005816.fna \(1 records: gi\|45478711"
    ):
        read_intervals(path, frame(chrom="chrZ"))
    with pytest.raises(ValueError, match=r"interval 0 .*:5-5.* has start >= end"):
        read_intervals(path, frame(start=5, end=5))
    with pytest.raises(ValueError, match="starts before 0"):
        read_intervals(path, frame(start=-1))
    with pytest.raises(ValueError, match="has a strand outside"):
        read_intervals(path, frame(strand="x"))
    with pytest.raises(ValueError, match="intervals have no column 'end'"):
        read_intervals(path, frame().drop(columns="end"))
    with pytest.raises(FileNotFoundError, match="FASTA file not found: .*missing.fa"):
        read_intervals(tmp_path / "missing.fa", frame())
    with pytest.raises(FileNotFoundError, match="interval file not found"):
        read_intervals(path, tmp_path / "missing.bed")
    bad_bed = tmp_path / "bad.bed"
    bad_bed.write_text(f"{record}\t0\t10\n{record}\tten\t20\n")
    with pytest.raises(ValueError, match="line 2: start must be an integer, got 'ten'"):
        read_bed(bad_bed)
    # contig_map renames interval contigs to FASTA records
    assert (
        read_intervals(path, frame(chrom="plasmid"), contig_map={"plasmid": record}).sequences[0]
        == "TGTAACGAAC"
    )


def test_index_dir_keeps_the_data_folder_clean(tmp_path: Path) -> None:
    before = sorted(p.name for p in FASTA_DIR.iterdir())
    sset = read_intervals(
        FASTA_DIR / "NC_001802.fna",
        pd.DataFrame({"chrom": ["gi|9629357|ref|NC_001802.1|"], "start": [0], "end": [12]}),
        index_dir=tmp_path / "idx",
    )
    assert sset.sequences == ["GGTCTCTCTGGT"]
    assert [p.suffix for p in (tmp_path / "idx").glob("NC_001802.fna.*.fai")] == [".fai"]
    assert sorted(p.name for p in FASTA_DIR.iterdir()) == before
    assert not list(DEFAULT_DATA_DIR.rglob("*.fai"))


# ------------------------------------------------------------------------------ GenomicBenchmarks


def _write_coordinates(root: Path, split: str, cls: str, rows: list[tuple]) -> None:
    folder = root / "coordinates" / split
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["id", "region", "start", "end", "strand"])
    frame.to_csv(folder / f"{cls}.csv.gz", index=False)


def test_genomic_benchmark_from_generated_genome(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    contigs = {name: "".join(rng.choice(list("ACGTacgt"), size=300)) for name in ("1", "2")}
    genome = tmp_path / "genome.fa"  # Ensembl-style names, as GRCh38 from Ensembl has
    genome.write_text(
        "".join(
            f">{k} test contig\n" + "\n".join(v[i : i + 60] for i in range(0, 300, 60)) + "\n"
            for k, v in contigs.items()
        )
    )
    task = tmp_path / "toy_task"
    _write_coordinates(task, "train", "positive", [("p0", "chr1", 0, 20, "+"), ("p1", "chr2", 280, 300, "-")])
    _write_coordinates(task, "train", "negative", [("n0", "chr2", 5, 25, "-")])
    _write_coordinates(task, "test", "positive", [("t0", "chr1", 10, 30, "+")])
    _write_coordinates(task, "test", "negative", [("t1", "chr1", 290, 310, "+")])

    coords = read_genomic_benchmark_coordinates(task, "train")
    assert coords["label"].tolist() == ["negative", "positive", "positive"]  # sorted classes
    train = load_genomic_benchmark(task / "coordinates", genome, "train", index_dir=tmp_path / "idx")
    assert train.sequences == [
        reverse_complement(contigs["2"][5:25]).upper(),
        contigs["1"][0:20].upper(),
        reverse_complement(contigs["2"][280:300]).upper(),
    ]
    assert train.classes.tolist() == ["negative", "positive"] and train.label_ids.tolist() == [0, 1, 1]
    assert train.names == ["n0", "p0", "p1"]
    # one FASTA per class works too
    per_class = load_genomic_benchmark(
        task, {"negative": genome, "positive": genome}, "train", index_dir=tmp_path
    )
    assert per_class.sequences == train.sequences
    with pytest.raises(
        ValueError,
        match=r"interval 0 't1' \(chr1:290-310\(\+\)\) ends past the end of contig '1' \(length 300\)",
    ):
        load_genomic_benchmark(task, genome, "test", index_dir=tmp_path)
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'"):
        load_genomic_benchmark(task, genome, "valid")


@pytest.mark.parametrize(
    ("task", "counts", "length"),
    [
        ("human_nontata_promoters", {"negative": 4119, "positive": 4915}, 251),
        ("human_enhancers_cohn", {"negative": 3474, "positive": 3474}, 500),
    ],
)
def test_bundled_coordinates_parse(task: str, counts: dict[str, int], length: int) -> None:
    coords = read_genomic_benchmark_coordinates(GB_DIR / task / "coordinates", "test")
    assert len(coords) == sum(counts.values())
    assert coords["label"].value_counts().to_dict() == counts
    assert set(coords["end"] - coords["start"]) == {length}  # half-open: end - start = sequence length
    assert set(coords["strand"]) <= {"+", "-"} and coords["chrom"].str.startswith("chr").all()


# ------------------------------------------------------------------------------ named tasks and CSV

GUE_ROWS = {  # train/valid/test rows and test label counts 0/1, from datasets/DNA_README.md
    "gue_human_tf_0": ((32378, 1000, 1000), (500, 500)),
    "gue_human_tf_1": ((30672, 1000, 1000), (500, 500)),
    "gue_human_tf_2": ((19000, 1000, 1000), (500, 500)),
    "gue_human_tf_4": ((19000, 1000, 1000), (500, 500)),
    "gue_prom_core_all": ((47356, 5920, 5920), (2952, 2968)),
    "gue_prom_core_notata": ((42452, 5307, 5307), (2648, 2659)),
    "gue_prom_300_tata": ((4904, 613, 613), (315, 298)),
    "gue_mouse_tf_0": ((6478, 810, 810), (405, 405)),
    "gue_mouse_tf_2": ((2620, 328, 328), (164, 164)),
    "gue_mouse_tf_3": ((1904, 239, 239), (120, 119)),
    "gue_mouse_tf_4": ((15064, 1883, 1883), (942, 941)),
}


def test_task_list() -> None:
    assert sorted(GUE_ROWS) == sorted(GUE_TASKS)
    assert list_dna_tasks() == sorted([*GUE_ROWS, "human_enhancers_cohn", "human_nontata_promoters"])


@pytest.mark.parametrize("task", sorted(GUE_ROWS))
def test_gue_loader_row_counts(task: str) -> None:
    rows, test_counts = GUE_ROWS[task]
    splits = [load_dna_task(task, split) for split in ("train", "valid", "test")]
    assert tuple(len(s) for s in splits) == rows
    assert all(s.classes.tolist() == [0, 1] for s in splits)
    assert tuple(np.bincount(splits[2].label_ids)) == test_counts
    assert {len(seq) for seq in splits[2].sequences} == {
        70 if "core" in task else 300 if "300" in task else 101
    }


def test_gue_mouse_tf_3_label_balance() -> None:
    train = load_dna_task("gue_mouse_tf_3")
    assert np.bincount(train.labels).tolist() == [952, 952]
    assert load_dna_task("gue_mouse_tf_3", "valid").names[0] == "1904"  # file row numbers


@pytest.mark.parametrize(
    ("task", "rows", "counts"),
    [("human_nontata_promoters", 9034, [4119, 4915]), ("human_enhancers_cohn", 6948, [3474, 3474])],
)
def test_genomic_benchmarks_test_sets(task: str, rows: int, counts: list[int]) -> None:
    test = load_dna_task(task, "test")
    assert len(test) == rows and test.classes.tolist() == [0, 1]
    assert np.bincount(test.label_ids).tolist() == counts
    with pytest.raises(
        FileNotFoundError, match=r"train split of .* is not bundled.*sequence,label.*load_genomic_benchmark"
    ):
        load_dna_task(task, "train")
    with pytest.raises(ValueError, match="only 'train' and 'test' splits"):
        load_dna_task(task, "valid")


def test_named_loader_errors_and_data_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown DNA task 'gue_tf_9'; available: gue_human_tf_0"):
        load_dna_task("gue_tf_9")
    with pytest.raises(ValueError, match="'dev' is called 'valid'"):
        load_dna_task("gue_mouse_tf_3", "dev")
    with pytest.raises(FileNotFoundError, match="GUE task file not found"):
        load_dna_task("gue_mouse_tf_3", data_dir=tmp_path)
    # a user-supplied GenomicBenchmarks train split in data_dir is picked up
    folder = tmp_path / "genomic_benchmarks" / "human_nontata_promoters"
    folder.mkdir(parents=True)
    pd.DataFrame({"sequence": ["ACGT", "ggca", "TTAA"], "label": [1, 0, 1]}).to_csv(
        folder / "train.csv.gz", index=False
    )
    train = load_dna_task("human_nontata_promoters", "train", data_dir=tmp_path)
    assert train.sequences == ["ACGT", "GGCA", "TTAA"] and train.labels.tolist() == [1, 0, 1]


def test_read_sequence_csv(tmp_path: Path) -> None:
    path = tmp_path / "seqs.csv"
    pd.DataFrame(
        {
            "sequence": ["ACGT", "GGNA", "acgt", "TTTT"],
            "label": [0, 1, 1, 0],
            "split": ["train", "train", "test", "test"],
        }
    ).to_csv(path, index=False)
    test = read_sequence_csv(path, split="test")
    assert test.sequences == ["ACGT", "TTTT"] and test.labels.tolist() == [1, 0] and test.names == ["2", "3"]
    assert read_sequence_csv(path, label_column=None).labels is None
    with pytest.raises(ValueError, match=r"no rows with split='valid'; splits present: \['test', 'train'\]"):
        read_sequence_csv(path, split="valid")
    with pytest.raises(ValueError, match="has no column 'target'"):
        read_sequence_csv(path, label_column="target")
    with pytest.raises(FileNotFoundError, match="sequence file not found"):
        read_sequence_csv(tmp_path / "nope.csv")
    path.write_text("sequence,label\nACGT,0\n,1\n")
    with pytest.raises(ValueError, match=r"sequence 1 \('1'\) is empty"):
        read_sequence_csv(path)


# ------------------------------------------------------------------------------ bundled files


def test_bundled_files_match_dna_readme_checksums() -> None:
    readme = (DEFAULT_DATA_DIR / "DNA_README.md").read_text()
    listed = dict(
        (path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  \./(\S+)$", readme, flags=re.M)
    )
    stored = {
        str(p.relative_to(DEFAULT_DATA_DIR))
        for folder in ("dna", "genomic_benchmarks", "fasta")
        for p in (DEFAULT_DATA_DIR / folder).rglob("*")
        if p.is_file()
    }
    assert stored == set(listed)
    for rel, digest in listed.items():
        assert hashlib.sha256((DEFAULT_DATA_DIR / rel).read_bytes()).hexdigest() == digest, rel
