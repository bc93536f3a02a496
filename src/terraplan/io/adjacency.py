"""Read the unit adjacency of a geo-unit scenario (``inputs.adjacency``) and validate it.

Two file kinds, told apart by the suffix:

* **Edge list** (CSV, Parquet or Excel, read like every other input by
  :func:`terraplan.io.tables.read_table`): one row per pair of neighbouring units, columns
  ``unit_a``, ``unit_b`` and optionally ``shared_perimeter`` (aliases in :data:`A_COLUMNS`,
  :data:`B_COLUMNS`, :data:`PERIMETER_COLUMNS`; matched case-insensitively). Every row is checked
  and *every* problem is reported with its spreadsheet row, column and value: a missing unit id,
  a self-loop, an edge listed twice (in either direction; the problem names the first row), a
  perimeter that is not a finite number ``>= 0``. The graph's units are the accounts' units (the
  values of ``geo_unit.unit_column``, in their order), then the ids only the edge list names: like
  GeoJSON polygons without accounts they are zero-population units that may connect districts (a
  warning names them). A unit no edge touches is isolated (a warning: it can only be a district of
  its own).
* **GeoJSON** (``.geojson`` / ``.json``): unit polygons; two units are neighbours when their
  borders share a line of positive length, weighted by its length
  (:func:`terraplan.geo.adjacency.from_geojson`, shapely). The unit id is the feature property
  named like the unit column (``postal_code``), else ``unit_id``, ``unit`` or ``id``. Every unit of
  the accounts must have a polygon (each missing one is reported); polygons without accounts stay
  in the graph as zero-population units that may connect districts. Every bad feature is
  reported with its 1-based index (``row``), field and value: not an object, properties not an
  object, a missing, empty or non-scalar id, a missing, unreadable or non-polygon geometry.

The value ``delaunay`` (or no ``inputs.adjacency``) means no file: solver and evaluator then
approximate adjacency by a Delaunay triangulation of the unit centroids.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terraplan.domain import AccountBook, Mode, ScenarioSpec
from terraplan.domain.scenario import UnitGraph
from terraplan.errors import InputValidationError, Problem, Severity
from terraplan.geo.adjacency import from_geojson, normalise_edges
from terraplan.io.tables import read_table

__all__ = ["A_COLUMNS", "B_COLUMNS", "DELAUNAY", "GEOJSON_SUFFIXES", "PERIMETER_COLUMNS",
           "load_adjacency", "read_adjacency"]

#: ``inputs.adjacency`` value asking for the centroid triangulation explicitly.
DELAUNAY = "delaunay"
GEOJSON_SUFFIXES = (".geojson", ".json")
A_COLUMNS = ("unit_a", "a", "from", "source", "unit1", "u")
B_COLUMNS = ("unit_b", "b", "to", "target", "unit2", "v")
PERIMETER_COLUMNS = ("shared_perimeter", "perimeter", "shared_length", "length", "weight")
_ID_PROPERTIES = ("unit_id", "unit", "id")


def _find(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # a Parquet/Excel number column of ids: 101.0 is unit "101"
    s = str(v).strip()
    return s or None


def _read_edge_list(path: Path, unit_ids: Sequence[str]
                    ) -> tuple[UnitGraph, list[Problem]]:
    raw = read_table(path)
    src = raw.source
    cols = raw.columns
    ca, cb = _find(cols, A_COLUMNS), _find(cols, B_COLUMNS)
    cw = _find(cols, PERIMETER_COLUMNS)
    missing = [want for want, c in (("unit_a", ca), ("unit_b", cb)) if c is None]
    if missing:
        raise InputValidationError([Problem(
            f"the edge list needs columns {', '.join(missing)} (found {cols})", column=m,
            code="missing_column", source=src) for m in missing], rows_in=raw.rows_in)
    assert ca is not None and cb is not None
    index = {u: i for i, u in enumerate(unit_ids)}
    names = list(unit_ids)  # the accounts' units, then ids only the edge list names
    a_vals = raw.table.column(ca).to_pylist()
    b_vals = raw.table.column(cb).to_pylist()
    w_vals = raw.table.column(cw).to_pylist() if cw is not None else None
    problems: list[Problem] = [
        Problem(f"expected {rg.expected} fields, got {rg.actual}", row=rg.row, value=rg.text,
                code="ragged_row", source=src) for rg in raw.ragged]
    seen: dict[tuple[int, int], int] = {}
    pairs: list[tuple[int, int]] = []
    weights: list[float] = []
    for i in range(raw.table.num_rows):
        row = int(raw.rownum[i])
        ids: list[int] = []
        for col, v in ((ca, a_vals[i]), (cb, b_vals[i])):
            u = _text(v)
            if u is None:
                problems.append(Problem("missing unit id", row=row, column=col, value="",
                                        code="missing", source=src))
            else:
                if u not in index:  # no account: a zero-population unit, like a GeoJSON polygon
                    index[u] = len(names)
                    names.append(u)
                ids.append(index[u])
        w = 1.0
        w_ok = True
        if w_vals is not None and cw is not None:
            cell = w_vals[i]
            try:
                w = float(cell.strip() if isinstance(cell, str) else cell)
            except (TypeError, ValueError):
                problems.append(Problem("shared perimeter is not a number", row=row, column=cw,
                                        value="" if cell is None else str(cell),
                                        code="not_a_number", source=src))
                w_ok = False
            else:
                if not (math.isfinite(w) and w >= 0):
                    problems.append(Problem("shared perimeter must be a finite number >= 0",
                                            row=row, column=cw, value=str(cell),
                                            code="out_of_range", source=src))
                    w_ok = False
        if len(ids) < 2:
            continue
        if ids[0] == ids[1]:
            problems.append(Problem("self-loop: a unit cannot border itself", row=row,
                                    column=cb, value=names[ids[0]], code="self_loop",
                                    source=src))
            continue
        key = (min(ids), max(ids))
        first = seen.get(key)
        if first is not None:
            problems.append(Problem(f"duplicate edge (first listed in row {first})", row=row,
                                    column=f"{ca},{cb}",
                                    value=f"{names[ids[0]]}-{names[ids[1]]}",
                                    code="duplicate_edge", source=src))
            continue
        seen[key] = row
        if w_ok:
            pairs.append(key)
            weights.append(w)
    if any(p.severity is Severity.ERROR for p in problems):
        problems.sort(key=lambda p: p.row or 0)
        raise InputValidationError(problems, rows_in=raw.rows_in)
    edges, wts = normalise_edges(np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
                                 len(names), weights)
    warnings: list[Problem] = []
    extra = names[len(unit_ids):]
    if extra:
        warnings.append(Problem(
            f"{len(extra)} unit(s) of the edge list have no accounts, e.g. {extra[:5]}; kept as "
            "zero-population units that may connect districts", severity=Severity.WARNING,
            code="unit_without_accounts", source=src))
    return UnitGraph(unit_ids=tuple(names), edges=edges, weights=wts), warnings


def _read_geojson(path: Path, unit_ids: Sequence[str], unit_column: str
                  ) -> tuple[UnitGraph, list[Problem]]:
    src = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputValidationError([Problem(f"cannot read GeoJSON: {exc}", code="unreadable",
                                            source=src)], rows_in=0) from None
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list) or not feats:
        raise InputValidationError([Problem("not a GeoJSON FeatureCollection with features",
                                            code="unreadable", source=src)], rows_in=0)
    # the id property is found on the first feature that has properties; every feature is then
    # checked on its own (terraplan.geo.adjacency.from_geojson reports each bad one)
    props: dict[str, Any] = next((f["properties"] for f in feats if isinstance(f, dict)
                                  and isinstance(f.get("properties"), dict)
                                  and f["properties"]), {})
    prop = next((c for c in (unit_column, *_ID_PROPERTIES) if c in props), None)
    if prop is None:
        raise InputValidationError([Problem(
            f"features need a unit id property ({unit_column!r}, "
            f"{', '.join(repr(c) for c in _ID_PROPERTIES)}); found {sorted(props)}",
            code="missing_column", source=src)] + [
            Problem("feature is not a JSON object", row=k, column="feature",
                    value=repr(f)[:80], code="not_a_feature", source=src)
            for k, f in enumerate(feats, start=1) if not isinstance(f, dict)],
            rows_in=len(feats))
    # ids as text, like the accounts' unit column (a numeric property 101 is unit "101")
    for f in feats:
        p = f.get("properties") if isinstance(f, dict) else None
        if isinstance(p, dict) and isinstance(p.get(prop), str | int | float) \
                and not isinstance(p[prop], bool):
            p[prop] = _text(p[prop]) or ""
    try:
        g = from_geojson(data, prop)
    except InputValidationError as exc:
        raise InputValidationError([
            Problem(p.reason, row=p.row, column=p.column or prop, value=p.value, code=p.code,
                    source=src) for p in exc.problems], rows_in=len(feats)) from None
    have = set(g.unit_ids)
    absent = [u for u in unit_ids if u not in have]
    if absent:
        raise InputValidationError([
            Problem("no polygon for this unit of the accounts", column=prop, value=u,
                    code="unknown_unit", source=src) for u in absent], rows_in=len(feats))
    return g, []


def read_adjacency(path: str | Path, unit_ids: Sequence[str], *,
                   unit_column: str = "postal_code") -> tuple[UnitGraph, tuple[Problem, ...]]:
    """Read and validate an adjacency file over the accounts' units.

    Parameters
    ----------
    path : an edge list (CSV, Parquet, Excel) or GeoJSON polygons (``.geojson`` / ``.json``).
    unit_ids : the units of the accounts (values of the unit column), in the graph's order.
    unit_column : the spec's ``geo_unit.unit_column`` (GeoJSON id property tried first).

    Returns
    -------
    (UnitGraph, warnings)
        Edges ``u < v`` with shared-perimeter weights (1 when the edge list has none); warnings
        name units no edge touches.

    Raises
    ------
    InputValidationError
        Every problem of the file (see the module docstring), with row, column and value; a
        missing file is a problem too (code ``missing_file``).
    """
    p = Path(path)
    if not p.is_file():
        raise InputValidationError([Problem(
            "adjacency file not found (inputs.adjacency is relative to the spec's folder)",
            value=str(p), code="missing_file", source=str(p))], rows_in=0)
    if p.suffix.lower() in GEOJSON_SUFFIXES:
        g, warnings = _read_geojson(p, unit_ids, unit_column)
    else:
        g, warnings = _read_edge_list(p, unit_ids)
    touched = np.zeros(len(g.unit_ids), dtype=bool)
    touched[g.edges.reshape(-1)] = True
    wanted = set(unit_ids)
    lonely = [u for u, t in zip(g.unit_ids, touched, strict=True) if not t and u in wanted]
    if lonely and len(g.unit_ids) > 1:
        warnings.append(Problem(
            f"{len(lonely)} unit(s) have no neighbour in the adjacency, e.g. {lonely[:5]}; each "
            "can only be a district of its own", severity=Severity.WARNING, code="isolated_unit",
            source=str(p)))
    return g, tuple(warnings)


def load_adjacency(spec: ScenarioSpec, base: str | Path, book: AccountBook
                   ) -> tuple[UnitGraph | None, tuple[Problem, ...]]:
    """The unit graph ``spec.inputs.adjacency`` names (relative to ``base``), or ``None``.

    ``None`` when the spec is not ``mode: geo_unit``, names no adjacency or says ``delaunay``
    (the solver and the evaluator then triangulate unit centroids).
    """
    name = spec.inputs.adjacency
    if spec.mode is not Mode.GEO_UNIT or name is None or name.strip().lower() == DELAUNAY:
        return None, ()
    path = spec.resolve(base, name)
    assert path is not None
    column = spec.geo_unit.unit_column if spec.geo_unit is not None else "postal_code"
    units = [str(u) for u in getattr(book, column).categories]
    return read_adjacency(path, units, unit_column=column)
