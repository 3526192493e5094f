"""Losses: gradients vs finite differences, Neyman orthogonality, pseudo-target limits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kdtheory.losses import (
    AnnealedCrossEntropy, SquaredLogitLoss, clip_proba, corrected_loss, gamma_residual,
    gamma_rule, sel_pseudo_target,
)

K = st.integers(2, 5)
seeds = st.integers(0, 2**32 - 1)


def _random_point(seed, k, rows=3):
    """Scores f and strictly interior probabilities p (away from the clip level)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(scale=2.0, size=(rows, k))
    p = rng.dirichlet(np.ones(k), size=rows) * 0.9 + 0.1 / k  # >= 0.02 > clip
    return f, p


def _losses():
    return [SquaredLogitLoss(), AnnealedCrossEntropy(beta=1.0), AnnealedCrossEntropy(beta=0.3)]


def _fd_grad(fun, x, h=1e-6):
    """Central finite differences of a per-row function, column by column."""
    g = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        g[:, j] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


@given(seed=seeds, k=K)
def test_gradients_match_finite_differences(seed, k):
    f, p = _random_point(seed, k)
    for loss in _losses():
        np.testing.assert_allclose(
            loss.grad_f(f, p), _fd_grad(lambda ff, loss=loss: loss.value(ff, p), f),
            rtol=1e-5, atol=1e-6,
        )
        np.testing.assert_allclose(
            loss.grad_p(f, p), _fd_grad(lambda pp, loss=loss: loss.value(f, pp), p, h=1e-7),
            rtol=1e-5, atol=1e-5,
        )


@given(seed=seeds, k=K, beta=st.floats(0.05, 1.0))
def test_ace_corrected_gradient_and_closed_form(seed, k, beta):
    f, p = _random_point(seed, k)
    rng = np.random.default_rng(seed + 1)
    y = np.eye(k)[rng.integers(0, k, size=f.shape[0])]
    loss = AnnealedCrossEntropy(beta=beta)
    gamma = 1.0 / p
    # The specialised ACE correction equals the generic <gamma p (y - p), grad_p l>.
    np.testing.assert_allclose(
        loss.corrected_value(f, p, y, gamma), corrected_loss(loss, f, p, y, gamma), rtol=1e-10,
        atol=1e-10,
    )
    np.testing.assert_allclose(
        loss.corrected_grad_f(f, p, y, gamma),
        _fd_grad(lambda ff: loss.corrected_value(ff, p, y, gamma), f), rtol=1e-5, atol=1e-6,
    )


def _expected_corrected(loss, f, p, p0, gamma_of_p):
    """E_{y ~ p0} of the corrected loss (exact: sum over the k classes)."""
    k = p0.shape[1]
    total = np.zeros(f.shape[0])
    for j in range(k):
        y = np.zeros_like(p0)
        y[:, j] = 1.0
        total += p0[:, j] * corrected_loss(loss, f, p, y, gamma_of_p(p))
    return total


@given(seed=seeds, k=K)
def test_neyman_orthogonality(seed, k):
    """d/dp E_{y~p0}[corrected loss](f, p) = 0 at p = p0; the uncorrected loss fails."""
    f, p0 = _random_point(seed, k)
    for loss in _losses():
        orth = _fd_grad(lambda pp, loss=loss: _expected_corrected(loss, f, pp, p0, lambda q: 1 / q),
                        p0, h=1e-6)
        assert np.max(np.abs(orth)) < 1e-6
        plain = _fd_grad(lambda pp, loss=loss: _expected_corrected(loss, f, pp, p0, np.zeros_like),
                         p0, h=1e-6)
        assert np.max(np.abs(plain)) > 1e-3  # the vanilla loss is first-order sensitive


