r"""The Monte Carlo engine of rate studies: cells (example, n, replication) -> records.

One *cell* draws one data set of size n, fits the teacher once on all n points (vanilla), once
per fold (cross-fit) and once on a random half (sample-split), and evaluates every method on
those shared teacher outputs, so that the methods differ only in what the theory says they
differ in. It returns one record per method.

Seeding: cell (example, n, replication) uses
``np.random.SeedSequence(seed, spawn_key=(example_id, n, replication))`` split into child
streams for the data, the folds and the learners. The spawn key holds n itself rather than its
index in the grid, so a cell's result does not depend on which other sizes are in the grid
(and the cache can reuse it when the grid grows). Results are therefore bitwise identical for
any execution order, backend (:mod:`kdtheory.backends`) or ``n_jobs``.

A study is described once by a :class:`kdtheory.spec.StudySpec`; finished cells can be stored
in a :class:`kdtheory.cache.CellCache` so that an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from . import __version__
from ._validation import check_int, one_hot
from .backends import check_backend, finished_cells, thread_cap
from .bounds import bound_terms, student_delta_sq, teacher_errors
from .cache import CellCache, cell_ok, config_key, package_versions
from .crossfit import fit_on_splits, make_folds
from .distill import ClipWarning, CrossFitKD, EnhancedKD, SampleSplitKD, TargetedKD, VanillaKD
from .plan import estimate
from .progress import Progress
from .results import StudyResult
from .spec import StudySpec

RECORD_FIELDS = (
    "example", "n", "replication", "method", "error", "teacher_train_error",
    "teacher_test_error", "teacher_test_error4", "teacher_split_error", "fallback_rate",
    "clip_rate", "alpha", "delta_n_sq", "teacher_term", "gamma_bias", "gamma_variance",
    "bound", "seconds", "status", "message",
)


def cell_seed(seed: int, example_id: int, n: int, replication: int) -> np.random.SeedSequence:
    """The cell's SeedSequence (see the module docstring)."""
    return np.random.SeedSequence(seed, spawn_key=(example_id, n, replication))


def _timed_teacher(teacher, X, labels, splits, k):
    tic = time.perf_counter()
    proba, teachers = fit_on_splits(teacher, X, labels, splits, n_classes=k)
    return proba, teachers, time.perf_counter() - tic


def run_cell(spec: StudySpec, n: int, replication: int) -> list:
    r"""Evaluate every method of the study's example on one draw of size n.

    The teachers are fit once per split scheme (vanilla, sample-split, cross-fit) and shared:
    cross-fit, enhanced and targeted KD see the same out-of-fold outputs. Teacher errors and
    bound terms come from :mod:`kdtheory.bounds`. ``seconds`` is the method's own fit time plus
    its teacher time.

    Parameters
    ----------
    spec : StudySpec
        Validated once; ``n`` and ``replication`` are trusted to be one of its cells.
    n, replication : int

    Returns
    -------
    list of dict, one per method, with keys :data:`RECORD_FIELDS`.
    """
    example, params = spec.example, spec.params
    data_ss, fold_ss, learner_ss = cell_seed(spec.seed, example.example_id, n,
                                             replication).spawn(3)
    X, labels = example.sample(n, params, np.random.default_rng(data_ss))
    p0 = example.p0(X, params)
    k = p0.shape[1]
    teacher, student = example.make_teacher(params), example.make_student(params)
    fold_rng = np.random.default_rng(fold_ss)
    folds = make_folds(n, params["n_folds"], random_state=fold_rng)
    halves = make_folds(n, 2, random_state=fold_rng)
    kw = {"clip": params["clip"], "n_classes": k}
    cross = {"n_folds": params["n_folds"], **kw}
    options = example.distiller_options(params)  # {} (SEL), or loss="ace" with its beta
    estimators = {
        "vanilla": VanillaKD(teacher, student, alpha=0.0, **kw, **options),
        "sample_split": SampleSplitKD(teacher, student, alpha=0.0, **kw, **options),
        "crossfit": CrossFitKD(teacher, student, alpha=0.0, **cross, **options),
        "enhanced": EnhancedKD(teacher, student, alpha=params["enhanced_alpha"],
                               random_state=np.random.default_rng(learner_ss), **cross,
                               **options),
    }
    if "targeted" in example.methods:  # SEL examples only (register checks it)
        estimators["targeted"] = TargetedKD(teacher, student, **cross)
    method_folds = {"vanilla": None, "sample_split": halves, "crossfit": folds, "enhanced": folds,
                    "targeted": folds}
    p_vanilla, _, t_vanilla = _timed_teacher(
        teacher, X, labels, estimators["vanilla"].make_splits(np.zeros((1, n), np.int64)), k)
    p_cross, cross_teachers, t_cross = _timed_teacher(
        teacher, X, labels, estimators["crossfit"].make_splits(folds), k)
    p_split, _, t_split = _timed_teacher(
        teacher, X, labels, estimators["sample_split"].make_splits(halves), k)
    teacher_out = {"vanilla": (p_vanilla, t_vanilla), "sample_split": (p_split, t_split),
                   "crossfit": (p_cross, t_cross), "enhanced": (p_cross, t_cross),
                   "targeted": (p_cross, t_cross)}

    common = {
        "example": example.name, "n": n, "replication": replication,
        **teacher_errors(p0, p_vanilla[0], p_cross[0], p_split[0], clip=params["clip"],
                         cross_teachers=cross_teachers[0]),
        "status": "ok", "message": "",
    }
    delta_sq = student_delta_sq(example.student_kind(params), n, params["n_folds"])
    y = one_hot(labels, k)
    records = []
    for method in example.methods:
        estimator = estimators[method]
        proba, t_teacher = teacher_out[method]
        tic = time.perf_counter()
        with warnings.catch_warnings():  # the records carry clip_rate; no warning per cell
            warnings.simplefilter("ignore", ClipWarning)
            estimator.fit(X, labels, teacher_proba=proba, folds=method_folds[method])
        seconds = t_teacher + time.perf_counter() - tic
        records.append({
            **common, "method": method,
            "error": example.student_error(estimator, params),
            "alpha": float(np.mean(estimator.alpha_)),
            **bound_terms(method, estimator, y, p0, delta_sq[method], common,
                          clip=params["clip"]),
            "seconds": seconds,
        })
    return [{key: rec[key] for key in RECORD_FIELDS} for rec in records]


