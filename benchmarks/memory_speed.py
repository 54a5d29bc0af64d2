"""Speed and memory of the neural memory layer against titans-pytorch and causal full attention.

Every model is timed in the same process, interleaved repetition by repetition (this machine is shared
and noisy: a busy neighbour slows runs 4-50x, so only same-run ratios mean anything). Peak memory is
read per model in a fresh subprocess (``ru_maxrss`` above the post-setup baseline), because a process's
high-water mark cannot be reset.

Models (width 64, 4 heads of 16, memory MLP depth 2 with expansion 4 for all memory models):

- ``ours``           titans_seq.NeuralMemory at its defaults, kernel="chunk" (eager PyTorch): the paper's
                     update rule, per-token read (y_t = M_t(q_t), dual form), surprise clamp 1.0
- ``ours-compiled``  the same, kernel="compiled" (per-chunk steps through torch.compile; warm-up excluded)
- ``ours-chunk-start``, ``ours-compiled-chunk-start``: read="chunk_start" and no clamp, the layer's
                     defaults before the per-token read; ``x chunk-start`` is each default's step time
                     over that of its chunk-start twin in the same run (the cost of the per-token read)
- ``tp-default``     titans_pytorch.NeuralMemory(dim=64, dim_head=16, heads=4, chunk_size=C): its default
                     takes every chunk's gradient at the initial weights (not the paper's rule)
- ``tp-faithful``    the same with batch_size=C: weights updated after every chunk (the paper's rule).
                     Measured here: at its default settings this diverges to NaN/inf after 300-500
                     tokens (C=16) or ~500 (C=64); we add its own max_grad_norm=1.0, the workaround
                     its users report, so that every run can assert finite outputs
- ``attention``      causal full attention (scaled_dot_product_attention) with q/k/v/out projections

Usage::

    python benchmarks/memory_speed.py          # the full table (about 15-25 minutes on a quiet machine)
    python benchmarks/memory_speed.py --lengths 512 --chunks 16 --quick   # a smoke run

Writes ``benchmarks/results/memory_speed.{md,csv}`` atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import peak_rss_above_start_mb  # noqa: E402

BATCH, DIM, HEADS, DIM_HEAD = 4, 64, 4, 16
MODELS = [
    "ours",
    "ours-compiled",
    "ours-chunk-start",
    "ours-compiled-chunk-start",
    "tp-default",
    "tp-faithful",
    "attention",
]
CHUNK_START_TWIN = {"ours": "ours-chunk-start", "ours-compiled": "ours-compiled-chunk-start"}
RESULTS = Path(__file__).resolve().parent / "results"


class CausalAttention(nn.Module):
    """Full causal softmax attention of the same width, the transformer baseline."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        b, t, d = x.shape
        q, k, v = self.to_qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.to_out(y.transpose(1, 2).reshape(b, t, d)), None


def build(name: str, chunk: int) -> nn.Module:
    torch.manual_seed(0)
    if name.startswith("ours"):
        from titans_seq import NeuralMemory

        kernel = "compiled" if name.startswith("ours-compiled") else "chunk"
        before = {"read": "chunk_start", "max_grad_norm": None} if name.endswith("chunk-start") else {}
        return NeuralMemory(
            DIM, heads=HEADS, chunk_size=chunk, depth=2, expansion=4.0, kernel=kernel, **before
        )
    if name.startswith("tp-"):
        from titans_pytorch import NeuralMemory as PeerMemory

        extra = {"batch_size": chunk, "max_grad_norm": 1.0} if name == "tp-faithful" else {}
        return PeerMemory(dim=DIM, dim_head=DIM_HEAD, heads=HEADS, chunk_size=chunk, **extra)
    if name == "attention":
        return CausalAttention(DIM, HEADS)
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def run_once(model: nn.Module, x: torch.Tensor, train: bool) -> float:
    """One training step (forward + backward) or one inference pass; returns seconds."""
    start = time.perf_counter()
    if train:
        y = model(x)[0]
        y.square().mean().backward()
    else:
        with torch.no_grad():
            y = model(x)[0]
    elapsed = time.perf_counter() - start
    if not torch.isfinite(y).all():
        raise RuntimeError(f"{type(model).__name__} produced non-finite outputs")
    return elapsed


