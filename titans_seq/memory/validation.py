"""Argument checks shared by the memory kernels (run before any computation)."""

from __future__ import annotations

from torch import Tensor

from titans_seq.memory.state import MemoryGates, MemoryState

# "token": y_t = M_t(q_t), the weights after token t's own write (the paper's per-token read, default);
# "chunk_start": y_t = M(q_t) with the weights the token's chunk started with (the cheaper ablation).
READS = ("token", "chunk_start")


def check_kernel_inputs(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    gates: MemoryGates,
    state: MemoryState,
    chunk_size: int,
    read: str,
) -> None:
    if read not in READS:
        raise ValueError(f"read must be one of {list(READS)}, got {read!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if queries.dim() != 4:
        raise ValueError(f"queries must be [B, T, H, Dh], got shape {tuple(queries.shape)}")
    if keys.shape != queries.shape or values.shape != queries.shape:
        raise ValueError(
            f"queries, keys and values must share one shape, got {tuple(queries.shape)}, "
            f"{tuple(keys.shape)}, {tuple(values.shape)}"
        )
    batch, length, heads, dim_head = queries.shape
    if length < 1:
        raise ValueError("the sequence must hold at least one token (T >= 1)")
    if gates.lr.shape != (batch, length, heads):
        raise ValueError(
            f"gates.lr must be [B, T, H] = {(batch, length, heads)}, got {tuple(gates.lr.shape)}"
        )
    first = state.weights[0]
    if first.shape[0] != batch or first.shape[1] != heads or first.shape[2] != dim_head:
        raise ValueError(
            f"state does not fit the input: state weights start {tuple(first.shape)} "
            f"(batch, heads, d_in, ...), input has batch={batch}, heads={heads}, dim_head={dim_head}"
        )
    if state.weights[-1].shape[-1] != dim_head:
        raise ValueError(
            f"state's memory outputs {state.weights[-1].shape[-1]} features, input has {dim_head}"
        )
    if len(state.momentum) != len(state.weights):
        raise ValueError("state.momentum must have one tensor per memory layer")
    if state.pending is not None and state.pending.length >= chunk_size:
        raise ValueError(
            f"state holds {state.pending.length} pending tokens, which does not fit chunk_size={chunk_size}"
        )
