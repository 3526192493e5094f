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

from kdtheory import cache, montecarlo
from kdtheory.cache import config_key
from kdtheory.examples import METHODS
from kdtheory.montecarlo import run_study
from kdtheory.spec import StudySpec
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

    def fails_once(spec, n, replication):
        if (n, replication) == (120, 1):
            raise RuntimeError("boom")
        return real_run_cell(spec, n, replication)

    monkeypatch.setattr(montecarlo, "run_cell", fails_once)
    broken = run_study("underfit", cache_dir=tmp_path, **GRID)
    failed = [r for r in broken.records if (r["n"], r["replication"]) == (120, 1)]
    assert [r["status"] for r in failed] == ["error"] * len(METHODS)
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
    {"example": "overfit"}, {"source": "edited"}, {"numpy": "0.0"},
])
def test_cache_key_covers_the_configuration_source_and_versions(change, monkeypatch):
    base = {"example": "underfit", "params": {}, "seed": 0}
    if "source" in change:
        monkeypatch.setattr(cache, "source_hash", lambda: change["source"])
    if "numpy" in change:
        real = cache.package_versions
        monkeypatch.setattr(cache, "package_versions",
                            lambda names=cache.NUMERIC_PACKAGES: {**real(names), "numpy": "0.0"})
    config = {**base, **{k: v for k, v in change.items() if k in base}}

    def key(example, params, seed):
        return config_key(StudySpec.create(example, params, seed=seed))

    changed = key(**config)
    monkeypatch.undo()
    assert changed != key(**base)


def test_source_hash_changes_with_any_source_edit(tmp_path, monkeypatch):
    """An edited copy of the package hashes differently; an unchanged copy the same."""
    import shutil

    copy = tmp_path / "kdtheory"
    shutil.copytree(Path(cache.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.source_hash()

    def hash_of(root):
        monkeypatch.setattr(cache, "__file__", str(root / "cache.py"))
        cache.source_hash.cache_clear()
        try:
            return cache.source_hash()
        finally:
            monkeypatch.undo()
            cache.source_hash.cache_clear()

    assert hash_of(copy) == before
    (copy / "losses.py").write_text((copy / "losses.py").read_text() + "\n# edited\n")
    assert hash_of(copy) != before


def test_a_different_configuration_never_reuses_cells(tmp_path):
    run_study("underfit", cache_dir=tmp_path, **GRID)
    other = run_study("underfit", {"clip": 0.01}, cache_dir=tmp_path, **GRID)
    assert other.metadata["cells_from_cache"] == 0
    grown = run_study("underfit", cache_dir=tmp_path, **{**GRID, "sample_sizes": [60, 120, 240]})
    assert grown.metadata["cells_from_cache"] == 4  # a larger grid reuses the matching cells
