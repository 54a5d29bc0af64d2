"""Time-series frames: long/wide normalisation, validation, per-series frequency, sliding windows.

Everything here works on one canonical **long frame**: one row per (series, timestamp) with columns
``unique_id``, ``ds`` (datetimes), ``y`` (float target) and any exogenous columns, sorted by
``(unique_id, ds)``. Wide benchmark frames (a ``date`` column plus one numeric column per channel, as the
ETT/Weather CSVs are) are melted so that each channel becomes one series (channel independence, as in
PatchTST).

Every check runs before any work and raises a ``ValueError`` that names the column, series, timestamp or
value at fault.

Windows: an input of ``input_size`` (L) rows followed by a target of ``h`` (H) rows, stride 1. A series of
T rows gives ``T - L - H + 1`` windows (the last ones are never dropped) and no window crosses from one
series into another.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset
from torch.utils.data import Dataset

ID_COL = "unique_id"
TIME_COL = "ds"
TARGET_COL = "y"
WIDE_TIME_COL = "date"

Layout = Literal["auto", "long", "wide"]

# pandas >= 3 warns that infer_freq will return an offset; opting in to that behaviour (when the option
# exists) keeps us silent on pandas 3 and still works on pandas 2.2, where infer_freq returns a string.
_INFER_FREQ_OPTION = "future.infer_freq_returns_offset"


def check_window_sizes(h: int, input_size: int) -> None:
    """Raise unless ``h`` and ``input_size`` are integers >= 1.

    Raises
    ------
    TypeError
        If either is not an integer (``bool`` is rejected too).
    ValueError
        If either is smaller than 1.
    """
    for name, value in (("h", h), ("input_size", input_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer >= 1, got {value!r} ({type(value).__name__})")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def to_long(
    df: pd.DataFrame,
    *,
    layout: Layout = "auto",
    id_col: str = ID_COL,
    time_col: str | None = None,
    target_col: str = TARGET_COL,
) -> pd.DataFrame:
    """Normalise a long or wide frame into the canonical long frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Either a long frame (``id_col``, ``time_col``, ``target_col`` plus optional exogenous columns, one row
        per series and timestamp) or a wide frame (``time_col`` plus one numeric column per channel).
    layout : {"auto", "long", "wide"}
        ``"auto"`` reads the frame as long when ``id_col`` is one of its columns, as wide otherwise.
    id_col, target_col : str
        Series id and target columns of a long frame (ignored for wide frames).
    time_col : str or None
        Time column; ``None`` means ``"ds"`` for long frames and ``"date"`` for wide frames.

    Returns
    -------
    pandas.DataFrame
        ``[n_rows, 3 + n_exogenous]`` with columns ``unique_id``, ``ds`` (datetime64), ``y`` (float64) then
        the exogenous columns unchanged, sorted by ``(unique_id, ds)``, with a fresh ``RangeIndex``. A wide
        frame with T rows and C channels gives ``T * C`` rows; ``unique_id`` is the channel's column name.

    Raises
    ------
    ValueError
        Unknown layout, missing columns (the message lists the columns found), non-numeric channels or
        targets, unparseable or missing dates, duplicated ``(unique_id, ds)`` rows, NaN/inf targets.
    """
    if layout not in ("auto", "long", "wide"):
        raise ValueError(f"layout must be 'auto', 'long' or 'wide', got {layout!r}")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError(f"the frame has no rows (columns: {list(df.columns)})")
    if layout == "auto":
        layout = "long" if id_col in df.columns else "wide"
    if layout == "long":
        long = _long_from_long(df, id_col, time_col or TIME_COL, target_col)
    else:
        long = _long_from_wide(df, time_col or WIDE_TIME_COL, id_col)

    _check_duplicates(long)
    _check_finite_target(long)
    return long.sort_values([ID_COL, TIME_COL], kind="stable").reset_index(drop=True)


def _long_from_long(df: pd.DataFrame, id_col: str, time_col: str, target_col: str) -> pd.DataFrame:
    required = [id_col, time_col, target_col]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"long frame is missing column(s) {missing}; found columns {list(df.columns)}. "
            f"Name them with id_col=, time_col=, target_col= (now {id_col!r}, {time_col!r}, {target_col!r}), "
            f"or pass a wide frame (time column {WIDE_TIME_COL!r} + one column per channel)"
        )
    canonical = {id_col: ID_COL, time_col: TIME_COL, target_col: TARGET_COL}
    clash = [c for c in df.columns if c in canonical.values() and c not in canonical]
    if clash:
        raise ValueError(
            f"exogenous column(s) {clash} would clash with the canonical names {list(canonical.values())}; "
            f"rename them (found columns {list(df.columns)})"
        )
    if df[id_col].isna().any():
        row = df.index[df[id_col].isna()][0]
        raise ValueError(f"column {id_col!r} (series id) is missing at row {row!r}")
    exog = [c for c in df.columns if c not in canonical]
    out = pd.DataFrame(
        {
            ID_COL: df[id_col].to_numpy(),
            TIME_COL: _parse_dates(df[time_col], time_col),
            TARGET_COL: _numeric(df[target_col], target_col),
        }
    )
    for c in exog:
        out[c] = df[c].to_numpy()
    return out


def _long_from_wide(df: pd.DataFrame, time_col: str, id_col: str) -> pd.DataFrame:
    if time_col not in df.columns:
        raise ValueError(
            f"cannot read the frame: no series id column {id_col!r} (long layout) and no time column "
            f"{time_col!r} (wide layout); found columns {list(df.columns)}. "
            "Pass id_col=/time_col=/target_col= to name the columns, or layout= to choose"
        )
    channels = [c for c in df.columns if c != time_col]
    if not channels:
        raise ValueError(f"wide frame has only the time column {time_col!r}: it needs one column per channel")
    for c in channels:
        if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            raise ValueError(
                f"wide frame column {c!r} is not numeric (dtype {df[c].dtype}): every column except the time "
                f"column {time_col!r} must be one numeric channel (for a long frame, check id_col={id_col!r})"
            )
    ds = _parse_dates(df[time_col], time_col)
    values = df[channels].to_numpy(dtype=np.float64)  # [T, C]
    n_rows = len(df)
    # Channel-major melt: the rows of channel c are values[:, c], in time order.
    return pd.DataFrame(
        {
            ID_COL: np.repeat(np.asarray([str(c) for c in channels], dtype=object), n_rows),
            TIME_COL: ds.take(np.tile(np.arange(n_rows), len(channels))).reset_index(drop=True),
            TARGET_COL: values.T.reshape(-1),
        }
    )


def _parse_dates(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = col
    elif pd.api.types.is_numeric_dtype(col):
        raise ValueError(
            f"time column {name!r} holds numbers (dtype {col.dtype}), not dates; "
            "only datetime time columns are supported (convert with pandas.to_datetime)"
        )
    else:
        parsed = pd.to_datetime(col, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = col.index[bad.to_numpy()][0]
        raise ValueError(
            f"time column {name!r} has a missing or unparseable date {col.loc[row]!r} at row {row!r}"
        )
    return parsed.reset_index(drop=True)


def _numeric(col: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col):
        raise ValueError(f"target column {name!r} is boolean; it must be numeric")
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(dtype=np.float64)
    coerced = pd.to_numeric(col, errors="coerce")
    bad = coerced.isna() & col.notna()
    if bad.any():
        row = col.index[bad.to_numpy()][0]
        raise ValueError(f"target column {name!r} has a non-numeric value {col.loc[row]!r} at row {row!r}")
    return coerced.to_numpy(dtype=np.float64)


def _check_duplicates(long: pd.DataFrame) -> None:
    dup = long.duplicated([ID_COL, TIME_COL], keep=False)
    if dup.any():
        first = long[dup].iloc[0]
        raise ValueError(
            f"{int(dup.sum())} rows share a (unique_id, ds) pair, e.g. series {first[ID_COL]!r} "
            f"at {first[TIME_COL]}: each series needs one row per timestamp"
        )


def _check_finite_target(long: pd.DataFrame) -> None:
    bad = ~np.isfinite(long[TARGET_COL].to_numpy())
    if bad.any():
        first = long[bad].iloc[0]
        raise ValueError(
            f"target has {int(bad.sum())} NaN/inf value(s), e.g. {first[TARGET_COL]} in series "
            f"{first[ID_COL]!r} at {first[TIME_COL]}; fill or drop them first"
        )


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    try:
        pd.get_option(_INFER_FREQ_OPTION)
    except pd.errors.OptionError:  # pandas < 3: infer_freq returns a string, no warning
        inferred = pd.infer_freq(index)
    else:
        with pd.option_context(_INFER_FREQ_OPTION, True):
            inferred = pd.infer_freq(index)
    return None if inferred is None else to_offset(inferred).freqstr


def _irregularity(uid: Hashable, ds: pd.DatetimeIndex, expected: pd.DatetimeIndex | None) -> str:
    """Describe where a series stops being regular (against ``expected`` or its most common step)."""
    if expected is not None:
        pos = int(np.argmax(ds.to_numpy() != expected.to_numpy()))
        return (
            f"series {uid!r} has irregular timestamps: row {pos} is {ds[pos]}, "
            f"expected {expected[pos]} at frequency {expected.freqstr!r}"
        )
    steps = pd.Series(ds[1:] - ds[:-1])
    usual = steps.mode().iloc[0]
    pos = int(np.argmax(steps.to_numpy() != usual.to_timedelta64())) + 1
    return (
        f"series {uid!r} has irregular timestamps: {ds[pos]} follows {ds[pos - 1]} "
        f"(step {ds[pos] - ds[pos - 1]}, most steps are {usual}); regularise or fill the gaps first"
    )


def _parse_freq(freq: str | None) -> BaseOffset | None:
    if freq is None:
        return None
    try:
        return to_offset(freq)
    except ValueError as err:
        raise ValueError(
            f"unknown frequency {freq!r}: pass a pandas offset alias such as 'h', '15min', 'D' "
            f"(pandas 3 rejects 'H' and 'T') ({err})"
        ) from None


def infer_frequencies(long: pd.DataFrame, freq: str | None = None) -> dict[Hashable, str]:
    """Frequency of every series of a canonical long frame, checking that each one is regular.

    Parameters
    ----------
    long : pandas.DataFrame
        Canonical long frame as returned by :func:`to_long` (sorted by ``unique_id``, ``ds``).
    freq : str or None
        A pandas offset alias (``"h"``, ``"15min"``, ``"D"``, ...) every series must follow; ``None`` infers
        one per series (series may differ in frequency, length and start).

    Returns
    -------
    dict
        ``{unique_id: frequency alias}`` in series order.

    Raises
    ------
    ValueError
        Unknown ``freq`` (e.g. pandas 3 rejects ``"H"``/``"T"``: use ``"h"``/``"min"``); a series whose
        timestamps are irregular (names the series and where); a series too short (< 3 rows) to infer its
        frequency when ``freq`` is not given.
    """
    offset = _parse_freq(freq)
    freqs: dict[Hashable, str] = {}
    for uid, ds_col in long.groupby(ID_COL, sort=False)[TIME_COL]:
        ds = pd.DatetimeIndex(ds_col)
        if offset is not None:
            expected = pd.date_range(ds[0], periods=len(ds), freq=offset)
            if not ds.equals(expected):
                raise ValueError(_irregularity(uid, ds, expected))
            freqs[uid] = offset.freqstr
            continue
        if len(ds) < 3:
            raise ValueError(
                f"cannot infer the frequency of series {uid!r} from {len(ds)} timestamp(s) (3 needed); "
                "pass freq= explicitly"
            )
        inferred = _infer_freq(ds)
        if inferred is None:
            steps = ds[1:] - ds[:-1]
            if (steps != steps[0]).any():
                raise ValueError(_irregularity(uid, ds, None))
            inferred = to_offset(steps[0]).freqstr  # constant step pandas has no alias for
        freqs[uid] = inferred
    return freqs


@dataclass(frozen=True)
class PreparedFrame:
    """A validated canonical long frame and what was learned while checking it.

    Attributes
    ----------
    frame : pandas.DataFrame
        Canonical long frame (``unique_id``, ``ds``, ``y`` + exogenous), sorted by ``(unique_id, ds)``.
    freqs : dict
        ``{unique_id: frequency alias}``, per series.
    """

    frame: pd.DataFrame
    freqs: dict[Hashable, str]

    @property
    def series_ids(self) -> list[Hashable]:
        """Series ids in frame order."""
        return list(self.freqs)

    def lengths(self) -> dict[Hashable, int]:
        """``{unique_id: number of rows}``."""
        return self.frame.groupby(ID_COL, sort=False).size().to_dict()

    def last_timestamps(self) -> dict[Hashable, pd.Timestamp]:
        """``{unique_id: last ds}``, where a forecast starts from."""
        return self.frame.groupby(ID_COL, sort=False)[TIME_COL].max().to_dict()


def prepare_long_frame(
    df: pd.DataFrame,
    *,
    h: int,
    input_size: int,
    min_length: int | None = None,
    freq: str | None = None,
    layout: Layout = "auto",
    id_col: str = ID_COL,
    time_col: str | None = None,
    target_col: str = TARGET_COL,
) -> PreparedFrame:
    """Validate a long or wide frame for forecasting and normalise it (:func:`to_long` + frequency checks).

    Parameters
    ----------
    df : pandas.DataFrame
        Long or wide frame (see :func:`to_long`).
    h, input_size : int
        Forecast horizon H and lookback L, both >= 1 (checked before anything else).
    min_length : int or None
        Fewest rows every series needs; ``None`` means ``input_size + h`` (one full training window).
    freq : str or None
        Frequency every series must follow; ``None`` infers it per series.
    layout, id_col, time_col, target_col
        As in :func:`to_long`.

    Returns
    -------
    PreparedFrame

    Raises
    ------
    ValueError
        Any check of :func:`check_window_sizes`, :func:`to_long` or :func:`infer_frequencies` fails, or a
        series has fewer than ``min_length`` rows (names the series and its length).
    """
    check_window_sizes(h, input_size)
    _parse_freq(freq)  # a bad alias fails before the frame is touched
    if min_length is None:
        min_length = input_size + h
    long = to_long(df, layout=layout, id_col=id_col, time_col=time_col, target_col=target_col)
    sizes = long.groupby(ID_COL, sort=False).size()
    short = sizes[sizes < min_length]
    if len(short):
        uid, n = short.index[0], int(short.iloc[0])
        raise ValueError(
            f"series {uid!r} has {n} rows but needs at least {min_length} (input_size={input_size} + h={h})"
            + (f"; {len(short)} series are too short" if len(short) > 1 else "")
        )
    return PreparedFrame(frame=long, freqs=infer_frequencies(long, freq))


def _as_series_list(series: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One array -> one series; a list/tuple -> several. 1-D arrays become one channel ``[T, 1]``."""
    items = [series] if isinstance(series, np.ndarray) else list(series)
    if not items:
        raise ValueError("no series given")
    out = []
    for i, arr in enumerate(items):
        arr = np.asarray(arr)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"series {i} must be [T] or [T, C], got shape {arr.shape}")
        if out and arr.shape[1] != out[0].shape[1]:
            raise ValueError(f"series {i} has {arr.shape[1]} channels, series 0 has {out[0].shape[1]}")
        out.append(arr)
    return out


