"""Plan a study before running it: a rough peak-memory and time estimate, and a refusal when
it cannot fit in memory.

Each example states a cost model per cell (:attr:`kdtheory.examples.Example.cell_cost`:
peak bytes and seconds at size n, calibrated on the 2-core development machine). A study of
C cells on W workers then needs about

    memory = base + W * max_n bytes(n) + C * methods * record bytes
    time   = sum over cells of seconds(n) / W

The estimate is meant to catch the impossible (10^8 replications, n = 10^12), not to
predict to the second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BASE_BYTES = 250e6
"""One Python process with NumPy, SciPy, Numba and scikit-learn loaded."""
RECORD_BYTES = 2e3
"""One record (a dict of about 20 fields) kept in memory until the summary."""


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes) and wall time (seconds) of a study, and the memory available."""

    cells: int
    peak_bytes: float
    seconds: float
    available_bytes: float | None

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.peak_bytes <= self.available_bytes

    def __str__(self) -> str:
        avail = ("" if self.available_bytes is None
                 else f" of {_size(self.available_bytes)} available")
        return (f"{self.cells} cells; estimated {_duration(self.seconds)} and "
                f"{_size(self.peak_bytes)} peak memory{avail}")


def available_memory() -> float | None:
    """Bytes of memory available now (MemAvailable of /proc/meminfo), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def estimate(spec, n_workers) -> Estimate:
    """The :class:`Estimate` of running every cell of ``spec`` on ``n_workers`` workers.

    Computed from the grid without enumerating the cells (a study of 10^8 replications must
    be refused before its cell list is built); cells already in a cache count in full.
    """
    cost = spec.example.cell_cost
    cells = spec.n_replications * len(spec.sample_sizes)
    workers = max(1, min(n_workers, cells))
    cell_bytes = cost(max(spec.sample_sizes), spec.params)[0]
    peak = workers * (BASE_BYTES + cell_bytes) + cells * len(spec.example.methods) * RECORD_BYTES
    seconds = spec.n_replications * sum(cost(n, spec.params)[1] for n in spec.sample_sizes)
    return Estimate(cells, peak, seconds / workers, available_memory())


def _size(n_bytes):
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes / 1e3:.3g} kB"


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.3g} days"
