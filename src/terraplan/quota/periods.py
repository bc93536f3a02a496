"""Period quotas: seasonality, ramp for new hires, relief / redistribution, mid-year moves.

For rep i and period k the exact period quota is ``q*_ik = TQ_i · s_k · ρ̄_ik`` where ``s_k`` is
the seasonality weight and ``ρ̄_ik`` the average over the months of period k of
``employed fraction × ramp factor``. The employed fraction of a month is the share of its days
between the rep's start and end dates; the ramp factor depends on completed tenure steps since the
start month (default monthly 0/25/50/75/100 %, or quarterly 25/50/75/100 %).

``relief`` mode (default): ``RQ_i + relief_i + vacancy_i == TQ_i`` exactly — vacancy is the quota
of months the rep is not employed, relief the ramp discount of months they are. ``redistribute``
mode re-solves the water-filling with ramp-weighted indices so that Σ RQ_i == S.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction

from terraplan.domain import Rep
from terraplan.errors import ParameterError
from terraplan.quota._exact import Number, largest_remainder, to_fraction
from terraplan.quota.allocate import QuotaAllocation, round_quotas, water_fill


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    MONTH = "month"


class RampMode(StrEnum):
    RELIEF = "relief"
    REDISTRIBUTE = "redistribute"


def _add_months(d: date, k: int) -> date:
    y, m = divmod(d.month - 1 + k, 12)
    return date(d.year + y, m + 1, 1)


@dataclass(frozen=True, slots=True)
class PlanCalendar:
    """The plan year: 12 months from ``year_start`` (first day of a month), cut in periods."""

    year_start: date = date(2026, 1, 1)
    kind: PeriodKind = PeriodKind.QUARTER

    def __post_init__(self) -> None:
        if self.year_start.day != 1:
            raise ParameterError(
                f"The plan year must start on the first day of a month. Got {self.year_start}."
            )
        object.__setattr__(self, "kind", PeriodKind(self.kind))

    @property
    def n_periods(self) -> int:
        return 4 if self.kind is PeriodKind.QUARTER else 12

    @property
    def months_per_period(self) -> int:
        return 3 if self.kind is PeriodKind.QUARTER else 1

    def month_start(self, m: int) -> date:
        return _add_months(self.year_start, m)

    def period_bounds(self, k: int) -> tuple[date, date]:
        """First day of period k and first day after it."""
        mp = self.months_per_period
        return self.month_start(k * mp), self.month_start((k + 1) * mp)

    def period_of(self, d: date) -> int:
        """Index of the period containing ``d`` (ParameterError outside the year)."""
        for k in range(self.n_periods):
            a, b = self.period_bounds(k)
            if a <= d < b:
                return k
        raise ParameterError(f"date {d} is outside the plan year starting {self.year_start}")

    def labels(self) -> tuple[str, ...]:
        if self.kind is PeriodKind.QUARTER:
            return tuple(f"Q{k + 1}" for k in range(4))
        return tuple(self.month_start(k).strftime("%Y-%m") for k in range(12))


@dataclass(frozen=True, slots=True)
class RampSchedule:
    """Ramp factors by completed tenure step (``step_months`` long); 1.0 after the last.

    ``monthly()`` is 0/25/50/75/100 % by month of tenure, ``quarterly()`` 25/50/75/100 % by
    quarter of tenure (policy defaults).
    """

    factors: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    step_months: int = 1

    def __post_init__(self) -> None:
        if self.step_months not in (1, 3):
            raise ParameterError(f"step_months must be 1 or 3. Got {self.step_months}.")
        if any(not (0.0 <= f <= 1.0) for f in self.factors):
            raise ParameterError(f"ramp factors must lie in [0, 1]. Got {self.factors}.")

    @classmethod
    def monthly(cls) -> RampSchedule:
        return cls((0.0, 0.25, 0.5, 0.75), 1)

    @classmethod
    def quarterly(cls) -> RampSchedule:
        return cls((0.25, 0.5, 0.75), 3)

    @classmethod
    def none(cls) -> RampSchedule:
        return cls((), 1)

    def factor(self, tenure_months: int) -> Fraction:
        step = tenure_months // self.step_months
        if step < 0:
            return Fraction(0)
        if step < len(self.factors):
            return to_fraction(self.factors[step], "ramp factor")
        return Fraction(1)


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def employment_ramp(
    start: date | None, end: date | None, cal: PlanCalendar, ramp: RampSchedule
) -> tuple[list[Fraction], list[Fraction]]:
    """Per month of the plan year: (employed fraction e_m, e_m·ρ_m) as exact fractions.

    ``end`` is the last day employed (inclusive). ``start=None`` means employed (and ramped)
    since long before the year.
    """
    emp: list[Fraction] = []
    eff: list[Fraction] = []
    for m in range(12):
        m0 = cal.month_start(m)
        m1 = cal.month_start(m + 1)
        days = (m1 - m0).days
        lo = m0 if start is None or start < m0 else start
        hi = m1 if end is None or end + timedelta(days=1) > m1 else end + timedelta(days=1)
        e = Fraction(max((hi - lo).days, 0), days)
        rho = Fraction(1) if start is None else ramp.factor(_months_between(start, m0))
        emp.append(e)
        eff.append(e * rho)
    return emp, eff


@dataclass(frozen=True, slots=True)
class RepQuota:
    """One rep's quotas: territory TQ, ramped RQ, relief and vacancy, and the period rows."""

    rep_id: str
    territory_quota: int
    ramped_quota: int
    relief: int
    vacancy: int
    periods: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QuotaSchedule:
    """Period quotas of every rep (cents). ``transfers`` records mid-year moves applied."""

    calendar: PlanCalendar
    mode: RampMode
    seasonality: tuple[Fraction, ...]
    rows: tuple[RepQuota, ...]
    transfers: tuple[QuotaTransfer, ...] = field(default=())

    def row(self, rep_id: str) -> RepQuota:
        for r in self.rows:
            if r.rep_id == rep_id:
                return r
        raise KeyError(rep_id)

    @property
    def total_ramped(self) -> int:
        return sum(r.ramped_quota for r in self.rows)


