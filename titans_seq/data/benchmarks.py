"""Named long-term forecasting benchmarks and their Time-Series-Library (TSL) splits.

The protocol follows TSL (``data_provider/data_loader.py``), which iTransformer and the Titans paper use:

- ETTh1/ETTh2: row borders of 12/4/4 months of 30 days: train ``[0, 8640)``, val ``[8640 - L, 11520)``,
  test ``[11520 - L, 14400)`` with L = lookback; the rows after 14400 are not used.
  ETTm1/ETTm2 (15-minute data): the same borders times 4.
- Weather, Electricity (ECL), Traffic: ``num_train = int(0.7 n)``, ``num_test = int(0.2 n)``, the rest is
  validation; val and test start L rows early so their first window has a full lookback.
- A ``StandardScaler`` is fit per channel on the training rows only and applied to every split.

Splits are by row: timestamps are carried along but not checked for regularity (the Weather file has one
duplicated timestamp and one 100-minute gap, which TSL keeps as they are).

ETT and Weather are bundled in the repository's ``datasets/`` folder; Electricity and Traffic are not and are
read from a copy the user supplies. Nothing is ever downloaded.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from titans_seq.data.timeseries import WIDE_TIME_COL, WindowDataset, check_window_sizes

logger = logging.getLogger(__name__)

SplitScheme = Literal["ett_hour", "ett_minute", "ratio"]
Split = Literal["train", "val", "test"]

DATA_ENV_VAR = "TITANS_SEQ_DATA"
"""Environment variable naming a folder that holds benchmark CSVs (used when ``data_dir`` is not given)."""

TARGET = "OT"

# TSL's ETT borders: 12 months train, 4 validation, 4 test, months of 30 days of hourly rows.
_ETT_HOUR_BORDERS = (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24)  # 8640, 11520, 14400
_SCHEME_FACTOR = {"ett_hour": 1, "ett_minute": 4}


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark's file lives and how it is split.

    Attributes
    ----------
    name : str
        Canonical name (``"ETTh1"``, ``"weather"``, ...).
    file : str
        CSV file name users know it by (a ``.gz`` copy next to it is read too).
    subdir : str
        Folder under ``datasets/`` (or under a user's data folder) that may hold it.
    scheme : {"ett_hour", "ett_minute", "ratio"}
        Split rule (see :func:`split_borders`).
    bundled : bool
        Whether the repository ships the file.
    shape : tuple of int
        Published ``(rows, channels)``, excluding the date column.
    """

    name: str
    file: str
    subdir: str
    scheme: SplitScheme
    bundled: bool
    shape: tuple[int, int]


BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec("ETTh1", "ETTh1.csv", "ett", "ett_hour", True, (17420, 7)),
        BenchmarkSpec("ETTh2", "ETTh2.csv", "ett", "ett_hour", True, (17420, 7)),
        BenchmarkSpec("ETTm1", "ETTm1.csv", "ett", "ett_minute", True, (69680, 7)),
        BenchmarkSpec("ETTm2", "ETTm2.csv", "ett", "ett_minute", True, (69680, 7)),
        BenchmarkSpec("weather", "weather.csv", "weather", "ratio", True, (52696, 21)),
        BenchmarkSpec("electricity", "electricity.csv", "electricity", "ratio", False, (26304, 321)),
        BenchmarkSpec("traffic", "traffic.csv", "traffic", "ratio", False, (17544, 862)),
    )
}
_ALIASES = {name.lower(): name for name in BENCHMARKS} | {"ecl": "electricity"}


def bundled_data_dir() -> Path:
    """The repository's ``datasets/`` folder (two levels above the package directory)."""
    return Path(__file__).resolve().parents[2] / "datasets"


def benchmark_spec(name: str) -> BenchmarkSpec:
    """Look a benchmark up by name (case-insensitive; ``"ECL"`` is an alias of ``"electricity"``).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).
    """
    key = _ALIASES.get(str(name).lower())
    if key is None:
        raise ValueError(f"unknown benchmark {name!r}; known: {list(BENCHMARKS)}")
    return BENCHMARKS[key]


