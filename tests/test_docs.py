"""docs/theory.md: its section numbering, the citations of it, and its derivations, checked.

Every formula docs/theory.md derives is checked here numerically (or the section names the
existing test that does). Statistical checks use fixed seeds and allow 4 Monte Carlo standard
errors plus any deterministic remainder the derivation leaves (stated at each check).
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

from kdtheory.distill import CrossFitKD, EnhancedKD, VanillaKD
from kdtheory.examples import get_example, overfit_f0
from kdtheory.losses import (
    DEFAULT_CLIP, AnnealedCrossEntropy, SquaredLogitLoss, corrected_loss, gamma_rule,
    sel_pseudo_target,
)
from kdtheory.students import ConstantStudent
from kdtheory.teachers import RidgeTeacher

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
CITATION = re.compile(r"(?:docs/theory\.md|theory)\s*§\s*([0-9]+(?:\.[0-9]+)*)")
HEADING = re.compile(r"^#{2,6}\s+§([0-9]+(?:\.[0-9]+)*)\s", re.MULTILINE)
SCANNED_DIRS = ("kdtheory", "tests", "simulations", "notebooks", "benchmarks", "docs")


# --- Section numbering and citations ----------------------------------------------------------

def _scanned_files():
    files = [ROOT / "README.md"]
    for name in SCANNED_DIRS:
        base = ROOT / name
        if base.is_dir():
            files += [p for p in sorted(base.rglob("*")) if p.suffix in (".py", ".md")
                      and p.is_file()
                      and not any(part.startswith(".") or part == "__pycache__"
                                  for part in p.relative_to(ROOT).parts)]
    return [p for p in files if p.is_file()]


def _headings():
    return HEADING.findall(THEORY.read_text(encoding="utf-8"))


def test_headings_mirror_the_specification_numbering():
    """The top-level sections and the three example subsections, exactly and in order, so that
    citations of the specification can be rewritten mechanically."""
    text = THEORY.read_text(encoding="utf-8")
    required = [
        "## §1 Setting", "## §2 Losses", "## §3 Estimators", "## §4 Students",
        "## §5 The lower-bound examples", "### §5.1 Teacher underfitting (underfit)",
        "### §5.2 Teacher overfitting (overfit)",
        "### §5.3 Teacher overfitting without a boundary (torus)", "## §6 Predicted slopes",
        "## §7 Critical radius", "## §8 Bounds", "## §9 Checking a claim",
        "## §10 Beyond the paper",
    ]
    lines = text.splitlines()
    positions = []
    for heading in required:
        assert heading in lines, f"missing heading {heading!r}"
        positions.append(lines.index(heading))
    assert positions == sorted(positions)
    numbers = _headings()
    assert len(numbers) == len(set(numbers)), "a section number is used twice"
    top = [n for n in numbers if "." not in n]
    assert top == [str(i) for i in range(1, 11)]
    for sub in (n for n in numbers if "." in n):           # subsections under their parent
        assert sub.split(".")[0] in top


def test_every_cited_section_exists():
    sections = set(_headings())
    cited = {}
    for path in _scanned_files():
        for number in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            cited.setdefault(number, []).append(str(path.relative_to(ROOT)))
    assert cited, "no citation of docs/theory.md found: the scan would pass vacuously"
    missing = {n: sorted(set(files)) for n, files in cited.items() if n not in sections}
    assert not missing, f"cited sections without a heading in docs/theory.md: {missing}"


def test_no_citation_of_unshipped_math_spec():
    """Users only get docs/theory.md; the internal specification file is not shipped."""
    name = "MATH" + ".md"  # spelled in two parts so that this file does not cite it
    offenders = sorted(str(p.relative_to(ROOT)) for p in _scanned_files()
                       if name in p.read_text(encoding="utf-8", errors="replace"))
    assert not offenders, f"files citing {name}: {offenders}"


# --- §3.1 loss correction and the SEL pseudo-target -----------------------------------------

def _interior(seed, rows, k):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), size=rows) * 0.9 + 0.1 / k      # every entry > clip
    f = rng.normal(scale=2.0, size=(rows, k))
    y = np.eye(k)[rng.integers(0, k, size=rows)]
    return f, p, y


@pytest.mark.parametrize("alpha", [0.3, np.inf])
@pytest.mark.parametrize("seed, k", [(0, 2), (1, 3), (2, 5)])
def test_sel_corrected_loss_is_a_square_minus_a_constant(seed, k, alpha):
    """theory §3.1: l(f,p) + <gamma p (y-p), grad_p l> = 1/2 ||f - t||^2 - 1/2 ||gamma (y-p)||^2."""
    f, p, y = _interior(seed, 7, k)
    gamma = gamma_rule(p, y, alpha=alpha)
    t = sel_pseudo_target(p, y, alpha=alpha)
    np.testing.assert_allclose(t, np.log(p) + gamma * (y - p), rtol=1e-13)   # the PLUS sign
    lhs = corrected_loss(SquaredLogitLoss(), f, p, y, gamma)
    rhs = 0.5 * np.sum((f - t) ** 2, axis=1) - 0.5 * np.sum((gamma * (y - p)) ** 2, axis=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("seed, k", [(3, 2), (4, 3), (5, 4)])
def test_orthogonal_target_bias_is_u_minus_log1p_u(seed, k):
    """theory §3.1: E_{y~p0} t_j - log p0_j = u_j - log(1 + u_j), u = (p0 - p)/p, exactly."""
    _, p, _ = _interior(seed, 5, k)
    _, p0, _ = _interior(seed + 100, 5, k)
    mean_t = sum(p0[:, [j]] * sel_pseudo_target(p, np.tile(np.eye(k)[j], (5, 1)), alpha=np.inf)
                 for j in range(k))
    u = (p0 - p) / p
    np.testing.assert_allclose(mean_t - np.log(p0), u - np.log1p(u), rtol=1e-9, atol=1e-12)
    assert np.all(u - np.log1p(u) >= 0)


@pytest.mark.parametrize("seed, k", [(6, 2), (7, 3)])
def test_sel_correction_remainder_is_second_order(seed, k):
    """theory §3.1: E_y[corrected](f, p0 + eps w) - l(f, p0) / eps^2
    -> -1/2 sum_j w_j^2 (1 + f_j - log p0_j) / p0_j^2 (the SEL Hessian in p)."""
    f, p0, _ = _interior(seed, 4, k)
    w = np.random.default_rng(seed).normal(size=p0.shape) * 0.05
    loss = SquaredLogitLoss()

    def expected_corrected(p):
        return sum(p0[:, j] * corrected_loss(loss, f, p, np.tile(np.eye(k)[j], (4, 1)), 1 / p)
                   for j in range(k))

    coef = -0.5 * np.sum(w ** 2 * (1 + f - np.log(p0)) / p0 ** 2, axis=1)
    for eps in (1e-2, 1e-3):
        remainder = (expected_corrected(p0 + eps * w) - loss.value(f, p0)) / eps ** 2
        # the next Taylor term is O(eps): allow 50 eps relative
        np.testing.assert_allclose(remainder, coef, rtol=50 * eps, atol=1e-9)


# --- §3.2 the gamma rule: per-coordinate and matrix forms --------------------------------------

def _matrix_gamma(p, y, alpha):
    """Gamma = alpha D (v v^T + alpha I)^-1, D = diag(1/p), v = y - p (one row)."""
    v = y - p
    return alpha * np.diag(1 / p) @ np.linalg.inv(np.outer(v, v) + alpha * np.eye(p.size))


@pytest.mark.parametrize("alpha", [1e-2, 0.5, 30.0])
@pytest.mark.parametrize("seed, k", [(0, 2), (1, 3), (2, 6)])
def test_matrix_gamma_rule_solves_its_least_squares_problem(seed, k, alpha):
    """theory §3.2: the minimiser of ||G v||^2 + alpha ||D - G||_F^2 and its action on v."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k)) * 0.9 + 0.1 / k
    y = np.eye(k)[rng.integers(k)]
    v, D = y - p, np.diag(1 / p)
    G = _matrix_gamma(p, y, alpha)
    # Row r of G minimises (g.v)^2 + alpha ||d_r - g||^2: a stacked least-squares problem.
    A = np.vstack([v[None, :], math.sqrt(alpha) * np.eye(k)])
    for r in range(k):
        b = np.concatenate([[0.0], math.sqrt(alpha) * D[r]])
        g, *_ = np.linalg.lstsq(A, b, rcond=None)
        np.testing.assert_allclose(G[r], g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(G @ v, alpha / (alpha + v @ v) * v / p, rtol=1e-10)


@pytest.mark.parametrize("alpha", [1e-3, 0.2, 5.0])
@pytest.mark.parametrize("p1", [0.05, 0.3, 0.5, 0.9])
def test_matrix_gamma_rule_for_two_classes_is_the_diagonal_rule_at_half_alpha(p1, alpha):
    """theory §3.2: k = 2 (p summing to 1): G v = gamma_rule(alpha / 2) * v; k = 3 differs."""
    p = np.array([1 - p1, p1])
    for label in (0, 1):
        y = np.eye(2)[label]
        diag = gamma_rule(p[None], y[None], alpha=alpha / 2)[0]
        np.testing.assert_allclose(_matrix_gamma(p, y, alpha) @ (y - p), diag * (y - p),
                                   rtol=1e-10)
    p3, y3 = np.array([0.2, 0.3, 0.5]), np.eye(3)[0]
    matrix = _matrix_gamma(p3, y3, alpha) @ (y3 - p3)
    for a in (alpha, alpha / 2):
        assert not np.allclose(matrix, gamma_rule(p3[None], y3[None], alpha=a)[0] * (y3 - p3),
                               rtol=1e-3)


# --- §3.3 the bias of the label-dependent gamma rule, seen by the student --------------------

@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0])
def test_gamma_rule_bias_reaches_the_student(alpha):
    """theory §3.3: with a perfect teacher (p_hat = p0) the constant student's error in class j
    is alpha (1-p)[1/(alpha+(1-p)^2) - 1/(alpha+p^2)] at p = p0_j, within 4 standard errors."""
    p0 = np.array([0.2, 0.3, 0.5])
    n = 40_000
    rng = np.random.default_rng(12)
    labels = rng.choice(3, size=n, p=p0)
    X = rng.uniform(size=(n, 1))
    proba = np.tile(p0, (n, 1))
    est = VanillaKD(RidgeTeacher(), ConstantStudent(), alpha=alpha, n_classes=3).fit(
        X, labels, teacher_proba=proba)
    y = np.eye(3)[labels]
    noise = gamma_rule(proba, y, alpha=alpha) * (y - proba)      # f_hat - log p0 per row
    se = noise.std(axis=0, ddof=1) / math.sqrt(n)
    closed = alpha * (1 - p0) * (1 / (alpha + (1 - p0) ** 2) - 1 / (alpha + p0 ** 2))
    bias = est.students_[0].coef_ - np.log(p0)
    assert np.all(np.abs(bias - closed) <= 4 * se + 1e-12)
    assert closed[2] == 0.0 and np.all(closed[:2] < 0)          # zero at p = 1/2, else < 0