def _seasonality(seasonality: Sequence[Number] | None, n: int) -> tuple[Fraction, ...]:
    if seasonality is None:
        return tuple(Fraction(1, n) for _ in range(n))
    s = [to_fraction(x, "seasonality") for x in seasonality]
    if len(s) != n:
        raise ParameterError(f"seasonality needs {n} weights for this calendar. Got {len(s)}.")
    if any(x < 0 for x in s) or sum(s) == 0:
        raise ParameterError("seasonality weights must be >= 0 and not all zero")
    tot = sum(s, Fraction(0))
    return tuple(x / tot for x in s)


def seasonal_split(
    amount: int, seasonality: Sequence[Number], labels: Sequence[str] | None = None
) -> list[int]:
    """Split ``amount`` cents over periods by seasonality (largest remainder, ties by period)."""
    s = _seasonality(seasonality, len(seasonality))
    keys = list(labels) if labels is not None else [f"{k:04d}" for k in range(len(s))]
    return largest_remainder(amount, [amount * x for x in s], keys)


def ramp_quotas(
    allocation: QuotaAllocation,
    reps: Sequence[Rep] | Mapping[str, Rep] | None = None,
    *,
    calendar: PlanCalendar = PlanCalendar(),
    seasonality: Sequence[Number] | None = None,
    ramp: RampSchedule = RampSchedule.monthly(),
    mode: RampMode | str = RampMode.RELIEF,
) -> QuotaSchedule:
    """Period quotas with seasonality and ramp, in ``relief`` or ``redistribute`` mode.

    Parameters
    ----------
    allocation : territory quotas from :func:`terraplan.quota.allocate_quotas`
    reps : reps giving ``start_date``/``end_date`` (reps not given are employed all year and
        fully ramped)
    calendar : plan year and period kind (quarters by default)
    seasonality : one weight per period (normalised); equal by default
    ramp : ramp schedule (default monthly 0/25/50/75/100 %)
    mode : ``relief`` (RQ + relief + vacancy == TQ) or ``redistribute`` (Σ RQ == S)

    Returns
    -------
    QuotaSchedule
        Period rows sum to RQ exactly; zero in months outside employment.
    """
    mode = RampMode(mode)
    by_id: dict[str, Rep] = {}
    if isinstance(reps, Mapping):
        by_id = dict(reps)
    elif reps is not None:
        by_id = {r.id: r for r in reps}
    n_p = calendar.n_periods
    mp = calendar.months_per_period
    s = _seasonality(seasonality, n_p)
    labels = [f"{k:04d}" for k in range(n_p)]

    shapes: list[list[Fraction]] = []  # per rep, per period: s_k · avg(e·ρ)
    vac_w: list[Fraction] = []  # per rep: Σ_k s_k · avg(1 − e)
    memo: dict[tuple[date | None, date | None], tuple[list[Fraction], Fraction]] = {}
    for rid in allocation.rep_ids:
        rep = by_id.get(rid)
        key = (rep.start_date if rep else None, rep.end_date if rep else None)
        if key not in memo:  # most reps share their dates (none): compute each pattern once
            emp, eff = employment_ramp(key[0], key[1], calendar, ramp)
            shape = [s[k] * sum(eff[k * mp:(k + 1) * mp], Fraction(0)) / mp
                     for k in range(n_p)]
            vac = sum((s[k] * sum((1 - e for e in emp[k * mp:(k + 1) * mp]), Fraction(0)) / mp
                       for k in range(n_p)), Fraction(0))
            memo[key] = (shape, vac)
        shapes.append(memo[key][0])
        vac_w.append(memo[key][1])

    rows: list[RepQuota] = []
    if mode is RampMode.RELIEF:
        for i, rid in enumerate(allocation.rep_ids):
            tq = allocation.quotas[i]
            rq_x = tq * sum(shapes[i], Fraction(0))
            vac_x = tq * vac_w[i]
            rel_x = tq - rq_x - vac_x
            # split TQ into (RQ, vacancy, relief) so the identity holds exactly and none is < 0
            rq_c, vac_c, rel_c = largest_remainder(tq, [rq_x, vac_x, rel_x], ["0", "1", "2"])
            periods = _periods(rq_c, shapes[i], labels)
            rows.append(RepQuota(rid, tq, rq_c, rel_c, vac_c, tuple(periods)))
    else:
        capacity = [sum(sh, Fraction(0)) for sh in shapes]
        idx = [b * c for b, c in zip(allocation.index, capacity, strict=True)]
        tot = sum(idx, Fraction(0))
        if tot == 0:
            raise ParameterError("redistribute: no rep is employed during the plan year")
        idx = [x / tot for x in idx]
        lo = [lw * c for lw, c in zip(allocation.lower, capacity, strict=True)]
        up = [None if u is None else u * c
              for u, c in zip(allocation.upper, capacity, strict=True)]
        bounded = any(x > 0 for x in lo) or any(u is not None for u in up)
        exact, _ = water_fill(idx, allocation.street, lo if bounded else None,
                              up if bounded else None, allocation.rep_ids)
        rqs = round_quotas(exact, allocation.street, allocation.rep_ids, 1)
        for i, rid in enumerate(allocation.rep_ids):
            periods = _periods(rqs[i], shapes[i], labels)
            rows.append(RepQuota(rid, allocation.quotas[i], rqs[i], 0, 0, tuple(periods)))
    return QuotaSchedule(calendar, mode, s, tuple(rows))


