r"""The plan objective, recomputed from the domain objects (the solvers must match it).

Formula
-------
For a scenario with spec ``s`` and a plan assigning account ``i`` to rep ``o(i)`` (or to nobody)::

    total = s.objective.travel      × T
          + s.objective.disruption  × D
          + s.objective.balance     × B
          + s.objective.compactness × K

**Travel** ``T = Σ_i a_i · d(i, o(i))`` over assigned accounts whose distance is known, where

* ``d`` is the distance from the account to the rep's home: haversine km when
  ``objective.distance`` is ``auto`` on a lat/lon book or ``haversine``; euclidean planar units
  for ``auto`` on a planar book or ``euclidean``; the supplied table's cost (first entry of a
  duplicated pair) for ``table``. An unknown distance (no account location, no rep home, or a
  pair absent from the table) contributes 0 and is counted in ``Travel.missing_location``.
* ``a_i`` is the travel weight from ``objective.travel_weighting``: ``workload`` → workload hours
  (so T is in km·h), ``visits`` → the extra column ``visits`` (NaN → 0), ``none`` → 1.

**Disruption** ``D = continuity.move_cost × Σ_{i ∈ M} u_i`` where ``M`` is the set of *counted
moves*: accounts whose current owner is an active or planned-hire rep of the roster and whose plan
owner is another rep. Moves away from a departing rep, or from an owner the roster does not know,
are forced and never counted; an account the plan leaves unassigned is not a move (it is an
``unassigned`` violation). ``u_i`` follows ``continuity.move_weight``:
``count`` → 1, ``potential`` → potential in currency units (cents / 100), ``pipeline`` → open
pipeline in currency units (cents / 100) — the same units as :mod:`terraplan.problem`.

**Soft balance** ``B = Σ_{k soft} penalty_k · Σ_r max(0, |dev_{k,r}| − tolerance_k)`` over the
soft balance rules ``k`` (``hard: false``) and the counting reps ``r`` (active or planned hire)
whose target is positive; ``dev = (total − target) / target`` is a fraction of target, with
target = pool total × target_share / Σ shares in the rep's eligibility pool (see
:mod:`terraplan.evaluate`). Hard rules are constraints and add nothing.

**Compactness** ``K`` (geo-unit mode only, else 0): the number of cut unit-adjacency edges
(``compactness_measure: cut_edges``) or their summed shared perimeter (``cut_perimeter``); an edge
is cut when its two units both hold assigned accounts and do not have the same single owner. See
:mod:`terraplan.evaluate.geounit` for the unit graph.

Every term is a plain float; ``ObjectiveBreakdown.total`` is the weighted sum above (a term whose
weight is 0 contributes 0), and the weighted parts are exposed so a solver's reported objective
can be compared term by term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from terraplan.domain import Plan, Scenario
from terraplan.evaluate._facts import (
    ScenarioFacts,
    align,
    deviations,
    pool_targets,
    rep_totals,
)
from terraplan.evaluate.geounit import compactness, unit_owners
from terraplan.evaluate.territories import is_territorial, territory_targets

__all__ = ["ObjectiveBreakdown", "objective"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ObjectiveBreakdown:
    """The objective's terms (unweighted), their weights and the weighted total.

    Attributes
    ----------
    travel : float
        ``T``: Σ weight × distance (e.g. km·h with workload weighting).
    disruption : float
        ``D``: move_cost × moved units (count, or currency units of potential/pipeline).
    balance : float
        ``B``: Σ soft-rule penalty × excess relative deviation.
    compactness : float
        ``K``: cut edges or cut perimeter in geo-unit mode, else 0.
    travel_weight, disruption_weight, balance_weight, compactness_weight : float
        The spec's objective weights.
    total : float
        Weighted sum of the four terms.
    """

    travel: float
    disruption: float
    balance: float
    compactness: float
    travel_weight: float
    disruption_weight: float
    balance_weight: float
    compactness_weight: float
    total: float

    @property
    def weighted(self) -> dict[str, float]:
        """Each term times its weight (these add up to :attr:`total`; a zero weight gives 0)."""
        pairs = {"travel": (self.travel_weight, self.travel),
                 "disruption": (self.disruption_weight, self.disruption),
                 "balance": (self.balance_weight, self.balance),
                 "compactness": (self.compactness_weight, self.compactness)}
        return {k: (w * t if w else 0.0) for k, (w, t) in pairs.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "travel": self.travel, "disruption": self.disruption,
            "balance": self.balance, "compactness": self.compactness,
            "weights": {"travel": self.travel_weight, "disruption": self.disruption_weight,
                        "balance": self.balance_weight, "compactness": self.compactness_weight},
            "weighted": self.weighted,
        }


# -- the terms, shared with evaluate() -----------------------------------------------------------
def owner_distances(facts: ScenarioFacts, owner: npt.NDArray[np.int32]) -> FloatArray:
    """Distance of every account to its owner's home; NaN when unassigned or unknown."""
    d = np.full(facts.n, np.nan, dtype=np.float64)
    a = np.flatnonzero(owner >= 0)
    if a.size:
        d[a] = facts.distance(a, owner[a])
    return d


