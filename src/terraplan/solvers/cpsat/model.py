"""The CP-SAT model of an assign-mode problem, built rule by rule.

:func:`build` creates one Boolean ``x[p]`` per candidate pair ``p = (item t, rep r)`` of the
compiled problem (``x[p] = 1`` iff item t goes to rep r) and then lets each rule module add its
constraints and objective terms:

========================  ==============================================================
module                    encodes
========================  ==============================================================
``assignment``            exactly one candidate per item (eligibility, departures, locks,
                          protected pipeline, max distance and families live in the
                          candidate set — see :mod:`terraplan.problem`)
``capacity``              Σ workload ≤ capacity per rep
``balance``               hard bands; soft deviation variables and their penalty
``continuity``            move budgets: overall count, potential share, per rep
``objective``             travel + disruption + soft-balance penalty, integer-scaled
========================  ==============================================================

Integer scaling: metric coefficients are ``item_metric_int`` (exact, see the problem module);
objective coefficients are ``round(cost × S)`` with one decimal scale ``S`` per model chosen so
the largest possible objective stays below ~1e9 (CP-SAT works in int64, and its LP relaxation
and propagation are markedly faster with moderate coefficients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from terraplan.problem import ProblemData


@dataclass(slots=True)
class CpContext:
    """Model under construction: the pair variables, pairs grouped by rep, objective terms."""

    problem: ProblemData
    model: cp_model.CpModel
    x: list[cp_model.IntVar]
    rep_ptr: npt.NDArray[np.int64]  # pairs of rep r: rep_order[rep_ptr[r]:rep_ptr[r+1]]
    rep_order: npt.NDArray[np.int64]
    scale: float  # objective scale S (model units per evaluator unit)
    obj_vars: list[cp_model.IntVar] = field(default_factory=list)
    obj_coefs: list[int] = field(default_factory=list)

    def rep_pairs(self, r: int) -> npt.NDArray[np.int64]:
        return self.rep_order[self.rep_ptr[r]:self.rep_ptr[r + 1]]

    def weighted(self, pairs: npt.NDArray[np.int64], coefs: npt.ArrayLike
                 ) -> cp_model.LinearExprT:
        c = np.asarray(coefs, dtype=np.int64)
        keep = c != 0
        return cp_model.LinearExpr.weighted_sum(
            [self.x[p] for p in pairs[keep].tolist()], c[keep].tolist())


def objective_scale(problem: ProblemData) -> float:
    """Decimal scale S so the largest possible objective × S is about 1e9 or less (S ≤ 1e6)."""
    k = problem.n_items
    if problem.n_pairs == 0:
        return 1.0
    item_max = np.maximum.reduceat(problem.pair_cost, problem.indptr[:-1][np.diff(problem.indptr)
                                                                        > 0])
    est = float(item_max.sum())
    soft = ~problem.balance_hard
    if soft.any():
        # relative deviations are at most (n_reps × a few) in practice; count 10 per rep
        est += problem.w_balance * float(problem.balance_penalty[soft].sum()) * 10 * max(
            1, problem.n_reps)
    if est <= 0:
        return 1.0
    s = 10.0 ** math.floor(math.log10(1e9 / est))
    del k
    return float(min(max(s, 1e-3), 1e6))


def build(problem: ProblemData, *, with_objective: bool = True) -> CpContext:
    """The full CP-SAT model of ``problem`` (all rules; objective optional for feasibility)."""
    from terraplan.solvers.cpsat import assignment, balance, capacity, continuity
    from terraplan.solvers.cpsat import objective as objective_mod

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{p}") for p in range(problem.n_pairs)]
    order = np.argsort(problem.indices, kind="stable").astype(np.int64)
    rep_ptr = np.zeros(problem.n_reps + 1, dtype=np.int64)
    np.cumsum(np.bincount(problem.indices, minlength=problem.n_reps), out=rep_ptr[1:])
    ctx = CpContext(problem=problem, model=model, x=x, rep_ptr=rep_ptr, rep_order=order,
                    scale=objective_scale(problem))
    assignment.add(ctx)
    capacity.add(ctx)
    balance.add(ctx)
    continuity.add(ctx)
    if with_objective:
        objective_mod.add(ctx)
    return ctx
