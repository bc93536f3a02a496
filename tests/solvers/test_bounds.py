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


def test_lp_infeasible_pool_proved_under_column_generation(
        six_accounts: tuple[AccountBook, RepRoster]) -> None:
    # column generation solves an elastic master (band slack at a price), which is always
    # feasible: a pool that needs slack must be re-solved as the plain LP to be called
    # infeasible, not reported with a finite (elastic) bound
    book, roster = six_accounts
    from dataclasses import replace

    roster = RepRoster.of([replace(r, capacity=5.0) for r in roster])
    spec = ScenarioSpec.from_dict({"rules": {"eligibility": [], "balance": []}})
    p = compile(Scenario(spec=spec, accounts=book, reps=roster))
    b = lp_bound(p, cg_min_pairs=1)
    assert b.infeasible and b.value == float("inf")


def test_highs_time_left_counts_from_now() -> None:
    # HiGHS compares "time_limit" with the object's run time summed over all its run()s: a
    # re-solve given "the seconds left" after a long first solve stops at once unless the
    # limit is set from the run time so far (column generation re-solves one object)
    import highspy

    from terraplan.solvers.bounds import set_time_left

    rng = np.random.default_rng(5)
    n_items, n_reps = 3000, 40
    cost = rng.random((n_items, n_reps))
    load = rng.random(n_items) + 0.5
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    n = n_items * n_reps
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.ravel())
    for i in range(n_items):  # every item assigned once
        idx = np.arange(i * n_reps, (i + 1) * n_reps, dtype=np.int32)
        h.addRow(1.0, 1.0, n_reps, idx, np.ones(n_reps))
    cap = 1.02 * load.sum() / n_reps
    for r in range(n_reps):  # capacity per rep, tight, so the LP needs real pivots
        idx = np.arange(r, n, n_reps, dtype=np.int32)
        h.addRow(0.0, cap, n_items, idx, load)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    first = h.getRunTime()
    assert first > 0.05
    # costs up to 10 % dearer: the warm-started re-solve needs a tenth of the first solve,
    # but enough iterations that HiGHS checks its clock (a 0.1 % change finished before)
    h.changeColsCost(n, np.arange(n, dtype=np.int32), (cost * (1 + 0.1 * rng.random(
        cost.shape))).ravel())
    set_time_left(h, first / 2)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def test_lagrangian_bounds_any_plan(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    p = compile(_six(six_accounts, 0.2))
    b, mu, nu = lagrangian_bound(p, iterations=50, upper_estimate=45.0)
    assert b.value <= 35.4 + 1e-6  # never above the LP bound
    val, _, _ = lagrangian_value(p, mu, nu)
    assert val <= b.value + 1e-9
    assert b.value <= objective(p, np.array([0, 0, 0, 0, 1, 1])) + 1e-9


def _generated(n: int, m: int, tol: float = 0.03) -> Scenario:
    from terraplan.io.generator import generate_book

    g = generate_book(n, m, seed=3)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": tol}, {"metric": "workload", "tolerance": tol}]}})
    return Scenario(spec=spec, accounts=g.accounts, reps=g.reps)


def test_column_generation_reaches_the_full_lp() -> None:
    p = compile(_generated(1500, 15))
    direct = lp_bound(p, cg_min_pairs=10**9)
    cg = lp_bound(p, cg_min_pairs=50)  # every pool by column generation
    assert direct.optimal and cg.optimal
    assert cg.value == pytest.approx(direct.value, rel=1e-7)
    assert cg.x is not None and cg.reduced is not None
    sums = np.bincount(p.pair_item, weights=cg.x, minlength=p.n_items)
    np.testing.assert_allclose(sums, 1.0, atol=1e-7)
    # at the optimum no unused pair prices out below zero (up to the pricing tolerance)
    unused = cg.x < 1e-9
    assert float(cg.reduced[unused].min()) > -1e-6 * float(np.abs(p.pair_cost).mean())


def test_column_generation_with_purged_masters_reaches_the_full_lp(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import terraplan.solvers.bounds as bounds

    p = compile(_generated(1500, 15))
    direct = lp_bound(p, cg_min_pairs=10**9)
    # masters purged down to one column per item as soon as they hold more than that (from
    # the sampled prices: from the grouped LP's plan this book needs no second round)
    monkeypatch.setattr(bounds, "AGG_NEAREST", ())
    monkeypatch.setattr(bounds, "PURGE_ABOVE", 1.0)
    monkeypatch.setattr(bounds, "PURGE_KEEP", 1.0)
    with caplog.at_level(logging.DEBUG, logger="terraplan.solvers.bounds"):
        cg = lp_bound(p, cg_min_pairs=50)
    assert any("purged" in r.getMessage() for r in caplog.records)
    assert direct.optimal and cg.optimal
    assert cg.value == pytest.approx(direct.value, rel=1e-7)
    assert cg.x is not None
    sums = np.bincount(p.pair_item, weights=cg.x, minlength=p.n_items)
    np.testing.assert_allclose(sums, 1.0, atol=1e-7)
    # x maps back to the right pairs after the deletions: its cost is the LP value (no soft
    # rules here, so every unit of cost is a pair's)
    assert float(p.pair_cost @ cg.x) == pytest.approx(direct.value, rel=1e-7)


def test_column_generation_stopped_early_is_still_a_bound() -> None:
    from terraplan.solvers.bounds import _column_generation, _lp_arrays

    p = compile(_generated(1500, 15))
    full = lp_bound(p, cg_min_pairs=10**9).value
    pool = p.item_pool[p.pair_item]
    total = 0.0
    for q in range(p.n_pools):
        pairs = np.flatnonzero(pool == q).astype(np.int64)
        if not len(pairs):
            continue
        items = np.unique(p.pair_item[pairs]).astype(np.int64)
        reps = np.unique(p.indices[pairs]).astype(np.int64)
        lp = _lp_arrays(p, pairs, items, reps, with_budgets=False)
        r = _column_generation(p, pairs, items, reps, lp, deadline=float("inf"), cancel=None,
                               start_k=1, max_rounds=1)
        assert r is not None
        total += r.value
    assert total <= full + 1e-6 * abs(full)


def _band_loads(p, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Each band rule's load per rep under fractional ``x``, and its target."""
    loads, targets = [], []
    for b in range(len(p.balance_metric)):
        q = int(p.balance_q[b])
        loads.append(np.bincount(p.indices, weights=x * p.item_metric[q, p.pair_item],
                                 minlength=p.n_reps))
        targets.append(p.target[b])
    return np.array(loads), np.array(targets)


def test_narrowed_lp_is_inside_the_narrowed_bands_and_still_bounds_the_real_lp() -> None:
    # smooth pools (~200 items per rep) are narrowed by one mean item (reps / items of the
    # pool, in units of the target: 0.5 %); lumpy ones (~15 per rep: 7 % > a quarter of the
    # ±3 % band) are not
    p = compile(_generated(1500, 15, tol=0.03))
    real = lp_bound(p, cg_min_pairs=50)
    narrow = lp_bound(p, cg_min_pairs=50, narrow_items=1.0)
    assert real.optimal and not narrow.optimal  # a narrowed pool's value is a Lagrangian
    assert narrow.value <= real.value * (1 + 1e-9)
    assert narrow.value >= 0.999 * real.value
    assert narrow.x is not None and real.x is not None
    pool = p.item_pool[p.pair_item]
    by = np.zeros(p.n_reps)
    for q in range(p.n_pools):
        reps = np.unique(p.indices[pool == q])
        by[reps] = len(reps) / len(np.unique(p.pair_item[pool == q]))
    smooth = by <= 0.25 * 0.03
    assert smooth.any() and not smooth.all()
    for x, inside in ((narrow.x, True), (real.x, False)):
        load, target = _band_loads(p, x)
        ok = (load >= p.lower + (by - 1e-6) * target) & (load <= p.upper - (by - 1e-6) * target)
        # the real LP sits on band edges (so its argmax leaves reps outside); narrowed, no
        # rep of a smooth pool is within one mean item of an edge
        assert bool(ok[:, smooth].all()) == inside
    lumpy_pairs = ~smooth[p.indices]
    np.testing.assert_allclose(narrow.x[lumpy_pairs], real.x[lumpy_pairs], atol=1e-9)


def test_lagrangian_recovers_from_a_low_upper_estimate() -> None:
    # balance can cost far more than a guess: from an estimate barely above the cheapest
    # assignment, Polyak steps alone would stall near that value (75 % of the LP here)
    from terraplan.solvers.bounds import _argmin_per_item

    p = compile(_generated(2000, 20))
    cheapest = float(p.pair_cost[_argmin_per_item(p, p.pair_cost)].sum())
    lp = lp_bound(p).value
    b, _, _ = lagrangian_bound(p, iterations=150, upper_estimate=cheapest * 1.0001)
    assert b.value <= lp + 1e-6 * lp  # still a bound
    assert b.value >= 0.97 * lp


def test_lagrangian_at_optimal_duals_equals_the_lp() -> None:
    # strong duality: with the assignment rows kept, the LP's own band/capacity duals give a
    # Lagrangian bound equal to the LP value (checks the sign conventions of the row duals)
    import highspy

    from terraplan.solvers.bounds import _highs, _lagrangian_at, _lp_arrays

    p = compile(_generated(1500, 15))
    pool = p.item_pool[p.pair_item]
    for q in range(p.n_pools):
        pairs = np.flatnonzero(pool == q).astype(np.int64)
        if len(pairs) < 100:
            continue
        items = np.unique(p.pair_item[pairs]).astype(np.int64)
        reps = np.unique(p.indices[pairs]).astype(np.int64)
        lp = _lp_arrays(p, pairs, items, reps, with_budgets=False)
        h = _highs(lp)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            continue
        y = np.asarray(h.getSolution().row_dual)
        item_pos = np.full(p.n_items, -1)
        item_pos[items] = np.arange(len(items))
        val, rel, x = _lagrangian_at(lp, lp.A.T.tocsr(), item_pos[p.pair_item[pairs]],
                                     len(items), y)
        lpv = h.getInfo().objective_function_value
        assert val == pytest.approx(lpv, rel=1e-6)
        assert rel.min() >= 0 and np.bincount(item_pos[p.pair_item[pairs]], weights=x).max() == 1
        # any other price vector gives no more than the LP value
        assert _lagrangian_at(lp, lp.A.T.tocsr(), item_pos[p.pair_item[pairs]], len(items),
                              0.5 * y)[0] <= lpv * (1 + 1e-9)


def _with_soft_workload(n: int, m: int):  # type: ignore[no-untyped-def]
    """A generated book compiled with a hard potential band and a soft workload one."""
    g = _generated(n, m)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.03},
        {"metric": "workload", "tolerance": 0.05, "hard": False}]}})
    return compile(Scenario(spec=spec, accounts=g.accounts, reps=g.reps))


