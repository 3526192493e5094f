"""The scikit-learn estimator protocol of kdtheory's estimators (on sklearn.base)."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone as sklearn_clone
from sklearn.ensemble import RandomForestRegressor

from kdtheory._estimator import clone
from kdtheory.distill import EnhancedKD
from kdtheory.students import ConstantStudent, RegressorStudent
from kdtheory.teachers import RidgeTeacher


def _kd():
    return EnhancedKD(RidgeTeacher(lam=0.3), RegressorStudent(RandomForestRegressor(max_depth=2)),
                      n_folds=3, alpha=2.0)


def test_params_nested_and_settable():
    est = _kd()
    params = est.get_params()
    assert params["n_folds"] == 3 and params["teacher__lam"] == 0.3
    assert params["student__regressor__max_depth"] == 2
    est.set_params(alpha=0.5, teacher__lam=0.1, student__regressor__max_depth=4)
    assert est.alpha == 0.5 and est.teacher.lam == 0.1 and est.student.regressor.max_depth == 4
    with pytest.raises(ValueError, match="(?i)invalid parameter 'alhpa'"):
        est.set_params(alhpa=1.0)
    with sklearn.config_context(print_changed_only=False):
        assert repr(RidgeTeacher(lam=0.3)) == "RidgeTeacher(lam=0.3, n_classes=None)"


@pytest.mark.parametrize("cloner", [clone, sklearn_clone])
def test_clone_is_unfitted_with_equal_but_distinct_parameters(cloner):
    est = _kd()
    rng = np.random.default_rng(0)
    est.fit(rng.uniform(size=(40, 1)), rng.integers(0, 3, size=40))
    copy = cloner(est)
    assert not hasattr(copy, "students_")
    assert copy.teacher is not est.teacher and copy.student.regressor is not est.student.regressor
    assert copy.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert copy.teacher.lam == 0.3 and copy.student.regressor.max_depth == 2
    assert isinstance(cloner(ConstantStudent()), ConstantStudent)
