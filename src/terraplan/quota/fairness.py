"""Fairness report of a quota allocation: dispersion, difficulty, probabilities, warnings.

For every plan: per-rep potential and workload totals; CV (ddof = 0), Gini, max/min and the
share within ±15 % of the mean for potential, workload and κ_i = TQ_i / P_i (equal κ = equal
difficulty); quota growth against re-cut history; each rep's probability of reaching quota under
the lognormal attainment model; the implied share of reps at quota and the company's probability
of making the target (with the common shock). Warnings flag over-assignment above 20 %, quota:OTE
outside 3–8×, Gini(κ) above a threshold and a street total below target after ramp relief.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from terraplan.errors import ParameterError
from terraplan.evaluate.fairness import band_share, cv, gini, max_min
from terraplan.quota.allocate import QuotaAllocation
from terraplan.quota.attainment import AttainmentModel, prob_at_least, prob_sum_at_least
from terraplan.quota.periods import QuotaSchedule

#: Policy defaults (no public standard): over-assignment warning level, quota:OTE band,
#: Gini(κ) threshold.
OVER_ASSIGNMENT_WARN = 0.20
QUOTA_TO_OTE_BAND = (3.0, 8.0)
GINI_KAPPA_THRESHOLD = 0.10


class WarningCode(StrEnum):
    OVER_ASSIGNMENT = "over_assignment"
    QUOTA_TO_OTE = "quota_to_ote"
    GINI_KAPPA = "gini_kappa"
    STREET_BELOW_TARGET = "street_below_target"


@dataclass(frozen=True, slots=True)
class QuotaWarning:
    code: WarningCode
    message: str
    rep_id: str | None = None


@dataclass(frozen=True, slots=True)
class Dispersion:
    """CV (ddof = 0), Gini, max/min, share within ±15 % of the mean, and the mean."""

    mean: float
    cv: float
    gini: float
    max_min: float
    band_share: float

    @classmethod
    def of(cls, values: npt.ArrayLike, band: float = 0.15) -> Dispersion:
        a = np.asarray(values, dtype=np.float64)
        return cls(float(a.mean()), cv(a), gini(a), max_min(a), band_share(a, band=band))


@dataclass(frozen=True, slots=True)
class RepFairness:
    rep_id: str
    potential: int
    workload: float
    quota: int
    ramped_quota: int
    kappa: float  # TQ / P (nan when P = 0)
    growth: float | None  # TQ / H − 1 (None without history or when H = 0)
    p_quota: float  # Pr(bookings ≥ ramped quota)
    quota_to_ote: float | None


@dataclass(frozen=True, slots=True)
class FairnessReport:
    reps: tuple[RepFairness, ...]
    potential: Dispersion
    workload: Dispersion
    kappa: Dispersion
    share_at_quota: float
    p_company: float
    target: int
    street: int
    street_after_relief: int
    warnings: tuple[QuotaWarning, ...]


def fairness_report(
    allocation: QuotaAllocation,
    *,
    potential: Sequence[int] | npt.NDArray[np.int64],
    workload: Sequence[float] | npt.NDArray[np.float64],
    history: Sequence[int] | npt.NDArray[np.int64] | None = None,
    schedule: QuotaSchedule | None = None,
    ote: Sequence[int | None] | None = None,
    model: AttainmentModel = AttainmentModel(),
    expected_bookings: Sequence[float] | npt.NDArray[np.float64] | None = None,
    gini_kappa_threshold: float = GINI_KAPPA_THRESHOLD,
    band: float = 0.15,
) -> FairnessReport:
    """Fairness report for ``allocation`` (arrays aligned with ``allocation.rep_ids``).

    Parameters
    ----------
    potential, workload : per-rep territory totals (cents, hours)
    history : per-rep history re-cut to the new territories (cents), for quota growth
    schedule : ramped quotas (relief mode lowers the street); default RQ = TQ
    ote : per-rep OTE in cents (``None`` entries skipped) for the quota:OTE check
    model : attainment model (σ total, ρ common share)
    expected_bookings : expected bookings per rep in cents. Default: the company books exactly
        the target T, spread by the allocation index and scaled by each rep's ramp capacity
        (RQ/TQ) — the "company on target" view of spec example E22.
    gini_kappa_threshold : warn when Gini(κ) exceeds it (policy default 0.10)
    """
    ids = allocation.rep_ids
    n = len(ids)
    pot = np.asarray(potential, dtype=np.int64)
    wl = np.asarray(workload, dtype=np.float64)
    if pot.shape != (n,) or wl.shape != (n,):
        raise ParameterError(f"potential and workload need one value per rep ({n})")
    tq = np.asarray(allocation.quotas, dtype=np.float64)
    if schedule is not None:
        by_id = {r.rep_id: r.ramped_quota for r in schedule.rows}
        rq = np.asarray([by_id[r] for r in ids], dtype=np.float64)
    else:
        rq = tq.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(pot > 0, tq / np.maximum(pot, 1), np.nan)
    if expected_bookings is None:
        cap = np.where(tq > 0, rq / np.where(tq > 0, tq, 1.0), 1.0)
        m = np.asarray([float(b) for b in allocation.index]) * allocation.target * cap
    else:
        m = np.asarray(expected_bookings, dtype=np.float64)
        if m.shape != (n,):
            raise ParameterError(f"expected_bookings needs one value per rep ({n})")
    sigma = model.sigma
    with np.errstate(divide="ignore"):
        mu = np.log(np.where(m > 0, m, 1.0) / np.where(rq > 0, rq, 1.0)) - sigma**2 / 2
    p = np.where(rq > 0, np.where(m > 0, prob_at_least(mu, sigma, 1.0), 0.0), 1.0)
    carrying = rq > 0
    share_at_quota = float(p[carrying].mean()) if carrying.any() else float("nan")
    p_company = prob_sum_at_least(m, model, float(allocation.target))

    hist = None if history is None else np.asarray(history, dtype=np.int64)
    rows = []
    warnings: list[QuotaWarning] = []
    lo_band, hi_band = QUOTA_TO_OTE_BAND
    for i, rid in enumerate(ids):
        growth = None
        if hist is not None and hist[i] > 0:
            growth = float(tq[i] / hist[i] - 1)
        q2o = None
        if ote is not None and ote[i]:
            q2o = float(tq[i]) / float(ote[i])  # type: ignore[arg-type]
            if not (lo_band <= q2o <= hi_band):
                warnings.append(QuotaWarning(
                    WarningCode.QUOTA_TO_OTE,
                    f"rep {rid}: quota:OTE {q2o:.1f}x is outside {lo_band:g}-{hi_band:g}x "
                    "(benchmark 4-5x)", rid))
        rows.append(RepFairness(
            rid, int(pot[i]), float(wl[i]), int(allocation.quotas[i]), int(rq[i]),
            float(kappa[i]), growth, float(p[i]), q2o))
    o = float(allocation.over_assignment)
    if o > OVER_ASSIGNMENT_WARN:
        warnings.insert(0, QuotaWarning(
            WarningCode.OVER_ASSIGNMENT,
            f"over-assignment {o:.1%} is above {OVER_ASSIGNMENT_WARN:.0%}: few reps will reach "
            "quota when the company is on target"))
    kap = kappa[np.isfinite(kappa)]
    kdisp = Dispersion.of(kap, band) if kap.size else Dispersion(*(math.nan,) * 5)
    if kap.size and kdisp.gini > gini_kappa_threshold:
        warnings.append(QuotaWarning(
            WarningCode.GINI_KAPPA,
            f"Gini of quota/potential is {kdisp.gini:.3f}, above {gini_kappa_threshold:g}: "
            "quotas are unequally hard"))
    street_after = int(rq.sum())
    if street_after < allocation.target:
        warnings.append(QuotaWarning(
            WarningCode.STREET_BELOW_TARGET,
            f"ramped quotas total ${street_after / 100:,.2f}, below the target "
            f"${allocation.target / 100:,.2f} after ramp relief"))
    return FairnessReport(
        reps=tuple(rows), potential=Dispersion.of(pot, band), workload=Dispersion.of(wl, band),
        kappa=kdisp, share_at_quota=share_at_quota, p_company=p_company,
        target=allocation.target, street=allocation.street, street_after_relief=street_after,
        warnings=tuple(warnings),
    )


__all__ = [
    "Dispersion", "FairnessReport", "GINI_KAPPA_THRESHOLD", "QuotaWarning", "RepFairness",
    "WarningCode", "fairness_report",
]
