"""Shared fixtures: tiny hand-checkable books and database URLs for the store tests."""

from __future__ import annotations

import os

import pytest

from terraplan.domain import Account, AccountBook, Point, Rep, RepRoster


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
