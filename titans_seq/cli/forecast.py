"""``titans-seq forecast``: train/test recipes (LightningCLI) and batch forecasting over many files.

::

    titans-seq forecast fit  --config recipes/forecast/etth1.yaml [--data.init_args.h 336]
    titans-seq forecast test --config recipes/forecast/etth1.yaml --ckpt_path path/to/best.ckpt
    titans-seq forecast predict --model DIR --input 'data/*.csv' --output OUT_DIR [--overwrite]
        [--devices N] [--accelerator auto] [--num-nodes 1] [--h H] [--quiet]

``fit`` trains a :class:`~titans_seq.training.forecasting.ForecastingModule` on a benchmark's TSL splits and
then tests the best checkpoint; the horizon and lookback are set once, in ``data``, and linked to the model.

``predict`` loads a saved :class:`~titans_seq.TitansForecaster` and forecasts every input file (a long or
wide CSV, ``.csv.gz`` too), writing ``OUT_DIR/<name>.forecast.csv`` per input, atomically (a temporary file
renamed into place, so an interrupted run never leaves a partial output). Outputs that exist are skipped
unless ``--overwrite``, so rerunning after an interruption resumes. With ``--devices N`` (or under
``torchrun``) inputs are sharded across processes by Lightning's prediction sampler, with no duplicates.
Failed inputs are listed at the end and the exit code is 1.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BasePredictionWriter

from titans_seq.cli._lightning import hide_lightning_warnings

USAGE = """usage: titans-seq forecast {fit,validate,test,predict} ...

  fit|validate|test --config recipes/forecast/<dataset>.yaml [--data.init_args.h 192] [--print_config]
  predict --model DIR --input 'data/*.csv' [--input ...] --output OUT_DIR [--overwrite] [--devices N]
"""
OUTPUT_SUFFIX = ".forecast.csv"


def main(argv: list[str]) -> int:
    """Entry point of ``titans-seq forecast``; returns the exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command = argv[0]
    with hide_lightning_warnings():
        if command == "predict":
            return predict_main(argv[1:])
        if command in ("fit", "validate", "test"):
            return _lightning_cli(argv)
    print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------- recipes (LightningCLI)


def _lightning_cli(argv: list[str]) -> int:
    from lightning.pytorch.cli import LightningCLI

    from titans_seq.training.forecasting import BenchmarkDataModule, ForecastingModule

    class ForecastCLI(LightningCLI):
        def add_arguments_to_parser(self, parser: Any) -> None:
            # the horizon and lookback live in the data section; the model follows them, so one recipe
            # serves every horizon (--data.init_args.h 336)
            parser.link_arguments("data.init_args.h", "model.init_args.h")
            parser.link_arguments("data.init_args.input_size", "model.init_args.input_size")

        def after_fit(self) -> None:
            checkpoint = self.trainer.checkpoint_callback
            best = getattr(checkpoint, "best_model_path", "") or None
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)

    try:
        ForecastCLI(
            ForecastingModule,
            BenchmarkDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=argv,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "titans-seq forecast"},
        )
    except SystemExit as stop:  # argparse exits on --help and on bad arguments
        return int(stop.code or 0)
    return 0


# --------------------------------------------------------------------------- batch prediction


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="titans-seq forecast predict", description="Batch forecasting over files."
    )
    p.add_argument("--model", required=True, help="directory written by TitansForecaster.save")
    p.add_argument("--input", required=True, action="append", help="file or glob (quote it); repeatable")
    p.add_argument("--output", required=True, help="output directory (created if needed)")
    p.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")
    p.add_argument("--h", type=int, default=None, help="steps to forecast (default: the model's h)")
    p.add_argument("--devices", default="1", help="processes/devices (int or 'auto'); >1 shards the inputs")
    p.add_argument("--accelerator", default="auto", help="Lightning accelerator (auto, cpu, gpu, ...)")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--strategy", default=None, help="default: 'ddp' when more than one device, else 'auto'")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def output_name(path: Path) -> str:
    """``data/x.csv`` and ``data/x.csv.gz`` -> ``x.forecast.csv``."""
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name + OUTPUT_SUFFIX


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files matched by the patterns (globs or plain paths), sorted and de-duplicated.

    Raises
    ------
    ValueError
        A pattern matches nothing, or two inputs would write the same output name (names both).
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        files = [Path(m) for m in matches if Path(m).is_file()]
        if not files:
            raise ValueError(f"--input {pattern!r} matches no file")
        found.update(dict.fromkeys(p.resolve() for p in files))
    inputs = sorted(found)
    seen: dict[str, Path] = {}
    for path in inputs:
        name = output_name(path)
        if name in seen:
            raise ValueError(f"inputs {seen[name]} and {path} would both write {name}; rename one")
        seen[name] = path
    return inputs


