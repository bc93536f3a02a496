"""Geo-unit mode (contiguous districting): hand-checkable graphs over both backends."""

from __future__ import annotations

import numpy as np
import pytest
from benchdata import instances_module, shared_or_skip

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Point,
    RepRoster,
    Scenario,
    ScenarioSpec,
    UnitGraph,
)
from terraplan.errors import ParameterError, SpecError
from terraplan.solvers.base import SolveOptions, Status
from terraplan.solvers.geounit import DistrictingProblem, solve_districting
from terraplan.solvers.geounit import model as gmodel

BACKENDS = ["milp", "cpsat"]
METHODS = ["cuts", "scf"]
FAST = SolveOptions(time_limit=20.0)


def grid(rows: int, cols: int) -> np.ndarray:
    e = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                e.append((i, i + 1))
            if r + 1 < rows:
                e.append((i, i + cols))
    return np.array(e)


def grid3(k: int = 3, lower: float = 3, upper: float = 3) -> DistrictingProblem:
    return DistrictingProblem.from_edges(np.ones(9), grid(3, 3), k, lower, upper)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_three_by_three_grid_into_three_needs_six_cut_edges(backend: str, method: str) -> None:
    # each district of 3 cells is a tree with 2 inner edges, so at least 12 - 3*2 = 6 are cut
    pr = grid3()
    r = solve_districting(pr, backend=backend, seed=0,
                          options=SolveOptions(time_limit=20.0, extra={"contiguity": method}))
    assert r.status is Status.OPTIMAL
    assert r.objective == 6.0
    assert r.bound == pytest.approx(6.0)
    lab = np.asarray(r.assignment)
    assert pr.is_contiguous(lab)
    assert pr.district_population(lab).tolist() == [3.0, 3.0, 3.0]
    assert r.stats["cut_edges"] == 6
    assert lab[0] == 0  # districts are numbered by their lowest unit


@pytest.mark.parametrize("backend", BACKENDS)
def test_contiguity_is_what_makes_it_infeasible(backend: str) -> None:
    # path a-b-c-d with populations 1,3,1,1 and two districts of exactly 3: only {b} + {a,c,d}
    # balances, and {a,c,d} is not connected
    pr = DistrictingProblem.from_edges([1, 3, 1, 1], [[0, 1], [1, 2], [2, 3]], 2, 3, 3)
    assert pr.precheck() == []
    for method in METHODS:
        r = solve_districting(pr, backend=backend,
                              options=SolveOptions(time_limit=20.0,
                                                   extra={"contiguity": method}))
        assert r.status is Status.INFEASIBLE, method
        assert r.assignment is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_population_band_impossible_is_reported_before_solving(backend: str) -> None:
    r = solve_districting(grid3(lower=4, upper=4), backend=backend, options=FAST)
    assert r.status is Status.INFEASIBLE
    assert any("cannot be split into 3 districts" in c for c in r.conflicts)


def test_disconnected_graph_with_too_few_districts() -> None:
    # two triangles, one district: each part would need its own district
    e = [[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5]]
    pr = DistrictingProblem.from_edges(np.ones(6), e, 1, 0, 6)
    reasons = pr.precheck()
    assert any("2 disconnected parts" in c for c in reasons)
    r = solve_districting(pr, options=FAST)
    assert r.status is Status.INFEASIBLE


def test_disconnected_graph_with_one_district_per_part_is_fine() -> None:
    e = [[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5]]
    pr = DistrictingProblem.from_edges(np.ones(6), e, 2, 3, 3)
    r = solve_districting(pr, options=FAST)
    assert r.status is Status.OPTIMAL
    assert r.objective == 0.0
    assert np.asarray(r.assignment).tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cut_perimeter_objective_prefers_short_borders(backend: str) -> None:
    # 2x2 grid: the vertical border (edges 0-1 and 2-3 uncut) is short, the horizontal long
    e = [[0, 1], [0, 2], [1, 3], [2, 3]]
    w = [5.0, 1.0, 1.0, 5.0]
    pr = DistrictingProblem.from_edges(np.ones(4), e, 2, 2, 2, edge_weights=w,
                                       measure="cut_perimeter")
    r = solve_districting(pr, backend=backend, options=FAST)
    assert r.status is Status.OPTIMAL
    assert r.objective == pytest.approx(2.0)
    assert np.asarray(r.assignment).tolist() == [0, 0, 1, 1]
    assert r.stats["cut_edges"] == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_is_accepted_and_never_worsened(backend: str) -> None:
    pr = DistrictingProblem.from_edges(np.ones(16), grid(4, 4), 4, 4, 4)
    stripes = np.repeat([3, 2, 1, 0], 4)  # valid, contiguous, 12 cut edges, odd labels
    r = solve_districting(pr, backend=backend, initial=stripes,
                          options=SolveOptions(time_limit=4.0, extra={"contiguity": "scf"}))
    assert r.status.has_plan
    assert r.objective <= 12.0
    assert pr.violations(np.asarray(r.assignment)) == []


def test_same_seed_same_plan() -> None:
    pr = DistrictingProblem.from_edges(np.ones(12), grid(3, 4), 3, 4, 4)
    one = SolveOptions(time_limit=20.0, threads=1)
    a = solve_districting(pr, backend="cpsat", seed=7, options=one)
    b = solve_districting(pr, backend="cpsat", seed=7, options=one)
    assert a.status is Status.OPTIMAL
    assert np.array_equal(np.asarray(a.assignment), np.asarray(b.assignment))


