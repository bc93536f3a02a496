"""A carve-mode solve job against the real server (``terraplan serve``, jobs in its process
pool): the job succeeds, the plan owns accounts by rep id and is re-checked by the evaluator;
a backend the mode cannot use is refused at submission (422 ``unsupported-backend``) with
nothing queued or recorded."""

from __future__ import annotations

import time
from typing import Any

from apisupport import LiveServer, Store

from terraplan.evaluate import evaluate
from terraplan.services import Workspace
from territoryfixtures import carve_scenario, geo_scenario


def test_carve_solve_job_stores_a_rechecked_plan(live: LiveServer, store: Store) -> None:
    sc = carve_scenario()
    with Workspace.open(store.url) as ws:
        sid = ws.create_scenario("carve", actor="test", spec=sc.spec, book=sc.accounts,
                                 roster=sc.reps).id
    planner = store.headers("planner")
    with live.client() as c:
        r = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                   json={"backend": "milp", "time_limit": 20, "seed": 3})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 90
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = c.get(f"/v1/jobs/{job_id}", headers=planner).json()
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert job["state"] == "succeeded", job
        res = job["result"]
        assert res["backend"] == "carve-milp" and res["status"] == "optimal"
        assert res["feasible"] is True and res["objective"] == 4.0
        assert "T1→R1" in res["message"] and "own nothing): R2" in res["message"]
        page = c.get(f"/v1/scenarios/{sid}/plan", headers=planner).json()
        assert page["plan_id"] == res["plan_id"]
        owners = {i["account_id"]: i["rep_id"] for i in page["items"]}
        assert owners == {"a0": "R1", "a1": "R1", "a2": "R1", "b0": "R3", "b1": "R3",
                          "b2": "R3"}
        reasons = {i["account_id"]: i["reason"] for i in page["items"]}
        assert reasons["b2"] not in (None, "unchanged") and reasons["a0"] == "unchanged"
    with Workspace.open(store.url) as ws:
        assert evaluate(ws.load_scenario(sid), ws.get_plan(sid)).feasible


def test_a_backend_the_mode_cannot_use_is_refused_at_submission(live: LiveServer,
                                                                  store: Store) -> None:
    sc = geo_scenario()
    with Workspace.open(store.url) as ws:
        sid = ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts,
                                 roster=sc.reps).id
        jobs_before = len(ws.list_jobs(scenario=sid))
    planner = store.headers("planner")
    with live.client() as c:
        r = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                   json={"backend": "heuristic", "time_limit": 5})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"] == "https://terraplan.dev/problems/unsupported-backend"
        assert body["status"] == 422
        assert body["instance"] == f"/v1/scenarios/{sid}/solves"
        assert "cannot solve a geo_unit scenario; use one of auto, milp, cpsat" in body["detail"]
        # nothing was queued or recorded
        assert c.get(f"/v1/scenarios/{sid}/solves", headers=planner).json() == []
        listed = c.get("/v1/jobs", params={"scenario_id": sid}, headers=planner).json()
        assert listed["items"] == []
        # an unknown scenario is still a 404, and a backend the mode can use is accepted
        missing = c.post("/v1/scenarios/999999/solves", headers=planner,
                         json={"backend": "heuristic"})
        assert missing.status_code == 404
        ok = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
                    json={"backend": "cpsat", "time_limit": 10, "seed": 1})
        assert ok.status_code == 202, ok.text
        job_id = ok.json()["id"]
        deadline = time.monotonic() + 90
        job: dict[str, Any] = ok.json()
        while job["state"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = c.get(f"/v1/jobs/{job_id}", headers=planner).json()
        assert job["state"] == "succeeded", job
        assert job["result"]["feasible"] is True
        assert "adjacency: Delaunay triangulation" in job["result"]["message"]
    with Workspace.open(store.url) as ws:
        assert len(ws.list_jobs(scenario=sid)) == jobs_before + 1
        assert evaluate(ws.load_scenario(sid), ws.get_plan(sid)).feasible
