"""A rate study's specification, validated once: example, parameters, grid, replications, seed.

:meth:`StudySpec.create` resolves the example's parameters, checks the grid against them and
returns a frozen :class:`StudySpec`; everything downstream (cells, cache, summaries) trusts it.
A bad value raises :class:`SpecError`, a ``ValueError`` that also says which argument was wrong
(``.argument``), so that the command line can name its flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_int
from .examples import get_example


class SpecError(ValueError):
    """A bad study argument; ``argument`` names it (``"sample_sizes"``, a parameter, ...)."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


def check_sample_sizes(sample_sizes, min_n):
    """At least 2 distinct integer sizes >= ``min_n``, sorted."""
    if np.ndim(sample_sizes) != 1:
        raise ValueError(f"sample_sizes must be a sequence of integers, got {sample_sizes!r}")
    sizes = [check_int(n, f"sample_sizes[{i}]", minimum=min_n)
             for i, n in enumerate(sample_sizes)]
    if len(set(sizes)) != len(sizes) or len(sizes) < 2:
        raise ValueError(f"sample_sizes must hold at least 2 distinct sizes, got {sizes}")
    return sorted(sizes)


@dataclass(frozen=True)
class StudySpec:
    """What a rate study computes; its cells depend on nothing else (bitwise).

    Attributes
    ----------
    example_name : str
        A registered example (:data:`kdtheory.examples.EXAMPLES`).
    params : dict
        The example's full resolved parameters.
    sample_sizes : tuple of int
        Sorted, distinct, each >= the example's ``min_n`` and >= ``n_folds``.
    n_replications : int >= 2
    seed : int >= 0
        The one seed every cell's random streams derive from.
    """

    example_name: str
    params: dict
    sample_sizes: tuple
    n_replications: int
    seed: int

    @classmethod
    def create(cls, example, params=None, *, sample_sizes=None, n_replications=None, seed=0,
               quick=False) -> StudySpec:
        """Validate a study's arguments once.

        ``sample_sizes`` and ``n_replications`` default to the example's grid (``quick``: its
        small grid). Raises :class:`SpecError` naming the argument and its value.
        """
        try:
            ex = get_example(example)
        except ValueError as exc:
            raise SpecError("example", str(exc)) from None
        if sample_sizes is None:
            sample_sizes = ex.quick_sample_sizes if quick else ex.sample_sizes
        if n_replications is None:
            n_replications = ex.quick_replications if quick else ex.replications
        try:
            sizes = check_sample_sizes(sample_sizes, ex.min_n)
        except ValueError as exc:
            raise SpecError("sample_sizes", str(exc)) from None
        try:
            reps = check_int(n_replications, "n_replications", minimum=2)
        except ValueError as exc:
            raise SpecError("n_replications", str(exc)) from None
        try:
            seed = check_int(seed, "seed", minimum=0)
        except ValueError as exc:
            raise SpecError("seed", str(exc)) from None
        try:
            resolved = ex.resolve(params)
        except ValueError as exc:
            message = str(exc)
            name = message.split(" ", 1)[0]
            raise SpecError(name if name in ex.defaults else "params", message) from None
        if resolved["n_folds"] > sizes[0]:
            raise SpecError("n_folds", f"n_folds must be <= the smallest sample size "
                                       f"{sizes[0]}, got {resolved['n_folds']}")
        try:
            ex.check_sizes(resolved, sizes[0])
        except ValueError as exc:
            raise SpecError("sample_sizes", str(exc)) from None
        return cls(ex.name, resolved, tuple(sizes), reps, seed)

    @property
    def example(self):
        """The registered :class:`kdtheory.examples.Example`."""
        return get_example(self.example_name)

    def cells(self) -> list:
        """Every cell (n, replication) of the study, in grid order."""
        return [(n, r) for n in self.sample_sizes for r in range(self.n_replications)]
