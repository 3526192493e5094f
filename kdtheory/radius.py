r"""Critical radii of localized Rademacher complexities (docs/theory.md §7).

For a star-shaped class :math:`H` the empirical localized Rademacher complexity is

.. math:: \hat R_n(\delta) = \mathbb E_\varepsilon \sup_{h \in H,\ \|h\|_n \le \delta}
          \frac1n \sum_{i=1}^n \varepsilon_i h(X_i),

with the sample held fixed and :math:`\varepsilon` uniform on :math:`\{-1, 1\}^n`. The
critical radius :math:`\delta_n` is the smallest :math:`\delta > 0` with
:math:`\hat R_n(\delta) \le \delta^2 / b`, where ``b`` bounds :math:`|h|`. Conventions
(theory §7): empirical norm, one-sided supremum (``absval=True`` where offered
switches to :math:`|\langle\varepsilon, h\rangle_n|`), ``b = 1`` by default.

Contents
--------
* :func:`critical_radius`: the generic solver for any non-decreasing ``R`` with non-increasing
  ``R(delta)/delta`` (bisection on log delta, or the fixed-point iteration; theory §7.1).
* :func:`localized_rademacher`: :math:`\hat R_n` of the star hull of a finite class or net,
  with common random numbers (theory §7).
* Estimators returning a :class:`CriticalRadius`: :func:`constant_radius`,
  :func:`linear_radius`, :func:`kernel_radius`, :func:`finite_class_radius`,
  :func:`sel_loss_radius`, and the per-cell helper :func:`student_critical_radius`.

Sign draws come from ``np.random.default_rng(random_state)``. Estimators called with the same
integer ``random_state``, ``n`` and ``n_draws`` see the same signs (common random numbers), so
the comparisons the theory makes (inclusion, scaling) hold exactly, not only on average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._radius_kernels import star_hull_sup
from ._validation import check_int, check_positive, check_X

MAX_EXACT_N = 12
"""Largest sample size for ``method="exact"`` (enumeration of all 2^n sign vectors)."""

_MAX_BRACKET_STEPS = 1100  # doublings / halvings: enough to sweep the whole float range
_MAX_FIXED_POINT_STEPS = 200  # the log-gap at least halves per step (theory §7.1)
_EXACT_BINOMIAL_MAX = 1000  # below this, C(N, N//2)/2^N from Python integers


@dataclass(frozen=True)
class CriticalRadius:
    r"""A critical radius and how it was obtained.

    Attributes
    ----------
    value : float
        The critical radius :math:`\delta_n`.
    se : float
        Monte Carlo standard error of ``value`` over the sign draws; 0.0 for closed forms and
        exact enumeration.
    interval : tuple of float or None
        A bracket (lower, upper) on the critical radius of the class itself, when ``value``
        comes from an approximation (the net and span bounds of :func:`sel_loss_radius`).
    class_name : str
        The class whose star hull is localized.
    n : int
        Sample size.
    b : float
        The bound in the critical inequality :math:`R(\delta) \le \delta^2/b`.
    method : str
        How :math:`\hat R_n` was integrated and the inequality solved.
    """

    value: float
    se: float
    interval: tuple[float, float] | None
    class_name: str
    n: int
    b: float
    method: str

    @property
    def delta_sq(self) -> float:
        r""":math:`\delta_n^2`, the term that enters the rate bounds (docs/theory.md §8)."""
        return self.value ** 2

    def __repr__(self) -> str:
        se = f" ± {self.se:.2g} (MC SE)" if self.se > 0 else ""
        interval = "" if self.interval is None else (
            f", interval=[{self.interval[0]:.6g}, {self.interval[1]:.6g}]")
        return (f"CriticalRadius(delta_n={self.value:.6g}{se}{interval}, "
                f"class={self.class_name!r}, n={self.n}, b={self.b:g}, method={self.method!r})")


# ----------------------------------------------------------------------------------------------
# The solver (theory §7.1)
# ----------------------------------------------------------------------------------------------

def critical_radius(R, b, *, method: str = "bisection", rtol: float = 1e-10,
                    delta0: float | None = None) -> float:
    r"""Smallest :math:`\delta > 0` with :math:`R(\delta) \le \delta^2 / b` (theory §7.1).

    Valid for any non-decreasing :math:`R \ge 0` whose ratio :math:`R(\delta)/\delta` is
    non-increasing (every star-shaped class, and every Monte Carlo estimate with common random
    numbers). Then :math:`R(\delta)/\delta - \delta/b` is continuous and strictly decreasing,
    the solution set is :math:`[\delta_n, \infty)`, and :math:`R \equiv 0` (the class {0}) is
    the only case with :math:`\delta_n = 0`; it is recognised by one zero value, since
    :math:`R(\delta) = 0` for some :math:`\delta > 0` forces :math:`R \equiv 0`.

    Both methods first double ``delta0`` until the inequality holds.

    * ``"bisection"``: halve a lower end until the inequality fails, then bisect on
      :math:`\log\delta` until hi/lo < 1 + rtol, and return hi, the smallest point certified
      to satisfy the inequality.
    * ``"fixed_point"``: iterate :math:`\delta \leftarrow \sqrt{b R(\delta)}` from that upper
      point. The iterates decrease to :math:`\delta_n` and the log-gap at least halves per
      step, so stopping when consecutive iterates differ by a factor below 1 + rtol leaves
      the last one within a factor 1 + rtol above :math:`\delta_n`.

    Parameters
    ----------
    R : callable float -> float
        The localized complexity.
    b : float > 0
        The bound in the critical inequality.
    method : {"bisection", "fixed_point"}
    rtol : float > 0
        Relative tolerance on :math:`\delta_n`.
    delta0 : float > 0 or None
        Starting point of the bracket; None means ``b`` (theory §7.1: :math:`\delta_n \le b`
        whenever :math:`R(\delta) \le \delta`, e.g. for any Rademacher complexity).

    Returns
    -------
    float
        :math:`\delta_n`, at most a factor 1 + rtol above the exact root.
    """
    b = check_positive(b, "b")
    rtol = check_positive(rtol, "rtol")
    delta0 = b if delta0 is None else check_positive(delta0, "delta0")
    if method not in ("bisection", "fixed_point"):
        raise ValueError(f"method must be 'bisection' or 'fixed_point', got {method!r}")

    def evaluate(delta: float) -> float:
        value = float(R(delta))
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"R({delta!r}) = {value!r}; a complexity must be finite and >= 0")
        return value

    def holds(delta: float) -> bool:
        return evaluate(delta) <= delta * delta / b

    hi = delta0
    for _ in range(_MAX_BRACKET_STEPS):
        if holds(hi):
            break
        hi *= 2.0
    else:
        raise RuntimeError("R(delta) <= delta^2/b never held: R(delta)/delta is not bounded")
    if evaluate(hi) == 0.0:
        return 0.0

    if method == "fixed_point":
        delta = hi
        for _ in range(_MAX_FIXED_POINT_STEPS):
            following = math.sqrt(b * evaluate(delta))
            if delta <= following * (1.0 + rtol):
                return following
            delta = following
        raise RuntimeError("fixed-point iteration did not converge: is R(delta)/delta "
                           "non-increasing?")

    lo = hi / 2.0
    for _ in range(_MAX_BRACKET_STEPS):
        if not holds(lo):
            break
        hi, lo = lo, lo / 2.0
    else:
        raise RuntimeError("R(delta) <= delta^2/b held down to underflow although R > 0")
    while hi > lo * (1.0 + rtol):
        mid = math.sqrt(lo * hi)
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


# ----------------------------------------------------------------------------------------------
# Sign draws and the star-hull complexity of a finite class (theory §7)
# ----------------------------------------------------------------------------------------------

def _sign_draws(n: int, n_draws, method: str, rng: np.random.Generator):
    """Sign vectors as rows of an int8 array, and whether they are the full enumeration.

    ``"exact"`` returns all 2^n sign vectors (n <= MAX_EXACT_N), whose row mean is the exact
    expectation; ``"mc"`` draws ``n_draws`` i.i.d. uniform sign vectors, one random bit per
    sign from ``rng.bytes`` (int8 storage: B x n bytes, 200 MB for B = 200 at n = 10^6).
    """
    if method == "exact":
        if n > MAX_EXACT_N:
            raise ValueError(f"method='exact' enumerates 2^n sign vectors and needs "
                             f"n <= {MAX_EXACT_N}, got n={n}")
        bits = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.int8)
        return 1 - 2 * bits, True
    if method == "mc":
        n_draws = check_int(n_draws, "n_draws", minimum=2)
        raw = np.frombuffer(rng.bytes(-(-n_draws * n // 8)), dtype=np.uint8)
        signs = np.unpackbits(raw, count=n_draws * n).reshape(n_draws, n).view(np.int8)
        signs *= -2  # bit 0 -> +1, bit 1 -> -1, in place
        signs += 1
        return signs, False
    raise ValueError(f"method must be 'mc' or 'exact', got {method!r}")


def _sign_products(signs: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``signs @ A`` in float64 for int8 signs, converting a block of rows at a time so that
    a float copy of the whole sign matrix is never made. Blocks hold about 0.5 MB per 8
    columns of A, at most 32 MB: small blocks stay in cache when A is thin, larger ones keep
    BLAS efficient when A is wide (measured on 2 cores)."""
    elements = min(2 ** 22, 2 ** 16 * max(1, A.shape[1] // 8))
    rows = max(1, elements // signs.shape[1])
    out = np.empty((signs.shape[0], A.shape[1]))
    for start in range(0, signs.shape[0], rows):
        out[start:start + rows] = signs[start:start + rows].astype(np.float64) @ A
    return out


def _mean_se(per_draw: np.ndarray, exact: bool) -> tuple[float, float]:
    """Mean over the sign draws and its Monte Carlo standard error (0 under enumeration)."""
    mean = float(per_draw.mean())
    if exact:
        return mean, 0.0
    return mean, float(per_draw.std(ddof=1) / math.sqrt(per_draw.size))


def _method_label(exact: bool, n_signs: int) -> str:
    return ("exact enumeration of 2^n sign vectors" if exact
            else f"Monte Carlo, B={n_signs} sign draws")


@dataclass(frozen=True, eq=False)
class LocalizedRademacher:
    r"""Localized Rademacher complexity of the star hull of a finite class (theory §7).

    With :math:`S_{bm} = \langle \varepsilon_b, g_m\rangle_n` for sign draws
    :math:`\varepsilon_1..\varepsilon_B` fixed once (common random numbers),

    .. math:: \hat R(\delta) = \frac1B \sum_b \max_m\ \min(1, \delta/\|g_m\|)\,(S_{bm})_+,

    the star-hull lemma of theory §7: the sup over :math:`\mathrm{star}(G)` reduces to a
    scaling of each :math:`g_m`. Each term :math:`\min(1, \delta/\|g_m\|)(S_{bm})_+` is
    non-decreasing in :math:`\delta` and its ratio to :math:`\delta`,
    :math:`\min(1/\delta, 1/\|g_m\|)(S_{bm})_+`, is non-increasing; with the draws shared
    across :math:`\delta` the estimate keeps both properties exactly, so
    :func:`critical_radius` applies. Build it with :func:`localized_rademacher`.

    Attributes
    ----------
    inner : ndarray of shape (B, M)
        Inner products :math:`S_{bm}`.
    norms : ndarray of shape (M,)
        Localization norms :math:`\|g_m\|`.
    n : int
        Sample size.
    absval : bool
        Use :math:`|S_{bm}|` instead of :math:`(S_{bm})_+`.
    exact : bool
        Whether the rows of ``inner`` are all 2^n sign vectors (the mean is then exact).
    """

    inner: np.ndarray
    norms: np.ndarray
    n: int
    absval: bool
    exact: bool

    def per_draw(self, delta) -> np.ndarray:
        """The supremum for each sign draw, shape (B,) (kernel ``star_hull_sup``)."""
        delta = check_positive(delta, "delta")
        return star_hull_sup(self.inner, self.norms, delta, self.absval)

    def __call__(self, delta) -> float:
        r""":math:`\hat R(\delta)`, the mean of :meth:`per_draw`."""
        return float(self.per_draw(delta).mean())

    def se(self, delta) -> float:
        r"""Monte Carlo standard error of :math:`\hat R(\delta)` (0.0 under enumeration)."""
        return _mean_se(self.per_draw(delta), self.exact)[1]

    @property
    def method(self) -> str:
        """How the expectation over signs is taken (enumeration or B Monte Carlo draws)."""
        return _method_label(self.exact, self.inner.shape[0])


def localized_rademacher(G, *, norms=None, absval: bool = False, n_draws: int = 500,
                         method: str = "mc", random_state=None) -> LocalizedRademacher:
    r"""The complexity :math:`\hat R(\delta)` of the star hull of a finite class or net.

    Parameters
    ----------
    G : array of shape (M, n)
        Row m holds the values :math:`g_m(X_1), \dots, g_m(X_n)`; a 1-D array is one function.
    norms : array of shape (M,) or None
        Localization norms; None means empirical, :math:`\|g_m\|_n = (\frac1n\sum_i
        g_m(X_i)^2)^{1/2}`. Pass population norms (estimated on a large independent sample)
        for the population version (theory §7).
    absval : bool
        Absolute-value version (theory §7).
    n_draws : int >= 2
        Number B of Monte Carlo sign draws (ignored by ``method="exact"``).
    method : {"mc", "exact"}
        ``"exact"`` enumerates all 2^n sign vectors (n <= 12).
    random_state : int, Generator, SeedSequence or None
        Seed of the sign draws; the same integer gives the same draws in every estimator of
        this module.

    Returns
    -------
    LocalizedRademacher
    """
    G = check_X(np.atleast_2d(G), name="G (M functions x n points)")
    n_functions, n = G.shape
    if norms is None:
        norms = np.sqrt(np.mean(G ** 2, axis=1))
    else:
        norms = np.asarray(norms, dtype=np.float64)
        if norms.shape != (n_functions,) or not np.all(np.isfinite(norms)) or np.any(norms < 0):
            raise ValueError(f"norms must be {n_functions} finite numbers >= 0, got "
                             f"shape {norms.shape} with min {norms.min(initial=np.inf)}")
    signs, exact = _sign_draws(n, n_draws, method, np.random.default_rng(random_state))
    inner = _sign_products(signs, G.T) / n
    return LocalizedRademacher(inner, np.ascontiguousarray(norms), n, bool(absval), exact)


def _star_hull_radius(R: LocalizedRademacher, b: float, class_name: str,
                      upper: float | None = None) -> CriticalRadius:
    r"""Solve :math:`\hat R(\delta) \le \delta^2/b` and attach the delta-method standard error.

    ``upper``, when given, is an upper bound on the radius of a class that ``R``'s functions
    form a net of; the result then carries the interval (delta_n, upper).

    With :math:`h(\delta) = \hat R(\delta)/\delta` non-increasing, a perturbation
    :math:`dR` of the curve moves the root by :math:`dR/\delta / (1/b - h'(\delta))`, at most
    :math:`b\,dR/\delta` in size. The reported SE is therefore
    :math:`b\,\mathrm{se}(\hat R(\delta_n))/\delta_n`: a first-order upper bound, exact for
    cones (constant ratio, :math:`h' = 0`).
    """
    delta = critical_radius(R, b)
    se = b * R.se(delta) / delta if delta > 0 else 0.0
    interval = None if upper is None else (delta, upper)
    return CriticalRadius(value=delta, se=se, interval=interval, class_name=class_name,
                          n=R.n, b=b, method=f"star-hull bisection, {R.method}")


def finite_class_radius(G, b: float = 1.0, *, norms=None, absval: bool = False,
                        n_draws: int = 500, method: str = "mc",
                        random_state=None) -> CriticalRadius:
    r"""Critical radius of the star hull of a finite class or net (theory §7, §7.1).

    Solves :math:`\hat R(\delta) \le \delta^2/b` for :func:`localized_rademacher` by
    bisection. A net inside a larger class gives a lower bound on the class's radius.
    Massart's lemma bounds the result by :math:`b\sqrt{2\log(M+1)/n}` (theory §7).

    Parameters are those of :func:`localized_rademacher`, plus ``b > 0``.

    Returns
    -------
    CriticalRadius
        ``se`` is the first-order Monte Carlo error :math:`b\,\mathrm{se}(\hat R(\delta_n))
        /\delta_n` (exact for cones, an upper bound otherwise).
    """
    b = check_positive(b, "b")
    R = localized_rademacher(G, norms=norms, absval=absval, n_draws=n_draws, method=method,
                             random_state=random_state)
    name = f"star hull of {R.inner.shape[1]} functions" + (" (|.|)" if R.absval else "")
    return _star_hull_radius(R, b, name)


# ----------------------------------------------------------------------------------------------
# Closed forms: linear span, constants, RKHS ball (theory §7.2)
# ----------------------------------------------------------------------------------------------

def _projection_norms(Phi: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, int]:
    r""":math:`\|P\varepsilon_b\|_2/\sqrt n = \|Q^\top \varepsilon_b\|_2/\sqrt n` per draw, and
    the rank r of ``Phi``; Q holds the r leading left singular vectors (thin SVD, with the
    rank tolerance of ``np.linalg.matrix_rank``)."""
    n = Phi.shape[0]
    U, s, _ = np.linalg.svd(Phi, full_matrices=False)
    rank = int(np.sum(s > s.max(initial=0.0) * max(Phi.shape) * np.finfo(float).eps))
    return np.linalg.norm(_sign_products(signs, U[:, :rank]), axis=1) / math.sqrt(n), rank


def linear_radius(Phi, b: float = 1.0, *, n_draws: int = 500, method: str = "mc",
                  random_state=None) -> CriticalRadius:
    r"""Critical radius of the linear span :math:`\{x \mapsto \theta^\top\phi(x)\}` (theory §7.2).

    The span is a cone, and the localized sup is exact in closed form,
    :math:`\sup_{\|\Phi\theta\|_n \le \delta} \langle\varepsilon, \Phi\theta\rangle_n
    = \delta\,\|P\varepsilon\|_2/\sqrt n` with :math:`P` the hat matrix of ``Phi``, so
    :math:`\hat R(\delta) = \delta\,c_n` and

    .. math:: \hat\delta_n = b\,\mathbb E\|P\varepsilon\|_2/\sqrt n
              \in \big[b\sqrt{r/(2n)},\ b\sqrt{r/n}\big]

    (Jensen above, Khintchine-Kahane below), r the rank of ``Phi``. Only the column space of
    ``Phi`` matters; rank deficiency is handled by the thin SVD.

    Parameters
    ----------
    Phi : array of shape (n, D)
        Feature matrix :math:`\phi(X_i)^\top` by rows (include a column of ones for an
        intercept).
    b : float > 0
    n_draws, method, random_state
        As in :func:`localized_rademacher`; the expectation over signs is the only Monte
        Carlo step.

    Returns
    -------
    CriticalRadius
        ``se`` is :math:`b` times the standard error of the mean of :math:`\|P\varepsilon\|/\sqrt
        n`, exact because the class is a cone.
    """
    Phi = check_X(Phi, name="Phi")
    b = check_positive(b, "b")
    n = Phi.shape[0]
    signs, exact = _sign_draws(n, n_draws, method, np.random.default_rng(random_state))
    per_draw, rank = _projection_norms(Phi, signs)
    mean, se = _mean_se(per_draw, exact)
    return CriticalRadius(value=b * mean, se=b * se, interval=None,
                          class_name=f"linear span (rank {rank})", n=n, b=b,
                          method=f"hat-matrix closed form, {_method_label(exact, len(signs))}")


def _central_binomial_ratio(N: int) -> float:
    r""":math:`\binom{N}{\lfloor N/2\rfloor} / 2^N`, to machine precision for every N.

    Below ``_EXACT_BINOMIAL_MAX`` from Python integers (int / int is correctly rounded);
    above it from the asymptotic series :math:`\binom{2m}{m}4^{-m} = (\pi m)^{-1/2}
    (1 - \frac1{8m} + \frac1{128m^2} + \frac5{1024m^3} - \frac{21}{32768m^4} + O(m^{-5}))`,
    whose truncation error is below 1e-16 relative for m >= 500, times
    :math:`(2m+1)/(2m+2)` when N = 2m + 1 is odd. (Log-gamma differences lose about
    :math:`N\cdot 10^{-16}` relative accuracy, 2e-8 at N = 1e7.)
    """
    if N < _EXACT_BINOMIAL_MAX:
        return math.comb(N, N // 2) / 2 ** N
    m = N // 2
    series = 1 - 1 / (8 * m) + 1 / (128 * m ** 2) + 5 / (1024 * m ** 3) - 21 / (32768 * m ** 4)
    even = series / math.sqrt(math.pi * m)
    return even if N % 2 == 0 else even * (2 * m + 1) / (2 * m + 2)


def constant_radius(n, b: float = 1.0, *, nonnegative: bool = False) -> CriticalRadius:
    r"""Critical radius of the constant class, exactly (theory §7.2, "Constant class").

    For :math:`\Phi = \mathbf 1` the hat-matrix form gives
    :math:`\delta_n = b\,\mathbb E|S_n|/n` with :math:`S_n = \sum_i \varepsilon_i` and

    .. math:: \mathbb E|S_n| = n \binom{n-1}{\lfloor (n-1)/2\rfloor} 2^{-(n-1)}
              \approx \sqrt{2n/\pi},

    so :math:`\delta_n = b\binom{n-1}{\lfloor (n-1)/2\rfloor}2^{-(n-1)} \approx
    b\sqrt{2/(\pi n)}`. No data are needed. For a k-vector of constants the worst-coordinate
    radius (theory §7) is the same. ``nonnegative=True`` gives the class :math:`\{c \ge 0\}`
    (the SEL loss class of the underfitting example, theory §7.2): :math:`b\,\mathbb
    E(\bar\varepsilon)_+ = ` half of the above.

    Parameters
    ----------
    n : int >= 1
    b : float > 0
    nonnegative : bool

    Returns
    -------
    CriticalRadius
        ``se`` is 0: the value is exact.
    """
    n = check_int(n, "n", minimum=1)
    b = check_positive(b, "b")
    value = b * _central_binomial_ratio(n - 1) * (0.5 if nonnegative else 1.0)
    return CriticalRadius(value=value, se=0.0, interval=None,
                          class_name="non-negative constants" if nonnegative else "constants",
                          n=n, b=b, method="closed form, E|S_n| binomial formula")


def kernel_radius(eigenvalues, b: float = 1.0, *, n=None, kappa: float = 1.0) -> CriticalRadius:
    r"""Critical radius of an RKHS ball from the eigenvalues of K/n, exactly (theory §7.2).

    Solves :math:`R_K(\delta) = \sqrt{(\kappa/n)\sum_j \min(\delta^2, \mu_j)} \le \delta^2/b`
    (Raskutti-Wainwright-Yu form for :math:`\kappa = 1`, Mendelson's upper bound for
    :math:`\kappa = 2`). With :math:`c = \kappa b^2/n`, :math:`m = \#\{j : \mu_j > \delta^2\}`
    and :math:`T_m = \sum_{j > m} \mu_j`, the equation in :math:`x = \delta^2` is the quadratic
    :math:`x^2 - cmx - cT_m = 0`, so :math:`x = (cm + \sqrt{c^2m^2 + 4cT_m})/2`.

    The right m is found without tolerances: :math:`\psi(x) = x/c - \sum_j \min(1, \mu_j/x)`
    is strictly increasing, its root is :math:`\delta_n^2`, and at a breakpoint
    :math:`\psi(\mu_j) = \mu_j/c - j - T_j/\mu_j` (eigenvalues sorted descending), so
    :math:`m = \#\{j : \psi(\mu_j) > 0\}`. This is the scan of theory §7.2; an eigenvalue equal
    to the root gives the same x from either neighbouring piece.

    Scale the eigenvalues by :math:`R_H^2` for a ball of radius :math:`R_H` (by
    :math:`4R_H^2` for the class centred at f0).

    Parameters
    ----------
    eigenvalues : array of shape (J,)
        Eigenvalues :math:`\mu_j \ge 0` of K/n (or population eigenvalues), any order.
        Negative values within round-off (:math:`100 J \epsilon \max|\mu|`) are set to 0;
        larger ones raise ValueError.
    b : float > 0
    n : int >= 1 or None
        Sample size; None means J (the eigenvalues of an n x n kernel matrix).
    kappa : float > 0
        Constant in front of the sum (default 1, the package's form).

    Returns
    -------
    CriticalRadius
        ``se`` is 0: the value is exact.
    """
    try:
        mu = np.asarray(eigenvalues, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"eigenvalues must be numeric, got {eigenvalues!r}") from exc
    if mu.ndim != 1 or mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ValueError(f"eigenvalues must be a non-empty 1-D array of finite numbers, got "
                         f"shape {mu.shape}")
    tol = 100 * mu.size * np.finfo(float).eps * np.abs(mu).max()
    if mu.min() < -tol:
        j = int(np.argmin(mu))
        raise ValueError(f"eigenvalues must be >= 0 (K/n is positive semi-definite); "
                         f"eigenvalues[{j}] = {float(mu[j])!r} is below -{tol:.3g}")
    b = check_positive(b, "b")
    n = mu.size if n is None else check_int(n, "n", minimum=1)
    kappa = check_positive(kappa, "kappa")

    mu = np.sort(mu[mu > 0])[::-1]
    c = kappa * b * b / n
    if mu.size == 0:
        x = 0.0
    else:
        tails = np.append(np.cumsum(mu[::-1])[::-1][1:], 0.0)  # T_j = sum_{i > j} mu_i
        j = np.arange(1, mu.size + 1)
        m = int(np.count_nonzero(mu / c - j - tails / mu > 0))
        T_m = float(mu[m:].sum())
        x = (c * m + math.sqrt((c * m) ** 2 + 4 * c * T_m)) / 2
    return CriticalRadius(value=math.sqrt(x), se=0.0, interval=None,
                          class_name=f"RKHS ball via eigenvalues of K/n (kappa={kappa:g})",
                          n=n, b=b, method="closed form, quadratic scan")


# ----------------------------------------------------------------------------------------------
# The SEL loss-difference class (theory §7.2)
# ----------------------------------------------------------------------------------------------

def _sphere_net(dim: int, n_directions: int, rng: np.random.Generator) -> np.ndarray:
    """Unit directions in R^dim, shape (n_directions, dim); {+1, -1} in one dimension, equally
    spaced angles in two, normalised Gaussian draws from ``rng`` above."""
    if dim == 1:
        return np.array([[1.0], [-1.0]])
    if dim == 2:
        angles = 2 * np.pi * np.arange(n_directions) / n_directions
        return np.column_stack([np.cos(angles), np.sin(angles)])
    U = rng.standard_normal((n_directions, dim))
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def sel_loss_radius(e, b: float = 1.0, *, Phi=None, n_directions: int = 128,
                    n_scales: int = 49, n_draws: int = 500, method: str = "mc",
                    random_state=None) -> CriticalRadius:
    r"""Critical radius of the SEL loss-difference class of a constant or linear student.

    For :math:`\ell(f, p) = \frac12\|f - g(p)\|^2` and a student
    :math:`f = \Theta^\top\phi` (constant student: :math:`\phi = 1`), the class of
    docs/theory.md §7 is the star hull of

    .. math:: g_\Delta(x) = \ell(f_0 + \Delta^\top\phi, p_0) - \ell(f_0, p_0)
              = \tfrac12 \textstyle\sum_j (\Delta_j^\top\phi(x))^2
                + \sum_j (\Delta_j^\top\phi(x))\, e_j(x),
              \qquad e = f_0 - g(p_0),

    over :math:`\Delta \in \mathbb R^{D\times k}` (theory §7.2). Two values bracket its
    critical radius, computed on the same sign draws:

    * a **net** (lower bound): :math:`\Delta = t u` with ``n_directions`` unit directions u
      (equally spaced angles when Dk = 2, random otherwise) times ``n_scales`` log-spaced t.
      Per direction the t grid spans 1e-3 times the smaller to 1e3 times the larger of the
      crossover scale :math:`2\|L_u\|_n/\|Q_u\|_n` (where the linear and quadratic parts of
      :math:`g_{tu} = t(\frac t2 Q_u + L_u)` balance) and :math:`\sqrt{2b/\|Q_u\|_n}` (where
      the quadratic part reaches norm b), so both shapes and all norms up to b are covered.
      Solved with :func:`localized_rademacher` machinery (empirical norms, one-sided);
    * a **span** (upper bound): every :math:`g_\Delta` lies in
      :math:`\mathrm{span}\{\phi_a\phi_c\ (a \le c),\ \phi_a e_j\}`, a cone, so
      :func:`linear_radius` of those features bounds the radius. For the constant student this
      is :math:`\mathrm{span}\{1, e_1..e_k\}` and the bound is at most
      :math:`b\sqrt{(k+1)/n}` in expectation.

    When e = 0 (the underfitting example) the class is the non-negative constants and the
    net is exact: :math:`b\,\mathbb E(\bar\varepsilon)_+`.

    Parameters
    ----------
    e : array of shape (n, k)
        :math:`e(X_i) = f_0(X_i) - g(p_0(X_i))`, the target's residual per class (for the
        constant student :math:`f_0 - \log p_0(X_i)`, mean zero under P); 1-D means k = 1.
    b : float > 0
    Phi : array of shape (n, D) or None
        Student features (with a column of ones for an intercept); None is the constant
        student.
    n_directions : int >= 2
        Directions in :math:`\mathbb R^{Dk}` (ignored when Dk = 1, which has two).
    n_scales : int >= 2
    n_draws, method, random_state
        As in :func:`localized_rademacher`. The signs are drawn first, so the span bound equals
        :func:`linear_radius` of the span features with the same ``random_state``.

    Returns
    -------
    CriticalRadius
        ``value`` is the net's radius, ``interval`` = (net, span), ``se`` the net's
        first-order Monte Carlo error.
    """
    e = check_X(e, name="e")
    n, k = e.shape
    student = "constant" if Phi is None else "linear"
    Phi = np.ones((n, 1)) if Phi is None else check_X(Phi, name="Phi")
    if Phi.shape[0] != n:
        raise ValueError(f"Phi has {Phi.shape[0]} rows but e has {n}")
    b = check_positive(b, "b")
    n_directions = check_int(n_directions, "n_directions", minimum=2)
    n_scales = check_int(n_scales, "n_scales", minimum=2)
    D = Phi.shape[1]
    rng = np.random.default_rng(random_state)
    signs, exact = _sign_draws(n, n_draws, method, rng)

    directions = _sphere_net(D * k, n_directions, rng).reshape(-1, D, k)
    Z = np.einsum("id,udk->iuk", Phi, directions)      # Delta_j^T phi(X_i) for Delta = u
    Q = np.sum(Z ** 2, axis=2)                          # (n, U): quadratic part
    L = np.sum(Z * e[:, None, :], axis=2)               # (n, U): linear part
    Q_norm = np.sqrt(np.mean(Q ** 2, axis=0))
    keep = Q_norm > 0                                   # Q_u = 0 means g_{tu} = 0 for all t
    Q, L, Q_norm = Q[:, keep], L[:, keep], Q_norm[keep]
    t_quad = np.sqrt(2 * b / Q_norm)
    t_cross = 2 * np.sqrt(np.mean(L ** 2, axis=0)) / Q_norm
    t_lo = 1e-3 * np.where(t_cross > 0, np.minimum(t_quad, t_cross), t_quad)
    t_hi = 1e3 * np.maximum(t_quad, t_cross)
    t = t_lo[:, None] * (t_hi / t_lo)[:, None] ** np.linspace(0.0, 1.0, n_scales)  # (U, T)

    # g_{tu} = t (t Q_u / 2 + L_u): inner products and norms for every (u, t) pair.
    SQ, SL = _sign_products(signs, Q) / n, _sign_products(signs, L) / n
    inner = (0.5 * t ** 2 * SQ[:, :, None] + t * SL[:, :, None]).reshape(len(signs), -1)
    norms = np.stack([t[:, s] * np.sqrt(np.mean((0.5 * t[:, s] * Q + L) ** 2, axis=0))
                      for s in range(n_scales)], axis=1).ravel()
    net = LocalizedRademacher(np.ascontiguousarray(inner), norms, n, False, exact)

    pairs = [Phi[:, a] * Phi[:, c] for a in range(D) for c in range(a, D)]
    span = np.column_stack(pairs + [Phi[:, a] * e[:, j] for a in range(D) for j in range(k)])
    upper = b * _mean_se(_projection_norms(span, signs)[0], exact)[0]
    name = f"SEL loss difference, {student} student (D={D}, k={k})"
    return _star_hull_radius(net, b, name, upper)


# ----------------------------------------------------------------------------------------------
# Per-cell helper for the rate studies (docs/theory.md §8)
# ----------------------------------------------------------------------------------------------

def student_critical_radius(student: str, X_or_n, *, b: float = 1.0, fit_intercept: bool = True,
                            n_draws: int = 200, random_state=None) -> CriticalRadius:
    r"""The :math:`\delta_n` of a student class, cheap enough for every Monte Carlo cell.

    The class is the student class F itself, per output coordinate: F is a linear span, so
    :math:`\mathrm{star}(F - f_0) = F`, and a k-vector of such students has the same radius
    in each coordinate (worst-coordinate convention of theory §7). ``b`` defaults to 1, the
    scaling of theory §7; state any other choice with the results.

    * ``"constant"``: :func:`constant_radius`, the exact :math:`b\,\mathbb E|S_n|/n
      \approx b\sqrt{2/(\pi n)}`; ``X_or_n`` may be n or the data (n rows); microseconds.
    * ``"linear"``: :func:`linear_radius` of :math:`\phi(x) = (1, x)` (or x when
      ``fit_intercept`` is False, as in :class:`kdtheory.students.LinearStudent`);
      ``X_or_n`` is the (n, d) data; with 200 draws about 1 ms at n = 10^3, 10 ms at
      10^4 and 0.1 s at 10^5 (sign draws and one pass over them).

    docs/theory.md §8 writes the cross-fit term with :math:`\delta_{n/B}`: for it pass n // B (or
    the rows of one fold) instead of n.

    Parameters
    ----------
    student : {"constant", "linear"}
    X_or_n : int or array of shape (n, d)
    b : float > 0
    fit_intercept : bool
        Linear student only.
    n_draws, random_state
        Linear student only: Monte Carlo sign draws (pass the cell's seed for reproducible
        records).

    Returns
    -------
    CriticalRadius
    """
    if student == "constant":
        n = (check_int(X_or_n, "n", minimum=1) if np.ndim(X_or_n) == 0
             else check_X(X_or_n, name="X").shape[0])
        return constant_radius(n, b)
    if student == "linear":
        X = check_X(X_or_n, name="X")
        Phi = np.column_stack([np.ones(X.shape[0]), X]) if fit_intercept else X
        return linear_radius(Phi, b, n_draws=n_draws, random_state=random_state)
    raise ValueError(f"student must be 'constant' or 'linear', got {student!r}")
