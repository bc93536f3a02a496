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

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csr_matrix, vstack

from terraplan.problem import ProblemData

if TYPE_CHECKING:
    from terraplan.solvers.base import CancelToken

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Pool LPs with more candidate pairs than this are solved by column generation
#: (:func:`_column_generation`): at 100k accounts a 1.5M-pair pool LP takes minutes in one
#: piece, a few seconds from each item's three cheapest pairs plus priced-in columns. It is
#: faster from a few tens of thousands of pairs: on the 100k × 500 book (seed 1), alone, the
#: 149k- and 168k-pair pools took 4.6 / 4.7 s as one LP and 1.7 / 1.4 s by column generation,
#: the 25k-37k-pair ones 0.5-0.7 s and 0.25-0.6 s.
CG_MIN_PAIRS = 20_000

#: A narrowed pool LP (``narrow_items``, :func:`_narrowed`) keeps at least this share of each
#: band's half-width: narrower than that the LP's plan drifts from the real optimum.
NARROW_MAX_SHARE = 0.25

#: The first prices of a column generation (:func:`_aggregated_prices`) come from the pool LP
#: with its items grouped by their candidate reps and their ``AGG_NEAREST`` cheapest ones,
#: fewer when that leaves more than one group per ``AGG_MIN_ITEMS`` items (else, or with
#: ``()``, the sampled prices of :func:`_sampled_prices`)
AGG_NEAREST = (3, 2, 1)
AGG_MIN_ITEMS = 8

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
    reduced : ndarray or None
        LP reduced cost of every pair at the final duals (NaN where not solved): how much
        dearer than the LP's choice each alternative is; guides the heuristic's rounding.
    stats : mapping
    """

    value: float
    method: str
    optimal: bool = True
    infeasible: bool = False
    runtime: float = 0.0
    x: F64 | None = None
    prices: F64 | None = None
    reduced: F64 | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)


def _soft_rules(problem: ProblemData) -> list[int]:
    return [b for b in range(len(problem.balance_metric)) if not problem.balance_hard[b]]


def _hard_rules(problem: ProblemData) -> list[int]:
    return [b for b in range(len(problem.balance_metric)) if problem.balance_hard[b]]


@dataclass(frozen=True, slots=True)
class LpArrays:
    """The LP of :func:`_lp_arrays` as arrays: columns are ``pairs`` then soft-deviation ``d``.

    ``A`` is CSR (rows × columns); ``elastic`` marks the rows whose violation the column
    generation may buy with an artificial slack (hard bands and capacities)."""

    cost: F64
    A: Any  # scipy.sparse.csr_matrix
    row_lo: F64
    row_hi: F64
    col_hi: F64
    n_x: int
    blocks: list[tuple[int, I64]]
    first_block_row: int
    elastic_rows: I64


def _build_lp(problem: ProblemData, pairs: I64, items: I64, reps: I64,
              with_budgets: bool) -> tuple[Any, list[tuple[int, I64]], int]:
    """A HiGHS LP over ``pairs`` (a subset closed under items); returns it, the balance/capacity
    row blocks ``(rule or R for capacity, rep indices)`` in row order, and the first such row."""
    lp = _lp_arrays(problem, pairs, items, reps, with_budgets)
    return _highs(lp), lp.blocks, lp.first_block_row


def set_time_left(h: Any, seconds: float) -> None:
    """Let the next ``h.run()`` take at most ``seconds`` more.

    HiGHS compares its ``time_limit`` option with the object's run time summed over every
    ``run()``, so a re-solved object (the column generation master) given just the seconds
    left stops at once: a 1.45M-pair pool's third round ended "Time limit reached" with 8.8 s
    of its deadline left, after a 10 s first round.
    """
    h.setOptionValue("time_limit", float(h.getRunTime()) + float(seconds))


def _highs(lp: LpArrays, cols: I64 | None = None, elastic_cost: float | None = None) -> Any:
    """A HiGHS model of ``lp`` restricted to ``cols`` (all columns by default), with a pair of
    artificial slack columns (cost ``elastic_cost`` each) on every elastic row when given."""
    import highspy  # local: keeps the module importable for Lagrangian-only use

    inf = highspy.kHighsInf
    A = lp.A if cols is None else lp.A[:, cols]
    cost = lp.cost if cols is None else lp.cost[cols]
    hi = lp.col_hi if cols is None else lp.col_hi[cols]
    n_cols = len(cost)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n_cols, np.zeros(n_cols), hi)
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), cost)
    A = A.tocsr()
    h.addRows(A.shape[0], lp.row_lo, lp.row_hi, int(A.nnz), A.indptr.astype(np.int32),
              A.indices.astype(np.int32), A.data.astype(np.float64))
    if elastic_cost is not None and len(lp.elastic_rows):
        e = len(lp.elastic_rows)
        # slack j < e adds +1 to its row (covers a shortfall), slack j ≥ e subtracts 1 (excess)
        rows = np.concatenate([lp.elastic_rows, lp.elastic_rows]).astype(np.int32)
        vals = np.concatenate([np.ones(e), -np.ones(e)])
        h.addCols(2 * e, np.full(2 * e, float(elastic_cost)), np.zeros(2 * e),
                  np.full(2 * e, inf), 2 * e, np.arange(2 * e, dtype=np.int32), rows, vals)
    return h


def _lp_arrays(problem: ProblemData, pairs: I64, items: I64, reps: I64,
               with_budgets: bool) -> LpArrays:
    """The LP over ``pairs`` as arrays (see :func:`_build_lp`)."""
    inf = math.inf
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

    elastic_end = n_rows
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
    return LpArrays(cost=cost, A=A, row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
                    col_hi=np.concatenate([np.ones(n_x), np.full(n_d, inf)]), n_x=n_x,
                    blocks=blocks, first_block_row=first_block_row,
                    elastic_rows=np.arange(first_block_row, elastic_end, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class _LpResult:
    """One (pool) LP: ``status`` is ``"optimal"``, ``"partial"`` (column generation stopped
    early: ``value`` is still a valid bound, see :func:`_column_generation`), ``"infeasible"``
    or ``"limit"`` (no bound)."""

    status: str
    value: float
    x: F64 | None = None
    prices: F64 | None = None
    reduced: F64 | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)


def _solve_lp(problem: ProblemData, pairs: I64, with_budgets: bool, time_limit: float,
              threads: int, cancel: CancelToken | None = None,
              cg_min_pairs: int | None = None, narrow_items: float = 0.0) -> _LpResult:
    """Solve one LP over ``pairs``: directly, or by column generation above ``cg_min_pairs``
    pairs (default :data:`CG_MIN_PAIRS`) when it has no global budget rows; a column
    generation pool is narrowed by ``narrow_items`` (see :func:`lp_bound`)."""
    import highspy

    from terraplan.solvers._exact import CancelWatcher

    t0 = time.perf_counter()
    items = np.unique(problem.pair_item[pairs]).astype(np.int64)
    reps = np.unique(problem.indices[pairs]).astype(np.int64)
    lp = _lp_arrays(problem, pairs, items, reps, with_budgets)
    budgets = with_budgets and (problem.max_moved_accounts >= 0
                                or problem.max_moved_potential >= 0
                                or problem.max_moved_per_rep >= 0)
    cg_min = CG_MIN_PAIRS if cg_min_pairs is None else cg_min_pairs
    if len(pairs) > cg_min and not budgets:
        narrowed = _narrowed(lp, narrow_items * len(reps) / max(len(items), 1))
        with_cg = _column_generation(problem, pairs, items, reps, narrowed or lp,
                                     t0 + time_limit, cancel,
                                     bound_lp=None if narrowed is None else lp)
        if with_cg is not None:
            if (not with_cg.stats.get("converged")
                    or with_cg.stats.get("elastic_slack", 0.0) <= 1e-6):
                return with_cg
            # the converged elastic master needs band slack. Narrowed: those bands have no
            # fractional plan, so solve the real ones. Real: the pool LP may be infeasible,
            # which only the plain LP proves; if that LP does not finish, the elastic bound
            # stands
            left = time_limit - (time.perf_counter() - t0)
            if narrowed is not None:
                return _solve_lp(problem, pairs, with_budgets, left, threads, cancel,
                                 cg_min_pairs)
            plain = _solve_lp(problem, pairs, with_budgets, left, threads, cancel,
                              cg_min_pairs=len(pairs))
            return plain if plain.status in ("optimal", "infeasible") else with_cg
    if cancel is not None and cancel.cancelled:
        return _LpResult("limit", -math.inf)
    h = _highs(lp)
    h.setOptionValue("time_limit", max(float(time_limit - (time.perf_counter() - t0)), 0.1))
    # HiGHS fixes its thread pool at the first solve of the process; a different "threads"
    # later makes run() fail ("Not Set"), so the pool is left at its process-wide default.
    h.setOptionValue("presolve", "on")
    with CancelWatcher(cancel, h.cancelSolve):
        h.run()
    st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kInfeasible:
        return _LpResult("infeasible", math.inf)
    if st != highspy.HighsModelStatus.kOptimal:
        return _LpResult("limit", -math.inf)
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=np.float64)[:lp.n_x]
    y = np.asarray(sol.row_dual, dtype=np.float64)
    val = float(h.getInfo().objective_function_value)
    reduced = lp.cost[:lp.n_x] - lp.A[:, :lp.n_x].T @ y
    return _LpResult("optimal", val, x, _prices(problem, reps, lp, y), reduced,
                     {"columns": lp.n_x, "rounds": 1})


def _narrowed(lp: LpArrays, by: float) -> LpArrays | None:
    """``lp`` with every two-sided band row narrowed by ``by`` (in units of the rep's target,
    as the rows are scaled) on both sides; ``None`` when ``by`` is 0 or would take more than
    :data:`NARROW_MAX_SHARE` of the narrowest band's half-width."""
    rows = lp.elastic_rows
    lo, hi = lp.row_lo[rows], lp.row_hi[rows]
    band = np.isfinite(lo) & np.isfinite(hi)
    if by <= 0 or not band.any() or by > NARROW_MAX_SHARE * float((hi - lo)[band].min()) / 2:
        return None
    row_lo, row_hi = lp.row_lo.copy(), lp.row_hi.copy()
    row_lo[rows[band]] += by
    row_hi[rows[band]] -= by
    return dataclasses.replace(lp, row_lo=row_lo, row_hi=row_hi)


