"""The solver contract shared by every backend: options, stop criteria, progress, result.

Backends implement :class:`Backend`; :func:`terraplan.solvers.solve` picks one and calls it.
Nothing is left stuck on a solver object after it returns: everything is in the frozen
:class:`SolveResult`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from terraplan.errors import ParameterError

if TYPE_CHECKING:
    from terraplan.problem import ProblemData


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION_IN_TIME = "no_solution_in_time"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


# -- cancellation and stop criteria -----------------------------------------------------------
class CancelToken:
    """Thread-safe cancellation flag a caller sets (Ctrl-C, API DELETE) and a backend polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class StopCriterion(Protocol):
    """Called by anytime backends with the best objective so far; True means stop."""

    def __call__(self, best_objective: float) -> bool: ...


class MaxRuntime:
    """Stop after ``seconds`` of wall-clock time since construction (or :meth:`start`)."""

    def __init__(self, seconds: float) -> None:
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ParameterError(f"MaxRuntime seconds must be a float in (0, inf). Got {seconds}.")
        self.seconds = seconds
        self._t0 = time.perf_counter()

    def start(self) -> None:
        self._t0 = time.perf_counter()

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - (time.perf_counter() - self._t0))

    def __call__(self, best_objective: float) -> bool:
        return self.remaining <= 0.0


class MaxIterations:
    def __init__(self, iterations: int) -> None:
        if iterations < 1:
            raise ParameterError(f"MaxIterations must be an int >= 1. Got {iterations}.")
        self.iterations = iterations
        self._n = 0

    def __call__(self, best_objective: float) -> bool:
        self._n += 1
        return self._n > self.iterations


class NoImprovement:
    """Stop after ``iterations`` consecutive calls without a better objective."""

    def __init__(self, iterations: int) -> None:
        if iterations < 1:
            raise ParameterError(f"NoImprovement iterations must be an int >= 1. Got {iterations}.")
        self.iterations = iterations
        self._best = math.inf
        self._since = 0

    def __call__(self, best_objective: float) -> bool:
        if best_objective < self._best:
            self._best = best_objective
            self._since = 0
        else:
            self._since += 1
        return self._since >= self.iterations


class FirstOf:
    """Stop when any of the criteria says stop (all are called, so counters stay in step)."""

    def __init__(self, *criteria: StopCriterion) -> None:
        self.criteria = criteria

    def __call__(self, best_objective: float) -> bool:
        return any([c(best_objective) for c in self.criteria])


# -- options, progress, result -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SolveOptions:
    """Validated, immutable solver options.

    ``time_limit`` seconds of wall clock; ``gap`` relative optimality gap at which exact backends
    may stop; ``threads`` worker threads for CP-SAT/HiGHS; ``extra`` backend-specific knobs.
    """

    time_limit: float = 60.0
    gap: float = 1e-4
    threads: int = 2
    log: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.time_limit > 0 and math.isfinite(self.time_limit)):
            raise ParameterError(
                "The 'time_limit' parameter of SolveOptions must be a float in (0, inf). "
                f"Got {self.time_limit!r}.")
        if not (0.0 <= self.gap < 1.0):
            raise ParameterError(
                f"The 'gap' parameter of SolveOptions must be a float in [0, 1). Got {self.gap!r}.")
        if not (isinstance(self.threads, int) and self.threads >= 1):
            raise ParameterError(
                "The 'threads' parameter of SolveOptions must be an int >= 1. "
                f"Got {self.threads!r}.")


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: elapsed seconds, incumbent objective, best bound, relative gap."""

    elapsed: float
    objective: float | None
    bound: float | None
    gap: float | None
    message: str = ""


ProgressCallback = Callable[[Progress], None]


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|obj - bound| / max(|obj|, 1e-9)``; ``None`` when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    if abs(objective - bound) <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-9)


@dataclass(frozen=True, slots=True)
class SolveResult:
    """What a backend returns. ``assignment[i]`` is the rep (or territory) index of account i in
    the problem's order, or ``None`` when no plan was found.

    ``objective`` is in the problem's objective units (see :mod:`terraplan.problem`); ``bound``
    is a proven lower bound on it (``None`` when the backend has none).
    """

    status: Status
    backend: str
    seed: int
    objective: float | None
    bound: float | None
    runtime: float
    assignment: npt.NDArray[np.int32] | None = None
    centres: npt.NDArray[np.int32] | None = None  # carve mode: chosen centre site per territory
    reasons: npt.NDArray[np.int8] | None = None
    conflicts: tuple[str, ...] = ()  # infeasible: the smallest conflicting rule groups found
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


class Backend(Protocol):
    """A solver backend. ``supports`` names the first rule it cannot encode (or ``None``)."""

    name: str

    def unsupported(self, problem: ProblemData) -> str | None: ...

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
    ) -> SolveResult: ...
