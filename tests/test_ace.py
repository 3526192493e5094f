"""Annealed cross-entropy distillation: SoftmaxStudent (against scikit-learn, finite differences,
recovery of a linear-logit model), the corrected soft targets, loss="ace" in the distillers, and
the aggregation of repeated cross-fits."""

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from kdtheory.distill import CrossFitKD, EnhancedKD, VanillaKD
from kdtheory.losses import AnnealedCrossEntropy
from kdtheory.students import (
    ConstantSoftmaxStudent, ConstantStudent, LinearStudent, SoftmaxStudent, _softmax_objective,
)
from kdtheory.teachers import RidgeTeacher

THETA0 = np.array([[1.0, -0.5, 0.0], [0.3, 0.8, -1.2]])  # (d = 2, k = 3) true logit slopes
B0 = np.array([0.2, -0.1, 0.0])


class BayesTeacher(ClassifierMixin, BaseEstimator):
    """The Bayes p0(x) = softmax(x THETA0 + B0) of the linear-logit model (fit learns nothing)."""

    def fit(self, X, y):
        self.classes_ = np.arange(3)
        return self

    def predict_proba(self, X):
        return softmax(np.asarray(X) @ THETA0 + B0, axis=1)


def _linear_logit(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    p0 = softmax(X @ THETA0 + B0, axis=1)
    return X, (rng.uniform(size=(n, 1)) > np.cumsum(p0, axis=1)).sum(axis=1)


def test_softmax_student_with_one_hot_targets_is_logistic_regression():
    X, y = _linear_logit(300, 0)
    penalty = 0.03
    student = SoftmaxStudent(penalty=penalty, tol=1e-12).fit(X, np.eye(3)[y])
    lr = LogisticRegression(C=1 / (300 * penalty), tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(student.coef_.T, lr.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(softmax(student.predict(X), axis=1), lr.predict_proba(X),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_objective_gradient_matches_finite_differences(fit_intercept):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    design = np.hstack([X, np.ones((40, 1))]) if fit_intercept else X
    T = rng.dirichlet(np.ones(4), size=40) + 0.3 * rng.normal(size=(40, 4))
    T -= (T.sum(axis=1, keepdims=True) - 1) / 4  # rows sum to 1, some entries negative
    assert (T < 0).any()
    theta = rng.normal(size=design.shape[1] * 4)

    def value(th):
        return _softmax_objective(th, design, T, 0.7, 3)[0]

    def grad(th):
        return _softmax_objective(th, design, T, 0.7, 3)[1]

    assert check_grad(value, grad, theta, epsilon=1e-6) < 1e-6 * np.linalg.norm(grad(theta))
    # The value is the soft-target cross-entropy plus the penalty on the slopes.
    Theta = theta.reshape(-1, 4)
    direct = -np.mean(np.sum(T * log_softmax(design @ Theta, axis=1), axis=1)) \
        + 0.35 * np.sum(Theta[:3] ** 2)
    np.testing.assert_allclose(value(theta), direct, rtol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_ace_with_the_bayes_teacher_recovers_the_true_coefficients(beta):
    # w = softmax(beta log p0) = softmax(beta (x THETA0 + B0)); the student's scores are beta f,
    # so the distiller's logits are x THETA0 + B0 up to a constant per row (theory §10).
    X, y = _linear_logit(400, 2)
    est = VanillaKD(BayesTeacher(), SoftmaxStudent(penalty=0.0, tol=1e-12), loss="ace",
                    beta=beta, clip=1e-9).fit(X, y)
    coef = est.students_[0].coef_ / beta
    np.testing.assert_allclose(coef - coef.mean(axis=1, keepdims=True),
                               THETA0 - THETA0.mean(axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(est.predict_proba(X), BayesTeacher().predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("beta", [1.0, 0.4])
def test_corrected_soft_targets_are_the_corrected_loss(beta):
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), size=6)
    y = np.eye(4)[rng.integers(4, size=6)]
    f = rng.normal(size=(6, 4))
    gamma = 1 / np.clip(p, 1e-3, 1)
    loss = AnnealedCrossEntropy(beta=beta)
    target = loss.corrected_targets(p, gamma * (y - np.clip(p, 1e-3, 1)))
    np.testing.assert_allclose(target.sum(axis=1), 1.0, atol=1e-12)
    log_q = log_softmax(beta * f, axis=1)
    np.testing.assert_allclose(-np.sum(target * log_q, axis=1),
                               loss.corrected_value(f, p, y, gamma), rtol=1e-12)
    np.testing.assert_allclose(beta * (np.exp(log_q) - target),
                               loss.corrected_grad_f(f, p, y, gamma), rtol=1e-12, atol=1e-14)


def test_ace_distillers_fit_the_corrected_tempered_teacher():
    X, y = _linear_logit(200, 4)
    beta = 0.5
    cf = CrossFitKD(LogisticRegression(), SoftmaxStudent(), loss="ace", beta=beta,
                    random_state=0).fit(X, y)
    p = np.clip(cf.teacher_proba_[0], 1e-3, 1)
    np.testing.assert_allclose(cf.pseudo_targets_[0], softmax(beta * np.log(p), axis=1),
                               rtol=1e-12)
    enh = EnhancedKD(LogisticRegression(), SoftmaxStudent(), loss="ace", beta=beta,
                     alpha=np.inf, random_state=0).fit(X, y, teacher_proba=cf.teacher_proba_,
                                                       folds=cf.folds_)
    yy = np.eye(3)[y]
    np.testing.assert_allclose(
        enh.pseudo_targets_[0],
        AnnealedCrossEntropy(beta).corrected_targets(p, yy / p - 1), rtol=1e-12)
    np.testing.assert_allclose(enh.decision_function(X), enh.students_[0].predict(X) / beta,
                               rtol=1e-12)
    assert enh.score(X, y) > 0.6 and cf.score(X, y) > 0.6


@pytest.mark.parametrize("make, match, error", [
    (lambda: CrossFitKD(LogisticRegression(), LinearStudent(), loss="ace"), "soft-target",
     TypeError),
    (lambda: CrossFitKD(LogisticRegression(), SoftmaxStudent()), "regression student",
     TypeError),
    (lambda: CrossFitKD(LogisticRegression(), SoftmaxStudent(), loss="ace", alpha="tune"),
     "alpha='tune'", ValueError),
    (lambda: CrossFitKD(LogisticRegression(), SoftmaxStudent(), loss="kl"), "loss", ValueError),
    (lambda: CrossFitKD(LogisticRegression(), SoftmaxStudent(), loss="ace", beta=0.0), "beta",
     ValueError),
    (lambda: CrossFitKD(LogisticRegression(), LinearStudent(), aggregate="mode"), "aggregate",
     ValueError),
    (lambda: VanillaKD(LogisticRegression(), SoftmaxStudent(penalty=-1.0), loss="ace"),
     "penalty", ValueError),
])
def test_bad_ace_and_aggregate_arguments(make, match, error):
    X, y = _linear_logit(60, 5)
    with pytest.raises(error, match=match):
        make().fit(X, y)


def test_soft_targets_must_sum_to_one():
    for student in (SoftmaxStudent(), ConstantSoftmaxStudent()):
        with pytest.raises(ValueError, match="row 0 sums to 0.5"):
            student.fit(np.zeros((3, 1)), np.full((3, 2), 0.25))
    with pytest.raises(ValueError, match="column 1 has mean"):
        ConstantSoftmaxStudent().fit(np.zeros((2, 1)), [[1.5, -0.5], [0.9, 0.1]])


def test_constant_softmax_student_is_the_cross_entropy_minimiser():
    """softmax(c_hat) = column means of T (entries may be negative), and c_hat minimises the
    soft-target cross-entropy over constants (checked against L-BFGS from scipy)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    T = softmax(rng.normal(size=(50, 4)), axis=1)
    T[:5] += np.array([0.3, -0.3, 0.0, 0.0])  # rows still sum to 1, some entries negative
    student = ConstantSoftmaxStudent().fit(rng.normal(size=(50, 2)), T)
    np.testing.assert_allclose(softmax(student.coef_), T.mean(axis=0), rtol=1e-13)
    res = minimize(lambda c: -np.mean(T @ log_softmax(c)), np.zeros(4), method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 1e-15})
    np.testing.assert_allclose(res.x - res.x.mean(), student.coef_ - student.coef_.mean(),
                               atol=1e-6)
    np.testing.assert_array_equal(student.predict(np.zeros((3, 2))), np.tile(student.coef_, (3, 1)))


def test_constant_ace_student_does_not_see_a_uniform_shrinkage():
    """theory §5.6: with the ridge teacher (every class shrunk by 1/(1+lambda)) the vanilla ACE
    student's probabilities are the label frequencies, for every beta."""
    rng = np.random.default_rng(4)
    labels = rng.choice(3, size=500, p=[0.2, 0.3, 0.5])
    X = rng.uniform(size=(500, 1))
    for beta in (1.0, 0.5, 0.2):
        est = VanillaKD(RidgeTeacher(n_classes=3), ConstantSoftmaxStudent(), loss="ace",
                        beta=beta).fit(X, labels)
        np.testing.assert_allclose(est.predict_proba(X[:1])[0], np.bincount(labels) / 500,
                                   rtol=1e-12)


@pytest.mark.parametrize("aggregate", ["mean", "median"])
def test_repeated_crossfit_aggregates_the_students(aggregate):
    rng = np.random.default_rng(6)
    X, y = rng.uniform(size=(150, 1)), rng.choice(3, size=150, p=[0.2, 0.3, 0.5])
    est = EnhancedKD(RidgeTeacher(), ConstantStudent(), n_rep=5, aggregate=aggregate,
                     alpha=np.inf, random_state=0).fit(X, y)
    coefs = np.array([s.coef_ for s in est.students_])
    assert len(est.students_) == 5 and not np.allclose(coefs[0], coefs[1])
    expected = np.median(coefs, axis=0) if aggregate == "median" else coefs.mean(axis=0)
    np.testing.assert_allclose(est.decision_function(X[:2]), np.tile(expected, (2, 1)),
                               rtol=1e-14)


@pytest.mark.parametrize("change, match", [
    ({"name": "underfit"}, "already registered"),
    ({"methods": ("vanilla", "distilled")}, "subset"),
    ({"methods": ()}, "subset"),
    ({"loss": "kl"}, "loss"),
    ({"methods": ("vanilla", "targeted")}, "SEL only"),
])
def test_register_refuses_inconsistent_examples(change, match):
    """An example's name and id must be new, its methods known, and an ACE example may not ask
    for targeted KD (derived for SEL); nothing is registered on refusal."""
    import dataclasses

    from kdtheory.examples import EXAMPLES, get_example, register

    before = dict(EXAMPLES)
    example = dataclasses.replace(get_example("underfit_ace"),
                                  **{"name": "copy", "example_id": 99, **change})
    with pytest.raises(ValueError, match=match):
        register(example)
    assert dict(EXAMPLES) == before
