"""MUNGE and the comparison generators: input untouched, reproducible, nominal columns kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kdtheory import augment

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


def data(rng=None, n=60, d=4):
    rng = np.random.default_rng(0 if rng is None else rng)
    X = rng.normal(size=(n, d))
    X[:, -1] = rng.integers(0, 3, n)  # a nominal column with codes 0, 1, 2
    return X


@given(X=arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 5)), elements=finite),
       n_samples=st.integers(1, 70), p=st.floats(0, 1), seed=st.integers(0, 2 ** 32 - 1))
def test_munge_shape_dtype_input_unchanged_reproducible(X, n_samples, p, seed):
    before = X.copy()
    out = augment.munge(X, n_samples, p=p, random_state=seed)
    np.testing.assert_array_equal(X, before)
    assert out.shape == (n_samples, X.shape[1]) and out.dtype == np.float64
    assert np.isfinite(out).all() and not np.shares_memory(out, X)
    np.testing.assert_array_equal(out, augment.munge(X, n_samples, p=p, random_state=seed))


@given(X=arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)), elements=finite),
       n_samples=st.integers(1, 70), seed=st.integers(0, 1000))
def test_munge_p0_copies_its_source_rows(X, n_samples, seed):
    out, source = augment.munge(X, n_samples, p=0.0, random_state=seed, return_source=True)
    np.testing.assert_array_equal(out, X[source])
    # every pass over the data uses each row once
    counts = np.bincount(source, minlength=X.shape[0])
    assert counts.max() - counts.min() <= 1


def test_munge_p1_draws_around_the_neighbour():
    X = data()
    neighbour = augment.nearest_neighbours(X, np.array([False, False, False, True]))
    out, source = augment.munge(X, 5000, p=1.0, s=4.0, nominal=[3], random_state=1,
                                return_source=True)
    partner, start = X[neighbour[source]], X[source]
    np.testing.assert_array_equal(out[:, 3], partner[:, 3])  # nominal: swapped exactly
    z = (out[:, :3] - partner[:, :3]) / (np.abs(start[:, :3] - partner[:, :3]) / 4.0)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05  # N(e'_a, (|e_a - e'_a|/s)^2)


def test_munge_nominal_values_stay_in_their_set():
    X = data()
    for nominal in ([3], np.array([False, False, False, True]), [-1]):
        out = augment.munge(X, 500, p=0.5, nominal=nominal, random_state=2)
        assert set(np.unique(out[:, 3])) <= {0.0, 1.0, 2.0}
    perturbed = augment.munge(X, 500, p=0.5, random_state=2)  # as continuous: perturbed
    assert not set(np.unique(perturbed[:, 3])) <= {0.0, 1.0, 2.0}


def test_munge_swap_rate_is_p():
    X = np.random.default_rng(4).normal(size=(200, 3))  # continuous: a swap always changes
    out, source = augment.munge(X, 20000, p=0.3, random_state=3, return_source=True)
    assert abs(np.mean(out != X[source]) - 0.3) < 0.01


def test_nearest_neighbours_match_brute_force():
    X = data(n=80, d=3)
    X[:, -1] = np.random.default_rng(1).normal(size=80)
    Z = (X - X.mean(0)) / X.std(0)
    dist = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    np.testing.assert_array_equal(augment.nearest_neighbours(X, np.zeros(3, bool)),
                                  dist.argmin(1))
    dup = np.vstack([X, X[:1]])  # an exact duplicate is its twin's neighbour
    nn = augment.nearest_neighbours(dup, np.zeros(3, bool))
    assert nn[0] == 80 and nn[80] == 0


def test_munge_seeds_differ_and_generator_accepted():
    X = data()
    a = augment.munge(X, 50, random_state=0)
    assert not np.array_equal(a, augment.munge(X, 50, random_state=1))
    np.testing.assert_array_equal(a, augment.munge(X, 50, random_state=np.random.default_rng(0)))


@pytest.mark.parametrize("name", sorted(augment.GENERATORS))
def test_generators_shape_reproducible_input_unchanged(name):
    X = data(n=200, d=3)
    before = X.copy()
    gen = augment.GENERATORS[name]
    out = gen(X, 300, random_state=5)
    np.testing.assert_array_equal(X, before)
    assert out.shape == (300, 3) and out.dtype == np.float64 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, gen(X, 300, random_state=5))
    big = gen(X, 20000, random_state=6)  # roughly the data's location and scale
    assert np.all(np.abs(big.mean(0) - X.mean(0)) < 0.3 * X.std(0))
    assert np.all(np.abs(big.std(0) / X.std(0) - 1) < 0.3)


def test_real_sample_without_replacement():
    X = np.arange(20.0)[:, None]
    out = augment.real_sample(X, 20, random_state=0)
    assert sorted(out[:, 0]) == list(range(20))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples must be >= 1"),
    ({"n_samples": 2.0}, "n_samples must be an integer"),
    ({"p": 1.5}, r"p must be a number in \[0, 1\]"),
    ({"s": 0.0}, "s must be a positive number"),
    ({"nominal": [7]}, "nominal column indices"),
    ({"nominal": np.array([True, False])}, "nominal as a mask"),
    ({"nominal": ["a"]}, "nominal must be column indices"),
])
def test_munge_bad_arguments(kwargs, match):
    args = {"X": data(), "n_samples": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        augment.munge(**args)


def test_munge_bad_X():
    with pytest.raises(ValueError, match="X must be finite"):
        augment.munge(np.array([[0.0], [np.nan]]), 3)
    with pytest.raises(ValueError, match="X must have at least 2 rows"):
        augment.munge(np.zeros((1, 2)), 3)
