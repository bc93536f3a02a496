"""RFC 9457 problem details: every error response of the API is ``application/problem+json``.

Each :class:`~terraplan.errors.TerraplanError` carries a stable ``problem_type`` code; the
response's ``type`` is ``PROBLEM_BASE + code`` — a stable identifier clients switch on (the
``title`` is for humans and may be reworded). Unexpected exceptions become a 500 problem with
no detail: the traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from terraplan.errors import InfeasibleError, InputValidationError, Problem, TerraplanError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Base of the ``type`` URIs (identifiers; RFC 9457 does not require them to resolve).
PROBLEM_BASE = "https://terraplan.dev/problems/"

#: code -> (HTTP status, title)
PROBLEMS: dict[str, tuple[int, str]] = {
    "validation": (422, "The request or its data failed validation"),
    "not-found": (404, "Not found"),
    "conflict": (409, "Conflict with the current state"),
    "infeasible": (409, "The rules cannot all hold"),
    "unsupported-rule": (422, "A solver backend cannot encode a rule"),
    "unsupported-backend": (422, "The scenario's mode cannot use this solver backend"),
    "adjacency-required": (422, "A geo-unit adjacency file cannot be supplied over the API"),
    "forbidden": (403, "Forbidden"),
    "unauthorized": (401, "Authentication required"),
    "payload-too-large": (413, "Request body too large"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "bad-request": (400, "Bad request"),
    "precondition-failed": (412, "Precondition failed"),
    "internal": (500, "Internal server error"),
    "unavailable": (503, "Service unavailable"),
    "error": (400, "Request refused"),
}

_STATUS_CODE = {405: "method-not-allowed", 406: "not-acceptable", 404: "not-found",
                415: "unsupported-media-type", 413: "payload-too-large", 401: "unauthorized",
                403: "forbidden", 409: "conflict", 412: "precondition-failed", 422: "validation",
                503: "unavailable", 400: "bad-request"}


def problem_type(code: str) -> str:
    return PROBLEM_BASE + code


def problem_dict(code: str, detail: str, *, status: int | None = None,
                 instance: str | None = None, **extra: Any) -> dict[str, Any]:
    st, title = PROBLEMS.get(code, PROBLEMS["error"])
    body: dict[str, Any] = {"type": problem_type(code), "title": title,
                            "status": status or st, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(code: str, detail: str, *, status: int | None = None,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = problem_dict(code, detail, status=status, instance=instance, **extra)
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON,
                        headers=headers)


def problem_item(p: Problem) -> dict[str, Any]:
    """One input problem as listed in a validation problem's ``errors``."""
    return {"severity": p.severity.value, "code": p.code, "source": p.source, "row": p.row,
            "column": p.column, "value": p.value, "reason": p.reason}


class ApiProblem(Exception):
    """Raise from a route to answer with a problem (codes of :data:`PROBLEMS`)."""

    def __init__(self, code: str, detail: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status
        self.headers, self.extra = headers, extra


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into problem+json."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.code, exc.detail, status=exc.status,
                                instance=request.url.path, headers=exc.headers, **exc.extra)

    @app.exception_handler(InputValidationError)
    async def _input_problem(request: Request, exc: InputValidationError) -> JSONResponse:
        errors = [problem_item(p) for p in exc.errors]
        return problem_response(
            "validation", f"{len(errors)} problem(s) found in the input",
            instance=request.url.path, errors=errors)

    @app.exception_handler(InfeasibleError)
    async def _infeasible(request: Request, exc: InfeasibleError) -> JSONResponse:
        return problem_response("infeasible", str(exc).split("\n", 1)[0],
                                instance=request.url.path, reasons=list(exc.reasons))

    @app.exception_handler(TerraplanError)
    async def _terraplan(request: Request, exc: TerraplanError) -> JSONResponse:
        return problem_response(exc.problem_type, str(exc), instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError
                                  ) -> JSONResponse:
        errors = [{"location": [str(x) for x in e.get("loc", ())], "reason": e.get("msg", ""),
                   "code": e.get("type", "invalid")} for e in exc.errors()]
        return problem_response("validation", f"{len(errors)} problem(s) in the request",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODE.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else PROBLEMS[code][1]
        return problem_response(code, detail, status=exc.status_code,
                                instance=request.url.path,
                                headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response("internal", "an internal error occurred; it has been logged",
                                instance=request.url.path)


__all__ = ["PROBLEMS", "PROBLEM_BASE", "PROBLEM_JSON", "ApiProblem", "HTTPException", "install",
           "problem_dict", "problem_item", "problem_response", "problem_type"]
