"""Geo-unit mode: contiguous, balanced territories built from geographic units.

:func:`solve_districting` runs the pre-solve checks, builds the labeling-SCF model
(:mod:`~terraplan.solvers.geounit.model`) and solves it with HiGHS (``"milp"``) or CP-SAT
(``"cpsat"``). Every returned plan is re-verified independently: connected components per
district (:func:`terraplan.geo.adjacency.components_per_label`), population band, objective
recomputed from the labels.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt

from terraplan.errors import ParameterError
from terraplan.solvers.base import (
    CancelToken,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
    relative_gap,
)
from terraplan.solvers.carve.linear import LinearModel, solve_milp
from terraplan.solvers.geounit import model as _model
from terraplan.solvers.geounit.cpsat import solve_linear
from terraplan.solvers.geounit.cuts import solve_by_cuts
from terraplan.solvers.geounit.heuristic import primal_plan
from terraplan.solvers.geounit.problem import DistrictingProblem

__all__ = ["BACKENDS", "DistrictingProblem", "solve_districting"]

log = logging.getLogger(__name__)

BACKENDS = ("milp", "cpsat")


#: Default share of the time limit given to the primal heuristic (``extra["heuristic_time"]``
#: overrides it in seconds); the exact model gets the rest, warm-started by the heuristic's plan.
HEURISTIC_SHARE = 0.6
#: Work limit of one exact two-district re-split in the heuristic's pair descent: CP-SAT
#: deterministic time (one worker, so the result depends on the seed only), HiGHS seconds.
PAIR_WORK = 1.0


def _primal(problem: DistrictingProblem, backend: str, seed: int, opts: SolveOptions,
            cancel: CancelToken | None, deadline: float) -> npt.NDArray[np.int64] | None:
    """The heuristic plan of :func:`~terraplan.solvers.geounit.heuristic.primal_plan`, pair
    re-splits solved by ``backend``."""

    def pair_solve(lm: LinearModel, start: npt.NDArray[np.float64], left: float
                   ) -> npt.NDArray[np.float64] | None:
        if left <= 0.05:
            return None
        if backend == "milp":
            out = solve_milp(lm, SolveOptions(time_limit=min(left, 2 * PAIR_WORK), gap=0.0,
                                              threads=opts.threads),
                             start=start, cancel=cancel, seed=seed,
                             prefer=str(opts.extra.get("milp_solver", "highs")),
                             integral_objective=problem.measure == "cut_edges")
            return out.values
        o = SolveOptions(time_limit=min(left, 10 * PAIR_WORK), gap=0.0, threads=1,
                         extra={"cpsat": {"max_deterministic_time": PAIR_WORK}})
        _, vals, _, _, _ = solve_linear(lm, o, seed=seed, start=start, cancel=cancel,
                                        callbacks=())
        return vals

    plan = primal_plan(problem, seed=seed, solve=pair_solve, deadline=deadline, cancel=cancel)
    if plan is None or problem.violations(plan):
        return None
    return _model.canonical(plan, problem.k)


def solve_districting(
    problem: DistrictingProblem,
    *,
    backend: str = "cpsat",
    seed: int = 0,
    options: SolveOptions | None = None,
    stop: StopCriterion | None = None,
    cancel: CancelToken | None = None,
    callbacks: tuple[ProgressCallback, ...] = (),
    initial: npt.ArrayLike | None = None,
) -> SolveResult:
    """Partition the units into ``problem.k`` contiguous districts within the population band,
    minimising cut edges (or cut perimeter).

    Parameters
    ----------
    problem : DistrictingProblem
    backend : {"cpsat", "milp"}
    seed : int
    options : SolveOptions
        ``extra``: ``contiguity`` (``"scf"``, default: single-commodity-flow model, warm-started
        by the primal heuristic of :mod:`~terraplan.solvers.geounit.heuristic` (spanning-tree
        partitions, annealing, exact pair re-splits) within ``heuristic_time`` seconds, default
        60 % of the time limit, 0 to skip it; ``"cuts"``: a,b-separator row generation, which
        proves optimality when the relaxation's optimum is contiguous), ``highs`` / ``cpsat``
        dicts of raw solver parameters, ``milp_solver``.
    stop : accepted for the common signature (exact backends stop on time, gap or cancel).
    cancel : CancelToken, optional
    callbacks : progress callbacks
    initial : district label per unit, optional
        Used as a warm start when it is a valid plan.

    Returns
    -------
    SolveResult
        ``assignment[i]`` is the district of unit ``i`` (districts numbered by their
        lowest-index unit); ``objective`` the compactness objective; ``stats`` holds
        ``cut_edges``, ``cut_perimeter`` and the district populations.
    """
    del stop
    if backend not in BACKENDS:
        raise ParameterError(f"The 'backend' parameter of solve_districting must be one of "
                             f"{BACKENDS}. Got {backend!r}.")
    opts = options or SolveOptions()
    t0 = time.perf_counter()

    def result(status: Status, labels: npt.NDArray[np.int64] | None, bound: float | None,
               message: str, conflicts: tuple[str, ...] = ()) -> SolveResult:
        obj = None
        stats: dict[str, object] = {}
        assignment = None
        if labels is not None:
            obj = problem.objective(labels)
            if bound is not None and bound > obj:
                bound = obj
            assignment = labels.astype(np.int32)
            stats = {"cut_edges": problem.cut_edges(labels),
                     "cut_perimeter": problem.cut_perimeter(labels),
                     "district_population": problem.district_population(labels).tolist()}
        return SolveResult(status=status, backend=backend, seed=seed, objective=obj,
                           bound=bound, runtime=time.perf_counter() - t0,
                           assignment=assignment, conflicts=conflicts, message=message,
                           stats=stats)

    reasons = problem.precheck()
    if reasons:
        return result(Status.INFEASIBLE, None, None,
                      "pre-solve checks prove the problem infeasible", tuple(reasons))
    start_labels = None
    if initial is not None:
        lab = np.asarray(initial, dtype=np.int64)
        if lab.shape == (problem.n,) and lab.min() >= 0 and lab.max() < problem.k and not (
                problem.violations(lab)):
            start_labels = _model.canonical(lab, problem.k)
        else:
            log.info("initial districting plan is not valid; solving without a start")
    method = str(opts.extra.get("contiguity", "scf"))
    if method not in ("cuts", "scf"):
        raise ParameterError("The 'contiguity' option must be 'cuts' or 'scf'. "
                             f"Got {method!r}.")
    if method == "scf" and start_labels is None and problem.k >= 2:
        budget = float(opts.extra.get("heuristic_time", HEURISTIC_SHARE * opts.time_limit))
        if budget > 0:
            start_labels = _primal(problem, backend, seed, opts, cancel, t0 + budget)
            log.info("geo-unit heuristic: %s after %.2f s", "no plan" if start_labels is None
                     else f"objective {problem.objective(start_labels):.6g}",
                     time.perf_counter() - t0)
    if method == "cuts" and start_labels is None:
        def sub_solve(lm: LinearModel, start: npt.NDArray[np.float64] | None, tl: float
                      ) -> tuple[Status, npt.NDArray[np.float64] | None, float | None]:
            o = SolveOptions(time_limit=max(0.1, tl), gap=opts.gap, threads=opts.threads,
                             log=opts.log, extra=opts.extra)
            if backend == "milp":
                out = solve_milp(lm, o, start=start, cancel=cancel, callbacks=callbacks,
                                 seed=seed, prefer=str(opts.extra.get("milp_solver", "highs")),
                                 integral_objective=problem.measure == "cut_edges")
                return out.status, out.values, out.bound
            st, vals, _, bnd, _ = solve_linear(lm, o, seed=seed, start=start, cancel=cancel,
                                               callbacks=callbacks)
            return st, vals, bnd

        status, labels, bound, rounds = solve_by_cuts(problem, sub_solve, opts.time_limit
                                                      - (time.perf_counter() - t0),
                                                      time.perf_counter)
        if labels is not None or status is Status.INFEASIBLE:
            if labels is not None and problem.violations(labels):
                return result(Status.ERROR, None, None, "row generation returned an invalid "
                              "plan: " + "; ".join(problem.violations(labels)[:3]))
            if status is Status.OPTIMAL and labels is not None:
                gap = relative_gap(problem.objective(labels), bound)
                if gap is None or gap > max(opts.gap, 1e-9):
                    status = Status.FEASIBLE
            return result(status, labels, bound, f"{backend}: a,b-separator row generation, "
                          f"{rounds} round(s)")
        return result(status, None, bound, f"{backend}: no contiguous plan within the time "
                      f"limit after {rounds} round(s) of row generation")
    dm = _model.build(problem)
    start = (_model.start_vector(dm, problem, start_labels) if start_labels is not None
             else None)
    sub = SolveOptions(time_limit=max(0.5, opts.time_limit - (time.perf_counter() - t0) - 0.1),
                       gap=opts.gap, threads=opts.threads, log=opts.log, extra=opts.extra)
    if backend == "milp":
        out = solve_milp(dm.model, sub, start=start, cancel=cancel, callbacks=callbacks,
                         seed=seed, prefer=str(opts.extra.get("milp_solver", "highs")),
                                 integral_objective=problem.measure == "cut_edges")
        status, values, bound, msg = out.status, out.values, out.bound, out.message
    else:
        status, values, _, bound, msg = solve_linear(dm.model, sub, seed=seed, start=start,
                                                     cancel=cancel, callbacks=callbacks)
    labels = _model.canonical(_model.decode(dm, values), problem.k) if values is not None \
        else None
    if start_labels is not None and (labels is None or problem.objective(labels)
                                     > problem.objective(start_labels) + 1e-9):
        labels = start_labels  # the exact search never returns worse than its warm start
        if status in (Status.NO_SOLUTION_IN_TIME, Status.OPTIMAL):
            status = Status.FEASIBLE
    if labels is not None:
        broken = problem.violations(labels)
        if broken:  # independent re-check: never return a plan that breaks a hard rule
            return result(Status.ERROR, None, None,
                          "backend returned an invalid plan: " + "; ".join(broken[:3]))
        if status is Status.OPTIMAL:
            gap = relative_gap(problem.objective(labels), bound)
            if gap is None or gap > max(opts.gap, 1e-9):
                status = Status.FEASIBLE
    return result(status, labels, bound, msg)
