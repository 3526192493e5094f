"""Input validation shared by every public entry point.

Each helper raises ``ValueError`` (or ``TypeError``) whose message names the argument and the
offending value, so that a user never sees a silent NaN or a traceback from deep inside.
"""

from __future__ import annotations

import numbers

import numpy as np


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_X(X, *, name: str = "X", min_rows: int = 1) -> np.ndarray:
    """Return ``X`` as a finite float64 array of shape (n, d); a 1-D input is one feature."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {_describe(X)}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} must be finite (no NaN or inf); {name}[{bad[0]}, {bad[1]}] = "
            f"{arr[tuple(bad)]}"
        )
    return np.ascontiguousarray(arr)


def check_predict_X(estimator, X, *, fit_call: str) -> np.ndarray:
    """``X`` for a fitted estimator's predict: fitted (``n_features_in_`` set), same features."""
    if not hasattr(estimator, "n_features_in_"):
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet; call {fit_call}")
    X = check_X(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features but {type(estimator).__name__} was fit "
                         f"on {estimator.n_features_in_}")
    return X


def check_labels(labels, *, n_rows: int | None = None, n_classes: int | None = None,
                 name: str = "labels") -> np.ndarray:
    """Return integer class labels 0..k-1 as an int64 array of shape (n,)."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer class labels, got shape {arr.shape}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n_rows} rows")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be integers 0..k-1, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        bad = arr[~(np.isfinite(arr) & (arr == np.round(np.nan_to_num(arr))))][0]
        raise ValueError(f"{name} must be integers 0..k-1, found {bad}")
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise ValueError(f"{name} must be integers 0..k-1, found {out.min()}")
    if n_classes is not None and out.max() >= n_classes:
        raise ValueError(
            f"{name} must be integers 0..{n_classes - 1} (n_classes={n_classes}), "
            f"found {out.max()}"
        )
    return out


def infer_n_classes(labels: np.ndarray, n_classes: int | None) -> int:
    """``n_classes`` if given (validated against the labels), else max(labels) + 1, at least 2."""
    if n_classes is None:
        return max(2, int(labels.max()) + 1)
    k = check_int(n_classes, "n_classes", minimum=2)
    if labels.max() >= k:
        raise ValueError(f"labels must be integers 0..{k - 1}, found {labels.max()}")
    return k


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The (n, k) one-hot matrix of integer labels (rows are the classes e_1..e_k)."""
    y = np.zeros((labels.shape[0], n_classes))
    y[np.arange(labels.shape[0]), labels] = 1.0
    return y


def check_proba(p, *, name: str = "p_hat", shape: tuple | None = None) -> np.ndarray:
    """Teacher outputs: a float64 array with entries in [0, 1] (rows need not sum to 1)."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {_describe(p)}") from exc
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must be (n, k), got shape {arr.shape}")
    if np.any(np.isnan(arr)):
        idx = tuple(np.argwhere(np.isnan(arr))[0])
        raise ValueError(f"{name} contains NaN at index {idx}")
    if np.any((arr < 0) | (arr > 1)):
        idx = tuple(np.argwhere((arr < 0) | (arr > 1))[0])
        raise ValueError(f"{name} must lie in [0, 1]; {name}{list(idx)} = {arr[idx]}")
    return arr


def check_onehot(y, *, shape: tuple, name: str = "y_onehot") -> np.ndarray:
    arr = np.asarray(y, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)) or not np.all(arr.sum(axis=1) == 1):
        raise ValueError(f"{name} must be one-hot rows (one 1, the rest 0)")
    return arr


def check_clip(clip) -> float:
    """The teacher clipping level: a float in (0, 0.5)."""
    if isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not 0 < clip < 0.5:
        raise ValueError(f"clip must be a number in (0, 0.5), got {_describe(clip)}")
    return float(clip)


def check_alpha(alpha, name: str = "alpha") -> float:
    """The gamma-correction parameter: a number in [0, inf]."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or np.isnan(alpha) \
            or alpha < 0:
        raise ValueError(f"{name} must be a number in [0, inf], got {_describe(alpha)}")
    return float(alpha)


def check_beta(beta) -> float:
    """The annealing inverse temperature: a number in (0, 1]."""
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 < beta <= 1:
        raise ValueError(f"beta must be a number in (0, 1], got {_describe(beta)}")
    return float(beta)


