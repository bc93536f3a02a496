"""The solve() contract: backend choice, errors, cancellation, stop criteria, progress,
determinism, warm start, reasons and diagnostics in results."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest
from solverfixtures import check_plan, line_book, spec, two_reps

from terraplan.domain import Plan, Reason, Scenario, ScenarioSpec
from terraplan.errors import ParameterError, PrecisionWarning, UnsupportedRuleError
from terraplan.problem import compile, decode
from terraplan.solvers import (
    CancelToken,
    MaxRuntime,
    Progress,
    SolveOptions,
    Status,
    choose_backend,
    solve,
)

EXACT = ("cpsat", "milp")


def small() -> Scenario:
    return Scenario(spec({"balance": [{"metric": "potential", "tolerance": 0.1}]}),
                    line_book(), two_reps())


def hard_instance(n: int = 800, reps: int = 10, seed: int = 5) -> Scenario:
    """A generated book with tight bands: a first plan comes fast, the proof takes seconds."""
    from terraplan.io.generator import generate_book

    g = generate_book(n, reps, seed=seed, coord_system="planar")
    s = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.10}, {"metric": "workload", "tolerance": 0.02,
                                                     "hard": False, "penalty": 50}]}})
    return Scenario(s, g.accounts, g.reps)


@pytest.fixture(scope="module")
def hard_problem():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        return compile(hard_instance())


def test_auto_picks_cpsat_for_small_problems() -> None:
    p = compile(small())
    assert choose_backend(p) == "cpsat"
    assert solve(p).backend == "cpsat"


@pytest.mark.parametrize("backend", EXACT)
def test_unencodable_rule_is_named_never_dropped(backend: str) -> None:
    s = Scenario(spec({"contiguity": True}), line_book(), two_reps())
    with pytest.raises(UnsupportedRuleError, match="contiguity"):
        solve(compile(s), backend=backend)
    carve = Scenario(ScenarioSpec.from_dict({"mode": "carve", "carve": {"territories": 2},
                                             "rules": {"balance": []}}),
                     line_book(), two_reps())
    with pytest.raises(UnsupportedRuleError, match="mode:carve"):
        solve(compile(carve), backend=backend)


def test_bad_arguments_get_precise_messages() -> None:
    p = compile(small())
    with pytest.raises(ParameterError, match="'backend'.*Got 'gurobi'"):
        solve(p, backend="gurobi")
    with pytest.raises(ParameterError, match="'seed'"):
        solve(p, seed=-1)
    with pytest.raises(ParameterError, match="initial_plan"):
        solve(p, initial_plan=[0, 1])


@pytest.mark.parametrize("backend", EXACT)
def test_cancelled_before_start(backend: str) -> None:
    token = CancelToken()
    token.cancel()
    res = solve(compile(small()), backend=backend, cancel=token)
    assert res.status is Status.CANCELLED
    assert not res.status.has_plan


@pytest.mark.parametrize("backend", EXACT)
def test_cancel_during_search_returns_promptly(backend: str, hard_problem) -> None:
    token = CancelToken()
    timer = threading.Timer(1.0, token.cancel)
    timer.start()
    t0 = time.perf_counter()
    res = solve(hard_problem, backend=backend, cancel=token,
                options=SolveOptions(time_limit=60.0, threads=1))
    timer.cancel()
    assert time.perf_counter() - t0 < 20.0
    assert res.status in (Status.CANCELLED, Status.OPTIMAL)
    if res.assignment is not None:  # the best plan so far is still a valid plan
        check_plan(hard_problem.scenario, decode(hard_problem, res.assignment), res.objective)


@pytest.mark.parametrize("backend", EXACT)
def test_time_limit_and_stop_criterion_bound_the_run(backend: str, hard_problem) -> None:
    t0 = time.perf_counter()
    res = solve(hard_problem, MaxRuntime(1.5), backend=backend,
                options=SolveOptions(time_limit=60.0, threads=1))
    assert time.perf_counter() - t0 < 20.0  # model building is outside the solver's clock
    # on an idle machine both find a plan in time; under load the first plan may come later
    assert res.status in (Status.FEASIBLE, Status.OPTIMAL, Status.NO_SOLUTION_IN_TIME)
    assert res.runtime < 10.0
    if res.status.has_plan:
        assert res.bound is not None and res.bound <= res.objective + 1e-9
        assert res.gap is not None and res.gap >= 0
        check_plan(hard_problem.scenario, decode(hard_problem, res.assignment), res.objective)


@pytest.mark.parametrize("backend", EXACT)
def test_progress_reports_incumbents_and_bounds(backend: str) -> None:
    events: list[Progress] = []
    res = solve(compile(small()), backend=backend, callbacks=[events.append])
    assert res.status is Status.OPTIMAL
    incumbents = [e for e in events if e.objective is not None]
    assert incumbents, events
    assert min(e.objective for e in incumbents) == pytest.approx(res.objective, rel=1e-6)
    assert all(e.elapsed >= 0 for e in events)


@pytest.mark.parametrize("backend", EXACT)
def test_same_seed_same_plan(backend: str) -> None:
    from terraplan.io.generator import generate_book

    g = generate_book(60, 4, seed=11, coord_system="planar")
    s = Scenario(ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "accounts", "tolerance": 0.1, "hard": False, "penalty": 5.0}]},
        "objective": {"travel_weighting": "none"}}),
        g.accounts, g.reps)
    p = compile(s)
    opts = SolveOptions(time_limit=20.0, threads=1)
    a = solve(p, backend=backend, seed=3, options=opts)
    b = solve(p, backend=backend, seed=3, options=opts)
    assert a.status is Status.OPTIMAL and a.seed == 3
    np.testing.assert_array_equal(a.assignment, b.assignment)


def test_cpsat_interleaved_search_is_deterministic_with_two_threads() -> None:
    p = compile(small())
    opts = SolveOptions(time_limit=10.0, threads=2, extra={"deterministic": True})
    runs = [solve(p, backend="cpsat", seed=1, options=opts).assignment for _ in range(3)]
    assert all(np.array_equal(runs[0], r) for r in runs)


def test_cpsat_raw_params_set_scalar_and_repeated_fields() -> None:
    from terraplan.solvers._exact import cpsat_solver

    raw = {"num_full_subsolvers": 1, "ignore_subsolvers": ["ls", "feasibility_pump"]}
    prm = cpsat_solver(SolveOptions(time_limit=5.0, threads=3), 0, 5.0, raw).parameters
    assert prm.num_full_subsolvers == 1 and prm.num_workers == 3
    assert list(prm.ignore_subsolvers) == ["ls", "feasibility_pump"]
    # and a solve with them still finds the optimum
    p = compile(small())
    res = solve(p, backend="cpsat", seed=1, options=SolveOptions(
        time_limit=10.0, threads=3, extra={"cpsat_params": raw}))
    assert res.status is Status.OPTIMAL
    assert res.objective == solve(p, backend="cpsat", seed=1).objective


@pytest.mark.parametrize("backend", EXACT)
def test_warm_start_from_a_plan(backend: str) -> None:
    p = compile(small())
    start = Plan.from_mapping({"a1": "r1", "a2": "r1", "a3": "r1", "a4": "r1", "a5": "r2",
                               "a6": "r2"}, rep_ids=["r1", "r2"])
    res = solve(p, backend=backend, initial_plan=start)
    assert res.status is Status.OPTIMAL and res.objective == pytest.approx(12.0)
    # moves are explained relative to the warm-start plan: nothing moved
    assert res.reasons is not None and set(res.reasons.tolist()) == {int(Reason.UNCHANGED)}


def test_reasons_explain_each_move() -> None:
    s = Scenario(spec(), line_book(locked_to={0: "r2"}), two_reps())
    res = solve(compile(s), backend="cpsat")
    assert res.reasons is not None
    assert res.reasons[0] == Reason.LOCK
    assert set(res.reasons[1:].tolist()) == {int(Reason.UNCHANGED)}


def test_infeasible_result_lists_diagnostics_and_conflicts() -> None:
    s = Scenario(spec(), line_book(), two_reps(r1={"capacity": 5.0}, r2={"capacity": 5.0}))
    res = solve(compile(s), backend="cpsat")
    assert res.status is Status.INFEASIBLE
    assert res.conflicts == ("capacity",)
    assert "workload 21 h, eligible capacity 10 h" in res.message
    quiet = solve(compile(s), backend="cpsat", conflicts=False)
    assert quiet.conflicts == ()


@pytest.mark.parametrize("backend", EXACT)
def test_empty_book_and_empty_roster(backend: str) -> None:
    from terraplan.domain import Account, AccountBook, Rep, RepRoster

    empty = compile(Scenario(spec(), AccountBook.from_accounts([]), RepRoster.of([Rep("r1")])))
    res = solve(empty, backend=backend)
    assert res.status is Status.OPTIMAL and res.objective == 0.0 and len(res.assignment) == 0
    orphan = compile(Scenario(spec(), AccountBook.from_accounts([Account("a1")]),
                              RepRoster.of([])))
    res = solve(orphan, backend=backend)
    assert res.status is Status.INFEASIBLE and res.conflicts == ("coverage",)
    assert "no eligible active rep" in res.message


def test_a_single_cpsat_worker_asked_for_lns_only_interleaves_its_search() -> None:
    # one worker with use_lns_only alone would search the whole model (CP-SAT ignores the LNS
    # there); cpsat_solver interleaves it, and leaves every other setting as asked
    from terraplan.solvers._exact import cpsat_solver

    lns = {"use_lns_only": True}
    one = cpsat_solver(SolveOptions(threads=1), 0, 1.0, lns).parameters
    assert one.num_workers == 1 and one.use_lns_only and one.interleave_search
    two = cpsat_solver(SolveOptions(threads=2), 0, 1.0, lns).parameters
    assert two.num_workers == 2 and two.use_lns_only and not two.interleave_search
    plain = cpsat_solver(SolveOptions(threads=1), 0, 1.0).parameters
    assert not plain.use_lns_only and not plain.interleave_search
