"""Stream states as trees: stack the states of several series into one batch, split them again, store them.

A stream state (:class:`~titans_seq.models.BackboneState` and what it holds) is a tree of frozen dataclasses
and tuples whose leaves are batch-first tensors, ints and ``None``. States of different streams can share one
batch when their trees have the same *signature*: the same structure, the same ints and the same tensor
shapes after the batch axis (e.g. the same number of tokens pending in the memory's open chunk).

:func:`to_flat` / :func:`from_flat` turn a state into a JSON skeleton plus named tensors (what safetensors
stores) and back, exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

import torch
from torch import Tensor

from titans_seq.layers.attention import AttentionCache
from titans_seq.memory import MemoryGates, MemoryState, PendingTokens
from titans_seq.models.backbone import BackboneState
from titans_seq.models.blocks import BlockState

_TYPES = {
    cls.__name__: cls
    for cls in (BackboneState, BlockState, MemoryState, PendingTokens, MemoryGates, AttentionCache)
}


def register(cls: type) -> type:
    """Class decorator: let :func:`to_flat` / :func:`from_flat` store states of type ``cls`` too."""
    _TYPES[cls.__name__] = cls
    return cls


def _check_leaf(node: Any) -> None:
    if not (node is None or isinstance(node, int | float | str)):
        raise TypeError(
            f"a stream state holds dataclasses, tuples, tensors, numbers and None, not {type(node)}"
        )


def map_tensors(fn: Callable[[Tensor], Tensor], node: Any) -> Any:
    """The same tree with ``fn`` applied to every tensor leaf."""
    if isinstance(node, Tensor):
        return fn(node)
    if isinstance(node, tuple):
        return tuple(map_tensors(fn, n) for n in node)
    if is_dataclass(node):
        return type(node)(**{f.name: map_tensors(fn, getattr(node, f.name)) for f in fields(node)})
    _check_leaf(node)
    return node


def with_positions_zeroed(node: Any) -> Any:
    """The same tree with every ``position`` field set to 0. Only for states that do not depend on stream
    positions (memory-only ones), so that states of streams of any length stack."""
    if isinstance(node, tuple):
        return tuple(with_positions_zeroed(n) for n in node)
    if is_dataclass(node):
        changes = {f.name: with_positions_zeroed(getattr(node, f.name)) for f in fields(node)}
        if "position" in changes:
            changes["position"] = 0
        return type(node)(**changes)
    return node


def signature(node: Any) -> Hashable:
    """What two states must share to be stacked: structure, non-tensor leaves, tensor shapes after the batch
    axis, dtypes."""
    if isinstance(node, Tensor):
        return ("T", tuple(node.shape[1:]), str(node.dtype))
    if isinstance(node, tuple):
        return ("()", tuple(signature(n) for n in node))
    if is_dataclass(node):
        return (type(node).__name__, tuple(signature(getattr(node, f.name)) for f in fields(node)))
    _check_leaf(node)
    return node


def stack(states: Sequence[Any]) -> Any:
    """One batched state from states of equal :func:`signature` (concatenated along the batch axis)."""
    if not states:
        raise ValueError("stack needs at least one state")
    first = signature(states[0])
    if any(signature(s) != first for s in states[1:]):
        raise ValueError("states with different signatures cannot share a batch")
    return _stack(list(states))


def _stack(nodes: list[Any]) -> Any:
    head = nodes[0]
    if isinstance(head, Tensor):
        return torch.cat(nodes, dim=0)
    if isinstance(head, tuple):
        return tuple(_stack([n[i] for n in nodes]) for i in range(len(head)))
    if is_dataclass(head):
        return type(head)(**{f.name: _stack([getattr(n, f.name) for n in nodes]) for f in fields(head)})
    return head


def unstack(state: Any, batch: int) -> list[Any]:
    """The ``batch`` single-stream states of a batched state (each keeps a batch axis of size 1)."""
    return [map_tensors(lambda t, i=i: t[i : i + 1], state) for i in range(batch)]


def to_flat(node: Any, prefix: str) -> tuple[Any, dict[str, Tensor]]:
    """``(skeleton, tensors)``: a JSON-ready skeleton whose tensor leaves name entries of ``tensors``."""
    tensors: dict[str, Tensor] = {}

    def walk(n: Any, path: str) -> Any:
        if isinstance(n, Tensor):
            tensors[path] = n.detach().cpu().contiguous()
            return {"tensor": path}
        if isinstance(n, tuple):
            return {"tuple": [walk(x, f"{path}.{i}") for i, x in enumerate(n)]}
        if is_dataclass(n):
            name = type(n).__name__
            if name not in _TYPES:
                raise TypeError(f"{name} is not a stream state type")
            return {
                "type": name,
                "fields": {f.name: walk(getattr(n, f.name), f"{path}.{f.name}") for f in fields(n)},
            }
        _check_leaf(n)
        return {"value": n}

    return walk(node, prefix), tensors


def from_flat(skeleton: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of :func:`to_flat`."""
    if "tensor" in skeleton:
        return tensors[skeleton["tensor"]]
    if "tuple" in skeleton:
        return tuple(from_flat(s, tensors) for s in skeleton["tuple"])
    if "type" in skeleton:
        cls = _TYPES[skeleton["type"]]
        return cls(**{k: from_flat(v, tensors) for k, v in skeleton["fields"].items()})
    return skeleton["value"]
