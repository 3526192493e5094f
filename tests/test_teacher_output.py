"""Teacher outputs are validated: rows sum to 1 (after aligning the teacher's classes_), no extra
columns, entries in [0, 1]; a sub-stochastic teacher (the underfit ridge) declares itself."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from kdtheory.crossfit import crossfit_predict, make_folds
from kdtheory.distill import CrossFitKD, EnhancedKD, VanillaKD
from kdtheory.students import ConstantStudent, LinearStudent
from kdtheory.teachers import RidgeTeacher


class RowsTeacher(ClassifierMixin, BaseEstimator):
    """predict_proba = ``scale`` * the label frequencies, columns in the order ``order`` of
    classes_ (optionally with extra classes)."""

    def __init__(self, scale=1.0, order=None, extra=0):
        self.scale = scale
        self.order = order
        self.extra = extra

    def fit(self, X, y):
        present = np.unique(y)
        self.classes_ = np.concatenate([present, present.max() + 1 + np.arange(self.extra)])
        if self.order is not None:
            self.classes_ = self.classes_[list(self.order)]
        freq = np.array([np.mean(y == c) for c in self.classes_])
        self.proba_ = self.scale * freq
        return self

    def predict_proba(self, X):
        return np.tile(self.proba_, (len(X), 1))


def _data(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 2)), np.arange(n) % k


@pytest.mark.parametrize("scale, total", [(1.4, "1.4;"), (0.0, "0;")])
def test_rows_not_summing_to_one_are_refused_naming_the_row(scale, total):
    X, y = _data()
    with pytest.raises(ValueError, match=f"row 0 sums to {total}"):
        CrossFitKD(RowsTeacher(scale=scale), ConstantStudent(), random_state=0).fit(X, y)
    proba = np.full((60, 3), 1 / 3)
    proba[7] *= scale
    with pytest.raises(ValueError, match=f"teacher_proba\\[0\\] row 7 sums to {total}"):
        VanillaKD(LogisticRegression(), ConstantStudent()).fit(X, y, teacher_proba=proba)


def test_extra_columns_get_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match="extra columns"):
        CrossFitKD(RowsTeacher(extra=1), ConstantStudent(), random_state=0).fit(X, y)


def test_the_teachers_class_order_is_mapped_onto_ours():
    X, y = _data(k=3)
    y = np.where(np.arange(60) < 30, 0, y)  # frequencies 0: 0.6, 1: 0.2, 2: 0.2 -> distinct
    y[30:40] = 1
    ordered = crossfit_predict(RowsTeacher(), X, y, make_folds(60, 3, random_state=0),
                               n_classes=3)
    permuted = crossfit_predict(RowsTeacher(order=(2, 0, 1)), X, y,
                                make_folds(60, 3, random_state=0), n_classes=3)
    np.testing.assert_array_equal(permuted, ordered)
    assert not np.allclose(ordered[0, :, 0], ordered[0, :, 1])


def test_substochastic_ridge_teacher_is_accepted_and_declared():
    # The underfit example's ridge rows sum to 1 / (1 + lambda) < 1 by design (docs/theory.md §2).
    assert RidgeTeacher.substochastic_proba and not LogisticRegression().__dict__.get(
        "substochastic_proba", False)
    X, y = _data(n=90)
    est = EnhancedKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf, random_state=0).fit(X, y)
    sums = est.teacher_proba_[0].sum(axis=1)
    assert np.all(sums < 1) and np.all(sums > 0.7)
    # Reused as precomputed outputs with the same (declared) teacher they are accepted too.
    EnhancedKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf).fit(
        X, y, teacher_proba=est.teacher_proba_, folds=est.folds_)
    # ... but not with a teacher that promises probabilities.
    with pytest.raises(ValueError, match="sums to"):
        EnhancedKD(LogisticRegression(), LinearStudent(), alpha=np.inf).fit(
            X, y, teacher_proba=est.teacher_proba_, folds=est.folds_)
