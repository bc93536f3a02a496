"""The whole planning cycle over HTTP — in process (TestClient) and against a real server
process (uvicorn on a loopback port, solve jobs in the process pool)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import LiveServer, Store, make_client


def wait_job(c: httpx.Client, job_id: str, h: dict[str, str], timeout: float = 90.0
             ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.get(f"/v1/jobs/{job_id}", headers=h)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def planning_cycle(c: httpx.Client, store: Store, files: tuple[Path, Path]) -> None:
    """upload inputs -> create scenario -> solve job -> poll -> plan pages -> submit ->
    approve -> activate -> owner lookup; asserting the store's answers at each step."""
    viewer, planner, admin = (store.headers(r) for r in ("viewer", "planner", "admin"))
    accounts, reps = files
    with accounts.open("rb") as fa, reps.open("rb") as fr:
        r = c.post("/v1/inputs", headers=planner, files={
            "accounts": ("accounts.csv", fa, "text/csv"), "reps": ("reps.csv", fr, "text/csv")})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["accounts"]["rows"] == 300 and up["reps"]["rows"] == 8
    assert up["accounts_created"] and up["reps_created"]

    r = c.post("/v1/scenarios", headers=planner, json={
        "name": "fy27", "cycle": "FY2027",
        "spec": {"rules": {"balance": [{"metric": "potential", "tolerance": 0.25}]}, "seed": 5}})
    assert r.status_code == 201, r.text
    sc = r.json()
    sid = sc["id"]
    assert sc["status"] == "draft" and sc["accounts"] == 300 and sc["plan_id"] is None
    assert r.headers["Location"] == f"/v1/scenarios/{sid}"
    assert r.headers["ETag"] == f'"{sc["version"]}"'

    r = c.post(f"/v1/scenarios/{sid}/solves", headers=planner,
               json={"time_limit": 10, "seed": 5})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running")
    assert r.headers["Location"] == f"/v1/jobs/{job['id']}"
    done = wait_job(c, job["id"], viewer)
    assert done["state"] == "succeeded", done
    res = done["result"]
    assert res["status"] in ("optimal", "feasible") and res["plan_id"] is not None
    assert res["feasible"] is True and done["finished_at"] is not None
    assert done["links"]["plan"].endswith(f"plan_id={res['plan_id']}")

    sc = c.get(f"/v1/scenarios/{sid}", headers=viewer).json()
    assert sc["status"] == "solved" and sc["plan_id"] == res["plan_id"]

    # every assignment exactly once across cursor pages, in account id order
    seen: list[str] = []
    owners: dict[str, str | None] = {}
    url: str | None = f"/v1/scenarios/{sid}/plan?limit=70"
    pages = 0
    while url is not None:
        page = c.get(url, headers=viewer).json()
        pages += 1
        assert page["plan_id"] == res["plan_id"]
        for row in page["items"]:
            seen.append(row["account_id"])
            owners[row["account_id"]] = row["rep_id"]
        url = page["next"]
    assert pages == 5 and len(seen) == 300 and seen == sorted(set(seen))

    # the rep filter returns exactly that rep's book
    rep = next(o for o in owners.values() if o)
    book = c.get(f"/v1/scenarios/{sid}/plan", headers=viewer,
                 params={"rep": rep, "limit": 1000}).json()["items"]
    assert {x["account_id"] for x in book} == {a for a, o in owners.items() if o == rep}

    # the CSV export is the same plan
    exp = c.get(f"/v1/scenarios/{sid}/plan/export", headers=viewer, params={"format": "csv"})
    assert exp.status_code == 200 and exp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exp.text)))
    assert {x["account_id"]: x["rep_id"] or None for x in rows} == owners

    # lifecycle with optimistic locking: a stale If-Match is refused
    v = sc["version"]
    r = c.post(f"/v1/scenarios/{sid}/submit", headers={**planner, "If-Match": f'"{v}"'})
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    r = c.post(f"/v1/scenarios/{sid}/approve", headers={**planner, "If-Match": f'"{v}"'})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://terraplan.dev/problems/conflict"
    v = c.get(f"/v1/scenarios/{sid}", headers=viewer).json()["version"]
    r = c.post(f"/v1/scenarios/{sid}/approve", headers=planner, json={"version": v})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    r = c.post(f"/v1/scenarios/{sid}/activate", headers=planner)
    assert r.status_code == 403
    r = c.post(f"/v1/scenarios/{sid}/activate", headers=admin, json={"why": "go-live"})
    assert r.status_code == 200 and r.json()["status"] == "active"

    # the CRM's owner lookup answers from the active plan
    for acc in seen[::37]:
        r = c.get(f"/v1/accounts/{acc}/owner", headers=viewer)
        assert r.status_code == 200, r.text
        o = r.json()
        assert o["rep_id"] == owners[acc] and o["scenario_id"] == sid
        assert o["cycle"] == "FY2027" and o["plan_id"] == res["plan_id"]
    r = c.get("/v1/accounts/NOPE/owner", headers=viewer)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    # an active scenario is frozen: solving it is a conflict
    r = c.post(f"/v1/scenarios/{sid}/solves", headers=planner, json={"time_limit": 1})
    assert r.status_code == 409


def test_planning_cycle_in_process(store: Store, book_files: tuple[Path, Path]) -> None:
    with make_client(store.url) as c:
        planning_cycle(c, store, book_files)


@pytest.mark.slow
def test_planning_cycle_against_the_real_server(live: LiveServer, store: Store,
                                                book_files: tuple[Path, Path]) -> None:
    with live.client() as c:
        planning_cycle(c, store, book_files)
        assert c.get("/readyz").json()["schema_revision"] is not None


@pytest.mark.postgres
def test_planning_cycle_on_postgresql(pg_store: Store, book_files: tuple[Path, Path]) -> None:
    with make_client(pg_store.url) as c:
        planning_cycle(c, pg_store, book_files)


def test_segment_filter_pages_exactly_that_segment(seeded: tuple[Store, dict[str, str]]) -> None:
    from apisupport import SEED

    from terraplan.io.generator import generate_book

    store, _ = seeded
    book = generate_book(300, 8, SEED).accounts
    cats = list(book.segment.categories)
    viewer = store.headers("viewer")
    with make_client(store.url) as c:
        for seg in cats:
            want = sorted(str(a) for a, code in zip(book.ids.tolist(), book.segment.codes.tolist(),
                                                    strict=True) if cats[code] == seg)
            got: list[str] = []
            url: str | None = f"/v1/scenarios/2/plan?limit=17&segment={seg}"
            while url is not None:
                page = c.get(url, headers=viewer).json()
                assert len(page["items"]) <= 17
                got += [x["account_id"] for x in page["items"]]
                url = page["next"]
            assert got == want, seg
        none = c.get("/v1/scenarios/2/plan", headers=viewer, params={"segment": "Nope"}).json()
        assert none["items"] == [] and none["next_cursor"] is None
