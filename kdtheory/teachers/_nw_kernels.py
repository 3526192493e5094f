"""Numba kernels of the Nadaraya-Watson teacher (docs/theory.md §5.2). Private; no random numbers.

Two spatial indexes over the training points share one :data:`Index` record (``kind``); each
stores the points in its own sorted order so that every group it visits is one contiguous slice
of ``xt`` (coordinates) and ``yt`` (one-hot labels). Neither builds an m x n matrix; the extra
memory is O(n + m).

``COLUMNS`` (d <= 4, and the Gaussian kernel): the points are bucketed by a grid of cubes of
side ``side`` over their first d-1 coordinates only, sorted by column and, inside a column, by
their last coordinate. A ball query visits the columns that meet the ball and binary-searches,
in each, the slice of last coordinates the ball can reach, so the candidates are the pairs
within h plus a thin shell. The same sort finds exact coordinate matches by one binary search.
Search radii are widened by a relative and absolute ``pad`` so that rounding can only add
candidates.

``TREE`` (d >= 5, where a ball fills a small part of its bounding box and the column walk, not
the pairs, dominated): a k-d tree with leaves of at most ``leaf_size`` points (more only if they
coincide), median splits on the coordinate of widest spread (left: x[s] < split_val, right:
x[s] >= split_val, so an exact match is found by one descent), and the tight bounding box of
every node. A ball query prunes nodes whose box is farther than the radius, scans whole nodes
whose box lies inside it, merges adjacent slices into runs, and compacts the points within the
radius into a buffer before evaluating the kernel, so the power is computed about once per
pair within h. In ``predict`` (compact kernels), blocks of ``_QBLOCK`` consecutive queries
(sorted by leaf) share one walk with the bounding box of the block, which collects candidate
nodes; each query then tests its distance to all candidate boxes in one vectorised pass.
Pruning needs no pad: the rounded box distance never exceeds the rounded distance of a point in
the box (same formula, same summation order), and the rounded box-to-box distance of a query
block never exceeds that of a query in it (rounding is monotone).

In both, whether a point is inside is decided exactly by ``r2 <= h2``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from ._lanes import LANES, compact_run  # editing _lanes.py: see its note on the cache

SINGULAR, GAUSSIAN, EPANECHNIKOV, UNIFORM = 0, 1, 2, 3
PRIOR, NEAREST, GROW = 0, 1, 2
EXACT, KERNEL, FALLBACK = 0, 1, 2  # how each query was answered
COLUMNS, TREE = 0, 1  # index kinds

_BLOCK = 256  # candidates processed per vectorised batch (a multiple of _lanes.WIDTH)
_CHUNK = 64  # queries per parallel task (they share scratch buffers)
_QBLOCK = 16  # TREE: consecutive queries (sorted by leaf) sharing one tree walk; divides _CHUNK
_JIT = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)

Index = namedtuple("Index", "kind xt yt pad grid_lo side shape col_start "
                            "node_lo node_hi node_start node_end node_left split_dim split_val "
                            "depth box")
Index.__doc__ = """A spatial index of the training set (fields of the other kind are empty).

kind : COLUMNS or TREE
xt : (d, n) coordinates in index order (column-major: a slice of one coordinate is contiguous)
yt : (k, n) one-hot labels in the same order
pad : absolute widening of column search radii (a few thousand ulps of the largest coordinate)
COLUMNS: grid_lo, shape : (d-1,) grid origin and number of cells per gridded coordinate;
    side : cell side; col_start : (n_columns + 1,) start of each column in index order
TREE: node_lo, node_hi : (n_nodes, d) tight bounding boxes; node_start, node_end : slice of each
    node in index order; node_left : first child (the second is node_left + 1), -1 for a leaf;
    split_dim, split_val : the split; depth : the depth of the deepest leaf (root: 0)
box : side L of the flat torus [0, L)^d (minimum-image distances), or None for Euclidean space.
    Kernels that branch on it take it as an argument (passed as ``ix.box``): Numba prunes a
    branch ``box is not None`` at compile time only on an argument typed None, so the periodic
    code is compiled only for a torus.
