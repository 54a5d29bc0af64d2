"""benchmarks/dna_gue.py tables: ``--merge`` keeps the other rows, replaces this run's, and sorts them."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from tests.benchmarks.conftest import load_script


def _row(task: str, model: str, mcc: float, command: str = "python benchmarks/dna_gue.py --first") -> dict:
    published = {"dnabert2_mcc": 70.0, "dnabert2_lindsey_mcc": "", "cnn_lindsey_mcc": ""}
    return {"task": task, "model": model, "params": 10, "train_cpu_s": 1.5, "epochs": "", "seeds": 1} | {
        "test_acc": 80.0,
        "test_mcc": mcc,
        "mcc_sd": "",
        "mcc_per_seed": f"{mcc:.2f}",
        "valid_mcc": mcc - 1.0,
        "notes": "",
        "command": command,
        **published,
    }


def test_merge_replaces_this_runs_rows_keeps_the_others_and_compares_numbers(tmp_path: Path) -> None:
    gue = load_script("dna_gue")
    first, second = gue.GUE_TASKS[0], gue.GUE_TASKS[1]
    args = argparse.Namespace(output=tmp_path / "table", merge=False)
    earlier = [_row(second, "cnn", 9.5), _row(first, "titans", 50.0), _row(first, "cnn", 60.0)]
    gue.write_tables(earlier, args, "header")
    args.merge = True
    later = "python benchmarks/dna_gue.py --later"
    gue.write_tables(
        [_row(first, "titans", 71.0, later), _row(second, "titans", 10.0, later)], args, "header"
    )
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
    # both commands whose rows are in the table are listed, once each, in order of appearance
    assert "- `python benchmarks/dna_gue.py --later`\n- `python benchmarks/dna_gue.py --first`\n" in md
    assert not list(tmp_path.glob(".table.csv.tmp"))


def test_seeds_are_averaged_with_their_spread_and_each_one_kept() -> None:
    gue = load_script("dna_gue")
    runs = [
        {"acc": 90.0, "mcc": 80.0, "valid_mcc": 70.0, "params": 7, "epochs": 3, "cpu_s": 10.0},
        {"acc": 92.0, "mcc": 84.0, "valid_mcc": 71.0, "params": 7, "epochs": 5, "cpu_s": 14.0},
        {"acc": 94.0, "mcc": 85.0, "valid_mcc": 75.0, "params": 7, "epochs": 4, "cpu_s": 12.0},
    ]
    reference = {("DNABERT-2", "gue_mouse_tf_3"): 66.47}
    row = gue.summarize("gue_mouse_tf_3", "cnn", runs, "RC aug+avg", reference)
    assert (row["test_mcc"], row["test_acc"], row["train_cpu_s"], row["seeds"]) == (83.0, 92.0, 12.0, 3)
    assert row["mcc_sd"] == 2.65  # sample standard deviation of 80, 84, 85
    assert row["valid_mcc"] == 72.0  # the mean over seeds, like the test MCC
    assert (row["mcc_per_seed"], row["epochs"], row["dnabert2_mcc"]) == ("80.00/84.00/85.00", "3/5/4", 66.47)
    single = gue.summarize("gue_mouse_tf_3", "kmer_lr", runs[:1], "C=1", reference)
    assert single["mcc_sd"] == "" and single["seeds"] == 1 and single["test_mcc"] == 80.0


def test_rows_of_an_older_table_without_seed_columns_are_merged_blank(tmp_path: Path) -> None:
    gue = load_script("dna_gue")
    task = gue.GUE_TASKS[0]
    old = tmp_path / "table.csv"
    old.write_text(
        "task,model,params,train_s,epochs,test_acc,test_mcc,dnabert2_mcc,dnabert2_lindsey_mcc,cnn_lindsey_mcc,notes\n"
        f"{task},cnn,10,180.5,9,82.1,65.61,71.99,66.8,58.2,RC aug+avg\n"
    )
    args = argparse.Namespace(output=tmp_path / "table", merge=True)
    gue.write_tables([_row(task, "titans", 66.0)], args, "header")
    with open(old, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["model"], r["test_mcc"], r["seeds"], r["train_cpu_s"], r["valid_mcc"]) for r in rows] == [
        ("titans", "66.0", "1", "1.5", "65.0"),
        ("cnn", "65.61", "", "", ""),
    ]
    assert "- 1 row(s) from before the `command` column" in (tmp_path / "table.md").read_text()
