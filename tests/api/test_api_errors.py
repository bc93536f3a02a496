"""Errors are RFC 9457 problem+json with stable types and never leak internals; OpenAPI is
complete (security, problem responses, examples); CORS is off unless configured; health."""

from __future__ import annotations

import sqlite3
import warnings

from apisupport import Store, make_client
from starlette.exceptions import StarletteDeprecationWarning

from terraplan.api import create_app
from terraplan.api.problems import PROBLEM_BASE
from terraplan.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def test_problem_types_for_each_code(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    planner = store.headers("planner")
    with make_client(store.url) as c:
        cases = [
            (c.get("/v1/scenarios/999", headers=planner), 404, "not-found"),
            (c.post("/v1/scenarios", headers=planner, json={"name": "solved"}), 409, "conflict"),
            (c.post("/v1/scenarios", headers=planner, json={"name": ""}), 422, "validation"),
            (c.post("/v1/scenarios", headers=planner,
                    json={"name": "x", "spec": {"rules": {"balanse": []}}}), 422, "validation"),
            (c.patch("/v1/scenarios/1", headers=planner, json={"description": "x"}), 409,
             "conflict"),
            (c.patch("/v1/scenarios/2", headers={**planner, "If-Match": "nope"}, json={}), 422,
             "validation"),
            (c.post("/v1/scenarios/2/submit", headers={**planner, "If-Match": '"1"'},
                    json={"version": 2}), 422, "validation"),
            (c.post("/v1/keys", headers=planner, json={"name": "k", "role": "viewer"}), 403,
             "forbidden"),
            (c.get("/v1/scenarios", headers={"Authorization": "Bearer x"}), 401,
             "unauthorized"),
            (c.put("/v1/scenarios", headers=planner), 405, "method-not-allowed"),
            (c.get("/v1/nothing-here", headers=planner), 404, "not-found"),
            (c.get("/v1/scenarios/3/plan", headers=planner), 404, "not-found"),
            (c.get("/v1/scenarios/2/accounts/NOPE/explain", headers=planner), 404,
             "not-found"),
        ]
        for resp, status, code in cases:
            assert resp.status_code == status, (code, resp.text)
            assert resp.headers["content-type"] == "application/problem+json"
            body = resp.json()
            assert body["type"] == PROBLEM_BASE + code and body["status"] == status
            assert body["title"] and body["detail"]
        spec_problem = cases[3][0].json()
        assert "balanse" in spec_problem["detail"]


def test_etag_and_if_match_round_trip(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    h = store.headers("planner")
    with make_client(store.url) as c:
        r = c.get("/v1/scenarios/2", headers=h)
        tag = r.headers["ETag"]
        assert tag == f'"{r.json()["version"]}"'
        r1 = c.patch("/v1/scenarios/2", headers={**h, "If-Match": tag}, json={"description": "a"})
        assert r1.status_code == 200 and r1.headers["ETag"] != tag
        r2 = c.patch("/v1/scenarios/2", headers={**h, "If-Match": tag}, json={"description": "b"})
        assert r2.status_code == 409  # lost update refused
        assert c.get("/v1/scenarios/2", headers=h).json()["description"] == "a"


def test_internal_errors_leak_nothing(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    con = sqlite3.connect(store.path)
    con.execute("DROP TABLE metrics")  # a broken store: the query fails inside SQLAlchemy
    con.commit()
    con.close()
    app = create_app(database_url=store.url, job_mode="thread", recover="stale")
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/scenarios/2/metrics", headers=store.headers("viewer"))
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": PROBLEM_BASE + "internal", "title": "Internal server error",
                        "status": 500, "instance": "/v1/scenarios/2/metrics",
                        "detail": "an internal error occurred; it has been logged"}
    assert "Traceback" not in r.text and "sqlite" not in r.text.lower()


def test_cors_is_off_by_default_and_on_when_configured(store: Store) -> None:
    pre = {"Origin": "https://crm.example", "Access-Control-Request-Method": "GET"}
    with make_client(store.url) as c:
        r = c.options("/v1/scenarios", headers=pre)
        assert "access-control-allow-origin" not in r.headers
        r = c.get("/healthz", headers={"Origin": "https://crm.example"})
        assert "access-control-allow-origin" not in r.headers
    app = create_app(Settings(database_url=store.url, cors_origins=["https://crm.example"]),
                     job_mode="thread", recover="stale")
    with TestClient(app) as c:
        r = c.options("/v1/scenarios", headers=pre)
        assert r.headers["access-control-allow-origin"] == "https://crm.example"
        r = c.options("/v1/scenarios", headers={**pre, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_health_and_readiness(store: Store) -> None:
    with make_client(store.url) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        ready = c.get("/readyz").json()
        assert ready == {"status": "ready", "database": "sqlite", "schema_revision": "0002"}


def test_openapi_is_complete() -> None:
    spec = create_app(database_url="sqlite://").openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer",
                                 "description": schemes["bearer"]["description"]}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    n_ops = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            n_ops += 1
            assert op.get("summary"), (method, path)
            if not path.startswith("/v1/"):
                continue
            assert {"bearer": []} in op["security"] and {"apiKey": []} in op["security"]
            for code in ("401", "403"):
                resp = op["responses"][code]
                assert "application/problem+json" in resp["content"], (method, path, code)
    assert n_ops >= 30
    schemas = spec["components"]["schemas"]
    for name in ("ScenarioOut", "JobOut", "OwnerOut", "AssignmentPageOut", "ProblemOut",
                 "ScenarioCreate", "SolveIn", "ExplainOut", "ImportOut"):
        assert "example" in schemas[name], name


def test_pricing_records_quotas_and_comp(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    planner = store.headers("planner")
    with make_client(store.url) as c:
        r = c.post("/v1/scenarios/2/pricing", headers=planner,
                   json={"target_cents": 80_000_000_00, "over_assignment": "1/10",
                         "n_scenarios": 1000, "seed": 3})
        assert r.status_code == 201, r.text
        out = r.json()
        q = out["quotas"]
        # street total = target x (1 + 1/10), split over the reps exactly (integer cents)
        assert q["total_cents"] == 88_000_000_00
        assert sum(x["amount_cents"] for x in q["quotas"]) == q["total_cents"]
        assert sum(q["per_rep_cents"].values()) == q["total_cents"]
        assert out["comp"]["total_cost_cents"] > 0
        assert out["comp"]["quota_set_id"] == q["id"]
        # the read endpoints now serve the latest records
        assert c.get("/v1/scenarios/2/quotas", headers=planner).json()["id"] == q["id"]
        comps = c.get("/v1/scenarios/2/comp", headers=planner).json()["items"]
        assert comps[-1]["id"] == out["comp"]["id"]
        frozen = c.post("/v1/scenarios/1/pricing", headers=planner, json={})
        assert frozen.status_code == 409  # the active scenario cannot change
        bad = c.post("/v1/scenarios/2/pricing", headers=planner,
                     json={"over_assignment": "1/0"})
        assert bad.status_code == 422
