"""Property-based fuzzing of the public API: any input gives a finite result or a clear error.

Every public function and estimator, given arbitrary shapes and dtypes, NaN or inf, empty
arrays or wrong label sets, either returns a valid finite result or raises ValueError or
TypeError with a message: never a NaN, an IndexError or a ZeroDivisionError from inside.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kdtheory import losses, radius, ratefit
from kdtheory.distill import CrossFitKD, EnhancedKD, VanillaKD
from kdtheory.montecarlo import run_study
from kdtheory.crossfit import check_folds, crossfit_predict, make_folds
from kdtheory.spec import StudySpec
from kdtheory.students import ConstantStudent, LinearStudent
from kdtheory.teachers import NadarayaWatsonTeacher, RidgeTeacher

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@st.composite
def anything(draw):
    """An array of any shape and dtype (floats with NaN/inf, ints, bools), or an odd object."""
    kind = draw(st.sampled_from(["float", "float", "int", "bool", "object"]))
    if kind == "float":
        return draw(hnp.arrays(np.float64, SHAPES, elements=FLOATS))
    if kind == "int":
        return draw(hnp.arrays(np.int64, SHAPES, elements=st.integers(-3, 6)))
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, SHAPES))
    return draw(st.sampled_from([None, "abc", [[1, "a"], [2, "b"]], [], {}, 3.5, -1,
                                 float("nan"), [[np.inf, 1.0]]]))


def _finite(value):
    """True when every number in the result is finite (objects: their array attributes)."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    if isinstance(value, (int, float, np.number)):
        return math.isfinite(float(value))
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.all(np.isfinite(value)))
    if hasattr(value, "__dict__"):
        return all(_finite(v) for k, v in vars(value).items()
                   if isinstance(v, (np.ndarray, float)) and not k.startswith("_"))
    return True


def check(call):
    """Run ``call``: a finite result, or ValueError/TypeError with a message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except (ValueError, TypeError) as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return
    assert _finite(result), f"non-finite result {result!r}"


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TARGETS = {
    "clip_proba": lambda a, b: losses.clip_proba(a),
    "gamma_rule": lambda a, b: losses.gamma_rule(a, b, alpha=1.0),
    "sel_pseudo_target": lambda a, b: losses.sel_pseudo_target(a, b, alpha=np.inf),
    "SEL value": lambda a, b: losses.SquaredLogitLoss().value(a, b),
    "SEL grad_f": lambda a, b: losses.SquaredLogitLoss().grad_f(a, b),
    "SEL grad_p": lambda a, b: losses.SquaredLogitLoss().grad_p(a, b),
    "ACE value": lambda a, b: losses.AnnealedCrossEntropy(beta=0.5).value(a, b),
    "ACE grad_p": lambda a, b: losses.AnnealedCrossEntropy(beta=0.5).grad_p(a, b),
    "make_folds": lambda a, b: make_folds(a, b),
    "check_folds": lambda a, b: check_folds(a, 4),
    "crossfit_predict": lambda a, b: crossfit_predict(RidgeTeacher(), a, b, make_folds(4, 2),
                                                      n_classes=2),
    "ConstantStudent": lambda a, b: ConstantStudent().fit(a, b).predict(a),
    "LinearStudent": lambda a, b: LinearStudent().fit(a, b).predict(a),
    "RidgeTeacher": lambda a, b: RidgeTeacher().fit(a, b).predict_proba(a),
    "NadarayaWatsonTeacher": lambda a, b: NadarayaWatsonTeacher().fit(a, b).predict_proba(a),
    "VanillaKD": lambda a, b: VanillaKD(RidgeTeacher(), ConstantStudent()).fit(a, b).predict(a),
    "CrossFitKD": lambda a, b: CrossFitKD(RidgeTeacher(), ConstantStudent(),
                                          n_folds=2).fit(a, b).predict(a),
    "EnhancedKD": lambda a, b: EnhancedKD(RidgeTeacher(), LinearStudent(), n_folds=2,
                                          random_state=0).fit(a, b).predict(a),
    "critical_radius": lambda a, b: radius.critical_radius(lambda d: float(np.sum(a)) * d, 1.0),
    "sel_loss_radius": lambda a, b: radius.sel_loss_radius(a, n_directions=4, random_state=0),
    "run_study": lambda a, b: run_study("underfit", sample_sizes=a, n_replications=2,
                                        progress=False),
    "constant_radius": lambda a, b: radius.constant_radius(a),
    "kernel_radius": lambda a, b: radius.kernel_radius(a),
    "linear_radius": lambda a, b: radius.linear_radius(a, n_draws=8, random_state=0),
    "finite_class_radius": lambda a, b: radius.finite_class_radius(a, n_draws=8,
                                                                   random_state=0),
    "mean_and_se": lambda a, b: ratefit.mean_and_se(a),
    "fit_slope": lambda a, b: ratefit.fit_slope(a, b, b),
    "local_slopes": lambda a, b: ratefit.local_slopes(a, b, b),
    "StudySpec sizes": lambda a, b: StudySpec.create("underfit", sample_sizes=a,
                                                     n_replications=2),
    "StudySpec params": lambda a, b: StudySpec.create("underfit", {"p0": a}),
}


@pytest.mark.parametrize("name", TARGETS)
@FUZZ
@given(a=anything(), b=anything())
def test_public_api_gives_a_finite_result_or_a_clear_error(name, a, b):
    check(lambda: TARGETS[name](a, b))
