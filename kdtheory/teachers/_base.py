"""What every kdtheory teacher shares: the scikit-learn classifier protocol.

A teacher is anything with ``fit(X, labels) -> self`` and ``predict_proba(X) -> (m, k)``; any
scikit-learn classifier qualifies. kdtheory's own teachers derive from :class:`TeacherMixin`
(``sklearn.base.ClassifierMixin`` + ``BaseEstimator``: ``get_params``, ``set_params``, ``clone``,
tags, ``score``), which validates inputs the same way everywhere and sets
``classes_``/``n_classes_`` so that :func:`kdtheory.crossfit.crossfit_predict` can align columns
even when a fold lacks a class.

Teacher outputs are checked (:func:`kdtheory._validation.check_teacher_output`): every row must
sum to 1 within 1e-6. A teacher whose outputs are deliberately *sub-stochastic* (rows summing to
at most 1, like the shrunk :class:`kdtheory.teachers.RidgeTeacher` of the underfitting example,
docs/theory.md §2) declares it with the class attribute ``substochastic_proba = True``; its
rows must then sum to a value in (0, 1].
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .._validation import check_labels, check_predict_X, check_X, infer_n_classes


class TeacherMixin(ClassifierMixin, BaseEstimator):
    """Validation and class bookkeeping for kdtheory's teachers (``n_classes`` parameter)."""

    substochastic_proba = False
    """True for a teacher whose ``predict_proba`` rows sum to at most 1 by design."""

    def _validate_fit(self, X, labels):
        X = check_X(X)
        labels = check_labels(labels, n_rows=X.shape[0])
        k = infer_n_classes(labels, getattr(self, "n_classes", None))
        self.n_classes_ = k
        self.classes_ = np.arange(k)
        self.n_features_in_ = X.shape[1]
        return X, labels, k

    def _validate_predict(self, X):
        return check_predict_X(self, X, fit_call="fit(X, labels)")

    def predict(self, X):
        """The most probable class of each row."""
        return np.argmax(self.predict_proba(X), axis=1)
