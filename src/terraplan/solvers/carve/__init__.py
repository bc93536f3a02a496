"""Carve mode: create ``p`` territories from scratch and choose their centres.

This is the capacitated p-median problem (see :mod:`terraplan.solvers.carve.problem` for the
maths). :func:`solve_carve` runs

1. the pre-solve checks (:meth:`CarveProblem.precheck`): provable infeasibility is reported as a
   status with reasons, not raised;
2. a seeded location-allocation heuristic (:mod:`~terraplan.solvers.carve.heuristic`) for a
   warm start, unless the caller supplies one;
3. for instances up to :data:`~terraplan.solvers.carve.lagrange.MAX_PAIRS` pairs, a Lagrangian
   bound (:mod:`~terraplan.solvers.carve.lagrange`); when the pairs left by reduced-cost fixing
   are still many, *core* models (the pairs that can appear in a plan a little above the bound)
   are solved first for better incumbents and bounds; then reduced-cost fixing at the incumbent
   drops every pair that cannot appear in a better plan;
4. an exact backend (``"milp"``: HiGHS, CBC fallback; ``"cpsat"``: OR-Tools CP-SAT) over the
   candidate pairs (:mod:`~terraplan.solvers.carve.candidates`). When the pair set is reduced
   and the restriction turns out infeasible or finds no plan, the full model is solved instead,
   so an infeasible status is only ever claimed by the full model.

The result's ``bound`` is a proven lower bound for the *full* problem: the best of the model's
bound (when its pair set is full up to safe fixing) and the Lagrangian/core bounds; it is
``None`` when only a restricted model was solved and no Lagrangian bound was computed (the
restricted bound is kept in ``stats["restricted_bound"]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

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
from terraplan.solvers.carve import lagrange as _lagrange
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


def _integral_costs(problem: CarveProblem) -> bool:
    """Whether every plan costs an integer (integer costs on every allowed pair)."""
    c = problem.cost[np.isfinite(problem.cost)]
    return bool(np.allclose(c, np.round(c), rtol=0.0, atol=1e-9))


def _round_bound(bound: float, integral: bool) -> float:
    """Round a lower bound up to the next integer when every plan costs an integer.

    The slack is relative: solver tolerances grow with the objective, so a bound of
    ``1e7 + 5e-4`` for a true optimum of ``1e7`` must not be rounded up to ``1e7 + 1``."""
    if not integral:
        return bound
    return float(np.ceil(bound - max(1e-6, 1e-9 * abs(bound))))


#: Safe pair sets up to this size are solved directly, without core rounds. 0: core rounds
#: run whenever the core is much smaller than the safe set (on pmedcap1 they raise the bound
#: and find the optimum quickly on most instances; measured in docs/benchmarks.md).
CORE_MIN_PAIRS = 0

Runner = Callable[..., tuple[Status, "IntArray | None", "float | None", str]]


def _core_rounds(problem: CarveProblem, lr: _lagrange.LagrangeBound, start: IntArray,
                 proven: float, integral: bool, opts: SolveOptions, run: Runner,
                 remaining: Callable[[], float], stats: dict[str, object]
                 ) -> tuple[IntArray, float]:
    """Solve *core* models: the pairs that can appear in a plan cheaper than ``thr``, for
    thresholds a little above the Lagrangian bound (``carve_core_gap``, default 0.1 %, widened
    fourfold per round). Every plan cheaper than ``thr`` lies in the core, so the core model's
    bound ``b`` proves ``min(b, thr)`` for the whole problem; its plans are feasible plans.
    Rounds are skipped when the safe pair set at the incumbent is already small
    (``core_min_pairs``, default :data:`CORE_MIN_PAIRS`: that model is solved directly) and stop
    once the core is no longer much smaller than the safe set, a round runs out of time, or
    45 % of the remaining time (``core_time``) is spent."""
    d = float(opts.extra.get("carve_core_gap", 1e-3))
    budget = float(opts.extra.get("core_time", 0.45 * remaining()))
    min_pairs = int(opts.extra.get("core_min_pairs", CORE_MIN_PAIRS))
    t_start = time.perf_counter()
    rounds = 0
    for _ in range(int(opts.extra.get("core_rounds", 4))):
        ub = problem.objective(start)
        left = budget - (time.perf_counter() - t_start)
        thr = lr.bound + d * max(1.0, abs(lr.bound))
        if left < 0.5 or thr >= ub or proven >= ub:
            break
        core = _lagrange.fixing_mask(problem, lr, thr, integral=False, keep=start)
        safe = _lagrange.fixing_mask(problem, lr, ub, integral=integral, keep=start)
        if safe.sum() <= min_pairs or core.sum() > 0.5 * safe.sum():
            break
        ii, jj = np.nonzero(core)
        status, med, bnd, _ = run(ii.astype(np.int64), jj.astype(np.int64), left, start)
        rounds += 1
        if med is not None and not problem.violations(med) and (
                problem.objective(med) < ub):
            start = med
        if bnd is not None:
            proven = max(proven, _round_bound(min(bnd, thr), integral))
        if status is not Status.OPTIMAL:
            break  # out of time in this round: wider cores will not be faster
        d *= 4.0
    stats["core_rounds"] = rounds
    return start, proven


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
        is reduced and no Lagrangian bound is used, else 0), ``lns_neighbours`` (territories
        freed per move, 3), ``milp_solver`` (``"highs"`` or ``"cbc"``), ``highs`` (dict of raw
        HiGHS options), ``lagrange``
        (bool, default True: Lagrangian bound, core models and fixing), ``lagrange_time``
        (seconds, default ``min(15, 0.2 * time_limit)``), ``carve_core_gap`` (first core
        threshold above the bound, relative, 1e-3), ``core_rounds`` (4), ``core_time``,
        ``core_min_pairs``.
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
    lr_ok = (start is not None and bool(opts.extra.get("lagrange", True))
             and problem.n * problem.m <= _lagrange.MAX_PAIRS)
    k_opt = opts.extra.get("carve_k")
    if k_opt is not None and int(k_opt) < 1:
        raise ParameterError(f"The 'carve_k' option must be an int >= 1. Got {k_opt}.")
    k = int(k_opt) if k_opt is not None else default_k(problem)
    # The matheuristic pays off when the exact model is restricted (large instances); small
    # models are proved optimal directly, so it only runs there when asked for.
    default_lns = 0.75 * opts.time_limit if (k < problem.m and not lr_ok) else 0.0
    if start is not None and problem.p >= 2:
        lns_budget = float(opts.extra.get("lns_time", default_lns))
        lns_budget = min(lns_budget, max(0.0, opts.time_limit - (time.perf_counter() - t0)) * 0.8)
        if lns_budget > 0:
            start = lns_improve(
                problem, start, seed=seed, time_budget=lns_budget,
                sub_solve=lambda sub, st, tl: _sub_solve(sub, st, tl, backend, seed, opts),
                neighbours=int(opts.extra.get("lns_neighbours", 3)))
    lns_obj = problem.objective(start) if start is not None else None

    # building a model and decoding its plan take time outside the solver's own clock
    margin = min(2.0, 0.025 * opts.time_limit) if lr_ok else 0.0

    def remaining() -> float:
        return max(0.5, opts.time_limit - margin - (time.perf_counter() - t0))

    def run(it: IntArray, st: IntArray, limit: float | None = None,
            warm: IntArray | None = None) -> tuple[Status, IntArray | None, float | None, str]:
        sub = SolveOptions(time_limit=remaining() if limit is None else limit, gap=opts.gap,
                           threads=opts.threads, log=opts.log, extra=opts.extra)
        ws = start if warm is None else warm
        if backend == "milp":
            out, med = _milp.solve(problem, it, st, sub, seed=seed, start=ws, cancel=cancel,
                                   callbacks=callbacks)
            return out.status, med, out.bound, f"{out.solver}: {out.message}"
        status, med, _, bnd, msg = _cpsat.solve(problem, it, st, sub, seed=seed, start=ws,
                                                cancel=cancel, callbacks=callbacks)
        return status, med, bnd, f"cpsat: {msg}"

    # Lagrangian bound, core models and reduced-cost fixing (see lagrange.py)
    proven: float | None = None  # a lower bound for the whole problem
    allowed = None
    lr_stats: dict[str, object] = {}
    if lr_ok:
        assert start is not None
        integral = _integral_costs(problem)
        lr_budget = float(opts.extra.get("lagrange_time", min(15.0, 0.2 * opts.time_limit)))
        # the stage keeps to its budget (it measures its own cost); never past half the time left
        lr_budget = min(lr_budget, 0.5 * max(0.0, opts.time_limit - (time.perf_counter() - t0)))
        t_lr = time.perf_counter()
        lr = _lagrange.lagrangian_bound(problem, upper=problem.objective(start),
                                        time_budget=lr_budget, cancel=cancel)
        if lr is not None:
            proven = _round_bound(lr.bound, integral)
            lr_stats = {"lagrange_bound": lr.bound, "lagrange_iterations": lr.iterations,
                        "lagrange_time": time.perf_counter() - t0,
                        "lagrange_s": time.perf_counter() - t_lr,
                        "lagrange_budget": lr_budget}
            start, proven = _core_rounds(problem, lr, start, proven, integral, opts, run,
                                         remaining, lr_stats)
            allowed = _lagrange.fixing_mask(problem, lr, problem.objective(start),
                                            integral=integral, keep=start)
            lr_stats["fixed_pairs_left"] = int(allowed.sum())
            if k_opt is None:
                k = default_k(problem, allowed)
    items, sites, full = candidate_pairs(problem, k, start, allowed)
    status: Status
    med: IntArray | None
    bound: float | None
    if proven is not None and start is not None and proven >= problem.objective(start) - max(
            opts.gap * abs(problem.objective(start)), 1e-9):
        status, med, bound, msg = Status.OPTIMAL, start, proven, "lagrangian bound meets the plan"
    else:
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
    if proven is not None:
        bound = proven if bound is None else max(bound, proven)
    if bound is not None and _integral_costs(problem):
        bound = _round_bound(bound, True)
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
        gap = relative_gap(obj, bound)
        proved = gap is not None and (gap <= max(opts.gap, 1e-9) or (
            bound is not None and _integral_costs(problem) and bound > obj - 1.0 + 1e-6))
        if status is Status.OPTIMAL and not ((full or proven is not None) and proved):
            status = Status.FEASIBLE
        elif status is Status.FEASIBLE and proved:
            status = Status.OPTIMAL
        elif status is Status.INFEASIBLE:
            status = Status.FEASIBLE  # the warm start proves feasibility
    return _result(problem, status, backend, seed, t0, med, bound, msg, (),
                   k=k, full_model=full, pairs=int(items.size), heuristic_objective=heur_obj,
                   lns_objective=lns_obj,
                   restricted_bound=restricted_bound, **lr_stats)
