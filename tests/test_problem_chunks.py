"""compile() in chunks: chunk size never changes the problem, the top-K cut matches its
definition, pair_cost_chunks streams the full candidate set, phase times are recorded."""

from __future__ import annotations

import numpy as np
import pytest

import terraplan.problem as problem_mod
from terraplan.domain import Scenario, ScenarioSpec
from terraplan.io.generator import generate_book
from terraplan.problem import ProblemData, compile, pair_cost_chunks

ARRAYS = [f for f in ProblemData.__dataclass_fields__
          if f not in ("scenario", "stats", "mode", "rep_ids", "metric_names", "balance_metric",
                       "rules")]


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    g = generate_book(1500, 20, seed=7, family_share=0.2)
    spec = ScenarioSpec.from_dict({
        "rules": {"balance": [{"metric": "potential", "tolerance": 0.05}],
                  "continuity": {"move_weight": "potential", "move_cost": 0.5}},
        "objective": {"disruption": 2.0}})
    return Scenario(spec=spec, accounts=g.accounts, reps=g.reps)


def assert_same(a: ProblemData, b: ProblemData) -> None:
    for f in ARRAYS:
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f
            np.testing.assert_array_equal(x, y, err_msg=f)
        else:
            assert x == y, f


@pytest.mark.parametrize("K", [None, 4])
def test_chunk_size_does_not_change_the_compiled_problem(scenario, monkeypatch, K) -> None:
    whole = compile(scenario, max_candidates=K)
    monkeypatch.setattr(problem_mod, "_CHUNK", 257)  # hundreds of chunks, families inside
    chunked = compile(scenario, max_candidates=K)
    assert np.any(np.diff(chunked.item_indptr) > 1)  # the book has families
    assert_same(whole, chunked)
    assert whole.stats["pairs_before_filters"] == chunked.stats["pairs_before_filters"]


def reference_top_k(it, rp, tr, owner, K):  # type: ignore[no-untyped-def]
    """The definition: per item, owner first, then by travel, then by rep; keep K."""
    order = np.lexsort((rp, tr, rp != owner[it], it))
    s = it[order]
    rank = np.arange(len(order)) - np.searchsorted(s, s, side="left")
    keep = np.zeros(len(it), dtype=bool)
    keep[order[rank < K]] = True
    return keep


@pytest.mark.parametrize("K", [1, 3, 7])
def test_top_k_matches_its_definition_with_ties(K: int) -> None:
    rng = np.random.default_rng(K)
    deg = rng.integers(1, 12, size=400)
    it = np.repeat(np.arange(400), deg)
    rp = np.concatenate([np.sort(rng.choice(50, d, replace=False)) for d in deg]).astype(np.int32)
    tr = rng.integers(0, 4, size=len(it)).astype(np.float64)  # many ties
    owner = np.where(rng.random(400) < 0.7, rng.integers(0, 50, 400), -1).astype(np.int32)
    got = problem_mod._top_k(it, rp, tr, owner, K)
    np.testing.assert_array_equal(got, reference_top_k(it, rp, tr, owner, K))
    assert np.bincount(it[got], minlength=400).max() <= K


def test_pair_cost_chunks_stream_the_full_candidate_set(scenario, monkeypatch) -> None:
    full = compile(scenario)
    monkeypatch.setattr(problem_mod, "_CHUNK", 300)
    chunks = list(pair_cost_chunks(scenario))
    assert len(chunks) > 10
    seen: set[int] = set()
    for it, _, _ in chunks:  # items never straddle chunks
        items = set(np.unique(it).tolist())
        assert not items & seen
        seen |= items
    it = np.concatenate([c[0] for c in chunks])
    rep = np.concatenate([c[1] for c in chunks])
    cost = np.concatenate([c[2] for c in chunks])
    np.testing.assert_array_equal(it, full.pair_item)
    np.testing.assert_array_equal(rep, full.indices)
    np.testing.assert_array_equal(cost, full.pair_cost)
    # a max_candidates problem is a subset of the stream, with the same costs
    small = compile(scenario, max_candidates=3)
    pos = full.pair_lookup(small.pair_item, small.indices)
    assert np.all(pos >= 0) and small.n_pairs < full.n_pairs
    np.testing.assert_array_equal(full.pair_cost[pos], small.pair_cost)


def test_filtered_pairs_leave_compact_arrays_and_phase_times(scenario) -> None:
    spec = ScenarioSpec.from_dict({"rules": {"balance": [], "max_distance": 40}})
    p = compile(Scenario(spec=spec, accounts=scenario.accounts, reps=scenario.reps))
    assert p.n_pairs < 0.5 * p.stats["pairs_before_filters"]
    for a in (p.indices, p.pair_item, p.pair_cost, p.pair_travel, p.pair_moved):
        held = a if a.base is None else a.base
        assert held.nbytes <= a.nbytes / 0.75 + 64  # no 2x-oversized buffer kept alive
        assert not a.flags.writeable
    phases = {k for k in p.stats if k.startswith("compile_") and k.endswith("_s")}
    assert phases == {"compile_items_pools_s", "compile_preselect_s", "compile_pairs_s",
                      "compile_metrics_targets_s", "compile_continuity_s"}
    assert all(p.stats[k] >= 0 for k in phases)
