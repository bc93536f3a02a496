"""``terraplan export`` (csv, parquet, CRM territory files) and the ``compare`` alias."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from clikit import make_book, run, write_specs

from terraplan.cli.export import developer_name
from terraplan.io import read_plan
from terraplan.services import Workspace


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("export")
    accounts, reps = make_book(d, accounts=90, reps=4, seed=6)
    specs = write_specs(d)
    db = f"sqlite:///{d / 'store.db'}"
    for args in (["import", str(accounts), str(reps), "--baseline", "crm", "-q"],
                 ["scenario", "create", "a", "--spec", str(specs["a"])],
                 ["solve", "a", "--backend", "heuristic", "--time-limit", "2", "-q"]):
        r = run(args, db)
        assert r.exit_code == 0, r.output
    ws = Workspace.open(db)
    try:
        return {"db": db, "dir": d, "plan": ws.get_plan("a"), "sc": ws.load_scenario("a")}
    finally:
        ws.close()


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_and_parquet_hold_the_stored_plan(store: dict[str, Any], tmp_path: Path) -> None:
    assert run(["export", "a", "--out", str(tmp_path), "-q"], store["db"]).exit_code == 0
    rows = _read(tmp_path / "plan.csv")
    want = store["plan"].to_mapping()
    assert {r["account_id"]: r["rep_id"] or None for r in rows} == want
    assert run(["export", "a", "--format", "parquet", "--out", str(tmp_path), "-q"],
               store["db"]).exit_code == 0
    assert read_plan(tmp_path / "plan.parquet").to_mapping() == want


def test_crm_files_are_consistent(store: dict[str, Any], tmp_path: Path) -> None:
    r = run(["export", "a", "--format", "crm", "--out", str(tmp_path), "--json"], store["db"])
    assert r.exit_code == 0, r.output
    files = json.loads(r.output)["files"]
    want = store["plan"].to_mapping()
    acc = _read(tmp_path / "accounts.csv")
    assert files["accounts.csv"] == len(acc) == len(want)
    assert {a["AccountId"]: a["OwnerId"] or None for a in acc} == want
    terr = {t["DeveloperName"]: t for t in _read(tmp_path / "Territory2.csv")}
    owners = {r for r in want.values() if r is not None}
    assert set(terr) == {developer_name(r) for r in owners}
    for a in acc:
        if a["OwnerId"]:
            assert terr[a["Territory2DeveloperName"]]["OwnerId"] == a["OwnerId"]
    members = _read(tmp_path / "UserTerritory2Association.csv")
    assert {(m["UserId"], m["Territory2DeveloperName"]) for m in members} == {
        (r, developer_name(r)) for r in owners}
    objs = _read(tmp_path / "ObjectTerritory2Association.csv")
    assert len(objs) == sum(1 for r in want.values() if r is not None)
    counts: dict[str, int] = {}
    for o in objs:
        counts[o["Territory2DeveloperName"]] = counts.get(o["Territory2DeveloperName"], 0) + 1
    assert {k: int(t["AccountCount"]) for k, t in terr.items()} == counts
    sc = store["sc"]
    pot = dict(zip(sc.accounts.ids.tolist(), sc.accounts.potential.tolist(), strict=True))
    total = sum(round(float(t["Potential"]) * 100) for t in terr.values())
    assert total == sum(pot[a] for a, r in want.items() if r is not None)


@pytest.mark.parametrize(("rep", "name"), [("R0001", "TP_R0001"), ("jane.doe@x.com",
                                                                    "TP_jane_doe_x_com"),
                                           ("__a--b__", "TP_a_b")])
def test_developer_name(rep: str, name: str) -> None:
    assert developer_name(rep) == name


def test_compare_alias(store: dict[str, Any], tmp_path: Path) -> None:
    r = run(["compare", "crm", "a", "--json"], store["db"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    sc, plan = store["sc"], store["plan"]
    cur = dict(zip(sc.accounts.ids.tolist(), sc.accounts.current_owner.values(), strict=True))
    moved = sum(1 for a, rep in plan.to_mapping().items() if cur[a] != rep)
    assert out["summary"]["moved"] == moved
    csv_path = tmp_path / "moves.csv"
    r = run(["compare", "crm", "a", "--csv", str(csv_path)], store["db"])
    assert r.exit_code == 0
    assert len(_read(csv_path)) == moved
    assert (tmp_path / "moves_reps.csv").exists()
