"""``TitansSequenceClassifier``: a scikit-learn classifier over DNA strings, trained with Lightning.

The estimator wraps :class:`~titans_seq.training.dna.DNAClassifierSystem` (model, loss, metrics) and
:class:`~titans_seq.training.dna.DNADataModule` (tokenized batches) behind ``fit``/``predict``. It follows the
scikit-learn contract: ``__init__`` stores its arguments, ``fit`` validates and returns ``self``, fitted
attributes end in ``_``, ``predict`` never changes the estimator, and it works with ``clone``, ``Pipeline``,
``cross_val_score`` and ``GridSearchCV``. A fitted model saves to a directory (``config.json`` +
``model.safetensors``); loading never unpickles.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from titans_seq._checks import check_int
from titans_seq.adapters.dna import POOLINGS, STRANDS, check_stem
from titans_seq.data.dna import SequenceSet, check_classification_data, validate_labels, validate_sequences
from titans_seq.estimators._common import (
    fit_keeping_best,
    lightning_warnings_hidden,
    load_model_dir,
    make_trainer,
    save_model_dir,
)
from titans_seq.models import TitansConfig
from titans_seq.training.dna import (
    DEFAULT_MAX_TOKENS,
    MAX_KMER,
    DNAClassifierSystem,
    DNADataModule,
    stratified_split,
)

# /2: the memory reads per-token weights, a deep memory has a skip path and the surprise clamp is on by
# default; a /1 model's weights compute a different function under this code
FORMAT = "titans_seq.TitansSequenceClassifier/2"
# Width of the default stem's convolutions (see the class docstring)
DEFAULT_STEM_KERNEL = 5
# Trainer settings the estimator picks (``trainer_kwargs`` overrides them): clip gradients, as the inner
# memory updates can produce rare large outer gradients, and skip Lightning's sanity validation batches.
FIT_DEFAULTS: dict[str, Any] = {"gradient_clip_val": 1.0, "num_sanity_val_steps": 0}


# ------------------------------------------------------------------------ training helpers


@dataclass(frozen=True)
class FitSummary:
    """What a training run reports: completed epochs, optimizer steps and the best validation loss."""

    epochs: int
    steps: int
    best_val_loss: float | None


def _split_callbacks(trainer_kwargs: dict[str, Any] | None) -> tuple[dict[str, Any], list]:
    kwargs = dict(trainer_kwargs or {})
    return kwargs, list(kwargs.pop("callbacks", None) or [])


def train_with_early_stopping(
    system: torch.nn.Module,
    datamodule: DNADataModule,
    *,
    max_epochs: int,
    patience: int | None,
    verbose: bool = False,
    trainer_kwargs: dict[str, Any] | None = None,
) -> FitSummary:
    """Fit ``system`` on ``datamodule``; with ``patience``, stop early on ``val_loss`` and restore the best.

    The best weights are checkpointed in a temporary folder that is removed afterwards; no logger files are
    written unless ``trainer_kwargs`` asks for a logger. ``patience=None`` trains ``max_epochs`` (or until
    ``trainer_kwargs["max_time"]``) and keeps the last weights.
    """
    with lightning_warnings_hidden(verbose):
        fit = fit_keeping_best(
            system,
            datamodule,
            max_epochs=max_epochs,
            verbose=verbose,
            monitor=patience is not None,
            patience=patience,
            trainer_kwargs={**FIT_DEFAULTS, **(trainer_kwargs or {})},
        )
    system.trainer = None  # drop the reference: the Trainer holds loaders, callbacks and the temp paths
    system.cpu()
    return FitSummary(epochs=fit.epochs, steps=fit.steps, best_val_loss=fit.best_val_loss)


def predict_probabilities(
    system: torch.nn.Module,
    datamodule: DNADataModule,
    *,
    verbose: bool = False,
    trainer_kwargs: dict[str, Any] | None = None,
) -> np.ndarray:
    """Class probabilities ``[N, C]`` (float64, rows sum to 1) of the data module's predict set."""
    kwargs, extra = _split_callbacks(trainer_kwargs)
    # Limits must not cut prediction short: every sequence gets its row.
    for key in ("max_time", "max_steps", "limit_predict_batches"):
        kwargs.pop(key, None)
    with lightning_warnings_hidden(verbose):
        trainer = make_trainer(max_epochs=1, verbose=verbose, callbacks=extra, trainer_kwargs=kwargs)
        batches = trainer.predict(system, datamodule=datamodule)
    system.trainer = None
    system.cpu()
    in_batch_order = torch.cat(batches).double().numpy()
    probs = np.empty_like(in_batch_order)
    probs[datamodule.batches("predict").order()] = in_batch_order  # batches group rows by length
    return probs / probs.sum(1, keepdims=True)


