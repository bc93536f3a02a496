"""Payout statement of one rep for one year: commissions, clawbacks, SPIFs and draws, by month.

Commission is computed on *cumulative* attainment against the annual quota, and each period pays
``round(TI·f(cum A_k)) − round(TI·f(cum A_{k−1}))``, so the year's commissions add up exactly to
the annual payout however the bookings fall. Each deal's commission is the increase of the
cumulative payout it caused (deals in period, then input, order); a clawback takes back at most
what was paid on that deal.

Draws: a *recoverable* draw is an advance against future commission. In a draw period the rep
receives ``max(draw, earned − outstanding)``; any shortfall adds to the outstanding balance,
which later earnings repay first. So ``Σ paid − Σ earned == final outstanding`` and the balance
never goes below zero. A *non-recoverable* draw is a guarantee: the top-up is never recovered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from terraplan.comp.plan import CompPlan
from terraplan.errors import ParameterError


@dataclass(frozen=True, slots=True)
class Deal:
    """A booking of ``amount`` cents in ``period`` (0-based month of the plan year)."""

    deal_id: str
    period: int
    amount: int


@dataclass(frozen=True, slots=True)
class Clawback:
    """Take back commission paid on ``deal_id`` in ``period``; ``amount=None`` = all of it."""

    deal_id: str
    period: int
    amount: int | None = None


@dataclass(frozen=True, slots=True)
class Draw:
    """A monthly draw of ``amount`` cents in ``periods`` (``None`` = every period)."""

    amount: int
    recoverable: bool = True
    periods: frozenset[int] | None = None

    def active(self, k: int) -> bool:
        return self.periods is None or k in self.periods


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One period of a statement (cents; ``attainment`` is cumulative).

    ``earned`` = commission − clawback + spif; ``paid`` is what the rep receives;
    ``outstanding`` is what the rep owes after the period (≥ 0); ``guarantee`` is the
    non-recoverable draw top-up (company cost that is never recovered).
    """

    period: int
    bookings: int
    cumulative_bookings: int
    attainment: Fraction
    commission: int
    clawback: int
    spif: int
    earned: int
    paid: int
    outstanding: int
    guarantee: int

    @property
    def balance(self) -> int:
        """Draw balance as a rep's account shows it: −outstanding."""
        return -self.outstanding


@dataclass(frozen=True, slots=True)
class PayoutStatement:
    rows: tuple[StatementRow, ...]
    deal_commission: Mapping[str, int]
    clawed_back: Mapping[str, int]
    base: int
    target_incentive: int

    @property
    def total_paid(self) -> int:
        return sum(r.paid for r in self.rows)

    @property
    def total_earned(self) -> int:
        return sum(r.earned for r in self.rows)

    @property
    def final_outstanding(self) -> int:
        return self.rows[-1].outstanding if self.rows else 0

    @property
    def total_cost(self) -> int:
        """Base plus everything paid (net of what is still owed back)."""
        return self.base + self.total_paid - self.final_outstanding


def payout_statement(
    plan: CompPlan,
    deals: Sequence[Deal],
    *,
    n_periods: int = 12,
    clawbacks: Sequence[Clawback] = (),
    spif: Mapping[int, int] | None = None,
    draw: Draw | None = None,
) -> PayoutStatement:
    """Month-by-month incentive statement of one rep.

    Parameters
    ----------
    plan : the rep's plan (TI, quota, curve)
    deals : bookings (cents) with their period
    n_periods : number of periods (12 months by default)
    clawbacks : reversals of commission on named deals (each ≤ commission paid on that deal)
    spif : SPIF award per period (cents), paid on top of commission
    draw : optional recoverable or non-recoverable draw

    Returns
    -------
    PayoutStatement
    """
    if n_periods <= 0:
        raise ParameterError(f"n_periods must be > 0. Got {n_periods}.")
    by_period: dict[int, list[Deal]] = {}
    ids: set[str] = set()
    for d in deals:
        if not (0 <= d.period < n_periods):
            raise ParameterError(f"deal {d.deal_id}: period {d.period} outside 0..{n_periods - 1}")
        if d.amount < 0:
            raise ParameterError(f"deal {d.deal_id}: amount must be >= 0 cents")
        if d.deal_id in ids:
            raise ParameterError(f"duplicate deal id {d.deal_id!r}")
        ids.add(d.deal_id)
        by_period.setdefault(d.period, []).append(d)
    claws: dict[int, list[Clawback]] = {}
    for c in clawbacks:
        if c.deal_id not in ids:
            raise ParameterError(f"clawback names unknown deal {c.deal_id!r}")
        if not (0 <= c.period < n_periods):
            raise ParameterError(f"clawback of {c.deal_id}: period {c.period} out of range")
        if c.amount is not None and c.amount < 0:
            raise ParameterError(f"clawback of {c.deal_id}: amount must be >= 0")
        claws.setdefault(c.period, []).append(c)
    spif = dict(spif or {})
    if draw is not None and draw.amount < 0:
        raise ParameterError("draw amount must be >= 0")

    deal_comm: dict[str, int] = {}
    clawed: dict[str, int] = {}
    deal_period = {d.deal_id: d.period for d in deals}
    cum = 0
    paid_to_date = 0  # cumulative incentive earned (before clawbacks)
    outstanding = 0
    rows = []
    for k in range(n_periods):
        booked = 0
        for d in by_period.get(k, []):
            cum += d.amount
            booked += d.amount
            now = plan.incentive(cum)
            deal_comm[d.deal_id] = now - paid_to_date
            paid_to_date = now
        commission = sum(deal_comm[d.deal_id] for d in by_period.get(k, []))
        claw = 0
        for c in claws.get(k, []):
            if deal_period[c.deal_id] > k:
                raise ParameterError(
                    f"clawback of {c.deal_id} in period {k} precedes the deal (period "
                    f"{deal_period[c.deal_id]})")
            room = deal_comm[c.deal_id] - clawed.get(c.deal_id, 0)
            amt = room if c.amount is None else min(c.amount, room)
            clawed[c.deal_id] = clawed.get(c.deal_id, 0) + amt
            claw += amt
        award = int(spif.get(k, 0))
        earned = commission - claw + award
        available = earned - outstanding
        guarantee = 0
        if draw is not None and draw.active(k) and available < draw.amount:
            if draw.recoverable:
                paid = draw.amount
                outstanding = draw.amount - available
            else:
                base_pay = max(available, 0)
                outstanding = max(-available, 0)
                guarantee = draw.amount - base_pay
                paid = draw.amount
        else:
            paid = max(available, 0)
            outstanding = max(-available, 0)
        rows.append(StatementRow(
            k, booked, cum, Fraction(cum, plan.quota), commission, claw, award, earned, paid,
            outstanding, guarantee))
    return PayoutStatement(tuple(rows), deal_comm, clawed, plan.base, plan.target_incentive)


__all__ = ["Clawback", "Deal", "Draw", "PayoutStatement", "StatementRow", "payout_statement"]
