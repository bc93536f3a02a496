"""The rebalancing service on a generated book: only the departed rep's pool is re-solved, the
child scenario's plan meets every rule (evaluator), dry runs write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import compile, decode
from terraplan.services import Workspace
from terraplan.services.rebalancing import RebalanceRequest, rebalance_active
from terraplan.solvers.rebalance import repair

# capacity off: a small generated pool may not absorb a departed book within capacity
SPEC = {"rules": {"eligibility": ["segment", "vertical", "region"], "capacity": False}}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """An active scenario over a generated book (seed 5) whose plan meets every rule."""
    g = generate_book(1500, 20, seed=5)
    spec = ScenarioSpec.from_dict(SPEC)
    sc = Scenario(spec=spec, accounts=g.accounts, reps=g.reps)
    p = compile(sc)
    res, _ = repair(p, p.account_owner, seed=5, time_limit=30)  # fixes legacy ineligible owners
    assert res.assignment is not None, res.message
    plan = decode(p, res.assignment)
    assert evaluate(sc, plan).hard_count == 0
    w = Workspace.open(f"sqlite:///{tmp_path / 'reb.db'}")
    w.import_inputs(g.accounts, g.reps, actor="setup")
    w.create_scenario("fy", actor="setup", cycle="FY27", spec=spec, plan=plan)
    for verb in ("submit", "approve", "activate"):
        w.transition("fy", verb, actor="setup")
    yield w
    w.close()


def _leaver(w: Workspace) -> tuple[str, Scenario, np.ndarray]:
    """The rep with the largest book in the pool with most reps (a one-rep pool cannot lose
    its rep: its accounts would have nobody eligible left)."""
    sc = w.load_scenario("fy")
    owner = w.get_plan("fy").aligned(sc.accounts, sc.reps)
    p = compile(sc)
    counts = np.bincount(owner[owner >= 0], minlength=len(sc.reps))
    counts[p.rep_pool != int(np.argmax(np.bincount(p.rep_pool[p.rep_pool >= 0])))] = -1
    return sc.reps.ids[int(np.argmax(counts))], sc, owner


def test_departure_rewrites_only_the_departed_pool(ws: Workspace) -> None:
    leaver, sc, owner = _leaver(ws)
    out = rebalance_active(ws, RebalanceRequest(depart=(leaver,), seed=2, time_limit=30),
                           actor="test")
    assert out.ok, out.refused
    assert out.after is not None and out.after.hard_count == 0
    assert out.scenario is not None
    child = ws.load_scenario(out.scenario.id)
    new = ws.get_plan(out.scenario.id).aligned(child.accounts, child.reps)
    assert child.spec.rules == sc.spec.rules
    assert evaluate(child, ws.get_plan(out.scenario.id)).hard_count == 0
    j = sc.reps.index_of(leaver)
    assert not np.any(new == j)  # nobody is left with the departed rep
    p = compile(sc)
    acc_pool = p.item_pool[p.item_of]
    changed = np.flatnonzero(new != owner)
    assert np.all(acc_pool[changed] == p.rep_pool[j])  # other pools untouched
    assert out.forced == int((owner == j).sum())
    d = out.to_dict()
    assert d["moves"]["total"] == len(changed)
    assert d["scope"]["accounts"] == int(np.sum(acc_pool == p.rep_pool[j]))


def test_dry_run_writes_nothing(ws: Workspace) -> None:
    leaver, _, _ = _leaver(ws)
    before = [s.name for s in ws.list_scenarios()]
    out = rebalance_active(ws, RebalanceRequest(depart=(leaver,), seed=2, time_limit=30),
                           actor="test", dry_run=True)
    assert out.ok and out.scenario is None
    assert [s.name for s in ws.list_scenarios()] == before

