"""A scenario: a validated spec plus the data it plans over."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from terraplan.domain.accounts import AccountBook
from terraplan.domain.reps import RepRoster
from terraplan.domain.spec import ScenarioSpec


@dataclass(frozen=True, slots=True, eq=False)
class UnitGraph:
    """Adjacency of geographic units (geo-unit mode) as an undirected edge list.

    ``unit_ids[k]`` names unit k; ``edges`` is an (m, 2) int array with u < v; ``weights`` holds
    the shared perimeter per edge (1.0 when unknown).
    """

    unit_ids: tuple[str, ...]
    edges: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class DistanceTable:
    """A sparse supplied cost table (e.g. drive minutes from a routing engine)."""

    account_ids: npt.NDArray[np.object_]
    rep_ids: npt.NDArray[np.object_]
    cost: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Scenario:
    spec: ScenarioSpec
    accounts: AccountBook
    reps: RepRoster
    units: UnitGraph | None = None
    distances: DistanceTable | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.spec.name
