"""A hard band with no whole number inside, on a rep with no candidate pair, is infeasible.

Hypothesis found it: one account locked to r0, reps r0 (share 2) and r1 (share 1), accounts
balanced at ±50 %: r1's band is [1/6, 1/2] accounts, rounded inward to [1, 0], and r1 has no
pair. CP-SAT's ``add_linear_constraint`` drops a constraint whose expression has no variable
and whose domain is empty (ortools 9.15; with a variable the model is infeasible, as it
should be), so CP-SAT returned a plan leaving r1 empty (caught as an internal error by the
plan re-check), while HiGHS and CBC proved the problem infeasible. The conformance case
``balance_empty_band`` (:func:`solverfixtures.infeasible_cases`) is the same situation on the
six-account line, run through every backend and the conflict analysis.
"""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model
from solverfixtures import infeasible_cases

from terraplan.problem import compile
from terraplan.solvers import SolveOptions, Status, solve
from terraplan.solvers._exact import add_in_range


def test_a_band_with_no_integer_inside_is_infeasible_in_every_exact_backend() -> None:
    case = next(c for c in infeasible_cases() if c.name == "balance_empty_band")
    p = compile(case.scenario)
    r1 = case.scenario.reps.ids.index("r1")
    assert p.lower_int[0, r1] > p.upper_int[0, r1]  # r1's band rounded inward is empty
    assert not (p.indices == r1).any()  # and r1 has no candidate pair
    for backend in ("cpsat", "milp", "milp-cbc"):
        res = solve(p, backend=backend, explain=False, conflicts=False,
                    options=SolveOptions(time_limit=10, gap=0.0, threads=1))
        assert res.status is Status.INFEASIBLE, (backend, res.status, res.message)


@pytest.mark.parametrize("with_variable", [False, True])
def test_add_in_range_makes_an_empty_range_infeasible_and_keeps_a_proper_one(
        with_variable: bool) -> None:
    for lo, hi, expected in ((1, 0, cp_model.INFEASIBLE), (0, 1, cp_model.OPTIMAL)):
        model = cp_model.CpModel()
        x = model.new_bool_var("x")
        terms = [x] if with_variable else []
        add_in_range(model, cp_model.LinearExpr.weighted_sum(terms, [1] * len(terms)), lo, hi)
        assert cp_model.CpSolver().solve(model) == expected, (lo, hi, with_variable)
