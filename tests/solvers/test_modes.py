"""The territory-mode entry point (carve, geo_unit): real solvers, every plan re-checked by the
evaluator, the territory → rep mapping checked by hand and by brute force."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adjacencyfixtures import unit_districts, write_geo_files
from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Plan,
    Point,
    Reason,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)
from terraplan.errors import ParameterError, SpecError, UnsupportedRuleError
from terraplan.evaluate import evaluate
from terraplan.io import load_scenario
from terraplan.solvers import solve_territories
from terraplan.solvers.base import SolveOptions, Status
from terraplan.solvers.modes import map_territories
from territoryfixtures import (
    CARVE_OWNERS,
    CARVE_SPEC,
    GEO_SPEC,
    carve_scenario,
    geo_scenario,
    least_disruption,
)

FAST = SolveOptions(time_limit=20.0, threads=1)


@pytest.mark.parametrize("backend", ["auto", "milp", "cpsat"])
def test_carve_maps_territories_to_the_reps_that_keep_their_book(backend: str) -> None:
    sc = carve_scenario()
    sol = solve_territories(sc, backend=backend, seed=3, options=FAST)
    r = sol.result
    assert r.status is Status.OPTIMAL
    assert r.backend == f"carve-{'milp' if backend == 'auto' else backend}"
    assert r.objective == pytest.approx(4.0)  # four accounts at distance 1 from their centre
    assert sol.plan is not None
    # A (owned by R1) stays with R1 although R2 lives there; B goes to R3, who has 2 of its 3
    assert sol.plan.to_mapping() == {"a0": "R1", "a1": "R1", "a2": "R1",
                                     "b0": "R3", "b1": "R3", "b2": "R3"}
    assert sol.idle_reps == ("R2",) and set(sol.territory_rep) == {"R1", "R3"}
    assert "without a territory (own nothing): R2" in r.message
    chosen, best = least_disruption(sc, sol.plan)
    assert chosen == best == 1000_00
    # every account whose owner changes carries a reason; the others are unchanged
    assert sol.plan.reasons is not None
    reasons = dict(zip(sol.plan.account_ids.tolist(), sol.plan.reasons.tolist(), strict=True))
    assert reasons["b2"] == Reason.BALANCE  # R3's home is farther than R2's: not travel
    assert all(reasons[a] == Reason.UNCHANGED for a in CARVE_OWNERS if a != "b2")
    assert np.array_equal(r.assignment, sol.plan.aligned(sc.accounts, sc.reps))
    ev = evaluate(sc, sol.plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    assert ev.moves.accounts_moved == 1


def test_carve_heuristic_backend_for_large_books_goes_through_the_same_mapping() -> None:
    sc = carve_scenario()
    sol = solve_territories(sc, backend="heuristic", seed=3,
                            options=SolveOptions(time_limit=3.0, threads=1))
    assert sol.result.backend == "carve-heuristic" and sol.plan is not None
    assert sol.plan.to_mapping()["b2"] == "R3" and sol.idle_reps == ("R2",)
    assert evaluate(sc, sol.plan).feasible


def test_without_current_owners_the_nearest_home_breaks_the_tie() -> None:
    sc = carve_scenario(owners={})
    sol = solve_territories(sc, seed=3, options=FAST)
    assert sol.plan is not None
    m = sol.plan.to_mapping()
    assert {m["a0"], m["b0"]} == {"R2", "R1"} and m["a0"] == "R2"  # homes at the centres
    assert sol.plan.reasons is not None and set(sol.plan.reasons.tolist()) == {Reason.NEW}
    assert evaluate(sc, sol.plan).feasible


def test_rep_capacity_forbids_a_territory() -> None:
    # R1 can carry 2 h: cluster A (3 h) must go elsewhere; least disruption is then A→R2, B→R3
    sc = carve_scenario(capacity_r1=2.0)
    sol = solve_territories(sc, seed=3, options=FAST)
    assert sol.plan is not None
    assert sol.plan.owner_of("a0") == "R2" and sol.plan.owner_of("b0") == "R3"
    assert sol.idle_reps == ("R1",)
    ev = evaluate(sc, sol.plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    reasons = dict(zip(sol.plan.account_ids.tolist(), sol.plan.reasons.tolist(), strict=True))
    assert reasons["a0"] == Reason.CAPACITY  # R1 was over its capacity before


def test_max_distance_forbids_a_far_rep() -> None:
    # R3 lives ~56 km from cluster B: with a 20 km reach B goes to R2 ($2,000 moved), not R3
    spec = CARVE_SPEC | {"rules": CARVE_SPEC["rules"] | {"max_distance": 20}}
    sc = carve_scenario(spec=spec)
    sol = solve_territories(sc, seed=3, options=FAST)
    assert sol.plan is not None
    assert sol.plan.owner_of("a0") == "R1" and sol.plan.owner_of("b0") == "R2"
    assert sol.idle_reps == ("R3",)
    ev = evaluate(sc, sol.plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    assert ev.moves.accounts_moved == 2  # b0, b1 leave R3


def test_too_many_territories_is_a_clear_error() -> None:
    spec = CARVE_SPEC | {"carve": {"territories": 4, "capacity": 3}}
    with pytest.raises(SpecError, match=r"4 territories but only 3 active rep\(s\)"):
        solve_territories(carve_scenario(spec=spec), options=FAST)
    sc = carve_scenario()
    with pytest.raises(SpecError, match=r"3 territories but only 2 active rep\(s\)"):
        map_territories(sc, np.array([0, 0, 1, 1, 2, 2]), np.zeros(3), np.zeros(3),
                        reps=np.array([0, 1]))


def test_rules_the_territory_models_cannot_keep_are_refused() -> None:
    sc = carve_scenario(spec=CARVE_SPEC | {"rules": CARVE_SPEC["rules"] | {
        "eligibility": ["segment"]}})
    smb_only = replace(sc, reps=RepRoster.of([Rep("R1", segments=frozenset({"SMB"})),
                                              *list(sc.reps)[1:]]))
    with pytest.raises(UnsupportedRuleError, match="eligibility"):
        solve_territories(smb_only, options=FAST)
    with pytest.raises(ParameterError, match="backend"):
        solve_territories(geo_scenario(), backend="heuristic")  # a carve-only backend
    with pytest.raises(ParameterError, match="backend"):
        solve_territories(carve_scenario(), backend="milp-cbc")  # an assign backend
    with pytest.raises(ParameterError, match="mode 'carve' or 'geo_unit'"):
        solve_territories(carve_scenario(spec={"mode": "assign"}))


@pytest.mark.parametrize("backend", ["auto", "milp"])
def test_geo_unit_accounts_follow_their_unit_and_districts_keep_their_reps(backend: str) -> None:
    sc = geo_scenario()
    sol = solve_territories(sc, backend=backend, seed=3, options=FAST)
    assert sol.result.status is Status.OPTIMAL
    assert sol.result.backend == f"geo_unit-{'cpsat' if backend == 'auto' else backend}"
    assert sol.plan is not None and sol.idle_reps == ()
    m = sol.plan.to_mapping()
    for z in ("Z0", "Z1", "Z2", "Z3"):
        assert m[f"{z}-0"] == m[f"{z}-1"]  # a unit is never split
    chosen, best = least_disruption(sc, sol.plan)
    assert chosen == best
    moved = [a for a in m if m[a] != sc.accounts.current_owner.value(
        int(sc.accounts.index_of(a)))]
    assert sol.plan.reasons is not None
    codes = dict(zip(sol.plan.account_ids.tolist(), sol.plan.reasons.tolist(), strict=True))
    assert all(codes[a] in (Reason.TRAVEL, Reason.BALANCE) for a in moved)
    ev = evaluate(sc, sol.plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    assert ev.objective.compactness == sol.result.objective == 3.0  # two sides + the diagonal


def test_geo_unit_families_across_units_are_refused() -> None:
    sc = geo_scenario()
    accts = list(sc.accounts)
    accts[-1] = replace(accts[-1], parent_id="Z0-0")  # Z3-1 is a child of Z0-0
    family = replace(sc, accounts=AccountBook.from_accounts(accts, CoordSystem.PLANAR))
    with pytest.raises(UnsupportedRuleError, match="families"):
        solve_territories(family, options=FAST)
    off = GEO_SPEC | {"rules": GEO_SPEC["rules"] | {"families": False}}
    sol = solve_territories(replace(family, spec=geo_scenario(off).spec), seed=1, options=FAST)
    assert sol.plan is not None
    assert evaluate(replace(family, spec=geo_scenario(off).spec), sol.plan).feasible


@pytest.mark.parametrize("backend", ["milp", "cpsat"])
def test_geo_unit_uses_the_supplied_adjacency(tmp_path: Path, backend: str) -> None:
    # supplied path Z0 - Z1 - Z3 - Z2: the only contiguous split is {Z0, Z1} | {Z2, Z3}
    sc, _ = load_scenario(write_geo_files(tmp_path))
    assert sc.units is not None
    for spec in (sc.spec, sc.spec.model_copy(update={"objective": sc.spec.objective.model_copy(
            update={"compactness_measure": "cut_perimeter"})})):
        s = replace(sc, spec=spec)
        sol = solve_territories(s, backend=backend, seed=3, options=FAST)
        assert sol.result.status is Status.OPTIMAL and sol.plan is not None
        assert unit_districts(s, sol.plan) == {frozenset({"Z0", "Z1"}), frozenset({"Z2", "Z3"})}
        assert "adjacency: supplied (4 units, 3 edges)" in sol.result.message
        ev = evaluate(s, sol.plan)  # the evaluator re-checks on the same supplied graph
        assert ev.feasible, [str(v) for v in ev.hard_violations]
        # one cut border, Z1 - Z3, whose shared perimeter is 2
        want = 1.0 if spec.objective.compactness_measure == "cut_edges" else 2.0
        assert ev.objective.compactness == sol.result.objective == want


def test_geo_unit_without_adjacency_falls_back_to_delaunay_and_says_so(tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path, adjacency=None))
    assert sc.units is None
    sol = solve_territories(sc, backend="cpsat", seed=3, options=FAST)
    assert sol.plan is not None and evaluate(sc, sol.plan).feasible
    assert ("adjacency: Delaunay triangulation of the unit centroids (no inputs.adjacency)"
            in sol.result.message)
    # a spec naming a file that was not loaded with the scenario says so, too
    named, _ = load_scenario(write_geo_files(tmp_path / "named"))
    sol = solve_territories(replace(named, units=None), backend="cpsat", seed=3, options=FAST)
    assert "inputs.adjacency 'edges.csv' was not loaded" in sol.result.message


def test_large_mapping_with_big_potentials_is_least_disruption_not_an_error() -> None:
    """300 territories onto 300 reps, territories worth $3-5 M: the lexicographic arc costs
    (disruption × scale + tie-break) used to leave the min-cost flow's cost range and raise a
    misleading SpecError. The mapping is distinct and exactly least-disruption (checked against
    SciPy's assignment on the disruption alone, exact in float64 at these magnitudes)."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    p = m = 300
    terr = np.repeat(np.arange(p), 3)
    pot = rng.integers(100_000_000, 160_000_000, size=terr.size)  # $1.0-1.6 M per account
    owners = rng.integers(0, m, size=terr.size)
    xy = rng.uniform(0, 1000, size=(terr.size, 2))
    accts = [Account(f"a{i}", location=Point(float(xy[i, 0]), float(xy[i, 1])), workload=1.0,
                     potential=int(pot[i]), current_owner=f"R{owners[i]}")
             for i in range(terr.size)]
    roster = RepRoster.of([Rep(f"R{j}", home=Point(float(x), float(y)))
                           for j, (x, y) in enumerate(rng.uniform(0, 1000, size=(m, 2)))])
    sc = Scenario(spec=ScenarioSpec.from_dict(CARVE_SPEC | {"carve": {"territories": p,
                                                                      "capacity": 3}}),
                  accounts=AccountBook.from_accounts(accts, CoordSystem.PLANAR), reps=roster)
    cx = np.bincount(terr, weights=xy[:, 0]) / 3
    cy = np.bincount(terr, weights=xy[:, 1]) / 3
    t_rep = map_territories(sc, terr, cx, cy)
    assert t_rep.shape == (p,) and len(set(t_rep.tolist())) == p
    kept = np.zeros((p, m), dtype=np.int64)
    np.add.at(kept, (terr, owners), pot)
    terr_pot = np.bincount(terr, weights=pot).astype(np.int64)
    assert terr_pot.max() > 300_000_000  # the magnitude that broke the old guard
    disruption = int((terr_pot - kept[np.arange(p), t_rep]).sum())
    rows, cols = linear_sum_assignment(-kept.astype(np.float64))
    assert disruption == int((terr_pot - kept[rows, cols]).sum())
    # the mapping re-checked as a plan: the evaluator sees the same disruption in moves
    plan = Plan.from_indices(sc.accounts, sc.reps, t_rep[terr].astype(np.int32))
    assert evaluate(sc, plan).moves.potential_moved == disruption


def test_geo_unit_planned_hires_get_territories_like_the_evaluator_expects() -> None:
    # without geo_unit.territories there is one territory per rep that is not departing —
    # planned hires (TBH placeholders) included, as the evaluator counts them
    from terraplan.domain import RepStatus
    from territoryfixtures import GEO_SPEC

    sc = geo_scenario()
    roster = RepRoster.of([*(r for r in sc.reps if r.status is RepStatus.ACTIVE),
                           Rep("T1", status=RepStatus.PLANNED_HIRE),
                           Rep("T2", status=RepStatus.PLANNED_HIRE)])
    sc = Scenario(spec=ScenarioSpec.from_dict(GEO_SPEC), accounts=sc.accounts, reps=roster)
    sol = solve_territories(sc, backend="cpsat", seed=3, options=FAST)
    assert sol.plan is not None
    assert set(sol.plan.to_mapping().values()) == {"R1", "R2", "T1", "T2"}  # a unit each
    ev = evaluate(sc, sol.plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
