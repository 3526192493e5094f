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

import numpy as np
import pytest

from kdtheory.examples import METHODS

SIMULATIONS = Path(__file__).resolve().parent.parent / "simulations"


def load(name):
    spec = importlib.util.spec_from_file_location(f"simulations_{name}", SIMULATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_rate_sweep_quick(tmp_path, capsys):
    rate_sweep = load("rate_sweep")
    argv = ["--quick", "--examples", "overfit", "underfit", "--dims", "2", "--replications",
            "8", "--n-jobs", "1", "--out", str(tmp_path)]
    assert rate_sweep.main(argv) == 0
    for study in ("overfit_d2", "underfit"):
        assert (tmp_path / f"rates_{study}.png").stat().st_size > 10_000
        summary = json.loads((tmp_path / f"rates_{study}.json").read_text())
        assert set(summary["methods"]) == set(METHODS)
    rows = read_csv(tmp_path / "slopes.csv")
    assert tuple(rows[0]) == rate_sweep.SLOPE_COLUMNS
    assert len(rows) == 2 * len(METHODS)
    by = {(r["study"], r["method"]): r for r in rows}
    assert abs(float(by["overfit_d2", "vanilla"]["slope"])) < 0.05    # Omega(1): flat
    assert float(by["underfit", "enhanced"]["slope"]) < -0.8            # O(1/n)
    assert float(by["underfit", "targeted"]["slope"]) < -0.8            # O(1/n)
    table = capsys.readouterr().out.split("targeted vs enhanced (docs/theory.md §10.6):\n")[1]
    assert rate_sweep.main(argv + ["--targeted-table"]) == 0   # reprinted from the JSONs
    assert capsys.readouterr().out.strip() == table.strip()
    assert [line.split(" | ")[0] for line in table.strip().splitlines()[2:]] == \
        ["| overfit_d2", "| underfit"]
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
    for protocol in ("authors", "fair"):
        argv = ["--quick", "--data", "magic", "--protocol", protocol, "--n-jobs", "1",
                "--out", str(tmp_path)]
        assert tabular.main(argv) == 0
    assert (tmp_path / "tabular_magic.png").stat().st_size > 10_000
    rows = read_csv(tmp_path / "tabular_magic.csv")
    assert tuple(rows[0]) == tabular.COLUMNS
    by = {(r["protocol"], r["method"], int(r["n_trees"])): r for r in rows}
    assert {m for p, m, _ in by if p == "authors"} == set(tabular.METHODS) - {"vanilla_p"}
    assert {m for p, m, _ in by if p == "fair"} == set(tabular.METHODS)
    for r in rows:
        assert 0.5 < float(r["mean"]) <= 1.0 and r["metric"] == "auc"
        single = r["method"] == "teacher" and r["protocol"] == "authors"
        assert int(r["n_repeats"]) == (1 if single else 2)
    diffs = read_csv(tmp_path / "tabular_magic_fair_diffs.csv")
    assert tuple(diffs[0]) == tabular.DIFF_COLUMNS
    for d in diffs:
        assert float(d["ci_low"]) <= float(d["mean_diff"]) <= float(d["ci_high"])
    meta = json.loads((tmp_path / "tabular_magic.json").read_text())
    assert set(meta) == {"authors", "fair"}
    assert meta["authors"]["seed"] == 2357 and "scikit-learn" in meta["authors"]["versions"]
    assert set(meta["authors"]["c_chosen"]) == {"1", "3"}
    # rerunning one protocol replaces its rows only
    assert tabular.main(["--quick", "--data", "magic", "--n-jobs", "1", "--out",
                         str(tmp_path)]) == 0
    assert len(read_csv(tmp_path / "tabular_magic.csv")) == len(rows)


def test_tabular_targets():
    tabular = load("tabular")
    Z = np.array([[1.0, 0.0], [0.0, 0.9], [1.0, 0.5]])
    np.testing.assert_allclose(tabular.student_target("log", Z), np.log([1 / 500, 0.9, 0.5]))
    np.testing.assert_array_equal(tabular.student_target("labels", Z), Z[:, 0])
    # c -> 0: the cross-fit target p; c -> inf: the labels
    np.testing.assert_allclose(tabular.student_target("enhanced", Z, 1e-12), Z[:, 1], atol=1e-9)
    np.testing.assert_allclose(tabular.student_target("enhanced", Z, 1e12), Z[:, 0], atol=1e-9)
    np.testing.assert_allclose(tabular.student_target("enhanced", Z, 1.0)[2], 0.5 + 0.8 * 0.5)


def test_tabular_offline_message(tmp_path, monkeypatch, capsys):
    tabular = load("tabular")

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    assert tabular.main(["--openml", "MagicTelescope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MagicTelescope" in err and "offline" in err
    assert not list(tmp_path.iterdir())


def test_augmentation_quick(tmp_path):
    augmentation = load("augmentation")
    assert augmentation.main(["--quick", "--n-jobs", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "augmentation_magic.png").stat().st_size > 10_000
    rows = read_csv(tmp_path / "augmentation_magic.csv")
    assert tuple(rows[0]) == augmentation.COLUMNS
    sweep = {(r["labels"], int(r["m"]), int(r["n_trees"])) for r in rows
             if r["study"] == "m_sweep"}
    assert sweep == {(lab, f * 200, t) for lab in ("kd", "hard") for f in (0, 1, 5, 10)
                     for t in (1, 3)}
    scores = {r["generator"]: float(r["mean"]) for r in rows if r["study"] == "score"}
    assert set(scores) == set(augmentation.GENERATORS) and scores["real"] == 1.0
    assert all(0 < s < 1.5 for s in scores.values())
    meta = json.loads((tmp_path / "augmentation_magic.json").read_text())
    assert meta["n"] == 200 and meta["seeds"] == 2
