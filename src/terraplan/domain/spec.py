"""The scenario spec: inputs, column mapping, rules and objective weights (YAML-loadable).

A spec is validated with pydantic (frozen models, unknown keys rejected) so that a typo in a
rule name is an error with its path, never silently ignored. Example::

    name: demo
    inputs:
      accounts: accounts.csv
      reps: reps.csv
      account_columns: {Account ID: id, Annual Potential: potential}
    rules:
      balance:
        - {metric: potential, tolerance: 0.05}
        - {metric: workload, tolerance: 0.10, hard: false, penalty: 10}
      continuity: {max_moved_share: 0.2, move_cost: 1.0}
    objective: {travel: 1.0, disruption: 1.0}
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from terraplan.domain.common import CoordSystem
from terraplan.errors import SpecError


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Mode(StrEnum):
    ASSIGN = "assign"  # reps exist with home bases; assign accounts to them
    CARVE = "carve"  # create N territories from scratch, choosing centres (capacitated p-median)
    GEO_UNIT = "geo_unit"  # aggregate accounts to geographic units and keep territories contiguous


class DistanceKind(StrEnum):
    AUTO = "auto"  # haversine for lat/lon, euclidean for planar
    HAVERSINE = "haversine"
    EUCLIDEAN = "euclidean"
    TABLE = "table"  # a supplied sparse cost table (account, rep, cost)


class TravelWeighting(StrEnum):
    WORKLOAD = "workload"
    VISITS = "visits"  # an extra numeric column named ``visits``
    NONE = "none"


class InputsSpec(_Model):
    """Where the data comes from and how the CRM's column names map onto terraplan's."""

    accounts: str | None = None
    reps: str | None = None
    adjacency: str | None = None  # geo-unit mode: edge list CSV, GeoJSON polygons, or "delaunay"
    distance_table: str | None = None  # CSV account_id, rep_id, cost
    account_columns: dict[str, str] = Field(default_factory=dict)  # user column -> our field
    rep_columns: dict[str, str] = Field(default_factory=dict)
    coord_system: CoordSystem = CoordSystem.LATLON
    currency_unit: Literal["units", "cents"] = "units"  # are money columns in dollars or cents?


class BalanceRule(_Model):
    """Each rep's total of ``metric`` must lie within ``±tolerance`` of its target.

    target = pool total × target_share / Σ shares within the rep's eligibility pool. ``hard``
    makes the band a constraint; otherwise deviation beyond the band costs ``penalty`` per unit
    of relative deviation (fraction of target) in the objective.
    """

    metric: str
    tolerance: float = Field(0.05, ge=0.0, le=10.0)
    hard: bool = True
    penalty: float = Field(100.0, ge=0.0)


class ContinuityRule(_Model):
    """Limit and price disruption relative to the current owner."""

    max_moved_accounts: int | None = Field(None, ge=0)
    max_moved_share: float | None = Field(None, ge=0.0, le=1.0)  # share of total potential
    max_moved_per_rep: int | None = Field(None, ge=0)
    move_cost: float = Field(0.0, ge=0.0)  # objective price per moved unit
    move_weight: Literal["count", "potential", "pipeline"] = "count"
    protect_pipeline_above: int | None = Field(None, ge=0)  # cents; such accounts never move


class RulesSpec(_Model):
    eligibility: tuple[Literal["segment", "vertical", "region"], ...] = (
        "segment", "vertical", "region",
    )
    capacity: bool = True
    balance: tuple[BalanceRule, ...] = (BalanceRule(metric="potential"),)
    locks: bool = True
    families: bool = True
    max_distance: float | None = Field(None, gt=0.0)  # km (lat/lon) or planar units
    continuity: ContinuityRule = ContinuityRule()
    contiguity: bool = False  # geo-unit mode

    @field_validator("balance")
    @classmethod
    def _unique_metrics(cls, v: tuple[BalanceRule, ...]) -> tuple[BalanceRule, ...]:
        names = [b.metric for b in v]
        dup = {m for m in names if names.count(m) > 1}
        if dup:
            raise ValueError(f"balance metric listed twice: {sorted(dup)}")
        return v


class ObjectiveSpec(_Model):
    """Weights of the objective terms (all costs are minimised)."""

    travel: float = Field(1.0, ge=0.0)
    travel_weighting: TravelWeighting = TravelWeighting.WORKLOAD
    distance: DistanceKind = DistanceKind.AUTO
    disruption: float = Field(0.0, ge=0.0)
    balance: float = Field(1.0, ge=0.0)  # multiplies every soft balance penalty
    compactness: float = Field(0.0, ge=0.0)  # geo-unit mode: per cut adjacency edge
    compactness_measure: Literal["cut_edges", "cut_perimeter"] = "cut_edges"


class CarveSpec(_Model):
    """Carve mode: how many territories, and which sites may be centres."""

    territories: int = Field(..., ge=1)
    candidate_sites: Literal["accounts", "reps"] = "accounts"
    capacity: float | None = Field(None, gt=0.0)  # workload per territory; None = balance only


class GeoUnitSpec(_Model):
    unit_column: Literal["postal_code", "region", "country"] = "postal_code"
    territories: int | None = Field(None, ge=1)  # None: one per rep


class ScenarioSpec(_Model):
    """A complete, validated scenario spec."""

    name: str = "scenario"
    description: str = ""
    mode: Mode = Mode.ASSIGN
    inputs: InputsSpec = InputsSpec()
    rules: RulesSpec = RulesSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    carve: CarveSpec | None = None
    geo_unit: GeoUnitSpec | None = None
    seed: int = 0

    @classmethod
    def from_yaml(cls, path: str | Path) -> ScenarioSpec:
        """Load and validate a YAML spec; every error is reported with its key path."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecError(f"cannot read spec {p}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise SpecError(f"spec {p} is not valid YAML: {exc}") from exc
        return cls.from_dict(data or {}, source=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "spec") -> ScenarioSpec:
        if not isinstance(data, dict):
            raise SpecError(
                f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            lines = [
                f"  {'.'.join(str(x) for x in e['loc']) or '<root>'}: {e['msg']}"
                + (f" (got {e['input']!r})" if not isinstance(e.get("input"), dict) else "")
                for e in exc.errors()
            ]
            raise SpecError(f"{source}: {len(lines)} problem(s) in the scenario spec\n"
                            + "\n".join(lines)) from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def resolve(self, base: str | Path, name: str | None) -> Path | None:
        """Absolute path of an input file named relative to the spec's folder."""
        if name is None:
            return None
        p = Path(name)
        return p if p.is_absolute() else Path(base) / p
