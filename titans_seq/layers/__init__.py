"""nn.Modules that own parameters and call the pure memory kernels."""

from titans_seq.layers.neural_memory import NeuralMemory

__all__ = ["NeuralMemory"]
