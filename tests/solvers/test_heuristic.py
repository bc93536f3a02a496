"""The heuristic backend: hand-checked optimum, evaluator re-check, rules, determinism, anytime."""

from __future__ import annotations

import numpy as np
import pytest

from terraplan.domain import AccountBook, RepRoster, Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.evaluate import objective as eval_objective
from terraplan.io.generator import generate_book
from terraplan.problem import ProblemData, compile, decode, hard_violations
from terraplan.solvers import SolveOptions, Status, backends, choose_backend, solve
from terraplan.solvers.base import CancelToken, MaxIterations, Progress
from terraplan.solvers.heuristic import AUTO_MIN_PAIRS, HeuristicBackend


def _scenario(book: AccountBook, roster: RepRoster, rules: dict | None = None) -> Scenario:
    spec = ScenarioSpec.from_dict({"rules": rules or {}})
    return Scenario(spec=spec, accounts=book, reps=roster)


def _six(six_accounts: tuple[AccountBook, RepRoster], tol: float = 0.2) -> Scenario:
    book, roster = six_accounts
    return _scenario(book, roster, {"eligibility": [], "balance": [
        {"metric": "potential", "tolerance": tol}]})


def _check(sc: Scenario, res) -> None:  # type: ignore[no-untyped-def]
    """Every plan is re-checked by the independent evaluator."""
    assert res.assignment is not None
    p = compile(sc)
    plan = decode(p, res.assignment)
    ev = evaluate(sc, plan)
    assert ev.hard_count == 0, [str(v) for v in ev.violations[:5]]
    assert eval_objective(sc, plan).total == pytest.approx(res.objective, rel=1e-6, abs=1e-9)


def test_registered_with_auto_rule() -> None:
    assert "heuristic" in backends()


def test_six_accounts_hand_checked_optimum(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    # band [840, 1260] cents on potential: r1 must take a4 (cheapest fix, travel 8·4 = 32)
    # travel = 0·1 + 1·2 + 2·3 + 8·4 (a4 at r1) + 1·5 + 0·6 = 45
    sc = _six(six_accounts)
    res = solve(compile(sc), backend="heuristic", seed=0, explain=False,
                options=SolveOptions(time_limit=10))
    assert res.status in (Status.FEASIBLE, Status.OPTIMAL)
    assert res.objective == pytest.approx(45.0)
    assert res.assignment.tolist() == [0, 0, 0, 0, 1, 1]
    assert res.bound is not None and res.bound <= 45.0 + 1e-6
    _check(sc, res)


def test_infeasible_band_is_reported_not_returned(
        six_accounts: tuple[AccountBook, RepRoster]) -> None:
    # ±0 % on potential: 1050 each is impossible (no subset of 100..600 step 100 sums to 1050)
    sc = _six(six_accounts, tol=0.0)
    res = solve(compile(sc), backend="heuristic", explain=False, conflicts=False,
                options=SolveOptions(time_limit=2))
    assert res.status in (Status.INFEASIBLE, Status.NO_SOLUTION_IN_TIME)
    assert res.assignment is None


@pytest.fixture(scope="module")
def gen_scenario() -> Scenario:
    g = generate_book(400, 8, seed=3)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.15}, {"metric": "workload", "tolerance": 0.15}]}})
    return Scenario(spec=spec, accounts=g.accounts, reps=g.reps)


def test_generated_book_all_rules_and_evaluator(gen_scenario: Scenario) -> None:
    p = compile(gen_scenario)
    res = solve(p, backend="heuristic", seed=1, explain=False,
                options=SolveOptions(time_limit=5, extra={"kick_patience": 3}))
    assert res.status.has_plan, res.message
    _check(gen_scenario, res)
    # families stay together, locks hold (both are encoded in items / candidates)
    ia = p.item_assignment(res.assignment)
    assert np.array_equal(p.account_assignment(ia), res.assignment)
    locked = p.account_lock >= 0
    assert np.array_equal(res.assignment[locked], p.account_lock[locked])
    assert res.gap is not None and res.gap < 0.2


