"""Write a :class:`~terraplan.domain.Plan` to CSV or Parquet and read it back.

Columns: ``account_id``, ``rep_id`` (empty when unassigned), ``reason`` (the lower-case
:class:`~terraplan.domain.Reason` name, empty when the plan has no reasons). Provenance and the
plan's rep order (which also keeps reps that own no account) travel with the data: in the
Parquet schema metadata, and for CSV in a sidecar ``<file>.meta.json``. A plan file without
provenance (written by hand or by another tool) reads fine; its reps are ordered by first use.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from terraplan.domain import Plan, Provenance, Reason
from terraplan.errors import InputValidationError, Problem
from terraplan.io.parse import as_text
from terraplan.io.tables import PARQUET_SUFFIXES, read_table

_META_KEY = b"terraplan.plan"
_REASON_NAMES = [r.name.lower() for r in Reason]


def sidecar_path(path: str | Path) -> Path:
    """The metadata file next to a CSV plan: ``plan.csv`` -> ``plan.csv.meta.json``."""
    p = Path(path)
    return p.with_name(p.name + ".meta.json")


def _meta(plan: Plan) -> dict[str, Any]:
    return {"format": "terraplan.plan/1", "rep_ids": list(plan.rep_ids),
            "provenance": asdict(plan.provenance), "has_reasons": plan.reasons is not None}


def plan_table(plan: Plan) -> pa.Table:
    """The plan as an Arrow table (``account_id``, ``rep_id``, ``reason``)."""
    reps = pa.array([*plan.rep_ids, None], type=pa.string())
    # owner -1 indexes the trailing null: unassigned accounts get an empty rep_id
    rep_col = reps.take(pa.array(np.where(plan.owner < 0, len(plan.rep_ids), plan.owner)))
    if plan.reasons is None:
        reason_col = pa.nulls(len(plan), type=pa.string())
    else:
        names = pa.array(_REASON_NAMES, type=pa.string())
        reason_col = names.take(pa.array(plan.reasons.astype(np.int64)))
    return pa.table({
        "account_id": pa.array(plan.account_ids.tolist(), type=pa.string()),
        "rep_id": rep_col, "reason": reason_col,
    })


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` as CSV, or Parquet when the suffix is ``.parquet``/``.pq``.

    Returns the path written. For CSV the sidecar ``<file>.meta.json`` is written too.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    table = plan_table(plan)
    meta = json.dumps(_meta(plan)).encode()
    if p.suffix.lower() in PARQUET_SUFFIXES:
        pq.write_table(table.replace_schema_metadata({_META_KEY: meta}), p)
    else:
        pacsv.write_csv(table, p)
        sidecar_path(p).write_bytes(meta)
    return p


def read_plan(path: str | Path) -> Plan:
    """Read a plan written by :func:`write_plan` (or any table with ``account_id``, ``rep_id``).

    Raises
    ------
    InputValidationError
        Missing columns, blank or duplicate account ids, unknown reasons, or reps in the data
        that the metadata does not list.
    """
    p = Path(path)
    src = str(p)
    meta: dict[str, Any] = {}
    if p.suffix.lower() in PARQUET_SUFFIXES:
        md = pq.read_schema(p).metadata or {}
        if _META_KEY in md:
            meta = json.loads(md[_META_KEY])
    elif sidecar_path(p).exists():
        meta = json.loads(sidecar_path(p).read_text(encoding="utf-8"))
    raw = read_table(p)
    t = raw.table
    problems: list[Problem] = []
    for c in ("account_id", "rep_id"):
        if c not in t.column_names:
            problems.append(Problem(f"a plan needs a '{c}' column", column=c,
                                    code="missing_column", source=src))
    if problems:
        raise InputValidationError(problems, rows_in=raw.rows_in)
    for rg in raw.ragged:
        problems.append(Problem(f"expected {rg.expected} fields, got {rg.actual}", row=rg.row,
                                code="bad_row", source=src))
    acc = as_text(t.column("account_id"))
    rep = as_text(t.column("rep_id"))
    acc_py = acc.to_pylist()
    seen: dict[str, int] = {}
    for i, a in enumerate(acc_py):
        row = int(raw.rownum[i])
        if not a:
            problems.append(Problem("account_id is required", row=row, column="account_id",
                                    code="missing_required", source=src))
        elif a in seen:
            problems.append(Problem(f"duplicate account id (first seen on row {seen[a]})",
                                    row=row, column="account_id", value=a,
                                    code="duplicate_id", source=src))
        else:
            seen[a] = row
    rep_ids: list[str] = list(meta.get("rep_ids", []))
    known = set(rep_ids)
    rep_py = rep.to_pylist()
    for i, r in enumerate(rep_py):
        if r and r not in known:
            if meta:
                problems.append(Problem("rep is not listed in the plan's metadata",
                                        row=int(raw.rownum[i]), column="rep_id", value=r,
                                        code="unknown_rep", source=src))
            else:
                known.add(r)
                rep_ids.append(r)
    reasons = None
    if "reason" in t.column_names:
        rtxt = as_text(t.column("reason"))
        has = ~np.asarray(pc.equal(rtxt, "").to_numpy(zero_copy_only=False), dtype=bool)
        if has.any() or meta.get("has_reasons"):
            lookup = {name: code for code, name in enumerate(_REASON_NAMES)}
            codes = np.zeros(len(acc_py), dtype=np.int8)
            for i, r in enumerate(rtxt.to_pylist()):
                code = lookup.get(r.lower())
                if code is None:
                    problems.append(Problem(
                        f"unknown reason; expected one of {', '.join(_REASON_NAMES)}",
                        row=int(raw.rownum[i]), column="reason", value=r, code="bad_reason",
                        source=src))
                else:
                    codes[i] = code
            reasons = codes
    if problems:
        raise InputValidationError(problems, rows_in=raw.rows_in)
    idx = {r: j for j, r in enumerate(rep_ids)}
    owner = np.fromiter((idx[r] if r else -1 for r in rep_py), dtype=np.int32, count=len(rep_py))
    prov = Provenance(**meta["provenance"]) if "provenance" in meta else Provenance(
        created_at="")
    return Plan(account_ids=np.asarray(acc_py, dtype=object), owner=owner,
                rep_ids=tuple(rep_ids), reasons=reasons, provenance=prov)
