r"""The Monte Carlo engine of rate studies: cells (example, n, replication) -> records.

One *cell* draws one data set of size n, fits the teacher once on all n points (vanilla), once
per fold (cross-fit) and once on a random half (sample-split), and evaluates every method on
those shared teacher outputs, so that the methods differ only in what the theory says they
differ in. It returns one record per method.

Seeding (DESIGN.md): cell (example, n, replication) uses
``np.random.SeedSequence(seed, spawn_key=(example_id, n, replication))`` split into child
streams for the data, the folds and the learners. The spawn key holds n itself rather than its
index in the grid, so a cell's result does not depend on which other sizes are in the grid
(and a cache can reuse it when the grid grows). Results are therefore bitwise identical for
any execution order, backend or ``n_jobs``.

Finished cells can be stored in ``cache_dir`` (one JSON file per cell, written atomically), so
an interrupted study resumes where it stopped; see :class:`CellCache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from ._validation import check_int
from .crossfit import crossfit_predict, fit_teacher_proba, make_folds
from .distill import CrossFitKD, EnhancedKD, SampleSplitKD, VanillaKD
from .examples import METHODS, get_example

RECORD_FIELDS = (
    "example", "n", "replication", "method", "error", "teacher_train_error",
    "teacher_test_error", "teacher_test_error4", "fallback_rate", "alpha", "seconds",
    "status", "message",
)


def cell_seed(seed: int, example_id: int, n: int, replication: int) -> np.random.SeedSequence:
    """The cell's SeedSequence (see the module docstring)."""
    return np.random.SeedSequence(seed, spawn_key=(example_id, n, replication))


def _fallback_rate(teachers, n):
    counts = [getattr(t, "n_fallback_", None) for t in teachers]
    return float(sum(counts) / n) if all(c is not None for c in counts) else float("nan")


def run_cell(example_name: str, params: dict, n: int, replication: int, seed: int) -> list:
    r"""Evaluate every method of the example on one draw of size n.

    Teacher errors (MATH.md 1): ``teacher_train_error`` is :math:`\|\hat p - p_0\|_n^2` of the
    vanilla teacher on its own training points; ``teacher_test_error`` is
    :math:`\frac1n\sum_i \|\hat p^{(t(i))}(x_i) - p_0(x_i)\|^2` over the cross-fit teachers'
    held-out points (an unbiased estimate of :math:`\mathrm{mean}_t \|\hat p^{(t)} - p_0\|_2^2`),
    and ``teacher_test_error4`` the same with fourth powers (the enhanced bound's term).
    ``fallback_rate`` is the fraction of cross-fit queries answered by the teacher's fallback
    (NaN for teachers that do not count). ``seconds`` is the method's own fit time plus its
    teacher time.

    Returns
    -------
    list of dict, one per method, with keys :data:`RECORD_FIELDS`.
    """
    example = get_example(example_name)
    params = example.resolve(params)
    data_ss, fold_ss, learner_ss = cell_seed(seed, example.example_id, n, replication).spawn(3)
    X, labels = example.sample(n, params, np.random.default_rng(data_ss))
    p0 = example.p0(X, params)
    k = p0.shape[1]
    teacher = example.make_teacher(params)
    fold_rng = np.random.default_rng(fold_ss)
    folds = make_folds(n, params["n_folds"], random_state=fold_rng)
    halves = make_folds(n, 2, random_state=fold_rng)

    tic = time.perf_counter()
    p_vanilla, _ = fit_teacher_proba(teacher, X, labels, X, k)
    t_vanilla = time.perf_counter() - tic
    tic = time.perf_counter()
    p_cross, cf_teachers = crossfit_predict(teacher, X, labels, folds, n_classes=k,
                                            return_teachers=True)
    t_cross = time.perf_counter() - tic
    tic = time.perf_counter()
    student_half = halves[0] == 1
    p_split = np.full((1, n, k), np.nan)
    p_split[0, student_half], _ = fit_teacher_proba(
        teacher, X[~student_half], labels[~student_half], X[student_half], k)
    t_split = time.perf_counter() - tic

    common = {
        "example": example.name, "n": n, "replication": replication,
        "teacher_train_error": float(np.mean(np.sum((p_vanilla - p0) ** 2, axis=1))),
        "teacher_test_error": float(np.mean(np.sum((p_cross[0] - p0) ** 2, axis=1))),
        "teacher_test_error4": float(np.mean(np.sum((p_cross[0] - p0) ** 4, axis=1))),
        "fallback_rate": _fallback_rate(cf_teachers[0], n),
        "status": "ok", "message": "",
    }
    student = example.make_student(params)
    kw = {"clip": params["clip"], "n_classes": k}
    learner_rng = np.random.default_rng(learner_ss)
    setups = {
        "vanilla": (VanillaKD(teacher, student, alpha=0.0, **kw), p_vanilla, None, t_vanilla),
        "sample_split": (SampleSplitKD(teacher, student, alpha=0.0, **kw), p_split, halves,
                         t_split),
        "crossfit": (CrossFitKD(teacher, student, n_folds=params["n_folds"], alpha=0.0, **kw),
                     p_cross, folds, t_cross),
        "enhanced": (EnhancedKD(teacher, student, n_folds=params["n_folds"],
                                alpha=params["enhanced_alpha"], random_state=learner_rng, **kw),
                     p_cross, folds, t_cross),
    }
    records = []
    for method in METHODS:
        estimator, proba, method_folds, t_teacher = setups[method]
        tic = time.perf_counter()
        estimator.fit(X, labels, teacher_proba=proba, folds=method_folds)
        records.append({
            **common, "method": method,
            "error": example.student_error(estimator, params),
            "alpha": float(np.mean(estimator.alpha_)),
            "seconds": t_teacher + time.perf_counter() - tic,
        })
    return [{key: rec[key] for key in RECORD_FIELDS} for rec in records]


