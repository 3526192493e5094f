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
# # 2. Teacher overfitting and cross-fitting
#
# **Claim** (theory §5.2, 8). Vanilla distillation's error is controlled by the teacher's error
# *on its own training points*, $\|\hat p - p_0\|_n^2$. An interpolating teacher has
# $\hat p(x_i) = y_i$ there, so that error never shrinks and the vanilla student's error is
# $\Omega(1)$. Cross-fitting queries each teacher only on points it never saw, where the same
# teacher generalises: the student's error becomes $O(n^{-4/(4+d)})$, the teacher's held-out
# rate.
#
# The teacher: Nadaraya-Watson with the singular kernel $K(u) = \|u\|^{-a}1[\|u\| \le 1]$,
# $a = d/4$, bandwidth $h = n^{-1/(4+d)}$; the student: a constant under the squared-error logit
# loss, so $f_0 = E\log p_0(X)$ and the error is $\|\hat f - f_0\|^2$ exactly.
#
# `KDTHEORY_QUICK=1` selects a small grid (the test suite); unset, the notebook runs a larger
# one in about two minutes on 2 cores. `simulations/rate_sweep.py` runs the full studies for
# d in {1, 2, 4, 8}.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from kdtheory.distill import CrossFitKD, VanillaKD
from kdtheory.examples import get_example
from kdtheory.montecarlo import run_study
from kdtheory.plotting import plot_rates, tidy
from kdtheory.students import ConstantStudent
from kdtheory.teachers import NadarayaWatsonTeacher

QUICK = os.environ.get("KDTHEORY_QUICK") == "1"
N_JOBS = 1 if QUICK else 2
example = get_example("overfit")
rng = np.random.default_rng(0)

# %% [markdown]
# ## The interpolating teacher, in d = 1
#
# Draw n = 60 points from the example and fit the teacher. On a fine grid it is smooth and
# close to $p_0$; at each training point it jumps to that point's label.

# %%
params = example.resolve({"d": 1})
X, labels = example.sample(60, params, rng)
teacher = NadarayaWatsonTeacher(n_classes=2).fit(X, labels)
grid = np.sort(np.concatenate([np.linspace(0, 1, 2000), X[:, 0]]))[:, None]

fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(grid[:, 0], example.p0(grid, params)[:, 1], "k", lw=2, label="$p_0(x)$")
ax.plot(grid[:, 0], teacher.predict_proba(grid)[:, 1], lw=0.8, label=r"teacher $\hat p(x)$")
ax.plot(X[:, 0], labels, "o", ms=4, mfc="none", label="training labels $y_i$")
ax.set_xlabel("x")
ax.set_ylabel("P(class 1)")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

p_train = teacher.predict_proba(X)[:, 1]
print(f"max |p_hat(x_i) - y_i| over the training points: {np.max(np.abs(p_train - labels)):.1e}")

# %% [markdown]
# ## What the student sees
#
# Vanilla KD queries the teacher on its training points, so after clipping at 1e-3 every
# pseudo-target $\log\hat p(x_i)$ is either $\log(10^{-3}) \approx -6.9$ or $0$: the student
# learns the labels, not $p_0$. Cross-fit KD (5 folds) queries held-out points and sees a spread
# of values around $\log p_0$.

# %%
params = example.resolve({"d": 2})
X, labels = example.sample(2000, params, rng)
f0 = example.f0(params)
vanilla = VanillaKD(example.make_teacher(params), ConstantStudent(), n_classes=2).fit(X, labels)
crossfit = CrossFitKD(example.make_teacher(params), ConstantStudent(), n_folds=5, n_classes=2,
                      random_state=0).fit(X, labels)

fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(-7.2, 0.2, 60)
ax.hist(vanilla.pseudo_targets_[0, :, 1], bins=bins, alpha=0.6, label="vanilla")
ax.hist(crossfit.pseudo_targets_[0, :, 1], bins=bins, alpha=0.6, label="cross-fit")
ax.axvline(f0[1], color="k", ls="--", label=r"$f_{0,1} = E \log p_{0,1}(X)$")
ax.set_xlabel(r"pseudo-target of class 1, $\log \hat p_1(x_i)$")
ax.set_ylabel("count")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
tidy(fig)  # no overlapping tick labels
for name, est in (("vanilla", vanilla), ("cross-fit", crossfit)):
    print(f"{name:9s} student error ||f_hat - f0||^2 = {example.student_error(est, params):.4f}")

# %% [markdown]
# ## Rates in n, for two dimensions
#
# Now the Monte Carlo study: for each n, many independent data sets; every method sees the
# same data and the same teacher outputs (`kdtheory.montecarlo.run_study`). The plot shows the
# mean error per method with 95% Monte Carlo bars, the predicted slope dashed, and in the
# legend the fitted slope, its 95% CI and the verdict (docs/theory.md §6). The predictions are
# 0 (lower bound: vanilla does not decay), $-4/(4+d)$ for cross-fit and sample splitting
# (upper bounds: at least this fast) and $-\min(1, 8/(4+d))$ for enhanced KD.

