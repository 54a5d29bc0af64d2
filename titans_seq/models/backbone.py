"""``TitansBackbone``: a stack of one Titans variant's blocks, ``[B, T, dim] -> [B, T, dim]``, streaming.

The backbone knows nothing of the domain: adapters put tokens, patches or channels in and read ``[B, T, dim]``
out. ``backbone(x[:, :a])`` returns a :class:`BackboneState`; ``backbone(x[:, a:], state)`` continues the
stream and equals ``backbone(x)``. The memory resets only when no state is passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from titans_seq.models.blocks import BLOCKS, BlockState
from titans_seq.models.config import TitansConfig


@dataclass(frozen=True)
class BackboneState:
    """Everything needed to continue a stream: one :class:`BlockState` per block and the tokens seen."""

    layers: tuple[BlockState, ...]
    position: int = 0

    def detach(self) -> BackboneState:
        """The same state cut from the autograd graph (truncated backprop through long streams)."""
        return BackboneState(tuple(s.detach() for s in self.layers), self.position)


class TitansBackbone(nn.Module):
    """``config.depth`` blocks of ``config.variant`` (see :mod:`titans_seq.models.blocks`), then a norm.

    Parameters
    ----------
    config : :class:`TitansConfig`

    Shapes: ``x [B, T, dim]`` -> ``(y [B, T, dim], state)``.

    Examples
    --------
    >>> backbone = TitansBackbone(TitansConfig(variant="mac", dim=64))
    >>> y, state = backbone(torch.randn(2, 100, 64))
    >>> y2, state = backbone(torch.randn(2, 30, 64), state)  # the same stream, 30 tokens later
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        if not isinstance(config, TitansConfig):
            raise TypeError(f"config must be a TitansConfig, got {type(config).__name__}")
        self.config = config
        self.blocks = nn.ModuleList(BLOCKS[config.variant](config) for _ in range(config.depth))
        self.norm = nn.RMSNorm(config.dim)

    def forward(self, x: Tensor, state: BackboneState | None = None) -> tuple[Tensor, BackboneState]:
        """``x [B, T, dim]`` -> ``(y [B, T, dim], state)``; ``state`` continues an earlier stream."""
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.config.dim or x.shape[1] < 1:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a [B, T >= 1, dim={self.config.dim}] tensor, got {shape}")
        if state is None:
            state = BackboneState(tuple(BlockState() for _ in self.blocks))
        elif not isinstance(state, BackboneState):
            raise TypeError(f"state must be a BackboneState, got {type(state).__name__}")
        elif len(state.layers) != len(self.blocks):
            raise ValueError(f"state has {len(state.layers)} layers, this backbone has {len(self.blocks)}")
        length, layers = x.shape[1], []
        for block, layer_state in zip(self.blocks, state.layers, strict=True):
            x, layer_state = block(x, layer_state)
            layers.append(layer_state)
        return self.norm(x), BackboneState(tuple(layers), state.position + length)
