"""Balance: each rep's total of a metric within ±tolerance of its pool target.

``T_r = Σ_{p ∈ pairs(r)} m_{t(p)} x_p`` with integer-scaled metric ``m``; ``L_r``/``U_r`` the
integer band (``ceil(lower × scale)``, ``floor(upper × scale)``).

Hard::

    L_r ≤ T_r ≤ U_r

Soft (continuous ``d_r ≥ 0`` = relative deviation beyond the band; ``τ_r = target × scale``;
``l_r``/``u_r`` the exact band edges ``lower × scale``, ``upper × scale``, see
:func:`terraplan.problem.soft_band`)::

    T_r − u_r ≤ τ_r d_r,    l_r − T_r ≤ τ_r d_r

objective ``+ w_balance · penalty · d_r``. Reps with a zero target have no deviation term.
"""

from __future__ import annotations

from terraplan.problem import soft_band
from terraplan.solvers.milp.model import MilpContext


def add(ctx: MilpContext) -> None:
    p = ctx.problem
    for b in range(len(p.balance_metric)):
        q = int(p.balance_q[b])
        m = p.item_metric_int[q]
        hard = bool(p.balance_hard[b])
        coef = p.w_balance * float(p.balance_penalty[b])
        for r in range(p.n_reps):
            if p.rep_pool[r] < 0:
                continue
            pairs = ctx.rep_pairs(r)
            expr = ctx.weighted(pairs, m[p.pair_item[pairs]])
            lo, hi = int(p.lower_int[b, r]), int(p.upper_int[b, r])
            if hard:
                ctx.add(expr >= lo, f"bal_lo_{b}_{r}")
                ctx.add(expr <= hi, f"bal_hi_{b}_{r}")
                continue
            tau = float(p.target[b, r]) * float(p.metric_scale[q])
            if tau <= 0 or coef <= 0:
                continue
            # a soft band is priced from its exact edges: the integer ones (rounded inward,
            # exact for a hard band over integer loads) overcharge every deviation by up to
            # one unit, and a plan the evaluator scores lower was once "proven" worse
            s_lo, s_hi = soft_band(p, b, r)
            d = ctx.lp.add_variable(f"dev_{b}_{r}", lowBound=0)
            ctx.add(expr - tau * d <= s_hi, f"soft_hi_{b}_{r}")
            ctx.add(expr + tau * d >= s_lo, f"soft_lo_{b}_{r}")
            ctx.obj_terms.append((d, coef))
            ctx.dev_vars.append((b, r, d))