def _largest_pool_lp(p):  # type: ignore[no-untyped-def]
    """(pairs, reps, LP arrays, each pair's item position, items) of ``p``'s largest pool."""
    from terraplan.solvers.bounds import _lp_arrays

    pool = p.item_pool[p.pair_item]
    pairs = np.flatnonzero(pool == int(np.argmax(np.bincount(pool)))).astype(np.int64)
    items = np.unique(p.pair_item[pairs]).astype(np.int64)
    reps = np.unique(p.indices[pairs]).astype(np.int64)
    lp = _lp_arrays(p, pairs, items, reps, with_budgets=False)
    pos = np.full(p.n_items, -1, dtype=np.int64)
    pos[items] = np.arange(len(items))
    return pairs, reps, lp, pos[p.pair_item[pairs]], len(items)


def _master_of(p, k: int):  # type: ignore[no-untyped-def]
    """The LP arrays of ``p``'s largest pool and a master of each item's ``k`` cheapest pairs
    (LP columns), with each pair column's item position."""
    from terraplan.solvers.bounds import _cheapest_k

    _, reps, lp, it, k_loc = _largest_pool_lp(p)
    x_cols = np.flatnonzero(_cheapest_k(lp.cost[:lp.n_x], it, k_loc, k))
    return lp, x_cols, it, k_loc, len(reps)


