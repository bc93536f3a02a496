"""Territory-mode checks of the evaluator (carve and geo-unit plans), by hand on the fixtures of
:mod:`territoryfixtures`: equal territory targets, the number of territories and the carve
territory capacity."""

from __future__ import annotations

import dataclasses

import pytest

from terraplan.domain import Plan, Point, Rep, RepRoster, RepStatus
from terraplan.evaluate import ViolationKind, evaluate
from terraplan.evaluate.objective import objective
from terraplan.evaluate.territories import expected_territories
from territoryfixtures import CARVE_SPEC, carve_scenario, geo_scenario

CLUSTERS = {"a0": "R1", "a1": "R1", "a2": "R1", "b0": "R3", "b1": "R3", "b2": "R3"}


def test_a_carve_plan_is_balanced_per_territory_and_idle_reps_are_not_violations() -> None:
    sc = carve_scenario()
    ev = evaluate(sc, Plan.from_mapping(CLUSTERS))
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    acc = ev.metrics["accounts"]
    r = {rid: i for i, rid in enumerate(sc.reps.ids)}
    assert acc.targets[r["R1"]] == acc.targets[r["R3"]] == 3.0  # 6 accounts / 2 territories
    assert acc.targets[r["R2"]] == 0.0 and acc.deviations[r["R2"]] == 0.0  # idle, no band


def test_carve_territory_count_capacity_and_band_are_rechecked() -> None:
    sc = carve_scenario()
    one = evaluate(sc, Plan.from_mapping(dict.fromkeys(CLUSTERS, "R1")))
    (count,) = one.of_kind(ViolationKind.TERRITORY_COUNT)
    assert count.message == "Plan has 1 territories (reps owning accounts), expected 2"
    (cap,) = one.of_kind(ViolationKind.CAPACITY)
    assert cap.rep_id == "R1" and cap.amount == 6.0 and cap.limit == 3.0
    assert "over the territory capacity 3 h by 3 h" in cap.message
    # the CRM's plan: three owners for two territories, and R3's 2 accounts off the band of 3
    cur = evaluate(sc, Plan.current(sc.accounts, sc.reps))
    assert cur.counts[ViolationKind.TERRITORY_COUNT.value] == 1
    bands = {v.rep_id: v.amount for v in cur.of_kind(ViolationKind.BALANCE_BAND)}
    assert bands == pytest.approx({"R3": 2 / 3 - 1, "R2": 1 / 3 - 1})  # targets 6 / 2 = 3
    assert not cur.feasible


def test_geo_unit_without_a_number_counts_one_territory_per_active_rep() -> None:
    sc = geo_scenario()  # R1, R2 active; R3 departing
    rows = {"Z0-0": "R1", "Z0-1": "R1", "Z1-0": "R1", "Z1-1": "R1",
            "Z2-0": "R2", "Z2-1": "R2", "Z3-0": "R2", "Z3-1": "R2"}
    assert evaluate(sc, Plan.from_mapping(rows)).feasible
    ev = evaluate(sc, Plan.from_mapping(dict.fromkeys(rows, "R1")))
    assert ev.counts[ViolationKind.TERRITORY_COUNT.value] == 1
    assert ev.counts[ViolationKind.BALANCE_BAND.value] == 1  # $800 against a $400 target


def test_geo_unit_without_a_number_counts_planned_hires_like_the_pools() -> None:
    sc = geo_scenario()
    roster = RepRoster.of([sc.reps[0], sc.reps[1], Rep("R3", status=RepStatus.PLANNED_HIRE,
                                                        home=Point(0.5, 1))])
    sc = dataclasses.replace(sc, reps=roster)
    assert expected_territories(sc) == 3  # R1, R2 active + the R3 hire; nobody departing
    rows = {"Z0-0": "R1", "Z0-1": "R1", "Z1-0": "R1", "Z1-1": "R1",
            "Z2-0": "R2", "Z2-1": "R2", "Z3-0": "R2", "Z3-1": "R2"}
    ev = evaluate(sc, Plan.from_mapping(rows))
    (count,) = ev.of_kind(ViolationKind.TERRITORY_COUNT)
    assert count.message == "Plan has 2 territories (reps owning accounts), expected 3"
    pot = ev.metrics["potential"]
    assert pot.targets[0] == pytest.approx(800_00 / 3)  # book total / 3 territories


def test_objective_agrees_with_evaluate_on_territory_targets_for_soft_balance() -> None:
    spec = {**CARVE_SPEC, "carve": {"territories": 2},
            "rules": {"eligibility": [], "balance": [
                {"metric": "potential", "tolerance": 0.05, "hard": False, "penalty": 1000}]}}
    sc = carve_scenario(spec=spec)
    plan = Plan.from_mapping({**CLUSTERS, "b0": "R1"})  # $4,000 vs $2,000, targets $3,000
    ev = evaluate(sc, plan)
    want = 1000 * 2 * (1 / 3 - 0.05)  # both territories 1/3 off the equal-territory target
    assert ev.objective.balance == pytest.approx(want)
    assert objective(sc, plan).balance == pytest.approx(want)
    assert objective(sc, plan).total == pytest.approx(ev.objective.total)
