"""API keys of the REST API: create, list, revoke, verify.

A key is ``tp_<prefix>_<secret>``: ``prefix`` (8 hex characters) is stored in clear so listings
can tell keys apart; the whole key is stored only as its sha256 — the secret is shown once, when
the key is created, and cannot be recovered from the store. Keys are random 256-bit tokens, so a
plain (unsalted) sha256 is the right hash: there is nothing to brute-force, and verification is
one indexed lookup of the digest (no per-request key stretching on the CRM's hot path).

Roles are ordered ``viewer < planner < admin``; a role grants everything the lower roles grant.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from terraplan.errors import NotFoundError, ParameterError
from terraplan.scenarios import models as m
from terraplan.scenarios.db import session_factories
from terraplan.services.workspace import Workspace

#: Roles from least to most privileged.
ROLES: tuple[str, ...] = m.API_KEY_ROLES
KEY_PREFIX = "tp_"


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES` (higher grants more)."""
    try:
        return ROLES.index(role)
    except ValueError:
        raise ParameterError(f"unknown role {role!r}; expected one of {list(ROLES)}") from None


def hash_secret(key: str) -> str:
    """sha256 hex digest of a whole API key (what the store keeps)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """An API key as listed (never with its secret)."""

    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just created: ``secret`` is the full key, shown once."""

    info: ApiKeyInfo
    secret: str


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _info(k: m.ApiKey) -> ApiKeyInfo:
    created = _utc(k.created_at)
    assert created is not None
    return ApiKeyInfo(k.id, k.name, k.role, k.prefix, created, k.created_by,
                      _utc(k.revoked_at), _utc(k.last_used_at))


class KeyStore:
    """Key management over the store of a :class:`Workspace` (one transaction per call)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._read, self._write = session_factories(ws.engine)

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Session]:
        with (self._write if write else self._read)() as s, s.begin():
            yield s

    def create(self, name: str, role: str, *, actor: str) -> NewApiKey:
        """Create a key; the returned :attr:`NewApiKey.secret` is the only copy of it."""
        if not name.strip():
            raise ParameterError("an API key needs a non-empty name")
        role_rank(role)
        prefix = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        with self._tx() as s:
            k = m.ApiKey(name=name, role=role, secret_sha256=hash_secret(secret), prefix=prefix,
                         created_by=actor)
            s.add(k)
            s.flush()
            s.add(m.AuditEntry(actor=actor, action="create", object_type="api_key",
                               object_id=str(k.id), details={"name": name, "role": role,
                                                             "prefix": prefix}, why=""))
            return NewApiKey(_info(k), secret)

    def list(self, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
        with self._tx(write=False) as s:
            stmt = select(m.ApiKey).order_by(m.ApiKey.id)
            if not include_revoked:
                stmt = stmt.where(m.ApiKey.revoked_at.is_(None))
            return [_info(k) for k in s.scalars(stmt)]

    def _find(self, s: Session, ref: int | str) -> m.ApiKey:
        if isinstance(ref, int) or ref.isdigit():
            k = s.get(m.ApiKey, int(ref))
        else:
            k = s.scalars(select(m.ApiKey).where(m.ApiKey.prefix == ref)).one_or_none()
        if k is None:
            raise NotFoundError(f"no API key {ref!r}")
        return k

    def get(self, ref: int | str) -> ApiKeyInfo:
        """A key by id or by prefix."""
        with self._tx(write=False) as s:
            return _info(self._find(s, ref))

    def revoke(self, ref: int | str, *, actor: str) -> ApiKeyInfo:
        """Revoke a key (by id or prefix); revoking a revoked key is a no-op."""
        with self._tx() as s:
            k = self._find(s, ref)
            if k.revoked_at is None:
                k.revoked_at = datetime.now(UTC)
                s.add(m.AuditEntry(actor=actor, action="revoke", object_type="api_key",
                                   object_id=str(k.id), details={"prefix": k.prefix}, why=""))
                s.flush()
            return _info(k)

    def verify(self, key: str) -> ApiKeyInfo | None:
        """The active key whose secret is ``key``, or ``None`` (unknown or revoked)."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_secret(key)
        with self._tx(write=False) as s:
            k = s.scalars(select(m.ApiKey).where(m.ApiKey.secret_sha256 == digest)).one_or_none()
            if k is None or k.revoked_at is not None:
                return None
            return _info(k)

    def touch(self, key_id: int) -> None:
        """Record that a key was used now (callers throttle this; it is a write)."""
        with self._tx() as s:
            s.execute(update(m.ApiKey).where(m.ApiKey.id == key_id)
                      .values(last_used_at=datetime.now(UTC)))


__all__ = ["KEY_PREFIX", "ROLES", "ApiKeyInfo", "KeyStore", "NewApiKey", "hash_secret",
           "role_rank"]
