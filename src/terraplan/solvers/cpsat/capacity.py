"""Capacity: each rep's workload stays within its capacity.

Maths (integer-scaled workload ``w_t`` = ``item_metric_int[0]``, ``C_r`` =
``rep_capacity_int``, i.e. ``floor(capacity × scale)``, exact because the left side is an
integer)::

    Σ_{p ∈ pairs(r)} w_{t(p)} x_p ≤ C_r        for every rep r with a capacity

Reps without a capacity (or with the rule off) get no constraint.
"""

from __future__ import annotations

import numpy as np

from terraplan.problem import UNLIMITED
from terraplan.solvers.cpsat.model import CpContext


def add(ctx: CpContext) -> None:
    p = ctx.problem
    w = p.item_metric_int[0]
    for r in np.flatnonzero(p.rep_capacity_int < UNLIMITED).tolist():
        pairs = ctx.rep_pairs(r)
        coefs = w[p.pair_item[pairs]]
        if int(coefs.sum()) <= int(p.rep_capacity_int[r]):
            continue  # cannot bind: every candidate together fits
        ctx.model.add(ctx.weighted(pairs, coefs) <= int(p.rep_capacity_int[r]))
