"""Lightning around the forecasting adapter: a LightningModule (loss, metrics, optimiser), DataModules, and
one helper that fits with early stopping and restores the best weights.

- :class:`ForecastingModule` wraps a :class:`~titans_seq.adapters.forecasting.PatchTitansForecaster`
  (the ``nn.Module`` knows nothing of losses or optimisers). Training loss: MSE (the Time-Series-Library
  protocol), MAE, or the pinball loss when quantiles are set. Test metrics: MSE and MAE of the point
  forecast (the median with quantiles), averaged over every window, step and channel.
- :class:`BenchmarkDataModule` serves the TSL splits of a named benchmark (what the YAML recipes use);
  :class:`WindowDataModule` serves ready-made datasets (what :class:`~titans_seq.TitansForecaster` uses).
- :func:`fit_restoring_best` trains with ``EarlyStopping`` on ``val_loss`` and a ``ModelCheckpoint`` in a
  temporary directory, then loads the best weights and removes the directory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from titans_seq._checks import check_int
from titans_seq.adapters.forecasting import PatchTitansForecaster, build_config
from titans_seq.data.benchmarks import BenchmarkSplits, load_benchmark_splits
from titans_seq.estimators._common import fit_keeping_best

Loss = Literal["mse", "mae"]


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss: ``pred [..., Q]``, ``target [...]``, ``quantiles [Q]`` -> scalar."""
    diff = target.unsqueeze(-1) - pred
    return torch.maximum(quantiles * diff, (quantiles - 1.0) * diff).mean()


