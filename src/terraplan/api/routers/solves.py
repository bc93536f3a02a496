"""Solve jobs: ``POST /v1/scenarios/{id}/solves`` queues one (202 + ``Location``), ``GET
/v1/jobs/{id}`` reports state, progress (elapsed, incumbent, bound, gap) and, when done, the
result; ``DELETE /v1/jobs/{id}`` cancels (a running solve stops and keeps no partial state
besides its recorded run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from terraplan.api import auth
from terraplan.api.deps import MAX_ID, TEXT, ScenarioId, runner, workspace
from terraplan.api.jobs import JobRunner
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import READ, WRITE, problem_responses
from terraplan.api.schemas import JobListOut, JobOut, JobState, SolveIn, SolveRunOut
from terraplan.errors import ParameterError
from terraplan.services.workspace import Workspace

router = APIRouter(tags=["solves"])


def _check_backend(name: str) -> None:
    if name == "auto":
        return
    from terraplan.solvers import backends  # loads the backend registry once

    known = backends()
    if name not in known:
        raise ApiProblem("validation", f"unknown backend {name!r}; expected 'auto' or one of "
                         f"{sorted(known)}")


def _check_mode_backend(ws: Workspace, scenario_id: int, name: str) -> None:
    """422 ``unsupported-backend`` at submission when the scenario's mode cannot use ``name``
    (carve / geo-unit models run on fewer backends), instead of a job that fails later."""
    from terraplan.services.planning import check_solve_backend

    try:
        check_solve_backend(ws, scenario_id, name)
    except ParameterError as exc:
        raise ApiProblem("unsupported-backend", str(exc)) from None


@router.post(
    "/v1/scenarios/{scenario_id}/solves", status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut, summary="Start a solve job",
    description="Queues a solve of the scenario in the worker pool and answers at once with "
                "the job (`Location: /v1/jobs/{id}`); poll it. Refused (409) when the "
                "scenario cannot change (in review, approved, active, archived), and (422, "
                "`unsupported-backend`) when the scenario's mode cannot use the backend "
                "(carve and geo-unit scenarios run on fewer backends than assign).",
    responses=problem_responses(*WRITE, "unsupported-backend"),
)
def start_solve(
    scenario_id: ScenarioId, response: Response, body: SolveIn | None = None,
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
    jr: JobRunner = Depends(runner),
) -> JobOut:
    body = body or SolveIn()
    _check_backend(body.backend)
    _check_mode_backend(ws, scenario_id, body.backend)
    job = ws.create_job(scenario_id, actor=p.actor, kind="solve", options=body.model_dump())
    jr.submit(job.id)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.from_info(job)


@router.get("/v1/scenarios/{scenario_id}/solves", response_model=list[SolveRunOut],
            summary="Solve runs of a scenario (oldest first)",
            responses=problem_responses(*READ))
def list_runs(
    scenario_id: ScenarioId,
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> list[SolveRunOut]:
    return [SolveRunOut.from_info(r) for r in ws.list_solve_runs(scenario_id)]


@router.get("/v1/jobs", response_model=JobListOut, summary="List jobs",
            responses=problem_responses(*READ))
def list_jobs(
    scenario_id: int | None = Query(None, ge=1, le=MAX_ID), state: JobState | None = Query(None),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> JobListOut:
    return JobListOut(items=[JobOut.from_info(j) for j in
                             ws.list_jobs(scenario=scenario_id, state=state)])


@router.get("/v1/jobs/{job_id}", response_model=JobOut, summary="Job status and result",
            responses=problem_responses(*READ))
def get_job(
    job_id: Annotated[str, Path(max_length=64, pattern=TEXT)],
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> JobOut:
    return JobOut.from_info(ws.get_job(job_id))


@router.delete("/v1/jobs/{job_id}", response_model=JobOut, status_code=status.HTTP_202_ACCEPTED,
               summary="Cancel a job",
               description="A queued job is cancelled at once; a running one is flagged and "
                           "its worker stops within about a second (poll until `cancelled`). "
                           "409 when the job is already finished.",
               responses=problem_responses(*WRITE))
def cancel_job(
    job_id: Annotated[str, Path(max_length=64, pattern=TEXT)],
    p: auth.Principal = Depends(auth.planner), ws: Workspace = Depends(workspace),
) -> JobOut:
    return JobOut.from_info(ws.request_cancel(job_id, actor=p.actor))
