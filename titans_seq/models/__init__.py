"""Titans models: one backbone stacking the blocks of a variant (MAC, MAG, MAL, LMM; SWA control)."""

from titans_seq.models.backbone import BackboneState, TitansBackbone
from titans_seq.models.blocks import BLOCKS, Block, BlockState
from titans_seq.models.config import ABLATIONS, VARIANTS, AttentionConfig, MemoryConfig, TitansConfig

__all__ = [
    "ABLATIONS",
    "BLOCKS",
    "VARIANTS",
    "AttentionConfig",
    "BackboneState",
    "Block",
    "BlockState",
    "MemoryConfig",
    "TitansBackbone",
    "TitansConfig",
]
