"""The contract every Titans variant keeps, run once per variant; ablation switches; bad configuration.

Small float64 problems: width 16, 2 heads, window (MAC segment) 8, memory chunk 4, T = 37 (four full
segments and an open one), so every path (full segments, partial segment, partial chunk) is exercised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from torch import nn

from titans_seq.layers import NeuralMemory
from titans_seq.memory import READS
from titans_seq.models import (
    ABLATIONS,
    BLOCKS,
    VARIANTS,
    AttentionConfig,
    BackboneState,
    MemoryConfig,
    TitansBackbone,
    TitansConfig,
)
from titans_seq.models.config import MEMORY_KERNELS, MEMORY_READS

DIM, LENGTH = 16, 37
TOL = dict(rtol=1e-10, atol=1e-12)


def _config(variant: str, **kw) -> TitansConfig:
    return TitansConfig(
        variant=variant,
        dim=DIM,
        depth=2,
        ffn_expansion=2.0,
        memory=MemoryConfig(heads=2, chunk_size=4, expansion=2.0),
        attention=AttentionConfig(heads=2, window=8, persistent_tokens=2),
        **kw,
    )


def _model(config: TitansConfig, seed: int = 0) -> TitansBackbone:
    torch.manual_seed(seed)
    return TitansBackbone(config).double()


def _input(length: int = LENGTH, seed: int = 1) -> torch.Tensor:
    return torch.randn(2, length, DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _run_split(model: TitansBackbone, x: torch.Tensor, cuts: list[int]) -> tuple[torch.Tensor, BackboneState]:
    parts, state, start = [], None, 0
    for stop in [*cuts, x.shape[1]]:
        y, state = model(x[:, start:stop], state)
        parts.append(y)
        start = stop
    return torch.cat(parts, dim=1), state


variants = pytest.mark.parametrize("variant", VARIANTS)


def test_registry_covers_every_variant():
    assert sorted(BLOCKS) == sorted(VARIANTS)


def test_config_accepts_exactly_the_memory_kernels():
    for kernel in MEMORY_KERNELS:
        NeuralMemory(DIM, heads=2, kernel=kernel)
    with pytest.raises(ValueError, match="kernel must be one of"):
        NeuralMemory(DIM, heads=2, kernel="no-such-kernel")
    with pytest.raises(ValueError, match=r"memory.kernel must be one of \['chunk', 'compiled', 'naive'\]"):
        MemoryConfig(kernel="no-such-kernel")


def test_config_accepts_exactly_the_memory_reads():
    assert MEMORY_READS == READS
    for read in MEMORY_READS:
        NeuralMemory(DIM, heads=2, read=read)
    with pytest.raises(ValueError, match=r"memory.read must be one of \['chunk_start', 'token'\]"):
        MemoryConfig(read="per-chunk")


# ---------------------------------------------------------------------- the shared contract
@variants
def test_output_shape(variant):
    y, state = _model(_config(variant))(_input())
    assert y.shape == (2, LENGTH, DIM) and y.dtype == torch.float64
    assert state.position == LENGTH and len(state.layers) == 2


@variants
def test_gradients_reach_every_parameter(variant):
    model = _model(_config(variant))
    y, _ = model(_input())
    y.pow(2).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@variants
@pytest.mark.parametrize("cut", [1, 8, 19, 33])
def test_causal(variant, cut):
    """Changing inputs at t >= cut never changes outputs before cut (and does change them after)."""
    model = _model(_config(variant))
    x = _input()
    x2 = x.clone()
    x2[:, cut:] = torch.randn_like(x2[:, cut:])
    with torch.no_grad():
        y, y2 = model(x)[0], model(x2)[0]
    torch.testing.assert_close(y2[:, :cut], y[:, :cut], rtol=0, atol=0)
    assert (y2[:, cut:] - y[:, cut:]).abs().amax() > 1e-6


@variants
def test_only_memory_reaches_beyond_the_attention(variant):
    """Token 0 is far outside what two stacked windows of 8 can see from token 36 (14 tokens back); it
    reaches there through the long-term memory, so only the control is blind to it."""
    model = _model(_config(variant))
    x = _input()
    x2 = x.clone()
    x2[:, 0] += 1.0
    with torch.no_grad():
        change = (model(x2)[0][:, -1] - model(x)[0][:, -1]).abs().amax()
    assert change == 0 if variant == "swa" else change > 1e-8


@pytest.mark.parametrize("read", ["token", "chunk_start"])
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "swa"])
def test_memory_reads_earlier_tokens_of_its_own_chunk(variant, read):
    """Chunk 16, convolution width 4: the first block's memory output at token 45 depends on its input at
    token 33 (same chunk, 12 tokens back, beyond the convolution) through the per-token read only. The
    memory's own input is made a leaf, so attention cannot carry the dependence."""
    config = replace(
        _config(variant),
        memory=MemoryConfig(heads=2, chunk_size=16, expansion=2.0, read=read),
        attention=AttentionConfig(heads=2, window=64, persistent_tokens=2),
    )
    model = _model(config)
    memory = model.blocks[0].memory
    captured = {}

    def leaf_input(module, args):
        captured["x"] = args[0].detach().requires_grad_(True)
        return (captured["x"], *args[1:])

    def keep_output(module, args, output):
        captured["y"] = output[0]

    memory.register_forward_pre_hook(leaf_input)
    memory.register_forward_hook(keep_output)
    model(_input(64))
    (grad,) = torch.autograd.grad(captured["y"][:, 45].sum(), captured["x"])
    reach = grad[:, 33].abs().amax()
    assert grad[:, 42:46].abs().amax() > 0  # within the convolution's reach both reads see the input
    if read == "token":
        assert reach > 1e-6
    else:
        assert reach == 0


