"""What a fitted :class:`~titans_seq.TitansForecaster` remembers about each series, and the window arrays it
feeds its model.

:class:`SeriesStore` holds, per series: the newest ``input_size`` observations (what the next forecast reads),
the last timestamp and frequency (where the forecast's timestamps start), and the mean/std of the training
rows (the per-series StandardScaler; the training loss is computed on scaled values, so long and short,
large and small series weigh the same, as the Time-Series-Library protocol does per channel). It is
immutable: ``update`` builds a new store, so ``predict`` can never change it by accident.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from titans_seq.data.timeseries import ID_COL, TARGET_COL, TIME_COL, future_timestamps, iter_series


@dataclass(frozen=True)
class SeriesStore:
    """Per-series state of a fitted forecaster (all dicts keyed by series id, in training order).

    Attributes
    ----------
    freqs : dict
        Frequency alias of each series.
    last : dict
        Last timestamp seen (fit, validation or update rows).
    tails : dict
        float64 ``[<= keep]`` newest raw values, oldest first.
    mean, std : dict
        Per-series scaling statistics of the training rows (std of a constant series is 1).
    keep : int
        How many values ``tails`` keep (the model's ``input_size``).
    """

    freqs: dict[Hashable, str]
    last: dict[Hashable, pd.Timestamp]
    tails: dict[Hashable, np.ndarray]
    mean: dict[Hashable, float]
    std: dict[Hashable, float]
    keep: int

    @property
    def ids(self) -> list[Hashable]:
        return list(self.freqs)

    def appended(self, long: pd.DataFrame) -> SeriesStore:
        """A new store with the rows of canonical long frame ``long`` appended (continuation checked by the
        caller); scaling statistics are kept, as the model was trained with them."""
        tails, last = dict(self.tails), dict(self.last)
        for uid, ds, y in iter_series(long):
            tails[uid] = np.concatenate([tails[uid], y])[-self.keep :]
            last[uid] = ds[-1]
        return SeriesStore(dict(self.freqs), last, tails, dict(self.mean), dict(self.std), self.keep)

    def history_frame(self) -> pd.DataFrame:
        """The stored tails as a canonical long frame (timestamps rebuilt from the last one and the freq)."""
        parts = []
        for uid, tail in self.tails.items():
            ds = pd.date_range(end=self.last[uid], periods=len(tail), freq=to_offset(self.freqs[uid]))
            parts.append(pd.DataFrame({ID_COL: uid, TIME_COL: ds, TARGET_COL: tail}))
        return pd.concat(parts, ignore_index=True)

    def to_json(self) -> list[dict[str, Any]]:
        """JSON-ready list, one dict per series (floats round-trip exactly through JSON)."""
        return [
            {
                "id": _plain(uid),
                "freq": self.freqs[uid],
                "last": self.last[uid].isoformat(),
                "tail": self.tails[uid].tolist(),
                "mean": self.mean[uid],
                "std": self.std[uid],
            }
            for uid in self.ids
        ]

    @classmethod
    def from_json(cls, items: list[dict[str, Any]], keep: int) -> SeriesStore:
        ids = [item["id"] for item in items]
        pick = lambda key, f=lambda v: v: {i: f(item[key]) for i, item in zip(ids, items, strict=True)}  # noqa: E731
        return cls(
            freqs=pick("freq"),
            last=pick("last", pd.Timestamp),
            tails=pick("tail", lambda v: np.asarray(v, dtype=np.float64)),
            mean=pick("mean", float),
            std=pick("std", float),
            keep=keep,
        )


def _plain(uid: Hashable) -> Any:
    """Series ids as JSON values (numpy scalars become Python ones)."""
    value = uid.item() if isinstance(uid, np.generic) else uid
    if not isinstance(value, str | int | float):
        raise TypeError(f"series id {uid!r} ({type(uid).__name__}) cannot be saved: use str or int ids")
    return value


def scaling_stats(y: np.ndarray) -> tuple[float, float]:
    """Mean and population std of a training series, at any finite scale; a constant series gets std 1
    (nothing to scale).

    Computed on ``y / max|y|`` so that squares neither overflow (values near 1e155 and beyond) nor lose
    every digit (values near 1e-12 and below); a std under ``1e-12`` of the series' magnitude counts as
    constant (float64 rounding of a constant series leaves about 1e-16)."""
    y = np.asarray(y, dtype=np.float64)
    magnitude = float(np.max(np.abs(y))) if len(y) else 0.0
    if magnitude == 0.0 or not np.isfinite(magnitude):
        return (0.0 if magnitude == 0.0 else float(np.mean(y))), 1.0
    unit = y / magnitude
    mean, std = float(np.mean(unit)) * magnitude, float(np.std(unit))
    return mean, (std * magnitude if std > 1e-12 else 1.0)


def forecast_frame(
    ids: list[Hashable],
    last: dict[Hashable, pd.Timestamp],
    freqs: dict[Hashable, str],
    values: np.ndarray,
    columns: list[str],
) -> pd.DataFrame:
    """Long forecast frame ``unique_id, ds, <columns>`` from ``values [S, H, K]`` (one row per series and
    step, series in ``ids`` order, K prediction columns)."""
    n_series, h, _ = values.shape
    ds = np.concatenate([future_timestamps(last[uid], freqs[uid], h).to_numpy() for uid in ids])
    frame = pd.DataFrame({ID_COL: np.repeat(np.asarray(ids, dtype=object), h), TIME_COL: ds})
    flat = values.reshape(n_series * h, -1)
    for k, name in enumerate(columns):
        frame[name] = flat[:, k]
    return frame


def backtest_windows(
    long: pd.DataFrame, input_size: int, h: int, n_windows: int, step_size: int
) -> tuple[list[Hashable], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs and targets of the last ``n_windows`` forecast windows of every series (cross-validation).

    Window ``k`` of a series of T rows forecasts rows ``[s_k, s_k + h)`` with
    ``s_k = T - h - (n_windows - 1 - k) * step_size`` from rows ``[s_k - input_size, s_k)``.

    Returns
    -------
    ids : list
        Series id of each window ``[S * n_windows]`` (series-major).
    inputs : numpy.ndarray
        float64 ``[S * n_windows, input_size]``.
    targets : numpy.ndarray
        float64 ``[S * n_windows, h]``.
    target_ds, cutoffs : numpy.ndarray
        datetime64 ``[S * n_windows, h]`` timestamps of the targets and ``[S * n_windows]`` the last input
        timestamp of each window.

    Raises
    ------
    ValueError
        A series too short for ``n_windows`` windows (names it and the length needed).
    """
    need = input_size + h + (n_windows - 1) * step_size
    ids, inputs, targets, target_ds, cutoffs = [], [], [], [], []
    offsets = np.arange(n_windows)
    for uid, ds, y in iter_series(long):
        if len(y) < need:
            raise ValueError(
                f"series {uid!r} has {len(y)} rows; {n_windows} windows of input_size={input_size} + h={h} "
                f"with step_size={step_size} need {need}"
            )
        starts = len(y) - h - (n_windows - 1 - offsets) * step_size  # first target row of each window
        stamps = ds.to_numpy()
        inputs.append(y[starts[:, None] - input_size + np.arange(input_size)])
        rows = starts[:, None] + np.arange(h)
        targets.append(y[rows])
        target_ds.append(stamps[rows])
        cutoffs.append(stamps[starts - 1])
        ids.extend([uid] * n_windows)
    return (
        ids,
        np.concatenate(inputs),
        np.concatenate(targets),
        np.concatenate(target_ds),
        np.concatenate(cutoffs),
    )


def split_tail(long: pd.DataFrame, rows: dict[Hashable, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a canonical long frame into (head, tail) where ``tail`` holds the last ``rows[uid]`` rows of
    each series (0 = none)."""
    from_end = long.groupby(ID_COL, sort=False).cumcount(ascending=False).to_numpy()
    limit = long[ID_COL].map(rows).fillna(0).to_numpy()
    in_tail = from_end < limit
    return long[~in_tail].reset_index(drop=True), long[in_tail].reset_index(drop=True)


def level_quantiles(level: list[float] | None) -> tuple[float, ...] | None:
    """Quantiles a list of interval levels needs, the median included: level 80 -> (0.1, 0.5, 0.9).

    Raises
    ------
    ValueError
        ``level`` is not a non-empty list of numbers in (0, 100) (names the bad value).
    """
    if level is None:
        return None
    if not isinstance(level, list | tuple) or not level:
        raise ValueError(f"level must be a non-empty list of numbers in (0, 100) or None, got {level!r}")
    for lvl in level:
        if isinstance(lvl, bool) or not isinstance(lvl, int | float) or not 0 < lvl < 100:
            raise ValueError(f"level values must be numbers in (0, 100), got {lvl!r} in {level!r}")
    bounds = {round((100 - lvl) / 200, 10) for lvl in level}
    return tuple(sorted({0.5} | bounds | {round(1 - q, 10) for q in bounds}))


def output_columns(
    alias: str, level: list[float] | None, quantiles: tuple[float, ...] | None
) -> tuple[list[str], list[int]]:
    """Prediction column names (neuralforecast's: ``alias``, ``alias-median``, ``alias-lo-<l>`` widest first,
    ``alias-hi-<l>`` narrowest first) and, for each, the index of its quantile among the model's outputs."""
    if quantiles is None:
        return [alias], [0]
    index = {round(q, 10): i for i, q in enumerate(quantiles)}
    names, picks = [alias, f"{alias}-median"], [index[0.5], index[0.5]]
    levels = sorted(level or ())
    for lvl in reversed(levels):
        names.append(f"{alias}-lo-{lvl:g}")
        picks.append(index[round((100 - lvl) / 200, 10)])
    for lvl in levels:
        names.append(f"{alias}-hi-{lvl:g}")
        picks.append(index[round(1 - round((100 - lvl) / 200, 10), 10)])
    return names, picks
