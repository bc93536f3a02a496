"""Large-book benchmark: the heuristic backend vs a lower bound, plus a one-departure rebalance.

Usage::

    python benchmarks/large/run_large.py --accounts 10000 --reps 50 --time-limit 5 [--seed 1]
    python benchmarks/large/run_large.py --accounts 100000 --reps 500 --time-limit 60 --rebalance
    python benchmarks/large/run_large.py --accounts 1000000 --reps 2000 --max-candidates 20 \\
        --time-limit 420 --bound-time 30 --jsonl /tmp/run_large_1m.jsonl

Book: :func:`terraplan.io.generator.generate_book` (seed given), balance on potential and
workload at ±3 % (hard), eligibility by segment × vertical × region, capacity on. Every plan is
re-checked by :func:`terraplan.evaluate.evaluate` (hard violations, objective recomputed).

Output: one JSON row per phase (generate, each compile phase, heuristic progress every
``--progress-every`` seconds, solve, evaluate, bounds, summary), printed and appended to
``--jsonl`` as soon as the phase ends, each with the elapsed wall time, the process's peak RSS so
far (``VmHWM``) and its current RSS, so a run killed part-way still leaves its figures.

``--max-candidates K`` compiles each account's current owner plus its K nearest eligible reps
only. The heuristic then solves that *restricted* problem and its bound (``bound_restricted``)
bounds only the restricted problem. The reported ``bound`` is then the Lagrangian of the
**full** problem (every eligible pair, priced in chunks by
:func:`terraplan.solvers.decompose.full_lagrangian_bound`) at multipliers found by
``--bound-time`` seconds of subgradient on the restricted problem: valid for the real problem.
Without ``--max-candidates`` the heuristic's own bound is already one of the full problem.

With ``--pool-workers N`` the pools are solved in N processes (``solve_decomposed``); the
summary's ``memory_gb`` is then this process's peak plus N times the largest worker's peak (an
upper bound: pages the workers share with this process are counted again).

``--mmap-threshold`` makes glibc serve every block above 1 MiB by mmap (``mallopt``), so freed
temporaries leave RSS at once: about 0.3 GB less RSS at 1M accounts, but chunked compilation
runs up to 2-3x slower (fresh pages fault in for every chunk), so it is off by default.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import compile, decode
from terraplan.solvers import SolveOptions, solve
from terraplan.solvers.base import Progress, relative_gap
from terraplan.solvers.bounds import lagrangian_bound, lp_bound
from terraplan.solvers.decompose import full_lagrangian_bound, solve_decomposed

GB = 1024 ** 3

#: Points of the ray s·(μ, ν) where the full-problem Lagrangian is evaluated (s = 0: the sum of
#: each item's cheapest pair); multipliers of the restricted problem overshoot on the full one.
SCALES = (0.0, 0.03, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def memory_gb() -> tuple[float, float]:
    """(peak RSS, current RSS) of this process in GiB (``/proc/self/status``; ``getrusage``
    for the peak elsewhere)."""
    peak = cur = -1.0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024 / GB
                elif line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) * 1024 / GB
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    return peak, cur


def peak_gb() -> float:
    return memory_gb()[0]


def set_mmap_threshold(nbytes: int) -> bool:
    """glibc: serve allocations above ``nbytes`` by mmap (freed at once), not the heap."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, nbytes))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


class Recorder:
    """Prints each row as one JSON line and appends it to a JSONL file, flushing both."""

    def __init__(self, path: str | None, common: dict[str, Any]) -> None:
        self.t0 = time.perf_counter()
        self.common = common
        self.fh = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "a")  # noqa: SIM115 - kept open for the whole run

    def row(self, run: str, **fields: Any) -> dict[str, Any]:
        peak, cur = memory_gb()
        out = {"run": run, **fields, "elapsed_s": round(time.perf_counter() - self.t0, 2),
               "peak_gb": round(peak, 3), "rss_gb": round(cur, 3),
               "load_avg_1m": os.getloadavg()[0], **self.common}
        line = json.dumps(out)
        print(line, flush=True)
        if self.fh is not None:
            self.fh.write(line + "\n")
            self.fh.flush()
        return out


