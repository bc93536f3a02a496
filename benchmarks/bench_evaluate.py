"""Speed of the evaluator on a large synthetic book (target: 1M accounts × 2,000 reps ≤ 5 s).

Usage::

    python benchmarks/bench_evaluate.py --accounts 1000000 --reps 2000 --seed 0 --repeat 3

The book is built with numpy directly (no I/O in the timing): lat/lon in a US-like box, 3
segments × 8 verticals × 10 regions, lognormal potential, ~5 % of accounts in families, 1 %
locked, open pipeline on a fifth of the book; reps specialise in a segment and a few regions, so
the eligibility pools are non-trivial. The plan evaluated is a perturbation of the current owners
(10 % of accounts moved to another rep) so moves, travel and violations all have work to do.
Reported: the median and best of ``--repeat`` wall-clock runs of ``evaluate``, ``objective`` and
``explain_moves``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import numpy as np

from terraplan.domain import (
    AccountBook,
    Categorical,
    Plan,
    Point,
    Rep,
    RepRoster,
    Scenario,
    ScenarioSpec,
)
from terraplan.evaluate import evaluate, explain_moves, objective

SEGMENTS = ("SMB", "MM", "ENT")
VERTICALS = ("Health", "Finance", "Retail", "Manufacturing", "Tech", "Public", "Energy", "Media")
REGIONS = tuple(f"R{k}" for k in range(10))


def build(n: int, m: int, seed: int) -> tuple[Scenario, Plan]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-124.0, -67.0, n)
    lat = rng.uniform(25.0, 49.0, n)
    region = np.clip(((lon + 124.0) / 5.7).astype(np.int32), 0, 9)
    segment = rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(np.int32)
    vertical = rng.integers(0, len(VERTICALS), n).astype(np.int32)
    potential = np.round(rng.lognormal(11.0, 1.0, n) * 100).astype(np.int64)  # cents
    workload = np.round(5 + potential / 1e6 + rng.gamma(2.0, 3.0, n), 2)
    pipeline = np.where(rng.random(n) < 0.2, potential // 3, 0).astype(np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    kids = rng.choice(n, n // 20, replace=False)
    parent[kids] = np.maximum(kids - rng.integers(1, 50, kids.size), 0)
    parent[parent == np.arange(n)] = -1

    # reps: a segment each (ENT reps also take MM), one to three neighbouring regions
    rep_seg = rng.choice(3, m, p=[0.5, 0.3, 0.2])
    rep_reg = rng.integers(0, 10, m)
    reps = []
    for j in range(m):
        segs = {SEGMENTS[rep_seg[j]]} | ({"MM"} if rep_seg[j] == 2 else set())
        regs = {REGIONS[(rep_reg[j] + k) % 10] for k in range(int(rng.integers(1, 4)))}
        reps.append(Rep(
            id=f"R{j:05d}", segments=frozenset(segs), regions=frozenset(regs),
            home=Point(float(-124.0 + 5.7 * (rep_reg[j] + 0.5)), float(rng.uniform(27, 47))),
            capacity=float(rng.uniform(1500, 4000)),
            target_share=float(rng.choice([1.0, 1.0, 1.2])),
        ))
    roster = RepRoster.of(reps)

    # current owner: a random eligible rep (by segment × region), fall back to any rep
    elig = np.zeros((3, 10, m), dtype=bool)
    for j, r in enumerate(reps):
        for s in r.segments:
            for g in r.regions:
                elig[SEGMENTS.index(s), REGIONS.index(g), j] = True
    owner = np.empty(n, dtype=np.int64)
    for s in range(3):
        for g in range(10):
            rows = np.flatnonzero((segment == s) & (region == g))
            cand = np.flatnonzero(elig[s, g]) if elig[s, g].any() else np.arange(m)
            owner[rows] = cand[rng.integers(0, cand.size, rows.size)]
    rep_ids = tuple(r.id for r in reps)
    locked = np.where(rng.random(n) < 0.01, owner, -1).astype(np.int32)

    ids = np.array([f"A{i:07d}" for i in range(n)], dtype=object)
    book = AccountBook(
        ids=ids, names=ids.copy(), x=lon, y=lat,
        country=Categorical.from_codes(np.zeros(n, np.int32), ("US",)),
        region=Categorical.from_codes(region, REGIONS),
        postal_code=Categorical.from_codes(np.full(n, -1, np.int32), ()),
        segment=Categorical.from_codes(segment, SEGMENTS),
        vertical=Categorical.from_codes(vertical, VERTICALS),
        potential=potential, workload=workload,
        current_owner=Categorical.from_codes(owner.astype(np.int32), rep_ids),
        parent=parent, locked_to=Categorical.from_codes(locked, rep_ids),
        pipeline=pipeline, extra={},
    )
    spec = ScenarioSpec.from_dict({
        "name": "bench",
        "rules": {"balance": [{"metric": "potential", "tolerance": 0.1},
                              {"metric": "workload", "tolerance": 0.15, "hard": False,
                               "penalty": 10}],
                  "max_distance": 800.0,
                  "continuity": {"max_moved_share": 0.2, "max_moved_per_rep": 200,
                                 "move_cost": 1.0, "protect_pipeline_above": 10_000_000}},
        "objective": {"travel": 1.0, "disruption": 0.01, "balance": 1.0},
    })
    scenario = Scenario(spec=spec, accounts=book, reps=roster)
    new_owner = owner.copy()
    move = rng.random(n) < 0.10
    new_owner[move] = rng.integers(0, m, int(move.sum()))
    return scenario, Plan.from_indices(book, roster, new_owner)


def timings(fn, repeat: int) -> tuple[float, float]:
    """Median and best wall-clock seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    scenario, plan = build(args.accounts, args.reps, args.seed)
    t_build = time.perf_counter() - t0
    ev = evaluate(scenario, plan)
    before = Plan.current(scenario.accounts, scenario.reps)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip() or "unknown"
    print(f"# bench_evaluate: {args.accounts:,} accounts x {args.reps:,} reps, seed {args.seed}, "
          f"{args.repeat} repeats; git {rev}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; synthetic book built in {t_build:.1f} s")
    print(f"# plan: {ev.assigned:,} assigned, {ev.moves.accounts_moved:,} moved, "
          f"{ev.n_pools} pools, {ev.hard_count:,} hard violations, "
          f"objective {ev.objective.total:,.1f}")
    rows = [
        ("evaluate(scenario, plan)", timings(lambda: evaluate(scenario, plan), args.repeat)),
        ("objective(scenario, plan)", timings(lambda: objective(scenario, plan), args.repeat)),
        ("explain_moves(scenario, current, plan)",
         timings(lambda: explain_moves(scenario, before, plan), args.repeat)),
    ]
    print(f"# load average before timing: {os.getloadavg()[0]:.1f}")
    print("| operation | median (s) | best (s) | target |")
    print("|---|---:|---:|---|")
    for name, (med, best) in rows:
        target = ("≤ 5 s: " + ("met" if med <= 5.0 else "MISSED")
                  if name.startswith("evaluate") else "")
        print(f"| `{name}` | {med:.2f} | {best:.2f} | {target} |")


if __name__ == "__main__":
    main()
