"""Shared by the tests of the scripts in ``benchmarks/`` (they are scripts, not an importable package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_script(stem: str) -> ModuleType:
    """A fresh module object of ``benchmarks/<stem>.py``."""
    spec = importlib.util.spec_from_file_location(stem, ROOT / "benchmarks" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
