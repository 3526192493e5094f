"""Distillers are scikit-learn classifiers: check_estimator, labels, outputs, feature names, and
scikit-learn's model-selection tools (cross_val_score, Pipeline, GridSearchCV)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from kdtheory.distill import CrossFitKD, EnhancedKD, SampleSplitKD, VanillaKD
from kdtheory.students import LinearStudent
from kdtheory.teachers import RidgeTeacher

DISTILLERS = (VanillaKD, SampleSplitKD, CrossFitKD, EnhancedKD)


def _kd(cls=CrossFitKD, **kw):
    return cls(LogisticRegression(), LinearStudent(), random_state=0, **kw)


# check_estimator: every check passes (none needs an xfail). VanillaKD and SampleSplitKD share
# the template of these two (only the splits differ); their checks pass too but take a minute.
@parametrize_with_checks([_kd(CrossFitKD), _kd(EnhancedKD)])
def test_check_estimator(estimator, check):
    check(estimator)


def _blobs(labels_of, n=120, seed=0):
    rng = np.random.default_rng(seed)
    k = len(labels_of)
    idx = np.arange(n) % k
    X = rng.normal(size=(n, 3)) + 2.0 * np.eye(k, 3)[idx]
    return X, np.asarray(labels_of, dtype=object)[idx] if isinstance(labels_of[0], str) \
        else np.asarray(labels_of)[idx]


@pytest.mark.parametrize("cls", DISTILLERS)
@pytest.mark.parametrize("labels_of", [(1, 2), (0, 1000), ("cat", "dog", "eel"), (-3, 7, 2)])
def test_any_hashable_labels_are_encoded(cls, labels_of):
    X, y = _blobs(labels_of)
    est = _kd(cls).fit(X, y)
    assert is_classifier(est)
    np.testing.assert_array_equal(est.classes_, np.unique(np.asarray(labels_of)))
    assert est.teacher_proba_.shape[2] == len(labels_of)  # no column for absent integers
    proba = est.predict_proba(X)
    assert proba.shape == (X.shape[0], len(labels_of))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    logits = np.mean([s.predict(X) for s in est.students_], axis=0)
    np.testing.assert_allclose(proba, softmax(logits, axis=1), rtol=1e-12)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-10)
    pred = est.predict(X)
    assert set(pred) <= set(labels_of)
    np.testing.assert_array_equal(pred, est.classes_[np.argmax(proba, axis=1)])
    decision = est.decision_function(X)
    if len(labels_of) == 2:
        np.testing.assert_allclose(decision, logits[:, 1] - logits[:, 0], rtol=1e-12)
    else:
        np.testing.assert_array_equal(decision, logits)
    assert est.score(X, y) == np.mean(pred == y) and est.score(X, y) > 0.8


def test_n_classes_keeps_absent_integer_classes():
    X, y = _blobs((0, 2))
    est = CrossFitKD(RidgeTeacher(n_classes=3), LinearStudent(), n_classes=3,
                     random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert est.predict_proba(X).shape == (X.shape[0], 3)


def test_feature_names_are_checked_at_predict_time():
    X, y = _blobs((0, 1, 2))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _kd().fit(df, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    assert est.n_features_in_ == 3
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(est.predict(df), est.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[["c", "a", "b"]])
    with pytest.raises(ValueError, match="missing"):
        est.predict(df[["a", "b"]])
    with pytest.raises(ValueError, match="3 features"):
        _kd().fit(X, y).predict(X[:, :2])


def test_single_class_and_continuous_labels_are_refused():
    X, _ = _blobs((0, 1))
    with pytest.raises(ValueError, match="single class"):
        _kd().fit(X, np.zeros(X.shape[0]))
    with pytest.raises(ValueError, match="labels y .*0.5"):
        _kd().fit(X, np.linspace(0, 1, X.shape[0]) + 0.5)


def test_cross_val_score_and_pipeline():
    X, y = _blobs((0, 1, 2), n=150)
    scores = cross_val_score(_kd(), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)
    pipe = make_pipeline(StandardScaler(), _kd())
    assert pipe.fit(X, y).score(X, y) > 0.8
    assert clone(pipe).get_params()["crossfitkd__teacher__C"] == 1.0


def test_grid_search_over_alpha_folds_teacher_and_student_parameters():
    X, y = _blobs((0, 1, 2), n=150)
    grid = {"alpha": [0.0, np.inf], "n_folds": [2, 3], "teacher__C": [0.01, 1.0],
            "student__fit_intercept": [True, False]}
    search = GridSearchCV(_kd(EnhancedKD), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 16
    assert set(search.best_params_) == set(grid)
    best = search.best_estimator_
    for key, value in search.best_params_.items():
        assert best.get_params()[key] == value
    # The parameters really reach the fitted teachers and students.
    assert all(t.C == best.teacher.C for draw in best.teachers_ for t in draw)
    assert best.students_[0].fit_intercept == best.student.fit_intercept
    assert len(best.teachers_[0]) == best.n_folds
