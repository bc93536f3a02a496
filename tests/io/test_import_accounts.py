"""One test per account validation rule, on CSVs small enough to check by eye."""

from __future__ import annotations

import numpy as np
import pytest
from iofixtures import REPS, codes, write

from terraplan.domain import CoordSystem, ScenarioSpec
from terraplan.errors import InputValidationError, Severity
from terraplan.io import read_accounts

HEAD = "id,name,lat,lon,segment,potential,workload,current_owner,parent_id,locked_to\n"


def load(tmp_path, body, head=HEAD, **kw):
    return read_accounts(write(tmp_path, "a.csv", head + body), reps=REPS, **kw)


def fails(tmp_path, body, head=HEAD, **kw):
    with pytest.raises(InputValidationError) as ei:
        load(tmp_path, body, head, **kw)
    return ei.value


def test_clean_file_loads_every_field(tmp_path):
    book, rep = load(tmp_path, "a1,Acme,40.5,-74.25,SMB,1234.56,12.5,r1,,\n"
                               "a2,Beta,41,-73,MM,\"$2,000\",3,r2,a1,r2\n")
    assert rep.ok and (rep.rows_in, rep.rows_loaded, rep.rows_rejected) == (2, 2, 0)
    a1, a2 = book[0], book[1]
    assert a1.potential == 123456 and a2.potential == 200000
    assert a1.location is not None and (a1.location.x, a1.location.y) == (-74.25, 40.5)
    assert a2.parent_id == "a1" and a2.locked_to == "r2" and a1.current_owner == "r1"
    assert a1.workload == 12.5 and a2.segment == "MM" and a1.name == "Acme"


def test_missing_id_is_an_error_with_the_spreadsheet_row(tmp_path):
    err = fails(tmp_path, "a1,A,40,-74,SMB,1,1,r1,,\n,B,40,-74,SMB,1,1,r1,,\n")
    assert codes(err.errors) == [(3, "missing_required")]
    assert err.errors[0].column == "id"


def test_file_without_id_column_is_a_file_level_error(tmp_path):
    err = fails(tmp_path, "A,40,-74\n", head="name,lat,lon\n")
    assert codes(err.errors) == [(None, "missing_column")]


def test_duplicate_ids_report_every_occurrence_and_skip_keeps_the_first(tmp_path):
    body = "a1,A,40,-74,SMB,1,1,r1,,\na1,B,40,-74,SMB,2,1,r1,,\na1,C,40,-74,SMB,3,1,r1,,\n"
    err = fails(tmp_path, body)
    assert codes(err.errors) == [(3, "duplicate_id"), (4, "duplicate_id")]
    assert "first seen on row 2" in err.errors[0].reason
    warn = [p for p in err.problems if p.severity is Severity.WARNING]
    assert [(w.row, w.code) for w in warn] == [(2, "duplicate_id")]
    book, rep = load(tmp_path, body, on_error="skip", rejects=tmp_path / "rej.csv")
    assert list(book.ids) == ["a1"] and book[0].name == "A" and rep.rows_rejected == 2


@pytest.mark.parametrize(("cell", "reason"), [
    ("abc", "not a number"), ("NaN", "NaN is not a number"), ("inf", "infinite value"),
    ("-5", "potential must not be negative"), ("1.2.3", "not a number"),
])
def test_bad_potential(tmp_path, cell, reason):
    err = fails(tmp_path, f"a1,A,40,-74,SMB,{cell},1,r1,,\n")
    assert [(p.row, p.column, p.value, p.reason) for p in err.errors] == [
        (2, "potential", cell, reason)]


@pytest.mark.parametrize("cell", ["x", "nan", "-inf", "-0.5", "1e999"])
def test_bad_workload(tmp_path, cell):
    err = fails(tmp_path, f"a1,A,40,-74,SMB,1,{cell},r1,,\n")
    assert [(p.row, p.column) for p in err.errors] == [(2, "workload")]


def test_blank_potential_and_workload_count_as_zero_with_a_warning(tmp_path):
    book, rep = load(tmp_path, "a1,A,40,-74,SMB,,,r1,,\n")
    assert book.potential.tolist() == [0] and book.workload.tolist() == [0.0]
    assert sorted(w.code for w in rep.warnings) == ["blank_defaulted", "blank_defaulted"]


def test_absent_potential_and_workload_columns_default_to_zero_with_warnings(tmp_path):
    book, rep = load(tmp_path, "a1,A\n", head="id,name\n")
    assert book.potential.tolist() == [0] and book.workload.tolist() == [0.0]
    assert {(w.column, w.code) for w in rep.warnings} >= {
        ("potential", "missing_column"), ("workload", "missing_column")}


