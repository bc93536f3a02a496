"""Rebalance the active plan after a departure — the use case behind ``terraplan rebalance``
(and the API's rebalance endpoint).

Flow::

    active scenario of the cycle → its plan (the ownership in force) → roster events (departure
    on a date, a new hire like an existing rep, TBH placeholders) → :func:`solvers.rebalance`
    (re-solves only the eligibility pools the events touch; moves the departed rep's book
    first, then the fewest, lowest-value other accounts) →
    independent re-check by the evaluator under the scenario's own rules → quota transfer pro rata
    from the effective date (when the active scenario has stored quotas) → a child scenario of
    the active one holding the new plan (status ``solved``, ready for review and approval).

Nothing is written on a dry run, when the rebalancer finds no plan, when the evaluator finds a
hard violation or when more accounts than ``max_moves`` would move besides the departed book.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

import numpy as np

from terraplan.domain import Categorical, Plan, Scenario
from terraplan.errors import NotFoundError, ParameterError, UnsupportedRuleError
from terraplan.evaluate import Evaluation, evaluate
from terraplan.evaluate.territories import TERRITORY_MODES
from terraplan.services.types import QuotaSetInfo, ScenarioInfo
from terraplan.services.workspace import Workspace
from terraplan.solvers.rebalance import (
    Departure,
    Event,
    Move,
    NewHire,
    RebalanceResult,
    rebalance,
)


@dataclass(frozen=True, slots=True)
class Hire:
    """A named new hire who takes over the profile (eligibility, home, capacity) of ``like``."""

    name: str
    like: str
    rep_id: str | None = None  # default: derived from the name (``HIRE-DANA-LEE``)


@dataclass(frozen=True, slots=True)
class RebalanceRequest:
    """What happened and how to react.

    Parameters
    ----------
    depart : rep ids leaving
    effective : date the departures take effect (quota moves pro rata from it); default today
    hires : named new hires, each like an existing rep
    tbh : number of to-be-hired placeholders, each like the (first) departing rep
    max_moves : refuse when more than this many accounts *outside the departed books* move
    seed, time_limit : search seed and seconds
    name : name of the child scenario (default ``<active>-rebalance-<date>``)
    cycle : planning cycle whose active plan to start from (needed only with several)
    """

    depart: tuple[str, ...]
    effective: date | None = None
    hires: tuple[Hire, ...] = ()
    tbh: int = 0
    max_moves: int | None = None
    seed: int = 0
    time_limit: float = 30.0
    name: str | None = None
    cycle: str | None = None

    def __post_init__(self) -> None:
        if not self.depart and not self.hires and not self.tbh:
            raise ParameterError("nothing to rebalance: name a departing rep, a hire or a TBH")
        if self.tbh < 0:
            raise ParameterError(f"The 'tbh' parameter must be an int >= 0. Got {self.tbh}.")
        if self.tbh and not self.depart:
            raise ParameterError("a TBH placeholder copies a departing rep's profile; "
                                 "name the departing rep with --depart")
        if self.max_moves is not None and self.max_moves < 0:
            raise ParameterError(f"The 'max_moves' parameter must be an int >= 0. "
                                 f"Got {self.max_moves}.")
        if not (self.time_limit > 0):
            raise ParameterError(f"The 'time_limit' parameter must be a float in (0, inf). "
                                 f"Got {self.time_limit}.")

    @property
    def on(self) -> date:
        return self.effective or datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class RepGain:
    """What one rep gains or loses: accounts, potential (cents) and travel (distance unit)."""

    rep_id: str
    status: str
    accounts_in: int
    accounts_out: int
    potential_in: int
    potential_out: int
    travel_before: float
    travel_after: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class QuotaChange:
    """One rep's quota before and after the transfer, cents (sum over periods)."""

    rep_id: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "before_cents": self.before, "after_cents": self.after,
                "delta_cents": self.delta}


