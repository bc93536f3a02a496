"""Cost of a compensation plan: closed form, Monte Carlo with a common shock, historical replay.

Cost per scenario ``C = Σ_i (base_i + TI_i·f_i(A_i)) + SPIF`` and ``CCOS = C / Σ_i Q_i·A_i``.
Attainment follows :class:`terraplan.quota.AttainmentModel`:
``ln A_i = μ_i + σ_c·Z_c + σ_e·Z_i``.

*Closed form.* A piecewise-linear f is a sum of calls and digitals on A, so
``E[f(A)] = Σ Δs_j·E[(A − c_j)⁺] + Σ J_j·Pr(A ≥ c_j)`` with the Black–Scholes-type lognormal
formulas; the expected team cost is exact (the common shock does not change a mean). It is the
oracle the simulation is tested against.

*Monte Carlo.* Scenarios are drawn in chunks (memory stays bounded whatever the team size); the
common shocks come from one child stream and the idiosyncratic shocks from another, so results
for a seed do not depend on the chunk size. Reports mean (with its standard error), P50, P90 and
CVaR₉₀ of the total cost and of CCOS, and a histogram.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from terraplan.comp.curve import FastTables, PayoutCurve, evaluate_tables
from terraplan.comp.plan import CompPlan
from terraplan.errors import ParameterError
from terraplan.quota.attainment import AttainmentModel

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Team:
    """Reps whose plans are costed together (arrays aligned with ``rep_ids``).

    ``base``, ``ti`` and ``quota`` are int64 cents; ``mu`` is each rep's log-attainment mean;
    ``curve_of[i]`` indexes ``curves``; ``spif`` is a fixed SPIF pool (cents).
    """

    rep_ids: tuple[str, ...]
    base: npt.NDArray[np.int64]
    ti: npt.NDArray[np.int64]
    quota: npt.NDArray[np.int64]
    mu: FloatArray
    curves: tuple[PayoutCurve, ...]
    curve_of: npt.NDArray[np.intp]
    spif: int = 0

    def __post_init__(self) -> None:
        n = len(self.rep_ids)
        for name in ("base", "ti", "quota", "mu", "curve_of"):
            a = getattr(self, name)
            if np.shape(a) != (n,):
                raise ParameterError(f"Team.{name} needs one value per rep ({n})")
        if n == 0:
            raise ParameterError("a team needs at least one rep")
        if np.any(self.quota <= 0):
            raise ParameterError("every rep of a team needs a quota > 0")
        if np.any(self.curve_of < 0) or np.any(self.curve_of >= len(self.curves)):
            raise ParameterError("Team.curve_of indexes outside Team.curves")
        if not np.all(np.isfinite(self.mu)):
            raise ParameterError("Team.mu must be finite")
        if self.spif < 0:
            raise ParameterError("the SPIF pool must be >= 0 cents")

    @classmethod
    def from_plans(
        cls, rep_ids: Sequence[str], plans: Sequence[CompPlan], mu: float | Sequence[float],
        spif: int = 0,
    ) -> Team:
        """A team from per-rep plans; curves shared by identity or equality are grouped."""
        if len(rep_ids) != len(plans):
            raise ParameterError("one plan per rep id is needed")
        curves: list[PayoutCurve] = []
        of: list[int] = []
        for p in plans:
            for j, c in enumerate(curves):
                if c == p.curve:
                    of.append(j)
                    break
            else:
                curves.append(p.curve)
                of.append(len(curves) - 1)
        mu_a = np.broadcast_to(np.asarray(mu, dtype=np.float64), (len(plans),)).copy()
        return cls(
            tuple(rep_ids),
            np.asarray([p.base for p in plans], dtype=np.int64),
            np.asarray([p.target_incentive for p in plans], dtype=np.int64),
            np.asarray([p.quota for p in plans], dtype=np.int64),
            mu_a, tuple(curves), np.asarray(of, dtype=np.intp), int(spif),
        )

    def __len__(self) -> int:
        return len(self.rep_ids)

    def with_curve(self, curve: PayoutCurve) -> Team:
        """The same team with every rep on ``curve``."""
        return Team(self.rep_ids, self.base, self.ti, self.quota, self.mu, (curve,),
                    np.zeros(len(self), dtype=np.intp), self.spif)


def mu_from_expected(
    expected_bookings: npt.ArrayLike, quota: npt.ArrayLike, model: AttainmentModel
) -> FloatArray:
    """μ_i = ln(m_i / Q_i) − σ²/2 so that E[A_i·Q_i] = m_i."""
    m = np.asarray(expected_bookings, dtype=np.float64)
    q = np.asarray(quota, dtype=np.float64)
    if np.any(m <= 0) or np.any(q <= 0):
        raise ParameterError("expected bookings and quotas must be > 0")
    return np.asarray(np.log(m / q) - model.sigma**2 / 2, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Closed-form expectations (float cents): per rep and team."""

    per_rep: FloatArray
    total: float
    fixed: float
    expected_bookings: float
    expected_payout_multiple: FloatArray  # E[f(A_i)] per rep

    @property
    def ccos_of_expectations(self) -> float:
        """E[C] / E[Σ bookings] (not E[CCOS], which the simulation reports)."""
        return self.total / self.expected_bookings


