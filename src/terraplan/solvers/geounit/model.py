"""Labeling model with single-commodity-flow contiguity (Validi & Buchanan's "labeling-SCF").

Variables: ``x_id`` (unit i in district d), ``r_id`` (i is the root of d), ``z_e`` (edge e is
cut), ``f_uv >= 0`` flow on each arc (both directions of every edge). With ``M = n - k + 1`` (the
largest possible district)::

    sum_d x_id = 1                         (assign)
    L <= sum_i p_i x_id <= U               (balance)
    sum_i r_id = 1,  r_id <= x_id          (one root per district, inside it)
    z_e >= x_ud - x_vd,  z_e >= x_vd - x_ud
    in(i) - out(i) >= 1 - M sum_d r_id     (every non-root unit absorbs one unit of flow)
    in(i) <= M (1 - sum_d r_id)            (roots absorb nothing)
    f_uv + f_vu <= M (1 - z_e)             (flow only inside a district)

Flow reaching every non-root unit from its district's root along uncut edges proves that each
district is connected. Symmetry: the root of a district is its lowest-index unit
(``r_id + x_jd <= 1`` for ``j < i``; aggregated as ``sum_{j<i} x_jd <= i (1 - r_id)`` for large
n), roots are increasing in ``d``, and ``x_id = 0`` for ``d > i``. Each district labelling then has
exactly one encoding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.solvers.carve.linear import LinearModel
from terraplan.solvers.geounit.problem import DistrictingProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Up to this many units the disaggregated lowest-index-root rows are used.
DISAGGREGATE_MAX_N = 120


@dataclass(frozen=True, slots=True)
class DistrictModel:
    model: LinearModel
    x: IntArray  # (n, k) column indices
    r: IntArray  # (n, k)
    z: IntArray  # (m,)
    f: IntArray  # (2m,) arcs: first m are u->v, next m are v->u
    big_m: int


def build(problem: DistrictingProblem, *, weights: FloatArray | None = None,
          lower: FloatArray | None = None, upper: FloatArray | None = None) -> DistrictModel:
    """The model of this module. ``lower``/``upper`` give per-district bands (used by the
    recursive-bisection heuristic); districts are then no longer interchangeable, so only the
    lowest-index-root rule of the symmetry handling is kept."""
    n, k, m = problem.n, problem.k, problem.m
    e = problem.edges
    lo_d = np.full(k, problem.lower) if lower is None else np.asarray(lower, dtype=np.float64)
    hi_d = np.full(k, problem.upper) if upper is None else np.asarray(upper, dtype=np.float64)
    interchangeable = bool(np.all(lo_d == lo_d[0]) and np.all(hi_d == hi_d[0]))
    big_m = n - k + 1
    lm = LinearModel()
    allowed = (np.arange(k)[None, :] <= np.arange(n)[:, None]).astype(np.float64)
    if not interchangeable:
        allowed = np.ones((n, k))
    x = lm.add_vars(n * k, hi=allowed.ravel()).reshape(n, k)
    r = lm.add_vars(n * k, hi=allowed.ravel()).reshape(n, k)
    w = problem.objective_weights if weights is None else weights
    z = lm.add_vars(m, cost=w, integer=False)
    f = lm.add_vars(2 * m, hi=float(big_m), integer=False)
    ii = np.arange(n)
    dd = np.arange(k)
    # assign
    lm.add_rows(n, np.repeat(ii, k), x.ravel(), 1.0, 1.0, 1.0)
    # balance
    lm.add_rows(k, np.tile(dd, n), x.ravel(), np.repeat(problem.population, k), lo_d, hi_d)
    # one root per district, inside it
    lm.add_rows(k, np.tile(dd, n), r.ravel(), 1.0, 1.0, 1.0)
    nk = n * k
    lm.add_rows(nk, np.concatenate([np.arange(nk), np.arange(nk)]),
                np.concatenate([r.ravel(), x.ravel()]),
                np.concatenate([np.ones(nk), -np.ones(nk)]), -np.inf, 0.0)
    # cut edges: x_ud - x_vd - z_e <= 0 and x_vd - x_ud - z_e <= 0
    if m:
        mk = m * k
        rows = np.arange(mk)
        xu = x[e[:, 0]].ravel()
        xv = x[e[:, 1]].ravel()
        ze = np.repeat(z, k)
        for a, b in ((xu, xv), (xv, xu)):
            lm.add_rows(mk, np.concatenate([rows, rows, rows]), np.concatenate([a, b, ze]),
                        np.concatenate([np.ones(mk), -np.ones(mk), -np.ones(mk)]),
                        -np.inf, 0.0)
    # flow: arcs a = (tail -> head)
    tail = np.concatenate([e[:, 0], e[:, 1]])
    head = np.concatenate([e[:, 1], e[:, 0]])
    # in - out + M sum_d r_id >= 1
    lm.add_rows(n, np.concatenate([head, tail, np.repeat(ii, k)]),
                np.concatenate([f, f, r.ravel()]),
                np.concatenate([np.ones(2 * m), -np.ones(2 * m), np.full(nk, float(big_m))]),
                1.0, np.inf)
    # in + M sum_d r_id <= M
    lm.add_rows(n, np.concatenate([head, np.repeat(ii, k)]), np.concatenate([f, r.ravel()]),
                np.concatenate([np.ones(2 * m), np.full(nk, float(big_m))]), -np.inf,
                float(big_m))
    # f_uv + f_vu + M z_e <= M
    if m:
        me = np.arange(m)
        lm.add_rows(m, np.concatenate([me, me, me]), np.concatenate([f[:m], f[m:], z]),
                    np.concatenate([np.ones(2 * m), np.full(m, float(big_m))]), -np.inf,
                    float(big_m))
    # symmetry: root is the lowest-index unit of its district
    if n <= DISAGGREGATE_MAX_N:
        ia, ja = np.nonzero(np.tri(n, n, -1, dtype=bool))  # j < i
        cnt = ia.size
        for d in range(k):
            sel = ia >= d  # r_id fixed to 0 for i < d
            c = int(sel.sum())
            if c == 0:
                continue
            rr = np.arange(c)
            lm.add_rows(c, np.concatenate([rr, rr]),
                        np.concatenate([r[ia[sel], d], x[ja[sel], d]]), 1.0, -np.inf, 1.0)
        del cnt
    else:
        for d in range(k):
            # sum_{j<i} x_jd + i r_id <= i  (row per i)
            ia, ja = np.nonzero(np.tri(n, n, -1, dtype=bool))
            lm.add_rows(n, np.concatenate([ia, ii]), np.concatenate([x[ja, d], r[:, d]]),
                        np.concatenate([np.ones(ia.size), ii.astype(np.float64)]), -np.inf,
                        ii.astype(np.float64))
    # roots increasing in d: sum_i i r_id + 1 <= sum_i i r_i,d+1
    if k > 1 and interchangeable:
        rows = np.repeat(np.arange(k - 1), 2 * n)
        cols = np.concatenate([np.concatenate([r[:, d], r[:, d + 1]]) for d in range(k - 1)])
        vals = np.tile(np.concatenate([ii, -ii]).astype(np.float64), k - 1)
        lm.add_rows(k - 1, rows, cols, vals, -np.inf, -1.0)
    return DistrictModel(lm, x, r, z, f, big_m)


def canonical(labels: npt.ArrayLike, k: int) -> IntArray:
    """Relabel districts in order of their lowest-index unit (the model's symmetry rule)."""
    lab = np.asarray(labels, dtype=np.int64)
    order: list[int] = []
    for v in lab.tolist():
        if v not in order:
            order.append(v)
    mapping = np.full(max(k, int(lab.max()) + 1), -1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping[lab]


def start_vector(dm: DistrictModel, problem: DistrictingProblem,
                 labels: npt.ArrayLike) -> FloatArray:
    """Full column vector of a contiguous plan: roots, cut flags and BFS-tree flows."""
    lab = canonical(labels, problem.k)
    n, m = problem.n, problem.m
    v = np.zeros(dm.model.num_cols)
    v[dm.x[np.arange(n), lab]] = 1.0
    e = problem.edges
    cut = lab[e[:, 0]] != lab[e[:, 1]]
    v[dm.z[cut]] = 1.0
    adjm = problem.adjacency
    arc_of = {}
    for a in range(m):
        arc_of[(int(e[a, 0]), int(e[a, 1]))] = a
        arc_of[(int(e[a, 1]), int(e[a, 0]))] = m + a
    for d in range(problem.k):
        members = np.flatnonzero(lab == d)
        if members.size == 0:
            continue
        root = int(members[0])
        v[dm.r[root, d]] = 1.0
        parent = {root: -1}
        order = []
        q = deque([root])
        while q:
            u = q.popleft()
            order.append(u)
            for w in adjm.indices[adjm.indptr[u]:adjm.indptr[u + 1]].tolist():
                if lab[w] == d and w not in parent:
                    parent[w] = u
                    q.append(w)
        sub = {u: 1 for u in order}
        for u in reversed(order):
            p = parent[u]
            if p >= 0:
                sub[p] += sub[u]
                v[dm.f[arc_of[(p, u)]]] = float(sub[u])
    return v


def decode(dm: DistrictModel, values: FloatArray) -> IntArray:
    return np.argmax(values[dm.x], axis=1).astype(np.int64)