@pytest.mark.parametrize(("lat", "lon", "column"), [
    ("90.5", "0", "lat"), ("-91", "0", "lat"), ("0", "180.01", "lon"), ("0", "-200", "lon"),
])
def test_latitude_longitude_out_of_range(tmp_path, lat, lon, column):
    err = fails(tmp_path, f"a1,A,{lat},{lon},SMB,1,1,r1,,\n")
    assert [(p.row, p.column, p.code) for p in err.errors] == [(2, column, "out_of_range")]


def test_half_a_location_is_an_error_and_none_is_a_warning(tmp_path):
    err = fails(tmp_path, "a1,A,40,,SMB,1,1,r1,,\n")
    assert codes(err.errors) == [(2, "partial_location")]
    book, rep = load(tmp_path, "a1,A,,,SMB,1,1,r1,,\n")
    assert np.isnan(book.x[0]) and [w.code for w in rep.warnings] == ["no_location"]


def test_planar_coordinates_are_not_range_checked(tmp_path):
    spec = ScenarioSpec.from_dict({"inputs": {"coord_system": "planar"}})
    book, _ = load(tmp_path, "a1,500,-900\n", head="id,x,y\n", spec=spec)
    assert book.coord_system is CoordSystem.PLANAR and (book.x[0], book.y[0]) == (500.0, -900.0)


def test_unknown_current_owner_and_locked_to(tmp_path):
    err = fails(tmp_path, "a1,A,40,-74,SMB,1,1,r9,,\na2,B,40,-74,SMB,1,1,r1,,r7\n")
    assert [(p.row, p.column, p.value, p.code) for p in err.errors] == [
        (2, "current_owner", "r9", "unknown_rep"), (3, "locked_to", "r7", "unknown_rep")]


def test_missing_parent(tmp_path):
    err = fails(tmp_path, "a1,A,40,-74,SMB,1,1,r1,zz,\n")
    assert [(p.row, p.value, p.code) for p in err.errors] == [(2, "zz", "parent_missing")]


def test_parent_cycle_rejects_the_cycle_and_its_descendants(tmp_path):
    body = ("a1,A,40,-74,SMB,1,1,r1,a3,\n"   # row 2: a1 -> a3 -> a2 -> a1 is a cycle
            "a2,B,40,-74,SMB,1,1,r1,a1,\n"   # row 3
            "a3,C,40,-74,SMB,1,1,r1,a2,\n"   # row 4
            "a4,D,40,-74,SMB,1,1,r1,a3,\n"   # row 5: child of the cycle
            "a5,E,40,-74,SMB,1,1,r1,a4,\n"   # row 6: grandchild
            "a6,F,40,-74,SMB,1,1,r1,a6,\n"   # row 7: its own parent
            "a7,G,40,-74,SMB,1,1,r1,,\n")    # row 8: fine
    err = fails(tmp_path, body)
    assert codes(err.errors) == [(2, "parent_cycle"), (3, "parent_cycle"), (4, "parent_cycle"),
                                 (5, "parent_rejected"), (6, "parent_rejected"),
                                 (7, "parent_cycle")]
    book, rep = load(tmp_path, body, on_error="skip", rejects=tmp_path / "r.csv")
    assert list(book.ids) == ["a7"] and (rep.rows_loaded, rep.rows_rejected) == (1, 6)


def test_child_of_a_row_rejected_for_another_reason_is_rejected_too(tmp_path):
    body = "a1,A,40,-74,SMB,-1,1,r1,,\na2,B,40,-74,SMB,1,1,r1,a1,\na3,C,40,-74,SMB,1,1,r1,,\n"
    book, rep = load(tmp_path, body, on_error="skip", rejects=tmp_path / "r.csv")
    assert list(book.ids) == ["a3"]
    assert codes(rep.problems) == [(2, "negative"), (3, "parent_rejected")]


def test_deep_parent_chains_are_not_cycles(tmp_path):
    n = 150  # longer than the vectorised peeling rounds
    body = "".join(f"a{i},N,40,-74,SMB,1,1,r1,{'' if i == 0 else f'a{i - 1}'},\n"
                   for i in range(n))
    book, rep = load(tmp_path, body)
    assert rep.ok and len(book) == n and book.family_root().tolist() == [0] * n


