"""Candidate-pair reduction for the carve models.

Each item may only join one of its ``k`` cheapest sites (plus the pairs of a supplied start plan,
so the warm start stays feasible in the reduced model). The reduced model is a *restriction*:
every plan it returns is feasible for the full problem, but its dual bound is not a bound for the
full problem. The backends therefore (a) fall back to the full pair set when the restriction is
infeasible or finds nothing, and (b) report the restricted bound separately from the proven one.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from terraplan.solvers.carve.problem import CarveProblem

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Below this many finite pairs the full model is used (it is small enough to prove optimality).
FULL_MODEL_PAIRS = 25_000


def default_k(problem: CarveProblem, allowed: BoolArray | None = None) -> int:
    """Neighbours per item: all when the model is small, else ~4x the mean territory size.

    ``allowed`` (``(n, m)`` bool, e.g. the pairs left by reduced-cost fixing) counts instead of
    every finite pair when given.
    """
    finite = int(np.isfinite(problem.cost).sum() if allowed is None else allowed.sum())
    if finite <= FULL_MODEL_PAIRS:
        return problem.m
    return int(min(problem.m, max(30, math.ceil(4.0 * problem.n / problem.p))))


def candidate_pairs(problem: CarveProblem, k: int, start: IntArray | None = None,
                    allowed: BoolArray | None = None) -> tuple[IntArray, IntArray, bool]:
    """Rows ``(items, sites)`` of allowed pairs and whether the set is the full one.

    ``allowed`` narrows the finite pairs *safely*: it must keep every pair of every plan better
    than ``start`` (reduced-cost fixing, :func:`~terraplan.solvers.carve.lagrange.fixing_mask`),
    and ``start`` must be given with it. The set is then still called full when the ``k``-nearest
    rule removes nothing from it: its optimum is the optimum of the whole problem.
    """
    c = problem.cost
    finite = np.isfinite(c)
    if allowed is not None:
        if start is None:
            raise ValueError("candidate_pairs: 'allowed' needs the start plan it was built for")
        finite = finite & allowed
        finite[np.arange(problem.n), start] = np.isfinite(c[np.arange(problem.n), start])
    if k >= problem.m:
        ii, jj = np.nonzero(finite)
        return ii.astype(np.int64), jj.astype(np.int64), True
    order = np.argpartition(np.where(finite, c, np.inf), k - 1, axis=1)[:, :k]
    mask = np.zeros_like(finite)
    np.put_along_axis(mask, order, True, axis=1)
    mask &= finite
    own = np.flatnonzero(problem.site_item >= 0)
    mask[problem.site_item[own], own] = finite[problem.site_item[own], own]
    if start is not None:
        mask[np.arange(problem.n), start] = True
    full = bool(np.array_equal(mask, finite))
    ii, jj = np.nonzero(mask)
    return ii.astype(np.int64), jj.astype(np.int64), full
