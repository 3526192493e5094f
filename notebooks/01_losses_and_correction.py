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
# # 1. Distillation as learning with a nuisance
#
# **Claim.** A distilled student solves a plug-in problem: the target is the best student
# $f_0 = \arg\min_{f} E\,\ell(f(X), p_0(X))$, the *nuisance* is the Bayes probability
# $p_0(x) = E[Y \mid X = x]$, and the teacher $\hat p$ is a plug-in estimate of it. A teacher
# error $\hat p - p_0$ moves the student's target to first order. The loss correction
# $\ell(f, \hat p) + \langle y - \hat p, \nabla_p \ell(f, \hat p)\rangle$ (theory §3) removes
# that first-order effect: what is left is second order in the teacher error. We check this on
# a single point $x$, exactly (the expectation over the label $y \sim p_0(x)$ is a sum of $k$
# terms), for the squared-error logit loss (SEL) and the annealed cross-entropy (ACE).
#
# Everything runs in seconds; `KDTHEORY_QUICK=1` only shortens the grids.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from kdtheory.losses import (
    AnnealedCrossEntropy, SquaredLogitLoss, corrected_loss, sel_pseudo_target,
)
from kdtheory.plotting import tidy

QUICK = os.environ.get("KDTHEORY_QUICK") == "1"
p0 = np.array([0.2, 0.3, 0.5])          # the Bayes probabilities at our point x
k = p0.size
labels = np.eye(k)                      # the k possible one-hot labels y = e_1..e_k

# %% [markdown]
# ## SEL: the student regresses on a pseudo-target
#
# Under SEL, $\ell(f, p) = \tfrac12\sum_j (f_j - \log p_j)^2$, so $f_0 = \log p_0$ at this point,
# and a student fit to a teacher minimises $\tfrac12\|f - t\|^2$ for the pseudo-target
#
# $$t_\gamma = \log\hat p + \gamma\,(y - \hat p), \qquad
#   \gamma = 0 \text{ (vanilla)}, \quad
#   \gamma = 1/\hat p \text{ (orthogonal: } t = \log\hat p + y/\hat p - 1).$$
#
# Take a teacher that is off: $\hat p = (0.3, 0.3, 0.4)$. Below, the two targets for each
# possible label, and their expectation over $y \sim p_0$ next to $f_0 = \log p_0$.

# %%
p_hat = np.array([0.3, 0.3, 0.4])
P_hat = np.tile(p_hat, (k, 1))          # the same teacher output, once per possible label
t_vanilla = sel_pseudo_target(P_hat, labels, alpha=0.0)
t_orth = sel_pseudo_target(P_hat, labels, alpha=np.inf)
print("label        vanilla target            corrected target")
for j in range(k):
    print(f"y = e_{j + 1}   {np.round(t_vanilla[j], 3)}   {np.round(t_orth[j], 3)}")
print(f"E_y vanilla  {np.round(p0 @ t_vanilla, 3)}")
print(f"E_y correct. {np.round(p0 @ t_orth, 3)}")
print(f"f0 = log p0  {np.round(np.log(p0), 3)}")

# %% [markdown]
# The corrected target is noisy (it depends on the label, through $y/\hat p$) but on average it
# lands much closer to $f_0$: $E_y t_\infty - \log p_0 = \log r + 1/r - 1$ with $r = \hat p/p_0$,
# which is $\tfrac12 (r - 1)^2 + O((r-1)^3)$, second order, while the vanilla bias $\log r$ is
# first order.
#
# ## The first-order vs second-order claim, as a plot
#
# Move the teacher away from $p_0$ along a fixed direction, $\hat p = p_0 + \varepsilon v$, and
# measure the bias of the expected target, $\|E_y t - \log p_0\|$. On log-log axes the vanilla
# bias has slope 1 and the corrected one slope 2.

# %%
v = np.array([1.0, 0.5, -1.5]) / 10     # sums to 0: p0 + eps v stays on the simplex
eps = np.geomspace(1e-3, 1e-1, 12 if QUICK else 40)


def target_bias(alpha):
    """||E_{y ~ p0} t_alpha(p0 + eps v, y) - log p0|| for each eps (exact sum over labels)."""
    return np.array([
        np.linalg.norm(p0 @ sel_pseudo_target(np.tile(p0 + e * v, (k, 1)), labels, alpha=alpha)
                       - np.log(p0))
        for e in eps
    ])


fig, ax = plt.subplots(figsize=(5.5, 4))
ax.loglog(eps, target_bias(0.0), "o-", ms=3, label=r"vanilla ($\alpha = 0$)")
ax.loglog(eps, target_bias(np.inf), "s-", ms=3, label=r"corrected ($\alpha = \infty$)")
ax.loglog(eps, eps, "k:", lw=1, label="slope 1")
ax.loglog(eps, eps ** 2, "k--", lw=1, label="slope 2")
ax.set_xlabel(r"teacher error $\varepsilon$  ($\hat p = p_0 + \varepsilon v$)")
ax.set_ylabel(r"$\|E_y\, t - \log p_0\|$")
ax.set_title("SEL: bias of the student's target at one point")
ax.legend()
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

slopes = {a: np.polyfit(np.log(eps), np.log(target_bias(a)), 1)[0] for a in (0.0, np.inf)}
print(f"fitted slopes: vanilla {slopes[0.0]:.2f}, corrected {slopes[np.inf]:.2f}")

