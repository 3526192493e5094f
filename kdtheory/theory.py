r"""Finite-n theory curves: predicted mean student and teacher errors (docs/theory.md §5.4-5.6, §9).

Every curve here is a closed form, an exact finite sum, or a one-dimensional quadrature, never
Monte Carlo. Each function takes the example's parameters as plain arguments, so it does not
depend on the registry; :func:`theory_curves` wires them to the registered examples.

* underfit (§5.1, §5.4): all five methods and the teacher's training-point and held-out
  errors. Vanilla and sample splitting are exact (a sum over one Binomial count per class,
  clipping included); cross-fit, enhanced and targeted KD are leading order with an O(n^-2)
  remainder.
* underfit_ace (§5.6): all four methods to leading order (O(n^-2) remainder) and the same
  teacher errors.
* overfit (§5.2): vanilla's Omega(1) level, exact.
* torus (§5.3, §5.5): vanilla's level (exact); the teacher's held-out L2 error and the
  sample-split, cross-fit and enhanced student errors to leading order in 1/(m h^d) (ratio of
  expectations and the delta method), the smoothing terms in closed form through the
  characteristic function phi.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._validation import check_clip, check_int, check_positive


def _sizes(sample_sizes):
    sizes = np.asarray(sample_sizes)
    if sizes.ndim != 1 or sizes.size == 0 or not np.all(sizes == np.round(sizes)) \
            or np.any(sizes < 2):
        raise ValueError(f"sample_sizes must be integers >= 2, got {sample_sizes!r}")
    return [int(n) for n in sizes]


def _check_p0(p0):
    p = np.asarray(p0, dtype=np.float64)
    if p.ndim != 1 or p.size < 2 or np.any(p <= 0) or abs(p.sum() - 1) > 1e-12:
        raise ValueError(f"p0 must be a probability vector with positive entries, got {p0!r}")
    return p


def fold_train_sizes(n: int, n_folds: int) -> np.ndarray:
    """Training sizes n - |S_t| of the B cross-fit teachers (folds of sizes n//B or n//B + 1,
    :func:`kdtheory.crossfit.make_folds`)."""
    sizes = np.bincount(np.arange(n) % n_folds, minlength=n_folds)
    return n - sizes


# --- underfit (docs/theory.md §5.1, §5.4) ----------------------------------------------------

def _ridge_plugin_error(m: int, p: np.ndarray, clip: float) -> float:
    r""":math:`\sum_j E(\log\mathrm{clip}(\bar y_j/(1+\lambda_m)) - \log p_j)^2` exactly, with
    :math:`m\bar y_j \sim \mathrm{Bin}(m, p_j)` and :math:`\lambda_m = m^{-1/4}`."""
    from scipy import stats

    lam = m ** -0.25
    counts = np.arange(m + 1)
    total = 0.0
    for pj in p:
        weights = stats.binom.pmf(counts, m, pj)
        p_hat = np.clip(counts / m / (1 + lam), clip, 1.0)
        total += float(weights @ (np.log(p_hat) - math.log(pj)) ** 2)
    return total


def underfit_errors(sample_sizes, *, p0=(0.2, 0.3, 0.5), n_folds=5, clip=1e-3) -> dict:
    r"""Predicted mean student and teacher errors of the underfit example at each n.

    With :math:`V = \sum_j (1-p_j)/p_j`, k classes, :math:`m = n - n/B` cross-fit teacher
    points, :math:`\lambda_m = m^{-1/4}`, :math:`c_m = \log(1+\lambda_m)` and
    :math:`c'_m = \lambda_m - c_m` (docs/theory.md §5.1, §5.4):

    * vanilla: :math:`\sum_j E(\log\mathrm{clip}(\bar y_j/(1+\lambda_n)) - \log p_j)^2`, exact
      (one Binomial(n, p_j) count per class) :math:`= k c_n^2 + V(1 + c_n)/n + O(n^{-2})`;
    * sample_split: the same sum with the teacher's half, :math:`\lceil n/2\rceil` points: the
      student's constant target does not depend on the student's half; exact;
    * crossfit: :math:`k c_m^2 + V(1/n + c_m/m)`, remainder :math:`O(n^{-2})`;
    * enhanced (alpha = inf): :math:`\sum_j[(1-p_j)/(np_j) + (c'_m + (\frac12 + \lambda_m)
      (1-p_j)/(mp_j))^2]`, remainder :math:`O(n^{-2})`;
    * targeted: :math:`V/n`, remainder :math:`O(n^{-2})`: the update undoes the shrinkage to
      first order, leaving the oracle variance of :math:`\log\bar y_j`;
    * teacher_train_error: :math:`E\|\hat p - p_0\|_n^2 = (\lambda/(1+\lambda))^2\|p_0\|^2 +
      \sum_j p_j(1-p_j)/(n(1+\lambda)^2)` with :math:`\lambda = \lambda_n`, exact;
    * teacher_test_error: the same with m and :math:`\lambda_m` (p0 is constant, so held-out
      and training points agree), averaged over the B teachers' training sizes, exact.

    Cross-fit and enhanced use the mean of the B training sizes; with B dividing n they are
    all m.

    Returns
    -------
    dict {name: list of float per n} with the five method names and the two teacher errors.
    """
    p = _check_p0(p0)
    n_folds = check_int(n_folds, "n_folds", minimum=2)
    clip = check_clip(clip)
    k, V = p.size, float(np.sum((1 - p) / p))
    sizes = _sizes(sample_sizes)
    teacher = _ridge_teacher_errors(sizes, p, n_folds)
    out = {key: [] for key in ("vanilla", "sample_split", "crossfit", "enhanced", "targeted")}
    for n in sizes:
        ms = fold_train_sizes(n, n_folds)
        m = float(ms.mean())
        lam = m ** -0.25
        c, c_prime = math.log1p(lam), lam - math.log1p(lam)
        out["vanilla"].append(_ridge_plugin_error(n, p, clip))
        out["sample_split"].append(_ridge_plugin_error(n - n // 2, p, clip))
        out["crossfit"].append(k * c**2 + V * (1 / n + c / m))
        out["enhanced"].append(float(np.sum((1 - p) / (n * p)
                                            + (c_prime + (0.5 + lam) * (1 - p) / (m * p)) ** 2)))
        out["targeted"].append(V / n)
    return {**out, **teacher}


def _ridge_teacher_errors(sizes, p, n_folds) -> dict:
    """The ridge teacher's training-point and held-out errors per n (exact, §5.4); also checks
    that every n has at least n_folds points."""
    def error(m):
        lam = m ** -0.25
        return float((lam / (1 + lam)) ** 2 * p @ p + np.sum(p * (1 - p)) / (m * (1 + lam) ** 2))

    for n in sizes:
        if n < n_folds:
            raise ValueError(f"sample size {n} is below n_folds = {n_folds}")
    return {"teacher_train_error": [error(n) for n in sizes],
            "teacher_test_error": [float(np.mean([error(int(m))
                                                  for m in fold_train_sizes(n, n_folds)]))
                                   for n in sizes]}


def underfit_ace_errors(sample_sizes, *, p0=(0.2, 0.3, 0.5), n_folds=5, clip=1e-3) -> dict:
    r"""Predicted mean student errors of the ``underfit_ace`` example, leading order
    (docs/theory.md §5.6), and the teacher errors of :func:`underfit_errors` (same teacher).

    With :math:`W = (1 - \frac1k)\sum_j 1/p_j`, the centred error
    :math:`E\|C(\hat f - \log p_0)\|^2` is :math:`W/n` for vanilla, cross-fit and enhanced KD
    (alpha = inf) and :math:`W/\lceil n/2\rceil` for sample splitting, whatever beta, each with
    remainder :math:`O(n^{-2})`: the tempered teacher :math:`\mathrm{softmax}(\beta\log\hat p)`
    does not see the shrinkage :math:`1/(1+\lambda)`, so only the sampling error of
    :math:`\bar y` is left.
    """
    p = _check_p0(p0)
    n_folds = check_int(n_folds, "n_folds", minimum=2)
    check_clip(clip)
    W = (1 - 1 / p.size) * float(np.sum(1 / p))
    sizes = _sizes(sample_sizes)
    teacher = _ridge_teacher_errors(sizes, p, n_folds)
    return {"vanilla": [W / n for n in sizes], "sample_split": [W / (n - n // 2) for n in sizes],
            "crossfit": [W / n for n in sizes], "enhanced": [W / n for n in sizes], **teacher}


# --- overfit and torus: vanilla's Omega(1) level (docs/theory.md §5.2) -----------------------

def interpolation_level(sample_sizes, *, pi1, f0, clip=1e-3) -> list:
    r"""Vanilla KD's mean error when the teacher interpolates its training labels, exactly.

    The student sees :math:`\hat f_j = (1-\bar y_j)\log\mathrm{clip}` (docs/theory.md §5.2),
    so with :math:`\pi = (1-\pi_1, \pi_1)` and :math:`L = \log\mathrm{clip}`,

    .. math:: E\|\hat f - f_0\|^2 = \sum_j((1-\pi_j)L - f_{0j})^2 + 2L^2\pi_1(1-\pi_1)/n .

    Parameters
    ----------
    pi1 : float in (0, 1), P(Y = 1)
    f0 : the two-vector target
    """
    clip = check_clip(clip)
    if not 0 < pi1 < 1:
        raise ValueError(f"pi1 must lie in (0, 1), got {pi1}")
    L = math.log(clip)
    pi = np.array([1 - pi1, pi1])
    level = float(np.sum(((1 - pi) * L - np.asarray(f0, dtype=np.float64)) ** 2))
    return [level + 2 * L**2 * pi1 * (1 - pi1) / n for n in _sizes(sample_sizes)]


def overfit_pi1(d: int, shape: str = "sin") -> float:
    """P(Y = 1) = E p0(X) of the overfit example: 1/2 for d >= 2 (the x_1 factor integrates
    to 0), Gauss-Legendre quadrature (400 nodes) for d = 1."""
    from .examples import OVERFIT_P0

    if d >= 2:
        return 0.5
    x, w = np.polynomial.legendre.leggauss(400)
    x, w = (x + 1) / 2, w / 2
    return float(w @ OVERFIT_P0[shape](x, x))


# --- torus (docs/theory.md §5.3, §5.5) -------------------------------------------------------

def sphere_cf(s, d: int):
    r""":math:`\Lambda_d(s) = \Gamma(d/2)(2/s)^{d/2-1}J_{d/2-1}(s)`, the characteristic function
    of one coordinate of a uniform point on the unit sphere of :math:`\mathbb R^d`
    (:math:`\Lambda_1 = \cos`, :math:`\Lambda_d(0) = 1`)."""
    from scipy import special

    s = np.asarray(s, dtype=np.float64)
    if d == 1:
        return np.cos(s)
    safe = np.where(s == 0, 1.0, s)
    value = special.gamma(d / 2) * (2 / safe) ** (d / 2 - 1) * special.jv(d / 2 - 1, safe)
    return np.where(s == 0, 1.0, value)


@functools.lru_cache(maxsize=4096)
def radial_cf(t: float, d: int, exponent: float) -> float:
    r""":math:`\phi(t) = E\cos(tU_1)` for U with density :math:`\propto\|u\|^{-\mathrm{exponent}}`
    on the unit ball of :math:`\mathbb R^d`: radial density
    :math:`(d-e)r^{d-1-e}` on [0, 1], so :math:`\phi(t) = (d-e)\int_0^1 r^{d-1-e}
    \Lambda_d(tr)\,dr` (1-D quadrature). ``exponent`` a is the kernel's; 2a gives the law of the
    squared kernel, which enters the teacher's variance."""
    from scipy import integrate

    e = float(exponent)
    if not 0 <= e < d:
        raise ValueError(f"exponent must lie in [0, d) = [0, {d}), got {exponent}")
    # substitute r = v^(1/(d-e)): the integrand becomes Lambda_d(t v^(1/(d-e))) on [0, 1]
    value, _ = integrate.quad(lambda v: float(sphere_cf(t * v ** (1 / (d - e)), d)), 0, 1,
                              limit=400, epsabs=1e-13, epsrel=1e-12)
    return float(value)


