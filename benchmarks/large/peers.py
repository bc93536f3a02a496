"""Peers side by side with the heuristic on one generated book, reported as ratios.

Usage::

    python benchmarks/large/peers.py --accounts 10000 --reps 50 --seed 1 --time-limit 60

Same book and spec as ``run_large.py`` (balance on potential and workload at ±3 %, hard;
eligibility by segment × vertical × region; capacity). Runs, each re-checked by the evaluator:

* ``heuristic`` — terraplan's heuristic backend;
* ``kmeans+greedy`` — per eligibility pool, scikit-learn KMeans with one cluster per rep on the
  account coordinates, clusters matched to reps by the Hungarian method on centroid–home
  distance, then a greedy capacity fill (each account to its cluster's rep if eligible and with
  room, else to the nearest eligible rep with room);
* ``pulp-cbc`` / ``pulp-highs`` — one monolithic PuLP model (terraplan's MILP formulation) solved
  by CBC and by HiGHS with the same time limit.

For each: status, hard violations (evaluator), worst relative deviation from target per metric,
travel objective, time, and ratios to the heuristic (objective and time) and gap to the LP bound.
Peer packages are benchmark-only (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from typing import Any

import numpy as np

from terraplan.domain import Scenario, ScenarioSpec
from terraplan.evaluate import evaluate
from terraplan.io.generator import generate_book
from terraplan.problem import ProblemData, compile, decode, hard_violations, objective
from terraplan.solvers import SolveOptions, solve
from terraplan.solvers.bounds import lp_bound


def worst_dev(p: ProblemData, ia: np.ndarray) -> dict[str, float]:
    out = {}
    for b, metric in enumerate(p.balance_metric):
        tot = p.rep_totals(ia, int(p.balance_q[b]))
        t = p.target[b]
        ok = p.rep_active & (t > 0)
        out[metric] = round(float(np.max(np.abs(tot[ok] - t[ok]) / t[ok])), 4)
    return out


def kmeans_greedy(p: ProblemData, sc: Scenario, seed: int) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment
    from sklearn.cluster import KMeans

    book = sc.accounts
    xy = np.column_stack([book.x, book.y])
    xy = np.nan_to_num(xy, nan=0.0)
    homes = np.array([[r.home.x, r.home.y] if r.home else [0.0, 0.0] for r in sc.reps])
    ia = np.full(p.n_items, -1, dtype=np.int64)
    root_xy = xy[p.item_root]
    cap = np.where(np.isfinite(p.rep_capacity), p.rep_capacity, np.inf).copy()
    wl = p.item_metric[0]
    for pool in range(p.n_pools):
        items = np.flatnonzero(p.item_pool == pool)
        reps = np.flatnonzero(p.rep_pool == pool)
        if not len(items) or not len(reps):
            continue
        k = min(len(reps), len(items))
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(root_xy[items])
        cost = np.linalg.norm(km.cluster_centers_[:, None, :] - homes[reps][None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        cluster_rep = np.full(k, -1)
        cluster_rep[rows] = reps[cols]
        want = cluster_rep[km.labels_]
        for t, r in zip(items.tolist(), want.tolist(), strict=True):
            cands = p.candidates(t)
            pc = p.pair_cost[p.indptr[t]:p.indptr[t + 1]]
            choice = -1
            if r in cands and cap[r] >= wl[t]:
                choice = r
            else:
                for j in np.argsort(pc, kind="stable").tolist():
                    if cap[cands[j]] >= wl[t]:
                        choice = int(cands[j])
                        break
            if choice < 0:
                choice = int(cands[np.argmin(pc)])
            ia[t] = choice
            cap[choice] -= wl[t]
    return ia


def pulp_solve(p: ProblemData, solver: str, time_limit: float) -> tuple[str, np.ndarray | None]:
    import pulp

    from terraplan.solvers.milp.model import build

    ctx = build(p)
    s = (pulp.PULP_CBC_CMD(timeLimit=time_limit, msg=False, threads=1) if solver == "cbc"
         else pulp.HiGHS(timeLimit=time_limit, msg=False, threads=1))
    ctx.lp.solve(s)
    vals = np.array([v.varValue if v.varValue is not None else 0.0 for v in ctx.x])
    if not np.any(vals > 0.5):
        return pulp.LpStatus[ctx.lp.status], None
    chosen = np.flatnonzero(vals > 0.5)
    ia = np.full(p.n_items, -1, dtype=np.int64)
    ia[p.pair_item[chosen]] = p.indices[chosen]
    return pulp.LpStatus[ctx.lp.status], ia


def row(name: str, p: ProblemData, sc: Scenario, ia: np.ndarray | None, secs: float,
        extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"run": name, "s": round(secs, 2), **extra}
    if ia is None or np.any(ia < 0):
        out["plan"] = False
        return out
    out["plan"] = True
    out["solver_side_violations"] = len(hard_violations(p, ia))
    a = p.account_assignment(ia)
    ev = evaluate(sc, decode(p, a))
    out["evaluator_hard"] = ev.hard_count
    out["objective"] = objective(p, ia) if p.pair_index(ia).min() >= 0 else None
    out["worst_dev"] = worst_dev(p, ia)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--skip", default="", help="comma list of runs to skip")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    g = generate_book(args.accounts, args.reps, seed=args.seed)
    spec = ScenarioSpec.from_dict({"rules": {"balance": [
        {"metric": "potential", "tolerance": 0.03}, {"metric": "workload", "tolerance": 0.03}]}})
    sc = Scenario(spec=spec, accounts=g.accounts, reps=g.reps)
    p = compile(sc)
    b = lp_bound(p, time_limit=600, max_pairs=10**9)
    print(json.dumps({"run": "lp_bound", "value": b.value, "optimal": b.optimal,
                      "s": round(b.runtime, 2), "git": rev, "accounts": args.accounts,
                      "reps": args.reps, "seed": args.seed}), flush=True)
    rows = []
    t = time.perf_counter()
    r = solve(p, backend="heuristic", seed=args.seed, explain=False,
              options=SolveOptions(time_limit=args.time_limit))
    ia = None if r.assignment is None else p.item_assignment(r.assignment)
    rows.append(row("heuristic", p, sc, ia, time.perf_counter() - t, {"status": r.status.value}))
    if "kmeans" not in skip:
        t = time.perf_counter()
        ia = kmeans_greedy(p, sc, args.seed)
        rows.append(row("kmeans+greedy", p, sc, ia, time.perf_counter() - t, {}))
    for solver in ("cbc", "highs"):
        if f"pulp-{solver}" in skip:
            continue
        t = time.perf_counter()
        st, ia = pulp_solve(p, solver, args.time_limit)
        rows.append(row(f"pulp-{solver}", p, sc, ia, time.perf_counter() - t, {"status": st}))
    base = rows[0]
    for rw in rows:
        if rw.get("objective") and b.optimal:
            rw["over_lp_bound"] = round((rw["objective"] - b.value) / b.value, 4)
        if rw.get("objective") and base.get("objective"):
            rw["objective_ratio_vs_heuristic"] = round(rw["objective"] / base["objective"], 4)
        rw["time_ratio_vs_heuristic"] = round(rw["s"] / max(base["s"], 1e-9), 3)
        print(json.dumps(rw), flush=True)


if __name__ == "__main__":
    main()
