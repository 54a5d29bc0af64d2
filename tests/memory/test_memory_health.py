"""A memory that keeps writing and stays finite: the two failure modes of a deep memory on long streams.

- Dead memory: without the skip path, all-zero weights are a fixed point of a deep memory (every layer's
  gradient is proportional to the other layers' weights), and a strong forget gate drives the weights there.
- Divergence: a chunk sums C gradients taken at one point, and a deep memory's curvature grows with its
  weights; at the largest allowed step size the memory blew up to NaN even at chunk 1 before the surprise
  clamp was on by default.
"""

from __future__ import annotations

import math

import pytest
import torch

from titans_seq import NeuralMemory
from titans_seq.memory import MemoryGates, initial_state, memory_chunked, memory_shapes, retrieve

HEADS, DIM = 2, 16


def _unit(gen, *shape):
    return torch.nn.functional.normalize(torch.randn(*shape, generator=gen), dim=-1)


def _gates(length, lr, eta, alpha):
    full = lambda value: torch.full((1, length, HEADS), value)  # noqa: E731
    return MemoryGates(full(lr), full(math.log(eta)), full(math.log1p(-alpha)))


def _loss(state, keys, values):
    weights = tuple(w[0] for w in state.weights)
    flat = lambda t: t[0].transpose(0, 1)  # noqa: E731  [1, T, H, d] -> [H, T, d]
    return (retrieve(weights, flat(keys)) - flat(values)).pow(2).sum(-1).mean()


def test_a_deep_memory_learns_from_all_zero_weights():
    gen = torch.Generator().manual_seed(0)
    keys, values = _unit(gen, 1, 16, HEADS, DIM), _unit(gen, 1, 16, HEADS, DIM)
    zeros = tuple(torch.zeros(HEADS, i, o) for i, o in memory_shapes(DIM, 2, 4.0))
    state = initial_state(zeros, 1)
    start = _loss(state, keys, values)
    for _ in range(10):
        _, state = memory_chunked(keys, keys, values, _gates(16, 0.05, 0.5, 0.001), state, 8)
    assert all(w.abs().amax() > 1e-3 for w in state.weights)  # every layer moved off zero
    assert _loss(state, keys, values) < 0.5 * start


def test_a_strong_forget_gate_does_not_kill_a_deep_memory():
    """alpha = 0.05 on an 8192-token stream: the weights keep moving and the memory still holds the
    pairs it has just seen better than the fully forgotten map (W = 0) does."""
    gen = torch.Generator().manual_seed(1)
    length = 8192
    q, k, v = (
        _unit(gen, 1, length, HEADS, DIM),
        _unit(gen, 1, length, HEADS, DIM),
        torch.randn(1, length, HEADS, DIM, generator=gen),
    )
    weights = tuple(torch.randn(HEADS, i, o, generator=gen) / i**0.5 for i, o in memory_shapes(DIM, 2, 4.0))
    with torch.no_grad():
        y, state = memory_chunked(q, k, v, _gates(length, 0.01, 0.5, 0.05), initial_state(weights, 1), 16)
    assert y[:, -1024:].abs().amax() > 1e-3  # exactly 0 without the skip path
    assert all(w.abs().amax() > 1e-3 for w in state.weights)
    forgotten = initial_state(tuple(torch.zeros_like(w) for w in weights), 1)
    recent = slice(length - 8, length)
    assert _loss(state, k[:, recent], v[:, recent]) < _loss(forgotten, k[:, recent], v[:, recent])


def _aggressive_memory(chunk: int, eta_bias: float) -> NeuralMemory:
    torch.manual_seed(0)
    mem = NeuralMemory(dim=32, heads=HEADS, chunk_size=chunk)  # default clamp
    with torch.no_grad():
        mem.to_gates.weight.zero_()
        mem.to_gates.bias[:HEADS].fill_(12.0)  # theta = max_lr (to 1e-6)
        mem.to_gates.bias[HEADS : 2 * HEADS].fill_(eta_bias)
    return mem


@pytest.mark.parametrize("eta_bias", [0.0, 4.6], ids=["eta=0.5", "eta=0.99"])
@pytest.mark.parametrize("inputs", ["random", "repeated"])
@pytest.mark.parametrize("chunk", [1, 16, 64])
def test_largest_step_size_stays_finite_and_bounded(chunk, inputs, eta_bias):
    """theta at its cap, 8192 tokens, default gates otherwise (alpha = 0.001): finite outputs and weights
    within the clamp's bound |W_T - A W_0| <= T theta tau / (1 - eta) (tau = 1). The measured norms are
    printed by benchmarks/memory_stability.py."""
    mem = _aggressive_memory(chunk, eta_bias)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1, 8192, 32, generator=gen)
    if inputs == "repeated":
        x = x[:, :1].expand_as(x)
    with torch.no_grad():
        y, state = mem(x)
    eta = torch.sigmoid(torch.tensor(eta_bias)).item()
    bound = 8192 * mem.max_lr * mem.max_grad_norm / (1 - eta)
    assert torch.isfinite(y).all()
    norms = [w.flatten(2).norm(dim=-1).amax().item() for w in state.weights]
    assert max(norms) < bound
    if eta_bias == 0.0:  # measured 0.9-25 at eta = 0.5, up to 772 at eta = 0.99 (chunk 64, repeated)
        assert max(norms) < 50.0
