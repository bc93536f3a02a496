"""``terraplan init`` and ``terraplan import``: config + migrated store; snapshots, baseline and
history in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import make_book, run, write_history

from terraplan.services import Workspace


def test_init_writes_config_and_migrates(tmp_path: Path) -> None:
    home = tmp_path / "fy27"
    (home).mkdir()
    (home / ".env").write_text("OTHER=1\nTERRAPLAN_DATABASE_URL=sqlite:///old.db\n")
    r = run(["init", str(home), "--json"], "sqlite:///unused.db")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    url = f"sqlite:///{(home / 'terraplan.db').resolve()}"
    assert out["database_url"] == url and out["config_changed"]
    assert (home / ".env").read_text() == f"OTHER=1\nTERRAPLAN_DATABASE_URL={url}\n"
    ws = Workspace.open(url, migrate_schema=False)
    try:
        assert ws.count_rows()["scenarios"] == 0  # tables exist
    finally:
        ws.close()
    again = json.loads(run(["init", str(home), "--json"], "sqlite:///unused.db").output)
    assert not again["config_changed"]
    assert again["schema_revision"] == out["schema_revision"]


def test_import_stores_snapshots_baseline_and_history(tmp_path: Path) -> None:
    accounts, reps = make_book(tmp_path, accounts=60, reps=3, seed=1)
    hist = write_history(accounts, tmp_path / "hist.csv")
    db = f"sqlite:///{tmp_path / 'store.db'}"
    r = run(["import", str(accounts), str(reps), "--history", str(tmp_path / "hist.csv"),
             "--json"], db)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["accounts"]["rows"] == 60 and out["accounts"]["new"]
    assert out["history"] == {"accounts": 60, "total_cents": sum(hist.values())}
    base = out["baseline"]["name"]
    assert base == f"baseline-{out['accounts']['sha256'][:8]}"
    ws = Workspace.open(db)
    try:
        info = ws.get_scenario(base)
        assert info.status == "solved" and info.n_accounts == 60
        (m,) = ws.get_metrics(base, "history")
        assert m.data["bookings_cents"] == hist
        sc, plan = ws.load_scenario(base), ws.get_plan(base)
        # the baseline's plan is the CRM's current ownership
        assert plan.to_mapping() == dict(zip(sc.accounts.ids.tolist(),
                                             sc.accounts.current_owner.values(), strict=True))
    finally:
        ws.close()
    # the same files again: nothing new is stored
    again = json.loads(run(["import", str(accounts), str(reps), "--json"], db).output)
    assert not again["accounts"]["new"] and not again["reps"]["new"]
    assert again["baseline"] is None


def test_human_output_and_quiet(tmp_path: Path) -> None:
    accounts, reps = make_book(tmp_path, accounts=30, reps=2, seed=2)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    r = run(["import", str(accounts), str(reps), "--baseline", "crm"], db)
    assert r.exit_code == 0
    assert "imported 30 accounts" in r.output and "baseline scenario crm" in r.output
    q = run(["import", str(accounts), str(reps), "-q"], db)
    assert q.exit_code == 0 and q.output == ""


@pytest.mark.parametrize("command", ["init", "import", "solve", "explain", "export", "compare",
                                     "rebalance", "validate", "generate", "quota", "demo",
                                     "comp simulate", "comp design"])
def test_help_has_an_example(command: str) -> None:
    r = run([*command.split(), "--help"], "sqlite:///unused.db")
    assert r.exit_code == 0
    assert f"Example: terraplan {command}" in " ".join(r.output.split())
