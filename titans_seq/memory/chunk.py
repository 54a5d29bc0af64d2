"""Chunked parallel form of the neural memory (paper section 3.2), equal to the per-token reference.

Inside a chunk of C tokens every surprise is taken at the chunk-start weights ``M_0``, so the chunk's
effect on the weights is a fixed linear combination of per-token gradients. With ``E_t = prod_{j<=t} eta_j``
and ``A_t = prod_{j<=t} (1 - alpha_j)`` (products inside the chunk), unrolling the recurrence gives

    S_t = E_t S_0 - sum_{i<=t} theta_i (E_t / E_i) u_i
    M_t = A_t M_0 + (sum_{s<=t} A_t E_s / A_s) S_0
          - sum_{i<=t} theta_i [sum_{s=i..t} (A_t / A_s)(E_s / E_i)] u_i

and each ``sum_i c_i u_i`` over a layer is ``inputs^T diag(c) deltas``: one matmul, never a per-token
weight copy. The per-token read ``y_t = M_t(q_t)`` (the default) applies ``M_t`` in the dual form: the
chunk-start weights applied to the query plus a causally masked ``[C x C]`` product, layer after layer.
The chunk-start read ``y_t = M_0(q_t)`` is kept as an ablation. Derivation: ``memory/README.md``.
Chunks run in sequence: chunk n+1 takes its gradients at the weights chunk n ended with (the paper's rule).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import Tensor

from titans_seq.memory import mlp
from titans_seq.memory.scan import ChunkScan, TokenRead, scan_forward
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
    read: str = "token",
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
    read : ``"token"`` (default): ``y_t = M_t(q_t)``, the weights after token t's own write, as the paper
        defines them token by token; ``"chunk_start"``: ``y_t = M_{chunk start}(q_t)`` (cheaper; a query
        cannot see the earlier tokens of its own chunk).

    Returns
    -------
    ``y [B, T, H, Dh]`` and the state after the last token.
    """
    check_kernel_inputs(queries, keys, values, gates, state, chunk_size, read)
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
    per_token = read == "token"

    per_head = lambda t: rearrange(t, "b h i o -> (b h) i o")  # noqa: E731
    weights = tuple(per_head(w) for w in state.weights)
    momentum = tuple(per_head(s) for s in state.momentum)
    outputs = []
    if n_chunks:
        # [n, (b h), C, d]: chunk-major and contiguous so each step reads one block
        chunked = lambda t: rearrange(t[:, :full], "b (n c) h d -> n (b h) c d", c=chunk_size)  # noqa: E731
        retrieved, weights, momentum = _scan(
            chunked(queries), chunked(keys), chunked(values), gates.slice(0, full), chunk_size,
            weights, momentum, max_grad_norm, compiled, per_token,
        )  # fmt: skip
        outputs.append(rearrange(retrieved, "n bh c d -> bh (n c) d"))
    if leftover and per_token:
        # the open chunk is read with its per-token weights too: pad it to a full chunk with tokens that
        # write nothing (theta = 0) and forget nothing (eta = 1 - alpha = 1); the padded chunk's end
        # state is discarded, since the state keeps the chunk-start weights and the pending tokens
        pad = chunk_size - leftover

        def padded(t: Tensor) -> Tensor:  # [B, T, H, d] -> [1, (b h), C, d]
            block = torch.nn.functional.pad(t[:, full:], (0, 0, 0, 0, 0, pad))
            return rearrange(block, "b c h d -> 1 (b h) c d")

        tail_gates = _padded_gates(gates.slice(full), pad)
        retrieved, _, _ = _scan(
            padded(queries), padded(keys), padded(values), tail_gates, chunk_size,
            weights, momentum, max_grad_norm, compiled, per_token,
        )  # fmt: skip
        outputs.append(retrieved[0, :, :leftover])
    elif leftover:
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


def _scan(queries, keys, values, gates, chunk_size, weights, momentum, max_grad_norm, compiled, per_token):
    """Every chunk of ``[n, (b h), C, d]`` blocks through the scan (differentiable where it must be)."""
    if per_token:
        coef, token_read = _token_coefficients(gates, chunk_size)
        rows = keys
        read = TokenRead(queries, *token_read)
    else:
        coef = _chunk_coefficients(gates, chunk_size)
        # each chunk's queries then its keys, so one matmul per layer serves retrieval and surprise
        rows = torch.cat([queries, keys], dim=2)
        read = None
    args = (rows, values.contiguous(), *coef)
    read_args = tuple(read) if read is not None else (None,) * 4
    tensors = (*args, *(t for t in read_args if t is not None), *weights, *momentum)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        depth = len(weights)
        result = ChunkScan.apply(*args, *read_args, max_grad_norm, compiled, depth, *weights, *momentum)
        return result[0], result[1 : 1 + depth], result[1 + depth :]
    retrieved, weights, momentum, _ = scan_forward(
        *args, read, weights, momentum, max_grad_norm, keep_starts=False, compiled=compiled
    )
    return retrieved, tuple(weights), tuple(momentum)


def _padded_gates(gates: MemoryGates, pad: int) -> MemoryGates:
    """Gates extended by ``pad`` tokens that neither write (theta = 0) nor decay (log gates = 0)."""
    extend = lambda g: None if g is None else torch.nn.functional.pad(g, (0, 0, 0, pad))  # noqa: E731
    return MemoryGates(extend(gates.lr), extend(gates.log_momentum), extend(gates.log_retain))


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


