"""Critical radii: the property tests of docs/theory.md §7.

Most checks are deterministic inequalities: exact enumeration of all sign vectors (n <= 12) or
common random numbers (the same integer seed gives every estimator the same sign draws).
"""

import dataclasses
import math
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kdtheory._radius_kernels import star_hull_sup
from kdtheory.radius import (
    MAX_EXACT_N, constant_radius, critical_radius, finite_class_radius, kernel_radius,
    linear_radius, localized_rademacher, sel_loss_radius, student_critical_radius,
)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _reference as ref  # noqa: E402

seeds = st.integers(0, 2**32 - 1)
small_n = st.integers(1, 10)
bs = st.floats(0.1, 10.0)
RTOL = 1e-10  # the solver's default relative tolerance


def approx(expected, rel=None, abs=0.0):
    """``pytest.approx`` without its default absolute tolerance of 1e-12, which would swamp
    the relative tolerances used here for radii of order 0.01."""
    return pytest.approx(expected, rel=rel, abs=abs)


def _random_class(seed, M, n):
    """M random functions on n points with varied scales and offsets (not symmetric)."""
    rng = np.random.default_rng(seed)
    scales = rng.lognormal(0.0, 1.0, size=(M, 1))
    return scales * (rng.standard_normal((M, n)) + rng.normal(0.0, 1.0, size=(M, 1)))


def _log_slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# --- the Numba kernel and the star-hull lemma (theory §7) -------------------------------------

@given(seed=seeds, B=st.integers(1, 30), M=st.integers(1, 20), delta=st.floats(1e-3, 10.0),
       absval=st.booleans())
def test_star_hull_kernel_matches_numpy_reference(seed, B, M, delta, absval):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((B, M))
    norms = rng.lognormal(0.0, 1.0, size=M)
    norms[rng.random(M) < 0.2] = 0.0  # zero functions are never scaled
    got = star_hull_sup(S, norms, delta, absval)
    np.testing.assert_allclose(got, ref.star_hull_sup(S, norms, delta, absval), rtol=1e-14)


@given(seed=seeds, M=st.integers(1, 10), delta=st.floats(1e-2, 3.0))
def test_star_hull_lemma_against_a_grid_over_r(seed, M, delta):
    """sup over r in [0, 1] with r ||g|| <= delta of r <eps, g> equals the lemma's scaling."""
    rng = np.random.default_rng(seed)
    S, norms = rng.standard_normal((5, M)), rng.lognormal(0.0, 1.0, size=M)
    r = np.linspace(0.0, 1.0, 2001)
    feasible = r[None, :] * norms[:, None] <= delta                        # (M, R)
    brute = np.max(np.where(feasible[None], r[None, None, :] * S[:, :, None], 0.0), axis=(1, 2))
    lemma = star_hull_sup(S, norms, delta, False)
    assert np.all(brute <= lemma + 1e-12)
    assert np.all(lemma - brute <= np.abs(S).max() / 2000 + 1e-12)


# --- 1. ratio monotonicity, 2. interval property and solvers (theory §7.1) -----------------------

@given(seed=seeds, M=st.integers(1, 8), n=small_n, method=st.sampled_from(["mc", "exact"]),
       absval=st.booleans())
def test_complexity_non_decreasing_with_non_increasing_ratio(seed, M, n, method, absval):
    R = localized_rademacher(_random_class(seed, M, n), absval=absval, n_draws=50,
                             method=method, random_state=seed)
    deltas = np.sort(np.random.default_rng(seed).lognormal(0.0, 2.0, size=30))
    values = np.array([R(d) for d in deltas])
    assert np.all(np.diff(values) >= -1e-12 * values[1:])
    ratios = values / deltas
    assert np.all(np.diff(ratios) <= 1e-12 * ratios[:-1])


@given(seed=seeds, M=st.integers(1, 8), n=small_n, b=bs, u=st.floats(1e-6, 3.0))
def test_interval_property_and_solvers_agree(seed, M, n, b, u):
    R = localized_rademacher(_random_class(seed, M, n), method="exact")
    delta_n = critical_radius(R, b)
    assert critical_radius(R, b, method="fixed_point") == approx(delta_n, rel=1e-8)
    assert R(delta_n) <= delta_n ** 2 / b                    # the certified upper end
    above, below = delta_n * (1 + u), delta_n / (1 + u)
    assert R(above) <= above ** 2 / b
    assert R(below) > below ** 2 / b


