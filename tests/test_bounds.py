"""The bound decomposition of rate studies (docs/theory.md §8): terms, limits, ratio."""

import numpy as np
import pytest

from kdtheory.examples import get_example
from _cells import one_cell
from kdtheory.montecarlo import cell_seed, run_study
from kdtheory.radius import constant_radius


def _draw(seed, n):
    ex = get_example("underfit")
    params = ex.resolve()
    _, labels = ex.sample(n, params, np.random.default_rng(cell_seed(seed, 1, n, 0).spawn(3)[0]))
    return params, labels


@pytest.mark.parametrize("alpha", [0.0, 0.7, np.inf])
def test_enhanced_gamma_terms_match_direct_computation(alpha):
    n = 400
    recs = {r["method"]: r for r in one_cell("underfit", {"enhanced_alpha": alpha}, n, 0, 11)}
    enh = recs["enhanced"]
    if alpha == 0:
        assert enh["gamma_variance"] == 0.0
    if np.isinf(alpha):
        assert enh["gamma_bias"] == 0.0
    else:
        assert enh["gamma_bias"] > 0.0
    # Every method's bound is the sum of its terms plus 1/m.
    for method, rec in recs.items():
        m = n // 2 if method == "sample_split" else n
        parts = rec["delta_n_sq"] + rec["teacher_term"] + rec["gamma_bias"] + rec["gamma_variance"]
        assert rec["bound"] == pytest.approx(1 / m + parts, rel=1e-12, abs=0)


def test_teacher_terms_and_radii_per_method():
    n = 500
    recs = {r["method"]: r for r in one_cell("underfit", {}, n, 0, 3)}
    assert recs["vanilla"]["teacher_term"] == recs["vanilla"]["teacher_train_error"]
    assert recs["crossfit"]["teacher_term"] == recs["crossfit"]["teacher_test_error"]
    assert recs["enhanced"]["teacher_term"] == recs["enhanced"]["teacher_test_error4"]
    assert recs["sample_split"]["teacher_term"] == recs["sample_split"]["teacher_split_error"]
    assert recs["vanilla"]["delta_n_sq"] == pytest.approx(constant_radius(n).delta_sq, rel=1e-12)
    assert recs["crossfit"]["delta_n_sq"] == pytest.approx(constant_radius(n // 5).delta_sq,
                                                           rel=1e-12)
    # The underfit teacher's training-point error is its shrinkage: ||ybar/(1+lam) - p0||^2.
    params, labels = _draw(3, n)
    ybar = np.bincount(labels, minlength=3) / n
    expected = np.sum((ybar / (1 + n ** -0.25) - np.asarray(params["p0"])) ** 2)
    assert recs["vanilla"]["teacher_train_error"] == pytest.approx(expected, rel=1e-12, abs=0)


def test_summary_carries_bound_lists_and_ratio():
    study = run_study("underfit", seed=0, progress=False, sample_sizes=[100, 400],
                      n_replications=3)
    summary = study.summarize()
    for method, m in summary.methods.items():
        b = m.bound
        for key in ("delta_n_sq", "teacher_train_error", "teacher_test_error", "bound", "ratio"):
            assert len(getattr(b, key)) == 2, (method, key)
        np.testing.assert_allclose(b.ratio, np.asarray(m.mean_error) / b.bound)
