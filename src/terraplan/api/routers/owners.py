"""``GET /v1/accounts/{account_id}/owner`` — the CRM's hot path.

Kept lean on purpose: an ``async`` handler (no thread-pool hop) without dependencies (the key
is checked by :func:`terraplan.api.auth.authenticate`, served from the authenticator's cache),
:meth:`Workspace.owner_of` — one plain DBAPI statement on a pooled connection, well under a
millisecond — run directly on the event loop, where a thread hand-off would cost more than the
query, and the body serialised once by ``json.dumps`` (the response model documents it; FastAPI
does not re-validate a returned ``Response``).
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request, Response

from terraplan.api import auth
from terraplan.api.deps import TEXT
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import READ, problem_responses
from terraplan.api.schemas import OwnerOut
from terraplan.services.workspace import Workspace

router = APIRouter(prefix="/v1/accounts", tags=["owners"])

_BAD = re.compile(TEXT)
_PARAMETERS = [
    {"name": "account_id", "in": "path", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": TEXT},
     "description": "The CRM's account id"},
    {"name": "plan", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["active"], "default": "active"},
     "description": "Which plan: only `active` for now"},
    {"name": "cycle", "in": "query", "required": False,
     "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": TEXT},
     "description": "Planning cycle; default: the most recently activated plan"},
]


def _text(value: str | None, name: str, max_len: int) -> str | None:
    if value is None:
        return None
    if not (1 <= len(value) <= max_len) or _BAD.match(value) is None:
        raise ApiProblem("validation", f"'{name}' must be 1 to {max_len} printable "
                         "characters", errors=[{"location": [name], "reason": "invalid",
                                                "code": "string_pattern_mismatch"}])
    return value


@router.get(
    "/{account_id}/owner", response_model=OwnerOut, summary="Owner of an account",
    description="The rep that owns `account_id` in the active plan (of `cycle`, or the most "
                "recently activated one). 404 when there is no active plan or the account is "
                "not in it.",
    responses=problem_responses(*READ),
    openapi_extra={"security": auth.SECURITY, "parameters": _PARAMETERS},
)
async def owner(request: Request) -> Response:
    # parameters are read by hand (and documented in openapi_extra): FastAPI's parameter
    # machinery costs more than the lookup itself on this path
    auth.authenticate(request, "viewer")
    account_id = _text(request.path_params["account_id"], "account_id", 128)
    assert account_id is not None
    q = request.query_params
    if q.get("plan", "active") != "active":
        raise ApiProblem("validation", "'plan' must be 'active'",
                         errors=[{"location": ["query", "plan"], "reason": "invalid",
                                  "code": "enum"}])
    cycle = _text(q.get("cycle"), "cycle", 200)
    ws: Workspace = request.app.state.ws
    o = ws.owner_of(account_id, cycle=cycle)
    body = {"account_id": o.account_id, "rep_id": o.rep_id,
            "reason": None if o.reason is None else o.reason.name.lower(),
            "scenario_id": o.scenario_id, "scenario": o.scenario_name, "cycle": o.cycle,
            "plan_id": o.plan_id}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
