#!/usr/bin/env bash
# The project's test command (README.md): starts what the tests need, then runs them.
#
# - PostgreSQL: when XTASK_TEST_PG_URL is not set and a PostgreSQL server binary is installed
#   (Debian: postgresql-15), a throwaway server is started in a temp directory on a loopback
#   port with a random password, and stopped afterwards.
# Tests that need a missing service skip, unless XTASK_REQUIRE_SERVICES=1 (as in .ci/run).
#
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

start_postgres() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$initdb" ] || { echo "test.sh: no PostgreSQL server installed; PostgreSQL tests will skip" >&2; return 0; }
    local bin; bin=$(dirname "$initdb")
    PG_TMP=$(mktemp -d /tmp/xtask-pg.XXXXXX)
    local port=$(( 20000 + RANDOM % 20000 ))
    local password; password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" > "$PG_TMP/pw"
    local as=()
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres "$PG_TMP"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=scram-sha-256 \
        --pwfile="$PG_TMP/pw" >"$PG_TMP/initdb.log" 2>&1 \
        || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c fsync=off" start >/dev/null \
        || { cat "$PG_TMP/server.log" >&2; return 1; }
    PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m immediate stop)
    export XTASK_TEST_PG_URL="postgres://postgres@127.0.0.1:$port"
    export XTASK_TEST_PGPASSWORD="$password"
    echo "test.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

cleanup() {
    if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
    if [ -n "${PG_TMP:-}" ]; then rm -rf "$PG_TMP"; fi
}
trap cleanup EXIT

if [ -z "${XTASK_TEST_PG_URL:-}" ]; then
    start_postgres
fi

cargo test --workspace "$@"
