"""One block per Titans variant (paper section 4), all with pre-norm residuals and a feed-forward.

Every block maps ``x [B, T, dim]`` and an optional :class:`BlockState` to ``(y [B, T, dim], state)``;
``state`` continues the same stream (split == whole). Blocks differ only in their sequence mixer
(:meth:`Block.mix`); the feed-forward sublayer is shared code.

- ``mac``  memory as context: per segment, retrieve -> attend over ``[persistent || h || segment]`` ->
  write the attention output -> combine it with a read of the memory (paper eqs. 21-25);
- ``mag``  memory as gate: sliding-window attention and the memory in parallel, mixed by a learned gate
  (eqs. 26-28);
- ``mal``  memory as layer: memory, then sliding-window attention (eqs. 29-31);
- ``lmm``  the memory alone;
- ``swa``  sliding-window attention alone: the attention-only control, with no long-term memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from titans_seq.layers import AttentionCache, FeedForward, NeuralMemory, WindowedAttention
from titans_seq.memory import MemoryState
from titans_seq.models.config import TitansConfig


@dataclass(frozen=True)
class BlockState:
    """Where one block stands in a stream; fields a variant does not use stay ``None``.

    ``memory``     the long-term memory's state (MAC: at the start of the open segment).
    ``attention``  keys/values the sliding window can still see (MAG, MAL, SWA).
    ``pending``    MAC: the block inputs of the open (incomplete) segment ``[B, r, dim]``, ``0 < r < W``;
                   the segment is recomputed from them when more tokens arrive, as the memory does with
                   its pending chunk.
    ``context``    MAC: up to ``conv_kernel - 1`` block inputs before the open segment ``[B, c, dim]``, the
                   left context of the memory's causal convolution when it reads with the segment's queries.
    """

    memory: MemoryState | None = None
    attention: AttentionCache | None = None
    pending: Tensor | None = None
    context: Tensor | None = None

    def detach(self) -> BlockState:
        """The same state cut from the autograd graph (truncated backprop through long streams)."""
        d = lambda t: None if t is None else t.detach()  # noqa: E731
        return BlockState(d(self.memory), d(self.attention), d(self.pending), d(self.context))


class Block(nn.Module):
    """Shared skeleton: ``h = mix(x)`` (the variant's residual sequence mixer), then ``h + FFN(norm(h))``."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.norm_ffn = nn.RMSNorm(config.dim)
        self.ffn = FeedForward(config.dim, config.ffn_expansion)

    def forward(self, x: Tensor, state: BlockState | None = None) -> tuple[Tensor, BlockState]:
        """``x [B, T, dim]`` -> ``(y [B, T, dim], state)``."""
        state = BlockState() if state is None else state
        if not isinstance(state, BlockState):
            raise TypeError(f"state must be a BlockState, got {type(state).__name__}")
        h, state = self.mix(x, state)
        return h + self.ffn(self.norm_ffn(h)), state

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        """The variant's sequence mixer, residuals included: ``x [B, T, dim]`` -> ``[B, T, dim]``."""
        raise NotImplementedError


def _memory(config: TitansConfig) -> NeuralMemory:
    m = config.memory
    return NeuralMemory(
        config.dim,
        heads=m.heads,
        chunk_size=m.chunk_size,
        depth=m.depth,
        expansion=m.expansion,
        momentum=m.momentum,
        weight_decay=m.weight_decay,
        conv_kernel=m.conv_kernel,
        max_lr=m.max_lr,
        max_grad_norm=m.max_grad_norm,
        kernel=m.kernel,
        read=m.read,
    )


def _attention(config: TitansConfig, mode: str) -> WindowedAttention:
    a = config.attention
    return WindowedAttention(
        config.dim, a.heads, a.window, mode, persistent_tokens=a.persistent_tokens, positions=a.positions
    )


class SWABlock(Block):
    """Sliding-window attention with persistent tokens, no long-term memory (the control)."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__(config)
        self.norm_attention = nn.RMSNorm(config.dim)
        self.attention = _attention(config, "sliding")

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        y, cache = self.attention(self.norm_attention(x), state.attention)
        return x + y, replace(state, attention=cache)


class LMMBlock(Block):
    """The neural memory alone as the sequence mixer (the paper's setting for time series and DNA)."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__(config)
        self.norm_memory = nn.RMSNorm(config.dim)
        self.memory = _memory(config)

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        y, memory = self.memory(self.norm_memory(x), state.memory)
        return x + y, replace(state, memory=memory)


class MALBlock(LMMBlock):
    """Memory as a layer: the memory sublayer, then sliding-window attention (paper eqs. 29-31).

    Parameter names extend :class:`LMMBlock`'s, so removing the attention ("w/o attention") is LMM.
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__(config)
        self.norm_attention = nn.RMSNorm(config.dim)
        self.attention = _attention(config, "sliding")

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        h, state = super().mix(x, state)
        y, cache = self.attention(self.norm_attention(h), state.attention)
        return h + y, replace(state, attention=cache)


class GatedCombine(nn.Module):
    """The paper's ``y ⊗ M(x)`` of MAG (eq. 28) and MAC (eq. 25): ``[B, T, dim]`` twice -> ``[B, T, dim]``.

    The paper normalises both outputs "using learnable vector-valued weights, followed by a non-linearity".
    We normalise both (the RMSNorm gains are those weights) and mix them with a learned, input-dependent
    sigmoid gate, ``o = W_o (g * norm(y) + (1 - g) * norm(m))`` with ``g = sigmoid(W_g [norm(y), norm(m)])``,
    so either branch can pass through alone (a bare product ``y * sigmoid(m)`` would let the memory speak
    only through the attention's channels).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm_attention = nn.RMSNorm(dim)
        self.norm_memory = nn.RMSNorm(dim)
        self.gate = nn.Linear(2 * dim, dim)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, y: Tensor, m: Tensor) -> Tensor:
        y, m = self.norm_attention(y), self.norm_memory(m)
        g = torch.sigmoid(self.gate(torch.cat([y, m], dim=-1)))
        return self.to_out(g * y + (1 - g) * m)


class MAGBlock(Block):
    """Memory as a gate (paper eqs. 26-28): sliding-window attention and the memory read the same input in
    parallel; :class:`GatedCombine` mixes them."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__(config)
        self.norm_input = nn.RMSNorm(config.dim)
        self.attention = _attention(config, "sliding")
        self.memory = _memory(config)
        self.combine = GatedCombine(config.dim)

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        u = self.norm_input(x)
        y, cache = self.attention(u, state.attention)
        m, memory = self.memory(u, state.memory)
        return x + self.combine(y, m), replace(state, memory=memory, attention=cache)


class MACBlock(Block):
    """Memory as context (paper eqs. 21-25), segment by segment in the paper's order.

    For each segment ``S`` of ``W = attention.window`` tokens (counted from the start of the stream), with
    ``x`` the block's input and ``u = norm(x)``:

    1. ``h = M_prev(u_S)``: read the memory with the segment's queries, without writing;
    2. ``a = Attn([persistent || h || u_S])``: causal inside the segment; ``h_j`` shares the position and
       the visibility of token ``j``;
    3. ``m, M = mem(norm(x_S + a), M)``: write the attention layer's output into the memory; ``m_t`` reads
       it back with the weights after token ``t``'s own write (``memory.read="token"``; chunks of
       ``memory.chunk_size`` divide ``W``), so it already sees the writes of the segment's earlier tokens;
    4. ``o = a ⊗ m`` with the same :class:`GatedCombine` as MAG; the block adds ``o`` to its input.

    Departures from the letter of the paper, each for a reason:

    - causality (the output at ``t`` must not depend on later tokens): the paper lets every token of a
      segment see all of ``h``, but ``h_j`` is computed from token ``j``, so a token sees ``h_j`` only for
      ``j`` up to itself; and the paper's final read uses the memory after the whole segment, which holds
      later tokens, so step 3 reads each token's own weights ``M_t`` instead (causal, and the paper's
      per-token definition of ``M_t``);
    - step 3 writes the residual stream after attention, ``x + a`` (what a pre-norm residual attention layer
      outputs), not the bare branch ``a``: at initialisation ``a`` is an average over the segment that
      carries little of token ``t`` itself, which left the memory with nothing specific to store.

    Streaming: a trailing incomplete segment is not written; its inputs wait in ``state.pending`` and the
    segment is recomputed when more tokens arrive (its outputs are causal, so they do not change).
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__(config)
        self.window = config.attention.window
        self.norm_input = nn.RMSNorm(config.dim)
        self.memory = _memory(config)
        self.attention = _attention(config, "segment")
        self.norm_write = nn.RMSNorm(config.dim)
        self.combine = GatedCombine(config.dim)
        self.lookback = max(config.memory.conv_kernel - 1, 0)

    def mix(self, x: Tensor, state: BlockState) -> tuple[Tensor, BlockState]:
        memory = self.memory.init_state(x.shape[0]) if state.memory is None else state.memory
        context = x[:, :0] if state.context is None else state.context
        pending = x[:, :0] if state.pending is None else state.pending
        stream = torch.cat([context, pending, x], dim=1)
        u = self.norm_input(stream)
        begin = context.shape[1]  # the open segment starts here in ``stream``
        outputs = []
        while begin < stream.shape[1]:
            end = min(begin + self.window, stream.shape[1])
            left = max(0, begin - self.lookback)
            out, written = self._segment(stream[:, begin:end], u[:, left:end], begin - left, memory)
            outputs.append(out)
            if end - begin < self.window:
                break  # an incomplete segment writes nothing yet
            memory, begin = written, end
        new_context = stream[:, max(0, begin - self.lookback) : begin]
        new_pending = stream[:, begin:] if begin < stream.shape[1] else None
        o = torch.cat(outputs, dim=1)[:, pending.shape[1] :]  # drop the recomputed, already emitted tokens
        return x + o, replace(state, memory=memory, pending=new_pending, context=new_context)

    def _segment(self, x: Tensor, u: Tensor, skip: int, memory: MemoryState) -> tuple[Tensor, MemoryState]:
        """One segment: inputs ``x``, their norms ``u[:, skip:]`` (``u[:, :skip]`` is convolution context)
        -> ``(o, memory after the segment)``."""
        # The memory's convolution cache follows its writes; a read with the segment's queries needs the
        # segment's own past instead, which ``u[:, :skip]`` provides.
        cache = memory.conv_cache
        reader = memory if cache is None else replace(memory, conv_cache=torch.zeros_like(cache))
        h = self.memory.retrieve(u, reader)[:, skip:]
        a, _ = self.attention(u[:, skip:], memory=h)
        m, memory = self.memory(self.norm_write(x + a), memory)
        return self.combine(a, m), memory


BLOCKS: dict[str, type[Block]] = {
    "lmm": LMMBlock,
    "mac": MACBlock,
    "mag": MAGBlock,
    "mal": MALBlock,
    "swa": SWABlock,
}
