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

Under the annealed cross-entropy (``loss="ace"``, docs/theory.md §2) the student is instead fit to
soft targets by cross-entropy (``fits_soft_targets = True``): :class:`SoftmaxStudent`,
multinomial logistic regression on soft targets, and :class:`ConstantSoftmaxStudent`, its
constant class (closed form :math:`\mathrm{softmax}(\hat z) = \bar T`).

All derive from ``sklearn.base.RegressorMixin`` and ``BaseEstimator``: ``fit(X, T) -> self``
and ``predict(X) -> (m, k)`` scores, ``get_params``/``set_params``, ``clone`` and tags.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

from scipy.special import logsumexp

from ._validation import check_int, check_positive, check_predict_X, check_X


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


def _check_soft_targets(T, *, intercept=True):
    """Rows of T must sum to 1 (entries may be negative: the loss-corrected ACE targets); with
    an unpenalised intercept every column mean must be positive, or no minimiser exists."""
    sums = T.sum(axis=1)
    if np.any(np.abs(sums - 1) > 1e-6):
        i = int(np.argmax(np.abs(sums - 1)))
        raise ValueError(f"soft targets T must have rows summing to 1; row {i} sums to "
                         f"{sums[i]:.10g}")
    if intercept and np.any(T.mean(axis=0) <= 0):
        j = int(np.argmin(T.mean(axis=0)))
        raise ValueError(f"soft targets T: column {j} has mean {T[:, j].mean():.6g} <= 0, so "
                         f"the unpenalised intercept has no minimiser")


class _StudentBase(RegressorMixin, BaseEstimator):
    fits_soft_targets = False
    """True for a student fit to soft targets by cross-entropy (``loss="ace"``)."""

    def _check_predict(self, X):
        return check_predict_X(self, X, fit_call="fit(X, T)")


class ConstantStudent(_StudentBase):
    r"""The constant class :math:`f(x) = c \in \mathbb{R}^k`; under SEL :math:`\hat c = \bar t`.

    Attributes
    ----------
    coef_ : ndarray of shape (k,)
        The fitted constant (mean pseudo-target).
    """

    def features(self, X):
        r"""The student's features :math:`\phi(x) = 1` (m, 1): :math:`f(x) = c^\top \phi(x)`."""
        return np.ones((check_X(X).shape[0], 1))

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

    def features(self, X):
        r"""The student's features :math:`\phi(x) = (1, x)` (or x): :math:`f = \Theta^\top\phi`."""
        X = check_X(X)
        return np.hstack([np.ones((X.shape[0], 1)), X]) if self.fit_intercept else X

    def fit(self, X, T):
        X, T = _check_targets(X, T)
        theta, *_ = np.linalg.lstsq(self.features(X), T, rcond=None)
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


def _softmax_objective(theta, design, T, penalty, n_penalised):
    r"""Value and gradient of the soft-target cross-entropy of :class:`SoftmaxStudent`.

    :math:`J(\Theta) = \frac1n\sum_i \big(\mathrm{LSE}(z_i) - \langle T_i, z_i\rangle\big)
    + \frac{\lambda}{2}\|\Theta_{\text{pen}}\|_F^2` with :math:`z_i = \Theta^\top \phi_i`
    (this equals :math:`-\frac1n\sum_i\sum_j T_{ij}\log\mathrm{softmax}(z_i)_j` when the rows
    of T sum to 1); :math:`\nabla_\Theta J = \frac1n \Phi^\top(\mathrm{softmax}(Z) - T)
    + \lambda \Theta_{\text{pen}}`. The first ``n_penalised`` rows of Theta (the intercept,
    if any, is the last row) carry the penalty.
    """
    n, k = T.shape
    Theta = theta.reshape(design.shape[1], k)
    Z = design @ Theta
    lse = logsumexp(Z, axis=1)
    value = np.sum(lse - np.sum(T * Z, axis=1)) / n
    grad = design.T @ (np.exp(Z - lse[:, None]) - T) / n
    pen = Theta[:n_penalised]
    value += 0.5 * penalty * np.sum(pen * pen)
    grad[:n_penalised] += penalty * pen
    return value, grad.ravel()


