"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: the store answers
and is at the schema revision this version needs). No key needed: load balancers call them."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from terraplan import __version__
from terraplan.api.deps import workspace
from terraplan.api.problems import PROBLEM_JSON, problem_response
from terraplan.api.schemas import HealthOut, ProblemOut, ReadyOut
from terraplan.scenarios import migrate
from terraplan.services.workspace import Workspace

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness probe")
async def healthz() -> HealthOut:
    return HealthOut(version=__version__)


@router.get("/readyz", response_model=ReadyOut, summary="Readiness probe (checks the store)",
            responses={503: {"model": ProblemOut, "description": "The store is unreachable",
                             "content": {PROBLEM_JSON: {"schema": {
                                 "$ref": "#/components/schemas/ProblemOut"}}}}})
def readyz(ws: Workspace = Depends(workspace)) -> ReadyOut | JSONResponse:
    try:
        with ws.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev = migrate.current(ws.engine)
    except Exception as exc:
        return problem_response("unavailable", f"the store is not reachable: "
                                f"{type(exc).__name__}", status=503, instance="/readyz")
    if rev != migrate.head():
        return problem_response("unavailable", f"the store is at schema revision {rev}, "
                                f"expected {migrate.head()}", status=503, instance="/readyz")
    return ReadyOut(database=ws.engine.dialect.name, schema_revision=rev)
