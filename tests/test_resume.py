"""Resume: finished cells survive a kill, corrupted ones are recomputed, failed ones retried."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kdtheory import montecarlo
from kdtheory.montecarlo import config_key, run_study
from kdtheory.rates import main

# Large cells first: the 4 cells at n = 80000 take a while each, so a kill lands mid-study.
STUDY = ["--example", "underfit", "--sample-sizes", "20000,40000,80000", "--replications", "4",
         "--seed", "3", "--n-jobs", "1", "--no-plot", "--no-progress"]
N_CELLS = 12
GRID = {"sample_sizes": [60, 120], "n_replications": 2, "seed": 4, "progress": False}


def _cell_files(cache_dir):
    return sorted(Path(cache_dir).glob("*/n*_r*.json"))


def _run(argv, out_dir, tag):
    """main(argv) writing JSON and CSV; returns (summary without metadata, metadata, records)."""
    paths = {ext: out_dir / f"{tag}.{ext}" for ext in ("json", "csv")}
    main(argv + ["--json", str(paths["json"]), "--csv", str(paths["csv"])])
    summary = json.loads(paths["json"].read_text())
    with open(paths["csv"], newline="") as fh:
        records = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
    return summary, summary.pop("metadata"), records


def _strip(records):
    return json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in records])


def test_killed_study_resumes_with_identical_results(tmp_path):
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "kdtheory.rates", *STUDY,
                             "--cache-dir", str(cache)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_cell_files(cache)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = len(_cell_files(cache))
    assert 2 <= stored < N_CELLS, f"the kill did not land mid-study ({stored} cells stored)"

    resumed, meta, resumed_records = _run(STUDY + ["--cache-dir", str(cache)], tmp_path, "res")
    assert meta["cells_from_cache"] == stored  # only the missing cells were computed
    assert len(_cell_files(cache)) == N_CELLS
    fresh, fresh_meta, fresh_records = _run(STUDY, tmp_path, "fresh")
    assert fresh_meta["cells_from_cache"] == 0
    assert resumed == fresh
    assert resumed_records == fresh_records


def test_ctrl_c_exits_130_saying_how_many_cells_are_safe(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    real_run_cell, calls = montecarlo.run_cell, []

    def interrupted_at_the_fourth_cell(*args):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_run_cell(*args)

    monkeypatch.setattr(montecarlo, "run_cell", interrupted_at_the_fourth_cell)
    argv = ["--example", "underfit", "--sample-sizes", "60,120,240", "--replications", "2",
            "--n-jobs", "1", "--no-plot", "--cache-dir", str(cache)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(_cell_files(cache)) == 3
    assert len(err) == 1 and "3 of 6 cells are safe" in err[0] and str(cache) in err[0], err
    assert "rerun the same command" in err[0]


@pytest.mark.parametrize("damage", ["truncate", "tamper", "wrong cell"])
def test_damaged_cell_file_is_reported_and_recomputed(damage, tmp_path, capsys):
    reference = run_study("underfit", cache_dir=tmp_path, **GRID)
    victim, other = _cell_files(tmp_path)[:2]
    text = victim.read_text()
    if damage == "truncate":
        victim.write_text(text[: len(text) // 2])
    elif damage == "tamper":  # still valid JSON, one number changed
        payload = json.loads(text)
        payload["records"][0]["error"] *= 1.5
        victim.write_text(json.dumps(payload))
    else:  # a valid file of another cell under this cell's name
        victim.write_text(other.read_text())
    capsys.readouterr()
    rerun = run_study("underfit", cache_dir=tmp_path, **GRID)
    err = capsys.readouterr().err
    assert str(victim) in err and "recomputing" in err, err
    assert rerun.metadata["cells_from_cache"] == rerun.metadata["cells"] - 1
    assert _strip(rerun.records) == _strip(reference.records)
    assert _strip(json.loads(victim.read_text())["records"]) == \
        _strip(json.loads(text)["records"])  # stored again, repaired


def test_failed_cell_is_recorded_not_cached_and_retried(tmp_path, monkeypatch):
    reference = run_study("underfit", **GRID)
    real_run_cell = montecarlo.run_cell

    def fails_once(example_name, params, n, replication, seed):
        if (n, replication) == (120, 1):
            raise RuntimeError("boom")
        return real_run_cell(example_name, params, n, replication, seed)

    monkeypatch.setattr(montecarlo, "run_cell", fails_once)
    broken = run_study("underfit", cache_dir=tmp_path, **GRID)
    failed = [r for r in broken.records if (r["n"], r["replication"]) == (120, 1)]
    assert [r["status"] for r in failed] == ["error"] * len(montecarlo.METHODS)
    assert all(r["message"] == "RuntimeError: boom" and np.isnan(r["error"]) for r in failed)
    assert len(broken.failures) == len(failed)
    assert not list(tmp_path.glob("*/n120_r1.json"))

    monkeypatch.setattr(montecarlo, "run_cell", real_run_cell)
    retried = run_study("underfit", cache_dir=tmp_path, **GRID)
    assert retried.metadata["cells_from_cache"] == retried.metadata["cells"] - 1
    assert _strip(retried.records) == _strip(reference.records)


@pytest.mark.parametrize("change", [
    {"seed": 1}, {"params": {"clip": 0.01}}, {"params": {"n_folds": 3}},
    {"params": {"enhanced_alpha": 1.0}}, {"params": {"p0": (0.3, 0.3, 0.4)}},
    {"example": "overfit"}, {"version": "999"},
])
def test_cache_key_covers_the_configuration_and_version(change, monkeypatch):
    base = {"example": "underfit", "params": {}, "seed": 0}
    if "version" in change:
        monkeypatch.setattr(montecarlo, "__version__", change["version"])
    config = {**base, **{k: v for k, v in change.items() if k != "version"}}

    def key(example, params, seed):
        ex = montecarlo.get_example(example)
        return config_key(ex.name, ex.resolve(params), seed)

    changed = key(**config)
    monkeypatch.undo()
    assert changed != key(**base)


def test_a_different_configuration_never_reuses_cells(tmp_path):
    run_study("underfit", cache_dir=tmp_path, **GRID)
    other = run_study("underfit", {"clip": 0.01}, cache_dir=tmp_path, **GRID)
    assert other.metadata["cells_from_cache"] == 0
    grown = run_study("underfit", cache_dir=tmp_path, **{**GRID, "sample_sizes": [60, 120, 240]})
    assert grown.metadata["cells_from_cache"] == 4  # a larger grid reuses the matching cells
