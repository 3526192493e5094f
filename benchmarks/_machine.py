"""Helpers the benchmark scripts share; numpy-free, so that importing them measures nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load() -> float:
    """The 1-minute load average, recorded beside every timing."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def extract(rev: str) -> str:
    """git archive of the kdtheory package at ``rev`` into a new temporary directory."""
    path = tempfile.mkdtemp(prefix="kdt-rev-")
    archive = subprocess.run(["git", "-C", REPO, "archive", rev, "kdtheory"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", path], input=archive, check=True)
    return path


def baseline_env(rev):
    """Environment for the worker processes: ``KDT_BASELINE_PATH`` points at :func:`extract` of
    ``rev`` (None: no baseline, the inherited environment)."""
    return None if not rev else dict(os.environ, KDT_BASELINE_PATH=extract(rev))


def run_header(baseline=None) -> str:
    """The first line of a results table: date, cores, Python, load and the baseline."""
    return (f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, python "
            f"{sys.version.split()[0]}, load {load():.2f}"
            + (f", baseline = {baseline}" if baseline else ""))
