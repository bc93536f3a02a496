"""Mid-year transfers, history re-cut, bounds helpers, equal probability and the fairness report."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from terraplan.domain import Account, AccountBook, Plan, Rep, RepRoster
from terraplan.errors import ParameterError
from terraplan.quota import (
    AttainmentModel,
    PlanCalendar,
    QuotaMove,
    RampSchedule,
    WarningCode,
    allocate_quotas,
    fairness_report,
    growth_split_index,
    moves_between,
    potential_cap_bounds,
    prob_sum_at_least,
    ramp_quotas,
    recut_history,
    rep_potential,
    rep_workload,
    territory_overlap,
    transfer_quota,
    yoy_bounds,
)


def _schedule(quotas: dict[str, int]):  # type: ignore[no-untyped-def]
    a = allocate_quotas(list(quotas), sum(quotas.values()), over_assignment=0,
                        potential=list(quotas.values()), weights=(1, 0, 0))
    return ramp_quotas(a, ramp=RampSchedule.none())


def test_transfer_on_a_quarter_boundary_moves_the_share_of_the_rest_of_the_year() -> None:
    s = _schedule({"A": 400, "B": 400})
    t = transfer_quota(s, [QuotaMove("A", "B", Fraction(1, 4))], date(2026, 7, 1))
    assert t.row("A").periods == (100, 100, 75, 75)
    assert t.row("B").periods == (100, 100, 125, 125)
    assert t.row("A").ramped_quota == 350 and t.row("B").ramped_quota == 450
    assert t.transfers[0].periods == (0, 0, 25, 25)


def test_transfer_mid_quarter_is_pro_rata_by_days_and_stays_exact() -> None:
    s = _schedule({"A": 400, "B": 400})
    # Q3 2026 has 92 days; from 16 August 46 remain (φ = 1/2): 100·½·¼ = 12.5 moves;
    # the half cent goes to the larger exact part (A keeps 87.5 -> 88)
    t = transfer_quota(s, [QuotaMove("A", "B", Fraction(1, 4))], date(2026, 8, 16))
    assert t.row("A").periods == (100, 100, 88, 75)
    assert t.row("B").periods == (100, 100, 112, 125)
    assert t.total_ramped == s.total_ramped


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=3, max_size=3),
       st.dates(date(2026, 1, 1), date(2026, 12, 31)),
       st.fractions(0, 1, max_denominator=1000), st.fractions(0, 1, max_denominator=1000))
def test_transfers_conserve_every_period(q: list[int], eff: date, s1: Fraction,
                                         s2: Fraction) -> None:
    if s1 + s2 > 1:
        s2 = 1 - s1
    sched = _schedule({"A": q[0] + 1, "B": q[1], "C": q[2]})
    t = transfer_quota(sched, [QuotaMove("A", "B", s1), QuotaMove("A", "C", s2)], eff)
    for k in range(4):
        assert sum(r.periods[k] for r in t.rows) == sum(r.periods[k] for r in sched.rows)
    for r in t.rows:
        assert sum(r.periods) == r.ramped_quota
        assert min(r.periods) >= 0
    before = PlanCalendar().period_of(eff)
    for k in range(before):
        assert [r.periods[k] for r in t.rows] == [r.periods[k] for r in sched.rows]


def test_transfer_rejects_more_than_all_of_a_territory() -> None:
    s = _schedule({"A": 400, "B": 400, "C": 400})
    with pytest.raises(ParameterError, match="more than 100"):
        transfer_quota(s, [QuotaMove("A", "B", Fraction(3, 4)),
                           QuotaMove("A", "C", Fraction(1, 2))], date(2026, 7, 1))


@pytest.fixture
def tiny() -> tuple[AccountBook, RepRoster, Plan, Plan]:
    book = AccountBook.from_accounts([
        Account("a1", potential=600, workload=10.0, current_owner="R1"),
        Account("a2", potential=400, workload=5.0, current_owner="R1"),
        Account("a3", potential=300, workload=7.5, current_owner="R2"),
        Account("a4", potential=100, workload=2.5, current_owner=None),
    ])
    roster = RepRoster.of([Rep("R1"), Rep("R2")])
    old = Plan.current(book, roster)
    new = Plan.from_mapping({"a1": "R1", "a2": "R2", "a3": "R2", "a4": "R2"}, ["R1", "R2"])
    return book, roster, old, new


def test_recut_history_potential_workload_overlap(tiny) -> None:  # type: ignore[no-untyped-def]
    book, roster, old, new = tiny
    hist = {"a1": 50, "a2": 30, "a3": 20, "a4": 7}
    assert recut_history(hist, book, new, roster).tolist() == [50, 57]
    assert recut_history(hist, book, old, roster).tolist() == [80, 20]
    assert rep_potential(book, new, roster).tolist() == [600, 800]
    assert rep_workload(book, new, roster).tolist() == [10.0, 15.0]
    # R1 keeps all of its new book; R2 held 300 of its new 800
    assert territory_overlap(book, old, new, roster).tolist() == pytest.approx([1.0, 0.375])


def test_moves_between_plans() -> None:
    mv = moves_between({"a1": "R1", "a2": "R1", "a3": "R2"},
                       {"a1": "R1", "a2": "R2", "a3": "R2"},
                       {"a1": 600, "a2": 400, "a3": 300})
    assert mv == [QuotaMove("R1", "R2", Fraction(2, 5))]


def test_yoy_and_potential_cap_bounds() -> None:
    lo, up = yoy_bounds([1_000, 1_000, 999], [0.9, 0.5, 0.8])
    assert lo == [850, 0, 850] and up == [1_300, None, 1_298]
    assert potential_cap_bounds([1_000, 333], 0.25) == [250, 83]


def test_growth_split_floors_at_zero_and_respreads() -> None:
    # growth is -50: rep 0 would get 10 - 45 < 0, so it is floored and rep 1 takes all of S
    idx = growth_split_index([9, 1], [10, 100], 60)
    assert idx == (Fraction(0), Fraction(1))


def test_equal_probability_gives_every_rep_the_same_probability() -> None:
    m = np.asarray([4e8, 2e8, 1e8])
    sig = np.asarray([0.2, 0.35, 0.5])
    a = allocate_quotas(["a", "b", "c"], 700_000_000, over_assignment=0.1,
                        method="equal_probability", expected=m, sigma=sig)
    assert a.common_probability is not None
    q = np.asarray(a.quotas, dtype=float)
    p = ndtr((np.log(m / q) - sig**2 / 2) / sig)
    assert p == pytest.approx([a.common_probability] * 3, abs=1e-6)
    assert sum(a.quotas) == a.street
    # with one σ the method reduces to the expected-bookings shares
    b = allocate_quotas(["a", "b", "c"], 700_000_000, method="equal_probability", expected=m)
    assert b.quotas == (440_000_000, 220_000_000, 110_000_000)


def test_fairness_warnings() -> None:
    a = allocate_quotas(["a", "b"], 100_000_000, over_assignment=0.25, potential=[9, 1],
                        weights=(1, 0, 0), upper=[70_000_000, None])
    reps = [Rep("a"), Rep("b", start_date=date(2026, 10, 1))]
    s = ramp_quotas(a, reps)
    rep = fairness_report(a, potential=[900_000_000, 100_000_000], workload=[1.0, 1.0],
                          schedule=s, ote=[10_000_000, 20_000_000])
    codes = {w.code for w in rep.warnings}
    assert codes == {WarningCode.OVER_ASSIGNMENT, WarningCode.QUOTA_TO_OTE,
                     WarningCode.GINI_KAPPA, WarningCode.STREET_BELOW_TARGET}
    q2o = {w.rep_id for w in rep.warnings if w.code is WarningCode.QUOTA_TO_OTE}
    # a: 70M capped quota / 10M OTE = 7x (inside 3-8x); b: 55M / 20M = 2.75x (outside)
    assert q2o == {"b"}
    assert a.quotas == (70_000_000, 55_000_000)
    # b starts 1 October on the monthly ramp: 55M x 1/4 x mean(0, .25, .5) = 3,437,500.00
    assert s.row("b").ramped_quota == 3_437_500
    assert rep.street_after_relief == 73_437_500


def test_company_probability_matches_simulation() -> None:
    m = np.asarray([3e6, 2e6, 1e6, 1e6, 5e5])
    model = AttainmentModel(sigma=0.35, rho=0.3)
    rng = np.random.default_rng(7)
    n = 200_000
    zc = rng.standard_normal(n)[:, None]
    z = rng.standard_normal((n, m.size))
    x = m * np.exp(-model.sigma**2 / 2 + model.sigma_common * zc + model.sigma_idio * z)
    for thr in (6e6, 7.5e6, 9e6):
        mc = float(np.mean(x.sum(axis=1) >= thr))
        assert prob_sum_at_least(m, model, thr) == pytest.approx(mc, abs=0.01)
    # a single shock (ρ = 1) is exact
    one = AttainmentModel(sigma=0.3, rho=1.0)
    assert prob_sum_at_least(m, one, m.sum()) == pytest.approx(ndtr(-0.15), abs=1e-12)


def test_quotas_for_plan_applies_yoy_caps_only_to_overlapping_reps(tiny) -> None:  # type: ignore[no-untyped-def]
    from terraplan.quota import quotas_for_plan

    book, roster, old, new = tiny
    # potential shares give 600 / 800; R1 kept 100 % of its book, so its quota may not fall
    # below 85 % of last year's 1,000 -> 850; R2 (overlap 37.5 %) absorbs the rest
    res = quotas_for_plan(book, roster, new, 1_400, over_assignment=0, weights=(1, 0, 0),
                          last_year=(old, [1_000, 500]), ramp=RampSchedule.none())
    assert res.allocation.quotas == (850, 550)
    assert res.allocation.clipped == (True, False)
    assert res.potential.tolist() == [600, 800]
    assert [r.ramped_quota for r in res.schedule.rows] == [850, 550]
    assert res.fairness.reps[0].kappa == pytest.approx(850 / 600)
