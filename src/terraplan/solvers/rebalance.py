"""Rebalancing an active plan after roster events, moving as little as possible.

Events: a rep departs (:class:`Departure`), a new hire or TBH placeholder joins
(:class:`NewHire`, optionally ``like`` an existing rep whose eligibility, home and capacity it
copies), a rep's capacity changes (:class:`CapacityChange`). :func:`rebalance` applies them to the
roster, takes the **active plan as the current ownership** and restores every rule, moving as
little as possible:

* **scope**: only the eligibility pools the events touch (the departed rep's, the capacity-changed
  rep's, the ``like`` rep's) and pools the active plan already breaks are re-solved; every other
  account stays where it is. The start problem (``compile(scenario)``, passed in as ``problem``
  or compiled here) tells the pools; the scope (its accounts and reps, the departed rep included)
  is compiled on its own under the new roster, which gives the same candidates, targets and
  bands as compiling the whole book (a pool's targets depend only on its own accounts and reps);
* **targeted repair** (:func:`repair`): a MIP (HiGHS) per affected pool over restricted pairs —
  the departed book may go to any eligible rep, every other item stays or moves to one of its
  nearest reps (only each rep's lowest-potential items are offered), every hard rule as rows.
  Accounts of a departed rep have no current owner that may keep them, so placing them costs no
  move (they are forced); every other account moved costs ``move_cost`` (default: 10 × the
  largest single-account travel cost, plus its potential in currency units × ``value_weight``),
  so the **fewest and lowest-value** other accounts move; with no rule broken, nobody else
  moves. When the small MIPs (forced items only, then the LP's neighbourhood) find no plan —
  as on a lumpy pool, whose bands the departure's target shift breaks on many reps — the
  heuristic's **local search on that pool alone**, from the active plan, fixes the bands move
  by move (:func:`_search_stage`; at 100k from the heuristic's plan: 32 other accounts moved
  in 3.8 s, where the whole model's first incumbents moved 1,976 of the pool's 2,685), and the
  whole model then runs hinted with its plan. A MIP incumbent not proved optimal goes through
  an **undo** step (:func:`_undo_moves`, CP-SAT: per item, only its current rep or the rep the
  repair gave it). Locks to the departed rep are released. If no stage finds a plan (or the
  scope is the whole book and too big), the heuristic backend, warm-started from the active
  plan, runs on the scope instead.

The result reports each move with its reason code (:class:`terraplan.domain.Reason`:
``DEPARTURE``, ``BALANCE``, ``CAPACITY``, ``ELIGIBILITY``, ...) from the evaluator's explainer,
and the worst relative deviation from target per balanced metric before and after.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from terraplan.domain import (
    AccountBook,
    Categorical,
    Mode,
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
from terraplan.problem import ProblemData, compile, hard_violations, objective
from terraplan.solvers.base import SolveOptions, SolveResult, Status
from terraplan.solvers.decompose import restrict_pairs  # marks the problem restricted
from terraplan.solvers.heuristic.polish import rank_within

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


def _worst_deviation(problem: ProblemData, item_rep: np.ndarray,
                     reps: np.ndarray | None = None) -> dict[str, float]:
    """Worst relative deviation from target per balanced metric over active reps (``reps``:
    optional mask restricting the reps looked at)."""
    out: dict[str, float] = {}
    for b, metric in enumerate(problem.balance_metric):
        tot = problem.rep_totals(item_rep, int(problem.balance_q[b]))
        t = problem.target[b]
        ok = problem.rep_active & (t > 0)
        if reps is not None:
            ok &= reps
        out[metric] = float(np.max(np.abs(tot[ok] - t[ok]) / t[ok])) if ok.any() else 0.0
    return out


def _violated_pools(problem: ProblemData, owner: np.ndarray) -> set[int]:
    """Pools in which the account-level ``owner`` breaks a hard rule of ``problem``: an item on
    a rep that is not one of its candidates, a rep over capacity or outside a hard band."""
    a = problem.item_assignment(owner)
    bad = (problem.pair_index(a) < 0) & (problem.item_pool >= 0)
    pools = set(np.unique(problem.item_pool[bad]).tolist())
    rep_bad = problem.rep_totals(a, 0) > problem.rep_capacity + 1e-9
    for b in np.flatnonzero(problem.balance_hard).tolist():
        tot = problem.rep_totals(a, int(problem.balance_q[b]))
        eps = 1e-9 * np.maximum(1.0, np.abs(problem.target[b]))
        rep_bad |= (tot < problem.lower[b] - eps) | (tot > problem.upper[b] + eps)
    pools |= set(np.unique(problem.rep_pool[rep_bad & (problem.rep_pool >= 0)]).tolist())
    return {int(q) for q in pools}


@dataclass(frozen=True, slots=True)
class _Scope:
    """The part of the book a rebalance may touch: account rows, new-roster rep indices and the
    start problem's pools they make up."""

    rows: np.ndarray
    reps: np.ndarray
    pools: tuple[int, ...]


