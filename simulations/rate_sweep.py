r"""Rate studies of the lower-bound examples: ``overfit`` for d in {1, 2, 4, 8}, ``torus`` for d in
{1, 2, 5}, ``underfit``, and its annealed cross-entropy variant ``underfit_ace``.

Each study is one run of the package CLI (:func:`kdtheory.rates.main`, i.e.
:func:`kdtheory.montecarlo.run_study` -> :func:`kdtheory.results.summarize` ->
:func:`kdtheory.plotting.plot_rates`) at the example's default grid, seed 0. It writes

* ``rates_<study>.json``: the study summary (mean error per n, WLS slope with 95% CI, verdict);
* ``rates_<study>.png``: log-log mean error against n per method, predicted slopes dashed;

and the sweep adds

* ``slopes.csv``: one row per (study, method) with the fitted and the predicted slope
  (docs/theory.md §6: vanilla 0 (lower), cross-fit :math:`-4/(4+d)` (upper), enhanced and
  targeted :math:`-\min(1, 8/(4+d))` (upper) on ``overfit`` and ``torus``; -1/2, -1/2, -1, -1
  on ``underfit``; -1 (tight) for every method on ``underfit_ace``);
* ``slopes_vs_d.png``: the fitted cross-fit and enhanced slopes of ``overfit`` (dots) and
  ``torus`` (squares) against d, with the predicted curves.

Commands (2 cores, shared machine)::

    python simulations/rate_sweep.py                 # full size, 567 s of study measured
                                                     # (9 studies, load ~2): the example grids
                                                     # (overfit, torus: n = 500..32000, 40
                                                     # replications; underfit, underfit_ace:
                                                     # n = 300..10^5, 200 replications)
    python simulations/rate_sweep.py --quick --out /tmp/sweep   # the examples' quick grids
    python simulations/rate_sweep.py --examples torus            # only the torus studies
    python simulations/rate_sweep.py --targeted-table # reprint the targeted-vs-enhanced table

Cells are independent and seeded by (example, n, replication), so ``--cache-dir`` makes an
interrupted sweep resume where it stopped, and ``--scheduler tcp://HOST:PORT`` runs them on a
Dask cluster with bitwise the same results. Verdicts are results, not errors: the exit code is 0
whenever every study ran without failed cells.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

from kdtheory import rates
from kdtheory.results import StudySummary

DIMENSIONS = {"overfit": (1, 2, 4, 8), "torus": (1, 2, 5)}
EXAMPLES = ("overfit", "torus", "underfit", "underfit_ace")
SLOPE_COLUMNS = ("study", "example", "d", "method", "slope", "slope_se", "ci_low", "ci_high",
                 "predicted_slope", "kind", "verdict", "replications", "n_min", "n_max")


def study_argv(example: str, d: int | None) -> list[str]:
    """The CLI arguments that select one study."""
    return ["--example", example] + ([] if d is None else ["--d", str(d)])


def study_name(example: str, d: int | None) -> str:
    return example if d is None else f"{example}_d{d}"


def run_one(example, d, out, *, quick, replications, n_jobs, seed, cache_dir, scheduler):
    """Run one study through the CLI; returns its summary (read back from the JSON it wrote)."""
    name = study_name(example, d)
    json_path = os.path.join(out, f"rates_{name}.json")
    argv = study_argv(example, d) + [
        "--json", json_path, "--plot", os.path.join(out, f"rates_{name}.png"),
        "--n-jobs", str(n_jobs), "--seed", str(seed), "--no-progress",
    ]
    if quick:
        argv.append("--quick")
    if replications:
        argv += ["--replications", str(replications)]
    if cache_dir:
        argv += ["--cache-dir", os.path.join(cache_dir, name)]
    if scheduler:
        argv += ["--scheduler", scheduler]
    rates.main(argv)
    with open(json_path) as fh:
        return StudySummary.from_json(fh.read())


def slope_rows(name: str, summary: StudySummary) -> list[dict]:
    """One ``slopes.csv`` row per method of a study summary."""
    rows = []
    for method, m in summary.methods.items():
        rows.append({
            "study": name, "example": summary.example, "d": summary.params.get("d", ""),
            "method": method, "slope": m.slope, "slope_se": m.slope_se,
            "ci_low": m.ci[0], "ci_high": m.ci[1],
            "predicted_slope": m.predicted_slope, "kind": m.kind, "verdict": m.verdict,
            "replications": summary.replications, "n_min": min(m.sample_sizes),
            "n_max": max(m.sample_sizes),
        })
    return rows


def targeted_table(summaries: dict) -> str:
    """Markdown rows comparing enhanced and targeted KD per study (docs/theory.md §10.6): mean
    and median slopes with 95% CIs, mean and median error at the smallest and largest n, the
    range over n of the paired mean log ratio targeted / enhanced and of targeted's win rate,
    and both verdicts. Studies without both methods are skipped."""
    def slope(s, ci):
        return f"{s:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"

    lines = ["| study | mean slope | median slope | mean, smallest n | median, smallest n | "
             "mean, largest n | median, largest n | paired mean log(tgt / enh), min .. max over n "
             "(fraction targeted wins) | verdicts |", "|" + " --- |" * 9]
    for name, summary in summaries.items():
        pairs = [p for p in summary.paired if (p["a"], p["b"]) == ("targeted", "enhanced")]
        if not pairs:
            continue
        e, t = summary.methods["enhanced"], summary.methods["targeted"]
        pair = pairs[0]
        cells = [name, f"{slope(e.slope, e.ci)} / {slope(t.slope, t.ci)}",
                 " / ".join(slope(m.quantiles["0.5"]["slope"], m.quantiles["0.5"]["ci"])
                            for m in (e, t))]
        for j in (0, -1):
            cells += [f"{e.mean_error[j]:.2e} / {t.mean_error[j]:.2e}",
                      f"{e.median_error[j]:.2e} / {t.median_error[j]:.2e}"]
        ratio, wins = pair["mean_log_ratio"], pair["win_rate"]
        cells += [f"{min(ratio):+.2f} .. {max(ratio):+.2f} (wins {min(wins):.2f}-{max(wins):.2f})",
                  f"{e.verdict} / {t.verdict}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_slopes_vs_d(rows: list[dict]):
    r"""Fitted ``overfit`` slopes (95% CI) of cross-fit and enhanced against d, with the
    predicted :math:`-4/(4+d)` and :math:`-\min(1, 8/(4+d))`; returns the Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    from kdtheory.plotting import COLORS

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(1, 8, 100)
    predicted = {"crossfit": -4 / (4 + grid), "enhanced": -np.minimum(1, 8 / (4 + grid))}
    for offset, method in ((-0.08, "crossfit"), (0.08, "enhanced")):
        for example, marker, shift in (("overfit", "o", 0.0), ("torus", "s", 0.16)):
            sel = [r for r in rows if r["example"] == example and r["method"] == method]
            if not sel:
                continue
            d = np.array([float(r["d"]) for r in sel])
            slope = np.array([float(r["slope"]) for r in sel])
            err = np.array([[s - float(r["ci_low"]) for s, r in zip(slope, sel)],
                            [float(r["ci_high"]) - s for s, r in zip(slope, sel)]])
            ax.errorbar(d + offset + shift, slope, yerr=err, fmt=marker, capsize=3,
                        color=COLORS[method], label=f"{method}, {example}: fitted (95% CI)")
        ax.plot(grid, predicted[method], "--", color=COLORS[method],
                label=f"{method}: predicted (upper bound on the slope)")
    ax.axhline(0.0, color=COLORS["vanilla"], ls=":", label="vanilla: predicted 0 (no decay)")
    ax.set_ylim(-2.0, 0.5)
    ax.set_xlabel("dimension d")
    ax.set_ylabel("slope of log mean error vs log n")
    ax.set_title("teacher overfitting (cube and torus): fitted rates against d", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the examples' quick grids")
    p.add_argument("--replications", type=int, default=None,
                   help="override the examples' number of replications")
    p.add_argument("--examples", nargs="+", choices=EXAMPLES, default=list(EXAMPLES),
                   help="which examples to run (default: all)")
    p.add_argument("--dims", type=int, nargs="+", default=None,
                   help="dimensions d of the overfit and torus examples (default: overfit "
                        "1 2 4 8, torus 1 2 5)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"),
                   help="output directory")
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="joblib workers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="store finished cells here (resume)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the cells on this Dask cluster (kdtheory[dask]) instead of joblib")
    p.add_argument("--targeted-table", action="store_true",
                   help="print the targeted-vs-enhanced table from the summaries already in "
                        "--out, and exit (nothing is run)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(args.out, exist_ok=True)
    rows, failures, summaries = [], 0, {}
    studies = [(example, d) for example in args.examples
               for d in ((args.dims or DIMENSIONS[example]) if example in DIMENSIONS
                         else (None,))]
    if args.targeted_table:
        for example, d in studies:
            path = os.path.join(args.out, f"rates_{study_name(example, d)}.json")
            if os.path.exists(path):
                with open(path) as fh:
                    summaries[study_name(example, d)] = StudySummary.from_json(fh.read())
        if not summaries:
            print(f"rate_sweep: no rates_*.json of these studies in {args.out}", file=sys.stderr)
            return 2
        print(targeted_table(summaries))
        return 0
    for example, d in studies:
        summary = run_one(example, d, args.out, quick=args.quick,
                          replications=args.replications, n_jobs=args.n_jobs,
                          seed=args.seed, cache_dir=args.cache_dir, scheduler=args.scheduler)
        failures += summary.failures
        summaries[study_name(example, d)] = summary
        rows += slope_rows(study_name(example, d), summary)
    with open(os.path.join(args.out, "slopes.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SLOPE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    plot_slopes_vs_d(rows).savefig(os.path.join(args.out, "slopes_vs_d.png"), dpi=90)
    print(f"rate_sweep: {len(rows)} slopes written to {os.path.join(args.out, 'slopes.csv')}")
    print("targeted vs enhanced (docs/theory.md §10.6):\n" + targeted_table(summaries))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
