"""Validate a raw reps table and build the :class:`~terraplan.domain.RepRoster`.

Rules (codes in brackets are :attr:`Problem.code`):

* ``id`` is required [``missing_required``]; repeats are errors, the first row is kept
  [``duplicate_id``].
* ``status`` is ``active`` (also the default when blank), ``departing`` or ``planned_hire``
  (``tbh``, ``to be hired`` and ``planned hire`` are accepted) [``bad_status``].
* ``target_share`` must be a finite number > 0 (blank = 1.0); ``capacity`` >= 0 (blank =
  unlimited); ``base_share`` in [0, 1] (``50%`` is accepted; blank = unknown); ``ote`` is money
  >= 0 in integer cents [``bad_number``, ``out_of_range``, ``negative``].
* ``start_date`` / ``end_date`` are ISO dates (``2025-01-31``; ``2025/01/31`` is accepted), and the
  end may not precede the start [``bad_date``].
* Home latitude/longitude must be in range and come in pairs [``out_of_range``,
  ``partial_location``].
* ``segments``, ``verticals``, ``regions`` are lists separated by ``;`` or ``|``; blank = any.

Rosters are small (hundreds to a few thousand rows), so the row checks are a plain loop; the
numeric columns still go through the shared vectorised parsers so notation rules are identical.
The pool check (:func:`check_rep_pools`) needs the accounts and runs after both files loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from terraplan.domain import (
    AccountBook,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    ScenarioSpec,
)
from terraplan.errors import Problem, Severity
from terraplan.io.columns import REP_ALIASES, REP_FIELDS, map_columns
from terraplan.io.parse import Parsed, as_text, parse_float, parse_money, split_list
from terraplan.io.report import Collector
from terraplan.io.tables import RawTable

_STATUS = {
    "active": RepStatus.ACTIVE, "departing": RepStatus.DEPARTING, "leaving": RepStatus.DEPARTING,
    "plannedhire": RepStatus.PLANNED_HIRE, "tbh": RepStatus.PLANNED_HIRE,
    "tobehired": RepStatus.PLANNED_HIRE, "hire": RepStatus.PLANNED_HIRE,
}
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


@dataclass(frozen=True, slots=True, eq=False)
class RepsOutcome:
    """Result of validating a reps table (``roster`` is None after a file-level error)."""

    roster: RepRoster | None
    collector: Collector
    rows_in: int
    rejected_idx: npt.NDArray[np.intp]
    rep_rows: dict[str, int]  # rep id -> spreadsheet row of the kept row
    rejected_ids: frozenset[str]  # ids whose every row was rejected


def _parse_date(text: str) -> date:
    m = _DATE.match(text)
    if not m:
        raise ValueError("expected a date as YYYY-MM-DD")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise ValueError(f"not a calendar date ({exc})") from None


def validate_reps(raw: RawTable, spec: ScenarioSpec | None = None) -> RepsOutcome:
    """Check every row of ``raw`` and build the roster of the good rows (never raises on data)."""
    spec = spec or ScenarioSpec()
    inputs = spec.inputs
    src = raw.source
    col = Collector(src, raw.rownum)
    n = raw.table.num_rows
    cmap = map_columns(raw.columns, REP_FIELDS, REP_ALIASES, inputs.rep_columns, source=src,
                       spec_key="inputs.rep_columns")
    for p in cmap.problems:
        (col.warnings if p.severity is Severity.WARNING else col.fatal).append(p)
    f = dict(cmap.fields)
    if "id" not in f:
        col.file_error("no rep id column: expected a column 'id' (or 'Rep ID'), or map one in "
                       "inputs.rep_columns", column="id", code="missing_column")
    latlon = inputs.coord_system is CoordSystem.LATLON
    hx, hy = ("home_lon", "home_lat") if latlon else ("home_x", "home_y")
    for g in (("home_x", "home_y") if latlon else ("home_lat", "home_lon")):
        if g in f:
            col.warn(f"column '{f[g]}' ignored: coord_system is {inputs.coord_system.value}",
                     column=f.pop(g), code="unknown_column")
    if (hx in f) != (hy in f):
        have = hx if hx in f else hy
        col.file_error(f"column '{f[have]}' ({have}) has no companion column", column=f[have],
                       code="missing_column")
    for c in cmap.unused:
        col.warn(f"unknown column '{c}' ignored", column=c, code="unknown_column")
    if col.fatal:
        return RepsOutcome(None, col, raw.rows_in, np.arange(n, dtype=np.intp), {}, frozenset())
    from terraplan.io.accounts import _ragged_problem

    for rg in raw.ragged:
        col.errors.append(_ragged_problem(rg, src))
    t = raw.table
    text = {k: as_text(t.column(v)).to_pylist() for k, v in f.items()}
    blank_col = [""] * n

    def get(field: str) -> list[str]:
        return text.get(field, blank_col)

    nums: dict[str, Parsed] = {}
    for fld in ("capacity", "target_share", hx, hy):
        if fld in f:
            nums[fld] = parse_float(t.column(f[fld]))
    if "base_share" in f:
        # "50%" is a share too: strip the percent sign and scale
        bs = get("base_share")
        pct = [s.endswith("%") for s in bs]
        parsed = parse_float(pa.chunked_array([pa.array([s.rstrip("%").strip() for s in bs],
                                                        type=pa.string())]))
        vals = np.where(np.asarray(pct, dtype=bool), parsed.values / 100.0, parsed.values)
        nums["base_share"] = Parsed(vals, parsed.blank, parsed.bad)
    ote = parse_money(t.column(f["ote"]), inputs.currency_unit) if "ote" in f else None

    ids = get("id")
    first: dict[str, int] = {}
    reps: list[Rep] = []
    rep_rows: dict[str, int] = {}
    Err = list[tuple[str, str, str, str]]  # column, value, reason, code

    def add(errs: Err, fld: str, value: str, reason: str, code: str) -> None:
        errs.append((f.get(fld, fld), value, reason, code))

    def number_at(errs: Err, fld: str, i: int) -> float | None:
        p = nums.get(fld)
        if p is None or p.blank[i]:
            return None
        if i in p.bad:
            add(errs, fld, get(fld)[i], p.bad[i], "bad_number")
            return None
        return float(p.values[i])

    for i in range(n):
        row_errors: Err = []
        rid = ids[i]
        if not rid:
            add(row_errors, "id", "", "rep id is required", "missing_required")
        elif rid in first:
            add(row_errors, "id", rid,
                f"duplicate rep id (first seen on row {raw.rownum[first[rid]]})", "duplicate_id")
            col.warn("rep id also on a later row, which is rejected; this row is kept",
                     row=int(raw.rownum[first[rid]]), column=f["id"], value=rid,
                     code="duplicate_id")
        else:
            first[rid] = i

        status_txt = get("status")[i]
        key = re.sub(r"[\s_\-]+", "", status_txt.lower())
        status = RepStatus.ACTIVE if not key else _STATUS.get(key)
        if status is None:
            add(row_errors, "status", status_txt,
                "status must be active, departing or planned_hire (tbh)", "bad_status")
        share = number_at(row_errors, "target_share", i)
        if share is not None and not share > 0:
            add(row_errors, "target_share", get("target_share")[i], "target_share must be > 0",
                "out_of_range")
        cap = number_at(row_errors, "capacity", i)
        if cap is not None and cap < 0:
            add(row_errors, "capacity", get("capacity")[i], "capacity must not be negative",
                "negative")
        base = number_at(row_errors, "base_share", i)
        if base is not None and not 0.0 <= base <= 1.0:
            add(row_errors, "base_share", get("base_share")[i], "base_share must lie in [0, 1]",
                "out_of_range")
        ote_c: int | None = None
        if ote is not None and not ote.blank[i]:
            if i in ote.bad:
                add(row_errors, "ote", get("ote")[i], ote.bad[i], "bad_number")
            elif ote.values[i] < 0:
                add(row_errors, "ote", get("ote")[i], "ote must not be negative", "negative")
            else:
                ote_c = int(ote.values[i])
        dates: dict[str, date | None] = {"start_date": None, "end_date": None}
        for fld in dates:
            v = get(fld)[i]
            if v:
                try:
                    dates[fld] = _parse_date(v[:10] if "T" in v else v)
                except ValueError as exc:
                    add(row_errors, fld, v, str(exc), "bad_date")
        s0, s1 = dates["start_date"], dates["end_date"]
        if s0 is not None and s1 is not None and s1 < s0:
            add(row_errors, "end_date", get("end_date")[i],
                f"end_date is before start_date {s0}", "bad_date")
        home = None
        lx, ly = number_at(row_errors, hx, i), number_at(row_errors, hy, i)
        if lx is not None and ly is not None:
            if latlon and abs(ly) > 90:
                add(row_errors, hy, get(hy)[i], "latitude must lie in [-90, 90]", "out_of_range")
            elif latlon and abs(lx) > 180:
                add(row_errors, hx, get(hx)[i], "longitude must lie in [-180, 180]", "out_of_range")
            else:
                home = Point(lx, ly)
        elif (lx is None) != (ly is None) and not (hx in f and i in nums[hx].bad) \
                and not (hy in f and i in nums[hy].bad):
            add(row_errors, hx if lx is None else hy, "", "home location needs both coordinates",
                "partial_location")
        if not row_errors:
            try:
                reps.append(Rep(
                    id=rid, name=get("name")[i], role=get("role")[i] or "AE",
                    segments=split_list(get("segments")[i]),
                    verticals=split_list(get("verticals")[i]),
                    regions=split_list(get("regions")[i]), home=home, capacity=cap,
                    target_share=1.0 if share is None else share,
                    status=status or RepStatus.ACTIVE, start_date=s0, end_date=s1, ote=ote_c,
                    base_share=base,
                ))
                rep_rows[rid] = int(raw.rownum[i])
            except ValueError as exc:  # the domain's own checks are the last line of defence
                add(row_errors, "id", rid, str(exc), "invalid")
        for column, value, reason, code in row_errors:
            col.error_rows([i], column, [value], reason, code)
    rejected = np.flatnonzero(col.bad).astype(np.intp)
    rejected_ids = frozenset(ids[i] for i in rejected.tolist()) - set(rep_rows)
    return RepsOutcome(RepRoster.of(reps), col, raw.rows_in, rejected, rep_rows, rejected_ids)


def check_rep_pools(book: AccountBook, roster: RepRoster, spec: ScenarioSpec | None = None,
                    rep_rows: dict[str, int] | None = None,
                    source: str | None = None) -> list[Problem]:
    """Warn about every active rep or planned hire that no account is eligible for.

    Eligibility uses the dimensions of ``spec.rules.eligibility``. The accounts are reduced to
    their distinct (segment, vertical, region) combinations first, so the check costs one
    ``np.unique`` over the book plus (reps x combinations), not (reps x accounts).
    """
    spec = spec or ScenarioSpec()
    dims = set(spec.rules.eligibility)
    if not len(book):
        return [Problem("the accounts file loaded no account: no rep has an eligible pool",
                        severity=Severity.WARNING, code="no_eligible_pool", source=source)] \
            if len(roster) else []
    cols = {"segment": book.segment, "vertical": book.vertical, "region": book.region}
    sizes = {k: len(c.categories) + 1 for k, c in cols.items()}
    key = np.zeros(len(book), dtype=np.int64)
    for k in ("segment", "vertical", "region"):
        key = key * sizes[k] + (cols[k].codes.astype(np.int64) + 1)
    combos = np.unique(key)
    parts: dict[str, npt.NDArray[np.int64]] = {}
    rest = combos.copy()
    for k in ("region", "vertical", "segment"):
        parts[k] = rest % sizes[k] - 1
        rest //= sizes[k]
    out: list[Problem] = []
    listed = {"segment": "segments", "vertical": "verticals", "region": "regions"}
    for rep in roster:
        if rep.status is RepStatus.DEPARTING:
            continue
        ok = np.ones(len(combos), dtype=bool)
        wants = []
        for k in ("segment", "vertical", "region"):
            allowed: frozenset[str] = getattr(rep, listed[k])
            if k not in dims or not allowed:
                continue
            codes = [cols[k].code_of(v) for v in allowed]
            ok &= np.isin(parts[k], [c for c in codes if c >= 0])
            wants.append(f"{listed[k]} {sorted(allowed)}")
        if not ok.any():
            out.append(Problem(
                "no account is eligible for this rep (" + ", ".join(wants) + ")",
                row=None if rep_rows is None else rep_rows.get(rep.id), column="id",
                value=rep.id, severity=Severity.WARNING, code="no_eligible_pool",
                source=source))
    return out
