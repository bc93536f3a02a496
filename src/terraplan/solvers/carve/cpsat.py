"""CP-SAT backend for carve mode (OR-Tools).

Same model as the MILP backend over the same candidate pairs: Booleans ``x_ij`` and ``y_j``,
``add_exactly_one`` per item, ``x_ij => y_j``, ``sum y = p``, capacity and balance as linear rows.
CP-SAT needs integers, so costs are scaled by a power of ten (up to ``10**6``) and rounded
*down*: the scaled
optimum is then never above the true one, which keeps the reported bound valid (the objective of
the returned plan is recomputed in exact floats). Demands are rounded up and capacities down, so
every plan CP-SAT accepts is feasible in exact arithmetic.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from terraplan.solvers._exact import CancelWatcher, CpSatProgress, ProgressRelay, cpsat_solver
from terraplan.solvers.base import CancelToken, ProgressCallback, SolveOptions, Status
from terraplan.solvers.carve.problem import CarveProblem

IntArray = npt.NDArray[np.int64]


def _scale_for(values: npt.NDArray[np.float64]) -> int:
    """1 when every value is an integer, else 100 (two decimals)."""
    v = values[np.isfinite(values)]
    return 1 if np.allclose(v, np.round(v), atol=1e-9) else 100


def _cost_scale(cost: npt.NDArray[np.float64], n: int) -> int:
    """1 for integer costs; else the largest power of ten (<= 1e6) keeping every scaled
    assignment total below ~1e12, so the rounding error (< n / scale) is negligible."""
    v = cost[np.isfinite(cost)]
    if v.size == 0 or np.allclose(v, np.round(v), atol=1e-9):
        return 1
    top = max(float(v.max()) * max(n, 1), 1.0)
    return int(10 ** max(0, min(6, int(math.floor(math.log10(1e12 / top))))))


def solve(problem: CarveProblem, items: IntArray, sites: IntArray, options: SolveOptions, *,
          seed: int, start: IntArray | None, cancel: CancelToken | None,
          callbacks: tuple[ProgressCallback, ...]
          ) -> tuple[Status, IntArray | None, float | None, float | None, str]:
    """Returns (status, medians, scaled-back objective of the model, bound, message)."""
    t0 = time.perf_counter()
    m = problem.m
    own = problem.site_item
    cscale = int(options.extra.get("cpsat_cost_scale", _cost_scale(problem.cost, problem.n)))
    qscale = _scale_for(np.concatenate([problem.demand, problem.capacity]))
    model = cp_model.CpModel()
    y = [model.new_bool_var(f"y{j}") for j in range(m)]
    x = [model.new_bool_var(f"x{i}_{j}") for i, j in zip(items.tolist(), sites.tolist(),
                                                        strict=True)]
    by_item: list[list[int]] = [[] for _ in range(problem.n)]
    by_site: list[list[int]] = [[] for _ in range(m)]
    for k, (i, j) in enumerate(zip(items.tolist(), sites.tolist(), strict=True)):
        by_item[i].append(k)
        by_site[j].append(k)
    for i in range(problem.n):
        model.add_exactly_one([x[k] for k in by_item[i]])
    for k, j in enumerate(sites.tolist()):
        model.add_implication(x[k], y[j])
    model.add(sum(y) == problem.p)
    q = np.ceil(problem.demand * qscale - 1e-9).astype(np.int64)
    for j in range(m):
        if problem.self_assign and own[j] >= 0:
            kk = [k for k in by_site[j] if items[k] == own[j]]
            if kk:
                model.add(x[kk[0]] == y[j])
            else:
                model.add(y[j] == 0)
        if math.isfinite(problem.capacity[j]):
            cap = int(math.floor(problem.capacity[j] * qscale + 1e-9))
            model.add(sum(int(q[items[k]]) * x[k] for k in by_site[j]) <= cap * y[j])
        for band in problem.balance:
            bs = _scale_for(band.values)
            vals = np.round(band.values * bs).astype(np.int64)
            expr = sum(int(vals[items[k]]) * x[k] for k in by_site[j])
            model.add(expr <= int(math.floor(band.hi * bs + 1e-9)) * y[j])
            model.add(expr >= int(math.ceil(band.lo * bs - 1e-9)) * y[j])
    c = np.floor(problem.cost[items, sites] * cscale + 1e-9).astype(np.int64)
    model.minimize(sum(int(ck) * xk for ck, xk in zip(c.tolist(), x, strict=True)))
    if start is not None:
        open_sites = set(np.unique(start).tolist())
        for j in range(m):
            model.add_hint(y[j], j in open_sites)
        for k, (i, j) in enumerate(zip(items.tolist(), sites.tolist(), strict=True)):
            model.add_hint(x[k], int(start[i]) == j)
    solver = cpsat_solver(options, seed, options.time_limit - (time.perf_counter() - t0),
                          options.extra.get("cpsat"))
    with CancelWatcher(cancel, solver.stop_search):
        code = solver.solve(model, CpSatProgress(ProgressRelay(callbacks, None, None, t0), cscale)
                            if callbacks else None)
    msg = solver.status_name(code)
    if code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE, None, None, None, msg
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        med = np.full(problem.n, -1, dtype=np.int64)
        xv = np.array([solver.boolean_value(v) for v in x], dtype=bool)
        med[items[xv]] = sites[xv]
        bound = solver.best_objective_bound / cscale
        status = Status.OPTIMAL if code == cp_model.OPTIMAL else Status.FEASIBLE
        if cancel is not None and cancel.cancelled and status is Status.FEASIBLE:
            status = Status.CANCELLED
        return status, med, solver.objective_value / cscale, bound, msg
    if cancel is not None and cancel.cancelled:
        return Status.CANCELLED, None, None, None, msg
    if code == cp_model.MODEL_INVALID:
        return Status.ERROR, None, None, None, msg
    return Status.NO_SOLUTION_IN_TIME, None, None, None, msg
