#!/usr/bin/env bash
# Runs the whole test suite on SQLite and PostgreSQL.
# Makes sure a local PostgreSQL answers on 127.0.0.1:5432 and that Chromium and chromedriver are
# there for the console's browser tests (installing Debian's packages if needed), that the
# webhook tests' signature verifier (PyPI's standardwebhooks, in a venv) and promtool (the metrics
# tests) are ready, then runs
# every test with TEST_DATABASE_URL pointing at the server.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
source scripts/postgres.sh
ensure_postgres
source scripts/browser.sh
ensure_browser
source scripts/python.sh
ensure_webhook_verifier
source scripts/prometheus.sh
ensure_promtool

cargo test --all-targets --locked "$@"