def test_violations_report_split_and_unbalanced_districts() -> None:
    pr = grid3()
    rows = np.repeat([0, 1, 2], 3)
    assert pr.violations(rows) == []
    cols_split = np.array([0, 1, 0, 0, 1, 0, 2, 2, 2])
    msgs = pr.violations(cols_split)
    assert any("district 0 is split into 2" in m for m in msgs)
    assert any("population 4 outside" in m for m in msgs)


def test_start_vector_satisfies_every_row() -> None:
    pr = DistrictingProblem.from_edges(np.ones(9), grid(3, 3), 3, 3, 3)
    dm = gmodel.build(pr)
    v = gmodel.start_vector(dm, pr, np.array([2, 2, 2, 0, 0, 0, 1, 1, 1]))
    a = dm.model.matrix()
    _, _, _, _, rlo, rhi = dm.model.arrays()
    act = a @ v
    assert np.all(act >= rlo - 1e-9) and np.all(act <= rhi + 1e-9)
    assert gmodel.decode(dm, v).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_problem_rejects_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="lower <= upper"):
        DistrictingProblem.from_edges([1, 1], [[0, 1]], 1, 3, 2)
    with pytest.raises(ParameterError, match="measure"):
        DistrictingProblem.from_edges([1, 1], [[0, 1]], 1, 0, 2, measure="area")
    with pytest.raises(ParameterError, match="contiguity"):
        solve_districting(grid3(), options=SolveOptions(extra={"contiguity": "mcf"}))


# -- scenarios ---------------------------------------------------------------------------------
def _book() -> AccountBook:
    # two accounts per ZIP on a 2x2 grid of ZIPs; potential 100 per account
    accts = []
    for z, (x, y) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        for j in range(2):
            accts.append(Account(id=f"a{z}{j}", location=Point(x + 0.1 * j, y),
                                 postal_code=f"Z{z}", potential=100, workload=1.0))
    return AccountBook.from_accounts(accts, CoordSystem.PLANAR)


SPEC = {"mode": "geo_unit", "geo_unit": {"unit_column": "postal_code", "territories": 2},
        "inputs": {"coord_system": "planar"},
        "rules": {"balance": [{"metric": "potential", "tolerance": 0.0}], "contiguity": True}}


def test_from_scenario_aggregates_accounts_and_uses_the_unit_graph() -> None:
    units = UnitGraph(unit_ids=("Z0", "Z1", "Z2", "Z3", "Z4"),
                      edges=np.array([[0, 1], [0, 2], [1, 3], [2, 3], [3, 4]]),
                      weights=np.ones(5))
    sc = Scenario(spec=ScenarioSpec.from_dict(SPEC), accounts=_book(), reps=RepRoster.of([]),
                  units=units)
    pr = DistrictingProblem.from_scenario(sc)
    assert pr.n == 5  # Z4 has no accounts but stays in the graph
    assert pr.population.tolist() == [200.0, 200.0, 200.0, 200.0, 0.0]
    assert (pr.lower, pr.upper) == (400.0, 400.0)
    r = solve_districting(pr, options=FAST)
    assert r.status is Status.OPTIMAL
    by_account = np.asarray(r.assignment)[pr.account_unit]
    assert np.bincount(by_account).tolist() == [4, 4]


def test_from_scenario_falls_back_to_delaunay() -> None:
    sc = Scenario(spec=ScenarioSpec.from_dict(SPEC), accounts=_book(), reps=RepRoster.of([]))
    pr = DistrictingProblem.from_scenario(sc)
    assert pr.n == 4 and pr.m == 5  # square: 4 sides and one diagonal
    r = solve_districting(pr, options=FAST)
    assert r.status is Status.OPTIMAL
    assert pr.is_contiguous(np.asarray(r.assignment))


def test_from_scenario_needs_units_for_every_account() -> None:
    units = UnitGraph(unit_ids=("Z0", "Z1"), edges=np.array([[0, 1]]), weights=None)
    sc = Scenario(spec=ScenarioSpec.from_dict(SPEC), accounts=_book(), reps=RepRoster.of([]),
                  units=units)
    with pytest.raises(SpecError, match="not in the unit graph"):
        DistrictingProblem.from_scenario(sc)


# -- public instances --------------------------------------------------------------------------
def test_reference_plans_have_the_published_cut_edges() -> None:
    root = shared_or_skip()
    bench = instances_module()
    plans = bench.reference_districting(root)
    insts = bench.districting_instances(root, level=None)
    assert len(insts) == 12
    for inst in insts:
        lab = np.array(plans[inst.name])
        assert inst.problem.violations(lab) == [], inst.name
        assert inst.problem.cut_edges(lab) == inst.optimal_cut_edges, inst.name


def test_maine_counties_are_solved_to_the_published_optimum() -> None:
    root = shared_or_skip()
    inst = instances_module().districting_instances(root, ["ME_county"])[0]
    r = solve_districting(inst.problem, backend="cpsat",
                          options=SolveOptions(time_limit=30.0, extra={"contiguity": "scf"}))
    assert r.status is Status.OPTIMAL
    assert r.objective == inst.optimal_cut_edges
    assert inst.problem.violations(np.asarray(r.assignment)) == []
