"""API-key authentication and role checks.

Clients send ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). The key's sha256 is
looked up in the store (:class:`terraplan.services.keys.KeyStore`); verified keys are cached in
memory for :data:`CACHE_SECONDS` so the CRM's owner lookups do not pay a store round trip per
request — a revoked key therefore stops working within that many seconds. ``last_used_at`` is
written at most once a minute per key, off the request path.

401 (with ``WWW-Authenticate``) means "who are you?": no key, an unknown or a revoked key.
403 means "I know you, and your role does not allow this".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from terraplan.api.problems import ApiProblem
from terraplan.services.keys import ROLES, ApiKeyInfo, KeyStore, hash_secret, role_rank

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
TOUCH_SECONDS = 60.0
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="terraplan"'}

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="An API key: `Authorization: Bearer tp_...` "
                                       "(create one with `terraplan keys create`).")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                             description="The same API key in the `X-API-Key` header.")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the API key it authenticated with."""

    key_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log."""
        return f"api:{self.name}"

    def allows(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)


class Authenticator:
    """Verifies keys against the store with a short in-memory cache."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._cache: dict[str, tuple[float, ApiKeyInfo | None]] = {}
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()
        self._bg = ThreadPoolExecutor(max_workers=1, thread_name_prefix="terraplan-key-touch")

    def verify(self, key: str) -> ApiKeyInfo | None:
        digest = hash_secret(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            info = hit[1]
        else:
            info = self.keys.verify(key)
            with self._lock:
                if len(self._cache) > 10_000:  # unknown keys must not grow memory for ever
                    self._cache.clear()
                self._cache[digest] = (now + CACHE_SECONDS, info)
        if info is not None:
            self._maybe_touch(info.id, now)
        return info

    def _maybe_touch(self, key_id: int, now: float) -> None:
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < TOUCH_SECONDS:
                return
            self._touched[key_id] = now
        self._bg.submit(self._touch, key_id)

    def _touch(self, key_id: int) -> None:
        try:
            self.keys.touch(key_id)
        except Exception:  # a failed bookkeeping write must never fail a request
            log.warning("could not record the use of API key %s", key_id, exc_info=True)

    def forget(self) -> None:
        """Drop the cache (after a revocation through the API)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        self._bg.shutdown(wait=True)


def authenticate(request: Request, role: str | None = None) -> Principal:
    """The caller of ``request`` (role at least ``role``), or a 401/403 problem — without the
    dependency machinery, for the owner lookup's hot path (same rules as :func:`require`)."""
    key = request.headers.get("x-api-key")
    authz = request.headers.get("authorization")
    if authz is not None:
        scheme, _, cred = authz.partition(" ")
        if scheme.lower() == "bearer" and cred:
            key = cred.strip()
    p = _principal(request, key)
    if role is not None and not p.allows(role):
        raise _forbidden(p, role)
    return p


def _forbidden(p: Principal, role: str) -> ApiProblem:
    return ApiProblem("forbidden", f"this operation needs the {role} role; "
                      f"the key '{p.name}' has the {p.role} role")


async def principal(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    header_key: str | None = Depends(header_scheme),
) -> Principal:
    """The authenticated caller, or a 401 problem."""
    key = bearer.credentials if bearer is not None else header_key
    return _principal(request, key)


def _principal(request: Request, key: str | None) -> Principal:
    if not key:
        raise ApiProblem("unauthorized", "an API key is required (Authorization: Bearer <key>)",
                         headers=WWW_AUTHENTICATE)
    auth: Authenticator = request.app.state.auth
    # one indexed lookup at most, then cached: cheap enough to run on the event loop
    info = auth.verify(key)
    if info is None:
        raise ApiProblem("unauthorized", "the API key is unknown or revoked",
                         headers={"WWW-Authenticate": 'Bearer realm="terraplan", '
                                  'error="invalid_token"'})
    return Principal(info.id, info.name, info.role)


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose role is at least ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def _check(p: Principal = Depends(principal)) -> Principal:
        if not p.allows(role):
            raise _forbidden(p, role)
        return p

    _check.__name__ = f"require_{role}"
    return _check


viewer = require("viewer")
planner = require("planner")
admin = require("admin")

#: OpenAPI security requirement of routes that authenticate with :func:`authenticate`.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

__all__ = ["SECURITY", "Authenticator", "Principal", "admin", "authenticate", "planner",
           "principal", "require", "viewer"]