@pytest.mark.parametrize("method", ["bisection", "fixed_point"])
@pytest.mark.parametrize("b", [0.1, 0.3, 1.0, 7.0])
def test_solver_on_closed_forms(method, b):
    cone, level = 0.37, 0.02
    assert critical_radius(lambda d: cone * d, b, method=method) == approx(b * cone,
                                                                                   rel=1e-8)
    assert critical_radius(lambda d: level, b, method=method) == approx(
        math.sqrt(b * level), rel=1e-8)
    # a kink: R(d) = min(d, 0.1) * 0.5 has its root on the flat part when b is large enough
    expected = math.sqrt(b * 0.05) if math.sqrt(b * 0.05) >= 0.1 else 0.5 * b
    assert critical_radius(lambda d: 0.5 * min(d, 0.1), b, method=method) == approx(
        expected, rel=1e-8)
    assert critical_radius(lambda d: 0.0, b, method=method) == 0.0


@given(seed=seeds, n=st.integers(2, 300), b=bs)
def test_one_function_in_its_cone_regime_matches_the_span_with_its_standard_error(seed, n, b):
    """With |.| the star hull of {g} localizes like span{g} while delta_n <= ||g||_n; scaling g
    to norm 2b guarantees that (delta_n <= b), so value and MC SE must equal the span's."""
    g = np.random.default_rng(seed).standard_normal(n) + 0.3
    g *= 2 * b / np.sqrt(np.mean(g ** 2))
    kw = dict(n_draws=200, random_state=seed)
    segment = finite_class_radius(g, b, absval=True, **kw)
    span = linear_radius(g[:, None], b, **kw)
    assert segment.value == approx(span.value, rel=1e-8)
    assert segment.se == approx(span.se, rel=1e-6)


def test_trivial_class_has_radius_zero():
    result = finite_class_radius(np.zeros((3, 6)), method="exact")
    assert result.value == 0.0 and result.se == 0.0


# --- 3. universal brackets and Massart's lemma ------------------------------------------------

@given(seed=seeds, M=st.integers(1, 8), n=small_n, b=bs, absval=st.booleans(),
       delta0=st.floats(1e-3, 10.0))
def test_universal_brackets_under_enumeration(seed, M, n, b, absval, delta0):
    G = _random_class(seed, M, n)
    R = localized_rademacher(G, absval=absval, method="exact")
    delta_n = critical_radius(R, b)
    largest = np.sqrt(np.mean(G ** 2, axis=1)).max()
    khintchine = b / math.sqrt(2 * n) if absval else b / (2 * math.sqrt(2 * n))
    assert min(largest, khintchine) <= delta_n * (1 + 1e-12)
    n_signed = 2 * M + 1 if absval else M + 1
    assert delta_n <= b * math.sqrt(2 * math.log(n_signed) / n) * (1 + RTOL)   # Massart
    assert delta_n <= max(delta0, b * R(delta0) / delta0) * (1 + RTOL)


# --- 11. Monte Carlo vs exact enumeration -----------------------------------------------------

@given(seed=seeds, M=st.integers(1, 8), n=st.integers(1, MAX_EXACT_N),
       delta=st.floats(1e-2, 3.0))
