"""Contiguity by row generation: solve without contiguity, cut off split districts, repeat.

The relaxed model keeps the assignment, balance and cut-edge rows of
:mod:`~terraplan.solvers.geounit.model` and replaces flows and roots by a first-appearance
ordering of district labels (``x_id <= sum_{j<i} x_{j,d-1}``; unit i may open district d only
after district d-1 has a lower-index unit). When an optimal plan has a district split into
pieces, every piece ``C`` that misses the district's largest piece yields *a,b-separator* rows
(Validi & Buchanan; Oehrlein & Haunert)::

    x_ad + x_bd - sum_{c in N(C)} x_cd <= 1       for all districts d

with ``a`` in ``C``, ``b`` in the largest piece and ``N(C)`` the units adjacent to ``C`` outside
it: a connected district holding both ``a`` and ``b`` must also hold a unit of ``N(C)``. The rows
are valid for every contiguous plan, so the relaxation's bound stays a valid lower bound, and a
*contiguous optimum of the relaxation is optimal for the full problem*.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from terraplan.solvers.base import Status
from terraplan.solvers.carve.linear import LinearModel
from terraplan.solvers.geounit.problem import DistrictingProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: ``(model, start, time_limit) -> (status, values, bound)``
SubSolve = Callable[[LinearModel, FloatArray | None, float],
                    tuple[Status, FloatArray | None, float | None]]


def build_relaxed(problem: DistrictingProblem) -> tuple[LinearModel, IntArray, IntArray]:
    n, k, m = problem.n, problem.k, problem.m
    e = problem.edges
    lm = LinearModel()
    allowed = (np.arange(k)[None, :] <= np.arange(n)[:, None]).astype(np.float64)
    x = lm.add_vars(n * k, hi=allowed.ravel()).reshape(n, k)
    z = lm.add_vars(m, cost=problem.objective_weights, integer=False)
    ii = np.arange(n)
    dd = np.arange(k)
    lm.add_rows(n, np.repeat(ii, k), x.ravel(), 1.0, 1.0, 1.0)
    lm.add_rows(k, np.tile(dd, n), x.ravel(), np.repeat(problem.population, k),
                problem.lower, problem.upper)
    if m:
        mk = m * k
        rows = np.arange(mk)
        xu, xv, ze = x[e[:, 0]].ravel(), x[e[:, 1]].ravel(), np.repeat(z, k)
        for a, b in ((xu, xv), (xv, xu)):
            lm.add_rows(mk, np.concatenate([rows, rows, rows]), np.concatenate([a, b, ze]),
                        np.concatenate([np.ones(mk), -np.ones(mk), -np.ones(mk)]),
                        -np.inf, 0.0)
    # first-appearance ordering: x_id - sum_{j<i} x_{j,d-1} <= 0 for d >= 1, i >= d
    ia, ja = np.nonzero(np.tri(n, n, -1, dtype=bool))
    for d in range(1, k):
        rows_i = np.arange(n)
        lm.add_rows(n, np.concatenate([rows_i, ia]), np.concatenate([x[:, d], x[ja, d - 1]]),
                    np.concatenate([np.ones(n), -np.ones(ia.size)]), -np.inf, 0.0)
    return lm, x, z


def separators(problem: DistrictingProblem, labels: IntArray,
               adjm: sp.csr_matrix) -> list[tuple[int, int, IntArray]]:
    """``(a, b, N(C))`` for every piece ``C`` of a split district (not its largest piece)."""
    out = []
    e = problem.edges
    for d in range(problem.k):
        members = np.flatnonzero(labels == d)
        if members.size < 2:
            continue
        sub = adjm[members][:, members]
        ncomp, comp = connected_components(sub, directed=False)
        if ncomp <= 1:
            continue
        sizes = np.bincount(comp, weights=problem.population[members] + 1e-9)
        big = int(np.argmax(sizes))
        b = int(members[np.flatnonzero(comp == big)[0]])
        for c in range(ncomp):
            if c == big:
                continue
            piece = members[comp == c]
            in_piece = np.zeros(problem.n, dtype=bool)
            in_piece[piece] = True
            # neighbourhood of the piece: endpoints of edges leaving it
            leave = in_piece[e[:, 0]] ^ in_piece[e[:, 1]]
            nb = np.unique(np.where(in_piece[e[leave, 0]], e[leave, 1], e[leave, 0]))
            a = int(piece[np.argmax(problem.population[piece])])
            out.append((a, b, nb.astype(np.int64)))
            # the mirror row: the largest piece's neighbourhood separates it from this piece
            in_big = np.zeros(problem.n, dtype=bool)
            in_big[members[comp == big]] = True
            leave = in_big[e[:, 0]] ^ in_big[e[:, 1]]
            nb2 = np.unique(np.where(in_big[e[leave, 0]], e[leave, 1], e[leave, 0]))
            out.append((b, a, nb2.astype(np.int64)))
    return out


def add_separators(lm: LinearModel, x: IntArray, cuts: list[tuple[int, int, IntArray]],
                   k: int) -> int:
    added = 0
    for a, b, nb in cuts:
        for d in range(k):
            cols = np.concatenate([[x[a, d], x[b, d]], x[nb, d]])
            vals = np.concatenate([[1.0, 1.0], -np.ones(nb.size)])
            lm.add_rows(1, np.zeros(cols.size, np.int64), cols, vals, -np.inf, 1.0)
            added += 1
    return added


def solve_by_cuts(problem: DistrictingProblem, sub_solve: SubSolve, time_limit: float,
                  clock: Callable[[], float]) -> tuple[Status, IntArray | None, float | None, int]:
    """Row-generation loop; returns (status, labels, valid lower bound, rounds)."""
    from terraplan.solvers.geounit.model import canonical

    lm, x, _ = build_relaxed(problem)
    adjm = problem.adjacency
    t0 = clock()
    bound: float | None = None
    rounds = 0
    while True:
        remaining = time_limit - (clock() - t0)
        if remaining <= 0.05:
            return Status.NO_SOLUTION_IN_TIME, None, bound, rounds
        status, values, bnd = sub_solve(lm, None, remaining)
        rounds += 1
        if bnd is not None:
            bound = bnd if bound is None else max(bound, bnd)
        if status is Status.INFEASIBLE:
            return Status.INFEASIBLE, None, None, rounds
        if values is None:
            return status, None, bound, rounds
        labels = canonical(np.argmax(values[x], axis=1), problem.k)
        cuts = separators(problem, labels, adjm)
        if not cuts:
            return status, labels, bound, rounds
        if status is not Status.OPTIMAL:
            # out of time on a split plan: nothing contiguous to hand back
            return Status.NO_SOLUTION_IN_TIME, None, bound, rounds
        add_separators(lm, x, cuts, problem.k)
