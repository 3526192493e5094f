r"""Distillers: vanilla, sample-split, cross-fit and enhanced knowledge distillation (theory §3).

All four share one template. A distiller is a list of *splits* per fold draw; split t names
the rows the teacher is fit on (:math:`A_t`) and the rows it labels (:math:`B_t`):

================  ==============================  ==========================
estimator         teacher fit on :math:`A_t`       queried on :math:`B_t`
================  ==============================  ==========================
VanillaKD         all n rows                       all n rows
SampleSplitKD     one random half                  the other half
CrossFitKD        all rows but fold t              fold t (t = 1..B)
EnhancedKD        all rows but fold t              fold t, with the correction
TargetedKD        all rows but fold t              fold t, then the TMLE update
================  ==============================  ==========================

The student then minimises the SEL loss to the gamma-corrected pseudo-targets
:math:`t_\gamma = \log\hat p + \gamma(y - \hat p)` (:func:`kdtheory.losses.sel_pseudo_target`)
over the queried rows. Loss correction is independent of the splitting: every distiller takes
``alpha`` (vanilla, sample-split and cross-fit default to 0), ``alpha="tune"``, which chooses
alpha per split from the split's training rows :math:`A_t` alone (:func:`tune_alpha`), or
``alpha="cv"`` (enhanced's default), one alpha per fold draw by the students' held-out label
log-loss on the cross-fit outputs (:func:`select_alpha_cv`). ``loss="ace"`` distils with the
annealed cross-entropy instead (soft targets, :class:`kdtheory.students.SoftmaxStudent`).
With ``n_rep > 1`` the student fits of independent
fold draws are combined by their mean or median logit (``aggregate``; repeated cross-fitting).

A study that compares methods passes the same teacher outputs to each via
``fit(X, labels, teacher_proba=..., folds=...)``; rows whose teacher output is NaN are not
used by the student (the teacher half of sample splitting).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ._validation import (
    check_alpha, check_beta, check_choice, check_classifier_fit, check_classifier_predict,
    check_clip, check_int, check_proba, check_teacher_output, one_hot,
)
from .crossfit import check_folds, crossfit_predict, fit_on_splits, fold_splits, make_folds
from .losses import (
    DEFAULT_CLIP, GAMMA_FORMS, AnnealedCrossEntropy, gamma_residual, sel_pseudo_target,
)

LOSSES = ("sel", "ace")
"""``loss``: the squared-error logit loss (the theory's default) or the annealed cross-entropy."""

AGGREGATORS = {"mean": np.mean, "median": np.median}
"""``aggregate``: how the students of repeated fold draws (``n_rep > 1``) are combined, per
point and class, on the logit scale."""
AGGREGATES = tuple(AGGREGATORS)

DEFAULT_ALPHA_GRID = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, np.inf)
"""Candidate alphas for ``alpha="tune"``: both extremes and a log grid across the scale of
:math:`(y - \\hat p)^2 \\in [0, 1]` where the gamma rule moves."""


def tune_alpha(teacher, student, X, labels, *, n_classes, n_folds=5, alpha_grid=DEFAULT_ALPHA_GRID,
               clip=DEFAULT_CLIP, gamma_form="diagonal", random_state=None):
    r"""Choose alpha by cross-validation on (X, labels) alone (a split's training rows).

    Inner folds :math:`S_1..S_B` of the given rows; every row gets an out-of-fold teacher output
    :math:`\hat p_{in}`. For each candidate alpha the student is fit on the rows outside
    :math:`S_s` to :math:`t_\alpha(\hat p_{in})` and scored on :math:`S_s` by the orthogonal
    criterion :math:`\tfrac12\|f(x_i) - t_\infty(\hat p_{in}(x_i), y_i)\|^2`, whose mean
    estimates :math:`E\,\ell(f(X), p_0(X))` up to a term free of f and a second-order teacher
    error. The smallest mean wins (ties: the smaller alpha).

    Returns
    -------
    alpha : float
    scores : ndarray of shape (len(alpha_grid),)
    """
    n = X.shape[0]
    folds = make_folds(n, min(n_folds, n), random_state=random_state)[0]
    p_in = crossfit_predict(teacher, X, labels, folds, n_classes=n_classes)[0]
    y = one_hot(labels, n_classes)
    t_orth = sel_pseudo_target(p_in, y, alpha=np.inf, clip=clip)
    scores = np.zeros(len(alpha_grid))
    for a, alpha in enumerate(alpha_grid):
        t_alpha = sel_pseudo_target(p_in, y, alpha=alpha, clip=clip, gamma_form=gamma_form)
        for s in range(int(folds.max()) + 1):
            held = folds == s
            f = clone(student).fit(X[~held], t_alpha[~held]).predict(X[held])
            scores[a] += 0.5 * np.sum((f - t_orth[held]) ** 2)
    scores /= n
    return float(alpha_grid[int(np.argmin(scores))]), scores


