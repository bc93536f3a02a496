"""LP rounding by restricted pool MIPs: plans meet every hard rule and sit near the LP."""

from __future__ import annotations

import time

import numpy as np
import pytest

import terraplan.solvers.heuristic.rounding as rounding
from terraplan.domain import Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import ProblemData, compile, decode, hard_violations, objective
from terraplan.solvers.heuristic.construct import Construction, lp_guided
from terraplan.solvers.heuristic.rounding import round_lp


def _problem(seed: int) -> tuple[Scenario, ProblemData]:
    g = generate_book(2000, 20, seed=seed)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.03}, {"metric": "workload", "tolerance": 0.03}]}})
    sc = Scenario(spec=spec, accounts=g.accounts, reps=g.reps)
    return sc, compile(sc)


def _book_and_lp() -> tuple[ProblemData, Construction]:
    """The 10k × 50 seed-1 book (±3 % bands on potential and workload) and its pool LPs."""
    g = generate_book(10000, 50, seed=1)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.03}, {"metric": "workload", "tolerance": 0.03}]}})
    p = compile(Scenario(spec=spec, accounts=g.accounts, reps=g.reps))
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None and c.bound.reduced is not None
    return p, c


def _lumpy_routed(monkeypatch: pytest.MonkeyPatch
                  ) -> tuple[ProblemData, Construction, np.ndarray, np.ndarray]:
    """The 10k book and its LP (x, reduced costs), with the pools of more than 1,000 pairs
    rounded by the large-pool routes: pools this size are solved whole by default; the limit
    is lowered to reproduce what pools of 100k-account books do."""
    p, c = _book_and_lp()
    x, rc = c.bound.x, c.bound.reduced
    assert x is not None and rc is not None
    monkeypatch.setattr(rounding, "FULL_POOL_PAIRS", 1000)
    return p, c, x, rc


def test_rounding_meets_the_bands_the_argmax_misses() -> None:
    sc, p = _problem(6)  # seed 5 is provably infeasible (one account above every band)
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None and c.bound.reduced is not None
    a, stats = round_lp(p, c.bound.x, c.bound.reduced, c.item_rep,
                        time.perf_counter() + 60, seed=0, gap=1e-3)
    assert stats.rounded == stats.pools
    assert hard_violations(p, a) == []
    ev = evaluate(sc, decode(p, p.account_assignment(a)))
    assert ev.hard_count == 0
    lp = c.bound.value
    obj = objective(p, a)
    assert abs(ev.objective.total - obj) <= 1e-6 * obj
    assert lp <= obj <= 1.02 * lp  # a plan, never below the relaxation, and close to it


