"""Where the k-d tree teacher's time goes (d >= 5), and how many points it scans per pair.

    python benchmarks/profile_tree.py [--d 5] [--n 10000 100000] [--counts]

Setting as in bench_nadaraya_watson.py (X, queries ~ U[0,1)^d, n = m, singular kernel, a = d/4,
h = n^(-1/(4+d))), Euclidean and torus (boxsize=1). Single thread, CPU seconds of
``predict_proba`` (best of 5 at n <= 1e4, of 3 above, the variants interleaved), for the shipped
kernels and for copies
of ``_nw_kernels.py`` in which one more stage of ``_tree_kernel_sums_cand`` is cut out each time
(the copy is written to a temporary directory; nothing in the package changes):

- ``full``: the shipped kernels;
- ``-flush``: no weights and label sums of the points within h;
- ``-compact``: nor the compaction of the points within h (the distances are still computed);
  only where the kernels use the plain loops (``_lanes.LANES`` false): the 8-lane vector code
  computes and compacts in one pass;
- ``-dist``: nor the squared distances of the candidate points;
- ``-query``: nor the per-query gaps to the candidate boxes and the run loop (the block walk
  and the box gathering remain).

The differences between consecutive rows are the stages' costs. ``--counts`` adds, per query
(mean over 300 queries): the candidate points the 64-point leaves make it scan, and those that
would remain if each leaf were cut into groups of <= 8 points (a k-d tree built to 8-point
leaves) tested by their bounding box or, inside the 64-point leaves within reach, by a bounding
sphere (centre of the box, radius to the farthest point), against the pairs within h.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package
from kdtheory.teachers import _nw_kernels  # noqa: E402
from kdtheory.teachers._lanes import LANES  # noqa: E402
from kdtheory.teachers import nadaraya_watson as nw  # noqa: E402

_STUBS = '''

@njit(**_JIT)
def _no_flush(ix, kernel, h2, a, cr2, cidx, count, w, acc):
    return 0


@njit(**_JIT)
def _dists_only(q, ix, start, stop, reach2, r2, cr2, cidx, count):
    _sq_dists(q, ix.xt, start, stop, r2, ix.box)
    return count


@njit(**_JIT)
def _no_compact(q, ix, start, stop, reach2, r2, cr2, cidx, count):
    return count
'''


def _variants(src):
    """{name: source of the kernel module with the stages up to that one cut out}."""
    i0 = src.index("def _tree_kernel_sums_cand")
    i1 = src.index("@njit", i0)
    body = src[i0:i1]
    cut = {"full": body}
    cut["-flush"] = body.replace("_flush(", "_no_flush(")
    if not LANES:
        cut["-compact"] = cut["-flush"].replace("_compact(", "_dists_only(")
    cut["-dist"] = cut["-flush"].replace("_compact(", "_no_compact(")
    cut["-query"] = body.replace("    acc[:] = 0.0\n", "    acc[:] = 0.0\n    return 0\n", 1)
    return {name: src[:i0] + b + src[i1:] + _STUBS for name, b in cut.items()}


def _load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def stages(d, ns):
    import numba
    numba.set_num_threads(1)
    with open(_nw_kernels.__file__) as f:  # the copies live outside the package
        src = f.read().replace("from ._lanes import", "from kdtheory.teachers._lanes import")
    tmp = tempfile.mkdtemp(prefix="kdt-profile-")
    mods = {}
    for name, text in _variants(src).items():
        path = os.path.join(tmp, f"nwk_{name.strip('-')}.py")
        with open(path, "w") as f:
            f.write(text)
        mods[name] = _load_module(path, f"nwk_{name.strip('-')}")
    print(f"| d | n = m | space | {' | '.join(mods)} |")
    print("|---|---|---|" + "---|" * len(mods))
    for n in ns:
        rng = np.random.default_rng(0)
        X, Q = rng.uniform(size=(n, d)), rng.uniform(size=(n, d))
        y = rng.integers(0, 2, n)
        h = n ** (-1 / (4 + d))
        for box in (None, 1.0):
            teachers = {}
            for name, mod in mods.items():
                nw.nwk = mod  # the module fit binds into the index and predict_proba uses
                teacher = nw.NadarayaWatsonTeacher(bandwidth=h, a=d / 4, boxsize=box)
                teacher.fit(X[:100], y[:100]).predict_proba(Q[:10])  # compile / load
                teachers[name] = teacher.fit(X, y)
            best = dict.fromkeys(mods, np.inf)
            for _ in range(5 if n <= 10**4 else 3):  # interleaved: the machine's speed drifts
                for name, mod in mods.items():
                    nw.nwk = mod
                    c0 = time.process_time()
                    teachers[name].predict_proba(Q)
                    best[name] = min(best[name], time.process_time() - c0)
            row = [f"{best[name]:.3f}" for name in mods]
            nw.nwk = _nw_kernels
            print(f"| {d} | {n:.0e} | {'torus' if box else 'Euclidean'} | {' | '.join(row)} |",
                  flush=True)


def _abs_diff(x, q, box):
    """|x - q| per coordinate, as the minimum image on the torus (box = L)."""
    diff = np.abs(x - q)
    return diff if box is None else np.minimum(diff, box - diff)


def _gap2(q, lo, hi, box):
    gap = np.maximum(0.0, np.maximum(lo - q, q - hi))
    if box is not None:
        gap = np.minimum(gap, box - np.maximum(q - lo, hi - q))
    return (gap ** 2).sum(axis=1)


def counts(d, ns, n_queries=300):
    print("\n| d | n = m | space | pairs within h | scanned, 64-point leaves | "
          "8-point groups, box test | 8-point groups, sphere test | (per pair) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in ns:
        rng = np.random.default_rng(0)
        X, Q = rng.uniform(size=(n, d)), rng.uniform(size=(n, d))
        h = n ** (-1 / (4 + d))
        qs = Q[rng.choice(n, n_queries, replace=False)]
        for box in (None, 1.0):
            ix64 = nw._build_index(X, np.ones((n, 1)), h, box=box)
            leaves = np.flatnonzero(ix64.node_left < 0)
            order, lo, hi, start, end, left, *_ = _nw_kernels.build_tree(X, 8)
            g = np.flatnonzero(left < 0)
            xs = X[order]
            centre = (lo[g] + hi[g]) / 2
            radius = np.array([np.sqrt(((xs[s:e] - c) ** 2).sum(axis=1).max())
                               for s, e, c in zip(start[g], end[g], centre)])
            size = end[g] - start[g]
            # the 8-point tree refines the 64-point one (same splits down to 64 points), so
            # each group lies in the 64-point leaf whose slice holds its first point
            starts64 = ix64.node_start[leaves]
            by_start = np.argsort(starts64)
            parent = by_start[np.searchsorted(starts64[by_start], start[g], side="right") - 1]
            tot = np.zeros(4)
            for q in qs:
                near = _gap2(q, ix64.node_lo[leaves], ix64.node_hi[leaves], box) <= h * h
                to_centre = np.sqrt((_abs_diff(centre, q, box) ** 2).sum(axis=1))
                sphere = near[parent] & (to_centre <= h + radius)
                boxed = _gap2(q, lo[g], hi[g], box) <= h * h
                tot += [((_abs_diff(X, q, box) ** 2).sum(axis=1) <= h * h).sum(),
                        (ix64.node_end[leaves] - ix64.node_start[leaves])[near].sum(),
                        size[boxed].sum(), size[sphere].sum()]
            mean = tot / n_queries
            print(f"| {d} | {n:.0e} | {'torus' if box else 'Euclidean'} | {mean[0]:.0f} | "
                  f"{mean[1]:.0f} | {mean[2]:.0f} | {mean[3]:.0f} | "
                  f"{' / '.join(f'{v:.2f}' for v in mean[1:] / mean[0])} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--n", type=int, nargs="+", default=[10**4, 10**5])
    parser.add_argument("--counts", action="store_true")
    args = parser.parse_args(argv)
    stages(args.d, args.n)
    if args.counts:
        counts(args.d, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
