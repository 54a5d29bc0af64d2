"""Where DNA sequence sets come from: CSV files, a reference FASTA plus intervals, GenomicBenchmarks
coordinate folders, and the tasks bundled in the repository's ``datasets/`` folder.

Every reader returns a :class:`~titans_seq.data.dna.SequenceSet` and checks its input before doing any work,
raising ``ValueError`` that names the row, interval, column or value at fault.

Coordinates are 0-based and half-open (``[start, end)``) everywhere, as in BED files and Python/pyfaidx
slices. The GenomicBenchmarks coordinate files use the same convention: their official ``loc2seq`` code
slices ``genome[region][start:end]`` on a Python string, and ``end - start`` equals the published sequence
length (251 for human_nontata_promoters, 500 for human_enhancers_cohn).

Bounds are strict: pyfaidx silently returns a shorter sequence for an interval that runs past the end of a
contig unless asked not to; here such an interval is an error naming it and the contig length.

pyfaidx reads a ``.fai`` index and writes it, if missing or stale, next to the FASTA (the samtools
convention, so other tools reuse it). Pass ``index_dir`` to keep it elsewhere, e.g. for a read-only genome
folder or to leave a data folder untouched; there each index is named after the FASTA's path, size and
modification time, so two FASTA files (or two versions of one) never share an index. An existing index is
checked against the file it is meant for before it is used: one that does not describe it (built for another
file, or before the file changed) is an error naming both, never a source of wrong bases.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from pyfaidx import Fasta

from titans_seq.data.dna import (
    SequenceSet,
    UnknownPolicy,
    _check_choice,
    reverse_complement,
    validate_sequences,
)

PathLike = str | os.PathLike

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "datasets"

# GUE (Zhou et al., DNABERT-2, ICLR 2024): official train/dev/test splits, stored as
# datasets/dna/<task>/<task>.csv.gz with columns sequence,label,split (dev renamed valid).
GUE_TASKS: tuple[str, ...] = (
    "gue_human_tf_0",
    "gue_human_tf_1",
    "gue_human_tf_2",
    "gue_human_tf_4",
    "gue_mouse_tf_0",
    "gue_mouse_tf_2",
    "gue_mouse_tf_3",
    "gue_mouse_tf_4",
    "gue_prom_300_tata",
    "gue_prom_core_all",
    "gue_prom_core_notata",
)
# GenomicBenchmarks (Gresova et al. 2023) sets whose test sequences are bundled; their train sequences are
# not (datasets/DNA_README.md), only the coordinates of both splits.
GENOMIC_BENCHMARKS_TASKS: tuple[str, ...] = ("human_enhancers_cohn", "human_nontata_promoters")

BED_COLUMNS: tuple[str, ...] = (
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "thick_start",
    "thick_end",
    "item_rgb",
    "block_count",
    "block_sizes",
    "block_starts",
)
_STRANDS = ("+", "-", ".")


def _existing_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p


def _csv_separator(path: Path) -> str:
    return "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","


# --------------------------------------------------------------------------------------- CSV


def read_sequence_csv(
    path: PathLike,
    *,
    split: str | None = None,
    sequence_column: str = "sequence",
    label_column: str | None = "label",
    split_column: str = "split",
    unknown: UnknownPolicy = "error",
) -> SequenceSet:
    """Read a table of sequences (``sequence,label[,split]``; ``.csv``/``.tsv``, optionally gzipped).

    Parameters
    ----------
    path : path-like
        The file; compression is inferred from the suffix.
    split : str, optional
        Keep only rows whose ``split_column`` equals this value (e.g. "train", "valid", "test").
    sequence_column, label_column, split_column : str
        Column names. ``label_column=None`` reads unlabeled sequences.
    unknown : {"error", "N"}
        Policy for IUPAC ambiguity codes, see :func:`titans_seq.data.dna.validate_sequences`.

    Returns
    -------
    SequenceSet
        ``names`` are the 0-based data-row numbers in the file; ``classes`` are the sorted labels found in
        the selected rows.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        A column is missing, ``split`` matches no row (the message lists the splits present), or a sequence
        or label is invalid.
    """
    p = _existing_file(path, "sequence file")
    # Empty cells stay "" for sequences (reported as "empty") but become NaN for labels (reported as missing).
    na_values = {} if label_column is None else {label_column: [""]}
    frame = pd.read_csv(
        p, sep=_csv_separator(p), dtype={sequence_column: str}, keep_default_na=False, na_values=na_values
    )
    wanted = [sequence_column] + ([label_column] if label_column else []) + ([split_column] if split else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        hint = " (pass label_column=None for unlabeled sequences)" if label_column in missing else ""
        raise ValueError(f"{p} has no column {missing[0]!r}; its columns are {list(frame.columns)}{hint}")
    if split is not None:
        values = frame[split_column].astype(str)
        keep = values == split
        if not keep.any():
            raise ValueError(
                f"{p} has no rows with {split_column}={split!r}; splits present: {sorted(values.unique())}"
            )
        frame = frame[keep]
    names = [str(i) for i in frame.index]
    seqs = validate_sequences(frame[sequence_column].tolist(), unknown=unknown, names=names)
    labels = None if label_column is None else frame[label_column].to_numpy()
    return SequenceSet(seqs, labels, names)


# ------------------------------------------------------------------------------- BED + FASTA


def read_bed(path: PathLike) -> pd.DataFrame:
    """Read a BED file (optionally gzipped) into a frame with columns ``chrom, start, end[, name, ...]``.

    Fields are tab-separated (whitespace is accepted when a line has no tab); ``#``, ``track`` and
    ``browser`` lines are skipped. ``start``/``end`` are 0-based half-open integers; other columns stay
    strings. Columns past the 12 of BED12 are named ``extra_13``, ``extra_14``, ...

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        No interval, a line with fewer than 3 fields, lines with different field counts, or a non-integer
        start/end (messages give the line number).
    """
    p = _existing_file(path, "BED file")
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    with opener(p, "rt") as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(("#", "track", "browser")):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            if len(fields) < 3:
                raise ValueError(f"{p}, line {lineno}: a BED line needs chrom, start and end; got {text!r}")
            if rows and len(fields) != len(rows[0]):
                raise ValueError(
                    f"{p}, line {lineno}: {len(fields)} fields, but line {line_numbers[0]} has {len(rows[0])}"
                )
            rows.append(fields)
            line_numbers.append(lineno)
    if not rows:
        raise ValueError(f"{p} holds no interval")
    width = len(rows[0])
    columns = [*BED_COLUMNS[:width], *(f"extra_{i + 1}" for i in range(len(BED_COLUMNS), width))]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("start", "end"):
        for i, value in enumerate(frame[col]):
            if not value.lstrip("-").isdigit():
                raise ValueError(f"{p}, line {line_numbers[i]}: {col} must be an integer, got {value!r}")
        frame[col] = frame[col].astype(np.int64)
    return frame


def _interval_frame(intervals: PathLike | pd.DataFrame) -> pd.DataFrame:
    if isinstance(intervals, pd.DataFrame):
        return intervals.reset_index(drop=True)
    p = _existing_file(intervals, "interval file")
    lower = p.name.lower().removesuffix(".gz")
    if lower.endswith(".bed"):
        return read_bed(p)
    if lower.endswith((".csv", ".tsv")):
        return pd.read_csv(p, sep=_csv_separator(p))
    raise ValueError(f"cannot tell the format of {p}: use a .bed, .csv or .tsv file (optionally .gz)")


def _describe(frame: pd.DataFrame, i: int, name_column: str | None) -> str:
    """Interval at position ``i``, numbered by its frame label (its row in the caller's full table)."""
    row = frame.iloc[i]
    strand = f"({row['strand']})" if "strand" in frame.columns else ""
    name = f" {row[name_column]!r}" if name_column else ""
    return f"interval {frame.index[i]}{name} ({row['chrom']}:{row['start']}-{row['end']}{strand})"


def _check_intervals(frame: pd.DataFrame, name_column: str | None, label_column: str | None) -> pd.DataFrame:
    """Column, integer, ordering and strand checks that need no FASTA (run before opening it)."""
    for col in ("chrom", "start", "end", name_column, label_column):
        if col is not None and col not in frame.columns:
            raise ValueError(f"intervals have no column {col!r}; their columns are {list(frame.columns)}")
    if len(frame) == 0:
        raise ValueError("no interval given")
    frame = frame.copy()
    for col in ("start", "end"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | (values != np.floor(values))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"interval {i}: {col} must be an integer, got {frame[col].iloc[i]!r}")
        frame[col] = values.astype(np.int64)
    frame["chrom"] = frame["chrom"].astype(str)
    checks = [
        (frame["start"] < 0, "starts before 0"),
        (frame["start"] >= frame["end"], "has start >= end (intervals are 0-based half-open, [start, end))"),
    ]
    if "strand" in frame.columns:
        frame["strand"] = frame["strand"].astype(str).str.strip()
        checks.append((~frame["strand"].isin(_STRANDS), f"has a strand outside {_STRANDS}"))
    for bad, problem in checks:
        if bad.any():
            raise ValueError(
                f"{_describe(frame, int(np.flatnonzero(bad.to_numpy())[0]), name_column)} {problem}"
            )
    return frame


def _index_path(fasta: Path, index_dir: PathLike | None) -> Path:
    """Where the ``.fai`` of ``fasta`` lives: beside it, or in ``index_dir`` under a name keyed on the file's
    identity (resolved path, size, modification time)."""
    if index_dir is None:
        return Path(f"{fasta}.fai")
    stat = fasta.stat()
    identity = f"{fasta.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return Path(index_dir) / f"{fasta.name}.{hashlib.sha256(identity.encode()).hexdigest()[:16]}.fai"


def _check_index(fasta: Path, index: Path) -> None:
    """Raise ``ValueError`` if an existing ``index`` that pyfaidx would use cannot describe ``fasta``: a
    record whose bytes end past the end of the file, or anything but whitespace after the last record.

    (pyfaidx rebuilds an index older than its FASTA by itself; this catches the others. Compressed FASTA
    files are not checked: their index counts uncompressed bytes.)"""
    if not index.is_file() or index.stat().st_mtime < fasta.stat().st_mtime:
        return
    with open(fasta, "rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            return
    size, last_end = fasta.stat().st_size, 0
    try:
        for line in index.read_text().splitlines():
            _, length, offset, line_bases, line_width = line.split("\t")[:5]
            length, offset, line_bases, line_width = map(int, (length, offset, line_bases, line_width))
            end = offset + (length // line_bases) * line_width + length % line_bases if line_bases else offset
            if end > size:
                raise ValueError
            last_end = max(last_end, end)
    except ValueError:
        last_end = -1
    fits = 0 <= last_end and size - last_end <= 1 << 16
    if fits:  # only whitespace may follow the last record's bases
        with open(fasta, "rb") as handle:
            handle.seek(last_end)
            fits = not handle.read().strip()
    if not fits:
        raise ValueError(
            f"the index {index} does not describe {fasta} (it was built for another file, or before the file "
            "changed): delete the index, or pass another index_dir"
        )


def _fetch(
    fasta: Path,
    frame: pd.DataFrame,
    *,
    name_column: str | None,
    contig_map: Mapping[str, str] | None,
    strip_chr: bool,
    index_dir: PathLike | None,
) -> list[str]:
    """Sequences of checked intervals (minus strand reverse-complemented), in frame order, case kept."""
    indexname = _index_path(fasta, index_dir)
    _check_index(fasta, indexname)
    if index_dir is not None:
        Path(index_dir).mkdir(parents=True, exist_ok=True)
    # strict_bounds is a second guard: every interval is checked against the index lengths first, so
    # that the error names the interval instead of pyfaidx's coordinate.
    with Fasta(str(fasta), indexname=str(indexname), as_raw=True, strict_bounds=True) as genome:
        lengths = {name: record.rlen for name, record in genome.faidx.index.items()}
        mapping = dict(contig_map or {})
        for contig in frame["chrom"].unique():
            # GenomicBenchmarks prefixes Ensembl names with "chr" ("1" -> "chr1"): undo it for Ensembl FASTAs.
            stripped = contig.removeprefix("chr")
            if strip_chr and contig not in mapping and contig not in lengths and stripped in lengths:
                mapping[contig] = stripped
        contigs = frame["chrom"].map(lambda c: mapping.get(c, c))
        contig_length = contigs.map(lengths)
        absent = contig_length.isna().to_numpy()
        if absent.any():
            i = int(np.flatnonzero(absent)[0])
            listed = ", ".join(list(lengths)[:10]) + (", ..." if len(lengths) > 10 else "")
            raise ValueError(
                f"{_describe(frame, i, name_column)}: contig {contigs.iloc[i]!r} is not in {fasta} "
                f"({len(lengths)} records: {listed}); pass contig_map to rename contigs"
            )
        past = (frame["end"] > contig_length).to_numpy()
        if past.any():
            i = int(np.flatnonzero(past)[0])
            raise ValueError(
                f"{_describe(frame, i, name_column)} ends past the end of contig {contigs.iloc[i]!r} "
                f"(length {int(contig_length.iloc[i])}) in {fasta}"
            )
        minus = (
            (frame["strand"] == "-").to_numpy() if "strand" in frame.columns else np.zeros(len(frame), bool)
        )
        seqs = [
            genome[c][s:e]
            for c, s, e in zip(contigs.tolist(), frame["start"].tolist(), frame["end"].tolist(), strict=True)
        ]
    return [reverse_complement(seq) if neg else seq for seq, neg in zip(seqs, minus, strict=True)]


def read_intervals(
    fasta: PathLike,
    intervals: PathLike | pd.DataFrame,
    *,
    label_column: str | None = None,
    name_column: str | None = None,
    contig_map: Mapping[str, str] | None = None,
    index_dir: PathLike | None = None,
    unknown: UnknownPolicy = "error",
) -> SequenceSet:
    """Sequences of genomic intervals read from a reference FASTA with pyfaidx.

    Parameters
    ----------
    fasta : path-like
        Reference FASTA (plain, or bgzip-compressed as pyfaidx requires). Records are named by the first
        word of their header line.
    intervals : path-like or DataFrame
        A BED file (``.bed``/``.bed.gz``: chrom, start, end, optional name, score, strand, ...), a CSV/TSV
        with at least ``chrom,start,end`` columns (optional ``strand``), or such a frame. 0-based
        half-open; strand ``-`` gives the reverse complement, ``+``/``.``/no column the forward strand.
    label_column : str, optional
        Column holding the labels (e.g. ``"name"`` for BED, ``"label"`` for a CSV).
    name_column : str, optional
        Column naming the intervals; by default names read ``chrom:start-end(strand)``.
    contig_map : mapping, optional
        Interval contig name -> FASTA record name, e.g. ``{"chrM": "MT"}``.
    index_dir : path-like, optional
        Folder for pyfaidx's ``.fai`` index (created if needed); default: next to the FASTA.
    unknown : {"error", "N"}
        Policy for IUPAC ambiguity codes in the fetched sequences. Soft-masked bases are uppercased.

    Raises
    ------
    FileNotFoundError
        The FASTA or interval file does not exist.
    ValueError
        A missing column, a non-integer or negative coordinate, ``start >= end``, an unknown strand, a contig
        absent from the FASTA, or an interval past the end of its contig (message names the interval and the
        contig length). All are checked before any sequence is read.

    Examples
    --------
    >>> sset = read_intervals("genome.fa", "peaks.bed", label_column="name")  # doctest: +SKIP
    """
    frame = _check_intervals(_interval_frame(intervals), name_column, label_column)
    fasta_path = _existing_file(fasta, "FASTA file")
    seqs = _fetch(
        fasta_path,
        frame,
        name_column=name_column,
        contig_map=contig_map,
        strip_chr=False,
        index_dir=index_dir,
    )
    if name_column is not None:
        names = frame[name_column].astype(str).tolist()
    else:
        strand = frame["strand"] if "strand" in frame.columns else pd.Series("+", index=frame.index)
        names = [
            f"{c}:{s}-{e}({d})"
            for c, s, e, d in zip(frame["chrom"], frame["start"], frame["end"], strand, strict=True)
        ]
    labels = None if label_column is None else frame[label_column].to_numpy()
    return SequenceSet(validate_sequences(seqs, unknown=unknown, names=names), labels, names)


# ------------------------------------------------------------------------- GenomicBenchmarks


def _coordinates_root(coordinates_dir: PathLike) -> Path:
    root = Path(coordinates_dir)
    if (root / "coordinates").is_dir():
        root = root / "coordinates"
    if not root.is_dir():
        raise FileNotFoundError(f"GenomicBenchmarks coordinate folder not found: {root}")
    return root


def read_genomic_benchmark_coordinates(coordinates_dir: PathLike, split: str) -> pd.DataFrame:
    """Intervals of one split of a GenomicBenchmarks task.

    Parameters
    ----------
    coordinates_dir : path-like
        ``<task>/coordinates`` (or ``<task>``), holding ``{train,test}/<class>.csv.gz`` files with columns
        ``id,region,start,end,strand`` (0-based half-open, see the module docstring).
    split : {"train", "test"}

    Returns
    -------
    DataFrame
        Columns ``id, chrom, start, end, strand, label``; ``label`` is the class (the file name without
        ``.csv.gz``). Rows are grouped by class in sorted class order, file order within a class.
    """
    _check_choice("split", split, ("train", "test"))
    folder = _coordinates_root(coordinates_dir) / split
    files = sorted(folder.glob("*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no <class>.csv.gz coordinate file in {folder}")
    frames = []
    for f in files:
        part = pd.read_csv(f, dtype={"id": str, "region": str, "strand": str})
        missing = [c for c in ("id", "region", "start", "end", "strand") if c not in part.columns]
        if missing:
            raise ValueError(f"{f} has no column {missing[0]!r}; its columns are {list(part.columns)}")
        frames.append(part.assign(label=f.name.removesuffix(".csv.gz")))
    frame = pd.concat(frames, ignore_index=True).rename(columns={"region": "chrom"})
    return frame[["id", "chrom", "start", "end", "strand", "label"]]


def load_genomic_benchmark(
    coordinates_dir: PathLike,
    fasta: PathLike | Mapping[str, PathLike],
    split: str,
    *,
    contig_map: Mapping[str, str] | None = None,
    index_dir: PathLike | None = None,
    unknown: UnknownPolicy = "error",
) -> SequenceSet:
    """Build a GenomicBenchmarks split from its coordinates and a genome FASTA you supply.

    The official sets are cut from Ensembl GRCh38 (release 97 or 100, named in each task's
    ``metadata.yaml``; the worm class of demo_human_or_worm from WBcel235). Their region names are Ensembl
    names with a ``chr`` prefix added; a region absent from the FASTA is therefore looked up without the
    prefix (``chr1`` -> ``1``), so Ensembl and UCSC-style FASTAs both work. Transcript regions
    (demo_coding_vs_intergenomic_seqs) need ``contig_map``.

    Parameters
    ----------
    coordinates_dir : path-like
        ``<task>/coordinates`` or ``<task>``.
    fasta : path-like or mapping
        One FASTA for every class, or ``{class: FASTA}``.
    split : {"train", "test"}
    contig_map, index_dir, unknown
        As in :func:`read_intervals`.

    Returns
    -------
    SequenceSet
        Labels are class names, ``classes`` their sorted list (so ``label_ids`` give negative=0, positive=1,
        the label ids of the bundled test CSVs); ``names`` are the coordinate ids.
    """
    frame = _check_intervals(read_genomic_benchmark_coordinates(coordinates_dir, split), "id", "label")
    classes = np.array(sorted(frame["label"].unique()))
    if isinstance(fasta, Mapping):
        absent = [c for c in classes if c not in fasta]
        if absent:
            raise ValueError(
                f"fasta mapping has no entry for class {absent[0]!r}; classes are {classes.tolist()}"
            )
        groups = [(_existing_file(fasta[c], "FASTA file"), frame.index[frame["label"] == c]) for c in classes]
    else:
        groups = [(_existing_file(fasta, "FASTA file"), frame.index)]
    seqs: list[str] = [""] * len(frame)
    for path, rows in groups:
        part = _fetch(
            path,
            frame.loc[rows],
            name_column="id",
            contig_map=contig_map,
            strip_chr=True,
            index_dir=index_dir,
        )
        for row, seq in zip(rows, part, strict=True):
            seqs[row] = seq
    names = frame["id"].tolist()
    return SequenceSet(
        validate_sequences(seqs, unknown=unknown, names=names), frame["label"].to_numpy(), names, classes
    )


# ------------------------------------------------------------------------------- named tasks


def list_dna_tasks() -> list[str]:
    """Names accepted by :func:`load_dna_task`: 11 GUE tasks and 2 GenomicBenchmarks test sets, sorted."""
    return sorted(GUE_TASKS + GENOMIC_BENCHMARKS_TASKS)


def load_dna_task(
    name: str, split: str = "train", *, data_dir: PathLike | None = None, unknown: UnknownPolicy = "error"
) -> SequenceSet:
    """Load a bundled DNA classification task.

    Parameters
    ----------
    name : str
        One of :func:`list_dna_tasks`: ``gue_*`` (GUE, splits train/valid/test) or ``human_enhancers_cohn``,
        ``human_nontata_promoters`` (GenomicBenchmarks; only the test split is bundled).
    split : str
        "train", "valid" (GUE's "dev") or "test".
    data_dir : path-like, optional
        Folder holding ``dna/`` and ``genomic_benchmarks/``; default: the repository's ``datasets/``.
    unknown : {"error", "N"}
        Policy for IUPAC ambiguity codes.

    Returns
    -------
    SequenceSet
        Labels 0/1 (1 = positive), ``classes`` ``[0, 1]``.

    Raises
    ------
    ValueError
        Unknown task or split.
    FileNotFoundError
        The task file is absent, including the GenomicBenchmarks train splits, which are not bundled (the
        message says what to supply).

    Examples
    --------
    >>> test = load_dna_task("gue_mouse_tf_3", "test")
    >>> len(test), test.classes.tolist()
    (239, [0, 1])
    """
    root = DEFAULT_DATA_DIR if data_dir is None else Path(data_dir)
    if name in GUE_TASKS:
        if split == "dev":
            raise ValueError("split 'dev' is called 'valid' here; use split='valid'")
        _check_choice("split", split, ("train", "valid", "test"))
        path = root / "dna" / name / f"{name}.csv.gz"
        if not path.is_file():
            raise FileNotFoundError(
                f"GUE task file not found: {path}. The repository ships it in datasets/dna/{name}/; "
                "pass data_dir= pointing at a folder that holds dna/<task>/<task>.csv.gz"
            )
        return read_sequence_csv(path, split=split, unknown=unknown)
    if name in GENOMIC_BENCHMARKS_TASKS:
        if split in ("valid", "dev"):
            raise ValueError(
                f"GenomicBenchmarks task {name!r} has only 'train' and 'test' splits; carve a validation set "
                "out of train (SequenceSet.take)"
            )
        _check_choice("split", split, ("train", "test"))
        folder = root / "genomic_benchmarks" / name
        path = folder / f"{split}.csv.gz"
        if not path.is_file():
            if split == "train":
                raise FileNotFoundError(
                    f"the train split of {name!r} is not bundled (only its test sequences and the "
                    f"coordinates of both splits are). Supply it either as {path} with columns "
                    "sequence,label (0 = negative, 1 = positive; an optional split column must read "
                    "'train'), or build it from the coordinates and your own GRCh38 genome FASTA (see "
                    f"{folder / 'coordinates' / 'metadata.yaml'}): "
                    f"load_genomic_benchmark({str(folder / 'coordinates')!r}, fasta=..., split='train')"
                )
            raise FileNotFoundError(f"GenomicBenchmarks test file not found: {path}")
        has_split = "split" in pd.read_csv(path, nrows=0).columns
        return read_sequence_csv(path, split=split if has_split else None, unknown=unknown)
    raise ValueError(f"unknown DNA task {name!r}; available: {', '.join(list_dna_tasks())}")


__all__ = [
    "BED_COLUMNS",
    "DEFAULT_DATA_DIR",
    "GENOMIC_BENCHMARKS_TASKS",
    "GUE_TASKS",
    "list_dna_tasks",
    "load_dna_task",
    "load_genomic_benchmark",
    "read_bed",
    "read_genomic_benchmark_coordinates",
    "read_intervals",
    "read_sequence_csv",
]
