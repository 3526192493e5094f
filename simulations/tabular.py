r"""The paper's tabular experiment: a 500-tree random forest distilled into small forests.

Data (offline, shipped and checksummed by :mod:`kdtheory.datasets`): ``--data magic`` (MAGIC
gamma telescope, 19,020 x 10), ``adult`` (UCI Adult, 48,842 x 14, as OpenML "Adult" v2: nominal
columns as ordinal codes, missing values mean-imputed by ``SimpleImputer`` on the whole table,
label ``>50K``) or ``breast_cancer`` (scikit-learn, 569 x 30); ``--openml NAME`` fetches any
OpenML data set instead (online only; first two target classes).

Methods (students are ``RandomForestRegressor``; the score for AUC is the student's output):

* ``no_kd``: regress the 0/1 labels.
* ``vanilla``: regress :math:`\log\max(\hat p(x_i), 1/500)` from one teacher fit on all the
  training rows (the authors' vanilla KD). ``vanilla_p``: the same teacher, p-scale target
  :math:`\hat p(x_i)` (fair protocol only).
* ``crossfit``: regress the out-of-fold :math:`\hat p^{(t)}(x_i)`
  (:func:`kdtheory.crossfit.crossfit_predict`).
* ``enhanced``: regress :math:`\hat p + \gamma (y - \hat p)` with
  :math:`\gamma = c / (c + (y - \hat p)^2)` on the cross-fit :math:`\hat p`; ``c`` chosen per
  student size by cross-validated AUC.

Protocols (``--protocol``):

* ``authors``, the authors' code as we read it: ``train_test_split(test_size=0.3,
  random_state=2357)``; StandardScaler fit on the training part; a 500-tree
  ``RandomForestClassifier`` teacher (``random_state=2357``); cross-fitting with
  ``KFold(10, shuffle=True, random_state=2357)``; students of 1, 2, 3, 5, 10, 15, 20, 30, 40
  trees; ``c`` in {1e-5, ..., 1e3} by ``GridSearchCV(cv=5)`` (unshuffled 5-fold, scored by the
  AUC of the validation fold's labels), once per size; 5 repeats of the student fits
  (``random_state`` = repeat), one split, one teacher. ``std`` and ``se`` are over repeats.
* ``fair``: every random component drawn from ``SeedSequence(--seed)``; ``--splits`` (10)
  stratified 70/30 splits, each with its own teacher, folds and student seed (shared by every
  method of the split); the training part subsampled to ``--fair-train-rows`` (default 2000,
  stratified, to fit the time budget; the test part is whole); 5-fold cross-fitting; students
  of 1, 3, 10, 40 trees. The same tuning budget for every method: 3 candidates validated by the
  same shuffled 3-fold CV (AUC): ``c`` in {1e-4, 1e-1, 1e2} for ``enhanced``,
  ``min_samples_leaf`` in {1, 5, 25} for the others. ``std``/``se`` are over splits; paired
  differences per split go to ``tabular_<data>_fair_diffs.csv`` (mean, se, 95% t-interval).

Outputs (``--out``, default simulations/results/): ``tabular_<data>.csv`` (columns
:data:`COLUMNS`; a rerun of one protocol replaces only that protocol's rows),
``tabular_<data>.json`` (metadata per protocol: seed, versions, command line, UTC time, git
commit, the chosen hyperparameters, run time), ``tabular_<data>.png``. Progress on stderr.

Commands (2 shared cores, ``nice -n 10``; measured times in docs/README_tabular_augmentation.md)::

    python simulations/tabular.py --data magic --protocol authors
    python simulations/tabular.py --data adult --protocol authors
    python simulations/tabular.py --data magic --protocol fair
    python simulations/tabular.py --data adult --protocol fair
    python simulations/tabular.py --quick --data breast_cancer --out /tmp/tab     # seconds
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import sys
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.preprocessing import StandardScaler

from kdtheory.crossfit import crossfit_predict
from kdtheory.montecarlo import git_revision
from kdtheory.ratefit import describe

COLUMNS = ("dataset", "protocol", "method", "n_trees", "metric", "mean", "std", "se",
           "n_repeats")
DIFF_COLUMNS = ("dataset", "protocol", "comparison", "n_trees", "mean_diff", "se", "ci_low",
                "ci_high", "n_splits")
METHODS = ("teacher", "no_kd", "vanilla", "vanilla_p", "crossfit", "enhanced")
AUTHORS_SIZES = (1, 2, 3, 5, 10, 15, 20, 30, 40)
FAIR_SIZES = (1, 3, 10, 40)
C_GRID = tuple(10.0 ** k for k in range(-5, 4))
FAIR_C_GRID = (1e-4, 1e-1, 1e2)
FAIR_LEAF_GRID = (1, 5, 25)
AUTHORS_SEED = 2357
LOG_FLOOR = 1 / 500
COMPARISONS = (("crossfit", "no_kd"), ("enhanced", "no_kd"), ("vanilla", "no_kd"),
               ("vanilla_p", "no_kd"), ("enhanced", "crossfit"), ("crossfit", "vanilla_p"),
               ("vanilla_p", "vanilla"))
#: The authors' committed MAGIC results (AUC, mean over 5 repeats); teacher 0.9369.
PAPER_MAGIC = {1: {"no_kd": 0.7874, "vanilla": 0.8940, "crossfit": 0.9084, "enhanced": 0.9075},
               10: {"no_kd": 0.9139, "vanilla": 0.9202, "crossfit": 0.9217, "enhanced": 0.9222},
               40: {"no_kd": 0.9279, "vanilla": 0.9240, "crossfit": 0.9236, "enhanced": 0.9239}}
PAPER_MAGIC_TEACHER = 0.9369
_T0 = time.time()


def log(message):
    print(f"[tabular {time.time() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


class PackedTargetForest(RegressorMixin, BaseEstimator):
    r"""A random-forest student whose ``fit``/``score`` take ``Z = [y, p_hat]`` (n, 2).

    The regression target is built from the labels and the teacher output inside ``fit``, so
    that ``GridSearchCV`` can tune ``c`` (or any forest parameter) with the target recomputed
    on each training fold: ``kind`` is ``"labels"`` (:math:`y`), ``"log"``
    (:math:`\log\max(\hat p, 1/500)`), ``"p"`` (:math:`\hat p`) or ``"enhanced"``
    (:math:`\hat p + \gamma(y - \hat p)`, :math:`\gamma = c/(c + (y - \hat p)^2)`).
    ``score`` is the AUC of ``predict`` against the labels ``Z[:, 0]``.
    """

    def __init__(self, kind="p", n_estimators=10, c=1.0, min_samples_leaf=1, random_state=None):
        self.kind = kind
        self.n_estimators = n_estimators
        self.c = c
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, X, Z):
        Z = np.asarray(Z, dtype=np.float64)
        self.forest_ = RandomForestRegressor(
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state).fit(X, student_target(self.kind, Z, self.c))
        return self

    def predict(self, X):
        return self.forest_.predict(X)

    def score(self, X, Z):
        return roc_auc_score(np.asarray(Z)[:, 0], self.predict(X))


def student_target(kind, Z, c=1.0):
    y, p = Z[:, 0], Z[:, 1]
    if kind == "labels":
        return y
    if kind == "log":
        return np.log(np.maximum(p, LOG_FLOOR))
    if kind == "p":
        return p
    if kind == "enhanced":
        r = y - p
        return p + c / (c + r ** 2) * r
    raise ValueError(f"kind must be 'labels', 'log', 'p' or 'enhanced', got {kind!r}")


# (method, kind, which teacher output); the teacher output column is P(y = 1).
STUDENTS = {"no_kd": ("labels", "vanilla"), "vanilla": ("log", "vanilla"),
            "vanilla_p": ("p", "vanilla"), "crossfit": ("p", "crossfit"),
            "enhanced": ("enhanced", "crossfit")}


def load_data(data, openml=None):
    """(X, y, name) for a shipped data set, scikit-learn's breast cancer, or an OpenML name."""
    from sklearn.impute import SimpleImputer

    if openml is not None:
        from kdtheory.datasets import fetch_openml

        bunch = fetch_openml(openml)
        X = np.asarray(bunch.data, dtype=np.float64)
        classes, y = np.unique(np.asarray(bunch.target).astype(str), return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"OpenML data set {openml!r} has fewer than 2 classes")
        X, y = X[y < 2], y[y < 2]
        name = "openml_" + "".join(ch if ch.isalnum() else "_" for ch in openml)
    elif data == "magic":
        from kdtheory.datasets import load_magic

        X, y = load_magic()
        name = data
    elif data == "adult":
        from kdtheory.datasets import load_adult

        X, y = load_adult()
        name = data
    elif data == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        name = data
    else:
        raise ValueError(f"data must be 'magic', 'adult' or 'breast_cancer', got {data!r}")
    if np.isnan(X).any():  # as the authors read Adult: mean imputation on the whole table
        X = SimpleImputer(strategy="mean").fit_transform(X)
    return X, np.asarray(y, dtype=np.int64), name