@dataclass(frozen=True, slots=True)
class RebalanceOutcome:
    """Everything ``terraplan rebalance`` prints, and what was written (``scenario``)."""

    source: ScenarioInfo
    request: RebalanceRequest
    events: tuple[Event, ...]
    result: RebalanceResult
    before: Evaluation
    after: Evaluation | None
    gains: tuple[RepGain, ...]
    quota_changes: tuple[QuotaChange, ...] | None
    new_quotas: Mapping[tuple[str, str], int] | None
    scenario: ScenarioInfo | None = None
    refused: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.after is not None and self.after.feasible and not self.refused

    @property
    def moves(self) -> tuple[Move, ...]:
        return self.result.moves

    @property
    def forced(self) -> int:
        return sum(1 for mv in self.result.moves if mv.reason.name == "DEPARTURE")

    def to_dict(self) -> dict[str, Any]:
        def fair(ev: Evaluation | None) -> dict[str, Any] | None:
            if ev is None:
                return None
            return {m: {"cv": mb.cv, "max_abs_deviation": mb.max_abs_deviation}
                    for m, mb in ev.metrics.items()}

        return {
            "source": self.source.name, "source_id": self.source.id,
            "status": self.result.status.value, "ok": self.ok, "refused": self.refused or None,
            "effective": self.request.on.isoformat(),
            "events": [_event_dict(e) for e in self.events],
            "moves": {"total": len(self.moves), "forced": self.forced,
                      "other": len(self.moves) - self.forced},
            "scope": {"accounts": int(self.result.stats.get("scope_accounts", 0)),
                      "reps": int(self.result.stats.get("scope_reps", 0)),
                      "method": "repair" if self.result.stats.get("repair") else "heuristic"},
            "worst_deviation": {"before": dict(self.result.before),
                                "after": dict(self.result.after)},
            "fairness": {"before": fair(self.before), "after": fair(self.after)},
            "hard_violations_after": None if self.after is None else self.after.hard_count,
            "reps": [g.to_dict() for g in self.gains],
            "quota_changes": None if self.quota_changes is None
            else [q.to_dict() for q in self.quota_changes],
            "scenario": None if self.scenario is None else self.scenario.to_dict(),
            "moved_accounts": [{"account_id": mv.account_id, "from": mv.from_rep,
                                "to": mv.to_rep, "reason": mv.reason.name.lower()}
                               for mv in self.moves],
            "notes": list(self.notes),
        }


def _event_dict(e: Event) -> dict[str, Any]:
    d = {k: (v.isoformat() if isinstance(v, date) else v)
         for k, v in dataclasses.asdict(e).items() if v not in (None, "", False)}
    d = {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in d.items()}
    return {"event": type(e).__name__, **d}


def _hire_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").upper()
    if not slug:
        raise ParameterError(f"a hire needs a name with letters or digits. Got {name!r}.")
    return f"HIRE-{slug}"[:64]


def active_scenario(ws: Workspace, cycle: str | None = None) -> ScenarioInfo:
    """The active scenario of ``cycle`` (or the only active one when ``cycle`` is None)."""
    rows = ws.list_scenarios(cycle=cycle, status="active")
    if not rows:
        raise NotFoundError("there is no active plan" + (f" in cycle {cycle!r}" if cycle else "")
                            + "; approve and activate a scenario first")
    if len(rows) > 1:
        raise ParameterError("several cycles have an active plan ("
                             + ", ".join(f"{r.cycle}: {r.name}" for r in rows)
                             + "); choose one with --cycle")
    return rows[0]


def build_events(request: RebalanceRequest, scenario: Scenario) -> tuple[Event, ...]:
    """Roster events of a request: departures, named hires, TBH placeholders."""
    roster = scenario.reps
    events: list[Event] = []
    for rid in request.depart:
        if rid not in roster:
            raise NotFoundError(f"rep {rid!r} is not in the roster of '{scenario.spec.name}'")
        events.append(Departure(rid, on=request.on))
    taken = set(roster.ids)
    for h in request.hires:
        if h.like not in roster:
            raise NotFoundError(f"--like rep {h.like!r} is not in the roster")
        rid = h.rep_id or _hire_id(h.name)
        if rid in taken:
            raise ParameterError(f"hire id {rid!r} is already taken; choose another name")
        taken.add(rid)
        events.append(NewHire(rid, like=h.like, name=h.name, start=request.on))
    k = 0
    for _ in range(request.tbh):
        k += 1
        while f"TBH-{k:03d}" in taken:
            k += 1
        rid = f"TBH-{k:03d}"
        taken.add(rid)
        events.append(NewHire(rid, like=request.depart[0], name=f"TBH {k}", tbh=True,
                              start=request.on))
    return tuple(events)


def _gains(before: Evaluation, after: Evaluation, potential: np.ndarray) -> tuple[RepGain, ...]:
    b, a = before.owner, after.owner
    moved = b != a
    out = []
    for r, rid in enumerate(after.rep_ids):
        gin = moved & (a == r)
        gout = moved & (b == r)
        if not (gin.any() or gout.any()):
            continue
        out.append(RepGain(rid, after.rep_status[r], int(gin.sum()), int(gout.sum()),
                           int(potential[gin].sum()), int(potential[gout].sum()),
                           float(before.travel.per_rep[r]), float(after.travel.per_rep[r])))
    return tuple(out)


