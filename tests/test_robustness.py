"""Nothing lost, nothing silent: paths checked before the study, impossible plans refused,
results kept when a write fails, a shared cache directory, and the results' metadata."""

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdtheory import cache as cache_module
from kdtheory import montecarlo, plan, rates
from kdtheory.cache import CellCache
from kdtheory.examples import METHODS
from kdtheory.montecarlo import run_study
from kdtheory.rates import main
from kdtheory.results import StudySummary

TINY = ["--example", "underfit", "--sample-sizes", "60,120", "--replications", "3",
        "--n-jobs", "1", "--no-progress"]


@pytest.fixture
def no_study(monkeypatch):
    """Fail the test if a study starts: usage errors must come before the first cell."""
    def refuse(*args, **kwargs):
        raise AssertionError("the study ran before the usage error")
    monkeypatch.setattr(rates, "run_study", refuse)


@pytest.mark.parametrize("extra, flag", [
    (["--json", "/nonexistent/x.json"], "--json"),
    (["--csv", "/nonexistent/x.csv"], "--csv"),
    (["--plot", "/nonexistent/x.png"], "--plot"),
    (["--plot", "."], "--plot"),
    (["--plot", "p"], "--plot"),
    (["--no-plot", "--plot", "p.png"], "--plot"),
    (["--json", ""], "--json"),
    (["--json", "."], "--json"),
    (["--cache-dir", "AFILE"], "--cache-dir"),
    (["--cache-dir", "/proc/x"], "--cache-dir"),
    (["--enhanced-alpha", "foo"], "--enhanced-alpha"),
])
def test_bad_output_paths_exit_2_before_the_study(extra, flag, tmp_path, monkeypatch, capsys,
                                                  no_study):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "AFILE").write_text("")
    with pytest.raises(SystemExit) as exc:
        main(TINY + extra)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument {flag}:" in err[0], err
    assert "_alpha" not in err[0] and "Traceback" not in err[0]
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".*png"))


@pytest.mark.parametrize("extra", [["--replications", "100000000"],
                                   ["--sample-sizes", "1e12,2e12"]])
def test_impossible_studies_are_refused_with_the_plan(extra, capsys, no_study):
    with pytest.raises(SystemExit) as exc:
        main([*TINY[:2], *extra, "--no-plot", "--no-progress"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "plan:" in captured.out and "estimated" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "does not fit in memory" in err[0] and "--force" in err[0]


def test_memory_check_refuses_unless_forced(monkeypatch):
    monkeypatch.setattr(plan, "available_memory", lambda: 1.0)
    grid = {"sample_sizes": [60, 120], "n_replications": 2, "progress": False}
    with pytest.raises(ValueError, match="does not fit in memory"):
        run_study("underfit", **grid)
    assert len(run_study("underfit", force=True, **grid).records) == 4 * len(METHODS)


def test_estimate_grows_with_the_grid():
    from kdtheory.spec import StudySpec

    small = plan.estimate(StudySpec.create("overfit", sample_sizes=[500, 1000],
                                           n_replications=10), 1)
    large = plan.estimate(StudySpec.create("overfit", sample_sizes=[500, 100000],
                                           n_replications=20), 1)
    assert 0 < small.seconds < large.seconds and 0 < small.peak_bytes < large.peak_bytes
    assert small.cells == 20 and large.cells == 40
    two = plan.estimate(StudySpec.create("overfit", sample_sizes=[500, 100000],
                                         n_replications=20), 2)
    assert two.seconds == pytest.approx(large.seconds / 2)


def test_a_failed_output_write_goes_to_a_fallback_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "out.json"
    real = StudySummary.to_json

    def disk_full_at_target(self, path=None, **kw):
        if path is not None and Path(path) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, **kw)

    monkeypatch.setattr(StudySummary, "to_json", disk_full_at_target)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(TINY + ["--no-plot", "--json", str(target)]) == 3
    captured = capsys.readouterr()
    fallback = next((tmp_path / "tmp").glob("kdtheory-underfit-*.json"))
    assert str(fallback) in captured.err and "No space left" in captured.err
    assert StudySummary.from_json(fallback.read_text()).methods["enhanced"].mean_error
    assert not target.exists()


def test_full_disk_mid_study_keeps_the_stored_cells(tmp_path, monkeypatch, capsys):
    real, calls = CellCache.store, []

    def full_after_two(self, n, replication, records):
        calls.append((n, replication))
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, n, replication, records)

    monkeypatch.setattr(CellCache, "store", full_after_two)
    assert main(TINY + ["--no-plot", "--cache-dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "No space left on device" in err and "2 of 6 cells are safe" in err
    assert len(list(tmp_path.glob("*/n*_r*.json"))) == 2
    monkeypatch.setattr(CellCache, "store", real)
    assert main(TINY + ["--no-plot", "--cache-dir", str(tmp_path)]) in (0, 1)
    assert "cache: 2 of 6 cells from the cache" in capsys.readouterr().out


def test_two_concurrent_runs_share_one_cache_directory(tmp_path):
    argv = [sys.executable, "-m", "kdtheory.rates", "--example", "underfit", "--sample-sizes",
            "20000,40000,80000", "--replications", "6", "--n-jobs", "1", "--no-plot",
            "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    procs = [subprocess.Popen(argv + ["--json", str(tmp_path / f"{i}.json")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes[0] == codes[1] and codes[0] in (0, 1), [p.stderr.read() for p in procs]
    summaries = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]
    for s in summaries:
        s.pop("metadata")
    assert summaries[0] == summaries[1]
    files = list((tmp_path / "cache").glob("*/n*_r*.json"))
    assert len(files) == 18
    key = files[0].parent.name
    store = CellCache(tmp_path / "cache", key)
    for path in files:
        n, r = (int(part[1:]) for part in path.stem.split("_"))
        assert store.load(n, r) is not None  # every cell intact (checksum verified)


def test_results_carry_their_metadata(tmp_path):
    out = tmp_path / "s.json"
    main(TINY + ["--no-plot", "--json", str(out), "--csv", str(tmp_path / "r.csv")])
    meta = json.loads(out.read_text())["metadata"]
    assert meta["created_utc"].endswith("+00:00")
    assert meta["command"].startswith("python -m kdtheory.rates --example underfit")
    repo = Path(montecarlo.__file__).resolve().parents[1]
    if (repo / ".git").exists():
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        assert meta["git_commit"] == commit
    sidecar = json.loads((tmp_path / "r.csv.meta.json").read_text())
    assert sidecar["seed"] == 0 and sidecar["params"]["p0"] == [0.2, 0.3, 0.5]
    assert sidecar["config_key"] == meta["config_key"]
    assert sidecar["versions"]["numpy"] and sidecar["command"] == meta["command"]
    assert cache_module.package_versions()["numpy"] == sidecar["versions"]["numpy"]


def test_every_cli_flag_has_help_and_no_none_default():
    parser = rates.build_parser()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, action.option_strings
        assert "(default: None)" not in parser.format_help()
    text = parser.format_help()
    assert "rates_<example>" in text and "Exit codes" in text


def test_the_default_plot_path_is_the_documented_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(TINY) in (0, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["rates_underfit.png"]
