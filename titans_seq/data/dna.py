"""DNA alphabet, validation, tokenizers, reverse complement and the ``SequenceSet`` container.

Vocabulary (fixed, shared by both tokenizers; ids never depend on the data):

==========  =====================================================================
id          token
==========  =====================================================================
0           ``[PAD]`` (``PAD_ID``) padding; attention mask is False there
1           ``[CLS]`` (``CLS_ID``) optional first token, for pooling heads
2           ``[UNK]`` (``UNK_ID``) a k-mer holding ``N`` (the character tokenizer never emits it)
3..7        ``A C G T N`` (character tokenizer)
3..3+4^k-1  every ACGT k-mer in lexicographic order, ``AA..A`` = 3 (k-mer tokenizer)
==========  =====================================================================

Input policy: soft-masked (lowercase) bases are uppercased, as Caduceus does (HyenaDNA maps them to
unknown, which throws away repeat regions). Any other character is an error naming the character, the
sequence index and the position (``unknown="error"``, the default) or, with ``unknown="N"``, the IUPAC
ambiguity codes R, Y, S, W, K, M, B, D, H, V become ``N``; anything else is still an error.

File and benchmark readers live in :mod:`titans_seq.data.dna_sources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

PAD_ID = 0
CLS_ID = 1
UNK_ID = 2
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[CLS]", "[UNK]")
NUCLEOTIDES = "ACGTN"
IUPAC_AMBIGUITY = "RYSWKMBDHV"

UnknownPolicy = Literal["error", "N"]
Side = Literal["left", "right"]
ReturnTensors = Literal["np", "pt"]
Ids = TypeVar("Ids", np.ndarray, torch.Tensor)

_N_SPECIAL = len(SPECIAL_TOKENS)
_OUTSIDE_ALPHABET = re.compile(r"[^ACGTN]")
_IUPAC_TO_N = str.maketrans(dict.fromkeys(IUPAC_AMBIGUITY, "N"))
# Complement of every IUPAC code (ambiguity codes complement to the code of the complementary set), so
# reverse_complement works on raw text as well as on validated sequences. Case is preserved.
_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")
_OUTSIDE_IUPAC = re.compile(r"[^ACGTNRYSWKMBDHVacgtnryswkmbdhv]")
# Character-token complement: A<->T, C<->G, N->N; the specials map to themselves.
_CHAR_COMPLEMENT = np.array([PAD_ID, CLS_ID, UNK_ID, 6, 5, 4, 3, 7])


def _check_choice(parameter: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{parameter} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _where(index: int, names: Sequence[str] | None) -> str:
    return f"sequence {index}" + (f" ({names[index]!r})" if names is not None else "")


# -------------------------------------------------------------------------------- validation


def validate_sequences(
    sequences: Iterable[str], *, unknown: UnknownPolicy = "error", names: Sequence[str] | None = None
) -> list[str]:
    """Check DNA strings and return them normalised to uppercase ``A, C, G, T, N``.

    Parameters
    ----------
    sequences : iterable of str
        A list, tuple, numpy array or pandas Series of strings (a Series is read by position).
    unknown : {"error", "N"}
        What to do with IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V): raise, or map them to ``N``.
        Characters that are not IUPAC codes raise in both cases.
    names : sequence of str, optional
        Names quoted in error messages next to the sequence index.

    Returns
    -------
    list of str
        The uppercased sequences (same order, same lengths).

    Raises
    ------
    ValueError
        A sequence is missing (None/NaN) or empty (message names its index), or holds a character outside
        the alphabet (message names the character, the sequence index and the 0-based position).
    TypeError
        ``sequences`` is a single string, or an item is not a string.

    Examples
    --------
    >>> validate_sequences(["acgtN", "GATTACA"])
    ['ACGTN', 'GATTACA']
    >>> validate_sequences(["ACRT"], unknown="N")
    ['ACNT']
    """
    _check_choice("unknown", unknown, ("error", "N"))
    if isinstance(sequences, (str, bytes)):
        raise TypeError("sequences must be a collection of strings, not a single string: wrap it as [seq]")
    out: list[str] = []
    for i, seq in enumerate(sequences):
        if seq is None or (isinstance(seq, float) and seq != seq):
            raise ValueError(f"{_where(i, names)} is missing (got {seq!r})")
        if not isinstance(seq, str):
            raise TypeError(f"{_where(i, names)} is a {type(seq).__name__} ({seq!r}); expected str")
        if not seq:
            raise ValueError(f"{_where(i, names)} is empty")
        if not seq.isascii():
            # str.upper() can change the length of non-ASCII text (e.g. 'ß' -> 'SS'): report it first.
            pos = next(j for j, ch in enumerate(seq) if ord(ch) > 127)
            _raise_outside(seq, i, pos, names)
        upper = seq.upper()
        if unknown == "N":
            upper = upper.translate(_IUPAC_TO_N)
        bad = _OUTSIDE_ALPHABET.search(upper)
        if bad is not None:
            _raise_outside(seq, i, bad.start(), names)
        out.append(upper)
    return out


def _raise_outside(seq: str, index: int, pos: int, names: Sequence[str] | None) -> None:
    char = seq[pos]
    hint = " (pass unknown='N' to map IUPAC ambiguity codes to N)" if char.upper() in IUPAC_AMBIGUITY else ""
    raise ValueError(
        f"{_where(index, names)} has character {char!r} at position {pos}, outside the alphabet "
        f"A, C, G, T, N (lowercase accepted){hint}"
    )


def validate_labels(labels: Iterable, n_sequences: int | None = None, *, min_classes: int = 2) -> np.ndarray:
    """Check class labels and return them as a 1-D numpy array.

    Parameters
    ----------
    labels : array-like, shape [N]
        Class labels (ints or strings).
    n_sequences : int, optional
        Number of sequences the labels belong to; a different length raises.
    min_classes : int
        Smallest number of distinct labels accepted (2 for training a classifier; 1 to accept any).

    Raises
    ------
    ValueError
        Labels not 1-D, a length different from ``n_sequences``, a missing label (None/NaN, message names
        its index), or fewer than ``min_classes`` distinct labels (message names the single class).
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if n_sequences is not None and len(y) != n_sequences:
        raise ValueError(f"got {n_sequences} sequences but {len(y)} labels; they must have the same length")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"label {int(np.flatnonzero(np.isnan(y))[0])} is missing (NaN)")
    if y.dtype == object:
        for i, value in enumerate(y):
            if value is None or (isinstance(value, float) and value != value):
                raise ValueError(f"label {i} is missing (got {value!r})")
    classes = np.unique(y)
    if len(classes) < min_classes:
        found = "no labels" if len(classes) == 0 else f"a single class ({classes[0].item()!r})"
        raise ValueError(f"labels hold {found}; at least {min_classes} classes are needed")
    return y


