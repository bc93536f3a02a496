"""The worked examples of the comp spec (E12, E13, E17, E18, E21) with exact expected values."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from terraplan.comp import (
    CompPlan,
    Deal,
    Draw,
    PayoutCurve,
    Team,
    accelerator_for_budget,
    design_curve,
    expected_cost,
    payout_statement,
    sample_attainment,
)
from terraplan.quota import (
    AttainmentModel,
    call_value,
    lognormal_quantile,
    lognormal_tail_mean,
    prob_at_least,
)

K = 100_000  # $1k in cents
E13 = PayoutCurve.from_tiers([(0, 1.0), (1.0, 2.0), (1.5, 3.0)], cap=3.0)


def test_e12_identities() -> None:
    plan = CompPlan(ote=200 * K, base_share=0.5, quota=800 * K)
    assert plan.target_incentive == 100 * K
    assert plan.base == 100 * K
    assert plan.bcr == Fraction(125, 1000)
    assert plan.quota_to_ote == 4
    assert plan.ccos_at_target == Fraction(25, 100)
    assert plan.total_pay(800 * K) == 200 * K


@pytest.mark.parametrize(
    ("attainment", "pay"),
    [("0.5", 50), ("0.8", 80), ("1.0", 100), ("1.2", 140), ("1.5", 200), ("1.6", 230),
     ("2.0", 300)],
)
def test_e13_marginal_curve(attainment: str, pay: int) -> None:
    quota = 1_000 * K
    bookings = int(Fraction(attainment) * quota)
    assert E13.payout(100 * K, bookings, quota) == pay * K


def test_e13_cap_point_and_retroactive_cliff() -> None:
    assert E13.cap_attainment == pytest.approx(1.8333, abs=5e-5)
    assert E13.knots().at[-1] == Fraction(11, 6)
    retro = PayoutCurve.retroactive([(0, 1.0), (1.0, 2.0)])
    ti, quota = 100 * K, 1_000 * K
    assert retro.payout(ti, 990 * K, quota) == 99 * K
    assert retro.payout(ti, 1_000 * K, quota) == 200 * K
    (cliff,) = retro.cliffs(ti)
    assert cliff.attainment == 1.0
    assert cliff.step == 101 * K  # pay at 1.00 minus pay at 0.99
    assert cliff.jump == 100 * K  # the discontinuity itself
    assert E13.cliffs(ti) == ()  # marginal tiers have no cliff


def test_e17_lognormal() -> None:
    assert float(np.exp(0.3**2 / 2)) == pytest.approx(1.046028, abs=5e-7)
    assert float(call_value(0.0, 0.3, 1.0)) == pytest.approx(0.146353, abs=5e-7)
    assert lognormal_quantile(0, 0.3, 0.1) == pytest.approx(0.6808, abs=5e-5)
    assert lognormal_quantile(0, 0.3, 0.5) == pytest.approx(1.0, abs=5e-5)
    assert lognormal_quantile(0, 0.3, 0.9) == pytest.approx(1.4688, abs=5e-5)
    assert float(PayoutCurve.accelerator(2.0).expected(0.0, 0.3)) == pytest.approx(
        1.192380, abs=5e-7)
    model = AttainmentModel(sigma=0.35)
    mu = model.mu_for_share(0.6)
    assert mu == pytest.approx(0.088671, abs=5e-7)
    assert float(prob_at_least(mu, 0.35, 1.0)) == pytest.approx(0.6, abs=1e-12)
    assert float(E13.expected(mu, 0.35)) == pytest.approx(1.399810, abs=5e-7)
    uncapped = PayoutCurve.from_tiers([(0, 1.0), (1.0, 2.0), (1.5, 3.0)])
    assert float(uncapped.expected(mu, 0.35)) == pytest.approx(1.468333, abs=5e-7)


def test_e17_tail_mean_matches_quantile_integral() -> None:
    # E[A | A ≥ a_0.9] by the closed form and by a fine quantile average
    u = 0.9 + (np.arange(200_000) + 0.5) * 0.1 / 200_000
    from scipy.special import ndtri

    direct = float(np.exp(0.3 * ndtri(u)).mean())
    assert lognormal_tail_mean(0.0, 0.3, 0.9) == pytest.approx(direct, rel=1e-6)


def test_e18_budget_accelerator_closed_form() -> None:
    assert accelerator_for_budget(100 * K, 0.0, 0.3, 120 * K) == pytest.approx(2.05206, abs=5e-6)


def test_e18_lp_reproduces_the_closed_form_on_its_scenarios() -> None:
    ti = 100 * K
    team = Team(("a",), np.array([0]), np.array([ti]), np.array([1_000 * K]), np.array([0.0]),
                (PayoutCurve.linear(),), np.array([0]))
    model = AttainmentModel(sigma=0.3, rho=0.3)
    res = design_curve(team, model, budget=120 * K, grid=(0.0, 1.0), n_scenarios=20_000, seed=5)
    assert res.curve is not None
    a = sample_attainment(team.mu, model, 20_000, 5)[:, 0]
    sample_m = 1 + (1.2 - a.mean()) / np.maximum(a - 1, 0).mean()
    assert res.curve.multipliers[1] == pytest.approx(sample_m, rel=1e-7)
    assert res.curve.multipliers[1] == pytest.approx(2.05206, abs=0.05)  # MC noise only
    assert "expected_cost" in res.binding
    # the designed curve's exact expected cost is close to the budget
    assert expected_cost(team.with_curve(res.curve), model).total == pytest.approx(120 * K,
                                                                                  rel=0.01)


def test_e21_recoverable_draw() -> None:
    plan = CompPlan(ote=200 * K, base_share=0.5, quota=1_000 * K)  # BCR 10 %
    deals = [Deal("aug", 7, 5_000 * 100), Deal("sep", 8, 30_000 * 100)]
    st = payout_statement(plan, deals, draw=Draw(1_500 * 100, True, frozenset({7, 8})))
    aug, sep = st.rows[7], st.rows[8]
    assert (aug.commission, aug.paid, aug.balance) == (500 * 100, 1_500 * 100, -1_000 * 100)
    assert (sep.commission, sep.paid, sep.balance) == (3_000 * 100, 2_000 * 100, 0)


def test_e21_non_recoverable_draw() -> None:
    plan = CompPlan(ote=200 * K, base_share=0.5, quota=1_000 * K)
    deals = [Deal("aug", 7, 5_000 * 100), Deal("sep", 8, 30_000 * 100)]
    st = payout_statement(plan, deals, draw=Draw(1_500 * 100, False, frozenset({7, 8})))
    assert st.rows[7].paid == 1_500 * 100 and st.rows[7].guarantee == 1_000 * 100
    assert st.rows[8].paid == 3_000 * 100 and st.rows[8].outstanding == 0


def test_plans_for_roster_scales_ti_by_employment_and_defaults_base_share() -> None:
    from datetime import date

    from terraplan.comp import plans_for_roster
    from terraplan.domain import Rep, RepRoster
    from terraplan.quota import PlanCalendar

    roster = RepRoster.of([
        Rep("a", role="AE", ote=200 * K, base_share=0.5),
        Rep("b", role="CSM", ote=100 * K, start_date=date(2026, 7, 1)),  # half the year
        Rep("c", role="AE", ote=None),
        Rep("d", role="AE", ote=150 * K, end_date=date(2025, 12, 31)),  # gone before the year
    ])
    out = plans_for_roster(roster, {"a": 800 * K, "b": 300 * K, "c": 500 * K, "d": 1},
                           PayoutCurve.linear(), calendar=PlanCalendar(date(2026, 1, 1)))
    assert out.rep_ids == ("a", "b") and out.skipped == ("c", "d")
    a, b = out.plans
    assert a.target_incentive == 100 * K
    # CSM default mix 70/30: TI = 100k x 0.3 x 184/365 (1 July - 31 December)
    assert b.base_share == 0.7
    assert b.target_incentive == round(100 * K * 0.3 * 184 / 365)
    assert b.base + b.target_incentive == round(100 * K * 184 / 365)
