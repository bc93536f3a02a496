"""An explicit lock wins over pipeline protection — in the compiler and in the evaluator alike.

Found by the property test: an account currently with r0, protected by its open pipeline, and
locked by the planner to r1. The compiler put it on r1 (the lock); the evaluator called that a
protected account moved. Both now document and apply one precedence.
"""

from __future__ import annotations

import pytest

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)
from terraplan.evaluate import ViolationKind, evaluate
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, solve


def _scenario(locks: bool) -> Scenario:
    book = AccountBook.from_accounts(
        [Account("a0", location=Point(0, 0), current_owner="r0", locked_to="r1", pipeline=500)],
        coord_system=CoordSystem.PLANAR)
    roster = RepRoster.of([Rep("r0", home=Point(0, 0)), Rep("r1", home=Point(0, 0))])
    spec = ScenarioSpec.from_dict({"rules": {"balance": [], "locks": locks,
                                             "continuity": {"protect_pipeline_above": 100}}})
    return Scenario(spec, book, roster)


@pytest.mark.parametrize("backend", ["cpsat", "milp", "heuristic"])
@pytest.mark.parametrize("locks", [True, False])
def test_lock_wins_when_locks_are_on_protection_otherwise(backend: str, locks: bool) -> None:
    sc = _scenario(locks)
    p = compile(sc)
    res = solve(p, backend=backend, options=SolveOptions(time_limit=5, threads=1))
    assert res.status.has_plan
    plan = decode(p, res.assignment)
    assert plan.owner_of("a0") == ("r1" if locks else "r0")
    ev = evaluate(sc, plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]


def test_a_protected_move_without_a_lock_is_still_a_violation() -> None:
    sc = _scenario(locks=False)
    from terraplan.domain import Plan

    ev = evaluate(sc, Plan.from_mapping({"a0": "r1"}, rep_ids=["r0", "r1"]))
    assert ev.counts.get(ViolationKind.CONTINUITY_BUDGET, 0) == 1
