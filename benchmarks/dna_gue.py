"""Accuracy on the bundled GUE tasks: Titans (memory only) against two in-house baselines and published MCC.

For every task: train on GUE's train split, stop early on its valid split (best weights restored), report
accuracy and MCC (x100, as GUE tables do) on the official test split, with parameter counts and CPU time.

Models, all trained in this script on the same splits:

- ``titans``   TitansSequenceClassifier: one token per base -> a causal convolutional stem (2 convolutions
               of width 9, then a max over groups of 4 positions) -> LMM backbone (the paper's DNA setting;
               ``--variant mag|mac|mal`` adds attention; by default 1 block of width 64 with a linear
               memory, the fastest on CPU: ``--memory-depth 2`` for the deep memory) -> max pooling ->
               linear head; AdamW, early stopping on validation loss, no pretraining. The learning rate
               halves after 2 validation checks without a lower validation loss (``--lr-decay-patience``,
               both neural models; 0 keeps it constant): over 3-5 seeds at 3 minutes, Titans' valid-split
               MCC was higher with it on 8 of the 11 tasks (mean +0.3). One block, not two:
               over 3 seeds at 3 minutes its valid-split MCC was higher on 8 of the 11 tasks (mean +1.9).
               Two stem convolutions, not three: higher valid-split MCC on 9 of 11 (mean +0.7), same way;
               one convolution was higher on only 4 of 11 (mean -1.5). Also kept on the valid split: max
               pooling on the promoters (a class token: higher on 2 of 3, mean +0.1, a tenth of a seed
               deviation; the last token: 1 of 3, mean -1.8) and memory chunks of 16 (chunks of 4, so that the
               memory is updated 6 times within a 101-base sequence instead of once: lower on 6 of the
               first 7 tasks).
               Probes at 3 minutes, 1 thread (MCC x100): on gue_human_tf_0, 6-mer tokens without a stem
               62.1, bases + one stem convolution with stride 2/4/8 63.9/64.3/64.5, 6-mers + one
               convolution 63.9, bases + three convolutions 65.6; on gue_mouse_tf_3 and gue_mouse_tf_2 the
               stem moved 73.2 -> 78.1 and 77.8 -> 83.0. ``--stem-kernel 0 --kmer 6`` gives the stem-less
               6-mer model.
- ``cnn``      a small 1-D CNN (3 convolutions of width 9, 64 channels, global max pooling) through the same
               Lightning system, data module, optimizer, learning-rate decay, early stopping and time budget.
- ``kmer_lr``  k-mer counts (k = 1..6, l2-normalised) + logistic regression (scikit-learn), C chosen on valid.

Published references (``gue_mcc.csv``): DNABERT-2 (Zhou et al., ICLR 2024, pretrained 117M parameters) and
the CNN / DNABERT-2 fine-tuning runs of Lindsey et al. 2025. They come from GPUs and other protocols: read
them as context, the in-house baselines as the controlled comparison.

Reverse-complement augmentation and averaging (``--rc``) are on for the TF-binding tasks only by default:
binding sites are strand-symmetric, promoters are oriented relative to the transcription start.

The machine is shared: torch runs on ``--threads`` threads (1 by default: on 2 busy cores, 2 threads made
small ops ~100x slower through oversubscription). Neural models get ``--minutes`` of CPU time (process time,
validation included; :class:`~titans_seq.training.budget.CpuTimeBudget`) per task and seed, so another busy
process slows a run down without changing what it learns. Test sets are small (239 to 5,920 sequences) and
one training seed can move the MCC by several points on the mouse tasks: ``--seeds N`` trains every neural
model N times (seeds ``--seed`` to ``--seed + N - 1``) and reports the mean, standard deviation and each
seed's MCC; k-mer + logistic regression is deterministic and fitted once.

Usage::

    python benchmarks/dna_gue.py --tasks gue_mouse_tf_3 --minutes 1          # smoke run, ~2-3 minutes
    python benchmarks/dna_gue.py --minutes 3                                   # all 11 tasks, ~80 min
    python benchmarks/dna_gue.py --tasks gue_mouse_tf_2,gue_mouse_tf_3 --seeds 5   # seed spread

Writes ``benchmarks/results/dna_gue.{md,csv}`` atomically after every task (a partial run keeps its rows).
``--merge`` keeps the rows of the existing CSV that this run does not produce (other tasks or models), under
a file lock, so two processes given disjoint ``--tasks`` fill one table (one per core)::

    python benchmarks/dna_gue.py --merge --tasks gue_human_tf_0,gue_human_tf_1 &
    python benchmarks/dna_gue.py --merge --tasks gue_human_tf_2,gue_human_tf_4

A probe trained with ``--output`` elsewhere and then chosen on the valid split joins the table without
training again: ``--merge --import-rows /tmp/probe.csv`` puts its rows in place of the table's rows of the
same task and model, each with the command that trained it.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import io
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, matthews_corrcoef
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer
from torch import Tensor, nn

from titans_seq.adapters.dna import pack_right
from titans_seq.data.dna_sources import GUE_TASKS, load_dna_task
from titans_seq.estimators.classifier import (
    TitansSequenceClassifier,
    predict_probabilities,
    train_with_early_stopping,
)
from titans_seq.models import MemoryConfig, TitansConfig
from titans_seq.training.budget import CpuTimeBudget
from titans_seq.training.dna import DNAClassifierSystem, DNADataModule, make_tokenizer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE_CANDIDATES = (
    ROOT / "benchmarks" / "reference_results" / "gue_mcc.csv",
    ROOT / "datasets" / "reference_results" / "gue_mcc.csv",
    ROOT.parent / "shared" / "datasets" / "reference_results" / "gue_mcc.csv",
)
PUBLISHED = {
    "DNABERT-2": "dnabert2_mcc",
    "DNABERT-2 [Lindsey2025]": "dnabert2_lindsey_mcc",
    "CNN [Lindsey2025]": "cnn_lindsey_mcc",
}
MODELS = ("titans", "cnn", "kmer_lr")
FIELDS = [
    "task",
    "model",
    "params",
    "train_cpu_s",
    "epochs",
    "seeds",
    "test_acc",
    "test_mcc",
    "mcc_sd",
    "mcc_per_seed",
    "valid_mcc",
    "dnabert2_mcc",
    "dnabert2_lindsey_mcc",
    "cnn_lindsey_mcc",
    "notes",
    "command",
]


# ------------------------------------------------------------------------------- baselines


class SmallCNN(nn.Module):
    """Embedding -> 3 x (Conv1d width 9, ReLU) -> max over real positions -> dropout -> linear.

    ``input_ids [B, L]``, ``attention_mask [B, L]`` -> ``logits [B, C]``.
    """

    def __init__(self, vocab_size: int, complement: list[int], num_classes: int, channels: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 16, padding_idx=0)
        layers, width = [], 16
        for _ in range(3):
            layers += [nn.Conv1d(width, channels, 9, padding=4), nn.ReLU()]
            width = channels
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, num_classes))
        self.register_buffer("complement", torch.tensor(complement), persistent=False)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        h = self.convs(self.embedding(input_ids).transpose(1, 2))  # [B, C, L]
        h = h.masked_fill(~attention_mask[:, None, :], float("-inf")).amax(-1)
        return self.head(h)

    def reverse_complement(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        ids, mask, lengths = pack_right(input_ids, attention_mask)
        source = (lengths[:, None] - 1 - torch.arange(ids.shape[1])).clamp(min=0)
        return torch.where(mask, self.complement[ids.gather(1, source)], ids), mask


class CNNSystem(DNAClassifierSystem):
    """The Titans training system (loss, metrics, optimizer, RC options) with :class:`SmallCNN` as its model.

    The parent builds a Titans model first, which is replaced: everything but the network is shared.
    """

    def __init__(self, num_classes: int = 2, **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        tokenizer = make_tokenizer(1)
        self.model = SmallCNN(tokenizer.vocab_size, tokenizer.complement.tolist(), num_classes)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def fit_kmer_lr(train, valid, seed: int) -> tuple[object, int, str]:
    """k-mer counts (1..6) + logistic regression; C picked by validation MCC."""
    best = None
    for c in (0.01, 0.1, 1.0, 10.0):
        model = make_pipeline(
            CountVectorizer(analyzer="char", ngram_range=(1, 6), lowercase=False, dtype=np.float32),
            Normalizer(),
            LogisticRegression(C=c, max_iter=2000, random_state=seed),
        )
        model.fit(train.sequences, train.labels)
        score = matthews_corrcoef(valid.labels, model.predict(valid.sequences))
        if best is None or score > best[0]:
            best = (score, c, model)
    _, c, model = best
    coef = model[-1].coef_
    return model, coef.size + model[-1].intercept_.size, f"C={c}"


# ---------------------------------------------------------------------------------- running


def training_limits(n_train: int, batch_size: int, minutes: float) -> dict:
    """A CPU-time budget (a fresh callback per fit), and validation often enough that early stopping works
    within it."""
    batches = -(-n_train // batch_size)
    return {"callbacks": [CpuTimeBudget(minutes * 60)], "val_check_interval": min(batches, 200)}


def titans_backbone(args: argparse.Namespace) -> TitansConfig:
    """The Titans backbone these command-line settings describe."""
    return TitansConfig(
        variant=args.variant,
        dim=args.dim,
        depth=args.blocks,
        ffn_expansion=2.0,
        memory=MemoryConfig(
            heads=args.heads, chunk_size=args.chunk_size, depth=args.memory_depth, read=args.memory_read
        ),
    )


def fit_neural(model_name: str, sets: tuple, args: argparse.Namespace, seed: int, rc: bool) -> dict:
    """Train one neural model with one seed; its test predictions, parameter count, epochs and CPU time."""
    train, valid, test = sets
    limits = training_limits(len(train), args.batch_size, args.minutes)
    budget = limits["callbacks"][0]
    if model_name == "titans":
        clf = TitansSequenceClassifier(
            backbone=titans_backbone(args),
            pooling=args.pooling,
            kmer=args.kmer,
            dropout=args.dropout,
            stem_kernel=args.stem_kernel,
            stem_layers=args.stem_layers,
            stem_stride=args.stem_stride,
            strands=args.strands,
            learning_rate=args.lr,
            lr_decay_patience=args.lr_decay_patience or None,
            batch_size=args.batch_size,
            max_epochs=1000,
            patience=args.patience,
            rc_augment=rc,
            rc_average=rc,
            random_state=seed,
            verbose=args.verbose,
            trainer_kwargs=limits,
        )
        clf.fit(train.sequences, train.labels, validation_data=(valid.sequences, valid.labels))
        predict = lambda split: clf.predict(split.sequences)  # noqa: E731
        params, epochs = n_params(clf.model_.model), clf.n_epochs_
    else:
        torch.manual_seed(seed)
        system = CNNSystem(
            num_classes=len(train.classes),
            learning_rate=args.lr,
            lr_decay_patience=args.lr_decay_patience or None,
            rc_augment=rc,
            rc_average=rc,
        )
        data = DNADataModule.from_sets(train, valid, batch_size=args.batch_size, seed=seed)
        summary = train_with_early_stopping(
            system, data, max_epochs=1000, patience=args.patience, verbose=args.verbose, trainer_kwargs=limits
        )
        params, epochs = n_params(system.model), summary.epochs

        def predict(split):
            data = DNADataModule.from_sets(predict=split, batch_size=args.batch_size)
            return train.classes[predict_probabilities(system, data).argmax(1)]

    return {
        **scores(test.labels, predict(test)),
        "valid_mcc": scores(valid.labels, predict(valid))["mcc"],  # what settings may be chosen on
        "params": params,
        "epochs": int(epochs),
        "cpu_s": budget.used,
    }


def scores(labels, predicted) -> dict:
    """Accuracy and MCC x100 of one run's test predictions."""
    return {"acc": 100 * accuracy_score(labels, predicted), "mcc": 100 * matthews_corrcoef(labels, predicted)}


