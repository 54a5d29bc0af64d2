"""TitansForecaster(context="history"): the memory carries each series' whole history.

The exactness contract (update in pieces == predict(df=whole history), saved and loaded in between), the cost
of an update (the new rows only), refusals that leave the state untouched, backtests that read the history,
and forecasts that depend on rows older than the window.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from tests.estimators.test_forecaster import make_frame, split_last
from titans_seq import TitansForecaster
from titans_seq.adapters.forecasting import build_config
from titans_seq.adapters.history import HistoryTitansForecaster, build_history_config
from titans_seq.estimators import _history
from titans_seq.models import state_tree
from titans_seq.training.history import HistoryModule, HistorySeries

H, L = 6, 24
HISTORY = dict(
    h=H,
    input_size=L,
    context="history",
    hidden_size=16,
    n_layers=1,
    patch_len=8,
    stride=4,
    max_steps=8,
    batch_size=16,
    random_state=0,
    model_kwargs={
        "memory": {"heads": 2, "chunk_size": 2},
        "history": {"crop_tokens": 8, "token_len": 4, "memory": {"heads": 2, "chunk_size": 4}},
    },
)
DOUBLE = {"precision": "64-true"}
LENGTHS = {"a": 160, "b": 130, "c": 115}


def _fit(frame: pd.DataFrame, **kwargs) -> TitansForecaster:
    return TitansForecaster(**(HISTORY | kwargs)).fit(frame)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame(LENGTHS, seed=3)


@pytest.fixture(scope="module")
def double(frame) -> tuple[TitansForecaster, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A float64 history forecaster fitted on all but the last 23 rows; those rows in two updates."""
    head, new = split_last(frame, 23)
    a, b = split_last(new, 9)  # 14 rows then 9: both cut inside history tokens of 4 rows
    return _fit(head, trainer_kwargs=DOUBLE), head, a, b


def _values(forecast: pd.DataFrame) -> np.ndarray:
    return forecast["TitansForecaster"].to_numpy()


def test_updates_equal_one_pass_over_the_whole_history_float64(double, frame, tmp_path):
    est, _, a, b = double
    assert next(est.model_.parameters()).dtype == torch.float64
    whole = est.predict(df=frame)
    est.update(a)
    est.save(tmp_path / "m")
    loaded = TitansForecaster.load(tmp_path / "m")
    for model in (est, loaded):
        model.update(b)
        np.testing.assert_allclose(_values(model.predict()), _values(whole), rtol=0, atol=1e-10)
    pd.testing.assert_frame_equal(est.predict(), loaded.predict())


def test_updates_equal_one_pass_float32_with_three_context_tokens(frame):
    head, new = split_last(frame, 23)
    kwargs = HISTORY["model_kwargs"]
    est = _fit(head, model_kwargs=kwargs | {"history": kwargs["history"] | {"context_tokens": 3}})
    assert est.model_.context_tokens == 3
    whole = est.predict(df=frame)
    position = new.groupby("unique_id").cumcount().to_numpy()
    for lo, hi in ((0, 1), (1, 7), (7, 23)):  # pieces of 1, 6 and 16 rows per series
        est.update(new[(position >= lo) & (position < hi)])
    np.testing.assert_allclose(_values(est.predict()), _values(whole), rtol=1e-4, atol=1e-4)


def test_forecast_depends_on_rows_older_than_the_window(frame):
    est = _fit(frame)
    changed = frame.copy()
    first = changed.groupby("unique_id").head(20).index  # rows far older than the 24-row window
    changed.loc[first, "y"] += 5.0
    moved = np.abs(_values(est.predict(df=changed)) - _values(est.predict(df=frame)))
    assert moved.max() > 1e-4
    window = TitansForecaster(**(HISTORY | {"context": "window", "model_kwargs": None})).fit(frame)
    np.testing.assert_array_equal(_values(window.predict(df=changed)), _values(window.predict(df=frame)))


