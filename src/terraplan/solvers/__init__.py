"""One ``solve()`` entry point and the backend registry.

Backends implement :class:`~terraplan.solvers.base.Backend` (``name``, ``unsupported(problem)``,
``solve(...)``) and are registered by name with :func:`register_backend`. Built in:

* ``cpsat`` — OR-Tools CP-SAT (:mod:`terraplan.solvers.cpsat`), exact, integer-scaled;
* ``milp`` — PuLP model solved by HiGHS through ``highspy`` (:mod:`terraplan.solvers.milp`),
  reports HiGHS' ``mip_dual_bound``;
* ``milp-cbc`` — the same PuLP model solved by CBC (fallback; no bound reported).

Other backends plug in without editing this file: a module listed in :data:`PLUGINS` (the
heuristic, carve and geo-unit solvers) is imported on first use of the registry and calls
:func:`register_backend` at import time, optionally with an ``auto`` rank so ``backend="auto"``
can pick it (see :func:`choose_backend`).

``solve()`` handles ``mode: assign``; ``carve`` and ``geo_unit`` scenarios go through
:func:`~terraplan.solvers.modes.solve_territories` (re-exported here), which builds the carve or
districting model from the scenario and maps its territories onto the roster.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.domain import Mode, Plan
from terraplan.errors import ParameterError, UnsupportedRuleError
from terraplan.problem import ProblemData, encode
from terraplan.solvers.base import (
    Backend,
    CancelToken,
    FirstOf,
    MaxIterations,
    MaxRuntime,
    NoImprovement,
    Progress,
    ProgressCallback,
    SolveOptions,
    SolveResult,
    Status,
    StopCriterion,
)

log = logging.getLogger(__name__)

#: Modules imported lazily on first registry use; each registers its backend(s) when imported.
PLUGINS: tuple[str, ...] = (
    "terraplan.solvers.heuristic",
    "terraplan.solvers.carve",
    "terraplan.solvers.geounit",
)

#: Size limits of the built-in automatic choice (candidate pairs). On 2 cores CP-SAT's portfolio
#: is tiny and its gap on balanced books of a few thousand pairs stays at a few percent where
#: HiGHS reaches 0.05 % (docs/benchmarks.md), so CP-SAT is the choice only for small books.
#: Above ``AUTO_MILP_PAIRS`` HiGHS 1.12 spends minutes in presolve on balanced books (10k
#: accounts × 50 reps, 44k pairs: no plan in 60 s), so a registered heuristic takes over.
AUTO_CPSAT_PAIRS = 3_000
AUTO_MILP_PAIRS = 20_000


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """A registered backend: a zero-argument factory and its automatic-choice rule.

    ``auto`` returns True when ``backend="auto"`` may pick this backend for ``problem``;
    ``rank`` orders the candidates (lower first).
    """

    name: str
    factory: Callable[[], Backend]
    auto: Callable[[ProblemData], bool] | None = None
    rank: int = 100


_REGISTRY: dict[str, BackendInfo] = {}
_plugins_loaded = False
_plugins_lock = threading.RLock()


def register_backend(
    name: str,
    factory: Callable[[], Backend],
    *,
    auto: Callable[[ProblemData], bool] | None = None,
    rank: int = 100,
) -> None:
    """Register (or replace) backend ``name``.

    Parameters
    ----------
    name : str
        The name users pass as ``solve(..., backend=name)``.
    factory : callable
        Returns a fresh backend object (backends keep no state between solves).
    auto : callable, optional
        ``auto(problem)`` is True when the automatic choice may use this backend. The built-in
        rule is CP-SAT up to :data:`AUTO_CPSAT_PAIRS` pairs, MILP up to :data:`AUTO_MILP_PAIRS`,
        a heuristic (registered with ``auto``) above that.
    rank : int
        Among backends whose ``auto`` accepts a problem, the lowest rank wins.
    """
    _REGISTRY[name] = BackendInfo(name, factory, auto, rank)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    # A lock, and the flag set only after the imports: a second thread must never see a
    # registry without the plugins (solve_decomposed maps pools over threads).
    with _plugins_lock:
        if _plugins_loaded:
            return
        for mod in PLUGINS:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:  # plugin not written (yet): nothing to register
                if exc.name is None or not mod.startswith(exc.name):
                    raise
        _plugins_loaded = True


def backends() -> tuple[str, ...]:
    """Names of every registered backend, in registration order."""
    _load_plugins()
    return tuple(_REGISTRY)


def get_backend(name: str) -> Backend:
    """A fresh backend object; :class:`ParameterError` listing the choices for an unknown name."""
    _load_plugins()
    if name not in _REGISTRY:
        raise ParameterError(
            f"The 'backend' parameter of solve must be 'auto' or one of {sorted(_REGISTRY)}. "
            f"Got {name!r}.")
    return _REGISTRY[name].factory()


def choose_backend(problem: ProblemData) -> str:
    """The backend ``backend="auto"`` uses for ``problem``.

    Backends registered with an ``auto`` rule that accept the problem and can encode all of its
    rules compete by rank. The built-ins: CP-SAT (rank 10) up to :data:`AUTO_CPSAT_PAIRS`
    candidate pairs, MILP/HiGHS (rank 20) up to :data:`AUTO_MILP_PAIRS`. A heuristic plugin
    registers with its own rule (e.g. rank 30, any size) and so takes over above that. When no
    rule accepts the problem, the first backend that can encode it is used.
    """
    _load_plugins()
    infos = sorted(_REGISTRY.values(), key=lambda i: i.rank)
    for info in infos:
        if (info.auto is not None and info.auto(problem)
                and info.factory().unsupported(problem) is None):
            return info.name
    for info in infos:
        if info.factory().unsupported(problem) is None:
            return info.name
    raise UnsupportedRuleError("auto", _first_unsupported(problem, infos),
                               "no registered backend can encode this scenario")


def _first_unsupported(problem: ProblemData, infos: Sequence[BackendInfo]) -> str:
    for info in infos:
        rule = info.factory().unsupported(problem)
        if rule:
            return rule
    return "unknown"


def _initial(problem: ProblemData, initial_plan: Plan | npt.ArrayLike | None
             ) -> npt.NDArray[np.int32] | None:
    if initial_plan is None:
        return None
    if isinstance(initial_plan, Plan):
        return encode(problem, initial_plan)
    a = np.asarray(initial_plan, dtype=np.int32)
    if a.shape != (problem.n_accounts,):
        raise ParameterError(
            "The 'initial_plan' parameter of solve must be a Plan or an int array of one rep "
            f"index per account ({problem.n_accounts}). Got shape {a.shape}.")
    return a


def solve(
    problem: ProblemData,
    stop: StopCriterion | None = None,
    *,
    backend: str = "auto",
    seed: int = 0,
    options: SolveOptions = SolveOptions(),
    callbacks: Sequence[ProgressCallback] = (),
    initial_plan: Plan | npt.ArrayLike | None = None,
    cancel: CancelToken | None = None,
    conflicts: bool = True,
    explain: bool = True,
) -> SolveResult:
    """Solve a compiled problem with one backend and return a frozen :class:`SolveResult`.

    Parameters
    ----------
    problem : ProblemData
        From :func:`terraplan.problem.compile`.
    stop : StopCriterion, optional
        Called with the incumbent objective at every improving solution; True stops the search.
        A :class:`MaxRuntime` (also inside :class:`FirstOf`) tightens ``options.time_limit``.
    backend : str
        ``"auto"`` (see :func:`choose_backend`) or a registered name (:func:`backends`).
    seed : int
        Random seed of the backend, stored in the result. Same seed and ``threads=1`` (or
        ``options.extra["deterministic"] = True``) give the same plan.
    options : SolveOptions
        Time limit, gap, threads, logging and backend-specific ``extra`` knobs. Generic
        ``extra`` knobs: ``warm_start_backend`` (e.g. ``"heuristic"``) runs that backend first
        for ``warm_start_share`` (default 0.25) of the time limit and warm-starts the chosen
        backend from its plan (only when no ``initial_plan`` is given).
    callbacks : sequence of callables
        Each receives a :class:`Progress` (incumbent objective, bound, gap) as the search goes.
    initial_plan : Plan or array, optional
        Warm start; default the current owners of the book.
    cancel : CancelToken, optional
        Setting it stops the search as soon as the backend notices (milliseconds).
    conflicts : bool
        When the result is infeasible, compute the smallest conflicting rule groups
        (:func:`terraplan.solvers.diagnose.conflicts`) into ``result.conflicts``.
    explain : bool
        Fill ``result.reasons`` with a reason code per account when the evaluator's explainer
        is available.

    Returns
    -------
    SolveResult
        ``assignment`` is per account (book order); ``objective`` is in the evaluator's units.

    Raises
    ------
    UnsupportedRuleError
        The chosen backend cannot encode one of the problem's rules (never silently dropped).
    ParameterError
        An unknown backend name or an invalid argument.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"The 'seed' parameter of solve must be an int >= 0. Got {seed!r}.")
    name = choose_backend(problem) if backend == "auto" else backend
    impl = get_backend(name)
    rule = impl.unsupported(problem)
    if rule is not None:
        raise UnsupportedRuleError(name, rule)
    initial = _initial(problem, initial_plan)
    opts = _with_stop_time(options, stop)
    t0 = time.perf_counter()
    ws = opts.extra.get("warm_start_backend")
    if ws and initial is None and ws != name:
        initial, opts = _warm_start_run(problem, str(ws), int(seed), opts, cancel)
    result = impl.solve(problem, seed=int(seed), options=opts, stop=stop, cancel=cancel,
                        callbacks=tuple(callbacks), initial=initial)
    if result.status is Status.INFEASIBLE:
        from terraplan.solvers.diagnose import conflicts as find_conflicts
        from terraplan.solvers.diagnose import diagnose

        findings = diagnose(problem)
        message = result.message
        if findings:
            message += "\n" + "\n".join(f"  - {f}" for f in findings[:50])
        found = result.conflicts
        if conflicts and not found:
            remaining = max(1.0, opts.time_limit - (time.perf_counter() - t0))
            found = find_conflicts(problem, time_limit=remaining, cancel=cancel)
        result = dataclasses.replace(result, conflicts=found, message=message)
    if explain and result.assignment is not None and result.reasons is None:
        result = _with_reasons(problem, result, initial_plan)
    return result