def fold_ids(n, kfold):
    folds = np.empty(n, dtype=np.int64)
    for t, (_, held) in enumerate(kfold.split(np.zeros((n, 1)))):
        folds[held] = t
    return folds


def teacher_outputs(X_tr, y_tr, X_te, *, trees, teacher_seed, kfold, n_jobs):
    """P(y=1) of the full-data teacher (train, test) and of the cross-fit teachers (train)."""
    teacher = RandomForestClassifier(n_estimators=trees, random_state=teacher_seed,
                                     n_jobs=n_jobs)
    full = teacher.fit(X_tr, y_tr)
    p_full, p_test = full.predict_proba(X_tr)[:, 1], full.predict_proba(X_te)[:, 1]
    folds = fold_ids(X_tr.shape[0], kfold)
    p_cross = crossfit_predict(teacher, X_tr, y_tr, folds, n_classes=2)[0, :, 1]
    return {"vanilla": p_full, "crossfit": p_cross, "test": p_test}


def tune(method, size, X, y, p, grid_name, grid, cv, seed, n_jobs, extra=None):
    kind, _ = STUDENTS[method]
    search = GridSearchCV(PackedTargetForest(kind, size, random_state=seed, **(extra or {})),
                          {grid_name: list(grid)}, cv=cv, n_jobs=n_jobs)
    search.fit(X, np.column_stack([y, p]))
    return search.best_params_[grid_name]