def counted_moves(facts: ScenarioFacts, owner: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """The moves continuity budgets and the disruption term count (see the module formula)."""
    cur = facts.current
    cur_counts = np.zeros(facts.n, dtype=bool)
    known = cur >= 0
    cur_counts[known] = facts.counting[cur[known]]
    return cur_counts & (owner >= 0) & (owner != cur)


def move_units(facts: ScenarioFacts) -> FloatArray:
    book = facts.scenario.accounts
    weight = facts.scenario.spec.rules.continuity.move_weight
    # currency units, not cents, so move_cost reads "per dollar moved"
    if weight == "potential":
        return np.asarray(book.potential, dtype=np.float64) / 100.0
    if weight == "pipeline":
        return np.asarray(book.pipeline, dtype=np.float64) / 100.0
    return np.ones(facts.n, dtype=np.float64)


def soft_balance_penalty(facts: ScenarioFacts, devs: dict[str, FloatArray],
                         targets: dict[str, FloatArray]) -> float:
    """``B`` from per-metric deviations and targets (counting reps with positive target)."""
    total = 0.0
    for rule in facts.scenario.spec.rules.balance:
        if rule.hard or rule.penalty == 0:  # 0 × an infinite deviation must stay 0
            continue
        dev, tgt = devs[rule.metric], targets[rule.metric]
        ok = facts.counting & (tgt > 0)
        excess = np.maximum(0.0, np.abs(dev[ok]) - rule.tolerance)
        total += rule.penalty * float(excess.sum())
    return total


def combine(facts: ScenarioFacts, travel: float, disruption: float, balance: float,
            compactness: float = 0.0) -> ObjectiveBreakdown:
    o = facts.scenario.spec.objective
    # a zero weight switches its term off even when the term is infinite (0 × inf is NaN)
    total = sum(w * t for w, t in ((o.travel, travel), (o.disruption, disruption),
                                   (o.balance, balance), (o.compactness, compactness)) if w)
    return ObjectiveBreakdown(
        travel=travel, disruption=disruption, balance=balance, compactness=compactness,
        travel_weight=o.travel, disruption_weight=o.disruption, balance_weight=o.balance,
        compactness_weight=o.compactness, total=float(total),
    )


def objective_from_owner(facts: ScenarioFacts, owner: npt.NDArray[np.int32],
                         dist: FloatArray | None = None) -> ObjectiveBreakdown:
    """The objective of an aligned owner array (roster indices, -1 unassigned)."""
    spec = facts.scenario.spec
    if dist is None:
        dist = owner_distances(facts, owner)
    contrib = facts.travel_weight * dist
    travel = float(np.nansum(contrib))
    moves = counted_moves(facts, owner)
    cont = spec.rules.continuity
    disruption = cont.move_cost * float(move_units(facts)[moves].sum()) if cont.move_cost else 0.0
    devs: dict[str, FloatArray] = {}
    targets: dict[str, FloatArray] = {}
    territorial = is_territorial(facts.scenario)
    for rule in spec.rules.balance:
        if rule.hard:
            continue
        values = facts.scenario.accounts.metric(rule.metric)
        # territory modes: equal territories instead of pool targets, as evaluate() does
        targets[rule.metric] = (territory_targets(facts.scenario, owner, values) if territorial
                                else pool_targets(facts, values))
        devs[rule.metric] = deviations(rep_totals(owner, values, facts.R),
                                       targets[rule.metric], facts.counting)
    return combine(facts, travel, disruption, soft_balance_penalty(facts, devs, targets),
                   compactness_of(facts, owner))


def compactness_of(facts: ScenarioFacts, owner: npt.NDArray[np.int32]) -> float:
    """``K`` of an aligned owner array (0 outside geo-unit mode)."""
    if facts.units is None:
        return 0.0
    return compactness(facts.units, unit_owners(facts.units, owner))


def objective(scenario: Scenario, plan: Plan) -> ObjectiveBreakdown:
    """Recompute the objective of ``plan`` on ``scenario`` (formula in the module docstring).

    Parameters
    ----------
    scenario : Scenario
    plan : Plan
        Accounts of the book missing from the plan, or given to reps the roster does not know,
        count as unassigned (they add no travel).

    Returns
    -------
    ObjectiveBreakdown
    """
    facts = ScenarioFacts.build(scenario)
    return objective_from_owner(facts, align(scenario, plan).owner)
