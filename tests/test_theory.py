"""Theory curves (docs/theory.md §5.4, §5.5): closed forms against quadrature, curves against
simulation (fixed seeds, tolerances from the Monte Carlo error), and the checks can fail."""

import math

import numpy as np
import pytest
from scipy import integrate

from kdtheory.montecarlo import run_study
from kdtheory.theory import (
    _circle_means, interpolation_level, kernel_variance_constant, radial_cf, theory_curves,
    torus_errors, torus_log_moments, torus_terms, underfit_errors,
)

P0 = np.array([0.2, 0.3, 0.5])
V = float(np.sum((1 - P0) / P0))


def test_underfit_exact_sums_match_their_expansions():
    """theory §5.1: the exact vanilla sum is k c^2 + V(1 + c)/n + O(n^-2); sample splitting is
    the same sum at the teacher's half."""
    sizes = [300, 3000, 30000]
    out = underfit_errors(sizes)
    for j, n in enumerate(sizes):
        c = math.log1p(n ** -0.25)
        assert abs(out["vanilla"][j] - (3 * c**2 + V * (1 + c) / n)) <= 100 / n**2
        half = n - n // 2
        c_half = math.log1p(half ** -0.25)
        assert abs(out["sample_split"][j] - (3 * c_half**2 + V * (1 + c_half) / half)) \
            <= 100 / half**2


@pytest.fixture(scope="module")
def underfit_study():
    return run_study("underfit", seed=11, sample_sizes=[400, 1600], n_replications=150,
                     n_jobs=2, progress=False)


def test_underfit_curves_match_the_engine(underfit_study):
    """Every method's mean error and both teacher errors within 4 SE + 100/n^2 of the curve
    (150 replications per n; 100/n^2 allows for the O(n^-2) remainders of the leading-order
    curves, measured at about 10/n^2 for targeted)."""
    sizes = underfit_study.sample_sizes
    curves = theory_curves("underfit", underfit_study.params, sizes)
    methods = ("vanilla", "sample_split", "crossfit", "enhanced", "targeted")
    for name in (*methods, "teacher_train_error", "teacher_test_error"):
        method = name if name in methods else "crossfit"
        field = "error" if method == name else name
        for j, n in enumerate(sizes):
            values = np.array([r[field] for r in underfit_study.records_for(method)
                               if r["n"] == n])
            se = values.std(ddof=1) / math.sqrt(values.size)
            assert abs(values.mean() - curves[name][j]) <= 4 * se + 100 / n**2, (name, n)


def test_a_wrong_curve_is_rejected(underfit_study):
    """The ratio verdict can fail: vanilla's curve without its shrinkage (V/n only) is far
    off, and so is the cross-fit curve with vanilla's lambda_n replaced by 2 lambda_n."""
    from kdtheory.ratefit import ratio_interval, ratio_verdict

    summary = underfit_study.summarize(n_bootstrap=20)
    assert summary.methods["vanilla"].theory["verdict"] == "consistent"
    m = summary.methods["vanilla"]
    for wrong in ([V / n for n in m.sample_sizes],
                  [3 * math.log1p(2 * n ** -0.25) ** 2 for n in m.sample_sizes]):
        cis = [ratio_interval(e, s, w)[1] for e, s, w in zip(m.mean_error, m.se_error, wrong)]
        assert ratio_verdict(cis) == "inconsistent"


@pytest.mark.parametrize("b0", [0.1, 0.3, 0.49])
def test_circle_means_against_quadrature(b0):
    s, inv1, inv2 = _circle_means(b0)
    for power, closed in ((1, inv1), (2, inv2)):
        value, _ = integrate.quad(lambda u, k=power: (0.5 + b0 * math.sin(2 * math.pi * u)) ** -k,
                                  0, 1, limit=400, epsabs=1e-12)
        assert value == pytest.approx(closed, rel=1e-9)


