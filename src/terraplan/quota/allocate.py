"""Territory quotas from a company target: street total, index, bounds, rounding.

The method (spec ``quota-comp.md``, steps 1–4):

1. Street total ``S = round_half_up(T·(1 + o))``, once, in cents.
2. An index ``b_i`` (Σ b = 1) per rep: ``blended`` (weighted potential / history / forecast
   shares; a driver whose total is zero is dropped and the weights renormalised),
   ``growth_split`` (last year's history plus the growth spread by potential), ``equal_probability``
   (every rep has the same probability of reaching quota under the lognormal attainment model)
   or ``even``.
3. Optional bounds ``L_i ≤ TQ_i ≤ U_i`` (YoY caps, potential-share caps) solved by water-filling:
   ``TQ*_i = clip(λ·S·b_i, L_i, U_i)`` with the single λ that makes Σ TQ* = S. λ is found exactly
   by sweeping the sorted breakpoints of the piecewise-linear Σ clip(·) — no float bisection.
4. Largest-remainder rounding in the rounding unit so Σ TQ == S to the cent.

Everything up to the rounding is exact (:class:`fractions.Fraction`), so scaling every potential
by a constant or permuting the reps changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from terraplan.errors import InfeasibleBoundsError, ParameterError
from terraplan.quota._exact import Number, largest_remainder, round_half_up, to_fraction

IntArrayLike = Sequence[int] | npt.NDArray[np.int64]


class QuotaMethod(StrEnum):
    BLENDED = "blended"
    GROWTH_SPLIT = "growth_split"
    EQUAL_PROBABILITY = "equal_probability"
    EVEN = "even"


def street_total(target: int, over_assignment: Number = Fraction(1, 10)) -> int:
    """Street total S = round_half_up(T·(1 + o)) in cents, computed exactly.

    Examples
    --------
    >>> street_total(1_000_000_000, 0.10)
    1100000000
    """
    _check_money(target, "target")
    o = to_fraction(over_assignment, "over_assignment")
    if o < 0:
        raise ParameterError(
            f"The 'over_assignment' parameter must be >= 0. Got {float(o)}."
        )
    return round_half_up(Fraction(int(target)) * (1 + o))


def _check_money(x: object, name: str) -> None:
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        raise ParameterError(f"{name} must be integer cents. Got {x!r}.")
    if int(x) < 0:
        raise ParameterError(f"{name} must be >= 0 cents. Got {x!r}.")


def _ints(x: IntArrayLike, n: int, name: str) -> list[int]:
    vals = [int(v) for v in (x.tolist() if isinstance(x, np.ndarray) else x)]
    if len(vals) != n:
        raise ParameterError(f"{name} must have one value per rep ({n}). Got {len(vals)}.")
    if any(v < 0 for v in vals):
        raise ParameterError(f"{name} must be >= 0 for every rep.")
    return vals


def blended_index(
    potential: IntArrayLike,
    history: IntArrayLike | None = None,
    forecast: IntArrayLike | None = None,
    weights: tuple[Number, Number, Number] = (Fraction(1, 2), Fraction(1, 2), 0),
) -> tuple[Fraction, ...]:
    """Blended index b_i = Σ_d w_d·x_di / Σ_j x_dj over drivers (potential, history, forecast).

    A driver that is absent, has zero weight or sums to zero is dropped and the remaining weights
    are renormalised. Raises :class:`ParameterError` when no driver is left.

    Examples
    --------
    >>> b = blended_index([20, 15, 10, 5], [40, 20, 12, 8], None, (0.6, 0.4, 0))
    >>> [float(x) for x in b]
    [0.44, 0.28, 0.18, 0.1]
    """
    n = len(potential)
    drivers = (("potential", potential), ("history", history), ("forecast", forecast))
    w = [to_fraction(x, "weight") for x in weights]
    if len(w) != 3 or any(x < 0 for x in w):
        raise ParameterError(f"weights must be three numbers >= 0. Got {weights!r}.")
    used: list[tuple[Fraction, list[int]]] = []
    for (name, x), wd in zip(drivers, w, strict=True):
        if x is None or wd == 0:
            continue
        vals = _ints(x, n, name)
        if sum(vals) > 0:
            used.append((wd, vals))
    if not used:
        raise ParameterError(
            "blended index: every driver with a positive weight sums to zero; "
            "supply potential, history or forecast with a positive total"
        )
    wsum = sum((wd for wd, _ in used), Fraction(0))
    out = [Fraction(0)] * n
    for wd, vals in used:
        tot = sum(vals)
        share = wd / wsum
        for i, v in enumerate(vals):
            out[i] += share * Fraction(v, tot)
    return tuple(out)


def growth_split_index(
    potential: IntArrayLike, history: IntArrayLike, street: int
) -> tuple[Fraction, ...]:
    """Index of ``TQ_i = H_i + (S − ΣH)·P_i/ΣP``, floored at 0 with the deficit re-spread.

    When the street total is below last year's total some reps would get a negative quota; they
    are set to 0 and the remaining reps re-split (S − Σ_{rest} H) by potential, repeatedly.
    """
    n = len(potential)
    p = _ints(potential, n, "potential")
    h = _ints(history, n, "history")
    if street <= 0:
        raise ParameterError("growth_split needs a positive street total")
    active = [i for i in range(n) if p[i] > 0 or h[i] > 0]
    tq = [Fraction(0)] * n
    while True:
        hp = sum(h[i] for i in active)
        pp = sum(p[i] for i in active)
        growth = Fraction(street - hp)
        if pp == 0:
            if growth != 0 and hp == 0:
                raise ParameterError("growth_split: potential and history are all zero")
            # no potential to spread the growth by: spread it by history
            vals = {i: Fraction(h[i]) + growth * Fraction(h[i], hp) for i in active}
        else:
            vals = {i: Fraction(h[i]) + growth * Fraction(p[i], pp) for i in active}
        neg = [i for i, v in vals.items() if v < 0]
        if not neg:
            for i, v in vals.items():
                tq[i] = v
            break
        active = [i for i in active if i not in set(neg)]
    return tuple(v / street for v in tq)


def equal_probability_index(
    expected: Sequence[float] | npt.NDArray[np.float64],
    sigma: float | Sequence[float] | npt.NDArray[np.float64],
    street: int,
) -> tuple[tuple[Fraction, ...], float]:
    """Index giving every rep the same probability of reaching quota; and that probability.

    With expected bookings m_i and log-volatility σ_i, Pr(B_i ≥ TQ_i) = Φ(z) for every rep when
    TQ_i = m_i·exp(−σ_i²/2 − σ_i·z). Σ TQ_i is decreasing in z, so z is found by bisection
    such that Σ TQ_i = S. With a common σ this is the index m_i/Σm.
    """
    m = np.asarray(expected, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), m.shape)
    if m.ndim != 1 or m.size == 0 or np.any(m < 0) or not np.all(np.isfinite(m)) or m.sum() <= 0:
        raise ParameterError("expected bookings must be finite, >= 0 and not all zero")
    if np.any(~(s > 0)):
        raise ParameterError("sigma must be > 0 for every rep")
    target = float(street)

    def total(z: float) -> float:
        return float(np.sum(m * np.exp(-s * s / 2 - s * z)))

    lo, hi = -50.0, 50.0
    for _ in range(200):  # bisection to float resolution
        mid = (lo + hi) / 2
        if total(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-14:
            break
    z = (lo + hi) / 2
    tq = m * np.exp(-s * s / 2 - s * z)
    fr = [Fraction(float(v)) for v in tq]
    tot = sum(fr, Fraction(0))
    return tuple(v / tot for v in fr), float(ndtr(z))


def even_index(n: int) -> tuple[Fraction, ...]:
    if n <= 0:
        raise ParameterError("even index needs at least one rep")
    return tuple(Fraction(1, n) for _ in range(n))


def water_fill(
    index: Sequence[Fraction],
    street: int,
    lower: Sequence[Fraction | int] | None = None,
    upper: Sequence[Fraction | int | None] | None = None,
    rep_ids: Sequence[str] | None = None,
) -> tuple[tuple[Fraction, ...], Fraction | None]:
    """Exact TQ*_i = clip(λ·S·b_i, L_i, U_i) with Σ TQ*_i = S, and λ (``None`` if unbounded).

    ``g(λ) = Σ clip(λ·S·b_i, L_i, U_i)`` is continuous, non-decreasing and piecewise linear with
    breakpoints L_i/(S·b_i) and U_i/(S·b_i). Sorting them and sweeping keeps a running constant
    (clipped reps) and slope (free reps); the crossing segment gives λ exactly. Where g is flat at
    S the smallest λ is returned (deterministic).

    Raises
    ------
    InfeasibleBoundsError
        When Σ L > S or Σ U < S (naming both totals), or when a lower bound exceeds its upper.
    """
    n = len(index)
    ids = list(rep_ids) if rep_ids is not None else [str(i) for i in range(n)]
    lo = [Fraction(0)] * n if lower is None else [Fraction(x) for x in lower]
    up: list[Fraction | None] = (
        [None] * n if upper is None else [None if x is None else Fraction(x) for x in upper]
    )
    if len(lo) != n or len(up) != n:
        raise ParameterError("bounds must have one entry per rep")
    bad = [f"rep {ids[i]}: lower {float(lo[i]):,.2f} > upper {float(u):,.2f}"
           for i, u in enumerate(up) if u is not None and lo[i] > u]
    if any(x < 0 for x in lo):
        raise ParameterError("lower bounds must be >= 0")
    if bad:
        raise InfeasibleBoundsError("quota bounds contradict each other", bad)
    sum_lo = sum(lo, Fraction(0))
    if sum_lo > street:
        raise InfeasibleBoundsError(
            f"sum of lower quota bounds {_fmt(sum_lo)} exceeds the street total {_fmt(street)}",
            [f"lower bounds total {_fmt(sum_lo)}", f"street total {_fmt(street)}"],
        )
    if all(u is not None for u in up):
        sum_up = sum((u for u in up if u is not None), Fraction(0))
        if sum_up < street:
            raise InfeasibleBoundsError(
                f"sum of upper quota bounds {_fmt(sum_up)} is below the street total "
                f"{_fmt(street)}",
                [f"upper bounds total {_fmt(sum_up)}", f"street total {_fmt(street)}"],
            )
    if lower is None and upper is None:
        return tuple(Fraction(street) * b for b in index), Fraction(1)

    sb = [Fraction(street) * b for b in index]
    # events: (lambda, kind, i) — kind 0 enters the free set at L, kind 1 leaves it at U
    const = Fraction(0)
    slope = Fraction(0)
    events: list[tuple[Fraction, int, int]] = []
    for i in range(n):
        if sb[i] == 0:
            const += lo[i]  # clip(0, L, U) = L
            continue
        const += lo[i]
        events.append((lo[i] / sb[i], 0, i))
        u = up[i]
        if u is not None:
            events.append((u / sb[i], 1, i))
    events.sort(key=lambda e: (e[0], e[1]))
    lam_prev = Fraction(0)
    # g(λ) = const + slope·λ on the current segment
    for lam, kind, i in events:
        g_here = const + slope * lam
        if g_here >= street:
            lam_star = lam_prev if slope == 0 else (street - const) / slope
            return _clip_all(sb, lo, up, lam_star), lam_star
        if kind == 0:
            const -= lo[i]
            slope += sb[i]
        else:
            u = up[i]
            assert u is not None
            const += u
            slope -= sb[i]
        lam_prev = lam
    if slope == 0:
        if const == street:
            return _clip_all(sb, lo, up, lam_prev), lam_prev
        raise InfeasibleBoundsError(
            f"quota bounds reach at most {_fmt(const)}, below the street total {_fmt(street)}",
            [f"reachable total {_fmt(const)}", f"street total {_fmt(street)}"],
        )
    lam_star = (street - const) / slope
    return _clip_all(sb, lo, up, lam_star), lam_star


def _clip_all(
    sb: Sequence[Fraction], lo: Sequence[Fraction], up: Sequence[Fraction | None], lam: Fraction
) -> tuple[Fraction, ...]:
    out = []
    for v, lw, u in zip(sb, lo, up, strict=True):
        x = max(lam * v, lw)
        if u is not None:
            x = min(x, u)
        out.append(x)
    return tuple(out)


def _fmt(cents: Fraction | int) -> str:
    return f"${float(cents) / 100:,.2f}"


@dataclass(frozen=True, slots=True)
class QuotaAllocation:
    """Territory (full-productivity) quotas per rep, in cents, and how they were found.

    Attributes
    ----------
    rep_ids : rep ids in input order
    target, street : company target T and street total S (cents)
    method : the index method
    index : b_i (exact, Σ = 1)
    lower, upper : the bounds used (cents, exact; upper ``None`` = none)
    exact : TQ*_i before rounding (exact)
    quotas : TQ_i (int cents), Σ == street
    lam : the water-filling λ relative to S·b (1 when no bound binds; ``None`` never)
    rounding_unit : cents per rounding unit
    common_probability : for ``equal_probability``, every rep's probability of reaching quota
    """

    rep_ids: tuple[str, ...]
    target: int
    street: int
    method: QuotaMethod
    index: tuple[Fraction, ...]
    lower: tuple[Fraction, ...]
    upper: tuple[Fraction | None, ...]
    exact: tuple[Fraction, ...]
    quotas: tuple[int, ...]
    lam: Fraction | None
    rounding_unit: int = 1
    common_probability: float | None = None

    @property
    def over_assignment(self) -> Fraction:
        return Fraction(self.street, self.target) - 1 if self.target else Fraction(0)

    def quota_of(self, rep_id: str) -> int:
        return self.quotas[self.rep_ids.index(rep_id)]

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self.rep_ids, self.quotas, strict=True))

    @property
    def clipped(self) -> tuple[bool, ...]:
        """Whether each rep sits on one of its bounds (not on the common λ)."""
        out = []
        for x, lo, up in zip(self.exact, self.lower, self.upper, strict=True):
            out.append(x == lo and lo > 0 or (up is not None and x == up))
        return tuple(out)


def round_quotas(
    exact: Sequence[Fraction], street: int, rep_ids: Sequence[str], unit: int = 1
) -> tuple[int, ...]:
    """Largest-remainder rounding of exact quotas in units of ``unit`` cents; Σ == street.

    Ties go to the larger fractional part, then the larger exact value, then rep id ascending.
    """
    if unit <= 0:
        raise ParameterError(f"rounding unit must be a positive number of cents. Got {unit}.")
    if street % unit:
        raise ParameterError(
            f"the street total {street} cents is not a multiple of the rounding unit {unit} "
            "cents; choose a unit that divides it (1 cent always does)"
        )
    units = largest_remainder(street // unit, [x / unit for x in exact], list(rep_ids))
    return tuple(u * unit for u in units)


def allocate_quotas(
    rep_ids: Sequence[str],
    target: int,
    *,
    over_assignment: Number = Fraction(1, 10),
    method: QuotaMethod | str = QuotaMethod.BLENDED,
    potential: IntArrayLike | None = None,
    history: IntArrayLike | None = None,
    forecast: IntArrayLike | None = None,
    weights: tuple[Number, Number, Number] = (Fraction(1, 2), Fraction(1, 2), 0),
    expected: Sequence[float] | npt.NDArray[np.float64] | None = None,
    sigma: float | Sequence[float] = 0.35,
    lower: Sequence[int | Fraction] | Mapping[str, int] | None = None,
    upper: Sequence[int | Fraction | None] | Mapping[str, int] | None = None,
    rounding_unit: int = 1,
) -> QuotaAllocation:
    """Allocate the street total over reps: index → bounds (water-filling) → rounding.

    Parameters
    ----------
    rep_ids : rep ids (unique); every array below is aligned with them
    target : company target T in cents
    over_assignment : o (default 0.10, a policy default; warn above 0.20)
    method : ``blended`` (default), ``growth_split``, ``equal_probability`` or ``even``
    potential, history, forecast : per-rep cents (history re-cut to the new territories, see
        :func:`terraplan.quota.recut_history`)
    weights : blended weights (w_P, w_H, w_F), default 0.5/0.5/0 (policy default)
    expected, sigma : ``equal_probability`` inputs: expected bookings per rep (default T·b with
        the blended index) and log-volatility (scalar or per rep)
    lower, upper : quota bounds in cents (sequence aligned with reps or mapping by rep id;
        missing = unbounded); see :func:`yoy_bounds` and :func:`potential_cap_bounds`
    rounding_unit : cents per rounding unit (default 1); bounds are tightened inward to it

    Returns
    -------
    QuotaAllocation
        ``sum(quotas) == street`` exactly.
    """
    ids = tuple(str(r) for r in rep_ids)
    n = len(ids)
    if n == 0:
        raise ParameterError("allocate_quotas needs at least one rep")
    if len(set(ids)) != n:
        raise ParameterError("rep ids must be unique")
    _check_money(target, "target")
    method = QuotaMethod(method)
    street = street_total(int(target), over_assignment)
    common_p: float | None = None
    if method is QuotaMethod.BLENDED:
        if potential is None and history is None and forecast is None:
            raise ParameterError("the blended method needs potential, history or forecast")
        index = blended_index(potential if potential is not None else [0] * n,
                              history, forecast, weights)
    elif method is QuotaMethod.GROWTH_SPLIT:
        if potential is None or history is None:
            raise ParameterError("growth_split needs both potential and history")
        index = growth_split_index(potential, history, street)
    elif method is QuotaMethod.EQUAL_PROBABILITY:
        if expected is None:
            if potential is None and history is None and forecast is None:
                raise ParameterError(
                    "equal_probability needs expected bookings or potential/history to derive them"
                )
            b = blended_index(potential if potential is not None else [0] * n,
                              history, forecast, weights)
            expected = np.asarray([float(x) * target for x in b], dtype=np.float64)
        index, common_p = equal_probability_index(expected, sigma, street)
    else:
        index = even_index(n)

    lo, up = _bounds(ids, lower, upper, rounding_unit)
    bounded = lower is not None or upper is not None
    exact, lam = water_fill(index, street, lo if bounded else None, up if bounded else None, ids)
    quotas = round_quotas(exact, street, ids, rounding_unit)
    return QuotaAllocation(
        rep_ids=ids, target=int(target), street=street, method=method, index=tuple(index),
        lower=tuple(lo), upper=tuple(up), exact=exact, quotas=quotas, lam=lam,
        rounding_unit=rounding_unit, common_probability=common_p,
    )


def _bounds(
    ids: tuple[str, ...],
    lower: Sequence[int | Fraction] | Mapping[str, int] | None,
    upper: Sequence[int | Fraction | None] | Mapping[str, int] | None,
    unit: int,
) -> tuple[list[Fraction], list[Fraction | None]]:
    n = len(ids)

    def seq(b: object, default: Fraction | None) -> list[Fraction | None]:
        if b is None:
            return [default] * n
        if isinstance(b, Mapping):
            unknown = set(b) - set(ids)
            if unknown:
                raise ParameterError(f"bounds name unknown reps: {sorted(unknown)[:5]}")
            return [None if b.get(r) is None else to_fraction(b[r]) for r in ids]
        vals = list(b)  # type: ignore[call-overload]
        if len(vals) != n:
            raise ParameterError(f"bounds must have one entry per rep ({n}). Got {len(vals)}.")
        return [None if v is None else to_fraction(v) for v in vals]

    lo_raw = seq(lower, Fraction(0))
    up = seq(upper, None)
    lo = [Fraction(0) if x is None else x for x in lo_raw]
    if unit != 1:
        # tighten inward to whole units so that rounding in units can never cross a bound
        lo = [Fraction(math.ceil(x / unit) * unit) for x in lo]
        up = [None if x is None else Fraction(math.floor(x / unit) * unit) for x in up]
    return lo, up


def yoy_bounds(
    last_quota: Sequence[int],
    overlap: Sequence[float],
    *,
    down: Number = Fraction(15, 100),
    up: Number = Fraction(30, 100),
    min_overlap: float = 0.8,
) -> tuple[list[int], list[int | None]]:
    """Year-over-year caps for reps whose territory overlaps last year's by ≥ ``min_overlap``.

    Bounds are ``ceil((1 − down)·Q_last)`` and ``floor((1 + up)·Q_last)`` in cents (policy
    defaults −15 % / +30 %); other reps are unbounded (lower 0, upper ``None``).
    """
    d, u = to_fraction(down, "down"), to_fraction(up, "up")
    if not (0 <= d <= 1) or u < 0:
        raise ParameterError("YoY caps need 0 <= down <= 1 and up >= 0")
    if len(last_quota) != len(overlap):
        raise ParameterError("last_quota and overlap must have the same length")
    lo: list[int] = []
    hi: list[int | None] = []
    for q, ov in zip(last_quota, overlap, strict=True):
        if ov >= min_overlap and q > 0:
            lo.append(math.ceil(Fraction(int(q)) * (1 - d)))
            hi.append(math.floor(Fraction(int(q)) * (1 + u)))
        else:
            lo.append(0)
            hi.append(None)
    return lo, hi


def potential_cap_bounds(potential: Sequence[int], cap_share: Number) -> list[int]:
    """Upper bounds ``floor(cap_share·P_i)``: quota at most that share of territory potential."""
    c = to_fraction(cap_share, "cap_share")
    if c <= 0:
        raise ParameterError(f"cap_share must be > 0. Got {float(c)}.")
    return [math.floor(Fraction(int(p)) * c) for p in potential]


def merge_upper(*uppers: Sequence[int | None]) -> list[int | None]:
    """Element-wise minimum of upper-bound lists (``None`` = no bound)."""
    out: list[int | None] = list(uppers[0])
    for u in uppers[1:]:
        out = [b if a is None else a if b is None else min(a, b)
               for a, b in zip(out, u, strict=True)]
    return out


__all__ = [
    "QuotaAllocation", "QuotaMethod", "allocate_quotas", "blended_index", "equal_probability_index",
    "even_index", "growth_split_index", "merge_upper", "potential_cap_bounds", "round_quotas",
    "street_total", "water_fill", "yoy_bounds",
]
