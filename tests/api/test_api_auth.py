"""Authentication and roles: every route x every role, table-driven; 401 vs 403; keys via the
API and the CLI; revoked keys stop working."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apisupport import ROLES, Store, make_client

from terraplan.services.keys import KeyStore, hash_secret
from terraplan.services.workspace import Workspace

# (method, path, json body, least role, status on success). Seeded store: 1 live (active),
# 2 solved (quotas, comp), 3 draft, 4 review (in_review), 5 ok (approved); {job} is queued.
ROUTES: list[tuple[str, str, Any, str, int]] = [
    ("GET", "/v1/accounts/{account}/owner", None, "viewer", 200),
    ("GET", "/v1/inputs", None, "viewer", 200),
    ("POST", "/v1/inputs", "upload", "planner", 201),
    ("GET", "/v1/scenarios", None, "viewer", 200),
    ("POST", "/v1/scenarios", {"name": "new"}, "planner", 201),
    ("GET", "/v1/scenarios/2", None, "viewer", 200),
    ("PATCH", "/v1/scenarios/2", {"description": "edited"}, "planner", 200),
    ("DELETE", "/v1/scenarios/3", None, "planner", 200),
    ("DELETE", "/v1/scenarios/1", None, "admin", 200),
    ("POST", "/v1/scenarios/2/copy", {"name": "child"}, "planner", 201),
    ("POST", "/v1/scenarios/2/submit", None, "planner", 200),
    ("POST", "/v1/scenarios/4/send-back", None, "planner", 200),
    ("POST", "/v1/scenarios/4/approve", {"why": "ok"}, "planner", 200),
    ("POST", "/v1/scenarios/5/reopen", None, "planner", 200),
    ("POST", "/v1/scenarios/5/activate", None, "admin", 200),
    ("POST", "/v1/scenarios/3/archive", None, "planner", 200),
    ("POST", "/v1/scenarios/1/archive", None, "admin", 200),
    ("GET", "/v1/scenarios/2/history", None, "viewer", 200),
    ("POST", "/v1/scenarios/3/solves", {"time_limit": 1}, "planner", 202),
    ("GET", "/v1/scenarios/2/solves", None, "viewer", 200),
    ("GET", "/v1/jobs", None, "viewer", 200),
    ("GET", "/v1/jobs/{job}", None, "viewer", 200),
    ("DELETE", "/v1/jobs/{job}", None, "planner", 202),
    ("GET", "/v1/scenarios/2/plan", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/plans", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/plan/export", None, "viewer", 200),
    ("GET", "/v1/compare?a=1&b=2", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/compare-current", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/accounts/{account}/explain", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/metrics", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/quotas", None, "viewer", 200),
    ("GET", "/v1/scenarios/2/comp", None, "viewer", 200),
    ("POST", "/v1/scenarios/2/pricing", {"n_scenarios": 500, "seed": 1}, "planner", 201),
    ("POST", "/v1/rebalance", {"depart": ["R0002"], "time_limit": 5, "dry_run": True},
     "planner", 200),
    ("GET", "/v1/keys", None, "admin", 200),
    ("POST", "/v1/keys", {"name": "crm", "role": "viewer"}, "admin", 201),
    ("DELETE", "/v1/keys/1", None, "admin", 200),
]
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/docs")]


def _call(c: Any, method: str, path: str, body: Any, headers: dict[str, str],
          ids: dict[str, str], files: tuple[Path, Path] | None) -> Any:
    url = path.format(**ids)
    if body == "upload":
        assert files is not None
        with files[0].open("rb") as fa, files[1].open("rb") as fr:
            return c.request(method, url, headers=headers,
                             files={"accounts": ("a.csv", fa), "reps": ("r.csv", fr)})
    return c.request(method, url, headers=headers, json=body)


def _expected(role: str, least: str, ok: int) -> int:
    return ok if ROLES.index(role) >= ROLES.index(least) else 403


def test_every_route_is_in_the_role_table() -> None:
    from terraplan.api import create_app

    app = create_app(database_url="sqlite://")
    spec = app.openapi()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    tabled = {(m, p.split("?")[0].replace("{account}", "{account_id}")
               .replace("{job}", "{job_id}")) for m, p, *_ in ROUTES}
    tabled = {(m, _template(p)) for m, p in tabled}
    public = {(m, p) for m, p in PUBLIC if p in spec["paths"]}
    assert documented - public == tabled


def _template(path: str) -> str:
    parts = path.split("/")
    names = {"scenarios": "{scenario_id}", "keys": "{key_id}"}
    for i in range(1, len(parts)):
        if parts[i].isdigit() and parts[i - 1] in names:
            parts[i] = names[parts[i - 1]]
    return "/".join(parts)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "least", "ok"), ROUTES,
                         ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_route_x_role(seeded: tuple[Store, dict[str, str]], book_files: tuple[Path, Path],
                      method: str, path: str, body: Any, least: str, ok: int, role: str) -> None:
    store, ids = seeded
    with make_client(store.url) as c:
        r = _call(c, method, path, body, store.headers(role), ids, book_files)
        want = _expected(role, least, ok)
        assert r.status_code == want, r.text
        if want == 403:
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == "https://terraplan.dev/problems/forbidden"
            assert "WWW-Authenticate" not in r.headers


def test_no_key_or_a_bad_key_is_401_on_every_route(
        seeded: tuple[Store, dict[str, str]], book_files: tuple[Path, Path]) -> None:
    store, ids = seeded
    bad = {"Authorization": "Bearer tp_00000000_not-a-real-key"}
    with make_client(store.url) as c:
        for method, path, body, _least, _ok in ROUTES:
            for headers in ({}, bad, {"X-API-Key": "nonsense"}):
                r = _call(c, method, path, body, headers, ids, book_files)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
                assert r.json()["type"] == "https://terraplan.dev/problems/unauthorized"
        for method, path in PUBLIC:
            assert c.request(method, path).status_code == 200


def test_x_api_key_header_is_accepted(seeded: tuple[Store, dict[str, str]]) -> None:
    store, _ = seeded
    with make_client(store.url) as c:
        r = c.get("/v1/scenarios", headers={"X-API-Key": store.keys["viewer"]})
        assert r.status_code == 200 and len(r.json()["items"]) == 5


def test_keys_api_creates_a_working_key_and_revocation_stops_it(store: Store) -> None:
    admin = store.headers("admin")
    with make_client(store.url) as c:
        r = c.post("/v1/keys", headers=admin, json={"name": "crm", "role": "viewer"})
        assert r.status_code == 201
        new = r.json()
        assert new["secret"].startswith(f"tp_{new['prefix']}_")
        h = {"Authorization": f"Bearer {new['secret']}"}
        assert c.get("/v1/scenarios", headers=h).status_code == 200
        assert c.post("/v1/scenarios", headers=h, json={"name": "x"}).status_code == 403
        listed = c.get("/v1/keys", headers=admin).json()["items"]
        assert "secret" not in json.dumps(listed)
        assert c.delete(f"/v1/keys/{new['id']}", headers=admin).json()["revoked_at"]
        assert c.get("/v1/scenarios", headers=h).status_code == 401
    # the store never holds the secret, only its sha256
    with Workspace.open(store.url) as ws:
        rows = ws.engine.raw_connection()
        try:
            dump = "\n".join(str(x) for x in rows.execute("SELECT * FROM api_keys").fetchall())
        finally:
            rows.close()
    assert new["secret"] not in dump and hash_secret(new["secret"]) in dump


def test_keys_cli_create_list_revoke(store: Store) -> None:
    from typer.testing import CliRunner

    from terraplan.cli.app import app

    cli = CliRunner()

    def run(*args: str) -> Any:
        out = cli.invoke(app, ["keys", *args, "--db", store.url, "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    made = run("create", "etl", "--role", "planner")
    assert made["role"] == "planner" and made["secret"].startswith("tp_")
    with Workspace.open(store.url) as ws:
        info = KeyStore(ws).verify(made["secret"])
        assert info is not None and info.role == "planner"
    names = [k["name"] for k in run("list")]
    assert "etl" in names and "secret" not in json.dumps(run("list"))
    revoked = run("revoke", made["prefix"])
    assert revoked["revoked_at"] is not None
    assert "etl" not in [k["name"] for k in run("list")]
    assert "etl" in [k["name"] for k in run("list", "--all")]
    with Workspace.open(store.url) as ws:
        assert KeyStore(ws).verify(made["secret"]) is None
    bad = cli.invoke(app, ["keys", "create", "x", "--role", "root", "--db", store.url])
    assert bad.exit_code == 2
    gone = cli.invoke(app, ["keys", "revoke", "999", "--db", store.url])
    assert gone.exit_code == 2 and "no API key" in gone.output
