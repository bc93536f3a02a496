"""Regenerate the sample data of ``scenarios/carve`` and ``scenarios/geo_unit`` (deterministic).

    python scenarios/make_territory_examples.py

Both use the seeded generator (:func:`terraplan.io.generator.generate_book`, planar km, no
locked accounts). ``geo_unit`` keeps only the first three digits of every postal code
(ZIP3 areas), so its 300 accounts fall into a few dozen geographic units, and gets a supplied
adjacency ``geo_unit/adjacency.csv`` (``unit_a, unit_b, shared_perimeter``): the areas are
drawn as the Voronoi cells of their centroids (mean account location) clipped to the accounts'
bounding box, and two areas are neighbours when their cells share a border of positive length,
weighted by its length in km (shapely; rounded to metres, so the file is byte-stable).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from terraplan.geo.adjacency import from_geojson
from terraplan.io.generator import generate_book, write_book

HERE = Path(__file__).resolve().parent


def main() -> None:
    carve = generate_book(300, 6, 7, coord_system="planar", locked_share=0.0)
    write_book(carve, HERE / "carve")
    geo = generate_book(300, 6, 7, coord_system="planar", locked_share=0.0)
    accounts, _ = write_book(geo, HERE / "geo_unit")
    with accounts.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("postal_code")
    for row in rows[1:]:
        row[col] = row[col][:3]
    with accounts.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    write_voronoi_adjacency(rows, HERE / "geo_unit" / "adjacency.csv")


def write_voronoi_adjacency(rows: list[list[str]], out: Path) -> None:
    """Edge list of the Voronoi cells of the unit centroids (see the module docstring)."""
    import shapely
    from shapely.geometry import MultiPoint, box, mapping

    head = rows[0]
    iu, ix, iy = head.index("postal_code"), head.index("x"), head.index("y")
    units = sorted({r[iu] for r in rows[1:]})
    xy = np.asarray([[float(r[ix]), float(r[iy])] for r in rows[1:]])
    code = np.asarray([units.index(r[iu]) for r in rows[1:]])
    cx = np.bincount(code, weights=xy[:, 0]) / np.bincount(code)
    cy = np.bincount(code, weights=xy[:, 1]) / np.bincount(code)
    frame = box(xy[:, 0].min() - 1, xy[:, 1].min() - 1, xy[:, 0].max() + 1, xy[:, 1].max() + 1)
    cells = shapely.voronoi_polygons(MultiPoint(np.stack([cx, cy], axis=1)), extend_to=frame)
    feats = []
    for cell in cells.geoms:  # match each cell to the centroid it contains
        k = next(i for i in range(len(units))
                 if cell.contains(shapely.Point(cx[i], cy[i])))
        feats.append({"type": "Feature", "properties": {"unit_id": units[k]},
                      "geometry": mapping(cell.intersection(frame))})
    g = from_geojson({"type": "FeatureCollection", "features": feats}, "unit_id")
    pairs = sorted((min(g.unit_ids[a], g.unit_ids[b]), max(g.unit_ids[a], g.unit_ids[b]), w)
                   for (a, b), w in zip(g.edges.tolist(), g.weights.tolist(), strict=True))
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["unit_a", "unit_b", "shared_perimeter"])
        w.writerows([a, b, f"{p:.3f}"] for a, b, p in pairs)


if __name__ == "__main__":
    main()
