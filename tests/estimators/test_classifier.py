"""TitansSequenceClassifier: the scikit-learn contract, save/load, strand options, bad input, quietness.

Tiny CPU problems: sequences of 20-31 bases where class "motif" carries TATAAT at a random place; a
one-block width-16 memory model trains on them in about a second.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import titans_seq
from titans_seq.data.dna import reverse_complement
from titans_seq.estimators import classifier as classifier_module
from titans_seq.estimators.classifier import TitansSequenceClassifier
from titans_seq.models import MemoryConfig, TitansConfig

MOTIF = "TATAAT"
TINY = TitansConfig(
    variant="lmm", dim=16, depth=1, ffn_expansion=2.0, memory=MemoryConfig(heads=2, chunk_size=8, depth=1)
)
FAST = {"backbone": TINY, "max_epochs": 3, "batch_size": 32, "learning_rate": 5e-3}


def planted(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` sequences, half of class "motif" (TATAAT planted), half "background"; lengths 20..31."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), rng.integers(20, 32)))
        if i % 2:
            start = rng.integers(0, len(seq) - len(MOTIF) + 1)
            seq[start : start + len(MOTIF)] = MOTIF
        seqs.append("".join(seq))
        labels.append("motif" if i % 2 else "background")
    return seqs, np.array(labels)


X_TRAIN, Y_TRAIN = planted(160, seed=1)
X_TEST, Y_TEST = planted(100, seed=2)


def weights_hash(est: TitansSequenceClassifier) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(est.model_.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def fitted() -> TitansSequenceClassifier:
    return TitansSequenceClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)


# ------------------------------------------------------------------------------ learning


def test_planted_motif_reaches_high_accuracy() -> None:
    X, y = planted(240, seed=1)
    clf = TitansSequenceClassifier(**{**FAST, "max_epochs": 40, "patience": 8}).fit(X, y)
    assert clf.score(X_TEST, Y_TEST) >= 0.9
    proba = clf.predict_proba(X_TEST)
    # Columns follow classes_ (sorted): column 1 is "motif".
    assert clf.classes_.tolist() == ["background", "motif"]
    assert proba[Y_TEST == "motif", 1].mean() > 0.8 > proba[Y_TEST == "background", 1].mean()


# ------------------------------------------------------------------------ sklearn contract


def test_init_stores_parameters_verbatim_and_clone_copies_them() -> None:
    kwargs = {"trainer_kwargs": {"max_time": {"minutes": 1}}, "pooling": "not-checked-until-fit", **FAST}
    clf = TitansSequenceClassifier(**kwargs)
    params = clf.get_params()
    assert all(params[k] is v for k, v in kwargs.items())
    assert sorted(params) == sorted(
        "backbone pooling strands kmer stem_kernel stem_layers stem_stride dropout rc_augment rc_average "
        "learning_rate lr_decay_patience batch_size max_tokens max_epochs patience "
        "validation_fraction random_state verbose trainer_kwargs".split()
    )
    copy = clone(clf)
    assert copy.get_params()["trainer_kwargs"] == kwargs["trainer_kwargs"]
    assert copy.set_params(pooling="last").pooling == "last"


def test_not_fitted_raises_not_fitted_error(tmp_path: Path) -> None:
    clf = TitansSequenceClassifier()
    for call in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(NotFittedError):
            call(["ACGT"])
    with pytest.raises(NotFittedError):
        clf.save(tmp_path / "model")


def test_fit_returns_self_with_fitted_attributes() -> None:
    clf = TitansSequenceClassifier(**FAST)
    assert clf.fit(X_TRAIN, Y_TRAIN) is clf
    assert clf.classes_.tolist() == ["background", "motif"]
    assert clf.n_epochs_ == 3 and clf.best_val_loss_ > 0
    assert clone(clf).__dict__.get("model_") is None  # clone is unfitted


def test_predict_leaves_the_estimator_unchanged(fitted: TitansSequenceClassifier) -> None:
    params, weights = fitted.get_params(), weights_hash(fitted)
    proba = fitted.predict_proba(X_TEST)
    labels = fitted.predict(X_TEST)
    scores = fitted.decision_function(X_TEST)
    fitted.score(X_TEST, Y_TEST)
    assert fitted.get_params() == params and weights_hash(fitted) == weights
    assert proba.shape == (len(X_TEST), 2) and np.allclose(proba.sum(1), 1)
    assert np.array_equal(labels, fitted.classes_[(scores > 0).astype(int)])
    np.testing.assert_array_equal(fitted.predict_proba(X_TEST), proba)


def test_same_seed_gives_the_same_model_and_keeps_global_rng() -> None:
    rng_before = torch.get_rng_state()
    a = TitansSequenceClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    assert torch.equal(torch.get_rng_state(), rng_before)
    b = clone(a).fit(X_TRAIN, Y_TRAIN)
    c = clone(a).set_params(random_state=1).fit(X_TRAIN, Y_TRAIN)
    assert weights_hash(a) == weights_hash(b) != weights_hash(c)
    np.testing.assert_array_equal(a.predict_proba(X_TEST), b.predict_proba(X_TEST))


def test_any_lengths_come_back_in_input_order_and_long_ones_stream(
    fitted: TitansSequenceClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (30, 3000, 12, 500, 50_000, 25)]
    together = fitted.predict_proba(seqs)  # batches sorted by length, rows put back in input order
    alone = np.vstack([fitted.predict_proba([s]) for s in seqs])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)
    # 50 kb is 13 pieces of the default 4096 tokens; one piece of 10**9 tokens gives the same
    monkeypatch.setattr(fitted.model_.model, "piece_tokens", 10**9)
    np.testing.assert_allclose(fitted.predict_proba(seqs[4:5]), together[4:5], rtol=0, atol=1e-6)
    # a small budget: every sequence a batch of its own, the same probabilities
    monkeypatch.setattr(fitted, "max_tokens", 1)
    np.testing.assert_allclose(fitted.predict_proba(seqs), together, rtol=0, atol=1e-6)


def test_save_load_gives_identical_probabilities(fitted: TitansSequenceClassifier, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = TitansSequenceClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X_TEST), fitted.predict_proba(X_TEST))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.classes_.tolist() == fitted.classes_.tolist()
    assert titans_seq.TitansSequenceClassifier is TitansSequenceClassifier


def test_a_classifier_saved_before_the_per_token_read_is_refused(
    fitted: TitansSequenceClassifier, tmp_path: Path
) -> None:
    path = fitted.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(
        json.dumps({**config, "format": "titans_seq.TitansSequenceClassifier/1"})
    )
    with pytest.raises(ValueError, match=r"an older model: its memory read its chunk-start weights"):
        TitansSequenceClassifier.load(path)


def test_pipeline_cross_val_score_and_grid_search() -> None:
    lower = [s.lower() for s in X_TRAIN]
    pipe = Pipeline(
        [
            ("upper", FunctionTransformer(lambda xs: [s.upper() for s in xs])),
            ("clf", TitansSequenceClassifier(**FAST)),
        ]
    )
    assert 0 <= pipe.fit(lower, Y_TRAIN).score([s.lower() for s in X_TEST], Y_TEST) <= 1
    scores = cross_val_score(TitansSequenceClassifier(**FAST), np.array(X_TRAIN), Y_TRAIN, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(TitansSequenceClassifier(**FAST), {"pooling": ["mean", "last"]}, cv=2)
    search.fit(pd.Series(X_TRAIN), Y_TRAIN)
    assert search.best_params_["pooling"] in ("mean", "last")
    assert search.predict(X_TEST[:5]).shape == (5,)


# ------------------------------------------------------------------------- DNA options


def test_rc_average_makes_predictions_invariant_to_the_strand(fitted: TitansSequenceClassifier) -> None:
    averaged = clone(fitted).set_params(rc_average=True).fit(X_TRAIN, Y_TRAIN)
    reverse = [reverse_complement(s) for s in X_TEST]
    np.testing.assert_array_equal(averaged.predict_proba(X_TEST), averaged.predict_proba(reverse))
    # Without averaging, a model reading one strand is not invariant.
    assert not np.array_equal(fitted.predict_proba(X_TEST), fitted.predict_proba(reverse))


def test_rc_options_kmers_stem_and_class_token_train_end_to_end(tmp_path: Path) -> None:
    clf = TitansSequenceClassifier(
        **{**FAST, "max_epochs": 2},
        kmer=3,
        stem_kernel=5,
        stem_layers=2,
        stem_stride=2,
        dropout=0.25,
        pooling="cls",
        strands="both",
        rc_augment=True,
        rc_average=True,
    )
    clf.fit(X_TRAIN, Y_TRAIN, validation_data=(X_TEST[:40], Y_TEST[:40]))
    reverse = [reverse_complement(s) for s in X_TEST]
    np.testing.assert_array_equal(clf.predict_proba(X_TEST), clf.predict_proba(reverse))
    assert clf.model_.hparams["kmer"] == 3 and clf.model_.model.embedding.num_embeddings == 3 + 4**3
    assert [conv.kernel_size for conv in clf.model_.model.stem] == [(5,), (5,)]
    assert clf.model_.model.stem_stride == 2
    loaded = TitansSequenceClassifier.load(clf.save(tmp_path / "model"))
    assert (loaded.stem_kernel, loaded.stem_layers, loaded.stem_stride, loaded.dropout) == (5, 2, 2, 0.25)
    assert clf.model_.model.dropout.p == 0.25
    np.testing.assert_array_equal(loaded.predict_proba(X_TEST), clf.predict_proba(X_TEST))


def test_without_validation_trains_max_epochs_and_accepts_column_input() -> None:
    clf = TitansSequenceClassifier(**FAST, validation_fraction=0.0).fit(np.array(X_TRAIN)[:, None], Y_TRAIN)
    assert clf.n_epochs_ == 3 and clf.best_val_loss_ is None
    assert clf.predict(pd.DataFrame({"sequence": X_TEST}))[:3].shape == (3,)


def test_quiet_by_default_and_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    clf = TitansSequenceClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    clf.predict(X_TEST)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scratch"] and not any(scratch.iterdir())


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (["ACGT", ""], [0, 1], "sequence 1 is empty"),
        (["ACGT", "ACXT", "GG"], [0, 1, 0], "sequence 1 has character 'X' at position 2"),
        (["ACGT", "GGCA"], [1, 1], "a single class (1)"),
        (["ACGT", "GGCA", "TT"], [0, 1], "got 3 sequences but 2 labels"),
    ],
    ids=["empty", "outside-alphabet", "single-class", "length-mismatch"],
)
def test_bad_data_raises_before_training(X, y, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "train_with_early_stopping", _must_not_train)
    with pytest.raises(ValueError, match=re.escape(message)):
        TitansSequenceClassifier(**FAST).fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pooling": "sum"}, "pooling must be one of ['mean', 'max', 'last', 'cls'], got 'sum'"),
        ({"strands": "minus"}, "strands must be one of ['forward', 'both'], got 'minus'"),
        ({"kmer": 7}, "kmer must be an integer in [1, 6], got 7"),
        ({"stem_kernel": -2}, "stem_kernel must be an integer >= 0, got -2"),
        ({"dropout": 1.0}, "dropout must lie in [0, 1), got 1.0"),
        ({"stem_kernel": 9, "stem_stride": 0}, "stem_stride must be an integer >= 1, got 0"),
        ({"stem_kernel": 9, "stem_layers": 0}, "stem_layers must be an integer >= 1, got 0"),
        ({"stem_kernel": 0}, "stem_stride=4 needs a convolutional stem (stem_kernel > 0)"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"max_tokens": 0}, "max_tokens must be an integer >= 1, got 0"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0, got -1.0"),
        ({"lr_decay_patience": 0}, "lr_decay_patience must be an integer >= 1, got 0"),
        ({"validation_fraction": 1.0}, "validation_fraction must lie in [0, 1), got 1.0"),
        ({"rc_average": "yes"}, "rc_average must be True or False, got 'yes'"),
        ({"trainer_kwargs": ["max_epochs"]}, "trainer_kwargs must be a dict or None, got list"),
        ({"kmer": 6}, "sequence 0 has length 4, shorter than kmer=6"),
        ({"validation_fraction": 0.5}, "cannot carve a stratified validation split from 4 sequences"),
    ],
)
def test_bad_parameters_are_named_before_training(
    params: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(classifier_module, "train_with_early_stopping", _must_not_train)
    with pytest.raises(ValueError, match=re.escape(message)):
        TitansSequenceClassifier(**{**FAST, **params}).fit(["ACGT", "GGCAT", "TTAGC", "CCGTA"], [0, 1, 0, 2])


def test_bad_validation_and_prediction_input(fitted: TitansSequenceClassifier, monkeypatch) -> None:
    monkeypatch.setattr(classifier_module, "train_with_early_stopping", _must_not_train)
    with pytest.raises(ValueError, match=re.escape("validation label 'other' is not among the classes")):
        clone(fitted).fit(X_TRAIN, Y_TRAIN, validation_data=(["ACGT"], ["other"]))
    with pytest.raises(ValueError, match=re.escape("sequence 1 has character '-' at position 1")):
        fitted.predict(["ACGT", "A-GT"])
    with pytest.raises(ValueError, match="X is empty"):
        fitted.predict([])
    with pytest.raises(TypeError, match="not a single string"):
        fitted.predict("ACGT")


def _must_not_train(*args, **kwargs):
    raise AssertionError("training started before the input was validated")


def test_validation_fraction_zero_trains_on_every_sequence(monkeypatch):
    """No validation split is carved when the user asks for none: every sequence reaches training."""
    from titans_seq.training import dna

    seen = {}
    original = dna.DNADataModule.train_dataloader

    def counting(self):
        loader = original(self)
        seen["train"] = len(loader.dataset)
        return loader

    monkeypatch.setattr(dna.DNADataModule, "train_dataloader", counting)
    clf = TitansSequenceClassifier(**{**FAST, "validation_fraction": 0.0, "max_epochs": 1}).fit(
        X_TRAIN, Y_TRAIN
    )
    assert seen["train"] == len(X_TRAIN)
    assert clf.best_val_loss_ is None or np.isnan(clf.best_val_loss_)
