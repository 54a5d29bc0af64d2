"""TitansForecaster: the scikit-learn contract, update/predict semantics, persistence, and bad input.

A tiny model (width 16, one block, 15 steps) on generated series keeps each fit to about a second.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from titans_seq import TitansForecaster

H, L = 6, 24
TINY = dict(
    h=H,
    input_size=L,
    hidden_size=16,
    n_layers=1,
    patch_len=8,
    stride=4,
    max_steps=15,
    batch_size=32,
    random_state=0,
    model_kwargs={"memory": {"heads": 2, "chunk_size": 2}},
)


def make_frame(lengths: dict[str, int], freqs: dict[str, str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Long frame: daily-cycle series of different lengths, starts and levels."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (uid, n) in enumerate(lengths.items()):
        freq = (freqs or {}).get(uid, "h")
        ds = pd.date_range(pd.Timestamp("2022-01-01") + pd.Timedelta(hours=7 * k), periods=n, freq=freq)
        t = np.arange(n)
        y = 10.0 * k + (k + 1) * np.sin(2 * np.pi * t / 12) + 0.1 * rng.normal(size=n)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def split_last(frame: pd.DataFrame, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(all but the last ``rows`` rows of each series, those last rows)."""
    newest = frame.groupby("unique_id").cumcount(ascending=False) < rows
    return frame[~newest], frame[newest]


LENGTHS = {"a": 120, "b": 90, "c": 75}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame(LENGTHS)


@pytest.fixture(scope="module")
def fitted(frame) -> TitansForecaster:
    return TitansForecaster(**TINY, level=[80]).fit(frame)


def fingerprint(est: TitansForecaster) -> str:
    """Hash of everything a fitted forecaster holds: parameters, weights and fitted attributes."""
    digest = hashlib.sha256(json.dumps(est.get_params(), sort_keys=True, default=str).encode())
    for name, tensor in est.model_.state_dict().items():
        digest.update(name.encode() + tensor.cpu().numpy().tobytes())
    digest.update(json.dumps(est.series_.to_json(), sort_keys=True).encode())
    digest.update(json.dumps([est.columns_, est.fit_summary_, est.model_.training], default=str).encode())
    return digest.hexdigest()


# --- the contract ----------------------------------------------------------------------------------------


def test_init_only_stores_and_clone_and_params_work():
    est = TitansForecaster(h=0, variant="nope", trainer_kwargs={"devices": 1})  # no validation in __init__
    assert est.get_params()["h"] == 0 and est.get_params()["trainer_kwargs"] == {"devices": 1}
    copy_ = clone(est)
    assert copy_.get_params() == est.get_params() and copy_ is not est
    assert est.set_params(h=12, level=[90]) is est and est.h == 12 and est.level == [90]


def test_unfitted_forecaster_raises_not_fitted(frame):
    est = TitansForecaster()
    for call in (est.predict, lambda: est.update(frame), lambda: est.save("x")):
        with pytest.raises(NotFittedError):
            call()


def test_fit_returns_self_and_forecasts_continue_each_series(frame, fitted):
    forecast = fitted.predict()
    cols = ["unique_id", "ds", "TitansForecaster", "TitansForecaster-median"]
    assert list(forecast.columns) == cols + ["TitansForecaster-lo-80", "TitansForecaster-hi-80"]
    assert forecast.groupby("unique_id", sort=False).size().to_dict() == dict.fromkeys(LENGTHS, H)
    for uid, part in forecast.groupby("unique_id"):
        last = frame.loc[frame.unique_id == uid, "ds"].max()
        assert list(part.ds) == list(pd.date_range(last, periods=H + 1, freq="h")[1:])
    assert np.isfinite(forecast.iloc[:, 2:].to_numpy()).all()
    lo, mid, hi = (forecast[f"TitansForecaster{s}"] for s in ("-lo-80", "", "-hi-80"))
    assert (lo <= mid).all() and (mid <= hi).all()
    assert fitted.predict(h=2).groupby("unique_id").size().eq(2).all()


def test_predict_never_changes_the_estimator(frame, fitted):
    before = fingerprint(fitted)
    fitted.predict()
    fitted.predict(frame, h=3)
    fitted.predict(make_frame({"new": 40}, seed=5))
    fitted.cross_validation(frame, n_windows=2, step_size=3, train=False)
    fitted.plot()
    assert fingerprint(fitted) == before


def test_update_then_predict_equals_predict_with_the_longer_history(frame):
    extra = 5
    older, newest = split_last(frame, extra)
    est = TitansForecaster(**TINY).fit(older)
    longer = est.predict(frame)
    assert est.update(newest) is est
    pd.testing.assert_frame_equal(est.predict(), longer)
    assert est.predict().ds.min() > frame.ds.min()  # it continues after the new rows


