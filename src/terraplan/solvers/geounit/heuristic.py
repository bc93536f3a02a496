"""Warm start for geo-unit mode: recursive bisection with exact two-way splits.

Tight population bands (±0.5 %) on coarse units make even a *feasible* contiguous plan hard to
find for a k-district model. Two-district problems are far easier, so the graph is split into a
part that will hold ``a = k // 2`` districts (population in ``[a L, a U]``) and a part for the
other ``k - a`` (population in ``[(k-a) L, (k-a) U]``), both connected, by the exact labeling-SCF
model; each part is split again until every part is one district. Every split is a restriction
(the parts must be connected), so a failure says nothing about the full problem: the caller
simply proceeds without a start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from terraplan.solvers.base import SolveOptions, Status
from terraplan.solvers.carve.linear import LinearModel
from terraplan.solvers.geounit import model as _model
from terraplan.solvers.geounit.problem import DistrictingProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: ``(model, options) -> (status, values)``
LinearSolve = Callable[[LinearModel, SolveOptions], tuple[Status, FloatArray | None]]


def recursive_bisection(problem: DistrictingProblem, solve: LinearSolve, *,
                        time_budget: float, threads: int = 2) -> IntArray | None:
    """A contiguous plan within the band, or ``None`` when a split fails in time."""
    t0 = time.perf_counter()
    labels = np.full(problem.n, -1, dtype=np.int64)
    stack: list[tuple[IntArray, int]] = [(np.arange(problem.n, dtype=np.int64), problem.k)]
    next_label = 0
    splits_left = problem.k - 1
    while stack:
        units, kk = stack.pop()
        if kk == 1:
            labels[units] = next_label
            next_label += 1
            continue
        remaining = time_budget - (time.perf_counter() - t0)
        if remaining <= 0.05:
            return None
        a = kk // 2
        sub = _restrict(problem, units)
        lo = np.array([a * problem.lower, (kk - a) * problem.lower])
        hi = np.array([a * problem.upper, (kk - a) * problem.upper])
        dm = _model.build(sub, lower=lo, upper=hi)
        # share the remaining time between the splits still to do, the first ones get more
        tl = max(0.2, remaining / max(1, splits_left) * 1.5)
        status, values = solve(dm.model, SolveOptions(time_limit=min(tl, remaining), gap=0.05,
                                                      threads=threads))
        splits_left -= 1
        if values is None or status not in (Status.OPTIMAL, Status.FEASIBLE):
            return None
        part = _model.decode(dm, values)
        stack.append((units[part == 1], kk - a))
        stack.append((units[part == 0], a))
    if problem.violations(labels):
        return None
    return _model.canonical(labels, problem.k)


def _restrict(problem: DistrictingProblem, units: IntArray) -> DistrictingProblem:
    pos = np.full(problem.n, -1, dtype=np.int64)
    pos[units] = np.arange(units.size)
    e = problem.edges
    keep = (pos[e[:, 0]] >= 0) & (pos[e[:, 1]] >= 0)
    return DistrictingProblem.from_edges(
        problem.population[units], pos[e[keep]], 2, 0.0, float(problem.population.sum()),
        edge_weights=problem.edge_weights[keep], measure=problem.measure,
        name=f"{problem.name}/split")
