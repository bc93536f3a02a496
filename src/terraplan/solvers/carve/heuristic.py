"""Warm-start heuristic for the capacitated p-median: seeded location-allocation.

1. Open ``p`` sites by a k-means++-style seeding on the cost matrix (random stream from the seed).
2. Allocate items to open sites by regret (largest gap between best and second-best site first),
   each to its cheapest open site with room; an open site's own item stays home.
3. Improve the allocation by shift and swap moves between open sites while capacity allows.
4. Relocate each territory's centre to the member site that minimises the territory's cost and
   can hold its load; repeat 2-4 until the objective stops improving.

The best of a few restarts is returned. Balance bands are not handled here; a plan that breaks
one is simply not offered as a start (the exact model repairs it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from terraplan.solvers.carve.problem import CarveProblem

IntArray = npt.NDArray[np.int64]


def _seed_sites(problem: CarveProblem, rng: np.random.Generator) -> IntArray:
    finite = np.where(np.isfinite(problem.cost), problem.cost, np.nan)
    big = np.nanmax(finite) if np.any(np.isfinite(finite)) else 1.0
    c = np.where(np.isfinite(problem.cost), problem.cost, big * 10 + 1)
    chosen = [int(rng.integers(problem.m))]
    nearest = c[:, chosen[0]].copy()
    # item-weighted distance from every site to the current centres, through the items at sites
    while len(chosen) < problem.p:
        # weight of a site = (distance of its own item to the nearest chosen centre)^2
        own = problem.site_item
        w = np.where(own >= 0, nearest[np.maximum(own, 0)] ** 2, 1.0)
        w[chosen] = 0.0
        if w.sum() <= 0:
            w = np.ones(problem.m)
            w[chosen] = 0.0
        j = int(rng.choice(problem.m, p=w / w.sum()))
        chosen.append(j)
        nearest = np.minimum(nearest, c[:, j])
    return np.array(sorted(chosen), dtype=np.int64)


def allocate(problem: CarveProblem, sites: IntArray) -> IntArray | None:
    """Regret allocation of every item to one of ``sites``; ``None`` if capacity runs out."""
    n = problem.n
    med = np.full(n, -1, dtype=np.int64)
    rem = problem.capacity[sites].astype(np.float64).copy()
    pos = {int(j): k for k, j in enumerate(sites)}
    if problem.self_assign:
        for k, j in enumerate(sites):
            it = int(problem.site_item[j])
            if it >= 0:
                if med[it] >= 0:  # two open sites share an item: not a valid site set
                    return None
                med[it] = j
                rem[k] -= problem.demand[it]
        if np.any(rem < -1e-9):
            return None
    c = problem.cost[:, sites]
    todo = np.flatnonzero(med < 0)
    if todo.size:
        cs = np.sort(c[todo], axis=1)
        second = cs[:, 1] if cs.shape[1] > 1 else cs[:, 0]
        regret = np.where(np.isfinite(second), second - cs[:, 0], 1e300)
        order = todo[np.lexsort((todo, -regret))]
        for i in order:
            q = problem.demand[i]
            for k in np.argsort(c[i], kind="stable"):
                if not np.isfinite(c[i, k]):
                    return None
                if rem[k] + 1e-9 >= q:
                    med[i] = sites[k]
                    rem[k] -= q
                    break
            else:
                return None
    del pos
    return med


def improve(problem: CarveProblem, med: IntArray, sites: IntArray,
            max_passes: int = 20) -> IntArray:
    """Shift and swap local search on a fixed set of open sites (first improvement)."""
    med = med.copy()
    load = np.bincount(med, weights=problem.demand, minlength=problem.m)
    fixed = np.zeros(problem.n, dtype=bool)
    if problem.self_assign:
        own = problem.site_item[sites]
        fixed[own[own >= 0]] = True
    cost = problem.cost
    for _ in range(max_passes):
        improved = False
        for i in range(problem.n):
            if fixed[i]:
                continue
            cur = med[i]
            gain = cost[i, cur] - cost[i, sites]
            room = problem.capacity[sites] - load[sites] >= problem.demand[i] - 1e-9
            cand = np.flatnonzero((gain > 1e-9) & room)
            if cand.size:
                k = cand[np.argmax(gain[cand])]
                j = sites[k]
                load[cur] -= problem.demand[i]
                load[j] += problem.demand[i]
                med[i] = j
                improved = True
        # swaps: exchange the sites of two items when both fit and the sum improves
        movable = np.flatnonzero(~fixed)
        for a_pos, i_np in enumerate(movable):
            i = int(i_np)
            ji = med[i]
            others = movable[a_pos + 1:]
            jo = med[others]
            delta = (cost[i, jo] + cost[others, ji]) - (cost[i, ji] + cost[others, jo])
            qi, qo = problem.demand[i], problem.demand[others]
            ok = ((jo != ji) & (delta < -1e-9)
                  & (load[jo] - qo + qi <= problem.capacity[jo] + 1e-9)
                  & (load[ji] - qi + qo <= problem.capacity[ji] + 1e-9))
            hit = np.flatnonzero(ok)
            if hit.size:
                b = others[hit[np.argmin(delta[hit])]]
                jb = med[b]
                load[ji] += problem.demand[b] - qi
                load[jb] += qi - problem.demand[b]
                med[i], med[b] = jb, ji
                improved = True
        if not improved:
            break
    return med


def _relocate(problem: CarveProblem, med: IntArray, sites: IntArray) -> IntArray:
    """Move each territory's centre to the best member site that can hold its load."""
    new = []
    taken: set[int] = set()
    for j in sites:
        members = np.flatnonzero(med == j)
        cand = problem.site_item
        # sites whose own item is a member (or the current site)
        in_terr = np.flatnonzero(np.isin(cand, members)) if members.size else np.array([j])
        if j not in in_terr:
            in_terr = np.append(in_terr, j)
        load = problem.demand[members].sum()
        tot = problem.cost[np.ix_(members, in_terr)].sum(axis=0)
        ok = (problem.capacity[in_terr] + 1e-9 >= load) & np.isfinite(tot)
        order = np.argsort(np.where(ok, tot, np.inf), kind="stable")
        pick: int = int(j)
        for o in order:
            cand_site = int(in_terr[o])
            if ok[o] and cand_site not in taken:
                pick = cand_site
                break
        taken.add(pick)
        new.append(pick)
    return np.array(sorted(set(new)), dtype=np.int64)


