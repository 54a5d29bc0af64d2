"""Plot history, forecast and prediction intervals of a few series (matplotlib, no global pyplot state)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pandas as pd
from matplotlib.figure import Figure

from titans_seq.data.timeseries import ID_COL, TARGET_COL, TIME_COL


def plot_forecasts(
    history: pd.DataFrame,
    forecasts: pd.DataFrame,
    alias: str,
    levels: Sequence[int] = (),
    unique_ids: Sequence[Hashable] | None = None,
    max_series: int = 4,
) -> Figure:
    """One panel per series: history (``y``), the point forecast (``alias``) and shaded intervals.

    Parameters
    ----------
    history : pandas.DataFrame
        Canonical long frame (``unique_id``, ``ds``, ``y``).
    forecasts : pandas.DataFrame
        Output of ``predict`` (``unique_id``, ``ds``, ``alias`` and ``alias-lo-<l>`` / ``alias-hi-<l>``).
    alias : str
        Name of the point-forecast column.
    levels : sequence of int
        Interval levels to shade (widest lightest).
    unique_ids : sequence or None
        Series to draw; ``None`` takes the first ``max_series`` of ``forecasts``.
    max_series : int
        Most panels drawn when ``unique_ids`` is ``None``.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig(path)``; in a notebook it displays itself.

    Raises
    ------
    ValueError
        A requested series id has no forecast.
    """
    available = list(dict.fromkeys(forecasts[ID_COL]))
    ids = available[:max_series] if unique_ids is None else list(unique_ids)
    missing = [uid for uid in ids if uid not in set(available)]
    if missing:
        raise ValueError(f"no forecast for series {missing[:5]}; forecasts cover {available[:5]}...")
    fig = Figure(figsize=(10, 2.6 * max(len(ids), 1)), layout="constrained")
    axes = fig.subplots(max(len(ids), 1), 1, squeeze=False)[:, 0]
    for ax, uid in zip(axes, ids, strict=False):
        past = history[history[ID_COL] == uid]
        future = forecasts[forecasts[ID_COL] == uid]
        ax.plot(past[TIME_COL], past[TARGET_COL], color="black", linewidth=1, label="history")
        for i, level in enumerate(sorted(levels, reverse=True)):
            lo, hi = f"{alias}-lo-{level}", f"{alias}-hi-{level}"
            if lo in future and hi in future:
                ax.fill_between(
                    future[TIME_COL],
                    future[lo],
                    future[hi],
                    color="tab:blue",
                    alpha=0.15 + 0.1 * i,
                    label=f"{level}%",
                )
        ax.plot(future[TIME_COL], future[alias], color="tab:blue", linewidth=1.2, label=alias)
        ax.set_title(str(uid), fontsize=9, loc="left")
        ax.legend(loc="upper left", fontsize=7)
    return fig
