#!/usr/bin/env bash
# Observability through the real daemon (issue 13): the HTTP endpoint under
# pgbench (a live scrape passes promtool; counters are monotonic, the
# histograms count what pgbench ran, gauges return to idle), /readyz across
# a PostgreSQL stop and start and during shutdown, 1,000 probes without a
# backend connection, hostile HTTP clients while pgbench runs (descriptors
# back to baseline afterwards), systemd notifications on a fake
# NOTIFY_SOCKET, and etc/pitlane.service checked by systemd-analyze.
# The HTTP and socket work is in tests/compat/observe.py.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
helper=$compat_top/tests/compat/observe.py
CONNECT_TIMEOUT_MS=2000
HTTP_PORT=

# http_start: the HTTP port from the "http listening" record.
http_port_of_log() {
    grep -m1 '"msg":"http listening"' "$PITLANE_LOG" |
        sed -E 's/.*"port":([0-9]+).*/\1/'
}

# status PATH: the HTTP status of one GET (000 when refused).
status() {
    curl -s -o /dev/null -m 10 -w '%{http_code}' \
        "http://127.0.0.1:$HTTP_PORT$1" || true
}

# wait_status PATH CODE SECONDS: poll until PATH answers CODE; prints the
# milliseconds it took. Fails after SECONDS.
wait_status() {
    local path=$1 want=$2 limit=$3 t0 got
    t0=$(date +%s%N)
    while :; do
        got=$(status "$path")
        [ "$got" = "$want" ] && break
        if [ $((($(date +%s%N) - t0) / 1000000000)) -ge "$limit" ]; then
            echo "$path: still $got after ${limit}s, wanted $want"
            return 1
        fi
        sleep 0.05 # polling interval of the wait for the status
    done
    echo $((($(date +%s%N) - t0) / 1000000))
}

scrape() { curl -sf -m 10 "http://127.0.0.1:$HTTP_PORT/metrics" >"$1"; }

# value FILE SERIES: the sample of one series (exact name and labels).
value() {
    awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }' "$1"
}

L='{database="pitlane",user="pitlane"}'
lab() { printf '{database="pitlane",user="pitlane",%s}' "$1"; }

check_unit_file() {
    local unit=$compat_work/pitlane.service
    command -v systemd-analyze >/dev/null || {
        echo "systemd-analyze missing (scripts/deps installs systemd)"
        return 1
    }
    # The unit names /usr/sbin/pitlane; verify it against this build. Our
    # man pages are not installed here (--man=no). Any message fails: a bad
    # value is only warned about, with exit status 0.
    sed "s|/usr/sbin/pitlane|$PITLANE_BIN|g" "$compat_top/etc/pitlane.service" >"$unit"
    systemd-analyze verify --man=no "$unit" >"$compat_work/verify.log" 2>&1 || {
        cat "$compat_work/verify.log"
        return 1
    }
    cat "$compat_work/verify.log"
    ! grep -q . "$compat_work/verify.log"
}

check_promtool_idle() {
    scrape "$compat_work/m0.txt" || return 1
    promtool check metrics <"$compat_work/m0.txt" || return 1
    expect_eq "build info" 1 "$(grep -c '^pitlane_build_info{version="' "$compat_work/m0.txt")" || return 1
    expect_eq "ready" 1 "$(value "$compat_work/m0.txt" "pitlane_ready$L")" || return 1
}

check_health() {
    expect_eq "/healthz" 200 "$(status /healthz)" || return 1
    expect_eq "/readyz" 200 "$(status /readyz)" || return 1
    expect_eq "/nope" 404 "$(status /nope)" || return 1
}