def select_alpha_cv(distiller, X, proba, labels, *, n_folds=5, random_state=None):
    r"""``alpha="cv"``: one alpha per fold draw, by the students' held-out label log-loss.

    The rows' teacher outputs :math:`\hat p` are already out-of-fold (cross-fitting), so no
    teacher is refit: inner folds :math:`S_1..S_B` of the rows; for each alpha of
    ``distiller.alpha_grid`` the student is fit on the rows outside :math:`S_s` to the
    targets at that alpha (``distiller._targets``: SEL or ACE, either gamma rule) and scored on
    :math:`S_s` by :math:`-\log\mathrm{softmax}(\hat f(x_i))_{y_i}`, a criterion free of the
    teacher (unlike :func:`tune_alpha`'s orthogonal one, which the very clipped outputs that
    break the correction also break). The smallest mean wins (ties: the smaller alpha), so
    alpha = 0 (plain cross-fitting) is chosen unless a correction predicts the labels better.
    The teacher behind a held-out row's neighbours saw that row's label, a leak shared by all
    candidates; it is what makes the rule fast (B x len(grid) student fits, no teacher fit).

    Returns
    -------
    alpha : float
    scores : ndarray of shape (len(alpha_grid),)
    """
    n, k = proba.shape
    clip = check_clip(distiller.clip)
    folds = make_folds(n, min(n_folds, n), random_state=random_state)[0]
    y = one_hot(labels, k)
    scale = distiller.beta if distiller.loss == "ace" else 1.0
    scores = np.zeros(len(distiller.alpha_grid))
    for a, alpha in enumerate(distiller.alpha_grid):
        targets = distiller._targets(proba, y, alpha, clip)
        for s in range(int(folds.max()) + 1):
            held = folds == s
            f = clone(distiller.student).fit(X[~held], targets[~held]).predict(X[held]) / scale
            scores[a] -= np.sum(log_softmax(f, axis=1)[np.arange(held.sum()), labels[held]])
    scores /= n
    return float(distiller.alpha_grid[int(np.argmin(scores))]), scores


class ClipWarning(UserWarning):
    """Many teacher outputs sit at the clip, where the loss correction divides by ``clip``."""


CLIP_WARN_FRACTION = 0.2
"""Warn (:class:`ClipWarning`) when more than this fraction of the rows the student uses have a
teacher output at the clip while a fixed or tuned loss correction (alpha > 0) is applied."""