def test_monte_carlo_within_four_standard_errors_of_enumeration(seed, M, n, delta):
    G = _random_class(seed, M, n)
    exact = localized_rademacher(G, method="exact")
    mc = localized_rademacher(G, n_draws=4000, random_state=seed)
    assert abs(mc(delta) - exact(delta)) <= 4 * mc.se(delta) + 1e-12
    assert exact.se(delta) == 0.0
    Phi = G.T[:, : max(1, M // 2)]
    lin_exact = linear_radius(Phi, method="exact")
    lin_mc = linear_radius(Phi, n_draws=4000, random_state=seed)
    assert abs(lin_mc.value - lin_exact.value) <= 4 * lin_mc.se + 1e-12


@given(seed=seeds, M=st.integers(1, 8), n=st.integers(2, 10), delta=st.floats(1e-2, 3.0))
def test_exact_complexity_is_invariant_under_permuting_the_sample(seed, M, n, delta):
    G = _random_class(seed, M, n)
    perm = np.random.default_rng(seed).permutation(n)
    before = localized_rademacher(G, method="exact")(delta)
    assert localized_rademacher(G[:, perm], method="exact")(delta) == approx(before,
                                                                                   rel=1e-12)


# --- 4. linear and constant classes (theory §7.2) ------------------------------------------------

@given(seed=seeds, n=st.integers(2, MAX_EXACT_N), D=st.integers(1, 4), b=bs)
def test_linear_class_is_the_hat_matrix_closed_form(seed, n, D, b):
    Phi = np.random.default_rng(seed).standard_normal((n, min(D, n)))
    result = linear_radius(Phi, b, method="exact")
    expected = b * ref.hat_matrix_norms(Phi, ref.all_sign_vectors(n)).mean()
    assert result.value == approx(expected, rel=1e-10)
    r = np.linalg.matrix_rank(Phi)
    assert b * math.sqrt(r / (2 * n)) <= result.value * (1 + 1e-12)        # Khintchine-Kahane
    assert result.value <= b * math.sqrt(r / n) * (1 + 1e-12)              # Jensen
    # a cone: R(delta)/delta is constant, and the generic solver returns b R(1)
    cone = result.value / b
    assert critical_radius(lambda d: cone * d, b) == approx(result.value, rel=1e-8)


@given(seed=seeds, D=st.integers(1, 5), c=st.floats(0.01, 100.0))
def test_linear_class_depends_only_on_the_column_space(seed, D, c):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((60, D))
    A = rng.standard_normal((D, D)) + 3 * np.eye(D)                        # invertible
    base = linear_radius(Phi, random_state=seed).value
    assert linear_radius(Phi @ A, random_state=seed).value == approx(base, rel=1e-9)
    assert linear_radius(c * Phi, random_state=seed).value == approx(base, rel=1e-9)
    duplicated = np.column_stack([Phi, Phi[:, :1] * 2.0])                  # rank deficient
    assert linear_radius(duplicated, random_state=seed).value == approx(base, rel=1e-9)


def test_linear_class_bounds_and_rate_with_monte_carlo():
    rng = np.random.default_rng(0)
    values = []
    for n in (200, 800, 3200):
        result = linear_radius(rng.standard_normal((n, 4)), n_draws=2000, random_state=1)
        assert math.sqrt(4 / (2 * n)) - 4 * result.se <= result.value
        assert result.value <= math.sqrt(4 / n) + 4 * result.se
        values.append(result.value)
    assert _log_slope([200, 800, 3200], values) == approx(-0.5, abs=0.05)


@pytest.mark.parametrize("n", range(1, MAX_EXACT_N + 1))
def test_constant_class_matches_enumeration(n):
    expected = ref.mean_abs_sign_sum(n) / n
    assert constant_radius(n).value == approx(expected, rel=1e-14)
    assert linear_radius(np.ones((n, 1)), method="exact").value == approx(expected,
                                                                                 rel=1e-12)
    assert constant_radius(n, 2.5, nonnegative=True).value == approx(1.25 * expected,
                                                                             rel=1e-14)


@pytest.mark.parametrize("n", [998, 999, 1000, 1001, 1002, 4001, 20000])
def test_constant_class_binomial_formula_is_accurate_for_large_n(n):
    N = n - 1
    exact = math.comb(N, N // 2) / 2 ** N                                  # correctly rounded
    assert constant_radius(n).value == approx(exact, rel=2e-15)


def test_constant_class_asymptotics():
    for n in (10**6, 10**9):
        value = constant_radius(n).value
        assert value == approx(math.sqrt(2 / (math.pi * n)), rel=1 / n)
    assert critical_radius(lambda d: d * constant_radius(500).value, 1.0) == approx(
        constant_radius(500).value, rel=1e-8)


# --- kernel class (theory §7.2) ------------------------------------------------------------------

@given(seed=seeds, J=st.integers(1, 40), n=st.integers(1, 10**4), b=bs,
       kappa=st.floats(0.1, 4.0), zeros=st.integers(0, 3), ties=st.booleans())
def test_kernel_scan_matches_bisection_and_fixed_point(seed, J, n, b, kappa, zeros, ties):
    rng = np.random.default_rng(seed)
    mu = rng.lognormal(-3.0, 2.0, size=J)
    if ties:
        mu = np.round(mu, 2)
    mu = np.concatenate([mu, np.zeros(zeros)])
    scan = kernel_radius(mu, b, n=n, kappa=kappa).value
    R = lambda d: ref.kernel_complexity(d, mu, n, kappa)  # noqa: E731
    if not np.any(mu > 0):
        assert scan == 0.0
        return
    assert critical_radius(R, b) == approx(scan, rel=1e-8)
    assert critical_radius(R, b, method="fixed_point") == approx(scan, rel=1e-8)


@pytest.mark.parametrize("D", [1, 3, 10])
@pytest.mark.parametrize("kappa", [1.0, 2.0])
def test_finite_rank_kernel_is_exact(D, kappa):
    for n, b in [(100, 1.0), (1000, 3.0), (50, 0.5)]:
        assert b * b * kappa * D / n <= 1
        value = kernel_radius(np.ones(D), b, n=n, kappa=kappa).value
        assert value == approx(b * math.sqrt(kappa * D / n), rel=1e-14)


@pytest.mark.parametrize("s", [1, 2])
def test_polynomial_eigenvalue_decay_gives_the_nonparametric_rate(s):
    mu = np.arange(1, 10**5 + 1, dtype=float) ** (-2.0 * s)
    sizes = np.logspace(2, 6, 9)
    values = [kernel_radius(mu, n=int(n)).value for n in sizes]
    assert _log_slope(sizes, values) == approx(-s / (2 * s + 1), abs=0.03)
    assert np.all(np.diff(values) < 0)                    # non-increasing in n (theory §7)


@given(seed=seeds, J=st.integers(1, 30), n=st.integers(1, 10**4), R_H=st.floats(0.1, 10.0))
def test_kernel_domination_radius_scaling_and_kappa_sandwich(seed, J, n, R_H):
    rng = np.random.default_rng(seed)
    mu = rng.lognormal(-3.0, 2.0, size=J)
    bigger = mu * (1 + rng.random(J))
    base = kernel_radius(mu, n=n).value
    assert base <= kernel_radius(bigger, n=n).value
    assert kernel_radius(R_H**2 * mu, R_H, n=n).value == approx(R_H * base, rel=1e-12)
    doubled = kernel_radius(mu, n=n, kappa=2.0).value
    assert base <= doubled <= math.sqrt(2) * base * (1 + 1e-12)


def test_kernel_round_off_negative_eigenvalues_are_accepted():
    K = np.random.default_rng(0).standard_normal((40, 3))
    mu = np.linalg.eigvalsh(K @ K.T / 40)                 # rank 3: 37 eigenvalues near 0
    assert kernel_radius(mu).value == approx(
        kernel_radius(np.clip(mu, 0, None)).value, rel=1e-12)


# --- 5. scaling, 6. inclusion, 9. absolute value ----------------------------------------------

@given(seed=seeds, M=st.integers(1, 8), n=small_n, b=bs, c=st.floats(0.05, 20.0))
def test_scaling_the_class_and_b_together(seed, M, n, b, c):
    G = _random_class(seed, M, n)
    base = finite_class_radius(G, b, method="exact").value
    assert finite_class_radius(c * G, c * b, method="exact").value == approx(
        c * base, rel=1e-8)
    if c >= 1:  # the b-scaling lemma (theory §7.1)
        scaled = finite_class_radius(G, c * b, method="exact").value
        assert math.sqrt(c) * base * (1 - 1e-9) <= scaled <= c * base * (1 + 1e-9)


@given(seed=seeds, M=st.integers(1, 8), n=small_n, method=st.sampled_from(["mc", "exact"]),
       r=st.floats(0.0, 1.0))
def test_inclusion_monotonicity_under_common_random_numbers(seed, M, n, method, r):
    G = _random_class(seed, M + 1, n)
    kw = dict(method=method, n_draws=100, random_state=seed)
    small, large = finite_class_radius(G[:-1], **kw).value, finite_class_radius(G, **kw).value
    assert small <= large * (1 + RTOL)
    # adding r*g, 0 or a duplicate does not change the star hull, hence not the radius
    same_hull = np.vstack([G, r * G[:1], np.zeros((1, n)), G[-1:]])
    assert finite_class_radius(same_hull, **kw).value == large


@given(seed=seeds, n=st.integers(5, 200), D1=st.integers(1, 4), extra=st.integers(1, 3))
def test_nested_feature_sets_and_nets_inside_the_span(seed, n, D1, extra):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n, D1 + extra))
    kw = dict(n_draws=100, random_state=seed)
    small, large = linear_radius(Phi[:, :D1], **kw).value, linear_radius(Phi, **kw).value
    assert small <= large * (1 + 1e-12)
    net = (Phi @ rng.standard_normal((D1 + extra, 12))).T                 # 12 functions
    assert finite_class_radius(net, **kw).value <= large * (1 + RTOL)


@given(seed=seeds, M=st.integers(1, 8), n=small_n, b=bs)
def test_absolute_value_version_is_within_a_factor_two(seed, M, n, b):
    G = _random_class(seed, M, n)
    one_sided = finite_class_radius(G, b, method="exact").value
    two_sided = finite_class_radius(G, b, absval=True, method="exact").value
    assert one_sided * (1 - RTOL) <= two_sided <= 2 * one_sided * (1 + RTOL)
    symmetric = np.vstack([G, -G])
    assert finite_class_radius(symmetric, b, method="exact").value == approx(
        finite_class_radius(symmetric, b, absval=True, method="exact").value, rel=1e-9)


# --- SEL loss-difference class (theory §7) -----------------------------------------------------

def _overfit_residual(n, seed):
    """e = f0 - log p0(X) for the overfitting example's p0 with d = 2 (docs/theory.md §5.2)."""
    rng = np.random.default_rng(seed)

    def log_p0(x):
        p1 = 0.5 + 0.35 * np.sin(2 * np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1])
        return np.log(np.column_stack([1 - p1, p1]))

    f0 = log_p0(rng.random((200_000, 2))).mean(axis=0)
    return f0 - log_p0(rng.random((n, 2)))


