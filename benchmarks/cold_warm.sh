#!/bin/bash
# A first run with an empty Numba cache against a warm run of the same study (issue 11 item 5).
#
# usage: benchmarks/cold_warm.sh SRC LABEL RATES-ARGS...
#   e.g. benchmarks/cold_warm.sh "$PWD" main --example overfit --quick
# Runs `python -m kdtheory.rates RATES-ARGS --no-plot --no-progress` twice from a scratch
# directory with PYTHONPATH=SRC and one fresh NUMBA_CACHE_DIR: cold (empty cache), then warm.
# Prints the wall time and exit code of each and the 1-minute load average before it started.
set -euo pipefail
src=$(cd "$1" && pwd); label=$2; shift 2
cache=$(mktemp -d); work=$(mktemp -d)
trap 'rm -rf "$cache" "$work"' EXIT
for kind in cold warm; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  (cd "$work" && PYTHONPATH=$src NUMBA_CACHE_DIR=$cache \
     python -m kdtheory.rates "$@" --no-plot --no-progress > /dev/null 2>&1) && rc=0 || rc=$?
  end=$(date +%s.%N)
  # exit 1 is a verdict (a claim not supported), not a failure of the run
  printf '%s %s %.1f s (exit %s, load %s) args: %s\n' "$label" "$kind" "$(echo "$end - $start" | bc)" "$rc" "$load" "$*"
done