# --- §3.4 the ACE correction as a shifted soft target -------------------------------------

@pytest.mark.parametrize("beta", [0.2, 0.7, 1.0])
@pytest.mark.parametrize("seed, k", [(0, 2), (1, 4)])
def test_ace_correction_is_a_soft_target_shift(seed, k, beta):
    """theory §3.4: corrected ACE = -sum_j (w_j + beta c_j) log q_j, sum_j c_j = 0; at beta = 1
    with the orthogonal gamma and a normalised teacher, w + c = y (hard-label cross-entropy)."""
    f, p, y = _interior(seed, 6, k)
    loss = AnnealedCrossEntropy(beta=beta)
    gamma = 1 / p
    c = loss.correction_weights(p, y, gamma)
    np.testing.assert_allclose(c.sum(axis=1), 0.0, atol=1e-12)
    w = p ** beta / np.sum(p ** beta, axis=1, keepdims=True)
    bf = beta * f
    log_q = bf - special.logsumexp(bf, axis=1, keepdims=True)
    np.testing.assert_allclose(loss.corrected_value(f, p, y, gamma),
                               -np.sum((w + beta * c) * log_q, axis=1), rtol=1e-11)
    np.testing.assert_allclose(loss.corrected_grad_f(f, p, y, gamma),
                               beta * (np.exp(log_q) - w - beta * c), rtol=1e-10, atol=1e-12)
    if beta == 1.0:
        np.testing.assert_allclose(w + c, y, atol=1e-12)


