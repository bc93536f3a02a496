"""Shared fixtures: tiny hand-checkable books and database URLs for the store tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from terraplan.domain import Account, AccountBook, Point, Rep, RepRoster
from terraplan.scenarios import migrate
from terraplan.scenarios.models import Base


def postgres_url() -> str | None:
    """URL of the PostgreSQL test server, or None (then Postgres tests skip — never in CI)."""
    return os.environ.get("TERRAPLAN_TEST_POSTGRES_URL") or None


@pytest.fixture
def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        if os.environ.get("TERRAPLAN_REQUIRE_POSTGRES") == "1":
            pytest.fail("TERRAPLAN_REQUIRE_POSTGRES=1 but TERRAPLAN_TEST_POSTGRES_URL is unset")
        pytest.skip("set TERRAPLAN_TEST_POSTGRES_URL to run the PostgreSQL tests")
    return url


@pytest.fixture
def six_accounts() -> tuple[AccountBook, RepRoster]:
    """6 accounts, 2 reps on a planar grid; totals easy to check on paper.

    Potential (cents): a1..a6 = 100, 200, 300, 400, 500, 600 (total 2,100).
    Workload (h): 1, 2, 3, 4, 5, 6. Current owners: r1 has a1..a3, r2 has a4..a6.
    Rep homes: r1 at (0, 0), r2 at (10, 0). Accounts at x = 0, 1, 2, 8, 9, 10 on y = 0.
    """
    xs = [0, 1, 2, 8, 9, 10]
    accts = [
        Account(id=f"a{i + 1}", location=Point(float(x), 0.0), segment="SMB", region="West",
                potential=100 * (i + 1), workload=float(i + 1),
                current_owner="r1" if i < 3 else "r2")
        for i, x in enumerate(xs)
    ]
    from terraplan.domain import CoordSystem

    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    roster = RepRoster.of([
        Rep(id="r1", home=Point(0.0, 0.0), capacity=100.0),
        Rep(id="r2", home=Point(10.0, 0.0), capacity=100.0),
    ])
    return book, roster


# -- store fixtures (shared by tests/scenarios, tests/services and others) ---------------------
# Store fixtures: every store test runs on a SQLite file and on a PostgreSQL schema.
#
# ``store_url`` is an empty database (for migration tests). ``migrated_url`` is a store at the
# current schema revision with no rows: the schema is migrated once per test session (a template
# SQLite file copied per test; one unique PostgreSQL schema per session, truncated per test), so
# repeated and parallel runs never collide and each test starts clean.


def _with_search_path(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def _pg_schema_url(base: str) -> Iterator[str]:
    """A URL whose search_path is a new, unique schema; the schema is dropped afterwards."""
    schema = f"tp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: a SQLite file in tmp_path, or a unique schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        base = request.getfixturevalue("require_postgres")
        yield from _pg_schema_url(base)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")  # the engine is disposed: WAL is checkpointed
    return path


@pytest.fixture(scope="session")
def _pg_migrated_schema() -> Iterator[str]:
    """One unique PostgreSQL schema per test session, migrated once (requested only after
    ``require_postgres`` has passed, so the URL is set)."""
    base = os.environ["TERRAPLAN_TEST_POSTGRES_URL"]
    for url in _pg_schema_url(base):
        migrate.upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path,
                 _sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty store (SQLite copy of a template, or a truncated PostgreSQL schema)."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    request.getfixturevalue("require_postgres")
    url = request.getfixturevalue("_pg_migrated_schema")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    yield url