#: Above this share of items in the affected pools, the whole book is re-solved (a sub-problem
#: would save little and its bookkeeping is not free).
_LOCAL_MAX_SHARE = 0.6


def _scope(base: ProblemData, scenario: Scenario, n_roster: int, owner: np.ndarray,
           events: Sequence[Event], max_share: float = _LOCAL_MAX_SHARE) -> _Scope | None:
    """Pools of the start problem the events touch, plus those the active plan already breaks.

    ``None`` means "the whole book": an event whose effect on pools cannot be read off the start
    problem (a hire without ``like`` or with its own eligibility, a rep that is in no pool of
    the start problem — e.g. ``like`` a rep already departing), geo-unit or table-distance
    scenarios, a touched rep owning accounts outside the affected pools (accounts no active rep
    may hold: the repair must see them), or affected pools holding most of the book.

    A rep hired in the same batch stands for the start-roster rep its ``like`` chain ends at
    (it copies that rep's eligibility, so it joins that rep's pool).
    """
    spec = scenario.spec
    if (scenario.units is not None or scenario.distances is not None or spec.rules.contiguity
            or spec.mode is not Mode.ASSIGN):
        return None
    old = scenario.reps
    hired: dict[str, int] = {}  # same-batch hire -> start-roster index its like chain ends at

    def resolve(rep_id: str) -> int | None:
        if rep_id in hired:
            return hired[rep_id]
        return old.index_of(rep_id) if rep_id in old else None

    touched: list[int] = []
    for ev in events:
        if isinstance(ev, NewHire):
            if ev.like is None or any(f is not None for f in (ev.segments, ev.verticals,
                                                                 ev.regions)):
                return None
            j = resolve(ev.like)
            if j is not None:
                hired[ev.rep_id] = j
        else:
            j = resolve(ev.rep_id)
        if j is None:
            return None
        touched.append(j)
    if np.any(base.rep_pool[touched] < 0):
        return None
    pools = {int(q) for q in base.rep_pool[touched].tolist()}
    pools |= _violated_pools(base, owner)
    sel = np.isin(base.item_pool, sorted(pools))
    if sel.sum() > max_share * base.n_items:
        return None
    in_rows = sel[base.item_of]
    rows = np.flatnonzero(in_rows).astype(np.int64)
    if np.any(np.isin(owner[~in_rows], touched)):
        return None
    rep_in = np.isin(base.rep_pool, sorted(pools))
    rep_in[touched] = True
    own = owner[rows]
    rep_in[own[own >= 0]] = True  # current owners keep their index, so moves are counted
    reps = np.concatenate([np.flatnonzero(rep_in), np.arange(base.n_reps, n_roster)])
    return _Scope(rows, reps.astype(np.int64), tuple(sorted(pools)))


