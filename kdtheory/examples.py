r"""The registry of named examples: the paper's two lower-bound constructions (docs/theory.md §5-6).

An :class:`Example` bundles a data-generating process, the oracle p0 and f0, the teacher and
student the theorems speak of, and per method the predicted log-log slope of the mean student
error against n with its kind:

* ``tight`` (Theta): the error decays at exactly this rate;
* ``lower`` (Omega): it decays no faster;
* ``upper`` (O): it decays at least this fast.

Adding an example is one :func:`register` call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

from ._validation import check_alpha, check_beta, check_clip, check_int, check_positive
from .losses import DEFAULT_CLIP
from .students import ConstantSoftmaxStudent, ConstantStudent

METHODS = ("vanilla", "sample_split", "crossfit", "enhanced", "targeted")
"""Methods a rate study compares (kdtheory.distill: VanillaKD, SampleSplitKD, CrossFitKD,
EnhancedKD, TargetedKD), all on the same data and teacher outputs (an example may use a subset:
:attr:`Example.methods`)."""

KINDS = ("tight", "lower", "upper")


@dataclass(frozen=True)
class Prediction:
    """A predicted slope of log(mean error) against log n, and its kind (tight/lower/upper)."""

    slope: float
    kind: str
    reason: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Example:
    """A rate-study example.

    Attributes
    ----------
    name, description : str
    example_id : int
        Stable integer used in every cell's seed (``SeedSequence(seed, spawn_key=(example_id,
        n, replication))``); never reuse one.
    defaults : dict
        Parameters and their defaults (``n_folds``, ``clip``, ``enhanced_alpha`` ... and the
        example's own, e.g. ``d``).
    sample : callable (n, params, rng) -> (X, labels)
    p0 : callable (X, params) -> (n, k) Bayes probabilities
    f0 : callable (params) -> (k,) the best constant student (SEL; under ACE its centred
        logits)
    make_teacher : callable (params) -> sklearn-style teacher
    predictions : callable (params) -> {method: Prediction}
    min_n : int
        Smallest sample size the example accepts.
    sample_sizes, replications : default grid; quick_sample_sizes, quick_replications : --quick grid
    validate, check_sizes, cell_cost, methods, loss : optional, documented below
    """

    name: str
    example_id: int
    description: str
    defaults: dict
    sample: Callable
    p0: Callable
    f0: Callable
    make_teacher: Callable
    predictions: Callable
    min_n: int
    sample_sizes: tuple
    replications: int
    quick_sample_sizes: tuple
    quick_replications: int
    validate: Callable = field(default=lambda params: params)
    check_sizes: Callable = field(default=lambda params, n_min: None)
    """(params, smallest sample size) -> None, or ValueError when the grid does not suit the
    parameters (checked once, by :meth:`kdtheory.spec.StudySpec.create`)."""
    cell_cost: Callable = field(default=lambda n, params: (1000.0 * n, 3e-5 * n))
    """(n, params) -> (peak bytes, seconds) of one cell, a rough model for planning a study
    (:mod:`kdtheory.plan`), calibrated on the 2-core development machine."""
    methods: tuple = METHODS
    """The methods the example's rate study compares (a subset of :data:`METHODS`, in order)."""
    loss: str = "sel"
    """The distillation loss: "sel" (the theory's default) or "ace" (annealed cross-entropy at
    the inverse temperature ``params["beta"]``, docs/theory.md §5.6)."""

    def make_student(self, params):
        """The constant student: under SEL (the paper's examples, docs/theory.md §4) or fit to
        soft targets by cross-entropy (ACE)."""
        return ConstantStudent() if self.loss == "sel" else ConstantSoftmaxStudent()

    def distiller_options(self, params) -> dict:
        """Keyword arguments every distiller of the study gets for the example's loss."""
        return {} if self.loss == "sel" else {"loss": "ace", "beta": params["beta"]}

    def student_kind(self, params) -> str:
        """The student class's name for :func:`kdtheory.radius.student_critical_radius`."""
        return "constant"

    def resolve(self, params=None) -> dict:
        """Defaults overridden by ``params``; unknown names and bad values raise ValueError."""
        params = dict(params or {})
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for example {self.name!r}; "
                f"known: {sorted(self.defaults)}"
            )
        out = {**self.defaults, **params}
        check_int(out["n_folds"], "n_folds", minimum=2)
        check_clip(out["clip"])
        alpha = out["enhanced_alpha"]
        if alpha == "tune" and self.loss != "sel":
            raise ValueError("enhanced_alpha 'tune' scores candidates by the SEL orthogonal "
                             f"criterion; example {self.name!r} distils with {self.loss!r}: "
                             f"give a number in [0, inf]")
        if alpha != "tune":
            out["enhanced_alpha"] = check_alpha(alpha, "enhanced_alpha")
        return self.validate(out)

    def student_error(self, estimator, params) -> float:
        r""":math:`\|\hat f - f_0\|_2^2`, exact for the constant student (docs/theory.md §1).

        Under ACE the student's scores are :math:`\beta\hat f` and logits are identified only
        up to a constant, so both sides are centred: :math:`\|C(\hat f - f_0)\|^2`,
        :math:`C = I - \frac1k\mathbf 1\mathbf 1^\top` (docs/theory.md §5.6)."""
        f_hat = estimator.students_[0].coef_ if len(estimator.students_) == 1 else \
            np.mean([s.coef_ for s in estimator.students_], axis=0)
        if self.loss == "sel":
            return float(np.sum((f_hat - self.f0(params)) ** 2))
        diff = f_hat / params["beta"] - self.f0(params)
        return float(np.sum((diff - diff.mean()) ** 2))


