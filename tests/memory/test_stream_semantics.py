"""Streaming, causality and the degenerate gate settings of the memory kernels."""

from __future__ import annotations

import math

import pytest
import torch

from tests.memory.conftest import make_problem
from titans_seq.memory import MemoryGates, memory_chunked, memory_naive

TOL = dict(rtol=1e-10, atol=1e-12)


def _split_run(kernel, p, cuts, chunk):
    state, outs, start = p["state"], [], 0
    for stop in [*cuts, p["q"].shape[1]]:
        sl = slice(start, stop)
        y, state = kernel(p["q"][:, sl], p["k"][:, sl], p["v"][:, sl], p["gates"](sl), state, chunk)
        outs.append(y)
        start = stop
    return torch.cat(outs, dim=1), state


@pytest.mark.parametrize("kernel", [memory_chunked, memory_naive], ids=["chunk", "naive"])
@pytest.mark.parametrize("seed", range(4))
def test_split_stream_equals_one_pass(kernel, seed):
    chunk, length = 8, 53
    gen = torch.Generator().manual_seed(seed)
    cuts = sorted(torch.randperm(length - 1, generator=gen)[:3].add(1).tolist())  # cuts inside chunks too
    p = make_problem(length, depth=2, seed=seed)
    whole, s_whole = kernel(p["q"], p["k"], p["v"], p["gates"](), p["state"], chunk)
    split, s_split = _split_run(kernel, p, cuts, chunk)
    torch.testing.assert_close(split, whole, **TOL)
    for a, b in zip(s_whole.weights + s_whole.momentum, s_split.weights + s_split.momentum, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    assert s_split.position == s_whole.position == length


def test_token_by_token_equals_parallel():
    chunk, length = 4, 23
    p = make_problem(length, depth=2, seed=3)
    whole, s_whole = memory_chunked(p["q"], p["k"], p["v"], p["gates"](), p["state"], chunk)
    streamed, s_stream = _split_run(memory_chunked, p, list(range(1, length)), chunk)
    torch.testing.assert_close(streamed, whole, **TOL)
    torch.testing.assert_close(s_stream.weights[0], s_whole.weights[0], **TOL)
    assert s_stream.pending.length == s_whole.pending.length == length % chunk


def test_short_sequence_is_carried_not_dropped():
    """Fewer tokens than one chunk: nothing is committed yet, but the tokens wait in the state and
    reach the weights once the chunk fills (a dropped remainder would leave the weights untouched)."""
    p = make_problem(12, depth=1, seed=2)
    _, state = memory_chunked(
        p["q"][:, :5], p["k"][:, :5], p["v"][:, :5], p["gates"](slice(0, 5)), p["state"], 8
    )
    assert state.pending is not None and state.pending.length == 5
    _, after = memory_chunked(
        p["q"][:, 5:], p["k"][:, 5:], p["v"][:, 5:], p["gates"](slice(5, None)), state, 8
    )
    # the weights after 12 tokens must depend on the first 5 keys
    grad = torch.autograd.grad(after.weights[0].sum(), p["k"])[0]
    assert grad[:, :5].abs().sum() > 0


@pytest.mark.parametrize("kernel", [memory_chunked, memory_naive], ids=["chunk", "naive"])
def test_causal(kernel):
    p = make_problem(40, depth=2, seed=7)
    y, _ = kernel(p["q"], p["k"], p["v"], p["gates"](), p["state"], 8)
    cut = 19
    q2, k2, v2 = (t.detach().clone() for t in (p["q"], p["k"], p["v"]))
    for t in (q2, k2, v2):
        t[:, cut:] = torch.randn_like(t[:, cut:])
    y2, _ = kernel(q2, k2, v2, p["gates"](), p["state"], 8)
    torch.testing.assert_close(y2[:, :cut], y[:, :cut], rtol=0, atol=0)
    assert (y2[:, cut:] - y[:, cut:]).abs().max() > 1e-6


def test_zero_learning_rate_leaves_memory_unchanged():
    p = make_problem(33, depth=2, seed=1)
    g = p["gates"]()
    frozen = MemoryGates(torch.zeros_like(g.lr), g.log_momentum, g.log_retain)
    keep_all = MemoryGates(frozen.lr, frozen.log_momentum, None)  # alpha = 0 as well: nothing may move
    _, state = memory_chunked(p["q"], p["k"], p["v"], keep_all, p["state"], 8)
    for before, after in zip(p["state"].weights, state.weights, strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=0)


@pytest.mark.parametrize("kernel", [memory_chunked, memory_naive], ids=["chunk", "naive"])
def test_alpha_one_forgets_everything(kernel):
    """alpha = 1 (log(1 - alpha) = -inf) with nothing new written (theta = 0): the memory is emptied."""
    p = make_problem(16, depth=2, seed=4)
    g = p["gates"]()
    forget = MemoryGates(torch.zeros_like(g.lr), g.log_momentum, torch.full_like(g.lr, float("-inf")))
    _, state = kernel(p["q"], p["k"], p["v"], forget, p["state"], 8)
    assert all(w.abs().max() > 0.1 for w in p["state"].weights)
    for w in state.weights:
        assert torch.isfinite(w).all()
        assert w.abs().max() < 1e-12


def test_memory_recalls_seen_random_pairs():
    """Independent random key/value pairs (no function links them): after streaming them a few times, the
    inner loss on the seen pairs falls far below its start and below that of unseen pairs, and
    nearest-value recall beats chance by a wide margin."""
    from titans_seq.memory import initial_state, memory_shapes, retrieve

    gen = torch.Generator().manual_seed(0)
    heads, dim, pairs = 1, 32, 64
    unit = lambda *s: torch.nn.functional.normalize(torch.randn(*s, generator=gen), dim=-1)  # noqa: E731
    keys, values = unit(1, pairs, heads, dim), unit(1, pairs, heads, dim)
    weights = tuple(torch.randn(heads, i, o, generator=gen) / i**0.5 for i, o in memory_shapes(dim, 2, 4.0))
    state = initial_state(weights, 1)
    gates = MemoryGates(
        torch.full((1, pairs, heads), 0.05), torch.full((1, pairs, heads), math.log(0.5)), None
    )

    def loss(st, k, v):
        w = tuple(t[:, 0] for t in st.weights)
        return (retrieve(w, k[:, :, 0]) - v[:, :, 0]).pow(2).sum(-1).mean()

    start = loss(state, keys, values)
    for _ in range(10):
        _, state = memory_chunked(keys, keys, values, gates, state, 8)
    seen = loss(state, keys, values)
    unseen = loss(state, unit(1, pairs, heads, dim), unit(1, pairs, heads, dim))
    assert seen < 0.4 * start
    assert seen < 0.3 * unseen
    recalled = retrieve(tuple(t[:, 0] for t in state.weights), keys[:, :, 0])
    hits = (recalled @ values[0, :, 0].T).argmax(-1) == torch.arange(pairs)
    assert hits.float().mean() > 0.9  # chance is 1/64
