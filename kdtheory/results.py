"""Results of rate studies: the records of a run and their summary, as objects.

* :class:`StudyResult`: the :class:`~kdtheory.spec.StudySpec`, one record per (n, replication,
  method) and the run's metadata; ``summarize()`` and ``to_csv()``.
* :class:`StudySummary`: per method a :class:`MethodSummary` (mean, SE and median error per n,
  teacher errors, the slope fit with its CI, local slopes, the verdict against the prediction,
  and the bound decomposition, :class:`kdtheory.bounds.BoundSummary`). ``str()`` prints the
  study's table; ``to_json``/``from_json`` round-trip it; ``to_csv`` writes one row per method
  and n.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ._json import from_jsonable, to_jsonable
from .bounds import BoundSummary, format_bound_table, summarize_bounds
from .ratefit import (
    DEFAULT_MAX_HALFWIDTH, DEFAULT_TOLERANCE, fit_slope, local_slopes, mean_and_se,
    slope_interval, verdict,
)
from .spec import StudySpec


@dataclass
class StudyResult:
    """Records of a finished study plus everything needed to reproduce it."""

    spec: StudySpec
    records: list
    metadata: dict = field(default_factory=dict)

    example = property(lambda self: self.spec.example_name)
    params = property(lambda self: self.spec.params)
    sample_sizes = property(lambda self: list(self.spec.sample_sizes))
    n_replications = property(lambda self: self.spec.n_replications)
    seed = property(lambda self: self.spec.seed)

    def records_for(self, method):
        """The successful records of one method."""
        methods = {r["method"] for r in self.records}
        if method not in methods | set(self.spec.example.predictions(self.params)):
            raise ValueError(f"unknown method {method!r}; choose from {sorted(methods)}")
        return [r for r in self.records if r["method"] == method and r["status"] == "ok"]

    @property
    def failures(self):
        return [r for r in self.records if r["status"] != "ok"]

    def summarize(self, **kwargs) -> StudySummary:
        """:func:`summarize` of this study."""
        return summarize(self, **kwargs)

    def to_csv(self, path):
        """Every record as one CSV row (columns: the record fields)."""
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self.records[0]))
            writer.writeheader()
            writer.writerows(self.records)


@dataclass
class MethodSummary:
    """One method of a study: per-n statistics, the slope fit and its verdict, the bound terms.

    Lists run over ``sample_sizes`` (the sizes with at least 2 successful replications).
    ``slope_df`` is the degrees of freedom of the slope's interval (``inf``: normal).
    """

    sample_sizes: list
    mean_error: list
    se_error: list
    median_error: list
    teacher_train_error: list
    teacher_test_error: list
    teacher_test_error4: list
    fallback_rate: list
    clip_rate: list
    alpha: list
    predicted_slope: float
    kind: str
    reason: str
    bound: BoundSummary
    slope: float = float("nan")
    slope_se: float = float("nan")
    slope_df: float = float("inf")
    ci: list = field(default_factory=lambda: [float("nan")] * 2)
    dispersion: float = float("nan")
    local_slopes: list = field(default_factory=list)
    local_slope_ses: list = field(default_factory=list)
    verdict: str = "inconclusive"

    def conf_int(self, alpha: float = 0.05) -> tuple:
        """The (1 - alpha) confidence interval of the fitted slope."""
        return slope_interval(self.slope, self.slope_se, self.slope_df, alpha)


@dataclass
class StudySummary:
    """The summary of a study (:func:`summarize`): its configuration and a
    :class:`MethodSummary` per method."""

    example: str
    params: dict
    seed: int
    sample_sizes: list
    replications: int
    tolerance: float
    max_halfwidth: float
    methods: dict
    failures: int = 0
    failure_messages: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def conf_int(self, alpha: float = 0.05) -> dict:
        """Per method, the (1 - alpha) confidence interval of its fitted slope."""
        return {name: m.conf_int(alpha) for name, m in self.methods.items()}

    @property
    def consistent(self) -> bool:
        """True when every verdict is "consistent" and no cell failed."""
        return not self.failures and all(m.verdict == "consistent"
                                         for m in self.methods.values())

    def to_json(self, path=None, *, indent=1) -> str:
        """The summary as JSON (non-finite floats as strings); written to ``path`` if given."""
        text = json.dumps(to_jsonable(asdict(self)), indent=indent)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_json(cls, text) -> StudySummary:
        """Rebuild a summary from :meth:`to_json`'s text."""
        data = from_jsonable(json.loads(text))
        methods = {}
        for name, m in data.pop("methods").items():
            m["bound"] = BoundSummary(**m["bound"])
            methods[name] = MethodSummary(**m)
        return cls(**data, methods=methods)

    def to_csv(self, path):
        """One row per method and n: the per-n statistics and bound terms, then the slope."""
        per_n = [f.name for f in fields(MethodSummary)
                 if f.name not in ("sample_sizes", "predicted_slope", "kind", "reason", "bound",
                                   "slope", "slope_se", "slope_df", "ci", "dispersion",
                                   "local_slopes", "local_slope_ses", "verdict")]
        bound = [f.name for f in fields(BoundSummary) if f.name not in per_n]
        head = ["method", "n", *per_n, *(f"bound_{b}" for b in bound), "slope", "ci_low",
                "ci_high", "predicted_slope", "kind", "verdict"]
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(head)
            for name, m in self.methods.items():
                for j, n in enumerate(m.sample_sizes):
                    writer.writerow([name, n, *(getattr(m, key)[j] for key in per_n),
                                     *(getattr(m.bound, b)[j] for b in bound), m.slope,
                                     m.ci[0], m.ci[1], m.predicted_slope, m.kind, m.verdict])

    def bound_table(self) -> str:
        """The bound decomposition table (:func:`kdtheory.bounds.format_bound_table`)."""
        return format_bound_table(self)

    def __str__(self) -> str:
        lines = ["student error per n: mean +- SE [median]",
                 f"{'n':>8s}" + "".join(f"  {m:>26s}" for m in self.methods)]
        for n in self.sample_sizes:
            row = f"{n:8d}"
            for m in self.methods.values():
                if n in m.sample_sizes:
                    j = m.sample_sizes.index(n)
                    row += (f"  {m.mean_error[j]:8.2e}+-{m.se_error[j]:7.1e}"
                            f" [{m.median_error[j]:7.1e}]")
                else:
                    row += f"  {'-':>26s}"
            lines.append(row)
        first = next(iter(self.methods.values()))
        lines += ["", "teacher per n: error on training points (vanilla) | on held-out points "
                      "(cross-fit) | fraction of held-out queries answered by the fallback | "
                      "fraction of held-out outputs below clip"]
        for j, n in enumerate(first.sample_sizes):
            lines.append(f"{n:8d}  {first.teacher_train_error[j]:10.3e} | "
                         f"{first.teacher_test_error[j]:10.3e} | {first.fallback_rate[j]:.4f}"
                         f" | {first.clip_rate[j]:.4f}")
        lines += ["", f"{'method':14s} {'slope':>7s}  {'95% CI':>17s}  {'predicted':>9s} "
                      f"{'kind':6s} verdict"]
        for name, m in self.methods.items():
            lines.append(f"{name:14s} {m.slope:+7.3f}  [{m.ci[0]:+7.3f}, {m.ci[1]:+7.3f}]"
                         f"  {m.predicted_slope:+9.3f} {m.kind:6s} {m.verdict}")
        lines += [f"(verdict tolerance {self.tolerance}; 'inconclusive' when the CI "
                  f"half-width exceeds {self.max_halfwidth})", "",
                  "local slopes between neighbouring n (curvature = a pre-asymptotic range):"]
        for name, m in self.methods.items():
            lines.append(f"{name:14s} " + " ".join(f"{s:+6.2f}" for s in m.local_slopes))
        if self.failures:
            lines.append(f"WARNING: {self.failures} cells failed: {self.failure_messages}")
        return "\n".join(lines)


