"""Quality protocol over the public instances: one CSV row per (instance, backend, seed) run.

Usage::

    python benchmarks/quality/run.py --family cpmp --backend milp --time-limit 30 \
        --seed 0 --out cpmp_milp.csv
    python benchmarks/quality/run.py --family districting --backend cpsat --time-limit 60 \
        --instances ME_county NM_county --out districting.csv
    python benchmarks/quality/run.py --family cpmp --backend heuristic --time-limit 300 \
        --instances p3038_600 --out p3038.csv

Every plan is re-checked independently of the backend (capacity/median rules for CPMP;
contiguity by connected components, population band and cut edges for districting) and its
objective is recomputed before it is written. Exits 0 with a message when ``../shared/benchmarks``
is absent.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instances import (  # noqa: E402
    REPO,
    cpmp_instances,
    districting_instances,
    shared_root,
)

from terraplan.solvers.base import SolveOptions  # noqa: E402
from terraplan.solvers.carve import medians_from, solve_carve  # noqa: E402
from terraplan.solvers.geounit import solve_districting  # noqa: E402

FIELDS = ["instance", "family", "backend", "seed", "time_limit", "status", "objective", "bound",
          "solver_gap_pct", "best_known", "gap_to_best_known_pct", "time_s", "checked",
          "cut_edges", "cut_perimeter", "max_pop_dev_pct", "contiguous", "git_rev"]


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(v: float | None, nd: int = 2) -> str:
    return "" if v is None else f"{v:.{nd}f}"


def run_cpmp(args: argparse.Namespace, root: Path, rev: str) -> list[dict[str, str]]:
    rows = []
    for inst in cpmp_instances(root, args.instances, include_p3038=args.include_p3038):
        r = solve_carve(inst.problem, backend=args.backend, seed=args.seed,
                        options=SolveOptions(time_limit=args.time_limit, threads=args.threads))
        checked = ""
        if r.assignment is not None and r.centres is not None:
            med = medians_from(r.assignment, r.centres)
            broken = inst.problem.violations(med)
            checked = "ok" if not broken else "BROKEN: " + "; ".join(broken[:2])
        obj = inst.problem.objective(medians_from(r.assignment, r.centres)) if (
            r.assignment is not None and r.centres is not None) else None
        gap_bk = None if obj is None else 100.0 * (obj - inst.best_known) / inst.best_known
        rows.append({
            "instance": inst.name, "family": "cpmp", "backend": args.backend,
            "seed": str(args.seed), "time_limit": str(args.time_limit),
            "status": r.status.value, "objective": fmt(obj), "bound": fmt(r.bound),
            "solver_gap_pct": fmt(None if r.gap is None else 100 * r.gap, 3),
            "best_known": fmt(inst.best_known), "gap_to_best_known_pct": fmt(gap_bk, 3),
            "time_s": fmt(r.runtime), "checked": checked, "git_rev": rev})
        print(",".join(rows[-1].get(f, "") for f in FIELDS), flush=True)
    return rows


def run_districting(args: argparse.Namespace, root: Path, rev: str) -> list[dict[str, str]]:
    if args.backend == "heuristic":
        raise SystemExit("--backend heuristic is for --family cpmp only")
    rows = []
    level = None if args.instances else args.level
    for inst in districting_instances(root, args.instances, level=level):
        pr = inst.problem
        r = solve_districting(pr, backend=args.backend, seed=args.seed,
                              options=SolveOptions(time_limit=args.time_limit,
                                                   threads=args.threads))
        row = {"instance": inst.name, "family": "districting", "backend": args.backend,
               "seed": str(args.seed), "time_limit": str(args.time_limit),
               "status": r.status.value, "bound": fmt(r.bound, 0),
               "solver_gap_pct": fmt(None if r.gap is None else 100 * r.gap, 3),
               "best_known": str(inst.optimal_cut_edges), "time_s": fmt(r.runtime),
               "git_rev": rev}
        if r.assignment is not None:
            plan = np.asarray(r.assignment)
            broken = pr.violations(plan)
            cut = pr.cut_edges(plan)
            pops = np.bincount(plan, weights=pr.population, minlength=pr.k)
            ideal = pr.population.sum() / pr.k
            row.update({
                "objective": fmt(pr.objective(plan), 4), "cut_edges": str(cut),
                "cut_perimeter": fmt(pr.cut_perimeter(plan), 4),
                "gap_to_best_known_pct": fmt(100.0 * (cut - inst.optimal_cut_edges)
                                             / inst.optimal_cut_edges, 2),
                "max_pop_dev_pct": fmt(100.0 * float(np.max(np.abs(pops - ideal))) / ideal, 3),
                "contiguous": str(pr.is_contiguous(plan)),
                "checked": "ok" if not broken else "BROKEN: " + "; ".join(broken[:2])})
        rows.append(row)
        print(",".join(row.get(f, "") for f in FIELDS), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=["cpmp", "districting"], required=True)
    ap.add_argument("--instances", nargs="*", default=None,
                    help="instance names (default: pmedcap1 + SJC, or the county instances)")
    ap.add_argument("--backend", choices=["milp", "cpsat", "heuristic"], default="milp",
                    help="'heuristic' (cpmp only): location-allocation + LNS for large books")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--level", choices=["county", "tract"], default="county",
                    help="districting instances to run when --instances is not given")
    ap.add_argument("--include-p3038", action="store_true",
                    help="also run the n=3038 CPMP instances (heuristic territory)")
    ap.add_argument("--out", type=Path, default=Path("results.csv"))
    args = ap.parse_args(argv)
    root = shared_root()
    if root is None:
        print("skipping: public benchmark data not found at ../shared/benchmarks "
              "(set TERRAPLAN_BENCHMARKS to point elsewhere)")
        return 0
    rev = git_rev()
    print(",".join(FIELDS), flush=True)
    t0 = time.perf_counter()
    rows = (run_cpmp if args.family == "cpmp" else run_districting)(args, root, rev)
    new = not args.out.exists()
    with args.out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerows(rows)
    print(f"# {len(rows)} run(s) in {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
