"""Long-range DNA benchmark: a label that only two motifs far apart decide, in real genomic background.

Each sequence is ``2 * D`` bases of real genome (windows of the bundled FASTA files, both strands: Arabidopsis
chloroplast, a piece of human chr17, HIV-1 and a Yersinia plasmid, about 420 kb with reverse complements).
Two 12-base motifs ``A`` and ``B`` (random, absent from that background on both strands) are written into
it ``D`` bases apart, the first at a uniform random position of the first half. The label is their order:
1 for ``A ... B``, 0 for ``B ... A``. Both classes hold one ``A`` and one ``B``, so k-mer counts are the same
in distribution, and a model that pools local detectors over the whole sequence sees the same two
detections either way: only a model that relates the two sites ``D`` bases apart can beat chance (50%).

Models, trained in this script on the same sets:

- ``titans``  the GUE benchmark's model (``benchmarks/dna_gue.py``): bases -> causal stem of 2 convolutions of
              width 9 max-pooled by 4 -> one LMM block (width 64, 4 heads, chunk 16, linear memory) -> max
              pooling -> linear head; AdamW, lr 3e-3, early stopping on the valid set. Sequences longer than
              4096 backbone tokens stream through it in pieces (exactly one pass). ``--curriculum``: each
              distance starts from the weights trained at the previous one (counted in that distance's
              budget only from then on; the earlier distance's row reports its own).
- ``cnn``     3 convolutions of width 9 (64 channels), global max pooling, the same training loop.
- ``kmer_lr`` k-mer counts (k = 1..6, l2-normalised) + logistic regression, C chosen on the valid set.

``transfer`` rows: the Titans model of the previous distance applied, without training, to this distance's
test set (a memory that learned the rule, not the distance, should keep it).

Neural models get ``--minutes`` of CPU time per distance (validation included). Test accuracy x100 is
reported with its binomial standard error.

Usage::

    python benchmarks/dna_long_range.py --distances 1000 --minutes 3      # one distance
    python benchmarks/dna_long_range.py                                   # 1 kb, 10 kb, 100 kb

Writes ``benchmarks/results/dna_long_range.{md,csv}`` atomically after every distance.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dna_gue import (  # noqa: E402
    CNNSystem,
    fit_kmer_lr,
    gue_backbone,
    n_params,
    training_limits,
    write_atomic,
    write_csv_atomic,
)

from titans_seq.data.dna import SequenceSet, reverse_complement  # noqa: E402
from titans_seq.estimators.classifier import predict_probabilities, train_with_early_stopping  # noqa: E402
from titans_seq.training.dna import DNAClassifierSystem, DNADataModule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FASTA = sorted((ROOT / "datasets" / "fasta").glob("*.f*a"))
RESULTS = ROOT / "benchmarks" / "results"
MOTIF_LENGTH = 12
COLUMNS = [
    "distance",
    "length",
    "model",
    "n_train",
    "n_test",
    "acc",
    "acc_se",
    "valid_acc",
    "epochs",
    "cpu_s",
]
COLUMNS += ["params", "notes"]


def read_background() -> str:
    """Every bundled FASTA record and its reverse complement, uppercased, non-ACGT letters as N."""
    records = []
    for path in FASTA:
        chunks: list[str] = []
        for line in path.read_text().splitlines():
            if line.startswith(">"):
                if chunks:
                    records.append("".join(chunks))
                chunks = []
            else:
                chunks.append(line.strip().upper())
        if chunks:
            records.append("".join(chunks))
    forward = "".join(records)
    table = str.maketrans({c: "N" for c in set(forward) - set("ACGTN")})
    forward = forward.translate(table)
    return forward + reverse_complement(forward)


def pick_motifs(background: str, seed: int) -> tuple[str, str]:
    """Two random 12-mers that occur nowhere in the background (which already holds both strands)."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < 2:
        motif = "".join(rng.choice(list("ACGT"), MOTIF_LENGTH))
        if motif not in background and motif not in found:
            found.append(motif)
    return found[0], found[1]


def make_set(background: str, motifs: tuple[str, str], distance: int, n: int, seed: int) -> SequenceSet:
    """``n`` sequences of ``2 * distance`` bases, half of each order, in a random interleaving."""
    rng = np.random.default_rng(seed)
    length = 2 * distance
    labels = rng.permutation(np.arange(n) % 2)
    seqs = []
    for label in labels:
        start = int(rng.integers(0, len(background) - length))
        seq = list(background[start : start + length])
        first, second = motifs if label == 1 else motifs[::-1]
        at = int(rng.integers(0, distance - MOTIF_LENGTH))
        seq[at : at + MOTIF_LENGTH] = first
        seq[at + distance : at + distance + MOTIF_LENGTH] = second
        seqs.append("".join(seq))
    return SequenceSet(seqs, labels)


def titans_system() -> DNAClassifierSystem:
    backbone = gue_backbone()
    return DNAClassifierSystem(
        num_classes=2,
        backbone=backbone,
        pooling="max",
        stem_kernel=9,
        stem_layers=2,
        stem_stride=4,
        learning_rate=3e-3,
        lr_decay_patience=2,
    )


def accuracy(system, data: SequenceSet, batch_size: int) -> float:
    module = DNADataModule.from_sets(predict=data, batch_size=batch_size)
    return float((predict_probabilities(system, module).argmax(1) == data.labels).mean())


