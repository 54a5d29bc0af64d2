"""Suite-wide settings.

Tests run single-threaded: their tiny tensors gain nothing from a second thread, and on a shared
2-core machine a busy neighbour made 2-thread small ops 25-100x slower (measured: one training step
7.7 s with 2 threads vs 0.29 s with 1). Subprocess tests inherit OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import os

import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
