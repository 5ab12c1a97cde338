# Sourced by scripts/test.sh and bench/run.sh: makes sure a PostgreSQL server answers on
# 127.0.0.1:5432 with trust auth for the postgres user, installing Debian's package and starting
# the cluster if needed (CI machines and fresh clones have nothing set up by hand).

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
    if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "installing PostgreSQL (Debian package)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq postgresql >/dev/null
    fi
    if ! pg_ready; then
        local version conf
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
    pg_ready || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; return 1; }
}