class _Distiller(ClassifierMixin, BaseEstimator):
    r"""The shared fit template; subclasses define ``_draw_folds`` and ``make_splits``.

    A distiller is a scikit-learn classifier (``sklearn.base.ClassifierMixin``): ``fit(X, y)``
    takes any hashable labels (encoded as indices into the sorted ``classes_``; with
    ``n_classes=k`` the labels must be 0..k-1), the teacher and the student see the encoded
    labels 0..k-1. The student's scores :math:`\hat f(x) \in \mathbb{R}^k` estimate
    :math:`\log p_0(x)` up to a constant per row (SEL: :math:`f_0 = \log p_0` when the class
    contains it), so

    * ``decision_function(X)``: the logits :math:`\hat f(x)` (k > 2), or the log-odds
      :math:`\hat f_2 - \hat f_1` of ``classes_[1]`` (k = 2, scikit-learn's convention);
    * ``predict_proba(X)``: :math:`\mathrm{softmax}(\hat f(x))`, rows summing to 1;
    * ``predict(X)``: ``classes_[argmax_j f_j(x)]``; ``score``: accuracy.

    After ``fit``, ``splits_[r][t] = (fit_rows, query_rows)`` is split t of fold draw r (the
    student uses the query rows), ``alpha_[r, t]`` its alpha and ``teacher_proba_[r]`` the
    teacher outputs (NaN on rows never queried); ``n_features_in_`` and, for a DataFrame,
    ``feature_names_in_`` are checked at predict time (same columns in the same order).
    """

    _deterministic_splits = False  # True when the splits do not depend on a random draw

    def _check_params(self):
        clip = check_clip(self.clip)
        check_choice(self.gamma_form, "gamma_form", GAMMA_FORMS)
        check_choice(self.loss, "loss", LOSSES)
        check_beta(self.beta)
        check_choice(self.aggregate, "aggregate", AGGREGATES)
        if isinstance(self.alpha, str):
            if self.alpha not in ("tune", "cv"):
                raise ValueError(
                    f"alpha must be a number in [0, inf], 'cv' or 'tune', got {self.alpha!r}")
            if len(self.alpha_grid) == 0:
                raise ValueError("alpha_grid must not be empty")
            if self.alpha == "tune" and self.loss != "sel":
                raise ValueError("alpha='tune' scores candidates by the SEL orthogonal criterion; "
                                 f"with loss={self.loss!r} give alpha a number")
            for a in self.alpha_grid:
                check_alpha(a)
        else:
            check_alpha(self.alpha)
        if not (hasattr(self.teacher, "fit") and hasattr(self.teacher, "predict_proba")):
            raise TypeError(
                f"teacher must have fit and predict_proba, got {type(self.teacher).__name__}"
            )
        if not (hasattr(self.student, "fit") and hasattr(self.student, "predict")):
            raise TypeError(f"student must have fit and predict, got {type(self.student).__name__}")
        soft = bool(getattr(self.student, "fits_soft_targets", False))
        if soft != (self.loss == "ace"):
            need = ("a soft-target student (fits_soft_targets, e.g. SoftmaxStudent)"
                    if self.loss == "ace" else "a regression student (not a soft-target one)")
            raise TypeError(f"loss={self.loss!r} needs {need}, got student "
                            f"{type(self.student).__name__}")
        return clip

    def fit(self, X, y, *, teacher_proba=None, folds=None):
        """Fit the teacher(s) per split, build pseudo-targets, fit the student(s).

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : array-like of shape (n,)
            Class labels (any hashable values; the integers 0..k-1 when ``n_classes=k``).
            ``teacher_proba`` columns follow ``classes_``.
        teacher_proba : array of shape (n, k) or (n_rep, n, k), optional
            Precomputed teacher outputs (rows never queried are NaN); the teacher is then not
            fit, except by ``alpha="tune"``, which also needs ``folds``. Rows must sum to 1
            within 1e-6 (in (0, 1] if the teacher declares ``substochastic_proba``), as the
            outputs of a teacher fit here must.
        folds : int array of shape (n_rep, n) or (n,), optional
            Fold ids to use instead of a fresh draw (cross-fit and enhanced only).

        Returns
        -------
        self
        """
        clip = self._check_params()
        X, labels, classes = check_classifier_fit(self, X, y, n_classes=self.n_classes)
        k = classes.size
        n = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        if teacher_proba is not None:
            proba = _check_teacher_proba(teacher_proba, n, k, self.teacher)
            self.teachers_ = []
            if folds is None and not self._deterministic_splits:
                if self.alpha == "tune":
                    raise ValueError("alpha='tune' with precomputed teacher_proba needs folds")
                # One split per draw: the student uses every row the teacher labelled.
                self.folds_ = None
                splits = [[(None, np.flatnonzero(~np.isnan(p[:, 0])))] for p in proba]
            else:
                self.folds_ = self._draw_folds(n, rng) if folds is None else check_folds(folds, n)
                splits = self.make_splits(self.folds_)
            if proba.shape[0] != len(splits):
                raise ValueError(
                    f"teacher_proba has {proba.shape[0]} fold draws but the folds have "
                    f"{len(splits)}"
                )
        else:
            self.folds_ = self._draw_folds(n, rng) if folds is None else check_folds(folds, n)
            splits = self.make_splits(self.folds_)
            proba, self.teachers_ = fit_on_splits(self.teacher, X, labels, splits, n_classes=k)

        y = one_hot(labels, k)
        student_proba = self._update_teacher(proba, y, X, clip)
        self.alpha_ = np.zeros((len(splits), len(splits[0])))
        self.pseudo_targets_ = np.full_like(proba, np.nan)
        self.students_ = []
        for r, rep in enumerate(splits):
            if self.alpha == "cv":
                used = ~np.isnan(proba[r, :, 0])
                alpha_cv, _ = select_alpha_cv(self, X[used], student_proba[r, used],
                                              labels[used], random_state=rng)
            for t, (fit_rows, query_rows) in enumerate(rep):
                if self.alpha == "cv":
                    self.alpha_[r, t] = alpha_cv
                elif self.alpha == "tune":
                    self.alpha_[r, t], _ = tune_alpha(
                        self.teacher, self.student, X[fit_rows], labels[fit_rows],
                        n_classes=k, n_folds=self._tuning_folds(), alpha_grid=self.alpha_grid,
                        clip=clip, gamma_form=self.gamma_form, random_state=rng,
                    )
                else:
                    self.alpha_[r, t] = float(self.alpha)
                rows = query_rows
                if np.isnan(proba[r, rows]).any():
                    raise ValueError(f"teacher_proba is NaN on rows the student uses (draw {r})")
                self.pseudo_targets_[r, rows] = self._targets(student_proba[r, rows], y[rows],
                                                              self.alpha_[r, t], clip)
            used = ~np.isnan(self.pseudo_targets_[r, :, 0])
            self.students_.append(clone(self.student).fit(X[used], self.pseudo_targets_[r, used]))
            if self.alpha != "cv":  # "cv" weighed the correction against the labels already
                self._warn_clip(student_proba[r, used], self.alpha_[r], clip)
        self.teacher_proba_ = proba
        self.splits_ = splits
        self.classes_ = classes
        self.n_classes_ = k
        return self

    @staticmethod
    def _warn_clip(proba, alphas, clip):
        at_clip = float(np.mean(np.any(proba <= clip, axis=1)))
        if at_clip > CLIP_WARN_FRACTION and np.any(alphas > 0):
            warnings.warn(
                f"{at_clip:.0%} of the rows have a teacher output at the clip ({clip:g}); the "
                f"loss correction divides by it (pseudo-targets up to {1 / clip:.0f}): prefer "
                f"alpha='cv' or TargetedKD", ClipWarning, stacklevel=3)

    def _update_teacher(self, proba, y, X, clip):
        """The teacher outputs the student is distilled from (TargetedKD updates them)."""
        return proba

    def _targets(self, p, y, alpha, clip):
        r"""The student's targets on rows with teacher outputs p and one-hot labels y.

        SEL: the pseudo-targets :math:`\log\hat p + \gamma(y - \hat p)`
        (:func:`kdtheory.losses.sel_pseudo_target`). ACE: the corrected soft targets
        :math:`w + \beta c` (:meth:`kdtheory.losses.AnnealedCrossEntropy.corrected_targets`)
        with the same corrected residual :math:`\gamma(y - \hat p)`; alpha = 0 gives the
        tempered teacher :math:`w = \mathrm{softmax}(\beta\log\hat p)`.
        """
        if self.loss == "sel":
            return sel_pseudo_target(p, y, alpha=alpha, clip=clip, gamma_form=self.gamma_form)
        residual = gamma_residual(p, y, alpha=alpha, clip=clip, gamma_form=self.gamma_form)
        return AnnealedCrossEntropy(self.beta, clip).corrected_targets(p, residual)

    def _tuning_folds(self):
        return getattr(self, "n_folds", 5)

    def _logits(self, X):
        r"""Student logits (m, k): the mean (or median, ``aggregate``) over fold draws.

        Under ACE a student's scores are :math:`\beta \hat f` (it fits
        :math:`\mathrm{softmax}(\beta f)`), so they are divided by beta.
        """
        X = check_classifier_predict(self, X)
        scores = np.stack([s.predict(X) for s in self.students_])
        if self.loss == "ace":
            scores = scores / self.beta
        return AGGREGATORS[self.aggregate](scores, axis=0)

    def decision_function(self, X):
        r"""The student's logits :math:`\hat f(x)` (m, k); for k = 2 the log-odds (m,)."""
        f = self._logits(X)
        return f[:, 1] - f[:, 0] if self.n_classes_ == 2 else f

    def predict_proba(self, X):
        r""":math:`\mathrm{softmax}(\hat f(x))`: (m, k) rows summing to 1, columns ``classes_``."""
        return softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X):
        """The log of :meth:`predict_proba`, computed stably (log-softmax of the logits)."""
        return log_softmax(self._logits(X), axis=1)

    def predict(self, X):
        """The class of largest logit: ``classes_[argmax_j f_j(x)]``."""
        f = self._logits(X)
        return self.classes_[np.argmax(f, axis=1)]