def test_cheapest_column_basis_is_dual_feasible_and_reaches_the_same_master_optimum() -> None:
    from terraplan.solvers.bounds import _cheapest_basis, _highs

    p = compile(_generated(1500, 15))
    lp, x_cols, it, k_loc, n_reps = _master_of(p, 2)
    assert n_reps >= 3 and k_loc < len(x_cols) <= 2 * k_loc
    e = len(lp.elastic_rows)
    plain = _highs(lp, x_cols, elastic_cost=1e6)
    plain.run()
    crashed = _highs(lp, x_cols, elastic_cost=1e6)
    assert _cheapest_basis(crashed, lp, x_cols, it, k_loc, e)
    crashed.setOptionValue("presolve", "off")
    # the basis as given, before any pivot: no column prices below zero
    crashed.setOptionValue("simplex_iteration_limit", 0)
    crashed.run()
    assert crashed.getInfo().num_dual_infeasibilities == 0
    basic = [j for j, s in enumerate(crashed.getBasis().col_status)
             if s == type(s).kBasic]
    assert len(basic) == k_loc
    # each basic column is its item's cheapest
    cost = lp.cost[x_cols]
    for j in basic:
        assert cost[j] == cost[it[x_cols] == it[x_cols[j]]].min()
    crashed.setOptionValue("simplex_iteration_limit", 2**31 - 1)
    crashed.run()
    assert crashed.getInfo().objective_function_value == pytest.approx(
        plain.getInfo().objective_function_value, rel=1e-9)


