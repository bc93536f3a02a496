"""Readers for the public instances in ``../shared/benchmarks`` (see its README.md).

* OR-Library ``pmedcap1.txt`` (20 CPMP blocks, distance = floor(euclidean));
* Lorena & Senne ``.dat`` (first line ``n p``, then ``x y capacity demand``; real euclidean);
* Validi & Buchanan districting JSON (nodes with population, edges with shared perimeter).

The data is never copied into the repository; :func:`shared_root` finds it next to the repo.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from terraplan.solvers.carve import CarveProblem
from terraplan.solvers.geounit import DistrictingProblem

REPO = Path(__file__).resolve().parents[2]


def shared_root() -> Path | None:
    """``../shared/benchmarks`` relative to the repository root (or $TERRAPLAN_BENCHMARKS)."""
    env = os.environ.get("TERRAPLAN_BENCHMARKS")
    p = Path(env) if env else REPO.parent / "shared" / "benchmarks"
    return p if p.is_dir() else None


@dataclass(frozen=True)
class CpmpInstance:
    name: str
    problem: CarveProblem
    best_known: float
    optimal: bool


def read_orlib(path: Path) -> list[tuple[int, float, CarveProblem]]:
    """All blocks of an OR-Library ``pmedcap`` file: (problem number, header value, problem)."""
    tok = path.read_text().split()
    count, pos = int(tok[0]), 1
    out = []
    for _ in range(count):
        num, best = int(tok[pos]), float(tok[pos + 1])
        n, p, cap = int(tok[pos + 2]), int(tok[pos + 3]), float(tok[pos + 4])
        pos += 5
        a = np.array(tok[pos:pos + 4 * n], dtype=np.float64).reshape(n, 4)
        pos += 4 * n
        if not np.array_equal(a[:, 0], np.arange(1, n + 1)):
            raise ValueError(f"{path}: block {num} nodes are not numbered 1..{n}")
        out.append((num, best, CarveProblem.from_points(
            a[:, 1], a[:, 2], a[:, 3], p, cap, metric="floor_euclidean",
            name=f"pmedcap1_{num:02d}")))
    return out


def read_lorena_senne(path: Path) -> CarveProblem:
    """A Lorena-Senne ``.dat`` file (real euclidean distances)."""
    tok = path.read_text().split()
    n, p = int(tok[0]), int(tok[1])
    a = np.array(tok[2:2 + 4 * n], dtype=np.float64).reshape(n, 4)
    return CarveProblem.from_points(a[:, 0], a[:, 1], a[:, 3], p, a[:, 2], metric="euclidean",
                                    name=path.stem)


def cpmp_instances(root: Path, names: list[str] | None = None,
                   include_p3038: bool = False) -> list[CpmpInstance]:
    """Instances listed in ``cpmp/best_known.csv`` (p3038 only on request)."""
    with (root / "cpmp" / "best_known.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    orlib = {f"pmedcap1_{num:02d}": pr for num, _, pr in read_orlib(
        root / "cpmp" / "orlib" / "pmedcap1.txt")}
    out = []
    for row in rows:
        name = row["instance"]
        if names and name not in names:
            continue
        if not names and name.startswith("p3038") and not include_p3038:
            continue
        pr = orlib[name] if name in orlib else read_lorena_senne(root / "cpmp" / row["file"])
        out.append(CpmpInstance(name, pr, float(row["best_known"]), row["status"] == "optimal"))
    return out


@dataclass(frozen=True)
class DistrictingInstance:
    name: str
    problem: DistrictingProblem
    optimal_cut_edges: int
    level: str


def read_districting(path: Path) -> DistrictingProblem:
    d = json.loads(path.read_text())
    nodes = d["nodes"]
    if [nd["id"] for nd in nodes] != list(range(len(nodes))):
        raise ValueError(f"{path}: node ids are not 0..n-1")
    e = np.array([[u, v] for u, v, _ in d["edges"]], dtype=np.int64).reshape(-1, 2)
    w = np.array([pw for _, _, pw in d["edges"]], dtype=np.float64)
    return DistrictingProblem.from_edges(
        population=np.array([nd["pop"] for nd in nodes], dtype=np.float64), edges=e,
        k=int(d["k"]), lower=float(d["L"]), upper=float(d["U"]), edge_weights=w,
        x=np.array([nd["lon"] for nd in nodes]), y=np.array([nd["lat"] for nd in nodes]),
        unit_ids=tuple(str(nd["geoid"]) for nd in nodes), name=d["name"])


def districting_instances(root: Path, names: list[str] | None = None,
                          level: str | None = "county") -> list[DistrictingInstance]:
    with (root / "districting" / "instances.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        if names and row["instance"] not in names:
            continue
        if not names and level and row["level"] != level:
            continue
        out.append(DistrictingInstance(
            row["instance"], read_districting(root / "districting" / row["file"]),
            int(row["min_cut_edges_contiguous"]), row["level"]))
    return out


def reference_cpmp(root: Path) -> dict[str, list[int]]:
    return json.loads((root / "cpmp" / "reference_solutions.json").read_text())["solutions"]


def reference_districting(root: Path) -> dict[str, list[int]]:
    return json.loads((root / "districting" / "reference_plans.json").read_text())["plans"]
