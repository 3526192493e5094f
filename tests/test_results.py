"""Results objects: JSON round trip, confidence intervals, CSV and the printed table."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from kdtheory.montecarlo import run_study
from kdtheory.results import MethodSummary, StudySummary


@pytest.fixture(scope="module")
def study():
    return run_study("underfit", seed=1, sample_sizes=[100, 400, 1600], n_replications=6,
                     progress=False)


def test_summary_statistics_come_from_the_records(study):
    summary = study.summarize()
    for method, m in summary.methods.items():
        for j, n in enumerate(m.sample_sizes):
            errors = [r["error"] for r in study.records_for(method) if r["n"] == n]
            assert m.mean_error[j] == np.mean(errors)
            assert m.se_error[j] == pytest.approx(np.std(errors, ddof=1) / np.sqrt(6), rel=1e-12)
            assert m.median_error[j] == np.median(errors)


def test_json_round_trip_is_exact(study, tmp_path):
    summary = study.summarize()
    text = summary.to_json(tmp_path / "s.json")
    assert (tmp_path / "s.json").read_text() == text
    back = StudySummary.from_json(text)
    assert isinstance(back.methods["enhanced"], MethodSummary)
    assert back.to_json() == text
    assert back.methods["crossfit"].bound.ratio == summary.methods["crossfit"].bound.ratio
    # Non-finite values survive (the ridge teacher counts no fallbacks: NaN; alpha = inf).
    assert np.isnan(back.methods["vanilla"].fallback_rate[0])
    assert back.params["enhanced_alpha"] == np.inf
    assert json.loads(text)["params"]["enhanced_alpha"] == "inf"


def test_conf_int_matches_the_fit_and_its_distribution(study):
    summary = study.summarize()
    for m in summary.methods.values():
        assert m.conf_int(0.05) == pytest.approx(tuple(m.ci), rel=1e-12)
        low, high = m.conf_int(0.32)
        q = stats.norm.ppf(0.84) if np.isinf(m.slope_df) else stats.t.ppf(0.84, m.slope_df)
        assert (high - low) / 2 == pytest.approx(q * m.slope_se, rel=1e-12)
        assert m.ci[0] < low < high < m.ci[1]
    assert summary.conf_int(0.1)["vanilla"] == summary.methods["vanilla"].conf_int(0.1)
    with pytest.raises(ValueError, match="alpha"):
        summary.methods["vanilla"].conf_int(1.5)


def test_csv_has_one_row_per_method_and_n(study, tmp_path):
    summary = study.summarize()
    summary.to_csv(tmp_path / "s.csv")
    with open(tmp_path / "s.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(len(m.sample_sizes) for m in summary.methods.values())
    row = next(r for r in rows if r["method"] == "enhanced" and r["n"] == "400")
    m = summary.methods["enhanced"]
    assert float(row["mean_error"]) == m.mean_error[1]
    assert float(row["bound_ratio"]) == m.bound.ratio[1]
    assert row["verdict"] == m.verdict
    study.to_csv(tmp_path / "records.csv")
    with open(tmp_path / "records.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(study.records)


def test_table_shows_every_method_and_its_verdict(study):
    summary = study.summarize()
    text = str(summary)
    for name, m in summary.methods.items():
        slopes = next(ln for ln in text.splitlines() if ln.startswith(name) and "[" in ln)
        assert f"{m.slope:+6.3f}" in slopes
        assert f"{m.quantiles['0.5']['slope']:+6.3f}" in slopes
        line = next(ln for ln in text.splitlines() if ln.startswith(name) and m.kind in ln)
        assert line.endswith(m.verdict) and m.slope_check in line
    assert "bound decomposition" in summary.bound_table()


def test_json_contract_of_theory_quantiles_paired_and_claims(study):
    from kdtheory.examples import Prediction

    summary = study.summarize(predictions={"vanilla": Prediction(-0.6, "tight")},
                              n_bootstrap=50)
    data = json.loads(summary.to_json())
    assert StudySummary.from_json(summary.to_json()).to_json() == summary.to_json()
    for name, m in data["methods"].items():
        assert set(m["theory"]) >= {"error", "ratio", "ratio_ci", "verdict"}
        assert len(m["theory"]["ratio_ci"]) == len(m["sample_sizes"])
        for q in ("0.5", "0.9"):
            assert set(m["quantiles"][q]) >= {"slope", "ci", "verdict"}
        assert m["claim"]["source"] == ("user" if name == "vanilla" else "registered")
    assert data["methods"]["vanilla"]["claim"] == {"kind": "tight", "slope": -0.6,
                                                   "source": "user"}
    pairs = {(p["a"], p["b"]): p for p in data["paired"]}
    assert set(pairs) == {("crossfit", "sample_split"), ("enhanced", "crossfit"),
                          ("crossfit", "vanilla"), ("targeted", "enhanced")}
    for p in pairs.values():
        assert len(p["mean_log_ratio"]) == len(p["ci"]) == len(p["win_rate"]) == 3
    assert set(data["teacher"]) == {"teacher_train_error", "teacher_test_error",
                                    "teacher_test_error4"}
    assert data["teacher"]["teacher_test_error4"]["theory"] is None
    with pytest.raises(ValueError, match="unknown method"):
        study.summarize(predictions={"nope": Prediction(-1.0, "upper")})
    with pytest.raises(ValueError, match="statistic"):
        study.summarize(statistic="mode")


def test_paired_statistics_come_from_the_records(study):
    summary = study.summarize(n_bootstrap=20)
    pair = next(p for p in summary.paired if p["a"] == "enhanced")
    for j, n in enumerate(pair["sample_sizes"]):
        a = {r["replication"]: r["error"] for r in study.records_for("enhanced") if r["n"] == n}
        b = {r["replication"]: r["error"] for r in study.records_for("crossfit") if r["n"] == n}
        logs = np.log([a[k] for k in sorted(a)]) - np.log([b[k] for k in sorted(a)])
        assert pair["mean_log_ratio"][j] == pytest.approx(logs.mean(), rel=1e-12)
        assert pair["win_rate"][j] == np.mean(logs < 0)
        half = stats.t.ppf(0.975, 5) * logs.std(ddof=1) / np.sqrt(6)
        assert pair["ci"][j] == pytest.approx([logs.mean() - half, logs.mean() + half])


def test_paired_comparison_can_fail():
    """A method that loses on every replication has win rate 0 and a positive CI."""
    from kdtheory.results import paired_comparison

    a = [{"n": 10, "replication": r, "error": 2.0 + 0.1 * r} for r in range(5)]
    b = [{"n": 10, "replication": r, "error": 1.0} for r in range(5)]
    out = paired_comparison(a, b, [10])
    assert out["win_rate"] == [0.0] and out["ci"][0][0] > 0
    assert paired_comparison(a, b, [20]) is None


def test_the_deciding_statistic_and_the_bootstrap_seed(study):
    s1, s2 = study.summarize(n_bootstrap=30), study.summarize(n_bootstrap=30)
    assert s1.methods["enhanced"].quantiles == s2.methods["enhanced"].quantiles
    assert s1.methods["enhanced"].decided_by == "0.5"      # upper claim: the median
    assert s1.methods["vanilla"].decided_by == "mean"      # tight claim: the mean
    s3 = study.summarize(n_bootstrap=30, statistic="0.9")
    assert all(m.decided_by == "0.9" for m in s3.methods.values())
    text = str(s1)
    assert "paired comparisons" in text and "theory curves" in text and "median" in text
