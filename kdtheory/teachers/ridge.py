"""The shrunk-mean ridge teacher of the teacher-underfitting example (docs/theory.md §5.1)."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive, one_hot
from ._base import TeacherMixin


class RidgeTeacher(TeacherMixin):
    r"""Ridge regression of the one-hot labels on a constant feature.

    .. math:: \hat p = \frac{1}{n(1+\lambda)} \sum_{i=1}^n y_i, \qquad \lambda = n^{-1/4}
              \text{ by default,}

    i.e. :math:`\arg\min_c \frac1n\sum_i \|y_i - c\|^2 + \lambda \|c\|^2`. The output ignores
    ``X`` (the underfitting example's X carries no information) and sums to
    :math:`1/(1+\lambda)`, not 1: the shrinkage is the deliberate teacher bias of order
    :math:`n^{-1/4}` that makes vanilla KD converge at :math:`n^{-1/2}` (docs/theory.md §5.1).

    Parameters
    ----------
    lam : float or None
        Ridge penalty :math:`\lambda > 0`; None means :math:`n^{-1/4}` with n the fitting size.
    n_classes : int or None
        Number of classes k; None infers max(label) + 1.

    Attributes
    ----------
    lam_ : float
        The penalty used.
    substochastic_proba : True (class attribute)
        Declares the rows summing to :math:`1/(1+\lambda) < 1` to the output checks.
    proba_ : ndarray of shape (k,)
        The teacher's constant output.
    """

    substochastic_proba = True

    def __init__(self, lam=None, n_classes=None):
        self.lam = lam
        self.n_classes = n_classes

    def fit(self, X, labels):
        X, labels, k = self._validate_fit(X, labels)
        n = X.shape[0]
        self.lam_ = n ** -0.25 if self.lam is None else check_positive(self.lam, "lam")
        self.proba_ = one_hot(labels, k).mean(axis=0) / (1.0 + self.lam_)
        return self

    def predict_proba(self, X):
        X = self._validate_predict(X)
        return np.tile(self.proba_, (X.shape[0], 1))
