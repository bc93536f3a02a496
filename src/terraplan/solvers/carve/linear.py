"""A small matrix-form MILP container shared by the carve and geo-unit MILP backends.

Why not build the models term by term in PuLP: the carve model for a 402-point instance has up to
160,000 assignment columns and as many variable-upper-bound rows; creating one Python object per
term costs seconds before the solver starts. Here a backend appends whole numpy blocks of
coefficients (COO triplets), and :func:`solve_milp` hands the CSR matrix to HiGHS through
``highspy`` in one call, which also gives access to the MIP start (``setSolution``), the proven
dual bound (``mip_dual_bound``), progress callbacks and interruption. When ``highspy`` is not
importable the very same matrix is expressed as a PuLP model and solved with CBC.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from terraplan.solvers.base import (
    CancelToken,
    Progress,
    ProgressCallback,
    SolveOptions,
    Status,
    relative_gap,
)

log = logging.getLogger(__name__)


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class LinearModel:
    """Minimise ``c @ x`` subject to ``row_lo <= A @ x <= row_hi`` and column bounds.

    Columns are added in blocks with :meth:`add_vars` (which returns their indices); rows with
    :meth:`add_rows` from COO triplets whose row numbers are local to the block.
    """

    cost: list[FloatArray] = field(default_factory=list)
    col_lo: list[FloatArray] = field(default_factory=list)
    col_hi: list[FloatArray] = field(default_factory=list)
    integer: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    row_lo: list[FloatArray] = field(default_factory=list)
    row_hi: list[FloatArray] = field(default_factory=list)
    num_cols: int = 0
    num_rows: int = 0
    objective_offset: float = 0.0

    def add_vars(self, count: int, *, cost: npt.ArrayLike = 0.0, lo: npt.ArrayLike = 0.0,
                 hi: npt.ArrayLike = 1.0, integer: bool = True) -> IntArray:
        """Append ``count`` columns; returns their indices."""
        idx = np.arange(self.num_cols, self.num_cols + count, dtype=np.int64)
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (count,)).copy())
        self.col_lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (count,)).copy())
        self.col_hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (count,)).copy())
        self.integer.append(np.full(count, integer, dtype=np.bool_))
        self.num_cols += count
        return idx

    def add_rows(self, count: int, rows: npt.ArrayLike, cols: npt.ArrayLike, vals: npt.ArrayLike,
                 lo: npt.ArrayLike, hi: npt.ArrayLike) -> None:
        """Append ``count`` rows given by triplets (``rows`` local to this block, 0..count-1)."""
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        v = np.broadcast_to(np.asarray(vals, dtype=np.float64), r.shape)
        if r.size and (r.min() < 0 or r.max() >= count):
            raise ValueError("row index outside the block")
        self.rows.append(r + self.num_rows)
        self.cols.append(c)
        self.vals.append(v.astype(np.float64, copy=True))
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (count,)).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (count,)).copy())
        self.num_rows += count

    def matrix(self) -> sp.csr_matrix:
        r = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        c = np.concatenate(self.cols) if self.cols else np.zeros(0, np.int64)
        v = np.concatenate(self.vals) if self.vals else np.zeros(0)
        return sp.csr_matrix((v, (r, c)), shape=(self.num_rows, self.num_cols))

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_],
                              FloatArray, FloatArray]:
        cat = np.concatenate
        return (cat(self.cost), cat(self.col_lo), cat(self.col_hi), cat(self.integer),
                cat(self.row_lo) if self.row_lo else np.zeros(0),
                cat(self.row_hi) if self.row_hi else np.zeros(0))


@dataclass(frozen=True, slots=True)
class MilpOutcome:
    """What a MILP solve produced, before the caller decodes ``values`` into a plan."""

    status: Status
    values: FloatArray | None
    objective: float | None
    bound: float | None
    runtime: float
    solver: str
    message: str = ""


def solve_milp(model: LinearModel, options: SolveOptions, *, start: FloatArray | None = None,
               cancel: CancelToken | None = None,
               callbacks: Sequence[ProgressCallback] = (), seed: int = 0,
               prefer: str = "highs", integral_objective: bool = False) -> MilpOutcome:
    """Solve ``model`` with HiGHS (via highspy), or with CBC through PuLP as a fallback.

    ``start`` is a full column vector used as a MIP start. The returned ``bound`` is the solver's
    proven dual bound (``None`` when it has none); both figures include ``objective_offset``.
    ``integral_objective`` declares that the optimum is an integer (integer costs on integer
    columns): the search may then stop once the gap is below 1, and the bound is rounded up.
    """
    if prefer == "highs":
        try:
            import highspy  # noqa: F401
        except ImportError:  # pragma: no cover - highspy is a declared dependency
            log.warning("highspy is not importable; falling back to CBC through PuLP")
        else:
            return _solve_highs(model, options, start, cancel, callbacks, seed,
                                integral_objective)
    return _solve_cbc(model, options, start)


def _solve_highs(model: LinearModel, options: SolveOptions, start: FloatArray | None,
                 cancel: CancelToken | None, callbacks: Sequence[ProgressCallback],
                 seed: int, integral_objective: bool = False) -> MilpOutcome:
    import highspy

    t0 = time.perf_counter()
    cost, lo, hi, integer, rlo, rhi = model.arrays()
    a = model.matrix()
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(options.log))
    h.setOptionValue("time_limit", float(options.time_limit))
    h.setOptionValue("mip_rel_gap", float(options.gap))
    # HiGHS sizes one process-wide thread pool at the first solve of the process (whoever runs
    # it: the assign MILP, the LP bound, this model); asking for another size later makes run()
    # fail, so like every HiGHS caller in terraplan this one leaves "threads" alone.
    h.setOptionValue("random_seed", int(seed) % 2_147_483_647)
    if integral_objective:
        # an integer optimum is proven once bound > incumbent - 1
        h.setOptionValue("mip_abs_gap", 1.0 - 1e-6)
    for key, value in options.extra.get("highs", {}).items():
        h.setOptionValue(key, value)
    inf = highspy.kHighsInf
    lo_h = np.where(np.isfinite(lo), lo, -inf)
    hi_h = np.where(np.isfinite(hi), hi, inf)
    h.addVars(model.num_cols, lo_h, hi_h)
    h.changeColsCost(model.num_cols, np.arange(model.num_cols, dtype=np.int32), cost)
    if model.num_rows:
        h.addRows(model.num_rows, np.where(np.isfinite(rlo), rlo, -inf),
                  np.where(np.isfinite(rhi), rhi, inf), a.nnz,
                  a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32), a.data)
    int_cols = np.flatnonzero(integer).astype(np.int32)
    if int_cols.size:
        h.changeColsIntegrality(int_cols.size, int_cols,
                                np.full(int_cols.size, highspy.HighsVarType.kInteger))
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)

    def _on_improve(e: highspy.highs.HighsCallbackEvent) -> None:
        out = e.data_out
        obj = float(out.objective_function_value) + model.objective_offset
        bnd = float(out.mip_dual_bound) + model.objective_offset
        ev = Progress(elapsed=time.perf_counter() - t0, objective=obj, bound=bnd,
                      gap=relative_gap(obj, bnd), message="highs: improving solution")
        for cb in callbacks:
            cb(ev)

    def _on_interrupt(e: highspy.highs.HighsCallbackEvent) -> None:
        if cancel is not None and cancel.cancelled:
            e.interrupt()

    if callbacks:
        h.cbMipImprovingSolution.subscribe(_on_improve)
    if cancel is not None:
        h.cbMipInterrupt.subscribe(_on_interrupt)
        h.cbSimplexInterrupt.subscribe(_on_interrupt)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    runtime = time.perf_counter() - t0
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_sol else None
    obj = float(info.objective_function_value) + model.objective_offset if has_sol else None
    bound_raw = float(info.mip_dual_bound) if int_cols.size else float(
        info.objective_function_value)
    bound = bound_raw + model.objective_offset if math.isfinite(bound_raw) else None
    if integral_objective and bound is not None:
        bound = float(math.ceil(bound - 1e-6))
    MS = highspy.HighsModelStatus
    if ms == MS.kOptimal:
        status = Status.OPTIMAL if has_sol else Status.ERROR
        if int_cols.size == 0:
            bound = obj
    elif ms in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
        status, values, obj = Status.INFEASIBLE, None, None
    elif ms == MS.kInterrupt:
        status = Status.CANCELLED
    elif ms in (MS.kTimeLimit, MS.kIterationLimit, MS.kSolutionLimit, MS.kObjectiveBound,
                MS.kObjectiveTarget):
        status = Status.FEASIBLE if has_sol else Status.NO_SOLUTION_IN_TIME
    else:
        status = Status.FEASIBLE if has_sol else Status.ERROR
    if obj is not None and bound is not None and bound > obj:
        bound = obj  # numerical noise in the dual bound must not claim more than the incumbent
    return MilpOutcome(status=status, values=values, objective=obj, bound=bound,
                       runtime=runtime, solver="highs", message=str(h.modelStatusToString(ms)))


def _solve_cbc(model: LinearModel, options: SolveOptions,
               start: FloatArray | None) -> MilpOutcome:
    """Fallback: the same matrix as a PuLP model, solved by CBC (no dual bound is exposed)."""
    import pulp

    t0 = time.perf_counter()
    cost, lo, hi, integer, rlo, rhi = model.arrays()
    a = model.matrix()
    prob = pulp.LpProblem("terraplan", pulp.LpMinimize)
    xs = [pulp.LpVariable(f"x{j}", lowBound=None if not math.isfinite(lo[j]) else lo[j],
                          upBound=None if not math.isfinite(hi[j]) else hi[j],
                          cat=pulp.LpInteger if integer[j] else pulp.LpContinuous)
          for j in range(model.num_cols)]
    prob += pulp.lpSum(float(cost[j]) * xs[j] for j in np.flatnonzero(cost))
    for r in range(model.num_rows):
        s, e = a.indptr[r], a.indptr[r + 1]
        expr = pulp.lpSum(float(v) * xs[int(c)] for c, v in zip(a.indices[s:e], a.data[s:e],
                                                                strict=True))
        if math.isfinite(rlo[r]) and math.isfinite(rhi[r]) and rlo[r] == rhi[r]:
            prob += expr == float(rlo[r])
        else:
            if math.isfinite(rlo[r]):
                prob += expr >= float(rlo[r])
            if math.isfinite(rhi[r]):
                prob += expr <= float(rhi[r])
    if start is not None:
        for j, v in enumerate(start):
            xs[j].setInitialValue(float(v))
    solver = pulp.PULP_CBC_CMD(msg=options.log, timeLimit=options.time_limit,
                               gapRel=options.gap, threads=options.threads,
                               warmStart=start is not None)
    code = prob.solve(solver)
    runtime = time.perf_counter() - t0
    sol_status = prob.sol_status
    if code == pulp.LpStatusInfeasible:
        return MilpOutcome(Status.INFEASIBLE, None, None, None, runtime, "cbc", "infeasible")
    if sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        values = np.array([x.value() or 0.0 for x in xs], dtype=np.float64)
        obj = float(cost @ values) + model.objective_offset
        status = Status.OPTIMAL if sol_status == pulp.LpSolutionOptimal else Status.FEASIBLE
        return MilpOutcome(status, values, obj, obj if status is Status.OPTIMAL else None,
                           runtime, "cbc", pulp.LpStatus[code])
    return MilpOutcome(Status.NO_SOLUTION_IN_TIME, None, None, None, runtime, "cbc",
                       pulp.LpStatus[code])
