"""Lagrangian bound and reduced-cost fixing for the capacitated p-median.

Relaxing the assignment rows ``sum_j x_ij = 1`` with multipliers ``lambda_i`` splits the problem
by site (Beasley 1993; Lorena & Senne 2004)::

    L(lambda) = sum_i lambda_i + (sum of the p smallest rho_j)
    rho_j     = c_{s(j) j} - lambda_{s(j)} + min { sum_i (c_ij - lambda_i) x_i :
                                               sum_i q_i x_i <= Q_j - q_{s(j)}, x binary }

one 0/1 knapsack per site (``s(j)`` is the site's own item, which an open site must serve).
``L(lambda)`` is a lower bound for every ``lambda`` -- balance bands are dropped, which only
relaxes further -- and it is at least as strong as the LP relaxation. The knapsacks are solved
exactly by a dynamic programme over integer weights; fractional demands are scaled and rounded
*down* (capacities too), which keeps every feasible load feasible, so the bound stays valid.

:func:`fixing_mask` turns the bound into reduced-cost fixing: a pair ``(i, j)`` (or a whole site
``j``) is dropped when every plan using it provably costs at least as much as the incumbent, so
the remaining pairs still contain every plan better than the incumbent. Only the knapsack
relaxation is used for that test, never a heuristic estimate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.solvers.base import CancelToken
from terraplan.solvers.carve.problem import CarveProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Upper limit on knapsack states per site (capacities above are scaled down).
MAX_STATES = 2000
#: Largest ``n * m`` for which the Lagrangian is attempted (dense matrices are used).
MAX_PAIRS = 400_000


@dataclass(frozen=True, slots=True)
class LagrangeBound:
    """Best Lagrangian bound found, with what reduced-cost fixing needs."""

    bound: float
    multipliers: FloatArray
    rho: FloatArray          # per-site subproblem value at ``multipliers`` (inf: cannot open)
    table: FloatArray        # (m, C+1) knapsack minima over weight <= c (own item excluded)
    weights: IntArray        # scaled integer demand per item
    free_cap: IntArray       # scaled capacity per site left after its own item (-1: cannot open)
    iterations: int
    open_sites: IntArray     # the p sites chosen at ``multipliers``


def _weights(problem: CarveProblem) -> tuple[IntArray, IntArray, int]:
    """Integer weights and per-site capacities (after the own item), scaled to <= MAX_STATES."""
    q = problem.demand
    cap = np.where(np.isfinite(problem.capacity), problem.capacity, float(q.sum()))
    cap = np.minimum(cap, float(q.sum()))
    top = float(cap.max())
    integral = bool(np.allclose(q, np.round(q)) and np.allclose(cap, np.round(cap)))
    scale = 1.0 if integral and top <= MAX_STATES else MAX_STATES / max(top, 1e-12)
    w = np.floor(q * scale + 1e-9).astype(np.int64)
    c = np.floor(cap * scale + 1e-9).astype(np.int64)
    own = problem.site_item
    if problem.self_assign:
        has = own >= 0
        c = np.where(has, c - np.where(has, w[np.maximum(own, 0)], 0), c)
        ok = ~has | np.isfinite(problem.cost[np.maximum(own, 0), np.arange(problem.m)])
        c = np.where(ok, c, -1)
    return w, c, int(max(0, c.max()))


def _knapsack(r: FloatArray, w: IntArray, cap: IntArray,
              need_take: bool) -> tuple[FloatArray, FloatArray, BoolArray | None]:
    """Exact 0/1 knapsacks (minimise), one per row: ``r`` (J, K) <= 0 values, ``w`` (J, K)
    weights, ``cap`` (J,) capacities >= 0. Returns (minimum per row, table (J, C+1) of minima over
    weight <= c, chosen (J, K) or None)."""
    nj, nk = r.shape
    cmax = int(cap.max()) if nj else 0
    f = np.zeros((nj, cmax + 1))
    ar = np.arange(cmax + 1)
    rows = np.arange(nj)[:, None]
    keep = np.zeros((nk, nj, cmax + 1), dtype=np.bool_) if need_take else None
    for k in range(nk):
        idx = ar[None, :] - w[:, k, None]
        g = f[rows, np.maximum(idx, 0)] + r[:, k, None]
        g[idx < 0] = np.inf
        better = g < f
        if keep is not None:
            keep[k] = better
        f = np.where(better, g, f)
    val = f[np.arange(nj), cap]
    take = None
    if keep is not None:
        take = np.zeros((nj, nk), dtype=np.bool_)
        c = cap.copy()
        for k in range(nk - 1, -1, -1):
            t = keep[k, np.arange(nj), c]
            take[:, k] = t
            c = c - w[:, k] * t
    return val, f, take


class _Sub:
    """The per-site knapsacks of one problem, evaluated at changing multipliers."""

    def __init__(self, problem: CarveProblem) -> None:
        self.pr = problem
        self.w, self.cap, self.cmax = _weights(problem)
        ct = problem.cost.T.copy()  # (m, n)
        own = problem.site_item
        self.own_cost = np.zeros(problem.m)
        if problem.self_assign:
            has = own >= 0
            ct[np.flatnonzero(has), own[has]] = np.inf  # own item handled separately
            self.own_cost = np.where(has, problem.cost[np.maximum(own, 0),
                                                       np.arange(problem.m)], 0.0)
        self.ct = ct
        self.has_own = problem.self_assign & (own >= 0)
        self.can_open = self.cap >= 0
        # items heavier than the free capacity can never join that site
        self.fits = self.w[None, :] <= np.maximum(self.cap, 0)[:, None]

    def base(self, lam: FloatArray) -> FloatArray:
        own = self.pr.site_item
        return np.where(self.has_own, self.own_cost - lam[np.maximum(own, 0)], 0.0)

    def lp_values(self, r: FloatArray, neg: BoolArray) -> FloatArray:
        """Fractional-knapsack minimum per site (a lower bound on the exact one)."""
        w = self.w.astype(np.float64)
        ratio = np.where(neg, r / np.maximum(w, 1e-9)[None, :], np.inf)
        ratio = np.where(neg & (w[None, :] == 0), -np.inf, ratio)
        order = np.argsort(ratio, axis=1, kind="stable")
        rs = np.take_along_axis(np.where(neg, r, 0.0), order, axis=1)
        ws = np.take_along_axis(np.where(neg, w[None, :], 0.0), order, axis=1)
        cw = np.cumsum(ws, axis=1)
        capf = np.maximum(self.cap, 0).astype(np.float64)[:, None]
        full = cw <= capf
        prev = cw - ws
        part = np.where(~full & (prev < capf), (capf - prev) / np.maximum(ws, 1e-12), 0.0)
        return (rs * np.where(full, 1.0, part)).sum(axis=1)

    def exact(self, r: FloatArray, neg: BoolArray, sites: IntArray,
              need_take: bool) -> tuple[FloatArray, FloatArray, list[IntArray], BoolArray | None]:
        """Exact knapsack for the given sites: values, tables, item lists, chosen flags."""
        lists = [np.flatnonzero(neg[j]) for j in sites]
        kk = max((len(x) for x in lists), default=0)
        nj = sites.size
        rr = np.zeros((nj, kk))
        ww = np.zeros((nj, kk), dtype=np.int64)
        for a, items in enumerate(lists):
            rr[a, :items.size] = r[sites[a], items]
            ww[a, :items.size] = self.w[items]
        val, table, take = _knapsack(rr, ww, self.cap[sites], need_take)
        return val, table, lists, take

    def evaluate(self, lam: FloatArray, p: int) -> tuple[float, FloatArray, IntArray, FloatArray]:
        """L(lambda), rho (exact for the sites that decide the p smallest), chosen sites and the
        subgradient ``1 - sum_j x_ij``."""
        r = self.ct - lam[None, :]
        neg = (r < 0) & self.fits
        lp = self.lp_values(r, neg) + self.base(lam)
        lp = np.where(self.can_open, lp, np.inf)
        rho = lp.copy()
        exact = np.zeros(self.pr.m, dtype=np.bool_)
        takes: dict[int, IntArray] = {}
        order = np.argsort(lp, kind="stable")
        todo = order[:max(p, 1) + max(2, p // 2)]
        while True:
            todo = todo[~exact[todo] & np.isfinite(lp[todo])]
            if todo.size:
                val, _, lists, take = self.exact(r, neg, todo, True)
                assert take is not None
                rho[todo] = val + self.base(lam)[todo]
                exact[todo] = True
                for a, j in enumerate(todo.tolist()):
                    takes[j] = lists[a][take[a, :lists[a].size]]
            sel = np.argsort(np.where(exact, rho, np.inf), kind="stable")[:p]
            thr = rho[sel[-1]]
            rest = np.flatnonzero(~exact & (lp < thr))
            if rest.size == 0:
                break
            todo = rest[np.argsort(lp[rest], kind="stable")[:max(p, 8)]]
        value = float(lam.sum() + rho[sel].sum())
        g = np.ones(self.pr.n)
        for j in sel.tolist():
            g[takes[j]] -= 1.0
            if self.has_own[j]:
                g[self.pr.site_item[j]] -= 1.0
        return value, rho, np.sort(sel), g


def lagrangian_bound(problem: CarveProblem, *, upper: float, time_budget: float,
                     max_iter: int = 600, lam0: FloatArray | None = None,
                     cancel: CancelToken | None = None) -> LagrangeBound | None:
    """Subgradient optimisation of ``L(lambda)`` (Polyak steps towards ``upper``).

    ``upper`` is the objective of a known feasible plan (the step target). Stops after
    ``max_iter`` steps, once the step is tiny, when the best bound gained less than 1e-5
    (relative) over the last 80 steps, on ``cancel``, or before a step whose measured cost (plus
    about one more for the final pass, :func:`_final`) would end past ``time_budget`` seconds;
    the first step always runs. Returns ``None`` when the instance
    is too large for the dense subproblems or cannot open ``p`` sites.
    """
    t0 = time.perf_counter()
    n, m, p = problem.n, problem.m, problem.p
    if n * m > MAX_PAIRS:
        return None
    sub = _Sub(problem)
    if int(sub.can_open.sum()) < p:
        return None
    if lam0 is None:
        c = np.where(np.isfinite(problem.cost), problem.cost, np.nan)
        kth = min(m - 1, max(1, math.ceil(n / p)))
        lam = np.nan_to_num(np.nanpercentile(c, 100.0 * kth / max(m, 1), axis=1), nan=0.0)
    else:
        lam = lam0.astype(np.float64).copy()
    best_val, best_lam = -np.inf, lam.copy()
    step, stall, it = 2.0, 0, 0
    target = float(upper)
    history: list[float] = []
    deadline = t0 + time_budget
    per_eval = 0.0  # measured cost of one evaluate (the final pass needs about one more)
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        now = time.perf_counter()
        if (cancel is not None and cancel.cancelled) or (
                it > 1 and now + 2.0 * per_eval > deadline):
            it -= 1
            break
        val, _, _, g = sub.evaluate(lam, p)
        per_eval = max(per_eval, time.perf_counter() - now)
        history.append(max(val, best_val))
        if len(history) > 80 and history[-1] - history[-81] <= 1e-5 * max(1.0, abs(val)):
            break
        if val > best_val + 1e-9 * max(1.0, abs(val)):
            best_val, best_lam, stall = val, lam.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                step, stall = step / 2.0, 0
        norm = float(g @ g)
        if norm == 0.0 or step < 1e-4 or best_val >= target - 1e-9 * max(1.0, target):
            break
        lam = lam + step * max(target - val, 1e-6 * max(1.0, abs(target))) / norm * g
    return _final(sub, best_lam, p, it, deadline, cancel)


def _final(sub: _Sub, lam: FloatArray, p: int, iterations: int, deadline: float = math.inf,
           cancel: CancelToken | None = None) -> LagrangeBound:
    """Subproblems at ``lam``: exact (tables included) for as many sites as time allows.

    Sites are solved in chunks, most promising (smallest fractional-knapsack value) first; the
    first chunk always, the next ones while the measured cost of a chunk fits before
    ``deadline`` and ``cancel`` is not set. A site left out keeps its fractional-knapsack value
    (a lower bound on the exact one, so the bound stays valid) and a table of zeros (forcing an
    item into it then adds only its own reduced cost: a weaker but valid fixing test)."""
    r = sub.ct - lam[None, :]
    neg = (r < 0) & sub.fits
    base = sub.base(lam)
    rho = np.where(sub.can_open, sub.lp_values(r, neg) + base, np.inf)
    table = np.full((sub.pr.m, sub.cmax + 1), np.inf)
    sites = np.flatnonzero(sub.can_open)
    table[sites] = 0.0
    order = sites[np.argsort(rho[sites], kind="stable")]
    chunk = max(p + max(2, p // 2), 16)
    per_site = 0.0
    for start in range(0, order.size, chunk):
        todo = order[start:start + chunk]
        now = time.perf_counter()
        if start > 0 and ((cancel is not None and cancel.cancelled)
                          or now + per_site * todo.size > deadline):
            break
        val, tab, _, _ = sub.exact(r, neg, todo, False)
        per_site = max(per_site, (time.perf_counter() - now) / todo.size)
        rho[todo] = val + base[todo]
        table[todo] = np.inf
        table[todo, :tab.shape[1]] = tab
    sel = np.sort(np.argsort(rho, kind="stable")[:p])
    bound = float(lam.sum() + rho[sel].sum())
    return LagrangeBound(bound=bound, multipliers=lam, rho=rho, table=table, weights=sub.w,
                         free_cap=sub.cap, iterations=iterations, open_sites=sel)


def fixing_mask(problem: CarveProblem, lb: LagrangeBound, upper: float, *,
                integral: bool, keep: IntArray | None = None) -> BoolArray:
    """Pairs that may still appear in a plan cheaper than ``upper`` (``(n, m)`` bool).

    A pair ``(i, j)`` is dropped when forcing it raises the Lagrangian bound to ``upper`` or more
    (to more than ``upper - 1`` when every plan has an integer cost). A site's own pair is dropped
    (which closes the site) when opening the site alone does so. The pairs of ``keep`` (a plan,
    site index per item) are never dropped.
    """
    n, m, p = problem.n, problem.m, problem.p
    eps = 1e-7 * max(1.0, abs(upper))
    thr = (upper - 1.0 + eps) if integral else (upper - eps)
    rho = lb.rho
    order = np.argsort(rho, kind="stable")
    in_sel = np.zeros(m, dtype=np.bool_)
    in_sel[order[:p]] = True
    rho_p = rho[order[p - 1]]
    # bound when site j is forced open, with its subproblem value replaced by v
    def forced(j_vals: npt.NDArray[np.intp], v: FloatArray) -> FloatArray:
        return lb.bound + v - np.where(in_sel, rho, rho_p)[j_vals]

    site_lb = forced(np.arange(m), rho)
    alive_site = np.isfinite(site_lb) & (site_lb < thr)
    finite = np.isfinite(problem.cost)
    mask = finite & alive_site[None, :]
    # x_ij forced: rho_j + r_ij + T_j(cap_j - w_i) - T_j(cap_j), T = knapsack minima table
    lam = lb.multipliers
    cap = lb.free_cap
    jj = np.flatnonzero(alive_site)
    if jj.size:
        r = problem.cost[:, jj] - lam[:, None]  # (n, J)
        rest = cap[jj][None, :] - lb.weights[:, None]
        ok = rest >= 0
        tab = lb.table[jj]
        t_rest = tab[np.arange(jj.size)[None, :], np.maximum(rest, 0)]
        t_full = tab[np.arange(jj.size), cap[jj]][None, :]
        v = rho[jj][None, :] + r + t_rest - t_full
        pair_lb = lb.bound + v - np.where(in_sel, rho, rho_p)[jj][None, :]
        good = ok & np.isfinite(pair_lb) & (pair_lb < thr)
        if problem.self_assign:
            own = problem.site_item[jj]
            has = own >= 0
            good[own[has], np.flatnonzero(has)] = True  # the own pair is the site itself
        mask[:, jj] &= good
    if keep is not None:
        mask[np.arange(n), keep] = finite[np.arange(n), keep]
        opened = np.unique(keep)
        if problem.self_assign:
            own = problem.site_item[opened]
            mask[own[own >= 0], opened[own >= 0]] = True
    return mask
