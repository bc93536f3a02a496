"""Engines and sessions of the scenario store (SQLite embedded default, PostgreSQL for teams).

SQLite needs three things per connection that it does not do by default:

* ``PRAGMA foreign_keys=ON`` — otherwise every ``ForeignKey`` is decorative;
* ``PRAGMA journal_mode=WAL`` — readers (owner lookups) never block the writer and vice versa;
* explicit ``BEGIN`` handling — pysqlite's legacy implicit transactions start late and never for
  ``SELECT``, so a read-modify-write could see a snapshot older than its write. We switch the
  driver to autocommit and emit ``BEGIN`` ourselves: ``BEGIN IMMEDIATE`` for write sessions (the
  write lock is taken up front, so two writers queue instead of failing with SQLITE_BUSY_SNAPSHOT
  half-way), a plain deferred ``BEGIN`` for read sessions.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: Execution option that selects ``BEGIN IMMEDIATE`` on SQLite (ignored elsewhere).
WRITE_OPTION = "terraplan_write"
#: Seconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT = 60.0


def normalise_url(url: str) -> str:
    """Map bare ``postgresql://`` URLs onto the psycopg 3 driver we ship with."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the store's connection settings applied.

    Parameters
    ----------
    url : str
        SQLAlchemy URL; ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.
    """
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
        # the store is used from worker threads (API job pool, tests); each connection is only
        # ever used by one thread at a time through the pool.
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # autocommit at the driver level; transactions are begun explicitly in _on_begin
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            _set_wal(cur)
            # NORMAL is durable across process kills in WAL mode (only an OS crash can lose the
            # last commits), and much faster for bulk plan writes than FULL.
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _set_wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for the lock like any other statement would.

    WAL is a property of the file: once set, later connections find it and do nothing. On a
    brand-new store, though, several first connections race to set it while one of them may
    already hold the write lock of the schema upgrade, and SQLite answers the mode change with
    "database is locked" at once instead of calling its busy handler. Retry for up to
    :data:`SQLITE_BUSY_TIMEOUT` seconds."""
    import sqlite3

    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def session_factories(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    """``(read, write)`` session factories; write sessions take the SQLite write lock up front."""
    read = sessionmaker(engine, expire_on_commit=False)
    write = sessionmaker(engine.execution_options(**{WRITE_OPTION: True}),
                         expire_on_commit=False)
    return read, write
