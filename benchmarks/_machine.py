"""Helpers the benchmark scripts share; numpy-free, so that importing them measures nothing."""

from __future__ import annotations

import os
import subprocess
import tempfile

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
