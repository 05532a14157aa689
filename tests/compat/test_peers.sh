#!/usr/bin/env bash
# Faults under pgbench load (issue 15), with a write script whose every
# transaction inserts one id into two tables:
#  1. SIGTERM of pitlane during the run: every transaction pgbench saw
#     committed is in the database, none half-applied (both tables hold the
#     same ids), pitlane exits 0.
#  2. PostgreSQL stopped with -m immediate during the run and started again:
#     a client with a query in flight gets 08006, new transactions succeed
#     once PostgreSQL is back, the pool's counts return to idle, pitlane
#     exits 0.
#  3. Two peers sharing one port (so_reuseport); SIGKILL of one during a
#     pgbench -C run: afterwards every new connection through the shared
#     port is served, and the survivor exits 0 on SIGTERM.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

CLIENTS=20
POOL=8
write_script=

peer_pids=
peers_cleanup() {
    local rc=$? p
    set +e
    for p in $peer_pids; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    (exit "$rc")
    compat_cleanup
}

# rows: ids committed so far.
rows() { direct_psql -At -c "select count(*) from acked"; }

# wait_rows N: until at least N more ids are committed than now (60 s).
wait_rows() {
    local want deadline
    want=$(($(rows) + $1))
    deadline=$((SECONDS + 60))
    while [ "$(rows)" -lt "$want" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "# no progress: fewer than $want rows after 60 s"
            return 1
        fi
        sleep 0.05 # polling interval of the wait for rows
    done
}

# pgbench_bg LOG PORT [options...]: the write script in the background;
# sets bench_pid.
pgbench_bg() {
    local log=$1 port=$2
    shift 2
    timeout 120 "$PGBENCH" -n -c "$CLIENTS" -j 2 -f "$write_script" "$@" \
        -h 127.0.0.1 -p "$port" -U pitlane pitlane >"$log" 2>&1 &
    bench_pid=$!
}

processed_of() {
    sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$1"
}

# Every acknowledged commit is present and no transaction is half-applied.
acked_present() {
    local acked=$1 out a b only_one
    out=$(direct_psql -At -c "select (select count(*) from acked) || ' ' ||
        (select count(*) from acked_b) || ' ' ||
        (select count(*) from acked a full join acked_b b using (id)
          where a.id is null or b.id is null)") || return 1
    read -r a b only_one <<<"$out"
    echo "acknowledged by pitlane: $acked; in acked: $a, in acked_b: $b, in one table only: $only_one"
    [ "$acked" -gt 0 ] || { echo "nothing was acknowledged"; return 1; }
    [ "$a" -ge "$acked" ] || { echo "acknowledged commits are missing"; return 1; }
    expect_eq "rows of acked_b" "$a" "$b" || return 1
    expect_eq "ids in one table only" 0 "$only_one"
}

# bench_clean PORT XACTS [options...]: all transactions processed, none failed.
bench_clean() {
    local port=$1 xacts=$2 out processed failed
    shift 2
    out=$(timeout 120 "$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$xacts" \
        -f "$write_script" "$@" -h 127.0.0.1 -p "$port" -U pitlane pitlane 2>&1) || {
        printf '%s\n' "$out"
        return 1
    }
    printf '%s\n' "$out"
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+\/[0-9]+).*/\1/p' <<<"$out")
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
    expect_eq "transactions processed" "$((CLIENTS * xacts))/$((CLIENTS * xacts))" "$processed" || return 1
    expect_eq "failed transactions" 0 "$failed"
}

# The last `pool metrics` record (after SIGUSR1) shows nothing in use.
pool_idle() {
    local before deadline rec f
    before=$(grep -cE '"msg" *: *"pool metrics"' "$PITLANE_LOG" || true)
    kill -USR1 "$pitlane_pid"
    deadline=$((SECONDS + 10))
    while [ "$(grep -cE '"msg" *: *"pool metrics"' "$PITLANE_LOG" || true)" -le "$before" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "no pool metrics record"; return 1; }
        sleep 0.05 # polling interval of the wait for the record
    done
    rec=$(grep -E '"msg" *: *"pool metrics"' "$PITLANE_LOG" | tail -n 1)
    echo "$rec"
    for f in servers_active servers_connecting clients_active clients_waiting; do
        expect_eq "$f" 0 "$(sed -E "s/.*\"$f\" *: *([0-9]+).*/\\1/" <<<"$rec")" || return 1
    done
    n=$(sed -E 's/.*"servers_total" *: *([0-9]+).*/\1/' <<<"$rec")
    [ "$n" -le "$POOL" ] || { echo "servers_total $n above pool_max $POOL"; return 1; }
}

# The in-flight client's error names 08006.
inflight_08006() {
    cat "$1"
    grep -q '08006' "$1"
}

