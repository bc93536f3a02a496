"""Pre-solve diagnostics and infeasibility conflict sets, in business terms.

:func:`diagnose` lists every infeasibility it can *prove* from the compiled problem without
searching, each with its numbers and the rule groups involved, for example::

    pool segment ENT / vertical Health / region West: workload 9,400 h, eligible capacity 7,200 h
    account A-17 (potential $4.10M) alone exceeds rep R-3's upper band $3.80M

Checks (all vectorised over items or per rep/pool):

* accounts no active rep is eligible for (eligibility, departure);
* locks to a rep not in the roster, to a departing rep, to an ineligible rep, beyond the max
  distance; conflicting locks inside a family;
* families whose members have no common eligible rep;
* any other account left with no candidate rep (max distance, protected pipeline, table);
* an item heavier than the capacity of every candidate rep; a pool whose workload exceeds the
  capacity of its reps (when all of them have one);
* an item whose metric alone exceeds the upper band of every candidate rep; a rep whose lower
  band exceeds everything it could receive; empty integer bands; pool band sums that cannot
  cover the pool total;
* forced moves (the current owner can no longer keep the account) beyond the continuity
  budgets.

:func:`conflicts` computes, for an infeasible problem, a smallest set of rule groups that
conflict: a *deletion filter* over the hard rule groups (drop a group; if the rest is still
infeasible it is not needed), followed by a check of every single group alone, so a
one-group explanation is preferred when it exists. Each feasibility test recompiles the scenario
without the dropped groups and runs CP-SAT without objective. Dropping ``eligibility`` also
merges pools (targets change accordingly), which is the honest meaning of "without eligibility".
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terraplan.domain import RepStatus, Scenario
from terraplan.domain.money import format_cents, format_compact
from terraplan.errors import PrecisionWarning
from terraplan.problem import ProblemData, Rule, _class_eligibility, _distances, compile
from terraplan.solvers.base import CancelToken

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """One provable infeasibility: a readable message and the rule groups that cause it."""

    message: str
    rules: tuple[str, ...]

    def __str__(self) -> str:
        return self.message


def _fmt(metric: str, v: float) -> str:
    if metric in ("potential", "pipeline"):
        # compact ($4.10M) for large sums; exact cents below $1,000 where rounding would hide
        # the very difference being reported
        return format_compact(v) if abs(v) >= 100_000 else format_cents(round(v))
    if metric == "workload":
        return f"{v:,.0f} h" if abs(v) >= 100 else f"{v:,.4g} h"
    if metric == "accounts":
        return f"{v:,.0f} accounts"
    return f"{v:,.4g}"


class _Names:
    """Readable names of accounts, reps, classes and pools of a problem."""

    def __init__(self, problem: ProblemData) -> None:
        self.p = problem
        self.sc = problem.scenario
        self.ids = self.sc.accounts.ids

    def item(self, t: int) -> str:
        root = int(self.p.item_root[t])
        size = int(self.p.item_indptr[t + 1] - self.p.item_indptr[t])
        base = f"account {self.ids[root]}"
        return base if size == 1 else f"family of {base} ({size} accounts)"

    def rep(self, r: int) -> str:
        return f"rep {self.p.rep_ids[r]}"

    def cls(self, row: int) -> str:
        book = self.sc.accounts
        parts = []
        for f in self.sc.spec.rules.eligibility:
            v = getattr(book, f).value(row)
            parts.append(f"{f} {v if v is not None else '(none)'}")
        return " / ".join(parts) or "all accounts"

    def pool(self, pool: int) -> str:
        items = np.flatnonzero(self.p.item_pool == pool)
        if not len(items):
            reps = [self.p.rep_ids[r] for r in np.flatnonzero(self.p.rep_pool == pool)[:3]]
            return f"pool of {', '.join(reps)}"
        labels = sorted({self.cls(int(self.p.item_root[t])) for t in items[:200].tolist()})
        more = f" (+{len(labels) - 2} more classes)" if len(labels) > 2 else ""
        return "pool " + "; ".join(labels[:2]) + more


def _shown(rows: Sequence[str], limit: int = 5) -> str:
    rows = list(rows)
    return ", ".join(rows[:limit]) + (f" and {len(rows) - limit} more" if len(rows) > limit
                                       else "")


def diagnose(problem: ProblemData) -> list[Finding]:
    """Every infeasibility provable without search, with numbers (empty list: none found).

    An empty list does not prove feasibility; a non-empty one proves infeasibility.
    """
    p = problem
    sc = p.scenario
    rules = sc.spec.rules
    book = sc.accounts
    nm = _Names(p)
    out: list[Finding] = []
    deg = np.diff(p.indptr)
    explained = np.zeros(p.n_items, dtype=bool)
    el = _Elig(p)

    # -- eligibility and departures -------------------------------------------------------------
    active = p.rep_active
    acc_no_rep = np.zeros(p.n_accounts, dtype=bool)
    if p.n_accounts:
        elig_any = el.any_of(active)
        acc_no_rep = ~elig_any
        if acc_no_rep.any():
            rows = np.flatnonzero(acc_no_rep)
            by_cls: dict[str, list[int]] = {}
            for i in rows.tolist():
                by_cls.setdefault(nm.cls(i), []).append(i)
            for label, accs in by_cls.items():
                any_incl_departing = el.any_of(np.ones(p.n_reps, bool))[accs[0]]
                why = ("only departing reps are eligible" if any_incl_departing
                       else "no rep in the roster is eligible")
                out.append(Finding(
                    f"{len(accs):,} account(s) in {label} have no eligible active rep ({why}): "
                    f"{_shown([str(nm.ids[i]) for i in accs])}",
                    (Rule.ELIGIBILITY, Rule.DEPARTURE) if any_incl_departing
                    else (Rule.ELIGIBILITY,)))
        explained[p.item_of[acc_no_rep]] = True

    # -- locks ----------------------------------------------------------------------------------
    if rules.locks and p.n_accounts:
        locked_raw = book.locked_to.codes >= 0
        lock = p.account_lock
        unknown = np.flatnonzero(lock == -2)
        if len(unknown):
            out.append(Finding(
                f"{len(unknown):,} account(s) are locked to a rep that is not in the roster: "
                + _shown([f"{nm.ids[i]} → {book.locked_to.value(int(i))}"
                          for i in unknown.tolist()]), (Rule.LOCKS,)))
            explained[p.item_of[unknown]] = True
        real = np.flatnonzero(locked_raw & (lock >= 0))
        if len(real):
            lk = lock[real]
            dep = real[~active[lk]]
            if len(dep):
                out.append(Finding(
                    f"{len(dep):,} account(s) are locked to a departing rep: "
                    + _shown([f"{nm.ids[i]} → {p.rep_ids[lock[i]]}" for i in dep.tolist()]),
                    (Rule.LOCKS, Rule.DEPARTURE)))
                explained[p.item_of[dep]] = True
            ok_elig = el.pairs(real, lk)
            inel = real[~ok_elig & active[lk]]
            if len(inel):
                out.append(Finding(
                    f"{len(inel):,} account(s) are locked to a rep not eligible for them: "
                    + _shown([f"{nm.ids[i]} ({nm.cls(int(i))}) → {p.rep_ids[lock[i]]}"
                              for i in inel.tolist()]), (Rule.LOCKS, Rule.ELIGIBILITY)))
                explained[p.item_of[inel]] = True
            if rules.max_distance is not None:
                d = _distance(p, real, lk)
                far = real[(d > rules.max_distance) & ok_elig & active[lk]]
                if len(far):
                    dd = dict(zip(real.tolist(), d.tolist(), strict=True))
                    out.append(Finding(
                        f"{len(far):,} account(s) are locked to a rep whose home is beyond the "
                        f"max distance {rules.max_distance:g}: "
                        + _shown([f"{nm.ids[i]} → {p.rep_ids[lock[i]]} ({dd[i]:,.1f})"
                                  for i in far.tolist()]), (Rule.LOCKS, Rule.MAX_DISTANCE)))
                    explained[p.item_of[far]] = True
        # conflicting locks inside a family
        if rules.families:
            has = lock >= 0
            t_lock = p.item_of[has]
            r_lock = lock[has]
            if len(t_lock):
                lo = np.full(p.n_items, np.iinfo(np.int32).max, dtype=np.int64)
                hi = np.full(p.n_items, -1, dtype=np.int64)
                np.minimum.at(lo, t_lock, r_lock)
                np.maximum.at(hi, t_lock, r_lock)
                clash = np.flatnonzero((hi >= 0) & (lo != hi))
                for t in clash.tolist():
                    mem = p.item_members[p.item_indptr[t]:p.item_indptr[t + 1]]
                    pairs = [f"{nm.ids[i]} → {p.rep_ids[lock[i]]}" for i in mem.tolist()
                             if lock[i] >= 0]
                    out.append(Finding(f"{nm.item(t)} has conflicting locks: {_shown(pairs)}",
                                       (Rule.LOCKS, Rule.FAMILIES)))
                    explained[t] = True

    # -- families without a common eligible rep -----------------------------------------------
    if rules.families and p.n_items:
        sizes = np.diff(p.item_indptr)
        fam = np.flatnonzero((sizes > 1) & ~explained)
        for t in fam.tolist():
            mem = p.item_members[p.item_indptr[t]:p.item_indptr[t + 1]]
            if acc_no_rep[mem].any():
                continue
            common = np.ones(p.n_reps, dtype=bool) & active
            for i in mem.tolist():
                common &= el.pairs(np.full(p.n_reps, i), np.arange(p.n_reps))
            if not common.any():
                labels = sorted({nm.cls(int(i)) for i in mem.tolist()})
                out.append(Finding(
                    f"{nm.item(t)} has no rep eligible for all its members ({_shown(labels, 3)})",
                    (Rule.FAMILIES, Rule.ELIGIBILITY)))
                explained[t] = True

    # -- any other empty candidate list ---------------------------------------------------------
    rest = np.flatnonzero((deg == 0) & ~explained)
    if len(rest):
        groups: list[str] = []
        if rules.max_distance is not None:
            groups.append(Rule.MAX_DISTANCE)
        if p.has_rule(Rule.PROTECT_PIPELINE):
            groups.append(Rule.PROTECT_PIPELINE)
        if p.has_rule(Rule.DISTANCE_TABLE):
            groups.append(Rule.DISTANCE_TABLE)
        what = ", ".join(groups) or "the hard rules"
        out.append(Finding(
            f"{len(rest):,} account(s)/families have no rep left once {what} apply: "
            + _shown([nm.item(t) for t in rest.tolist()]),
            tuple(groups) + (Rule.ELIGIBILITY,)))
        explained[rest] = True

    ok_items = deg > 0
    # -- capacity -------------------------------------------------------------------------------
    if p.has_rule(Rule.CAPACITY) and p.n_pairs:
        w = p.item_metric[0]
        cap_pair = p.rep_capacity[p.indices]
        max_cap = np.full(p.n_items, -np.inf)
        np.maximum.at(max_cap, p.pair_item, cap_pair)
        heavy = np.flatnonzero(ok_items & (w > max_cap + 1e-9))
        for t in heavy[:20].tolist():
            cands = p.candidates(t)
            who = (f"the capacity of its only eligible rep {p.rep_ids[cands[0]]} "
                   f"({_fmt('workload', float(p.rep_capacity[cands[0]]))})" if len(cands) == 1
                   else f"the capacity of every eligible rep (largest "
                        f"{_fmt('workload', float(max_cap[t]))})")
            out.append(Finding(f"{nm.item(t)} (workload {_fmt('workload', float(w[t]))}) "
                               f"alone exceeds {who}", (Rule.CAPACITY,)))
        if len(heavy) > 20:
            out.append(Finding(f"... and {len(heavy) - 20} more accounts heavier than every "
                               "eligible rep's capacity", (Rule.CAPACITY,)))
        for pool in range(p.n_pools):
            reps = np.flatnonzero(p.rep_pool == pool)
            if not len(reps) or not np.all(np.isfinite(p.rep_capacity[reps])):
                continue
            items = p.item_pool == pool
            load = float(w[items].sum())
            cap = float(p.rep_capacity[reps].sum())
            if load > cap + 1e-9:
                out.append(Finding(
                    f"{nm.pool(pool)}: workload {_fmt('workload', load)}, eligible capacity "
                    f"{_fmt('workload', cap)}", (Rule.CAPACITY, Rule.ELIGIBILITY)))

    # -- hard balance bands ---------------------------------------------------------------------
    for b in range(len(p.balance_metric)):
        if not p.balance_hard[b] or not p.n_pairs:
            continue
        metric = p.balance_metric[b]
        q = int(p.balance_q[b])
        rule = f"{Rule.BALANCE.value}[{metric}]"
        v = p.item_metric[q]
        up = p.upper[b]
        vi = p.item_metric_int[q]
        # a single item above the upper band of every candidate
        max_up = np.full(p.n_items, -np.inf)
        np.maximum.at(max_up, p.pair_item, p.upper_int[b][p.indices].astype(np.float64))
        big = np.flatnonzero(ok_items & (vi > max_up))
        for t in big[:20].tolist():
            cands = p.candidates(t)
            if len(cands) == 1:
                who = f"{nm.rep(int(cands[0]))}'s upper band {_fmt(metric, float(up[cands[0]]))}"
            else:
                who = (f"the upper band of every eligible rep (largest "
                       f"{_fmt(metric, float(up[cands].max()))})")
            out.append(Finding(f"{nm.item(t)} ({metric} {_fmt(metric, float(v[t]))}) alone "
                               f"exceeds {who}", (rule,)))
        # empty integer bands
        empty_band = np.flatnonzero((p.rep_pool >= 0) & (p.lower_int[b] > p.upper_int[b]))
        for r in empty_band.tolist():
            out.append(Finding(
                f"{nm.rep(r)}'s {metric} band [{_fmt(metric, float(p.lower[b, r]))}, "
                f"{_fmt(metric, float(up[r]))}] holds no reachable value (tolerance "
                f"{p.balance_tol[b]:g} too tight for whole units)", (rule,)))
        # lower band above everything the rep could receive
        reach = np.bincount(p.indices, weights=vi[p.pair_item].astype(np.float64),
                            minlength=p.n_reps)
        short = np.flatnonzero((p.rep_pool >= 0) & (reach < p.lower_int[b]))
        for r in short.tolist():
            out.append(Finding(
                f"{nm.rep(r)} can receive at most {_fmt(metric, reach[r] / p.metric_scale[q])} "
                f"of {metric} from the accounts it may take, below its lower band "
                f"{_fmt(metric, float(p.lower[b, r]))}", (rule, Rule.ELIGIBILITY)))
        # pool sums of bands vs the pool total
        for pool in range(p.n_pools):
            reps = np.flatnonzero(p.rep_pool == pool)
            tot = int(vi[p.item_pool == pool].sum())
            lo_sum = int(p.lower_int[b, reps].sum())
            hi_sum = int(p.upper_int[b, reps].sum())
            s = float(p.metric_scale[q])
            if lo_sum > tot:
                out.append(Finding(
                    f"{nm.pool(pool)}: {metric} lower bands sum to {_fmt(metric, lo_sum / s)}, "
                    f"more than the pool total {_fmt(metric, tot / s)}", (rule,)))
            if hi_sum < tot:
                out.append(Finding(
                    f"{nm.pool(pool)}: {metric} upper bands sum to {_fmt(metric, hi_sum / s)}, "
                    f"less than the pool total {_fmt(metric, tot / s)}", (rule,)))
        if p.has_rule(Rule.CAPACITY) and metric == "workload":
            bad = np.flatnonzero(p.lower[b] > p.rep_capacity + 1e-9)
            for r in bad.tolist():
                out.append(Finding(
                    f"{nm.rep(r)}'s workload lower band {_fmt(metric, float(p.lower[b, r]))} "
                    f"exceeds its capacity {_fmt(metric, float(p.rep_capacity[r]))}",
                    (rule, Rule.CAPACITY)))

    # -- forced moves vs continuity budgets -----------------------------------------------------
    if (p.max_moved_accounts >= 0 or p.max_moved_potential >= 0 or p.max_moved_per_rep >= 0) \
            and p.n_pairs:
        forced = np.zeros(p.n_items, dtype=np.int64)
        forced_pot = np.zeros(p.n_items, dtype=np.int64)
        # the fewest moves an item can cost is its cheapest candidate's pair_moved
        big_i = np.iinfo(np.int64).max
        mn = np.full(p.n_items, big_i, dtype=np.int64)
        np.minimum.at(mn, p.pair_item, p.pair_moved)
        mnp = np.full(p.n_items, big_i, dtype=np.int64)
        np.minimum.at(mnp, p.pair_item, p.pair_moved_potential)
        forced[ok_items] = mn[ok_items]
        forced_pot[ok_items] = mnp[ok_items]
        n_forced = int(forced.sum())
        why = "their current owner may no longer keep them (eligibility, locks, distance)"
        if p.max_moved_accounts >= 0 and n_forced > p.max_moved_accounts:
            out.append(Finding(
                f"at least {n_forced:,} account(s) must move because {why}, but the budget "
                f"allows {p.max_moved_accounts:,}", (Rule.CONTINUITY_BUDGET,)))
        if p.max_moved_potential >= 0 and int(forced_pot.sum()) > p.max_moved_potential:
            out.append(Finding(
                f"at least {format_compact(int(forced_pot.sum()))} of potential must move "
                f"because {why}, but the budget allows {format_compact(p.max_moved_potential)}",
                (Rule.CONTINUITY_BUDGET,)))
        if p.max_moved_per_rep >= 0:
            for s_rep, const, _pairs, coefs in p.lost_terms():
                keepable = int(coefs.sum())
                if const - keepable > p.max_moved_per_rep:
                    out.append(Finding(
                        f"{nm.rep(s_rep)} must lose at least {const - keepable:,} account(s) "
                        f"it may no longer keep, over the per-rep budget of "
                        f"{p.max_moved_per_rep:,}",
                        (Rule.CONTINUITY_PER_REP,)))
    return out


class _Elig:
    """Account-class eligibility of a problem's scenario (computed once per diagnosis)."""

    def __init__(self, p: ProblemData) -> None:
        self.cls, self.elig = _class_eligibility(p.scenario)

    def any_of(self, reps_mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Per account: is some rep in ``reps_mask`` eligible (eligibility fields only)?"""
        has = np.asarray((self.elig & reps_mask[None, :]).any(axis=1), dtype=bool)
        return has[self.cls]

    def pairs(self, acc: npt.ArrayLike, reps: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return self.elig[self.cls[np.asarray(acc, dtype=np.int64)],
                         np.asarray(reps, dtype=np.int64)]


def _distance(p: ProblemData, acc: npt.ArrayLike, reps: npt.ArrayLike) -> npt.NDArray[np.float64]:
    d, _ = _distances(p.scenario, np.asarray(acc, dtype=np.int64),
                      np.asarray(reps, dtype=np.int32))
    return d


# -- conflict sets --------------------------------------------------------------------------------
def rule_groups(problem: ProblemData) -> tuple[str, ...]:
    """The hard rule groups a conflict set is drawn from (soft rules never conflict)."""
    out = []
    for r in problem.rules:
        if r in (Rule.MOVE_COST, Rule.DISTANCE_TABLE, Rule.CONTIGUITY):
            continue
        if r.startswith(Rule.BALANCE.value + "["):
            metric = r[len(Rule.BALANCE.value) + 1:-1]
            if not problem.balance_hard[problem.balance_metric.index(metric)]:
                continue
        out.append(r)
    return tuple(out)


def relax(scenario: Scenario, groups: Iterable[str]) -> Scenario:
    """``scenario`` without the given rule groups (a what-if, used by :func:`conflicts`)."""
    spec = scenario.spec
    rules = spec.rules
    cont = rules.continuity
    upd: dict[str, object] = {}
    cupd: dict[str, object] = {}
    drop_metrics: set[str] = set()
    roster = scenario.reps
    for g in groups:
        if g == Rule.ELIGIBILITY:
            upd["eligibility"] = ()
        elif g == Rule.CAPACITY:
            upd["capacity"] = False
        elif g == Rule.LOCKS:
            upd["locks"] = False
        elif g == Rule.FAMILIES:
            upd["families"] = False
        elif g == Rule.MAX_DISTANCE:
            upd["max_distance"] = None
        elif g == Rule.CONTINUITY_BUDGET:
            cupd.update(max_moved_accounts=None, max_moved_share=None)
        elif g == Rule.CONTINUITY_PER_REP:
            cupd["max_moved_per_rep"] = None
        elif g == Rule.PROTECT_PIPELINE:
            cupd["protect_pipeline_above"] = None
        elif g == Rule.DEPARTURE:
            for rep in roster:
                if rep.status is RepStatus.DEPARTING:
                    roster = roster.replace(dataclasses.replace(rep, status=RepStatus.ACTIVE))
        elif g.startswith(Rule.BALANCE.value + "["):
            drop_metrics.add(g[len(Rule.BALANCE.value) + 1:-1])
        else:
            raise ValueError(f"unknown rule group {g!r}")
    if drop_metrics:
        upd["balance"] = tuple(b for b in rules.balance if b.metric not in drop_metrics)
    if cupd:
        upd["continuity"] = cont.model_copy(update=cupd)
    new_spec = spec.model_copy(update={"rules": rules.model_copy(update=upd)})
    return dataclasses.replace(scenario, spec=new_spec, reps=roster)


def feasible(scenario: Scenario, *, time_limit: float = 10.0,
             cancel: CancelToken | None = None) -> bool | None:
    """True/False when proven, None when unknown within ``time_limit`` (CP-SAT, no objective)."""
    from ortools.sat.python import cp_model

    from terraplan.solvers._exact import CancelWatcher, items_without_candidates
    from terraplan.solvers.cpsat.model import build

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        p = compile(scenario)
    if len(items_without_candidates(p)):
        return False
    ctx = build(p, with_objective=False)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = 1
    with CancelWatcher(cancel, solver.stop_search):
        code = solver.solve(ctx.model)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    if code == cp_model.INFEASIBLE:
        return False
    return None


def conflicts(problem: ProblemData, *, time_limit: float = 30.0,
              cancel: CancelToken | None = None) -> tuple[str, ...]:
    """A smallest set of hard rule groups that cannot hold together (deletion filter).

    Returns ``()`` when the problem turns out feasible; ``("coverage",)`` when it is infeasible
    even with every rule group dropped (e.g. accounts but no active rep at all). When a test
    runs out of time the group is kept, so the answer is always a conflicting set, minimal as
    far as the time allowed.
    """
    t_end = time.perf_counter() + time_limit
    groups = list(rule_groups(problem))
    base = problem.scenario

    def test(active: Sequence[str]) -> bool | None:
        left = t_end - time.perf_counter()
        if left <= 0 or (cancel is not None and cancel.cancelled):
            return None
        drop = [g for g in groups if g not in active]
        per = max(0.05, left / max(1, len(groups) + 1))
        return feasible(relax(base, drop), time_limit=per, cancel=cancel)

    if test(()) is False:
        return ("coverage",)
    active = list(groups)
    for g in list(groups):
        trial = [a for a in active if a != g]
        if test(trial) is False:
            active = trial
    if len(active) > 1:
        for g in groups:
            if test((g,)) is False:
                return (g,)
    log.debug("conflict set %s", active)
    return tuple(active)


__all__ = ["Finding", "conflicts", "diagnose", "feasible", "relax", "rule_groups"]
