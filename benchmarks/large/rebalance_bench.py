"""Rebalance one departure on a large book: time, accounts moved vs the departed book, rules met.

Usage::

    python benchmarks/large/rebalance_bench.py --accounts 100000 --reps 500 --seed 1 \\
        [--tolerance 0.03] [--no-balance] [--start lp|heuristic] [--plan-time 120]

Book: ``generate_book(accounts, reps, seed)``; spec: eligibility by segment × vertical × region,
capacity, families, locks, balance on potential and workload at ±tolerance (hard) unless
``--no-balance``.

The active plan (not timed as part of the rebalance; its time is printed in the ``active_plan``
row):

* ``--start lp`` (default; until ``76f4ffd`` the heuristic could not produce a ±3 % plan at
  100k — it now does in 120 s for seed 1, not yet for seed 2, see ``--start heuristic``; and a
  rebalance from its plan moves more, see docs/benchmarks.md): the plan is built by
  :func:`terraplan.solvers.rebalance.lp_rounded_plan`: one HiGHS LP per pool (the
  model of :mod:`terraplan.solvers.bounds`) over the pairs of ``compile(scenario)`` among each
  item's 10 nearest reps or each rep's 400 nearest items, by travel; items the LP assigns
  integrally keep that rep, fractional ones are placed by
  :func:`terraplan.solvers.rebalance.repair` (pool MIPs, HiGHS) on the full problem, which also
  restores any band the rounding broke. Every hard rule is then re-checked by the evaluator;
* ``--start heuristic``: ``solve(..., backend="heuristic")`` for ``--plan-time`` seconds.

Then the active rep with the largest book in the pool with most reps departs (a small pool
cannot lose a rep at all: the generator gives pools only 17–27 % spare capacity) and
:func:`terraplan.solvers.rebalance.rebalance` restores every rule. **Timed: the rebalance call
only**, given the start problem ``compile(scenario)`` (compiled once for the active plan; its
compile time is the ``start_compile_s`` field, outside the timed call). Target (issue 4): ≤ 5 s,
moved ≤ departed book + 1 % of the rest, evaluator finds no hard violation. Prints JSON lines.
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
from terraplan.solvers.rebalance import Departure, lp_rounded_plan, rebalance


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tolerance", type=float, default=0.03)
    ap.add_argument("--no-balance", action="store_true")
    ap.add_argument("--start", choices=("lp", "heuristic"), default="lp")
    ap.add_argument("--plan-time", type=float, default=120.0)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--start-cache", default="",
                    help="npy file: load the active plan from it if present, else save it there")
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    g = generate_book(args.accounts, args.reps, seed=args.seed)
    balance = [] if args.no_balance else [
        {"metric": "potential", "tolerance": args.tolerance},
        {"metric": "workload", "tolerance": args.tolerance}]
    sc = Scenario(spec=ScenarioSpec.from_dict({"rules": {"balance": balance}}),
                  accounts=g.accounts, reps=g.reps)
    t = time.perf_counter()
    p = compile(sc)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    if args.start_cache and os.path.exists(args.start_cache):
        assignment, how = np.load(args.start_cache), f"loaded from {args.start_cache}"
    elif args.start == "lp":
        res, how = lp_rounded_plan(p, seed=args.seed, time_limit=args.plan_time)
        assignment = res.assignment
    else:
        r = solve(p, backend="heuristic", seed=args.seed, explain=False,
                  options=SolveOptions(time_limit=args.plan_time))
        assignment, how = r.assignment, f"heuristic: {r.status.value} {r.message}"
    start_hard = None if assignment is None else evaluate(sc, decode(p, assignment)).hard_count
    print(json.dumps({"run": "active_plan", "start": args.start, "how": how,
                      "s": round(time.perf_counter() - t, 2), "evaluator_hard": start_hard,
                      "git": rev, "balance": "none" if args.no_balance else args.tolerance}),
          flush=True)
    if assignment is None:
        return
    if args.start_cache and not os.path.exists(args.start_cache) and start_hard == 0:
        np.save(args.start_cache, assignment)
    counts = np.bincount(assignment[assignment >= 0], minlength=p.n_reps)
    counts[~p.rep_active] = -1
    pool_reps = np.bincount(p.rep_pool[p.rep_pool >= 0])
    counts[p.rep_pool != int(np.argmax(pool_reps))] = -1
    dep = p.rep_ids[int(np.argmax(counts))]
    book = int(counts.max())
    rest = int((assignment >= 0).sum()) - book
    active = decode(p, assignment)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    rb = rebalance(sc, active, [Departure(dep)], seed=args.seed, time_limit=args.time_limit,
                   problem=p)
    wall = time.perf_counter() - t
    out = {"run": "rebalance", "accounts": args.accounts, "reps": args.reps, "seed": args.seed,
           "departed": dep, "departed_book": book, "status": rb.status.value,
           "moved": len(rb.moves), "allowed": book + rest // 100,
           "by_reason": rb.moved_by_reason, "rebalance_s": round(wall, 2),
           "start_compile_s": round(compile_s, 2),
           "phases": {k: round(v, 3) for k, v in rb.stats.items()},
           "before": rb.before, "after": rb.after, "message": rb.message, "git": rev,
           "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
           "load_avg_1m_before": load, "load_avg_1m": os.getloadavg()[0]}
    if rb.plan is not None:
        out["evaluator_hard"] = evaluate(rb.scenario, rb.plan).hard_count
        moved_other = np.flatnonzero((rb.plan.owner != active.owner)
                                     & (active.owner != p.rep_ids.index(dep)))
        out["other_moved"] = int(len(moved_other))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
