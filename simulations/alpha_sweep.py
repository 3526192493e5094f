r"""Student error against the bias-variance parameter alpha, from 0 to infinity, on both examples.

Enhanced KD fits the student to :math:`t_\gamma = \log\hat p + \gamma(y - \hat p)` with the
gamma rule of docs/theory.md §3,

.. math:: \gamma_j = \frac{\alpha}{\hat p_j(\alpha + (y_j - \hat p_j)^2)},

so ``alpha = 0`` is cross-fit KD (no correction) and ``alpha = inf`` the orthogonal correction
:math:`\gamma = 1/\hat p`. For each alpha of a log grid (both ends included) this script runs
:func:`kdtheory.montecarlo.run_study` with ``enhanced_alpha=alpha``; cells are seeded by
(example, n, replication) only, so every alpha sees the same data, folds and teacher outputs
(common random numbers: the curves differ only through alpha). ``--tune`` adds
``alpha="tune"`` (cross-validation on each fold's training rows, kdtheory.distill.tune_alpha)
as a horizontal line.

Panels: ``underfit`` (ridge teacher, the correction removes an O(n^-1/4) bias) and ``overfit``
at d = 1 and d = 8 (held-out Nadaraya-Watson teacher; at d = 8 it is often near 0 or 1, where
:math:`1/\hat p` is large).

Outputs (``--out``, default simulations/results/): ``alpha_sweep.csv`` (panel, example, d, n,
alpha, mean_error, se_error, median_error, replications, crossfit_mean_error) and
``alpha_sweep.png``.

Commands (2 cores, shared machine)::

    python simulations/alpha_sweep.py --tune          # full size, 4 min 42 s measured: n = 500,
                                                      # 2000; 200 replications (underfit), 40
                                                      # (overfit); 9 alphas plus "tune"
    python simulations/alpha_sweep.py --quick --out /tmp/alpha   # ~15 s
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys

import numpy as np

from kdtheory.montecarlo import run_study

ALPHAS = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, math.inf)
QUICK_ALPHAS = (0.0, 1e-2, 1.0, 100.0, math.inf)
PANELS = (("underfit", {}), ("overfit", {"d": 1}), ("overfit", {"d": 8}))
COLUMNS = ("panel", "example", "d", "n", "alpha", "mean_error", "se_error", "median_error",
           "replications", "crossfit_mean_error")


def panel_name(example: str, params: dict) -> str:
    return example + "".join(f" {k}={v}" for k, v in params.items())


def alpha_sweep(example, params, *, sample_sizes, n_replications, alphas=ALPHAS, tune=False,
                seed=0, n_jobs=1) -> list[dict]:
    """Mean enhanced-KD student error per (n, alpha); ``alpha`` is a float or ``"tune"``.

    Returns one row per (alpha, n) with the columns :data:`COLUMNS`; ``crossfit_mean_error``
    (the same data without correction) equals the ``alpha = 0`` row by construction.
    """
    rows = []
    for alpha in list(alphas) + (["tune"] if tune else []):
        study = run_study(example, {**params, "enhanced_alpha": alpha},
                          sample_sizes=sample_sizes, n_replications=n_replications, seed=seed,
                          n_jobs=n_jobs, progress=False)
        methods = study.summarize().methods
        enhanced, crossfit = methods["enhanced"], methods["crossfit"]
        for i, n in enumerate(enhanced.sample_sizes):
            rows.append({
                "panel": panel_name(example, params), "example": example,
                "d": params.get("d", ""), "n": n, "alpha": alpha,
                "mean_error": enhanced.mean_error[i], "se_error": enhanced.se_error[i],
                "median_error": enhanced.median_error[i], "replications": n_replications,
                "crossfit_mean_error": crossfit.mean_error[i],
            })
    return rows


def _alpha_positions(alphas):
    """x positions: log10(alpha) for finite positive alpha, 0 and inf one and a half decades
    beyond the smallest and largest finite ones; returns positions and tick labels."""
    finite = sorted(a for a in alphas if 0 < a < math.inf)
    lo, hi = math.log10(finite[0]) - 1.5, math.log10(finite[-1]) + 1.5
    pos = {a: (lo if a == 0 else hi if a == math.inf else math.log10(a)) for a in alphas}
    labels = {a: "0" if a == 0 else r"$\infty$" if a == math.inf
              else f"$10^{{{math.log10(a):g}}}$" for a in alphas}
    return pos, labels


def plot_alpha_sweep(rows, ax=None):
    """One panel: mean error (95% MC bars) against alpha per n; the tuned alpha dashed."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 3.8))
    else:
        fig = ax.figure
    alphas = sorted({r["alpha"] for r in rows if r["alpha"] != "tune"})
    pos, labels = _alpha_positions(alphas)
    for color, n in zip(("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"),
                        sorted({r["n"] for r in rows})):
        sweep = [r for r in rows if r["n"] == n and r["alpha"] != "tune"]
        sweep.sort(key=lambda r: pos[r["alpha"]])
        x = [pos[r["alpha"]] for r in sweep]
        mean = np.array([r["mean_error"] for r in sweep])
        bar = np.minimum(1.96 * np.array([r["se_error"] for r in sweep]), 0.999 * mean)
        ax.errorbar(x, mean, yerr=bar, fmt="o-", color=color, capsize=3, label=f"n = {n}")
        for r in rows:
            if r["n"] == n and r["alpha"] == "tune":
                ax.axhline(r["mean_error"], color=color, ls="--", lw=1,
                           label=f"n = {n}, alpha tuned by CV")
    ax.set_xticks([pos[a] for a in alphas], [labels[a] for a in alphas], fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$  (0: cross-fit KD; $\infty$: orthogonal correction)", fontsize=8)
    ax.set_ylabel(r"mean $\|\hat f - f_0\|^2$ (enhanced KD)", fontsize=8)
    ax.set_title(rows[0]["panel"], fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="n = 300, 1000; 20 (underfit) / 4 (overfit) replications; 5 alphas")
    p.add_argument("--tune", action="store_true", help="add alpha='tune' (slower)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    sizes = (300, 1000) if args.quick else (500, 2000)
    alphas = QUICK_ALPHAS if args.quick else ALPHAS
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.3 * len(PANELS), 3.9))
    all_rows = []
    for ax, (example, params) in zip(axes, PANELS):
        reps = (20 if args.quick else 200) if example == "underfit" else (4 if args.quick else 40)
        rows = alpha_sweep(example, params, sample_sizes=sizes, n_replications=reps,
                           alphas=alphas, tune=args.tune, seed=args.seed, n_jobs=args.n_jobs)
        plot_alpha_sweep(rows, ax=ax)
        all_rows += rows
        print(f"alpha_sweep: {panel_name(example, params)} done", file=sys.stderr)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "alpha_sweep.png"), dpi=90)
    with open(os.path.join(args.out, "alpha_sweep.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(all_rows)
    print(f"alpha_sweep: {len(all_rows)} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
