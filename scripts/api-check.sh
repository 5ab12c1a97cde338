#!/usr/bin/env bash
# Checks the API document against the real server, on SQLite and on PostgreSQL:
#   1. GET /openapi.json passes openapi-spec-validator;
#   2. schemathesis runs every phase (examples, coverage, fuzzing, stateful) over it with the
#      checks not_a_server_error and response_schema_conformance: no 5xx, no answer outside its
#      documented schema.
# Each backend gets a fresh database, a Network simulator and a server connected to it, so the
# endpoints that call the Network do not legitimately fail. Exits non-zero on any failure and
# always stops what it started.
#
# Before schemathesis, scripts/api_check_seed.py creates real resources through the API and
# writes a schemathesis config that feeds their ids into path and body parameters, so requests
# reach real partners, programs and commissions instead of 404s.
#
# The server's log must stay free of errors too: fuzzed input that breaks a background job (a
# click that cannot be written, say) fails the check although every answer was fine.
#
# Environment:
#   API_CHECK_MAX_EXAMPLES  test cases per operation (default 50: about a minute per backend on
#                           2 cores)
#   API_CHECK_SEED          replays a run (schemathesis prints its seed)
#   API_CHECK_BACKENDS      "sqlite postgres" by default
#   API_CHECK_REPORT_DIR    keeps a HAR of every exchange there
#   OPENPARTNER_BIN         runs that binary instead of building one
#   TEST_DATABASE_URL       its server hosts the PostgreSQL run (default 127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
BIN="${OPENPARTNER_BIN:-$TARGET_DIR/debug/openpartner}"
VENV="$TARGET_DIR/api-check-venv"
MAX_EXAMPLES="${API_CHECK_MAX_EXAMPLES:-50}"
BACKENDS="${API_CHECK_BACKENDS:-sqlite postgres}"
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_SERVER="${PG_URL%/*}"
# The configured admin key: it lives in no table, so schemathesis cannot revoke it through the API.
ADMIN_KEY="api-check-admin-$(openssl rand -hex 16)"
SIM_KEY="api-check-sim-$(openssl rand -hex 16)"
STRIPE_KEY="sk_test_$(openssl rand -hex 16)"
STRIPE_WEBHOOK_SECRET="whsec_$(openssl rand -hex 16)"
PIP_PACKAGES=(openapi-spec-validator==0.9.0 schemathesis==4.32.5)

if [[ " $BACKENDS " == *" postgres "* ]]; then
    source scripts/postgres.sh
    ensure_postgres
fi

if [[ -z "${OPENPARTNER_BIN:-}" ]]; then
    # Reuses the debug build of the test run (a no-op then).
    cargo build --locked --bin openpartner
fi