def _prices(problem: ProblemData, reps: I64, lp: LpArrays, duals: F64) -> F64:
    """Row duals of the balance/capacity blocks as per-(rule, rep) prices ``(R + 1, m)``."""
    prices = np.zeros((len(problem.balance_metric) + 1, problem.n_reps), dtype=np.float64)
    row = lp.first_block_row
    for b, rr in lp.blocks:
        # (zero-target rows of a rule sit right after its block; skipping them is harmless)
        scale = (np.maximum(problem.rep_capacity[rr], 1.0) if b == len(problem.balance_metric)
                 else problem.target[b, rr])
        prices[b, rr] = duals[row:row + len(rr)] / scale
        row += len(rr)
        if b < len(problem.balance_metric):
            zr = reps[problem.target[b, reps] <= 0]
            row += len(zr)
    return prices


def _column_generation(problem: ProblemData, pairs: I64, items: I64, reps: I64,
                       lp: LpArrays,
                       deadline: float, cancel: CancelToken | None,
                       start_k: int = 2, add_per_item: int = 2,
                       max_rounds: int | None = None,
                       bound_lp: LpArrays | None = None) -> _LpResult | None:
    """Column generation for a large pool LP; ``None`` when the restricted LP fails.

    The restricted master starts from each item's ``start_k`` cheapest pairs by cost and by
    reduced cost at first band prices — those of the pool LP with its items grouped
    (:func:`_aggregated_prices`), whose plan's pairs join too, or else of a sampled pool
    (:func:`_sampled_prices`) — and every soft deviation column. Hard band and capacity rows
    get artificial slacks priced far above any assignment cost, so the master is always
    feasible; the result is the LP of that *elastic* model, which contains every solution of
    the true LP at the same cost — its optimum is therefore still a lower bound. Each round
    prices every pair of the pool at the master's row duals (``c − Aᵀy``, one sparse product)
    and adds up to ``add_per_item`` most negative columns per item. When no column has a
    negative reduced cost the master is optimal for the whole pool; stopped earlier (deadline,
    cancel), the bound is the master value plus each item's most negative reduced cost (the
    convexity-row bound of Lübbecke & Desrosiers), which is valid for any duals — the status
    is then ``"partial"``.

    ``bound_lp`` (same matrix and costs, other row bounds) is the LP whose bound is reported
    when ``lp`` is a narrowed copy of it (:func:`_narrowed`): the value is then the Lagrangian
    of ``bound_lp`` at the master's duals, and the status ``"partial"``.
    """
    import highspy

    from terraplan.solvers._exact import CancelWatcher

    n_x = lp.n_x
    k_loc = len(items)
    item_pos = np.full(problem.n_items, -1, dtype=np.int64)
    item_pos[items] = np.arange(k_loc)
    it = item_pos[problem.pair_item[pairs]]
    cost_x = lp.cost[:n_x]
    elastic = _elastic_price(lp, it, k_loc, len(reps))
    At = lp.A.T.tocsr()  # columns × rows: reduced costs are one product
    # start: each item's start_k cheapest pairs by cost and by an estimate of the reduced cost
    # at first band prices (the grouped pool LP's, else a sampled pool's): far fewer rounds
    # (the columns by item and cost: sorted once for the grouping and the start columns)
    by_cost = _by_item(cost_x, it, k_loc)
    agg = _aggregated_prices(problem, pairs, reps, lp, it, k_loc, elastic, deadline, cancel,
                             by_cost)
    y0 = agg[0] if agg is not None else _sampled_prices(problem, pairs, items, reps, lp, it,
                                                        elastic, deadline, cancel,
                                                        by_item=by_cost)
    in_model = _cheapest_k(cost_x, it, k_loc, start_k, by_cost)
    if y0 is not None:
        in_model |= _cheapest_k(cost_x - At[:n_x] @ y0, it, k_loc, start_k)
    if agg is not None:
        in_model |= agg[1] > 1e-9  # the grouped plan, a plan of the pool LP too
    x_cols = np.flatnonzero(in_model)
    e = len(lp.elastic_rows)
    # model column → LP column (−1: an artificial slack); slacks sit after the first columns
    mcols = np.concatenate([x_cols, np.arange(n_x, len(lp.cost)), np.full(2 * e, -1)])
    cols = mcols[:len(mcols) - 2 * e]
    h = _highs(lp, cols, elastic_cost=elastic)
    # the first master starts from the cheapest-column basis (see _cheapest_basis), or else is
    # presolved (a third faster on a 1.5M-pair pool's 77k start columns than neither); later
    # rounds re-solve without presolve, warm-started from the previous basis
    h.setOptionValue("presolve", "off" if _cheapest_basis(h, lp, x_cols, it, k_loc, e)
                     else "on")
    Acsc = lp.A.tocsc()
    tol = 1e-9 * max(float(np.abs(cost_x).mean()), 1.0)
    rounds = 0
    status = "optimal"
    # (duals, primal, model → LP column) of the last optimal master
    last: tuple[F64, F64, I64] | None = None
    while True:
        left = deadline - time.perf_counter()
        if left <= 0 or (cancel is not None and cancel.cancelled) or rounds == max_rounds:
            status = "partial"
            break
        set_time_left(h, max(left, 0.1))
        t_r = time.perf_counter()
        with CancelWatcher(cancel, h.cancelSolve):
            h.run()
        log.debug("column generation round %d: %.2f s, %d columns", rounds,
                  time.perf_counter() - t_r, int(in_model.sum()))
        rounds += 1
        h.setOptionValue("presolve", "off")
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            log.debug("column generation round %d ended %s with %.2f s left", rounds,
                      h.modelStatusToString(h.getModelStatus()),
                      deadline - time.perf_counter())
            status = "partial"  # keep the last optimal master
            break
        sol = h.getSolution()
        y = np.asarray(sol.row_dual, dtype=np.float64)
        cv = np.asarray(sol.col_value, dtype=np.float64)
        last = (y, cv, mcols)  # (mcols is rebound below, never changed in place)
        reduced = lp.cost - At @ y
        neg = np.flatnonzero(~in_model & (reduced[:n_x] < -tol))
        if not len(neg):
            break
        mcols = _purge(h, mcols, cv, reduced, n_x, k_loc, in_model, tol)
        o = np.lexsort((reduced[neg], it[neg]))
        neg = neg[o]
        gi = it[neg]
        f = np.searchsorted(gi, gi, side="left")
        new = np.sort(neg[(np.arange(len(neg)) - f) < add_per_item])
        sub = Acsc[:, new]
        h.addCols(len(new), lp.cost[new], np.zeros(len(new)), lp.col_hi[new], int(sub.nnz),
                  sub.indptr[:-1].astype(np.int32), sub.indices.astype(np.int32),
                  sub.data.astype(np.float64))
        in_model[new] = True
        mcols = np.concatenate([mcols, new])
    if last is None:
        if y0 is None:
            return None
        # no master solved in time: the sampled prices still give a Lagrangian bound and a
        # start (each item's cheapest pair at those prices)
        # prices from a sample are only estimates: the best of a few scalings (0 = the trivial
        # bound, every item at its cheapest pair)
        val, reduced, x = max((_lagrangian_at(bound_lp or lp, At, it, k_loc, s * y0)
                               for s in (1.0, 0.75, 0.5, 0.25, 0.0)), key=lambda r: r[0])
        log.info("column generation over %d pairs: no master in time; sampled-price "
                 "Lagrangian %.6g", n_x, val)
        return _LpResult("partial", val, x, _prices(problem, reps, lp, y0), reduced,
                         {"columns": int(in_model.sum()), "rounds": rounds})
    y, cv, mc = last
    reduced = lp.cost - At @ y
    converged = status == "optimal"
    if bound_lp is not None:
        # a narrowed LP (its x guides the rounding): its duals price the real bands, which
        # gives a bound of the real LP (weak duality, same matrix and costs)
        val = max(_lagrangian_at(bound_lp, At, it, k_loc, s * y)[0] for s in (1.0, 0.5, 0.0))
        status = "partial"
    elif status == "optimal":
        val = float(h.getInfo().objective_function_value)
    else:
        # stopped early: weak duality at the last optimal master's duals (valid for any duals)
        val = max(_lagrangian_at(lp, At, it, k_loc, s * yy)[0]
                  for yy in ([y] if y0 is None else [y, y0]) for s in (1.0, 0.5, 0.0))
    x = np.zeros(n_x)
    is_x = (mc >= 0) & (mc < n_x)
    x[mc[is_x]] = cv[is_x]
    slack = float(cv[mc < 0].sum())
    log.info("column generation over %d pairs: %s after %d round(s), %d columns, value %.6g",
             n_x, status, rounds, int(in_model.sum()), val)
    return _LpResult(status, val, x, _prices(problem, reps, lp, y), reduced[:n_x],
                     {"columns": int(in_model.sum()), "rounds": rounds,
                      "elastic_slack": slack, "converged": converged})


