"""LP rounding by restricted MIPs, pool by pool.

An optimal basic LP solution has few fractional items (at most one per binding band or capacity
row), and the LP's reduced costs say which alternatives are nearly as cheap as the LP's choice.
Taking each item's largest ``x`` (the *argmax* start) is therefore nearly optimal but leaves a
few reps a little outside their hard bands. Repairing that by local moves is what used to cost
several percent of travel; here each pool is instead re-solved as a small MIP in which

* every item whose LP value is integral and whose best alternative is dear stays **fixed** at its
  argmax rep (one column, which presolve removes at once);
* the **free** items — the fractional ones, plus the ``free_share`` of the pool's items with the
  smallest alternative reduced cost (at most :data:`MAX_FREE`) — may take their argmax rep, any
  rep the LP used, or one of their ``per_item`` cheapest reps by reduced cost.

The MIP has the pool's hard bands and capacities exactly (the LP of
:func:`terraplan.solvers.bounds._build_lp` with integral ``x``), is hinted with the argmax start
and stops at ``gap`` or its share of the time. Pools of up to :data:`FULL_POOL_PAIRS` pairs —
the lumpy ones, a few reps sharing heavy-tailed accounts, where the restriction is often
infeasible — are solved whole; a larger smooth pool's restriction is widened once (three times
the free items, two more reps each) when it finds nothing. A large *lumpy* pool (at most
:data:`LOOSE_ITEMS_PER_REP` items per rep: some thirty heavy-tailed accounts per rep, where any
restriction that fixes part of each book is integer-infeasible) frees every item instead, over
its few cheapest reps by reduced cost — :data:`LOOSE_LADDER` of them, the next rung when a MIP
finds no plan (proven infeasible in presolve, or out of time), then every pair on pools up to
:data:`LOOSE_FULL_PAIRS` — each MIP for :data:`LOOSE_MIP_SHARE` of the pool's time left. The
fewer reps per item, the easier the MIP (too few, and it has no plan at all): on the 100k book
(seed 3, 5 s a pool) five reps per item took the 1,018-account pool to 5 % over its LP where
ten found no plan and every pair gave 393 %. CP-SAT then improves the plan with the pool's
time left (:func:`_merge`), round after round over that plan's pairs and the pairs the LP
uses. Pools are taken smallest first with an equal share of the time left (a lumpy pool's
weighed ``lumpy_weight`` times a smooth one's: 3 on small books, 1.5 in the pipeline); pools
that found no plan, or stopped short of the gap, get a second pass with the time that
remains, hinted with the first pass's plan and kept only when cheaper. A smooth pool whose
MIPs all fail (its LP cut off by the clock, so the argmax leaves many reps outside their
bands) gets the local search on that pool alone for the pool's time left
(:func:`_search_pool`), then the second pass hinted with the result; at 100k, seed 2, 60 s,
this left 4 band violations at the end of the solve instead of 52.
:func:`lp_and_round` runs the pool LPs and this rounding as one pipeline: a pool is rounded as
soon as its own LP is solved (in that order, not smallest first).
Global continuity budgets are not seen here (they are the search's).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData
from terraplan.solvers.base import CancelToken
from terraplan.solvers.bounds import Bound
from terraplan.solvers.heuristic.polish import cpsat_pool, merge_columns, pool_mip, pool_pairs

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Pools up to this many pairs are re-solved over every pair (no restriction).
FULL_POOL_PAIRS = 5_000

#: Items a restricted pool MIP frees at least (small pools: all of them) and at most besides
#: the fractional ones (a 27k-item pool with 2,700 free items found no plan in 10 s; 1,400 did).
MIN_FREE = 200
MAX_FREE = 1_500

#: A pool is lumpy with at most this many items per rep (the generated enterprise pools have
#: ~30, each a few % of a rep's target; smooth pools ~400).
LOOSE_ITEMS_PER_REP = 100

#: Candidate reps per item (by reduced cost, the LP's own reps always in) of a lumpy pool's
#: MIPs, one rung after another while they find no plan; after them, pools up to
#: LOOSE_FULL_PAIRS pairs try once more over every pair. 100k book, seed 3, 5 s a pool alone,
#: over their LP: ten reps per item gave 33 / 20 / 50 / 33 % on four lumpy pools and no plan on
#: the fifth; five (then ten) 21-33 / 6-7 / 26-28 / 17-18 / 5 %; four found no plan on three.
#: With 3 s a pool (what they get in a 60 s solve), the cost above their LPs of the five lumpy
#: pools of each seed, seeds 1 / 2 / 3: (5, 10) 17.7 / 13.1 / 12.3 M, (6, 10) 8.0 / 11.5 /
#: 15.1 M (34.6 M in all against 43.1 M); (5, 7, 10) on seeds 1 and 3: 11.7 / 13.9 M.
LOOSE_LADDER = (6, 10)
LOOSE_FULL_PAIRS = 40_000

#: Share of a lumpy pool's time left for each of its MIPs (the rest, once one found a plan:
#: CP-SAT's merges from it), and the seconds a merge or a pool's search needs at least to run.
#: CP-SAT's LNS improves a lumpy pool faster than HiGHS' search beyond its first plan: 100k ×
#: 500, 60 s, seeds 1 / 2 / 3 over the full LP, two or three runs each, 0.25: 2.13, 2.28 /
#: 2.78, 2.57 / 2.78, 3.21 %; 0.4 (before): 2.24, 2.67, 2.52 / 2.95, 2.72, 2.92 / 3.29, 3.08,
#: 3.07 %
LOOSE_MIP_SHARE = 0.25
MIN_STAGE_SECONDS = 0.5

#: The CP-SAT merges of a lumpy pool (:func:`_merge`): each over the plan's pairs, the LP's and
#: each item's ``MERGE_WIDEN[level]`` cheapest by reduced cost, the next level when a merge
#: finds nothing cheaper (back to the first when it does); each gets MERGE_SLICE_SHARE of the
#: time left, at least MERGE_SLICE seconds. Pool 8 of the 100k seed-3 book from a plan 393 %
#: over its LP: one 3 s merge reached 158 %; merges of 2 s each, re-centred on the new plan,
#: 46 % after four.
MERGE_WIDEN = (0, 2)
MERGE_SLICE = 1.0
MERGE_SLICE_SHARE = 0.25
#: CP-SAT workers of those merges: two, and one while a pool LP is being solved on the other
#: core. With two workers beside the column generation of a 1.40M-pair pool (100k × 500, seed
#: 2, AMD EPYC), three threads shared two cores: its master rounds took 1.6 times as long as
#: alone, and twice the LP was cut off by its deadline after 3 and 6 of its 9 rounds (the first
#: time without a plan: 32 of its reps left outside their bands); with one worker it ended in
#: time, 9 rounds. Three with one full search lost here, where the merges
#: share the two cores with the column generation of the big pools: at 100k × 500, 60 s, seeds
#: 1 / 2 / 3, 2.68 / 3.38 / 3.36 % over the full LP against 2.24 / 2.95 / 3.29 % with two
#: (CP-SAT's split: one full, one LNS).
MERGE_WORKERS = 2
#: Raw CP-SAT parameters of every CP-SAT merge, these and the merge phase's
#: (:func:`terraplan.solvers.heuristic._merge_pools`, ``threads`` workers): every worker runs
#: CP-SAT's LNS from the plan (a single worker
#: interleaves it: :func:`terraplan.solvers._exact.cpsat_solver`).
#: The merges are short of LNS calls, not of neighbourhood: in a 3 s merge of pool 5 of the 100k
#: seed-3 book every one of ~18 LNS calls improved the plan. No worker proves a neighbourhood
#: empty, so a merge uses its whole slice and a pool is widened (:data:`MERGE_WIDEN`) only when
#: a merge finds nothing cheaper. CP-SAT's own split of three workers is two full searches
#: (default_lp, core) and one thread of LNS; one full and two LNS (``num_full_subsolvers`` 1,
#: before) took the merge phase alone, 15 s from one rounded plan and 3 s of search after it,
#: from 3.01-3.15 % over the full LP to 2.11-2.21 % on seed 1 and from 3.21-3.64 % to
#: 2.94-3.07 % on seed 3 (Intel Xeon); on an AMD EPYC, seed 3, mean of three to five runs,
#: 2.74 % with one full and two LNS threads, 2.52 % with three LNS threads and 2.48 % with two
#: (seed 1: 2.18, 1.97 % with two). These merges LNS only too, against CP-SAT's split of two
#: workers (one full, one LNS), the merge phase LNS only in both, 60 s solves, % over the full
#: LP, seeds 1 / 2 / 3: 1.42, 1.25 / 2.01, 2.03 / 2.21, 2.42 against 1.45, 1.40 / 2.08, 2.20 /
#: 2.74, 2.50 (``run_large.py``, Intel Xeon, 2026-11-24); on an AMD EPYC 1.93, 2.23 / 2.10,
#: 2.32 / 2.70, 2.22 against 2.13, 2.26 / 2.77, 2.81 / 2.71, 2.63 (script).
MERGE_CPSAT_PARAMS: dict[str, object] = {"use_lns_only": True}


@dataclass(frozen=True, slots=True)
class RoundingStats:
    pools: int
    rounded: int  # pools whose MIP gave a plan
    widened: int  # restricted MIPs retried with more freedom
    seconds: float
    loose: int = 0  # lumpy pools rounded by the unrestricted last attempt
    searched: int = 0  # smooth pools no MIP rounded, repaired in part by the local search
    #: lumpy pools whose last merge (:func:`_merge`) found nothing cheaper or won less than
    #: ``stall`` of the pool's cost above its LP: the merge phase starts them by clusters
    stalled: frozenset[int] = frozenset()


def round_lp(problem: ProblemData, x: F64, reduced: F64, start: I64, deadline: float, *,
             seed: int = 0, gap: float = 0.005, free_share: float = 0.1, per_item: int = 3,
             cancel: CancelToken | None = None, workers: int = 1, lumpy_weight: float = 1.0,
             stall: float = 0.0) -> tuple[I64, RoundingStats]:
    """Round the LP solution ``x`` (per pair) pool by pool; returns the rep of every item.

    ``start`` is the argmax assignment (kept wherever a pool's MIP finds nothing); pools are
    taken smallest first, each with a share of the time left (``workers`` pools at once in
    threads: HiGHS releases the GIL, and pools touch disjoint items) — equal shares, a lumpy
    pool's weighed ``lumpy_weight`` times a smooth one's; pools that found no plan get a
    second pass with the time that is left. ``stall``: see :attr:`RoundingStats.stalled`.
    """
    groups = pool_pairs(problem)
    # smallest first: a small pool's MIP either closes fast or needs a second pass, and the
    # large pools (restricted MIPs, whose first incumbents can be poor) get what is left
    groups.sort(key=len)
    r = _Rounder(problem, x, reduced, start, deadline, groups, seed=seed, gap=gap,
                 free_share=free_share, per_item=per_item, cancel=cancel, workers=workers,
                 lumpy_weight=lumpy_weight, stall=stall)
    r.run(groups)
    return r.finish()


def lp_and_round(problem: ProblemData, *, lp_time: float, deadline: float, seed: int = 0,
                 gap: float = 0.005, cancel: CancelToken | None = None, workers: int = 1,
                 narrow_items: float = 0.0, lumpy_weight: float = 1.0, stall: float = 0.0
                 ) -> tuple[Bound, I64, RoundingStats]:
    """The pool LPs (:func:`terraplan.solvers.bounds.lp_bound`, pool by pool, each within
    ``lp_time`` seconds from now) and their rounding (:func:`round_lp`, until ``deadline``) in
    one pipeline of ``workers`` threads: a pool's rounding is queued as soon as its own LP is
    solved, behind the LPs still waiting, so a worker that has no LP left rounds the pools
    whose LPs are done instead of waiting for the slowest one. A lumpy pool's share of the
    rounding's time is weighed ``lumpy_weight`` times a smooth one's, and ``stall`` says which
    lumpy pools' merges stalled (as in :func:`round_lp`).

    At 100k × 500 one 1.4M-pair pool's column generation took 20 s of the LP phase's 27 s on
    the machine this was built on (13.5-40 s on others: docs/benchmarks.md), the last 16 s
    alone: the other core stood idle while the lumpy pools, which gain the most from time (one
    alone, 3 s: 12 % over its LP, 10 s: 3-5 %), waited for it.

    Returns the bound of the pool LPs (as ``lp_bound`` gives it, ``x`` per pair), the rounded
    rep of every item (a pool whose LP was not solved: each item's cheapest pair), and the
    rounding's figures.
    """
    from terraplan.solvers.bounds import _LpResult, _solve_lp_job, combine_pool_lps
    from terraplan.solvers.heuristic.construct import argmax_reps, cheapest

    t0 = time.perf_counter()
    p = problem
    groups = pool_pairs(p)
    lp_end = t0 + lp_time
    x = np.full(p.n_pairs, np.nan)
    reduced = np.full(p.n_pairs, np.nan)
    start = cheapest(p)  # a pool whose LP is not solved keeps it
    r = _Rounder(p, x, reduced, start, deadline, groups, seed=seed, gap=gap, cancel=cancel,
                 workers=workers, lumpy_weight=lumpy_weight, stall=stall)
    results: list[_LpResult] = [_LpResult("limit", -math.inf)] * len(groups)
    infeasible = threading.Event()
    futures: list[Future[None]] = []

    def lp(i: int, ex: ThreadPoolExecutor) -> None:
        left = lp_end - time.perf_counter()
        g = groups[i]
        if left <= 0.05 or infeasible.is_set() or (cancel is not None and cancel.cancelled):
            return
        with r.lock:
            r.lps_running += 1
        try:
            res = _solve_lp_job((p, g, False, left, 1, cancel, None, narrow_items))
        finally:
            with r.lock:
                r.lps_running -= 1
        results[i] = res
        if res.status == "infeasible":
            infeasible.set()
            return
        if res.status not in ("optimal", "partial") or res.x is None or res.reduced is None:
            return
        x[g] = res.x
        reduced[g] = res.reduced
        items, reps = argmax_reps(p, g, res.x)
        with r.lock:
            r.a[items] = reps
            r.hint[items] = reps
        futures.append(ex.submit(r.one, g))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        # LPs smallest first (a short budget still solves most pools); each pool's rounding
        # joins the queue behind the LPs not yet started
        for i in sorted(range(len(groups)), key=lambda i: len(groups[i])):
            futures.append(ex.submit(lp, i, ex))
        k = 0
        while k < len(futures):  # a job appends its pool's rounding before it ends
            futures[k].result()
            k += 1
    bound = combine_pool_lps(p, groups, results, len(groups) > 1, t0)
    if bound.infeasible:
        return bound, start, r.finish(second_pass=False)[1]
    a, stats = r.finish()
    return bound, a, stats


class _Rounder:
    """The rounding of :func:`round_lp`, pool by pool (:meth:`one`, thread-safe: pools touch
    disjoint items), then a second pass (:meth:`finish`)."""

    def __init__(self, p: ProblemData, x: F64, reduced: F64, start: I64, deadline: float,
                 groups: list[I64], *, seed: int, gap: float, free_share: float = 0.1,
                 per_item: int = 3, cancel: CancelToken | None, workers: int,
                 lumpy_weight: float, stall: float = 0.0) -> None:
        self.p, self.x, self.reduced = p, x, reduced
        self.deadline, self.seed, self.gap = deadline, seed, gap
        self.free_share, self.per_item, self.cancel = free_share, per_item, cancel
        self.lumpy_weight, self.stall = lumpy_weight, stall
        self.stalled: set[int] = set()
        self.t0 = time.perf_counter()
        self.a = start.copy()
        self.hint = start.copy()
        # pools are known by identity (``id`` of their pair array) in these maps
        self.lumpy = {id(g): len(np.unique(p.pair_item[g]))
                      <= LOOSE_ITEMS_PER_REP * len(np.unique(p.indices[g])) for g in groups}
        self.lock = threading.Lock()
        self.count = {"rounded": 0, "widened": 0, "loose": 0, "searched": 0}
        # weight of the pools not started yet (a lumpy pool's: lumpy_weight)
        self.weight_left = sum(self._weight(g) for g in groups)
        self.workers = max(1, min(workers, len(groups)))
        self.failed: list[I64] = []
        self.done: set[int] = set()
        self.n_groups = len(groups)
        # pool LPs being solved beside the rounding now (counted by lp_and_round)
        self.lps_running = 0

    def _weight(self, pairs: I64) -> float:
        return self.lumpy_weight if self.lumpy[id(pairs)] else 1.0

    def finish(self, second_pass: bool = True) -> tuple[I64, RoundingStats]:
        """Second pass: pools that found no plan, or stopped short of the gap, share whatever
        time is left, hinted with the first pass's plans (feasible where one was found)."""
        if second_pass and self.failed and time.perf_counter() < self.deadline - 0.05:
            retry = sorted(self.failed, key=len)
            self.failed = []
            self.hint = self.a.copy()
            self.weight_left = sum(self._weight(g) for g in retry)
            self.run(retry)
        c = self.count
        return self.a, RoundingStats(self.n_groups, c["rounded"], c["widened"],
                                     time.perf_counter() - self.t0, c["loose"], c["searched"],
                                     frozenset(self.stalled))

    def run(self, todo: list[I64]) -> None:
        """Round the pools ``todo`` (``workers`` at once in threads: HiGHS releases the GIL)."""
        if self.workers > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as ex:
                list(ex.map(self.one, todo))
        else:
            for pairs in todo:
                self.one(pairs)

    def one(self, pairs: I64) -> None:
        """Round the pool of ``pairs`` with its share of the time left."""
        p, x, reduced, cancel = self.p, self.x, self.reduced, self.cancel
        w = self._weight(pairs)
        with self.lock:
            share = ((self.deadline - time.perf_counter()) * self.workers * w
                     / max(self.weight_left, w))
            self.weight_left -= w
            hint = self.hint
        share = min(share, self.deadline - time.perf_counter())
        if share < 0.02 or (cancel is not None and cancel.cancelled):
            return
        if not np.isfinite(reduced[pairs]).all() or not np.isfinite(x[pairs]).all():
            return  # this pool's LP was not solved
        pool_deadline = time.perf_counter() + share
        lumpy = self.lumpy[id(pairs)]
        # (free share, reps per free item, a lumpy pool's attempt?): a small pool is one MIP
        # anyway (there the restriction is often infeasible); a large smooth one gets the
        # restriction, widened once; a large lumpy one (~30 heavy-tailed accounts per rep:
        # fixing part of each book is integer-infeasible) every item free over its few
        # cheapest reps, LOOSE_LADDER rung by rung (not on smooth pools: at 26k items such a
        # MIP overruns its limit in HiGHS' presolve)
        if len(pairs) <= FULL_POOL_PAIRS:
            attempts = [(1.0, 10**9, False)]
        elif lumpy:
            attempts = [(1.0, k, True) for k in LOOSE_LADDER]
            if len(pairs) <= LOOSE_FULL_PAIRS:
                attempts.append((1.0, 10**9, True))
        else:
            attempts = [(self.free_share, self.per_item, False),
                        (min(3 * self.free_share, 1.0), self.per_item + 2, False)]
        key = id(pairs)
        for j, (fs, pi, loose) in enumerate(attempts):
            left = pool_deadline - time.perf_counter()
            if left < 0.02:
                return
            # a smooth pool's first try gets most of its time, a retry what is left; a lumpy
            # pool's MIPs part of it each: CP-SAT then improves the first plan with the rest
            limit = left * (LOOSE_MIP_SHARE if loose else 0.6 if j + 1 < len(attempts) else 1.0)
            t_mip = time.perf_counter()
            got, closed = _pool_mip(p, pairs, x, reduced, hint, fs, pi, limit, self.seed,
                                    self.gap, cancel)
            stalled = False
            if got is not None and loose:
                m_items, m_reps, stalled = _merge(p, pairs, x, reduced, hint, got, pool_deadline,
                                                  self.seed, cancel, lambda: self.lps_running > 0,
                                                  self.stall)
                got, closed = (m_items, m_reps), True
            log.debug("round pool of %d pairs, attempt %d (free %.2f, %d reps/item%s): %s "
                      "in %.1f of %.1f s", len(pairs), j, fs, pi, ", loose" if loose else "",
                      "no plan" if got is None else ("closed" if closed else "a plan"),
                      time.perf_counter() - t_mip, limit)
            if got is not None:
                items, reps = got
                with self.lock:
                    if key in self.done and not _cheaper(p, self.a, items, reps):
                        return  # a second pass that did not beat the first
                    self.a[items] = reps
                    if stalled:
                        self.stalled.add(int(p.item_pool[items[0]]))
                    self.count["rounded"] += key not in self.done
                    self.count["loose"] += loose and key not in self.done
                    self.done.add(key)
                    if not closed:
                        self.failed.append(pairs)  # a plan, but cut off: worth a second pass
                return
            with self.lock:
                self.count["widened"] += 1
        if not lumpy and len(pairs) > FULL_POOL_PAIRS:
            # a smooth pool whose restrictions are all infeasible (its LP cut off by the
            # clock: the argmax leaves many reps outside their bands): the local search on
            # the pool alone repairs what it can with the pool's time left
            got = _search_pool(p, pairs, hint, pool_deadline, self.seed, cancel)
            if got is not None:
                with self.lock:
                    self.a[got[0]] = got[1]
                    self.count["searched"] += 1
        with self.lock:
            self.failed.append(pairs)


def _merge(p: ProblemData, pairs: I64, x: F64, reduced: F64, hint: I64,
           got: tuple[I64, I64], deadline: float, seed: int, cancel: CancelToken | None,
           lp_running: Callable[[], bool] = lambda: False, stall: float = 0.0
           ) -> tuple[I64, I64, bool]:
    """The rounded plan ``got`` (items, reps) of the pool of ``pairs`` improved by CP-SAT
    (:func:`.polish.cpsat_pool`, every rule of the pool) until ``deadline``, merge after merge
    over the plan's own pairs, the pairs the LP uses and, when that finds nothing cheaper, each
    item's cheapest pairs by reduced cost (:data:`MERGE_WIDEN`); ``got`` itself when CP-SAT
    finds nothing cheaper. While ``lp_running()`` (a pool LP on the other core), each merge runs
    one CP-SAT worker (LNS interleaved in it), so the LP keeps its core. The third value says
    whether the last merge found nothing cheaper or won less than ``stall`` of the pool's cost
    above its LP (``x``): the merge phase then goes on by clusters, not by another merge.

    On the 100k seed-1 book, pool by pool alone: HiGHS for 4 s then CP-SAT for 6 s leaves the
    five lumpy pools 13.1, 2.8, 8.1, 1.8 and 19.8 % over their LP; HiGHS alone for 10 s left
    the small three 7.5, 8.0 and 4.6 % over, and the two large ones stay at 31 and 51 % (its
    first plans) for 4 s and at 22-27 and 45 % after 12 s."""
    items, reps = got
    a = hint.copy()
    a[items] = reps
    pool = int(p.item_pool[items[0]])

    def cost(its: I64, reps: I64) -> float:
        return float(p.pair_cost[p.pair_lookup(its, reps)].sum())

    cost0 = cur = cost(items, a[items])  # (``got`` and CP-SAT's plans hold every pool item)
    level = rounds = 0
    lp = float(p.pair_cost[pairs] @ x[pairs])
    stalled = False
    while not (cancel is not None and cancel.cancelled):
        left = deadline - time.perf_counter()
        if left < MIN_STAGE_SECONDS:
            break
        cols = merge_columns(p, pairs, a, x, MERGE_WIDEN[level], reduced)
        t = min(left, max(MERGE_SLICE, MERGE_SLICE_SHARE * left))
        better = cpsat_pool(p, pool, cols, a, t, seed=seed + rounds,
                            threads=1 if lp_running() else MERGE_WORKERS,
                            cpsat_params=MERGE_CPSAT_PARAMS, cancel=cancel)
        rounds += 1
        new = math.inf if better is None else cost(*better)
        if new < cur:
            assert better is not None
            a[better[0]] = better[1]
            level = 0  # a new plan: its own neighbourhood first
            stalled = merge_stalled(cur - new, cur - lp, stall)
            cur = new
        else:
            stalled = True
            if level + 1 < len(MERGE_WIDEN):
                level += 1
            else:
                break
    log.debug("merge pool %d: %d round(s), %.4g -> %.4g%s", pool, rounds, cost0, cur,
              ", stalled" if stalled else "")
    return items, a[items], stalled


def merge_stalled(won: float, excess: float, stall: float) -> bool:
    """Whether a merge that won ``won`` of its pool's ``excess`` over the LP stalled: won less
    than the share ``stall`` of it (the rounding's merges and the merge phase's alike)."""
    return won < stall * excess


def _search_pool(p: ProblemData, pairs: I64, hint: I64, deadline: float, seed: int,
                 cancel: CancelToken | None) -> tuple[I64, I64] | None:
    """The local search (:class:`.search.Search`) on the pool of ``pairs`` alone, from ``hint``
    (an item off its candidates starts on its first one), until ``deadline``: ``(items, reps)``
    when it lowered the pool's violation, else ``None``."""
    from terraplan.solvers.decompose import pool_view
    from terraplan.solvers.heuristic.search import Search
    from terraplan.solvers.heuristic.state import V_EPS, SearchState

    if deadline - time.perf_counter() < MIN_STAGE_SECONDS:
        return None
    sub, view = pool_view(p, int(p.item_pool[p.pair_item[pairs[0]]]))
    items = sub.items
    local = hint[items].astype(np.int64)
    off = view.pair_index(local) < 0
    local[off] = view.indices[view.indptr[:-1][off]]
    state = SearchState(view, local)
    v0 = state.violation

    def stop() -> bool:
        return time.perf_counter() >= deadline or bool(cancel is not None and cancel.cancelled)

    Search(state, np.random.default_rng(seed), stop,
           time_left=lambda: deadline - time.perf_counter()).run()
    if not state.violation < v0 - V_EPS:
        return None
    return items, state.a.copy()


def _cheaper(p: ProblemData, a: I64, items: I64, reps: I64) -> bool:
    """Whether giving ``items`` to ``reps`` costs less (linear pair costs) than ``a`` does."""
    return bool(p.pair_cost[p.pair_lookup(items, reps)].sum()
                < p.pair_cost[p.pair_lookup(items, a[items])].sum())


def _pool_mip(p: ProblemData, pairs: I64, x: F64, reduced: F64, start: I64,
              free_share: float, per_item: int, time_limit: float, seed: int, gap: float,
              cancel: CancelToken | None) -> tuple[tuple[I64, I64] | None, bool]:
    """One restricted MIP over a pool: ``(items, reps)`` of its plan (or ``None``), and
    whether the MIP closed its gap. ``time_limit`` counts the restriction's set-up too (a
    few sorts over a 1.5M-pair pool take a second or two)."""
    end = time.perf_counter() + time_limit
    it = p.pair_item[pairs].astype(np.int64)
    rep = p.indices[pairs].astype(np.int64)
    items = np.unique(it)
    reps = np.unique(rep)
    xs, rc = x[pairs], reduced[pairs]
    is_start = rep == start[it]
    # each item's cheapest alternative to its start rep, by reduced cost
    alt = np.full(p.n_items, np.inf)
    np.minimum.at(alt, it, np.where(is_start, np.inf, rc))
    frac = np.zeros(p.n_items, dtype=bool)
    frac[it[(xs > 1e-6) & (xs < 1 - 1e-6)]] = True
    n_free = len(items) if free_share >= 1.0 else \
        max(MIN_FREE, min(int(free_share * len(items)), MAX_FREE))
    free = np.zeros(p.n_items, dtype=bool)
    free[items[np.argsort(alt[items], kind="stable")[:n_free]]] = True
    free |= frac
    # rank of each pair within its item by reduced cost
    o = np.argsort(rc, kind="stable")
    o = o[np.argsort(it[o], kind="stable")]
    first = np.searchsorted(it[o], it[o], side="left")
    rank = np.empty(len(pairs), dtype=np.int64)
    rank[o] = np.arange(len(pairs)) - first
    keep = np.where(free[it], is_start | (xs > 1e-6) | (rank < per_item), is_start)
    chosen, status = pool_mip(p, pairs[keep], items, reps, start,
                              max(end - time.perf_counter(), 0.02), seed=seed,
                              gap=gap, cancel=cancel)
    closed = status == "Optimal"
    if chosen is None:
        return None, closed
    return (p.pair_item[chosen].astype(np.int64), p.indices[chosen].astype(np.int64)), closed


__all__ = ["RoundingStats", "lp_and_round", "merge_stalled", "round_lp"]
