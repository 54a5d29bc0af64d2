"""Forecasting adapter: RevIN, patch embedding, channel independence and a horizon head on a Titans backbone.

The path of one window, with B windows, C channels, lookback L, horizon H, width D and Q outputs per step
(1 for a point forecast, one per quantile otherwise)::

    x [B, L, C] -> channels as series [B*C, L] -> RevIN (per series window) -> patches [B*C, N, P]
      -> embeddings [B*C, N, D] -> TitansBackbone -> [B*C, N, D] -> flatten head [B*C, H, Q]
      -> undo RevIN -> [B, H, C, Q]

Channel independence (PatchTST): every channel is forecast as its own univariate series with shared
weights, so one model serves any number of channels or series. The memory runs over the N patch tokens of
one window and starts fresh for every window: the prediction for a series depends on its last L values only
(as in every Time-Series-Library model), and the memory learns those values at test time, inside the
window, as it reads them. :mod:`titans_seq.adapters.history` adds a memory that reads the whole history
and passes this forecaster ``context_tokens`` summary tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn

from titans_seq._checks import check_int
from titans_seq.models import AttentionConfig, MemoryConfig, TitansBackbone, TitansConfig

# Defaults chosen for lookback-96 windows cut into about a dozen patches. The memory writes a chunk only
# once it is complete, so its chunk must be shorter than the patch sequence (the library default, 16, would
# leave a 12-patch window unwritten and the memory would mix nothing).
DEFAULT_MEMORY = MemoryConfig(heads=4, chunk_size=4, depth=2, expansion=2.0)
DEFAULT_ATTENTION = AttentionConfig(heads=4, window=8, persistent_tokens=4)


def n_patches(input_size: int, patch_len: int, stride: int) -> int:
    """Patches of a window of ``input_size`` values, PatchTST-style (``stride`` copies of the last value are
    appended so that the last patch ends on the newest value): ``(input_size - patch_len) // stride + 2``."""
    return (input_size - patch_len) // stride + 2


def check_quantiles(quantiles: tuple[float, ...] | None) -> None:
    """Raise ``ValueError`` unless ``quantiles`` is ``None`` or distinct, sorted values in (0, 1)."""
    if quantiles is None:
        return
    qs = list(quantiles)
    if not qs or any(not 0.0 < q < 1.0 for q in qs) or qs != sorted(set(qs)):
        raise ValueError(f"quantiles must be distinct, increasing values in (0, 1), got {quantiles!r}")


@dataclass(frozen=True)
class PatchForecasterConfig:
    """Shape of a :class:`PatchTitansForecaster`; every field is checked on construction.

    ``input_size`` (L) and ``h`` (H) fix the window; ``patch_len``/``stride`` cut it into
    ``n_patches`` tokens of width ``backbone.dim``. ``quantiles=None`` gives a point forecast.
    """

    input_size: int
    h: int
    patch_len: int = 16  # values per patch token
    stride: int = 8  # step between patch starts (overlapping patches when < patch_len)
    backbone: TitansConfig = field(
        default_factory=lambda: TitansConfig(
            variant="lmm",
            dim=64,
            depth=2,
            ffn_expansion=2.0,
            memory=DEFAULT_MEMORY,
            attention=DEFAULT_ATTENTION,
        )
    )
    dropout: float = 0.1  # on patch embeddings and before the head
    quantiles: tuple[float, ...] | None = None  # e.g. (0.1, 0.5, 0.9); None = point forecast
    revin: bool = True  # reversible instance normalisation of every window
    revin_affine: bool = False  # a learned scale/shift in RevIN (one pair shared by all series)
    # extra tokens before the patches, made from context vectors the caller passes (the history
    # forecaster's summary of everything older than the window); the head reads it too
    context_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_size", "h", "patch_len", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        check_int("context_tokens", self.context_tokens, 0)
        if self.patch_len > self.input_size:
            raise ValueError(f"patch_len={self.patch_len} is longer than input_size={self.input_size}")
        if not isinstance(self.backbone, TitansConfig):
            raise TypeError(f"backbone must be a TitansConfig, got {type(self.backbone).__name__}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.quantiles is not None:
            object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        check_quantiles(self.quantiles)
        tokens = self.n_patches
        chunk = self.backbone.memory.chunk_size
        if self.backbone.variant != "swa" and chunk >= tokens:
            raise ValueError(
                f"memory chunk_size={chunk} must be smaller than the {tokens} patches of a window "
                f"(input_size={self.input_size}, patch_len={self.patch_len}, stride={self.stride}): "
                "the memory writes only complete chunks, so it would never learn inside a window"
            )

    @property
    def n_patches(self) -> int:
        return n_patches(self.input_size, self.patch_len, self.stride)

    @property
    def n_tokens(self) -> int:
        """Backbone tokens per window: the context tokens, then the patches."""
        return self.n_patches + self.context_tokens

    @property
    def n_outputs(self) -> int:
        """Q: outputs per horizon step (1, or the number of quantiles)."""
        return 1 if self.quantiles is None else len(self.quantiles)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready); inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["backbone"] = self.backbone.to_dict()
        out["quantiles"] = None if self.quantiles is None else list(self.quantiles)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatchForecasterConfig:
        data = dict(data)
        backbone = TitansConfig.from_dict(data.pop("backbone"))
        quantiles = data.pop("quantiles", None)
        return cls(**data, backbone=backbone, quantiles=None if quantiles is None else tuple(quantiles))