def _failed_cell(spec, n, replication, exc) -> list:
    message = f"{type(exc).__name__}: {exc}"
    return [{**{key: float("nan") for key in RECORD_FIELDS}, "example": spec.example_name,
             "n": n, "replication": replication, "method": method, "status": "error",
             "message": message} for method in spec.example.methods]


def cell_task(spec, n, replication, n_threads=None):
    """``(n, replication, records)`` of :func:`run_cell`, a failure turned into records of
    status "error" (never raised); inner threads capped at ``n_threads``."""
    try:
        with thread_cap(n_threads):
            records = run_cell(spec, n, replication)
    except Exception as exc:  # recorded, reported and retried on rerun, never cached
        records = _failed_cell(spec, n, replication, exc)
    return n, replication, records


class CacheWriteError(RuntimeError):
    """A finished cell could not be stored (disk full, permissions); the cells stored before
    it are safe and a rerun resumes from them."""


def run_study(example, params=None, *, sample_sizes=None, n_replications=None, seed=0,
              quick=False, n_jobs=1, cache_dir=None, progress=True, backend=None,
              scheduler=None, force=False) -> StudyResult:
    """Run every cell (n, replication) of a rate study.

    Parameters
    ----------
    example : str or StudySpec
        A registered example (:data:`kdtheory.examples.EXAMPLES`), with ``params``,
        ``sample_sizes``, ``n_replications``, ``seed`` and ``quick`` as in
        :meth:`kdtheory.spec.StudySpec.create`; or a ready StudySpec (those then stay unset).
    n_jobs : int
        joblib workers (1: run in this process), or the workers of the local Dask cluster;
        inner Numba/BLAS threads are capped so that workers x threads does not exceed the cores.
    cache_dir : path, optional
        Store finished cells there and skip them on a rerun (:class:`kdtheory.cache.CellCache`).
    progress : bool
        Progress on stderr for runs longer than a couple of seconds.
    backend : {"joblib", "dask"}, optional
        Default: "dask" if ``scheduler`` is given, else "joblib". "dask" without a scheduler
        starts a local cluster on 127.0.0.1 with ``n_jobs`` single-threaded worker processes
        (as with joblib, a script doing this needs an ``if __name__ == "__main__":`` guard).
        Needs the ``kdtheory[dask]`` extra.
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://HOST:PORT"``); its workers must be able
        to import kdtheory. ``n_jobs`` is then ignored: the cluster decides. A cell whose worker
        dies is run again on another worker (Dask reschedules it), with the same result.
    force : bool
        Run even when the plan (:func:`kdtheory.plan.estimate`) needs more memory than is
        available.

    Returns
    -------
    StudyResult
        Records identical (bitwise, except ``seconds``) for any backend, ``n_jobs`` or
        resumption.

    Raises
    ------
    ValueError
        A bad argument (named, with its value), an unusable ``cache_dir``, a study that does
        not fit in memory (unless ``force``) or an unreachable scheduler.
    CacheWriteError
        A finished cell could not be written to ``cache_dir``; the cells before it are safe.
    ImportError
        ``backend="dask"`` without dask.distributed installed.
    KeyboardInterrupt
        Re-raised after reporting on stderr how many finished cells are safe in the cache.
    """
    if isinstance(example, StudySpec):
        if params is not None or sample_sizes is not None or n_replications is not None \
                or quick or seed != 0:
            raise ValueError("give either a StudySpec or the study's arguments, not both")
        spec = example
    else:
        spec = StudySpec.create(example, params, sample_sizes=sample_sizes,
                                n_replications=n_replications, seed=seed, quick=quick)
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    backend = check_backend(backend, scheduler)
    plan = estimate(spec, n_jobs)
    if not plan.fits and not force:
        raise ValueError(f"the study does not fit in memory: {plan}; use fewer replications "
                         f"or smaller sample sizes, or force=True (--force)")

    key = config_key(spec)
    cache = _open_cache(cache_dir, key) if cache_dir else None
    tasks = spec.cells()
    results, todo = {}, []
    for n, r in tasks:
        cached = cache.load(n, r) if cache else None
        if cached is not None:
            results[(n, r)] = cached
        else:
            todo.append((n, r))
    from_cache = len(results)

    meter = Progress(len(tasks), sum(n for n, _ in tasks), enabled=progress)
    meter.update(len(results), sum(n for n, _ in results), timed=False)
    tic = time.perf_counter()
    # The smallest cell runs here first, so that Numba compiles (or loads) the kernels once;
    # the workers then load them from the on-disk cache instead of all compiling at once.
    # Then the largest cells first: better load balance and an honest ETA early on.
    first = [min(todo)] if todo else []
    rest = sorted(set(todo) - set(first), key=lambda t: (-t[0], t[1]))
    cells = _cells_in_order(spec, first, rest, meter, backend=backend, n_jobs=n_jobs,
                            scheduler=scheduler)
    try:
        with contextlib.closing(cells):
            for n, r, records in cells:
                results[(n, r)] = records
                if cache:
                    try:
                        cache.store(n, r, records)
                    except OSError as exc:
                        safe = sum(map(cell_ok, results.values())) - 1
                        raise CacheWriteError(
                            f"cannot store a finished cell in {cache.dir} ({exc}); {safe} of "
                            f"{len(tasks)} cells are safe there: make room or fix the "
                            f"directory, then rerun the same command to resume") from exc
                meter.update(1, n)
    except KeyboardInterrupt:
        meter.close()
        _report_interrupt(results, len(tasks), cache)
        raise
    except CacheWriteError:
        meter.close()
        raise
    meter.close()

    records = [rec for key_ in sorted(results) for rec in results[key_]]
    metadata = {
        "versions": {"python": platform.python_version(), "kdtheory": __version__,
                     **package_versions(("numpy", "scipy", "numba", "scikit-learn",
                                         "statsmodels", "joblib"))},
        "platform": platform.platform(), "n_jobs": n_jobs, "backend": backend,
        "scheduler": scheduler, "cells": len(tasks), "cells_from_cache": from_cache,
        "cache_dir": os.fspath(cache_dir) if cache_dir else None,
        "wall_seconds": time.perf_counter() - tic, "config_key": key,
        "estimated_seconds": plan.seconds, "estimated_peak_bytes": plan.peak_bytes,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        **git_revision(),
    }
    return StudyResult(spec, records, metadata)


