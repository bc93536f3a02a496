"""``POST /v1/rebalance``: a departure on the active plan becomes a draft child scenario, or
is refused with the reason when no plan restores the rules."""

from __future__ import annotations

from apisupport import Store, make_client


def test_departure_writes_a_child_scenario(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    planner, viewer = store.headers("planner"), store.headers("viewer")
    with make_client(store.url) as c:
        before = c.get("/v1/scenarios/1/plan", headers=viewer,
                       params={"rep": "R0002", "limit": 1000}).json()["items"]
        assert before  # R0002 holds a book in the active plan
        dry = c.post("/v1/rebalance", headers=planner,
                     json={"depart": ["R0002"], "time_limit": 10, "dry_run": True})
        assert dry.status_code == 200, dry.text
        assert dry.json()["scenario"] is None
        n_scenarios = len(c.get("/v1/scenarios", headers=viewer).json()["items"])
        assert n_scenarios == 5  # a dry run writes nothing

        # the others lack the capacity to absorb the book: refused, nothing written
        r = c.post("/v1/rebalance", headers=planner,
                   json={"depart": ["R0002"], "time_limit": 10, "name": "after-r2"})
        assert r.status_code == 409 and r.json()["type"].endswith("/infeasible")
        assert "capacity" in r.json()["detail"] and r.json()["outcome"]["scenario"] is None
        assert len(c.get("/v1/scenarios", headers=viewer).json()["items"]) == 5
        # with a hire like the departed rep it works
        r = c.post("/v1/rebalance", headers=planner, json={
            "depart": ["R0002"], "hires": [{"name": "Dana Lee", "like": "R0002"}],
            "time_limit": 10, "name": "after-r2", "why": "resigned"})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["ok"] is True and out["source_id"] == 1
        child = out["scenario"]
        assert child["name"] == "after-r2" and child["parent_id"] == 1
        assert child["status"] == "solved"
        assert r.headers["Location"] == f"/v1/scenarios/{child['id']}"
        assert out["moves_forced"] == len(before) and out["moves_total"] >= len(before)
        # the departed rep holds nothing in the child's plan; the active plan is untouched
        left = c.get(f"/v1/scenarios/{child['id']}/plan", headers=viewer,
                     params={"rep": "R0002", "limit": 1000}).json()["items"]
        assert left == []
        still = c.get("/v1/scenarios/1/plan", headers=viewer,
                      params={"rep": "R0002", "limit": 1000}).json()["items"]
        assert still == before
        bad = c.post("/v1/rebalance", headers=planner, json={"depart": []})
        assert bad.status_code == 422 and bad.json()["type"].endswith("/validation")
        unknown = c.post("/v1/rebalance", headers=planner, json={"depart": ["NOBODY"]})
        assert unknown.status_code in (404, 422), unknown.text
