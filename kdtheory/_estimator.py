"""The scikit-learn estimator protocol, without importing scikit-learn.

kdtheory's teachers, students and distillers follow scikit-learn's conventions: parameters are
stored untouched in ``__init__``, ``get_params``/``set_params`` expose them, and ``clone``
builds an unfitted copy. Importing scikit-learn takes about 1.6 s on the development machine,
more than everything else kdtheory loads, so this module provides the protocol itself;
``sklearn.base.clone`` and scikit-learn's tools still accept these estimators (they only need
``get_params``), and estimators from other libraries are cloned by scikit-learn, imported then.
"""

from __future__ import annotations

import copy
import inspect


class Estimator:
    """``get_params``, ``set_params`` and a readable ``repr`` from the ``__init__`` signature."""

    @classmethod
    def _param_names(cls) -> list:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self"
                      and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict:
        """Parameter names mapped to their values (``deep``: also ``name__sub`` of estimators)."""
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            out[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
        return out

    def set_params(self, **params):
        """Set parameters (``name`` or ``name__sub`` for a nested estimator); returns self."""
        valid = self._param_names()
        nested = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters: {valid}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"


def clone(estimator):
    """An unfitted copy with the same parameters (nested estimators cloned too).

    kdtheory estimators are rebuilt from ``get_params(deep=False)``; anything else with
    ``get_params`` goes to ``sklearn.base.clone``; plain values are deep-copied.
    """
    if isinstance(estimator, Estimator):
        params = {name: clone(value) for name, value in estimator.get_params(deep=False).items()}
        return type(estimator)(**params)
    if hasattr(estimator, "get_params") and not isinstance(estimator, type):
        from sklearn.base import clone as sklearn_clone

        return sklearn_clone(estimator)
    return copy.deepcopy(estimator)