# ------------------------------------------------------------------------------- estimator


class TitansSequenceClassifier(ClassifierMixin, BaseEstimator):
    """Titans (neural long-term memory) classifier of DNA sequences, scikit-learn style.

    ``X`` is a sequence of DNA strings (list, numpy array, pandas Series, or an ``[N, 1]`` array):
    ``A, C, G, T, N``, lowercase accepted (uppercased), any length; ``y`` holds 2 or more classes.

    Parameters
    ----------
    backbone : TitansConfig, optional
        The sequence model; default :func:`~titans_seq.adapters.dna.default_backbone` (memory only, the
        paper's setting for DNA).
    pooling : {"mean", "max", "last", "cls"}
        How per-token outputs become one vector per sequence (padding is always ignored); ``"max"``
        (default) keeps the strongest response wherever a motif sits.
    strands : {"forward", "both"}
        ``"both"``: a two-strand model with shared weights, strand-invariant by construction (2x compute).
    kmer : int
        1: one token per base; ``k`` in 2..6: overlapping k-mers (DNABERT style).
    stem_kernel : int
        Width of the causal convolutions of a stem between the embedding and the backbone (a learned motif
        scanner); 0: no stem, tokens go straight into the backbone.
    stem_layers : int
        Number of stacked stem convolutions.
    stem_stride : int
        Max-pool the stem's output over groups of this many positions, so the backbone reads that many times
        fewer tokens (needs ``stem_kernel > 0``); 1: keep the resolution.

        The defaults (a stem of 2 convolutions of width 5, max-pooled by 4, max pooling, lr 3e-3 halved
        after 2 checks without gain, patience 5) were chosen on the valid splits of 10 tasks of 26-1000 bp
        and 400-4,904 sequences, against the earlier defaults (no stem, mean pooling, two blocks) and width
        9 (``benchmarks/dna_defaults.py``, results in ``benchmarks/README.md``). They beat k-mer logistic
        regression on 5 of the 10 tasks, not all. The GUE benchmark uses width 9.
    dropout : float
        Dropout on the pooled features, before the class head.
    rc_augment : bool
        In training, replace each sequence by its reverse complement with probability 1/2.
    rc_average : bool
        At prediction, average the probabilities of each sequence and of its reverse complement (exactly
        strand-invariant predictions, 2x compute).
    learning_rate : float
        AdamW learning rate (after a 100-step linear warm-up).
    lr_decay_patience : int or None
        Halve the learning rate after this many validation checks in a row without a lower validation loss
        (needs validation data; keep it below ``patience`` so that the lower rate gets checks before early
        stopping); None: constant.
    batch_size : int
        Most sequences per batch, in training and prediction.
    max_tokens : int
        Most tokens per batch, padding included: batches group sequences of similar lengths, and a sequence
        longer than this is a batch of its own. Any length is accepted: a sequence longer than the model's
        ``piece_tokens`` is streamed through it in pieces (exactly one pass), so prediction memory does not
        grow with the length.
    max_epochs : int
        Upper bound on training epochs; with validation data, early stopping ends training long before
        it (a default fit needs no budget).
    patience : int
        Early stopping: validation checks without improvement of the validation loss before stopping; the
        best weights are restored.
    validation_fraction : float
        Share of the training data held out (stratified, seeded) for early stopping when ``fit`` gets no
        ``validation_data``; 0 trains ``max_epochs`` without early stopping.
    random_state : int, RandomState or None
        Seed of initialisation, shuffling, dropout, augmentation and the validation split: the same int
        gives the same model. The global torch random state is left as it was.
    verbose : bool
        Progress bars and the model summary; silent otherwise.
    trainer_kwargs : dict, optional
        Passed to ``lightning.pytorch.Trainer`` over the estimator's defaults, e.g.
        ``{"accelerator": "gpu"}`` or ``{"max_time": {"minutes": 10}, "val_check_interval": 200}``.
        ``callbacks`` are added to the estimator's own (early stopping, best checkpoint).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels; the columns of ``predict_proba``.
    model_ : DNAClassifierSystem
        The trained LightningModule (its ``model`` attribute is the plain ``nn.Module``).
    n_epochs_ : int
        Training epochs begun (one cut short by early stopping or a time limit counts).
    best_val_loss_ : float or None
        Validation loss of the restored weights (None without validation).

    Examples
    --------
    >>> clf = TitansSequenceClassifier(max_epochs=5).fit(train_sequences, train_labels)  # doctest: +SKIP
    >>> clf.predict_proba(["ACGTTTGACA", "GGCATTAC"]).shape                             # doctest: +SKIP
    (2, 2)
    """

    def __init__(
        self,
        backbone: TitansConfig | None = None,
        pooling: str = "max",
        strands: str = "forward",
        kmer: int = 1,
        stem_kernel: int = DEFAULT_STEM_KERNEL,
        stem_layers: int = 2,
        stem_stride: int = 4,
        dropout: float = 0.1,
        rc_augment: bool = False,
        rc_average: bool = False,
        learning_rate: float = 3e-3,
        lr_decay_patience: int | None = 2,
        batch_size: int = 64,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_epochs: int = 200,
        patience: int = 5,
        validation_fraction: float = 0.1,
        random_state: int | np.random.RandomState | None = 0,
        verbose: bool = False,
        trainer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        # scikit-learn contract: store the arguments as given; they are checked in ``fit``.
        self.backbone = backbone
        self.pooling = pooling
        self.strands = strands
        self.kmer = kmer
        self.stem_kernel = stem_kernel
        self.stem_layers = stem_layers
        self.stem_stride = stem_stride
        self.dropout = dropout
        self.rc_augment = rc_augment
        self.rc_average = rc_average
        self.learning_rate = learning_rate
        self.lr_decay_patience = lr_decay_patience
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.trainer_kwargs = trainer_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # --------------------------------------------------------------------------------- fit
    def fit(
        self, X: Iterable[str], y: Iterable, validation_data: tuple | None = None
    ) -> TitansSequenceClassifier:
        """Train on sequences ``X`` with labels ``y``.

        Parameters
        ----------
        X : sequence of str, length N
            DNA sequences.
        y : array-like of shape (N,)
            Class labels (2 or more classes).
        validation_data : (X_val, y_val), optional
            Held-out data for early stopping; by default ``validation_fraction`` of ``X`` is held out.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Before any training: a bad parameter (named), X and y of different lengths, a single class,
            an empty sequence or a character outside the alphabet (with its sequence index and position),
            validation labels not seen in ``y``.
        """
        self._check_params()
        seqs, labels = check_classification_data(_as_strings(X, "X"), y)
        self._check_lengths(seqs, "X")
        classes = np.unique(labels)
        seed = self._seed()
        train = SequenceSet(seqs, labels, classes=classes)
        if validation_data is not None:
            valid = self._validation_set(validation_data, classes)
        elif self.validation_fraction:
            train, valid = stratified_split(train, self.validation_fraction, seed)
        else:
            valid = None
        datamodule = DNADataModule.from_sets(  # the split is made above: the module must not carve another
            train,
            valid,
            classes=classes,
            batch_size=int(self.batch_size),
            max_tokens=int(self.max_tokens),
            kmer=int(self.kmer),
            seed=seed,
            validation_fraction=0.0,
        )
        with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
            torch.manual_seed(seed)
            system = DNAClassifierSystem(
                num_classes=len(classes),
                backbone=self.backbone,
                pooling=self.pooling,
                strands=self.strands,
                kmer=int(self.kmer),
                stem_kernel=int(self.stem_kernel),
                stem_layers=int(self.stem_layers),
                stem_stride=int(self.stem_stride),
                dropout=float(self.dropout),
                rc_augment=self.rc_augment,
                rc_average=self.rc_average,
                learning_rate=self.learning_rate,
                lr_decay_patience=self.lr_decay_patience,
            )
            summary = train_with_early_stopping(
                system,
                datamodule,
                max_epochs=int(self.max_epochs),
                patience=int(self.patience) if valid is not None else None,
                verbose=self.verbose,
                trainer_kwargs=self.trainer_kwargs,
            )
        self.classes_ = classes
        self.model_ = system
        self.n_epochs_ = summary.epochs
        self.best_val_loss_ = summary.best_val_loss
        return self

    # ----------------------------------------------------------------------------- predict
    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)``, columns in ``classes_`` order.

        With ``rc_average`` the probabilities of each sequence and its reverse complement are averaged.
        """
        check_is_fitted(self, ("classes_", "model_"))
        seqs = validate_sequences(_as_strings(X, "X"))
        if not seqs:
            raise ValueError("X is empty: nothing to predict")
        self._check_lengths(seqs, "X")
        datamodule = DNADataModule.from_sets(
            predict=SequenceSet(seqs), batch_size=self.batch_size, max_tokens=self.max_tokens, kmer=self.kmer
        )
        return predict_probabilities(
            self.model_, datamodule, verbose=self.verbose, trainer_kwargs=self.trainer_kwargs
        )

    def predict(self, X: Iterable[str]) -> np.ndarray:
        """Most probable class of each sequence, shape ``(N,)``."""
        proba = self.predict_proba(X)  # first: raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    def decision_function(self, X: Iterable[str]) -> np.ndarray:
        """Log-probability scores: ``(N,)`` log-odds of ``classes_[1]`` for two classes, else ``(N, C)``."""
        log_proba = np.log(np.clip(self.predict_proba(X), np.finfo(np.float64).tiny, None))
        return log_proba[:, 1] - log_proba[:, 0] if log_proba.shape[1] == 2 else log_proba

    # ------------------------------------------------------------------------- save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to directory ``path`` (``config.json`` + ``model.safetensors``), atomically.

        ``trainer_kwargs`` that JSON cannot hold (callbacks, loggers) are not saved (loaded as None).
        """
        check_is_fitted(self, ("classes_", "model_"))
        params = self.get_params(deep=False)
        if isinstance(params["backbone"], TitansConfig):
            params["backbone"] = params["backbone"].to_dict()
        if not isinstance(params["random_state"], int | None):
            params["random_state"] = None
        try:
            json.dumps(params["trainer_kwargs"])
        except TypeError:
            params["trainer_kwargs"] = None
        config = {
            "format": FORMAT,
            "params": params,
            "classes": self.classes_.tolist(),
            "system": _system_arguments(self.model_.hparams),
            "fitted": {"n_epochs_": self.n_epochs_, "best_val_loss_": self.best_val_loss_},
        }
        return save_model_dir(path, config, self.model_)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TitansSequenceClassifier:
        """Load a model written by :meth:`save` (no unpickling: JSON config and safetensors weights)."""
        config, state = load_model_dir(path)
        if config.get("format") != FORMAT:
            hint = ""
            if str(config.get("format", "")).startswith("titans_seq.TitansSequenceClassifier/"):
                hint = " (an older model: its memory read its chunk-start weights, so refit it)"
            raise ValueError(f"{path} holds {config.get('format')!r}, not a {FORMAT} model{hint}")
        params = dict(config["params"])
        if params.get("backbone") is not None:
            params["backbone"] = TitansConfig.from_dict(params["backbone"])
        system = DNAClassifierSystem(**config["system"])
        system.load_state_dict(state)
        return cls(**params)._set_fitted(system, config["classes"], **config.get("fitted", {}))

    @classmethod
    def from_system(
        cls, system: DNAClassifierSystem, classes: Iterable, **params: Any
    ) -> TitansSequenceClassifier:
        """A fitted estimator around a trained system (e.g. from ``titans-seq dna fit``).

        Architecture and training options come from ``system.hparams``; ``params`` sets the others
        (``batch_size``, ``verbose``, ...).
        """
        hp = system.hparams
        estimator = cls(
            backbone=TitansConfig.from_dict(hp["backbone"]),
            pooling=hp["pooling"],
            strands=hp["strands"],
            kmer=hp["kmer"],
            stem_kernel=hp.get("stem_kernel", 0),
            stem_layers=hp.get("stem_layers", 1),
            stem_stride=hp.get("stem_stride", 1),
            dropout=hp.get("dropout", 0.1),
            rc_augment=hp["rc_augment"],
            rc_average=hp["rc_average"],
            learning_rate=hp["learning_rate"],
            lr_decay_patience=hp.get("lr_decay_patience"),
            **params,
        )
        return estimator._set_fitted(system, classes)

    def _set_fitted(
        self,
        system: DNAClassifierSystem,
        classes: Iterable,
        n_epochs_: int = 0,
        best_val_loss_: float | None = None,
    ) -> TitansSequenceClassifier:
        classes = np.asarray(list(classes))
        if len(classes) != system.hparams["num_classes"]:
            raise ValueError(f"{len(classes)} classes given for a model with {system.hparams['num_classes']}")
        self.model_, self.classes_ = system.eval(), classes
        self.n_epochs_, self.best_val_loss_ = n_epochs_, best_val_loss_
        return self

    # ------------------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        def integer(name: str, minimum: int, maximum: int | None = None) -> None:
            check_int(name, getattr(self, name), minimum, maximum, types=numbers.Integral)

        if self.backbone is not None and not isinstance(self.backbone, TitansConfig):
            raise ValueError(f"backbone must be a TitansConfig or None, got {type(self.backbone).__name__}")
        for name, allowed in (("pooling", POOLINGS), ("strands", STRANDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        integer("kmer", 1, MAX_KMER)
        check_stem(self.stem_kernel, self.stem_layers, self.stem_stride)
        integer("batch_size", 1)
        integer("max_tokens", 1)
        integer("max_epochs", 1)
        integer("patience", 0)
        if self.lr_decay_patience is not None:
            integer("lr_decay_patience", 1)
        for name in ("rc_augment", "rc_average", "verbose"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < np.inf:
            raise ValueError(f"learning_rate must be a finite number > 0, got {lr!r}")
        drop = self.dropout
        if isinstance(drop, bool) or not isinstance(drop, int | float) or not 0 <= drop < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {drop!r}")
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction < 1:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {fraction!r}")
        if self.trainer_kwargs is not None and not isinstance(self.trainer_kwargs, dict):
            raise ValueError(
                f"trainer_kwargs must be a dict or None, got {type(self.trainer_kwargs).__name__}"
            )

    def _check_lengths(self, seqs: list[str], what: str) -> None:
        if self.kmer > 1:
            short = next((i for i, s in enumerate(seqs) if len(s) < self.kmer), None)
            if short is not None:
                raise ValueError(
                    f"{what}: sequence {short} has length {len(seqs[short])}, shorter than kmer={self.kmer}"
                )

    def _validation_set(self, validation_data: tuple, classes: np.ndarray) -> SequenceSet:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        x_val = validate_sequences(_as_strings(validation_data[0], "X_val"))
        y_val = validate_labels(validation_data[1], len(x_val), min_classes=1)
        unseen = np.setdiff1d(y_val, classes)
        if len(unseen):
            raise ValueError(
                f"validation label {unseen[0].item()!r} is not among the classes of y {classes.tolist()}"
            )
        self._check_lengths(x_val, "X_val")
        return SequenceSet(x_val, y_val, classes=classes)

    def _seed(self) -> int:
        state = self.random_state
        if state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(state, np.random.RandomState):
            return int(state.randint(2**31 - 1))
        if isinstance(state, bool) or not isinstance(state, int | np.integer):
            raise ValueError(f"random_state must be an int, a numpy RandomState or None, got {state!r}")
        return int(state)


def _system_arguments(hparams: Any) -> dict[str, Any]:
    """The ``DNAClassifierSystem`` arguments among its hparams (LightningCLI adds bookkeeping keys)."""
    names = inspect.signature(DNAClassifierSystem.__init__).parameters
    return {k: v for k, v in dict(hparams).items() if k in names and k != "self"}


def _as_strings(X: Any, what: str) -> list:
    """``X`` as a list: 1-D collections as they are, ``[N, 1]`` arrays (a one-column frame) flattened."""
    if isinstance(X, str | bytes):
        raise TypeError(f"{what} must be a collection of sequences, not a single string: wrap it as [seq]")
    values = X.to_numpy() if hasattr(X, "to_numpy") else X
    if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    elif isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one sequence per item) or [N, 1], got shape {values.shape}")
    return list(values)


__all__ = [
    "FitSummary",
    "TitansSequenceClassifier",
    "predict_probabilities",
    "train_with_early_stopping",
]