class ForecastingModule(pl.LightningModule):
    """Training system for a channel-independent Titans patch forecaster.

    Batches are dicts with ``x [B, L, C]`` and ``y [B, H, C]`` (as :class:`~titans_seq.data.WindowDataset`
    yields). Arguments after ``revin_affine`` are training settings; the others shape the model (see
    :func:`~titans_seq.adapters.forecasting.build_config`).

    Parameters
    ----------
    h, input_size : int
        Horizon H and lookback L.
    variant : str
        Titans variant: ``"lmm"`` (the paper's choice for time series), ``"mac"``, ``"mag"``, ``"mal"``,
        ``"swa"``.
    hidden_size, n_layers : int
        Model width D and number of backbone blocks.
    patch_len, stride : int
        Patch length and step.
    dropout, ffn_expansion : float
    memory, attention : dict or None
        Overrides of the memory / attention defaults (e.g. ``{"chunk_size": 2}``).
    quantiles : list of float or None
        Quantile levels in (0, 1) for a probabilistic forecast (pinball loss); ``None`` = point forecast.
    revin, revin_affine : bool
    learning_rate, weight_decay : float
        AdamW settings.
    loss : {"mse", "mae"}
        Point loss (ignored with quantiles).
    """

    def __init__(
        self,
        h: int = 96,
        input_size: int = 96,
        variant: str = "lmm",
        hidden_size: int = 64,
        n_layers: int = 2,
        patch_len: int = 16,
        stride: int = 8,
        dropout: float = 0.1,
        ffn_expansion: float = 2.0,
        memory: dict[str, Any] | None = None,
        attention: dict[str, Any] | None = None,
        quantiles: list[float] | None = None,
        revin: bool = True,
        revin_affine: bool = False,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        loss: Loss = "mse",
    ) -> None:
        super().__init__()
        if loss not in ("mse", "mae"):
            raise ValueError(f"loss must be 'mse' or 'mae', got {loss!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.save_hyperparameters()
        config = build_config(
            h=h,
            input_size=input_size,
            variant=variant,
            hidden_size=hidden_size,
            n_layers=n_layers,
            patch_len=patch_len,
            stride=stride,
            quantiles=None if quantiles is None else tuple(quantiles),
            dropout=dropout,
            ffn_expansion=ffn_expansion,
            memory=memory,
            attention=attention,
            revin=revin,
            revin_affine=revin_affine,
        )
        self.model = PatchTitansForecaster(config)
        q = config.quantiles
        self.register_buffer(
            "quantile_levels", torch.tensor(q if q else [], dtype=torch.float32), persistent=False
        )
        # index of the point forecast among the Q outputs: the median when quantiles are on
        self.point_index = 0 if q is None else min(range(len(q)), key=lambda i: abs(q[i] - 0.5))

    @classmethod
    def from_model(cls, model: PatchTitansForecaster, **training: Any) -> ForecastingModule:
        """Wrap an existing model (weights kept); ``training`` = learning_rate, weight_decay, loss."""
        c = model.config
        b = c.backbone
        module = cls(
            h=c.h,
            input_size=c.input_size,
            variant=b.variant,
            hidden_size=b.dim,
            n_layers=b.depth,
            patch_len=c.patch_len,
            stride=c.stride,
            dropout=c.dropout,
            ffn_expansion=b.ffn_expansion,
            memory=asdict(b.memory),
            attention=asdict(b.attention),
            quantiles=None if c.quantiles is None else list(c.quantiles),
            revin=c.revin,
            revin_affine=c.revin_affine,
            **training,
        )
        module.model = model
        return module

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, L, C]`` -> ``[B, H, C, Q]``."""
        return self.model(x)

    def point(self, pred: Tensor) -> Tensor:
        """``[B, H, C, Q]`` -> the point forecast ``[B, H, C]``."""
        return pred[..., self.point_index]

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        if self.quantile_levels.numel():
            return pinball_loss(pred, target, self.quantile_levels)
        point = self.point(pred)
        if self.hparams.loss == "mae":
            return (point - target).abs().mean()
        return (point - target).pow(2).mean()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(self(batch["x"]), batch["y"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["x"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        loss = self.loss(self(batch["x"]), batch["y"])
        self.log("val_loss", loss, prog_bar=True, batch_size=len(batch["x"]))

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        # every batch holds B windows of H x C values, so the batch-size-weighted mean Lightning takes over
        # batches is the mean over all windows, steps and channels (TSL's metric, last batch included)
        err = self.point(self(batch["x"])) - batch["y"]
        size = len(batch["x"])
        self.log("test_mse", err.pow(2).mean(), batch_size=size)
        self.log("test_mae", err.abs().mean(), batch_size=size)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self(batch["x"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.model.parameters(), lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay
        )


def _loader(dataset: Dataset | None, batch_size: int, shuffle: bool, num_workers: int) -> DataLoader | list:
    if dataset is None or len(dataset) == 0:
        return []
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=False,  # TSL's test loader dropping its last windows is a known bug; we keep them all
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


class WindowDataModule(pl.LightningDataModule):
    """Ready-made window datasets (items with ``x [L, C]``, ``y [H, C]``) behind Lightning's loaders.

    Parameters
    ----------
    train, val, test : Dataset or None
    batch_size : int
        Training batch size; evaluation uses ``eval_batch_size`` (default ``4 * batch_size``).
    num_workers : int
    """

    def __init__(
        self,
        train: Dataset | None,
        val: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.train, self.val, self.test = train, val, test
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or 4 * batch_size
        self.num_workers = num_workers

    @property
    def has_validation(self) -> bool:
        return self.val is not None and len(self.val) > 0

    def train_dataloader(self) -> DataLoader:
        return _loader(self.train, self.batch_size, True, self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        return _loader(self.val, self.eval_batch_size, False, self.num_workers)

    def test_dataloader(self) -> DataLoader | list:
        return _loader(self.test, self.eval_batch_size, False, self.num_workers)


class BenchmarkDataModule(WindowDataModule):
    """A named long-term forecasting benchmark with Time-Series-Library splits (DESIGN.md section 4).

    Windows hold all channels: ``x [L, C]``, ``y [H, C]``, scaled by a StandardScaler fit on the training
    rows; val/test start ``input_size`` rows early and no window is dropped.

    Parameters
    ----------
    name : str
        ``ETTh1``, ``ETTh2``, ``ETTm1``, ``ETTm2``, ``weather``, ``electricity``, ``traffic``.
    h, input_size : int
        Horizon and lookback (96 in Titans Table 3).
    batch_size, eval_batch_size, num_workers
        As in :class:`WindowDataModule`.
    data_dir : str or None
        Where Electricity/Traffic (not bundled) live; see :func:`titans_seq.data.load_benchmark`.
    val_every : int
        Validate (early stopping, best checkpoint) on every ``val_every``-th validation window only
        (1 = all). Neighbouring windows overlap in all but one row, so a stride keeps the signal while
        cutting the cost of each validation, which on the minute and Weather data is a large share of a
        small training budget. The test split always uses every window.
    """

    def __init__(
        self,
        name: str = "ETTh1",
        h: int = 96,
        input_size: int = 96,
        batch_size: int = 32,
        eval_batch_size: int | None = 256,
        num_workers: int = 0,
        data_dir: str | None = None,
        val_every: int = 1,
    ) -> None:
        check_int("val_every", val_every, 1)
        super().__init__(
            None, batch_size=batch_size, eval_batch_size=eval_batch_size, num_workers=num_workers
        )
        self.name, self.h, self.input_size, self.data_dir = name, h, input_size, data_dir
        self.val_every = val_every
        self.splits: BenchmarkSplits | None = None

    @property
    def has_validation(self) -> bool:
        return True

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            self.splits = load_benchmark_splits(self.name, self.input_size, self.data_dir)
            self.train = self.splits.windows("train", self.h)
            val = self.splits.windows("val", self.h)
            self.val = val if self.val_every == 1 else Subset(val, range(0, len(val), self.val_every))
            self.test = self.splits.windows("test", self.h)


@dataclass(frozen=True)
class FitSummary:
    """What :func:`fit_restoring_best` did: optimizer steps, epochs, best validation loss (``nan`` without
    validation), whether the best checkpoint was restored, and whether early stopping fired."""

    steps: int
    epochs: int
    best_val_loss: float
    restored_best: bool
    stopped_early: bool


def fit_restoring_best(
    module: ForecastingModule,
    datamodule: WindowDataModule,
    *,
    max_steps: int,
    patience: int | None = 5,
    val_check_interval: int = 100,
    verbose: bool = False,
    callbacks: list[Callback] | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
) -> FitSummary:
    """Fit ``module`` with early stopping on ``val_loss`` and restore the best weights.

    The checkpoint lives in a temporary directory removed afterwards; no logger files are written. Without
    validation data the module trains for ``max_steps`` and keeps its last weights. The module is left in
    eval mode.

    Parameters
    ----------
    max_steps : int
        Upper bound on optimizer steps.
    patience : int or None
        Validation checks without improvement before stopping; ``None`` or 0 never stops early.
    val_check_interval : int
        Optimizer steps between validation checks (counted across epochs).
    verbose : bool
        Progress bar and model summary.
    callbacks : list or None
        Extra callbacks (e.g. :class:`~titans_seq.training.budget.CpuTimeBudget`).
    trainer_kwargs : dict or None
        Override any Trainer setting (``accelerator``, ``devices``, ``val_check_interval``, ...); its
        ``callbacks`` are added to the early-stopping and checkpoint callbacks, not substituted for them.
    """
    has_val = datamodule.has_validation
    # a step cap given through trainer_kwargs bounds the validation interval too, so that a short fit still
    # validates (and keeps its best weights) at its end
    max_steps = int((trainer_kwargs or {}).get("max_steps", max_steps))
    settings: dict[str, Any] = {"max_steps": max_steps, "num_sanity_val_steps": 0}
    if has_val:
        settings |= {
            "val_check_interval": min(val_check_interval, max_steps),
            "check_val_every_n_epoch": None,
        }
    else:
        settings["limit_val_batches"] = 0
    fit = fit_keeping_best(
        module,
        datamodule,
        max_epochs=-1,
        verbose=verbose,
        monitor=has_val,
        patience=patience or None,
        callbacks=callbacks,
        trainer_kwargs=settings | dict(trainer_kwargs or {}),
    )
    return FitSummary(
        steps=fit.steps,
        epochs=fit.epochs,
        best_val_loss=math.nan if fit.best_val_loss is None else fit.best_val_loss,
        restored_best=fit.restored_best,
        stopped_early=fit.stopped_early,
    )