# %%
if QUICK:
    grid_kw = {"sample_sizes": [200, 800, 3200], "n_replications": 12}
else:
    grid_kw = {"sample_sizes": [250, 500, 1000, 2000, 4000, 8000], "n_replications": 24}
summaries = {}
fig, axes = plt.subplots(1, 2, figsize=(15, 5.5))
for ax, d in zip(axes, (1, 4)):
    study = run_study("overfit", {"d": d}, seed=0, n_jobs=N_JOBS, progress=False, **grid_kw)
    summaries[d] = study.summarize()
    plot_rates(summaries[d], ax=ax)
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

# %%
for d, summary in summaries.items():
    print(f"--- d = {d} ---")
    print(summary)

# %% [markdown]
# ## The torus: exact finite-n curves at d = 1, 2 and 5
#
# On the flat torus there is no boundary, and the constant student's error has a finite-n
# prediction (docs/theory.md §5.5). The student sees only the *mean* of
# $\log\hat p - \log p_0$: its bias is the smoothing bias
# $b_1 = \log((\frac12 + s)/2) - f_0$, $s = \sqrt{1/4 - A^2\phi(2\pi h)^2}$, plus a negative
# Jensen term $b_2 \approx -\frac{\kappa}{2n'h^d}(1/s - 1)$. The solid lines are these curves,
# the dashed ones the asymptotic slopes. At d = 5 the bandwidth stays near 0.3-0.5, where the
# smoothing bias saturates: the curve itself is far slower than $n^{-4/9}$ on this range, and
# the measured cross-fit error follows the curve, not the exponent.

# %%
torus_grid = ({"sample_sizes": [250, 1000, 4000], "n_replications": 10} if QUICK else
              {"sample_sizes": [500, 2000, 8000, 32000], "n_replications": 30})
torus = {}
fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
for ax, d in zip(axes, (1, 2, 5)):
    study = run_study("torus", {"d": d}, seed=0, n_jobs=N_JOBS, progress=False, **torus_grid)
    torus[d] = study.summarize(n_bootstrap=200)
    plot_rates(torus[d], ax=ax)
fig.tight_layout()
tidy(fig)
for d, summary in torus.items():
    cf, teacher = summary.methods["crossfit"], summary.teacher["teacher_test_error"]
    print(f"d = {d}: cross-fit measured / predicted {np.round(cf.theory['ratio'], 2)} "
          f"({cf.theory['verdict']}); teacher L2 {np.round(teacher['theory']['ratio'], 2)} "
          f"({teacher['theory']['verdict']}); cross-fit slope {cf.slope:+.2f}, the curve's "
          f"own {cf.theory['slope']:+.2f}, asymptotic {cf.predicted_slope:+.2f} "
          f"(checks: {cf.slope_check})")

# %% [markdown]
# **Reading the results.** Vanilla KD sits at the same error for every n (the red line is
# flat: its error is about 15, set by $\log(\text{clip})$, not by n). Cross-fit KD decays. With
# the full grid of `simulations/rate_sweep.py` (n = 500 to 10^4, 40 replications) we measured
# cross-fit slopes of -0.76 at d = 1 (predicted -0.8) and -0.39 at d = 4 (predicted -0.5):
# at d = 4 the decay is *slower* than predicted and the verdict "consistent" rests on the
# 0.1 tolerance and the CI. The teacher table above shows why: the held-out teacher error
# itself decays more slowly than $n^{-4/(4+d)}$ over this range of n (boundary effects of
# Nadaraya-Watson on the cube and the singular kernel's variance), and the student inherits it.
# On the quick grid the intervals are wide and verdicts are often "inconclusive". The torus
# curves show what the slope cannot: with the full grid of `python -m kdtheory.rates --example
# torus --d 5` (n = 500..32000, 40 replications) the cross-fit error is 0.86-1.02 times its
# exact curve at every n, with slope -0.28 against the curve's own -0.30; the exponent -4/9 is
# not reached on any grid this machine can run.
#
# ## Exercise
#
# 1. Run the study at d = 8. The prediction for cross-fit is $-1/3$; what slope do you find,
#    and what happens to enhanced KD? (Look at `fallback_rate` and at how often the held-out
#    teacher is near 0 or 1; notebook 4 explains enhanced KD's trouble.)
# 2. Make the teacher stop interpolating: pass `{"d": 1}` and replace the teacher by
#    `NadarayaWatsonTeacher(kernel="gaussian", n_classes=2)` in a `VanillaKD` fit. Does vanilla
#    KD still fail? Which term of the vanilla bound changed?
