"""Compare, explain, metrics, quotas and comp — read endpoints over stored results."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from terraplan.api import auth
from terraplan.api.deps import MAX_ID, TEXT, ScenarioId, workspace
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import READ, problem_responses
from terraplan.api.schemas import (
    CompareOut,
    CompListOut,
    CompResultOut,
    ExplainOut,
    MetricListOut,
    MetricOut,
    MoveOut,
    PricingIn,
    PricingOut,
    QuotaSetOut,
)
from terraplan.errors import NotFoundError
from terraplan.services.compare import Comparison
from terraplan.services.workspace import Workspace

router = APIRouter(tags=["analysis"])


def _compare_out(c: Comparison, limit: int) -> CompareOut:
    d = c.to_dict(detail=False)
    moves = []
    for k, mv in enumerate(c.moves):
        if k >= limit:
            break
        moves.append(MoveOut(account_id=mv.account_id, from_rep=mv.from_rep, to_rep=mv.to_rep,
                             reason=mv.reason))
    return CompareOut(summary=d["summary"], reps=d["reps"], moves=moves,
                      moves_total=c.n_moved, moves_truncated=c.n_moved > limit)


@router.get(
    "/v1/compare", response_model=CompareOut, summary="Compare two scenarios' plans",
    description="Accounts that move from plan A to plan B (with reasons), per-rep deltas of "
                "every balanced metric, quota and expected pay, fairness side by side.",
    responses=problem_responses(*READ),
)
def compare(
    a: int = Query(ge=1, le=MAX_ID, description="Scenario id of side A"),
    b: int = Query(ge=1, le=MAX_ID, description="Scenario id of side B"),
    a_plan: int | None = Query(None), b_plan: int | None = Query(None),
    limit: int = Query(1000, ge=0, le=100_000, description="Moves listed at most"),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> CompareOut:
    return _compare_out(ws.compare(a, b, a_plan=a_plan, b_plan=b_plan), limit)


@router.get(
    "/v1/scenarios/{scenario_id}/compare-current", response_model=CompareOut,
    summary="Compare a scenario's plan with the CRM's current ownership",
    responses=problem_responses(*READ),
)
def compare_current(
    scenario_id: ScenarioId, plan_id: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(1000, ge=0, le=100_000),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> CompareOut:
    return _compare_out(ws.compare_to_current(scenario_id, plan_id=plan_id), limit)


@router.get(
    "/v1/scenarios/{scenario_id}/accounts/{account_id}/explain", response_model=ExplainOut,
    summary="Why an account sits where it sits",
    description="Owner, previous owner, the reason it moved (or not), eligible reps, distance "
                "to its rep and to the nearest eligible rep, locks and family, in one sentence "
                "and as figures.",
    responses=problem_responses(*READ),
)
def explain(
    scenario_id: ScenarioId, account_id: str = Path(min_length=1, max_length=128, pattern=TEXT),
    plan_id: int | None = Query(None, ge=1, le=MAX_ID),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> ExplainOut:
    from terraplan.evaluate.explain import explain_account

    scenario = ws.load_scenario(scenario_id)
    plan = ws.get_plan(scenario_id, plan_id)
    try:
        e = explain_account(scenario, plan, account_id)
    except KeyError:
        raise NotFoundError(f"account {account_id!r} is not in scenario {scenario_id}'s "
                            "book") from None
    return ExplainOut(**e.to_dict())


@router.get("/v1/scenarios/{scenario_id}/metrics", response_model=MetricListOut,
            summary="Stored evaluations of a scenario's plans",
            responses=problem_responses(*READ))
def metrics(
    scenario_id: ScenarioId, kind: str | None = Query(None, min_length=1, max_length=64),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> MetricListOut:
    return MetricListOut(items=[MetricOut.from_info(m)
                                for m in ws.get_metrics(scenario_id, kind)])


@router.get("/v1/scenarios/{scenario_id}/quotas", response_model=QuotaSetOut,
            summary="The scenario's latest quota allocation (rep x period, cents)",
            responses=problem_responses(*READ))
def quotas(
    scenario_id: ScenarioId,
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> QuotaSetOut:
    q = ws.get_quotas(scenario_id)
    if q is None:
        raise NotFoundError(f"scenario {scenario_id} has no quotas yet")
    return QuotaSetOut.from_info(q)


@router.post(
    "/v1/scenarios/{scenario_id}/pricing", response_model=PricingOut, status_code=201,
    summary="Set quotas and cost the comp plan for the scenario's plan",
    description="Runs the pricing use case (quotas by water-filling with exact rounding, one "
                "comp plan per rep, closed-form expected cost and a seeded Monte Carlo) on the "
                "scenario's current plan and records the quota set and the comp cost "
                "(role: planner; the scenario must be draft or solved).",
    responses=problem_responses("conflict", "infeasible", *READ),
)
async def pricing(
    scenario_id: ScenarioId, body: PricingIn | None = None,
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> PricingOut:
    from fractions import Fraction

    from terraplan.services.pricing import PricingRequest, price_scenario

    body = body or PricingIn()
    try:
        over = Fraction(body.over_assignment)
    except (ValueError, ZeroDivisionError):
        raise ApiProblem("validation", f"over_assignment {body.over_assignment!r} is not a "
                         "number") from None
    req = PricingRequest(target=body.target_cents, over_assignment=over, method=body.method,
                         sigma=body.sigma, rho=body.rho, n_scenarios=body.n_scenarios,
                         seed=body.seed)
    # CPU-bound (Monte Carlo): off the event loop
    out = await run_in_threadpool(price_scenario, ws, scenario_id, req, actor=p.actor)
    assert out.quota_set is not None
    return PricingOut(target_cents=out.target, quotas=QuotaSetOut.from_info(out.quota_set),
                      comp=None if out.comp is None else CompResultOut.from_info(out.comp))


@router.get("/v1/scenarios/{scenario_id}/comp", response_model=CompListOut,
            summary="The scenario's comp plans with their expected cost (cents)",
            responses=problem_responses(*READ))
def comp(
    scenario_id: ScenarioId,
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> CompListOut:
    return CompListOut(items=[CompResultOut.from_info(c) for c in ws.get_comp(scenario_id)])
