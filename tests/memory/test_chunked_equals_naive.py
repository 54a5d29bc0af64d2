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


def _run(kernel, p, chunk, max_grad_norm=None):
    y, state = kernel(p["q"], p["k"], p["v"], p["gates"](), p["state"], chunk, max_grad_norm)
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


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("chunk", [1, 4, 16])
@pytest.mark.parametrize("length", [1, 7, 63, 100])
def test_outputs_state_and_gradients_match(length, chunk, depth):
    p = make_problem(length, depth, seed=length * 31 + chunk)
    _assert_same(_run(memory_naive, p, chunk), _run(memory_chunked, p, chunk))


@pytest.mark.parametrize(
    "momentum, decay, max_grad_norm",
    [(False, True, None), (True, False, None), (True, True, 0.25), (False, False, 0.25)],
    ids=["no-momentum", "no-decay", "clamped", "no-momentum-no-decay-clamped"],
)
def test_ablations_and_clamp_match(momentum, decay, max_grad_norm):
    p = make_problem(45, depth=2, seed=5, momentum=momentum, decay=decay)
    _assert_same(_run(memory_naive, p, 8, max_grad_norm), _run(memory_chunked, p, 8, max_grad_norm))


def test_deeper_memory_matches():
    p = make_problem(29, depth=3, seed=11)
    _assert_same(_run(memory_naive, p, 8), _run(memory_chunked, p, 8))


def test_clamp_is_active_in_the_clamped_case():
    """Guard against a vacuous clamp test: the clamp must change the result at this threshold."""
    p = make_problem(45, depth=2, seed=5)
    free, _, _ = _run(memory_chunked, p, 8)
    clamped, _, _ = _run(memory_chunked, p, 8, 0.25)
    assert (free - clamped).abs().max() > 1e-3
