"""TargetedKD: the TMLE-style update solves the EIF equation of the SEL student's target
(constant and linear students), its loss's derivatives, closed forms, and its rate."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import expit, logit
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from kdtheory.distill import (
    CrossFitKD, EnhancedKD, TargetedKD, _targeting_loss, targeted_update,
)
from kdtheory.students import ConstantStudent, LinearStudent, RegressorStudent
from kdtheory.teachers import RidgeTeacher

P0 = np.array([0.2, 0.3, 0.5])


def _underfit(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 1)), rng.choice(3, size=n, p=P0)


def test_targeting_loss_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    phi = np.hstack([np.ones((30, 1)), rng.normal(size=(30, 2))])
    a, y, eps = rng.normal(size=30), (rng.uniform(size=30) < 0.4).astype(float), rng.normal(
        size=3) * 0.3
    value, grad, hess = _targeting_loss(eps, a, y, phi)
    np.testing.assert_allclose(approx_fprime(eps, lambda e: _targeting_loss(e, a, y, phi)[0],
                                             1e-7), grad, rtol=1e-5)
    fd_hess = np.array([approx_fprime(eps, lambda e, i=i: _targeting_loss(e, a, y, phi)[1][i],
                                      1e-7) for i in range(3)])
    np.testing.assert_allclose(fd_hess, hess, rtol=1e-5)
    # The gradient is minus the EIF's teacher part: -sum phi (y / expit(u) - 1).
    np.testing.assert_allclose(grad, -phi.T @ (y / expit(a + phi @ eps) - 1), rtol=1e-12)


@pytest.mark.parametrize("student", [ConstantStudent(), LinearStudent()])
def test_updated_teacher_solves_the_eif_equation(student):
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(400, 2))
    p1 = 0.5 + 0.35 * np.sin(2 * np.pi * X[:, 0])
    y = (rng.uniform(size=400) < p1).astype(int)
    est = TargetedKD(LogisticRegression(), student, random_state=0).fit(X, y)
    p_star, yy = est.targeted_proba_[0], np.eye(2)[y]
    phi = student.features(X)
    eif = phi.T @ (yy / p_star - 1) / 400
    np.testing.assert_allclose(eif, 0.0, atol=1e-9)
    assert not np.allclose(p_star, est.teacher_proba_[0])  # the update moved the teacher
    # The student regresses log p* (SEL, no correction).
    np.testing.assert_allclose(est.pseudo_targets_[0], np.log(p_star), rtol=1e-14)


def test_constant_update_has_a_closed_form_and_removes_ridge_shrinkage():
    rng = np.random.default_rng(2)
    y = np.eye(3)[rng.choice(3, size=300, p=P0)]
    p_hat = rng.uniform(0.1, 0.8, size=(300, 3))
    p_star, eps = targeted_update(p_hat, y, np.ones((300, 1)))
    a = logit(p_hat)
    closed = np.log(np.sum(y * np.exp(-a), axis=0) / np.sum(1 - y, axis=0))
    np.testing.assert_allclose(eps[0], closed, rtol=1e-9)
    # A constant shrunk teacher ybar / (1 + lambda) is moved back to ybar exactly.
    ybar = y.mean(axis=0)
    p_star, _ = targeted_update(np.tile(ybar / 1.3, (300, 1)), y, np.ones((300, 1)))
    np.testing.assert_allclose(p_star, np.tile(ybar, (300, 1)), rtol=1e-9)


def test_targeted_targets_have_no_heavy_tail():
    # A confident wrong teacher (p_hat at the clip for the observed label) gives the orthogonal
    # correction a target of log(clip) + 1/clip - 1 ~ 992; the targeted target is a log-prob.
    X, labels = _underfit(200, 3)
    proba = np.tile(P0, (200, 1))
    proba[0] = np.roll([1e-4, 0.5, 0.5 - 1e-4], labels[0])
    folds = np.arange(200) % 5
    enh = EnhancedKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf).fit(
        X, labels, teacher_proba=proba, folds=folds)
    tgt = TargetedKD(RidgeTeacher(), ConstantStudent()).fit(X, labels, teacher_proba=proba,
                                                            folds=folds)
    assert enh.pseudo_targets_.max() > 900
    assert tgt.pseudo_targets_.max() <= 0.0


@pytest.mark.statistical
def test_targeted_matches_the_enhanced_rate_on_the_underfit_example():
    # n = 3000, 30 replications: cross-fit keeps the shrinkage bias k lambda^2 ~ 0.06, the
    # corrections leave O(1/n) ~ sum_j (1 - p_j) / p_j / n = 0.0024. The means' MC relative error
    # is about sqrt(2 / 30) = 0.26, so factors of 5 are far beyond noise.
    err = {"crossfit": [], "enhanced": [], "targeted": []}
    f0 = np.log(P0)
    for seed in range(30):
        X, labels = _underfit(3000, seed)
        cf = CrossFitKD(RidgeTeacher(n_classes=3), ConstantStudent(), n_classes=3,
                        random_state=seed).fit(X, labels)
        shared = {"teacher_proba": cf.teacher_proba_, "folds": cf.folds_}
        for name, est in (("crossfit", cf),
                          ("enhanced", EnhancedKD(RidgeTeacher(n_classes=3), ConstantStudent(),
                                                  alpha=np.inf, n_classes=3).fit(X, labels,
                                                                                 **shared)),
                          ("targeted", TargetedKD(RidgeTeacher(n_classes=3), ConstantStudent(),
                                                  n_classes=3).fit(X, labels, **shared))):
            err[name].append(np.sum((est.students_[0].coef_ - f0) ** 2))
    mean = {k: np.mean(v) for k, v in err.items()}
    assert mean["targeted"] < mean["crossfit"] / 5
    assert mean["enhanced"] / 3 < mean["targeted"] < 3 * mean["enhanced"]
    assert mean["targeted"] < 5 * 7.33 / 3000


def test_targeted_needs_a_student_with_features():
    X, labels = _underfit(60, 4)
    with pytest.raises(TypeError, match="features"):
        TargetedKD(RidgeTeacher(), RegressorStudent(RandomForestRegressor())).fit(X, labels)
    with pytest.raises(ValueError, match="class 2"):
        targeted_update(np.full((4, 3), 0.3), np.eye(3)[[0, 1, 0, 1]], np.ones((4, 1)))


def test_targeted_update_is_bitwise_the_same_under_any_thread_count():
    """The Newton sums avoid BLAS (np.einsum), whose threaded reductions round differently with
    the thread count, so rate-study records do not depend on the backend's thread cap (at this
    n, BLAS's phi.T @ v differs in the last bits between 1 and 2 threads)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(8)
    n = 400_000
    p = rng.uniform(0.05, 0.95, size=(n, 2))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(2)[(rng.uniform(size=n) < p[:, 1]).astype(int)]
    phi = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    results = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            results.append(targeted_update(p, y, phi))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
