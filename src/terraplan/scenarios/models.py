"""ORM models of the scenario store (SQLAlchemy 2 typed declarative).

Storage choices (for books of a million accounts):

* **Input snapshots** (accounts, reps, spec) are immutable, content-addressed blobs keyed by the
  sha256 of a canonical serialisation, so two scenarios over the same inputs share one row. The
  account book is a zstd-compressed Arrow IPC blob (columnar, dictionary-encoded categoricals)
  rather than a child table: a book is always read whole (compile, compare, metrics), a 1M-row book
  encodes in about a second and is a few tens of MB, whereas 1M child rows would cost a bulk insert
  per import and a slow reassembly into columns on every read.
* **Assignments** are rows ``(plan_id, account_id) -> rep_id, reason``: the CRM's hot path reads one
  account's owner, which the composite primary key answers with one index probe; plans are
  bulk-written (``COPY`` on PostgreSQL, ``executemany`` on SQLite).
* Money is integer cents (``BigInteger``); quotas are one row per rep × period.
* ``Scenario.version`` and ``Job.version`` are SQLAlchemy ``version_id_col``: an UPDATE carries
  ``WHERE version = <read version>``, so a stale writer changes nothing and is refused.
* At most one ``active`` scenario per planning cycle is a partial unique index (both SQLite and
  PostgreSQL support ``CREATE UNIQUE INDEX ... WHERE status = 'active'``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from terraplan.scenarios.lifecycle import ScenarioStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LEN = 128  # account and rep ids
NAME_LEN = 200

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Snapshot(Base):
    """An immutable input: ``kind`` is ``accounts`` (Arrow IPC), ``reps`` or ``spec`` (JSON)."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("kind", "sha256", name="uq_snapshots_kind_sha256"),
        CheckConstraint(f"kind IN ({_in(('accounts', 'reps', 'spec'))})", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    fmt: Mapped[str] = mapped_column(String(32))
    n_rows: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class PlanningCycle(Base):
    """A planning period (e.g. FY2027) whose scenarios compete for the one active plan."""

    __tablename__ = "planning_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class Scenario(Base):
    __tablename__ = "scenarios"
    __table_args__ = (
        Index("uq_scenarios_one_active_per_cycle", "cycle_id", unique=True,
              sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
        CheckConstraint(f"status IN ({_in(s.value for s in ScenarioStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    cycle_id: Mapped[int] = mapped_column(ForeignKey("planning_cycles.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), index=True)
    accounts_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), index=True)
    reps_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), index=True)
    spec_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ScenarioStatus.DRAFT.value)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(NAME_LEN))

    __mapper_args__ = {"version_id_col": version}


class SolveRun(Base):
    __tablename__ = "solve_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    backend: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32))
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    runtime: Mapped[float] = mapped_column(Float, default=0.0)
    terraplan_version: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class PlanRow(Base):
    """One version of a scenario's plan.

    The plan is stored twice, on purpose: as :class:`Assignment` rows (one index probe answers
    "who owns account X", keyset pagination for the API) and as ``payload``, a zstd Arrow blob
    of the columns in the plan's own order (compare, export and reload read a million
    assignments in a fraction of a second instead of fetching a million rows). Both are written
    in the same transaction and a plan never changes afterwards.
    """

    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_scenario_id_id", "scenario_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    solve_run_id: Mapped[int | None] = mapped_column(ForeignKey("solve_runs.id"), index=True)
    n_accounts: Mapped[int] = mapped_column(Integer)
    n_assigned: Mapped[int] = mapped_column(Integer)
    rep_ids: Mapped[list[Any]] = mapped_column(default=list)
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class Assignment(Base):
    """One account's owner in one plan.

    ``plan_id`` deliberately has no foreign-key constraint: PostgreSQL checks a foreign key with
    a trigger per inserted row, which made a 1M-row ``COPY`` about three times slower. The rows
    are written only by :func:`terraplan.scenarios.repository.write_assignments`, in the
    transaction that creates their :class:`PlanRow`, and plans are never deleted.
    """

    __tablename__ = "assignments"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    rep_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    reason: Mapped[int | None] = mapped_column(SmallInteger)


class QuotaSet(Base):
    """One quota allocation of a scenario (method + parameters); rows in :class:`Quota`."""

    __tablename__ = "quota_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class Quota(Base):
    __tablename__ = "quotas"

    quota_set_id: Mapped[int] = mapped_column(
        ForeignKey("quota_sets.id", ondelete="CASCADE"), primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class CompPlan(Base):
    """A compensation plan definition (JSON as produced by ``terraplan.comp``)."""

    __tablename__ = "comp_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class CompResult(Base):
    """Expected cost of a comp plan: total and per rep (cents), plus free-form details."""

    __tablename__ = "comp_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    comp_plan_id: Mapped[int] = mapped_column(ForeignKey("comp_plans.id"), index=True)
    quota_set_id: Mapped[int | None] = mapped_column(ForeignKey("quota_sets.id"), index=True)
    total_cost_cents: Mapped[int] = mapped_column(BigInteger)
    per_rep: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class Metric(Base):
    """Evaluation results (``terraplan.evaluate`` output, any JSON) of a scenario's plan."""

    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))


class Job(Base):
    """A background job (the API's solve jobs); its state survives a server restart."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(JOB_STATES)})", name="state"),
        Index("ix_jobs_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    solve_run_id: Mapped[int | None] = mapped_column(ForeignKey("solve_runs.id"))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class AuditEntry(Base):
    """Who did what, when, to which object, and why. Append-only; no foreign keys so that the
    record outlives anything it mentions."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_scenario_id_id", "scenario_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(NAME_LEN))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    scenario_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    why: Mapped[str] = mapped_column(Text, default="")


API_KEY_ROLES = ("viewer", "planner", "admin")


class ApiKey(Base):
    """An API key of the REST API. Only the sha256 of the secret is stored (the secret is shown
    once, at creation); ``prefix`` is its first characters, to tell keys apart in listings."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"role IN ({_in(API_KEY_ROLES)})", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    role: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
