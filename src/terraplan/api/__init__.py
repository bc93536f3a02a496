"""The REST API (FastAPI): what CRMs and RevOps tooling call.

:func:`create_app` builds the application over one scenario store; ``terraplan serve`` runs it
under uvicorn. Routes are versioned under ``/v1``, one router per resource
(:mod:`terraplan.api.routers`); request/response schemas live in :mod:`terraplan.api.schemas`,
apart from domain objects and store rows. Errors are RFC 9457 ``application/problem+json``
(:mod:`terraplan.api.problems`); authentication is by API key with roles
(:mod:`terraplan.api.auth`); solve jobs run in a process pool (:mod:`terraplan.api.jobs`).
"""

from terraplan.api.app import create_app

__all__ = ["create_app"]
