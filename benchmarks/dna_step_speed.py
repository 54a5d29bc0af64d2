"""Training-step speed of the GUE Titans classifier against the CNN baseline, and what the folded stem saves.

Why: on the CPU budget of ``benchmarks/dna_gue.py`` the number of epochs a model gets is its step speed, and
the CNN baseline ran about twice as many epochs per CPU second as Titans. This times one training step
(forward, cross-entropy, backward, AdamW) at batch 64, interleaved repetition by repetition in one process
with one torch thread (the machine is shared and noisy: only same-run ratios mean anything), for:

- ``titans``           the GUE setting, built from ``dna_gue.py``'s defaults (width 64, one LMM block,
                       linear memory, a stem of two causal convolutions of width 9, max over 4 bases,
                       dropout 0.1 before the head), as ``DNAClassifier`` runs it: the first stem
                       convolution reads one-hot codes, with the embedding folded into its weights
- ``titans-conv-stem`` the same weights with the stem as it ran before (every convolution an ``nn.Conv1d``
                       of the embedded tokens, the groups' max through a padded reshape)
- ``cnn``              the ``SmallCNN`` baseline of ``dna_gue.py``

Usage::

    python benchmarks/dna_step_speed.py                 # lengths 101 (TF tasks) and 300 (promoters)
    python benchmarks/dna_step_speed.py --lengths 70 --repeats 5 --output /tmp/speed

Writes ``OUTPUT.md`` (default ``benchmarks/results/dna_step_speed.md``) atomically.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dna_gue import SmallCNN, build_parser, titans_backbone, write_atomic  # noqa: E402

from titans_seq.adapters.dna import DNAClassifier  # noqa: E402
from titans_seq.data.dna import CharTokenizer  # noqa: E402

BATCH = 64
MODELS = ("titans", "titans-conv-stem", "cnn")
RESULTS = Path(__file__).resolve().parent / "results"
GUE_SETTINGS = build_parser().parse_args([])  # dna_gue.py's defaults: the model it trains


class ConvStemClassifier(DNAClassifier):
    """``DNAClassifier`` with the stem as it ran before: embed, then ``nn.Conv1d`` on the embedded tokens
    (transposed to channels-first and back around them), then a padded reshape and a max for the groups."""

    def _stem(self, ids: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.embedding(ids).transpose(1, 2)  # [B, D, L]
        for conv in self.stem:
            h = nn.functional.gelu(conv(nn.functional.pad(h, (conv.kernel_size[0] - 1, 0))))
        h, stride = h.transpose(1, 2), self.stem_stride  # [B, L, D]
        batch, length, dim = h.shape
        groups = -(-length // stride)
        h = h.masked_fill(~mask[:, :, None], float("-inf"))
        h = nn.functional.pad(h, (0, 0, 0, groups * stride - length), value=float("-inf"))
        h = h.view(batch, groups, stride, dim).amax(2)
        lengths = torch.div(lengths + stride - 1, stride, rounding_mode="floor")
        mask = torch.arange(groups, device=h.device) < lengths[:, None]
        return h.masked_fill(~mask[:, :, None], 0.0), mask, lengths


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    tok = CharTokenizer()
    if name == "cnn":
        return SmallCNN(tok.vocab_size, tok.complement.tolist(), 2)
    gue = GUE_SETTINGS
    if gue.kmer != 1:
        raise SystemExit(f"this script times one token per base; dna_gue.py now reads {gue.kmer}-mers")
    cls = ConvStemClassifier if name == "titans-conv-stem" else DNAClassifier
    return cls(
        titans_backbone(gue),
        2,
        vocab_size=tok.vocab_size,
        complement=tok.complement,
        pooling=gue.pooling,
        dropout=gue.dropout,
        stem_kernel=gue.stem_kernel,
        stem_layers=gue.stem_layers,
        stem_stride=gue.stem_stride,
        strands=gue.strands,
    )


def time_steps(length: int, repeats: int) -> dict[str, float]:
    """Median CPU seconds per training step of each model at this sequence length."""
    generator = torch.Generator().manual_seed(length)
    ids = torch.randint(1, 5, (BATCH, length), generator=generator)  # A, C, G, T
    mask = torch.ones_like(ids, dtype=torch.bool)
    labels = torch.randint(0, 2, (BATCH,), generator=generator)
    models = {name: build(name) for name in MODELS}
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-3) for name, model in models.items()}
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    for repeat in range(repeats + 2):  # two warm-up steps each
        for name, model in models.items():
            start = time.process_time()
            loss = nn.functional.cross_entropy(model(ids, mask), labels)
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            if repeat >= 2:
                times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# GUE classifier: CPU time per training step",
        "",
        f"Written by `benchmarks/dna_step_speed.py --lengths {' '.join(map(str, args.lengths))} --repeats "
        f"{args.repeats}` on {time.strftime('%Y-%m-%d %H:%M')} ({platform.machine()}, "
        f"torch {torch.__version__}, 1 thread). Batch {BATCH}; median CPU ms of forward + backward + AdamW "
        "over interleaved repetitions; ratios are within this run.",
        "",
        "| length | titans ms | titans-conv-stem ms | cnn ms | conv-stem / titans | titans / cnn |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ms = " | ".join(f"{r[name] * 1e3:.1f}" for name in MODELS)
        ratios = f"{r['titans-conv-stem'] / r['titans']:.2f} | {r['titans'] / r['cnn']:.2f}"
        lines.append(f"| {r['length']} | {ms} | {ratios} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", nargs="+", type=int, default=[101, 300], help="sequence lengths in bases")
    p.add_argument("--repeats", type=int, default=20, help="timed steps per model and length")
    p.add_argument("--output", type=Path, default=RESULTS / "dna_step_speed", help="writes OUTPUT.md")
    args = p.parse_args(argv)
    if args.repeats < 1 or min(args.lengths) < 1:
        p.error(f"--repeats and --lengths must be >= 1, got {args.repeats} and {args.lengths}")
    torch.set_num_threads(1)
    rows = []
    for length in args.lengths:
        rows.append({"length": length, **time_steps(length, args.repeats)})
        print(markdown(rows, args).splitlines()[-1], flush=True)
    write_atomic(args.output.with_suffix(".md"), markdown(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
