"""Tiny hand-checkable assign problems for the backend conformance suite.

The line: six accounts a1..a6 at x = 0, 1, 2, 8, 9, 10 (planar, y = 0); potential 100..600
cents (total 2,100); workload 1..6 h; segment SMB, region West. Rep r1 lives at x = 0, r2 at
x = 10. Travel is unweighted (``travel_weighting: none``) so the objective of the nearest-rep
plan [r1, r1, r1, r2, r2, r2] is 0 + 1 + 2 + 2 + 1 + 0 = 6. Current owners follow that plan
unless a case says otherwise. No balance rule unless a case adds one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    DistanceTable,
    Plan,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
    ScenarioSpec,
)
from terraplan.evaluate import evaluate

XS = (0.0, 1.0, 2.0, 8.0, 9.0, 10.0)
NEAREST = (0, 0, 0, 1, 1, 1)


def line_book(**per_account: Mapping[int, Any]) -> AccountBook:
    """The six-account line; ``field={index: value}`` overrides single accounts (0-based)."""
    accts = []
    for i, x in enumerate(XS):
        kw: dict[str, Any] = dict(
            id=f"a{i + 1}", location=Point(x, 0.0), segment="SMB", region="West",
            potential=100 * (i + 1), workload=float(i + 1),
            current_owner="r1" if i < 3 else "r2",
        )
        for name, values in per_account.items():
            if i in values:
                kw[name] = values[i]
        accts.append(Account(**kw))
    return AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)


def two_reps(**per_rep: Mapping[str, Any]) -> RepRoster:
    """r1 at x = 0 and r2 at x = 10; ``r1={...}`` overrides fields of r1."""
    base = {"r1": dict(id="r1", home=Point(0.0, 0.0)), "r2": dict(id="r2", home=Point(10.0, 0.0))}
    extra = [k for k in per_rep if k not in base]
    for k in extra:
        base[k] = dict(id=k)
    reps = []
    for rid, kw in base.items():
        kw = dict(kw, **per_rep.get(rid, {}))
        for f in ("segments", "verticals", "regions"):
            if f in kw:
                kw[f] = frozenset(kw[f])
        reps.append(Rep(**kw))
    return RepRoster.of(reps)


def spec(rules: Mapping[str, Any] | None = None,
         objective: Mapping[str, Any] | None = None) -> ScenarioSpec:
    r = {"balance": []}
    r.update(rules or {})
    o = {"travel_weighting": "none"}
    o.update(objective or {})
    return ScenarioSpec.from_dict({"name": "conformance", "rules": r, "objective": o})


@dataclass(frozen=True)
class Case:
    """One conformance case: a scenario and what every backend must conclude.

    ``optimum`` is the hand-computed optimal objective (None for infeasible cases);
    ``assignment`` the unique optimal plan when there is one; ``conflicts`` the expected
    smallest conflicting rule groups of an infeasible case.
    """

    name: str
    scenario: Scenario
    optimum: float | None
    assignment: tuple[int, ...] | None = None
    conflicts: frozenset[str] | None = None
    findings: tuple[str, ...] = field(default_factory=tuple)  # substrings diagnose() must say


def case(name: str, *, rules: Mapping[str, Any] | None = None,
         objective: Mapping[str, Any] | None = None, book: AccountBook | None = None,
         roster: RepRoster | None = None, distances: DistanceTable | None = None,
         optimum: float | None = None, assignment: Sequence[int] | None = None,
         conflicts: Sequence[str] | None = None, findings: Sequence[str] = ()) -> Case:
    sc = Scenario(spec=spec(rules, objective), accounts=book or line_book(),
                  reps=roster or two_reps(), distances=distances)
    return Case(name, sc, optimum, None if assignment is None else tuple(assignment),
                None if conflicts is None else frozenset(conflicts), tuple(findings))


def check_plan(scenario: Scenario, plan: Plan, reported: float) -> None:
    """The evaluator's verdict: no hard violation, and the same objective (1e-6 relative)."""
    ev = evaluate(scenario, plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    assert ev.assigned == ev.n_accounts
    total = ev.objective.total
    assert abs(total - reported) <= 1e-6 * max(1.0, abs(total)), (total, reported)


# -- the cases ------------------------------------------------------------------------------------
def feasible_cases() -> list[Case]:
    all_r1 = {"current_owner": {i: "r1" for i in range(6)}}
    return [
        case("travel", optimum=6.0, assignment=NEAREST),
        # r2 takes only ENT accounts; a5 is the only ENT account
        case("eligibility", book=line_book(segment={4: "ENT"}),
             roster=two_reps(r2={"segments": {"ENT"}}),
             optimum=0 + 1 + 2 + 8 + 1 + 10, assignment=(0, 0, 0, 0, 1, 0)),
        # r2 holds at most 10 h: a4+a5+a6 = 15 h; moving a5 (+8) is the cheapest fix
        case("capacity", roster=two_reps(r2={"capacity": 10.0}),
             optimum=14.0, assignment=(0, 0, 0, 1, 0, 1)),
        # potential band [945, 1155] cents each: r1 needs 345..555 more; a4 (400, +6) is cheapest
        case("balance_hard", rules={"balance": [{"metric": "potential", "tolerance": 0.1}]},
             optimum=12.0, assignment=(0, 0, 0, 0, 1, 1)),
        # soft, tol 0, penalty 10: moving a4 leaves deviations 50/1050 twice
        case("balance_soft", rules={"balance": [
            {"metric": "potential", "tolerance": 0.0, "hard": False, "penalty": 10.0}]},
             optimum=12.0 + 10.0 * 100.0 / 1050.0, assignment=(0, 0, 0, 0, 1, 1)),
        # the same soft rule, but no account may be farther than 7.5 from its rep: keep nearest
        case("max_distance", rules={"max_distance": 7.5, "balance": [
            {"metric": "potential", "tolerance": 0.0, "hard": False, "penalty": 10.0}]},
             optimum=6.0 + 10.0 * 900.0 / 1050.0, assignment=NEAREST),
        case("locks", book=line_book(locked_to={0: "r2"}), optimum=16.0,
             assignment=(1, 0, 0, 1, 1, 1)),
        # a4 is a child of a2: together at r1 cost 1 + 8, at r2 9 + 2
        case("families", book=line_book(parent_id={3: "a2"}), optimum=12.0,
             assignment=(0, 0, 0, 0, 1, 1)),
        case("continuity_count", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_accounts": 1}}, optimum=12.0,
             assignment=(0, 0, 0, 0, 1, 1)),
        case("continuity_share", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_share": 0.2}}, optimum=12.0,
             assignment=(0, 0, 0, 0, 1, 1)),
        case("continuity_per_rep", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_per_rep": 1}}, optimum=12.0,
             assignment=(0, 0, 0, 0, 1, 1)),
        # everything at r1 now; a move costs 7: a4 saves 6 (stays), a5 saves 8, a6 saves 10
        case("move_cost_count", book=line_book(**all_r1),
             rules={"continuity": {"move_cost": 7.0}}, objective={"disruption": 1.0},
             optimum=12.0 + 2 * 7.0, assignment=(0, 0, 0, 0, 1, 1)),
        # price per dollar of potential: a4 $4 × 1.55 = 6.2 > 6 stays; a5 7.75, a6 9.3 move
        case("move_cost_potential", book=line_book(**all_r1),
             rules={"continuity": {"move_cost": 1.55, "move_weight": "potential"}},
             objective={"disruption": 1.0}, optimum=12.0 + 1.55 * 11.0,
             assignment=(0, 0, 0, 0, 1, 1)),
        # a6 has $10 of open pipeline, protected above $5: it stays with r1
        case("protect_pipeline", book=line_book(pipeline={5: 1000}, **all_r1),
             rules={"continuity": {"protect_pipeline_above": 500}}, optimum=16.0,
             assignment=(0, 0, 0, 1, 1, 0)),
        # r1 departs; r3, a planned hire at x = 0, takes its place
        case("departure", roster=two_reps(r1={"status": RepStatus.DEPARTING},
                                           r3={"home": Point(0.0, 0.0),
                                               "status": RepStatus.PLANNED_HIRE}),
             optimum=6.0, assignment=(2, 2, 2, 1, 1, 1)),
        # supplied costs: r1 costs i, r2 costs 7 - i; the pair (a1, r1) is absent (unreachable)
        case("distance_table", objective={"distance": "table"}, distances=DistanceTable(
            account_ids=np.asarray(
                [f"a{i}" for i in range(2, 7)] + [f"a{i}" for i in range(1, 7)], dtype=object),
            rep_ids=np.asarray(["r1"] * 5 + ["r2"] * 6, dtype=object),
            cost=np.asarray(
                [float(i) for i in range(2, 7)] + [float(7 - i) for i in range(1, 7)])),
             optimum=6 + 2 + 3 + 3 + 2 + 1, assignment=(1, 0, 0, 1, 1, 1)),
        # workload-weighted travel: weights 1..6 on distances 0,1,2,2,1,0
        case("travel_workload", objective={"travel_weighting": "workload"},
             optimum=0 + 2 + 6 + 8 + 5 + 0, assignment=NEAREST),
    ]


def infeasible_cases() -> list[Case]:
    return [
        case("capacity", roster=two_reps(r1={"capacity": 5.0}, r2={"capacity": 5.0}),
             conflicts=["capacity"], findings=["workload 21 h, eligible capacity 10 h"]),
        case("eligibility", book=line_book(segment={5: "ENT"}),
             roster=two_reps(r1={"segments": {"SMB"}}, r2={"segments": {"SMB"}}),
             conflicts=["eligibility"], findings=["have no eligible active rep"]),
        case("lock_ineligible", book=line_book(locked_to={0: "r2"}),
             roster=two_reps(r2={"segments": {"ENT"}}), conflicts=["eligibility", "locks"],
             findings=["locked to a rep not eligible"]),
        case("family_locks", book=line_book(parent_id={1: "a1"}, locked_to={0: "r1", 1: "r2"}),
             conflicts=["families", "locks"], findings=["conflicting locks"]),
        # tolerance 0: every rep must hold exactly 1,050 cents; potentials are multiples of 100
        case("balance_hard", rules={"balance": [{"metric": "potential", "tolerance": 0.0}]},
             conflicts=["balance[potential]"]),
        case("balance_and_distance", rules={
            "max_distance": 7.5, "balance": [{"metric": "potential", "tolerance": 0.1}]},
             conflicts=["balance[potential]", "max_distance"]),
        case("continuity_count", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_accounts": 0}},
             conflicts=["balance[potential]", "continuity_budget"]),
        case("continuity_share", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_share": 0.15}},
             conflicts=["balance[potential]", "continuity_budget"]),
        case("continuity_per_rep", rules={
            "balance": [{"metric": "potential", "tolerance": 0.1}],
            "continuity": {"max_moved_per_rep": 0}},
             conflicts=["balance[potential]", "continuity_per_rep"]),
        # only r2 may take ENT accounts, and r2 departs
        case("departure", book=line_book(segment={5: "ENT"}),
             roster=two_reps(r1={"segments": {"SMB"}},
                             r2={"segments": {"ENT"}, "status": RepStatus.DEPARTING}),
             conflicts=["departure", "eligibility"], findings=["only departing reps"]),
        # a6 carries 2,000 of 3,500 cents: alone above both reps' upper band 1,925
        case("balance_item", book=line_book(potential={5: 2000}),
             rules={"balance": [{"metric": "potential", "tolerance": 0.1}]},
             conflicts=["balance[potential]"],
             findings=["account a6 (potential $20.00) alone exceeds the upper band of every "
                       "eligible rep (largest $19.25)"]),
        # a6 may only go to r2 (locked), whose upper band is 1,925 cents
        case("balance_locked_item", book=line_book(potential={5: 2000}, locked_to={5: "r2"}),
             rules={"balance": [{"metric": "potential", "tolerance": 0.1}]},
             conflicts=["balance[potential]"],
             findings=["alone exceeds rep r2's upper band $19.25"]),
        # every account locked to r2, so r1 has no candidate at all; shares 1 / 9 at ±50 %: r1's
        # band [0.3, 0.9] accounts holds no whole number, r2's [2.7, 8.1] holds all six. CP-SAT
        # drops a row with no variable and an empty domain: it once returned that plan
        case("balance_empty_band", book=line_book(locked_to={i: "r2" for i in range(6)}),
             roster=two_reps(r2={"target_share": 9.0}),
             rules={"locks": True, "balance": [{"metric": "accounts", "tolerance": 0.5}]},
             conflicts=["balance[accounts]"]),
        case("capacity_item", roster=two_reps(r1={"capacity": 5.0}, r2={"capacity": 5.0}),
             book=line_book(workload={5: 6.0, 0: 0.5, 1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5}),
             conflicts=["capacity"], findings=["alone exceeds the capacity"]),
    ]
