r"""Augmentation for distillation on MAGIC: MUNGE points labelled by the teacher (issue 14).

Per seed s (``SeedSequence(--seed, spawn_key=(s,))``): a stratified 70/30 split of MAGIC; from
the training part, ``n`` labelled rows (``--n``, default 1000, stratified) and a disjoint pool
of unlabelled real rows; a 500-tree ``RandomForestClassifier`` teacher fit on the n rows, and
5-fold cross-fit teachers (:func:`kdtheory.crossfit.crossfit_predict`) for the real rows'
targets. Students are ``RandomForestRegressor`` of 1, 3, 10 and 40 trees, one forest seed per
seed shared by every arm; the score for AUC on the (whole) test part is the student's output.

* ``m_sweep``: m = 0, n, 5n, 10n MUNGE points (``p=0.5, s=1``; :func:`kdtheory.augment.munge`)
  added to the n real rows. ``kd``: the student regresses :math:`\hat p` (cross-fit at the real
  rows, the full teacher at the synthetic ones: a noiseless target there). ``hard``: the same
  student on 0/1 labels, a synthetic point's label being the teacher's argmax. At m = 0 the two
  arms are cross-fit KD and the no-KD student.
* ``score``: per generator (munge, gaussian_noise, gaussian_mixture, kde, real), a student
  distilled only on 5n of its points labelled by the full teacher; its distillation score is
  :math:`(\mathrm{AUC}_g - 1/2)/(\mathrm{AUC}_{real} - 1/2)`, with ``real`` the same number of
  held-out real rows: the share of the real-input student's discrimination above chance that
  the generator's points transfer (a tabular version of the talk's TSC-score idea). Mean and
  Monte Carlo SE over seeds (the score is paired within a seed).

Outputs (``--out``): ``augmentation_magic.csv`` (columns :data:`COLUMNS`),
``augmentation_magic.json`` (metadata) and ``augmentation_magic.png``. Progress on stderr.

Commands (2 shared cores)::

    nice -n 10 python simulations/augmentation.py                      # n = 1000, 10 seeds
    python simulations/augmentation.py --quick --out /tmp/aug          # seconds
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, train_test_split

from kdtheory import augment
from kdtheory.crossfit import crossfit_predict
from kdtheory.montecarlo import git_revision
from kdtheory.ratefit import describe
from kdtheory.datasets import load_magic

COLUMNS = ("dataset", "study", "generator", "labels", "m", "n_trees", "metric", "mean", "std",
           "se", "n_seeds")
SIZES = (1, 3, 10, 40)
M_FACTORS = (0, 1, 5, 10)
SCORE_FACTOR = 5
GENERATORS = ("munge", "gaussian_noise", "gaussian_mixture", "kde", "real")
_T0 = time.time()


def log(message):
    print(f"[augmentation {time.time() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def student_auc(X, target, X_te, y_te, trees, seed):
    forest = RandomForestRegressor(n_estimators=trees, random_state=seed).fit(X, target)
    return roc_auc_score(y_te, forest.predict(X_te))


def run_seed(X, y, s, *, seed, n, sizes, m_factors, teacher_trees, n_folds):
    """AUCs of one seed: {(study, generator, labels, m, trees): auc}."""
    seeds = [int(q.generate_state(1)[0])
             for q in np.random.SeedSequence(seed, spawn_key=(s,)).spawn(6)]
    split_seed, sub_seed, teacher_seed, fold_seed, gen_seed, student_seed = seeds
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=split_seed)
    X_n, X_pool, y_n, _ = train_test_split(X_tr, y_tr, train_size=n, stratify=y_tr,
                                           random_state=sub_seed)
    teacher = RandomForestClassifier(n_estimators=teacher_trees, random_state=teacher_seed)
    full = teacher.fit(X_n, y_n)
    folds = np.empty(n, dtype=np.int64)
    for t, (_, held) in enumerate(KFold(n_folds, shuffle=True,
                                        random_state=fold_seed).split(X_n)):
        folds[held] = t
    p_real = crossfit_predict(teacher, X_n, y_n, folds, n_classes=2)[0, :, 1]
    out = {("teacher", "", "", 0, teacher_trees): roc_auc_score(y_te,
                                                                full.predict_proba(X_te)[:, 1])}
    rng = np.random.default_rng(gen_seed)
    synth = augment.munge(X_n, max(m_factors) * n, p=0.5, s=1.0, random_state=rng)
    p_synth = full.predict_proba(synth)[:, 1]
    for f in m_factors:
        m = f * n
        X_aug = np.vstack([X_n, synth[:m]])
        kd_target = np.concatenate([p_real, p_synth[:m]])
        hard_target = np.concatenate([y_n, (p_synth[:m] > 0.5).astype(np.float64)])
        for trees in sizes:
            out[("m_sweep", "munge", "kd", m, trees)] = student_auc(
                X_aug, kd_target, X_te, y_te, trees, student_seed)
            out[("m_sweep", "munge", "hard", m, trees)] = student_auc(
                X_aug, hard_target, X_te, y_te, trees, student_seed)
    m = SCORE_FACTOR * n
    for name in GENERATORS:
        if name == "real":
            points = augment.real_sample(X_pool, m, random_state=rng)
        else:
            points = augment.GENERATORS[name](X_n, m, random_state=rng)
        target = full.predict_proba(points)[:, 1]
        for trees in sizes:
            out[("score_auc", name, "kd", m, trees)] = student_auc(
                points, target, X_te, y_te, trees, student_seed)
    for name in GENERATORS:
        for trees in sizes:
            a, b = out[("score_auc", name, "kd", m, trees)], out[("score_auc", "real", "kd", m,
                                                                  trees)]
            out[("score", name, "kd", m, trees)] = (a - 0.5) / (b - 0.5)
    return out


def summarize(per_seed):
    rows = []
    for key in per_seed[0]:
        stats = describe([r[key] for r in per_seed])
        study, generator, labels, m, trees = key
        rows.append({"dataset": "magic", "study": study, "generator": generator,
                     "labels": labels, "m": m, "n_trees": trees,
                     "metric": "score" if study == "score" else "auc",
                     "mean": stats["mean"], "std": stats["std"], "se": stats["se"],
                     "n_seeds": stats["n"]})
    return rows


def plot(rows, n, title):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = sorted({r["n_trees"] for r in rows if r["study"] == "m_sweep"})
    colors = dict(zip(sizes, ("#d62728", "#ff7f0e", "#2ca02c", "#1f77b4"), strict=False))
    for trees in sizes:
        for labels, ls in (("kd", "-"), ("hard", "--")):
            rr = sorted((r for r in rows if r["study"] == "m_sweep" and r["n_trees"] == trees
                         and r["labels"] == labels), key=lambda r: r["m"])
            x = np.array([r["m"] / n for r in rr])
            mean, se = np.array([r["mean"] for r in rr]), np.array([r["se"] for r in rr])
            ax1.errorbar(x + 0.0, mean, se, fmt="o" + ls, color=colors[trees], ms=4, capsize=2,
                         label=f"{trees} trees, {'KD' if labels == 'kd' else 'hard labels'}")
    teacher = next(r for r in rows if r["study"] == "teacher")
    ax1.axhline(teacher["mean"], color="#8c564b", ls=":", label="teacher (500 trees)")
    ax1.set_xscale("symlog", linthresh=1)
    ax1.set_xticks([f for f in M_FACTORS])
    ax1.set_xticklabels(["0", "n", "5n", "10n"])
    ax1.set_xlabel(f"MUNGE points added to n = {n} real rows")
    ax1.set_ylabel("test AUC (±1 SE over seeds)")
    ax1.set_title(f"{title}: augmentation with and without KD", fontsize=9)
    ax1.legend(fontsize=6, ncol=2)
    ax1.grid(alpha=0.3)
    width = 0.8 / len(sizes)
    for k, trees in enumerate(sizes):
        rr = [next(r for r in rows if r["study"] == "score" and r["generator"] == g
                   and r["n_trees"] == trees) for g in GENERATORS]
        ax2.bar(np.arange(len(GENERATORS)) + (k - (len(sizes) - 1) / 2) * width,
                [r["mean"] for r in rr], width, yerr=[r["se"] for r in rr], capsize=2,
                color=colors[trees], label=f"{trees} trees")
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_xticks(np.arange(len(GENERATORS)))
    ax2.set_xticklabels(GENERATORS, fontsize=8)
    ax2.set_ylabel("distillation score (AUC-1/2 relative to real inputs)")
    ax2.set_title(f"student distilled on {SCORE_FACTOR}n synthetic points only", fontsize=9)
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="n = 200, 2 seeds, 20-tree teacher, students of 1 and 3 trees")
    p.add_argument("--n", type=int, default=1000, help="labelled real training rows")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2, help="seeds run in parallel")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    from joblib import Parallel, delayed

    start = time.time()
    X, y = load_magic()
    n = 200 if args.quick else args.n
    seeds = 2 if args.quick else args.seeds
    sizes = (1, 3) if args.quick else SIZES
    teacher_trees = 20 if args.quick else 500
    log(f"magic: n = {n}, m in {[f * n for f in M_FACTORS]}, {seeds} seeds, "
        f"students {sizes}")
    per_seed = Parallel(n_jobs=args.n_jobs, verbose=5)(
        delayed(run_seed)(X, y, s, seed=args.seed, n=n, sizes=sizes, m_factors=M_FACTORS,
                          teacher_trees=teacher_trees, n_folds=5)
        for s in range(seeds))
    rows = summarize(per_seed)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "augmentation_magic.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    import sklearn

    meta = {"seed": args.seed, "n": n, "seeds": seeds, "sizes": list(sizes),
            "teacher_trees": teacher_trees, "quick": args.quick,
            "munge": {"p": 0.5, "s": 1.0}, "command": " ".join(["augmentation.py", *argv]),
            "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_revision().get("git_commit"),
            "seconds": round(time.time() - start, 1),
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "scikit-learn": sklearn.__version__}}
    with open(os.path.join(args.out, "augmentation_magic.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    import matplotlib

    matplotlib.use("Agg")
    plot(rows, n, f"MAGIC, n = {n}, {seeds} seeds").savefig(
        os.path.join(args.out, "augmentation_magic.png"), dpi=90)
    for r in rows:
        print(f"{r['study']:9s} {r['generator']:16s} {r['labels']:4s} m={r['m']:6d} "
              f"trees={r['n_trees']:3d} {r['metric']} {r['mean']:.4f} ± {r['se']:.4f}")
    log(f"written to {args.out} in {time.time() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
