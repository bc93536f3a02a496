"""The planning use cases on a real store (SQLite file and PostgreSQL schema)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import numpy as np
import pytest

from terraplan.domain import (
    Account,
    AccountBook,
    CoordSystem,
    Plan,
    Point,
    Reason,
    Rep,
    RepRoster,
    ScenarioSpec,
)
from terraplan.errors import ConflictError, LifecycleError, NotFoundError, ParameterError
from terraplan.services import Workspace
from terraplan.solvers.base import SolveResult, Status

Book = tuple[AccountBook, RepRoster]


@pytest.fixture
def ws(migrated_url: str) -> Iterator[Workspace]:
    w = Workspace.open(migrated_url)
    yield w
    w.close()


def solved(status: Status = Status.OPTIMAL) -> SolveResult:
    return SolveResult(status=status, backend="cpsat", seed=7, objective=12.0, bound=11.0,
                       runtime=0.25, message="ok", stats={"branches": 10})


def plan_of(book: AccountBook, roster: RepRoster, owners: list[int],
            reasons: list[int] | None = None) -> Plan:
    return Plan.from_indices(book, roster, owners, reasons=reasons)


# r1 = 0, r2 = 1. Current: a1..a3 -> r1, a4..a6 -> r2. Plan B moves a3 to r2 for balance.
CURRENT = [0, 0, 0, 1, 1, 1]
MOVE_A3 = [0, 0, 1, 1, 1, 1]
MOVE_A3_REASONS = [0, 0, int(Reason.BALANCE), 0, 0, 0]


def make_solved(ws: Workspace, book: Book, name: str = "base", owners: list[int] = CURRENT,
                cycle: str = "FY27", reasons: list[int] | None = None) -> int:
    b, r = book
    info = ws.create_scenario(name, actor="ann", book=b, roster=r, cycle=cycle)
    ws.record_solve(info.id, solved(), plan_of(b, r, owners, reasons), actor="ann")
    return info.id


def to_active(ws: Workspace, ref: int | str) -> None:
    for verb in ("submit", "approve", "activate"):
        ws.transition(ref, verb, actor="cro")


# -- inputs -------------------------------------------------------------------------------------
def test_identical_inputs_are_stored_once(ws: Workspace, six_accounts: Book) -> None:
    book, roster = six_accounts
    first = ws.import_inputs(book, roster, actor="ann")
    again = ws.import_inputs(book, roster, actor="bob")
    assert first.accounts_created and first.reps_created
    assert not again.accounts_created and not again.reps_created
    assert again.accounts.sha256 == first.accounts.sha256
    assert again.accounts.id == first.accounts.id
    assert len(ws.list_snapshots("accounts")) == 1
    # two scenarios over the same inputs share the snapshots
    a = ws.create_scenario("a", actor="ann")
    b = ws.create_scenario("b", actor="ann", book=book, roster=roster)
    assert a.accounts_sha256 == b.accounts_sha256 == first.accounts.sha256
    assert len(ws.list_snapshots("accounts")) == 1 and len(ws.list_snapshots("reps")) == 1
    loaded = ws.load_scenario("a")
    assert [x.id for x in loaded.accounts] == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert loaded.reps.ids == ("r1", "r2") and loaded.spec.name == "a"


def test_create_without_inputs_is_refused(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="import inputs first"):
        ws.create_scenario("x", actor="ann")
    assert ws.list_scenarios() == []


def test_duplicate_scenario_name_is_refused(ws: Workspace, six_accounts: Book) -> None:
    ws.create_scenario("base", actor="ann", book=six_accounts[0], roster=six_accounts[1])
    with pytest.raises(ConflictError, match="already exists"):
        ws.create_scenario("base", actor="bob")


# -- solve runs and plans -----------------------------------------------------------------------
def test_record_solve_stores_run_and_plan_and_marks_solved(ws: Workspace,
                                                           six_accounts: Book) -> None:
    book, roster = six_accounts
    info = ws.create_scenario("base", actor="ann", book=book, roster=roster)
    assert info.status == "draft" and info.version == 1 and info.plan_id is None
    run = ws.record_solve("base", solved(), plan_of(book, roster, MOVE_A3, MOVE_A3_REASONS),
                          actor="ann", options={"time_limit": 5})
    after = ws.get_scenario("base")
    assert after.status == "solved" and after.plan_id == run.plan_id
    assert after.version == 2
    assert (run.backend, run.seed, run.objective, run.bound) == ("cpsat", 7, 12.0, 11.0)
    assert run.gap == pytest.approx(1 / 12)
    assert run.options == {"time_limit": 5} and run.terraplan_version
    plan = ws.get_plan("base")
    assert plan.to_mapping() == {"a1": "r1", "a2": "r1", "a3": "r2", "a4": "r2", "a5": "r2",
                                 "a6": "r2"}
    assert plan.reasons is not None and plan.reasons.tolist() == MOVE_A3_REASONS
    assert [r.id for r in ws.list_solve_runs("base")] == [run.id]


def test_a_run_without_plan_is_recorded_and_keeps_the_status(ws: Workspace,
                                                             six_accounts: Book) -> None:
    ws.create_scenario("base", actor="ann", book=six_accounts[0], roster=six_accounts[1])
    run = ws.record_solve("base", SolveResult(Status.INFEASIBLE, "milp", 1, None, None, 0.1),
                          None, actor="ann", error=None)
    assert run.plan_id is None and run.status == "infeasible"
    assert ws.get_scenario("base").status == "draft"
    with pytest.raises(NotFoundError, match="has no plan"):
        ws.get_plan("base")


def test_plan_with_unknown_rep_is_refused_and_nothing_is_written(
        ws: Workspace, six_accounts: Book) -> None:
    book, roster = six_accounts
    ws.create_scenario("base", actor="ann", book=book, roster=roster)
    stranger = Plan.from_mapping({"a1": "r9", "a2": "r1"})
    with pytest.raises(ParameterError, match="r9"):
        ws.record_solve("base", solved(), stranger, actor="ann")
    rows = ws.count_rows()
    assert rows["solve_runs"] == 0 and rows["plans"] == 0 and rows["assignments"] == 0
    assert ws.get_scenario("base").status == "draft"


def test_plan_versions_are_kept_and_comparable(ws: Workspace, six_accounts: Book) -> None:
    book, roster = six_accounts
    sid = make_solved(ws, six_accounts)
    ws.record_solve(sid, solved(), plan_of(book, roster, MOVE_A3, MOVE_A3_REASONS), actor="ann")
    plans = ws.list_plans(sid)
    assert len(plans) == 2 and ws.get_scenario(sid).plan_id == plans[-1].id
    cmp = ws.compare(sid, sid, a_plan=plans[0].id, b_plan=plans[1].id)
    assert [(m.account_id, m.from_rep, m.to_rep) for m in cmp.moves] == [("a3", "r1", "r2")]
    assert ws.get_plan(sid, plans[0].id).to_mapping()["a3"] == "r1"


# -- lifecycle ----------------------------------------------------------------------------------
def test_full_lifecycle_is_audited_in_order(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    ws.transition(sid, "submit", actor="ann", why="ready")
    ws.transition(sid, "send_back", actor="cro", why="too many moves")
    ws.transition(sid, "submit", actor="ann")
    ws.transition(sid, "approve", actor="cro", why="signed off")
    ws.transition(sid, "reopen", actor="cro", why="one more look")
    ws.transition(sid, "approve", actor="cro")
    info = ws.transition(sid, "activate", actor="cro")
    assert info.status == "active"
    info = ws.transition(sid, "archive", actor="cro", why="year over")
    assert info.status == "archived"
    actions = [(e.action, e.actor, e.why) for e in reversed(ws.history(sid))]
    assert actions == [
        ("create", "ann", ""), ("record_plan", "ann", ""), ("solve", "ann", ""),
        ("submit", "ann", "ready"), ("send_back", "cro", "too many moves"),
        ("submit", "ann", ""), ("approve", "cro", "signed off"),
        ("reopen", "cro", "one more look"), ("approve", "cro", ""), ("activate", "cro", ""),
        ("archive", "cro", "year over"),
    ]
    approve = ws.history(sid, action="approve")[0]
    assert approve.details["from"] == "in_review" and approve.details["to"] == "approved"


@pytest.mark.parametrize(("setup", "verb", "status"), [
    ([], "approve", "draft"),
    ([], "submit", "draft"),
    ([], "activate", "draft"),
    (["solve"], "activate", "solved"),
    (["solve"], "approve", "solved"),
    (["solve", "submit", "approve", "activate"], "reopen", "active"),
    (["solve", "submit", "approve", "activate"], "submit", "active"),
    (["archive"], "submit", "archived"),
    (["solve", "archive"], "send_back", "archived"),
])
def test_refused_transitions_change_nothing(ws: Workspace, six_accounts: Book,
                                            setup: list[str], verb: str, status: str) -> None:
    book, roster = six_accounts
    sid = ws.create_scenario("s", actor="ann", book=book, roster=roster).id
    for step in setup:
        if step == "solve":
            ws.record_solve(sid, solved(), plan_of(book, roster, CURRENT), actor="ann")
        else:
            ws.transition(sid, step, actor="ann")
    before = ws.get_scenario(sid)
    assert before.status == status
    with pytest.raises(LifecycleError, match=f"is {status}"):
        ws.transition(sid, verb, actor="mallory")
    after = ws.get_scenario(sid)
    assert (after.status, after.version) == (before.status, before.version)
    assert all(e.actor != "mallory" for e in ws.history(sid))


def test_unknown_verb_is_bad_input(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    with pytest.raises(ParameterError, match="unknown lifecycle action 'publish'"):
        ws.transition(sid, "publish", actor="ann")


@pytest.mark.parametrize("status_path", [["submit"], ["submit", "approve"],
                                         ["submit", "approve", "activate"]])
def test_frozen_scenarios_refuse_every_edit_and_copy_creates_a_child(
        ws: Workspace, six_accounts: Book, status_path: list[str]) -> None:
    book, roster = six_accounts
    sid = make_solved(ws, six_accounts)
    for verb in status_path:
        ws.transition(sid, verb, actor="cro")
    frozen = ws.get_scenario(sid)
    edits = [
        lambda: ws.record_solve(sid, solved(), plan_of(book, roster, MOVE_A3), actor="ann"),
        lambda: ws.record_plan(sid, plan_of(book, roster, MOVE_A3), actor="ann"),
        lambda: ws.update_scenario(sid, actor="ann", description="changed"),
        lambda: ws.update_scenario(sid, actor="ann", spec=ScenarioSpec(seed=3)),
        lambda: ws.record_quotas(sid, {("r1", "Q1"): 100}, actor="ann", method="flat"),
        lambda: ws.record_comp(sid, "plan", {}, actor="ann", total_cost_cents=1,
                               per_rep_pay_cents={}),
        lambda: ws.record_metrics(sid, "balance", {"x": 1}, actor="ann"),
        lambda: ws.create_job(sid, actor="ann"),
    ]
    for edit in edits:
        with pytest.raises(LifecycleError, match="cannot be changed"):
            edit()
    after = ws.get_scenario(sid)
    assert (after.version, after.plan_id, after.description) == (
        frozen.version, frozen.plan_id, frozen.description)
    child = ws.copy_scenario(sid, "child", actor="ann", why="edit the approved plan")
    assert child.parent_id == sid and child.parent_name == "base"
    assert child.status == "solved" and child.plan_id != frozen.plan_id
    assert ws.get_plan(child.id).to_mapping() == ws.get_plan(sid).to_mapping()
    ws.record_plan(child.id, plan_of(book, roster, MOVE_A3), actor="ann")
    assert ws.get_plan(sid).to_mapping()["a3"] == "r1"  # the parent is untouched
    assert ws.get_plan(child.id).to_mapping()["a3"] == "r2"


def test_new_spec_on_a_solved_scenario_makes_it_a_draft(ws: Workspace,
                                                        six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    v = ws.get_scenario(sid).version
    spec = ScenarioSpec.from_dict({"rules": {"balance": [{"metric": "workload"}]}})
    info = ws.update_scenario(sid, actor="ann", spec=spec, expected_version=v)
    assert info.status == "draft" and info.version == v + 1
    assert ws.load_scenario(sid).spec.rules.balance[0].metric == "workload"
    same = ws.update_scenario(sid, actor="ann", spec=spec)  # same rules: no new snapshot
    assert same.spec_sha256 == info.spec_sha256


def test_copy_with_a_new_spec_starts_as_draft(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    child = ws.copy_scenario(sid, "alt", actor="ann",
                             spec=ScenarioSpec.from_dict({"objective": {"travel": 2.0}}))
    assert child.status == "draft" and child.plan_id is None


# -- activation ---------------------------------------------------------------------------------
def test_activation_archives_the_previous_active_plan_atomically(ws: Workspace,
                                                                 six_accounts: Book) -> None:
    first = make_solved(ws, six_accounts, "first")
    second = make_solved(ws, six_accounts, "second", owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    other_cycle = make_solved(ws, six_accounts, "fy28", cycle="FY28")
    to_active(ws, first)
    to_active(ws, other_cycle)
    assert ws.owner_of("a3", cycle="FY27").rep_id == "r1"
    ws.transition(second, "submit", actor="cro")
    ws.transition(second, "approve", actor="cro")
    info = ws.activate(second, actor="cro", why="go live")
    assert info.status == "active"
    assert ws.get_scenario(first).status == "archived"
    assert ws.get_scenario(other_cycle).status == "active"  # other cycles are untouched
    owner = ws.owner_of("a3", cycle="FY27")
    assert (owner.rep_id, owner.reason, owner.scenario_name, owner.cycle) == (
        "r2", Reason.BALANCE, "second", "FY27")
    superseded = ws.history(first, action="archive")[0]
    assert superseded.details["superseded_by"] == "second" and superseded.actor == "cro"
    assert sorted(s.name for s in ws.list_scenarios(status="active")) == ["fy28", "second"]
    assert [s.name for s in ws.list_scenarios(cycle="FY27", status="archived")] == ["first"]


def test_owner_lookup_errors(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    with pytest.raises(NotFoundError, match="no active plan"):
        ws.owner_of("a1")
    to_active(ws, sid)
    assert ws.owner_of("a1").rep_id == "r1"
    with pytest.raises(NotFoundError, match="'zz' is not in the active plan"):
        ws.owner_of("zz")
    with pytest.raises(NotFoundError, match="in cycle 'FY99'"):
        ws.owner_of("a1", cycle="FY99")


# -- optimistic locking -------------------------------------------------------------------------
def test_lost_update_is_refused(ws: Workspace, six_accounts: Book) -> None:
    book, roster = six_accounts
    sid = make_solved(ws, six_accounts)
    seen_by_ann = ws.get_scenario(sid).version
    seen_by_bob = ws.get_scenario(sid).version
    ws.record_solve(sid, solved(), plan_of(book, roster, MOVE_A3), actor="ann",
                    expected_version=seen_by_ann)
    with pytest.raises(ConflictError, match=f"you had version {seen_by_bob}"):
        ws.update_scenario(sid, actor="bob", description="bob's edit",
                           expected_version=seen_by_bob)
    with pytest.raises(ConflictError):
        ws.transition(sid, "submit", actor="bob", expected_version=seen_by_bob)
    info = ws.get_scenario(sid)
    assert info.description == "" and info.status == "solved"
    assert ws.get_plan(sid).to_mapping()["a3"] == "r2"  # ann's work survived


def test_stale_orm_write_is_refused_by_the_version_column(migrated_url: str,
                                                          six_accounts: Book) -> None:
    """Bob reads version v, Ann commits an edit, Bob's later UPDATE ... WHERE version = v
    matches no row and is refused instead of overwriting Ann's edit."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from terraplan.scenarios.models import Scenario

    ws = Workspace.open(migrated_url)
    try:
        sid = make_solved(ws, six_accounts)
        with Session(ws.engine, expire_on_commit=False) as bob:
            b = bob.get(Scenario, sid)
            assert b is not None
            bob.commit()  # bob's read is over; he edits "later"
            with Session(ws.engine) as ann:
                a = ann.get(Scenario, sid)
                assert a is not None and a.version == b.version
                a.description = "ann's edit"
                ann.commit()
            b.description = "bob's edit"
            with pytest.raises(StaleDataError):
                bob.commit()
        assert ws.get_scenario(sid).description == "ann's edit"
    finally:
        ws.close()


