"""The ``terraplan quota`` and ``terraplan comp`` commands on tiny canonical CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from terraplan.cli.app import app


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "accounts.csv").write_text(
        "id,potential,workload,current_owner\n"
        "a1,20000000,10,r1\na2,15000000,12,r2\na3,10000000,8,r3\na4,5000000,6,r4\n")
    (tmp_path / "reps.csv").write_text(
        "id,role,ote,base_share,start_date\n"
        "r1,AE,1000000,0.5,2020-01-01\nr2,AE,700000,0.5,2021-03-01\nr3,AE,450000,0.5,\n"
        "r4,AE,250000,0.5,2026-07-01\n")
    (tmp_path / "plan.csv").write_text("account_id,rep_id\na1,r1\na2,r2\na3,r3\na4,r4\n")
    (tmp_path / "history.csv").write_text(
        "account_id,bookings\na1,4000000\na2,2000000\na3,1200000\na4,800000\n")
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_quota_then_comp_simulate_and_design(files: Path) -> None:
    runner = CliRunner()
    out = files / "out"
    common = ["--accounts", str(files / "accounts.csv"), "--reps", str(files / "reps.csv"),
              "--year-start", "2026-01-01"]
    r = runner.invoke(app, ["quota", "--target", "10000000", "--plan", str(files / "plan.csv"),
                            "--history", str(files / "history.csv"), "--weights", "0.6,0.4,0",
                            "--out", str(out), *common])
    assert r.exit_code == 0, r.output
    q = _rows(out / "quotas.csv")
    # spec example E1 through the CLI
    assert [row["territory_quota"] for row in q] == [
        "4840000.00", "3080000.00", "1980000.00", "1100000.00"]
    # r4 starts 1 July on the monthly ramp: relief + vacancy + RQ == TQ
    r4 = q[3]
    assert (float(r4["ramped_quota"]) + float(r4["relief"]) + float(r4["vacancy"])
            == pytest.approx(1_100_000.00))
    periods = _rows(out / "periods.csv")
    assert sum(float(p["quota"]) for p in periods if p["rep_id"] == "r4") == pytest.approx(
        float(r4["ramped_quota"]))

    (files / "last_year.csv").write_text("rep_id,bookings\nr1,4840000\nr2,0\nr3,990000\n")
    r = runner.invoke(app, ["comp", "simulate", "--quotas", str(out / "quotas.csv"),
                            "--reps", str(files / "reps.csv"), "--year-start", "2026-01-01",
                            "--scenarios", "4000", "--replay", str(files / "last_year.csv"),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    per_rep = {row["rep_id"]: row for row in _rows(out / "cost_per_rep.csv")}
    assert per_rep["r1"]["bcr"] == "0.103306"  # TI $500k / quota $4.84M
    replay = {row["rep_id"]: row for row in _rows(out / "replay.csv")}
    # r1 at exactly 100 %: pay = OTE; r3 at 50 %: base + half of TI (1x below quota)
    assert replay["r1"]["pay"] == "1000000.00"
    assert replay["r3"]["pay"] == "337500.00"
    summary = {row["measure"]: row for row in _rows(out / "cost_summary.csv")}
    mean, se = float(summary["mean"]["cost"]), float(summary["std_error"]["cost"])
    assert abs(mean - float(summary["expected_closed_form"]["cost"])) <= 4 * se
    assert float(summary["p90"]["cost"]) <= float(summary["cvar90"]["cost"])

    r = runner.invoke(app, ["comp", "design", "--quotas", str(out / "quotas.csv"),
                            "--reps", str(files / "reps.csv"), "--year-start", "2026-01-01",
                            "--budget", "2500000", "--scenarios", "2000", "--out", str(out)])
    assert r.exit_code == 0, r.output
    design = _rows(out / "design.csv")
    assert len(design) == 6 and all(0 <= float(d["multiplier"]) <= 3 for d in design)


def test_quota_infeasible_cap_exits_1_with_totals(files: Path) -> None:
    r = CliRunner().invoke(app, [
        "quota", "--target", "10000000", "--accounts", str(files / "accounts.csv"),
        "--reps", str(files / "reps.csv"), "--cap-share", "0.1", "--out", str(files / "o")])
    assert r.exit_code == 1
    assert "upper quota bounds" in r.output