def _repair_pairs(problem: ProblemData, start: np.ndarray, per_rep: int, per_item: int
                  ) -> np.ndarray:
    """Pairs of the repair model: every candidate of a forced item (one not on a candidate of
    its own: the departed book), each other item's current pair, and for ``per_rep`` movable
    items of every rep, spread evenly over its book sorted by potential (lowest first), their
    ``per_item`` nearest other reps."""
    cur = problem.pair_index(start)
    forced = cur < 0
    keep = forced[problem.pair_item].copy()
    keep[cur[~forced]] = True
    book = problem.scenario.accounts
    pot = np.add.reduceat(book.potential[problem.item_members].astype(np.float64),
                          problem.item_indptr[:-1])
    it = np.flatnonzero(~forced & (np.diff(problem.indptr) > 1))
    order, rank = rank_within(start[it], (pot[it], it))
    # every step-th item of each rep's book by potential: small and large levers both (the
    # move price, which grows with potential, still prefers the low-value ones)
    book_size = np.bincount(start[it], minlength=problem.n_reps)
    step = np.maximum(book_size // max(per_rep, 1), 1)[start[it][order]]
    chosen = np.zeros(problem.n_items, dtype=bool)
    chosen[it[order[(rank % step == 0) & (rank // step < per_rep)]]] = True
    pp = np.flatnonzero(chosen[problem.pair_item] & ~keep)
    order, rank = rank_within(problem.pair_item[pp], (problem.pair_travel[pp], pp))
    keep[pp[order[rank < per_item]]] = True
    return keep


def _priced(problem: ProblemData, move_cost: float | None, value_weight: float
            ) -> tuple[ProblemData, float]:
    """Re-price a problem compiled with a unit move price: move cost × count, plus potential
    moved × ``value_weight`` × move cost (default move cost: 10 × the largest pair travel)."""
    w_t = problem.w_travel
    if move_cost is None:
        move_cost = 10.0 * float(np.max(problem.pair_travel, initial=0.0)) * max(w_t, 1e-9) + 1.0
    spec = problem.scenario.spec
    spec = spec.model_copy(update={
        "objective": spec.objective.model_copy(update={"disruption": move_cost})})
    cost = w_t * problem.pair_travel + move_cost * problem.pair_move_units
    if value_weight > 0:
        # lowest-value first: potential moved (currency units) × value_weight × move_cost
        cost = cost + value_weight * move_cost * problem.pair_moved_potential / 100.0
    return dataclasses.replace(problem, scenario=dataclasses.replace(problem.scenario, spec=spec),
                               pair_cost=_ro(cost), w_disruption=float(move_cost)), move_cost


def _repair_mip(problem: ProblemData, keep: np.ndarray, start: np.ndarray, *, seed: int,
                time_limit: float) -> tuple[np.ndarray | None, str]:
    """Item assignment of the repair MIP over the pairs ``keep`` (HiGHS), or ``None``.

    The model is :func:`terraplan.solvers.bounds._build_lp` (assignment rows, hard bands,
    capacity, budgets, soft deviations; objective ``pair_cost``) with integral pair columns,
    hinted with ``start`` (the items already placed).
    """
    from terraplan.solvers.heuristic.polish import pool_mip

    pairs = np.flatnonzero(keep).astype(np.int64)
    items = np.unique(problem.pair_item[pairs]).astype(np.int64)
    reps = np.unique(problem.indices[pairs]).astype(np.int64)
    # a node budget, not only the clock, ends the search: the same plan on a busy machine
    chosen, status = pool_mip(problem, pairs, items, reps, np.asarray(start, dtype=np.int64),
                              max(float(time_limit), 0.1), seed=seed, gap=1e-3,
                              with_budgets=True, max_nodes=_REPAIR_MAX_NODES,
                              heuristic_effort=_REPAIR_HEURISTIC_EFFORT)
    if chosen is None:
        return None, status
    out = np.asarray(start, dtype=np.int32).copy()
    out[problem.pair_item[chosen]] = problem.indices[chosen]
    return out, status


def _undo_moves(problem: ProblemData, sel: np.ndarray, start: np.ndarray, plan: np.ndarray, *,
                seed: int, time_limit: float) -> tuple[np.ndarray, str]:
    """Keep only the moves of ``plan`` that a rule needs: CP-SAT over, per item with a pair in
    ``sel``, its ``start`` pair and its ``plan`` pair (a forced item: every pair of it in
    ``sel``; items outside ``sel`` keep their ``plan`` pair), hinted with ``plan``.

    A time-limited repair MIP can stop on an incumbent that moves many accounts for nothing;
    choosing which of its moves to take back is a smaller model, and ``plan`` itself is one of
    its solutions, so the result is never worse. It is a safety net, not a cure: on the
    1,789-move incumbent of a 100k lumpy pool neither HiGHS (1.3 s: 14 kept in one run, all
    1,789 in another) nor CP-SAT (1.3 s, two interleaved workers: 1,788 kept) undid it
    reliably, which is why the local search comes before the whole model; on the LP-rounded
    start's 32-move incumbent it took back 2."""
    from terraplan.solvers.heuristic.polish import cpsat_over_columns

    cur = problem.pair_index(start)
    fin = problem.pair_index(plan)
    in_sel = np.zeros(problem.n_items, dtype=bool)
    in_sel[problem.pair_item[sel]] = True
    forced = cur < 0
    cols = np.zeros(problem.n_pairs, dtype=bool)
    cols[cur[(cur >= 0) & in_sel]] = True
    cols[fin[fin >= 0]] = True
    cols |= sel & forced[problem.pair_item]
    # like the CP-SAT model: only items with a pair in ``sel`` may go back to their current pair
    hint = _greedy_undo(problem, np.where(in_sel, cur, -1), fin,
                        np.asarray(plan, dtype=np.int64))
    out, status = cpsat_over_columns(problem, cols, hint, time_limit, seed=seed, threads=2,
                                     deterministic=True)
    # the cheapest of the plan, the greedy result and CP-SAT's (the plan on ties)
    best, best_obj = plan, objective(problem, plan)
    for a in (hint, out):
        if a is not None and a is not plan and (obj := objective(problem, a)) < best_obj:
            best, best_obj = a, obj
    return best.astype(plan.dtype), status


def _greedy_undo(problem: ProblemData, cur: np.ndarray, fin: np.ndarray, plan: np.ndarray
                 ) -> np.ndarray:
    """``plan`` (its pairs ``fin``) with its moves taken back one at a time, items in index
    order, pass after pass until a pass takes back nothing (a take-back that would break a
    band may fit once later ones are made), wherever the item's current pair ``cur`` (−1:
    none) keeps every hard rule and lowers the cost — by the search state's incremental
    deltas, so thousands of moves take milliseconds. The undo's CP-SAT starts from this:
    alone, its interleaved workers sometimes gave back 1 of 6,500 needless moves in 30 s
    (``test_undo_moves_takes_back_every_move_no_rule_needs``, 1 run in 3). ``plan`` itself
    when an item is off its candidates, ``plan`` breaks a rule, or the result fails the float
    re-check."""
    from terraplan.solvers.heuristic.state import V_EPS, SearchState

    if np.any(fin < 0):  # an item off its candidates (or unplaced): no state to search from
        return plan
    state = SearchState(problem, plan)
    if state.violation > V_EPS:
        return plan
    todo = np.flatnonzero((cur >= 0) & (fin != cur))
    while len(todo):
        taken = np.zeros(len(todo), dtype=bool)
        for i, t in enumerate(todo.tolist()):
            dv, dc = state.delta_move(t, int(cur[t]))
            if dv <= 0.0 and dc < 0.0:
                state.apply_move(t, int(cur[t]))
                taken[i] = True
        if not taken.any():
            break
        todo = todo[~taken]
    out = state.a.copy()
    return plan if hard_violations(problem, out) else out


def _search_stage(problem: ProblemData, grp: Sequence[int], whole: bool, start: np.ndarray, *,
                  seed: int, time_limit: float) -> np.ndarray | None:
    """The heuristic's local search (no LP, few kicks) warm-started from the item assignment
    ``start`` on the pools ``grp`` alone (the whole problem when ``whole``: pools coupled by a
    budget); ``start`` with those pools' items re-assigned, or ``None`` without a plan."""
    from terraplan.solvers.decompose import pool_view
    from terraplan.solvers.heuristic import solve_heuristic

    opts = SolveOptions(time_limit=time_limit, extra={"bound": False, "kick_patience": 3})
    if whole or len(grp) != 1:
        res = solve_heuristic(problem, seed=seed, options=opts,
                              initial=problem.account_assignment(start))
        if res.assignment is None or not res.status.has_plan:
            return None
        return problem.item_assignment(res.assignment)
    sub, view = pool_view(problem, grp[0])
    rows = sub.items
    hint = np.where(start[rows] >= 0, start[rows], -1)[view.item_of].astype(np.int32)
    res = solve_heuristic(view, seed=seed, options=opts, initial=hint)
    if res.assignment is None or not res.status.has_plan:
        return None
    out = np.asarray(start).copy()
    out[rows] = view.item_assignment(res.assignment)
    return out


def _lp_neighbourhood(problem: ProblemData, keep: np.ndarray, start: np.ndarray,
                      time_limit: float) -> np.ndarray | None:
    """Pairs of a smaller repair model guided by the LP relaxation of ``keep``: every item's
    current pair, and all the pairs in ``keep`` of the items the LP does not keep whole on
    their current rep (forced, fractional or moved ones) and of the items of every rep the LP
    moves something to or from. ``None`` if the LP fails."""
    from terraplan.solvers.bounds import _build_lp

    pairs = np.flatnonzero(keep).astype(np.int64)
    h, _, _ = _build_lp(problem, pairs, np.unique(problem.pair_item[pairs]).astype(np.int64),
                        np.unique(problem.indices[pairs]).astype(np.int64), with_budgets=True)
    h.setOptionValue("time_limit", max(float(time_limit), 0.1))
    h.run()
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)[:len(pairs)]
    stays = np.zeros(problem.n_items, dtype=bool)
    on_cur = start[problem.pair_item[pairs]] == problem.indices[pairs]
    stays[problem.pair_item[pairs[on_cur & (x > 0.999)]]] = True
    # reps the LP moves something to or from: their offered items stay free too
    moving = pairs[~on_cur & (x > _NEIGHBOUR_X)]
    reps = np.zeros(problem.n_reps, dtype=bool)
    reps[problem.indices[moving]] = True
    src = start[problem.pair_item[moving]]
    reps[src[src >= 0]] = True
    stays &= ~reps[np.maximum(start, 0)] | (start < 0)
    out = keep & ~stays[problem.pair_item]
    cur = problem.pair_index(start)
    out[cur[cur >= 0]] = True
    return out


def repair(problem: ProblemData, start: np.ndarray, *, seed: int = 0, time_limit: float = 10.0,
           options: SolveOptions | None = None) -> tuple[SolveResult, str]:
    """Restore every hard rule of ``problem`` from the account-level ``start``, moving little.

    Items whose start rep is not one of their candidates (-1, a departed rep, an ineligible
    rep) must move. Each eligibility pool that has such items or breaks a band or a capacity is
    repaired by a MIP (HiGHS) over the restricted pairs of :func:`_repair_pairs`: the forced
    items may go to any candidate, every other item stays or moves to one of its nearest reps,
    priced by ``pair_cost`` (a rebalance prices moves so that the fewest, lowest-value accounts
    move), every hard rule as rows — first the forced items alone, then the LP's
    neighbourhood, then (no plan yet) the local search on the pool from ``start``
    (:func:`_search_stage`), then the whole model hinted with the best plan so far; a MIP plan
    not proved optimal then goes through :func:`_undo_moves`. Pools are independent
    unless a global move budget couples them (then one MIP). If a MIP finds no plan, the
    heuristic runs on the whole problem from the best assignment so far. ``time_limit``
    holds for the whole call: no stage starts once it has passed (the pool is then reported
    as out of time) and the heuristic gets only what is left of it (``options.time_limit``
    capped likewise). Returns the result (account-level
    assignment) and ``"repair"`` or ``"heuristic"``.
    """
    from terraplan.solvers.heuristic import solve_heuristic

    t0 = time.perf_counter()
    deadline = t0 + time_limit
    items = problem.item_assignment(start)
    keep = _repair_pairs(problem, items, _REPAIR_PER_REP, _REPAIR_PER_ITEM)
    tight = _repair_pairs(problem, items, 0, 0)
    pools = sorted(_violated_pools(problem, problem.account_assignment(items)))
    coupled = problem.max_moved_accounts >= 0 or problem.max_moved_potential >= 0
    groups = [pools] if coupled else [[q] for q in pools]
    pair_pool = problem.item_pool[problem.pair_item]
    failed: list[str] = []
    sels = [keep & np.isin(pair_pool, grp) for grp in groups]
    sizes = [int(sel.sum()) for sel in sels]
    wide: np.ndarray | None = None

    def stage_time(k: int, part: float, least: float) -> float | None:
        """Seconds for a stage of group ``k``: ``part`` of its share of the time left (shared
        by model size among the groups still to repair), at least ``least`` but never past the
        deadline; ``None`` once the deadline has passed (the stage is skipped)."""
        left = deadline - time.perf_counter()
        if left <= _REPAIR_MIN_STAGE:
            return None
        share = left * sizes[k] / max(sum(sizes[k:]), 1)
        return min(max(share * part, least), left)

    for k, (grp, sel) in enumerate(zip(groups, sels, strict=True)):
        if sizes[k] > _REPAIR_MAX_PAIRS:
            failed.append(f"pool(s) {grp}: model too large ({sizes[k]:,} pairs)")
            continue
        a: np.ndarray | None = None
        status = "time limit reached"
        # first only the forced items move (no other move at all: optimal when feasible, and
        # a small model); then the full repair model
        if (t := stage_time(k, 1 / 3, 0.3)) is not None:
            a, status = _repair_mip(problem, tight & np.isin(pair_pool, grp), items, seed=seed,
                                    time_limit=t)
        if a is None and (t := stage_time(k, 1 / 2, 0.3)) is not None:
            # then the items the LP relaxation moves (a small MIP that finds few-move plans
            # fast), then the whole repair model
            log.info("repair pool(s) %s: forced items only: %s", grp, status)
            near = _lp_neighbourhood(problem, sel, items, time_limit=t)
            if near is not None and (t := stage_time(k, _NEIGHBOUR_SHARE, 0.3)) is not None:
                a, status = _repair_mip(problem, near, items, seed=seed, time_limit=t)
                log.info("repair pool(s) %s: LP neighbourhood (%d pairs): %s", grp,
                         int(near.sum()), status)
        if a is None and (t := stage_time(k, _SEARCH_SHARE, 0.3)) is not None:
            # the local search from the start plan: it fixes the bands move by move, each
            # move chosen for the violation it removes, and takes back any move it can; on a
            # lumpy pool this finds few-move plans where the whole model's first incumbents
            # move most of the pool
            a = _search_stage(problem, grp, coupled, items, seed=seed, time_limit=t)
            status = "search" if a is not None else status
            log.info("repair pool(s) %s: local search: %s", grp,
                     "no plan" if a is None else
                     f"{int(np.sum((a != items) & (problem.pair_index(items) >= 0)))} moves")
        t = stage_time(k, _FULL_SHARE, 0.5)
        if t is not None and (a is None or (status != "Optimal" and t >= 1.0)):
            # the whole repair model, hinted with the best plan so far, which stays as the
            # fallback
            b, st_b = _repair_mip(problem, sel, items if a is None else a, seed=seed,
                                  time_limit=t)
            if b is not None and (a is None or objective(problem, b) < objective(problem, a)):
                a, status = b, st_b
        if a is None and stage_time(k, 1.0, 0.5) is not None:
            # too few items may move: once more with 5 × the items per rep, 4 × the reps each
            if wide is None:
                wide = _repair_pairs(problem, items, 5 * _REPAIR_PER_REP, 4 * _REPAIR_PER_ITEM)
            sel = wide & np.isin(pair_pool, grp)
            if int(sel.sum()) <= _REPAIR_MAX_PAIRS and (t := stage_time(k, 1.0, 0.5)):
                a, status = _repair_mip(problem, sel, items, seed=seed, time_limit=t)
        if a is None:
            failed.append(f"pool(s) {grp}: {status}")
            continue
        moved = int(np.sum((a != items) & (problem.pair_index(items) >= 0)))
        if moved and status not in ("Optimal", "search") and (t := stage_time(k, 1.0, 0.3)):
            a, st_u = _undo_moves(problem, sel, items, a, seed=seed, time_limit=t)
            log.info("repair pool(s) %s: %d moves before the undo, %d after (%s)", grp,
                     moved, int(np.sum((a != items) & (problem.pair_index(items) >= 0))), st_u)
        items = a
    if not failed:
        if not hard_violations(problem, items):
            return SolveResult(status=Status.FEASIBLE, backend="rebalance", seed=seed,
                               objective=objective(problem, items), bound=None,
                               runtime=time.perf_counter() - t0,
                               assignment=problem.account_assignment(items),
                               message=f"repair MIP over {len(pools)} pool(s)"), "repair"
        failed.append("repaired plan breaks a rule")
    why = "repair MIP: " + "; ".join(failed)
    log.info("rebalance: %s; heuristic on the affected scope", why)
    # the heuristic gets what is left of the budget (a caller's options included), never more
    left = max(deadline - time.perf_counter(), _REPAIR_MIN_STAGE)
    opts = (SolveOptions(time_limit=left, extra={"bound": False, "kick_patience": 3})
            if options is None else
            dataclasses.replace(options, time_limit=min(options.time_limit, left)))
    res = solve_heuristic(problem, seed=seed, options=opts,
                          initial=problem.account_assignment(items))
    return dataclasses.replace(res, message=f"{why}; heuristic: {res.message}"), "heuristic"


def lp_rounded_plan(problem: ProblemData, *, seed: int = 0, time_limit: float = 120.0,
                    near_reps: int = 10, near_items: int = 400) -> tuple[SolveResult, str]:
    """A plan meeting every hard rule built from the LP relaxation, for books the heuristic
    cannot yet balance (a start plan for rebalancing benchmarks and tests).

    One HiGHS LP per pool (the model of :mod:`terraplan.solvers.bounds`) over the pairs among
    each item's ``near_reps`` nearest reps or each rep's ``near_items`` nearest items (by
    travel); items the LP assigns integrally keep that rep, the fractional ones are placed by
    :func:`repair`, which also restores any band the rounding broke. ``time_limit`` bounds the
    LPs and, separately, the repair. Returns the result and a one-line account.
    """
    from terraplan.solvers.bounds import _build_lp

    t0 = time.perf_counter()
    o1, r1 = rank_within(problem.pair_item, (problem.pair_travel,))
    o2, r2 = rank_within(problem.indices, (problem.pair_travel,))
    pool_of = problem.item_pool[problem.pair_item]
    best = np.full(problem.n_items, -1, dtype=np.int32)
    for q in range(problem.n_pools):
        # too few pairs can make a pool's LP infeasible (Hall's condition near crowded reps):
        # widen to 3 × then to every pair of the pool
        for widen in (1, 3, 0):
            in_pool = pool_of == q
            if widen:
                keep = np.zeros(problem.n_pairs, dtype=bool)
                keep[o1[r1 < widen * near_reps]] = True
                keep[o2[r2 < widen * near_items]] = True
                in_pool &= keep
            pairs = np.flatnonzero(in_pool).astype(np.int64)
            if not len(pairs):
                break
            h, _, _ = _build_lp(problem, pairs,
                                np.unique(problem.pair_item[pairs]).astype(np.int64),
                                np.unique(problem.indices[pairs]).astype(np.int64), False)
            h.setOptionValue("time_limit", max(t0 + time_limit - time.perf_counter(), 1.0))
            h.run()
            status = h.modelStatusToString(h.getModelStatus())
            if status == "Optimal":
                x = np.asarray(h.getSolution().col_value, dtype=np.float64)[:len(pairs)]
                whole = pairs[x > 0.999]
                best[problem.pair_item[whole]] = problem.indices[whole]
                break
            if status != "Infeasible" or not widen:
                msg = f"LP of pool {q} ({len(pairs):,} pairs): {status}"
                st = Status.INFEASIBLE if status == "Infeasible" else Status.NO_SOLUTION_IN_TIME
                return SolveResult(status=st, backend="rebalance", seed=seed, objective=None,
                                   bound=None, runtime=time.perf_counter() - t0,
                                   assignment=None, message=msg), msg
    # the repair gets its own ``time_limit`` (the LPs may have used theirs)
    res, method = repair(problem, problem.account_assignment(best), seed=seed,
                         time_limit=time_limit)
    return res, (f"pool LPs rounded ({int((best < 0).sum())} fractional items) + {method}: "
                 f"{res.message}")


#: Repair model size: lowest-potential items per rep that may move, nearest reps each may move
#: to, and the pair count above which the heuristic is used instead.
_REPAIR_PER_REP = 40
_REPAIR_PER_ITEM = 8
_REPAIR_MAX_PAIRS = 120_000
_REPAIR_MAX_NODES = 500
#: LP value above which a pair counts as an LP move, and the neighbourhood MIP's time share
_NEIGHBOUR_X = 0.2
_NEIGHBOUR_SHARE = 0.85
_REPAIR_HEURISTIC_EFFORT = 0.05
#: Shares of a pool's time left for the local search (when the small MIPs find no plan),
#: then for the whole repair model (the rest: the undo)
_SEARCH_SHARE = 0.85
_FULL_SHARE = 0.7
#: Share of a rebalance's time limit kept for what follows the repair: 0.2 s of 5 s. Explaining
#: the moves and assembling the plan took only 3-10 ms on a 2,700-account scope of a 100k
#: book; the reserve absorbs the repair stages' overrun of their own limits (without it a 5 s
#: call returned at 5.07 s)
_FINISH_SHARE = 0.04
#: Seconds below which no repair stage starts (and the least the fallback heuristic gets)
_REPAIR_MIN_STAGE = 0.05


def _book_in_force(scenario: Scenario, active: Plan, events: Sequence[Event]
                   ) -> tuple[AccountBook, np.ndarray]:
    """The book with the active plan as current owners and locks to departing reps released,
    and the active owner (start-roster index) of every row."""
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
    return dataclasses.replace(book, current_owner=cur, locked_to=lk), owner


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
    problem: ProblemData | None = None,
    scope: str = "auto",
) -> RebalanceResult:
    """Apply ``events`` and restore every rule moving as few, low-value accounts as possible.

    Parameters
    ----------
    scenario : Scenario
        The scenario the active plan was made for (its spec's rules apply).
    active : Plan
        The plan in force; it becomes the current ownership.
    events : sequence of Departure, NewHire, CapacityChange
    seed, time_limit : seed and seconds (the whole call, compilation included)
    move_cost : float, optional
        Objective price of moving one non-forced account (default: 10 × the largest pair travel
        cost, so any move must be needed by a rule).
    value_weight : float
        Extra price per currency unit of potential moved, so lower-value accounts move first.
    options : SolveOptions, optional
        Options of the heuristic when the targeted repair finds no plan (its time limit is
        capped at what is left of ``time_limit``).
    problem : ProblemData, optional
        ``compile(scenario)`` when the caller has it (the start problem, before the events);
        it is compiled here otherwise. Only its pools, targets and bands are read.
    scope : {"auto", "pool", "full"}
        ``auto``/``pool``: re-solve only the eligibility pools the events touch and those the
        active plan already breaks (every other account stays; ``auto`` falls back to the whole
        book when those pools hold most of it or an event cannot be placed in a pool);
        ``full``: the whole book.
    """
    from terraplan.evaluate.explain import explain_moves

    if scope not in ("auto", "pool", "full"):
        raise ParameterError(f"The 'scope' parameter must be 'auto', 'pool' or 'full'. "
                             f"Got {scope!r}.")
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    roster = apply_events(scenario.reps, events)
    book2, owner = _book_in_force(scenario, active, events)
    rules = scenario.spec.rules
    # price moves: compiled with a unit price, then re-priced on the pair arrays (_priced)
    spec = scenario.spec.model_copy(update={
        "rules": rules.model_copy(update={"continuity": rules.continuity.model_copy(
            update={"move_cost": 1.0, "move_weight": "count"})}),
        "objective": scenario.spec.objective.model_copy(update={"disruption": 1.0}),
    })
    full_sc = dataclasses.replace(scenario, accounts=book2, reps=roster, spec=spec)
    stats: dict[str, float] = {}
    where: _Scope | None = None
    base = problem
    if scope != "full":
        if base is None:
            base = compile(scenario)
            stats["start_compile_s"] = time.perf_counter() - t0
        elif base.n_accounts != len(scenario.accounts) or base.rep_ids != scenario.reps.ids:
            raise ParameterError("the 'problem' given to rebalance was not compiled from its "
                                 "scenario (accounts or reps differ)")
        where = _scope(base, scenario, len(roster), owner, events,
                       1.0 if scope == "pool" else _LOCAL_MAX_SHARE)
    t1 = time.perf_counter()
    if where is None:
        rows = np.arange(len(book2), dtype=np.int64)
        reps = np.arange(len(roster), dtype=np.int64)
        sub_sc = full_sc
    else:
        rows, reps = where.rows, where.reps
        sub_sc = dataclasses.replace(full_sc, accounts=book2.take(rows),
                                     reps=RepRoster.of([roster[j] for j in reps.tolist()]))
    sub = compile(sub_sc)
    if where is not None and sub.max_moved_potential >= 0:
        share = rules.continuity.max_moved_share or 0.0
        sub = dataclasses.replace(sub, max_moved_potential=int(
            math.floor(share * int(book2.potential.sum()) + 1e-9)))
    sub, move_cost = _priced(sub, move_cost, value_weight)
    stats["compile_s"] = time.perf_counter() - t1
    stats["scope_accounts"] = float(len(rows))
    stats["scope_reps"] = float(len(reps))
    sc2 = dataclasses.replace(full_sc, spec=sub.scenario.spec)
    start = sub.account_owner.copy()
    before_items = sub.item_assignment(start)
    before = _worst_deviation(sub, np.where(sub.pair_index(before_items) >= 0, before_items, -1))
    outside: dict[str, float] = {}
    if where is not None and base is not None:
        outside = _worst_deviation(base, base.item_assignment(owner),
                                   ~np.isin(base.rep_pool, where.pools))
        before = {k: max(v, outside.get(k, 0.0)) for k, v in before.items()}
    t2 = time.perf_counter()
    if len(rows):
        # the moves' explanation and the plan's assembly come after the repair: time is kept
        res, method = repair(sub, start, seed=seed,
                             time_limit=max(deadline - time_limit * _FINISH_SHARE
                                            - time.perf_counter(), _REPAIR_MIN_STAGE),
                             options=options)
    else:
        res, method = SolveResult(status=Status.OPTIMAL, backend="rebalance", seed=seed,
                                  objective=0.0, bound=0.0, runtime=0.0, assignment=start), "none"
    t3 = time.perf_counter()
    stats["solve_s"] = t3 - t2
    stats["repair"] = float(method == "repair")
    if res.assignment is None or not res.status.has_plan:
        # no plan restoring every rule (a heuristic plan that still breaks one is not offered)
        return RebalanceResult(res.status, None, sc2, (), before, {},
                               time.perf_counter() - t0, message=res.message, stats=stats)
    new_sub = res.assignment
    new_owner = owner.copy()
    new_owner[rows] = np.where(new_sub >= 0, reps[np.maximum(new_sub, 0)], -1)
    sub_roster = sub_sc.reps
    plan_sub = Plan.from_indices(sub_sc.accounts, sub_roster, new_sub)
    reasons_sub = explain_moves(dataclasses.replace(sub_sc, spec=sc2.spec),
                                Plan.from_indices(sub_sc.accounts, sub_roster, start), plan_sub)
    reasons = np.zeros(len(book2), dtype=np.int8)
    reasons[rows] = reasons_sub
    departed = ~sub.rep_active
    moves = []
    ids = sub_sc.accounts.ids
    rids = sub_roster.ids
    for i in np.flatnonzero(new_sub != start).tolist():
        fr = int(start[i])
        rs = Reason(int(reasons_sub[i]))
        if fr >= 0 and departed[fr]:
            rs = Reason.DEPARTURE
        moves.append(Move(str(ids[i]), rids[fr] if fr >= 0 else None, rids[int(new_sub[i])],
                          rs))
    after = _worst_deviation(sub, sub.item_assignment(new_sub))
    if outside:
        after = {k: max(v, outside.get(k, 0.0)) for k, v in after.items()}
    forced = sum(mv.reason is Reason.DEPARTURE for mv in moves)
    plan = Plan.from_indices(book2, roster, new_owner, reasons=reasons,
                             provenance=Provenance(scenario=sc2.name, solver="rebalance",
                                                   seed=seed, note=f"rebalance ({method})"))
    stats.update({"finish_s": time.perf_counter() - t3,
                  "forced": float(forced), "other": float(len(moves) - forced),
                  "objective": float(res.objective or 0.0)})
    return RebalanceResult(res.status, plan, sc2, tuple(moves), before, after,
                           time.perf_counter() - t0, message=res.message, stats=stats)


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


__all__ = ["CapacityChange", "Departure", "Event", "Move", "NewHire", "RebalanceResult",
           "apply_events", "lp_rounded_plan", "rebalance", "repair", "restrict_pairs"]