@pytest.mark.parametrize("n", [5, 10])
def test_sel_constant_student_with_exact_teacher_is_the_nonnegative_constants(n):
    result = sel_loss_radius(np.zeros((n, 3)), 2.0, method="exact")
    assert result.value == approx(constant_radius(n, 2.0, nonnegative=True).value,
                                         rel=1e-8)


@given(seed=seeds, n=st.integers(2, 300), k=st.integers(1, 3), lam=st.floats(0.01, 100.0))
def test_sel_net_scales_with_the_residual_and_phi_one_is_the_constant_student(seed, n, k, lam):
    """g_Delta(lam e) = lam^2 g_(Delta/lam)(e), so G(lam e) = lam^2 G(e) and, by the scaling
    property, radius(lam e, lam^2 b) = lam^2 radius(e, b); the net's t grid scales along."""
    e = np.random.default_rng(seed).standard_normal((n, k)) + 0.1
    kw = dict(n_directions=16, n_scales=13, n_draws=100, random_state=seed)
    base = sel_loss_radius(e, **kw)
    scaled = sel_loss_radius(lam * e, lam ** 2, **kw)
    assert scaled.value == approx(lam ** 2 * base.value, rel=1e-8)
    assert scaled.interval[1] == approx(lam ** 2 * base.interval[1], rel=1e-8)
    via_features = sel_loss_radius(e, Phi=np.ones((n, 1)), **kw)
    assert via_features.value == approx(base.value, rel=1e-12)
    assert via_features.interval[1] == approx(base.interval[1], rel=1e-12)


