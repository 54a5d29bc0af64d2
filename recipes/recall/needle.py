"""Needles beyond the attention window: does the long-term memory recall what attention cannot see?

Task (multi-needle associative recall). A sequence of ``L`` tokens is a haystack of random distractor tokens
in which ``pairs`` needles ``(key, value)`` (two adjacent tokens, distinct keys) sit at random depths; it
ends with a separator and the ``pairs`` keys again, in random order. At each of these query positions the
model must name the value that followed that key. Every needle lies at least ``gap = depth * window``
tokens before the first query, i.e. beyond the receptive field of ``depth`` stacked sliding windows: only
a long-term memory can carry it, and the attention-only control is at chance (``1 / values``) by design.

Models: token embedding -> ``TitansBackbone`` (MAC, MAG, MAL, LMM, or the sliding-window control ``swa``;
same width and depth) -> linear read-out over the value tokens. Each model trains for a fixed wall-time
budget, then is evaluated at 4x, 16x and 64x the window (by default) on the same fixed sequences.

Training curriculum: lengths ``W, 2W, 4W, 8W, 16W`` unlock one after another over the first half of the
budget and are then sampled uniformly; a constant number of tokens per step. Training needles sit at
least ``min(gap, L / 4)`` tokens before the queries: short sequences with nearer needles teach the
write-then-read mechanism in a few hundred steps (with the full gap from the start, 300 steps of MAG
stayed at chance), and the evaluation always uses the full gap.

Usage::

    python recipes/recall/needle.py --minutes 15 --output recipes/recall/results.md
    python recipes/recall/needle.py --variants mag,swa --minutes 0.5 --lengths 256   # smoke run

On a shared machine pass ``--threads 1``: two OpenMP threads competing with other processes for two cores
ran 5-10x slower here.

The results table is written as markdown (``--output``) and CSV (same name, ``.csv``), atomically, after
each model, so an interrupted run leaves the models finished so far.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titans_seq.models import VARIANTS, AttentionConfig, MemoryConfig, TitansBackbone, TitansConfig


@dataclass(frozen=True)
class RecallTask:
    """Token layout: 0 = separator, then ``keys`` key tokens, ``values`` value tokens, ``distractors``."""

    keys: int = 16
    values: int = 16
    distractors: int = 64
    pairs: int = 8
    gap: int = 128  # minimum distance from any needle to the first query

    @property
    def vocab(self) -> int:
        return 1 + self.keys + self.values + self.distractors

    def min_length(self, gap: int | None = None) -> int:
        return (self.gap if gap is None else gap) + 3 * self.pairs + 1

    def sample(
        self, batch: int, length: int, gen: torch.Generator, gap: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``tokens [B, L]``, query positions ``[B, pairs]`` and their answers (value indices) ``[B, pairs]``.

        The same generator state gives the same sequences."""
        gap = self.gap if gap is None else gap
        if length < self.min_length(gap):
            raise ValueError(f"length must be >= {self.min_length(gap)} for this task, got {length}")
        k, v, p = self.keys, self.values, self.pairs
        first_value = 1 + k
        tokens = 1 + k + v + torch.randint(self.distractors, (batch, length), generator=gen)
        sep = length - p - 1
        # needle i occupies slot s: key at 2s, value at 2s + 1 <= sep + 1 - gap (gap before the first query)
        slots = (sep - gap) // 2 + 1
        slot = torch.rand(batch, slots, generator=gen).argsort(dim=1)[:, :p]
        key_ids = torch.rand(batch, k, generator=gen).argsort(dim=1)[:, :p]  # distinct keys
        answers = torch.randint(v, (batch, p), generator=gen)
        tokens.scatter_(1, 2 * slot, 1 + key_ids)
        tokens.scatter_(1, 2 * slot + 1, first_value + answers)
        tokens[:, sep] = 0
        order = torch.rand(batch, p, generator=gen).argsort(dim=1)
        tokens[:, sep + 1 :] = 1 + key_ids.gather(1, order)
        queries = torch.arange(sep + 1, length).expand(batch, p)
        return tokens, queries, answers.gather(1, order)


