"""WindowedAttention: banded kernel == plain T x T reference; streaming, causality, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from einops import rearrange

from titans_seq.layers import AttentionCache, WindowedAttention

DIM, HEADS = 16, 2


def _attn(**kw) -> WindowedAttention:
    torch.manual_seed(0)
    attn = WindowedAttention(
        **{"dim": DIM, "heads": HEADS, "window": 5, "persistent_tokens": 3, **kw}
    ).double()
    if attn.position_bias is not None:  # a non-trivial bias, so a wrong distance shows
        with torch.no_grad():
            attn.position_bias.normal_()
    return attn


def _reference(attn: WindowedAttention, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over an explicit ``T x T`` mask, the persistent tokens prepended: the definition."""
    length, window = x.shape[1], attn.window
    pos = torch.arange(length)
    q = q_plain = rearrange(attn.to_q(x), "b t (h d) -> b t h d", h=attn.heads)
    tokens = x.unsqueeze(2) if memory is None else torch.stack([x, memory], 2)
    k, v = rearrange(attn.to_kv(tokens), "b t s (two h d) -> two b t s h d", two=2, h=attn.heads)
    if attn.positions == "rotary":
        q, k = attn._rotate(q, pos), attn._rotate(k, pos)
    streams = k.shape[2]
    k, v = (rearrange(t, "b t s h d -> b h (t s) d") for t in (k, v))
    i, j = pos.view(-1, 1), pos.view(1, -1)
    seen = j <= i
    seen &= (i - j < window) if attn.mode == "sliding" else (i // window == j // window)
    logits = torch.einsum("bthd,bhkd->bhtk", q, k) / math.sqrt(attn.dim_head)
    if attn.position_bias is not None:
        logits = logits + attn.position_bias[:, (i - j).clamp(0, window - 1)].repeat_interleave(streams, -1)
    logits = logits.masked_fill(~seen.repeat_interleave(streams, -1), float("-inf"))
    if attn.persistent is not None:
        pk, pv = rearrange(attn.to_kv(attn.persistent), "p (two h d) -> two h p d", two=2, h=attn.heads)
        # persistent tokens carry no position: they score against the unrotated query
        persistent = torch.einsum("bthd,hpd->bhtp", q_plain, pk) / math.sqrt(attn.dim_head)
        logits = torch.cat([persistent, logits], -1)
        v = torch.cat([pv.expand(x.shape[0], *pv.shape), v], dim=2)
    y = torch.einsum("bhtk,bhkd->bthd", logits.softmax(-1), v)
    return attn.to_out(rearrange(y, "b t h d -> b t (h d)"))


CONFIGS = [
    pytest.param({"mode": "sliding"}, id="sliding-rotary"),
    pytest.param({"mode": "segment"}, id="segment-rotary"),
    pytest.param({"mode": "sliding", "positions": "learned"}, id="sliding-learned"),
    pytest.param({"mode": "segment", "positions": "none", "persistent_tokens": 0}, id="segment-plain"),
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("length", [1, 7, 23])
def test_banded_equals_reference(kw, length):
    attn = _attn(**kw)
    x = torch.randn(2, length, DIM, dtype=torch.float64)
    torch.testing.assert_close(attn(x)[0], _reference(attn, x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["sliding", "segment"])
def test_memory_tokens_share_position_and_visibility(mode):
    attn = _attn(mode=mode, positions="learned")
    x, h = torch.randn(2, 2, 13, DIM, dtype=torch.float64)
    torch.testing.assert_close(attn(x, memory=h)[0], _reference(attn, x, h), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("cuts", [[1, 2, 3], [4, 11], [5, 10, 15]], ids=str)
def test_split_stream_equals_whole(kw, cuts):
    attn = _attn(**kw)
    x = torch.randn(2, 23, DIM, dtype=torch.float64)
    whole, _ = attn(x)
    parts, cache, start = [], None, 0
    for stop in [*cuts, x.shape[1]]:
        y, cache = attn(x[:, start:stop], cache)
        parts.append(y)
        start = stop
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-10, atol=1e-12)
    assert cache.position == 23
    assert cache.keys.shape[1] == (4 if kw["mode"] == "sliding" else 23 % 5)


def test_long_sequence_stays_banded():
    """4096 tokens at window 64: the banded kernel runs without a T x T mask and matches the reference
    on the tail, where a wrong band would show."""
    attn = _attn(window=64, heads=2)
    x = torch.randn(1, 4096, DIM, dtype=torch.float64)
    with torch.no_grad():
        y, _ = attn(x)
        ref = _reference(attn, x[:, -300:])[:, -100:]  # the last 100 tokens see only the last 300
    torch.testing.assert_close(y[:, -100:], ref, rtol=1e-9, atol=1e-11)


def test_rotary_depends_on_relative_position_only():
    attn = _attn()
    q, k = torch.randn(2, 1, 1, HEADS, attn.dim_head, dtype=torch.float64)
    score = lambda m, n: (attn._rotate(q, torch.tensor([m])) * attn._rotate(k, torch.tensor([n]))).sum()  # noqa: E731
    torch.testing.assert_close(score(3, 1), score(103, 101))
    assert not torch.isclose(score(3, 1), score(3, 2))


@pytest.mark.parametrize("mode", ["sliding", "segment"])
def test_causal_and_windowed(mode):
    attn = _attn(mode=mode)
    x = torch.randn(2, 20, DIM, dtype=torch.float64)
    y, _ = attn(x)
    x2 = x.clone()
    x2[:, 12:] += 1.0
    y2, _ = attn(x2)
    torch.testing.assert_close(y2[:, :12], y[:, :12], rtol=0, atol=0)
    # token 2 is out of reach of token 12 (window 5 and segment [10, 15) alike)
    x3 = x.clone()
    x3[:, 2] += 1.0
    torch.testing.assert_close(attn(x3)[0][:, 12:], y[:, 12:], rtol=0, atol=0)


def test_gradients_reach_every_parameter():
    attn = _attn(positions="learned", window=4)
    attn(torch.randn(2, 9, DIM, dtype=torch.float64))[0].pow(2).sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 0}, "window must be an integer >= 1, got 0"),
        ({"persistent_tokens": -1}, "persistent_tokens must be an integer >= 0, got -1"),
        ({"heads": 3}, r"heads=3 must divide dim=16; allowed heads: \[1, 2, 4, 8, 16\]"),
        ({"mode": "global"}, r"mode must be one of \['segment', 'sliding'\], got 'global'"),
        ({"positions": "alibi"}, r"positions must be one of \['learned', 'none', 'rotary'\]"),
        ({"dim": 6, "heads": 2}, "positions='rotary' needs an even head width"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WindowedAttention(**{"dim": DIM, "heads": HEADS, "window": 4, **kwargs})


def test_bad_input_and_mismatched_cache():
    attn = _attn()
    with pytest.raises(ValueError, match=r"x must be a \[B, T, dim\] tensor"):
        attn(torch.randn(4, DIM, dtype=torch.float64))
    with pytest.raises(ValueError, match="x has width 8, this attention expects dim=16"):
        attn(torch.randn(2, 3, 8, dtype=torch.float64))
    _, cache = attn(torch.randn(2, 3, DIM, dtype=torch.float64))
    with pytest.raises(ValueError, match="cache has batch size 2, input has 3"):
        attn(torch.randn(3, 3, DIM, dtype=torch.float64), cache)
    with pytest.raises(ValueError, match="was memory passed"):
        x = torch.randn(2, 3, DIM, dtype=torch.float64)
        attn(x, cache, memory=torch.randn_like(x))
    with pytest.raises(TypeError, match="cache must be an AttentionCache"):
        attn(torch.randn(2, 3, DIM, dtype=torch.float64), {"keys": None})
    assert isinstance(cache, AttentionCache) and cache.detach().position == 3