def _calendar(qs: QuotaSetInfo, effective: date) -> tuple[Any, tuple[str, ...]]:
    """The plan calendar of stored quotas: from the set's params, else from its period labels."""
    from terraplan.quota import PlanCalendar

    labels = sorted({p for _, p in qs.quotas})
    kind = str(qs.params.get("periods") or ("quarter" if all(
        re.fullmatch(r"Q[1-4]", p) for p in labels) else "month"))
    ys = qs.params.get("year_start")
    if ys:
        start = date.fromisoformat(str(ys))
    elif kind == "month" and labels and re.fullmatch(r"\d{4}-\d{2}", labels[0]):
        start = date(int(labels[0][:4]), int(labels[0][5:]), 1)
    else:
        start = date(effective.year, 1, 1)
    cal = PlanCalendar(start, kind)  # type: ignore[arg-type]
    want = cal.labels()
    unknown = [p for p in labels if p not in want]
    if unknown:
        raise ParameterError(f"stored quota periods {unknown[:4]} do not match a {kind} "
                             f"calendar starting {start}; record year_start/periods with them")
    return cal, want


def transfer_stored_quotas(
    qs: QuotaSetInfo, old: Plan, new: Plan, scenario: Scenario, effective: date,
) -> tuple[tuple[QuotaChange, ...], dict[tuple[str, str], int]]:
    """Move stored quotas pro rata with moved potential from ``effective`` (integer cents).

    Uses :func:`terraplan.quota.moves_between` (share of each losing rep's potential moved to
    each gainer) and :func:`terraplan.quota.transfer_quota` (the period quota from the effective
    date on moves with it; nothing is created or lost). Reps new to the roster start at zero.
    """
    from terraplan.quota import (
        QuotaSchedule,
        RampMode,
        RepQuota,
        moves_between,
        transfer_quota,
    )

    cal, labels = _calendar(qs, effective)
    if not (cal.period_bounds(0)[0] <= effective < cal.period_bounds(cal.n_periods - 1)[1]):
        raise ParameterError(f"--effective {effective} is outside the quota year starting "
                             f"{cal.year_start}")
    book = scenario.accounts
    rep_ids = list(dict.fromkeys([*sorted({r for r, _ in qs.quotas}), *scenario.reps.ids]))
    rows = []
    for rid in rep_ids:
        per = tuple(int(qs.quotas.get((rid, p), 0)) for p in labels)
        rows.append(RepQuota(rid, sum(per), sum(per), 0, 0, per))
    sched = QuotaSchedule(cal, RampMode.RELIEF, tuple(Fraction(1, len(labels))
                                                      for _ in labels), tuple(rows))
    pot = dict(zip(book.ids.tolist(), book.potential.tolist(), strict=True))
    moves = moves_between(old.to_mapping(), new.to_mapping(), pot)
    moved = transfer_quota(sched, moves, effective)
    changes = tuple(QuotaChange(r0.rep_id, r0.ramped_quota, r1.ramped_quota)
                    for r0, r1 in zip(sched.rows, moved.rows, strict=True)
                    if r0.ramped_quota != r1.ramped_quota)
    new_q = {(r.rep_id, labels[k]): int(c) for r in moved.rows for k, c in enumerate(r.periods)
             if (r.rep_id, labels[k]) in qs.quotas or c}
    return changes, new_q


def release_locks(scenario: Scenario, departing: tuple[str, ...]) -> tuple[Scenario, int]:
    """The scenario with accounts locked to a departing rep unlocked, and how many were.

    A lock pins an account to a person; when that person leaves the lock has nothing to hold
    and would make the departure infeasible (the account could neither stay nor move).
    """
    book = scenario.accounts
    gone = {c for c, r in enumerate(book.locked_to.categories) if r in set(departing)}
    if not gone:
        return scenario, 0
    codes = np.asarray(book.locked_to.codes)
    hit = np.isin(codes, sorted(gone))
    if not hit.any():
        return scenario, 0
    new = Categorical.from_codes(np.where(hit, -1, codes), book.locked_to.categories)
    return (dataclasses.replace(scenario, accounts=dataclasses.replace(book, locked_to=new)),
            int(hit.sum()))