def test_soft_balance_and_continuity_budget(gen_scenario: Scenario) -> None:
    spec = ScenarioSpec.from_dict({"rules": {
        "balance": [{"metric": "potential", "tolerance": 0.05, "hard": False, "penalty": 1e6}],
        "continuity": {"max_moved_accounts": 30, "max_moved_per_rep": 10}},
        "objective": {"disruption": 1.0}})
    sc = Scenario(spec=spec, accounts=gen_scenario.accounts, reps=gen_scenario.reps)
    res = solve(compile(sc), backend="heuristic", seed=0, explain=False,
                options=SolveOptions(time_limit=5, extra={"kick_patience": 3}))
    assert res.status.has_plan, res.message
    _check(sc, res)
    ev = evaluate(sc, decode(compile(sc), res.assignment))
    assert ev.moves.counted <= 30


def test_deterministic_for_a_seed(gen_scenario: Scenario) -> None:
    p = compile(gen_scenario)
    opts = SolveOptions(time_limit=30, extra={"deterministic": True})
    a = solve(p, backend="heuristic", seed=7, options=opts, explain=False)
    b = solve(p, backend="heuristic", seed=7, options=opts, explain=False)
    assert a.status.has_plan
    assert np.array_equal(a.assignment, b.assignment)
    assert a.objective == b.objective and a.seed == 7


def test_cancel_and_progress(gen_scenario: Scenario) -> None:
    p = compile(gen_scenario)
    tok = CancelToken()
    tok.cancel()
    res = solve(p, backend="heuristic", cancel=tok, explain=False)
    assert res.status is Status.CANCELLED
    seen: list[Progress] = []
    res = solve(p, backend="heuristic", stop=MaxIterations(1), callbacks=[seen.append],
                explain=False, options=SolveOptions(time_limit=10))
    assert seen and seen[-1].elapsed >= 0


def test_contiguity_is_named_not_dropped(six_accounts: tuple[AccountBook, RepRoster]) -> None:
    book, roster = six_accounts
    sc = _scenario(book, roster, {"eligibility": [], "contiguity": True})
    p = compile(sc)
    assert HeuristicBackend().unsupported(p) == "contiguity"


def test_auto_choice_rule(gen_scenario: Scenario) -> None:
    p = compile(gen_scenario)
    assert p.n_pairs <= AUTO_MIN_PAIRS
    assert choose_backend(p) != "heuristic"


def test_auto_rule_leaves_no_gap_between_milp_and_heuristic() -> None:
    # Every size has an auto rule: above the MILP's limit the heuristic takes over (before, the
    # sizes in between fell back to CP-SAT, which found no plan for a 20k-account book).
    from terraplan.solvers import AUTO_MILP_PAIRS

    assert AUTO_MIN_PAIRS == AUTO_MILP_PAIRS
    b = generate_book(8000, 40, seed=2)
    p = compile(Scenario(spec=ScenarioSpec(), accounts=b.accounts, reps=b.reps))
    assert p.n_pairs > AUTO_MILP_PAIRS
    assert choose_backend(p) == "heuristic"


