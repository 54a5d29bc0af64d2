"""Data: time-series frames, windows and benchmark splits."""

from titans_seq.data.benchmarks import (
    BENCHMARKS,
    BenchmarkSplits,
    SplitBorders,
    benchmark_splits,
    load_benchmark,
    load_benchmark_splits,
    split_borders,
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
    "PreparedFrame",
    "SplitBorders",
    "WindowDataset",
    "benchmark_splits",
    "infer_frequencies",
    "load_benchmark",
    "load_benchmark_splits",
    "prepare_long_frame",
    "sliding_windows",
    "split_borders",
    "to_long",
]
