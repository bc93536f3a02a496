"""Comp invariants of the spec: curve shape, identities, statements, cost and design."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.comp import (
    Clawback,
    CompPlan,
    Deal,
    Draw,
    PayoutCurve,
    Team,
    comonotone_cvar,
    cvar,
    design_curve,
    expected_cost,
    payout_statement,
    replay_cost,
    sample_attainment,
    simulate_cost,
)
from terraplan.errors import ParameterError
from terraplan.quota import AttainmentModel

SETTINGS = settings(max_examples=50, deadline=None)


@st.composite
def curves(draw: st.DrawFn, normalised: bool = True) -> PayoutCurve:
    k = draw(st.integers(1, 5))
    inner = sorted(set(draw(st.lists(st.sampled_from(
        [0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5]), min_size=k - 1, max_size=k - 1))))
    a = (0.0, *inner)
    m = draw(st.lists(st.floats(0.0, 4.0).map(lambda x: round(x, 3)), min_size=len(a),
                      max_size=len(a)))
    j = [0.0] + draw(st.lists(st.floats(0.0, 0.5).map(lambda x: round(x, 3)),
                              min_size=len(a) - 1, max_size=len(a) - 1))
    cap = draw(st.one_of(st.none(), st.floats(0.5, 5.0)))
    raw = PayoutCurve(a, tuple(m), tuple(j), cap, at_quota_is_one=False)
    if not normalised:
        return raw
    f1 = float(raw.value_exact(Fraction(1)))
    if f1 < 1e-3:
        m = [1.0] * len(a)
        j = [0.0] * len(a)
        raw = PayoutCurve(a, tuple(m), tuple(j), None, at_quota_is_one=False)
        f1 = float(raw.value_exact(Fraction(1)))
    c = None if cap is None else max(cap / f1, 1.0)
    return PayoutCurve(a, tuple(x / f1 for x in m), tuple(x / f1 for x in j), c)


@SETTINGS
@given(curves())
def test_f_of_one_is_one_and_f_is_non_decreasing_and_capped(c: PayoutCurve) -> None:
    assert float(c.value_exact(Fraction(1))) == pytest.approx(1.0, abs=1e-9)
    grid = np.linspace(0.0, 4.0, 2001)
    v = c(grid)
    assert np.all(np.diff(v) >= -1e-12)
    if c.cap is not None:
        assert v.max() <= c.cap + 1e-12
        ti = 12_345_678
        assert c.payout(ti, 10**12, 10**6) <= c.cap * ti + 0.5


@SETTINGS
@given(curves(normalised=False))
def test_fast_float_and_exact_evaluation_agree(c: PayoutCurve) -> None:
    a = np.random.default_rng(0).lognormal(0.0, 0.6, 400)
    a = np.concatenate([a, np.asarray(c.breakpoints)])  # knots themselves (jumps)
    exact = np.asarray([float(c.value_exact(Fraction(float(x)))) for x in a])
    assert np.allclose(c(a), exact, rtol=1e-12, atol=1e-12)
    assert np.allclose(c.evaluate_fast(a), exact, rtol=1e-12, atol=1e-12)
    assert np.allclose(c.evaluate_fast(a.astype(np.float32)),
                       c(a.astype(np.float32)), rtol=1e-9, atol=1e-9)


def test_invalid_curves_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"f\(1\) = 1"):
        PayoutCurve((0.0, 1.0), (1.0, 2.0), cap=0.5)
    with pytest.raises(ParameterError, match="non-decreasing"):
        PayoutCurve((0.0, 1.0), (1.0, -1.0))
    with pytest.raises(ParameterError, match="strictly increasing"):
        PayoutCurve((0.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    with pytest.raises(ParameterError, match="non-decreasing"):
        PayoutCurve.retroactive([(0, 2.0), (1.0, 1.0)])


@SETTINGS
@given(curves(normalised=False), st.floats(-0.5, 0.5), st.floats(0.05, 0.8),
       st.integers(0, 20), st.floats(0.01, 0.5))
def test_expected_payout_increases_with_every_multiplier_jump_and_cap(
    c: PayoutCurve, mu: float, sigma: float, which: int, delta: float
) -> None:
    base = float(c.expected(mu, sigma))
    k = which % len(c.breakpoints)
    m = list(c.multipliers)
    m[k] += delta
    bumped = PayoutCurve(c.breakpoints, tuple(m), c.jumps, c.cap, at_quota_is_one=False)
    assert float(bumped.expected(mu, sigma)) >= base - 1e-12
    if k > 0:
        j = list(c.jumps)
        j[k] += delta
        bumped = PayoutCurve(c.breakpoints, c.multipliers, tuple(j), c.cap, at_quota_is_one=False)
        assert float(bumped.expected(mu, sigma)) >= base - 1e-12
    if c.cap is not None:
        bumped = PayoutCurve(c.breakpoints, c.multipliers, c.jumps, c.cap + delta,
                             at_quota_is_one=False)
        assert float(bumped.expected(mu, sigma)) >= base - 1e-12


def test_expected_payout_strictly_increases_in_the_accelerator() -> None:
    vals = [float(PayoutCurve.accelerator(m).expected(0.0, 0.3)) for m in (1.0, 1.5, 2.0, 3.0)]
    assert all(b > a for a, b in zip(vals, vals[1:], strict=False))


@SETTINGS
@given(st.integers(1, 10**9), st.floats(0.0, 0.95), st.integers(1, 10**10), curves())
def test_identities_bcr_and_ccos_at_target(ote: int, beta: float, quota: int,
                                           c: PayoutCurve) -> None:
    plan = CompPlan(ote=ote, base_share=beta, quota=quota, curve=c)
    assert plan.bcr * quota == plan.target_incentive
    assert plan.base + plan.target_incentive == ote
    assert Fraction(plan.total_pay(quota), quota) == Fraction(ote, quota)
    assert plan.ccos_at_target == Fraction(ote, quota)


@st.composite
def years(draw: st.DrawFn) -> tuple[list[Deal], list[Clawback], dict[int, int], Draw | None]:
    n = draw(st.integers(0, 15))
    deals = [Deal(f"d{i}", draw(st.integers(0, 11)), draw(st.integers(0, 3 * 10**7)))
             for i in range(n)]
    claws = []
    for d in deals:
        if draw(st.booleans()) and draw(st.booleans()):
            claws.append(Clawback(d.deal_id, draw(st.integers(d.period, 11)),
                                  draw(st.one_of(st.none(), st.integers(0, 10**7)))))
    spif = {k: draw(st.integers(0, 10**5)) for k in draw(st.sets(st.integers(0, 11),
                                                                 max_size=3))}
    draw_ = draw(st.one_of(st.none(), st.builds(
        Draw, st.integers(0, 10**6), st.booleans(),
        st.one_of(st.none(), st.frozensets(st.integers(0, 11))))))
    return deals, claws, spif, draw_


@SETTINGS
@given(years(), curves())
def test_statement_invariants(year, c: PayoutCurve) -> None:  # type: ignore[no-untyped-def]
    deals, claws, spif, draw = year
    plan = CompPlan(ote=20_000_000, base_share=0.5, quota=100_000_000, curve=c)
    st_ = payout_statement(plan, deals, clawbacks=claws, spif=spif, draw=draw)
    # commissions add up to the annual payout on total bookings, to the cent
    total = sum(d.amount for d in deals)
    assert sum(r.commission for r in st_.rows) == plan.incentive(total)
    assert sum(st_.deal_commission.values()) == plan.incentive(total)
    for deal_id, taken in st_.clawed_back.items():
        assert 0 <= taken <= st_.deal_commission[deal_id]
    assert all(r.outstanding >= 0 for r in st_.rows)
    guarantees = sum(r.guarantee for r in st_.rows)
    assert st_.total_paid - st_.total_earned - guarantees == st_.final_outstanding
    if draw is None or draw.recoverable:
        assert guarantees == 0


def test_replay_is_exact() -> None:
    plans = [CompPlan(20_000_000, 0.5, 80_000_000, PayoutCurve.accelerator(2.0)),
             CompPlan(16_000_000, 0.6, 60_000_000, PayoutCurve.linear(cap=2.0))]
    r = replay_cost(["a", "b"], plans, [96_000_000, 150_000_000], spif=500_000)
    # a: 10M base + 10M·(1 + 2·0.2) = 24M; b: 9.6M base + 6.4M·min(2.5, 2) = 22.4M
    assert r.pay == (24_000_000, 22_400_000)
    assert r.total == 46_900_000
    assert r.ccos == Fraction(46_900_000, 246_000_000)


def _team(curve: PayoutCurve, n: int = 20, mu: float = 0.05) -> Team:
    rng = np.random.default_rng(11)
    ti = rng.integers(5_000_000, 15_000_000, n)
    return Team(tuple(f"r{i}" for i in range(n)), ti.copy(), ti,
                rng.integers(40_000_000, 90_000_000, n), np.full(n, mu) + rng.normal(0, .1, n),
                (curve,), np.zeros(n, dtype=np.intp), spif=1_000_000)


@pytest.mark.parametrize("curve", [
    PayoutCurve.linear(),
    PayoutCurve.accelerator(2.0),
    PayoutCurve.from_tiers([(0, 1.0), (1.0, 2.0), (1.5, 3.0)], cap=3.0),
    PayoutCurve.retroactive([(0, 1.0), (1.0, 2.0)], cap=2.5),
    PayoutCurve((0.0, 0.5, 1.0, 1.2), (0.0, 1.5, 2.0, 1.0), (0.0, 0.25, 0.0, 0.2)),
], ids=["linear", "accelerator", "e13", "retro-capped", "gate-kicker"])
@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0])
def test_monte_carlo_mean_within_4_standard_errors_of_closed_form(
    curve: PayoutCurve, rho: float
) -> None:
    team = _team(curve)
    model = AttainmentModel(sigma=0.35, rho=rho)
    sim = simulate_cost(team, model, n_scenarios=40_000, seed=2024)
    assert sim.closed_form_mean == pytest.approx(expected_cost(team, model).total)
    assert abs(sim.z_score) <= 4.0
    assert sim.p50 <= sim.p90 <= sim.cvar90
    assert sim.histogram_counts.sum() == sim.n_scenarios


def test_simulation_is_deterministic_for_a_seed_whatever_the_threads() -> None:
    team = _team(PayoutCurve.accelerator(2.0), n=30)
    model = AttainmentModel()
    a = simulate_cost(team, model, n_scenarios=3_000, seed=9, workers=1, block_cells=3_000)
    b = simulate_cost(team, model, n_scenarios=3_000, seed=9, workers=2, block_cells=3_000)
    c = simulate_cost(team, model, n_scenarios=3_000, seed=10, workers=1, block_cells=3_000)
    assert np.array_equal(a.costs, b.costs)
    assert not np.array_equal(a.costs, c.costs)


def test_cvar_bounded_by_comonotone_and_non_decreasing_in_rho() -> None:
    team = _team(PayoutCurve.from_tiers([(0, 1.0), (1.0, 2.0)], cap=3.0), n=40)
    values = []
    for rho in (0.0, 0.2, 0.5, 0.8, 1.0):
        sim = simulate_cost(team, AttainmentModel(sigma=0.35, rho=rho), n_scenarios=20_000,
                            seed=3)
        values.append(sim.cvar90)
    como = comonotone_cvar(team, AttainmentModel(sigma=0.35, rho=1.0))
    assert values[-1] == pytest.approx(como, rel=0.01)  # ρ = 1 is the comonotone case
    for v in values:
        assert v <= como * 1.005  # Monte Carlo tolerance
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))


def test_cvar_definition() -> None:
    x = np.arange(1, 11, dtype=float)  # worst 10 % of 10 values is {10}
    assert cvar(x, 0.9) == 10.0
    assert cvar(x, 0.8) == 9.5


@pytest.mark.parametrize(("mean_ratio", "cvar_ratio", "leverage", "flat"), [
    (1.10, None, None, False),
    (1.15, 1.40, 1.5, False),
    (1.20, 1.35, None, True),
])
def test_design_satisfies_every_constraint_on_its_scenarios(
    mean_ratio: float, cvar_ratio: float | None, leverage: float | None, flat: bool
) -> None:
    team = _team(PayoutCurve.linear(), n=25, mu=0.0)
    model = AttainmentModel(sigma=0.35, rho=0.3)
    ti = int(team.ti.sum())
    fixed = int(team.base.sum()) + team.spif
    budget = fixed + int(mean_ratio * ti)
    cvar_budget = None if cvar_ratio is None else fixed + int(cvar_ratio * ti)
    res = design_curve(team, model, budget=budget, cvar_budget=cvar_budget, m_max=3.0,
                       leverage_min=leverage, flat_last_band=flat, n_scenarios=3_000, seed=1)
    assert res.status == "optimal", res.message
    curve = res.curve
    assert curve is not None
    a = sample_attainment(team.mu, model, 3_000, 1)
    costs = fixed + curve(a) @ team.ti.astype(float)
    tol = 1e-6 * budget
    assert costs.mean() <= budget + tol
    assert res.expected_cost == pytest.approx(costs.mean(), rel=1e-9)
    if cvar_budget is not None:
        assert cvar(costs, 0.9) <= cvar_budget + tol
    assert float(curve.value_exact(Fraction(1))) == pytest.approx(1.0, abs=1e-9)
    m = curve.multipliers
    assert all(0.0 <= x <= 3.0 + 1e-9 for x in m)
    above = [k for k, b in enumerate(curve.breakpoints) if b >= 1.0]
    if flat:
        assert m[-1] == 0.0
        above = above[:-1]
    assert all(m[j] >= m[i] - 1e-9 for i, j in zip(above, above[1:], strict=False))
    if leverage is not None:
        assert float(curve(np.asarray(res.leverage_point))) >= leverage - 1e-9
    # the sensitivity of E[C] to each multiplier is the exact linear coefficient
    k = 2
    bumped = list(m)
    bumped[k] += 0.1
    c2 = PayoutCurve(curve.breakpoints, tuple(bumped), at_quota_is_one=False)
    d = (fixed + c2(a) @ team.ti.astype(float)).mean() - costs.mean()
    assert res.sensitivity[k].d_expected_cost == pytest.approx(d / 0.1, rel=1e-9)


def test_design_reports_infeasible_budget_as_a_status() -> None:
    team = _team(PayoutCurve.linear(), n=5)
    res = design_curve(team, AttainmentModel(), budget=int(team.base.sum()) + 1,
                       n_scenarios=500, seed=0)
    assert res.status == "infeasible" and res.curve is None


def test_cvar_cutting_planes_match_the_rockafellar_uryasev_lp() -> None:
    team = _team(PayoutCurve.linear(), n=10, mu=0.0)
    model = AttainmentModel(sigma=0.35, rho=0.3)
    ti = int(team.ti.sum())
    fixed = int(team.base.sum()) + team.spif
    kw = {"budget": fixed + int(1.15 * ti), "cvar_budget": fixed + int(1.40 * ti),
          "leverage_min": 1.4, "n_scenarios": 1_001, "seed": 4}
    cuts = design_curve(team, model, cvar_method="cuts", **kw)  # type: ignore[arg-type]
    ru = design_curve(team, model, cvar_method="ru", **kw)  # type: ignore[arg-type]
    assert cuts.status == ru.status == "optimal"
    assert cuts.objective == pytest.approx(ru.objective, rel=1e-7)
    assert cuts.cvar == pytest.approx(ru.cvar, rel=1e-6)
    assert "cvar" in cuts.binding and "cvar" in ru.binding
    assert cuts.duals["cvar"] == pytest.approx(ru.duals["cvar"], rel=1e-5)
