"""The interpolating Nadaraya-Watson teacher of the teacher-overfitting examples (theory §5.2,
and 5.3 on the flat torus)."""

from __future__ import annotations

import numbers
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .._validation import check_int, check_positive, one_hot
from . import _nw_kernels as nwk
from ._base import TeacherMixin

_KERNELS = {"singular": nwk.SINGULAR, "gaussian": nwk.GAUSSIAN,
            "epanechnikov": nwk.EPANECHNIKOV}
_FALLBACKS = {"prior": nwk.PRIOR, "nearest": nwk.NEAREST, "grow": nwk.GROW}


class NadarayaWatsonTeacher(TeacherMixin):
    r"""Nadaraya-Watson class probabilities; with the singular kernel it interpolates.

    .. math:: \hat p(x) = \frac{\sum_i y_i\, K(\|x - x_i\| / h)}{\sum_i K(\|x - x_i\| / h)},
              \qquad y_i \in \{e_1, \dots, e_k\},

    with, for ``kernel="singular"`` (docs/theory.md §5.2), :math:`K(u) = u^{-a}\,1[u \le 1]`,
    :math:`a \in (0, d/2)`: at a training point the weight is infinite, so :math:`\hat p(x_i)
    = y_i` exactly (duplicated points: the average of their labels), while the estimator stays
    consistent off the sample. ``"gaussian"`` is :math:`K(u) = e^{-u^2/2}` (h is the standard
    deviation, as in statsmodels ``KernelReg``), ``"epanechnikov"`` :math:`K(u) = (1 - u^2)_+`;
    neither interpolates. Default bandwidth :math:`h = c_h n^{-1/(4+d)}`, default :math:`a = d/4`.

    Fallback. Where no training point gets positive weight (with a compact kernel: none within
    h) the ratio is 0/0. ``fallback`` then decides, and ``n_fallback_`` counts it:

    - ``"prior"``: the training label frequencies (keeps :math:`\hat p` away from 0 and 1, which
      matters because the loss correction divides by :math:`\hat p`);
    - ``"nearest"``: the label of the nearest training point (ties: their average);
    - ``"grow"``: the same estimator with bandwidth :math:`2^j h` for the smallest
      :math:`j \ge 1` that gives at least ``min_neighbors`` points positive weight.

    Torus. ``boxsize=L`` puts training and query points on the flat torus :math:`[0, L)^d`
    (docs/theory.md §5.3): every distance is the minimum image, per coordinate
    :math:`\min(|x_j - x'_j|, L - |x_j - x'_j|)`, as in ``scipy.spatial.cKDTree(boxsize=L)``;
    the estimator is otherwise the same (kernels, exact matches, fallbacks). Points must lie in
    :math:`[0, L)^d` and h must be below L/2 (beyond it the minimum image is ambiguous); the
    index wraps around natively (no replicated points).

    Cost: a spatial index over the training set (a column grid for d < 5, a k-d tree for
    d >= 5), so a query touches about the points within h (:math:`O(m n h^d)` pairs, O(n + m)
    memory); the Gaussian kernel touches all m n pairs.

    Exact matches. A query equal to a training point (all coordinates ``==``) is answered by
    that point's label (duplicates: the average) without a kernel sum. A query so close to a
    training point that its singular weight overflows (squared distance rounding to 0, i.e.
    within about 1e-154, or :math:`(r/h)^{-a}` beyond 1.8e308) is not returned as NaN: the
    weights are rescaled by the smallest squared distance, and points at rounded squared
    distance 0 count as coinciding with the query (their labels are averaged).

    Parameters
    ----------
    bandwidth : float or None
        h > 0; None means ``c_h * n ** (-1 / (4 + d))`` with n, d the fitting sizes.
    a : float or None
        Exponent of the singular kernel, in (0, d/2); None means d/4. Ignored by other kernels.
    kernel : {"singular", "gaussian", "epanechnikov"}
    c_h : float
        Constant of the default bandwidth.
    fallback : {"prior", "nearest", "grow"}
    min_neighbors : int
        Points required by ``fallback="grow"`` (at most n are ever required).
    n_classes : int or None
        Number of classes k; None infers max(label) + 1.
    boxsize : float or None
        L > 0: the flat torus [0, L)^d with minimum-image distances; None: Euclidean space.

    Attributes
    ----------
    bandwidth_, a_ : float
        The bandwidth and exponent used.
    min_neighbors_ : int
        min(min_neighbors, n): what ``fallback="grow"`` requires.
    class_prior_ : ndarray of shape (k,)
        Training label frequencies (the ``"prior"`` fallback).
    n_fallback_ : int
        Set by each ``predict_proba`` call: how many of its queries used the fallback.
    n_exact_ : int
        Set by each ``predict_proba`` call: how many of its queries coincided with a training
        point and were answered by interpolation (singular kernel only; else 0).
    """

    def __init__(self, bandwidth=None, a=None, kernel="singular", c_h=1.0, fallback="prior",
                 min_neighbors=5, n_classes=None, boxsize=None):
        self.bandwidth = bandwidth
        self.a = a
        self.kernel = kernel
        self.c_h = c_h
        self.fallback = fallback
        self.min_neighbors = min_neighbors
        self.n_classes = n_classes
        self.boxsize = boxsize

    def fit(self, X, labels):
        """Store the training set in a spatial index; returns self."""
        X, labels, k = self._validate_fit(X, labels)
        n, d = X.shape
        if self.kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {sorted(_KERNELS)}, got {self.kernel!r}")
        if self.fallback not in _FALLBACKS:
            raise ValueError(
                f"fallback must be one of {sorted(_FALLBACKS)}, got {self.fallback!r}")
        self.min_neighbors_ = min(check_int(self.min_neighbors, "min_neighbors", minimum=1), n)
        c_h = check_positive(self.c_h, "c_h")
        self.bandwidth_ = (c_h * n ** (-1.0 / (4 + d)) if self.bandwidth is None
                           else check_positive(self.bandwidth, "bandwidth"))
        self.boxsize_ = _check_boxsize(self.boxsize)
        if self.boxsize_ is not None:
            _check_on_torus(X, self.boxsize_)
            if not self.bandwidth_ < self.boxsize_ / 2:
                raise ValueError(
                    f"bandwidth h = {float(self.bandwidth_)!r} must be below boxsize / 2 = "
                    f"{self.boxsize_ / 2!r}: beyond half the torus the minimum image is "
                    f"ambiguous")
        if self.a is None:
            self.a_ = d / 4
        elif (isinstance(self.a, bool) or not isinstance(self.a, numbers.Real)
              or not 0 < self.a < d / 2):
            raise ValueError(f"a must be a number in (0, d/2) = (0, {d / 2}), got {self.a!r}")
        else:
            self.a_ = float(self.a)
        y = one_hot(labels, k)
        self.class_prior_ = y.mean(axis=0)
        support = np.inf if self.kernel == "gaussian" else self.bandwidth_
        self.index_ = _build_index(X, y, support, box=self.boxsize_)
        return self

    def predict_proba(self, X):
        """(m, k) probabilities; sets ``n_fallback_`` and ``n_exact_`` for this call."""
        X = self._validate_predict(X)
        if self.boxsize_ is not None:
            _check_on_torus(X, self.boxsize_)
        ix = self.index_
        proba, outcome = _predict(
            X, _query_order(X, ix), ix, *((None, ix) if ix.kind == nwk.TREE else (ix, None)),
            _KERNELS[self.kernel], self.bandwidth_ ** 2, self.a_,
            _FALLBACKS[self.fallback], self.min_neighbors_, self.class_prior_)
        self.n_fallback_ = int(np.count_nonzero(outcome == nwk.FALLBACK))
        self.n_exact_ = int(np.count_nonzero(outcome == nwk.EXACT))
        return proba