def _by_chunk(g: Tensor, chunk_size: int) -> Tensor:
    return rearrange(g, "b (n c) h -> n (b h) c", c=chunk_size)


def _chunk_coefficients(gates: MemoryGates, chunk_size: int) -> _Coefficients:
    """The chunk-end coefficients in O(C) per chunk (log space; no C x C matrix), for the chunk-start read."""
    lr = _by_chunk(gates.lr, chunk_size)
    log_a = (
        torch.zeros_like(lr)
        if gates.log_retain is None
        else _by_chunk(gates.log_retain, chunk_size).cumsum(-1)
    )
    log_a_end = log_a[..., -1:]
    if gates.log_momentum is None:
        # S_t = -theta_t u_t: only the last token's surprise is left in S_C, and S_0 is dropped.
        to_weights = lr * torch.exp(log_a_end - log_a)
        to_momentum, carry, decay = _no_momentum_terms(lr, log_a_end)
    else:
        log_e = _by_chunk(gates.log_momentum, chunk_size).cumsum(-1)
        log_e_end = log_e[..., -1:]
        # log sum_{s >= i} E_s / A_s, by a reversed log-cumsum-exp (stable for tiny gates)
        tail = torch.logcumsumexp((log_e - log_a).flip(-1), dim=-1).flip(-1)
        to_weights = lr * torch.exp(log_a_end - log_e + tail)
        to_momentum = lr * torch.exp(log_e_end - log_e)
        carry = torch.exp(log_a_end + tail[..., :1])
        decay = torch.exp(log_e_end)
    return _pack(to_weights, to_momentum, torch.exp(log_a_end), carry, decay)


def _token_coefficients(gates: MemoryGates, chunk_size: int) -> tuple[_Coefficients, tuple]:
    """Per-token coefficients for the per-token read, and the chunk-end ones taken from their last row.

    ``W_t = a_t W_0 + b_t S_0 - sum_{i<=t} m_{ti} u_i`` with ``m_{ti} = theta_i sum_{s=i..t} G_{ts} F_{si}``,
    ``G_{ts} = A_t / A_s`` and ``F_{si} = E_s / E_i`` (both for s <= t, else 0), ``a_t = A_t`` and
    ``b_t = sum_{s<=t} G_{ts} E_s``. G and F are ratios of products of gates in (0, 1], each formed as
    ``exp`` of a difference of log-cumsums (never a ratio of two tiny numbers), so ``m = (G @ F) theta``
    is a product of bounded factors: no cancellation, unlike differences of cumulative sums.
    """
    lr = _by_chunk(gates.lr, chunk_size)
    causal = torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=lr.device).tril()
    neg_inf = torch.tensor(float("-inf"), dtype=lr.dtype, device=lr.device)

    def ratios(log_cum: Tensor) -> Tensor:  # [n, N, C] -> [n, N, C, C]: exp(log_cum_t - log_cum_s), s <= t
        return torch.exp(torch.where(causal, log_cum.unsqueeze(-1) - log_cum.unsqueeze(-2), neg_inf))

    if gates.log_retain is None:
        log_a = torch.zeros_like(lr)
        decayed = causal.to(lr.dtype).expand(*lr.shape, chunk_size)
    else:
        log_a = _by_chunk(gates.log_retain, chunk_size).cumsum(-1)
        decayed = ratios(log_a)  # G
    start = torch.exp(log_a).unsqueeze(-1)  # a_t
    if gates.log_momentum is None:
        mix = decayed * lr.unsqueeze(-2)
        carry_t = None
        to_momentum, carry, decay = _no_momentum_terms(lr, log_a[..., -1:])
    else:
        log_e = _by_chunk(gates.log_momentum, chunk_size).cumsum(-1)
        momentum_ratios = ratios(log_e)  # F
        mix = torch.matmul(decayed, momentum_ratios) * lr.unsqueeze(-2)
        carry_t = torch.matmul(decayed, torch.exp(log_e).unsqueeze(-1))  # b_t
        to_momentum = lr * momentum_ratios[..., -1, :]
        carry, decay = carry_t[..., -1, :], torch.exp(log_e[..., -1:])
    coef = _pack(mix[..., -1, :], to_momentum, start[..., -1, :], carry, decay)
    return coef, (mix, start, carry_t)


def _no_momentum_terms(lr: Tensor, log_a_end: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Without momentum S_C = -theta_C u_C: w keeps only the last token, and S_0 neither flows nor stays."""
    last = torch.zeros_like(lr)
    last[..., -1] = 1.0
    return lr * last, torch.zeros_like(log_a_end), torch.zeros_like(log_a_end)


def _pack(to_weights, to_momentum, keep, carry, decay) -> _Coefficients:
    # contiguous, so that both reads hand the compiled step the same strides (no recompilation)
    unsq = lambda t: t.unsqueeze(-1).contiguous()  # noqa: E731  [n, bh, 1] -> [n, bh, 1, 1]
    return _Coefficients(
        grad=torch.stack([to_weights, to_momentum], dim=1).unsqueeze(-1),
        keep=unsq(keep),
        carry=unsq(carry),
        decay=unsq(decay),
    )
