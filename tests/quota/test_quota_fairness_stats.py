"""Fairness invariants of the spec on the report's dispersion statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.quota import Dispersion

values = st.lists(st.floats(0.0, 1e9, allow_subnormal=False), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(values, st.floats(1e-3, 1e3))
def test_gini_range_zero_iff_equal_scale_invariant_and_cv_ddof0(x: list[float],
                                                                c: float) -> None:
    a = np.asarray(x)
    d = Dispersion.of(a)
    n = a.size
    assert -1e-12 <= d.gini <= 1 - 1 / n + 1e-12
    if a.sum() > 0:
        assert (d.gini <= 1e-12) == bool(np.allclose(a, a[0], rtol=1e-12, atol=0))
        assert Dispersion.of(a * c).gini == pytest.approx(d.gini, abs=1e-9)
        assert Dispersion.of(a * c).cv == pytest.approx(d.cv, rel=1e-9, abs=1e-12)
        b = a / a.max()  # the oracle on scaled values: squares of ~1e-162 underflow
        assert d.cv == pytest.approx(float(np.std(b, ddof=0) / np.mean(b)), rel=1e-9, abs=1e-12)


def test_dispersion_of_e10() -> None:
    d = Dispersion.of([1, 2, 3, 4])
    assert (d.gini, round(d.cv, 6), d.max_min, d.band_share) == (0.25, 0.447214, 4.0, 0.0)


def test_cv_of_tiny_values_does_not_underflow() -> None:
    # found by hypothesis: the squares of 1.7e-162 underflow to 0, which made cv 0 here while
    # the same values doubled gave 1.28; cv is scale-free, so both must be 1 (two values,
    # one of them zero: std = mean)
    a = np.array([0.0, 1.7377502033923344e-162])
    assert Dispersion.of(a).cv == pytest.approx(1.0)
    assert Dispersion.of(2.0 * a).cv == pytest.approx(1.0)
