"""Large-book benchmark: the heuristic backend vs the LP bound, plus a one-departure rebalance.

Usage::

    python benchmarks/large/run_large.py --accounts 10000 --reps 50 --time-limit 5 [--seed 1]
    python benchmarks/large/run_large.py --accounts 100000 --reps 500 --time-limit 60 --rebalance

Book: :func:`terraplan.io.generator.generate_book` (seed given), balance on potential and
workload at ±3 % (hard), eligibility by segment × vertical × region, capacity on. Every plan is
re-checked by :func:`terraplan.evaluate.evaluate` (hard violations, objective recomputed).
Prints one JSON line per run (solve, LP bound, rebalance) with peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time

import numpy as np

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, solve
from terraplan.solvers.bounds import lp_bound


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--tolerance", type=float, default=0.03, help="balance band (both metrics)")
    ap.add_argument("--lp-bound", action="store_true", help="also solve the full LP bound")
    ap.add_argument("--rebalance", action="store_true", help="also rebalance one departure")
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    t = time.perf_counter()
    g = generate_book(args.accounts, args.reps, seed=args.seed)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": args.tolerance},
        {"metric": "workload", "tolerance": args.tolerance}]}})
    sc = Scenario(spec=spec, accounts=g.accounts, reps=g.reps)
    p = compile(sc)
    t_prep = time.perf_counter() - t
    if args.lp_bound:  # before the solve: the full LP relaxation, all pools, no size cap
        t = time.perf_counter()
        b = lp_bound(p, time_limit=600, max_pairs=10**9)
        lp_row = {"run": "lp_bound", "value": b.value, "method": b.method,
                  "optimal": b.optimal, "s": round(time.perf_counter() - t, 2),
                  "peak_gb": round(peak_gb(), 2)}
        print(json.dumps(lp_row), flush=True)
    t = time.perf_counter()
    r = solve(p, backend="heuristic", seed=args.seed,
              options=SolveOptions(time_limit=args.time_limit), explain=False)
    wall = time.perf_counter() - t
    row = {"run": "solve", "accounts": args.accounts, "reps": args.reps, "seed": args.seed,
           "git": rev, "time_limit": args.time_limit, "status": r.status.value,
           "objective": r.objective, "bound": r.bound, "gap": r.gap, "solve_s": round(wall, 2),
           "prep_s": round(t_prep, 2), "message": r.message, "peak_gb": round(peak_gb(), 2),
           "items": p.n_items, "pairs": p.n_pairs, "pools": p.n_pools,
           "tolerance": args.tolerance, "load_avg_1m": os.getloadavg()[0]}
    if args.lp_bound and b.optimal and r.objective is not None:
        row["over_lp_bound"] = (r.objective - b.value) / b.value
    if r.assignment is not None:
        ev = evaluate(sc, decode(p, r.assignment))
        row["evaluator_hard"] = ev.hard_count
        row["evaluator_objective"] = ev.objective.total
    print(json.dumps(row), flush=True)
    if args.rebalance and r.assignment is not None:
        from terraplan.solvers.rebalance import Departure, rebalance

        active = decode(p, r.assignment)
        # the rep with the largest book among active reps departs
        counts = np.bincount(r.assignment[r.assignment >= 0], minlength=p.n_reps)
        counts[~p.rep_active] = -1
        dep = p.rep_ids[int(np.argmax(counts))]
        t = time.perf_counter()
        rb = rebalance(sc, active, [Departure(dep)], seed=args.seed, time_limit=30.0)
        wall = time.perf_counter() - t
        book = int(counts.max())
        rest = int((r.assignment >= 0).sum()) - book
        out = {"run": "rebalance", "departed": dep, "departed_book": book,
               "status": rb.status.value, "moved": len(rb.moves), "allowed": book + rest // 100,
               "rebalance_s": round(wall, 2), "message": rb.message,
               "peak_gb": round(peak_gb(), 2)}
        if rb.plan is not None:
            ev = evaluate(rb.scenario, rb.plan)
            out["evaluator_hard"] = ev.hard_count
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