def _failed_cell(example_name, n, replication, exc) -> list:
    message = f"{type(exc).__name__}: {exc}"
    return [{**{key: float("nan") for key in RECORD_FIELDS}, "example": example_name, "n": n,
             "replication": replication, "method": method, "status": "error",
             "message": message} for method in METHODS]


@contextlib.contextmanager
def _thread_cap(n_threads):
    """Cap Numba and BLAS threads inside a worker (no oversubscription with n_jobs > 1)."""
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        numba.set_num_threads(old)


def _safe_cell(example_name, params, n, replication, seed, n_threads=None):
    """run_cell, with a failure turned into records of status "error" (never raised)."""
    try:
        with _thread_cap(n_threads):
            return run_cell(example_name, params, n, replication, seed)
    except Exception as exc:  # recorded, reported and retried on rerun, never cached
        return _failed_cell(example_name, n, replication, exc)


# --- Resume ---------------------------------------------------------------------------------

def _jsonable(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def config_key(example_name: str, params: dict, seed: int) -> str:
    """Hash of everything a cell's result depends on except (n, replication)."""
    payload = json.dumps({"example": example_name, "params": _jsonable(params), "seed": seed,
                          "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class CellCache:
    """One JSON file per finished cell under ``cache_dir/<config key>/``.

    Writes are atomic (temporary file + ``os.replace``). Each file carries the configuration
    key and a SHA-256 of its records; a truncated, corrupted or mismatching file is reported on
    stderr and recomputed, never used. Failed cells are never stored.
    """

    def __init__(self, cache_dir, key):
        self.dir = os.path.join(os.fspath(cache_dir), key)
        self.key = key
        os.makedirs(self.dir, exist_ok=True)

    def _path(self, n, replication):
        return os.path.join(self.dir, f"n{n}_r{replication}.json")

    @staticmethod
    def _digest(records):
        return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()

    def load(self, n, replication):
        path = self._path(n, replication)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as fh:
                payload = json.load(fh)
            records = payload["records"]
            if payload["key"] != self.key or payload["sha256"] != self._digest(records):
                raise ValueError("checksum or configuration mismatch")
            return records
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"kdtheory: cached cell {path} is unreadable ({exc}); recomputing it",
                  file=sys.stderr)
            return None

    def store(self, n, replication, records):
        if any(rec["status"] != "ok" for rec in records):
            return
        payload = {"key": self.key, "n": n, "replication": replication,
                   "sha256": self._digest(records), "records": records}
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path(n, replication))


# --- Progress -------------------------------------------------------------------------------

class Progress:
    """Cells done / total, elapsed and ETA on stderr, once a run has lasted ``after`` seconds.

    The ETA weighs each cell by its sample size n (larger cells take longer).
    """

    def __init__(self, total, total_work, *, enabled=True, after=2.0, every=1.0, stream=None):
        self.total, self.done = total, 0
        self.total_work, self.work = total_work, 0.0
        self.enabled, self.after, self.every = enabled, after, every
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()
        self.shown = False

    def update(self, cells=1, work=0.0, *, timed=True):
        """Count finished cells; ``timed=False`` for cells that cost nothing (from the cache)."""
        self.done += cells
        if timed:
            self.work += work
        else:
            self.total_work -= work
        now = time.perf_counter()
        elapsed = now - self.start
        if self.enabled and elapsed >= self.after and (now - self.last >= self.every
                                                       or self.done == self.total):
            left = self.total_work - self.work
            eta = elapsed / self.work * left if self.work else float("nan")
            self.stream.write(f"\rcells {self.done}/{self.total}  elapsed {elapsed:6.1f} s  "
                              f"ETA {eta:6.1f} s ")
            self.stream.flush()
            self.last, self.shown = now, True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


# --- Study ----------------------------------------------------------------------------------

@dataclass
class StudyResult:
    """Records of a finished study plus everything needed to reproduce it."""

    example: str
    params: dict
    sample_sizes: list
    n_replications: int
    seed: int
    records: list
    metadata: dict = field(default_factory=dict)

    def records_for(self, method):
        return [r for r in self.records if r["method"] == method and r["status"] == "ok"]

    @property
    def failures(self):
        return [r for r in self.records if r["status"] != "ok"]


def check_sample_sizes(sample_sizes, min_n):
    sizes = [check_int(n, "sample size", minimum=min_n) for n in sample_sizes]
    if len(set(sizes)) != len(sizes) or len(sizes) < 2:
        raise ValueError(f"sample_sizes must hold at least 2 distinct sizes, got {sizes}")
    return sorted(sizes)


def run_study(example_name, params=None, *, sample_sizes=None, n_replications=None, seed=0,
              n_jobs=1, quick=False, cache_dir=None, progress=True, backend=None):
    """Run every cell (n, replication) of a rate study.

    Parameters
    ----------
    example_name : str
        A registered example (:data:`kdtheory.examples.EXAMPLES`).
    params : dict, optional
        Overrides of the example's defaults (e.g. ``{"d": 5}``).
    sample_sizes : sequence of int, optional
        Defaults to the example's grid (``quick``: its small grid).
    n_replications : int >= 2, optional
    seed : int
        The one seed everything derives from.
    n_jobs : int
        joblib workers (1: run in this process); inner Numba/BLAS threads are capped so that
        workers x threads does not exceed the cores.
    cache_dir : path, optional
        Store finished cells there and skip them on a rerun (:class:`CellCache`).
    progress : bool
        Progress on stderr for runs longer than a couple of seconds.
    backend : None or a callable (tasks, on_result) -> None
        Alternative executor (the Dask backend plugs in here); None uses joblib.

    Returns
    -------
    StudyResult
    """
    example = get_example(example_name)
    params = example.resolve(params)
    seed = check_int(seed, "seed", minimum=0)
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    sizes = check_sample_sizes(
        sample_sizes or (example.quick_sample_sizes if quick else example.sample_sizes),
        example.min_n)
    reps = check_int(
        n_replications or (example.quick_replications if quick else example.replications),
        "n_replications", minimum=2)

    tasks = [(n, r) for n in sizes for r in range(reps)]
    cache = CellCache(cache_dir, config_key(example.name, params, seed)) if cache_dir else None
    results, todo = {}, []
    for n, r in tasks:
        cached = cache.load(n, r) if cache else None
        if cached is not None:
            results[(n, r)] = cached
        else:
            todo.append((n, r))

    meter = Progress(len(tasks), sum(n for n, _ in tasks), enabled=progress)
    meter.update(len(results), sum(n for n, _ in results), timed=False)
    tic = time.perf_counter()

    def on_result(n, r, records):
        results[(n, r)] = records
        if cache:
            cache.store(n, r, records)
        meter.update(1, n)

    try:
        # Largest cells first: better load balance and an honest ETA early on.
        todo.sort(key=lambda t: -t[0])
        if backend is not None:
            backend(example.name, params, seed, todo, on_result)
        elif n_jobs == 1:
            for n, r in todo:
                on_result(n, r, _safe_cell(example.name, params, n, r, seed))
        else:
            from joblib import Parallel, delayed

            threads = max(1, (os.cpu_count() or 1) // n_jobs)
            gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_cell_task)(example.name, params, n, r, seed, threads) for n, r in todo)
            for n, r, records in gen:
                on_result(n, r, records)
    except KeyboardInterrupt:
        meter.close()
        where = (f"stored in {cache.dir}; rerun the same command to resume"
                 if cache else "not stored (use --cache-dir to make runs resumable)")
        print(f"kdtheory: interrupted after {len(results)} of {len(tasks)} cells; finished "
              f"cells are {where}", file=sys.stderr)
        raise
    meter.close()

    records = [rec for key in sorted(results) for rec in results[key]]
    metadata = {
        "kdtheory": __version__, "python": platform.python_version(),
        "numpy": np.__version__, "platform": platform.platform(),
        "n_jobs": n_jobs, "cells": len(tasks), "cells_from_cache": len(tasks) - len(todo),
        "wall_seconds": time.perf_counter() - tic,
        "config_key": config_key(example.name, params, seed),
    }
    return StudyResult(example.name, params, sizes, reps, seed, records, metadata)


def _cell_task(example_name, params, n, replication, seed, n_threads):
    return n, replication, _safe_cell(example_name, params, n, replication, seed, n_threads)