def test_update_costs_the_new_rows_only(frame):
    """An update of 40 rows runs the history backbone over the same tokens after 1k or 100k rows."""
    short = _fit(frame)
    long = _fit(frame)
    rng = np.random.default_rng(0)

    def extend(est: TitansForecaster, rows: int) -> None:
        parts = []
        for uid in LENGTHS:
            ds = pd.date_range(est.series_.last[uid], periods=rows + 1, freq="h")[1:]
            parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": rng.normal(size=rows)}))
        est.update(pd.concat(parts, ignore_index=True))

    extend(short, 1_000)
    extend(long, 100_000)
    counts = []
    for est in (short, long):
        seen = []
        handle = est.model_.backbone.register_forward_pre_hook(
            lambda m, args, seen=seen: seen.append(args[0].shape[:2])
        )
        extend(est, 40)
        handle.remove()
        counts.append(sum(b * t for b, t in seen))
    assert counts[0] == counts[1] <= len(LENGTHS) * (40 // 4 + 1)


@pytest.mark.parametrize(
    "bad",
    [
        "overlap",
        "gap",
        "unknown",
        "nan",
    ],
)
def test_bad_update_changes_nothing(double, bad):
    est = double[0]
    before = _history.to_tensors(est.history_, est.series_.ids)
    series_before = est.series_.to_json()
    uid = "a"
    last = est.series_.last[uid]
    start = {"overlap": last, "gap": last + pd.Timedelta(hours=2)}.get(bad, last + pd.Timedelta(hours=1))
    rows = pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=5, freq="h"), "y": 1.0})
    good_b = pd.DataFrame(
        {"unique_id": "b", "ds": pd.date_range(est.series_.last["b"], periods=6, freq="h")[1:], "y": 1.0}
    )
    if bad == "unknown":
        rows["unique_id"] = "zzz"
    if bad == "nan":
        rows.loc[2, "y"] = np.nan
    with pytest.raises(ValueError):
        est.update(pd.concat([good_b, rows], ignore_index=True))  # b's rows are fine: still nothing changes
    after = _history.to_tensors(est.history_, est.series_.ids)
    assert after[0] == before[0]
    for k, v in before[1].items():
        torch.testing.assert_close(after[1][k], v, rtol=0, atol=0)
    assert est.series_.to_json() == series_before


def test_backtest_windows_read_every_row_before_their_cutoff(double, frame):
    est = double[0]
    cv = est.cross_validation(frame, n_windows=3, step_size=5, train=False)
    for (uid, cutoff), window in cv.groupby(["unique_id", "cutoff"]):
        history = frame[(frame.unique_id == uid) & (frame.ds <= cutoff)]
        expected = est.predict(df=history)
        np.testing.assert_allclose(window["TitansForecaster"].to_numpy(), _values(expected), atol=1e-10)


def test_predict_leaves_the_state_alone_and_reads_new_series(double, frame):
    est = double[0]
    before = _history.to_tensors(est.history_, est.series_.ids)[1]
    other = make_frame({"new": 100}, seed=9)
    out = est.predict(df=other)
    assert list(out.unique_id.unique()) == ["new"] and np.isfinite(_values(out)).all()
    est.predict()
    for k, v in _history.to_tensors(est.history_, est.series_.ids)[1].items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_bad_history_settings_are_refused(frame):
    with pytest.raises(ValueError, match="context must be one of"):
        TitansForecaster(**(HISTORY | {"context": "all"})).fit(frame)
    with pytest.raises(ValueError, match="only with context='history'"):
        TitansForecaster(**(HISTORY | {"context": "window"})).fit(frame)
    with pytest.raises(ValueError, match="unknown history option"):
        TitansForecaster(**(HISTORY | {"model_kwargs": {"history": {"crop": 3}}})).fit(frame)


# --- the pieces -----------------------------------------------------------------------------------------


def _model(token_len: int = 4, inputs: str = "differences") -> HistoryTitansForecaster:
    torch.manual_seed(0)
    window = build_config(h=H, input_size=L, hidden_size=16, n_layers=1, patch_len=8, stride=4)
    memory = {"heads": 2, "chunk_size": 4}
    config = build_history_config(window, token_len=token_len, memory=memory, inputs=inputs)
    return HistoryTitansForecaster(config).double().eval()