def test_update_rejects_unknown_series_and_gaps_without_changing_anything(fitted):
    before = fingerprint(fitted)
    last_a = fitted.series_.last["a"]
    unknown = pd.DataFrame({"unique_id": ["zz"], "ds": [last_a + pd.Timedelta(hours=1)], "y": [1.0]})
    with pytest.raises(ValueError, match=r"unknown series id 'zz'"):
        fitted.update(unknown)
    gap = pd.DataFrame({"unique_id": ["a"], "ds": [last_a + pd.Timedelta(hours=2)], "y": [1.0]})
    with pytest.raises(ValueError, match=r"series 'a' must continue after .* row 0 is .*expected"):
        fitted.update(gap)
    assert fingerprint(fitted) == before


def test_long_and_wide_input_give_the_same_forecasts():
    wide = make_frame({"x": 80}).rename(columns={"ds": "date", "y": "x"}).drop(columns="unique_id")
    wide["OT"] = np.cos(np.arange(80) / 3.0)
    long = wide.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})
    from_wide = TitansForecaster(**TINY).fit(wide).predict()
    from_long = TitansForecaster(**TINY).fit(long.sample(frac=1.0, random_state=0)).predict()
    pd.testing.assert_frame_equal(
        from_wide.sort_values(["unique_id", "ds"], ignore_index=True),
        from_long.sort_values(["unique_id", "ds"], ignore_index=True),
    )


def test_custom_column_names_are_used_by_every_call():
    df = make_frame({"a": 60, "b": 60}).rename(columns={"unique_id": "sid", "ds": "when", "y": "load"})
    est = TitansForecaster(**TINY).fit(df, id_col="sid", time_col="when", target_col="load")
    assert len(est.predict(df)) == 2 * H
    last = est.series_.last["a"]
    est.update(pd.DataFrame({"sid": ["a"], "when": [last + pd.Timedelta(hours=1)], "load": [0.5]}))
    assert est.series_.tails["a"][-1] == 0.5


def test_save_and_load_give_identical_forecasts_without_unpickling(tmp_path, fitted, frame, monkeypatch):
    fitted.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]

    def no_unpickling(*args, **kwargs):
        raise AssertionError("loading must not unpickle")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    loaded = TitansForecaster.load(tmp_path / "model")
    monkeypatch.undo()
    assert loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())
    pd.testing.assert_frame_equal(loaded.predict(frame, h=2), fitted.predict(frame, h=2))
    assert pickle.loads(pickle.dumps(fitted)).predict().equals(fitted.predict())


