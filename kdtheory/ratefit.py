r"""Log-log slope fits with confidence intervals, local slopes and verdicts (docs/theory.md §6, §9).

For sample sizes :math:`n_1 < \dots < n_m` with replicate errors :math:`e_{ir}`, the fit
regresses :math:`y_i = \log \bar e_i` on :math:`\log n_i` by weighted least squares
(statsmodels WLS), with the delta-method variance
:math:`\mathrm{Var}(y_i) \approx s_i^2 / (R_i \bar e_i^2)` of each log-mean as inverse weights.
The weights make the Monte Carlo variances known: when the residual dispersion is at most 1
the 95% interval is the normal one with that known variance; when it exceeds 1 (curvature, a
pre-asymptotic regime) the dispersion is estimated and the interval uses the t distribution
with m - 2 degrees of freedom. Lack of fit widens the interval; a lucky small residual never
narrows it below the Monte Carlo error.

A verdict compares the fit with a predicted slope r of a given kind and a tolerance tau. Each
kind allows a region A of slopes:

=========  ==================================  ==========================
kind       meaning                             allowed region A
=========  ==================================  ==========================
tight      error ~ n^r (Theta)                 [r - s, r + s], s = min(tau, w)
lower      error decays no faster (Omega)      [r - tau, inf)
upper      error decays at least as fast (O)   (-inf, r + tau]
=========  ==================================  ==========================

w is the CI's half-width. For a tight claim the slack is the smaller of tau and w: a CI of
half-width 0.01 whose nearest end is 0.1 from r rejects the claim (the old rule, slack tau
whatever the precision, accepted "tight -0.6" for a slope measured as -0.495 +- 0.008). As the
CI narrows, the slack shrinks with it; when w >= tau the rule is the old one.

* the 95% CI misses A: "inconsistent" (so a lower claim needs CI upper end >= r - tau, an
  upper claim CI lower end <= r + tau, a tight claim a CI within min(tau, w) of r);
* the CI lies inside A: "consistent", however wide (e.g. an error that decays much faster
  than an upper bound requires, measured in a pre-asymptotic regime);
* the CI straddles the edge of A: "consistent" if its half-width is at most
  ``max_halfwidth``, else "inconclusive" (too wide to tell). For a tight claim, a CI wider
  than ``max_halfwidth`` within tau of r is "inconclusive".

Quantile slopes (:func:`quantile_slope`): the same WLS fit of :math:`\log \hat q_i` (the
empirical q-quantile of the errors at :math:`n_i`) on :math:`\log n_i`, weighted by the
inverse bootstrap variances of :math:`\log \hat q_i`; its CI is the percentile interval of
the slopes refit on bootstrap resamples (replications resampled with replacement within each
n), widened by :math:`\sqrt{\text{dispersion}}` when the residual dispersion exceeds 1, as
for the mean.

The rules can fail: a flat error curve is "inconsistent" with a claimed upper rate of
-4/(4+d).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_positive

DEFAULT_TOLERANCE = 0.1
DEFAULT_MAX_HALFWIDTH = 0.25
DEFAULT_N_BOOTSTRAP = 1000
QUANTILES = (0.5, 0.9)
"""Quantiles of the replicate errors whose slopes a summary fits beside the mean's."""


@dataclass(frozen=True)
class SlopeFit:
    """Result of :func:`fit_slope`: slope, its SE and 95% CI, intercept, residual dispersion.

    ``df`` is the degrees of freedom of the interval's t distribution (``inf``: normal).
    """

    slope: float
    se: float
    ci: tuple
    intercept: float
    dispersion: float
    n_points: int
    df: float = math.inf

    @property
    def halfwidth(self):
        return (self.ci[1] - self.ci[0]) / 2

    def conf_int(self, alpha: float = 0.05) -> tuple:
        """The (1 - alpha) interval of the slope (:func:`slope_interval`)."""
        return slope_interval(self.slope, self.se, self.df, alpha)


