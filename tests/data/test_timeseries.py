"""Time-series data layer: frames, validation, frequencies, windows, TSL splits, named loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from titans_seq.data import (
    WindowDataset,
    benchmark_splits,
    infer_frequencies,
    load_benchmark,
    load_benchmark_splits,
    prepare_long_frame,
    sliding_windows,
    split_borders,
    to_long,
)
from titans_seq.data.benchmarks import DATA_ENV_VAR
from titans_seq.data.timeseries import check_continuation, future_timestamps, iter_series, last_windows

ETT_COLUMNS = ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def hourly_long(lengths: dict[str, int], start: str = "2020-01-01", freq: str = "h") -> pd.DataFrame:
    """Long frame; series k holds 1000 * k + (0, 1, 2, ...), so every value names its series and row."""
    parts = []
    for k, (uid, n) in enumerate(lengths.items()):
        ds = pd.date_range(pd.Timestamp(start) + pd.Timedelta(hours=3 * k), periods=n, freq=freq)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": 1000.0 * k + np.arange(n)}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def etth1() -> pd.DataFrame:
    return load_benchmark("ETTh1")


# --- frames --------------------------------------------------------------------------------------------


def test_wide_and_long_inputs_give_the_same_long_frame():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2021-03-01", periods=30, freq="h")
    wide = pd.DataFrame({"date": dates.astype(str), "a": rng.normal(size=30), "OT": rng.normal(size=30)})
    long = pd.concat(
        [pd.DataFrame({"ds": dates, "y": wide[c], "unique_id": c}) for c in ("OT", "a")], ignore_index=True
    ).sample(frac=1.0, random_state=1)  # shuffled rows, other column order

    from_wide, from_long = to_long(wide), to_long(long)

    pd.testing.assert_frame_equal(from_wide, from_long)
    assert list(from_wide.columns) == ["unique_id", "ds", "y"]
    np.testing.assert_array_equal(from_wide.loc[from_wide.unique_id == "a", "y"], wide["a"])


def test_custom_column_names_layout_override_and_exogenous_columns():
    long = hourly_long({"s1": 5}).rename(columns={"unique_id": "sid", "ds": "when", "y": "load"})
    long["temp"] = np.arange(5.0) * 2
    out = to_long(long, id_col="sid", time_col="when", target_col="load")
    assert list(out.columns) == ["unique_id", "ds", "y", "temp"]
    np.testing.assert_array_equal(out["temp"], np.arange(5.0) * 2)

    wide = pd.DataFrame({"ds": pd.date_range("2020", periods=4, freq="D"), "x": [1.0, 2, 3, 4]})
    out = to_long(wide, layout="wide", time_col="ds")
    assert out["unique_id"].tolist() == ["x"] * 4 and out["y"].tolist() == [1.0, 2, 3, 4]
    with pytest.raises(
        ValueError, match=r"missing column\(s\) \['unique_id', 'y'\].*found columns \['ds', 'x'\]"
    ):
        to_long(wide, layout="long")


# --- validation: every bad input names what is wrong ---------------------------------------------------


def _bad_frames() -> list:
    good = hourly_long({"a": 10, "b": 10})
    renamed = good.rename(columns={"y": "value"})
    bad_date = good.astype({"ds": str})
    bad_date.loc[13, "ds"] = "not-a-date"
    dup = pd.concat([good, good.iloc[[12]]], ignore_index=True)
    nan = good.copy()
    nan.loc[good.index[(good.unique_id == "b") & (good.ds == "2020-01-01 05:00")], "y"] = np.nan
    inf = good.copy()
    inf.loc[3, "y"] = np.inf
    gap = good.drop(index=15)  # series b loses its 6th row
    two_points = pd.concat([good, hourly_long({"c": 2})], ignore_index=True)
    short = hourly_long({"a": 10, "b": 5})
    wide_text = pd.DataFrame({"date": pd.date_range("2020", periods=3, freq="h"), "x": ["1", "2", "3"]})
    no_time = pd.DataFrame({"time": [1, 2], "x": [1.0, 2.0]})
    return [
        pytest.param(
            renamed,
            {},
            r"missing column\(s\) \['y'\]; found columns \['unique_id', 'ds', 'value'\]",
            id="missing-col",
        ),
        pytest.param(no_time, {}, r"no time column 'date'.*found columns \['time', 'x'\]", id="no-layout"),
        pytest.param(bad_date, {}, r"time column 'ds'.*'not-a-date' at row 13", id="bad-date"),
        pytest.param(dup, {}, r"series 'b' at 2020-01-01 05:00", id="duplicate"),
        pytest.param(nan, {}, r"nan in series 'b' at 2020-01-01 05:00", id="nan-target"),
        pytest.param(inf, {}, r"inf in series 'a' at 2020-01-01 03:00", id="inf-target"),
        pytest.param(
            gap,
            {},
            r"series 'b' has irregular timestamps: 2020-01-01 09:00:00 follows 2020-01-01 07:00",
            id="irregular",
        ),
        pytest.param(
            gap,
            {"freq": "h"},
            r"series 'b' has irregular timestamps: row 5 is 2020-01-01 09:00",
            id="irregular-freq",
        ),
        pytest.param(good, {"freq": "H"}, r"unknown frequency 'H'", id="freq-alias-H"),
        pytest.param(
            two_points, {"min_length": 1}, r"frequency of series 'c' from 2 timestamp", id="freq-unknown"
        ),
        pytest.param(short, {}, r"series 'b' has 5 rows but needs at least 7", id="too-short"),
        pytest.param(wide_text, {}, r"wide frame column 'x' is not numeric", id="wide-text"),
    ]


@pytest.mark.parametrize(("df", "kwargs", "match"), _bad_frames())
def test_bad_frames_raise_value_error_naming_the_culprit(df, kwargs, match):
    with pytest.raises(ValueError, match=match):
        prepare_long_frame(df, h=3, input_size=4, **kwargs)


@pytest.mark.parametrize(("h", "input_size", "name"), [(0, 4, "h"), (3, 0, "input_size"), (-1, 4, "h")])
def test_window_sizes_below_one_raise_before_looking_at_the_frame(h, input_size, name):
    with pytest.raises(ValueError, match=rf"^{name} must be >= 1"):
        prepare_long_frame(pd.DataFrame(), h=h, input_size=input_size)  # the empty frame is never reached
    with pytest.raises(ValueError, match=rf"^{name} must be >= 1"):
        sliding_windows(np.zeros((50, 1)), input_size, h)


# --- frequency -----------------------------------------------------------------------------------------


def test_frequency_is_inferred_per_series_with_pandas3_aliases():
    hourly = hourly_long({"hourly": 40})
    quarter = hourly_long({"q": 25}, start="2019-06-01 00:15", freq="15min").assign(unique_id="quarter")
    daily = hourly_long({"d": 3}, start="2021-01-01", freq="D").assign(unique_id="daily")
    prepared = prepare_long_frame(pd.concat([quarter, hourly, daily]), h=1, input_size=2)
    assert prepared.freqs == {"daily": "D", "hourly": "h", "quarter": "15min"}
    assert prepared.lengths() == {"daily": 3, "hourly": 40, "quarter": 25}
    assert prepared.last_timestamps()["quarter"] == pd.Timestamp("2019-06-01 06:15")


def test_frequency_of_real_ett_files():
    assert set(infer_frequencies(to_long(load_benchmark("ETTh1"))).values()) == {"h"}
    assert set(infer_frequencies(to_long(load_benchmark("ETTm2"))).values()) == {"15min"}


# --- windows -------------------------------------------------------------------------------------------


def test_sliding_windows_keep_the_last_window_and_never_cross_series():
    low, high = np.arange(100.0), 1000.0 + np.arange(50.0)  # distinct value ranges
    x, y = sliding_windows([low[:, None], high[:, None]], input_size=8, h=4)

    assert x.shape == ((100 - 12 + 1) + (50 - 12 + 1), 8, 1) and y.shape == (len(x), 4, 1)
    joined = np.concatenate([x, y], axis=1)[..., 0]  # [N, L + H]
    assert np.all(np.diff(joined, axis=1) == 1.0)  # consecutive rows of one series
    assert np.all((joined < 100).all(1) | (joined >= 1000).all(1))  # never a mix of both series
    assert joined[88, -1] == 99.0 and joined[-1, -1] == 1049.0  # last windows present


def test_window_dataset_from_long_frame_yields_windows_per_series():
    lengths = {"a": 30, "b": 17}
    ds = WindowDataset.from_long(hourly_long(lengths), input_size=6, h=3)

    assert len(ds) == (30 - 9 + 1) + (17 - 9 + 1)
    assert ds.series_ids == ["a", "b"] and ds.freqs == {"a": "h", "b": "h"}
    for i in range(len(ds)):
        item = ds[i]
        s, start = int(item["series"]), int(item["start"])
        base = 1000.0 * s + start  # values encode (series, row): see hourly_long
        assert item["x"].shape == (6, 1) and item["y"].shape == (3, 1)
        np.testing.assert_array_equal(item["x"][:, 0].numpy(), base + np.arange(6))
        np.testing.assert_array_equal(item["y"][:, 0].numpy(), base + 6 + np.arange(3))
    assert (int(ds[len(ds) - 1]["series"]), int(ds[len(ds) - 1]["start"])) == (1, 17 - 9)

    batch = next(iter(DataLoader(ds, batch_size=5)))
    assert batch["x"].shape == (5, 6, 1) and batch["x"].dtype == torch.float32
    assert batch["start"].tolist() == [0, 1, 2, 3, 4]


def test_last_windows_take_the_newest_rows_of_each_series():
    long = to_long(hourly_long({"a": 30, "b": 17}))
    ids, values, last = last_windows(long, 5)
    assert ids == ["a", "b"] and values.shape == (2, 5)
    np.testing.assert_array_equal(values[0], np.arange(25.0, 30.0))
    np.testing.assert_array_equal(values[1], 1000.0 + np.arange(12.0, 17.0))
    assert last["b"] == pd.Timestamp("2020-01-01 03:00") + pd.Timedelta(hours=16)
    assert [uid for uid, _, _ in iter_series(long)] == ["a", "b"]
    with pytest.raises(ValueError, match=r"series 'b' has 17 rows but input_size=20 are needed"):
        last_windows(long, 20)


def test_future_timestamps_follow_each_frequency():
    assert list(future_timestamps(pd.Timestamp("2020-01-31 23:45"), "15min", 2)) == [
        pd.Timestamp("2020-02-01 00:00"),
        pd.Timestamp("2020-02-01 00:15"),
    ]
    assert future_timestamps(pd.Timestamp("2020-01-31"), "D", 3)[-1] == pd.Timestamp("2020-02-03")


def test_continuation_checks_name_unknown_series_and_gaps():
    last = {"a": pd.Timestamp("2020-01-01 09:00")}
    freqs = {"a": "h"}
    good = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2020-01-01 10:00", periods=3, freq="h"), "y": 1.0}
    )
    check_continuation(to_long(good), last, freqs)
    with pytest.raises(ValueError, match=r"unknown series id 'z'"):
        check_continuation(to_long(good.assign(unique_id="z")), last, freqs)
    with pytest.raises(ValueError, match=r"row 0 is 2020-01-01 11:00:00, expected 2020-01-01 10:00:00"):
        check_continuation(to_long(good.iloc[1:]), last, freqs)
    jump = good.copy()
    jump.loc[2, "ds"] = pd.Timestamp("2020-01-01 15:00")  # a gap inside the new rows
    with pytest.raises(ValueError, match=r"update: series 'a' .* row 2 is 2020-01-01 15:00:00"):
        check_continuation(to_long(jump), last, freqs, what="update")


# --- TSL splits and scaling ----------------------------------------------------------------------------


def test_ett_hourly_borders_and_row_counts(etth1):
    assert etth1.shape == (17420, 8) and list(etth1.columns) == ETT_COLUMNS
    assert etth1["date"].iloc[-1] == pd.Timestamp("2018-06-26 19:00")

    splits = load_benchmark_splits("ETTh1", input_size=96)
    assert splits.borders.train == (0, 8640)
    assert splits.borders.val == (8640 - 96, 8640 + 2880)
    assert splits.borders.test == (11520 - 96, 14400)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [8640, 2880 + 96, 2880 + 96]
    assert splits.dates[splits.borders.test[1] - 1] == pd.Timestamp("2018-02-20 23:00")  # row 14399
    # Time-Series-Library's own window counts for ETTh1 96 -> 96: train 8449, val 2785, test 2785.
    assert [len(splits.windows(s, 96)) for s in ("train", "val", "test")] == [8449, 2785, 2785]


@pytest.mark.parametrize("h", [96, 720])
def test_test_split_keeps_every_window(etth1, h):
    splits = benchmark_splits(etth1, input_size=96, scheme="ett_hour")
    windows = splits.windows("test", h)
    assert len(windows) == len(splits.test) - 96 - h + 1
    last = windows[len(windows) - 1]
    np.testing.assert_array_equal(last["y"].numpy(), splits.test[-h:])  # ends on the split's last row


def test_other_borders_match_time_series_library():
    ettm = split_borders(69680, 96, "ett_minute")
    assert (ettm.train, ettm.val, ettm.test) == ((0, 34560), (34464, 46080), (45984, 57600))
    weather = split_borders(52696, 96, "ratio")  # int(0.7 n) = 36887, int(0.2 n) = 10539
    assert (weather.train, weather.val, weather.test) == ((0, 36887), (36791, 42157), (42061, 52696))
    with pytest.raises(ValueError, match=r"needs at least 14400 rows, the data has 14000"):
        split_borders(14000, 96, "ett_hour")


def test_scaler_is_fit_on_training_rows_only():
    rng = np.random.default_rng(3)
    values = rng.normal(loc=[5.0, -2.0], scale=[2.0, 0.5], size=(1000, 2))
    splits = benchmark_splits(values, input_size=24)
    train = values[:700]
    np.testing.assert_allclose(splits.scaler.mean_, train.mean(axis=0))
    np.testing.assert_allclose(splits.scaler.scale_, train.std(axis=0))  # population std, as StandardScaler

    changed = values.copy()
    changed[800:] *= 100.0  # test rows only
    other = benchmark_splits(changed, input_size=24)
    np.testing.assert_array_equal(other.scaler.mean_, splits.scaler.mean_)
    np.testing.assert_array_equal(other.scaler.scale_, splits.scaler.scale_)
    np.testing.assert_array_equal(other.train, splits.train)
    assert not np.allclose(other.test, splits.test)
    expected_test = (changed[800 - 24 :] - train.mean(0)) / train.std(0)
    np.testing.assert_allclose(other.test, expected_test, rtol=1e-5)


def test_ett_scaler_uses_the_first_8640_rows(etth1):
    splits = benchmark_splits(etth1, input_size=96, scheme="ett_hour")
    raw = etth1.drop(columns="date").to_numpy()
    np.testing.assert_allclose(splits.scaler.mean_, raw[:8640].mean(axis=0))
    np.testing.assert_allclose(splits.scaler.scale_, raw[:8640].std(axis=0))
    np.testing.assert_allclose(splits.val[0], (raw[8544] - raw[:8640].mean(0)) / raw[:8640].std(0), rtol=1e-5)


def test_benchmark_splits_reject_nan_naming_channel_and_row():
    values = np.ones((100, 3))
    values[42, 2] = np.nan
    with pytest.raises(ValueError, match=r"channel '2' has a NaN/inf value at row 42"):
        benchmark_splits(values, input_size=4)


# --- named loaders -------------------------------------------------------------------------------------


def test_weather_loader_reads_latin1_header():
    df = load_benchmark("weather")
    assert df.shape == (52696, 22)
    assert df.columns[0] == "date" and df.columns[1] == "p (mbar)" and df.columns[-1] == "OT"
    assert df["date"].iloc[0] == pd.Timestamp("2020-01-01 00:10")


def _write_fake_ecl(path, n=200):
    dates = pd.date_range("2016-07-01 02:00", periods=n, freq="h")
    # OT not last on purpose: the loader puts the target last, as Time-Series-Library does.
    frame = pd.DataFrame({"date": dates, "OT": np.arange(n) * 1.0, "0": np.ones(n), "1": np.arange(n) % 7})
    frame.to_csv(path, index=False)


def test_electricity_loader_without_the_file_says_which_file_and_where(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"electricity\.csv not found.*TITANS_SEQ_DATA"):
        load_benchmark("electricity")
    with pytest.raises(FileNotFoundError, match=rf"traffic\.csv not found.*{tmp_path}"):
        load_benchmark("traffic", data_dir=tmp_path)


def test_electricity_loader_reads_a_user_copy_from_data_dir_or_env(tmp_path, monkeypatch):
    (tmp_path / "electricity").mkdir()
    _write_fake_ecl(tmp_path / "electricity" / "electricity.csv")
    df = load_benchmark("ECL", data_dir=tmp_path)
    assert list(df.columns) == ["date", "0", "1", "OT"]
    np.testing.assert_array_equal(df["OT"], np.arange(200.0))

    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    splits = load_benchmark_splits("electricity", input_size=10)
    assert (splits.borders.train, splits.borders.val, splits.borders.test) == (
        (0, 140),
        (130, 160),
        (150, 200),
    )
    assert splits.channels == ["0", "1", "OT"]


def test_unknown_benchmark_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown benchmark 'ETTh3'.*'ETTh1'"):
        load_benchmark("ETTh3")
