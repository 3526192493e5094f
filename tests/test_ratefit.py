"""Slope fits, confidence-interval coverage and verdict rules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kdtheory.ratefit import (
    SlopeFit, exponent_applies, fit_slope, local_slopes, mean_and_se, quantile_slope,
    ratio_interval, ratio_verdict, verdict, worst,
)

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
        # tight claims: the slack beyond the CI is min(tolerance, half-width)
        ((-0.503, -0.487), -0.6, "tight", "inconsistent"),  # the review's case: 0.097 away
        ((-0.503, -0.487), -0.5, "tight", "consistent"),    # inside the CI
        ((-0.51, -0.49), -0.52, "tight", "consistent"),     # 0.01 away, half-width 0.01
        ((-0.51, -0.49), -0.525, "tight", "inconsistent"),  # 0.015 away, half-width 0.01
        ((-0.7, -0.3), -0.85, "tight", "inconsistent"),    # 0.15 away: beyond tolerance
        ((-0.7, -0.3), -0.78, "tight", "consistent"),      # 0.08 away, slack min(0.1, 0.2)
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


def test_quantile_slope_recovers_a_known_quantile_rate_and_its_ci_covers():
    """Errors n^slope * Exp(1): every quantile decays like n^slope. Over 200 simulated
    studies (30 replications, 200 resamples) the median slope's 95% bootstrap CI covers the
    true slope in 85-99% of them (binomial SE 0.015 at 0.95; percentile intervals with 30
    replications run slightly narrow)."""
    rng = np.random.default_rng(7)
    sizes = [1000, 2000, 4000, 8000]
    hits, slopes = 0, []
    for _ in range(200):
        groups = [n ** -0.8 * rng.exponential(size=30) for n in sizes]
        fit = quantile_slope(sizes, groups, 0.5, n_bootstrap=200, random_state=rng)
        hits += fit.ci[0] <= -0.8 <= fit.ci[1]
        slopes.append(fit.slope)
    assert 0.85 <= hits / 200 <= 0.99
    assert abs(np.mean(slopes) + 0.8) < 0.03


def test_median_slope_is_robust_where_the_mean_slope_is_not():
    """Heavy tails: a rare huge error (probability 0.05, size 100 n^-0.2) on top of n^-1,
    60 replications. The mean's slope is lost in the tail; the median's CI is narrow and
    covers -1; the check can fail: a claimed tight -0.5 is rejected by the median."""
    rng = np.random.default_rng(0)
    sizes = [1000, 2000, 4000, 8000]
    groups = []
    for n in sizes:
        e = rng.exponential(size=60) / n
        e[rng.uniform(size=60) < 0.05] += 100.0 / n ** 0.2
        groups.append(e)
    med = quantile_slope(sizes, groups, 0.5, n_bootstrap=500, random_state=0)
    assert med.ci[0] <= -1.0 <= med.ci[1] and med.ci[1] - med.ci[0] < 0.6
    stats = [mean_and_se(g) for g in groups]
    mean = fit_slope(sizes, [s[0] for s in stats], [s[1] for s in stats])
    assert mean.ci[1] - mean.ci[0] > 1.5                   # the mean says little
    assert verdict(mean, -0.5, "tight") == "inconclusive"
    assert verdict(med, -0.5, "tight") == "inconsistent"
    assert verdict(med, -1.0, "upper") == "consistent"


def test_quantile_slope_is_seeded_and_checks_input():
    groups = [np.arange(1.0, 11.0) / n for n in (100, 200, 400)]
    a = quantile_slope([100, 200, 400], groups, 0.9, n_bootstrap=50, random_state=4)
    b = quantile_slope([100, 200, 400], groups, 0.9, n_bootstrap=50, random_state=4)
    assert a == b and a.slope == pytest.approx(-1.0, abs=1e-12)
    for kwargs, match in (({"q": 1.5}, "q must"), ({"q": 0.5, "n_bootstrap": 3}, "n_bootstrap")):
        with pytest.raises(ValueError, match=match):
            quantile_slope([100, 200, 400], groups, **kwargs)
    with pytest.raises(ValueError, match="positive"):
        quantile_slope([100, 200], [np.zeros(3), np.ones(3)], 0.5)


@pytest.mark.parametrize("cis, expected", [
    ([(0.9, 1.1), (0.7, 0.85)], "consistent"),
    ([(0.9, 1.1), (0.6, 0.75)], "inconsistent"),     # misses [0.8, 1.25]
    ([(1.3, 1.4)], "inconsistent"),
    ([(0.5, 1.6)], "inconclusive"),                  # 1.6 / 0.5 > 1.25^4: says nothing
    ([(0.7, 1.6)], "consistent"),                    # wide, but within 1.25^4
    ([(-0.1, 1.0)], "inconclusive"),
])
def test_ratio_verdict_rules(cis, expected):
    assert ratio_verdict(cis, 1.25) == expected


def test_ratio_interval_and_gate_and_worst():
    r, (lo, hi) = ratio_interval(2.0, 0.1, 2.0)
    assert r == 1.0 and lo == pytest.approx(1 - 1.959964 * 0.05, rel=1e-6)
    assert exponent_applies(-0.49, -0.5, "tight") and not exponent_applies(-0.35, -0.5, "tight")
    assert exponent_applies(-0.9, -0.5, "upper") and not exponent_applies(-0.3, -0.5, "upper")
    assert exponent_applies(0.0, 0.0, "lower") and not exponent_applies(-0.2, 0.0, "lower")
    assert worst(["consistent", "inconclusive"]) == "inconclusive"
    assert worst(["inconsistent", "consistent"]) == "inconsistent"
    with pytest.raises(ValueError, match="band"):
        ratio_verdict([(0.9, 1.1)], 1.0)
    with pytest.raises(ValueError, match="predicted"):
        ratio_interval(1.0, 0.1, 0.0)


def test_describe_is_mean_and_se_with_the_spread():
    from kdtheory.ratefit import describe

    values = [1.0, 2.0, 4.0, 7.0]
    d = describe(values)
    assert d["mean"] == 3.5 and d["n"] == 4
    assert d["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert d["se"] == pytest.approx(np.std(values, ddof=1) / 2, rel=1e-12)
    single = describe([2.5])
    assert single["mean"] == 2.5 and np.isnan(single["std"]) and np.isnan(single["se"])
