"""Slope fits, confidence-interval coverage and verdict rules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kdtheory.ratefit import SlopeFit, fit_slope, local_slopes, mean_and_se, verdict

SIZES = np.array([500, 1000, 2000, 5000, 10000])


def _simulate(rng, slope, reps=50, sizes=SIZES, cv=0.5):
    """Replicate errors with mean n^slope and coefficient of variation cv (gamma noise)."""
    shape = 1 / cv**2
    means, ses = [], []
    for n in sizes:
        e = rng.gamma(shape, n**slope / shape, size=reps)
        m, s, _ = mean_and_se(e)
        means.append(m)
        ses.append(s)
    return np.array(means), np.array(ses)


@given(slope=st.floats(-1.5, 0.5), seed=st.integers(0, 2**31))
def test_recovers_known_power_law_without_noise(slope, seed):
    means = 3.0 * SIZES.astype(float) ** slope
    fit = fit_slope(SIZES, means, 0.01 * means)
    assert abs(fit.slope - slope) < 1e-10
    loc, _ = local_slopes(SIZES, means, 0.01 * means)
    np.testing.assert_allclose(loc, slope, atol=1e-10)


def test_ci_coverage_is_roughly_nominal():
    """Over 400 simulated studies the 95% CI covers the true slope in 90-99% of them.

    With 400 independent studies the coverage estimate has SE sqrt(.95 * .05 / 400) = 0.011;
    the band [0.90, 0.99] is about -4.5 / +3.7 SE around 0.95 (the floor on the dispersion
    makes the interval slightly conservative).
    """
    rng = np.random.default_rng(12345)
    hits = 0
    for _ in range(400):
        means, ses = _simulate(rng, -0.667)
        low, high = fit_slope(SIZES, means, ses).ci
        hits += low <= -0.667 <= high
    assert 0.90 <= hits / 400 <= 0.99


def _fit(low, high):
    return SlopeFit(slope=(low + high) / 2, se=(high - low) / 4, ci=(low, high), intercept=0.0,
                    dispersion=1.0, n_points=5)


@pytest.mark.parametrize(
    "ci, predicted, kind, expected",
    [
        ((-0.55, -0.45), -0.5, "tight", "consistent"),
        ((-0.30, -0.25), -0.5, "tight", "inconsistent"),   # decays too slowly
        ((-0.80, -0.70), -0.5, "tight", "inconsistent"),   # decays too fast
        ((-0.05, 0.05), 0.0, "lower", "consistent"),
        ((-0.50, -0.40), 0.0, "lower", "inconsistent"),    # it does decay: not Omega(1)
        ((-1.20, -0.90), -0.667, "upper", "consistent"),   # faster than claimed is fine
        ((-0.05, 0.05), -0.667, "upper", "inconsistent"),  # flat vanilla vs a claimed rate
        ((-2.0, 0.5), -1.0, "upper", "inconclusive"),      # too wide to say
        ((-2.4, -1.5), -0.889, "upper", "consistent"),     # wide, but all inside A
        ((-0.5, 0.3), -1.0, "upper", "inconsistent"),      # wide, but all outside A
        ((-0.9, -0.3), 0.0, "lower", "inconsistent"),
        ((-0.58, -0.42), -0.5, "tight", "consistent"),     # inside A
        ((-0.9, -0.3), -0.5, "tight", "inconclusive"),     # contains A: too wide to say
    ],
)
def test_verdict_rules(ci, predicted, kind, expected):
    assert verdict(_fit(*ci), predicted, kind, tolerance=0.1, max_halfwidth=0.25) == expected


def test_wrong_prediction_on_simulated_flat_errors_is_inconsistent():
    rng = np.random.default_rng(0)
    means, ses = _simulate(rng, 0.0, reps=200)
    fit = fit_slope(SIZES, means, ses)
    assert verdict(fit, 0.0, "lower") == "consistent"
    assert verdict(fit, -4 / 6, "upper") == "inconsistent"
    assert verdict(fit, -4 / 6, "tight") == "inconsistent"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fit_slope([100], [1.0], [0.1]), "at least 2"),
        (lambda: fit_slope([100, 200], [1.0, 0.0], [0.1, 0.1]), "positive"),
        (lambda: mean_and_se([1.0]), "at least 2"),
        (lambda: mean_and_se([1.0, np.nan]), "finite"),
        (lambda: verdict(_fit(-1, 0), 0.0, "tight", tolerance=0), "tolerance"),
        (lambda: verdict(_fit(-1, 0), 0.0, "sideways"), "kind"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