def _predict(Xq, order, ix, cols, tree, *args):
    """:func:`_nw_kernels.predict_chunks` over all queries, on ``numba.get_num_threads()``
    threads (the kernel releases the GIL): the chunks are split into up to 4 ranges per thread,
    handed out as threads free up. Returns (proba, outcome)."""
    m = Xq.shape[0]
    proba = np.zeros((m, ix.yt.shape[0]))
    outcome = np.empty(m, np.int8)
    n_chunks = -(-m // nwk._CHUNK)
    threads = min(numba.get_num_threads(), n_chunks)
    tail = (Xq, order, ix, cols, tree, *args, proba, outcome)
    if threads <= 1:
        nwk.predict_chunks(0, n_chunks, *tail)
        return proba, outcome
    bounds = np.linspace(0, n_chunks, min(n_chunks, 4 * threads) + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda t: nwk.predict_chunks(bounds[t], bounds[t + 1], *tail),
                          range(bounds.size - 1)):
            pass
    return proba, outcome


def _check_boxsize(boxsize):
    """None, or boxsize as a float L > 0 (finite)."""
    if boxsize is None:
        return None
    if (isinstance(boxsize, bool) or not isinstance(boxsize, numbers.Real)
            or not 0 < boxsize < np.inf):
        raise ValueError(f"boxsize must be None or a finite number > 0, got {boxsize!r}")
    return float(boxsize)


def _check_on_torus(X, box):
    """ValueError naming the first entry of X (row-major) outside [0, box)."""
    outside = (X < 0) | (box <= X)
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise ValueError(f"X[{i}, {j}] = {float(X[i, j])!r} is outside the torus [0, {box!r}) "
                         f"(boxsize={box!r}); map the points into [0, boxsize) first")


def warm_up(d, kernel="singular", boxsize=None):
    """Compile, or load from Numba's cache, exactly the kernels that a
    ``NadarayaWatsonTeacher(kernel=kernel, boxsize=boxsize)`` fitted in dimension d uses, by
    running one on a tiny problem (24 training points; 12 queries, 6 of them training points).

    Meant to be called once in a parent process before workers start (they then load the
    cache). Returns the seconds it took: the compile cost when the cache is cold, about the
    load cost when it is warm, and near zero when this process already has the kernels."""
    t0 = time.perf_counter()
    d = check_int(d, "d", minimum=1)
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {sorted(_KERNELS)}, got {kernel!r}")
    box = _check_boxsize(boxsize)
    side = 1.0 if box is None else box
    # a deterministic low-discrepancy set in [0, side)^d (no RNG needed)
    steps = np.sqrt(np.array([2.0, 3.0, 5.0, 7.0, 11.0, 13.0, 17.0, 19.0]))[np.arange(d) % 8]
    X = ((np.arange(30)[:, None] * steps + 0.5 * np.arange(d) / d) % 1.0) * side
    X = np.minimum(X, np.nextafter(side, 0.0))
    labels = np.arange(24) % 2
    teacher = NadarayaWatsonTeacher(bandwidth=0.3 * side, kernel=kernel, boxsize=box)
    teacher.fit(X[:24], labels).predict_proba(X[18:])
    return time.perf_counter() - t0


_LEAF_SIZE = 64  # points per k-d tree leaf (d = 5, 6, n = 1e5: 48-64 fastest, 16 1.2-1.5x slower)
_TREE_MIN_D = 5  # the k-d tree from this dimension on (d = 4: the two indexes are within 10%)


def _index_kind(d, support):
    """The index for dimension d and support radius ``support``: COLUMNS for d < 5 and for the
    Gaussian kernel (infinite support: every pair is visited anyway); TREE for d >= 5, where a
    ball of radius h fills a small part of the columns it meets and the column walk, not the
    pairs, dominated (measured, notes in benchmarks/RESULTS.md)."""
    return nwk.TREE if d >= _TREE_MIN_D and np.isfinite(support) else nwk.COLUMNS


def _query_order(X, ix):
    """Queries sorted by the column or leaf they fall in, so that neighbouring queries (which
    visit the same part of the index) run one after the other."""
    if ix.kind == nwk.TREE:
        return np.argsort(nwk.tree_leaf_of(X, ix), kind="stable")
    return np.argsort(_column_of(X, ix), kind="stable")


def _column_of(X, ix):
    """Column (flat cell number over the first d-1 coordinates) of each row, clipped to the grid.

    For training points this is the exact formula the kernels use to look up exact matches."""
    if ix.shape.size == 0:
        return np.zeros(X.shape[0], np.int64)
    cells = np.clip(np.floor((X[:, :-1] - ix.grid_lo) / ix.side), 0, ix.shape - 1)
    return np.ravel_multi_index(tuple(cells.astype(np.int64).T), tuple(ix.shape))


_EMPTY_I, _EMPTY_F = np.zeros(0, np.int64), np.zeros(0)


def _build_index(X, y, support, kind=None, box=None):
    """The spatial index (:class:`_nw_kernels.Index`) for balls of radius ``support``; ``kind``
    None means :func:`_index_kind`; ``box`` = L: the points lie on the torus [0, L)^d."""
    d = X.shape[1]
    kind = _index_kind(d, support) if kind is None else kind
    pad = 1e-12 * (np.abs(X).max() if box is None else box)
    box = None if box is None else float(box)
    if kind == nwk.TREE:
        order, lo, hi, start, end, left, dim, val, depth = nwk.build_tree(X, _LEAF_SIZE)
        return nwk.Index(nwk.TREE, np.ascontiguousarray(X[order].T),
                         np.ascontiguousarray(y[order].T), pad, np.zeros(0), 1.0,
                         np.zeros(0, np.int64), np.zeros(1, np.int64), lo, hi, start, end,
                         left, dim, val, int(depth), box)
    return _build_columns(X, y, support, pad, box)


def _build_columns(X, y, support, pad, box=None):
    """The column index for balls of radius ``support``.

    Cells have side support / 2 (one cell if the support is infinite), coarsened until there
    are at most n columns, so memory stays O(n). On the torus (``box`` = L, not None) the grid
    starts at 0 and has the same whole number of cells, of side L / cells >= support / 2, along
    every gridded coordinate, so that it wraps around."""
    n, d = X.shape
    if box is not None:
        cells = max(1.0, np.floor(2.0 * box / support)) if np.isfinite(support) else 1.0
        while cells > 1.0 and cells ** (d - 1) > n:
            cells = np.floor(cells / 2.0)
        grid_lo, side = np.zeros(d - 1), box / cells
        shape = np.full(d - 1, int(cells), np.int64)
    else:
        grid_lo = X[:, :-1].min(axis=0)
        extent = X[:, :-1].max(axis=0) - grid_lo
        side = support / 2 if np.isfinite(support) else float(extent.max(initial=0.0)) + 1.0
        while np.prod(np.floor(extent / side) + 1.0) > n:
            side *= 2.0
        shape = (np.floor(extent / side) + 1.0).astype(np.int64)
    no_tree = np.zeros((0, d))
    ix = nwk.Index(nwk.COLUMNS, None, None, pad, grid_lo, float(side), shape, None,
                   no_tree, no_tree, _EMPTY_I, _EMPTY_I, _EMPTY_I, _EMPTY_I, _EMPTY_F, 0,
                   box)
    column = _column_of(X, ix)
    order = np.lexsort((X[:, -1], column))
    counts = np.bincount(column, minlength=int(np.prod(shape)))
    return ix._replace(xt=np.ascontiguousarray(X[order].T),
                       yt=np.ascontiguousarray(y[order].T),
                       col_start=np.concatenate(([0], np.cumsum(counts))))