@pytest.mark.parametrize("inputs", ["differences", "levels"])
def test_streaming_in_pieces_equals_one_pass(inputs):
    model = _model(inputs=inputs)
    rows = torch.randn(3, 203, dtype=torch.float64)
    one, state = model.advance(rows, model.init_state(3))
    pieces, split = [], model.init_state(3)
    for a, b in ((0, 1), (1, 7), (7, 8), (8, 120), (120, 203)):
        out, split = model.advance(rows[:, a:b], split)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), one, rtol=0, atol=1e-12)
    flat_one, flat_split = state_tree.to_flat(state, "s"), state_tree.to_flat(split, "s")
    assert flat_one[0] == flat_split[0]
    for k, v in flat_one[1].items():
        torch.testing.assert_close(flat_split[1][k], v, rtol=0, atol=1e-12)


def test_states_stack_unstack_and_round_trip():
    model = _model()
    rows = torch.randn(4, 37, dtype=torch.float64)
    _, batch = model.advance(rows, model.init_state(4))
    singles = [model.advance(rows[i : i + 1], model.init_state(1))[1] for i in range(4)]
    restacked = state_tree.stack(singles)
    for x, y in zip(
        state_tree.to_flat(restacked, "s")[1].values(),
        state_tree.to_flat(batch, "s")[1].values(),
        strict=True,
    ):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-12)
    skeleton, tensors = state_tree.to_flat(state_tree.unstack(batch, 4)[2], "s")
    again = state_tree.from_flat(skeleton, tensors)
    assert state_tree.signature(again) == state_tree.signature(singles[2])
    _, other = model.advance(rows[:1, :6], model.init_state(1))  # 2 rows buffered, not 1: another signature
    with pytest.raises(ValueError, match="signatures"):
        state_tree.stack([singles[0], other])


@pytest.mark.parametrize("k", [1, 3])
def test_contexts_at_cutoffs_equal_the_streamed_state(k):
    model = _model()
    window = replace(model.config.window, context_tokens=k)
    model = HistoryTitansForecaster(replace(model.config, window=window)).double().eval()
    rows = torch.randn(2, 90, dtype=torch.float64)
    outputs, _ = model.advance(rows, model.init_state(2))
    cutoffs = torch.tensor([0, 3, 4, 9, 30, 90])
    got = model.contexts_at(outputs, cutoffs)
    for m, c in enumerate(cutoffs.tolist()):
        _, state = model.advance(rows[:, :c], model.init_state(2))
        torch.testing.assert_close(got[:, m], state.context, rtol=0, atol=1e-12)
    assert got.shape == (2, len(cutoffs), k, 16)


def test_contexts_are_causal():
    """The context at a cutoff is the same whatever follows it."""
    model = _model()
    rows = torch.randn(2, 80, dtype=torch.float64)
    later = rows.clone()
    later[:, 50:] += 3.0
    cut = torch.tensor([24, 33, 48, 50])
    a = model.contexts_at(model.advance(rows, model.init_state(2))[0], cut)
    b = model.contexts_at(model.advance(later, model.init_state(2))[0], cut)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    a = model.forecast_at(rows, cut.numpy())
    b = model.forecast_at(later, cut.numpy())
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_training_crops_start_from_the_carried_state():
    model = _model()
    values = np.random.default_rng(1).normal(size=300)
    module = HistoryModule(model, [HistorySeries(values, 260)], crop_tokens=8, windows_per_crop=4)
    module.on_fit_start()
    rows = module.crop_rows
    assert rows == 32 and len(module.cache) == 260 // 32  # crops 1..8 (crop 0 starts fresh)
    for k in (1, 5, 8):
        _, expected = model.advance(torch.as_tensor(values[None, : k * rows]), model.init_state(1))
        got = module.cache[(0, k)]
        torch.testing.assert_close(got.context, expected.context, rtol=0, atol=1e-12)
        torch.testing.assert_close(
            got.backbone.layers[0].memory.weights[0],
            expected.backbone.layers[0].memory.weights[0],
            atol=1e-12,
            rtol=0,
        )
