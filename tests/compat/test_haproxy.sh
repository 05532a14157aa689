#!/usr/bin/env bash
# pitlane behind HAProxy (Debian's haproxy, TCP mode, round-robin, health
# checks against pitlane's /readyz) in front of two pitlane processes on
# their own ports,
# peers of each other for cancels: pgbench at 50 clients through HAProxy
# with no failed transaction, and 20 cancels out of 20 (psql's Ctrl-C,
# SIGINT) reaching their query; one pitlane taken away with SIGTERM during
# a pgbench -C run fails no transaction. Round-robin sends each cancel connection to
# the other process than its query's, so every cancel is forwarded. A
# pitlane paused from its console answers /readyz with 503: HAProxy takes it
# out of rotation and every new connection is served by the other one.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

CLIENTS=50
XACTS=100
ROUNDS=20

if ! command -v haproxy >/dev/null 2>&1; then
    echo "not ok - HAProxy tests: haproxy is not installed (scripts/deps installs it)"
    exit 1
fi

bg_pids=
hap_cleanup() {
    local rc=$? p
    set +e
    for p in $bg_pids; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    (exit "$rc")
    compat_cleanup
}

wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05 # polling interval
    done
}

hap_psql() {
    "$PSQL" -X -w -h 127.0.0.1 -p "$hap_port" -U pitlane -d pitlane "$@"
}

hap_ready() { [ "$(hap_psql -At -c 'select 1' 2>/dev/null)" = 1 ]; }

console() {
    "$PSQL" -X -w -h 127.0.0.1 -p "${port[$1]}" -U pitlane -d pgbouncer \
        -c "$2"
}

readyz_status() {
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${http[$1]}/readyz"
}

# HAProxy prints each server state change on stderr: "Server
# pitlane/pitlane2 is DOWN" / "... is UP". The newest one counts.
hap_says() {
    [ "$(grep -oE "Server pitlane/$1 is (UP|DOWN)" \
        "$compat_work/logs/haproxy.log" | tail -n 1)" = \
        "Server pitlane/$1 is $2" ]
}

both_up() {
    curl -sf "http://127.0.0.1:${http[1]}/readyz" >/dev/null &&
        curl -sf "http://127.0.0.1:${http[2]}/readyz" >/dev/null &&
        ! hap_says pitlane1 DOWN && ! hap_says pitlane2 DOWN
}

served_through_hap() {
    local i n=0
    for i in $(seq 1 "$1"); do
        if [ "$(PGCONNECT_TIMEOUT=10 timeout 15 "$PSQL" -X -w -h 127.0.0.1 \
            -p "$hap_port" -U pitlane -d pitlane -At \
            -c 'select 1' 2>&1)" = 1 ]; then
            n=$((n + 1))
        fi
    done
    expect_eq "connections served" "$1" "$n"
}

sleep_running() {
    [ "$(direct_psql -At -c "select count(*) from pg_stat_activity
        where state = 'active' and query like 'select pg_sleep%'")" = 1 ]
}

# One round: psql runs a long query through HAProxy and gets SIGINT, which
# makes it send a CancelRequest, again through HAProxy.
cancel_round() {
    local log=$compat_work/logs/cancel-round.log pid
    # psql itself, not a function's subshell, must get the SIGINT
    "$PSQL" -X -w -h 127.0.0.1 -p "$hap_port" -U pitlane -d pitlane \
        -v VERBOSITY=verbose -c "select pg_sleep(8)" >"$log" 2>&1 &
    pid=$!
    wait_for 10 sleep_running || { echo "the query never ran"; return 1; }
    kill -INT "$pid"
    wait "$pid" || true
    cat "$log"
    grep -q 57014 "$log"
}

cancels_reach() {
    local i n=0
    for i in $(seq 1 "$ROUNDS"); do
        if cancel_round; then
            n=$((n + 1))
        fi
    done
    echo "$n of $ROUNDS cancels reached their query"
    expect_eq "cancels that reached their query" "$ROUNDS" "$n"
}

bench50() {
    local out processed failed
    out=$(timeout 300 "$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$XACTS" \
        -h 127.0.0.1 -p "$hap_port" -U pitlane pitlane 2>&1) || {
        printf '%s\n' "$out"
        return 1
    }
    printf '%s\n' "$out"
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+\/[0-9]+).*/\1/p' <<<"$out")
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    expect_eq "transactions processed" "$((CLIENTS * XACTS))/$((CLIENTS * XACTS))" "$processed" || return 1
    expect_eq "failed transactions" 0 "$failed"
}

compat_setup
trap hap_cleanup EXIT
check "pgbench -i straight to PostgreSQL" \
    "$PGBENCH" -i -s 1 -q -h "$TESTPG_SOCKDIR" -p "$TESTPG_PORT" -U pitlane pitlane

declare -A port http pl_pid
for id in 1 2; do
    port[$id]=$(pg_free_port)
    http[$id]=$(pg_free_port)
    mkdir -p "$compat_work/p$id"
