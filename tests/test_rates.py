"""The Monte Carlo engine and the command line: seeds, parallel identity, verdicts, bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from kdtheory.examples import get_example, overfit_f0
from _cells import one_cell
from kdtheory.montecarlo import run_study
from kdtheory.rates import main

GRID = {"sample_sizes": [60, 120, 240], "n_replications": 3}


def test_same_seed_bitwise_identical_for_any_n_jobs_and_different_seeds_differ():
    one = run_study("underfit", seed=5, n_jobs=1, progress=False, **GRID).records
    two = run_study("underfit", seed=5, n_jobs=2, progress=False, **GRID).records

    def strip(recs):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in recs]

    assert json.dumps(strip(one)) == json.dumps(strip(two))
    other = run_study("underfit", seed=6, n_jobs=1, progress=False, **GRID).records
    assert strip(one) != strip(other)


def test_cell_does_not_depend_on_the_rest_of_the_grid():
    a = run_study("underfit", seed=1, progress=False, sample_sizes=[60, 120],
                  n_replications=2).records
    cell = one_cell("underfit", {}, 120, 1, 1)
    assert [r["error"] for r in a if r["n"] == 120 and r["replication"] == 1] == \
        [r["error"] for r in cell]


def test_underfit_cell_matches_closed_forms():
    """The engine's vanilla error equals ||log ybar - log(1+lambda) - log p0||^2 on its draw."""
    ex = get_example("underfit")
    params = ex.resolve()
    recs = {r["method"]: r for r in one_cell("underfit", {}, 500, 0, 3)}
    from kdtheory.montecarlo import cell_seed

    data_ss = cell_seed(3, ex.example_id, 500, 0).spawn(3)[0]
    X, labels = ex.sample(500, params, np.random.default_rng(data_ss))
    ybar = np.bincount(labels, minlength=3) / 500
    lam = 500 ** -0.25
    expected = np.sum((np.log(ybar) - np.log1p(lam) - np.log(params["p0"])) ** 2)
    assert recs["vanilla"]["error"] == pytest.approx(expected, rel=1e-12)
    assert recs["vanilla"]["teacher_train_error"] == pytest.approx(
        np.sum((ybar / (1 + lam) - params["p0"]) ** 2), rel=1e-12)
    assert recs["enhanced"]["error"] < recs["vanilla"]["error"]  # fixed seed: deterministic


@pytest.mark.parametrize("d, shape", [(1, "sin"), (2, "sin"), (3, "sin"), (2, "cos")])
def test_overfit_f0_matches_scipy_quadrature(d, shape):
    from scipy import integrate

    def p1(x1, xd):
        trig = np.sin if shape == "sin" else np.cos
        return 0.5 + 0.35 * trig(2 * np.pi * x1) * np.cos(np.pi * xd)

    if d == 1:
        e1 = integrate.quad(lambda x: np.log(p1(x, x)), 0, 1, epsabs=1e-14, limit=200)[0]
        e0 = integrate.quad(lambda x: np.log(1 - p1(x, x)), 0, 1, epsabs=1e-14, limit=200)[0]
    else:
        e1 = integrate.dblquad(lambda xd, x1: np.log(p1(x1, xd)), 0, 1, 0, 1,
                               epsabs=1e-13)[0]
        e0 = integrate.dblquad(lambda xd, x1: np.log(1 - p1(x1, xd)), 0, 1, 0, 1,
                               epsabs=1e-13)[0]
    np.testing.assert_allclose(overfit_f0(d, shape), (e0, e1), atol=1e-11)


@pytest.mark.statistical
@pytest.mark.parametrize("example", ["underfit", "overfit"])
def test_quick_study_passes(example, tmp_path):
    out = tmp_path / "u.json"
    code = main(["--example", example, "--quick", "--json", str(out), "--no-plot",
                 "--no-progress", "--n-jobs", "2"])
    summary = json.loads(out.read_text())
    assert code == 0, {m: v["verdict"] for m, v in summary["methods"].items()}
    for key in ("example", "params", "seed", "sample_sizes", "replications", "metadata"):
        assert key in summary
    enhanced = summary["methods"]["enhanced"]
    for key in ("mean_error", "se_error", "slope", "ci", "predicted_slope", "kind", "verdict"):
        assert key in enhanced


