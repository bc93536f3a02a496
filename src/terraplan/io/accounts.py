"""Validate a raw accounts table and build the columnar :class:`~terraplan.domain.AccountBook`.

Rules (codes in brackets are :attr:`Problem.code`):

* ``id`` is required [``missing_required``]; a file without an id column cannot be loaded
  [``missing_column``]. Every repeat of an id is an error naming the first row; the first
  occurrence is kept and gets a warning [``duplicate_id``].
* ``potential`` and ``pipeline`` are money, parsed exactly to integer cents; ``workload`` is
  hours. A non-numeric, NaN or infinite cell is an error [``bad_number``], a negative one too
  [``negative``]. A blank potential or workload cell counts as 0 with one warning per column
  [``blank_defaulted``]; a missing potential or workload column means 0 for all, with a warning
  [``missing_column``]. A blank pipeline is 0.
* Latitude must lie in [-90, 90] and longitude in [-180, 180] [``out_of_range``]; a location with
  only one coordinate is an error [``partial_location``]; no location at all is a warning.
* ``current_owner`` and ``locked_to`` must name a rep of the reps file [``unknown_rep``].
* ``parent_id`` must name an account of the file [``parent_missing``]; accounts on a parent cycle
  are all rejected [``parent_cycle``], and so is every account whose parent is rejected, since a
  family cannot be loaded without its parent [``parent_rejected``].
* Unknown columns are ignored with a warning [``unknown_column``] unless they are named by a
  balance rule of the spec (or are ``visits`` with visit-weighted travel): those load as extra
  numeric metrics (blank = NaN, which metrics treat as 0).

All checks run on whole columns (Arrow compute / numpy); Python only visits problem rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from terraplan.domain import (
    BUILTIN_METRICS,
    AccountBook,
    Categorical,
    CoordSystem,
    RepRoster,
    ScenarioSpec,
    TravelWeighting,
)
from terraplan.errors import Problem, Severity
from terraplan.io.columns import ACCOUNT_ALIASES, ACCOUNT_FIELDS, map_columns
from terraplan.io.parse import (
    Parsed,
    _np_bool,
    as_text,
    blank_mask,
    parse_float,
    parse_money,
)
from terraplan.io.report import Collector, rows_text
from terraplan.io.tables import RaggedRow, RawTable, release_memory

log = logging.getLogger(__name__)

#: How many parent-peeling rounds run vectorised before the rest is walked in Python.
_PEEL_ROUNDS = 64


@dataclass(frozen=True, slots=True, eq=False)
class AccountsOutcome:
    """Result of validating an accounts table (``book`` is None after a file-level error)."""

    book: AccountBook | None
    collector: Collector
    rows_in: int
    loaded_idx: npt.NDArray[np.intp]  # table rows that made it into the book
    rejected_idx: npt.NDArray[np.intp]  # table rows rejected (ragged rows come on top)


def extra_metric_names(spec: ScenarioSpec) -> tuple[str, ...]:
    """Extra numeric columns the spec needs: balance metrics beyond the built-ins (and visits)."""
    names = [b.metric for b in spec.rules.balance if b.metric not in BUILTIN_METRICS]
    if spec.objective.travel_weighting is TravelWeighting.VISITS and "visits" not in names:
        names.append("visits")
    return tuple(names)


def _categorical(text: pa.ChunkedArray) -> Categorical:
    """Categorical from an Arrow text column; blank -> code -1; categories in order of first use."""
    arr = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    enc = pc.dictionary_encode(arr)
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int32)
    return Categorical.from_codes(codes, enc.dictionary.to_pylist())


def _cycle_members(par: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which nodes of the parent forest lie on a cycle.

    Repeatedly drop nodes without children (vectorised); what survives is on a cycle. For a
    deep chain the rounds would grow with depth, so after ``_PEEL_ROUNDS`` the few survivors are
    walked one by one instead.
    """
    n = len(par)
    alive = par >= 0  # a node without a parent can never be on a cycle
    for _ in range(_PEEL_ROUNDS):
        live_par = par[alive]
        kids = np.bincount(live_par, minlength=n) if len(live_par) else np.zeros(n, np.int64)
        leaves = alive & (kids == 0)
        if not leaves.any():
            return alive
        alive &= ~leaves
    # slow path: colour walk over the survivors
    on_cycle = np.zeros(n, dtype=bool)
    state = np.zeros(n, dtype=np.int8)  # 0 new, 1 on the current path, 2 done
    for start in np.flatnonzero(alive).tolist():
        path = []
        v = start
        while v >= 0 and state[v] == 0:
            state[v] = 1
            path.append(v)
            v = int(par[v])
        if v >= 0 and state[v] == 1:  # closed a loop: v .. end of path is the cycle
            on_cycle[path[path.index(v):]] = True
        state[path] = 2
    return on_cycle