"""


# --- index construction ----------------------------------------------------------------------

@njit(**_JIT)
def build_tree(X, leaf_size):
    """k-d tree over the rows of X (n >= 1): (order, lo, hi, start, end, left, dim, val, depth).

    ``order`` lists the rows in tree order (every node is a contiguous slice of it)."""
    n, d = X.shape
    cap = 2 * n
    order = np.arange(n)
    lo, hi = np.empty((cap, d)), np.empty((cap, d))
    start, end = np.zeros(cap, np.int64), np.zeros(cap, np.int64)
    left, dim = np.full(cap, -1, np.int64), np.zeros(cap, np.int64)
    val, level = np.zeros(cap), np.zeros(cap, np.int64)
    end[0] = n
    todo = np.empty(cap, np.int64)
    todo[0], n_todo, n_nodes, depth = 0, 1, 1, 0
    keys = np.empty(n)
    while n_todo > 0:
        n_todo -= 1
        node = todo[n_todo]
        s, e = start[node], end[node]
        depth = max(depth, level[node])
        for j in range(d):
            lo[node, j] = hi[node, j] = X[order[s], j]
        for i in range(s + 1, e):
            for j in range(d):
                x = X[order[i], j]
                lo[node, j] = min(lo[node, j], x)
                hi[node, j] = max(hi[node, j], x)
        if e - s <= leaf_size:
            continue
        split = 0
        for j in range(1, d):
            if hi[node, j] - lo[node, j] > hi[node, split] - lo[node, split]:
                split = j
        if not hi[node, split] > lo[node, split]:
            continue  # all points coincide: one (large) leaf
        for i in range(s, e):
            keys[i] = X[order[i], split]
        v = _select(keys, s, e, s + (e - s) // 2)
        # three-way partition of order[s:e]: x < v, x == v, x > v
        i, lt, gt = s, s, e
        while i < gt:
            x = X[order[i], split]
            if x < v:
                order[i], order[lt] = order[lt], order[i]
                lt += 1
                i += 1
            elif x > v:
                gt -= 1
                order[i], order[gt] = order[gt], order[i]
            else:
                i += 1
        if lt > s:
            mid, cut = lt, v
        else:  # v is the minimum: split off the points equal to it
            mid, cut = gt, np.inf
            for i in range(gt, e):
                cut = min(cut, X[order[i], split])
        dim[node], val[node], left[node] = split, cut, n_nodes
        start[n_nodes], end[n_nodes] = s, mid
        start[n_nodes + 1], end[n_nodes + 1] = mid, e
        level[n_nodes] = level[n_nodes + 1] = level[node] + 1
        todo[n_todo], todo[n_todo + 1] = n_nodes, n_nodes + 1
        n_todo += 2
        n_nodes += 2
    return (order, lo[:n_nodes].copy(), hi[:n_nodes].copy(), start[:n_nodes].copy(),
            end[:n_nodes].copy(), left[:n_nodes].copy(), dim[:n_nodes].copy(),
            val[:n_nodes].copy(), depth)


@njit(**_JIT)
def _select(v, lo, hi, k):
    """The value of rank k - lo among v[lo:hi] (the k-th smallest, as np.partition gives);
    reorders v[lo:hi]. Hoare partition around the median of three, iterated on one side."""
    while hi - lo > 1:
        mid = (lo + hi - 1) >> 1
        a, b, c = v[lo], v[mid], v[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi - 1
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return v[k]  # j < k < i: v[k] == pivot
    return v[lo]


@njit(**_JIT)
def tree_leaf_of(Xq, ix):
    """Leaf reached by descending the tree from each row of Xq (for sorting queries)."""
    out = np.empty(Xq.shape[0], np.int64)
    for i in range(Xq.shape[0]):
        out[i] = _descend(Xq[i], ix)
    return out


@njit(**_JIT)
def _descend(q, ix):
    node = 0
    while ix.node_left[node] >= 0:
        node = ix.node_left[node] + (q[ix.split_dim[node]] >= ix.split_val[node])
    return node


# --- shared pieces -----------------------------------------------------------------------------

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
def _sq_dists(q, xt, start, stop, out, box):
    """out[j] = ||xt[:, start + j] - q||^2, summed over coordinates in order; on the torus
    (``box`` = L, None in Euclidean space) each coordinate difference t = |x_c - q_c| is the
    minimum image min(t, L - t) (both lie in [0, L), so no other image is nearer).

    The loops index slices by the loop counter: with ``xt[c, start + j]`` Numba's wraparound
    test for a negative index kept LLVM from vectorising them (measured 2.5-4.5x slower on
    runs of 16-256 points)."""
    count = stop - start
    o = out[:count]
    if box is not None:  # typed None for Euclidean space: pruned at compile time
        _sq_dists_periodic(q, xt, start, stop, o, box)
        return
    x = xt[0, start:stop]
    q0 = q[0]
    for j in range(count):
        diff = x[j] - q0
        o[j] = diff * diff
    for c in range(1, q.size):
        x = xt[c, start:stop]
        qc = q[c]
        for j in range(count):
            diff = x[j] - qc
            o[j] += diff * diff


@njit(**_JIT)
def _sq_dists_periodic(q, xt, start, stop, o, box):
    x = xt[0, start:stop]
    q0 = q[0]
    for j in range(o.size):
        diff = abs(x[j] - q0)
        diff = min(diff, box - diff)
        o[j] = diff * diff
    for c in range(1, q.size):
        x = xt[c, start:stop]
        qc = q[c]
        for j in range(o.size):
            diff = abs(x[j] - qc)
            diff = min(diff, box - diff)
            o[j] += diff * diff


@njit(**_JIT)
def _weights(r2, count, kernel, h2, a, out):
    """out[j] = K(u_j) with u_j^2 = r2[j] / h2; K is zero where r2[j] > h2 (compact kernels).

    singular u^(-a): for a = j/4 (the default d/4) as (h2 / r2)^(1/8) by one division and
    three square roots, raised to the power 4a by binary powering, which vectorises (about 5x
    faster than libm pow; one division instead of r2 / h2 and 1 / sqrt: 1.15x, measured).
    Other a use pow. gaussian exp(-u^2/2); epanechnikov 1 - u^2; uniform 1."""
    if kernel == SINGULAR:
        quarters = 4.0 * a
        if quarters == np.floor(quarters) and quarters < 64.0:
            e0 = np.int64(quarters)
            for j in range(count):
                base = math.sqrt(math.sqrt(math.sqrt(h2 / r2[j])))
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
def _accumulate_slice(yt, start, w, count, acc):
    """acc[c] += sum_j w[j] yt[c, start + j]; returns #{j : w[j] > 0}."""
    n_positive = 0
    for j in range(count):
        n_positive += w[j] > 0.0
    for c in range(acc.size):
        y = yt[c, start:start + count]
        total = acc[c]
        for j in range(count):
            total += w[j] * y[j]
        acc[c] = total
    return n_positive


