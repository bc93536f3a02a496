"""``GET /v1/accounts/{account_id}/owner`` — the CRM's hot path.

Kept lean on purpose: an ``async`` handler (no thread-pool hop), the key check served from the
authenticator's cache, and :meth:`Workspace.owner_of` — two prepared statements on a pooled
connection, well under a millisecond — run directly on the event loop, where a thread hand-off
would cost more than the query.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query

from terraplan.api import auth
from terraplan.api.deps import workspace
from terraplan.api.routers._common import READ, problem_responses
from terraplan.api.schemas import OwnerOut
from terraplan.services.workspace import Workspace

router = APIRouter(prefix="/v1/accounts", tags=["owners"])


@router.get(
    "/{account_id}/owner", response_model=OwnerOut, summary="Owner of an account",
    description="The rep that owns `account_id` in the active plan (of `cycle`, or the most "
                "recently activated one). 404 when there is no active plan or the account is "
                "not in it.",
    responses=problem_responses(*READ),
)
async def owner(
    account_id: str = Path(min_length=1, max_length=128),
    plan: Literal["active"] = Query("active", description="Which plan: only `active` for now"),
    cycle: str | None = Query(None, min_length=1, max_length=200,
                              description="Planning cycle; default: the latest activated"),
    _p: auth.Principal = Depends(auth.viewer),
    ws: Workspace = Depends(workspace),
) -> OwnerOut:
    return OwnerOut.from_info(ws.owner_of(account_id, cycle=cycle))
