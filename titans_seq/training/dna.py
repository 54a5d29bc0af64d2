"""Lightning pieces for DNA classification: the training system and the data module.

``DNAClassifierSystem`` (LightningModule) adds to :class:`~titans_seq.adapters.dna.DNAClassifier` the loss,
metrics (accuracy, MCC), the optimizer, reverse-complement augmentation and reverse-complement averaging.
``DNADataModule`` tokenizes sequence sets once and serves right-padded batches
``{"input_ids": [B, L], "attention_mask": [B, L], "labels": [B]}``.

Both are usable directly, from ``titans-seq dna fit|test --config recipes/dna/<task>.yaml`` (LightningCLI:
every ``__init__`` argument is a config key) and through
:class:`~titans_seq.estimators.classifier.TitansSequenceClassifier`.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassMatthewsCorrCoef

from titans_seq._checks import check_int
from titans_seq.adapters.dna import DNAClassifier, default_backbone, pack_right
from titans_seq.data.dna import PAD_ID, CharTokenizer, KmerTokenizer, SequenceSet
from titans_seq.data.dna_sources import list_dna_tasks, load_dna_task, read_sequence_csv
from titans_seq.models import TitansConfig

# Tokens per batch, padding included: 64 rows of up to 1024 tokens (every GUE task keeps batches of 64)
DEFAULT_MAX_TOKENS = 65536
MAX_KMER = 6  # 4**6 = 4096 k-mer embeddings; larger k gives mostly unseen tokens on benchmark-sized data


def make_tokenizer(kmer: int) -> CharTokenizer | KmerTokenizer:
    """``kmer=1``: one token per base (:class:`CharTokenizer`); ``kmer>1``: overlapping k-mers (stride 1,
    so reverse complements of ids are exact)."""
    check_int("kmer", kmer, 1, MAX_KMER, types=numbers.Integral)
    return CharTokenizer() if kmer == 1 else KmerTokenizer(int(kmer))


def stratified_split(sequences: SequenceSet, fraction: float, seed: int) -> tuple[SequenceSet, SequenceSet]:
    """Split a labelled set into ``(train, valid)`` with class proportions kept, reproducibly.

    Raises ``ValueError`` naming the class when a class is too small to appear on both sides.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in (0, 1), got {fraction!r}")
    labels = sequences.labels
    if labels is None:
        raise ValueError("cannot carve a validation split from unlabelled sequences")
    classes, counts = np.unique(labels, return_counts=True)
    n_valid = math.ceil(fraction * len(labels))
    if counts.min() < 2 or n_valid < len(classes) or len(labels) - n_valid < len(classes):
        rare = classes[np.argmin(counts)].item()
        raise ValueError(
            f"validation_fraction={fraction} cannot carve a stratified validation split from "
            f"{len(labels)} sequences (class {rare!r} has {counts.min()}): pass validation data, change "
            "validation_fraction, or set it to 0 to train without early stopping"
        )
    train_idx, valid_idx = train_test_split(
        np.arange(len(labels)), test_size=n_valid, stratify=labels, random_state=seed
    )
    return sequences.take(np.sort(train_idx)), sequences.take(np.sort(valid_idx))