EXAMPLES: dict[str, Example] = {}


def register(example: Example) -> Example:
    """Add an example to :data:`EXAMPLES`; its name and id must be new, its methods known, and
    an ACE example must leave out targeted KD (derived for SEL only)."""
    if example.name in EXAMPLES or any(
            e.example_id == example.example_id for e in EXAMPLES.values()):
        raise ValueError(f"example {example.name!r} (id {example.example_id}) already registered")
    if not example.methods or not set(example.methods) <= set(METHODS):
        raise ValueError(f"example {example.name!r}: methods must be a non-empty subset of "
                         f"{METHODS}, got {example.methods}")
    if example.loss not in ("sel", "ace"):
        raise ValueError(f"example {example.name!r}: loss must be 'sel' or 'ace', got "
                         f"{example.loss!r}")
    if example.loss == "ace" and "targeted" in example.methods:
        raise ValueError(f"example {example.name!r}: targeted KD is derived for SEL only; leave "
                         f"it out of the methods of an ACE example")
    EXAMPLES[example.name] = example
    return example


def get_example(name: str) -> Example:
    try:
        return EXAMPLES[name]
    except KeyError:
        raise ValueError(f"unknown example {name!r}; choose from {sorted(EXAMPLES)}") from None


_COMMON = {"n_folds": 5, "clip": DEFAULT_CLIP, "enhanced_alpha": np.inf}


# --- 5.1 Teacher underfitting --------------------------------------------------------------

def _underfit_validate(params):
    p0 = np.asarray(params["p0"], dtype=np.float64)
    if p0.ndim != 1 or p0.size < 2 or np.any(p0 <= 0) or abs(p0.sum() - 1) > 1e-12:
        raise ValueError(f"p0 must be a probability vector with positive entries, got {p0}")
    return {**params, "p0": tuple(float(v) for v in p0)}


def _underfit_sample(n, params, rng):
    p0 = np.asarray(params["p0"])
    return rng.uniform(size=(n, 1)), rng.choice(p0.size, size=n, p=p0)


def _underfit_p0(X, params):
    return np.tile(np.asarray(params["p0"]), (X.shape[0], 1))


def _underfit_teacher(params):
    from .teachers import RidgeTeacher

    return RidgeTeacher(n_classes=len(params["p0"]))


UNDERFIT_STUDY = {
    "min_n": 20,
    "sample_sizes": (300, 1000, 3000, 10000, 30000, 100000),
    "replications": 200,
    "quick_sample_sizes": (200, 800, 3200, 12800),
    "quick_replications": 100,
    # Measured: 56 MB and 0.2 s at n = 1e5, 560 MB and 2.5 s at 1e6 (k = 3).
    "cell_cost": lambda n, params: (200.0 * len(params["p0"]) * n, 2.5e-6 * n),
}
"""Grid, replications and cost model shared by the two underfit examples (SEL and ACE)."""