def _elastic_price(lp: LpArrays, it: I64, k_loc: int, n_reps: int) -> float:
    """Cost of a column generation master's artificial band slack per unit of relative band
    violation: ten times a rep's share of the pool's dearest assignment (each item at its
    dearest pair), so no plan that keeps the bands is dearer than slack."""
    worst = np.zeros(k_loc)
    np.maximum.at(worst, it, np.abs(lp.cost[:lp.n_x]))
    return 10.0 * max(float(worst.sum()), 1.0) / max(n_reps, 1)


def _cheapest_basis(h: Any, lp: LpArrays, x_cols: I64, it: I64, k_loc: int, e: int) -> bool:
    """Give the first column generation master ``h`` (pair columns ``x_cols`` of ``lp``, then
    ``2 e`` artificial slacks) a dual feasible starting basis: each item's cheapest column
    basic, every band and capacity row basic (its dual zero), every other column at zero.

    Each item row's dual is then its cheapest column's cost, so every other pair column prices
    at ≥ 0 and each artificial slack at its positive cost: HiGHS' dual simplex starts in phase
    2 and only mends the bands the cheapest assignment breaks. Its default start (presolved,
    a slack basis) spends most of its pivots finding each item's column first: the first master
    of a 1.40M-pair pool (25.6k accounts, 63 reps, 99k columns) of the 100k × 500 seed-2 book
    took 9.1 s that way and 4.2 s from this basis, the whole column generation 34-38 s and
    28-31 s (AMD EPYC, one thread). Only for masters without other columns (soft deviations,
    budgets), whose rows would need basics of their own; False when not set."""
    import highspy

    if len(lp.cost) != lp.n_x or len(x_cols) == 0:
        return False
    status = highspy.HighsBasisStatus
    first = _cheapest_k(lp.cost[x_cols], it[x_cols], k_loc, 1)
    if int(first.sum()) != k_loc:
        return False
    basic = np.r_[first, np.zeros(2 * e, dtype=bool)]
    basis = highspy.HighsBasis()
    basis.col_status = [status.kBasic if b else status.kLower for b in basic.tolist()]
    basis.row_status = ([status.kLower] * k_loc
                        + [status.kBasic] * (int(lp.A.shape[0]) - k_loc))
    basis.valid = True
    return bool(h.setBasis(basis) == highspy.HighsStatus.kOk)