def _check_teacher_proba(teacher_proba, n, k, teacher):
    """Precomputed teacher outputs: shape, entries in [0, 1] and row sums as the teacher's own
    outputs (:func:`kdtheory._validation.check_teacher_output`); all-NaN rows are unused."""
    arr = np.asarray(teacher_proba, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n, k):
        raise ValueError(
            f"teacher_proba must have shape ({n}, {k}) or (n_rep, {n}, {k}), got "
            f"{np.shape(teacher_proba)}"
        )
    filled = np.where(np.isnan(arr).all(axis=2)[..., None], 1.0 / k, arr)
    check_proba(filled.reshape(-1, k), name="teacher_proba")
    for r, rows in enumerate(filled):
        check_teacher_output(teacher, rows, np.arange(k), k, name=f"teacher_proba[{r}]")
    return arr


class VanillaKD(_Distiller):
    r"""Vanilla KD: the teacher is fit on all n points and queried on the same points.

    :math:`\hat f = \arg\min_F \frac1n\sum_i \ell(f(x_i), \hat p(x_i))`. By theory §8 its error
    is :math:`O(1/n + \|\hat p - p_0\|_n^2 + \delta_n^2)` with the *training-point* teacher
    error, which an interpolating teacher never shrinks.

    Parameters
    ----------
    teacher : classifier with fit / predict_proba
    student : regressor with fit(X, T) / predict (e.g. :class:`kdtheory.students.ConstantStudent`)
    alpha : float in [0, inf] or "tune"
        Loss correction strength (0: none).
    alpha_grid : sequence of floats, for ``alpha="tune"``
    gamma_form : {"diagonal", "matrix"}
        The gamma rule of the correction (:func:`kdtheory.losses.gamma_rule`): the authors'
        per-class rule (default) or the talk's k x k matrix rule; they agree at alpha = 0, inf.
    loss : {"sel", "ace"}
        "sel" (default, the theory's): the student regresses the pseudo-targets
        :math:`\log\hat p + \gamma(y - \hat p)`. "ace": annealed cross-entropy distillation
        (Hinton's temperature loss, inverse temperature ``beta``): the student, which must fit
        soft targets (:class:`kdtheory.students.SoftmaxStudent`), is fit by cross-entropy to
        the corrected tempered teacher :math:`w + \beta c`, :math:`w = \hat p^\beta /
        \sum_l \hat p_l^\beta` (:meth:`kdtheory.losses.AnnealedCrossEntropy.corrected_targets`).
    beta : float in (0, 1]
        Inverse temperature of ``loss="ace"`` (ignored by SEL).
    clip : float in (0, 0.5)
    n_classes : int or None
    random_state : int, Generator or None
    """

    def __init__(self, teacher, student, *, alpha=0.0, alpha_grid=DEFAULT_ALPHA_GRID,
                 gamma_form="diagonal", loss="sel", beta=1.0, clip=DEFAULT_CLIP, n_classes=None,
                 random_state=None):
        self.teacher = teacher
        self.student = student
        self.alpha = alpha
        self.alpha_grid = alpha_grid
        self.gamma_form = gamma_form
        self.loss = loss
        self.beta = beta
        self.clip = clip
        self.n_classes = n_classes
        self.random_state = random_state

    _deterministic_splits = True
    aggregate = "mean"  # one fold draw: nothing to aggregate

    def _draw_folds(self, n, rng):
        return np.zeros((1, n), dtype=np.int64)

    def make_splits(self, folds):
        """One split: the teacher is fit on all rows and queried on all rows."""
        rows = np.arange(folds.shape[1])
        return [[(rows, rows)]]


