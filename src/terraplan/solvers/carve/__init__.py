"""Carve mode: create ``p`` territories from scratch and choose their centres.

This is the capacitated p-median problem (see :mod:`terraplan.solvers.carve.problem` for the
maths). :func:`solve_carve` runs

1. the pre-solve checks (:meth:`CarveProblem.precheck`): provable infeasibility is reported as a
   status with reasons, not raised;
2. a seeded location-allocation heuristic (:mod:`~terraplan.solvers.carve.heuristic`) for a
   warm start, unless the caller supplies one;
3. an exact backend (``"milp"``: HiGHS, CBC fallback; ``"cpsat"``: OR-Tools CP-SAT) over the
   candidate pairs (:mod:`~terraplan.solvers.carve.candidates`). When the pair set is reduced
   and the restriction turns out infeasible or finds no plan, the full model is solved instead,
   so an infeasible status is only ever claimed by the full model.

The result's ``bound`` is a proven lower bound for the *full* problem: it is ``None`` when only
the restricted model was solved (its bound is kept in ``stats["restricted_bound"]``).
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
from terraplan.solvers.carve import cpsat as _cpsat
from terraplan.solvers.carve import milp as _milp
from terraplan.solvers.carve.candidates import candidate_pairs, default_k
from terraplan.solvers.carve.heuristic import lns_improve, location_allocation
from terraplan.solvers.carve.problem import BalanceBand, CarveProblem, medians_from

__all__ = ["BACKENDS", "BalanceBand", "CarveProblem", "medians_from", "solve_carve"]

log = logging.getLogger(__name__)

BACKENDS = ("milp", "cpsat", "heuristic")  # heuristic: large books, carve/large.py

IntArray = npt.NDArray[np.int64]


def _result(problem: CarveProblem, status: Status, backend: str, seed: int, t0: float,
            medians: IntArray | None, bound: float | None, message: str = "",
            conflicts: tuple[str, ...] = (), **stats: object) -> SolveResult:
    assignment = centres = None
    objective = None
    if medians is not None:
        centres_arr = np.unique(medians).astype(np.int32)
        assignment = np.searchsorted(centres_arr, medians).astype(np.int32)
        centres = centres_arr
        objective = problem.objective(medians)
        if bound is not None and bound > objective:
            bound = objective
    return SolveResult(status=status, backend=backend, seed=seed, objective=objective,
                       bound=bound, runtime=time.perf_counter() - t0, assignment=assignment,
                       centres=centres, conflicts=conflicts, message=message, stats=dict(stats))


def _sub_solve(sub: CarveProblem, start: IntArray, time_limit: float, backend: str, seed: int,
               opts: SolveOptions) -> IntArray | None:
    """Exact solve of a small LNS neighbourhood over all its pairs."""
    items, sites, _ = candidate_pairs(sub, sub.m, None)
    o = SolveOptions(time_limit=max(0.1, time_limit), gap=1e-6, threads=opts.threads,
                     extra=opts.extra)
    if backend == "milp":
        _, med = _milp.solve(sub, items, sites, o, seed=seed, start=start, cancel=None,
                             callbacks=())
        return med
    _, med, _, _, _ = _cpsat.solve(sub, items, sites, o, seed=seed, start=start, cancel=None,
                                   callbacks=())
    return med


def solve_carve(
    problem: CarveProblem,
    *,
    backend: str = "milp",
    seed: int = 0,
    options: SolveOptions | None = None,
    stop: StopCriterion | None = None,
    cancel: CancelToken | None = None,
    callbacks: tuple[ProgressCallback, ...] = (),
    initial: npt.ArrayLike | None = None,
) -> SolveResult:
    """Solve a carve problem.

    Parameters
    ----------
    problem : CarveProblem
    backend : {"milp", "cpsat"}
    seed : int
        Seeds the heuristic and the backend; the same seed gives the same plan.
    options : SolveOptions
        ``time_limit`` covers heuristic and model. ``extra`` knobs: ``carve_k`` (candidate sites
        per item, default :func:`~terraplan.solvers.carve.candidates.default_k`),
        ``heuristic_time`` (seconds, default ``min(10, 0.15 * time_limit)``), ``lns_time``
        (seconds of matheuristic improvement; default 3/4 of the time limit when the pair set
        is reduced, else 0), ``lns_neighbours`` (territories freed per move, 3), ``milp_solver``
        (``"highs"`` or ``"cbc"``), ``highs`` (dict of raw HiGHS options).
    stop : StopCriterion, optional
        Accepted for the common signature; exact backends stop on ``time_limit``, ``gap`` or
        ``cancel``.
    cancel : CancelToken, optional
    callbacks : tuple of callables receiving :class:`~terraplan.solvers.base.Progress`
    initial : array of int, optional
        A start plan as a *site index per item*; used instead of the heuristic when feasible.

    Returns
    -------
    SolveResult
        ``assignment[i]`` is the territory of item ``i``; ``centres[t]`` the site of territory
        ``t`` (territories are numbered in increasing site order); the site index per item is
        ``centres[assignment]`` (:func:`medians_from`).
    """
    if backend == "heuristic":  # location-allocation + LNS for large books (see carve.large)
        from terraplan.solvers.carve.large import solve_large

        return solve_large(problem, seed=seed, options=options, stop=stop, cancel=cancel,
                           callbacks=callbacks, initial=initial)
    del stop  # exact backends stop on time/gap/cancel (see docstring)
    if backend not in BACKENDS:
        raise ParameterError(f"The 'backend' parameter of solve_carve must be one of "
                             f"{BACKENDS}. Got {backend!r}.")
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    reasons = problem.precheck()
    if reasons:
        return _result(problem, Status.INFEASIBLE, backend, seed, t0, None, None,
                       "pre-solve checks prove the problem infeasible", tuple(reasons))
    start: IntArray | None = None
    if initial is not None:
        cand = np.asarray(initial, dtype=np.int64)
        if cand.shape == (problem.n,) and not problem.violations(cand):
            start = cand
        else:
            log.info("initial carve plan is not feasible; computing a heuristic start")
    heur_obj = None
    if start is None:
        budget = float(opts.extra.get("heuristic_time", min(10.0, 0.15 * opts.time_limit)))
        start = location_allocation(problem, seed=seed, time_budget=budget)
        heur_obj = problem.objective(start) if start is not None else None
    k = int(opts.extra.get("carve_k", default_k(problem)))
    if k < 1:
        raise ParameterError(f"The 'carve_k' option must be an int >= 1. Got {k}.")
    # The matheuristic pays off when the exact model is restricted (large instances); small
    # models are proved optimal directly, so it only runs there when asked for.
    default_lns = 0.75 * opts.time_limit if k < problem.m else 0.0
    if start is not None and problem.p >= 2:
        lns_budget = float(opts.extra.get("lns_time", default_lns))
        lns_budget = min(lns_budget, max(0.0, opts.time_limit - (time.perf_counter() - t0)) * 0.8)
        if lns_budget > 0:
            start = lns_improve(
                problem, start, seed=seed, time_budget=lns_budget,
                sub_solve=lambda sub, st, tl: _sub_solve(sub, st, tl, backend, seed, opts),
                neighbours=int(opts.extra.get("lns_neighbours", 3)))
    lns_obj = problem.objective(start) if start is not None else None
    items, sites, full = candidate_pairs(problem, k, start)

    def remaining() -> float:
        return max(0.5, opts.time_limit - (time.perf_counter() - t0))

    def run(it: IntArray, st: IntArray) -> tuple[Status, IntArray | None, float | None, str]:
        sub = SolveOptions(time_limit=remaining(), gap=opts.gap, threads=opts.threads,
                           log=opts.log, extra=opts.extra)
        if backend == "milp":
            out, med = _milp.solve(problem, it, st, sub, seed=seed, start=start, cancel=cancel,
                                   callbacks=callbacks)
            return out.status, med, out.bound, f"{out.solver}: {out.message}"
        status, med, _, bnd, msg = _cpsat.solve(problem, it, st, sub, seed=seed, start=start,
                                                cancel=cancel, callbacks=callbacks)
        return status, med, bnd, f"cpsat: {msg}"

    status, med, bound, msg = run(items, sites)
    restricted_bound = None
    if not full and status in (Status.INFEASIBLE, Status.NO_SOLUTION_IN_TIME) and not (
            cancel is not None and cancel.cancelled):
        log.info("restricted carve model (k=%d) found no plan (%s); solving the full model",
                 k, status.value)
        items, sites, full = candidate_pairs(problem, problem.m, None)
        status, med, bound, msg = run(items, sites)
    if not full:
        restricted_bound, bound = bound, None
    # keep the better of the model's plan and the warm start
    if start is not None and (med is None or problem.objective(start) < problem.objective(med)):
        if med is None and status is Status.NO_SOLUTION_IN_TIME:
            status = Status.FEASIBLE
        med = start
    if med is not None:
        broken = problem.violations(med)
        if broken:  # never hand back a plan that breaks a hard rule
            return _result(problem, Status.ERROR, backend, seed, t0, None, None,
                           "backend returned an infeasible plan: " + "; ".join(broken[:3]))
        obj = problem.objective(med)
        if status is Status.OPTIMAL:
            gap = relative_gap(obj, bound)
            if not full or gap is None or gap > max(opts.gap, 1e-9):
                status = Status.FEASIBLE
        elif status is Status.INFEASIBLE:
            status = Status.FEASIBLE  # the warm start proves feasibility
    return _result(problem, status, backend, seed, t0, med, bound, msg,
                   k=k, full_model=full, pairs=int(items.size), heuristic_objective=heur_obj,
                   lns_objective=lns_obj,
                   restricted_bound=restricted_bound)
