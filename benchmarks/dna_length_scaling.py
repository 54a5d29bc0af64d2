"""Time and peak memory of DNA classification at 1 kb to 1 Mb: prediction streamed in pieces, and training.

Each measurement runs in a fresh process (``--child``), so a peak is one call's alone. Two settings:

- ``default``  ``TitansSequenceClassifier()``'s model: no stem, one backbone token per base.
- ``gue``      the GUE benchmark's model (``benchmarks/dna_gue.py``'s defaults): a stem of 2 convolutions of
               width 9 max-pooled by 4, so the memory reads one token per 4 bases; one LMM block, max pooling.

Rows:

- ``predict``          ``TitansSequenceClassifier.predict_proba([sequence])`` end to end (tokenizing, the
                       Lightning predict loop), the model streaming the sequence ``piece_tokens`` (4096)
                       backbone tokens at a time.
- ``predict one pass`` the same with ``piece_tokens`` above the length (what the model did before it
                       streamed): its memory grows with the length.
- ``train step``       forward and backward of one sequence (cross-entropy), the autograd graph of the whole
                       sequence kept: linear in the length, not bounded.

``s / Mb`` is the time per million bases; a linear method keeps it flat. Peak memory is the resident set
above the start of the call, sampled every millisecond. Sequences are uniform random bases (speed does not
depend on the letters). Two threads.

Usage::

    python benchmarks/dna_length_scaling.py                      # the table (about 5 minutes)
    python benchmarks/dna_length_scaling.py --lengths 1000 10000  # a quick look

Writes ``benchmarks/results/dna_length_scaling.{md,csv}`` atomically.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import peak_rss_above_start_mb  # noqa: E402
from dna_gue import gue_backbone, write_atomic, write_csv_atomic  # noqa: E402

from titans_seq.data.dna import CharTokenizer  # noqa: E402
from titans_seq.estimators.classifier import TitansSequenceClassifier  # noqa: E402
from titans_seq.training.dna import DNAClassifierSystem  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {
    "default": {},
    "gue": {
        "backbone": gue_backbone().to_dict(),
        "pooling": "max",
        "stem_kernel": 9,
        "stem_layers": 2,
        "stem_stride": 4,
    },
}
MODES = ("predict", "predict one pass", "train step")
COLUMNS = ["setting", "mode", "length", "seconds", "s_per_mb", "peak_mb", "skipped"]


def build(setting: str, one_pass: bool) -> DNAClassifierSystem:
    torch.manual_seed(0)
    system = DNAClassifierSystem(num_classes=2, **SETTINGS[setting]).eval()
    if one_pass:
        system.model.piece_tokens = 10**9
    return system


def random_sequence(length: int) -> str:
    return "".join(np.random.default_rng(length).choice(list("ACGT"), length))


def measure(setting: str, mode: str, length: int) -> dict:
    """One measurement in this process: ``{"seconds", "peak_mb"}``."""
    torch.set_num_threads(2)
    system = build(setting, one_pass=mode == "predict one pass")
    sequence = random_sequence(length)
    if mode == "train step":
        system.train()
        ids = torch.as_tensor(CharTokenizer().encode(sequence))[None]
        label = torch.zeros(1, dtype=torch.long)

        def call() -> None:
            F.cross_entropy(system(ids), label).backward()
    else:
        estimator = TitansSequenceClassifier.from_system(system, classes=[0, 1])
        estimator.predict_proba([sequence[:100]])  # the first Lightning loop's set-up, outside the clock

        def call() -> None:
            estimator.predict_proba([sequence])

    start = time.perf_counter()
    _, peak = peak_rss_above_start_mb(call)
    return {"seconds": time.perf_counter() - start, "peak_mb": peak}


def skip_reason(mode: str, length: int, max_train: int, max_one_pass: int) -> str | None:
    if mode == "train step" and length > max_train:
        return f"above --max-train-length {max_train}"
    if mode == "predict one pass" and length > max_one_pass:
        return f"above --max-one-pass-length {max_one_pass}"
    return None


def markdown(rows: list[dict], command: str) -> str:
    out = io.StringIO()
    out.write("# DNA classification at any length: time and peak memory\n\n")
    out.write(f"- command: `{command}`\n")
    out.write(f"- machine: {platform.machine()}, torch {torch.__version__}, 2 threads\n")
    out.write("- settings and modes: see the docstring of `benchmarks/dna_length_scaling.py`\n\n")
    out.write("| setting | mode | length | seconds | s / Mb | peak MB |\n|---|---|---:|---:|---:|---:|\n")
    for r in rows:
        if r["skipped"]:
            out.write(f"| {r['setting']} | {r['mode']} | {r['length']:,} | skipped: {r['skipped']} | | |\n")
        else:
            out.write(
                f"| {r['setting']} | {r['mode']} | {r['length']:,} | {r['seconds']:.2f} "
                f"| {r['s_per_mb']:.1f} | {r['peak_mb']:.0f} |\n"
            )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--max-train-length", type=int, default=100_000)
    parser.add_argument("--max-one-pass-length", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=RESULTS / "dna_length_scaling")
    parser.add_argument("--child", nargs=3, metavar=("SETTING", "MODE", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setting, mode, length = args.child
        print(json.dumps(measure(setting, mode, int(length))))
        return
    rows = []
    for setting in args.settings:
        for mode in args.modes:
            for length in args.lengths:
                row = {"setting": setting, "mode": mode, "length": length, "skipped": ""}
                reason = skip_reason(mode, length, args.max_train_length, args.max_one_pass_length)
                if reason:
                    row.update(seconds="", s_per_mb="", peak_mb="", skipped=reason)
                else:
                    cmd = [sys.executable, __file__, "--child", setting, mode, str(length)]
                    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    got = json.loads(done.stdout.strip().splitlines()[-1])
                    row.update(got, s_per_mb=got["seconds"] / length * 1e6)
                rows.append(row)
                print(json.dumps(row), flush=True)
    command = "python benchmarks/dna_length_scaling.py " + " ".join(sys.argv[1:])
    write_atomic(args.output.with_suffix(".md"), markdown(rows, command.strip()))
    write_csv_atomic(args.output.with_suffix(".csv"), rows, COLUMNS)


if __name__ == "__main__":
    main()
