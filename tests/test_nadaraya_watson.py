"""NadarayaWatsonTeacher against a brute-force NumPy reference, statsmodels, and its own spec."""

import pathlib
import sys
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.base import clone

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _reference  # noqa: E402
from _reference import nw_predict_proba  # noqa: E402

from kdtheory.teachers import NadarayaWatsonTeacher  # noqa: E402
from kdtheory.teachers import _nw_kernels as nwk  # noqa: E402
from kdtheory.teachers import nadaraya_watson as nw  # noqa: E402

# _TREE_MIN_D values forcing each index: the k-d tree for every d, the default, columns for every d
INDEX_CHOICES = [1, nw._TREE_MIN_D, 99]
# k-d tree leaf sizes for the hypothesis problems (n <= 60: the default alone gives one leaf)
LEAF_CHOICES = [2, 5, nw._LEAF_SIZE]


@st.composite
def problems(draw):
    """A training set with duplicated rows, and queries that mix fresh points (some outside the
    training box, some far away) with exact copies of training points."""
    n, m = draw(st.integers(1, 60)), draw(st.integers(1, 40))
    d, k = draw(st.integers(1, 6)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.uniform(size=(n, d))
    X[rng.integers(0, n, n // 4)] = X[rng.integers(0, n, n // 4)]  # duplicates
    labels = rng.integers(0, k, n)
    Xq = rng.uniform(-0.3, 1.3, size=(m, d))
    copies = rng.random(m) < 0.3
    Xq[copies] = X[rng.integers(0, n, copies.sum())]
    Xq[rng.random(m) < 0.1] += 5.0
    a_frac = draw(st.sampled_from([None, 0.5, 0.25, 0.37, 0.9]))  # 0.5 -> a = d/4
    params = dict(
        kernel=draw(st.sampled_from(["singular", "gaussian", "epanechnikov"])),
        bandwidth=draw(st.sampled_from([None, 0.05, 0.2, 0.5, 1.5])),
        a=None if a_frac is None else a_frac * d / 2,
        fallback=draw(st.sampled_from(["prior", "nearest", "grow"])),
        min_neighbors=draw(st.integers(1, 8)),
        n_classes=k,
    )
    return (X, labels, Xq, params, draw(st.sampled_from(INDEX_CHOICES)),
            draw(st.sampled_from(LEAF_CHOICES)))


def _check_against_brute_force(problem):
    """The teacher (with the drawn index) equals the NumPy brute force to 1e-12."""
    X, labels, Xq, params, tree_min_d, leaf_size = problem
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d), \
            mock.patch.object(nw, "_LEAF_SIZE", leaf_size):
        teacher = NadarayaWatsonTeacher(**params).fit(X, labels)
        proba = teacher.predict_proba(Xq)
    expected, n_fallback = nw_predict_proba(
        X, labels, Xq, teacher.bandwidth_, teacher.a_, params["kernel"], params["fallback"],
        params["min_neighbors"], params["n_classes"], boxsize=params.get("boxsize"))
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)
    assert teacher.n_fallback_ == n_fallback
    return teacher


@given(problems())
def test_matches_brute_force_reference(problem):
    _check_against_brute_force(problem)


@pytest.mark.parametrize("d, tree_min_d", [(1, 5), (2, 5), (3, 5), (5, 5), (6, 5), (2, 1),
                                           (5, 99)])
def test_matches_reference_at_default_bandwidth(d, tree_min_d):
    """Larger n: many cells or leaves, long slices (several vectorised blocks), the default h
    and a; both indexes (the default one for d, and the other one)."""
    rng = np.random.default_rng(d)
    X, labels = rng.uniform(size=(3000, d)), rng.integers(0, 2, 3000)
    Xq = np.vstack([rng.uniform(size=(400, d)), X[:100]])
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d):
        teacher = NadarayaWatsonTeacher().fit(X, labels)
    assert teacher.index_.kind == (nwk.TREE if d >= tree_min_d else nwk.COLUMNS)
    assert teacher.bandwidth_ == 3000 ** (-1 / (4 + d)) and teacher.a_ == d / 4
    expected, n_fallback = nw_predict_proba(X, labels, Xq, teacher.bandwidth_, d / 4,
                                            "singular")
    np.testing.assert_allclose(teacher.predict_proba(Xq), expected, rtol=0, atol=1e-12)
    assert (teacher.n_fallback_, teacher.n_exact_) == (n_fallback, 100)