# --- §5.1 the underfit example: closed-form errors --------------------------------------------

P0 = np.array([0.2, 0.3, 0.5])
V = float(np.sum((1 - P0) / P0))            # sum_j (1 - p_j) / p_j = 22/3


def _underfit_expected_error(n, corrected, clip=DEFAULT_CLIP):
    """E||f_hat - f0||^2 of the vanilla (or vanilla + orthogonal correction) constant student,
    exactly: the error is a sum over classes of functions of one Binomial(n, p_j) count."""
    lam = n ** -0.25
    total = 0.0
    for p in P0:
        counts = np.arange(n + 1)
        weights = stats.binom.pmf(counts, n, p)
        p_hat = np.clip(counts / n / (1 + lam), clip, 1.0)
        f_hat = np.log(p_hat) + ((counts / n) / p_hat - 1 if corrected else 0.0)
        total += float(np.sum(weights * (f_hat - np.log(p)) ** 2))
    return total


def test_underfit_vanilla_and_corrected_errors_by_exact_enumeration():
    """theory §5.1: E err = k c^2 + V (1 + c)/n + O(n^-2) with c = log(1+lam) (vanilla) and
    k c'^2 + V (1 - c')/n + O(n^-2) with c' = lam - log(1+lam) (corrected); slopes -1/2, -1."""
    k = P0.size
    sizes = (300, 1000, 3000, 10_000, 30_000, 100_000, 1_000_000)
    vanilla, corrected = [], []
    for n in sizes:
        lam = n ** -0.25
        c, c_prime = math.log1p(lam), lam - math.log1p(lam)
        ev, ec = _underfit_expected_error(n, False), _underfit_expected_error(n, True)
        # the remainder is O(n^-2): about 50 / n^2 at these sizes; allow 100 / n^2
        assert abs(ev - (k * c ** 2 + V * (1 + c) / n)) <= 100 / n ** 2
        assert abs(ec - (k * c_prime ** 2 + V * (1 - c_prime) / n)) <= 100 / n ** 2
        vanilla.append(ev)
        corrected.append(ec)
    # leading orders: vanilla ~ k lam^2, corrected ~ (V + k/4)/n
    assert vanilla[-1] / (k * sizes[-1] ** -0.5) == pytest.approx(1.0, abs=0.04)
    assert corrected[-1] * sizes[-1] == pytest.approx(V + k / 4, rel=0.01)
    # the exact curves' own log-log slopes over the default grid (n = 300..1e5)
    logn = np.log(sizes[:-1])
    assert np.polyfit(logn, np.log(vanilla[:-1]), 1)[0] == pytest.approx(-0.502, abs=0.002)
    assert np.polyfit(logn, np.log(corrected[:-1]), 1)[0] == pytest.approx(-0.996, abs=0.002)


