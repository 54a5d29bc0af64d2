"""A FASTA index is never used for a file it does not describe (read_intervals with and without index_dir)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from titans_seq.data.dna_sources import read_intervals


def _read(fasta, end, **kwargs) -> list[str]:
    return read_intervals(
        fasta, pd.DataFrame({"chrom": ["c1"], "start": [0], "end": [end]}), **kwargs
    ).sequences


def test_two_fasta_files_with_one_name_do_not_share_an_index_dir(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "g.fa").write_text(">c1\nTTTTTTTTGGGG\n")
    (tmp_path / "a" / "g.fa").write_text(">c1\nACGT\nACGT\n")  # another line width, indexed first
    index = tmp_path / "index"
    assert _read(tmp_path / "a" / "g.fa", 8, index_dir=index) == ["ACGTACGT"]
    assert _read(tmp_path / "b" / "g.fa", 12, index_dir=index) == ["TTTTTTTTGGGG"]
    assert _read(tmp_path / "b" / "g.fa", 8, index_dir=index) == ["TTTTTTTT"]
    assert len(list(index.iterdir())) == 2


def test_a_rewritten_fasta_gets_a_fresh_index_in_index_dir(tmp_path):
    fasta, index = tmp_path / "g.fa", tmp_path / "index"
    fasta.write_text(">c1\nACGT\nACGT\n")
    assert _read(fasta, 8, index_dir=index) == ["ACGTACGT"]
    fasta.write_text(">c1\nGGGGGGGGGGGGCC\n")
    assert _read(fasta, 14, index_dir=index) == ["GGGGGGGGGGGGCC"]


def test_a_stale_index_beside_the_fasta_is_refused_not_read(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">c1\nACGTACGTAC\n")
    assert _read(fasta, 8) == ["ACGTACGT"]
    stat = fasta.stat()
    fasta.write_text(">c1\nGG\nGG\nGG\nGG\nGG\nGG\n")  # rewritten, its old time restored (a copy tool)
    os.utime(fasta, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    before = (tmp_path / "g.fa.fai").read_text()
    with pytest.raises(ValueError, match=r"g.fa.fai does not describe .*g.fa"):
        _read(fasta, 8)
    assert (tmp_path / "g.fa.fai").read_text() == before  # the user's index is left as it was


def test_a_fasta_without_a_final_newline_keeps_its_index(tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">c1\nACGT\nAC")
    assert _read(fasta, 6) == ["ACGTAC"]
    assert _read(fasta, 6) == ["ACGTAC"]  # again, with the index now present and checked
