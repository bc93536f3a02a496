"""Every exception and warning terraplan raises, in one place.

Each error carries enough structure for the CLI (exit codes), the API (RFC 9457 problem types)
and tests to act on it without parsing messages. Messages say what was expected and what was got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in input data.

    ``row`` is the 1-based data row number as a spreadsheet user sees it (the header is row 1,
    so the first data row is row 2); ``None`` for file-level or cross-row problems.
    """

    reason: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: Severity = Severity.ERROR
    code: str = "invalid"
    source: str | None = None  # file or table the problem was found in

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        loc = ", ".join(where)
        val = f" (value {self.value!r})" if self.value is not None else ""
        head = f"{loc}: " if loc else ""
        return f"{self.severity.value}: {head}{self.reason}{val}"


class TerraplanError(Exception):
    """Base class of every terraplan error. ``problem_type`` is the stable API code."""

    problem_type = "error"
    exit_code = 1


class InputValidationError(TerraplanError):
    """Input data failed validation. Holds *every* problem found, not only the first."""

    problem_type = "validation"
    exit_code = 2
    shown = 50

    def __init__(self, problems: Sequence[Problem], *, rows_in: int | None = None) -> None:
        self.problems = tuple(problems)
        self.rows_in = rows_in
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        lines = [f"{len(errors)} problem(s) found in the input"]
        lines += [f"  {p}" for p in errors[: self.shown]]
        if len(errors) > self.shown:
            lines.append(f"  ... and {len(errors) - self.shown} more")
        super().__init__("\n".join(lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


class SpecError(TerraplanError):
    """A scenario spec (YAML) is malformed or inconsistent."""

    problem_type = "validation"
    exit_code = 2


class ParameterError(TerraplanError, ValueError):
    """An option or argument is out of its documented range (scikit-learn style message)."""

    problem_type = "validation"
    exit_code = 2


class UnsupportedRuleError(TerraplanError):
    """A solver backend cannot encode a rule of the scenario. It never drops a rule silently."""

    problem_type = "unsupported-rule"

    def __init__(self, backend: str, rule: str, detail: str = "") -> None:
        self.backend = backend
        self.rule = rule
        msg = f"backend '{backend}' cannot encode rule '{rule}'"
        super().__init__(msg + (f": {detail}" if detail else ""))


class InfeasibleError(TerraplanError):
    """The rules cannot all hold. ``reasons`` lists provable conflicts in business terms."""

    problem_type = "infeasible"
    exit_code = 1

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        self.reasons = tuple(reasons)
        body = message + "".join(f"\n  - {r}" for r in self.reasons)
        super().__init__(body)


class InfeasibleBoundsError(InfeasibleError):
    """Quota bounds cannot be met: the sum of lower bounds exceeds the street total, or the sum of
    upper bounds falls short of it."""


class NotFoundError(TerraplanError):
    problem_type = "not-found"
    exit_code = 2


class ConflictError(TerraplanError):
    """Optimistic-locking conflict: the object changed since it was read."""

    problem_type = "conflict"
    exit_code = 1


class LifecycleError(TerraplanError):
    """A lifecycle transition or an edit that the scenario's status forbids."""

    problem_type = "conflict"
    exit_code = 1


class ForbiddenError(TerraplanError):
    problem_type = "forbidden"
    exit_code = 1


class TerraplanWarning(UserWarning):
    """Base class of every terraplan warning."""


class PrecisionWarning(TerraplanWarning):
    """Integer scaling of a metric for an exact solver lost precision."""


class DataWarning(TerraplanWarning):
    """Input data has a non-fatal problem (unknown column, rep with no eligible pool, ...)."""
