"""Alembic environment of the scenario store.

Run either through :mod:`terraplan.scenarios.migrate` (which hands over an open connection in
``config.attributes["connection"]``) or through the ``alembic`` command with ``alembic.ini``.
SQLite needs batch mode for most ALTERs, so ``render_as_batch`` is on.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from terraplan.scenarios.db import make_engine
from terraplan.scenarios.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
