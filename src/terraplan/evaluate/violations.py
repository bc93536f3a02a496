"""Typed, readable rule violations and the number formatting their messages use.

Every checker yields :class:`Violation` records such as
``"Rep R12 workload 1,340 h exceeds capacity 1,200 h by 140 h"``. ``hard`` violations make a plan
infeasible; soft ones (a departing rep still owning accounts, a soft balance rule outside its band)
are reported but do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from terraplan.domain.money import format_cents

__all__ = ["Violation", "ViolationKind", "fmt_metric"]


class ViolationKind(StrEnum):
    """What rule a plan breaks.

    ``ELIGIBILITY`` an account sits with a rep whose segments/verticals/regions exclude it.
    ``CAPACITY`` a rep's workload exceeds its capacity. ``LOCK`` a locked account is not with its
    locked rep. ``FAMILY_SPLIT`` a parent and its descendants are not all with one rep.
    ``BALANCE_BAND`` a rep's total of a balanced metric is outside ``±tolerance`` of its target
    (hard for hard rules, soft for soft ones). ``MAX_DISTANCE`` an account is farther from its
    rep's home than ``rules.max_distance``. ``CONTINUITY_BUDGET`` a move budget is exceeded or a
    protected-pipeline account moved. ``UNASSIGNED`` an account has no rep. ``DEPARTING_OWNER``
    (soft) a departing rep still owns accounts. ``UNKNOWN_REP`` the plan names a rep that is not
    in the roster (its accounts count as unassigned). Geo-unit mode only: ``UNIT_SPLIT`` the
    accounts of one geographic unit sit with two or more reps; ``CONTIGUITY`` a rep's units are
    not one connected piece (when ``rules.contiguity``). Territory modes (carve, geo-unit) only:
    ``TERRITORY_COUNT`` the number of reps owning accounts differs from the number of territories
    (:mod:`terraplan.evaluate.territories`).
    """

    ELIGIBILITY = "eligibility"
    CAPACITY = "capacity"
    LOCK = "lock"
    FAMILY_SPLIT = "family_split"
    BALANCE_BAND = "balance_band"
    MAX_DISTANCE = "max_distance"
    CONTINUITY_BUDGET = "continuity_budget"
    UNASSIGNED = "unassigned"
    DEPARTING_OWNER = "departing_owner"
    UNKNOWN_REP = "unknown_rep"
    UNIT_SPLIT = "unit_split"
    CONTIGUITY = "contiguity"
    TERRITORY_COUNT = "territory_count"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, with the numbers behind it.

    Attributes
    ----------
    kind : ViolationKind
    hard : bool
        Hard violations make the plan infeasible.
    message : str
        A sentence a planner can read, numbers formatted with their units.
    rep_id, account_id : str or None
        The rep and the account concerned, when the rule is about one.
    amount, limit : float or None
        The measured value and the bound it breaks, in the rule's units (money in cents,
        workload in hours, distance in km or planar units, deviations as fractions of target).
    metric : str or None
        The balance metric, for ``BALANCE_BAND``.
    """

    kind: ViolationKind
    hard: bool
    message: str
    rep_id: str | None = None
    account_id: str | None = None
    amount: float | None = None
    limit: float | None = None
    metric: str | None = None

    def __str__(self) -> str:
        return f"{'error' if self.hard else 'warning'} [{self.kind.value}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "hard": self.hard, "message": self.message,
            "rep_id": self.rep_id, "account_id": self.account_id,
            "amount": _json_float(self.amount), "limit": _json_float(self.limit),
            "metric": self.metric,
        }


def _json_float(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def fmt_number(v: float) -> str:
    """``1340.2 -> '1,340'``, ``12.345 -> '12.35'``, ``inf -> 'inf'``."""
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def fmt_metric(metric: str, v: float) -> str:
    """A metric value with its unit: money as dollars, workload in hours, counts plain."""
    if metric in ("potential", "pipeline"):
        return format_cents(round(v)) if math.isfinite(v) else str(v)
    if metric == "workload":
        return f"{fmt_number(v)} h"
    if metric == "accounts":
        return f"{fmt_number(v)} accounts"
    return fmt_number(v)


def fmt_pct(v: float) -> str:
    return f"{v * 100:+.1f} %" if math.isfinite(v) else ("+inf %" if v > 0 else str(v))