# The tools, from PyPI, into a virtualenv kept next to the build (installed once per version).
if [[ "$(cat "$VENV/.installed" 2>/dev/null)" != "${PIP_PACKAGES[*]}" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
    echo "${PIP_PACKAGES[*]}" >"$VENV/.installed"
fi

PIDS=()
DATABASES=()
cleanup() {
    local pid db
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    for db in "${DATABASES[@]}"; do
        psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    DATABASES=()
}
# Interrupted: stop everything and drop the run's directory too (a failed run keeps it).
CURRENT_DIR=""
on_exit() {
    local rc=$?
    cleanup
    if [[ "$rc" -ge 128 && -n "$CURRENT_DIR" ]]; then
        rm -rf "$CURRENT_DIR"
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for URL PID LOG: bounded wait (30 s) for URL to answer 2xx while PID lives.
wait_for() {
    local url="$1" pid="$2" log="$3"
    for _ in $(seq 1 150); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "api-check: the process for $url exited; its log:" >&2
            tail -n 40 "$log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "api-check: $url did not answer within 30 s; log:" >&2
    tail -n 40 "$log" >&2
    return 1
}

# check_backend BACKEND: one full check; the caller stops what it started (cleanup).
check_backend() {
    local backend="$1" dir sim_port port base sim_pid server_pid
    local database=()
    dir="$(mktemp -d "${TMPDIR:-/tmp}/openpartner-api-check.XXXXXX")" || return 1
    CURRENT_DIR="$dir"
    if [[ "$backend" == postgres ]]; then
        local db
        db="openpartner_api_check_$(openssl rand -hex 6)"
        psql "$PG_SERVER/postgres" -qc "CREATE DATABASE $db" >/dev/null || return 1
        DATABASES+=("$db")
        database=(DATABASE_URL="$PG_SERVER/$db")
    fi
    sim_port="$(free_port)" || return 1
    port="$(free_port)" || return 1
    base="http://127.0.0.1:$port"

    "$BIN" network-sim --bind "127.0.0.1:$sim_port" --admin-key "$SIM_KEY" >"$dir/sim.log" 2>&1 &
    sim_pid=$!
    PIDS+=("$sim_pid")
    wait_for "http://127.0.0.1:$sim_port/_sim/state" "$sim_pid" "$dir/sim.log" || return 1

    # A Stripe simulator too: onboarding and the Stripe webhook answer for real, not 503.
    local stripe_port stripe_pid
    stripe_port=$(free_port)
    "$BIN" stripe-sim --bind "127.0.0.1:$stripe_port" --secret-key "$STRIPE_KEY" \
        --webhook-url "$base/webhooks/stripe" --webhook-secret "$STRIPE_WEBHOOK_SECRET" \
        >"$dir/stripe-sim.log" 2>&1 &
    stripe_pid=$!
    PIDS+=("$stripe_pid")
    wait_for "http://127.0.0.1:$stripe_port/_sim/state" "$stripe_pid" "$dir/stripe-sim.log" || return 1

    env -u DATABASE_URL -u OPENPARTNER_CONFIG \
        OPENPARTNER_BIND="127.0.0.1:$port" \
        OPENPARTNER_PUBLIC_URL="$base" \
        OPENPARTNER_DATA_DIR="$dir/data" \
        "${database[@]}" \
        ADMIN_API_KEY="$ADMIN_KEY" \
        SECRETS_ENCRYPTION_KEY="$(openssl rand -hex 32)" \
        NETWORK_URL="http://127.0.0.1:$sim_port" \
        NETWORK_ADMIN_API_KEY="$SIM_KEY" \
        OPENPARTNER_ADMIN_EMAIL="admin@api-check.example" \
        STRIPE_SECRET_KEY="$STRIPE_KEY" \
        STRIPE_API_BASE="http://127.0.0.1:$stripe_port" \
        STRIPE_WEBHOOK_SECRET="$STRIPE_WEBHOOK_SECRET" \
        OPENPARTNER_RATE_LIMIT_PER_MINUTE=100000 \
        OPENPARTNER_LOG=warn NO_COLOR=1 \
        "$BIN" serve >"$dir/server.log" 2>&1 &
    server_pid=$!
    PIDS+=("$server_pid")
    wait_for "$base/ready" "$server_pid" "$dir/server.log" || return 1

    # Connects to the simulated Network (so federation calls have a connection to use) and
    # creates the resources the generated requests point at.
    "$VENV/bin/python" scripts/api_check_seed.py "$base" "http://127.0.0.1:$sim_port" "$ADMIN_KEY" \
        "$dir/schemathesis.toml" "$(realpath "$TARGET_DIR")/api-check-cache/$backend" || return 1

    echo "== api-check ($backend): openapi-spec-validator"
    curl -fsS -o "$dir/openapi.json" "$base/openapi.json" || return 1
    "$VENV/bin/openapi-spec-validator" --validation-errors all "$dir/openapi.json" || return 1

    echo "== api-check ($backend): schemathesis, every phase, --max-examples $MAX_EXAMPLES"
    local extra=()
    if [[ -n "${API_CHECK_SEED:-}" ]]; then
        extra+=(--seed "$API_CHECK_SEED")
    fi
    if [[ -n "${API_CHECK_REPORT_DIR:-}" ]]; then
        extra+=(--report har --report-dir "$API_CHECK_REPORT_DIR/$backend")
    fi
    # In the background, so that a signal reaches the traps at once (bash runs them only after
    # a foreground child ends, and `wait` returns early).
    local status=0 st_pid
    "$VENV/bin/schemathesis" --config-file "$dir/schemathesis.toml" run "$base/openapi.json" \
        --phases examples,coverage,fuzzing,stateful \
        --checks not_a_server_error,response_schema_conformance \
        --header "Authorization: Bearer $ADMIN_KEY" \
        --max-examples "$MAX_EXAMPLES" \
        --generation-database none \
        --request-timeout 10 \
        --no-color \
        "${extra[@]}" &
    st_pid=$!
    PIDS+=("$st_pid")
    wait "$st_pid" || status=$?
    if grep -qE ' ERROR |panicked' "$dir/server.log"; then
        echo "api-check ($backend): the server logged errors:" >&2
        grep -E ' ERROR |panicked' "$dir/server.log" | tail -n 40 >&2
        status=1
    fi
    if [[ "$status" -ne 0 ]]; then
        echo "api-check ($backend): FAILED; logs kept in $dir" >&2
        return "$status"
    fi
    rm -rf "$dir"
}

failed=()
for backend in $BACKENDS; do
    check_backend "$backend" || failed+=("$backend")
    cleanup
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "api-check: FAILED on ${failed[*]}" >&2
    exit 1
fi
echo "api-check: passed on $BACKENDS"
