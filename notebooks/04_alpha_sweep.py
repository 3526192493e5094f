# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. The bias-variance parameter alpha
#
# The orthogonal correction divides by the teacher: $t = \log\hat p + (y - \hat p)/\hat p$.
# Where $\hat p$ is small the target is noisy. docs/theory.md §3 trades bias for variance with a
# per-sample weight $\gamma$ in place of $1/\hat p$:
#
# $$t_\gamma = \log\hat p + \gamma\,(y - \hat p), \qquad
#   \gamma_j = \arg\min_g\; g^2 (y_j - \hat p_j)^2 + \alpha\,(1/\hat p_j - g)^2
#            = \frac{\alpha}{\hat p_j\,(\alpha + (y_j - \hat p_j)^2)} .$$
#
# $\alpha = 0$ is cross-fit KD (no correction), $\alpha = \infty$ the orthogonal correction.
#
# **Claim.** Both extremes behave as notebooks 2 and 3 predict: $\alpha = \infty$ wins when the
# teacher's bias dominates (underfitting), $\alpha = 0$ can win when $1/\hat p$ is large
# (a held-out teacher near 0 or 1). **What we find in between** is not a smooth compromise: with
# this rule the interior is *worse than both ends* on the underfitting example and at d = 1,
# because $\gamma$ depends on the realised label, which biases the corrected target even for a
# perfect teacher. Only at d = 8, where $1/\hat p$ explodes, does a small alpha beat both ends.

# %%
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from kdtheory.losses import gamma_rule, sel_pseudo_target
from kdtheory.plotting import tidy

sys.path.insert(0, str(Path.cwd().parent / "simulations"))  # the full-size figure scripts
from alpha_sweep import ALPHAS, PANELS, QUICK_ALPHAS, alpha_sweep, plot_alpha_sweep  # noqa: E402

QUICK = os.environ.get("KDTHEORY_QUICK") == "1"
N_JOBS = 1 if QUICK else 2

# %% [markdown]
# ## The rule on one class
#
# Take $\hat p_j = 0.2$. If the label is this class ($y_j = 1$) the residual is large,
# $(y_j - \hat p_j)^2 = 0.64$, and $\gamma$ is shrunk hard; if not ($y_j = 0$) the residual is
# $0.04$ and $\gamma$ stays near $1/\hat p_j = 5$ until $\alpha$ is tiny.

# %%
alpha_grid = np.geomspace(1e-4, 1e4, 200)
p_hat = np.array([[0.2, 0.8]])
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for y_j, style in ((1, "-"), (0, "--")):
    y = np.array([[y_j, 1 - y_j]], dtype=float)
    gam = [gamma_rule(p_hat, y, alpha=a)[0, 0] for a in alpha_grid]
    axes[0].semilogx(alpha_grid, gam, style, label=f"$y_j = {y_j}$")
axes[0].axhline(5.0, color="k", lw=0.8, ls=":", label=r"$1/\hat p_j$")
axes[0].set_xlabel(r"$\alpha$")
axes[0].set_ylabel(r"$\gamma_j$ at $\hat p_j = 0.2$")
axes[0].legend()

# The expected corrected target of a *perfect* teacher (p_hat = p0), exactly over y ~ p0:
# E_y t_gamma - log p0 = E_y[gamma(y) (y - p0)], zero at alpha = 0 and alpha = inf only.
p0 = np.array([0.2, 0.3, 0.5])
labels = np.eye(3)
bias = [np.linalg.norm(p0 @ sel_pseudo_target(np.tile(p0, (3, 1)), labels, alpha=a)
                       - np.log(p0)) for a in alpha_grid]
axes[1].loglog(alpha_grid, bias)
axes[1].set_xlabel(r"$\alpha$")
axes[1].set_ylabel(r"$\|E_y t_\gamma - \log p_0\|$, perfect teacher")
axes[1].set_title(r"$p_0 = (0.2, 0.3, 0.5)$", fontsize=9)
fig.tight_layout()
tidy(fig)  # no overlapping tick labels
print(f"largest bias {max(bias):.3f} at alpha = {alpha_grid[int(np.argmax(bias))]:.3g}")