class RecallModel(nn.Module):
    """Embedding -> Titans backbone -> logits over the value tokens at the query positions."""

    def __init__(self, config: TitansConfig, task: RecallTask) -> None:
        super().__init__()
        self.embed = nn.Embedding(task.vocab, config.dim)
        self.backbone = TitansBackbone(config)
        self.head = nn.Linear(config.dim, task.values)

    def forward(self, tokens: Tensor, queries: Tensor) -> Tensor:
        """``tokens [B, L]``, ``queries [B, P]`` -> logits ``[B, P, values]``."""
        h, _ = self.backbone(self.embed(tokens))
        h = h.gather(1, queries.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
        return self.head(h)


def build_config(variant: str, args: argparse.Namespace) -> TitansConfig:
    return TitansConfig(
        variant=variant,
        dim=args.dim,
        depth=args.depth,
        ffn_expansion=2.0,
        memory=MemoryConfig(
            heads=args.heads,
            chunk_size=args.chunk,
            depth=args.memory_depth,
            expansion=2.0,
            max_lr=args.max_lr,
            max_grad_norm=1.0,
            read=args.memory_read,
        ),
        attention=AttentionConfig(heads=args.heads, window=args.window, persistent_tokens=4),
    )


def train(model: RecallModel, task: RecallTask, args: argparse.Namespace, log) -> dict[str, float]:
    """Train for ``args.minutes`` of wall time; curriculum: longer lengths unlock over the first half."""
    gen = torch.Generator().manual_seed(args.seed)
    pick = random.Random(args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    budget = args.minutes * 60.0
    lengths = sorted(args.train_lengths)
    start = time.perf_counter()
    step, tokens_seen, recent = 0, 0, []
    last_log = start
    model.train()
    while (elapsed := time.perf_counter() - start) < budget:
        frac = elapsed / budget
        unlocked = min(len(lengths), 1 + int(2 * frac * len(lengths)))
        length = pick.choice(lengths[:unlocked])
        batch = max(1, args.batch_tokens // length)
        # Short training sequences with nearer needles teach the write/read mechanism quickly; the evaluation
        # always uses the full gap.
        gap = max(2, min(task.gap, length // 4))
        tokens, queries, answers = task.sample(batch, length, gen, gap=gap)
        logits = model(tokens.to(args.device), queries.to(args.device))
        loss = F.cross_entropy(logits.flatten(0, 1), answers.to(args.device).flatten())
        if not torch.isfinite(loss):
            raise RuntimeError(f"non-finite training loss {loss.item()} at step {step} (length {length})")
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += tokens.numel()
        acc = (logits.argmax(-1) == answers.to(logits.device)).float().mean().item()
        recent = (recent + [(loss.item(), acc)])[-20:]
        if time.perf_counter() - last_log > args.log_every:
            last_log = time.perf_counter()
            mean_loss = sum(r[0] for r in recent) / len(recent)
            mean_acc = sum(r[1] for r in recent) / len(recent)
            log(f"  step {step:5d}  {elapsed:6.0f}s  L={length:5d}  loss {mean_loss:.3f}  acc {mean_acc:.3f}")
    final_loss = sum(r[0] for r in recent) / max(1, len(recent))
    return {"steps": step, "tokens": tokens_seen, "seconds": time.perf_counter() - start, "loss": final_loss}


@torch.no_grad()
def evaluate(model: RecallModel, task: RecallTask, length: int, args: argparse.Namespace) -> float:
    """Accuracy over ``args.eval_sequences`` fixed sequences (the same for every model)."""
    gen = torch.Generator().manual_seed(10_000 + length)
    model.eval()
    correct = total = 0
    remaining = args.eval_sequences
    while remaining:
        batch = min(remaining, max(1, args.eval_tokens // length))
        tokens, queries, answers = task.sample(batch, length, gen)
        logits = model(tokens.to(args.device), queries.to(args.device))
        if not torch.isfinite(logits).all():
            raise RuntimeError(f"non-finite logits at evaluation length {length}")
        correct += (logits.argmax(-1).cpu() == answers).sum().item()
        total += answers.numel()
        remaining -= batch
    return correct / total


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes the file private; a results table is for everyone to read
    os.replace(tmp, path)


def render(rows: list[dict], args: argparse.Namespace, task: RecallTask) -> tuple[str, str]:
    """Markdown report and CSV of the rows so far."""
    lengths = args.lengths
    acc_cols = [f"acc@{n} ({n // args.window}x W)" for n in lengths]
    header = ["variant", "params", "train s", "steps", "train tokens", "train loss", *acc_cols, "eval s"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        accs = [f"{r[f'acc@{n}']:.3f}" for n in lengths]
        cells = [r["variant"], f"{r['params']:,}", f"{r['seconds']:.0f}", str(r["steps"]), f"{r['tokens']:,}"]
        table.append(
            "| " + " | ".join([*cells, f"{r['loss']:.3f}", *accs, f"{r['eval_seconds']:.0f}"]) + " |"
        )
    md = "\n".join(
        [
            "# Needle recall beyond the attention window",
            "",
            f"Generated by `python {' '.join(sys.argv)}`.",
            "",
            f"Window/segment W = {args.window}; model width {args.dim}, {args.depth} blocks, "
            f"{args.heads} heads; memory chunk {args.chunk}, {args.memory_read} read. "
            f"Task: {task.pairs} needles (key, value) among "
            f"random distractors ({task.keys} keys, {task.values} values, {task.distractors} distractors), "
            f"every needle >= {task.gap} tokens before the queries; chance = 1/{task.values} = "
            f"{1 / task.values:.3f}. Training: {args.minutes} min per model on {torch.get_num_threads()} "
            f"threads ({args.device}), lengths {args.train_lengths}, {args.batch_tokens} tokens per step; "
            f"evaluation on {args.eval_sequences} sequences per length ({args.eval_sequences * task.pairs} "
            "queries). Train loss: mean of the last 20 steps (mixed lengths, nearer needles).",
            "",
            *table,
            "",
        ]
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["variant"])
    writer.writeheader()
    writer.writerows(rows)
    return md, buf.getvalue()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--variants", default="mac,mag,mal,lmm,swa", help="comma-separated, from " + ",".join(VARIANTS)
    )
    p.add_argument("--lengths", type=ints, default=None, help="evaluation lengths (default 4W,16W,64W)")
    p.add_argument("--minutes", type=float, default=15.0, help="training wall-time budget per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    p.add_argument("--window", type=int, default=64, help="attention window = MAC segment length W")
    p.add_argument("--train-lengths", type=ints, default=None, help="curriculum (default W,2W,4W,8W,16W)")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--chunk", type=int, default=16, help="memory chunk size (divides W)")
    p.add_argument("--memory-depth", type=int, default=2, help="layers of the memory MLP (1 = linear)")
    p.add_argument(
        "--memory-read",
        choices=("token", "chunk_start"),
        default="token",
        help="token: each query reads its own token's weights; chunk_start: its chunk's (the ablation)",
    )
    p.add_argument("--max-lr", type=float, default=0.1, help="upper bound of the memory's inner step")
    p.add_argument("--pairs", type=int, default=8, help="needles per sequence")
    p.add_argument("--distractors", type=int, default=64, help="distractor vocabulary size")
    p.add_argument("--keys", type=int, default=16)
    p.add_argument("--values", type=int, default=16, help="value tokens (chance = 1 / values)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--batch-tokens", type=int, default=4096, help="tokens per training step")
    p.add_argument("--eval-sequences", type=int, default=256)
    p.add_argument("--eval-tokens", type=int, default=32768, help="tokens per evaluation batch")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--log-every", type=float, default=30.0, help="seconds between progress lines")
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        p.error(f"--variants: unknown {unknown}; allowed: {list(VARIANTS)}")
    args.lengths = args.lengths or [4 * args.window, 16 * args.window, 64 * args.window]
    args.train_lengths = args.train_lengths or [args.window * f for f in (1, 2, 4, 8, 16)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # A memory whose forget gate grows during training can decay its weights into denormal floats, which
    # run ~100x slower on CPU (measured here; titans_seq/memory/README.md, gate initialisation); flushing
    # them to zero changes nothing measurable.
    torch.set_flush_denormal(True)
    task = RecallTask(args.keys, args.values, args.distractors, args.pairs, gap=args.depth * args.window)
    too_short = [n for n in args.lengths if n < task.min_length()]
    too_short += [n for n in args.train_lengths if n < task.min_length(max(2, min(task.gap, n // 4)))]
    if too_short:
        raise SystemExit(f"lengths {too_short} are shorter than the task needs ({task.min_length()})")
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    rows: list[dict] = []
    for variant in args.variants:
        torch.manual_seed(args.seed)
        model = RecallModel(build_config(variant, args), task).to(args.device)
        params = sum(p.numel() for p in model.parameters())
        log(f"{variant}: {params:,} parameters, training {args.minutes} min")
        stats = train(model, task, args, log)
        t0 = time.perf_counter()
        accs = {f"acc@{n}": evaluate(model, task, n, args) for n in args.lengths}
        row = {
            "variant": variant,
            "params": params,
            **stats,
            **accs,
            "eval_seconds": time.perf_counter() - t0,
        }
        rows.append(row)
        log(f"{variant}: " + "  ".join(f"{k} {v:.3f}" for k, v in accs.items()))
        md, table = render(rows, args, task)
        write_atomically(args.output, md)
        write_atomically(args.output.with_suffix(".csv"), table)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
