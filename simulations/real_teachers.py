r"""Distillation from real teachers (issue 13): is the enhanced default safe?

For each case (a scikit-learn teacher on a dataset) and each of ``--seeds`` stratified 70/30
train/test splits, the features are standardised on the training part, the cross-fit teacher
outputs (5 folds) are computed once and shared by every distiller (``teacher_proba``/``folds``),
and a linear SEL student (:class:`kdtheory.students.LinearStudent`) is distilled by

* ``crossfit``: :class:`kdtheory.distill.CrossFitKD` (alpha = 0);
* ``enhanced_inf``: :class:`kdtheory.distill.EnhancedKD` with the theory's alpha = inf (the old
  default);
* ``enhanced``: EnhancedKD's default, ``alpha="cv"`` (:func:`kdtheory.distill.select_alpha_cv`);
* ``targeted``: :class:`kdtheory.distill.TargetedKD` (NaN with the reason when the update is not
  identified, e.g. features that the rows of a class do not span);

beside the teacher itself (fit on the whole training part). Test accuracy, AUC (one-vs-rest
macro for k > 2) and log-loss go to ``simulations/results/real_teachers.csv``, one row per
(case, seed, method), with the fraction of rows whose teacher output sits at the clip and the
chosen alpha. ``--table`` prints the markdown table of the means over seeds, with the paired
accuracy difference enhanced - crossfit and its standard error (per test point, pooled over
seeds).

Usage::

    python simulations/real_teachers.py            # all cases, 3 seeds (about 5 min, 2 cores)
    python simulations/real_teachers.py --table    # the table from the saved CSV
"""

from __future__ import annotations

import argparse
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from kdtheory.distill import ClipWarning, CrossFitKD, EnhancedKD, TargetedKD
from kdtheory.students import LinearStudent

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "real_teachers.csv"
METHODS = ("teacher", "crossfit", "enhanced_inf", "enhanced", "targeted")


def _magic(n=5000, seed=0):
    from kdtheory.datasets import load_magic

    X, y = load_magic()
    rows = np.random.default_rng(seed).choice(len(y), size=n, replace=False)
    return X[rows], y[rows]


DATA = {
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "magic5000": _magic,
}
TEACHERS = {
    "GB": lambda s: GradientBoostingClassifier(random_state=s),
    "RF": lambda s: RandomForestClassifier(n_estimators=200, random_state=s),
    "KNN": lambda s: KNeighborsClassifier(n_neighbors=5),
    "MLP": lambda s: MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000, random_state=s),
    "SVC": lambda s: SVC(probability=True, random_state=s),
}
CASES = (("GB", "breast_cancer"), ("KNN", "wine"), ("MLP", "digits"), ("RF", "breast_cancer"),
         ("SVC", "wine"), ("RF", "digits"), ("KNN", "digits"), ("SVC", "breast_cancer"),
         ("GB", "magic5000"))


def _metrics(y, proba, k):
    auc = (roc_auc_score(y, proba[:, 1]) if k == 2
           else roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(k)))
    return {"accuracy": float(np.mean(np.argmax(proba, axis=1) == y)), "auc": float(auc),
            "log_loss": float(log_loss(y, np.clip(proba, 1e-15, 1), labels=np.arange(k)))}


def run_case(teacher_name, data_name, seed):
    X, y = DATA[data_name]()
    k = int(np.max(y)) + 1
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    make = TEACHERS[teacher_name]
    rows = []

    def record(method, proba, seconds, **extra):
        correct = (np.argmax(proba, axis=1) == y_te).astype(int) if proba is not None else None
        rows.append({"case": f"{teacher_name}/{data_name}", "seed": seed, "method": method,
                     **(_metrics(y_te, proba, k) if proba is not None else
                        {"accuracy": np.nan, "auc": np.nan, "log_loss": np.nan}),
                     "seconds": seconds, "correct": "" if correct is None else
                     "".join(map(str, correct)), **extra})

    tic = time.perf_counter()
    record("teacher", make(seed).fit(X_tr, y_tr).predict_proba(X_te), time.perf_counter() - tic)
    tic = time.perf_counter()
    cf = CrossFitKD(make(seed), LinearStudent(), random_state=seed).fit(X_tr, y_tr)
    t_cross = time.perf_counter() - tic
    at_clip = float(np.mean(np.any(cf.teacher_proba_[0] <= cf.clip, axis=1)))
    record("crossfit", cf.predict_proba(X_te), t_cross, alpha=0.0, at_clip=at_clip)
    shared = {"teacher_proba": cf.teacher_proba_, "folds": cf.folds_}
    for method, est in (("enhanced_inf", EnhancedKD(make(seed), LinearStudent(), alpha=np.inf)),
                        ("enhanced", EnhancedKD(make(seed), LinearStudent(), random_state=seed)),
                        ("targeted", TargetedKD(make(seed), LinearStudent()))):
        tic = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClipWarning)
                est.fit(X_tr, y_tr, **shared)
            proba, note = est.predict_proba(X_te), ""
        except ValueError as exc:
            proba, note = None, str(exc).split(";")[0]
        record(method, proba, t_cross + time.perf_counter() - tic,
               alpha=float(np.mean(est.alpha_)) if proba is not None else np.nan,
               at_clip=at_clip, note=note)
    return rows


def table(frame):
    """Markdown: mean accuracy / AUC / log-loss over seeds per case and method, and the paired
    accuracy difference enhanced - crossfit with its standard error."""
    lines = ["| case | at clip | " + " | ".join(METHODS) + " | enhanced - crossfit (acc) |",
             "| --- | --- |" + " --- |" * (len(METHODS) + 1)]
    for case, group in frame.groupby("case", sort=False):
        cells = []
        for method in METHODS:
            g = group[group["method"] == method]
            if g["accuracy"].isna().all():
                cells.append("n/a")
                continue
            alpha = ""
            if method == "enhanced":
                alpha = f" (alpha {', '.join(f'{a:g}' for a in g['alpha'])})"
            cells.append(f"{g['accuracy'].mean():.3f} / {g['auc'].mean():.3f} / "
                         f"{g['log_loss'].mean():.3f}{alpha}")
        enh = "".join(group[group["method"] == "enhanced"]["correct"])
        cross = "".join(group[group["method"] == "crossfit"]["correct"])
        diff = np.array(list(enh), int) - np.array(list(cross), int)
        se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.any() else 0.0
        at_clip = group[group["method"] == "crossfit"]["at_clip"].mean()
        lines.append(f"| {case} | {at_clip:.0%} | " + " | ".join(cells)
                     + f" | {diff.mean():+.3f} ± {se:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--table", action="store_true", help="print the table of the saved CSV")
    args = parser.parse_args(argv)
    if not args.table:
        rows, tic = [], time.perf_counter()
        for teacher_name, data_name in CASES:
            for seed in range(args.seeds):
                rows += run_case(teacher_name, data_name, seed)
            print(f"{teacher_name}/{data_name} done at {time.perf_counter() - tic:.0f} s",
                  flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        pd.DataFrame(rows).to_csv(RESULTS, index=False)
    frame = pd.read_csv(RESULTS, dtype={"correct": str}, keep_default_na=False,
                        na_values={"accuracy": ["nan", ""], "auc": ["nan", ""],
                                   "log_loss": ["nan", ""], "alpha": ["nan", ""],
                                   "at_clip": ["nan", ""]})
    print(table(frame))


if __name__ == "__main__":
    main()
