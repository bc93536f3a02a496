"""Request and response schemas of the API — separate from domain objects and store rows.

Each ``XOut`` has a ``from_info`` that maps the frozen service result
(:mod:`terraplan.services.types`) onto the public shape; money is integer cents throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from terraplan.api.jobs import job_links
from terraplan.services.keys import ApiKeyInfo
from terraplan.services.types import (
    AssignmentRow,
    CompResultInfo,
    JobInfo,
    MetricInfo,
    OwnerInfo,
    PlanInfo,
    QuotaSetInfo,
    ScenarioInfo,
    SnapshotInfo,
    SolveRunInfo,
)

Role = Literal["viewer", "planner", "admin"]
Verb = Literal["submit", "send_back", "approve", "reopen", "activate", "archive"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ScenarioStatusName = Literal["draft", "solved", "in_review", "approved", "active", "archived"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=False)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _reason(r: Any) -> str | None:
    return None if r is None else r.name.lower()


# -- problems ------------------------------------------------------------------------------------
class InputProblemOut(_Out):
    severity: str
    code: str
    source: str | None = None
    row: int | None = Field(None, description="1-based spreadsheet row (the header is row 1)")
    column: str | None = None
    value: str | None = None
    reason: str


class ProblemOut(_Out):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {
        "type": "https://terraplan.dev/problems/not-found", "title": "Not found",
        "status": 404, "detail": "no scenario '42' in the store",
        "instance": "/v1/scenarios/42"}})

    type: str = Field(description="Stable problem type URI; switch on this, not on title")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        None, description="Every problem found (validation problems): input problems carry "
                          "row, column and value")
    reasons: list[str] | None = Field(None, description="Provable conflicts (infeasible)")


# -- health --------------------------------------------------------------------------------------
class HealthOut(_Out):
    status: Literal["ok"] = "ok"
    version: str


class ReadyOut(_Out):
    status: Literal["ready"] = "ready"
    database: str
    schema_revision: str | None


# -- inputs --------------------------------------------------------------------------------------
class SnapshotOut(_Out):
    id: int
    kind: str
    sha256: str
    rows: int
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, s: SnapshotInfo) -> SnapshotOut:
        return cls(id=s.id, kind=s.kind, sha256=s.sha256, rows=s.n_rows,
                   created_at=s.created_at, created_by=s.created_by)


class ImportOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "accounts": {"id": 1, "kind": "accounts", "sha256": "9f2c…", "rows": 300,
                     "created_at": "2026-11-22T20:00:00Z", "created_by": "api:etl"},
        "reps": {"id": 2, "kind": "reps", "sha256": "41ab…", "rows": 8,
                 "created_at": "2026-11-22T20:00:00Z", "created_by": "api:etl"},
        "accounts_created": True, "reps_created": True, "warnings": []}})

    accounts: SnapshotOut
    reps: SnapshotOut
    accounts_created: bool
    reps_created: bool
    warnings: list[InputProblemOut] = Field(default_factory=list)


# -- scenarios -----------------------------------------------------------------------------------
_SPEC_DOC = ("A scenario spec (the YAML spec as JSON): rules, objective weights, seed. "
             "Unknown keys are refused with their path.")
_SPEC_EXAMPLE: dict[str, Any] = {"rules": {"balance": [{"metric": "potential", "tolerance": 0.1}],
                           "continuity": {"max_moved_share": 0.3}},
                 "objective": {"travel": 1.0, "disruption": 1.0}, "seed": 7}


class ScenarioCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "name": "fy27-balanced", "description": "potential within 10 %", "cycle": "FY2027",
        "spec": _SPEC_EXAMPLE}})

    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    description: str = Field("", max_length=10_000)
    cycle: str | None = Field(None, min_length=1, max_length=200,
                              description="Planning cycle (created on first use); "
                                          "default 'default'")
    spec: dict[str, Any] | None = Field(None, description=_SPEC_DOC)
    accounts_snapshot: int | None = Field(None, ge=1, description="Accounts snapshot id; "
                                          "default: the latest import")
    reps_snapshot: int | None = Field(None, ge=1, description="Reps snapshot id; default: "
                                      "the latest import")


class ScenarioUpdate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "description": "tighter balance", "spec": _SPEC_EXAMPLE}})

    description: str | None = Field(None, max_length=10_000)
    spec: dict[str, Any] | None = Field(None, description=_SPEC_DOC)
    version: int | None = Field(None, ge=1, description="The version you read (or If-Match)")
    why: str = Field("", max_length=2000)


class ScenarioCopy(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "name": "fy27-balanced-v2", "with_plan": True}})

    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    cycle: str | None = Field(None, min_length=1, max_length=200)
    with_plan: bool = True
    description: str | None = Field(None, max_length=10_000)
    why: str = Field("", max_length=2000)


class TransitionIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "version": 3, "why": "reviewed with the VP sales"}})

    version: int | None = Field(None, ge=1, description="The version you read (or If-Match)")
    why: str = Field("", max_length=2000)


class ScenarioOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 3, "name": "fy27-balanced", "description": "", "cycle": "FY2027",
        "status": "solved", "version": 4, "parent_id": None, "parent_name": None,
        "accounts_sha256": "9f2c…", "reps_sha256": "41ab…", "spec_sha256": "77de…",
        "accounts": 300, "reps": 8, "plan_id": 5, "created_at": "2026-11-22T20:00:00Z",
        "created_by": "api:planner", "updated_at": "2026-11-22T20:05:00Z",
        "updated_by": "api:planner"}})

    id: int
    name: str
    description: str
    cycle: str
    status: ScenarioStatusName
    version: int = Field(description="Optimistic-locking version; send it back as If-Match")
    parent_id: int | None
    parent_name: str | None
    accounts_sha256: str
    reps_sha256: str
    spec_sha256: str
    accounts: int
    reps: int
    plan_id: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def from_info(cls, s: ScenarioInfo) -> ScenarioOut:
        return cls(id=s.id, name=s.name, description=s.description, cycle=s.cycle,
                   status=s.status,
                   version=s.version, parent_id=s.parent_id, parent_name=s.parent_name,
                   accounts_sha256=s.accounts_sha256, reps_sha256=s.reps_sha256,
                   spec_sha256=s.spec_sha256, accounts=s.n_accounts, reps=s.n_reps,
                   plan_id=s.plan_id, created_at=s.created_at, created_by=s.created_by,
                   updated_at=s.updated_at, updated_by=s.updated_by)


class ScenarioListOut(_Out):
    items: list[ScenarioOut]


class AuditOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    scenario_id: int | None
    details: dict[str, Any]
    why: str


# -- solves and jobs -----------------------------------------------------------------------------
class SolveIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "backend": "auto", "time_limit": 30, "seed": 7}})

    backend: str = Field("auto", pattern=r"^[a-z][a-z0-9_-]{0,31}$",
                         description="'auto' or a registered backend (cpsat, milp, heuristic); "
                         "carve scenarios take auto, milp, cpsat or heuristic, geo_unit "
                         "scenarios auto, milp or cpsat")
    time_limit: float = Field(60.0, gt=0, le=86_400, description="Seconds")
    seed: int | None = Field(None, ge=0, le=2**31 - 1,
                             description="Default: the scenario spec's seed")
    gap: float = Field(1e-4, ge=0, le=1, description="Relative optimality gap to stop at")
    threads: int = Field(1, ge=1, le=16)


class JobResultOut(_Out):
    status: str = Field(description="optimal, feasible, infeasible, no_solution_in_time, "
                                    "cancelled or error")
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    runtime: float | None = None
    backend: str | None = None
    seed: int | None = None
    solve_run_id: int | None = None
    plan_id: int | None = None
    message: str | None = None
    conflicts: list[str] = Field(default_factory=list)
    feasible: bool | None = None


class JobOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "3f6c0d0e9b6a4a55b1c1f1f0f2d6a3a1", "scenario_id": 3, "kind": "solve",
        "state": "running", "options": {"backend": "auto", "time_limit": 30, "seed": 7},
        "elapsed": 4.2, "incumbent": 1523.4, "bound": 1490.0, "gap": 0.0219,
        "message": "", "cancel_requested": False, "result": None, "error": None,
        "solve_run_id": None, "created_at": "2026-11-22T20:00:00Z", "created_by": "api:planner",
        "started_at": "2026-11-22T20:00:01Z", "finished_at": None,
        "heartbeat_at": "2026-11-22T20:00:05Z",
        "links": {"self": "/v1/jobs/3f6c…", "scenario": "/v1/scenarios/3"}}})

    id: str
    scenario_id: int
    kind: str
    state: JobState
    options: dict[str, Any]
    elapsed: float | None = Field(None, description="Seconds of search so far")
    incumbent: float | None = Field(None, description="Objective of the best plan so far")
    bound: float | None = None
    gap: float | None = None
    message: str | None = None
    cancel_requested: bool
    result: JobResultOut | None = Field(None, description="Set when the job is done")
    error: str | None
    solve_run_id: int | None
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    links: dict[str, str]

    @classmethod
    def from_info(cls, j: JobInfo) -> JobOut:
        p: Mapping[str, Any] = j.progress
        res = p.get("result")
        return cls(id=j.id, scenario_id=j.scenario_id, kind=j.kind,
                   state=j.state,
                   options=dict(j.options), elapsed=p.get("elapsed"),
                   incumbent=p.get("objective"), bound=p.get("bound"), gap=p.get("gap"),
                   message=p.get("message"), cancel_requested=j.cancel_requested,
                   result=JobResultOut(**res) if isinstance(res, Mapping) else None,
                   error=j.error, solve_run_id=j.solve_run_id, created_at=j.created_at,
                   created_by=j.created_by, started_at=j.started_at, finished_at=j.finished_at,
                   heartbeat_at=j.heartbeat_at, links=job_links(j.id, j.scenario_id, p))


class JobListOut(_Out):
    items: list[JobOut]


class SolveRunOut(_Out):
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
    options: dict[str, Any]
    message: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    plan_id: int | None

    @classmethod
    def from_info(cls, r: SolveRunInfo) -> SolveRunOut:
        return cls(id=r.id, scenario_id=r.scenario_id, backend=r.backend, seed=r.seed,
                   status=r.status, objective=r.objective, bound=r.bound, gap=r.gap,
                   runtime=r.runtime, terraplan_version=r.terraplan_version,
                   options=dict(r.options), message=r.message, error=r.error,
                   started_at=r.started_at, finished_at=r.finished_at, plan_id=r.plan_id)


# -- plans and owners ----------------------------------------------------------------------------
class AssignmentOut(_Out):
    account_id: str
    rep_id: str | None
    reason: str | None = Field(description="Why it sits there (unchanged, moved_balance, ...)")

    @classmethod
    def from_row(cls, r: AssignmentRow) -> AssignmentOut:
        return cls(account_id=r.account_id, rep_id=r.rep_id, reason=_reason(r.reason))


class PlanOut(_Out):
    id: int
    scenario_id: int
    solve_run_id: int | None
    accounts: int
    assigned: int
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, p: PlanInfo) -> PlanOut:
        return cls(id=p.id, scenario_id=p.scenario_id, solve_run_id=p.solve_run_id,
                   accounts=p.n_accounts, assigned=p.n_assigned, created_at=p.created_at,
                   created_by=p.created_by)


class AssignmentPageOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "scenario_id": 3, "plan_id": 5,
        "items": [{"account_id": "A000001", "rep_id": "R003", "reason": "unchanged"}],
        "next_cursor": "A000001", "next": "/v1/scenarios/3/plan?after=A000001&limit=1"}})

    scenario_id: int
    plan_id: int
    items: list[AssignmentOut]
    next_cursor: str | None = Field(description="Pass as ?after= for the next page; "
                                                "null on the last page")
    next: str | None = Field(None, description="URL of the next page")


class OwnerOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "account_id": "A000123", "rep_id": "R004", "reason": "unchanged", "scenario_id": 3,
        "scenario": "fy27-balanced", "cycle": "FY2027", "plan_id": 5}})

    account_id: str
    rep_id: str | None
    reason: str | None
    scenario_id: int
    scenario: str
    cycle: str
    plan_id: int

    @classmethod
    def from_info(cls, o: OwnerInfo) -> OwnerOut:
        return cls(account_id=o.account_id, rep_id=o.rep_id, reason=_reason(o.reason),
                   scenario_id=o.scenario_id, scenario=o.scenario_name, cycle=o.cycle,
                   plan_id=o.plan_id)


class ExplainOut(_Out):
    model_config = ConfigDict(json_schema_extra={"example": {
        "account_id": "A000123", "rep_id": "R004", "previous_rep_id": "R002",
        "reason": "moved_balance", "eligible_reps": 6, "distance_to_rep": 41.2,
        "nearest_rep_id": "R002", "nearest_distance": 12.5, "locked_to": None,
        "family_root_id": None, "family_size": 1, "unit": "km",
        "sentence": "Account A000123 sits with rep R004 (moved from R002: ...)."}})

    account_id: str
    rep_id: str | None
    previous_rep_id: str | None
    reason: str
    eligible_reps: int
    distance_to_rep: float | None
    nearest_rep_id: str | None
    nearest_distance: float | None
    locked_to: str | None
    family_root_id: str | None
    family_size: int
    unit: str
    sentence: str


# -- compare -------------------------------------------------------------------------------------
class MoveOut(_Out):
    account_id: str
    from_rep: str | None
    to_rep: str | None
    reason: str | None


class CompareOut(_Out):
    summary: dict[str, Any] = Field(description="Moved accounts, moved potential (cents), "
                                                "moves by reason, fairness side by side")
    reps: list[dict[str, Any]] = Field(description="Per-rep deltas of every balanced metric, "
                                                   "quota and expected pay (cents)")
    moves: list[MoveOut] = Field(description="Moved accounts (first `limit`)")
    moves_total: int
    moves_truncated: bool


# -- quotas, comp, metrics -----------------------------------------------------------------------
class QuotaOut(_Out):
    rep_id: str
    period: str
    amount_cents: int


class QuotaSetOut(_Out):
    id: int
    scenario_id: int
    plan_id: int | None
    method: str
    params: dict[str, Any]
    total_cents: int
    quotas: list[QuotaOut]
    per_rep_cents: dict[str, int]
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, q: QuotaSetInfo) -> QuotaSetOut:
        return cls(id=q.id, scenario_id=q.scenario_id, plan_id=q.plan_id, method=q.method,
                   params=dict(q.params), total_cents=q.total_cents,
                   quotas=[QuotaOut(rep_id=r, period=p, amount_cents=c)
                           for (r, p), c in sorted(q.quotas.items())],
                   per_rep_cents=q.per_rep(), created_at=q.created_at,
                   created_by=q.created_by)


class CompResultOut(_Out):
    id: int
    comp_plan_id: int
    scenario_id: int
    name: str
    definition: dict[str, Any]
    quota_set_id: int | None
    total_cost_cents: int
    per_rep_cents: dict[str, int]
    details: dict[str, Any]
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, c: CompResultInfo) -> CompResultOut:
        return cls(id=c.id, comp_plan_id=c.comp_plan_id, scenario_id=c.scenario_id,
                   name=c.name, definition=dict(c.definition), quota_set_id=c.quota_set_id,
                   total_cost_cents=c.total_cost_cents, per_rep_cents=dict(c.per_rep),
                   details=dict(c.details), created_at=c.created_at, created_by=c.created_by)


class CompListOut(_Out):
    items: list[CompResultOut]


class MetricOut(_Out):
    id: int
    scenario_id: int
    plan_id: int | None
    kind: str
    data: dict[str, Any]
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, x: MetricInfo) -> MetricOut:
        return cls(id=x.id, scenario_id=x.scenario_id, plan_id=x.plan_id, kind=x.kind,
                   data=dict(x.data), created_at=x.created_at, created_by=x.created_by)


class MetricListOut(_Out):
    items: list[MetricOut]


# -- keys ----------------------------------------------------------------------------------------
class KeyCreate(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "name": "salesforce-sync", "role": "viewer"}})

    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    role: Role


class KeyOut(_Out):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_info(cls, k: ApiKeyInfo) -> KeyOut:
        return cls(id=k.id, name=k.name, role=k.role,
                   prefix=k.prefix, created_at=k.created_at, created_by=k.created_by,
                   revoked_at=k.revoked_at, last_used_at=k.last_used_at)


class KeyCreatedOut(KeyOut):
    secret: str = Field(description="The API key. Shown once: the store keeps only its hash")


class KeyListOut(_Out):
    items: list[KeyOut]


# -- rebalance -----------------------------------------------------------------------------------
class HireIn(_In):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    like: str = Field(min_length=1, max_length=128, description="Existing rep whose profile "
                                                                "(eligibility, home, capacity) "
                                                                "the hire takes")
    rep_id: str | None = Field(None, min_length=1, max_length=128)


class RebalanceIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "depart": ["R0003"], "effective": "2027-04-01", "max_moves": 50, "time_limit": 20,
        "why": "Dana resigned"}})

    depart: list[str] = Field(default_factory=list, max_length=100,
                              description="Rep ids leaving")
    effective: date | None = Field(None, description="Date the departures take effect "
                                                     "(quotas move pro rata); default today")
    hires: list[HireIn] = Field(default_factory=list, max_length=100)
    tbh: int = Field(0, ge=0, le=100, description="To-be-hired placeholders like the first "
                                                  "departing rep")
    max_moves: int | None = Field(None, ge=0, le=10_000_000,
                                  description="Refuse when more accounts outside the departed "
                                              "books would move")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    time_limit: float = Field(30.0, gt=0, le=600, description="Seconds")
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"\S",
                             description="Child scenario name; default <active>-rebalance-"
                                         "<date>")
    cycle: str | None = Field(None, min_length=1, max_length=200)
    dry_run: bool = Field(False, description="Compute and report; write nothing")
    why: str = Field("", max_length=2000)


class RebalanceOut(_Out):
    ok: bool
    status: str = Field(description="The rebalancer's status")
    refused: str | None = Field(None, description="Why nothing was written")
    source_id: int
    scenario: ScenarioOut | None = Field(None, description="The draft child scenario written")
    moves_total: int
    moves_forced: int = Field(description="Accounts of departed reps (they must move)")
    details: dict[str, Any] = Field(description="Moves, per-rep gains, balance and quota "
                                                "changes before/after")


# -- pricing (quotas + comp cost) ----------------------------------------------------------------
class PricingIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "target_cents": 4_000_000_000, "over_assignment": "1/10", "method": "blended",
        "n_scenarios": 5000, "seed": 7}})

    target_cents: int | None = Field(None, ge=1, le=10**15, description="Company target; "
                                     "default derived from the reps' OTE")
    over_assignment: str = Field("1/10", pattern=r"^\d{1,6}(/\d{1,6}|\.\d{1,6})?$",
                                 description="Quota over-assignment as an exact fraction "
                                             "('1/10') or decimal ('0.1')")
    method: Literal["blended", "even"] = Field("blended", description="Quota allocation: "
                                               "blended index or even split")
    sigma: float = Field(0.35, gt=0, le=3, description="Attainment volatility")
    rho: float = Field(0.3, ge=0, lt=1, description="Common-shock correlation")
    n_scenarios: int = Field(20_000, ge=100, le=200_000, description="Monte Carlo draws")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class PricingOut(_Out):
    target_cents: int
    quotas: QuotaSetOut
    comp: CompResultOut | None
