import json

import numpy as np
import pytest
from evalfixtures import BALANCED, SWAP, plan, scenario, six_book, two_reps
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    DistanceTable,
    Plan,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
)
from terraplan.evaluate import evaluate, objective


def test_six_accounts_totals_on_paper(six_accounts):
    book, roster = six_accounts
    ev = evaluate(scenario(book, roster), Plan.current(book, roster))
    pot = ev.metrics["potential"]
    # r1: a1..a3 = 100 + 200 + 300; r2: 400 + 500 + 600; target 2,100 / 2
    assert pot.totals.tolist() == [600.0, 1500.0]
    assert pot.targets.tolist() == [1050.0, 1050.0]
    assert pot.deviations == pytest.approx([-450 / 1050, 450 / 1050])
    assert ev.metrics["workload"].totals.tolist() == [6.0, 15.0]
    assert ev.metrics["accounts"].totals.tolist() == [3.0, 3.0]
    assert ev.metrics["accounts"].deviations.tolist() == [0.0, 0.0]
    # fairness on total/target = [0.5714, 1.4286]: mean 1, sd 0.4286
    assert pot.cv == pytest.approx(450 / 1050)
    assert pot.gini == pytest.approx(0.5 * 900 / 1050 / 2)
    assert pot.max_min == pytest.approx(2.5)
    assert pot.band_share == 0.0
    # travel (planar, workload-weighted): r1 0·1 + 1·2 + 2·3 = 8; r2 2·4 + 1·5 + 0·6 = 13
    assert ev.travel.per_rep.tolist() == [8.0, 13.0]
    assert ev.travel.total == 21.0
    assert ev.travel.unit == "units"
    assert ev.moves.accounts_moved == 0
    assert ev.assigned == 6 and ev.unassigned == 0
    assert ev.n_pools == 1


def test_moves_counting(six_accounts):
    book, roster = six_accounts
    ev = evaluate(scenario(book, roster), plan(SWAP))
    m = ev.moves
    assert m.accounts_moved == 2 and m.counted == 2 and m.forced == 0
    assert m.potential_moved == 300 + 500
    assert m.gained.tolist() == [1, 1] and m.lost.tolist() == [1, 1]
    assert m.potential_gained.tolist() == [500, 300]
    assert m.potential_lost.tolist() == [300, 500]
    assert m.counted_potential_share == pytest.approx(800 / 2100)
    # a3 (x=2, w=3) is 8 from r2; a5 (x=9, w=5) is 9 from r1
    assert ev.travel.per_rep.tolist() == [0 + 2 + 45, 24 + 8 + 0]


