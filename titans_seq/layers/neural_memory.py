"""``NeuralMemory``: the Titans long-term memory as a sequence layer ``[B, T, dim] -> [B, T, dim]``.

Projections follow the paper (section 4.4): q, k, v linear projections, each followed by a depthwise
causal 1-D convolution and SiLU; q and k are l2-normalised per head. The gates theta (inner learning rate),
eta (momentum decay) and alpha (forget gate) are per token and per head, computed from the input. The
retrieved values are normalised per head, gated by the input, and projected back to ``dim``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from titans_seq._checks import check_int
from titans_seq.memory import (
    READS,
    MemoryGates,
    MemoryState,
    initial_state,
    memory_chunked,
    memory_naive,
    memory_shapes,
    retrieve,
)

_KERNELS = {
    "chunk": memory_chunked,
    "compiled": functools.partial(memory_chunked, compiled=True),
    "naive": memory_naive,
}


def _inverse_sigmoid(p: float) -> float:
    return math.log(p / (1.0 - p))


class NeuralMemory(nn.Module):
    """Neural long-term memory that keeps learning at test time (Titans, arXiv 2501.00663, section 3).

    Parameters
    ----------
    dim : width of the input and output.
    heads : number of independent memories; ``heads * dim_head`` is the inner width.
    chunk_size : tokens per chunk; gradients inside a chunk are taken at its start weights (1 = exact
        per-token recurrence). Larger chunks are faster; see ``memory/README.md``.
    dim_head : width of each head's keys and values (default ``dim // heads``).
    depth : layers of the memory MLP (1 = linear matrix memory, the paper's "linear memory" ablation).
    expansion : hidden width of a deep memory, as a multiple of ``dim_head``.
    momentum : use past surprise (eta); ``False`` is the "no momentum" ablation.
    weight_decay : use the forget gate (alpha); ``False`` is the "no weight decay" ablation.
    conv_kernel : width of the causal depthwise convolution after q/k/v; 0 is the "no conv" ablation.
    max_lr : upper bound of the data-dependent inner learning rate theta.
    max_grad_norm : clamp on each token's surprise norm, all layers together (default 1.0; ``None`` turns
        it off). It bounds every token's write by ``theta * max_grad_norm``, which keeps the memory finite
        over the whole gate range at any chunk size (a deep memory at ``theta = max_lr`` otherwise diverges
        even at chunk 1); see ``memory/README.md``.
    read : ``"token"`` (default): each query reads the weights after its own token's write,
        ``y_t = M_t(q_t)``, as the paper defines ``M_t`` token by token (computed in the dual form, no
        per-token weight copy); ``"chunk_start"``: queries read their chunk's start weights (cheaper, the
        ablation: a query then cannot see earlier tokens of its own chunk beyond the convolution).
    kernel : ``"chunk"`` (parallel, the default), ``"compiled"`` (the same kernel with its per-chunk steps
        compiled by ``torch.compile``: 2-3x faster per chunk after a warm-up of seconds per new shape;
        needs a C++ compiler on CPU) or ``"naive"`` (per-token reference, slow).

    Shapes: ``x [B, T, dim]`` -> ``y [B, T, dim]``. ``forward`` returns ``(y, state)``; pass ``state`` back
    to continue the same stream: ``mem(x[:, :a])`` then ``mem(x[:, a:], state=s)`` equals ``mem(x)``.
    The memory resets only when no state is passed.

    Examples
    --------
    >>> mem = NeuralMemory(dim=64, heads=4, chunk_size=16)
    >>> y, state = mem(torch.randn(2, 100, 64))
    >>> y2, state = mem(torch.randn(2, 30, 64), state=state)
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        chunk_size: int = 16,
        dim_head: int | None = None,
        depth: int = 2,
        expansion: float = 4.0,
        momentum: bool = True,
        weight_decay: bool = True,
        conv_kernel: int = 4,
        max_lr: float = 0.1,
        max_grad_norm: float | None = 1.0,
        kernel: str = "chunk",
        read: str = "token",
    ) -> None:
        super().__init__()
        check_int("dim", dim, 1)
        check_int("heads", heads, 1)
        check_int("chunk_size", chunk_size, 1)
        check_int("depth", depth, 1)
        check_int("conv_kernel", conv_kernel, 0)
        if dim_head is None:
            if dim % heads:
                raise ValueError(f"heads={heads} does not divide dim={dim}; pass dim_head or change heads")
            dim_head = dim // heads
        check_int("dim_head", dim_head, 1)
        if kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {sorted(_KERNELS)}, got {kernel!r}")
        if read not in READS:
            raise ValueError(f"read must be one of {list(READS)}, got {read!r}")
        if not max_lr > 0:
            raise ValueError(f"max_lr must be > 0, got {max_lr}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {max_grad_norm}")
        self.dim, self.heads, self.dim_head, self.chunk_size = dim, heads, dim_head, chunk_size
        self.read = read
        self.use_momentum, self.use_weight_decay = momentum, weight_decay
        self.conv_kernel, self.max_lr, self.max_grad_norm, self.kernel = (
            conv_kernel,
            max_lr,
            max_grad_norm,
            kernel,
        )
        inner = heads * dim_head

        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.conv = nn.Conv1d(3 * inner, 3 * inner, conv_kernel, groups=3 * inner) if conv_kernel else None
        # gates: theta (lr), eta (momentum), alpha (forget), one of each per head
        self.to_gates = nn.Linear(dim, 3 * heads)
        self.memory_init = nn.ParameterList(
            nn.Parameter(torch.randn(heads, d_in, d_out) / math.sqrt(d_in))
            for d_in, d_out in memory_shapes(dim_head, depth, expansion)
        )
        self.out_norm = nn.RMSNorm(dim_head)
        self.to_out_gate = nn.Linear(dim, inner)
        self.to_out = nn.Linear(inner, dim, bias=False)
        self._init_gates()

    def _init_gates(self) -> None:
        # Start with a moderate step (theta = 0.01), momentum 0.5 and a small forget rate (alpha = 0.001).
        # Measured at 8192 tokens (random inputs, depth 1 and 2): theta = 0.02 or eta = 0.8 already diverge
        # at chunk 64, because a chunk sums C gradients taken at one point; a forget rate near 0.5 decays
        # the weights to denormal floats (100x slower). Training may move the gates anywhere in their
        # range: the default surprise clamp (max_grad_norm) is what keeps every setting finite.
        nn.init.normal_(self.to_gates.weight, std=0.02)
        h = self.heads
        with torch.no_grad():
            self.to_gates.bias[:h].fill_(_inverse_sigmoid(0.01 / self.max_lr))
            self.to_gates.bias[h : 2 * h].fill_(_inverse_sigmoid(0.5))
            self.to_gates.bias[2 * h :].fill_(_inverse_sigmoid(0.001))

    # ------------------------------------------------------------------ state
    def init_state(self, batch_size: int) -> MemoryState:
        """A fresh stream: learned initial weights, zero momentum, empty convolution cache."""
        state = initial_state(tuple(self.memory_init), batch_size)
        if self.conv is not None:
            ref = self.memory_init[0]
            cache = ref.new_zeros(batch_size, self.conv_kernel - 1, self.conv.in_channels)
            state = replace(state, conv_cache=cache)
        return state

    def _check_state(self, state: MemoryState, batch: int) -> None:
        if not isinstance(state, MemoryState):
            raise TypeError(f"state must be a MemoryState, got {type(state).__name__}")
        expected = tuple((self.heads, *w.shape[1:]) for w in self.memory_init)
        got = tuple(tuple(w.shape[1:]) for w in state.weights)
        if got != expected:
            raise ValueError(
                f"state comes from a different memory configuration: weights {got}, expected {expected}"
            )
        if state.batch_size != batch:
            raise ValueError(f"state has batch size {state.batch_size}, input has {batch}")
        if (state.conv_cache is None) != (self.conv is None):
            raise ValueError("state's convolution cache does not match this layer's conv_kernel")
        if state.pending is not None and state.pending.length >= self.chunk_size:
            raise ValueError(f"state was made with a larger chunk size than chunk_size={self.chunk_size}")

    # ------------------------------------------------------------------ projections
    def project(
        self, x: Tensor, state: MemoryState
    ) -> tuple[Tensor, Tensor, Tensor, MemoryGates, Tensor | None]:
        """Queries, keys, values ``[B, T, H, Dh]``, gates ``[B, T, H]`` and the next convolution cache."""
        qkv = self.to_qkv(x)
        cache = None
        if self.conv is not None:
            past = state.conv_cache.to(qkv.dtype)
            cache = (
                torch.cat([past, qkv], dim=1)[:, -(self.conv_kernel - 1) :] if self.conv_kernel > 1 else past
            )
            qkv = _depthwise_causal_conv(qkv, past, self.conv.weight, self.conv.bias)
        q, k, v = rearrange(F.silu(qkv), "b t (three h d) -> three b t h d", three=3, h=self.heads)
        q, k = _l2_normalize(q), _l2_normalize(k)
        lr, mom, forget = rearrange(self.to_gates(x), "b t (three h) -> three b t h", three=3)
        gates = MemoryGates(
            lr=self.max_lr * torch.sigmoid(lr),
            log_momentum=F.logsigmoid(mom) if self.use_momentum else None,
            log_retain=F.logsigmoid(-forget) if self.use_weight_decay else None,  # log(1 - sigmoid)
        )
        return q, k, v, gates, cache

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor, state: MemoryState | None = None) -> tuple[Tensor, MemoryState]:
        """``x [B, T, dim]`` -> ``(y [B, T, dim], state)``; ``state`` continues an earlier stream."""
        state = self._checked_state(x, state)
        project, output = _layer_functions(self.kernel == "compiled")
        q, k, v, gates, cache = project(self, x, state)
        kernel = _KERNELS[self.kernel]
        retrieved, state = kernel(q, k, v, gates, state, self.chunk_size, self.max_grad_norm, read=self.read)
        return output(self, retrieved, x), replace(state, conv_cache=cache)

    def _checked_state(self, x: Tensor, state: MemoryState | None) -> MemoryState:
        if not isinstance(x, Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a [B, T, dim] tensor, got {shape}")
        if x.shape[-1] != self.dim:
            raise ValueError(f"x has width {x.shape[-1]}, this NeuralMemory expects dim={self.dim}")
        if x.shape[1] < 1:
            raise ValueError("x must hold at least one token (T >= 1)")
        state = self.init_state(x.shape[0]) if state is None else state
        self._check_state(state, x.shape[0])
        return state

    def _output(self, retrieved: Tensor, x: Tensor) -> Tensor:
        """Per-head norm, input-dependent gate, projection back to ``dim`` (paper section 4.4)."""
        y = rearrange(self.out_norm(retrieved), "b t h d -> b t (h d)")
        return self.to_out(y * torch.sigmoid(self.to_out_gate(x)))

    def retrieve(self, x: Tensor, state: MemoryState | None = None) -> Tensor:
        """Read without writing: ``y_t = M(q_t)`` with the state's committed weights, ``[B, T, dim]``.

        The state is not advanced (its convolution cache serves as left context only). MAC uses this to
        look up its segment before attending; tokens still pending in ``state`` are not yet visible.
        """
        state = self._checked_state(x, state)
        q, _, _, _, _ = self.project(x, state)
        weights = tuple(rearrange(w, "b h i o -> (b h) i o") for w in state.weights)
        retrieved = rearrange(
            retrieve(weights, rearrange(q, "b t h d -> (b h) t d")), "(b h) t d -> b t h d", b=x.shape[0]
        )
        return self._output(retrieved, x)

    @torch.no_grad()
    def inner_loss(self, x: Tensor, state: MemoryState | None = None) -> Tensor:
        """Surprise of each token under the state's weights, ``||M(k_t) - v_t||^2`` ``[B, T, H]``.

        Nothing is written: this is how well the memory already holds what ``x`` would store.
        """
        state = self._checked_state(x, state)
        _, k, v, _, _ = self.project(x, state)
        flat = lambda t: rearrange(t, "b t h d -> (b h) t d")  # noqa: E731
        weights = tuple(rearrange(w, "b h i o -> (b h) i o") for w in state.weights)
        err = retrieve(weights, flat(k)) - flat(v)
        return rearrange(err.pow(2).sum(-1), "(b h) t -> b t h", b=x.shape[0])

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.heads}, dim_head={self.dim_head}, chunk_size={self.chunk_size}, "
            f"depth={len(self.memory_init)}, momentum={self.use_momentum}, "
            f"weight_decay={self.use_weight_decay}, conv_kernel={self.conv_kernel}, kernel={self.kernel!r}, "
            f"read={self.read!r}"
        )