@given(seed=seeds, k=K)
def test_sel_orthogonal_target_closed_form_and_alpha_limits(seed, k):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, size=(6, k))  # includes values below the clip level
    y = np.eye(k)[rng.integers(0, k, size=6)]
    pc = np.clip(p, 1e-3, 1)
    t_inf = sel_pseudo_target(p, y, alpha=np.inf, clip=1e-3)
    np.testing.assert_allclose(t_inf, np.log(pc) + y / pc - 1, rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(sel_pseudo_target(p, y, alpha=0, clip=1e-3), np.log(pc))
    np.testing.assert_array_equal(gamma_rule(p, y, alpha=0.0), 0.0)
    np.testing.assert_array_equal(gamma_rule(p, y, alpha=np.inf), 1 / pc)
    # Continuity of the rule towards both limits.
    np.testing.assert_allclose(gamma_rule(p, y, alpha=1e12), 1 / pc, rtol=1e-9)
    small = gamma_rule(p, y, alpha=1e-12)  # ~ alpha / (p (y - p)^2) -> 0 linearly in alpha
    np.testing.assert_allclose(small * pc * (y - pc) ** 2 / 1e-12, 1.0, rtol=1e-6)
    # The SEL pseudo-target minimises the corrected SEL loss (equal up to terms free of f).
    f, _ = _random_point(seed, k, rows=6)
    gamma = gamma_rule(p, y, alpha=2.0)
    t = sel_pseudo_target(p, y, alpha=2.0)
    diff = corrected_loss(SquaredLogitLoss(), f, p, y, gamma) - 0.5 * np.sum((f - t) ** 2, 1)
    diff2 = corrected_loss(SquaredLogitLoss(), f + 1.7, p, y, gamma) - 0.5 * np.sum(
        (f + 1.7 - t) ** 2, 1)
    np.testing.assert_allclose(diff, diff2, rtol=1e-10, atol=1e-10)


@given(alpha=st.floats(1e-6, 1e6), pj=st.floats(1e-3, 1.0), yj=st.sampled_from([0.0, 1.0]))
def test_gamma_rule_minimises_its_objective(alpha, pj, yj):
    p = np.array([[pj, 1 - pj]])
    y = np.array([[yj, 1 - yj]])
    g = gamma_rule(p, y, alpha=alpha)[0, 0]
    obj = lambda gg: gg**2 * (yj - pj) ** 2 + alpha * (1 / pj - gg) ** 2  # noqa: E731
    for step in (1e-3, -1e-3):
        assert obj(g) <= obj(g + step * max(1.0, abs(g))) + 1e-12 * obj(g)


def test_clip_is_applied_without_renormalising():
    p = np.array([[0.0, 0.3, 0.2]])  # does not sum to 1, on purpose (ridge teacher)
    np.testing.assert_array_equal(clip_proba(p, 0.01), [[0.01, 0.3, 0.2]])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sel_pseudo_target([[0.5, np.nan]], [[1, 0]], alpha=1), "NaN"),
        (lambda: sel_pseudo_target([[0.5, 1.2]], [[1, 0]], alpha=1), r"\[0, 1\]"),
        (lambda: sel_pseudo_target([[0.5, 0.5]], [[1, 0]], alpha=-1), "alpha"),
        (lambda: sel_pseudo_target([[0.5, 0.5]], [[1, 0]], alpha=1, clip=0.7), "clip"),
        (lambda: sel_pseudo_target([[0.5, 0.5]], [[1, 0]], alpha=1, clip=0), "clip"),
        (lambda: sel_pseudo_target([[0.5, 0.5]], [[1, 0, 0]], alpha=1), "shape"),
        (lambda: sel_pseudo_target([[0.5, 0.5]], [[1, 1]], alpha=1), "one-hot"),
        (lambda: AnnealedCrossEntropy(beta=0), "beta"),
        (lambda: AnnealedCrossEntropy(beta=1.5), "beta"),
        (lambda: SquaredLogitLoss().value([[0.0, 1.0, 2.0]], [[0.5, 0.5]]), "shape"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@given(alpha=st.floats(1e-3, 1e3), p=st.floats(0.01, 0.99))
def test_intermediate_gamma_rule_bias_matches_its_closed_form(alpha, p):
    """E_y[gamma(y)(y - p)] for a perfect binary teacher, exact over y, against the docstring."""
    p_hat = np.array([[p, 1 - p], [p, 1 - p]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    g = gamma_rule(p_hat, y, alpha=alpha)[:, 0]
    mean = p * g[0] * (1 - p) + (1 - p) * g[1] * (0 - p)
    closed = alpha * (1 - p) * (1 / (alpha + (1 - p) ** 2) - 1 / (alpha + p**2))
    assert mean == pytest.approx(closed, rel=1e-9, abs=1e-12)
    for limit in (0.0, np.inf):
        g = gamma_rule(p_hat, y, alpha=limit)[:, 0]
        assert p * g[0] * (1 - p) + (1 - p) * g[1] * (0 - p) == pytest.approx(0.0, abs=1e-12)


# --- the slide's matrix gamma rule (gamma_form="matrix", docs/theory.md §3) ---------------

@pytest.mark.parametrize("alpha", [1e-2, 0.3, 4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_gamma_rule_matches_numerical_minimisation_for_three_classes(seed, alpha):
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(3)) * 0.9 + 0.1 / 3
    y = np.eye(3)[rng.integers(3)]
    v, D = y - p, np.diag(1 / p)

    def objective(g):
        G = g.reshape(3, 3)
        return np.sum((G @ v) ** 2) + alpha * np.sum((D - G) ** 2)

    best = minimize(objective, np.zeros(9), method="BFGS", options={"gtol": 1e-12}).x
    G = gamma_rule(p[None], y[None], alpha=alpha, gamma_form="matrix")[0]
    np.testing.assert_allclose(G, best.reshape(3, 3), rtol=0, atol=1e-6)
    # Its action on the residual: one shrinkage factor alpha / (alpha + ||v||^2) for the row.
    shrunk = alpha / (alpha + v @ v) * v / p
    np.testing.assert_allclose(G @ v, shrunk, rtol=1e-12)
    np.testing.assert_allclose(
        gamma_residual(p[None], y[None], alpha=alpha, gamma_form="matrix")[0], shrunk,
        rtol=1e-12)
    # ... which the per-class rule is not, for k = 3.
    diag = gamma_residual(p[None], y[None], alpha=alpha)[0]
    assert not np.allclose(diag, shrunk, rtol=1e-3)


def test_matrix_gamma_rule_limits_and_the_distillers_use_it():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(3), size=5)
    y = np.eye(3)[rng.integers(3, size=5)]
    pc = np.clip(p, 1e-3, 1)
    np.testing.assert_array_equal(gamma_rule(p, y, alpha=0.0, gamma_form="matrix"), 0.0)
    np.testing.assert_array_equal(gamma_rule(p, y, alpha=np.inf, gamma_form="matrix"),
                                  np.eye(3)[None] / pc[:, :, None])
    for alpha in (0.0, np.inf):  # both forms agree at the limits (to rounding at inf)
        np.testing.assert_allclose(
            sel_pseudo_target(p, y, alpha=alpha, gamma_form="matrix"),
            sel_pseudo_target(p, y, alpha=alpha), rtol=1e-14, atol=0)
    from kdtheory.distill import CrossFitKD
    from kdtheory.students import ConstantStudent
    from kdtheory.teachers import RidgeTeacher

    X, labels = rng.uniform(size=(90, 1)), np.arange(90) % 3
    est = CrossFitKD(RidgeTeacher(), ConstantStudent(), alpha=0.7, gamma_form="matrix",
                     random_state=0).fit(X, labels)
    proba = est.teacher_proba_[0]
    t = np.log(np.clip(proba, 1e-3, 1)) + gamma_residual(proba, np.eye(3)[labels], alpha=0.7,
                                                        gamma_form="matrix")
    np.testing.assert_allclose(est.pseudo_targets_[0], t, rtol=1e-14)
    with pytest.raises(ValueError, match="gamma_form"):
        gamma_rule(p, y, alpha=1.0, gamma_form="full")
    with pytest.raises(ValueError, match="gamma_form"):
        CrossFitKD(RidgeTeacher(), ConstantStudent(), gamma_form="full").fit(X, labels)
