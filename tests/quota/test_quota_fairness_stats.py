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
        assert d.cv == pytest.approx(float(np.std(a, ddof=0) / np.mean(a)), rel=1e-9, abs=1e-12)


def test_dispersion_of_e10() -> None:
    d = Dispersion.of([1, 2, 3, 4])
    assert (d.gini, round(d.cv, 6), d.max_min, d.band_share) == (0.25, 0.447214, 4.0, 0.0)
