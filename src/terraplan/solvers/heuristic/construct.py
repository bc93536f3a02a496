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

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData, warm_start
from terraplan.solvers.bounds import Bound, lagrangian_bound, lagrangian_value, lp_bound

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Construction:
    item_rep: I64
    bound: Bound
    method: str


def lp_guided(problem: ProblemData, time_limit: float, threads: int) -> Construction | None:
    """Argmax of the LP relaxation per item; ``None`` when the LP is too big or not solved."""
    b = lp_bound(problem, time_limit=time_limit, threads=threads)
    if b.infeasible:
        return Construction(np.full(problem.n_items, -1, np.int64), b, "lp")
    if not b.optimal or b.x is None:
        return None
    x = np.nan_to_num(b.x, nan=0.0)
    k = problem.n_items
    starts = problem.indptr[:-1]
    mx = np.maximum.reduceat(x, starts) if k else np.zeros(0)
    pos = np.arange(problem.n_pairs, dtype=np.int64)
    first = np.where(x >= mx[problem.pair_item] - 1e-12, pos, problem.n_pairs)
    best = np.minimum.reduceat(first, starts) if k else np.zeros(0, np.int64)
    return Construction(problem.indices[best].astype(np.int64), b, b.method)


def price_based(problem: ProblemData, time_limit: float, iterations: int = 60
                ) -> Construction:
    """Lagrangian prices, then each item to its cheapest reduced-cost rep."""
    t0 = time.perf_counter()
    # an upper estimate for Polyak steps: the cost of the cheapest pair per item plus 5 %
    _, best0, _ = lagrangian_value(problem, *_zeros(problem))
    ub = float(problem.pair_cost[best0].sum()) * 1.05 + 1.0
    b, mu, nu = lagrangian_bound(problem, iterations=iterations, time_limit=time_limit,
                                 upper_estimate=ub)
    _, best, _ = lagrangian_value(problem, mu, nu)
    item_rep = problem.indices[best].astype(np.int64)
    return Construction(item_rep, Bound(b.value, "lagrangian", runtime=time.perf_counter() - t0,
                                        stats=dict(b.stats)), "price")


def _zeros(problem: ProblemData) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    hard = int(np.sum(problem.balance_hard)) + 1
    z = np.zeros((hard, problem.n_reps))
    return z, z.copy()


def from_initial(problem: ProblemData, initial: npt.NDArray[np.int32] | None,
                 fill: I64) -> I64:
    """Items keep the warm-start rep when it is a candidate; others take ``fill``."""
    ws = warm_start(problem, initial).astype(np.int64)
    return np.where(ws >= 0, ws, fill)


def cheapest(problem: ProblemData) -> I64:
    """Each item's cheapest pair (no balance prices) — the fallback fill."""
    _, best, _ = lagrangian_value(problem, *_zeros(problem))
    return problem.indices[best].astype(np.int64)


def construct(problem: ProblemData, *, time_limit: float, threads: int,
              lp_max_pairs: int, method: str = "auto") -> Construction:
    """Choose LP-guided construction when the LP fits (``n_pairs <= lp_max_pairs``), else
    price-based; ``method`` forces ``"lp"`` or ``"price"``."""
    if method in ("auto", "lp") and (method == "lp" or problem.n_pairs <= lp_max_pairs):
        c = lp_guided(problem, time_limit=time_limit, threads=threads)
        if c is not None:
            return c
    return price_based(problem, time_limit=max(min(time_limit, 0.25 * time_limit + 5.0), 0.1))


__all__ = ["Construction", "cheapest", "construct", "from_initial", "lp_guided", "price_based"]
