"""One call from a plan to quotas, period rows and the fairness report (for CLI, API, demo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from terraplan.domain import AccountBook, Plan, RepRoster
from terraplan.quota._exact import Number
from terraplan.quota.allocate import (
    QuotaAllocation,
    QuotaMethod,
    allocate_quotas,
    merge_upper,
    potential_cap_bounds,
    yoy_bounds,
)
from terraplan.quota.attainment import AttainmentModel
from terraplan.quota.fairness import FairnessReport, fairness_report
from terraplan.quota.history import recut_history, rep_potential, rep_workload, territory_overlap
from terraplan.quota.periods import (
    PlanCalendar,
    QuotaSchedule,
    RampMode,
    RampSchedule,
    ramp_quotas,
)


@dataclass(frozen=True, slots=True, eq=False)
class PlanQuotas:
    """Quotas of a plan: allocation, period schedule, fairness report and the per-rep drivers."""

    allocation: QuotaAllocation
    schedule: QuotaSchedule
    fairness: FairnessReport
    potential: npt.NDArray[np.int64]
    workload: npt.NDArray[np.float64]
    history: npt.NDArray[np.int64] | None


def quotas_for_plan(
    book: AccountBook,
    roster: RepRoster,
    plan: Plan,
    target: int,
    *,
    history: Mapping[str, int] | npt.ArrayLike | None = None,
    forecast: Mapping[str, int] | npt.ArrayLike | None = None,
    over_assignment: Number = Fraction(1, 10),
    method: QuotaMethod | str = QuotaMethod.BLENDED,
    weights: tuple[Number, Number, Number] = (Fraction(1, 2), Fraction(1, 2), 0),
    cap_share: Number | None = None,
    last_year: tuple[Plan, Sequence[int]] | None = None,
    calendar: PlanCalendar = PlanCalendar(),
    seasonality: Sequence[Number] | None = None,
    ramp: RampSchedule = RampSchedule.monthly(),
    mode: RampMode | str = RampMode.RELIEF,
    model: AttainmentModel = AttainmentModel(),
    rounding_unit: int = 1,
) -> PlanQuotas:
    """Quotas for ``plan``: per-rep drivers → allocation → ramped periods → fairness.

    Parameters
    ----------
    book, roster, plan : the accounts, the reps (output order) and the assignment
    target : company target T (cents)
    history, forecast : per-account cents (mapping by account id or array aligned with the book),
        re-cut to the plan's territories
    cap_share : cap each quota at this share of its territory potential
    last_year : (last year's plan, last year's quota per roster rep in cents) to apply YoY caps
        (−15 % / +30 %) to reps whose territory overlaps last year's by ≥ 80 %
    Other parameters are those of :func:`allocate_quotas`, :func:`ramp_quotas` and
    :func:`fairness_report`.
    """
    pot = rep_potential(book, plan, roster)
    wl = rep_workload(book, plan, roster)
    hist = None if history is None else recut_history(history, book, plan, roster)
    fc = None if forecast is None else recut_history(forecast, book, plan, roster)
    lower: list[int] | None = None
    upper: list[int | None] | None = None
    if cap_share is not None:
        upper = list(potential_cap_bounds(pot.tolist(), cap_share))
    if last_year is not None:
        old_plan, last_q = last_year
        overlap = territory_overlap(book, old_plan, plan, roster)
        lower, yoy_up = yoy_bounds(list(last_q), overlap.tolist())
        upper = yoy_up if upper is None else merge_upper(upper, yoy_up)
    alloc = allocate_quotas(
        roster.ids, target, over_assignment=over_assignment, method=method, potential=pot,
        history=hist, forecast=fc, weights=weights, sigma=model.sigma, lower=lower, upper=upper,
        rounding_unit=rounding_unit)
    sched = ramp_quotas(alloc, list(roster), calendar=calendar, seasonality=seasonality,
                        ramp=ramp, mode=mode)
    report = fairness_report(alloc, potential=pot, workload=wl, history=hist, schedule=sched,
                             ote=[r.ote for r in roster], model=model)
    return PlanQuotas(alloc, sched, report, pot, wl, hist)


__all__ = ["PlanQuotas", "quotas_for_plan"]
