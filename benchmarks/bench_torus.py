"""The periodic teacher (boxsize=1) against the Euclidean one and against periodic peers.

    python benchmarks/bench_torus.py [--d 1 2 5] [--n 10000 100000] [--max-peer-pairs 3e8]
        [--skip-peers] [--baseline REV]

Setting as in bench_nadaraya_watson.py (X, queries ~ U[0,1)^d, n = m, binary labels, singular
kernel, a = d/4, h = n^(-1/(4+d)), the same h for both geometries), side by side in one run,
each (implementation, d, n) in a fresh process (median of 9 runs for the kdtheory rows, 3 at
n = 1e5; peers 3 runs, 1 at n = 1e5):

- ``kdtheory``: NadarayaWatsonTeacher (Euclidean, the reference for "time / euclid");
- ``kdtheory_torus``: NadarayaWatsonTeacher(boxsize=1.0);
- ``scipy_ckdtree_torus``: cKDTree(boxsize=1) sparse_distance_matrix, then the weighted sums;
- ``sklearn_ghost_torus``: scikit-learn has no periodic metric short of a Python callable
  (orders of magnitude slower), so the honest peer replicates the training points within h of
  each face (ghost images, coordinate by coordinate: 1 + 2h times more points per coordinate)
  and runs radius_neighbors_graph on them; h < 1/2 makes every neighbour image unique.

``--baseline REV`` adds ``kdtheory@REV`` and ``kdtheory_torus@REV``: the two teachers as committed
at git revision REV (``git archive`` into a temporary directory), measured in the same run
("time / euclid" and "time / torus" stay relative to the working tree's rows).
"pairs within h" counts minimum-image pairs (torus rows) or Euclidean pairs (Euclidean row);
"time / pair bound" divides by pairs x 3.8 ns as in RESULTS.md, "time / pair cost" by pairs x
the cost of one fast power evaluation and label sum per pair measured in the same worker right
after the timed runs (bench_nadaraya_watson.pair_cost; baseline rows and peers: that of the
latest kdtheory row);
"per pair / euclid" is the time per pair within h over the Euclidean teacher's (the torus has
more pairs: no ball is cut by a face). A peer whose work would exceed
``--max-peer-pairs`` is extrapolated from n = 1e4 by the pair count ("~"). "max |dp|" is the
largest difference from kdtheory_torus's probabilities (same data): the peers compute the same
estimator. "CPU s" is the median CPU time of the worker process (all its threads; less
disturbed by other jobs than the wall time). The last column is the 1-minute load average when
the row finished.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package
from _machine import baseline_env, run_header  # noqa: E402
from bench_nadaraya_watson import (  # noqa: E402
    NS_PER_PAIR, _data, _load, _singular_sums, measure, pair_cost)

IMPLS = ["kdtheory", "kdtheory_torus", "scipy_ckdtree_torus", "sklearn_ghost_torus"]


def run_kdtheory(X, y, Q, h, a):
    from kdtheory.teachers import NadarayaWatsonTeacher
    return NadarayaWatsonTeacher(bandwidth=h, a=a).fit(X, y).predict_proba(Q)[:, 1]


def run_kdtheory_torus(X, y, Q, h, a):
    from kdtheory.teachers import NadarayaWatsonTeacher
    return NadarayaWatsonTeacher(bandwidth=h, a=a, boxsize=1.0).fit(X, y).predict_proba(Q)[:, 1]


def run_scipy_ckdtree_torus(X, y, Q, h, a):
    from scipy.spatial import cKDTree
    pairs = cKDTree(Q, boxsize=1.0).sparse_distance_matrix(cKDTree(X, boxsize=1.0), h,
                                                           output_type="coo_matrix")
    return _singular_sums(pairs.row, pairs.col, (pairs.data / h) ** -a, y, Q.shape[0])


def ghosts(X, h, box=1.0):
    """(points, source row): X plus its images shifted by +-box along each coordinate whose
    value lies within h of a face, applied coordinate after coordinate (so corners get their
    diagonal images); every point within h of a query in [0, box)^d has exactly one image."""
    P, src = X, np.arange(X.shape[0])
    for j in range(X.shape[1]):
        low, high = P[:, j] < h, P[:, j] >= box - h
        up, down = P[low].copy(), P[high].copy()
        up[:, j] += box
        down[:, j] -= box
        P, src = np.vstack([P, up, down]), np.concatenate([src, src[low], src[high]])
    return P, src


def run_sklearn_ghost_torus(X, y, Q, h, a):
    from sklearn.neighbors import NearestNeighbors
    P, src = ghosts(X, h)
    graph = NearestNeighbors(radius=h, n_jobs=-1).fit(P).radius_neighbors_graph(
        Q, mode="distance")
    graph.data = (graph.data / h) ** -a
    return np.asarray(graph @ y[src]).ravel() / np.asarray(graph.sum(axis=1)).ravel()


def worker(impl, d, n, reps, out_path):
    baseline = impl.endswith("@baseline")
    if baseline:
        sys.path.insert(0, os.environ["KDT_BASELINE_PATH"])  # before the working tree
        for name in [m for m in sys.modules if m == "kdtheory" or m.startswith("kdtheory.")]:
            del sys.modules[name]
        impl = impl.split("@")[0]
    X, y, Q = _data(d, n)
    h, a = n ** (-1 / (4 + d)), d / 4
    fn = globals()[f"run_{impl}"]
    seconds, peak, p, cpu = measure(fn, (*_data(d, 200), 0.45, a), (X, y, Q, h, a), reps)
    np.save(out_path, p)
    cost = pair_cost(d) if impl.startswith("kdtheory") and not baseline else None
    print(json.dumps(dict(seconds=seconds, peak_mib=peak, cpu=cpu, pair_cost=cost)))


def count_pairs(d, n, box):
    from scipy.spatial import cKDTree
    X, _, Q = _data(d, n)
    kw = {} if box is None else {"boxsize": box}
    return int(cKDTree(Q, **kw).count_neighbors(cKDTree(X, **kw), n ** (-1 / (4 + d))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--n", type=int, nargs="+", default=[10**4, 10**5])
    parser.add_argument("--max-peer-pairs", type=float, default=3e8)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--baseline", metavar="REV", help="also time both teachers at git REV")
    args = parser.parse_args(argv)
    impls = IMPLS[:2] if args.skip_peers else list(IMPLS)
    if args.baseline:
        impls[2:2] = ["kdtheory@baseline", "kdtheory_torus@baseline"]
    env = baseline_env(args.baseline)
    tmp = tempfile.mkdtemp(prefix="kdt-torus-")
    print(run_header(args.baseline))
    print("| d | n = m | implementation | median s | CPU s | peak extra MiB | time / euclid | "
          "CPU / euclid | time / torus | per pair / euclid | pairs within h | time / pair bound | "
          "time / pair cost | max abs dp | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in args.d:
        at_1e4 = {}
        for n in args.n:
            pairs = {None: count_pairs(d, n, None), 1.0: count_pairs(d, n, 1.0)}
            secs, cpus, ref, cost = {}, {}, None, None
            for impl in impls:
                ours = impl.startswith("kdtheory")
                npair = pairs[None if impl.split("@")[0] == "kdtheory" else 1.0]
                mark, dp = "", ""
                if (not ours and npair * 5 > args.max_peer_pairs and n > 10**4
                        and impl in at_1e4):
                    rec = dict(seconds=at_1e4[impl][0] * npair / at_1e4[impl][1],
                               cpu=at_1e4[impl][2] * npair / at_1e4[impl][1],
                               peak_mib=float("nan"), pair_cost=None)
                    mark = "~"
                else:
                    path = os.path.join(tmp, f"{impl}-{d}-{n}.npy")
                    reps = 9 if ours and n <= 10**4 else 3 if ours or n <= 10**4 else 1
                    out = subprocess.run([sys.executable, __file__, "--worker", impl, str(d),
                                          str(n), str(reps), path],
                                         capture_output=True, text=True, check=True, env=env)
                    rec = json.loads(out.stdout.strip().splitlines()[-1])
                    p = np.load(path)
                    if impl == "kdtheory_torus":
                        ref = p
                    elif impl.split("@")[0] != "kdtheory" and ref is not None:
                        dp = f"{np.abs(p - ref).max():.1e}"
                if n == 10**4:
                    at_1e4[impl] = (rec["seconds"], npair, rec["cpu"])
                secs[impl], cpus[impl] = rec["seconds"], rec["cpu"]
                cost = rec["pair_cost"] or cost
                torus = secs.get("kdtheory_torus", float("nan"))
                name = impl.replace("@baseline", f"@{args.baseline}")
                print(f"| {d} | {n:.0e} | {name} | {mark}{rec['seconds']:.3g} | "
                      f"{mark}{rec['cpu']:.3g} | {rec['peak_mib']:.0f} | "
                      f"{mark}{rec['seconds'] / secs['kdtheory']:.2f} | "
                      f"{mark}{rec['cpu'] / cpus['kdtheory']:.2f} | "
                      f"{mark}{rec['seconds'] / torus:.2f} | "
                      f"{mark}{rec['seconds'] / npair / (secs['kdtheory'] / pairs[None]):.2f} | "
                      f"{npair:.2e} | {rec['seconds'] / (npair * NS_PER_PAIR):.2f} | "
                      f"{rec['seconds'] / (npair * cost):.2f} | {dp} | {_load():.1f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(main())
