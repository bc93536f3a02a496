"""The lognormal attainment model shared by quotas (probabilities) and comp (cost).

ln A_i = μ_i + σ_c·Z_c + σ_e·Z_i with Z ~ N(0, 1) independent. Z_c is a shock common to every
rep (market, product, macro); without it a team's P90 cost collapses toward the mean. The total
σ² = σ_c² + σ_e² and the correlation ρ = σ_c²/σ² are the two parameters; μ_i comes from a target
share of reps at quota (Pr(A ≥ 1) = Φ(μ/σ)) or from a mean attainment (μ = ln m − σ²/2).

Defaults (policy, no public standard): σ = 0.35 when there is no history, ρ = 0.3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from terraplan.errors import ParameterError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AttainmentModel:
    """Total log-volatility ``sigma`` and common-shock correlation ``rho`` of attainment.

    Parameters
    ----------
    sigma : float
        Total standard deviation of ln A, > 0 (default 0.35, policy default).
    rho : float
        Share of the log-variance that is common to all reps, in [0, 1] (default 0.3).
    """

    sigma: float = 0.35
    rho: float = 0.3

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ParameterError(
                f"The 'sigma' parameter of AttainmentModel must be a float in (0, inf). "
                f"Got {self.sigma!r}."
            )
        if not (0.0 <= self.rho <= 1.0):
            raise ParameterError(
                f"The 'rho' parameter of AttainmentModel must be a float in [0, 1]. "
                f"Got {self.rho!r}."
            )

    @property
    def sigma_common(self) -> float:
        return self.sigma * math.sqrt(self.rho)

    @property
    def sigma_idio(self) -> float:
        return self.sigma * math.sqrt(1.0 - self.rho)

    def mu_for_share(self, share_at_quota: float) -> float:
        """μ such that Pr(A ≥ 1) = ``share_at_quota`` (= Φ(μ/σ))."""
        if not (0.0 < share_at_quota < 1.0):
            raise ParameterError(
                f"share_at_quota must be a float in (0, 1). Got {share_at_quota!r}."
            )
        return float(self.sigma * ndtri(share_at_quota))

    def mu_for_mean(self, mean_attainment: float) -> float:
        """μ such that E[A] = ``mean_attainment`` (μ = ln m − σ²/2)."""
        if not (mean_attainment > 0):
            raise ParameterError(f"mean_attainment must be > 0. Got {mean_attainment!r}.")
        return math.log(mean_attainment) - self.sigma**2 / 2


def prob_at_least(
    mu: npt.ArrayLike, sigma: npt.ArrayLike, level: npt.ArrayLike = 1.0
) -> FloatArray:
    """Pr(A ≥ level) = Φ((μ − ln level)/σ) for A ~ LN(μ, σ); 0 for level = +inf, 1 at level ≤ 0."""
    mu_a = np.asarray(mu, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    lv = np.asarray(level, dtype=np.float64)
    with np.errstate(divide="ignore"):
        d2 = (mu_a - np.log(np.where(lv > 0, lv, 1.0))) / s
    return np.asarray(np.where(lv > 0, ndtr(d2), 1.0), dtype=np.float64)


def call_value(mu: npt.ArrayLike, sigma: npt.ArrayLike, strike: npt.ArrayLike) -> FloatArray:
    """E[(A − κ)⁺] for A ~ LN(μ, σ): e^{μ+σ²/2}·Φ(d₂ + σ) − κ·Φ(d₂), d₂ = (μ − ln κ)/σ.

    At κ ≤ 0 it is E[A] − κ (the option is always in the money).
    """
    mu_a = np.asarray(mu, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    mean = np.exp(mu_a + s * s / 2)
    pos = k > 0
    with np.errstate(divide="ignore"):
        d2 = (mu_a - np.log(np.where(pos, k, 1.0))) / s
    val = mean * ndtr(d2 + s) - k * ndtr(d2)
    return np.asarray(np.where(pos, np.maximum(val, 0.0), mean - k), dtype=np.float64)


def lognormal_tail_mean(mu: float, sigma: float, q: float) -> float:
    """E[A | A ≥ a_q] = e^{μ+σ²/2}·Φ(σ − z_q)/(1 − q), a_q the q-quantile of A ~ LN(μ, σ)."""
    if not (0.0 <= q < 1.0):
        raise ParameterError(f"q must be in [0, 1). Got {q!r}.")
    zq = float(ndtri(q)) if q > 0 else -math.inf
    return float(math.exp(mu + sigma**2 / 2) * ndtr(sigma - zq) / (1 - q))


def lognormal_quantile(mu: float, sigma: float, q: float) -> float:
    """The q-quantile e^{μ + σ z_q} of A ~ LN(μ, σ)."""
    if not (0.0 < q < 1.0):
        raise ParameterError(f"q must be in (0, 1). Got {q!r}.")
    return float(math.exp(mu + sigma * ndtri(q)))


def prob_sum_at_least(
    means: npt.ArrayLike, model: AttainmentModel, threshold: float
) -> float:
    """Pr(Σ_i X_i ≥ threshold) where X_i = m_i·e^{−σ²/2 + σ_c Z_c + σ_e Z_i} (so E[X_i] = m_i).

    Conditional on the common shock the idiosyncratic sum is approximated by a lognormal with
    the same first two moments (Fenton–Wilkinson). Its log-variance s² = ln(1 + Σm²(e^{σ_e²} − 1)
    / (Σm)²) does not depend on Z_c, so ln Σ X is normal with variance σ_c² + s² and the
    probability has a closed form. Exact when ρ = 1 (a single shock) and when there is one rep.
    """
    m = np.asarray(means, dtype=np.float64)
    if np.any(m < 0):
        raise ParameterError("expected bookings must be >= 0")
    total = float(m.sum())
    if threshold <= 0:
        return 1.0
    if total <= 0:
        return 0.0
    sc, se = model.sigma_common, model.sigma_idio
    s2 = math.log1p(float(np.sum(m * m)) * math.expm1(se * se) / (total * total))
    v = sc * sc + s2
    if v <= 0:
        return 1.0 if total >= threshold else 0.0
    return float(ndtr((math.log(total / threshold) - v / 2) / math.sqrt(v)))


__all__ = [
    "AttainmentModel", "call_value", "lognormal_quantile", "lognormal_tail_mean",
    "prob_at_least", "prob_sum_at_least",
]
