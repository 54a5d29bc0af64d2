"""benchmarks/forecast_table3.py: runs of several seeds are averaged, and only the current configuration's
runs reach the table."""

from __future__ import annotations

import argparse

import pytest

from tests.benchmarks.conftest import ROOT, load_script


def _args() -> argparse.Namespace:
    return argparse.Namespace(
        budget=100.0,
        recipes=ROOT / "recipes" / "forecast",
        max_steps=100_000,
        val_check=100,
        threads=1,
        memory_read=None,
    )


def _run(table3, horizon: int, seed: int, mse: float, model: str = "titans") -> dict:
    row = table3.planned_run("ETTh2", horizon, model, seed, _args())
    return row | {"mse": mse, "mae": mse / 2, "train_cpu_s": 90.0 + seed, "train_wall_s": 1.0, "steps": 10}


def test_seeds_are_averaged_per_horizon_and_the_average_uses_the_horizon_means() -> None:
    table3 = load_script("forecast_table3")
    runs = [
        _run(table3, h, seed, 0.1 * i + 0.01 * seed) for i, h in enumerate(table3.HORIZONS) for seed in (1, 2)
    ]
    runs.append(_run(table3, 96, 3, 0.5))  # a third seed that ran only the first horizon
    frame = table3.results_frame(runs).set_index("horizon")
    assert frame.loc["96", "mse"] == pytest.approx((0.01 + 0.02 + 0.5) / 3)
    assert (frame.loc["96", "seeds"], frame.loc["96", "mse_per_seed"]) == (3, "0.0100/0.0200/0.5000")
    assert frame.loc["192", "mse"] == pytest.approx(0.115)
    horizon_means = frame.loc[[str(h) for h in table3.HORIZONS], "mse"]
    assert frame.loc["Avg", "mse"] == pytest.approx(horizon_means.mean())
    # seeds that ran every horizon: 1 and 2, whose four-horizon averages are 0.16 and 0.17
    assert (frame.loc["Avg", "seeds"], frame.loc["Avg", "mse_per_seed"]) == (2, "0.1600/0.1700")
    # CPU seconds likewise: horizon 96 averages seeds 1-3 (92.0), the others seeds 1-2 (91.5)
    assert frame.loc["Avg", "train_cpu_s"] == pytest.approx((92.0 + 3 * 91.5) / 4)


def test_runs_of_an_older_configuration_are_kept_out_of_the_table() -> None:
    table3 = load_script("forecast_table3")
    current = [_run(table3, 96, 2021, 0.3), _run(table3, 96, 2022, 0.31)]
    old = _run(table3, 96, 2023, 0.2)
    old["config"] = {**old["config"], "dropout": 0.0}  # a run made before the recipe changed
    old["key"] = table3.run_key(old)
    kept = table3.current_runs(current + [old], _args(), ["ETTh2"], [96], ["titans"])
    assert [r["seed"] for r in kept] == [2021, 2022]
    assert table3.current_runs(current, _args(), ["ETTh1"], [96], ["titans"]) == []  # other datasets


def test_our_rows_come_first_whatever_order_the_runs_finished_in() -> None:
    table3 = load_script("forecast_table3")
    runs = [
        _run(table3, 96, 1, 0.4, "dlinear"),
        _run(table3, 96, 1, 0.3, "patchtst"),
        _run(table3, 96, 1, 0.2),
    ]
    order = list(dict.fromkeys(table3.results_frame(runs).model))
    assert order == [table3.LABEL[m] for m in ("titans", "patchtst", "dlinear")]
