"""MILP backend for carve mode (HiGHS through highspy; CBC through PuLP as fallback).

Encodes the capacitated p-median of :mod:`terraplan.solvers.carve.problem` over the candidate
pairs of :mod:`terraplan.solvers.carve.candidates`, with the disaggregated (strong) linking rows
``x_ij <= y_j``. With ``self_assign`` the own-item column of a site is identified with ``y_j``
(``x_{s(j) j} = y_j``), which removes n columns and n rows. A plan from the heuristic is passed as
MIP start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.solvers.base import CancelToken, ProgressCallback, SolveOptions
from terraplan.solvers.carve.linear import LinearModel, MilpOutcome, solve_milp
from terraplan.solvers.carve.problem import CarveProblem

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CarveModel:
    model: LinearModel
    pair_item: IntArray  # item of column k of the x block
    pair_site: IntArray
    x_cols: IntArray
    y_cols: IntArray


def build(problem: CarveProblem, items: IntArray, sites: IntArray) -> CarveModel:
    """Matrix form of the model over the given pairs."""
    n, m = problem.n, problem.m
    cost = problem.cost
    own = problem.site_item
    own_listed = np.zeros(m, dtype=np.bool_)
    if problem.self_assign:
        is_own = (own[sites] == items)
        own_listed[sites[is_own]] = True
        items, sites = items[~is_own], sites[~is_own]
    lm = LinearModel()
    y_cost = np.where((own >= 0) & problem.self_assign,
                      cost[np.maximum(own, 0), np.arange(m)], 0.0)
    y_cost = np.where(np.isfinite(y_cost), y_cost, 0.0)
    # a site whose own item cannot be served there can never open under self-assignment
    # (and a site whose own pair is left out of the pair set is closed, as in the CP-SAT model)
    y_hi = np.where(problem.self_assign & (own >= 0)
                    & (~np.isfinite(cost[np.maximum(own, 0), np.arange(m)]) | ~own_listed),
                    0.0, 1.0)
    y = lm.add_vars(m, cost=y_cost, hi=y_hi)
    x = lm.add_vars(items.size, cost=cost[items, sites])
    # assignment: sum_j x_ij (+ y_site(i)) = 1
    r = [items]
    c = [x]
    if problem.self_assign:
        has = np.flatnonzero(own >= 0)
        r.append(own[has])
        c.append(y[has])
    lm.add_rows(n, np.concatenate(r), np.concatenate(c), 1.0, 1.0, 1.0)
    # exactly p centres
    lm.add_rows(1, np.zeros(m, np.int64), y, 1.0, problem.p, problem.p)
    # capacity: sum_i q_i x_ij - (Q_j - q_own) y_j <= 0 (only where finite)
    capped = np.isfinite(problem.capacity)
    if np.any(capped):
        own_q = np.where(problem.self_assign & (own >= 0), problem.demand[np.maximum(own, 0)], 0)
        cap_row = np.full(m, -1, dtype=np.int64)
        cap_row[capped] = np.arange(int(capped.sum()))
        sel = capped[sites]
        rows = np.concatenate([cap_row[sites[sel]], cap_row[capped]])
        cols = np.concatenate([x[sel], y[capped]])
        vals = np.concatenate([problem.demand[items[sel]],
                               -(problem.capacity[capped] - own_q[capped])])
        lm.add_rows(int(capped.sum()), rows, cols, vals, -np.inf, 0.0)
    # strong linking x_ij <= y_j
    k = items.size
    lm.add_rows(k, np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([x, y[sites]]),
                np.concatenate([np.ones(k), -np.ones(k)]), -np.inf, 0.0)
    # balance bands: lo y_j <= sum_i b_i x_ij (+ b_own y_j) <= hi y_j
    for band in problem.balance:
        own_b = np.where(problem.self_assign & (own >= 0), band.values[np.maximum(own, 0)], 0.0)
        rows = np.concatenate([sites, np.arange(m)])
        cols = np.concatenate([x, y])
        lm.add_rows(m, rows, cols, np.concatenate([band.values[items], own_b - band.hi]),
                    -np.inf, 0.0)
        lm.add_rows(m, rows, cols, np.concatenate([band.values[items], own_b - band.lo]),
                    0.0, np.inf)
    return CarveModel(lm, items, sites, x, y)


def start_vector(cm: CarveModel, problem: CarveProblem, medians: IntArray) -> np.ndarray:
    v = np.zeros(cm.model.num_cols)
    open_sites = np.unique(medians)
    v[cm.y_cols[open_sites]] = 1.0
    v[cm.x_cols] = (medians[cm.pair_item] == cm.pair_site).astype(np.float64)
    return v


def decode(cm: CarveModel, problem: CarveProblem, values: np.ndarray) -> IntArray:
    med = np.full(problem.n, -1, dtype=np.int64)
    xs = values[cm.x_cols] > 0.5
    med[cm.pair_item[xs]] = cm.pair_site[xs]
    if problem.self_assign:
        opened = np.flatnonzero(values[cm.y_cols] > 0.5)
        own = problem.site_item[opened]
        med[own[own >= 0]] = opened[own >= 0]
    return med


def solve(problem: CarveProblem, items: IntArray, sites: IntArray, options: SolveOptions, *,
          seed: int, start: IntArray | None, cancel: CancelToken | None,
          callbacks: tuple[ProgressCallback, ...]) -> tuple[MilpOutcome, IntArray | None]:
    cm = build(problem, items, sites)
    sv = start_vector(cm, problem, start) if start is not None else None
    prefer = str(options.extra.get("milp_solver", "highs"))
    cost = cm.model.arrays()[0]
    integral = bool(np.allclose(cost, np.round(cost)) and abs(cm.model.objective_offset) == 0)
    out = solve_milp(cm.model, options, start=sv, cancel=cancel, callbacks=callbacks, seed=seed,
                     prefer=prefer, integral_objective=integral)
    med = decode(cm, problem, out.values) if out.values is not None else None
    return out, med
