"""DNA adapter: padding never changes a sequence's logits; pooling, strands, reverse complement of ids."""

from __future__ import annotations

import re

import pytest
import torch

from titans_seq.adapters.dna import POOLINGS, DNAClassifier, pack_right
from titans_seq.data.dna import CharTokenizer, KmerTokenizer, reverse_complement
from titans_seq.models import MemoryConfig, TitansConfig

SEQS = ["ACGTTGCAAC", "GGA", "TTTACGATCGATCGGAT", "CANNG"]  # lengths 10, 3, 17, 5: chunk 4 leaves tails
CONFIG = TitansConfig(
    variant="lmm", dim=16, depth=2, ffn_expansion=2.0, memory=MemoryConfig(heads=2, chunk_size=4, depth=2)
)


# (stem_kernel, stem_layers, stem_stride): none; one convolution at full resolution; one and two pooled by 2
# and by 3 (lengths 10, 3, 17, 5 leave partial last groups)
STEMS = [(0, 1, 1), (3, 1, 1), (3, 1, 2), (4, 2, 3)]
STEM_ID = "stem{0[0]}x{0[1]}s{0[2]}".format


def _model(
    pooling: str = "mean", strands: str = "forward", tok=None, dtype=torch.float64, stem=(0, 1, 1)
) -> DNAClassifier:
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
    )
    return model.to(dtype).eval()


@pytest.mark.parametrize("stem", STEMS, ids=STEM_ID)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_never_changes_a_sequences_logits(pooling: str, side: str, stem: tuple[int, ...]) -> None:
    tok, model = CharTokenizer(), _model(pooling, stem=stem)
    batch = tok(SEQS, padding_side=side, return_tensors="pt")
    with torch.no_grad():
        together = model(batch.input_ids, batch.attention_mask)
        alone = torch.cat([model(tok([s], return_tensors="pt").input_ids) for s in SEQS])
        # Whatever sits in the padding slots is never read.
        scrambled = batch.input_ids.masked_fill(~batch.attention_mask, 5)
        changed = model(scrambled, batch.attention_mask)
    assert together.shape == (len(SEQS), 3)
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(changed, together, rtol=0, atol=0)


def test_pooling_modes_differ_and_train_their_own_weights() -> None:
    tok = CharTokenizer()
    batch = tok(SEQS, return_tensors="pt")
    outs = {p: _model(p)(batch.input_ids, batch.attention_mask) for p in POOLINGS}
    for a, b in zip(POOLINGS, POOLINGS[1:], strict=False):
        assert not torch.allclose(outs[a], outs[b])
    model = _model("cls")
    model(batch.input_ids, batch.attention_mask).sum().backward()
    assert model.cls.grad is not None and model.cls.grad.abs().sum() > 0


def test_pack_right_keeps_token_order() -> None:
    ids = torch.tensor([[0, 0, 3, 4, 5], [3, 0, 6, 0, 7]])
    mask = ids != 0
    packed, packed_mask, lengths = pack_right(ids, mask)
    assert packed[:, :3].tolist() == [[3, 4, 5], [3, 6, 7]]
    assert lengths.tolist() == [3, 3] and packed_mask.tolist() == [[True] * 3 + [False] * 2] * 2