def _warm_start_run(problem: ProblemData, backend: str, seed: int, opts: SolveOptions,
                    cancel: CancelToken | None
                    ) -> tuple[npt.NDArray[np.int32] | None, SolveOptions]:
    """Run ``backend`` for ``warm_start_share`` (default 25 %) of the time limit; its plan (if
    any) becomes the warm start of the main backend, which gets the remaining time."""
    share = float(opts.extra.get("warm_start_share", 0.25))
    if not 0.0 < share < 1.0:
        raise ParameterError("The 'warm_start_share' option must be a float in (0, 1). "
                             f"Got {share!r}.")
    t0 = time.perf_counter()
    sub = dataclasses.replace(opts, time_limit=max(0.1, opts.time_limit * share), extra={})
    pre = get_backend(backend).solve(problem, seed=seed, options=sub, stop=None, cancel=cancel,
                                     callbacks=(), initial=None)
    left = max(0.1, opts.time_limit - (time.perf_counter() - t0))
    log.info("warm start by %s: %s, objective %s", backend, pre.status.value, pre.objective)
    initial = pre.assignment if pre.status.has_plan else None
    return initial, dataclasses.replace(opts, time_limit=left)


def _with_stop_time(options: SolveOptions, stop: StopCriterion | None) -> SolveOptions:
    """Tighten the time limit by any :class:`MaxRuntime` in ``stop``."""
    limits = []
    todo: list[object] = [stop]
    while todo:
        s = todo.pop()
        if isinstance(s, MaxRuntime):
            limits.append(max(s.remaining, 1e-3))
        elif isinstance(s, FirstOf):
            todo.extend(s.criteria)
    if limits and min(limits) < options.time_limit:
        return dataclasses.replace(options, time_limit=min(limits))
    return options


