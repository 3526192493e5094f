r"""Tabular data sets of the paper's experiment, shipped and checksummed (issue 14).

Two of the paper's five data sets ship with the package as compressed CSVs (provenance,
licence and checksums in ``kdtheory/data/README.md``; both are UCI data under CC BY 4.0):

* :func:`load_magic`: MAGIC gamma telescope, 19,020 rows, 10 continuous features, label
  gamma (``g``, signal) or hadron (``h``, background); the same rows as OpenML
  ``MagicTelescope``.
* :func:`load_adult`: UCI Adult census income, 32,561 training + 16,281 test rows, 14
  features (8 categorical), label ``income > 50K``; together the 48,842 rows of OpenML
  ``Adult`` version 2.

Every load verifies the file's sha256 against :data:`CHECKSUMS` before parsing.
:func:`fetch_openml` passes through to :func:`sklearn.datasets.fetch_openml` for any other
data set and turns a network failure into one clear :class:`DatasetUnavailableError`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import numpy as np

__all__ = ["CHECKSUMS", "ADULT_CATEGORIES", "ChecksumError", "DatasetUnavailableError",
           "load_magic", "load_adult", "fetch_openml", "data_path"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

#: sha256 of the shipped CSVs (the raw files' checksums are in data/README.md).
CHECKSUMS = {
    "magic.csv.gz": "1209f64a3ef705bc72765d9d37c907b5f2d7a28ab7ae3b45469de766804be18f",
    "adult.csv.gz": "cee0ac8feb9157b12c16fab1da55e7daa17533cdfce2641a0028cb10861b031e",
}

MAGIC_FEATURES = ("fLength", "fWidth", "fSize", "fConc", "fConc1", "fAsym", "fM3Long",
                  "fM3Trans", "fAlpha", "fDist")

#: Categories of Adult's nominal columns, in the order of UCI's ``adult.names`` (the order of
#: the nominal declarations in OpenML's ARFF); ordinal code i is the i-th entry.
ADULT_CATEGORIES = {
    "workclass": ("Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov",
                  "State-gov", "Without-pay", "Never-worked"),
    "education": ("Bachelors", "Some-college", "11th", "HS-grad", "Prof-school", "Assoc-acdm",
                  "Assoc-voc", "9th", "7th-8th", "12th", "Masters", "1st-4th", "10th",
                  "Doctorate", "5th-6th", "Preschool"),
    "marital-status": ("Married-civ-spouse", "Divorced", "Never-married", "Separated",
                       "Widowed", "Married-spouse-absent", "Married-AF-spouse"),
    "occupation": ("Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
                   "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical",
                   "Farming-fishing", "Transport-moving", "Priv-house-serv", "Protective-serv",
                   "Armed-Forces"),
    "relationship": ("Wife", "Own-child", "Husband", "Not-in-family", "Other-relative",
                     "Unmarried"),
    "race": ("White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"),
    "sex": ("Female", "Male"),
    "native-country": ("United-States", "Cambodia", "England", "Puerto-Rico", "Canada",
                       "Germany", "Outlying-US(Guam-USVI-etc)", "India", "Japan", "Greece",
                       "South", "China", "Cuba", "Iran", "Honduras", "Philippines", "Italy",
                       "Poland", "Jamaica", "Vietnam", "Mexico", "Portugal", "Ireland",
                       "France", "Dominican-Republic", "Laos", "Ecuador", "Taiwan", "Haiti",
                       "Columbia", "Hungary", "Guatemala", "Nicaragua", "Scotland",
                       "Thailand", "Yugoslavia", "El-Salvador", "Trinadad&Tobago", "Peru",
                       "Hong", "Holand-Netherlands"),
}
ADULT_FEATURES = ("age", "workclass", "fnlwgt", "education", "education-num",
                  "marital-status", "occupation", "relationship", "race", "sex",
                  "capital-gain", "capital-loss", "hours-per-week", "native-country")


class ChecksumError(OSError):
    """A shipped data file does not match its recorded sha256 (corrupt or edited)."""


class DatasetUnavailableError(ConnectionError):
    """An OpenML data set could not be fetched (no network, or the server did not answer)."""


def data_path(name: str) -> str:
    """Absolute path of a shipped file, e.g. ``data_path("magic.csv.gz")``."""
    if name not in CHECKSUMS:
        raise ValueError(f"name must be one of {sorted(CHECKSUMS)}, got {name!r}")
    return os.path.join(DATA_DIR, name)


def _read_verified(name: str) -> bytes:
    """The decompressed bytes of a shipped CSV, after checking the sha256 of the .gz file."""
    path = data_path(name)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError as exc:
        raise ChecksumError(f"shipped data file {path} is missing (broken install?)") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CHECKSUMS[name]:
        raise ChecksumError(f"{path}: sha256 {digest} does not match the recorded "
                            f"{CHECKSUMS[name]}; the file is corrupt or was modified")
    return gzip.decompress(raw)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def load_magic(*, as_frame: bool = False):
    r"""MAGIC gamma telescope (UCI; Bock et al. 2004): 19,020 rows, 10 features.

    Parameters
    ----------
    as_frame : bool
        False: ``X`` float64 ndarray (19020, 10) and ``y`` int64 ndarray. True: a pandas
        DataFrame with the UCI column names and a Series ``y`` named ``class``.

    Returns
    -------
    X, y
        ``y = 1`` for a hadron (``h``, 6,688 rows), ``0`` for a gamma (``g``, 12,332 rows):
        the codes of the sorted class names, as a label encoder gives them.
    """
    import pandas as pd

    as_frame = _check_bool(as_frame, "as_frame")
    frame = pd.read_csv(io.BytesIO(_read_verified("magic.csv.gz")))
    X = frame.loc[:, list(MAGIC_FEATURES)].astype(np.float64)
    y = (frame["class"] == "h").astype(np.int64).rename("class")
    return (X, y) if as_frame else (X.to_numpy(), y.to_numpy())


def load_adult(*, subset: str = "all", as_frame: bool = False):
    r"""UCI Adult census income (Kohavi 1996): 32,561 training + 16,281 test rows, 14 features.

    Parameters
    ----------
    subset : {"all", "train", "test"}
        ``"all"`` is the 48,842 rows of ``adult.data`` then ``adult.test`` (OpenML ``Adult``
        version 2); ``"train"`` / ``"test"`` the original split.
    as_frame : bool
        False: ``X`` a float64 ndarray (n, 14); each nominal column is its ordinal code in
        :data:`ADULT_CATEGORIES` and a missing value (``?`` in the raw files: workclass,
        occupation, native-country) is NaN, to be imputed by the caller. True: a DataFrame
        whose nominal columns are pandas Categoricals with those categories (missing: NaN).

    Returns
    -------
    X, y
        ``y = 1`` for income ``>50K`` (11,687 of the 48,842 rows), else 0.
    """
    import pandas as pd

    as_frame = _check_bool(as_frame, "as_frame")
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}")
    frame = pd.read_csv(io.BytesIO(_read_verified("adult.csv.gz")), keep_default_na=False,
                        na_values=[""])
    if subset != "all":
        frame = frame[frame["split"] == subset].reset_index(drop=True)
    y = (frame["class"] == ">50K").astype(np.int64).rename("class")
    X = frame.loc[:, list(ADULT_FEATURES)].copy()
    for column, categories in ADULT_CATEGORIES.items():
        X[column] = pd.Categorical(X[column], categories=categories)
    for column in set(ADULT_FEATURES) - set(ADULT_CATEGORIES):
        X[column] = X[column].astype(np.float64)
    if as_frame:
        return X, y
    codes = np.column_stack([
        np.where(X[c].cat.codes < 0, np.nan, X[c].cat.codes).astype(np.float64)
        if c in ADULT_CATEGORIES else X[c].to_numpy(np.float64) for c in ADULT_FEATURES])
    return codes, y.to_numpy()


def fetch_openml(name: str, *, version="active", as_frame: bool = False, **kwargs):
    """sklearn.datasets.fetch_openml by name (needs the network), with a clear offline error.

    Parameters
    ----------
    name : str
        OpenML data set name, e.g. ``"MagicTelescope"`` or ``"Adult"`` (with ``version=2``).
    version, as_frame, **kwargs
        Passed through (``parser`` defaults to ``"auto"``).

    Returns
    -------
    The scikit-learn Bunch.

    Raises
    ------
    DatasetUnavailableError
        When the fetch fails on the network (any ``OSError``, e.g. a DNS failure offline); the
        message names the data set and points to the offline loaders.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    from sklearn.datasets import fetch_openml as _fetch

    kwargs.setdefault("parser", "auto")
    try:
        return _fetch(name=name, version=version, as_frame=as_frame, **kwargs)
    except OSError as exc:  # URLError, socket and SSL errors are OSErrors
        raise DatasetUnavailableError(
            f"cannot fetch OpenML data set {name!r} (offline?): {exc}. The shipped copies "
            "load offline: kdtheory.datasets.load_magic(), load_adult()") from exc
