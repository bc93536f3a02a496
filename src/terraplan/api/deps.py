"""Dependencies shared by the routers: the workspace, the job runner, versions from If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Request

from terraplan.api.jobs import JobRunner
from terraplan.api.problems import ApiProblem
from terraplan.services.workspace import Workspace

#: Largest id accepted (store ids are 64-bit; bigger numbers are refused as validation errors
#: instead of overflowing the database driver).
MAX_ID = 2**62
#: Printable text for ids and names taken from paths and queries (no control characters,
#: which PostgreSQL refuses in text).
TEXT = r"^[^\x00-\x1f\x7f]+$"

ScenarioId = Annotated[int, Path(ge=1, le=MAX_ID, description="Scenario id")]


async def workspace(request: Request) -> Workspace:
    """The server's one :class:`Workspace` (engine and connection pool shared by requests)."""
    ws: Workspace = request.app.state.ws
    return ws


async def runner(request: Request) -> JobRunner:
    jr: JobRunner = request.app.state.runner
    return jr


async def if_match(
    if_match: str | None = Header(
        None, alias="If-Match", description='The scenario version you read, as its ETag '
        '(`"3"`); a stale version is refused with 409 conflict', max_length=64),
) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``); ``None`` if absent."""
    if if_match is None or if_match.strip() == "*":
        return None
    v = if_match.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    if not v.isdigit() or len(v) > 18:
        raise ApiProblem("validation", f"If-Match must be a scenario version like '\"3\"'; "
                         f"got {if_match!r}")
    return int(v)


def pick_version(header: int | None, body: int | None) -> int | None:
    """The expected version from If-Match or the body; both given must agree."""
    if header is not None and body is not None and header != body:
        raise ApiProblem("validation", f"If-Match says version {header} but the body says "
                         f"{body}")
    return header if header is not None else body


def etag(version: int) -> str:
    return f'"{version}"'
