"""benchmarks/forecast_history.py: the long-lookback row is chosen on validation, seeds are averaged, and
the recovery count of the test-time-learning study means what its table says."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from tests.benchmarks.conftest import ROOT, load_script


def _args() -> argparse.Namespace:
    return argparse.Namespace(budget=100.0, recipes=ROOT / "recipes" / "forecast", threads=1)


def _run(script, model: str, seed: int, mse: float, val: float) -> dict:
    row = script.planned("ETTh1", 96, model, seed, _args())
    return row | {"mse": mse, "mae": mse, "train_cpu_s": 100.0, "steps": 10, "stopped": "budget",
                  "best_val_loss": val}  # fmt: skip


def test_best_long_lookback_is_chosen_on_validation_not_test() -> None:
    script = load_script("forecast_history")
    runs = [
        _run(script, "window336", 1, mse=0.40, val=0.70),  # better on test,
        _run(script, "window512", 1, mse=0.45, val=0.60),  # better on validation: this one is chosen
        _run(script, "history", 1, mse=0.38, val=0.69),
        _run(script, "history", 2, mse=0.40, val=0.68),
    ]
    agg = script.table(runs).set_index("model")
    assert agg.loc["window_best", "mse"] == pytest.approx(0.45)
    assert agg.loc["history", "mse"] == pytest.approx(0.39) and agg.loc["history", "seeds"] == 2
    assert agg.loc["history", "mse_sd"] == pytest.approx(np.std([0.38, 0.40], ddof=1))


def test_runs_of_another_budget_have_another_key() -> None:
    script = load_script("forecast_history")
    other = _args()
    other.budget = 50.0
    assert (
        script.planned("ETTh1", 96, "history", 1, _args())["key"]
        != script.planned("ETTh1", 96, "history", 1, other)["key"]
    )


def test_recovery_counts_days_until_the_error_stays_near_the_unshifted_one() -> None:
    script = load_script("forecast_history")
    recorded = np.ones(30)
    shifted = np.ones(30)
    shifted[:5] = 10.0  # five bad days, then as good as without the shift
    assert script.recovery(recorded, shifted) == "5"
    assert script.recovery(recorded, recorded) == "0"
    assert script.recovery(recorded, shifted * 2) == "never"