def _cells_in_order(spec, first, rest, meter, **backend):
    """Yield the cells of ``first`` computed in this process, then those of ``rest`` from the
    backend. Past one second the progress line says why the first cell can be slow (a first
    run compiles the Numba kernels). Closing the generator closes the backend."""
    for n, r in first:
        timer = threading.Timer(1.0, meter.note, args=(
            "first cell: compiling the Numba kernels (first run after installing only; "
            "cached afterwards) ...",))
        timer.daemon = True
        timer.start()
        try:
            yield cell_task(spec, n, r)
        finally:
            timer.cancel()
    yield from finished_cells(cell_task, spec, rest, **backend)


def _open_cache(cache_dir, key):
    """The :class:`CellCache` under ``cache_dir``, or a ValueError saying why it is unusable."""
    try:
        return CellCache(cache_dir, key)
    except OSError as exc:
        raise ValueError(f"cache_dir {os.fspath(cache_dir)!r} is not a usable directory: "
                         f"{exc.strerror or exc}") from None


def git_revision() -> dict:
    """``git_commit`` (and ``git_dirty``) of the kdtheory source when it is a git checkout."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, ".git")):
        return {}
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "kdtheory"],
                               capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": bool(dirty.strip())}


def _report_interrupt(results, total, cache):
    if cache:
        safe = sum(map(cell_ok, results.values()))
        print(f"kdtheory: interrupted; {safe} of {total} cells are safe in {cache.dir}; "
              f"rerun the same command (same configuration and cache directory) to resume",
              file=sys.stderr)
    else:
        print(f"kdtheory: interrupted after {len(results)} of {total} cells; none are "
              f"stored: use --cache-dir (cache_dir=) to make a study resumable",
              file=sys.stderr)