PER_N_MEANS = ("teacher_train_error", "teacher_test_error", "teacher_test_error4",
               "fallback_rate", "clip_rate", "alpha")
"""Record fields whose mean over replications a summary reports per n."""


def summarize(study: StudyResult, *, tolerance: float = DEFAULT_TOLERANCE,
              max_halfwidth: float = DEFAULT_MAX_HALFWIDTH, predictions=None) -> StudySummary:
    """Per-method means, SEs, medians, slope fit, local slopes, verdict and bound terms.

    Parameters
    ----------
    study : StudyResult
    tolerance, max_halfwidth : float
        Verdict parameters (:func:`kdtheory.ratefit.verdict`).
    predictions : dict {method: Prediction}, optional
        Defaults to the example's predictions; pass others to test a claim.
    """
    predictions = predictions or study.spec.example.predictions(study.params)
    methods = {}
    for method, pred in predictions.items():
        recs = study.records_for(method)
        by_n = {n: [r for r in recs if r["n"] == n] for n in study.sample_sizes}
        sizes = [n for n, rs in by_n.items() if len(rs) >= 2]
        groups = [by_n[n] for n in sizes]
        stats = [mean_and_se([r["error"] for r in rs]) for rs in groups]
        means, ses = [s[0] for s in stats], [s[1] for s in stats]
        summary = MethodSummary(
            sample_sizes=sizes, mean_error=means, se_error=ses,
            median_error=[s[2] for s in stats],
            **{key: [float(np.mean([r[key] for r in rs])) for rs in groups]
               for key in PER_N_MEANS},
            predicted_slope=pred.slope, kind=pred.kind, reason=pred.reason,
            bound=summarize_bounds(groups, means),
        )
        if len(sizes) >= 2:
            fit = fit_slope(sizes, means, ses)
            loc, loc_se = local_slopes(sizes, means, ses)
            summary.slope, summary.slope_se, summary.slope_df = fit.slope, fit.se, fit.df
            summary.ci, summary.dispersion = list(fit.ci), fit.dispersion
            summary.local_slopes, summary.local_slope_ses = loc.tolist(), loc_se.tolist()
            summary.verdict = verdict(fit, pred.slope, pred.kind, tolerance=tolerance,
                                      max_halfwidth=max_halfwidth)
        methods[method] = summary
    return StudySummary(
        example=study.example, params=study.params, seed=study.seed,
        sample_sizes=study.sample_sizes, replications=study.n_replications,
        tolerance=tolerance, max_halfwidth=max_halfwidth, methods=methods,
        failures=len({(r["n"], r["replication"]) for r in study.failures}),
        failure_messages=sorted({r["message"] for r in study.failures})[:5],
        metadata=study.metadata,
    )