@pytest.mark.parametrize("tok", [CharTokenizer(), KmerTokenizer(3)], ids=["char", "3-mer"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_reverse_complement_of_ids_equals_tokenizing_the_reverse_strand(tok, side: str) -> None:
    seqs = [s.replace("N", "A") for s in SEQS]  # 3-mers with N decode to UNK on both strands anyway
    model = _model(tok=tok)
    batch = tok(seqs, padding_side=side, return_tensors="pt")
    rc_ids, rc_mask = model.reverse_complement(batch.input_ids, batch.attention_mask)
    expected = tok([reverse_complement(s) for s in seqs], return_tensors="pt")
    assert torch.equal(rc_ids.masked_fill(~rc_mask, 0), expected.input_ids)
    assert torch.equal(rc_mask, expected.attention_mask)
    again, _ = model.reverse_complement(rc_ids, rc_mask)
    assert torch.equal(again.masked_fill(~rc_mask, 0), tok(seqs, return_tensors="pt").input_ids)


@pytest.mark.parametrize("stem", [STEMS[0], STEMS[-1]], ids=STEM_ID)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_both_strands_gives_exactly_strand_invariant_logits(pooling: str, stem: tuple[int, ...]) -> None:
    tok = CharTokenizer()
    model = _model(pooling, strands="both", dtype=torch.float32, stem=stem)
    forward = tok(SEQS, return_tensors="pt")
    reverse = tok([reverse_complement(s) for s in SEQS], return_tensors="pt")
    with torch.no_grad():
        a = model(forward.input_ids, forward.attention_mask)
        b = model(reverse.input_ids, reverse.attention_mask)
    assert torch.equal(a, b)  # bitwise, not approximately
    single = _model(pooling, stem=stem)(forward.input_ids, forward.attention_mask).float()
    assert not torch.allclose(single, a)


@pytest.mark.parametrize("stem", STEMS[1:], ids=STEM_ID)
def test_the_stem_is_causal_convolutions_pooled_over_groups_of_real_positions(stem) -> None:
    kernel, _, stride = stem
    tok, model = CharTokenizer(), _model(stem=stem)
    seen = []
    model.backbone.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    batch = tok(SEQS, return_tensors="pt")
    with torch.no_grad():
        model(batch.input_ids, batch.attention_mask)
        for row, seq in enumerate(SEQS):
            h = model.embedding(tok([seq], return_tensors="pt").input_ids)[0]  # [L, D]
            for conv in model.stem:
                padded = torch.cat([h.new_zeros(kernel - 1, h.shape[1]), h])
                windows = padded.unfold(0, kernel, 1)  # [L, D, kernel]: positions t-kernel+1 .. t
                h = torch.nn.functional.gelu(torch.einsum("ldk,edk->le", windows, conv.weight) + conv.bias)
            groups = [h[g : g + stride].amax(0) for g in range(0, len(seq), stride)]
            expected = torch.stack(groups)
            torch.testing.assert_close(seen[0][row, : len(groups)], expected, rtol=1e-10, atol=1e-12)
    assert seen[0].shape[1] == -(-max(map(len, SEQS)) // stride)


@pytest.mark.parametrize("tok", [CharTokenizer(), KmerTokenizer(3)], ids=["bases", "3mers"])
def test_the_first_stem_convolution_folded_into_the_embedding_has_the_same_values_and_gradients(tok) -> None:
    # bases: 8 tokens < width 16, convolved as one-hot codes; 3-mers: 68 tokens, embedded then convolved
    model = _model(tok=tok, stem=(4, 1, 1)).train()
    ids = tok(SEQS, return_tensors="pt").input_ids
    conv = model.stem[0]
    reference = conv(torch.nn.functional.pad(model.embedding(ids).transpose(1, 2), (3, 0)))  # [B, D, L]
    folded = model._embedded_first_conv(ids)
    torch.testing.assert_close(folded, reference, rtol=1e-12, atol=1e-12)
    weights = [model.embedding.weight, conv.weight, conv.bias]
    signal = torch.randn_like(reference)
    expected = torch.autograd.grad((reference * signal).sum(), weights)
    for got, want in zip(torch.autograd.grad((folded * signal).sum(), weights), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tok", [CharTokenizer(), KmerTokenizer(3)], ids=["bases", "3mers"])
def test_the_first_stem_convolution_returns_channels_first_activations(tok) -> None:
    # Convolved with the folded weight as einsum returns it (a strided view), oneDNN gave a channels-last
    # activation; the backward pass then met it beside contiguous gradients and the first GELU's backward
    # ran about 9x slower (4.3 against 0.5 ms). float32 and a GUE-sized batch: where oneDNN picks the layout.
    model = _model(tok=tok, dtype=torch.float32, stem=(9, 2, 4)).train()
    activations = model._embedded_first_conv(torch.randint(1, 5, (64, 101)))
    assert activations.shape == (64, 16, 101)
    assert activations.stride() == (16 * 101, 101, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "sum"}, "pooling must be one of ['mean', 'max', 'last', 'cls'], got 'sum'"),
        ({"strands": "reverse"}, "strands must be one of ['forward', 'both'], got 'reverse'"),
        ({"strands": "both", "complement": None}, "strands='both' needs the complement table"),
        ({"complement": [0, 1, 2, 3, 4, 5, 6, 6]}, "complement must be an involution"),
        ({"complement": [0, 1, 2]}, "complement must hold 8 token ids"),
        ({"dropout": 1.0}, "dropout must lie in [0, 1), got 1.0"),
        ({"stem_kernel": -1}, "stem_kernel must be an integer >= 0, got -1"),
        ({"stem_kernel": 3, "stem_stride": 0}, "stem_stride must be an integer >= 1, got 0"),
        ({"stem_kernel": 3, "stem_layers": 0}, "stem_layers must be an integer >= 1, got 0"),
        ({"stem_stride": 2}, "stem_stride=2 needs a convolutional stem (stem_kernel > 0)"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    base = {"vocab_size": 8, "complement": CharTokenizer().complement}
    with pytest.raises(ValueError, match=re.escape(message)):
        DNAClassifier(CONFIG, 2, **{**base, **kwargs})
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        DNAClassifier(CONFIG, 1, vocab_size=8)


def test_bad_inputs_are_named() -> None:
    model = _model()
    ids = torch.tensor([[3, 4, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="row 1 of attention_mask has no real token"):
        model(ids, ids != 0)
    with pytest.raises(ValueError, match=r"input_ids must be a \[B, L\] int64 tensor"):
        model(ids.float())
    with pytest.raises(ValueError, match=r"attention_mask \(2, 2\) must match input_ids \(2, 3\)"):
        model(ids, torch.ones(2, 2, dtype=torch.bool))
