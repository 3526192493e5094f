"""``clone`` with scikit-learn imported on first use.

kdtheory's teachers, students and distillers derive from ``sklearn.base`` (BaseEstimator and
the classifier/regressor mixins); :mod:`kdtheory.crossfit` clones teachers per fold through this
forwarder so that importing it does not load scikit-learn (about 1.6 s).
"""

from __future__ import annotations


def clone(estimator):
    """``sklearn.base.clone``: an unfitted copy with the same (deep-copied) parameters."""
    from sklearn.base import clone as sklearn_clone

    return sklearn_clone(estimator)
