"""``POST /v1/rebalance``: react to departures and hires on the active plan.

Runs :func:`terraplan.services.rebalancing.rebalance_active` (the use case behind
``terraplan rebalance``): the departed reps' books move first, then the fewest other accounts
needed to restore the rules; the result is written as a draft child scenario of the active one
for review and approval. It runs within the request (bounded by ``time_limit``); nothing is
written on a dry run or a refusal (409 ``infeasible``, with the full outcome).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from fastapi.concurrency import run_in_threadpool

from terraplan.api import auth
from terraplan.api.deps import workspace
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import WRITE, problem_responses
from terraplan.api.schemas import RebalanceIn, RebalanceOut, ScenarioOut
from terraplan.services.workspace import Workspace

router = APIRouter(prefix="/v1/rebalance", tags=["scenarios"])


@router.post(
    "", response_model=RebalanceOut, status_code=status.HTTP_201_CREATED,
    summary="Rebalance the active plan after departures or hires",
    description="201 with the child scenario written; 200 on a dry run; 409 `infeasible` "
                "when no plan restores every rule or too many accounts would move.",
    responses={200: {"model": RebalanceOut, "description": "Dry run: nothing written"},
               **problem_responses("infeasible", *WRITE)},
)
async def rebalance(
    body: RebalanceIn, response: Response,
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> RebalanceOut:
    from terraplan.services.rebalancing import Hire, RebalanceRequest, rebalance_active

    req = RebalanceRequest(
        depart=tuple(body.depart), effective=body.effective,
        hires=tuple(Hire(h.name, h.like, h.rep_id) for h in body.hires), tbh=body.tbh,
        max_moves=body.max_moves, seed=body.seed, time_limit=body.time_limit, name=body.name,
        cycle=body.cycle)
    # the search is CPU-bound for up to time_limit seconds: keep it off the event loop
    outcome = await run_in_threadpool(rebalance_active, ws, req, actor=p.actor,
                                      dry_run=body.dry_run, why=body.why)
    details = outcome.to_dict()
    if outcome.refused and not body.dry_run:
        raise ApiProblem("infeasible", outcome.refused, status=409, outcome=details)
    if body.dry_run:
        response.status_code = status.HTTP_200_OK
    elif outcome.scenario is not None:
        response.headers["Location"] = f"/v1/scenarios/{outcome.scenario.id}"
    return RebalanceOut(
        ok=outcome.ok, status=outcome.result.status.value, refused=outcome.refused or None,
        source_id=outcome.source.id,
        scenario=None if outcome.scenario is None else ScenarioOut.from_info(outcome.scenario),
        moves_total=len(outcome.moves), moves_forced=outcome.forced, details=details)