def check_classification_data(
    sequences: Iterable[str], labels: Iterable, *, unknown: UnknownPolicy = "error"
) -> tuple[list[str], np.ndarray]:
    """Validate training data for a sequence classifier, cheapest checks first, before any work.

    Order: equal lengths of ``sequences`` and ``labels``, then at least two classes, then every sequence
    (see :func:`validate_sequences`). Returns the normalised sequences and the labels array.
    """
    if isinstance(sequences, (str, bytes)):
        raise TypeError("sequences must be a collection of strings, not a single string: wrap it as [seq]")
    seqs = list(sequences)
    y = validate_labels(labels, len(seqs), min_classes=2)
    return validate_sequences(seqs, unknown=unknown), y


# ------------------------------------------------------------------------ reverse complement


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA string, keeping case: ``a<->t``, ``c<->g``, ``N->N``.

    IUPAC ambiguity codes are complemented too (``R<->Y``, ``K<->M``, ``B<->V``, ``D<->H``; S, W, N map
    to themselves), so this is an involution on any IUPAC text. Other characters raise ``ValueError``.

    Examples
    --------
    >>> reverse_complement("AACgtN")
    'NacGTT'
    """
    bad = _OUTSIDE_IUPAC.search(sequence)
    if bad is not None:
        raise ValueError(f"cannot complement character {sequence[bad.start()]!r} at position {bad.start()}")
    return sequence.translate(_COMPLEMENT)[::-1]


def _reverse_complement_ids(ids: Ids, table: np.ndarray) -> Ids:
    """Reverse the content tokens of each row (everything but PAD and CLS) and complement them.

    PAD and CLS keep their positions, so left/right padding stays on its side and a leading CLS stays
    first. Content is reversed among the content slots, which also covers rows whose padding is not
    contiguous. ``ids`` is ``[L]`` or ``[B, L]``; the output has the same type, shape, dtype and device.
    """
    vocab = len(table)
    if isinstance(ids, torch.Tensor):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
            raise ValueError(
                f"token ids must lie in [0, {vocab}); got values in [{int(ids.min())}, {int(ids.max())}]"
            )
        x = ids.unsqueeze(0) if ids.dim() == 1 else ids
        lut = torch.as_tensor(table, dtype=x.dtype, device=x.device)
        content = (x != PAD_ID) & (x != CLS_ID)
        order = torch.argsort((~content).to(torch.int8), dim=1, stable=True)  # content positions first
        rank = content.long().cumsum(1) - 1
        src_rank = torch.where(content, content.sum(1, keepdim=True) - 1 - rank, torch.zeros_like(rank))
        out = torch.where(content, lut[x.gather(1, order.gather(1, src_rank)).long()], x)
        return out.squeeze(0) if ids.dim() == 1 else out
    arr = np.asarray(ids)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab):
        raise ValueError(f"token ids must lie in [0, {vocab}); got values in [{arr.min()}, {arr.max()}]")
    x = arr[None] if arr.ndim == 1 else arr
    content = (x != PAD_ID) & (x != CLS_ID)
    order = np.argsort(~content, axis=1, kind="stable")
    rank = np.cumsum(content, axis=1) - 1
    src_rank = np.where(content, content.sum(1, keepdims=True) - 1 - rank, 0)
    src = np.take_along_axis(order, src_rank, axis=1)
    out = np.where(content, table[np.take_along_axis(x, src, axis=1)], x).astype(arr.dtype, copy=False)
    return out[0] if arr.ndim == 1 else out


# -------------------------------------------------------------------------------- tokenizers


@dataclass(frozen=True)
class EncodedBatch:
    """Token ids and attention mask of a batch, both ``[B, L]``.

    ``input_ids`` are int64; ``attention_mask`` is bool, True on real tokens (CLS included) and False on
    padding. Both are numpy arrays or torch tensors, as requested with ``return_tensors``.
    """

    input_ids: np.ndarray | torch.Tensor
    attention_mask: np.ndarray | torch.Tensor


class _Tokenizer:
    """Shared batching, padding/truncation, decoding and reverse complement of the two tokenizers."""

    def __init__(self, tokens: list[str], complement: np.ndarray, unknown: UnknownPolicy) -> None:
        _check_choice("unknown", unknown, ("error", "N"))
        self.unknown = unknown
        self._tokens = tokens
        self._complement = complement

    @property
    def vocab(self) -> dict[str, int]:
        """Token -> id (specials first, see the module docstring)."""
        return {tok: i for i, tok in enumerate(self._tokens)}

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    @property
    def complement(self) -> np.ndarray:
        """``[vocab_size]`` int64: the id of each token's reverse complement (specials map to themselves).

        What a model needs to reverse-complement ids on its own (reverse the content, then look up this
        table) without depending on the tokenizer, e.g. :class:`titans_seq.adapters.dna.DNAClassifier`.
        """
        return self._complement.astype(np.int64, copy=True)

    def _content_ids(self, seq: str, index: int) -> np.ndarray:
        raise NotImplementedError

    def encode(self, sequence: str, *, add_cls: bool = False) -> np.ndarray:
        """Ids of one sequence, ``[L]`` int64, without padding or truncation."""
        (seq,) = validate_sequences([sequence], unknown=self.unknown)
        ids = self._content_ids(seq, 0)
        return np.concatenate([[CLS_ID], ids]).astype(np.int64) if add_cls else ids

    def encode_flat(self, sequences: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of many sequences of any lengths, without padding: ``(ids [sum of lengths], lengths [N])``.

        Row ``i`` is ``ids[offsets[i]:offsets[i + 1]]`` with ``offsets = [0, *cumsum(lengths)]``. Memory is
        the total number of tokens (int16 up to 6-mers, else int32), however unequal the lengths: what a
        set holding one 1 Mb region among thousands of 200-bp ones needs, where a padded ``[N, L_max]``
        array would not fit.
        """
        seqs = validate_sequences(sequences, unknown=self.unknown)
        if not seqs:
            raise ValueError("sequences is empty: nothing to tokenize")
        dtype = np.int16 if self.vocab_size <= np.iinfo(np.int16).max + 1 else np.int32
        rows = [self._content_ids(seq, i).astype(dtype) for i, seq in enumerate(seqs)]
        return np.concatenate(rows), np.array([len(r) for r in rows], dtype=np.int64)

    def encode_batch(
        self,
        sequences: Iterable[str],
        *,
        max_length: int | None = None,
        padding_side: Side = "right",
        truncation_side: Side = "right",
        add_cls: bool = False,
        return_tensors: ReturnTensors = "np",
    ) -> EncodedBatch:
        """Tokenize, truncate and pad a batch of sequences.

        Parameters
        ----------
        sequences : iterable of str
            DNA strings (validated with this tokenizer's ``unknown`` policy).
        max_length : int, optional
            Total length ``L`` of every row, CLS included: longer rows are truncated, shorter ones padded.
            ``None`` pads to the longest row and never truncates.
        padding_side : {"left", "right"}
            Where PAD tokens go.
        truncation_side : {"left", "right"}
            Which end is cut: "right" keeps the start of the sequence, "left" keeps its end. CLS is never cut.
        add_cls : bool
            Put a ``[CLS]`` token before each sequence's first token.
        return_tensors : {"np", "pt"}
            numpy arrays or torch tensors.

        Returns
        -------
        EncodedBatch
            ``input_ids`` ``[B, L]`` int64 and ``attention_mask`` ``[B, L]`` bool.
        """
        _check_choice("padding_side", padding_side, ("left", "right"))
        _check_choice("truncation_side", truncation_side, ("left", "right"))
        _check_choice("return_tensors", return_tensors, ("np", "pt"))
        n_special = int(add_cls)
        if max_length is not None and (not isinstance(max_length, int) or max_length < n_special + 1):
            raise ValueError(
                f"max_length must be an integer >= {n_special + 1} (room for one token"
                f"{' after CLS' if add_cls else ''}); got {max_length!r}"
            )
        seqs = validate_sequences(sequences, unknown=self.unknown)
        if not seqs:
            raise ValueError("sequences is empty: nothing to tokenize")
        rows = [self._content_ids(seq, i) for i, seq in enumerate(seqs)]
        if max_length is not None:
            budget = max_length - n_special
            rows = [
                r if len(r) <= budget else (r[:budget] if truncation_side == "right" else r[-budget:])
                for r in rows
            ]
            width = max_length
        else:
            width = max(len(r) for r in rows) + n_special
        input_ids = np.full((len(rows), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=bool)
        for i, r in enumerate(rows):
            row = np.concatenate([[CLS_ID], r]) if add_cls else r
            span = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
            input_ids[i, span] = row
            mask[i, span] = True
        if return_tensors == "pt":
            return EncodedBatch(torch.from_numpy(input_ids), torch.from_numpy(mask))
        return EncodedBatch(input_ids, mask)

    __call__ = encode_batch

    def convert_ids_to_tokens(self, ids: Iterable[int] | np.ndarray | torch.Tensor) -> list[str]:
        """Token strings of a 1-D id sequence (PAD and CLS included, as ``[PAD]``/``[CLS]``)."""
        flat = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids).reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}); got {flat.min()}..{flat.max()}")
        return [self._tokens[i] for i in flat.tolist()]

    def batch_decode(self, ids: np.ndarray | torch.Tensor) -> list[str]:
        """Decode every row of a ``[B, L]`` id array (see ``decode``)."""
        arr = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids)
        if arr.ndim != 2:
            raise ValueError(f"batch_decode expects [B, L] ids, got shape {arr.shape}")
        return [self.decode(row) for row in arr]

    def decode(self, ids: Iterable[int] | np.ndarray | torch.Tensor) -> str:
        raise NotImplementedError

    def reverse_complement_ids(self, ids: Ids) -> Ids:
        """Token ids of the reverse-complement strand, ``[L]`` or ``[B, L]`` (numpy or torch, any device).

        Content tokens are reversed and complemented; PAD and CLS stay where they are, so padding stays on
        its side. An involution: applying it twice returns the input.
        """
        return _reverse_complement_ids(ids, self._complement)


