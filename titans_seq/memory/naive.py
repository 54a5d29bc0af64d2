"""Per-token reference of the neural long-term memory, written to read like the paper.

For every token t (paper eqs. 9-14), with the chunk-start weights ``M_ref`` (paper section 3.2:
inside a chunk every gradient is taken at the weights the chunk started with):

    u_t = grad_M ||M_ref(k_t) - v_t||^2          (surprise; autograd, not the hand-derived formula)
    S_t = eta_t * S_{t-1} - theta_t * u_t         (momentum)
    M_t = (1 - alpha_t) * M_{t-1} + S_t           (forgetting)
    y_t = M_t(q_t)                                 (retrieval, no update; read="token", the default)
    y_t = M_ref(q_t)                               (read="chunk_start", the ablation)

``M_t`` is formed here as an explicit weight copy per token, which is what the chunked kernel avoids.
With ``chunk_size = 1`` the reference weights are ``M_{t-1}`` and this is the exact per-token
recurrence. It is slow on purpose: the chunked kernel is tested against it.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from titans_seq.memory import mlp
from titans_seq.memory.state import MemoryGates, MemoryState, PendingTokens
from titans_seq.memory.validation import check_kernel_inputs


def memory_naive(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    gates: MemoryGates,
    state: MemoryState,
    chunk_size: int,
    max_grad_norm: float | None = None,
    read: str = "token",
) -> tuple[Tensor, MemoryState]:
    """Run the memory token by token. Shapes and arguments as in :func:`titans_seq.memory.memory_chunked`."""
    check_kernel_inputs(queries, keys, values, gates, state, chunk_size, read)
    batch, length, heads, _ = queries.shape
    gates = gates.clamped()
    pending = state.pending
    replay = 0 if pending is None else pending.length
    if pending is not None:  # tokens of the open chunk are replayed from the chunk-start state
        keys = torch.cat([pending.keys, keys], dim=1)
        values = torch.cat([pending.values, values], dim=1)
        gates = MemoryGates.cat(pending.gates, gates)

    flat = lambda t: rearrange(t, "b t h d -> (b h) t d")  # noqa: E731
    flat_gate = lambda g: None if g is None else rearrange(g, "b t h -> (b h) t")  # noqa: E731
    q, k, v = flat(queries), flat(keys), flat(values)
    lr, log_eta, log_keep = flat_gate(gates.lr), flat_gate(gates.log_momentum), flat_gate(gates.log_retain)
    per_head = lambda t: rearrange(t, "b h i o -> (b h) i o")  # noqa: E731
    weights = [per_head(w) for w in state.weights]
    momentum = [per_head(s) for s in state.momentum]

    start_position = state.position - replay
    ref_weights, chunk_start = weights, (weights, momentum, 0)
    outputs = []
    for t in range(k.shape[1]):
        if (start_position + t) % chunk_size == 0:
            ref_weights = weights
            chunk_start = (weights, momentum, t)
        if t >= replay and read == "chunk_start":
            outputs.append(mlp.forward(tuple(ref_weights), q[:, t - replay : t - replay + 1]))
        surprise = _token_gradient(ref_weights, k[:, t : t + 1], v[:, t : t + 1])
        if max_grad_norm is not None:
            norm = torch.sqrt(sum(u.pow(2).sum(dim=(-2, -1)) for u in surprise))
            scale = (max_grad_norm / norm.clamp_min(1e-12)).clamp(max=1.0)
            surprise = [u * scale[:, None, None] for u in surprise]
        theta = lr[:, t, None, None]
        eta = torch.zeros_like(theta) if log_eta is None else log_eta[:, t, None, None].exp()
        keep = torch.ones_like(theta) if log_keep is None else log_keep[:, t, None, None].exp()
        momentum = [eta * s - theta * u for s, u in zip(momentum, surprise, strict=True)]
        weights = [keep * w + s for w, s in zip(weights, momentum, strict=True)]
        if t >= replay and read == "token":
            outputs.append(mlp.forward(tuple(weights), q[:, t - replay : t - replay + 1]))

    total = k.shape[1]
    if (start_position + total) % chunk_size == 0:
        chunk_start = (weights, momentum, total)
    start_weights, start_momentum, start_index = chunk_start
    unflat = lambda t: rearrange(t, "(b h) i o -> b h i o", b=batch)  # noqa: E731
    new_pending = None
    if start_index < total:
        new_pending = PendingTokens(keys[:, start_index:], values[:, start_index:], gates.slice(start_index))
    new_state = MemoryState(
        weights=tuple(unflat(w) for w in start_weights),
        momentum=tuple(unflat(s) for s in start_momentum),
        position=state.position + length,
        pending=new_pending,
        conv_cache=state.conv_cache,
    )
    y = rearrange(torch.cat(outputs, dim=1), "(b h) t d -> b t h d", b=batch, h=heads)
    return y, new_state


def _token_gradient(weights: list[Tensor], key: Tensor, value: Tensor) -> list[Tensor]:
    """grad_W ||M_W(k) - v||^2 for one token, per batch-head row, by autograd (kept differentiable)."""
    differentiable = torch.is_grad_enabled()  # outside no_grad the surprise must carry outer gradients
    with torch.enable_grad():
        leaves = [w if w.requires_grad else w.detach().requires_grad_() for w in weights]
        loss = (mlp.forward(tuple(leaves), key) - value).pow(2).sum()
        grads = torch.autograd.grad(loss, leaves, create_graph=differentiable)
    return list(grads) if differentiable else [g.detach() for g in grads]
