"""Encodings, delimiters, Excel and Parquet, column mapping, rejects files, plans, scenarios."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from iofixtures import REPS, csv_rows, write

from terraplan.domain import Plan, Provenance, Reason, ScenarioSpec
from terraplan.errors import InputValidationError, SpecError
from terraplan.io import (
    detect_encoding,
    load_scenario,
    read_accounts,
    read_plan,
    read_reps,
    read_table,
    sidecar_path,
    sniff_delimiter,
    write_plan,
)

TEXT = "id,name,potential\na1,Café Zoë,10\na2,Müller & Söhne,20.5\n"


@pytest.mark.parametrize(("encoding", "expected"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("latin-1", "cp1252"),
    ("cp1252", "cp1252"), ("utf-16", "utf-16"),
])
def test_encodings_are_detected_and_accents_survive(tmp_path, encoding, expected):
    p = write(tmp_path, "a.csv", TEXT, encoding)
    assert detect_encoding(p) == expected
    book, rep = read_accounts(p)
    assert rep.ok and list(book.names) == ["Café Zoë", "Müller & Söhne"]
    assert list(book.ids) == ["a1", "a2"]  # the BOM never sticks to the first header
    assert book.potential.tolist() == [1000, 2050]


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"id,name\na1,X\x81Y\n")
    assert detect_encoding(p) == "latin-1"
    book, _ = read_accounts(p)
    assert book.names[0] == "X\x81Y"


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, delim):
    text = TEXT.replace(",", delim).replace("20.5", '"1,000.5"' if delim != "," else "20.5")
    p = write(tmp_path, "a.csv", text)
    assert read_table(p).delimiter == delim
    book, _ = read_accounts(p)
    assert book.potential.tolist() == [1000, 100050 if delim != "," else 2050]


def test_sniffer_prefers_the_consistent_delimiter():
    assert sniff_delimiter("a;b;c\n1,5;2;3\n4;5,5;6\n") == ";"
    assert sniff_delimiter("only\n1\n") == ","


def test_quoted_newlines_and_crlf(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b'id,name,potential\r\na1,"two\r\nlines",1\r\na2,plain,2\r\n')
    book, rep = read_accounts(p)
    assert rep.ok and list(book.ids) == ["a1", "a2"] and "lines" in book.names[0]


def test_ragged_rows_are_rejected_with_their_row_numbers(tmp_path):
    p = write(tmp_path, "a.csv", "id,potential\na1,1\na2,2,extra\na3,3\na4\na5,5\n")
    with pytest.raises(InputValidationError) as ei:
        read_accounts(p)
    assert [(e.row, e.code) for e in ei.value.errors] == [(3, "bad_row"), (5, "bad_row")]
    book, rep = read_accounts(p, on_error="skip", rejects=tmp_path / "rej.csv")
    assert list(book.ids) == ["a1", "a3", "a5"] and rep.rows_in == 5
    rows = csv_rows(tmp_path / "rej.csv")
    assert rows[0] == ["id", "potential", "row", "reason"]
    assert [r[:3] for r in rows[1:]] == [["a2", "2", "3"], ["a4", "", "5"]]


def test_row_numbers_after_ragged_rows_stay_true(tmp_path):
    p = write(tmp_path, "a.csv", "id,potential\na1,1\nbad\na3,x\n")
    with pytest.raises(InputValidationError) as ei:
        read_accounts(p)
    assert [(e.row, e.code) for e in ei.value.errors] == [(3, "bad_row"), (4, "bad_number")]


def test_skip_mode_rejects_file_has_the_original_columns_and_reasons(tmp_path):
    p = write(tmp_path, "a.csv", "Account ID,potential,Notes\na1,1,ok\na2,-3,\"x, y\"\n"
                                 "a1,4,dup\n")
    book, rep = read_accounts(p, on_error="skip")
    assert rep.rejects_path == tmp_path / "a.rejects.csv"
    rows = csv_rows(rep.rejects_path)
    assert rows == [
        ["Account ID", "potential", "Notes", "row", "reason"],
        ["a2", "-3", "x, y", "3", "potential: potential must not be negative"],
        ["a1", "4", "dup", "4", "Account ID: duplicate account id (first seen on row 2)"],
    ]
    assert rep.rows_in == rep.rows_loaded + rep.rows_rejected == 3


def test_skip_mode_without_rejected_rows_writes_nothing(tmp_path):
    _, rep = read_accounts(write(tmp_path, "a.csv", "id\na1\n"), on_error="skip")
    assert rep.rejects_path is None and not (tmp_path / "a.rejects.csv").exists()


def test_file_level_errors_raise_even_in_skip_mode(tmp_path):
    for text in ("", "name\nx\n"):
        with pytest.raises(InputValidationError):
            read_accounts(write(tmp_path, "a.csv", text), on_error="skip")


def test_bad_on_error_value_is_a_parameter_error(tmp_path):
    with pytest.raises(ValueError, match="'on_error' parameter"):
        read_accounts(write(tmp_path, "a.csv", "id\na1\n"), on_error="ignore")  # type: ignore


def test_column_mapping_by_spec_loose_names_and_aliases(tmp_path):
    spec = ScenarioSpec.from_dict({"inputs": {"account_columns": {
        "Acct #": "id", "annual potential usd": "potential", "Rep": "current_owner"}}})
    p = write(tmp_path, "a.csv", "ACCT #,Annual Potential (USD),Annual_Potential_USD,REP,"
                                 "Latitude,LONGITUDE,Postal Code,Industry\n"
                                 "a1,9,5,r1,40,-74,02139,Retail\n")
    book, rep = read_accounts(p, spec=spec, reps=REPS)
    acc = book[0]
    assert (acc.id, acc.potential, acc.current_owner) == ("a1", 500, "r1")
    assert (acc.postal_code, acc.vertical) == ("02139", "Retail")
    assert acc.location is not None and acc.location.y == 40.0
    assert [w.column for w in rep.warnings if w.code == "unknown_column"] == [
        "Annual Potential (USD)"]


def test_two_columns_claiming_one_field_is_a_file_level_error(tmp_path):
    p = write(tmp_path, "a.csv", "id,ID\na1,b1\n")
    with pytest.raises(InputValidationError) as ei:
        read_accounts(p)
    assert [e.code for e in ei.value.errors] == ["ambiguous_column"]


def test_spec_mapping_to_an_unknown_field_is_reported(tmp_path):
    spec = ScenarioSpec.from_dict({"inputs": {"account_columns": {"Acct": "identifier"}}})
    with pytest.raises(InputValidationError) as ei:
        read_accounts(write(tmp_path, "a.csv", "Acct\na1\n"), spec=spec)
    assert "bad_mapping" in [e.code for e in ei.value.errors]


def test_excel_round_trip(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Account ID", "Name", "Latitude", "Longitude", "Potential", "Workload", "Owner"])
    ws.append(["a1", "Café", 40.5, -74.0, 1234.565, 10, "r1"])
    ws.append([1002, "Beta", None, None, 7, 2.5, None])
    ws.append([None, None, None, None, None, None, None])  # trailing blank row: formatting
    wb.save(tmp_path / "a.xlsx")
    book, rep = read_accounts(tmp_path / "a.xlsx", reps=REPS)
    assert rep.ok and rep.rows_in == 2
    assert list(book.ids) == ["a1", "1002"] and book.names[0] == "Café"
    assert book.potential.tolist() == [123457, 700] and book.workload.tolist() == [10.0, 2.5]
    assert np.isnan(book.x[1]) and book.y[0] == 40.5


def test_excel_problem_rows_use_spreadsheet_numbering(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "potential"])
    ws.append(["a1", 1])
    ws.append(["a2", "lots"])
    wb.save(tmp_path / "a.xlsx")
    with pytest.raises(InputValidationError) as ei:
        read_accounts(tmp_path / "a.xlsx")
    assert [(e.row, e.value) for e in ei.value.errors] == [(3, "lots")]


def test_parquet_round_trip_with_typed_columns(tmp_path):
    t = pa.table({
        "id": pa.array([1001, 1002, 1003], pa.int64()),
        "potential": pa.array([1234.565, 0.1, None], pa.float64()),
        "pipeline": pa.array([5, 0, 7], pa.int64()),
        "workload": pa.array([1, 2, 3], pa.int32()),
        "segment": pa.array(["SMB", None, "SMB"]).dictionary_encode(),
        "lat": pa.array([40.0, 91.0, 41.0]), "lon": pa.array([-74.0, -74.0, -73.0]),
    })
    pq.write_table(t, tmp_path / "a.parquet")
    with pytest.raises(InputValidationError) as ei:
        read_accounts(tmp_path / "a.parquet")
    assert [(e.row, e.column, e.code) for e in ei.value.errors] == [(3, "lat", "out_of_range")]
    book, rep = read_accounts(tmp_path / "a.parquet", on_error="skip",
                              rejects=tmp_path / "rej.csv")
    assert list(book.ids) == ["1001", "1003"]
    assert book.potential.tolist() == [123457, 0] and book.pipeline.tolist() == [500, 700]
    assert book.segment.values() == ["SMB", "SMB"] and book.workload.tolist() == [1.0, 3.0]
    assert csv_rows(tmp_path / "rej.csv")[1][:2] == ["1002", "0.1"]


def test_corrupt_parquet_and_excel_are_file_level_errors(tmp_path):
    for name in ("a.parquet", "a.xlsx"):
        (tmp_path / name).write_bytes(b"not really")
        with pytest.raises(InputValidationError):
            read_accounts(tmp_path / name)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_accounts(tmp_path / "nope.csv")


def _plan() -> Plan:
    return Plan(account_ids=np.asarray(["a1", "a2", "a3"], dtype=object),
                owner=np.asarray([1, -1, 0], dtype=np.int32), rep_ids=("r1", "r2", "r3"),
                reasons=np.asarray([Reason.BALANCE, Reason.NEW, Reason.LOCK], dtype=np.int8),
                provenance=Provenance(scenario="demo", solver="cpsat", seed=7,
                                      created_at="2026-01-01T00:00:00+00:00", note="n"))


@pytest.mark.parametrize("name", ["plan.csv", "plan.parquet"])
def test_plan_round_trip(tmp_path, name):
    plan = _plan()
    path = write_plan(plan, tmp_path / name)
    back = read_plan(path)
    assert list(back.account_ids) == ["a1", "a2", "a3"] and back.owner.tolist() == [1, -1, 0]
    assert back.rep_ids == ("r1", "r2", "r3")  # r3 kept even though... it owns a3; order kept
    assert back.reasons is not None and back.reasons.tolist() == [3, 1, 8]
    assert back.provenance == plan.provenance
    assert back.to_mapping() == plan.to_mapping()


def test_plan_csv_columns_and_sidecar(tmp_path):
    path = write_plan(_plan(), tmp_path / "plan.csv")
    rows = csv_rows(path)
    assert rows[0] == ["account_id", "rep_id", "reason"]
    assert rows[1:] == [["a1", "r2", "balance"], ["a2", "", "new"], ["a3", "r1", "lock"]]
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["rep_ids"] == ["r1", "r2", "r3"] and meta["provenance"]["seed"] == 7


def test_plan_without_sidecar_and_bad_plans(tmp_path):
    p = write(tmp_path, "p.csv", "account_id,rep_id\na1,r2\na2,\na3,r1\n")
    plan = read_plan(p)
    assert plan.rep_ids == ("r2", "r1") and plan.reasons is None
    assert plan.to_mapping() == {"a1": "r2", "a2": None, "a3": "r1"}
    bad = write(tmp_path, "b.csv", "account_id,rep_id,reason\na1,r1,magic\na1,r1,new\n")
    with pytest.raises(InputValidationError) as ei:
        read_plan(bad)
    assert sorted(e.code for e in ei.value.errors) == ["bad_reason", "duplicate_id"]


def test_load_scenario_resolves_paths_relative_to_the_spec(tmp_path):
    d = tmp_path / "sc"
    d.mkdir()
    write(d, "accounts.csv", "Acct,segment,owner\na1,SMB,r1\na2,SMB,r1\n")
    write(d, "reps.csv", "id,segments\nr1,SMB\n")
    (d / "spec.yaml").write_text("name: t\ninputs:\n  accounts: accounts.csv\n  reps: reps.csv\n"
                                 "  account_columns: {Acct: id}\n")
    scenario, rep = load_scenario(d / "spec.yaml")
    assert scenario.name == "t" and len(scenario.accounts) == 2 and scenario.reps.ids == ("r1",)
    assert rep.ok and rep.rows_in == 3
    (d / "bad.yaml").write_text("name: t\ninputs: {accounts: accounts.csv}\n")
    with pytest.raises(SpecError, match="inputs.reps"):
        load_scenario(d / "bad.yaml")


def test_spec_mapping_wins_over_a_column_with_our_name(tmp_path):
    # CRM exports often carry an internal "Id" next to the business key the planner maps
    spec = ScenarioSpec.from_dict({"inputs": {"account_columns": {"Account Number": "id"}}})
    p = write(tmp_path, "a.csv", "Id,Account Number\n001xx1,A-1\n001xx2,A-2\n")
    book, rep = read_accounts(p, spec=spec)
    assert list(book.ids) == ["A-1", "A-2"]
    assert [(w.column, w.code) for w in rep.warnings if w.code == "unknown_column"] == [
        ("Id", "unknown_column")]


def test_reps_from_excel_and_parquet(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Rep ID", "Segments", "Capacity", "Start Date", "OTE"])
    ws.append(["r1", "SMB;MM", 1200, datetime(2025, 3, 1), 150000])
    wb.save(tmp_path / "reps.xlsx")
    roster, rep = read_reps(tmp_path / "reps.xlsx")
    r = roster[0]
    assert rep.ok and r.segments == {"SMB", "MM"} and r.capacity == 1200.0
    assert str(r.start_date) == "2025-03-01" and r.ote == 15_000_000
    pq.write_table(pa.table({"id": ["r1"], "start_date": pa.array(
        [date(2025, 3, 1)], pa.date32()), "ote": [150000.5]}),
        tmp_path / "reps.parquet")
    roster, rep = read_reps(tmp_path / "reps.parquet")
    assert rep.ok and str(roster[0].start_date) == "2025-03-01" and roster[0].ote == 15_000_050


def test_import_restores_arrow_default_memory_pool(tmp_path):
    before = pa.default_memory_pool().backend_name
    read_accounts(write(tmp_path, "a.csv", "id\na1\n"))
    with pytest.raises(InputValidationError):
        read_accounts(write(tmp_path, "b.csv", "name\nx\n"))
    assert pa.default_memory_pool().backend_name == before