#: Column generation masters keep at most PURGE_ABOVE pair columns per item: above that, the
#: unused columns dearest by reduced cost leave the master until PURGE_KEEP per item remain
#: (they may come back when their reduced cost turns negative)
PURGE_ABOVE = 4.0
PURGE_KEEP = 3.0


def _purge(h: Any, mcols: I64, cv: F64, reduced: F64, n_x: int, k_loc: int,
           in_model: npt.NDArray[np.bool_], tol: float) -> I64:
    """Delete from the master ``h`` the pair columns of :data:`PURGE_ABOVE` (see there) that
    are at zero with a positive reduced cost (non-basic, so the warm start survives); returns
    the new model → LP column map and clears ``in_model`` for them."""
    is_x = (mcols >= 0) & (mcols < n_x)
    n_in = int(is_x.sum())
    if n_in <= PURGE_ABOVE * k_loc:
        return mcols
    j = np.flatnonzero(is_x & (cv <= 1e-12))
    rc = reduced[mcols[j]]
    ok = rc > tol
    j, rc = j[ok], rc[ok]
    n_del = min(len(j), n_in - int(PURGE_KEEP * k_loc))
    if n_del <= 0:
        return mcols
    gone = np.sort(j[np.argsort(-rc, kind="stable")[:n_del]])
    h.deleteCols(len(gone), gone.astype(np.int32))
    in_model[mcols[gone]] = False
    log.debug("column generation: %d columns purged", len(gone))
    return np.delete(mcols, gone)


