"""Which settings should ``TitansSequenceClassifier()`` have? Candidates against k-mer logistic regression.

Every candidate is fitted as a new user would fit the estimator: ``fit(X, y)`` with no validation data and no
budget, so it holds out its own ``validation_fraction`` and stops early on it. Each task has its own valid
split, never seen in training, on which the candidates are compared (``valid acc``); test accuracy is
reported beside it and is not used to choose.

Tasks (70-1000 bp, 400 to 5,000 training sequences):

- ``gue_mouse_tf_3``, ``gue_mouse_tf_2``, ``gue_prom_300_tata``: GUE's official splits (101, 101, 300 bp).
- ``gue_human_tf_0_400``: 400 training sequences drawn (stratified, seeded) from GUE's train split, its
  official valid and test splits (101 bp): a small task.
- ``gue_prom_core_all_3000``: 3,000 of GUE's training sequences, official valid and test (70 bp).
- ``gb_nontata_promoters``, ``gb_enhancers_cohn``: GenomicBenchmarks' bundled test sequences (251 and 500
  bp; their train splits are not bundled) split 3,000 / 600 / 2,000 (stratified, seeded).
- ``fasta_origin_120``, ``fasta_origin_1000``: built from the bundled FASTA files: windows of 120 (1000) bp
  from the Arabidopsis chloroplast or from the human chr17 piece, either strand, labelled by genome. Each
  record is cut at 70% / 85% of its length into train / valid / test areas, so no window of one split
  overlaps another's; windows start every 30 (50) bases.
- ``planted_motif``: 400 random sequences of 20-31 bp, half with TATAAT planted (the unit tests' task).

Candidates (``--candidates``; each a set of estimator arguments over the defaults of the time):

- ``plain``  no stem, mean pooling, 2 blocks, depth-2 memory, lr 1e-3, 20 epochs at most, patience 3: the
             defaults before this study.
- ``stem``   the GUE benchmark's model: bases -> stem of 2 causal convolutions of width 9, max-pooled by 4 ->
             1 LMM block with a linear memory -> max pooling; lr 3e-3 halved after 2 checks without gain,
             patience 5, epochs until early stopping (at most 200).
- ``stem_300_steps`` the same, never stopping before 300 optimizer steps (``min_steps``).
- ``stem_k5`` the same with stem convolutions of width 5.

``kmer_lr``: k-mer counts (k = 1..6, l2-normalised) + logistic regression, C chosen on the valid split.

Usage::

    python benchmarks/dna_defaults.py                       # every task and candidate (about 40 minutes)
    python benchmarks/dna_defaults.py --tasks planted_motif fasta_origin_120

Appends each finished run to ``benchmarks/results/dna_defaults_runs.jsonl`` (a rerun skips what is there)
and writes ``benchmarks/results/dna_defaults.md`` atomically.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dna_gue import fit_kmer_lr, gue_backbone, write_atomic  # noqa: E402
from dna_long_range import FASTA  # noqa: E402

from titans_seq.data.dna import SequenceSet, reverse_complement  # noqa: E402
from titans_seq.data.dna_sources import load_dna_task, read_sequence_csv  # noqa: E402
from titans_seq.estimators.classifier import TitansSequenceClassifier  # noqa: E402
from titans_seq.training.dna import stratified_split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CANDIDATES = {
    "plain": {
        "backbone": None,
        "pooling": "mean",
        "learning_rate": 1e-3,
        "max_epochs": 20,
        "patience": 3,
    },
    "stem": {
        "backbone": gue_backbone(),
        "pooling": "max",
        "stem_kernel": 9,
        "stem_layers": 2,
        "stem_stride": 4,
        "learning_rate": 3e-3,
        "lr_decay_patience": 2,
        "max_epochs": 200,
        "patience": 5,
    },
}
# the same, never stopping before 300 optimizer steps (100 of warm-up, then 200): on a task of a few hundred
# sequences an epoch is a few steps, and 5 epochs without gain can come before the warm-up ends
CANDIDATES["stem_300_steps"] = {**CANDIDATES["stem"], "trainer_kwargs": {"min_steps": 300}}
# the same with stem convolutions of width 5 (99.5% on the planted motif in a probe, width 9: 93.5%)
CANDIDATES["stem_k5"] = {**CANDIDATES["stem"], "stem_kernel": 5}
TASKS = [
    "gue_mouse_tf_3",
    "gue_mouse_tf_2",
    "gue_prom_300_tata",
    "gue_human_tf_0_400",
    "gue_prom_core_all_3000",
    "gb_nontata_promoters",
    "gb_enhancers_cohn",
    "fasta_origin_120",
    "fasta_origin_1000",
    "planted_motif",
]


def _first(sequences: SequenceSet, n: int, seed: int) -> SequenceSet:
    """``n`` sequences drawn stratified from ``sequences``."""
    kept, _ = stratified_split(sequences, 1 - n / len(sequences), seed)
    return kept


def _three_way(sequences: SequenceSet, n_train: int, n_valid: int, n_test: int, seed: int):
    train, rest = stratified_split(sequences, 1 - n_train / len(sequences), seed)
    valid, rest = stratified_split(rest, 1 - n_valid / len(rest), seed + 1)
    test, _ = stratified_split(rest, 1 - n_test / len(rest), seed + 2) if n_test < len(rest) else (rest, None)
    return train, valid, test


def _fasta_record(name: str) -> str:
    path = next(p for p in FASTA if p.name.startswith(name))
    return "".join(line.strip().upper() for line in path.read_text().splitlines() if not line.startswith(">"))


def _origin_windows(width: int, step: int, seed: int):
    """Windows of the chloroplast (label 0) and chr17 (label 1), split by position within each record."""
    rng = np.random.default_rng(seed)
    splits = {"train": ([], []), "valid": ([], []), "test": ([], [])}
    for label, name in enumerate(("NC_000932", "chr17")):
        record = _fasta_record(name)
        cuts = [0, int(0.7 * len(record)), int(0.85 * len(record)), len(record)]
        for split, lo, hi in zip(splits, cuts, cuts[1:], strict=False):
            for start in range(lo, hi - width + 1, step):
                window = record[start : start + width]
                if set(window) <= set("ACGT"):
                    splits[split][0].append(reverse_complement(window) if rng.random() < 0.5 else window)
                    splits[split][1].append(label)
    sets = []
    for split in splits:  # balance the classes (the chloroplast is 4x longer): keep as many of each
        seqs, labels = map(np.array, splits[split])
        n = np.bincount(labels).min()
        keep = np.sort(
            np.concatenate([rng.choice(np.flatnonzero(labels == c), n, replace=False) for c in (0, 1)])
        )
        sets.append(SequenceSet(seqs[keep].tolist(), labels[keep]))
    return tuple(sets)


def _planted(n: int, seed: int) -> SequenceSet:
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), rng.integers(20, 32)))
        if i % 2:
            at = rng.integers(0, len(seq) - 5)
            seq[at : at + 6] = "TATAAT"
        seqs.append("".join(seq))
        labels.append(i % 2)
    return SequenceSet(seqs, np.array(labels))


def load_task(task: str, seed: int = 0) -> tuple[SequenceSet, SequenceSet, SequenceSet]:
    """``(train, valid, test)`` of one task of the module docstring."""
    if task in ("gue_mouse_tf_3", "gue_mouse_tf_2", "gue_prom_300_tata"):
        return tuple(load_dna_task(task, split) for split in ("train", "valid", "test"))
    if task == "gue_human_tf_0_400":
        return (
            _first(load_dna_task("gue_human_tf_0", "train"), 400, seed),
            load_dna_task("gue_human_tf_0", "valid"),
            load_dna_task("gue_human_tf_0", "test"),
        )
    if task == "gue_prom_core_all_3000":
        return (
            _first(load_dna_task("gue_prom_core_all", "train"), 3000, seed),
            load_dna_task("gue_prom_core_all", "valid"),
            load_dna_task("gue_prom_core_all", "test"),
        )
    if task in ("gb_nontata_promoters", "gb_enhancers_cohn"):
        folder = {
            "gb_nontata_promoters": "human_nontata_promoters",
            "gb_enhancers_cohn": "human_enhancers_cohn",
        }
        path = ROOT / "datasets" / "genomic_benchmarks" / folder[task] / "test.csv.gz"
        return _three_way(read_sequence_csv(path, split="test"), 3000, 600, 2000, seed)
    if task == "fasta_origin_120":
        return _origin_windows(120, 30, seed)
    if task == "fasta_origin_1000":
        return _origin_windows(1000, 50, seed)
    if task == "planted_motif":
        return _planted(400, seed), _planted(200, seed + 1), _planted(400, seed + 2)
    raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


def _scores(labels, predicted) -> dict:
    return {
        "acc": round(100 * float((labels == predicted).mean()), 2),
        "mcc": round(100 * float(matthews_corrcoef(labels, predicted)), 2),
    }


def run(task: str, model: str, seed: int, max_cpu_minutes: float) -> dict:
    train, valid, test = load_task(task)
    start = time.process_time()
    if model == "kmer_lr":
        fitted, _, note = fit_kmer_lr(train, valid, seed)
        epochs = ""
    else:
        # A CPU cap as a safety net only: the row says whether it cut training short.
        params = dict(CANDIDATES[model])
        limits = {**params.pop("trainer_kwargs", {}), "max_time": {"minutes": max_cpu_minutes}}
        fitted = TitansSequenceClassifier(**params, random_state=seed, trainer_kwargs=limits).fit(
            train.sequences, train.labels
        )
        epochs = fitted.n_epochs_
        note = ""
    seconds = time.process_time() - start
    return {
        "task": task,
        "model": model,
        "seed": seed,
        "n_train": len(train),
        "length": int(np.median([len(s) for s in train.sequences])),
        "valid": _scores(valid.labels, fitted.predict(valid.sequences)),
        "test": _scores(test.labels, fitted.predict(test.sequences)),
        "epochs": epochs,
        "cpu_s": round(seconds, 1),
        "capped": model != "kmer_lr" and seconds >= 60 * max_cpu_minutes * 0.98,
        "notes": note,
    }


def markdown(runs: list[dict], command: str) -> str:
    lines = [
        "# DNA classifier defaults: candidates against k-mer logistic regression\n",
        f"- command: `{command}`",
        f"- machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)",
        "- method, tasks and candidates: see the docstring of `benchmarks/dna_defaults.py`; each",
        "  candidate is `TitansSequenceClassifier(**candidate).fit(X, y)` (its own validation split and",
        "  early stopping)",
        "- accuracy and MCC x100; seeds: the mean over the seeds run (per seed in the runs file)\n",
        "| task | bp | train | model | seeds | valid acc | test acc | test MCC | epochs | CPU s | notes |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for task in dict.fromkeys(r["task"] for r in runs):
        for model in dict.fromkeys(r["model"] for r in runs if r["task"] == task):
            rs = [r for r in runs if r["task"] == task and r["model"] == model]

            def mean(split: str, key: str, rs: list[dict] = rs) -> float:
                return float(np.mean([r[split][key] for r in rs]))

            capped = " (CPU cap hit)" if any(r["capped"] for r in rs) else ""
            lines.append(
                f"| {task} | {rs[0]['length']} | {rs[0]['n_train']} | {model} | {len(rs)} "
                f"| {mean('valid', 'acc'):.2f} | {mean('test', 'acc'):.2f} | {mean('test', 'mcc'):.2f} "
                f"| {'/'.join(str(r['epochs']) for r in rs)} | {np.mean([r['cpu_s'] for r in rs]):.0f} "
                f"| {rs[0]['notes']}{capped} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument(
        "--models", nargs="+", default=["kmer_lr", *CANDIDATES], choices=["kmer_lr", *CANDIDATES]
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--max-cpu-minutes", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=Path, default=RESULTS / "dna_defaults_runs.jsonl")
    parser.add_argument("--output", type=Path, default=RESULTS / "dna_defaults.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    done = []
    if args.runs.exists():
        done = [json.loads(line) for line in args.runs.read_text().splitlines() if line.strip()]
    have = {(r["task"], r["model"], r["seed"]) for r in done}
    for task in args.tasks:
        for model in args.models:
            for seed in range(1 if model == "kmer_lr" else args.seeds):
                if (task, model, seed) in have:
                    continue
                result = run(task, model, seed, args.max_cpu_minutes)
                print(json.dumps(result), flush=True)
                args.runs.parent.mkdir(parents=True, exist_ok=True)
                with args.runs.open("a") as fh:  # one line per finished run: an interruption loses none
                    fh.write(json.dumps(result) + "\n")
                done.append(result)
    command = "python benchmarks/dna_defaults.py " + " ".join(sys.argv[1:])
    write_atomic(args.output, markdown(done, command.strip()))


if __name__ == "__main__":
    main()