def check_choice(value, name: str, choices: tuple):
    """One of ``choices`` (compared with ==), else ValueError naming the argument."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {_describe(value)}")
    return value


def check_int(value, name: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """An integer (Python or NumPy; a float like 3.0 is refused) within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_positive(value, name: str, *, allow_inf: bool = False) -> float:
    """A finite (or, if allowed, infinite) number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or np.isnan(value) \
            or value <= 0 or (np.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a positive number, got {_describe(value)}")
    return float(value)


def _n_rows(a):
    try:
        shape = np.shape(a)
    except (TypeError, ValueError):
        return None
    return shape[0] if len(shape) else None


def _first_non_integer(y):
    values = np.asarray(y).ravel()
    if values.dtype.kind != "f":
        return None
    bad = values[~np.isfinite(values) | (values != np.round(np.nan_to_num(values)))]
    return bad[0] if bad.size else None


def check_classifier_fit(estimator, X, y, *, n_classes=None):
    """Validate a classifier's ``fit(X, y)`` input the scikit-learn way, with kdtheory's messages.

    ``sklearn.utils.validation.validate_data`` records ``n_features_in_`` (and
    ``feature_names_in_`` for a DataFrame) and rejects 1-D, sparse, complex and empty X; the
    checks here name the argument and the value: a finite X (the first non-finite entry), as
    many labels as rows, discrete labels, at least two classes.

    Labels. With ``n_classes=None`` any hashable labels are accepted and encoded:
    ``classes = numpy.unique(y)`` (sorted) and ``encoded[i]`` is the index of ``y[i]`` in
    ``classes``. With ``n_classes=k`` the labels must be the integers 0..k-1 and ``classes`` is
    ``arange(k)`` (a class may be absent: what a rate study's small samples need).

    Returns
    -------
    X : float64 ndarray (n, d); encoded : int64 ndarray (n,) in 0..len(classes)-1;
    classes : ndarray (k,)
    """
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import validate_data

    n_x, n_y = _n_rows(X), _n_rows(y)
    if y is not None and n_x is not None and n_y is not None and n_x != n_y:
        raise ValueError(f"labels y has {n_y} entries but X has {n_x} rows")
    X, y = validate_data(estimator, X, y, dtype=np.float64, ensure_all_finite=False,
                         ensure_min_samples=2)
    X = check_X(X, min_rows=2)
    if n_classes is not None:
        k = check_int(n_classes, "n_classes", minimum=2)
        return X, check_labels(y, n_rows=X.shape[0], n_classes=k), np.arange(k)
    kind = type_of_target(y, input_name="y")
    if kind not in ("binary", "multiclass"):
        bad = _first_non_integer(y)
        found = "" if bad is None else f", found {bad}"
        raise ValueError(f"labels y must be discrete class labels{found} "
                         f"(Unknown label type: {kind})")
    classes, encoded = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"labels y contain a single class {classes[0]!r}; distillation needs "
                         f"at least 2 classes")
    return X, encoded.astype(np.int64).ravel(), classes


def check_classifier_predict(estimator, X) -> np.ndarray:
    """X for a fitted classifier's predict: fitted, same features (names and order), finite."""
    from sklearn.utils.validation import check_is_fitted, validate_data

    check_is_fitted(estimator)
    X = validate_data(estimator, X, reset=False, dtype=np.float64, ensure_all_finite=False)
    return check_X(X)


PROBA_SUM_TOL = 1e-6
"""How far from 1 a teacher's ``predict_proba`` row may sum (:func:`check_teacher_output`)."""


def check_teacher_output(teacher, raw, classes, n_classes: int, *, name=None) -> None:
    r"""Check a fitted teacher's ``predict_proba`` output ``raw`` (m, len(classes)).

    ``classes`` is the teacher's own ``classes_`` (the column order of ``raw``), which must be
    distinct integers among our encoded classes 0..k-1; extra columns (a class we do not have)
    are an error. Entries must lie in [0, 1] and each row must sum to 1 within
    :data:`PROBA_SUM_TOL` (the sum does not depend on the column order, so this holds after the
    columns are mapped onto ours). A teacher with ``substochastic_proba = True`` (a shrunk
    teacher, docs/theory.md §2) must instead have row sums in (0, 1 + tol].
    """
    name = name or f"{type(teacher).__name__}.predict_proba"
    classes = np.asarray(classes)
    if (classes.dtype.kind not in "iu" or np.unique(classes).size != classes.size
            or classes.min(initial=0) < 0 or classes.max(initial=0) >= n_classes):
        raise ValueError(
            f"{name} returned {raw.shape[1]} columns for classes_ = {_describe(classes.tolist())}"
            f", which are not distinct classes among the {n_classes} of the labels "
            f"(0..{n_classes - 1}): the teacher returns extra columns")
    outside = (raw < 0) | (raw > 1)
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise ValueError(f"{name} returned probabilities outside [0, 1]: row {i}, column {j} "
                         f"is {raw[i, j]}")
    sums = raw.sum(axis=1)
    if getattr(teacher, "substochastic_proba", False):
        bad = (sums <= 0) | (sums > 1 + PROBA_SUM_TOL)
        rule = "in (0, 1] (substochastic_proba teacher)"
    else:
        bad = np.abs(sums - 1) > PROBA_SUM_TOL
        rule = f"to 1 within {PROBA_SUM_TOL:g}"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} row {i} sums to {sums[i]:.10g}; rows must sum {rule} "
                         f"({int(bad.sum())} of {raw.shape[0]} rows do not)")
