"""The geo-unit fixture of :mod:`territoryfixtures` as real files, with a supplied adjacency.

Units Z0 (0, 0), Z1 (1, 0), Z2 (0, 1), Z3 (1, 1), two accounts of $100 each, two districts of
exactly $400. The supplied edge list is the path Z0 - Z1 - Z3 - Z2 (no Z0 - Z2 border), with
shared perimeters 1, 2, 3. Under it the only contiguous split is {Z0, Z1} | {Z2, Z3} (one cut
edge, perimeter 2), while the Delaunay triangulation of the centroids (the square's four sides
plus a diagonal) also allows {Z0, Z2} | {Z1, Z3}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from terraplan.io.generator import write_book
from territoryfixtures import GEO_SPEC, geo_scenario

PATH_EDGES = "unit_a,unit_b,shared_perimeter\nZ0,Z1,1\nZ1,Z3,2\nZ3,Z2,3\n"


def write_geo_files(folder: Path, *, adjacency: str | None = "edges.csv",
                    edges: str = PATH_EDGES, spec: dict[str, Any] | None = None) -> Path:
    """Write accounts.csv, reps.csv, ``adjacency`` (when a file name) and spec.yaml; return the
    spec's path."""
    folder.mkdir(parents=True, exist_ok=True)
    sc = geo_scenario()
    write_book((sc.accounts, sc.reps), folder)
    doc = dict(spec or GEO_SPEC)
    inputs = {**doc.get("inputs", {}), "accounts": "accounts.csv", "reps": "reps.csv"}
    if adjacency is not None:
        inputs["adjacency"] = adjacency
        if adjacency.endswith(".csv"):
            (folder / adjacency).write_text(edges, encoding="utf-8")
    doc["inputs"] = inputs
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def unit_districts(scenario: Any, plan: Any) -> set[frozenset[str]]:
    """The plan's districts as sets of unit ids."""
    book = scenario.accounts
    owners = plan.aligned(book, scenario.reps)
    units = book.postal_code.categories
    out: dict[int, set[str]] = {}
    for i, r in enumerate(owners.tolist()):
        out.setdefault(r, set()).add(str(units[book.postal_code.codes[i]]))
    return {frozenset(v) for v in out.values()}