# %% [markdown]
# ## The same through the loss: Neyman orthogonality
#
# The correction is generic: for any loss with a $p$-gradient,
# `kdtheory.losses.corrected_loss` adds
# $\langle \gamma\hat p\odot(y - \hat p), \nabla_p\ell\rangle$, which for
# $\gamma = 1/\hat p$ is the first-order term above. What matters for the student is the
# *gradient in f at the target* $f_0$: the population first-order condition. Its
# expectation over $y$ is zero at $\hat p = p_0$; the correction keeps it zero to first order
# in $\hat p - p_0$.
#
# ## Annealed cross-entropy and temperature
#
# With inverse temperature $\beta \in (0, 1]$ the teacher's output is tempered,
# $w = p^\beta / \sum_l p_l^\beta$, and the student's scores are read through
# $q = \mathrm{softmax}(\beta f)$; $\ell_\beta(f, p) = -\sum_j w_j \log q_j$. Small $\beta$
# (high temperature) flattens the teacher:

# %%
betas = (1.0, 0.5, 0.25)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for i, beta in enumerate(betas):
    w = p0 ** beta / np.sum(p0 ** beta)
    axes[0].bar(np.arange(k) + (i - 1) * 0.27, w, width=0.25, label=rf"$\beta = {beta}$")
axes[0].set_xticks(range(k), [f"class {j + 1}" for j in range(k)])
axes[0].set_ylabel(r"tempered teacher $w = p_0^\beta / \sum_l p_{0l}^\beta$")
axes[0].set_title("temperature flattens the teacher")
axes[0].legend()

# f0 = log p0 minimises l_beta(f, p0) for every beta (q = softmax(beta log p0) = w).
f0 = np.log(p0)[None, :]
for beta, marker in zip(betas[:2], ("o", "s")):
    ace = AnnealedCrossEntropy(beta=beta)
    plain, corrected = [], []
    for e in eps:
        P = np.tile(p0 + e * v, (k, 1))
        plain.append(np.linalg.norm(p0 @ ace.grad_f(np.tile(f0, (k, 1)), P)))
        corrected.append(np.linalg.norm(
            p0 @ ace.corrected_grad_f(np.tile(f0, (k, 1)), P, labels, 1.0 / P)))
    axes[1].loglog(eps, plain, marker + "-", ms=3, label=rf"vanilla, $\beta = {beta}$")
    axes[1].loglog(eps, corrected, marker + "--", ms=3, label=rf"corrected, $\beta = {beta}$")
axes[1].set_xlabel(r"teacher error $\varepsilon$")
axes[1].set_ylabel(r"$\|E_y \nabla_f \ell(f_0, \hat p)\|$")
axes[1].set_title("ACE: first-order condition at $f_0$")
axes[1].legend(fontsize=8)
fig.tight_layout()
tidy(fig)  # no overlapping tick labels

# %% [markdown]
# **What the plots show.** For both losses and both temperatures, the uncorrected quantity
# grows linearly in the teacher error. The corrected one grows quadratically for SEL and for
# ACE at $\beta = 0.5$; at $\beta = 1$ it is zero up to rounding ($10^{-16}$), because plain
# cross-entropy is linear in $p$, so its first-order expansion is exact. Temperature changes
# how the teacher is weighted, not the fact that an uncorrected teacher error passes to the
# student at first order. Notebooks 2 and 3 show what this means for rates in $n$: a teacher
# error of order $n^{-1/4}$ costs the vanilla student $n^{-1/2}$, the corrected one only
# $n^{-1}$.
#
# The SEL loss object gives the same check through values:
# `SquaredLogitLoss().value(f, p)` is $\ell$ and `kdtheory.losses.corrected_loss` the corrected
# loss; their minimisers over a constant $f$ are the mean vanilla and corrected targets above.

# %%
sel = SquaredLogitLoss()
grid = np.linspace(-3, 1, 401)
P = np.tile(p_hat, (k, 1))
# Expected corrected loss along class 1's score, other scores held at f0: its minimiser is
# the expected corrected target of class 1.
F = np.tile(np.log(p0), (grid.size, 1))
F[:, 0] = grid
expected = sum(p0[j] * corrected_loss(sel, F, np.tile(p_hat, (grid.size, 1)),
                                      np.tile(labels[j], (grid.size, 1)), 1.0 / P[0])
               for j in range(k))
print(f"argmin of the expected corrected loss in f_1: {grid[np.argmin(expected)]:.3f}; "
      f"E_y t_inf for class 1: {(p0 @ t_orth)[0]:.3f}; f0_1 = {np.log(p0[0]):.3f}")

# %% [markdown]
# ## Exercise
#
# 1. Replace `alpha=np.inf` by `alpha=1.0` in `target_bias` (the gamma rule
#    $\gamma_j = \alpha / (\hat p_j(\alpha + (y_j - \hat p_j)^2))$, `kdtheory.losses.gamma_rule`).
#    What is the bias at $\varepsilon \to 0$, i.e. for a *perfect* teacher? Why is it not zero?
#    (Hint: $\gamma$ depends on the realised label $y$, so $E_y[\gamma(y)(y - p_0)] \ne 0$.)
#    Notebook 4 shows the consequence for the student.
# 2. Repeat the ACE plot with $\beta = 0.1$. Does the corrected curve stay quadratic?