def expected_cost(team: Team, model: AttainmentModel) -> CostEstimate:
    """Exact expected cost of ``team`` under ``model`` (lognormal call decomposition)."""
    ef = np.zeros(len(team), dtype=np.float64)
    for j, curve in enumerate(team.curves):
        idx = np.flatnonzero(team.curve_of == j)
        ef[idx] = curve.expected(team.mu[idx], model.sigma)
    per_rep = team.base.astype(np.float64) + team.ti.astype(np.float64) * ef
    ebook = float(np.sum(team.quota * np.exp(team.mu + model.sigma**2 / 2)))
    return CostEstimate(per_rep, float(per_rep.sum()) + team.spif,
                        float(team.base.sum()) + team.spif, ebook, ef)


def cvar(values: npt.ArrayLike, alpha: float = 0.9) -> float:
    """Conditional value at risk (Rockafellar–Uryasev): VaR + E[(X − VaR)⁺]/(1 − α), with VaR
    the lower α-quantile of the sample. Equals the mean of the worst (1 − α) share."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0:
        raise ParameterError("CVaR of an empty sample")
    if not (0.0 <= alpha < 1.0):
        raise ParameterError(f"alpha must be in [0, 1). Got {alpha}.")
    k = max(int(math.ceil(alpha * x.size)) - 1, 0)
    var = x[k]
    return float(var + np.mean(np.maximum(x - var, 0.0)) / (1.0 - alpha))


@dataclass(frozen=True, slots=True, eq=False)
class CostSimulation:
    """Monte Carlo cost distribution (cents, floats) and CCOS distribution."""

    n_scenarios: int
    seed: int
    model: AttainmentModel
    mean: float
    std_error: float
    p50: float
    p90: float
    cvar90: float
    ccos_mean: float
    ccos_p50: float
    ccos_p90: float
    ccos_cvar90: float
    histogram_counts: npt.NDArray[np.int64]
    histogram_edges: FloatArray
    costs: FloatArray
    bookings: FloatArray
    closed_form_mean: float

    @property
    def z_score(self) -> float:
        """(MC mean − closed-form mean) / standard error."""
        return (self.mean - self.closed_form_mean) / self.std_error if self.std_error else 0.0


def _block_rows(n_reps: int, block_cells: int) -> int:
    return max(1, min(block_cells // max(n_reps, 1), 1 << 20))


def _block_plan(
    n_scenarios: int, n_reps: int, seed: int, block_cells: int
) -> tuple[FloatArray, list[tuple[int, int, np.random.SeedSequence]]]:
    """Common shocks and the (start, stop, seed) of each block of scenarios.

    The common shocks come from one child stream; each block of scenarios gets its own child
    stream for the idiosyncratic shocks, so blocks can run in any order or in parallel and the
    result is the same for a seed (and block size).
    """
    if n_scenarios <= 0:
        raise ParameterError(f"n_scenarios must be > 0. Got {n_scenarios}.")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0. Got {seed!r}.")
    common, idio = np.random.SeedSequence(int(seed)).spawn(2)
    zc = np.random.default_rng(common).standard_normal(n_scenarios)
    rows = _block_rows(n_reps, block_cells)
    starts = list(range(0, n_scenarios, rows))
    kids = idio.spawn(len(starts))
    return zc, [(s0, min(s0 + rows, n_scenarios), kid) for s0, kid in zip(starts, kids,
                                                                          strict=True)]


def _attainment_block(
    mu: FloatArray, model: AttainmentModel, zc: FloatArray, kid: np.random.SeedSequence,
    dtype: type[np.floating] = np.float32,
) -> npt.NDArray[np.floating]:
    """exp(μ + σ_c·Z_c + σ_e·Z) for one block (rows = scenarios). float32 halves the memory
    traffic; attainment needs no more than 7 significant digits."""
    rng = np.random.Generator(np.random.SFC64(kid))  # fastest numpy bit generator
    a = rng.standard_normal((len(zc), len(mu)), dtype=dtype)
    a *= dtype(model.sigma_idio)
    a += mu.astype(dtype)
    a += (model.sigma_common * zc).astype(dtype)[:, None]
    np.exp(a, out=a)
    return a


def sample_attainment(
    mu: FloatArray, model: AttainmentModel, n_scenarios: int, seed: int,
    block_cells: int = 200_000,
) -> FloatArray:
    """Attainment matrix (scenarios × reps, float64) — the same draws :func:`simulate_cost`
    uses for this seed and block size. For modest sizes (design LPs, tests)."""
    zc, blocks = _block_plan(n_scenarios, len(mu), seed, block_cells)
    out = np.empty((n_scenarios, len(mu)), dtype=np.float64)
    for s0, s1, kid in blocks:
        out[s0:s1] = _attainment_block(mu, model, zc[s0:s1], kid)
    return out


@dataclass(frozen=True, slots=True)
class _CallForm:
    """A curve as calls and digitals: Σ_j ds_j·(a − c_j)⁺ + Σ_j J_j·1[a ≥ c_j] (float32)."""

    strikes: tuple[float, ...]
    dslopes: tuple[float, ...]
    digital_at: tuple[float, ...]
    digital_size: tuple[float, ...]

    @classmethod
    def of(cls, curve: PayoutCurve) -> _CallForm:
        k = curve.knots()
        slopes = [float(x) for x in k.slope]
        ds = [slopes[0]] + [b - a for a, b in zip(slopes, slopes[1:], strict=False)]
        calls = [(float(c), d) for c, d in zip(k.at, ds, strict=True) if d != 0]
        digs = [(float(c), float(j)) for c, j in zip(k.at, k.jump, strict=True) if j != 0]
        return cls(tuple(c for c, _ in calls), tuple(d for _, d in calls),
                   tuple(c for c, _ in digs), tuple(j for _, j in digs))


def _payout_block(form: _CallForm, a: npt.NDArray[np.float32],
                  ti32: npt.NDArray[np.float32]) -> FloatArray:
    """Σ_i TI_i·f(A_si) per row: one pass per call strike and a matrix-vector product each.

    Working in float32 with the call form needs no float64 copy of the block; each row sum
    carries a relative rounding error of about 1e-6, far below the Monte Carlo error.
    """
    out = np.zeros(a.shape[0], dtype=np.float64)
    tmp = np.empty_like(a)
    for c, d in zip(form.strikes, form.dslopes, strict=True):
        if c == 0.0:
            out += d * (a @ ti32).astype(np.float64)
            continue
        np.subtract(a, np.float32(c), out=tmp)
        np.maximum(tmp, np.float32(0.0), out=tmp)
        out += d * (tmp @ ti32).astype(np.float64)
    for c, j in zip(form.digital_at, form.digital_size, strict=True):
        np.greater_equal(a, np.float32(c), out=tmp, casting="unsafe")
        out += j * (tmp @ ti32).astype(np.float64)
    return out


def _team_payout(
    team: Team, a: npt.NDArray[np.floating], tables: Sequence[FastTables] | None = None
) -> FloatArray:
    """Σ_i TI_i·f_i(A_si) per scenario row of ``a`` (float64 reference path)."""
    ti = team.ti.astype(np.float64)
    tabs = tables if tables is not None else [c.fast_tables() for c in team.curves]
    if len(tabs) == 1:
        return np.asarray(evaluate_tables(tabs[0], a) @ ti, dtype=np.float64)
    out = np.zeros(a.shape[0], dtype=np.float64)
    for j, tab in enumerate(tabs):
        idx = np.flatnonzero(team.curve_of == j)
        out += evaluate_tables(tab, a[:, idx]) @ ti[idx]
    return out


def simulate_cost(
    team: Team,
    model: AttainmentModel,
    *,
    n_scenarios: int = 20_000,
    seed: int = 0,
    bins: int = 40,
    block_cells: int = 200_000,
    workers: int | None = None,
) -> CostSimulation:
    """Monte Carlo distribution of the team's total cost and CCOS.

    Parameters
    ----------
    team, model : the reps' plans and the attainment model
    n_scenarios : number of scenarios (default 20,000)
    seed : seed of ``np.random.SeedSequence``; the result is deterministic for a seed and
        ``block_cells`` whatever ``workers`` is
    bins : histogram bins
    block_cells : scenarios × reps drawn per block (memory ≈ 12 bytes × cells per worker)
    workers : threads (numpy releases the GIL in the heavy loops); default: CPU count, max 4
    """
    costs = np.empty(n_scenarios, dtype=np.float64)
    books = np.empty(n_scenarios, dtype=np.float64)
    fixed = float(team.base.sum()) + team.spif
    q32 = team.quota.astype(np.float32)
    zc, blocks = _block_plan(n_scenarios, len(team), seed, block_cells)
    forms = [_CallForm.of(c) for c in team.curves]
    groups = [np.flatnonzero(team.curve_of == j) for j in range(len(team.curves))]
    ti32 = team.ti.astype(np.float32)
    single = len(forms) == 1

    def run(block: tuple[int, int, np.random.SeedSequence]) -> None:
        s0, s1, kid = block
        a = _attainment_block(team.mu, model, zc[s0:s1], kid)
        if single:
            pay = _payout_block(forms[0], a, ti32)
        else:
            pay = np.zeros(s1 - s0, dtype=np.float64)
            for form, idx in zip(forms, groups, strict=True):
                pay += _payout_block(form, np.ascontiguousarray(a[:, idx]), ti32[idx])
        costs[s0:s1] = fixed + pay
        books[s0:s1] = a @ q32

    n_workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if n_workers > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            list(pool.map(run, blocks))
    else:
        for b in blocks:
            run(b)
    ccos = costs / books
    counts, edges = np.histogram(costs, bins=bins)
    se = float(costs.std(ddof=1) / math.sqrt(n_scenarios)) if n_scenarios > 1 else 0.0
    costs.flags.writeable = False
    books.flags.writeable = False
    return CostSimulation(
        n_scenarios=n_scenarios, seed=seed, model=model,
        mean=float(costs.mean()), std_error=se,
        p50=float(np.quantile(costs, 0.5)), p90=float(np.quantile(costs, 0.9)),
        cvar90=cvar(costs, 0.9),
        ccos_mean=float(ccos.mean()), ccos_p50=float(np.quantile(ccos, 0.5)),
        ccos_p90=float(np.quantile(ccos, 0.9)), ccos_cvar90=cvar(ccos, 0.9),
        histogram_counts=counts.astype(np.int64), histogram_edges=edges,
        costs=costs, bookings=books, closed_form_mean=expected_cost(team, model).total,
    )


def comonotone_cvar(team: Team, model: AttainmentModel, alpha: float = 0.9,
                    n_points: int = 20_000) -> float:
    """CVaR_α of the team cost when every rep moves together (ρ = 1, same total σ).

    The cost is then an increasing function of one normal Z, so CVaR_α = E[C | Z ≥ z_α]
    = (1 − α)⁻¹ ∫_α^1 C(Φ⁻¹(u)) du, computed by the midpoint rule in u. It bounds the CVaR
    for every ρ (CVaR is subadditive and comonotone-additive).
    """
    u = alpha + (np.arange(n_points) + 0.5) * (1 - alpha) / n_points
    z = ndtri(u)
    a = np.exp(team.mu[None, :] + model.sigma * z[:, None])
    c = float(team.base.sum()) + team.spif + _team_payout(team, a)
    return float(c.mean())


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Exact cost (cents) had this plan run on given bookings."""

    rep_ids: tuple[str, ...]
    pay: tuple[int, ...]
    incentive: tuple[int, ...]
    bookings: tuple[int, ...]
    total: int
    ccos: Fraction


def replay_cost(
    rep_ids: Sequence[str], plans: Sequence[CompPlan], bookings: Sequence[int],
    *, spif: int = 0,
) -> ReplayResult:
    """Historical replay: what these plans would have cost on last year's bookings (cents).

    Attainment is ``bookings_i / quota_i`` against this year's quotas; pay is exact to the cent.
    """
    if not (len(rep_ids) == len(plans) == len(bookings)):
        raise ParameterError("replay needs one plan and one bookings figure per rep")
    incs = [p.incentive(int(b)) for p, b in zip(plans, bookings, strict=True)]
    pay = [p.base + i for p, i in zip(plans, incs, strict=True)]
    total = sum(pay) + int(spif)
    tb = sum(int(b) for b in bookings)
    return ReplayResult(tuple(rep_ids), tuple(pay), tuple(incs), tuple(int(b) for b in bookings),
                        total, Fraction(total, tb) if tb else Fraction(0))


__all__ = [
    "CostEstimate", "CostSimulation", "ReplayResult", "Team", "comonotone_cvar", "cvar",
    "expected_cost", "mu_from_expected", "replay_cost", "sample_attainment",
    "simulate_cost",
]
