"""The chunked parallel kernel computes exactly what the per-token reference computes (float64).

The reference differentiates the inner loss with autograd; the chunked kernel uses hand-derived
gradients and a hand-written backward. Agreement of outputs, final state and outer gradients at odd
lengths (T not a multiple of C) is what licenses the fast path.
"""

from __future__ import annotations

import pytest
import torch

from tests.memory.conftest import make_problem
from titans_seq.memory import memory_chunked, memory_naive

TOL = dict(rtol=1e-9, atol=1e-10)


def _run(kernel, p, chunk, max_grad_norm=None, read="token"):
    y, state = kernel(p["q"], p["k"], p["v"], p["gates"](), p["state"], chunk, max_grad_norm, read=read)
    # a loss that touches the outputs and every part of the final state, with unequal weights
    probe = lambda t: (t * torch.linspace(-1.0, 2.0, t.numel(), dtype=t.dtype).view_as(t)).sum()  # noqa: E731
    loss = probe(y) + sum(probe(w) for w in state.weights) + sum(probe(s) for s in state.momentum)
    grads = torch.autograd.grad(loss, p["leaves"], allow_unused=True)
    return y, state, [torch.zeros(()) if g is None else g for g in grads]


def _assert_same(a, b):
    (ya, sa, ga), (yb, sb, gb) = a, b
    torch.testing.assert_close(ya, yb, **TOL)
    for wa, wb in zip(sa.weights + sa.momentum, sb.weights + sb.momentum, strict=True):
        torch.testing.assert_close(wa, wb, **TOL)
    assert sa.position == sb.position
    assert (sa.pending is None) == (sb.pending is None)
    if sa.pending is not None:
        torch.testing.assert_close(sa.pending.keys, sb.pending.keys)
    for i, (x, y) in enumerate(zip(ga, gb, strict=True)):
        torch.testing.assert_close(x, y, **TOL, msg=lambda m, i=i: f"gradient of leaf {i}: {m}")


@pytest.mark.parametrize("read", ["token", "chunk_start"])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("chunk", [1, 4, 16, 64])
@pytest.mark.parametrize("length", [1, 7, 63, 100])
def test_outputs_state_and_gradients_match(length, chunk, depth, read):
    p = make_problem(length, depth, seed=length * 31 + chunk)
    _assert_same(_run(memory_naive, p, chunk, read=read), _run(memory_chunked, p, chunk, read=read))


@pytest.mark.parametrize("read", ["token", "chunk_start"])
@pytest.mark.parametrize("chunk", [1, 16])
@pytest.mark.parametrize(
    "momentum, decay, max_grad_norm",
    [
        (False, True, None),
        (True, False, None),
        (True, True, 0.25),
        (False, False, 0.25),
        (False, False, None),
    ],
    ids=["no-momentum", "no-decay", "clamped", "no-momentum-no-decay-clamped", "no-momentum-no-decay"],
)
def test_ablations_and_clamp_match(momentum, decay, max_grad_norm, chunk, read):
    p = make_problem(45, depth=2, seed=5, momentum=momentum, decay=decay)
    _assert_same(
        _run(memory_naive, p, chunk, max_grad_norm, read), _run(memory_chunked, p, chunk, max_grad_norm, read)
    )


@pytest.mark.parametrize("read", ["token", "chunk_start"])
@pytest.mark.parametrize("chunk, length", [(4, 29), (16, 37), (64, 70)])
def test_deeper_memory_matches(chunk, length, read):
    p = make_problem(length, depth=3, seed=11)
    _assert_same(_run(memory_naive, p, chunk, 0.5, read), _run(memory_chunked, p, chunk, 0.5, read))


def test_the_read_changes_outputs_not_state():
    """The read changes what a query sees, never what is written: same final state, other outputs."""
    p = make_problem(40, depth=2, seed=3)
    y_tok, s_tok, _ = _run(memory_chunked, p, 8, read="token")
    y_start, s_start, _ = _run(memory_chunked, p, 8, read="chunk_start")
    for a, b in zip(s_tok.weights + s_tok.momentum, s_start.weights + s_start.momentum, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    assert (y_tok - y_start).abs().max() > 1e-3


def test_clamp_is_active_in_the_clamped_case():
    """Guard against a vacuous clamp test: the clamp must change the result at this threshold."""
    p = make_problem(45, depth=2, seed=5)
    free, _, _ = _run(memory_chunked, p, 8)
    clamped, _, _ = _run(memory_chunked, p, 8, 0.25)
    assert (free - clamped).abs().max() > 1e-3