def test_torus_terms_against_direct_quadrature():
    """theory §5.5: b1, b2, q2 and the teacher L2 error from their closed forms equal the
    quadrature over x_1 of the same leading-order integrands (bias and variance at a point)."""
    d, a, c_h, A, m = 2, 0.5, 0.5, 0.35, 4000.0
    t = torus_terms(m, d=d, a=a, c_h=c_h, amplitude=A)
    phi, phi2, v = t["phi"], t["phi2"], t["v"]
    f0 = torus_log_moments(A)[0]

    def mean_over_x(fn):
        return integrate.quad(lambda u: fn(math.sin(2 * math.pi * u)), 0, 1, limit=400,
                              epsabs=1e-13)[0]

    mu = lambda s: 0.5 + A * phi * s                            # noqa: E731
    var = lambda s: v * (0.25 - A**2 * phi * (2 * phi2 - phi) * s**2)   # noqa: E731
    p0 = lambda s: 0.5 + A * s                                  # noqa: E731
    assert t["b1"] == pytest.approx(mean_over_x(lambda s: math.log(mu(s))) - f0, rel=1e-8)
    assert t["b2"] == pytest.approx(mean_over_x(lambda s: -var(s) / (2 * mu(s) ** 2)), rel=1e-8)
    assert t["q2"] == pytest.approx(
        mean_over_x(lambda s: ((mu(s) - p0(s)) ** 2 + var(s)) / (2 * p0(s) ** 2)), rel=1e-8)
    assert t["teacher_l2"] == pytest.approx(
        2 * mean_over_x(lambda s: (mu(s) - p0(s)) ** 2 + var(s)), rel=1e-8)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_kernel_variance_constant_and_squared_kernel_cf(d):
    """kappa = c2 / c1^2 against quadrature of the radial integrals; phi of the squared kernel
    (exponent 2a) against Monte Carlo draws of its law (4 SE)."""
    a = d / 4
    surface = 2 * math.pi ** (d / 2) / math.gamma(d / 2)
    c1 = surface * integrate.quad(lambda r: r ** (d - 1 - a), 0, 1)[0]
    c2 = surface * integrate.quad(lambda r: r ** (d - 1 - 2 * a), 0, 1)[0]
    assert kernel_variance_constant(d, a) == pytest.approx(c2 / c1**2, rel=1e-10)
    rng = np.random.default_rng(d)
    draws = 200_000
    radius = rng.uniform(size=draws) ** (1 / (d - 2 * a))
    direction = rng.standard_normal((draws, d))
    u1 = radius * direction[:, 0] / np.linalg.norm(direction, axis=1)
    values = np.cos(2.0 * u1)
    assert abs(values.mean() - radial_cf(2.0, d, 2 * a)) <= 4 * values.std() / math.sqrt(draws)


@pytest.fixture(scope="module")
def torus_study():
    return run_study("torus", {"d": 2}, seed=3, sample_sizes=[1000, 4000], n_replications=40,
                     n_jobs=2, progress=False)


@pytest.mark.statistical
def test_torus_teacher_and_crossfit_curves_match_the_engine(torus_study):
    """theory §5.5 at d = 2 (leading order; 40 replications): the held-out teacher L2 error
    within 10% + 4 SE, the cross-fit student error within 25% + 4 SE; vanilla exactly (4 SE)."""
    sizes = torus_study.sample_sizes
    curves = theory_curves("torus", torus_study.params, sizes)
    for name, field, method, rel in (("teacher_test_error", "teacher_test_error", "crossfit",
                                      0.10),
                                     ("crossfit", "error", "crossfit", 0.25),
                                     ("vanilla", "error", "vanilla", 0.0)):
        for j, n in enumerate(sizes):
            values = np.array([r[field] for r in torus_study.records_for(method) if r["n"] == n])
            se = values.std(ddof=1) / math.sqrt(values.size)
            assert abs(values.mean() - curves[name][j]) <= rel * curves[name][j] + 4 * se, \
                (name, n, values.mean(), curves[name][j])


@pytest.mark.statistical
def test_torus_summary_verdicts_and_a_wrong_bandwidth_fails(torus_study):
    """The study's theory verdicts for the teacher and cross-fit are consistent; the curve of
    a teacher with half the bandwidth (c_h = 0.25) is rejected by the same data."""
    from kdtheory.ratefit import ratio_interval, ratio_verdict

    summary = torus_study.summarize(n_bootstrap=20)
    assert summary.teacher["teacher_test_error"]["theory"]["verdict"] == "consistent"
    assert summary.methods["crossfit"].theory["verdict"] == "consistent"
    wrong = torus_errors(torus_study.sample_sizes, d=2, c_h=0.25)["teacher_test_error"]
    t = summary.teacher["teacher_test_error"]
    cis = [ratio_interval(e, s, w)[1] for e, s, w in zip(t["mean"], t["se"], wrong)]
    assert ratio_verdict(cis) == "inconsistent"


def test_interpolation_level_is_about_14_6_at_the_overfit_defaults():
    """theory §5.2: vanilla's Omega(1) level, sum_j((1 - pi_j) log clip - f0_j)^2 + 2 log^2(clip)
    pi (1 - pi) / n: 14.45 + 23.9 / n at d = 2 (14.50 at n = 500)."""
    curves = theory_curves("overfit", {"d": 2, "p0": "sin", "clip": 1e-3, "n_folds": 5,
                                       "enhanced_alpha": math.inf}, [500, 10**6])
    assert curves["vanilla"][1] == pytest.approx(14.45, abs=0.01)
    assert curves["vanilla"][0] - curves["vanilla"][1] == pytest.approx(
        2 * math.log(1e-3) ** 2 * 0.25 / 500, rel=1e-3)


