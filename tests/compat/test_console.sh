#!/usr/bin/env bash
# The admin console with real clients: psql, psycopg 3, psycopg2 as
# Debian's prometheus-pgbouncer-exporter uses it (unix socket, user
# pgbouncer, no password), prometheus-community's pgbouncer_exporter
# replayed on the wire (lib/pq's startup parameters, its query sequence and
# strictness), the column layout compared with the installed PgBouncer
# 1.18's, and the runbook: pgbench at 20 clients through PAUSE, a restart
# of PostgreSQL and RESUME, with no failed transaction.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # Debian's, where python3-psycopg and -psycopg2 live
console_py=$compat_top/tests/compat/console.py
CLIENTS=20

console() { # psql on the console over TCP, as the admin user pitlane
    "$PSQL" -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PITLANE_PORT" \
        -U pitlane -d pgbouncer "$@"
}

psql_shows() {
    local cmd
    for cmd in clients config databases help lists pools servers sockets \
        active_sockets state stats stats_totals stats_averages users totals \
        mem version dns_hosts dns_zones; do
        console -c "show $cmd;" >/dev/null || {
            echo "show $cmd failed"
            return 1
        }
    done
    if console -c "show bogus;" 2>&1; then
        echo "show bogus succeeded"
        return 1
    fi
}

# PgBouncer 1.18 (Debian's, from scripts/deps) with its console on a port
# of its own; sets PGB_PORT. It refuses to run as root.
pgbouncer_start() {
    local dir=$compat_work/pgbouncer
    PGB_PORT=$(pg_free_port)
    mkdir -p "$dir"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
pitlane = host=127.0.0.1 port=$TESTPG_PORT dbname=pitlane
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = any
admin_users = pitlane
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    chown -R "$PG_TEST_USER:" "$dir" 2>/dev/null || true
    pg_as_user /usr/sbin/pgbouncer -d "$dir/pgbouncer.ini"
}
pgbouncer_stop() {
    local pid
    pid=$(cat "$compat_work/pgbouncer/pgbouncer.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
}

same_layout() {
    pgbouncer_start || return 1
    "$PY" "$console_py" same_layout "$PITLANE_PORT" "$PGB_PORT"
    local rc=$?
    pgbouncer_stop
    return $rc
}

# The runbook: pgbench runs; PAUSE (answered once every server is closed);
# PostgreSQL restarts; RESUME; pgbench ends with every transaction done.
runbook() {
    local out pid processed failed
    "$PGBENCH" -n -c "$CLIENTS" -j 4 -T 8 -h 127.0.0.1 -p "$PITLANE_PORT" \
        -U pitlane pitlane >"$compat_work/logs/runbook-pgbench.out" 2>&1 &
    pid=$!
    # pgbench is running once it has its clients
    until [ "$(console -At -c 'show pools' | awk -F'|' '$1=="pitlane"{print $3}')" = "$CLIENTS" ]; do
        pl_alive "$pid" || break
        sleep 0.05 # polling interval of the wait for pgbench's clients
    done
    console -c "PAUSE" || return 1
    echo "paused: $(console -At -c 'show pools')"
    (cd "$TESTPG_DIR" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$TESTPG_DATA" \
        -m fast -w -t 60 restart -l "$TESTPG_LOG" >/dev/null) || {
        echo "restart failed"
        return 1
    }
    console -c "RESUME" || return 1
    wait "$pid" || {
        cat "$compat_work/logs/runbook-pgbench.out"
        echo "pgbench failed"
        return 1
    }
    out=$(cat "$compat_work/logs/runbook-pgbench.out")
    printf '%s\n' "$out"
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out")
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    expect_eq "failed transactions" 0 "$failed" || return 1
    [ "${processed:-0}" -gt 0 ] || return 1
}

compat_setup
check "pgbench -i straight to PostgreSQL" \
    "$PGBENCH" -i -s 1 -q -h "$TESTPG_SOCKDIR" -p "$TESTPG_PORT" -U pitlane pitlane
sockdir=$compat_work/pl-sock
mkdir -p "$sockdir"
pitlane_start transaction DB_POOL_MAX=8 DB_POOL_MIN=2 \
    DB_CONNECT_TIMEOUT_MS=2000 PITLANE_ADMIN_USERS=pitlane \
    PITLANE_UNIX_SOCKET_DIR="$sockdir"
check "psql: every SHOW, show bogus refused" psql_shows
check "psycopg 3: every SHOW, errors as ProtocolViolation" \
    "$PY" "$console_py" psycopg3 "$PITLANE_PORT"
check "psycopg2 as Debian's exporter: unix socket, user pgbouncer, no password" \
    "$PY" "$console_py" psycopg2_exporter "$sockdir" "$PITLANE_PORT"
check "pgbouncer_exporter v0.12.1 replayed: lib/pq startup, query sequence, strictness" \
    "$PY" "$console_py" go_exporter "$PITLANE_PORT" pitlane
check "every SHOW has the columns and types of the installed PgBouncer 1.18" \
    same_layout
check "pgbench, $CLIENTS clients: PAUSE, PostgreSQL restart, RESUME, 0 failed transactions" \
    runbook
pitlane_stop transaction
compat_finish