class TokenizedSet(Dataset):
    """Sequences tokenized once, unpadded: ``ids`` holds every row's tokens end to end (int16/int32),
    ``lengths [N]`` their counts, ``labels [N]`` (int64) or None.

    Memory is the total number of tokens, whatever the spread of lengths. Items are row indices;
    :meth:`collate` builds a right-padded batch as wide as its longest row.
    """

    def __init__(self, ids: Tensor, lengths: Tensor, labels: Tensor | None) -> None:
        if int(lengths.sum()) != len(ids):
            raise ValueError(f"lengths add up to {int(lengths.sum())} tokens, ids holds {len(ids)}")
        self.ids, self.lengths, self.labels = ids, lengths, labels
        self.offsets = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])

    @classmethod
    def encode(
        cls,
        sequences: SequenceSet,
        tokenizer: CharTokenizer | KmerTokenizer,
        classes: np.ndarray | None = None,
    ) -> TokenizedSet:
        """Tokenize ``sequences``; labels become positions in ``classes`` (each label must be one of them)."""
        ids, lengths = tokenizer.encode_flat(sequences.sequences)
        labels = None
        if classes is not None and sequences.labels is not None:
            unknown = np.setdiff1d(sequences.labels, classes)
            if len(unknown):
                raise ValueError(
                    f"label {unknown[0].item()!r} is not among the training classes {classes.tolist()}"
                )
            labels = torch.from_numpy(np.searchsorted(classes, sequences.labels).astype(np.int64))
        return cls(torch.from_numpy(ids), torch.from_numpy(lengths), labels)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> int:
        return index

    def collate(self, indices: list[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        lengths = self.lengths[idx]
        width = int(lengths.max())
        input_ids = torch.full((len(idx), width), PAD_ID, dtype=torch.long)
        for row, i in enumerate(idx.tolist()):
            input_ids[row, : lengths[row]] = self.ids[self.offsets[i] : self.offsets[i + 1]]
        batch = {"input_ids": input_ids, "attention_mask": torch.arange(width) < lengths[:, None]}
        if self.labels is not None:
            batch["labels"] = self.labels[idx]
        return batch


class TokenBudgetBatches(Sampler[list[int]]):
    """Batches of at most ``batch_size`` rows and ``max_tokens`` padded tokens (rows x longest row), rows of
    similar lengths together, so that padding never makes a batch pay for an unrelated long row.

    ``shuffle=False`` (evaluation, prediction): the rows sorted by length (stable), cut in order; the batch
    order is then :meth:`order`. ``shuffle=True`` (training): each epoch draws a permutation (seeded by
    ``seed`` and the epoch count), sorts pools of ``50 * batch_size`` rows by length, cuts them and shuffles
    the batches. A row longer than ``max_tokens`` is a batch of its own (the model streams it in pieces).
    With equal lengths every batch holds ``min(batch_size, max_tokens // length)`` rows, in random order
    when shuffled, as a plain shuffled loader would.
    """

    POOL = 50  # batches' worth of rows sorted together when shuffling

    def __init__(
        self, lengths: Tensor, batch_size: int, max_tokens: int, *, shuffle: bool = False, seed: int = 0
    ) -> None:
        check_int("batch_size", batch_size, 1)
        check_int("max_tokens", max_tokens, 1)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.max_tokens, self.shuffle, self.seed = batch_size, max_tokens, shuffle, seed
        self._epoch, self._next = 0, None
        self._batches = None if shuffle else self._cut(np.argsort(self.lengths, kind="stable"))

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        """Consecutive runs of ``order``; a batch's cost is its row count times its longest row."""
        batches, current, longest = [], [], 0
        for i in order.tolist():
            wider = max(longest, int(self.lengths[i]))
            if current and (len(current) == self.batch_size or (len(current) + 1) * wider > self.max_tokens):
                batches.append(current)
                current, wider = [], int(self.lengths[i])
            current.append(i)
            longest = wider
        if current:
            batches.append(current)
        return batches

    def _epoch_batches(self) -> list[list[int]]:
        """The batches of the next pass; shuffled ones are drawn once per epoch and kept until iterated."""
        if self._batches is not None:
            return self._batches
        if self._next is None:
            rng = np.random.default_rng([self.seed, self._epoch])
            permutation = rng.permutation(len(self.lengths))
            pool = self.POOL * self.batch_size
            batches = []
            for begin in range(0, len(permutation), pool):
                rows = permutation[begin : begin + pool]
                batches += self._cut(rows[np.argsort(self.lengths[rows], kind="stable")])
            self._next = [batches[j] for j in rng.permutation(len(batches))]
        return self._next

    def order(self) -> np.ndarray:
        """Row indices in the order the batches of an unshuffled pass yield them."""
        if self.shuffle:
            raise ValueError("a shuffled pass has no fixed order")
        return np.concatenate(self._batches) if self._batches else np.zeros(0, dtype=np.int64)

    def __iter__(self):
        batches = self._epoch_batches()
        if self._batches is None:  # shuffled: this epoch is used up, the next one draws anew
            self._next, self._epoch = None, self._epoch + 1
        yield from batches

    def __len__(self) -> int:
        return len(self._epoch_batches())  # shuffled: the next epoch's count (the same for equal lengths)


class DNADataModule(pl.LightningDataModule):
    """Train/valid/test/predict loaders over DNA sequence sets.

    Parameters
    ----------
    task : str, optional
        A bundled task (:func:`~titans_seq.data.dna_sources.list_dna_tasks`, e.g. ``"gue_prom_core_all"``:
        official train/valid/test splits), or a CSV/TSV file with columns ``sequence,label,split`` (split
        values ``train``, ``valid``, ``test``; without a ``valid`` split one is carved from train). ``None``
        when the sets are given with :meth:`from_sets`.
    data_dir : str, optional
        Folder holding the bundled tasks (default: the repository's ``datasets/``).
    batch_size : int
        Most sequences per batch.
    max_tokens : int
        Most tokens per batch, padding included (rows x longest row): batches group rows of similar
        lengths (:class:`TokenBudgetBatches`), and a row longer than this is a batch of its own.
    kmer : int
        1: one token per base; k > 1: overlapping k-mers (see :func:`make_tokenizer`).
    validation_fraction : float
        Share of train carved out (stratified, seeded) when no validation split exists.
    seed : int
        Seed of the validation carve and of the training shuffle.
    num_workers : int
        DataLoader worker processes (batches are slices of pre-tokenized tensors: 0 is usually fastest).
    """

    def __init__(
        self,
        task: str | None = None,
        data_dir: str | None = None,
        batch_size: int = 64,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        kmer: int = 1,
        validation_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_int("batch_size", batch_size, 1)
        check_int("max_tokens", max_tokens, 1)
        self.tokenizer = make_tokenizer(kmer)
        self.task, self.data_dir, self.batch_size, self.kmer = task, data_dir, batch_size, kmer
        self.max_tokens = max_tokens
        self.validation_fraction, self.seed, self.num_workers = validation_fraction, seed, num_workers
        self._sets: dict[str, SequenceSet | None] = {}
        self._classes: np.ndarray | None = None
        self._tokenized: dict[str, TokenizedSet] = {}

    @classmethod
    def from_sets(
        cls,
        train: SequenceSet | None = None,
        valid: SequenceSet | None = None,
        test: SequenceSet | None = None,
        predict: SequenceSet | None = None,
        *,
        classes: np.ndarray | None = None,
        **kwargs: Any,
    ) -> DNADataModule:
        """A data module over in-memory sets (``kwargs``: the ``__init__`` options but ``task``).

        ``classes`` (sorted) fixes the label order; by default the sorted labels of ``train``.
        """
        module = cls(**kwargs)
        module._sets = {"train": train, "valid": valid, "test": test, "predict": predict}
        if classes is not None:
            module._classes = np.asarray(classes)
        return module

    # ------------------------------------------------------------------------------------- sets
    def _load(self, split: str) -> SequenceSet | None:
        if split in self._sets:
            return self._sets[split]
        if self.task is None:
            raise ValueError("DNADataModule needs a task (or sets given with DNADataModule.from_sets)")
        if self.task in list_dna_tasks():
            if split == "valid" and self.task.startswith("gue_"):
                found = load_dna_task(self.task, "valid", data_dir=self.data_dir)
            elif split == "valid":
                found = None  # GenomicBenchmarks: no validation split, carved from train below
            else:
                found = load_dna_task(self.task, split, data_dir=self.data_dir)
        else:
            path = Path(self.task)
            if not path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
                raise ValueError(
                    f"task {self.task!r} is neither a bundled task ({', '.join(list_dna_tasks())}) nor a "
                    ".csv/.tsv file with columns sequence,label,split"
                )
            try:
                found = read_sequence_csv(path, split=split)
            except ValueError:
                if split != "valid":
                    raise
                found = None  # no valid rows: carved from train below
        self._sets[split] = found
        return found

    def _train_valid(self) -> tuple[SequenceSet, SequenceSet | None]:
        train = self._load("train")
        if train is None:
            raise ValueError("no training sequences given")
        valid = self._load("valid")
        if valid is None and self.validation_fraction:
            train, valid = stratified_split(train, self.validation_fraction, self.seed)
            self._sets["train"], self._sets["valid"] = train, valid
        return train, valid

    @property
    def classes(self) -> np.ndarray:
        """Sorted class labels of the training data (what column ``j`` of the probabilities means)."""
        if self._classes is None:
            train = self._load("train")
            if train is None or train.labels is None:
                raise ValueError("the classes are unknown: no labelled training set")
            self._classes = np.unique(train.labels)
        return self._classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # ------------------------------------------------------------------------------- lightning
    def setup(self, stage: str) -> None:
        stage = str(getattr(stage, "value", stage))  # Lightning passes a str-valued enum
        if stage in ("fit", "validate"):
            train, valid = self._train_valid()
            self._tokenized["train"] = TokenizedSet.encode(train, self.tokenizer, self.classes)
            if valid is not None:
                self._tokenized["valid"] = TokenizedSet.encode(valid, self.tokenizer, self.classes)
        if stage in ("test", "predict"):
            found = self._load(stage)
            if found is None:
                raise ValueError(f"no {stage} sequences given")
            labelled = stage == "test"
            self._tokenized[stage] = TokenizedSet.encode(
                found, self.tokenizer, self.classes if labelled else None
            )

    def batches(self, split: str, shuffle: bool = False) -> TokenBudgetBatches:
        """The batches of a set that :meth:`setup` tokenized (unshuffled: ``.order()`` maps rows back)."""
        lengths = self._tokenized[split].lengths
        return TokenBudgetBatches(lengths, self.batch_size, self.max_tokens, shuffle=shuffle, seed=self.seed)

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        data = self._tokenized[split]
        return DataLoader(
            data,
            batch_sampler=self.batches(split, shuffle),
            collate_fn=data.collate,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        # No validation set (validation_fraction=0): Lightning skips validation on an empty list.
        return self._loader("valid") if "valid" in self._tokenized else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict")


class DNAClassifierSystem(pl.LightningModule):
    """Cross-entropy training of a :class:`~titans_seq.adapters.dna.DNAClassifier`, with DNA options.

    Parameters
    ----------
    num_classes : int
        Number of classes (the CLI links it from the data module).
    backbone : TitansConfig or dict, optional
        Backbone configuration (default :func:`~titans_seq.adapters.dna.default_backbone`).
    pooling : {"mean", "max", "last", "cls"}
        See :class:`~titans_seq.adapters.dna.DNAClassifier`.
    strands : {"forward", "both"}
        ``"both"``: a strand-invariant two-strand model (see the adapter).
    kmer : int
        Tokenizer of the data (1 = bases); sets the vocabulary and the complement table.
    dropout : float
        Dropout before the class head.
    stem_kernel, stem_layers, stem_stride : int
        The causal convolutional stem: kernel width (0: no stem), number of convolutions and max-pool
        stride (see the adapter); by default none.
    rc_augment : bool
        Replace each training sequence by its reverse complement with probability 1/2.
    rc_average : bool
        At validation, test and prediction, average the class probabilities of each sequence and of its
        reverse complement (exactly strand-invariant predictions).
    learning_rate, weight_decay : float
        AdamW settings.
    warmup_steps : int
        Linear learning-rate warm-up from 0, in optimizer steps; constant afterwards, unless
        ``lr_decay_patience`` is set.
    lr_decay_patience : int or None
        Multiply the learning rate by ``lr_decay_factor`` after this many validation checks in a row without
        a lower ``val_loss`` (as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` does, counted in checks, not
        epochs); ``None`` (default): no decay.
    lr_decay_factor : float
        The decay's factor, in (0, 1).

    Logged metrics: ``train_loss``; ``val_loss``, ``val_acc``, ``val_mcc``; ``test_loss``, ``test_acc``,
    ``test_mcc``. ``predict_step`` returns class probabilities ``[B, C]``.
    """

    def __init__(
        self,
        num_classes: int = 2,
        backbone: TitansConfig | dict | None = None,
        pooling: str = "mean",
        strands: str = "forward",
        kmer: int = 1,
        dropout: float = 0.1,
        stem_kernel: int = 0,
        stem_layers: int = 1,
        stem_stride: int = 1,
        rc_augment: bool = False,
        rc_average: bool = False,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        lr_decay_patience: int | None = None,
        lr_decay_factor: float = 0.5,
    ) -> None:
        super().__init__()
        if backbone is None:
            config = default_backbone()
        elif isinstance(backbone, dict):
            config = TitansConfig.from_dict(backbone)
        elif isinstance(backbone, TitansConfig):
            config = backbone
        else:
            raise TypeError(f"backbone must be a TitansConfig, a dict or None, got {type(backbone).__name__}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        check_int("warmup_steps", warmup_steps, 0)
        if lr_decay_patience is not None:
            check_int("lr_decay_patience", lr_decay_patience, 1)
        if not 0 < lr_decay_factor < 1:
            raise ValueError(f"lr_decay_factor must lie in (0, 1), got {lr_decay_factor!r}")
        # Checkpoints hold plain types only (loadable with torch.load(weights_only=True)).
        self.save_hyperparameters(ignore=["backbone"])
        self.hparams["backbone"] = config.to_dict()
        tokenizer = make_tokenizer(kmer)
        self.model = DNAClassifier(
            config,
            num_classes,
            vocab_size=tokenizer.vocab_size,
            complement=tokenizer.complement.tolist(),
            pooling=pooling,
            strands=strands,
            dropout=dropout,
            stem_kernel=stem_kernel,
            stem_layers=stem_layers,
            stem_stride=stem_stride,
        )
        metrics = MetricCollection(
            {
                "acc": MulticlassAccuracy(num_classes, average="micro"),
                "mcc": MulticlassMatthewsCorrCoef(num_classes),
            }
        )
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")
        self._reset_lr_decay()

    def _reset_lr_decay(self) -> None:
        self.lr_scale, self._best_val_loss, self._checks_without_gain = 1.0, math.inf, 0

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Logits ``[B, C]`` of one strand, as given."""
        return self.model(input_ids, attention_mask)

    def probabilities(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Class probabilities ``[B, C]``, averaged over both strands when ``rc_average``.

        The two strands go through two separate calls and are summed, so the result for a sequence and for
        its reverse complement is bitwise identical.
        """
        probs = self.model(input_ids, attention_mask).softmax(-1)
        if self.hparams.rc_average:
            rc_ids, rc_mask = self.model.reverse_complement(input_ids, attention_mask)
            probs = 0.5 * (probs + self.model(rc_ids, rc_mask).softmax(-1))
        return probs

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if self.hparams.rc_augment:
            ids, mask, _ = pack_right(ids, mask)
            rc_ids, _ = self.model.reverse_complement(ids, mask)
            flip = torch.rand(ids.shape[0], device=ids.device) < 0.5
            ids = torch.where(flip[:, None], rc_ids, ids)
        loss = F.cross_entropy(self.model(ids, mask), batch["labels"])
        self.log("train_loss", loss, prog_bar=True, batch_size=ids.shape[0])
        return loss

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection, prefix: str) -> None:
        probs = self.probabilities(batch["input_ids"], batch["attention_mask"])
        labels = batch["labels"]
        loss = F.nll_loss(probs.clamp_min(1e-12).log(), labels)
        metrics.update(probs, labels)
        size = labels.shape[0]
        self.log(f"{prefix}loss", loss, prog_bar=True, batch_size=size)
        self.log_dict(metrics, prog_bar=prefix == "val_", batch_size=size)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val_")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, "test_")

    def on_validation_end(self) -> None:
        # After every validation check, reading the same reduced (and synchronised) val_loss as EarlyStopping;
        # a standalone trainer.validate() leaves the schedule alone.
        patience = self.hparams.get("lr_decay_patience")
        loss = self.trainer.callback_metrics.get("val_loss")
        if patience is None or loss is None or self.trainer.sanity_checking or self.trainer.state.fn != "fit":
            return
        if float(loss) < self._best_val_loss:
            self._best_val_loss, self._checks_without_gain = float(loss), 0
            return
        self._checks_without_gain += 1
        if self._checks_without_gain >= patience:
            factor = self.hparams.lr_decay_factor
            self.lr_scale *= factor
            self._checks_without_gain = 0
            for optimizer in self.trainer.optimizers:  # at once, not from the next scheduler step
                for group in optimizer.param_groups:
                    group["lr"] *= factor

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self.probabilities(batch["input_ids"], batch["attention_mask"])

    def configure_optimizers(self) -> dict[str, Any]:
        # Weight decay on the matrices of dense layers only: not on norm gains, biases, embeddings, the class
        # token, nor the memory's initial weights (the starting point of test-time learning).
        decay, keep = [], []
        for name, param in self.model.named_parameters():
            is_matrix = param.dim() >= 2 and "embedding" not in name and "memory_init" not in name
            (decay if is_matrix else keep).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.hparams.weight_decay},
                {"params": keep, "weight_decay": 0.0},
            ],
            lr=self.hparams.learning_rate,
        )
        warmup = self.hparams.warmup_steps
        self._reset_lr_decay()  # a new optimizer (every fit) starts at the full rate
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: (min(1.0, (step + 1) / warmup) if warmup else 1.0) * self.lr_scale
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


__all__ = [
    "DNAClassifierSystem",
    "DNADataModule",
    "DEFAULT_MAX_TOKENS",
    "TokenBudgetBatches",
    "TokenizedSet",
    "make_tokenizer",
    "stratified_split",
]
