"""Pieces every estimator shares: a quiet Lightning Trainer, a fit that keeps the best weights, seeding, and
the save/load directory format.

A saved model is a directory holding ``config.json`` (the estimator's parameters plus whatever the
estimator needs to rebuild itself) and ``model.safetensors`` (the weights). Loading never unpickles.
Writes are atomic: files are written under a temporary directory that replaces the target in one
rename, so an interrupted save never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode (dropout off) for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def quiet_lightning() -> None:
    """Silence Lightning's banners (its loggers must be configured after it is imported)."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def lightning_warnings_hidden(verbose: bool = False) -> Iterator[None]:
    """Hide Lightning's warnings that a user of ours cannot act on; with ``verbose``, keep its advice.

    Always hidden: "... LeafSpec ...", Lightning 2.6 calling a torch pytree API deprecated in torch 2.13.
    Hidden unless ``verbose``: Lightning's hints (few dataloader workers, the logging interval, other
    ``PossibleUserWarning``), which are about its own defaults, not about an estimator's settings.
    """
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    quiet_lightning()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
        if not verbose:
            warnings.filterwarnings("ignore", category=PossibleUserWarning)
            warnings.filterwarnings("ignore", module=r"lightning\..*")
            warnings.filterwarnings(
                "ignore", message=r".*(num_workers|does not have many workers|log_every_n_steps).*"
            )
        yield


def make_trainer(
    *,
    max_epochs: int,
    verbose: bool,
    callbacks: list | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
    default_root_dir: str | os.PathLike | None = None,
):
    """A Trainer with estimator defaults: no logger files, no stray checkpoints folder, progress bar only
    when ``verbose``; ``trainer_kwargs`` override any of them (e.g. ``accelerator``, ``devices``)."""
    import lightning.pytorch as pl

    quiet_lightning()
    settings: dict[str, Any] = {
        "max_epochs": max_epochs,
        "accelerator": "auto",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": verbose,
        "enable_model_summary": verbose,
        "enable_checkpointing": bool(callbacks) and any(_is_checkpoint(c) for c in callbacks),
        "callbacks": callbacks or [],
        "default_root_dir": default_root_dir,
    }
    settings.update(trainer_kwargs or {})
    return pl.Trainer(**settings)


def _is_checkpoint(callback: object) -> bool:
    from lightning.pytorch.callbacks import ModelCheckpoint

    return isinstance(callback, ModelCheckpoint)


@dataclass(frozen=True)
class BestFit:
    """What :func:`fit_keeping_best` did: epochs begun (one cut short by stopping counts), optimizer steps,
    the best validation loss (``None`` when no checkpoint was saved), whether the best weights were
    restored, and whether early stopping fired."""

    epochs: int
    steps: int
    best_val_loss: float | None
    restored_best: bool
    stopped_early: bool


def _fit_raising_interrupts(trainer: Any, module: Any, datamodule: Any) -> None:
    """``trainer.fit``, except that Ctrl-C raises ``KeyboardInterrupt`` (Lightning exits the interpreter with
    ``SystemExit(1)`` and leaves SIGINT ignored) and the caller's SIGINT handler is kept."""
    import signal

    from lightning.pytorch.trainer.states import TrainerStatus

    handler = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, datamodule=datamodule)
    except SystemExit as exit_:
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        raise KeyboardInterrupt("fit interrupted; the estimator keeps what it held before fit") from exit_
    finally:
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