def test_cheapest_column_basis_is_not_set_on_a_master_with_soft_deviation_columns() -> None:
    from terraplan.solvers.bounds import _cheapest_basis, _highs

    p = _with_soft_workload(1500, 15)
    lp, x_cols, it, k_loc, _ = _master_of(p, 2)
    assert len(lp.cost) > lp.n_x  # soft deviation columns
    h = _highs(lp, np.r_[x_cols, np.arange(lp.n_x, len(lp.cost))], elastic_cost=1e6)
    assert not _cheapest_basis(h, lp, x_cols, it, k_loc, len(lp.elastic_rows))
    # the guard and HiGHS' own check of the basis' size both refuse here; what must hold is
    # that the column generation then presolves its first master and still reaches the LP
    direct = lp_bound(p, cg_min_pairs=10**9)
    cg = lp_bound(p, cg_min_pairs=50)
    assert direct.optimal and cg.optimal
    assert cg.value == pytest.approx(direct.value, rel=1e-7)


def test_grouped_pool_lp_plan_keeps_the_pool_lp_rows_and_its_duals_their_sides() -> None:
    from terraplan.solvers.bounds import _aggregated_prices, _elastic_price, _highs

    p = compile(_generated(30000, 150))
    pairs, reps, lp, it, k_loc = _largest_pool_lp(p)
    assert k_loc > 5000 and len(reps) >= 20
    got = _aggregated_prices(p, pairs, reps, lp, it, k_loc,
                             elastic=_elastic_price(lp, it, k_loc, len(reps)),
                             deadline=float("inf"), cancel=None)
    assert got is not None
    y, x = got
    f = lp.first_block_row
    assert not np.any(y[:f])  # item rows carry no price
    assert np.any(y[f:])  # bands do (the cheapest plan breaks them)
    # a plan of the pool LP: one unit per item, every band and capacity row kept
    np.testing.assert_allclose(np.bincount(it, weights=x, minlength=k_loc), 1.0, atol=1e-7)
    act = lp.A[f:] @ x
    assert np.all(act >= lp.row_lo[f:] - 1e-6) and np.all(act <= lp.row_hi[f:] + 1e-6)
    # a restriction: no cheaper than the pool LP itself
    h = _highs(lp)
    h.run()
    assert float(lp.cost @ x) >= h.getInfo().objective_function_value * (1 - 1e-9)
    # each priced row sits on the side its price says (complementary slackness of the grouped
    # LP: a price on the wrong row or with the wrong sign would not)
    on = np.abs(y[f:]) > 1e-6 * np.abs(y[f:]).max()
    lo, hi = lp.row_lo[f:], lp.row_hi[f:]
    np.testing.assert_allclose(act[on & (y[f:] > 0)], lo[on & (y[f:] > 0)], rtol=1e-6)
    np.testing.assert_allclose(act[on & (y[f:] < 0)], hi[on & (y[f:] < 0)], rtol=1e-6)


def test_column_generation_from_the_grouped_pool_lp_reaches_the_full_lp(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    p = compile(_generated(4000, 12))
    direct = lp_bound(p, cg_min_pairs=10**9)
    with caplog.at_level(logging.DEBUG, logger="terraplan.solvers.bounds"):
        cg = lp_bound(p, cg_min_pairs=50)
    assert any("grouped pool LP" in r.getMessage() for r in caplog.records)
    assert direct.optimal and cg.optimal
    assert cg.value == pytest.approx(direct.value, rel=1e-7)


def test_grouped_pool_lp_is_not_used_with_soft_deviation_columns_or_too_few_items() -> None:
    from terraplan.solvers.bounds import _aggregated_prices, _lp_arrays

    p = _with_soft_workload(4000, 12)
    pairs, reps, lp, it, k_loc = _largest_pool_lp(p)
    assert len(lp.cost) > lp.n_x
    assert _aggregated_prices(p, pairs, reps, lp, it, k_loc, elastic=1e6,
                              deadline=float("inf"), cancel=None) is None
    # a pool of ten items: too few to group
    q = compile(_generated(4000, 12))
    pairs, reps, lp, it, k_loc = _largest_pool_lp(q)
    few = np.isin(it, np.arange(10))
    sub_pairs = pairs[few]
    items = np.unique(q.pair_item[sub_pairs]).astype(np.int64)
    sub_reps = np.unique(q.indices[sub_pairs]).astype(np.int64)
    sub = _lp_arrays(q, sub_pairs, items, sub_reps, with_budgets=False)
    assert _aggregated_prices(q, sub_pairs, sub_reps, sub, it[few], len(items), elastic=1e6,
                              deadline=float("inf"), cancel=None) is None
