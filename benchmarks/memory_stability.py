"""Stability sweep of the neural memory at its largest allowed step size, with the default surprise clamp.

NeuralMemory(dim=32, heads=2, depth 2, default clamp max_grad_norm=1.0), gates forced to theta = max_lr
(0.1) and eta = 0.5 or 0.99, alpha at its default (0.001); 8192 tokens of random or repeated inputs
(the same token over and over, the adversarial case: every surprise of a chunk points the same way);
chunk sizes 1, 16 and 64. For each: whether the outputs are finite, the largest per-head Frobenius norm
of each memory layer's weights at the end, and the clamp's worst-case bound T theta tau / (1 - eta)
on how far the weights can move. ``--no-clamp`` shows what the same runs did before the clamp was a default.

Usage::

    python benchmarks/memory_stability.py [--no-clamp] [--tokens 8192]
"""

from __future__ import annotations

import argparse

import torch

from titans_seq import NeuralMemory


def sweep(tokens: int, clamp: float | None) -> list[str]:
    rows = [
        "| chunk | inputs | eta | finite | max |W_1| | max |W_2| | max |y| | bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for chunk in (1, 16, 64):
        for inputs in ("random", "repeated"):
            for eta_bias in (0.0, 4.6):
                torch.manual_seed(0)
                mem = NeuralMemory(dim=32, heads=2, chunk_size=chunk, max_grad_norm=clamp)
                with torch.no_grad():
                    mem.to_gates.weight.zero_()
                    mem.to_gates.bias[:2].fill_(12.0)  # theta = max_lr
                    mem.to_gates.bias[2:4].fill_(eta_bias)
                x = torch.randn(1, tokens, 32, generator=torch.Generator().manual_seed(2))
                if inputs == "repeated":
                    x = x[:, :1].expand_as(x)
                with torch.no_grad():
                    y, state = mem(x)
                eta = torch.sigmoid(torch.tensor(eta_bias)).item()
                norms = [w.flatten(2).norm(dim=-1).amax().item() for w in state.weights]
                bound = "none" if clamp is None else f"{tokens * mem.max_lr * clamp / (1 - eta):.0f}"
                rows.append(
                    f"| {chunk} | {inputs} | {eta:.2f} | {bool(torch.isfinite(y).all())} | "
                    f"{norms[0]:.3g} | {norms[1]:.3g} | {y.abs().max().item():.3g} | {bound} |"
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--no-clamp", action="store_true", help="max_grad_norm=None (the old default)")
    args = parser.parse_args()
    print("\n".join(sweep(args.tokens, None if args.no_clamp else 1.0)))


if __name__ == "__main__":
    main()