def validate_accounts(raw: RawTable, spec: ScenarioSpec | None = None,
                      reps: RepRoster | None = None,
                      rejected_reps: frozenset[str] = frozenset()) -> AccountsOutcome:
    """Check every row of ``raw`` and build the book of the good rows (never raises on data).

    ``reps`` (the loaded roster) enables the owner and lock checks; ``rejected_reps`` names reps
    whose rows the reps import rejected, so the message can say why a rep is unknown.
    """
    spec = spec or ScenarioSpec()
    inputs = spec.inputs
    src = raw.source
    col = Collector(src, raw.rownum)
    n = raw.table.num_rows
    empty = np.zeros(0, dtype=np.intp)

    def fatal_outcome() -> AccountsOutcome:
        return AccountsOutcome(None, col, raw.rows_in, empty, np.arange(n, dtype=np.intp))

    extras = extra_metric_names(spec)
    cmap = map_columns(raw.columns, ACCOUNT_FIELDS + extras, ACCOUNT_ALIASES,
                       inputs.account_columns, source=src, spec_key="inputs.account_columns")
    for prob in cmap.problems:
        (col.warnings if prob.severity is Severity.WARNING else col.fatal).append(prob)
    f = dict(cmap.fields)
    if "id" not in f:
        col.file_error("no account id column: expected a column 'id' (or 'Account ID'), or map "
                       "one in inputs.account_columns", column="id", code="missing_column")
    for m in extras:
        if m not in f:
            col.file_error(f"the spec balances metric '{m}', but the accounts file has no such "
                           "column", column=m, code="missing_column")
    latlon = inputs.coord_system is CoordSystem.LATLON
    cx, cy = ("lon", "lat") if latlon else ("x", "y")
    ignored = ("x", "y") if latlon else ("lat", "lon")
    for g in ignored:
        if g in f:
            col.warn(f"column '{f[g]}' ignored: coord_system is {inputs.coord_system.value}, "
                     f"which reads coordinates from {cy}/{cx}", column=f.pop(g),
                     code="unknown_column")
    if (cx in f) != (cy in f):
        have, lack = (cx, cy) if cx in f else (cy, cx)
        col.file_error(f"column '{f[have]}' ({have}) has no companion {lack} column",
                       column=f[have], code="missing_column")
    for c in cmap.unused:
        col.warn(f"unknown column '{c}' ignored", column=c, code="unknown_column")
    if col.fatal:
        return fatal_outcome()

    for rg in raw.ragged:
        col.errors.append(_ragged_problem(rg, src))

    # -- id ----------------------------------------------------------------------------------
    ids = as_text(raw.table.column(f["id"]))
    id_blank = blank_mask(ids)
    col.error_mask(id_blank, f["id"], [""] * n, "account id is required", "missing_required")
    first_row = _first_occurrence(ids)
    dup = (first_row != np.arange(n)) & ~id_blank
    if dup.any():
        didx = np.flatnonzero(dup)
        firsts = first_row[didx]
        col.error_rows(didx, f["id"], take_ids(ids, didx),
                       [f"duplicate account id (first seen on row {r})"
                        for r in raw.rownum[firsts].tolist()], "duplicate_id")
        for fi in np.unique(firsts).tolist():
            later = raw.rownum[didx[firsts == fi]].tolist()
            col.warn(f"account id also on row(s) {rows_text(later)}; this row is kept",
                     row=int(raw.rownum[fi]), column=f["id"], value=str(ids[fi]),
                     code="duplicate_id")

    del first_row, dup
    release_memory()

    # -- numbers -------------------------------------------------------------------------------
    def number(field: str, money: bool, *, required_warning: bool,
               nonneg: bool = True) -> Parsed | None:
        if field not in f:
            if required_warning:
                col.warn(f"no {field} column: every account's {field} is 0",
                         column=field, code="missing_column")
            return None
        c = raw.table.column(f[field])
        parsed = parse_money(c, inputs.currency_unit) if money else parse_float(c)
        if parsed.bad:
            bidx = np.fromiter(parsed.bad, dtype=np.int64, count=len(parsed.bad))
            col.error_rows(bidx, f[field], take_ids(c, bidx),
                           [parsed.bad[i] for i in bidx.tolist()], "bad_number")
        if nonneg:
            neg = np.asarray(parsed.values < 0) & ~parsed.bad_mask()
            col.error_mask(neg, f[field], c, f"{field} must not be negative", "negative")
        if required_warning and parsed.blank.any():
            brows = raw.rownum[np.flatnonzero(parsed.blank)].tolist()
            col.warn(f"{len(brows)} blank {field} cell(s) counted as 0 (rows {rows_text(brows)})",
                     column=f[field], code="blank_defaulted")
        release_memory()
        return parsed

    potential = number("potential", True, required_warning=True)
    workload = number("workload", False, required_warning=True)
    pipeline = number("pipeline", True, required_warning=False)
    extra_parsed = {m: number(m, False, required_warning=False, nonneg=False) for m in extras}

    # -- location -----------------------------------------------------------------------------
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    if cx in f:
        px, py = parse_float(raw.table.column(f[cx])), parse_float(raw.table.column(f[cy]))
        for fld, p in ((cx, px), (cy, py)):
            if p.bad:
                bidx = np.fromiter(p.bad, dtype=np.int64, count=len(p.bad))
                col.error_rows(bidx, f[fld], take_ids(raw.table.column(f[fld]), bidx),
                               [p.bad[i] for i in bidx.tolist()], "bad_number")
        okx, oky = ~px.blank & ~px.bad_mask(), ~py.blank & ~py.bad_mask()
        if latlon:
            with np.errstate(invalid="ignore"):
                col.error_mask(oky & (np.abs(py.values) > 90), f[cy], raw.table.column(f[cy]),
                               "latitude must lie in [-90, 90]", "out_of_range")
                col.error_mask(okx & (np.abs(px.values) > 180), f[cx], raw.table.column(f[cx]),
                               "longitude must lie in [-180, 180]", "out_of_range")
        col.error_mask(px.blank & oky, f[cx], [""] * n, f"{cy} given without {cx}",
                       "partial_location")
        col.error_mask(py.blank & okx, f[cy], [""] * n, f"{cx} given without {cy}",
                       "partial_location")
        xs = np.where(okx & oky, px.values, np.nan)
        ys = np.where(okx & oky, py.values, np.nan)
        nolo = px.blank & py.blank
        if nolo.any():
            col.warn(f"{int(nolo.sum())} account(s) have no location (travel is 0 for them)",
                     column=f[cx], code="no_location")
        del px, py, okx, oky, nolo
    else:
        col.warn(f"no location columns ({cy}/{cx}): travel cannot be measured",
                 code="missing_column")

    # -- owners and locks ----------------------------------------------------------------------
    texts: dict[str, pa.ChunkedArray] = {}
    for fld in ("name", "country", "region", "postal_code", "segment", "vertical",
                "current_owner", "locked_to", "parent_id"):
        if fld in f:
            texts[fld] = as_text(raw.table.column(f[fld]))
    if reps is not None:
        known = pa.array(list(reps.ids), type=pa.string())
        for fld in ("current_owner", "locked_to"):
            if fld not in texts:
                continue
            x = texts[fld]
            unknown = ~_np_bool(pc.is_in(x, value_set=known)) & ~blank_mask(x)
            if unknown.any():
                uidx = np.flatnonzero(unknown)
                vals = take_ids(x, uidx)
                what = "current owner" if fld == "current_owner" else "locked-to rep"
                col.error_rows(uidx, f[fld], vals,
                               [f"{what} is not a rep of the reps file"
                                + (" (its row there was rejected)" if v in rejected_reps else "")
                                for v in vals], "unknown_rep")

    # -- parents -------------------------------------------------------------------------------
    par = np.full(n, -1, dtype=np.int64)
    if "parent_id" in texts:
        ptxt = texts["parent_id"]
        pblank = blank_mask(ptxt)
        par = _lookup_rows(ids, ptxt, pblank)
        missing = (par < 0) & ~pblank
        col.error_mask(missing, f["parent_id"], ptxt, "parent account is not in the file",
                       "parent_missing")
        par[pblank | id_blank[np.maximum(par, 0)]] = -1
        cyc = _cycle_members(par)
        if cyc.any():
            cidx = np.flatnonzero(cyc)
            col.error_rows(cidx, f["parent_id"], take_ids(ptxt, cidx),
                           "account is on a parent cycle (it is its own ancestor)",
                           "parent_cycle")
        # a family cannot load without its parent: reject descendants of rejected rows
        has = par >= 0
        while True:
            orphan = has & col.bad[np.maximum(par, 0)] & ~col.bad
            if not orphan.any():
                break
            oidx = np.flatnonzero(orphan)
            col.error_rows(oidx, f["parent_id"], take_ids(ptxt, oidx),
                           [f"parent (row {r}) was rejected"
                            for r in raw.rownum[par[oidx]].tolist()], "parent_rejected")
        del ptxt
        release_memory()

    # -- build the book of good rows -----------------------------------------------------------
    keep = np.flatnonzero(~col.bad)
    rejected = np.flatnonzero(col.bad)
    if len(rejected):
        log.info("%s: %d of %d rows rejected", src, len(rejected), raw.rows_in)
    all_kept = len(keep) == n
    keep_arr = pa.array(keep, type=pa.int64())
    # Only the rejected rows of the raw table are still needed (rejects file); free the rest
    # before the book's Python strings are made, which keeps the peak near file size x 3.
    rows_in = raw.rows_in
    raw.shrink_to(rejected)
    release_memory()

    def kept_rows(x: pa.ChunkedArray) -> pa.ChunkedArray:
        return x if all_kept else x.take(keep_arr)

    def cat(fld: str) -> Categorical:
        if fld not in texts:
            return Categorical(np.full(len(keep), -1, dtype=np.int32), ())
        return _categorical(kept_rows(texts.pop(fld)))

    def objs(x: pa.ChunkedArray | None) -> npt.NDArray[np.object_]:
        if x is None:
            return np.full(len(keep), "", dtype=object)
        return np.asarray(kept_rows(x).to_numpy(zero_copy_only=False), dtype=object)

    remap = np.full(n, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    kpar = par[keep]
    kpar = np.where(kpar >= 0, remap[np.maximum(kpar, 0)], -1)

    def ints(p: Parsed | None) -> npt.NDArray[np.int64]:
        if p is None:
            return np.zeros(len(keep), dtype=np.int64)
        return np.where(p.blank, 0, p.values)[keep].astype(np.int64)

    def floats(p: Parsed | None, blank_value: float) -> npt.NDArray[np.float64]:
        if p is None:
            return np.full(len(keep), blank_value, dtype=np.float64)
        return np.where(p.blank, blank_value, p.values)[keep].astype(np.float64)

    # Numbers first, then drop every column-sized temporary before the strings are made: the
    # book's Python strings are the largest single allocation of the import.
    numeric = {
        "x": xs[keep], "y": ys[keep], "potential": ints(potential),
        "workload": floats(workload, 0.0), "pipeline": ints(pipeline), "parent": kpar,
    }
    extra = {m: floats(p, np.nan) for m, p in extra_parsed.items()}
    del potential, workload, pipeline, extra_parsed, xs, ys, par, remap, id_blank
    texts.pop("parent_id", None)
    release_memory()
    cats = {fld: cat(fld) for fld in ("country", "region", "postal_code", "segment", "vertical",
                                      "current_owner", "locked_to")}
    release_memory()
    id_objs = objs(ids)
    del ids
    name_objs = objs(texts.pop("name", None))
    book = AccountBook(
        ids=id_objs, names=name_objs, x=numeric["x"], y=numeric["y"],
        country=cats["country"], region=cats["region"], postal_code=cats["postal_code"],
        segment=cats["segment"], vertical=cats["vertical"],
        potential=numeric["potential"], workload=numeric["workload"],
        current_owner=cats["current_owner"], parent=numeric["parent"],
        locked_to=cats["locked_to"], pipeline=numeric["pipeline"], extra=extra,
        coord_system=inputs.coord_system,
    )
    release_memory()
    return AccountsOutcome(book, col, rows_in, keep.astype(np.intp), rejected.astype(np.intp))


def _first_occurrence(ids: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Row index of the first row carrying each row's id.

    A stable sort puts equal ids next to each other in row order, so each run of equal ids
    starts at its first row. This costs a sort of the ids instead of a hash table over them:
    on a million rows it holds far less memory, which is the import's binding limit.
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.asarray(pc.sort_indices(ids).to_numpy(zero_copy_only=False), dtype=np.int64)
    srt = ids.take(pa.array(order))
    same = np.zeros(n, dtype=bool)
    if n > 1:
        same[1:] = _np_bool(pc.equal(srt.slice(1), srt.slice(0, n - 1)))
    del srt
    run_start = np.where(same, 0, np.arange(n))
    np.maximum.accumulate(run_start, out=run_start)
    first = np.empty(n, dtype=np.int64)
    first[order] = order[run_start]
    return first


def _lookup_rows(ids: pa.ChunkedArray, refs: pa.ChunkedArray,
                 blank: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Row of the (first) account whose id equals each ``refs`` cell; -1 when blank or absent.

    Few accounts name a parent, so the hash table is built over the distinct referenced ids
    and the ids column is probed against it, not the other way round.
    """
    out = np.full(len(refs), -1, dtype=np.int64)
    filled = np.flatnonzero(~blank)
    if not len(filled):
        return out
    wanted = refs.take(pa.array(filled, type=pa.int64()))
    uniq = pc.unique(wanted)
    if isinstance(uniq, pa.ChunkedArray):
        uniq = uniq.combine_chunks()
    hit = pc.index_in(ids, value_set=uniq)
    hit_np = np.asarray(pc.fill_null(hit, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    rows = np.flatnonzero(hit_np >= 0)
    row_of = np.full(len(uniq), -1, dtype=np.int64)
    if len(rows):
        u, first = np.unique(hit_np[rows], return_index=True)
        row_of[u] = rows[first]
    which = np.asarray(pc.index_in(wanted, value_set=uniq).to_numpy(zero_copy_only=False),
                       dtype=np.int64)
    out[filled] = row_of[which]
    return out


def take_ids(c: pa.ChunkedArray, idx: npt.NDArray[np.int64]) -> list[object]:
    """Values of rows ``idx`` of an Arrow column, for problem messages."""
    return list(c.take(pa.array(idx, type=pa.int64())).to_pylist())


def _ragged_problem(rg: RaggedRow, source: str) -> Problem:
    text = rg.text if len(rg.text) <= 120 else rg.text[:117] + "..."
    return Problem(f"expected {rg.expected} fields, got {rg.actual}", row=rg.row, value=text,
                   code="bad_row", source=source)
