"""Plans: assignments with cursor pagination and filters, plan versions, export."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from terraplan.api import auth
from terraplan.api.deps import MAX_ID, TEXT, ScenarioId, workspace
from terraplan.api.routers._common import READ, problem_responses
from terraplan.api.schemas import AssignmentOut, AssignmentPageOut, PlanOut
from terraplan.services.types import ScenarioInfo
from terraplan.services.workspace import Workspace

router = APIRouter(prefix="/v1/scenarios", tags=["plans"])

# account ids per (accounts snapshot sha256, segment): snapshots are immutable and keyed by
# content, so this never goes stale, whatever store or scenario they come from
_SEGMENTS: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
_SEG_LOCK = threading.Lock()


def _segment_ids(ws: Workspace, sc: ScenarioInfo, segment: str) -> frozenset[str]:
    key = (sc.accounts_sha256, segment)
    with _SEG_LOCK:
        hit = _SEGMENTS.get(key)
    if hit is not None:
        return hit
    book = ws.load_scenario(sc.id).accounts
    cats = list(book.segment.categories)
    if segment in cats:
        mask = book.segment.codes == cats.index(segment)
        ids = frozenset(str(x) for x in book.ids[mask].tolist())
    else:
        ids = frozenset()
    with _SEG_LOCK:
        _SEGMENTS[key] = ids
        while len(_SEGMENTS) > 32:
            _SEGMENTS.popitem(last=False)
    return ids


@router.get(
    "/{scenario_id}/plan", response_model=AssignmentPageOut,
    summary="Assignments of a plan, one page at a time",
    description="Rows in account id order. Pass `next_cursor` as `after` to get the next page; "
                "the last page has `next_cursor: null`. Filters: `rep` (its book), `segment`. "
                "Default plan: the scenario's current one.",
    responses=problem_responses(*READ),
)
def plan_page(
    request: Request, scenario_id: ScenarioId,
    after: str | None = Query(None, max_length=128, pattern=TEXT,
                              description="Cursor: last account id seen"),
    limit: int = Query(1000, ge=1, le=10_000),
    rep: str | None = Query(None, min_length=1, max_length=128, pattern=TEXT),
    segment: str | None = Query(None, min_length=1, max_length=128, pattern=TEXT),
    plan_id: int | None = Query(None, ge=1, le=MAX_ID),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> AssignmentPageOut:
    sc = ws.get_scenario(scenario_id)
    pid = plan_id
    items: list[AssignmentOut] = []
    more = False
    if segment is None:
        rows = ws.page_plan(scenario_id, after=after, limit=limit + 1, rep_id=rep,
                            plan_id=plan_id)
        more = len(rows) > limit
        items = [AssignmentOut.from_row(r) for r in rows[:limit]]
    else:
        wanted = _segment_ids(ws, sc, segment)
        cursor = after
        batch = min(max(4 * limit, 1000), 100_000)
        while True:
            rows = ws.page_plan(scenario_id, after=cursor, limit=batch, rep_id=rep,
                                plan_id=plan_id)
            for r in rows:
                if r.account_id in wanted:
                    if len(items) == limit:
                        more = True
                        break
                    items.append(AssignmentOut.from_row(r))
            if more or len(rows) < batch:
                break
            cursor = rows[-1].account_id
    if pid is None:
        pid = sc.plan_id
        if pid is None:  # page_plan has already refused a scenario without a plan
            pid = 0
    nxt = items[-1].account_id if more and items else None
    link = None
    if nxt is not None:
        q = {k: v for k, v in request.query_params.items() if k != "after"}
        q["after"] = nxt
        link = f"/v1/scenarios/{scenario_id}/plan?{urlencode(q)}"
    return AssignmentPageOut(scenario_id=scenario_id, plan_id=pid, items=items,
                             next_cursor=nxt, next=link)


@router.get("/{scenario_id}/plans", response_model=list[PlanOut],
            summary="Plan versions of a scenario (the last one is current)",
            responses=problem_responses(*READ))
def plan_versions(
    scenario_id: ScenarioId,
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> list[PlanOut]:
    return [PlanOut.from_info(p) for p in ws.list_plans(scenario_id)]


@router.get(
    "/{scenario_id}/plan/export", summary="Export a whole plan (CSV or JSON)",
    description="Every assignment in one response, to publish a plan at go-live: CSV "
                "`account_id,rep_id,reason` or JSON `{scenario, plan_id, assignments}`.",
    responses={200: {"description": "The plan", "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}}}},
        **problem_responses(*READ)},
    response_class=Response,
)
def export_plan(
    scenario_id: ScenarioId, format: Literal["csv", "json"] = Query("csv"),
    plan_id: int | None = Query(None, ge=1, le=MAX_ID),
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> Response:
    buf = io.StringIO()
    ws.export_plan(scenario_id, buf, fmt=format, plan_id=plan_id)
    media = "text/csv" if format == "csv" else "application/json"
    return Response(buf.getvalue(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="plan-{scenario_id}.{format}"'})
