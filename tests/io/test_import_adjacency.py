"""``inputs.adjacency``: edge lists (CSV, Parquet) and GeoJSON polygons, validated like every
other input (every bad row reported with row, column and value)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adjacencyfixtures import PATH_EDGES, write_geo_files
from terraplan.domain import Plan, ScenarioSpec
from terraplan.errors import InputValidationError
from terraplan.evaluate import evaluate
from terraplan.io import load_scenario, read_adjacency, validate_inputs

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "geo_unit"
UNITS = ("Z0", "Z1", "Z2", "Z3")


def test_the_geo_unit_example_loads_its_supplied_edge_list() -> None:
    sc, _ = load_scenario(EXAMPLE / "spec.yaml")
    assert sc.units is not None
    with (EXAMPLE / "adjacency.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids = list(sc.units.unit_ids)
    assert ids == list(sc.accounts.postal_code.categories)  # the accounts' units, in order
    got = {tuple(sorted((ids[a], ids[b]))): w for (a, b), w in zip(sc.units.edges.tolist(),
                                                    np.asarray(sc.units.weights).tolist(),
                                                    strict=True)}
    want = {(min(r["unit_a"], r["unit_b"]), max(r["unit_a"], r["unit_b"])):
            float(r["shared_perimeter"]) for r in rows}
    assert len(rows) == len(got) == 192 and got == want
    assert sc.units.edges.shape == (192, 2) and np.all(sc.units.edges[:, 0] < sc.units.edges[:, 1])


def test_delaunay_or_no_adjacency_leaves_units_empty(tmp_path: Path) -> None:
    for name, adjacency in (("none", None), ("delaunay", "delaunay")):
        sc, _ = load_scenario(write_geo_files(tmp_path / name, adjacency=adjacency))
        assert sc.units is None


def test_an_edge_list_is_read_with_its_perimeters(tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    assert sc.units is not None
    assert sc.units.unit_ids == UNITS
    # Z0-Z1 (1), Z1-Z3 (2), Z2-Z3 (3; listed as Z3,Z2 — normalised to u < v)
    assert sc.units.edges.tolist() == [[0, 1], [1, 3], [2, 3]]
    assert np.asarray(sc.units.weights).tolist() == [1.0, 2.0, 3.0]


def test_a_bad_edge_list_reports_every_bad_row(tmp_path: Path) -> None:
    edges = ("unit_a,unit_b,shared_perimeter\n"
             "Z0,Z1,1\n"        # row 2 fine
             "Z0,Q9,1\n"        # row 3 Q9 has no accounts: a zero-population unit, fine
             "Z2,Z2,1\n"        # row 4 self-loop
             "Z1,Z0,2\n"        # row 5 duplicate of row 2 (reversed)
             "Z1,Z3,abc\n"      # row 6 perimeter not a number
             ",,1\n"            # row 7 two missing units
             "Z2,Z3,-4\n"       # row 8 negative perimeter
             ",Z3,1\n")         # row 9 missing unit_a
    spec = write_geo_files(tmp_path, edges=edges)
    with pytest.raises(InputValidationError) as info:
        load_scenario(spec)
    got = sorted((p.row, p.code, p.column, p.value) for p in info.value.errors)
    assert got == [
        (4, "self_loop", "unit_b", "Z2"),
        (5, "duplicate_edge", "unit_a,unit_b", "Z1-Z0"),
        (6, "not_a_number", "shared_perimeter", "abc"),
        (7, "missing", "unit_a", ""),
        (7, "missing", "unit_b", ""),
        (8, "out_of_range", "shared_perimeter", "-4"),
        (9, "missing", "unit_a", ""),
    ]
    assert all(p.source and p.source.endswith("edges.csv") for p in info.value.errors)
    assert "first listed in row 2" in next(p.reason for p in info.value.errors
                                           if p.code == "duplicate_edge")
    assert "7 problem(s)" in str(info.value)


def test_edge_list_units_without_accounts_are_zero_population_units(tmp_path: Path) -> None:
    # Q9 (no accounts) joins Z1 and Z3 like a GeoJSON polygon without accounts would
    (tmp_path / "e.csv").write_text("unit_a,unit_b\nZ0,Z1\nZ1,Q9\nQ9,Z3\nZ3,Z2\n",
                                    encoding="utf-8")
    g, warnings = read_adjacency(tmp_path / "e.csv", UNITS)
    assert g.unit_ids == (*UNITS, "Q9")
    assert g.edges.tolist() == [[0, 1], [1, 4], [2, 3], [3, 4]]
    (w,) = warnings
    assert w.severity.value == "warning" and w.code == "unit_without_accounts"
    assert "['Q9']" in w.reason
    spec = write_geo_files(tmp_path / "sc", edges="unit_a,unit_b\nZ0,Z1\nZ1,Q9\nQ9,Z3\n"
                                                  "Z3,Z2\n")
    sc, _ = load_scenario(spec)  # the scenario loads and the evaluator reads the graph
    assert sc.units is not None and sc.units.unit_ids == (*UNITS, "Q9")
    owner = {f"{z}-{j}": ("R1" if z in ("Z0", "Z1") else "R2") for z in UNITS for j in (0, 1)}
    ev = evaluate(sc, Plan.from_mapping(owner))
    assert ev.feasible, [str(v) for v in ev.hard_violations]


def test_an_edge_list_without_its_columns_is_a_file_error(tmp_path: Path) -> None:
    spec = write_geo_files(tmp_path, edges="left,right\nZ0,Z1\n")
    with pytest.raises(InputValidationError) as info:
        load_scenario(spec)
    assert sorted(p.column for p in info.value.errors) == ["unit_a", "unit_b"]
    assert all(p.row is None and p.code == "missing_column" for p in info.value.errors)


def test_a_parquet_edge_list_without_perimeters_gets_unit_weights(tmp_path: Path) -> None:
    pq.write_table(pa.table({"Unit_A": ["Z0", "Z1", "Z3"], "Unit_B": ["Z1", "Z3", "Z2"]}),
                   tmp_path / "edges.parquet")
    g, warnings = read_adjacency(tmp_path / "edges.parquet", UNITS)
    assert g.edges.tolist() == [[0, 1], [1, 3], [2, 3]]
    assert np.asarray(g.weights).tolist() == [1.0, 1.0, 1.0]
    assert warnings == ()


def test_an_isolated_unit_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("unit_a,unit_b\nZ0,Z1\nZ1,Z3\n", encoding="utf-8")
    g, warnings = read_adjacency(tmp_path / "e.csv", UNITS)
    assert g.unit_ids == UNITS and g.edges.shape == (2, 2)
    (w,) = warnings
    assert w.code == "isolated_unit" and "['Z2']" in w.reason


def _square(x: float, y: float) -> dict[str, object]:
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _geojson(path: Path, cells: dict[str, tuple[float, float]], prop: str = "postal_code"
             ) -> Path:
    feats = [{"type": "Feature", "properties": {prop: u}, "geometry": _square(*xy)}
             for u, xy in cells.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}),
                    encoding="utf-8")
    return path


def test_geojson_polygons_give_rook_adjacency_with_shared_borders(tmp_path: Path) -> None:
    # 2 x 2 grid of unit squares: Z0 Z1 on the bottom row, Z2 Z3 on top; corners do not count
    # plus a polygon "Z9" without accounts, bordering Z1 on the right (kept as a bridge unit)
    _geojson(tmp_path / "units.geojson", {"Z0": (0, 0), "Z1": (1, 0), "Z2": (0, 1),
                                          "Z3": (1, 1), "Z9": (2, 0)})
    spec = write_geo_files(tmp_path, adjacency="units.geojson")
    sc, _ = load_scenario(spec)
    assert sc.units is not None
    ids = sc.units.unit_ids
    pairs = sorted((ids[a], ids[b]) for a, b in sc.units.edges.tolist())
    assert pairs == [("Z0", "Z1"), ("Z0", "Z2"), ("Z1", "Z3"), ("Z1", "Z9"), ("Z2", "Z3")]
    assert np.allclose(np.asarray(sc.units.weights), 1.0)


def test_geojson_missing_a_unit_of_the_accounts_names_every_one(tmp_path: Path) -> None:
    _geojson(tmp_path / "units.geojson", {"Z0": (0, 0), "Z1": (1, 0)}, prop="unit_id")
    spec = write_geo_files(tmp_path, adjacency="units.geojson")
    with pytest.raises(InputValidationError) as info:
        load_scenario(spec)
    assert sorted((p.code, p.column, p.value) for p in info.value.errors) == [
        ("unknown_unit", "unit_id", "Z2"), ("unknown_unit", "unit_id", "Z3")]


def test_geojson_without_an_id_property_is_a_file_error(tmp_path: Path) -> None:
    _geojson(tmp_path / "units.geojson", {"Z0": (0, 0)}, prop="name")
    with pytest.raises(InputValidationError) as info:
        read_adjacency(tmp_path / "units.geojson", UNITS)
    (p,) = info.value.errors
    assert p.code == "missing_column" and "'postal_code'" in p.reason


def test_every_bad_geojson_feature_is_reported_with_index_field_and_value(tmp_path: Path
                                                                          ) -> None:
    def feat(uid: object, geometry: object) -> dict[str, object]:
        return {"type": "Feature", "properties": {"postal_code": uid}, "geometry": geometry}

    feats = [
        1,                                                                    # 1 not an object
        feat("Z0", _square(0, 0)),                                            # 2 fine
        feat("Z1", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),   # 3 2-point ring
        feat("Z2", {"type": "Polygon", "coordinates": "abc"}),                # 4 bad coordinates
        feat("Z3", {"type": "Point", "coordinates": [0, 0]}),                 # 5 not a polygon
        feat("", _square(3, 0)),                                              # 6 empty id
        feat(["a"], _square(4, 0)),                                           # 7 non-scalar id
        {"type": "Feature", "properties": [1], "geometry": _square(5, 0)},    # 8 bad properties
    ]
    (tmp_path / "u.geojson").write_text(json.dumps({"features": feats}), encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        read_adjacency(tmp_path / "u.geojson", UNITS)
    got = [(p.row, p.code, p.column, p.value) for p in info.value.errors]
    assert got == [(1, "not_a_feature", "feature", "1"),
                   (3, "bad_geometry", "geometry", "Z1"),
                   (4, "bad_geometry", "geometry", "Z2"),
                   (5, "not_a_polygon", "geometry", "Z3"),
                   (6, "missing", "postal_code", ""),
                   (7, "bad_unit_id", "postal_code", "['a']"),
                   (8, "not_an_object", "properties", "[1]")]
    assert "Point" in info.value.errors[3].reason
    # a collection of nothing but non-objects is reported, not a crash
    (tmp_path / "v.geojson").write_text(json.dumps({"features": [1]}), encoding="utf-8")
    with pytest.raises(InputValidationError) as only:
        read_adjacency(tmp_path / "v.geojson", UNITS)
    assert [(p.code, p.row) for p in only.value.errors] == [("missing_column", None),
                                                            ("not_a_feature", 1)]


def test_validate_inputs_checks_the_adjacency_like_load_scenario(tmp_path: Path) -> None:
    spec_path = write_geo_files(tmp_path, edges="unit_a,unit_b\nZ0,Z0\nZ0,Z1\nZ1,Z3\nZ3,Z2\n")
    spec = ScenarioSpec.from_yaml(spec_path)
    with pytest.raises(InputValidationError):
        load_scenario(spec_path)  # what scenario create would meet ...
    report = validate_inputs(tmp_path / "accounts.csv", tmp_path / "reps.csv", spec,
                             base=tmp_path)
    assert not report.ok  # ... validate reports it instead of passing
    assert [(p.row, p.code) for p in report.part("adjacency").problems] == [(2, "self_loop")]
    assert report.accounts.ok and report.reps.ok
    # a good edge list passes; a missing one is a reported problem (not a FileNotFoundError)
    (tmp_path / "edges.csv").write_text(PATH_EDGES, encoding="utf-8")
    assert validate_inputs(tmp_path / "accounts.csv", tmp_path / "reps.csv", spec).ok
    (tmp_path / "edges.csv").unlink()
    gone = validate_inputs(tmp_path / "accounts.csv", tmp_path / "reps.csv", spec)
    (p,) = gone.problems
    assert p.code == "missing_file" and p.source == str(tmp_path / "edges.csv")
    with pytest.raises(InputValidationError) as info:
        load_scenario(spec_path)
    assert [q.code for q in info.value.errors] == ["missing_file"]
