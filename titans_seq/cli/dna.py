"""``titans-seq dna``: train and test from YAML recipes (LightningCLI), predict over FASTA + BED regions.

Usage::

    titans-seq dna fit  --config recipes/dna/gue_prom_core_all.yaml [--trainer.max_epochs 5 ...]
    titans-seq dna test --config recipes/dna/gue_prom_core_all.yaml [--ckpt_path PATH]
    titans-seq dna predict --model DIR --fasta genome.fa --bed regions.bed --output preds.tsv

``fit`` trains with the recipe's callbacks (early stopping, best checkpoint) and then exports the best weights
as a model directory, ``<trainer.default_root_dir>/model`` (``config.json`` + ``model.safetensors``, what
``TitansSequenceClassifier.load`` and ``dna predict --model`` read). ``test`` evaluates the best checkpoint of
that fit unless ``--ckpt_path`` is given. ``--print_config`` shows the full configuration of a recipe.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from titans_seq.cli._lightning import hide_lightning_warnings

USAGE = """usage: titans-seq dna {fit,validate,test} --config RECIPE.yaml [--section.key value ...]
       titans-seq dna predict --model DIR --fasta GENOME.fa --bed REGIONS.bed --output PREDS.tsv

  fit       train a recipe (recipes/dna/*.yaml); exports <trainer.default_root_dir>/model
  validate  evaluate on the validation split
  test      evaluate the best checkpoint of the fit on the test split (or --ckpt_path)
  predict   class probabilities of BED regions of a FASTA with a saved model
Run 'titans-seq dna <command> --help' for the options of a command."""


def main(argv: list[str]) -> int:
    """Entry point of ``titans-seq dna``; returns the process exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] not in ("predict", "fit", "validate", "test"):
        print(f"titans-seq dna: unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    with hide_lightning_warnings():
        if argv[0] == "predict":
            return predict(argv[1:])
        _run_lightning_cli(argv)
    return 0


# ------------------------------------------------------------------------------- fit / test


def _run_lightning_cli(argv: list[str]) -> None:
    from lightning.pytorch.cli import LightningCLI

    from titans_seq.estimators.classifier import TitansSequenceClassifier
    from titans_seq.training.dna import DNAClassifierSystem, DNADataModule

    class DNACLI(LightningCLI):
        @staticmethod
        def subcommands() -> dict[str, set[str]]:
            # ``predict`` is ours (FASTA + BED regions), not Trainer.predict over a data module.
            return {k: v for k, v in LightningCLI.subcommands().items() if k != "predict"}

        def add_arguments_to_parser(self, parser) -> None:
            # The model's vocabulary follows the data's tokenizer; its class count follows the data.
            parser.link_arguments("data.init_args.kmer", "model.init_args.kmer")
            parser.link_arguments(
                "data", "model.init_args.num_classes", compute_fn=_num_classes, apply_on="instantiate"
            )

        def before_test(self) -> None:
            if self.config_init["test"].get("ckpt_path"):
                return
            best = _best_checkpoint(self.trainer)
            if best is None or not best.is_file():
                raise SystemExit(
                    f"titans-seq dna test: no checkpoint {best or ''}: run 'titans-seq dna fit' with this "
                    "recipe first, or pass --ckpt_path"
                )
            print(f"testing checkpoint {best}", file=sys.stderr)
            self.config_init["test"]["ckpt_path"] = str(best)

        def after_fit(self) -> None:
            import torch

            best = self.trainer.checkpoint_callback
            if best is not None and best.best_model_path:
                state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
                self.model.load_state_dict(state["state_dict"])
                print(
                    f"best checkpoint: {best.best_model_path} (val_loss {float(best.best_model_score):.4f})"
                )
            target = Path(self.trainer.default_root_dir) / "model"
            estimator = TitansSequenceClassifier.from_system(
                self.model.cpu(), self.datamodule.classes, batch_size=self.datamodule.batch_size
            )
            estimator.save(target)
            print(f"model saved to {target} (titans-seq dna predict --model {target} ...)")

    DNACLI(  # main() runs this inside hide_lightning_warnings()
        DNAClassifierSystem,
        DNADataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
    )


def _num_classes(datamodule) -> int:
    return datamodule.num_classes


def _best_checkpoint(trainer) -> Path | None:
    callback = trainer.checkpoint_callback
    if callback is None or not callback.dirpath or not callback.filename or "{" in callback.filename:
        return None
    return Path(callback.dirpath) / f"{callback.filename}{callback.FILE_EXTENSION}"


# ---------------------------------------------------------------------------------- predict


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="titans-seq dna predict",
        description="Class probabilities of the regions of a BED file, read from a FASTA with a saved model.",
    )
    parser.add_argument("--model", required=True, help="model directory (config.json + model.safetensors)")
    parser.add_argument("--fasta", required=True, help="reference FASTA (pyfaidx; .fai written next to it)")
    parser.add_argument("--bed", required=True, help="regions: BED (0-based half-open; strand '-' = reverse)")
    parser.add_argument("--output", required=True, help="TSV to write (atomically)")
    parser.add_argument("--batch-size", type=int, default=None, help="sequences per batch (default: model's)")
    parser.add_argument(
        "--index-dir", default=None, help="folder for the .fai index (default: next to FASTA)"
    )
    parser.add_argument(
        "--unknown",
        choices=("error", "N"),
        default="error",
        help="IUPAC ambiguity codes: error, or read as N",
    )
    parser.add_argument("--accelerator", default="auto", help="Lightning accelerator (auto, cpu, gpu, ...)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def predict(argv: list[str]) -> int:
    """``titans-seq dna predict``: one output row per BED region, probabilities in ``classes_`` order.

    Output columns: ``chrom, start, end`` (+ ``name``, ``strand`` when the BED has them), ``prediction``,
    then ``p_<class>`` per class. Written to a temporary file next to ``--output`` and renamed into place,
    so an interrupted run never leaves a partial file. Every input is checked before the model runs.
    """
    args = _predict_parser().parse_args(argv)
    try:
        written = _predict(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"titans-seq dna predict: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written} predictions to {args.output}", file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from titans_seq.data.dna_sources import read_bed, read_intervals
    from titans_seq.estimators.classifier import TitansSequenceClassifier

    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    output = Path(args.output)
    if not output.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {output.parent}")
    clf = TitansSequenceClassifier.load(args.model)
    regions = read_bed(args.bed)
    name_column = "name" if "name" in regions.columns else None
    sequences = read_intervals(
        args.fasta, regions, name_column=name_column, index_dir=args.index_dir, unknown=args.unknown
    )
    clf.set_params(
        verbose=not args.quiet,
        batch_size=args.batch_size or clf.batch_size,
        trainer_kwargs={**(clf.trainer_kwargs or {}), "accelerator": args.accelerator},
    )
    proba = clf.predict_proba(sequences.sequences)
    keep = [c for c in ("chrom", "start", "end", "name", "strand") if c in regions.columns]
    table = regions[keep].copy()
    table["prediction"] = clf.classes_[proba.argmax(1)]
    for j, label in enumerate(clf.classes_.tolist()):
        table[f"p_{label}"] = proba[:, j]
    handle, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            table.to_csv(stream, sep="\t", index=False, float_format="%.6g")
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(table)
