"""Measuring helpers shared by the benchmark scripts: the resident-set peak of one call."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def current_rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_above_start_mb(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn()`` while sampling the resident set every millisecond; return its result and the peak above
    the resident set at the start, in MiB.

    (``ru_maxrss`` cannot be used: Linux carries it across fork and exec, so a child of a large parent starts
    with the parent's high-water mark, and a process's own mark cannot be reset between calls.)
    """
    base = current_rss_mb()
    peak, done = [base], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], current_rss_mb())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = fn()
    finally:
        done.set()
        sampler.join()
    return result, max(peak[0], current_rss_mb()) - base
