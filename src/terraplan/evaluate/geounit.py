"""Geo-unit mode checks: units split between reps, territory contiguity and compactness.

Only used when ``spec.mode`` is ``geo_unit``. Each account belongs to the unit named by its
``spec.geo_unit.unit_column`` value (postal code, region or country). The unit graph is
``scenario.units`` when supplied — the spec's ``inputs.adjacency`` (edge list or GeoJSON) as
loaded by :func:`terraplan.io.load_scenario` or stored with the scenario by the workspace, the
very graph the districting model was built on (every unit-column value of the book must be one
of its units); otherwise it is rebuilt here, independently of the solvers, as the Delaunay
triangulation of the unit centroids (mean account location), falling back to a path in
coordinate order when fewer than three units or collinear centroids make the triangulation
undefined. Edge weights are the graph's (shared perimeter) or 1.

A unit's *owner* is the rep of all its assigned accounts; a unit whose accounts sit with two or
more reps is *split* (a hard ``unit_split`` violation); a unit with no assigned account (for
example a supplied unit without accounts) has no owner and is ignored.

* **Compactness** ``K``: Σ weight over *cut* edges — edges whose two units both have accounts
  and differ in owner (an edge touching a split unit is cut). ``cut_edges`` counts each edge as
  1, ``cut_perimeter`` uses the edge weights.
* **Contiguity** (``rules.contiguity``): each rep's units form one connected piece, where units
  without accounts may bridge any territory (their owner is unknown to an account-level plan,
  so the evaluator gives the plan the benefit of the doubt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from terraplan.domain import Mode, Scenario
from terraplan.errors import SpecError
from terraplan.geo.adjacency import normalise_edges

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Unit label of a unit whose accounts sit with two or more reps.
SPLIT = -2


@dataclass(frozen=True, slots=True, eq=False)
class UnitGraph:
    """Units of a geo-unit scenario as the evaluator sees them."""

    unit_ids: tuple[str, ...]
    account_unit: IntArray  # (n,) unit index of each account, -1 when it has no unit value
    edges: IntArray  # (m, 2), u < v
    weights: FloatArray  # (m,)
    measure: str  # cut_edges | cut_perimeter

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)


def unit_graph(scenario: Scenario) -> UnitGraph | None:
    """The unit graph of a geo-unit scenario, ``None`` in the other modes.

    Raises :class:`~terraplan.errors.SpecError` when a supplied graph lacks a unit value used by
    the book.
    """
    spec = scenario.spec
    if spec.mode is not Mode.GEO_UNIT:
        return None
    column = spec.geo_unit.unit_column if spec.geo_unit is not None else "postal_code"
    book = scenario.accounts
    cat = getattr(book, column)
    measure = spec.objective.compactness_measure
    if scenario.units is not None:
        g = scenario.units
        index = {u: i for i, u in enumerate(g.unit_ids)}
        missing = [c for c in cat.categories if c not in index]
        if missing:
            raise SpecError(f"{len(missing)} {column} value(s) of the book are not units of the "
                             f"supplied unit graph, e.g. {missing[:5]}")
        lut = np.asarray([index[c] for c in cat.categories] + [-1], dtype=np.int64)
        # one normalisation for solver and evaluator: sorted u < v, self-loops dropped, duplicate
        # edges merged with their weights summed — weights stay aligned with their edges
        edges, weights = normalise_edges(g.edges, len(g.unit_ids), g.weights)
        return UnitGraph(tuple(g.unit_ids), lut[cat.codes], edges, weights, measure)
    account_unit = cat.codes.astype(np.int64)
    n_units = len(cat.categories)
    has = account_unit >= 0
    cnt = np.bincount(account_unit[has], minlength=n_units).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.bincount(account_unit[has], weights=np.nan_to_num(book.x[has]),
                         minlength=n_units) / cnt
        cy = np.bincount(account_unit[has], weights=np.nan_to_num(book.y[has]),
                         minlength=n_units) / cnt
    edges = _delaunay_edges(cx, cy)
    return UnitGraph(tuple(cat.categories), account_unit, edges, np.ones(edges.shape[0]),
                     measure)


def _delaunay_edges(x: FloatArray, y: FloatArray) -> IntArray:
    from scipy.spatial import Delaunay, QhullError

    n = x.shape[0]
    try:
        if n < 3:
            raise QhullError("too few points")
        s = Delaunay(np.stack([x, y], axis=1)).simplices
        pairs = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]).astype(np.int64)
    except QhullError:
        order = np.lexsort((y, x))
        pairs = np.stack([order[:-1], order[1:]], axis=1).astype(np.int64)
    return normalise_edges(pairs, n)[0]


def unit_owners(g: UnitGraph, owner: npt.NDArray[np.int32]) -> IntArray:
    """Owner of each unit: a rep index, -1 without assigned accounts, ``SPLIT`` when split."""
    a = (owner >= 0) & (g.account_unit >= 0)
    u, r = g.account_unit[a], owner[a].astype(np.int64)
    lo = np.full(g.n_units, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(g.n_units, -1, dtype=np.int64)
    np.minimum.at(lo, u, r)
    np.maximum.at(hi, u, r)
    return np.where(hi < 0, -1, np.where(lo == hi, hi, SPLIT))


def cut_mask(g: UnitGraph, labels: IntArray) -> npt.NDArray[np.bool_]:
    lu, lv = labels[g.edges[:, 0]], labels[g.edges[:, 1]]
    return (lu != -1) & (lv != -1) & ((lu != lv) | (lu == SPLIT))


def compactness(g: UnitGraph, labels: IntArray) -> float:
    """``K``: cut edges (count) or cut perimeter (Σ weights), see the module docstring."""
    cut = cut_mask(g, labels)
    if g.measure == "cut_perimeter":
        return float(g.weights[cut].sum())
    return float(np.count_nonzero(cut))


def _components(n: int, edges: IntArray) -> IntArray:
    m = sp.coo_matrix((np.ones(edges.shape[0], dtype=np.int8), (edges[:, 0], edges[:, 1])),
                      shape=(n, n))
    return connected_components(m.tocsr(), directed=False)[1].astype(np.int64)


def territory_pieces(g: UnitGraph, labels: IntArray, n_reps: int) -> IntArray:
    """Number of connected pieces of each rep's territory (0 when it owns no unit).

    One ``connected_components`` pass over the edges inside territories; a rep in several
    pieces is re-checked with the unowned units added as possible bridges.
    """
    e = g.edges
    owned = labels >= 0
    if not np.any(owned):
        return np.zeros(n_reps, dtype=np.int64)
    same = (labels[e[:, 0]] == labels[e[:, 1]]) & (labels[e[:, 0]] >= 0)
    comp = _components(g.n_units, e[same])
    pairs = np.unique(np.stack([labels[owned], comp[owned]], axis=1), axis=0)
    pieces = np.bincount(pairs[:, 0], minlength=n_reps).astype(np.int64)
    free = labels == -1
    if np.any(free):
        for r in np.flatnonzero(pieces > 1):
            keep = (labels == r) | free
            sub = e[keep[e[:, 0]] & keep[e[:, 1]]]
            c = _components(g.n_units, sub)
            pieces[r] = np.unique(c[labels == r]).size
    return pieces