# Every counter and histogram series of $1 is <= the same series in $2.
monotonic() {
    awk 'FNR == NR { if ($1 !~ /^#/) before[$1] = $2; next }
         $1 ~ /^#/ { next }
         $1 ~ /_total\{|_bucket\{|_sum\{|_count\{/ && ($1 in before) && $2 + 0 < before[$1] + 0 {
             print "went down: " $1 " " before[$1] " -> " $2; bad = 1 }
         END { exit bad }' "$1" "$2"
}

# delta BEFORE AFTER SERIES: how much an integer series grew ("bad" when a
# file lacks it, which no expected number matches).
delta() {
    local a b
    a=$(value "$1" "$3")
    b=$(value "$2" "$3")
    if [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then
        echo $((b - a))
    else
        echo "bad($3: $a -> $b)"
    fi
}

check_pgbench_metrics() {
    local a=$compat_work/m1.txt b=$compat_work/m2.txt out processed n
    scrape "$a" || return 1
    out=$("$PGBENCH" -n -c 4 -j 2 -t 250 -f "$compat_work/xact.sql" \
        -h 127.0.0.1 -p "$PITLANE_PORT" -U pitlane pitlane 2>&1)
    printf '%s\n' "$out"
    processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+)\/.*/\1/p' <<<"$out")
    expect_eq "processed" 1000 "$processed" || return 1
    # Gauges back to idle once every client has gone.
    for _ in $(seq 200); do
        scrape "$b" || return 1
        [ "$(value "$b" "pitlane_clients$(lab 'state="active"')")" = 0 ] &&
            [ "$(value "$b" "pitlane_clients$(lab 'state="idle"')")" = 0 ] &&
            [ "$(value "$b" "pitlane_servers$(lab 'state="active"')")" = 0 ] &&
            [ "$(value "$b" "pitlane_servers$(lab 'state="used"')")" = 0 ] && break
        sleep 0.05 # polling interval of the wait for idle gauges
    done
    promtool check metrics <"$b" || return 1
    monotonic "$a" "$b" || return 1
    expect_eq "clients waiting" 0 "$(value "$b" "pitlane_clients$(lab 'state="waiting"')")" || return 1
    expect_eq "clients active" 0 "$(value "$b" "pitlane_clients$(lab 'state="active"')")" || return 1
    expect_eq "servers active" 0 "$(value "$b" "pitlane_servers$(lab 'state="active"')")" || return 1
    expect_eq "servers used" 0 "$(value "$b" "pitlane_servers$(lab 'state="used"')")" || return 1
    # pgbench's transactions, each of 4 queries (xact.sql), and nothing else.
    expect_eq "transactions_total" "$processed" "$(delta "$a" "$b" "pitlane_transactions_total$L")" || return 1
    expect_eq "transaction histogram count" "$processed" \
        "$(delta "$a" "$b" "pitlane_transaction_duration_seconds_count$L")" || return 1
    expect_eq "transaction +Inf bucket" "$processed" \
        "$(delta "$a" "$b" "pitlane_transaction_duration_seconds_bucket$(lab 'le="+Inf"')")" || return 1
    expect_eq "queries_total" $((4 * processed)) "$(delta "$a" "$b" "pitlane_queries_total$L")" || return 1
    expect_eq "query histogram count" $((4 * processed)) \
        "$(delta "$a" "$b" "pitlane_query_duration_seconds_count$L")" || return 1
    expect_eq "wait histogram = assignments" \
        "$(delta "$a" "$b" "pitlane_server_assignments_total$L")" \
        "$(delta "$a" "$b" "pitlane_client_wait_seconds_count$L")" || return 1
    n=$(delta "$a" "$b" "pitlane_server_assignments_total$L")
    if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt "$processed" ]; then
        echo "assignments $n < $processed"
        return 1
    fi
    # pgbench's 4 clients and its first connection.
    expect_eq "logins" 5 "$(delta "$a" "$b" "pitlane_client_logins_total$L")" || return 1
    for s in pitlane_client_received_bytes_total pitlane_client_sent_bytes_total; do
        [[ $(delta "$a" "$b" "$s$L") =~ ^[1-9][0-9]*$ ]] || { echo "$s did not grow"; return 1; }
    done
    # Transactions take time: the sum grew and not every one is <= 10 µs.
    [ "$(value "$b" "pitlane_transaction_duration_seconds_bucket$(lab 'le="1e-05"')")" -lt \
        "$(value "$b" "pitlane_transaction_duration_seconds_count$L")" ] || return 1
}

check_login_failure_and_cancel() {
    local a=$compat_work/m3.txt b=$compat_work/m4.txt r
    scrape "$a" || return 1
    if "$PSQL" -X -w -h 127.0.0.1 -p "$PITLANE_PORT" -U pitlane -d nosuchdb \
        -c 'select 1' >/dev/null 2>&1; then
        echo "login to nosuchdb succeeded"
        return 1
    fi
    r=$("$PY" "$helper" cancel "$PITLANE_PORT" "$TESTPG_PORT")
    expect_eq "query canceled" canceled "$r" || return 1
    scrape "$b" || return 1
    expect_eq "failed logins (database)" 1 \
        "$(delta "$a" "$b" "pitlane_client_login_failures_total$(lab 'reason="database"')")" || return 1
    expect_eq "cancel requests" 1 "$(delta "$a" "$b" "pitlane_cancel_requests_total$L")" || return 1
}

backends() { direct_backend_count; }

check_probes() {
    local a=$compat_work/m5.txt b=$compat_work/m6.txt before after out
    scrape "$a" || return 1
    before=$(backends)
    out=$("$PY" "$helper" probe "$HTTP_PORT" /readyz 1000)
    echo "$out"
    expect_eq "1000 probes" "200 1000" "$out" || return 1
    after=$(backends)
    scrape "$b" || return 1
    expect_eq "backends" "$before" "$after" || return 1
    expect_eq "server connects during the probes" 0 \
        "$(delta "$a" "$b" "pitlane_server_connects_total$L")" || return 1
}

# Descriptors of pitlane other than its server connections (the pool may
# grow or shrink meanwhile).
fds() { "$PY" "$helper" fds "$pitlane_pid" "$TESTPG_PORT"; }

check_hostile() {
    local out base ready=$compat_work/idle.ready idle_pid rc=0 line
    out=$("$PY" "$helper" hostile "$HTTP_PORT")
    echo "$out"
    for line in "huge_header 400" "many_headers 400" "huge_uri 400" \
        "garbage 400" "head 200" "not_found 404"; do
        grep -qx "$line" <<<"$out" || { echo "expected: $line"; rc=1; }
    done
    for m in post delete bad_method; do
        grep -qE "^$m (405|413|501)$" <<<"$out" || { echo "$m not refused"; rc=1; }
    done
    base=$(fds)
    "$PY" "$helper" idle "$HTTP_PORT" 1000 "$ready" &
    idle_pid=$!
    while [ ! -s "$ready" ]; do
        kill -0 "$idle_pid" 2>/dev/null || { echo "idle helper died"; return 1; }
        sleep 0.05 # polling interval of the wait for the helper
    done
    cat "$ready"
    # All but the served ones were closed at once.
    read -r _ n _ eof <"$ready"
    [ "$eof" -ge $((n - 64)) ] || { echo "only $eof of $n closed"; rc=1; }
    # The pool serves pgbench meanwhile.
    "$PGBENCH" -n -c 4 -j 2 -t 100 -f "$compat_work/xact.sql" -h 127.0.0.1 \
        -p "$PITLANE_PORT" -U pitlane pitlane >"$compat_work/pgbench-hostile.log" 2>&1 ||
        { cat "$compat_work/pgbench-hostile.log"; rc=1; }
    grep -q "actually processed: 400/400" "$compat_work/pgbench-hostile.log" || rc=1
    kill "$idle_pid"
    wait "$idle_pid" 2>/dev/null || true
    # Descriptors back to the baseline (closed sockets go within a sweep).
    for _ in $(seq 400); do
        [ "$(fds)" -le "$base" ] && break
        sleep 0.05 # polling interval of the wait for the descriptors
    done
    echo "descriptors: baseline $base, now $(fds)"
    [ "$(fds)" -le "$base" ] || rc=1
    expect_eq "/healthz after" 200 "$(status /healthz)" || return 1
    return "$rc"
}

pg_restart() {
    (cd "$TESTPG_DIR" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$TESTPG_DATA" \
        -l "$TESTPG_LOG" -o "-p $TESTPG_PORT" -w -t 60 start >/dev/null)
}

check_readyz_pg_down_up() {
    local ms
    pg_stop "$TESTPG_DIR"
    ms=$(wait_status /readyz 503 10) || { echo "$ms"; pg_restart; return 1; }
    echo "503 after ${ms} ms"
    curl -s "http://127.0.0.1:$HTTP_PORT/readyz"
    # The figure is printed; only the 10 s wait above bounds it (timing
    # belongs to the benchmark, and a busy machine delays the check).
    pg_restart
    ms=$(wait_status /readyz 200 30) || { echo "$ms"; return 1; }
    echo "200 again after ${ms} ms"
}

# pg_signal SIG: SIG to the postmaster and its children, by process id.
pg_signal() {
    local pm kids
    pm=$(head -n1 "$TESTPG_DATA/postmaster.pid")
    read -r -a kids <<<"$(ps -o pid= --ppid "$pm" | tr '\n' ' ')"
    kill "-$1" "$pm" "${kids[@]}"
}

# SIGHUP: a reload, which systemd hears about as RELOADING=1 then READY=1.
check_reload_notify() {
    local f=$compat_work/notify.out
    kill -HUP "$pitlane_pid"
    for _ in $(seq 200); do
        awk '/^RELOADING=1/ { r = NR } /^READY=1$/ && r { ok = 1 } END { exit !ok }' "$f" && break
        sleep 0.05 # polling interval of the wait for the notification
    done
    awk '/^RELOADING=1\\nMONOTONIC_USEC=[0-9]+$/ { r = NR }
         /^READY=1$/ && r && NR > r { ok = 1 } END { exit !ok }' "$f" || { cat "$f"; return 1; }
    expect_eq "/readyz after the reload" 200 "$(status /readyz)" || return 1
}

# A database that stops answering without closing connections (here: its
# processes stopped): the probe on the idle pool gets no answer.
check_readyz_pg_frozen() {
    local ms rc=0
    wait_status /readyz 200 10 >/dev/null || return 1
    pg_signal STOP
    ms=$(wait_status /readyz 503 10) || rc=1
    echo "503 after ${ms} ms"
    curl -s "http://127.0.0.1:$HTTP_PORT/readyz" | tee "$compat_work/frozen.json"
    pg_signal CONT
    [ "$rc" = 0 ] || return 1
    grep -q 'did not answer' "$compat_work/frozen.json" || return 1
    # How fast is timing, not correctness: the figure is printed, and only
    # the 10 s wait above bounds it (a busy machine delays the check).
    ms=$(wait_status /readyz 200 10) || { echo "$ms"; return 1; }
    echo "200 again after ${ms} ms"
}

check_notify() {
    local f=$compat_work/notify.out
    echo "--- notifications:"
    cat "$f"
    # READY=1 first, STATUS= lines after it, STOPPING=1 after them (a
    # reload in between adds RELOADING=1 and READY=1).
    awk '/^READY=1$/ && !r { r = NR }
         /^STATUS=pool pitlane: clients / && r && !s { s = NR }
         /^STOPPING=1$/ && s { t = NR }
         END { exit !(r && s && t && r < s && s < t) }' "$f"
}

check_readyz_shutdown() {
    local sess=$compat_work/sess.sql pid rc=0
    # A client inside a transaction keeps the shutdown draining.
    printf 'begin;\nselect 1;\n\\! touch %s/in-xact\nselect pg_sleep(60);\n' \
        "$compat_work" >"$sess"
    pl_psql -f "$sess" >/dev/null 2>&1 &
    pid=$!
    while [ ! -e "$compat_work/in-xact" ]; do sleep 0.05; done # polling for the client
    kill -TERM "$pitlane_pid"
    wait_status /readyz 503 5 >/dev/null || rc=1
    curl -s "http://127.0.0.1:$HTTP_PORT/readyz" | tee "$compat_work/readyz.json"
    grep -q '"reason":"shutting down"' "$compat_work/readyz.json" || rc=1
    expect_eq "/healthz while draining" 200 "$(status /healthz)" || rc=1
    direct_psql -c "select pg_cancel_backend(pid) from pg_stat_activity
        where query like 'select pg_sleep(60)%'" >/dev/null
    wait "$pid" 2>/dev/null || true
    return "$rc"
}

# pitlane_wait_exit: the SIGTERM was sent already; exit 0 within 40 s.
pitlane_wait_exit() {
    local rc deadline=$((SECONDS + 40))
    while pl_alive "$pitlane_pid" && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.05 # polling interval of the wait for the exit
    done
    set +e
    wait "$pitlane_pid"
    rc=$?
    set -e
    pitlane_pid=
    expect_eq "exit status" 0 "$rc" || return 1
    grep -q '"msg":"shutdown complete"' "$PITLANE_LOG"
}

compat_setup
check "etc/pitlane.service passes systemd-analyze verify" check_unit_file
printf 'begin;\nselect 1;\nselect 2;\nend;\n' >"$compat_work/xact.sql"
# Fake systemd: a datagram socket the test owns.
"$PY" "$helper" notify-listen "$compat_work/notify.sock" "$compat_work/notify.out" &
notify_pid=$!
while ! grep -q LISTENING "$compat_work/notify.out" 2>/dev/null; do sleep 0.05; done # polling for the socket
pitlane_start transaction DB_POOL_MAX=4 DB_CONNECT_TIMEOUT_MS=$CONNECT_TIMEOUT_MS \
    PITLANE_HTTP_PORT=0 PITLANE_STATS_PERIOD=1 NOTIFY_SOCKET="$compat_work/notify.sock"
HTTP_PORT=$(http_port_of_log)
echo "# HTTP on port $HTTP_PORT"
check "/readyz 200 once the pool is warm" wait_status /readyz 200 10
check "/metrics passes promtool check metrics (idle)" check_promtool_idle
check "/healthz, /readyz, 404" check_health
check "metrics follow a pgbench run" check_pgbench_metrics
check "failed login and cancel counters" check_login_failure_and_cancel
check "1000 /readyz probes, no backend connection" check_probes
check "hostile HTTP clients, pool serves meanwhile, fds back" check_hostile
check "/readyz 503 when PostgreSQL stops, 200 when it returns" check_readyz_pg_down_up
check "/readyz 503 when PostgreSQL freezes, 200 when it thaws" check_readyz_pg_frozen
check "SIGHUP: RELOADING=1 then READY=1" check_reload_notify
check "/readyz 503 while shutting down" check_readyz_shutdown
check "pitlane exits 0 after draining" pitlane_wait_exit
check "NOTIFY_SOCKET got READY=1, STATUS=, STOPPING=1 in order" check_notify
kill "$notify_pid" 2>/dev/null || true
compat_finish