def test_pool_targets_two_disjoint_pools_unequal_shares():
    accts = [Account(f"s{i}", segment="SMB", potential=100, workload=1.0) for i in range(3)]
    accts += [Account(f"e{i}", segment="ENT", potential=500, workload=2.0) for i in range(2)]
    book = AccountBook.from_accounts(accts)
    roster = RepRoster.of([
        Rep("r1", segments=frozenset({"SMB"}), target_share=1.0),
        Rep("r2", segments=frozenset({"SMB"}), target_share=2.0),
        Rep("r3", segments=frozenset({"ENT"})),
        Rep("r4", segments=frozenset({"ENT"})),
        Rep("r5", segments=frozenset({"ENT"}), status=RepStatus.DEPARTING),
    ])
    owners = {"s0": "r1", "s1": "r2", "s2": "r2", "e0": "r3", "e1": "r4"}
    ev = evaluate(scenario(book, roster), plan(owners))
    pot = ev.metrics["potential"]
    # SMB pool 300 split 1:2; ENT pool 1,000 split 1:1; departing r5 has no target
    assert pot.targets.tolist() == [100.0, 200.0, 500.0, 500.0, 0.0]
    assert pot.deviations[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert np.isnan(pot.deviations[4])
    assert ev.n_pools == 2
    assert ev.pools[0] == ev.pools[1] != ev.pools[2] == ev.pools[3]
    assert ev.pools[4] == -1
    assert ev.metrics["workload"].targets.tolist() == pytest.approx([1.0, 2.0, 2.0, 2.0, 0.0])
    assert pot.gini == 0.0 and pot.band_share == 1.0
    assert ev.feasible


def test_an_unrestricted_rep_joins_the_pools():
    accts = [Account("s", segment="SMB", potential=300), Account("e", segment="ENT", potential=900)]
    book = AccountBook.from_accounts(accts)
    roster = RepRoster.of([Rep("r1", segments=frozenset({"SMB"})),
                           Rep("r2", segments=frozenset({"ENT"})), Rep("any")])
    ev = evaluate(scenario(book, roster), plan({"s": "r1", "e": "r2"}))
    assert ev.n_pools == 1
    assert ev.metrics["potential"].targets.tolist() == [400.0, 400.0, 400.0]


def test_eligibility_rule_fields_decide_the_pools():
    accts = [Account("s", segment="SMB", potential=300), Account("e", segment="ENT", potential=900)]
    book = AccountBook.from_accounts(accts)
    roster = RepRoster.of([Rep("r1", segments=frozenset({"SMB"})),
                           Rep("r2", segments=frozenset({"ENT"}))])
    ev = evaluate(scenario(book, roster, eligibility=["region"]), plan({"s": "r2", "e": "r1"}))
    assert ev.n_pools == 1  # segment is not checked: everyone may take everything
    assert ev.counts["eligibility"] == 0


def test_haversine_one_degree_of_latitude():
    book = AccountBook.from_accounts([Account("a", location=Point(0.0, 1.0), workload=2.0)])
    roster = RepRoster.of([Rep("r", home=Point(0.0, 0.0))])
    sc = scenario(book, roster, objective={"travel_weighting": "none"})
    ev = evaluate(sc, plan({"a": "r"}))
    assert ev.travel.unit == "km"
    assert ev.travel.total == pytest.approx(111.19, abs=0.01)
    # workload weighting doubles it
    ev2 = evaluate(scenario(book, roster), plan({"a": "r"}))
    assert ev2.travel.total == pytest.approx(2 * 111.195, abs=0.01)


def test_visits_weighting_and_missing_locations():
    book = AccountBook.from_accounts([
        Account("a", location=Point(3.0, 4.0), extra={"visits": 2.0}),
        Account("b", location=None, extra={"visits": 7.0}),
        Account("c", location=Point(1.0, 0.0), extra={"visits": 1.0}),
    ], coord_system=CoordSystem.PLANAR)
    roster = RepRoster.of([Rep("r", home=Point(0.0, 0.0)), Rep("nohome")])
    sc = scenario(book, roster, objective={"travel_weighting": "visits"})
    ev = evaluate(sc, plan({"a": "r", "b": "r", "c": "nohome"}))
    assert ev.travel.total == pytest.approx(2 * 5.0)
    assert ev.travel.per_rep.tolist() == [10.0, 0.0]
    assert ev.travel.missing_location == 2  # b has no location, nohome has no home


def test_distance_table_mode():
    book = AccountBook.from_accounts([Account("a", workload=1.0), Account("b", workload=3.0)])
    roster = RepRoster.of([Rep("r1"), Rep("r2")])
    table = DistanceTable(account_ids=np.array(["a", "b", "b"], dtype=object),
                          rep_ids=np.array(["r1", "r1", "r2"], dtype=object),
                          cost=np.array([10.0, 20.0, 4.0]))
    sp = scenario(book, roster, objective={"distance": "table"}).spec
    sc = Scenario(spec=sp, accounts=book, reps=roster, distances=table)
    ev = evaluate(sc, plan({"a": "r1", "b": "r2"}))
    assert ev.travel.total == 10.0 + 3 * 4.0
    ev2 = evaluate(sc, plan({"a": "r2", "b": "r1"}))  # (a, r2) is not in the table
    assert ev2.travel.total == 3 * 20.0 and ev2.travel.missing_location == 1


def test_objective_formula_terms(six_accounts):
    book, roster = six_accounts
    rules = {"balance": [{"metric": "potential", "tolerance": 0.1, "hard": False,
                          "penalty": 10.0}],
             "continuity": {"move_cost": 2.0, "move_weight": "count"},
             "objective": {"travel": 0.5, "disruption": 3.0, "balance": 4.0}}
    sc = scenario(book, roster, **rules)
    ob = objective(sc, plan(SWAP))
    excess = 500 / 2100 - 0.1  # r1 800 vs 1,050 and r2 1,300: |dev| = 250/1,050
    assert ob.travel == 79.0
    assert ob.disruption == 2.0 * 2
    assert ob.balance == pytest.approx(10.0 * 2 * excess)
    assert ob.total == pytest.approx(0.5 * 79 + 3.0 * 4 + 4.0 * 10.0 * 2 * excess)
    assert sum(ob.weighted.values()) == pytest.approx(ob.total)
    assert evaluate(sc, plan(SWAP)).objective == ob


def test_disruption_weighted_by_potential_in_currency_units(six_accounts):
    book, roster = six_accounts
    sc = scenario(book, roster, continuity={"move_cost": 1.5, "move_weight": "potential"})
    assert objective(sc, plan(SWAP)).disruption == pytest.approx(1.5 * (3.0 + 5.0))


def test_forced_moves_are_not_counted():
    book = six_book()
    roster = two_reps(r2={"status": RepStatus.DEPARTING})
    sc = scenario(book, roster, continuity={"move_cost": 1.0, "max_moved_accounts": 0})
    ev = evaluate(sc, plan({f"a{i}": "r1" for i in range(1, 7)}))
    assert ev.moves.accounts_moved == 3 and ev.moves.forced == 3 and ev.moves.counted == 0
    assert ev.objective.disruption == 0.0
    assert ev.counts["continuity_budget"] == 0


def test_to_dict_is_json_and_summary_is_plain_text(six_accounts):
    book, roster = six_accounts
    ev = evaluate(scenario(book, roster), plan(BALANCED))
    d = json.loads(json.dumps(ev.to_dict()))
    assert d["feasible"] is True
    assert d["moves"]["potential_moved"] == 2100 - 500  # every account but a5 changed hands
    assert d["per_rep"][0]["potential"] == 1000
    text = ev.summary()
    assert "feasible" in text and "potential" in text and "[" not in text.split("\n")[0]


@st.composite
def books(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    pots = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))
    wls = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n))
    owners = draw(st.lists(st.sampled_from(["r1", "r2", "r3", None]), min_size=n, max_size=n))
    segs = draw(st.lists(st.sampled_from(["SMB", "ENT"]), min_size=n, max_size=n))
    xs = draw(st.lists(st.floats(-50, 50, allow_nan=False), min_size=n, max_size=n))
    perm = draw(st.permutations(list(range(n))))
    accts = [Account(f"a{i}", location=Point(xs[i], 0.0), segment=segs[i], potential=pots[i],
                     workload=wls[i], current_owner=owners[i]) for i in range(n)]
    return accts, perm


