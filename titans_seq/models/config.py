"""Typed, frozen configuration of a Titans backbone, with the paper's ablations as one-line switches.

``TitansConfig`` holds the shape of the model; ``MemoryConfig`` the long-term memory (one per block);
``AttentionConfig`` the short-term memory (windowed attention and persistent tokens). Every field is
validated on construction: a mistake raises ``ValueError`` naming the field and what is allowed.

Ablations (paper Table 5), one at a time with :meth:`TitansConfig.ablate`:

====================  =========================================  ===============================
name                  what changes                               paper row
====================  =========================================  ===============================
``linear_memory``     ``memory.depth = 1`` (a matrix memory)     "Linear Memory"
``no_momentum``       ``memory.momentum = False``                "w/o Momentum"
``no_weight_decay``   ``memory.weight_decay = False``            "w/o Weight Decay"
``no_persistent``     ``attention.persistent_tokens = 0``        "w/o Persistent Memory"
``no_convolution``    ``memory.conv_kernel = 0``                 "w/o Convolution"
``no_attention``      ``variant = "lmm"``                        "w/o Attention"
====================  =========================================  ===============================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from titans_seq._checks import check_int

# The registry in ``blocks.py`` holds one block per name; a test pins the two together.
VARIANTS = ("lmm", "mac", "mag", "mal", "swa")
POSITIONS = ("learned", "none", "rotary")
MEMORY_KERNELS = ("chunk", "compiled", "naive")  # NeuralMemory's kernels; a test pins the two together
MEMORY_READS = ("token", "chunk_start")  # the memory kernels' reads; a test pins the two together


@dataclass(frozen=True)
class MemoryConfig:
    """The neural long-term memory of each block (see :class:`titans_seq.NeuralMemory`)."""

    heads: int = 4  # independent memories; must divide the model width
    chunk_size: int = 16  # tokens per parallel chunk (gradients at chunk-start weights); MAC: divides window
    depth: int = 2  # layers of the memory MLP; 1 = linear (matrix) memory
    expansion: float = 4.0  # hidden width of a deep memory, as a multiple of the head width
    momentum: bool = True  # past surprise (eta); False = "w/o momentum"
    weight_decay: bool = True  # forget gate (alpha); False = "w/o weight decay"
    conv_kernel: int = 4  # causal depthwise conv after q/k/v; 0 = "w/o convolution"
    max_lr: float = 0.1  # upper bound of the inner learning rate theta
    max_grad_norm: float | None = 1.0  # clamp on each token's surprise norm (stability); None = off
    kernel: str = "chunk"  # "chunk" (parallel), "compiled" (chunk via torch.compile) or "naive" (reference)
    read: str = "token"  # "token": y_t = M_t(q_t) (the paper); "chunk_start": chunk-start weights (ablation)

    def __post_init__(self) -> None:
        check_int("memory.heads", self.heads, 1)
        check_int("memory.chunk_size", self.chunk_size, 1)
        check_int("memory.depth", self.depth, 1)
        check_int("memory.conv_kernel", self.conv_kernel, 0)
        _check_positive("memory.expansion", self.expansion)
        _check_positive("memory.max_lr", self.max_lr)
        if self.max_grad_norm is not None:
            _check_positive("memory.max_grad_norm", self.max_grad_norm, "or None")
        _check_bool("memory.momentum", self.momentum)
        _check_bool("memory.weight_decay", self.weight_decay)
        _check_choice("memory.kernel", self.kernel, MEMORY_KERNELS)
        _check_choice("memory.read", self.read, MEMORY_READS)


@dataclass(frozen=True)
class AttentionConfig:
    """The short-term memory: causal windowed attention with persistent tokens."""

    heads: int = 4  # attention heads; must divide the model width
    window: int = 64  # sliding-window width (MAG, MAL, SWA) and segment length (MAC)
    persistent_tokens: int = 4  # learnable tokens prepended to every window; 0 = "w/o persistent memory"
    positions: str = "rotary"  # "rotary", "learned" (bias per head and distance) or "none"

    def __post_init__(self) -> None:
        check_int("attention.heads", self.heads, 1)
        check_int("attention.window", self.window, 1)
        check_int("attention.persistent_tokens", self.persistent_tokens, 0)
        _check_choice("attention.positions", self.positions, POSITIONS)


@dataclass(frozen=True)
class TitansConfig:
    """A Titans backbone ``[B, T, dim] -> [B, T, dim]``: ``depth`` blocks of one ``variant``.

    Variants: ``"mac"`` (memory as context), ``"mag"`` (memory as gate), ``"mal"`` (memory as layer),
    ``"lmm"`` (memory only) and ``"swa"`` (sliding-window attention only: the control without memory).

    Examples
    --------
    >>> cfg = TitansConfig(variant="mag", dim=64, attention=AttentionConfig(window=32))
    >>> cfg.ablate("no_momentum").memory.momentum
    False
    """

    variant: str = "mac"  # which block the backbone stacks
    dim: int = 64  # model width
    depth: int = 2  # number of blocks
    ffn_expansion: float = 4.0  # hidden width of each block's feed-forward, as a multiple of dim
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)

    def __post_init__(self) -> None:
        _check_choice("variant", self.variant, VARIANTS)
        check_int("dim", self.dim, 1)
        check_int("depth", self.depth, 1)
        _check_positive("ffn_expansion", self.ffn_expansion)
        if not isinstance(self.memory, MemoryConfig):
            raise TypeError(f"memory must be a MemoryConfig, got {type(self.memory).__name__}")
        if not isinstance(self.attention, AttentionConfig):
            raise TypeError(f"attention must be an AttentionConfig, got {type(self.attention).__name__}")
        for name, heads in (("memory.heads", self.memory.heads), ("attention.heads", self.attention.heads)):
            if self.dim % heads:
                raise ValueError(
                    f"{name}={heads} must divide dim={self.dim}; allowed {name}: {_divisors(self.dim)}"
                )
        head_width = self.dim // self.attention.heads
        if self.attention.positions == "rotary" and head_width % 2:
            raise ValueError(
                f"attention.positions='rotary' needs an even head width, got dim // attention.heads = "
                f"{head_width}; allowed attention.positions: {list(POSITIONS)} or an even head width"
            )
        if self.variant == "mac" and self.attention.window % self.memory.chunk_size:
            # a segment must end on a chunk boundary, or its writes would still be pending when the next
            # segment reads the memory
            raise ValueError(
                f"memory.chunk_size={self.memory.chunk_size} must divide attention.window="
                f"{self.attention.window} for variant 'mac'; allowed memory.chunk_size: "
                f"{_divisors(self.attention.window)}"
            )

    def ablate(self, name: str) -> TitansConfig:
        """This configuration with one ablation of the paper switched on (see the module docstring)."""
        _check_choice("ablation", name, tuple(ABLATIONS))
        return ABLATIONS[name](self)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TitansConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError`` naming them."""
        data = dict(data)
        memory = MemoryConfig(**data.pop("memory", {}))
        attention = AttentionConfig(**data.pop("attention", {}))
        return cls(**data, memory=memory, attention=attention)


ABLATIONS: dict[str, Callable[[TitansConfig], TitansConfig]] = {
    "linear_memory": lambda c: replace(c, memory=replace(c.memory, depth=1)),
    "no_momentum": lambda c: replace(c, memory=replace(c.memory, momentum=False)),
    "no_weight_decay": lambda c: replace(c, memory=replace(c.memory, weight_decay=False)),
    "no_persistent": lambda c: replace(c, attention=replace(c.attention, persistent_tokens=0)),
    "no_convolution": lambda c: replace(c, memory=replace(c.memory, conv_kernel=0)),
    "no_attention": lambda c: replace(c, variant="lmm"),
}


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_positive(name: str, value: object, also: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0{' ' + also if also else ''}, got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
