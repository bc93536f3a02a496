"""Property tests: malformed CSVs either load or raise InputValidationError — nothing else — and
rows in == rows loaded + rows rejected, always."""

from __future__ import annotations

import csv
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.errors import InputValidationError
from terraplan.io import load_data, read_accounts

ACCOUNT_COLS = ["id", "name", "lat", "lon", "segment", "region", "potential", "workload",
                "current_owner", "parent_id", "locked_to", "pipeline", "Account ID", "junk"]
REP_COLS = ["id", "segments", "regions", "home_lat", "home_lon", "capacity", "target_share",
            "status", "ote", "base_share", "start_date", "end_date", "junk"]

GARBAGE = st.one_of(
    st.sampled_from(["", " ", "0", "-1", "1.5", "NaN", "inf", "-inf", "1e400", "$1,234.50",
                     "1.234,5", "(12)", "abc", "91", "-181", "a1", "a2", "a3", "r1", "r2",
                     "SMB", "SMB;MM", "tbh", "active", "fired", "2025-01-01", "2025-13-45",
                     "50%", "é", "Zoë", "\u00a0", "1 000", "0x10", "--5", ".", "-"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]


@st.composite
def csv_files(draw, columns):
    cols = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=8, unique=True))
    n = draw(st.integers(0, 12))
    rows = []
    for _ in range(n):
        width = len(cols) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))  # some ragged rows
        rows.append([draw(GARBAGE) for _ in range(max(width, 0))])
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    w.writerow(cols)
    w.writerows(rows)
    enc = draw(st.sampled_from(ENCODINGS))
    return buf.getvalue().encode(enc, errors="replace")


def _check(report, book_len=None):
    assert report.rows_in == report.rows_loaded + report.rows_rejected
    if book_len is not None:
        assert book_len == report.rows_loaded
    for p in report.parts:
        assert p.rows_in == p.rows_loaded + p.rows_rejected


@settings(max_examples=60, deadline=None)
@given(data=csv_files(ACCOUNT_COLS), skip=st.booleans())
def test_accounts_either_load_or_raise_the_typed_error(tmp_path_factory, data, skip):
    d = tmp_path_factory.mktemp("prop")
    p = d / "a.csv"
    p.write_bytes(data)
    try:
        book, report = read_accounts(p, on_error="skip" if skip else "raise",
                                     rejects=d / "rej.csv")
    except InputValidationError as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            _check(report)
            assert report.problems  # a raise always has a reason
        return
    _check(report, len(book))
    assert len(set(book.ids.tolist())) == len(book)  # ids unique after loading
    assert np.all(book.potential >= 0) and np.all(book.workload >= 0)
    assert np.all(np.isfinite(book.workload))
    fam = book.family_root()  # terminates: the loaded parent graph is acyclic
    assert len(fam) == len(book)
    if skip and report.rows_rejected:
        assert report.rejects_path is not None and report.rejects_path.exists()


@settings(max_examples=40, deadline=None)
@given(acc=csv_files(ACCOUNT_COLS), reps=csv_files(REP_COLS), skip=st.booleans())
def test_accounts_and_reps_together(tmp_path_factory, acc, reps, skip):
    d = tmp_path_factory.mktemp("prop2")
    (d / "a.csv").write_bytes(acc)
    (d / "r.csv").write_bytes(reps)
    try:
        book, roster, report = load_data(d / "a.csv", d / "r.csv",
                                         on_error="skip" if skip else "raise",
                                         rejects=d / "rej.csv")
    except InputValidationError as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            _check(report)
        return
    _check(report)
    assert len(book) == report.accounts.rows_loaded and len(roster) == report.reps.rows_loaded
    owners = {o for o in book.current_owner.categories}
    assert owners <= set(roster.ids)  # every loaded owner is a loaded rep


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=1, max_size=15),
       parents=st.data())
def test_duplicates_and_parent_cycles_keep_the_invariant(tmp_path_factory, ids, parents):
    par = [parents.draw(st.sampled_from(["", "a", "b", "c", "d", "zz"])) for _ in ids]
    text = "id,parent_id\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, par, strict=True))
    d = tmp_path_factory.mktemp("prop3")
    (d / "a.csv").write_text(text)
    try:
        book, report = read_accounts(d / "a.csv", on_error="skip", rejects=d / "rej.csv")
    except InputValidationError:
        return
    _check(report, len(book))
    assert report.rows_in == len(ids)
    # the kept rows are exactly the first occurrence of each non-blank id, minus rejections
    assert set(book.ids.tolist()) <= {i for i in ids if i}
    # parents point inside the book and form no cycle
    assert np.all(book.parent < len(book))
    root = book.family_root()
    assert np.all(book.parent[root] == -1)
