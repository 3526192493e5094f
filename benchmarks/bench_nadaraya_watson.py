"""Speed and memory of NadarayaWatsonTeacher against peers with the same singular kernel.

    /work/venv/bin/python benchmarks/bench_nadaraya_watson.py [--max-peer-pairs 3e8]
        [--baseline REV] [--d 1 2 5] [--n 1000 10000 100000] [--skip-peers] [--skip-overfit]

Setting (docs/theory.md §5.2, benchmarks/RESULTS.md): X, queries ~ U[0,1]^d, n = m, binary labels,
singular kernel ||u||^(-a) on the unit ball, a = d/4, h = n^(-1/(4+d)). Each (implementation,
d, n) runs in a fresh process: median wall seconds of fit + predict_proba over 3 runs (1 at
n = 1e5) and peak RSS growth during them (VmHWM reset through /proc/self/clear_refs). A peer whose
cost would exceed ``--max-peer-pairs`` candidate pairs is extrapolated from n = 1e4 (time scaled
by n*m for brute force, by pairs within h for neighbour lists) and marked "~". ``--baseline
REV`` adds the teacher as committed at git revision REV (extracted with ``git archive`` into a
temporary directory), measured in the same run. "time / pair bound" divides by pairs x 3.8 ns
(a fixed figure from an earlier machine); "time / pair cost" by pairs x the cost per pair of one
fast power evaluation and label sum on a contiguous slice (the column index's inner step),
measured in the kdtheory worker right after its timed runs (:func:`pair_cost`; baseline rows
use it too), which follows the machine's speed of the moment. The last column is the 1-minute
load average when the row finished (2 cores: above 2 means the measurement shared the CPUs).
Then: compile / load time in a fresh process, and the overfit replication: teacher part
(vanilla + 5-fold cross-fit) at d = 2, and end to end with
``kdtheory.montecarlo.run_cell("overfit", ...)``, split into teacher fit + predict time and the
rest.
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

from _machine import baseline_env, run_header
from _machine import load as _load

NS_PER_PAIR = 3.8e-9  # one fast power evaluation per pair on 2 threads (benchmarks/RESULTS.md)
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


def run_baseline(X, y, Q, h, a):
    """The teacher of another revision: the worker put its extracted tree first on sys.path."""
    return run_kdtheory(X, y, Q, h, a)



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
    if impl == "baseline":
        sys.path.insert(0, os.environ["KDT_BASELINE_PATH"])
    X, y, Q = _data(d, n)
    h, a = n ** (-1 / (4 + d)), d / 4
    fn = globals()[f"run_{impl}"]
    seconds, peak, p, _ = measure(fn, (*_data(d, 200), 200 ** (-1 / (4 + d)), a),
                               (X, y, Q, h, a), reps)
    print(json.dumps(dict(impl=impl, d=d, n=n, seconds=seconds, peak_mib=peak,
                          checksum=float(np.nansum(p)),
                          pair_cost=pair_cost(d) if impl == "kdtheory" else None)))


def measure(fn, warm_args, args, reps):
    """(median seconds, peak extra MiB, last result, median CPU seconds of this process) of
    ``fn(*args)`` over ``reps`` runs, after one warm-up call ``fn(*warm_args)`` (compiled code
    and imports loaded). The CPU seconds (all threads) are disturbed less by other jobs on the
    machine than the wall time."""
    fn(*warm_args)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM)
    base = _rss_mib("VmRSS:")
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        p = fn(*args)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(times)), _rss_mib("VmHWM:") - base, p, float(np.median(cpu))


def pair_cost(d, reps=40000, size=1024):
    """Wall seconds per pair within h of the least work a pair needs, measured now in this
    process: one fast power evaluation and one label sum per pair, as the column index does it
    on a contiguous slice (``_nw_kernels._weights`` with the singular kernel, a = d/4, then
    ``_accumulate_slice``) on slices of ``size`` pairs with r2 in (0, h^2], on as many threads
    at once as the teacher uses (``numba.get_num_threads()``). The workers call it right after
    their timed runs: unlike the fixed NS_PER_PAIR it follows the machine's speed of the moment.
    The k-d tree (d >= 5) pays more per pair: its label sums gather compacted indices."""
    from concurrent.futures import ThreadPoolExecutor

    import numba

    from kdtheory.teachers import _nw_kernels as nwk

    h2 = (10**4 ** (-1 / (4 + d))) ** 2
    rng = np.random.default_rng(3)
    threads = numba.get_num_threads()

    @numba.njit(nogil=True)
    def repeat(r2, yt, h2, a, reps):
        w, acc, total = np.empty(r2.size), np.zeros(yt.shape[0]), 0
        for _ in range(reps):
            nwk._weights(r2, r2.size, nwk.SINGULAR, h2, a, w)
            total += nwk._accumulate_slice(yt, 0, w, r2.size, acc)
        return total

    bufs = [(h2 * (1.0 - rng.uniform(size=size)), np.eye(2)[rng.integers(0, 2, size)].T.copy())
            for _ in range(threads)]
    repeat(*bufs[0], h2, d / 4, 1)  # compile
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda b: repeat(*b, h2, d / 4, reps), bufs))
        seconds = time.perf_counter() - t0
    return seconds / (threads * reps * size)


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


def run_cell_worker(d, n):
    """One overfit replication end to end (the rate studies' unit of work), with the time spent
    in NadarayaWatsonTeacher.fit / predict_proba measured by wrapping them."""
    import kdtheory.teachers.nadaraya_watson as nw
    from kdtheory.montecarlo import run_cell
    spent = {"fit": 0.0, "predict": 0.0}

    def timed(name, method):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    run_cell("overfit", {"d": d}, 200, 0, 1)  # load compiled code, caches of the rest
    cls = nw.NadarayaWatsonTeacher
    cls.fit, cls.predict_proba = timed("fit", cls.fit), timed("predict", cls.predict_proba)
    t0 = time.perf_counter()
    run_cell("overfit", {"d": d}, n, 0, 0)
    total = time.perf_counter() - t0
    print(json.dumps(dict(d=d, n=n, seconds=total, teacher_fit=spent["fit"],
                          teacher_predict=spent["predict"], load=_load())))


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
    print(json.dumps(dict(n=n, seconds=time.perf_counter() - t0, n_fallback=n_fallback,
                          load=_load())))



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-peer-pairs", type=float, default=3e8,
                        help="extrapolate a peer beyond this many candidate pairs")
    parser.add_argument("--baseline", metavar="REV", help="also time the teacher at git REV")
    parser.add_argument("--d", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--n", type=int, nargs="+", default=[10**3, 10**4, 10**5])
    parser.add_argument("--skip-peers", action="store_true", help="only kdtheory (+ baseline)")
    parser.add_argument("--skip-overfit", action="store_true")
    args = parser.parse_args(argv)
    impls = ["kdtheory"] + ([] if args.skip_peers else IMPLS[1:])
    if args.baseline:
        impls.insert(1, "baseline")
    env = baseline_env(args.baseline)
    print(run_header(args.baseline))
    print("| d | n = m | implementation | median s | peak extra MiB | time / kdtheory | "
          "pairs within h | pairs/s | time / pair bound | time / pair cost | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in args.d:
        pairs, ours, cost, peers_1e4 = {}, {}, {}, {}
        for n in args.n:
            pairs[n] = count_pairs(d, n)
            for impl in impls:
                work = n * n if impl == "numpy_brute" else pairs[n] * 5
                if (impl not in ("kdtheory", "baseline") and work > args.max_peer_pairs
                        and n > 10**4 and impl in peers_1e4):
                    scale = (n / 10**4) ** 2 if impl == "numpy_brute" else pairs[n] / pairs[10**4]
                    rec = dict(seconds=peers_1e4[impl] * scale, peak_mib=float("nan"))
                    mark = "~"
                else:
                    rec = _spawn("--worker", impl, d, n, 1 if n >= 10**5 else 3, env=env)
                    mark = ""
                if n == 10**4:
                    peers_1e4[impl] = rec["seconds"]
                if impl == "kdtheory":
                    ours[n], cost[n] = rec["seconds"], rec["pair_cost"]
                extra = (f"{pairs[n]:.2e} | {pairs[n] / rec['seconds']:.2e} | "
                         f"{rec['seconds'] / (pairs[n] * NS_PER_PAIR):.2f} | "
                         f"{rec['seconds'] / (pairs[n] * cost[n]):.2f}"
                         if impl in ("kdtheory", "baseline") else " | | | ")
                name = f"kdtheory@{args.baseline}" if impl == "baseline" else impl
                print(f"| {d} | {n:.0e} | {name} | {mark}{rec['seconds']:.3g} | "
                      f"{rec['peak_mib']:.0f} | {mark}{rec['seconds'] / ours[n]:.1f} | {extra} | "
                      f"{_load():.1f} |", flush=True)
    if args.skip_overfit:
        return 0
    with tempfile.TemporaryDirectory() as cache:
        cache_env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = _spawn("--startup", env=cache_env)
        warm = _spawn("--startup", env=cache_env)
    print(f"\nfresh process, import + first call (d=2, n=1e3): cold (compiling) "
          f"{cold['import_s']:.2f} + {cold['first_call_s']:.2f} s; cached "
          f"{warm['import_s']:.2f} + {warm['first_call_s']:.2f} s")
    for n in (10**4, 10**5):
        rec = _spawn("--overfit", n)
        print(f"overfit replication, teacher part (vanilla + 5-fold cross-fit), d=2, n={n:.0e}: "
              f"{rec['seconds']:.3f} s ({rec['n_fallback']} fallbacks; load {rec['load']:.1f})")
    for d, n in ((2, 10**4), (2, 10**5), (5, 10**4)):
        rec = _spawn("--run-cell", d, n)
        teacher = rec["teacher_fit"] + rec["teacher_predict"]
        print(f"run_cell('overfit', d={d}, n={n:.0e}) end to end: {rec['seconds']:.3f} s, of "
              f"which teacher fit {rec['teacher_fit']:.3f} s + predict "
              f"{rec['teacher_predict']:.3f} s, rest {rec['seconds'] - teacher:.3f} s "
              f"(load {rec['load']:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1:2] == ["--startup"]:
        startup_worker()
    elif sys.argv[1:2] == ["--overfit"]:
        overfit_worker(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--run-cell"]:
        run_cell_worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(main())