def test_interpolates_training_points():
    rng = np.random.default_rng(0)
    X, labels = rng.uniform(size=(500, 3)), rng.integers(0, 3, 500)
    teacher = NadarayaWatsonTeacher().fit(X, labels)
    assert np.array_equal(teacher.predict_proba(X), np.eye(3)[labels])
    assert teacher.n_exact_ == 500
    assert np.array_equal(teacher.predict(X), labels)


def test_index_choice_per_dimension():
    """Columns for d <= 4 (and the Gaussian kernel, which visits every pair), k-d tree above."""
    rng = np.random.default_rng(0)
    for d in range(1, 8):
        X, labels = rng.uniform(size=(200, d)), rng.integers(0, 2, 200)
        for kernel in ("singular", "epanechnikov", "gaussian"):
            teacher = NadarayaWatsonTeacher(kernel=kernel).fit(X, labels)
            tree = d >= 5 and kernel != "gaussian"
            assert teacher.index_.kind == (nwk.TREE if tree else nwk.COLUMNS), (d, kernel)
    ix = NadarayaWatsonTeacher().fit(X, labels).index_  # d = 7: the leaves partition the points
    sizes = (ix.node_end - ix.node_start)[ix.node_left < 0]
    assert sizes.sum() == 200 and sizes.max() <= nw._LEAF_SIZE


@pytest.mark.parametrize("tree_min_d", INDEX_CHOICES)
def test_many_coinciding_points_and_ties_on_split_values(tree_min_d):
    """A heavy duplicate (one leaf larger than leaf_size), and coordinates on a coarse lattice so
    that many points share the split value of their node; queries on and off the lattice."""
    rng = np.random.default_rng(3)
    d = 5
    X = np.vstack([np.full((60, d), 0.5), rng.integers(0, 4, size=(300, d)) / 4])
    labels = rng.integers(0, 3, X.shape[0])
    Xq = np.vstack([X[::7], rng.uniform(size=(100, d)), rng.integers(0, 4, size=(50, d)) / 4])
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d):
        teacher = NadarayaWatsonTeacher(bandwidth=0.4, n_classes=3).fit(X, labels)
        proba = teacher.predict_proba(Xq)
    expected, n_fallback = nw_predict_proba(X, labels, Xq, 0.4, d / 4, "singular", n_classes=3)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)
    assert teacher.n_fallback_ == n_fallback


@pytest.mark.parametrize("tree_min_d", INDEX_CHOICES)
@pytest.mark.parametrize("d", [1, 2, 5, 6])
def test_near_coincident_queries_never_give_nan(d, tree_min_d):
    """A query within 1e-170 of a training point (squared distance rounds to 0, the weight is
    infinite) or within 1e-120 with a = 0.95 d/2 (the weight overflows) is not an exact match
    but must not give NaN: rounded distance 0 counts as coinciding, otherwise the weights are
    rescaled (the far points' share is below 1e-100)."""
    rng = np.random.default_rng(d)
    X = np.vstack([np.zeros((2, d)), rng.uniform(0.1, 1.0, size=(40, d))])
    X[1, 0] = 2e-170  # at rounded squared distance 0 from q1 and from X[0]
    labels = np.r_[0, 1, rng.integers(0, 2, 40)]
    q1, q2 = np.zeros(d), np.zeros(d)
    q1[0], q2[-1] = 1e-170, 1e-120
    alone = np.r_[0, 2:42]  # without X[1]
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d):
        teacher = NadarayaWatsonTeacher(bandwidth=0.5).fit(X[alone], labels[alone])
        np.testing.assert_array_equal(teacher.predict_proba([q1]), [[1.0, 0.0]])
        assert teacher.n_exact_ == 0 and teacher.n_fallback_ == 0
        teacher = NadarayaWatsonTeacher(bandwidth=0.5).fit(X, labels)
        proba = teacher.predict_proba([q1, q2])
        assert teacher.n_exact_ == 0 and teacher.n_fallback_ == 0
        np.testing.assert_array_equal(proba[0], [0.5, 0.5])
        np.testing.assert_allclose(proba[1], [0.5, 0.5], rtol=0, atol=1e-15)
        teacher = NadarayaWatsonTeacher(bandwidth=0.5, a=0.95 * d / 2).fit(X[alone],
                                                                           labels[alone])
        np.testing.assert_allclose(teacher.predict_proba([q2]), [[1.0, 0.0]], rtol=0,
                                   atol=1e-15)