_COMPILED_LAYER_FUNCTIONS: dict[str, object] = {}


def _layer_functions(compiled: bool):
    """``NeuralMemory.project`` and ``._output``, eager or through ``torch.compile`` (kernel="compiled").

    Both are memory-bound chains of elementwise ops on ``[B, T, 3 * inner]`` tensors; compiled, each
    becomes a few fused loops (measured 2-6x faster on CPU). Compiled once per process, at class level,
    so every NeuralMemory instance shares the graphs.
    """
    if not compiled:
        return NeuralMemory.project, NeuralMemory._output
    if not _COMPILED_LAYER_FUNCTIONS:
        _COMPILED_LAYER_FUNCTIONS["project"] = torch.compile(NeuralMemory.project, dynamic=False)
        _COMPILED_LAYER_FUNCTIONS["output"] = torch.compile(NeuralMemory._output, dynamic=False)
    return _COMPILED_LAYER_FUNCTIONS["project"], _COMPILED_LAYER_FUNCTIONS["output"]


def _depthwise_causal_conv(x: Tensor, past: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Causal depthwise conv over time: ``x [B, T, C]``, left context ``past [B, K-1, C]`` -> ``[B, T, C]``.

    Equal to ``nn.Conv1d(groups=C)`` over ``[past || x]``, written as K shifted multiply-adds into one
    output buffer: no concatenated copy of the input and no layout transposes (both cost more than the
    arithmetic on CPU, where this is memory-bound).
    """
    taps = weight.shape[-1]  # weight [C, 1, K]; tap K-1 multiplies the current step
    w = weight[:, 0]
    out = torch.addcmul(bias, x, w[:, taps - 1])
    length = x.shape[1]
    for lag in range(1, taps):
        tap = w[:, taps - 1 - lag]
        if lag < length:
            out[:, lag:].addcmul_(x[:, : length - lag], tap)
        # the first ``lag`` outputs reach back into the cached past
        reach = min(lag, length)
        out[:, :reach].addcmul_(past[:, past.shape[1] - lag : past.shape[1] - lag + reach], tap)
    return out


def _l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    # F.normalize goes through linalg.vector_norm, which was 10x slower on these strided views
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True).clamp_min(eps * eps))
