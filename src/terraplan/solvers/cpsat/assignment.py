"""Assignment: every item goes to exactly one of its candidate reps.

Maths::

    Σ_{p ∈ cand(t)} x_p = 1            for every item t

Eligibility, departures (departing reps are never candidates), locks, protected pipeline,
max distance and the distance table's reachable set are all encoded by the candidate set built
in :func:`terraplan.problem.compile`; families by items (one decision per family). So this one
constraint family carries all of them — no rule is dropped, it is compiled into the domain.
"""

from __future__ import annotations

from terraplan.solvers.cpsat.model import CpContext


def add(ctx: CpContext) -> None:
    ptr = ctx.problem.indptr.tolist()
    for t in range(ctx.problem.n_items):
        ctx.model.add_exactly_one(ctx.x[ptr[t]:ptr[t + 1]])
