"""Teachers: sklearn-style ``fit(X, labels)`` / ``predict_proba(X)`` estimators of p0."""

from ._base import TeacherMixin
from .nadaraya_watson import NadarayaWatsonTeacher, warm_up
from .ridge import RidgeTeacher

__all__ = ["TeacherMixin", "NadarayaWatsonTeacher", "RidgeTeacher", "warm_up"]