def fit_auc(method, size, X_tr, y_tr, p, X_te, y_te, seed, params):
    kind, _ = STUDENTS[method]
    student = PackedTargetForest(kind, size, random_state=seed, **params)
    student.fit(X_tr, np.column_stack([y_tr, p]))
    return roc_auc_score(y_te, student.predict(X_te))


def summarize(values):
    stats = describe(values)
    return {"mean": stats["mean"], "std": stats["std"], "se": stats["se"],
            "n_repeats": stats["n"]}


def run_authors(X, y, name, *, sizes, repeats, teacher_trees, n_folds, c_grid, n_jobs):
    from joblib import Parallel, delayed

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=AUTHORS_SEED)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    log(f"{name}/authors: {X_tr.shape[0]} train, {X_te.shape[0]} test rows; teacher "
        f"{teacher_trees} trees + {n_folds} cross-fit teachers")
    p = teacher_outputs(X_tr, y_tr, X_te, trees=teacher_trees, teacher_seed=AUTHORS_SEED,
                        kfold=KFold(n_folds, shuffle=True, random_state=AUTHORS_SEED),
                        n_jobs=n_jobs)
    rows = [{"method": "teacher", "n_trees": teacher_trees,
             **summarize([roc_auc_score(y_te, p["test"])])}]
    log(f"{name}/authors: teacher test AUC {rows[0]['mean']:.4f}; tuning c per size")
    chosen = {}
    for m in sizes:
        chosen[m] = tune("enhanced", m, X_tr, y_tr, p["crossfit"], "c", c_grid, 5, 0, n_jobs)
        log(f"{name}/authors: {m} trees: c = {chosen[m]:g}")
    tasks = [(method, m, r) for m in sizes for method in ("no_kd", "vanilla", "crossfit",
                                                           "enhanced") for r in range(repeats)]
    aucs = Parallel(n_jobs=n_jobs)(
        delayed(fit_auc)(method, m, X_tr, y_tr, p[STUDENTS[method][1]], X_te, y_te, r,
                         {"c": chosen[m]} if method == "enhanced" else {})
        for method, m, r in tasks)
    for method in ("no_kd", "vanilla", "crossfit", "enhanced"):
        for m in sizes:
            values = [a for (mm, s, _), a in zip(tasks, aucs, strict=True)
                      if mm == method and s == m]
            rows.append({"method": method, "n_trees": m, **summarize(values)})
    log(f"{name}/authors: students done")
    return rows, [], {"c_chosen": {str(m): c for m, c in chosen.items()}}


