"""Fallback MILP backend: the same PuLP model (:mod:`.model`) solved by CBC (PuLP's command).

Warm start through PuLP's ``warmStart`` (initial values on the pair variables). CBC runs as a
subprocess: cancellation is honoured only before it starts, progress callbacks get the final
result only, and PuLP does not expose CBC's bound, so ``bound`` is ``None`` unless the run
proves optimality (then the bound equals the objective).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import numpy.typing as npt
import pulp

from terraplan.problem import ProblemData, warm_start
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
from terraplan.solvers.milp.model import build


def _cbc_cmd(**kwargs: object) -> pulp.LpSolver:
    """PuLP's bundled CBC command. PuLP 3 deprecates it in favour of COIN_CMD with a
    separately installed CBC; the bundled binary is what this environment has, so the
    deprecation is silenced here, where it is a known, deliberate choice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(**kwargs)


class CbcBackend:
    """PuLP model solved by CBC (fallback when HiGHS is unwanted)."""

    name = "milp-cbc"

    @staticmethod
    def available() -> bool:
        try:
            return bool(_cbc_cmd(msg=False).available())
        except pulp.PulpError:
            return False

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
        ctx = build(problem)
        hint = warm_start(problem, initial)
        hp = problem.pair_index(hint)
        for t in np.flatnonzero(hint >= 0).tolist():
            for pi in range(int(problem.indptr[t]), int(problem.indptr[t + 1])):
                ctx.x[pi].setInitialValue(1 if pi == hp[t] else 0)
        if cancel is not None and cancel.cancelled:
            return SolveResult(status=Status.CANCELLED, backend=self.name, seed=seed,
                               objective=None, bound=None, runtime=time.perf_counter() - t0,
                               message="cancelled before the search started")
        t_build = time.perf_counter() - t0
        # one thread whatever options.threads says: CBC's threaded branch and bound can hang
        # on a lock until the time limit (coin-or/Cbc#640, coin-or/pulp#737). CI saw it twice
        # on a tiny infeasible conformance case that CBC proves in 0.03 s otherwise, the second
        # time 'balance_hard': "Not Solved" after 10.01 s with threads=2
        cmd = _cbc_cmd(
            msg=bool(options.log), timeLimit=max(1.0, options.time_limit - t_build),
            gapRel=float(options.gap), threads=1,
            warmStart=bool(len(np.flatnonzero(hint >= 0))),
            options=[f"randomCbcSeed {int(seed) % (2**31 - 1) + 1}"],
        )
        ctx.lp.solve(cmd)
        stats = {"build_seconds": t_build}
        if ctx.lp.status == pulp.LpStatusInfeasible:
            return SolveResult(status=Status.INFEASIBLE, backend=self.name, seed=seed,
                               objective=None, bound=None, runtime=time.perf_counter() - t0,
                               message="CBC proved the rules cannot all hold", stats=stats)
        sol_ok = ctx.lp.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        if ctx.lp.status == pulp.LpStatusOptimal and sol_ok:
            xs = np.asarray([v.varValue or 0.0 for v in ctx.x], dtype=np.float64)
            chosen = np.flatnonzero(xs > 0.5)
            item_assign = np.full(problem.n_items, -1, dtype=np.int32)
            item_assign[problem.pair_item[chosen]] = problem.indices[chosen]
            optimal = ctx.lp.sol_status == pulp.LpSolutionOptimal
            res = plan_result(problem, self.name, seed, t0, item_assign,
                              Status.OPTIMAL if optimal else Status.FEASIBLE, None,
                              "optimal" if optimal else "stopped by time limit", stats)
            if optimal and res.objective is not None:
                import dataclasses

                res = dataclasses.replace(res, bound=res.objective)
            relay = ProgressRelay(callbacks, stop, cancel, t0)
            if res.objective is not None:
                relay.on_incumbent(res.objective, res.bound)
            return res
        # the run time says whether CBC hit its limit or stopped early
        runtime = time.perf_counter() - t0
        return SolveResult(status=Status.NO_SOLUTION_IN_TIME, backend=self.name, seed=seed,
                           objective=None, bound=None, runtime=runtime,
                           message=f"CBC ended: {pulp.LpStatus[ctx.lp.status]} after "
                                   f"{runtime:.2f} s (limit {options.time_limit:g} s)",
                           stats=stats)