def _first(batch: list[Any]) -> Any:
    return batch[0]


def predict_main(argv: list[str]) -> int:
    """``titans-seq forecast predict``; returns 0 when every input was forecast (or skipped), else 1."""
    import torch
    from torch.utils.data import DataLoader

    from titans_seq.estimators._common import make_trainer
    from titans_seq.estimators.forecaster import TitansForecaster

    args = _parser().parse_args(argv)
    try:
        inputs = expand_inputs(args.input)
        forecaster = TitansForecaster.load(args.model)
        if args.h is not None:
            forecaster._horizon(args.h)  # a bad --h fails before any process starts
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in inputs:  # temporary files left by an interrupted run
        for stale in out_dir.glob(f".{output_name(path)}.*.tmp"):
            stale.unlink(missing_ok=True)

    devices = args.devices if args.devices == "auto" else int(args.devices)
    strategy = args.strategy or ("ddp" if devices == "auto" or devices > 1 or args.num_nodes > 1 else "auto")
    writer = _ForecastWriter(out_dir)
    trainer = make_trainer(
        max_epochs=1,
        verbose=not args.quiet,
        callbacks=[writer],
        trainer_kwargs={
            "accelerator": args.accelerator,
            "devices": devices,
            "num_nodes": args.num_nodes,
            "strategy": strategy,
            "default_root_dir": str(out_dir),
        },
    )
    loader = DataLoader([str(p) for p in inputs], batch_size=1, shuffle=False, collate_fn=_first)
    trainer.predict(
        _BatchForecast(forecaster, out_dir, args.overwrite, args.h), loader, return_predictions=False
    )

    records = writer.records
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        gathered: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, records)
        records = [r for part in gathered for r in part]
        # Lightning leaves the process group up; tearing it down here, once every rank is past the gather,
        # keeps gloo's threads from being destroyed mid-flight at interpreter exit (which aborts the process)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    failures = [r for r in records if r["status"] == "failed"]
    if trainer.is_global_zero:
        _report(records, failures, trainer.world_size)
    return 1 if failures else 0


def _report(records: list[dict[str, Any]], failures: list[dict[str, Any]], world_size: int) -> None:
    counts = {s: sum(r["status"] == s for r in records) for s in ("written", "skipped", "failed")}
    ranks = sorted({r["rank"] for r in records})
    per_rank = ", ".join(f"rank {k}: {sum(r['rank'] == k for r in records)}" for k in ranks)
    print(
        f"forecast predict: {counts['written']} written, {counts['skipped']} skipped, "
        f"{counts['failed']} failed ({len(records)} inputs, {world_size} process(es); {per_rank})"
    )
    if failures:
        print(f"{len(failures)} input(s) failed:", file=sys.stderr)
        for r in failures:
            print(f"  {r['input']}: {r['error']}", file=sys.stderr)


class _BatchForecast(pl.LightningModule):
    """Forecast one input file per predict step; errors become records instead of stopping the run."""

    def __init__(self, forecaster: Any, out_dir: Path, overwrite: bool, h: int | None) -> None:
        super().__init__()
        self.forecaster, self.out_dir, self.overwrite, self.h = forecaster, out_dir, overwrite, h
        self.net = forecaster.model_  # registered, so Lightning moves the weights to the device

    def predict_step(self, path: str, batch_idx: int) -> dict[str, Any]:
        import pandas as pd

        target = self.out_dir / output_name(Path(path))
        record: dict[str, Any] = {"input": path, "output": str(target), "rank": self.global_rank}
        if target.exists() and not self.overwrite:
            return record | {"status": "skipped"}
        try:
            frame = self.forecaster.predict(pd.read_csv(path), h=self.h)
        except Exception as err:  # any bad file is reported, and the other inputs still run
            return record | {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        return record | {"status": "forecast", "frame": frame}


class _ForecastWriter(BasePredictionWriter):
    """Write each forecast atomically (temporary file + rename) and keep a record of every input."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(write_interval="batch")
        self.out_dir = out_dir
        self.records: list[dict[str, Any]] = []

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
    ):
        record = dict(prediction)
        frame = record.pop("frame", None)
        if frame is not None:
            target = Path(record["output"])
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                frame.to_csv(tmp, index=False)
                os.replace(tmp, target)
                record["status"] = "written"
            except OSError as err:
                tmp.unlink(missing_ok=True)
                record |= {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        self.records.append(record)