@settings(max_examples=60, deadline=None)
@given(books())
def test_per_rep_totals_are_permutation_invariant(data):
    accts, perm = data
    roster = RepRoster.of([Rep("r1", home=Point(0, 0)), Rep("r2", segments=frozenset({"ENT"}),
                                                           home=Point(5, 0)), Rep("r3")])
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    shuffled = AccountBook.from_accounts([accts[i] for i in perm],
                                         coord_system=CoordSystem.PLANAR)
    owners = {a.id: a.current_owner for a in accts}
    a = evaluate(scenario(book, roster), plan(owners))
    b = evaluate(scenario(shuffled, roster), plan(owners))
    for m in a.metrics:
        assert a.metrics[m].totals == pytest.approx(b.metrics[m].totals)
        assert a.metrics[m].targets == pytest.approx(b.metrics[m].targets)
    assert a.travel.total == pytest.approx(b.travel.total)
    assert dict(a.counts) == dict(b.counts)
    # totals of assigned accounts add up to the book's assigned total
    assigned = [x for x in accts if x.current_owner]
    assert a.metrics["potential"].totals.sum() == sum(x.potential for x in assigned)


def test_an_unassigned_account_is_not_a_move(six_accounts):
    book, roster = six_accounts
    sc = scenario(book, roster, continuity={"move_cost": 1.0})
    ev = evaluate(sc, plan({**SWAP, "a6": None}))
    assert ev.moves.accounts_moved == 2 and ev.moves.lost.tolist() == [1, 1]
    assert ev.objective.disruption == 2.0
    assert ev.counts["unassigned"] == 1


def test_spec_errors_name_the_problem(six_accounts):
    from terraplan.errors import SpecError

    book, roster = six_accounts
    with pytest.raises(SpecError, match="'revenue'"):
        evaluate(scenario(book, roster, balance=[{"metric": "revenue"}]), plan(SWAP))
    with pytest.raises(SpecError, match="'visits'"):
        evaluate(scenario(book, roster, objective={"travel_weighting": "visits"}), plan(SWAP))
    with pytest.raises(SpecError, match="no distance table"):
        evaluate(scenario(book, roster, objective={"distance": "table"}), plan(SWAP))


def test_sparse_class_keys_take_the_sort_path_with_the_same_answer():
    # 1,500 regions x 800 verticals: the class key space is too large for the dense lookup
    from terraplan.domain import Categorical

    base = AccountBook.from_accounts([
        Account("a", segment="SMB", potential=100), Account("b", segment="ENT", potential=300),
        Account("c", segment="ENT", potential=500)])
    regions = Categorical.from_codes([0, 1499, 1499], [f"G{i}" for i in range(1500)])
    verticals = Categorical.from_codes([799, 0, 0], [f"V{i}" for i in range(800)])
    book = AccountBook(
        ids=base.ids.copy(), names=base.names.copy(), x=base.x.copy(), y=base.y.copy(),
        country=base.country, region=regions, postal_code=base.postal_code,
        segment=base.segment, vertical=verticals, potential=base.potential.copy(),
        workload=base.workload.copy(), current_owner=base.current_owner, parent=base.parent.copy(),
        locked_to=base.locked_to, pipeline=base.pipeline.copy(), extra={})
    roster = RepRoster.of([Rep("r1", regions=frozenset({"G0"})),
                           Rep("r2", regions=frozenset({"G1499"}), target_share=3.0),
                           Rep("r3", regions=frozenset({"G1499"}))])
    ev = evaluate(scenario(book, roster), plan({"a": "r1", "b": "r2", "c": "r3"}))
    assert ev.n_pools == 2
    assert ev.metrics["potential"].targets.tolist() == [100.0, 600.0, 200.0]
    assert ev.counts["eligibility"] == 0
