"""The pyfaidx path end to end: FASTA + BED -> labelled regions -> TitansSequenceClassifier -> predictions.

The labels are a real feature of the genome: ``datasets/fasta/chr17.hg19.part.fa`` (40 kb of human chr17,
hg19) is soft-masked, i.e. RepeatMasker's repeats (Alu, L1, ...) are in lowercase. Windows that are almost
all lowercase are ``repeat``, windows with almost no lowercase are ``unique`` (mixed windows are dropped).
The sequences the model sees are uppercased on reading, so it must recognise repeats from the bases alone.

Steps:

1. cut the contig into windows, label them from the soft-masking, give each a random strand, and write
   ``train.bed``, ``valid.bed`` and ``test.bed`` (60% / 15% / 25% of the contig, with gaps: no window
   overlaps another split);
2. read the training and validation regions with pyfaidx
   (:func:`~titans_seq.data.dna_sources.read_intervals`: minus-strand regions come back
   reverse-complemented), fit a small classifier with reverse-complement augmentation and
   averaging (repeats have no preferred strand), save it;
3. predict the test regions with the CLI: ``titans-seq dna predict --model DIR --fasta FA --bed test.bed
   --output preds.tsv``, and score the predictions against the labels kept in the BED name column.

The ``.fai`` index goes to the output folder, so ``datasets/`` is never written to. Runs in about 1-2 minutes
on one CPU thread::

    python recipes/dna_fasta_bed.py [--minutes 1.0] [--output outputs/dna_fasta_bed]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pyfaidx import Fasta
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from titans_seq.cli.dna import main as dna_cli
from titans_seq.data.dna_sources import DEFAULT_DATA_DIR, read_intervals
from titans_seq.estimators.classifier import TitansSequenceClassifier
from titans_seq.models import MemoryConfig, TitansConfig

FASTA = DEFAULT_DATA_DIR / "fasta" / "chr17.hg19.part.fa"


def labelled_windows(fasta: Path, index_dir: Path, window: int, stride: int, seed: int) -> pd.DataFrame:
    """BED-like frame of windows labelled by their soft-masked share: >= 90% repeat, <= 10% unique."""
    rng = np.random.default_rng(seed)
    rows = []
    with Fasta(str(fasta), as_raw=True, indexname=str(index_dir / f"{fasta.name}.fai")) as genome:
        for record in genome:
            text = str(record[:])  # case kept: lowercase = soft-masked repeat
            lower = np.frombuffer(text.encode("ascii"), dtype=np.uint8) >= ord("a")
            masked = np.concatenate([[0], np.cumsum(lower)])
            for start in range(0, len(text) - window + 1, stride):
                share = (masked[start + window] - masked[start]) / window
                if 0.1 < share < 0.9:
                    continue
                label = "repeat" if share >= 0.9 else "unique"
                rows.append((record.name, start, start + window, label, 0, rng.choice(["+", "-"])))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "score", "strand"])


def write_bed(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, sep="\t", header=False, index=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fasta", type=Path, default=FASTA, help="soft-masked FASTA (default: chr17 part)")
    parser.add_argument("--output", type=Path, default=Path("outputs/dna_fasta_bed"))
    parser.add_argument("--minutes", type=float, default=1.0, help="training time budget")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--stride", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.output
    (out / "index").mkdir(parents=True, exist_ok=True)

    # 1. Labelled regions, split by position with a one-window gap between splits: windows overlap within a
    #    split (stride < window) but never across, so validation and test are honest.
    windows = labelled_windows(args.fasta, out / "index", args.window, args.stride, args.seed)
    length, gap = windows["end"].max(), args.window
    parts = {
        "train": windows[windows["end"] <= 0.6 * length],
        "valid": windows[(windows["start"] >= 0.6 * length + gap) & (windows["end"] <= 0.75 * length)],
        "test": windows[windows["start"] >= 0.75 * length + gap],
    }
    beds = {name: write_bed(part, out / f"{name}.bed") for name, part in parts.items()}
    print(
        f"regions from {args.fasta.name} (window {args.window}, stride {args.stride}): "
        + ", ".join(f"{name} {part['name'].value_counts().to_dict()}" for name, part in parts.items())
    )

    # 2. pyfaidx -> SequenceSet -> classifier (early stopping on the validation regions).
    train, valid = (
        read_intervals(args.fasta, beds[name], label_column="name", index_dir=out / "index")
        for name in ("train", "valid")
    )
    minus = int((parts["train"]["strand"] == "-").sum())
    print(
        f"read {len(train)} training regions with pyfaidx ({minus} on the minus strand, reverse-complemented)"
    )
    clf = TitansSequenceClassifier(
        backbone=TitansConfig(
            variant="lmm",
            dim=32,
            depth=2,
            ffn_expansion=2.0,
            memory=MemoryConfig(heads=4, chunk_size=16, depth=1),
        ),
        learning_rate=3e-3,
        max_epochs=200,
        patience=8,
        rc_augment=True,
        rc_average=True,
        random_state=args.seed,
        trainer_kwargs={"max_time": {"seconds": int(args.minutes * 60)}},
    )
    start = time.perf_counter()
    clf.fit(train.sequences, train.labels, validation_data=(valid.sequences, valid.labels))
    print(
        f"trained {clf.n_epochs_} epochs in {time.perf_counter() - start:.0f} s "
        f"(best validation loss {clf.best_val_loss_:.3f}); classes {clf.classes_.tolist()}"
    )
    model_dir = clf.save(out / "model")

    # 3. Batch prediction over the test BED with the CLI, then score against the labels in the name column.
    preds_path = out / "preds.tsv"
    code = dna_cli(
        [
            "predict",
            *("--model", str(model_dir), "--fasta", str(args.fasta), "--bed", str(beds["test"])),
            *("--output", str(preds_path), "--index-dir", str(out / "index"), "--quiet"),
        ]
    )
    if code:
        return code
    preds = pd.read_csv(preds_path, sep="\t")
    accuracy = float((preds["prediction"] == preds["name"]).mean())
    majority = float(preds["name"].value_counts(normalize=True).max())
    # For scale: k-mer counts + logistic regression on the same regions.
    test = read_intervals(args.fasta, beds["test"], label_column="name", index_dir=out / "index")
    kmers = make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(1, 6), lowercase=False),
        Normalizer(),
        LogisticRegression(),
    ).fit(train.sequences, train.labels)
    print(preds.head(4).to_string(index=False))
    print(
        f"test accuracy {accuracy:.3f} on {len(preds)} regions (k-mer logistic regression "
        f"{kmers.score(test.sequences, test.labels):.3f}, majority class {majority:.3f}); {preds_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
