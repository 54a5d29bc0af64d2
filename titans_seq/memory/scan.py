"""The chunk-by-chunk scan of the memory, with a hand-written backward pass.

Autograd over the scan records ~35 tiny ops per chunk and spends most of its time on bookkeeping (about
80% per-op overhead, measured on a 2-core CPU; see the profiles in
``benchmarks/results/memory_speed_profile_c64_*.txt``). Here the forward runs as plain tensor ops and
keeps only each chunk's start weights; the backward walks the chunks in reverse, recomputes the chunk's
activations and applies the derivative of the unrolled update written out by hand, including the
second-order terms (the surprise is itself a gradient, so its derivative needs gelu''). ``tests/memory``
checks it against the autograd-differentiated per-token reference. Derivation: ``memory/README.md``.

Two reads. ``read=None`` (chunk-start read): every query of a chunk reads the chunk-start weights, and
its rows go through the layers together with the key rows. With a :class:`TokenRead` (the per-token
read), query ``t`` reads ``W_t = a_t W_0 + b_t S_0 - sum_{i<=t} m_{ti} u_i``, layer after layer, in the
dual form ``Z = a (H W_0) + b (H S_0) + H R - (m * (H X^T)) D``: no per-token weight copy.

Shapes (N = batch x heads, n chunks of C tokens, d = head width):
    rows ``[n, N, 2C, d]`` (each chunk's queries, then its keys) for the chunk-start read, or
    ``[n, N, C, d]`` (keys only) with queries in ``TokenRead.queries`` ``[n, N, C, d]``;
    values ``[n, N, C, d]``; coef ``[n, 2, N, C, 1]`` (c_i, w_i); keep, carry, decay ``[n, N, 1, 1]``;
    token read: mix ``[n, N, C, C]`` (m_{ti}), a, b ``[n, N, C, 1]``;
    weights / momentum: one ``[N, d_in, d_out]`` per memory layer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class TokenRead(NamedTuple):
    """What the per-token read needs per chunk (leading axis n; see the module docstring)."""

    queries: Tensor  # [n, N, C, d]
    mix: Tensor  # [n, N, C, C]: m_{ti}, the weight of token i's surprise in W_t (zero for i > t)
    start: Tensor  # [n, N, C, 1]: a_t, the share of W_0 left in W_t
    carry: Tensor | None  # [n, N, C, 1]: b_t, the share of S_0 in W_t (None without momentum)


def _gelu_parts(z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(gelu(z), gelu'(z), phi(z))`` for the exact GELU; gelu''(z) = phi(z) (2 - z^2) where needed."""
    cdf = torch.erf(z * _INV_SQRT2).add_(1.0).mul_(0.5)
    pdf = torch.exp(z * z * -0.5).mul_(_INV_SQRT_2PI)
    act = z * cdf
    slope = cdf.addcmul_(z, pdf)  # Phi(z) + z phi(z), in place of cdf
    return act, slope, pdf


def _skipped(layer: int, depth: int) -> bool:
    """Whether ``layer`` of a memory of ``depth`` layers has the skip path (every layer but a deep memory's
    last; see mlp.py)."""
    return layer < depth - 1


def _add_skip_(out: Tensor, inp: Tensor) -> Tensor:
    """``out += inp R`` in place, R the rectangular identity (mlp.skip); also its transpose, by symmetry."""
    shared = min(out.shape[-1], inp.shape[-1])
    out[..., :shared] += inp[..., :shared]
    return out


