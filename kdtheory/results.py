"""Results of rate studies: the records of a run and their summary, as objects.

* :class:`StudyResult`: the :class:`~kdtheory.spec.StudySpec`, one record per (n, replication,
  method) and the run's metadata; ``summarize()`` and ``to_csv()``.
* :class:`StudySummary`: per method a :class:`MethodSummary` (mean, SE and median error per n,
  teacher errors, the slope fit with its CI, local slopes, the slopes of the median and the
  0.9 quantile with bootstrap CIs, the claim and its verdict, the theory curve with the
  measured / predicted ratios, and the bound decomposition,
  :class:`kdtheory.bounds.BoundSummary`); paired comparisons of methods; the teacher's errors
  with their slopes and theory curves. ``str()`` prints the study's table;
  ``to_json``/``from_json`` round-trip it; ``to_csv`` writes one row per method and n.

How a verdict is reached (docs/theory.md §9):

1. The claim (registered, or the user's ``claims``) has a kind; its deciding statistic is the
   mean for tight claims (exact levels) and the median for upper and lower ones (the theorems
   hold with high probability), unless ``statistic`` says otherwise.
2. Where a theory curve exists, the mean's slope is checked against the curve's own slope over
   the same grid (same weights, tight rule), and the claim's exponent only where the curve's
   last local slope is within tolerance of it (:func:`kdtheory.ratefit.exponent_applies`);
   a user's claim is always checked. ``slope_check`` says which checks were applied.
3. The theory verdict (``theory["verdict"]``) asks every measured / predicted CI to meet
   [1/band, band].
"""

from __future__ import annotations

import csv
import json
import zlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ._json import from_jsonable, to_jsonable
from .bounds import BoundSummary, format_bound_table, summarize_bounds
from .ratefit import (
    DEFAULT_BAND, DEFAULT_MAX_HALFWIDTH, DEFAULT_N_BOOTSTRAP, DEFAULT_TOLERANCE, QUANTILES,
    wls_slopes, exponent_applies, fit_slope, local_slopes, mean_and_se, quantile_slope,
    ratio_interval, ratio_verdict, slope_interval, verdict, worst,
)
from .spec import StudySpec

PAIRS = (("crossfit", "sample_split"), ("enhanced", "crossfit"), ("crossfit", "vanilla"),
         ("targeted", "enhanced"))
"""Paired comparisons a summary reports: log(err_a / err_b) per replication, same data."""

TIE = 1e-9
"""Paired errors whose log ratio is within this of 0 differ only by rounding: a tie (two methods
that coincide, e.g. cross-fit and vanilla ACE at beta = 1, must not "win" half the time)."""

