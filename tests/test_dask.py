"""The Dask distributed backend: records identical to a one-process run; clear errors."""

import json
import os
import sys

import pytest

from kdtheory.backends import dask_threads_per_cell, threads_per_cell
from kdtheory.examples import METHODS
from kdtheory.montecarlo import run_study
from kdtheory.rates import main

GRID = {"sample_sizes": [60, 120, 240], "n_replications": 2}
CLI_GRID = ["--example", "underfit", "--sample-sizes", "60,120,240", "--replications", "3",
            "--seed", "5", "--no-plot", "--no-progress"]
NO_DASK = "dask.distributed is not installed (pip install 'kdtheory[dask]')"


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason=NO_DASK)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as local:
        yield local


def test_scheduler_gives_records_identical_to_one_process(cluster, tmp_path):
    local = run_study("underfit", seed=5, n_jobs=1, progress=False, **GRID)
    remote = run_study("underfit", seed=5, scheduler=cluster.scheduler_address,
                       cache_dir=tmp_path, progress=False, **GRID)
    assert json.dumps(_strip(remote.records)) == json.dumps(_strip(local.records))
    assert remote.metadata["backend"] == "dask"
    assert remote.metadata["scheduler"] == cluster.scheduler_address
    # The cells the cluster stored serve a local rerun unchanged (timings included).
    rerun = run_study("underfit", seed=5, n_jobs=1, cache_dir=tmp_path, progress=False, **GRID)
    assert rerun.metadata["cells_from_cache"] == rerun.metadata["cells"] == 6
    assert json.dumps(rerun.records) == json.dumps(remote.records)


def test_worker_threads_are_capped_to_the_cores_per_cell(cluster):
    from distributed import Client

    with Client(cluster) as client:
        assert dask_threads_per_cell(client) == threads_per_cell(os.cpu_count(), 2)


def test_cli_local_dask_cluster_matches_one_process(tmp_path):
    pytest.importorskip("distributed", reason=NO_DASK)
    main(CLI_GRID + ["--n-jobs", "1", "--json", str(tmp_path / "one.json")])
    main(CLI_GRID + ["--backend", "dask", "--n-jobs", "2", "--json", str(tmp_path / "dask.json")])
    one, dask = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("one", "dask"))
    assert dask.pop("metadata")["backend"] == "dask"
    one.pop("metadata")
    assert dask == one


def test_unreachable_scheduler_is_a_one_line_usage_error(capsys):
    dask = pytest.importorskip("dask", reason=NO_DASK)
    pytest.importorskip("distributed", reason=NO_DASK)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(SystemExit) as exc:
        main(CLI_GRID + ["--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "scheduler 'tcp://127.0.0.1:1'" in lines[0], lines


@pytest.mark.parametrize("how", [{"backend": "dask"}, {"scheduler": "tcp://127.0.0.1:8786"}])
def test_missing_distributed_names_the_extra(how, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ImportError, match=r"pip install 'kdtheory\[dask\]'"):
        run_study("underfit", progress=False, **GRID, **how)
    flag, value = next(iter(how.items()))
    with pytest.raises(SystemExit) as exc:
        main(CLI_GRID + [f"--{flag}", value])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "kdtheory[dask]" in lines[0], lines


def test_a_worker_killed_mid_study_loses_nothing(tmp_path):
    """A real cluster (a scheduler and two worker processes on 127.0.0.1); one worker is
    SIGKILLed once some cells are stored; the study finishes with the one-process records."""
    import signal
    import subprocess
    import threading
    import time

    pytest.importorskip("distributed", reason=NO_DASK)
    from distributed import Client

    grid = {"sample_sizes": [20000, 40000, 80000], "n_replications": 4}
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                    address, "--nthreads", "1", "--no-nanny",
                                    "--host", "127.0.0.1", "--no-dashboard"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for _ in range(2)]
        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        cache = tmp_path / "cache"
        killed = []

        def kill_a_worker_after_two_cells():
            while len(list(cache.glob("*/n*_r*.json"))) < 2 and time.monotonic() < deadline + 120:
                time.sleep(0.02)
            procs[1].send_signal(signal.SIGKILL)
            killed.append(len(list(cache.glob("*/n*_r*.json"))))

        killer = threading.Thread(target=kill_a_worker_after_two_cells)
        killer.start()
        remote = run_study("underfit", seed=2, scheduler=address, cache_dir=cache,
                           progress=False, **grid)
        killer.join()
        assert procs[1].wait(timeout=10) == -signal.SIGKILL
        assert 2 <= killed[0] < 12, "the worker was not killed mid-study"
        local = run_study("underfit", seed=2, n_jobs=1, progress=False, **grid)
        assert json.dumps(_strip(remote.records)) == json.dumps(_strip(local.records))
        assert not remote.failures and len(remote.records) == 12 * len(METHODS)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
