"""``/v1/scenarios``: create, read, edit, copy, lifecycle transitions, history.

Writes take the version the caller read — ``If-Match: "<version>"`` (the ``ETag`` of every
scenario response) or ``version`` in the body — and answer 409 ``conflict`` when the scenario
changed since, or when its status forbids the change. ``DELETE`` archives (the store keeps
every scenario for the audit trail). ``activate`` needs the admin role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response, status

from terraplan.api import auth
from terraplan.api.deps import TEXT, ScenarioId, etag, if_match, pick_version, workspace
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import READ, WRITE, problem_responses
from terraplan.api.schemas import (
    AuditOut,
    ScenarioCopy,
    ScenarioCreate,
    ScenarioListOut,
    ScenarioOut,
    ScenarioStatusName,
    ScenarioUpdate,
    TransitionIn,
)
from terraplan.services.types import ScenarioInfo
from terraplan.services.workspace import Workspace, uses_supplied_adjacency

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"])


def _spec(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    from terraplan.domain import ScenarioSpec

    return ScenarioSpec.from_dict(data, source="spec")


def _out(info: ScenarioInfo, response: Response) -> ScenarioOut:
    response.headers["ETag"] = etag(info.version)
    return ScenarioOut.from_info(info)


@router.get("", response_model=ScenarioListOut, summary="List scenarios",
            responses=problem_responses(*READ))
def list_scenarios(
    cycle: str | None = Query(None, min_length=1, max_length=200, pattern=TEXT),
    status_: ScenarioStatusName | None = Query(None, alias="status"),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> ScenarioListOut:
    return ScenarioListOut(items=[ScenarioOut.from_info(s)
                                  for s in ws.list_scenarios(cycle=cycle, status=status_)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScenarioOut,
             summary="Create a draft scenario", responses=problem_responses(*WRITE))
def create_scenario(
    body: ScenarioCreate, response: Response,
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> ScenarioOut:
    spec = _spec(body.spec)
    if spec is not None and uses_supplied_adjacency(spec):
        # the file cannot travel with the JSON spec; falling back to Delaunay would silently
        # solve on another graph than the one the spec names
        raise ApiProblem(
            "adjacency-required",
            f"the geo_unit spec names inputs.adjacency {spec.inputs.adjacency!r}, a file that "
            "cannot be uploaded over the API; create the scenario with the adjacency file via "
            "the CLI (terraplan scenario create --spec) or Python "
            "(Workspace.create_scenario(spec_dir=... or units=...)), or set inputs.adjacency to "
            "'delaunay' to approximate it from the unit centroids")
    info = ws.create_scenario(body.name, actor=p.actor, spec=spec,
                              accounts=body.accounts_snapshot, reps=body.reps_snapshot,
                              cycle=body.cycle, description=body.description)
    response.headers["Location"] = f"/v1/scenarios/{info.id}"
    return _out(info, response)


@router.get("/{scenario_id}", response_model=ScenarioOut, summary="Get a scenario",
            responses=problem_responses(*READ))
def get_scenario(
    scenario_id: ScenarioId, response: Response,
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> ScenarioOut:
    return _out(ws.get_scenario(scenario_id), response)


@router.patch("/{scenario_id}", response_model=ScenarioOut,
              summary="Edit a draft or solved scenario (description, spec)",
              description="A new spec makes a solved scenario a draft again.",
              responses=problem_responses(*WRITE))
def update_scenario(
    scenario_id: ScenarioId, body: ScenarioUpdate, response: Response,
    version: int | None = Depends(if_match),
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> ScenarioOut:
    info = ws.update_scenario(scenario_id, actor=p.actor, spec=_spec(body.spec),
                              description=body.description,
                              expected_version=pick_version(version, body.version), why=body.why)
    return _out(info, response)


@router.delete("/{scenario_id}", response_model=ScenarioOut, summary="Archive a scenario",
               description="Scenarios are never deleted (audit trail); this archives it. "
                           "Archiving the active scenario needs the admin role.",
               responses=problem_responses(*WRITE))
def delete_scenario(
    scenario_id: ScenarioId, response: Response, version: int | None = Depends(if_match),
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> ScenarioOut:
    _guard_active(ws, scenario_id, p)
    return _out(ws.transition(scenario_id, "archive", actor=p.actor, expected_version=version),
                response)


def _guard_active(ws: Workspace, scenario_id: int, p: auth.Principal) -> None:
    # retiring the plan the CRM reads is an admin decision, like activating one
    if not p.allows("admin") and ws.get_scenario(scenario_id).status == "active":
        from terraplan.api.problems import ApiProblem

        raise ApiProblem("forbidden", "archiving the active scenario needs the admin role")


@router.post("/{scenario_id}/copy", status_code=status.HTTP_201_CREATED,
             response_model=ScenarioOut, summary="Copy into a new draft child scenario",
             description="How an approved or active plan is edited. With `with_plan` the "
                         "source's plan is copied and the child starts `solved`.",
             responses=problem_responses(*WRITE))
def copy_scenario(
    scenario_id: ScenarioId, body: ScenarioCopy, response: Response,
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> ScenarioOut:
    info = ws.copy_scenario(scenario_id, body.name, actor=p.actor, cycle=body.cycle,
                            with_plan=body.with_plan, description=body.description,
                            why=body.why)
    response.headers["Location"] = f"/v1/scenarios/{info.id}"
    return _out(info, response)


def _transition_route(verb: str, path: str, role: str, summary: str) -> None:
    dep = auth.require(role)

    def handler(
        scenario_id: ScenarioId, response: Response, body: TransitionIn | None = None,
        version: int | None = Depends(if_match),
        p: auth.Principal = Depends(dep), ws: Workspace = Depends(workspace),
    ) -> ScenarioOut:
        if verb == "archive":
            _guard_active(ws, scenario_id, p)
        body = body or TransitionIn()
        info = ws.transition(scenario_id, verb, actor=p.actor,
                             expected_version=pick_version(version, body.version), why=body.why)
        return _out(info, response)

    handler.__name__ = f"{verb}_scenario"
    router.add_api_route(f"/{{scenario_id}}/{path}", handler, methods=["POST"],
                         response_model=ScenarioOut, summary=summary,
                         description=f"Lifecycle action `{verb}` (role: {role}).",
                         responses=problem_responses(*WRITE))


for _verb, _path, _role, _summary in (
    ("submit", "submit", "planner", "Submit a solved scenario for review"),
    ("send_back", "send-back", "planner", "Send a scenario in review back to solved"),
    ("approve", "approve", "planner", "Approve a scenario in review"),
    ("reopen", "reopen", "planner", "Withdraw an approval (back to review)"),
    ("activate", "activate", "admin",
     "Activate an approved scenario (the previous active one is archived)"),
    ("archive", "archive", "planner", "Archive a scenario"),
):
    _transition_route(_verb, _path, _role, _summary)


@router.get("/{scenario_id}/history", response_model=list[AuditOut],
            summary="Audit trail of a scenario (newest first)",
            responses=problem_responses(*READ))
def history(
    scenario_id: ScenarioId, limit: int = Query(100, ge=1, le=1000),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> list[AuditOut]:
    return [AuditOut(id=a.id, at=a.at, actor=a.actor, action=a.action,
                     object_type=a.object_type, object_id=a.object_id,
                     scenario_id=a.scenario_id, details=dict(a.details), why=a.why)
            for a in ws.history(scenario_id, limit=limit)]