@njit(inline="always", **_JIT)
def _add_if_equal(q, ix, i, lo, hi, acc):
    """For the exact-match scans: if xt[j, i] == q[j] for j in [lo, hi) (the other coordinates
    matched already), acc += yt[:, i] and 1, else 0. The labels are added in a loop, which Numba
    makes cheaper than the array expression."""
    for j in range(lo, hi):
        if ix.xt[j, i] != q[j]:
            return 0
    for c in range(acc.size):
        acc[c] += ix.yt[c, i]
    return 1


# --- COLUMNS index ---------------------------------------------------------------------------

@njit(inline="always", **_JIT)
def _next_cell(cur, clo, chi, nd):
    """Advance the odometer ``cur`` over the cells clo..chi of the first nd coordinates (last
    coordinate fastest); False once every cell was visited."""
    j = nd - 1
    while j >= 0:
        cur[j] += 1
        if cur[j] <= chi[j]:
            return True
        cur[j] = clo[j]
        j -= 1
    return False


@njit(inline="always", **_JIT)
def _add_slice(slices, n_slices, start, stop):
    """Append the slice [start, stop) to ``slices`` unless it is empty; the new count."""
    if stop > start:
        slices[n_slices, 0] = start
        slices[n_slices, 1] = stop
        n_slices += 1
    return n_slices


@njit(**_JIT)
def _ball_slices(q, r2, ix, box, slices, cur, clo, chi):
    """Slices [start, stop) of the sorted points holding every point within sqrt(r2) of q.

    The slices (a superset of the ball) go into ``slices``; returns their number. ``r2`` may
    be inf (every point)."""
    if box is not None:  # ix.box, an argument so that Numba prunes this for None
        return _ball_slices_periodic(q, r2, ix, slices, cur, clo, chi)
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
            n_slices = _add_slice(slices, n_slices, start, stop)
        if not _next_cell(cur, clo, chi, nd):
            return n_slices


