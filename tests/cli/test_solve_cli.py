"""``terraplan solve`` and ``terraplan explain`` in-process: the stored plan, the printed figures
and the evaluator agree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from clikit import make_book, run, write_specs

from terraplan.domain import Plan
from terraplan.evaluate import evaluate, explain_account
from terraplan.services import Workspace


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("solve")
    accounts, reps = make_book(d, accounts=120, reps=5, seed=4)
    specs = write_specs(d)
    db = f"sqlite:///{d / 'store.db'}"
    assert run(["import", str(accounts), str(reps), "-q"], db).exit_code == 0
    assert run(["scenario", "create", "b", "--spec", str(specs["b"])], db).exit_code == 0
    r = run(["solve", "b", "--backend", "heuristic", "--time-limit", "3", "--seed", "3",
             "--json"], db)
    assert r.exit_code == 0, r.output
    return {"db": db, "out": json.loads(r.output)}


def test_solve_records_run_and_plan_checked_by_evaluator(solved: dict[str, Any]) -> None:
    out = solved["out"]
    ws = Workspace.open(solved["db"])
    try:
        info = ws.get_scenario("b")
        (run_,) = ws.list_solve_runs("b")
        assert info.status == "solved" and info.plan_id == out["plan_id"] == run_.plan_id
        assert run_.seed == 3 and run_.backend == "heuristic"
        assert run_.status == out["status"] in ("feasible", "optimal")
        ev = evaluate(ws.load_scenario("b"), ws.get_plan("b"))
    finally:
        ws.close()
    assert ev.feasible
    assert out["after"]["hard_violations"] == 0
    assert out["after"]["objective"]["total"] == pytest.approx(ev.objective.total, rel=1e-9)
    assert out["after"]["fairness"]["potential"]["cv"] == pytest.approx(
        ev.metrics["potential"].cv, rel=1e-9)
    assert out["bound"] is None or out["bound"] <= out["objective"] + 1e-6


def test_human_output_shows_before_and_after(solved: dict[str, Any]) -> None:
    r = run(["solve", "b", "--backend", "heuristic", "--time-limit", "2"], solved["db"])
    assert r.exit_code == 0, r.output
    assert "plan quality (independent evaluator)" in r.output
    assert "stored plan" in r.output
    q = run(["solve", "b", "--backend", "heuristic", "--time-limit", "1", "-q"], solved["db"])
    assert q.exit_code == 0 and q.output == ""


def test_explain_account_and_rep(solved: dict[str, Any]) -> None:
    ws = Workspace.open(solved["db"])
    try:
        sc, plan = ws.load_scenario("b"), ws.get_plan("b")
    finally:
        ws.close()
    acc = str(sc.accounts.ids[7])
    r = run(["explain", "b", "--account", acc, "--json"], solved["db"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    want = explain_account(sc, plan, acc, Plan.current(sc.accounts, sc.reps))
    assert got["rep_id"] == plan.owner_of(acc) == want.rep_id
    assert got["sentence"] == want.sentence
    rep = sc.reps.ids[0]
    r = run(["explain", "b", "--rep", rep], solved["db"])
    assert r.exit_code == 0 and f"Rep {rep}" in r.output
    r = run(["explain", "b"], solved["db"])
    assert r.exit_code == 0 and "Verdict: feasible" in r.output
    assert run(["explain", "b", "--account", "nope"], solved["db"]).exit_code == 2
    assert run(["explain", "b", "--account", acc, "--rep", rep], solved["db"]).exit_code == 2
