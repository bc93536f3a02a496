"""Request size limit as pure ASGI middleware.

``Content-Length`` above the limit is refused before the body is read; a chunked body is
counted as it streams and refused as soon as it crosses the limit (the handler never sees it).
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from terraplan.api.problems import PROBLEM_JSON, problem_dict


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body crosses the limit. An ``HTTPException`` so
    that FastAPI's body parsing lets it through (it turns other errors into a 400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {max_bytes:,} bytes "
                              "(TERRAPLAN_MAX_UPLOAD_BYTES)")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(problem_dict(
            "payload-too-large", f"the request body exceeds the limit of {self.max_bytes:,} "
            "bytes (TERRAPLAN_MAX_UPLOAD_BYTES)", instance=scope.get("path"))).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)
