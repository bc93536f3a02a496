"""The worked examples of the quota spec (E1–E10, E22) with their exact expected values."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
import pytest

from terraplan.domain import Rep
from terraplan.errors import InfeasibleBoundsError
from terraplan.evaluate.fairness import band_share, cv, gini, max_min
from terraplan.quota import (
    AttainmentModel,
    QuotaMethod,
    RampSchedule,
    allocate_quotas,
    apportion,
    fairness_report,
    ramp_quotas,
    seasonal_split,
    street_total,
)

M = 100_000_000  # $1M in cents
P = [20 * M, 15 * M, 10 * M, 5 * M]
H = [400_000_000, 200_000_000, 120_000_000, 80_000_000]
IDS = ["r1", "r2", "r3", "r4"]


def test_e1_blended_top_down() -> None:
    a = allocate_quotas(IDS, 10 * M, over_assignment=0.10, potential=P, history=H,
                        weights=(0.6, 0.4, 0))
    assert a.street == 11 * M
    assert a.index == (Fraction(44, 100), Fraction(28, 100), Fraction(18, 100), Fraction(10, 100))
    assert a.quotas == (484_000_000, 308_000_000, 198_000_000, 110_000_000)
    kappa = np.asarray(a.quotas) / np.asarray(P)
    assert cv(kappa) == pytest.approx(0.0777, abs=5e-5)
    assert max_min(kappa) == pytest.approx(1.2222, abs=5e-5)
    rep = fairness_report(a, potential=P, workload=[1.0, 1.0, 1.0, 1.0])
    assert rep.kappa.cv == pytest.approx(0.0777, abs=5e-5)
    assert rep.kappa.max_min == pytest.approx(1.2222, abs=5e-5)


def test_e2_growth_split() -> None:
    a = allocate_quotas(IDS, 10 * M, over_assignment=0.10, method=QuotaMethod.GROWTH_SPLIT,
                        potential=P, history=H)
    assert a.quotas == (520_000_000, 290_000_000, 180_000_000, 110_000_000)


def test_e3_cents_tie_goes_to_first_rep_id() -> None:
    a = allocate_quotas(["a", "b", "c"], 100_000_000, over_assignment=0.15, method="even")
    assert a.street == 115_000_000
    assert a.quotas == (38_333_334, 38_333_333, 38_333_333)
    # the tie is broken by rep id, not by input position
    b = allocate_quotas(["c", "b", "a"], 100_000_000, over_assignment=0.15, method="even")
    assert b.as_dict() == {"a": 38_333_334, "b": 38_333_333, "c": 38_333_333}


def test_e3_equal_weights_blended() -> None:
    a = allocate_quotas(["a", "b", "c"], 100_000_000, over_assignment=0.15,
                        potential=[5, 5, 5], history=[7, 7, 7])
    assert a.quotas == (38_333_334, 38_333_333, 38_333_333)


def test_e4_largest_remainder() -> None:
    assert apportion(7, [5, 3, 2]) == [4, 2, 1]


def test_e6_money_split() -> None:
    assert apportion(800, [1, 1, 1]) == [267, 267, 266]
    assert apportion(10_000_001, [1, 1, 1, 1]) == [2_500_001, 2_500_000, 2_500_000, 2_500_000]


def test_e8_seasonality() -> None:
    assert seasonal_split(84_000_000, [0.22, 0.24, 0.25, 0.29]) == [
        18_480_000, 20_160_000, 21_000_000, 24_360_000]


def test_e8_seasonality_in_schedule() -> None:
    a = allocate_quotas(["x"], 84_000_000, over_assignment=0, method="even")
    s = ramp_quotas(a, seasonality=[0.22, 0.24, 0.25, 0.29])
    assert s.row("x").periods == (18_480_000, 20_160_000, 21_000_000, 24_360_000)


@pytest.mark.parametrize(
    ("start", "periods", "rq", "relief", "vacancy"),
    [
        (date(2026, 1, 1), (5_000_000, 10_000_000, 15_000_000, 20_000_000), 50_000_000,
         30_000_000, 0),
        (date(2026, 7, 1), (0, 0, 5_000_000, 10_000_000), 15_000_000, 25_000_000, 40_000_000),
    ],
)
def test_e9_ramp_quarterly(start: date, periods: tuple[int, ...], rq: int, relief: int,
                           vacancy: int) -> None:
    a = allocate_quotas(["x"], 80_000_000, over_assignment=0, method="even")
    s = ramp_quotas(a, [Rep("x", start_date=start)], ramp=RampSchedule.quarterly())
    row = s.row("x")
    assert row.territory_quota == 80_000_000
    assert row.periods == periods
    assert (row.ramped_quota, row.relief, row.vacancy) == (rq, relief, vacancy)


def test_e10_fairness_statistics() -> None:
    x = [1, 2, 3, 4]
    assert gini(x) == pytest.approx(0.25, abs=1e-12)
    assert cv(x) == pytest.approx(0.447214, abs=5e-7)
    assert max_min(x) == 4.0
    assert band_share(x, band=0.15) == 0.0
    w = [0.9507, 1.3377, 0.7048, 1.0068]
    assert gini(w) == pytest.approx(0.122175, abs=5e-7)
    assert cv(w) == pytest.approx(0.225644, abs=5e-7)
    assert max_min(w) == pytest.approx(1.897985, abs=5e-7)


def test_e10_workload_dispersion_in_report() -> None:
    a = allocate_quotas(IDS, 10 * M, potential=P, history=H)
    rep = fairness_report(a, potential=P, workload=[0.9507, 1.3377, 0.7048, 1.0068])
    assert rep.workload.gini == pytest.approx(0.122175, abs=5e-7)
    assert rep.workload.cv == pytest.approx(0.225644, abs=5e-7)
    assert rep.workload.max_min == pytest.approx(1.897985, abs=5e-7)


@pytest.mark.parametrize(
    ("o", "sigma", "share"),
    [(0.0, 0.2, 46.0), (0.0, 0.3, 44.0), (0.0, 0.4, 42.1),
     (0.10, 0.2, 28.2), (0.10, 0.3, 32.0), (0.10, 0.4, 33.1),
     (0.20, 0.2, 15.6), (0.20, 0.3, 22.4), (0.20, 0.4, 25.6)],
)
def test_e22_over_assignment_consistency(o: float, sigma: float, share: float) -> None:
    # company exactly on target: expected bookings sum to T, quotas sum to T(1 + o)
    a = allocate_quotas(IDS, 10 * M, over_assignment=o, potential=P, history=H)
    rep = fairness_report(a, potential=P, workload=[1.0] * 4,
                          model=AttainmentModel(sigma=sigma, rho=0.3))
    assert round(100 * rep.share_at_quota, 1) == share
    for r in rep.reps:
        assert round(100 * r.p_quota, 1) == share


def test_street_total_half_up() -> None:
    assert street_total(1, Fraction(1, 2)) == 2  # 1.5 -> 2
    assert street_total(3, Fraction(1, 2)) == 5  # 4.5 -> 5 (not banker's 4)
    assert street_total(1_000_000_000, 0.1) == 1_100_000_000


def test_infeasible_bounds_name_the_totals() -> None:
    with pytest.raises(InfeasibleBoundsError, match=r"\$6,000,000.00.*\$5,500,000.00"):
        allocate_quotas(["a", "b"], 500_000_000, potential=[1, 1],
                        lower=[300_000_000, 300_000_000])
    with pytest.raises(InfeasibleBoundsError, match="upper quota bounds"):
        allocate_quotas(["a", "b"], 500_000_000, potential=[1, 1],
                        upper=[100_000_000, 100_000_000])
