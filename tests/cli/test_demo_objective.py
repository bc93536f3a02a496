"""The demo's objective line prints the terms the spec weighs, as the evaluator computed them:
for a geo-unit plan that is the cut borders (compactness), not travel."""

from __future__ import annotations

import pytest

from terraplan.cli.demo import objective_line
from terraplan.domain import Plan
from terraplan.evaluate import evaluate
from territoryfixtures import geo_scenario

ROWS = {"Z0-0": "R1", "Z0-1": "R1", "Z1-0": "R1", "Z1-1": "R1",
        "Z2-0": "R2", "Z2-1": "R2", "Z3-0": "R2", "Z3-1": "R2"}


def test_geo_unit_objective_line_shows_weighted_compactness() -> None:
    ob = evaluate(geo_scenario(), Plan.from_mapping(ROWS)).objective
    assert ob.travel_weight == 0 and ob.compactness_weight == 1 and ob.total == pytest.approx(3)
    line = objective_line(ob, "cut_edges")
    # {Z0, Z1} | {Z2, Z3} cuts two sides of the 2 × 2 grid and the Delaunay diagonal
    assert line == ("   objective 3.00 = 1 × balance penalty 0.00 + 1 × compactness "
                    "(cut edges) 3")
    assert "travel" not in line and "disruption" not in line


def test_assign_objective_line_shows_weighted_travel_and_disruption() -> None:
    ob = evaluate(geo_scenario(), Plan.from_mapping(ROWS)).objective
    ob = type(ob)(travel=1234.4, disruption=50.0, balance=0.5, compactness=0.0,
                  travel_weight=1.0, disruption_weight=2.0, balance_weight=1.0,
                  compactness_weight=0.0, total=1234.4 + 100.0 + 0.5)
    assert objective_line(ob) == ("   objective 1,334.90 = 1 × travel 1,234 + 2 × disruption "
                                  "50 + 1 × balance penalty 0.50")
