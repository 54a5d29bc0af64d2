"""``titans-seq forecast``: batch prediction (one output per input, atomic, resumable, failures listed,
sharded under DDP) and the LightningCLI recipes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from titans_seq import TitansForecaster
from titans_seq.cli import main as titans_seq_main
from titans_seq.cli.forecast import expand_inputs, output_name

H, L = 4, 16
RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes" / "forecast").glob("*.yaml"))


def series_frame(uids: list[str], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-03-01", periods=n, freq="h")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": u, "ds": ds, "y": np.sin(np.arange(n) / 3) + rng.normal(size=n)})
            for u in uids
        ]
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    est = TitansForecaster(
        h=H,
        input_size=L,
        hidden_size=8,
        n_layers=1,
        patch_len=4,
        stride=4,
        max_steps=5,
        random_state=0,
        model_kwargs={"memory": {"heads": 2, "chunk_size": 2}},
    )
    path = tmp_path_factory.mktemp("model") / "forecaster"
    est.fit(series_frame(["a", "b"], 60, seed=0)).save(path)
    return path


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(4):
        series_frame([f"s{i}", f"t{i}"], 30 + i, seed=i).to_csv(folder / f"long_{i}.csv", index=False)
    wide = series_frame(["x"], 25, seed=9).rename(columns={"ds": "date", "y": "x"}).drop(columns="unique_id")
    wide.assign(OT=wide.x * 2).to_csv(folder / "wide.csv.gz", index=False)
    return folder


def run(*args: str) -> int:
    return titans_seq_main(["forecast", "predict", *args])


def outputs(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def test_writes_one_forecast_per_input(model_dir, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run("--model", str(model_dir), "--input", str(inputs / "*.csv*"), "--output", str(out), "--quiet")
        == 0
    )
    names = [output_name(p) for p in sorted(inputs.iterdir())]
    assert list(outputs(out)) == sorted(names) and "wide.forecast.csv" in names
    est = TitansForecaster.load(model_dir)
    for path in inputs.iterdir():
        expected = est.predict(pd.read_csv(path))
        got = pd.read_csv(out / output_name(path), parse_dates=["ds"])
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert "5 written, 0 skipped, 0 failed" in capsys.readouterr().out


def test_resumes_after_an_interruption(model_dir, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    args = ("--model", str(model_dir), "--input", str(inputs / "*.csv*"), "--output", str(out), "--quiet")
    assert run(*args) == 0
    # an interrupted run: one output never written, and a temporary file left half-written
    (out / "long_2.forecast.csv").unlink()
    (out / ".long_2.forecast.csv.4242.tmp").write_text("unique_id,ds\npartial")
    before = outputs(out)
    assert run(*args) == 0
    after = outputs(out)
    kept = [name for name in before if not name.startswith(".")]  # the stale temporary file is removed
    assert sorted(after) == sorted([*kept, "long_2.forecast.csv"])
    assert all(after[name] == mtime for name, mtime in before.items() if not name.startswith("."))
    assert "1 written, 4 skipped, 0 failed" in capsys.readouterr().out.splitlines()[-1]

    assert run(*args, "--overwrite") == 0
    assert "5 written, 0 skipped" in capsys.readouterr().out


def test_failures_are_listed_and_give_a_nonzero_exit(model_dir, inputs, tmp_path, capsys):
    (inputs / "broken.csv").write_text("unique_id,ds,y\nz,2020-01-01,1\nz,not a date,2\n")
    (inputs / "too_short.csv").write_text("unique_id,ds,y\nz,2020-01-01,1\nz,2020-01-02,2\nz,2020-01-03,3\n")
    out = tmp_path / "out"
    assert (
        run("--model", str(model_dir), "--input", str(inputs / "*.csv*"), "--output", str(out), "--quiet")
        == 1
    )
    captured = capsys.readouterr()
    assert "5 written, 0 skipped, 2 failed" in captured.out
    assert (
        "broken.csv: ValueError: time column 'ds' has a missing or unparseable date 'not a date'"
        in captured.err
    )
    assert "too_short.csv: ValueError: series 'z' has 3 rows but needs at least 16" in captured.err
    assert len(list(out.glob("*.forecast.csv"))) == 5


def test_bad_arguments_fail_before_any_work(model_dir, inputs, tmp_path, capsys):
    assert run("--model", str(model_dir), "--input", str(tmp_path / "none*.csv"), "--output", "o") == 2
    assert "matches no file" in capsys.readouterr().err
    assert run("--model", str(tmp_path), "--input", str(inputs / "*.csv"), "--output", "o") == 2
    assert "config.json is missing" in capsys.readouterr().err
    (inputs / "sub").mkdir()
    (inputs / "sub" / "long_0.csv").write_text("x")
    with pytest.raises(ValueError, match=r"would both write long_0.forecast.csv"):
        expand_inputs([str(inputs / "*.csv"), str(inputs / "sub" / "*.csv")])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_ddp_processes_shard_the_inputs_and_match_one_process(model_dir, inputs, tmp_path):
    """Two CPU processes (gloo) forecast disjoint halves of the inputs; outputs equal the 1-process run."""
    single, double = tmp_path / "one", tmp_path / "two"
    common = ["--model", str(model_dir), "--input", str(inputs / "*.csv*"), "--quiet", "--accelerator", "cpu"]
    assert run(*common, "--output", str(single)) == 0
    script = Path(sys.executable).with_name("titans-seq")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from titans_seq.cli import main; main()"]
    )
    # a port of our own for the gloo rendezvous, and a generous timeout: under load (a shared 2-core
    # machine) the two-process start-up alone has taken over a minute
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "MASTER_PORT": str(_free_port())}
    done = subprocess.run(
        [*command, "forecast", "predict", *common, "--output", str(double), "--devices", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = [line for line in done.stdout.splitlines() if line.startswith("forecast predict:")]
    assert summary == [
        "forecast predict: 5 written, 0 skipped, 0 failed (5 inputs, 2 process(es); rank 0: 3, rank 1: 2)"
    ]
    assert sorted(p.name for p in double.iterdir()) == sorted(p.name for p in single.iterdir())
    for path in single.iterdir():
        assert (double / path.name).read_bytes() == path.read_bytes()


# --- recipes (LightningCLI) -----------------------------------------------------------------------------


def test_there_is_a_recipe_per_benchmark():
    assert [p.stem for p in RECIPES] == [
        "electricity",
        "etth1",
        "etth2",
        "ettm1",
        "ettm2",
        "traffic",
        "weather",
    ]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipes_parse_and_link_the_horizon(recipe, capsys, recwarn):
    assert (
        titans_seq_main(
            ["forecast", "fit", "--config", str(recipe), "--data.init_args.h", "336", "--print_config"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "h: 336" in printed and "class_path: titans_seq.training.forecasting.ForecastingModule" in printed
    # we pass argv to LightningCLI on purpose; its warning about that is not the user's concern
    assert not [w for w in recwarn if "args parameter" in str(w.message)]


def test_recipe_fit_then_test_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    recipe = next(p for p in RECIPES if p.stem == "etth1")
    code = titans_seq_main(
        [
            "forecast",
            "fit",
            "--config",
            str(recipe),
            "--data.init_args.h",
            "24",
            "--trainer.fast_dev_run",
            "true",
        ]
    )
    assert code == 0
    assert "test_mse" in capsys.readouterr().out
