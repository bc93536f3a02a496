"""CP-SAT backend for geo-unit mode: the labeling-SCF model of
:mod:`~terraplan.solvers.geounit.model`, given to CP-SAT row by row.

Every column becomes an integer variable (flows are integral in some optimal solution, so this
loses nothing). Row coefficients are integers already (populations are rounded up/down only if
fractional, conservatively); a fractional objective (shared perimeter) is scaled by ``10**4`` and
rounded down so that the reported bound stays valid.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from terraplan.solvers._exact import (
    CancelWatcher,
    CpSatProgress,
    ProgressRelay,
    add_in_range,
    cpsat_solver,
)
from terraplan.solvers.base import CancelToken, ProgressCallback, SolveOptions, Status
from terraplan.solvers.carve.linear import LinearModel

FloatArray = npt.NDArray[np.float64]
_BIG = 1 << 40


def solve_linear(lm: LinearModel, options: SolveOptions, *, seed: int,
                 start: FloatArray | None, cancel: CancelToken | None,
                 callbacks: tuple[ProgressCallback, ...]
                 ) -> tuple[Status, FloatArray | None, float | None, float | None, str]:
    """Solve a pure-integer-coefficient :class:`LinearModel` with CP-SAT.

    Returns (status, column values, objective in model units, bound, message).
    """
    t0 = time.perf_counter()
    cost, lo, hi, _, rlo, rhi = lm.arrays()
    a = lm.matrix()
    if not np.allclose(a.data, np.round(a.data)):
        raise ValueError("CP-SAT needs integer row coefficients")
    scale = 1.0 if np.allclose(cost, np.round(cost)) else 1e4
    model = cp_model.CpModel()
    xs = [model.new_int_var(int(math.ceil(lo[j] - 1e-9)), int(math.floor(hi[j] + 1e-9)), f"c{j}")
          for j in range(lm.num_cols)]
    data = np.round(a.data).astype(np.int64)
    for r in range(lm.num_rows):
        s, e = a.indptr[r], a.indptr[r + 1]
        terms = [(xs[int(c)], int(v)) for c, v in zip(a.indices[s:e], data[s:e], strict=True)]
        expr = cp_model.LinearExpr.weighted_sum([t[0] for t in terms], [t[1] for t in terms])
        lb = int(math.ceil(rlo[r] - 1e-9)) if math.isfinite(rlo[r]) else -_BIG
        ub = int(math.floor(rhi[r] + 1e-9)) if math.isfinite(rhi[r]) else _BIG
        add_in_range(model, expr, lb, ub)
    icost = np.floor(cost * scale + 1e-9).astype(np.int64)
    nz = np.flatnonzero(icost)
    model.minimize(cp_model.LinearExpr.weighted_sum([xs[int(j)] for j in nz],
                                                   icost[nz].tolist()))
    if start is not None:
        for j, v in enumerate(np.round(start).astype(np.int64).tolist()):
            model.add_hint(xs[j], v)
    solver = cpsat_solver(options, seed, options.time_limit - (time.perf_counter() - t0),
                          options.extra.get("cpsat"))
    with CancelWatcher(cancel, solver.stop_search):
        code = solver.solve(model, CpSatProgress(ProgressRelay(callbacks, None, None, t0), scale)
                            if callbacks else None)
    msg = f"cpsat: {solver.status_name(code)}"
    if code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE, None, None, None, msg
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.array([solver.value(v) for v in xs], dtype=np.float64)
        status = Status.OPTIMAL if code == cp_model.OPTIMAL else Status.FEASIBLE
        if cancel is not None and cancel.cancelled and status is Status.FEASIBLE:
            status = Status.CANCELLED
        return (status, vals, solver.objective_value / scale,
                solver.best_objective_bound / scale, msg)
    if cancel is not None and cancel.cancelled:
        return Status.CANCELLED, None, None, None, msg
    if code == cp_model.MODEL_INVALID:
        return Status.ERROR, None, None, None, msg
    return Status.NO_SOLUTION_IN_TIME, None, None, None, msg
