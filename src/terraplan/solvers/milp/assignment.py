"""Assignment: every item goes to exactly one of its candidate reps.

Maths::

    Σ_{p ∈ cand(t)} x_p = 1            for every item t

Eligibility, departures, locks, protected pipeline, max distance and the distance table's
reachable set are encoded by the candidate set (:func:`terraplan.problem.compile`), families by
items, so this row family carries them all.
"""

from __future__ import annotations

import pulp

from terraplan.solvers.milp.model import MilpContext


def add(ctx: MilpContext) -> None:
    ptr = ctx.problem.indptr.tolist()
    for t in range(ctx.problem.n_items):
        expr = pulp.LpAffineExpression([(v, 1) for v in ctx.x[ptr[t]:ptr[t + 1]]])
        ctx.add(expr == 1, f"assign_{t}")
