"""The shipped data sets load offline, match their checksums and the published shapes."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from kdtheory import datasets


@pytest.mark.parametrize("name", sorted(datasets.CHECKSUMS))
def test_shipped_file_checksums(name):
    with open(datasets.data_path(name), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == datasets.CHECKSUMS[name]


def test_load_magic():
    X, y = datasets.load_magic()
    assert X.shape == (19020, 10) and X.dtype == np.float64 and np.isfinite(X).all()
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
    assert np.bincount(y).tolist() == [12332, 6688]  # g, h
    # UCI magic04.data, first row
    np.testing.assert_array_equal(X[0], [28.7967, 16.0021, 2.6449, 0.3918, 0.1982, 27.7004,
                                         22.011, -8.2027, 40.092, 81.8828])
    frame, series = datasets.load_magic(as_frame=True)
    assert list(frame.columns) == list(datasets.MAGIC_FEATURES)
    np.testing.assert_array_equal(frame.to_numpy(), X)
    np.testing.assert_array_equal(series.to_numpy(), y)


def test_load_adult():
    X, y = datasets.load_adult()
    assert X.shape == (48842, 14) and X.dtype == np.float64
    assert int(y.sum()) == 11687
    missing = dict(zip(datasets.ADULT_FEATURES, np.isnan(X).sum(axis=0), strict=True))
    assert {k: v for k, v in missing.items() if v} == {
        "workclass": 2799, "occupation": 2809, "native-country": 857}
    # first row of adult.data: 39, State-gov, 77516, Bachelors, 13, Never-married, ...
    assert X[0, 0] == 39 and X[0, 2] == 77516 and X[0, 4] == 13
    assert X[0, 1] == datasets.ADULT_CATEGORIES["workclass"].index("State-gov")
    assert X[0, 3] == datasets.ADULT_CATEGORIES["education"].index("Bachelors")
    for j, column in enumerate(datasets.ADULT_FEATURES):
        if column in datasets.ADULT_CATEGORIES:
            codes = X[~np.isnan(X[:, j]), j]
            assert codes.min() >= 0 and codes.max() < len(datasets.ADULT_CATEGORIES[column])
    train, y_train = datasets.load_adult(subset="train")
    test, y_test = datasets.load_adult(subset="test")
    assert train.shape == (32561, 14) and test.shape == (16281, 14)
    np.testing.assert_array_equal(np.vstack([train, test]), X)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y)


def test_load_adult_as_frame():
    X, y = datasets.load_adult(subset="test", as_frame=True)
    assert X.shape == (16281, 14) and y.name == "class"
    assert list(X["sex"].cat.categories) == ["Female", "Male"]
    assert X["workclass"].isna().sum() == 963
    codes, _ = datasets.load_adult(subset="test")
    np.testing.assert_array_equal(X["age"].to_numpy(), codes[:, 0])


def test_checksum_mismatch_is_detected(tmp_path, monkeypatch):
    for name in datasets.CHECKSUMS:
        shutil.copy(datasets.data_path(name), tmp_path / name)
    with open(tmp_path / "magic.csv.gz", "ab") as fh:
        fh.write(b"\0")
    monkeypatch.setattr(datasets, "DATA_DIR", str(tmp_path))
    with pytest.raises(datasets.ChecksumError, match="does not match"):
        datasets.load_magic()
    (tmp_path / "adult.csv.gz").unlink()
    with pytest.raises(datasets.ChecksumError, match="missing"):
        datasets.load_adult()


def test_bad_arguments():
    with pytest.raises(ValueError, match="subset"):
        datasets.load_adult(subset="validation")
    with pytest.raises(TypeError, match="as_frame"):
        datasets.load_magic(as_frame="yes")
    with pytest.raises(TypeError, match="name"):
        datasets.fetch_openml("")
    with pytest.raises(ValueError, match="name must be one of"):
        datasets.data_path("iris.csv")


def test_fetch_openml_offline(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    with pytest.raises(datasets.DatasetUnavailableError,
                       match=r"cannot fetch OpenML data set 'MagicTelescope' \(offline\?\)"):
        datasets.fetch_openml("MagicTelescope")


def test_fetch_openml_passthrough(monkeypatch):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return "bunch"

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fake)
    assert datasets.fetch_openml("Adult", version=2) == "bunch"
    assert seen == {"name": "Adult", "version": 2, "as_frame": False, "parser": "auto"}
