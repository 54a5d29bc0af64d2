"""History forecasting: a neural memory that reads each series' whole history, beside a lookback window.

The window forecaster (:mod:`titans_seq.adapters.forecasting`) reads the last ``input_size`` values and its
memory starts fresh for every window. This adapter adds a second path that carries a memory from the first
row of every series to the forecast cutoff::

    series (train-scaled) -> tokens of token_len rows, anchored at the first row -> memory-only backbone
      (state carried across calls) -> context = outputs of the K newest complete tokens   [N, K, dim]
    last input_size values -> window forecaster, with the context as K extra tokens -> [N, H, Q]

So the memory holds everything older than the window (it writes every token into its weights as it reads
it: test-time learning over the whole history), and the window's own encoder (LMM, MAC, MAG, ...) sees the
recent values at full resolution.

Causality and normalisation: the history path sees values scaled by the per-series statistics of the
training rows only (the caller scales), as levels or first differences (``inputs``), and each context
depends on rows before the cutoff only; the window path keeps its per-window RevIN, which uses the
window's own (past) values. A cutoff inside a token reads the
context of the last complete tokens; the rows since then are in the window.

Streaming: :meth:`HistoryTitansForecaster.advance` takes new rows and a :class:`HistoryState` and returns the
state after them; rows that do not complete a token wait in ``state.buffer``. Feeding a series in any number
of pieces gives the same state as one pass (the backbone and the memory guarantee it for tokens, the buffer
for rows), and the cost is linear in the rows fed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from titans_seq._checks import check_int
from titans_seq.adapters.forecasting import PatchForecasterConfig, PatchTitansForecaster
from titans_seq.models import BackboneState, BlockState, TitansBackbone, TitansConfig, state_tree

# "levels": the train-scaled values themselves (the default: lower validation loss on ETTh1 and ETTm1);
# "differences": the first differences of its rows, so no level (however far outside the training range)
# reaches the memory as an input
HISTORY_INPUTS = ("differences", "levels")
# tokens per backbone call when a long stream is fed: bounds the activations of one call, not the result
_STREAM_PIECE = 4096


@dataclass(frozen=True)
class HistoryForecasterConfig:
    """Shape of a :class:`HistoryTitansForecaster`.

    ``window`` is the window forecaster, whose ``context_tokens`` (K) history outputs it reads before its
    patches; ``history`` the backbone that
    reads the history, memory-only (``variant="lmm"``, whose state does not depend on stream positions, so
    the states of any series stack into one batch); ``token_len`` rows make one history token.
    """

    window: PatchForecasterConfig
    history: TitansConfig
    token_len: int = 16
    inputs: str = "levels"  # what a history token holds: "levels" (the scaled values) or "differences"
    # in training, the share of forecasts whose context is replaced by the "no history" vector, so that the
    # head cannot lean on the history alone (it still sees every window)
    context_dropout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.window, PatchForecasterConfig) or self.window.context_tokens < 1:
            raise ValueError("window must be a PatchForecasterConfig with context_tokens >= 1")
        if not isinstance(self.history, TitansConfig) or self.history.variant != "lmm":
            raise ValueError("history must be a TitansConfig with variant='lmm' (a memory-only backbone)")
        if self.history.dim != self.window.backbone.dim:
            raise ValueError(
                f"history.dim={self.history.dim} must equal the window's {self.window.backbone.dim}"
            )
        check_int("token_len", self.token_len, 1)
        if not 0.0 <= self.context_dropout < 1.0:
            raise ValueError(f"context_dropout must be in [0, 1), got {self.context_dropout!r}")
        if self.inputs not in HISTORY_INPUTS:
            raise ValueError(f"inputs must be one of {list(HISTORY_INPUTS)}, got {self.inputs!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "history": self.history.to_dict(),
            "token_len": self.token_len,
            "inputs": self.inputs,
            "context_dropout": self.context_dropout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryForecasterConfig:
        return cls(
            window=PatchForecasterConfig.from_dict(data["window"]),
            history=TitansConfig.from_dict(data["history"]),
            token_len=int(data["token_len"]),
            inputs=data.get("inputs", "levels"),
            context_dropout=float(data.get("context_dropout", 0.0)),
        )


@state_tree.register
@dataclass(frozen=True)
class HistoryState:
    """Where a batch of series stands in their histories.

    ``backbone``  the history backbone's state (positions kept at 0: a memory-only state does not use them);
    ``buffer``    ``[N, r]`` scaled rows after the last complete token, ``0 <= r < token_len``;
    ``context``   ``[N, K, dim]`` the outputs of the K newest complete tokens, oldest first (a learned
                  "no history" vector stands in for tokens before the first);
    ``previous``  ``[N, 1]`` the row before the buffer (0 before the first row), for the first difference.
    """

    backbone: BackboneState
    buffer: Tensor
    context: Tensor
    previous: Tensor

    def detach(self) -> HistoryState:
        return state_tree.map_tensors(lambda t: t.detach(), self)


class HistoryTitansForecaster(nn.Module):
    """A window forecaster whose extra token summarises the whole history of its series (module docs).

    Examples
    --------
    >>> model = HistoryTitansForecaster(config)                   # doctest: +SKIP
    >>> state = model.init_state(n_series)                         # doctest: +SKIP
    >>> _, state = model.advance(history_rows, state)              # doctest: +SKIP
    >>> model.forecast(last_windows, state.context)                # [N, H, Q]   # doctest: +SKIP
    """

    def __init__(self, config: HistoryForecasterConfig) -> None:
        super().__init__()
        if not isinstance(config, HistoryForecasterConfig):
            raise TypeError(f"config must be a HistoryForecasterConfig, got {type(config).__name__}")
        self.config = config
        dim = config.history.dim
        self.window = PatchTitansForecaster(config.window)
        self.embed = nn.Linear(config.token_len, dim)
        self.backbone = TitansBackbone(config.history)
        self.empty_context = nn.Parameter(torch.zeros(dim))

    @property
    def token_len(self) -> int:
        return self.config.token_len

    @property
    def context_tokens(self) -> int:
        return self.config.window.context_tokens

    def init_state(self, n: int) -> HistoryState:
        """The state of ``n`` series before their first row (gradients reach the initial memory)."""
        blocks = tuple(BlockState(memory=block.memory.init_state(n)) for block in self.backbone.blocks)
        ref = self.empty_context
        return HistoryState(
            backbone=BackboneState(blocks),
            buffer=ref.new_zeros(n, 0),
            context=ref.expand(n, self.context_tokens, -1),
            previous=ref.new_zeros(n, 1),
        )

    def advance(self, rows: Tensor, state: HistoryState) -> tuple[Tensor, HistoryState]:
        """Feed ``rows [N, k]`` (scaled values, oldest first) -> ``(outputs [N, n_new, dim], state)``.

        ``outputs`` are the backbone outputs of the tokens the rows completed (``n_new`` may be 0).
        """
        if rows.dim() != 2 or rows.shape[0] != state.buffer.shape[0]:
            raise ValueError(f"rows must be [N={state.buffer.shape[0]}, k], got {tuple(rows.shape)}")
        values = torch.cat([state.buffer.to(rows.dtype), rows], dim=1)
        p = self.token_len
        n_new = values.shape[1] // p
        outputs = [values.new_zeros(values.shape[0], 0, self.config.history.dim)]
        backbone, context = state.backbone, state.context
        previous = state.previous.to(rows.dtype)
        if n_new:
            done = values[:, : n_new * p]
            if self.config.inputs == "differences":
                done_in = done - torch.cat([previous, done[:, :-1]], dim=1)
            else:
                done_in = done
            tokens = self.embed(done_in.reshape(values.shape[0], n_new, p))
            previous = done[:, -1:]
            for start in range(0, n_new, _STREAM_PIECE):
                out, backbone = self.backbone(tokens[:, start : start + _STREAM_PIECE], backbone)
                outputs.append(out)
            backbone = state_tree.with_positions_zeroed(backbone)
            context = torch.cat([context.to(outputs[-1].dtype), *outputs[1:]], dim=1)[
                :, -self.context_tokens :
            ]
        new = HistoryState(backbone, values[:, n_new * p :], context, previous)
        return torch.cat(outputs, dim=1), new

    def contexts_at(self, outputs: Tensor, cutoffs: Tensor, before: Tensor | None = None) -> Tensor:
        """Contexts at ``cutoffs`` (rows seen, counted from the first row of ``outputs``; ``[N, M]`` or
        ``[M]``) from the outputs of consecutive tokens ``[N, T, dim]`` -> ``[N, M, K, dim]``.

        ``before [N, K, dim]``: the context when ``outputs`` start (default: the start of the series).
        """
        n, m, k = outputs.shape[0], cutoffs.shape[-1], self.context_tokens
        if before is None:
            before = self.empty_context.to(outputs.dtype).expand(n, k, -1)
        extended = torch.cat([before.to(outputs.dtype), outputs], dim=1)  # token j at k + j
        last = (cutoffs // self.token_len).expand(n, m).to(outputs.device)  # complete tokens at each cutoff
        if last.numel() and int(last.max()) > outputs.shape[1]:
            raise ValueError("a cutoff lies beyond the rows the outputs were computed from")
        index = last.unsqueeze(-1) + torch.arange(k, device=outputs.device)  # [N, M, K] into ``extended``
        flat = torch.gather(extended, 1, index.reshape(n, m * k, 1).expand(n, m * k, outputs.shape[-1]))
        return flat.reshape(n, m, k, outputs.shape[-1])

    def windows_before(self, values: Tensor, cutoffs: Tensor) -> Tensor:
        """The ``input_size`` rows before each cutoff: ``values [N, T]``, ``cutoffs [M]`` -> ``[N, M, L]``."""
        lookback = self.config.window.input_size
        return values[:, (cutoffs[:, None] + torch.arange(-lookback, 0)).to(values.device)]

    def forecast(self, windows: Tensor, context: Tensor) -> Tensor:
        """Scaled ``windows [N, L]``, ``context [N, K, dim]`` -> ``[N, H, Q]``, quantiles sorted."""
        if self.training and self.config.context_dropout > 0:
            dropped = torch.rand(context.shape[0], 1, 1, device=context.device) < self.config.context_dropout
            context = torch.where(dropped, self.empty_context.to(context.dtype).expand_as(context), context)
        return self.window(windows.unsqueeze(-1), context)[:, :, 0]

    def forecast_at(self, values: Tensor, cutoffs: np.ndarray, batch: int = 2048) -> Tensor:
        """Forecasts at every cutoff of every series, each conditioned on all rows before it.

        ``values [N, T]`` scaled rows from the first row of each series, ``cutoffs`` ints in
        ``[input_size, T]`` -> ``[N, M, H, Q]``. One pass over the history, then a batch of windows.
        """
        cut = torch.as_tensor(np.asarray(cutoffs, dtype=np.int64))
        lookback = self.config.window.input_size
        if cut.numel() and (int(cut.min()) < lookback or int(cut.max()) > values.shape[1]):
            raise ValueError(f"cutoffs must lie in [input_size={lookback}, {values.shape[1]}]")
        outputs, _ = self.advance(values, self.init_state(values.shape[0]))
        contexts = self.contexts_at(outputs, cut)  # [N, M, K, dim]
        preds, step = [], max(1, batch // values.shape[0])
        for start in range(0, len(cut), step):
            c = cut[start : start + step]
            windows = self.windows_before(values, c)  # [N, m, L]
            ctx = contexts[:, start : start + len(c)]
            y = self.forecast(windows.reshape(-1, lookback), ctx.reshape(-1, *ctx.shape[2:]))
            preds.append(y.reshape(values.shape[0], len(c), *y.shape[1:]))
        return torch.cat(preds, dim=1)


def build_history_config(window: PatchForecasterConfig, **history: Any) -> HistoryForecasterConfig:
    """A :class:`HistoryForecasterConfig` around ``window`` (with ``context_tokens`` history outputs).

    ``history`` options: ``token_len`` (rows per history token, default ``window.patch_len``), ``depth``
    (history blocks, default 1), ``memory`` (a dict overriding the window's memory options) and ``inputs``
    (:data:`HISTORY_INPUTS`, default ``"levels"``), ``context_dropout`` (0) and ``context_tokens``
    (K, the history outputs the window reads, default 1).
    """
    allowed = {"token_len", "depth", "memory", "inputs", "context_dropout", "context_tokens"}
    unknown = sorted(set(history) - allowed)
    if unknown:
        raise ValueError(f"unknown history option(s) {unknown}; allowed: {sorted(allowed)}")
    window = replace(window, context_tokens=history.get("context_tokens", 1))
    base = window.backbone
    memory = type(base.memory)(**(asdict(base.memory) | dict(history.get("memory") or {})))
    backbone = replace(base, variant="lmm", depth=history.get("depth", 1), memory=memory)
    token_len = history.get("token_len", window.patch_len)
    return HistoryForecasterConfig(
        window,
        backbone,
        token_len,
        history.get("inputs", "levels"),
        history.get("context_dropout", 0.0),
    )
