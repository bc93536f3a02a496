"""Continuity budgets: limit how much of the book changes owner.

An account *moves* when its current owner is an active roster rep and it goes to another rep
(``pair_moved[p]`` counts such members of item t(p) if assigned to rep r(p)).

Maths::

    Σ_p pair_moved[p] · x_p ≤ max_moved_accounts
    Σ_p pair_moved_potential[p] · x_p ≤ floor(max_moved_share × total potential)   (cents)

Per rep ``s`` (accounts the rep *loses*): with ``c_{t,s}`` the members of item t currently
owned by s (``cur_*`` arrays) and ``x_{t,s}`` the pair variable (0 when s is not a candidate)::

    Σ_t c_{t,s} (1 − x_{t,s}) ≤ max_moved_per_rep

Protected pipeline accounts are pinned in the candidate set, not here. The price per moved unit
is an objective term (:mod:`terraplan.solvers.cpsat.objective`).
"""

from __future__ import annotations

import numpy as np

from terraplan.solvers.cpsat.model import CpContext


def add(ctx: CpContext) -> None:
    p = ctx.problem
    allp = np.arange(p.n_pairs, dtype=np.int64)
    if p.max_moved_accounts >= 0 and int(p.pair_moved.sum()) > 0:
        ctx.model.add(ctx.weighted(allp, p.pair_moved) <= p.max_moved_accounts)
    if p.max_moved_potential >= 0 and int(p.pair_moved_potential.sum()) > 0:
        ctx.model.add(ctx.weighted(allp, p.pair_moved_potential) <= p.max_moved_potential)
    if p.max_moved_per_rep >= 0:
        for _s, const, pairs, coefs in p.lost_terms():
            if const <= p.max_moved_per_rep:
                continue  # the rep cannot lose more than it has
            # const − Σ c x ≤ N  ⇔  Σ c x ≥ const − N
            ctx.model.add(ctx.weighted(pairs, coefs) >= const - p.max_moved_per_rep)
