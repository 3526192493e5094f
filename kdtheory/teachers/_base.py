"""What every kdtheory teacher shares: the scikit-learn classifier protocol.

A teacher is anything with ``fit(X, labels) -> self`` and ``predict_proba(X) -> (m, k)``; any
scikit-learn classifier qualifies. kdtheory's own teachers derive from :class:`TeacherMixin`,
which validates inputs the same way everywhere and sets ``classes_``/``n_classes_`` so that
:func:`kdtheory.crossfit.crossfit_predict` can align columns even when a fold lacks a class.
"""

from __future__ import annotations

import numpy as np

from .._estimator import Estimator
from .._validation import check_labels, check_predict_X, check_X, infer_n_classes


class TeacherMixin(Estimator):
    """Validation and class bookkeeping for kdtheory's teachers (``n_classes`` parameter)."""

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
