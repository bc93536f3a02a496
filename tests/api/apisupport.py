"""API test support: a generated 300-account book, seeded stores, API keys per role, an
in-process TestClient and a real ``terraplan serve`` process on a loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from terraplan.api import create_app
from terraplan.domain import Plan
from terraplan.io.generator import generate_book, write_book
from terraplan.services import Workspace
from terraplan.services.keys import KeyStore

with warnings.catch_warnings():
    # Starlette 1.x warns that its TestClient will move off httpx; the client works as is
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ROLES = ("viewer", "planner", "admin")
SEED = 11
TERRAPLAN = Path(sys.executable).with_name("terraplan")


@dataclass(frozen=True)
class Store:
    """A store on disk with one key per role (``keys[role]`` is the secret)."""

    url: str
    path: Path
    keys: dict[str, str]

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture(scope="session")
def book_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """accounts.csv and reps.csv of a generated book (300 accounts, 8 reps, seed 11)."""
    out = tmp_path_factory.mktemp("book")
    return write_book(generate_book(300, 8, SEED), out)


def _keys(ws: Workspace) -> dict[str, str]:
    ks = KeyStore(ws)
    return {r: ks.create(f"test-{r}", r, actor="test").secret for r in ROLES}


@pytest.fixture(scope="session")
def _empty_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("empty") / "store.db"
    with Workspace.open(f"sqlite:///{path}") as ws:
        keys = _keys(ws)
    return path, keys


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A store with inputs and one scenario in each lifecycle state (plans are the current
    ownership, so no solver runs here):

    1 live (active), 2 solved (+ quotas, comp), 3 draft (no plan), 4 review (in_review),
    5 ok (approved); one queued job on scenario 2.
    """
    path = tmp_path_factory.mktemp("seeded") / "store.db"
    g = generate_book(300, 8, SEED)
    plan = Plan.current(g.accounts, g.reps)
    with Workspace.open(f"sqlite:///{path}") as ws:
        keys = _keys(ws)
        ws.import_inputs(g.accounts, g.reps, actor="test")
        for name in ("live", "solved", "draft", "review", "ok"):
            ws.create_scenario(name, actor="test", plan=None if name == "draft" else plan)
        for verb in ("submit", "approve", "activate"):
            ws.transition("live", verb, actor="test")
        ws.transition("review", "submit", actor="test")
        ws.transition("ok", "submit", actor="test")
        ws.transition("ok", "approve", actor="test")
        reps = [r.id for r in g.reps]
        ws.record_quotas("solved", {(r, "2027"): 100_000_00 for r in reps}, actor="test",
                         method="equal")
        ws.record_comp("solved", "standard", {"rate": "10%"}, actor="test",
                       total_cost_cents=12_345_00,
                       per_rep_pay_cents={r: 1_000_00 for r in reps})
        job = ws.create_job("solved", actor="test", options={"time_limit": 1})
    return path, keys, {"job": job.id, "account": str(g.accounts.ids[0])}


def _copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "store.db"
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture
def store(tmp_path: Path, _empty_template: tuple[Path, dict[str, str]]) -> Store:
    """An empty migrated store (keys only)."""
    path = _copy(_empty_template[0], tmp_path)
    return Store(f"sqlite:///{path}", path, dict(_empty_template[1]))


@pytest.fixture
def seeded(tmp_path: Path, _seeded_template: tuple[Path, dict[str, str], dict[str, str]]
           ) -> tuple[Store, dict[str, str]]:
    """A seeded store (see ``_seeded_template``) and its ids: job, account."""
    path = _copy(_seeded_template[0], tmp_path)
    return Store(f"sqlite:///{path}", path, dict(_seeded_template[1])), dict(_seeded_template[2])


_APPS: dict[tuple[str, str], FastAPI] = {}


def make_client(url: str, *, job_mode: str = "thread", recover: str = "stale") -> TestClient:
    """A TestClient over the app with jobs in threads (the process pool is tested live).

    Apps are built once per configuration and pointed at the test's store: FastAPI builds
    its routes on first use, which would otherwise cost every test about half a second.
    """
    app = _APPS.get((job_mode, recover))
    if app is None:
        app = _APPS[(job_mode, recover)] = create_app(database_url=url, job_mode=job_mode,
                                                      recover=recover)
    app.state.database_url = url
    return TestClient(app)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with make_client(store.url) as c:
        yield c


# -- the real server -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``terraplan serve`` in its own process group on 127.0.0.1."""

    def __init__(self, url: str, log: Path, port: int | None = None) -> None:
        self.db_url, self.log = url, log
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "TERRAPLAN_WORKERS": "1", "TERRAPLAN_DEBUG": "0"}
        env.pop("TERRAPLAN_DATABASE_URL", None)
        with self.log.open("ab") as logf:
            self.proc = subprocess.Popen(
                [str(TERRAPLAN), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--db", self.db_url, "--log-level", "warning"],
                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (server, forkserver, workers): a crash."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        # the worker processes of the pool are in the same group; make sure none outlives us
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def client(self, store: Store | None = None, role: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30,
                            headers=store.headers(role) if store and role else None)


@pytest.fixture
def live(store: Store, tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(store.url, tmp_path / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_store(require_postgres: str) -> Iterator[Store]:
    """A migrated store in a unique schema of the PostgreSQL test server (dropped after)."""
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"tp_api_{uuid.uuid4().hex[:12]}"
    admin = create_engine(require_postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in require_postgres else "?"
    url = f"{require_postgres}{sep}options=-csearch_path%3D{schema}"
    try:
        with Workspace.open(url) as ws:
            keys = _keys(ws)
        yield Store(url, Path("/nonexistent"), keys)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