class CharTokenizer(_Tokenizer):
    """One token per base: ``A C G T N`` -> 3..7, after the specials ``[PAD] [CLS] [UNK]`` (0, 1, 2).

    Parameters
    ----------
    unknown : {"error", "N"}
        Policy for IUPAC ambiguity codes, see :func:`validate_sequences`.

    Examples
    --------
    >>> tok = CharTokenizer()
    >>> batch = tok(["ACGT", "gg"], max_length=3, padding_side="left")
    >>> batch.input_ids.tolist(), batch.attention_mask.tolist()
    ([[3, 4, 5], [0, 5, 5]], [[True, True, True], [False, True, True]])
    >>> tok.decode(batch.input_ids[1])
    'GG'
    """

    def __init__(self, *, unknown: UnknownPolicy = "error") -> None:
        super().__init__([*SPECIAL_TOKENS, *NUCLEOTIDES], _CHAR_COMPLEMENT, unknown)
        self._lut = np.full(256, -1, dtype=np.int64)
        for i, base in enumerate(NUCLEOTIDES):
            self._lut[ord(base)] = _N_SPECIAL + i

    def _content_ids(self, seq: str, index: int) -> np.ndarray:
        return self._lut[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]

    def decode(self, ids: Iterable[int] | np.ndarray | torch.Tensor) -> str:
        """The sequence of a 1-D id array; PAD and CLS are skipped (UNK, never emitted here, reads ``N``)."""
        return "".join(
            "N" if tok == "[UNK]" else tok
            for tok in self.convert_ids_to_tokens(ids)
            if tok not in ("[PAD]", "[CLS]")
        )


