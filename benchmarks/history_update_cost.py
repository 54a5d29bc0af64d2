"""What ``update()`` costs in history mode, and how exactly it matches one pass over the whole history.

A small ``TitansForecaster(context="history")`` is fitted on generated hourly series; their histories are
then extended to about 1,000 and 100,000 rows, and the script times ``update()`` of the next ``--rows`` rows
(median of ``--repeats``) after each, on copies of the fitted estimator. It also prints the largest
difference between ``update(a); update(b); predict()`` and ``predict(df=train + a + b)`` in float64 and
float32.

    python benchmarks/history_update_cost.py            # about a minute on one core
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import numpy as np
import pandas as pd
import torch

from titans_seq import TitansForecaster
from titans_seq.estimators._common import quiet_lightning

SETTINGS = dict(
    h=24,
    input_size=96,
    context="history",
    hidden_size=32,
    max_steps=20,
    batch_size=32,
    random_state=0,
)


def frame(n_series: int, rows: int, start: pd.Timestamp, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    parts = [
        pd.DataFrame(
            {
                "unique_id": f"s{i}",
                "ds": pd.date_range(start, periods=rows, freq="h"),
                "y": np.sin(2 * np.pi * t / 24 + i) + 0.1 * rng.normal(size=rows),
            }
        )
        for i in range(n_series)
    ]
    return pd.concat(parts, ignore_index=True)


def continuation(est: TitansForecaster, rows: int, seed: int) -> pd.DataFrame:
    start = next(iter(est.series_.last.values())) + pd.Timedelta(hours=1)
    return frame(len(est.series_.ids), rows, start, seed)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--series", type=int, default=8)
    p.add_argument("--rows", type=int, default=96, help="rows per series and update")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    quiet_lightning()
    warnings.filterwarnings("ignore")

    train = frame(args.series, 600, pd.Timestamp("2020-01-01"), 0)
    for name, kwargs in (("float64", {"trainer_kwargs": {"precision": "64-true"}}), ("float32", {})):
        est = TitansForecaster(**SETTINGS, **kwargs).fit(train)
        a, b = continuation(est, 37, 1), None
        whole_est = copy.deepcopy(est)
        est.update(a)
        b = continuation(est, 50, 2)
        est.update(b)
        whole = whole_est.predict(df=pd.concat([train, a, b], ignore_index=True))
        gap = np.abs(
            est.predict()["TitansForecaster"].to_numpy() - whole["TitansForecaster"].to_numpy()
        ).max()
        print(
            f"{name}: update(37 rows); update(50 rows); predict() vs predict(df=whole): max |diff| {gap:.2e}"
        )

    fitted = TitansForecaster(**SETTINGS).fit(train)
    times = {}
    for history in (1_000, 100_000):
        est = copy.deepcopy(fitted)
        est.update(continuation(est, history - 600, 3))
        new = continuation(est, args.rows, 4)
        spent = []
        for _ in range(args.repeats):
            trial = copy.deepcopy(est)
            start = time.perf_counter()
            trial.update(new)
            spent.append(time.perf_counter() - start)
        times[history] = float(np.median(spent))
        print(
            f"history {history:>7,} rows: update of {args.rows} rows x {args.series} series "
            f"{times[history] * 1e3:.1f} ms"
        )
    print(f"ratio 100k / 1k history: {times[100_000] / times[1_000]:.2f} (1.0 = independent of the history)")


if __name__ == "__main__":
    main()
