"""CpuTimeBudget: when it stops training, on a fake CPU clock."""

from __future__ import annotations

from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from titans_seq.training import budget as budget_module
from titans_seq.training.budget import CpuTimeBudget


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [0.0]
    monkeypatch.setattr(budget_module.time, "process_time", lambda: now[0])
    return now


def started(clock: list[float], seconds: float = 100.0) -> tuple[CpuTimeBudget, SimpleNamespace]:
    budget = CpuTimeBudget(seconds)
    trainer = SimpleNamespace(should_stop=False, sanity_checking=True, global_step=0)
    budget.on_validation_start(trainer, None)  # the sanity check does not count
    clock[0] = 50.0
    budget.on_validation_end(trainer, None)
    assert budget.validation_cost == 0.0 and not trainer.should_stop
    trainer.sanity_checking = False
    budget.on_train_start(trainer, None)  # CPU time counts from here: 50
    return budget, trainer


def test_a_batch_stops_training_once_the_next_validation_would_overrun(clock) -> None:
    budget, trainer = started(clock)
    clock[0] = 110.0
    budget.on_train_batch_end(trainer)
    assert not trainer.should_stop and budget.used == 60.0
    budget.on_validation_start(trainer, None)
    clock[0] = 125.0  # a validation of 15 CPU s, ending at 75 used: 75 + 15 < 100, go on
    budget.on_validation_end(trainer, None)
    assert budget.validation_cost == 15.0 and not trainer.should_stop
    clock[0] = 134.0  # 84 used + 15 for the next validation < 100: go on
    budget.on_train_batch_end(trainer)
    assert not trainer.should_stop and not budget.exhausted
    clock[0] = 135.0  # 85 + 15 reaches the budget: stop, the final validation fits
    budget.on_train_batch_end(trainer)
    assert trainer.should_stop and budget.exhausted
    trainer.global_step = 7
    budget.on_train_end(trainer, None)
    assert (budget.used, budget.steps) == (85.0, 7)


def test_a_validation_stops_training_when_no_other_would_fit(clock) -> None:
    budget, trainer = started(clock)
    clock[0] = 100.0
    budget.on_train_batch_end(trainer)  # 50 used, no validation cost known yet
    assert not trainer.should_stop
    budget.on_validation_start(trainer, None)
    clock[0] = 140.0  # a validation of 40 CPU s, ending at 90 used: 90 + 40 >= 100
    budget.on_validation_end(trainer, None)
    assert trainer.should_stop and budget.exhausted and budget.used == 90.0


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="seconds must be > 0, got 0"):
        CpuTimeBudget(0)


class _Regressor(pl.LightningModule):
    """A linear model on a fake clock: every training batch costs 1 CPU s, every validation batch 7.5."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock
        self.validations = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.clock[0] += 1.0
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        if not self.trainer.sanity_checking:
            self.clock[0] += 7.5
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def on_validation_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.validations += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_lightning_does_not_validate_again_after_a_validation_exhausts_the_budget(clock) -> None:
    # 16 batches per epoch, a validation (4 batches, 30 CPU s) after the 10th of each: they end at 40 and at
    # 86 CPU s; 86 + 30 >= 100, so training stops there. Stopping at the next batch instead would make
    # Lightning validate a third time, to 117 CPU s.
    data = TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    loader = DataLoader(data, batch_size=4)
    budget = CpuTimeBudget(100.0)
    model = _Regressor(clock)
    trainer = pl.Trainer(
        max_epochs=100,
        val_check_interval=10,
        callbacks=[budget],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, loader, DataLoader(data, batch_size=16))
    assert budget.exhausted and model.validations == 2
    assert budget.steps == 26 and budget.used == 86.0