class SampleSplitKD(VanillaKD):
    r"""Sample splitting (baseline): teacher on one random half, student on the other half only.

    Same parameters as :class:`VanillaKD`. ``folds_`` holds the halves (0: teacher, 1: student).
    """

    _deterministic_splits = False

    def _draw_folds(self, n, rng):
        return make_folds(n, 2, random_state=rng)

    def make_splits(self, folds):
        """One split: the teacher is fit on half 0 and queried on half 1."""
        row = folds[0]
        return [[(np.flatnonzero(row == 0), np.flatnonzero(row == 1))]]


class CrossFitKD(_Distiller):
    r"""Cross-fit KD: each point is labelled by a teacher that never saw it (docs/theory.md §3).

    Folds :math:`S_1..S_B`; :math:`\hat p^{(t)}` fit without :math:`S_t`;
    :math:`\hat f = \arg\min_F \frac1n\sum_t\sum_{i\in S_t}\ell(f(x_i), \hat p^{(t)}(x_i))`.
    Error :math:`O(1/n + \mathrm{mean}_t\|\hat p^{(t)} - p_0\|_2^2 + \delta_{n/B}^2)`
    (docs/theory.md §8): the *test-point* teacher error.

    Parameters
    ----------
    teacher, student, alpha, alpha_grid, gamma_form, clip, n_classes, random_state :
        as :class:`VanillaKD`
    n_folds : int >= 2
        Number of folds B (also the inner folds of ``alpha="tune"``).
    n_rep : int >= 1
        Independent fold draws (repeated cross-fitting).
    aggregate : {"mean", "median"}
        How the n_rep students are combined: the mean or the median of their logits, per point
        and class (the median resists a draw whose fit is thrown off by a few clipped rows).
    """

    def __init__(self, teacher, student, *, n_folds=5, n_rep=1, aggregate="mean", alpha=0.0,
                 alpha_grid=DEFAULT_ALPHA_GRID, gamma_form="diagonal", loss="sel", beta=1.0,
                 clip=DEFAULT_CLIP, n_classes=None, random_state=None):
        self.teacher = teacher
        self.student = student
        self.n_folds = n_folds
        self.n_rep = n_rep
        self.aggregate = aggregate
        self.alpha = alpha
        self.alpha_grid = alpha_grid
        self.gamma_form = gamma_form
        self.loss = loss
        self.beta = beta
        self.clip = clip
        self.n_classes = n_classes
        self.random_state = random_state

    def _draw_folds(self, n, rng):
        check_int(self.n_folds, "n_folds", minimum=2)
        if self.n_folds > n:
            raise ValueError(f"n_folds must be <= n = {n}, got {self.n_folds}")
        return make_folds(n, self.n_folds, n_rep=self.n_rep, random_state=rng)

    def make_splits(self, folds):
        """Per draw, split t fits on all rows but fold t and queries fold t (fold_splits)."""
        return fold_splits(folds)


