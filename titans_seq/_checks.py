"""Argument checks shared across the package: one wording for every "must be an integer" error."""

from __future__ import annotations


def check_int(
    name: str,
    value: object,
    minimum: int,
    maximum: int | None = None,
    *,
    types: type | tuple[type, ...] = int,
) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer in ``[minimum, maximum]``.

    ``bool`` is never accepted. ``types`` is ``int`` where the value ends up in JSON configs; pass
    ``numbers.Integral`` where numpy integers are fine too (estimator parameters set by grid searches).
    """
    bad = isinstance(value, bool) or not isinstance(value, types) or value < minimum
    if bad or (maximum is not None and value > maximum):
        allowed = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")


__all__ = ["check_int"]
