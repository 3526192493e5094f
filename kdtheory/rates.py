"""Command line: ``python -m kdtheory.rates --example overfit``.

Runs a Monte Carlo rate study of one example (kdtheory.examples), fits log-log slopes with 95%
confidence intervals and prints them beside the rates the theorems predict, with a verdict per
method. Exit code 0 when every verdict is "consistent", 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys

import numpy as np

from .examples import EXAMPLES, get_example
from .montecarlo import BACKENDS, resolve_params, run_study
from .ratefit import summarize


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _alpha(text):
    if text == "tune":
        return text
    value = float(text)
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, inf] or 'tune', got {text}")
    return value


def _p0(text):
    """A comma-separated probability vector (underfit) or a named shape (overfit)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        return text


def _sizes(text):
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if not values or not all(v.is_integer() for v in values):
        raise argparse.ArgumentTypeError(f"must be integers separated by commas, got {text!r}")
    return [int(v) for v in values]


EXAMPLE_PARAMS = ("d", "a", "c_h", "p0", "clip", "n_folds", "enhanced_alpha")
"""Example parameters settable from the command line, as ``--d``, ``--a``, ``--c-h``, ..."""


def build_parser():
    p = _Parser(prog="python -m kdtheory.rates", description=__doc__.splitlines()[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--example", default="overfit", help=f"one of {sorted(EXAMPLES)}")
    p.add_argument("--list", action="store_true", help="list examples with predicted rates")
    p.add_argument("--d", type=int, default=None, help="dimension of the overfit example")
    p.add_argument("--a", type=float, default=None,
                   help="singular-kernel exponent of the overfit teacher, in (0, d/2) "
                        "(default d/4)")
    p.add_argument("--c-h", type=float, default=None,
                   help="bandwidth constant of the overfit teacher: h = c_h n^(-1/(4+d))")
    p.add_argument("--clip", type=float, default=None,
                   help="teacher probabilities are clipped to [clip, 1 - clip], clip in (0, 0.5)")
    p.add_argument("--n-folds", type=int, default=None, help="cross-fitting folds")
    p.add_argument("--p0", type=_p0, default=None,
                   help="Bayes probabilities: overfit 'sin' (default) or 'cos' (no boundary "
                        "bias); underfit a comma-separated probability vector")
    p.add_argument("--enhanced-alpha", type=_alpha, default=None,
                   help="alpha of the enhanced estimator (number, inf, or 'tune')")
    grid = p.add_argument_group("grid")
    grid.add_argument("--sample-sizes", type=_sizes, default=None,
                      help="comma-separated sample sizes (default: the example's grid)")
    grid.add_argument("--n-min", type=int, default=None)
    grid.add_argument("--n-max", type=int, default=None)
    grid.add_argument("--num-n", type=int, default=None, help="log-spaced sizes in [n-min, n-max]")
    grid.add_argument("--replications", type=int, default=None)
    grid.add_argument("--quick", action="store_true", help="small grid (CI, notebooks)")
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--n-jobs", type=int, default=-1,
                     help="joblib workers or local Dask workers (-1: all cores)")
    run.add_argument("--backend", choices=BACKENDS, default=None,
                     help="joblib (default), or dask: a local cluster on 127.0.0.1 unless "
                          "--scheduler is given (needs kdtheory[dask])")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run on the Dask cluster at tcp://HOST:PORT (implies --backend dask)")
    run.add_argument("--cache-dir", default=None,
                     help="store finished cells here; a rerun resumes")
    run.add_argument("--no-progress", action="store_true")
    v = p.add_argument_group("verdicts")
    v.add_argument("--tolerance", type=float, default=0.1)
    v.add_argument("--max-halfwidth", type=float, default=0.25,
                   help="CI half-width above which a verdict is 'inconclusive'")
    out = p.add_argument_group("output")
    out.add_argument("--json", default=None, help="write the summary as JSON")
    out.add_argument("--csv", default=None, help="write every record as CSV")
    out.add_argument("--plot", default=None, help="PNG path (default rates_<example>.png)")
    out.add_argument("--no-plot", action="store_true")
    out.add_argument("--bound", action="store_true",
                     help="print the bound decomposition (MATH.md 8) and add its plot panel")
    return p


def _grid(args, parser, example):
    if args.sample_sizes is not None and any(x is not None for x in (args.n_min, args.n_max,
                                                                       args.num_n)):
        parser.error("give either --sample-sizes or --n-min/--n-max/--num-n, not both")
    if args.n_min is not None or args.n_max is not None or args.num_n is not None:
        if None in (args.n_min, args.n_max, args.num_n):
            parser.error("--n-min, --n-max and --num-n go together")
        if args.num_n < 2 or args.n_max <= args.n_min:
            parser.error(f"need --num-n >= 2 and --n-max > --n-min, got {args.num_n}, "
                         f"{args.n_min}, {args.n_max}")
        if args.n_min < 1:
            parser.error(f"--n-min must be positive, got {args.n_min}")
        return sorted({int(round(x)) for x in np.geomspace(args.n_min, args.n_max, args.num_n)})
    return args.sample_sizes


def _check(args, parser):
    if args.example not in EXAMPLES:
        parser.error(f"unknown example {args.example!r}; choose from {sorted(EXAMPLES)}")
    example = get_example(args.example)
    sizes = _grid(args, parser, example)
    if sizes is not None:
        flag = "--sample-sizes" if args.sample_sizes is not None else "--n-min/--n-max/--num-n"
        if len(set(sizes)) < 2:
            parser.error(f"argument {flag}: need at least 2 distinct sample sizes, got {sizes}")
        if min(sizes) < example.min_n:
            parser.error(f"argument {flag}: sample sizes must be >= {example.min_n} for "
                         f"{args.example!r}, got {min(sizes)}")
    params = _example_params(args, parser, example, sizes)
    if args.replications is not None and args.replications < 2:
        parser.error(f"--replications must be >= 2, got {args.replications}")
    if not args.tolerance > 0:
        parser.error(f"--tolerance must be > 0, got {args.tolerance}")
    if not args.max_halfwidth > 0:
        parser.error(f"--max-halfwidth must be > 0, got {args.max_halfwidth}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.n_jobs == 0 or args.n_jobs < -1:
        parser.error(f"--n-jobs must be >= 1 or -1, got {args.n_jobs}")
    if args.scheduler is not None and args.backend == "joblib":
        parser.error("argument --scheduler: implies --backend dask, got --backend joblib")
    return example, params, sizes


def _example_params(args, parser, example, sizes):
    """The example's parameters, with those given as flags checked one by one.

    Each flag is checked given the ones before it in :data:`EXAMPLE_PARAMS` (``--a`` against
    ``--d``, ``--n-folds`` against the smallest sample size), so that an error names its flag.
    """
    if sizes is None:
        sizes = example.quick_sample_sizes if args.quick else example.sample_sizes
    params = {}
    for name in EXAMPLE_PARAMS:
        value = getattr(args, name)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if name not in example.defaults:
            parser.error(f"argument {flag}: does not apply to example {example.name!r}")
        try:
            resolve_params(example, {**params, name: value}, min_n=min(sizes))
        except ValueError as exc:
            parser.error(f"argument {flag}: {exc}")
        params[name] = value
    return example.resolve(params)


def list_examples(stream=sys.stdout):
    for example in EXAMPLES.values():
        params = example.resolve()
        stream.write(f"{example.name}: {example.description}\n")
        stream.write(f"  defaults: {params}\n")
        for method, pred in example.predictions(params).items():
            stream.write(f"  {method:13s} slope {pred.slope:+.3f} ({pred.kind}): {pred.reason}\n")


def format_table(summary) -> str:
    """The per-n table and the slope/verdict table of a study summary."""
    lines = []
    methods = summary["methods"]
    head = f"{'n':>8s}" + "".join(f"  {m:>26s}" for m in methods)
    lines.append("student error per n: mean +- SE [median]")
    lines.append(head)
    for i, n in enumerate(summary["sample_sizes"]):
        row = f"{n:8d}"
        for m in methods.values():
            if n in m["sample_sizes"]:
                j = m["sample_sizes"].index(n)
                row += (f"  {m['mean_error'][j]:8.2e}+-{m['se_error'][j]:7.1e}"
                        f" [{m['median_error'][j]:7.1e}]")
            else:
                row += f"  {'-':>26s}"
        lines.append(row)
    first = next(iter(methods.values()))
    lines.append("")
    lines.append("teacher per n: error on training points (vanilla) | on held-out points "
                 "(cross-fit) | fraction of held-out queries answered by the fallback | "
                 "fraction of held-out outputs below clip")
    for j, n in enumerate(first["sample_sizes"]):
        lines.append(f"{n:8d}  {first['teacher_train_error'][j]:10.3e} | "
                     f"{first['teacher_test_error'][j]:10.3e} | {first['fallback_rate'][j]:.4f}"
                     f" | {first['clip_rate'][j]:.4f}")
    lines.append("")
    lines.append(f"{'method':14s} {'slope':>7s}  {'95% CI':>17s}  {'predicted':>9s} "
                 f"{'kind':6s} verdict")
    for name, m in methods.items():
        lines.append(f"{name:14s} {m['slope']:+7.3f}  [{m['ci'][0]:+7.3f}, {m['ci'][1]:+7.3f}]"
                     f"  {m['predicted_slope']:+9.3f} {m['kind']:6s} {m['verdict']}")
    lines.append(f"(verdict tolerance {summary['tolerance']}; 'inconclusive' when the CI "
                 f"half-width exceeds {summary['max_halfwidth']})")
    lines.append("")
    lines.append("local slopes between neighbouring n (curvature = a pre-asymptotic range):")
    for name, m in methods.items():
        lines.append(f"{name:14s} " + " ".join(f"{s:+6.2f}" for s in m["local_slopes"]))
    if summary["failures"]:
        lines.append(f"WARNING: {summary['failures']} cells failed: "
                     f"{summary['failure_messages']}")
    return "\n".join(lines)


def format_bound_table(summary) -> str:
    """Per method and n: student error, the terms of its bound, and error / bound."""
    lines = ["bound decomposition (MATH.md 8): bound = 1/m + delta_n^2 + teacher term "
             "[+ gamma bias + gamma variance for enhanced]; delta_n: constant class, b = 1"]
    lines.append(f"{'method':13s} {'n':>7s} {'error':>9s} {'delta_n^2':>9s} {'teacher':>9s} "
                 f"{'g-bias':>9s} {'g-var':>9s} {'bound':>9s} {'ratio':>8s}")
    for name, m in summary["methods"].items():
        b = m["bound"]
        for j, n in enumerate(m["sample_sizes"]):
            lines.append(f"{name:13s} {n:7d} {m['mean_error'][j]:9.2e} {b['delta_n_sq'][j]:9.2e} "
                         f"{b['teacher_term'][j]:9.2e} {b['gamma_bias'][j]:9.2e} "
                         f"{b['gamma_variance'][j]:9.2e} {b['bound'][j]:9.2e} "
                         f"{b['ratio'][j]:8.3f}")
    lines.append("teacher term: vanilla ||p_hat - p0||_n^2 on training points; sample_split and "
                 "crossfit ||p_hat - p0||^2 on held-out points; enhanced ||p_hat - p0||_4^4")
    return "\n".join(lines)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_json(obj):
    """JSON has no inf/NaN: write them as strings "inf", "-inf", "nan"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    return obj


def write_outputs(study, summary, args):
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_finite_json(summary), fh, indent=1, default=_json_default)
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(study.records[0]))
            writer.writeheader()
            writer.writerows(study.records)
    if args.no_plot:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import plot_rates

    suffix = f"_d{summary['params']['d']}" if "d" in summary["params"] else ""
    path = args.plot or f"rates_{summary['example']}{suffix}.png"
    fig = plot_rates(summary, bound=args.bound)
    fig.savefig(path, dpi=110)
    return path


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        list_examples()
        return 0
    example, params, sizes = _check(args, parser)
    n_jobs = (os.cpu_count() or 1) if args.n_jobs == -1 else args.n_jobs
    try:
        study = run_study(example.name, params, sample_sizes=sizes,
                          n_replications=args.replications, seed=args.seed, n_jobs=n_jobs,
                          quick=args.quick, cache_dir=args.cache_dir,
                          progress=not args.no_progress, backend=args.backend,
                          scheduler=args.scheduler)
    except KeyboardInterrupt:  # run_study has said how many cells are safe and how to resume
        return 130
    except (ValueError, ImportError) as exc:
        parser.error(str(exc))
    summary = summarize(study, tolerance=args.tolerance, max_halfwidth=args.max_halfwidth)
    print(f"kdtheory.rates: example {example.name}, params {params}, seed {args.seed}, "
          f"{study.n_replications} replications, {study.metadata['wall_seconds']:.1f} s")
    print(format_table(summary))
    if args.bound:
        print()
        print(format_bound_table(summary))
    path = write_outputs(study, summary, args)
    if path:
        print(f"plot: {path}")
    if args.json:
        print(f"json: {args.json}")
    if args.csv:
        print(f"csv: {args.csv}")
    consistent = all(m["verdict"] == "consistent" for m in summary["methods"].values())
    return 0 if consistent and not summary["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