def _forward_chunk(weights, rows, values):
    """Forward of ``rows`` at the chunk-start weights and the per-layer deltas of the key rows.

    ``rows [N, R, d]`` ends with the chunk's C key rows (the chunk-start read puts its query rows
    first, so one matmul per layer serves both). Returns ``(out, hidden_inputs, deltas, pre_acts, slopes,
    pdfs)``: ``out`` the outputs of the non-key rows, ``hidden_inputs[l]`` layer l's input over all rows,
    ``deltas[l]`` the back-propagated inner-loss error at layer l's output (key rows), and
    ``pre_acts``/``slopes``/``pdfs`` z, gelu'(z), phi(z) of each hidden layer (the backward pass needs them).
    """
    first_key = rows.shape[1] - values.shape[1]
    depth = len(weights)
    h = rows
    hidden_inputs, pre_acts, slopes, pdfs = [h], [], [], []
    for i, w in enumerate(weights):
        if i > 0:
            act, slope, pdf = _gelu_parts(h)
            pre_acts.append(h)
            slopes.append(slope)
            pdfs.append(pdf)
            h = act
            hidden_inputs.append(h)
        z = torch.bmm(h, w)
        h = _add_skip_(z, h) if _skipped(i, depth) else z
    delta = (h[:, first_key:] - values).mul_(2.0)  # d ||y - v||^2 / dy
    deltas = [delta]
    for i in range(len(weights) - 1, 0, -1):
        back = torch.bmm(delta, weights[i].transpose(1, 2))
        delta = (_add_skip_(back, delta) if _skipped(i, depth) else back).mul_(slopes[i - 1][:, first_key:])
        deltas.append(delta)
    deltas.reverse()
    return h[:, :first_key], hidden_inputs, deltas, pre_acts, slopes, pdfs


def _read_tokens(weights, momentum, queries, inputs_k, deltas, mix, start, carry, finish=True):
    """The per-token read ``y_t = M_{W_t}(q_t)`` of one chunk in the dual form.

    Layer l: ``Z = a (H W_0) + b (H S_0) + H R - (mix * (H X^T)) D``, with X, D the key rows' inputs and
    deltas at the chunk-start weights (``mix`` already holds the clamp's factors). Returns ``y`` and, per
    layer, ``(H, H X^T, H W_0, H S_0, gelu'(Z_prev))`` for the backward pass (which passes
    ``finish=False``: it needs the cache, not the last layer's output).
    """
    depth = len(weights)
    h, z, slope, cache = queries, queries, None, []
    for i, (w, s, x, d) in enumerate(zip(weights, momentum, inputs_k, deltas, strict=True)):
        if i > 0:
            h, slope, _ = _gelu_parts(z)
        scores = torch.bmm(h, x.transpose(1, 2))  # [N, C, C]: <h_t, x_i>
        hs = None
        if carry is None:
            hw = torch.bmm(h, w)
            z = hw * start
        else:  # H W_0 and H S_0 from one matmul
            hw, hs = torch.bmm(h, torch.cat([w, s], dim=-1)).split(w.shape[-1], dim=-1)
            z = torch.addcmul(hw * start, hs, carry)
        cache.append((h, scores, hw, hs, slope))
        if i == len(weights) - 1 and not finish:
            break
        z.sub_(torch.bmm(mix * scores, d))
        if _skipped(i, depth):
            _add_skip_(z, h)
    return z, cache


def _read_tokens_backward(weights, momentum, inputs_k, deltas, mix, start, carry, cache, grad_y):
    """Gradients of :func:`_read_tokens`: to the queries, W_0, S_0, X, D, mix, a and b."""
    depth = len(weights)
    g_z = grad_y
    g_w, g_s, g_x, g_d = [], [], [], []
    g_mix = torch.zeros_like(mix)
    g_start = torch.zeros_like(start)
    g_carry = None if carry is None else torch.zeros_like(carry)
    for i in range(len(weights) - 1, -1, -1):
        h, scores, hw, hs, slope = cache[i]
        w, s, x, d = weights[i], momentum[i], inputs_k[i], deltas[i]
        mixed = mix * scores
        g_d.append(-torch.bmm(mixed.transpose(1, 2), g_z))
        g_mixed = -torch.bmm(g_z, d.transpose(1, 2))  # [N, C, C]
        g_mix.addcmul_(g_mixed, scores)
        g_scores = g_mixed.mul_(mix)
        g_start += (hw * g_z).sum(-1, keepdim=True)
        if carry is None:
            g_za = g_z * start
            g_h = torch.bmm(g_za, w.transpose(1, 2))
            g_w.append(torch.bmm(h.transpose(1, 2), g_za))
            g_s.append(None)
        else:  # the two matmuls of H W_0 and H S_0 back as one each
            g_ab = torch.cat([g_z * start, g_z * carry], dim=-1)
            g_h = torch.bmm(g_ab, torch.cat([w, s], dim=-1).transpose(1, 2))
            g_ws = torch.bmm(h.transpose(1, 2), g_ab)
            g_w.append(g_ws[..., : w.shape[-1]])
            g_s.append(g_ws[..., w.shape[-1] :])
            g_carry += (hs * g_z).sum(-1, keepdim=True)
        g_h.add_(torch.bmm(g_scores, x))
        if _skipped(i, depth):
            _add_skip_(g_h, g_z)
        g_x.append(torch.bmm(g_scores.transpose(1, 2), h))
        if i > 0:
            g_z = g_h * slope
    for parts in (g_w, g_s, g_x, g_d):
        parts.reverse()
    return g_h, g_w, g_s, g_x, g_d, g_mix, g_start, g_carry


