"""Carve backend ``"heuristic"``: a scalable capacitated p-median matheuristic for large books.

For instances far beyond the exact models (thousands of points, hundreds of centres), in two
phases:

1. **Construction** by capacitated k-means-like location-allocation (:func:`construct`): open
   ``p`` sites by recursive bisection with demand-proportional centre counts
   (:func:`bisection_sites`; k-means++ seeding when items have no sites), then alternate

   * *allocation*: a min-cost flow (OR-Tools ``SimpleMinCostFlow``) from the items to the open
     sites, each item restricted to its ``k`` cheapest open sites (``k`` doubles when that is
     infeasible). The flow may split an item; it goes to the site carrying most of its flow and
     any overload is repaired by the cheapest moves to sites with room;
   * *median update*: every territory moves its centre to the member site of least total cost
     (its 1-median) that holds its load,

   until the objective stops improving.
2. **Improvement** by large-neighbourhood search (:func:`improve_lns`, after Stefanello, de
   Araújo & Müller 2015): pick a centre and its ``q - 1`` nearest centres, free their items and
   re-solve that small capacitated p-median exactly (the carve MILP on the sub-problem, HiGHS)
   from the current plan as MIP start; keep it when cheaper. Neighbourhoods already solved
   without gain are skipped; after a full round without gain ``q`` grows by one up to
   ``lns_max_neighbours``, and shrinks back to its start size after a gain.

Anytime: ``stop`` is called with the incumbent objective after every LNS move, ``cancel`` is
polled between moves, ``callbacks`` get a :class:`~terraplan.solvers.base.Progress` on every
improvement (at most one per ``progress_every`` seconds) and once per round. Deterministic for a
seed when the run is ended by ``stop`` or ``lns_max_moves`` rather than the wall clock and every
sub-MIP finishes within ``lns_sub_time`` (the default 0.3 s favours speed: on large books a few
3-5-centre sub-MIPs are cut by it, so plans may then differ between runs). No lower bound is
computed: ``bound`` is ``None``.

Options (``SolveOptions.extra``): ``flow_k`` (open sites per item in the allocation, 8),
``construct_iterations`` (30), ``lns_neighbours`` (centres freed per move, 2),
``lns_max_neighbours`` (8), ``lns_pair_partners`` (with 2 centres, pair each centre with this
many nearest ones, 3), ``lns_sub_time`` (seconds per sub-MIP up to 5 centres, 0.3; times
``q - 4`` above), ``lns_sub_k`` (sites per item in a sub-MIP, 8; the current one is always
kept), ``lns_max_moves`` (unbounded), ``progress_every`` (seconds, 1). Two-centre sub-problems
with integer demands are solved exactly by :func:`pair_dp` (no MIP).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

from terraplan.solvers.base import (
    CancelToken,
    Progress,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
)
from terraplan.solvers.carve import milp as _milp
from terraplan.solvers.carve.candidates import candidate_pairs
from terraplan.solvers.carve.heuristic import _seed_sites, _subproblem
from terraplan.solvers.carve.problem import CarveProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SubSolve = Callable[[CarveProblem, IntArray, float], "IntArray | None"]

_EPS = 1e-9


def _site_of_item(problem: CarveProblem) -> IntArray:
    """Site located at each item (-1 if none); the first one when several share an item."""
    out = np.full(problem.n, -1, dtype=np.int64)
    own = problem.site_item
    has = np.flatnonzero(own >= 0)[::-1]
    out[own[has]] = has
    return out


def _integer_scale(values: FloatArray) -> float:
    """1 when ``values`` are integers, else a factor that keeps 3 decimals."""
    fin = values[np.isfinite(values)]
    return 1.0 if np.allclose(fin, np.round(fin)) else 1000.0


# -- allocation -------------------------------------------------------------------------------
def allocate_flow(problem: CarveProblem, sites: IntArray, k: int = 8) -> IntArray | None:
    """Assign every item to one of the open ``sites`` (site index per item), or ``None``.

    Min-cost flow over each item's ``k`` cheapest open sites, then single-sourcing repair. An
    open site's own item stays home (``self_assign``).
    """
    n, p = problem.n, sites.size
    med = np.full(n, -1, dtype=np.int64)
    room = problem.capacity[sites].astype(np.float64).copy()
    if problem.self_assign:
        own = problem.site_item[sites]
        has = own >= 0
        if np.unique(own[has]).size != int(has.sum()):
            return None  # two open sites share an item
        med[own[has]] = sites[has]
        np.subtract.at(room, np.flatnonzero(has), problem.demand[own[has]])
        if np.any(room < -_EPS):
            return None
    free = np.flatnonzero(med < 0)
    if free.size == 0:
        return med
    c = problem.cost[np.ix_(free, sites)]
    kk = min(max(1, k), p)
    while True:
        pos = _flow(problem, c, problem.demand[free], room, kk)
        if pos is not None or kk >= p:
            break
        kk = min(p, 2 * kk)
    if pos is None:
        return None
    med[free] = sites[pos]
    return _repair(problem, med, sites)


def _flow(problem: CarveProblem, c: FloatArray, demand: FloatArray, room: FloatArray,
          k: int) -> IntArray | None:
    """Open-site position per free item from a min-cost flow over the ``k`` cheapest sites."""
    nf, p = c.shape
    if k < p:
        cols = np.argpartition(c, k - 1, axis=1)[:, :k]
    else:
        cols = np.broadcast_to(np.arange(p), (nf, p))
    rows = np.repeat(np.arange(nf), cols.shape[1])
    cols = cols.ravel()
    arc_cost = c[rows, cols]
    ok = np.isfinite(arc_cost)
    rows, cols, arc_cost = rows[ok], cols[ok], arc_cost[ok]
    if np.unique(rows).size < nf:
        return None
    ds = _integer_scale(demand)
    q = np.ceil(demand * ds - 1e-7).astype(np.int64)
    cap = np.floor(np.maximum(room, 0.0) * ds + 1e-7)
    cap = np.minimum(cap, float(q.sum())).astype(np.int64)
    if cap.sum() < q.sum():
        return None
    top = float(arc_cost.max()) if arc_cost.size else 1.0
    cs = 1e6 / max(top, 1e-12)
    unit = np.round(arc_cost * cs).astype(np.int64)
    sink = nf + p
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([rows, nf + np.arange(p)]),
        np.concatenate([nf + cols, np.full(p, sink)]),
        np.concatenate([q[rows], cap]),
        np.concatenate([unit, np.zeros(p, dtype=np.int64)]))
    smcf.set_nodes_supplies(np.arange(sink + 1), np.concatenate([q, [0] * p, [-int(q.sum())]]))
    if smcf.solve() != smcf.OPTIMAL:
        return None
    flow = smcf.flows(np.arange(rows.size)).astype(np.float64)
    # each item to the site carrying most of its flow (the cheaper one on ties)
    order = np.lexsort((arc_cost, -flow, rows))
    first = np.ones(order.size, dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    pos = np.full(nf, -1, dtype=np.int64)
    pos[rows[order][first]] = cols[order][first]
    return pos


def _repair(problem: CarveProblem, med: IntArray, sites: IntArray) -> IntArray | None:
    """Move items out of overloaded sites, cheapest extra cost first; ``None`` if stuck."""
    load = np.bincount(med, weights=problem.demand, minlength=problem.m)
    cap = problem.capacity
    fixed = np.zeros(problem.n, dtype=bool)
    if problem.self_assign:
        own = problem.site_item[sites]
        fixed[own[own >= 0]] = True
    tol = 1e-9
    for _ in range(problem.n):
        over = sites[load[sites] > cap[sites] * (1 + tol) + tol]
        if over.size == 0:
            return med
        j = int(over[0])
        members = np.flatnonzero((med == j) & ~fixed)
        if members.size == 0:
            return None
        q = problem.demand[members]
        fits = (load[sites][None, :] + q[:, None] <= cap[sites][None, :] * (1 + tol) + tol)
        fits &= sites[None, :] != j
        delta = problem.cost[np.ix_(members, sites)] - problem.cost[members, j][:, None]
        delta = np.where(fits, delta, np.inf)
        flat = int(np.argmin(delta))
        if not np.isfinite(delta.flat[flat]):
            return None
        a, b = divmod(flat, sites.size)
        i, t = int(members[a]), int(sites[b])
        med[i] = t
        load[j] -= problem.demand[i]
        load[t] += problem.demand[i]
    return None


# -- construction -----------------------------------------------------------------------------
def one_medians(problem: CarveProblem, med: IntArray, site_of_item: IntArray) -> IntArray:
    """Each territory's best centre among its members' sites (1-median that holds the load)."""
    sites = np.unique(med)
    order = np.argsort(med, kind="stable")
    bounds = np.searchsorted(med[order], sites)
    groups = np.split(order, bounds[1:])
    new = np.empty(sites.size, dtype=np.int64)
    for t, (j, members) in enumerate(zip(sites.tolist(), groups, strict=True)):
        cand = site_of_item[members]
        cand = np.unique(np.append(cand[cand >= 0], j))
        load = float(problem.demand[members].sum())
        tot = problem.cost[np.ix_(members, cand)].sum(axis=0)
        tot = np.where(problem.capacity[cand] * (1 + 1e-9) + 1e-9 >= load, tot, np.inf)
        best = int(np.argmin(tot))
        new[t] = cand[best] if np.isfinite(tot[best]) else j
    return np.unique(new)


def bisection_sites(problem: CarveProblem, rng: np.random.Generator) -> IntArray | None:
    """``p`` centres by recursive bisection with demand-proportional centre counts.

    A group of items with ``k`` centres is split along its two far-apart items ``a`` and ``b``
    (ordered by ``d(i, a) - d(i, b)``) where the cumulative demand reaches ``k_a / k`` of the
    group's, and ``k_a = k // 2`` centres go to the ``a`` side; a group with one centre gets its
    1-median. Item-to-item distance is the cost of an item at the other's site, so every item
    must have a site (``None`` otherwise).
    """
    site_of_item = _site_of_item(problem)
    if np.any(site_of_item < 0) or problem.p > problem.n:
        return None
    cost = problem.cost
    out: list[int] = []
    stack: list[tuple[IntArray, int]] = [(np.arange(problem.n), problem.p)]
    while stack:
        idx, k = stack.pop()
        own = site_of_item[idx]
        if k == 1 or idx.size <= k:
            tot = cost[np.ix_(idx, own)].sum(axis=0)
            out.extend(own[np.argsort(tot, kind="stable")[:k]].tolist())
            continue
        r = int(idx[rng.integers(idx.size)])
        a = int(idx[np.argmax(cost[r, own])])
        b = int(idx[np.argmax(cost[a, own])])
        key = cost[idx, site_of_item[a]] - cost[idx, site_of_item[b]]
        order = idx[np.argsort(key, kind="stable")]
        ka = k // 2
        cum = np.cumsum(problem.demand[order])
        cut = int(np.searchsorted(cum, cum[-1] * ka / k))
        cut = min(max(cut, ka), idx.size - (k - ka))
        stack.append((order[:cut], ka))
        stack.append((order[cut:], k - ka))
    sites = np.unique(np.array(out, dtype=np.int64))
    return sites if sites.size == problem.p else None


def construct(problem: CarveProblem, rng: np.random.Generator, *, k: int = 8,
              iterations: int = 30,
              should_stop: Callable[[], bool] = lambda: False) -> IntArray | None:
    """Capacitated k-means-like location-allocation; best plan seen, or ``None``."""
    site_of_item = _site_of_item(problem)
    bis = bisection_sites(problem, rng)
    sites = bis if bis is not None else _seed_sites(problem, rng)
    best: IntArray | None = None
    best_obj = math.inf
    for _ in range(iterations):
        med = allocate_flow(problem, sites, k)
        if med is None:
            break
        obj = problem.objective(med)
        if obj >= best_obj - 1e-9 * max(1.0, abs(best_obj)):
            break
        best, best_obj = med, obj
        new = one_medians(problem, med, site_of_item)
        if new.size != problem.p or np.array_equal(new, sites) or should_stop():
            break
        sites = new
    return best


# -- improvement ------------------------------------------------------------------------------
#: Largest ``items * site pairs * (load + 1)`` table (bytes of booleans) :func:`pair_dp` builds;
#: its float tables (``site pairs * (items + load)``) are held to the same number of bytes.
MAX_DP_CELLS = 50_000_000


def pair_dp(sub: CarveProblem, max_load: int = 20_000) -> IntArray | None:
    """Exact optimum of a 2-centre sub-problem by dynamic programming over the load, or ``None``.

    Applies when ``p == 2``, every site is the site of an item (``self_assign``), there are no
    balance bands and demands and capacities are integers (``None`` otherwise, or when no plan
    fits, or when its tables would exceed :data:`MAX_DP_CELLS` bytes). Every pair of sites
    ``(a, b)`` is solved at once: ``dp[pair, w]`` is the least cost of
    the items seen so far with load ``w`` on ``a``; an open site's own item is forced home.
    Returns the site index per item.
    """
    n, m = sub.n, sub.m
    own = sub.site_item
    q = sub.demand
    cap = sub.capacity
    total = float(q.sum())
    if (sub.p != 2 or not sub.self_assign or sub.balance or np.any(own < 0) or m < 2
            or not np.allclose(q, np.round(q)) or total > max_load):
        return None
    capf = np.minimum(np.where(np.isfinite(cap), cap, total), total)
    if not np.allclose(capf, np.round(capf)):
        return None
    qi = np.round(q).astype(np.int64)
    w_max = int(round(total))
    pairs_n = m * (m - 1) // 2
    if (n * pairs_n * (w_max + 1) > MAX_DP_CELLS
            or 8 * pairs_n * (2 * n + 2 * (w_max + 1)) > MAX_DP_CELLS):
        return None  # the tables would not fit: the caller falls back to the sub-MIP
    a_idx, b_idx = np.triu_indices(m, 1)
    ca = sub.cost[:, a_idx].T.copy()  # (pairs, items): cost of each item at site a
    cb = sub.cost[:, b_idx].T.copy()
    pairs = np.arange(a_idx.size)
    ca[pairs, own[b_idx]] = np.inf  # b's own item stays at b
    cb[pairs, own[a_idx]] = np.inf  # a's own item stays at a
    dp = np.full((a_idx.size, w_max + 1), np.inf)
    dp[:, 0] = 0.0
    to_a = np.zeros((n, a_idx.size, w_max + 1), dtype=bool)
    for i in range(n):
        new = dp + cb[:, i][:, None]
        d = int(qi[i])
        shifted = np.full_like(dp, np.inf)
        shifted[:, d:] = dp[:, :w_max + 1 - d] + ca[:, i][:, None]
        take = shifted < new
        to_a[i] = take
        dp = np.where(take, shifted, new)
    w = np.arange(w_max + 1)
    ok = (w[None, :] <= np.round(capf[a_idx])[:, None]) & (
        total - w[None, :] <= np.round(capf[b_idx])[:, None])
    dp = np.where(ok, dp, np.inf)
    flat = int(np.argmin(dp))
    if not np.isfinite(dp.flat[flat]):
        return None
    k, load = divmod(flat, w_max + 1)
    out = np.empty(n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        if to_a[i, k, load]:
            out[i] = a_idx[k]
            load -= int(qi[i])
        else:
            out[i] = b_idx[k]
    return out


class _Lns:
    """The LNS state: plan, open centres and their members."""

    def __init__(self, problem: CarveProblem, med: IntArray) -> None:
        self.pr = problem
        self.med = med.copy()
        self.obj = problem.objective(med)
        self.site_of_item = _site_of_item(problem)

    def nearest(self, centre: int, count: int, centres: IntArray) -> IntArray:
        """``centre`` first, then the centres cheapest to reach from its members (``count``)."""
        members = np.flatnonzero(self.med == centre)
        d = self.pr.cost[np.ix_(members, centres)].min(axis=0)
        d[centres == centre] = -1.0
        return centres[np.argsort(d, kind="stable")[:count]]

    def try_move(self, chosen: IntArray, sub_solve: SubSolve, sub_time: float) -> bool:
        """Re-solve the territories of ``chosen`` over their items; keep a cheaper plan.

        The sub-problem's sites are ``chosen`` and the own sites of the freed items, minus the
        centres that stay open (without ``self_assign`` such an item may sit at another open
        centre: merging into it would leave fewer than ``p`` territories). The new full plan
        must pass :meth:`CarveProblem.violations`."""
        pr = self.pr
        items = np.flatnonzero(np.isin(self.med, chosen))
        own = self.site_of_item[items]
        others = np.setdiff1d(self.med, chosen)
        sites = np.union1d(chosen, np.setdiff1d(own[own >= 0], others))
        sub = _subproblem(pr, items, sites, int(chosen.size))
        res = sub_solve(sub, np.searchsorted(sites, self.med[items]), sub_time)
        if res is None or np.any(res < 0):
            return False
        new = sites[res]
        old = self.med[items]
        delta = float(pr.cost[items, new].sum() - pr.cost[items, old].sum())
        if not delta < -1e-7 * max(1.0, abs(self.obj)):
            return False
        if np.unique(new).size != chosen.size or not np.all(np.isfinite(pr.cost[items, new])):
            return False
        load = np.bincount(np.searchsorted(sites, new), weights=pr.demand[items],
                           minlength=sites.size)
        if np.any(load > pr.capacity[sites] * (1 + 1e-9) + 1e-9):
            return False
        cand = self.med.copy()
        cand[items] = new
        if pr.violations(cand):
            return False
        self.med = cand
        self.obj = pr.objective(self.med)
        return True


def improve_lns(problem: CarveProblem, med: IntArray, rng: np.random.Generator, *,
                sub_solve: SubSolve, should_stop: Callable[[float], bool],
                on_improve: Callable[[float, str], None], neighbours: int = 4,
                max_neighbours: int = 7, sub_time: float = 5.0,
                max_moves: int | None = None,
                pair_partners: int = 3) -> tuple[IntArray, dict[str, float]]:
    """LNS on ``med`` until ``should_stop(objective)`` or a local optimum for every size."""
    st = _Lns(problem, med)
    q0 = q = max(2, min(neighbours, problem.p))
    q_max = max(q0, min(max_neighbours, problem.p))
    done: set[bytes] = set()
    moves = gains = rounds = 0
    stopped = False
    while not stopped:
        rounds += 1
        improved = False
        centres = np.unique(st.med)
        for t in rng.permutation(centres.size).tolist():
            c = int(centres[t])
            if not np.any(st.med == c):
                continue  # closed by an earlier move of this round
            near = st.nearest(c, max(q, pair_partners + 1) if q == 2 else q, np.unique(st.med))
            # q == 2: every pair of c with one of its nearest centres (cheap exact DP);
            # larger q: c with its q - 1 nearest centres
            groups = [near[[0, r]] for r in range(1, near.size)] if q == 2 else [near]
            for g in groups:
                chosen = np.sort(g)
                if not np.all(np.isin(chosen, st.med)):
                    break  # a centre closed by the previous move
                items = np.flatnonzero(np.isin(st.med, chosen))
                key = chosen.tobytes() + items.tobytes()
                if key in done:
                    continue
                moves += 1
                if st.try_move(chosen, sub_solve, sub_time * max(1, q - 4)):
                    gains += 1
                    improved = True
                    on_improve(st.obj, f"lns move {moves}: {st.obj:.2f} (q={q})")
                else:
                    done.add(key)
                if should_stop(st.obj) or (max_moves is not None and moves >= max_moves):
                    stopped = True
                    break
            if stopped:
                break
        on_improve(st.obj, f"lns round {rounds} (q={q}, {moves} moves, {gains} gains)")
        if improved:
            q = q0
        elif q < q_max:
            q += 1
        else:
            break
    return st.med, {"lns_moves": float(moves), "lns_gains": float(gains),
                    "lns_rounds": float(rounds), "lns_final_q": float(q)}


# -- backend ----------------------------------------------------------------------------------
def solve_large(problem: CarveProblem, *, seed: int = 0, options: SolveOptions | None = None,
                stop: StopCriterion | None = None, cancel: CancelToken | None = None,
                callbacks: tuple[ProgressCallback, ...] = (),
                initial: npt.ArrayLike | None = None) -> SolveResult:
    """Run construction + LNS within ``options.time_limit``; see the module docstring."""
    opts = options or SolveOptions()
    extra = opts.extra
    t0 = time.perf_counter()
    deadline = t0 + opts.time_limit
    rng = np.random.default_rng(seed)

    def result(status: Status, med: IntArray | None, message: str,
               **stats: object) -> SolveResult:
        assignment = centres = None
        objective = None
        if med is not None:
            c = np.unique(med)
            assignment = np.searchsorted(c, med).astype(np.int32)
            centres = c.astype(np.int32)
            objective = problem.objective(med)
        return SolveResult(status=status, backend="heuristic", seed=seed, objective=objective,
                           bound=None, runtime=time.perf_counter() - t0, assignment=assignment,
                           centres=centres, message=message, stats=dict(stats))

    reasons = problem.precheck()
    if reasons:
        return SolveResult(status=Status.INFEASIBLE, backend="heuristic", seed=seed,
                           objective=None, bound=None, runtime=time.perf_counter() - t0,
                           conflicts=tuple(reasons),
                           message="pre-solve checks prove the problem infeasible")
    cancelled = [False]

    def out_of_time() -> bool:
        if cancel is not None and cancel.cancelled:
            cancelled[0] = True
            return True
        return time.perf_counter() >= deadline

    last = [-math.inf]
    every = float(extra.get("progress_every", 1.0))

    def emit(obj: float, message: str, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - last[0] >= every or message.startswith("lns round"):
            last[0] = now
            ev = Progress(elapsed=now - t0, objective=obj, bound=None, gap=None, message=message)
            for cb in callbacks:
                cb(ev)

    if out_of_time():
        return result(Status.CANCELLED, None, "cancelled before start")
    med: IntArray | None = None
    if initial is not None:
        cand = np.asarray(initial, dtype=np.int64)
        if cand.shape == (problem.n,) and not problem.violations(cand):
            med = cand.copy()
    t_c = time.perf_counter()
    if med is None:
        med = construct(problem, rng, k=int(extra.get("flow_k", 8)),
                        iterations=int(extra.get("construct_iterations", 30)),
                        should_stop=out_of_time)
    if med is None or problem.violations(med):
        if cancelled[0]:
            return result(Status.CANCELLED, None, "cancelled during construction")
        return result(Status.NO_SOLUTION_IN_TIME, None,
                      "location-allocation found no capacity-feasible plan")
    construct_obj = problem.objective(med)
    construct_s = time.perf_counter() - t_c
    emit(construct_obj, "construction", force=True)

    def should_stop(obj: float) -> bool:
        return out_of_time() or (stop is not None and stop(obj))

    max_moves = extra.get("lns_max_moves")
    sub_time = float(extra.get("lns_sub_time", 0.3))
    sub_k = int(extra.get("lns_sub_k", 8))
    lns_stats: dict[str, float] = {}

    def sub_solve(sub: CarveProblem, local: IntArray, limit: float) -> IntArray | None:
        exact = pair_dp(sub)
        if exact is not None:
            return exact
        left = max(0.1, min(limit, deadline - time.perf_counter()))
        # each item may only join one of its sub_k cheapest sites (or stay): a restriction
        items, sites, _ = candidate_pairs(sub, min(sub_k, sub.m), local)
        o = SolveOptions(time_limit=left, gap=1e-6, threads=opts.threads, extra=opts.extra)
        return _milp.solve(sub, items, sites, o, seed=seed, start=local, cancel=None,
                           callbacks=())[1]

    valid = med
    if problem.p >= 2 and not should_stop(construct_obj):
        med, lns_stats = improve_lns(
            problem, med, rng,
            sub_solve=sub_solve,
            should_stop=should_stop, on_improve=emit,
            neighbours=int(extra.get("lns_neighbours", 2)),
            max_neighbours=int(extra.get("lns_max_neighbours", 8)),
            sub_time=sub_time, max_moves=None if max_moves is None else int(max_moves),
            pair_partners=int(extra.get("lns_pair_partners", 3)))
    broken = problem.violations(med)
    if broken:  # never hand back a plan that breaks a hard rule: keep the valid start
        lns_stats["lns_invalid"] = 1.0
        med = valid
    obj = problem.objective(med)
    emit(obj, "done", force=True)
    msg = "cancelled; best plan so far" if cancelled[0] else "location-allocation + LNS"
    return result(Status.FEASIBLE, med, msg, construct_objective=construct_obj,
                  construct_s=construct_s, cancelled=cancelled[0], **lns_stats)