def skip_reason(name: str, chunk: int, length: int) -> str | None:
    """Configurations we do not run, with why (reported in the table, never silently dropped)."""
    if name == "attention" and chunk != 16:
        return "no chunk size (shown in the C=16 rows)"
    if name == "attention" and length > 8192:
        return "quadratic: about 16x the 8192-token time"
    return None


def peak_memory_mb(name: str, chunk: int, length: int, train: bool) -> float:
    """Peak resident memory of one step above the post-setup baseline, in a fresh process."""
    cmd = [sys.executable, __file__, "--peak", name, str(chunk), str(length), str(int(train))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def _peak_child(name: str, chunk: int, length: int, train: bool) -> None:
    """Print the peak resident memory of one step above its start (see ``_measure``)."""
    torch.set_num_threads(2)
    model = build(name, chunk)
    x = torch.randn(BATCH, length, DIM)
    if name.startswith("ours-compiled"):  # compile outside the measured window
        run_once(model, x[:, : min(length, 4 * chunk)], train)
        model.zero_grad(set_to_none=True)
    _, peak = peak_rss_above_start_mb(lambda: run_once(model, x, train))
    print(json.dumps({"peak_mb": peak}))


def fill_peaks(output: Path) -> None:
    """Measure peak memory at 8192 tokens for the rows of an existing results CSV and rewrite the table."""
    with output.with_suffix(".csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["peak_mb"] = ""
        if row["length"] == "8192" and not row["skipped"]:
            train = row["mode"] == "train"
            row["peak_mb"] = round(peak_memory_mb(row["model"], int(row["chunk"]), 8192, train))
            print(json.dumps(row), flush=True)
    header = output.with_suffix(".md").read_text().split("\n")
    command = next(line for line in header if line.startswith("- command:"))
    rate = float(next(line for line in header if "matmul rate" in line).split(": ")[1].split()[0])
    write_results(rows, rate, output, command + " (peak memory filled by --fill-peaks)")


def profile_step(name: str, chunk: int, length: int, train: bool) -> None:
    """Top ops of one step by self CPU time (after a warm-up step)."""
    from torch.profiler import profile

    torch.set_num_threads(2)
    model = build(name, chunk)
    x = torch.randn(BATCH, length, DIM)
    run_once(model, x, train)
    with profile() as prof:
        run_once(model, x, train)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def matmul_gflops() -> float:
    """Measured float32 matmul rate of this machine (1024^3 torch.mm, 2 threads, median of 7)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * 1024**3 / statistics.median(times) / 1e9


def flops_per_token(name: str, chunk: int, train: bool) -> float | None:
    """Model FLOPs per token of the memory layers (matmuls only; training = 3x inference)."""
    if not name.startswith("ours"):
        return None
    hidden = DIM_HEAD * 4
    layers = DIM_HEAD * hidden + hidden * DIM_HEAD  # d_in * d_out summed over the 2 layers
    per_head = (
        2 * 2 * layers  # retrieval and key forward through 2 layers
        + 2 * DIM_HEAD * hidden  # error back through the second layer
        + 2 * 2 * 2 * (DIM_HEAD * hidden)  # both weighted gradient sums, both layers
    )
    if not name.endswith("chunk-start"):
        # the per-token read: H S_0 per layer, and per layer the C x C scores H X^T and (m * scores) D
        per_head += 2 * layers + 2 * chunk * 2 * (DIM_HEAD + hidden)
    projections = 2 * DIM * (3 * DIM + 3 * HEADS + DIM + DIM)
    inference = HEADS * per_head + projections
    return 3 * inference if train else inference


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--chunks", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--lengths", nargs="+", type=int, default=[512, 2048, 8192, 32768])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no peak-memory runs")
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--output", type=Path, default=RESULTS / "memory_speed")
    parser.add_argument("--peak", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--fill-peaks", action="store_true", help="only (re)measure peak memory for an existing results table"
    )
    parser.add_argument(
        "--profile",
        nargs=4,
        metavar=("MODEL", "C", "T", "MODE"),
        help="print where one step's time goes (torch.profiler, top ops), e.g. ours 64 8192 infer",
    )
    args = parser.parse_args()
    if args.profile:
        name, chunk, length, mode = args.profile
        profile_step(name, int(chunk), int(length), mode == "train")
        return
    if args.fill_peaks:
        fill_peaks(args.output)
        return
    if args.peak:
        name, chunk, length, train = args.peak
        _peak_child(name, int(chunk), int(length), bool(int(train)))
        return

    torch.set_num_threads(2)
    rate = matmul_gflops()
    rows = []
    for chunk in args.chunks:
        models = {name: build(name, chunk) for name in args.models}
        for length in args.lengths:
            for train in (True, False):
                x = torch.randn(BATCH, length, DIM)
                active = {n: m for n, m in models.items() if skip_reason(n, chunk, length) is None}
                reps = 2 if args.quick else (5 if length <= 2048 else 3 if length <= 8192 else 1)
                for model in active.values():  # warm-up (compiles ours-compiled for this shape)
                    run_once(model, x, train)
                times = {n: [] for n in active}
                for _ in range(reps):  # interleaved: every model sees the same machine state
                    for n, m in active.items():
                        times[n].append(run_once(m, x, train))
                        m.zero_grad(set_to_none=True)
                peer = statistics.median(times["tp-default"]) if "tp-default" in times else None
                for n in args.models:
                    mode = "train" if train else "infer"
                    row = {"model": n, "chunk": chunk, "length": length, "mode": mode}
                    reason = skip_reason(n, chunk, length)
                    if reason:
                        rows.append({**row, "skipped": reason})
                        continue
                    sec = statistics.median(times[n])
                    tps = BATCH * length / sec
                    flops = flops_per_token(n, chunk, train)
                    twin = CHUNK_START_TWIN.get(n)
                    row.update(
                        tokens_per_s=round(tps),
                        vs_tp_default=round(peer / sec, 2) if peer else "",
                        vs_chunk_start=round(sec / statistics.median(times[twin]), 2)
                        if twin in times
                        else "",
                        gflops=round(flops * tps / 1e9, 1) if flops else "",
                    )
                    if not (args.quick or args.no_peak) and length == 8192:
                        row["peak_mb"] = round(peak_memory_mb(n, chunk, length, train))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    write_results(
        rows, rate, args.output, f"- command: `python benchmarks/memory_speed.py {' '.join(sys.argv[1:])}`"
    )


def write_results(rows: list[dict], rate: float, output: Path, command: str) -> None:
    fields = ["model", "chunk", "length", "mode", "tokens_per_s", "vs_tp_default", "vs_chunk_start"]
    fields += ["gflops", "peak_mb"]
    fields.append("skipped")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    header = (
        f"# Neural memory speed (benchmarks/memory_speed.py)\n\n"
        f"{command}\n"
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, 2 threads, float32, batch {BATCH}, width {DIM}, {HEADS} heads of {DIM_HEAD}\n"
        f"- measured float32 matmul rate (1024^3 mm): {rate:.1f} GFLOP/s\n"
        f"- tokens/s = batch x length / median step time; vs_tp_default = speed ratio against "
        f"titans-pytorch's default in the same run; x chunk-start = step time over that of the same kernel "
        f"with the chunk-start read and no clamp (the cost of the per-token read and the clamp); "
        f"peak_mb = resident memory above setup, fresh process\n\n"
    )
    columns = "| model | C | T | mode | tokens/s | x tp-default | x chunk-start | GFLOP/s | peak MB |"
    md = [header, columns, "|" + "---|" * 9]
    for r in rows:
        if r.get("skipped"):
            where = f"| {r['model']} | {r['chunk']} | {r['length']} | {r['mode']} |"
            md.append(f"{where} skipped: {r['skipped']} |||||")
        else:
            md.append(
                f"| {r['model']} | {r['chunk']} | {r['length']} | {r['mode']} | {r['tokens_per_s']} | "
                f"{r['vs_tp_default']} | {r.get('vs_chunk_start', '')} | {r['gflops']} | "
                f"{r.get('peak_mb', '')} |"
            )
    output.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".csv", table.getvalue()), (".md", "\n".join(md) + "\n")):
        target = output.with_suffix(suffix)
        tmp = target.with_suffix(suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written table
    print(f"wrote {output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
