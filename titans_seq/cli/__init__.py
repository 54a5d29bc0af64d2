"""The ``titans-seq`` console script: ``titans-seq {forecast,dna} ...``.

Each domain owns its subcommands in its own module (``cli/forecast.py``, ``cli/dna.py``) exposing
``main(argv: list[str]) -> int``; this dispatcher only picks the domain.
"""

from __future__ import annotations

import importlib
import sys

DOMAINS = {"forecast": "titans_seq.cli.forecast", "dna": "titans_seq.cli.dna"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in DOMAINS:
        print("usage: titans-seq {forecast,dna} <command> [options]   (titans-seq forecast --help)")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(DOMAINS[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