class EnhancedKD(CrossFitKD):
    r"""Enhanced KD: cross-fitting plus the gamma loss correction, orthogonal at alpha = inf.

    The pseudo-target :math:`\log\hat p^{(t)} + \gamma(y - \hat p^{(t)})` cancels the first-order
    teacher error; for SEL the teacher enters at fourth order,
    :math:`\mathrm{mean}_t\|\hat p^{(t)} - p_0\|_4^4`, plus gamma-bias and gamma-variance terms
    (docs/theory.md §8). ``alpha="tune"`` picks alpha per fold from that fold's training rows.

    Same parameters as :class:`CrossFitKD`, with ``alpha`` defaulting to ``"cv"``
    (:func:`select_alpha_cv`): the orthogonal ``alpha=numpy.inf`` of the theory wrecks real
    students when many teacher outputs sit at the clip (pseudo-targets near 1/clip), so the
    default picks alpha from ``alpha_grid`` (0 and inf included) by the students' held-out
    log-loss, and is never far from :class:`CrossFitKD` (alpha = 0). Rate studies pass
    ``alpha`` explicitly (``enhanced_alpha``, default inf).
    """

    def __init__(self, teacher, student, *, n_folds=5, n_rep=1, aggregate="mean", alpha="cv",
                 alpha_grid=DEFAULT_ALPHA_GRID, gamma_form="diagonal", loss="sel", beta=1.0,
                 clip=DEFAULT_CLIP, n_classes=None, random_state=None):
        super().__init__(teacher, student, n_folds=n_folds, n_rep=n_rep, aggregate=aggregate,
                         alpha=alpha, alpha_grid=alpha_grid, gamma_form=gamma_form, loss=loss,
                         beta=beta, clip=clip, n_classes=n_classes, random_state=random_state)


