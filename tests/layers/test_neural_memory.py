"""NeuralMemory as a layer: streaming, kernels, learning at test time, stability and bad input."""

from __future__ import annotations

import math

import pytest
import torch

import titans_seq
from titans_seq import NeuralMemory


def _layer(**kw) -> NeuralMemory:
    torch.manual_seed(0)
    return NeuralMemory(**{"dim": 16, "heads": 2, "chunk_size": 4, **kw}).double()


def test_public_surface():
    assert sorted(titans_seq.__all__) == [
        "MemoryState",
        "NeuralMemory",
        "TitansForecaster",
        "TitansSequenceClassifier",
    ]


@pytest.mark.parametrize("cuts", [[1], [5, 6], [3, 9, 22], [4, 8, 12]], ids=str)
@pytest.mark.parametrize("conv_kernel", [4, 0])
def test_split_stream_equals_whole(cuts, conv_kernel):
    mem = _layer(conv_kernel=conv_kernel)
    x = torch.randn(3, 27, 16, dtype=torch.float64)
    whole, s_whole = mem(x)
    parts, state, start = [], None, 0
    for stop in [*cuts, x.shape[1]]:
        y, state = mem(x[:, start:stop], state=state)
        parts.append(y)
        start = stop
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-10, atol=1e-12)
    for a, b in zip(state.weights, s_whole.weights, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2])
def test_chunk_kernel_equals_naive_through_the_layer(depth):
    mem = _layer(depth=depth, max_grad_norm=1.0)
    x = torch.randn(2, 19, 16, dtype=torch.float64, requires_grad=True)
    results = []
    for kernel in ("naive", "chunk"):
        mem.kernel = kernel
        y, _ = mem(x)
        loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum()
        results.append((y, torch.autograd.grad(loss, [x, *mem.parameters()])))
    (y_n, g_n), (y_c, g_c) = results
    torch.testing.assert_close(y_c, y_n, rtol=1e-9, atol=1e-11)
    for a, b in zip(g_c, g_n, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_gradients_reach_every_parameter():
    mem = _layer()
    y, _ = mem(torch.randn(2, 13, 16, dtype=torch.float64))
    y.pow(2).sum().backward()
    for name, p in mem.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_causal_through_projections_and_conv():
    mem = _layer()
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    y, _ = mem(x)
    x2 = x.clone()
    x2[:, 17:] += torch.randn_like(x2[:, 17:])
    y2, _ = mem(x2)
    torch.testing.assert_close(y2[:, :17], y[:, :17], rtol=0, atol=0)
    assert (y2[:, 17:] - y[:, 17:]).abs().max() > 1e-6


def test_memory_learns_at_test_time():
    """Writing tokens lowers their surprise with no outer training (pair-specific recall: tests/memory)."""
    torch.manual_seed(1)
    mem = NeuralMemory(dim=32, heads=4, chunk_size=8)
    x = torch.randn(4, 64, 32)
    before = mem.inner_loss(x).mean()
    state = None
    with torch.no_grad():
        for _ in range(5):  # five passes over the same pairs
            _, state = mem(x, state=state)
    after = mem.inner_loss(x, state).mean()
    assert after < 0.5 * before


def test_long_stream_stays_finite_with_default_gates():
    torch.manual_seed(2)
    mem = NeuralMemory(dim=32, heads=2, chunk_size=64)
    with torch.no_grad():
        y, state = mem(torch.randn(1, 8192, 32))
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(w).all() for w in state.weights)


