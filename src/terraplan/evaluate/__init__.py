"""The solver-agnostic evaluator: the single source of truth for every test and benchmark.

``evaluate(scenario, plan)`` measures any plan straight from the domain objects — per-rep totals
against pool targets, fairness, travel, moves against the current owners — and checks every rule
of the spec, returning typed, readable :class:`Violation` records. ``objective(scenario, plan)``
recomputes the objective the solvers minimise (formula in :mod:`terraplan.evaluate.objective`).
``explain_moves`` / ``explain_account`` / ``explain_rep`` say why accounts sit where they sit.
"""

from terraplan.evaluate.evaluation import Evaluation, MetricBalance, Moves, Travel, evaluate
from terraplan.evaluate.explain import (
    AccountExplanation,
    RepExplanation,
    explain_account,
    explain_moves,
    explain_rep,
)
from terraplan.evaluate.fairness import band_share, cv, gini, max_min
from terraplan.evaluate.objective import ObjectiveBreakdown, objective
from terraplan.evaluate.violations import Violation, ViolationKind

__all__ = [
    "AccountExplanation", "Evaluation", "MetricBalance", "Moves", "ObjectiveBreakdown",
    "RepExplanation", "Travel", "Violation", "ViolationKind", "band_share", "cv", "evaluate",
    "explain_account", "explain_moves", "explain_rep", "gini", "max_min", "objective",
]