class RevIN(nn.Module):
    """Reversible instance normalisation (Kim et al., ICLR 2022), one mean/std per series window.

    ``normalize`` maps ``x [N, L]`` to ``(x - mean) / std`` (optionally ``* weight + bias``); ``denormalize``
    inverts it on outputs ``[N, ...]`` with the same statistics. Without the affine pair, a forecaster
    ``f`` built on it is equivariant to positive scale and shift: ``f(a x + b) = a f(x) + b`` for ``a > 0``
    (up to ``eps``).

    Parameters
    ----------
    affine : bool
        Learn one scale/shift pair shared by all series (channel independence rules out one per channel).
    eps : float
        Added to the variance, so a constant window does not divide by zero.
    """

    def __init__(self, affine: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1)) if affine else None
        self.bias = nn.Parameter(torch.zeros(1)) if affine else None

    def normalize(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``x [N, L]`` -> ``(x_norm [N, L], (mean [N, 1], std [N, 1]))``."""
        mean = x.mean(dim=-1, keepdim=True)
        std = torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + self.eps)
        out = (x - mean) / std
        if self.weight is not None:
            out = out * self.weight + self.bias
        return out, (mean, std)

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        """``y [N, ...]`` -> ``y`` in the scale of the input series (inverse of :meth:`normalize`)."""
        mean, std = stats
        if self.weight is not None:
            # the affine weight may cross zero during training; keep the inverse finite
            y = (y - self.bias) / (self.weight + self.eps * torch.sign(self.weight.detach()) + 1e-12)
        shape = (y.shape[0],) + (1,) * (y.dim() - 1)
        return y * std.reshape(shape) + mean.reshape(shape)


class PatchEmbedding(nn.Module):
    """Cut series into patches and embed them: ``x [N, L]`` -> ``[N, n_patches, dim]``.

    The window is padded at the end with ``stride`` copies of its last value (PatchTST's ``padding="end"``)
    so the last patch always ends on the newest value. Each patch is projected linearly and gets a learned
    position embedding.
    """

    def __init__(self, input_size: int, patch_len: int, stride: int, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.patch_len, self.stride = patch_len, stride
        self.n_patches = n_patches(input_size, patch_len, stride)
        self.project = nn.Linear(patch_len, dim)
        self.position = nn.Parameter(torch.randn(self.n_patches, dim) * 0.02)
        self.dropout = nn.Dropout(dropout)

    def patches(self, x: Tensor) -> Tensor:
        """``x [N, L]`` -> ``[N, n_patches, patch_len]`` (end-padded, then unfolded)."""
        padded = torch.cat([x, x[:, -1:].expand(-1, self.stride)], dim=1)
        return padded.unfold(dimension=1, size=self.patch_len, step=self.stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.project(self.patches(x)) + self.position)


class HorizonHead(nn.Module):
    """Flatten head (PatchTST): ``[N, n_patches, dim]`` -> ``[N, h, n_outputs]`` through one linear map."""

    def __init__(self, n_tokens: int, dim: int, h: int, n_outputs: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.h, self.n_outputs = h, n_outputs
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(n_tokens * dim, h * n_outputs)

    def forward(self, tokens: Tensor) -> Tensor:
        flat = self.dropout(rearrange(tokens, "n t d -> n (t d)"))
        return rearrange(self.linear(flat), "n (h q) -> n h q", q=self.n_outputs)


class PatchTitansForecaster(nn.Module):
    """Channel-independent patch forecaster on a Titans backbone: ``x [B, L, C]`` -> ``[B, H, C, Q]``.

    Parameters
    ----------
    config : PatchForecasterConfig

    Notes
    -----
    With quantiles the Q outputs are sorted along the last axis, so quantile forecasts never cross.

    Examples
    --------
    >>> model = PatchTitansForecaster(PatchForecasterConfig(input_size=96, h=24))
    >>> model(torch.randn(8, 96, 7)).shape
    torch.Size([8, 24, 7, 1])
    """

    def __init__(self, config: PatchForecasterConfig) -> None:
        super().__init__()
        if not isinstance(config, PatchForecasterConfig):
            raise TypeError(f"config must be a PatchForecasterConfig, got {type(config).__name__}")
        self.config = config
        dim = config.backbone.dim
        self.revin = RevIN(affine=config.revin_affine) if config.revin else None
        self.embed = PatchEmbedding(config.input_size, config.patch_len, config.stride, dim, config.dropout)
        self.backbone = TitansBackbone(config.backbone)
        k = config.context_tokens
        self.context = nn.Linear(dim, dim) if k else None
        # with one context token the projection's bias is its position; more need telling apart
        self.context_position = nn.Parameter(torch.randn(k, dim) * 0.02) if k > 1 else None
        self.head = HorizonHead(config.n_tokens, dim, config.h, config.n_outputs, config.dropout)

    def encode(self, series: Tensor, context: Tensor | None = None) -> Tensor:
        """Normalised series ``[N, L]`` (and the context ``[N, context_tokens, dim]``) -> backbone outputs
        per token ``[N, n_tokens, dim]``, the context tokens first (causal in tokens: output ``i``
        depends on tokens ``0..i`` only)."""
        tokens = self.embed(series)
        if self.context is not None:
            context = self.context(context)
            if self.context_position is not None:
                context = context + self.context_position
            tokens = torch.cat([context, tokens], dim=1)
        out, _ = self.backbone(tokens)
        return out

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``x [B, L, C]`` -> forecasts ``[B, H, C, Q]`` in the scale of ``x``.

        ``context [B*C, context_tokens, dim]`` (series ``b * C + c``) is required with ``context_tokens``
        and refused without.
        """
        if x.dim() != 3 or x.shape[1] != self.config.input_size:
            raise ValueError(f"x must be [B, input_size={self.config.input_size}, C], got {tuple(x.shape)}")
        channels = x.shape[2]
        expected = (x.shape[0] * channels, self.config.context_tokens, self.config.backbone.dim)
        if self.context is None and context is not None:
            raise ValueError("this forecaster has no context tokens: pass context=None")
        if self.context is not None and (context is None or tuple(context.shape) != expected):
            got = None if context is None else tuple(context.shape)
            raise ValueError(
                f"context must be a {list(expected)} tensor (context vectors per series), got {got}"
            )
        series = rearrange(x, "b l c -> (b c) l")
        stats = None
        if self.revin is not None:
            series, stats = self.revin.normalize(series)
        y = self.head(self.encode(series, context))  # [B*C, H, Q]
        if self.config.quantiles is not None:
            y, _ = torch.sort(y, dim=-1)
        if stats is not None:
            y = self.revin.denormalize(y, stats)
        return rearrange(y, "(b c) h q -> b h c q", c=channels)


def build_config(
    *,
    h: int,
    input_size: int,
    variant: str = "lmm",
    hidden_size: int = 64,
    n_layers: int = 2,
    patch_len: int = 16,
    stride: int = 8,
    quantiles: tuple[float, ...] | None = None,
    dropout: float = 0.1,
    ffn_expansion: float = 2.0,
    memory: dict[str, Any] | None = None,
    attention: dict[str, Any] | None = None,
    revin: bool = True,
    revin_affine: bool = False,
    context_tokens: int = 0,
) -> PatchForecasterConfig:
    """A :class:`PatchForecasterConfig` from flat arguments (the form estimators and YAML recipes use).

    ``memory`` / ``attention`` override fields of :data:`DEFAULT_MEMORY` / :data:`DEFAULT_ATTENTION`;
    unknown keys raise ``ValueError`` naming them and the allowed ones.
    """
    mem = _override(DEFAULT_MEMORY, memory, "memory")
    att = _override(DEFAULT_ATTENTION, attention, "attention")
    backbone = TitansConfig(
        variant=variant,
        dim=hidden_size,
        depth=n_layers,
        ffn_expansion=ffn_expansion,
        memory=mem,
        attention=att,
    )
    return PatchForecasterConfig(
        input_size=input_size,
        h=h,
        patch_len=patch_len,
        stride=stride,
        backbone=backbone,
        dropout=dropout,
        quantiles=None if quantiles is None else tuple(quantiles),
        revin=revin,
        revin_affine=revin_affine,
        context_tokens=context_tokens,
    )


def _override(default: Any, values: dict[str, Any] | None, name: str) -> Any:
    values = dict(values or {})
    allowed = sorted(asdict(default))
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {name} option(s) {unknown}; allowed: {allowed}")
    return type(default)(**(asdict(default) | values))