def _targeting_loss(eps, a, y, phi):
    r"""Value, gradient and Hessian in eps of one class's
    :math:`L(\varepsilon) = \sum_i (1 - y_i) u_i + y_i e^{-u_i}`, :math:`u = a + \Phi\varepsilon`:
    :math:`\nabla L = \Phi^\top(1 - y - y e^{-u})`, :math:`\nabla^2 L = \Phi^\top
    \mathrm{diag}(y e^{-u})\Phi` (:func:`targeted_update`).

    The sums over rows use ``np.einsum`` (NumPy's own loops) rather than BLAS, whose threaded
    reductions round differently with the number of threads: the result is bitwise the same
    under any thread cap (rate studies promise that for every backend)."""
    u = a + np.einsum("nd,d->n", phi, eps)
    e = y * np.exp(-u)
    return (np.sum((1 - y) * u + e), np.einsum("nd,n->d", phi, 1 - y - e),
            np.einsum("nd,n,ne->de", phi, e, phi))


def _newton(a, y, phi, *, tol, max_iter=100):
    """Minimise the convex :func:`_targeting_loss` from 0 by Newton steps, halved until the
    loss does not increase (beyond rounding); stops when the gradient norm is below ``tol``."""
    eps = np.zeros(phi.shape[1])
    value, grad, hess = _targeting_loss(eps, a, y, phi)
    for _ in range(max_iter):
        if np.linalg.norm(grad) <= tol:
            return eps
        step, shrink = np.linalg.lstsq(hess, grad, rcond=None)[0], 1.0
        while shrink > 1e-10:
            with np.errstate(over="ignore", invalid="ignore"):
                trial = _targeting_loss(eps - shrink * step, a, y, phi)
            if trial[0] <= value + 1e-13 * abs(value):  # no increase beyond rounding
                break
            shrink /= 2
        else:
            break
        eps = eps - shrink * step
        value, grad, hess = trial
    if np.linalg.norm(grad) > max(tol, 1e-6 * len(a)):
        raise ValueError(f"targeted_update: Newton's method did not converge (gradient norm "
                         f"{np.linalg.norm(grad):.3g}); the fluctuation may not be identified")
    return eps


def targeted_update(p_hat, y_onehot, features, *, clip=DEFAULT_CLIP):
    r"""Fluctuate teacher outputs along a logistic submodel until they solve the EIF equation.

    Per class j, with :math:`a_{ij} = \operatorname{logit}\hat p_j(x_i)` (:math:`\hat p`
    clipped to [clip, 1 - clip]) and the student's features :math:`\phi(x)` (D of them):

    .. math:: \operatorname{logit} p^*_j(x) = \operatorname{logit}\hat p_j(x)
              + \varepsilon_j^\top \phi(x),

    with :math:`\varepsilon_j` the minimiser of the convex
    :math:`L_j(\varepsilon) = \sum_i (1 - y_{ij}) u_{ij} + y_{ij} e^{-u_{ij}}`,
    :math:`u_{ij} = a_{ij} + \varepsilon^\top\phi(x_i)`. Because
    :math:`y/p - 1 = y e^{-u} - (1 - y)` for :math:`p = \operatorname{expit}(u)`,
    :math:`\nabla L_j = -\sum_i \phi(x_i)(y_{ij}/p^*_{ij} - 1)`, so at the minimum

    .. math:: \sum_i \phi(x_i)\,\frac{y_{ij} - p^*_j(x_i)}{p^*_j(x_i)} = 0,

    the teacher part of the efficient-influence-function equation of the SEL student's target
    (constant student, :math:`\phi = 1`: :math:`f_0 = E\log p_0(X)`; linear student:
    :math:`\theta_0 = (E\phi\phi^\top)^{-1} E\phi\log p_0^\top`; docs/theory.md §10.6).
    The Hessian :math:`\sum_i y_{ij} e^{-u_{ij}} \phi_i\phi_i^\top` is positive definite on
    the span of the features when the rows labelled j span it (checked); the minimiser is
    found by Newton's method with a backtracking line search (:func:`_newton`).

    Parameters
    ----------
    p_hat : array (n, k), teacher outputs (cross-fit: each row from a teacher that never saw it)
    y_onehot : array (n, k)
    features : array (n, D), :math:`\phi(x_i)` (e.g. ``student.features(X)``)
    clip : float in (0, 0.5)

    Returns
    -------
    p_star : ndarray (n, k), the updated teacher outputs (per class; rows need not sum to 1)
    epsilon : ndarray (D, k)
    """
    from scipy.special import expit, logit

    p = np.clip(check_proba(p_hat), check_clip(clip), 1.0 - clip)
    y = np.asarray(y_onehot, dtype=np.float64)
    phi = np.asarray(features, dtype=np.float64)
    n, k = p.shape
    a = logit(p)
    epsilon = np.zeros((phi.shape[1], k))
    for j in range(k):
        ones = y[:, j] == 1
        if not ones.any() or ones.all():
            raise ValueError(f"targeted_update: class {j} labels {int(ones.sum())} of {n} rows; "
                             f"the EIF equation needs rows with and without the label")
        if np.linalg.matrix_rank(phi[ones]) < np.linalg.matrix_rank(phi):
            raise ValueError(f"targeted_update: the rows labelled {j} do not span the "
                             f"features; the fluctuation has no minimiser")

        epsilon[:, j] = _newton(a[:, j], y[:, j], phi, tol=1e-13 * n)
    return expit(a + np.einsum("nd,dk->nk", phi, epsilon)), epsilon