def fit_keeping_best(
    module: torch.nn.Module,
    datamodule: Any,
    *,
    max_epochs: int,
    verbose: bool,
    monitor: bool,
    patience: int | None,
    callbacks: list | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
) -> BestFit:
    """Fit a LightningModule under :func:`make_trainer`, keeping the weights of the best ``val_loss``.

    With ``monitor``, a weights-only ``ModelCheckpoint`` of the best ``val_loss`` is written to a temporary
    directory (removed afterwards) and reloaded after training; ``patience`` (not ``None``) adds
    ``EarlyStopping`` on ``val_loss``. Without ``monitor``, or when training stops before the first
    validation, the last weights stay. ``callbacks`` and ``trainer_kwargs["callbacks"]`` join the
    checkpoint and early-stopping callbacks; the other ``trainer_kwargs`` override any Trainer setting.
    The module is left in eval mode.
    """
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    kwargs = dict(trainer_kwargs or {})
    cbs = list(callbacks or []) + list(kwargs.pop("callbacks", None) or [])
    with tempfile.TemporaryDirectory(prefix="titans_seq_fit_") as tmp:
        checkpoint = early = None
        if monitor:
            checkpoint = ModelCheckpoint(
                dirpath=tmp,
                filename="best",
                monitor="val_loss",
                mode="min",
                save_top_k=1,
                save_weights_only=True,
                enable_version_counter=False,
            )
            cbs.append(checkpoint)
            if patience is not None:
                early = EarlyStopping(monitor="val_loss", mode="min", patience=patience)
                cbs.append(early)
        trainer = make_trainer(
            max_epochs=max_epochs, verbose=verbose, callbacks=cbs, trainer_kwargs=kwargs, default_root_dir=tmp
        )
        _fit_raising_interrupts(trainer, module, datamodule)
        best_path = checkpoint.best_model_path if checkpoint is not None else ""
        if best_path and os.path.exists(best_path):
            state = torch.load(best_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
        score = checkpoint.best_model_score if checkpoint is not None else None
    module.eval()
    return BestFit(
        epochs=int(trainer.current_epoch),
        steps=int(trainer.global_step),
        best_val_loss=None if score is None else float(score),
        restored_best=bool(best_path),
        # not early.stopped_epoch > 0: that is 0 when early stopping fires inside the first epoch
        stopped_early=bool(early is not None and early.wait_count >= early.patience),
    )


def save_model_dir(
    path: str | os.PathLike,
    config: dict[str, Any],
    module: torch.nn.Module,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``path`` atomically; returns the path.

    ``extra_tensors`` (names that are not parameter names) are stored beside the weights. ``path`` must be
    absent, an empty folder, or a model folder this library wrote (which is then replaced in one step);
    anything else raises ``FileExistsError`` before anything is written, so a save never removes what it
    did not write.
    """
    target = Path(path)
    _check_save_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True, default=_jsonable))
        tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        clash = sorted(set(tensors) & set(extra_tensors or {}))
        if clash:
            raise ValueError(f"extra tensors {clash} would overwrite model weights")
        tensors |= {k: v.detach().cpu().contiguous() for k, v in (extra_tensors or {}).items()}
        save_file(tensors, str(staging / WEIGHTS_FILE))
        # mkdtemp creates 0700; give the saved model the permissions of a normally created directory
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        for item in staging.iterdir():
            os.chmod(item, 0o666 & ~umask)
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_save_target(target: Path) -> None:
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise FileExistsError(
            f"cannot save a model to {target}: it exists and is not a folder (nothing was changed)"
        )
    names = sorted(item.name for item in target.iterdir())
    if not names:
        return
    ours = set(names) <= {CONFIG_FILE, WEIGHTS_FILE} and _written_by_us(target / CONFIG_FILE)
    if not ours:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise FileExistsError(
            f"cannot save a model to {target}: the folder holds files this library did not write ({shown}); "
            "choose an empty or new folder (nothing was changed)"
        )


def _written_by_us(config: Path) -> bool:
    """Whether ``config`` is the ``config.json`` of a saved titans_seq model."""
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("format", "")).startswith("titans_seq.")


def load_model_dir(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a directory written by :func:`save_model_dir`: ``(config, state_dict)``."""
    source = Path(path)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source} is not a saved titans_seq model: {name} is missing")
    config = json.loads((source / CONFIG_FILE).read_text())
    return config, load_file(str(source / WEIGHTS_FILE))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot store {type(value).__name__} in config.json")
