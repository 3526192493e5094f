"""The per-cell cache of rate studies: resume after an interruption, never serve a stale cell.

Finished cells are stored under ``cache_dir/<config key>/`` (one JSON file per cell, written
atomically). The configuration key (:func:`config_key`) hashes everything a cell's numbers
depend on besides (n, replication): the example and its resolved parameters, the seed, a hash
of kdtheory's own source files, and the versions of the packages that compute the numbers. A
change to any of them, a code edit included, gives a new key and so recomputes every cell.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ._json import to_jsonable

NUMERIC_PACKAGES = ("numpy", "scipy", "numba", "scikit-learn")
"""Packages whose code produces a cell's numbers: their versions are part of the key."""


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 over kdtheory's ``.py`` files (relative path and content), in sorted order."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def package_versions(names=NUMERIC_PACKAGES) -> dict:
    """Installed versions of ``names`` (None for a package that is not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def config_key(spec) -> str:
    """Hash of everything a cell's result depends on except (n, replication).

    The grid, the replications and the backend are not part of it: a cell does not depend on
    them (:mod:`kdtheory.montecarlo`), so a grown grid reuses the cells it already has.
    """
    payload = json.dumps({"example": spec.example_name, "params": to_jsonable(spec.params),
                          "seed": spec.seed, "source": source_hash(),
                          "versions": package_versions()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cell_ok(records) -> bool:
    """True when every record of a cell succeeded (only such cells are stored)."""
    return all(rec["status"] == "ok" for rec in records)


class CellCache:
    """One JSON file per finished cell under ``cache_dir/<config key>/``.

    Writes are atomic (temporary file + ``os.replace``), in JSON (safe to load, unlike pickle).
    Each file carries the configuration key, its cell (n, replication) and a SHA-256 of its
    records; a truncated, corrupted or mismatching file is reported on stderr and recomputed,
    never used. Failed cells are never stored, so a rerun retries them.
    """

    def __init__(self, cache_dir, key):
        self.dir = os.path.join(os.fspath(cache_dir), key)
        self.key = key
        os.makedirs(self.dir, exist_ok=True)

    def _path(self, n, replication):
        return os.path.join(self.dir, f"n{n}_r{replication}.json")

    @staticmethod
    def _digest(records):
        return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()

    def load(self, n, replication):
        """The cell's stored records, or None if absent or unusable (reported on stderr)."""
        path = self._path(n, replication)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as fh:
                payload = json.load(fh)
            records = payload["records"]
            if (payload["key"], payload["n"], payload["replication"]) != (self.key, n,
                                                                           replication):
                raise ValueError("configuration or cell mismatch")
            if payload["sha256"] != self._digest(records):
                raise ValueError("checksum mismatch")
            return records
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"kdtheory: cached cell {path} is unreadable ({exc}); recomputing it",
                  file=sys.stderr)
            return None

    def store(self, n, replication, records):
        """Write a finished cell atomically; cells with a failed record are not stored."""
        if not cell_ok(records):
            return
        payload = {"key": self.key, "n": n, "replication": replication,
                   "sha256": self._digest(records), "records": records}
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(payload, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(n, replication))
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
