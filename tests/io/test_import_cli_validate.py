"""``terraplan validate``: every problem printed, exit code 2 on errors, never a traceback."""

from __future__ import annotations

import json

from iofixtures import csv_rows, write
from typer.testing import CliRunner

from terraplan.cli import app

runner = CliRunner()


def files(tmp_path, accounts="id,potential,current_owner\na1,10,r1\na2,x,r9\n",
          reps="id,status\nr1,active\n"):
    return write(tmp_path, "acc.csv", accounts), write(tmp_path, "reps.csv", reps)


def test_clean_files_exit_zero(tmp_path):
    acc, reps = files(tmp_path, accounts="id,potential,current_owner\na1,10,r1\n")
    res = runner.invoke(app, ["validate", str(acc), str(reps)])
    assert res.exit_code == 0, res.output
    assert "ok: 2 rows in = 2 loaded + 0 rejected" in res.output


def test_errors_are_listed_and_exit_two(tmp_path):
    acc, reps = files(tmp_path)
    res = runner.invoke(app, ["validate", str(acc), str(reps)])
    assert res.exit_code == 2
    # the table wraps long reasons at the terminal width: check the unwrapped cells
    assert "potential" in res.output and "current_owner" in res.output and "r9" in res.output
    assert "3 rows in = 2 loaded + 1 rejected" in res.output
    assert "Traceback" not in res.output


def test_json_report(tmp_path):
    acc, reps = files(tmp_path)
    res = runner.invoke(app, ["validate", str(acc), str(reps), "--json"])
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert (data["rows_in"], data["rows_loaded"], data["rows_rejected"]) == (3, 2, 1)
    assert [(e["row"], e["column"], e["code"]) for e in data["errors"]] == [
        (3, "potential", "bad_number"), (3, "current_owner", "unknown_rep")]


def test_skip_mode_writes_the_rejects_file(tmp_path):
    acc, reps = files(tmp_path)
    out = tmp_path / "out" / "rejected.csv"
    res = runner.invoke(app, ["validate", str(acc), str(reps), "--on-error", "skip",
                              "--rejects", str(out)])
    assert res.exit_code == 2
    rows = csv_rows(out)
    assert rows[0] == ["id", "potential", "current_owner", "row", "reason"]
    assert rows[1][:4] == ["a2", "x", "r9", "3"]


def test_spec_mapping_is_used(tmp_path):
    acc, reps = files(tmp_path, accounts="Acct,potential\na1,10\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs:\n  account_columns: {Acct: id}\n")
    res = runner.invoke(app, ["validate", str(acc), str(reps), "--spec", str(spec)])
    assert res.exit_code == 0, res.output


def test_unreadable_inputs_never_show_a_traceback(tmp_path):
    acc, reps = files(tmp_path)
    res = runner.invoke(app, ["validate", str(tmp_path / "missing.csv"), str(reps)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02\x03")
    res = runner.invoke(app, ["validate", str(tmp_path / "bin.csv"), str(reps)])
    assert res.exit_code == 2 and "binary" in res.output
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("rules: {balance: 3}\n")
    res = runner.invoke(app, ["validate", str(acc), str(reps), "--spec", str(bad_spec)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = runner.invoke(app, ["validate", str(acc), str(reps), "--on-error", "ignore"])
    assert res.exit_code == 2 and "--on-error" in res.output


def test_validate_inputs_names_the_unreadable_file(tmp_path):
    from terraplan.io import validate_inputs

    acc, _ = files(tmp_path)
    empty = write(tmp_path, "empty.csv", "")
    report = validate_inputs(acc, empty)
    assert not report.ok and report.reps.problems[0].code == "empty_file"
    report = validate_inputs(empty, acc)
    assert report.accounts.problems[0].code == "empty_file"
