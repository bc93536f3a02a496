"""Property tests: every quota invariant of the spec over generated inputs."""

from __future__ import annotations

import math
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from terraplan.domain import Rep
from terraplan.errors import InfeasibleBoundsError
from terraplan.quota import (
    PlanCalendar,
    RampSchedule,
    allocate_quotas,
    employment_ramp,
    ramp_quotas,
    water_fill,
)

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def books(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 10))
    pot = draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n))
    hist = draw(st.lists(st.integers(0, 10**8), min_size=n, max_size=n))
    assume(sum(pot) > 0)
    target = draw(st.integers(1, 10**11))
    o = Fraction(draw(st.integers(0, 30)), 100)
    w = (Fraction(draw(st.integers(0, 10)), 10), Fraction(draw(st.integers(0, 10)), 10), 0)
    assume(w[0] > 0)
    ids = [f"r{i:02d}" for i in range(n)]
    return {"ids": ids, "potential": pot, "history": hist, "target": target, "o": o, "w": w}


@st.composite
def bounded(draw: st.DrawFn) -> dict:
    b = draw(books())
    n = len(b["ids"])
    lo = draw(st.lists(st.integers(0, 2 * 10**10), min_size=n, max_size=n))
    width = draw(st.lists(st.one_of(st.none(), st.integers(0, 4 * 10**10)), min_size=n,
                          max_size=n))
    up = [None if w is None else lo_ + w for lo_, w in zip(lo, width, strict=True)]
    b["lower"], b["upper"] = lo, up
    return b


def _alloc(b: dict, **kw):  # type: ignore[no-untyped-def]
    return allocate_quotas(b["ids"], b["target"], over_assignment=b["o"],
                           potential=b["potential"], history=b["history"], weights=b["w"], **kw)


@SETTINGS
@given(books())
def test_sum_is_street_and_each_quota_is_floor_or_ceil(b: dict) -> None:
    a = _alloc(b)
    assert sum(a.quotas) == a.street
    for q, x in zip(a.quotas, a.exact, strict=True):
        assert q in (math.floor(x), math.ceil(x))
    assert sum(a.index) == 1


@SETTINGS
@given(bounded())
def test_bounds_hold_exactly_and_unclipped_reps_share_one_lambda(b: dict) -> None:
    street = math.floor(b["target"] * (1 + b["o"]) + Fraction(1, 2))
    lo_sum = sum(b["lower"])
    feasible = lo_sum <= street and (any(u is None for u in b["upper"])
                                     or sum(u for u in b["upper"] if u is not None) >= street)
    if not feasible:
        with pytest.raises(InfeasibleBoundsError):
            _alloc(b, lower=b["lower"], upper=b["upper"])
        return
    try:
        a = _alloc(b, lower=b["lower"], upper=b["upper"])
    except InfeasibleBoundsError:
        # only legitimate when reps with a zero index pin the total below S
        free_up = [u for u, x in zip(b["upper"], a_index(b), strict=True) if x > 0]
        assert not free_up or all(u is not None for u in free_up)
        return
    assert sum(a.quotas) == a.street
    for q, x, lo, up in zip(a.quotas, a.exact, b["lower"], b["upper"], strict=True):
        assert lo <= x and (up is None or x <= up)
        assert lo <= q and (up is None or q <= up)
    # every rep strictly inside its bounds sits on λ·S·b
    for x, bi, lo, up in zip(a.exact, a.index, b["lower"], b["upper"], strict=True):
        if lo < x and (up is None or x < up):
            assert x == a.lam * a.street * bi


def a_index(b: dict) -> tuple[Fraction, ...]:
    return _alloc(b).index


@SETTINGS
@given(books(), st.integers(1, 1000))
def test_scaling_potential_or_history_changes_nothing(b: dict, c: int) -> None:
    a = _alloc(b)
    b2 = dict(b, potential=[p * c for p in b["potential"]])
    b3 = dict(b, history=[h * c for h in b["history"]])
    assert _alloc(b2).quotas == a.quotas
    assert _alloc(b3).quotas == a.quotas


@SETTINGS
@given(books(), st.randoms(use_true_random=False))
def test_permuting_reps_changes_nothing_per_rep(b: dict, rnd) -> None:  # type: ignore[no-untyped-def]
    a = _alloc(b)
    order = list(range(len(b["ids"])))
    rnd.shuffle(order)
    b2 = {**b, "ids": [b["ids"][i] for i in order],
          "potential": [b["potential"][i] for i in order],
          "history": [b["history"][i] for i in order]}
    assert _alloc(b2).as_dict() == a.as_dict()


