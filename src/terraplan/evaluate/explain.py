"""Why accounts sit where they sit: rule-based, deterministic reason codes and sentences.

:func:`explain_moves` gives every account a :class:`~terraplan.domain.Reason`. An account whose
owner is the same before and after is ``UNCHANGED``; one without an owner before that gets one is
``NEW``. For every other account (its owner changed) the *first* rule that applies wins:

1. ``DEPARTURE``   the old owner is departing, or not in the roster at all;
2. ``LOCK``        the account is locked to its new rep (when ``rules.locks``);
3. ``ELIGIBILITY`` the old owner is not eligible for the account (checked fields of
   ``rules.eligibility``);
4. ``FAMILY``      the account is not its family's root, the root's owner changed too, and the
   account followed the root to its new rep (when ``rules.families``);
5. ``CAPACITY``    the old owner's workload in ``before`` exceeds its capacity (when
   ``rules.capacity``);
6. ``DISTANCE``    the account is farther from the old owner's home than ``rules.max_distance``;
7. ``TRAVEL``      the new rep's home is strictly closer than the old owner's;
8. ``BALANCE``     otherwise — the move served the balance of some metric.

The attribution reads only the scenario and the two plans, so a solver result, a hand edit and
the current CRM ownership are explained the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from terraplan.domain import Plan, Reason, RepStatus, Scenario
from terraplan.evaluate._facts import UNKNOWN, ScenarioFacts, align, distance_unit, rep_totals
from terraplan.evaluate.evaluation import EPS, Evaluation, _evaluate
from terraplan.evaluate.violations import Violation, fmt_metric, fmt_number, fmt_pct

__all__ = ["AccountExplanation", "RepExplanation", "explain_account", "explain_moves",
           "explain_rep"]

_REASON_TEXT = {
    Reason.UNCHANGED: "kept its owner",
    Reason.NEW: "had no owner before",
    Reason.ELIGIBILITY: "the previous owner is not eligible for it",
    Reason.BALANCE: "the move balances the reps' books",
    Reason.TRAVEL: "the new rep's home is closer",
    Reason.CAPACITY: "the previous owner was over capacity",
    Reason.FAMILY: "it follows its parent account",
    Reason.DEPARTURE: "the previous owner is leaving",
    Reason.LOCK: "it is locked to the new rep",
    Reason.DISTANCE: "the previous owner's home is beyond the maximum distance",
}


def reason_text(reason: Reason) -> str:
    """A short human phrase for a reason code."""
    return _REASON_TEXT[Reason(reason)]


def _before_owner(facts: ScenarioFacts, before: Plan | None) -> npt.NDArray[np.int32]:
    """Owner index before: -1 none, ``UNKNOWN`` for a rep the roster does not know."""
    if before is None:
        return facts.current.copy()
    pf = align(facts.scenario, before)
    out = pf.owner.copy()
    out[pf.unknown_rows] = UNKNOWN
    return out


def _reasons(facts: ScenarioFacts, b: npt.NDArray[np.int32],
             a: npt.NDArray[np.int32]) -> npt.NDArray[np.int8]:
    rules = facts.scenario.spec.rules
    n = facts.n
    out = np.full(n, int(Reason.UNCHANGED), dtype=np.int8)
    out[(b == -1) & (a >= 0)] = int(Reason.NEW)
    todo = (b != -1) & (b != a)
    rows = np.arange(n)
    bk = b >= 0

    def assign(mask: npt.NDArray[np.bool_], reason: Reason) -> None:
        m = todo & mask
        out[m] = int(reason)
        todo[m] = False

    dep = np.zeros(n, dtype=bool)
    dep[bk] = facts.departing[b[bk]]
    assign((b == UNKNOWN) | dep, Reason.DEPARTURE)
    if rules.locks:
        assign((facts.locked == a) & (a >= 0), Reason.LOCK)
    if rules.eligibility:
        inel = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(todo & bk)
        inel[idx] = ~facts.eligible(idx, b[idx])
        assign(inel, Reason.ELIGIBILITY)
    if rules.families:
        root = facts.root
        assign((root != rows) & (b[root] != a[root]) & (a == a[root]), Reason.FAMILY)
    if rules.capacity:
        wl = rep_totals(b, np.asarray(facts.scenario.accounts.workload, dtype=np.float64),
                        facts.R)
        over = wl > facts.capacity + EPS * np.maximum(1.0, facts.capacity)
        cap = np.zeros(n, dtype=bool)
        cap[bk] = over[b[bk]]
        assign(cap, Reason.CAPACITY)
    idx = np.flatnonzero(todo & bk)
    d_old = np.full(n, np.nan)
    d_old[idx] = facts.distance(idx, b[idx])
    if rules.max_distance is not None:
        with np.errstate(invalid="ignore"):
            assign(d_old > rules.max_distance * (1.0 + EPS), Reason.DISTANCE)
    idx = np.flatnonzero(todo & (a >= 0))
    d_new = np.full(n, np.nan)
    d_new[idx] = facts.distance(idx, a[idx])
    with np.errstate(invalid="ignore"):
        assign(d_new < d_old, Reason.TRAVEL)
    assign(todo.copy(), Reason.BALANCE)
    return out


def explain_moves(scenario: Scenario, before: Plan | None, after: Plan) -> npt.NDArray[np.int8]:
    """Reason code of every account of the book (book row order), as ``int8`` :class:`Reason`.

    Parameters
    ----------
    scenario : Scenario
    before : Plan or None
        The plan moved from; ``None`` means the book's current owners (an owner the roster does
        not know then reads as a departure).
    after : Plan
        The plan moved to.

    Returns
    -------
    numpy.ndarray of int8
        ``Reason`` codes, attribution rules in the module docstring. ``Plan.from_indices(...,
        reasons=explain_moves(...))`` attaches them to a plan.
    """
    facts = ScenarioFacts.build(scenario)
    return _reasons(facts, _before_owner(facts, before), align(scenario, after).owner)


# -- one account -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AccountExplanation:
    """Where one account sits and why, with the figures behind the sentence.

    Distances are in the scenario's distance unit (``unit``); ``None`` when unknown.
    """

    account_id: str
    rep_id: str | None
    previous_rep_id: str | None
    reason: Reason
    eligible_reps: int
    distance_to_rep: float | None
    nearest_rep_id: str | None
    nearest_distance: float | None
    locked_to: str | None
    family_root_id: str | None
    family_size: int
    unit: str
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id, "rep_id": self.rep_id,
            "previous_rep_id": self.previous_rep_id, "reason": self.reason.name.lower(),
            "eligible_reps": self.eligible_reps, "distance_to_rep": self.distance_to_rep,
            "nearest_rep_id": self.nearest_rep_id, "nearest_distance": self.nearest_distance,
            "locked_to": self.locked_to, "family_root_id": self.family_root_id,
            "family_size": self.family_size, "unit": self.unit, "sentence": self.sentence,
        }


def _opt(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def explain_account(scenario: Scenario, plan: Plan, account_id: str,
                    before: Plan | None = None) -> AccountExplanation:
    """Explain where ``account_id`` sits in ``plan`` and why it moved (if it did).

    Parameters
    ----------
    scenario, plan : the scenario and the plan to explain
    account_id : str
        Raises ``KeyError`` when the book has no such account.
    before : Plan or None
        The plan it moved from; ``None`` means the current owners.
    """
    facts = ScenarioFacts.build(scenario)
    book, roster = scenario.accounts, scenario.reps
    i = book.index_of(account_id)
    a = align(scenario, plan).owner
    b = _before_owner(facts, before)
    reason = Reason(int(_reasons(facts, b, a)[i]))
    unit = distance_unit(scenario)

    reps = np.flatnonzero(facts.counting)
    elig_reps = reps[facts.eligible(np.full(reps.size, i), reps)] if reps.size else reps
    d_all = facts.distance(np.full(elig_reps.size, i), elig_reps)
    nearest_id, nearest_d = None, float("nan")
    if elig_reps.size and not np.all(np.isnan(d_all)):
        k = int(np.nanargmin(d_all))
        nearest_id, nearest_d = roster[int(elig_reps[k])].id, float(d_all[k])

    owner = int(a[i])
    rep_id = roster[owner].id if owner >= 0 else None
    d_owner = float(facts.distance([i], [owner])[0]) if owner >= 0 else float("nan")
    bi = int(b[i])
    if bi >= 0:
        prev: str | None = roster[bi].id
    elif bi == UNKNOWN:
        prev = (book.current_owner.value(i) if before is None
                else before.owner_of(account_id))
    else:
        prev = None
    root = int(facts.root[i])
    fam_size = int(np.count_nonzero(facts.root == root))
    locked = book.locked_to.value(i)

    parts = [f"Account {account_id} sits with rep {rep_id}" if rep_id
             else f"Account {account_id} has no rep"]
    if reason is Reason.UNCHANGED:
        parts[0] += " (unchanged)." if rep_id else "."
    elif reason is Reason.NEW:
        parts[0] += f" (new: {reason_text(reason)})."
    else:
        parts[0] += f" (moved from {prev}: {reason_text(reason)})."
    parts.append(f"{len(elig_reps)} of {int(facts.counting.sum())} reps are eligible for it.")
    if rep_id and not np.isnan(d_owner):
        s = f"It is {fmt_number(d_owner)} {unit} from {rep_id}'s home"
        if nearest_id is not None:
            s += (f"; the nearest eligible rep is {nearest_id} at "
                  f"{fmt_number(nearest_d)} {unit}")
        parts.append(s + ".")
    elif rep_id:
        parts.append("Its distance to the rep's home is unknown.")
    if locked:
        parts.append(f"It is locked to {locked}.")
    if fam_size > 1:
        parts.append(f"It belongs to the family of {book.ids[root]} ({fam_size} accounts)"
                     + (", as its parent." if root == i else "."))
    return AccountExplanation(
        account_id=account_id, rep_id=rep_id, previous_rep_id=prev, reason=reason,
        eligible_reps=int(len(elig_reps)), distance_to_rep=_opt(d_owner),
        nearest_rep_id=nearest_id, nearest_distance=_opt(nearest_d), locked_to=locked,
        family_root_id=str(book.ids[root]) if fam_size > 1 else None, family_size=fam_size,
        unit=unit, sentence=" ".join(parts),
    )


# -- one rep ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RepExplanation:
    """One rep's book in a plan: totals against targets, travel, moves and violations."""

    rep_id: str
    status: str
    pool: int
    pool_reps: int
    accounts: int
    totals: dict[str, float]
    targets: dict[str, float]
    deviations: dict[str, float]
    travel: float
    gained: int
    lost: int
    gained_by_reason: dict[str, int]
    lost_by_reason: dict[str, int]
    violations: tuple[Violation, ...] = field(default_factory=tuple)
    sentence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id, "status": self.status, "pool": self.pool,
            "pool_reps": self.pool_reps, "accounts": self.accounts, "totals": self.totals,
            "targets": self.targets,
            "deviations": {k: (v if np.isfinite(v) else None) for k, v in self.deviations.items()},
            "travel": self.travel, "gained": self.gained, "lost": self.lost,
            "gained_by_reason": self.gained_by_reason, "lost_by_reason": self.lost_by_reason,
            "violations": [v.to_dict() for v in self.violations], "sentence": self.sentence,
        }


