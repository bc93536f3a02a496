"""Scenario store speed benchmark (issue 6 targets).

Measures on a generated book (seeded):

* storing a plan of N assignments (target: 1M in <= 30 s on SQLite),
* comparing two N-account plans, loading included (target: <= 10 s for 1M),
* reading one account's owner from the active plan (target: <= 2 ms), median and p99,

plus importing the inputs (the Parquet snapshot). Run::

    python benchmarks/bench_store.py --accounts 1000000 --reps 500
    python benchmarks/bench_store.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from terraplan.domain import AccountBook, Categorical, CoordSystem, Plan, Rep, RepRoster
from terraplan.services import Workspace


def make_book(n: int, n_reps: int, seed: int) -> tuple[AccountBook, RepRoster]:
    rng = np.random.default_rng(seed)
    ids = np.asarray([f"ACC{i:08d}" for i in range(n)], dtype=object)
    reps = RepRoster.of([Rep(id=f"R{j:04d}") for j in range(n_reps)])
    owner_codes = rng.integers(-1, n_reps, size=n).astype(np.int32)
    seg = rng.integers(0, 3, size=n).astype(np.int32)
    none = Categorical.from_codes(np.full(n, -1, dtype=np.int32), ())
    book = AccountBook(
        ids=ids, names=ids.copy(), x=rng.uniform(-120, -70, n), y=rng.uniform(25, 48, n),
        country=Categorical.from_codes(np.zeros(n, dtype=np.int32), ("US",)),
        region=Categorical.from_codes(rng.integers(0, 4, n), ("West", "East", "North", "South")),
        postal_code=none, segment=Categorical.from_codes(seg, ("SMB", "MM", "ENT")),
        vertical=none, potential=rng.integers(10_000, 10_000_000, n).astype(np.int64),
        workload=rng.uniform(1, 40, n), current_owner=Categorical.from_codes(owner_codes,
                                                                            reps.ids),
        parent=np.full(n, -1, dtype=np.int64), locked_to=none,
        pipeline=rng.integers(0, 1_000_000, n).astype(np.int64), extra={},
        coord_system=CoordSystem.LATLON,
    )
    return book, reps


def random_plan(book: AccountBook, roster: RepRoster, seed: int, move: float) -> Plan:
    rng = np.random.default_rng(seed)
    cur = np.asarray(book.current_owner.codes, dtype=np.int32).copy()
    cur[cur < 0] = rng.integers(0, len(roster), size=int((cur < 0).sum()))
    moved = rng.random(len(book)) < move
    cur[moved] = rng.integers(0, len(roster), size=int(moved.sum()))
    reasons = np.where(moved, 3, 0).astype(np.int8)
    return Plan.from_indices(book, roster, cur, reasons=reasons)


class _Result:
    def __init__(self) -> None:
        self.status = type("S", (), {"value": "feasible"})()
        self.backend, self.seed, self.objective, self.bound = "bench", 0, 0.0, None
        self.runtime, self.message, self.stats, self.gap = 0.0, "", {}, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--db", default=None, help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    schema = None
    if args.db is None:
        url, backend = f"sqlite:///{Path(tmp.name) / 'bench.db'}", "sqlite"
    else:
        backend = "postgresql"
        schema = f"tp_bench_{uuid.uuid4().hex[:8]}"
        with create_engine(args.db).begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = args.db + ("&" if "?" in args.db else "?") + f"options=-csearch_path%3D{schema}"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=Path(__file__).parent).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"store benchmark: {args.accounts:,} accounts, {args.reps} reps, {backend}, "
          f"{os.cpu_count()} cores, load average {load}, git {rev}, seed {args.seed}")
    book, roster = make_book(args.accounts, args.reps, args.seed)
    plan_a = random_plan(book, roster, args.seed + 1, 0.05)
    plan_b = random_plan(book, roster, args.seed + 2, 0.10)
    rows = []
    try:
        ws = Workspace.open(url)
        t = time.perf_counter()
        ws.import_inputs(book, roster, actor="bench")
        rows.append(("import inputs (hash + Arrow snapshot)", time.perf_counter() - t, None))
        ws.create_scenario("a", actor="bench")
        ws.create_scenario("b", actor="bench")
        t = time.perf_counter()
        ws.record_solve("a", _Result(), plan_a, actor="bench")  # type: ignore[arg-type]
        rows.append((f"store a {len(plan_a):,}-assignment plan", time.perf_counter() - t, 30.0))
        ws.record_solve("b", _Result(), plan_b, actor="bench")  # type: ignore[arg-type]
        ws._books.clear()  # measure compare with a cold book cache (decode included)
        t = time.perf_counter()
        cmp = ws.compare("a", "b")
        rows.append((f"compare two {len(plan_a):,}-account plans ({cmp.n_moved:,} moves)",
                     time.perf_counter() - t, 10.0))
        for verb in ("submit", "approve", "activate"):
            ws.transition("a", verb, actor="bench")
        rng = np.random.default_rng(args.seed)
        picks = book.ids[rng.integers(0, len(book), args.lookups)].tolist()
        ws.owner_of(picks[0])  # warm the pool
        lat = []
        for acc in picks:
            t = time.perf_counter()
            ws.owner_of(acc)
            lat.append(time.perf_counter() - t)
        lat_ms = np.asarray(lat) * 1000
        rows.append((f"owner lookup, median of {args.lookups}", float(np.median(lat_ms)) / 1000,
                     0.002))
        rows.append((f"owner lookup, p99 of {args.lookups}",
                     float(np.percentile(lat_ms, 99)) / 1000, 0.002))
        ws.close()
        print(f"load average after the run: "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if schema is not None:
            with create_engine(args.db).begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        tmp.cleanup()
    print("| operation | time | target | met |")
    print("|---|---:|---:|:---:|")
    for name, secs, target in rows:
        shown = f"{secs * 1000:.2f} ms" if secs < 1 else f"{secs:.2f} s"
        tgt = "" if target is None else (f"≤ {target * 1000:g} ms" if target < 1
                                         else f"≤ {target:g} s")
        met = "" if target is None else ("yes" if secs <= target else "**no**")
        print(f"| {name} | {shown} | {tgt} | {met} |")


if __name__ == "__main__":
    main()
