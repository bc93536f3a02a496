"""The solver-agnostic evaluator: the single source of truth for every test and benchmark.

``evaluate(scenario, plan)`` measures any plan straight from the domain objects — per-rep totals
against pool targets, fairness, travel, moves against the current owners — and checks every rule
of the spec, returning typed, readable :class:`Violation` records. ``objective(scenario, plan)``
recomputes the objective the solvers minimise (formula in :mod:`terraplan.evaluate.objective`).
``explain_moves`` / ``explain_account`` / ``explain_rep`` say why accounts sit where they sit.

Eligibility pools and targets
-----------------------------
Accounts are grouped into classes by the fields of ``spec.rules.eligibility`` (segment, vertical,
region). The pools are the connected components of the bipartite graph class ↔ counting rep
(status ``active`` or ``planned_hire``; an edge where the rep's lists admit the class, an empty
list meaning *any*). A rep's target for a metric is
``pool total × target_share / Σ target_share of the pool's counting reps``, the pool total
summing the metric over every account of the pool's classes. With no eligibility restriction
there is one pool of everyone. Departing reps have target 0 and no pool.

Modules: :mod:`~terraplan.evaluate.evaluation` (``evaluate``, definitions and tolerances),
:mod:`~terraplan.evaluate.objective` (the objective formula), :mod:`~terraplan.evaluate.fairness`
(CV, Gini, max/min, band share), :mod:`~terraplan.evaluate.violations`,
:mod:`~terraplan.evaluate.explain`, :mod:`~terraplan.evaluate.geounit`.
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
