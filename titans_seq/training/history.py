"""Training a :class:`~titans_seq.adapters.history.HistoryTitansForecaster` over long spans of history.

Each series' training rows are cut into crops of ``crop_tokens`` history tokens, on token boundaries counted
from the series' first row. A training step takes ``crops_per_step`` crops and, for each:

1. starts the history memory from the state it had at the crop's first row (truncated backpropagation with
   the state carried): the state is cached per crop, computed by one no-gradient pass over every series
   when training starts, and refreshed with the (detached) end state of crop ``k`` whenever crop ``k`` is
   trained, so it follows the weights as they learn. The first crop of a series starts from the initial
   memory, which therefore gets gradients;
2. runs the history backbone over the whole crop, with gradients (cost linear in the crop length);
3. forecasts from up to ``windows_per_crop`` cutoffs drawn at random among the crop's token positions
   (each ``token_len`` rows; the cutoff falls a random number of rows after the token's end, so that cutoffs
   inside tokens are trained too), each reading its context and its ``input_size``-row window.

So a step supervises ``crops_per_step * windows_per_crop`` forecasts, as many as a window-mode step of the
same ``batch_size``, spread over positions thousands of rows into the history instead of one window each.

Validation streams every series from its first row through its validation rows with the current weights
(no cached state) and scores the forecast at every ``val_every``-th cutoff whose horizon lies in validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from titans_seq._checks import check_int
from titans_seq.adapters.history import HistoryState, HistoryTitansForecaster
from titans_seq.models import state_tree
from titans_seq.training.forecasting import pinball_loss


@dataclass(frozen=True)
class HistorySeries:
    """Scaled rows of one series: ``values`` from its first row; rows ``[0, train_end)`` train, the rows
    after them (if any) are validation."""

    values: np.ndarray
    train_end: int


class _Items(Dataset):
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


class HistoryModule(pl.LightningModule):
    """Lightning system around a history forecaster (see the module docs for the training scheme).

    Parameters
    ----------
    model : HistoryTitansForecaster
    series : list of HistorySeries
    crop_tokens : int
        History tokens per training crop (a multiple of the history memory's chunk size); capped at what the
        longest series needs.
    windows_per_crop : int
        Forecasts supervised per crop and step.
    learning_rate, weight_decay : float
        AdamW settings.
    loss : {"mse", "mae"}
        Point loss (the pinball loss with quantiles).
    val_every : int
        Score every ``val_every``-th validation cutoff.
    """

    def __init__(
        self,
        model: HistoryTitansForecaster,
        series: list[HistorySeries],
        *,
        crop_tokens: int = 128,
        windows_per_crop: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        loss: str = "mse",
        val_every: int = 1,
    ) -> None:
        super().__init__()
        if loss not in ("mse", "mae"):
            raise ValueError(f"loss must be 'mse' or 'mae', got {loss!r}")
        check_int("crop_tokens", crop_tokens, 1)
        check_int("windows_per_crop", windows_per_crop, 1)
        check_int("val_every", val_every, 1)
        chunk = model.config.history.memory.chunk_size
        if crop_tokens % chunk:
            raise ValueError(f"crop_tokens={crop_tokens} must be a multiple of the memory chunk size {chunk}")
        self.model = model
        self.series = series
        # no crop longer than the longest series needs (rounded up to whole memory chunks): short series
        # would otherwise be padded to the full crop
        longest = -(-max(s.train_end for s in series) // model.token_len)
        crop_tokens = min(crop_tokens, -(-longest // chunk) * chunk)
        self.crop_tokens, self.windows_per_crop = crop_tokens, windows_per_crop
        self.learning_rate, self.weight_decay, self.loss_name = learning_rate, weight_decay, loss
        self.val_every = val_every
        q = model.config.window.quantiles
        self.register_buffer("quantile_levels", torch.tensor(q or [], dtype=torch.float32), persistent=False)
        self.point_index = 0 if q is None else min(range(len(q)), key=lambda i: abs(q[i] - 0.5))
        c = model.config.window
        self.lookback, self.h = c.input_size, c.h
        self.crop_rows = crop_tokens * model.token_len
        self.crops = [
            (i, k)
            for i, s in enumerate(series)
            for k in range(-(-s.train_end // self.crop_rows))
            if self._cutoff_range(s, k)[0] <= self._cutoff_range(s, k)[1]
        ]
        if not self.crops:
            raise ValueError(f"no series has input_size + h = {self.lookback + self.h} training rows")
        self.cache: dict[tuple[int, int], HistoryState] = {}
        self._values = [torch.as_tensor(s.values) for s in series]  # cast to the model's dtype at fit start

    # ------------------------------------------------------------------ data
    def _cutoff_range(self, s: HistorySeries, k: int) -> tuple[int, int]:
        """Cutoffs a crop can train: at or after a full window, with the horizon inside the training rows."""
        first = max(k * self.crop_rows + self.model.token_len, self.lookback)
        last = min((k + 1) * self.crop_rows + self.model.token_len - 1, s.train_end - self.h)
        return first, last

    def _param_dtype(self) -> torch.dtype:
        return self.model.empty_context.dtype

    def on_fit_start(self) -> None:
        """Cache every crop's starting state with one no-gradient pass over the training rows."""
        self._values = [v.to(self.device, self._param_dtype()) for v in self._values]
        self.cache.clear()
        with torch.no_grad():
            for i, s in enumerate(self.series):
                state = self.model.init_state(1)
                for k in range(1, -(-s.train_end // self.crop_rows)):
                    rows = self._values[i][None, (k - 1) * self.crop_rows : k * self.crop_rows]
                    _, state = self.model.advance(rows, state)
                    self.cache[(i, k)] = state.detach()

    # ------------------------------------------------------------------ steps
    def _start_states(self, crops: list[tuple[int, int]]) -> HistoryState:
        fresh = self.model.init_state(1)
        return state_tree.stack([fresh if k == 0 else self.cache[(i, k)] for i, k in crops])

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        crops = [self.crops[int(j)] for j in batch]
        state = self._start_states(crops)
        rows = torch.stack([self._crop_rows(i, k) for i, k in crops])
        outputs, end = self.model.advance(rows, state)
        for single, (i, k) in zip(state_tree.unstack(end.detach(), len(crops)), crops, strict=True):
            if (k + 1) * self.crop_rows < self.series[i].train_end:
                self.cache[(i, k + 1)] = single  # the carried state of the next crop, with today's weights
        x, y, ctx = [], [], []
        for n, (i, k) in enumerate(crops):
            first, last = self._cutoff_range(self.series[i], k)
            cut = first + torch.randperm(last - first + 1)[: self.windows_per_crop]
            local = (cut - k * self.crop_rows)[None]  # rows since the crop's first row
            ctx.append(self.model.contexts_at(outputs[n : n + 1], local, before=state.context[n : n + 1])[0])
            values = self._values[i]
            x.append(self.model.windows_before(values[None], cut)[0])
            y.append(values[(cut[:, None] + torch.arange(self.h)).to(values.device)])
        pred = self.model.forecast(torch.cat(x), torch.cat(ctx))
        loss = self._loss(pred, torch.cat(y))
        self.log("train_loss", loss, prog_bar=True, batch_size=len(pred))
        return loss

    def _crop_rows(self, i: int, k: int) -> Tensor:
        """The crop's rows, zero-padded after the series' last training row (later outputs are not read)."""
        rows = self._values[i][k * self.crop_rows : min((k + 1) * self.crop_rows, self.series[i].train_end)]
        return torch.nn.functional.pad(rows, (0, self.crop_rows - len(rows)))

    def _loss(self, pred: Tensor, target: Tensor) -> Tensor:
        if self.quantile_levels.numel():
            return pinball_loss(pred, target, self.quantile_levels.to(pred.dtype))
        err = pred[..., self.point_index] - target
        return err.abs().mean() if self.loss_name == "mae" else err.pow(2).mean()

    def validation_step(self, batch: list[int], batch_idx: int) -> None:
        values = torch.stack([self._values[i] for i in batch])
        s = self.series[batch[0]]
        cutoffs = np.arange(max(s.train_end, self.lookback), len(s.values) - self.h + 1, self.val_every)
        pred = self.model.forecast_at(values, cutoffs)  # [n, M, H, Q]
        target = values[:, torch.as_tensor(cutoffs)[:, None] + torch.arange(self.h)]
        self.log("val_loss", self._loss(pred, target), prog_bar=True, batch_size=target.numel() // self.h)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )


class HistoryDataModule(pl.LightningDataModule):
    """Crops for training (``crops_per_step`` per step) and, for validation, the series that have
    validation rows, grouped so that each group shares its length and training end."""

    def __init__(self, module: HistoryModule, crops_per_step: int) -> None:
        super().__init__()
        check_int("crops_per_step", crops_per_step, 1)
        self.module, self.crops_per_step = module, crops_per_step
        groups: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(module.series):
            if len(s.values) - s.train_end >= module.h:
                groups.setdefault((len(s.values), s.train_end), []).append(i)
        self.groups = list(groups.values())

    @property
    def has_validation(self) -> bool:
        return bool(self.groups)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            _Items(list(range(len(self.module.crops)))), batch_size=self.crops_per_step, shuffle=True
        )

    def val_dataloader(self) -> DataLoader | list:
        if not self.groups:
            return []
        return DataLoader(_Items(self.groups), batch_size=None, shuffle=False)
