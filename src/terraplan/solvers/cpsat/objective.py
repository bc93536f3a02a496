"""Objective: travel + disruption (+ soft-balance terms added by the balance module).

Maths (evaluator units, see :mod:`terraplan.problem`)::

    min  Σ_p (w_travel · travel_p + w_disruption · move_cost · move_units_p) · x_p
         + Σ_soft dev terms

Integer model: coefficient of ``x_p`` is ``round(pair_cost[p] × S)``. The reported objective
is recomputed exactly from the plan; the reported bound is CP-SAT's bound divided by ``S``
(exact up to that rounding, at most ``n_items / (2S)``).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from terraplan.solvers.cpsat.model import CpContext


def add(ctx: CpContext) -> None:
    p = ctx.problem
    c = np.rint(p.pair_cost * ctx.scale).astype(np.int64)
    nz = np.flatnonzero(c)
    terms_v = [ctx.x[i] for i in nz.tolist()] + ctx.obj_vars
    terms_c = c[nz].tolist() + ctx.obj_coefs
    if terms_v:
        ctx.model.minimize(cp_model.LinearExpr.weighted_sum(terms_v, terms_c))