@njit(**_JIT)
def _ball_slices_periodic(q, r2, ix, slices, cur, clo, chi):
    """:func:`_ball_slices` on the torus [0, L)^d: the grid has ``shape[j]`` cells of side
    L / shape[j] per gridded coordinate, starting at 0.

    The cells met by [q_j - r, q_j + r] are numbered without wrapping (cur), then taken modulo
    the grid; if the interval spans the whole circle every cell is taken once. A cell's gap to q
    is the smallest over its three images (shifts -L, 0, L), a lower bound of the minimum-image
    distance of its points. In a column, the interval of last coordinates [q - w, q + w] wraps
    into at most two slices (the whole column if 2w >= L). Up to 2 slices per column."""
    nd = ix.shape.size
    box = ix.box
    side = ix.side
    r = math.sqrt(r2) * (1.0 + 1e-12) + ix.pad
    for j in range(nd):
        lo = np.floor((q[j] - r) / side)
        hi = np.floor((q[j] + r) / side)
        if hi - lo + 1.0 >= ix.shape[j]:  # also r = inf
            clo[j] = 0
            chi[j] = ix.shape[j] - 1
        else:
            clo[j] = np.int64(lo)
            chi[j] = np.int64(hi)
        cur[j] = clo[j]
    last = ix.xt[nd]
    qn = q[nd]
    n_slices = 0
    while True:  # odometer over the (unwrapped) cells [clo, chi]
        gap2 = 0.0
        col = 0
        for j in range(nd):
            cell = cur[j] % ix.shape[j]
            edge = cell * side
            gap = max(0.0, edge - q[j], q[j] - edge - side)
            gap = min(gap, max(0.0, edge - box - q[j], q[j] - edge + box - side))
            gap = min(gap, max(0.0, edge + box - q[j], q[j] - edge - box - side))
            gap2 += gap * gap
            col = col * ix.shape[j] + cell
        if gap2 <= r * r:
            half = math.sqrt(r * r - gap2)
            begin, end = ix.col_start[col], ix.col_start[col + 1]
            low, high = qn - half, qn + half
            if not high - low < box:
                start, stop = begin, end
            else:
                start = _lower_bound(last, begin, end, low)
                stop = _upper_bound(last, start, end, high)
                if low < 0.0:  # the wrapped part [low + L, L), after the main slice
                    wrap = max(stop, _lower_bound(last, begin, end, low + box))
                    n_slices = _add_slice(slices, n_slices, wrap, end)
                elif high >= box:  # the wrapped part [0, high - L], before the main slice
                    wrap = min(start, _upper_bound(last, begin, end, high - box))
                    n_slices = _add_slice(slices, n_slices, begin, wrap)
            n_slices = _add_slice(slices, n_slices, start, stop)
        if not _next_cell(cur, clo, chi, nd):
            return n_slices


@njit(**_JIT)
def _columns_kernel_sums(q, ix, kernel, h2, support2, a, acc, sc):
    slices, r2, w, cur, clo, chi = sc[0], sc[1], sc[2], sc[5], sc[6], sc[7]
    n_positive = 0
    for s in range(_ball_slices(q, h2 * support2, ix, ix.box, slices, cur, clo, chi)):
        for start in range(slices[s, 0], slices[s, 1], _BLOCK):
            stop = min(start + _BLOCK, slices[s, 1])
            _sq_dists(q, ix.xt, start, stop, r2, ix.box)
            _weights(r2, stop - start, kernel, h2, a, w)
            n_positive += _accumulate_slice(ix.yt, start, w, stop - start, acc)
    return n_positive


@njit(**_JIT)
def _range_min_r2(q, xt, begin, end, r2, best, box):
    """min(best, ||q - x_i||^2 for i in [begin, end)), in blocks of _BLOCK rows."""
    for start in range(begin, end, _BLOCK):
        stop = min(start + _BLOCK, end)
        _sq_dists(q, xt, start, stop, r2, box)
        for j in range(stop - start):
            best = min(best, r2[j])
    return best


@njit(**_JIT)
def _columns_min_r2(q, ix, radius2, sc):
    """min ||q - x_i||^2 over the points within sqrt(radius2) of q (inf if none)."""
    slices, r2, cur, clo, chi = sc[0], sc[1], sc[5], sc[6], sc[7]
    best = np.inf
    for s in range(_ball_slices(q, radius2, ix, ix.box, slices, cur, clo, chi)):
        best = _range_min_r2(q, ix.xt, slices[s, 0], slices[s, 1], r2, best, ix.box)
    return best if best <= radius2 else np.inf


@njit(**_JIT)
def _columns_exact_match(q, ix, box, acc):
    """q's column is computed exactly as in the index build, then one binary search."""
    nd = ix.shape.size
    col = 0
    for j in range(nd):
        cell = np.floor((q[j] - ix.grid_lo[j]) / ix.side)
        if box is not None:  # the build clips (x < L may round to cell shape[j])
            cell = min(cell, ix.shape[j] - 1.0)
        if cell < 0.0 or cell >= ix.shape[j]:
            return 0
        col = col * ix.shape[j] + np.int64(cell)
    last = ix.xt[nd]
    stop = ix.col_start[col + 1]
    i = _lower_bound(last, ix.col_start[col], stop, q[nd])
    count = 0
    while i < stop and last[i] == q[nd]:
        count += _add_if_equal(q, ix, i, 0, nd, acc)
        i += 1
    return count


# --- TREE index --------------------------------------------------------------------------------

