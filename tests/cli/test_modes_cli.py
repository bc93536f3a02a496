"""``terraplan solve`` on the bundled carve and geo-unit examples (``scenarios/carve``,
``scenarios/geo_unit``): import, create, solve; the stored plan is re-checked by the evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import run

from terraplan.evaluate import evaluate
from terraplan.services import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize(("folder", "backend", "territories"), [
    ("carve", "milp", 5), ("geo_unit", "auto", 6)])
def test_solve_an_example_scenario(tmp_path: Path, folder: str, backend: str,
                                   territories: int) -> None:
    spec = EXAMPLES / folder / "spec.yaml"
    db = f"sqlite:///{tmp_path / 'store.db'}"
    r = run(["import", str(EXAMPLES / folder / "accounts.csv"),
             str(EXAMPLES / folder / "reps.csv"), "--spec", str(spec), "-q"], db)
    assert r.exit_code == 0, r.output
    assert run(["scenario", "create", folder, "--spec", str(spec)], db).exit_code == 0
    r = run(["solve", folder, "--backend", backend, "--time-limit", "8", "--json"], db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["status"] in ("optimal", "feasible") and out["plan_id"] is not None
    assert out["problem"] == {"mode": folder, "accounts": 300, "reps": 6,
                              "territories": territories}
    assert out["after"]["hard_violations"] == 0
    assert "territory → rep: " in out["message"]
    with Workspace.open(db) as ws:
        sc, plan = ws.load_scenario(folder), ws.get_plan(folder)
    ev = evaluate(sc, plan)
    assert ev.feasible, [str(v) for v in ev.hard_violations]
    assert len(set(plan.owner.tolist())) == territories
    assert out["after"]["objective"]["total"] == pytest.approx(ev.objective.total, rel=1e-9)


def test_a_geo_unit_scenario_refuses_the_heuristic(tmp_path: Path) -> None:
    spec = EXAMPLES / "geo_unit" / "spec.yaml"
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert run(["import", str(EXAMPLES / "geo_unit" / "accounts.csv"),
                str(EXAMPLES / "geo_unit" / "reps.csv"), "--spec", str(spec), "-q"],
               db).exit_code == 0
    assert run(["scenario", "create", "g", "--spec", str(spec)], db).exit_code == 0
    r = run(["solve", "g", "--backend", "heuristic"], db)
    assert r.exit_code == 2 and "auto, milp, cpsat" in r.output
    with Workspace.open(db) as ws:
        assert ws.list_solve_runs("g") == []  # refused before any run is recorded


def test_scenario_create_stores_the_supplied_adjacency(tmp_path: Path) -> None:
    import csv

    spec = EXAMPLES / "geo_unit" / "spec.yaml"
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert run(["import", str(EXAMPLES / "geo_unit" / "accounts.csv"),
                str(EXAMPLES / "geo_unit" / "reps.csv"), "--spec", str(spec), "-q"],
               db).exit_code == 0
    assert run(["scenario", "create", "g", "--spec", str(spec)], db).exit_code == 0
    with (EXAMPLES / "geo_unit" / "adjacency.csv").open(newline="") as f:
        edges = {frozenset((r["unit_a"], r["unit_b"])) for r in csv.DictReader(f)}
    with Workspace.open(db) as ws:
        units = ws.load_scenario("g").units
    assert units is not None
    ids = list(units.unit_ids)
    stored = {frozenset((ids[a], ids[b])) for a, b in units.edges}
    assert stored == edges  # the file's borders, not a Delaunay triangulation


def test_validate_reads_the_adjacency_next_to_the_spec(tmp_path: Path) -> None:
    import shutil

    data, conf = tmp_path / "data", tmp_path / "conf"
    data.mkdir()
    conf.mkdir()
    for f in ("accounts.csv", "reps.csv"):
        shutil.copy(EXAMPLES / "geo_unit" / f, data / f)
    for f in ("spec.yaml", "adjacency.csv"):
        shutil.copy(EXAMPLES / "geo_unit" / f, conf / f)
    r = run(["validate", str(data / "accounts.csv"), str(data / "reps.csv"),
             "--spec", str(conf / "spec.yaml")], f"sqlite:///{tmp_path / 'store.db'}")
    assert r.exit_code == 0, r.output  # adjacency.csv is resolved against the spec's folder