def test_duplicated_training_points_average_their_labels():
    X = np.array([[0.2, 0.2], [0.2, 0.2], [0.2, 0.2], [0.6, 0.6]])
    teacher = NadarayaWatsonTeacher(bandwidth=1.0).fit(X, [0, 1, 1, 0])
    np.testing.assert_array_equal(teacher.predict_proba([[0.2, 0.2]]), [[1 / 3, 2 / 3]])


def test_fallback_rules_and_counts():
    X = np.array([[0.0], [0.125], [0.25], [1.0]])  # dyadic: distances below are exact
    labels = np.array([0, 0, 1, 1])
    Xq = np.array([[0.0625], [1.875], [-0.75], [0.625]])  # only the first has a point within h
    expected = {
        "prior": [0.5, 0.5],
        "nearest": [0.0, 1.0],  # x = 1.0 is nearest to 1.875
        "grow": [0.0, 1.0],  # balls of radius 0.25, 0.5, 1 hold 0, 0, 1 points
    }
    for fallback, p_far in expected.items():
        teacher = NadarayaWatsonTeacher(bandwidth=0.125, fallback=fallback, min_neighbors=1)
        proba = teacher.fit(X, labels).predict_proba(Xq)
        assert teacher.n_fallback_ == 3 and teacher.n_exact_ == 0
        np.testing.assert_allclose(proba[1], p_far, atol=1e-15)
    # grow, 3 neighbours of 0.625: radius 0.25 holds none, 0.5 holds 0.125, 0.25 and 1.0,
    # at distances 0.5, 0.375, 0.375: weights 1, w, w with w = 0.75^(-1/4)
    teacher = NadarayaWatsonTeacher(bandwidth=0.125, fallback="grow", min_neighbors=3,
                                    a=0.25).fit(X, labels)
    w = 0.75 ** -0.25
    np.testing.assert_allclose(teacher.predict_proba(Xq)[3], [1 / (1 + 2 * w), 2 * w / (1 + 2 * w)],
                               atol=1e-14)
    # nearest: a tie between two training points averages their labels
    teacher = NadarayaWatsonTeacher(bandwidth=0.01, fallback="nearest").fit(X, labels)
    np.testing.assert_array_equal(teacher.predict_proba([[0.1875]]), [[0.5, 0.5]])
    assert teacher.n_fallback_ == 1