def test_cluster_repair_restores_the_bands_and_touches_only_the_cluster() -> None:
    # a feasible plan of a generated book, broken by moving accounts between two reps of one
    # pool: the repair re-solves each broken rep with its closest partners, and reps outside
    # those clusters keep every account they had
    import time

    from terraplan.problem import hard_violations
    from terraplan.solvers.heuristic import _repair_clusters
    from terraplan.solvers.heuristic.polish import neighbour_reps
    from terraplan.solvers.heuristic.state import V_EPS, SearchState

    g = generate_book(2000, 20, seed=6)
    sc = _scenario(g.accounts, g.reps, {"balance": [
        {"metric": "potential", "tolerance": 0.05}, {"metric": "workload", "tolerance": 0.05}]})
    p = compile(sc)
    res = solve(p, backend="heuristic", seed=0, explain=False, options=SolveOptions(time_limit=20))
    assert res.status.has_plan and res.assignment is not None
    good = p.item_assignment(res.assignment)
    # the largest pool's two biggest reps: move a tenth of the first's items to the second
    pool = int(np.bincount(p.item_pool).argmax())
    reps = np.flatnonzero(p.rep_pool == pool)
    src, dst = (int(r) for r in reps[np.argsort(-np.bincount(good, minlength=p.n_reps)[reps])[:2]])
    on_src = np.flatnonzero(good == src)
    can = [t for t in on_src.tolist() if dst in p.indices[p.indptr[t]:p.indptr[t + 1]]]
    bad = good.copy()
    bad[can[:max(len(on_src) // 10, 3)]] = dst
    state = SearchState(p, bad)
    assert state.violation > V_EPS
    broken = np.flatnonzero(state.rep_v > V_EPS)
    allowed = np.unique(np.concatenate([neighbour_reps(state, int(r), 6) for r in broken]))
    deadline = time.perf_counter() + 60
    n = _repair_clusters(state, deadline, 0, lambda: time.perf_counter() > deadline, None)
    state.resync()
    assert n >= 1
    assert state.violation <= V_EPS and hard_violations(p, state.a) == []
    outside = ~np.isin(np.arange(p.n_reps), allowed)
    assert np.array_equal(np.isin(state.a, np.flatnonzero(outside)),
                          np.isin(bad, np.flatnonzero(outside)))
    moved = state.a != bad
    assert np.isin(state.a[moved], allowed).all() and np.isin(bad[moved], allowed).all()


def _merge_case() -> tuple[ProblemData, np.ndarray, np.ndarray]:
    """The generated book of the merge tests, its LP's x and reduced costs."""
    from terraplan.solvers.heuristic.construct import lp_guided

    g = generate_book(2000, 20, seed=6)
    sc = _scenario(g.accounts, g.reps, {"balance": [
        {"metric": "potential", "tolerance": 0.05}, {"metric": "workload", "tolerance": 0.05}]})
    p = compile(sc)
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None and c.bound.reduced is not None
    return p, c.bound.x, c.bound.reduced


def _blind_plan(p: ProblemData, seconds: float) -> np.ndarray:
    """A plan of ``p`` within every rule but far above its LP: solved blind to travel (random
    pair costs)."""
    import dataclasses

    noise = np.random.default_rng(3).random(p.n_pairs)
    noise.flags.writeable = False
    res = solve(dataclasses.replace(p, pair_cost=noise), backend="heuristic", seed=0,
                explain=False, options=SolveOptions(time_limit=seconds))
    assert res.status.has_plan and res.assignment is not None
    return p.item_assignment(res.assignment)


def test_cpsat_merge_lowers_a_pools_cost_over_its_own_and_the_lps_columns() -> None:
    # a feasible but costly plan (made blind to travel: random pair costs) of a generated
    # book; the merge re-solves the largest pool by CP-SAT over the plan's and the LP's
    # columns: cheaper, still meeting every rule, nothing outside the pool or those columns
    import time

    from terraplan.problem import hard_violations
    from terraplan.solvers.heuristic import _merge_pools
    from terraplan.solvers.heuristic.construct import lp_guided
    from terraplan.solvers.heuristic.polish import merge_columns, pool_pairs, solve_cpsat_merge
    from terraplan.solvers.heuristic.rounding import MERGE_CPSAT_PARAMS
    from terraplan.solvers.heuristic.state import V_EPS, SearchState

    g = generate_book(2000, 20, seed=6)
    sc = _scenario(g.accounts, g.reps, {"balance": [
        {"metric": "potential", "tolerance": 0.05}, {"metric": "workload", "tolerance": 0.05}]})
    p = compile(sc)
    start = _blind_plan(p, 10)
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None
    x = c.bound.x
    pool = int(np.bincount(p.item_pool).argmax())
    pp = next(q for q in pool_pairs(p) if p.item_pool[p.pair_item[q[0]]] == pool)
    cols = merge_columns(p, pp, start, x, 0)
    # the columns: each item's current pair and every pair the LP uses, nothing else
    assert set(p.pair_index(start)[p.item_pool == pool].tolist()) <= set(cols.tolist())
    assert set(pp[x[pp] > 1e-6].tolist()) <= set(cols.tolist())
    assert len(cols) < len(pp)
    state = SearchState(p, start)
    cost0 = state.cost
    # (two workers, both on CP-SAT's LNS from the hint: the merge phase's split)
    assert solve_cpsat_merge(state, pool, cols, 5.0, seed=0, threads=2,
                             cpsat_params=MERGE_CPSAT_PARAMS)
    state.resync()
    assert state.violation <= V_EPS and hard_violations(p, state.a) == []
    assert state.cost < cost0
    moved = state.a != start
    assert moved.any() and np.all(p.item_pool[moved] == pool)
    assert np.isin(p.pair_index(state.a)[moved], cols).all()
    ev = evaluate(sc, decode(p, p.account_assignment(state.a)))
    assert ev.hard_count == 0
    # the phase: every pool above its LP is merged, the plan only gets cheaper
    state2 = SearchState(p, start)
    deadline = time.perf_counter() + 20
    n = _merge_pools(state2, x, deadline, 0, 2, lambda: time.perf_counter() > deadline, None)
    state2.resync()
    assert n >= 1 and state2.cost < cost0 and hard_violations(p, state2.a) == []


def test_merge_phase_widens_a_pool_whose_merge_finds_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # every merge made to fail (as one proven optimal over its columns does): each pool above
    # its LP is tried over its plan's and the LP's columns, then once more over those and
    # each item's two cheapest pairs by reduced cost, then dropped; without reduced costs,
    # dropped after the first
    import time

    import terraplan.solvers.heuristic as heuristic
    from terraplan.solvers.heuristic.polish import merge_columns, pool_pairs
    from terraplan.solvers.heuristic.state import SearchState

    p, x, rc = _merge_case()
    start = p.indices[p.indptr[:-1]].astype(np.int64)  # first candidates: far above the LP
    calls: list[tuple[int, np.ndarray]] = []

    def fails(state, pool, cols, t, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((pool, cols))
        return False

    monkeypatch.setattr(heuristic, "solve_cpsat_merge", fails)
    deadline = time.perf_counter() + 60
    n = heuristic._merge_pools(SearchState(p, start), x, deadline, 0, 1,
                               lambda: time.perf_counter() > deadline, None, reduced=rc,
                               lns=False)
    assert n == 0
    pools = [pool for pool, _ in calls]
    assert len(set(pools)) >= 2 and all(pools.count(q) == 2 for q in set(pools))
    for q in set(pools):
        narrow, wide = (cols for pool, cols in calls if pool == q)
        pp = next(g for g in pool_pairs(p) if p.item_pool[p.pair_item[g[0]]] == q)
        assert np.array_equal(narrow, merge_columns(p, pp, start, x, 0))
        assert np.array_equal(wide, merge_columns(p, pp, start, x, 2, rc))
        assert set(narrow.tolist()) < set(wide.tolist())
    calls.clear()
    heuristic._merge_pools(SearchState(p, start), x, deadline, 0, 1,
                           lambda: time.perf_counter() > deadline, None)
    assert sorted(pool for pool, _ in calls) == sorted(set(pools))


def test_merge_phase_goes_on_by_cluster_mips_once_the_merges_find_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # every CP-SAT merge made to fail: a pool then goes on by cluster MIPs (LNS), the reps
    # furthest above their LP share first; each applied cluster lowers the cost and keeps
    # every rule, and only the cluster's reps trade accounts
    import time

    import terraplan.solvers.heuristic as heuristic
    from terraplan.problem import hard_violations
    from terraplan.solvers.heuristic.polish import pool_pairs
    from terraplan.solvers.heuristic.state import V_EPS, SearchState

    p, x, rc = _merge_case()
    # a plan within every rule but far above the LP: made blind to travel (random costs)
    start = _blind_plan(p, 5)
    state = SearchState(p, start)
    assert state.violation <= V_EPS
    pool = int(np.bincount(p.item_pool).argmax())
    pp = next(q for q in pool_pairs(p) if p.item_pool[p.pair_item[q[0]]] == pool)
    above = heuristic._reps_above_lp(state, pp, x)
    lp_share = np.bincount(p.indices[pp], weights=p.pair_cost[pp] * x[pp], minlength=p.n_reps)
    items = np.unique(p.pair_item[pp])
    cur = np.bincount(start[items], weights=p.pair_cost[state.pair[items]], minlength=p.n_reps)
    gap = cur - lp_share
    assert above == sorted(above, key=lambda r: -gap[r])
    assert set(above) == set(int(r) for r in np.unique(p.indices[pp]) if gap[r] > 0)

    tried: list[np.ndarray] = []
    real = heuristic.solve_cluster_mip

    def spy(state, reps, *args, **kwargs):  # type: ignore[no-untyped-def]
        tried.append(np.asarray(reps))
        return real(state, reps, *args, **kwargs)

    monkeypatch.setattr(heuristic, "solve_cpsat_merge", lambda *a, **k: False)
    monkeypatch.setattr(heuristic, "solve_cluster_mip", spy)
    monkeypatch.setattr(heuristic, "MERGE_MIN_GAP", 0.0)
    cost0 = state.cost
    deadline = time.perf_counter() + 30
    n = heuristic._merge_pools(state, x, deadline, 0, 1,
                               lambda: time.perf_counter() > deadline, None, reduced=rc)
    state.resync()
    assert tried, "no cluster MIP ran"
    assert n >= 1 and state.cost < cost0
    assert hard_violations(p, state.a) == []
    # accounts only moved between reps of one tried cluster
    moved = np.flatnonzero(state.a != start)
    every = np.unique(np.concatenate(tried))
    assert np.isin(state.a[moved], every).all() and np.isin(start[moved], every).all()


def test_merge_phase_turns_to_clusters_next_when_a_merge_finds_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # with an LP and lns: a pool whose merge over its plan's and the LP's columns finds
    # nothing gets no wider merge; its next step is its first turn of cluster MIPs, before any
    # other pool's step, and a turn runs cluster after cluster until it has used its time
    import time

    import terraplan.solvers.heuristic as heuristic
    from terraplan.solvers.heuristic.polish import merge_columns, pool_pairs
    from terraplan.solvers.heuristic.state import SearchState

    p, x, rc = _merge_case()
    start = _blind_plan(p, 5)
    steps: list[tuple[str, int, float]] = []

    def fails(state, pool, cols, t, **kwargs):  # type: ignore[no-untyped-def]
        pp = next(g for g in pool_pairs(p) if p.item_pool[p.pair_item[g[0]]] == pool)
        assert np.array_equal(cols, merge_columns(p, pp, state.a, x, 0))  # never widened
        steps.append(("merge", pool, time.perf_counter()))
        return False

    def cluster(state, reps, time_limit, **kwargs):  # type: ignore[no-untyped-def]
        pools = set(p.rep_pool[np.asarray(reps)].tolist())
        assert len(pools) == 1
        steps.append(("cluster", pools.pop(), time.perf_counter()))
        time.sleep(min(time_limit, 0.05))
        return False

    monkeypatch.setattr(heuristic, "solve_cpsat_merge", fails)
    monkeypatch.setattr(heuristic, "solve_cluster_mip", cluster)
    monkeypatch.setattr(heuristic, "MERGE_MIN_GAP", 0.0)
    monkeypatch.setattr(heuristic, "LNS_SECONDS", 0.05)
    deadline = time.perf_counter() + 60
    n = heuristic._merge_pools(SearchState(p, start), x, deadline, 0, 1,
                               lambda: time.perf_counter() > deadline, None, reduced=rc)
    assert n == 0
    merged = [q for kind, q, _ in steps if kind == "merge"]
    assert merged and len(set(merged)) == len(merged)  # one merge per pool, no wider one
    for j, (kind, q, _) in enumerate(steps):
        if kind == "merge":
            assert steps[j + 1][:2] == ("cluster", q)
    # a turn is MERGE_MIN_SECONDS long at least: several 0.05 s clusters in a row
    assert steps[0][:2] == ("merge", merged[0])
    run = 1
    while 1 + run < len(steps) and steps[1 + run][:2] == ("cluster", merged[0]):
        run += 1
    assert run >= 5
    # a pool whose merges stalled in the rounding starts by clusters: no merge of it at all
    steps.clear()
    deadline = time.perf_counter() + 60
    heuristic._merge_pools(SearchState(p, start), x, deadline, 0, 1,
                           lambda: time.perf_counter() > deadline, None, reduced=rc,
                           stalled={merged[0]})
    assert ("cluster", merged[0]) in [s[:2] for s in steps]
    assert ("merge", merged[0]) not in [s[:2] for s in steps]
    assert {q for kind, q, _ in steps if kind == "merge"} == set(merged[1:])


def test_narrowed_pool_lps_round_to_a_plan_the_evaluator_accepts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # large books round pool LPs solved with narrowed bands (lp_narrow_items); here every pool
    # goes through column generation (where the narrowing lives) on a small book
    import terraplan.solvers.bounds as bounds

    monkeypatch.setattr(bounds, "CG_MIN_PAIRS", 50)
    g = generate_book(3000, 10, seed=3)
    sc = _scenario(g.accounts, g.reps, {"balance": [
        {"metric": "potential", "tolerance": 0.03}, {"metric": "workload", "tolerance": 0.03}]})
    p = compile(sc)
    real = bounds.lp_bound(p)
    res = solve(p, backend="heuristic", seed=1, explain=False,
                options=SolveOptions(time_limit=10, extra={"lp_narrow_items": 1.0}))
    assert res.status.has_plan, res.message
    _check(sc, res)
    assert res.bound is not None
    assert 0.999 * real.value <= res.bound < real.value  # narrowed: a Lagrangian, a bit lower
    assert res.objective <= 1.05 * real.value


@pytest.mark.slow  # ~40 s on a slow 2-core machine: two 20 s solves
def test_large_book_pipeline_rounds_each_pool_and_the_evaluator_accepts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # books above MIP_FIRST_PAIRS pairs run pool LPs and rounding as one pipeline; the
    # threshold is lowered so a small book takes that route (narrowed CG pools included)
    import terraplan.solvers.bounds as bounds
    import terraplan.solvers.heuristic as heuristic

    monkeypatch.setattr(heuristic, "MIP_FIRST_PAIRS", 100)
    monkeypatch.setattr(bounds, "CG_MIN_PAIRS", 2000)
    g = generate_book(3000, 12, seed=4)
    sc = _scenario(g.accounts, g.reps, {"balance": [
        {"metric": "potential", "tolerance": 0.03}, {"metric": "workload", "tolerance": 0.03}]})
    p = compile(sc)
    assert p.n_pools > 1 and p.n_pairs > 100
    real = bounds.lp_bound(p, time_limit=60)
    res = solve(p, backend="heuristic", seed=1, explain=False,
                options=SolveOptions(time_limit=20, threads=2))
    assert res.status.has_plan, res.message
    assert res.stats["pipeline"] == 1.0 and res.stats["pools_rounded"] == p.n_pools
    _check(sc, res)
    assert res.bound is not None and res.bound <= real.value * (1 + 1e-9)
    assert res.objective <= 1.05 * real.value
    off = solve(p, backend="heuristic", seed=1, explain=False,
                options=SolveOptions(time_limit=20, threads=2, extra={"pipeline": False}))
    assert off.stats["pipeline"] == 0.0 and off.status.has_plan


def test_merge_phase_rate_is_what_a_step_won_per_second_at_least_half_the_estimate() -> None:
    import math

    from terraplan.solvers.heuristic import _merge_rate

    rate = [math.inf, math.inf, 3.0]
    # an untried pool that wins: what it won per second
    assert _merge_rate(rate, 0, 4.0, 2.0) == pytest.approx(2.0)
    # an untried pool that wins nothing: half the best estimate of the pools tried
    assert _merge_rate(rate, 1, 0.0, 1.0) == pytest.approx(1.5)
    # a tried pool that wins nothing: half its own estimate, whatever the others'
    rate = [1.0, 8.0, 3.0]
    assert _merge_rate(rate, 0, 0.0, 1.0) == pytest.approx(0.5)
    # one that wins more than before: its new rate; less than half: half the old one
    assert _merge_rate(rate, 2, 15.0, 3.0) == pytest.approx(5.0)
    assert _merge_rate(rate, 2, 0.3, 3.0) == pytest.approx(1.5)
    # the first pool tried, winning nothing, has nothing to halve
    assert _merge_rate([math.inf, math.inf], 0, 0.0, 1.0) == 0.0


def test_swap_round_draws_partners_only_from_pairs_cheap_enough_to_improve() -> None:
    """The swap round's partner buckets keep only moving pairs whose Δcost is below the bound
    of the rep they leave (:meth:`Search._partner_bound`): the same swaps and chains are
    applied as over every moving pair, from fewer pairs."""
    from terraplan.solvers.heuristic.search import Search
    from terraplan.solvers.heuristic.state import SearchState

    g = generate_book(3000, 30, seed=4)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.1}, {"metric": "workload", "tolerance": 0.1}]}})
    p = compile(Scenario(spec=spec, accounts=g.accounts, reps=g.reps))
    # a plan within every rule but short of a local optimum: four deterministic rounds
    res = solve(p, backend="heuristic", seed=1, options=SolveOptions(time_limit=5, extra={
        "rounding": False, "deterministic": True, "max_rounds": 4}))
    assert res.assignment is not None
    a = p.item_assignment(res.assignment).astype(np.int64)
    probe = Search(SearchState(p, a.copy()), np.random.default_rng(0), lambda: False)
    probe.move_round(False)
    _, blocked = probe.move_round(False)
    assert blocked
    bound = probe._partner_bound(blocked, False)
    assert bound is not None and np.isneginf(bound).any() and np.isfinite(bound).any()
    assert probe._partner_bound(blocked, True) is None  # repairing: every moving pair
    kept, _ = probe._reverse_buckets(bound)
    every, _ = probe._reverse_buckets()
    assert 0 < len(kept) < len(every)
    plans = []
    for pruned in (True, False):
        st = SearchState(p, probe.s.a.copy())
        search = Search(st, np.random.default_rng(0), lambda: False)
        if not pruned:
            search._partner_bound = lambda blocked, repair: None  # type: ignore[method-assign]
        applied = search.swap_round(blocked, False)
        plans.append((applied, st.a.copy(), st.cost))
    assert plans[0][0] > 0
    assert plans[0][0] == plans[1][0] and np.array_equal(plans[0][1], plans[1][1])
    assert plans[0][2] == pytest.approx(plans[1][2], rel=1e-12)
    assert hard_violations(p, plans[0][1]) == []


def test_search_does_not_start_a_round_the_time_left_cannot_hold() -> None:
    # before its first round the search knows only the estimate it was given: a round
    # estimated at 10 s is not started with 1 s left; with no estimate it is
    from terraplan.solvers.heuristic.search import Search
    from terraplan.solvers.heuristic.state import SearchState

    g = generate_book(400, 8, seed=3)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.15}, {"metric": "workload", "tolerance": 0.15}]}})
    p = compile(Scenario(spec=spec, accounts=g.accounts, reps=g.reps))
    start = p.indices[p.indptr[:-1]].astype(np.int64)  # each item's first candidate
    for estimate, runs in ((10.0, False), (0.0, True)):
        state = SearchState(p, start.copy())
        search = Search(state, np.random.default_rng(0), lambda: False, time_left=lambda: 1.0,
                        first_round=estimate)
        search.run(max_rounds=3)
        assert (search.evaluations > 0) == runs
        assert np.array_equal(state.a, start) != runs