register(Example(
    name="underfit",
    example_id=1,
    description="Teacher underfitting: ridge-shrunk mean teacher (lambda = n^-1/4), constant "
                "p0, constant SEL student (docs/theory.md §5.1).",
    defaults={**_COMMON, "p0": (0.2, 0.3, 0.5)},
    sample=_underfit_sample,
    p0=_underfit_p0,
    f0=lambda params: np.log(np.asarray(params["p0"])),
    make_teacher=_underfit_teacher,
    predictions=lambda params: {
        "vanilla": Prediction(-0.5, "tight", "shrinkage bias k lambda^2 = Theta(n^-1/2)"),
        "sample_split": Prediction(-0.5, "tight", "splitting keeps the shrinkage bias"),
        "crossfit": Prediction(-0.5, "tight", "cross-fitting keeps the shrinkage bias"),
        "enhanced": Prediction(-1.0, "upper", "correction cancels lambda: O(1/n + lambda^4)"),
        "targeted": Prediction(-1.0, "upper", "the update undoes the shrinkage: the one-step "
                                              "estimate at p*, O(1/n + lambda^4)"),
    },
    validate=_underfit_validate,
    **UNDERFIT_STUDY,
))


def _underfit_ace_validate(params):
    check_beta(params["beta"])
    return {**_underfit_validate(params), "beta": float(params["beta"])}


register(Example(
    name="underfit_ace",
    example_id=4,
    description="The underfit example distilled with the annealed cross-entropy (inverse "
                "temperature beta) into a constant softmax student: the ridge teacher's "
                "uniform shrinkage cancels in softmax(beta log p_hat) (docs/theory.md §5.6).",
    # beta = 1 would make vanilla, cross-fit and enhanced KD coincide (docs/theory.md §5.6)
    defaults={**_COMMON, "p0": (0.2, 0.3, 0.5), "beta": 0.5},
    sample=_underfit_sample,
    p0=_underfit_p0,
    f0=lambda params: np.log(params["p0"]) - np.mean(np.log(params["p0"])),
    make_teacher=_underfit_teacher,
    predictions=lambda params: {
        method: Prediction(-1.0, "tight", reason) for method, reason in (
            ("vanilla", "the tempered teacher does not see lambda: sampling error of ybar"),
            ("sample_split", "the same at the teacher's half"),
            ("crossfit", "the mean of the folds' tempered teachers: O(1/n)"),
            ("enhanced", "the correction averages out to first order: O(1/n)"))},
    validate=_underfit_ace_validate,
    methods=("vanilla", "sample_split", "crossfit", "enhanced"),
    loss="ace",
    **UNDERFIT_STUDY,
))


# --- 5.2 Teacher overfitting ----------------------------------------------------------------

OVERFIT_P0 = {
    "sin": lambda x1, xd: 0.5 + 0.35 * np.sin(2 * np.pi * x1) * np.cos(np.pi * xd),
    "cos": lambda x1, xd: 0.5 + 0.35 * np.cos(2 * np.pi * x1) * np.cos(np.pi * xd),
}
r"""Class-1 probabilities of the overfit example, functions of :math:`x_1` and :math:`x_d`.

``"sin"`` is docs/theory.md's default :math:`0.5 + 0.35 \sin(2\pi x_1)\cos(\pi x_d)`. ``"cos"``,
:math:`0.5 + 0.35 \cos(2\pi x_1)\cos(\pi x_d)`, has zero normal derivative on the boundary of
the cube, so the Nadaraya-Watson teacher has no O(h) boundary bias there: its held-out error
then follows the interior rate :math:`n^{-4/(4+d)}`, while with ``"sin"`` the boundary layer of
width h adds :math:`h^2 \cdot h = n^{-3/(4+d)}` (see the README's notes on the overfit rates).
Both take values in [0.15, 0.85]."""


def overfit_p1(X, shape: str = "sin"):
    """The class-1 probability :math:`p_0(x)` of :data:`OVERFIT_P0` ``[shape]`` at the rows of X."""
    return OVERFIT_P0[shape](X[:, 0], X[:, -1])


