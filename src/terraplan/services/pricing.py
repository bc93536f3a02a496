"""Price a plan: quotas (with their fairness report) and the expected cost of the comp plan —
the use case behind ``terraplan demo``'s last step, and the store-backed quota/comp commands.

Flow: plan → :func:`terraplan.quota.quotas_for_plan` (street total, blended index, water-filling,
largest-remainder rounding, ramp, fairness) → one :class:`~terraplan.comp.CompPlan` per rep
(OTE, pay mix, quota) → closed-form expected cost and a seeded Monte Carlo with a common shock →
recorded in the store (quota set rep × period, comp plan with cost per rep).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from terraplan.comp import (
    CostEstimate,
    CostSimulation,
    PayoutCurve,
    RosterPlans,
    Team,
    expected_cost,
    mu_from_expected,
    plans_for_roster,
    simulate_cost,
)
from terraplan.domain import AccountBook, Plan, RepRoster, RepStatus
from terraplan.errors import ParameterError
from terraplan.quota import AttainmentModel, PlanCalendar, PlanQuotas, quotas_for_plan
from terraplan.services.types import CompResultInfo, QuotaSetInfo
from terraplan.services.workspace import ScenarioRef, Workspace

#: Quota-to-OTE multiple used to derive a company target when none is given. The public mean
#: across 83 companies is 4.8x (see shared/specs/quota-comp.md); the default is a policy choice.
DEFAULT_QUOTA_TO_OTE = Fraction(48, 10)


@dataclass(frozen=True, slots=True)
class PricingRequest:
    """How to set quotas and cost the comp plan.

    ``target`` is the company target in cents; ``None`` derives it as
    ``quota_to_ote × Σ OTE of the counted reps / (1 + over_assignment)`` so that the average
    quota lands at that multiple of OTE. ``curve`` is the payout curve shared by every rep
    (default: 1× to quota, 2× above, capped at 3× TI). The attainment model is calibrated on
    the same premise as the quota fairness report: the company lands exactly on target, so each
    rep's expected bookings are its quota / (1 + over-assignment).
    """

    target: int | None = None
    over_assignment: Fraction = Fraction(1, 10)
    method: str = "blended"
    weights: tuple[Fraction, Fraction, Fraction] = (Fraction(1, 2), Fraction(1, 2), Fraction(0))
    quota_to_ote: Fraction = DEFAULT_QUOTA_TO_OTE
    curve: PayoutCurve = field(default_factory=lambda: PayoutCurve.accelerator(2.0, cap=3.0))
    calendar: PlanCalendar = field(default_factory=PlanCalendar)
    sigma: float = 0.35
    rho: float = 0.3
    n_scenarios: int = 20_000
    seed: int = 0

    def model(self) -> AttainmentModel:
        return AttainmentModel(sigma=self.sigma, rho=self.rho)


@dataclass(frozen=True, slots=True)
class Pricing:
    """Quotas of a plan and the cost of its comp plan (all money in cents)."""

    target: int
    quotas: PlanQuotas
    plans: RosterPlans
    estimate: CostEstimate | None
    simulation: CostSimulation | None
    quota_set: QuotaSetInfo | None = None
    comp: CompResultInfo | None = None

    @property
    def street(self) -> int:
        return self.quotas.allocation.street


def default_target(roster: RepRoster, request: PricingRequest) -> int:
    """Company target (cents) that puts the average quota at ``quota_to_ote`` × OTE."""
    ote = sum(int(r.ote or 0) for r in roster if r.status is not RepStatus.DEPARTING)
    if ote <= 0:
        raise ParameterError("no company target given and no rep has an OTE to derive one from")
    t = request.quota_to_ote * ote / (1 + request.over_assignment)
    return int(t.numerator // t.denominator)


def price(book: AccountBook, roster: RepRoster, plan: Plan,
          request: PricingRequest = PricingRequest()) -> Pricing:
    """Quotas, comp plans and cost of ``plan`` (pure: nothing is stored).

    Reps who own nothing in the plan (departing reps after a solve) get no quota and are left out
    of the comp cost; so are reps without OTE.
    """
    owner = plan.aligned(book, roster)
    owned = np.bincount(owner[owner >= 0], minlength=len(roster))  # -1 = unassigned, not rep 0
    keep = [r for j, r in enumerate(roster) if owned[j] > 0]
    if not keep:
        raise ParameterError("the plan assigns no account to any rep; nothing to price")
    counted = RepRoster.of(keep)
    target = request.target if request.target is not None else default_target(counted, request)
    pq = quotas_for_plan(book, counted, plan, target, over_assignment=request.over_assignment,
                         method=request.method, weights=request.weights,
                         calendar=request.calendar, model=request.model())
    quotas = {r.rep_id: r.ramped_quota for r in pq.schedule.rows}
    plans = plans_for_roster(counted, quotas, request.curve, calendar=request.calendar)
    estimate = simulation = None
    if plans.rep_ids:
        model = request.model()
        q = np.asarray([pl.quota for pl in plans.plans], dtype=np.float64)
        mu = mu_from_expected(q / float(1 + request.over_assignment), q, model)
        team = Team.from_plans(plans.rep_ids, plans.plans, mu.tolist())
        estimate = expected_cost(team, model)
        simulation = simulate_cost(team, model, n_scenarios=request.n_scenarios,
                                   seed=request.seed)
    return Pricing(target=target, quotas=pq, plans=plans, estimate=estimate,
                   simulation=simulation)


def price_scenario(ws: Workspace, ref: ScenarioRef, request: PricingRequest = PricingRequest(),
                   *, actor: str, record: bool = True) -> Pricing:
    """Price the current plan of a stored scenario and record quotas and comp cost with it."""
    scenario = ws.load_scenario(ref)
    plan = ws.get_plan(ref)
    p = price(scenario.accounts, scenario.reps, plan, request)
    if not record:
        return p
    labels = request.calendar.labels()
    rows = [(r.rep_id, labels[k], int(c)) for r in p.quotas.schedule.rows
            for k, c in enumerate(r.periods)]
    params: dict[str, Any] = {
        "target": p.target, "street": p.street, "over_assignment": str(request.over_assignment),
        "weights": [str(w) for w in request.weights], "periods": request.calendar.kind.value,
        "year_start": request.calendar.year_start.isoformat()}
    qs = ws.record_quotas(ref, rows, actor=actor, method=request.method, params=params)
    comp = None
    if p.estimate is not None and p.simulation is not None:
        sim = p.simulation
        per_rep = {rid: int(round(float(c)))
                   for rid, c in zip(p.plans.rep_ids, p.estimate.per_rep, strict=True)}
        comp = ws.record_comp(
            ref, "default", {"curve": repr(request.curve), "sigma": request.sigma,
                             "rho": request.rho,
                             "expected_bookings": "quota / (1 + over_assignment)"},
            actor=actor, total_cost_cents=int(round(p.estimate.total)),
            per_rep_pay_cents=per_rep, quota_set_id=qs.id,
            details={"mean": sim.mean, "p50": sim.p50, "p90": sim.p90, "cvar90": sim.cvar90,
                     "ccos_mean": sim.ccos_mean, "ccos_p90": sim.ccos_p90,
                     "n_scenarios": sim.n_scenarios, "seed": sim.seed,
                     "skipped_reps": list(p.plans.skipped)})
    return Pricing(target=p.target, quotas=p.quotas, plans=p.plans, estimate=p.estimate,
                   simulation=p.simulation, quota_set=qs, comp=comp)
