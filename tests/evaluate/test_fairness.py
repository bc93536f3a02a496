import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.errors import ParameterError
from terraplan.evaluate.fairness import band_share, cv, gini, max_min

WORKLOADS = [0.9507, 1.3377, 0.7048, 1.0068]


def test_known_values_one_to_four():
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-12)
    assert cv([1, 2, 3, 4]) == pytest.approx(0.447214, abs=1e-6)
    assert max_min([1, 2, 3, 4]) == pytest.approx(4.0)
    assert band_share([1, 2, 3, 4]) == 0.0  # mean 2.5, band [2.125, 2.875]


def test_known_values_workloads():
    assert gini(WORKLOADS) == pytest.approx(0.122175, abs=1e-6)
    assert cv(WORKLOADS) == pytest.approx(0.225644, abs=1e-6)
    assert max_min(WORKLOADS) == pytest.approx(1.897985, abs=1e-6)


def test_gini_matches_pairwise_definition():
    x = np.array([3.0, 0.0, 7.5, 1.0, 1.0])
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(pairwise)


def test_degenerate_inputs():
    assert math.isnan(gini([])) and math.isnan(cv([])) and math.isnan(max_min([]))
    assert math.isnan(band_share([]))
    assert gini([0, 0]) == 0.0 and cv([0, 0]) == 0.0 and max_min([0, 0]) == 1.0
    assert max_min([0, 3]) == math.inf
    assert gini([5]) == 0.0 and cv([5]) == 0.0
    assert gini([0, 0, 0, 9]) == pytest.approx(0.75)  # the maximum 1 - 1/n


def test_band_share_with_targets_and_edge():
    assert band_share([95, 100, 120], [100, 100, 100], band=0.15) == pytest.approx(2 / 3)
    assert band_share([115, 85], [100, 100], band=0.15) == 1.0  # edges are inside


def test_bad_inputs_raise_parameter_error():
    with pytest.raises(ParameterError, match="non-negative"):
        gini([1, -1])
    with pytest.raises(ParameterError, match="1-D"):
        cv([[1, 2]])
    with pytest.raises(ParameterError, match="finite"):
        cv([1, float("nan")])
    with pytest.raises(ParameterError, match="one target per value"):
        band_share([1, 2], [1])
    with pytest.raises(ParameterError, match="'band'"):
        band_share([1, 2], band=-0.1)


# zero or a realistic magnitude: subnormal floats underflow to 0 when scaled, which is not a
# property of the measures
values = st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e9)),
                  min_size=1, max_size=50)


@settings(max_examples=200, deadline=None)
@given(values)
def test_gini_range(xs):
    g = gini(xs)
    assert 0.0 <= g <= 1.0 - 1.0 / len(xs) + 1e-12


@settings(max_examples=200, deadline=None)
@given(values, st.floats(min_value=1e-3, max_value=1e3))
def test_scale_invariance(xs, k):
    scaled = [x * k for x in xs]
    assert gini(scaled) == pytest.approx(gini(xs), abs=1e-9)
    if sum(xs) > 0 and cv(xs) < 1e6:
        assert cv(scaled) == pytest.approx(cv(xs), rel=1e-6, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(values, st.randoms(use_true_random=False))
def test_permutation_invariance(xs, rnd):
    ys = list(xs)
    rnd.shuffle(ys)
    assert gini(ys) == pytest.approx(gini(xs), abs=1e-12)
    assert cv(ys) == pytest.approx(cv(xs), rel=1e-9, abs=1e-12)
    assert max_min(ys) == max_min(xs)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e9), st.integers(min_value=1, max_value=30))
def test_equal_values_are_perfectly_fair(v, n):
    xs = [v] * n
    assert gini(xs) == pytest.approx(0.0, abs=1e-12)
    assert cv(xs) == pytest.approx(0.0, abs=1e-9)
    assert max_min(xs) == 1.0
    assert band_share(xs) == 1.0
