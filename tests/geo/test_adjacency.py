"""Adjacency builders (edge list, GeoJSON, Delaunay) and contiguity helpers."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.errors import InputValidationError
from terraplan.geo import adjacency as adj


def grid_edges(rows: int, cols: int) -> np.ndarray:
    e = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                e.append((i, i + 1))
            if r + 1 < rows:
                e.append((i, i + cols))
    return np.array(e, dtype=np.int64)


def test_normalise_edges_sorts_drops_loops_and_merges_duplicates() -> None:
    e, w = adj.normalise_edges([[2, 1], [1, 2], [0, 0], [0, 1]], 3, [1.0, 2.0, 5.0, 4.0])
    assert e.tolist() == [[0, 1], [1, 2]]
    assert w.tolist() == [4.0, 3.0]


def test_normalise_edges_rejects_unknown_endpoint() -> None:
    with pytest.raises(ValueError, match="outside"):
        adj.normalise_edges([[0, 3]], 3)


def test_csr_is_symmetric_with_neighbour_lists() -> None:
    m = adj.csr(3, np.array([[0, 1], [1, 2]]), np.array([2.0, 3.0]))
    assert (m != m.T).nnz == 0
    assert m.indices[m.indptr[1]:m.indptr[2]].tolist() == [0, 2]
    assert m[1, 2] == 3.0


def test_read_edge_list_with_header_and_weights(tmp_path) -> None:
    p = tmp_path / "adj.csv"
    p.write_text("unit_a,unit_b,weight\n10001,10002,1.5\n10002,10003,\n10001,10003,2\n")
    g = adj.read_edge_list(p)
    assert g.unit_ids == ("10001", "10002", "10003")
    assert g.edges.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert g.weights is not None and g.weights.tolist() == [1.5, 2.0, 1.0]


def test_read_edge_list_reports_every_bad_row(tmp_path) -> None:
    p = tmp_path / "adj.csv"
    p.write_text("a,b\nX,Y,abc\nX,Z\nY,Q,-1\n")
    with pytest.raises(InputValidationError) as info:
        adj.read_edge_list(p, unit_ids=["X", "Y", "Z"])
    reasons = [(pr.row, pr.reason) for pr in info.value.problems]
    assert (2, "weight is not a number") in reasons
    assert (4, "unknown unit") in reasons
    assert len(reasons) == 2


def _square(x: float, y: float) -> dict:
    return {"type": "Polygon",
            "coordinates": [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]}


def test_geojson_rook_adjacency_ignores_corner_contact(tmp_path) -> None:
    feats = [{"type": "Feature", "properties": {"zip": z}, "geometry": _square(x, y)}
             for z, (x, y) in zip(["a", "b", "c", "d"], [(0, 0), (1, 0), (0, 1), (1, 1)],
                                  strict=True)]
    p = tmp_path / "units.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    g = adj.from_geojson(p, "zip")
    # a-b, a-c, b-d, c-d share a side; a-d and b-c only touch at a corner
    assert g.edges.tolist() == [[0, 1], [0, 2], [1, 3], [2, 3]]
    assert g.weights is not None and np.allclose(g.weights, 1.0)


def test_geojson_missing_id_property_is_reported() -> None:
    data = {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": _square(0, 0)}]}
    with pytest.raises(InputValidationError, match="no property 'zip'"):
        adj.from_geojson(data, "zip")


def test_delaunay_of_a_square_has_four_sides_and_one_diagonal() -> None:
    g = adj.delaunay(["a", "b", "c", "d"], [0, 1, 0, 1], [0, 0, 1, 1.1])
    assert g.edges.shape == (5, 2)
    sides = {(0, 1), (0, 2), (1, 3), (2, 3)}
    assert sides <= {tuple(e) for e in g.edges.tolist()}


def test_delaunay_collinear_points_become_a_path() -> None:
    g = adj.delaunay(["a", "b", "c"], [2.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    assert {tuple(e) for e in g.edges.tolist()} == {(1, 2), (0, 2)}


def test_components_per_label_counts_pieces() -> None:
    e = grid_edges(3, 3)
    labels = np.array([0, 1, 0,
                       0, 1, 0,
                       2, 2, 2])
    # label 0 = left column + right column: two pieces
    assert adj.components_per_label(9, e, labels).tolist() == [2, 1, 1]
    assert not adj.is_contiguous(9, e, labels)
    rows = np.repeat([0, 1, 2], 3)
    assert adj.is_contiguous(9, e, rows)
    assert adj.cut_edges(e, rows).size == 6


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.integers(1, 4), st.randoms(use_true_random=False))
def test_components_agree_with_networkx(rows: int, cols: int, k: int, rnd) -> None:
    n = rows * cols
    e = grid_edges(rows, cols)
    labels = np.array([rnd.randrange(k) for _ in range(n)])
    got = adj.components_per_label(n, e, labels, k)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(e.tolist())
    for d in range(k):
        nodes = [i for i in range(n) if labels[i] == d]
        want = nx.number_connected_components(g.subgraph(nodes)) if nodes else 0
        assert got[d] == want