def explain_rep(scenario: Scenario, plan: Plan, rep_id: str, before: Plan | None = None, *,
                evaluation: Evaluation | None = None) -> RepExplanation:
    """Summarise rep ``rep_id``'s book in ``plan`` and how it changed since ``before``.

    Parameters
    ----------
    scenario, plan : the scenario and the plan
    rep_id : str
        Raises ``KeyError`` when the roster has no such rep.
    before : Plan or None
        The plan to compare with; ``None`` means the current owners.
    evaluation : Evaluation or None
        A precomputed ``evaluate(scenario, plan)`` to reuse (saves a pass over a large book).
    """
    facts = ScenarioFacts.build(scenario)
    r = scenario.reps.index_of(rep_id)
    rep = scenario.reps[r]
    pf = align(scenario, plan)
    ev = evaluation if evaluation is not None else _evaluate(facts, pf, max_records=1000)
    a = pf.owner
    b = _before_owner(facts, before)
    reasons = _reasons(facts, b, a)
    gained_mask = (a == r) & (b != r)
    lost_mask = (b == r) & (a != r)
    g_by = Counter({Reason(int(x)).name.lower(): int(c) for x, c in
                    zip(*np.unique(reasons[gained_mask], return_counts=True), strict=True)})
    l_by = Counter({Reason(int(x)).name.lower(): int(c) for x, c in
                    zip(*np.unique(reasons[lost_mask], return_counts=True), strict=True)})
    totals = {m: float(mb.totals[r]) for m, mb in ev.metrics.items()}
    targets = {m: float(mb.targets[r]) for m, mb in ev.metrics.items()}
    devs = {m: float(mb.deviations[r]) for m, mb in ev.metrics.items()}
    pool = int(facts.rep_pool[r])
    pool_reps = int(np.count_nonzero(facts.rep_pool == pool)) if pool >= 0 else 0
    n_acc = int(np.count_nonzero(a == r))
    viol = tuple(v for v in ev.violations if v.rep_id == rep_id)

    def breakdown(c: Counter[str]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))

    s = [f"Rep {rep_id} ({rep.status.value}) owns {n_acc:,} account(s)."]
    if rep.status is RepStatus.DEPARTING:
        s.append("Departing reps have no target.")
    else:
        s.append(f"Eligibility pool {pool} has {pool_reps} rep(s).")
        s += [f"{m.capitalize()} {fmt_metric(m, totals[m])} vs target "
              f"{fmt_metric(m, targets[m])} ({fmt_pct(devs[m])})." for m in ev.metrics]
    s.append(f"Travel {fmt_number(float(ev.travel.per_rep[r]))} ({ev.travel.unit} × "
             f"{ev.travel.weighting}).")
    gained, lost = int(gained_mask.sum()), int(lost_mask.sum())
    if gained or lost:
        s.append(f"Gained {gained:,}" + (f" ({breakdown(g_by)})" if gained else "")
                 + f", lost {lost:,}" + (f" ({breakdown(l_by)})" if lost else "") + ".")
    if viol:
        s.append(f"{len(viol)} violation(s): " + "; ".join(v.message for v in viol[:3])
                 + ("; ..." if len(viol) > 3 else ""))
    return RepExplanation(
        rep_id=rep_id, status=rep.status.value, pool=pool, pool_reps=pool_reps, accounts=n_acc,
        totals=totals, targets=targets, deviations=devs, travel=float(ev.travel.per_rep[r]),
        gained=gained, lost=lost, gained_by_reason=dict(g_by), lost_by_reason=dict(l_by),
        violations=viol, sentence=" ".join(s),
    )