def slope_interval(slope, se, df, alpha=0.05) -> tuple:
    r"""slope :math:`\pm q_{1-\alpha/2}` se, q of the normal (``df = inf``) or of t(df)."""
    from scipy import stats

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    q = stats.norm.ppf(1 - alpha / 2) if math.isinf(df) else stats.t.ppf(1 - alpha / 2, df)
    return (float(slope - q * se), float(slope + q * se))


def mean_and_se(errors) -> tuple:
    """Mean, its standard error and the median of replicate errors (NaN-free, >= 2 values)."""
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 1 or e.size < 2:
        raise ValueError(f"need at least 2 replicate errors, got {e.size}")
    if not np.all(np.isfinite(e)):
        raise ValueError("replicate errors must be finite")
    mean, se = e.mean(), e.std(ddof=1) / np.sqrt(e.size)
    if not np.isfinite(se):  # the squares overflowed: the same statistics on a scaled copy
        scale = float(np.max(np.abs(e)))
        mean, se = scale * np.mean(e / scale), scale * np.std(e / scale, ddof=1) / np.sqrt(e.size)
    if not (np.isfinite(mean) and np.isfinite(se)):
        raise ValueError("replicate errors overflow float64")
    return float(mean), float(se), float(np.median(e))


def describe(values) -> dict:
    """``mean``, ``std`` (ddof 1), ``se`` and ``n`` of repeated measurements, by
    :func:`mean_and_se`; a single value has NaN spread."""
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 1:
        return {"mean": float(a[0]), "std": math.nan, "se": math.nan, "n": 1}
    mean, se, _ = mean_and_se(a)
    return {"mean": mean, "std": se * math.sqrt(a.size), "se": se, "n": int(a.size)}


def fit_slope(sample_sizes, means, ses) -> SlopeFit:
    """Weighted least-squares fit of log(mean) on log(n) (see the module docstring)."""
    import statsmodels.api as sm

    n, m, s = _check_series(sample_sizes, means, ses)
    var_log = np.maximum((s / m) ** 2, 1e-300)
    design = sm.add_constant(np.log(n))
    y = np.log(m)
    weights = 1.0 / var_log
    if n.size == 2:
        # Exact fit through two points: the slope's variance is the propagated MC variance.
        dx = np.log(n[1] / n[0])
        slope = float((y[1] - y[0]) / dx)
        se = float(np.sqrt(var_log.sum()) / dx)
        return SlopeFit(slope, se, slope_interval(slope, se, math.inf),
                        float(y[0] - slope * np.log(n[0])), 1.0, 2)
    first = sm.WLS(y, design, weights=weights).fit()
    dispersion = float(first.scale)
    if dispersion <= 1.0:
        # Residuals within Monte Carlo error: the variances are known, a normal interval.
        res = sm.WLS(y, design, weights=weights).fit(cov_type="fixed scale",
                                                     cov_kwds={"scale": 1.0})
    else:
        # Lack of fit beyond MC error: estimated dispersion and a t interval (m - 2 df).
        res = first
    df = math.inf if dispersion <= 1.0 else float(res.df_resid)
    slope, se = float(res.params[1]), float(res.bse[1])
    return SlopeFit(slope, se, slope_interval(slope, se, df), float(res.params[0]), dispersion,
                    int(n.size), df)


def _check_series(sample_sizes, means, ses):
    """Sizes, means and SEs as float arrays: 1-D, one length >= 2, sizes increasing and
    positive, means positive and finite (logs are taken), SEs finite and >= 0."""
    try:
        n, m, s = (np.asarray(v, dtype=np.float64) for v in (sample_sizes, means, ses))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_sizes, means and ses must be numeric arrays: {exc}") from None
    if n.shape != m.shape or m.shape != s.shape or n.ndim != 1:
        raise ValueError("sample_sizes, means and ses must be 1-D arrays of one length")
    if n.size < 2:
        raise ValueError(f"need at least 2 sample sizes to fit a slope, got {n.size}")
    if not (np.all(np.isfinite(n)) and np.all(n > 0) and np.all(np.diff(n) > 0)):
        raise ValueError(f"sample_sizes must be positive, finite and increasing, got {n}")
    if np.any(m <= 0) or not np.all(np.isfinite(m)):
        raise ValueError(f"mean errors must be positive and finite to take logs, got {m}")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError(f"standard errors must be finite and >= 0, got {s}")
    return n, m, s


