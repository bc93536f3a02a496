"""Balance: each rep's total of a metric within ±tolerance of its pool target.

Notation: ``m_t`` integer-scaled metric of item t (``item_metric_int[q]``), ``T_r = Σ_{p ∈
pairs(r)} m_{t(p)} x_p``; ``L_r = ceil(lower × scale)``, ``U_r = floor(upper × scale)``.

Hard rule (exact: ``T_r`` is an integer)::

    L_r ≤ T_r ≤ U_r                         for every rep r with a pool

Soft rule: deviation beyond the band costs ``penalty`` per unit of *relative* deviation,
``max(0, |T − target| / target − tol) = max(0, T − upper, lower − T) / target``. With an integer
``d_r`` measuring relative deviation in units of ``1/D`` (``D`` = 1e4, i.e. 0.01 % of target,
smaller when totals are huge: large coefficients slow CP-SAT down) and
``τ_r = round(target × scale)``::

    D·T_r − D·U_r ≤ τ_r · d_r,   D·L_r − D·T_r ≤ τ_r · d_r,   d_r ≥ 0

and the objective gets ``round(w_balance · penalty · S / D) · d_r``. Reps with a zero target
(nothing in their pool) have no deviation term; a hard band there is ``[0, 0]``.
"""

from __future__ import annotations

import numpy as np

from terraplan.solvers.cpsat.model import CpContext


def add(ctx: CpContext) -> None:
    p = ctx.problem
    for b in range(len(p.balance_metric)):
        q = int(p.balance_q[b])
        m = p.item_metric_int[q]
        hard = bool(p.balance_hard[b])
        total_max = int(np.abs(m).sum())
        D = 10_000
        while D > 1 and D * max(total_max, 1) > 2**60:
            D //= 10
        coef = int(round(p.w_balance * float(p.balance_penalty[b]) * ctx.scale / D))
        for r in range(p.n_reps):
            if p.rep_pool[r] < 0:
                continue
            pairs = ctx.rep_pairs(r)
            expr = ctx.weighted(pairs, m[p.pair_item[pairs]])
            lo, hi = int(p.lower_int[b, r]), int(p.upper_int[b, r])
            if hard:
                ctx.model.add_linear_constraint(expr, lo, hi)
                continue
            tau = int(round(float(p.target[b, r]) * float(p.metric_scale[q])))
            if tau <= 0 or coef <= 0:
                continue
            ub = (D * total_max) // tau + D + 1
            d = ctx.model.new_int_var(0, ub, f"dev{b}_{r}")
            ctx.model.add(D * expr - D * hi <= tau * d)
            ctx.model.add(D * lo - D * expr <= tau * d)
            ctx.obj_vars.append(d)
            ctx.obj_coefs.append(coef)
