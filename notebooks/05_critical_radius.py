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
# # 5. The critical radius
#
# Every bound of the paper has a complexity term $\delta_n^2$ next to the teacher term
# (docs/theory.md §8): vanilla $O(1/n + \|\hat p - p_0\|_n^2 + \delta_n^2)$, cross-fit
# $O(1/n + \text{mean}_t\|\hat p^{(t)} - p_0\|_2^2 + \delta_{n/B}^2)$. $\delta_n$ is the
# *critical radius* of the student class: the scale below which the class can fit noise.
#
# **Definition** (docs/theory.md §7). For a star-shaped class $G$ bounded by $b$, the localized
# Rademacher complexity is
# $R(\delta) = E\sup_{g \in G,\ \|g\|_n \le \delta} \frac1n\sum_i \varepsilon_i g(X_i)$ and
# $\delta_n$ is the smallest $\delta > 0$ with $R(\delta) \le \delta^2/b$.
#
# **Claims.** (1) For the constant class $\delta_n \approx b\sqrt{2/(\pi n)}$; for a linear class
# of rank $r$, $\delta_n \in [b\sqrt{r/2n}, b\sqrt{r/n}]$: parametric classes have
# $\delta_n^2 \asymp r/n$. (2) For a kernel class $\delta_n$ is set by the eigenvalue decay:
# fast decay (Gaussian kernel) approaches the parametric rate, slow decay (Laplace kernel,
# eigenvalues $\sim j^{-2}$) gives $\delta_n \sim n^{-1/3}$. (3) For the constant students
# of notebooks 2 and 3, $\delta_n^2 \approx 2/(\pi n)$ decays faster than the teacher term,
# which therefore sets the rate.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from kdtheory.montecarlo import run_study
from kdtheory.plotting import plot_bound_ratio, tidy
from kdtheory.radius import (
    constant_radius, critical_radius, kernel_radius, linear_radius, localized_rademacher,
)

QUICK = os.environ.get("KDTHEORY_QUICK") == "1"
N_JOBS = 1 if QUICK else 2
rng = np.random.default_rng(0)

# %% [markdown]
# ## What $\delta_n$ measures: the constant class
#
# The class $\{x \mapsto c : |c| \le 1\}$ is the star hull of the two functions $\pm 1$.
# `localized_rademacher` estimates $R(\delta)$ by Monte Carlo over sign vectors; for this class
# $R(\delta) = \delta\, E|\bar\varepsilon|$ for $\delta \le 1$, a line through 0, and
# $\delta_n$ is where it meets the parabola $\delta^2/b$. `critical_radius` solves for it by
# bisection; `constant_radius` knows the exact answer.

# %%
n = 100
R = localized_rademacher(np.vstack([np.ones(n), -np.ones(n)]), n_draws=4000, random_state=0)
delta_mc = critical_radius(R, 1.0)
exact = constant_radius(n)
deltas = np.linspace(0.005, 0.2, 100)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(deltas, [R(d) for d in deltas], label=r"$\hat R(\delta)$ (4000 sign draws)")
ax.plot(deltas, deltas ** 2, label=r"$\delta^2 / b$, b = 1")
ax.axvline(delta_mc, color="k", ls="--", label=rf"$\delta_n$ = {delta_mc:.4f} (bisection)")
ax.set_xlabel(r"$\delta$")
ax.set_title(f"constant class, n = {n}", fontsize=10)
ax.legend()
fig.tight_layout()
tidy(fig)  # no overlapping tick labels
print(f"Monte Carlo + bisection: {delta_mc:.4f};  exact: {exact.value:.4f};  "
      f"sqrt(2/(pi n)) = {np.sqrt(2 / (np.pi * n)):.4f}")

# %% [markdown]
# ## How $\delta_n$ scales with n, for four classes
#
# * constants: exact;
# * linear, $\phi(x) = (1, x)$ with $x \in [0,1]^{D-1}$ uniform (rank $r = D$): closed form
#   $b\,E\|P\varepsilon\|/\sqrt n$ with $P$ the hat matrix, between the dotted bounds;
# * unit balls of two reproducing-kernel spaces on $x \in [0,1]$ (length scale 0.1), from the
#   eigenvalues of $K/n$ (`kernel_radius`, an exact scan): the Gaussian kernel, whose
#   eigenvalues decay exponentially, and the Laplace kernel $e^{-|x - x'|/0.1}$, whose
#   eigenvalues decay like $j^{-2}$.