def summarize(task: str, model: str, runs: list[dict], notes: str, reference: dict) -> dict:
    """One table row from the runs (one per seed) of a model on a task: means, and the MCC's spread."""
    mccs = [r["mcc"] for r in runs]
    return {
        "task": task,
        "model": model,
        "params": runs[0]["params"],
        "train_cpu_s": round(float(np.mean([r["cpu_s"] for r in runs])), 1),
        "epochs": "/".join(str(r["epochs"]) for r in runs),
        "seeds": len(runs),
        "test_acc": round(float(np.mean([r["acc"] for r in runs])), 2),
        "test_mcc": round(float(np.mean(mccs)), 2),
        "mcc_sd": round(float(np.std(mccs, ddof=1)), 2) if len(runs) > 1 else "",
        "mcc_per_seed": "/".join(f"{m:.2f}" for m in mccs),
        "valid_mcc": round(float(np.mean([r["valid_mcc"] for r in runs])), 2),
        "notes": notes,
        **{column: reference.get((name, task), "") for name, column in PUBLISHED.items()},
    }


def run_task(task: str, args: argparse.Namespace, reference: dict) -> list[dict]:
    sets = train, valid, test = tuple(load_dna_task(task, split) for split in ("train", "valid", "test"))
    rc = args.rc == "all" or (args.rc == "tf" and "_tf_" in task)
    rows = []
    for model_name in args.models:
        if model_name == "kmer_lr":  # deterministic: one fit
            start = time.process_time()
            model, params, notes = fit_kmer_lr(train, valid, args.seed)
            cpu_s = time.process_time() - start
            valid_mcc = scores(valid.labels, model.predict(valid.sequences))["mcc"]  # C was chosen on it
            run = {**scores(test.labels, model.predict(test.sequences)), "valid_mcc": valid_mcc}
            runs = [{**run, "params": params, "epochs": "", "cpu_s": cpu_s}]
        else:
            notes = "RC aug+avg" if rc else ""
            seeds = range(args.seed, args.seed + args.seeds)
            runs = [fit_neural(model_name, sets, args, seed, rc) for seed in seeds]
        row = summarize(task, model_name, runs, notes, reference)
        rows.append(row)
        print(
            f"{task:22s} {model_name:8s} acc {row['test_acc']:6.2f}  mcc {row['test_mcc']:6.2f} "
            f"({row['mcc_per_seed']})  params {row['params']:>8d}  train {row['train_cpu_s']:7.1f} CPU s",
            flush=True,
        )
    return rows