def local_slopes(sample_sizes, means, ses) -> tuple:
    """Slopes between neighbouring sizes and their delta-method standard errors."""
    n, m, s = _check_series(sample_sizes, means, ses)
    n = np.log(n)
    v = (s / m) ** 2
    dx = np.diff(n)
    return np.diff(np.log(m)) / dx, np.sqrt(v[1:] + v[:-1]) / dx


def verdict(fit: SlopeFit, predicted: float, kind: str, *, tolerance: float = DEFAULT_TOLERANCE,
            max_halfwidth: float = DEFAULT_MAX_HALFWIDTH) -> str:
    """"consistent", "inconsistent" or "inconclusive" (rules in the module docstring)."""
    tolerance = check_positive(tolerance, "tolerance")
    max_halfwidth = check_positive(max_halfwidth, "max_halfwidth", allow_inf=True)
    if kind not in ("tight", "lower", "upper"):
        raise ValueError(f"kind must be 'tight', 'lower' or 'upper', got {kind!r}")
    low, high = fit.ci
    if not np.isfinite(low) or not np.isfinite(high):
        return "inconclusive"
    if kind == "tight":
        halfwidth = (high - low) / 2
        distance = max(low - predicted, predicted - high, 0.0)
        if distance > tolerance:
            return "inconsistent"
        if halfwidth > max_halfwidth:
            return "inconclusive"
        return "consistent" if distance <= min(tolerance, halfwidth) else "inconsistent"
    a_low = -np.inf if kind == "upper" else predicted - tolerance
    a_high = np.inf if kind == "lower" else predicted + tolerance
    if high < a_low or low > a_high:
        return "inconsistent"
    if a_low <= low and high <= a_high:
        return "consistent"
    return "consistent" if fit.halfwidth <= max_halfwidth else "inconclusive"


def wls_slopes(x, Y, weights):
    """Weighted least-squares slopes and intercepts of each row of Y on x (closed form)."""
    w = weights / weights.sum()
    xbar = w @ x
    ybar = Y @ w
    sxx = w @ (x - xbar) ** 2
    slopes = ((Y - ybar[:, None]) * (x - xbar)) @ w / sxx
    return slopes, ybar - slopes * xbar


