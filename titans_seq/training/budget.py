"""A CPU-time training budget for Lightning, shared by the forecasting and DNA benchmarks.

CPU time rather than wall time, so that runs on a shared machine compare fairly: another busy process slows
the wall clock but not the work done. Lightning's own ``max_time`` counts wall time.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class CpuTimeBudget(Callback):
    """Stop training once this process has used ``seconds`` of CPU time (all threads) since training began.

    Validation counts, and the stop is placed so that no validation runs past the budget:

    - after every training batch, training stops once the CPU time used *plus what the last validation
      cost* reaches the budget (Lightning then validates once more, which that margin pays for);
    - after every validation, training stops at once if the CPU time used plus one more validation already
      reaches the budget: stopping at the next batch would make Lightning validate again with no budget
      left (on a large validation set one pass can cost a sizeable share of a small budget).

    :attr:`used` holds the CPU seconds spent, :attr:`steps` the optimizer steps taken,
    :attr:`validation_cost` the CPU seconds of the last validation and :attr:`exhausted` whether the budget
    stopped training. The sanity-check validation before training does not count.
    """

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}")
        self.seconds = float(seconds)
        self.start: float | None = None
        self.used = 0.0
        self.steps = 0
        self.validation_cost = 0.0
        self.exhausted = False
        self._validation_start: float | None = None

    def _spent(self) -> float:
        return time.process_time() - (self.start or 0.0)

    def _stop_if_no_room(self, trainer: pl.Trainer) -> None:
        self.used = self._spent()
        if self.used + self.validation_cost >= self.seconds:
            self.exhausted = True
            trainer.should_stop = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.process_time()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._stop_if_no_room(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validation_start = time.process_time()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._validation_start is None or self.start is None:
            return
        self.validation_cost = time.process_time() - self._validation_start
        self._stop_if_no_room(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # ``used`` reports the whole training time, the validation that may follow the last batch included
        self.used = self._spent()
        self.steps = int(trainer.global_step)


__all__ = ["CpuTimeBudget"]
