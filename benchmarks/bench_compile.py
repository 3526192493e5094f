"""Numba compile cost of the Nadaraya-Watson kernels: cold (empty cache) vs warm (cache loaded).

    python benchmarks/bench_compile.py [--rev REV] [--config D KERNEL BOXSIZE ...]

Each configuration runs twice in fresh processes sharing one new ``NUMBA_CACHE_DIR``
(``tempfile.mkdtemp``): first cold (everything compiles), then warm (everything loads from the
cache). A process imports kdtheory (timed; any compilation during the import is reported, there
should be none), then calls ``kdtheory.teachers.nadaraya_watson.warm_up(d, kernel, boxsize)``,
or, for a revision without it, fits and predicts a tiny problem with the same settings. Per
kernel: the exclusive compile seconds from Numba's ``numba:compile`` events (time spent compiling
that dispatcher minus the callees compiled inside it, in CPU seconds of this process, which
the machine's load disturbs less than wall time), and the number of specialisations.
``--rev REV`` measures the package as committed at REV (``git archive`` into a temp directory).
The 1-minute load average is printed beside each row (2 cores: above 2 the CPUs were shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _machine import REPO
from _machine import extract as _extract
from _machine import load as _load

DEFAULT_CONFIGS = [("2", "singular", "none"), ("5", "singular", "none"),
                   ("2", "singular", "1.0"), ("5", "singular", "1.0"),
                   ("2", "gaussian", "none")]



def worker(d, kernel, boxsize):
    """One cold or warm first run in this fresh process; prints a JSON record."""
    from numba.core import event

    events = []

    class Recorder(event.Listener):
        def on_start(self, ev):
            events.append((time.process_time(), 1, ev.data["dispatcher"]))

        def on_end(self, ev):
            events.append((time.process_time(), -1, ev.data["dispatcher"]))

    rec = Recorder()
    event.register("numba:compile", rec)
    t0 = time.perf_counter()
    import kdtheory  # noqa: F401
    import kdtheory.teachers.nadaraya_watson as nw
    t1, c1 = time.perf_counter(), time.process_time()
    n_import = len(events)
    if hasattr(nw, "warm_up"):
        nw.warm_up(d, kernel=kernel, boxsize=boxsize)
    else:  # a revision before warm_up: a tiny fit + predict with the same settings
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.uniform(size=(40, d))
        nw.NadarayaWatsonTeacher(bandwidth=0.3, kernel=kernel).fit(
            X, rng.integers(0, 2, 40)).predict_proba(np.vstack([X[:3], rng.uniform(size=(5, d))]))
    t2, c2 = time.perf_counter(), time.process_time()
    # exclusive time per dispatcher: a stack of open compiles, time charged to the innermost
    excl, count, stack, last = {}, {}, [], None
    for t, kind, disp in events[n_import:]:
        if stack and last is not None:
            excl[stack[-1]] = excl.get(stack[-1], 0.0) + t - last
        if kind == 1:
            name = disp.py_func.__name__
            stack.append(name)
            count[name] = count.get(name, 0) + 1
        else:
            stack.pop()
        last = t
    print(json.dumps(dict(import_s=t1 - t0, import_compiles=n_import, first_call_s=t2 - t1,
                          first_call_cpu=c2 - c1,
                          kernels={k: [round(v, 3), count[k]] for k, v in excl.items()},
                          load=_load())))



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="measure the package as committed at git REV")
    parser.add_argument("--config", nargs=3, action="append", metavar=("D", "KERNEL", "BOX"),
                        help="d, kernel, boxsize ('none' for Euclidean); repeatable")
    args = parser.parse_args(argv)
    root = _extract(args.rev) if args.rev else REPO
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, package "
          f"{args.rev or 'working tree'}, load {_load():.2f}")
    print("| d | kernel | boxsize | cold import s | cold first call s | warm import s | "
          "warm first call s | cold first call CPU s | compiles during import | cold compile CPU s "
          "per kernel (specialisations) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d, kernel, box in args.config or DEFAULT_CONFIGS:
        cache = tempfile.mkdtemp(prefix="kdt-numba-")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
        recs = []
        for _ in ("cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--worker", d, kernel, box],
                                 capture_output=True, text=True, check=True, env=env, cwd=root)
            recs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        cold, warm = recs
        per = ", ".join(f"{k} {v[0]:.2f} ({v[1]})" for k, v in
                        sorted(cold["kernels"].items(), key=lambda kv: -kv[1][0]))
        print(f"| {d} | {kernel} | {box} | {cold['import_s']:.2f} | {cold['first_call_s']:.2f} | "
              f"{warm['import_s']:.2f} | {warm['first_call_s']:.2f} | "
              f"{cold['first_call_cpu']:.2f} | "
              f"{cold['import_compiles']} / {warm['import_compiles']} | {per} | "
              f"{warm['load']:.1f} |", flush=True)
        if warm["kernels"]:
            print(f"|  | warm run recompiled: {warm['kernels']} | | | | | | | | | |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        box = None if sys.argv[4] == "none" else float(sys.argv[4])
        worker(int(sys.argv[2]), sys.argv[3], box)
    else:
        sys.exit(main())
