"""Per-series history states of a ``TitansForecaster(context="history")``: streaming, storing, loading.

Each series owns one :class:`~titans_seq.adapters.history.HistoryState` (batch axis of size 1). Series whose
states share a signature and that receive the same number of new rows are streamed together as one batch;
nothing here reads rows a series has already consumed.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from titans_seq.adapters.history import HistoryState, HistoryTitansForecaster
from titans_seq.estimators._common import evaluating
from titans_seq.models import state_tree

PREFIX = "history_state"


def _dtype_device(model: HistoryTitansForecaster) -> tuple[torch.dtype, torch.device]:
    p = model.empty_context
    return p.dtype, p.device


@torch.no_grad()
def advance_histories(
    model: HistoryTitansForecaster,
    rows: dict[Hashable, np.ndarray],
    states: dict[Hashable, HistoryState] | None = None,
) -> dict[Hashable, HistoryState]:
    """The states after feeding each series its ``rows`` (scaled, oldest first); ``states=None`` starts every
    series at its first row. Returns new states for the series of ``rows`` (the inputs are not changed)."""
    dtype, device = _dtype_device(model)
    with evaluating(model):
        groups: dict[Any, list[Hashable]] = {}
        starts = {}
        for uid, r in rows.items():
            start = model.init_state(1) if states is None else states[uid]
            starts[uid] = start
            groups.setdefault((state_tree.signature(start), len(r)), []).append(uid)
        out: dict[Hashable, HistoryState] = {}
        for uids in groups.values():
            batch = state_tree.map_tensors(
                lambda t: t.to(device), state_tree.stack([starts[u] for u in uids])
            )
            values = torch.as_tensor(np.stack([rows[u] for u in uids]), dtype=dtype, device=device)
            _, end = model.advance(values, batch)
            end = state_tree.map_tensors(lambda t: t.detach().contiguous(), end)
            out.update(zip(uids, state_tree.unstack(end, len(uids)), strict=True))
    return out


def contexts(states: dict[Hashable, HistoryState], ids: list[Hashable]) -> Tensor:
    """The context vectors of ``ids`` ``[S, dim]``."""
    return torch.cat([states[u].context for u in ids])


def to_tensors(states: dict[Hashable, HistoryState], ids: list[Hashable]) -> tuple[list, dict[str, Tensor]]:
    """``(skeletons, tensors)`` for ``config.json`` and the safetensors file; series ``i`` of ``ids`` is
    stored under ``history_state.<i>``."""
    skeletons, tensors = [], {}
    for i, uid in enumerate(ids):
        skeleton, flat = state_tree.to_flat(states[uid], f"{PREFIX}.{i}")
        skeletons.append(skeleton)
        tensors |= flat
    return skeletons, tensors


def from_tensors(
    skeletons: list, tensors: dict[str, Tensor], ids: list[Hashable]
) -> dict[Hashable, HistoryState]:
    """Inverse of :func:`to_tensors`."""
    if len(skeletons) != len(ids):
        raise ValueError(f"saved model holds {len(skeletons)} history states for {len(ids)} series")
    return {uid: state_tree.from_flat(s, tensors) for uid, s in zip(ids, skeletons, strict=True)}


def split_weights(tensors: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(model weights, history-state tensors)`` of a loaded safetensors file."""
    history = {k: v for k, v in tensors.items() if k.startswith(PREFIX + ".")}
    return {k: v for k, v in tensors.items() if k not in history}, history
