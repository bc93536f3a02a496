"""Balance: each rep's total of a metric within ±tolerance of its pool target.

Notation: ``m_t`` integer-scaled metric of item t (``item_metric_int[q]``), ``T_r = Σ_{p ∈
pairs(r)} m_{t(p)} x_p``; ``L_r = ceil(lower × scale)``, ``U_r = floor(upper × scale)``.

Hard rule (exact: ``T_r`` is an integer)::

    L_r ≤ T_r ≤ U_r                         for every rep r with a pool

(``L_r > U_r``, a band with no integer total inside: the model is infeasible, also for a rep
with no candidate pair, whose row has no variable.)

Soft rule: deviation beyond the band costs ``penalty`` per unit of *relative* deviation,
``max(0, |T − target| / target − tol) = max(0, T − upper, lower − T) / target``. With an integer
``d_r`` measuring relative deviation in units of ``1/D`` (``D`` = 1e4, i.e. 0.01 % of target,
smaller when totals are huge: large coefficients slow CP-SAT down), the exact band edges
``l_r = lower × scale``, ``u_r = upper × scale`` (:func:`terraplan.problem.soft_band`; the
integer ``L_r``/``U_r`` are rounded inward and would overcharge a deviation by up to one unit)
and an integer factor ``K_r`` that makes ``τ_r = round(K_r · target × scale)`` at least
:data:`TAU_DIGITS` (so rounding τ costs at most 5e-6 of the deviation)::

    K_r·D·T_r − round(K_r·D·u_r) ≤ τ_r · d_r,   round(K_r·D·l_r) − K_r·D·T_r ≤ τ_r · d_r,
    d_r ≥ 0

and the objective gets ``round(w_balance · penalty · S / D) · d_r``. Reps with a zero target
(nothing in their pool) have no deviation term; a hard band there is ``[0, 0]``.
"""

from __future__ import annotations

import math

import numpy as np

from terraplan.problem import soft_band
from terraplan.solvers._exact import add_in_range
from terraplan.solvers.cpsat.model import CpContext

#: A soft band's target τ (metric units) is scaled to at least this many units before it is
#: rounded to the integer CP-SAT needs (relative error ≤ 5e-6).
TAU_DIGITS = 100_000


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
                add_in_range(ctx.model, expr, lo, hi)
                continue
            tau_f = float(p.target[b, r]) * float(p.metric_scale[q])
            if round(tau_f) <= 0 or coef <= 0:
                continue
            # both sides × K so that τ is an integer to ~1e-5 (τ = 13.67 rounded to 14 once
            # made CP-SAT prove a plan the evaluator scores 0.3 % worse than HiGHS' optimal)
            k = max(1, math.ceil(TAU_DIGITS / tau_f))
            while k > 1 and k * D * max(total_max, 1) > 2**60:
                k //= 10
            tau = int(round(k * tau_f))
            s_lo, s_hi = soft_band(p, b, r)
            d_lo, d_hi = int(round(k * D * s_lo)), int(round(k * D * s_hi))
            ub = (D * total_max) // max(int(tau_f), 1) + D + 1
            d = ctx.model.new_int_var(0, ub, f"dev{b}_{r}")
            ctx.model.add(k * D * expr - d_hi <= tau * d)
            ctx.model.add(d_lo - k * D * expr <= tau * d)
            ctx.obj_vars.append(d)
            ctx.obj_coefs.append(coef)