@functools.cache
def overfit_f0(d: int, shape: str = "sin") -> tuple:
    r""":math:`f_0 = (E\log(1 - p_0(X)), E\log p_0(X))` for X uniform on [0,1]^d.

    Computed once per (d, shape) by Gauss-Legendre quadrature (400 nodes per axis) over
    :math:`x_1` and, for d >= 2, :math:`x_d` (the only coordinates p0 depends on); the integrand
    is analytic, so the result is accurate to about 1e-15, far below any student error a study
    measures (checked against scipy.integrate in the tests).
    """
    nodes, weights = np.polynomial.legendre.leggauss(400)
    x, w = (nodes + 1) / 2, weights / 2
    if d == 1:
        p1 = OVERFIT_P0[shape](x, x)
        ww = w
    else:
        x1, xd = np.meshgrid(x, x, indexing="ij")
        p1 = OVERFIT_P0[shape](x1.ravel(), xd.ravel())
        ww = np.outer(w, w).ravel()
    return (float(ww @ np.log1p(-p1)), float(ww @ np.log(p1)))


def _overfit_validate(params):
    d = check_int(params["d"], "d", minimum=1)
    c_h = check_positive(params["c_h"], "c_h")
    a = d / 4 if params["a"] is None else check_positive(params["a"], "a")
    if not a < d / 2:
        raise ValueError(f"a must lie in (0, d/2) = (0, {d / 2}), got {a}")
    if params["p0"] not in OVERFIT_P0:
        raise ValueError(f"p0 must be one of {sorted(OVERFIT_P0)}, got {params['p0']!r}")
    return {**params, "d": d, "c_h": c_h, "a": params["a"]}


def _overfit_sample(n, params, rng):
    X = rng.uniform(size=(n, params["d"]))
    labels = (rng.uniform(size=n) < overfit_p1(X, params["p0"])).astype(np.int64)
    return X, labels


def _nw_teacher(params, boxsize=None):
    """The interpolating singular-kernel Nadaraya-Watson teacher of the overfitting examples."""
    from .teachers import NadarayaWatsonTeacher

    return NadarayaWatsonTeacher(a=params["a"], c_h=params["c_h"], kernel="singular",
                                 fallback=params["fallback"], n_classes=2,
                                 **({} if boxsize is None else {"boxsize": boxsize}))


NW_STUDY = {
    "min_n": 50,
    "sample_sizes": (500, 1000, 2000, 4000, 8000, 16000, 32000),
    "replications": 40,
    "quick_sample_sizes": (250, 500, 1000, 2000, 4000),
    "quick_replications": 30,
    # Measured (d = 1, 2, 5): 500-700 bytes per row; 0.14-0.18 s at n = 1e4, 3-5 s at 1e5.
    "cell_cost": lambda n, params: (150.0 * (params["d"] + 2) * n,
                                    1.5e-5 * n * max(1.0, n / 1e4) ** 0.35),
}
"""Grid, replications and cost model shared by the two Nadaraya-Watson examples."""


def _overfit_predictions(params):
    d = params["d"]
    return {
        "vanilla": Prediction(0.0, "lower", "interpolation: the student sees log(clip) and 0, "
                                            "Omega(1)"),
        "sample_split": Prediction(-4 / (4 + d), "upper", "held-out NW error n^(-4/(4+d))"),
        "crossfit": Prediction(-4 / (4 + d), "upper", "held-out NW error n^(-4/(4+d))"),
        "enhanced": Prediction(-min(1.0, 8 / (4 + d)), "upper",
                               "second-order remainder: O(1/n + n^(-8/(4+d)))"),
        "targeted": Prediction(-min(1.0, 8 / (4 + d)), "upper",
                               "the one-step estimate at p*: O(1/n + n^(-8/(4+d)))"),
    }


