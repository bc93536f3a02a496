"""Rebalancing refuses carve and geo-unit scenarios up front: moving single accounts cannot keep
territories whole, so it would only fail after its whole time limit."""

from __future__ import annotations

import time

import pytest

from terraplan.domain import Scenario
from terraplan.errors import UnsupportedRuleError
from terraplan.evaluate import evaluate
from terraplan.services import Workspace
from terraplan.services.planning import SolveRequest, solve_loaded
from terraplan.services.rebalancing import RebalanceRequest, rebalance_active
from territoryfixtures import carve_scenario, geo_scenario


def _activate(url: str, sc: Scenario) -> Workspace:
    _, _, plan, _ = solve_loaded(sc, SolveRequest(time_limit=20.0, threads=1, seed=3))
    assert plan is not None and evaluate(sc, plan).feasible
    ws = Workspace.open(url)
    ws.create_scenario("fy", actor="test", cycle="FY27", spec=sc.spec, book=sc.accounts,
                       roster=sc.reps, plan=plan)
    for verb in ("submit", "approve", "activate"):
        ws.transition("fy", verb, actor="test")
    return ws


@pytest.mark.parametrize(("make", "mode"), [(carve_scenario, "carve"),
                                            (geo_scenario, "geo_unit")])
def test_territory_modes_are_refused_before_any_work(migrated_url: str, make: object,
                                                     mode: str) -> None:
    assert callable(make)
    ws = _activate(migrated_url, make())
    try:
        n = len(ws.list_scenarios())
        t0 = time.perf_counter()
        with pytest.raises(UnsupportedRuleError, match=rf"mode: {mode}.*re-solve the scenario"):
            rebalance_active(ws, RebalanceRequest(depart=("R1",), seed=1, time_limit=30),
                             actor="test")
        assert time.perf_counter() - t0 < 5  # refused at once, not after the time limit
        assert len(ws.list_scenarios()) == n  # nothing written
    finally:
        ws.close()
