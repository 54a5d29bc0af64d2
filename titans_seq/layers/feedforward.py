"""Position-wise feed-forward of every Titans block."""

from __future__ import annotations

from torch import Tensor, nn


class FeedForward(nn.Module):
    """Two-layer GELU MLP ``[B, T, dim] -> [B, T, dim]`` with hidden width ``int(dim * expansion)``."""

    def __init__(self, dim: int, expansion: float = 4.0) -> None:
        super().__init__()
        if not expansion > 0:
            raise ValueError(f"expansion must be > 0, got {expansion}")
        hidden = max(1, int(dim * expansion))
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
