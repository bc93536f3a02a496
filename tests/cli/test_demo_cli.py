"""``terraplan demo`` — the README's main job — leaves a store whose plan the evaluator accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from terraplan.cli import app
from terraplan.evaluate import evaluate
from terraplan.services import Workspace


@pytest.mark.slow
def test_demo_stores_a_feasible_priced_plan(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    res = CliRunner().invoke(app, ["demo", "--db", str(db), "--time-limit", "8"])
    assert res.exit_code == 0, res.output
    ws = Workspace.open(f"sqlite:///{db}")
    try:
        (info,) = ws.list_scenarios()
        assert info.status == "solved" and info.n_accounts == 3000
        scenario = ws.load_scenario(info.name)
        ev = evaluate(scenario, ws.get_plan(info.name))
        assert ev.feasible
        # the figure printed in the comparison table is the evaluator's
        assert f"{ev.moves.accounts_moved:,}" in res.output
        quotas = ws.get_quotas(info.name)
        assert quotas is not None
        street, target = quotas.params["street"], quotas.params["target"]
        assert street == (target * 11 + 5) // 10  # street = target × 1.10, half up, in cents
        # stored rows are ramped quotas: relief for the mid-year TBH keeps them at or below it
        assert 0 < sum(quotas.per_rep().values()) <= street
        (comp,) = ws.get_comp(info.name)
        assert comp.total_cost_cents > 0
    finally:
        ws.close()
