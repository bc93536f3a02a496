"""Rebalancing an active plan after roster events, moving as little as possible.

Events: a rep departs (:class:`Departure`), a new hire or TBH placeholder joins
(:class:`NewHire`, optionally ``like`` an existing rep whose eligibility, home and capacity it
copies), a rep's capacity changes (:class:`CapacityChange`). :func:`rebalance` applies them to the
roster, takes the **active plan as the current ownership** and re-solves with the heuristic
backend warm-started from it, with a move price that dominates travel:

* accounts of a departed rep have no current owner that may keep them, so placing them costs no
  move (they are forced) — they go first and to their cheapest feasible rep; locks to the
  departed rep are released;
* every other account moved costs ``move_cost`` (default: 10 × the largest single-account
  travel cost, plus its potential in currency units × ``value_weight``), so the repair phase of
  the search moves the **fewest and lowest-value** other accounts that restore balance and
  capacity; with no rule broken, nobody else moves.

The result reports each move with its reason code (:class:`terraplan.domain.Reason`:
``DEPARTURE``, ``BALANCE``, ``CAPACITY``, ``ELIGIBILITY``, ...) from the evaluator's explainer,
and the worst relative deviation from target per balanced metric before and after.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from terraplan.domain import (
    Categorical,
    Plan,
    Point,
    Provenance,
    Reason,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
)
from terraplan.errors import ParameterError
from terraplan.problem import ProblemData, compile
from terraplan.solvers.base import SolveOptions, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Departure:
    """Rep ``rep_id`` leaves (on ``on``, recorded as its end date)."""

    rep_id: str
    on: date | None = None


@dataclass(frozen=True, slots=True)
class NewHire:
    """A new rep or TBH placeholder. ``like`` copies eligibility, home, capacity and target share
    of an existing rep; explicit fields override."""

    rep_id: str
    like: str | None = None
    name: str = ""
    home: Point | None = None
    capacity: float | None = None
    segments: frozenset[str] | None = None
    verticals: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    target_share: float | None = None
    tbh: bool = False
    start: date | None = None


@dataclass(frozen=True, slots=True)
class CapacityChange:
    rep_id: str
    capacity: float | None


Event = Departure | NewHire | CapacityChange


@dataclass(frozen=True, slots=True)
class Move:
    """One account that changes owner and why."""

    account_id: str
    from_rep: str | None
    to_rep: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class RebalanceResult:
    """What :func:`rebalance` returns.

    ``plan`` is ``None`` when no plan restoring every rule was found (``status`` says why).
    ``before`` / ``after`` map each balanced metric to the worst relative deviation from target
    over active reps (0.03 = 3 %); ``before`` is the active plan under the new roster, with the
    departed reps' accounts counted on nobody.
    """

    status: Status
    plan: Plan | None
    scenario: Scenario
    moves: tuple[Move, ...]
    before: Mapping[str, float]
    after: Mapping[str, float]
    runtime: float
    message: str = ""
    stats: Mapping[str, float] = field(default_factory=dict)

    @property
    def moved_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for mv in self.moves:
            out[mv.reason.name] = out.get(mv.reason.name, 0) + 1
        return out


def apply_events(roster: RepRoster, events: Sequence[Event]) -> RepRoster:
    """The roster after ``events`` (validated: unknown reps and duplicate hires are errors)."""
    for ev in events:
        if isinstance(ev, Departure):
            if ev.rep_id not in roster:
                raise ParameterError(f"Departure names rep {ev.rep_id!r}, not in the roster.")
            rep = roster.get(ev.rep_id)
            roster = roster.replace(dataclasses.replace(rep, status=RepStatus.DEPARTING,
                                                        end_date=ev.on or rep.end_date))
        elif isinstance(ev, NewHire):
            if ev.rep_id in roster:
                raise ParameterError(f"NewHire rep {ev.rep_id!r} is already in the roster.")
            base = Rep(id=ev.rep_id)
            if ev.like is not None:
                if ev.like not in roster:
                    raise ParameterError(f"NewHire like={ev.like!r} is not in the roster.")
                base = dataclasses.replace(roster.get(ev.like), id=ev.rep_id, name=ev.name,
                                           status=RepStatus.ACTIVE, end_date=None)
            rep = dataclasses.replace(
                base, name=ev.name or base.name,
                home=ev.home if ev.home is not None else base.home,
                capacity=ev.capacity if ev.capacity is not None else base.capacity,
                segments=ev.segments if ev.segments is not None else base.segments,
                verticals=ev.verticals if ev.verticals is not None else base.verticals,
                regions=ev.regions if ev.regions is not None else base.regions,
                target_share=ev.target_share if ev.target_share is not None
                else base.target_share,
                status=RepStatus.PLANNED_HIRE if ev.tbh else RepStatus.ACTIVE,
                start_date=ev.start or base.start_date)
            roster = roster.replace(rep)
        elif isinstance(ev, CapacityChange):
            if ev.rep_id not in roster:
                raise ParameterError(f"CapacityChange names rep {ev.rep_id!r}, not in the roster.")
            roster = roster.replace(dataclasses.replace(roster.get(ev.rep_id),
                                                        capacity=ev.capacity))
        else:
            raise ParameterError(f"Unknown rebalance event {ev!r}.")
    return roster


def _worst_deviation(problem: ProblemData, item_rep: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for b, metric in enumerate(problem.balance_metric):
        tot = problem.rep_totals(item_rep, int(problem.balance_q[b]))
        t = problem.target[b]
        ok = problem.rep_active & (t > 0)
        out[metric] = float(np.max(np.abs(tot[ok] - t[ok]) / t[ok])) if ok.any() else 0.0
    return out


def rebalance(
    scenario: Scenario,
    active: Plan,
    events: Sequence[Event],
    *,
    seed: int = 0,
    time_limit: float = 30.0,
    move_cost: float | None = None,
    value_weight: float = 1e-6,
    options: SolveOptions | None = None,
) -> RebalanceResult:
    """Apply ``events`` and restore every rule moving as few, low-value accounts as possible.

    Parameters
    ----------
    scenario : Scenario
        The scenario the active plan was made for (its spec's rules apply).
    active : Plan
        The plan in force; it becomes the current ownership.
    events : sequence of Departure, NewHire, CapacityChange
    seed, time_limit : search seed and seconds
    move_cost : float, optional
        Objective price of moving one non-forced account (default: 10 × the largest pair travel
        cost, so any move must be needed by a rule).
    value_weight : float
        Extra price per currency unit of potential moved, so lower-value accounts move first.
    """
    from terraplan.evaluate.explain import explain_moves
    from terraplan.solvers.heuristic import solve_heuristic

    t0 = time.perf_counter()
    roster = apply_events(scenario.reps, events)
    book = scenario.accounts
    owner = active.aligned(book, scenario.reps)  # indices into the old roster
    old_ids = scenario.reps.ids
    cur = Categorical.from_values(old_ids[j] if j >= 0 else None for j in owner.tolist())
    # locks to a departing rep cannot hold any more: they are released (the accounts then move
    # with the rest of the departed book, reason DEPARTURE)
    gone = {ev.rep_id for ev in events if isinstance(ev, Departure)}
    lk = book.locked_to
    if gone and np.any(lk.codes >= 0):
        lut = np.asarray([c in gone for c in lk.categories] + [False], dtype=bool)
        codes = np.where(lut[lk.codes], -1, lk.codes).astype(np.int32)
        lk = Categorical.from_codes(codes, lk.categories)
    book2 = dataclasses.replace(book, current_owner=cur, locked_to=lk)
    rules = scenario.spec.rules
    # price moves: count × move_cost (+ potential × value_weight), compiled once with a unit
    # price and then re-priced on the pair arrays (compiling a big book twice costs seconds)
    spec = scenario.spec.model_copy(update={
        "rules": rules.model_copy(update={"continuity": rules.continuity.model_copy(
            update={"move_cost": 1.0, "move_weight": "count"})}),
        "objective": scenario.spec.objective.model_copy(update={"disruption": 1.0}),
    })
    problem = compile(dataclasses.replace(scenario, accounts=book2, reps=roster, spec=spec))
    w_t = problem.w_travel
    if move_cost is None:
        move_cost = 10.0 * float(np.max(problem.pair_travel, initial=0.0)) * max(w_t, 1e-9) + 1.0
    spec = spec.model_copy(update={
        "objective": spec.objective.model_copy(update={"disruption": move_cost})})
    sc2 = dataclasses.replace(problem.scenario, spec=spec)
    cost = w_t * problem.pair_travel + move_cost * problem.pair_move_units
    if value_weight > 0:
        # lowest-value first: potential moved (currency units) × value_weight × move_cost
        cost = cost + value_weight * move_cost * problem.pair_moved_potential / 100.0
    problem = dataclasses.replace(problem, scenario=sc2, pair_cost=_ro(cost),
                                  w_disruption=float(move_cost))
    start_owner = problem.account_owner.copy()
    before_items = problem.item_assignment(start_owner)
    ok_before = problem.pair_index(before_items) >= 0
    before = _worst_deviation(problem, np.where(ok_before, before_items, -1))
    opts = options or SolveOptions(time_limit=time_limit,
                                   extra={"bound": False, "kick_patience": 3})
    res = solve_heuristic(problem, seed=seed, options=opts, initial=start_owner)
    runtime = time.perf_counter() - t0
    if res.assignment is None:
        return RebalanceResult(res.status, None, sc2, (), before, {}, runtime,
                               message=res.message)
    new_owner = res.assignment
    plan = Plan.from_indices(book2, roster, new_owner,
                             provenance=Provenance(scenario=sc2.name, solver="rebalance",
                                                   seed=seed, note="rebalance"))
    before_plan = Plan.from_indices(book2, roster, start_owner)
    reasons = explain_moves(sc2, before_plan, plan)
    changed = np.flatnonzero(new_owner != start_owner)
    departed = ~problem.rep_active
    moves = []
    ids = book.ids
    rids = roster.ids
    for i in changed.tolist():
        fr = int(start_owner[i])
        rs = Reason(int(reasons[i]))
        if fr >= 0 and departed[fr]:
            rs = Reason.DEPARTURE
        moves.append(Move(str(ids[i]), rids[fr] if fr >= 0 else None, rids[int(new_owner[i])],
                          rs))
    after = _worst_deviation(problem, problem.item_assignment(new_owner))
    forced = sum(mv.reason is Reason.DEPARTURE for mv in moves)
    plan = dataclasses.replace(plan, reasons=np.asarray(reasons, dtype=np.int8))
    return RebalanceResult(res.status, plan, sc2, tuple(moves), before, after, runtime,
                           message=res.message,
                           stats={"forced": float(forced), "other": float(len(moves) - forced),
                                  "objective": float(res.objective or 0.0)})


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


__all__ = ["CapacityChange", "Departure", "Event", "Move", "NewHire", "RebalanceResult",
           "apply_events", "rebalance"]
