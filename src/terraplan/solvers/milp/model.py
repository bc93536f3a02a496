"""The MILP of an assign-mode problem, modelled with PuLP rule by rule.

One binary ``x[p]`` per candidate pair ``p = (item t, rep r)``; each rule module adds its rows
(same maths as the CP-SAT backend, stated in each module):

========================  ==============================================================
module                    encodes
========================  ==============================================================
``assignment``            Σ_{p ∈ cand(t)} x_p = 1 (eligibility, departures, locks,
                          protected pipeline, max distance, families: candidate set)
``capacity``              Σ workload ≤ capacity per rep
``balance``               hard bands on integer-scaled totals; soft relative deviation
``continuity``            move budgets: overall count, potential share, per rep
``objective``             travel + disruption + soft-balance penalty, in evaluator units
========================  ==============================================================

The PuLP model is the single modelling layer for both solvers: :mod:`.highs` hands its
matrices to ``highspy`` (so the MIP dual bound, callbacks and interrupts are available) and
:mod:`.cbc` solves it with PuLP's CBC command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pulp

from terraplan.problem import ProblemData


@dataclass(slots=True)
class MilpContext:
    """Model under construction: PuLP problem, pair variables, pairs grouped by rep."""

    problem: ProblemData
    lp: pulp.LpProblem
    x: list[pulp.LpVariable]
    rep_ptr: npt.NDArray[np.int64]
    rep_order: npt.NDArray[np.int64]
    obj_terms: list[tuple[pulp.LpVariable, float]] = field(default_factory=list)
    dev_vars: list[tuple[int, int, pulp.LpVariable]] = field(default_factory=list)

    def rep_pairs(self, r: int) -> npt.NDArray[np.int64]:
        return self.rep_order[self.rep_ptr[r]:self.rep_ptr[r + 1]]

    def weighted(self, pairs: npt.NDArray[np.int64], coefs: npt.ArrayLike
                 ) -> pulp.LpAffineExpression:
        c = np.asarray(coefs)
        keep = c != 0
        return pulp.LpAffineExpression(
            [(self.x[p], v) for p, v in zip(pairs[keep].tolist(), c[keep].tolist(), strict=True)])

    def add(self, constraint: pulp.LpConstraint, name: str) -> None:
        self.lp.addConstraint(constraint, name)


def build(problem: ProblemData, *, with_objective: bool = True) -> MilpContext:
    """The full PuLP model of ``problem`` (objective optional for feasibility checks)."""
    from terraplan.solvers.milp import assignment, balance, capacity, continuity
    from terraplan.solvers.milp import objective as objective_mod

    lp = pulp.LpProblem("terraplan_assign", pulp.LpMinimize)
    x = [lp.add_variable(f"x{p}", 0, 1, cat=pulp.LpBinary) for p in range(problem.n_pairs)]
    order = np.argsort(problem.indices, kind="stable").astype(np.int64)
    rep_ptr = np.zeros(problem.n_reps + 1, dtype=np.int64)
    np.cumsum(np.bincount(problem.indices, minlength=problem.n_reps), out=rep_ptr[1:])
    ctx = MilpContext(problem=problem, lp=lp, x=x, rep_ptr=rep_ptr, rep_order=order)
    assignment.add(ctx)
    capacity.add(ctx)
    balance.add(ctx)
    continuity.add(ctx)
    if with_objective:
        objective_mod.add(ctx)
    return ctx
