#!/usr/bin/env bash
# Runs the whole test suite on SQLite and PostgreSQL.
# Makes sure a local PostgreSQL answers on 127.0.0.1:5432 (installs Debian's package and starts
# it if needed), then runs every test with TEST_DATABASE_URL pointing at it.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "test.sh: installing PostgreSQL (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_ready; then
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    conf="/etc/postgresql/$version/main"
    # Trust auth on loopback for the postgres user, as on the CI machines.
    if ! grep -q "openpartner-test" "$conf/pg_hba.conf" 2>/dev/null; then
        sed -i '1i host all postgres 127.0.0.1/32 trust # openpartner-test\nhost all postgres ::1/128 trust # openpartner-test' "$conf/pg_hba.conf"
    fi
    grep -q "^listen_addresses" "$conf/postgresql.conf" || echo "listen_addresses = 'localhost'" >> "$conf/postgresql.conf"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
fi
pg_ready || { echo "test.sh: PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }

cargo test --all-targets --locked "$@"
