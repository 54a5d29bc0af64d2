"""nn.Modules that own parameters and call the pure memory kernels."""

from titans_seq.layers.attention import AttentionCache, WindowedAttention
from titans_seq.layers.feedforward import FeedForward
from titans_seq.layers.neural_memory import NeuralMemory

__all__ = ["AttentionCache", "FeedForward", "NeuralMemory", "WindowedAttention"]
