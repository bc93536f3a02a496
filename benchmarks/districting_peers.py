"""Districting peers side by side (issue #4): terraplan, GerryChain, PySAL spopt.

Usage::

    python benchmarks/districting_peers.py --time-limit 60 --seeds 0 1 2 \
        --out districting_peers.csv

Instances: the county instances of ``../shared/benchmarks/districting`` (Validi & Buchanan,
±0.5 % population band ``[L, U]``). Tools, one row per (instance, tool, seed):

* ``terraplan`` — :func:`terraplan.solvers.geounit.solve_districting` (CP-SAT, time limit).
* ``gerrychain`` — ``recursive_tree_part`` with ``epsilon=0.005`` around total / k (the
  GerryChain default of up to 100,000 tree draws per split), stopped by SIGALRM at the time
  limit.
* ``spopt_rkm`` / ``spopt_azp`` — PySAL spopt ``RegionKMeansHeuristic`` and ``AZP`` with the same
  k on the standardised unit centroids (lon, lat). spopt enforces contiguity but no population
  balance: its deviation is reported as it comes out.

Every plan goes through the same checker (:func:`check`, independent of every tool): connected
components per district by BFS, population of every district against ``[L, U]``, cut edges
recounted from the edge list. ``feasible`` = one piece per district, k districts, every
population in the band. Ratios are to the terraplan row of the same instance and seed (seed 0
when terraplan was run for fewer seeds). Peers come from the ``[bench]`` extra (``gerrychain``,
``spopt``); a missing one is reported in its rows. Exits 0 with a message when the shared data
is absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "quality"))

from instances import districting_instances, shared_root  # noqa: E402
from run import git_rev  # noqa: E402

from terraplan.solvers.base import SolveOptions  # noqa: E402
from terraplan.solvers.geounit import DistrictingProblem, solve_districting  # noqa: E402

FIELDS = ["instance", "n", "k", "tool", "seed", "status", "feasible", "contiguous",
          "districts", "max_pop_dev_pct", "in_band", "cut_edges", "optimum",
          "cut_ratio_to_optimum", "time_s", "cut_ratio_to_terraplan", "time_ratio_to_terraplan",
          "message", "git_rev", "load_avg_1m"]


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Timeout


def check(pr: DistrictingProblem, labels: np.ndarray | None) -> dict[str, Any]:
    """Independent plan check: BFS pieces per district, band, cut edges recount."""
    if labels is None:
        return {"feasible": False}
    lab = np.asarray(labels, dtype=np.int64)
    nbrs: list[list[int]] = [[] for _ in range(pr.n)]
    cut = 0
    for u, v in pr.edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)
        cut += int(lab[u] != lab[v])
    seen = np.zeros(pr.n, dtype=bool)
    pieces: dict[int, int] = {}
    for s in range(pr.n):
        if seen[s]:
            continue
        pieces[int(lab[s])] = pieces.get(int(lab[s]), 0) + 1
        seen[s] = True
        q = deque([s])
        while q:
            u = q.popleft()
            for w in nbrs[u]:
                if not seen[w] and lab[w] == lab[s]:
                    seen[w] = True
                    q.append(w)
    pops = np.array([pr.population[lab == d].sum() for d in sorted(pieces)])
    ideal = pr.population.sum() / pr.k
    contiguous = all(c == 1 for c in pieces.values())
    in_band = bool(np.all(pops >= pr.lower) and np.all(pops <= pr.upper))
    return {"feasible": contiguous and in_band and len(pieces) == pr.k,
            "contiguous": contiguous, "districts": len(pieces), "in_band": in_band,
            "max_pop_dev_pct": 100.0 * float(np.max(np.abs(pops - ideal))) / ideal,
            "cut_edges": cut}


def run_terraplan(pr: DistrictingProblem, seed: int, tl: float) -> tuple[Any, str]:
    r = solve_districting(pr, backend="cpsat", seed=seed,
                          options=SolveOptions(time_limit=tl, threads=2))
    return r.assignment, r.status.value


def run_gerrychain(pr: DistrictingProblem, seed: int, tl: float) -> tuple[Any, str]:
    import networkx as nx
    from gerrychain import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part

    g = nx.Graph()
    for i, p in enumerate(pr.population.tolist()):
        g.add_node(i, population=p)
    g.add_edges_from(pr.edges.tolist())
    graph = Graph.from_networkx(g)
    target = float(pr.population.sum()) / pr.k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = recursive_tree_part(graph, range(pr.k), target, "population", 0.005, rng=seed)
    lab = np.full(pr.n, -1, dtype=np.int64)
    for node, part in plan.items():  # networkx-backed Graph: node ids are kept
        lab[int(node)] = int(part)
    return lab, "plan"


def _weights(pr: DistrictingProblem) -> Any:
    from libpysal.weights import W

    nb: dict[int, list[int]] = {i: [] for i in range(pr.n)}
    for u, v in pr.edges.tolist():
        nb[u].append(v)
        nb[v].append(u)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W(nb, silence_warnings=True)


def _coords(pr: DistrictingProblem) -> np.ndarray:
    assert pr.x is not None and pr.y is not None
    xy = np.column_stack([pr.x, pr.y])
    return (xy - xy.mean(axis=0)) / xy.std(axis=0)


def run_spopt_rkm(pr: DistrictingProblem, seed: int, tl: float) -> tuple[Any, str]:
    from spopt.region import RegionKMeansHeuristic

    m = RegionKMeansHeuristic(_coords(pr), pr.k, _weights(pr), seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.solve()
    return np.asarray(m.labels_, dtype=np.int64), "plan"


def run_spopt_azp(pr: DistrictingProblem, seed: int, tl: float) -> tuple[Any, str]:
    import pandas as pd
    from spopt.region import AZP

    xy = _coords(pr)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    m = AZP(df, _weights(pr), ["x", "y"], n_clusters=pr.k, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.solve()
    return np.asarray(m.labels_, dtype=np.int64), "plan"


TOOLS: dict[str, Callable[[DistrictingProblem, int, float], tuple[Any, str]]] = {
    "terraplan": run_terraplan, "gerrychain": run_gerrychain,
    "spopt_rkm": run_spopt_rkm, "spopt_azp": run_spopt_azp}


def load1() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return ""


def run_one(tool: str, pr: DistrictingProblem, seed: int, tl: float
            ) -> tuple[Any, str, str, float]:
    """(labels or None, status, message, seconds)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    # terraplan stops itself; the peers get the limit plus a grace second
    signal.setitimer(signal.ITIMER_REAL, tl + (30.0 if tool == "terraplan" else 1.0))
    t0 = time.perf_counter()
    msg = ""
    try:
        lab, status = TOOLS[tool](pr, seed, tl)
    except Timeout:
        lab, status, msg = None, "no_plan", f"stopped at the {tl:g} s limit"
    except ImportError as exc:
        lab, status, msg = None, "not_installed", str(exc)
    except Exception as exc:  # a peer giving up (e.g. GerryChain's balance errors) is a result
        lab, status, msg = None, "no_plan", f"{type(exc).__name__}: {str(exc)[:120]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return lab, status, msg.replace(",", ";"), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="*", default=None)
    ap.add_argument("--tools", nargs="*", default=list(TOOLS), choices=list(TOOLS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--terraplan-seeds", nargs="*", type=int, default=[0],
                    help="seeds for terraplan (the slow one); ratios use the same seed or 0")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("districting_peers.csv"))
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    root = shared_root()
    if root is None:
        print("skipping: public benchmark data not found at ../shared/benchmarks "
              "(set TERRAPLAN_BENCHMARKS to point elsewhere)")
        return 0
    rev = git_rev()
    rows: list[dict[str, str]] = []
    print(",".join(FIELDS), flush=True)
    for inst in districting_instances(root, args.instances):
        pr = inst.problem
        ref: dict[int, tuple[int, float]] = {}
        for tool in (["terraplan"] if "terraplan" in args.tools else []) + [
                t for t in args.tools if t != "terraplan"]:
            seeds = args.terraplan_seeds if tool == "terraplan" else args.seeds
            for seed in seeds:
                lab, status, msg, dt = run_one(tool, pr, seed, args.time_limit)
                c = check(pr, lab)
                row: dict[str, str] = {
                    "instance": inst.name, "n": str(pr.n), "k": str(pr.k), "tool": tool,
                    "seed": str(seed), "status": status, "message": msg,
                    "feasible": str(c["feasible"]),
                    "optimum": str(inst.optimal_cut_edges), "time_s": f"{dt:.2f}",
                    "git_rev": rev, "load_avg_1m": load1()}
                if lab is not None:
                    row.update({"contiguous": str(c["contiguous"]),
                                "districts": str(c["districts"]),
                                "max_pop_dev_pct": f"{c['max_pop_dev_pct']:.3f}",
                                "in_band": str(c["in_band"]), "cut_edges": str(c["cut_edges"]),
                                "cut_ratio_to_optimum":
                                    f"{c['cut_edges'] / inst.optimal_cut_edges:.3f}"})
                    if tool == "terraplan":
                        ref[seed] = (c["cut_edges"], dt)
                base = ref.get(seed, ref.get(0))
                if base is not None:
                    row["time_ratio_to_terraplan"] = f"{dt / base[1]:.3f}"
                    if lab is not None:
                        row["cut_ratio_to_terraplan"] = f"{c['cut_edges'] / base[0]:.3f}"
                rows.append(row)
                print(",".join(row.get(f, "") for f in FIELDS), flush=True)
    new = not args.out.exists()
    with args.out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerows(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    print(f"# {len(rows)} row(s) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
