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
        line = next(ln for ln in text.splitlines() if ln.startswith(name) and "[" in ln)
        assert f"{m.slope:+7.3f}" in line and m.verdict in line
    assert "bound decomposition" in summary.bound_table()