def _clamp_scale(inputs_k, deltas, max_grad_norm):
    """Per-token factor min(1, tau / ||u_t||) ``[N, C, 1]``, ||u_t||^2 = sum_l ||x_l||^2 ||delta_l||^2.

    Also returns rho = ||u_t|| ``[N, C]`` and the per-layer squared row norms ``(|x_l|^2, |d_l|^2)``
    ``[N, C, 1]``, which the backward pass reuses.
    """
    norms = [
        (x.square().sum(-1, keepdim=True), d.square().sum(-1, keepdim=True))
        for x, d in zip(inputs_k, deltas, strict=True)
    ]
    sq = sum(nx * nd for nx, nd in norms).squeeze(-1)
    rho = sq.clamp_min(1e-24).sqrt()
    return (max_grad_norm / rho).clamp(max=1.0).unsqueeze(-1), rho, norms


def _weighted_gradient_sums(x: Tensor, d: Tensor, c: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``X^T diag(c) D`` and ``X^T diag(w) D`` (``x [N, C, i]``, ``d [N, C, o]``, ``c, w [N, C, 1]``).

    Both sums come from one matmul; the coefficients scale whichever operand is narrower, and the two
    results are contiguous blocks of its output (a broadcast to a trailing axis of 2 was 15x slower).
    """
    d_in, d_out = x.shape[-1], d.shape[-1]
    if d_in <= d_out:
        sums = torch.bmm(torch.cat([x * c, x * w], dim=-1).transpose(1, 2), d)  # [N, 2i, o]
        return sums[:, :d_in], sums[:, d_in:]
    sums = torch.bmm(x.transpose(1, 2), torch.cat([d * c, d * w], dim=-1))  # [N, i, 2o]
    return sums[..., :d_out], sums[..., d_out:]


def _update(weights, momentum, inputs_k, deltas, c, w, keep, carry, decay):
    """``W' = keep W + carry S - X^T diag(c) D`` and ``S' = decay S - X^T diag(w) D``, per layer."""
    new_w, new_s = [], []
    for weight, mom, x, d in zip(weights, momentum, inputs_k, deltas, strict=True):
        grad_w, grad_s = _weighted_gradient_sums(x, d, c, w)
        new_w.append((keep * weight).addcmul_(carry, mom).sub_(grad_w))
        new_s.append((decay * mom).sub_(grad_s))
    return new_w, new_s


def _forward_step(weights, momentum, rows, values, coef, keep, carry, decay, read, max_grad_norm):
    """One chunk: read (chunk-start or per-token), then apply the chunk's unrolled update."""
    size = values.shape[1]
    retrieved, hidden_inputs, deltas, _, _, _ = _forward_chunk(weights, rows, values)
    inputs_k = [h[:, -size:] for h in hidden_inputs]
    c, w = coef.unbind(0)
    scale = None
    if max_grad_norm is not None:
        scale = _clamp_scale(inputs_k, deltas, max_grad_norm)[0]
        c, w = c * scale, w * scale
    if read is not None:
        queries, mix, start, token_carry = read
        if scale is not None:
            mix = mix * scale.transpose(1, 2)  # token i's surprise is clamped wherever it is read
        retrieved, _ = _read_tokens(weights, momentum, queries, inputs_k, deltas, mix, start, token_carry)
    weights, momentum = _update(weights, momentum, inputs_k, deltas, c, w, keep, carry, decay)
    return retrieved, weights, momentum


_COMPILED: dict[str, object] = {}


def _step_functions(compiled: bool):
    """The per-chunk forward and backward, eager or compiled once per process with ``torch.compile``.

    Compiling fuses the elementwise work and removes most per-op dispatch (measured 2-3x per chunk on
    CPU); it needs a C++ compiler on CPU (Triton on GPU) and costs seconds of warm-up per new shape.
    """
    if not compiled:
        return _forward_step, _backward_chunk
    if not _COMPILED:
        # every (chunk size, read, clamp, dtype) is a graph of its own; dynamo's default limit of 8 graphs
        # per function made the compiled kernel fall back to eager in a table of 2 chunk sizes x 2 reads
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        _COMPILED["forward"] = torch.compile(_forward_step, dynamic=False)
        _COMPILED["backward"] = torch.compile(_backward_chunk, dynamic=False)
    return _COMPILED["forward"], _COMPILED["backward"]


def _chunk_read(read: TokenRead | None, n: int) -> TokenRead | None:
    return None if read is None else TokenRead(*(None if t is None else t[n] for t in read))


def scan_forward(
    rows,
    values,
    coef,
    keep,
    carry,
    decay,
    read,
    weights,
    momentum,
    max_grad_norm,
    keep_starts,
    compiled=False,
):
    """Run every chunk; return outputs ``[n, N, C, d]``, final weights/momentum and (optionally) starts."""
    step = _step_functions(compiled)[0]
    starts, outputs = [], []
    weights, momentum = list(weights), list(momentum)
    for n in range(values.shape[0]):
        if keep_starts:
            starts.append((weights, momentum))
        retrieved, weights, momentum = step(
            weights, momentum, rows[n], values[n], coef[n], keep[n], carry[n], decay[n], _chunk_read(read, n),
            max_grad_norm,
        )  # fmt: skip
        outputs.append(retrieved)
    return torch.stack(outputs), list(weights), list(momentum), starts


class ChunkScan(torch.autograd.Function):
    """Differentiable chunk scan.

    ``apply(rows, v, coef, keep, carry, decay, queries, mix, start, token_carry, max_grad_norm, compiled,
    depth, *W, *S) -> (out, *W_end, *S_end)``; ``queries, mix, start, token_carry`` are the fields of a
    :class:`TokenRead`, all ``None`` for the chunk-start read.
    """

    @staticmethod
    def forward(ctx, rows, values, coef, keep, carry, decay, *rest):
        queries, mix, start, token_carry, max_grad_norm, compiled, depth = rest[:7]
        state = rest[7:]
        weights, momentum = state[:depth], state[depth:]
        read = None if queries is None else TokenRead(queries, mix, start, token_carry)
        out, w_end, s_end, starts = scan_forward(
            rows, values, coef, keep, carry, decay, read, weights, momentum, max_grad_norm, True, compiled
        )
        ctx.save_for_backward(rows, values, coef, keep, carry, decay, queries, mix, start, token_carry)
        ctx.starts, ctx.max_grad_norm, ctx.depth, ctx.compiled = starts, max_grad_norm, depth, compiled
        return (out, *w_end, *s_end)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, *grad_state):
        rows, values, coef, keep, carry, decay, queries, mix, start, token_carry = ctx.saved_tensors
        read = None if queries is None else TokenRead(queries, mix, start, token_carry)
        depth, tau = ctx.depth, ctx.max_grad_norm
        backward_chunk = _step_functions(ctx.compiled)[1]
        # autograd materialises unused output gradients as zeros (ctx.set_materialize_grads default)
        gw_next, gs_next = list(grad_state[:depth]), list(grad_state[depth:])
        g_rows, g_v = torch.empty_like(rows), torch.empty_like(values)
        g_coef, g_keep, g_carry, g_decay = (torch.empty_like(t) for t in (coef, keep, carry, decay))
        g_read = None if read is None else [None if t is None else torch.empty_like(t) for t in read]
        for n in range(values.shape[0] - 1, -1, -1):
            weights, momentum = ctx.starts[n]
            gw_next, gs_next, parts, read_parts = backward_chunk(
                weights, momentum, rows[n], values[n], coef[n], keep[n], carry[n], decay[n],
                _chunk_read(read, n), tau, grad_out[n], gw_next, gs_next,
            )  # fmt: skip
            g_rows[n], g_v[n], g_coef[n], g_keep[n], g_carry[n], g_decay[n] = parts
            if read is not None:
                for buffer, part in zip(g_read, read_parts, strict=True):
                    if buffer is not None:
                        buffer[n] = part
        ctx.starts = None
        g_read = [None] * 4 if g_read is None else g_read
        return (g_rows, g_v, g_coef, g_keep, g_carry, g_decay, *g_read, None, None, None, *gw_next, *gs_next)


