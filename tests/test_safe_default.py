"""EnhancedKD's default alpha="cv" (select_alpha_cv) and the clip warning: an overconfident teacher
(1-nearest neighbour: every cross-fit output is 0 or 1, at the clip) wrecks alpha = inf, not the
default."""

import warnings

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier

from kdtheory.crossfit import make_folds
from kdtheory.distill import ClipWarning, CrossFitKD, EnhancedKD, select_alpha_cv
from kdtheory.students import LinearStudent


def _noisy(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    p1 = 1 / (1 + np.exp(-2 * X[:, 0]))
    return X, (rng.uniform(size=n) < p1).astype(int)


def test_cv_alpha_is_the_argmin_of_the_held_out_log_loss():
    X, y = _noisy(200, 0)
    cf = CrossFitKD(KNeighborsClassifier(15), LinearStudent(), random_state=0).fit(X, y)
    enh = EnhancedKD(KNeighborsClassifier(15), LinearStudent(), alpha_grid=(0.0, 0.1, np.inf))
    alpha, scores = select_alpha_cv(enh, X, cf.teacher_proba_[0], y, random_state=5)
    assert alpha == (0.0, 0.1, np.inf)[int(np.argmin(scores))]
    # The alpha = 0 score by hand: students on 4 folds, log-loss on the fifth.
    folds = make_folds(200, 5, random_state=5)[0]
    target = np.log(np.clip(cf.teacher_proba_[0], 1e-3, 1))
    total = 0.0
    for s in range(5):
        held = folds == s
        f = clone(LinearStudent()).fit(X[~held], target[~held]).predict(X[held])
        total -= np.sum(log_softmax(f, axis=1)[np.arange(held.sum()), y[held]])
    np.testing.assert_allclose(scores[0], total / 200, rtol=1e-12)
    # The default distiller uses the selected alpha on every fold.
    fitted = EnhancedKD(KNeighborsClassifier(15), LinearStudent(), alpha_grid=(0.0, 0.1, np.inf),
                        random_state=1).fit(X, y, teacher_proba=cf.teacher_proba_,
                                            folds=cf.folds_)
    assert np.unique(fitted.alpha_).size == 1 and fitted.alpha_[0, 0] in (0.0, 0.1, np.inf)


@pytest.mark.statistical
def test_default_is_safe_where_alpha_inf_breaks_and_the_clip_warns():
    # 1-NN teacher on noisy labels: all cross-fit outputs are 0/1 (100% at the clip); the
    # orthogonal targets log(clip) + 1/clip - 1 ~ 992 on a third of the rows swamp the linear
    # student. Accuracy on 4000 fresh points: the paired difference default - crossfit has
    # standard error <= sqrt(0.5 / 4000) = 0.011; we allow 3 of them.
    X, y = _noisy(400, 1)
    X_te, y_te = _noisy(4000, 2)
    cf = CrossFitKD(KNeighborsClassifier(1), LinearStudent(), random_state=0).fit(X, y)
    shared = {"teacher_proba": cf.teacher_proba_, "folds": cf.folds_}
    with pytest.warns(ClipWarning, match="at the clip"):
        inf = EnhancedKD(KNeighborsClassifier(1), LinearStudent(), alpha=np.inf).fit(
            X, y, **shared)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClipWarning)
        default = EnhancedKD(KNeighborsClassifier(1), LinearStudent(), random_state=0).fit(
            X, y, **shared)  # chooses alpha = 0 here: no correction, no warning
    acc = {name: est.score(X_te, y_te) for name, est in
           (("crossfit", cf), ("inf", inf), ("default", default))}
    assert acc["default"] >= acc["crossfit"] - 3 * 0.011
    assert acc["inf"] < acc["crossfit"] - 3 * 0.011
