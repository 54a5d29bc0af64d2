"""Data: time-series frames, windows and benchmark splits; DNA tokenizers, sequence sets and sources."""

from titans_seq.data.benchmarks import (
    BENCHMARKS,
    BenchmarkSplits,
    SplitBorders,
    benchmark_splits,
    load_benchmark,
    load_benchmark_splits,
    split_borders,
)
from titans_seq.data.dna import (
    CharTokenizer,
    KmerTokenizer,
    SequenceSet,
    check_classification_data,
    reverse_complement,
    reverse_complement_ids,
)
from titans_seq.data.dna_sources import (
    list_dna_tasks,
    load_dna_task,
    load_genomic_benchmark,
    read_bed,
    read_intervals,
    read_sequence_csv,
)
from titans_seq.data.timeseries import (
    PreparedFrame,
    WindowDataset,
    infer_frequencies,
    prepare_long_frame,
    sliding_windows,
    to_long,
)

__all__ = [
    "BENCHMARKS",
    "BenchmarkSplits",
    "CharTokenizer",
    "KmerTokenizer",
    "PreparedFrame",
    "SequenceSet",
    "SplitBorders",
    "WindowDataset",
    "benchmark_splits",
    "check_classification_data",
    "infer_frequencies",
    "list_dna_tasks",
    "load_benchmark",
    "load_benchmark_splits",
    "load_dna_task",
    "load_genomic_benchmark",
    "prepare_long_frame",
    "read_bed",
    "read_intervals",
    "read_sequence_csv",
    "reverse_complement",
    "reverse_complement_ids",
    "sliding_windows",
    "split_borders",
    "to_long",
]
