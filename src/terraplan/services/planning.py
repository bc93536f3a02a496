"""Solve a stored scenario end to end — the use case behind ``terraplan solve``, the API's solve
jobs and ``terraplan demo``.

The flow is the one of the whole package, in one place::

    store snapshot → Scenario → compile (ProblemData) → diagnose → solve → decode (Plan with
    reason codes) → evaluate (independent re-check) → record run + plan + metrics (one
    transaction each; a failed or cancelled solve records the run and leaves the plans alone)

The spec's ``mode`` picks the solver: ``assign`` compiles to :class:`ProblemData` and runs
:func:`terraplan.solvers.solve`; ``carve`` and ``geo_unit`` run
:func:`terraplan.solvers.modes.solve_territories` (territories drawn by the carve / districting
model, then mapped onto the active reps). Either way the plan owns accounts by roster rep id and is
evaluated, stored and versioned the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terraplan.domain import Plan, Scenario, ScenarioSpec
from terraplan.errors import ParameterError
from terraplan.evaluate import Evaluation, evaluate
from terraplan.problem import ProblemData, compile, decode
from terraplan.services.types import SolveRunInfo
from terraplan.services.workspace import ScenarioRef, Workspace
from terraplan.solvers import choose_backend, solve
from terraplan.solvers.base import (
    CancelToken,
    Progress,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
)
from terraplan.solvers.diagnose import Finding, diagnose
from terraplan.solvers.modes import (
    TERRITORY_MODES,
    backends_for,
    solve_territories,
    territory_count,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SolveRequest:
    """What to solve and how (validated by :class:`SolveOptions` on use)."""

    backend: str = "auto"
    time_limit: float = 60.0
    seed: int | None = None  # None: the spec's seed
    threads: int = 2
    gap: float = 1e-4

    def options(self) -> SolveOptions:
        return SolveOptions(time_limit=self.time_limit, gap=self.gap, threads=self.threads)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "time_limit": self.time_limit, "seed": self.seed,
                "threads": self.threads, "gap": self.gap}


@dataclass(frozen=True, slots=True)
class SolveOutcome:
    """Everything a caller shows after a solve: the recorded run, the plan and its evaluation
    next to the evaluation of the plan it started from (the CRM's current ownership)."""

    run: SolveRunInfo
    result: SolveResult
    plan: Plan | None
    before: Evaluation
    after: Evaluation | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    problem_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return self.result.status


def backend_refusal(spec: ScenarioSpec, backend: str) -> str | None:
    """Why a scenario with ``spec`` cannot be solved by ``backend`` (``None`` when it can).

    Only the territory modes restrict backends (their models run on fewer backends than
    assign mode); an unknown backend name is the caller's own check.
    """
    if spec.mode not in TERRITORY_MODES:
        return None
    allowed = backends_for(spec.mode)
    if backend in allowed:
        return None
    return (f"backend {backend!r} cannot solve a {spec.mode.value} scenario; use one of "
            f"{', '.join(allowed)}")


def check_solve_backend(ws: Workspace, ref: ScenarioRef, backend: str) -> None:
    """Refuse, before anything is queued or recorded, a backend the scenario's mode cannot use.

    Reads only the stored spec (cheap), so the API can answer a solve request at once.

    Raises
    ------
    ParameterError
        The scenario's mode cannot use ``backend`` (the message names the usable ones).
    NotFoundError
        No such scenario.
    """
    reason = backend_refusal(ws.get_spec(ref), backend)
    if reason is not None:
        raise ParameterError(reason)


def solve_loaded(
    scenario: Scenario,
    request: SolveRequest = SolveRequest(),
    *,
    callbacks: Sequence[ProgressCallback] = (),
    cancel: CancelToken | None = None,
    initial_plan: Plan | None = None,
) -> tuple[ProblemData | None, SolveResult, Plan | None, tuple[Finding, ...]]:
    """Compile, diagnose and solve an in-memory scenario; decode the plan (no store involved).

    Provable infeasibilities found before solving are returned as findings and the solver is
    not run (status ``infeasible``, the findings as conflicts) — there is no point searching.

    ``carve`` and ``geo_unit`` scenarios are solved by
    :func:`~terraplan.solvers.modes.solve_territories` instead (its own pre-solve checks report
    infeasibility as conflicts); the compiled problem is then ``None`` and ``initial_plan`` is not
    used (territories are drawn from scratch).
    """
    t0 = time.perf_counter()
    if scenario.spec.mode in TERRITORY_MODES:
        seed = scenario.spec.seed if request.seed is None else request.seed
        sol = solve_territories(scenario, backend=request.backend, seed=seed,
                                options=request.options(), cancel=cancel,
                                callbacks=tuple(callbacks))
        return None, sol.result, sol.plan, ()
    problem = compile(scenario)
    findings = tuple(diagnose(problem))
    seed = scenario.spec.seed if request.seed is None else request.seed
    backend = choose_backend(problem) if request.backend == "auto" else request.backend
    if findings:
        result = SolveResult(
            status=Status.INFEASIBLE, backend=backend, seed=seed, objective=None, bound=None,
            runtime=time.perf_counter() - t0, conflicts=tuple(str(f) for f in findings),
            message="provably infeasible before solving")
        return problem, result, None, findings
    result = solve(problem, backend=backend, seed=seed, options=request.options(),
                   callbacks=tuple(callbacks), cancel=cancel, initial_plan=initial_plan)
    plan = None
    # A cancelled search keeps its incumbent (Ctrl-C, API DELETE): the planner reviews it as a
    # draft; the evaluator still decides whether it may be stored.
    if result.assignment is not None and (result.status.has_plan
                                          or result.status is Status.CANCELLED):
        plan = decode(problem, result.assignment, reasons=result.reasons,
                      solver=result.backend, seed=result.seed, note=scenario.spec.name)
    return problem, result, plan, findings


def solve_scenario(
    ws: Workspace,
    ref: ScenarioRef,
    request: SolveRequest = SolveRequest(),
    *,
    actor: str,
    callbacks: Sequence[ProgressCallback] = (),
    cancel: CancelToken | None = None,
    job_id: str | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> SolveOutcome:
    """Solve a stored scenario and record the run, its plan and the plan's evaluation.

    The run is always recorded (infeasible, cancelled and no-solution runs too, with their
    conflicts in the message); a plan is stored only when one was found — a cancelled search
    that already has an incumbent keeps it, as a draft to review. The evaluator re-checks the
    plan independently before it is stored; a plan with hard violations is never stored as
    ``solved``: the run is recorded as an error instead.
    """
    started = datetime.now(UTC)
    scenario = ws.load_scenario(ref)
    refusal = backend_refusal(scenario.spec, request.backend)
    if refusal is not None:  # refused before any run is recorded, like an unknown backend name
        raise ParameterError(refusal)
    seed = scenario.spec.seed if request.seed is None else request.seed
    before = evaluate(scenario, Plan.current(scenario.accounts, scenario.reps))
    try:
        problem, result, plan, findings = solve_loaded(
            scenario, request, callbacks=callbacks, cancel=cancel)
    except Exception as exc:
        err = SolveResult(status=Status.ERROR, backend=request.backend,
                          seed=seed, objective=None, bound=None,
                          runtime=(datetime.now(UTC) - started).total_seconds(),
                          message=f"{type(exc).__name__}: {exc}")
        ws.record_solve(ref, err, None, actor=actor, options=request.to_dict(),
                        error=err.message, started_at=started, job_id=job_id)
        raise
    after = evaluate(scenario, plan) if plan is not None else None
    if after is not None and not after.feasible:
        # The evaluator is the source of truth: never store a plan that breaks a hard rule.
        bad = "; ".join(str(v) for v in after.hard_violations[:5])
        log.error("solver %s returned a plan with hard violations: %s", result.backend, bad)
        result = SolveResult(
            status=Status.ERROR, backend=result.backend, seed=result.seed,
            objective=result.objective, bound=result.bound, runtime=result.runtime,
            message=f"plan rejected by the evaluator: {bad}")
        plan = None
    message = result.message
    if result.conflicts:
        message = (message + "; " if message else "") + "conflicts: " + " | ".join(result.conflicts)
    recorded = dataclasses.replace(result, message=message)
    run = ws.record_solve(ref, recorded, plan, actor=actor, options=request.to_dict(),
                          started_at=started, job_id=job_id)
    if plan is not None and after is not None:
        ws.record_metrics(ref, "evaluation", after.to_dict(reps=True, max_violations=200),
                          actor=actor, plan_id=run.plan_id)
        if on_plan is not None:
            on_plan(plan)
    return SolveOutcome(run=run, result=result, plan=plan, before=before, after=after,
                        findings=findings,
                        problem_stats=_problem_stats(scenario, problem))


def _problem_stats(scenario: Scenario, problem: ProblemData | None) -> dict[str, Any]:
    """Size figures shown after a solve (compiled sizes in assign mode)."""
    if problem is None:
        return {"mode": scenario.spec.mode.value, "accounts": len(scenario.accounts),
                "reps": len(scenario.reps), "territories": territory_count(scenario)}
    return {"mode": scenario.spec.mode.value, "accounts": problem.n_accounts,
            "reps": problem.n_reps, "items": problem.n_items,
            "candidate_pairs": int(len(problem.indices))}


class ProgressLog:
    """A progress callback that keeps the latest event (for live displays and job heartbeats)."""

    def __init__(self) -> None:
        self.latest: Progress | None = None
        self.events = 0

    def __call__(self, p: Progress) -> None:
        self.latest = p
        self.events += 1