def _circle_means(b0: float):
    r"""For :math:`\mu(\theta) = \frac12 + b_0\sin\theta`, |b0| < 1/2, the means over
    :math:`\theta` uniform of :math:`1/\mu` and :math:`1/\mu^2`: :math:`1/s` and
    :math:`\frac12/s^3` with :math:`s = \sqrt{1/4 - b_0^2}`."""
    s = math.sqrt(0.25 - b0**2)
    return s, 1 / s, 0.5 / s**3


@functools.lru_cache(maxsize=64)
def torus_log_moments(amplitude: float) -> tuple:
    r""":math:`(E\log p, \mathrm{Var}\log p, E(1-p)/p)` for :math:`p = \frac12 + A\sin 2\pi U`,
    U uniform (either class: the law of p is symmetric about 1/2). The mean is the closed form
    of docs/theory.md §5.3; the variance by 1-D quadrature; :math:`E(1-p)/p = 1/s_0 - 1`,
    :math:`s_0 = \sqrt{1/4 - A^2}`."""
    from scipy import integrate

    mean = math.log((0.5 + math.sqrt(0.25 - amplitude**2)) / 2)
    second, _ = integrate.quad(lambda u: math.log(0.5 + amplitude * math.sin(2 * math.pi * u))
                               ** 2, 0, 1, limit=400, epsabs=1e-13, epsrel=1e-12)
    return mean, second - mean**2, 1 / math.sqrt(0.25 - amplitude**2) - 1


