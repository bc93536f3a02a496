"""A rep's compensation plan: OTE, pay mix, target incentive, base commission rate.

TI = OTE·(1 − β)·(employed fraction); BCR = TI / quota; quota:OTE = Q / OTE; CCOS at target =
OTE / Q (the rep at 100 % attainment earns base + TI = OTE on bookings of Q, since f(1) = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from types import MappingProxyType

from terraplan.comp.curve import PayoutCurve
from terraplan.domain import RepRoster
from terraplan.errors import ParameterError
from terraplan.quota._exact import Number, round_half_up, to_fraction
from terraplan.quota.periods import PlanCalendar

#: Typical base share of OTE by role (source: public pay-mix benchmarks; the midpoint is used
#: where the source gives a range): AE 50/50, account manager / CSM ≈ 70/30, SDR 60/40–70/30,
#: sales engineer 70–85 % base.
DEFAULT_BASE_SHARE = MappingProxyType({
    "AE": 0.5, "AM": 0.7, "CSM": 0.7, "SDR": 0.65, "SE": 0.775,
})


def default_base_share(role: str) -> float:
    """Base share of OTE for ``role`` from :data:`DEFAULT_BASE_SHARE` (AE mix when unknown)."""
    return DEFAULT_BASE_SHARE.get(role.upper(), DEFAULT_BASE_SHARE["AE"])


@dataclass(frozen=True, slots=True)
class CompPlan:
    """One rep's plan for the year.

    Parameters
    ----------
    ote : on-target earnings, cents per year (full-time, full-year)
    base_share : β, the base-salary share of OTE in [0, 1]
    quota : the rep's (ramped) quota in cents, > 0
    curve : payout curve (multiple of TI)
    employed_fraction : share of the year employed, in (0, 1]
    """

    ote: int
    base_share: float
    quota: int
    curve: PayoutCurve = field(default_factory=PayoutCurve.linear)
    employed_fraction: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.ote, bool) or not isinstance(self.ote, int) or self.ote < 0:
            raise ParameterError(f"The 'ote' parameter of CompPlan must be integer cents >= 0. "
                                 f"Got {self.ote!r}.")
        if isinstance(self.quota, bool) or not isinstance(self.quota, int) or self.quota <= 0:
            raise ParameterError(f"The 'quota' parameter of CompPlan must be integer cents > 0. "
                                 f"Got {self.quota!r}.")
        if not (0.0 <= self.base_share <= 1.0):
            raise ParameterError(f"The 'base_share' parameter of CompPlan must be in [0, 1]. "
                                 f"Got {self.base_share!r}.")
        if not (0.0 < self.employed_fraction <= 1.0):
            raise ParameterError(f"The 'employed_fraction' parameter of CompPlan must be in "
                                 f"(0, 1]. Got {self.employed_fraction!r}.")

    @property
    def _employed(self) -> Fraction:
        return to_fraction(self.employed_fraction, "employed_fraction")

    @property
    def earnings_at_target(self) -> int:
        """OTE scaled by the employed fraction (cents)."""
        return round_half_up(self.ote * self._employed)

    @property
    def target_incentive(self) -> int:
        """TI = OTE·(1 − β)·employed fraction, cents (half-up)."""
        return round_half_up(self.ote * (1 - to_fraction(self.base_share)) * self._employed)

    @property
    def base(self) -> int:
        """Base salary paid in the year: earnings at target − TI, so base + TI is exact."""
        return self.earnings_at_target - self.target_incentive

    @property
    def bcr(self) -> Fraction:
        """Base commission rate TI / quota (exact)."""
        return Fraction(self.target_incentive, self.quota)

    @property
    def quota_to_ote(self) -> Fraction:
        return Fraction(self.quota, self.ote) if self.ote else Fraction(0)

    @property
    def ccos_at_target(self) -> Fraction:
        """Cost of sales at 100 % attainment: (base + TI·f(1)) / Q = OTE / Q."""
        return Fraction(self.base + self.incentive(self.quota), self.quota)

    def incentive(self, bookings: int) -> int:
        """Incentive earned on cumulative ``bookings`` (cents)."""
        return self.curve.payout(self.target_incentive, bookings, self.quota)

    def total_pay(self, bookings: int) -> int:
        """Base + incentive for the year's ``bookings`` (cents)."""
        return self.base + self.incentive(bookings)


def pay_mix(base_share: Number) -> tuple[int, int]:
    """Pay mix as whole percentages, e.g. ``0.5 -> (50, 50)``."""
    b = to_fraction(base_share)
    pct = round_half_up(b * 100)
    return pct, 100 - pct


@dataclass(frozen=True, slots=True)
class RosterPlans:
    """Plans for the reps that can be costed, and the ids of those that cannot (no quota,
    no OTE or no employment in the plan year)."""

    rep_ids: tuple[str, ...]
    plans: tuple[CompPlan, ...]
    skipped: tuple[str, ...]


def _employed_share(start: date | None, end: date | None, cal: PlanCalendar) -> Fraction:
    """Share of the plan year's days from ``start`` to ``end`` (inclusive)."""
    y0, y1 = cal.month_start(0), cal.month_start(12)
    lo = y0 if start is None or start < y0 else start
    hi = y1 if end is None or end + timedelta(days=1) > y1 else end + timedelta(days=1)
    return Fraction(max((hi - lo).days, 0), (y1 - y0).days)


def plans_for_roster(
    roster: RepRoster,
    quotas: Mapping[str, int],
    curve: PayoutCurve,
    *,
    calendar: PlanCalendar = PlanCalendar(),
    role: str | None = None,
) -> RosterPlans:
    """One :class:`CompPlan` per rep from the roster (OTE, base share, dates) and quotas.

    The employed fraction is the share of the plan year's days between the rep's start and end
    dates; a missing base share takes the role default (:data:`DEFAULT_BASE_SHARE`). ``role``
    keeps only that role (case-insensitive).
    """
    ids: list[str] = []
    plans: list[CompPlan] = []
    skipped: list[str] = []
    for rep in roster:
        if role is not None and rep.role.upper() != role.upper():
            continue
        q = int(quotas.get(rep.id, 0))
        employed = _employed_share(rep.start_date, rep.end_date, calendar)
        if q <= 0 or not rep.ote or employed <= 0:
            skipped.append(rep.id)
            continue
        beta = rep.base_share if rep.base_share is not None else default_base_share(rep.role)
        plans.append(CompPlan(int(rep.ote), beta, q, curve, float(employed)))
        ids.append(rep.id)
    return RosterPlans(tuple(ids), tuple(plans), tuple(skipped))


__all__ = [
    "DEFAULT_BASE_SHARE", "CompPlan", "RosterPlans", "default_base_share", "pay_mix",
    "plans_for_roster",
]
