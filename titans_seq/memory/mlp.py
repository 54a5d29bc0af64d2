"""The memory network M: a per-head MLP applied with explicit weights (pure functions).

Depth L uses weights ``W_1 .. W_L`` with GELU between layers (depth 1 = a linear matrix memory).
Weights are batched ``[N, d_in, d_out]`` and inputs ``[N, T, d]`` (N = batch x heads).

The inner loss is ``l(M; k, v) = ||M(k) - v||^2`` (paper eq. 12, summed over the head dimension). Its
gradient with respect to ``W_l`` for one token is the outer product ``h_{l-1}^T delta_l`` of the layer's
input and the back-propagated error, which is why weighted sums of per-token gradients are matmuls.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(z: Tensor) -> Tensor:
    return torch.nn.functional.gelu(z)


def gelu_grad(z: Tensor) -> Tensor:
    """d gelu / dz for the exact (erf) GELU: Phi(z) + z phi(z)."""
    cdf = 0.5 * (1.0 + torch.erf(z * _INV_SQRT2))
    pdf = torch.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return cdf + z * pdf


def memory_shapes(dim_head: int, depth: int, expansion: float) -> list[tuple[int, int]]:
    """``(d_in, d_out)`` of each layer of the memory MLP."""
    if depth < 1:
        raise ValueError(f"memory depth must be >= 1, got {depth}")
    if depth == 1:
        return [(dim_head, dim_head)]
    hidden = max(1, int(dim_head * expansion))
    return [(dim_head, hidden)] + [(hidden, hidden)] * (depth - 2) + [(hidden, dim_head)]


def forward(weights: tuple[Tensor, ...], x: Tensor) -> Tensor:
    """Retrieval ``M(x)``: ``x [N, T, d]`` -> ``[N, T, d]``, no update."""
    h = x
    for i, w in enumerate(weights):
        if i > 0:
            h = gelu(h)
        h = h @ w
    return h


def retrieve_and_surprise(
    weights: tuple[Tensor, ...], queries: Tensor, keys: Tensor, values: Tensor
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Retrieve ``M(queries)`` and back-propagate the inner loss of ``(keys, values)`` by hand.

    Queries ``[N, Tq, d]`` and keys ``[N, Tk, d]`` go through the layers together (one matmul per layer).
    Returns ``(retrieved, inputs, deltas)``: ``retrieved = M(queries)`` ``[N, Tq, d]`` and, per layer l,
    ``inputs[l]`` ``[N, Tk, d_in]`` and ``deltas[l]`` ``[N, Tk, d_out]`` such that the gradient of token
    t's loss ``||M(k_t) - v_t||^2`` with respect to ``W_l`` is ``inputs[l][:, t]^T deltas[l][:, t]``.
    """
    n_query = queries.shape[1]
    inputs, pre_acts = [], []
    h = torch.cat([queries, keys], dim=1)
    for i, w in enumerate(weights):
        if i > 0:
            pre_acts.append(h[:, n_query:])
            h = gelu(h)
        inputs.append(h[:, n_query:])
        h = h @ w
    delta = 2.0 * (h[:, n_query:] - values)  # d ||y - v||^2 / dy
    deltas = [delta]
    for i in range(len(weights) - 1, 0, -1):
        delta = (delta @ weights[i].transpose(-1, -2)) * gelu_grad(pre_acts[i - 1])
        deltas.append(delta)
    deltas.reverse()
    return h[:, :n_query], inputs, deltas