@given(seed=seeds, n=st.integers(2, MAX_EXACT_N), k=st.integers(1, 3), b=bs)
def test_sel_constant_student_net_below_span_below_jensen(seed, n, k, b):
    e = np.random.default_rng(seed).standard_normal((n, k))
    result = sel_loss_radius(e, b, n_directions=16, n_scales=13, method="exact",
                             random_state=seed)
    lower, upper = result.interval
    assert lower == result.value
    assert lower <= upper * (1 + RTOL)
    span = linear_radius(np.column_stack([np.ones(n), e]), b, method="exact").value
    assert upper == approx(span, rel=1e-12)
    assert upper <= b * math.sqrt((k + 1) / n) * (1 + 1e-12)


@given(seed=seeds, n=st.integers(20, 200), D=st.integers(1, 3), k=st.integers(1, 2))
def test_sel_linear_student_net_below_span(seed, n, D, k):
    rng = np.random.default_rng(seed)
    Phi = np.column_stack([np.ones(n), rng.standard_normal((n, D - 1))])
    e = rng.standard_normal((n, k))
    result = sel_loss_radius(e, Phi=Phi, n_directions=16, n_scales=9, n_draws=100,
                             random_state=seed)
    lower, upper = result.interval
    assert 0 < lower <= upper * (1 + RTOL)
    assert upper <= math.sqrt((D * (D + 1) / 2 + D * k) / n) * 1.5        # span dimension


