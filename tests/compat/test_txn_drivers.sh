#!/usr/bin/env bash
# Real drivers through pitlane in transaction mode with fewer servers than
# clients (and the same checks in session mode, with a server per client):
# psycopg 3 (parameters, prepare=True across transactions, server-side
# cursors, COPY, SQLSTATEs, cancel, pipeline mode, per-connection session
# settings) on a pool of 2, asyncpg (50 concurrent connections with the
# default statement cache, server_settings) on a pool of 5; statement mode;
# idle_transaction_timeout, query_timeout and client_idle_timeout. The checks
# are in tests/compat/txn_drivers.py, which prints the ok / not ok lines.
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

# Debian's interpreter, where python3-psycopg and python3-asyncpg live.
PY=/usr/bin/python3
drivers=$compat_top/tests/compat/txn_drivers.py

# run_group GROUP MODE POOL: the checks of GROUP against the running pitlane.
run_group() {
    local group=$1 mode=$2 pool=$3 out rc=0 nfail
    out=$(timeout -k 5 240 "$PY" "$drivers" "$group" "$PITLANE_PORT" \
        "$TESTPG_PORT" "$mode" "$pool" 2>&1) || rc=$?
    printf '%s\n' "$out"
    nfail=$(grep -c '^not ok - ' <<<"$out" || true)
    compat_failed=$((compat_failed + nfail))
    if [ "$rc" -ne 0 ]; then
        if [ "$nfail" -eq 0 ]; then
            not_ok "$group ($mode, pool $pool): txn_drivers.py exited with status $rc"
        fi
        show_tail "$PITLANE_LOG" 20
    fi
}

compat_setup
if ! "$PY" -c 'import psycopg, asyncpg' 2>/dev/null; then
    not_ok "python3-psycopg and python3-asyncpg importable by $PY"
    exit 1
fi

for mode in transaction session; do
    if [ "$mode" = session ]; then pool=8; else pool=2; fi
    pitlane_start "$mode" DB_POOL_MAX=$pool DB_POOL_MIN=1 DB_CONNECT_TIMEOUT_MS=30000
    run_group psycopg "$mode" "$pool"
    pitlane_stop "$mode"

    if [ "$mode" = session ]; then pool=60; else pool=5; fi
    pitlane_start "$mode" DB_POOL_MAX=$pool DB_POOL_MIN=1 DB_CONNECT_TIMEOUT_MS=30000
    run_group asyncpg "$mode" "$pool"
    pitlane_stop "$mode"

    for t in idle_transaction query client_idle; do
        var=PITLANE_$(tr '[:lower:]' '[:upper:]' <<<"$t")_TIMEOUT
        pitlane_start "$mode" DB_POOL_MAX=2 DB_POOL_MIN=1 "$var=0.3"
        run_group "${t}_timeout" "$mode" 2
        pitlane_stop "$mode"
    done
done

pitlane_start statement DB_POOL_MAX=2 DB_POOL_MIN=1 DB_CONNECT_TIMEOUT_MS=30000
run_group statement statement 2
pitlane_stop statement
compat_finish
