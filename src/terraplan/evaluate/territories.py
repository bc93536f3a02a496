"""Territory-mode checks (``mode: carve`` and ``mode: geo_unit``), independent of the solvers.

In the territory modes a plan is a set of territories, each owned by one rep, and the spec's
rules speak about *territories*, not about every rep of the roster:

* **Territory count** ``T``: ``carve.territories``, or ``geo_unit.territories``, or (geo-unit
  without one) the number of counting reps (``active`` or ``planned_hire``, as in pools). A
  plan whose number of reps owning at least one account differs from ``T`` breaks a hard
  ``territory_count`` rule. Counting reps without a territory own nothing and that is no
  violation.
* **Balance targets**: every territory's target for a metric is ``book total / T`` (territories
  are equal; rep target shares and eligibility pools do not apply); a rep without a territory has
  target 0. The balance bands of ``rules.balance`` are then checked against these targets by the
  usual per-rep check.
* **Territory capacity** (carve): every territory's workload must not exceed
  ``carve.capacity`` (hard ``capacity``, same slack as the rep capacity check).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from terraplan.domain import Mode, RepStatus, Scenario

FloatArray = npt.NDArray[np.float64]

TERRITORY_MODES = (Mode.CARVE, Mode.GEO_UNIT)


def is_territorial(scenario: Scenario) -> bool:
    """True for ``carve`` and ``geo_unit`` scenarios."""
    return scenario.spec.mode in TERRITORY_MODES


def expected_territories(scenario: Scenario) -> int:
    """``T`` of the module docstring."""
    spec = scenario.spec
    if spec.mode is Mode.CARVE and spec.carve is not None:
        return spec.carve.territories
    if spec.geo_unit is not None and spec.geo_unit.territories is not None:
        return spec.geo_unit.territories
    return sum(1 for r in scenario.reps if r.status is not RepStatus.DEPARTING)


def territory_targets(scenario: Scenario, owner: npt.NDArray[np.int32],
                      values: FloatArray) -> FloatArray:
    """Per-rep target of one metric: ``total / T`` for reps owning accounts, else 0."""
    R = len(scenario.reps)
    owns = np.bincount(owner[owner >= 0], minlength=R) > 0
    t = max(expected_territories(scenario), 1)
    return np.where(owns, float(np.sum(values)) / t, 0.0)


def territory_capacity(scenario: Scenario) -> float | None:
    """The carve territory workload cap (``None`` when there is none)."""
    spec = scenario.spec
    if spec.mode is Mode.CARVE and spec.carve is not None:
        return spec.carve.capacity
    return None
