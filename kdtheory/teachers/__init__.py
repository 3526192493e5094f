"""Teachers: sklearn-style ``fit(X, labels)`` / ``predict_proba(X)`` estimators of p0."""

from ._base import TeacherMixin
from .ridge import RidgeTeacher

__all__ = ["TeacherMixin", "RidgeTeacher"]