register(Example(
    name="overfit",
    example_id=2,
    description="Teacher overfitting: interpolating Nadaraya-Watson teacher (singular kernel, "
                "h = c_h n^(-1/(4+d))), X uniform on [0,1]^d, constant SEL student "
                "(docs/theory.md §5.2).",
    defaults={**_COMMON, "d": 2, "a": None, "c_h": 1.0, "fallback": "prior", "p0": "sin"},
    sample=_overfit_sample,
    p0=lambda X, params: np.column_stack([1 - overfit_p1(X, params["p0"]),
                                          overfit_p1(X, params["p0"])]),
    f0=lambda params: np.asarray(overfit_f0(params["d"], params["p0"])),
    make_teacher=_nw_teacher,
    predictions=_overfit_predictions,
    validate=_overfit_validate,
    **NW_STUDY,
))


# --- 5.3 Teacher overfitting without a boundary -----------------------------------------------

def torus_c_h(d: int) -> float:
    r"""Default bandwidth constant of the torus teacher, :math:`h = c_h m^{-1/(4+d)}`.

    0.5 for d <= 2 and 0.75 for 3 <= d <= 5 (docs/theory.md §5.3); beyond d = 5 we keep 0.75:
    h then stays below 1/2, where the minimum image is unambiguous, for every teacher training
    size m > 1.5^(4+d) (m > 130 at d = 8), which :func:`_torus_check_sizes` enforces.
    """
    return 0.5 if d <= 2 else 0.75


def torus_f0(amplitude: float) -> float:
    r""":math:`f_{0,j} = E\log(\tfrac12 \pm A\sin 2\pi X_1) = \log\frac{1/2 + \sqrt{1/4 - A^2}}{2}`
    for both classes: :math:`\frac1{2\pi}\int_0^{2\pi}\log(a + b\sin\theta)\,d\theta
    = \log\frac{a + \sqrt{a^2 - b^2}}{2}` with a = 1/2, b = A (docs/theory.md §5.3)."""
    return float(np.log((0.5 + np.sqrt(0.25 - amplitude**2)) / 2))


def _torus_p1(X, params):
    return 0.5 + params["amplitude"] * np.sin(2 * np.pi * X[:, 0])


def _torus_validate(params):
    d = check_int(params["d"], "d", minimum=1)
    amplitude = check_positive(params["amplitude"], "amplitude")
    if not amplitude < 0.5:
        raise ValueError(f"amplitude must lie in (0, 0.5), got {amplitude}")
    c_h = torus_c_h(d) if params["c_h"] is None else check_positive(params["c_h"], "c_h")
    a = d / 4 if params["a"] is None else check_positive(params["a"], "a")
    if not a < d / 2:
        raise ValueError(f"a must lie in (0, d/2) = (0, {d / 2}), got {a}")
    return {**params, "d": d, "amplitude": amplitude, "c_h": c_h}


def _torus_check_sizes(params, n_min):
    """The smallest teacher (sample splitting: n/2 points) must have h < 1/2."""
    m = n_min // 2
    h = params["c_h"] * m ** (-1.0 / (4 + params["d"]))
    if not h < 0.5:
        raise ValueError(f"the torus teacher's bandwidth at n = {n_min} is "
                         f"h = {h:.3f} >= 1/2 (half the torus); use n >= "
                         f"{2 * int(np.ceil((2 * params['c_h']) ** (4 + params['d'])))} "
                         f"or a smaller c_h")


def _torus_sample(n, params, rng):
    X = rng.uniform(size=(n, params["d"]))
    labels = (rng.uniform(size=n) < _torus_p1(X, params)).astype(np.int64)
    return X, labels


register(Example(
    name="torus",
    example_id=3,
    description="Teacher overfitting without a boundary: periodic interpolating Nadaraya-Watson "
                "teacher on the flat torus [0,1)^d, p0 = 1/2 +- A sin(2 pi x_1), constant SEL "
                "student (docs/theory.md §5.3).",
    defaults={**_COMMON, "d": 2, "a": None, "c_h": None, "fallback": "prior",
              "amplitude": 0.35},
    sample=_torus_sample,
    p0=lambda X, params: np.column_stack([1 - _torus_p1(X, params), _torus_p1(X, params)]),
    f0=lambda params: np.full(2, torus_f0(params["amplitude"])),
    make_teacher=functools.partial(_nw_teacher, boxsize=1.0),
    predictions=_overfit_predictions,
    validate=_torus_validate,
    check_sizes=_torus_check_sizes,
    **NW_STUDY,
))
