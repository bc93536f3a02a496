"""Plain frozen results returned by the services (never ORM objects, never sessions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from terraplan.domain import Reason


@dataclass(frozen=True, slots=True)
class CycleInfo:
    id: int
    name: str
    description: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """An immutable input snapshot: ``kind`` is accounts, reps or spec."""

    id: int
    kind: str
    sha256: str
    n_rows: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class InputsInfo:
    """Result of an import: the two snapshots and whether each was new."""

    accounts: SnapshotInfo
    reps: SnapshotInfo
    accounts_created: bool
    reps_created: bool


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    id: int
    name: str
    description: str
    cycle: str
    status: str
    version: int
    parent_id: int | None
    parent_name: str | None
    accounts_sha256: str
    reps_sha256: str
    spec_sha256: str
    n_accounts: int
    n_reps: int
    plan_id: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in ((f, getattr(self, f)) for f in self.__slots__)}


@dataclass(frozen=True, slots=True)
class SolveRunInfo:
    id: int
    scenario_id: int
    backend: str
    seed: int
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime: float
    terraplan_version: str
    options: Mapping[str, Any]
    message: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    plan_id: int | None


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: int
    scenario_id: int
    solve_run_id: int | None
    n_accounts: int
    n_assigned: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class QuotaSetInfo:
    """A quota allocation; ``quotas`` maps ``(rep_id, period)`` to cents."""

    id: int
    scenario_id: int
    plan_id: int | None
    method: str
    params: Mapping[str, Any]
    total_cents: int
    quotas: Mapping[tuple[str, str], int]
    created_at: datetime
    created_by: str

    def per_rep(self) -> dict[str, int]:
        """Quota per rep summed over periods, cents."""
        out: dict[str, int] = {}
        for (rep, _period), cents in self.quotas.items():
            out[rep] = out.get(rep, 0) + cents
        return out


@dataclass(frozen=True, slots=True)
class CompResultInfo:
    """A comp plan with its expected cost: total and per rep, cents."""

    id: int
    comp_plan_id: int
    scenario_id: int
    name: str
    definition: Mapping[str, Any]
    quota_set_id: int | None
    total_cost_cents: int
    per_rep: Mapping[str, int]
    details: Mapping[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class MetricInfo:
    id: int
    scenario_id: int
    plan_id: int | None
    kind: str
    data: Mapping[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    scenario_id: int
    kind: str
    state: str
    options: Mapping[str, Any]
    progress: Mapping[str, Any]
    error: str | None
    solve_run_id: int | None
    heartbeat_at: datetime | None
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    version: int

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")

    @property
    def cancel_requested(self) -> bool:
        return bool(self.progress.get("cancel_requested"))


@dataclass(frozen=True, slots=True)
class AuditInfo:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    scenario_id: int | None
    details: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    """Who owns an account in the active plan of a cycle (the CRM's hot path)."""

    account_id: str
    rep_id: str | None
    reason: Reason | None
    scenario_id: int
    scenario_name: str
    cycle: str
    plan_id: int


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    account_id: str
    rep_id: str | None
    reason: Reason | None
