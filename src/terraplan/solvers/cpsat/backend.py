"""The CP-SAT backend: build (:mod:`.model`), warm-start, solve, report bound and gap.

* Warm start: ``AddHint`` of the initial plan (default the current owners) on every pair of the
  hinted items (1 on the hinted rep, 0 elsewhere).
* Time limit ``options.time_limit``; relative gap ``options.gap``
  (``relative_gap_limit``); ``options.threads`` workers.
* Determinism: CP-SAT with several workers races them, so the plan may vary between runs at
  the same seed. ``threads=1`` or ``options.extra["deterministic"] = True`` (interleaved search
  in one thread) gives the same plan for the same seed when the solve ends by proof, not by the
  wall-clock limit.
* Cancellation: a :class:`~terraplan.solvers.base.CancelToken` is watched by a thread that calls
  ``stop_search()``; stop criteria are evaluated at every improving solution.
* Progress: every improving solution and every new best bound go to the callbacks.
* ``options.extra["cpsat_params"]``: raw CP-SAT parameters (name → value) applied last.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from terraplan.domain import Mode
from terraplan.problem import ProblemData, Rule, warm_start
from terraplan.solvers._exact import (
    CancelWatcher,
    CpSatProgress,
    ProgressRelay,
    cpsat_solver,
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
from terraplan.solvers.cpsat.model import build

#: Rules this backend encodes (assign mode). Anything else present makes ``unsupported`` say so.
SUPPORTED = frozenset({
    Rule.ELIGIBILITY, Rule.DEPARTURE, Rule.CAPACITY, Rule.BALANCE, Rule.LOCKS, Rule.FAMILIES,
    Rule.MAX_DISTANCE, Rule.DISTANCE_TABLE, Rule.CONTINUITY_BUDGET, Rule.CONTINUITY_PER_REP,
    Rule.MOVE_COST, Rule.PROTECT_PIPELINE,
})


def unsupported_rule(problem: ProblemData) -> str | None:
    """The first rule of ``problem`` the exact assign backends cannot encode, else None."""
    if problem.mode is not Mode.ASSIGN:
        return f"mode:{problem.mode.value}"
    for r in problem.rules:
        base = r.split("[", 1)[0]
        if base not in SUPPORTED:
            return r
    return None


class CpSatBackend:
    """OR-Tools CP-SAT on the compiled assign problem (exact; integer-scaled objective)."""

    name = "cpsat"

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
        hinted = np.flatnonzero(hint >= 0)
        chosen = set(hp[hinted].tolist())
        for t in hinted.tolist():
            for pi in range(int(problem.indptr[t]), int(problem.indptr[t + 1])):
                ctx.model.add_hint(ctx.x[pi], pi in chosen)
        t_build = time.perf_counter() - t0

        solver = cpsat_solver(options, seed, options.time_limit - t_build,
                              options.extra.get("cpsat_params"))
        if options.log:
            import logging

            lg = logging.getLogger("terraplan.solvers.cpsat")
            solver.log_callback = lg.info
        relay = ProgressRelay(callbacks, stop, cancel, t0)
        if callbacks:
            solver.best_bound_callback = lambda b: relay.on_bound(b / ctx.scale)
        cb = CpSatProgress(relay, ctx.scale)
        with CancelWatcher(cancel, solver.stop_search) as watcher:
            if watcher.fired:
                return SolveResult(status=Status.CANCELLED, backend=self.name, seed=seed,
                                   objective=None, bound=None,
                                   runtime=time.perf_counter() - t0,
                                   message="cancelled before the search started")
            code = solver.solve(ctx.model, cb)
        stats = {"build_seconds": t_build, "branches": float(solver.num_branches),
                 "conflicts": float(solver.num_conflicts), "scale": ctx.scale,
                 "wall_seconds": solver.wall_time}
        cancelled = watcher.fired or bool(cancel is not None and cancel.cancelled)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            sol = np.asarray(solver.response_proto.solution, dtype=np.int64)
            xs = sol[[v.index for v in ctx.x]] if len(ctx.x) else np.zeros(0, np.int64)
            chosen_p = np.flatnonzero(xs > 0)
            item_assign = np.full(problem.n_items, -1, dtype=np.int32)
            item_assign[problem.pair_item[chosen_p]] = problem.indices[chosen_p]
            bound = solver.best_objective_bound / ctx.scale
            if code == cp_model.OPTIMAL:
                status, msg = Status.OPTIMAL, "optimal"
            elif cancelled:
                status, msg = Status.CANCELLED, "cancelled; best plan so far attached"
            else:
                status, msg = Status.FEASIBLE, "stopped by time limit, gap or stop criterion"
            res = plan_result(problem, self.name, seed, t0, item_assign, status, bound, msg,
                              stats)
            return res
        if code == cp_model.INFEASIBLE:
            return SolveResult(status=Status.INFEASIBLE, backend=self.name, seed=seed,
                               objective=None, bound=None, runtime=time.perf_counter() - t0,
                               message="CP-SAT proved the rules cannot all hold", stats=stats)
        if code == cp_model.MODEL_INVALID:
            return SolveResult(status=Status.ERROR, backend=self.name, seed=seed, objective=None,
                               bound=None, runtime=time.perf_counter() - t0,
                               message="CP-SAT model invalid: " + solver.solution_info(),
                               stats=stats)
        status = Status.CANCELLED if cancelled else Status.NO_SOLUTION_IN_TIME
        return SolveResult(status=status, backend=self.name, seed=seed, objective=None,
                           bound=None, runtime=time.perf_counter() - t0,
                           message="no plan found before the search stopped", stats=stats)