@variants
@pytest.mark.parametrize("seed", range(3))
def test_chaining_equals_one_pass(variant, seed):
    """Split at random cuts (inside segments and chunks) equals one pass, and the final states continue
    the stream identically."""
    cuts = sorted(
        torch.randperm(LENGTH - 1, generator=torch.Generator().manual_seed(seed))[:3].add(1).tolist()
    )
    model = _model(_config(variant))
    x, more = _input(), _input(11, seed=2)
    with torch.no_grad():
        whole, s_whole = model(x)
        split, s_split = _run_split(model, x, cuts)
        torch.testing.assert_close(split, whole, **TOL)
        torch.testing.assert_close(model(more, s_split)[0], model(more, s_whole)[0], **TOL)


@pytest.mark.parametrize("variant", ["mac", "mag"])
def test_token_by_token_equals_one_pass(variant):
    model = _model(_config(variant))
    x = _input(19)
    with torch.no_grad():
        torch.testing.assert_close(_run_split(model, x, list(range(1, 19)))[0], model(x)[0], **TOL)


@variants
def test_float64_deterministic(variant):
    results = []
    for _ in range(2):
        model = _model(_config(variant))
        y, _ = model(_input())
        y.sum().backward()
        results.append([y.detach(), *(p.grad for p in model.parameters())])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_detached_state_continues_the_stream():
    model = _model(_config("mac"))
    x = _input()
    y, state = model(x[:, :13])
    detached = state.detach()
    assert not any(t.requires_grad for t in detached.layers[0].memory.weights)
    torch.testing.assert_close(model(x[:, 13:], detached)[0], model(x[:, 13:], state)[0], **TOL)


# ---------------------------------------------------------------------- ablations
def _inert_momentum(model: nn.Module) -> None:
    """eta -> 0 (floored at exp(-30)): momentum carries nothing over."""
    for mem in _memories(model):
        mem.to_gates.bias[mem.heads : 2 * mem.heads] = -1e4


def _inert_weight_decay(model: nn.Module) -> None:
    """alpha -> 0 exactly in float64: nothing is forgotten."""
    for mem in _memories(model):
        mem.to_gates.bias[2 * mem.heads :] = -1e4


def _inert_convolution(model: nn.Module) -> None:
    """An identity convolution (the current token's tap = 1) passes projections through unchanged."""
    for mem in _memories(model):
        mem.conv.weight.zero_()
        mem.conv.weight[:, 0, -1] = 1.0
        mem.conv.bias.zero_()


def _inert_attention(model: nn.Module) -> None:
    """MAL with a zero attention output is its memory sublayer alone."""
    for block in model.blocks:
        block.attention.to_out.weight.zero_()


def _memories(model: nn.Module) -> list[NeuralMemory]:
    return [m for m in model.modules() if isinstance(m, NeuralMemory)]


# (ablation, repr field it flips, the parameters it may add/remove/reshape, an inert setting of the full
# model that computes what the ablated one does, or None when no setting does)
ABLATION_CASES: dict[str, tuple[str, str, Callable[[nn.Module], None] | None]] = {
    "linear_memory": ("depth", r"memory\.memory_init\.\d+", None),
    "no_momentum": ("momentum", r"$^", _inert_momentum),
    "no_weight_decay": ("weight_decay", r"$^", _inert_weight_decay),
    "no_persistent": ("persistent_tokens", r"attention\.persistent", None),
    "no_convolution": ("conv_kernel", r"memory\.conv\.", _inert_convolution),
    "no_attention": ("", r"(norm_)?attention\.", _inert_attention),
}
MEMORY_VARIANTS = ("lmm", "mac", "mag", "mal")
ATTENTION_VARIANTS = ("mac", "mag", "mal", "swa")
ABLATION_PAIRS = [
    pytest.param(v, a, id=f"{v}-{a}")
    for a in ABLATIONS
    for v in (
        ("mal",)  # "w/o attention" turns a hybrid into LMM; MAL is the one whose blocks nest LMM's
        if a == "no_attention"
        else ATTENTION_VARIANTS
        if a == "no_persistent"
        else MEMORY_VARIANTS
    )
]