def _lagrangian_at(lp: LpArrays, At: Any, it: I64, k_loc: int, y: F64
                   ) -> tuple[float, F64, F64]:
    """Weak-duality bound of ``lp`` at row prices ``y`` on its band, capacity and soft rows,
    the assignment rows kept: ``Σ_t min_p (c_p − Aᵀy)_p + Σ_r (y_r·lo_r if y_r ≥ 0 else
    y_r·hi_r)`` (prices of the wrong sign for a one-sided row are clipped to 0 first). Returns
    ``(value, reduced cost per pair minus its item's minimum, 0/1 x of each item's minimum)``.
    """
    n_x = lp.n_x
    yy = np.zeros_like(y)
    f = lp.first_block_row
    yy[f:] = y[f:]  # assignment rows are kept, not dualised
    yy = np.where(np.isfinite(lp.row_lo), yy, np.minimum(yy, 0.0))
    yy = np.where(np.isfinite(lp.row_hi), yy, np.maximum(yy, 0.0))
    red = lp.cost - At @ yy
    if np.any(red[n_x:] < 0):  # a soft deviation column would be unbounded: no bound
        return -math.inf, red[:n_x] - 0.0, np.zeros(n_x)
    rx = red[:n_x]
    mins = np.full(k_loc, np.inf)
    np.minimum.at(mins, it, rx)
    lo = np.where(np.isfinite(lp.row_lo), lp.row_lo, 0.0)
    hi = np.where(np.isfinite(lp.row_hi), lp.row_hi, 0.0)
    const = float(np.where(yy >= 0, yy * lo, yy * hi).sum())
    rel = rx - mins[it]
    x = np.zeros(n_x)
    first = np.full(k_loc, -1, dtype=np.int64)
    cand = np.flatnonzero(rel <= 0)
    first[it[cand[::-1]]] = cand[::-1]  # the lowest column attaining each item's minimum
    x[first[first >= 0]] = 1.0
    return float(mins.sum()) + const, rel, x


