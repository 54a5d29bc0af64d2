"""Forecasting adapter and its training system: RevIN, patches, causality, channel independence, heads, loss
and the TSL test metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_seq.adapters.forecasting import (
    PatchEmbedding,
    PatchForecasterConfig,
    PatchTitansForecaster,
    RevIN,
    build_config,
    n_patches,
)
from titans_seq.data import WindowDataset
from titans_seq.estimators._common import make_trainer
from titans_seq.models import VARIANTS
from titans_seq.training.forecasting import ForecastingModule, WindowDataModule, pinball_loss

L, H = 32, 8


def _config(**kw) -> PatchForecasterConfig:
    settings = dict(
        h=H,
        input_size=L,
        hidden_size=16,
        n_layers=2,
        patch_len=8,
        stride=4,
        memory={"heads": 2, "chunk_size": 2},
        attention={"heads": 2, "window": 4, "persistent_tokens": 2},
    )
    return build_config(**(settings | kw))


def _model(seed: int = 0, **kw) -> PatchTitansForecaster:
    torch.manual_seed(seed)
    return PatchTitansForecaster(_config(**kw)).double().eval()


def _x(b: int = 3, c: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, L, c, generator=g, dtype=torch.float64).cumsum(1)


# --- RevIN ------------------------------------------------------------------------------------------------


def test_revin_round_trip_and_statistics():
    revin = RevIN().double()
    x = _x()[..., 0] * 5 + 3
    z, stats = revin.normalize(x)
    torch.testing.assert_close(z.mean(-1), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        z.std(-1, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(revin.denormalize(z, stats), x)


@pytest.mark.parametrize(("scale", "shift"), [(3.0, -7.0), (0.25, 100.0)])
def test_forecaster_is_scale_and_shift_equivariant(scale, shift):
    """RevIN makes the whole forecaster equivariant: f(a x + b) = a f(x) + b for a > 0 (up to RevIN's eps)."""
    model, x = _model(), _x()
    with torch.no_grad():
        torch.testing.assert_close(model(scale * x + shift), scale * model(x) + shift, rtol=1e-4, atol=1e-4)


# --- patches, causality, channels --------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "patch", "stride"), [(96, 16, 8), (32, 8, 4), (30, 8, 4), (10, 10, 3)])
def test_patches_cover_the_window_and_end_on_the_newest_value(length, patch, stride):
    embed = PatchEmbedding(length, patch, stride, dim=4)
    x = torch.arange(length, dtype=torch.float64)[None]
    patches = embed.patches(x)
    assert patches.shape == (1, n_patches(length, patch, stride), patch) == (1, embed.n_patches, patch)
    assert patches[0, 0, 0] == 0 and (patches[0, :, 0].diff() == stride).all()
    assert patches[0, -1].max() == length - 1  # the newest value is read, never cut off
    assert (patches[0, -2] <= length - 1).all()  # only the last patch reaches into the padding


def test_encoder_is_causal_over_patches():
    """Changing values from time t on never changes the outputs of patches that end before t."""
    model = _model()
    series = _x(b=2, c=1)[..., 0]
    t = 20  # patches (stride 4, length 8) ending before 20: starts 0, 4, 8 -> tokens 0..2
    changed = series.clone()
    changed[:, t:] += torch.randn(2, L - t, dtype=torch.float64)
    with torch.no_grad():
        before, after = model.encode(series), model.encode(changed)
    ends = torch.arange(model.embed.n_patches) * 4 + 8
    unchanged = ends <= t
    torch.testing.assert_close(before[:, unchanged], after[:, unchanged], rtol=0, atol=0)
    assert not torch.allclose(before[:, ~unchanged], after[:, ~unchanged])


def test_channels_are_independent_series():
    model, x = _model(), _x(c=3)
    with torch.no_grad():
        y = model(x)
        changed = x.clone()
        changed[..., 1] *= -2.0
        torch.testing.assert_close(model(changed)[..., [0, 2], :], y[..., [0, 2], :], rtol=0, atol=0)
        torch.testing.assert_close(model(x[..., [2, 0, 1]]), y[..., [2, 0, 1], :])


def test_memory_writes_inside_a_window():
    """With a chunk shorter than the patch sequence, the first patch influences the last token (the memory
    learned it); this is what the chunk-size check protects."""
    model = _model(variant="lmm")
    series = _x(b=1, c=1)[..., 0]
    changed = series.clone()
    changed[:, :4] += 1.0  # only the first patch
    with torch.no_grad():
        assert not torch.allclose(model.encode(series)[:, -1], model.encode(changed)[:, -1])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_forecasts(variant):
    model = _model(variant=variant)
    with torch.no_grad():
        y = model(_x())
    assert y.shape == (3, H, 2, 1) and torch.isfinite(y).all()


def test_quantile_head_outputs_sorted_quantiles():
    model = _model(quantiles=(0.1, 0.5, 0.9))
    model.train()  # untrained quantiles would cross; the head sorts them
    y = model(_x())
    assert y.shape == (3, H, 2, 3)
    assert (y.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"memory": {"heads": 2, "chunk_size": 8}}, r"chunk_size=8 must be smaller than the 8 patches"),
        ({"patch_len": 40}, r"patch_len=40 is longer than input_size=32"),
        ({"memory": {"chunksize": 2}}, r"unknown memory option\(s\) \['chunksize'\]"),
        ({"quantiles": (0.9, 0.1)}, r"quantiles must be distinct, increasing"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_configurations_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _config(**kwargs)


def test_config_round_trips_through_a_dict():
    config = _config(quantiles=(0.1, 0.5, 0.9), variant="mag")
    assert PatchForecasterConfig.from_dict(config.to_dict()) == config


# --- training system -----------------------------------------------------------------------------------


def test_pinball_loss_matches_its_definition():
    pred = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    q = torch.tensor([0.1, 0.5, 0.9])
    # under-forecasts cost q * error, over-forecasts (1 - q) * error
    expected = (0.1 * 1.5 + 0.5 * 0.5 + (1 - 0.9) * 0.5) / 3
    assert pinball_loss(pred, target, q).item() == pytest.approx(expected)


def test_test_metrics_average_every_window_including_the_last_partial_batch():
    torch.manual_seed(0)
    module = ForecastingModule(h=H, input_size=L, hidden_size=16, patch_len=8, stride=4, memory={"heads": 2})
    series = np.cumsum(np.random.default_rng(0).normal(size=(L + H + 9, 2)), axis=0)
    test = WindowDataset(series, L, H)  # 10 windows, evaluated in batches of 4, 4 and 2
    data = WindowDataModule(None, test=test, eval_batch_size=4)
    trainer = make_trainer(max_epochs=1, verbose=False, trainer_kwargs={"accelerator": "cpu"})
    (metrics,) = trainer.test(module, datamodule=data, verbose=False)

    x = torch.stack([test[i]["x"] for i in range(len(test))])
    y = torch.stack([test[i]["y"] for i in range(len(test))])
    module.eval()  # Lightning puts the module back in training mode after testing
    with torch.no_grad():
        err = module.point(module(x)) - y
    assert metrics["test_mse"] == pytest.approx(err.pow(2).mean().item(), rel=1e-5)
    assert metrics["test_mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)


def test_from_model_keeps_the_weights_and_hyperparameters():
    model = _model().float()
    module = ForecastingModule.from_model(model, learning_rate=3e-4, loss="mae")
    assert module.model is model
    assert module.hparams.learning_rate == 3e-4 and module.hparams.hidden_size == 16
    rebuilt = ForecastingModule(**{k: v for k, v in module.hparams.items()})
    assert rebuilt.model.config == model.config


def test_benchmark_val_every_keeps_every_kth_validation_window_and_the_whole_test_split() -> None:
    from titans_seq.training.forecasting import BenchmarkDataModule

    full = BenchmarkDataModule("ETTh1", h=24, input_size=96)
    strided = BenchmarkDataModule("ETTh1", h=24, input_size=96, val_every=8)
    full.setup("fit"), strided.setup("fit")
    n = len(full.val)
    assert n == 2880 - 24 + 1  # the TSL validation rows, starting 96 early, every window
    assert len(strided.val) == -(-n // 8)
    for i in (0, 1, len(strided.val) - 1):
        for key in ("x", "y"):
            assert torch.equal(strided.val[i][key], full.val[8 * i][key])
    assert len(strided.test) == len(full.test) and len(strided.train) == len(full.train)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="val_every must be an integer >= 1"):
            BenchmarkDataModule("ETTh1", val_every=bad)