def test_rounding_is_deterministic_for_a_seed() -> None:
    _, p = _problem(7)
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None and c.bound.reduced is not None
    runs = [round_lp(p, c.bound.x, c.bound.reduced, c.item_rep, time.perf_counter() + 60,
                     seed=1, gap=1e-3)[0] for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


def test_rounding_and_bounds_stop_on_cancel() -> None:
    from terraplan.solvers.base import CancelToken
    from terraplan.solvers.bounds import lagrangian_bound, lp_bound

    _, p = _problem(7)
    c = lp_guided(p, time_limit=60, threads=1)
    assert c is not None and c.bound.x is not None and c.bound.reduced is not None
    tok = CancelToken()
    tok.cancel()
    a, stats = round_lp(p, c.bound.x, c.bound.reduced, c.item_rep, time.perf_counter() + 60,
                        cancel=tok)
    assert stats.rounded == 0 and np.array_equal(a, c.item_rep)  # nothing done once cancelled
    b, _, _ = lagrangian_bound(p, iterations=500, cancel=tok)
    assert b.stats["iterations"] == 1
    # a cancelled column generation has no master solved: no pool gets an LP value
    lb = lp_bound(p, cg_min_pairs=1, cancel=tok)
    assert lb.stats["pools_unsolved"] == lb.stats["lps"]


def test_lumpy_pools_are_rounded_with_every_item_free(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lumpy pool (~30 heavy-tailed accounts per rep) sent down the restricted route: fixing
    # part of each rep's book leaves windows no integer completion meets (HiGHS proves it in
    # presolve), so only the lumpy route, every item free, rounds it.
    p, c, x, rc = _lumpy_routed(monkeypatch)
    monkeypatch.setattr(rounding, "MIN_FREE", 10)

    def run() -> tuple[np.ndarray, rounding.RoundingStats]:
        return round_lp(p, x, rc, c.item_rep, time.perf_counter() + 60, seed=0, gap=1e-3)

    a, stats = run()
    assert stats.loose >= 1
    assert stats.rounded == stats.pools
    assert hard_violations(p, a) == []
    assert c.bound.value <= objective(p, a) <= 1.02 * c.bound.value
    # without the unrestricted attempt (and without the search that smooth pools get when
    # every MIP fails) that pool keeps its argmax start, outside its bands
    monkeypatch.setattr(rounding, "LOOSE_ITEMS_PER_REP", 0)
    monkeypatch.setattr(rounding, "_search_pool", lambda *args, **kwargs: None)
    a0, stats0 = run()
    assert stats0.loose == 0 and stats0.rounded < stats0.pools
    assert hard_violations(p, a0) != []


@pytest.mark.slow  # ~50 s on a slow 2-core machine: a 10k rounding, then a search to its end
def test_search_pool_repairs_a_smooth_pool_no_mip_rounded() -> None:
    # the largest pool of a 10k book, its plan broken (a tenth of one rep's items handed to
    # another, and a few items off their candidates): the local search on that pool alone
    # lowers its violation, touches only its items and leaves every item on a candidate
    from terraplan.solvers.heuristic.polish import pool_pairs
    from terraplan.solvers.heuristic.rounding import _search_pool
    from terraplan.solvers.heuristic.state import SearchState

    p, c = _book_and_lp()
    assert c.bound.x is not None and c.bound.reduced is not None
    good, _ = round_lp(p, c.bound.x, c.bound.reduced, c.item_rep, time.perf_counter() + 60,
                       seed=0, gap=1e-3)
    assert hard_violations(p, good) == []
    pairs = max(pool_pairs(p), key=len)
    pool = int(p.item_pool[p.pair_item[pairs[0]]])
    reps = np.flatnonzero(p.rep_pool == pool)
    src, dst = (int(r) for r in reps[:2])
    on_src = np.flatnonzero(good == src)
    can = [t for t in on_src.tolist() if dst in p.indices[p.indptr[t]:p.indptr[t + 1]]]
    bad = good.copy()
    bad[can[:max(len(on_src) // 10, 3)]] = dst
    off = np.flatnonzero(p.item_pool == pool)[-3:]
    bad[off] = -1
    full = bad.copy()
    full[off] = p.indices[p.indptr[off]]
    v0 = SearchState(p, full).violation
    assert v0 > 0
    got = _search_pool(p, pairs, bad, time.perf_counter() + 20, 0, None)
    assert got is not None
    items, to = got
    assert np.all(p.item_pool[items] == pool) and len(items) == np.sum(p.item_pool == pool)
    out = bad.copy()
    out[items] = to
    assert np.all(p.pair_index(out)[items] >= 0)
    assert np.array_equal(out[p.item_pool != pool], good[p.item_pool != pool])
    assert SearchState(p, np.where(out >= 0, out, full)).violation < v0


def test_lumpy_ladder_widens_when_a_rung_finds_no_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lumpy pool's MIP over only the reps the LP uses (one rung: no extra rep per item) has
    # no integer plan on this book; the next rung (ten reps per item) rounds it. With that
    # first rung alone, and no every-pair attempt after it, the pool keeps its argmax start.
    p, c, x, rc = _lumpy_routed(monkeypatch)
    monkeypatch.setattr(rounding, "LOOSE_FULL_PAIRS", 0)
    monkeypatch.setattr(rounding, "_search_pool", lambda *args, **kwargs: None)

    def run(ladder: tuple[int, ...]) -> tuple[np.ndarray, rounding.RoundingStats]:
        monkeypatch.setattr(rounding, "LOOSE_LADDER", ladder)
        return round_lp(p, x, rc, c.item_rep, time.perf_counter() + 60, seed=0, gap=1e-3)

    a1, s1 = run((0,))
    assert s1.loose < s1.pools and hard_violations(p, a1) != []
    a, s = run((0, 10))
    assert s.loose > s1.loose and s.rounded == s.pools
    assert hard_violations(p, a) == []
    assert c.bound.value <= objective(p, a) <= 1.02 * c.bound.value


@pytest.mark.slow  # ~45 s each on a slow 2-core machine: CP-SAT merges against the clock
@pytest.mark.parametrize("lp_running", [False, True], ids=["two-workers", "solo-beside-an-lp"])
def test_lumpy_merges_improve_a_poor_plan_and_keep_every_rule(lp_running: bool) -> None:
    # CP-SAT merge after merge from a plan far above the LP (the smallest lumpy pool's items
    # placed by a pool MIP that *maximises* travel, every other pool rounded): the result is
    # cheaper, still meets every hard rule and never drops below the pool's relaxation; also
    # with one CP-SAT worker, LNS interleaved (a pool LP on the other core)
    import dataclasses

    from terraplan.solvers.heuristic.polish import pool_mip, pool_pairs
    from terraplan.solvers.heuristic.rounding import _merge

    p, c = _book_and_lp()
    x, rc = c.bound.x, c.bound.reduced
    assert x is not None and rc is not None
    good, _ = round_lp(p, x, rc, c.item_rep, time.perf_counter() + 60, seed=0, gap=1e-3)
    assert hard_violations(p, good) == []
    pairs = min(pool_pairs(p), key=len)
    items = np.unique(p.pair_item[pairs]).astype(np.int64)
    reps = np.unique(p.indices[pairs]).astype(np.int64)
    assert len(items) <= 100 * len(reps)  # lumpy
    dear = dataclasses.replace(p, pair_cost=-p.pair_cost)
    chosen, _ = pool_mip(dear, pairs, items, reps, good, 20.0, gap=0.05)
    assert chosen is not None
    got = (p.pair_item[chosen].astype(np.int64), p.indices[chosen].astype(np.int64))
    before = good.copy()
    before[got[0]] = got[1]
    assert hard_violations(p, before) == []
    out_items, out_reps, _ = _merge(p, pairs, x, rc, before, got, time.perf_counter() + 10,
                                    seed=0, cancel=None, lp_running=lambda: lp_running)
    after = before.copy()
    after[out_items] = out_reps
    assert hard_violations(p, after) == []

    def cost(a: np.ndarray) -> float:
        return float(p.pair_cost[p.pair_index(a)[items]].sum())

    assert cost(after) < cost(before)
    lp_pool = float(p.pair_cost[pairs] @ x[pairs])
    assert cost(after) >= lp_pool * (1 - 1e-9)


@pytest.fixture(scope="module")
def rounded_book() -> tuple[ProblemData, np.ndarray, np.ndarray, np.ndarray]:
    """The 10k book, its LP (x, reduced costs) and its rounded plan, once for the module."""
    p, c = _book_and_lp()
    x, rc = c.bound.x, c.bound.reduced
    assert x is not None and rc is not None
    good, _ = round_lp(p, x, rc, c.item_rep, time.perf_counter() + 60, seed=0, gap=1e-3)
    return p, x, rc, good


@pytest.mark.parametrize("stall_share, stalled", [(None, True), (0.0, False), (0.99, False),
                                                  (1.01, True)])
def test_lumpy_merges_report_a_stall(monkeypatch: pytest.MonkeyPatch,
                                     rounded_book: tuple[ProblemData, np.ndarray, np.ndarray,
                                                         np.ndarray],
                                     stall_share: float | None, stalled: bool) -> None:
    # CP-SAT scripted: its first merge gives the rounded plan of the pool (cheaper than the
    # poor start), then nothing. Stalled: the last merge found nothing (None: the merges run
    # on and end that way, whatever ``stall``), or the clock stopped them after a merge that
    # won less than ``stall`` of the pool's cost above its LP (here ``stall_share`` times what
    # that merge won)
    from terraplan.solvers.heuristic.polish import pool_pairs

    p, x, rc, good = rounded_book
    pairs = min(pool_pairs(p), key=len)
    items = np.unique(p.pair_item[pairs]).astype(np.int64)
    poor = good.copy()
    poor[items] = p.indices[p.indptr[items + 1] - 1]  # each item's last candidate

    def cost(a: np.ndarray) -> float:
        return float(p.pair_cost[p.pair_lookup(items, a[items])].sum())

    lp_pool = float(p.pair_cost[pairs] @ x[pairs])
    won = cost(poor) - cost(good)
    assert won > 0
    calls = []

    def scripted(p_, pool, cols, a, t, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(pool)
        if len(calls) > 1:
            return None
        if stall_share is not None:
            time.sleep(1.3 * rounding.MIN_STAGE_SECONDS)  # the clock then stops the merges
        return items, good[items]

    monkeypatch.setattr(rounding, "cpsat_pool", scripted)
    stall = 0.0 if stall_share is None else stall_share * won / (cost(poor) - lp_pool)
    end = time.perf_counter() + (60 if stall_share is None else 2 * rounding.MIN_STAGE_SECONDS)
    out_items, out_reps, got = rounding._merge(p, pairs, x, rc, poor, (items, poor[items]), end,
                                               seed=0, cancel=None, stall=stall)
    assert got is stalled
    assert np.array_equal(out_reps, good[out_items])
    assert len(calls) == (1 + len(rounding.MERGE_WIDEN) if stall_share is None else 1)


def test_pipeline_gives_the_pool_lps_bound_and_rounds_every_pool() -> None:
    """The pool LPs and their rounding in one pipeline (each pool rounded as soon as its own
    LP is solved): the same bound as the pool LPs alone, every pool rounded, a plan the
    evaluator accepts near the LP; the same plan twice for a seed on one worker."""
    from terraplan.solvers.bounds import lp_bound
    from terraplan.solvers.heuristic.rounding import lp_and_round

    sc, p = _problem(6)
    assert p.n_pools > 1
    ref = lp_bound(p, time_limit=60)
    b, a, stats = lp_and_round(p, lp_time=60, deadline=time.perf_counter() + 60, seed=0,
                               gap=1e-3, workers=2)
    assert not b.infeasible and b.x is not None and np.isfinite(b.x).all()
    assert b.value == pytest.approx(ref.value, rel=1e-6)
    assert stats.pools == p.n_pools and stats.rounded == stats.pools
    assert hard_violations(p, a) == []
    ev = evaluate(sc, decode(p, p.account_assignment(a)))
    assert ev.hard_count == 0
    assert b.value <= objective(p, a) <= 1.02 * b.value
    runs = [lp_and_round(p, lp_time=60, deadline=time.perf_counter() + 60, seed=1, gap=1e-3,
                         workers=1)[1] for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


def test_pipeline_reports_an_infeasible_pool_and_stops_on_cancel() -> None:
    from dataclasses import replace

    from terraplan.domain import RepRoster
    from terraplan.solvers.base import CancelToken
    from terraplan.solvers.heuristic.construct import cheapest
    from terraplan.solvers.heuristic.rounding import lp_and_round

    sc, _ = _problem(7)
    # an hour of capacity per rep: no split meets it, every pool's LP is infeasible
    tight = Scenario(spec=sc.spec, accounts=sc.accounts,
                     reps=RepRoster.of([replace(r, capacity=1.0) for r in sc.reps]))
    b, _, stats = lp_and_round(compile(tight), lp_time=60, deadline=time.perf_counter() + 60,
                               workers=2)
    assert b.infeasible and stats.rounded == 0
    _, p = _problem(7)
    tok = CancelToken()
    tok.cancel()
    b, a, stats = lp_and_round(p, lp_time=60, deadline=time.perf_counter() + 60, cancel=tok,
                               workers=2)
    assert stats.rounded == 0 and b.stats["pools_unsolved"] == b.stats["lps"]
    assert np.array_equal(a, cheapest(p))  # nothing solved: each item's cheapest pair
