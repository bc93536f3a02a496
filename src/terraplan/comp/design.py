"""Plan design under budget: choose the payout multipliers by linear programming.

For fixed breakpoints ``0 = a_0 < … < a_K`` (an outer grid) the payout ``f(A) = Σ_k m_k·ℓ_k(A)``
with ``ℓ_k(A) = (min(A, a_{k+1}) − a_k)⁺`` is linear in the multipliers, so on a set of simulated
scenarios s (attainment of every rep, with the common shock) the team cost
``C_s = fixed + Σ_k m_k·G_sk``, ``G_sk = Σ_i TI_i·ℓ_k(A_si)``, is linear too. The LP:

    maximise    E[f′(A)] = Σ_k m_k·π_k                   (π_k: share of rep-scenarios in band k)
    subject to  fixed + Σ_k m_k·Ḡ_k ≤ B                   (expected cost)
                t + Σ_s u_s / ((1 − α)·N) ≤ B_α          (CVaR_α, Rockafellar–Uryasev)
                u_s ≥ fixed + Σ_k m_k·G_sk − t,  u_s ≥ 0   (or its dual cutting planes)
                Σ_k m_k·ℓ_k(1) = 1                        (f(1) = 1)
                m_k ≥ m_{k−1} for bands above quota       (accelerating above quota)
                0 ≤ m_k ≤ m_max                           (f non-decreasing, bounded)
                Σ_k m_k·ℓ_k(a_0.9) ≥ L_min                (leverage at the 90th percentile)

It is modelled with PuLP and solved with HiGHS (CBC when HiGHS is unavailable). Money is scaled by
the expected-cost budget so the coefficients are O(1). The report lists the binding constraints,
their duals, and the sensitivity of E[C] (exact: Ḡ_k) and P90 (finite difference) to every
multiplier.

One-parameter closed form (linear to quota, multiplier m above): with a mean variable budget V,
``m* = 1 + (V − Σ TI_i·E[A_i]) / Σ TI_i·E[(A_i − 1)⁺]`` (per rep: 1 + (V/TI − E[A]) / E[(A−1)⁺]).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pulp

from terraplan.comp.cost import Team, _attainment_block, _block_plan, cvar, expected_cost
from terraplan.comp.curve import PayoutCurve
from terraplan.errors import ParameterError
from terraplan.quota.attainment import AttainmentModel, call_value

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Default outer grid of attainment breakpoints and multiplier bound (policy defaults).
DEFAULT_GRID = (0.0, 0.5, 1.0, 1.25, 1.5, 2.0)
DEFAULT_M_MAX = 3.0


class DesignStatus(StrEnum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BandSensitivity:
    """How the team cost moves with one band's multiplier (cents per +1.0 of multiplier)."""

    lower: float
    upper: float | None
    multiplier: float
    d_expected_cost: float
    d_p90: float


@dataclass(frozen=True, slots=True)
class DesignResult:
    """Outcome of :func:`design_curve`. ``curve`` is ``None`` unless the status is optimal.

    Money figures are cents on the design's scenario set (``expected_cost_closed_form`` is the
    exact lognormal value for the designed curve).
    """

    status: DesignStatus
    curve: PayoutCurve | None
    objective: float
    expected_cost: float
    expected_cost_closed_form: float
    p90: float
    cvar: float
    alpha: float
    leverage_point: float
    binding: tuple[str, ...]
    duals: dict[str, float]
    sensitivity: tuple[BandSensitivity, ...]
    n_scenarios: int
    seed: int
    solver: str
    message: str = ""


def _band_lengths(a: FloatArray, grid: Sequence[float]) -> FloatArray:
    """ℓ_k(a) for every band k (last band unbounded); shape a.shape + (K,)."""
    lo = np.asarray(grid, dtype=np.float64)
    hi = np.append(lo[1:], np.inf)
    x = np.asarray(a, dtype=np.float64)[..., None]
    return np.asarray(np.clip(np.minimum(x, hi) - lo, 0.0, None), dtype=np.float64)


def _solver() -> tuple[pulp.LpSolver, str]:
    available = set(pulp.listSolvers(onlyAvailable=True))
    if "HiGHS" in available:
        return pulp.HiGHS(msg=False), "HiGHS"
    if "HiGHS_CMD" in available:
        return pulp.HiGHS_CMD(msg=False), "HiGHS_CMD"
    return pulp.PULP_CBC_CMD(msg=False), "PULP_CBC_CMD"


