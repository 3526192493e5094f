r"""The paper's tabular experiment: a random-forest teacher distilled into small random forests.

Per repetition r (seeded by ``SeedSequence(seed, spawn_key=(r,))``): a stratified 70/30
train/test split; a random-forest teacher (``--teacher-trees``, 500 as in the paper) on the
training part; random-forest students of 1..40 trees (``RandomForestRegressor`` on the SEL
pseudo-targets through :class:`kdtheory.students.RegressorStudent`), trained from scratch by

* ``hard_labels``: the same forest regressed on the 0/1 labels, no teacher (baseline);
* ``vanilla``: :class:`kdtheory.distill.VanillaKD`, the teacher queried on its own training
  rows (where a forest is over-confident);
* ``crossfit``: :class:`kdtheory.distill.CrossFitKD`, 5 folds, each row labelled by a forest
  that never saw it;
* ``enhanced``: :class:`kdtheory.distill.EnhancedKD` with ``alpha="tune"``: cross-fitting plus
  the gamma correction :math:`t = \log\hat p + \gamma(y - \hat p)`, alpha chosen per fold by
  cross-validation on that fold's training rows (:func:`kdtheory.distill.tune_alpha`).

All KD methods share the teacher outputs and the fold draw of a repetition, and every student
of a given size uses the same forest seed, so the methods differ only in their targets. The
score of a student is its logit difference :math:`f_1(x) - f_0(x)`; the table reports the test
AUC, mean and standard deviation over repetitions (and the teacher's own test AUC).

Data (offline): ``--data breast_cancer`` (default; scikit-learn, 569 rows, 30 features) or
``--data fair`` (statsmodels, 6366 rows, 8 features, outcome affairs > 0: a harder task, far
from the AUC ceiling); ``--openml NAME`` fetches an OpenML data set by name instead (needs the
network; the first two classes of its target; ``--max-rows`` takes a stratified subsample).

Outputs (``--out``, default simulations/results/): ``tabular_<data>.csv`` (method, n_trees,
auc_mean, auc_sd, auc_se, alpha_mean, repetitions) and ``tabular_<data>.png``.

Commands (2 cores, shared machine)::

    python simulations/tabular.py                          # full size: 500-tree teacher,
                                                           # students of 1, 2, 5, 10, 20, 40
                                                           # trees, 10 repetitions: 21 min
                                                           # measured (the committed results);
                                                           # --repetitions 5 takes about half
    python simulations/tabular.py --quick --out /tmp/tab   # 20-tree teacher, 2 sizes, 2 reps; ~10 s
    python simulations/tabular.py --openml MagicTelescope --max-rows 3000   # online only
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from kdtheory.crossfit import crossfit_predict, fit_teacher_proba, make_folds
from kdtheory.distill import DEFAULT_ALPHA_GRID, CrossFitKD, EnhancedKD, VanillaKD
from kdtheory.students import RegressorStudent

METHODS = ("hard_labels", "vanilla", "crossfit", "enhanced")
STUDENT_SIZES = (1, 2, 5, 10, 20, 40)
COLUMNS = ("method", "n_trees", "auc_mean", "auc_sd", "auc_se", "alpha_mean", "repetitions")
_FITS: dict = {}


class ReusedFitTeacher(ClassifierMixin, BaseEstimator):
    """A teacher whose fit on given rows is computed once per process and then reused.

    ``EnhancedKD(alpha="tune")`` refits the teacher on the inner folds of every outer fold; with
    a fixed ``random_state`` those folds are the same for every student size, and so is each
    (deterministic) forest. This wrapper keys fits by the training rows and the teacher's
    parameters, so the 500-tree forests are grown once per repetition instead of once per
    student size; predictions are identical to refitting. Call :func:`clear_fits` between
    repetitions to free memory.
    """

    def __init__(self, teacher):
        self.teacher = teacher

    def fit(self, X, labels):
        X, labels = np.ascontiguousarray(X), np.ascontiguousarray(labels)
        key = hashlib.sha1(X.tobytes() + labels.tobytes()
                           + repr(sorted(self.teacher.get_params().items())).encode()).hexdigest()
        if key not in _FITS:
            _FITS[key] = clone(self.teacher).fit(X, labels)
        self.fitted_ = _FITS[key]
        self.classes_ = self.fitted_.classes_
        return self

    def predict_proba(self, X):
        return self.fitted_.predict_proba(X)


def clear_fits():
    _FITS.clear()


def load_data(data: str, openml: str | None, max_rows: int | None, seed: int):
    """(X, y, name): features, 0/1 labels and a short data-set name.

    ``data`` names a bundled data set: ``"breast_cancer"`` (scikit-learn; 569 rows, 30
    features, malignant vs benign) or ``"fair"`` (statsmodels; 6366 rows, 8 features, outcome
    ``affairs > 0``). ``openml``, when given, replaces it by an OpenML data set fetched by name
    (its first two target classes; rows of other classes are dropped).
    """
    if openml is not None:
        from sklearn.datasets import fetch_openml

        bunch = fetch_openml(name=openml, as_frame=False, parser="auto")
        X = np.asarray(bunch.data, dtype=np.float64)
        classes, y = np.unique(np.asarray(bunch.target).astype(str), return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"OpenML data set {openml!r} has fewer than 2 classes")
        X, y = X[y < 2], y[y < 2]
        name = "openml_" + "".join(c if c.isalnum() else "_" for c in openml)
    elif data == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        name = data
    elif data == "fair":
        from statsmodels.datasets import fair

        frame = fair.load_pandas().data
        X = frame.drop(columns="affairs").to_numpy(dtype=np.float64)
        y = (frame["affairs"] > 0).to_numpy()
        name = data
    else:
        raise ValueError(f"data must be 'breast_cancer' or 'fair', got {data!r}")
    if max_rows is not None and X.shape[0] > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=seed)
        name += f"_{max_rows}rows"
    return X, y.astype(np.int64), name


def run_repetition(X, y, rep, *, seed, teacher_trees, student_sizes, n_folds, alpha_grid):
    """Test AUC of the teacher and of every (method, student size) on one train/test split.

    Returns a list of dicts with keys ``method``, ``n_trees``, ``auc``, ``alpha``.
    """
    clear_fits()
    split_seed, teacher_seed, fold_seed, student_seed = (
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed, spawn_key=(rep,))
        .spawn(4))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=split_seed)
    teacher = RandomForestClassifier(n_estimators=teacher_trees, random_state=teacher_seed)
    p_vanilla, fitted = fit_teacher_proba(teacher, X_tr, y_tr, X_tr, 2)
    folds = make_folds(X_tr.shape[0], n_folds, random_state=fold_seed)
    p_cross = crossfit_predict(teacher, X_tr, y_tr, folds, n_classes=2)
    rows = [{"method": "teacher", "n_trees": teacher_trees, "alpha": float("nan"),
             "auc": roc_auc_score(y_te, fitted.predict_proba(X_te)[:, 1])}]
    for m in student_sizes:
        forest = RandomForestRegressor(n_estimators=m, random_state=student_seed)
        student = RegressorStudent(forest)
        common = {"n_classes": 2}
        kd = {
            "vanilla": (VanillaKD(teacher, student, alpha=0.0, **common), p_vanilla, None),
            "crossfit": (CrossFitKD(teacher, student, n_folds=n_folds, alpha=0.0, **common),
                         p_cross, folds),
            "enhanced": (EnhancedKD(ReusedFitTeacher(teacher), student, n_folds=n_folds,
                                    alpha="tune", alpha_grid=alpha_grid,
                                    random_state=student_seed, **common), p_cross, folds),
        }
        hard = clone(forest).fit(X_tr, y_tr).predict(X_te)
        rows.append({"method": "hard_labels", "n_trees": m, "alpha": float("nan"),
                     "auc": roc_auc_score(y_te, hard)})
        for method, (estimator, proba, method_folds) in kd.items():
            estimator.fit(X_tr, y_tr, teacher_proba=proba, folds=method_folds)
            f = estimator.predict(X_te)
            rows.append({"method": method, "n_trees": m, "alpha": float(np.mean(estimator.alpha_)),
                         "auc": roc_auc_score(y_te, f[:, 1] - f[:, 0])})
    clear_fits()
    return rows


def summarize_auc(runs) -> list[dict]:
    """Mean, standard deviation and standard error of the test AUC per (method, n_trees)."""
    table = []
    for method in ("teacher",) + METHODS:
        for m in sorted({r["n_trees"] for r in runs if r["method"] == method}):
            auc = np.array([r["auc"] for r in runs if r["method"] == method and r["n_trees"] == m])
            alpha = [r["alpha"] for r in runs if r["method"] == method and r["n_trees"] == m]
            sd = float(auc.std(ddof=1)) if auc.size > 1 else float("nan")
            table.append({"method": method, "n_trees": m, "auc_mean": float(auc.mean()),
                          "auc_sd": sd, "auc_se": sd / np.sqrt(auc.size),
                          "alpha_mean": float(np.mean(alpha)), "repetitions": int(auc.size)})
    return table


def plot_auc(table, title):
    """Mean test AUC (band: +- 1 SD over repetitions) against student trees; returns the Figure."""
    import matplotlib.pyplot as plt

    from kdtheory.plotting import COLORS

    colors = {**COLORS, "hard_labels": "#000000"}
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        rows = [r for r in table if r["method"] == method]
        m = np.array([r["n_trees"] for r in rows])
        mean = np.array([r["auc_mean"] for r in rows])
        sd = np.array([r["auc_sd"] for r in rows])
        ax.plot(m, mean, "o-", color=colors[method], label=method)
        ax.fill_between(m, mean - sd, mean + sd, color=colors[method], alpha=0.12)
    teacher = next(r for r in table if r["method"] == "teacher")
    ax.axhline(teacher["auc_mean"], color="#8c564b", ls="--",
               label=f"teacher ({teacher['n_trees']} trees)")
    ax.set_xscale("log")
    ax.set_xlabel("trees in the student forest")
    ax.set_ylabel("test AUC (band: ±1 SD over repetitions)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def format_table(table) -> str:
    lines = ["| method | trees | test AUC mean | SD | mean tuned alpha |", "|---|---|---|---|---|"]
    for r in table:
        alpha = "" if np.isnan(r["alpha_mean"]) else f"{r['alpha_mean']:.3g}"
        lines.append(f"| {r['method']} | {r['n_trees']} | {r['auc_mean']:.4f} | "
                     f"{r['auc_sd']:.4f} | {alpha} |")
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="20-tree teacher, students of 1 and 4 trees, 2 repetitions, alpha in "
                        "{0, inf}")
    p.add_argument("--data", choices=("breast_cancer", "fair"), default="breast_cancer",
                   help="bundled data set (offline)")
    p.add_argument("--openml", metavar="NAME", default=None,
                   help="OpenML data set name (needs the network), e.g. MagicTelescope")
    p.add_argument("--max-rows", type=int, default=None, help="stratified subsample size")
    p.add_argument("--repetitions", type=int, default=None, help="default 10 (quick: 2)")
    p.add_argument("--teacher-trees", type=int, default=None, help="default 500 (quick: 20)")
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1,
                   help="repetitions run in parallel")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    reps = args.repetitions or (2 if args.quick else 10)
    teacher_trees = args.teacher_trees or (20 if args.quick else 500)
    sizes = (1, 4) if args.quick else STUDENT_SIZES
    alpha_grid = (0.0, np.inf) if args.quick else DEFAULT_ALPHA_GRID
    try:
        X, y, name = load_data(args.data, args.openml, args.max_rows, args.seed)
    except OSError as exc:  # URLError and socket errors are OSErrors
        print(f"tabular.py: cannot fetch OpenML data set {args.openml!r} (offline?): {exc}",
              file=sys.stderr)
        return 2
    from joblib import Parallel, delayed

    per_rep = Parallel(n_jobs=args.n_jobs)(
        delayed(run_repetition)(X, y, r, seed=args.seed, teacher_trees=teacher_trees,
                                student_sizes=sizes, n_folds=args.n_folds,
                                alpha_grid=alpha_grid)
        for r in range(reps))
    table = summarize_auc([row for rows in per_rep for row in rows])

    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"tabular_{name}.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    title = (f"{name} ({X.shape[0]} rows, {X.shape[1]} features): {reps} repetitions, "
             f"70/30 splits, seed {args.seed}")
    plot_auc(table, title).savefig(os.path.join(args.out, f"tabular_{name}.png"), dpi=90)
    print(format_table(table))
    print(f"tabular: written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
