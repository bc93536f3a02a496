"""Backend conformance: every registered backend, every rule, feasible and infeasible.

Each case is small enough to check on paper (see ``solverfixtures``). For every backend that can
encode the case's rules:

* a returned plan passes the independent evaluator (no hard violation) and the evaluator's
  recomputed objective equals the reported one (1e-6 relative);
* exact backends prove the hand-computed optimum (and find the unique optimal plan); other
  backends return a plan no better than it;
* infeasible cases end without a plan; exact backends prove infeasibility and name the smallest
  conflicting rule groups.

A backend that cannot encode a rule must raise ``UnsupportedRuleError`` naming it.
"""

from __future__ import annotations

import pytest
from solverfixtures import Case, check_plan, feasible_cases, infeasible_cases

from terraplan.errors import UnsupportedRuleError
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, Status, backends, get_backend, solve
from terraplan.solvers.diagnose import diagnose

EXACT = {"cpsat", "milp", "milp-cbc"}
OPTS = SolveOptions(time_limit=10.0, threads=1)

FEASIBLE = feasible_cases()
INFEASIBLE = infeasible_cases()


def _solve_or_skip(case: Case, backend: str, **kw):
    problem = compile(case.scenario)
    rule = get_backend(backend).unsupported(problem)
    if rule is not None:
        with pytest.raises(UnsupportedRuleError, match=rule.split("[")[0]):
            solve(problem, backend=backend, options=OPTS)
        pytest.skip(f"{backend} does not encode {rule}")
    return problem, solve(problem, backend=backend, options=OPTS, **kw)


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("case", FEASIBLE, ids=[c.name for c in FEASIBLE])
def test_feasible_case(backend: str, case: Case) -> None:
    problem, res = _solve_or_skip(case, backend)
    assert res.status.has_plan, (res.status, res.message)
    assert res.assignment is not None and res.objective is not None
    plan = decode(problem, res.assignment, solver=backend)
    check_plan(case.scenario, plan, res.objective)
    assert case.optimum is not None
    assert res.objective >= case.optimum - 1e-6 * max(1.0, case.optimum)
    if backend in EXACT:
        assert res.status is Status.OPTIMAL
        assert res.objective == pytest.approx(case.optimum, rel=1e-6)
        assert res.bound is not None and res.bound <= res.objective + 1e-9
        assert res.gap is not None and res.gap <= OPTS.gap + 1e-6
        if case.assignment is not None:
            assert tuple(res.assignment.tolist()) == case.assignment


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("case", INFEASIBLE, ids=[c.name for c in INFEASIBLE])
def test_infeasible_case(backend: str, case: Case) -> None:
    _, res = _solve_or_skip(case, backend)
    assert not res.status.has_plan
    if backend in EXACT:
        assert res.status is Status.INFEASIBLE, res.message
        assert case.conflicts is not None
        assert frozenset(res.conflicts) == case.conflicts, res.conflicts


@pytest.mark.parametrize("case", INFEASIBLE, ids=[c.name for c in INFEASIBLE])
def test_diagnostics_name_provable_infeasibilities(case: Case) -> None:
    findings = diagnose(compile(case.scenario))
    text = "\n".join(str(f) for f in findings)
    for needle in case.findings:
        assert needle in text, text
    if case.findings:
        # every finding names rule groups that really are in the conflict
        assert case.conflicts is not None
        assert any(set(f.rules) <= case.conflicts | {"eligibility"} for f in findings)


@pytest.mark.parametrize("case", FEASIBLE, ids=[c.name for c in FEASIBLE])
def test_diagnostics_silent_on_feasible_cases(case: Case) -> None:
    assert diagnose(compile(case.scenario)) == []


def test_exact_backends_agree_on_every_feasible_case() -> None:
    names = [b for b in backends() if b in EXACT]
    for case in FEASIBLE:
        problem = compile(case.scenario)
        objs = {b: solve(problem, backend=b, options=OPTS).objective for b in names}
        first = objs[names[0]]
        assert first is not None
        assert all(o == pytest.approx(first, rel=1e-6) for o in objs.values()), (case.name, objs)
