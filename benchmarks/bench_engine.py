"""Speed benchmark of the territory engine in assign mode: compile + CP-SAT / MILP (HiGHS).

Generates books with the foundation's seeded generator (``terraplan.io.generator``), compiles
them, solves with each exact backend under a time limit and re-checks every plan with the
independent evaluator (hard violations must be empty; the evaluator's objective must equal the
reported one). Prints a markdown table.

Usage::

    python benchmarks/bench_engine.py --sizes 2000x20,10000x50 --time-limit 60 --seed 1 \
        --warm-start heuristic
"""

from __future__ import annotations

import argparse
import subprocess
import time
import warnings

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.errors import PrecisionWarning
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, solve

SPEC = {
    "name": "bench-engine",
    "rules": {
        "balance": [
            {"metric": "potential", "tolerance": 0.05},
            {"metric": "workload", "tolerance": 0.10, "hard": False, "penalty": 10.0},
        ],
        "capacity": True, "locks": True, "families": True,
    },
    "objective": {"travel": 1.0, "travel_weighting": "workload"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000x20,10000x50",
                    help="comma-separated ACCOUNTSxREPS (default 2000x20,10000x50)")
    ap.add_argument("--backends", default="cpsat,milp")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warm-start", default="",
                    help="also run each backend warm-started by this backend (e.g. heuristic) "
                         "for 25 %% of the time limit")
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip() or "unknown"
    print(f"git {rev}; time limit {args.time_limit:g} s; threads {args.threads}; "
          f"seed {args.seed}\n")
    print("| accounts × reps | pairs | compile s | backend | status | solve s | objective "
          "| bound | gap | evaluator |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    spec = ScenarioSpec.from_dict(SPEC)
    for size in args.sizes.split(","):
        n, m = (int(v) for v in size.lower().split("x"))
        g = generate_book(n, m, seed=args.seed)
        scenario = Scenario(spec, g.accounts, g.reps)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrecisionWarning)
            problem = compile(scenario)
        t_compile = time.perf_counter() - t0
        runs = [(b, "") for b in args.backends.split(",")]
        if args.warm_start:
            runs += [(b, args.warm_start) for b in args.backends.split(",")]
        for backend, ws in runs:
            t1 = time.perf_counter()
            extra = {"warm_start_backend": ws} if ws else {}
            res = solve(problem, backend=backend, seed=args.seed, conflicts=False,
                        options=SolveOptions(time_limit=args.time_limit, threads=args.threads,
                                             extra=extra))
            t_solve = time.perf_counter() - t1
            verdict = "—"
            if res.assignment is not None and res.objective is not None:
                ev = evaluate(scenario, decode(problem, res.assignment))
                same = abs(ev.objective.total - res.objective) <= 1e-6 * max(
                    1.0, abs(ev.objective.total))
                verdict = ("ok" if ev.feasible and same
                           else f"FAIL ({ev.hard_count} hard, objective match {same})")
            gap = f"{res.gap * 100:.2f} %" if res.gap is not None else "—"
            obj = f"{res.objective:,.0f}" if res.objective is not None else "—"
            bound = f"{res.bound:,.0f}" if res.bound is not None else "—"
            label = f"{backend} ← {ws}" if ws else backend
            print(f"| {n:,} × {m} | {problem.n_pairs:,} | {t_compile:.2f} | {label} | "
                  f"{res.status.value} | {t_solve:.1f} | {obj} | {bound} | {gap} | {verdict} |",
                  flush=True)


if __name__ == "__main__":
    main()
