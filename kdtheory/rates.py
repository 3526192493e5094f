"""Command line: ``python -m kdtheory.rates --example overfit``.

Runs a Monte Carlo rate study of one example (kdtheory.examples), fits log-log slopes with 95%
confidence intervals and prints them beside the rates the theorems predict, with a verdict per
method. Exit code 0 when every verdict is "consistent", 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

from .backends import BACKENDS
from .examples import EXAMPLES, get_example
from .montecarlo import run_study
from .spec import SpecError, StudySpec


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


def _grid(args, parser):
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


def _spec(args, parser):
    """The study's :class:`~kdtheory.spec.StudySpec`, validated once; errors name their flag."""
    if args.example not in EXAMPLES:
        parser.error(f"unknown example {args.example!r}; choose from {sorted(EXAMPLES)}")
    example = get_example(args.example)
    sizes = _grid(args, parser)
    params = {}
    for name in EXAMPLE_PARAMS:
        value = getattr(args, name)
        if value is None:
            continue
        if name not in example.defaults:
            parser.error(f"argument {_flag(name)}: does not apply to example {example.name!r}")
        params[name] = value
    for flag, ok, rule in (("--tolerance", args.tolerance > 0, "> 0"),
                           ("--max-halfwidth", args.max_halfwidth > 0, "> 0"),
                           ("--n-jobs", args.n_jobs >= 1 or args.n_jobs == -1, ">= 1 or -1")):
        if not ok:
            parser.error(f"{flag} must be {rule}, got {getattr(args, flag[2:].replace('-', '_'))}")
    if args.scheduler is not None and args.backend == "joblib":
        parser.error("argument --scheduler: implies --backend dask, got --backend joblib")
    try:
        return StudySpec.create(example.name, params, sample_sizes=sizes,
                                n_replications=args.replications, seed=args.seed,
                                quick=args.quick)
    except SpecError as exc:
        flags = {"sample_sizes": "--sample-sizes" if args.sample_sizes is not None
                 else "--n-min/--n-max/--num-n", "n_replications": "--replications",
                 "seed": "--seed"}
        parser.error(f"argument {flags.get(exc.argument, _flag(exc.argument))}: {exc}")


def _flag(name):
    return "--" + name.replace("_", "-")


def list_examples(stream=sys.stdout):
    for example in EXAMPLES.values():
        params = example.resolve()
        stream.write(f"{example.name}: {example.description}\n")
        stream.write(f"  defaults: {params}\n")
        for method, pred in example.predictions(params).items():
            stream.write(f"  {method:13s} slope {pred.slope:+.3f} ({pred.kind}): {pred.reason}\n")


def write_outputs(study, summary, args):
    """Write the JSON summary, the CSV records and the plot the flags ask for; the plot path."""
    if args.json:
        summary.to_json(args.json)
    if args.csv:
        study.to_csv(args.csv)
    if args.no_plot:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import plot_rates

    suffix = f"_d{summary.params['d']}" if "d" in summary.params else ""
    path = args.plot or f"rates_{summary.example}{suffix}.png"
    fig = plot_rates(summary, bound=args.bound)
    fig.savefig(path, dpi=110)
    return path


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        list_examples()
        return 0
    spec = _spec(args, parser)
    n_jobs = (os.cpu_count() or 1) if args.n_jobs == -1 else args.n_jobs
    try:
        study = run_study(spec, n_jobs=n_jobs, cache_dir=args.cache_dir,
                          progress=not args.no_progress, backend=args.backend,
                          scheduler=args.scheduler)
    except KeyboardInterrupt:  # run_study has said how many cells are safe and how to resume
        return 130
    except (ValueError, ImportError) as exc:
        parser.error(str(exc))
    summary = study.summarize(tolerance=args.tolerance, max_halfwidth=args.max_halfwidth)
    meta = study.metadata
    print(f"kdtheory.rates: example {spec.example_name}, params {spec.params}, seed {spec.seed}, "
          f"{spec.n_replications} replications, {meta['wall_seconds']:.1f} s")
    if args.cache_dir:
        print(f"cache: {meta['cells_from_cache']} of {meta['cells']} cells from the cache, "
              f"{meta['cells'] - meta['cells_from_cache']} computed ({args.cache_dir})")
    print(summary)
    if args.bound:
        print()
        print(summary.bound_table())
    path = write_outputs(study, summary, args)
    if path:
        print(f"plot: {path}")
    if args.json:
        print(f"json: {args.json}")
    if args.csv:
        print(f"csv: {args.csv}")
    return 0 if summary.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