@njit(**_JIT)
def _box_gap2(q, ix, node, box):
    """(squared distance from q to the node's box, squared distance to its farthest corner).

    On the torus (``box`` = L, not None), per coordinate gap = min(g, L - f) and far = min(f, L/2)
    with g, f the plain gap and farthest distance: |x - q| lies in [g, f] for x in the box, so
    its minimum image min(t, L - t) is at least min(g, L - f) (the same formula as the points',
    so the rounded gap never exceeds a point's) and at most L/2."""
    gap2 = 0.0
    far2 = 0.0
    for j in range(q.size):
        lo, hi = ix.node_lo[node, j], ix.node_hi[node, j]
        gap = max(0.0, lo - q[j], q[j] - hi)
        far = max(q[j] - lo, hi - q[j])
        if box is not None:
            gap = min(gap, box - far)
            far = min(far, 0.5 * box)
        gap2 += gap * gap
        far2 += far * far
    return gap2, far2


@njit(**_JIT)
def _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc):
    """Kernel weights of the compacted candidates and their sums into acc."""
    _weights(cr2, count, kernel, h2, a, w)
    n_positive = 0
    for j in range(count):
        n_positive += w[j] > 0.0
    for c in range(acc.size):
        total = acc[c]
        for j in range(count):
            total += w[j] * ix.yt[c, cidx[j]]
        acc[c] = total
    return n_positive


@njit(**_JIT)
def _compact(q, ix, start, stop, reach2, r2, cr2, cidx, count):
    """Appends to (cr2, cidx) the points of [start, stop) within reach (at most _BLOCK), eight
    at a time by :func:`._lanes.compact_run` where the CPU has AVX-512 or AVX2 (``LANES``; a
    compile-time constant), else by the plain loop. The callers flush when ``count + _BLOCK``
    would pass the buffer's size, and _BLOCK is a multiple of 8, so the 8-lane stores (up to
    ``count + _BLOCK``) never run past it."""
    if LANES:
        return compact_run(q, ix.xt, start, stop, reach2, cr2, cidx, count, ix.box)
    return _compact_loop(q, ix.xt, start, stop, reach2, r2, cr2, cidx, count, ix.box)


@njit(**_JIT)
def _compact_loop(q, xt, start, stop, reach2, r2, cr2, cidx, count, box):
    """:func:`_compact` as plain loops: the distances, then a branch-free compaction."""
    _sq_dists(q, xt, start, stop, r2, box)
    for j in range(stop - start):
        cr2[count] = r2[j]
        cidx[count] = start + j
        count += np.int64(r2[j] <= reach2)
    return count


@njit(**_JIT)
def _tree_kernel_sums(q, ix, kernel, h2, support2, a, acc, sc):
    """Depth-first, left child first, so the slices of the nodes to scan come in increasing
    order; adjacent ones are merged into one run before their points are compacted."""
    r2, w, cr2, cidx, stack = sc[1], sc[2], sc[3], sc[4], sc[8]
    reach2 = h2 * support2
    n_positive = 0
    count = 0
    run_start = run_stop = 0
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        gap2, far2 = _box_gap2(q, ix, node, ix.box)
        if gap2 > reach2:
            continue
        left = ix.node_left[node]
        if left >= 0 and far2 > reach2:
            stack[top] = left + 1
            stack[top + 1] = left
            top += 2
            continue
        if ix.node_start[node] == run_stop:
            run_stop = ix.node_end[node]
            continue
        for start in range(run_start, run_stop, _BLOCK):
            if count + _BLOCK > cr2.size:
                n_positive += _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)
                count = 0
            count = _compact(q, ix, start, min(start + _BLOCK, run_stop), reach2, r2, cr2,
                             cidx, count)
        run_start, run_stop = ix.node_start[node], ix.node_end[node]
    for start in range(run_start, run_stop, _BLOCK):
        if count + _BLOCK > cr2.size:
            n_positive += _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)
            count = 0
        count = _compact(q, ix, start, min(start + _BLOCK, run_stop), reach2, r2, cr2, cidx,
                         count)
    return n_positive + _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)


