"""The torus example: closed-form f0, parameters, the bandwidth check, and a quick study."""

import json

import numpy as np
import pytest
from scipy import integrate

from kdtheory.examples import get_example, torus_c_h, torus_f0
from kdtheory.spec import SpecError, StudySpec


@pytest.mark.parametrize("amplitude", [0.05, 0.2, 0.35, 0.49])
def test_f0_closed_form_matches_quadrature(amplitude):
    for sign in (-1, 1):
        value = integrate.quad(lambda x, sign=sign: np.log(0.5 + sign * amplitude
                                                          * np.sin(2 * np.pi * x)),
                               0, 1, epsabs=1e-14, limit=200)[0]
        assert torus_f0(amplitude) == pytest.approx(value, abs=1e-12)


def test_p0_and_defaults():
    ex = get_example("torus")
    for d, c_h in ((1, 0.5), (2, 0.5), (3, 0.75), (5, 0.75), (8, 0.75)):
        params = ex.resolve({"d": d})
        assert params["c_h"] == torus_c_h(d) == c_h
    params = ex.resolve({"d": 3})
    X, labels = ex.sample(2000, params, np.random.default_rng(0))
    assert X.shape == (2000, 3) and X.min() >= 0 and X.max() < 1
    p0 = ex.p0(X, params)
    np.testing.assert_allclose(p0[:, 1], 0.5 + 0.35 * np.sin(2 * np.pi * X[:, 0]))
    np.testing.assert_allclose(p0.sum(axis=1), 1.0)
    # Labels follow p0: the class-1 frequency where sin > 0 is E p0 there, 1/2 + 0.7/pi.
    upper = np.sin(2 * np.pi * X[:, 0]) > 0
    freq, se = labels[upper].mean(), 0.5 / np.sqrt(upper.sum())
    assert abs(freq - (0.5 + 0.7 / np.pi)) < 4 * se


@pytest.mark.parametrize("params, argument", [
    ({"amplitude": 0.5}, "amplitude"), ({"amplitude": -0.1}, "amplitude"),
    ({"d": 2, "a": 1.0}, "a"), ({"c_h": 0.0}, "c_h"),
])
def test_bad_parameters_are_named(params, argument):
    with pytest.raises(SpecError) as exc:
        StudySpec.create("torus", params)
    assert exc.value.argument == argument


def test_a_bandwidth_beyond_half_the_torus_is_refused_up_front():
    with pytest.raises(SpecError, match="h = 0.5") as exc:
        StudySpec.create("torus", {"d": 8}, sample_sizes=[100, 200])
    assert exc.value.argument == "sample_sizes"
    assert StudySpec.create("torus", {"d": 8}, sample_sizes=[300, 600]).sample_sizes[0] == 300


@pytest.mark.statistical
def test_quick_torus_study_runs_with_the_periodic_teacher(tmp_path):
    pytest.importorskip("kdtheory.teachers").NadarayaWatsonTeacher(boxsize=1.0)
    from kdtheory.rates import main

    out = tmp_path / "t.json"
    code = main(["--example", "torus", "--d", "2", "--quick", "--json", str(out), "--no-plot",
                 "--no-progress", "--n-jobs", "2"])
    summary = json.loads(out.read_text())
    methods = summary["methods"]
    assert code in (0, 1) and summary["failures"] == 0
    # Vanilla KD does not decay (the teacher interpolates); cross-fit KD does.
    assert methods["vanilla"]["verdict"] == "consistent"
    assert methods["crossfit"]["slope"] < -0.3
