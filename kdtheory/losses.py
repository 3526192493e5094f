r"""Distillation losses, their gradients, and the loss-corrected (orthogonal) pseudo-targets.

Notation (docs/theory.md §1-3): rows are points, columns the k classes; ``f`` are student scores,
``p`` teacher probabilities, ``y`` one-hot labels. Every teacher output is clipped to
``[clip, 1]`` per class before a log or a division (:func:`clip_proba`), with no
renormalisation.

Two losses, each exposing ``value``, ``grad_f`` and ``grad_p`` (vectorised over rows):

* squared-error logit loss (SEL) :math:`\ell(f,p) = \tfrac12 \sum_j (f_j - \log p_j)^2`;
* annealed cross-entropy (ACE) with inverse temperature :math:`\beta \in (0, 1]`,
  :math:`\ell_\beta(f,p) = -\sum_j w_j \log q_j`, :math:`w = p^\beta / \sum_l p_l^\beta`,
  :math:`q = \mathrm{softmax}(\beta f)`.

The first-order loss correction (theory §3) adds :math:`\langle y - p, \nabla_p \ell(f,p)\rangle`,
which makes the expected loss Neyman-orthogonal to the teacher error at ``p = p0``. The
gamma-correction replaces the factor ``1/p`` hidden in :math:`\nabla_p \ell` by a shrunk
:math:`\gamma` chosen by the alpha rule (:func:`gamma_rule`).
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    check_alpha, check_beta, check_choice, check_clip, check_onehot, check_proba,
)

DEFAULT_CLIP = 1e-3
"""Default clipping level of teacher probabilities (docs/theory.md §2)."""


def clip_proba(p, clip: float = DEFAULT_CLIP) -> np.ndarray:
    """Teacher probabilities clipped to ``[clip, 1]`` per class (no renormalisation)."""
    return np.clip(check_proba(p), check_clip(clip), 1.0)


GAMMA_FORMS = ("diagonal", "matrix")
"""The two gamma rules: ``"diagonal"`` (the authors' code, the default) and ``"matrix"`` (the
talk's slide)."""


def gamma_rule(p_hat, y_onehot, *, alpha, clip: float = DEFAULT_CLIP,
               gamma_form: str = "diagonal") -> np.ndarray:
    r"""Correction weights :math:`\gamma` of the bias-variance trade-off (theory §3).

    ``gamma_form="diagonal"`` (the authors' code, KDMSEBoundFast; the default), per class:

    .. math:: \gamma_j = \arg\min_g\; g^2 (y_j - \hat p_j)^2 + \alpha (1/\hat p_j - g)^2
              = \frac{\alpha}{\hat p_j(\alpha + (y_j - \hat p_j)^2)},

    an (n, k) array. ``gamma_form="matrix"`` (the talk's slide), per row over full k x k
    matrices, with :math:`D = \mathrm{diag}(1/\hat p)` and :math:`v = y - \hat p`:

    .. math:: \Gamma = \arg\min_G \|G v\|^2 + \alpha \|D - G\|_F^2
              = \alpha D (v v^\top + \alpha I)^{-1}
              = D\Big(I - \frac{v v^\top}{\alpha + \|v\|^2}\Big)

    (row r of G solves the ridge problem :math:`(g^\top v)^2 + \alpha\|D_r - g\|^2`; the last
    form is Sherman-Morrison), an (n, k, k) array, whose action on the residual is one
    shrinkage factor for the whole row: :math:`\Gamma v = \frac{\alpha}{\alpha + \|v\|^2}
    \, v / \hat p` (:func:`gamma_residual`). For k = 2 this equals the diagonal rule at
    alpha / 2; for k >= 3 the two differ.

    :math:`\hat p` is clipped. ``alpha = 0`` gives exactly 0 (no correction, vanilla) and
    ``alpha = inf`` exactly :math:`1/\hat p` (resp. D; the orthogonal correction) in both
    forms; both limits are evaluated as such, not approximated by large or small numbers.

    Because :math:`\gamma` depends on the observed label, an intermediate alpha biases the
    target even for a perfect teacher: with :math:`\hat p_j = p_{0j} = p`, diagonal rule,
    :math:`E_y[\gamma_j (y_j - p)] = \alpha(1-p)\,[1/(\alpha+(1-p)^2) - 1/(\alpha+p^2)]`,
    zero only at p = 1/2 or the two limits (see simulations/alpha_sweep.py). The enhanced-KD
    theorem (docs/theory.md §8) is stated for a matrix :math:`\gamma^{(t)}(x)` that does not
    depend on the label; both rules satisfy it only at alpha = 0 and alpha = inf.
    """
    alpha = check_alpha(alpha)
    p = clip_proba(p_hat, clip)
    y = check_onehot(y_onehot, shape=p.shape)
    if check_choice(gamma_form, "gamma_form", GAMMA_FORMS) == "matrix":
        n, k = p.shape
        if alpha == 0.0:
            return np.zeros((n, k, k))
        eye = np.broadcast_to(np.eye(k), (n, k, k))
        if np.isinf(alpha):
            return eye / p[:, :, None]
        v = y - p
        inner = eye - v[:, :, None] * v[:, None, :] / (alpha + np.sum(v * v, axis=1))[:, None, None]
        return inner / p[:, :, None]
    if alpha == 0.0:
        return np.zeros_like(p)
    if np.isinf(alpha):
        return 1.0 / p
    return alpha / (p * (alpha + (y - p) ** 2))


def gamma_residual(p_hat, y_onehot, *, alpha, clip: float = DEFAULT_CLIP,
                   gamma_form: str = "diagonal") -> np.ndarray:
    r"""The corrected residual :math:`r = \gamma(y - \hat p)` (n, k) of :func:`gamma_rule`.

    Diagonal: :math:`r_j = \gamma_j (y_j - \hat p_j)`. Matrix: the closed form
    :math:`r = \frac{\alpha}{\alpha + \|v\|^2}\, v / \hat p` (no k x k matrix is built;
    ``alpha = inf`` gives :math:`v/\hat p` exactly, ``alpha = 0`` zero). With ``clip``ped
    :math:`\hat p`, :math:`r = y/\hat p - 1` at alpha = inf in both forms.
    """
    p = clip_proba(p_hat, clip)
    if check_choice(gamma_form, "gamma_form", GAMMA_FORMS) == "diagonal":
        gamma = gamma_rule(p, y_onehot, alpha=alpha, clip=clip)
        return gamma * (np.asarray(y_onehot, dtype=np.float64) - p)
    alpha = check_alpha(alpha)
    v = check_onehot(y_onehot, shape=p.shape) - p
    if alpha == 0.0:
        return np.zeros_like(p)
    shrink = 1.0 if np.isinf(alpha) else alpha / (alpha + np.sum(v * v, axis=1, keepdims=True))
    return shrink * v / p


def sel_pseudo_target(p_hat, y_onehot, *, alpha, clip: float = DEFAULT_CLIP,
                      gamma_form: str = "diagonal") -> np.ndarray:
    r"""The SEL student's regression target under the gamma-correction (docs/theory.md §3).

    .. math:: t_\gamma = \log \hat p + \gamma (y - \hat p)

    (:func:`gamma_residual`; elementwise for the diagonal rule, a matrix-vector product for the
    matrix rule). Minimising :math:`\tfrac12\|f - t_\gamma\|^2` equals minimising the
    corrected loss :math:`\ell(f, \hat p)
    + \langle \mathrm{diag}(\hat p)\gamma (y - \hat p), \nabla_p \ell(f,\hat p)\rangle` up to
    terms free of ``f``. ``alpha = 0`` gives :math:`\log \hat p` (vanilla);
    ``alpha = inf`` the orthogonal target :math:`\log\hat p + (y - \hat p)/\hat p
    = \log \hat p + y/\hat p - 1` (note the plus sign), the target of the authors' code.

    Parameters
    ----------
    p_hat : array of shape (n, k)
        Teacher probabilities in [0, 1] (rows need not sum to 1); clipped to ``[clip, 1]``.
    y_onehot : array of shape (n, k)
        One-hot labels.
    alpha : float in [0, inf]
        Bias-variance parameter of :func:`gamma_rule`.
    clip : float in (0, 0.5)
    gamma_form : {"diagonal", "matrix"}
        The gamma rule (:func:`gamma_rule`).

    Returns
    -------
    ndarray of shape (n, k)
    """
    p = clip_proba(p_hat, clip)
    return np.log(p) + gamma_residual(p, y_onehot, alpha=alpha, clip=clip,
                                      gamma_form=gamma_form)


def _check_fp(f, p, clip):
    f = np.asarray(f, dtype=np.float64)
    p = clip_proba(p, clip)
    if f.shape != p.shape:
        raise ValueError(f"f and p must have the same shape, got {f.shape} and {p.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("f must be finite")
    return f, p


class SquaredLogitLoss:
    r"""Squared-error logit loss :math:`\ell(f,p) = \tfrac12 \sum_j (f_j - \log p_j)^2` (theory §2).

    :math:`\nabla_f \ell = f - \log p`, :math:`\nabla_p \ell = -(f - \log p)/p` (elementwise),
    with ``p`` clipped to ``[clip, 1]``. All methods take (n, k) arrays and return per-row
    values (n,) or gradients (n, k).
    """

    def __init__(self, clip: float = DEFAULT_CLIP):
        self.clip = check_clip(clip)

    def value(self, f, p):
        f, p = _check_fp(f, p, self.clip)
        return 0.5 * np.sum((f - np.log(p)) ** 2, axis=1)

    def grad_f(self, f, p):
        f, p = _check_fp(f, p, self.clip)
        return f - np.log(p)

    def grad_p(self, f, p):
        f, p = _check_fp(f, p, self.clip)
        return -(f - np.log(p)) / p


class AnnealedCrossEntropy:
    r"""Annealed cross-entropy with inverse temperature :math:`\beta \in (0, 1]` (theory §2).

    .. math:: w = p^\beta / \textstyle\sum_l p_l^\beta, \quad q = \mathrm{softmax}(\beta f),
              \quad \ell_\beta(f,p) = -\textstyle\sum_j w_j \log q_j,

    :math:`\nabla_f \ell_\beta = \beta (q - w)` and
    :math:`\partial \ell_\beta / \partial p_m = -(\beta w_m / p_m)(\log q_m - \sum_j w_j \log q_j)`.
    """

    def __init__(self, beta: float = 1.0, clip: float = DEFAULT_CLIP):
        self.beta = check_beta(beta)
        self.clip = check_clip(clip)

    def _parts(self, f, p):
        f, p = _check_fp(f, p, self.clip)
        bf = self.beta * f
        log_q = bf - _logsumexp(bf)[:, None]
        return f, p, self._tempered(p), log_q

    def value(self, f, p):
        _, _, w, log_q = self._parts(f, p)
        return -np.sum(w * log_q, axis=1)

    def grad_f(self, f, p):
        _, _, w, log_q = self._parts(f, p)
        return self.beta * (np.exp(log_q) - w)

    def grad_p(self, f, p):
        _, p, w, log_q = self._parts(f, p)
        centred = log_q - np.sum(w * log_q, axis=1, keepdims=True)
        return -(self.beta * w / p) * centred

    def correction_weights(self, p, y_onehot, gamma):
        r"""The vector c with :math:`c_j = w_j (r_j - \sum_l w_l r_l)`, :math:`r = \gamma(y - p)`.

        The ACE correction term (docs/theory.md §3) is
        :math:`-\beta \sum_j c_j \log q_j = -\beta^2 \langle c, f\rangle + \text{const}`
        (because :math:`\sum_j c_j = 0`), so it is linear in ``f``.
        """
        p = clip_proba(p, self.clip)
        y = check_onehot(y_onehot, shape=p.shape)
        return self._weights_of_residual(p, np.asarray(gamma, dtype=np.float64) * (y - p))

    def _tempered(self, p):
        w = p ** self.beta
        return w / w.sum(axis=1, keepdims=True)

    def _weights_of_residual(self, p, r):
        w = self._tempered(p)
        return w * (r - np.sum(w * r, axis=1, keepdims=True))

    def corrected_targets(self, p, residual):
        r"""Soft targets :math:`\tilde w = w + \beta c` of the corrected loss (docs/theory.md §3).

        With :math:`c_j = w_j(r_j - \sum_l w_l r_l)` for the corrected residual
        ``residual`` :math:`= r = \gamma(y - p)` (:func:`gamma_residual`; :math:`y/p - 1` for
        the orthogonal correction), the corrected loss is a cross-entropy,

        .. math:: \ell_\beta(f, p) - \beta\sum_j c_j \log q_j
                  = -\sum_j \tilde w_j \log q_j, \qquad q = \mathrm{softmax}(\beta f),

        so the ACE student is fit to :math:`\tilde w`: rows sum to 1 (:math:`\sum_j c_j = 0`)
        but entries may be negative. ``p`` is clipped; returns (n, k).
        """
        p = clip_proba(p, self.clip)
        r = np.asarray(residual, dtype=np.float64)
        if r.shape != p.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"residual must be a finite array of shape {p.shape}, got "
                             f"shape {r.shape}")
        return self._tempered(p) + self.beta * self._weights_of_residual(p, r)

    def corrected_value(self, f, p, y_onehot, gamma):
        r"""Corrected loss :math:`\ell_\beta(f,p) - \beta\sum_j c_j \log q_j` (theory §3)."""
        _, _, _, log_q = self._parts(f, p)
        c = self.correction_weights(p, y_onehot, gamma)
        return self.value(f, p) - self.beta * np.sum(c * log_q, axis=1)

    def corrected_grad_f(self, f, p, y_onehot, gamma):
        r"""Gradient in ``f`` of :meth:`corrected_value`: :math:`\beta(q - w) - \beta^2 c`."""
        c = self.correction_weights(p, y_onehot, gamma)
        return self.grad_f(f, p) - self.beta ** 2 * c


def corrected_loss(loss, f, p, y_onehot, gamma):
    r"""Generic gamma-corrected loss
    :math:`\ell(f,p) + \langle \gamma p \odot (y-p), \nabla_p\ell(f,p)\rangle`.

    With :math:`\gamma = 1/p` this is the first-order (Neyman-orthogonal) correction
    :math:`\ell(f,p) + \langle y - p, \nabla_p \ell(f,p)\rangle` of theory §3; its expectation
    over :math:`y \sim p_0` has zero derivative in ``p`` at ``p = p0``. Works for any loss object
    with ``value`` and ``grad_p`` (both losses of this module).
    """
    p_c = clip_proba(p, loss.clip)
    y = check_onehot(y_onehot, shape=p_c.shape)
    weight = np.asarray(gamma, dtype=np.float64) * p_c * (y - p_c)
    return loss.value(f, p_c) + np.sum(weight * loss.grad_p(f, p_c), axis=1)


def _logsumexp(a):
    m = a.max(axis=1)
    return m + np.log(np.exp(a - m[:, None]).sum(axis=1))
