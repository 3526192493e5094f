"""Speed and memory of NadarayaWatsonTeacher against peers with the same singular kernel.

    /work/venv/bin/python benchmarks/bench_nadaraya_watson.py [--max-peer-pairs 3e8]

Setting (MATH.md 5.2, notes/performance.md): X, queries ~ U[0,1]^d, n = m, binary labels,
singular kernel ||u||^(-a) on the unit ball, a = d/4, h = n^(-1/(4+d)). Each (implementation,
d, n) runs in a fresh process: median wall seconds of fit + predict_proba over 3 runs (1 at
n = 1e5) and peak RSS growth during them (VmHWM reset through /proc/self/clear_refs). A peer whose
cost would exceed ``--max-peer-pairs`` candidate pairs is extrapolated from n = 1e4 (time scaled
by n*m for brute force, by pairs within h for neighbour lists) and marked "~". Then: compile /
load time in a fresh process, and one overfit replication (teacher part) at d = 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

NS_PER_PAIR = 3.8e-9  # one fast power evaluation per pair on 2 threads (notes/performance.md)
IMPLS = ["kdtheory", "numpy_brute", "scipy_ckdtree", "sklearn_radius_graph"]


def _data(d, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, d)), rng.integers(0, 2, n), rng.uniform(size=(n, d))


def _singular_sums(w_rows, w_cols, w, labels, m):
    """p_hat[:, 1] from the sparse pairs (row = query, col = training point, weight w)."""
    den = np.bincount(w_rows, w, minlength=m)
    return np.bincount(w_rows, w * labels[w_cols], minlength=m) / den


def run_kdtheory(X, y, Q, h, a):
    from kdtheory.teachers import NadarayaWatsonTeacher
    return NadarayaWatsonTeacher(bandwidth=h, a=a).fit(X, y).predict_proba(Q)[:, 1]


def run_numpy_brute(X, y, Q, h, a, chunk_bytes=32 * 2**20):
    out = np.empty(Q.shape[0])
    step = max(1, chunk_bytes // (8 * X.shape[0]))
    for s in range(0, Q.shape[0], step):
        q = Q[s:s + step]
        r2 = np.zeros((q.shape[0], X.shape[0]))
        for c in range(X.shape[1]):
            r2 += (q[:, c, None] - X[None, :, c]) ** 2
        with np.errstate(divide="ignore"):
            w = np.where(r2 <= h * h, (r2 / (h * h)) ** (-a / 2), 0.0)
        out[s:s + step] = (w @ y) / w.sum(axis=1)
    return out


def run_scipy_ckdtree(X, y, Q, h, a):
    from scipy.spatial import cKDTree
    pairs = cKDTree(Q).sparse_distance_matrix(cKDTree(X), h, output_type="coo_matrix")
    return _singular_sums(pairs.row, pairs.col, (pairs.data / h) ** -a, y, Q.shape[0])


def run_sklearn_radius_graph(X, y, Q, h, a):
    from sklearn.neighbors import NearestNeighbors
    graph = NearestNeighbors(radius=h, n_jobs=-1).fit(X).radius_neighbors_graph(
        Q, mode="distance")
    graph.data = (graph.data / h) ** -a
    return np.asarray(graph @ y).ravel() / np.asarray(graph.sum(axis=1)).ravel()


def _rss_mib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024


def worker(impl, d, n, reps):
    """One measurement in this (fresh) process; prints a JSON record."""
    X, y, Q = _data(d, n)
    h, a = n ** (-1 / (4 + d)), d / 4
    fn = globals()[f"run_{impl}"]
    fn(*_data(d, 200), 200 ** (-1 / (4 + d)), a)  # warm-up: load compiled code, imports
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM)
    base = _rss_mib("VmRSS:")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        p = fn(X, y, Q, h, a)
        times.append(time.perf_counter() - t0)
    peak = _rss_mib("VmHWM:") - base
    print(json.dumps(dict(impl=impl, d=d, n=n, seconds=float(np.median(times)),
                          peak_mib=peak, checksum=float(np.nansum(p)))))


def _spawn(*args, env=None):
    out = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def count_pairs(d, n):
    from scipy.spatial import cKDTree
    X, _, Q = _data(d, n)
    return int(cKDTree(Q).count_neighbors(cKDTree(X), n ** (-1 / (4 + d))))


def startup_worker():
    """Import + first call in this fresh process (the Numba cache decides cold or warm)."""
    t0 = time.perf_counter()
    from kdtheory.teachers import NadarayaWatsonTeacher
    t1 = time.perf_counter()
    X, y, Q = _data(2, 1000)
    NadarayaWatsonTeacher().fit(X, y).predict_proba(Q)
    t2 = time.perf_counter()
    print(json.dumps(dict(import_s=t1 - t0, first_call_s=t2 - t1)))


def overfit_worker(n):
    """Teacher work of one overfit replication, d = 2: the vanilla teacher on its own training
    points, and 5-fold cross-fit teachers each predicting its held-out fold."""
    from kdtheory.teachers import NadarayaWatsonTeacher
    X, y, _ = _data(2, n, seed=1)
    NadarayaWatsonTeacher().fit(X[:200], y[:200]).predict_proba(X[:200])  # load compiled code
    t0 = time.perf_counter()
    vanilla = NadarayaWatsonTeacher().fit(X, y).predict_proba(X)
    folds = np.random.default_rng(2).permutation(n) % 5
    crossfit = np.empty_like(vanilla)
    n_fallback = 0
    for f in range(5):
        teacher = NadarayaWatsonTeacher().fit(X[folds != f], y[folds != f])
        crossfit[folds == f] = teacher.predict_proba(X[folds == f])
        n_fallback += teacher.n_fallback_
    print(json.dumps(dict(n=n, seconds=time.perf_counter() - t0, n_fallback=n_fallback)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-peer-pairs", type=float, default=3e8,
                        help="extrapolate a peer beyond this many candidate pairs")
    args = parser.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print("| d | n = m | implementation | median s | peak extra MiB | time / kdtheory | "
          "pairs within h | pairs/s | time / pair bound |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in (1, 2, 5):
        pairs, ours, peers_1e4 = {}, {}, {}
        for n in (10**3, 10**4, 10**5):
            pairs[n] = count_pairs(d, n)
            for impl in IMPLS:
                work = n * n if impl == "numpy_brute" else pairs[n] * 5
                if impl != "kdtheory" and work > args.max_peer_pairs and n > 10**4:
                    scale = (n / 10**4) ** 2 if impl == "numpy_brute" else pairs[n] / pairs[10**4]
                    rec = dict(seconds=peers_1e4[impl] * scale, peak_mib=float("nan"))
                    mark = "~"
                else:
                    rec = _spawn("--worker", impl, d, n, 1 if n == 10**5 else 3)
                    mark = ""
                if n == 10**4:
                    peers_1e4[impl] = rec["seconds"]
                if impl == "kdtheory":
                    ours[n] = rec["seconds"]
                extra = (f"{pairs[n]:.2e} | {pairs[n] / rec['seconds']:.2e} | "
                         f"{rec['seconds'] / (pairs[n] * NS_PER_PAIR):.2f}"
                         if impl == "kdtheory" else " | | ")
                print(f"| {d} | {n:.0e} | {impl} | {mark}{rec['seconds']:.3g} | "
                      f"{rec['peak_mib']:.0f} | {mark}{rec['seconds'] / ours[n]:.1f} | {extra} |",
                      flush=True)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = _spawn("--startup", env=env)
        warm = _spawn("--startup", env=env)
    print(f"\nfresh process, import + first call (d=2, n=1e3): cold (compiling) "
          f"{cold['import_s']:.2f} + {cold['first_call_s']:.2f} s; cached "
          f"{warm['import_s']:.2f} + {warm['first_call_s']:.2f} s")
    for n in (10**4, 10**5):
        rec = _spawn("--overfit", n)
        print(f"overfit replication, teacher part (vanilla + 5-fold cross-fit), d=2, n={n:.0e}: "
              f"{rec['seconds']:.3f} s ({rec['n_fallback']} fallbacks)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1:2] == ["--startup"]:
        startup_worker()
    elif sys.argv[1:2] == ["--overfit"]:
        overfit_worker(int(sys.argv[2]))
    else:
        sys.exit(main())