def test_sel_constant_student_rate_on_the_overfit_example():
    sizes = [250, 1000, 4000]
    results = [sel_loss_radius(_overfit_residual(n, seed=n), n_directions=32, n_scales=25,
                               n_draws=300, random_state=0) for n in sizes]
    for n, result in zip(sizes, results):
        assert result.interval[1] <= math.sqrt(3 / n) + 4 * result.se
        assert result.value >= 0.5 * result.interval[1]   # the net is not vacuous
    assert _log_slope(sizes, [r.value for r in results]) == approx(-0.5, abs=0.1)


# --- the per-cell helper and the result object ------------------------------------------------

def test_student_critical_radius_dispatch():
    X = np.random.default_rng(0).standard_normal((300, 2))
    assert student_critical_radius("constant", 300) == constant_radius(300)
    assert student_critical_radius("constant", X, b=2.0) == constant_radius(300, 2.0)
    with_intercept = linear_radius(np.column_stack([np.ones(300), X]), n_draws=50,
                                   random_state=3)
    assert student_critical_radius("linear", X, n_draws=50, random_state=3) == with_intercept
    without = student_critical_radius("linear", X, fit_intercept=False, n_draws=50,
                                      random_state=3)
    assert without == linear_radius(X, n_draws=50, random_state=3)


def test_result_object():
    result = linear_radius(np.ones((20, 1)), 2.0, n_draws=100, random_state=0)
    assert result.delta_sq == result.value ** 2
    assert result.n == 20 and result.b == 2.0 and result.se > 0 and result.interval is None
    text = repr(result)
    assert "delta_n=" in text and "MC SE" in text and "linear span (rank 1)" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 0.0


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: critical_radius(lambda d: d, 0.0),
    lambda: critical_radius(lambda d: d, -1.0),
    lambda: critical_radius(lambda d: d, 1.0, method="newton"),
    lambda: critical_radius(lambda d: -d, 1.0),
    lambda: critical_radius(lambda d: float("nan"), 1.0),
    lambda: constant_radius(0),
    lambda: constant_radius(10, b=0.0),
    lambda: constant_radius(2.0),
    lambda: linear_radius(np.ones((5, 1)), b=-1.0),
    lambda: linear_radius(np.empty((0, 2))),
    lambda: linear_radius(np.ones((5, 1)), n_draws=1),
    lambda: linear_radius(np.ones((MAX_EXACT_N + 1, 1)), method="exact"),
    lambda: finite_class_radius(np.empty((0, 5))),
    lambda: finite_class_radius(np.ones((2, 5)), b=0),
    lambda: finite_class_radius([[1.0, np.nan]]),
    lambda: finite_class_radius(np.ones((2, 5)), method="bootstrap"),
    lambda: localized_rademacher(np.ones((2, 5)), norms=[1.0]),
    lambda: localized_rademacher(np.ones((2, 5)), norms=[1.0, -1.0]),
    lambda: kernel_radius([1.0, -0.1]),
    lambda: kernel_radius([]),
    lambda: kernel_radius([1.0, 0.5], n=0),
    lambda: kernel_radius([1.0, 0.5], b=0.0),
    lambda: kernel_radius([1.0, 0.5], kappa=0.0),
    lambda: sel_loss_radius(np.zeros((5, 2)), b=0.0),
    lambda: sel_loss_radius(np.zeros((5, 2)), Phi=np.ones((4, 1))),
    lambda: student_critical_radius("tree", 10),
    lambda: student_critical_radius("constant", 0),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_error_messages_name_the_argument_and_value():
    with pytest.raises(ValueError, match=r"b must be a positive number, got -2"):
        constant_radius(5, b=-2.0)
    with pytest.raises(ValueError, match=r"eigenvalues\[1\] = -0.1"):
        kernel_radius([1.0, -0.1])
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        constant_radius(0)

