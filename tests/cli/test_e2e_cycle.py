"""A whole annual-planning cycle through the real ``terraplan`` command (subprocesses), checked
against the store and the independent evaluator at every step — never against printed text
alone.

generate → init → import (with history) → two scenarios with different rules → solve both →
quota → comp → compare → approve → activate → a rep departs → rebalance (dry run, then for
real) → approve the rebalanced plan.
"""

from __future__ import annotations

import csv
import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clikit import subprocess_env, terraplan_cmd, write_history, write_specs

from terraplan.domain import Plan, to_cents
from terraplan.evaluate import evaluate
from terraplan.services import Workspace

pytestmark = pytest.mark.slow  # ~20 process starts and four solves: 1-3 minutes on 2 cores


def _cli(args: list[str], cwd: Path, *, expect: int = 0, timeout: float = 240) -> str:
    env = subprocess_env("")
    env.pop("TERRAPLAN_DATABASE_URL")  # the workspace's .env names the store
    p = subprocess.run([*terraplan_cmd(), *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == expect, (args, p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr
    return p.stdout


def _json(args: list[str], cwd: Path, expect: int = 0) -> Any:
    return json.loads(_cli([*args, "--json"], cwd, expect=expect))


def _checked(ws: Workspace, name: str) -> tuple[Any, Plan, Any]:
    """The stored plan of ``name`` re-checked by the evaluator."""
    sc = ws.load_scenario(name)
    plan = ws.get_plan(name)
    return sc, plan, evaluate(sc, plan)


def test_annual_planning_cycle(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "fy27"
    _cli(["generate", "--accounts", "600", "--reps", "12", "--seed", "0", "--out", str(data),
          "--quiet"], tmp_path)
    accounts, reps = data / "accounts.csv", data / "reps.csv"
    hist = write_history(accounts, tmp_path / "bookings.csv")
    specs = write_specs(tmp_path)

    # -- init: config + migrated store -----------------------------------------------------
    out = _json(["init", str(home)], tmp_path)
    url = out["database_url"]
    assert (home / ".env").read_text().strip() == f"TERRAPLAN_DATABASE_URL={url}"
    ws = Workspace.open(url, migrate_schema=False)
    try:
        assert ws.count_rows()["scenarios"] == 0

        # -- import with history: snapshots + baseline scenario with the bookings -----------
        imp = _json(["import", str(accounts), str(reps), "--history",
                     str(tmp_path / "bookings.csv"), "--baseline", "crm"], home)
        assert imp["report"]["rows_in"] == imp["report"]["rows_loaded"] == 612
        snaps = ws.list_snapshots()
        assert [(s.kind, s.n_rows) for s in snaps if s.kind != "spec"] == [
            ("accounts", 600), ("reps", 12)]
        base = ws.get_scenario("crm")
        assert base.status == "solved"
        (metric,) = ws.get_metrics("crm", "history")
        assert metric.data["bookings_cents"] == hist
        assert metric.data["total_cents"] == sum(hist.values())
        crm_sc, crm_plan, crm_ev = _checked(ws, "crm")
        assert crm_ev.moves.accounts_moved == 0  # the baseline is the current ownership

        # -- two scenarios with different rules, solved -----------------------------------
        _cli(["scenario", "create", "a", "--spec", str(specs["a"])], home)
        _cli(["scenario", "create", "b", "--spec", str(specs["b"])], home)
        tolerance = {"a": 0.10, "b": 0.08}
        for name in ("a", "b"):
            res = _json(["solve", name, "--backend", "heuristic", "--time-limit", "8",
                         "--seed", "1"], home)
            assert res["status"] in ("feasible", "optimal")
            info = ws.get_scenario(name)
            assert info.status == "solved" and info.plan_id == res["plan_id"]
            (run,) = ws.list_solve_runs(name)
            assert run.backend == "heuristic" and run.seed == 1 and run.plan_id == info.plan_id
            _, _, ev = _checked(ws, name)
            assert ev.feasible, ev.summary()
            assert ev.metrics["potential"].max_abs_deviation <= tolerance[name] + 1e-9
            # the figures printed are the evaluator's figures of the stored plan
            assert res["after"]["objective"]["total"] == pytest.approx(ev.objective.total,
                                                                       rel=1e-9)
            assert res["after"]["moves"]["accounts_moved"] == ev.moves.accounts_moved
        _, plan_a, ev_a = _checked(ws, "a")
        _, plan_b, ev_b = _checked(ws, "b")
        assert ev_b.metrics["workload"].cv < crm_ev.metrics["workload"].cv

        # -- quota on B, straight from the store, recorded with B --------------------------
        _cli(["export", "b", "--format", "csv", "--out", str(tmp_path / "exp")], home)
        target = 60_000_000_00
        _cli(["quota", "--scenario", "b", "--target", "60000000", "--history",
              str(tmp_path / "bookings.csv"), "--year-start", "2027-01-01", "--ramp", "none",
              "--out", str(tmp_path / "q")], home)
        with open(tmp_path / "q" / "quotas.csv", newline="") as fh:
            qrows = list(csv.DictReader(fh))
        assert {r["rep_id"] for r in qrows} == set(ws.load_scenario("b").reps.ids)
        street = sum(to_cents(r["territory_quota"]) for r in qrows)
        assert street == target * 11 // 10  # street total = target × (1 + 10 %)
        with open(tmp_path / "q" / "periods.csv", newline="") as fh:
            periods = {(r["rep_id"], r["period"]): to_cents(r["quota"])
                       for r in csv.DictReader(fh)}
        stored_q = ws.get_quotas("b")
        assert stored_q is not None
        assert sum(stored_q.per_rep().values()) == sum(periods.values()) == street

        # -- comp on the quotas --------------------------------------------------------------
        _cli(["comp", "simulate", "--quotas", str(tmp_path / "q" / "quotas.csv"), "--reps",
              str(reps), "--year-start", "2027-01-01", "--scenarios", "2000", "--out",
              str(tmp_path / "c")], home)
        with open(tmp_path / "c" / "cost_per_rep.csv", newline="") as fh:
            pay = list(csv.DictReader(fh))
        assert pay and all(r["rep_id"] in {q["rep_id"] for q in qrows} for r in pay)

        # -- compare A and B -----------------------------------------------------------------
        cmp = _json(["compare", "a", "b"], home)
        moved = int(np.count_nonzero(plan_a.aligned(crm_sc.accounts, crm_sc.reps)
                                     != plan_b.aligned(crm_sc.accounts, crm_sc.reps)))
        assert cmp["summary"]["moved"] == moved
        assert cmp["summary"]["accounts"] == 600

        # -- approve and activate B ----------------------------------------------------------
        _cli(["scenario", "approve", "b", "--why", "signed off"], home)
        _cli(["scenario", "activate", "b"], home)
        assert ws.get_scenario("b").status == "active"
        some = str(plan_b.account_ids[0])
        assert ws.owner_of(some).rep_id == plan_b.owner_of(some)

        # -- a rep departs: rebalance, dry run first -----------------------------------------
        owner_b = plan_b.aligned(crm_sc.accounts, crm_sc.reps)
        counts = np.bincount(owner_b[owner_b >= 0], minlength=len(crm_sc.reps))
        leaver = crm_sc.reps.ids[int(np.argmax(counts))]
        n_before = len(ws.list_scenarios())
        dry = _json(["rebalance", "--depart", leaver, "--effective", "2027-04-01", "--tbh", "1",
                     "--time-limit", "10", "--dry-run"], home)
        assert dry["ok"] and dry["scenario"] is None
        assert len(ws.list_scenarios()) == n_before  # a dry run writes nothing

        reb = _json(["rebalance", "--depart", leaver, "--effective", "2027-04-01", "--tbh", "1",
                     "--time-limit", "10", "--name", "b-after-departure"], home)
        child = ws.get_scenario("b-after-departure")
        assert child.parent_name == "b" and child.status == "solved"
        assert ws.get_scenario("b").status == "active"  # the active plan is untouched
        sc_c, plan_c, ev_c = _checked(ws, "b-after-departure")
        assert ev_c.feasible, ev_c.summary()
        new_owner = plan_c.to_mapping()
        old_owner = plan_b.to_mapping()
        assert leaver not in set(new_owner.values())
        forced = [a for a, r in old_owner.items() if r == leaver]
        assert reb["moves"]["forced"] == len(forced)
        others = [a for a, r in old_owner.items() if r != leaver and new_owner[a] != r]
        assert reb["moves"]["other"] == len(others)
        assert len(others) <= 0.05 * 600  # everyone else keeps their book (almost)
        for m, dev in reb["worst_deviation"]["after"].items():
            assert dev == pytest.approx(ev_c.metrics[m].max_abs_deviation, abs=0.02)
        # quota moved pro rata from April 1: Q1 stays, the leaver keeps only Q1 (+ no Q2-Q4)
        q_old = ws.get_quotas("b")
        q_new = ws.get_quotas("b-after-departure")
        assert q_old is not None and q_new is not None
        assert q_new.total_cents == q_old.total_cents  # nothing created or lost
        assert q_new.quotas[(leaver, "Q1")] == q_old.quotas[(leaver, "Q1")]
        assert all(q_new.quotas.get((leaver, p), 0) == 0 for p in ("Q2", "Q3", "Q4"))
        by_rep = {c["rep_id"]: c for c in reb["quota_changes"]}
        assert by_rep[leaver]["delta_cents"] == -sum(q_old.quotas[(leaver, p)]
                                                     for p in ("Q2", "Q3", "Q4"))
        pot = dict(zip(sc_c.accounts.ids.tolist(), sc_c.accounts.potential.tolist(),
                       strict=True))
        gained = {}
        for a in forced:
            gained[new_owner[a]] = gained.get(new_owner[a], 0) + pot[a]
        share = {r: Fraction(v, sum(gained.values())) for r, v in gained.items()}
        for r, s in share.items():  # each receiver takes the leaver's quota in proportion
            moved_q = by_rep[r]["delta_cents"] if r in by_rep else 0
            assert abs(moved_q - float(s) * -by_rep[leaver]["delta_cents"]) <= 4 + abs(
                moved_q) * 0.02 * (len(others) > 0)

        # -- approve the rebalanced plan -------------------------------------------------------
        _cli(["scenario", "approve", "b-after-departure", "--why", "departure"], home)
        assert ws.get_scenario("b-after-departure").status == "approved"
        actions = [e.action for e in ws.history("b-after-departure")]
        assert {"create", "record_quotas", "submit", "approve"} <= set(actions)
    finally:
        ws.close()
