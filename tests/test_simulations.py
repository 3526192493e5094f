"""The simulation scripts run on their quick settings and write sensible outputs.

Each script is imported from ``simulations/`` by path and its ``main(argv)`` run into a
temporary directory (in-process: no interpreter start-up per script).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

SIMULATIONS = Path(__file__).resolve().parent.parent / "simulations"


def load(name):
    spec = importlib.util.spec_from_file_location(f"simulations_{name}", SIMULATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_rate_sweep_quick(tmp_path):
    rate_sweep = load("rate_sweep")
    argv = ["--quick", "--examples", "overfit", "underfit", "--dims", "2", "--replications",
            "8", "--n-jobs", "1", "--out", str(tmp_path)]
    assert rate_sweep.main(argv) == 0
    for study in ("overfit_d2", "underfit"):
        assert (tmp_path / f"rates_{study}.png").stat().st_size > 10_000
        summary = json.loads((tmp_path / f"rates_{study}.json").read_text())
        assert set(summary["methods"]) == {"vanilla", "sample_split", "crossfit", "enhanced"}
    rows = read_csv(tmp_path / "slopes.csv")
    assert tuple(rows[0]) == rate_sweep.SLOPE_COLUMNS
    assert len(rows) == 8
    by = {(r["study"], r["method"]): r for r in rows}
    assert abs(float(by["overfit_d2", "vanilla"]["slope"])) < 0.05    # Omega(1): flat
    assert float(by["underfit", "enhanced"]["slope"]) < -0.8            # O(1/n)
    assert float(by["overfit_d2", "crossfit"]["predicted_slope"]) == pytest.approx(-4 / 6)
    assert (tmp_path / "slopes_vs_d.png").exists()


def test_alpha_sweep_quick(tmp_path):
    alpha_sweep = load("alpha_sweep")
    assert alpha_sweep.main(["--quick", "--n-jobs", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "alpha_sweep.png").stat().st_size > 10_000
    rows = read_csv(tmp_path / "alpha_sweep.csv")
    assert tuple(rows[0]) == alpha_sweep.COLUMNS
    alphas = {float(r["alpha"]) for r in rows}
    assert 0.0 in alphas and math.inf in alphas
    for r in rows:
        assert float(r["mean_error"]) > 0
        if float(r["alpha"]) == 0.0:  # alpha = 0 is cross-fit KD on the same draws, exactly
            assert float(r["mean_error"]) == float(r["crossfit_mean_error"])
    underfit = {float(r["alpha"]): float(r["mean_error"]) for r in rows
                if r["example"] == "underfit" and r["n"] == "1000"}
    assert underfit[math.inf] < underfit[0.0]  # the correction removes the ridge bias


def test_tabular_quick(tmp_path):
    tabular = load("tabular")
    argv = ["--quick", "--n-folds", "3", "--n-jobs", "1", "--out", str(tmp_path)]
    assert tabular.main(argv) == 0
    assert (tmp_path / "tabular_breast_cancer.png").stat().st_size > 10_000
    rows = read_csv(tmp_path / "tabular_breast_cancer.csv")
    assert tuple(rows[0]) == tabular.COLUMNS
    assert {r["method"] for r in rows} == {"teacher", *tabular.METHODS}
    for r in rows:
        assert 0.5 < float(r["auc_mean"]) <= 1.0
        assert int(r["repetitions"]) == 2
    tuned = [float(r["alpha_mean"]) for r in rows if r["method"] == "enhanced"]
    assert all(a >= 0 for a in tuned)


def test_tabular_offline_message(tmp_path, monkeypatch, capsys):
    tabular = load("tabular")

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    assert tabular.main(["--openml", "MagicTelescope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MagicTelescope" in err and "offline" in err
    assert not list(tmp_path.iterdir())
