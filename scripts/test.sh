#!/usr/bin/env bash
# Runs the whole test suite on SQLite and PostgreSQL.
# Makes sure a local PostgreSQL answers on 127.0.0.1:5432 (installs Debian's package and starts
# it if needed), then runs every test with TEST_DATABASE_URL pointing at it.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
source scripts/postgres.sh
ensure_postgres

cargo test --all-targets --locked "$@"