def rebalance_active(
    ws: Workspace, request: RebalanceRequest, *, actor: str, dry_run: bool = False,
    why: str = "",
) -> RebalanceOutcome:
    """Rebalance the cycle's active plan after roster events; write a child scenario.

    Returns the outcome whether or not it was written: ``outcome.scenario`` is the child
    scenario (``None`` on a dry run or a refusal); ``outcome.refused`` says why nothing was
    written (no plan found, a hard rule broken, too many moves).

    Raises
    ------
    UnsupportedRuleError
        The active scenario is a ``carve`` or ``geo_unit`` scenario: the rebalancer moves
        accounts between reps one by one and cannot keep territories whole (units split,
        contiguity, territory capacity); re-solve the scenario with the new roster instead.
    """
    src = active_scenario(ws, request.cycle)
    mode = ws.get_spec(src.id).mode
    if mode in TERRITORY_MODES:  # refused before any work: it could only fail after time_limit
        raise UnsupportedRuleError(
            "rebalance", f"mode: {mode.value}",
            f"'{src.name}' draws territories, which rebalancing (moving single accounts) "
            "cannot keep whole; re-solve the scenario with the new roster instead")
    scenario = ws.load_scenario(src.id)
    active = ws.get_plan(src.id)
    events = build_events(request, scenario)
    scenario, released = release_locks(scenario, request.depart)
    notes: list[str] = []
    if released:
        notes.append(f"{released:,} account lock(s) to departing rep(s) released: a lock to "
                     "someone who leaves cannot hold")
    result = rebalance(scenario, active, events, seed=request.seed,
                       time_limit=request.time_limit)
    # judge both plans under the scenario's own rules with the new roster; the book's current
    # owners are the active plan's (the rebalancer's view), so moves count against it
    judged = dataclasses.replace(result.scenario, spec=scenario.spec)
    roster = judged.reps
    old_plan = Plan.from_indices(judged.accounts, roster, active.aligned(judged.accounts, roster))
    before = evaluate(judged, old_plan)
    if result.plan is None:
        return RebalanceOutcome(src, request, events, result, before, None, (), None, None,
                                refused=f"no plan restores every rule ({result.status.value}"
                                        + (f": {result.message}" if result.message else "")
                                        + ")")
    after = evaluate(judged, result.plan)
    gains = _gains(before, after, judged.accounts.potential)
    other = len(result.moves) - sum(1 for mv in result.moves if mv.reason.name == "DEPARTURE")
    refused = ""
    if not after.feasible:
        refused = ("the rebalanced plan breaks hard rules: "
                   + "; ".join(str(v) for v in after.hard_violations[:3]))
    elif request.max_moves is not None and other > request.max_moves:
        refused = (f"{other:,} accounts outside the departed book(s) would move, more than "
                   f"--max-moves {request.max_moves:,}")
    changes: tuple[QuotaChange, ...] | None = None
    new_q: dict[tuple[str, str], int] | None = None
    qs = ws.get_quotas(src.id)
    if qs is not None:
        changes, new_q = transfer_stored_quotas(qs, old_plan, result.plan, judged, request.on)
    else:
        notes.append(f"'{src.name}' has no stored quotas; no quota transfer computed")
    outcome = RebalanceOutcome(src, request, events, result, before, after, gains, changes,
                               new_q, refused=refused, notes=tuple(notes))
    if dry_run or refused:
        return outcome
    name = request.name or f"{src.name}-rebalance-{request.on.isoformat()}"
    text = ", ".join(f"{e.rep_id} departs" if isinstance(e, Departure) else
                     f"{e.rep_id} joins" for e in events)
    info = ws.create_scenario(
        name, actor=actor, spec=scenario.spec.model_copy(update={"name": name}),
        book=judged.accounts, roster=roster, cycle=src.cycle, parent=src.id,
        description=f"rebalance of '{src.name}' effective {request.on}: {text}",
        plan=result.plan, why=why or f"rebalance: {text} (effective {request.on})")
    ws.record_metrics(info.id, "evaluation", after.to_dict(reps=True, max_violations=200),
                      actor=actor)
    ws.record_metrics(info.id, "rebalance", {
        k: v for k, v in outcome.to_dict().items() if k not in ("scenario",)}, actor=actor)
    if new_q is not None and qs is not None:
        ws.record_quotas(info.id, new_q, actor=actor, method=f"transfer:{qs.method}",
                         params={**dict(qs.params), "from_quota_set": qs.id,
                                 "effective": request.on.isoformat()},
                         why=f"quota moved pro rata from {request.on}")
    info = ws.get_scenario(info.id)
    return dataclasses.replace(outcome, scenario=info)


__all__ = ["Hire", "QuotaChange", "RebalanceOutcome", "RebalanceRequest", "RepGain",
           "active_scenario", "build_events", "rebalance_active", "transfer_stored_quotas"]