# %%
sizes = np.array([50, 100, 200, 400, 800] if QUICK else [50, 100, 200, 400, 800, 1600])
D = 5
radii = {"constants": [], f"linear, D = {D}": [], "Gaussian kernel": [], "Laplace kernel": []}
for n in sizes:
    x = rng.uniform(size=(n, D - 1))
    radii["constants"].append(constant_radius(n).value)
    phi = np.column_stack([np.ones(n), x])
    radii[f"linear, D = {D}"].append(linear_radius(phi, n_draws=200, random_state=0).value)
    dist = np.abs(x[:, :1] - x[:, :1].T)
    for name, K in (("Gaussian kernel", np.exp(-dist ** 2 / (2 * 0.1 ** 2))),
                    ("Laplace kernel", np.exp(-dist / 0.1))):
        radii[name].append(kernel_radius(np.linalg.eigvalsh(K / n)).value)

fig, ax = plt.subplots(figsize=(7, 4.5))
for name, values in radii.items():
    slope = np.polyfit(np.log(sizes), np.log(values), 1)[0]
    ax.loglog(sizes, values, "o-", label=f"{name}: slope {slope:+.2f}")
ax.loglog(sizes, np.sqrt(D / (2 * sizes)), "k:", lw=1, label=r"$\sqrt{D/2n}$, $\sqrt{D/n}$")
ax.loglog(sizes, np.sqrt(D / sizes), "k:", lw=1)
ax.set_xlabel("n")
ax.set_ylabel(r"$\delta_n$ (b = 1)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3, which="both")
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

# %% [markdown]
# The parametric classes have slope $-1/2$ and sit in their closed-form bands. The Laplace
# ball has slope near $-1/3$, the rate $n^{-s/(2s+1)}$ of eigenvalues $\mu_j \sim j^{-2s}$
# with $s = 1$. The Gaussian ball lies in between over this range of n (slope about $-0.4$):
# its eigenvalues decay exponentially, so its effective dimension grows only logarithmically
# and the slope creeps towards $-1/2$ as n grows.
#
# ## How $\delta_n$ enters the bounds
#
# The rate studies record, per cell, every term of each method's bound: $\delta_n^2$ of the
# student class (at the size the student's teacher split leaves: $n$ for vanilla, $n/B$ for
# cross-fitting), the teacher term (training-point error for vanilla, held-out error for
# cross-fit, the fourth-power held-out error for enhanced KD) and, for enhanced KD, the
# gamma-bias and gamma-variance terms. Below, the overfitting example at d = 1.

# %%
if QUICK:
    grid_kw = {"sample_sizes": [200, 800, 3200], "n_replications": 8}
else:
    grid_kw = {"sample_sizes": [250, 500, 1000, 2000, 4000], "n_replications": 16}
summary = run_study("overfit", {"d": 1}, seed=0, n_jobs=N_JOBS, progress=False,
                    **grid_kw).summarize()
fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
for ax, method in zip(axes[:2], ("vanilla", "crossfit")):
    m = summary.methods[method]
    n = np.array(m.sample_sizes)
    ax.loglog(n, m.mean_error, "ko-", label="student error")
    ax.loglog(n, m.bound.teacher_term, "s--", label="teacher term")
    ax.loglog(n, m.bound.delta_n_sq, "^--", label=r"$\delta^2$ (constant student)")
    ax.loglog(n, 1 / n, ":", label="1/n")
    ax.set_title(f"{method}: bound terms", fontsize=10)
    ax.set_xlabel("n")
    ax.legend(fontsize=8)
plot_bound_ratio(summary, ax=axes[2])
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

# %% [markdown]
# **Reading the results.** For vanilla KD the teacher term is the training-point error of an
# interpolating teacher, about 0.44 for every n, far above $\delta_n^2 \approx 2/(\pi n)$, and
# the student's error (about 15, in logit units) does not decay either. For cross-fit KD the
# complexity term is $\delta_{n/B}^2$ with B = 5 folds, five times $\delta_n^2$: at n = 200 it
# is as large as the held-out teacher term, but it decays like $1/n$, faster than the teacher
# term, so for large n the teacher's held-out error sets the student's rate. The right panel
# divides each method's mean error by its mean bound; the theorems say the ratio stays bounded
# in n (their constants are unspecified, so only the trend is meaningful, not the level).
#
# ## Exercise
#
# 1. Replace the constant student by a linear one with $D$ features. From the plot above,
#    $\delta_n^2 \approx D/n$; at d = 1 the held-out teacher error decays like $n^{-4/5}$. For
#    which $D$ (as a function of n) does the complexity term become the bottleneck?
# 2. Use `kernel_radius(eigenvalues, kappa=2.0)` (Mendelson's form). How do the kernel curves
#    move, and does the slope change?
