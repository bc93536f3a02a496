"""Refusals of the territory modes over the API, as problem+json with stable types: a geo_unit
spec naming an adjacency file cannot be created (the file cannot be uploaded; no silent Delaunay
fallback), and rebalancing a carve / geo_unit active plan is refused at once."""

from __future__ import annotations

from apisupport import Store, make_client

from terraplan.evaluate import evaluate
from terraplan.services import Workspace
from terraplan.services.planning import SolveRequest, solve_loaded
from territoryfixtures import GEO_SPEC, geo_scenario


def test_a_geo_unit_spec_naming_an_adjacency_file_is_refused(store: Store) -> None:
    sc = geo_scenario()
    with Workspace.open(store.url) as ws:
        ws.import_inputs(sc.accounts, sc.reps, actor="test")
    planner = store.headers("planner")
    named = {**GEO_SPEC, "inputs": {**GEO_SPEC["inputs"], "adjacency": "edges.csv"}}
    with make_client(store.url) as c:
        r = c.post("/v1/scenarios", headers=planner, json={"name": "zip", "spec": named})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"] == "https://terraplan.dev/problems/adjacency-required"
        assert "'edges.csv'" in body["detail"] and "CLI" in body["detail"]
        assert c.get("/v1/scenarios", headers=planner).json()["items"] == []
        # without a file (or with 'delaunay') the spec is accepted
        tri = {**GEO_SPEC, "inputs": {**GEO_SPEC["inputs"], "adjacency": "delaunay"}}
        ok = c.post("/v1/scenarios", headers=planner, json={"name": "zip", "spec": tri})
        assert ok.status_code == 201, ok.text


def test_rebalancing_a_geo_unit_plan_is_refused_as_unsupported(store: Store) -> None:
    sc = geo_scenario()
    _, _, plan, _ = solve_loaded(sc, SolveRequest(time_limit=20.0, threads=1, seed=3))
    assert plan is not None and evaluate(sc, plan).feasible
    with Workspace.open(store.url) as ws:
        ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts, roster=sc.reps,
                           plan=plan)
        for verb in ("submit", "approve", "activate"):
            ws.transition("zip", verb, actor="test")
    with make_client(store.url) as c:
        r = c.post("/v1/rebalance", headers=store.headers("planner"),
                   json={"depart": ["R1"], "time_limit": 30})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["type"] == "https://terraplan.dev/problems/unsupported-rule"
        assert "mode: geo_unit" in body["detail"] and "re-solve" in body["detail"]
