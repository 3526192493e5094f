"""Bad input, table-driven: the CLI exits 2 with one line naming the flag and the value; the API
raises ValueError naming the argument and the value (never a deep traceback or a silent NaN)."""

import numpy as np
import pytest

from kdtheory.crossfit import crossfit_predict, make_folds
from kdtheory.distill import CrossFitKD, VanillaKD
from kdtheory.examples import Prediction
from kdtheory.losses import sel_pseudo_target
from kdtheory.montecarlo import run_study
from kdtheory.results import StudyResult
from kdtheory.spec import StudySpec
from kdtheory.rates import main
from kdtheory.students import ConstantStudent
from kdtheory.teachers import RidgeTeacher

try:
    from kdtheory.teachers import NadarayaWatsonTeacher
except ImportError:
    NadarayaWatsonTeacher = None
needs_nw = pytest.mark.skipif(NadarayaWatsonTeacher is None,
                              reason="kdtheory.teachers.NadarayaWatsonTeacher is not available")

# (extra argv, texts the one error line must contain: the flag and the offending value).
# tests/test_rates.py covers --example nope, --d 0, --tolerance, --enhanced-alpha, --n-min alone.
CLI_CASES = [
    (["--sample-sizes", "0,100"], ["--sample-sizes", "0"]),
    (["--sample-sizes", "100.5,200"], ["--sample-sizes", "100.5"]),
    (["--sample-sizes=-100,200"], ["--sample-sizes", "-100"]),
    (["--n-min", "0", "--n-max", "100", "--num-n", "3"], ["--n-min", "0"]),
    (["--n-min", "100", "--n-max", "1000", "--num-n", "1"], ["--num-n", "1"]),
    (["--replications", "0"], ["--replications", "0"]),
    (["--replications", "2.5"], ["--replications", "2.5"]),
    (["--n-jobs", "0"], ["--n-jobs", "0"]),
    (["--seed", "-1"], ["--seed", "-1"]),
    (["--clip", "0"], ["--clip", "0"]),
    (["--clip", "0.5"], ["--clip", "0.5"]),
    (["--clip", "-0.1"], ["--clip", "-0.1"]),
    (["--n-folds", "1"], ["--n-folds", "1"]),
    (["--n-folds", "2.5"], ["--n-folds", "2.5"]),
    (["--sample-sizes", "40,80", "--n-folds", "50"], ["--n-folds", "50"]),
    (["--d", "2"], ["--d", "underfit"]),
    (["--backend", "spark"], ["--backend", "spark"]),
    (["--backend", "joblib", "--scheduler", "tcp://127.0.0.1:8786"], ["--scheduler", "joblib"]),
    pytest.param(["--example", "overfit", "--d", "-1"], ["--d", "-1"], marks=needs_nw),
    pytest.param(["--example", "overfit", "--d", "1.5"], ["--d", "1.5"], marks=needs_nw),
    pytest.param(["--example", "overfit", "--a", "1.5"], ["--a", "1.5", "(0, 1.0)"],
                 marks=needs_nw),
    pytest.param(["--example", "overfit", "--d", "1", "--a", "0.6"], ["--a", "0.6", "(0, 0.5)"],
                 marks=needs_nw),
    pytest.param(["--example", "overfit", "--a", "0"], ["--a", "0"], marks=needs_nw),
    pytest.param(["--example", "overfit", "--c-h", "0"], ["--c-h", "0"], marks=needs_nw),
    pytest.param(["--example", "overfit", "--c-h", "-2"], ["--c-h", "-2"], marks=needs_nw),
]


@pytest.mark.parametrize("argv, expected", CLI_CASES,
                         ids=[" ".join(getattr(c, "values", c)[0]) for c in CLI_CASES])
def test_bad_cli_input_exits_2_with_one_line_naming_flag_and_value(argv, expected, capsys):
    if "--example" not in argv:
        argv = ["--example", "underfit", *argv]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--no-plot", "--no-progress"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m kdtheory.rates: error: "), lines
    assert all(text in lines[0] for text in expected), lines[0]


