"""One JSON encoding for everything kdtheory writes (summaries, cache keys, metadata).

JSON has no inf or NaN and no NumPy types: :func:`to_jsonable` writes non-finite floats as the
strings ``"inf"``, ``"-inf"`` and ``"nan"``, NumPy scalars and arrays as Python numbers and
lists, tuples as lists; :func:`from_jsonable` turns those three strings back into floats.
"""

from __future__ import annotations

import math

import numpy as np

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def to_jsonable(value):
    """``value`` with every float finite or a string, every container a dict or list."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [to_jsonable(v) for v in value]
    return value


def from_jsonable(value):
    """The inverse of :func:`to_jsonable` for floats (lists stay lists)."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value