@njit(**_JIT)
def _tree_block_candidates(blo, bhi, ix, box, reach2, cand, stack):
    """The nodes a query in the box [blo, bhi] may need, in increasing slice order, into
    ``cand``: the leaves whose box is within reach of the query box, and the nodes lying within
    reach of every point of it (not descended further). A query's rounded box distance is never
    below the rounded box-to-box distance (rounding is monotone), so every node its own walk
    would scan is covered; each query then tests its own distance to each candidate box.
    Returns the number of candidates. On the torus the gaps are taken as in :func:`_box_gap2`
    (the box-to-box gap is again a lower bound for every query of the block, after rounding)."""
    n_cand = 0
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        gap2 = 0.0
        far2 = 0.0
        for j in range(blo.size):
            lo, hi = ix.node_lo[node, j], ix.node_hi[node, j]
            gap = max(0.0, lo - bhi[j], blo[j] - hi)
            far = max(bhi[j] - lo, hi - blo[j])
            if box is not None:  # as in _box_gap2: |x - q| in [gap, far] over both boxes
                gap = min(gap, box - far)
                far = min(far, 0.5 * box)
            gap2 += gap * gap
            far2 += far * far
        if gap2 > reach2:
            continue
        left = ix.node_left[node]
        if left >= 0 and far2 > reach2:
            stack[top] = left + 1
            stack[top + 1] = left
            top += 2
        else:
            cand[n_cand] = node
            n_cand += 1
    return n_cand


@njit(**_JIT)
def _gather_boxes(ix, cand, n_cand, cbox):
    """cbox[j, c] = node_lo[cand[c], j], cbox[d + j, c] = node_hi[cand[c], j] (coordinate-major,
    so that each query tests all candidate boxes in one vectorised pass)."""
    d = ix.node_lo.shape[1]
    for c in range(n_cand):
        node = cand[c]
        for j in range(d):
            cbox[j, c] = ix.node_lo[node, j]
            cbox[d + j, c] = ix.node_hi[node, j]


@njit(**_JIT)
def _periodic_box_gaps(q, cbox, n_cand, box, g2):
    """g2[c] = squared minimum-image gap from q to candidate box c (as in :func:`_box_gap2`)."""
    d = q.size
    for c in range(n_cand):
        g2[c] = 0.0
    for j in range(d):
        qj = q[j]
        for c in range(n_cand):
            lo, hi = cbox[j, c], cbox[d + j, c]
            gap = min(max(0.0, lo - qj, qj - hi), box - max(qj - lo, hi - qj))
            g2[c] += gap * gap


@njit(**_JIT)
def _tree_kernel_sums_cand(q, ix, box, kernel, h2, a, acc, sc, cand, n_cand, cbox, g2):
    """:func:`_tree_kernel_sums` over the candidate nodes of q's query block (compact kernel):
    the squared distances from q to all candidate boxes in one pass, then the nodes within
    reach (in increasing slice order) merged into runs and compacted."""
    # The run-compaction loop below repeats the one in _tree_kernel_sums on purpose: a shared
    # helper returning (count, flushed) measured 20-25% slower at d = 5, n = 1e5 (even with
    # inline="always"), so the hot loop stays written out in both places.
    r2, w, cr2, cidx = sc[1], sc[2], sc[3], sc[4]
    acc[:] = 0.0
    reach2 = h2
    d = q.size
    if box is not None:  # ix.box (see _ball_slices)
        _periodic_box_gaps(q, cbox, n_cand, box, g2)
    else:
        q0 = q[0]
        for c in range(n_cand):
            gap = max(0.0, cbox[0, c] - q0, q0 - cbox[d, c])
            g2[c] = gap * gap
        for j in range(1, d):
            qj = q[j]
            for c in range(n_cand):
                gap = max(0.0, cbox[j, c] - qj, qj - cbox[d + j, c])
                g2[c] += gap * gap
    n_positive = 0
    count = 0
    run_start = run_stop = 0
    for c in range(n_cand):
        if g2[c] > reach2:
            continue
        node = cand[c]
        if ix.node_start[node] == run_stop:
            run_stop = ix.node_end[node]
            continue
        for start in range(run_start, run_stop, _BLOCK):
            if count + _BLOCK > cr2.size:
                n_positive += _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)
                count = 0
            count = _compact(q, ix, start, min(start + _BLOCK, run_stop), reach2, r2, cr2,
                             cidx, count)
        run_start, run_stop = ix.node_start[node], ix.node_end[node]
    for start in range(run_start, run_stop, _BLOCK):
        if count + _BLOCK > cr2.size:
            n_positive += _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)
            count = 0
        count = _compact(q, ix, start, min(start + _BLOCK, run_stop), reach2, r2, cr2, cidx,
                         count)
    return n_positive + _flush(ix, kernel, h2, a, cr2, cidx, count, w, acc)


@njit(**_JIT)
def _tree_min_r2(q, ix, radius2, sc):
    """min ||q - x_i||^2 over the points within sqrt(radius2) of q (inf if none)."""
    r2, stack = sc[1], sc[8]
    best = np.inf
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        gap2, _ = _box_gap2(q, ix, node, ix.box)
        if gap2 > radius2 or gap2 > best:
            continue
        left = ix.node_left[node]
        if left >= 0:  # nearer child last, so it is searched first
            near = left + (q[ix.split_dim[node]] >= ix.split_val[node])
            stack[top] = 2 * left + 1 - near
            stack[top + 1] = near
            top += 2
            continue
        best = _range_min_r2(q, ix.xt, ix.node_start[node], ix.node_end[node], r2, best,
                                 ix.box)
    return best if best <= radius2 else np.inf


