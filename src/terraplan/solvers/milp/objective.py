"""Objective in evaluator units (no scaling needed in a MILP)::

    min  Σ_p (w_travel · travel_p + w_disruption · move_cost · move_units_p) · x_p
         + Σ_soft w_balance · penalty · d_r
"""

from __future__ import annotations

import numpy as np
import pulp

from terraplan.solvers.milp.model import MilpContext


def add(ctx: MilpContext) -> None:
    c = ctx.problem.pair_cost
    nz = np.flatnonzero(c)
    terms = [(ctx.x[i], float(c[i])) for i in nz.tolist()] + ctx.obj_terms
    ctx.lp.setObjective(pulp.LpAffineExpression(terms))