def test_clamp_keeps_an_aggressive_memory_bounded():
    """Gates pushed to their largest step and strongest momentum diverge on a long stream; the per-token
    surprise clamp with a forget gate keeps the weights bounded (|W| <= |W_0| + C * tau * theta_max /
    (alpha (1 - eta)) in the worst case)."""
    torch.manual_seed(3)
    x = torch.randn(1, 4096, 32)
    finals = {}
    for clamp in (None, 1.0):
        mem = NeuralMemory(dim=32, heads=2, chunk_size=64, max_grad_norm=clamp)
        with torch.no_grad():
            mem.to_gates.bias[:2].fill_(8.0)  # theta -> max_lr
            mem.to_gates.bias[2:4].fill_(3.0)  # eta ~ 0.95
            mem.to_gates.bias[4:].fill_(-4.0)  # alpha ~ 0.018
            _, state = mem(x)
        finals[clamp] = max(w.abs().max().item() for w in state.weights)
    assert not math.isfinite(finals[None]) or finals[None] > 1e6
    assert finals[1.0] < 100.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dim": 16, "heads": 3}, "heads=3 does not divide dim=16"),
        ({"dim": 16, "chunk_size": 0}, "chunk_size must be an integer >= 1, got 0"),
        ({"dim": 16, "depth": 0}, "depth must be an integer >= 1"),
        ({"dim": 16, "kernel": "fast"}, "kernel must be one of"),
        ({"dim": 16, "max_grad_norm": -1.0}, "max_grad_norm must be > 0"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NeuralMemory(**kwargs)


def test_bad_input_and_mismatched_state():
    mem = _layer()
    with pytest.raises(ValueError, match=r"x must be a \[B, T, dim\] tensor, got \(4, 16\)"):
        mem(torch.randn(4, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="x has width 8, this NeuralMemory expects dim=16"):
        mem(torch.randn(2, 5, 8, dtype=torch.float64))
    _, state = mem(torch.randn(2, 5, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="state has batch size 2, input has 3"):
        mem(torch.randn(3, 5, 16, dtype=torch.float64), state=state)
    other = _layer(depth=1)
    with pytest.raises(ValueError, match="different memory configuration"):
        other(torch.randn(2, 5, 16, dtype=torch.float64), state=state)
    with pytest.raises(TypeError, match="state must be a MemoryState"):
        mem(torch.randn(2, 5, 16, dtype=torch.float64), state={"weights": 1})


def test_retrieve_reads_without_writing():
    """``retrieve`` on a chunk-aligned state equals the forward output of the next chunk under the
    chunk-start read (both read the committed weights), and leaves the state untouched."""
    mem = _layer(chunk_size=4, read="chunk_start")
    x = torch.randn(2, 12, 16, dtype=torch.float64)
    _, state = mem(x[:, :8])
    read = mem.retrieve(x[:, 8:], state)
    y, _ = mem(x[:, 8:], state=state)
    torch.testing.assert_close(read, y, rtol=1e-12, atol=1e-12)
    assert state.position == 8 and state.pending is None


@pytest.mark.slow
def test_compiled_kernel_equals_eager():
    """The torch.compile path computes the same outputs and gradients (float32; compile takes ~30 s)."""
    torch.manual_seed(0)
    mem = NeuralMemory(dim=32, heads=2, chunk_size=8)
    x = torch.randn(2, 40, 32, requires_grad=True)
    results = []
    for kernel in ("chunk", "compiled"):
        mem.kernel = kernel
        y, state = mem(x)
        grads = torch.autograd.grad(y.square().sum() + state.weights[0].sum(), [x, *mem.parameters()])
        results.append((y, state.weights[0], grads))
    (y0, w0, g0), (y1, w1, g1) = results
    torch.testing.assert_close(y1, y0, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w1, w0, rtol=1e-4, atol=1e-5)
    for a, b in zip(g1, g0, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("length", [1, 2, 5, 40])
@pytest.mark.parametrize("taps", [2, 4])
def test_shifted_conv_equals_conv1d(length, taps):
    from titans_seq.layers.neural_memory import _depthwise_causal_conv

    gen = torch.Generator().manual_seed(length * taps)
    x, past = torch.randn(2, length, 6, generator=gen), torch.randn(2, taps - 1, 6, generator=gen)
    w, b = torch.randn(6, 1, taps, generator=gen), torch.randn(6, generator=gen)
    ref = torch.nn.functional.conv1d(torch.cat([past, x], 1).transpose(1, 2), w, b, groups=6).transpose(1, 2)
    torch.testing.assert_close(_depthwise_causal_conv(x, past, w, b), ref)