def design_curve(
    team: Team,
    model: AttainmentModel,
    *,
    budget: int,
    cvar_budget: int | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
    m_max: float = DEFAULT_M_MAX,
    leverage_min: float | None = None,
    alpha: float = 0.9,
    flat_last_band: bool = False,
    n_scenarios: int = 5_000,
    seed: int = 0,
    attainment: FloatArray | None = None,
    cvar_method: str = "cuts",
    max_cuts: int = 500,
) -> DesignResult:
    """Choose band multipliers maximising the expected marginal payout under budgets.

    Parameters
    ----------
    team : the reps of one role (their TI, base, quota and μ; their current curve is ignored)
    model : attainment model used to draw the scenarios
    budget : expected total cost budget B (cents, base + incentive + SPIF)
    cvar_budget : CVaR_α budget B_α (cents) or ``None``
    grid : breakpoints of the outer grid; must start at 0 and contain 1 (quota)
    m_max : upper bound of every multiplier (policy default 3.0)
    leverage_min : minimum payout multiple at the 90th-percentile attainment (or ``None``)
    alpha : CVaR level (0.9)
    flat_last_band : force the multiplier of the unbounded last band to 0 (a cap at a_K)
    n_scenarios, seed : scenario set (ignored when ``attainment`` is given)
    attainment : optional scenario matrix (scenarios × reps) to design on
    cvar_method : ``"cuts"`` (default: exact cutting planes on the dual of the CVaR) or ``"ru"``
        (the Rockafellar–Uryasev auxiliaries t, u_s in one LP); same feasible set
    max_cuts : limit of cutting-plane rounds

    Returns
    -------
    DesignResult
        Infeasible budgets give ``status = infeasible`` (not an exception).
    """
    g = tuple(float(x) for x in grid)
    if not g or g[0] != 0.0 or any(b <= a for a, b in zip(g, g[1:], strict=False)):
        raise ParameterError(f"grid must start at 0 and increase strictly. Got {g}.")
    if 1.0 not in g:
        raise ParameterError(f"grid must contain the quota breakpoint 1.0. Got {g}.")
    if not (m_max >= 1.0):
        raise ParameterError(f"m_max must be >= 1 (f(1) = 1 needs it). Got {m_max}.")
    if not (0.0 < alpha < 1.0):
        raise ParameterError(f"alpha must be in (0, 1). Got {alpha}.")
    if budget <= 0:
        raise ParameterError(f"budget must be > 0 cents. Got {budget}.")
    if cvar_method not in ("cuts", "ru"):
        raise ParameterError(f"cvar_method must be 'cuts' or 'ru'. Got {cvar_method!r}.")
    k_bands = len(g)
    ti = team.ti.astype(np.float64)
    fixed = float(team.base.sum()) + team.spif
    lo = np.asarray(g)
    hi = np.append(lo[1:], np.inf)

    width = hi - lo

    def band_rows(a: FloatArray) -> tuple[FloatArray, FloatArray]:
        # G[s, k] = Σ_i TI_i·ℓ_k(A_si), ℓ_k(a) = clip(a − a_k, 0, a_{k+1} − a_k), and the count
        # of rep-scenarios in each band (one searchsorted for all bands)
        rows = np.empty((a.shape[0], k_bands), dtype=np.float64)
        above = np.empty(k_bands + 1, dtype=np.float64)  # rep-scenarios with a > a_k
        above[k_bands] = 0.0
        tmp = np.empty_like(a)
        for k in range(k_bands):
            np.subtract(a, lo[k], out=tmp)
            if np.isfinite(width[k]):
                np.clip(tmp, 0.0, width[k], out=tmp)
            else:
                np.maximum(tmp, 0.0, out=tmp)
            rows[:, k] = tmp @ ti
            above[k] = np.count_nonzero(tmp)
        return rows, above[:-1] - above[1:]

    if attainment is None:
        # block by block (the same draws as simulate_cost/sample_attainment for this seed), so
        # memory stays at one block plus a float32 copy for the 90th percentile
        zc, blocks = _block_plan(n_scenarios, len(team), seed, 200_000)
        big = np.empty((n_scenarios, k_bands), dtype=np.float64)
        flat = np.empty(n_scenarios * len(team), dtype=np.float32)

        def run(block: tuple[int, int, np.random.SeedSequence]) -> FloatArray:
            s0, s1, kid = block
            blk = _attainment_block(team.mu, model, zc[s0:s1], kid)
            flat[s0 * len(team):s1 * len(team)] = blk.ravel()
            big[s0:s1], cnt = band_rows(blk.astype(np.float64))
            return cnt

        # blocks are independent streams: threads change the speed, never the numbers
        with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 4)) as pool:
            counts = np.sum(list(pool.map(run, blocks)), axis=0)
        a90 = _quantile_inplace(flat, 0.9)
        del flat
        n_cells = n_scenarios * len(team)
    else:
        a = np.asarray(attainment, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != len(team):
            raise ParameterError("attainment must be a scenarios × reps matrix")
        n_scenarios = a.shape[0]
        big, counts = band_rows(a)
        a90 = float(np.quantile(a, 0.9))
        n_cells = a.size
    pi = counts / n_cells
    gbar = big.mean(axis=0)
    len1 = _band_lengths(np.asarray(1.0), g)
    len90 = _band_lengths(np.asarray(a90), g)

    scale = float(budget)  # money in units of the budget keeps the LP well scaled
    above = [k for k in range(k_bands) if g[k] >= 1.0
             and not (flat_last_band and k == k_bands - 1)]
    solver, solver_name = _solver()

    def build(cuts: list[FloatArray]) -> tuple[pulp.LpProblem, list[pulp.LpVariable],
                                               dict[str, pulp.LpConstraint]]:
        prob = pulp.LpProblem("comp_design", pulp.LpMaximize)
        m = [pulp.LpVariable(f"m{k}", lowBound=0.0,
                             upBound=0.0 if (flat_last_band and k == k_bands - 1) else m_max)
             for k in range(k_bands)]
        prob += pulp.lpDot(pi.tolist(), m), "expected_marginal_payout"
        cons: dict[str, pulp.LpConstraint] = {}
        cons["expected_cost"] = pulp.LpAffineExpression(
            [(m[k], gbar[k] / scale) for k in range(k_bands)]) <= (budget - fixed) / scale
        cons["f(1)=1"] = pulp.LpAffineExpression(
            [(m[k], float(len1[k])) for k in range(k_bands) if len1[k] > 0]) == 1.0
        for k0, k1 in zip(above, above[1:], strict=False):
            cons[f"monotone_above_quota[{g[k1]:g}]"] = m[k1] - m[k0] >= 0
        if leverage_min is not None:
            cons["leverage"] = pulp.LpAffineExpression(
                [(m[k], float(len90[k])) for k in range(k_bands) if len90[k] > 0]
            ) >= leverage_min
        if cvar_budget is not None and cvar_method == "ru":
            t = pulp.LpVariable("t")
            u = [pulp.LpVariable(f"u{s}", lowBound=0.0) for s in range(n_scenarios)]
            w = 1.0 / ((1.0 - alpha) * n_scenarios)
            cons["cvar"] = (t + pulp.LpAffineExpression([(us, w) for us in u])
                            <= (cvar_budget - fixed) / scale)
            gs = big / scale
            for s in range(n_scenarios):
                prob += (pulp.LpAffineExpression(
                    [(u[s], 1.0), (t, 1.0)] + [(m[k], -gs[s, k]) for k in range(k_bands)]
                ) >= 0, f"tail{s}")
        for i, cut in enumerate(cuts):
            cons[f"cvar#{i}"] = pulp.LpAffineExpression(
                [(m[k], float(cut[k]) / scale) for k in range(k_bands)]
            ) <= (cvar_budget - fixed) / scale  # type: ignore[operator]
        for name, c in cons.items():
            prob += c, _safe(name)
        return prob, m, cons

    # CVaR by cutting planes (default): CVaR_α(C) is the maximum over tail-weight vectors w
    # (0 ≤ w_s ≤ 1/((1−α)N), Σ w = 1) of Σ w_s·C_s — the LP dual of the Rockafellar–Uryasev
    # auxiliaries, so it defines the same feasible set. Each round adds the cut of the current
    # worst tail until the CVaR budget holds; K variables instead of N + K + 1.
    cuts: list[FloatArray] = []
    for _ in range(max_cuts):
        prob, m, cons = build(cuts)
        prob.solve(solver)
        status = pulp.LpStatus[prob.status]
        if status != "Optimal" or cvar_budget is None or cvar_method == "ru":
            break
        trial = np.asarray([max(float(v.value() or 0.0), 0.0) for v in m])
        c_trial = fixed + big @ trial
        if cvar(c_trial, alpha) <= cvar_budget + 1e-9 * scale:
            break
        cuts.append(_tail_weights(c_trial, alpha) @ big)
    else:
        status = "Not Solved"
    if status != "Optimal":
        st = DesignStatus.INFEASIBLE if status == "Infeasible" else DesignStatus.FAILED
        return DesignResult(st, None, math.nan, math.nan, math.nan, math.nan, math.nan, alpha,
                            a90, (), {}, (), n_scenarios, seed, solver_name,
                            f"the LP is {status.lower()}: no multipliers meet every constraint")
    mult = np.asarray([max(float(v.value() or 0.0), 0.0) for v in m])
    curve = PayoutCurve(g, tuple(float(x) for x in mult))
    costs = fixed + big @ mult
    binding = []
    duals: dict[str, float] = {}
    for name in cons:
        c = prob.constraints[_safe(name)]
        slack = c.slack if c.slack is not None else 0.0
        key = "cvar" if name.startswith("cvar") else name
        if name != "f(1)=1" and abs(slack) <= 1e-7 and key not in binding:
            binding.append(key)
        if c.pi is not None:
            # budgets: objective gain per extra cent (a shadow price, >= 0); others: raw dual
            pi_val = float(c.pi)
            if key in ("expected_cost", "cvar"):
                duals[key] = duals.get(key, 0.0) + abs(pi_val) / scale
            else:
                duals[key] = pi_val
    for k in range(k_bands):
        if mult[k] >= m_max - 1e-9:
            binding.append(f"m_max[{g[k]:g}]")
    sens = []
    h = 0.01
    p90 = float(np.quantile(costs, 0.9))
    for k in range(k_bands):
        bumped = costs + h * big[:, k]
        sens.append(BandSensitivity(g[k], g[k + 1] if k + 1 < k_bands else None, float(mult[k]),
                                    float(gbar[k]), float((np.quantile(bumped, 0.9) - p90) / h)))
    closed = expected_cost(team.with_curve(curve), model).total
    return DesignResult(
        DesignStatus.OPTIMAL, curve, float(pi @ mult), float(costs.mean()), closed, p90,
        cvar(costs, alpha), alpha, a90, tuple(binding), duals, tuple(sens), n_scenarios, seed,
        solver_name)


def _quantile_inplace(x: npt.NDArray[np.float32], q: float) -> float:
    """``np.quantile(x, q)`` (linear interpolation) by partitioning ``x`` in place (no copy)."""
    pos = q * (x.size - 1)
    k = int(math.floor(pos))
    k1 = min(k + 1, x.size - 1)
    x.partition([k, k1])
    return float(x[k]) + (pos - k) * (float(x[k1]) - float(x[k]))


def _tail_weights(costs: FloatArray, alpha: float) -> FloatArray:
    """The maximising tail weights of CVaR_α: 1/((1−α)N) on the worst scenarios, the fractional
    remainder on the next one (so that Σ w·C = CVaR_α(C))."""
    n = costs.size
    cap = 1.0 / ((1.0 - alpha) * n)
    order = np.argsort(-costs, kind="stable")
    w = np.zeros(n, dtype=np.float64)
    full = int(math.floor((1.0 - alpha) * n + 1e-9))
    w[order[:full]] = cap
    rest = 1.0 - full * cap
    if rest > 1e-12 and full < n:
        w[order[full]] = rest
    return w


def _safe(name: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in name)
    return out.strip("_") or "c"


def accelerator_for_budget(
    ti: npt.ArrayLike, mu: npt.ArrayLike, sigma: float, variable_budget: float
) -> float:
    """Closed-form accelerator m* for "linear to quota, m above" meeting a mean variable budget.

    ``m* = 1 + (V − Σ TI_i·E[A_i]) / Σ TI_i·E[(A_i − 1)⁺]`` with ``V`` the expected incentive
    budget (cents). For one rep with V = 1.20·TI, μ = 0, σ = 0.3: m* = 2.05206.
    """
    t = np.asarray(ti, dtype=np.float64)
    mu_a = np.broadcast_to(np.asarray(mu, dtype=np.float64), t.shape)
    ea = np.exp(mu_a + sigma**2 / 2)
    over = call_value(mu_a, sigma, 1.0)
    denom = float(np.sum(t * over))
    if denom <= 0:
        raise ParameterError("no expected attainment above quota: the accelerator is undefined")
    return 1.0 + (float(variable_budget) - float(np.sum(t * ea))) / denom


__all__ = [
    "BandSensitivity", "DEFAULT_GRID", "DEFAULT_M_MAX", "DesignResult", "DesignStatus",
    "accelerator_for_budget", "design_curve",
]
