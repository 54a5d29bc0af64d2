"""titans_seq: the Titans neural long-term memory for time series and DNA.

``NeuralMemory`` and ``MemoryState`` import eagerly (torch only). The estimators import lazily, on first
access, so that ``import titans_seq`` does not pull in Lightning and pandas.
"""

from titans_seq.layers import NeuralMemory
from titans_seq.memory import MemoryState

__all__ = ["MemoryState", "NeuralMemory", "TitansForecaster", "TitansSequenceClassifier"]
__version__ = "0.1.0"

_LAZY = {
    "TitansForecaster": "titans_seq.estimators.forecaster",
    "TitansSequenceClassifier": "titans_seq.estimators.classifier",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'titans_seq' has no attribute {name!r}")
