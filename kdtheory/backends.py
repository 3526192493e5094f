"""Where the cells of a study run: this process, joblib workers, or a Dask cluster.

:func:`finished_cells` yields each finished cell as ``(n, replication, records)`` in
completion order, whatever the backend; the engine (:mod:`kdtheory.montecarlo`) consumes them
the same way. Inner Numba and BLAS threads are capped in workers so that cells running at once
times their threads never exceed the cores.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

BACKENDS = ("joblib", "dask")


def threads_per_cell(cores, cells_at_once):
    """Inner Numba/BLAS threads per cell so that cells x threads does not exceed the cores."""
    return max(1, (cores or 1) // cells_at_once)


@contextlib.contextmanager
def thread_cap(n_threads):
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


def check_backend(backend, scheduler):
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


def finished_cells(task, spec, todo, *, backend, n_jobs, scheduler):
    """Yield ``task(spec, n, replication, n_threads)`` for each (n, replication) of ``todo``.

    ``task`` returns ``(n, replication, records)`` and must not raise (failures are records);
    results arrive in completion order.
    """
    if backend == "dask":
        yield from _dask_cells(task, spec, todo, n_jobs, scheduler)
    elif n_jobs == 1:
        for n, r in todo:
            yield task(spec, n, r, None)
    else:
        from joblib import Parallel, delayed

        threads = threads_per_cell(os.cpu_count(), n_jobs)
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(task)(spec, n, r, threads) for n, r in todo)


def _dask_cells(task, spec, todo, n_jobs, scheduler):
    """:func:`finished_cells` on a Dask cluster: the one at ``scheduler``, or a local one.

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
        threads = dask_threads_per_cell(client)
        futures = [client.submit(task, spec, n, r, threads, pure=False) for n, r in todo]
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


def dask_threads_per_cell(client):
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
    return min((threads_per_cell(host_cores[h], slots[h]) for h in slots), default=1)