class SoftmaxStudent(_StudentBase):
    r"""Multinomial logistic regression fit to soft targets (the ACE student, docs/theory.md §2).

    Scores :math:`z(x) = W^\top x + b \in \mathbb{R}^k`, fit by minimising

    .. math:: J(W, b) = -\frac1n \sum_i \sum_j T_{ij} \log \mathrm{softmax}(z(x_i))_j
              + \frac{\lambda}{2} \|W\|_F^2

    with L-BFGS (``scipy.optimize.minimize``, analytic gradient :math:`\frac1n X^\top
    (\mathrm{softmax}(Z) - T) + \lambda W`); the intercept is not penalised. Rows of T must sum
    to 1 but may have negative entries (the loss-corrected ACE targets
    :math:`w + \beta c`, :meth:`kdtheory.losses.AnnealedCrossEntropy.corrected_targets`): J is
    still convex (a log-sum-exp minus a linear term), and strictly convex in W when
    :math:`\lambda > 0`. With one-hot T this is scikit-learn's
    ``LogisticRegression(C=1 / (n * penalty))`` (multinomial, k >= 3).

    A distiller with ``loss="ace"`` and inverse temperature beta fits this student to the
    tempered targets and reads its scores as :math:`\beta f`, i.e. divides them by beta.

    Parameters
    ----------
    penalty : float >= 0
        L2 strength :math:`\lambda` on W (per row average loss).
    fit_intercept : bool
    tol : float > 0
        L-BFGS gradient tolerance (``gtol``).
    max_iter : int >= 1

    Attributes
    ----------
    coef_ : ndarray of shape (d, k)
    intercept_ : ndarray of shape (k,)
    n_iter_ : int
    """

    fits_soft_targets = True

    def __init__(self, penalty=1e-4, fit_intercept=True, tol=1e-8, max_iter=1000):
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, T):
        from scipy.optimize import minimize

        X, T = _check_targets(X, T)
        penalty = float(self.penalty) if self.penalty == 0 else check_positive(
            self.penalty, "penalty")
        tol = check_positive(self.tol, "tol")
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        _check_soft_targets(T, intercept=self.fit_intercept)
        n, d = X.shape
        k = T.shape[1]
        design = np.hstack([X, np.ones((n, 1))]) if self.fit_intercept else X
        res = minimize(_softmax_objective, np.zeros(design.shape[1] * k), jac=True,
                       args=(design, T, penalty, d), method="L-BFGS-B",
                       options={"gtol": tol, "ftol": 1e-15, "maxiter": max_iter})
        if not np.all(np.isfinite(res.x)) or not np.isfinite(res.fun):
            raise ValueError("SoftmaxStudent diverged: soft targets with negative entries need "
                             "penalty > 0 (and, with fit_intercept, positive column means)")
        Theta = res.x.reshape(design.shape[1], k)
        self.coef_ = Theta[:d]
        self.intercept_ = Theta[d] if self.fit_intercept else np.zeros(k)
        self.n_iter_ = int(res.nit)
        self.n_outputs_ = k
        self.n_features_in_ = d
        return self

    def predict(self, X):
        """The scores z(x) (m, k); softmax(z) are the fitted class probabilities."""
        X = self._check_predict(X)
        return X @ self.coef_ + self.intercept_


class ConstantSoftmaxStudent(ConstantStudent):
    r"""The constant class :math:`z(x) = c \in \mathbb{R}^k` fit to soft targets by cross-entropy.

    Minimises :math:`-\frac1n\sum_i\sum_j T_{ij}\log\mathrm{softmax}(c)_j
    = -\sum_j \bar T_j \log\mathrm{softmax}(c)_j`, a cross-entropy against the column means
    :math:`\bar T` (a probability vector when the rows sum to 1 and the means are positive), so
    :math:`\mathrm{softmax}(\hat c) = \bar T`: :math:`\hat c = \log\bar T` (the constant
    per class is not identified; this one has :math:`\sum_j e^{\hat c_j} = 1`). It is
    :class:`SoftmaxStudent` without features, in closed form; the ACE student of the
    ``underfit_ace`` example (docs/theory.md §5.6). ``predict`` returns the scores c.

    Attributes
    ----------
    coef_ : ndarray of shape (k,)
    """

    fits_soft_targets = True

    def fit(self, X, T):
        _check_soft_targets(_check_targets(X, T)[1])
        super().fit(X, T)
        self.coef_ = np.log(self.coef_)
        return self
