"""Small float64 problems shared by the memory kernel tests."""

from __future__ import annotations

import pytest
import torch

from titans_seq.memory import MemoryGates, initial_state, memory_shapes

HEADS, DIM_HEAD, BATCH = 2, 4, 2


def make_problem(length: int, depth: int, seed: int = 0, momentum: bool = True, decay: bool = True):
    """Random unit-norm keys/queries, values, gates in a stable range and leaf initial weights."""
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=dt)

    def unit(*shape):
        x = torch.randn(*shape, generator=gen, dtype=dt)
        return x / x.norm(dim=-1, keepdim=True)

    shape = (BATCH, length, HEADS, DIM_HEAD)
    q, k = unit(*shape), unit(*shape)
    v = torch.randn(*shape, generator=gen, dtype=dt)
    raw_gates = [rand(BATCH, length, HEADS) for _ in range(3)]
    weights = tuple(
        torch.randn(HEADS, i, o, generator=gen, dtype=dt) / i**0.5
        for i, o in memory_shapes(DIM_HEAD, depth, 2.0)
    )
    leaves = [q, k, v, *raw_gates, *weights]
    for t in leaves:
        t.requires_grad_(True)

    def gates(sl=slice(None)):
        lr, mom, keep = (g[:, sl] for g in raw_gates)
        return MemoryGates(
            lr=0.1 * lr,
            log_momentum=torch.log(0.05 + 0.6 * mom) if momentum else None,
            log_retain=torch.log(1.0 - 0.2 * keep) if decay else None,
        )

    return {"q": q, "k": k, "v": v, "gates": gates, "state": initial_state(weights, BATCH), "leaves": leaves}


@pytest.fixture
def problem():
    return make_problem