@SETTINGS
@given(books(), st.integers(0, 10**10), st.one_of(st.none(), st.integers(0, 10**11)))
def test_larger_index_with_equal_bounds_gets_no_less(b: dict, lo: int, width: int | None) -> None:
    n = len(b["ids"])
    up = None if width is None else lo + width
    try:
        a = _alloc(b, lower=[lo] * n, upper=[up] * n)
    except InfeasibleBoundsError:
        return
    for i in range(n):
        for j in range(n):
            if a.index[i] >= a.index[j]:
                assert a.exact[i] >= a.exact[j]
            if a.index[i] > a.index[j]:  # equal indices may round apart (tie by rep id)
                assert a.quotas[i] >= a.quotas[j]


@SETTINGS
@given(books())
def test_deterministic(b: dict) -> None:
    assert _alloc(b) == _alloc(b)


@SETTINGS
@given(books(), st.sampled_from([100, 1000, 100_000]))
def test_rounding_unit_keeps_sum_and_whole_units(b: dict, unit: int) -> None:
    # o = 10 % of a target in whole 10-units keeps the street total in whole units
    b = dict(b, target=(b["target"] // (10 * unit)) * 10 * unit + 10 * unit, o=Fraction(1, 10))
    a = _alloc(b, rounding_unit=unit)
    assert sum(a.quotas) == a.street
    assert all(q % unit == 0 for q in a.quotas)
    for q, x in zip(a.quotas, a.exact, strict=True):
        assert q // unit in (math.floor(x / unit), math.ceil(x / unit))


@st.composite
def hires(draw: st.DrawFn) -> list[Rep]:
    n = draw(st.integers(1, 6))
    reps = []
    for i in range(n):
        start = draw(st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2026, 12, 31))))
        end = draw(st.one_of(st.none(), st.integers(0, 500)))
        end_date = None
        if end is not None:
            end_date = (start or date(2025, 6, 1)) + timedelta(days=end)
        reps.append(Rep(f"r{i}", start_date=start, end_date=end_date))
    return reps


@SETTINGS
@given(hires(), st.integers(1, 10**10), st.sampled_from(["quarter", "month"]),
       st.sampled_from([RampSchedule.monthly(), RampSchedule.quarterly()]))
def test_periods_sum_to_rq_relief_identity_and_zero_outside_employment(
    reps: list[Rep], target: int, kind: str, ramp: RampSchedule
) -> None:
    ids = [r.id for r in reps]
    a = allocate_quotas(ids, target, method="even")
    cal = PlanCalendar(date(2026, 1, 1), kind)  # type: ignore[arg-type]
    s = ramp_quotas(a, reps, calendar=cal, ramp=ramp)
    mp = cal.months_per_period
    for rep, row in zip(reps, s.rows, strict=True):
        assert sum(row.periods) == row.ramped_quota
        assert row.ramped_quota + row.relief + row.vacancy == row.territory_quota
        assert min(row.ramped_quota, row.relief, row.vacancy) >= 0
        emp, _ = employment_ramp(rep.start_date, rep.end_date, cal, ramp)
        for k, q in enumerate(row.periods):
            if all(e == 0 for e in emp[k * mp:(k + 1) * mp]):
                assert q == 0


@SETTINGS
@given(hires(), st.integers(1, 10**10))
def test_redistribute_mode_sums_to_street(reps: list[Rep], target: int) -> None:
    ids = [r.id for r in reps]
    a = allocate_quotas(ids, target, method="even")
    cal = PlanCalendar()
    caps = [employment_ramp(r.start_date, r.end_date, cal, RampSchedule.monthly())[1]
            for r in reps]
    assume(any(sum(c) > 0 for c in caps))
    s = ramp_quotas(a, reps, mode="redistribute")
    assert s.total_ramped == a.street
    for row in s.rows:
        assert sum(row.periods) == row.ramped_quota


def test_water_fill_single_lambda_example() -> None:
    # b = [.5, .3, .2], S = 100, rep 0 capped at 40: λ re-spreads 60 over .3/.2 -> 36/24
    x, lam = water_fill([Fraction(1, 2), Fraction(3, 10), Fraction(1, 5)], 100,
                        [0, 0, 0], [40, None, None])
    assert x == (40, 36, 24)
    assert lam == Fraction(6, 5)
