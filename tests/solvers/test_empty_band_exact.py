"""A hard band with no integer total inside makes the problem infeasible in every exact backend.

Hypothesis found it: one account locked to r0, reps r0 (share 2) and r1 (share 1), accounts
balanced at ±50 %: r1's band is [1/6, 1/2] accounts, rounded inward to [1, 0]. CP-SAT's
``add_linear_constraint`` writes an empty constraint for an empty domain, so the rule was
dropped and CP-SAT returned a plan leaving r1 with no account (caught as an internal error by
the plan re-check), while HiGHS and CBC proved the problem infeasible.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

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
from terraplan.problem import compile
from terraplan.solvers import SolveOptions, Status, solve
from terraplan.solvers._exact import add_in_range


def _scenario(locked: bool) -> Scenario:
    accts = [Account(id="a0", location=Point(0.0, 0.0), segment="A", potential=0,
                     workload=0.0, locked_to="r0" if locked else None)]
    reps = [Rep(id="r0", home=Point(0.0, 0.0), target_share=2.0),
            Rep(id="r1", home=Point(0.0, 0.0), target_share=1.0)]
    spec = ScenarioSpec.from_dict({"rules": {
        "balance": [{"metric": "accounts", "tolerance": 0.5}], "locks": True}})
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    return Scenario(spec, book, RepRoster.of(reps))


def test_a_band_with_no_integer_inside_is_infeasible_in_every_exact_backend() -> None:
    p = compile(_scenario(locked=True))
    assert p.lower_int[0, 1] > p.upper_int[0, 1]  # r1's band rounded inward is empty
    for backend in ("cpsat", "milp", "milp-cbc"):
        res = solve(p, backend=backend, explain=False, conflicts=False,
                    options=SolveOptions(time_limit=10, gap=0.0, threads=1))
        assert res.status is Status.INFEASIBLE, (backend, res.status, res.message)


def test_add_in_range_makes_an_empty_range_infeasible_and_keeps_a_proper_one() -> None:
    for lo, hi, expected in ((1, 0, cp_model.INFEASIBLE), (1, 1, cp_model.OPTIMAL)):
        model = cp_model.CpModel()
        x = model.new_bool_var("x")
        add_in_range(model, cp_model.LinearExpr.weighted_sum([x], [1]), lo, hi)
        solver = cp_model.CpSolver()
        assert solver.solve(model) == expected
        if expected == cp_model.OPTIMAL:
            assert solver.value(x) == 1
