"""DNA classification adapter: nucleotide embedding -> Titans backbone -> pooling -> class head.

Shapes: ``input_ids [B, L]`` int64 token ids and ``attention_mask [B, L]`` bool (True on real tokens)
-> ``logits [B, C]``.

The backbone is causal: the memory reads with the weights after each token's own write and its convolution
looks only back, so the output at position ``t`` never depends on later positions. This fixes three choices:

- **Padding goes right.** Each row's real tokens are moved to the front first (any padding layout is
  accepted), so padding only ever follows the real tokens and cannot change their outputs; pooling then
  reads real positions only. Left padding would feed the padding into the memory before the sequence.
- **Pooling** ``"mean"`` averages the outputs of the real tokens; ``"max"`` takes their channel-wise maximum
  (a motif detector: a feature that fires at one place is not diluted by the length); ``"last"`` reads the
  last real token, the only one that has seen the whole sequence; ``"cls"`` appends a learned class token
  *after* the last real token and reads it (a class token in front, as in BERT, would see nothing in a
  causal model).
- **A convolutional stem** (``stem_kernel > 0``) can sit between the embedding and the backbone:
  ``stem_layers`` causal convolutions over ``stem_kernel`` tokens each (a learned motif scanner, left-padded
  so a position sees only itself and the tokens before it) and, with ``stem_stride > 1``, a max over
  non-overlapping groups of that many positions. The backbone then reads one token per group:
  ``stem_stride`` times fewer tokens for the memory to mix, each already describing a local motif (the
  convolution-then-sequence-model layout of Basenji/Enformer-style genomics models). Groups made only of
  padding become padding; a group that holds the last real base takes the maximum over its real positions
  only.
- **Both strands** (``strands="both"``) runs the same backbone on the sequence and on its reverse
  complement and averages the pooled features: the score is then exactly invariant to the strand, and the
  reverse strand read left to right is the forward strand read right to left, so every base also gets
  context from its right (the two-strand, shared-weight "conjoined" model; Caduceus' post-hoc conjoining
  does the same at the output).
- **Any length.** A row longer than ``piece_tokens`` backbone tokens is streamed through the stem and the
  backbone in pieces of that many tokens, the backbone state carried from piece to piece and the pooling
  folded as it goes. Since the backbone's state continues its stream exactly and each stem piece is computed
  with the bases its convolutions reach back to, this equals one pass over the whole row. Without gradients
  (prediction), memory is then bounded by the piece and not by the length; time is linear in the length.

This module knows nothing of tokenizers, losses or optimizers: the token ids of the reverse complement come
from a ``complement`` table given by the caller (``CharTokenizer().complement``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from titans_seq._checks import check_int
from titans_seq.models import MemoryConfig, TitansBackbone, TitansConfig

POOLINGS = ("mean", "max", "last", "cls")
# Backbone tokens per streamed piece when a row is longer: long enough that the per-piece overhead is small,
# short enough that a batch of pieces stays small in memory; a multiple of every chunk size we ship
DEFAULT_PIECE_TOKENS = 4096
STRANDS = ("forward", "both")


def default_backbone() -> TitansConfig:
    """The backbone used when none is given: the memory alone (``lmm``), as the paper does for DNA.

    One block of width 64 with a linear memory (depth 1), 4 heads, chunks of 16 tokens. On the GUE valid
    splits one block beat two and the linear memory is the fastest on CPU (``benchmarks/dna_gue.py``).
    ``MemoryConfig(depth=2)`` gives the deep memory.
    """
    return TitansConfig(
        variant="lmm",
        dim=64,
        depth=1,
        ffn_expansion=2.0,
        memory=MemoryConfig(heads=4, chunk_size=16, depth=1),
    )


def check_stem(stem_kernel: int, stem_layers: int, stem_stride: int) -> None:
    """Raise ``ValueError`` naming the stem setting that is not allowed (integers, kernel >= 0, layers and
    stride >= 1, a stride only with a stem)."""
    check_int("stem_kernel", stem_kernel, 0, types=numbers.Integral)
    check_int("stem_layers", stem_layers, 1, types=numbers.Integral)
    check_int("stem_stride", stem_stride, 1, types=numbers.Integral)
    if stem_stride > 1 and stem_kernel == 0:
        raise ValueError(f"stem_stride={stem_stride} needs a convolutional stem (stem_kernel > 0)")


def pack_right(input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Move each row's real tokens to the front, keeping their order, so that padding is on the right.

    Parameters
    ----------
    input_ids : Tensor
        ``[B, L]`` int64.
    attention_mask : Tensor
        ``[B, L]`` bool, True on real tokens (any layout: left, right or scattered padding).

    Returns
    -------
    ids : Tensor
        ``[B, L]``, real tokens first (padding slots keep some padding id of the row).
    mask : Tensor
        ``[B, L]`` bool, ``mask[b, t] = t < lengths[b]``.
    lengths : Tensor
        ``[B]`` int64, number of real tokens per row.
    """
    lengths = attention_mask.sum(1)
    mask = torch.arange(input_ids.shape[1], device=input_ids.device) < lengths[:, None]
    if bool((mask == attention_mask).all()):
        return input_ids, mask, lengths  # already right-padded (what the data module produces)
    order = torch.argsort((~attention_mask).to(torch.int8), dim=1, stable=True)
    return input_ids.gather(1, order), mask, lengths