def location_allocation(problem: CarveProblem, *, seed: int, time_budget: float,
                        restarts: int = 8) -> IntArray | None:
    """Best plan (site index per item) found within ``time_budget`` seconds, or ``None``."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    best: IntArray | None = None
    best_obj = np.inf
    for r in range(restarts):
        if r and time.perf_counter() - t0 > time_budget:
            break
        sites = _seed_sites(problem, rng)
        cur_obj = np.inf
        cur: IntArray | None = None
        for _ in range(30):
            med = allocate(problem, sites)
            if med is None:
                break
            med = improve(problem, med, sites)
            obj = problem.objective(med)
            if obj >= cur_obj - 1e-9:
                break
            cur, cur_obj = med, obj
            new_sites = _relocate(problem, med, sites)
            if new_sites.size != problem.p or np.array_equal(new_sites, sites):
                break
            sites = new_sites
            if time.perf_counter() - t0 > time_budget:
                break
        if cur is not None and cur_obj < best_obj and not problem.violations(cur):
            best, best_obj = cur, cur_obj
    return best


def lns_improve(problem: CarveProblem, medians: IntArray, *, seed: int, time_budget: float,
                sub_solve: Callable[[CarveProblem, IntArray, float], IntArray | None],
                neighbours: int = 3, sub_time: float = 5.0,
                max_neighbours: int = 6) -> IntArray:
    """Matheuristic large-neighbourhood search (as in Stefanello, de Araújo & Müller 2015).

    Repeatedly free a territory and its ``neighbours - 1`` nearest territories (by centre
    distance), re-solve that small capacitated p-median exactly with ``sub_solve`` (members as
    items, their sites as candidate centres), and keep the result when it is cheaper. After a
    full round without improvement the neighbourhood grows by one territory, up to
    ``max_neighbours``; stops there or when ``time_budget`` seconds are spent.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 7919)
    med = medians.copy()
    best = problem.objective(med)
    q = min(neighbours, problem.p)
    if q < 2:
        return med
    site_cost = problem.cost  # centre-to-centre distance via the centre's own item
    done: set[bytes] = set()  # neighbourhoods already solved without improvement
    while time.perf_counter() - t0 < time_budget:
        centres = np.unique(med)
        own = problem.site_item[centres]
        improved = False
        for t in rng.permutation(centres.size):
            if time.perf_counter() - t0 >= time_budget:
                break
            c = centres[t]
            ci = problem.site_item[c]
            if ci >= 0 and np.all(own >= 0):
                d = site_cost[ci, centres]
            else:
                d = np.abs(centres - c).astype(np.float64)
            chosen = np.sort(centres[np.argsort(d, kind="stable")[:q]])
            items = np.flatnonzero(np.isin(med, chosen))
            key = chosen.tobytes() + items.tobytes()
            if key in done:
                continue
            sites = np.union1d(chosen, np.flatnonzero(np.isin(problem.site_item, items)))
            sub = _subproblem(problem, items, sites, chosen.size)
            local_start = np.searchsorted(sites, med[items])
            remaining = time_budget - (time.perf_counter() - t0)
            res = sub_solve(sub, local_start, min(sub_time, max(0.2, remaining)))
            done.add(key)
            if res is None:
                continue
            cand = med.copy()
            cand[items] = sites[res]
            obj = problem.objective(cand)
            if obj < best - 1e-7 * max(1.0, abs(best)) and not problem.violations(cand):
                med, best = cand, obj
                improved = True
                break  # centres changed: recompute the neighbourhoods
        if not improved:
            if q >= max_neighbours or q >= problem.p:
                break
            q += 1  # local optimum for this neighbourhood size: widen it (variable depth)
    return med


def _subproblem(problem: CarveProblem, items: IntArray, sites: IntArray, p: int) -> CarveProblem:
    from terraplan.solvers.carve.problem import BalanceBand

    pos = {int(it): k for k, it in enumerate(items.tolist())}
    si = np.array([pos.get(int(problem.site_item[j]), -1) for j in sites], dtype=np.int64)
    bands = tuple(BalanceBand(b.name, b.values[items], b.lo, b.hi) for b in problem.balance)
    return CarveProblem(cost=problem.cost[np.ix_(items, sites)], demand=problem.demand[items],
                        capacity=problem.capacity[sites], p=p, site_item=si,
                        self_assign=problem.self_assign, balance=bands,
                        name=f"{problem.name}/lns")