def _inner(a: Tensor, b: Tensor) -> Tensor:
    """Per-row Frobenius inner product of ``[N, i, o]`` tensors, as ``[N, 1, 1]``."""
    return (a * b).sum(dim=(-2, -1), keepdim=True)


def _backward_chunk(
    weights, momentum, rows, values, coef, keep, carry, decay, read, tau, grad_y_q, gw_next, gs_next
):
    """Gradients of one chunk, given the gradients flowing into its end state (see module docstring)."""
    depth = len(weights)
    size = values.shape[1]
    first_key = rows.shape[1] - size
    _, hidden_inputs, deltas, pre_acts, slopes, pdfs = _forward_chunk(weights, rows, values)
    inputs_k = [h[:, first_key:] for h in hidden_inputs]
    c, w = coef.unbind(0)  # [N, C, 1] each
    if tau is not None:
        scale, rho, norms = _clamp_scale(inputs_k, deltas, tau)
        c_eff, w_eff = c * scale, w * scale
    else:
        c_eff, w_eff = c, w

    # the state update: W' = keep W + carry S - Gc,  S' = decay S - Gw
    g_keep = sum(_inner(wt, g) for wt, g in zip(weights, gw_next, strict=True))
    g_carry = sum(_inner(s, g) for s, g in zip(momentum, gw_next, strict=True))
    g_decay = sum(_inner(s, g) for s, g in zip(momentum, gs_next, strict=True))
    g_weights = [keep * g for g in gw_next]
    g_momentum = [torch.addcmul(decay * gs, carry, gw) for gs, gw in zip(gs_next, gw_next, strict=True)]

    # G_l = X_l^T diag(c) D_l (and w): gradients to the layer inputs X, the deltas D and the coefficients
    g_inputs, g_deltas = [], []
    g_c_eff, g_w_eff = 0.0, 0.0
    for x, d, gw, gs in zip(inputs_k, deltas, gw_next, gs_next, strict=True):
        g_both = -torch.cat([gw, gs], dim=-1)  # [N, d_in, 2 d_out]: gradient of (Gc | Gw)
        r_c, r_w = torch.bmm(x, g_both).split(d.shape[-1], dim=-1)  # X gGc, X gGw: [N, C, d_out]
        g_inputs.append(torch.bmm(torch.cat([d * c_eff, d * w_eff], dim=-1), g_both.transpose(1, 2)))
        g_deltas.append(torch.addcmul(r_c * c_eff, r_w, w_eff))
        g_c_eff = g_c_eff + (r_c * d).sum(-1, keepdim=True)
        g_w_eff = g_w_eff + (r_w * d).sum(-1, keepdim=True)
    g_scale = None
    if tau is not None:
        g_coef = torch.stack([g_c_eff * scale, g_w_eff * scale])
        g_scale = (g_c_eff * c + g_w_eff * w).squeeze(-1)
    else:
        g_coef = torch.stack([g_c_eff, g_w_eff])

    # the per-token read: its gradients reach the start state, the key rows' X and D, and its coefficients
    read_parts = None
    if read is not None:
        queries, mix, start, token_carry = read
        mix_eff = mix if tau is None else mix * scale.transpose(1, 2)
        _, cache = _read_tokens(
            weights, momentum, queries, inputs_k, deltas, mix_eff, start, token_carry, finish=False
        )
        g_q, g_w0, g_s0, g_x, g_d, g_mix_eff, g_start, g_token_carry = _read_tokens_backward(
            weights, momentum, inputs_k, deltas, mix_eff, start, token_carry, cache, grad_y_q
        )
        for layer in range(depth):
            g_weights[layer] = g_weights[layer] + g_w0[layer]
            if g_s0[layer] is not None:
                g_momentum[layer] = g_momentum[layer] + g_s0[layer]
            g_inputs[layer] = g_inputs[layer] + g_x[layer]
            g_deltas[layer] = g_deltas[layer] + g_d[layer]
        if tau is not None:
            g_mix = g_mix_eff * scale.transpose(1, 2)
            g_scale = g_scale + (g_mix_eff * mix).sum(1)
        else:
            g_mix = g_mix_eff
        read_parts = (g_q, g_mix, g_start, g_token_carry)

    if tau is not None:
        # where the clamp is active, scale = tau / rho and rho^2 = sum_l |x_l|^2 |d_l|^2
        kappa = torch.where(rho > tau, -g_scale * tau / rho.pow(3), torch.zeros_like(rho)).unsqueeze(-1)
        for i, (x, d) in enumerate(zip(inputs_k, deltas, strict=True)):
            g_inputs[i] = g_inputs[i] + (kappa * norms[i][1]) * x
            g_deltas[i] = g_deltas[i] + (kappa * norms[i][0]) * d

    # the delta chain, D_l = (D_{l+1} (W_{l+1} + R_{l+1})^T) * gelu'(Z_l), walked from the first layer up
    g_pre_k = [None] * depth  # second-order gradient reaching Z_l (key rows) through gelu'
    for layer in range(depth - 1):
        z_k = pre_acts[layer][:, first_key:]
        p = torch.bmm(deltas[layer + 1], weights[layer + 1].transpose(1, 2))
        if _skipped(layer + 1, depth):
            _add_skip_(p, deltas[layer + 1])
        g_p = g_deltas[layer] * slopes[layer][:, first_key:]
        g_pre_k[layer] = g_deltas[layer] * p * pdfs[layer][:, first_key:] * (2.0 - z_k * z_k)
        g_deltas[layer + 1] = g_deltas[layer + 1] + torch.bmm(g_p, weights[layer + 1])
        if _skipped(layer + 1, depth):
            _add_skip_(g_deltas[layer + 1], g_p)
        g_weights[layer + 1] = g_weights[layer + 1] + torch.bmm(g_p.transpose(1, 2), deltas[layer + 1])
    g_out_k = 2.0 * g_deltas[-1]  # D_L = 2 (Y_k - v)
    g_values = -g_out_k

    # the forward chain over the rows (query rows too, for the chunk-start read)
    g_z = g_out_k if read is not None else torch.cat([grad_y_q, g_out_k], dim=1)
    for layer in range(depth - 1, -1, -1):
        h = hidden_inputs[layer]
        g_weights[layer] = g_weights[layer] + torch.bmm(h.transpose(1, 2), g_z)
        g_h = torch.bmm(g_z, weights[layer].transpose(1, 2))
        if _skipped(layer, depth):
            _add_skip_(g_h, g_z)
        g_h[:, first_key:] += g_inputs[layer]
        if layer > 0:
            g_z = g_h * slopes[layer - 1]
            g_z[:, first_key:] += g_pre_k[layer - 1]
    return g_weights, g_momentum, (g_h, g_values, g_coef, g_keep, g_carry, g_decay), read_parts
