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
tight      error ~ n^r (Theta)                 [r - tau, r + tau]
lower      error decays no faster (Omega)      [r - tau, inf)
upper      error decays at least as fast (O)   (-inf, r + tau]
=========  ==================================  ==========================

* the 95% CI misses A: "inconsistent" (so a lower claim needs CI upper end >= r - tau, an
  upper claim CI lower end <= r + tau, a tight claim a CI meeting A);
* the CI lies inside A: "consistent", however wide (e.g. an error that decays much faster
  than an upper bound requires, measured in a pre-asymptotic regime);
* the CI straddles the edge of A: "consistent" if its half-width is at most
  ``max_halfwidth``, else "inconclusive" (too wide to tell).

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
    a_low = -np.inf if kind == "upper" else predicted - tolerance
    a_high = np.inf if kind == "lower" else predicted + tolerance
    if high < a_low or low > a_high:
        return "inconsistent"
    if a_low <= low and high <= a_high:
        return "consistent"
    return "consistent" if fit.halfwidth <= max_halfwidth else "inconclusive"