def test_long_cycle_found_by_the_slow_path(tmp_path):
    n = 100
    body = "".join(f"a{i},N,40,-74,SMB,1,1,r1,a{(i + 1) % n},\n" for i in range(n))
    err = fails(tmp_path, body)
    assert len(err.errors) == n and {p.code for p in err.errors} == {"parent_cycle"}


def test_unknown_column_is_a_warning_and_ignored(tmp_path):
    book, rep = load(tmp_path, "a1,7\n", head="id,Favourite Colour\n")
    assert rep.ok and len(book) == 1 and not book.extra
    assert [(w.column, w.code) for w in rep.warnings if w.code == "unknown_column"] == [
        ("Favourite Colour", "unknown_column")]


def test_unknown_numeric_column_named_by_a_balance_rule_becomes_an_extra_metric(tmp_path):
    spec = ScenarioSpec.from_dict({"rules": {"balance": [{"metric": "visits"}]}})
    book, rep = load(tmp_path, "a1,4\na2,\n", head="id,Visits\n", spec=spec)
    assert book.extra["visits"][0] == 4.0 and np.isnan(book.extra["visits"][1])
    assert book.metric("visits").tolist() == [4.0, 0.0]
    err = fails(tmp_path, "a1,many\n", head="id,visits\n", spec=spec)
    assert codes(err.errors) == [(2, "bad_number")]


def test_balance_metric_missing_from_the_file_is_a_file_level_error(tmp_path):
    spec = ScenarioSpec.from_dict({"rules": {"balance": [{"metric": "visits"}]}})
    err = fails(tmp_path, "a1\n", head="id\n", spec=spec)
    assert codes(err.errors) == [(None, "missing_column")]


def test_every_problem_is_collected_not_only_the_first(tmp_path):
    body = "".join(f"a{i},A,95,-74,SMB,x,-1,r9,,\n" for i in range(60))
    err = fails(tmp_path, body)
    assert len(err.errors) == 60 * 4
    assert "... and 190 more" in str(err)  # 50 shown, the rest counted


def test_money_in_cents_and_european_notation(tmp_path):
    spec = ScenarioSpec.from_dict({"inputs": {"currency_unit": "cents"}})
    book, _ = load(tmp_path, "a1,12345\n", head="id,potential\n", spec=spec)
    assert book.potential.tolist() == [12345]
    book, _ = load(tmp_path, 'a1,"1.234,50"\na2,"€ 12,5"\na3,(7.25)\n', head="id,pipeline\n",
                   on_error="skip", rejects=tmp_path / "r.csv")
    assert book.pipeline.tolist()[:2] == [123450, 1250]
    assert "a3" not in list(book.ids)  # (7.25) is negative


@pytest.mark.parametrize(("cell", "cents"), [
    ("0.005", 1), ("0.004", 0), ("1,234,567.891", 123456789), ("$ 1 000", 100000),
    ("1e3", 100000), ("12", 1200), ("  7.1 ", 710), ("USD 3", 300), ("0.125", 13),
])
def test_money_is_parsed_exactly_to_cents(tmp_path, cell, cents):
    book, _ = load(tmp_path, f'a1,"{cell}"\n', head="id,potential\n")
    assert book.potential.tolist() == [cents]


def test_clean_money_column_fast_path_keeps_blank_and_negative_rules(tmp_path):
    body = "a1,10.5\na2,\na3,-3\n"
    book, rep = load(tmp_path, body, head="id,potential\n", on_error="skip",
                     rejects=tmp_path / "r.csv")
    assert book.potential.tolist() == [1050, 0]
    assert [(p.row, p.code) for p in rep.problems] == [(4, "negative")]
    assert [w.code for w in rep.warnings if w.column == "potential"] == ["blank_defaulted"]


def test_money_too_large_or_with_cent_fractions(tmp_path):
    err = fails(tmp_path, "a1,12345678901234567\n", head="id,potential\n")
    assert [(p.row, p.reason) for p in err.errors] == [(2, "amount too large")]
    spec = ScenarioSpec.from_dict({"inputs": {"currency_unit": "cents"}})
    book, _ = load(tmp_path, "a1,123.5\na2,123.4\n", head="id,potential\n", spec=spec)
    assert book.potential.tolist() == [124, 123]  # fractions of a cent round half up


def test_cells_are_trimmed(tmp_path):
    book, rep = load(tmp_path, ' a1 , Acme ,  SMB ,r1 \n', head="id,name,segment,current_owner\n")
    assert rep.ok and list(book.ids) == ["a1"] and book[0].segment == "SMB"
    assert book[0].name == "Acme" and book[0].current_owner == "r1"
