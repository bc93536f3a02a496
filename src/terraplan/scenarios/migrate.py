"""Schema migrations of the scenario store, runnable from an installed package.

The Alembic scripts ship inside the package (``terraplan/scenarios/migrations``); the
configuration is built in code so no ``alembic.ini`` has to be found on disk.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from terraplan.scenarios.db import WRITE_OPTION, make_engine
from terraplan.scenarios.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x7E44A91A  # advisory lock id of terraplan schema upgrades


def alembic_config(url: str) -> Config:
    """An Alembic :class:`Config` pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _with_engine(url_or_engine: str | Engine) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Bring the store at ``url`` (or an engine) up to ``revision`` (default: latest).

    A store already at the latest revision is recognised with one query, without running
    Alembic (every CLI command and API worker opens the store).
    """
    engine, owned = _with_engine(url)
    try:
        if revision == "head" and current(engine) == head():
            return
        # Several processes may open a new store at once (API workers, parallel CLI runs):
        # serialise the upgrade — SQLite takes its write lock up front (BEGIN IMMEDIATE), on
        # PostgreSQL a transaction-scoped advisory lock — so the second finds the schema done.
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            cfg = alembic_config(engine.url.render_as_string(hide_password=False))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if owned:
            engine.dispose()


@functools.cache
def head() -> str:
    """The newest revision id shipped with this version of terraplan."""
    rev = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert rev is not None
    return rev


def current(url: str | Engine) -> str | None:
    """The revision the store at ``url`` is at (``None`` for an empty database)."""
    engine, owned = _with_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def check(url: str | Engine) -> list[str]:
    """Differences between the ORM models and the database schema (empty: no drift).

    This is what ``alembic check`` computes: autogenerate's comparison of the live schema with
    :data:`Base.metadata`, each difference rendered as a readable string.
    """
    engine, owned = _with_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True})
            return [repr(d) for d in compare_metadata(ctx, Base.metadata)]
    finally:
        if owned:
            engine.dispose()
