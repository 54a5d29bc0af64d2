"""benchmarks/dna_gue.py settings: the recipes train what the benchmark measured, and ``--import-rows``."""

from __future__ import annotations

import argparse
import csv
import inspect
from pathlib import Path

import pytest
import yaml

from tests.benchmarks.conftest import ROOT, load_script
from titans_seq.training.dna import DNAClassifierSystem


def test_every_recipe_has_the_benchmark_defaults() -> None:
    gue = load_script("dna_gue")
    defaults = gue.build_parser().parse_args([])
    system = inspect.signature(DNAClassifierSystem.__init__).parameters
    for task in gue.GUE_TASKS:
        config = yaml.safe_load((ROOT / "recipes" / "dna" / f"{task}.yaml").read_text())
        model, data = config["model"]["init_args"], config["data"]["init_args"]
        backbone, memory = model["backbone"], model["backbone"]["memory"]
        strand_symmetric = defaults.rc == "all" or (defaults.rc == "tf" and "_tf_" in task)
        recipe = {
            "variant": backbone["variant"],
            "dim": backbone["dim"],
            "blocks": backbone["depth"],
            "heads": memory["heads"],
            "chunk_size": memory["chunk_size"],
            "memory_depth": memory["depth"],
            "pooling": model["pooling"],
            "stem_kernel": model["stem_kernel"],
            "stem_layers": model["stem_layers"],
            "stem_stride": model["stem_stride"],
            "strands": model["strands"],
            "dropout": model["dropout"],
            "lr": model["learning_rate"],
            "lr_decay_patience": model["lr_decay_patience"],
            "batch_size": data["batch_size"],
            "kmer": data["kmer"],
            "patience": config["trainer"]["callbacks"][0]["init_args"]["patience"],
        }
        assert recipe == {key: getattr(defaults, key) for key in recipe}, task
        assert model["rc_augment"] is model["rc_average"] is strand_symmetric, task
        # the benchmark leaves these to the training system's defaults
        for key in ("weight_decay", "warmup_steps"):
            assert model[key] == system[key].default, (task, key)


def _table(gue, path: Path, rows: list[tuple[str, str, float, str]]) -> None:
    """Write a table of ``(task, model, mcc, command)`` rows with the script itself (no merge)."""
    published = {"dnabert2_mcc": 70.0, "dnabert2_lindsey_mcc": "", "cnn_lindsey_mcc": ""}
    full = [
        {"task": t, "model": m, "params": 10, "train_cpu_s": 1.5, "epochs": "3", "seeds": 3, "test_acc": 80.0}
        | {"test_mcc": mcc, "mcc_sd": 1.0, "mcc_per_seed": "", "valid_mcc": mcc - 5, "notes": ""}
        | {"command": command, **published}
        for t, m, mcc, command in rows
    ]
    gue.write_tables(full, argparse.Namespace(output=path, merge=False), "header")


def test_import_rows_replaces_the_same_task_and_model_and_keeps_each_rows_command(tmp_path: Path) -> None:
    gue = load_script("dna_gue")
    first, second = gue.GUE_TASKS[0], gue.GUE_TASKS[1]
    _table(gue, tmp_path / "main", [(first, "titans", 60.0, "old"), (first, "cnn", 61.0, "cnn run")])
    _table(gue, tmp_path / "probe", [(first, "titans", 66.0, "probe --blocks 1")])
    _table(gue, tmp_path / "other", [(second, "titans", 50.0, "probe --blocks 1 --tasks second")])
    argv = ["--merge", "--output", str(tmp_path / "main"), "--import-rows"]
    assert gue.main([*argv, str(tmp_path / "probe.csv"), str(tmp_path / "other.csv")]) == 0

    with open(tmp_path / "main.csv", newline="") as handle:
        rows = [(r["task"], r["model"], r["test_mcc"], r["command"]) for r in csv.DictReader(handle)]
    assert rows == [
        (first, "titans", "66.0", "probe --blocks 1"),
        (first, "cnn", "61.0", "cnn run"),
        (second, "titans", "50.0", "probe --blocks 1 --tasks second"),
    ]
    md = (tmp_path / "main.md").read_text()
    assert f"| {first} | 66.0 | 61.0 | yes | no |" in md
    assert "The last command imported 2 row(s) trained elsewhere" in md
    assert "- `probe --blocks 1`\n- `cnn run`\n- `probe --blocks 1 --tasks second`\n" in md


def test_import_rows_refuses_bad_input_before_writing(tmp_path: Path, capsys) -> None:
    gue = load_script("dna_gue")
    task = gue.GUE_TASKS[0]
    _table(gue, tmp_path / "main", [(task, "cnn", 61.0, "cnn run")])
    _table(gue, tmp_path / "probe", [(task, "titans", 66.0, "probe")])
    _table(gue, tmp_path / "again", [(task, "titans", 67.0, "probe again")])
    (tmp_path / "foreign.csv").write_text("task,model,mcc\nx,titans,1\n")
    before = (tmp_path / "main.csv").read_text(), (tmp_path / "main.md").read_text()
    out = ["--output", str(tmp_path / "main")]
    cases = {
        "needs --merge": [*out, "--import-rows", str(tmp_path / "probe.csv")],
        "absent.csv: no such file": [*out, "--merge", "--import-rows", str(tmp_path / "absent.csv")],
        "is not a table of this script: no column 'params'": [
            *out,
            "--merge",
            "--import-rows",
            str(tmp_path / "foreign.csv"),
        ],
        f"{task} / titans is in both": [
            *out,
            "--merge",
            "--import-rows",
            str(tmp_path / "probe.csv"),
            str(tmp_path / "again.csv"),
        ],
    }
    for message, argv in cases.items():
        with pytest.raises(SystemExit) as stopped:
            gue.main(argv)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err
    assert ((tmp_path / "main.csv").read_text(), (tmp_path / "main.md").read_text()) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "--seeds must be >= 1 and --minutes > 0, got 0 and 10.0"),
        (["--lr-decay-patience", "-1"], "--lr-decay-patience must be >= 0 (0: constant rate), got -1"),
        (["--tasks", "gue_human_tf_9"], "unknown task or model 'gue_human_tf_9'"),
    ],
)
def test_bad_options_stop_before_any_training(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    gue = load_script("dna_gue")
    with pytest.raises(SystemExit) as stopped:
        gue.main([*argv, "--output", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
