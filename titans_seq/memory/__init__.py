"""Pure functions of the neural long-term memory: state in, state out (no nn.Module, no Lightning)."""

from titans_seq.memory.chunk import memory_chunked
from titans_seq.memory.mlp import forward as retrieve
from titans_seq.memory.mlp import memory_shapes
from titans_seq.memory.naive import memory_naive
from titans_seq.memory.state import LOG_GATE_FLOOR, MemoryGates, MemoryState, PendingTokens, initial_state
from titans_seq.memory.validation import READS

__all__ = [
    "LOG_GATE_FLOOR",
    "READS",
    "MemoryGates",
    "MemoryState",
    "PendingTokens",
    "initial_state",
    "memory_chunked",
    "memory_naive",
    "memory_shapes",
    "retrieve",
]
