"""The k-d tree teacher's candidate compaction, per point: the 8-lane vector code against the
plain loops, on runs of 8 to 128 points (the tree's runs are 109-138 points long on average at
d = 5, many of them shorter).

    python benchmarks/bench_lanes.py [--d 5] [--runs 8 16 64 128]

Times :func:`kdtheory.teachers._lanes.compact_run` and :func:`_nw_kernels._compact_loop` on
the same random runs of a (d, 4096) coordinate array (about a tenth of the points within
reach), Euclidean and on the torus, in one process; prints ns per point (best of 5) and
``_lanes.KIND``, the packing the compile target gets (``"avx512"``: compress; ``"avx2"``:
permutation table; ``None``: the teacher keeps the loop). To time the AVX2 packing on an
AVX-512 machine, run it for an AVX2 target::

    NUMBA_CPU_NAME=haswell NUMBA_CACHE_DIR=$(mktemp -d) \\
    NUMBA_CPU_FEATURES=+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+lzcnt,+movbe,\\
+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave python benchmarks/bench_lanes.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from numba import njit

sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package
from kdtheory.teachers import _lanes  # noqa: E402
from kdtheory.teachers import _nw_kernels as nwk  # noqa: E402

_REACH2 = 0.3  # d = 5, uniform points and query: about a tenth of the points within reach


@njit
def _time_lanes(xt, q, run, reps, cr2, cidx, box):
    total = 0
    for r in range(reps):
        s = (r * 37) % (xt.shape[1] - run)
        total += _lanes.compact_run(q, xt, s, s + run, _REACH2, cr2, cidx, 0, box)
    return total


@njit
def _time_loop(xt, q, run, reps, r2, cr2, cidx, box):
    total = 0
    for r in range(reps):
        s = (r * 37) % (xt.shape[1] - run)
        total += nwk._compact_loop(q, xt, s, s + run, _REACH2, r2, cr2, cidx, 0, box)
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=5)
    parser.add_argument("--runs", type=int, nargs="+", default=[8, 16, 64, 128])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    xt = np.ascontiguousarray(rng.uniform(size=(args.d, 4096)))
    q = rng.uniform(size=args.d)
    print(f"# KIND = {_lanes.KIND}; ns per point, best of 5")
    print("| space | run | lanes | loop | loop / lanes |")
    print("|---|---|---|---|---|")
    for box in (None, 1.0):
        for run in args.runs:
            size = run + _lanes.WIDTH
            r2, cr2, cidx = np.empty(size), np.empty(size), np.empty(size, np.int64)
            reps = 2_000_000 // run
            counts, best = [], {}
            for name, kernel, buffers in (("lanes", _time_lanes, (cr2, cidx)),
                                          ("loop", _time_loop, (r2, cr2, cidx))):
                counts.append(kernel(xt, q, run, reps, *buffers, box))  # compile
                for _ in range(5):
                    t0 = time.perf_counter()
                    kernel(xt, q, run, reps, *buffers, box)
                    best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)
            assert counts[0] == counts[1], counts  # both found the same points
            ns = {k: v / (reps * run) * 1e9 for k, v in best.items()}
            print(f"| {'torus' if box else 'Euclidean'} | {run} | {ns['lanes']:.2f} | "
                  f"{ns['loop']:.2f} | {ns['loop'] / ns['lanes']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