class DNAClassifier(nn.Module):
    """Token embedding, a :class:`~titans_seq.models.TitansBackbone`, masked pooling and a linear head.

    Parameters
    ----------
    backbone : TitansConfig
        The sequence model (``variant="lmm"`` is the paper's choice for DNA). Its ``dim`` is the embedding
        width.
    num_classes : int
        Number of classes ``C`` (>= 2).
    vocab_size : int
        Number of token ids (8 for :class:`~titans_seq.data.dna.CharTokenizer`).
    complement : sequence of int, optional
        ``[vocab_size]``: the id of each token's reverse complement (a tokenizer's ``complement``); needed
        for ``strands="both"`` and :meth:`reverse_complement`.
    pooling : {"mean", "max", "last", "cls"}
        How the ``[B, L, dim]`` outputs become one vector per sequence (see the module docstring).
    strands : {"forward", "both"}
        ``"both"``: average the pooled features of the sequence and of its reverse complement (exactly
        strand-invariant logits, twice the compute).
    dropout : float
        Dropout on the pooled features, before the head.
    stem_kernel : int
        Width of the causal convolutions of the stem, in tokens; 0 (default): no stem, tokens are embedded
        straight into the backbone.
    stem_layers : int
        Number of stacked stem convolutions (each followed by a GELU).
    stem_stride : int
        Max-pool the stem's output over groups of this many positions (1 = keep the resolution). Needs
        ``stem_kernel > 0``.
    piece_tokens : int
        Backbone tokens per streamed piece (see the module docstring); not a weight, so it may be changed on
        a trained model. A multiple of the memory's chunk size wastes no partial chunks.

    Examples
    --------
    >>> from titans_seq.data.dna import CharTokenizer
    >>> tok = CharTokenizer()
    >>> model = DNAClassifier(default_backbone(), 2, vocab_size=tok.vocab_size, complement=tok.complement)
    >>> batch = tok(["ACGTAC", "GGA"], return_tensors="pt")
    >>> model(batch.input_ids, batch.attention_mask).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        backbone: TitansConfig,
        num_classes: int,
        *,
        vocab_size: int,
        complement: Sequence[int] | None = None,
        pooling: str = "mean",
        strands: str = "forward",
        dropout: float = 0.0,
        stem_kernel: int = 0,
        stem_layers: int = 1,
        stem_stride: int = 1,
        piece_tokens: int = DEFAULT_PIECE_TOKENS,
    ) -> None:
        super().__init__()
        if not isinstance(backbone, TitansConfig):
            raise TypeError(f"backbone must be a TitansConfig, got {type(backbone).__name__}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
        if strands not in STRANDS:
            raise ValueError(f"strands must be one of {list(STRANDS)}, got {strands!r}")
        check_stem(stem_kernel, stem_layers, stem_stride)
        check_int("piece_tokens", piece_tokens, 1, types=numbers.Integral)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        if complement is not None:
            table = torch.as_tensor(list(complement), dtype=torch.long)
            if table.shape != (vocab_size,) or int(table.min()) < 0 or int(table.max()) >= vocab_size:
                raise ValueError(
                    f"complement must hold {vocab_size} token ids in [0, {vocab_size}), "
                    f"got {list(complement)}"
                )
            if not torch.equal(table[table], torch.arange(vocab_size)):
                raise ValueError("complement must be an involution: complement[complement[i]] == i")
        elif strands == "both":
            raise ValueError("strands='both' needs the complement table of the tokenizer (complement=...)")
        self.pooling, self.strands, self.num_classes = pooling, strands, num_classes
        self.embedding = nn.Embedding(vocab_size, backbone.dim)
        self.stem_stride, self.piece_tokens = stem_stride, int(piece_tokens)
        # Left padding is applied in _tokens (causal); no padding inside the convolution.
        dim = backbone.dim
        self.stem = (
            nn.ModuleList(nn.Conv1d(dim, dim, stem_kernel) for _ in range(stem_layers))
            if stem_kernel
            else None
        )
        self.backbone = TitansBackbone(backbone)
        # Appended after the last real token (causal model: see the module docstring).
        self.cls = nn.Parameter(torch.randn(backbone.dim) * 0.02) if pooling == "cls" else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.dim, num_classes)
        # Not a learned weight and fixed by the tokenizer: kept out of the state dict.
        self.register_buffer("complement", None if complement is None else table, persistent=False)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """``input_ids [B, L]``, ``attention_mask [B, L]`` (default: all real) -> ``logits [B, C]``."""
        return self.head(self.dropout(self.features(input_ids, attention_mask)))

    def features(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """The pooled features the head reads, ``[B, dim]`` (both strands averaged if ``strands="both"``)."""
        ids, mask = self._checked(input_ids, attention_mask)
        ids, mask, lengths = pack_right(ids, mask)
        pooled = self._encode(ids, mask, lengths)
        if self.strands == "both":
            # Two calls, not one batch of 2B rows: the strand sum is then bitwise the same for a sequence
            # and for its reverse complement (x + y == y + x), whatever the batched kernels do.
            pooled = 0.5 * (pooled + self._encode(self._reverse(ids, lengths), mask, lengths))
        return pooled

    def reverse_complement(self, input_ids: Tensor, attention_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Token ids of the reverse-complement strand, right-padded: ``([B, L] ids, [B, L] mask)``.

        Equal to tokenizing the reverse-complement strings (right padding), for any padding layout of the
        input. Needs ``complement``.
        """
        if self.complement is None:
            raise ValueError("reverse_complement needs the complement table (complement=...)")
        ids, mask = self._checked(input_ids, attention_mask)
        ids, mask, lengths = pack_right(ids, mask)
        return self._reverse(ids, lengths), mask

    # ------------------------------------------------------------------------------------ internals
    def _checked(self, input_ids: Tensor, attention_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.dtype != torch.long:
            got = (
                f"{tuple(input_ids.shape)} {input_ids.dtype}" if isinstance(input_ids, Tensor) else input_ids
            )
            raise ValueError(f"input_ids must be a [B, L] int64 tensor, got {got}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
        elif attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask {tuple(attention_mask.shape)} must match input_ids {tuple(input_ids.shape)}"
            )
        attention_mask = attention_mask.bool()
        empty = ~attention_mask.any(1)
        if bool(empty.any()):
            raise ValueError(f"row {int(empty.nonzero()[0])} of attention_mask has no real token")
        return input_ids, attention_mask

    def _reverse(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Reverse complement of right-packed ids: position ``t < len`` takes ``comp(ids[len - 1 - t])``."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        source = lengths[:, None] - 1 - positions
        inside = source >= 0
        flipped = self.complement[ids.gather(1, source.clamp(min=0))]
        return torch.where(inside, flipped, ids)

    def _encode(self, ids: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        """Right-packed ids ``[B, L]`` -> pooled ``[B, dim]``, streamed ``piece_tokens`` backbone tokens at a
        time with the backbone state carried (equal to one pass; see the module docstring)."""
        stride = self.stem_stride if self.stem is not None else 1
        n_tokens = -(-ids.shape[1] // stride)  # backbone tokens of the longest row (before a class token)
        token_lengths = torch.div(lengths + stride - 1, stride, rounding_mode="floor")
        total = n_tokens + (self.pooling == "cls")
        rows = torch.arange(ids.shape[0], device=ids.device)
        state, pooled = None, None
        for start in range(0, total, self.piece_tokens):
            end = min(start + self.piece_tokens, total)
            x = self._tokens(ids, mask, start, min(end, n_tokens))  # [B, <= end - start, D]
            positions = torch.arange(start, end, device=ids.device)
            if self.pooling == "cls":
                if end > n_tokens:  # the slot after the longest row's last token
                    x = torch.cat([x, x.new_zeros(x.shape[0], 1, x.shape[2])], dim=1)
                here = positions[None, :] == token_lengths[:, None]  # [B, T]: the class token's slot
                x = torch.where(here[:, :, None], self.cls.to(x.dtype), x)
            y, state = self.backbone(x, state)  # [B, T, D]
            real = positions[None, :] < token_lengths[:, None]  # [B, T]
            pooled = self._pool(y, real, positions, token_lengths, rows, pooled)
        if self.pooling == "mean":
            return pooled / token_lengths.to(pooled.dtype)[:, None]
        return pooled

    def _pool(
        self, y: Tensor, real: Tensor, positions: Tensor, token_lengths: Tensor, rows: Tensor, pooled
    ) -> Tensor:
        """Fold one piece's outputs ``y [B, T, D]`` into the running pooled features (sum for ``"mean"``)."""
        if self.pooling == "mean":
            # masked_fill, not a product: outputs at padding must not leak in, even as NaN * 0
            piece = y.masked_fill(~real[:, :, None], 0.0).sum(1)
            return piece if pooled is None else pooled + piece
        if self.pooling == "max":
            piece = y.masked_fill(~real[:, :, None], float("-inf")).amax(1)
            return piece if pooled is None else torch.maximum(pooled, piece)
        # "last" reads the last real token, "cls" the slot after it
        target = token_lengths - 1 if self.pooling == "last" else token_lengths
        inside = (target >= positions[0]) & (target <= positions[-1])
        piece = y[rows, (target - positions[0]).clamp(0, y.shape[1] - 1)]
        if pooled is None:
            pooled = torch.zeros_like(piece)
        return torch.where(inside[:, None], piece, pooled)

    def _tokens(self, ids: Tensor, mask: Tensor, start: int, end: int) -> Tensor:
        """Backbone inputs of token positions ``[start, end)``: ``[B, end - start, D]``.

        Without a stem a token is an embedded id. With a stem, token ``t`` is the max over bases
        ``[t * stride, (t + 1) * stride)`` of the convolutions, computed over those bases and the
        ``stem_layers * (stem_kernel - 1)`` bases before them (all that a causal stack of that depth
        reads): the same values as convolving the whole row. Positions past a row's end are 0.
        """
        if self.stem is None or start >= end:  # (start == end: a last piece holding only the class token)
            return self.embedding(ids[:, start:end])
        stride, kernel = self.stem_stride, self.stem[0].kernel_size[0]
        first, last = start * stride, min(end * stride, ids.shape[1])  # the bases of these tokens
        context = min(first, len(self.stem) * (kernel - 1))
        h = nn.functional.gelu(self._embedded_first_conv(ids[:, first - context : last]))  # [B, D, n]
        for conv in self.stem[1:]:
            h = nn.functional.gelu(conv(nn.functional.pad(h, (conv.kernel_size[0] - 1, 0))))
        h, base_mask = h[:, :, context:], mask[:, first:last]
        if stride > 1:
            # ceil_mode: the last, partial group is the max over the positions it has
            h = h.masked_fill(~base_mask[:, None, :], float("-inf"))
            h = nn.functional.max_pool1d(h, stride, ceil_mode=True)
            base_mask = nn.functional.max_pool1d(base_mask[:, None, :].to(h.dtype), stride, ceil_mode=True)
            base_mask = base_mask[:, 0] > 0
        return h.transpose(1, 2).masked_fill(~base_mask[:, :, None], 0.0)

    def _embedded_first_conv(self, ids: Tensor) -> Tensor:
        """The first stem convolution of the embedded ids, before its GELU: ``[B, L] -> [B, D, L]``.

        Embedding a token and convolving is linear in the token's one-hot code, so when the vocabulary is
        smaller than the width (single bases: 8 tokens, width 64) the pair runs as one convolution of the
        one-hot codes with the product of the two weights: ``V`` input channels instead of ``D``, so
        ``V / D`` of the multiply-adds (an eighth at the GUE setting, where the first of the two stem
        layers was half of the stem's compute). The same function and gradients up to the order of the sums,
        and the weights stay those of ``embedding`` and ``stem[0]``. Larger vocabularies (k-mers) embed,
        then convolve.
        """
        conv, vocab = self.stem[0], self.embedding.num_embeddings
        kernel = conv.kernel_size[0]
        if vocab < self.embedding.embedding_dim:
            # contiguous: given einsum's strided result, oneDNN returns channels-last activations, and the
            # backward pass of every later stem op then mixes layouts (measured 2.4-9x slower per op)
            weight = torch.einsum("oik,vi->ovk", conv.weight, self.embedding.weight).contiguous()  # [D, V, k]
            x = nn.functional.one_hot(ids, vocab).to(weight.dtype).transpose(1, 2)  # [B, V, L]
            return nn.functional.conv1d(nn.functional.pad(x, (kernel - 1, 0)), weight, conv.bias)
        return conv(nn.functional.pad(self.embedding(ids).transpose(1, 2), (kernel - 1, 0)))


__all__ = [
    "DEFAULT_PIECE_TOKENS",
    "POOLINGS",
    "STRANDS",
    "DNAClassifier",
    "check_stem",
    "default_backbone",
    "pack_right",
]
