"""Soft balance in the exact backends is priced from the exact band edges and target.

Two cases hypothesis found: the integer band edges (rounded inward, right for hard bands)
overcharged each deviation by up to a unit, and CP-SAT's target rounded to a whole unit
(13.67 → 14) shifted the optimum; both "proved optimal" plans the evaluator scores worse
than another backend's plan.
"""

from __future__ import annotations

import pytest
from solverfixtures import check_plan

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, Status, solve


def _scenario(workloads: list[float], third_home: tuple[float, float]) -> Scenario:
    accts = [Account(id=f"a{i}", location=Point(0.0, 0.0), segment="A", potential=0,
                     workload=w) for i, w in enumerate(workloads)]
    homes = [(0.0, 0.0), (0.0, 0.0), third_home]
    reps = [Rep(id=f"r{j}", home=Point(*h)) for j, h in enumerate(homes)]
    spec = ScenarioSpec.from_dict({
        "rules": {"balance": [{"metric": "workload", "tolerance": 0.3, "hard": False,
                               "penalty": 7.0}]},
        "objective": {"travel_weighting": "none"}})
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    return Scenario(spec, book, RepRoster.of(reps))


@pytest.mark.parametrize(("workloads", "third_home", "optimum"), [
    # target 1.5, band [1.05, 1.95]: {a0, a1} 2.0 (0.05 over), {a2} 2.5 (0.55 over), third
    # rep empty (1.05 under): 1.65 / 1.5 · 7 = 7.7 (integer edges [11, 19] charged 8.4)
    ([0.1, 1.9, 2.5], (1.0, 0.0), 1.65 / 1.5 * 7),
    # target 4.1 / 3, band ±30 %: {a1}, {a2} and a0 at the third rep (travel 1):
    # (1.9 − u) + (2.1 − u) + (l − 0.1), u = 1.3 · 4.1 / 3, l = 0.7 · 4.1 / 3
    ([0.1, 1.9, 2.1], (0.0, 1.0),
     1.0 + ((1.9 + 2.1 - 2 * 1.3 * 4.1 / 3) + (0.7 * 4.1 / 3 - 0.1)) / (4.1 / 3) * 7),
])
def test_exact_backends_price_soft_bands_exactly(workloads: list[float],
                                                 third_home: tuple[float, float],
                                                 optimum: float) -> None:
    sc = _scenario(workloads, third_home)
    p = compile(sc)
    for backend in ("cpsat", "milp"):
        res = solve(p, backend=backend, explain=False, conflicts=False,
                    options=SolveOptions(time_limit=10, gap=0.0, threads=1))
        assert res.status is Status.OPTIMAL, res.message
        assert res.objective == pytest.approx(optimum, rel=1e-6)
        check_plan(sc, decode(p, res.assignment), res.objective)
