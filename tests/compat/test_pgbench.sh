#!/usr/bin/env bash
# pgbench through pitlane: the TPC-B-like script with the simple and the
# extended query protocol, 8 clients, a fixed number of transactions, in both
# pool modes (transaction: 8 clients on 4 servers; session: a server per
# client, as a session holds its server), plus a connection per transaction
# (-C). Every run must process all transactions with zero failures, and
# PostgreSQL must never see more backends than the pool's max.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

CLIENTS=8
XACTS=150

# bench PROTOCOL XACTS [pgbench options...]
bench() {
    local proto=$1 xacts=$2 out processed failed n
    shift 2
    out=$("$PGBENCH" -n -M "$proto" -c "$CLIENTS" -j 2 -t "$xacts" "$@" \
        -h 127.0.0.1 -p "$PITLANE_PORT" -U pitlane pitlane 2>&1) || {
        printf '%s\n' "$out"
        echo "pgbench exited non-zero"
        return 1
    }
    printf '%s\n' "$out"
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+\/[0-9]+).*/\1/p' <<<"$out")
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    expect_eq "transactions processed" "$((CLIENTS * xacts))/$((CLIENTS * xacts))" "$processed" || return 1
    expect_eq "failed transactions" 0 "$failed" || return 1
    n=$(direct_backend_count) || return 1
    echo "backends after the run: $n (pool max $pool_max)"
    if [ "${PITLANE_COMPAT_DIRECT:-0}" != 1 ] && [ "$n" -gt "$pool_max" ]; then
        echo "more backends than the pool's max"
        return 1
    fi
}

compat_setup
check "pgbench -i straight to PostgreSQL" \
    "$PGBENCH" -i -s 1 -q -h "$TESTPG_SOCKDIR" -p "$TESTPG_PORT" -U pitlane pitlane

for mode in transaction session; do
    if [ "$mode" = session ]; then pool_max=$CLIENTS; else pool_max=4; fi
    pitlane_start "$mode" DB_POOL_MAX=$pool_max DB_POOL_MIN=2 \
        DB_CONNECT_TIMEOUT_MS=10000
    check "pgbench ($mode, pool max $pool_max): -M simple, $CLIENTS clients x $XACTS transactions" \
        bench simple "$XACTS"
    check "pgbench ($mode, pool max $pool_max): -M extended, $CLIENTS clients x $XACTS transactions" \
        bench extended "$XACTS"
    check "pgbench ($mode, pool max $pool_max): -M extended -S, $CLIENTS clients x $((XACTS * 4)) transactions" \
        bench extended "$((XACTS * 4))" -S
    check "pgbench ($mode, pool max $pool_max): -M simple -C (a connection per transaction)" \
        bench simple 25 -C
    pitlane_stop "$mode"
done
compat_finish
