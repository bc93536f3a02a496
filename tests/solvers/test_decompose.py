"""Pool decomposition: sub-problems are consistent and the merged plan solves the whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.errors import ParameterError
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import compile, decode, hard_violations, objective
from terraplan.solvers import SolveOptions, solve
from terraplan.solvers._exact import no_candidate_message
from terraplan.solvers.decompose import (
    POOL_TIME_EXPONENT,
    pool_view,
    solve_decomposed,
    split_pools,
)


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    g = generate_book(300, 8, seed=5)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.25}]}})
    return compile(Scenario(spec=spec, accounts=g.accounts, reps=g.reps))


def test_split_covers_every_item_and_pair_once(problem) -> None:  # type: ignore[no-untyped-def]
    parts = split_pools(problem)
    assert len(parts) == problem.n_pools
    items = np.sort(np.concatenate([pp.items for pp in parts]))
    assert np.array_equal(items, np.arange(problem.n_items))
    pairs = np.sort(np.concatenate([pp.pairs for pp in parts]))
    assert np.array_equal(pairs, np.arange(problem.n_pairs))
    for pp in parts:
        sub = pp.problem
        assert sub.n_pairs == len(pp.pairs)
        assert np.array_equal(sub.pair_cost, problem.pair_cost[pp.pairs])
        # the sub-problem's own objective of the cheapest pairs equals the parent's pieces
        first = sub.indices[sub.indptr[:-1]]
        assert objective(sub, first) == pytest.approx(
            float(problem.pair_cost[pp.pairs][sub.indptr[:-1]].sum()))


def test_a_pool_problem_holds_its_own_accounts(problem) -> None:  # type: ignore[no-untyped-def]
    # a pool problem is self-contained: solve() decodes its plan (explain=True) over the
    # pool's accounts, and messages naming accounts by item name the parent's accounts
    ids = problem.scenario.accounts.ids
    for pp in split_pools(problem):
        sub = pp.problem
        assert len(sub.scenario.accounts) == sub.n_accounts == len(pp.accounts)
        assert list(sub.scenario.accounts.ids) == list(ids[pp.accounts])
        t = np.arange(min(3, sub.n_items))
        assert no_candidate_message(sub, t) == no_candidate_message(problem, pp.items[t])
    pp, view = pool_view(problem, int(problem.item_pool[0]))
    res = solve(view, backend="heuristic", seed=1, options=SolveOptions(time_limit=5))
    assert res.status.has_plan, res.message
    assert res.reasons is not None and len(res.reasons) == len(pp.accounts)
    plan = decode(view, res.assignment)
    assert list(plan.account_ids) == list(ids[pp.accounts])
    ia = view.item_assignment(res.assignment)
    assert hard_violations(view, ia) == []
    # merged into a plan of the whole book (other pools from solve_decomposed), the evaluator
    # finds every rule met
    whole = solve_decomposed(problem, options=SolveOptions(time_limit=5))
    assert whole.assignment is not None, whole.message
    merged = whole.assignment.copy()
    merged[pp.accounts] = res.assignment
    assert evaluate(problem.scenario, decode(problem, merged)).hard_count == 0


def test_decomposed_solve_merges_a_valid_plan(problem) -> None:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=2) as ex:
        res = solve_decomposed(problem, options=SolveOptions(time_limit=5), mapper=ex.map)
    assert res.status.has_plan, res.message
    ia = problem.item_assignment(res.assignment)
    assert hard_violations(problem, ia) == []
    assert res.objective == pytest.approx(objective(problem, ia))
    assert res.bound is not None and res.bound <= res.objective + 1e-6


@pytest.mark.parametrize("backend", ["cpsat", "milp"])
def test_exact_backends_solve_each_pool_view(problem, backend) -> None:  # type: ignore[no-untyped-def]
    # a pool view keeps every rep; the reps of other pools must not carry their integer bands
    # into the exact models (they would be empty there, hence "infeasible")
    assert problem.n_pools > 1
    res = solve_decomposed(problem, backend=backend, options=SolveOptions(time_limit=10))
    assert res.status.has_plan, res.message
    ia = problem.item_assignment(res.assignment)
    assert hard_violations(problem, ia) == []
    assert res.objective == pytest.approx(objective(problem, ia))


def test_workers_share_the_limit_largest_pool_first(problem) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, float]] = []

    def mapper(fn, jobs):  # type: ignore[no-untyped-def]
        for job in jobs:
            seen.append((job[0].n_pairs, job[3].time_limit))
            yield fn(job)

    res = solve_decomposed(problem, options=SolveOptions(time_limit=4.0), mapper=mapper,
                           workers=2)
    assert res.status.has_plan, res.message
    assert hard_violations(problem, problem.item_assignment(res.assignment)) == []
    sizes = [n for n, _ in seen]
    assert len(seen) == problem.n_pools and sizes == sorted(sizes, reverse=True)
    total = sum(n ** POOL_TIME_EXPONENT for n in sizes)
    for n, tl in seen:  # two at once: twice the weight share, never above the limit
        assert tl == pytest.approx(4.0 * min(1.0, max(2 * n ** POOL_TIME_EXPONENT / total, 0.01)))
    # the work fits two workers: the limits add up to at most twice the limit
    assert sum(tl for _, tl in seen) <= 2 * 4.0 + 1e-9
    with pytest.raises(ParameterError, match="workers"):
        solve_decomposed(problem, workers=0)


def test_a_pool_without_plan_is_named(problem) -> None:  # type: ignore[no-untyped-def]
    from terraplan.solvers.base import SolveResult, Status

    def mapper(fn, jobs):  # type: ignore[no-untyped-def]
        # the largest pool's worker ran out of time (the others are solved for real)
        for i, job in enumerate(jobs):
            yield (SolveResult(Status.NO_SOLUTION_IN_TIME, "heuristic", 0, None, None, 1.0,
                               message="3 hard violation(s) left") if i == 0 else fn(job))

    res = solve_decomposed(problem, options=SolveOptions(time_limit=4.0), mapper=mapper,
                           workers=2)
    biggest = max(split_pools(problem), key=lambda pp: pp.problem.n_pairs)
    assert res.status is Status.NO_SOLUTION_IN_TIME and res.assignment is None
    assert res.message.startswith(f"1 of {problem.n_pools} pool(s) without a plan: "
                                  f"pool {biggest.pool} ({len(biggest.items)} items")
    assert "3 hard violation(s) left" in res.message
    assert res.stats["pools"] == problem.n_pools
