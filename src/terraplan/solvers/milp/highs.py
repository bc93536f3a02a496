"""MILP backend: the PuLP model (:mod:`.model`) solved by HiGHS through ``highspy``.

PuLP hides HiGHS' MIP dual bound, callbacks and interrupts, so the PuLP model's columns and rows
are handed to a ``highspy.Highs`` object in bulk (one ``addVars``/``addRows`` call each):

* warm start: ``setSolution`` with the hinted pair variables (HiGHS completes the rest);
* time limit, ``mip_rel_gap``, ``random_seed`` (not ``threads``: HiGHS' scheduler is
  process-wide and fixed by the first solve of the process);
* progress: ``cbMipImprovingSolution`` (incumbent and ``mip_dual_bound``), stop criteria there;
* cancellation: ``cbMipInterrupt`` interrupts once the token is set;
* bound: ``getInfo().mip_dual_bound`` after the run.

Determinism: HiGHS' branch-and-bound is deterministic for a fixed seed and thread count when
the solve ends by proof or gap, not by the wall-clock limit.
"""

from __future__ import annotations

import math
import time

import highspy
import numpy as np
import numpy.typing as npt

from terraplan.problem import ProblemData, soft_band, warm_start
from terraplan.solvers._exact import (
    ProgressRelay,
    infeasible_result,
    items_without_candidates,
    no_candidate_message,
    plan_result,
)
from terraplan.solvers.base import (
    CancelToken,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
)
from terraplan.solvers.cpsat.backend import unsupported_rule
from terraplan.solvers.milp.model import MilpContext, build


def to_highs(ctx: MilpContext) -> tuple[highspy.Highs, npt.NDArray[np.int64]]:
    """A ``Highs`` object holding the PuLP model; returns it and the column of each ``x[p]``."""
    lp = ctx.lp
    variables = list(ctx.x) + [v for _, _, v in ctx.dev_vars]
    col = {v.name: i for i, v in enumerate(variables)}
    n = len(variables)
    inf = highspy.kHighsInf
    lb = np.asarray([-inf if v.lowBound is None else v.lowBound for v in variables], np.float64)
    ub = np.asarray([inf if v.upBound is None else v.upBound for v in variables], np.float64)
    cost = np.zeros(n, dtype=np.float64)
    for v, c in lp.objective.items():
        cost[col[v.name]] = c
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    idx = np.arange(n, dtype=np.int32)
    if n:
        h.addVars(n, lb, ub)
        h.changeColsCost(n, idx, cost)
        is_int = np.asarray([v.cat == "Integer" for v in variables], dtype=bool)
        ints = idx[is_int]
        if len(ints):
            h.changeColsIntegrality(len(ints), ints, np.full(
                len(ints), highspy.HighsVarType.kInteger.value, dtype=np.uint8))
    lower, upper, starts, index, value = [], [], [], [], []
    nnz = 0
    for c in lp.constraints():
        starts.append(nnz)
        for v, a in c.items():
            if a != 0:
                index.append(col[v.name])
                value.append(a)
                nnz += 1
        lo, hi = c.getLb(), c.getUb()
        lower.append(-inf if lo is None else lo)
        upper.append(inf if hi is None else hi)
    if lower:
        lo_a = np.asarray(lower, np.float64)
        hi_a = np.asarray(upper, np.float64)
        st = np.asarray(starts + [nnz], np.int64)
        val = np.asarray(value, np.float64)
        # Money rows carry cents (coefficients up to ~1e9): HiGHS warns about "excessively
        # large" bounds and its presolve/LP slow down. Divide each such row by a power of ten
        # so its largest coefficient is below 1e4 (integer rows stay exact in meaning; only
        # HiGHS' tolerances see the scaled row).
        row_of = np.repeat(np.arange(len(lo_a)), np.diff(st))
        amax = np.zeros(len(lo_a))
        np.maximum.at(amax, row_of, np.abs(val))
        shift = np.where(amax > 1e4, np.floor(np.log10(np.maximum(amax, 1.0))) - 3, 0.0)
        factor = 10.0 ** -shift
        val = val * factor[row_of]
        lo_a = np.where(np.isfinite(lo_a), lo_a * factor, lo_a)
        hi_a = np.where(np.isfinite(hi_a), hi_a * factor, hi_a)
        h.addRows(len(lo_a), lo_a, hi_a, nnz, st[:-1].astype(np.int32),
                  np.asarray(index, np.int32), val)
    return h, np.arange(len(ctx.x), dtype=np.int64)


def _deviations(ctx: MilpContext, item_assignment: npt.NDArray[np.int32]
                ) -> npt.NDArray[np.float64]:
    """Values of the soft-balance deviation columns for a complete item assignment."""
    p = ctx.problem
    out = np.zeros(len(ctx.dev_vars), dtype=np.float64)
    totals: dict[int, npt.NDArray[np.int64]] = {}
    for k, (b, r, _v) in enumerate(ctx.dev_vars):
        q = int(p.balance_q[b])
        if q not in totals:
            totals[q] = np.bincount(item_assignment, weights=p.item_metric_int[q],
                                    minlength=p.n_reps).astype(np.int64)
        t_r = float(totals[q][r])
        tau = float(p.target[b, r]) * float(p.metric_scale[q])
        lo, hi = soft_band(p, b, r)
        out[k] = max(0.0, (t_r - hi) / tau, (lo - t_r) / tau)
    return out