class TargetedKD(CrossFitKD):
    r"""Targeted (TMLE-style) distillation: update the cross-fit teacher, then distil from it.

    The cross-fit teacher outputs :math:`\hat p` (every row labelled by a teacher that never
    saw it) are fluctuated along the logistic submodel
    :math:`\operatorname{logit} p^*_j = \operatorname{logit}\hat p_j + \varepsilon_j^\top\phi`
    with the student's own features :math:`\phi` (:func:`targeted_update`), pooled over all
    rows of a fold draw, so that :math:`p^*` solves the efficient-influence-function equation
    :math:`\sum_i \phi(x_i)(y_{ij} - p^*_j(x_i))/p^*_j(x_i) = 0` of the SEL student's target.
    The student then regresses :math:`\log p^*` (SEL, no further correction): for the constant
    student :math:`\hat f = \frac1n\sum_i \log p^*(x_i)`, which equals the one-step (enhanced)
    estimate computed with :math:`p^*`, so the first-order teacher error cancels as in
    :class:`EnhancedKD`, while every pseudo-target stays a log-probability (no
    :math:`y/\hat p` term of size 1/clip): the heavy tail of the correction is gone.
    Derivation: docs/theory.md §10.6.

    Derived for the SEL loss and the students with features :math:`\phi` (``features(X)``):
    :class:`kdtheory.students.ConstantStudent` (:math:`\phi = 1`) and
    :class:`kdtheory.students.LinearStudent`.

    Parameters
    ----------
    teacher, student, n_folds, n_rep, aggregate, clip, n_classes, random_state :
        as :class:`CrossFitKD`.

    Attributes
    ----------
    targeted_proba_ : ndarray (n_rep, n, k), the updated teacher outputs :math:`p^*`
    epsilon_ : ndarray (n_rep, D, k), the fluctuation parameters
    """

    # The correction machinery is off: the update replaces it.
    alpha, alpha_grid, gamma_form, loss, beta = 0.0, DEFAULT_ALPHA_GRID, "diagonal", "sel", 1.0

    def __init__(self, teacher, student, *, n_folds=5, n_rep=1, aggregate="mean",
                 clip=DEFAULT_CLIP, n_classes=None, random_state=None):
        self.teacher = teacher
        self.student = student
        self.n_folds = n_folds
        self.n_rep = n_rep
        self.aggregate = aggregate
        self.clip = clip
        self.n_classes = n_classes
        self.random_state = random_state

    def _check_params(self):
        if not hasattr(self.student, "features"):
            raise TypeError("TargetedKD is derived for students with features(X) (constant "
                            f"and linear SEL students), got {type(self.student).__name__}")
        return super()._check_params()

    def _update_teacher(self, proba, y, X, clip):
        self.targeted_proba_ = np.full_like(proba, np.nan)
        epsilon = []
        for r, p in enumerate(proba):
            used = ~np.isnan(p[:, 0])
            self.targeted_proba_[r, used], eps = targeted_update(
                p[used], y[used], self.student.features(X[used]), clip=clip)
            epsilon.append(eps)
        self.epsilon_ = np.stack(epsilon)
        return self.targeted_proba_
