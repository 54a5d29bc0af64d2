"""``TitansForecaster``: a Titans patch forecaster behind the scikit-learn / neuralforecast contract.

``fit(df)`` takes a long frame (``unique_id``, ``ds``, ``y``; names configurable) or a wide frame (a time
column plus one numeric column per channel, melted so each channel is one series); ``predict()`` returns a
long frame ``unique_id, ds, <alias>`` continuing every series after its history; ``update(df_new)`` appends
observations without retraining; ``cross_validation`` backtests; ``save``/``load`` use a directory with
``config.json`` and ``model.safetensors``.

How the memory learns at test time depends on ``context``:

- ``"window"``: a forecast reads the newest ``input_size`` values of a series, cut into patches, and the
  neural memory *writes* those patches into its weights as it reads them (gradient steps on its associative
  loss, paper section 3.1) before the head forecasts from what it retrieved. The memory starts each window
  from its trained initial weights, so a forecast depends on the last ``input_size`` values only, and
  ``update`` then ``predict`` equals ``predict`` with the longer frame.
- ``"history"``: a second memory reads every series from its first row, token by token, and keeps its state
  per series (:mod:`titans_seq.adapters.history`); the forecast reads the window and that memory's summary
  of everything before it. ``update(df)`` advances each state by the new rows only (cost proportional to
  them), ``save``/``load`` keep the states, and ``predict(df=...)`` streams the given frame from its first
  row, so ``update(a); update(b); predict()`` equals ``predict(df=train + a + b)``.
"""

from __future__ import annotations

import logging
import numbers
import os
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

import titans_seq
from titans_seq._checks import check_int
from titans_seq.adapters.forecasting import PatchForecasterConfig, PatchTitansForecaster, build_config
from titans_seq.adapters.history import HistoryForecasterConfig, HistoryTitansForecaster, build_history_config
from titans_seq.data.timeseries import (
    ID_COL,
    TARGET_COL,
    TIME_COL,
    PreparedFrame,
    WindowDataset,
    check_continuation,
    check_window_sizes,
    iter_series,
    prepare_long_frame,
    to_long,
)
from titans_seq.estimators import _history
from titans_seq.estimators._common import (
    evaluating,
    lightning_warnings_hidden,
    load_model_dir,
    save_model_dir,
)
from titans_seq.estimators._forecast_store import (
    SeriesStore,
    backtest_windows,
    forecast_frame,
    level_quantiles,
    output_columns,
    scaling_stats,
    split_tail,
)

logger = logging.getLogger(__name__)

FORMAT = "titans_seq.TitansForecaster"
# 2: the memory reads per-token weights, a deep memory has a skip path and the surprise clamp is on by
# default; a version-1 model's weights compute a different function under this code
FORMAT_VERSION = 2
MODEL_KEYS = ("dropout", "ffn_expansion", "memory", "attention", "revin", "revin_affine", "history")
TRAINING_KEYS = ("loss", "weight_decay")
CONTEXTS = ("window", "history")
# history training: tokens per crop (2048 rows at the default 16 rows per token) and forecasts per crop
HISTORY_CROP_TOKENS = 128
HISTORY_WINDOWS_PER_CROP = 8
_INFERENCE_BATCH = 2048