STATISTICS = ("auto", "mean", *(str(q) for q in QUANTILES))
TEACHER_FIELDS = ("teacher_train_error", "teacher_test_error", "teacher_test_error4")
_BOOTSTRAP_KEY = 0xB007


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
    claim: dict = field(default_factory=dict)
    """{"kind", "slope", "source": "registered" | "user"}."""
    mean_verdict: str = "inconclusive"
    """The mean slope's verdict against the claim's exponent (whether or not it decides)."""
    quantiles: dict = field(default_factory=dict)
    """{"0.5": {"values": per n, "slope", "ci", "verdict"}, "0.9": {...}}: bootstrap CIs."""
    decided_by: str = "mean"
    """The statistic whose slope decides the exponent check: "mean", "0.5" or "0.9"."""
    slope_check: str = "asymptotic"
    """Which slope checks were applied: "asymptotic", "exact" or "exact+asymptotic"."""
    checks: dict = field(default_factory=dict)
    """{"asymptotic": verdict or "not applied", "exact_slope": verdict or "no curve"}."""
    theory: dict | None = None
    """{"error": predicted per n, "ratio", "ratio_ci", "verdict", "slope" (the curve's own
    slope over the grid), "local_slopes", "band"}; None where no curve is derived."""

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
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP
    band: float = DEFAULT_BAND
    statistic: str = "auto"
    paired: list = field(default_factory=list)
    """Per pair of :data:`PAIRS`: {"a", "b", "sample_sizes", "mean_log_ratio", "ci",
    "win_rate"}, the log ratio being log(err_a / err_b)."""
    teacher: dict = field(default_factory=dict)
    """Per teacher error (:data:`TEACHER_FIELDS`): {"mean", "se", "slope", "ci", "theory"}."""

    def conf_int(self, alpha: float = 0.05) -> dict:
        """Per method, the (1 - alpha) confidence interval of its fitted slope."""
        return {name: m.conf_int(alpha) for name, m in self.methods.items()}

    @property
    def consistent(self) -> bool:
        """True when every slope verdict and every theory verdict (methods and teacher) is
        "consistent" and no cell failed."""
        theories = [m.theory for m in self.methods.values()] + [
            t.get("theory") for t in self.teacher.values()]
        return (not self.failures
                and all(m.verdict == "consistent" for m in self.methods.values())
                and all(t["verdict"] == "consistent" for t in theories if t))

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
                                   "local_slopes", "local_slope_ses", "verdict", "claim",
                                   "mean_verdict", "quantiles", "decided_by", "slope_check",
                                   "checks", "theory")]
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
        lines += self._theory_lines()
        lines += ["", "slopes of log(statistic) on log n, 95% CI (median, q0.9: bootstrap "
                      f"within n, {self.n_bootstrap} resamples); * = the statistic deciding "
                      "the exponent check"]
        lines.append(f"{'method':13s} {'mean':>24s} {'median':>24s} {'q0.9':>24s}")
        for name, m in self.methods.items():
            cells = []
            for key in ("mean", *(str(q) for q in QUANTILES)):
                if key == "mean":
                    slope, ci = m.slope, m.ci
                elif key in m.quantiles:
                    slope, ci = m.quantiles[key]["slope"], m.quantiles[key]["ci"]
                else:
                    slope, ci = float("nan"), [float("nan")] * 2
                mark = "*" if key == m.decided_by else " "
                cells.append(f"{mark}{slope:+6.3f} [{ci[0]:+6.3f}, {ci[1]:+6.3f}]")
            lines.append(f"{name:13s} " + " ".join(f"{c:>24s}" for c in cells))
        lines += ["", f"{'method':13s} {'claim':>16s} {'source':10s} {'exact slope':>11s} "
                      f"{'checks applied':16s} {'exponent':12s} {'exact slope':12s} verdict"]
        for name, m in self.methods.items():
            claim = f"{m.kind} {m.predicted_slope:+.3f}"
            exact = f"{m.theory['slope']:+.3f}" if m.theory else "-"
            lines.append(f"{name:13s} {claim:>16s} {m.claim.get('source', '-'):10s} "
                         f"{exact:>11s} {m.slope_check:16s} "
                         f"{m.checks.get('asymptotic', '-'):12s} "
                         f"{m.checks.get('exact_slope', '-'):12s} {m.verdict}")
        lines += [f"(verdict tolerance {self.tolerance}: tight claims allow min(tolerance, CI "
                  f"half-width) beyond the CI; 'inconclusive' when the CI half-width exceeds "
                  f"{self.max_halfwidth})"]
        if self.paired:
            lines += ["", "paired comparisons (same data and teacher outputs): mean "
                          "log(err_a / err_b) [95% CI], fraction of replications a beats b"]
            for pair in self.paired:
                lines.append(f"  {pair['a']} vs {pair['b']}:")
                for j, n in enumerate(pair["sample_sizes"]):
                    lo, hi = pair["ci"][j]
                    lines.append(f"{n:10d}  {pair['mean_log_ratio'][j]:+8.3f} [{lo:+8.3f}, "
                                 f"{hi:+8.3f}]  wins {pair['win_rate'][j]:.2f}")
        lines += ["", "local slopes between neighbouring n (curvature = a pre-asymptotic range):"]
        for name, m in self.methods.items():
            lines.append(f"{name:14s} " + " ".join(f"{s:+6.2f}" for s in m.local_slopes))
        if self.failures:
            lines.append(f"WARNING: {self.failures} cells failed: {self.failure_messages}")
        return "\n".join(lines)

    def _theory_lines(self) -> list:
        curves = [(name, m.sample_sizes, m.theory) for name, m in self.methods.items()
                  if m.theory]
        curves += [(name, t["sample_sizes"], t["theory"]) for name, t in self.teacher.items()
                   if t.get("theory")]
        if not curves:
            return []
        lines = ["", f"theory curves (docs/theory.md §5.4-5.6): measured / predicted [95% CI] "
                     f"per n; consistent when every CI meets [1/{self.band}, {self.band}]"]
        for name, sizes, th in curves:
            lines.append(f"  {name}: {th['verdict']}")
            for j, n in enumerate(sizes):
                lo, hi = th["ratio_ci"][j]
                lines.append(f"{n:10d}  predicted {th['error'][j]:9.3e}  ratio "
                             f"{th['ratio'][j]:6.3f} [{lo:6.3f}, {hi:6.3f}]")
        return lines


PER_N_MEANS = ("teacher_train_error", "teacher_test_error", "teacher_test_error4",
               "fallback_rate", "clip_rate", "alpha")
"""Record fields whose mean over replications a summary reports per n."""