def kernel_variance_constant(d: int, a: float) -> float:
    r""":math:`\kappa = c_2/c_1^2` with :math:`c_1 = \int_{\|u\|\le1}\|u\|^{-a}du =
    S_{d-1}/(d-a)` and :math:`c_2 = \int\|u\|^{-2a}du = S_{d-1}/(d-2a)`,
    :math:`S_{d-1} = 2\pi^{d/2}/\Gamma(d/2)`: the NW variance is
    :math:`\kappa\,\sigma^2/(m h^d)` to leading order (finite for a < d/2)."""
    surface = 2 * math.pi ** (d / 2) / math.gamma(d / 2)
    return (d - a) ** 2 / ((d - 2 * a) * surface)


def torus_terms(m, *, d: int, a: float, c_h: float, amplitude: float) -> dict:
    r"""The smoothing and variance terms of the periodic NW teacher fit on m points.

    With :math:`h = c_h m^{-1/(4+d)}`, :math:`\phi = \phi_a(2\pi h)`,
    :math:`\phi_2 = \phi_{2a}(2\pi h)` (:func:`radial_cf`),
    :math:`\theta = 2\pi x_1`, and :math:`v = \kappa/(mh^d)` (:func:`kernel_variance_constant`),
    to leading order in v (ratio of expectations and the delta method, docs/theory.md §5.5):

    * mean: :math:`\mu(x) = \frac12 + A\phi\sin\theta` (class 1; class 0 mirrored);
    * variance: :math:`\mathrm{Var}\,\hat p_1(x) = v\,(\frac14 - A^2 c\sin^2\theta)`,
      :math:`c = \phi(2\phi_2 - \phi)`;
    * teacher L2 error, both classes: :math:`2[A^2(1-\phi)^2/2 + v(\frac14 - A^2c/2)]`;
    * b1 = :math:`\log((\frac12 + s)/2) - f_0`, :math:`s = \sqrt{1/4 - A^2\phi^2}`, the
      smoothing bias of :math:`E_X\log\mu_j(X)`;
    * b2 = :math:`-\frac v2 E_X[\mathrm{Var}/\mu^2]/v = -\frac v2[(1 - c/\phi^2)/(8s^3)
      + (c/\phi^2)(1/s - 1)]`, the Jensen term;
    * q2 = :math:`E_X[(\text{bias}^2 + \mathrm{Var})/(2p_0^2)] = \frac12[A^2(1-\phi)^2S_2
      + v(\frac14J_2 - A^2cS_2)]`, the enhanced estimator's second-order bias, with
      :math:`J_1 = E[1/p_0] = 1/s_0`, :math:`J_2 = E[1/p_0^2] = \frac12/s_0^3`,
      :math:`S_2 = E[\sin^2\theta/p_0^2] = (1 - J_1 + J_2/4)/A^2`,
      :math:`s_0 = \sqrt{1/4 - A^2}`.
    """
    h = c_h * m ** (-1.0 / (4 + d))
    phi = radial_cf(2 * math.pi * h, d, a)
    phi2 = radial_cf(2 * math.pi * h, d, 2 * a)
    v = kernel_variance_constant(d, a) / (m * h**d)
    A = amplitude
    c = phi * (2 * phi2 - phi)
    s, inv1, inv2 = _circle_means(A * phi)
    f0 = math.log((0.5 + math.sqrt(0.25 - A**2)) / 2)
    b1 = math.log((0.5 + s) / 2) - f0
    ratio = c / phi**2
    b2 = -0.5 * v * ((1 - ratio) * 0.25 * inv2 + ratio * (inv1 - 1))
    # E[sin^2 / p0^2] and E[1 / p0^2] for p0 = 1/2 + A sin: sin = (p0 - 1/2)/A
    _, j1, j2 = _circle_means(A)
    sin2_over_p2 = (1 - j1 + 0.25 * j2) / A**2
    q2 = 0.5 * (A**2 * (1 - phi) ** 2 * sin2_over_p2 + v * (0.25 * j2 - A**2 * c * sin2_over_p2))
    teacher = 2 * (0.5 * A**2 * (1 - phi) ** 2 + v * (0.25 - 0.5 * A**2 * c))
    return {"h": h, "phi": phi, "phi2": phi2, "v": v, "s": s, "b1": b1, "b2": b2, "q2": q2,
            "teacher_l2": teacher}


