"""Every error path of the importer and of infeasible rules, through the CLI: exit code 2 for
bad input, 1 for infeasible or refused, one clear message, never a traceback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from clikit import make_book, run, write_specs

from terraplan.errors import NotFoundError
from terraplan.services import Workspace


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_book(tmp_path_factory.mktemp("book"), accounts=80, reps=4, seed=5)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rd = csv.DictReader(fh)
        return list(rd.fieldnames or []), list(rd)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def _no_traceback(out: str) -> None:
    assert "Traceback" not in out


def _store_rows(db: str) -> dict[str, int]:
    ws = Workspace.open(db)
    try:
        return ws.count_rows()
    finally:
        ws.close()


# -- importer ------------------------------------------------------------------------------
def test_missing_file_is_bad_input(tmp_path: Path, book: tuple[Path, Path], db: str) -> None:
    r = run(["import", str(tmp_path / "nope.csv"), str(book[1])], db)
    assert r.exit_code == 2
    assert "nope.csv" in r.output
    _no_traceback(r.output)


def test_every_bad_row_is_reported_and_nothing_loads(tmp_path: Path, book: tuple[Path, Path],
                                                     db: str) -> None:
    header, rows = _rows(book[0])
    rows[2]["potential"] = "lots"  # data row 4 in spreadsheet numbering
    rows[5]["id"] = rows[4]["id"]  # a duplicate id, row 7
    rows[9]["workload"] = "-3"
    bad = _write(tmp_path / "accounts.csv", header, rows)
    r = run(["import", str(bad), str(book[1])], db)
    assert r.exit_code == 2
    _no_traceback(r.output)
    assert "problem(s) in the input" in r.output
    assert "lots" in r.output and "potential" in r.output
    assert rows[4]["id"] in r.output  # the duplicate named
    assert "workload" in r.output
    assert _store_rows(db)["snapshots"] == 0  # raise mode: nothing stored


def test_missing_id_column_is_an_error(tmp_path: Path, book: tuple[Path, Path],
                                       db: str) -> None:
    header, rows = _rows(book[0])
    header = [h for h in header if h != "id"]
    for row in rows:
        row.pop("id")
    bad = _write(tmp_path / "accounts.csv", header, rows)
    r = run(["import", str(bad), str(book[1])], db)
    assert r.exit_code == 2
    assert "id" in r.output
    _no_traceback(r.output)


def test_missing_potential_column_loads_with_a_warning(tmp_path: Path, book: tuple[Path, Path],
                                                       db: str) -> None:
    header, rows = _rows(book[0])
    header = [h for h in header if h != "potential"]
    for row in rows:
        row.pop("potential")
    r = run(["import", str(_write(tmp_path / "accounts.csv", header, rows)), str(book[1])], db)
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "potential" in r.output


def test_parent_cycle_rejected(tmp_path: Path, book: tuple[Path, Path], db: str) -> None:
    header, rows = _rows(book[0])
    rows[0]["parent_id"], rows[1]["parent_id"] = rows[1]["id"], rows[0]["id"]
    r = run(["import", str(_write(tmp_path / "accounts.csv", header, rows)), str(book[1])], db)
    assert r.exit_code == 2
    assert rows[0]["id"] in r.output and "cycle" in r.output
    _no_traceback(r.output)


def test_empty_file(tmp_path: Path, book: tuple[Path, Path], db: str) -> None:
    empty = tmp_path / "accounts.csv"
    empty.write_text("", encoding="utf-8")
    r = run(["import", str(empty), str(book[1])], db)
    assert r.exit_code == 2
    assert "accounts.csv" in r.output
    _no_traceback(r.output)


def test_unknown_owner_and_bad_rep_row(tmp_path: Path, book: tuple[Path, Path], db: str) -> None:
    ah, arows = _rows(book[0])
    arows[0]["current_owner"] = "R9999"
    rh, rrows = _rows(book[1])
    rrows[1]["capacity"] = "many"
    r = run(["import", str(_write(tmp_path / "accounts.csv", ah, arows)),
             str(_write(tmp_path / "reps.csv", rh, rrows))], db)
    assert r.exit_code == 2
    assert "R9999" in r.output
    assert "capacity" in r.output and "many" in r.output
    _no_traceback(r.output)


def test_skip_mode_loads_good_rows_and_writes_rejects(tmp_path: Path, book: tuple[Path, Path],
                                                      db: str) -> None:
    header, rows = _rows(book[0])
    parents = {r["parent_id"] for r in rows}
    # two accounts outside any family (a rejected parent takes its children with it)
    i, j = [k for k, r in enumerate(rows) if not r["parent_id"] and r["id"] not in parents][:2]
    rows[i]["potential"] = "n/a"
    rows[j]["lat"] = "999"
    bad = _write(tmp_path / "accounts.csv", header, rows)
    rejects = tmp_path / "rejected.csv"
    r = run(["import", str(bad), str(book[1]), "--on-error", "skip", "--rejects", str(rejects),
             "--json"], db)
    assert r.exit_code == 0, r.output
    _, rej = _rows(rejects)
    assert {x["id"] for x in rej} == {rows[i]["id"], rows[j]["id"]}
    ws = Workspace.open(db)
    try:
        (acc,) = ws.list_snapshots("accounts")
        assert acc.n_rows == len(rows) - 2
    finally:
        ws.close()


def test_on_error_value_checked(book: tuple[Path, Path], db: str) -> None:
    r = run(["import", str(book[0]), str(book[1]), "--on-error", "ignore"], db)
    assert r.exit_code == 2
    assert "--on-error must be 'raise' or 'skip'" in r.output


@pytest.mark.parametrize(("text", "needle"), [
    ("account,amount\nA1,3\n", "missing account_id, bookings"),
    ("account_id,bookings\n{a},12.5\n{a},3\n", "duplicate account_id"),
    ("account_id,bookings\n{a},twelve\n", "not a money amount"),
    ("account_id,bookings\n{a},-5\n", "negative bookings"),
])
def test_history_errors(tmp_path: Path, book: tuple[Path, Path], db: str, text: str,
                        needle: str) -> None:
    _, rows = _rows(book[0])
    h = tmp_path / "hist.csv"
    h.write_text(text.format(a=rows[0]["id"]), encoding="utf-8")
    r = run(["import", str(book[0]), str(book[1]), "--history", str(h)], db)
    assert r.exit_code == 2
    assert needle in r.output
    _no_traceback(r.output)
    assert _store_rows(db)["snapshots"] == 0  # history is checked before anything is stored


def test_bad_spec_is_bad_input(tmp_path: Path, book: tuple[Path, Path], db: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("rules:\n  balance:\n    - {metric: potential, tolerance: -1}\n",
                    encoding="utf-8")
    r = run(["import", str(book[0]), str(book[1]), "--spec", str(spec)], db)
    assert r.exit_code == 2
    assert "tolerance" in r.output
    _no_traceback(r.output)


# -- infeasible rules and refusals ---------------------------------------------------------
@pytest.fixture
def imported(tmp_path: Path, book: tuple[Path, Path], db: str) -> dict[str, Path]:
    assert run(["import", str(book[0]), str(book[1]), "-q"], db).exit_code == 0
    return write_specs(tmp_path)


def test_infeasible_rules_exit_1_with_conflicts(imported: dict[str, Path], db: str) -> None:
    assert run(["scenario", "create", "tight", "--spec", str(imported["tight"])],
               db).exit_code == 0
    r = run(["solve", "tight", "--time-limit", "5"], db)
    assert r.exit_code == 1
    assert "the rules cannot all hold" in r.output
    shown = [ln.strip()[2:] for ln in r.output.splitlines() if ln.strip().startswith("- ")]
    assert shown  # the provable conflicts, in business terms
    _no_traceback(r.output)
    ws = Workspace.open(db)
    try:
        (run_,) = ws.list_solve_runs("tight")
        assert run_.status == "infeasible" and run_.plan_id is None
        assert all(c in run_.message for c in shown)  # stored with the run
        assert ws.list_plans("tight") == []
        assert ws.get_scenario("tight").status == "draft"
    finally:
        ws.close()
    e = run(["explain", "tight"], db)
    assert e.exit_code == 1
    assert "Why the rules cannot all hold" in e.output and shown[0] in e.output
    j = run(["explain", "tight", "--json"], db)
    assert j.exit_code == 1 and '"status": "infeasible"' in j.output


def test_solve_input_errors(imported: dict[str, Path], db: str) -> None:
    r = run(["solve", "nosuch"], db)
    assert r.exit_code == 2 and "nosuch" in r.output
    assert run(["scenario", "create", "a", "--spec", str(imported["a"])], db).exit_code == 0
    r = run(["solve", "a", "--backend", "gurobi"], db)
    assert r.exit_code == 2 and "--backend must be one of" in r.output
    r = run(["solve", "a", "--time-limit", "0"], db)
    assert r.exit_code == 2 and "--time-limit" in r.output
    r = run(["explain", "a"], db)  # neither plan nor run yet
    assert r.exit_code == 2 and "terraplan solve a" in r.output
    r = run(["export", "a", "--out", "x"], db)  # no plan to export
    assert r.exit_code != 0 and "plan" in r.output
    _no_traceback(r.output)


def test_debug_flag_shows_the_exception(imported: dict[str, Path], db: str) -> None:
    r = run(["--debug", "solve", "nosuch"], db)
    assert isinstance(r.exception, NotFoundError)  # re-raised: the traceback shows


def test_rebalance_refusals(imported: dict[str, Path], db: str) -> None:
    r = run(["rebalance", "--depart", "R0001"], db)
    assert r.exit_code == 2 and "no active plan" in r.output
    r = run(["rebalance"], db)
    assert r.exit_code == 2 and "nothing to rebalance" in r.output
    r = run(["rebalance", "--depart", "R0001", "--effective", "next week"], db)
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    r = run(["rebalance", "--depart", "R0001", "--hire", "Dana"], db)
    assert r.exit_code == 2 and "--like" in r.output
    _no_traceback(r.output)
