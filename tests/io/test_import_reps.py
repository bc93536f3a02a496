"""Rep validation rules, the eligible-pool warning and the cross-file checks."""

from __future__ import annotations

from datetime import date

import pytest
from iofixtures import codes, write

from terraplan.domain import RepStatus, ScenarioSpec
from terraplan.errors import InputValidationError
from terraplan.io import load_data, read_reps

HEAD = "id,name,segments,home_lat,home_lon,capacity,target_share,status,ote,base_share," \
       "start_date,end_date\n"
GOOD = "r1,Ann,SMB;MM,40.7,-74,1000,1.2,active,\"$120,000\",0.5,2025-01-01,2025-12-31\n"


def fails(tmp_path, body, head=HEAD):
    with pytest.raises(InputValidationError) as ei:
        read_reps(write(tmp_path, "r.csv", head + body))
    return ei.value


def test_clean_reps_load_every_field(tmp_path):
    body = GOOD + "r2,TBH 1,ENT|GOV,,,,,TBH,,50%,,\n"
    roster, rep = read_reps(write(tmp_path, "r.csv", HEAD + body))
    assert rep.ok and len(roster) == 2
    r1, r2 = roster
    assert r1.segments == {"SMB", "MM"} and r1.capacity == 1000.0 and r1.target_share == 1.2
    assert r1.ote == 12_000_000 and r1.base_share == 0.5
    assert (r1.start_date, r1.end_date) == (date(2025, 1, 1), date(2025, 12, 31))
    assert r1.home is not None and (r1.home.x, r1.home.y) == (-74.0, 40.7)
    assert r2.status is RepStatus.PLANNED_HIRE and r2.segments == {"ENT", "GOV"}
    assert r2.capacity is None and r2.target_share == 1.0 and r2.home is None
    assert r2.base_share == 0.5 and r2.verticals == frozenset()


@pytest.mark.parametrize(("row", "column", "code"), [
    (",Ann,,,,,,,,,,\n", "id", "missing_required"),
    ("r2,B,,,,,,retired,,,,\n", "status", "bad_status"),
    ("r2,B,,,,,0,,,,,\n", "target_share", "out_of_range"),
    ("r2,B,,,,,-1,,,,,\n", "target_share", "out_of_range"),
    ("r2,B,,,,-5,,,,,,\n", "capacity", "negative"),
    ("r2,B,,,,lots,,,,,,\n", "capacity", "bad_number"),
    ("r2,B,,,,,,,,1.5,,\n", "base_share", "out_of_range"),
    ("r2,B,,,,,,,,-0.1,,\n", "base_share", "out_of_range"),
    ("r2,B,,,,,,,-100,,,\n", "ote", "negative"),
    ("r2,B,,,,,,,,,31/12/2025,\n", "start_date", "bad_date"),
    ("r2,B,,,,,,,,,2025-02-30,\n", "start_date", "bad_date"),
    ("r2,B,,,,,,,,,2025-06-01,2025-01-01\n", "end_date", "bad_date"),
    ("r2,B,,95,-74,,,,,,,\n", "home_lat", "out_of_range"),
    ("r2,B,,40,,,,,,,,\n", "home_lon", "partial_location"),
])
def test_bad_rep_fields(tmp_path, row, column, code):
    err = fails(tmp_path, GOOD + row)
    assert [(p.row, p.column, p.code) for p in err.errors] == [(3, column, code)]


def test_duplicate_rep_ids(tmp_path):
    err = fails(tmp_path, GOOD + GOOD + GOOD)
    assert codes(err.errors) == [(3, "duplicate_id"), (4, "duplicate_id")]


def test_rep_columns_are_mapped_by_the_spec_and_aliases(tmp_path):
    spec = ScenarioSpec.from_dict({"inputs": {"rep_columns": {"Employee Number": "id"}}})
    p = write(tmp_path, "r.csv", "Employee Number,Rep Name,Segment,Latitude,Longitude\n"
                                 "E1,Ann,SMB,40,-74\n")
    roster, rep = read_reps(p, spec=spec)
    assert rep.ok and roster[0].id == "E1" and roster[0].segments == {"SMB"}
    assert roster[0].home is not None and roster[0].home.y == 40.0


def test_rep_without_an_eligible_pool_is_a_warning(tmp_path):
    acc = write(tmp_path, "a.csv", "id,segment,region,current_owner\na1,SMB,West,r1\n"
                                   "a2,MM,East,r1\n")
    reps = write(tmp_path, "r.csv", "id,segments,regions,status\n"
                                    "r1,SMB,,active\n"
                                    "r2,ENT,,active\n"          # no ENT account
                                    "r3,SMB,East,active\n"      # no SMB account in East
                                    "r4,ENT,,departing\n"       # departing: no pool needed
                                    "r5,MM,East,tbh\n")
    book, roster, rep = load_data(acc, reps)
    pools = [(w.row, w.value) for w in rep.warnings if w.code == "no_eligible_pool"]
    assert pools == [(3, "r2"), (4, "r3")]
    # with region eligibility switched off, r3 finds the SMB account in the West
    spec = ScenarioSpec.from_dict({"rules": {"eligibility": ["segment"]}})
    _, _, rep = load_data(acc, reps, spec)
    assert [w.value for w in rep.warnings if w.code == "no_eligible_pool"] == ["r2"]


def test_load_data_raises_once_with_problems_of_both_files(tmp_path):
    acc = write(tmp_path, "a.csv", "id,current_owner\na1,r1\na2,r2\n")
    reps = write(tmp_path, "r.csv", "id,status\nr1,active\nr2,fired\n")
    with pytest.raises(InputValidationError) as ei:
        load_data(acc, reps)
    errs = [(p.source.split("/")[-1], p.row, p.code) for p in ei.value.errors]
    assert errs == [("a.csv", 3, "unknown_rep"), ("r.csv", 3, "bad_status")]
    assert "row there was rejected" in ei.value.errors[0].reason
    report = ei.value.report
    assert (report.accounts.rows_in, report.reps.rows_in) == (2, 2)


def test_skip_mode_writes_both_rejects_files(tmp_path):
    acc = write(tmp_path, "a.csv", "id,current_owner\na1,r1\na2,r2\n")
    reps = write(tmp_path, "r.csv", "id,status\nr1,active\nr2,fired\n")
    book, roster, rep = load_data(acc, reps, on_error="skip", rejects=tmp_path / "out/acc.csv")
    assert list(book.ids) == ["a1"] and roster.ids == ("r1",)
    assert rep.accounts.rejects_path == tmp_path / "out/acc.csv"
    assert rep.reps.rejects_path == tmp_path / "out/acc.reps.csv"
    assert rep.reps.rejects_path.read_text().splitlines()[1].startswith("r2,fired,3,")
    assert (rep.rows_in, rep.rows_loaded, rep.rows_rejected) == (4, 2, 2)