@dataclass(frozen=True)
class SplitBorders:
    """Half-open row ranges ``(start, stop)`` of each split; val/test start ``input_size`` rows early."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def rows(self, split: Split) -> int:
        """Number of rows of ``split`` (lookback overlap included)."""
        start, stop = getattr(self, split)
        return stop - start


def split_borders(n_rows: int, input_size: int, scheme: SplitScheme = "ratio") -> SplitBorders:
    """TSL row borders of the train/val/test splits.

    Parameters
    ----------
    n_rows : int
        Rows of the whole series (the file's length).
    input_size : int
        Lookback L; val and test start L rows before their first target row.
    scheme : {"ett_hour", "ett_minute", "ratio"}
        ``"ett_hour"``: 8640/2880/2880 rows (ETTh); ``"ett_minute"``: 4x that (ETTm); ``"ratio"``: 70/10/20
        per cent (Weather, ECL, Traffic and any other frame).

    Returns
    -------
    SplitBorders

    Raises
    ------
    ValueError
        Unknown scheme, ``input_size < 1``, or too few rows for the scheme and lookback.
    """
    check_window_sizes(1, input_size)
    if scheme in _SCHEME_FACTOR:
        train_end, val_end, test_end = (b * _SCHEME_FACTOR[scheme] for b in _ETT_HOUR_BORDERS)
        if n_rows < test_end:
            raise ValueError(f"scheme {scheme!r} needs at least {test_end} rows, the data has {n_rows}")
    elif scheme == "ratio":
        train_end = int(n_rows * 0.7)
        test_end = n_rows
        val_end = n_rows - int(n_rows * 0.2)
        if min(train_end, val_end - train_end, test_end - val_end) < 1:
            raise ValueError(f"{n_rows} rows are too few for a 70/10/20 split with non-empty splits")
    else:
        raise ValueError(f"scheme must be 'ett_hour', 'ett_minute' or 'ratio', got {scheme!r}")
    if input_size > train_end:
        raise ValueError(
            f"input_size={input_size} exceeds the {train_end} training rows of scheme {scheme!r}: "
            "the validation split cannot start that early"
        )
    return SplitBorders(
        train=(0, train_end),
        val=(train_end - input_size, val_end),
        test=(val_end - input_size, test_end),
    )


@dataclass(frozen=True)
class BenchmarkSplits:
    """Scaled train/val/test arrays of a wide benchmark frame.

    Attributes
    ----------
    train, val, test : numpy.ndarray
        float32 ``[rows, C]``, scaled with :attr:`scaler`; val/test include the ``input_size`` lookback rows.
    borders : SplitBorders
        Row ranges of each split in the unscaled frame.
    scaler : sklearn.preprocessing.StandardScaler
        Fit on the training rows only, one mean/scale per channel (use ``inverse_transform`` to unscale).
    channels : list of str
        Channel names, in column order (target ``OT`` last for the named benchmarks).
    dates : pandas.DatetimeIndex or None
        Timestamp of every row of the whole frame (slice with :attr:`borders`); ``None`` for arrays.
    input_size : int
        Lookback L the borders were computed for.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    borders: SplitBorders
    scaler: StandardScaler
    channels: list[str]
    dates: pd.DatetimeIndex | None
    input_size: int

    def windows(self, split: Split, h: int) -> WindowDataset:
        """Stride-1 windows ``x [L, C]``, ``y [H, C]`` of one split: ``rows - L - H + 1``, none dropped."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        return WindowDataset(getattr(self, split), self.input_size, h, series_ids=[split])


def benchmark_splits(
    data: pd.DataFrame | np.ndarray,
    input_size: int,
    scheme: SplitScheme = "ratio",
    *,
    time_col: str = WIDE_TIME_COL,
) -> BenchmarkSplits:
    """Split a wide frame by TSL borders and scale it with a StandardScaler fit on the training rows.

    Parameters
    ----------
    data : pandas.DataFrame or numpy.ndarray
        Wide frame (``time_col`` + one numeric column per channel) or an array ``[rows, C]``.
    input_size : int
        Lookback L.
    scheme : {"ett_hour", "ett_minute", "ratio"}
        See :func:`split_borders`.
    time_col : str
        Time column of a wide frame (dropped from the channels; kept in ``dates``).

    Returns
    -------
    BenchmarkSplits

    Raises
    ------
    ValueError
        Bad ``input_size``/``scheme``/row count, a non-numeric channel, or a NaN/inf value (names the
        channel and the row).
    """
    check_window_sizes(1, input_size)
    dates = None
    if isinstance(data, pd.DataFrame):
        if time_col in data.columns:
            dates = pd.DatetimeIndex(pd.to_datetime(data[time_col]))
        channels = [str(c) for c in data.columns if c != time_col]
        for c in data.columns:
            if c != time_col and not pd.api.types.is_numeric_dtype(data[c]):
                raise ValueError(
                    f"column {c!r} is not numeric (dtype {data[c].dtype}); found {list(data.columns)}"
                )
        values = data[[c for c in data.columns if c != time_col]].to_numpy(dtype=np.float64)
    else:
        values = np.asarray(data, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"data must be a wide frame or an array [rows, C], got shape {values.shape}")
        channels = [str(i) for i in range(values.shape[1])]
    if values.shape[1] == 0:
        raise ValueError("data has no channel columns")
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        when = f" ({dates[row]})" if dates is not None else ""
        raise ValueError(f"channel {channels[col]!r} has a NaN/inf value at row {row}{when}")

    borders = split_borders(len(values), input_size, scheme)
    scaler = StandardScaler().fit(values[slice(*borders.train)])
    return BenchmarkSplits(
        train=scaler.transform(values[slice(*borders.train)]).astype(np.float32),
        val=scaler.transform(values[slice(*borders.val)]).astype(np.float32),
        test=scaler.transform(values[slice(*borders.test)]).astype(np.float32),
        borders=borders,
        scaler=scaler,
        channels=channels,
        dates=dates,
        input_size=input_size,
    )


def _candidates(spec: BenchmarkSpec, folder: Path) -> list[Path]:
    return [folder / sub / name for sub in ("", spec.subdir) for name in (spec.file + ".gz", spec.file)]


def _find_file(spec: BenchmarkSpec, data_dir: str | os.PathLike[str] | None) -> Path:
    if data_dir is not None:
        given = Path(data_dir)
        if given.is_file():
            return given
        candidates = _candidates(spec, given)
    else:
        env = os.environ.get(DATA_ENV_VAR)
        folders = ([Path(env)] if env else []) + [bundled_data_dir()]
        candidates = [p for folder in folders for p in _candidates(spec, folder)]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    if spec.bundled:
        hint = f"it ships in {bundled_data_dir() / spec.subdir}; restore it there or pass data_dir="
    else:
        rows, channels = spec.shape
        hint = (
            f"{spec.name} is not bundled (it is too large); put your copy of {spec.file} (the standard "
            f"Time-Series-Library file: a 'date' column then {channels} channels, '{TARGET}' last, "
            f"{rows} rows) "
            f"in a folder and pass data_dir=that folder, or set {DATA_ENV_VAR}=that folder, or place it in "
            f"{bundled_data_dir() / spec.subdir}"
        )
    raise FileNotFoundError(f"{spec.file} not found (looked for {looked}); {hint}")


def load_benchmark(name: str, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a named benchmark as a wide frame; never downloads.

    Parameters
    ----------
    name : str
        ``"ETTh1"``, ``"ETTh2"``, ``"ETTm1"``, ``"ETTm2"``, ``"weather"``, ``"electricity"`` (or ``"ECL"``),
        ``"traffic"``; case-insensitive.
    data_dir : path or None
        A CSV file, or a folder holding ``<file>`` / ``<file>.gz`` directly or under the benchmark's subfolder
        (``ett/``, ``weather/``, ``electricity/``, ``traffic/``). ``None`` searches the folder named by the
        ``TITANS_SEQ_DATA`` environment variable, then the repository's ``datasets/``.

    Returns
    -------
    pandas.DataFrame
        ``[rows, 1 + C]``: ``date`` (datetime64) then the channels (float64), ``OT`` last, rows in file order.

    Raises
    ------
    ValueError
        Unknown name; a file without a ``date`` column, with unparseable dates or non-numeric channels.
    FileNotFoundError
        The file is not where it was looked for (the message names the file and where to put it).
    """
    spec = benchmark_spec(name)
    path = _find_file(spec, data_dir)
    # The Weather header holds non-ASCII bytes in unit names; latin-1 decodes any byte sequence.
    df = pd.read_csv(path, encoding="latin-1")
    if WIDE_TIME_COL not in df.columns:
        raise ValueError(f"{path} has no {WIDE_TIME_COL!r} column; found columns {list(df.columns)[:10]}")
    dates = pd.to_datetime(df[WIDE_TIME_COL], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ValueError(f"{path}: unparseable date {df[WIDE_TIME_COL].iloc[row]!r} at row {row}")
    channels = [c for c in df.columns if c != WIDE_TIME_COL]
    for c in channels:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise ValueError(f"{path}: column {c!r} is not numeric (dtype {df[c].dtype})")
    if TARGET in channels:  # TSL's column order: date, the other channels, then the target
        channels = [c for c in channels if c != TARGET] + [TARGET]
    out = pd.concat([dates.rename(WIDE_TIME_COL), df[channels].astype(np.float64)], axis=1)
    if (len(out), len(channels)) != spec.shape:
        logger.warning(
            "%s has %d rows x %d channels; the published %s has %d x %d",
            path,
            len(out),
            len(channels),
            spec.name,
            *spec.shape,
        )
    return out


def load_benchmark_splits(
    name: str, input_size: int = 96, data_dir: str | os.PathLike[str] | None = None
) -> BenchmarkSplits:
    """:func:`load_benchmark` then :func:`benchmark_splits` with the benchmark's own split scheme.

    Parameters
    ----------
    name : str
        Benchmark name (see :func:`load_benchmark`).
    input_size : int
        Lookback L (96 in the Titans/iTransformer protocol).
    data_dir : path or None
        See :func:`load_benchmark`.

    Returns
    -------
    BenchmarkSplits
    """
    check_window_sizes(1, input_size)
    spec = benchmark_spec(name)
    return benchmark_splits(load_benchmark(spec.name, data_dir), input_size, spec.scheme)