@pytest.mark.parametrize("call, match", [
    (lambda: underfit_errors([100], p0=(0.5, 0.6)), "p0"),
    (lambda: underfit_errors([3], n_folds=5), "n_folds"),
    (lambda: underfit_errors([100.5]), "sample_sizes"),
    (lambda: torus_errors([100], d=2, amplitude=0.6), "amplitude"),
    (lambda: torus_errors([100], d=2, a=1.0), "a must"),
    (lambda: interpolation_level([100], pi1=1.2, f0=(0, 0)), "pi1"),
    (lambda: radial_cf(1.0, 2, 2.0), "exponent"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_no_curve_for_other_alphas_or_examples():
    params = {"p0": (0.2, 0.3, 0.5), "n_folds": 5, "clip": 1e-3, "enhanced_alpha": 0.5}
    assert "enhanced" not in theory_curves("underfit", params, [100])
    assert theory_curves("nope", params, [100]) == {}


def test_targeted_curve_by_the_paired_difference(underfit_study):
    """theory §5.4: targeted's curve V/n, checked where it is sharp, on the difference from
    enhanced KD on the same data: mean(err_enh - err_tgt) within 4 paired SE of
    curve_enh - V/n. The check can fail: taking enhanced's curve for targeted (difference 0) is
    rejected at n = 400 and 1600."""
    sizes = underfit_study.sample_sizes
    curves = theory_curves("underfit", underfit_study.params, sizes)
    err = {m: {(r["n"], r["replication"]): r["error"] for r in underfit_study.records_for(m)}
           for m in ("enhanced", "targeted")}
    for j, n in enumerate(sizes):
        diff = np.array([err["enhanced"][key] - err["targeted"][key]
                         for key in err["enhanced"] if key[0] == n])
        se = diff.std(ddof=1) / math.sqrt(diff.size)
        predicted = curves["enhanced"][j] - curves["targeted"][j]
        assert abs(diff.mean() - predicted) <= 4 * se, (n, diff.mean(), predicted, se)
        assert abs(diff.mean()) > 4 * se  # enhanced's curve would be rejected for targeted


def _ace_closed_form_errors(fold_counts, half_counts, beta, clip=1e-3):
    """The four underfit_ace students' centred errors from label counts alone (theory §5.6),
    independently of the distillers: fold_counts (R, B, k) per cross-fit fold, half_counts
    (R, 2, k) per half (half 0: the sample-split teacher's). Ridge teacher q = ybar/(1+m^-1/4)
    fit on m points, tempered teacher w(q) = q^beta / sum q^beta, student logits log(mean
    target) / beta."""
    def tempered(q):
        w = np.clip(q, clip, 1.0) ** beta
        return w / w.sum(axis=-1, keepdims=True)

    def ridge(counts, m):
        return counts / m / (1 + m ** -0.25)

    def centred_error(targets):
        d = np.log(targets) / beta - np.log(P0)
        return np.sum((d - d.mean(axis=-1, keepdims=True)) ** 2, axis=-1)

    sizes = fold_counts.sum(axis=2)                      # (R, B) fold sizes
    n = sizes.sum(axis=1, keepdims=True)                 # (R, 1)
    total = fold_counts.sum(axis=1)                      # (R, k)
    weight = (sizes / n)[..., None]                      # (R, B, 1)
    m = (n - sizes)[..., None]
    q = ridge(total[:, None, :] - fold_counts, m)        # fold t's teacher, fit without fold t
    w = tempered(q)
    ratio = fold_counts / sizes[..., None] / np.clip(q, clip, 1.0)   # mean of y/q over the fold
    c = w * (ratio - np.sum(w * ratio, axis=-1, keepdims=True))     # mean ACE correction
    half = half_counts.sum(axis=2, keepdims=True)[:, :1]             # the teacher half's size
    return {"vanilla": centred_error(tempered(ridge(total, n))),
            "sample_split": centred_error(tempered(ridge(half_counts[:, 0], half[:, 0]))),
            "crossfit": centred_error(np.sum(weight * w, axis=1)),
            "enhanced": centred_error(np.sum(weight * (w + beta * c), axis=1))}


def test_underfit_ace_closed_forms_are_the_engine():
    """The counts-only formulas above give the engine's recorded errors (same cells: data,
    folds and halves re-drawn from the cell's seed), to rounding."""
    from kdtheory.crossfit import make_folds
    from kdtheory.montecarlo import cell_seed, run_cell
    from kdtheory.spec import StudySpec

    spec = StudySpec.create("underfit_ace", {"beta": 0.5}, sample_sizes=[203, 400],
                            n_replications=3, seed=4)
    for n in spec.sample_sizes:
        for r in range(3):
            data_ss, fold_ss, _ = cell_seed(4, spec.example.example_id, n, r).spawn(3)
            _, labels = spec.example.sample(n, spec.params, np.random.default_rng(data_ss))
            rng = np.random.default_rng(fold_ss)
            folds = make_folds(n, 5, random_state=rng)[0]
            halves = make_folds(n, 2, random_state=rng)[0]
            fold_counts, half_counts = (
                np.array([[np.bincount(labels[ids == t], minlength=3) for t in range(parts)]])
                for ids, parts in ((folds, 5), (halves, 2)))
            expected = _ace_closed_form_errors(fold_counts, half_counts, 0.5)
            for record in run_cell(spec, n, r):
                assert record["error"] == pytest.approx(expected[record["method"]][0],
                                                        rel=1e-9), (n, r, record["method"])


@pytest.mark.parametrize("beta", [0.5, 0.2])
def test_underfit_ace_curves_by_exact_simulation(beta):
    """theory §5.6 at n = 3000 from 20000 draws of the label counts: every method's mean within
    4 SE of W/n (W/ceil(n/2) for sample splitting); the O(n^-2) remainder, about 34/n^2, is
    0.15% of W/n, below one SE (0.7%). The check can fail: 1.05 times the curve is rejected."""
    rng = np.random.default_rng(int(beta * 10))
    n, R = 3000, 20000
    fold_counts = np.stack([rng.multinomial(n // 5, P0, size=R) for _ in range(5)], axis=1)
    half_counts = np.stack([rng.multinomial(n // 2, P0, size=R) for _ in range(2)], axis=1)
    errors = _ace_closed_form_errors(fold_counts, half_counts, beta)
    curves = theory_curves("underfit_ace", {"p0": tuple(P0), "n_folds": 5, "clip": 1e-3,
                                            "beta": beta}, [n])
    for method, values in errors.items():
        se = values.std(ddof=1) / math.sqrt(R)
        assert abs(values.mean() - curves[method][0]) <= 4 * se, method
        assert abs(values.mean() - 1.05 * curves[method][0]) > 4 * se, method


@pytest.fixture(scope="module")
def underfit_ace_study():
    return run_study("underfit_ace", {"beta": 0.5}, seed=11, sample_sizes=[400, 1600],
                     n_replications=150, n_jobs=2, progress=False)


def test_underfit_ace_curves_match_the_engine(underfit_ace_study):
    """theory §5.6: every method's centred error within 4 SE + 100/n^2 of W/n (sample
    splitting W/ceil(n/2)), beta = 0.5, 150 replications; the teacher errors are §5.4's. (A
    coarse check of the engine end to end; the sharp ones are the two tests above. 100/n^2
    allows for the O(n^-2) remainders, measured at about 10/n^2 and 34/n^2.)"""
    study = underfit_ace_study
    curves = theory_curves("underfit_ace", study.params, study.sample_sizes)
    W = (1 - 1 / 3) * float(np.sum(1 / P0))
    assert curves["crossfit"] == [W / n for n in study.sample_sizes]
    methods = ("vanilla", "sample_split", "crossfit", "enhanced")
    assert {r["method"] for r in study.records} == set(methods)
    for name in (*methods, "teacher_train_error", "teacher_test_error"):
        method = name if name in methods else "crossfit"
        field = "error" if method == name else name
        for j, n in enumerate(study.sample_sizes):
            values = np.array([r[field] for r in study.records_for(method) if r["n"] == n])
            se = values.std(ddof=1) / math.sqrt(values.size)
            assert abs(values.mean() - curves[name][j]) <= 4 * se + 100 / n**2, (name, n)


def test_underfit_ace_rejects_the_sel_shrinkage_rate(underfit_ace_study):
    """The ACE student does not see the ridge shrinkage: its registered Theta(1/n) is
    consistent, SEL's Theta(n^-1/2) claim is inconsistent, and so is SEL's vanilla curve as a
    prediction of its mean; the bounds (derived for SEL) are NaN, not numbers."""
    from kdtheory.examples import Prediction
    from kdtheory.ratefit import ratio_interval, ratio_verdict

    study = underfit_ace_study
    summary = study.summarize(n_bootstrap=20)
    assert {m.verdict for m in summary.methods.values()} == {"consistent"}
    sel = {"vanilla": Prediction(-0.5, "tight")}
    assert study.summarize(predictions=sel, n_bootstrap=20).methods["vanilla"].verdict \
        == "inconsistent"
    m = summary.methods["vanilla"]
    sel_curve = underfit_errors(m.sample_sizes)["vanilla"]
    cis = [ratio_interval(e, s, w)[1] for e, s, w in zip(m.mean_error, m.se_error, sel_curve)]
    assert ratio_verdict(cis) == "inconsistent"
    assert all(math.isnan(r["bound"]) for r in study.records)
