r"""The bound decomposition of rate studies (docs/theory.md §8): teacher errors, bound terms.

Each theorem bounds the student error :math:`\|\hat f - f_0\|^2` up to constants by

* vanilla: :math:`1/n + \|\hat p - p_0\|_n^2 + \delta_n^2` (training-point teacher error);
* sample-split and cross-fit: :math:`1/m + \|\hat p - p_0\|_2^2 + \delta_{n/B}^2` (held-out
  teacher error; B = 2 for sample splitting);
* enhanced: :math:`1/n + \|\hat p - p_0\|_4^4 + \delta_{n/B}^2` + gamma bias + gamma variance
  :math:`\delta_{n/B}^2\sqrt{E\|\gamma(Y - \hat p)\|^4}`;

* targeted: enhanced's bound at alpha = inf with :math:`\hat p` replaced by the updated teacher
  :math:`p^*` (the targeted student is the one-step estimate at :math:`p^*`, docs/theory.md
  §10.6): :math:`1/n + \|p^* - p_0\|_4^4 + \delta_{n/B}^2` + gamma variance. A heuristic:
  :math:`p^*` is fit on all n labels, so it is not a cross-fit nuisance (docs/theory.md §6);

:math:`\delta` is that of the loss-difference class (:func:`loss_class_factor`).

This module is the one place these quantities are computed: :func:`teacher_errors` per cell,
:func:`bound_terms` per method and cell, :func:`summarize_bounds` per method and n, and
:func:`format_bound_table` to print them. A study reports error / bound, which must stay
bounded in n where the theorem applies (not below 1: the constants are unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from .losses import gamma_rule
from .radius import student_critical_radius

TEACHER_TERM = {"vanilla": "teacher_train_error", "sample_split": "teacher_split_error",
                "crossfit": "teacher_test_error", "enhanced": "teacher_test_error4",
                "targeted": None}
"""The teacher error entering each method's bound: a key of :func:`teacher_errors`, or None
when :func:`bound_terms` computes it from the method's own teacher (targeted: :math:`p^*`)."""


def _sq_error(p_hat, p0, power=2):
    return float(np.mean(np.sum((p_hat - p0) ** power, axis=1)))


def teacher_errors(p0, p_vanilla, p_cross, p_split, *, clip, cross_teachers):
    r"""The teacher errors of one cell (docs/theory.md §1), each a mean over rows.

    Parameters
    ----------
    p0 : (n, k) Bayes probabilities at the cell's points
    p_vanilla : (n, k) the teacher fit on all n points, on those points
    p_cross : (n, k) out-of-fold outputs of the cross-fit teachers (one fold draw)
    p_split : (n, k) the sample-split teacher on its held-out half, NaN elsewhere
    clip : float
    cross_teachers : the fitted cross-fit teachers (for their fallback counts)

    Returns
    -------
    dict with ``teacher_train_error`` :math:`\|\hat p - p_0\|_n^2` (vanilla);
    ``teacher_test_error`` :math:`\frac1n\sum_i\|\hat p^{(t(i))}(x_i) - p_0(x_i)\|^2`, an
    unbiased estimate of :math:`\mathrm{mean}_t\|\hat p^{(t)} - p_0\|_2^2`;
    ``teacher_test_error4``, the same with fourth powers (:math:`\|\cdot\|_4^4`);
    ``teacher_split_error`` on the sample-split teacher's held-out half;
    ``fallback_rate``, the fraction of cross-fit queries answered by the teacher's fallback
    (NaN for teachers that do not count them); ``clip_rate``, the fraction of held-out outputs
    below ``clip``.
    """
    held = ~np.isnan(p_split[:, 0])
    counts = [getattr(t, "n_fallback_", None) for t in cross_teachers]
    n = p0.shape[0]
    return {
        "teacher_train_error": _sq_error(p_vanilla, p0),
        "teacher_test_error": _sq_error(p_cross, p0),
        "teacher_test_error4": _sq_error(p_cross, p0, 4),
        "teacher_split_error": _sq_error(p_split[held], p0[held]),
        "fallback_rate": (float(sum(counts) / n) if all(c is not None for c in counts)
                          else float("nan")),
        "clip_rate": float(np.mean(p_cross < clip)),
    }


