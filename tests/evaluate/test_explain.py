from typing import Any

import pytest
from evalfixtures import SWAP, scenario, six_book, two_reps

from terraplan.domain import Plan, Point, Reason, RepStatus
from terraplan.evaluate import evaluate, explain_account, explain_moves, explain_rep

CURRENT = {"a1": "r1", "a2": "r1", "a3": "r1", "a4": "r2", "a5": "r2", "a6": "r2"}


def reasons(after: dict[str, str | None], *, book: dict[str, Any] | None = None,
            r1: dict[str, Any] | None = None, r2: dict[str, Any] | None = None,
            rules: dict[str, Any] | None = None, before: Plan | None = None) -> list[Reason]:
    sc = scenario(six_book(**(book or {})), two_reps(r1, r2), **(rules or {}))
    return [Reason(int(x)) for x in explain_moves(sc, before, Plan.from_mapping(after))]


def moved(**changes: str) -> dict[str, str | None]:
    return {**CURRENT, **changes}


# account a3 sits at x=2 (r1 home 0, r2 home 10); a4 at x=8
@pytest.mark.parametrize(("after", "kwargs", "row", "expected"), [
    (moved(a4="r1"), {"r2": {"status": RepStatus.DEPARTING}}, 3, Reason.DEPARTURE),
    (moved(a4="r1"), {"book": {"a4": {"current_owner": "rX"}}}, 3, Reason.DEPARTURE),
    (moved(a4="r1"), {"book": {"a4": {"locked_to": "r1"}}}, 3, Reason.LOCK),
    (moved(a4="r1"), {"r2": {"segments": frozenset({"ENT"})}}, 3, Reason.ELIGIBILITY),
    (moved(a4="r1", a5="r1"), {"book": {"a5": {"parent_id": "a4"}}}, 4, Reason.FAMILY),
    (moved(a4="r1", a5="r1"), {"book": {"a5": {"parent_id": "a4"}}}, 3, Reason.BALANCE),
    (moved(a4="r1"), {"r2": {"capacity": 10.0}}, 3, Reason.CAPACITY),
    (moved(a3="r2"), {"rules": {"max_distance": 1.5}}, 2, Reason.DISTANCE),
    (moved(a3="r2"), {"book": {"a3": {"location": None}}}, 2, Reason.BALANCE),
    (moved(a3="r2"), {}, 2, Reason.BALANCE),
    (moved(a3="r2"), {"book": {"a3": {"location": Point(7, 0)}}}, 2, Reason.TRAVEL),
    (moved(a1="r1"), {"book": {"a1": {"current_owner": None}}}, 0, Reason.NEW),
    (moved(), {}, 0, Reason.UNCHANGED),
], ids=["departing", "unknown-owner", "lock", "eligibility", "family-child", "family-root",
        "capacity", "distance", "no-location", "balance", "travel", "new", "unchanged"])
def test_reason_codes(after, kwargs, row, expected):
    assert reasons(after, **kwargs)[row] is expected


def test_departure_wins_over_lock_and_unmoved_accounts_stay_unchanged():
    got = reasons(moved(a4="r1"), r2={"status": RepStatus.DEPARTING},
                  book={"a4": {"locked_to": "r1"}})
    assert got == [Reason.UNCHANGED] * 3 + [Reason.DEPARTURE] + [Reason.UNCHANGED] * 2


def test_an_explicit_before_plan_maps_unknown_owners_to_new():
    book = six_book(a4={"current_owner": "rX"})
    sc = scenario(book, two_reps())
    before = Plan.current(book, sc.reps)  # rX is unknown to the roster -> unassigned
    got = explain_moves(sc, before, Plan.from_mapping(moved(a4="r1")))
    assert Reason(int(got[3])) is Reason.NEW


def test_rules_switched_off_do_not_attribute():
    got = reasons(moved(a4="r1"), r2={"capacity": 10.0}, rules={"capacity": False})
    assert got[3] is Reason.BALANCE


def test_explain_account_sentence():
    sc = scenario(six_book(a5={"locked_to": "r1", "parent_id": "a6"}), two_reps(),
                  locks=False, families=False)
    ex = explain_account(sc, Plan.from_mapping(SWAP), "a5")
    assert (ex.rep_id, ex.previous_rep_id, ex.reason) == ("r1", "r2", Reason.BALANCE)
    assert ex.eligible_reps == 2
    assert ex.distance_to_rep == 9.0
    assert (ex.nearest_rep_id, ex.nearest_distance) == ("r2", 1.0)
    assert ex.family_root_id == "a6" and ex.family_size == 2
    assert ex.sentence == (
        "Account a5 sits with rep r1 (moved from r2: the move balances the reps' books). "
        "2 of 2 reps are eligible for it. It is 9 units from r1's home; the nearest eligible "
        "rep is r2 at 1 units. It is locked to r1. It belongs to the family of a6 (2 accounts).")
    assert ex.to_dict()["reason"] == "balance"
    with pytest.raises(KeyError):
        explain_account(sc, Plan.from_mapping(SWAP), "nope")


def test_explain_rep_summary():
    sc = scenario(six_book(), two_reps())
    plan = Plan.from_mapping(SWAP)
    ex = explain_rep(sc, plan, "r1", evaluation=evaluate(sc, plan))
    assert ex.accounts == 3 and ex.gained == 1 and ex.lost == 1
    assert ex.totals["potential"] == 800.0 and ex.targets["potential"] == 1050.0
    assert ex.travel == 47.0
    assert ex.gained_by_reason == {"balance": 1}
    assert "Rep r1 (active) owns 3 account(s)." in ex.sentence
    assert "Potential $8.00 vs target $10.50 (-23.8 %)." in ex.sentence
    assert any(v.rep_id == "r1" for v in ex.violations)
    assert explain_rep(sc, plan, "r1").to_dict() == ex.to_dict()
