"""Use cases shared by the CLI and the API — the only place they meet.

Open a :class:`Workspace` on a store URL and call its methods; each is one transaction, records
the ``actor`` in the audit log and returns frozen dataclasses (never ORM rows).
"""

from terraplan.services.compare import Comparison, Move, RepDelta, Side
from terraplan.services.types import (
    AssignmentRow,
    AuditInfo,
    CompResultInfo,
    CycleInfo,
    InputsInfo,
    JobInfo,
    MetricInfo,
    OwnerInfo,
    PlanInfo,
    QuotaSetInfo,
    ScenarioInfo,
    SnapshotInfo,
    SolveRunInfo,
)
from terraplan.services.workspace import DEFAULT_CYCLE, ScenarioRef, Workspace, init_store

__all__ = [
    "DEFAULT_CYCLE", "AssignmentRow", "AuditInfo", "CompResultInfo", "Comparison", "CycleInfo",
    "InputsInfo", "JobInfo", "MetricInfo", "Move", "OwnerInfo", "PlanInfo", "QuotaSetInfo",
    "RepDelta", "ScenarioInfo", "ScenarioRef", "Side", "SnapshotInfo", "SolveRunInfo",
    "Workspace", "init_store",
]
