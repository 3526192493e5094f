"""Progress of long runs on stderr: cells done / total, elapsed time and ETA."""

from __future__ import annotations

import sys
import time


class Progress:
    """Cells done / total, elapsed and ETA on stderr, once a run has lasted ``after`` seconds.

    The ETA weighs each cell by its sample size n (larger cells take longer).
    """

    def __init__(self, total, total_work, *, enabled=True, after=2.0, every=1.0, stream=None):
        self.total, self.done = total, 0
        self.total_work, self.work = total_work, 0.0
        self.enabled, self.after, self.every = enabled, after, every
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()
        self.shown = False

    def update(self, cells=1, work=0.0, *, timed=True):
        """Count finished cells; ``timed=False`` for cells that cost nothing (from the cache)."""
        self.done += cells
        if timed:
            self.work += work
        else:
            self.total_work -= work
        now = time.perf_counter()
        elapsed = now - self.start
        if self.enabled and elapsed >= self.after and (now - self.last >= self.every
                                                       or self.done == self.total):
            left = self.total_work - self.work
            eta = elapsed / self.work * left if self.work else float("nan")
            self.stream.write(f"\rcells {self.done}/{self.total}  elapsed {elapsed:6.1f} s  "
                              f"ETA {eta:6.1f} s ")
            self.stream.flush()
            self.last, self.shown = now, True

    def note(self, text):
        """Show a one-line status on the progress line (e.g. what a slow first cell waits for)."""
        if self.enabled:
            self.stream.write(f"\r{text} ")
            self.stream.flush()
            self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
