"""Concurrency and crash safety of the store: parallel activations, failures and a SIGKILL in
the middle of a large write."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from typing import Any

import numpy as np
import pytest

from terraplan.domain import AccountBook, Categorical, Plan, Rep, RepRoster
from terraplan.errors import ConflictError
from terraplan.services import Workspace
from terraplan.solvers.base import SolveResult, Status

N_BIG = 60_000  # two bulk batches of 50,000 (the write is interrupted after the first)


def big_book(n: int = N_BIG) -> tuple[AccountBook, RepRoster]:
    ids = np.asarray([f"A{i:07d}" for i in range(n)], dtype=object)
    none = Categorical.from_codes(np.full(n, -1, dtype=np.int32), ())
    book = AccountBook(
        ids=ids, names=ids.copy(), x=np.zeros(n), y=np.zeros(n), country=none, region=none,
        postal_code=none, segment=none, vertical=none,
        potential=np.arange(n, dtype=np.int64), workload=np.ones(n), current_owner=none,
        parent=np.full(n, -1, dtype=np.int64), locked_to=none,
        pipeline=np.zeros(n, dtype=np.int64), extra={})
    return book, RepRoster.of([Rep(id=f"r{j}") for j in range(10)])


def big_plan(book: AccountBook, roster: RepRoster, seed: int = 0) -> Plan:
    owners = np.random.default_rng(seed).integers(0, len(roster), len(book))
    return Plan.from_indices(book, roster, owners)


def _approved(ws: Workspace, name: str, book: Any, roster: Any, plan: Plan) -> None:
    ws.create_scenario(name, actor="ann", book=book, roster=roster, cycle="FY27", plan=plan)
    ws.transition(name, "submit", actor="ann")
    ws.transition(name, "approve", actor="cro")


@pytest.mark.parametrize("with_previous", [False, True])
def test_one_active_plan_under_concurrent_activations(migrated_url: str, six_accounts: Any,
                                                      with_previous: bool) -> None:
    book, roster = six_accounts
    plan = Plan.current(book, roster)
    setup = Workspace.open(migrated_url)
    names = [f"s{i}" for i in range(4)]
    for name in names:
        _approved(setup, name, book, roster, plan)
    if with_previous:
        _approved(setup, "previous", book, roster, plan)
        setup.activate("previous", actor="cro")
    barrier = threading.Barrier(len(names))
    outcome: dict[str, str] = {}

    def activate(name: str) -> None:
        ws = Workspace.open(migrated_url, migrate_schema=False)  # its own engine and pool
        try:
            barrier.wait()
            ws.activate(name, actor=f"cro-{name}")
            outcome[name] = "ok"
        except ConflictError:
            outcome[name] = "conflict"
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
            outcome[name] = f"{type(exc).__name__}: {exc}"
        finally:
            ws.close()

    threads = [threading.Thread(target=activate, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert set(outcome.values()) <= {"ok", "conflict"}, outcome
        winners = [n for n, o in outcome.items() if o == "ok"]
        assert winners
        active = setup.list_scenarios(cycle="FY27", status="active")
        assert len(active) == 1 and active[0].name in winners
        statuses = {s.name: s.status for s in setup.list_scenarios(cycle="FY27")}
        for name in names:
            # a winner that was superseded is archived; a refused one is still approved
            expected = {"ok": {"active", "archived"}, "conflict": {"approved"}}[outcome[name]]
            assert statuses[name] in expected
        if with_previous:
            assert statuses["previous"] == "archived"
        assert len(setup.history(action="activate")) == len(winners) + int(with_previous)
    finally:
        setup.close()


def test_a_failure_mid_write_leaves_the_store_as_it_was(migrated_url: str) -> None:
    book, roster = big_book()
    ws = Workspace.open(migrated_url)
    try:
        ws.create_scenario("keep", actor="ann", book=book, roster=roster)
        before = ws.count_rows()

        def explode(done: int, total: int) -> None:
            raise RuntimeError(f"disk full after {done} rows")

        with pytest.raises(RuntimeError, match="disk full after 50000 rows"):
            ws.create_scenario("big", actor="ann", plan=big_plan(book, roster),
                               on_batch=explode)
        with pytest.raises(RuntimeError):
            ws.record_solve("keep", SolveResult(Status.FEASIBLE, "heuristic", 0, 1.0, None, 1.0),
                            big_plan(book, roster), actor="ann", on_batch=explode)
        assert ws.count_rows() == before
        assert [s.name for s in ws.list_scenarios()] == ["keep"]
        assert ws.get_scenario("keep").status == "draft"
    finally:
        ws.close()


def _doomed_writer(url: str, ready: Any) -> None:
    """Child process: start a one-transaction create+plan write and stall after the first
    bulk batch until the parent kills it."""
    book, roster = big_book()
    ws = Workspace.open(url, migrate_schema=False)

    def stall(done: int, total: int) -> None:
        ready.set()
        time.sleep(120)

    ws.create_scenario("big", actor="doomed", book=book, roster=roster,
                       plan=big_plan(book, roster), on_batch=stall)


@pytest.mark.slow  # spawns a fresh interpreter and writes 3 x 60k assignments
def test_a_process_killed_mid_write_leaves_no_partial_scenario(migrated_url: str) -> None:
    book, roster = big_book()
    ws = Workspace.open(migrated_url)
    try:
        ws.create_scenario("keep", actor="ann", book=book, roster=roster,
                           plan=big_plan(book, roster, seed=1))
        before = ws.count_rows()
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        child = ctx.Process(target=_doomed_writer, args=(migrated_url, ready))
        child.start()
        try:
            assert ready.wait(120), "the child never reached the middle of its write"
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        finally:
            child.join(30)
        assert child.exitcode == -signal.SIGKILL
        assert ws.count_rows() == before  # nothing of the killed transaction is visible
        assert [s.name for s in ws.list_scenarios()] == ["keep"]
        assert all(e.actor != "doomed" for e in ws.history())
        # the store is healthy: the same write now succeeds, and nothing was lost
        info = ws.create_scenario("big", actor="ann", plan=big_plan(book, roster))
        assert ws.count_rows()["assignments"] == 2 * N_BIG
        assert info.plan_id is not None
        assert ws.get_plan("keep").to_mapping()["A0000007"] == \
            big_plan(book, roster, seed=1).to_mapping()["A0000007"]
    finally:
        ws.close()
