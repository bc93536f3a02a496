"""Fairness measures of a distribution of per-rep totals: pure functions on 1-D arrays.

Every function takes a 1-D array-like of floats (one value per rep) and returns a ``float``.
They are shared by the territory evaluator and the quota/comp fairness report, so their
conventions are fixed here:

* ``cv`` is the *population* coefficient of variation, ``std(ddof=0) / mean``.
* ``gini`` is the mean absolute difference over twice the mean,
  ``Σ_i Σ_j |x_i − x_j| / (2 n² mean)``; it lies in ``[0, 1 − 1/n]`` for non-negative values,
  is 0 iff all values are equal, and is scale invariant.
* ``max_min`` is ``max / min``.
* ``band_share`` is the share of values within ``±band`` (relative) of their target.

Degenerate inputs have documented answers rather than warnings: an empty input gives ``nan``;
all values zero is perfectly equal (``cv = gini = 0``, ``max_min = 1``); a zero minimum with a
positive maximum gives ``max_min = inf``; a zero mean with non-zero values gives ``cv = inf``.

Worked examples (issue 2 and the quota spec, E10): ``[1, 2, 3, 4]`` → Gini 0.25, CV 0.447214,
max/min 4, 0 of 4 within ±15 % of the mean; ``[0.9507, 1.3377, 0.7048, 1.0068]`` → Gini
0.122175, CV 0.225644, max/min 1.897985.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from terraplan.errors import ParameterError

__all__ = ["band_share", "cv", "gini", "max_min"]


def _values(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1:
        raise ParameterError(f"{name}() expects a 1-D array of floats. Got shape {a.shape}.")
    if a.size and not np.all(np.isfinite(a)):
        raise ParameterError(f"{name}() expects finite values. Got {a[~np.isfinite(a)][:3]}.")
    return a


def cv(values: npt.ArrayLike) -> float:
    """Population coefficient of variation ``std(ddof=0) / mean``.

    Parameters
    ----------
    values : array-like of float, 1-D
        One value per rep.

    Returns
    -------
    float
        ``nan`` for an empty input, ``0.0`` when all values are zero, ``inf`` when the mean is
        zero but the values are not.

    Examples
    --------
    >>> round(cv([1, 2, 3, 4]), 6)
    0.447214
    """
    a = _values(values, "cv")
    if a.size == 0:
        return math.nan
    # cv is scale-free: divide by the largest magnitude first, so tiny values do not underflow
    # when squared (std([0, 1e-162]) would be 0) and huge ones do not overflow
    top = float(np.max(np.abs(a)))
    if 0.0 < top < math.inf:
        a = a / top
    mean = float(a.mean())
    sd = float(a.std(ddof=0))
    if mean == 0.0:
        return 0.0 if sd == 0.0 else math.inf
    return sd / abs(mean)


def gini(values: npt.ArrayLike) -> float:
    """Gini coefficient ``Σ_i Σ_j |x_i − x_j| / (2 n² mean)`` of non-negative values.

    Computed in O(n log n) from the sorted values: with ``x_(1) ≤ … ≤ x_(n)``,
    ``G = 2 Σ_i i·x_(i) / (n Σ x) − (n + 1) / n``.

    Parameters
    ----------
    values : array-like of float, 1-D, non-negative

    Returns
    -------
    float
        In ``[0, 1 − 1/n]``; ``nan`` for an empty input; ``0.0`` when all values are zero.

    Raises
    ------
    ParameterError
        When a value is negative (the Gini coefficient is not defined for them).

    Examples
    --------
    >>> gini([1, 2, 3, 4])
    0.25
    """
    a = _values(values, "gini")
    if a.size == 0:
        return math.nan
    if np.any(a < 0):
        raise ParameterError(f"gini() expects non-negative values. Got minimum {a.min()!r}.")
    total = float(a.sum())
    if total == 0.0:
        return 0.0
    n = a.size
    s = np.sort(a)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    g = 2.0 * float(np.dot(ranks, s)) / (n * total) - (n + 1.0) / n
    # rounding can push an all-equal input a hair below zero
    return min(max(g, 0.0), 1.0 - 1.0 / n)


def max_min(values: npt.ArrayLike) -> float:
    """Ratio of the largest to the smallest value.

    Returns
    -------
    float
        ``nan`` for an empty input, ``1.0`` when all values are zero, ``inf`` when the minimum
        is zero and the maximum positive.

    Raises
    ------
    ParameterError
        When a value is negative.

    Examples
    --------
    >>> max_min([1, 2, 3, 4])
    4.0
    """
    a = _values(values, "max_min")
    if a.size == 0:
        return math.nan
    lo, hi = float(a.min()), float(a.max())
    if lo < 0:
        raise ParameterError(f"max_min() expects non-negative values. Got minimum {lo!r}.")
    if lo == 0.0:
        return 1.0 if hi == 0.0 else math.inf
    return hi / lo


def band_share(values: npt.ArrayLike, targets: npt.ArrayLike | None = None,
               band: float = 0.15) -> float:
    """Share of values within ``±band`` (relative) of their target.

    A value ``x`` with target ``t`` is inside when ``|x − t| ≤ band · t`` (a tiny relative
    epsilon of ``1e-9`` absorbs float rounding exactly on the edge).

    Parameters
    ----------
    values : array-like of float, 1-D
    targets : array-like of float, 1-D, or ``None``
        One target per value; ``None`` uses the mean of ``values`` for all (the quota report's
        "within ±15 % of the mean").
    band : float
        Relative half-width of the band, ``≥ 0``.

    Returns
    -------
    float
        In ``[0, 1]``; ``nan`` for an empty input.

    Examples
    --------
    >>> band_share([1, 2, 3, 4])
    0.0
    >>> band_share([95, 100, 120], targets=[100, 100, 100], band=0.15)
    0.6666666666666666
    """
    a = _values(values, "band_share")
    if not (band >= 0 and math.isfinite(band)):
        raise ParameterError(f"The 'band' parameter of band_share must be a float >= 0. "
                             f"Got {band!r}.")
    if a.size == 0:
        return math.nan
    if targets is None:
        t = np.full(a.shape, float(a.mean()))
    else:
        t = _values(targets, "band_share")
        if t.shape != a.shape:
            raise ParameterError(f"band_share() needs one target per value. Got {t.size} "
                                 f"targets for {a.size} values.")
    inside = np.abs(a - t) <= band * np.abs(t) * (1.0 + 1e-9) + 1e-12
    return float(np.count_nonzero(inside)) / a.size