_rng = np.random.default_rng(0)
X = _rng.uniform(size=(30, 2))
LABELS = np.arange(30) % 2
X_NAN, X_INF = X.copy(), X.copy()
X_NAN[3, 1], X_INF[4, 0] = np.nan, np.inf
T = np.zeros((30, 2))
STUDY = {"sample_sizes": [40, 80], "n_replications": 2, "progress": False}
EMPTY_STUDY = StudyResult(StudySpec.create("underfit", sample_sizes=[40, 80], n_replications=2), [])


def _kd(cls=VanillaKD, **kw):
    return cls(RidgeTeacher(), ConstantStudent(), **kw)


# (call, texts the message must contain: the argument and the offending value).
API_CASES = {
    "unknown example": (lambda: run_study("nope"), ["example", "nope"]),
    "unknown parameter": (lambda: run_study("underfit", {"dd": 2}), ["parameter", "dd"]),
    "sample size 0": (lambda: run_study("underfit", sample_sizes=[0, 100]),
                      ["sample_sizes[0]", "0"]),
    "sample size 50.5": (lambda: run_study("underfit", sample_sizes=[100, 50.5]),
                         ["sample_sizes[1]", "50.5"]),
    "sample sizes empty": (lambda: run_study("underfit", sample_sizes=[]),
                           ["sample_sizes", "[]"]),
    "sample sizes scalar": (lambda: run_study("underfit", sample_sizes=100),
                            ["sample_sizes", "100"]),
    "n_replications 0": (lambda: run_study("underfit", n_replications=0),
                         ["n_replications", "0"]),
    "n_replications 2.5": (lambda: run_study("underfit", n_replications=2.5),
                           ["n_replications", "2.5"]),
    "n_jobs 0": (lambda: run_study("underfit", n_jobs=0), ["n_jobs", "0"]),
    "seed -1": (lambda: run_study("underfit", seed=-1), ["seed", "-1"]),
    "clip 0.7": (lambda: run_study("underfit", {"clip": 0.7}, **STUDY), ["clip", "0.7"]),
    "clip 0": (lambda: run_study("underfit", {"clip": 0}, **STUDY), ["clip", "0"]),
    "n_folds 1": (lambda: run_study("underfit", {"n_folds": 1}, **STUDY), ["n_folds", "1"]),
    "n_folds > n": (lambda: run_study("underfit", {"n_folds": 50}, **STUDY), ["n_folds", "50"]),
    "backend": (lambda: run_study("underfit", backend="spark", **STUDY), ["backend", "spark"]),
    "scheduler with joblib": (
        lambda: run_study("underfit", backend="joblib", scheduler="tcp://h:1", **STUDY),
        ["scheduler", "joblib"]),
    "scheduler not a string": (lambda: run_study("underfit", scheduler=8786, **STUDY),
                               ["scheduler", "8786"]),
    "spec n": (lambda: StudySpec.create("underfit", sample_sizes=[10, 20]),
               ["sample_sizes[0]", "10"]),
    "spec n_folds > n": (lambda: StudySpec.create("underfit", {"n_folds": 60},
                                                  sample_sizes=[50, 100]), ["n_folds", "60"]),
    "spec enhanced_alpha": (lambda: StudySpec.create("underfit", {"enhanced_alpha": -1.0}),
                            ["enhanced_alpha", "-1.0"]),
    "spec enhanced_alpha tune with ACE": (
        lambda: StudySpec.create("underfit_ace", {"enhanced_alpha": "tune"}),
        ["enhanced_alpha", "tune", "ace"]),
    "spec beta": (lambda: StudySpec.create("underfit_ace", {"beta": 1.5}), ["beta", "1.5"]),
    "spec and arguments": (lambda: run_study(StudySpec.create("underfit"), seed=3),
                           ["StudySpec", "not both"]),
    "unknown method": (lambda: EMPTY_STUDY.records_for("distilled"), ["method", "distilled"]),
    "unknown method in predictions": (
        lambda: EMPTY_STUDY.summarize(predictions={"distilled": Prediction(-1.0, "upper")}),
        ["method", "distilled"]),
    "make_folds n_folds > n": (lambda: make_folds(30, 31), ["n_folds", "31"]),
    "make_folds n 0": (lambda: make_folds(0, 2), ["n", "0"]),
    "CrossFitKD n_folds > n": (lambda: _kd(CrossFitKD, n_folds=31).fit(X, LABELS),
                               ["n_folds", "31"]),
    "CrossFitKD n_folds 2.5": (lambda: _kd(CrossFitKD, n_folds=2.5).fit(X, LABELS),
                               ["n_folds", "2.5"]),
    "distiller clip 0.5": (lambda: _kd(clip=0.5).fit(X, LABELS), ["clip", "0.5"]),
    "pseudo-target clip -1": (
        lambda: sel_pseudo_target(np.full((3, 2), 0.5), np.eye(2)[[0, 1, 0]], alpha=1.0,
                                  clip=-1.0), ["clip", "-1"]),
    "NaN in X (distiller)": (lambda: _kd().fit(X_NAN, LABELS), ["X", "nan"]),
    "inf in X (teacher)": (lambda: RidgeTeacher().fit(X_INF, LABELS), ["X", "inf"]),
    "inf in X (student)": (lambda: ConstantStudent().fit(X_INF, T), ["X", "inf"]),
    "NaN in X (crossfit_predict)": (
        lambda: crossfit_predict(RidgeTeacher(), X_NAN, LABELS, make_folds(30, 3),
                                 n_classes=2), ["X", "nan"]),
    "labels -1": (lambda: RidgeTeacher().fit(X, LABELS - 1), ["labels", "-1"]),
    "labels 0.5": (lambda: _kd().fit(X, LABELS + 0.5), ["labels", "0.5"]),
    "labels >= n_classes": (lambda: RidgeTeacher(n_classes=2).fit(X, 2 * LABELS),
                            ["labels", "2"]),
    "labels >= n_classes (crossfit_predict)": (
        lambda: crossfit_predict(RidgeTeacher(), X, 2 * LABELS, make_folds(30, 3),
                                 n_classes=2), ["labels", "2"]),
    "d 0": (lambda: run_study("overfit", {"d": 0}), ["d", "0"]),
    "d 2.5": (lambda: run_study("overfit", {"d": 2.5}), ["d", "2.5"]),
    "example a >= d/2": pytest.param(lambda: run_study("overfit", {"d": 2, "a": 1.0}),
                                     ["a", "1.0"], marks=needs_nw),
    "example a 0": pytest.param(lambda: run_study("overfit", {"a": 0}), ["a", "0"],
                                marks=needs_nw),
    "example c_h 0": pytest.param(lambda: run_study("overfit", {"c_h": 0.0}), ["c_h", "0.0"],
                                  marks=needs_nw),
    "teacher bandwidth 0": pytest.param(
        lambda: NadarayaWatsonTeacher(bandwidth=0.0).fit(X, LABELS), ["bandwidth", "0.0"],
        marks=needs_nw),
    "teacher bandwidth -1": pytest.param(
        lambda: NadarayaWatsonTeacher(bandwidth=-1.0).fit(X, LABELS), ["bandwidth", "-1.0"],
        marks=needs_nw),
    "teacher a >= d/2": pytest.param(
        lambda: NadarayaWatsonTeacher(a=1.0).fit(X, LABELS), ["a", "1.0"], marks=needs_nw),
    "teacher a 0": pytest.param(
        lambda: NadarayaWatsonTeacher(a=0.0).fit(X, LABELS), ["a", "0.0"], marks=needs_nw),
}


@pytest.mark.parametrize("call, expected", API_CASES.values(), ids=API_CASES.keys())
def test_bad_api_input_raises_value_error_naming_argument_and_value(call, expected):
    with pytest.raises(ValueError) as exc:
        call()
    message = str(exc.value)
    assert "\n" not in message and all(text in message for text in expected), message
