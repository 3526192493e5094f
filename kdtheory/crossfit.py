r"""Cross-fitting: fold draws and out-of-fold teacher predictions (docs/theory.md §3).

Split the rows [n] into B folds :math:`S_1..S_B`; the teacher :math:`\hat p^{(t)}` is fit
without :math:`S_t` and queried only on :math:`S_t`, so every row is labelled by a teacher that
never saw it. With ``n_rep > 1`` independent fold draws are stacked (repeated cross-fitting).
Teachers are cloned per fold (:func:`kdtheory._estimator.clone`), never refit in place.
"""

from __future__ import annotations

import numpy as np
from ._estimator import clone
from ._validation import check_int, check_labels, check_teacher_output, check_X


def make_folds(n, n_folds, *, n_rep: int = 1, random_state=None) -> np.ndarray:
    """Balanced random fold assignments.

    Parameters
    ----------
    n : int
        Number of rows.
    n_folds : int in [2, n]
        Number of folds B; fold sizes differ by at most one.
    n_rep : int >= 1
        Number of independent fold draws.
    random_state : int, numpy Generator, SeedSequence or None

    Returns
    -------
    folds : int ndarray of shape (n_rep, n)
        ``folds[r, i]`` is the fold (0..B-1) of row i in draw r.
    """
    n = check_int(n, "n", minimum=2)
    n_folds = check_int(n_folds, "n_folds", minimum=2, maximum=n)
    n_rep = check_int(n_rep, "n_rep", minimum=1)
    rng = np.random.default_rng(random_state)
    base = np.arange(n) % n_folds
    return np.stack([rng.permutation(base) for _ in range(n_rep)])


def check_folds(folds, n) -> np.ndarray:
    """Validate fold assignments: shape (n_rep, n) or (n,), ids 0..B-1 (B >= 2), no fold empty."""
    arr = np.asarray(folds)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        raise ValueError(f"folds must have shape (n_rep, {n}) or ({n},), got {np.shape(folds)}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"folds must be integer fold ids, got dtype {arr.dtype}")
    for r, row in enumerate(arr):
        n_folds = int(row.max()) + 1
        counts = np.bincount(row, minlength=n_folds) if row.min() >= 0 else None
        if counts is None or n_folds < 2 or np.any(counts == 0):
            raise ValueError(
                f"folds[{r}] must use every id 0..B-1 (B >= 2) at least once, "
                f"got ids {np.unique(row)}"
            )
    return arr.astype(np.int64)


def fit_teacher_proba(teacher, X_fit, labels_fit, X_query, n_classes):
    """Fit a clone of ``teacher`` on (X_fit, labels_fit); its (m, k) probabilities on X_query.

    Columns are aligned through the fitted ``classes_`` so that a fit set lacking a class still
    gives k columns (the missing class gets probability 0, later clipped).

    Returns
    -------
    proba : ndarray of shape (m, n_classes)
    fitted : the fitted clone
    """
    fitted = clone(teacher).fit(X_fit, labels_fit)
    raw = np.asarray(fitted.predict_proba(X_query), dtype=np.float64)
    classes = np.asarray(getattr(fitted, "classes_", np.arange(raw.shape[1])))
    if raw.shape != (X_query.shape[0], classes.shape[0]):
        raise ValueError(
            f"{type(teacher).__name__}.predict_proba returned shape {raw.shape}, expected "
            f"({X_query.shape[0]}, {classes.shape[0]})"
        )
    if np.isnan(raw).any():
        raise ValueError(f"{type(teacher).__name__}.predict_proba returned NaN")
    check_teacher_output(fitted, raw, classes, n_classes)
    proba = np.zeros((X_query.shape[0], n_classes))
    proba[:, classes.astype(np.int64)] = raw
    return proba, fitted


def fold_splits(folds) -> list:
    """The cross-fitting splits of fold draws: per draw, (all rows but fold t, fold t) for each t.

    Parameters
    ----------
    folds : int array of shape (n_rep, n) or (n,), from :func:`make_folds`

    Returns
    -------
    splits : list (one per draw) of lists of (fit_rows, query_rows) index arrays,
        the input of :func:`fit_on_splits`.
    """
    folds = check_folds(folds, np.shape(folds)[-1])
    return [[(np.flatnonzero(row != t), np.flatnonzero(row == t)) for t in range(row.max() + 1)]
            for row in folds]


def fit_on_splits(teacher, X, labels, splits, *, n_classes):
    r"""Fit a teacher clone per split and collect its outputs on the split's query rows.

    This is the one place where teachers are fit: split t of draw r is a pair
    :math:`(A_t, B_t)` of row indices; :math:`\hat p^{(t)}` is fit on :math:`A_t` and queried
    on :math:`B_t` (vanilla KD: :math:`A = B = [n]`; cross-fitting: :func:`fold_splits`).

    Parameters
    ----------
    teacher : classifier with ``fit`` and ``predict_proba`` (cloned per split)
    X : array (n, d); labels : int array (n,), already validated
    splits : list of lists of (fit_rows, query_rows)
    n_classes : int

    Returns
    -------
    proba : ndarray of shape (len(splits), n, k)
        NaN on the rows a draw never queries.
    teachers : list of lists; ``teachers[r][t]`` is the clone fit on split t of draw r.
    """
    out = np.full((len(splits), X.shape[0], n_classes), np.nan)
    teachers = []
    for r, draw in enumerate(splits):
        fitted_r = []
        for fit_rows, query_rows in draw:
            out[r, query_rows], fitted = fit_teacher_proba(
                teacher, X[fit_rows], labels[fit_rows], X[query_rows], n_classes
            )
            fitted_r.append(fitted)
        teachers.append(fitted_r)
    return out, teachers


def crossfit_predict(teacher, X, labels, folds, *, n_classes, return_teachers=False):
    r"""Out-of-fold teacher probabilities: row i in fold t gets :math:`\hat p^{(t)}(x_i)`.

    :func:`fit_on_splits` over :func:`fold_splits`, with the inputs validated.

    Parameters
    ----------
    teacher : classifier with ``fit`` and ``predict_proba`` (cloned per fold)
    X : array (n, d); labels : int array (n,)
    folds : int array (n_rep, n) or (n,), from :func:`make_folds`
    n_classes : int

    Returns
    -------
    proba : ndarray of shape (n_rep, n, k)
        Every row predicted exactly once per draw.
    teachers : list of lists, only if ``return_teachers``
        ``teachers[r][t]`` was fit without fold t.
    """
    X = check_X(X)
    folds = check_folds(folds, X.shape[0])
    labels = check_labels(labels, n_rows=X.shape[0], n_classes=n_classes)
    out, teachers = fit_on_splits(teacher, X, labels, fold_splits(folds), n_classes=n_classes)
    return (out, teachers) if return_teachers else out
