"""Chunked parallel form of the neural memory (paper section 3.2), equal to the per-token reference.

Inside a chunk of C tokens every surprise is taken at the chunk-start weights ``M_0``, so the chunk's
effect on the weights is a fixed linear combination of per-token gradients. With ``E_t = prod_{j<=t} eta_j``
and ``A_t = prod_{j<=t} (1 - alpha_j)`` (products inside the chunk), unrolling the recurrence gives

    S_C = E_C S_0 - sum_i theta_i (E_C / E_i) u_i
    M_C = A_C M_0 + (sum_s A_C E_s / A_s) S_0 - sum_i theta_i [sum_{s>=i} (A_C / A_s)(E_s / E_i)] u_i

and each ``sum_i c_i u_i`` over a layer is ``inputs^T diag(c) deltas``: one matmul, never a per-token
weight copy. The coefficients come from cumulative sums of log-gates (O(C) per chunk, no C x C matrix);
see ``memory/README.md`` for the derivation. Chunks run in sequence: chunk n+1 takes its gradients at the
weights chunk n ended with (the paper's rule).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import Tensor

from titans_seq.memory import mlp
from titans_seq.memory.scan import ChunkScan, scan_forward
from titans_seq.memory.state import MemoryGates, MemoryState, PendingTokens
from titans_seq.memory.validation import check_kernel_inputs


def memory_chunked(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    gates: MemoryGates,
    state: MemoryState,
    chunk_size: int,
    max_grad_norm: float | None = None,
    compiled: bool = False,
) -> tuple[Tensor, MemoryState]:
    """Retrieve with and write into the memory, chunk by chunk.

    Parameters
    ----------
    queries, keys, values : ``[B, T, H, Dh]``
    gates : per-token ``[B, T, H]`` step sizes (see :class:`MemoryGates`)
    state : where the stream stands (:class:`MemoryState`)
    chunk_size : tokens per chunk ``C``; gradients inside a chunk are taken at its start weights
    max_grad_norm : optional clamp on each token's surprise norm (all layers together)
    compiled : run the per-chunk steps through ``torch.compile`` (faster after a warm-up; see scan.py)

    Returns
    -------
    ``y [B, T, H, Dh]`` where ``y_t = M_{chunk start}(q_t)``, and the state after the last token.
    """
    check_kernel_inputs(queries, keys, values, gates, state, chunk_size)
    batch, length, heads, dim_head = queries.shape
    gates = gates.clamped()
    replay = 0
    if state.pending is not None:  # the open chunk restarts from its start state with its tokens
        replay = state.pending.length
        queries = torch.cat([queries.new_zeros(batch, replay, heads, dim_head), queries], dim=1)
        keys = torch.cat([state.pending.keys, keys], dim=1)
        values = torch.cat([state.pending.values, values], dim=1)
        gates = MemoryGates.cat(state.pending.gates, gates)
    total = keys.shape[1]
    n_chunks, leftover = divmod(total, chunk_size)
    full = n_chunks * chunk_size

    per_head = lambda t: rearrange(t, "b h i o -> (b h) i o")  # noqa: E731
    weights = tuple(per_head(w) for w in state.weights)
    momentum = tuple(per_head(s) for s in state.momentum)
    outputs = []
    if n_chunks:
        # [n, (b h), C, d]: chunk-major and contiguous so each step reads one block
        chunked = lambda t: rearrange(t[:, :full], "b (n c) h d -> n (b h) c d", c=chunk_size)  # noqa: E731
        # each chunk's queries then its keys, so one matmul per layer serves retrieval and surprise
        query_keys = torch.cat([chunked(queries), chunked(keys)], dim=2)
        coef = _chunk_coefficients(gates.slice(0, full), chunk_size)
        args = (query_keys, chunked(values).contiguous(), *coef)
        if torch.is_grad_enabled() and any(t.requires_grad for t in (*args, *weights, *momentum)):
            depth = len(weights)
            result = ChunkScan.apply(*args, max_grad_norm, compiled, depth, *weights, *momentum)
            retrieved, weights, momentum = result[0], result[1 : 1 + depth], result[1 + depth :]
        else:
            retrieved, weights, momentum, _ = scan_forward(
                *args, weights, momentum, max_grad_norm, keep_starts=False, compiled=compiled
            )
        outputs.append(rearrange(retrieved, "n bh c d -> bh (n c) d"))
    if leftover:
        tail = rearrange(queries[:, full:], "b t h d -> (b h) t d")
        outputs.append(mlp.forward(weights, tail))

    y = torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]
    y = rearrange(y[:, replay:], "(b h) t d -> b t h d", b=batch)
    unflat = lambda t: rearrange(t, "(b h) i o -> b h i o", b=batch)  # noqa: E731
    pending = None
    if leftover:
        pending = PendingTokens(keys[:, full:], values[:, full:], gates.slice(full))
    new_state = MemoryState(
        weights=tuple(unflat(w) for w in weights),
        momentum=tuple(unflat(s) for s in momentum),
        position=state.position + length,
        pending=pending,
        conv_cache=state.conv_cache,
    )
    return y, new_state


class _Coefficients(NamedTuple):
    """Scalars of the unrolled chunk update; built for all chunks at once (leading axis n), used per chunk.

    ``grad``   ``[n, 2, (b h), C, 1]``: per token, the weight c_i of its gradient in M_C ([:, 0]) and
               w_i in S_C ([:, 1]); laid out so each is a contiguous column to scale rows with
    ``keep``   ``[n, (b h), 1, 1]``: A_C, the share of M_0 that survives the chunk
    ``carry``  ``[n, (b h), 1, 1]``: sum_s A_C E_s / A_s, the share of S_0 that flows into M_C
    ``decay``  ``[n, (b h), 1, 1]``: E_C, the share of S_0 left in S_C
    """

    grad: Tensor
    keep: Tensor
    carry: Tensor
    decay: Tensor


def _chunk_coefficients(gates: MemoryGates, chunk_size: int) -> _Coefficients:
    by_chunk = lambda g: rearrange(g, "b (n c) h -> n (b h) c", c=chunk_size)  # noqa: E731
    lr = by_chunk(gates.lr)
    log_a = torch.zeros_like(lr) if gates.log_retain is None else by_chunk(gates.log_retain).cumsum(-1)
    log_a_end = log_a[..., -1:]
    if gates.log_momentum is None:
        # S_t = -theta_t u_t: only the last token's surprise is left in S_C, and S_0 is dropped.
        to_weights = lr * torch.exp(log_a_end - log_a)
        last = torch.zeros_like(lr)
        last[..., -1] = 1.0
        to_momentum = lr * last
        carry = torch.zeros_like(log_a_end)
        decay = torch.zeros_like(log_a_end)
    else:
        log_e = by_chunk(gates.log_momentum).cumsum(-1)
        log_e_end = log_e[..., -1:]
        # log sum_{s >= i} E_s / A_s, by a reversed log-cumsum-exp (stable for tiny gates)
        tail = torch.logcumsumexp((log_e - log_a).flip(-1), dim=-1).flip(-1)
        to_weights = lr * torch.exp(log_a_end - log_e + tail)
        to_momentum = lr * torch.exp(log_e_end - log_e)
        carry = torch.exp(log_a_end + tail[..., :1])
        decay = torch.exp(log_e_end)
    unsq = lambda t: t.unsqueeze(-1)  # noqa: E731  [n, bh, 1] -> [n, bh, 1, 1]
    return _Coefficients(
        grad=torch.stack([to_weights, to_momentum], dim=1).unsqueeze(-1),
        keep=unsq(torch.exp(log_a_end)),
        carry=unsq(carry),
        decay=unsq(decay),
    )
