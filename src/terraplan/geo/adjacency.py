"""Adjacency of geographic units and contiguity checks.

Three ways to get a unit graph (all return :class:`terraplan.domain.UnitGraph`):

* :func:`read_edge_list` — a CSV of ``unit_a, unit_b[, weight]`` rows;
* :func:`from_geojson` — polygons that share a boundary of positive length are neighbours
  ("rook" adjacency); the weight is the shared boundary length (shapely);
* :func:`delaunay` — an approximation from unit centroids (scipy Delaunay triangulation), for
  when no boundary data exists.

Solvers use the compressed sparse row form (:func:`csr`); contiguity is checked with scipy's
connected components on the subgraph of edges whose endpoints share a label
(:func:`components_per_label`), which is linear in the graph size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from terraplan.domain.scenario import UnitGraph
from terraplan.errors import InputValidationError, Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# -- construction -----------------------------------------------------------------------------
def normalise_edges(edges: npt.ArrayLike, n: int,
                    weights: npt.ArrayLike | None = None) -> tuple[IntArray, FloatArray]:
    """Edges as a sorted ``(m, 2)`` array with ``u < v``, self-loops dropped, duplicates merged
    (their weights summed); weights default to 1."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = (np.ones(e.shape[0]) if weights is None
         else np.asarray(weights, dtype=np.float64).reshape(-1))
    if w.shape[0] != e.shape[0]:
        raise ValueError(f"{e.shape[0]} edges but {w.shape[0]} weights")
    if e.size and (e.min() < 0 or e.max() >= n):
        raise ValueError(f"edge endpoint outside 0..{n - 1}")
    keep = e[:, 0] != e[:, 1]
    e, w = np.sort(e[keep], axis=1), w[keep]
    if e.shape[0] == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    key = e[:, 0] * n + e[:, 1]
    uniq, inv = np.unique(key, return_inverse=True)
    wsum = np.bincount(inv, weights=w, minlength=uniq.size).astype(np.float64)
    return np.stack([uniq // n, uniq % n], axis=1).astype(np.int64), wsum


def csr(n: int, edges: npt.ArrayLike,
        weights: npt.ArrayLike | None = None) -> sp.csr_matrix:
    """Symmetric CSR adjacency matrix (``indptr``/``indices`` give each unit's neighbours)."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.ones(e.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    m = sp.csr_matrix((np.concatenate([w, w]), (rows, cols)), shape=(n, n))
    m.sort_indices()
    return m


def read_edge_list(path: str | Path, unit_ids: Sequence[str] | None = None) -> UnitGraph:
    """Read ``unit_a, unit_b[, weight]`` rows (a header row is detected and skipped).

    With ``unit_ids`` the graph is over exactly those units (edges naming other units are an
    error); otherwise the units are the ids seen in the file, in order of first appearance.
    """
    p = Path(path)
    problems: list[Problem] = []
    index: dict[str, int] = {u: i for i, u in enumerate(unit_ids)} if unit_ids else {}
    fixed = unit_ids is not None
    pairs: list[tuple[int, int]] = []
    ws: list[float] = []
    with p.open(newline="", encoding="utf-8-sig") as fh:
        for rowno, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or all(c == "" for c in cells):
                continue
            if rowno == 1 and len(cells) >= 2 and cells[0].lower() in (
                    "unit_a", "a", "u", "source", "from", "unit1", "unit", "id1"):
                continue
            if len(cells) < 2:
                problems.append(Problem("expected two unit ids", row=rowno, source=p.name))
                continue
            ids = []
            for col, u in zip(("unit_a", "unit_b"), cells[:2], strict=True):
                if u not in index:
                    if fixed:
                        problems.append(Problem("unknown unit", row=rowno, column=col,
                                                value=u, source=p.name))
                        continue
                    index[u] = len(index)
                ids.append(index[u])
            if len(ids) < 2:
                continue
            w: float = 1.0
            if len(cells) >= 3 and cells[2] != "":
                try:
                    w = float(cells[2])
                except ValueError:
                    problems.append(Problem("weight is not a number", row=rowno,
                                            column="weight", value=cells[2], source=p.name))
                    continue
                if not w >= 0:
                    problems.append(Problem("weight must be >= 0", row=rowno, column="weight",
                                            value=cells[2], source=p.name))
                    continue
            pairs.append((ids[0], ids[1]))
            ws.append(w)
    if problems:
        raise InputValidationError(problems)
    names = tuple(unit_ids) if unit_ids else tuple(index)
    e, wts = normalise_edges(np.array(pairs, dtype=np.int64).reshape(-1, 2), len(names), ws)
    return UnitGraph(unit_ids=names, edges=e, weights=wts)


_POLYGONAL = ("Polygon", "MultiPolygon")


def _feature(f: object, k: int, id_property: str, shape: Callable[[Any], Any]
             ) -> tuple[Any, str | None, list[Problem]]:
    """(geometry, unit id, problems) of the ``k``-th feature; every problem of it is reported:
    not an object, properties not an object, a missing, empty or non-scalar id, a missing,
    unreadable or non-polygon geometry."""
    if not isinstance(f, Mapping):
        return None, None, [Problem("feature is not a JSON object", row=k, column="feature",
                                    value=repr(f)[:80], code="not_a_feature")]
    problems: list[Problem] = []
    props = f.get("properties")
    if props is None:
        props = {}
    uid: str | None = None
    if not isinstance(props, Mapping):  # no id to read
        problems.append(Problem("feature properties are not a JSON object", row=k,
                                column="properties", value=repr(props)[:80],
                                code="not_an_object"))
    elif id_property not in props:
        problems.append(Problem(f"feature has no property {id_property!r}", row=k,
                                column=id_property, code="missing"))
    else:
        raw = props[id_property]
        if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
            problems.append(Problem("unit id must be a text or a number", row=k,
                                    column=id_property, value=repr(raw)[:80],
                                    code="bad_unit_id"))
        elif not str(raw).strip():
            problems.append(Problem("unit id is empty", row=k, column=id_property,
                                    value=str(raw), code="missing"))
        else:
            uid = str(raw)
    gj = f.get("geometry")
    g = None
    if not gj:
        problems.append(Problem("feature has no geometry", row=k, column="geometry",
                                value=uid, code="missing_geometry"))
    else:
        gtype = gj.get("type") if isinstance(gj, Mapping) else None
        if gtype not in _POLYGONAL:
            problems.append(Problem(
                f"geometry must be a Polygon or MultiPolygon, not {gtype or type(gj).__name__}",
                row=k, column="geometry", value=uid, code="not_a_polygon"))
        else:
            try:
                g = shape(gj)
            except Exception as exc:  # shapely raises ValueError, TypeError, GEOSException...
                problems.append(Problem(f"invalid {gtype} coordinates: {exc}", row=k,
                                        column="geometry", value=uid, code="bad_geometry"))
            else:
                if g.is_empty:
                    problems.append(Problem("feature geometry is empty", row=k,
                                            column="geometry", value=uid,
                                            code="missing_geometry"))
                    g = None
    return (g, uid, []) if not problems else (None, None, problems)


def from_geojson(source: str | Path | Mapping[str, Any], id_property: str,
                 *, min_shared: float = 0.0) -> UnitGraph:
    """Rook adjacency of GeoJSON polygon features; weight = shared boundary length.

    Two units are neighbours when their boundaries intersect in a line of length
    ``> min_shared`` (corner-only contact is not adjacency). Lengths are in the coordinate units
    of the file (degrees for lon/lat). Uses a shapely STRtree, so it is ``O(n log n)``.
    """
    import shapely
    from shapely.geometry import shape

    data = (json.loads(Path(source).read_text(encoding="utf-8"))
            if isinstance(source, str | Path) else source)
    feats = data.get("features", []) if isinstance(data, Mapping) else []
    ids: list[str] = []
    geoms = []
    problems: list[Problem] = []
    for k, f in enumerate(feats if isinstance(feats, list) else [], start=1):
        g, uid, bad = _feature(f, k, id_property, shape)
        problems.extend(bad)
        if g is not None and uid is not None:
            ids.append(uid)
            geoms.append(g if g.is_valid else shapely.make_valid(g))
    if len(set(ids)) != len(ids):
        dup = sorted({u for u in ids if ids.count(u) > 1})
        problems.append(Problem(f"duplicate unit ids {dup[:5]}", column=id_property))
    if problems:
        raise InputValidationError(problems)
    arr = np.array(geoms, dtype=object)
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(arr)
    shared = shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    ok = shared > min_shared
    e, w = normalise_edges(np.stack([left[ok], right[ok]], axis=1), len(ids), shared[ok])
    return UnitGraph(unit_ids=tuple(ids), edges=e, weights=w)


def delaunay(unit_ids: Sequence[str], x: npt.ArrayLike, y: npt.ArrayLike) -> UnitGraph:
    """Approximate adjacency: edges of the Delaunay triangulation of unit centroids.

    Fewer than three units, or units all on one line, get a path in coordinate order (the
    triangulation is undefined there). Weights are 1.
    """
    from scipy.spatial import Delaunay, QhullError

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n = xa.shape[0]
    if np.any(~np.isfinite(xa)) or np.any(~np.isfinite(ya)):
        raise ValueError("delaunay adjacency needs finite coordinates for every unit")
    pts = np.unique(np.stack([xa, ya], axis=1), axis=0)
    if pts.shape[0] != n:
        raise ValueError("delaunay adjacency needs distinct unit centroids")
    pairs: npt.NDArray[np.int64]
    try:
        if n < 3:
            raise QhullError("too few points")
        tri = Delaunay(np.stack([xa, ya], axis=1))
        s = tri.simplices
        pairs = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]).astype(np.int64)
    except QhullError:
        order = np.lexsort((ya, xa))
        pairs = np.stack([order[:-1], order[1:]], axis=1).astype(np.int64)
    e, w = normalise_edges(pairs, n)
    return UnitGraph(unit_ids=tuple(unit_ids), edges=e, weights=np.ones(e.shape[0]))


# -- contiguity -------------------------------------------------------------------------------
def components_per_label(n: int, edges: npt.ArrayLike, labels: npt.ArrayLike,
                         k: int | None = None) -> IntArray:
    """Number of connected components of each label's induced subgraph (0 for an empty label).

    Only edges whose endpoints share a label are kept, then one ``connected_components`` call
    labels every piece; the pieces are counted per label.
    """
    lab = np.asarray(labels, dtype=np.int64)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    kk = int(lab.max()) + 1 if k is None else k
    same = lab[e[:, 0]] == lab[e[:, 1]]
    g = sp.coo_matrix((np.ones(int(same.sum())), (e[same, 0], e[same, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # a label's piece count = number of distinct components among its units
    pieces = np.unique(np.stack([lab, comp], axis=1), axis=0)
    return np.bincount(pieces[:, 0], minlength=kk).astype(np.int64)


def is_contiguous(n: int, edges: npt.ArrayLike, labels: npt.ArrayLike,
                  k: int | None = None) -> bool:
    """True when every non-empty label induces a connected subgraph."""
    c = components_per_label(n, edges, labels, k)
    return bool(np.all(c <= 1))


def cut_edges(edges: npt.ArrayLike, labels: npt.ArrayLike) -> IntArray:
    """Indices of edges whose endpoints carry different labels."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    lab = np.asarray(labels)
    return np.flatnonzero(lab[e[:, 0]] != lab[e[:, 1]]).astype(np.int64)


def graph_components(n: int, edges: npt.ArrayLike) -> IntArray:
    """Connected-component label of every unit of the whole graph."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    g = sp.coo_matrix((np.ones(e.shape[0]), (e[:, 0], e[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1].astype(np.int64)