def _by_item(values: F64, it: I64, k_loc: int) -> tuple[I64, I64]:
    """Columns ordered by item, then by ``values`` (``it``: local item of each column), and
    where each item's run starts in that order."""
    order = np.argsort(values, kind="stable")
    order = order[np.argsort(it[order], kind="stable")]  # (two radix-fast sorts beat one
    return order, np.searchsorted(it[order], np.arange(k_loc))  # two-key lexsort)


def _cheapest_k(values: F64, it: I64, k_loc: int, k: int,
                by_item: tuple[I64, I64] | None = None) -> npt.NDArray[np.bool_]:
    """Mask of each item's ``k`` smallest ``values`` (``it``: local item of each column);
    ``by_item``: :func:`_by_item` of these values when already known."""
    order, first = _by_item(values, it, k_loc) if by_item is None else by_item
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values)) - first[it[order]]
    return rank < k


def _sampled_prices(problem: ProblemData, pairs: I64, items: I64, reps: I64, lp: LpArrays,
                    it: I64, elastic: float, deadline: float, cancel: CancelToken | None,
                    fraction: float = 0.1, seed: int = 0, cheapest: int = 12,
                    by_item: tuple[I64, I64] | None = None) -> F64 | None:
    """Row duals (band and capacity rows only, zeros elsewhere) of the LP over a seeded
    ``fraction`` of the pool's items with its band and capacity limits scaled by the same
    fraction: an estimate of the full pool's balance prices, used to pick starting columns.
    ``None`` when the sample LP does not solve. ``by_item``: :func:`_by_item` of the pool's
    costs when already known."""
    import highspy

    from terraplan.solvers._exact import CancelWatcher

    pick = np.random.default_rng(seed).random(len(items)) < fraction
    if pick.sum() < 50 or (cancel is not None and cancel.cancelled):
        return None
    share = float(pick.mean())
    # each sampled item's ``cheapest`` pairs only: a tenth of the pool's LP is still a big LP
    # at 100k accounts, and the elastic rows keep the restricted sample feasible
    near = _cheapest_k(lp.cost[:lp.n_x], it, len(items), cheapest, by_item)
    sub = _lp_arrays(problem, pairs[pick[it] & near], items[pick], reps, with_budgets=False)
    f, e0 = sub.first_block_row, sub.first_block_row + len(sub.elastic_rows)
    lo, hi = sub.row_lo.copy(), sub.row_hi.copy()
    lo[f:e0] *= share
    hi[f:e0] *= share
    sub = dataclasses.replace(sub, row_lo=lo, row_hi=hi)
    h = _highs(sub, elastic_cost=elastic * share)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.1))
    with CancelWatcher(cancel, h.cancelSolve):
        h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    y_sub = np.asarray(h.getSolution().row_dual, dtype=np.float64)
    y = np.zeros(lp.A.shape[0])
    y[lp.first_block_row:lp.first_block_row + (e0 - f)] = y_sub[f:e0]
    return y