def test_underfit_teacher_term_and_the_bound_ratio():
    """theory §8.2: E||p_hat - p0||_n^2 = (lam/(1+lam))^2 ||p0||^2 + sum p(1-p) / (n (1+lam)^2)
    exactly, and vanilla's mean error / mean teacher term -> k / ||p0||^2."""
    for n in (500, 50_000):
        lam = n ** -0.25
        exact = 0.0
        for p in P0:
            counts = np.arange(n + 1)
            exact += float(stats.binom.pmf(counts, n, p) @ (counts / n / (1 + lam) - p) ** 2)
        closed = (lam / (1 + lam)) ** 2 * np.sum(P0 ** 2) + np.sum(P0 * (1 - P0)) / (
            n * (1 + lam) ** 2)
        assert exact == pytest.approx(closed, rel=1e-10)
    n = 10 ** 12
    lam = n ** -0.25
    term = (lam / (1 + lam)) ** 2 * np.sum(P0 ** 2) + np.sum(P0 * (1 - P0)) / (n * (1 + lam) ** 2)
    error = 3 * math.log1p(lam) ** 2 + V * (1 + math.log1p(lam)) / n
    assert error / term == pytest.approx(3 / np.sum(P0 ** 2), rel=0.01)


def test_underfit_crossfit_and_enhanced_errors_by_simulation():
    """theory §5.1: with B folds and m = n - n/B teacher points, lam = m^-1/4,
    cross-fit: k log(1+lam)^2 + V (1/n + log(1+lam)/m);
    enhanced:  sum_j [(1-p_j)/(n p_j) + (c' + (1/2 + lam)(1-p_j)/(m p_j))^2];
    both up to O(n^-2) (allowed: 100/n^2), checked within 4 SE of 800 package fits."""
    n, B, reps = 2000, 5, 800
    m = n - n // B
    lam = m ** -0.25
    c, c_prime = math.log1p(lam), lam - math.log1p(lam)
    predicted_cf = 3 * c ** 2 + V * (1 / n + c / m)
    predicted_enh = float(np.sum((1 - P0) / (n * P0)
                                 + (c_prime + (0.5 + lam) * (1 - P0) / (m * P0)) ** 2))
    rng = np.random.default_rng(2021)
    err_cf, err_enh = [], []
    for _ in range(reps):
        X = rng.uniform(size=(n, 1))
        labels = rng.choice(3, size=n, p=P0)
        cf = CrossFitKD(RidgeTeacher(n_classes=3), ConstantStudent(), n_folds=B, n_classes=3,
                        random_state=rng).fit(X, labels)
        enh = EnhancedKD(RidgeTeacher(n_classes=3), ConstantStudent(), n_folds=B, n_classes=3,
                         alpha=np.inf)
        enh.fit(X, labels, teacher_proba=cf.teacher_proba_, folds=cf.folds_)
        err_cf.append(np.sum((cf.students_[0].coef_ - np.log(P0)) ** 2))
        err_enh.append(np.sum((enh.students_[0].coef_ - np.log(P0)) ** 2))
    for errors, predicted in ((err_cf, predicted_cf), (err_enh, predicted_enh)):
        errors = np.asarray(errors)
        se = errors.std(ddof=1) / math.sqrt(reps)
        assert abs(errors.mean() - predicted) <= 4 * se + 100 / n ** 2, (errors.mean(), predicted)
    # the shrinkage bias survives cross-fitting: the mean error is far above the 1/n level
    assert np.mean(err_cf) > 10 * V / n


