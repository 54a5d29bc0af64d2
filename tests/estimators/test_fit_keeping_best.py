"""fit_keeping_best reports why training stopped, wherever in an epoch it stops."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import TensorDataset

from titans_seq.estimators._common import fit_keeping_best


class FlatValidation(pl.LightningModule):
    """Trains a linear map; its validation loss never improves after the first check."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.linear(x), y)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(1.0))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(max_steps: int, patience: int):
    data = TensorDataset(torch.randn(50, 2), torch.randn(50, 1))  # 50 steps per epoch at batch size 1
    datamodule = pl.LightningDataModule.from_datasets(train_dataset=data, val_dataset=data, batch_size=1)
    settings = {"max_steps": max_steps, "val_check_interval": 2, "check_val_every_n_epoch": None}
    return fit_keeping_best(
        FlatValidation(),
        datamodule,
        max_epochs=-1,
        verbose=False,
        monitor=True,
        patience=patience,
        trainer_kwargs=settings | {"num_sanity_val_steps": 0},
    )


def test_early_stopping_inside_the_first_epoch_is_reported() -> None:
    # checks at steps 2 (the best) and 4 (no better: patience 1 runs out), long before the epoch ends
    result = fit(max_steps=100, patience=1)
    assert (result.steps, result.stopped_early) == (4, True)
    assert result.best_val_loss == 1.0 and result.restored_best


def test_a_step_cap_is_not_early_stopping() -> None:
    result = fit(max_steps=6, patience=10)
    assert (result.steps, result.stopped_early) == (6, False)
