"""compile() and decode(): candidate pairs, items, scaled metrics, targets — checked by hand."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "solvers"))
from solverfixtures import line_book, spec, two_reps  # noqa: E402

from terraplan.domain import Plan, Point, RepStatus, Scenario  # noqa: E402
from terraplan.errors import ParameterError, PrecisionWarning, SpecError  # noqa: E402
from terraplan.problem import (  # noqa: E402
    UNLIMITED,
    compile,
    decode,
    encode,
    hard_violations,
    moved_per_rep,
    objective,
    warm_start,
)


def sc(book=None, roster=None, rules=None, objective=None) -> Scenario:
    return Scenario(spec(rules, objective), book or line_book(), roster or two_reps())


def test_every_eligible_pair_is_a_candidate_with_its_travel() -> None:
    p = compile(sc())
    assert (p.n_accounts, p.n_reps, p.n_items, p.n_pairs) == (6, 2, 6, 12)
    assert p.indptr.tolist() == [0, 2, 4, 6, 8, 10, 12]
    assert p.indices.tolist() == [0, 1] * 6
    # distances to r1 (x = 0) and r2 (x = 10), unweighted travel
    assert p.pair_travel.tolist() == [0, 10, 1, 9, 2, 8, 8, 2, 9, 1, 10, 0]
    assert p.item_of.tolist() == list(range(6))
    assert objective(p, [0, 0, 0, 1, 1, 1]) == 6.0


def test_eligibility_is_decided_per_account_class() -> None:
    p = compile(sc(book=line_book(segment={4: "ENT"}), roster=two_reps(r2={"segments": {"ENT"}})))
    assert [p.candidates(t).tolist() for t in range(6)] == [[0], [0], [0], [0], [0, 1], [0]]
    # an empty rule list switches eligibility off
    p2 = compile(sc(book=line_book(segment={4: "ENT"}), roster=two_reps(r2={"segments": {"ENT"}}),
                    rules={"eligibility": []}))
    assert p2.n_pairs == 12


def test_missing_value_is_admitted_only_by_unrestricted_reps() -> None:
    p = compile(sc(book=line_book(segment={0: None}), roster=two_reps(r2={"segments": {"SMB"}})))
    assert p.candidates(0).tolist() == [0]


def test_families_become_one_item_with_summed_metrics() -> None:
    p = compile(sc(book=line_book(parent_id={3: "a2", 5: "a4"})))  # a2 <- a4 <- a6
    assert p.n_items == 4
    assert p.item_of.tolist() == [0, 1, 2, 1, 3, 1]
    assert p.item_members[p.item_indptr[1]:p.item_indptr[2]].tolist() == [1, 3, 5]
    w = p.metric_row("workload")
    assert p.item_metric[w].tolist() == [1.0, 2 + 4 + 6, 3.0, 5.0]
    # travel of the family at r1: 1 + 8 + 10; at r2: 9 + 2 + 0
    assert p.pair_travel[p.indptr[1]:p.indptr[2]].tolist() == [19.0, 11.0]
    assert "families" in p.rules
    # with the rule off every account is its own item
    assert compile(sc(book=line_book(parent_id={3: "a2"}), rules={"families": False})).n_items == 6


def test_locks_protected_pipeline_and_departures_filter_candidates() -> None:
    p = compile(sc(book=line_book(locked_to={0: "r2"}, pipeline={5: 1000}),
                   rules={"continuity": {"protect_pipeline_above": 999}}))
    assert p.candidates(0).tolist() == [1]
    assert p.candidates(5).tolist() == [1]  # protected: stays with its current owner r2
    assert p.account_lock.tolist() == [1, -1, -1, -1, -1, 1]
    dep = compile(sc(roster=two_reps(r2={"status": RepStatus.DEPARTING})))
    assert all(dep.candidates(t).tolist() == [0] for t in range(6))
    # accounts of a departing owner are not counted as moves
    assert dep.account_movable_owner.tolist() == [True] * 3 + [False] * 3
    assert dep.pair_moved.sum() == 0


def test_lock_to_unknown_rep_and_conflicting_family_locks_leave_no_candidate() -> None:
    p = compile(sc(book=line_book(locked_to={0: "ghost"})))
    assert p.account_lock[0] == -2 and p.candidates(0).size == 0
    p2 = compile(sc(book=line_book(parent_id={1: "a1"}, locked_to={0: "r1", 1: "r2"})))
    assert p2.candidates(0).size == 0


def test_max_distance_removes_far_pairs() -> None:
    p = compile(sc(rules={"max_distance": 8.5}))
    assert [p.candidates(t).tolist() for t in range(6)] == [[0], [0], [0, 1], [0, 1], [1], [1]]


def test_moves_and_budgets() -> None:
    p = compile(sc(rules={"continuity": {"max_moved_accounts": 2, "max_moved_share": 0.25,
                                         "max_moved_per_rep": 1, "move_cost": 2.0,
                                         "move_weight": "potential"}},
                   objective={"disruption": 3.0}))
    assert p.max_moved_accounts == 2
    assert p.max_moved_potential == 525  # floor(0.25 × 2,100 cents)
    assert p.max_moved_per_rep == 1
    # a1 to r2 is a move worth $1 of potential; cost 3 × 2 × 1 on top of travel 10
    assert p.pair_moved[1] == 1 and p.pair_moved_potential[1] == 100
    assert p.pair_cost[1] == pytest.approx(10 + 6.0)
    a = [1, 1, 0, 1, 1, 1]  # a1 and a2 leave r1 for r2; a3 stays
    assert moved_per_rep(p, a).tolist() == [2, 0]
    assert any("loses 2" in v for v in hard_violations(p, a))


def test_targets_per_pool_follow_target_shares() -> None:
    roster = two_reps(r1={"target_share": 2.0, "segments": {"SMB"}}, r2={"segments": {"SMB"}},
                      r3={"home": Point(5, 0), "segments": {"ENT"}})
    book = line_book(segment={5: "ENT"})
    p = compile(sc(book, roster, rules={"balance": [{"metric": "potential", "tolerance": 0.1}]}))
    # SMB pool: r1, r2 share 1,500 cents 2:1; ENT pool: r3 alone holds a6's 600
    assert p.target[0].tolist() == pytest.approx([1000.0, 500.0, 600.0])
    assert p.lower[0].tolist() == pytest.approx([900.0, 450.0, 540.0])
    assert p.upper_int[0].tolist() == [1100, 550, 660]
    assert p.rep_pool.tolist()[0] == p.rep_pool.tolist()[1] != p.rep_pool.tolist()[2]


def test_metric_scaling_is_exact_or_warns() -> None:
    p = compile(sc(book=line_book(workload={0: 1.25})))
    w = p.metric_row("workload")
    assert p.metric_scale[w] == 100.0
    assert p.item_metric_int[w].tolist() == [125, 200, 300, 400, 500, 600]
    with pytest.warns(PrecisionWarning, match="workload"):
        compile(sc(book=line_book(workload={0: 1 / 3})))
    cap = compile(sc(book=line_book(workload={0: 1.25}), roster=two_reps(r1={"capacity": 7.5})))
    assert cap.rep_capacity_int.tolist() == [750, UNLIMITED]


def test_spec_errors_name_the_missing_data() -> None:
    with pytest.raises(SpecError, match="revenue"):
        compile(sc(rules={"balance": [{"metric": "revenue"}]}))
    with pytest.raises(SpecError, match="visits"):
        compile(sc(objective={"travel_weighting": "visits"}))
    with pytest.raises(ParameterError, match="max_candidates"):
        compile(sc(), max_candidates=0)


def test_max_candidates_keeps_the_current_owner_and_the_nearest() -> None:
    roster = two_reps(r3={"home": Point(5, 0)})
    p = compile(sc(roster=roster), max_candidates=1, rep_cover=0)
    # a1 (owner r1, nearest r1) keeps 1 rep; a3 at x = 2: owner r1 plus nothing else
    assert p.candidates(0).tolist() == [0]
    assert p.candidates(2).tolist() == [0]
    p2 = compile(sc(roster=roster, book=line_book(current_owner={3: "r1"})), max_candidates=1,
                 rep_cover=0)
    assert p2.candidates(3).tolist() == [0]  # owner kept even though r2/r3 are nearer
    assert compile(sc(roster=roster), max_candidates=3).n_pairs == 18


def test_decode_and_encode_round_trip() -> None:
    p = compile(sc(book=line_book(parent_id={1: "a1"})))
    ia = np.asarray([1, 0, 0, 1, 1], dtype=np.int32)
    plan = decode(p, p.account_assignment(ia), solver="cpsat", seed=7)
    assert plan.to_mapping() == {"a1": "r2", "a2": "r2", "a3": "r1", "a4": "r1", "a5": "r2",
                                 "a6": "r2"}
    assert plan.provenance.solver == "cpsat" and plan.provenance.seed == 7
    assert encode(p, plan).tolist() == [1, 1, 0, 0, 1, 1]
    assert p.item_assignment(encode(p, plan)).tolist() == ia.tolist()
    with pytest.raises(ValueError, match="6 entries"):
        decode(p, [0, 1])


def test_warm_start_drops_non_candidates() -> None:
    p = compile(sc(book=line_book(locked_to={0: "r2"})))
    assert warm_start(p, None).tolist() == [-1, 0, 0, 1, 1, 1]
    assert warm_start(p, encode(p, Plan.from_mapping({"a1": "r2"}, rep_ids=["r1", "r2"]))
                      ).tolist() == [1, -1, -1, -1, -1, -1]


def test_compile_is_read_only_and_fast_on_a_generated_book() -> None:
    from terraplan.io.generator import generate_book

    g = generate_book(3000, 20, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        p = compile(Scenario(spec({"balance": [{"metric": "potential"}]}), g.accounts, g.reps))
    assert p.n_accounts == 3000
    assert p.indptr[-1] == p.n_pairs == len(p.pair_cost)
    # CSR rows are sorted by rep and pairs sorted by (item, rep)
    key = p.pair_item.astype(np.int64) * p.n_reps + p.indices
    assert np.all(np.diff(key) > 0)
    with pytest.raises(ValueError):
        p.indices[0] = 1
    # the current plan's candidates cover every account whose owner is allowed
    cur = warm_start(p, None)
    assert (cur >= 0).mean() > 0.9


@pytest.mark.parametrize("coord", ["latlon", "planar"])
def test_kdtree_preselection_matches_brute_force(coord: str, monkeypatch) -> None:
    import terraplan.problem as problem_mod
    from terraplan.io.generator import generate_book

    g = generate_book(2000, 30, seed=4, coord_system=coord, family_share=0.0)
    s = Scenario(spec({"balance": []}), g.accounts, g.reps)
    fast = compile(s, max_candidates=3)
    monkeypatch.setattr(problem_mod, "_USE_KDTREE", False)
    slow = compile(s, max_candidates=3)
    np.testing.assert_array_equal(fast.indptr, slow.indptr)
    np.testing.assert_array_equal(fast.indices, slow.indices)
    np.testing.assert_allclose(fast.pair_cost, slow.pair_cost)
    assert fast.stats["pairs_before_filters"] < slow.stats["pairs_before_filters"]


def test_max_candidates_keeps_a_balanced_cover() -> None:
    """The K nearest reps per account alone can make the bands unreachable; the balanced
    cover (an aggregated LP's shares, each rep's nearest accounts) keeps the cut feasible."""
    from terraplan.io.generator import generate_book
    from terraplan.solvers.bounds import lp_bound

    g = generate_book(2000, 40, seed=1)
    s = Scenario(spec({"balance": [{"metric": "potential", "tolerance": 0.03},
                                   {"metric": "workload", "tolerance": 0.03}]}),
                 g.accounts, g.reps)
    bare = compile(s, max_candidates=2, rep_cover=0)
    covered = compile(s, max_candidates=2)
    full = compile(s)
    assert lp_bound(bare, time_limit=60, max_pairs=10**8).infeasible
    lp = lp_bound(covered, time_limit=60, max_pairs=10**8)
    lp_full = lp_bound(full, time_limit=60, max_pairs=10**8)
    assert lp.optimal and not lp.infeasible
    assert lp_full.value <= lp.value * (1 + 1e-9)
    # the cover only adds pairs: every pair of the bare cut is kept, every kept pair is a real
    # (eligible, unfiltered) pair with the same cost
    assert bare.n_pairs < covered.n_pairs < full.n_pairs
    assert np.all(covered.pair_lookup(bare.pair_item, bare.indices) >= 0)
    pos = full.pair_lookup(covered.pair_item, covered.indices)
    assert np.all(pos >= 0)
    np.testing.assert_allclose(full.pair_cost[pos], covered.pair_cost)
    with pytest.raises(ParameterError, match="rep_cover"):
        compile(s, max_candidates=2, rep_cover=-1.0)


def test_books_scenarios_and_problems_pickle() -> None:
    """Process pools and Dask workers receive pool problems by pickle."""
    import pickle

    from terraplan.io.generator import generate_book

    g = generate_book(400, 8, seed=3)
    s = Scenario(spec({"balance": [{"metric": "potential", "tolerance": 0.2}]}),
                 g.accounts, g.reps)
    p = compile(s)
    q = pickle.loads(pickle.dumps(p))
    assert q.scenario.accounts.ids.tolist() == g.accounts.ids.tolist()
    assert not q.scenario.accounts.potential.flags.writeable
    assert q.scenario.accounts.index_of(str(g.accounts.ids[7])) == 7
    np.testing.assert_array_equal(q.indices, p.indices)
    np.testing.assert_array_equal(q.pair_cost, p.pair_cost)
    a = p.indices[p.indptr[:-1]]
    assert objective(q, a) == objective(p, a)
    assert hard_violations(q, a) == hard_violations(p, a)


def test_pair_lookup_matches_every_pair_and_rejects_every_non_candidate() -> None:
    """The per-row binary search against a dictionary of all pairs, on ragged rows (1 to 40
    candidates), with reps before, between and after each row's reps, and -1."""
    from terraplan.io.generator import generate_book

    g = generate_book(600, 40, seed=3)
    p = compile(Scenario(spec(None), g.accounts, g.reps), max_candidates=None)
    lengths = np.diff(p.indptr)
    assert lengths.min() < lengths.max()  # ragged: the search must stop inside short rows
    where = {(int(t), int(r)): i
             for i, (t, r) in enumerate(zip(p.pair_item, p.indices, strict=True))}
    rng = np.random.default_rng(0)
    items = rng.integers(0, p.n_items, 20_000)
    reps = rng.integers(-1, p.n_reps + 1, 20_000)
    got = p.pair_lookup(items, reps)
    want = [where.get((int(t), int(r)), -1) for t, r in zip(items, reps, strict=True)]
    assert got.tolist() == want
    assert (got >= 0).any() and (got < 0).any()
    # every real pair finds itself; a whole assignment through pair_index
    assert np.array_equal(p.pair_lookup(p.pair_item, p.indices), np.arange(p.n_pairs))
    first = p.indices[p.indptr[:-1]]
    assert np.array_equal(p.pair_index(first), p.indptr[:-1])
