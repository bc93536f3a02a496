"""Uploads: the same validation and full error report as the CLI, Parquet too, size limits."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from apisupport import Store, make_client

from terraplan.io import validate_inputs
from terraplan.io.generator import generate_book, write_book


def _corrupt(accounts: Path, reps: Path, out: Path) -> tuple[Path, Path]:
    """Copies with five known problems: accounts row 3 potential 'lots', row 5 empty id,
    row 7 latitude 123, row 9 a duplicate of row 8's id; reps row 2 capacity -5."""
    with accounts.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    pot, ident, lat = head.index("potential"), head.index("id"), head.index("lat")
    rows[2][pot] = "lots"
    rows[4][ident] = ""
    rows[6][lat] = "123"
    rows[8][ident] = rows[7][ident]
    a = out / "bad_accounts.csv"
    with a.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with reps.open(encoding="utf-8") as f:
        rrows = list(csv.reader(f))
    rrows[1][rrows[0].index("capacity")] = "-5"
    r = out / "bad_reps.csv"
    with r.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rrows)
    return a, r


def test_bad_files_return_every_problem_like_the_cli(
        store: Store, book_files: tuple[Path, Path], tmp_path: Path) -> None:
    a, r = _corrupt(*book_files, tmp_path)
    with make_client(store.url) as c, a.open("rb") as fa, r.open("rb") as fr:
        resp = c.post("/v1/inputs", headers=store.headers("planner"), files={
            "accounts": ("bad_accounts.csv", fa), "reps": ("bad_reps.csv", fr)})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["type"] == "https://terraplan.dev/problems/validation"
    got = {(e["source"], e["row"], e["column"]) for e in body["errors"]}
    for where in [("bad_accounts.csv", 3, "potential"), ("bad_accounts.csv", 5, "id"),
                  ("bad_accounts.csv", 7, "lat"), ("bad_accounts.csv", 9, "id"),
                  ("bad_reps.csv", 2, "capacity")]:
        assert where in got, (where, sorted(got, key=str))
    assert any(e["value"] == "lots" for e in body["errors"])
    # exactly the CLI's report (`terraplan validate`), with the client's file names
    report = validate_inputs(a, r)
    assert len(body["errors"]) == len(report.problems)
    assert body["detail"] == f"{len(report.problems)} problem(s) found in the input"
    assert str(tmp_path) not in resp.text  # no server paths leak
    with make_client(store.url) as c:  # nothing was stored
        assert c.get("/v1/inputs", headers=store.headers("viewer")).json() == []


def test_parquet_upload_and_dedup(store: Store, tmp_path: Path) -> None:
    a, r = write_book(generate_book(120, 4, 2), tmp_path, fmt="parquet")
    h = store.headers("planner")
    with make_client(store.url) as c:
        for created in (True, False):  # the same content again reuses the snapshots
            with a.open("rb") as fa, r.open("rb") as fr:
                resp = c.post("/v1/inputs", headers=h, files={
                    "accounts": ("accounts.parquet", fa), "reps": ("reps.parquet", fr)})
            assert resp.status_code == 201, resp.text
            assert resp.json()["accounts"]["rows"] == 120
            assert resp.json()["accounts_created"] is created
        assert len(c.get("/v1/inputs", headers=h).json()) == 2


def test_spec_upload_maps_crm_columns(store: Store, tmp_path: Path) -> None:
    a, r = write_book(generate_book(50, 3, 4), tmp_path,
                      account_columns={"Konto Nr": "id", "Jahrespotenzial": "potential"})
    spec = b"inputs:\n  account_columns: {Konto Nr: id, Jahrespotenzial: potential}\n"
    with make_client(store.url) as c, a.open("rb") as fa, r.open("rb") as fr:
        plain = c.post("/v1/inputs", headers=store.headers("planner"), files={
            "accounts": ("a.csv", fa), "reps": ("r.csv", fr)})
        assert plain.status_code == 422  # without the mapping the id column is missing
        fa.seek(0)
        fr.seek(0)
        mapped = c.post("/v1/inputs", headers=store.headers("planner"), files={
            "accounts": ("a.csv", fa), "reps": ("r.csv", fr),
            "spec": ("spec.yaml", io.BytesIO(spec))})
    assert mapped.status_code == 201, mapped.text
    assert mapped.json()["accounts"]["rows"] == 50


def test_oversized_bodies_are_refused_with_413(store: Store) -> None:
    from fastapi.testclient import TestClient

    from terraplan.api import create_app
    from terraplan.settings import Settings

    app = create_app(Settings(database_url=store.url, max_upload_bytes=10_000),
                     job_mode="thread", recover="stale")
    big = b"id,potential\n" + b"A1,1\n" * 5000
    with TestClient(app) as c:
        r = c.post("/v1/inputs", headers=store.headers("planner"),
                   files={"accounts": ("a.csv", big), "reps": ("r.csv", b"id\n")})
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "https://terraplan.dev/problems/payload-too-large"

        def chunks() -> io.BytesIO:  # no Content-Length: counted while it streams
            return io.BytesIO(big)

        r = c.post("/v1/scenarios", headers={**store.headers("planner"),
                                              "Content-Type": "application/json",
                                              "Transfer-Encoding": "chunked"},
                   content=iter([big[:6000], big[6000:]]))
        assert r.status_code == 413
        # small requests pass
        assert c.get("/v1/scenarios", headers=store.headers("viewer")).status_code == 200
