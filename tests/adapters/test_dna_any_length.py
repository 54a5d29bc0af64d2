"""Sequences of any length: streamed pieces equal one pass, batches cut by tokens, rows kept unpadded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_seq.adapters.dna import POOLINGS, DNAClassifier
from titans_seq.data.dna import CharTokenizer, KmerTokenizer, SequenceSet
from titans_seq.models import MemoryConfig, TitansConfig
from titans_seq.training.dna import TokenBudgetBatches, TokenizedSet

CONFIG = TitansConfig(
    variant="lmm", dim=16, depth=2, ffn_expansion=2.0, memory=MemoryConfig(heads=2, chunk_size=4, depth=2)
)
# (stem_kernel, stem_layers, stem_stride): none; two convolutions of 4 pooled by 3 (context 6 bases a piece)
STEMS = [(0, 1, 1), (4, 2, 3)]
RNG = np.random.default_rng(0)
SEQS = ["".join(RNG.choice(list("ACGT"), n)) for n in (97, 5, 64, 131)]


def _model(pooling: str, stem, strands: str = "forward", pieces: int = 10**9, tok=None) -> DNAClassifier:
    tok = tok or CharTokenizer()
    torch.manual_seed(0)
    model = DNAClassifier(
        CONFIG,
        3,
        vocab_size=tok.vocab_size,
        complement=tok.complement,
        pooling=pooling,
        strands=strands,
        stem_kernel=stem[0],
        stem_layers=stem[1],
        stem_stride=stem[2],
        piece_tokens=pieces,
    )
    return model.double()


@pytest.mark.parametrize("stem", STEMS, ids=["no-stem", "stem4x2s3"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_streamed_pieces_equal_one_pass_in_values_and_gradients(pooling: str, stem) -> None:
    tok = CharTokenizer()
    batch = tok(SEQS, return_tensors="pt")
    whole = _model(pooling, stem)
    reference = whole(batch.input_ids, batch.attention_mask)
    signal = torch.randn_like(reference)
    expected = torch.autograd.grad((reference * signal).sum(), list(whole.parameters()))
    # 1 token a piece, pieces that split chunks and stem groups, and pieces longer than some rows
    for pieces in (1, 3, 7, 16):
        streamed = _model(pooling, stem, pieces=pieces)
        got = streamed(batch.input_ids, batch.attention_mask)
        torch.testing.assert_close(got, reference, rtol=1e-10, atol=1e-12)
        grads = torch.autograd.grad((got * signal).sum(), list(streamed.parameters()))
        for g, e in zip(grads, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-11)


def test_streaming_both_strands_and_kmers_equals_one_pass() -> None:
    tok = KmerTokenizer(3)
    batch = tok(SEQS, return_tensors="pt")
    with torch.no_grad():
        reference = _model("max", (4, 2, 3), "both", tok=tok)(batch.input_ids, batch.attention_mask)
        got = _model("max", (4, 2, 3), "both", pieces=5, tok=tok)(batch.input_ids, batch.attention_mask)
    torch.testing.assert_close(got, reference, rtol=1e-10, atol=1e-12)


def test_a_long_row_runs_in_pieces_of_bounded_size() -> None:
    model = _model("mean", (4, 2, 3), pieces=64).eval()
    widths = []
    model.backbone.register_forward_hook(lambda module, args, output: widths.append(args[0].shape[1]))
    ids = torch.randint(3, 7, (1, 20_000))
    with torch.no_grad():
        model(ids)
    assert max(widths) == 64 and sum(widths) == -(-20_000 // 3)


def test_token_budget_batches_cover_every_row_once_within_the_budget() -> None:
    lengths = torch.as_tensor(RNG.integers(1, 500, 1000))
    lengths[17] = 5000  # longer than the budget: a batch of its own
    for shuffle in (False, True):
        sampler = TokenBudgetBatches(lengths, batch_size=32, max_tokens=2048, shuffle=shuffle, seed=3)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(1000))
        assert len(batches) == len(sampler)
        for b in batches:
            assert len(b) <= 32
            assert len(b) == 1 or len(b) * int(lengths[b].max()) <= 2048
        assert [17] in batches
    # sorted by length, so padding stays small: under 5% of the padded tokens beside the real ones
    padded = sum(len(b) * int(lengths[b].max()) for b in TokenBudgetBatches(lengths, 32, 2048))
    assert padded < 1.05 * int(lengths.sum())


def test_shuffled_batches_are_seeded_and_change_every_epoch() -> None:
    lengths = torch.full((200,), 50)
    a = TokenBudgetBatches(lengths, 16, 10**6, shuffle=True, seed=1)
    b = TokenBudgetBatches(lengths, 16, 10**6, shuffle=True, seed=1)
    first, second = list(a), list(a)
    assert first == list(b) and first != second
    assert sorted(len(x) for x in first) == [8] + [16] * 12  # equal lengths: as a plain shuffled loader


def test_unshuffled_order_maps_batches_back_to_rows() -> None:
    lengths = torch.tensor([5, 1, 9, 3, 9, 2])
    sampler = TokenBudgetBatches(lengths, batch_size=2, max_tokens=100)
    assert sampler.order().tolist() == [1, 5, 3, 0, 2, 4]
    assert [b for b in sampler] == [[1, 5], [3, 0], [2, 4]]


def test_tokenized_set_is_unpadded_and_collates_as_the_tokenizer_pads() -> None:
    tok = CharTokenizer()
    seqs = ["A" * 200_000, *SEQS]
    data = TokenizedSet.encode(SequenceSet(seqs, np.array([0, 1, 0, 1, 0])), tok, np.array([0, 1]))
    assert data.ids.numel() == sum(map(len, seqs)) and data.ids.dtype == torch.int16
    batch = data.collate([2, 4, 1])
    padded = tok([seqs[2], seqs[4], seqs[1]], return_tensors="pt")
    assert torch.equal(batch["input_ids"], padded.input_ids)
    assert torch.equal(batch["attention_mask"], padded.attention_mask)
    assert batch["labels"].tolist() == [0, 0, 1]


def test_bad_piece_and_budget_settings_are_named() -> None:
    with pytest.raises(ValueError, match="piece_tokens must be an integer >= 1, got 0"):
        _model("mean", (0, 1, 1), pieces=0)
    with pytest.raises(ValueError, match="max_tokens must be an integer >= 1, got 0"):
        TokenBudgetBatches(torch.tensor([3]), 4, 0)
