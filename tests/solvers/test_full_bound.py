"""full_lagrangian_bound: the Lagrangian of the full pair set bounds the real problem even when
the solved problem was compiled with max_candidates (floors for dropped pairs of single
accounts, exact chunked pricing for families and other restrictions)."""

from __future__ import annotations

import numpy as np
import pytest

import terraplan.problem as problem_mod
from terraplan.domain import Scenario, ScenarioSpec
from terraplan.io.generator import generate_book
from terraplan.problem import compile, dropped_pairs
from terraplan.solvers.bounds import lagrangian_bound, lagrangian_value, lp_bound
from terraplan.solvers.decompose import cheapest_pairs_mask, full_lagrangian_bound, restrict_pairs


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    g = generate_book(1500, 40, seed=11, family_share=0.15)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.25}, {"metric": "workload", "tolerance": 0.25}]}})
    return Scenario(spec=spec, accounts=g.accounts, reps=g.reps)


@pytest.fixture(scope="module")
def multipliers(scenario):  # type: ignore[no-untyped-def]
    _, mu, nu = lagrangian_bound(compile(scenario, max_candidates=2), iterations=60,
                                 time_limit=20)
    assert np.any(mu > 0) or np.any(nu > 0)
    return mu, nu


@pytest.mark.parametrize("rep_cover", [0.0, problem_mod.REP_COVER])
def test_floors_cover_single_accounts_and_families_are_exact(scenario, rep_cover) -> None:
    full, cut = compile(scenario), compile(scenario, max_candidates=2, rep_cover=rep_cover)
    kept = np.diff(cut.indptr)
    # with the rep cover, some accounts keep more than the top-K (their floor is then the
    # K-th nearest kept pair, not the dearest)
    assert (kept > 2).any() == (rep_cover > 0)
    dp = dropped_pairs(cut)
    assert len(dp.items) > 100 and len(dp.exact) > 5
    assert np.all(np.diff(cut.item_indptr)[dp.exact] > 1)
    # every dropped pair of a single account costs at least its floor
    pos = cut.pair_lookup(full.pair_item, full.indices)
    dropped = (pos < 0) & np.isin(full.pair_item, dp.items)
    floor = np.full(full.n_items, np.nan)
    floor[dp.items] = dp.floor
    assert dropped.sum() > 400
    assert np.all(full.pair_cost[dropped] >= floor[full.pair_item[dropped]])


def test_full_bound_is_valid_and_never_above_the_exact_full_lagrangian(
        scenario, multipliers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mu, nu = multipliers
    full, cut = compile(scenario), compile(scenario, max_candidates=2)
    monkeypatch.setattr(problem_mod, "_CHUNK", 500)  # many chunks for the family pricing
    scales = (0.0, 0.5, 1.0)
    fb = full_lagrangian_bound(cut, mu, nu, scales=scales)
    exact = max(lagrangian_value(full, s * mu, s * nu)[0] for s in scales)
    assert fb <= exact + 1e-9 * abs(exact)
    # s = 0 is the cheapest-pair sum of the full problem, which the cut keeps exactly
    cheapest = float(np.minimum.reduceat(full.pair_cost, full.indptr[:-1]).sum())
    assert full_lagrangian_bound(cut, mu, nu, scales=(0.0,)) == pytest.approx(cheapest,
                                                                              rel=1e-9)
    assert fb >= cheapest - 1e-9 * cheapest
    # ... and below the LP relaxation of the real problem (itself below its integer optimum)
    lp = lp_bound(full, time_limit=60, max_pairs=10**7)
    assert lp.optimal and not lp.infeasible
    assert fb <= lp.value + 1e-9 * abs(lp.value)

def test_other_restrictions_are_priced_exactly(scenario, multipliers) -> None:
    mu, nu = multipliers
    full = compile(scenario)
    small = restrict_pairs(full, cheapest_pairs_mask(full, 2, per_rep_factor=0.0))
    assert small.n_pairs < full.n_pairs
    assert len(dropped_pairs(small).items) == 0
    assert full_lagrangian_bound(small, mu, nu) == pytest.approx(
        lagrangian_value(full, mu, nu)[0], rel=1e-9)
    with pytest.raises(ValueError, match="multipliers"):
        full_lagrangian_bound(full, -mu - 1.0, nu)