# -- quotas, comp, metrics, compare -------------------------------------------------------------
def test_quotas_are_integer_cents_for_known_reps(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts)
    with pytest.raises(ParameterError, match="integer cents"):
        ws.record_quotas(sid, {("r1", "Q1"): 10.5}, actor="ann", method="flat")  # type: ignore[dict-item]
    with pytest.raises(ParameterError, match="r9"):
        ws.record_quotas(sid, {("r9", "Q1"): 10}, actor="ann", method="flat")
    with pytest.raises(ParameterError, match="given twice"):
        ws.record_quotas(sid, [("r1", "Q1", 1), ("r1", "Q1", 2)], actor="ann", method="flat")
    assert ws.get_quotas(sid) is None
    q = ws.record_quotas(sid, {("r1", "Q1"): 100_00, ("r1", "Q2"): 150_00,
                               ("r2", "Q1"): 300_00}, actor="ann", method="potential",
                         params={"street": 550_00})
    assert q.total_cents == 550_00 and q.per_rep() == {"r1": 250_00, "r2": 300_00}
    got = ws.get_quotas(sid)
    assert got is not None and got.quotas[("r1", "Q2")] == 150_00 and got.method == "potential"


def test_compare_reports_moves_rep_deltas_quota_pay_and_fairness(ws: Workspace,
                                                                 six_accounts: Book) -> None:
    a = make_solved(ws, six_accounts, "a")
    b = make_solved(ws, six_accounts, "b", owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    ws.record_quotas(a, {("r1", "FY"): 600_00, ("r2", "FY"): 1500_00}, actor="ann", method="m")
    ws.record_quotas(b, {("r1", "FY"): 300_00, ("r2", "FY"): 1800_00}, actor="ann", method="m")
    ws.record_comp(b, "standard", {"rate": 0.1}, actor="ann", total_cost_cents=21_000,
                   per_rep_pay_cents={"r1": 9_000, "r2": 12_000})
    cmp = ws.compare("a", "b")
    assert cmp.n_accounts == 6 and cmp.n_moved == 1
    assert list(cmp.moves)[0].reason == "balance"
    assert cmp.moved_potential_cents == 300
    r1, r2 = cmp.reps
    assert r1.rep_id == "r1" and r1.metrics["potential"] == (600.0, 300.0)
    assert r2.metrics["potential"] == (1500.0, 1800.0) and r2.delta("accounts") == 1
    assert (r1.accounts_out, r1.accounts_in, r2.accounts_in) == (1, 0, 1)
    assert r1.quota == (600_00, 300_00) and r2.quota == (1500_00, 1800_00)
    assert r1.pay == (None, 9_000)
    summary = cmp.summary()
    assert summary["quota_total_cents"] == {"a": 2100_00, "b": 2100_00}
    assert summary["pay_total_cents"] == {"a": None, "b": 21_000}
    # potential per rep: A 600/1500 (mean 1050, sd 450), B 300/1800 (mean 1050, sd 750)
    fa, fb = cmp.fairness["potential"]["a"], cmp.fairness["potential"]["b"]
    assert fa["cv"] == pytest.approx(450 / 1050) and fb["cv"] == pytest.approx(750 / 1050)
    assert fa["max_over_min"] == pytest.approx(2.5) and fb["max_over_min"] == pytest.approx(6)
    assert fb["max_abs_dev"] == pytest.approx(750 / 1050)
    # Gini of two values = |x1 - x2| / (2 · 2 · mean): 900 / 4200 and 1500 / 4200
    assert fa["gini"] == pytest.approx(900 / 4200) and fb["gini"] == pytest.approx(1500 / 4200)


def test_compare_exports_csv_and_json(ws: Workspace, six_accounts: Book, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make_solved(ws, six_accounts, "a")
    make_solved(ws, six_accounts, "b", owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    cmp = ws.compare("a", "b")
    buf = io.StringIO()
    assert cmp.write_moves_csv(buf) == 1
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == [
        ["account_id", "from_rep", "to_rep", "reason"], ["a3", "r1", "r2", "balance"]]
    cmp.write_reps_csv(tmp_path / "reps.csv")
    reps = list(csv.DictReader(io.StringIO((tmp_path / "reps.csv").read_text("utf-8"))))
    assert [(r["rep_id"], r["potential_delta"]) for r in reps] == [("r1", "-300.0"),
                                                                    ("r2", "300.0")]
    cmp.write_json(tmp_path / "cmp.json")
    data = json.loads((tmp_path / "cmp.json").read_text())
    assert data["summary"]["moved"] == 1
    assert data["moves"] == [{"account_id": "a3", "from": "r1", "to": "r2", "reason": "balance"}]


def test_compare_to_current_crm_ownership(ws: Workspace, six_accounts: Book) -> None:
    make_solved(ws, six_accounts, "b", owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    cmp = ws.compare_to_current("b")
    assert cmp.a.label == "current CRM ownership" and cmp.a.scenario_id is None
    assert [(m.account_id, m.from_rep, m.to_rep) for m in cmp.moves] == [("a3", "r1", "r2")]
    make_solved(ws, six_accounts, "same", owners=CURRENT)
    assert ws.compare_to_current("same").n_moved == 0


def test_compare_plans_over_different_books(ws: Workspace) -> None:
    roster = RepRoster.of([Rep(id="r1"), Rep(id="r2")])
    book_a = AccountBook.from_accounts(
        [Account(id=i, potential=p, location=Point(0, 0)) for i, p in
         (("x", 10), ("y", 20), ("z", 30))], coord_system=CoordSystem.PLANAR)
    book_b = AccountBook.from_accounts(
        [Account(id=i, potential=p, location=Point(0, 0)) for i, p in
         (("w", 5), ("y", 20), ("z", 35))], coord_system=CoordSystem.PLANAR)
    ws.create_scenario("a", actor="t", book=book_a, roster=roster,
                       plan=Plan.from_indices(book_a, roster, [0, 0, 1]))
    ws.create_scenario("b", actor="t", book=book_b, roster=roster,
                       plan=Plan.from_indices(book_b, roster, [1, 1, 1]))
    cmp = ws.compare("a", "b")
    assert (cmp.n_accounts, cmp.only_in_a, cmp.only_in_b) == (2, 1, 1)
    assert [(m.account_id, m.from_rep, m.to_rep) for m in cmp.moves] == [("y", "r1", "r2")]
    r1, r2 = cmp.reps
    assert r1.metrics["accounts"] == (2.0, 0.0) and r2.metrics["accounts"] == (1.0, 3.0)
    assert cmp.moved_potential_cents == 20


# -- plan export and paging ---------------------------------------------------------------------
def test_page_plan_walks_every_assignment_once(ws: Workspace, six_accounts: Book) -> None:
    sid = make_solved(ws, six_accounts, owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    seen: list[str] = []
    after = None
    while True:
        page = ws.page_plan(sid, after=after, limit=4)
        if not page:
            break
        seen += [r.account_id for r in page]
        after = page[-1].account_id
    assert seen == ["a1", "a2", "a3", "a4", "a5", "a6"]
    r2 = ws.page_plan(sid, rep_id="r2")
    assert [r.account_id for r in r2] == ["a3", "a4", "a5", "a6"]
    assert r2[0].reason is Reason.BALANCE
    with pytest.raises(ParameterError, match="limit"):
        ws.page_plan(sid, limit=0)


def test_export_plan_csv_and_json(ws: Workspace, six_accounts: Book, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sid = make_solved(ws, six_accounts, owners=MOVE_A3, reasons=MOVE_A3_REASONS)
    assert ws.export_plan(sid, tmp_path / "p.csv") == 6
    rows = list(csv.reader(io.StringIO((tmp_path / "p.csv").read_text("utf-8"))))
    assert rows[0] == ["account_id", "rep_id", "reason"]
    assert rows[3] == ["a3", "r2", "balance"] and rows[1] == ["a1", "r1", "unchanged"]
    buf = io.StringIO()
    ws.export_plan(sid, buf, fmt="json")
    data = json.loads(buf.getvalue())
    assert data["assignments"][2] == {"account_id": "a3", "rep_id": "r2", "reason": "balance"}
    with pytest.raises(ParameterError):
        ws.export_plan(sid, buf, fmt="xml")


# -- jobs ---------------------------------------------------------------------------------------
def test_job_lifecycle_and_restart_recovery(ws: Workspace, six_accounts: Book) -> None:
    sid = ws.create_scenario("s", actor="ann", book=six_accounts[0],
                             roster=six_accounts[1]).id
    job = ws.create_job(sid, actor="api", options={"time_limit": 3})
    assert job.state == "queued" and not job.done
    job = ws.update_job(job.id, state="running", progress={"elapsed": 0.5})
    assert job.started_at is not None and job.heartbeat_at is not None
    job = ws.update_job(job.id, progress={"objective": 10.0})
    assert job.progress == {"elapsed": 0.5, "objective": 10.0}
    job = ws.request_cancel(job.id, actor="planner")
    assert job.state == "running" and job.cancel_requested
    job = ws.update_job(job.id, state="cancelled")
    assert job.done and job.finished_at is not None
    with pytest.raises(LifecycleError, match="cannot become running"):
        ws.update_job(job.id, state="running")
    queued = ws.create_job(sid, actor="api")
    assert ws.request_cancel(queued.id, actor="planner").state == "cancelled"
    stuck = ws.create_job(sid, actor="api")
    ws.update_job(stuck.id, state="running")
    waiting = ws.create_job(sid, actor="api")
    assert ws.fail_interrupted_jobs(stale_after=3600) == []  # fresh heartbeats: left alone
    assert sorted(ws.fail_interrupted_jobs()) == sorted([stuck.id, waiting.id])
    failed = ws.get_job(stuck.id)
    assert failed.state == "failed" and "interrupted" in (failed.error or "")
    assert [j.id for j in ws.list_jobs(scenario=sid, state="failed")] == [stuck.id, waiting.id]
    with pytest.raises(NotFoundError):
        ws.get_job("nope")


def test_open_without_migration_refuses_an_empty_store(store_url: str) -> None:
    with pytest.raises(LifecycleError, match="schema revision none"):
        Workspace.open(store_url, migrate_schema=False)
    Workspace.open(store_url).close()
    Workspace.open(store_url, migrate_schema=False).close()


def test_record_plan_accepts_large_plans_in_batches(ws: Workspace) -> None:
    n = 60_000  # two bulk batches of 50,000
    ids = np.asarray([f"A{i:07d}" for i in range(n)], dtype=object)
    book = _big_book(ids)
    roster = RepRoster.of([Rep(id=f"r{j}") for j in range(10)])
    rng = np.random.default_rng(0)
    owners = rng.integers(0, 10, n)
    calls: list[tuple[int, int]] = []
    info = ws.create_scenario("big", actor="t", book=book, roster=roster,
                              plan=Plan.from_indices(book, roster, owners),
                              on_batch=lambda done, total: calls.append((done, total)))
    assert calls == [(50_000, n), (n, n)]
    assert info.status == "solved"
    k = 54_321
    to_active(ws, "big")
    assert ws.owner_of(str(ids[k])).rep_id == f"r{owners[k]}"
    assert ws.count_rows()["assignments"] == n


def _big_book(ids: np.ndarray) -> AccountBook:
    from terraplan.domain import Categorical

    n = len(ids)
    none = Categorical.from_codes(np.full(n, -1, dtype=np.int32), ())
    return AccountBook(
        ids=ids, names=ids.copy(), x=np.zeros(n), y=np.zeros(n), country=none, region=none,
        postal_code=none, segment=none, vertical=none,
        potential=np.arange(n, dtype=np.int64), workload=np.ones(n), current_owner=none,
        parent=np.full(n, -1, dtype=np.int64), locked_to=none,
        pipeline=np.zeros(n, dtype=np.int64), extra={})


def test_plans_in_any_row_order_round_trip(ws: Workspace, six_accounts: Book) -> None:
    """A plan in book order is stored without repeating the ids; any other order keeps them.
    Both read back, compare and export alike."""
    book, roster = six_accounts
    in_order = plan_of(book, roster, MOVE_A3, MOVE_A3_REASONS)
    mapping = in_order.to_mapping()
    shuffled = Plan.from_mapping({k: mapping[k] for k in ["a6", "a2", "a4", "a1", "a5", "a3"]},
                                 rep_ids=("r2", "r1"))
    ws.create_scenario("ordered", actor="t", book=book, roster=roster, plan=in_order)
    ws.create_scenario("shuffled", actor="t", plan=shuffled)
    assert ws.get_plan("shuffled").to_mapping() == ws.get_plan("ordered").to_mapping() == mapping
    assert ws.get_plan("shuffled").account_ids.tolist() == ["a6", "a2", "a4", "a1", "a5", "a3"]
    cmp = ws.compare("ordered", "shuffled")
    assert cmp.n_moved == 0 and cmp.n_accounts == 6
    assert [r.metrics["potential"] for r in cmp.reps] == [(300.0, 300.0), (1800.0, 1800.0)]
    assert ws.compare_to_current("shuffled").n_moved == 1
