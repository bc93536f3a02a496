"""full_lagrangian_bound: the Lagrangian of the full pair set, priced in chunks, bounds the real
problem even when the solved problem was compiled with max_candidates."""

from __future__ import annotations

import numpy as np
import pytest

import terraplan.problem as problem_mod
from terraplan.domain import Scenario, ScenarioSpec
from terraplan.io.generator import generate_book
from terraplan.problem import compile, hard_violations, objective
from terraplan.solvers import SolveOptions, solve
from terraplan.solvers.bounds import lagrangian_bound, lagrangian_value
from terraplan.solvers.decompose import full_lagrangian_bound


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    g = generate_book(600, 10, seed=11)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.10}, {"metric": "workload", "tolerance": 0.10}]}})
    return Scenario(spec=spec, accounts=g.accounts, reps=g.reps)


def test_full_bound_prices_every_pair_and_bounds_real_plans(scenario, monkeypatch) -> None:
    full = compile(scenario)
    restricted = compile(scenario, max_candidates=2)
    assert restricted.n_pairs < full.n_pairs
    b, mu, nu = lagrangian_bound(restricted, iterations=60, time_limit=20)
    assert np.any(mu > 0) or np.any(nu > 0)
    monkeypatch.setattr(problem_mod, "_CHUNK", 500)  # many chunks
    fb = full_lagrangian_bound(restricted, mu, nu)
    # the same value as the in-memory Lagrangian of the full problem at these multipliers ...
    assert fb == pytest.approx(lagrangian_value(full, mu, nu)[0], rel=1e-9)
    # ... never above the restricted one (fewer pairs can only raise the inner minimum) ...
    assert fb <= lagrangian_value(restricted, mu, nu)[0] + 1e-6 * abs(fb)
    # ... and below the objective of any plan that meets every hard rule of the real problem
    r = solve(full, backend="heuristic", seed=1, options=SolveOptions(time_limit=10),
              explain=False)
    assert r.status.has_plan, r.message
    ia = full.item_assignment(r.assignment)
    assert hard_violations(full, ia) == []
    assert fb <= objective(full, ia) + 1e-6


def test_full_bound_zero_multipliers_is_the_cheapest_pair_sum(scenario) -> None:
    full = compile(scenario)
    K = len(full.balance_metric) + 1
    zero = np.zeros((K, full.n_reps))
    cheapest = np.minimum.reduceat(full.pair_cost, full.indptr[:-1]).sum()
    assert full_lagrangian_bound(compile(scenario, max_candidates=1), zero, zero) == \
        pytest.approx(cheapest, rel=1e-12)
    with pytest.raises(ValueError, match="multipliers"):
        full_lagrangian_bound(full, -np.ones((K, full.n_reps)), zero)
