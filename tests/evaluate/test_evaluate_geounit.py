"""Geo-unit mode: a 2 × 2 grid of postal-code units P1 P2 / P3 P4 (edges are the grid sides)."""

import numpy as np
import pytest

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
    UnitGraph,
)
from terraplan.errors import SpecError
from terraplan.evaluate import ViolationKind, evaluate, objective

GRID = UnitGraph(unit_ids=("P1", "P2", "P3", "P4"),
                 edges=np.array([[0, 1], [0, 2], [1, 3], [2, 3]]),
                 weights=np.array([1.0, 2.0, 3.0, 4.0]))
XY = {"P1": (0.0, 1.0), "P2": (1.0, 1.0), "P3": (0.0, 0.0), "P4": (1.0, 0.0)}


def geo_scenario(units=GRID, measure="cut_edges", contiguity=True, postal=("P1", "P2", "P3",
                                                                          "P4", "P1")):
    accts = [Account(f"a{i}", postal_code=p, location=Point(*XY[p]), potential=100)
             for i, p in enumerate(postal)]
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    roster = RepRoster.of([Rep("r1"), Rep("r2")])
    spec = ScenarioSpec.from_dict({
        "mode": "geo_unit", "rules": {"contiguity": contiguity, "balance": []},
        "objective": {"travel": 0.0, "compactness": 2.0, "compactness_measure": measure}})
    return Scenario(spec=spec, accounts=book, reps=roster, units=units)


def by_unit(sc, owners: dict[str, str]) -> Plan:
    book = sc.accounts
    return Plan.from_mapping({str(book.ids[i]): owners[book.postal_code.value(i)]
                              for i in range(len(book))})


def test_rows_are_contiguous_with_two_cut_edges():
    sc = geo_scenario()
    ev = evaluate(sc, by_unit(sc, {"P1": "r1", "P2": "r1", "P3": "r2", "P4": "r2"}))
    assert ev.objective.compactness == 2.0  # P1-P3 and P2-P4
    assert ev.objective.total == 4.0
    assert ev.feasible


def test_diagonals_are_disconnected():
    sc = geo_scenario()
    ev = evaluate(sc, by_unit(sc, {"P1": "r1", "P4": "r1", "P2": "r2", "P3": "r2"}))
    assert ev.objective.compactness == 4.0
    pieces = ev.of_kind(ViolationKind.CONTIGUITY)
    assert [v.rep_id for v in pieces] == ["r1", "r2"]
    assert pieces[0].message == "Rep r1's territory is in 2 disconnected pieces"
    sc2 = geo_scenario(contiguity=False)
    assert evaluate(sc2, by_unit(sc2, {"P1": "r1", "P4": "r1", "P2": "r2",
                                       "P3": "r2"})).feasible


def test_cut_perimeter_uses_edge_weights():
    sc = geo_scenario(measure="cut_perimeter")
    plan = by_unit(sc, {"P1": "r1", "P2": "r1", "P3": "r2", "P4": "r2"})
    assert objective(sc, plan).compactness == 2.0 + 3.0


def test_edge_weights_follow_their_edges_in_any_order():
    # the same grid with its edges listed out of order, one reversed, plus a self-loop: the
    # perimeter of each edge must stay with that edge (it used to pair with the sorted position)
    shuffled = UnitGraph(unit_ids=GRID.unit_ids,
                         edges=np.array([[2, 3], [2, 0], [1, 3], [0, 1], [1, 1]]),
                         weights=np.array([4.0, 2.0, 3.0, 1.0, 9.0]))
    sc = geo_scenario(units=shuffled, measure="cut_perimeter")
    plan = by_unit(sc, {"P1": "r1", "P2": "r1", "P3": "r2", "P4": "r2"})
    assert objective(sc, plan).compactness == 2.0 + 3.0


def test_split_unit_is_a_violation():
    sc = geo_scenario()
    owners = {"a0": "r1", "a1": "r1", "a2": "r2", "a3": "r2", "a4": "r2"}  # a4 also in P1
    ev = evaluate(sc, Plan.from_mapping(owners))
    (v,) = ev.of_kind(ViolationKind.UNIT_SPLIT)
    assert v.message == "Unit P1 is split between 2 reps (r1, r2)"
    assert not ev.feasible
    assert ev.objective.compactness == 3.0  # P1-P2 touches the split unit too


def test_a_unit_without_accounts_may_bridge_a_territory():
    sc = geo_scenario(postal=("P1", "P4", "P3"))  # P2 has no account
    ev = evaluate(sc, by_unit(sc, {"P1": "r1", "P4": "r1", "P3": "r2"}))
    assert ev.counts["contiguity"] == 0  # P1 - P2 - P4 through the empty unit
    assert ev.objective.compactness == 2.0  # P1-P3, P3-P4; edges to P2 are ignored


def test_delaunay_fallback_without_a_unit_graph():
    sc = geo_scenario(units=None)
    ev = evaluate(sc, by_unit(sc, {"P1": "r1", "P2": "r1", "P3": "r2", "P4": "r2"}))
    # the square triangulates into its 4 sides and one diagonal, which is cut either way
    assert ev.objective.compactness == 3.0
    assert ev.feasible


def test_supplied_graph_must_cover_the_book():
    sc = geo_scenario(units=UnitGraph(unit_ids=("P1",), edges=np.zeros((0, 2), dtype=np.int64)))
    with pytest.raises(SpecError, match="not units of the supplied unit graph"):
        evaluate(sc, Plan.from_mapping({}))