def _periods(rq: int, shape: Sequence[Fraction], labels: Sequence[str]) -> list[int]:
    tot = sum(shape, Fraction(0))
    if tot == 0:
        if rq:
            raise ParameterError("a positive quota cannot be spread over no employed period")
        return [0] * len(shape)
    return largest_remainder(rq, [rq * x / tot for x in shape], list(labels))


@dataclass(frozen=True, slots=True)
class QuotaMove:
    """Accounts carrying ``share`` of ``from_rep``'s territory potential move to ``to_rep``."""

    from_rep: str
    to_rep: str
    share: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "share", to_fraction(self.share, "share"))
        if not (0 <= self.share <= 1):
            raise ParameterError(f"move share must be in [0, 1]. Got {float(self.share)}.")
        if self.from_rep == self.to_rep:
            raise ParameterError("a move needs two different reps")


@dataclass(frozen=True, slots=True)
class QuotaTransfer:
    """Cents moved from one rep to another in each period by a mid-year move."""

    from_rep: str
    to_rep: str
    effective: date
    periods: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.periods)


def transfer_quota(
    schedule: QuotaSchedule, moves: Sequence[QuotaMove], effective: date
) -> QuotaSchedule:
    """Move quota pro rata with moved potential for the rest of the year from ``effective``.

    For each losing rep and period k the exact amount moved to gainer g is
    ``q_fk · φ_k · share_g`` where φ_k is the share of period k's days on or after the effective
    date. The losing rep's period quota is split over (kept, gainer 1, gainer 2, …) by largest
    remainder, so every row stays in whole cents and nothing is created or lost. Ramped quotas
    RQ become the new row sums; territory quota, relief and vacancy are unchanged.
    """
    cal = schedule.calendar
    n_p = cal.n_periods
    phi: list[Fraction] = []
    for k in range(n_p):
        a, b = cal.period_bounds(k)
        days = (b - a).days
        phi.append(Fraction(min(max((b - max(effective, a)).days, 0), days), days))
    ids = [r.rep_id for r in schedule.rows]
    periods = {r.rep_id: list(r.periods) for r in schedule.rows}
    by_from: dict[str, list[QuotaMove]] = {}
    for mv in moves:
        for rid in (mv.from_rep, mv.to_rep):
            if rid not in periods:
                raise ParameterError(f"move names rep {rid!r}, not in the quota schedule")
        by_from.setdefault(mv.from_rep, []).append(mv)
    transfers: list[QuotaTransfer] = []
    delta: dict[str, list[int]] = {rid: [0] * n_p for rid in ids}
    for f, mvs in by_from.items():
        total_share = sum((m.share for m in mvs), Fraction(0))
        if total_share > 1:
            raise ParameterError(
                f"moves take {float(total_share):.1%} of rep {f}'s potential (more than 100 %)")
        moved = [[0] * n_p for _ in mvs]
        for k in range(n_p):
            q = periods[f][k]
            parts = [q * phi[k] * m.share for m in mvs]
            kept = q - sum(parts, Fraction(0))
            split = largest_remainder(q, [kept, *parts], ["", *[m.to_rep for m in mvs]])
            for j in range(len(mvs)):
                moved[j][k] = split[j + 1]
                delta[f][k] -= split[j + 1]
                delta[mvs[j].to_rep][k] += split[j + 1]
        for m, mv_rows in zip(mvs, moved, strict=True):
            transfers.append(QuotaTransfer(m.from_rep, m.to_rep, effective, tuple(mv_rows)))
    rows = []
    for r in schedule.rows:
        new = tuple(a + d for a, d in zip(r.periods, delta[r.rep_id], strict=True))
        rows.append(RepQuota(r.rep_id, r.territory_quota, sum(new), r.relief, r.vacancy, new))
    return QuotaSchedule(cal, schedule.mode, schedule.seasonality, tuple(rows),
                         schedule.transfers + tuple(transfers))


