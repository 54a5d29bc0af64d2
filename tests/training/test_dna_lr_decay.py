"""DNAClassifierSystem's learning-rate decay on a validation plateau (``lr_decay_patience``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_seq.data.dna import SequenceSet
from titans_seq.estimators._common import make_trainer
from titans_seq.models import MemoryConfig, TitansConfig
from titans_seq.training.dna import DNAClassifierSystem, DNADataModule

TINY = TitansConfig(
    variant="lmm", dim=16, depth=1, ffn_expansion=2.0, memory=MemoryConfig(heads=2, chunk_size=8, depth=1)
)
BASE_LR = 1e-2


class ScriptedValidation(DNAClassifierSystem):
    """Logs a given ``val_loss`` at each validation check and records the learning rate of every step."""

    def __init__(self, val_losses: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.val_losses, self.checks, self.step_lrs = list(val_losses), 0, []

    def validation_step(self, batch, batch_idx: int) -> None:
        loss = torch.tensor(self.val_losses[self.checks])
        self.log("val_loss", loss, batch_size=batch["labels"].shape[0])

    def on_validation_epoch_end(self) -> None:
        self.checks += 1

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        self.step_lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])


def fit_scripted(val_losses: list[float], **kwargs) -> ScriptedValidation:
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 24)) for _ in range(8)]
    data = SequenceSet(seqs, np.array([0, 1] * 4))
    torch.manual_seed(0)
    system = ScriptedValidation(val_losses, backbone=TINY, learning_rate=BASE_LR, warmup_steps=0, **kwargs)
    module = DNADataModule.from_sets(data, data, batch_size=8)  # one batch: one step between checks
    trainer = make_trainer(
        max_epochs=len(val_losses), verbose=False, trainer_kwargs={"num_sanity_val_steps": 0}
    )
    trainer.fit(system, datamodule=module)
    return system


def test_learning_rate_drops_after_patience_checks_without_gain_and_holds_otherwise() -> None:
    # checks: new best, new best, worse (1), worse (2: decay, count restarts), worse (1), new best, worse (1)
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85]
    system = fit_scripted(losses, lr_decay_patience=2, lr_decay_factor=0.5)
    # the step after check k trains with the rate that check left (the decay applies at once)
    assert system.step_lrs == pytest.approx([BASE_LR * s for s in (1, 1, 1, 1, 0.5, 0.5, 0.5)])
    assert system.lr_scale == 0.5


def test_without_patience_the_rate_stays_constant() -> None:
    system = fit_scripted([1.0, 1.1, 1.2, 1.3, 1.4], lr_decay_patience=None)
    assert system.step_lrs == pytest.approx([BASE_LR] * 5)
    assert system.lr_scale == 1.0


def test_a_second_fit_starts_from_the_full_rate() -> None:
    system = fit_scripted([1.0, 1.1, 1.2], lr_decay_patience=1, lr_decay_factor=0.25)
    assert system.lr_scale == 0.25**2
    system.checks, system.step_lrs = 0, []
    trainer = make_trainer(max_epochs=1, verbose=False, trainer_kwargs={"num_sanity_val_steps": 0})
    rng = np.random.default_rng(1)
    data = SequenceSet(["".join(rng.choice(list("ACGT"), 24)) for _ in range(8)], np.array([0, 1] * 4))
    trainer.fit(system, datamodule=DNADataModule.from_sets(data, data, batch_size=8))
    assert system.step_lrs == pytest.approx([BASE_LR])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_decay_patience": 0}, "lr_decay_patience"),
        ({"lr_decay_factor": 1.0}, r"lr_decay_factor must lie in \(0, 1\), got 1.0"),
        ({"lr_decay_factor": 0.0}, r"lr_decay_factor must lie in \(0, 1\), got 0.0"),
    ],
)
def test_bad_decay_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DNAClassifierSystem(backbone=TINY, **kwargs)


def test_a_standalone_validation_leaves_the_schedule_alone() -> None:
    system = fit_scripted([1.0], lr_decay_patience=1)
    system.val_losses, system.checks = [2.0, 3.0], 0
    rng = np.random.default_rng(2)
    data = SequenceSet(["".join(rng.choice(list("ACGT"), 24)) for _ in range(8)], np.array([0, 1] * 4))
    trainer = make_trainer(max_epochs=1, verbose=False)
    trainer.validate(system, datamodule=DNADataModule.from_sets(data, data, batch_size=8), verbose=False)
    assert system.lr_scale == 1.0 and system._checks_without_gain == 0
