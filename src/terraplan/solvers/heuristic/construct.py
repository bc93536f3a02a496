"""Construction: a first assignment from balance prices (LP duals or Lagrangian multipliers).

Two ways to price, both vectorised over the candidate pairs:

* **LP-guided** (when the LP relaxation fits, see :data:`terraplan.solvers.bounds.LP_MAX_PAIRS`):
  the relaxation is solved pool by pool with HiGHS; an optimal basic solution has at most as many
  fractional items as binding balance/capacity rows, so taking each item's largest ``x`` gives an
  assignment that is already nearly feasible and nearly optimal. The LP value is the bound.
* **Price-based** (any size): projected-subgradient Lagrangian multipliers on the balance and
  capacity rows (:func:`terraplan.solvers.bounds.lagrangian_bound`); each item goes to the rep
  minimising its reduced cost ``c_p + Σ_b (μ_br − ν_br) a_bt``. The best Lagrangian value is the
  bound.

Capacity is then enforced greedily: items are pulled off over-capacity reps in order of the
cheapest reduced-cost alternative with room (repair in :mod:`.search` finishes the job).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData, warm_start
from terraplan.solvers.base import CancelToken
from terraplan.solvers.bounds import (
    LP_MAX_PAIRS,
    Bound,
    _argmin_per_item,
    lagrangian_bound,
    largest_pool_pairs,
    lp_bound,
)

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Construction:
    item_rep: I64
    bound: Bound
    method: str


def lp_guided(problem: ProblemData, time_limit: float, threads: int,
              cancel: CancelToken | None = None,
              max_pairs: int = LP_MAX_PAIRS, narrow_items: float = 0.0) -> Construction | None:
    """Argmax of the LP relaxation per item; ``None`` when the LP is too big or not solved
    (``narrow_items``: see :func:`terraplan.solvers.bounds.lp_bound`)."""
    b = lp_bound(problem, time_limit=time_limit, threads=threads, cancel=cancel,
                 total_time=time_limit, max_pairs=max_pairs, workers=threads,
                 narrow_items=narrow_items)
    if b.infeasible:
        return Construction(np.full(problem.n_items, -1, np.int64), b, "lp")
    # a column generation stopped early still gives a valid bound and a usable x
    if b.x is None or not math.isfinite(b.value):
        return None
    # pools whose LP did not finish (NaN): each item's cheapest pair instead
    solved = np.isfinite(b.x)
    x = np.where(solved, b.x, 0.0)
    if not solved.all():
        x[_argmin_per_item(problem, problem.pair_cost)[~solved[problem.indptr[:-1]]]] = 1.0
    _, reps = argmax_reps(problem, np.arange(problem.n_pairs, dtype=np.int64), x)
    return Construction(reps, b, b.method)


def argmax_reps(problem: ProblemData, pairs: I64, x: npt.NDArray[np.float64]
                ) -> tuple[I64, I64]:
    """Items of ``pairs`` (whole items, in pair order: all pairs or one pool's) and each
    one's rep of largest ``x`` (values over ``pairs``; the first on ties)."""
    if not len(pairs):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    it = problem.pair_item[pairs]
    first = np.flatnonzero(np.r_[True, it[1:] != it[:-1]])
    mx = np.repeat(np.maximum.reduceat(x, first), np.diff(np.r_[first, len(pairs)]))
    pos = np.where(x >= mx - 1e-12, np.arange(len(pairs)), len(pairs))
    best = pairs[np.minimum.reduceat(pos, first)]
    return it[first].astype(np.int64), problem.indices[best].astype(np.int64)


def price_based(problem: ProblemData, time_limit: float, iterations: int = 150,
                cancel: CancelToken | None = None) -> Construction:
    """Lagrangian prices, then each item to its cheapest reduced-cost rep."""
    t0 = time.perf_counter()
    # a target for Polyak steps: the cost of the cheapest pair per item plus 20 % (balance
    # typically costs a few % of travel; too low a target stalls the multipliers)
    best0 = _argmin_per_item(problem, problem.pair_cost)
    ub = float(problem.pair_cost[best0].sum()) * 1.2 + 1.0
    b, mu, nu = lagrangian_bound(problem, iterations=iterations, time_limit=time_limit,
                                 upper_estimate=ub, cancel=cancel)
    # greedy fill at the final prices: respects upper bands and capacity while it can
    item_rep = greedy_fill(problem, reduced_costs(problem, mu, nu))
    return Construction(item_rep, Bound(b.value, "lagrangian", runtime=time.perf_counter() - t0,
                                        stats=dict(b.stats)), "price")


def greedy_fill(problem: ProblemData, reduced: npt.NDArray[np.float64]) -> I64:
    """Regret-ordered greedy: items with the largest gap between their best and second-best
    reduced cost choose first, each taking its cheapest candidate rep that keeps every upper
    band and the capacity (else its cheapest). Lower bands are left to the repair phase.

    One Python step per item plus one per candidate tried; candidate order, regrets and room
    limits are prepared vectorised.
    """
    p = problem
    k = p.n_items
    order = np.lexsort((reduced, p.pair_item))  # per item, pairs by reduced cost
    starts = p.indptr[:-1]
    deg = np.diff(p.indptr)
    best = reduced[order[starts]]
    second = np.where(deg > 1, reduced[order[np.minimum(starts + 1, p.n_pairs - 1)]], best)
    regret = second - best
    # big items first among equal regrets: they are the hardest to place late
    size = p.item_metric[0] / max(float(p.item_metric[0].mean()), 1e-12)
    item_order = np.lexsort((-size, -regret))
    hard = [b for b in range(len(p.balance_metric)) if p.balance_hard[b]]
    qs = [int(p.balance_q[b]) for b in hard]
    room = [(p.upper[b] * (1 + 1e-9)).tolist() for b in hard]  # remaining room per rule
    cap = np.where(np.isfinite(p.rep_capacity), p.rep_capacity, 1e300).tolist()
    metric_rows = [p.item_metric[q].tolist() for q in qs]
    wl = p.item_metric[0].tolist()
    out = np.empty(k, dtype=np.int64)
    order_l = order.tolist()
    reps_l = p.indices.tolist()
    starts_l = starts.tolist()
    deg_l = deg.tolist()
    n_h = len(hard)
    for t in item_order.tolist():
        lo = starts_l[t]
        chosen = -1
        for j in range(lo, lo + deg_l[t]):
            r = reps_l[order_l[j]]
            if wl[t] > cap[r]:
                continue
            ok = True
            for i in range(n_h):
                if metric_rows[i][t] > room[i][r]:
                    ok = False
                    break
            if ok:
                chosen = r
                break
        if chosen < 0:
            chosen = reps_l[order_l[lo]]
        out[t] = chosen
        cap[chosen] -= wl[t]
        for i in range(n_h):
            room[i][chosen] -= metric_rows[i][t]
    return out


def reduced_costs(problem: ProblemData, mu: npt.NDArray[np.float64],
                  nu: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``c_p + Σ (μ − ν) a`` per pair for the multipliers of :func:`lagrangian_bound`."""
    from terraplan.solvers.bounds import _dualised

    A, _, _, _ = _dualised(problem)
    lam = mu - nu
    return problem.pair_cost + np.einsum("kp,kp->p", lam[:, problem.indices],
                                         A[:, problem.pair_item])


def from_initial(problem: ProblemData, initial: npt.NDArray[np.int32] | None,
                 fill: I64) -> I64:
    """Items keep the warm-start rep when it is a candidate; others take ``fill``."""
    ws = warm_start(problem, initial).astype(np.int64)
    return np.where(ws >= 0, ws, fill)


def cheapest(problem: ProblemData) -> I64:
    """Each item's cheapest pair (no balance prices) — the fallback fill."""
    best = _argmin_per_item(problem, problem.pair_cost)
    return problem.indices[best].astype(np.int64)


def uses_lp(problem: ProblemData, method: str, lp_max_pairs: int) -> bool:
    """Whether :func:`construct` starts from the LP relaxation (``method`` "lp", or "auto"
    with every pool LP within ``lp_max_pairs``)."""
    return method == "lp" or (method == "auto"
                              and largest_pool_pairs(problem) <= lp_max_pairs)


def construct(problem: ProblemData, *, time_limit: float, threads: int,
              lp_max_pairs: int, method: str = "auto", prune_k: int = 8,
              pruned_max_pairs: int = 3_000_000,
              cancel: CancelToken | None = None, narrow_items: float = 0.0) -> Construction:
    """First assignment and a bound.

    * ``n_pairs <= lp_max_pairs``: LP-guided on the full problem (the LP value is the bound);
    * ``method="lp-pruned"``: LP-guided on each item's ``prune_k`` cheapest pairs (when that
      LP has at most ``pruned_max_pairs`` pairs) — its value bounds only the pruned problem,
      so the reported bound is a Lagrangian bound of the full problem, whose steps aim at the
      pruned LP value;
    * otherwise (or ``method="price"``): price-based.

    (The pruned LP is opt-in: on the generated books, bands of ±3 % force some accounts to reps
    beyond their nearest few, and the pruned LP is then infeasible.)
    """
    t0 = time.perf_counter()
    if uses_lp(problem, method, lp_max_pairs):
        c = lp_guided(problem, time_limit=time_limit, threads=threads, cancel=cancel,
                      max_pairs=lp_max_pairs if method == "auto" else 10**12,
                      narrow_items=narrow_items)
        if c is not None:
            return c
    elif method == "lp-pruned":
        from terraplan.solvers.decompose import cheapest_pairs_mask, restrict_pairs

        sub = restrict_pairs(problem, cheapest_pairs_mask(problem, prune_k))
        if sub.n_pairs <= pruned_max_pairs:
            c = lp_guided(sub, time_limit=0.6 * time_limit, threads=threads, cancel=cancel)
            if c is not None and not c.bound.infeasible:
                left = max(time_limit - (time.perf_counter() - t0), 0.1)
                b, _, _ = lagrangian_bound(problem, iterations=200, time_limit=left,
                                           upper_estimate=c.bound.value, cancel=cancel)
                return Construction(c.item_rep, Bound(
                    b.value, "lagrangian", runtime=time.perf_counter() - t0,
                    stats={**b.stats, "pruned_lp": c.bound.value}), "lp-pruned")
    return price_based(problem, time_limit=max(min(time_limit, 0.25 * time_limit + 5.0), 0.1),
                       cancel=cancel)


__all__ = ["Construction", "argmax_reps", "cheapest", "construct", "from_initial", "greedy_fill",
           "lp_guided", "price_based", "reduced_costs"]