def test_every_ablation_has_a_case():
    assert sorted(ABLATION_CASES) == sorted(ABLATIONS)


def _fields(module: nn.Module) -> dict[str, str]:
    return dict(item.split("=", 1) for item in module.extra_repr().split(", ") if "=" in item)


@pytest.mark.parametrize("variant, ablation", ABLATION_PAIRS)
def test_ablation_changes_what_it_names_and_nothing_else(variant, ablation):
    field, param_pattern, inert = ABLATION_CASES[ablation]
    base_cfg = _config(variant)
    ablated_cfg = base_cfg.ablate(ablation)

    # the configuration: exactly one field moves
    base_d, abl_d = _flatten(base_cfg.to_dict()), _flatten(ablated_cfg.to_dict())
    assert len([k for k in base_d if base_d[k] != abl_d[k]]) == 1

    base, ablated = _model(base_cfg), _model(ablated_cfg)
    # the parameters: only the named ones appear, disappear or change shape
    shapes = lambda m: {n: p.shape for n, p in m.named_parameters()}  # noqa: E731
    pa, pb = shapes(base), shapes(ablated)
    changed = {n for n in pa.keys() | pb.keys() if pa.get(n) != pb.get(n)}
    assert changed == {n for n in changed if re.search(param_pattern, n)}
    # the modules present in both: only the named setting differs
    modules_b = dict(ablated.named_modules())
    for name, module in base.named_modules():
        if name in modules_b and type(modules_b[name]) is type(module):
            fa, fb = _fields(module), _fields(modules_b[name])
            assert {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)} <= {field}, name

    # the computation: shared weights give a different output, or the same once the switch is inert
    ablated.load_state_dict({n: t for n, t in base.state_dict().items() if n not in changed}, strict=False)
    x = _input()
    with torch.no_grad():
        y_base, y_ablated = base(x)[0], ablated(x)[0]
        assert (y_base - y_ablated).abs().amax() > 1e-6
        if inert is not None:
            inert(base)
            torch.testing.assert_close(base(x)[0], y_ablated, rtol=1e-8, atol=1e-10)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        out.update(
            _flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
        )
    return out


# ---------------------------------------------------------------------- bad input
BAD_CONFIGS = {
    "unknown-variant": (
        lambda: TitansConfig(variant="mamba"),
        r"variant must be one of \['lmm', 'mac', 'mag', 'mal', 'swa'\], got 'mamba'",
    ),
    "window-0": (lambda: AttentionConfig(window=0), "attention.window must be an integer >= 1, got 0"),
    "persistent-negative": (
        lambda: AttentionConfig(persistent_tokens=-1),
        "attention.persistent_tokens must be an integer >= 0, got -1",
    ),
    "unknown-positions": (
        lambda: AttentionConfig(positions="alibi"),
        r"attention.positions must be one of \['learned', 'none', 'rotary'\], got 'alibi'",
    ),
    "attention-heads": (
        lambda: TitansConfig(dim=30, memory=MemoryConfig(heads=3), attention=AttentionConfig(heads=4)),
        r"attention.heads=4 must divide dim=30; allowed attention.heads: \[1, 2, 3, 5, 6, 10, 15, 30\]",
    ),
    "memory-heads": (
        lambda: TitansConfig(dim=30, memory=MemoryConfig(heads=4)),
        r"memory.heads=4 must divide dim=30; allowed memory.heads: \[1, 2, 3, 5, 6, 10, 15, 30\]",
    ),
    "mac-chunk": (
        lambda: TitansConfig(memory=MemoryConfig(chunk_size=24)),
        r"memory.chunk_size=24 must divide attention.window=64 for variant 'mac'; allowed memory.chunk_size",
    ),
    "memory-depth": (lambda: MemoryConfig(depth=0), "memory.depth must be an integer >= 1, got 0"),
    "momentum-not-bool": (lambda: MemoryConfig(momentum="yes"), "memory.momentum must be True or False"),
    "unknown-ablation": (
        lambda: TitansConfig().ablate("no_ffn"),
        r"ablation must be one of \['linear_memory'",
    ),
}


@pytest.mark.parametrize("build, match", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_configuration(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_config_round_trips_through_a_dict():
    cfg = _config("mag").ablate("no_convolution")
    assert TitansConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_input_and_mismatched_state():
    model = _model(_config("mac"))
    with pytest.raises(ValueError, match=r"x must be a \[B, T >= 1, dim=16\] tensor, got \(2, 5, 8\)"):
        model(torch.randn(2, 5, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match="state must be a BackboneState"):
        model(_input(), state={"layers": ()})
    _, state = model(_input())
    with pytest.raises(ValueError, match="state has 1 layers, this backbone has 2"):
        model(_input(), replace(state, layers=state.layers[:1]))
    with pytest.raises(TypeError, match="config must be a TitansConfig"):
        TitansBackbone({"variant": "mac"})
