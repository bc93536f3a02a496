"""Lower bounds: LP relaxation (HiGHS) and Lagrangian, checked by hand and against plans."""

from __future__ import annotations

import numpy as np
import pytest

from terraplan.domain import AccountBook, RepRoster, Scenario, ScenarioSpec
from terraplan.problem import compile, objective
from terraplan.solvers.bounds import lagrangian_bound, lagrangian_value, lp_bound


def _six(six_accounts: tuple[AccountBook, RepRoster], tol: float) -> Scenario:
    book, roster = six_accounts
    spec = ScenarioSpec.from_dict({"rules": {"eligibility": [], "balance": [
        {"metric": "potential", "tolerance": tol}]}})
    return Scenario(spec=spec, accounts=book, reps=roster)


def test_lp_bound_hand_checked(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    # LP: r1 needs 240 more cents of potential; cheapest per cent is a4 (Δtravel 24 for 400)
    # → move 0.6 of a4: 21 + 0.6·24 = 35.4
    p = compile(_six(six_accounts, 0.2))
    b = lp_bound(p)
    assert b.optimal and b.method == "lp"
    assert b.value == pytest.approx(35.4)
    assert b.value <= 45.0  # the integer optimum (test_heuristic)
    assert b.x is not None and np.all((b.x >= -1e-9) & (b.x <= 1 + 1e-9))


def test_lp_infeasible_band_detected(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    # tolerance 0 is LP-feasible (fractions) — so use a capacity that no split can meet
    book, roster = six_accounts
    from dataclasses import replace

    roster = RepRoster.of([replace(r, capacity=5.0) for r in roster])
    spec = ScenarioSpec.from_dict({"rules": {"eligibility": [], "balance": []}})
    p = compile(Scenario(spec=spec, accounts=book, reps=roster))
    assert lp_bound(p).infeasible  # 21 h of workload, 10 h of capacity


def test_lagrangian_bounds_any_plan(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    p = compile(_six(six_accounts, 0.2))
    b, mu, nu = lagrangian_bound(p, iterations=50, upper_estimate=45.0)
    assert b.value <= 35.4 + 1e-6  # never above the LP bound
    val, _, _ = lagrangian_value(p, mu, nu)
    assert val <= b.value + 1e-9
    assert b.value <= objective(p, np.array([0, 0, 0, 0, 1, 1])) + 1e-9