sleep_running() {
    [ "$(direct_psql -At -c "select count(*) from pg_stat_activity
        where state = 'active' and query like 'select pg_sleep%'")" = 1 ]
}

wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05 # polling interval
    done
}

compat_setup
trap peers_cleanup EXIT
direct_psql -q -c "create table acked (id bigint primary key);
    create table acked_b (id bigint primary key);
    create sequence acked_seq"
write_script=$compat_work/write.sql
cat >"$write_script" <<'SQL'
BEGIN;
INSERT INTO acked SELECT nextval('acked_seq');
INSERT INTO acked_b SELECT currval('acked_seq');
COMMIT;
SQL

# ---- 1. SIGTERM under load
pitlane_start transaction DB_POOL_MAX=$POOL DB_POOL_MIN=2 \
    DB_CONNECT_TIMEOUT_MS=30000
blog=$compat_work/logs/sigterm-pgbench.log
pgbench_bg "$blog" "$PITLANE_PORT" -T 60
check "SIGTERM under load: pgbench is committing" wait_rows 500
pitlane_stop "SIGTERM under load:"
wait "$bench_pid" || true
check "SIGTERM under load: every acknowledged commit present, none half-applied" \
    acked_present "$(processed_of "$blog")"

# ---- 2. PostgreSQL stopped -m immediate and restarted under load
pitlane_start transaction DB_POOL_MAX=$POOL DB_POOL_MIN=2 \
    DB_CONNECT_TIMEOUT_MS=30000
ilog=$compat_work/logs/inflight.log
pl_psql -v VERBOSITY=verbose -c "select pg_sleep(60)" >"$ilog" 2>&1 &
inflight_pid=$!
blog=$compat_work/logs/immediate-pgbench.log
pgbench_bg "$blog" "$PITLANE_PORT" -T 60
check "immediate stop: load and a long query running" \
    wait_for 30 sleep_running
wait_rows 200 || true
(cd "$TESTPG_DIR" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$TESTPG_DATA" \
    -m immediate -w stop >/dev/null)
wait "$inflight_pid" || true
check "immediate stop: the client with a query in flight got 08006" \
    inflight_08006 "$ilog"
wait "$bench_pid" || true
(cd "$TESTPG_DIR" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$TESTPG_DATA" \
    -l "$TESTPG_LOG" -o "-p $TESTPG_PORT" -w -t 120 start >/dev/null)
check "immediate stop: pitlane still running" pl_alive "$pitlane_pid"
check "immediate stop: new transactions succeed once PostgreSQL is back" \
    bench_clean "$PITLANE_PORT" 50
check "immediate stop: pool counts back to idle" pool_idle
pitlane_stop "immediate stop:"
check "immediate stop: committed transactions whole" \
    acked_present "$(rows)"

# ---- 3. SIGKILL of one of two peers sharing a port
shared=$(pg_free_port)
peers="1 = host=$compat_work/p1 port=$shared; 2 = host=$compat_work/p2 port=$shared"
mkdir -p "$compat_work/p1" "$compat_work/p2"
declare -A peer_pid peer_log
for id in 1 2; do
    peer_log[$id]=$compat_work/logs/peer-$id.log
    env DB_HOST=127.0.0.1 DB_PORT="$TESTPG_PORT" DB_USER=pitlane \
        DB_NAME=pitlane DB_SSLMODE=disable PITLANE_AUTH_TYPE=trust \
        DB_POOL_MAX=4 DB_CONNECT_TIMEOUT_MS=30000 PITLANE_SO_REUSEPORT=yes \
        PITLANE_PEER_ID=$id PITLANE_UNIX_SOCKET_DIR="$compat_work/p$id" \
        PITLANE_PEERS="$peers" \
        "$PITLANE_BIN" -a 127.0.0.1 -p "$shared" 2>"${peer_log[$id]}" &
    peer_pid[$id]=$!
    peer_pids="$peer_pids $!"
    check "peer $id listening on shared port $shared" \
        wait_for 30 grep -qE '"msg" *: *"listening"' "${peer_log[$id]}"
done
blog=$compat_work/logs/sigkill-pgbench.log
pgbench_bg "$blog" "$shared" -C -T 30
check "SIGKILL of a peer: pgbench -C is committing" wait_rows 300
kill -KILL "${peer_pid[2]}"
wait "${peer_pid[2]}" 2>/dev/null || true
wait "$bench_pid" || true
check "SIGKILL of a peer: the other serves every new connection" \
    bench_clean "$shared" 20 -C
check "SIGKILL of a peer: committed transactions whole" acked_present "$(rows)"
kill -TERM "${peer_pid[1]}"
rc=0
wait "${peer_pid[1]}" || rc=$?
peer_pids=
check "SIGKILL of a peer: the survivor exits 0 on SIGTERM" expect_eq "exit status" 0 "$rc"
compat_finish
