"""benchmarks/dna_gue.py tables: ``--merge`` keeps the other rows, replaces this run's, and sorts them."""

from __future__ import annotations

import argparse
import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("dna_gue", ROOT / "benchmarks" / "dna_gue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(task: str, model: str, mcc: float) -> dict:
    published = {"dnabert2_mcc": 70.0, "dnabert2_lindsey_mcc": "", "cnn_lindsey_mcc": ""}
    return {"task": task, "model": model, "params": 10, "train_s": 1.5, "epochs": "", "test_acc": 80.0} | {
        "test_mcc": mcc,
        "notes": "",
        **published,
    }


def test_merge_replaces_this_runs_rows_keeps_the_others_and_compares_numbers(tmp_path: Path) -> None:
    gue = _script()
    first, second = gue.GUE_TASKS[0], gue.GUE_TASKS[1]
    args = argparse.Namespace(output=tmp_path / "table", merge=False)
    earlier = [_row(second, "cnn", 9.5), _row(first, "titans", 50.0), _row(first, "cnn", 60.0)]
    gue.write_tables(earlier, args, "header")
    args.merge = True
    gue.write_tables([_row(first, "titans", 71.0), _row(second, "titans", 10.0)], args, "header")
    with open(tmp_path / "table.csv", newline="") as handle:
        rows = [(r["task"], r["model"], r["test_mcc"]) for r in csv.DictReader(handle)]
    # this run's titans rows replace the earlier one; the CNN rows stay; GUE task order, then model order
    assert rows == [(first, "titans", "71.0"), (first, "cnn", "60.0"), (second, "titans", "10.0")] + [
        (second, "cnn", "9.5")
    ]
    md = (tmp_path / "table.md").read_text()
    # read back as numbers: 10.0 > 9.5 (as text "10.0" < "9.5"), 71.0 >= 70.0 (DNABERT-2)
    assert f"| {first} | 71.0 | 60.0 | yes | yes |" in md
    assert f"| {second} | 10.0 | 9.5 | yes | no |" in md
    assert not list(tmp_path.glob(".table.csv.tmp"))
