"""State and gate containers shared by the memory kernels.

Layout convention: tensors outside heads are ``[B, T, D]``; inside the memory they are
``[B, T, H, Dh]`` for per-token vectors and ``[B, T, H]`` for per-token scalars. Memory weights
are per batch element and per head: ``[B, H, d_in, d_out]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

# Gates live in log space. A log gate of -inf (eta = 0 or alpha = 1) would turn the differences of
# cumulative sums in the chunked kernel into inf - inf; flooring at -30 keeps them finite while
# exp(-30) ~ 1e-13 is "zero" for every practical purpose. Both kernels apply the same floor, so they
# compute the same function.
LOG_GATE_FLOOR = -30.0


@dataclass(frozen=True)
class MemoryGates:
    """Data-dependent step sizes of the inner update, per token and head (all ``[B, T, H]``).

    ``lr``            theta_t >= 0, the inner learning rate (scales the surprise).
    ``log_momentum``  log eta_t, momentum decay; ``None`` disables momentum (S_t = -theta_t u_t).
    ``log_retain``    log(1 - alpha_t), the forget gate; ``None`` disables weight decay (alpha = 0).
    """

    lr: Tensor
    log_momentum: Tensor | None = None
    log_retain: Tensor | None = None

    def __post_init__(self) -> None:
        for name in ("log_momentum", "log_retain"):
            g = getattr(self, name)
            if g is not None and g.shape != self.lr.shape:
                raise ValueError(f"gates.{name} has shape {tuple(g.shape)}, expected {tuple(self.lr.shape)}")

    def clamped(self) -> MemoryGates:
        """Gates with log gates floored at ``LOG_GATE_FLOOR`` (what both kernels compute with)."""
        floor = lambda g: None if g is None else g.clamp(min=LOG_GATE_FLOOR)  # noqa: E731
        return replace(self, log_momentum=floor(self.log_momentum), log_retain=floor(self.log_retain))

    def slice(self, start: int, stop: int | None = None) -> MemoryGates:
        """Gates of tokens ``start:stop`` (time axis)."""
        cut = lambda g: None if g is None else g[:, start:stop]  # noqa: E731
        return MemoryGates(cut(self.lr), cut(self.log_momentum), cut(self.log_retain))

    @staticmethod
    def cat(first: MemoryGates, second: MemoryGates) -> MemoryGates:
        """Concatenate two gate sets along time."""
        join = lambda a, b: None if a is None else torch.cat([a, b], dim=1)  # noqa: E731
        return MemoryGates(
            torch.cat([first.lr, second.lr], dim=1),
            join(first.log_momentum, second.log_momentum),
            join(first.log_retain, second.log_retain),
        )


@dataclass(frozen=True)
class PendingTokens:
    """Tokens of the current, not yet complete chunk: written into the weights once the chunk fills.

    ``keys``/``values`` are ``[B, P, H, Dh]`` with ``0 < P < chunk_size``; ``gates`` hold ``[B, P, H]``.
    Keeping them (instead of dropping or committing them early) is what makes a split stream equal to
    one pass, and makes a sequence shorter than one chunk still reach the memory.
    """

    keys: Tensor
    values: Tensor
    gates: MemoryGates

    @property
    def length(self) -> int:
        return self.keys.shape[1]


@dataclass(frozen=True)
class MemoryState:
    """Everything needed to continue a memory stream.

    ``weights``   the memory MLP's weights at the start of the current chunk, one ``[B, H, d_in, d_out]``
                  tensor per layer (depth 1 = a single matrix).
    ``momentum``  the momentum S (past surprise) at the same point, same shapes as ``weights``.
    ``position``  tokens consumed so far; chunk boundaries sit at multiples of the chunk size.
    ``pending``   tokens of the current partial chunk (``None`` when the position is on a boundary).
    ``conv_cache`` the last ``kernel - 1`` pre-convolution projections ``[B, K-1, C]`` kept by the
                  ``NeuralMemory`` layer for its causal convolution (``None`` in the pure kernels).
    """

    weights: tuple[Tensor, ...]
    momentum: tuple[Tensor, ...]
    position: int = 0
    pending: PendingTokens | None = None
    conv_cache: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.weights[0].shape[0]

    @property
    def heads(self) -> int:
        return self.weights[0].shape[1]

    def detach(self) -> MemoryState:
        """The same state cut from the autograd graph (for truncated backprop through long streams)."""
        d = lambda t: None if t is None else t.detach()  # noqa: E731
        pending = self.pending
        if pending is not None:
            g = pending.gates
            pending = PendingTokens(
                pending.keys.detach(),
                pending.values.detach(),
                MemoryGates(g.lr.detach(), d(g.log_momentum), d(g.log_retain)),
            )
        return MemoryState(
            weights=tuple(w.detach() for w in self.weights),
            momentum=tuple(m.detach() for m in self.momentum),
            position=self.position,
            pending=pending,
            conv_cache=d(self.conv_cache),
        )


def initial_state(weights: tuple[Tensor, ...], batch_size: int) -> MemoryState:
    """A fresh state from per-head initial weights ``[H, d_in, d_out]``: zero momentum, position 0."""
    expanded = tuple(w.unsqueeze(0).expand(batch_size, *w.shape) for w in weights)
    return MemoryState(weights=expanded, momentum=tuple(torch.zeros_like(w) for w in expanded))
