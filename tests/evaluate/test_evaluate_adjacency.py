"""The evaluator's geo-unit checks run on the adjacency the scenario was loaded with
(``inputs.adjacency``), the same graph the solver used; without one, on its own Delaunay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from adjacencyfixtures import write_geo_files
from terraplan.domain import Plan
from terraplan.evaluate import ViolationKind, evaluate
from terraplan.evaluate.geounit import unit_graph
from terraplan.io import load_scenario

# {Z0, Z2} | {Z1, Z3}: contiguous on the Delaunay square, not on the supplied path Z0-Z1-Z3-Z2
COLUMNS = {"Z0": "R1", "Z2": "R1", "Z1": "R2", "Z3": "R2"}


def _plan(sc, owners: dict[str, str]) -> Plan:  # type: ignore[no-untyped-def]
    book = sc.accounts
    return Plan.from_mapping({str(book.ids[i]): owners[book.postal_code.value(i)]
                              for i in range(len(book))})


def test_the_evaluator_checks_contiguity_on_the_supplied_edge_list(tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    g = unit_graph(sc)
    assert g is not None and sc.units is not None
    assert g.edges.tolist() == sc.units.edges.tolist() == [[0, 1], [1, 3], [2, 3]]
    ev = evaluate(sc, _plan(sc, COLUMNS))
    pieces = ev.of_kind(ViolationKind.CONTIGUITY)
    assert [v.rep_id for v in pieces] == ["R1"]  # Z0 and Z2 share no border; Z1 - Z3 do
    assert not ev.feasible
    # Z0 - Z1 and Z3 - Z2 are cut, Z1 - Z3 is inside R2's territory
    assert ev.objective.compactness == 2.0
    rows = _plan(sc, {"Z0": "R1", "Z1": "R1", "Z2": "R2", "Z3": "R2"})
    ok = evaluate(sc, rows)
    assert ok.feasible and ok.objective.compactness == 1.0  # only Z1 - Z3 is cut


def test_without_supplied_adjacency_the_evaluator_triangulates(tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    delaunay = replace(sc, units=None)
    ev = evaluate(delaunay, _plan(delaunay, COLUMNS))
    assert not ev.of_kind(ViolationKind.CONTIGUITY)
    assert ev.feasible
    g = unit_graph(delaunay)
    assert g is not None and g.edges.shape[0] == 5  # four sides and one diagonal
