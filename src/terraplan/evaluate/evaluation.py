"""``evaluate(scenario, plan)``: balance, fairness, travel, moves, violations and objective.

The evaluator is the single source of truth for every test and benchmark (STYLE.md habit 11).
It reads only the domain objects (:class:`~terraplan.domain.Scenario`,
:class:`~terraplan.domain.Plan`), never a solver's compiled arrays, and is vectorised with
``np.bincount``: one million accounts and two thousand reps evaluate in under two seconds
(docs/benchmarks.md).

Definitions
-----------
*Counting reps* are those with status ``active`` or ``planned_hire``; departing reps get target 0
and are left out of fairness figures; any account they still own is a soft ``departing_owner``
violation.

*Balanced metrics* are ``potential``, ``workload`` and ``accounts`` plus every metric of
``spec.rules.balance`` (in that order, without repeats). Money is in cents.

*Target* of rep ``r`` for metric ``m``: ``pool_total_m × share_r / Σ_{counting reps in the pool}
share``, where the pool is the rep's eligibility pool (connected component of the bipartite graph
account class ↔ counting rep, see :mod:`terraplan.evaluate`) and ``pool_total`` sums the
metric over every account of the pool, whoever owns it. In the territory modes (``carve``,
``geo_unit``) every territory's target is ``book total / territories`` instead and the number of
territories and the carve territory capacity are checked too
(:mod:`terraplan.evaluate.territories`). *Deviation* is
``(total − target) / target`` (0 when both are 0, ``inf`` when only the target is 0).

*Fairness* of a metric is measured on the load ratios ``total_r / target_r`` of the counting reps
with a positive target (CV, Gini, max/min, share within ±15 % of target); with one pool and equal
shares these are exactly the figures of the raw per-rep totals.

*Moves* compare the plan with each account's current owner (``AccountBook.current_owner``). An
account is *moved* when it has a current owner and the plan gives it to another rep (an account
left unassigned is not a move but an ``unassigned`` violation). A move is *forced* when the
current owner is departing or not in the roster; the other moves are *counted*: continuity
budgets and the disruption term use counted moves only.

Hard-rule tolerances
--------------------
Float rounding must not flip a verdict, so each comparison has a tiny slack: capacity
``workload ≤ capacity + 1e-9·max(1, capacity)``; balance band ``|dev| ≤ tolerance + 1e-9``;
max distance ``d ≤ max_distance·(1 + 1e-9)`` (an unknown distance never violates it).
Continuity budgets count *counted* moves: ``max_moved_accounts`` bounds their number;
``max_moved_share`` bounds their potential, in integer cents,
``≤ floor(max_moved_share × book potential + 1e-9)``; ``max_moved_per_rep`` bounds, per rep, the
counted moves it *loses* (accounts taken from its current book). Protected pipeline: an account
with ``pipeline > protect_pipeline_above`` (strictly above, cents) must not be a counted move.
These match the compiled constraints of :mod:`terraplan.problem`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from terraplan.domain import BalanceRule, Plan, Scenario
from terraplan.domain.money import format_cents
from terraplan.evaluate import fairness as fair
from terraplan.evaluate._facts import (
    UNKNOWN,
    PlanFacts,
    ScenarioFacts,
    align,
    deviations,
    distance_unit,
    pool_targets,
    rep_totals,
)
from terraplan.evaluate.geounit import SPLIT, compactness, territory_pieces, unit_owners
from terraplan.evaluate.objective import (
    ObjectiveBreakdown,
    combine,
    counted_moves,
    move_units,
    owner_distances,
    soft_balance_penalty,
)
from terraplan.evaluate.territories import (
    expected_territories,
    is_territorial,
    territory_capacity,
    territory_targets,
)
from terraplan.evaluate.violations import (
    Violation,
    ViolationKind,
    fmt_metric,
    fmt_number,
    fmt_pct,
)

__all__ = ["Evaluation", "MetricBalance", "Moves", "Travel", "evaluate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Relative slack of the hard-rule comparisons (see the module docstring).
EPS = 1e-9
#: Half-width of the "within target" band of the fairness figures.
FAIRNESS_BAND = 0.15
ALWAYS_BALANCED = ("potential", "workload", "accounts")


def _ro(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, eq=False)
class MetricBalance:
    """Per-rep totals, targets and deviations of one balanced metric, and its fairness figures.

    Arrays are indexed like the roster. ``cv``, ``gini``, ``max_min`` and ``band_share`` are
    computed on the load ratios ``total / target`` of counting reps with a positive target.
    ``rule`` is the spec's balance rule for the metric, if any.
    """

    metric: str
    totals: FloatArray
    targets: FloatArray
    deviations: FloatArray
    cv: float
    gini: float
    max_min: float
    band_share: float
    rule: BalanceRule | None = None

    @property
    def max_abs_deviation(self) -> float:
        d = self.deviations[~np.isnan(self.deviations)]
        return float(np.max(np.abs(d))) if d.size else 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Travel:
    """Travel cost per rep and in total: Σ weight × distance to the rep's home.

    ``unit`` is the distance unit (``km``, ``units`` or ``table units``) and ``weighting`` the
    travel weighting (``workload``, ``visits``, ``none``). ``missing_location`` counts the
    assigned accounts whose distance is unknown (no location, no rep home, or a pair absent from
    the supplied table); they contribute 0. ``distances`` is each account's distance to its owner
    (NaN when unassigned or unknown).
    """

    per_rep: FloatArray
    total: float
    missing_location: int
    unit: str
    weighting: str
    distances: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Moves:
    """The plan against the current owners.

    ``accounts_moved``, ``potential_moved`` and ``pipeline_moved`` (cents) cover every moved
    account; ``forced`` of them left a departing or unknown owner; ``counted`` (and
    ``counted_potential``) are the moves the continuity budgets see. ``new`` counts accounts
    without a current owner that the plan assigns. Per rep (roster order): accounts ``gained``
    and ``lost``, and the potential (cents) gained and lost.
    """

    accounts_moved: int
    potential_moved: int
    pipeline_moved: int
    forced: int
    counted: int
    counted_potential: int
    new: int
    gained: IntArray
    lost: IntArray
    potential_gained: IntArray
    potential_lost: IntArray
    moved: npt.NDArray[np.bool_]
    counted_potential_share: float = 0.0  # counted potential / the book's total potential


@dataclass(frozen=True, slots=True, eq=False)
class Evaluation:
    """Everything the evaluator measures about one plan on one scenario.

    Use :attr:`feasible` and :attr:`hard_violations` for the verdict, :meth:`summary` for a
    plain-text report and :meth:`to_dict` for JSON. Violation *records* are capped per kind
    (``max_records`` of :func:`evaluate`); :attr:`counts` always holds the exact numbers.
    """

    scenario: str
    rep_ids: tuple[str, ...]
    rep_status: tuple[str, ...]
    n_accounts: int
    assigned: int
    owner: npt.NDArray[np.int32]
    pools: IntArray
    n_pools: int
    metrics: Mapping[str, MetricBalance]
    travel: Travel
    moves: Moves
    violations: tuple[Violation, ...]
    counts: Mapping[str, int]
    hard_count: int
    objective: ObjectiveBreakdown
    plan_accounts_not_in_book: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    # -- verdict --------------------------------------------------------------------------------
    @property
    def feasible(self) -> bool:
        """True when no hard rule is broken."""
        return self.hard_count == 0

    @property
    def hard_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.hard)

    @property
    def soft_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if not v.hard)

    @property
    def unassigned(self) -> int:
        return self.n_accounts - self.assigned

    def of_kind(self, kind: ViolationKind | str) -> tuple[Violation, ...]:
        k = ViolationKind(kind)
        return tuple(v for v in self.violations if v.kind is k)

    # -- per rep --------------------------------------------------------------------------------
    def rep_row(self, rep_id: str) -> dict[str, Any]:
        """One rep's figures as a flat dict (totals, targets, deviations, travel, moves)."""
        r = self.rep_ids.index(rep_id)
        row: dict[str, Any] = {"rep_id": rep_id, "status": self.rep_status[r],
                               "pool": int(self.pools[r])}
        for m, mb in self.metrics.items():
            row[m] = _num(m, float(mb.totals[r]))
            row[f"{m}_target"] = _num(m, float(mb.targets[r]))
            row[f"{m}_deviation"] = _jf(float(mb.deviations[r]))
        row["travel"] = float(self.travel.per_rep[r])
        row["gained"] = int(self.moves.gained[r])
        row["lost"] = int(self.moves.lost[r])
        return row

    def rep_rows(self) -> list[dict[str, Any]]:
        return [self.rep_row(r) for r in self.rep_ids]

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self, *, reps: bool = True, max_violations: int = 1000) -> dict[str, Any]:
        """JSON-ready summary (non-finite floats become ``None``; money in integer cents)."""
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "feasible": self.feasible,
            "accounts": self.n_accounts,
            "assigned": self.assigned,
            "reps": len(self.rep_ids),
            "pools": self.n_pools,
            "objective": self.objective.to_dict(),
            "fairness": {
                m: {"cv": _jf(mb.cv), "gini": _jf(mb.gini), "max_min": _jf(mb.max_min),
                    "band_share": _jf(mb.band_share),
                    "max_abs_deviation": _jf(mb.max_abs_deviation)}
                for m, mb in self.metrics.items()
            },
            "travel": {"total": self.travel.total, "unit": self.travel.unit,
                       "weighting": self.travel.weighting,
                       "missing_location": self.travel.missing_location},
            "moves": {"accounts_moved": self.moves.accounts_moved,
                      "potential_moved": self.moves.potential_moved,
                      "pipeline_moved": self.moves.pipeline_moved,
                      "forced": self.moves.forced, "counted": self.moves.counted,
                      "counted_potential": self.moves.counted_potential,
                      "counted_potential_share": self.moves.counted_potential_share,
                      "new": self.moves.new},
            "violation_counts": dict(self.counts),
            "hard_violations": self.hard_count,
            "violations": [v.to_dict() for v in self.violations[:max_violations]],
            "plan_accounts_not_in_book": self.plan_accounts_not_in_book,
            "notes": list(self.notes),
        }
        if reps:
            out["per_rep"] = self.rep_rows()
        return out

    def summary(self, *, max_reps: int = 20, max_violations: int = 10) -> str:
        """A plain-text report (no rich markup): verdict, fairness, travel, moves, violations."""
        lines = [f"Scenario {self.scenario}: {self.n_accounts:,} accounts, "
                 f"{len(self.rep_ids):,} reps, {self.n_pools} eligibility pool(s)",
                 f"Verdict: {'feasible' if self.feasible else 'INFEASIBLE'} "
                 f"({self.hard_count:,} hard violation(s), "
                 f"{sum(self.counts.values()) - self.hard_count:,} warning(s)); "
                 f"{self.assigned:,} assigned, {self.unassigned:,} unassigned",
                 f"Objective: {self.objective.total:,.4g} (travel {self.objective.travel:,.4g}, "
                 f"disruption {self.objective.disruption:,.4g}, "
                 f"balance {self.objective.balance:,.4g})",
                 "", "Fairness (on total/target):",
                 f"  {'metric':<14}{'CV':>8}{'Gini':>8}{'max/min':>9}{'±15 %':>8}{'max|dev|':>10}"]
        for m, mb in self.metrics.items():
            lines.append(f"  {m:<14}{mb.cv:>8.3f}{mb.gini:>8.3f}{mb.max_min:>9.3f}"
                         f"{mb.band_share * 100:>7.0f}%{mb.max_abs_deviation * 100:>9.1f}%")
        t = self.travel
        lines += ["", f"Travel: {t.total:,.1f} ({t.unit} × {t.weighting}); "
                      f"{t.missing_location:,} account(s) without a known distance",
                  f"Moves: {self.moves.accounts_moved:,} account(s) moved, "
                  f"{format_cents(self.moves.potential_moved)} potential, "
                  f"{format_cents(self.moves.pipeline_moved)} pipeline "
                  f"({self.moves.forced:,} forced by departures; {self.moves.new:,} new)"]
        metrics = list(self.metrics)
        lines += ["", "Per rep:", "  " + f"{'rep':<12}" + "".join(
            f"{m[:12]:>16}{'dev':>9}" for m in metrics)]
        def cell(m: str, r: int) -> str:
            total = fmt_metric(m, float(self.metrics[m].totals[r]))[:15]
            dev = float(self.metrics[m].deviations[r])
            return f"{total:>16}{'-' if math.isnan(dev) else fmt_pct(dev):>9}"

        for r, rid in enumerate(self.rep_ids[:max_reps]):
            lines.append(f"  {rid[:12]:<12}" + "".join(cell(m, r) for m in metrics))
        if len(self.rep_ids) > max_reps:
            lines.append(f"  ... and {len(self.rep_ids) - max_reps:,} more reps")
        if self.violations:
            lines += ["", "Violations:"]
            lines += [f"  {k}: {c:,}" for k, c in self.counts.items() if c]
            lines += [f"  - {v}" for v in self.violations[:max_violations]]
            if len(self.violations) > max_violations:
                lines.append(f"  ... and {len(self.violations) - max_violations:,} more records")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def _jf(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _num(metric: str, v: float) -> float | int:
    return round(v) if metric in ("potential", "pipeline", "accounts") and math.isfinite(v) else v


# -- the evaluator -------------------------------------------------------------------------------
def evaluate(scenario: Scenario, plan: Plan, *, max_records: int = 1000) -> Evaluation:
    """Measure ``plan`` on ``scenario`` and check every rule of the spec.

    Parameters
    ----------
    scenario : Scenario
        Spec, account book and roster (and an optional distance table).
    plan : Plan
        Any plan — the current one, a solver's, a hand edit. Accounts of the book missing from
        the plan count as unassigned; plan accounts not in the book are ignored (and counted);
        accounts given to a rep not in the roster count as unassigned and are reported as
        ``unknown_rep``.
    max_records : int
        At most this many :class:`Violation` records are kept per kind (the first in book row
        order); :attr:`Evaluation.counts` always holds the exact numbers.

    Returns
    -------
    Evaluation
    """
    facts = ScenarioFacts.build(scenario)
    pf = align(scenario, plan)
    return _evaluate(facts, pf, max_records=max_records)


def _evaluate(facts: ScenarioFacts, pf: PlanFacts, *, max_records: int) -> Evaluation:
    scenario = facts.scenario
    book, roster, spec = scenario.accounts, scenario.reps, scenario.spec
    owner = pf.owner
    R = facts.R
    rep_ids = roster.ids

    # balance: totals, pool targets, deviations, fairness on total/target
    rules = {b.metric: b for b in spec.rules.balance}
    names = list(ALWAYS_BALANCED) + [m for m in rules if m not in ALWAYS_BALANCED]
    metrics: dict[str, MetricBalance] = {}
    territorial = is_territorial(scenario)
    devs: dict[str, FloatArray] = {}
    targets: dict[str, FloatArray] = {}
    for m in names:
        values = book.metric(m)
        tot = rep_totals(owner, values, R)
        # territory modes: equal territories instead of per-rep pool targets
        tgt = (territory_targets(scenario, owner, values) if territorial
               else pool_targets(facts, values))
        dev = deviations(tot, tgt, facts.counting)
        devs[m], targets[m] = dev, tgt
        ok = facts.counting & (tgt > 0)
        with np.errstate(over="ignore"):
            ratio = np.maximum(tot[ok] / tgt[ok], 0.0)  # negative extra metrics clip at 0
        if not np.all(np.isfinite(ratio)):  # only with subnormal targets: leave those reps out
            keep = np.isfinite(ratio)
            ok[np.flatnonzero(ok)[~keep]] = False
            ratio = ratio[keep]
        metrics[m] = MetricBalance(
            metric=m, totals=_ro(tot), targets=_ro(tgt), deviations=_ro(dev),
            cv=fair.cv(ratio), gini=fair.gini(ratio), max_min=fair.max_min(ratio),
            band_share=fair.band_share(tot[ok], tgt[ok], FAIRNESS_BAND), rule=rules.get(m),
        )

    # travel
    dist = owner_distances(facts, owner)
    assigned_mask = owner >= 0
    known = assigned_mask & ~np.isnan(dist)
    contrib = np.where(known, facts.travel_weight * np.where(known, dist, 0.0), 0.0)
    per_rep = np.bincount(owner[assigned_mask], weights=contrib[assigned_mask], minlength=R)
    travel = Travel(per_rep=_ro(per_rep.astype(np.float64)), total=float(contrib.sum()),
                    missing_location=int(np.count_nonzero(assigned_mask & ~known)),
                    unit=distance_unit(scenario),
                    weighting=spec.objective.travel_weighting.value, distances=_ro(dist))

    # moves
    cur = facts.current
    has_cur = cur != -1
    moved = has_cur & (owner >= 0) & (owner != cur)
    counted = counted_moves(facts, owner)
    pot = book.potential
    gained_mask = moved & assigned_mask
    lost_mask = moved & (cur >= 0)
    total_pot = int(pot.sum())
    counted_pot = int(pot[counted].sum())
    moves = Moves(
        accounts_moved=int(np.count_nonzero(moved)), potential_moved=int(pot[moved].sum()),
        pipeline_moved=int(book.pipeline[moved].sum()),
        forced=int(np.count_nonzero(moved & ~counted)), counted=int(np.count_nonzero(counted)),
        counted_potential=counted_pot,
        new=int(np.count_nonzero(~has_cur & assigned_mask)),
        gained=_ro(np.bincount(owner[gained_mask], minlength=R).astype(np.int64)),
        lost=_ro(np.bincount(cur[lost_mask], minlength=R).astype(np.int64)),
        potential_gained=_ro(_int_bincount(owner[gained_mask], pot[gained_mask], R)),
        potential_lost=_ro(_int_bincount(cur[lost_mask], pot[lost_mask], R)),
        moved=_ro(moved), counted_potential_share=counted_pot / total_pot if total_pot > 0 else 0.0,
    )

    # objective (same helpers as terraplan.evaluate.objective)
    cont = spec.rules.continuity
    disruption = (cont.move_cost * float(move_units(facts)[counted].sum())
                  if cont.move_cost else 0.0)
    labels = None
    k_term = 0.0
    if facts.units is not None:  # geo-unit mode
        labels = unit_owners(facts.units, owner)
        k_term = compactness(facts.units, labels)
    obj = combine(facts, travel.total, disruption, soft_balance_penalty(facts, devs, targets),
                  k_term)

    checker = _Checker(facts, pf, max_records)
    checker.run(metrics, dist, counted, moves)
    if labels is not None:
        checker.geo_units(labels)
    if territorial:
        checker.territories(metrics["workload"].totals)

    notes = []
    if pf.not_in_book:
        notes.append(f"{pf.not_in_book:,} plan account(s) are not in the book and were ignored")
    return Evaluation(
        scenario=scenario.name, rep_ids=rep_ids,
        rep_status=tuple(r.status.value for r in roster), n_accounts=facts.n,
        assigned=int(np.count_nonzero(assigned_mask)), owner=_ro(owner.copy()),
        pools=_ro(facts.rep_pool.copy()),
        n_pools=int(np.unique(facts.rep_pool[facts.counting]).size),
        metrics=MappingProxyType(metrics), travel=travel, moves=moves,
        violations=tuple(checker.records), counts=MappingProxyType(checker.counts),
        hard_count=checker.hard_count, objective=obj, plan_accounts_not_in_book=pf.not_in_book,
        notes=tuple(notes),
    )


def _int_bincount(idx: npt.NDArray[Any], values: npt.NDArray[np.int64], R: int) -> IntArray:
    """Exact integer per-rep sums (money in cents must not pass through float)."""
    out = np.zeros(R, dtype=np.int64)
    np.add.at(out, idx, values)
    return out


class _Checker:
    """Runs every rule check, counting all violations and keeping capped records."""

    def __init__(self, facts: ScenarioFacts, pf: PlanFacts, max_records: int) -> None:
        self.facts = facts
        self.pf = pf
        self.max_records = max_records
        self.records: list[Violation] = []
        self.counts: dict[str, int] = {k.value: 0 for k in ViolationKind}
        self.kept: dict[ViolationKind, list[Violation]] = {k: [] for k in ViolationKind}
        self.hard_count = 0
        book = facts.scenario.accounts
        self.ids = book.ids
        self.rep_ids = facts.scenario.reps.ids

    def add(self, kind: ViolationKind, hard: bool, n: int, make: Any) -> None:
        """Count ``n`` violations and keep records ``make(k)`` for ``k < max_records``."""
        if n <= 0:
            return
        room = self.max_records - len(self.kept[kind])
        self.counts[kind.value] += n
        if hard:
            self.hard_count += n
        for k in range(min(n, max(room, 0))):
            v = make(k)
            self.records.append(v)
            self.kept[kind].append(v)

    def rep(self, r: int) -> str:
        return self.rep_ids[r] if r >= 0 else "(nobody)"

    def run(self, metrics: dict[str, MetricBalance], dist: FloatArray,
            counted: npt.NDArray[np.bool_], moves: Moves) -> None:
        f = self.facts
        spec = f.scenario.spec
        rules = spec.rules
        owner = self.pf.owner
        book = f.scenario.accounts
        a = np.flatnonzero(owner >= 0)

        # unknown reps and unassigned accounts
        for rid, k in sorted(self.pf.unknown.items()):
            self.add(ViolationKind.UNKNOWN_REP, True, 1, lambda _, rid=rid, k=k: Violation(
                ViolationKind.UNKNOWN_REP, True,
                f"Plan assigns {k:,} account(s) to rep {rid}, which is not in the roster",
                rep_id=rid, amount=float(k), limit=0.0))
        un = np.flatnonzero(owner < 0)
        un = un[~np.isin(un, self.pf.unknown_rows)] if self.pf.unknown_rows.size else un
        self.add(ViolationKind.UNASSIGNED, True, un.size, lambda k: Violation(
            ViolationKind.UNASSIGNED, True, f"Account {self.ids[un[k]]} has no rep",
            account_id=str(self.ids[un[k]])))

        # eligibility
        if rules.eligibility and a.size:
            bad = a[~f.eligible(a, owner[a])]
            self.add(ViolationKind.ELIGIBILITY, True, bad.size, lambda k: self._elig(int(bad[k])))

        # departing reps that still own accounts (soft)
        owned = np.bincount(owner[a], minlength=f.R)
        dep = np.flatnonzero(f.departing & (owned > 0))
        self.add(ViolationKind.DEPARTING_OWNER, False, dep.size, lambda k: Violation(
            ViolationKind.DEPARTING_OWNER, False,
            f"Departing rep {self.rep(int(dep[k]))} still owns {int(owned[dep[k]]):,} account(s)",
            rep_id=self.rep(int(dep[k])), amount=float(owned[dep[k]]), limit=0.0))

        # capacity
        if rules.capacity:
            wl = metrics["workload"].totals
            over = np.flatnonzero(wl > f.capacity + EPS * np.maximum(1.0, f.capacity))
            self.add(ViolationKind.CAPACITY, True, over.size, lambda k: self._cap(
                int(over[k]), float(wl[over[k]])))

        # locks
        if rules.locks:
            lk = f.locked
            is_locked = book.locked_to.codes >= 0
            bad = np.flatnonzero(is_locked & ((lk < 0) | (owner != lk)))
            self.add(ViolationKind.LOCK, True, bad.size, lambda k: self._lock(int(bad[k])))

        # families
        if rules.families:
            root = f.root
            split = owner != owner[root]
            roots, per_root = np.unique(root[split], return_counts=True)
            size = np.bincount(root, minlength=f.n)
            self.add(ViolationKind.FAMILY_SPLIT, True, roots.size, lambda k: Violation(
                ViolationKind.FAMILY_SPLIT, True,
                f"Family of {self.ids[roots[k]]} ({int(size[roots[k]]):,} accounts) is split: "
                f"{int(per_root[k]):,} account(s) are not with "
                f"{self.rep(int(owner[roots[k]]))}, who owns the parent",
                rep_id=self.rep(int(owner[roots[k]])) if owner[roots[k]] >= 0 else None,
                account_id=str(self.ids[roots[k]]), amount=float(per_root[k]), limit=0.0))

        # balance bands (hard and soft rules)
        for rule in rules.balance:
            mb = metrics[rule.metric]
            dev = mb.deviations
            with np.errstate(invalid="ignore"):
                out = np.flatnonzero(f.counting & (np.abs(dev) > rule.tolerance + EPS))
            self.add(ViolationKind.BALANCE_BAND, rule.hard, out.size,
                     lambda k, mb=mb, rule=rule, out=out: self._band(int(out[k]), mb, rule))

        # max distance
        if rules.max_distance is not None and a.size:
            limit = rules.max_distance
            with np.errstate(invalid="ignore"):
                far = a[dist[a] > limit * (1.0 + EPS)]
            unit = distance_unit(f.scenario)
            self.add(ViolationKind.MAX_DISTANCE, True, far.size, lambda k: Violation(
                ViolationKind.MAX_DISTANCE, True,
                f"Account {self.ids[far[k]]} is {fmt_number(float(dist[far[k]]))} {unit} from "
                f"rep {self.rep(int(owner[far[k]]))}'s home, beyond the maximum "
                f"{fmt_number(limit)} {unit}",
                rep_id=self.rep(int(owner[far[k]])), account_id=str(self.ids[far[k]]),
                amount=float(dist[far[k]]), limit=limit))

        self._continuity(counted, moves)

    def _continuity(self, counted: npt.NDArray[np.bool_], moves: Moves) -> None:
        f = self.facts
        cont = f.scenario.spec.rules.continuity
        book = f.scenario.accounts
        owner = self.pf.owner
        kind = ViolationKind.CONTINUITY_BUDGET
        if cont.max_moved_accounts is not None and moves.counted > cont.max_moved_accounts:
            n, lim = moves.counted, cont.max_moved_accounts
            self.add(kind, True, 1, lambda _: Violation(
                kind, True, f"Plan moves {n:,} account(s), over the budget of {lim:,} "
                f"by {n - lim:,}", amount=float(n), limit=float(lim)))
        if cont.max_moved_share is not None:
            share, lim_s = moves.counted_potential_share, cont.max_moved_share
            total_pot = int(book.potential.sum())
            if moves.counted_potential > math.floor(lim_s * total_pot + 1e-9):
                self.add(kind, True, 1, lambda _: Violation(
                    kind, True, f"Plan moves {share * 100:.1f} % of potential "
                    f"({format_cents(moves.counted_potential)}), over the budget of "
                    f"{lim_s * 100:.1f} %", amount=share, limit=lim_s))
        if cont.max_moved_per_rep is not None:
            lo = np.bincount(f.current[counted], minlength=f.R)  # counted moves have cur >= 0
            lim_r = cont.max_moved_per_rep
            over = np.flatnonzero(lo > lim_r)
            self.add(kind, True, over.size, lambda k: Violation(
                kind, True, f"Rep {self.rep(int(over[k]))} loses {int(lo[over[k]]):,} "
                f"account(s), over the per-rep budget of {lim_r:,} by "
                f"{int(lo[over[k]]) - lim_r:,}",
                rep_id=self.rep(int(over[k])), amount=float(lo[over[k]]), limit=float(lim_r)))
        if cont.protect_pipeline_above is not None:
            thr = cont.protect_pipeline_above
            # an explicit lock (locks rule on) is the planner's own instruction and wins over the
            # blanket pipeline protection, as in problem.compile
            lock_wins = ((f.locked == owner) & (owner >= 0) if f.scenario.spec.rules.locks
                         else np.zeros(len(owner), dtype=bool))
            bad = np.flatnonzero(counted & (book.pipeline > thr) & ~lock_wins)
            self.add(kind, True, bad.size, lambda k: Violation(
                kind, True, f"Account {self.ids[bad[k]]} with open pipeline "
                f"{format_cents(int(book.pipeline[bad[k]]))} (protected above "
                f"{format_cents(thr)}) moved from {self.rep(int(f.current[bad[k]]))} to "
                f"{self.rep(int(owner[bad[k]]))}",
                rep_id=self.rep(int(owner[bad[k]])) if owner[bad[k]] >= 0 else None,
                account_id=str(self.ids[bad[k]]), amount=float(book.pipeline[bad[k]]),
                limit=float(thr)))

    def geo_units(self, labels: IntArray) -> None:
        """Geo-unit mode: units split between reps, and (``rules.contiguity``) territories in
        several pieces."""
        f = self.facts
        g = f.units
        assert g is not None
        owner = self.pf.owner
        split = np.flatnonzero(labels == SPLIT)

        def split_record(k: int) -> Violation:
            u = int(split[k])
            reps = np.unique(owner[(g.account_unit == u) & (owner >= 0)])
            names = ", ".join(self.rep(int(r)) for r in reps[:5])
            return Violation(
                ViolationKind.UNIT_SPLIT, True,
                f"Unit {g.unit_ids[u]} is split between {reps.size} reps ({names})",
                amount=float(reps.size), limit=1.0)

        self.add(ViolationKind.UNIT_SPLIT, True, split.size, split_record)
        if f.scenario.spec.rules.contiguity:
            pieces = territory_pieces(g, labels, f.R)
            bad = np.flatnonzero(pieces > 1)
            self.add(ViolationKind.CONTIGUITY, True, bad.size, lambda k: Violation(
                ViolationKind.CONTIGUITY, True,
                f"Rep {self.rep(int(bad[k]))}'s territory is in {int(pieces[bad[k]])} "
                "disconnected pieces", rep_id=self.rep(int(bad[k])),
                amount=float(pieces[bad[k]]), limit=1.0))

    def territories(self, workload: FloatArray) -> None:
        """Territory modes: the number of territories and (carve) the territory capacity; see
        :mod:`terraplan.evaluate.territories`."""
        f = self.facts
        sc = f.scenario
        owner = self.pf.owner
        owning = np.flatnonzero(np.bincount(owner[owner >= 0], minlength=f.R) > 0)
        want = expected_territories(sc)
        if owning.size != want:
            got = owning.size
            self.add(ViolationKind.TERRITORY_COUNT, True, 1, lambda _: Violation(
                ViolationKind.TERRITORY_COUNT, True,
                f"Plan has {got:,} territories (reps owning accounts), expected {want:,}",
                amount=float(got), limit=float(want)))
        cap = territory_capacity(sc)
        if cap is not None:
            over = owning[workload[owning] > cap + EPS * max(1.0, cap)]
            self.add(ViolationKind.CAPACITY, True, over.size, lambda k: Violation(
                ViolationKind.CAPACITY, True,
                f"Territory of rep {self.rep(int(over[k]))} has workload "
                f"{fmt_metric('workload', float(workload[over[k]]))}, over the territory "
                f"capacity {fmt_metric('workload', cap)} by "
                f"{fmt_metric('workload', float(workload[over[k]]) - cap)}",
                rep_id=self.rep(int(over[k])), amount=float(workload[over[k]]), limit=cap,
                metric="workload"))

    # -- record builders --------------------------------------------------------------------------
    def _elig(self, i: int) -> Violation:
        f = self.facts
        r = int(self.pf.owner[i])
        rep = f.scenario.reps[r]
        fields = f.scenario.spec.rules.eligibility
        takes = "; ".join(
            f"{fld}s {', '.join(sorted(getattr(rep, fld + 's'))) or 'any'}" for fld in fields)
        return Violation(
            ViolationKind.ELIGIBILITY, True,
            f"Account {self.ids[i]} ({f.class_label(int(f.account_class[i]))}) is not eligible "
            f"for rep {rep.id}, who takes {takes}",
            rep_id=rep.id, account_id=str(self.ids[i]))

    def _cap(self, r: int, wl: float) -> Violation:
        cap = float(self.facts.capacity[r])
        return Violation(
            ViolationKind.CAPACITY, True,
            f"Rep {self.rep(r)} workload {fmt_metric('workload', wl)} exceeds capacity "
            f"{fmt_metric('workload', cap)} by {fmt_metric('workload', wl - cap)}",
            rep_id=self.rep(r), amount=wl, limit=cap, metric="workload")

    def _lock(self, i: int) -> Violation:
        f = self.facts
        lk = int(f.locked[i])
        locked_id = f.scenario.accounts.locked_to.value(i)
        where = self.rep(int(self.pf.owner[i]))
        extra = ", which is not in the roster" if lk == UNKNOWN else ""
        return Violation(
            ViolationKind.LOCK, True,
            f"Account {self.ids[i]} is locked to rep {locked_id}{extra} but sits with {where}",
            rep_id=locked_id, account_id=str(self.ids[i]))

    def _band(self, r: int, mb: MetricBalance, rule: BalanceRule) -> Violation:
        tot, tgt, dev = float(mb.totals[r]), float(mb.targets[r]), float(mb.deviations[r])
        m = mb.metric
        side = "above" if dev > 0 else "below"
        return Violation(
            ViolationKind.BALANCE_BAND, rule.hard,
            f"Rep {self.rep(r)} {m} {fmt_metric(m, tot)} is {abs(dev) * 100:.1f} % {side} "
            f"its target {fmt_metric(m, tgt)}, outside the ±{rule.tolerance * 100:.1f} % band",
            rep_id=self.rep(r), amount=dev, limit=rule.tolerance, metric=m)
