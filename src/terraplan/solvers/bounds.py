"""Lower bounds on the assignment objective: LP relaxation (HiGHS) and Lagrangian pricing.

Both bound the objective of :mod:`terraplan.problem` from below, so a heuristic plan can state
how near optimal it is (``SolveResult.bound`` and ``gap``).

LP relaxation
-------------
Variables ``x_p ∈ [0, 1]`` per candidate pair, plus ``d_br ≥ 0`` per soft balance rule ``b`` and
rep ``r`` with a positive target (relative deviation beyond the band)::

    min  Σ_p pair_cost_p · x_p + w_balance · Σ_{b soft} penalty_b Σ_r d_br
    s.t. Σ_{p ∈ item t} x_p = 1                                     every item t
         lower_br ≤ Σ_{p → r} metric_b(t_p) · x_p ≤ upper_br          hard balance rule b, rep r
         Σ_{p → r} workload(t_p) · x_p ≤ capacity_r                   finite capacities
         d_br ≥ ±(Σ_{p → r} metric_b(t_p) x_p − target_br)/target_br − tol_b   soft rules
         Σ_p moved_p x_p ≤ max_moved_accounts,  Σ_p moved_pot_p x_p ≤ max_moved_potential
         Σ_{p=(t,s)} c_ts x_p ≥ Σ_t c_ts − max_moved_per_rep         per current owner s

Balance and capacity rows are divided by their target (capacity) so coefficients are O(1).

**Per pool.** Items of different eligibility pools share no rep, so the LP separates by pool
except for the global continuity budgets. :func:`lp_bound` solves pool by pool (dropping the
global budget rows, which can only lower the optimum, so the sum stays a valid bound) whenever
the problem has more than one pool; each pool's LP is small enough for HiGHS even at a million
accounts, but the default ``max_pairs`` keeps the LP where it fits comfortably in memory.

Lagrangian bound
----------------
Dualising the balance and capacity rows with multipliers ``μ ≥ 0`` (upper sides) and ``ν ≥ 0``
(lower sides) gives, for any multipliers, ::

    L(μ, ν) = Σ_t min_{p ∈ t} (c_p + Σ_b (μ_br − ν_br) a_bt) − Σ_{b,r} (μ_br U_br − ν_br L_br)

which is a valid lower bound on the integer optimum (weak duality; soft-balance and continuity
terms are non-negative and dropped, which keeps the bound valid). It costs one pass over the
pairs per evaluation, so it scales to any size; :func:`lagrangian_bound` improves it by
projected subgradient steps and :mod:`terraplan.solvers.heuristic` reuses its prices.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix

from terraplan.problem import ProblemData

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Above this many candidate pairs in one LP the relaxation is skipped (memory/time; ≈ 100k
#: accounts with a handful of eligible reps each).
LP_MAX_PAIRS = 1_500_000


@dataclass(frozen=True, slots=True)
class Bound:
    """A lower bound and how it was obtained.

    Attributes
    ----------
    value : float
        Proven lower bound on the objective (``-inf`` when none could be computed).
    method : str
        ``"lp"``, ``"lp-pools"``, ``"lagrangian"`` or ``"none"``.
    optimal : bool
        Every LP solved to optimality (False: time limit; ``value`` then falls back to a
        Lagrangian bound or ``-inf``).
    infeasible : bool
        Some LP relaxation is infeasible: so is the integer problem.
    runtime : float
        Seconds spent.
    x : ndarray or None
        The LP solution per pair (float in [0, 1]) when an LP was solved; used as a guide by the
        heuristic's construction.
    prices : ndarray or None
        Row duals of the balance/capacity rows mapped to per-(rule, rep) prices, as a
        ``(R + 1, m)`` array (row ``R`` = capacity); ``None`` for LP-less bounds.
    stats : mapping
    """

    value: float
    method: str
    optimal: bool = True
    infeasible: bool = False
    runtime: float = 0.0
    x: F64 | None = None
    prices: F64 | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)


def _soft_rules(problem: ProblemData) -> list[int]:
    return [b for b in range(len(problem.balance_metric)) if not problem.balance_hard[b]]


def _hard_rules(problem: ProblemData) -> list[int]:
    return [b for b in range(len(problem.balance_metric)) if problem.balance_hard[b]]


def _build_lp(problem: ProblemData, pairs: I64, items: I64, reps: I64,
              with_budgets: bool) -> tuple[Any, list[tuple[int, I64]], int]:
    """A HiGHS LP over ``pairs`` (a subset closed under items); returns it, the balance/capacity
    row blocks ``(rule or R for capacity, rep indices)`` in row order, and the first such row."""
    import highspy  # local: keeps the module importable for Lagrangian-only use

    inf = highspy.kHighsInf
    k_loc = len(items)
    item_pos = np.full(problem.n_items, -1, dtype=np.int64)
    item_pos[items] = np.arange(k_loc)
    rep_pos = np.full(problem.n_reps, -1, dtype=np.int64)
    rep_pos[reps] = np.arange(len(reps))
    p_item = problem.pair_item[pairs].astype(np.int64)
    p_rep = problem.indices[pairs].astype(np.int64)
    n_x = len(pairs)
    col = np.arange(n_x, dtype=np.int64)

    rows_r: list[I64] = [item_pos[p_item]]
    rows_c: list[I64] = [col]
    rows_v: list[F64] = [np.ones(n_x)]
    lo: list[F64] = [np.ones(k_loc)]
    hi: list[F64] = [np.ones(k_loc)]
    n_rows = k_loc
    blocks: list[tuple[int, I64]] = []
    first_block_row = n_rows
    R = len(problem.balance_metric)
    for b in _hard_rules(problem):
        q = int(problem.balance_q[b])
        t = problem.target[b, reps]
        ok = t > 0
        scale = np.where(ok, t, 1.0)
        rr = reps[ok]
        rp = np.full(problem.n_reps, -1, dtype=np.int64)
        rp[rr] = np.arange(len(rr))
        sel = rp[p_rep] >= 0
        rows_r.append(n_rows + rp[p_rep[sel]])
        rows_c.append(col[sel])
        rows_v.append(problem.item_metric[q, p_item[sel]] / scale[rep_pos[p_rep[sel]]])
        lo.append(problem.lower[b, rr] / scale[ok])
        hi.append(problem.upper[b, rr] / scale[ok])
        blocks.append((b, rr))
        n_rows += len(rr)
        # reps with zero target (empty pool share) must stay empty of this metric
        zr = reps[~ok]
        if len(zr):
            zp = np.full(problem.n_reps, -1, dtype=np.int64)
            zp[zr] = np.arange(len(zr))
            zsel = zp[p_rep] >= 0
            rows_r.append(n_rows + zp[p_rep[zsel]])
            rows_c.append(col[zsel])
            rows_v.append(problem.item_metric[q, p_item[zsel]])
            lo.append(np.full(len(zr), -inf))
            hi.append(np.maximum(problem.upper[b, zr], 0.0))
            n_rows += len(zr)
    cap = problem.rep_capacity[reps]
    fin = np.isfinite(cap)
    if fin.any():
        rr = reps[fin]
        rp = np.full(problem.n_reps, -1, dtype=np.int64)
        rp[rr] = np.arange(len(rr))
        sel = rp[p_rep] >= 0
        sc = np.maximum(problem.rep_capacity[rr], 1.0)
        rows_r.append(n_rows + rp[p_rep[sel]])
        rows_c.append(col[sel])
        rows_v.append(problem.item_metric[0, p_item[sel]] / sc[rp[p_rep[sel]]])
        lo.append(np.full(len(rr), -inf))
        hi.append(problem.rep_capacity[rr] / sc)
        blocks.append((R, rr))
        n_rows += len(rr)

    # soft balance: deviation columns d (two rows each: T/t - d <= 1 + tol, T/t + d >= 1 - tol)
    soft_cost: list[F64] = []
    n_d = 0
    for b in _soft_rules(problem):
        q = int(problem.balance_q[b])
        t = problem.target[b, reps]
        ok = t > 0
        rr = reps[ok]
        if not len(rr):
            continue
        rp = np.full(problem.n_reps, -1, dtype=np.int64)
        rp[rr] = np.arange(len(rr))
        sel = rp[p_rep] >= 0
        coef = problem.item_metric[q, p_item[sel]] / problem.target[b, p_rep[sel]]
        dcol = n_x + n_d + np.arange(len(rr))
        tol = float(problem.balance_tol[b])
        for sign in (1.0, -1.0):
            rows_r.append(n_rows + rp[p_rep[sel]])
            rows_c.append(col[sel])
            rows_v.append(sign * coef)
            rows_r.append(n_rows + np.arange(len(rr)))
            rows_c.append(dcol)
            rows_v.append(np.full(len(rr), -1.0))
            lo.append(np.full(len(rr), -inf))
            hi.append(np.full(len(rr), sign * 1.0 + tol))
            n_rows += len(rr)
        soft_cost.append(np.full(len(rr), problem.w_balance * float(problem.balance_penalty[b])))
        n_d += len(rr)

    if with_budgets:
        if problem.max_moved_accounts >= 0:
            rows_r.append(np.full(n_x, n_rows))
            rows_c.append(col)
            rows_v.append(problem.pair_moved[pairs].astype(np.float64))
            lo.append(np.array([-inf]))
            hi.append(np.array([float(problem.max_moved_accounts)]))
            n_rows += 1
        if problem.max_moved_potential >= 0:
            tot = max(float(problem.pair_moved_potential.max(initial=0)), 1.0)
            rows_r.append(np.full(n_x, n_rows))
            rows_c.append(col)
            rows_v.append(problem.pair_moved_potential[pairs].astype(np.float64) / tot)
            lo.append(np.array([-inf]))
            hi.append(np.array([problem.max_moved_potential / tot]))
            n_rows += 1
        if problem.max_moved_per_rep >= 0:
            in_sub = np.zeros(problem.n_pairs, dtype=bool)
            in_sub[pairs] = True
            pair_col = np.full(problem.n_pairs, -1, dtype=np.int64)
            pair_col[pairs] = col
            for _s, total, pidx, cnt in problem.lost_terms():
                if total <= problem.max_moved_per_rep:
                    continue
                keep = in_sub[pidx]
                rows_r.append(np.full(int(keep.sum()), n_rows))
                rows_c.append(pair_col[pidx[keep]])
                rows_v.append(cnt[keep].astype(np.float64))
                lo.append(np.array([float(total - problem.max_moved_per_rep)]))
                hi.append(np.array([inf]))
                n_rows += 1

    n_cols = n_x + n_d
    cost = np.concatenate([problem.pair_cost[pairs], *soft_cost]) if soft_cost else \
        problem.pair_cost[pairs].astype(np.float64)
    A = coo_matrix((np.concatenate(rows_v), (np.concatenate(rows_r), np.concatenate(rows_c))),
                   shape=(n_rows, n_cols)).tocsr()
    A.sum_duplicates()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n_cols, np.zeros(n_cols), np.concatenate([np.ones(n_x), np.full(n_d, inf)]))
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
    h.addRows(n_rows, np.concatenate(lo), np.concatenate(hi), int(A.nnz),
              A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data.astype(np.float64))
    return h, blocks, first_block_row


def _solve_lp(problem: ProblemData, pairs: I64, with_budgets: bool, time_limit: float,
              threads: int) -> tuple[str, float, F64 | None, F64 | None]:
    """Solve one LP; returns (status, value, x over ``pairs``, prices (R+1, m))."""
    import highspy

    items = np.unique(problem.pair_item[pairs]).astype(np.int64)
    reps = np.unique(problem.indices[pairs]).astype(np.int64)
    h, blocks, first = _build_lp(problem, pairs, items, reps, with_budgets)
    h.setOptionValue("time_limit", max(float(time_limit), 0.1))
    # HiGHS fixes its thread pool at the first solve of the process; a different "threads"
    # later makes run() fail ("Not Set"), so the pool is left at its process-wide default.
    h.setOptionValue("presolve", "on")
    h.run()
    st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", math.inf, None, None
    if st != highspy.HighsModelStatus.kOptimal:
        return "limit", -math.inf, None, None
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=np.float64)[:len(pairs)]
    val = float(h.getInfo().objective_function_value)
    duals = np.asarray(sol.row_dual, dtype=np.float64)
    prices = np.zeros((len(problem.balance_metric) + 1, problem.n_reps), dtype=np.float64)
    row = first
    for b, rr in blocks:
        # (zero-target rows of a rule sit right after its block; skipping them is harmless)
        scale = (np.maximum(problem.rep_capacity[rr], 1.0) if b == len(problem.balance_metric)
                 else problem.target[b, rr])
        prices[b, rr] = duals[row:row + len(rr)] / scale
        row += len(rr)
        if b < len(problem.balance_metric):
            zr = reps[problem.target[b, reps] <= 0]
            row += len(zr)
    return "optimal", val, x, prices


def lp_bound(
    problem: ProblemData,
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    max_pairs: int = LP_MAX_PAIRS,
    by_pool: bool | None = None,
    mapper: Callable[..., Iterable[Any]] | None = None,
) -> Bound:
    """LP-relaxation lower bound solved with HiGHS (see the module docstring).

    Parameters
    ----------
    problem : ProblemData
    time_limit : float
        Seconds for each LP (pool).
    threads : int
        HiGHS threads per LP.
    max_pairs : int
        Skip (``method="none"``, ``value=-inf``) when the LP (or its largest pool) has more
        candidate pairs than this.
    by_pool : bool, optional
        Solve pool by pool (default: when there is more than one pool). Global continuity
        budgets are then relaxed, which keeps the bound valid.
    mapper : callable, optional
        A ``map``-like callable (``concurrent.futures.Executor.map``) over pools.

    Returns
    -------
    Bound
        ``x`` holds the LP value of every pair (NaN where not solved).
    """
    t0 = time.perf_counter()
    if problem.n_items == 0:
        return Bound(0.0, "lp", runtime=0.0, x=np.zeros(0))
    if np.any(np.diff(problem.indptr) == 0):
        return Bound(math.inf, "lp", infeasible=True, runtime=time.perf_counter() - t0)
    pool_of_pair = problem.item_pool[problem.pair_item]
    split = problem.n_pools > 1 if by_pool is None else by_pool
    if split:
        order = np.argsort(pool_of_pair, kind="stable")
        cuts = np.searchsorted(pool_of_pair[order], np.arange(problem.n_pools + 1))
        groups = [order[cuts[i]:cuts[i + 1]].astype(np.int64) for i in range(problem.n_pools)]
        groups = [g for g in groups if len(g)]
    else:
        groups = [np.arange(problem.n_pairs, dtype=np.int64)]
    biggest = max(len(g) for g in groups)
    if biggest > max_pairs:
        return Bound(-math.inf, "none", optimal=False, runtime=time.perf_counter() - t0,
                     stats={"reason": f"LP of {biggest} pairs exceeds max_pairs={max_pairs}"})
    # each LP may use the whole limit: a pool LP stopped early voids the bound, and a share by
    # pairs starves small but hard pools when the machine is loaded
    jobs = [(problem, g, not split, time_limit, threads) for g in groups]
    run = mapper if mapper is not None else map
    results = list(run(_solve_lp_job, jobs))
    x = np.full(problem.n_pairs, np.nan, dtype=np.float64)
    prices = np.zeros((len(problem.balance_metric) + 1, problem.n_reps), dtype=np.float64)
    value = 0.0
    optimal = True
    for g, (st, val, xs, pr) in zip(groups, results, strict=True):
        if st == "infeasible":
            return Bound(math.inf, "lp-pools" if split else "lp", infeasible=True,
                         runtime=time.perf_counter() - t0)
        if st != "optimal":
            optimal = False
            continue
        value += val
        assert xs is not None and pr is not None
        x[g] = xs
        reps_g = np.unique(problem.indices[g])
        prices[:, reps_g] = pr[:, reps_g]
    method = "lp-pools" if split else "lp"
    if not optimal:
        value = -math.inf
    return Bound(value, method, optimal=optimal, runtime=time.perf_counter() - t0, x=x,
                 prices=prices, stats={"lps": len(groups), "largest_lp_pairs": biggest})


def _solve_lp_job(job: tuple[ProblemData, I64, bool, float, int]
                  ) -> tuple[str, float, F64 | None, F64 | None]:
    problem, pairs, budgets, tl, threads = job
    return _solve_lp(problem, pairs, budgets, tl, threads)


# -- Lagrangian ---------------------------------------------------------------------------------
def _dualised(problem: ProblemData) -> tuple[F64, F64, F64, I64]:
    """Rows dualised by the Lagrangian: (coef per (row-kind, item) matrix A [K, k], lower [K, m],
    upper [K, m], metric row per kind). Kinds: each hard balance rule, then capacity."""
    hard = _hard_rules(problem)
    qs = [int(problem.balance_q[b]) for b in hard] + [0]
    lower = np.vstack([problem.lower[b] for b in hard] + [np.full(problem.n_reps, -np.inf)])
    upper = np.vstack([problem.upper[b] for b in hard] + [problem.rep_capacity])
    A = problem.item_metric[qs]
    return A, lower, upper, np.asarray(qs, dtype=np.int64)


def lagrangian_value(problem: ProblemData, mu: F64, nu: F64
                     ) -> tuple[float, npt.NDArray[np.int64], F64]:
    """``L(μ, ν)`` with the minimising pair per item and the row totals of that assignment.

    ``mu``/``nu`` are ``(K, m)`` multipliers of the upper/lower sides (see :func:`_dualised`).
    Returns ``(value, chosen pair per item, totals (K, m))``.
    """
    A, lower, upper, _ = _dualised(problem)
    lam = mu - nu  # (K, m)
    reps = problem.indices
    items = problem.pair_item
    red = problem.pair_cost + np.einsum("kp,kp->p", lam[:, reps], A[:, items])
    best = _argmin_per_item(problem, red)
    value = float(red[best].sum())
    fin_u = np.isfinite(upper)
    fin_l = np.isfinite(lower)
    value -= float((mu[fin_u] * upper[fin_u]).sum())
    value += float((nu[fin_l] * lower[fin_l]).sum())
    chosen_rep = reps[best]
    totals = np.zeros_like(lam)
    for kk in range(A.shape[0]):
        totals[kk] = np.bincount(chosen_rep, weights=A[kk], minlength=problem.n_reps)
    return value, best, totals


def _argmin_per_item(problem: ProblemData, values: F64) -> npt.NDArray[np.int64]:
    """Pair index of the smallest value per item (ties: lowest rep) — vectorised over CSR."""
    k = problem.n_items
    # O(P): per-item minimum by reduceat, then the first pair attaining it
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    starts = problem.indptr[:-1]
    mins = np.minimum.reduceat(values, starts)
    pos = np.arange(len(values), dtype=np.int64)
    first = np.where(values <= mins[problem.pair_item], pos, len(values))
    return np.minimum.reduceat(first, starts).astype(np.int64)


def lagrangian_bound(
    problem: ProblemData,
    *,
    iterations: int = 200,
    time_limit: float = 30.0,
    mu0: F64 | None = None,
    nu0: F64 | None = None,
    upper_estimate: float | None = None,
) -> tuple[Bound, F64, F64]:
    """Best Lagrangian bound found by projected subgradient (Polyak steps when an upper estimate
    of the optimum is given, else diminishing steps). Returns ``(bound, μ, ν)``."""
    t0 = time.perf_counter()
    A, lower, upper, _ = _dualised(problem)
    K, m = lower.shape
    mu = np.zeros((K, m)) if mu0 is None else np.array(mu0, dtype=np.float64)
    nu = np.zeros((K, m)) if nu0 is None else np.array(nu0, dtype=np.float64)
    if problem.n_items == 0:
        return Bound(0.0, "lagrangian"), mu, nu
    if np.any(np.diff(problem.indptr) == 0):
        return Bound(math.inf, "lagrangian", infeasible=True), mu, nu
    fin_u = np.isfinite(upper)
    fin_l = np.isfinite(lower)
    # row scale: one unit of price per unit of relative band
    scale = np.where(fin_u, np.maximum(np.abs(np.where(fin_u, upper, 0.0)), 1.0), 1.0)
    best = -math.inf
    alpha = 1.0
    base = float(np.abs(problem.pair_cost).sum()) / max(problem.n_items, 1)
    stall = 0
    it = 0
    for it in range(iterations):  # noqa: B007 - it reported in stats
        val, _, tot = lagrangian_value(problem, mu, nu)
        if not math.isfinite(best) or val > best + 1e-9 * max(1.0, abs(best)):
            best = val
            stall = 0
        else:
            stall += 1
            if stall >= 10:
                alpha *= 0.5
                stall = 0
        g_u = np.where(fin_u, tot - np.where(fin_u, upper, 0.0), 0.0) / scale
        g_l = np.where(fin_l, np.where(fin_l, lower, 0.0) - tot, 0.0) / scale
        # projected: only directions that stay feasible in μ, ν ≥ 0
        g_u = np.where((mu <= 0) & (g_u < 0), 0.0, g_u)
        g_l = np.where((nu <= 0) & (g_l < 0), 0.0, g_l)
        norm2 = float((g_u ** 2).sum() + (g_l ** 2).sum())
        if norm2 <= 1e-18:
            break  # the relaxed assignment is feasible: the bound is optimal for the relaxation
        if upper_estimate is not None and math.isfinite(upper_estimate):
            step = alpha * max(upper_estimate - val, 1e-9 * max(abs(val), 1.0)) / norm2
        else:
            step = alpha * base * problem.n_items / (it + 1) / math.sqrt(norm2) / 10.0
        mu = np.maximum(mu + step * g_u / scale, 0.0)
        nu = np.maximum(nu + step * g_l / scale, 0.0)
        if time.perf_counter() - t0 > time_limit:
            break
    return (Bound(best, "lagrangian", optimal=True, runtime=time.perf_counter() - t0,
                  stats={"iterations": it + 1}), mu, nu)


__all__ = ["LP_MAX_PAIRS", "Bound", "lagrangian_bound", "lagrangian_value", "lp_bound"]