class PhaseLog(logging.Handler):
    """Turns :func:`terraplan.problem.compile`'s DEBUG phase records into rows."""

    def __init__(self, rec: Recorder) -> None:
        super().__init__(logging.DEBUG)
        self.rec = rec

    def emit(self, record: logging.LogRecord) -> None:
        phase = getattr(record, "phase", None)
        if phase is not None:
            self.rec.row("phase", phase=f"compile:{phase}", s=round(float(record.args[1]), 2))  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=5.0, help="heuristic time limit (s)")
    ap.add_argument("--tolerance", type=float, default=0.03, help="balance band (both metrics)")
    ap.add_argument("--max-candidates", type=int, default=None,
                    help="compile only each account's owner + K nearest eligible reps")
    ap.add_argument("--bound-time", type=float, default=30.0,
                    help="with --max-candidates: subgradient seconds for the full-problem bound")
    ap.add_argument("--no-full-bound", action="store_true",
                    help="with --max-candidates: skip the full-problem bound")
    ap.add_argument("--progress-every", type=float, default=30.0)
    ap.add_argument("--jsonl", default=None, help="append every row to this file")
    ap.add_argument("--mmap-threshold", action="store_true")
    ap.add_argument("--lp-bound", action="store_true", help="also solve the full LP bound")
    ap.add_argument("--rebalance", action="store_true", help="also rebalance one departure")
    ap.add_argument("--pool-workers", type=int, default=0,
                    help="solve the eligibility pools in this many processes at once "
                         "(solve_decomposed, one thread each; no progress rows)")
    args = ap.parse_args()
    mmap = set_mmap_threshold(1 << 20) if args.mmap_threshold else False
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    rec = Recorder(args.jsonl, {"accounts": args.accounts, "reps": args.reps, "git": rev})
    rec.row("start", seed=args.seed, time_limit=args.time_limit, tolerance=args.tolerance,
            max_candidates=args.max_candidates, mmap_threshold_1mib=mmap)
    t_all = time.perf_counter()

    t = time.perf_counter()
    g = generate_book(args.accounts, args.reps, seed=args.seed)
    rec.row("phase", phase="generate", s=round(time.perf_counter() - t, 2))
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": args.tolerance},
        {"metric": "workload", "tolerance": args.tolerance}]}})
    sc = Scenario(spec=spec, accounts=g.accounts, reps=g.reps)
    plog = logging.getLogger("terraplan.problem")
    handler = PhaseLog(rec)
    plog.addHandler(handler)
    plog.setLevel(logging.DEBUG)
    t = time.perf_counter()
    p = compile(sc, max_candidates=args.max_candidates)
    plog.removeHandler(handler)
    pair_bytes = sum(a.nbytes for a in (p.indices, p.pair_item, p.pair_travel, p.pair_moved,
                                        p.pair_moved_potential, p.pair_move_units, p.pair_cost))
    rec.row("phase", phase="compile", s=round(time.perf_counter() - t, 2), items=p.n_items,
            pairs=p.n_pairs, pairs_eligible=int(p.stats["pairs_eligible"]),
            pools=p.n_pools, pair_array_gb=round(pair_bytes / GB, 3),
            bytes_per_pair=round(pair_bytes / max(p.n_pairs, 1), 1))

    b = None
    if args.lp_bound:  # before the solve: the full LP relaxation, all pools, no size cap
        t = time.perf_counter()
        b = lp_bound(p, time_limit=600, max_pairs=10**9)
        rec.row("lp_bound", value=b.value, method=b.method, optimal=b.optimal,
                s=round(time.perf_counter() - t, 2))

    last = [time.perf_counter()]

    def progress(ev: Progress) -> None:
        if time.perf_counter() - last[0] >= args.progress_every:
            last[0] = time.perf_counter()
            rec.row("progress", solve_elapsed_s=round(ev.elapsed, 1), objective=ev.objective,
                    message=ev.message)

    t = time.perf_counter()
    if args.pool_workers > 0:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.pool_workers) as ex:
            r = solve_decomposed(p, backend="heuristic", seed=args.seed, mapper=ex.map,
                                 workers=args.pool_workers,
                                 options=SolveOptions(time_limit=args.time_limit, threads=1))
    else:
        r = solve(p, backend="heuristic", seed=args.seed, callbacks=[progress],
                  options=SolveOptions(time_limit=args.time_limit), explain=False,
                  conflicts=False)
    wall = time.perf_counter() - t
    restricted = args.max_candidates is not None
    solve_row = {"status": r.status.value, "objective": r.objective,
                 ("bound_restricted" if restricted else "bound"): r.bound,
                 ("gap_restricted" if restricted else "gap"): r.gap,
                 "solve_s": round(wall, 2), "message": r.message}
    if b is not None and b.optimal and r.objective is not None:
        solve_row["over_lp_bound"] = (r.objective - b.value) / b.value
    rec.row("solve", **solve_row)
    ev_hard = None
    if r.assignment is not None:
        t = time.perf_counter()
        ev = evaluate(sc, decode(p, r.assignment))
        ev_hard = ev.hard_count
        rec.row("evaluate", evaluator_hard=ev.hard_count,
                evaluator_objective=ev.objective.total,
                objective_rel_diff=abs(ev.objective.total - (r.objective or 0.0))
                / max(abs(ev.objective.total), 1e-9), s=round(time.perf_counter() - t, 2))

    bound, bound_how = (None, "none") if restricted else (r.bound, "heuristic (full problem)")
    if restricted and not args.no_full_bound:
        t = time.perf_counter()
        ub = r.objective if r.objective is not None else 1.2 * float(
            np.minimum.reduceat(p.pair_cost, p.indptr[:-1]).sum())
        lb, mu, nu = lagrangian_bound(p, iterations=10**6, time_limit=args.bound_time,
                                      upper_estimate=ub)
        t_mult = time.perf_counter() - t
        rec.row("restricted_lagrangian", value=lb.value, iterations=lb.stats.get("iterations"),
                s=round(t_mult, 2), note=f"bounds only the K={args.max_candidates} problem")
        t = time.perf_counter()
        full = full_lagrangian_bound(p, mu, nu, scales=SCALES)
        bound, bound_how = full, (f"Lagrangian of the full problem (all eligible pairs: dropped "
                                  f"ones by cost floors, families priced exactly), best of "
                                  f"s·(μ, ν) for s in {list(SCALES)}, (μ, ν) from "
                                  f"{lb.stats.get('iterations', 0):.0f} subgradient steps on "
                                  f"the K={args.max_candidates} problem")
        rec.row("full_bound", value=full, s=round(time.perf_counter() - t, 2))
    total = time.perf_counter() - t_all
    peak = peak_gb()
    if args.pool_workers > 0:
        # the workers' memory is not in this process's peak: bound it from above by the
        # largest worker's peak once per worker (shared copy-on-write pages counted each time)
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GB
        rec.row("workers", largest_worker_peak_gb=round(child, 3), workers=args.pool_workers)
        peak += args.pool_workers * child
    rec.row("summary", total_s=round(total, 1), status=r.status.value, objective=r.objective,
            evaluator_hard=ev_hard, bound=bound, bound_method=bound_how,
            gap=relative_gap(r.objective, bound), max_candidates=args.max_candidates,
            memory_gb=round(peak, 3), time_ok=total <= 600, memory_ok=peak <= 16,
            rules_ok=ev_hard == 0)

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
        out: dict[str, Any] = {"departed": dep, "departed_book": book,
                               "status": rb.status.value, "moved": len(rb.moves),
                               "allowed": book + rest // 100, "rebalance_s": round(wall, 2),
                               "message": rb.message}
        if rb.plan is not None:
            out["evaluator_hard"] = evaluate(rb.scenario, rb.plan).hard_count
        rec.row("rebalance", **out)


if __name__ == "__main__":
    main()