@pytest.mark.filterwarnings("ignore::FutureWarning")  # raised inside statsmodels
@pytest.mark.parametrize("d", [1, 2])
def test_gaussian_kernel_matches_statsmodels(d):
    from statsmodels.nonparametric.kernel_regression import KernelReg

    rng = np.random.default_rng(1)
    X, labels = rng.uniform(size=(300, d)), rng.integers(0, 2, 300)
    Xq = rng.uniform(size=(50, d))
    h = 0.15
    teacher = NadarayaWatsonTeacher(bandwidth=h, kernel="gaussian").fit(X, labels)
    reg = KernelReg(labels.astype(float), X, var_type="c" * d, reg_type="lc", bw=[h] * d)
    np.testing.assert_allclose(teacher.predict_proba(Xq)[:, 1], reg.fit(Xq)[0],
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("params, name", [
    (dict(a=0.0), "a"), (dict(a=1.0), "a"), (dict(a=-0.1), "a"), (dict(a="x"), "a"),
    (dict(a=True), "a"), (dict(bandwidth=0.0), "bandwidth"), (dict(bandwidth=np.nan), "bandwidth"),
    (dict(bandwidth=np.inf), "bandwidth"), (dict(c_h=-1.0), "c_h"), (dict(kernel="box"), "kernel"),
    (dict(fallback="zero"), "fallback"), (dict(min_neighbors=0), "min_neighbors"),
    (dict(min_neighbors=2.0), "min_neighbors"), (dict(n_classes=1), "n_classes"),
])
def test_bad_parameters_raise_naming_them(params, name):
    X = np.random.default_rng(0).uniform(size=(10, 2))  # d = 2: a must lie in (0, 1)
    with pytest.raises(ValueError, match=name):
        NadarayaWatsonTeacher(**params).fit(X, np.arange(10) % 2)


def test_bad_data_raise_naming_them():
    X, labels = np.random.default_rng(0).uniform(size=(10, 2)), np.arange(10) % 2
    teacher = NadarayaWatsonTeacher()
    with pytest.raises(ValueError, match="not fitted"):
        teacher.predict_proba(X)
    bad_X = X.copy()
    bad_X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X"):
        teacher.fit(bad_X, labels)
    with pytest.raises(ValueError, match="labels"):
        teacher.fit(X, labels - 1)
    with pytest.raises(ValueError, match="labels"):
        teacher.fit(X, labels[:5])
    teacher.fit(X, labels)
    with pytest.raises(ValueError, match="features"):
        teacher.predict_proba(X[:, :1])
    with pytest.raises(ValueError, match="X"):
        teacher.predict_proba(bad_X)


def test_sklearn_clone_keeps_parameters_untouched():
    teacher = NadarayaWatsonTeacher(bandwidth=0.3, a=0.4, kernel="epanechnikov", c_h=2.0,
                                    fallback="grow", min_neighbors=7, n_classes=3)
    copy = clone(teacher)
    assert copy.get_params() == teacher.get_params()
    rng = np.random.default_rng(0)
    copy.fit(rng.uniform(size=(50, 2)), rng.integers(0, 3, 50))
    assert copy.get_params() == teacher.get_params() and copy.bandwidth_ == 0.3
    assert not hasattr(clone(copy), "index_")


@settings(max_examples=10)
@given(st.integers(1, 6), st.integers(2, 400))
def test_default_bandwidth_and_exponent(d, n):
    rng = np.random.default_rng(n)
    teacher = NadarayaWatsonTeacher(c_h=1.5).fit(rng.uniform(size=(n, d)), rng.integers(0, 2, n))
    assert teacher.bandwidth_ == pytest.approx(1.5 * n ** (-1 / (4 + d)), rel=1e-15)
    assert teacher.a_ == d / 4


# --- the flat torus (boxsize, theory §5.3) ---------------------------------------------------

@st.composite
def torus_problems(draw):
    """Points on [0, L)^d with many within 1e-9 of the faces and corners (where the minimum
    image decides), duplicates, exact copies of training points among the queries."""
    n, m = draw(st.integers(1, 60)), draw(st.integers(1, 40))
    d, k = draw(st.integers(1, 6)), draw(st.integers(2, 4))
    box = draw(st.sampled_from([1.0, 0.37, 3.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def points(size):
        x = rng.uniform(size=(size, d))
        near = rng.random((size, d)) < 0.3  # a face: within 1e-9 of 0 or of L
        x[near] = np.where(rng.random(near.sum()) < 0.5, rng.uniform(0, 1e-9, near.sum()),
                           1 - rng.uniform(0, 1e-9, near.sum()))
        x[rng.random(size) < 0.1] = rng.integers(0, 2, (1, d)) * (1 - 1e-12)  # corners
        return np.minimum(x * box, np.nextafter(box, 0))

    X = points(n)
    X[rng.integers(0, n, n // 4)] = X[rng.integers(0, n, n // 4)]  # duplicates
    labels = rng.integers(0, k, n)
    Xq = points(m)
    copies = rng.random(m) < 0.3
    Xq[copies] = X[rng.integers(0, n, copies.sum())]
    a_frac = draw(st.sampled_from([None, 0.5, 0.37, 0.9]))
    params = dict(
        kernel=draw(st.sampled_from(["singular", "gaussian", "epanechnikov"])),
        bandwidth=box * draw(st.sampled_from([0.02, 0.1, 0.3, 0.49])),
        a=None if a_frac is None else a_frac * d / 2,
        fallback=draw(st.sampled_from(["prior", "nearest", "grow"])),
        min_neighbors=draw(st.integers(1, 8)),
        n_classes=k,
        boxsize=box,
    )
    return (X, labels, Xq, params, draw(st.sampled_from(INDEX_CHOICES)),
            draw(st.sampled_from(LEAF_CHOICES)))


@settings(deadline=None, max_examples=300)
@given(torus_problems())
def test_torus_matches_minimum_image_brute_force(problem):
    X, _, Xq, params, _, _ = problem
    assert params["boxsize"] is not None
    teacher = _check_against_brute_force(problem)
    if params["kernel"] == "singular":
        exact = (Xq[:, None, :] == X[None, :, :]).all(axis=-1).any(axis=1)
        assert teacher.n_exact_ == exact.sum()


@settings(deadline=None, max_examples=100)
@given(torus_problems())
def test_torus_matches_ckdtree_boxsize(problem):
    """An independent implementation of the minimum image: scipy's cKDTree(boxsize=L)."""
    X, labels, Xq, params, tree_min_d, leaf_size = problem
    fallback = "prior" if params["fallback"] == "grow" else params["fallback"]
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d), \
            mock.patch.object(nw, "_LEAF_SIZE", leaf_size):
        teacher = NadarayaWatsonTeacher(**dict(params, fallback=fallback)).fit(X, labels)
        proba = teacher.predict_proba(Xq)
    r2 = _reference.sq_dists(Xq, X, params["boxsize"])
    ties = np.sort(r2, axis=1)[:, :2]
    if fallback == "nearest" and X.shape[0] > 1 and (ties[:, 0] == ties[:, 1]).any():
        fallback = "prior"  # cKDTree.query returns one of tied nearest points: not comparable
        teacher = NadarayaWatsonTeacher(**dict(params, fallback=fallback)).fit(X, labels)
        proba = teacher.predict_proba(Xq)
    expected, n_fallback = _reference.nw_predict_proba_ckdtree(
        X, labels, Xq, teacher.bandwidth_, teacher.a_, params["kernel"], params["boxsize"],
        fallback, params["n_classes"])
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-10)
    assert teacher.n_fallback_ == n_fallback


@pytest.mark.parametrize("d, tree_min_d", [(1, 5), (2, 5), (3, 5), (5, 5), (6, 5), (2, 1),
                                           (5, 99)])
def test_torus_matches_reference_at_default_bandwidth(d, tree_min_d):
    """Larger n on [0, 1)^d: many cells or leaves, balls wrapping around every face."""
    rng = np.random.default_rng(d)
    X, labels = rng.uniform(size=(3000, d)), rng.integers(0, 2, 3000)
    Xq = np.vstack([rng.uniform(size=(400, d)), X[:100]])
    with mock.patch.object(nw, "_TREE_MIN_D", tree_min_d):
        teacher = NadarayaWatsonTeacher(c_h=0.75, boxsize=1.0).fit(X, labels)
    assert teacher.index_.kind == (nwk.TREE if d >= tree_min_d else nwk.COLUMNS)
    expected, n_fallback = nw_predict_proba(X, labels, Xq, teacher.bandwidth_, d / 4,
                                            "singular", boxsize=1.0)
    np.testing.assert_allclose(teacher.predict_proba(Xq), expected, rtol=0, atol=1e-12)
    assert (teacher.n_fallback_, teacher.n_exact_) == (n_fallback, 100)


def test_torus_wraps_around():
    """Two points 0.02 apart across the face x = 0 are neighbours; without boxsize they are
    not (0.98 apart)."""
    X, labels = np.array([[0.01], [0.5]]), np.array([1, 0])
    q = [[0.99]]
    periodic = NadarayaWatsonTeacher(bandwidth=0.1, boxsize=1.0).fit(X, labels)
    np.testing.assert_array_equal(periodic.predict_proba(q), [[0.0, 1.0]])
    assert periodic.n_fallback_ == 0
    plain = NadarayaWatsonTeacher(bandwidth=0.1).fit(X, labels)
    np.testing.assert_array_equal(plain.predict_proba(q), [[0.5, 0.5]])
    assert plain.n_fallback_ == 1


@pytest.mark.parametrize("boxsize", [0.0, -1.0, np.inf, np.nan, True, "1"])
def test_bad_boxsize_raises(boxsize):
    X = np.random.default_rng(0).uniform(size=(10, 2)) * 0.1
    with pytest.raises(ValueError, match="boxsize"):
        NadarayaWatsonTeacher(bandwidth=0.01, boxsize=boxsize).fit(X, np.arange(10) % 2)


def test_points_off_the_torus_and_wide_bandwidth_raise():
    X, labels = np.random.default_rng(0).uniform(size=(10, 2)), np.arange(10) % 2
    bad = X.copy()
    bad[4, 1], bad[6, 0] = 1.0, -0.5  # X[4, 1] comes first (row-major)
    with pytest.raises(ValueError, match=r"X\[4, 1\] = 1.0 is outside the torus \[0, 1.0\)"):
        NadarayaWatsonTeacher(bandwidth=0.1, boxsize=1.0).fit(bad, labels)
    teacher = NadarayaWatsonTeacher(bandwidth=0.1, boxsize=1.0).fit(X, labels)
    with pytest.raises(ValueError, match=r"X\[1, 0\] = -1e-300 is outside"):
        teacher.predict_proba([[0.5, 0.5], [-1e-300, 0.2]])
    with pytest.raises(ValueError, match="bandwidth h = 0.5 must be below boxsize / 2 = 0.5"):
        NadarayaWatsonTeacher(bandwidth=0.5, boxsize=1.0).fit(X, labels)
    with pytest.raises(ValueError, match="boxsize / 2"):  # the default h = n^(-1/6) = 0.68
        NadarayaWatsonTeacher(boxsize=1.0).fit(X, labels)
    assert NadarayaWatsonTeacher(bandwidth=0.499, boxsize=1.0).fit(X, labels).boxsize_ == 1.0


def test_torus_interpolates_and_clones():
    rng = np.random.default_rng(0)
    X, labels = rng.uniform(size=(400, 5)), rng.integers(0, 3, 400)
    teacher = NadarayaWatsonTeacher(c_h=0.75, boxsize=1.0).fit(X, labels)
    assert np.array_equal(teacher.predict_proba(X), np.eye(3)[labels])
    assert teacher.n_exact_ == 400
    assert clone(teacher).get_params()["boxsize"] == 1.0


@pytest.mark.parametrize("d, kernel, boxsize", [(2, "singular", None), (5, "epanechnikov", 2.0),
                                                (1, "gaussian", 1.0)])
def test_warm_up_returns_seconds_and_validates(d, kernel, boxsize):
    from kdtheory.teachers import warm_up

    seconds = warm_up(d, kernel=kernel, boxsize=boxsize)
    assert isinstance(seconds, float) and seconds >= 0
    assert warm_up(d, kernel, boxsize) < 1.0  # compiled now: nearly free
    with pytest.raises(ValueError, match="kernel"):
        warm_up(d, kernel="box")
    with pytest.raises(ValueError, match="boxsize"):
        warm_up(d, boxsize=-1.0)
    with pytest.raises(ValueError, match="d"):
        warm_up(0)


def test_import_compiles_nothing():
    """``import kdtheory`` (and the teachers) must not trigger any Numba compilation."""
    import subprocess

    code = ("from numba.core import event\n"
            "seen = []\n"
            "class L(event.Listener):\n"
            "    def on_start(self, ev): seen.append(ev)\n"
            "    def on_end(self, ev): pass\n"
            "event.register('numba:compile', L())\n"
            "import kdtheory, kdtheory.teachers\n"
            "print(len(seen))\n")
    root = pathlib.Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root, env={**__import__("os").environ,
                                                    "PYTHONPATH": str(root)})
    assert out.stdout.strip() == "0"
