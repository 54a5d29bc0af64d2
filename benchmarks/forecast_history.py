"""History-long forecasting: ours with the memory carried over each series' whole history, against long
lookback windows, on the Titans Table 3 protocol.

Protocol (as ``forecast_table3.py``): Time-Series-Library borders, train-only StandardScaler, MSE/MAE on
scaled values over every test window (none dropped), the same CPU-time budget per run (process CPU seconds,
all threads, validation included; ``CpuTimeBudget``). Each test forecast of the history model is
conditioned on every row before its cutoff (train, validation and earlier test rows), the others on their
lookback window.

Models (``--models``):

- ``history``: ``TitansForecaster(context="history")``'s model, the dataset recipe's window settings at
  lookback 96 plus the history memory (``titans_seq.training.history``); ``history_levels`` and
  ``history_cdrop50``, ``history_k21``: the same with level inputs, with half the training forecasts'
  contexts dropped, reading the 21 newest history tokens instead of the newest, or beside a 336-row window
  (:data:`HISTORY_VARIANTS`);
- ``window96``, ``window336``, ``window512``: the recipe's window model (``forecast_table3.run_titans``) at
  lookback 96 / 336 / 512; the table's "best of 336/512" row is the one with the lower validation loss;
- ``patchtst96``, ``patchtst336``, ``patchtst512``, ``dlinear336``, ``dlinear512``: neuralforecast 3.3 with
  its defaults except ``loss=MSE()`` (``forecast_table3.run_neuralforecast``).

Published rows beside them: PatchTST/42 (L=336) and PatchTST/64 (L=512) (PatchTST paper, Table 3) and the
Titans paper's Neural Memory averages (Table 3). ``--ttl`` adds the test-time-learning study on ETTh1 (see
:func:`test_time_learning`).

Every finished run is appended to ``<output-dir>/forecast_history_runs.jsonl`` (an interrupted sweep
resumes; ``--fresh`` ignores it); the tables are written atomically to ``forecast_history.md`` / ``.csv``.
neuralforecast runs need the baselines environment (``make bench-history`` uses it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import forecast_table3 as t3  # noqa: E402  (a sibling script: the shared protocol)

from titans_seq.adapters.forecasting import build_config  # noqa: E402
from titans_seq.adapters.history import HistoryTitansForecaster, build_history_config  # noqa: E402
from titans_seq.data.benchmarks import benchmark_spec, load_benchmark_splits  # noqa: E402
from titans_seq.estimators._common import quiet_lightning  # noqa: E402
from titans_seq.estimators.forecaster import HISTORY_CROP_TOKENS, HISTORY_WINDOWS_PER_CROP  # noqa: E402
from titans_seq.training.budget import CpuTimeBudget  # noqa: E402
from titans_seq.training.forecasting import fit_restoring_best  # noqa: E402
from titans_seq.training.history import HistoryDataModule, HistoryModule, HistorySeries  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("ETTh1", "ETTh2", "ETTm1", "ETTm2", "weather")
HORIZONS = (96, 192, 336, 720)
# the history model and its variants (the levers tried): options of build_history_config
# (explicit inputs: the library default is levels, chosen on validation from the first two of these)
HISTORY_VARIANTS = {
    "history": {"inputs": "differences"},
    "history_levels": {"inputs": "levels"},
    "history_cdrop50": {"inputs": "differences", "context_dropout": 0.5},
    "history_k21": {"inputs": "differences", "context_tokens": 21},  # the 21 newest tokens: 336 rows
    "history_w336": {"inputs": "differences", "lookback": 336},  # beside a 336-row window
}
MODELS = (
    *HISTORY_VARIANTS,
    "window96",
    "window336",
    "window512",
    "patchtst96",
    "patchtst336",
    "patchtst512",
    "dlinear336",
    "dlinear512",
)
LABEL = {
    "history": "Titans, history memory (difference inputs) + window 96 (ours)",
    "history_levels": "Titans, history memory (level inputs, the default) + window 96 (ours)",
    "history_cdrop50": "Titans, history memory (context dropout 0.5) + window 96 (ours)",
    "history_k21": "Titans, history memory (21 newest history tokens) + window 96 (ours)",
    "history_w336": "Titans, history memory + window 336 (ours)",
    "window96": "Titans window L=96 (ours)",
    "window336": "Titans window L=336 (ours)",
    "window512": "Titans window L=512 (ours)",
    "window_best": "Titans window, best of L=336/512 on validation (ours)",
    "patchtst96": "PatchTST L=96 (neuralforecast, same budget)",
    "patchtst336": "PatchTST L=336 (neuralforecast, same budget)",
    "patchtst512": "PatchTST L=512 (neuralforecast, same budget)",
    "dlinear336": "DLinear L=336 (neuralforecast, same budget)",
    "dlinear512": "DLinear L=512 (neuralforecast, same budget)",
}
HISTORY_LOOKBACK = 96
RECIPE_MODEL_KEYS = ("variant", "hidden_size", "n_layers", "patch_len", "stride", "dropout", "ffn_expansion")

log = logging.getLogger("forecast_history")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--horizons", nargs="+", type=int, default=list(HORIZONS))
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--budget", type=float, default=100.0, help="CPU seconds of training per run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--val-check", type=int, default=100)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--output-dir", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--recipes", type=Path, default=ROOT / "recipes" / "forecast")
    p.add_argument("--ttl", action="store_true", help="also run the test-time-learning study (ETTh1, h=96)")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--smoke", action="store_true", help="ETTh1, h=96, history and window96, 10 CPU s")
    args = p.parse_args(argv)
    args.memory_read = None  # forecast_table3's recipe override: the recipes as written
    if args.smoke:
        args.datasets, args.horizons, args.models, args.budget, args.val_check = (
            ["ETTh1"],
            [96],
            ["history", "window96"],
            10.0,
            20,
        )
        args.output_dir = Path("/tmp/titans_seq_forecast_history_smoke")
    return args


# --------------------------------------------------------------------------- runs


def scaled_rows(dataset: str, lookback: int) -> tuple[np.ndarray, int, int]:
    """All scaled rows of a benchmark ``[T, C]`` (train, val, test without their lookback overlap), the end
    of training and of validation."""
    splits = load_benchmark_splits(dataset, lookback)
    rows = np.concatenate([splits.train, splits.val[lookback:], splits.test[lookback:]]).astype(np.float64)
    return rows, splits.borders.train[1], splits.borders.val[1]


def history_model(
    dataset: str, h: int, args: argparse.Namespace, history_variant: str = "history"
) -> tuple[HistoryTitansForecaster, dict]:
    recipe = t3.recipe_for(dataset, args.recipes)
    settings = recipe["model"]
    options = dict(HISTORY_VARIANTS[history_variant])
    lookback = options.pop("lookback", HISTORY_LOOKBACK)
    window = build_config(
        h=h,
        input_size=lookback,
        memory=settings.get("memory"),
        attention=settings.get("attention"),
        **{k: settings[k] for k in RECIPE_MODEL_KEYS if k in settings},
    )
    config = build_history_config(window, memory={"chunk_size": 16}, **options)
    return HistoryTitansForecaster(config), recipe


def train_history(
    dataset: str, h: int, args: argparse.Namespace, seed: int, history_variant: str = "history"
):
    import lightning.pytorch as pl

    pl.seed_everything(seed, verbose=False)
    model, recipe = history_model(dataset, h, args, history_variant)
    rows, train_end, val_end = scaled_rows(dataset, HISTORY_LOOKBACK)
    series = [HistorySeries(rows[:val_end, c], train_end) for c in range(rows.shape[1])]
    settings = recipe["model"]
    module = HistoryModule(
        model,
        series,
        crop_tokens=HISTORY_CROP_TOKENS,
        windows_per_crop=HISTORY_WINDOWS_PER_CROP,
        learning_rate=settings.get("learning_rate", 1e-3),
        weight_decay=settings.get("weight_decay", 0.0),
        loss=settings.get("loss", "mse"),
        val_every=recipe["data"].get("val_every", 1),
    )
    crops = max(1, -(-recipe["data"]["batch_size"] // HISTORY_WINDOWS_PER_CROP))
    budget = CpuTimeBudget(args.budget)
    start = time.perf_counter()
    summary = fit_restoring_best(
        module,
        HistoryDataModule(module, crops_per_step=crops),
        max_steps=args.max_steps,
        patience=args.patience,
        val_check_interval=args.val_check,
        callbacks=[budget],
    )
    info = {
        "train_cpu_s": budget.used,
        "train_wall_s": time.perf_counter() - start,
        "steps": summary.steps,
        "best_val_loss": summary.best_val_loss,
        "stopped": "budget" if budget.exhausted else ("early" if summary.stopped_early else "max_steps"),
        "params": sum(p.numel() for p in model.parameters()),
        "variant": settings.get("variant", "lmm"),
        "config": {"recipe": recipe["path"], "history": model.config.to_dict(), "crops_per_step": crops},
    }
    return module.model.eval(), rows, val_end, info


def run_history(
    dataset: str, h: int, args: argparse.Namespace, seed: int, history_variant: str = "history"
) -> dict[str, Any]:
    model, rows, val_end, info = train_history(dataset, h, args, seed, history_variant)
    mse, mae = history_test_error(model, rows, val_end, h)
    return {"mse": mse, "mae": mae, **info}


@torch.no_grad()
def history_test_error(model: HistoryTitansForecaster, rows: np.ndarray, val_end: int, h: int):
    """Scaled test MSE and MAE over every test window, each forecast after every earlier row."""
    values = torch.as_tensor(rows.T, dtype=torch.float32)  # [C, T]
    cutoffs = np.arange(val_end, rows.shape[0] - h + 1)  # every test window, each after all earlier rows
    sq = ab = count = 0.0
    for part in np.array_split(cutoffs, max(1, len(cutoffs) // 1024)):
        pred = model.forecast_at(values, part)[..., 0].double()  # [C, m, h]
        target = values[:, torch.as_tensor(part)[:, None] + torch.arange(h)].double()
        err = pred - target
        sq, ab, count = sq + err.pow(2).sum().item(), ab + err.abs().sum().item(), count + err.numel()
    assert count == len(cutoffs) * h * rows.shape[1] and math.isfinite(sq)
    return sq / count, ab / count


def run_model(model: str, dataset: str, h: int, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    if model.startswith("history"):
        return run_history(dataset, h, args, seed, model)
    lookback = int("".join(ch for ch in model if ch.isdigit()))
    if model.startswith("window"):
        return t3.run_titans(dataset, h, args, seed, input_size=lookback)
    return t3.run_neuralforecast(model.rstrip("0123456789"), dataset, h, args, seed, input_size=lookback)


def planned(dataset: str, h: int, model: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    row = {
        "dataset": benchmark_spec(dataset).name,
        "horizon": h,
        "model": model,
        "budget_cpu_s": args.budget,
        "budget_rule": t3.BUDGET_RULE,
        "seed": seed,
        "threads": args.threads,
        "recipe": t3.recipe_for(dataset, args.recipes)["model"],
    }
    key = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return row | {"key": key}


# --------------------------------------------------------------------------- tables


def published() -> pd.DataFrame:
    ref = ROOT / "benchmarks" / "reference_results"
    long = pd.read_csv(ref / "patchtst_dlinear_long_lookback.csv")
    long = long[long.model.str.startswith("PatchTST")].copy()
    long["model"] = long.model + " L=" + long.lookback.astype(str) + " (published, PatchTST Table 3)"
    titans = pd.read_csv(ref / "titans_table3_ltsf_avg.csv")
    titans = titans[titans.model.str.startswith("NeuralMemory")]
    titans = titans.rename(columns={"mse_avg": "mse", "mae_avg": "mae"}).assign(
        horizon="Avg", model="Titans Neural Memory (paper Table 3, average)"
    )
    out = pd.concat(
        [
            long[["dataset", "horizon", "model", "mse", "mae"]],
            titans[["dataset", "horizon", "model", "mse", "mae"]],
        ]
    )
    out["horizon"] = out.horizon.astype(str)
    return out


def table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame([{k: v for k, v in r.items() if k not in ("config", "recipe")} for r in runs])
    frame["dataset"] = [t3.REFERENCE_NAMES.get(d.lower(), d) for d in frame.dataset]
    frame["horizon"] = frame.horizon.astype(str)
    keys = ["dataset", "horizon", "model"]
    agg = frame.groupby(keys, sort=False).agg(
        mse=("mse", "mean"),
        mse_sd=("mse", "std"),
        mae=("mae", "mean"),
        seeds=("seed", "count"),
        cpu_s=("train_cpu_s", "mean"),
        steps=("steps", "mean"),
        stopped=("stopped", lambda s: "/".join(sorted(set(s)))),
        best_val=("best_val_loss", "mean"),
    )
    agg = agg.reset_index()
    best = []
    for _, part in agg[agg.model.isin(["window336", "window512"])].groupby(["dataset", "horizon"]):
        if part.best_val.notna().any():
            best.append(part.loc[part.best_val.idxmin()].to_dict() | {"model": "window_best"})
    agg = pd.concat([agg, pd.DataFrame(best)], ignore_index=True)
    agg["label"] = agg.model.map(LABEL)
    return agg


def markdown(agg: pd.DataFrame, args: argparse.Namespace, ttl: str | None) -> str:
    refs = published()
    lines = [
        "# History-long forecasting: the memory over the whole history, against long lookbacks",
        "",
        f"Written by `benchmarks/forecast_history.py` on {time.strftime('%Y-%m-%d %H:%M')}. Table 3 protocol "
        "(TSL borders, train-only scaler, scaled MSE/MAE over every test window). Every trained row had "
        f"{args.budget:g} CPU seconds (validation included), torch threads {args.threads}. The history "
        "model's test forecasts each read every row before their cutoff.",
        "",
    ]
    for dataset in dict.fromkeys(agg.dataset):
        lines += [f"## {dataset}", ""]
        lines.append(
            "| model | h | MSE | MAE | seeds (MSE sd) | train CPU s | steps | stopped | best val loss |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        part = agg[agg.dataset == dataset]
        for h in dict.fromkeys(part.horizon):
            for _, r in part[part.horizon == h].iterrows():
                sd = "" if not r.seeds > 1 else f" ({r.mse_sd:.4f})"
                lines.append(
                    f"| {r.label} | {h} | {r.mse:.4f} | {r.mae:.4f} | {int(r.seeds)}{sd} | {r.cpu_s:.0f} | "
                    f"{r.steps:.0f} | {r.stopped} | {r.best_val:.4f} |"
                )
            for _, r in refs[(refs.dataset == dataset) & (refs.horizon == h)].iterrows():
                lines.append(f"| {r.model} | {h} | {r.mse:.3f} | {r.mae:.3f} | - | - | - | - | - |")
        avg = refs[(refs.dataset == dataset) & (refs.horizon == "Avg")]
        for _, r in avg.iterrows():
            lines.append(f"| {r.model} | Avg | {r.mse:.3f} | {r.mae:.3f} | - | - | - | - | - |")
        lines.append("")
    lines += targets(agg, refs)
    if ttl:
        lines += ["", ttl]
    return "\n".join(lines) + "\n"


def targets(agg: pd.DataFrame, refs: pd.DataFrame) -> list[str]:
    out = ["## Targets", ""]
    for dataset in dict.fromkeys(agg.dataset):
        part = agg[agg.dataset == dataset].pivot_table(index="horizon", columns="model", values="mse")
        if "history" not in part:
            continue
        full = set(part.index) == {str(h) for h in HORIZONS} and part["history"].notna().all()
        ours = part["history"].mean()
        what = "average MSE" if full else f"MSE over horizons {', '.join(part.index)} only"
        paper = refs[(refs.dataset == dataset) & (refs.horizon == "Avg")].mse
        pts = [c for c in ("patchtst96", "patchtst336", "patchtst512") if c in part]
        best_pt = part[pts].mean().min() if pts else float("nan")
        note = f"- {dataset} ({what}): ours {ours:.4f}"
        if full and len(paper):
            note += f"; paper Neural Memory {paper.iloc[0]:.3f} {'met' if ours < paper.iloc[0] else 'MISSED'}"
        elif len(paper):
            note += f"; paper Neural Memory average {paper.iloc[0]:.3f} (not comparable until all four run)"
        if pts:
            note += f"; best neuralforecast PatchTST (same horizons) {best_pt:.4f} "
            note += "met" if ours < best_pt else "MISSED"
        out.append(note)
    return out


# --------------------------------------------------------------------------- test-time learning


def test_time_learning(args: argparse.Namespace, seed: int) -> str:
    """ETTh1, h=96: daily forecasts over the test period, weights frozen, with and without a level shift.

    Each history model (level inputs, the default, and difference inputs) forecasts each day from the
    memory carried over every earlier row (what ``update()`` after each day gives, exactly), and from a
    memory reset at every window (the history path fed the lookback window only); the window model L=96
    beside them. The shift adds 2 training standard deviations to every channel from the middle of the test
    period on, a level no training window holds in that place. Recovery: see :func:`recovery`.
    """
    import lightning.pytorch as pl

    h, day = 96, 24
    models = {}
    for variant, name in (("history_levels", "levels"), ("history", "differences")):
        models[name], rows, val_end, _ = train_history("ETTh1", h, args, seed, variant)
    pl.seed_everything(seed, verbose=False)
    window = window_model("ETTh1", h, args, seed)
    return ttl_table(models, window, rows, val_end, h, day)


@torch.no_grad()
def ttl_table(models: dict, window, rows: np.ndarray, val_end: int, h: int, day: int) -> str:
    shift_at = val_end + (rows.shape[0] - val_end) // 2
    shifted = rows.copy()
    shifted[shift_at:] += 2.0
    cutoffs = np.arange(val_end, rows.shape[0] - h + 1, day)
    after = cutoffs >= shift_at
    daily = {}
    for name, data in (("recorded", rows), ("shifted", shifted)):
        values = torch.as_tensor(data.T, dtype=torch.float32)
        target = values[:, torch.as_tensor(cutoffs)[:, None] + torch.arange(h)]
        preds = {}
        for inputs, model in models.items():
            preds[f"history ({inputs}), memory carried (update() every day)"] = model.forecast_at(
                values, cutoffs
            )[..., 0]
            preds[f"history ({inputs}), memory reset every window"] = reset_forecasts(model, values, cutoffs)
        preds["window L=96"] = window_forecasts(window, values, cutoffs)
        for label, pred in preds.items():
            daily[name, label] = (pred - target).pow(2).mean(dim=(0, 2)).numpy()  # per forecast day
    out = [
        "## Test-time learning (ETTh1, h=96, one forecast per test day, weights frozen)",
        "",
        f"The shift adds 2 training standard deviations to every channel from test row "
        f"{shift_at - val_end} on ({after.sum()} forecast days after it). Days to recover: the first day "
        "after the shift from which the 7-day mean MSE on the shifted series stays within 10% of the same "
        "model's on the recorded series.",
        "",
        "| model | test MSE, recorded | MSE first 7 days after the shift | MSE after the shift | "
        "days to recover |",
        "|---|---|---|---|---|",
    ]
    for label in dict.fromkeys(k[1] for k in daily):
        rec, sh = daily["recorded", label], daily["shifted", label]
        out.append(
            f"| {label} | {rec.mean():.4f} | {sh[after][:7].mean():.4f} | {sh[after].mean():.4f} | "
            f"{recovery(rec[after], sh[after])} |"
        )
    return "\n".join(out) + "\n"


def recovery(recorded: np.ndarray, shifted: np.ndarray, window: int = 7, tolerance: float = 0.1) -> str:
    """Days after the shift until the ``window``-day mean MSE on the shifted series stays within
    ``tolerance`` of the same model's on the recorded series (``"never"`` if it does not)."""
    ratio = pd.Series(shifted).rolling(window).mean() / pd.Series(recorded).rolling(window).mean()
    ok = (ratio <= 1 + tolerance).to_numpy()
    for d in range(window - 1, len(ok)):
        if ok[d:].all():
            return str(d - window + 1)
    return "never"