@njit(**_JIT)
def _tree_exact_match(q, ix, acc):
    """One descent: every training point equal to q lies in the leaf q descends to. The leaf's
    first coordinates (one contiguous slice) are compared first; the rest only where it matches
    (1e4 queries, d = 5, 64-point leaves: 0.95 ms, against 6.7-8.3 ms comparing every
    coordinate with ``and`` and adding the labels as an array expression; measured)."""
    node = _descend(q, ix)
    start = ix.node_start[node]
    x0 = ix.xt[0, start:ix.node_end[node]]
    q0 = q[0]
    count = 0
    for i in range(x0.size):
        if x0[i] == q0:
            count += _add_if_equal(q, ix, start + i, 1, q.size, acc)
    return count


# --- queries -----------------------------------------------------------------------------------

@njit(**_JIT)
def _kernel_sums(q, cols, tree, kernel, h2, support2, a, acc, sc):
    """acc[c] = sum_i K(||q - x_i|| / h) 1[y_i = c]; returns #{i : K(...) > 0}.

    ``support2`` is the squared support radius of K in units of h (1, or inf). Of ``cols`` and
    ``tree`` one is the index and the other None: Numba prunes a branch ``x is None`` at
    compile time only when x is typed None (measured: a non-None x keeps both branches), hence
    the nested tests, so that only the kernels of the index in use are compiled."""
    acc[:] = 0.0
    if tree is None:
        if cols is not None:
            return _columns_kernel_sums(q, cols, kernel, h2, support2, a, acc, sc)
        return 0
    return _tree_kernel_sums(q, tree, kernel, h2, support2, a, acc, sc)


@njit(**_JIT)
def _nearest_r2(q, cols, tree, h2, sc):
    """Squared distance from q to its nearest training point: balls of radius 2h, 4h, ...
    until one holds a point (the nearest is then inside that ball)."""
    radius2 = h2
    while True:
        radius2 *= 4.0
        best = np.inf
        if tree is None:
            if cols is not None:  # see _kernel_sums
                best = _columns_min_r2(q, cols, radius2, sc)
        else:
            best = _tree_min_r2(q, tree, radius2, sc)
        if best <= radius2:
            return best


@njit(**_JIT)
def _exact_match(q, cols, tree, acc):
    """acc = sum of the one-hot labels of the training points equal to q; returns their number.

    One of ``cols``, ``tree`` is the index, the other None (see :func:`_kernel_sums`)."""
    if tree is None:
        if cols is not None:
            return _columns_exact_match(q, cols, cols.box, acc)
        return 0
    return _tree_exact_match(q, tree, acc)


@njit(**_JIT)
def _singular_limit(q, ix, box, h2, a, acc):
    """The singular-kernel estimate at q when its weights overflow (q within about 1e-154 of a
    training point, or (r/h)^(-a) > 1.8e308): a brute-force pass over all n points (this path
    is rare). With r0^2 the smallest rounded squared distance, the weights are rescaled to
    (r^2 / r0^2)^(-a/2) <= 1, which leaves the ratio unchanged; if r0^2 rounds to 0, the points
    at rounded distance 0 are treated as coinciding with q (their labels are averaged, as for
    an exact match). Returns the number of points given positive weight."""
    n = ix.xt.shape[1]
    r2 = np.zeros(n)
    for c in range(q.size):
        for i in range(n):
            diff = ix.xt[c, i] - q[c]
            if box is not None:
                diff = min(abs(diff), box - abs(diff))
            r2[i] += diff * diff
    r0 = np.inf
    for i in range(n):
        r0 = min(r0, r2[i])
    acc[:] = 0.0
    count = 0
    for i in range(n):
        if r0 == 0.0:
            w = 1.0 if r2[i] == 0.0 else 0.0
        else:
            w = (r2[i] / r0) ** (-0.5 * a) if r2[i] <= h2 else 0.0
        if w > 0.0:
            count += 1
            acc += w * ix.yt[:, i]
    return count


