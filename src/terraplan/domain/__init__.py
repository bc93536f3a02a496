"""Typed business objects: accounts, reps, rules, plans, scenario specs. No pandas, no DB."""

from terraplan.domain.accounts import BUILTIN_METRICS, Account, AccountBook
from terraplan.domain.common import Categorical, CoordSystem, Point
from terraplan.domain.money import format_cents, format_compact, to_cents
from terraplan.domain.plan import Plan, Provenance, Reason, current_owner_index, locked_index
from terraplan.domain.reps import Rep, RepRoster, RepStatus
from terraplan.domain.scenario import DistanceTable, Scenario, UnitGraph
from terraplan.domain.spec import (
    BalanceRule,
    CarveSpec,
    ContinuityRule,
    DistanceKind,
    GeoUnitSpec,
    InputsSpec,
    Mode,
    ObjectiveSpec,
    RulesSpec,
    ScenarioSpec,
    TravelWeighting,
)

__all__ = [
    "BUILTIN_METRICS", "Account", "AccountBook", "BalanceRule", "CarveSpec", "Categorical",
    "ContinuityRule", "CoordSystem", "DistanceKind", "DistanceTable", "GeoUnitSpec", "InputsSpec",
    "Mode", "ObjectiveSpec", "Plan", "Point", "Provenance", "Reason", "Rep", "RepRoster",
    "RepStatus", "RulesSpec", "Scenario", "ScenarioSpec", "TravelWeighting", "UnitGraph",
    "current_owner_index", "format_cents", "format_compact", "locked_index", "to_cents",
]
