"""Cross-fitting, students and distillers: fold independence, closed forms, sklearn teachers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from kdtheory.crossfit import check_folds, crossfit_predict, make_folds
from kdtheory.distill import CrossFitKD, EnhancedKD, SampleSplitKD, VanillaKD
from kdtheory.students import ConstantStudent, LinearStudent, RegressorStudent
from kdtheory.teachers import RidgeTeacher


class MeanByCellTeacher:
    """A deliberately local teacher: class frequencies of the training points in the same cell of
    a 4-bin grid on x_1 (plus one pseudo-count), so every prediction depends on nearby labels."""

    def __init__(self, n_classes=3):
        self.n_classes = n_classes

    def get_params(self, deep=True):
        return {"n_classes": self.n_classes}

    def set_params(self, **params):
        self.n_classes = params["n_classes"]
        return self

    def fit(self, X, labels):
        cells = np.minimum((np.asarray(X)[:, 0] * 4).astype(int), 3)
        counts = np.ones((4, self.n_classes))
        np.add.at(counts, (cells, np.asarray(labels)), 1.0)
        self.table_ = counts / counts.sum(axis=1, keepdims=True)
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X):
        return self.table_[np.minimum((np.asarray(X)[:, 0] * 4).astype(int), 3)]


def _data(seed, n=60, k=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 2)), rng.integers(0, k, size=n)


@given(n=st.integers(2, 200), n_folds=st.integers(2, 10), n_rep=st.integers(1, 3),
       seed=st.integers(0, 2**31))
def test_folds_partition_rows_and_are_balanced(n, n_folds, n_rep, seed):
    if n_folds > n:
        with pytest.raises(ValueError, match="n_folds"):
            make_folds(n, n_folds, random_state=seed)
        return
    folds = make_folds(n, n_folds, n_rep=n_rep, random_state=seed)
    assert folds.shape == (n_rep, n)
    for row in folds:
        counts = np.bincount(row, minlength=n_folds)
        assert counts.sum() == n and counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(check_folds(folds, n), folds)
    np.testing.assert_array_equal(make_folds(n, n_folds, n_rep=n_rep, random_state=seed), folds)


@given(seed=st.integers(0, 2**31), i=st.integers(0, 59))
def test_perturbing_y_i_never_changes_its_own_crossfit_prediction(seed, i):
    X, labels = _data(seed)
    folds = make_folds(60, 5, n_rep=2, random_state=seed)
    before = crossfit_predict(MeanByCellTeacher(), X, labels, folds, n_classes=3)
    changed = labels.copy()
    changed[i] = (labels[i] + 1) % 3
    after = crossfit_predict(MeanByCellTeacher(), X, changed, folds, n_classes=3)
    np.testing.assert_array_equal(before[:, i], after[:, i])
    # ... while it does change some other row's prediction (the check can fail).
    assert np.any(before != after)


def test_crossfit_predict_aligns_columns_when_a_fold_lacks_a_class():
    X = np.linspace(0, 1, 10)[:, None]
    labels = np.array([0, 0, 0, 0, 2, 0, 0, 0, 0, 1])
    folds = np.array([0] * 5 + [1] * 5)
    proba = crossfit_predict(LogisticRegression(), X, labels, folds, n_classes=3)
    assert proba.shape == (1, 10, 3)
    np.testing.assert_array_equal(proba[0, :5, 2], 0.0)  # fold 0's teacher never saw class 2
    np.testing.assert_array_equal(proba[0, 5:, 1], 0.0)  # fold 1's teacher never saw class 1
    assert np.all(proba[0, :5, 1] > 0) and np.all(proba[0, 5:, 2] > 0)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)


def test_crossfit_teachers_are_clones():
    teacher = RidgeTeacher()
    X, labels = _data(0)
    CrossFitKD(teacher, ConstantStudent(), random_state=0).fit(X, labels)
    assert not hasattr(teacher, "proba_")


# --- The underfitting closed forms (docs/theory.md §5.1) ------------------------------------------

def _underfit_sample(seed, n):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 1)), rng.choice(3, size=n, p=[0.2, 0.3, 0.5])


@given(seed=st.integers(0, 2**31), n=st.integers(30, 400))
def test_vanilla_underfit_closed_forms(seed, n):
    X, labels = _underfit_sample(seed, n)
    if np.bincount(labels, minlength=3).min() == 0:
        return
    ybar = np.bincount(labels, minlength=3) / n
    lam = n ** -0.25
    vanilla = VanillaKD(RidgeTeacher(), ConstantStudent()).fit(X, labels)
    np.testing.assert_allclose(vanilla.decision_function(X[:1])[0], np.log(ybar) - np.log1p(lam),
                               rtol=0, atol=1e-12)
    orth = VanillaKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf).fit(X, labels)
    np.testing.assert_allclose(orth.decision_function(X[:1])[0], np.log(ybar) - np.log1p(lam) + lam,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, np.inf])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crossfit_underfit_matches_fold_by_fold_computation(alpha, seed):
    n, k = 203, 3
    X, labels = _underfit_sample(seed, n)
    est = CrossFitKD(RidgeTeacher(n_classes=k), ConstantStudent(), n_folds=4, n_rep=2,
                     alpha=alpha, random_state=seed).fit(X, labels)
    y = np.eye(k)[labels]
    fits = []
    for row in est.folds_:
        targets = np.zeros((n, k))
        for t in range(4):
            train, held = row != t, row == t
            lam = train.sum() ** -0.25
            p = y[train].mean(axis=0) / (1 + lam)
            pc = np.clip(p, 1e-3, 1)
            if alpha == 0:
                gamma = np.zeros_like(y[held])
            elif np.isinf(alpha):
                gamma = 1 / pc + 0 * y[held]
            else:
                gamma = alpha / (pc * (alpha + (y[held] - pc) ** 2))
            targets[held] = np.log(pc) + gamma * (y[held] - pc)
        fits.append(targets.mean(axis=0))
    np.testing.assert_allclose(est.decision_function(X[:1])[0], np.mean(fits, axis=0), rtol=0,
                               atol=1e-12)


def test_enhanced_is_crossfit_with_orthogonal_correction():
    X, labels = _underfit_sample(3, 300)
    enh = EnhancedKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf, random_state=7).fit(
        X, labels)
    cf = CrossFitKD(RidgeTeacher(), ConstantStudent(), alpha=np.inf, random_state=7).fit(
        X, labels)
    np.testing.assert_array_equal(enh.decision_function(X[:2]), cf.decision_function(X[:2]))
    assert np.all(enh.alpha_ == np.inf)


def test_shared_teacher_outputs_reproduce_own_fit():
    X, labels = _data(4, n=120)
    own = CrossFitKD(MeanByCellTeacher(), LinearStudent(), random_state=3).fit(X, labels)
    shared = EnhancedKD(MeanByCellTeacher(), LinearStudent(), alpha=0.0).fit(
        X, labels, teacher_proba=own.teacher_proba_)
    np.testing.assert_allclose(shared.decision_function(X), own.decision_function(X), rtol=0,
                               atol=1e-12)
    assert shared.folds_ is None


def test_sample_split_student_uses_only_the_other_half():
    X, labels = _data(5, n=100)
    est = SampleSplitKD(MeanByCellTeacher(), ConstantStudent(), random_state=0).fit(X, labels)
    student_rows = est.folds_[0] == 1
    assert np.isnan(est.pseudo_targets_[0, ~student_rows]).all()
    np.testing.assert_allclose(est.decision_function(X[:1])[0],
                               est.pseudo_targets_[0, student_rows].mean(axis=0), atol=1e-12)


def test_tuned_alpha_uses_only_training_rows_of_each_fold():
    X, labels = _underfit_sample(6, 200)
    est = EnhancedKD(RidgeTeacher(), ConstantStudent(), n_folds=3, alpha="tune",
                     alpha_grid=(0.0, 1.0, np.inf), random_state=1).fit(X, labels)
    assert est.alpha_.shape == (1, 3)
    # Relabelling held-out fold 0 leaves fold 0's tuned alpha unchanged.
    changed = labels.copy()
    held = est.folds_[0] == 0
    changed[held] = (changed[held] + 1) % 3
    est2 = EnhancedKD(RidgeTeacher(), ConstantStudent(), n_folds=3, alpha="tune",
                      alpha_grid=(0.0, 1.0, np.inf), random_state=1).fit(X, changed)
    assert est2.alpha_[0, 0] == est.alpha_[0, 0]


def test_sklearn_classifier_teacher_and_regressor_student_end_to_end():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    labels = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    for est in (VanillaKD(LogisticRegression(), LinearStudent()),
                CrossFitKD(LogisticRegression(), LinearStudent(), random_state=0),
                EnhancedKD(LogisticRegression(),
                           RegressorStudent(RandomForestRegressor(n_estimators=5, random_state=0)),
                           random_state=0)):
        scores = est.fit(X, labels).predict_log_proba(X)
        assert scores.shape == (300, 2) and np.all(np.isfinite(scores))
        # The student's preferred class agrees with the label most of the time.
        assert np.mean(np.argmax(scores, axis=1) == labels) > 0.7
        assert clone(est).get_params()["teacher"] is not None


def test_linear_student_recovers_a_linear_target_exactly():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    T = X @ rng.normal(size=(3, 2)) + np.array([0.5, -1.0])
    np.testing.assert_allclose(LinearStudent().fit(X, T).predict(X), T, atol=1e-10)


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda: CrossFitKD(RidgeTeacher(), ConstantStudent(), n_folds=1), {}, "n_folds"),
        (lambda: CrossFitKD(RidgeTeacher(), ConstantStudent(), n_folds=61), {}, "n_folds"),
        (lambda: CrossFitKD(RidgeTeacher(), ConstantStudent(), n_rep=0), {}, "n_rep"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent(), alpha=-1.0), {}, "alpha"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent(), alpha="big"), {}, "alpha"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent(), clip=0.5), {}, "clip"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent(), n_classes=3), {"labels": -1},
         "labels"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent()), {"labels": 1.5}, "labels"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent()), {"X": np.nan}, "X"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent()), {"rows": 59}, "labels"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent()), {"proba": 1.5}, "teacher_proba"),
        (lambda: VanillaKD(RidgeTeacher(), ConstantStudent()), {"proba": np.nan},
         "teacher_proba"),
        (lambda: VanillaKD(RidgeTeacher(lam=-1), ConstantStudent()), {}, "lam"),
        (lambda: VanillaKD(RidgeTeacher(n_classes=2), ConstantStudent()), {}, "labels"),
        (lambda: VanillaKD(object(), ConstantStudent()), {}, "teacher"),
    ],
)
def test_bad_input_raises_value_error_naming_it(make, kwargs, match):
    X, labels = _data(0)
    labels = labels.astype(float) if kwargs.get("labels") == 1.5 else labels
    if "labels" in kwargs:
        labels = labels.copy()
        labels[3] = kwargs["labels"]
    if "X" in kwargs:
        X = X.copy()
        X[2, 1] = kwargs["X"]
    if "rows" in kwargs:
        X = X[: kwargs["rows"]]
    fit_kwargs = {}
    if "proba" in kwargs:
        proba = np.full((60, 3), 0.3)
        proba[5, 0] = kwargs["proba"]
        fit_kwargs["teacher_proba"] = proba
    with pytest.raises((ValueError, TypeError), match=match):
        make().fit(X, labels, **fit_kwargs)


@pytest.mark.parametrize("estimator", [ConstantStudent(), LinearStudent(), RidgeTeacher()])
def test_predict_needs_a_fit_with_the_same_features(estimator):
    predict = getattr(estimator, "predict_proba", None) or estimator.predict
    with pytest.raises(ValueError, match="not fitted"):
        predict(np.zeros((3, 2)))
    X, labels = _data(1)
    target = labels if isinstance(estimator, RidgeTeacher) else np.eye(3)[labels]
    estimator.fit(X, target)
    with pytest.raises(ValueError, match="3 features .* fit on 2"):
        predict(np.zeros((3, 3)))
