"""Continuity budgets: limit how much of the book changes owner.

Maths (see :mod:`terraplan.solvers.cpsat.continuity` for the definitions)::

    Σ_p pair_moved[p] · x_p ≤ max_moved_accounts
    Σ_p pair_moved_potential[p] · x_p ≤ floor(max_moved_share × total potential)
    Σ_t c_{t,s} (1 − x_{t,s}) ≤ max_moved_per_rep          for every current owner s
"""

from __future__ import annotations

import numpy as np

from terraplan.solvers.milp.model import MilpContext


def add(ctx: MilpContext) -> None:
    p = ctx.problem
    allp = np.arange(p.n_pairs, dtype=np.int64)
    if p.max_moved_accounts >= 0 and int(p.pair_moved.sum()) > 0:
        ctx.add(ctx.weighted(allp, p.pair_moved) <= p.max_moved_accounts, "moved_accounts")
    if p.max_moved_potential >= 0 and int(p.pair_moved_potential.sum()) > 0:
        ctx.add(ctx.weighted(allp, p.pair_moved_potential) <= p.max_moved_potential,
                "moved_potential")
    if p.max_moved_per_rep >= 0:
        for s, const, pairs, coefs in p.lost_terms():
            if const <= p.max_moved_per_rep:
                continue
            ctx.add(ctx.weighted(pairs, coefs) >= const - p.max_moved_per_rep, f"moved_rep_{s}")
