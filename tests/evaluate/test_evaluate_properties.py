"""Invariants of the evaluator on random small scenarios and random plans."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Plan,
    Point,
    Reason,
    Rep,
    RepRoster,
    RepStatus,
    Scenario,
    ScenarioSpec,
)
from terraplan.evaluate import evaluate, explain_moves, objective

SEGS = ["SMB", "ENT", None]
REGS = ["N", "S"]


@st.composite
def cases(draw):
    n = draw(st.integers(1, 20))
    m = draw(st.integers(1, 5))
    reps = []
    for j in range(m):
        reps.append(Rep(
            f"r{j}",
            segments=frozenset(draw(st.sets(st.sampled_from(["SMB", "ENT"]), max_size=2))),
            regions=frozenset(draw(st.sets(st.sampled_from(REGS), max_size=1))),
            home=draw(st.one_of(st.none(), st.builds(Point, st.integers(-20, 20),
                                                     st.integers(-20, 20)))),
            capacity=draw(st.one_of(st.none(), st.floats(0, 200))),
            target_share=draw(st.sampled_from([1.0, 1.2, 2.0])),
            status=draw(st.sampled_from(list(RepStatus))),
        ))
    ids = [r.id for r in reps] + ["gone"]
    accts = []
    for i in range(n):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        accts.append(Account(
            f"a{i}", location=Point(draw(st.integers(-20, 20)), draw(st.integers(-20, 20))),
            segment=draw(st.sampled_from(SEGS)), region=draw(st.sampled_from(REGS)),
            potential=draw(st.integers(0, 10_000)), workload=draw(st.floats(0, 50)),
            pipeline=draw(st.integers(0, 1_000)),
            current_owner=draw(st.one_of(st.none(), st.sampled_from(ids))),
            locked_to=draw(st.one_of(st.none(), st.sampled_from([r.id for r in reps]))),
            parent_id=None if parent is None else f"a{parent}",
        ))
    rules = {
        "balance": [{"metric": "potential", "tolerance": draw(st.floats(0, 0.5))},
                    {"metric": "workload", "tolerance": 0.1, "hard": False,
                     "penalty": draw(st.floats(0, 100))}],
        "max_distance": draw(st.one_of(st.none(), st.floats(1, 30))),
        "continuity": {"max_moved_accounts": draw(st.one_of(st.none(), st.integers(0, 5))),
                       "max_moved_per_rep": draw(st.one_of(st.none(), st.integers(0, 3))),
                       "move_cost": draw(st.floats(0, 5)),
                       "move_weight": draw(st.sampled_from(["count", "potential", "pipeline"])),
                       "protect_pipeline_above": draw(st.one_of(st.none(),
                                                                st.integers(0, 1_000)))},
    }
    objective_w = {"travel": draw(st.floats(0, 2)), "disruption": draw(st.floats(0, 2)),
                   "balance": draw(st.floats(0, 2))}
    spec = ScenarioSpec.from_dict({"rules": rules, "objective": objective_w})
    book = AccountBook.from_accounts(accts, coord_system=CoordSystem.PLANAR)
    sc = Scenario(spec=spec, accounts=book, reps=RepRoster.of(reps))
    owners = {a.id: draw(st.one_of(st.none(), st.sampled_from(ids))) for a in accts}
    return sc, Plan.from_mapping(owners)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_evaluator_invariants(case):
    sc, plan = case
    ev = evaluate(sc, plan, max_records=3)
    book, roster = sc.accounts, sc.reps
    owner = ev.owner
    assigned = owner >= 0
    counting = np.array([r.status is not RepStatus.DEPARTING for r in roster])

    for m, mb in ev.metrics.items():
        values = book.metric(m)
        assert mb.totals.sum() == pytest.approx(values[assigned].sum())
        assert np.all(mb.targets[~counting] == 0)
        assert mb.targets.sum() <= values.sum() + 1e-6 * max(1.0, values.sum())
        if mb.gini > 0:
            assert mb.gini <= 1 - 1 / max(1, int(np.count_nonzero(counting & (mb.targets > 0))))

    assert ev.feasible == (len(ev.hard_violations) == 0)  # records vs counts: two paths
    for kind, count in ev.counts.items():
        assert len(ev.of_kind(kind)) == min(count, 3)
    soft = sum(1 for v in ev.violations if not v.hard)
    assert len(ev.violations) == soft + len(ev.hard_violations)
    assert sum(ev.counts.values()) >= len(ev.violations)  # records are a capped subset
    assert ev.unassigned + ev.assigned == len(book)

    ob = objective(sc, plan)
    assert ob.total == pytest.approx(ev.objective.total)
    assert ob.total == pytest.approx(sum(ob.weighted.values()))
    assert ev.travel.total == pytest.approx(ev.travel.per_rep.sum())
    assert ev.moves.gained.sum() == ev.moves.accounts_moved
    assert ev.moves.counted + ev.moves.forced == ev.moves.accounts_moved

    reasons = explain_moves(sc, None, plan)
    cur = np.array([-1 if a.current_owner is None else
                    (roster.index_of(a.current_owner) if a.current_owner in roster else -2)
                    for a in book])
    same = cur == owner
    assert np.all(reasons[same & (cur >= 0)] == Reason.UNCHANGED)
    assert np.all(reasons[(cur == -1) & assigned] == Reason.NEW)
    assert np.all(reasons[(cur == -2)] == Reason.DEPARTURE)
    assert np.all(reasons[(cur >= 0) & ~same] >= Reason.ELIGIBILITY)
