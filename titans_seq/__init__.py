"""titans_seq: the Titans neural long-term memory for time series and DNA."""

from titans_seq.layers import NeuralMemory
from titans_seq.memory import MemoryState

__all__ = ["MemoryState", "NeuralMemory"]
__version__ = "0.1.0"