def _with_reasons(problem: ProblemData, result: SolveResult,
                  initial_plan: Plan | npt.ArrayLike | None) -> SolveResult:
    """Reason codes from :mod:`terraplan.evaluate.explain` when it exists (else unchanged).

    Moves are explained relative to ``initial_plan`` (default: the book's current owners).
    """
    try:
        from terraplan.evaluate import explain as _explain
    except ImportError:
        return result
    fn = getattr(_explain, "explain_moves", None)
    if fn is None or result.assignment is None:
        return result
    from terraplan.problem import decode

    plan = decode(problem, result.assignment, solver=result.backend, seed=result.seed)
    before: Plan | None
    if initial_plan is None or isinstance(initial_plan, Plan):
        before = initial_plan
    else:
        before = decode(problem, np.asarray(initial_plan, dtype=np.int32), solver="initial")
    arr = np.asarray(fn(problem.scenario, before, plan), dtype=np.int8)
    if arr.shape != (problem.n_accounts,):
        return result
    return dataclasses.replace(result, reasons=arr)


def _register_builtins() -> None:
    from terraplan.solvers.cpsat import CpSatBackend
    from terraplan.solvers.milp import CbcBackend, HighsBackend

    def small(p: ProblemData) -> bool:
        return p.mode is Mode.ASSIGN and p.n_pairs <= AUTO_CPSAT_PAIRS

    def mid(p: ProblemData) -> bool:
        return p.mode is Mode.ASSIGN and p.n_pairs <= AUTO_MILP_PAIRS

    register_backend("cpsat", CpSatBackend, auto=small, rank=10)
    register_backend("milp", HighsBackend, auto=mid, rank=20)
    if CbcBackend.available():
        register_backend("milp-cbc", CbcBackend)


_register_builtins()

# The territory modes (carve, geo_unit) solve a Scenario, not a ProblemData: one entry point.
from terraplan.solvers.modes import TerritorySolution, solve_territories  # noqa: E402

__all__ = [
    "AUTO_CPSAT_PAIRS", "AUTO_MILP_PAIRS", "PLUGINS", "Backend", "BackendInfo", "CancelToken",
    "FirstOf", "MaxIterations", "MaxRuntime", "NoImprovement", "Progress", "ProgressCallback",
    "SolveOptions", "SolveResult", "Status", "StopCriterion", "TerritorySolution", "backends",
    "choose_backend", "get_backend", "register_backend", "solve", "solve_territories",
]