def train_neural(system, sets, args, seed: int) -> dict:
    train, valid, _ = sets
    limits = training_limits(len(train), args.batch_size, args.minutes)
    data = DNADataModule.from_sets(train, valid, batch_size=args.batch_size, seed=seed)
    summary = train_with_early_stopping(
        system, data, max_epochs=1000, patience=args.patience, trainer_kwargs=limits
    )
    return {"epochs": summary.epochs, "cpu_s": round(limits["callbacks"][0].used, 1)}


def row(distance: int, model: str, sets, test_acc: float, **extra) -> dict:
    n_test = len(sets[2])
    se = np.sqrt(test_acc * (1 - test_acc) / n_test)
    return {
        "distance": distance,
        "length": 2 * distance,
        "model": model,
        "n_train": len(sets[0]),
        "n_test": n_test,
        "acc": round(100 * test_acc, 2),
        "acc_se": round(100 * se, 2),
        **{key: "" for key in ("valid_acc", "epochs", "cpu_s", "params", "notes")},
        **extra,
    }


def run_distance(distance: int, sizes: tuple[int, int, int], background, motifs, args, previous):
    """The rows of one distance and the Titans system trained there (None when not trained)."""
    seed = args.seed
    sets = tuple(
        make_set(background, motifs, distance, n, seed=[distance, i, seed])
        for i, n in enumerate(sizes)  # train, valid, test
    )
    train, valid, test = sets
    rows = []
    if previous is not None:
        rows.append(
            row(
                distance,
                "titans transfer",
                sets,
                accuracy(previous, test, args.batch_size),
                notes="trained at the previous distance, not here",
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    if "kmer_lr" in args.models:
        start = time.process_time()
        model, params, note = fit_kmer_lr(train, valid, seed)
        rows.append(
            row(
                distance,
                "kmer_lr",
                sets,
                float((model.predict(test.sequences) == test.labels).mean()),
                valid_acc=round(100 * float((model.predict(valid.sequences) == valid.labels).mean()), 2),
                cpu_s=round(time.process_time() - start, 1),
                params=params,
                notes=note,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    trained = None
    for name in (m for m in args.models if m != "kmer_lr"):
        torch.manual_seed(seed)
        if name == "titans":
            system = titans_system()
            note = ""
            if args.curriculum and previous is not None:
                system.load_state_dict(previous.state_dict())
                note = "started from the previous distance's weights"
        else:
            system = CNNSystem(num_classes=2, learning_rate=3e-3, lr_decay_patience=2)
            note = ""
        fit = train_neural(system, sets, args, seed)
        rows.append(
            row(
                distance,
                name,
                sets,
                accuracy(system, test, args.batch_size),
                valid_acc=round(100 * accuracy(system, valid, args.batch_size), 2),
                params=n_params(system.model),
                notes=note,
                **fit,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
        if name == "titans":
            trained = system
    return rows, trained


def markdown(rows: list[dict], command: str, motifs) -> str:
    out = io.StringIO()
    out.write("# Long-range DNA: two motifs D bases apart decide the label (chance = 50%)\n\n")
    out.write(f"- command: `{command}`\n- motifs: A = {motifs[0]}, B = {motifs[1]}\n")
    out.write(
        f"- machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n"
    )
    out.write("- method: see the docstring of `benchmarks/dna_long_range.py`\n\n")
    out.write(
        "| distance | sequence length | model | train / test | test acc | +- se | valid acc | epochs "
        "| CPU s | params | notes |\n|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    for r in rows:
        out.write(
            f"| {r['distance']:,} | {r['length']:,} | {r['model']} | {r['n_train']} / {r['n_test']} "
            f"| {r['acc']} | {r['acc_se']} | {r['valid_acc']} | {r['epochs']} | {r['cpu_s']} "
            f"| {r['params']} | {r['notes']} |\n"
        )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distances", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--n-train",
        type=int,
        nargs="+",
        default=[2000, 500, 100],
        help="training sequences per distance (the last value repeats; the same for --n-valid, --n-test)",
    )
    parser.add_argument("--n-valid", type=int, nargs="+", default=[400, 200, 100])
    parser.add_argument("--n-test", type=int, nargs="+", default=[400, 400, 200])
    parser.add_argument(
        "--models", nargs="+", default=["kmer_lr", "cnn", "titans"], choices=["kmer_lr", "cnn", "titans"]
    )
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="CPU minutes per neural model and distance"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--curriculum", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "dna_long_range")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    background = read_background()
    motifs = pick_motifs(background, args.seed)
    command = "python benchmarks/dna_long_range.py " + " ".join(sys.argv[1:])
    rows, previous = [], None
    for i, distance in enumerate(args.distances):
        sizes = tuple(n[min(i, len(n) - 1)] for n in (args.n_train, args.n_valid, args.n_test))
        new_rows, trained = run_distance(distance, sizes, background, motifs, args, previous)
        rows += new_rows
        previous = trained or previous
        write_atomic(args.output.with_suffix(".md"), markdown(rows, command.strip(), motifs))
        write_csv_atomic(args.output.with_suffix(".csv"), rows, COLUMNS)


if __name__ == "__main__":
    main()
