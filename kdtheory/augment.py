r"""Synthetic inputs for distillation: MUNGE and simple generators to compare it with (issue 14).

A synthetic point :math:`\tilde x` carries no label; distillation labels it by the teacher,
:math:`\hat p(\tilde x)`, which is a noiseless regression target for the student
(docs/augmentation.md). Every generator here takes a real sample ``X`` (n, d) and returns
``n_samples`` new rows as a fresh float64 array; none mutates its input, and each is
reproducible through ``random_state`` (int, ``numpy.random.Generator``, ``SeedSequence`` or
None).

* :func:`munge`: Bucila, Caruana and Niculescu-Mizil (2006), *Model compression*, KDD.
* :func:`gaussian_noise`: a resampled real row plus isotropic noise in standardised units.
* :func:`gaussian_mixture`: draws from a Gaussian mixture fit to the standardised sample.
* :func:`kde`: draws from a Gaussian kernel density estimate of the standardised sample.
* :func:`real_sample`: rows of a held-out real sample (the ideal generator: the true
  input distribution).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import _describe, check_int, check_positive, check_X

__all__ = ["munge", "gaussian_noise", "gaussian_mixture", "kde", "real_sample", "GENERATORS"]


def _check_unit(value, name) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {_describe(value)}")
    return float(value)


def _check_nominal(nominal, d) -> np.ndarray:
    """A boolean mask (d,) from None, column indices or a boolean mask."""
    if nominal is None:
        return np.zeros(d, dtype=bool)
    arr = np.asarray(nominal)
    if arr.dtype == bool:
        if arr.shape != (d,):
            raise ValueError(f"nominal as a mask must have shape ({d},), got {arr.shape}")
        return arr.copy()
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"nominal must be column indices or a boolean mask, got "
                         f"{_describe(nominal)}")
    if arr.size and (arr.min() < -d or arr.max() >= d):
        raise ValueError(f"nominal column indices must lie in [0, {d}), got {arr.tolist()}")
    mask = np.zeros(d, dtype=bool)
    mask[arr] = True
    return mask


def _standardise(X):
    mean, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - mean) / sd, mean, sd


def nearest_neighbours(X, nominal_mask) -> np.ndarray:
    r"""Index of each row's nearest other row, from a k-d tree (:class:`scipy.spatial.cKDTree`).

    Distance: Euclidean on the standardised continuous columns, plus 1 per mismatched nominal
    column (each nominal column one-hot encoded and scaled by :math:`1/\sqrt 2`), as in
    Bucila et al. An exact duplicate is a valid neighbour (distance 0).
    """
    from scipy.spatial import cKDTree

    n = X.shape[0]
    parts = [_standardise(X[:, ~nominal_mask])[0]] if (~nominal_mask).any() else []
    for j in np.flatnonzero(nominal_mask):
        _, codes = np.unique(X[:, j], return_inverse=True)
        parts.append(np.eye(codes.max() + 1)[codes] / np.sqrt(2.0))
    _, idx = cKDTree(np.hstack(parts)).query(np.hstack(parts), k=2)
    # the query point is normally its own first neighbour; with duplicates it may come second
    first_other = np.where(idx[:, 0] == np.arange(n), idx[:, 1], idx[:, 0])
    return first_other.astype(np.int64)


def munge(X, n_samples, p=0.5, s=1.0, nominal=None, random_state=None, *,
          return_source=False):
    r"""MUNGE (Bucila, Caruana and Niculescu-Mizil 2006): swap attributes with the nearest row.

    Each synthetic row starts from a real row :math:`e = x_i` (the rows are taken in random
    order, pass after pass, until ``n_samples`` rows are made) and its nearest neighbour
    :math:`e' = x_{j(i)}` (:func:`nearest_neighbours`). Independently for every attribute
    :math:`a`, with probability ``p`` the attribute is swapped:

    * continuous: :math:`\tilde e_a \sim N(e'_a, \sigma_a^2)` with
      :math:`\sigma_a = |e_a - e'_a| / s`;
    * nominal: :math:`\tilde e_a = e'_a`;

    otherwise :math:`\tilde e_a = e_a`. The paper also writes the mirror image into
    :math:`e'`; that row is the same construction started from :math:`e'` with :math:`e` as
    partner, so drawing each row from its own start is the same kind of sample.

    Parameters
    ----------
    X : array (n, d), n >= 2
        Real inputs (nominal columns as numeric codes).
    n_samples : int >= 1
        Rows to generate.
    p : float in [0, 1]
        Swap probability per attribute (0: every row is a copy of a real row).
    s : float > 0
        Local variance parameter: larger ``s``, tighter draws around the neighbour's value.
    nominal : None, column indices or boolean mask (d,)
        Nominal columns (swapped, never perturbed); also the nearest-neighbour metric.
    random_state : int, Generator, SeedSequence or None
    return_source : bool
        Also return the index of each synthetic row's starting row.

    Returns
    -------
    X_new : float64 ndarray (n_samples, d)   (and ``source`` int64 (n_samples,))
    """
    X = check_X(X, min_rows=2)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    p = _check_unit(p, "p")
    s = check_positive(s, "s")
    mask = _check_nominal(nominal, X.shape[1])
    rng = np.random.default_rng(random_state)
    n = X.shape[0]
    neighbour = nearest_neighbours(X, mask)
    passes = -(-n_samples // n)
    source = np.concatenate([rng.permutation(n) for _ in range(passes)])[:n_samples]
    e, partner = X[source], X[neighbour[source]]
    swap = rng.random(e.shape) < p
    sd = np.abs(e - partner) / s
    drawn = np.where(mask, partner, rng.normal(partner, sd))
    out = np.where(swap, drawn, e)
    return (out, source) if return_source else out


def gaussian_noise(X, n_samples, scale=0.1, random_state=None):
    r"""A resampled real row plus :math:`N(0, (\text{scale}\cdot\mathrm{sd}_a)^2)` per attribute."""
    X = check_X(X)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    scale = check_positive(scale, "scale")
    rng = np.random.default_rng(random_state)
    _, _, sd = _standardise(X)
    rows = X[rng.integers(0, X.shape[0], n_samples)]
    return rows + rng.normal(0.0, 1.0, rows.shape) * scale * sd


def gaussian_mixture(X, n_samples, n_components=10, random_state=None):
    """Draws from a full-covariance Gaussian mixture fit (EM) to the standardised sample."""
    from sklearn.mixture import GaussianMixture

    X = check_X(X, min_rows=2)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_components = check_int(n_components, "n_components", minimum=1, maximum=X.shape[0])
    rng = np.random.default_rng(random_state)
    Z, mean, sd = _standardise(X)
    gm = GaussianMixture(n_components, random_state=int(rng.integers(2 ** 31)),
                         reg_covar=1e-4).fit(Z)
    draws, _ = gm.sample(n_samples)  # grouped by component: shuffle
    return draws[rng.permutation(n_samples)] * sd + mean


def kde(X, n_samples, bandwidth=None, random_state=None):
    r"""Draws from a Gaussian KDE of the standardised sample (a resampled row plus kernel noise).

    ``bandwidth`` defaults to Scott's rule :math:`n^{-1/(d+4)}` in standardised units.
    """
    X = check_X(X, min_rows=2)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n, d = X.shape
    h = n ** (-1.0 / (d + 4)) if bandwidth is None else check_positive(bandwidth, "bandwidth")
    rng = np.random.default_rng(random_state)
    Z, mean, sd = _standardise(X)
    draws = Z[rng.integers(0, n, n_samples)] + h * rng.normal(size=(n_samples, d))
    return draws * sd + mean


def real_sample(X_pool, n_samples, random_state=None):
    """Rows of a held-out real sample, without replacement (with replacement if it is too small)."""
    X_pool = check_X(X_pool, name="X_pool")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    rng = np.random.default_rng(random_state)
    n = X_pool.shape[0]
    idx = rng.choice(n, n_samples, replace=n_samples > n)
    return X_pool[idx].copy()


#: The generators by name: ``f(X, n_samples, random_state=...)``.
GENERATORS = {"munge": munge, "gaussian_noise": gaussian_noise,
              "gaussian_mixture": gaussian_mixture, "kde": kde, "real": real_sample}
