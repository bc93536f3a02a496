"""Decomposition: split a problem into independent eligibility pools and solve them separately.

Two pools share no eligible rep (:attr:`ProblemData.rep_pool`/``item_pool``), so without a
global continuity budget the objective and every hard rule separate by pool: the optimum of the
whole is the sum of the pool optima, and pool bounds add up to a bound of the whole.
:func:`split_pools` builds one self-contained :class:`~terraplan.problem.ProblemData` per pool
(all reps kept, so rep indices are unchanged; items, accounts and pairs restricted and renumbered);
:func:`solve_decomposed` solves them with any registered backend through a pluggable ``map``.

Running pools (or scenario sweeps) on a cluster
-----------------------------------------------
``mapper`` is any callable with the signature of the builtin ``map`` — in particular
``concurrent.futures.ThreadPoolExecutor(...).map`` or ``ProcessPoolExecutor(...).map``. A Dask
cluster plugs in the same way without terraplan depending on Dask::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")
    executor = client.get_executor()          # a concurrent.futures.Executor
    result = solve_decomposed(problem, mapper=executor.map)

Jobs are plain picklable tuples (the pool problem, backend name, seed, options), so process and
cluster executors work; results come back in pool order, which keeps the output deterministic.
With a global continuity budget (``max_moved_accounts``/``max_moved_share``/``max_moved_per_rep``)
pools are coupled: :func:`solve_decomposed` then solves the problem whole (one job).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData, hard_violations, objective
from terraplan.solvers.base import SolveOptions, SolveResult, Status

I64 = npt.NDArray[np.int64]

Mapper = Callable[..., Iterable[Any]]

#: :func:`solve_decomposed` shares the time limit in proportion to ``pairs ** 0.65``, not to
#: the pairs: a pool's LP, rounding and search do not shrink with it. At 1M accounts × 2,000
#: reps (K = 20, two workers) a share by pairs gave the two 24k-account pools (0.5 M pairs,
#: lumpy) 24 s each and they failed, where 50 s was enough; at 0.6 a 5.9 M-pair pool got 208 s
#: and ended 4 band violations short.
POOL_TIME_EXPONENT = 0.65


@dataclass(frozen=True, slots=True)
class PoolProblem:
    """One pool as a self-contained problem and the maps back to the parent.

    ``items`` / ``accounts`` / ``pairs`` are the parent indices of the pool's items, accounts
    (ascending) and candidate pairs, in the order of the pool problem's own arrays. The pool
    problem's scenario holds the pool's accounts only (same roster, spec and rules), so its
    account-level arrays, plans and messages index that sub-book.
    """

    pool: int
    problem: ProblemData
    items: I64
    accounts: I64
    pairs: I64


def coupled(problem: ProblemData) -> bool:
    """Whether a continuity budget couples the pools (then they cannot be solved apart)."""
    return (problem.max_moved_accounts >= 0 or problem.max_moved_potential >= 0
            or problem.max_moved_per_rep >= 0)


def _ro(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def subproblem(problem: ProblemData, items: I64, pool: int = -1) -> PoolProblem:
    """The problem restricted to ``items`` (ascending parent item indices)."""
    p = problem
    items = np.asarray(items, dtype=np.int64)
    k = len(items)
    sizes = np.diff(p.item_indptr)[items]
    item_indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(sizes, out=item_indptr[1:])
    # parent account rows of the pool's members, grouped by item
    mem_parent = np.concatenate([p.item_members[p.item_indptr[t]:p.item_indptr[t + 1]]
                                 for t in items.tolist()]) if k else np.zeros(0, np.int64)
    accounts = np.sort(mem_parent)
    acc_pos = np.full(p.n_accounts, -1, dtype=np.int64)
    acc_pos[accounts] = np.arange(len(accounts))
    item_members = acc_pos[mem_parent]
    item_of = np.empty(len(accounts), dtype=np.int32)
    item_of[item_members] = np.repeat(np.arange(k, dtype=np.int32), sizes)
    item_root = acc_pos[p.item_root[items]]
    deg = np.diff(p.indptr)[items]
    indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    pairs = np.concatenate([np.arange(p.indptr[t], p.indptr[t + 1]) for t in items.tolist()]) \
        if k else np.zeros(0, np.int64)
    pairs = pairs.astype(np.int64)
    cdeg = np.diff(p.cur_indptr)[items]
    cur_indptr = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(cdeg, out=cur_indptr[1:])
    cur = np.concatenate([np.arange(p.cur_indptr[t], p.cur_indptr[t + 1])
                          for t in items.tolist()]).astype(np.int64) if k else np.zeros(0, np.int64)
    # the pool's own accounts, in the order of its arrays: its plans decode to a Plan of the
    # pool (``decode``), and messages that name accounts by ``item_root`` name the right ones
    scenario = dataclasses.replace(p.scenario, accounts=p.scenario.accounts.take(accounts))
    sub = dataclasses.replace(
        p, scenario=scenario, n_accounts=len(accounts), n_items=k,
        item_of=_ro(item_of), item_indptr=_ro(item_indptr), item_members=_ro(item_members),
        item_root=_ro(item_root),
        account_owner=_ro(p.account_owner[accounts]),
        account_movable_owner=_ro(p.account_movable_owner[accounts]),
        account_lock=_ro(p.account_lock[accounts]),
        indptr=_ro(indptr), indices=_ro(p.indices[pairs]),
        pair_item=_ro(np.repeat(np.arange(k, dtype=np.int32), deg)),
        pair_travel=_ro(p.pair_travel[pairs]), pair_moved=_ro(p.pair_moved[pairs]),
        pair_moved_potential=_ro(p.pair_moved_potential[pairs]),
        pair_move_units=_ro(p.pair_move_units[pairs]), pair_cost=_ro(p.pair_cost[pairs]),
        item_metric=_ro(p.item_metric[:, items]), item_metric_int=_ro(p.item_metric_int[:, items]),
        item_pool=_ro(p.item_pool[items]),
        cur_indptr=_ro(cur_indptr), cur_rep=_ro(p.cur_rep[cur]), cur_count=_ro(p.cur_count[cur]),
        cur_potential=_ro(p.cur_potential[cur]),
        stats={**p.stats, "pool": float(pool)},
    )
    return PoolProblem(pool=pool, problem=sub, items=items, accounts=accounts, pairs=pairs)


def split_pools(problem: ProblemData) -> list[PoolProblem]:
    """One :class:`PoolProblem` per eligibility pool (items without a pool form pool -1).

    Reps of other pools stay in each sub-problem (indices unchanged) but receive nothing: no
    item of the pool has them as candidates, and their targets are those of their own pool,
    so a band check on them is the caller's concern — :func:`solve_decomposed` checks the
    merged plan on the whole problem.
    """
    out: list[PoolProblem] = []
    pools = np.unique(problem.item_pool)
    for pool in pools.tolist():
        items = np.flatnonzero(problem.item_pool == pool).astype(np.int64)
        out.append(subproblem(problem, items, pool))
    return out


def _pool_view(pp: PoolProblem) -> ProblemData:
    """Bands and capacities of reps outside the pool neutralised (they hold nothing here).

    Those reps leave the view's pools too (``rep_pool`` −1), and their integer bands go with
    their float ones: the exact backends (CP-SAT, MILP) post a band row for every rep with a
    pool from ``lower_int``/``upper_int``, which a rep that receives nothing cannot meet."""
    p = pp.problem
    in_pool = p.rep_pool == pp.pool
    lower = np.where(in_pool[None, :], p.lower, -np.inf)
    upper = np.where(in_pool[None, :], p.upper, np.inf)
    target = np.where(in_pool[None, :], p.target, 0.0)
    lower_int = np.where(in_pool[None, :], p.lower_int, 0)
    upper_int = np.where(in_pool[None, :], p.upper_int, 0)
    rep_pool = np.where(in_pool, p.rep_pool, -1).astype(p.rep_pool.dtype)
    return dataclasses.replace(p, lower=_ro(lower), upper=_ro(upper), target=_ro(target),
                               lower_int=_ro(lower_int), upper_int=_ro(upper_int),
                               rep_pool=_ro(rep_pool))


def pool_view(problem: ProblemData, pool: int) -> tuple[PoolProblem, ProblemData]:
    """Pool ``pool`` of ``problem`` on its own: the :class:`PoolProblem` (maps to the parent)
    and its view with the reps of other pools neutralised (:func:`_pool_view`)."""
    sub = subproblem(problem, np.flatnonzero(problem.item_pool == pool).astype(np.int64), pool)
    return sub, _pool_view(sub)


def _solve_job(job: tuple[ProblemData, str, int, SolveOptions]) -> SolveResult:
    problem, backend, seed, options = job
    from terraplan.solvers import get_backend

    impl = get_backend(backend)
    return impl.solve(problem, seed=seed, options=options, stop=None, cancel=None,
                      callbacks=(), initial=None)


def solve_decomposed(
    problem: ProblemData,
    *,
    backend: str = "heuristic",
    seed: int = 0,
    options: SolveOptions = SolveOptions(),
    mapper: Mapper | None = None,
    workers: int | None = None,
) -> SolveResult:
    """Solve pool by pool with ``backend`` and merge (see the module docstring).

    Time: with ``workers`` pools solved at once, pool ``i`` gets ``min(T, T · workers · w_i /
    Σ w)`` of the limit ``T``, ``w_i = pairs_i ** POOL_TIME_EXPONENT``, and the pools are
    handed to ``mapper`` largest first, so an executor with that many workers ends in about
    ``T``. ``workers`` defaults to 1 with the sequential ``map`` and to one per pool with a
    ``mapper`` (each pool gets the whole limit, as on a cluster).
    The merged plan is re-checked on the whole problem; the bound is the sum of pool bounds
    (``None`` if any pool has none).
    """
    from terraplan.solvers import backends

    t0 = time.perf_counter()
    # load the backend plugins here, once: the registry's lazy loading is not thread-safe
    if backend not in backends():
        from terraplan.errors import ParameterError

        raise ParameterError(f"The 'backend' parameter of solve_decomposed must be one of "
                             f"{sorted(backends())}. Got {backend!r}.")
    if coupled(problem) or problem.n_pools <= 1:
        return _solve_job((problem, backend, seed, options))
    if workers is not None and workers < 1:
        from terraplan.errors import ParameterError

        raise ParameterError(f"The 'workers' parameter of solve_decomposed must be None or an "
                             f"int >= 1. Got {workers!r}.")
    parts = split_pools(problem)
    # largest first: with a pool of workers the run then ends when the biggest pools do
    parts.sort(key=lambda pp: -pp.problem.n_pairs)
    weight = [float(pp.problem.n_pairs) ** POOL_TIME_EXPONENT for pp in parts]
    total = max(sum(weight), 1.0)
    w = workers if workers is not None else (1 if mapper is None else len(parts))
    jobs = []
    for pp, wt in zip(parts, weight, strict=True):
        tl = options.time_limit * min(1.0, max(w * wt / total, 0.01))
        jobs.append((_pool_view(pp), backend, seed, dataclasses.replace(options, time_limit=tl)))
    results: Sequence[SolveResult] = list((mapper or map)(_solve_job, jobs))
    a = np.full(problem.n_accounts, -1, dtype=np.int32)
    bound: float | None = 0.0
    statuses = []
    for pp, r in zip(parts, results, strict=True):
        statuses.append(r.status)
        if r.assignment is not None:
            a[pp.accounts] = r.assignment
        if r.bound is None or bound is None:
            bound = None
        else:
            bound += r.bound
    runtime = time.perf_counter() - t0
    if any(s is Status.INFEASIBLE for s in statuses):
        return SolveResult(Status.INFEASIBLE, backend, seed, None, None, runtime,
                           message="a pool is infeasible")
    stats = {"pools": float(len(parts)), **{
        f"pool_{pp.pool}_s": float(r.runtime) for pp, r in zip(parts, results, strict=True)}}
    if not all(s.has_plan for s in statuses):
        failed = [(pp, r) for pp, r in zip(parts, results, strict=True)
                  if not r.status.has_plan]
        why = "; ".join(f"pool {pp.pool} ({len(pp.items)} items, {pp.problem.n_pairs} pairs, "
                        f"{r.runtime:.0f} s): {r.message}" for pp, r in failed[:3])
        return SolveResult(Status.NO_SOLUTION_IN_TIME, backend, seed, None, bound, runtime,
                           message=f"{len(failed)} of {len(parts)} pool(s) without a plan: "
                                   f"{why}", stats=stats)
    ia = problem.item_assignment(a)
    bad = hard_violations(problem, ia)
    if bad:
        return SolveResult(Status.ERROR, backend, seed, None, bound, runtime,
                           message="merged plan breaks: " + "; ".join(bad[:3]))
    obj = objective(problem, ia)
    if bound is not None:
        bound = min(bound, obj) if math.isfinite(bound) else None
    status = Status.OPTIMAL if all(s is Status.OPTIMAL for s in statuses) else Status.FEASIBLE
    return SolveResult(status, backend, seed, obj, bound, runtime, assignment=a,
                       message=f"{len(parts)} pools solved separately", stats=stats)


__all__ = ["POOL_TIME_EXPONENT", "Mapper", "PoolProblem", "cheapest_pairs_mask", "coupled",
           "full_lagrangian_bound", "restrict_pairs", "solve_decomposed", "split_pools",
           "subproblem"]


def restrict_pairs(problem: ProblemData, keep: npt.NDArray[np.bool_]) -> ProblemData:
    """The problem with only the candidate pairs where ``keep`` is True (same items/accounts).

    Any plan of the restricted problem is a plan of the original one (its pairs are a subset),
    so it serves for construction on huge books; its optimum bounds nothing.
    """
    p = problem
    idx = np.flatnonzero(keep).astype(np.int64)
    deg = np.bincount(p.pair_item[idx], minlength=p.n_items).astype(np.int64)
    indptr = np.zeros(p.n_items + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    return dataclasses.replace(
        p, indptr=_ro(indptr), indices=_ro(p.indices[idx]), pair_item=_ro(p.pair_item[idx]),
        pair_travel=_ro(p.pair_travel[idx]), pair_moved=_ro(p.pair_moved[idx]),
        pair_moved_potential=_ro(p.pair_moved_potential[idx]),
        pair_move_units=_ro(p.pair_move_units[idx]), pair_cost=_ro(p.pair_cost[idx]),
        stats={**p.stats, "pairs_restricted_from": float(p.n_pairs)})


def cheapest_pairs_mask(problem: ProblemData, k: int, per_rep_factor: float = 3.0,
                        also: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.bool_]:
    """Mask of each item's ``k`` cheapest candidate pairs, plus each rep's cheapest
    ``per_rep_factor`` × (its pool's items per rep) pairs (so that every rep keeps enough
    candidates to reach its lower band), plus the pairs ``also``."""
    p = problem
    order = np.lexsort((p.pair_cost, p.pair_item))
    rank = np.arange(p.n_pairs, dtype=np.int64) - p.indptr[p.pair_item[order]]
    keep = np.zeros(p.n_pairs, dtype=bool)
    keep[order[rank < k]] = True
    if per_rep_factor > 0:
        reps = p.indices.astype(np.int64)
        order = np.lexsort((p.pair_cost, reps))
        counts = np.bincount(reps, minlength=p.n_reps)
        start = np.zeros(p.n_reps + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        rrank = np.arange(p.n_pairs, dtype=np.int64) - start[reps[order]]
        pool_items = np.bincount(p.item_pool[p.item_pool >= 0], minlength=max(p.n_pools, 1))
        pool_reps = np.bincount(p.rep_pool[p.rep_pool >= 0], minlength=max(p.n_pools, 1))
        share = np.where(p.rep_pool >= 0, pool_items[np.maximum(p.rep_pool, 0)]
                         / np.maximum(pool_reps[np.maximum(p.rep_pool, 0)], 1), 0.0)
        quota = np.ceil(per_rep_factor * share).astype(np.int64)
        keep[order[rrank < quota[reps[order]]]] = True
    if also is not None:
        keep[also[also >= 0]] = True
    return keep



def _kept_min(problem: ProblemData, lam: npt.NDArray[np.float64],
              A: npt.NDArray[np.float64], scales: Sequence[float],
              per_chunk: int = 2_000_000) -> npt.NDArray[np.float64]:
    """Per scale and item: the smallest ``c_p + s·Σ λ a`` over the problem's own pairs (inf
    for an item without pairs), in item chunks of about ``per_chunk`` pairs; ``(S, k)``."""
    k = problem.n_items
    out = np.full((len(scales), k), np.inf)
    if not problem.n_pairs:
        return out
    ptr = problem.indptr
    cuts = np.searchsorted(ptr, np.arange(0, problem.n_pairs, per_chunk), side="right") - 1
    bounds = sorted(set(np.clip(cuts, 0, k).tolist()) | {0, k})
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        lo, hi = int(ptr[a]), int(ptr[b])
        if hi == lo:
            continue
        it, rep = problem.pair_item[lo:hi], problem.indices[lo:hi]
        g = np.einsum("kp,kp->p", lam[:, rep], A[:, it])
        has = np.diff(ptr[a:b + 1]) > 0
        for j, s in enumerate(scales):
            out[j, a:b][has] = np.minimum.reduceat(problem.pair_cost[lo:hi] + s * g,
                                                   ptr[a:b][has] - lo)
    return out


def _row_envelope(dp: Any, lam: npt.NDArray[np.float64], A: npt.NDArray[np.float64],
                  order: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
                  cells: int = 4_000_000) -> npt.NDArray[np.float64]:
    """``min_{r in row(i)} Σ λ_r a_i`` per item of ``dp.items`` (one matrix product per class
    row, in blocks of about ``cells`` item × rep entries)."""
    out = np.empty(len(dp.items))
    for s, e in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        pos = order[s:e]
        c = int(dp.row[pos[0]])
        reps = dp.row_reps[dp.row_ptr[c]:dp.row_ptr[c + 1]]
        lam_c = lam[:, reps]  # (K, d)
        step = max(1, cells // max(len(reps), 1))
        for j in range(0, len(pos), step):
            blk = pos[j:j + step]
            out[blk] = (A[:, dp.items[blk]].T @ lam_c).min(axis=1) if len(reps) else np.inf
    return out


def full_lagrangian_bound(problem: ProblemData, mu: npt.NDArray[np.float64],
                          nu: npt.NDArray[np.float64], *,
                          scales: Sequence[float] = (1.0,)) -> float:
    """``max_s L(s·μ, s·ν)`` of the **full** problem: every allowed pair of
    ``problem.scenario``, also when ``problem`` was compiled with ``max_candidates`` (or
    restricted by :func:`restrict_pairs`).

    A bound computed on a restricted pair set bounds only the restricted problem (dropping
    pairs can raise the optimum), so it is no lower bound of the real one. The Lagrangian value
    at *any* multipliers ``μ, ν ≥ 0`` is (weak duality, see :mod:`terraplan.solvers.bounds`),
    provided the inner minimum per item runs over every allowed pair. Per item it is the
    smaller of

    * the minimum over the problem's own pairs, and
    * for pairs the cut dropped (:func:`terraplan.problem.dropped_pairs`): a single account's
      cost floor plus ``min_r Σ λ_r a_i`` over its whole class row (a valid under-estimate of
      every dropped pair, one small matrix product per class), or, for families, the exact
      minimum over their full candidate rows priced chunk by chunk with
      :func:`terraplan.problem.pair_cost_chunks`.

    Memory stays at one chunk however many pairs the book has. ``scales`` evaluates the
    Lagrangian along the ray ``s·(μ, ν)`` (``s = 0`` is the cheapest-pair sum) and returns the
    best, each value being a valid bound. Good multipliers come from
    :func:`terraplan.solvers.bounds.lagrangian_bound` on the restricted problem. Returns ``inf``
    when an item has no allowed pair at all (the problem is infeasible).
    """
    from terraplan.problem import dropped_pairs, pair_cost_chunks
    from terraplan.solvers.bounds import _dualised

    A, lower, upper, _ = _dualised(problem)
    mu = np.asarray(mu, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    if mu.shape != lower.shape or nu.shape != lower.shape or np.any(mu < 0) or np.any(nu < 0):
        raise ValueError(f"multipliers must be non-negative arrays of shape {lower.shape}")
    if any(s < 0 for s in scales) or not scales:
        raise ValueError("scales must be a non-empty sequence of numbers >= 0")
    dp = dropped_pairs(problem)
    # families (and anything without a floor): price their full rows once
    ex_it: list[npt.NDArray[np.int32]] = []
    ex_rep: list[npt.NDArray[np.int32]] = []
    ex_cost: list[npt.NDArray[np.float64]] = []
    if len(dp.exact):
        for it, rep, cost in pair_cost_chunks(problem.scenario, dp.exact):
            ex_it.append(it)
            ex_rep.append(rep)
            ex_cost.append(cost)
    e_it = np.concatenate(ex_it) if ex_it else np.zeros(0, np.int32)
    e_rep = np.concatenate(ex_rep) if ex_rep else np.zeros(0, np.int32)
    e_cost = np.concatenate(ex_cost) if ex_cost else np.zeros(0)
    e_start = np.flatnonzero(np.r_[True, e_it[1:] != e_it[:-1]]) if len(e_it) else \
        np.zeros(0, np.int64)
    order = np.argsort(dp.row, kind="stable")
    r_sorted = dp.row[order]
    starts = np.flatnonzero(np.r_[True, r_sorted[1:] != r_sorted[:-1], True]) if len(order) \
        else np.zeros(1, np.int64)
    fin_u, fin_l = np.isfinite(upper), np.isfinite(lower)
    const = float((mu[fin_u] * upper[fin_u]).sum()) - float((nu[fin_l] * lower[fin_l]).sum())
    lam = mu - nu
    # one pass per piece serves every scale: s·λ·a is s times λ·a, min_r s·λ_r·a = s·min_r λ_r·a
    item_min = _kept_min(problem, lam, A, scales)
    e_g = np.einsum("kp,kp->p", lam[:, e_rep], A[:, e_it]) if len(e_it) else np.zeros(0)
    env = _row_envelope(dp, lam, A, order, starts) if len(dp.items) else np.zeros(0)
    best_value = -math.inf
    for j, s in enumerate(scales):
        row = item_min[j]
        if len(e_it):
            row[e_it[e_start]] = np.minimum.reduceat(e_cost + s * e_g, e_start)
        if len(dp.items):
            row[dp.items] = np.minimum(row[dp.items], dp.floor + s * env)
        if not np.all(np.isfinite(row)):
            return math.inf
        best_value = max(best_value, float(row.sum()) - s * const)
    return best_value
