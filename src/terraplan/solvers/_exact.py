"""Plumbing shared by the exact backends (CP-SAT, MILP): result assembly, progress, cancellation.

Kept out of the backends so both report objectives, bounds and statuses the same way: the
objective of a returned plan is always recomputed in float evaluator units from the item
assignment (:func:`terraplan.problem.objective`), never taken from a solver's scaled model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from terraplan.problem import ProblemData, hard_violations, objective
from terraplan.solvers.base import (
    CancelToken,
    Progress,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
    relative_gap,
)

log = logging.getLogger(__name__)


def items_without_candidates(problem: ProblemData) -> npt.NDArray[np.int64]:
    """Items with an empty candidate list (the problem is then trivially infeasible)."""
    return np.flatnonzero(np.diff(problem.indptr) == 0)


def infeasible_result(problem: ProblemData, backend: str, seed: int, t0: float,
                      message: str) -> SolveResult:
    return SolveResult(status=Status.INFEASIBLE, backend=backend, seed=seed, objective=None,
                       bound=None, runtime=time.perf_counter() - t0, message=message)


def no_candidate_message(problem: ProblemData, items: npt.NDArray[np.int64]) -> str:
    ids = problem.scenario.accounts.ids
    shown = ", ".join(str(ids[problem.item_root[t]]) for t in items[:5].tolist())
    more = f" and {len(items) - 5} more" if len(items) > 5 else ""
    return (f"{len(items)} account(s)/families have no rep that every hard rule allows "
            f"(eligibility, locks, departures, max distance, protected pipeline): {shown}{more}")


def plan_result(
    problem: ProblemData,
    backend: str,
    seed: int,
    t0: float,
    item_assignment: npt.NDArray[np.int32],
    status: Status,
    bound: float | None,
    message: str = "",
    stats: dict[str, float] | None = None,
) -> SolveResult:
    """A result holding a plan; objective recomputed in evaluator units.

    A plan that breaks a hard rule is a backend bug: it is reported as ``Status.ERROR`` with the
    violations in the message rather than handed on as a feasible plan.
    """
    bad = hard_violations(problem, item_assignment)
    if bad:
        log.error("backend %s returned a plan breaking hard rules: %s", backend, bad[:3])
        return SolveResult(status=Status.ERROR, backend=backend, seed=seed, objective=None,
                           bound=bound, runtime=time.perf_counter() - t0,
                           message="internal error, plan breaks: " + "; ".join(bad[:5]),
                           stats=stats or {})
    obj = objective(problem, item_assignment)
    if bound is not None:
        # a bound from a scaled or tolerance-driven model can exceed the exact objective by
        # rounding; a lower bound above the objective it bounds would be nonsense
        bound = min(bound, obj)
    if status is Status.FEASIBLE and bound is not None and relative_gap(obj, bound) == 0.0:
        status = Status.OPTIMAL
    return SolveResult(status=status, backend=backend, seed=seed, objective=obj, bound=bound,
                       runtime=time.perf_counter() - t0,
                       assignment=problem.account_assignment(item_assignment),
                       message=message, stats=stats or {})


class ProgressRelay:
    """Forwards incumbents/bounds to progress callbacks and applies the stop criterion.

    ``on_incumbent`` returns True when the search should stop (stop criterion or cancel token).
    """

    def __init__(self, callbacks: tuple[ProgressCallback, ...], stop: StopCriterion | None,
                 cancel: CancelToken | None, t0: float) -> None:
        self.callbacks = callbacks
        self.stop = stop
        self.cancel = cancel
        self.t0 = t0
        self.best: float | None = None
        self.bound: float | None = None
        self.stopped_by_criterion = False

    def emit(self, message: str = "") -> None:
        ev = Progress(elapsed=time.perf_counter() - self.t0, objective=self.best,
                      bound=self.bound, gap=relative_gap(self.best, self.bound), message=message)
        for cb in self.callbacks:
            cb(ev)

    def on_incumbent(self, obj: float, bound: float | None) -> bool:
        if self.best is None or obj < self.best:
            self.best = obj
        if bound is not None:
            self.bound = bound
        self.emit("incumbent")
        if self.stop is not None and self.stop(obj):
            self.stopped_by_criterion = True
            return True
        return bool(self.cancel is not None and self.cancel.cancelled)

    def on_bound(self, bound: float) -> None:
        self.bound = bound
        self.emit("bound")


class CancelWatcher:
    """Context manager: a daemon thread that calls ``interrupt()`` once ``cancel`` is set.

    Exact solvers only call back on events (solutions, logging); a watcher makes cancellation
    prompt even while the solver is still looking for its first solution.
    """

    def __init__(self, cancel: CancelToken | None, interrupt: Callable[[], None],
                 poll: float = 0.02) -> None:
        self.cancel = cancel
        self.interrupt = interrupt
        self.poll = poll
        self.fired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        assert self.cancel is not None
        while not self._done.wait(self.poll):
            if self.cancel.cancelled:
                self.fired = True
                self.interrupt()
                return

    def __enter__(self) -> CancelWatcher:
        if self.cancel is not None:
            if self.cancel.cancelled:
                self.fired = True
            self._thread = threading.Thread(target=self._run, name="terraplan-cancel",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def add_in_range(model: cp_model.CpModel, expr: cp_model.LinearExprT, lo: int, hi: int) -> None:
    """``lo ≤ expr ≤ hi`` in ``model``; with ``lo > hi`` (a band with no integer inside) a
    constraint that cannot hold. CP-SAT's ``add_linear_constraint`` writes an empty constraint
    when ``expr`` has no variable and the domain is empty (ortools 9.15), which drops the rule
    instead of making the model infeasible: a rep with no candidate pair (every account locked
    elsewhere) and a band of [0.17, 0.5] accounts got a plan that left it empty."""
    if lo > hi:
        model.add_bool_or([])
    else:
        model.add_linear_constraint(expr, lo, hi)


def cpsat_solver(options: SolveOptions, seed: int, time_left: float,
                 raw: Mapping[str, Any] | None = None) -> Any:
    """A CP-SAT solver configured the same way by every terraplan model.

    Time limit ``time_left`` (s), ``options.threads`` workers (interleaved, hence deterministic
    for a seed, with ``options.extra["deterministic"]``), the seed, the relative gap, logging, and
    ``catch_sigint_signal`` off: CP-SAT's own SIGINT handler aborts the process in OR-Tools 9.x,
    and cancellation goes through :class:`CancelToken` (:class:`CancelWatcher`). ``raw`` CP-SAT
    parameters are applied last; a single worker asked for ``use_lns_only`` also interleaves its
    search, or CP-SAT ignores the LNS and searches the whole model in that one worker.
    """
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(0.01, float(time_left))
    prm.relative_gap_limit = options.gap
    prm.random_seed = int(seed) % (2**31 - 1)
    prm.num_workers = max(1, options.threads)
    if bool(options.extra.get("deterministic", False)) and options.threads > 1:
        prm.interleave_search = True
    prm.log_search_progress = options.log
    prm.catch_sigint_signal = False
    for key, value in dict(raw or {}).items():
        if isinstance(value, (list, tuple)):  # a repeated field (e.g. ignore_subsolvers)
            field = getattr(prm, key)
            field.clear()
            field.extend(value)
        else:
            setattr(prm, key, value)
    if prm.use_lns_only and prm.num_workers == 1:
        prm.interleave_search = True
    return solver


class CpSatProgress(cp_model.CpSolverSolutionCallback):
    """CP-SAT solution callback: relays incumbent and bound (in objective units, i.e. divided by
    the model's integer ``scale``) and stops the search when the relay says so."""

    def __init__(self, relay: ProgressRelay, scale: float) -> None:
        super().__init__()
        self.relay = relay
        self.scale = scale

    def on_solution_callback(self) -> None:
        obj = self.objective_value / self.scale
        bound = self.best_objective_bound / self.scale
        if self.relay.on_incumbent(obj, bound):
            self.stop_search()
