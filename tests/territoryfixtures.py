"""Hand-checkable carve and geo-unit scenarios shared by the solver, evaluator and service tests.

Carve (planar): cluster A = a0 (0, 0), a1 (1, 0), a2 (0, 1); cluster B = b0 (10, 10),
b1 (11, 10), b2 (10, 11); workload 1 and potential $1,000 each; two territories of at most 3
accounts and exactly 3 accounts each, so the territories are the clusters. Reps: R1 lives at
(10, 10) (in B), R2 at (0, 0) (in A), R3 far away at (50, 50), R4 departing. Current owners:
all of A with R1; b0, b1 with R3; b2 with R2. Disruption (potential leaving its owner):

    A→R1 0, A→R2 $3,000, A→R3 $3,000;   B→R1 $3,000, B→R2 $2,000, B→R3 $1,000

so the least-disruption mapping is A→R1, B→R3 ($1,000; only b2 moves) although the nearest
homes would give A→R2, B→R1 ($6,000). R2 gets no territory.

Geo-unit (planar): four postal units Z0 (0, 0), Z1 (1, 0), Z2 (0, 1), Z3 (1, 1), two accounts
each, potential $100 per account; two districts of exactly $400. R1 at (0, 0.5), R2 at
(1, 0.5), R3 departing; Z0 and Z2 are R2's today, Z1 and Z3 R1's.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Plan,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
    ScenarioSpec,
)
from terraplan.domain.plan import current_owner_index

CARVE_XY = {"a0": (0, 0), "a1": (1, 0), "a2": (0, 1), "b0": (10, 10), "b1": (11, 10),
            "b2": (10, 11)}
CARVE_OWNERS = {"a0": "R1", "a1": "R1", "a2": "R1", "b0": "R3", "b1": "R3", "b2": "R2"}
CARVE_SPEC: dict[str, Any] = {
    "name": "carve-fixture", "mode": "carve", "seed": 3,
    "carve": {"territories": 2, "capacity": 3},
    "inputs": {"coord_system": "planar"},
    "objective": {"travel_weighting": "none"},
    "rules": {"eligibility": [], "balance": [{"metric": "accounts", "tolerance": 0.0}]},
}


def carve_roster(capacity_r1: float | None = None) -> RepRoster:
    return RepRoster.of([
        Rep("R1", home=Point(10, 10), capacity=capacity_r1), Rep("R2", home=Point(0, 0)),
        Rep("R3", home=Point(50, 50)), Rep("R4", home=Point(0, 0), status=RepStatus.DEPARTING)])


def carve_scenario(owners: dict[str, str | None] | None = None, *, capacity_r1: float | None = None,
                   spec: dict[str, Any] | None = None) -> Scenario:
    own = CARVE_OWNERS if owners is None else owners
    accts = [Account(a, location=Point(x, y), workload=1.0, potential=1000_00,
                     current_owner=own.get(a)) for a, (x, y) in CARVE_XY.items()]
    return Scenario(spec=ScenarioSpec.from_dict(spec or CARVE_SPEC),
                    accounts=AccountBook.from_accounts(accts, CoordSystem.PLANAR),
                    reps=carve_roster(capacity_r1))


GEO_SPEC: dict[str, Any] = {
    "name": "geo-fixture", "mode": "geo_unit", "seed": 3,
    "geo_unit": {"unit_column": "postal_code"},
    "inputs": {"coord_system": "planar"},
    "objective": {"travel": 0.0, "compactness": 1.0},
    "rules": {"eligibility": [], "contiguity": True,
              "balance": [{"metric": "potential", "tolerance": 0.0}]},
}
GEO_UNITS = {"Z0": (0, 0), "Z1": (1, 0), "Z2": (0, 1), "Z3": (1, 1)}
GEO_OWNERS = {"Z0": "R2", "Z1": "R1", "Z2": "R2", "Z3": "R1"}


def geo_scenario(spec: dict[str, Any] | None = None) -> Scenario:
    accts = [Account(f"{z}-{j}", location=Point(x + 0.1 * j, y), postal_code=z,
                     potential=100_00, workload=1.0, current_owner=GEO_OWNERS[z])
             for z, (x, y) in GEO_UNITS.items() for j in range(2)]
    roster = RepRoster.of([Rep("R1", home=Point(0, 0.5)), Rep("R2", home=Point(1, 0.5)),
                           Rep("R3", status=RepStatus.DEPARTING)])
    return Scenario(spec=ScenarioSpec.from_dict(spec or GEO_SPEC),
                    accounts=AccountBook.from_accounts(accts, CoordSystem.PLANAR), reps=roster)


def least_disruption(scenario: Scenario, plan: Plan) -> tuple[int, int]:
    """(disruption of the plan's territory → rep mapping, least disruption over every injective
    mapping of its territories onto the active reps), by brute force, in cents."""
    book, roster = scenario.accounts, scenario.reps
    owner = plan.aligned(book, roster)
    cur = current_owner_index(book, roster)
    pot = np.asarray(book.potential, dtype=np.int64)
    terr = sorted(set(owner.tolist()))
    active = [i for i, r in enumerate(roster) if r.status is RepStatus.ACTIVE]

    def cost(mapping: dict[int, int]) -> int:
        return int(sum(pot[i] for i in range(len(book))
                       if cur[i] != mapping[int(owner[i])]))

    chosen = cost({t: t for t in terr})
    best = min(cost(dict(zip(terr, perm, strict=True)))
               for perm in itertools.permutations(active, len(terr)))
    return chosen, best
