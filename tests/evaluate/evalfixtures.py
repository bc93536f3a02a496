"""Tiny scenario builders for the evaluator tests (numbers chosen to be checked on paper)."""

from __future__ import annotations

from typing import Any

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Plan,
    Point,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)


def spec(**rules: Any) -> ScenarioSpec:
    """A spec with ``rules`` (and ``objective=...``) overriding the defaults."""
    objective = rules.pop("objective", {})
    return ScenarioSpec.from_dict({"name": "t", "rules": rules, "objective": objective})


def scenario(book: AccountBook, roster: RepRoster, **rules: Any) -> Scenario:
    return Scenario(spec=spec(**rules), accounts=book, reps=roster)


def six_book(**overrides: dict[str, Any]) -> AccountBook:
    """The six_accounts book, with per-account field overrides ``a3={"locked_to": "r2"}``."""
    xs = [0, 1, 2, 8, 9, 10]
    accts = []
    for i, x in enumerate(xs):
        fields: dict[str, Any] = {
            "id": f"a{i + 1}", "location": Point(float(x), 0.0), "segment": "SMB",
            "region": "West", "potential": 100 * (i + 1), "workload": float(i + 1),
            "current_owner": "r1" if i < 3 else "r2",
        }
        fields.update(overrides.get(f"a{i + 1}", {}))
        accts.append(Account(**fields))
    return AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)


def two_reps(r1: dict[str, Any] | None = None, r2: dict[str, Any] | None = None) -> RepRoster:
    a: dict[str, Any] = {"id": "r1", "home": Point(0.0, 0.0), "capacity": 100.0}
    b: dict[str, Any] = {"id": "r2", "home": Point(10.0, 0.0), "capacity": 100.0}
    a.update(r1 or {})
    b.update(r2 or {})
    return RepRoster.of([Rep(**a), Rep(**b)])


def plan(owners: dict[str, str | None]) -> Plan:
    return Plan.from_mapping(owners)


#: r1 keeps a1, a2; r2 gets a3 (x=2) from r1; r1 gets a5 (x=9) from r2.
SWAP = {"a1": "r1", "a2": "r1", "a3": "r2", "a4": "r2", "a5": "r1", "a6": "r2"}
#: A plan inside a ±5 % potential band: r1 {a4, a6} = 1,000, r2 the rest = 1,100 (target 1,050).
BALANCED = {"a1": "r2", "a2": "r2", "a3": "r2", "a4": "r1", "a5": "r2", "a6": "r1"}