def run_fair_split(X, y, split, *, seed, sizes, teacher_trees, n_folds, train_rows, n_jobs):
    split_seed, teacher_seed, fold_seed, student_seed, cv_seed, sub_seed = (
        int(s.generate_state(1)[0])
        for s in np.random.SeedSequence(seed, spawn_key=(split,)).spawn(6))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=split_seed)
    if train_rows is not None and train_rows < X_tr.shape[0]:
        X_tr, _, y_tr, _ = train_test_split(X_tr, y_tr, train_size=train_rows, stratify=y_tr,
                                            random_state=sub_seed)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    p = teacher_outputs(X_tr, y_tr, X_te, trees=teacher_trees, teacher_seed=teacher_seed,
                        kfold=KFold(n_folds, shuffle=True, random_state=fold_seed),
                        n_jobs=n_jobs)
    out = {("teacher", teacher_trees): roc_auc_score(y_te, p["test"])}
    chosen = {}
    cv = KFold(3, shuffle=True, random_state=cv_seed)
    for m in sizes:
        for method, (_, source) in STUDENTS.items():
            grid_name, grid = ("c", FAIR_C_GRID) if method == "enhanced" else \
                ("min_samples_leaf", FAIR_LEAF_GRID)
            best = tune(method, m, X_tr, y_tr, p[source], grid_name, grid, cv, student_seed,
                        n_jobs)
            chosen[f"{method}/{m}"] = best
            out[(method, m)] = fit_auc(method, m, X_tr, y_tr, p[source], X_te, y_te,
                                       student_seed, {grid_name: best})
    return out, chosen


def run_fair(X, y, name, *, seed, splits, sizes, teacher_trees, n_folds, train_rows, n_jobs):
    per_split, chosen = [], []
    for s in range(splits):
        t = time.time()
        aucs, best = run_fair_split(X, y, s, seed=seed, sizes=sizes,
                                    teacher_trees=teacher_trees, n_folds=n_folds,
                                    train_rows=train_rows, n_jobs=n_jobs)
        per_split.append(aucs)
        chosen.append(best)
        log(f"{name}/fair: split {s + 1}/{splits} in {time.time() - t:.0f}s; teacher AUC "
            f"{aucs[('teacher', teacher_trees)]:.4f}, enhanced@{sizes[0]} "
            f"{aucs[('enhanced', sizes[0])]:.4f}")
    rows = [{"method": method, "n_trees": m, **summarize([a[(method, m)] for a in per_split])}
            for method, m in per_split[0]]
    order = {m: i for i, m in enumerate(METHODS)}
    rows.sort(key=lambda r: (order[r["method"]], r["n_trees"]))
    diffs = []
    from scipy import stats

    for a, b in COMPARISONS:
        for m in sizes:
            d = describe([s[(a, m)] - s[(b, m)] for s in per_split])
            half = float(stats.t.ppf(0.975, d["n"] - 1)) * d["se"] if d["n"] > 1 else math.nan
            diffs.append({"comparison": f"{a} - {b}", "n_trees": m,
                          "mean_diff": d["mean"], "se": d["se"],
                          "ci_low": d["mean"] - half, "ci_high": d["mean"] + half,
                          "n_splits": d["n"]})
    return rows, diffs, {"chosen_per_split": chosen}


def metadata(args, argv, extra, seconds):
    import sklearn

    return {"seed": AUTHORS_SEED if args.protocol == "authors" else args.seed,
            "command": " ".join([os.path.basename(__file__), *argv]),
            "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_revision().get("git_commit"), "seconds": round(seconds, 1),
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "scikit-learn": sklearn.__version__}, **extra}