# --- §5.2 the overfit example: what vanilla KD's student sees ----------------------------------

@pytest.mark.parametrize("d", [1, 2])
def test_overfit_vanilla_student_sees_only_log_clip_and_zero(d):
    """theory §5.2: f_hat_j = (1 - ybar_j) log(clip) exactly (and (1 - ybar_j)(log(clip) - 1)
    with the orthogonal correction); E err = sum_j ((1 - pi_j) log clip - f0_j)^2
    + 2 log(clip)^2 pi (1 - pi) / n, checked within 4 SE over 60 replications."""
    ex = get_example("overfit")
    params = ex.resolve({"d": d})
    L = math.log(params["clip"])
    f0 = np.asarray(overfit_f0(d))
    x, w = np.polynomial.legendre.leggauss(400)
    x, w = (x + 1) / 2, w / 2
    # pi = P(Y = 1) = E p0(X): for d >= 2, sin(2 pi x_1) integrates to 0
    pi = float(w @ (0.5 + 0.35 * np.sin(2 * np.pi * x) * np.cos(np.pi * x))) if d == 1 else 0.5
    n, reps = 120, 60
    rng = np.random.default_rng(d)
    errors = []
    for _ in range(reps):
        X, labels = ex.sample(n, params, rng)
        ybar = np.bincount(labels, minlength=2) / n
        vanilla = VanillaKD(ex.make_teacher(params), ConstantStudent(), n_classes=2,
                            clip=params["clip"]).fit(X, labels)
        np.testing.assert_allclose(vanilla.teacher_proba_[0], np.eye(2)[labels], atol=0)
        np.testing.assert_allclose(vanilla.students_[0].coef_, (1 - ybar) * L, rtol=1e-12)
        errors.append(ex.student_error(vanilla, params))
    orth = VanillaKD(ex.make_teacher(params), ConstantStudent(), n_classes=2, alpha=np.inf,
                     clip=params["clip"]).fit(X, labels)
    np.testing.assert_allclose(orth.students_[0].coef_, (1 - ybar) * (L - 1), rtol=1e-12)
    level = float(np.sum((np.array([1 - pi, pi])[::-1] * L - f0) ** 2))
    expected = level + 2 * L ** 2 * pi * (1 - pi) / n
    errors = np.asarray(errors)
    assert abs(errors.mean() - expected) <= 4 * errors.std(ddof=1) / math.sqrt(reps)
    assert level > 14.0                      # Omega(1): ~14.45 (d >= 2), ~15.49 (d = 1)


