"""The payout curve: one piecewise-linear, non-decreasing shape f(a), a multiple of TI.

Breakpoints ``0 = a_0 < a_1 < … < a_K`` cut attainment into half-open bands ``[a_k, a_{k+1})``
(the last band is unbounded); band k pays the marginal multiplier ``m_k`` per unit of attainment;
an optional jump ``J_k ≥ 0`` is paid on reaching ``a_k`` (gates, kickers, retroactive tiers); an
optional cap ``f_max`` bounds the payout. With f(1) = 1 a rep at quota earns exactly TI. The shape
covers thresholds (m = 0 below), decelerators (m < 1), accelerators (m > 1) and caps.

Internally the capped curve is reduced to *knots* ``c_j`` with the slope after each knot and the
jump at it, so that ``f(a) = Σ Δs_j·(a − c_j)⁺ + Σ J_j·1[a ≥ c_j]`` — a sum of call options and
digitals, which is what the closed-form cost uses. Evaluation exists in exact rationals (payout
statements, to the cent) and vectorised floats (simulation).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from terraplan.errors import ParameterError
from terraplan.quota._exact import round_half_up, to_fraction
from terraplan.quota.attainment import call_value, prob_at_least

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Knots:
    """Right-continuous knot form of a capped curve: on ``[c_j, c_{j+1})``
    ``f(a) = value_j + slope_j·(a − c_j)``; ``jump_j`` is included in ``value_j``."""

    at: tuple[Fraction, ...]
    value: tuple[Fraction, ...]
    slope: tuple[Fraction, ...]
    jump: tuple[Fraction, ...]


@dataclass(frozen=True, slots=True)
class Cliff:
    """A discontinuity of the payout: at ``attainment`` pay jumps by ``jump`` cents; ``step`` is
    the pay difference between ``attainment`` and one ``step_width`` below it (cents)."""

    attainment: float
    jump: int
    step: int
    step_width: float


@dataclass(frozen=True, slots=True)
class PayoutCurve:
    """Piecewise-linear payout curve (multiple of TI) with bands, jumps and an optional cap.

    Parameters
    ----------
    breakpoints : attainment breakpoints, starting at 0, strictly increasing
    multipliers : marginal multiplier of each band ``[a_k, a_{k+1})`` (last band unbounded), ≥ 0
    jumps : payout added on reaching each breakpoint (≥ 0; the one at 0 must be 0). Default none.
    cap : maximum payout as a multiple of TI (``None`` = uncapped)
    at_quota_is_one : require f(1) = 1 (default; to 1e-9). Retroactive tier plans break it.
    """

    breakpoints: tuple[float, ...]
    multipliers: tuple[float, ...]
    jumps: tuple[float, ...] = ()
    cap: float | None = None
    at_quota_is_one: bool = True
    _knots: Knots | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        a = tuple(float(x) for x in self.breakpoints)
        m = tuple(float(x) for x in self.multipliers)
        j = tuple(float(x) for x in self.jumps) if self.jumps else (0.0,) * len(a)
        object.__setattr__(self, "breakpoints", a)
        object.__setattr__(self, "multipliers", m)
        object.__setattr__(self, "jumps", j)
        if not a or a[0] != 0.0:
            raise ParameterError(f"payout breakpoints must start at 0. Got {a}.")
        if any(not math.isfinite(x) for x in a + m + j):
            raise ParameterError("payout breakpoints, multipliers and jumps must be finite")
        if any(y <= x for x, y in zip(a, a[1:], strict=False)):
            raise ParameterError(f"payout breakpoints must be strictly increasing. Got {a}.")
        if len(m) != len(a) or len(j) != len(a):
            raise ParameterError(
                f"need one multiplier and one jump per band ({len(a)}); got {len(m)} multipliers "
                f"and {len(j)} jumps")
        if any(0 < x < 1e-9 for x in m + j):
            raise ParameterError("multipliers and jumps must be 0 or at least 1e-9")
        if any(x < 0 for x in m):
            raise ParameterError(f"multipliers must be >= 0 (f non-decreasing). Got {m}.")
        if any(x < 0 for x in j):
            raise ParameterError(f"jumps must be >= 0 (f non-decreasing). Got {j}.")
        if j[0] != 0:
            raise ParameterError("the jump at attainment 0 must be 0 (that is a fixed payment)")
        if self.cap is not None and not (self.cap > 0 and math.isfinite(self.cap)):
            raise ParameterError(f"cap must be > 0. Got {self.cap}.")
        object.__setattr__(self, "_knots", self._compute_knots())
        if self.at_quota_is_one:
            # exact for decimal inputs; the tolerance admits multipliers that come from an LP
            f1 = self.value_exact(Fraction(1))
            if abs(f1 - 1) > Fraction(1, 10**9):
                raise ParameterError(
                    f"the payout curve must pay exactly 1x TI at quota (f(1) = 1). "
                    f"Got f(1) = {float(f1):.6g}.")

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_tiers(
        cls, tiers: Sequence[tuple[float, float]], cap: float | None = None,
        kickers: Sequence[tuple[float, float]] = (),
    ) -> PayoutCurve:
        """Marginal tiers ``[(threshold, multiplier), …]`` starting at 0; ``kickers`` are
        ``(attainment, jump)`` pairs at tier thresholds."""
        a = [float(t) for t, _ in tiers]
        m = [float(r) for _, r in tiers]
        j = [0.0] * len(a)
        for at, size in kickers:
            if float(at) not in a:
                raise ParameterError(f"kicker at {at} is not a tier threshold {a}")
            j[a.index(float(at))] += float(size)
        return cls(tuple(a), tuple(m), tuple(j), cap)

    @classmethod
    def linear(cls, cap: float | None = None) -> PayoutCurve:
        """1× TI per unit of attainment (commission at the base rate)."""
        return cls((0.0,), (1.0,), cap=cap)

    @classmethod
    def accelerator(cls, multiplier: float, cap: float | None = None) -> PayoutCurve:
        """Linear to quota, then ``multiplier`` × above quota."""
        return cls((0.0, 1.0), (1.0, float(multiplier)), cap=cap)

    @classmethod
    def retroactive(
        cls, tiers: Sequence[tuple[float, float]], cap: float | None = None
    ) -> PayoutCurve:
        """Retroactive tiers: once attainment reaches a tier, its rate applies to *all* of it.

        ``f(a) = r_k·a`` on ``[t_k, t_{k+1})``, i.e. marginal multipliers ``r_k`` plus a jump
        ``(r_k − r_{k−1})·t_k`` at each threshold — the cliffs :meth:`cliffs` reports.
        """
        t = [float(x) for x, _ in tiers]
        r = [float(y) for _, y in tiers]
        if any(y < x for x, y in zip(r, r[1:], strict=False)):
            raise ParameterError("retroactive rates must be non-decreasing (pay would fall)")
        jumps = [0.0] + [(r[k] - r[k - 1]) * t[k] for k in range(1, len(t))]
        f = cls(tuple(t), tuple(r), tuple(jumps), cap, at_quota_is_one=False)
        return f

    # -- exact structure ------------------------------------------------------------------------
    def knots(self) -> Knots:
        """Capped knot form (exact rationals), computed once at construction."""
        assert self._knots is not None
        return self._knots

    def _compute_knots(self) -> Knots:
        a = [to_fraction(x) for x in self.breakpoints]
        m = [to_fraction(x) for x in self.multipliers]
        j = [to_fraction(x) for x in self.jumps]
        cap = None if self.cap is None else to_fraction(self.cap)
        at: list[Fraction] = []
        val: list[Fraction] = []
        slope: list[Fraction] = []
        jump: list[Fraction] = []
        f = Fraction(0)
        for k in range(len(a)):
            left = f
            f = left + j[k]
            if cap is not None and f >= cap:
                at.append(a[k])
                val.append(cap)
                slope.append(Fraction(0))
                jump.append(cap - left)
                return Knots(tuple(at), tuple(val), tuple(slope), tuple(jump))
            at.append(a[k])
            val.append(f)
            slope.append(m[k])
            jump.append(j[k])
            end = a[k + 1] if k + 1 < len(a) else None
            if cap is not None and m[k] > 0:
                reach = a[k] + (cap - f) / m[k]
                if end is None or reach < end:
                    at.append(reach)
                    val.append(cap)
                    slope.append(Fraction(0))
                    jump.append(Fraction(0))
                    return Knots(tuple(at), tuple(val), tuple(slope), tuple(jump))
            if end is not None:
                f = f + m[k] * (end - a[k])
        return Knots(tuple(at), tuple(val), tuple(slope), tuple(jump))

    @property
    def cap_attainment(self) -> float | None:
        """Attainment at which the cap is reached (``None`` if never)."""
        if self.cap is None:
            return None
        k = self.knots()
        if k.value[-1] == to_fraction(self.cap) and k.slope[-1] == 0:
            return float(k.at[-1])
        return None

    def value_exact(self, attainment: Fraction | int) -> Fraction:
        """f(a) as an exact rational (a ≥ 0)."""
        a = Fraction(attainment)
        if a < 0:
            raise ParameterError(f"attainment must be >= 0. Got {float(a)}.")
        k = self.knots()
        i = bisect.bisect_right(k.at, a) - 1
        return k.value[i] + k.slope[i] * (a - k.at[i])

    def payout(self, ti: int, bookings: int, quota: int) -> int:
        """Incentive earned (cents, half-up) for cumulative ``bookings`` against ``quota``."""
        if quota <= 0:
            raise ParameterError(f"quota must be > 0 cents. Got {quota}.")
        return round_half_up(ti * self.value_exact(Fraction(max(int(bookings), 0), int(quota))))

    # -- vectorised floats ----------------------------------------------------------------------
    def _float_knots(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        k = self.knots()
        return (np.asarray([float(x) for x in k.at]), np.asarray([float(x) for x in k.value]),
                np.asarray([float(x) for x in k.slope]), np.asarray([float(x) for x in k.jump]))

    def __call__(self, attainment: npt.ArrayLike) -> FloatArray:
        """f(a) for an array of attainments (floats; negative treated as 0)."""
        at, val, slope, _ = self._float_knots()
        a = np.maximum(np.asarray(attainment, dtype=np.float64), 0.0)
        i = np.searchsorted(at, a, side="right") - 1
        return np.asarray(val[i] + slope[i] * (a - at[i]), dtype=np.float64)

    def fast_tables(self) -> FastTables:
        """Precomputed float tables for :func:`evaluate_tables` (compute once per simulation)."""
        at, val, slope, jump = self._float_knots()
        cum_jump = np.cumsum(jump)
        return FastTables(at, val - cum_jump, float(slope[-1]), cum_jump)

    def evaluate_fast(self, attainment: npt.NDArray[np.floating]) -> FloatArray:
        """f(a) for a large array; see :func:`evaluate_tables`."""
        return evaluate_tables(self.fast_tables(), attainment)

    def expected(self, mu: npt.ArrayLike, sigma: npt.ArrayLike) -> FloatArray:
        """Closed-form E[f(A)] for A ~ LN(μ, σ): Σ Δs_j·E[(A − c_j)⁺] + Σ J_j·Pr(A ≥ c_j)."""
        at, _, slope, jump = self._float_knots()
        ds = np.diff(slope, prepend=0.0)
        mu_a = np.asarray(mu, dtype=np.float64)
        s = np.asarray(sigma, dtype=np.float64)
        out = np.zeros(np.broadcast(mu_a, s).shape, dtype=np.float64)
        for c, d, jmp in zip(at, ds, jump, strict=True):
            if d != 0:
                out = out + d * call_value(mu_a, s, c)
            if jmp != 0:
                out = out + jmp * prob_at_least(mu_a, s, c)
        return out

    def expected_marginal(self, mu: npt.ArrayLike, sigma: npt.ArrayLike) -> FloatArray:
        """E[f′(A)]: the expected marginal payout rate (the incentive at the margin)."""
        at, _, slope, _ = self._float_knots()
        mu_a = np.asarray(mu, dtype=np.float64)
        s = np.asarray(sigma, dtype=np.float64)
        out = np.zeros(np.broadcast(mu_a, s).shape, dtype=np.float64)
        for idx, c in enumerate(at):
            hi = prob_at_least(mu_a, s, at[idx + 1]) if idx + 1 < len(at) else 0.0
            out = out + slope[idx] * (prob_at_least(mu_a, s, c) - hi)
        return out

    # -- reporting ------------------------------------------------------------------------------
    def cliffs(self, ti: int, step_width: float = 0.01) -> tuple[Cliff, ...]:
        """Every discontinuity with its size in cents for a rep with target incentive ``ti``."""
        k = self.knots()
        out = []
        w = to_fraction(step_width, "step_width")
        for at, jmp in zip(k.at, k.jump, strict=True):
            if jmp > 0:
                below = self.value_exact(max(at - w, Fraction(0)))
                out.append(Cliff(float(at), round_half_up(ti * jmp),
                                 round_half_up(ti * (self.value_exact(at) - below)),
                                 float(step_width)))
        return tuple(out)

    def describe(self) -> str:
        parts = []
        for k, (a, m) in enumerate(zip(self.breakpoints, self.multipliers, strict=True)):
            hi = self.breakpoints[k + 1] if k + 1 < len(self.breakpoints) else None
            band = f"[{a:g}, {hi:g})" if hi is not None else f"[{a:g}, inf)"
            jump = f" +{self.jumps[k]:g} at {a:g}" if self.jumps[k] else ""
            parts.append(f"{m:g}x on {band}{jump}")
        cap = f", cap {self.cap:g}x" if self.cap is not None else ""
        return "; ".join(parts) + cap


@dataclass(frozen=True, slots=True)
class FastTables:
    """Knots, continuous part g(c_j) = f(c_j) − Σ_{i≤j} J_i, last slope, cumulative jumps."""

    at: FloatArray
    g: FloatArray
    last_slope: float
    cum_jump: FloatArray


def evaluate_tables(t: FastTables, attainment: npt.NDArray[np.floating]) -> FloatArray:
    """f(a) for a large array (the simulation's inner loop).

    f = g + (jumps passed so far), with g continuous piecewise linear: one ``np.interp`` over
    the knots — extended to the largest attainment so the last slope is exact — plus one
    ``searchsorted`` only when the curve has jumps.
    """
    a = attainment
    xp, fp = t.at, t.g
    amax = float(np.max(a)) if a.size else 0.0
    if amax > xp[-1]:
        xp = np.append(xp, amax)
        fp = np.append(fp, fp[-1] + t.last_slope * (amax - t.at[-1]))
    out = np.interp(a, xp, fp)
    if t.cum_jump[-1] != 0:
        out += t.cum_jump[np.searchsorted(t.at, a, side="right") - 1]
    return np.asarray(out, dtype=np.float64)


__all__ = ["Cliff", "FastTables", "Knots", "PayoutCurve", "evaluate_tables"]
