"""Primal heuristic for geo-unit mode: spanning-tree partitions, contiguity-keeping search,
exact re-splits of district pairs. Its plan is the warm start (hint) of the exact model.

1. **Recursive spanning-tree partition** (as GerryChain's ``recursive_tree_part``): draw a random
   spanning tree of the part still to split (Kruskal on random edge weights), root it, and look
   for a tree edge whose removal splits off a subtree holding a whole number ``a`` of districts
   (population in ``[a L, a U]``, the rest in ``[(kk-a) L, (kk-a) U]``). Both sides are
   connected by construction. A part without such an edge in ``draws`` trees restarts the whole
   partition (a part can be impossible to split); when ``tree_tries`` restarts fail, the tree
   edge closest to a balanced split is taken and the search below repairs the balance.
2. **Simulated annealing over single-unit boundary flips**: a unit moves to a neighbouring
   district only when its own district stays connected without it (BFS inside the donor
   district) and non-empty, so every visited plan is contiguous. The energy is the compactness
   objective plus a penalty on population outside ``[L, U]``; the penalty weight grows while
   the walk stays out of the band. The best plan inside the band is kept.
3. **Pair descent**: the union of two adjacent districts is re-split by the exact two-district
   labeling-SCF model (:mod:`~terraplan.solvers.geounit.model`), warm-started by the current
   split, until no pair improves. Single flips rarely keep a ±0.5 % band; an exact re-split
   moves many units at once.

Steps 1-2 are driven by ``random.Random(seed)`` and fixed move counts and step 3 by the caller's
(deterministic-time) solver, so a seed gives one plan; the wall-clock ``deadline`` only cuts
the work short.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from terraplan.solvers.base import CancelToken
from terraplan.solvers.carve.linear import LinearModel
from terraplan.solvers.geounit import model as _model
from terraplan.solvers.geounit.problem import DistrictingProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
log = logging.getLogger(__name__)

#: Annealing: initial penalty per band width outside ``[L, U]`` and the temperature range, all
#: in units of the mean edge cost (1 cut edge for ``measure="cut_edges"``).
PENALTY0, T_START, T_END = 2.0, 1.0, 0.02

#: ``(model, start column vector, seconds left) -> column values or None``
PairSolve = Callable[[LinearModel, FloatArray, float], FloatArray | None]


class _Graph:
    """Plain-Python adjacency (lists are faster than numpy for one-unit moves)."""

    def __init__(self, problem: DistrictingProblem) -> None:
        n = problem.n
        self.n = n
        self.k = problem.k
        self.pop = problem.population.astype(float).tolist()
        self.lower = float(problem.lower)
        self.upper = float(problem.upper)
        w = problem.objective_weights
        nb: list[list[int]] = [[] for _ in range(n)]
        nw: list[list[float]] = [[] for _ in range(n)]
        for (u, v), c in zip(problem.edges.tolist(), w.tolist(), strict=True):
            nb[u].append(v)
            nb[v].append(u)
            nw[u].append(c)
            nw[v].append(c)
        self.nbrs = nb
        self.nbw = nw
        self.edges = [tuple(e) for e in problem.edges.tolist()]
        self.weight = w.tolist()
        self.unit_cost = float(np.mean(w)) if w.size else 1.0


def tree_partition(problem: DistrictingProblem, rng: random.Random, *,
                   draws: int = 200, strict: bool = False) -> IntArray | None:
    """A contiguous ``k``-partition by recursive spanning-tree splits (see the module notes).

    Every part is connected; the parts are within the band when a balanced tree edge was found
    in ``draws`` trees at every split, else as close to it as the best tree edge allowed.
    """
    labels = np.full(problem.n, -1, dtype=np.int64)
    adjm = sp.csr_matrix(problem.adjacency)
    stack: list[tuple[IntArray, int]] = [(np.arange(problem.n, dtype=np.int64), problem.k)]
    nxt = 0
    while stack:
        units, kk = stack.pop()
        if kk == 1 or units.size == 1:
            labels[units] = nxt
            nxt += 1
            continue
        side = _split(problem, adjm, units, kk, rng, draws, strict)
        if side is None and strict:
            return None
        if side is None:  # disconnected part: keep it whole (precheck reports such graphs)
            labels[units] = nxt
            nxt += 1
            continue
        part, a = side
        stack.append((units[~part], kk - a))
        stack.append((units[part], a))
    return labels


def _split(problem: DistrictingProblem, adjm: sp.csr_matrix, units: IntArray, kk: int,
           rng: random.Random, draws: int, strict: bool = False
           ) -> tuple[npt.NDArray[np.bool_], int] | None:
    sub = adjm[units][:, units].tocoo()
    keep = sub.row < sub.col
    r, c = sub.row[keep], sub.col[keep]
    size = units.size
    pop = problem.population[units]
    total = float(pop.sum())
    lo, hi = problem.lower, problem.upper
    best: tuple[float, npt.NDArray[np.bool_], int] | None = None
    for _ in range(max(1, draws)):
        wts = np.array([rng.random() + 1e-3 for _ in range(r.size)])
        tree = minimum_spanning_tree(sp.csr_matrix((wts, (r, c)), shape=(size, size)))
        root = rng.randrange(size)
        order, parent = breadth_first_order(tree, root, directed=False)
        if order.size < size:
            return None
        below = pop.copy()
        for v in order[:0:-1].tolist():
            below[parent[v]] += below[v]
        good: list[tuple[int, int]] = []
        for v in order[1:].tolist():
            s = float(below[v])
            for a in (range(1, kk) if kk > 1 else ()):
                miss = (max(0.0, a * lo - s, s - a * hi)
                        + max(0.0, (kk - a) * lo - (total - s), (total - s) - (kk - a) * hi))
                if miss == 0.0:
                    good.append((v, a))
                elif best is None or miss < best[0]:
                    best = (miss, _subtree(order, parent, v, size), a)
        if good:
            v, a = good[rng.randrange(len(good))]
            return _subtree(order, parent, v, size), a
    if strict:
        return None
    assert best is not None
    return best[1], best[2]


def _subtree(order: IntArray, parent: IntArray, v: int, size: int) -> npt.NDArray[np.bool_]:
    inside = np.zeros(size, dtype=bool)
    inside[v] = True
    for u in order.tolist():  # BFS order: a parent is decided before its children
        p = int(parent[u])
        if p >= 0 and inside[p]:
            inside[u] = True
    return inside


def anneal(problem: DistrictingProblem, labels: IntArray, rng: random.Random, *,
           moves: int, late: Callable[[], bool] = lambda: False,
           graph: _Graph | None = None) -> tuple[IntArray | None, float]:
    """Simulated annealing from a contiguous plan; returns the best plan within the band (or
    ``None``) and its objective."""
    g = graph or _Graph(problem)
    n, k = g.n, g.k
    lab = [int(v) for v in labels.tolist()]
    pop = g.pop
    lo, hi = g.lower, g.upper
    dpop = [0.0] * k
    size = [0] * k
    for i in range(n):
        dpop[lab[i]] += pop[i]
        size[lab[i]] += 1
    nbrs, nbw, edges = g.nbrs, g.nbw, g.edges
    m = len(edges)
    if m == 0 or k < 2:
        return (labels.copy() if not problem.violations(labels) else None,
                problem.objective(labels))
    width = max(hi - lo, 1e-9)

    def excess(p: float) -> float:
        return (max(0.0, p - hi) + max(0.0, lo - p)) / width

    cost = sum(g.weight[j] for j, (u, v) in enumerate(edges) if lab[u] != lab[v])
    viol = sum(excess(p) for p in dpop)
    penalty = PENALTY0 * g.unit_cost
    best_lab: list[int] | None = list(lab) if viol == 0.0 else None
    best_cost = cost if viol == 0.0 else math.inf
    t_hi, t_lo = T_START * g.unit_cost, T_END * g.unit_cost
    out_of_band = 0
    mark = [0] * n
    stamp = 0
    check_every = 256
    for it in range(moves):
        if it % check_every == 0:
            if late():
                break
            # penalty grows while the walk stays outside the band, relaxes once inside
            if viol > 0.0:
                out_of_band += 1
                if out_of_band > 4:
                    penalty *= 1.5
            else:
                out_of_band = 0
                penalty = max(PENALTY0 * g.unit_cost, penalty * 0.9)
        temp = t_hi * (t_lo / t_hi) ** (it / moves)
        u, v = edges[rng.randrange(m)]
        a, b = lab[u], lab[v]
        if a == b:
            continue
        if rng.random() < 0.5:
            u, a, b = v, b, a
        # move u from a to b
        if size[a] == 1:
            continue
        d_cost = 0.0
        for w, c in zip(nbrs[u], nbw[u], strict=True):
            lw = lab[w]
            if lw == a:
                d_cost += c
            elif lw == b:
                d_cost -= c
        pu = pop[u]
        d_viol = (excess(dpop[a] - pu) + excess(dpop[b] + pu)
                  - excess(dpop[a]) - excess(dpop[b]))
        delta = d_cost + penalty * d_viol
        if delta > 0.0 and rng.random() >= math.exp(-delta / temp):
            continue
        # contiguity of a without u: every a-neighbour of u must stay reachable
        stamp += 1
        targets = [w for w in nbrs[u] if lab[w] == a]
        if len(targets) > 1:
            mark[u] = stamp
            start = targets[0]
            mark[start] = stamp
            need = len(targets) - 1
            want = set(targets[1:])
            stack = [start]
            while stack and need:
                x = stack.pop()
                for y in nbrs[x]:
                    if lab[y] == a and mark[y] != stamp:
                        mark[y] = stamp
                        if y in want:
                            need -= 1
                        stack.append(y)
            if need:
                continue
        lab[u] = b
        dpop[a] -= pu
        dpop[b] += pu
        size[a] -= 1
        size[b] += 1
        cost += d_cost
        viol += d_viol
        if viol < 1e-12:
            viol = 0.0
            if cost < best_cost - 1e-9:
                best_cost = cost
                best_lab = list(lab)
    if best_lab is None:
        return None, math.inf
    out = np.array(best_lab, dtype=np.int64)
    return out, problem.objective(out)


def restrict(problem: DistrictingProblem, units: IntArray, k: int) -> DistrictingProblem:
    """The subgraph induced by ``units`` as a ``k``-district problem with the same band."""
    pos = np.full(problem.n, -1, dtype=np.int64)
    pos[units] = np.arange(units.size)
    e = problem.edges
    keep = (pos[e[:, 0]] >= 0) & (pos[e[:, 1]] >= 0)
    return DistrictingProblem.from_edges(
        problem.population[units], pos[e[keep]], k, problem.lower, problem.upper,
        edge_weights=problem.edge_weights[keep], measure=problem.measure,
        name=f"{problem.name}/sub")


def pair_descent(problem: DistrictingProblem, labels: IntArray, solve: PairSolve, *,
                 deadline: float = math.inf, late: Callable[[], bool] = lambda: False,
                 max_rounds: int = 20) -> IntArray:
    """Re-split the union of every two adjacent districts optimally (exact two-district model,
    warm-started by the current split) until no pair improves.

    Edges from the union to other districts are cut whatever the split, so a better split of
    the union is a better plan; contiguity and band of the other districts are untouched.
    """
    lab = labels.copy()
    e = problem.edges
    settled: set[tuple[int, int, bytes]] = set()
    for _ in range(max_rounds):
        improved = False
        la, lb = lab[e[:, 0]], lab[e[:, 1]]
        cut = la != lb
        pairs = sorted({(int(min(a, b)), int(max(a, b)))
                        for a, b in zip(la[cut].tolist(), lb[cut].tolist(), strict=True)})
        for a, b in pairs:
            if late():
                return lab
            inside = (lab == a) | (lab == b)
            key = (a, b, np.packbits(inside & (lab == a)).tobytes())
            if key in settled:
                continue
            units = np.flatnonzero(inside)
            sub = restrict(problem, units, 2)
            cur = (lab[units] == b).astype(np.int64)
            dm = _model.build(sub)
            values = solve(dm.model, _model.start_vector(dm, sub, cur),
                           deadline - time.perf_counter())
            settled.add(key)
            if values is None:
                continue
            new = _model.decode(dm, values)
            if not sub.violations(new) and sub.objective(new) < sub.objective(cur) - 1e-9:
                lab[units] = np.where(new == new[0], lab[units[0]],
                                      b if lab[units[0]] == a else a)
                improved = True
        if not improved:
            break
    return lab


def primal_plan(problem: DistrictingProblem, *, seed: int, solve: PairSolve | None = None,
                restarts: int = 12, keep: int = 3, moves_per_unit: int = 4000,
                draws: int = 20, tree_tries: int = 200, deadline: float = math.inf,
                cancel: CancelToken | None = None) -> IntArray | None:
    """Best contiguous in-band plan: ``restarts`` spanning-tree partitions, each annealed; the
    ``keep`` best are polished by :func:`pair_descent` when ``solve`` is given."""
    if problem.k < 2:
        return None

    def late() -> bool:
        return time.perf_counter() > deadline or (cancel is not None and cancel.cancelled)

    g = _Graph(problem)
    found: list[tuple[float, int, IntArray]] = []
    for r in range(restarts):
        if late():
            break
        rng = random.Random(seed * 1_000_003 + r)
        start = None
        for _ in range(tree_tries):
            start = tree_partition(problem, rng, draws=draws, strict=True)
            if start is not None or late():
                break
        if start is None:
            # no balanced tree split found: let the annealing repair the band, and do not
            # spend the tree budget again on the next restarts
            tree_tries = 0
            start = tree_partition(problem, rng, draws=draws)
        assert start is not None
        plan, obj = anneal(problem, start, rng, moves=moves_per_unit * problem.n,
                           late=late, graph=g)
        if plan is not None:
            found.append((obj, r, plan))
    if not found:
        return None
    found.sort(key=lambda t: (t[0], t[1]))
    log.debug("primal: %d annealed plan(s), best %.4g, %.2f s before the deadline",
              len(found), found[0][0], deadline - time.perf_counter())
    best, best_obj = found[0][2], found[0][0]
    if solve is None:
        return best
    for _, _, plan in found[:keep]:
        if late():
            break
        out = pair_descent(problem, plan, solve, deadline=deadline, late=late)
        obj = problem.objective(out)
        if obj < best_obj - 1e-9:
            best, best_obj = out, obj
    return best
