"""kdtheory: knowledge distillation as semiparametric inference.

Dao, Kamath, Syrgkanis & Mackey (ICLR 2021) read distillation as plug-in estimation: the target
is the best student f0, the nuisance is the Bayes class probability p0 and the teacher p_hat is a
plug-in estimate of it. This package implements vanilla, cross-fit and enhanced (orthogonally
corrected) distillation, the two lower-bound examples of the paper as Monte Carlo rate studies,
and critical-radius estimators for the complexity term of the bounds.

Importing the package is light: submodules load on first access, nothing is compiled by Numba
and matplotlib is not imported.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "losses", "teachers", "students", "crossfit", "distill", "radius", "examples", "spec",
    "bounds", "cache", "backends", "progress", "montecarlo", "results", "ratefit", "plotting",
    "rates",
)

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'kdtheory' has no attribute {name!r}")
