r"""The bound decomposition of rate studies (docs/theory.md §8): teacher errors, bound terms.

Each theorem bounds the student error :math:`\|\hat f - f_0\|^2` up to constants by

* vanilla: :math:`1/n + \|\hat p - p_0\|_n^2 + \delta_n^2` (training-point teacher error);
* sample-split and cross-fit: :math:`1/m + \|\hat p - p_0\|_2^2 + \delta_{n/B}^2` (held-out
  teacher error; B = 2 for sample splitting);
* enhanced: :math:`1/n + \|\hat p - p_0\|_4^4 + \delta_{n/B}^2` + gamma bias + gamma variance.

This module is the one place these quantities are computed: :func:`teacher_errors` per cell,
:func:`bound_terms` per method and cell, :func:`summarize_bounds` per method and n, and
:func:`format_bound_table` to print them. A study reports error / bound, which must stay
bounded in n where the theorem applies (not below 1: the constants are unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .losses import gamma_rule
from .radius import student_critical_radius

TEACHER_TERM = {"vanilla": "teacher_train_error", "sample_split": "teacher_split_error",
                "crossfit": "teacher_test_error", "enhanced": "teacher_test_error4"}
"""The teacher error entering each method's bound (a key of :func:`teacher_errors`)."""


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
    :math:`\delta_{n/B}` for cross-fit and enhanced KD, with b = 1
    (:func:`kdtheory.radius.student_critical_radius`).
    """
    size = {"vanilla": n, "sample_split": n // 2, "crossfit": n // n_folds,
            "enhanced": n // n_folds}
    radius = {m: student_critical_radius(student_kind, m).delta_sq for m in set(size.values())}
    return {method: radius[m] for method, m in size.items()}


def bound_terms(method, estimator, y, p0, delta_n_sq, teacher_term, *, clip):
    r"""The terms of the method's bound on the student error, on one draw.

    With m the rows the student uses, :math:`\hat p` the clipped teacher output on them and
    :math:`\gamma` the correction weights of each split's alpha (``estimator.splits_``):

    * ``teacher_term``: the method's entry of :func:`teacher_errors` (:data:`TEACHER_TERM`);
    * ``gamma_bias`` :math:`\frac1m\sum_i\|(\gamma_i - 1/\hat p_i)(p_0 - \hat p_i)\|^2`, the
      first-order teacher error the correction leaves (0 at alpha = inf); enhanced only;
    * ``gamma_variance`` :math:`\frac{1}{m^2}\sum_i \|\gamma_i (y_i - \hat p_i)\|^2`, the
      label noise the correction adds to the mean pseudo-target (0 at alpha = 0); enhanced only;
    * ``bound`` = 1/m + ``delta_n_sq`` + ``teacher_term`` (+ the two gamma terms for enhanced).
    """
    proba = estimator.teacher_proba_[0]
    used = ~np.isnan(proba[:, 0])
    m = int(used.sum())
    terms = {"delta_n_sq": delta_n_sq, "teacher_term": teacher_term, "gamma_bias": 0.0,
             "gamma_variance": 0.0}
    if method == "enhanced":
        p_hat = np.clip(proba, clip, 1.0)
        gamma = np.zeros_like(p_hat)
        for t, (_, rows) in enumerate(estimator.splits_[0]):
            gamma[rows] = gamma_rule(p_hat[rows], y[rows], alpha=estimator.alpha_[0, t],
                                     clip=clip)
        g, p, yy, pp0 = gamma[used], p_hat[used], y[used], p0[used]
        terms["gamma_bias"] = float(np.mean(np.sum(((g - 1 / p) * (pp0 - p)) ** 2, axis=1)))
        terms["gamma_variance"] = float(np.sum((g * (yy - p)) ** 2) / m**2)
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
             "[+ gamma bias + gamma variance for enhanced]; delta_n: constant class, b = 1"]
    lines.append(f"{'method':13s} {'n':>7s} {'error':>9s} {'delta_n^2':>9s} {'teacher':>9s} "
                 f"{'g-bias':>9s} {'g-var':>9s} {'bound':>9s} {'ratio':>8s}")
    for name, m in summary.methods.items():
        b = m.bound
        for j, n in enumerate(m.sample_sizes):
            lines.append(f"{name:13s} {n:7d} {m.mean_error[j]:9.2e} {b.delta_n_sq[j]:9.2e} "
                         f"{b.teacher_term[j]:9.2e} {b.gamma_bias[j]:9.2e} "
                         f"{b.gamma_variance[j]:9.2e} {b.bound[j]:9.2e} {b.ratio[j]:8.3f}")
    lines.append("teacher term: vanilla ||p_hat - p0||_n^2 on training points; sample_split and "
                 "crossfit ||p_hat - p0||^2 on held-out points; enhanced ||p_hat - p0||_4^4")
    return "\n".join(lines)
