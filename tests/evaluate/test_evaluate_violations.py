"""Every violation kind, triggered by a tiny fixture and absent once the fixture is fixed.

Base: the six_accounts book with the BALANCED plan (r1 = {a4, a6}: potential 1,000, workload 10;
r2 = {a1, a2, a3, a5}: potential 1,100, workload 11; target 1,050 each, so ±4.8 %), which breaks
no rule of the default spec.
"""

from typing import Any

import pytest
from evalfixtures import BALANCED, scenario, six_book, two_reps

from terraplan.domain import Plan, RepStatus
from terraplan.evaluate import ViolationKind, evaluate

K = ViolationKind
#: Some breaks also unbalance the books (an ineligible rep leaves its pool); switch balance off
#: there so each case shows exactly one kind.
NO_BALANCE: dict[str, Any] = {"balance": []}

# kind, hard, expected count, (broken, fixed) where each is (book overrides, r1, r2, rules, plan)
CASES: list[tuple[str, K, bool, int, dict[str, Any], dict[str, Any]]] = [
    ("eligibility", K.ELIGIBILITY, True, 2,
     {"r1": {"segments": frozenset({"ENT"})}, "rules": NO_BALANCE},
     {"r1": {"segments": frozenset({"SMB"})}, "rules": NO_BALANCE}),
    ("capacity", K.CAPACITY, True, 1, {"r1": {"capacity": 9.0}}, {"r1": {"capacity": 10.0}}),
    ("lock", K.LOCK, True, 1, {"book": {"a4": {"locked_to": "r2"}}},
     {"book": {"a4": {"locked_to": "r1"}}}),
    ("family", K.FAMILY_SPLIT, True, 1, {"book": {"a6": {"parent_id": "a5"}}},
     {"book": {"a4": {"parent_id": "a6"}}}),
    ("balance", K.BALANCE_BAND, True, 2,
     {"rules": {"balance": [{"metric": "potential", "tolerance": 0.04}]}},
     {"rules": {"balance": [{"metric": "potential", "tolerance": 0.05}]}}),
    ("soft balance", K.BALANCE_BAND, False, 2,
     {"rules": {"balance": [{"metric": "potential", "tolerance": 0.04, "hard": False}]}},
     {"rules": {"balance": [{"metric": "potential", "tolerance": 0.05, "hard": False}]}}),
    ("max distance", K.MAX_DISTANCE, True, 2, {"rules": {"max_distance": 9.5}},
     {"rules": {"max_distance": 10.0}}),
    ("moved accounts", K.CONTINUITY_BUDGET, True, 1,
     {"rules": {"continuity": {"max_moved_accounts": 4}}},
     {"rules": {"continuity": {"max_moved_accounts": 5}}}),
    ("moved share", K.CONTINUITY_BUDGET, True, 1,
     {"rules": {"continuity": {"max_moved_share": 0.7}}},
     {"rules": {"continuity": {"max_moved_share": 0.77}}}),
    ("moved per rep", K.CONTINUITY_BUDGET, True, 1,
     {"rules": {"continuity": {"max_moved_per_rep": 2}}},
     {"rules": {"continuity": {"max_moved_per_rep": 3}}}),
    ("protected pipeline", K.CONTINUITY_BUDGET, True, 1,
     {"book": {"a1": {"pipeline": 5000}},
      "rules": {"continuity": {"protect_pipeline_above": 4999}}},
     {"book": {"a1": {"pipeline": 5000}},
      "rules": {"continuity": {"protect_pipeline_above": 5000}}}),
    ("unassigned", K.UNASSIGNED, True, 1, {"plan": {**BALANCED, "a5": None},
                                           "rules": NO_BALANCE}, {"rules": NO_BALANCE}),
    ("unknown rep", K.UNKNOWN_REP, True, 1, {"plan": {**BALANCED, "a5": "r9"},
                                             "rules": NO_BALANCE}, {"rules": NO_BALANCE}),
    ("departing", K.DEPARTING_OWNER, False, 1,
     {"r2": {"status": RepStatus.DEPARTING}, "rules": NO_BALANCE}, {"rules": NO_BALANCE}),
]


def run(case: dict[str, Any]):
    book = six_book(**case.get("book", {}))
    roster = two_reps(case.get("r1"), case.get("r2"))
    sc = scenario(book, roster, **case.get("rules", {}))
    return evaluate(sc, Plan.from_mapping(case.get("plan", BALANCED)))


def test_base_plan_is_clean():
    ev = run({})
    assert ev.feasible and ev.violations == () and sum(ev.counts.values()) == 0


@pytest.mark.parametrize(("name", "kind", "hard", "count", "broken", "fixed"), CASES,
                         ids=[c[0] for c in CASES])
def test_violation_triggered_and_fixed(name, kind, hard, count, broken, fixed):
    ev = run(broken)
    found = ev.of_kind(kind)
    assert len(found) == count == ev.counts[kind.value], [str(v) for v in ev.violations]
    assert all(v.hard is hard for v in found)
    assert ev.feasible is (not hard)
    assert {v.kind for v in ev.violations} == {kind}  # nothing else fires
    assert all(v.message for v in found)
    ok = run(fixed)
    assert ok.counts[kind.value] == 0 and ok.feasible, [str(v) for v in ok.violations]


def test_readable_messages():
    ev = run({"r1": {"capacity": 9.0}})
    (v,) = ev.hard_violations
    assert v.message == "Rep r1 workload 10 h exceeds capacity 9 h by 1 h"
    assert (v.rep_id, v.amount, v.limit) == ("r1", 10.0, 9.0)

    ev = run({"rules": {"balance": [{"metric": "potential", "tolerance": 0.04}]}})
    msgs = [v.message for v in ev.hard_violations]
    assert msgs[0] == ("Rep r1 potential $10.00 is 4.8 % below its target $10.50, "
                       "outside the ±4.0 % band")

    ev = run({"r1": {"segments": frozenset({"ENT"})}, "rules": NO_BALANCE})
    assert ev.hard_violations[0].message == (
        "Account a4 (segment SMB / vertical (none) / region West) is not eligible for rep r1, "
        "who takes segments ENT; verticals any; regions any")

    ev = run({"book": {"a4": {"locked_to": "r2"}}})
    assert ev.hard_violations[0].message == "Account a4 is locked to rep r2 but sits with r1"

    ev = run({"book": {"a6": {"parent_id": "a5"}}})
    v = ev.hard_violations[0]
    assert v.account_id == "a5" and v.amount == 1.0
    assert "Family of a5 (2 accounts) is split" in v.message

    ev = run({"rules": {"continuity": {"max_moved_per_rep": 2}}})
    assert ev.hard_violations[0].message == (
        "Rep r1 loses 3 account(s), over the per-rep budget of 2 by 1")


def test_capacity_edge_is_allowed_and_rules_can_be_switched_off():
    assert run({"r1": {"capacity": 10.0}}).feasible
    ev = run({"r1": {"capacity": 9.0}, "rules": {"capacity": False}})
    assert ev.feasible
    ev = run({"book": {"a4": {"locked_to": "r2"}}, "rules": {"locks": False}})
    assert ev.feasible
    ev = run({"book": {"a6": {"parent_id": "a5"}}, "rules": {"families": False}})
    assert ev.feasible


def test_records_are_capped_but_counts_exact():
    book = six_book()
    roster = two_reps()
    ev = evaluate(scenario(book, roster), Plan.from_mapping({"a1": "r1"}), max_records=2)
    assert ev.counts["unassigned"] == 5
    assert len(ev.of_kind(K.UNASSIGNED)) == 2
    assert ev.hard_count >= 5 and not ev.feasible