def reverse_complement_ids(ids: Ids) -> Ids:
    """Reverse complement of character-token ids (:class:`CharTokenizer` vocabulary), ``[L]`` or ``[B, L]``.

    Same as ``CharTokenizer().reverse_complement_ids(ids)``: content tokens are reversed and complemented,
    PAD and CLS keep their positions (padding stays on its side). Works on numpy arrays and torch tensors
    on any device, e.g. for reverse-complement augmentation of a batch.

    Examples
    --------
    >>> reverse_complement_ids(np.array([1, 3, 3, 4, 0])).tolist()  # [CLS] A A C [PAD]
    [1, 5, 6, 6, 0]
    """
    return _reverse_complement_ids(ids, _CHAR_COMPLEMENT)


class KmerTokenizer(_Tokenizer):
    """DNABERT-style k-mer tokens: windows of ``k`` bases every ``stride`` bases.

    Vocabulary: the specials (0, 1, 2), then all ``4**k`` ACGT k-mers in lexicographic order
    (``'A'*k`` = 3). A k-mer containing ``N`` maps to ``[UNK]`` (2). A sequence of length ``n`` gives
    ``(n - k) // stride + 1`` tokens; with ``stride > 1`` the trailing ``(n - k) % stride`` bases that do not
    fill a window are dropped. A sequence shorter than ``k`` raises ``ValueError``.
    ``reverse_complement_ids`` reverses the windows and maps each k-mer to its reverse complement: it equals
    the ids of the reverse-complement sequence whenever no base was dropped (always for ``stride=1``).

    Parameters
    ----------
    k : int
        k-mer size, 1 to 10 (the vocabulary grows as ``4**k``).
    stride : int
        Step between window starts: 1 = overlapping (DNABERT), ``k`` = non-overlapping.
    unknown : {"error", "N"}
        Policy for IUPAC ambiguity codes, see :func:`validate_sequences`.

    Examples
    --------
    >>> tok = KmerTokenizer(k=3)
    >>> ids = tok.encode("ACGTA")
    >>> tok.convert_ids_to_tokens(ids), tok.decode(ids)
    (['ACG', 'CGT', 'GTA'], 'ACGTA')
    """

    def __init__(self, k: int = 3, *, stride: int = 1, unknown: UnknownPolicy = "error") -> None:
        if not isinstance(k, int) or not 1 <= k <= 10:
            raise ValueError(f"k must be an integer in [1, 10]; got {k!r}")
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a positive integer; got {stride!r}")
        self.k = k
        self.stride = stride
        codes = np.indices((4,) * k).reshape(k, -1).T  # [4^k, k] base-4 digits, lexicographic
        kmers = ["".join("ACGT"[d] for d in row) for row in codes]
        # Reverse complement of k-mer digits d_0..d_{k-1}: complement is 3 - d (A<->T, C<->G), then reverse.
        rc_value = ((3 - codes[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(1)
        complement = np.concatenate([np.arange(_N_SPECIAL), rc_value + _N_SPECIAL])
        super().__init__([*SPECIAL_TOKENS, *kmers], complement, unknown)
        self._powers = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
        self._code = np.full(256, 4, dtype=np.int64)  # validated input only holds ACGTN; N -> 4
        for i, base in enumerate("ACGT"):
            self._code[ord(base)] = i

    def _content_ids(self, seq: str, index: int) -> np.ndarray:
        if len(seq) < self.k:
            raise ValueError(f"sequence {index} has length {len(seq)}, shorter than k={self.k}")
        codes = self._code[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
        windows = sliding_window_view(codes, self.k)[:: self.stride]  # [n_tokens, k]
        values = (np.minimum(windows, 3) * self._powers).sum(1) + _N_SPECIAL
        return np.where((windows == 4).any(1), UNK_ID, values).astype(np.int64)

    def decode(self, ids: Iterable[int] | np.ndarray | torch.Tensor) -> str:
        """Reassemble the sequence from a 1-D id array of windows (PAD and CLS skipped).

        Window ``j`` covers bases ``[j*stride, j*stride + k)``. Bases covered only by ``[UNK]`` windows read
        ``N`` (so a base next to an ``N`` may come back as ``N``: decoding is exact for ACGT input). Needs
        ``stride <= k``; otherwise some bases are never seen (use ``convert_ids_to_tokens``).
        """
        if self.stride > self.k:
            raise ValueError(f"cannot reassemble a sequence when stride ({self.stride}) > k ({self.k})")
        tokens = [t for t in self.convert_ids_to_tokens(ids) if t not in ("[PAD]", "[CLS]")]
        if not tokens:
            return ""
        out = ["N"] * ((len(tokens) - 1) * self.stride + self.k)
        for j, tok in enumerate(tokens):
            if tok != "[UNK]":
                out[j * self.stride : j * self.stride + self.k] = tok
        return "".join(out)


# --------------------------------------------------------------------------------- container


@dataclass(frozen=True)
class SequenceSet:
    """DNA sequences with optional labels: what every source in :mod:`titans_seq.data.dna_sources` returns.

    On construction sequences are validated and uppercased (strict alphabet ``A, C, G, T, N``: apply
    ``unknown="N"`` first with :meth:`from_sequences` to accept IUPAC codes), lengths are checked and
    ``classes`` is set to the sorted distinct labels unless given.

    Attributes
    ----------
    sequences : list of str
        ``N`` uppercase DNA strings.
    labels : np.ndarray or None
        ``[N]`` raw labels (ints or class names), or None for unlabeled data.
    names : list of str
        ``N`` identifiers (interval names, file row numbers, ...); default ``"0", "1", ...``.
    classes : np.ndarray or None
        Sorted label vocabulary (a superset of the labels present); None when unlabeled.
    """

    sequences: list[str]
    labels: np.ndarray | None = None
    names: list[str] | None = None
    classes: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        seqs = list(self.sequences)
        names = [str(i) for i in range(len(seqs))] if self.names is None else [str(n) for n in self.names]
        if len(names) != len(seqs):
            raise ValueError(f"got {len(seqs)} sequences but {len(names)} names")
        object.__setattr__(self, "names", names)
        labels = self.labels
        if labels is not None:
            labels = validate_labels(labels, len(seqs), min_classes=1 if seqs else 0)
            if self.classes is None:
                classes = np.unique(labels)
            else:
                classes = np.asarray(self.classes)
                if classes.ndim != 1 or len(classes) == 0 or np.any(np.unique(classes) != classes):
                    raise ValueError(f"classes must be sorted, distinct and non-empty; got {classes!r}")
                unknown = np.setdiff1d(labels, classes)
                if len(unknown):
                    raise ValueError(f"label {unknown[0].item()!r} is not in classes {classes.tolist()}")
            object.__setattr__(self, "labels", labels)
            object.__setattr__(self, "classes", classes)
        elif self.classes is not None:
            raise ValueError("classes given without labels")
        object.__setattr__(self, "sequences", validate_sequences(seqs, names=names))

    @classmethod
    def from_sequences(
        cls,
        sequences: Iterable[str],
        labels: Iterable | None = None,
        names: Iterable[str] | None = None,
        *,
        unknown: UnknownPolicy = "error",
    ) -> SequenceSet:
        """Build a set from in-memory data: lists, numpy arrays or pandas Series.

        ``unknown="N"`` maps IUPAC ambiguity codes to N; lowercase is always uppercased.
        """
        if isinstance(sequences, (str, bytes)):
            raise TypeError(
                "sequences must be a collection of strings, not a single string: wrap it as [seq]"
            )
        names_list = None if names is None else [str(n) for n in names]
        seqs = validate_sequences(list(sequences), unknown=unknown, names=names_list)
        y = None if labels is None else np.asarray(labels)
        return cls(seqs, y, names_list)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def label_ids(self) -> np.ndarray:
        """Labels as int64 positions in ``classes`` (``[N]``); what a classification loss consumes."""
        if self.labels is None or self.classes is None:
            raise ValueError("this SequenceSet has no labels")
        return np.searchsorted(self.classes, self.labels).astype(np.int64)

    def take(self, indices: Sequence[int] | np.ndarray) -> SequenceSet:
        """Rows ``indices`` (e.g. a validation split carved from train), keeping the full ``classes``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return SequenceSet(
            [self.sequences[i] for i in idx],
            None if self.labels is None else self.labels[idx],
            [self.names[i] for i in idx],  # type: ignore[index]
            self.classes,
        )


__all__ = [
    "CLS_ID",
    "IUPAC_AMBIGUITY",
    "NUCLEOTIDES",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "CharTokenizer",
    "EncodedBatch",
    "KmerTokenizer",
    "SequenceSet",
    "check_classification_data",
    "reverse_complement",
    "reverse_complement_ids",
    "validate_labels",
    "validate_sequences",
]