def _rng(seed, name):
    """The bootstrap stream of one method (or teacher error) of a study: derived from the
    study seed and a stable hash of the name, independent of the order of the methods."""
    return np.random.default_rng(np.random.SeedSequence(
        seed, spawn_key=(_BOOTSTRAP_KEY, zlib.crc32(name.encode()))))


def _curve_theory(sizes, grid, curve, stats, band, weights_from):
    """Theory dict of one predicted curve over ``sizes`` (a subset of ``grid``)."""
    predicted = [float(curve[grid.index(n)]) for n in sizes]
    ratios, cis = [], []
    for (mean, se), e in zip(stats, predicted):
        r, ci = ratio_interval(mean, se, e)
        ratios.append(float(r))
        cis.append([float(ci[0]), float(ci[1])])
    x = np.log(np.asarray(sizes, dtype=np.float64))
    means = np.array([st[0] for st in stats])
    ses = np.array([st[1] for st in stats])
    weights = 1.0 / np.maximum((ses / means) ** 2, 1e-300) if weights_from else np.ones(x.size)
    (slope,), _ = wls_slopes(x, np.log(np.asarray(predicted))[None, :], weights)
    local = (np.diff(np.log(predicted)) / np.diff(x)).tolist()
    return {"error": predicted, "ratio": ratios, "ratio_ci": cis,
            "verdict": ratio_verdict(cis, band), "slope": float(slope), "local_slopes": local,
            "band": band}


def paired_comparison(records_a, records_b, sample_sizes, alpha=0.05) -> dict | None:
    r"""Per n, the mean of :math:`\log(e_a/e_b)` over replications that both methods finished,
    its (1 - alpha) t interval (R - 1 degrees of freedom) and the fraction with
    :math:`e_a < e_b`, a tie (:math:`|\log(e_a/e_b)| \le` :data:`TIE`, rounding) counting one
    half. Sizes with fewer than 2 pairs are left out; None if none is left."""
    from scipy import stats

    a = {(r["n"], r["replication"]): r["error"] for r in records_a}
    b = {(r["n"], r["replication"]): r["error"] for r in records_b}
    out = {"sample_sizes": [], "mean_log_ratio": [], "ci": [], "win_rate": []}
    for n in sample_sizes:
        keys = sorted(k for k in a if k[0] == n and k in b and a[k] > 0 and b[k] > 0)
        if len(keys) < 2:
            continue
        logs = np.log([a[k] for k in keys]) - np.log([b[k] for k in keys])
        mean, se, _ = mean_and_se(logs)
        q = stats.t.ppf(1 - alpha / 2, len(keys) - 1)
        out["sample_sizes"].append(int(n))
        out["mean_log_ratio"].append(mean)
        out["ci"].append([mean - q * se, mean + q * se])
        out["win_rate"].append(float(np.mean(logs < -TIE) + 0.5 * np.mean(np.abs(logs) <= TIE)))
    return out if out["sample_sizes"] else None


def _claims(study, predictions):
    """Registered predictions overridden by the user's: {method: (Prediction, source)}."""
    registered = study.spec.example.predictions(study.params)
    out = {m: (p, "registered") for m, p in registered.items()}
    for method, pred in (predictions or {}).items():
        if method not in out:
            raise ValueError(f"claim for unknown method {method!r}; choose from "
                             f"{sorted(registered)}")
        out[method] = (pred, "user")
    return out


