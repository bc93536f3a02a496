"""Carve and geo-unit scenarios through ``services.planning`` on a real store (SQLite, and
PostgreSQL when configured): the plan is solved, re-checked by the evaluator, stored, versioned
and comparable like an assign plan."""

from __future__ import annotations

import pytest

from terraplan.domain import Scenario
from terraplan.errors import ParameterError
from terraplan.evaluate import evaluate
from terraplan.services import Workspace
from terraplan.services.planning import SolveRequest, solve_loaded, solve_scenario
from territoryfixtures import carve_scenario, geo_scenario

REQUEST = SolveRequest(time_limit=20.0, threads=1)


def _store(url: str, name: str, sc: Scenario) -> Workspace:
    ws = Workspace.open(url)
    ws.create_scenario(name, actor="test", spec=sc.spec, book=sc.accounts, roster=sc.reps)
    return ws


def test_a_carve_plan_is_stored_versioned_and_comparable(migrated_url: str) -> None:
    ws = _store(migrated_url, "carve", carve_scenario())
    try:
        out = solve_scenario(ws, "carve", REQUEST, actor="test")
        assert out.result.status.value == "optimal" and out.plan is not None
        assert out.after is not None and out.after.feasible
        assert out.problem_stats == {"mode": "carve", "accounts": 6, "reps": 4,
                                     "territories": 2}
        info = ws.get_scenario("carve")
        assert info.status == "solved" and info.plan_id == out.run.plan_id
        (run,) = ws.list_solve_runs("carve")
        assert run.backend == "carve-milp" and run.seed == 3
        assert "without a territory (own nothing): R2" in run.message
        stored = ws.get_plan("carve")
        assert stored.to_mapping() == out.plan.to_mapping() == {
            "a0": "R1", "a1": "R1", "a2": "R1", "b0": "R3", "b1": "R3", "b2": "R3"}
        assert stored.reasons is not None and stored.reasons.tolist() == out.plan.reasons.tolist()
        ev = evaluate(ws.load_scenario("carve"), stored)  # independent re-check of the stored plan
        assert ev.feasible and ev.objective.total == pytest.approx(out.after.objective.total)
        cmp = ws.compare_to_current("carve")
        assert cmp.n_moved == 1  # only b2 changes hands
        # a second solve is a new plan version of the same scenario
        again = solve_scenario(ws, "carve", SolveRequest(backend="cpsat", time_limit=20.0,
                                                         threads=1), actor="test")
        assert again.run.plan_id != out.run.plan_id
        assert [p.id for p in ws.list_plans("carve")][-2:] == [out.run.plan_id,
                                                                 again.run.plan_id]
        with pytest.raises(ParameterError, match="milp-cbc"):
            solve_scenario(ws, "carve", SolveRequest(backend="milp-cbc"), actor="test")
        assert len(ws.list_solve_runs("carve")) == 2  # the refused request recorded no run
    finally:
        ws.close()


def test_a_geo_unit_plan_is_stored(migrated_url: str) -> None:
    ws = _store(migrated_url, "zip", geo_scenario())
    try:
        out = solve_scenario(ws, "zip", REQUEST, actor="test")
        assert out.plan is not None and out.after is not None and out.after.feasible
        assert out.result.backend == "geo_unit-cpsat"
        stored = ws.get_plan("zip")
        assert stored.to_mapping() == out.plan.to_mapping()
        ev = evaluate(ws.load_scenario("zip"), stored)
        assert ev.feasible and ev.objective.compactness == 3.0
        owners = stored.to_mapping()
        assert all(owners[f"{z}-0"] == owners[f"{z}-1"] for z in ("Z0", "Z1", "Z2", "Z3"))
    finally:
        ws.close()


def test_solve_loaded_dispatches_on_the_mode() -> None:
    problem, result, plan, findings = solve_loaded(geo_scenario(), REQUEST)
    assert problem is None and findings == ()
    assert result.backend == "geo_unit-cpsat" and plan is not None
    assert evaluate(geo_scenario(), plan).feasible