def reset_forecasts(
    model: HistoryTitansForecaster, values: torch.Tensor, cutoffs: np.ndarray
) -> torch.Tensor:
    flat = model.windows_before(values, torch.as_tensor(cutoffs)).reshape(len(cutoffs) * len(values), -1)
    _, state = model.advance(flat, model.init_state(len(flat)))
    return model.forecast(flat, state.context)[..., 0].reshape(values.shape[0], len(cutoffs), -1)


def window_model(dataset: str, h: int, args: argparse.Namespace, seed: int):
    """The recipe's window model, trained as ``forecast_table3.run_titans`` trains it."""
    from titans_seq.training.forecasting import BenchmarkDataModule, ForecastingModule

    recipe = t3.recipe_for(dataset, args.recipes)
    data = BenchmarkDataModule(
        dataset,
        h=h,
        input_size=96,
        batch_size=recipe["data"]["batch_size"],
        val_every=recipe["data"].get("val_every", 1),
    )
    module = ForecastingModule(h=h, input_size=96, **recipe["model"])
    fit_restoring_best(
        module,
        data,
        max_steps=args.max_steps,
        patience=args.patience,
        val_check_interval=args.val_check,
        callbacks=[CpuTimeBudget(args.budget)],
    )
    return module.model.eval()


def window_forecasts(model, values: torch.Tensor, cutoffs: np.ndarray) -> torch.Tensor:
    lookback = model.config.input_size
    idx = torch.as_tensor(cutoffs)[:, None] + torch.arange(-lookback, 0)
    flat = values[:, idx].reshape(-1, lookback, 1)  # [C * M, L, 1]
    return model(flat)[:, :, 0, 0].reshape(values.shape[0], len(cutoffs), -1)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_lightning()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    cache_path = args.output_dir / "forecast_history_runs.jsonl"
    cached = (
        []
        if args.fresh or not cache_path.exists()
        else [json.loads(line) for line in cache_path.read_text().splitlines() if line.strip()]
    )
    done = {r["key"] for r in cached}
    nf = t3.nf_available()
    for dataset in args.datasets:
        for h in args.horizons:
            for model in args.models:
                if model[:1] in "pd" and not nf:
                    log.warning("neuralforecast is not installed: %s skipped (use the baselines venv)", model)
                    continue
                for seed in range(args.seed, args.seed + args.seeds):
                    row = planned(dataset, h, model, seed, args)
                    if row["key"] in done:
                        continue
                    log.info("run %s h=%d %s seed %d", dataset, h, model, seed)
                    result = run_model(model, dataset, h, args, seed)
                    row |= result
                    log.info("  mse %.4f mae %.4f cpu %.0f s", row["mse"], row["mae"], row["train_cpu_s"])
                    cache_path.parent.mkdir(parents=True, exist_ok=True)
                    with cache_path.open("a") as handle:  # one line per finished run: resumable
                        handle.write(json.dumps(row, default=str) + "\n")
                    cached.append(row)
    keys = {planned(r["dataset"], r["horizon"], r["model"], r["seed"], args)["key"] for r in cached}
    current = [r for r in cached if r["key"] in keys]
    ttl = test_time_learning(args, args.seed) if args.ttl else None
    if ttl:
        t3.write_atomic(args.output_dir / "forecast_history_ttl.md", ttl)
    ttl_path = args.output_dir / "forecast_history_ttl.md"
    if ttl is None and ttl_path.exists():
        ttl = ttl_path.read_text()
    if current:
        agg = table(current)
        t3.write_atomic(args.output_dir / "forecast_history.csv", agg.to_csv(index=False))
        t3.write_atomic(args.output_dir / "forecast_history.md", markdown(agg, args, ttl))
        print(markdown(agg, args, ttl))


if __name__ == "__main__":
    main()
