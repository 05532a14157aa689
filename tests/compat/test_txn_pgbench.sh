#!/usr/bin/env bash
# pgbench through pitlane in transaction mode with a pool much smaller than
# the number of clients: 32 clients on 4 servers, the TPC-B-like script and
# select-only (-S) with the simple, extended and prepared protocols (-M
# prepared: every client prepares the same statement names, which must not
# collide on the shared servers), and a custom script of pipelines
# (tests/compat/pipeline.sql, -M extended and -M prepared). Then the extended
# and prepared runs in session mode (a server per client). Every run must
# process all its transactions with no failure and no error; a sampler
# watches pg_stat_activity during the transaction-mode runs, which must never
# show more backends than the pool's max; after each mode the balances of
# the TPC-B tables must agree with the history (no statement lost or run
# twice).
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

CLIENTS=32
XACTS=100
TXN_POOL=4
pipeline_script=$compat_top/tests/compat/pipeline.sql

# Background sampler of the backend count: writes the highest count seen to
# $compat_work/max-backends until $compat_work/stop-sampler exists.
sampler_pid=
sampler_start() {
    rm -f "$compat_work/stop-sampler"
    echo 0 >"$compat_work/max-backends"
    (
        max=0
        while [ ! -e "$compat_work/stop-sampler" ]; do
            n=$(direct_backend_count 2>/dev/null) || n=
            if [ -n "$n" ] && [ "$n" -gt "$max" ]; then
                max=$n
                echo "$max" >"$compat_work/max-backends"
            fi
            sleep 0.05 # sampling interval
        done
    ) &
    sampler_pid=$!
}
sampler_stop() {
    [ -n "$sampler_pid" ] || return 0
    touch "$compat_work/stop-sampler"
    wait "$sampler_pid" || true
    sampler_pid=
}

# bench XACTS [pgbench options...]: one run; all transactions processed, no
# failure, no error line, and (transaction mode) never more than pool_max
# backends.
bench() {
    local xacts=$1 out processed failed n rc=0
    shift
    sampler_start
    out=$(timeout 300 "$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$xacts" "$@" \
        -h 127.0.0.1 -p "$PITLANE_PORT" -U pitlane pitlane 2>&1) || rc=$?
    sampler_stop
    printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        echo "pgbench exited with status $rc"
        return 1
    fi
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+\/[0-9]+).*/\1/p' <<<"$out")
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    expect_eq "transactions processed" "$((CLIENTS * xacts))/$((CLIENTS * xacts))" "$processed" || return 1
    expect_eq "failed transactions" 0 "$failed" || return 1
    if grep -qi 'error' <<<"$out"; then
        echo "pgbench printed errors"
        return 1
    fi
    n=$(cat "$compat_work/max-backends")
    echo "most backends seen during the run: $n (pool max $pool_max)"
    if [ "${PITLANE_COMPAT_DIRECT:-0}" != 1 ] && [ "$n" -gt "$pool_max" ]; then
        echo "more backends than the pool's max"
        return 1
    fi
    if [ "$n" -lt 1 ]; then
        echo "the sampler saw no backend at all"
        return 1
    fi
}

# The TPC-B tables agree: every delta in the history was applied exactly
# once to an account, a teller and a branch (balances start at 0).
balances_agree() {
    local out
    out=$(direct_psql -At -c "select (select coalesce(sum(delta), 0) from pgbench_history)
        || ' ' || (select sum(abalance) from pgbench_accounts)
        || ' ' || (select sum(tbalance) from pgbench_tellers)
        || ' ' || (select sum(bbalance) from pgbench_branches)
        || ' ' || (select count(*) from pgbench_history)") || return 1
    echo "history sum, account sum, teller sum, branch sum, history rows: $out"
    read -r h a t b rows <<<"$out"
    expect_eq "account balances" "$h" "$a" || return 1
    expect_eq "teller balances" "$h" "$t" || return 1
    expect_eq "branch balances" "$h" "$b" || return 1
    expect_eq "history rows" "$expected_history" "$rows" || return 1
}

compat_setup
check "pgbench -i straight to PostgreSQL" \
    "$PGBENCH" -i -s 1 -q -h "$TESTPG_SOCKDIR" -p "$TESTPG_PORT" -U pitlane pitlane

expected_history=0
for mode in transaction session; do
    if [ "$mode" = session ]; then
        pool_max=$CLIENTS
        protocols="extended prepared"
    else
        pool_max=$TXN_POOL
        protocols="simple extended prepared"
    fi
    pitlane_start "$mode" DB_POOL_MAX=$pool_max DB_POOL_MIN=1 \
        DB_CONNECT_TIMEOUT_MS=30000
    what="($mode, $CLIENTS clients, pool max $pool_max)"
    for proto in $protocols; do
        check "pgbench $what: -M $proto TPC-B, $XACTS transactions each" \
            bench "$XACTS" -M "$proto"
        expected_history=$((expected_history + CLIENTS * XACTS))
        check "pgbench $what: -M $proto select-only, $((XACTS * 2)) transactions each" \
            bench "$((XACTS * 2))" -M "$proto" -S
    done
    for proto in extended prepared; do
        check "pgbench $what: -M $proto pipeline script (\\startpipeline/\\endpipeline)" \
            bench "$XACTS" -M "$proto" -f "$pipeline_script"
        expected_history=$((expected_history + CLIENTS * XACTS))
    done
    check "pgbench $what: balances agree with the history" balances_agree
    pitlane_stop "$mode"
done
compat_finish
