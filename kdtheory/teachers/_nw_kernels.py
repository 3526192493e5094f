"""Numba kernels of the Nadaraya-Watson teacher (MATH.md 5.2). Private; no random numbers.

Spatial index ("columns"). The training points are bucketed by a grid of cubes of side
``side`` over their first d-1 coordinates only; points are sorted by column and, inside a
column, by their last coordinate. A ball query of radius r visits the columns that meet the
ball and binary-searches, in each, the slice of last coordinates the ball can reach. So the
candidates are the pairs within r plus a thin shell, there is no m x n matrix, and the extra
memory is O(n + m). The same sort finds exact coordinate matches by one binary search.

Every search radius is widened by a relative and absolute ``pad`` so that rounding can only
add candidates; whether a point is inside is then decided exactly by ``r2 <= h2``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

SINGULAR, GAUSSIAN, EPANECHNIKOV, UNIFORM = 0, 1, 2, 3
PRIOR, NEAREST, GROW = 0, 1, 2
EXACT, KERNEL, FALLBACK = 0, 1, 2  # how each query was answered

_BLOCK = 256  # candidates processed per vectorised batch
_CHUNK = 64  # queries per parallel task (they share scratch buffers)
_JIT = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)

Index = namedtuple("Index", "xt yt grid_lo side shape col_start pad")
Index.__doc__ = """The column index of the training set.

xt : (d, n) coordinates, sorted (column-major so that a slice of one coordinate is contiguous)
yt : (k, n) one-hot labels in the same order
grid_lo, shape : (d-1,) grid origin and number of cells per gridded coordinate
side : cell side; col_start : (n_columns + 1,) start of each column in the sorted order
pad : absolute widening of search radii (a few thousand ulps of the largest coordinate)
"""


@njit(**_JIT)
def _lower_bound(v, lo, hi, x):
    """First i in [lo, hi) with v[i] >= x (v sorted on [lo, hi)), else hi."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if v[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**_JIT)
def _upper_bound(v, lo, hi, x):
    """First i in [lo, hi) with v[i] > x (v sorted on [lo, hi)), else hi."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if v[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(**_JIT)
def _ball_slices(q, r2, ix, slices, cur, clo, chi):
    """Slices [start, stop) of the sorted points holding every point within sqrt(r2) of q.

    The slices (a superset of the ball) go into ``slices``; returns their number. ``r2`` may
    be inf (every point)."""
    nd = ix.shape.size
    r = math.sqrt(r2) * (1.0 + 1e-12) + ix.pad
    for j in range(nd):
        lo = max(0.0, np.floor((q[j] - r - ix.grid_lo[j]) / ix.side))
        hi = min(ix.shape[j] - 1.0, np.floor((q[j] + r - ix.grid_lo[j]) / ix.side))
        if lo > hi:
            return 0
        clo[j] = np.int64(lo)
        chi[j] = np.int64(hi)
        cur[j] = clo[j]
    last = ix.xt[nd]
    n_slices = 0
    while True:  # odometer over the columns of the box [clo, chi]
        gap2 = 0.0
        col = 0
        for j in range(nd):
            edge = ix.grid_lo[j] + cur[j] * ix.side
            gap = max(0.0, edge - q[j], q[j] - edge - ix.side)
            gap2 += gap * gap
            col = col * ix.shape[j] + cur[j]
        if gap2 <= r * r:
            half = math.sqrt(r * r - gap2)
            start = _lower_bound(last, ix.col_start[col], ix.col_start[col + 1], q[nd] - half)
            stop = _upper_bound(last, start, ix.col_start[col + 1], q[nd] + half)
            if stop > start:
                slices[n_slices, 0] = start
                slices[n_slices, 1] = stop
                n_slices += 1
        j = nd - 1
        while j >= 0:
            cur[j] += 1
            if cur[j] <= chi[j]:
                break
            cur[j] = clo[j]
            j -= 1
        if j < 0:
            return n_slices


@njit(**_JIT)
def _sq_dists(q, xt, start, stop, out):
    """out[j] = ||xt[:, start + j] - q||^2, summed over coordinates in order."""
    count = stop - start
    out[:count] = 0.0
    for c in range(q.size):
        qc = q[c]
        for j in range(count):
            diff = xt[c, start + j] - qc
            out[j] += diff * diff


@njit(**_JIT)
def _weights(r2, count, kernel, h2, a, out):
    """out[j] = K(u_j) with u_j^2 = r2[j] / h2; K is zero where r2[j] > h2 (compact kernels).

    singular u^(-a): for a = j/4 (the default d/4) as (u^2)^(-1/8) by three square roots raised
    to the power 4a by binary powering, which vectorises (about 5x faster than libm pow);
    other a use pow. gaussian exp(-u^2/2); epanechnikov 1 - u^2; uniform 1."""
    if kernel == SINGULAR:
        quarters = 4.0 * a
        if quarters == np.floor(quarters) and quarters < 64.0:
            e0 = np.int64(quarters)
            for j in range(count):
                base = 1.0 / math.sqrt(math.sqrt(math.sqrt(r2[j] / h2)))
                w = 1.0
                e = e0
                for _ in range(6):
                    w = w * base if e & 1 else w
                    base = base * base
                    e >>= 1
                out[j] = w if r2[j] <= h2 else 0.0
        else:
            for j in range(count):
                out[j] = (r2[j] / h2) ** (-0.5 * a) if r2[j] <= h2 else 0.0
    elif kernel == GAUSSIAN:
        for j in range(count):
            out[j] = math.exp(-0.5 * (r2[j] / h2))
    elif kernel == EPANECHNIKOV:
        for j in range(count):
            out[j] = 1.0 - r2[j] / h2 if r2[j] <= h2 else 0.0
    else:
        for j in range(count):
            out[j] = 1.0 if r2[j] <= h2 else 0.0


@njit(**_JIT)
def _kernel_sums(q, ix, kernel, h2, support2, a, acc, sc):
    """acc[c] = sum_i K(||q - x_i|| / h) 1[y_i = c]; returns #{i : K(...) > 0}.

    ``support2`` is the squared support radius of K in units of h (1, or inf)."""
    slices, r2, w, cur, clo, chi = sc
    acc[:] = 0.0
    n_positive = 0
    for s in range(_ball_slices(q, h2 * support2, ix, slices, cur, clo, chi)):
        for start in range(slices[s, 0], slices[s, 1], _BLOCK):
            stop = min(start + _BLOCK, slices[s, 1])
            _sq_dists(q, ix.xt, start, stop, r2)
            _weights(r2, stop - start, kernel, h2, a, w)
            for j in range(stop - start):
                n_positive += w[j] > 0.0
            for c in range(acc.size):
                total = acc[c]
                for j in range(stop - start):
                    total += w[j] * ix.yt[c, start + j]
                acc[c] = total
    return n_positive


@njit(**_JIT)
def _nearest_r2(q, ix, h2, sc):
    """Squared distance from q to its nearest training point: balls of radius 2h, 4h, ...
    until one holds a point (the nearest is then inside that ball)."""
    slices, r2, _, cur, clo, chi = sc
    radius2 = h2
    while True:
        radius2 *= 4.0
        best = np.inf
        for s in range(_ball_slices(q, radius2, ix, slices, cur, clo, chi)):
            for start in range(slices[s, 0], slices[s, 1], _BLOCK):
                stop = min(start + _BLOCK, slices[s, 1])
                _sq_dists(q, ix.xt, start, stop, r2)
                for j in range(stop - start):
                    best = min(best, r2[j])
        if best <= radius2:
            return best


@njit(**_JIT)
def _exact_match(q, ix, acc):
    """acc = sum of the one-hot labels of the training points equal to q; returns their number.

    q's column is computed exactly as in the index build, then one binary search."""
    nd = ix.shape.size
    col = 0
    for j in range(nd):
        cell = np.floor((q[j] - ix.grid_lo[j]) / ix.side)
        if cell < 0.0 or cell >= ix.shape[j]:
            return 0
        col = col * ix.shape[j] + np.int64(cell)
    last = ix.xt[nd]
    stop = ix.col_start[col + 1]
    i = _lower_bound(last, ix.col_start[col], stop, q[nd])
    count = 0
    while i < stop and last[i] == q[nd]:
        same = True
        for j in range(nd):
            same = same and ix.xt[j, i] == q[j]
        if same:
            count += 1
            acc += ix.yt[:, i]
        i += 1
    return count


