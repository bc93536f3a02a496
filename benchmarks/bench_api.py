"""Owner lookup over HTTP against a 100k-account active plan (target: >= 500 requests/s with
p99 <= 20 ms on loopback).

Usage::

    python benchmarks/bench_api.py [--accounts 100000] [--reps 400] [--seed 42]
                                   [--requests 20000] [--duration 60] [--concurrency 4]
                                   [--db URL] [--port 0]

What it does:

1. builds a store (a SQLite file in a temporary folder, or ``--db``) holding a generated book of
   ``--accounts`` accounts whose active plan is the current ownership (imported, approved and
   activated like any plan), and a viewer API key;
2. starts ``terraplan serve`` (uvicorn, one worker) on 127.0.0.1 in a child process;
3. runs a closed-loop load: ``--concurrency`` keep-alive HTTP/1.1 connections, each sending
   ``GET /v1/accounts/{id}/owner`` for uniformly random account ids of the book, until
   ``--requests`` requests are done or ``--duration`` seconds have passed (whichever first);
   latency is measured per request from the write to the end of the response body;
4. checks every answer (status 200 and the rep id the plan holds for that account) and prints
   throughput, latency percentiles and the verdict.

The load generator is a minimal asyncio HTTP/1.1 client (raw streams, no client library on the
hot path) so that on a 2-core machine the client costs as little CPU as possible next to the
server. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RPS = 500.0
TARGET_P99_MS = 20.0


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(url: str, accounts: int, reps: int, seed: int) -> tuple[str, dict[str, str]]:
    """Generate a book, store it with its current ownership as the active plan; returns a
    viewer key and the expected owner of every account."""
    from terraplan.domain import Plan
    from terraplan.io.generator import generate_book
    from terraplan.services import Workspace
    from terraplan.services.keys import KeyStore

    t0 = time.perf_counter()
    g = generate_book(accounts, reps, seed)
    plan = Plan.current(g.accounts, g.reps)
    with Workspace.open(url) as ws:
        ws.import_inputs(g.accounts, g.reps, actor="bench")
        name = f"bench-{seed}-{accounts}"
        ws.create_scenario(name, actor="bench", plan=plan)
        for verb in ("submit", "approve", "activate"):
            ws.transition(name, verb, actor="bench")
        key = KeyStore(ws).create("bench", "viewer", actor="bench").secret
    reps_ids = list(plan.rep_ids)
    owners = {a: (reps_ids[o] if o >= 0 else None)
              for a, o in zip(plan.account_ids.tolist(), plan.owner.tolist(), strict=True)}
    print(f"store ready in {time.perf_counter() - t0:.1f} s: {accounts:,} accounts, "
          f"{reps:,} reps, active plan '{name}'")
    return key, owners


def start_server(url: str, port: int, log: Path, workers: int = 1
                 ) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("terraplan")
    env = {**os.environ, "TERRAPLAN_WORKERS": "1"}
    with log.open("ab") as f:
        proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", url,
             "--workers", str(workers), "--log-level", "warning"],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start in 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length)
    return status, body


async def _worker(port: int, key: str, ids: list[str], owners: dict[str, str | None],
                  budget: list[int], deadline: float, lat: list[float], errors: list[str],
                  rng: random.Random) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {key}\r\n".encode()
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            acc = ids[rng.randrange(len(ids))]
            req = (f"GET /v1/accounts/{acc}/owner HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                   + auth + b"\r\n")
            t0 = time.perf_counter()
            writer.write(req)
            status, body = await _read_response(reader)
            lat.append(time.perf_counter() - t0)
            expected = owners[acc]
            if status != 200:
                errors.append(f"{acc}: HTTP {status} {body[:200]!r}")
            elif (f'"rep_id":"{expected}"' if expected is not None
                  else '"rep_id":null').encode() not in body:
                errors.append(f"{acc}: wrong owner in {body[:200]!r} (expected {expected})")
    finally:
        writer.close()
        await writer.wait_closed()


async def load(port: int, key: str, owners: dict[str, str | None], *, requests: int,
               duration: float, concurrency: int, seed: int
               ) -> tuple[list[float], list[str], float]:
    ids = list(owners)
    lat: list[float] = []
    errors: list[str] = []
    budget = [requests]
    t0 = time.perf_counter()
    await asyncio.gather(*(
        _worker(port, key, ids, owners, budget, t0 + duration, lat, errors,
                random.Random(seed * 1000 + i)) for i in range(concurrency)))
    return lat, errors, time.perf_counter() - t0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children still running (Linux /proc):
    the server's CPU per request, independent of what else the machine runs."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(x) for x in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pct(sorted_ms: list[float], q: float) -> float:
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--requests", type=int, default=20_000, help="Request budget.")
    ap.add_argument("--duration", type=float, default=60.0, help="Time budget, seconds.")
    ap.add_argument("--concurrency", type=int, default=4, help="Keep-alive connections.")
    ap.add_argument("--warmup", type=int, default=500, help="Requests before measuring.")
    ap.add_argument("--db", default=None, help="Store URL (default: a temporary SQLite file).")
    ap.add_argument("--port", type=int, default=0, help="Port (default: a free one).")
    ap.add_argument("--server-workers", type=int, default=1,
                    help="uvicorn worker processes (terraplan serve --workers).")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="terraplan-bench-api-"))
    url = args.db or f"sqlite:///{tmp / 'store.db'}"
    key, owners = build_store(url, args.accounts, args.reps, args.seed)
    port = args.port or free_port()
    proc = start_server(url, port, tmp / "server.log", args.server_workers)
    try:
        asyncio.run(load(port, key, owners, requests=args.warmup, duration=30,
                         concurrency=args.concurrency, seed=args.seed + 1))
        cpu0, load0 = cpu_seconds(proc.pid), os.getloadavg()[0]
        lat, errors, wall = asyncio.run(load(
            port, key, owners, requests=args.requests, duration=args.duration,
            concurrency=args.concurrency, seed=args.seed))
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        stop_server(proc)
    ms = sorted(x * 1000 for x in lat)
    rps = len(ms) / wall
    p50, p90, p99 = pct(ms, 50), pct(ms, 90), pct(ms, 99)
    ok = rps >= TARGET_RPS and p99 <= TARGET_P99_MS and not errors
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {load0:.2f} before the run; "
          f"git {git_rev()}; store {url.split(':', 1)[0]}")
    print(f"{len(ms):,} requests in {wall:.2f} s over {args.concurrency} connections to "
          f"{args.server_workers} server process(es), "
          f"{len(errors)} errors")
    print("| accounts | requests | concurrency | req/s | p50 ms | p90 ms | p99 ms | max ms |"
          " errors | target |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {args.accounts:,} | {len(ms):,} | {args.concurrency} | {rps:,.0f} | {p50:.2f} | "
          f"{p90:.2f} | {p99:.2f} | {ms[-1]:.1f} | {len(errors)} | "
          f"{'met' if ok else 'MISSED'} (>= {TARGET_RPS:.0f} req/s, p99 <= "
          f"{TARGET_P99_MS:.0f} ms) |")
    print(f"median {statistics.median(ms):.2f} ms; server CPU {cpu:.2f} s = "
          f"{1000 * cpu / len(ms):.3f} ms per request (one core would serve about "
          f"{len(ms) / cpu:,.0f} req/s)" if cpu > 0 else "")
    for e in errors[:5]:
        print("error:", e)
    if not args.db:
        for p in tmp.glob("*"):
            p.unlink()
        tmp.rmdir()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