# %% [markdown]
# The right panel is the problem: at $\alpha$ around 0.1 to 1 even a perfect teacher's
# corrected target is off by about 0.55, because $E_y[\gamma(y)(y - p_0)] \neq 0$ when $\gamma$
# depends on $y$. (At $\alpha = 0$ the correction is zero; at $\alpha = \infty$ it is
# $E_y[(y - p_0)/p_0] = 0$.) This is a property of the per-sample rule of docs/theory.md §3, and the
# sweep below shows it in the student's error.
#
# ## Student error against alpha
#
# For each alpha on a log grid from 0 to $\infty$, `alpha_sweep` (from
# `simulations/alpha_sweep.py`, which makes the full-size figure) runs
# `kdtheory.montecarlo.run_study` with `enhanced_alpha=alpha`. Cells are seeded by
# (example, n, replication) only, so every alpha sees the same data and teacher outputs, and
# the $\alpha = 0$ point is exactly cross-fit KD.

# %%
if QUICK:
    panels = [PANELS[0], PANELS[2]]            # underfit, overfit d = 8
    sizes, alphas, reps = (300, 1000), QUICK_ALPHAS, {"underfit": 20, "overfit": 6}
else:
    panels = PANELS                            # underfit, overfit d = 1, overfit d = 8
    sizes, alphas, reps = (500, 2000), ALPHAS, {"underfit": 100, "overfit": 16}
fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4))
results = {}
for ax, (example, params) in zip(axes, panels):
    rows = alpha_sweep(example, params, sample_sizes=sizes, n_replications=reps[example],
                       alphas=alphas, seed=0, n_jobs=N_JOBS)
    plot_alpha_sweep(rows, ax=ax)
    results[rows[0]["panel"]] = rows
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

for panel, rows in results.items():
    n = max(r["n"] for r in rows)
    best = min((r for r in rows if r["n"] == n), key=lambda r: r["mean_error"])
    ends = {r["alpha"]: r["mean_error"] for r in rows if r["n"] == n and r["alpha"] in (0, np.inf)}
    print(f"{panel:14s} n = {n}: alpha = 0 -> {ends[0.0]:.3g}, alpha = inf -> {ends[np.inf]:.3g}, "
          f"best alpha = {best['alpha']:g} -> {best['mean_error']:.3g}")

# %% [markdown]
# **Reading the results.**
#
# * `underfit`: $\alpha = \infty$ is best by an order of magnitude (it removes the ridge
#   bias); the interior, around $\alpha = 0.1$, is worse than no correction at all.
# * `overfit`, d = 1 (full grid only): the two ends are close, $\alpha = \infty$ slightly
#   better; again a bump in the interior.
# * `overfit`, d = 8: the held-out teacher is often near 0 or 1 and $1/\hat p$ (up to
#   $1/\text{clip} = 1000$) makes $\alpha = \infty$ catastrophic (errors in the hundreds);
#   a small $\alpha \approx 10^{-2}$ beats both ends here.
#
# The full-size run (`python simulations/alpha_sweep.py --tune`, n = 500 and 2000) adds the
# cross-validated choice `alpha="tune"` as a dashed line. It matches the better end on
# `underfit` (0.0043 at n = 2000, against 0.0044 at $\alpha = \infty$) and at d = 1, but at
# d = 8 it fails: 149 at n = 2000, against 0.037 without correction and 0.013 at
# $\alpha = 10^{-2}$. The tuning criterion scores candidates against the orthogonal target
# $\log\hat p + y/\hat p - 1$, which is itself unreliable where the teacher hits the clip
# (its remainder, of order $(\hat p - p_0)^2/\hat p$, is then not small), so it prefers large
# alpha exactly where large alpha is worst.
#
# ## Exercise
#
# 1. Derive $E_y[\gamma(y)(y_j - p_{0j})]$ at $\hat p = p_0$ for a binary class with
#    $p_{0j} = 0.2$ and $\alpha = 0.1$ by hand (two terms), and compare with the right panel
#    of the first figure.
# 2. Propose a label-free rule: replace $(y_j - \hat p_j)^2$ by its expectation under the
#    teacher, $\hat p_j(1 - \hat p_j)$, so that $\gamma_j$ depends on $x$ only. Recompute the
#    perfect-teacher bias with `sel_pseudo_target`'s formula written out by hand. Is it zero
#    for every $\alpha$?
