"""``terraplan rebalance`` on a small active plan: who gets what, quota moved pro rata, a draft
child scenario; dry runs and refusals write nothing."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from clikit import make_book, run, write_specs

from terraplan.evaluate import evaluate
from terraplan.services import Workspace


@pytest.fixture(scope="module")
def active(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store whose scenario 'a' is solved, has quarterly quotas, and is active."""
    d = tmp_path_factory.mktemp("reb")
    accounts, reps = make_book(d, accounts=160, reps=6, seed=3)
    specs = write_specs(d)
    db = f"sqlite:///{d / 'store.db'}"
    for args in (["import", str(accounts), str(reps), "-q"],
                 ["scenario", "create", "a", "--spec", str(specs["a"])],
                 ["solve", "a", "--backend", "heuristic", "--time-limit", "3", "-q"]):
        r = run(args, db)
        assert r.exit_code == 0, r.output
    ws = Workspace.open(db)
    try:
        plan = ws.get_plan("a")
        sc = ws.load_scenario("a")
        owner = plan.aligned(sc.accounts, sc.reps)
        counts = np.bincount(owner[owner >= 0], minlength=len(sc.reps))
        # 1,000.00 per quarter per rep: easy to check the pro-rata transfer by hand
        ws.record_quotas("a", {(r, q): 100_000 for r in sc.reps.ids
                               for q in ("Q1", "Q2", "Q3", "Q4")}, actor="test",
                         method="even", params={"year_start": "2027-01-01",
                                                "periods": "quarter"})
    finally:
        ws.close()
    for args in (["scenario", "approve", "a"], ["scenario", "activate", "a"]):
        assert run(args, db).exit_code == 0
    leaver = sc.reps.ids[int(np.argmax(counts))]
    return {"db": db, "leaver": leaver, "plan": plan, "n": int(counts.max())}


def _scenarios(db: str) -> list[str]:
    ws = Workspace.open(db)
    try:
        return [s.name for s in ws.list_scenarios()]
    finally:
        ws.close()


def test_dry_run_prints_who_gets_what_and_writes_nothing(active: dict[str, Any]) -> None:
    before = _scenarios(active["db"])
    r = run(["rebalance", "--depart", active["leaver"], "--tbh", "1", "--effective",
             "2027-07-01", "--dry-run", "-t", "3"], active["db"])
    assert r.exit_code == 0, r.output
    assert "who gets what" in r.output and "dry run: nothing written" in r.output
    assert "TBH-001" in r.output
    assert _scenarios(active["db"]) == before


def test_rebalance_writes_a_child_with_moved_quota(active: dict[str, Any]) -> None:
    db, leaver = active["db"], active["leaver"]
    r = run(["rebalance", "--depart", leaver, "--tbh", "1", "--effective", "2027-07-01",
             "-t", "3", "--name", "a-dep", "--json"], db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["moves"]["forced"] == active["n"]
    ws = Workspace.open(db)
    try:
        child = ws.get_scenario("a-dep")
        assert child.parent_name == "a" and child.status == "solved"
        assert ws.get_scenario("a").status == "active"
        sc, plan = ws.load_scenario("a-dep"), ws.get_plan("a-dep")
        ev = evaluate(sc, plan)
        assert ev.feasible
        new = plan.to_mapping()
        assert leaver not in new.values()
        assert "TBH-001" in sc.reps
        old = active["plan"].to_mapping()
        others = sum(1 for a, rep in old.items() if rep != leaver and new[a] != rep)
        assert out["moves"]["other"] == others
        # July 1 is the start of Q3: the leaver keeps Q1 + Q2, Q3 + Q4 go with the accounts
        q = ws.get_quotas("a-dep")
        assert q is not None and q.total_cents == 6 * 4 * 100_000
        assert [q.quotas[(leaver, p)] for p in ("Q1", "Q2", "Q3", "Q4")] == [
            100_000, 100_000, 0, 0]
        changes = {c["rep_id"]: c["delta_cents"] for c in out["quota_changes"]}
        assert changes[leaver] == -200_000 and sum(changes.values()) == 0
        # the departing book went wholly to the TBH (same profile), so its quota did too
        if others == 0 and set(new[a] for a, rep in old.items() if rep == leaver) == {
                "TBH-001"}:
            assert changes["TBH-001"] == 200_000
        assert {m.kind for m in ws.get_metrics("a-dep")} >= {"evaluation", "rebalance"}
    finally:
        ws.close()


def test_hire_like_an_existing_rep(active: dict[str, Any]) -> None:
    r = run(["rebalance", "--depart", active["leaver"], "--hire", "Dana Lee", "--like",
             active["leaver"], "--effective", "2027-07-01", "-t", "3", "--dry-run", "--json"],
            active["db"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"event": "NewHire", "rep_id": "HIRE-DANA-LEE"}.items() <= out["events"][1].items()
    assert any(g["rep_id"] == "HIRE-DANA-LEE" and g["accounts_in"] > 0 for g in out["reps"])


def test_max_moves_refuses(active: dict[str, Any]) -> None:
    before = _scenarios(active["db"])
    # without a replacement the rest of the team must absorb the book; forbid any other move
    r = run(["rebalance", "--depart", active["leaver"], "--max-moves", "0", "-t", "3",
             "--name", "never"], active["db"])
    assert r.exit_code == 1
    assert "refused" in r.output
    assert _scenarios(active["db"]) == before


def test_unknown_rep(active: dict[str, Any]) -> None:
    r = run(["rebalance", "--depart", "R9999"], active["db"])
    assert r.exit_code == 2 and "R9999" in r.output
