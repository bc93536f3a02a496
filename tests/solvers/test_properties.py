"""Property tests: random small scenarios, every backend.

* any plan a backend returns passes the evaluator's hard rules and its objective matches;
* the exact backends agree on feasibility and (solved to gap 0) on the optimal objective;
* diagnostics are sound: when ``diagnose`` reports a finding, the problem is infeasible.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solverfixtures import check_plan

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
    ScenarioSpec,
)
from terraplan.errors import PrecisionWarning
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, Status, backends, get_backend, solve
from terraplan.solvers.diagnose import diagnose

EXACT = ("cpsat", "milp")
OPTS = SolveOptions(time_limit=5.0, gap=0.0, threads=1)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    m = draw(st.integers(1, 3))
    rep_ids = [f"r{j}" for j in range(m)]
    reps = []
    for rid in rep_ids:
        reps.append(Rep(
            id=rid, home=Point(draw(st.integers(0, 10)), draw(st.integers(0, 4))),
            segments=frozenset(draw(st.sampled_from([(), ("A",), ("B",), ("A", "B")]))),
            capacity=draw(st.one_of(st.none(), st.integers(2, 25).map(float))),
            target_share=draw(st.sampled_from([1.0, 1.0, 2.0])),
            status=draw(st.sampled_from([RepStatus.ACTIVE] * 5 + [RepStatus.DEPARTING,
                                                                  RepStatus.PLANNED_HIRE])),
        ))
    n = draw(st.integers(1, 8))
    accts = []
    for i in range(n):
        parent = None
        if i and draw(st.integers(0, 6)) == 0:
            parent = f"a{draw(st.integers(0, i - 1))}"
        accts.append(Account(
            id=f"a{i}", location=Point(draw(st.integers(0, 10)), draw(st.integers(0, 4))),
            segment=draw(st.sampled_from(["A", "B"])),
            potential=draw(st.integers(0, 1000)), workload=draw(st.integers(0, 80)) / 10,
            pipeline=draw(st.sampled_from([0, 0, 500])),
            current_owner=draw(st.one_of(st.none(), st.sampled_from(rep_ids))),
            locked_to=draw(st.sampled_from([None] * 6 + rep_ids)), parent_id=parent,
        ))
    balance = draw(st.sampled_from([
        [], [{"metric": "potential", "tolerance": 0.5}],
        [{"metric": "workload", "tolerance": 0.3, "hard": False, "penalty": 7.0}],
        [{"metric": "accounts", "tolerance": 0.5},
         {"metric": "potential", "tolerance": 0.1, "hard": False, "penalty": 3.0}],
    ]))
    continuity = draw(st.sampled_from([
        {}, {"max_moved_accounts": 2}, {"max_moved_share": 0.3}, {"max_moved_per_rep": 1},
        {"move_cost": 2.5, "move_weight": "potential"}, {"protect_pipeline_above": 100},
    ]))
    rules = {"balance": balance, "continuity": continuity,
             "max_distance": draw(st.sampled_from([None, None, 7.0])),
             "families": draw(st.booleans()), "locks": draw(st.booleans())}
    objective = {"travel_weighting": draw(st.sampled_from(["workload", "none"])),
                 "disruption": draw(st.sampled_from([0.0, 1.0]))}
    spec = ScenarioSpec.from_dict({"rules": rules, "objective": objective})
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    return Scenario(spec, book, RepRoster.of(reps))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_returned_plan_passes_the_evaluator(scenario: Scenario) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        problem = compile(scenario)
    results = {}
    for name in backends():
        if get_backend(name).unsupported(problem) is not None:
            continue
        res = solve(problem, backend=name, options=OPTS, conflicts=False, explain=False)
        results[name] = res
        assert res.status is not Status.ERROR, res.message
        if res.status.has_plan:
            assert res.assignment is not None and res.objective is not None
            check_plan(scenario, decode(problem, res.assignment), res.objective)
    exact = [results[b] for b in EXACT if b in results]
    assert {r.status for r in exact} <= {Status.OPTIMAL, Status.INFEASIBLE}
    assert len({r.status for r in exact}) == 1, [(r.backend, r.status) for r in exact]
    if exact[0].status is Status.OPTIMAL:
        objs = [r.objective for r in exact]
        assert objs[1] == pytest.approx(objs[0], rel=1e-4, abs=1e-4)
        for r in results.values():  # no backend beats the proven optimum
            if r.status.has_plan:
                assert r.objective >= objs[0] - 1e-4 * max(1.0, abs(objs[0]))
    if diagnose(problem):
        assert exact[0].status is Status.INFEASIBLE