def _aggregated_prices(problem: ProblemData, pairs: I64, reps: I64, lp: LpArrays, it: I64,
                       k_loc: int, elastic: float, deadline: float,
                       cancel: CancelToken | None,
                       by_item: tuple[I64, I64] | None = None) -> tuple[F64, F64] | None:
    """Row duals (band and capacity rows, zeros on the item rows) of the pool LP ``lp`` with
    its items grouped — items with the same candidate reps and the same :data:`AGG_NEAREST`
    cheapest ones form one group, which is split among reps as a whole (one column per group
    and rep that every item of the group can take) — and that LP's plan per pair of ``lp``
    (each item of a group split as the group is). The grouped LP is a restriction of ``lp``:
    its plan is one of ``lp`` too (band slack only where the grouped LP needs some), so the
    first master that holds its pairs starts near the optimum, and its duals price the bands
    where the items' own rows leave off.

    A pool's balance prices are what its first master lacks: from each item's cheapest pairs
    alone, the 1.40M-pair pool of the 100k × 500 seed-2 book (25.6k accounts, 63 reps, an LP
    2.6 times its cheapest assignment) took 10 column generation rounds and 18.8 s (AMD EPYC,
    alone, narrowed); the sampled prices of :func:`_sampled_prices` were the elastic price in
    nearly every row (a tenth of the items, where each rep's share of the accounts near it
    varies by far more than its ±3 % band) and saved nothing; from the final LP's own duals it
    took one round and 3.5 s. Grouped by 3 cheapest reps (2,187 groups, 119k columns, 2.0 s)
    the whole column generation took 9.0 s and 6 rounds from the grouped LP's prices, 7.4 s
    and 4 rounds with its plan's pairs in the first master too; by 2 and 1 cheapest reps, 9.4
    and 11.2 s (prices only); grouped by nearest reps without the candidate set, the grouped
    LP was mostly band slack.

    ``None`` when ``lp`` has soft deviation columns or rows beyond its bands (budgets), when
    even one nearest rep leaves more than one group per :data:`AGG_MIN_ITEMS` items, or when
    the grouped LP does not solve in time. ``by_item``: :func:`_by_item` of the pool's costs
    when already known."""
    import highspy

    from terraplan.solvers._exact import CancelWatcher

    n_x = lp.n_x
    if len(lp.cost) != n_x or len(lp.elastic_rows) == 0 or k_loc < 2 * AGG_MIN_ITEMS:
        return None
    f = lp.first_block_row
    if int(lp.elastic_rows[-1]) + 1 != lp.A.shape[0]:
        return None  # rows beyond the bands (budgets): not grouped
    m = len(reps)
    rl = np.searchsorted(reps, problem.indices[pairs]).astype(np.int64)
    cost = lp.cost[:n_x]
    order, first = _by_item(cost, it, k_loc) if by_item is None else by_item
    last = np.r_[first[1:], n_x] - 1
    # the candidate set of each item, as a sum of random weights of its reps (the same set
    # gives the same sum: each item's pairs come in rep order)
    w = np.random.default_rng(0).random(m)
    _, key = np.unique(np.bincount(it, weights=w[rl], minlength=k_loc), return_inverse=True)
    keys = [key.astype(np.int64)]
    for j in range(max(AGG_NEAREST, default=0)):
        _, key = np.unique(keys[-1] * m + rl[order[np.minimum(first + j, last)]],
                           return_inverse=True)
        keys.append(key.astype(np.int64))
    group = None
    for k in AGG_NEAREST:
        if int(keys[k].max()) + 1 <= k_loc / AGG_MIN_ITEMS:
            group = keys[k]
            break
    if group is None or (cancel is not None and cancel.cancelled):
        return None
    n_g = int(group.max()) + 1
    g_size = np.bincount(group, minlength=n_g)
    ucol, col_of, count = np.unique(group[it] * m + rl, return_inverse=True, return_counts=True)
    full = count == g_size[ucol // m]  # a column only where every item of the group can go
    col_new = np.cumsum(full) - 1
    keep = full[col_of]
    n_c = int(full.sum())
    M = csr_matrix((np.ones(int(keep.sum())), (np.flatnonzero(keep), col_new[col_of[keep]])),
                   shape=(n_x, n_c))
    G = csr_matrix((np.ones(n_c), (ucol[full] // m, np.arange(n_c))), shape=(n_g, n_c))
    grouped = dataclasses.replace(
        lp, cost=np.asarray(M.T @ cost).ravel(), A=vstack([G, lp.A[f:] @ M]).tocsr(),
        row_lo=np.r_[np.ones(n_g), lp.row_lo[f:]], row_hi=np.r_[np.ones(n_g), lp.row_hi[f:]],
        col_hi=np.ones(n_c), n_x=n_c, first_block_row=n_g,
        elastic_rows=lp.elastic_rows - f + n_g)
    h = _highs(grouped, elastic_cost=elastic)
    set_time_left(h, max(deadline - time.perf_counter(), 0.1))
    with CancelWatcher(cancel, h.cancelSolve):
        h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    y = np.zeros(lp.A.shape[0])
    y[f:] = np.asarray(sol.row_dual, dtype=np.float64)[n_g:]
    x = np.zeros(n_x)  # each item of a group as the group is split
    x[keep] = np.asarray(sol.col_value, dtype=np.float64)[:n_c][col_new[col_of[keep]]]
    log.debug("grouped pool LP: %d items in %d groups, %d columns, value %.6g", k_loc, n_g,
              n_c, float(h.getInfo().objective_function_value))
    return y, x


def largest_pool_pairs(problem: ProblemData) -> int:
    """Candidate pairs of the largest eligibility pool (the size of the biggest pool LP)."""
    if problem.n_pairs == 0:
        return 0
    return int(np.bincount(problem.item_pool[problem.pair_item]).max())


def lp_bound(
    problem: ProblemData,
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    max_pairs: int = LP_MAX_PAIRS,
    by_pool: bool | None = None,
    mapper: Callable[..., Iterable[Any]] | None = None,
    cancel: CancelToken | None = None,
    cg_min_pairs: int | None = None,
    total_time: float | None = None,
    workers: int = 1,
    narrow_items: float = 0.0,
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
    cancel : CancelToken, optional
        Interrupts the running LP (in-process only: not sent through ``mapper``).
    cg_min_pairs : int, optional
        Pool LPs above this many pairs use column generation (default :data:`CG_MIN_PAIRS`).
    total_time : float, optional
        Seconds for all pools together (in-process only): pools run smallest first, each
        within ``min(time_limit, time left)``; a column generation cut short by it still
        yields a valid bound, a plain LP cut short voids it.
    workers : int
        Pool LPs solved at once in threads (in-process only; HiGHS releases the GIL).
    narrow_items : float
        For rounding (0 = off): each column-generation pool's LP is solved with every hard
        band narrowed on both sides by ``narrow_items`` mean items (the pool's reps / items,
        in units of a rep's target), where that is at most :data:`NARROW_MAX_SHARE` of the
        band: an LP optimum sits on its bands' edges, so its argmax leaves reps just outside
        them and a restricted rounding MIP can be integer-infeasible; narrowed, it has room.
        The value is then the Lagrangian of the real LP at the narrowed LP's duals — still a
        bound, a little lower — and ``optimal`` is False.

    Returns
    -------
    Bound
        ``x`` holds the LP value of every pair (NaN where not solved); ``optimal`` is False
        when a column generation stopped early — ``value`` is then still a valid bound.
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
    jobs = [(problem, g, not split, time_limit, threads, None if mapper else cancel,
             cg_min_pairs, narrow_items) for g in groups]
    if mapper is not None:
        results = list(mapper(_solve_lp_job, jobs))
    else:
        end = t0 + (math.inf if total_time is None else total_time)
        results = [_LpResult("limit", -math.inf)] * len(groups)

        def one(i: int) -> None:
            left = end - time.perf_counter()
            if left > 0.05:
                job = jobs[i]
                results[i] = _solve_lp_job((*job[:3], min(time_limit, left), *job[4:]))

        sizes = [len(g) for g in groups]
        if workers > 1 and len(groups) > 1:
            # HiGHS releases the GIL while it solves: pool LPs run side by side (smallest
            # first, like the serial order, so a short budget still solves most pools)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers) as ex:
                list(ex.map(one, np.argsort(sizes, kind="stable").tolist()))
        else:
            for i in np.argsort(sizes, kind="stable").tolist():
                one(i)
    return combine_pool_lps(problem, groups, results, split, t0)


def combine_pool_lps(problem: ProblemData, groups: list[I64], results: list[_LpResult],
                     split: bool, t0: float) -> Bound:
    """The :class:`Bound` of the pool LPs ``results`` over the pair groups ``groups`` (one
    LP over every pair when not ``split``), ``t0`` its start: values summed, ``x`` and reduced
    costs per pair (NaN where a pool's LP was not solved, which then adds its items' cheapest
    pairs to the value), infeasible as soon as one pool is."""
    biggest = max((len(g) for g in groups), default=0)
    x = np.full(problem.n_pairs, np.nan, dtype=np.float64)
    reduced = np.full(problem.n_pairs, np.nan, dtype=np.float64)
    prices = np.zeros((len(problem.balance_metric) + 1, problem.n_reps), dtype=np.float64)
    value = 0.0
    optimal = True
    rounds = trivial = 0
    for g, res in zip(groups, results, strict=True):
        if res.status == "infeasible":
            return Bound(math.inf, "lp-pools" if split else "lp", infeasible=True,
                         runtime=time.perf_counter() - t0)
        if res.status not in ("optimal", "partial"):
            # not solved in time: each item costs at least its cheapest pair (soft terms ≥ 0)
            optimal = False
            its = np.unique(problem.pair_item[g])
            value += float(np.minimum.reduceat(problem.pair_cost, problem.indptr[:-1])[its].sum())
            trivial += 1
            continue
        optimal &= res.status == "optimal"
        value += res.value
        rounds = max(rounds, int(res.stats.get("rounds", 1)))
        assert res.x is not None and res.prices is not None and res.reduced is not None
        x[g] = res.x
        reduced[g] = res.reduced
        reps_g = np.unique(problem.indices[g])
        prices[:, reps_g] = res.prices[:, reps_g]
    method = "lp-pools" if split else "lp"
    if trivial == len(groups):
        value = -math.inf
    log.info("LP bound %.6g (%s): %d pool LP(s), %d not solved in time, %.2f s", value, method,
             len(groups), trivial, time.perf_counter() - t0)
    return Bound(value, method, optimal=optimal, runtime=time.perf_counter() - t0, x=x,
                 prices=prices, reduced=reduced,
                 stats={"lps": len(groups), "largest_lp_pairs": biggest,
                        "max_cg_rounds": rounds, "pools_unsolved": trivial})


def _solve_lp_job(job: tuple[ProblemData, I64, bool, float, int, CancelToken | None,
                             int | None, float]) -> _LpResult:
    problem, pairs, budgets, tl, threads, cancel, cg_min, narrow = job
    return _solve_lp(problem, pairs, budgets, tl, threads, cancel, cg_min, narrow)


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
    cancel: CancelToken | None = None,
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
            if best > upper_estimate - 0.01 * abs(upper_estimate):
                # the estimate was too low (balance dearer than guessed): Polyak steps would
                # shrink to nothing below the optimum, so aim higher
                upper_estimate = best + 0.2 * abs(best)
                alpha = max(alpha, 0.5)
            step = alpha * max(upper_estimate - val, 1e-9 * max(abs(val), 1.0)) / norm2
        else:
            step = alpha * base * problem.n_items / (it + 1) / math.sqrt(norm2) / 10.0
        mu = np.maximum(mu + step * g_u / scale, 0.0)
        nu = np.maximum(nu + step * g_l / scale, 0.0)
        if time.perf_counter() - t0 > time_limit or (cancel is not None and cancel.cancelled):
            break
    return (Bound(best, "lagrangian", optimal=True, runtime=time.perf_counter() - t0,
                  stats={"iterations": it + 1}), mu, nu)


__all__ = ["CG_MIN_PAIRS", "LP_MAX_PAIRS", "Bound", "lagrangian_bound", "lagrangian_value",
           "largest_pool_pairs", "lp_bound"]
