#!/usr/bin/env bash
# The benchmark, start to finish: installs wrk, makes sure PostgreSQL answers, builds release,
# seeds, runs every workload on SQLite then PostgreSQL against the baselines, prints one table
# and writes docs/performance.md. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
# PostgreSQL, as the test script sets it up.
source scripts/postgres.sh
ensure_postgres

cargo build --release --locked --bins
# `bench/run.sh --instructions [--requests N] [--backends …] [--routes …] [--server-env K=V]`:
# instructions per request under callgrind (bench/icount.py) instead of the wrk workloads.
if [ "${1:-}" = "--instructions" ]; then
    shift
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "bench: installing valgrind (Debian package)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    fi
    exec python3 bench/icount.py "$@"
fi
exec python3 bench/run.py "$@"