def write_rows(path, columns, rows, protocol):
    """Replace this protocol's rows of ``path`` (keeping the other protocol's)."""
    kept = []
    if os.path.exists(path):
        with open(path, newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if r["protocol"] != protocol]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept + rows)


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def plot(path_csv, name, title):
    """One panel per protocol in the CSV: AUC (band: +- 1 SE) against student trees."""
    import matplotlib.pyplot as plt

    rows = read_rows(path_csv)
    protocols = [p for p in ("authors", "fair") if any(r["protocol"] == p for r in rows)]
    colors = {"no_kd": "#000000", "vanilla": "#d62728", "vanilla_p": "#ff9896",
              "crossfit": "#1f77b4", "enhanced": "#2ca02c"}
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.5 * len(protocols), 4),
                             squeeze=False)
    for ax, protocol in zip(axes[0], protocols, strict=True):
        sub = [r for r in rows if r["protocol"] == protocol]
        for method, color in colors.items():
            rr = sorted((r for r in sub if r["method"] == method), key=lambda r: int(r["n_trees"]))
            if not rr:
                continue
            m = np.array([int(r["n_trees"]) for r in rr])
            mean = np.array([float(r["mean"]) for r in rr])
            se = np.array([float(r["se"]) for r in rr])
            ax.plot(m, mean, "o-", color=color, label=method, ms=4)
            ax.fill_between(m, mean - se, mean + se, color=color, alpha=0.15)
            if protocol == "authors" and name == "magic" and method in PAPER_MAGIC[1]:
                sizes = sorted(PAPER_MAGIC)
                ax.plot(sizes, [PAPER_MAGIC[k][method] for k in sizes], "x", color=color,
                        ms=8, mew=1.5)
        teacher = next(r for r in sub if r["method"] == "teacher")
        ax.axhline(float(teacher["mean"]), color="#8c564b", ls="--",
                   label=f"teacher ({teacher['n_trees']} trees)")
        top = float(teacher["mean"])
        if protocol == "authors" and name == "magic":
            ax.axhline(PAPER_MAGIC_TEACHER, color="#8c564b", ls=":", label="paper (x, dotted)")
            top = max(top, PAPER_MAGIC_TEACHER)
        ax.set_ylim(top=top + 0.01 * (top - ax.get_ylim()[0]) + 0.002)
        ax.set_xscale("log")
        ax.set_xlabel("trees in the student forest")
        ax.set_ylabel("test AUC (band: ±1 SE)")
        ax.set_title(f"{title}: {protocol} protocol", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def format_table(rows) -> str:
    lines = ["| method | trees | AUC mean | SE | repeats |", "|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['n_trees']} | {float(r['mean']):.4f} | "
              f"{float(r['se']):.4f} | {r['n_repeats']} |" for r in rows]
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("magic", "adult", "breast_cancer"), default="magic")
    p.add_argument("--openml", metavar="NAME", default=None,
                   help="OpenML data set name (needs the network), e.g. MagicTelescope")
    p.add_argument("--protocol", choices=("authors", "fair"), default="authors")
    p.add_argument("--quick", action="store_true",
                   help="20-tree teacher, 3 folds, students of 1 and 3 trees, 2 repeats/splits, "
                        "a 3-value c grid, at most 1500 rows")
    p.add_argument("--splits", type=int, default=10, help="fair protocol: random splits")
    p.add_argument("--fair-train-rows", type=int, default=2000,
                   help="fair protocol: stratified training subsample (0: all)")
    p.add_argument("--seed", type=int, default=0, help="fair protocol's root seed")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--n-jobs", type=int, default=2)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    start = time.time()
    try:
        X, y, name = load_data(args.data, args.openml)
    except ConnectionError as exc:
        print(f"tabular.py: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    if args.quick and X.shape[0] > 1500:
        X, _, y, _ = train_test_split(X, y, train_size=1500, stratify=y, random_state=0)
    trees = 20 if args.quick else 500
    if args.protocol == "authors":
        rows, diffs, extra = run_authors(
            X, y, name, sizes=(1, 3) if args.quick else AUTHORS_SIZES,
            repeats=2 if args.quick else 5, teacher_trees=trees, n_folds=3 if args.quick else 10,
            c_grid=(1e-3, 1.0, 1e3) if args.quick else C_GRID, n_jobs=args.n_jobs)
    else:
        rows, diffs, extra = run_fair(
            X, y, name, seed=args.seed, splits=2 if args.quick else args.splits,
            sizes=(1, 3) if args.quick else FAIR_SIZES, teacher_trees=trees,
            n_folds=3 if args.quick else 5, train_rows=args.fair_train_rows or None,
            n_jobs=args.n_jobs)
    for r in rows:
        r.update(dataset=name, protocol=args.protocol, metric="auc")
    for d in diffs:
        d.update(dataset=name, protocol=args.protocol)

    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"tabular_{name}.csv")
    write_rows(path, COLUMNS, rows, args.protocol)
    if diffs:
        write_rows(os.path.join(args.out, f"tabular_{name}_fair_diffs.csv"), DIFF_COLUMNS, diffs,
                   args.protocol)
    meta_path = os.path.join(args.out, f"tabular_{name}.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
    meta[args.protocol] = metadata(args, argv, {"quick": args.quick, "rows": X.shape[0],
                                                "features": X.shape[1], **extra},
                                   time.time() - start)
    with open(meta_path, "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    title = f"{name} ({X.shape[0]} rows, {X.shape[1]} features)"
    plot(path, name, title).savefig(os.path.join(args.out, f"tabular_{name}.png"), dpi=90)
    print(format_table(rows))
    log(f"{name}/{args.protocol}: written to {args.out} in {time.time() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
