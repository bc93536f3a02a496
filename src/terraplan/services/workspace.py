"""Planning use cases over the scenario store, shared by the CLI and the API.

:class:`Workspace` is the only door to the store for callers: every method runs in its own
transaction (a failure or a killed process leaves the store as it was), records who did it in the
audit log, and returns plain frozen dataclasses from :mod:`terraplan.services.types`.

Scenarios are referred to by id (``int``) or by name (``str``; a string of digits that is not a
scenario name is taken as an id). Mutating methods accept ``expected_version``: the scenario
version the caller last read. When the scenario changed since, the call is refused with
:class:`~terraplan.errors.ConflictError` instead of silently overwriting someone's work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from terraplan import __version__
from terraplan.domain import AccountBook, Mode, Plan, Provenance, Reason, RepRoster, ScenarioSpec
from terraplan.domain import Scenario as DomainScenario
from terraplan.domain.scenario import UnitGraph
from terraplan.errors import (
    ConflictError,
    LifecycleError,
    NotFoundError,
    ParameterError,
    SpecError,
)
from terraplan.io.adjacency import DELAUNAY, load_adjacency
from terraplan.scenarios import migrate
from terraplan.scenarios import models as m
from terraplan.scenarios.db import make_engine, session_factories
from terraplan.scenarios.lifecycle import (
    VERBS,
    ScenarioStatus,
    check_editable,
    check_transition,
)
from terraplan.scenarios.repository import (
    BatchCallback,
    PlanArrays,
    encode_plan,
    get_or_create_snapshot,
    latest_plan_id,
    page_assignments,
    read_plan,
    write_assignments,
)
from terraplan.scenarios.snapshots import (
    JSON_FORMAT,
    Encoded,
    canonical_json,
    decode_accounts,
    decode_reps,
    decode_spec,
    encode_accounts,
    encode_reps,
    encode_spec,
    hash_ids,
    spec_rules,
)
from terraplan.services.compare import Comparison, Side, SideData, build_comparison
from terraplan.services.compare import current_plan_arrays as _current_arrays
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
from terraplan.settings import get_settings

if TYPE_CHECKING:
    # type only: importing terraplan.solvers loads every backend (OR-Tools, HiGHS), which the
    # store, the CLI's scenario commands and the API's owner lookup never need
    from terraplan.solvers.base import SolveResult

log = logging.getLogger(__name__)

ScenarioRef = int | str
_UNITS_KEY = "__units__"  # never a spec field (the spec model forbids unknown keys)
DEFAULT_CYCLE = "default"
JOB_FINAL = ("succeeded", "failed", "cancelled")
_JOB_NEXT = {"queued": {"running", "failed", "cancelled"},
             "running": {"succeeded", "failed", "cancelled"}}


def _utc(dt: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything the store writes is UTC
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def uses_supplied_adjacency(spec: ScenarioSpec) -> bool:
    """A geo-unit spec naming an adjacency file (not ``delaunay``)."""
    name = spec.inputs.adjacency
    return spec.mode is Mode.GEO_UNIT and name is not None and name.strip().lower() != DELAUNAY


def _adjacency_source(spec: ScenarioSpec) -> tuple[str | None, str | None]:
    """What a stored unit graph was read from: ``inputs.adjacency`` and ``geo_unit.unit_column``
    (``None``, ``None`` when the spec uses no supplied adjacency)."""
    if not uses_supplied_adjacency(spec):
        return None, None
    return spec.inputs.adjacency, (spec.geo_unit.unit_column if spec.geo_unit is not None
                                   else None)


def _encode_spec(spec: ScenarioSpec, units: UnitGraph | None) -> Encoded:
    """The spec snapshot; a unit graph rides along under ``"units"`` (same hash otherwise)."""
    if units is None:
        return encode_spec(spec)
    edges = np.asarray(units.edges, dtype=np.int64).reshape(-1, 2)
    weights = (np.ones(edges.shape[0]) if units.weights is None
               else np.asarray(units.weights, dtype=np.float64))
    doc = {**spec_rules(spec), _UNITS_KEY: {
        "unit_ids": list(units.unit_ids), "edges": edges.tolist(), "weights": weights.tolist()}}
    payload = canonical_json(doc)
    return Encoded("spec", hashlib.sha256(b"terraplan-spec-v1\0" + payload).hexdigest(),
                   JSON_FORMAT, 1, payload, {"units": len(units.unit_ids),
                                             "edges": int(edges.shape[0])})


def _split_units(payload: bytes) -> tuple[bytes, UnitGraph | None]:
    """Inverse of :func:`_encode_spec`: the plain spec payload and the stored unit graph."""
    if _UNITS_KEY.encode() not in payload:
        return payload, None
    doc = json.loads(payload)
    u = doc.pop(_UNITS_KEY, None)
    if u is None:
        return payload, None
    graph = UnitGraph(unit_ids=tuple(u["unit_ids"]),
                      edges=np.asarray(u["edges"], dtype=np.int64).reshape(-1, 2),
                      weights=np.asarray(u["weights"], dtype=np.float64))
    return canonical_json(doc), graph


def _reason(code: int | None) -> Reason | None:
    if code is None or code < 0:
        return None
    try:
        return Reason(code)
    except ValueError:
        return None


class Workspace:
    """The planning use cases over one scenario store.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        An engine made by :func:`terraplan.scenarios.db.make_engine` (connection pragmas).
        Prefer :meth:`open`.
    cache_books : int
        Decoded input books kept in memory (snapshots are immutable, so caching is safe).
    """

    def __init__(self, engine: Engine, *, cache_books: int = 4) -> None:
        self.engine = engine
        self._read, self._write = session_factories(engine)
        self._books: OrderedDict[int, AccountBook] = OrderedDict()
        self._cache_size = cache_books
        self._lock = threading.Lock()

    # -- lifecycle of the workspace ------------------------------------------------------------
    @classmethod
    def open(cls, url: str | None = None, *, migrate_schema: bool = True) -> Workspace:
        """Open the store at ``url`` (default: ``TERRAPLAN_DATABASE_URL`` or the SQLite file).

        With ``migrate_schema`` the schema is created or upgraded first; otherwise a store that
        is not at the current revision is refused with a hint.
        """
        url = url or get_settings().database_url
        engine = make_engine(url)
        if migrate_schema:
            migrate.upgrade(engine)
        else:
            cur, head = migrate.current(engine), migrate.head()
            if cur != head:
                engine.dispose()
                raise LifecycleError(
                    f"the store at {engine.url!r} is at schema revision {cur or 'none'}, "
                    f"expected {head}; run `terraplan init` (or Workspace.open(url)) to migrate")
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Session]:
        factory = self._write if write else self._read
        try:
            with factory() as s, s.begin():
                yield s
        except StaleDataError as exc:
            raise ConflictError(
                "the object was changed by someone else since it was read; reload and retry"
            ) from exc
        except IntegrityError as exc:
            msg = str(exc.orig)
            if "one_active" in msg or "scenarios.cycle_id" in msg:
                raise ConflictError(
                    "another scenario of this planning cycle became active at the same time; "
                    "reload and retry") from exc
            raise ConflictError(f"the store refused a conflicting write: {msg}") from exc

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _audit(s: Session, actor: str, action: str, object_type: str, object_id: Any,
               scenario_id: int | None = None, details: Mapping[str, Any] | None = None,
               why: str = "") -> None:
        s.add(m.AuditEntry(actor=actor, action=action, object_type=object_type,
                           object_id=str(object_id), scenario_id=scenario_id,
                           details=dict(details or {}), why=why))

    @staticmethod
    def _scenario(s: Session, ref: ScenarioRef, *, lock: bool = False) -> m.Scenario:
        stmt = select(m.Scenario)
        if isinstance(ref, int):
            stmt = stmt.where(m.Scenario.id == ref)
        else:
            stmt = stmt.where(m.Scenario.name == ref)
        sc = s.scalars(stmt).one_or_none()
        if sc is None and isinstance(ref, str) and ref.isdigit():
            sc = s.get(m.Scenario, int(ref))
        if sc is None:
            raise NotFoundError(f"no scenario {ref!r} in the store")
        return sc

    @staticmethod
    def _check_version(sc: m.Scenario, expected: int | None) -> None:
        if expected is not None and sc.version != expected:
            raise ConflictError(
                f"scenario '{sc.name}' changed since you read it (now version {sc.version}, "
                f"you had version {expected}); reload and retry")

    @staticmethod
    def _touch(sc: m.Scenario, actor: str) -> None:
        sc.updated_at = datetime.now(UTC)
        sc.updated_by = actor

    def _cycle(self, s: Session, name: str | None, actor: str, create: bool) -> m.PlanningCycle:
        name = name or DEFAULT_CYCLE
        cyc = s.scalars(select(m.PlanningCycle).where(m.PlanningCycle.name == name)).one_or_none()
        if cyc is None:
            if not create:
                raise NotFoundError(f"no planning cycle {name!r}")
            cyc = m.PlanningCycle(name=name, description="", created_by=actor)
            s.add(cyc)
            s.flush()
            self._audit(s, actor, "create", "cycle", cyc.id, details={"name": name})
        return cyc

    def _info(self, s: Session, sc: m.Scenario) -> ScenarioInfo:
        snaps = {x.id: x for x in s.execute(
            select(m.Snapshot.id, m.Snapshot.sha256, m.Snapshot.n_rows).where(
                m.Snapshot.id.in_([sc.accounts_snapshot_id, sc.reps_snapshot_id,
                                   sc.spec_snapshot_id]))).all()}
        cycle = s.get(m.PlanningCycle, sc.cycle_id)
        parent = s.get(m.Scenario, sc.parent_id) if sc.parent_id is not None else None
        created, updated = _utc(sc.created_at), _utc(sc.updated_at)
        assert cycle is not None and created is not None and updated is not None
        return ScenarioInfo(
            id=sc.id, name=sc.name, description=sc.description, cycle=cycle.name,
            status=sc.status, version=sc.version, parent_id=sc.parent_id,
            parent_name=None if parent is None else parent.name,
            accounts_sha256=snaps[sc.accounts_snapshot_id].sha256,
            reps_sha256=snaps[sc.reps_snapshot_id].sha256,
            spec_sha256=snaps[sc.spec_snapshot_id].sha256,
            n_accounts=snaps[sc.accounts_snapshot_id].n_rows,
            n_reps=snaps[sc.reps_snapshot_id].n_rows,
            plan_id=latest_plan_id(s, sc.id), created_at=created, created_by=sc.created_by,
            updated_at=updated, updated_by=sc.updated_by,
        )

    @staticmethod
    def _snap_info(x: m.Snapshot) -> SnapshotInfo:
        created = _utc(x.created_at)
        assert created is not None
        return SnapshotInfo(x.id, x.kind, x.sha256, x.n_rows, created, x.created_by)

    def _book(self, s: Session, snapshot_id: int) -> AccountBook:
        with self._lock:
            book = self._books.get(snapshot_id)
            if book is not None:
                self._books.move_to_end(snapshot_id)
                return book
        snap = s.get(m.Snapshot, snapshot_id)
        if snap is None or snap.kind != "accounts":
            raise NotFoundError(f"no account snapshot {snapshot_id}")
        book = decode_accounts(snap.payload)
        with self._lock:
            self._books[snapshot_id] = book
            while len(self._books) > self._cache_size:
                self._books.popitem(last=False)
        return book

    @staticmethod
    def _roster(s: Session, snapshot_id: int) -> RepRoster:
        snap = s.get(m.Snapshot, snapshot_id)
        if snap is None or snap.kind != "reps":
            raise NotFoundError(f"no rep snapshot {snapshot_id}")
        return decode_reps(snap.payload)

    def _units_for(self, s: Session, sc: m.Scenario, spec: ScenarioSpec,
                   spec_dir: str | Path | None) -> UnitGraph | None:
        """The unit graph to store with ``spec`` replacing ``sc``'s spec (update or copy).

        The stored graph is kept while ``inputs.adjacency`` and ``geo_unit.unit_column`` are
        unchanged; otherwise it is dropped (no file named), re-read from ``spec_dir`` or refused.
        """
        old_spec, units = self._spec_units(s, sc)
        new = _adjacency_source(spec)
        if new == _adjacency_source(old_spec):
            return units
        if new == (None, None):
            return None  # the new spec names no adjacency file: the old graph must not linger
        if spec_dir is None:
            raise SpecError(
                f"scenario {sc.name!r}: the new spec changes inputs.adjacency or "
                f"geo_unit.unit_column (now {new[0]!r}, column {new[1]!r}), so the stored unit "
                "adjacency no longer applies and the file cannot be read here; re-create the "
                "scenario with the adjacency file (terraplan scenario create --spec, or "
                "Workspace.create_scenario(spec_dir=...))")
        return load_adjacency(spec, spec_dir, self._book(s, sc.accounts_snapshot_id))[0]

    @staticmethod
    def _spec(s: Session, sc: m.Scenario) -> ScenarioSpec:
        return Workspace._spec_units(s, sc)[0]

    @staticmethod
    def _spec_units(s: Session, sc: m.Scenario) -> tuple[ScenarioSpec, UnitGraph | None]:
        snap = s.get(m.Snapshot, sc.spec_snapshot_id)
        assert snap is not None
        payload, units = _split_units(snap.payload)
        return decode_spec(payload, sc.name, sc.description), units

    @staticmethod
    def _in_book_order(s: Session, snapshot_id: int, plan: Plan) -> bool:
        n, meta = s.execute(select(m.Snapshot.n_rows, m.Snapshot.meta).where(
            m.Snapshot.id == snapshot_id)).one()
        ids_sha = meta.get("ids_sha256")
        return bool(ids_sha) and n == len(plan) and hash_ids(plan.account_ids) == ids_sha

    def _plan_arrays(self, s: Session, sc: m.Scenario, plan_id: int) -> PlanArrays:
        return read_plan(s, plan_id, lambda: self._book(s, sc.accounts_snapshot_id).ids)

    # -- cycles --------------------------------------------------------------------------------
    def create_cycle(self, name: str, *, actor: str, description: str = "") -> CycleInfo:
        """Create a planning cycle (e.g. ``FY2027``); refused when the name exists."""
        if not name.strip():
            raise ParameterError("a planning cycle needs a non-empty name")
        with self._tx() as s:
            if s.scalars(select(m.PlanningCycle).where(m.PlanningCycle.name == name)).first():
                raise ConflictError(f"planning cycle {name!r} already exists")
            cyc = m.PlanningCycle(name=name, description=description, created_by=actor)
            s.add(cyc)
            s.flush()
            self._audit(s, actor, "create", "cycle", cyc.id, details={"name": name})
            return self._cycle_info(cyc)

    @staticmethod
    def _cycle_info(c: m.PlanningCycle) -> CycleInfo:
        created = _utc(c.created_at)
        assert created is not None
        return CycleInfo(c.id, c.name, c.description, created, c.created_by)

    def list_cycles(self) -> list[CycleInfo]:
        with self._tx(write=False) as s:
            return [self._cycle_info(c) for c in
                    s.scalars(select(m.PlanningCycle).order_by(m.PlanningCycle.id))]

    # -- inputs --------------------------------------------------------------------------------
    def import_inputs(self, book: AccountBook, roster: RepRoster, *, actor: str,
                      why: str = "") -> InputsInfo:
        """Store a validated account book and roster as immutable snapshots.

        Content already in the store (same sha256) is reused, not duplicated.
        """
        enc_a, enc_r = encode_accounts(book), encode_reps(roster)
        with self._tx() as s:
            sa, ca = get_or_create_snapshot(s, enc_a, actor)
            sr, cr = get_or_create_snapshot(s, enc_r, actor)
            self._audit(s, actor, "import", "inputs", f"{sa.id},{sr.id}", why=why, details={
                "accounts_sha256": sa.sha256, "accounts": sa.n_rows, "accounts_new": ca,
                "reps_sha256": sr.sha256, "reps": sr.n_rows, "reps_new": cr})
            return InputsInfo(self._snap_info(sa), self._snap_info(sr), ca, cr)

    def list_snapshots(self, kind: str | None = None) -> list[SnapshotInfo]:
        with self._tx(write=False) as s:
            stmt = select(m.Snapshot).order_by(m.Snapshot.id)
            if kind is not None:
                stmt = stmt.where(m.Snapshot.kind == kind)
            # load only the metadata columns, never the payloads
            rows = s.execute(stmt.with_only_columns(
                m.Snapshot.id, m.Snapshot.kind, m.Snapshot.sha256, m.Snapshot.n_rows,
                m.Snapshot.created_at, m.Snapshot.created_by)).all()
            return [SnapshotInfo(r.id, r.kind, r.sha256, r.n_rows, _utc(r.created_at) or
                                 datetime.now(UTC), r.created_by) for r in rows]

    def latest_inputs(self) -> InputsInfo:
        """The most recently imported account and rep snapshots."""
        snaps = self.list_snapshots()
        acc = [x for x in snaps if x.kind == "accounts"]
        reps = [x for x in snaps if x.kind == "reps"]
        if not acc or not reps:
            raise NotFoundError("no inputs imported yet; import accounts and reps first")
        return InputsInfo(acc[-1], reps[-1], False, False)

    def _resolve_snapshot(self, s: Session, kind: str, ref: int | str) -> m.Snapshot:
        stmt = select(m.Snapshot).where(m.Snapshot.kind == kind)
        if isinstance(ref, int):
            stmt = stmt.where(m.Snapshot.id == ref)
        else:
            stmt = stmt.where(m.Snapshot.sha256.startswith(ref))
        found = s.scalars(stmt).all()
        if len(found) != 1:
            raise NotFoundError(f"no unique {kind} snapshot {ref!r} ({len(found)} match)")
        return found[0]

    # -- scenarios -----------------------------------------------------------------------------
    def create_scenario(
        self, name: str, *, actor: str, spec: ScenarioSpec | None = None,
        book: AccountBook | None = None, roster: RepRoster | None = None,
        accounts: int | str | None = None, reps: int | str | None = None,
        cycle: str | None = None, description: str = "", parent: ScenarioRef | None = None,
        plan: Plan | None = None, why: str = "", on_batch: BatchCallback | None = None,
        units: UnitGraph | None = None, spec_dir: str | Path | None = None,
    ) -> ScenarioInfo:
        """Create a draft scenario over some inputs, in one transaction.

        Inputs are either domain objects (``book``/``roster``, snapshotted and deduplicated) or
        existing snapshots (``accounts``/``reps``: id or sha256 prefix); by default the latest
        imported ones. A geo-unit scenario's unit adjacency is stored with its spec (in the spec
        snapshot, so it is immutable and content-hashed like every input): ``units`` (e.g.
        ``scenario.units`` from :func:`terraplan.io.load_scenario`), or, with ``spec_dir``, the
        file the spec's ``inputs.adjacency`` names relative to that folder, read and validated
        against the scenario's accounts by :func:`terraplan.io.load_adjacency`. ``cycle``
        defaults to ``"default"`` and is created on first use. A ``plan`` (e.g. an imported or
        rebalanced one) is stored with it, making it ``solved``.
        """
        if not name.strip():
            raise ParameterError("a scenario needs a non-empty name")
        spec = (spec or ScenarioSpec()).model_copy(update={"name": name})
        enc_a = encode_accounts(book) if book is not None else None
        enc_r = encode_reps(roster) if roster is not None else None
        with self._tx() as s:
            if s.scalars(select(m.Scenario.id).where(m.Scenario.name == name)).first():
                raise ConflictError(f"a scenario named {name!r} already exists")
            cyc = self._cycle(s, cycle, actor, create=True)
            if enc_a is not None:
                snap_a = get_or_create_snapshot(s, enc_a, actor)[0]
            elif accounts is not None:
                snap_a = self._resolve_snapshot(s, "accounts", accounts)
            else:
                snap_a = self._latest_snapshot(s, "accounts")
            if units is None and spec_dir is not None:
                units = load_adjacency(spec, spec_dir,
                                       book if book is not None else self._book(s, snap_a.id))[0]
            enc_spec = _encode_spec(spec, units)
            if enc_r is not None:
                snap_r = get_or_create_snapshot(s, enc_r, actor)[0]
            elif reps is not None:
                snap_r = self._resolve_snapshot(s, "reps", reps)
            else:
                snap_r = self._latest_snapshot(s, "reps")
            snap_s = get_or_create_snapshot(s, enc_spec, actor)[0]
            parent_id = self._scenario(s, parent).id if parent is not None else None
            sc = m.Scenario(name=name, description=description or spec.description,
                            cycle_id=cyc.id, parent_id=parent_id,
                            accounts_snapshot_id=snap_a.id, reps_snapshot_id=snap_r.id,
                            spec_snapshot_id=snap_s.id, status=ScenarioStatus.DRAFT.value,
                            created_by=actor, updated_by=actor)
            s.add(sc)
            s.flush()
            self._audit(s, actor, "create", "scenario", sc.id, sc.id, why=why, details={
                "name": name, "cycle": cyc.name, "parent_id": parent_id,
                "accounts_sha256": snap_a.sha256, "reps_sha256": snap_r.sha256,
                "spec_sha256": snap_s.sha256})
            if plan is not None:
                self._store_plan(s, sc, plan, None, actor, on_batch)
            return self._info(s, sc)

    def _latest_snapshot(self, s: Session, kind: str) -> m.Snapshot:
        snap = s.scalars(select(m.Snapshot).where(m.Snapshot.kind == kind)
                         .order_by(m.Snapshot.id.desc()).limit(1)).first()
        if snap is None:
            raise NotFoundError(f"no {kind} imported yet; import inputs first")
        return snap

    def copy_scenario(
        self, source: ScenarioRef, name: str, *, actor: str, spec: ScenarioSpec | None = None,
        cycle: str | None = None, with_plan: bool = True, description: str | None = None,
        why: str = "", spec_dir: str | Path | None = None,
    ) -> ScenarioInfo:
        """A new child scenario of ``source`` (any status) sharing its inputs.

        This is how an approved or active plan is edited. With ``with_plan`` (and no new spec)
        the source's current plan is copied and the child starts ``solved``; otherwise ``draft``.
        A new ``spec`` keeps the source's unit adjacency unless it changes ``inputs.adjacency``
        or ``geo_unit.unit_column``: see :meth:`update_scenario` (``spec_dir`` as there).
        """
        with self._tx() as s:
            src = self._scenario(s, source)
            if s.scalars(select(m.Scenario.id).where(m.Scenario.name == name)).first():
                raise ConflictError(f"a scenario named {name!r} already exists")
            cyc = (self._cycle(s, cycle, actor, create=True) if cycle is not None
                   else s.get(m.PlanningCycle, src.cycle_id))
            assert cyc is not None
            spec_id = src.spec_snapshot_id
            if spec is not None:  # the unit adjacency is an input: the child keeps it
                units = self._units_for(s, src, spec, spec_dir)
                spec_id = get_or_create_snapshot(s, _encode_spec(spec, units), actor)[0].id
            child = m.Scenario(
                name=name, description=src.description if description is None else description,
                cycle_id=cyc.id, parent_id=src.id,
                accounts_snapshot_id=src.accounts_snapshot_id,
                reps_snapshot_id=src.reps_snapshot_id, spec_snapshot_id=spec_id,
                status=ScenarioStatus.DRAFT.value, created_by=actor, updated_by=actor)
            s.add(child)
            s.flush()
            pid = latest_plan_id(s, src.id)
            copied = None
            if with_plan and pid is not None and spec_id == src.spec_snapshot_id:
                copied = self._copy_plan(s, pid, child, actor)
                child.status = ScenarioStatus.SOLVED.value
                s.flush()
            self._audit(s, actor, "copy", "scenario", child.id, child.id, why=why, details={
                "from": src.name, "from_id": src.id, "from_version": src.version,
                "plan_copied_from": pid if copied else None})
            return self._info(s, child)

    def _copy_plan(self, s: Session, plan_id: int, to: m.Scenario, actor: str) -> int:
        src = s.get(m.PlanRow, plan_id)
        assert src is not None
        new = m.PlanRow(scenario_id=to.id, solve_run_id=None, n_accounts=src.n_accounts,
                        n_assigned=src.n_assigned, rep_ids=list(src.rep_ids),
                        provenance={**src.provenance, "copied_from_plan": plan_id},
                        payload=src.payload, created_by=actor)
        s.add(new)
        s.flush()
        s.connection().exec_driver_sql(
            "INSERT INTO assignments (plan_id, account_id, rep_id, reason) "
            f"SELECT {int(new.id)}, account_id, rep_id, reason FROM assignments "
            f"WHERE plan_id = {int(plan_id)}")
        return new.id

    def get_scenario(self, ref: ScenarioRef) -> ScenarioInfo:
        with self._tx(write=False) as s:
            return self._info(s, self._scenario(s, ref))

    def list_scenarios(self, *, cycle: str | None = None,
                       status: str | Sequence[str] | None = None) -> list[ScenarioInfo]:
        with self._tx(write=False) as s:
            stmt = select(m.Scenario).order_by(m.Scenario.id)
            if cycle is not None:
                stmt = stmt.where(m.Scenario.cycle_id == self._cycle(s, cycle, "", False).id)
            if status is not None:
                wanted = [status] if isinstance(status, str) else list(status)
                known = {x.value for x in ScenarioStatus}
                bad = [w for w in wanted if w not in known]
                if bad:
                    raise ParameterError(f"unknown scenario status {bad}; expected one of "
                                         f"{sorted(known)}")
                stmt = stmt.where(m.Scenario.status.in_(wanted))
            return [self._info(s, sc) for sc in s.scalars(stmt)]

    def load_scenario(self, ref: ScenarioRef) -> DomainScenario:
        """The domain :class:`~terraplan.domain.Scenario` (spec, book, roster and — geo-unit
        scenarios whose spec names ``inputs.adjacency`` — the stored unit graph) to solve."""
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            spec, units = self._spec_units(s, sc)
            if units is not None and not uses_supplied_adjacency(spec):
                units = None  # stored, but this spec asks for the Delaunay approximation
            return DomainScenario(spec=spec, accounts=self._book(s, sc.accounts_snapshot_id),
                                  reps=self._roster(s, sc.reps_snapshot_id), units=units)

    def get_spec(self, ref: ScenarioRef) -> ScenarioSpec:
        """The scenario's spec alone (no account book is decoded)."""
        with self._tx(write=False) as s:
            return self._spec(s, self._scenario(s, ref))

    def update_scenario(
        self, ref: ScenarioRef, *, actor: str, spec: ScenarioSpec | None = None,
        description: str | None = None, expected_version: int | None = None, why: str = "",
        spec_dir: str | Path | None = None,
    ) -> ScenarioInfo:
        """Edit a draft or solved scenario. A new spec makes a solved scenario a draft again
        (its plan no longer matches its rules).

        A new spec keeps the stored unit adjacency (an input) while ``inputs.adjacency`` and
        ``geo_unit.unit_column`` stay the same. When either changes, the stored graph no longer
        matches: it is dropped if the new spec names no adjacency file, else the file is read
        relative to ``spec_dir`` against the scenario's accounts.

        Raises
        ------
        SpecError
            Either field changed to a file and no ``spec_dir`` was given (re-create the
            scenario with the adjacency file).
        InputValidationError
            The re-read adjacency file has problems.
        """
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_editable(sc.name, sc.status, "edit")
            details: dict[str, Any] = {"from_version": sc.version}
            if spec is not None:  # a new spec keeps the stored unit adjacency (an input)
                units = self._units_for(s, sc, spec, spec_dir)
                snap = get_or_create_snapshot(
                    s, _encode_spec(spec.model_copy(update={"name": sc.name}), units), actor)[0]
                if snap.id != sc.spec_snapshot_id:
                    details["spec_sha256"] = snap.sha256
                    sc.spec_snapshot_id = snap.id
                    if sc.status == ScenarioStatus.SOLVED.value:
                        check_transition(sc.name, sc.status, ScenarioStatus.DRAFT)
                        sc.status = ScenarioStatus.DRAFT.value
                        details["status"] = "draft"
            if description is not None:
                sc.description = description
                details["description"] = description
            self._touch(sc, actor)
            s.flush()
            self._audit(s, actor, "update", "scenario", sc.id, sc.id, details, why)
            return self._info(s, sc)

    # -- lifecycle -----------------------------------------------------------------------------
    def transition(self, ref: ScenarioRef, verb: str, *, actor: str,
                   expected_version: int | None = None, why: str = "") -> ScenarioInfo:
        """Apply a lifecycle verb: submit, send_back, approve, reopen, activate, archive."""
        if verb not in VERBS:
            raise ParameterError(
                f"unknown lifecycle action {verb!r}; expected one of {sorted(VERBS)}")
        target = VERBS[verb]
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_transition(sc.name, sc.status, target)
            details: dict[str, Any] = {"from": sc.status, "to": target.value,
                                       "from_version": sc.version}
            if target in (ScenarioStatus.IN_REVIEW, ScenarioStatus.APPROVED,
                          ScenarioStatus.ACTIVE) and latest_plan_id(s, sc.id) is None:
                raise LifecycleError(f"scenario '{sc.name}' has no plan to {verb}")
            if target is ScenarioStatus.ACTIVE:
                prev = s.scalars(select(m.Scenario).where(
                    m.Scenario.cycle_id == sc.cycle_id,
                    m.Scenario.status == ScenarioStatus.ACTIVE.value)).one_or_none()
                if prev is not None:
                    prev.status = ScenarioStatus.ARCHIVED.value
                    self._touch(prev, actor)
                    # the old one must leave 'active' before the new one enters it, or the
                    # one-active index refuses the statement
                    s.flush()
                    self._audit(s, actor, "archive", "scenario", prev.id, prev.id,
                                {"from": "active", "to": "archived", "superseded_by": sc.name},
                                why or f"superseded by '{sc.name}'")
                    details["superseded"] = prev.name
            sc.status = target.value
            self._touch(sc, actor)
            s.flush()
            self._audit(s, actor, verb, "scenario", sc.id, sc.id, details, why)
            return self._info(s, sc)

    def submit(self, ref: ScenarioRef, *, actor: str, expected_version: int | None = None,
               why: str = "") -> ScenarioInfo:
        return self.transition(ref, "submit", actor=actor, expected_version=expected_version,
                               why=why)

    def approve(self, ref: ScenarioRef, *, actor: str, expected_version: int | None = None,
                why: str = "") -> ScenarioInfo:
        return self.transition(ref, "approve", actor=actor, expected_version=expected_version,
                               why=why)

    def activate(self, ref: ScenarioRef, *, actor: str, expected_version: int | None = None,
                 why: str = "") -> ScenarioInfo:
        """Make an approved scenario the cycle's active plan; the previously active one is
        archived in the same transaction."""
        return self.transition(ref, "activate", actor=actor, expected_version=expected_version,
                               why=why)

    def archive(self, ref: ScenarioRef, *, actor: str, expected_version: int | None = None,
                why: str = "") -> ScenarioInfo:
        return self.transition(ref, "archive", actor=actor, expected_version=expected_version,
                               why=why)

    # -- solve runs and plans ------------------------------------------------------------------
    def record_solve(
        self, ref: ScenarioRef, result: SolveResult, plan: Plan | None, *, actor: str,
        options: Mapping[str, Any] | None = None, error: str | None = None,
        started_at: datetime | None = None, expected_version: int | None = None,
        job_id: str | None = None, on_batch: BatchCallback | None = None,
    ) -> SolveRunInfo:
        """Record a solve run and, when it found one, its plan — in one transaction.

        A plan makes the scenario ``solved``; a run without a plan (infeasible, cancelled,
        error) is recorded and leaves the status alone. ``plan`` is the decoded
        :class:`~terraplan.domain.Plan` (account ids → rep ids with reasons).
        """
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_editable(sc.name, sc.status, "record a solve")
            now = datetime.now(UTC)
            run = m.SolveRun(
                scenario_id=sc.id, backend=result.backend, seed=int(result.seed),
                options=dict(options or {}), status=str(result.status.value),
                objective=result.objective, bound=result.bound, gap=result.gap,
                runtime=float(result.runtime), terraplan_version=__version__,
                message=result.message, error=error,
                stats={k: v for k, v in result.stats.items()
                       if isinstance(v, int | float | str | bool | None)},
                started_at=started_at or now - timedelta(seconds=float(result.runtime)),
                finished_at=now, created_by=actor)
            s.add(run)
            s.flush()
            plan_id = None
            if plan is not None:
                plan_id = self._store_plan(s, sc, plan, run.id, actor, on_batch)
            else:
                self._touch(sc, actor)
            if job_id is not None:
                job = s.get(m.Job, job_id)
                if job is not None:
                    job.solve_run_id = run.id
            s.flush()
            self._audit(s, actor, "solve", "solve_run", run.id, sc.id, {
                "backend": run.backend, "seed": run.seed, "status": run.status,
                "objective": run.objective, "plan_id": plan_id})
            return self._run_info(run, plan_id)

    def record_plan(self, ref: ScenarioRef, plan: Plan, *, actor: str,
                    expected_version: int | None = None, why: str = "",
                    on_batch: BatchCallback | None = None) -> PlanInfo:
        """Store a plan that did not come from a solve run (import, manual edit, rebalance)."""
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_editable(sc.name, sc.status, "record a plan")
            pid = self._store_plan(s, sc, plan, None, actor, on_batch, why=why)
            row = s.get(m.PlanRow, pid)
            assert row is not None
            return self._plan_info(row)

    def _store_plan(self, s: Session, sc: m.Scenario, plan: Plan, run_id: int | None,
                    actor: str, on_batch: BatchCallback | None, why: str = "") -> int:
        check_editable(sc.name, sc.status, "record a plan")
        roster = self._roster(s, sc.reps_snapshot_id)
        used = np.unique(plan.owner[plan.owner >= 0])
        unknown = [plan.rep_ids[j] for j in used.tolist() if plan.rep_ids[j] not in roster]
        if unknown:
            raise ParameterError(
                f"plan assigns accounts to reps not in scenario '{sc.name}''s roster: "
                f"{sorted(unknown)[:10]}")
        arrays = PlanArrays(
            account_ids=plan.account_ids, owner=plan.owner, rep_ids=tuple(plan.rep_ids),
            reasons=(np.full(len(plan), -1, dtype=np.int16) if plan.reasons is None
                     else plan.reasons.astype(np.int16)))
        prov = plan.provenance
        row = m.PlanRow(scenario_id=sc.id, solve_run_id=run_id, n_accounts=len(plan),
                        n_assigned=int((plan.owner >= 0).sum()), rep_ids=list(plan.rep_ids),
                        provenance={"scenario": prov.scenario, "solver": prov.solver,
                                    "seed": prov.seed, "created_at": prov.created_at,
                                    "note": prov.note},
                        payload=encode_plan(arrays, ids_in_book_order=self._in_book_order(
                            s, sc.accounts_snapshot_id, plan)),
                        created_by=actor)
        s.add(row)
        s.flush()
        try:
            with s.begin_nested():
                write_assignments(s, row.id, arrays, on_batch)
        except IntegrityError as exc:
            raise ParameterError(f"the plan lists an account twice: {exc.orig}") from None
        if sc.status != ScenarioStatus.SOLVED.value:
            check_transition(sc.name, sc.status, ScenarioStatus.SOLVED)
            sc.status = ScenarioStatus.SOLVED.value
        self._touch(sc, actor)
        s.flush()
        self._audit(s, actor, "record_plan", "plan", row.id, sc.id,
                    {"accounts": row.n_accounts, "assigned": row.n_assigned,
                     "solve_run_id": run_id}, why)
        return row.id

    @staticmethod
    def _plan_info(p: m.PlanRow) -> PlanInfo:
        created = _utc(p.created_at)
        assert created is not None
        return PlanInfo(p.id, p.scenario_id, p.solve_run_id, p.n_accounts, p.n_assigned,
                        created, p.created_by)

    @staticmethod
    def _run_info(r: m.SolveRun, plan_id: int | None) -> SolveRunInfo:
        started = _utc(r.started_at)
        assert started is not None
        return SolveRunInfo(
            id=r.id, scenario_id=r.scenario_id, backend=r.backend, seed=r.seed, status=r.status,
            objective=r.objective, bound=r.bound, gap=r.gap, runtime=r.runtime,
            terraplan_version=r.terraplan_version, options=dict(r.options), message=r.message,
            error=r.error, started_at=started, finished_at=_utc(r.finished_at), plan_id=plan_id)

    def list_solve_runs(self, ref: ScenarioRef) -> list[SolveRunInfo]:
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            plans = dict(s.execute(select(m.PlanRow.solve_run_id, m.PlanRow.id).where(
                m.PlanRow.scenario_id == sc.id)).all())
            return [self._run_info(r, plans.get(r.id)) for r in s.scalars(
                select(m.SolveRun).where(m.SolveRun.scenario_id == sc.id)
                .order_by(m.SolveRun.id))]

    def list_plans(self, ref: ScenarioRef) -> list[PlanInfo]:
        """Every plan version of a scenario, oldest first (the last one is current)."""
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            return [self._plan_info(p) for p in s.scalars(
                select(m.PlanRow).where(m.PlanRow.scenario_id == sc.id).order_by(m.PlanRow.id))]

    def _plan_id(self, s: Session, sc: m.Scenario, plan_id: int | None) -> int:
        if plan_id is None:
            pid = latest_plan_id(s, sc.id)
            if pid is None:
                raise NotFoundError(f"scenario '{sc.name}' has no plan yet")
            return pid
        row = s.get(m.PlanRow, plan_id)
        if row is None or row.scenario_id != sc.id:
            raise NotFoundError(f"scenario '{sc.name}' has no plan {plan_id}")
        return plan_id

    def get_plan(self, ref: ScenarioRef, plan_id: int | None = None) -> Plan:
        """A stored plan as a domain :class:`~terraplan.domain.Plan` (rows in book order)."""
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            pid = self._plan_id(s, sc, plan_id)
            row = s.get(m.PlanRow, pid)
            assert row is not None
            arrays = self._plan_arrays(s, sc, pid)
        p = row.provenance
        return Plan(account_ids=arrays.account_ids, owner=arrays.owner, rep_ids=arrays.rep_ids,
                    reasons=None if (arrays.reasons < 0).all() else arrays.reasons.astype(np.int8),
                    provenance=Provenance(scenario=p.get("scenario", sc.name),
                                          solver=p.get("solver", ""), seed=p.get("seed"),
                                          created_at=p.get("created_at", ""),
                                          note=p.get("note", "")))

    def page_plan(self, ref: ScenarioRef, *, after: str | None = None, limit: int = 1000,
                  rep_id: str | None = None, plan_id: int | None = None) -> list[AssignmentRow]:
        """One page of a plan in account id order; pass the last account id as ``after``."""
        if not (1 <= limit <= 100_000):
            raise ParameterError(f"The 'limit' parameter must be an int in [1, 100000]. "
                                 f"Got {limit!r}.")
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            pid = self._plan_id(s, sc, plan_id)
            return [AssignmentRow(a, r, _reason(c)) for a, r, c in
                    page_assignments(s, pid, after=after, limit=limit, rep_id=rep_id)]

    def export_plan(self, ref: ScenarioRef, target: str | Path | IO[str], *, fmt: str = "csv",
                    plan_id: int | None = None) -> int:
        """Write a plan as CSV (account_id, rep_id, reason) or JSON; returns the row count."""
        import csv
        import json

        if fmt not in ("csv", "json"):
            raise ParameterError(f"The 'fmt' parameter must be 'csv' or 'json'. Got {fmt!r}.")
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            pid = self._plan_id(s, sc, plan_id)
            arrays = self._plan_arrays(s, sc, pid)
            name = sc.name
        owners = arrays.owner_ids().tolist()
        reasons = [None if r is None else r.name.lower()
                   for r in (_reason(c) for c in arrays.reasons.tolist())]

        def body(f: IO[str]) -> None:
            if fmt == "csv":
                w = csv.writer(f)
                w.writerow(["account_id", "rep_id", "reason"])
                w.writerows(zip(arrays.account_ids.tolist(),
                                [r or "" for r in owners],
                                [r or "" for r in reasons], strict=True))
            else:
                json.dump({"scenario": name, "plan_id": pid, "assignments": [
                    {"account_id": a, "rep_id": r, "reason": c} for a, r, c in
                    zip(arrays.account_ids.tolist(), owners, reasons,
                        strict=True)]}, f)

        if isinstance(target, str | Path):
            with open(target, "w", encoding="utf-8", newline="") as f:
                body(f)
        else:
            body(target)
        return len(arrays)

    # -- owner lookup (CRM hot path) -----------------------------------------------------------
    def owner_of(self, account_id: str, *, cycle: str | None = None) -> OwnerInfo:
        """Owner of ``account_id`` in the active plan of ``cycle``.

        Without ``cycle``: the active plan activated most recently (most stores have one).
        One indexed query: active scenario → its latest plan → the (plan, account) key.
        """
        # The CRM calls this at every account update: one plain DBAPI statement (no ORM, whose
        # statement building costs more than the query), atomic, one round trip. The derived
        # table finds the active scenario and its current plan; the join probes the
        # (plan_id, account_id) primary key.
        sqlite = self.engine.dialect.name == "sqlite"
        ph = "?" if sqlite else "%s"
        sql = (
            "SELECT h.id, h.name, h.cycle, h.plan_id, a.account_id, a.rep_id, a.reason FROM ("
            "SELECT s.id AS id, s.name AS name, c.name AS cycle, (SELECT max(p.id) FROM plans p "
            "WHERE p.scenario_id = s.id) AS plan_id FROM scenarios s "
            "JOIN planning_cycles c ON c.id = s.cycle_id WHERE s.status = 'active'"
            + (f" AND c.name = {ph}" if cycle is not None else "")
            + f" ORDER BY s.updated_at DESC LIMIT 1) h LEFT JOIN assignments a "
            f"ON a.plan_id = h.plan_id AND a.account_id = {ph}")
        params = (cycle, account_id) if cycle is not None else (account_id,)
        raw = self.engine.raw_connection()
        dbapi: Any = raw.driver_connection
        try:
            # one statement is atomic on its own: autocommit saves PostgreSQL the BEGIN and
            # ROLLBACK round trips (SQLite connections are already in driver autocommit)
            if not sqlite:
                dbapi.autocommit = True
            cur = raw.cursor()
            cur.execute(sql, params)
            head = cur.fetchone()
            cur.close()
        finally:
            if not sqlite and not dbapi.closed:
                dbapi.autocommit = False
            raw.close()
        if head is None or head[3] is None:
            raise NotFoundError("there is no active plan" +
                                (f" in cycle {cycle!r}" if cycle else ""))
        if head[4] is None:
            raise NotFoundError(f"account {account_id!r} is not in the active plan")
        return OwnerInfo(account_id, head[5], _reason(head[6]), head[0], head[1], head[2],
                         head[3])

    # -- quotas, comp, metrics -----------------------------------------------------------------
    def record_quotas(
        self, ref: ScenarioRef, quotas: Mapping[tuple[str, str], int] |
        Iterable[tuple[str, str, int]], *, actor: str, method: str,
        params: Mapping[str, Any] | None = None, expected_version: int | None = None,
        why: str = "",
    ) -> QuotaSetInfo:
        """Store a quota allocation (rep × period → integer cents) for the current plan."""
        items = ([(r, p, c) for (r, p), c in quotas.items()] if isinstance(quotas, Mapping)
                 else [tuple(x) for x in quotas])
        clean: dict[tuple[str, str], int] = {}
        for rep, period, cents in items:
            if isinstance(cents, bool) or not isinstance(cents, int | np.integer):
                raise ParameterError(f"quota of {rep}/{period} must be integer cents; "
                                     f"got {cents!r}")
            if (rep, period) in clean:
                raise ParameterError(f"quota of {rep}/{period} given twice")
            clean[(str(rep), str(period))] = int(cents)
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_editable(sc.name, sc.status, "record quotas")
            roster = self._roster(s, sc.reps_snapshot_id)
            unknown = sorted({r for r, _ in clean if r not in roster})
            if unknown:
                raise ParameterError(f"quotas for reps not in the roster: {unknown[:10]}")
            qs = m.QuotaSet(scenario_id=sc.id, plan_id=latest_plan_id(s, sc.id), method=method,
                            params=dict(params or {}), total_cents=sum(clean.values()),
                            created_by=actor)
            s.add(qs)
            s.flush()
            s.add_all([m.Quota(quota_set_id=qs.id, rep_id=r, period=p, amount_cents=c)
                       for (r, p), c in clean.items()])
            self._touch(sc, actor)
            s.flush()
            self._audit(s, actor, "record_quotas", "quota_set", qs.id, sc.id,
                        {"method": method, "total_cents": qs.total_cents, "rows": len(clean)},
                        why)
            return self._quota_info(qs, clean)

    @staticmethod
    def _quota_info(qs: m.QuotaSet, rows: Mapping[tuple[str, str], int]) -> QuotaSetInfo:
        created = _utc(qs.created_at)
        assert created is not None
        return QuotaSetInfo(qs.id, qs.scenario_id, qs.plan_id, qs.method, dict(qs.params),
                            qs.total_cents, dict(rows), created, qs.created_by)

    def get_quotas(self, ref: ScenarioRef) -> QuotaSetInfo | None:
        """The latest quota allocation of a scenario, or ``None``."""
        with self._tx(write=False) as s:
            return self._latest_quotas(s, self._scenario(s, ref).id)

    def _latest_quotas(self, s: Session, scenario_id: int) -> QuotaSetInfo | None:
        qs = s.scalars(select(m.QuotaSet).where(m.QuotaSet.scenario_id == scenario_id)
                       .order_by(m.QuotaSet.id.desc()).limit(1)).first()
        if qs is None:
            return None
        rows = {(q.rep_id, q.period): q.amount_cents for q in s.scalars(
            select(m.Quota).where(m.Quota.quota_set_id == qs.id))}
        return self._quota_info(qs, rows)

    def record_comp(
        self, ref: ScenarioRef, name: str, definition: Mapping[str, Any], *, actor: str,
        total_cost_cents: int, per_rep_pay_cents: Mapping[str, int],
        details: Mapping[str, Any] | None = None, quota_set_id: int | None = None,
        expected_version: int | None = None, why: str = "",
    ) -> CompResultInfo:
        """Store a comp plan definition (JSON) with its expected cost (total, per rep; cents)."""
        for k, v in [("total", total_cost_cents), *per_rep_pay_cents.items()]:
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise ParameterError(f"comp cost {k} must be integer cents; got {v!r}")
        with self._tx() as s:
            sc = self._scenario(s, ref)
            self._check_version(sc, expected_version)
            check_editable(sc.name, sc.status, "record comp")
            cp = m.CompPlan(scenario_id=sc.id, name=name, definition=dict(definition),
                            created_by=actor)
            s.add(cp)
            s.flush()
            cr = m.CompResult(comp_plan_id=cp.id, quota_set_id=quota_set_id,
                              total_cost_cents=int(total_cost_cents),
                              per_rep={k: int(v) for k, v in per_rep_pay_cents.items()},
                              details=dict(details or {}), created_by=actor)
            s.add(cr)
            self._touch(sc, actor)
            s.flush()
            self._audit(s, actor, "record_comp", "comp_plan", cp.id, sc.id,
                        {"name": name, "total_cost_cents": int(total_cost_cents)}, why)
            return self._comp_info(cp, cr)

    @staticmethod
    def _comp_info(cp: m.CompPlan, cr: m.CompResult) -> CompResultInfo:
        created = _utc(cr.created_at)
        assert created is not None
        return CompResultInfo(cr.id, cp.id, cp.scenario_id, cp.name, dict(cp.definition),
                              cr.quota_set_id, cr.total_cost_cents, dict(cr.per_rep),
                              dict(cr.details), created, cr.created_by)

    def get_comp(self, ref: ScenarioRef) -> list[CompResultInfo]:
        """Every comp result of a scenario, oldest first."""
        with self._tx(write=False) as s:
            return self._comps(s, self._scenario(s, ref).id)

    def _comps(self, s: Session, scenario_id: int) -> list[CompResultInfo]:
        rows = s.execute(select(m.CompPlan, m.CompResult)
                         .join(m.CompResult, m.CompResult.comp_plan_id == m.CompPlan.id)
                         .where(m.CompPlan.scenario_id == scenario_id)
                         .order_by(m.CompResult.id)).all()
        return [self._comp_info(cp, cr) for cp, cr in rows]

    def record_metrics(self, ref: ScenarioRef, kind: str, data: Mapping[str, Any], *,
                       actor: str, plan_id: int | None = None) -> MetricInfo:
        """Store evaluation results (JSON) of a scenario's plan (current plan by default)."""
        with self._tx() as s:
            sc = self._scenario(s, ref)
            check_editable(sc.name, sc.status, "record metrics")
            pid = self._plan_id(s, sc, plan_id) if plan_id is not None or \
                latest_plan_id(s, sc.id) is not None else None
            row = m.Metric(scenario_id=sc.id, plan_id=pid, kind=kind, data=dict(data),
                           created_by=actor)
            s.add(row)
            s.flush()
            self._audit(s, actor, "record_metrics", "metric", row.id, sc.id, {"kind": kind})
            return self._metric_info(row)

    @staticmethod
    def _metric_info(r: m.Metric) -> MetricInfo:
        created = _utc(r.created_at)
        assert created is not None
        return MetricInfo(r.id, r.scenario_id, r.plan_id, r.kind, dict(r.data), created,
                          r.created_by)

    def get_metrics(self, ref: ScenarioRef, kind: str | None = None) -> list[MetricInfo]:
        with self._tx(write=False) as s:
            sc = self._scenario(s, ref)
            stmt = select(m.Metric).where(m.Metric.scenario_id == sc.id).order_by(m.Metric.id)
            if kind is not None:
                stmt = stmt.where(m.Metric.kind == kind)
            return [self._metric_info(r) for r in s.scalars(stmt)]

    # -- compare -------------------------------------------------------------------------------
    def _side(self, s: Session, ref: ScenarioRef, plan_id: int | None, label: str) -> SideData:
        sc = self._scenario(s, ref)
        pid = self._plan_id(s, sc, plan_id)
        spec = self._spec(s, sc)
        quotas = self._latest_quotas(s, sc.id)
        comps = self._comps(s, sc.id)
        return SideData(
            side=Side(label, sc.id, sc.name, pid, sc.status),
            plan=self._plan_arrays(s, sc, pid), book=self._book(s, sc.accounts_snapshot_id),
            roster=self._roster(s, sc.reps_snapshot_id),
            balanced=tuple(b.metric for b in spec.rules.balance),
            quota_per_rep=None if quotas is None else quotas.per_rep(),
            pay_per_rep=None if not comps else dict(comps[-1].per_rep))

    def compare(self, a: ScenarioRef, b: ScenarioRef, *, a_plan: int | None = None,
                b_plan: int | None = None) -> Comparison:
        """Compare the plans of two scenarios (or two plan versions of one scenario)."""
        with self._tx(write=False) as s:
            sa = self._side(s, a, a_plan, "a")
            sb = self._side(s, b, b_plan, "b")
        return build_comparison(sa, sb)

    def compare_to_current(self, ref: ScenarioRef, *, plan_id: int | None = None) -> Comparison:
        """Compare a scenario's plan with the CRM's current ownership in its input snapshot."""
        with self._tx(write=False) as s:
            sb = self._side(s, ref, plan_id, "b")
        current = SideData(
            side=Side("current CRM ownership", None, None, None, None),
            plan=_current_arrays(sb.book), book=sb.book, roster=sb.roster,
            balanced=sb.balanced, quota_per_rep=None, pay_per_rep=None)
        return build_comparison(current, sb)

    # -- audit ---------------------------------------------------------------------------------
    def history(self, ref: ScenarioRef | None = None, *, limit: int = 100,
                action: str | None = None) -> list[AuditInfo]:
        """Audit entries, newest first; of one scenario when ``ref`` is given."""
        with self._tx(write=False) as s:
            stmt = select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit)
            if ref is not None:
                stmt = stmt.where(m.AuditEntry.scenario_id == self._scenario(s, ref).id)
            if action is not None:
                stmt = stmt.where(m.AuditEntry.action == action)
            return [AuditInfo(e.id, _utc(e.at) or datetime.now(UTC), e.actor, e.action,
                              e.object_type, e.object_id, e.scenario_id, dict(e.details), e.why)
                    for e in s.scalars(stmt)]

    # -- jobs (API solve jobs) -----------------------------------------------------------------
    @staticmethod
    def _job_info(j: m.Job) -> JobInfo:
        created = _utc(j.created_at)
        assert created is not None
        return JobInfo(j.id, j.scenario_id, j.kind, j.state, dict(j.options), dict(j.progress),
                       j.error, j.solve_run_id, _utc(j.heartbeat_at), created, j.created_by,
                       _utc(j.started_at), _utc(j.finished_at), j.version)

    def create_job(self, ref: ScenarioRef, *, actor: str, kind: str = "solve",
                   options: Mapping[str, Any] | None = None) -> JobInfo:
        """Queue a job for a scenario (refused when the scenario cannot change)."""
        with self._tx() as s:
            sc = self._scenario(s, ref)
            check_editable(sc.name, sc.status, f"start a {kind} job")
            job = m.Job(id=uuid.uuid4().hex, scenario_id=sc.id, kind=kind, state="queued",
                        options=dict(options or {}), progress={}, created_by=actor)
            s.add(job)
            s.flush()
            self._audit(s, actor, "create", "job", job.id, sc.id, {"kind": kind})
            return self._job_info(job)

    def get_job(self, job_id: str) -> JobInfo:
        with self._tx(write=False) as s:
            job = s.get(m.Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            return self._job_info(job)

    def list_jobs(self, *, scenario: ScenarioRef | None = None,
                  state: str | None = None) -> list[JobInfo]:
        with self._tx(write=False) as s:
            stmt = select(m.Job).order_by(m.Job.created_at, m.Job.id)
            if scenario is not None:
                stmt = stmt.where(m.Job.scenario_id == self._scenario(s, scenario).id)
            if state is not None:
                stmt = stmt.where(m.Job.state == state)
            return [self._job_info(j) for j in s.scalars(stmt)]

    def update_job(self, job_id: str, *, state: str | None = None,
                   progress: Mapping[str, Any] | None = None, error: str | None = None,
                   solve_run_id: int | None = None, actor: str = "worker",
                   expected_version: int | None = None) -> JobInfo:
        """Move a job along ``queued → running → succeeded|failed|cancelled`` and/or merge
        ``progress`` (also the heartbeat). Final states are final."""
        with self._tx() as s:
            job = s.get(m.Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            if expected_version is not None and job.version != expected_version:
                raise ConflictError(f"job {job_id} changed since it was read")
            now = datetime.now(UTC)
            if state is not None and state != job.state:
                if state not in _JOB_NEXT.get(job.state, set()):
                    raise LifecycleError(f"job {job_id} is {job.state}; it cannot become {state}")
                job.state = state
                if state == "running":
                    job.started_at = now
                if state in JOB_FINAL:
                    job.finished_at = now
                self._audit(s, actor, f"job_{state}", "job", job.id, job.scenario_id,
                            {"error": error} if error else {})
            if progress is not None:
                job.progress = {**job.progress, **progress}
            if error is not None:
                job.error = error
            if solve_run_id is not None:
                job.solve_run_id = solve_run_id
            job.heartbeat_at = now
            s.flush()
            return self._job_info(job)

    def request_cancel(self, job_id: str, *, actor: str) -> JobInfo:
        """Cancel a queued job at once; flag a running one (its worker stops and finishes it
        as cancelled — see :attr:`JobInfo.cancel_requested`)."""
        with self._tx() as s:
            job = s.get(m.Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id!r}")
            if job.state == "queued":
                job.state = "cancelled"
                job.finished_at = datetime.now(UTC)
            elif job.state == "running":
                job.progress = {**job.progress, "cancel_requested": True}
            else:
                raise LifecycleError(f"job {job_id} is already {job.state}")
            s.flush()
            self._audit(s, actor, "cancel", "job", job.id, job.scenario_id)
            return self._job_info(job)

    def fail_interrupted_jobs(self, *, stale_after: float | None = None,
                              actor: str = "server") -> list[str]:
        """Mark queued/running jobs failed (server restart), or only those whose heartbeat is
        older than ``stale_after`` seconds. Returns their ids; nothing stays stuck running."""
        with self._tx() as s:
            stmt = select(m.Job).where(m.Job.state.in_(("queued", "running")))
            jobs = list(s.scalars(stmt))
            now = datetime.now(UTC)
            failed = []
            for job in jobs:
                if stale_after is not None:
                    beat = _utc(job.heartbeat_at) or _utc(job.created_at)
                    if beat is not None and (now - beat).total_seconds() < stale_after:
                        continue
                job.state = "failed"
                job.error = "interrupted: the server stopped while the job was " + (
                    "running" if job.started_at else "queued")
                job.finished_at = now
                failed.append(job.id)
                self._audit(s, actor, "job_failed", "job", job.id, job.scenario_id,
                            {"error": job.error})
            s.flush()
            return failed

    # -- maintenance ---------------------------------------------------------------------------
    def count_rows(self) -> dict[str, int]:
        """Rows per table (diagnostics and tests)."""
        with self._tx(write=False) as s:
            return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                    for t in m.Base.metadata.sorted_tables}


def init_store(url: str | None = None) -> str:
    """Create or upgrade the store at ``url``; returns the schema revision it is at."""
    ws = Workspace.open(url)
    try:
        rev = migrate.current(ws.engine)
        assert rev is not None
        return rev
    finally:
        ws.close()


__all__ = ["DEFAULT_CYCLE", "ScenarioRef", "Workspace", "init_store"]
