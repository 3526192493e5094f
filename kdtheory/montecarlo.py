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

Backends: cells run in this process (``n_jobs=1``), on joblib workers, or on a Dask
distributed cluster (``backend="dask"``: a local cluster on 127.0.0.1, or an existing one via
``scheduler="tcp://HOST:PORT"``). Every backend yields finished cells to the same collector,
which stores them in the cache and updates the progress meter.

Finished cells can be stored in ``cache_dir`` (one JSON file per cell, written atomically), so
an interrupted study resumes where it stopped; see :class:`CellCache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from ._validation import check_int, one_hot
from .crossfit import crossfit_predict, fit_teacher_proba, make_folds
from .distill import CrossFitKD, EnhancedKD, SampleSplitKD, VanillaKD
from .examples import METHODS, get_example
from .losses import gamma_rule
from .radius import student_critical_radius

RECORD_FIELDS = (
    "example", "n", "replication", "method", "error", "teacher_train_error",
    "teacher_test_error", "teacher_test_error4", "teacher_split_error", "fallback_rate",
    "clip_rate", "alpha", "delta_n_sq", "teacher_term", "gamma_bias", "gamma_variance",
    "bound", "seconds", "status", "message",
)

BACKENDS = ("joblib", "dask")


def cell_seed(seed: int, example_id: int, n: int, replication: int) -> np.random.SeedSequence:
    """The cell's SeedSequence (see the module docstring)."""
    return np.random.SeedSequence(seed, spawn_key=(example_id, n, replication))


def resolve_params(example, params=None, *, min_n):
    """The example's parameters (:meth:`Example.resolve`) checked for cells of size >= ``min_n``.

    Adds what a cell needs beyond the example's own checks: ``n_folds`` at most the smallest
    sample size.

    Raises
    ------
    ValueError
        Naming the parameter and its value.
    """
    params = example.resolve(params)
    if params["n_folds"] > min_n:
        raise ValueError(f"n_folds must be <= the smallest sample size {min_n}, "
                         f"got {params['n_folds']}")
    return params


TEACHER_TERM = {"vanilla": "teacher_train_error", "sample_split": "teacher_split_error",
                "crossfit": "teacher_test_error", "enhanced": "teacher_test_error4"}
"""The record field holding each method's teacher term (MATH.md 8)."""


def bound_terms(method, estimator, y, p0, delta_n_sq, teacher_term, *, clip):
    r"""The terms of the method's bound on the student error (MATH.md 8), on one draw.

    With m the rows the student uses, :math:`\hat p` the clipped teacher output on them and
    :math:`\gamma` the correction weights of each split's alpha:

    * ``teacher_term`` (computed once per cell by :func:`run_cell`, passed in): vanilla :math:`\|\hat p - p_0\|_n^2` (training points);
      sample-split and cross-fit :math:`\|\hat p - p_0\|^2` on held-out points; enhanced
      :math:`\|\hat p - p_0\|_4^4` on held-out points;
    * ``gamma_bias`` :math:`\frac1m\sum_i\|(\gamma_i - 1/\hat p_i)(p_0 - \hat p_i)\|^2`, the
      first-order teacher error the correction leaves (0 at alpha = inf); enhanced only;
    * ``gamma_variance`` :math:`\frac{1}{m^2}\sum_i \|\gamma_i (y_i - \hat p_i)\|^2`, the
      label noise the correction adds to the mean pseudo-target (0 at alpha = 0); enhanced only;
    * ``bound`` = 1/m + ``delta_n_sq`` + ``teacher_term`` (+ the two gamma terms for enhanced).

    The bounds hold up to constants, so a study reports ``error / bound`` and checks that it
    stays bounded in n rather than below 1.
    """
    proba = estimator.teacher_proba_[0]
    used = ~np.isnan(proba[:, 0])
    m = int(used.sum())
    terms = {"delta_n_sq": delta_n_sq, "teacher_term": teacher_term, "gamma_bias": 0.0,
             "gamma_variance": 0.0}
    if method == "enhanced":
        p_hat = np.clip(proba, clip, 1.0)
        gamma = np.zeros_like(p_hat)
        for t, (_, rows) in enumerate(estimator._splits(estimator.folds_)[0]):
            gamma[rows] = gamma_rule(p_hat[rows], y[rows], alpha=estimator.alpha_[0, t],
                                     clip=clip)
        g, p, yy, pp0 = gamma[used], p_hat[used], y[used], p0[used]
        terms["gamma_bias"] = float(np.mean(np.sum(((g - 1 / p) * (pp0 - p)) ** 2, axis=1)))
        terms["gamma_variance"] = float(np.sum((g * (yy - p)) ** 2) / m**2)
    terms["bound"] = 1.0 / m + sum(terms.values())
    return terms


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

    Parameters
    ----------
    example_name : str
        A registered example (:data:`kdtheory.examples.EXAMPLES`).
    params : dict
        Overrides of the example's defaults.
    n : int >= the example's ``min_n``
    replication : int >= 0
    seed : int >= 0

    Returns
    -------
    list of dict, one per method, with keys :data:`RECORD_FIELDS`.
    """
    example = get_example(example_name)
    n = check_int(n, "n", minimum=example.min_n)
    replication = check_int(replication, "replication", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    params = resolve_params(example, params, min_n=n)
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
        "teacher_split_error": float(np.mean(np.sum(
            (p_split[0, student_half] - p0[student_half]) ** 2, axis=1))),
        "fallback_rate": _fallback_rate(cf_teachers[0], n),
        "clip_rate": float(np.mean(p_cross[0] < params["clip"])),
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
    # Critical radius of the student class at the size each student's teacher split leaves
    # (MATH.md 8: delta_n for vanilla, delta_{n/B} for cross-fitting), b = 1.
    student_kind = example.student_kind(params)
    delta_sq = {size: student_critical_radius(student_kind, size).delta_sq
                for size in {n, n // 2, n // params["n_folds"]}}
    method_size = {"vanilla": n, "sample_split": n // 2, "crossfit": n // params["n_folds"],
                   "enhanced": n // params["n_folds"]}
    y = one_hot(labels, k)
    records = []
    for method in METHODS:
        estimator, proba, method_folds, t_teacher = setups[method]
        tic = time.perf_counter()
        estimator.fit(X, labels, teacher_proba=proba, folds=method_folds)
        seconds = t_teacher + time.perf_counter() - tic
        records.append({
            **common, "method": method,
            "error": example.student_error(estimator, params),
            "alpha": float(np.mean(estimator.alpha_)),
            **bound_terms(method, estimator, y, p0, delta_sq[method_size[method]],
                          common[TEACHER_TERM[method]], clip=params["clip"]),
            "seconds": seconds,
        })
    return [{key: rec[key] for key in RECORD_FIELDS} for rec in records]


def _cell_ok(records) -> bool:
    return all(rec["status"] == "ok" for rec in records)


def _failed_cell(example_name, n, replication, exc) -> list:
    message = f"{type(exc).__name__}: {exc}"
    return [{**{key: float("nan") for key in RECORD_FIELDS}, "example": example_name, "n": n,
             "replication": replication, "method": method, "status": "error",
             "message": message} for method in METHODS]


def _threads_per_cell(cores, cells_at_once):
    """Inner Numba/BLAS threads per cell so that cells x threads does not exceed the cores."""
    return max(1, (cores or 1) // cells_at_once)


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
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def config_key(example_name: str, params: dict, seed: int) -> str:
    """Hash of everything a cell's result depends on except (n, replication).

    That is the example, its full resolved parameters, the seed, and the versions of kdtheory
    and NumPy (whose random streams and arithmetic produce the numbers). Grid and backend are
    not part of it: a cell does not depend on them (module docstring).
    """
    payload = json.dumps({"example": example_name, "params": _jsonable(params), "seed": seed,
                          "kdtheory": __version__, "numpy": np.__version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class CellCache:
    """One JSON file per finished cell under ``cache_dir/<config key>/``.

    Writes are atomic (temporary file + ``os.replace``), in JSON (safe to load, unlike pickle).
    Each file carries the configuration key (:func:`config_key`), its cell (n, replication) and
    a SHA-256 of its records; a truncated, corrupted or mismatching file is reported on stderr
    and recomputed, never used. Failed cells are never stored, so a rerun retries them.
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
        """The cell's stored records, or None if absent or unusable (reported on stderr)."""
        path = self._path(n, replication)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as fh:
                payload = json.load(fh)
            records = payload["records"]
            if (payload["key"], payload["n"], payload["replication"]) != (self.key, n,
                                                                           replication):
                raise ValueError("configuration or cell mismatch")
            if payload["sha256"] != self._digest(records):
                raise ValueError("checksum mismatch")
            return records
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"kdtheory: cached cell {path} is unreadable ({exc}); recomputing it",
                  file=sys.stderr)
            return None

    def store(self, n, replication, records):
        """Write a finished cell atomically; cells with a failed record are not stored."""
        if not _cell_ok(records):
            return
        payload = {"key": self.key, "n": n, "replication": replication,
                   "sha256": self._digest(records), "records": records}
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(n, replication))
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise


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
        """The successful records of one method (:data:`kdtheory.examples.METHODS`)."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
        return [r for r in self.records if r["method"] == method and r["status"] == "ok"]

    @property
    def failures(self):
        return [r for r in self.records if r["status"] != "ok"]


def check_sample_sizes(sample_sizes, min_n):
    """At least 2 distinct integer sizes >= ``min_n``, sorted."""
    if np.ndim(sample_sizes) != 1:
        raise ValueError(f"sample_sizes must be a sequence of integers, got {sample_sizes!r}")
    sizes = [check_int(n, f"sample_sizes[{i}]", minimum=min_n)
             for i, n in enumerate(sample_sizes)]
    if len(set(sizes)) != len(sizes) or len(sizes) < 2:
        raise ValueError(f"sample_sizes must hold at least 2 distinct sizes, got {sizes}")
    return sorted(sizes)


def run_study(example_name, params=None, *, sample_sizes=None, n_replications=None, seed=0,
              n_jobs=1, quick=False, cache_dir=None, progress=True, backend=None,
              scheduler=None):
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
        joblib workers (1: run in this process), or the workers of the local Dask cluster;
        inner Numba/BLAS threads are capped so that workers x threads does not exceed the cores.
    cache_dir : path, optional
        Store finished cells there and skip them on a rerun (:class:`CellCache`).
    progress : bool
        Progress on stderr for runs longer than a couple of seconds.
    backend : {"joblib", "dask"}, optional
        Default: "dask" if ``scheduler`` is given, else "joblib". "dask" without a scheduler
        starts a local cluster on 127.0.0.1 with ``n_jobs`` single-threaded worker processes
        (as with joblib, a script doing this needs an ``if __name__ == "__main__":`` guard).
        Needs the ``kdtheory[dask]`` extra.
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://HOST:PORT"``); its workers must be able
        to import kdtheory. ``n_jobs`` is then ignored: the cluster decides.

    Returns
    -------
    StudyResult
        Records identical (bitwise, except ``seconds``) for any backend, ``n_jobs`` or
        resumption.

    Raises
    ------
    ValueError
        A bad argument (named, with its value) or an unreachable scheduler.
    ImportError
        ``backend="dask"`` without dask.distributed installed.
    KeyboardInterrupt
        Re-raised after reporting on stderr how many finished cells are safe in the cache.
    """
    example = get_example(example_name)
    seed = check_int(seed, "seed", minimum=0)
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    if sample_sizes is None:
        sample_sizes = example.quick_sample_sizes if quick else example.sample_sizes
    sizes = check_sample_sizes(sample_sizes, example.min_n)
    if n_replications is None:
        n_replications = example.quick_replications if quick else example.replications
    reps = check_int(n_replications, "n_replications", minimum=2)
    params = resolve_params(example, params, min_n=sizes[0])
    backend = _check_backend(backend, scheduler)

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

    # Largest cells first: better load balance and an honest ETA early on.
    todo.sort(key=lambda t: -t[0])
    cells = _finished_cells(example.name, params, seed, todo, backend=backend, n_jobs=n_jobs,
                            scheduler=scheduler)
    try:
        with contextlib.closing(cells):
            for n, r, records in cells:
                on_result(n, r, records)
    except KeyboardInterrupt:
        meter.close()
        if cache:
            safe = sum(map(_cell_ok, results.values()))
            print(f"kdtheory: interrupted; {safe} of {len(tasks)} cells are safe in "
                  f"{cache.dir}; rerun the same command (same configuration and cache "
                  f"directory) to resume", file=sys.stderr)
        else:
            print(f"kdtheory: interrupted after {len(results)} of {len(tasks)} cells; none "
                  f"are stored: use --cache-dir (cache_dir=) to make a study resumable",
                  file=sys.stderr)
        raise
    meter.close()

    records = [rec for key in sorted(results) for rec in results[key]]
    metadata = {
        "versions": _versions(), "platform": platform.platform(),
        "n_jobs": n_jobs, "backend": backend, "scheduler": scheduler,
        "cells": len(tasks), "cells_from_cache": len(tasks) - len(todo),
        "wall_seconds": time.perf_counter() - tic,
        "config_key": config_key(example.name, params, seed),
    }
    return StudyResult(example.name, params, sizes, reps, seed, records, metadata)


def _versions():
    """Versions of Python and of every package whose code produces a study's numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "kdtheory": __version__}
    for package in ("numpy", "scipy", "numba", "scikit-learn", "statsmodels", "joblib"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


# --- Backends -------------------------------------------------------------------------------

def _cell_task(example_name, params, n, replication, seed, n_threads):
    return n, replication, _safe_cell(example_name, params, n, replication, seed, n_threads)


def _check_backend(backend, scheduler):
    """The backend name ("dask" implied by a scheduler); dask.distributed must be importable."""
    if backend is None:
        backend = "joblib" if scheduler is None else "dask"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if scheduler is not None:
        if backend != "dask":
            raise ValueError(f"scheduler needs backend='dask', got backend={backend!r}")
        if not isinstance(scheduler, str) or not scheduler:
            raise ValueError(f"scheduler must be an address like 'tcp://HOST:PORT', "
                             f"got {scheduler!r}")
    if backend == "dask":
        _import_distributed()
    return backend


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("the Dask backend needs dask.distributed, which is not installed: "
                          "pip install 'kdtheory[dask]'") from exc
    return distributed


def _finished_cells(example_name, params, seed, todo, *, backend, n_jobs, scheduler):
    """Yield (n, replication, records) for each cell (n, replication) of ``todo`` as it finishes.

    The cells run on the chosen backend and arrive in completion order; the one consumer is
    :func:`run_study`, which caches them and counts progress the same way for every backend.
    """
    if backend == "dask":
        yield from _dask_cells(example_name, params, seed, todo, n_jobs, scheduler)
    elif n_jobs == 1:
        for n, r in todo:
            yield _cell_task(example_name, params, n, r, seed, None)
    else:
        from joblib import Parallel, delayed

        threads = _threads_per_cell(os.cpu_count(), n_jobs)
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_cell_task)(example_name, params, n, r, seed, threads) for n, r in todo)


def _dask_cells(example_name, params, seed, todo, n_jobs, scheduler):
    """:func:`_finished_cells` on a Dask cluster: the one at ``scheduler``, or a local one.

    One future per cell, consumed with ``distributed.as_completed``. Closing the generator
    (end of the study, error or Ctrl-C) closes the client, which cancels unfinished cells, and
    the local cluster if one was started.
    """
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        target = scheduler  # an address, or the local cluster started here
        if target is None:
            with _sigint_ignored():
                target = stack.enter_context(distributed.LocalCluster(
                    n_workers=n_jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR))
        try:
            client = stack.enter_context(distributed.Client(target))
        except (OSError, ValueError) as exc:  # unreachable, or not an address
            raise ValueError(f"cannot connect to the Dask scheduler {scheduler!r}: {exc}") \
                from exc
        threads = _dask_threads_per_cell(client)
        futures = [client.submit(_cell_task, example_name, params, n, r, seed, threads,
                                 pure=False) for n, r in todo]
        for future in distributed.as_completed(futures):
            yield future.result()


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT while starting worker processes, which inherit that.

    Ctrl-C then reaches only this process, which shuts the workers down, instead of every
    worker printing a traceback. (A Ctrl-C during the few seconds of startup is lost.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _dask_threads_per_cell(client):
    """Inner Numba/BLAS threads per cell on a Dask cluster.

    Per host: its cores over the cells it runs at once (the sum of its workers' threads); the
    smallest value over hosts, so that no host is oversubscribed.
    """
    from distributed.comm import get_address_host

    cores = client.run(os.cpu_count)
    slots, host_cores = {}, {}
    for address, n_threads in client.nthreads().items():
        host = get_address_host(address)
        slots[host] = slots.get(host, 0) + n_threads
        host_cores[host] = cores.get(address)
    return min((_threads_per_cell(host_cores[h], slots[h]) for h in slots), default=1)