def test_a_forecaster_saved_before_the_per_token_read_is_refused(tmp_path, fitted):
    path = tmp_path / "model"
    fitted.save(path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    with pytest.raises(ValueError, match="holds a format-1 forecaster; this titans_seq reads format 2"):
        TitansForecaster.load(path)


def test_cross_validation_is_causal_and_matches_the_data(frame, fitted):
    cv = fitted.cross_validation(frame, n_windows=2, step_size=H, train=False)
    assert len(cv) == 2 * H * len(LENGTHS)
    merged = cv.merge(frame, on=["unique_id", "ds"], suffixes=("", "_true"))
    np.testing.assert_array_equal(merged.y, merged.y_true)
    first_cutoff = cv.groupby("unique_id").cutoff.min()

    # changing the future (everything after each series' first cutoff) leaves the first forecasts alone
    future = frame.ds > frame.unique_id.map(first_cutoff)
    changed = frame.copy()
    changed.loc[future, "y"] += 100.0
    again = fitted.cross_validation(changed, n_windows=2, step_size=H, train=False)
    first = cv.cutoff == cv.unique_id.map(first_cutoff)
    pd.testing.assert_series_equal(again.loc[first, "TitansForecaster"], cv.loc[first, "TitansForecaster"])
    assert not np.allclose(again.loc[~first, "TitansForecaster"], cv.loc[~first, "TitansForecaster"])


def test_new_series_with_other_frequencies_are_forecast_from_their_own_history(fitted):
    other = make_frame({"q": 50, "d": 30}, freqs={"q": "15min", "d": "D"}, seed=3)
    forecast = fitted.predict(other)
    q = forecast[forecast.unique_id == "q"].ds
    assert (q.diff().dropna() == pd.Timedelta("15min")).all()
    assert forecast[forecast.unique_id == "d"].ds.iloc[0] == other[
        other.unique_id == "d"
    ].ds.max() + pd.Timedelta(days=1)


def test_scaler_is_fit_on_training_rows_only(frame):
    est = TitansForecaster(**TINY).fit(frame, val_size=12)
    for uid, part in frame.groupby("unique_id"):
        train = part.y.to_numpy()[:-12]
        assert est.series_.mean[uid] == pytest.approx(train.mean())
        assert est.series_.std[uid] == pytest.approx(train.std())
    assert est.n_windows_["val"] == len(LENGTHS) * (12 - H + 1)

    older, newest = split_last(frame, 10)
    with_val = TitansForecaster(**TINY).fit(older, val_df=newest)
    assert with_val.series_.mean["a"] == pytest.approx(older[older.unique_id == "a"].y.mean())
    assert with_val.series_.last["a"] == frame[frame.unique_id == "a"].ds.max()  # forecasts follow val_df


def test_fit_is_quiet_and_leaves_no_files(tmp_path, monkeypatch, capfd, frame):
    monkeypatch.chdir(tmp_path)
    TitansForecaster(**TINY).fit(frame)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert list(tmp_path.iterdir()) == []


def test_tiny_end_to_end_fit_beats_the_mean_on_a_clean_cycle():
    t = np.arange(400)
    df = pd.DataFrame({"ds": pd.date_range("2020", periods=400, freq="h"), "s": np.sin(2 * np.pi * t / 12)})
    df["c"] = np.cos(2 * np.pi * t / 12)
    est = TitansForecaster(**(TINY | {"max_steps": 60, "learning_rate": 3e-3})).fit(
        df.iloc[:-H], time_col="ds"
    )
    forecast = est.predict()
    truth = df.iloc[-H:].melt(id_vars="ds", var_name="unique_id", value_name="y")
    merged = forecast.merge(truth, on=["unique_id", "ds"])
    mse = np.mean((merged.TitansForecaster - merged.y) ** 2)
    assert len(merged) == 2 * H and mse < 0.5 * np.mean(merged.y**2)  # the mean (0) forecast scores ~0.5


def test_cross_validation_with_training_fits_before_the_first_window(frame):
    est = TitansForecaster(**TINY)
    cv = est.cross_validation(frame, n_windows=2, step_size=2)
    assert hasattr(est, "model_") and len(cv) == 2 * H * len(LENGTHS)
    first_cutoff = cv.groupby("unique_id").cutoff.min()
    assert all(est.series_.last[u] <= first_cutoff[u] for u in LENGTHS)  # trained on the past only


def test_trainer_kwargs_are_passed_through_and_callbacks_join_ours(frame):
    from lightning.pytorch.callbacks import Callback

    class CountBatches(Callback):
        seen = 0

        def on_train_batch_end(self, *args):
            self.seen += 1

    counter = CountBatches()
    settings = {"max_steps": 3, "val_check_interval": 1, "callbacks": [counter]}
    params = TINY | {"max_steps": 50, "trainer_kwargs": settings}
    est = TitansForecaster(**params).fit(frame)
    assert est.fit_summary_["steps"] == 3 and counter.seen == 3
    assert est.fit_summary_["restored_best"]  # the checkpoint callback was kept


# --- bad input: a ValueError naming the culprit, before training starts -----------------------------------


def _bad_inputs(frame: pd.DataFrame) -> list:
    dup = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    nan = frame.copy()
    nan.loc[7, "y"] = np.nan
    inf = frame.copy()
    inf.loc[200, "y"] = -np.inf
    bad_date = frame.astype({"ds": str})
    bad_date.loc[3, "ds"] = "yesterday"
    irregular = frame.drop(index=10)
    short = make_frame({"a": 100, "tiny": L + H - 1})
    return [
        pytest.param(frame.drop(columns="y"), {}, r"missing column\(s\) \['y'\]", id="missing-column"),
        pytest.param(
            frame.rename(columns={"ds": "time"}), {}, r"missing column\(s\) \['ds'\]", id="misnamed"
        ),
        pytest.param(bad_date, {}, r"unparseable date 'yesterday' at row 3", id="bad-date"),
        pytest.param(dup, {}, r"share a \(unique_id, ds\) pair, e.g. series 'a'", id="duplicates"),
        pytest.param(nan, {}, r"NaN/inf value\(s\), e.g. nan in series 'a'", id="nan"),
        pytest.param(inf, {}, r"-inf in series 'b'", id="inf"),
        pytest.param(irregular, {}, r"series 'a' has irregular timestamps", id="irregular"),
        pytest.param(
            short, {}, rf"series 'tiny' has {L + H - 1} rows but needs at least {L + H}", id="short"
        ),
        pytest.param(frame, {"h": 0}, r"^h must be >= 1, got 0", id="h-zero"),
        pytest.param(frame, {"input_size": 0}, r"^input_size must be >= 1, got 0", id="input-size-zero"),
        pytest.param(
            frame, {"level": [120]}, r"level values must be numbers in \(0, 100\), got 120", id="level"
        ),
        pytest.param(
            frame, {"model_kwargs": {"dropuot": 0.1}}, r"unknown model_kwargs \['dropuot'\]", id="kwargs"
        ),
        pytest.param(
            frame,
            {"model_kwargs": {"memory": {"chunk_size": 6}}},
            r"chunk_size=6 must be smaller than the 6 patches",
            id="chunk-too-long",
        ),
        pytest.param(frame, {"variant": "titan"}, r"variant must be one of .*'titan'", id="variant"),
    ]


@pytest.mark.parametrize(("df", "params", "match"), _bad_inputs(make_frame(LENGTHS)))
def test_bad_input_raises_before_training(df, params, match, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("titans_seq.training.forecasting.fit_restoring_best", no_training)
    with pytest.raises(ValueError, match=match):
        TitansForecaster(**(TINY | params)).fit(df)


def test_bad_predict_arguments(fitted, frame):
    with pytest.raises(ValueError, match=rf"h must be an integer in \[1, {H}\].*got {H + 1}"):
        fitted.predict(h=H + 1)
    with pytest.raises(ValueError, match=r"series 'x' has 5 rows but needs at least 24"):
        fitted.predict(make_frame({"x": 5}))
    with pytest.raises(ValueError, match=r"val_size=3 is shorter than h=6"):
        clone(fitted).fit(frame, val_size=3)
    with pytest.raises(ValueError, match=r"n_windows must be an integer >= 1, got 0"):
        fitted.cross_validation(frame, n_windows=0, train=False)


def test_deepcopy_is_independent(fitted):
    other = copy.deepcopy(fitted)
    other.update(
        pd.DataFrame(
            {"unique_id": ["a"], "ds": [fitted.series_.last["a"] + pd.Timedelta(hours=1)], "y": [0.0]}
        )
    )
    assert other.series_.last["a"] > fitted.series_.last["a"]


@pytest.mark.parametrize("scale", [1e155, 1e300, 1e-12, 1e-200])
def test_forecasts_follow_the_series_at_any_finite_scale(fitted, frame, scale):
    """New series scaled by ``scale`` get the unit series' forecasts times ``scale``: no inf, no off-scale."""
    renamed = frame.assign(unique_id="new_" + frame.unique_id)
    unit = fitted.predict(df=renamed)
    scaled = fitted.predict(df=renamed.assign(y=renamed.y * scale))
    cols = [c for c in unit.columns if c.startswith("TitansForecaster")]
    values, expected = scaled[cols].to_numpy(), unit[cols].to_numpy() * scale
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("random_state", "seven", "random_state must be None or an integer"),
        ("random_state", -1, "random_state"),
        ("verbose", "yes", "verbose must be True or False"),
    ],
)
def test_arguments_are_checked_before_any_work(frame, name, value, message, monkeypatch):
    import titans_seq.estimators.forecaster as module

    def no_work(*args, **kwargs):
        raise AssertionError("the data was read before the arguments were checked")

    monkeypatch.setattr(module, "prepare_long_frame", no_work)
    with pytest.raises(ValueError, match=message):
        TitansForecaster(**(TINY | {name: value})).fit(frame)


def test_a_step_cap_in_trainer_kwargs_still_validates_and_keeps_the_best(frame):
    est = TitansForecaster(**(TINY | {"max_steps": 1000, "trainer_kwargs": {"max_steps": 7}})).fit(frame)
    assert est.fit_summary_["steps"] == 7
    assert est.fit_summary_["restored_best"] and np.isfinite(est.fit_summary_["best_val_loss"])


def test_ctrl_c_during_fit_raises_keyboard_interrupt_and_leaves_the_estimator_unfitted(frame):
    import signal

    from lightning.pytorch.callbacks import Callback

    class Interrupt(Callback):
        def on_train_batch_end(self, *args, **kwargs):
            raise KeyboardInterrupt

    handler = signal.getsignal(signal.SIGINT)
    est = TitansForecaster(**(TINY | {"trainer_kwargs": {"callbacks": [Interrupt()]}}))
    with pytest.raises(KeyboardInterrupt):
        est.fit(frame)
    assert not hasattr(est, "model_")
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C still works afterwards
