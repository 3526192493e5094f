"""Command line: ``python -m kdtheory.rates --example overfit``.

Runs a Monte Carlo rate study of one example (kdtheory.examples), fits log-log slopes of the
mean, the median and the 0.9 quantile of the error with 95% confidence intervals and prints
them beside the rates the theorems predict (or the user's ``--claim``), the exact finite-n
theory curves with measured / predicted ratios, and paired comparisons of the methods, with a
verdict per method (docs/theory.md §6, §9).

Exit codes: 0 every verdict "consistent"; 1 some verdict is not, or cells failed; 2 a usage
error (nothing was run); 3 a result could not be written where asked (the cache, or an output
file: then it went to a fallback file, whose path is printed); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time

import numpy as np

from ._json import to_jsonable
from .backends import BACKENDS
from .examples import EXAMPLES, get_example
from .montecarlo import CacheWriteError, run_study
from .plan import estimate
from .spec import SpecError, StudySpec

PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _alpha(text):
    """alpha of the enhanced estimator: a number in [0, inf] or 'tune'."""
    if text == "tune":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, inf] or 'tune', got {text!r}")
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


EXAMPLE_PARAMS = ("d", "a", "c_h", "p0", "amplitude", "beta", "clip", "n_folds",
                  "enhanced_alpha")
"""Example parameters settable from the command line, as ``--d``, ``--a``, ``--c-h``, ..."""


def _defaults(name):
    """The default of an example parameter, per example that has it ("default: ...")."""
    values = []
    for ex in EXAMPLES.values():
        if name in ex.defaults:
            value = ex.defaults[name]
            if value is None:  # resolved from d
                value = {"a": "d/4", "c_h": "0.5 for d <= 2, else 0.75"}[name]
            values.append(f"{ex.name} {value}")
    return "default: " + "; ".join(values)


def _grid_defaults(quick):
    return "; ".join(
        f"{ex.name} {','.join(map(str, ex.quick_sample_sizes if quick else ex.sample_sizes))}"
        for ex in EXAMPLES.values())


def build_parser():
    p = _Parser(prog="python -m kdtheory.rates",
                description="Run a Monte Carlo rate study of one example and compare the fitted "
                            "log-log slopes of the student error with the rates the theorems "
                            "predict (docs/theory.md §6, §9).",
                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--example", default="overfit",
                   help=f"the example to study, one of {sorted(EXAMPLES)} (default: overfit)")
    p.add_argument("--list", action="store_true",
                   help="list the examples with their parameters and predicted rates, and exit")
    ex = p.add_argument_group("example parameters")
    ex.add_argument("--d", type=int, help=f"dimension of X ({_defaults('d')})")
    ex.add_argument("--a", type=float,
                    help=f"singular-kernel exponent of the Nadaraya-Watson teacher, in (0, d/2) "
                         f"({_defaults('a')})")
    ex.add_argument("--c-h", type=float,
                    help=f"bandwidth constant of the Nadaraya-Watson teacher, "
                         f"h = c_h n^(-1/(4+d)) ({_defaults('c_h')})")
    ex.add_argument("--amplitude", type=float,
                    help=f"A in p0 = 1/2 +- A sin(2 pi x_1) of the torus example, in (0, 1/2) "
                         f"({_defaults('amplitude')})")
    ex.add_argument("--beta", type=float,
                    help=f"inverse temperature of the annealed cross-entropy (underfit_ace), in "
                         f"(0, 1] ({_defaults('beta')})")
    ex.add_argument("--clip", type=float,
                    help=f"teacher probabilities are clipped to [clip, 1] before logs and "
                         f"divisions, clip in (0, 0.5) ({_defaults('clip')})")
    ex.add_argument("--n-folds", type=int,
                    help=f"cross-fitting folds B ({_defaults('n_folds')})")
    ex.add_argument("--p0", type=_p0,
                    help=f"Bayes probabilities: a named shape ('sin' or 'cos' for overfit) or "
                         f"a comma-separated probability vector (underfit, underfit_ace) "
                         f"({_defaults('p0')})")
    ex.add_argument("--enhanced-alpha", type=_alpha, metavar="ALPHA",
                    help=f"alpha of the enhanced estimator: a number in [0, inf] or 'tune' "
                         f"({_defaults('enhanced_alpha')})")
    grid = p.add_argument_group("grid")
    grid.add_argument("--sample-sizes", type=_sizes, metavar="N1,N2,...",
                      help=f"comma-separated sample sizes (default: {_grid_defaults(False)}; "
                           f"with --quick {_grid_defaults(True)})")
    grid.add_argument("--n-min", type=int, help="smallest size of a log-spaced grid "
                                                "(with --n-max and --num-n)")
    grid.add_argument("--n-max", type=int, help="largest size of a log-spaced grid")
    grid.add_argument("--num-n", type=int, help="number of log-spaced sizes in [n-min, n-max]")
    reps = "; ".join(f"{e.name} {e.replications}" for e in EXAMPLES.values())
    quick = "; ".join(f"{e.name} {e.quick_replications}" for e in EXAMPLES.values())
    grid.add_argument("--replications", type=int,
                      help=f"Monte Carlo replications per sample size, >= 2 (default: {reps}; "
                           f"with --quick {quick})")
    grid.add_argument("--quick", action="store_true",
                      help="the example's small grid, for tests and notebooks")
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0,
                     help="the one seed every number derives from, >= 0 (default: 0)")
    run.add_argument("--n-jobs", type=int, default=-1,
                     help="joblib workers, or local Dask workers; -1: all cores (default: -1)")
    run.add_argument("--backend", choices=BACKENDS,
                     help="joblib, or dask: a local cluster on 127.0.0.1 unless --scheduler is "
                          "given (needs kdtheory[dask]) (default: joblib)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on the Dask cluster at tcp://HOST:PORT (implies --backend dask)")
    run.add_argument("--cache-dir", metavar="DIR",
                     help="store each finished cell in DIR; the same command resumes an "
                          "interrupted study (default: no cache)")
    run.add_argument("--force", action="store_true",
                     help="run even when the estimated memory exceeds what is available")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress line on stderr")
    v = p.add_argument_group("verdicts")
    v.add_argument("--tolerance", type=float, default=0.1,
                   help="slack around a predicted slope, > 0 (default: 0.1)")
    v.add_argument("--max-halfwidth", type=float, default=0.25,
                   help="CI half-width above which a straddling verdict is 'inconclusive' "
                        "(default: 0.25)")
    v.add_argument("--claim", action="append", default=[], metavar="METHOD=KIND:SLOPE",
                   help="test a conjecture: replaces METHOD's registered prediction with a "
                        "slope of KIND tight, upper or lower, e.g. vanilla=tight:-0.6 "
                        "(repeatable)")
    v.add_argument("--statistic", choices=("auto", "mean", "0.5", "0.9"), default="auto",
                   help="the statistic whose slope decides the exponent check; auto: the mean "
                        "for tight claims, the median for upper and lower ones (default: auto)")
    v.add_argument("--n-bootstrap", type=int, default=1000,
                   help="bootstrap resamples for the quantile slopes' CIs, >= 10, seeded from "
                        "--seed (default: 1000)")
    v.add_argument("--band", type=float, default=1.25,
                   help="theory verdicts: every measured / predicted CI must meet "
                        "[1/band, band], band > 1 (default: 1.25)")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="PATH",
                     help="write the summary and its metadata as JSON (default: none)")
    out.add_argument("--csv", metavar="PATH",
                     help="write every record as CSV, with its metadata in PATH.meta.json "
                          "(default: none)")
    out.add_argument("--plot", metavar="PATH",
                     help=f"where to draw the plot, one of {', '.join(PLOT_FORMATS)} "
                          f"(default: rates_<example>.png, or rates_<example>_d<d>.png)")
    out.add_argument("--no-plot", action="store_true", help="draw no plot")
    out.add_argument("--bound", action="store_true",
                     help="print the bound decomposition (docs/theory.md §8) and add its "
                          "plot panel")
    return p


def parse_claims(texts, methods) -> dict:
    """``--claim METHOD=KIND:SLOPE`` values as {method: Prediction} (ValueError naming the
    flag and the bad part otherwise)."""
    from .examples import KINDS, Prediction

    claims = {}
    for text in texts:
        method, sep, rest = text.partition("=")
        kind, sep2, slope = rest.partition(":")
        if not sep or not sep2:
            raise ValueError(f"argument --claim: expected METHOD=KIND:SLOPE, got {text!r}")
        if method not in methods:
            raise ValueError(f"argument --claim: unknown method {method!r} in {text!r}; "
                             f"choose from {sorted(methods)}")
        if kind not in KINDS:
            raise ValueError(f"argument --claim: KIND must be one of {', '.join(KINDS)}, "
                             f"got {kind!r} in {text!r}")
        try:
            value = float(slope)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"argument --claim: SLOPE must be a finite number, got {slope!r} "
                             f"in {text!r}")
        if method in claims:
            raise ValueError(f"argument --claim: method {method!r} claimed twice")
        claims[method] = Prediction(value, kind, f"user claim {text}")
    return claims


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
                           ("--n-bootstrap", args.n_bootstrap >= 10, ">= 10"),
                           ("--band", args.band > 1, "> 1"),
                           ("--n-jobs", args.n_jobs >= 1 or args.n_jobs == -1, ">= 1 or -1")):
        if not ok:
            parser.error(f"argument {flag}: must be {rule}, "
                         f"got {getattr(args, flag[2:].replace('-', '_'))}")
    if args.scheduler is not None and args.backend == "joblib":
        parser.error("argument --scheduler: implies --backend dask, got --backend joblib")
    try:
        return StudySpec.create(example.name, params, sample_sizes=sizes,
                                n_replications=args.replications, seed=args.seed,
                                quick=args.quick)
    except SpecError as exc:
        flags = {"sample_sizes": "--sample-sizes" if args.sample_sizes is not None
                 else "--n-min/--n-max/--num-n", "n_replications": "--replications"}
        message = str(exc)
        if message.startswith(exc.argument + " "):  # no internal names: the flag says which
            message = message[len(exc.argument) + 1:]
        message = message.replace("sample_sizes[", "size [")
        parser.error(f"argument {flags.get(exc.argument, _flag(exc.argument))}: {message}")


def _flag(name):
    return "--" + name.replace("_", "-")


def _check_paths(args, parser):
    """Every output path usable before the first cell runs (one line naming the flag if not)."""
    if args.no_plot and args.plot is not None:
        parser.error("argument --plot: not allowed with --no-plot")
    for flag in ("--json", "--csv", "--plot"):
        path = getattr(args, flag[2:])
        if path is None:
            continue
        if not path.strip():
            parser.error(f"argument {flag}: empty path")
        if os.path.isdir(path):
            parser.error(f"argument {flag}: {path!r} is a directory; give a file path")
        if flag == "--plot" and os.path.splitext(path)[1].lower() not in PLOT_FORMATS:
            parser.error(f"argument --plot: {path!r} must end in one of {', '.join(PLOT_FORMATS)}")
        _check_writable_parent(flag, path, parser)
    if args.cache_dir is not None:
        path = args.cache_dir
        if not path.strip():
            parser.error("argument --cache-dir: empty path")
        if os.path.exists(path):
            if not os.path.isdir(path):
                parser.error(f"argument --cache-dir: {path!r} exists and is not a directory")
            if not os.access(path, os.W_OK | os.X_OK):
                parser.error(f"argument --cache-dir: {path!r} is not writable")
        else:
            _check_writable_parent("--cache-dir", path, parser)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            parser.error(f"argument --cache-dir: cannot create {path!r}: {exc.strerror or exc}")


def _check_writable_parent(flag, path, parser):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        parser.error(f"argument {flag}: directory {parent!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        parser.error(f"argument {flag}: directory {parent!r} is not writable")


def list_examples(stream=sys.stdout):
    for example in EXAMPLES.values():
        params = example.resolve()
        stream.write(f"{example.name}: {example.description}\n")
        stream.write(f"  defaults: {params}\n")
        for method, pred in example.predictions(params).items():
            stream.write(f"  {method:13s} slope {pred.slope:+.3f} ({pred.kind}): {pred.reason}\n")


def _write(flag, path, writer, summary):
    """``writer(path)``; on failure ``writer`` to a fallback file. Returns (path, ok)."""
    try:
        writer(path)
        return path, True
    except OSError as exc:
        suffix = os.path.splitext(path)[1] or ".out"
        fd, fallback = tempfile.mkstemp(prefix=f"kdtheory-{summary.example}-", suffix=suffix)
        os.close(fd)
        writer(fallback)
        print(f"kdtheory: could not write {flag} {path!r} ({exc.strerror or exc}); "
              f"wrote {fallback} instead", file=sys.stderr)
        return fallback, False


def write_outputs(study, summary, args):
    """Write the JSON summary, the CSV records (+ metadata sidecar) and the plot asked for.

    Returns {flag: path written} and whether every file went where it was asked.
    """
    written, all_ok = {}, True
    jobs = []
    if args.json:
        jobs.append(("--json", args.json, summary.to_json))
    if args.csv:
        def csv_with_sidecar(path):
            study.to_csv(path)
            meta = {"example": study.example, "params": study.params, "seed": study.seed,
                    "sample_sizes": study.sample_sizes, "n_replications": study.n_replications,
                    **study.metadata}
            with open(path + ".meta.json", "w") as fh:
                json.dump(to_jsonable(meta), fh, indent=1)
        jobs.append(("--csv", args.csv, csv_with_sidecar))
    if not args.no_plot:
        suffix = f"_d{summary.params['d']}" if "d" in summary.params else ""
        path = args.plot or f"rates_{summary.example}{suffix}.png"

        def draw(path):
            import matplotlib

            matplotlib.use("Agg")
            from .plotting import plot_rates

            plot_rates(summary, bound=args.bound, paired=True).savefig(path, dpi=110)
        jobs.append(("--plot", path, draw))
    for flag, path, writer in jobs:
        written[flag], ok = _write(flag, path, writer, summary)
        all_ok &= ok
    return written, all_ok


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        list_examples()
        return 0
    spec = _spec(args, parser)
    try:
        claims = parse_claims(args.claim, spec.example.predictions(spec.params))
    except ValueError as exc:
        parser.error(str(exc))
    _check_paths(args, parser)
    n_jobs = (os.cpu_count() or 1) if args.n_jobs == -1 else args.n_jobs
    plan = estimate(spec, n_jobs)
    print(f"kdtheory.rates: example {spec.example_name}, params {spec.params}, seed {spec.seed},"
          f" sizes {list(spec.sample_sizes)}, {spec.n_replications} replications; plan: {plan}",
          flush=True)
    if not plan.fits and not args.force:
        parser.error(f"the study does not fit in memory ({plan}); use fewer --replications or "
                     f"smaller --sample-sizes, or --force")
    try:
        study = run_study(spec, n_jobs=n_jobs, cache_dir=args.cache_dir,
                          progress=not args.no_progress, backend=args.backend,
                          scheduler=args.scheduler, force=args.force)
    except KeyboardInterrupt:  # run_study has said how many cells are safe and how to resume
        return 130
    except CacheWriteError as exc:
        print(f"kdtheory: {exc}", file=sys.stderr)
        return 3
    except (ValueError, ImportError) as exc:
        parser.error(str(exc))
    study.metadata["command"] = shlex.join(
        ["python", "-m", "kdtheory.rates", *(sys.argv[1:] if argv is None else argv)])
    study.metadata["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    summary = study.summarize(tolerance=args.tolerance, max_halfwidth=args.max_halfwidth,
                              predictions=claims, n_bootstrap=args.n_bootstrap,
                              band=args.band, statistic=args.statistic)
    meta = study.metadata
    print(f"done in {meta['wall_seconds']:.1f} s")
    if args.cache_dir:
        print(f"cache: {meta['cells_from_cache']} of {meta['cells']} cells from the cache, "
              f"{meta['cells'] - meta['cells_from_cache']} computed ({args.cache_dir})")
    print(summary)
    if args.bound:
        print()
        print(summary.bound_table())
    written, all_ok = write_outputs(study, summary, args)
    for flag, path in written.items():
        print(f"{flag[2:]}: {path}")
    if not all_ok:
        return 3
    return 0 if summary.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