def student_delta_sq(student_kind, n, n_folds) -> dict:
    r"""Per method, :math:`\delta^2` of the student class at the size its bound uses.

    :math:`\delta_n` for vanilla, :math:`\delta_{n/2}` for sample splitting and
    :math:`\delta_{n/B}` for cross-fit, enhanced and targeted KD, with b = 1
    (:func:`kdtheory.radius.student_critical_radius`).
    """
    size = {"vanilla": n, "sample_split": n // 2, "crossfit": n // n_folds,
            "enhanced": n // n_folds, "targeted": n // n_folds}
    radius = {m: student_critical_radius(student_kind, m).delta_sq for m in set(size.values())}
    return {method: radius[m] for method, m in size.items()}


def loss_class_factor(p0) -> float:
    r"""Ratio :math:`\delta_n(G)/\delta_n(F)` of the SEL loss-difference class G of a constant
    student to the constant class F, from p0 at the cell's rows (docs/theory.md §8.1).

    :math:`g_\Delta(x) = \frac12\|\Delta\|^2 + \Delta\cdot e(x)`, :math:`e = f_0 - \log p_0`,
    so G lies in the cone :math:`\mathrm{span}\{1, \log p_{01}, \dots, \log p_{0k}\}` of rank
    D (computed on the rows, relative tolerance 1e-10):

    * D = 1 (e = 0, p0 constant: the underfit example): G is the non-negative constants,
      whose radius is exactly half the constants' (theory §7.2): factor 1/2;
    * D > 1: the span's radius :math:`b\,E\|P_D\varepsilon\|/\sqrt n` bounds G's; as n grows
      :math:`E\|P_D\varepsilon\| \to E\chi_D = \sqrt2\,\Gamma(\frac{D+1}2)/\Gamma(\frac D2)`,
      and :math:`E\chi_1 = \sqrt{2/\pi}` is the constants', so the factor is
      :math:`E\chi_D/E\chi_1` (1.596/0.798 = 2 for D = 3).
    """
    logs = np.log(np.asarray(p0, dtype=np.float64))
    design = np.column_stack([np.ones(logs.shape[0]), logs])
    sv = np.linalg.svd(design, compute_uv=False)
    rank = int(np.sum(sv > 1e-10 * sv[0]))
    if rank == 1:
        return 0.5

    def e_chi(dim):
        return math.sqrt(2) * math.exp(math.lgamma((dim + 1) / 2) - math.lgamma(dim / 2))

    return e_chi(rank) / e_chi(1)


def bound_terms(method, estimator, y, p0, delta_n_sq, errors, *, clip):
    r"""The terms of the method's bound on the student error, on one draw (docs/theory.md §8).

    With m the rows the student uses, :math:`\hat p` the clipped teacher output on them (the
    updated :math:`p^*` for targeted) and :math:`\gamma` the correction weights of each split's
    alpha (``estimator.splits_``; alpha = inf for targeted):

    * ``delta_n_sq``: :math:`\delta^2` of the loss-difference class
      :math:`\{\ell(f, p_0) - \ell(f_0, p_0)\}` at the method's size: ``delta_n_sq`` (the
      constant class's, :func:`student_delta_sq`) times :func:`loss_class_factor` squared for a
      constant student (other students: the student class's, unchanged);
    * ``teacher_term``: the method's entry of ``errors`` (:func:`teacher_errors`, key
      :data:`TEACHER_TERM`); targeted: :math:`\frac1m\sum_i\|p^*_i - p_0(x_i)\|_4^4`;
    * ``gamma_bias`` :math:`\frac1m\sum_i\|(\gamma_i - 1/\hat p_i)(p_0 - \hat p_i)\|^2`, the
      first-order teacher error the correction leaves (0 at alpha = inf); enhanced and
      targeted;
    * ``gamma_variance`` :math:`\frac1B\sum_t \delta_{n/B}^2\sqrt{E_t\|\gamma(Y - \hat p)\|^4}`,
      :math:`E_t` the mean over fold t's held-out rows, as the theorem states it (0 at
      alpha = 0); enhanced and targeted;
    * ``bound`` = 1/m + ``delta_n_sq`` + ``teacher_term`` (+ the two gamma terms).

    Every term is NaN for a distiller with ``loss="ace"``: these bounds are derived here for
    the SEL loss only (docs/theory.md §5.6).
    """
    from .students import ConstantStudent

    if getattr(estimator, "loss", "sel") != "sel":
        return dict.fromkeys(("delta_n_sq", "teacher_term", "gamma_bias", "gamma_variance",
                              "bound"), float("nan"))

    corrected = method in ("enhanced", "targeted")
    proba = estimator.targeted_proba_[0] if method == "targeted" else estimator.teacher_proba_[0]
    used = ~np.isnan(proba[:, 0])
    m = int(used.sum())
    if all(isinstance(s, ConstantStudent) for s in estimator.students_):
        delta_n_sq = delta_n_sq * loss_class_factor(p0[used]) ** 2
    teacher_term = (errors[TEACHER_TERM[method]] if TEACHER_TERM[method] is not None
                    else _sq_error(proba[used], p0[used], 4))
    terms = {"delta_n_sq": delta_n_sq, "teacher_term": teacher_term, "gamma_bias": 0.0,
             "gamma_variance": 0.0}
    if corrected:
        p_hat = np.clip(proba, clip, 1.0)
        gamma = np.zeros_like(p_hat)
        fourth = []
        for t, (_, rows) in enumerate(estimator.splits_[0]):
            alpha = np.inf if method == "targeted" else estimator.alpha_[0, t]
            gamma[rows] = gamma_rule(p_hat[rows], y[rows], alpha=alpha, clip=clip)
            noise = np.sum((gamma[rows] * (y[rows] - p_hat[rows])) ** 2, axis=1)
            fourth.append(math.sqrt(float(np.mean(noise ** 2))))
        g, p, pp0 = gamma[used], p_hat[used], p0[used]
        terms["gamma_bias"] = float(np.mean(np.sum(((g - 1 / p) * (pp0 - p)) ** 2, axis=1)))
        terms["gamma_variance"] = float(delta_n_sq * np.mean(fourth))
    terms["bound"] = 1.0 / m + sum(terms.values())
    return terms


@dataclass
class BoundSummary:
    """Per n (a method's sample sizes): the mean over replications of each bound term, and
    ``ratio`` = mean student error / mean bound."""

    delta_n_sq: list
    teacher_train_error: list
    teacher_test_error: list
    teacher_term: list
    gamma_bias: list
    gamma_variance: list
    bound: list
    ratio: list


BOUND_FIELDS = ("delta_n_sq", "teacher_train_error", "teacher_test_error", "teacher_term",
                "gamma_bias", "gamma_variance", "bound")


def summarize_bounds(records_per_n, mean_errors) -> BoundSummary:
    """:class:`BoundSummary` from one method's records grouped by n (a list per n)."""
    means = {key: [float(np.mean([r[key] for r in recs])) for recs in records_per_n]
             for key in BOUND_FIELDS}
    return BoundSummary(**means, ratio=[e / b for e, b in zip(mean_errors, means["bound"])])


def format_bound_table(summary) -> str:
    """Per method and n: student error, the terms of its bound, and error / bound."""
    lines = ["bound decomposition (docs/theory.md §8): bound = 1/m + delta_n^2 + teacher term "
             "[+ gamma bias + gamma variance for enhanced and targeted]; delta_n: the SEL "
             "loss-difference class, b = 1; gamma variance "
             "delta_{n/B}^2 sqrt(E||gamma (Y - p_hat)||^4)"]
    lines.append(f"{'method':13s} {'n':>7s} {'error':>9s} {'delta_n^2':>9s} {'teacher':>9s} "
                 f"{'g-bias':>9s} {'g-var':>9s} {'bound':>9s} {'ratio':>8s}")
    for name, m in summary.methods.items():
        b = m.bound
        for j, n in enumerate(m.sample_sizes):
            lines.append(f"{name:13s} {n:7d} {m.mean_error[j]:9.2e} {b.delta_n_sq[j]:9.2e} "
                         f"{b.teacher_term[j]:9.2e} {b.gamma_bias[j]:9.2e} "
                         f"{b.gamma_variance[j]:9.2e} {b.bound[j]:9.2e} {b.ratio[j]:8.3f}")
    lines.append("teacher term: vanilla ||p_hat - p0||_n^2 on training points; sample_split and "
                 "crossfit ||p_hat - p0||^2 on held-out points; enhanced ||p_hat - p0||_4^4; "
                 "targeted ||p* - p0||_4^4 (the updated teacher)")
    teacher = getattr(summary, "teacher", {})
    if teacher:
        lines.append("teacher errors: slope of log(mean) on log n [95% CI]")
        for key, t in teacher.items():
            lines.append(f"  {key:20s} {t['slope']:+7.3f} [{t['ci'][0]:+7.3f}, "
                         f"{t['ci'][1]:+7.3f}]")
    return "\n".join(lines)
