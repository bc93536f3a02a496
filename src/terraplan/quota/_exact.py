"""Exact arithmetic for money: rational shares, half-up rounding and largest-remainder splits.

Quotas must add up to the cent, so every share is kept as a :class:`fractions.Fraction` until the
single rounding step. Floats given by users (weights, seasonality, caps) are read through their
decimal representation (``0.22`` is ``11/50``, not the nearest binary double) so hand-checked
examples stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from numbers import Rational

from terraplan.errors import ParameterError

Number = int | float | Fraction | Decimal | str


def to_fraction(x: Number | Rational, name: str = "value") -> Fraction:
    """Exact rational value of ``x``; floats go through ``repr`` (their shortest decimal form)."""
    if isinstance(x, bool):
        raise ParameterError(f"{name} must be a number. Got {x!r}.")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            raise ParameterError(f"{name} must be finite. Got {x!r}.")
        return Fraction(repr(x))
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ParameterError(f"{name} must be finite. Got {x!r}.")
        return Fraction(x)
    if isinstance(x, str):
        return Fraction(Decimal(x))
    if isinstance(x, Rational):
        return Fraction(int(x.numerator), int(x.denominator))
    # numpy scalars and other numerics: go through float/int
    try:
        if float(x) == int(x):
            return Fraction(int(x))
        return Fraction(repr(float(x)))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a number. Got {x!r}.") from exc


def round_half_up(x: Fraction) -> int:
    """Nearest integer, halves away from zero (money convention, not banker's rounding)."""
    if x >= 0:
        return int((x + Fraction(1, 2)).__floor__())
    return -int((-x + Fraction(1, 2)).__floor__())


def largest_remainder(
    total: int, exact: Sequence[Fraction], keys: Sequence[str] | None = None
) -> list[int]:
    """Round ``exact`` to integers that sum to ``total``, each the floor or the ceiling.

    Every value is floored; the units left over go one each to the values ranked first by
    larger fractional part, then larger exact value, then ``keys`` ascending (position when
    ``keys`` is omitted). ``sum(exact)`` must equal ``total``.

    Examples
    --------
    >>> largest_remainder(7, [Fraction(7 * 5, 10), Fraction(7 * 3, 10), Fraction(7 * 2, 10)])
    [4, 2, 1]
    """
    n = len(exact)
    if keys is not None and len(keys) != n:
        raise ParameterError("largest_remainder: keys must have one entry per value")
    if sum(exact, Fraction(0)) != total:
        raise ParameterError(
            f"largest_remainder: the exact values sum to {float(sum(exact, Fraction(0)))}, "
            f"not to the total {total}"
        )
    floors = [int(x.__floor__()) for x in exact]
    left = total - sum(floors)
    if left:
        order = sorted(
            range(n),
            key=lambda i: (-(exact[i] - floors[i]), -exact[i], keys[i] if keys else "", i),
        )
        for i in order[:left]:
            floors[i] += 1
    return floors


def apportion(
    total: int, weights: Sequence[Number], keys: Sequence[str] | None = None
) -> list[int]:
    """Split the integer ``total`` in proportion to non-negative ``weights`` (largest remainder).

    Examples
    --------
    >>> apportion(800, [1, 1, 1])
    [267, 267, 266]
    """
    w = [to_fraction(x, "weight") for x in weights]
    if any(x < 0 for x in w):
        raise ParameterError("apportion: weights must be >= 0")
    tw = sum(w, Fraction(0))
    if tw == 0:
        if total == 0:
            return [0] * len(w)
        raise ParameterError(f"apportion: cannot split {total} over weights that sum to 0")
    return largest_remainder(total, [Fraction(total) * x / tw for x in w], keys)


__all__ = ["Number", "apportion", "largest_remainder", "round_half_up", "to_fraction"]
