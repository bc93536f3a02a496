"""Capacity: each rep's workload stays within its capacity.

Maths (integer-scaled workload, exact: ``C_r = floor(capacity × scale)``)::

    Σ_{p ∈ pairs(r)} w_{t(p)} x_p ≤ C_r        for every rep r with a capacity
"""

from __future__ import annotations

import numpy as np

from terraplan.problem import UNLIMITED
from terraplan.solvers.milp.model import MilpContext


def add(ctx: MilpContext) -> None:
    p = ctx.problem
    w = p.item_metric_int[0]
    for r in np.flatnonzero(p.rep_capacity_int < UNLIMITED).tolist():
        pairs = ctx.rep_pairs(r)
        coefs = w[p.pair_item[pairs]]
        if int(coefs.sum()) <= int(p.rep_capacity_int[r]):
            continue
        ctx.add(ctx.weighted(pairs, coefs) <= int(p.rep_capacity_int[r]), f"capacity_{r}")