# --- §5.3 the torus example: closed forms -------------------------------------------------

@pytest.mark.parametrize("A", [0.1, 0.35, 0.49])
def test_torus_f0_closed_form(A):
    """theory §5.3: E log(1/2 + A sin(2 pi U)) = log((1/2 + sqrt(1/4 - A^2)) / 2), U ~ U[0,1)."""
    for sign in (1, -1):
        value, _ = integrate.quad(
            lambda u, s=sign: math.log(0.5 + s * A * math.sin(2 * math.pi * u)),
            0, 1, limit=200, epsabs=1e-13, epsrel=1e-13)
        assert value == pytest.approx(math.log((0.5 + math.sqrt(0.25 - A ** 2)) / 2), abs=1e-10)


def _phi(t, d, a):
    """phi(t) = (d - a) int_0^1 r^(d-1-a) Lambda_d(t r) dr, Lambda_d the sphere's c.f."""
    def sphere_cf(s):
        if d == 1:
            return math.cos(s)
        if s == 0:
            return 1.0
        return special.gamma(d / 2) * (2 / s) ** (d / 2 - 1) * special.jv(d / 2 - 1, s)

    value, _ = integrate.quad(lambda r: (d - a) * r ** (d - 1 - a) * sphere_cf(t * r), 0, 1,
                              limit=200)
    return value


@pytest.mark.parametrize("d, h", [(1, 0.1), (2, 0.3), (5, 0.48)])
def test_torus_smoothing_factor(d, h):
    """theory §5.3: for U with density proportional to ||u||^-a on the unit ball (a = d/4),
    E cos(t U_1) = phi(t), and E[1/2 + A sin(2 pi (x_1 - h U_1))] = 1/2 + A phi(2 pi h)
    sin(2 pi x_1); Monte Carlo (4 SE) against quadrature."""
    a, A, t = d / 4, 0.35, 2 * math.pi * h
    rng = np.random.default_rng(d)
    draws = 400_000
    radius = rng.uniform(size=draws) ** (1 / (d - a))   # density (d-a) r^(d-1-a) on [0, 1]
    direction = rng.standard_normal((draws, d))
    u1 = radius * direction[:, 0] / np.linalg.norm(direction, axis=1)
    phi = _phi(t, d, a)
    values = np.cos(t * u1)
    assert abs(values.mean() - phi) <= 4 * values.std(ddof=1) / math.sqrt(draws)
    x1 = 0.17
    smoothed = 0.5 + A * np.sin(2 * math.pi * (x1 - h * u1))
    predicted = 0.5 + A * phi * math.sin(2 * math.pi * x1)
    assert abs(smoothed.mean() - predicted) <= 4 * smoothed.std(ddof=1) / math.sqrt(draws)
    assert 0 < phi < 1


# --- §10.2 the efficient influence function of E log p0_j(X) ------------------------------

def test_eif_of_mean_log_probability():
    """theory §10.2: along any regular submodel, d psi / d eps = E[phi(Z) s(Z)] with
    phi = log p0(x) - psi + (y - p0(x)) / p0(x) (binary Y, class-1 coordinate; X discrete)."""
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(4))                      # law of X on 4 points
    p = rng.uniform(0.1, 0.9, size=4)                  # P(Y = 1 | X = x)
    a, b = rng.normal(size=4), rng.normal(size=4)      # directions of the submodel

    def psi(eps):
        q_eps = q * (1 + eps * (a - q @ a))
        logit = np.log(p / (1 - p)) + eps * b
        return q_eps @ np.log(1 / (1 + np.exp(-logit)))

    h = 1e-5
    derivative = (psi(h) - psi(-h)) / (2 * h)
    value = psi(0.0)
    expectation = 0.0                                  # E[phi s] over (x, y)
    for y in (0.0, 1.0):
        prob = q * (p if y else 1 - p)
        phi = np.log(p) - value + (y - p) / p
        score = (a - q @ a) + b * (y - p)
        expectation += prob @ (phi * score)
    assert derivative == pytest.approx(expectation, rel=1e-7, abs=1e-10)