def torus_errors(sample_sizes, *, d: int, a=None, c_h=None, amplitude=0.35, n_folds=5,
                 clip=1e-3) -> dict:
    r"""Predicted mean errors of the torus example at each n (docs/theory.md §5.5).

    With :func:`torus_terms` at the teacher's training size m, and the efficient variance
    :math:`\sigma^2_{eff} = \sum_j[\mathrm{Var}\log p_{0j}(X) + E(1-p_{0j})/p_{0j}]`
    (:func:`torus_log_moments`, twice), leading order:

    * vanilla: :func:`interpolation_level` with :math:`\pi_1 = 1/2`, exact;
    * crossfit (:math:`m = (B-1)n/B`): :math:`2(b_1 + b_2)^2 + \sigma^2_{eff}/n`;
    * sample_split (teacher on :math:`m = \lceil n/2\rceil`, student on the other half):
      :math:`2(b_1 + b_2)^2 + 2\sigma^2_{eff}/n`;
    * enhanced (alpha = inf, :math:`m = (B-1)n/B`): :math:`2q_2^2 + \sigma^2_{eff}/n`;
    * teacher_test_error: the held-out L2 error of the cross-fit teachers.

    The remainders: relative :math:`O(1/(mh^d))` in b2, q2 and the teacher variance (the next
    term of the delta method), :math:`O(n^{-1}h^{2})` in the variance part (the smoother's
    effect on the first-order noise) and the clip events, ignored (their probability is
    negligible at d <= 2, not at d = 5, where enhanced KD's mean is heavy-tailed: §9).

    Parameters
    ----------
    d : int >= 1; a : kernel exponent in (0, d/2), default d/4; c_h : bandwidth constant,
    default 0.5 (d <= 2) or 0.75; amplitude : A in (0, 1/2); n_folds : B >= 2; clip.
    """
    d = check_int(d, "d", minimum=1)
    a = d / 4 if a is None else check_positive(a, "a")
    if not a < d / 2:
        raise ValueError(f"a must lie in (0, d/2) = (0, {d / 2}), got {a}")
    c_h = (0.5 if d <= 2 else 0.75) if c_h is None else check_positive(c_h, "c_h")
    amplitude = check_positive(amplitude, "amplitude")
    if not amplitude < 0.5:
        raise ValueError(f"amplitude must lie in (0, 0.5), got {amplitude}")
    n_folds = check_int(n_folds, "n_folds", minimum=2)
    clip = check_clip(clip)
    sizes = _sizes(sample_sizes)
    f0, var_log, inv_minus_1 = torus_log_moments(amplitude)
    sigma2 = 2 * (var_log + inv_minus_1)
    out = {"vanilla": interpolation_level(sizes, pi1=0.5, f0=(f0, f0), clip=clip),
           "sample_split": [], "crossfit": [], "enhanced": [], "teacher_test_error": []}
    kw = {"d": d, "a": a, "c_h": c_h, "amplitude": amplitude}
    for n in sizes:
        cross = torus_terms((n_folds - 1) * n / n_folds, **kw)
        split = torus_terms(n - n // 2, **kw)
        out["crossfit"].append(2 * (cross["b1"] + cross["b2"]) ** 2 + sigma2 / n)
        out["sample_split"].append(2 * (split["b1"] + split["b2"]) ** 2 + 2 * sigma2 / n)
        out["enhanced"].append(2 * cross["q2"] ** 2 + sigma2 / n)
        out["teacher_test_error"].append(cross["teacher_l2"])
    return out


# --- wiring to the registry --------------------------------------------------------------------


def theory_curves(example: str, params: dict, sample_sizes) -> dict:
    """{name: list per n} of predicted mean errors (method names) and teacher errors
    (``teacher_train_error``, ``teacher_test_error``) for a registered example's resolved
    parameters; empty where no curve is derived (unknown example, p0 shape, alpha)."""
    alpha = params.get("enhanced_alpha", math.inf)
    if example in ("underfit", "underfit_ace"):
        errors = underfit_errors if example == "underfit" else underfit_ace_errors
        out = errors(sample_sizes, p0=params["p0"], n_folds=params["n_folds"],
                     clip=params["clip"])
    elif example == "overfit":
        from .examples import overfit_f0

        out = {"vanilla": interpolation_level(
            sample_sizes, pi1=overfit_pi1(params["d"], params["p0"]),
            f0=overfit_f0(params["d"], params["p0"]), clip=params["clip"])}
    elif example == "torus":
        out = torus_errors(sample_sizes, d=params["d"], a=params["a"], c_h=params["c_h"],
                           amplitude=params["amplitude"], n_folds=params["n_folds"],
                           clip=params["clip"])
    else:
        return {}
    if alpha != math.inf:
        out.pop("enhanced", None)
    return out