done
# Peer 1 by TCP address (as across hosts), peer 2 by unix socket directory.
peers="1 = host=127.0.0.1 port=${port[1]}; 2 = host=$compat_work/p2 port=${port[2]}"
for id in 1 2; do
    log=$compat_work/logs/pitlane-$id.log
    env DB_HOST=127.0.0.1 DB_PORT="$TESTPG_PORT" DB_USER=pitlane \
        DB_NAME=pitlane DB_SSLMODE=disable PITLANE_AUTH_TYPE=trust \
        DB_POOL_MAX=10 DB_CONNECT_TIMEOUT_MS=30000 PITLANE_PEER_ID=$id \
        PITLANE_UNIX_SOCKET_DIR="$compat_work/p$id" PITLANE_PEERS="$peers" \
        PITLANE_HTTP_PORT="${http[$id]}" PITLANE_ADMIN_USERS=pitlane \
        "$PITLANE_BIN" -a 127.0.0.1 -p "${port[$id]}" 2>"$log" &
    pl_pid[$id]=$!
    bg_pids="$bg_pids $!"
    check "pitlane $id listening on port ${port[$id]}" \
        wait_for 30 grep -qE '"msg" *: *"listening"' "$log"
done

hap_port=$(pg_free_port)
cat >"$compat_work/haproxy.cfg" <<CFG
global
    maxconn 1000

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    retries 3
    option redispatch

frontend postgres
    bind 127.0.0.1:$hap_port
    default_backend pitlane

backend pitlane
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    server pitlane1 127.0.0.1:${port[1]} check port ${http[1]}
    server pitlane2 127.0.0.1:${port[2]} check port ${http[2]}
CFG
haproxy -f "$compat_work/haproxy.cfg" -db >"$compat_work/logs/haproxy.log" 2>&1 &
bg_pids="$bg_pids $!"
check "HAProxy (port $hap_port) passes connections to pitlane" wait_for 30 hap_ready
check "HAProxy's /readyz checks find both pitlanes up" wait_for 30 both_up
check "pgbench through HAProxy: $CLIENTS clients, TPC-B, $XACTS transactions each, none failed" \
    bench50
check "cancels through HAProxy reach their query $ROUNDS times out of $ROUNDS" \
    cancels_reach
fwd=0
for id in 1 2; do
    n=$(grep -cE '"msg" *: *"cancel request forwarded to peer"' \
        "$compat_work/logs/pitlane-$id.log" || true)
    fwd=$((fwd + n))
done
echo "# cancels forwarded between the two processes: $fwd"
check "some cancels were forwarded between the processes" test "$fwd" -gt 0

# PAUSE on pitlane 2's console: its /readyz answers 503, HAProxy marks it
# down, and every new connection through HAProxy is served (a connection
# sent to the paused process would wait until RESUME and time out here).
check "PAUSE on pitlane 2's console" console 2 PAUSE
check "paused pitlane 2 answers /readyz with 503" \
    expect_eq "/readyz status" 503 "$(readyz_status 2)"
check "HAProxy marks the paused pitlane 2 down" \
    wait_for 30 hap_says pitlane2 DOWN
check "with pitlane 2 paused, 20 connections through HAProxy are all served" \
    served_through_hap 20
check "RESUME on pitlane 2's console" console 2 RESUME
check "HAProxy marks pitlane 2 up again after RESUME" \
    wait_for 30 hap_says pitlane2 UP

# Taking pitlane 2 away (SIGTERM drain) during a pgbench -C run: its
# listener closes at once, HAProxy sends new connections to pitlane 1, and
# the transactions in flight on pitlane 2 finish.
# No transaction fails. A client still logging in to pitlane 2 when the
# SIGTERM arrives is told 57P01 (pgbench then aborts that client, exit
# status 2): its connection attempt fails, not a transaction, and the
# reconnect check below covers what it would do next.
drain_run() {
    local out failed processed
    out=$(timeout 120 "$PGBENCH" -n -C -c 10 -j 2 -T 10 \
        -h 127.0.0.1 -p "$hap_port" -U pitlane pitlane 2>&1) || true
    printf '%s\n' "$out"
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out")
    [ "${processed:-0}" -gt 0 ] || { echo "nothing processed"; return 1; }
    expect_eq "failed transactions" 0 "$failed"
}
reconnects() {
    local out
    out=$(timeout 120 "$PGBENCH" -n -C -c 10 -j 2 -t 50 \
        -h 127.0.0.1 -p "$hap_port" -U pitlane pitlane 2>&1) || {
        printf '%s\n' "$out"
        return 1
    }
    printf '%s\n' "$out"
    expect_eq "transactions processed" "500/500" \
        "$(sed -nE 's/^number of transactions actually processed: ([0-9]+\/[0-9]+).*/\1/p' <<<"$out")"
}
history_rows() { direct_psql -At -c 'select count(*) from pgbench_history'; }
history_above() { [ "$(history_rows)" -gt "$1" ]; }
drain_from=$(history_rows)
drain_log=$compat_work/logs/drain.log
drain_run >"$drain_log" 2>&1 &
drain_pid=$!
check "drain: pgbench -C through HAProxy is committing" \
    wait_for 30 history_above $((drain_from + 500))
kill -TERM "${pl_pid[2]}"
rc=0
wait "${pl_pid[2]}" || rc=$?
check "drain: pitlane 2 exits 0 on SIGTERM" expect_eq "exit status" 0 "$rc"
rc=0
wait "$drain_pid" || rc=$?
sed 's/^/#   /' "$drain_log" | grep -E 'aborted|processed|failed trans' || true
check "drain: no transaction failed for clients reconnecting through HAProxy" \
    expect_eq "drain run" 0 "$rc"
check "drain: afterwards every connection through HAProxy is served" reconnects
kill -TERM "${pl_pid[1]}"
rc=0
wait "${pl_pid[1]}" || rc=$?
check "pitlane 1 exits 0 on SIGTERM" expect_eq "exit status" 0 "$rc"
bg_pids=${bg_pids/${pl_pid[1]}/}
bg_pids=${bg_pids/${pl_pid[2]}/}
compat_finish
