"""A spec edit or copy that changes ``inputs.adjacency`` or ``geo_unit.unit_column`` does not
keep the stored unit graph: it is dropped (no file named), re-read from ``spec_dir`` or refused
(SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adjacencyfixtures import write_geo_files
from terraplan.domain import ScenarioSpec
from terraplan.errors import SpecError
from terraplan.io import load_scenario
from terraplan.services import Workspace

OTHER_EDGES = "unit_a,unit_b\nZ0,Z2\nZ2,Z3\nZ3,Z1\n"  # the other path: Z0 - Z2 - Z3 - Z1


def _with_adjacency(spec: ScenarioSpec, name: str | None) -> ScenarioSpec:
    return spec.model_copy(update={"inputs": spec.inputs.model_copy(update={"adjacency": name})})


def test_changing_the_adjacency_file_drops_rereads_or_refuses(migrated_url: str,
                                                             tmp_path: Path) -> None:
    spec_path = write_geo_files(tmp_path)
    sc, _ = load_scenario(spec_path)
    (tmp_path / "other.csv").write_text(OTHER_EDGES, encoding="utf-8")
    with Workspace.open(migrated_url) as ws:
        ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts,
                           roster=sc.reps, units=sc.units)
        other = _with_adjacency(sc.spec, "other.csv")
        # no folder to read the new file from: refused, nothing changes
        with pytest.raises(SpecError, match="re-create the scenario with the adjacency file"):
            ws.update_scenario("zip", actor="test", spec=other)
        with pytest.raises(SpecError, match="inputs.adjacency"):
            ws.copy_scenario("zip", "zip-other", actor="test", spec=other)
        assert "zip-other" not in [s.name for s in ws.list_scenarios()]
        kept = ws.load_scenario("zip")
        assert kept.spec.inputs.adjacency == "edges.csv" and kept.units is not None
        assert kept.units.edges.tolist() == [[0, 1], [1, 3], [2, 3]]
        # with the folder: the new file is read (not the stale graph)
        ws.copy_scenario("zip", "zip-other", actor="test", spec=other, spec_dir=tmp_path)
        ws.update_scenario("zip", actor="test", spec=other, spec_dir=tmp_path)
        for name in ("zip", "zip-other"):
            units = ws.load_scenario(name).units
            assert units is not None and units.edges.tolist() == [[0, 2], [1, 3], [2, 3]]
        # a spec naming no file drops the graph (a later spec naming one cannot revive it)
        ws.update_scenario("zip", actor="test", spec=_with_adjacency(sc.spec, None))
        assert ws.load_scenario("zip").units is None
        with pytest.raises(SpecError):
            ws.update_scenario("zip", actor="test", spec=other)
        assert ws.load_scenario("zip").units is None


def test_changing_the_unit_column_does_not_keep_the_old_graph(migrated_url: str,
                                                              tmp_path: Path) -> None:
    sc, _ = load_scenario(write_geo_files(tmp_path))
    with Workspace.open(migrated_url) as ws:
        ws.create_scenario("zip", actor="test", spec=sc.spec, book=sc.accounts,
                           roster=sc.reps, units=sc.units)
        assert sc.spec.geo_unit is not None
        moved = sc.spec.model_copy(update={"geo_unit": sc.spec.geo_unit.model_copy(
            update={"unit_column": "territory"})})
        with pytest.raises(SpecError, match="geo_unit.unit_column"):
            ws.update_scenario("zip", actor="test", spec=moved)
        same = sc.spec.model_copy(update={"seed": 9})  # unrelated edits keep the graph
        ws.update_scenario("zip", actor="test", spec=same)
        assert ws.load_scenario("zip").units is not None