def read_reference(path: Path | None) -> dict:
    if path is None:
        return {}
    with open(path, newline="") as handle:
        return {(r["model"], r["task"]): float(r["mcc"]) for r in csv.DictReader(handle)}


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_csv_atomic(path: Path, rows: list[dict], columns: list[str]) -> None:
    """``rows`` as a CSV with these ``columns``, written atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue())


def gue_backbone() -> TitansConfig:
    """The GUE benchmark's Titans backbone: this script's command-line defaults."""
    return titans_backbone(build_parser().parse_args([]))


def write_tables(rows: list[dict], args: argparse.Namespace, header: str) -> None:
    """Write OUTPUT.csv and OUTPUT.md atomically; with ``--merge``, beside the other rows already there."""
    csv_path = args.output.with_suffix(".csv")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path.with_name(f".{csv_path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another --merge process may be writing the same table
        if args.merge and csv_path.is_file():
            ours = {(r["task"], r["model"]) for r in rows}
            with open(csv_path, newline="") as handle:
                kept = [_numbers(r) for r in csv.DictReader(handle) if (r["task"], r["model"]) not in ours]
            rank = {t: i for i, t in enumerate(GUE_TASKS)}
            order = lambda r: (rank.get(r["task"], len(rank)), MODELS.index(r["model"]))  # noqa: E731
            rows = sorted(kept + rows, key=order)
        write_csv_atomic(csv_path, rows, FIELDS)
        write_atomic(args.output.with_suffix(".md"), markdown(rows, args, header))


def _numbers(row: dict) -> dict:
    """A row read back from the CSV, with its numeric cells as numbers again (empty cells stay empty)."""
    numeric = ("train_cpu_s", "test_acc", "test_mcc", "mcc_sd", "valid_mcc", *PUBLISHED.values())
    row = {k: row.get(k) or "" for k in FIELDS}
    return row | {k: float(row[k]) for k in numeric if row[k] != ""} | {"params": int(row["params"])}


def commands_made(rows: list[dict]) -> list[str]:
    """The commands that produced the rows (``--merge`` gathers rows of several), in order of appearance."""
    commands = list(dict.fromkeys(r["command"] for r in rows if r.get("command")))
    lines = ["Commands that produced the rows (each row's is in the CSV's `command` column):", ""]
    lines += [f"- `{c}`" for c in commands]
    unknown = sum(not r.get("command") for r in rows)
    if unknown:
        lines.append(f"- {unknown} row(s) from before the `command` column: see the Makefile's `bench-dna`")
    return lines + [""]


def markdown(rows: list[dict], args: argparse.Namespace, header: str) -> str:
    lines = [
        "# GUE: Titans (no pretraining) vs in-house baselines",
        "",
        *commands_made(rows),
        header,
        "",
        "MCC and accuracy x100 on the official test split, the mean over `seeds` training seeds (`MCC sd`: "
        "their standard deviation; `per seed`: each one), CPU seconds of training per seed; `valid MCC`: the "
        "mean MCC on the valid split, which settings are chosen on (the test split never is; k-mer LR's C is "
        "chosen on it, so its valid MCC is optimistic); `DNABERT-2` = "
        "published MCC (Zhou et al. 2024, pretrained), `[L25]` = Lindsey et al. 2025 fine-tuning runs. "
        "`beats` = Titans mean MCC above both in-house baselines on this task.",
        "",
        "| task | model | params | train CPU s | epochs | seeds | acc | MCC | MCC sd | per seed | valid MCC "
        "| DNABERT-2 | DNABERT-2 [L25] | CNN [L25] | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cells = [r[k] for k in ("task", "model", "params", "train_cpu_s", "epochs", "seeds", "test_acc")]
        cells += [r["test_mcc"], r["mcc_sd"], r["mcc_per_seed"], r["valid_mcc"]]
        cells += [r["dnabert2_mcc"], r["dnabert2_lindsey_mcc"], r["cnn_lindsey_mcc"], r["notes"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    summary = [
        "",
        "| task | Titans MCC | best baseline MCC | beats both baselines | reaches DNABERT-2 |",
        "|---|---:|---:|---|---|",
    ]
    for task in dict.fromkeys(r["task"] for r in rows):
        by_model = {r["model"]: r for r in rows if r["task"] == task}
        if "titans" not in by_model:
            continue
        ours = by_model["titans"]["test_mcc"]
        baselines = [by_model[m]["test_mcc"] for m in ("cnn", "kmer_lr") if m in by_model]
        best = max(baselines) if baselines else ""
        beats = "yes" if baselines and ours > best else "no" if baselines else ""
        published = by_model["titans"]["dnabert2_mcc"]
        reaches = "" if published == "" else ("yes" if ours >= published else "no")
        summary.append(f"| {task} | {ours} | {best} | {beats} | {reaches} |")
    return "\n".join(lines + summary) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the benchmark's settings (``recipes/dna/*.yaml`` mirror them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="all", help=f"comma-separated, or 'all' ({', '.join(GUE_TASKS)})")
    parser.add_argument(
        "--models", default=",".join(MODELS), help="comma-separated subset of titans,cnn,kmer_lr"
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="CPU-time budget per neural model, task and seed"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: see the module docstring)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--seeds", type=int, default=1, help="neural models: train with seeds SEED..SEED+N-1, report the mean"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--patience", type=int, default=5, help="validation checks without improvement")
    parser.add_argument(
        "--lr-decay-patience",
        type=int,
        default=2,
        help="both neural models: halve the learning rate after this many validation checks without a "
        "lower validation loss (2: chosen on the valid splits); 0: constant",
    )
    parser.add_argument(
        "--variant",
        default="lmm",
        choices=("lmm", "mag", "mac", "mal"),
        help="Titans block (lmm: the paper's DNA setting)",
    )
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=1, help="Titans blocks (1: chosen on the valid splits)")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--memory-depth", type=int, default=1, help="1 = linear memory (fastest on CPU)")
    parser.add_argument("--chunk-size", type=int, default=16)
    parser.add_argument(
        "--memory-read",
        choices=("token", "chunk_start"),
        default="token",
        help="token: each query reads its own token's weights; chunk_start: its chunk's (the ablation)",
    )
    parser.add_argument("--dropout", type=float, default=0.1, help="Titans: dropout before the head")
    parser.add_argument(
        "--strands",
        default="forward",
        choices=("forward", "both"),
        help="Titans: read the forward strand, or both strands with shared weights (twice the compute)",
    )
    parser.add_argument("--pooling", default="max", choices=("mean", "max", "last", "cls"))
    parser.add_argument(
        "--kmer", type=int, default=1, help="Titans tokens: 1 = bases, k = overlapping k-mers"
    )
    parser.add_argument(
        "--stem-kernel", type=int, default=9, help="Titans: causal convolutional stem width (0 = none)"
    )
    parser.add_argument(
        "--stem-layers", type=int, default=2, help="Titans: stem convolutions (2: chosen on the valid splits)"
    )
    parser.add_argument(
        "--stem-stride", type=int, default=4, help="Titans: max-pool stride after the stem (1 = none)"
    )
    parser.add_argument(
        "--rc",
        choices=("none", "tf", "all"),
        default="tf",
        help="reverse-complement augmentation + averaging for both neural models: on no task, on the "
        "TF-binding tasks (strand-symmetric, unlike promoters; the default), or on all",
    )
    parser.add_argument(
        "--reference", type=Path, default=None, help="gue_mcc.csv (default: found next to repo)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "dna_gue", help="writes OUTPUT.md and OUTPUT.csv"
    )
    parser.add_argument(
        "--merge", action="store_true", help="keep existing rows of tasks/models this run does not produce"
    )
    parser.add_argument(
        "--import-rows",
        type=Path,
        nargs="+",
        metavar="CSV",
        help="train nothing: put the rows of these CSVs (written by this script with --output elsewhere, "
        "e.g. a probe chosen on the valid split) into OUTPUT in place of its rows of the same task and "
        "model; needs --merge",
    )
    parser.add_argument("--verbose", action="store_true", help="progress bars")
    return parser


def read_rows(paths: list[Path]) -> list[dict]:
    """The rows of CSVs this script wrote; ``ValueError`` naming a missing file, column or a repeated row."""
    rows, seen = [], {}
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path} is not a table of this script: no column {missing[0]!r}")
            for row in reader:
                key = (row["task"], row["model"])
                if key in seen:
                    raise ValueError(f"{key[0]} / {key[1]} is in both {seen[key]} and {path}")
                if row["task"] not in GUE_TASKS or row["model"] not in MODELS:
                    raise ValueError(f"{path}: unknown task or model {row['task']!r} / {row['model']!r}")
                seen[key] = path
                rows.append(_numbers(row))
    return rows


def settings(args: argparse.Namespace) -> str:
    """The settings line of the tables: what a command without options trains, plus its own options."""
    stem = (
        f", conv stem {args.stem_layers} x width {args.stem_kernel}, stride {args.stem_stride}"
        if args.stem_kernel
        else ""
    )
    decay = f" halved after {args.lr_decay_patience} checks without gain" if args.lr_decay_patience else ""
    return (
        f"Titans: {args.variant.upper()}, dim {args.dim}, {args.blocks} block(s), "
        f"memory depth {args.memory_depth}, {args.heads} heads, chunk {args.chunk_size}, "
        f"{args.memory_read} read, {args.pooling} pooling, {args.kmer}-mer tokens, {args.strands} strand(s)"
        f"{stem}; dropout {args.dropout}, lr "
        f"{args.lr}{decay}, batch {args.batch_size}, patience {args.patience}; reverse-complement "
        f"augmentation + averaging: {args.rc} tasks."
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.tasks = list(GUE_TASKS) if args.tasks == "all" else args.tasks.split(",")
    args.models = args.models.split(",")
    unknown = [t for t in args.tasks if t not in GUE_TASKS] + [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown task or model {unknown[0]!r}")
    if args.seeds < 1 or args.minutes <= 0:
        parser.error(f"--seeds must be >= 1 and --minutes > 0, got {args.seeds} and {args.minutes}")
    if args.lr_decay_patience < 0:
        parser.error(f"--lr-decay-patience must be >= 0 (0: constant rate), got {args.lr_decay_patience}")
    torch.set_num_threads(args.threads)
    reference_path = args.reference or next((p for p in REFERENCE_CANDIDATES if p.is_file()), None)
    reference = read_reference(reference_path)
    if reference_path is not None and reference_path.resolve().is_relative_to(ROOT):
        reference_path = reference_path.resolve().relative_to(ROOT)  # no machine-specific paths in results
    command = f"python benchmarks/dna_gue.py {' '.join(argv if argv is not None else sys.argv[1:])}"
    reference_line = f"Reference: {reference_path or 'not found (published columns empty)'}"
    if args.import_rows:
        if not args.merge:
            parser.error("--import-rows needs --merge: it replaces rows of the existing OUTPUT table")
        try:
            rows = read_rows(args.import_rows)
        except ValueError as err:
            parser.error(str(err))
        header = (
            f"The last command imported {len(rows)} row(s) trained elsewhere (`{command}`): each row's "
            "settings are the options of its `command` over the script's defaults, which are now: "
            f"{settings(build_parser().parse_args([]))}  \n{reference_line}"
        )
        write_tables(rows, args, header)
        print(f"imported {len(rows)} row(s) into {args.output.with_suffix('.md')} and .csv", flush=True)
        return 0
    header = (
        f"Settings of the last command: machine {platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} on {args.threads} thread(s), load average at start "
        f"{os.getloadavg()[0]:.1f}; {args.minutes} CPU min per neural "
        f"model and seed, {args.seeds} seed(s) from {args.seed}.  \n{settings(args)}  \n{reference_line}"
    )
    rows: list[dict] = []
    for task in args.tasks:
        rows += [row | {"command": command} for row in run_task(task, args, reference)]
        write_tables(rows, args, header)
    print(f"wrote {args.output.with_suffix('.md')} and .csv", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
