"""Helpers shared by the routers: documented problem responses."""

from __future__ import annotations

from typing import Any

from terraplan.api.problems import PROBLEM_JSON, PROBLEMS
from terraplan.api.schemas import ProblemOut


def problem_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given problem codes (plus 401, which every /v1 route
    may answer), each ``application/problem+json`` with the :class:`ProblemOut` schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in ("unauthorized", *codes):
        status, title = PROBLEMS[code]
        prev = out.get(status)
        desc = title if prev is None else f"{prev['description']}; {title}"
        out[status] = {"model": ProblemOut, "description": desc,
                       "content": {PROBLEM_JSON: {"schema": {
                           "$ref": "#/components/schemas/ProblemOut"}}}}
    return out


READ = ("forbidden", "not-found", "validation")
WRITE = ("forbidden", "not-found", "validation", "conflict")