def _check_lengths(series: list[np.ndarray], input_size: int, h: int, names: Sequence[Hashable]) -> None:
    for name, arr in zip(names, series, strict=True):
        if len(arr) < input_size + h:
            raise ValueError(
                f"series {name!r} has {len(arr)} rows but a window needs input_size + h = {input_size + h}"
            )


def sliding_windows(
    series: np.ndarray | Sequence[np.ndarray], input_size: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """All stride-1 (input, target) windows of one or several series.

    Parameters
    ----------
    series : numpy.ndarray or sequence of numpy.ndarray
        One array ``[T, C]`` (or ``[T]``), or several with the same C; windows never span two of them.
    input_size, h : int
        Lookback L and horizon H.

    Returns
    -------
    inputs : numpy.ndarray
        ``[N, L, C]`` with ``N = sum(T_i - L - H + 1)`` (no window dropped at the end).
    targets : numpy.ndarray
        ``[N, H, C]``; ``targets[n]`` follows ``inputs[n]`` directly in the same series.
        For a single array both are read-only views into it (no copy); several arrays are concatenated.

    Raises
    ------
    ValueError
        ``h``/``input_size`` < 1, or a series shorter than ``input_size + h`` (names its index and length).
    """
    check_window_sizes(h, input_size)
    arrays = _as_series_list(series)
    _check_lengths(arrays, input_size, h, range(len(arrays)))
    inputs, targets = [], []
    for arr in arrays:
        # sliding_window_view gives [N, C, L + H]; move the window axis next to N.
        win = np.lib.stride_tricks.sliding_window_view(arr, input_size + h, axis=0).transpose(0, 2, 1)
        inputs.append(win[:, :input_size])
        targets.append(win[:, input_size:])
    if len(arrays) == 1:
        return inputs[0], targets[0]
    return np.concatenate(inputs), np.concatenate(targets)


class WindowDataset(Dataset):
    """Stride-1 forecasting windows over one or several series, built lazily (no window is copied upfront).

    Item ``i`` is a dict:

    - ``"x"``: float32 tensor ``[L, C]``, the input rows;
    - ``"y"``: float32 tensor ``[H, C]``, the next H rows of the same series;
    - ``"series"``: int64 scalar, index of the series in :attr:`series_ids`;
    - ``"start"``: int64 scalar, row of the series where ``x`` starts.

    Windows are ordered by series then start; series i contributes ``T_i - L - H + 1`` windows.

    Parameters
    ----------
    series : numpy.ndarray or sequence of numpy.ndarray
        One ``[T, C]`` array (e.g. a benchmark split) or several with the same C.
    input_size, h : int
        Lookback L and horizon H.
    series_ids : sequence or None
        A name per series (for messages and bookkeeping); default ``0, 1, ...``.

    Attributes
    ----------
    series_ids : list
    index : numpy.ndarray
        ``[N, 2]`` int64, ``(series, start)`` of every window.
    freqs : dict or None
        Per-series frequency when built with :meth:`from_long`.
    """

    def __init__(
        self,
        series: np.ndarray | Sequence[np.ndarray],
        input_size: int,
        h: int,
        series_ids: Sequence[Hashable] | None = None,
    ) -> None:
        check_window_sizes(h, input_size)
        arrays = _as_series_list(series)
        ids = list(range(len(arrays))) if series_ids is None else list(series_ids)
        if len(ids) != len(arrays):
            raise ValueError(f"series_ids has {len(ids)} names for {len(arrays)} series")
        _check_lengths(arrays, input_size, h, ids)
        self.input_size = input_size
        self.h = h
        self.series_ids = ids
        self.freqs: dict[Hashable, str] | None = None
        self._arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
        counts = [len(a) - input_size - h + 1 for a in self._arrays]
        self.index = np.concatenate(
            [np.stack([np.full(n, s), np.arange(n)], axis=1) for s, n in enumerate(counts)]
        ).astype(np.int64)

    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame | PreparedFrame,
        input_size: int,
        h: int,
        *,
        freq: str | None = None,
        layout: Layout = "auto",
        id_col: str = ID_COL,
        time_col: str | None = None,
        target_col: str = TARGET_COL,
    ) -> WindowDataset:
        """Windows of every series of a long (or wide) frame; each series is one channel ``[T_i, 1]``.

        Parameters
        ----------
        df : pandas.DataFrame or PreparedFrame
            A raw frame (validated with :func:`prepare_long_frame`) or an already prepared one.
        input_size, h : int
            Lookback L and horizon H.
        freq, layout, id_col, time_col, target_col
            As in :func:`prepare_long_frame` (ignored when ``df`` is a :class:`PreparedFrame`).

        Returns
        -------
        WindowDataset
            Items with ``x [L, 1]``, ``y [H, 1]``; ``series_ids`` are the frame's ``unique_id`` values and
            ``freqs`` their frequencies. Exogenous columns are not windowed.
        """
        check_window_sizes(h, input_size)
        if isinstance(df, PreparedFrame):
            prepared = df
        else:
            prepared = prepare_long_frame(
                df,
                h=h,
                input_size=input_size,
                freq=freq,
                layout=layout,
                id_col=id_col,
                time_col=time_col,
                target_col=target_col,
            )
        groups = prepared.frame.groupby(ID_COL, sort=False)[TARGET_COL]
        ids, arrays = zip(*((uid, col.to_numpy()) for uid, col in groups), strict=True)
        dataset = cls(list(arrays), input_size, h, series_ids=ids)
        dataset.freqs = dict(prepared.freqs)
        return dataset

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s, start = (int(v) for v in self.index[i])
        arr = self._arrays[s]
        mid = start + self.input_size
        return {
            "x": torch.tensor(arr[start:mid]),
            "y": torch.tensor(arr[mid : mid + self.h]),
            "series": torch.tensor(s, dtype=torch.int64),
            "start": torch.tensor(start, dtype=torch.int64),
        }