@njit(parallel=True, **_JIT)
def predict(Xq, order, ix, kernel, h2, a, fallback, min_neighbors, prior):
    """Nadaraya-Watson class probabilities at the rows of Xq (MATH.md 5.2).

    Queries are visited in ``order`` (sorted by column, for locality), in chunks over threads.
    Returns (proba (m, k), outcome (m,) int8 in {EXACT, KERNEL, FALLBACK}). A zero total weight
    triggers the fallback: PRIOR -> ``prior``; NEAREST -> average label of the nearest training
    points (ties averaged); GROW -> the kernel estimate with bandwidth 2^j h for the smallest
    j >= 1 giving at least ``min_neighbors`` points positive weight.
    """
    m, k = Xq.shape[0], ix.yt.shape[0]
    nd = ix.shape.size
    support2 = np.inf if kernel == GAUSSIAN else 1.0
    proba = np.zeros((m, k))
    outcome = np.empty(m, np.int8)
    for chunk in prange((m + _CHUNK - 1) // _CHUNK):
        sc = (np.empty((ix.col_start.size - 1, 2), np.int64), np.empty(_BLOCK),
              np.empty(_BLOCK), np.empty(nd, np.int64), np.empty(nd, np.int64),
              np.empty(nd, np.int64))
        for t in range(chunk * _CHUNK, min(m, (chunk + 1) * _CHUNK)):
            i = order[t]
            q, acc = Xq[i], proba[i]
            if kernel == SINGULAR and _exact_match(q, ix, acc) > 0:
                outcome[i] = EXACT
            elif _kernel_sums(q, ix, kernel, h2, support2, a, acc, sc) > 0:
                outcome[i] = KERNEL
            else:
                outcome[i] = FALLBACK
                if fallback == PRIOR:
                    acc[:] = prior
                elif fallback == NEAREST:
                    _kernel_sums(q, ix, UNIFORM, _nearest_r2(q, ix, h2, sc), 1.0, a, acc, sc)
                else:
                    grown2 = 4.0 * h2
                    while _kernel_sums(q, ix, kernel, grown2, support2, a, acc, sc) \
                            < min_neighbors:
                        grown2 *= 4.0
            acc /= acc.sum()
    return proba, outcome