class TitansForecaster(BaseEstimator):
    """Channel-independent Titans forecaster (RevIN, patches, Titans backbone, horizon head).

    ``__init__`` only stores its arguments; they are checked in :meth:`fit`. (There are more than the dozen
    STYLE.md suggests because forecasting users expect neuralforecast's flat knobs; the rarely changed ones
    are grouped in ``model_kwargs``.)

    Parameters
    ----------
    h : int
        Forecast horizon H (steps ahead).
    input_size : int
        Lookback L: how many past values each forecast reads at full resolution.
    context : str
        ``"window"``: a forecast depends on the last ``input_size`` values only (the memory restarts for
        every window). ``"history"``: a second memory also reads each series from its first row and keeps
        its state, so a forecast depends on the whole history (see the module docs); ``update`` advances the
        state by the new rows only.
    variant : str
        Titans variant: ``"lmm"`` (memory only, the paper's choice for time series), ``"mac"``, ``"mag"``,
        ``"mal"``, or ``"swa"`` (attention only, no memory).
    hidden_size, n_layers : int
        Width and number of backbone blocks.
    patch_len, stride : int
        Patch length and step; the memory's chunk must be shorter than the patch count.
    level : list of int or None
        Prediction-interval levels in (0, 100), e.g. ``[80]``: the model then learns the quantiles
        ``(1 - l/100)/2``, ``0.5`` and ``1 - (1 - l/100)/2`` with a pinball loss, and the point forecast is
        the median. ``None``: point forecast trained on MSE.
    learning_rate : float
        AdamW learning rate.
    max_steps : int
        Most optimizer steps.
    batch_size : int
        Windows per step (each is one series' window).
    early_stop_patience : int or None
        Validation checks (every 100 steps unless ``trainer_kwargs["val_check_interval"]`` says otherwise)
        without improvement before stopping; ``None`` or 0 never stops early. The best weights are restored.
    model_kwargs : dict or None
        Rarer settings: ``dropout``, ``ffn_expansion``, ``memory`` / ``attention`` (dicts overriding the
        backbone's memory and attention options, e.g. ``{"chunk_size": 2}``), ``revin``, ``revin_affine``,
        ``loss`` (``"mse"`` or ``"mae"``), ``weight_decay``, and with ``context="history"`` ``history``, a
        dict of ``token_len`` (rows per history token, default ``patch_len``), ``depth`` (history blocks,
        1), ``memory`` (overrides of the history memory, default ``{"chunk_size": 16}``), ``inputs``
        (``"levels"``, the default, or ``"differences"``) and ``crop_tokens`` (history tokens per
        training crop, 128).
    alias : str or None
        Name of the prediction column; ``None`` means ``"TitansForecaster"``.
    trainer_kwargs : dict or None
        Passed to ``lightning.pytorch.Trainer`` (``accelerator``, ``devices``, ``max_time``, ...).
    random_state : int or None
        Seeds Python, NumPy and torch (``lightning.seed_everything``) at the start of ``fit``.
    verbose : bool
        Progress bar and model summary during ``fit``; silent otherwise.

    Attributes
    ----------
    model_ : PatchTitansForecaster or HistoryTitansForecaster
        The trained ``nn.Module`` (eval mode).
    history_ : dict
        ``context="history"`` only: each series' :class:`~titans_seq.adapters.history.HistoryState`.
    series_ : SeriesStore
        Per-series history tail, last timestamp, frequency and scaling statistics.
    columns_ : dict
        The column names given to ``fit`` (``predict``, ``update`` and ``plot`` read frames with them).
    fit_summary_ : dict
        Steps, epochs, best validation loss, whether early stopping fired.
    n_windows_ : dict
        Training and validation windows seen in ``fit``.

    Examples
    --------
    >>> f = TitansForecaster(h=24, input_size=96, max_steps=200).fit(df)   # doctest: +SKIP
    >>> f.predict().head()                                                 # doctest: +SKIP
    """

    def __init__(
        self,
        h: int = 96,
        input_size: int = 96,
        context: str = "window",
        variant: str = "lmm",
        hidden_size: int = 64,
        n_layers: int = 2,
        patch_len: int = 16,
        stride: int = 8,
        level: list[int] | None = None,
        learning_rate: float = 1e-3,
        max_steps: int = 1000,
        batch_size: int = 256,
        early_stop_patience: int | None = 5,
        model_kwargs: dict[str, Any] | None = None,
        alias: str | None = None,
        trainer_kwargs: dict[str, Any] | None = None,
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.h = h
        self.input_size = input_size
        self.context = context
        self.variant = variant
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.patch_len = patch_len
        self.stride = stride
        self.level = level
        self.learning_rate = learning_rate
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.early_stop_patience = early_stop_patience
        self.model_kwargs = model_kwargs
        self.alias = alias
        self.trainer_kwargs = trainer_kwargs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame,
        val_df: pd.DataFrame | None = None,
        *,
        val_size: int | None = None,
        freq: str | None = None,
        id_col: str = ID_COL,
        time_col: str | None = None,
        target_col: str = TARGET_COL,
    ) -> TitansForecaster:
        """Train on every series of ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            Long (``id_col``, ``time_col``, ``target_col`` + exogenous columns, which this model ignores) or
            wide (``time_col``, default ``"date"``, + one numeric column per channel). Series may differ in
            length and start; each needs ``input_size + h`` rows; frequencies are inferred per series.
        val_df : pandas.DataFrame or None
            Validation rows continuing the series of ``df`` (same layout). Validation windows may reach back
            ``input_size`` rows into ``df``, as in the Time-Series-Library splits.
        val_size : int or None
            Without ``val_df``: rows held out from the end of every series for validation (early stopping).
            ``None`` picks ``max(h, shortest series // 5)`` rows, or ``h``, whichever leaves every series a
            training window, else none; 0 disables validation.
        freq : str or None
            Frequency every series must follow (a pandas alias); ``None`` infers it per series.
        id_col, time_col, target_col : str
            Column names (``time_col=None``: ``"ds"`` for long frames, ``"date"`` for wide ones). Later
            calls (``predict``, ``update``) expect the same names.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters or input (missing columns, unparseable dates, duplicates, NaN/inf targets,
            irregular timestamps, series too short), before any training.
        """
        columns = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        config, training = self._validated_settings()
        prepared = prepare_long_frame(df, h=self.h, input_size=self.input_size, freq=freq, **columns)
        exogenous = [c for c in prepared.frame.columns if c not in (ID_COL, TIME_COL, TARGET_COL)]
        if exogenous:
            logger.info("exogenous columns %s are accepted but not used by this model", exogenous)
        if val_df is not None:
            if val_size:
                raise ValueError(f"pass either val_df or val_size, not both (val_size={val_size!r})")
            val_long = to_long(val_df, **columns)
            check_continuation(val_long, prepared.last_timestamps(), prepared.freqs, what="val_df")
            train_long = prepared.frame
        else:
            rows = self._val_rows(prepared, val_size)
            train_long, val_long = split_tail(prepared.frame, dict.fromkeys(prepared.freqs, rows))
        self._fit_frames(config, training, prepared.freqs, train_long, val_long, columns)
        return self

    def _fit_frames(
        self,
        config: PatchForecasterConfig | HistoryForecasterConfig,
        training: dict[str, Any],
        freqs: dict,
        train_long: pd.DataFrame,
        val_long: pd.DataFrame,
        columns: dict[str, Any],
    ) -> None:
        """Train on canonical long frames (validation rows continue the training rows) and set the fitted
        attributes."""
        from lightning.pytorch import seed_everything

        from titans_seq.training.forecasting import fit_restoring_best

        stats = {uid: scaling_stats(y) for uid, _, y in iter_series(train_long)}
        scaled = {uid: (y - stats[uid][0]) / stats[uid][1] for uid, _, y in iter_series(train_long)}
        if self.random_state is not None:
            seed_everything(self.random_state, workers=True, verbose=False)
        if isinstance(config, HistoryForecasterConfig):
            module, datamodule, n_windows = self._history_training(config, training, stats, scaled, val_long)
        else:
            module, datamodule, n_windows = self._window_training(config, training, stats, scaled, val_long)
        with lightning_warnings_hidden(self.verbose):
            summary = fit_restoring_best(
                module,
                datamodule,
                max_steps=self.max_steps,
                patience=self.early_stop_patience,
                verbose=self.verbose,
                trainer_kwargs=self.trainer_kwargs,
            )
        full = pd.concat([train_long, val_long]).sort_values([ID_COL, TIME_COL], kind="stable")
        tails, last = {}, {}
        for uid, ds, y in iter_series(full):
            tails[uid], last[uid] = y[-self.input_size :], ds[-1]
        self.model_ = module.model.eval()
        self.series_ = SeriesStore(
            freqs=dict(freqs),
            last=last,
            tails=tails,
            mean={u: s[0] for u, s in stats.items()},
            std={u: s[1] for u, s in stats.items()},
            keep=self.input_size,
        )
        if isinstance(config, HistoryForecasterConfig):
            self.history_ = _history.advance_histories(self.model_, self._scaled(full))
        else:
            self.__dict__.pop("history_", None)
        self.columns_ = dict(columns)
        self.fit_summary_ = asdict(summary)
        self.n_windows_ = n_windows

    def _scaled(self, long: pd.DataFrame, stats: dict | None = None) -> dict:
        """Each series' values of canonical ``long``, scaled by ``stats`` (default the stored ones)."""
        if stats is None:
            stats = {u: (self.series_.mean[u], self.series_.std[u]) for u in self.series_.ids}
        return {uid: (y - stats[uid][0]) / stats[uid][1] for uid, _, y in iter_series(long)}

    def _history_training(self, config, training, stats, scaled, val_long):
        """Lightning module and data of a history fit: every series from its first training row."""
        from titans_seq.training.history import HistoryDataModule, HistoryModule, HistorySeries

        val = self._scaled(val_long, stats) if len(val_long) else {}
        series = [
            HistorySeries(np.concatenate([y, val.get(uid, y[:0])]), len(y)) for uid, y in scaled.items()
        ]
        crop_tokens = training.pop("crop_tokens", HISTORY_CROP_TOKENS)
        module = HistoryModule(
            HistoryTitansForecaster(config),
            series,
            crop_tokens=crop_tokens,
            windows_per_crop=HISTORY_WINDOWS_PER_CROP,
            learning_rate=self.learning_rate,
            **training,
        )
        crops_per_step = max(1, -(-self.batch_size // HISTORY_WINDOWS_PER_CROP))
        datamodule = HistoryDataModule(module, crops_per_step=crops_per_step)
        n_val = sum(max(0, len(v) - self.h + 1) for v in val.values())
        return module, datamodule, {"train_crops": len(module.crops), "val": n_val}

    def _window_training(self, config, training, stats, scaled, val_long):
        """Lightning module and data of a window fit."""
        from titans_seq.training.forecasting import ForecastingModule, WindowDataModule

        train = WindowDataset([s[:, None] for s in scaled.values()], self.input_size, self.h, list(scaled))
        val = None
        if len(val_long):
            series = [
                (np.concatenate([scaled[uid][-self.input_size :], (y - stats[uid][0]) / stats[uid][1]]), uid)
                for uid, _, y in iter_series(val_long)
            ]
            short = [
                (uid, len(s) - self.input_size) for s, uid in series if len(s) < self.input_size + self.h
            ]
            if short:
                raise ValueError(
                    f"series {short[0][0]!r} has {short[0][1]} validation rows; h={self.h} needed"
                )
            val = WindowDataset(
                [s[:, None] for s, _ in series], self.input_size, self.h, [u for _, u in series]
            )
        module = ForecastingModule.from_model(
            PatchTitansForecaster(config), learning_rate=self.learning_rate, **training
        )
        datamodule = WindowDataModule(train, val, batch_size=self.batch_size)
        return module, datamodule, {"train": len(train), "val": 0 if val is None else len(val)}

    def _val_rows(self, prepared: PreparedFrame, val_size: int | None) -> int:
        shortest = min(prepared.lengths().values())
        room = shortest - (self.input_size + self.h)  # rows that can go to validation
        if val_size is None:
            fits = [v for v in (max(self.h, shortest // 5), self.h) if v <= room]
            return fits[0] if fits else 0
        if isinstance(val_size, bool) or not isinstance(val_size, int | np.integer) or val_size < 0:
            raise ValueError(f"val_size must be an integer >= 0 or None, got {val_size!r}")
        if 0 < val_size < self.h:
            raise ValueError(f"val_size={val_size} is shorter than h={self.h}: no validation window fits")
        if val_size > room:
            uid = min(prepared.lengths(), key=prepared.lengths().get)
            raise ValueError(
                f"series {uid!r} has {shortest} rows: val_size={val_size} leaves fewer than "
                f"input_size + h = {self.input_size + self.h} for training"
            )
        return int(val_size)

    def _validated_settings(self) -> tuple[PatchForecasterConfig | HistoryForecasterConfig, dict[str, Any]]:
        """Check every parameter and build the model configuration (raises before any data is read)."""
        check_window_sizes(self.h, self.input_size)
        for name in ("max_steps", "batch_size"):
            check_int(name, getattr(self, name), 1, types=numbers.Integral)
        patience = self.early_stop_patience
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, int) or patience < 0
        ):
            raise ValueError(f"early_stop_patience must be an integer >= 0 or None, got {patience!r}")
        if not isinstance(self.learning_rate, int | float) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a number > 0, got {self.learning_rate!r}")
        if self.alias is not None and (not isinstance(self.alias, str) or not self.alias):
            raise ValueError(f"alias must be a non-empty string or None, got {self.alias!r}")
        for name in ("model_kwargs", "trainer_kwargs"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise TypeError(f"{name} must be a dict or None, got {type(getattr(self, name)).__name__}")
        state = self.random_state
        if state is not None and (
            isinstance(state, bool) or not isinstance(state, numbers.Integral) or not 0 <= state < 2**32
        ):
            raise ValueError(f"random_state must be None or an integer in [0, 2**32), got {state!r}")
        if not isinstance(self.verbose, bool):
            raise ValueError(f"verbose must be True or False, got {self.verbose!r}")
        if self.context not in CONTEXTS:
            raise ValueError(f"context must be one of {list(CONTEXTS)}, got {self.context!r}")
        extra = dict(self.model_kwargs or {})
        unknown = sorted(set(extra) - set(MODEL_KEYS) - set(TRAINING_KEYS))
        if unknown:
            raise ValueError(f"unknown model_kwargs {unknown}; allowed: {sorted(MODEL_KEYS + TRAINING_KEYS)}")
        history = extra.pop("history", None)
        if history is not None and (self.context != "history" or not isinstance(history, dict)):
            raise ValueError("model_kwargs['history'] must be a dict, and only with context='history'")
        config = build_config(
            h=self.h,
            input_size=self.input_size,
            variant=self.variant,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            patch_len=self.patch_len,
            stride=self.stride,
            quantiles=level_quantiles(self.level),
            **{k: v for k, v in extra.items() if k in MODEL_KEYS},
        )
        training = {k: v for k, v in extra.items() if k in TRAINING_KEYS}
        if self.context == "history":
            history = {"memory": {"chunk_size": 16}} | dict(history or {})
            crop_tokens = history.pop("crop_tokens", HISTORY_CROP_TOKENS)
            check_int("model_kwargs['history']['crop_tokens']", crop_tokens, 1)
            config = build_history_config(config, **history)
            training["crop_tokens"] = crop_tokens
        return config, training

    # ------------------------------------------------------------------ forecasting
    @property
    def alias_(self) -> str:
        return self.alias or type(self).__name__

    @property
    def _history_mode(self) -> bool:
        return isinstance(self.model_, HistoryTitansForecaster)

    def _output_columns(self) -> tuple[list[str], list[int]]:
        model = self.model_
        config = model.config.window if self._history_mode else model.config
        return output_columns(self.alias_, self.level, config.quantiles)

    @torch.no_grad()
    def _forecast(
        self,
        windows: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        h: int,
        contexts: torch.Tensor | None = None,
    ) -> np.ndarray:
        """Raw windows ``[S, L]`` (and, in history mode, their contexts ``[S, dim]``) -> forecasts
        ``[S, h, K]`` (K output columns) in the raw scale."""
        with evaluating(self.model_) as model:  # predict leaves the module in the mode it found it
            param = next(model.parameters())
            scaled = (windows - mean[:, None]) / std[:, None]
            outputs = []
            for start in range(0, len(scaled), _INFERENCE_BATCH):
                x = torch.as_tensor(scaled[start : start + _INFERENCE_BATCH], dtype=param.dtype).to(
                    param.device
                )
                if contexts is None:
                    y = model(x[:, :, None])[:, :, 0]
                else:
                    y = model.forecast(x, contexts[start : start + _INFERENCE_BATCH].to(param))
                outputs.append(y[:, :h].double().cpu().numpy())  # [b, h, Q]
        out = np.concatenate(outputs) * std[:, None, None] + mean[:, None, None]
        return out[..., self._output_columns()[1]]

    def _horizon(self, h: int | None) -> int:
        if h is None:
            return self.h
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or not 1 <= h <= self.h:
            raise ValueError(f"h must be an integer in [1, {self.h}] (the horizon trained for), got {h!r}")
        return int(h)

    def _stats_for(self, ids: list, frame: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        """Scaling statistics per series: stored for known series, else from the rows of ``frame``."""
        own = {} if frame is None else {u: scaling_stats(y) for u, _, y in iter_series(frame)}
        store = self.series_
        pairs = [(store.mean[u], store.std[u]) if u in store.mean else own[u] for u in ids]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def predict(self, df: pd.DataFrame | None = None, h: int | None = None) -> pd.DataFrame:
        """Forecast the next ``h`` steps of every series; never changes the estimator.

        Parameters
        ----------
        df : pandas.DataFrame or None
            ``None``: continue the series seen in ``fit``/``update``. Otherwise a frame in the fit's layout
            and column names whose series (known or new, each with at least ``input_size`` rows) are
            continued after their last row; with ``context="history"`` the frame is each series' whole
            history, read from its first row (known series keep their training scale).
        h : int or None
            Steps to forecast, at most the trained ``h`` (default).

        Returns
        -------
        pandas.DataFrame
            ``unique_id, ds, <alias>`` (+ ``<alias>-median``, ``-lo-<l>``, ``-hi-<l>`` with ``level``),
            ``h`` rows per series, series in input order.
        """
        check_is_fitted(self, "model_")
        h = self._horizon(h)
        store = self.series_
        contexts = None
        if df is None:
            ids, frame, last, freqs = store.ids, None, store.last, store.freqs
            windows = np.stack([store.tails[u] for u in ids])
            if self._history_mode:
                contexts = _history.contexts(self.history_, ids)
        else:
            prepared = prepare_long_frame(
                df, h=h, input_size=self.input_size, min_length=self.input_size, **self.columns_
            )
            frame, freqs, last = prepared.frame, prepared.freqs, prepared.last_timestamps()
            ids = prepared.series_ids
            windows = np.stack([y[-self.input_size :] for _, _, y in iter_series(frame)])
        mean, std = self._stats_for(ids, frame)
        if frame is not None and self._history_mode:  # the frame is each series' whole history
            stats = dict(zip(ids, zip(mean, std, strict=True), strict=True))
            contexts = _history.contexts(
                _history.advance_histories(self.model_, self._scaled(frame, stats)), ids
            )
        return forecast_frame(
            ids, last, freqs, self._forecast(windows, mean, std, h, contexts), self._output_columns()[0]
        )

    def update(self, df: pd.DataFrame) -> TitansForecaster:
        """Append new observations of known series (no retraining); the next ``predict`` continues from them.

        With ``context="history"`` each series' memory reads the new rows (test-time learning with the trained
        weights frozen), in time proportional to them. Nothing changes unless every row is accepted.

        Parameters
        ----------
        df : pandas.DataFrame
            Rows in the fit's layout and column names; each series must be known and continue right after
            its last timestamp at its frequency.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Unknown series id, a gap or overlap with the stored history, bad rows (NaN, duplicates...).
        """
        check_is_fitted(self, "model_")
        new = to_long(df, **self.columns_)
        check_continuation(new, self.series_.last, self.series_.freqs, what="update")
        series = self.series_.appended(new)
        if self._history_mode:  # the new rows only: O(rows), whatever the length of the history
            advanced = _history.advance_histories(self.model_, self._scaled(new), self.history_)
            self.history_ = {**self.history_, **advanced}
        self.series_ = series
        return self

    def cross_validation(
        self,
        df: pd.DataFrame,
        n_windows: int = 1,
        step_size: int = 1,
        *,
        train: bool = True,
        **fit_kwargs: Any,
    ) -> pd.DataFrame:
        """Backtest: forecast the last ``n_windows`` windows of every series of ``df``, ``step_size`` apart.

        Parameters
        ----------
        df : pandas.DataFrame
            Long or wide frame; each series needs ``input_size + h + (n_windows - 1) * step_size`` rows
            (plus training rows when ``train``).
        n_windows, step_size : int
            Number of forecast windows per series and the rows between their starts.
        train : bool
            ``True``: fit on the rows before each series' first window (like neuralforecast's
            ``cross_validation(refit=False)``), which changes the estimator as ``fit`` does. ``False``: use
            the model as fitted (no training; the estimator is unchanged).
        **fit_kwargs
            ``val_size``, ``freq``, ``id_col``, ``time_col``, ``target_col`` (as in :meth:`fit`; with
            ``train=False`` the column names default to the fit's).

        Returns
        -------
        pandas.DataFrame
            ``unique_id, ds, cutoff, y, <alias>`` (+ quantile columns), ``n_windows * h`` rows per series;
            ``cutoff`` is the last timestamp each forecast saw.
        """
        for name, value in (("n_windows", n_windows), ("step_size", step_size)):
            check_int(name, value, 1, types=numbers.Integral)
        names = ("id_col", "time_col", "target_col")
        unknown = sorted(set(fit_kwargs) - {"val_size", "freq", *names})
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {unknown}")
        if train:
            columns = {
                k: fit_kwargs.get(k, d) for k, d in zip(names, (ID_COL, None, TARGET_COL), strict=True)
            }
            config, training = self._validated_settings()
        else:
            check_is_fitted(self, "model_")
            columns = {k: fit_kwargs.get(k, self.columns_[k]) for k in names}
        held = self.h + (n_windows - 1) * step_size
        need = self.input_size + held + (self.h if train else 0)
        prepared = prepare_long_frame(
            df, h=self.h, input_size=self.input_size, min_length=need, freq=fit_kwargs.get("freq"), **columns
        )
        head, _ = split_tail(prepared.frame, dict.fromkeys(prepared.freqs, held))
        if train:
            rows = self._val_rows(PreparedFrame(head, prepared.freqs), fit_kwargs.get("val_size"))
            train_long, val_long = split_tail(head, dict.fromkeys(prepared.freqs, rows))
            self._fit_frames(config, training, prepared.freqs, train_long, val_long, columns)
        ids, inputs, targets, target_ds, cutoffs = backtest_windows(
            prepared.frame, self.input_size, self.h, n_windows, step_size
        )
        uids = list(prepared.freqs)
        mean, std = self._stats_for(uids, head)
        per_window = np.repeat(np.arange(len(uids)), n_windows)
        contexts = None
        if self._history_mode:  # each window reads the memory of every row before its cutoff
            contexts = self._backtest_contexts(prepared.frame, uids, mean, std, n_windows, step_size)
        values = self._forecast(inputs, mean[per_window], std[per_window], self.h, contexts)
        out = pd.DataFrame(
            {
                ID_COL: np.repeat(np.asarray(ids, dtype=object), self.h),
                TIME_COL: target_ds.reshape(-1),
                "cutoff": np.repeat(cutoffs, self.h),
                TARGET_COL: targets.reshape(-1),
            }
        )
        for k, name in enumerate(self._output_columns()[0]):
            out[name] = values[..., k].reshape(-1)
        return out

    @torch.no_grad()
    def _backtest_contexts(self, frame, uids, mean, std, n_windows: int, step_size: int) -> torch.Tensor:
        """History contexts of :func:`backtest_windows`' windows ``[S * n_windows, dim]``: one pass over
        each series from its first row."""
        with evaluating(self.model_) as model:
            param, out = next(model.parameters()), []
            for (uid, _, y), expected, m, s in zip(iter_series(frame), uids, mean, std, strict=True):
                assert uid == expected, "series order changed"
                values = torch.as_tensor((y - m) / s, dtype=param.dtype, device=param.device)[None]
                starts = len(y) - self.h - (n_windows - 1 - np.arange(n_windows)) * step_size
                outputs, _ = model.advance(values, model.init_state(1))
                out.append(model.contexts_at(outputs, torch.as_tensor(starts))[0])
        return torch.cat(out)

    # ------------------------------------------------------------------ persistence and plots
    def save(self, path: str | os.PathLike) -> None:
        """Write ``path/config.json`` and ``path/model.safetensors`` atomically (no pickle involved).

        ``trainer_kwargs`` entries that are not JSON values (e.g. callback objects) are not saved.
        """
        check_is_fitted(self, "model_")
        params = self.get_params()
        kept = {}
        for key, value in (params.pop("trainer_kwargs") or {}).items():
            if isinstance(value, str | int | float | bool | type(None) | list | dict):
                kept[key] = value
            else:
                logger.warning("trainer_kwargs[%r] (%s) is not saved", key, type(value).__name__)
        params["trainer_kwargs"] = kept or None
        extra = None
        if self._history_mode:
            skeletons, extra = _history.to_tensors(self.history_, self.series_.ids)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "titans_seq_version": titans_seq.__version__,
            "params": params,
            "model": self.model_.config.to_dict(),
            "columns": self.columns_,
            "series": self.series_.to_json(),
            "fit_summary": self.fit_summary_,
        }
        if extra is not None:
            config["history_states"] = skeletons
        save_model_dir(path, config, self.model_, extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TitansForecaster:
        """Rebuild a forecaster written by :meth:`save`; predictions are identical."""
        config, state = load_model_dir(path)
        if config.get("format") != FORMAT:
            raise ValueError(f"{path} holds {config.get('format')!r}, not a saved TitansForecaster")
        version = config.get("format_version", 0)
        if version > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer titans_seq ({config.get('titans_seq_version')})")
        if version < FORMAT_VERSION:
            raise ValueError(
                f"{path} holds a format-{version} forecaster; this titans_seq reads format {FORMAT_VERSION} "
                "(its memory reads per-token weights, so older weights would forecast differently): refit it"
            )
        est = cls(**{"context": "window"} | config["params"])  # saved before contexts existed: window
        state, history = _history.split_weights(state)
        if est.context == "history":
            model = HistoryTitansForecaster(HistoryForecasterConfig.from_dict(config["model"]))
        else:
            model = PatchTitansForecaster(PatchForecasterConfig.from_dict(config["model"]))
        model.to(next(iter(state.values())).dtype)  # before loading: a float64 model stays float64
        model.load_state_dict(state)
        est.model_ = model.eval()
        est.series_ = SeriesStore.from_json(config["series"], keep=est.input_size)
        if est.context == "history":
            est.history_ = _history.from_tensors(config["history_states"], history, est.series_.ids)
        est.columns_ = config["columns"]
        est.fit_summary_ = config["fit_summary"]
        return est

    @property
    def n_parameters_(self) -> int:
        """Trainable parameters of the fitted model."""
        check_is_fitted(self, "model_")
        return sum(p.numel() for p in self.model_.parameters() if p.requires_grad)

    def plot(
        self,
        forecasts: pd.DataFrame | None = None,
        df: pd.DataFrame | None = None,
        unique_ids: list | None = None,
        max_series: int = 4,
    ):
        """Draw history, forecast and intervals (one panel per series); returns a matplotlib ``Figure``.

        ``forecasts`` defaults to ``predict(df)``; the history drawn is ``df`` when given, else the stored
        tail of each series (the ``input_size`` values the forecast read).
        """
        from titans_seq.estimators._forecast_plot import plot_forecasts

        check_is_fitted(self, "model_")
        if forecasts is None:
            forecasts = self.predict(df)
        history = to_long(df, **self.columns_) if df is not None else self.series_.history_frame()
        return plot_forecasts(history, forecasts, self.alias_, self.level or (), unique_ids, max_series)