class HighsBackend:
    """PuLP model, solved by HiGHS (highspy) with bound, gap, callbacks and cancellation."""

    name = "milp"

    def unsupported(self, problem: ProblemData) -> str | None:
        return unsupported_rule(problem)

    def solve(
        self,
        problem: ProblemData,
        *,
        seed: int,
        options: SolveOptions,
        stop: StopCriterion | None,
        cancel: CancelToken | None,
        callbacks: tuple[ProgressCallback, ...],
        initial: npt.NDArray[np.int32] | None,
    ) -> SolveResult:
        t0 = time.perf_counter()
        empty = items_without_candidates(problem)
        if len(empty):
            return infeasible_result(problem, self.name, seed, t0,
                                     no_candidate_message(problem, empty))
        if problem.n_items == 0:  # HiGHS reports an empty model as an error; nothing to decide
            return plan_result(problem, self.name, seed, t0, np.zeros(0, dtype=np.int32),
                               Status.OPTIMAL, 0.0, "empty book")
        ctx = build(problem)
        h, xcol = to_highs(ctx)
        t_build = time.perf_counter() - t0
        h.setOptionValue("output_flag", bool(options.log))
        h.setOptionValue("time_limit", max(0.01, options.time_limit - t_build))
        h.setOptionValue("mip_rel_gap", float(options.gap))
        # no "threads" option: HiGHS keeps one process-wide scheduler, and asking for another
        # thread count than the first solve of the process makes run() fail; its MIP search is
        # serial anyway
        h.setOptionValue("random_seed", int(seed) % (2**31))

        hint = warm_start(problem, initial)
        hp = problem.pair_index(hint)
        hinted = np.flatnonzero(hint >= 0)
        if len(hinted) == problem.n_items:
            # a complete hint: give every column (pairs and soft deviations) so HiGHS can take
            # it as its first incumbent without a completion sub-MIP
            xv = np.zeros(len(xcol), dtype=np.float64)
            xv[hp] = 1.0
            dv = _deviations(ctx, hint)
            cols = np.concatenate([xcol, np.arange(len(xcol), len(xcol) + len(dv))])
            h.setSolution(len(cols), cols.astype(np.int32), np.concatenate([xv, dv]))
        elif len(hinted):
            # 1 on the hinted pair, 0 on the item's other pairs; HiGHS completes the rest
            cols_l, vals_l = [], []
            for t in hinted.tolist():
                for pi in range(int(problem.indptr[t]), int(problem.indptr[t + 1])):
                    cols_l.append(int(xcol[pi]))
                    vals_l.append(1.0 if pi == hp[t] else 0.0)
            h.setSolution(len(cols_l), np.asarray(cols_l, np.int32),
                          np.asarray(vals_l, np.float64))

        relay = ProgressRelay(callbacks, stop, cancel, t0)
        flags = {"stop": False}

        def improving(e: highspy.cb.HighsCallbackEvent) -> None:
            out = e.data_out
            bound = out.mip_dual_bound if math.isfinite(out.mip_dual_bound) else None
            if relay.on_incumbent(float(out.objective_function_value), bound):
                flags["stop"] = True

        def interrupt(e: highspy.cb.HighsCallbackEvent) -> None:
            if flags["stop"] or (cancel is not None and cancel.cancelled):
                e.interrupt()

        # Python callbacks cost a GIL round trip each (the interrupt one fires very often), so
        # they are only subscribed when someone listens
        if callbacks or stop is not None:
            h.cbMipImprovingSolution.subscribe(improving)
        if cancel is not None or stop is not None:
            h.cbMipInterrupt.subscribe(interrupt)
        if cancel is not None and cancel.cancelled:
            return SolveResult(status=Status.CANCELLED, backend=self.name, seed=seed,
                               objective=None, bound=None, runtime=time.perf_counter() - t0,
                               message="cancelled before the search started")
        run_status = h.run()
        ms = h.getModelStatus()
        info = h.getInfo()
        stats = {"build_seconds": t_build, "nodes": float(info.mip_node_count),
                 "rows": float(h.getNumRow()), "cols": float(h.getNumCol())}
        cancelled = bool(cancel is not None and cancel.cancelled)
        MS = highspy.HighsModelStatus
        if ms in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
            return SolveResult(status=Status.INFEASIBLE, backend=self.name, seed=seed,
                               objective=None, bound=None, runtime=time.perf_counter() - t0,
                               message="HiGHS proved the rules cannot all hold", stats=stats)
        has_sol = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
        if has_sol:
            col_value = np.asarray(h.getSolution().col_value, dtype=np.float64)
            xs = col_value[xcol]
            item_assign = np.full(problem.n_items, -1, dtype=np.int32)
            chosen = np.flatnonzero(xs > 0.5)
            item_assign[problem.pair_item[chosen]] = problem.indices[chosen]
            bound = float(info.mip_dual_bound)
            bound_v = bound if math.isfinite(bound) else None
            if ms == MS.kOptimal:
                status, msg = Status.OPTIMAL, "optimal within mip_rel_gap"
            elif cancelled:
                status, msg = Status.CANCELLED, "cancelled; best plan so far attached"
            else:
                status, msg = Status.FEASIBLE, f"stopped: {h.modelStatusToString(ms)}"
            return plan_result(problem, self.name, seed, t0, item_assign, status, bound_v, msg,
                               stats)
        if ms in (MS.kTimeLimit, MS.kInterrupt, MS.kIterationLimit, MS.kSolutionLimit):
            status = Status.CANCELLED if cancelled else Status.NO_SOLUTION_IN_TIME
            return SolveResult(status=status, backend=self.name, seed=seed, objective=None,
                               bound=None, runtime=time.perf_counter() - t0,
                               message="no plan found before the search stopped", stats=stats)
        return SolveResult(status=Status.ERROR, backend=self.name, seed=seed, objective=None,
                           bound=None, runtime=time.perf_counter() - t0,
                           message=f"HiGHS ended with status {h.modelStatusToString(ms)} "
                                   f"(run: {run_status})",
                           stats=stats)