def quantile_slope(sample_sizes, errors_per_n, q, *, n_bootstrap=DEFAULT_N_BOOTSTRAP,
                   random_state=None) -> SlopeFit:
    r"""Slope of the log q-quantile of the errors against log n, with a bootstrap CI.

    Parameters
    ----------
    sample_sizes : increasing sizes :math:`n_1 < \dots < n_m`, m >= 2
    errors_per_n : list of 1-D arrays, the replicate errors at each size (>= 2 each, > 0)
    q : float in (0, 1)
        The quantile (numpy's default linear interpolation of the order statistics).
    n_bootstrap : int >= 10
        Bootstrap resamples: at each n, the replications are drawn with replacement.
    random_state : seed or Generator
        The bootstrap's random stream (a summary derives it from the study seed).

    Returns
    -------
    SlopeFit
        ``slope`` and ``intercept``: WLS of :math:`\log\hat q_i` on :math:`\log n_i` with
        weights :math:`1/\widehat{\mathrm{Var}}_{boot}(\log\hat q_i)`; ``se``: the standard
        deviation of the bootstrap slopes; ``ci``: their 2.5% and 97.5% percentiles, widened
        about the slope by :math:`\sqrt{D}` when the weighted residual dispersion
        :math:`D = \sum_i w_i r_i^2/(m-2)` exceeds 1 (curvature beyond Monte Carlo error,
        treated as for the mean, :func:`fit_slope`); ``df`` is inf.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    n_bootstrap = int(n_bootstrap)
    if n_bootstrap < 10:
        raise ValueError(f"n_bootstrap must be >= 10, got {n_bootstrap}")
    groups = [np.asarray(e, dtype=np.float64) for e in errors_per_n]
    if len(groups) != len(sample_sizes):
        raise ValueError("errors_per_n needs one array of errors per sample size")
    for e in groups:
        if e.ndim != 1 or e.size < 2:
            raise ValueError("need at least 2 replicate errors at every sample size")
        if not (np.all(np.isfinite(e)) and np.all(e > 0)):
            raise ValueError("replicate errors must be positive and finite to take logs")
    point = np.array([np.quantile(e, q) for e in groups])
    n, _, _ = _check_series(sample_sizes, point, np.zeros_like(point))
    rng = np.random.default_rng(random_state)
    boot = np.empty((n_bootstrap, len(groups)))
    for i, e in enumerate(groups):
        idx = rng.integers(0, e.size, size=(n_bootstrap, e.size))
        boot[:, i] = np.quantile(e[idx], q, axis=1)
    x, y, logs = np.log(n), np.log(point), np.log(boot)
    var = logs.var(axis=0, ddof=1)
    # A quantile that no resample moves (ties) gets the smallest variance seen, not infinity.
    positive = var[var > 0]
    var = np.maximum(var, positive.min() if positive.size else 1e-12)
    weights = 1.0 / var
    (slope,), (intercept,) = wls_slopes(x, y[None, :], weights)
    slopes, _ = wls_slopes(x, logs, weights)
    resid = y - (intercept + slope * x)
    dispersion = float(weights @ resid**2 / (x.size - 2)) if x.size > 2 else 1.0
    low, high = np.percentile(slopes, [2.5, 97.5])
    widen = math.sqrt(max(1.0, dispersion))
    ci = (float(slope + widen * (low - slope)), float(slope + widen * (high - slope)))
    return SlopeFit(float(slope), float(widen * slopes.std(ddof=1)), ci, float(intercept),
                    dispersion, int(x.size))


DEFAULT_BAND = 1.25
"""A theory curve is consistent when every measured / predicted CI meets [1/band, band]."""


def ratio_interval(mean, se, predicted, alpha=0.05) -> tuple:
    r"""Measured / predicted and its normal (1 - alpha) interval
    :math:`[(\bar e - z s)/e^*, (\bar e + z s)/e^*]` (the prediction has no error)."""
    from scipy import stats

    if not predicted > 0:
        raise ValueError(f"predicted error must be positive, got {predicted}")
    z = stats.norm.ppf(1 - alpha / 2)
    return mean / predicted, ((mean - z * se) / predicted, (mean + z * se) / predicted)


def ratio_verdict(ratio_cis, band: float = DEFAULT_BAND) -> str:
    """The theory verdict of a curve from its per-n ratio CIs (docs/theory.md §9).

    "inconsistent" when some CI misses [1/band, band]; else "inconclusive" when some CI is
    so wide that it says nothing (upper / lower > band^4, twice the band's own log-width, or
    a lower end <= 0); else "consistent".
    """
    band = check_positive(band, "band")
    if not band > 1:
        raise ValueError(f"band must exceed 1, got {band}")
    cis = [tuple(ci) for ci in ratio_cis]
    if not cis:
        return "inconclusive"
    if any(hi < 1 / band or lo > band for lo, hi in cis):
        return "inconsistent"
    if any(lo <= 0 or hi / lo > band**4 for lo, hi in cis):
        return "inconclusive"
    return "consistent"


def exponent_applies(local_slope: float, predicted: float, kind: str,
                     tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether an exact curve's local slope (at the grid's large end) is within tolerance of
    an asymptotic exponent, in the sense of its kind: tight |s - r| <= tau, upper
    s <= r + tau, lower s >= r - tau. Only then is the exponent itself checked (§9)."""
    if kind == "tight":
        return abs(local_slope - predicted) <= tolerance
    if kind == "upper":
        return local_slope <= predicted + tolerance
    if kind == "lower":
        return local_slope >= predicted - tolerance
    raise ValueError(f"kind must be 'tight', 'lower' or 'upper', got {kind!r}")


VERDICT_ORDER = ("consistent", "inconclusive", "inconsistent")


def worst(verdicts) -> str:
    """The worst of several verdicts (inconsistent > inconclusive > consistent)."""
    return max(verdicts, key=VERDICT_ORDER.index)
