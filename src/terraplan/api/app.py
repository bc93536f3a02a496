"""The application factory: settings, the shared workspace, the job runner, auth, errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from terraplan import __version__
from terraplan.api import problems
from terraplan.api.auth import Authenticator
from terraplan.api.jobs import STALE_SECONDS, JobRunner
from terraplan.api.limits import BodySizeLimit
from terraplan.api.routers import ROUTERS
from terraplan.services.keys import KeyStore
from terraplan.services.workspace import Workspace
from terraplan.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Sales territory planning over HTTP: what CRMs and RevOps tooling call.

* **Owner lookup** (`GET /v1/accounts/{account_id}/owner`) — who owns an account in the active
  plan; the CRM calls it at every lead or account update.
* **Planning** — upload inputs, create scenarios, start solve jobs and poll them, page through
  plans, compare, explain, approve and activate.

Authenticate with an API key (`terraplan keys create NAME --role viewer|planner|admin`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`. Roles: **viewer** reads plans, owners and
everything else; **planner** also creates and edits scenarios, uploads inputs and runs solves;
**admin** also activates plans and manages keys.

Errors are RFC 9457 `application/problem+json`; switch on `type`
(`https://terraplan.dev/problems/<code>`: validation, not-found, conflict, infeasible,
forbidden, unauthorized, payload-too-large, ...). Scenario writes take the version you read as
`If-Match` (its `ETag`) and answer 409 when someone changed it since.
"""

TAGS = [
    {"name": "health", "description": "Liveness and readiness probes (no key needed)."},
    {"name": "owners", "description": "The CRM hot path: owner of an account in the active plan."},
    {"name": "inputs", "description": "Upload accounts and reps files (CSV, Parquet, Excel)."},
    {"name": "scenarios", "description": "Scenarios, their lifecycle and history."},
    {"name": "solves", "description": "Solve jobs run in a worker pool; poll them."},
    {"name": "plans", "description": "Plans: assignments with cursor pagination, export."},
    {"name": "analysis", "description": "Compare, explain, metrics, quotas and comp."},
    {"name": "keys", "description": "API keys (admin)."},
]


def create_app(settings: Settings | None = None, *, database_url: str | None = None,
               job_mode: str = "process", recover: str = "all",
               workers: int | None = None) -> FastAPI:
    """Build the API over the store at ``database_url`` (default: the settings' URL).

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`terraplan.settings.get_settings` (``TERRAPLAN_*`` environment).
    database_url : str, optional
        Overrides ``settings.database_url``.
    job_mode : {"process", "thread"}
        Where solve jobs run: a process pool (default) or threads (tests, embedding).
    recover : {"all", "stale"}
        At startup, fail every queued/running job (``all``: this is the only server of the
        store) or only those whose heartbeat is stale (``stale``: several server processes
        share the store, e.g. uvicorn ``--workers N``).
    workers : int, optional
        Solve jobs run at once (default ``settings.workers``).
    """
    settings = settings or get_settings()
    url = database_url or settings.database_url
    n_workers = workers or settings.workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # read at startup, not at build time: an app object can be served again over
        # another store (tests build the routes once and reuse them)
        url: str = app.state.database_url
        ws = Workspace.open(url)
        failed = ws.fail_interrupted_jobs(
            stale_after=None if recover == "all" else STALE_SECONDS)
        if failed:
            log.warning("marked %d interrupted job(s) failed: %s", len(failed), failed)
        app.state.ws = ws
        app.state.keys = KeyStore(ws)
        app.state.auth = Authenticator(app.state.keys)
        app.state.runner = JobRunner(ws, url, workers=n_workers, mode=job_mode)
        reaper = asyncio.create_task(_reap(ws))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await asyncio.to_thread(app.state.runner.shutdown)
            app.state.auth.close()
            ws.close()

    app = FastAPI(
        title="terraplan", version=__version__, description=DESCRIPTION, openapi_tags=TAGS,
        lifespan=lifespan, docs_url="/docs", redoc_url=None,
        responses={401: _problem_ref("Missing, unknown or revoked API key"),
                   422: _problem_ref("Validation failed: every problem is listed")},
    )
    app.state.database_url = url
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "If-Match",
                                          "Content-Type"],
                           expose_headers=["ETag", "Location"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    return app


def _problem_ref(description: str) -> dict[str, Any]:
    from terraplan.api.schemas import ProblemOut

    return {"model": ProblemOut, "description": description,
            "content": {problems.PROBLEM_JSON: {}}}


async def _reap(ws: Workspace) -> None:
    """Fail jobs whose heartbeat stopped (their worker died), every STALE_SECONDS / 4."""
    while True:
        await asyncio.sleep(STALE_SECONDS / 4)
        try:
            failed = await asyncio.to_thread(ws.fail_interrupted_jobs, stale_after=STALE_SECONDS)
            if failed:
                log.warning("failed %d job(s) with a stale heartbeat: %s", len(failed), failed)
        except Exception:
            log.warning("job reaper: could not check for stale jobs", exc_info=True)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory terraplan.api.app:app_from_env`` (several workers)."""
    import os

    return create_app(recover=os.environ.get("TERRAPLAN_API_RECOVER", "stale"))
