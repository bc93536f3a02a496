"""``terraplan scenario ...`` end to end through the real Typer app (SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from terraplan.cli.app import app
from terraplan.domain import Plan, Reason
from terraplan.services import Workspace


@pytest.fixture
def db(tmp_path: Path, six_accounts: Any) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    book, roster = six_accounts
    ws = Workspace.open(url)
    ws.import_inputs(book, roster, actor="setup")
    ws.create_scenario("base", actor="setup", cycle="FY27",
                       plan=Plan.current(book, roster))
    moved = Plan.from_indices(book, roster, [0, 0, 1, 1, 1, 1],
                              reasons=[0, 0, int(Reason.BALANCE), 0, 0, 0])
    ws.create_scenario("alt", actor="setup", cycle="FY27", plan=moved)
    ws.close()
    return url


def run(db: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["scenario", *args, "--db", db],
                              env={"USER": "carol", "COLUMNS": "200"})


def test_list_show_and_json(db: str) -> None:
    res = run(db, "list", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["name"], r["status"], r["cycle"]) for r in rows] == [
        ("base", "solved", "FY27"), ("alt", "solved", "FY27")]
    res = run(db, "show", "alt", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["scenario"]["name"] == "alt" and data["plans"][0]["assigned"] == 6
    assert run(db, "show", "alt").exit_code == 0


def test_lifecycle_commands_record_the_actor_and_refuse_with_exit_1(db: str) -> None:
    res = run(db, "approve", "alt", "--why", "looks fair", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "approved"
    assert run(db, "activate", "alt").exit_code == 0
    refused = run(db, "approve", "alt")
    assert refused.exit_code == 1
    assert "cannot become approved" in refused.output
    stale = run(db, "archive", "base", "--expected-version", "1")
    assert stale.exit_code == 1 and "changed since you read it" in stale.output
    hist = json.loads(run(db, "history", "alt", "--json").stdout)
    assert [h["action"] for h in hist][:3] == ["activate", "approve", "submit"]
    assert {h["actor"] for h in hist[:3]} == {"carol"}
    assert hist[1]["why"] == "looks fair"


def test_copy_and_compare_with_export(db: str, tmp_path: Path) -> None:
    res = run(db, "copy", "alt", "alt-v2", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["parent_name"] == "alt"
    out = tmp_path / "moves.csv"
    res = run(db, "compare", "base", "alt", "--export", str(out))
    assert res.exit_code == 0, res.output
    assert "1 of 6 accounts move" in res.stdout
    assert out.read_text().splitlines() == ["account_id,from_rep,to_rep,reason",
                                            "a3,r1,r2,balance"]
    assert (tmp_path / "moves_reps.csv").exists()
    res = run(db, "compare", "alt", "--current", "--json")
    data = json.loads(res.stdout)
    assert data["summary"]["moved"] == 1 and data["moves"][0]["account_id"] == "a3"


def test_bad_input_exits_2(db: str) -> None:
    missing = run(db, "show", "nope")
    assert missing.exit_code == 2 and "no scenario 'nope'" in missing.output
    assert run(db, "list", "--status", "published").exit_code == 2
    assert run(db, "compare", "base").exit_code == 2  # neither B nor --current


def test_create_uses_latest_inputs_and_a_spec_file(db: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("rules:\n  balance:\n    - {metric: workload, tolerance: 0.1}\n")
    res = run(db, "create", "fy27-workload", "--spec", str(spec), "--cycle", "FY27", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["status"] == "draft" and info["created_by"] == "carol" and info["n_accounts"] == 6
    ws = Workspace.open(db)
    try:
        assert ws.load_scenario("fy27-workload").spec.rules.balance[0].metric == "workload"
    finally:
        ws.close()
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  balanse: []\n")
    assert run(db, "create", "x", "--spec", str(bad)).exit_code == 2