@njit(**_JIT)
def predict_chunks(first, stop, Xq, order, ix, cols, tree, kernel, h2, a, fallback, min_neighbors,
                   prior, proba, outcome):
    """Nadaraya-Watson class probabilities (docs/theory.md §5.2, 5.3) for the queries of chunks
    [first, stop), into ``proba`` (m, k) and ``outcome`` (m,) int8 in {EXACT, KERNEL,
    FALLBACK}; chunk c holds the queries order[c * _CHUNK : (c + 1) * _CHUNK].

    ``cols``, ``tree``: ``ix`` and None for the COLUMNS index, None and ``ix`` for the TREE
    index (see :func:`_kernel_sums`). ``order``
    sorts the queries by column or leaf, for locality. A zero total weight triggers the
    fallback: PRIOR -> ``prior``; NEAREST -> average label of the nearest training points (ties
    averaged); GROW -> the kernel estimate with bandwidth 2^j h for the smallest j >= 1 giving
    at least ``min_neighbors`` points positive weight. A non-finite total weight (singular
    kernel only: overflow near a training point) is resolved by :func:`_singular_limit`, never
    returned as NaN.

    Serial and ``nogil``: the caller runs disjoint chunk ranges on threads (a ``prange`` here
    cost about 13 s of compile time, measured, for no run-time gain).
    """
    for chunk in range(first, stop):
        _predict_chunk(chunk, Xq, order, ix, cols, tree, kernel, h2, a, fallback,
                       min_neighbors, prior, proba, outcome)


@njit(**_JIT)
def _predict_chunk(chunk, Xq, order, ix, cols, tree, kernel, h2, a, fallback, min_neighbors, prior,
                   proba, outcome):
    """The queries order[chunk * _CHUNK : (chunk + 1) * _CHUNK] of :func:`predict`."""
    m = Xq.shape[0]
    nd = ix.shape.size
    support2 = np.inf if kernel == GAUSSIAN else 1.0
    d = Xq.shape[1]
    uniform = np.int64(UNIFORM)  # not a literal: the kernel argument keeps one type
    sc = (np.empty((2 * (ix.col_start.size - 1), 2), np.int64), np.empty(_BLOCK),
          np.empty(_BLOCK * 4), np.empty(_BLOCK * 4), np.empty(_BLOCK * 4, np.int64),
          np.empty(nd, np.int64), np.empty(nd, np.int64), np.empty(nd, np.int64),
          np.empty(ix.depth + 2, np.int64))
    if tree is None:
        cand = np.empty(0, np.int64)
    else:  # query blocks share one tree walk (compact kernels)
        cand = np.empty(tree.node_left.size if kernel != GAUSSIAN else 0, np.int64)
    cbox = np.empty((2 * d, cand.size))
    g2 = np.empty(cand.size)
    blo, bhi = np.empty(d), np.empty(d)
    n_cand = 0
    for t in range(chunk * _CHUNK, min(m, (chunk + 1) * _CHUNK)):
        i = order[t]
        q, acc = Xq[i], proba[i]
        if tree is not None:  # noqa: SIM102 (a bare `tree` test: Numba prunes it at compile time)
            if kernel != GAUSSIAN and (t - chunk * _CHUNK) % _QBLOCK == 0:
                stop = min(m, t + _QBLOCK, (chunk + 1) * _CHUNK)
                blo[:] = q
                bhi[:] = q
                for u in range(t + 1, stop):
                    for j in range(d):
                        blo[j] = min(blo[j], Xq[order[u], j])
                        bhi[j] = max(bhi[j], Xq[order[u], j])
                n_cand = _tree_block_candidates(blo, bhi, tree, tree.box, h2, cand, sc[8])
                _gather_boxes(tree, cand, n_cand, cbox)
        if kernel == SINGULAR and _exact_match(q, cols, tree, acc) > 0:
            outcome[i] = EXACT
            acc /= acc.sum()
            continue
        if tree is None:
            n_positive = _kernel_sums(q, cols, tree, kernel, h2, support2, a, acc, sc)
        elif kernel != GAUSSIAN:
            n_positive = _tree_kernel_sums_cand(q, tree, tree.box, kernel, h2, a, acc, sc, cand,
                                                n_cand, cbox, g2)
        else:
            n_positive = _kernel_sums(q, cols, tree, kernel, h2, support2, a, acc, sc)
        if n_positive > 0:
            outcome[i] = KERNEL
            if kernel == SINGULAR and not acc.sum() < np.inf:
                _singular_limit(q, ix, ix.box, h2, a, acc)
        else:
            outcome[i] = FALLBACK
            if fallback == PRIOR:
                acc[:] = prior
            elif fallback == NEAREST:
                _kernel_sums(q, cols, tree, uniform, _nearest_r2(q, cols, tree, h2, sc), 1.0, a,
                             acc, sc)
            else:
                grown2 = 4.0 * h2
                while _kernel_sums(q, cols, tree, kernel, grown2, support2, a, acc, sc) \
                        < min_neighbors:
                    grown2 *= 4.0
        acc /= acc.sum()