# --- per-series helpers for forecasting estimators --------------------------------------------------------


def iter_series(long: pd.DataFrame) -> list[tuple[Hashable, pd.DatetimeIndex, np.ndarray]]:
    """``[(unique_id, ds, y)]`` of a canonical long frame, in frame order; ``y`` is float64 ``[T_i]``."""
    groups = long.groupby(ID_COL, sort=False)
    return [
        (uid, pd.DatetimeIndex(part[TIME_COL]), part[TARGET_COL].to_numpy(dtype=np.float64))
        for uid, part in groups
    ]


def last_windows(
    long: pd.DataFrame, input_size: int
) -> tuple[list[Hashable], np.ndarray, dict[Hashable, pd.Timestamp]]:
    """The last ``input_size`` values of every series of a canonical long frame.

    Parameters
    ----------
    long : pandas.DataFrame
        Canonical long frame (see :func:`to_long`).
    input_size : int
        Lookback L.

    Returns
    -------
    ids : list
        Series ids in frame order.
    values : numpy.ndarray
        float64 ``[S, L]``: row i holds the newest L values of series ``ids[i]``, oldest first.
    last : dict
        ``{unique_id: last ds}``, where each series' forecast starts from.

    Raises
    ------
    ValueError
        ``input_size < 1`` or a series with fewer than ``input_size`` rows (names it).
    """
    check_window_sizes(1, input_size)
    ids, rows, last = [], [], {}
    for uid, ds, y in iter_series(long):
        if len(y) < input_size:
            raise ValueError(f"series {uid!r} has {len(y)} rows but input_size={input_size} are needed")
        ids.append(uid)
        rows.append(y[-input_size:])
        last[uid] = ds[-1]
    return ids, np.stack(rows), last


