"""Short-term memory of Titans: causal windowed attention with persistent memory tokens.

Two masks over one banded kernel (paper section 4, "core" branch):

- ``"sliding"``: token ``t`` attends to tokens ``t - window + 1 .. t`` (MAG, MAL and the control);
- ``"segment"``: the sequence is cut into segments of ``window`` tokens from the start of the stream and
  token ``t`` attends causally inside its own segment (MAC's chunk-local attention).

``persistent_tokens`` learnable, input-independent tokens (paper section 3.3) are prepended to every
window/segment: every query sees them, they carry no position. Positions are rotary (relative, applied to
queries and keys at their absolute stream position), a learned bias per head and distance inside the
window (T5-style; bounded by the window, so it streams), or none.

Efficiency: no ``T x T`` mask is built. Queries are cut into blocks of ``Q = min(window, T)`` tokens and
block ``n`` attends to the ``Q + window`` keys that end with it, so memory and time are ``O(T * window)``.

Streaming: ``forward`` returns an :class:`AttentionCache` holding the keys and values a later call can still
see (the last ``window - 1`` tokens, or the open segment's tokens) and the stream position;
``attn(x[:, :a])`` then ``attn(x[:, a:], cache)`` equals ``attn(x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from titans_seq._checks import check_int

MODES = ("segment", "sliding")
POSITIONS = ("learned", "none", "rotary")


@dataclass(frozen=True)
class AttentionCache:
    """Keys and values a continuing stream can still attend to.

    ``keys``/``values`` ``[B, c, S, H, Dh]``: the last ``c`` tokens' keys (rotated when positions are
    rotary) and values, ``S`` = 1, or 2 when each position also carried a memory token (MAC);
    ``c = min(position, window - 1)`` for sliding attention and ``position % window`` for segments.
    ``position`` is the number of tokens the stream has consumed.
    """

    keys: Tensor
    values: Tensor
    position: int = 0

    @property
    def batch_size(self) -> int:
        return self.keys.shape[0]

    def detach(self) -> AttentionCache:
        """The same cache cut from the autograd graph."""
        return AttentionCache(self.keys.detach(), self.values.detach(), self.position)


class WindowedAttention(nn.Module):
    """Causal sliding-window or segmented multi-head attention with persistent memory tokens.

    Parameters
    ----------
    dim : width of the input and output.
    heads : attention heads; must divide ``dim``.
    window : sliding-window width (keys ``t - window + 1 .. t``) or segment length.
    mode : ``"sliding"`` or ``"segment"``.
    persistent_tokens : number of learnable tokens prepended to every window/segment (0 = none).
    positions : ``"rotary"``, ``"learned"`` (bias per head and distance) or ``"none"``.
    rotary_base : base of the rotary frequencies.

    Shapes: ``x [B, T, dim]`` -> ``y [B, T, dim]``. ``memory`` (optional, ``[B, T, dim]``) adds one extra
    key/value token per position, with that position and visibility: MAC's retrieved tokens ``h``.

    Examples
    --------
    >>> attn = WindowedAttention(dim=64, heads=4, window=16, persistent_tokens=4)
    >>> y, cache = attn(torch.randn(2, 100, 64))
    >>> y2, cache = attn(torch.randn(2, 10, 64), cache)
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int,
        mode: str = "sliding",
        persistent_tokens: int = 0,
        positions: str = "rotary",
        rotary_base: float = 10_000.0,
    ) -> None:
        super().__init__()
        for name, value, minimum in (("dim", dim, 1), ("heads", heads, 1), ("window", window, 1)):
            check_int(name, value, minimum)
        check_int("persistent_tokens", persistent_tokens, 0)
        if dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}; allowed heads: {_divisors(dim)}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {list(POSITIONS)}, got {positions!r}")
        dim_head = dim // heads
        if positions == "rotary" and dim_head % 2:
            raise ValueError(f"positions='rotary' needs an even head width, got dim // heads = {dim_head}")
        self.dim, self.heads, self.dim_head, self.window = dim, heads, dim_head, window
        self.mode, self.positions, self.rotary_base = mode, positions, rotary_base

        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)
        # Persistent tokens live in the input space and go through the same key/value projections as the
        # sequence (the paper prepends them to the sequence); they get no position.
        self.persistent = (
            nn.Parameter(torch.randn(persistent_tokens, dim) / math.sqrt(dim)) if persistent_tokens else None
        )
        # bias[h, d] is added to the logit of a key d tokens back (d < window); zero = no preference
        self.position_bias = nn.Parameter(torch.zeros(heads, window)) if positions == "learned" else None

    @property
    def persistent_tokens(self) -> int:
        return 0 if self.persistent is None else self.persistent.shape[0]

    def empty_cache(self, batch_size: int, streams: int = 1, like: Tensor | None = None) -> AttentionCache:
        """A fresh stream: nothing to attend to yet, position 0."""
        ref = self.to_q.weight if like is None else like
        empty = ref.new_zeros(batch_size, 0, streams, self.heads, self.dim_head)
        return AttentionCache(empty, empty, 0)

    def forward(
        self, x: Tensor, cache: AttentionCache | None = None, memory: Tensor | None = None
    ) -> tuple[Tensor, AttentionCache]:
        """``x [B, T, dim]`` (and ``memory [B, T, dim]``) -> ``(y [B, T, dim], cache)``."""
        batch, length = self._check_input(x, memory)
        streams = 1 if memory is None else 2
        cache = self.empty_cache(batch, streams, like=x) if cache is None else cache
        self._check_cache(cache, batch, streams)
        positions = torch.arange(cache.position, cache.position + length, device=x.device)

        q = rearrange(self.to_q(x), "b t (h d) -> b t h d", h=self.heads)
        tokens = x.unsqueeze(2) if memory is None else torch.stack([x, memory], dim=2)  # [B, T, S, dim]
        k, v = rearrange(self.to_kv(tokens), "b t s (two h d) -> two b t s h d", two=2, h=self.heads)
        q_plain = q
        if self.positions == "rotary":
            q, k = self._rotate(q, positions), self._rotate(k, positions)
        keys = torch.cat([cache.keys.to(k.dtype), k], dim=1)
        values = torch.cat([cache.values.to(v.dtype), v], dim=1)

        y = self._attend(q, keys, values, cache.position, cache.keys.shape[1], q_plain)
        end = cache.position + length
        keep = min(end, self.window - 1) if self.mode == "sliding" else end % self.window
        next_cache = AttentionCache(keys[:, keys.shape[1] - keep :], values[:, values.shape[1] - keep :], end)
        return self.to_out(rearrange(y, "b t h d -> b t (h d)")), next_cache

    # ------------------------------------------------------------------ banded kernel
    def _attend(
        self, q: Tensor, keys: Tensor, values: Tensor, start: int, cached: int, q_plain: Tensor
    ) -> Tensor:
        """Banded attention: ``q [B, T, H, Dh]`` over ``keys/values [B, cached + T, S, H, Dh]``.

        ``q_plain`` are the queries before any rotation: they meet the position-free persistent keys.

        Keys are left-padded to ``window + T`` so that query ``t`` sits at padded index ``window + t``;
        query block ``n`` (``Q`` queries) then needs exactly the padded keys ``[nQ, nQ + Q + window)``.
        """
        batch, length, heads, _ = q.shape
        streams, window = keys.shape[2], self.window
        block = min(window, length)
        n_blocks = -(-length // block)
        pad_right = n_blocks * block - length
        pad = (0, 0, 0, 0, 0, 0, window - cached, pad_right)  # time axis of [B, L, S, H, Dh]
        span = block + window

        # [B, n, S, H, Dh, span] views -> [B, n, H, span * S, Dh]; (j s) keeps a position's tokens adjacent
        unfold = lambda t: F.pad(t, pad).unfold(1, span, block)  # noqa: E731
        k_blocks = rearrange(unfold(keys), "b n s h d j -> b n h (j s) d")
        v_blocks = rearrange(unfold(values), "b n s h d j -> b n h (j s) d")

        def by_block(t: Tensor) -> Tensor:  # [B, T, H, Dh] -> [B, n, H, Q, Dh]
            return rearrange(F.pad(t, (0, 0, 0, 0, 0, pad_right)), "b (n i) h d -> b n h i d", i=block)

        q_blocks = by_block(q)

        mask = self._block_mask(start, cached, n_blocks, block, q.device)  # [n, Hm, Q, span]
        mask = mask.repeat_interleave(streams, dim=-1)
        if self.persistent is not None:
            pk, pv = rearrange(self.to_kv(self.persistent), "p (two h d) -> two h p d", two=2, h=heads)
            if self.positions == "rotary":
                # A rotated query against an unrotated key would make the score depend on the query's
                # absolute position. Persistent tokens have no position, so they meet the unrotated query:
                # [q_rot, q] . [k_rot, 0] = q_rot . k_rot and [q_rot, q] . [0, p_k] = q . p_k.
                q_blocks = torch.cat([q_blocks, by_block(q_plain)], dim=-1)
                k_blocks = torch.cat([k_blocks, torch.zeros_like(k_blocks)], dim=-1)
                pk = torch.cat([torch.zeros_like(pk), pk], dim=-1)
            expand = lambda t: t.to(q.dtype).expand(batch, n_blocks, *t.shape)  # noqa: E731
            k_blocks = torch.cat([expand(pk), k_blocks], dim=-2)
            v_blocks = torch.cat([expand(pv), v_blocks], dim=-2)
            # persistent tokens are visible to every query, with no positional bias
            seen = mask.new_ones(()) if mask.dtype == torch.bool else mask.new_zeros(())
            mask = torch.cat([seen.expand(*mask.shape[:-1], self.persistent_tokens), mask], dim=-1)
        out = F.scaled_dot_product_attention(
            q_blocks, k_blocks, v_blocks, attn_mask=mask, scale=self.dim_head**-0.5
        )
        return rearrange(out, "b n h i d -> b (n i) h d")[:, :length]

    def _block_mask(self, start: int, cached: int, n_blocks: int, block: int, device: torch.device) -> Tensor:
        """Which padded key each query of each block sees: bool ``[n, 1, Q, span]``, or the additive
        learned-bias mask ``[n, H, Q, span]`` (``-inf`` where unseen)."""
        window = self.window
        n = torch.arange(n_blocks, device=device).view(-1, 1, 1)
        i = torch.arange(block, device=device).view(1, -1, 1)
        j = torch.arange(block + window, device=device).view(1, 1, -1)
        q_pos = start + n * block + i  # absolute stream positions
        k_index = n * block + j  # index into the padded keys; query t sits at window + t
        k_pos = start - window + k_index
        distance = q_pos - k_pos
        seen = (k_index >= window - cached) & (distance >= 0)  # left padding is never seen
        if self.mode == "sliding":
            seen = seen & (distance < window)
        else:
            floor = lambda p: torch.div(p, window, rounding_mode="floor")  # noqa: E731
            seen = seen & (floor(k_pos) == floor(q_pos))
        if self.position_bias is None:
            return seen.unsqueeze(1)
        bias = self.position_bias[:, distance.clamp(0, window - 1)]  # [H, n, Q, span]
        return bias.masked_fill(~seen, float("-inf")).transpose(0, 1)

    def _rotate(self, x: Tensor, positions: Tensor) -> Tensor:
        """Rotary embedding of ``x [B, T, ..., Dh]`` at ``positions [T]`` (half-split convention)."""
        half = self.dim_head // 2
        dtype = torch.promote_types(x.dtype, torch.float32)  # float16 angles lose positions past ~2k
        freqs = self.rotary_base ** (-torch.arange(half, device=x.device, dtype=dtype) / half)
        angles = positions.to(dtype).unsqueeze(-1) * freqs  # [T, Dh / 2]
        angles = angles.view(angles.shape[0], *([1] * (x.dim() - 3)), half)
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    # ------------------------------------------------------------------ checks
    def _check_input(self, x: Tensor, memory: Tensor | None) -> tuple[int, int]:
        if not isinstance(x, Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a [B, T, dim] tensor, got {shape}")
        if x.shape[-1] != self.dim:
            raise ValueError(f"x has width {x.shape[-1]}, this attention expects dim={self.dim}")
        if x.shape[1] < 1:
            raise ValueError("x must hold at least one token (T >= 1)")
        if memory is not None and memory.shape != x.shape:
            raise ValueError(f"memory must have the shape of x {tuple(x.shape)}, got {tuple(memory.shape)}")
        return x.shape[0], x.shape[1]

    def _check_cache(self, cache: AttentionCache, batch: int, streams: int) -> None:
        if not isinstance(cache, AttentionCache):
            raise TypeError(f"cache must be an AttentionCache, got {type(cache).__name__}")
        if cache.batch_size != batch:
            raise ValueError(f"cache has batch size {cache.batch_size}, input has {batch}")
        if cache.keys.shape[2:] != (streams, self.heads, self.dim_head):
            raise ValueError(
                f"cache holds keys {tuple(cache.keys.shape[2:])} per token, expected "
                f"{(streams, self.heads, self.dim_head)} (was memory passed in one call and not the other?)"
            )
        limit = self.window - 1 if self.mode == "sliding" else cache.position % self.window
        if cache.keys.shape[1] != min(cache.position, limit):
            raise ValueError("cache does not match this attention's window or mode")

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.heads}, window={self.window}, mode={self.mode!r}, "
            f"persistent_tokens={self.persistent_tokens}, positions={self.positions!r}"
        )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
