"""Solve jobs: progress while running, cancel (queued and running), restart recovery (a killed
server's jobs are reported failed, never stuck running), refusals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import LiveServer, Store, make_client

from terraplan.io.generator import generate_book
from terraplan.services import Workspace

LONG_SPEC = {"rules": {"balance": [{"metric": "potential", "tolerance": 0.02}]}}
# CP-SAT stops within a poll interval when cancelled (the heuristic's LP construction does not
# poll the token, so a cancel waits for it to finish)
LONG_SOLVE = {"backend": "cpsat", "time_limit": 120, "gap": 0.0}


def _long_scenario(store: Store) -> int:
    """A 2,000-account scenario CP-SAT keeps searching until its time limit (tight balance,
    no optimality gap allowed)."""
    from terraplan.domain import ScenarioSpec

    g = generate_book(2000, 16, 3)
    with Workspace.open(store.url) as ws:
        return ws.create_scenario("long", actor="test", book=g.accounts, roster=g.reps,
                                  spec=ScenarioSpec.from_dict(LONG_SPEC)).id


def _poll(c: httpx.Client, job_id: str, h: dict[str, str], until: Any,
          timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = c.get(f"/v1/jobs/{job_id}", headers=h).json()
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id}: condition not reached in {timeout} s: {job}")


# -- in process ----------------------------------------------------------------------------------
def test_cancel_a_queued_job_and_refusals(seeded: tuple[Store, dict[str, str]]) -> None:
    store, ids = seeded
    planner, viewer = store.headers("planner"), store.headers("viewer")
    with make_client(store.url) as c:
        job = c.get(f"/v1/jobs/{ids['job']}", headers=viewer).json()
        assert job["state"] == "queued" and job["result"] is None
        r = c.delete(f"/v1/jobs/{ids['job']}", headers=planner)
        assert r.status_code == 202 and r.json()["state"] == "cancelled"
        r = c.delete(f"/v1/jobs/{ids['job']}", headers=planner)
        assert r.status_code == 409 and r.json()["type"].endswith("/conflict")
        assert c.get("/v1/jobs/nope", headers=viewer).status_code == 404
        r = c.post("/v1/scenarios/3/solves", headers=planner, json={"backend": "nosuch"})
        assert r.status_code == 422 and "nosuch" in r.json()["detail"]
        r = c.post("/v1/scenarios/3/solves", headers=planner, json={"time_limit": -1})
        assert r.status_code == 422 and r.json()["errors"][0]["location"][-1] == "time_limit"
        r = c.post("/v1/scenarios/4/solves", headers=planner, json={"time_limit": 1})
        assert r.status_code == 409 and "in_review" in r.json()["detail"]
        assert c.post("/v1/scenarios/99/solves", headers=planner).status_code == 404
        states = {j["id"]: j["state"] for j in
                  c.get("/v1/jobs", headers=viewer, params={"scenario_id": 2}).json()["items"]}
        assert states == {ids["job"]: "cancelled"}


def test_a_server_that_starts_fails_the_jobs_left_behind(
        seeded: tuple[Store, dict[str, str]]) -> None:
    store, ids = seeded
    with make_client(store.url, recover="all") as c:
        job = c.get(f"/v1/jobs/{ids['job']}", headers=store.headers("viewer")).json()
    assert job["state"] == "failed" and job["error"].startswith("interrupted")
    assert job["finished_at"] is not None


def test_solve_job_in_process_reports_result_and_records_the_run(
        seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    planner = store.headers("planner")
    with make_client(store.url) as c:
        job = c.post("/v1/scenarios/3/solves", headers=planner,
                     json={"time_limit": 10, "seed": 1}).json()
        done = _poll(c, job["id"], planner, lambda j: j["state"] not in ("queued", "running"))
        assert done["state"] == "succeeded", done
        runs = c.get("/v1/scenarios/3/solves", headers=planner).json()
        assert [r["id"] for r in runs] == [done["solve_run_id"]]
        assert runs[0]["plan_id"] == done["result"]["plan_id"] and runs[0]["seed"] == 1
        metrics = c.get("/v1/scenarios/3/metrics", headers=planner).json()["items"]
        assert [m["kind"] for m in metrics] == ["evaluation"]


# -- against the real server (process pool) ------------------------------------------------------
@pytest.mark.slow
def test_cancel_a_running_job(live: LiveServer, store: Store) -> None:
    sid = _long_scenario(store)
    planner = store.headers("planner")
    with live.client() as c:
        job = c.post(f"/v1/scenarios/{sid}/solves", headers=planner, json=LONG_SOLVE).json()
        first = _poll(c, job["id"], planner,
                      lambda j: j["state"] == "running" and j["heartbeat_at"] is not None)
        # the worker's heartbeat keeps moving while it solves
        later = _poll(c, job["id"], planner, lambda j: j["heartbeat_at"] != first["heartbeat_at"])
        assert later["state"] == "running"
        r = c.delete(f"/v1/jobs/{job['id']}", headers=planner)
        assert r.status_code == 202 and r.json()["cancel_requested"] is True
        t0 = time.monotonic()
        done = _poll(c, job["id"], planner, lambda j: j["state"] != "running", timeout=30)
        assert done["state"] == "cancelled", done
        assert time.monotonic() - t0 < 15
        assert done["result"]["status"] == "cancelled"
        runs = c.get(f"/v1/scenarios/{sid}/solves", headers=planner).json()
        assert [r["status"] for r in runs] == ["cancelled"]


@pytest.mark.slow
def test_killed_server_jobs_are_failed_after_restart(store: Store, tmp_path: Path) -> None:
    sid = _long_scenario(store)
    planner = store.headers("planner")
    srv = LiveServer(store.url, tmp_path / "first.log")
    srv.start()
    try:
        with srv.client() as c:
            running = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                             json=LONG_SOLVE).json()
            queued = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                            json=LONG_SOLVE).json()
            _poll(c, running["id"], planner, lambda j: j["state"] == "running")
            assert c.get(f"/v1/jobs/{queued['id']}", headers=planner).json()["state"] == "queued"
        srv.kill()  # SIGKILL: no shutdown hook runs
    finally:
        srv.stop()
    with Workspace.open(store.url) as ws:  # the store still says running: nobody fixed it
        assert ws.get_job(running["id"]).state == "running"
    again = LiveServer(store.url, tmp_path / "second.log")
    again.start()
    try:
        with again.client() as c:
            for job_id, was in ((running["id"], "running"), (queued["id"], "queued")):
                job = c.get(f"/v1/jobs/{job_id}", headers=planner).json()
                assert job["state"] == "failed", job
                assert job["error"] == ("interrupted: the server stopped while the job was "
                                        + was)
            # the store is usable: a new job runs to its end
            quick = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                           json={"backend": "heuristic", "time_limit": 3}).json()
            done = _poll(c, quick["id"], planner,
                         lambda j: j["state"] not in ("queued", "running"), timeout=90)
            assert done["state"] == "succeeded", done
    finally:
        again.stop()