def future_timestamps(last: pd.Timestamp, freq: str, h: int) -> pd.DatetimeIndex:
    """The ``h`` timestamps after ``last`` at frequency ``freq`` (a pandas offset alias)."""
    offset = to_offset(freq)
    return pd.date_range(last + offset, periods=h, freq=offset)


def check_continuation(
    long: pd.DataFrame,
    last: dict[Hashable, pd.Timestamp],
    freqs: dict[Hashable, str],
    *,
    what: str = "new observations",
) -> None:
    """Check that every series of ``long`` is known and continues right after its ``last`` timestamp.

    Parameters
    ----------
    long : pandas.DataFrame
        Canonical long frame of new rows.
    last, freqs : dict
        ``{unique_id: last timestamp seen}`` and ``{unique_id: frequency alias}`` of the known series.
    what : str
        How to call the rows in messages (``"new observations"``, ``"validation rows"``).

    Raises
    ------
    ValueError
        An unknown series id (names it and lists some known ones); a series whose first new timestamp is
        not one step after its last one, or whose new timestamps are irregular (names both timestamps).
    """
    for uid, ds, _ in iter_series(long):
        if uid not in last:
            known = list(last)[:5]
            raise ValueError(
                f"{what}: unknown series id {uid!r}; the model knows {len(last)} series, e.g. {known}"
            )
        expected = future_timestamps(last[uid], freqs[uid], len(ds))
        if not ds.equals(expected):
            pos = int(np.argmax(ds.to_numpy() != expected.to_numpy()))
            raise ValueError(
                f"{what}: series {uid!r} must continue after {last[uid]} at frequency {freqs[uid]!r}; "
                f"row {pos} is {ds[pos]}, expected {expected[pos]}"
            )