def moves_between(
    old_owner: Mapping[str, str | None], new_owner: Mapping[str, str | None],
    potential: Mapping[str, int],
) -> list[QuotaMove]:
    """Quota moves implied by accounts changing owner: share of the loser's old potential.

    ``old_owner``/``new_owner`` map account id → rep id (``None`` = unassigned); ``potential``
    maps account id → cents. Shares are exact fractions of the losing rep's old total.
    """
    old_tot: dict[str, int] = {}
    for a, r in old_owner.items():
        if r is not None:
            old_tot[r] = old_tot.get(r, 0) + int(potential.get(a, 0))
    pair: dict[tuple[str, str], int] = {}
    for a, r in old_owner.items():
        n = new_owner.get(a)
        if r is None or n is None or n == r:
            continue
        pair[(r, n)] = pair.get((r, n), 0) + int(potential.get(a, 0))
    out = []
    for (f, t), amt in sorted(pair.items()):
        if old_tot.get(f, 0) > 0 and amt > 0:
            out.append(QuotaMove(f, t, Fraction(amt, old_tot[f])))
    return out


__all__ = [
    "PeriodKind", "PlanCalendar", "QuotaMove", "QuotaSchedule", "QuotaTransfer", "RampMode",
    "RampSchedule", "RepQuota", "employment_ramp", "moves_between", "ramp_quotas",
    "seasonal_split", "transfer_quota",
]
