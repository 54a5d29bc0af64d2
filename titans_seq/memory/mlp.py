"""The memory network M: a per-head MLP applied with explicit weights (pure functions).

Depth L uses weights ``W_1 .. W_L`` with GELU between layers (depth 1 = a linear matrix memory).
Weights are batched ``[N, d_in, d_out]`` and inputs ``[N, T, d]`` (N = batch x heads).

A deep memory (L >= 2) adds a fixed skip path to every layer but the last: ``z_l = h_l W_l + h_l R_l``
for ``l < L``, where ``R_l`` is the rectangular identity (the first ``min(d_in, d_out)`` features pass
through, the rest are zero). The weights the memory learns and forgets are the ``W_l``. Without the skip,
the all-zero network is a fixed point that no gradient leaves (every layer's gradient is proportional to
the other layers' weights), and forgetting drives the weights towards it; with it, the last layer's input
is never zero there, so the last layer keeps writing and the others follow. The last layer has no skip, so
a fully forgotten memory reads 0 rather than an echo of the query. Why, and what it guarantees:
``memory/README.md``. A linear memory has no such fixed point and no skip.

The inner loss is ``l(M; k, v) = ||M(k) - v||^2`` (paper eq. 12, summed over the head dimension). Its
gradient with respect to ``W_l`` for one token is the outer product ``h_{l-1}^T delta_l`` of the layer's
input and the back-propagated error, which is why weighted sums of per-token gradients are matmuls.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gelu(z: Tensor) -> Tensor:
    return torch.nn.functional.gelu(z)


def memory_shapes(dim_head: int, depth: int, expansion: float) -> list[tuple[int, int]]:
    """``(d_in, d_out)`` of each layer of the memory MLP."""
    if depth < 1:
        raise ValueError(f"memory depth must be >= 1, got {depth}")
    if depth == 1:
        return [(dim_head, dim_head)]
    hidden = max(1, int(dim_head * expansion))
    return [(dim_head, hidden)] + [(hidden, hidden)] * (depth - 2) + [(hidden, dim_head)]


def skip(h: Tensor, width: int) -> Tensor:
    """``h R``: the rectangular identity from ``h``'s width to ``width`` (truncate or zero-pad)."""
    shared = min(h.shape[-1], width)
    return torch.nn.functional.pad(h[..., :shared], (0, width - shared))


def forward(weights: tuple[Tensor, ...], x: Tensor) -> Tensor:
    """Retrieval ``M(x)``: ``x [N, T, d]`` -> ``[N, T, d]``, no update."""
    last = len(weights) - 1
    h = x
    for i, w in enumerate(weights):
        if i > 0:
            h = gelu(h)
        z = h @ w
        h = z + skip(h, w.shape[-1]) if i < last else z  # the skip path: every layer but the last
    return h
