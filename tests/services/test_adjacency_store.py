"""A geo-unit scenario's supplied adjacency goes into the store with the scenario (inside its
content-hashed spec snapshot), is used by ``solve_scenario`` and by the evaluator's re-check, and
survives copies and spec edits; and a backend the scenario's mode cannot use is refused before
anything is recorded (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adjacencyfixtures import unit_districts, write_geo_files
from terraplan.domain import ScenarioSpec
from terraplan.errors import InputValidationError, NotFoundError, ParameterError
from terraplan.evaluate import evaluate
from terraplan.io import load_scenario
from terraplan.services import Workspace
from terraplan.services.planning import SolveRequest, check_solve_backend, solve_scenario

REQUEST = SolveRequest(backend="cpsat", time_limit=20.0, threads=1)
PATH_SPLIT = {frozenset({"Z0", "Z1"}), frozenset({"Z2", "Z3"})}


def test_supplied_adjacency_is_stored_solved_on_and_rechecked(migrated_url: str,
                                                              tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    assert sc.units is not None
    with Workspace.open(migrated_url) as ws:
        ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts,
                           roster=sc.reps, units=sc.units)
        stored = ws.load_scenario("zip")
        assert stored.units is not None
        assert stored.units.unit_ids == sc.units.unit_ids
        assert stored.units.edges.tolist() == sc.units.edges.tolist()
        assert list(stored.units.weights) == [1.0, 2.0, 3.0]
        assert ws.get_spec("zip") == stored.spec  # the spec itself reads back unchanged
        out = solve_scenario(ws, "zip", REQUEST, actor="test")
        assert out.plan is not None and out.after is not None and out.after.feasible
        assert unit_districts(stored, out.plan) == PATH_SPLIT
        assert "adjacency: supplied (4 units, 3 edges)" in out.result.message
        assert out.after.objective.compactness == 1.0  # Z1 - Z3, on the supplied graph
        (run,) = ws.list_solve_runs("zip")
        assert "adjacency: supplied" in (run.message or "")
        ev = evaluate(ws.load_scenario("zip"), ws.get_plan("zip"))
        assert ev.feasible and ev.objective.compactness == 1.0
        # copies and spec edits keep the adjacency (an input like the book and roster)
        ws.copy_scenario("zip", "zip-copy", actor="test")
        assert ws.load_scenario("zip-copy").units is not None
        tighter = sc.spec.model_copy(update={"seed": 11})
        ws.copy_scenario("zip", "zip-edit", actor="test", spec=tighter)
        ws.update_scenario("zip-edit", actor="test", spec=tighter.model_copy(
            update={"seed": 12}))
        edited = ws.load_scenario("zip-edit")
        assert edited.spec.seed == 12 and edited.units is not None
        assert edited.units.edges.tolist() == sc.units.edges.tolist()
        # a spec that asks for the triangulation does not get the stored graph
        tri = sc.spec.model_copy(update={"inputs": sc.spec.inputs.model_copy(
            update={"adjacency": "delaunay"})})
        ws.update_scenario("zip-edit", actor="test", spec=tri)
        assert ws.load_scenario("zip-edit").units is None


def test_spec_dir_reads_the_adjacency_against_the_stored_accounts(migrated_url: str,
                                                                  tmp_path: Path) -> None:
    spec_path = write_geo_files(tmp_path)
    sc, _ = load_scenario(spec_path)
    with Workspace.open(migrated_url) as ws:
        ws.import_inputs(sc.accounts, sc.reps, actor="test")
        spec = ScenarioSpec.from_yaml(spec_path)
        ws.create_scenario("zip", actor="test", spec=spec, spec_dir=spec_path.parent)
        units = ws.load_scenario("zip").units
        assert units is not None and units.edges.tolist() == [[0, 1], [1, 3], [2, 3]]
        # without it, a spec naming a file stores no graph: the solver falls back and says so
        ws.create_scenario("zip-tri", actor="test", spec=spec)
        assert ws.load_scenario("zip-tri").units is None
        out = solve_scenario(ws, "zip-tri", REQUEST, actor="test")
        assert "inputs.adjacency 'edges.csv' was not loaded" in out.result.message
        # a bad file is refused with every problem and nothing is created
        (tmp_path / "edges.csv").write_text("unit_a,unit_b\nZ0,Z0\nZ0,\n", encoding="utf-8")
        with pytest.raises(InputValidationError) as info:
            ws.create_scenario("zip-bad", actor="test", spec=spec, spec_dir=spec_path.parent)
        assert [(p.row, p.code) for p in info.value.errors] == [(2, "self_loop"),
                                                                (3, "missing")]
        assert "zip-bad" not in [s.name for s in ws.list_scenarios()]


def test_a_backend_the_mode_cannot_use_is_refused_before_any_run(migrated_url: str,
                                                                 tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    with Workspace.open(migrated_url) as ws:
        ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts,
                           roster=sc.reps, units=sc.units)
        with pytest.raises(ParameterError, match="cannot solve a geo_unit scenario; use one "
                                                 "of auto, milp, cpsat"):
            check_solve_backend(ws, "zip", "heuristic")
        with pytest.raises(ParameterError, match="heuristic"):
            solve_scenario(ws, "zip", SolveRequest(backend="heuristic"), actor="test")
        assert ws.list_solve_runs("zip") == []
        check_solve_backend(ws, "zip", "cpsat")  # usable: no error
        check_solve_backend(ws, "zip", "auto")
        ws.create_scenario("assign", actor="test", spec=ScenarioSpec(), book=sc.accounts,
                           roster=sc.reps)
        check_solve_backend(ws, "assign", "heuristic")  # assign mode takes every backend
        with pytest.raises(NotFoundError):
            check_solve_backend(ws, "nope", "cpsat")
