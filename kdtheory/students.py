r"""Students fit to SEL pseudo-targets (docs/theory.md §4).

Under the squared-error logit loss the student minimises
:math:`\frac1n \sum_i \tfrac12 \|f(x_i) - t_i\|^2` over its class, where the pseudo-targets
:math:`t_i` come from :func:`kdtheory.losses.sel_pseudo_target`. So every student is a
least-squares regression of the (n, k) target matrix on x:

* :class:`ConstantStudent`: :math:`f(x) = c`, minimiser :math:`c = \bar t` (column means);
* :class:`LinearStudent`: :math:`f(x) = \Theta^\top \phi(x)` with :math:`\phi(x) = (1, x)` or
  :math:`x`, a least-squares fit per class;
* :class:`RegressorStudent`: any scikit-learn regressor (e.g. a random forest, as in the
  paper's tabular experiments), cloned and fit to the targets.

All derive from ``sklearn.base.RegressorMixin`` and ``BaseEstimator``: ``fit(X, T) -> self``
and ``predict(X) -> (m, k)`` scores, ``get_params``/``set_params``, ``clone`` and tags.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

from ._validation import check_predict_X, check_X


def _check_targets(X, T):
    X = check_X(X)
    T = np.asarray(T, dtype=np.float64)
    if T.ndim == 1:
        T = T[:, None]
    if T.ndim != 2 or T.shape[0] != X.shape[0]:
        raise ValueError(f"targets must have shape ({X.shape[0]}, k), got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError("targets must be finite (check the teacher outputs and clip)")
    return X, T


class _StudentBase(RegressorMixin, BaseEstimator):
    def _check_predict(self, X):
        return check_predict_X(self, X, fit_call="fit(X, T)")


class ConstantStudent(_StudentBase):
    r"""The constant class :math:`f(x) = c \in \mathbb{R}^k`; under SEL :math:`\hat c = \bar t`.

    Attributes
    ----------
    coef_ : ndarray of shape (k,)
        The fitted constant (mean pseudo-target).
    """

    def fit(self, X, T):
        X, T = _check_targets(X, T)
        self.coef_ = T.mean(axis=0)
        self.n_outputs_ = T.shape[1]
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        X = self._check_predict(X)
        return np.tile(self.coef_, (X.shape[0], 1))


class LinearStudent(_StudentBase):
    r"""The linear class :math:`f(x) = \Theta^\top \phi(x)`, fit by least squares per class.

    :math:`\phi(x) = (1, x)` when ``fit_intercept`` else :math:`x`. The minimum-norm solution
    (``numpy.linalg.lstsq``) is used, so rank-deficient designs are fine.

    Attributes
    ----------
    coef_ : ndarray of shape (d, k)
    intercept_ : ndarray of shape (k,)
    """

    def __init__(self, fit_intercept: bool = True):
        self.fit_intercept = fit_intercept

    def _design(self, X):
        return np.hstack([np.ones((X.shape[0], 1)), X]) if self.fit_intercept else X

    def fit(self, X, T):
        X, T = _check_targets(X, T)
        theta, *_ = np.linalg.lstsq(self._design(X), T, rcond=None)
        if self.fit_intercept:
            self.intercept_, self.coef_ = theta[0], theta[1:]
        else:
            self.intercept_, self.coef_ = np.zeros(T.shape[1]), theta
        self.n_outputs_ = T.shape[1]
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        X = self._check_predict(X)
        return X @ self.coef_ + self.intercept_


class RegressorStudent(_StudentBase):
    """Any scikit-learn regressor fit to the (n, k) pseudo-targets.

    The regressor is cloned at every fit; it must support 2-D targets (most do natively; wrap
    others in ``sklearn.multioutput.MultiOutputRegressor``).

    Attributes
    ----------
    regressor_ : the fitted clone.
    """

    def __init__(self, regressor):
        self.regressor = regressor

    def fit(self, X, T):
        X, T = _check_targets(X, T)
        if not (hasattr(self.regressor, "fit") and hasattr(self.regressor, "predict")):
            raise TypeError(
                f"regressor must have fit and predict, got {type(self.regressor).__name__}"
            )
        self.regressor_ = clone(self.regressor).fit(X, T)
        self.n_outputs_ = T.shape[1]
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        X = self._check_predict(X)
        return np.asarray(self.regressor_.predict(X), dtype=np.float64).reshape(
            X.shape[0], self.n_outputs_
        )