def test_wrong_prediction_gives_inconsistent():
    from kdtheory.examples import Prediction

    study = run_study("underfit", seed=2, progress=False, quick=True, n_jobs=2)
    wrong = {"vanilla": Prediction(-1.0, "upper")}  # the uncorrected estimator is not O(1/n)
    assert study.summarize(predictions=wrong).methods["vanilla"].verdict == "inconsistent"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--example", "nope"], "unknown example"),
        (["--example", "overfit", "--d", "0"], "--d"),
        (["--example", "underfit", "--sample-sizes", "10,100"], ">= 20"),
        (["--example", "underfit", "--sample-sizes", "100"], "at least 2"),
        (["--example", "underfit", "--replications", "1"], "--replications"),
        (["--example", "underfit", "--tolerance", "0"], "--tolerance"),
        (["--example", "underfit", "--tolerance", "-1"], "--tolerance"),
        (["--example", "underfit", "--n-min", "100"], "go together"),
        (["--example", "underfit", "--enhanced-alpha", "-2"], "enhanced-alpha"),
        (["--example", "underfit_ace", "--enhanced-alpha", "tune"], "--enhanced-alpha"),
        (["--example", "underfit_ace", "--beta", "0"], "--beta"),
        (["--example", "underfit", "--sample-sizes", "1e2,abc"], "sample-sizes"),
        (["--example", "underfit", "--claim", "vanilla"], "--claim"),
        (["--example", "underfit", "--claim", "nope=tight:-0.5"], "unknown method"),
        (["--example", "underfit", "--claim", "vanilla=sharp:-0.5"], "KIND"),
        (["--example", "underfit", "--claim", "vanilla=tight:fast"], "SLOPE"),
        (["--example", "underfit", "--claim", "vanilla=tight:-0.5",
          "--claim", "vanilla=upper:-1"], "twice"),
        (["--example", "underfit", "--band", "0.9"], "--band"),
        (["--example", "underfit", "--n-bootstrap", "5"], "--n-bootstrap"),
    ],
)
def test_bad_cli_input_exits_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_cli_usage_error_from_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "kdtheory.rates", "--example", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "python -m kdtheory.rates: error: unknown example 'nope'; choose from "
        "['overfit', 'torus', 'underfit', 'underfit_ace']"]


@pytest.mark.statistical
def test_user_claims_on_underfit_accept_the_truth_and_reject_a_wrong_exponent(tmp_path):
    """docs/theory.md §9: on n = 300..30000 (100 replications; one run, then the cache) the
    mean slope of vanilla KD is -0.495 within a CI of half-width ~0.014: a tight -0.6 is
    rejected (0.09 away: beyond the slack min(tolerance, half-width)), a tight -0.5 accepted;
    a wrong upper claim for vanilla (O(1/n)) is rejected too. The theory verdicts stay
    consistent."""
    cache = tmp_path / "cache"
    verdicts = {}
    for claim in ("vanilla=tight:-0.6", "vanilla=tight:-0.5", "vanilla=upper:-1"):
        out = tmp_path / "c.json"
        code = main(["--example", "underfit", "--sample-sizes", "300,1000,3000,10000,30000",
                     "--replications", "100", "--claim", claim, "--json", str(out),
                     "--no-plot", "--no-progress", "--n-jobs", "2", "--cache-dir", str(cache),
                     "--n-bootstrap", "200"])
        data = json.loads(out.read_text())
        vanilla = data["methods"]["vanilla"]
        assert vanilla["claim"]["source"] == "user"
        assert vanilla["theory"]["verdict"] == "consistent"
        verdicts[claim] = (code, vanilla["verdict"])
    assert verdicts == {"vanilla=tight:-0.6": (1, "inconsistent"),
                        "vanilla=tight:-0.5": (0, "consistent"),
                        "vanilla=upper:-1": (1, "inconsistent")}