def summarize(study: StudyResult, *, tolerance: float = DEFAULT_TOLERANCE,
              max_halfwidth: float = DEFAULT_MAX_HALFWIDTH, predictions=None,
              n_bootstrap: int = DEFAULT_N_BOOTSTRAP, band: float = DEFAULT_BAND,
              statistic: str = "auto") -> StudySummary:
    """Per-method statistics, slope fits, claims and verdicts, theory ratios, paired
    comparisons and bound terms (the rules in the module docstring).

    Parameters
    ----------
    study : StudyResult
    tolerance, max_halfwidth : float
        Verdict parameters (:func:`kdtheory.ratefit.verdict`).
    predictions : dict {method: Prediction}, optional
        User claims: each replaces the registered prediction of its method (source "user").
    n_bootstrap : int >= 10
        Bootstrap resamples for the quantile slopes (seeded from the study seed).
    band : float > 1
        Theory verdicts: every measured / predicted CI must meet [1/band, band].
    statistic : {"auto", "mean", "0.5", "0.9"}
        The statistic whose slope decides the exponent check; "auto": the mean for tight
        claims, the median for upper and lower ones.
    """
    from .theory import theory_curves

    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    claims = _claims(study, predictions)
    grid = study.sample_sizes
    curves = theory_curves(study.example, study.params, grid)
    methods = {}
    for method, (pred, source) in claims.items():
        recs = study.records_for(method)
        by_n = {n: [r for r in recs if r["n"] == n] for n in grid}
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
            claim={"kind": pred.kind, "slope": pred.slope, "source": source},
            decided_by=(("mean" if pred.kind == "tight" else "0.5") if statistic == "auto"
                        else statistic),
        )
        if method in curves and sizes:
            summary.theory = _curve_theory(sizes, grid, curves[method],
                                           [s[:2] for s in stats], band, len(sizes) >= 2)
        if len(sizes) >= 2:
            fit = fit_slope(sizes, means, ses)
            loc, loc_se = local_slopes(sizes, means, ses)
            summary.slope, summary.slope_se, summary.slope_df = fit.slope, fit.se, fit.df
            summary.ci, summary.dispersion = list(fit.ci), fit.dispersion
            summary.local_slopes, summary.local_slope_ses = loc.tolist(), loc_se.tolist()
            kw = {"tolerance": tolerance, "max_halfwidth": max_halfwidth}
            summary.mean_verdict = verdict(fit, pred.slope, pred.kind, **kw)
            fits = {"mean": fit}
            rng = _rng(study.seed, method)
            for q in QUANTILES:
                errors = [[r["error"] for r in rs] for rs in groups]
                qfit = quantile_slope(sizes, errors, q, n_bootstrap=n_bootstrap,
                                      random_state=rng)
                fits[str(q)] = qfit
                summary.quantiles[str(q)] = {
                    "values": [float(np.quantile(e, q)) for e in errors],
                    "slope": qfit.slope, "ci": list(qfit.ci),
                    "verdict": verdict(qfit, pred.slope, pred.kind, **kw)}
            decide = fits[summary.decided_by]
            applied = []
            if summary.theory is not None:
                summary.checks["exact_slope"] = verdict(fit, summary.theory["slope"], "tight",
                                                        **kw)
                applied.append("exact")
                gate = source == "user" or exponent_applies(
                    summary.theory["local_slopes"][-1], pred.slope, pred.kind, tolerance)
            else:
                summary.checks["exact_slope"] = "no curve"
                gate = True
            if gate:
                summary.checks["asymptotic"] = verdict(decide, pred.slope, pred.kind, **kw)
                applied.append("asymptotic")
            else:
                summary.checks["asymptotic"] = "not applied"
            summary.slope_check = "+".join(applied)
            summary.verdict = worst(v for key, v in summary.checks.items()
                                    if v not in ("no curve", "not applied"))
        methods[method] = summary
    paired = []
    for a, b in PAIRS:
        if a in methods and b in methods:
            result = paired_comparison(study.records_for(a), study.records_for(b), grid)
            if result is not None:
                paired.append({"a": a, "b": b, **result})
    return StudySummary(
        example=study.example, params=study.params, seed=study.seed,
        sample_sizes=grid, replications=study.n_replications,
        tolerance=tolerance, max_halfwidth=max_halfwidth, methods=methods,
        failures=len({(r["n"], r["replication"]) for r in study.failures}),
        failure_messages=sorted({r["message"] for r in study.failures})[:5],
        metadata=study.metadata, n_bootstrap=n_bootstrap, band=band, statistic=statistic,
        paired=paired, teacher=_teacher_summary(study, curves, band),
    )


def _teacher_summary(study, curves, band) -> dict:
    """Per teacher error: mean and SE per n (one method's records: the teachers are shared),
    the WLS slope with its CI, and the theory ratios where a curve exists."""
    method = "crossfit" if "crossfit" in {r["method"] for r in study.records} else None
    if method is None:
        return {}
    recs = study.records_for(method)
    out = {}
    for key in TEACHER_FIELDS:
        by_n = {n: [r[key] for r in recs if r["n"] == n] for n in study.sample_sizes}
        sizes = [n for n, v in by_n.items() if len(v) >= 2 and np.all(np.isfinite(v))]
        if not sizes:
            continue
        stats = [mean_and_se(by_n[n]) for n in sizes]
        entry = {"sample_sizes": sizes, "mean": [s[0] for s in stats],
                 "se": [s[1] for s in stats], "slope": float("nan"),
                 "ci": [float("nan")] * 2, "theory": None}
        if len(sizes) >= 2 and all(s[0] > 0 for s in stats):
            fit = fit_slope(sizes, entry["mean"], entry["se"])
            entry["slope"], entry["ci"] = fit.slope, list(fit.ci)
        if key in curves:
            entry["theory"] = _curve_theory(sizes, study.sample_sizes, curves[key],
                                            [s[:2] for s in stats], band, len(sizes) >= 2)
        out[key] = entry
    return out
