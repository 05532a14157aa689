# shellcheck shell=bash
# tests/compat/lib.sh: shared setup for the compat tests (tests/compat/test_*.sh).
# Each test starts a throwaway PostgreSQL (scripts/lib-pg.sh) and the real
# pitlane on an ephemeral port, drives third-party clients through it, and
# prints one TAP-style line per check ("ok - NAME" / "not ok - NAME"), which
# scripts/test counts. The test exits non-zero if any check failed.
#
# Environment:
#   PITLANE_BIN           the daemon (default: src/pitlane of this tree)
#   PG_BINDIR             PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   PITLANE_COMPAT_DIRECT=1  point the clients straight at PostgreSQL instead
#                         of pitlane: checks the tests themselves, not pitlane.

compat_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib-pg.sh
. "$compat_top/scripts/lib-pg.sh"

: "${PITLANE_BIN:=$compat_top/src/pitlane}"
PSQL=$PG_BINDIR/psql
PGBENCH=$PG_BINDIR/pgbench
export PSQL PGBENCH
export PGCONNECT_TIMEOUT=10
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS

compat_failed=0
compat_work=
pitlane_pid=
PITLANE_PORT=
PITLANE_LOG=

compat_cleanup() {
    local rc=$?
    if [ -n "$pitlane_pid" ]; then
        kill -KILL "$pitlane_pid" 2>/dev/null || true
        wait "$pitlane_pid" 2>/dev/null || true
    fi
    if [ -n "$compat_work" ]; then
        pg_stop "$compat_work/pg" || true
        if [ "$compat_failed" -eq 0 ] && [ "$rc" -eq 0 ]; then
            rm -rf "$compat_work"
        else
            echo "# work directory kept: $compat_work"
        fi
    fi
    exit "$rc"
}

# compat_setup: throwaway PostgreSQL; sets compat_work (logs in $compat_work/logs).
compat_setup() {
    trap compat_cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    if [ "${PITLANE_COMPAT_DIRECT:-0}" != 1 ] && [ ! -x "$PITLANE_BIN" ]; then
        echo "not ok - pitlane binary $PITLANE_BIN missing (build first)"
        compat_failed=1
        exit 1
    fi
    compat_work=$(pg_mktemp)
    mkdir -p "$compat_work/logs"
    pg_start "$compat_work/pg"
    echo "# PostgreSQL on port $TESTPG_PORT, work dir $compat_work"
}

ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    compat_failed=$((compat_failed + 1))
}

# Print the last lines of a file as TAP comments.
show_tail() {
    local f=$1 n=${2:-25}
    [ -s "$f" ] || return 0
    echo "# --- last lines of $f"
    tail -n "$n" "$f" | sed 's/^/#   /'
}

# check NAME CMD...: run CMD (output to a log), report ok / not ok.
check() {
    local name=$1 log
    shift
    log=$compat_work/logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_').log
    if "$@" >"$log" 2>&1; then
        ok "$name"
    else
        not_ok "$name"
        show_tail "$log"
        if [ -n "$PITLANE_LOG" ]; then show_tail "$PITLANE_LOG" 15; fi
    fi
    return 0
}

# pitlane_start MODE [VAR=VALUE ...]: start pitlane -p 0 -m MODE with the
# pool pointed at the throwaway PostgreSQL (more DB_* settings as arguments)
# and wait for its "listening" record; sets PITLANE_PORT and PITLANE_LOG.
pitlane_start() {
    local mode=$1 deadline rec
    shift
    PITLANE_LOG=$compat_work/logs/pitlane-$mode-$((++compat_starts)).log
    if [ "${PITLANE_COMPAT_DIRECT:-0}" = 1 ]; then
        PITLANE_PORT=$TESTPG_PORT
        : >"$PITLANE_LOG"
        return 0
    fi
    : >"$PITLANE_LOG"
    env DB_HOST=127.0.0.1 DB_PORT="$TESTPG_PORT" DB_USER=pitlane \
        DB_NAME=pitlane DB_SSLMODE=disable PITLANE_AUTH_TYPE=trust "$@" \
        "$PITLANE_BIN" -a 127.0.0.1 -p 0 -m "$mode" 2>"$PITLANE_LOG" &
    pitlane_pid=$!
    deadline=$((SECONDS + 30))
    while :; do
        rec=$(grep -m1 -E '"msg" *: *"listening"' "$PITLANE_LOG" || true)
        [ -n "$rec" ] && break
        if ! pl_alive "$pitlane_pid" || [ "$SECONDS" -ge "$deadline" ]; then
            not_ok "pitlane ($mode) started and listening"
            show_tail "$PITLANE_LOG"
            exit 1
        fi
        sleep 0.05 # polling interval of the wait for the record
    done
    PITLANE_PORT=$(sed -E 's/.*"port" *: *([0-9]+).*/\1/' <<<"$rec")
    echo "# pitlane ($mode) pid $pitlane_pid listening on port $PITLANE_PORT"
}
compat_starts=0

# pitlane_stop: SIGTERM, expect exit 0 within 40 s and a "shutdown complete"
# record; reported as one check.
pitlane_stop() {
    local mode=$1 rc deadline
    if [ "${PITLANE_COMPAT_DIRECT:-0}" = 1 ]; then
        ok "pitlane ($mode) SIGTERM: exit 0, shutdown complete [direct: skipped]"
        return 0
    fi
    kill -TERM "$pitlane_pid"
    # wait for the exit, bounded: pitlane's own shutdown_timeout_ms is 30 s
    deadline=$((SECONDS + 40))
    while pl_alive "$pitlane_pid" && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.05 # polling interval of the wait for the exit
    done
    if pl_alive "$pitlane_pid"; then
        echo "# pitlane still running 40 s after SIGTERM: killing it"
        kill -KILL "$pitlane_pid" 2>/dev/null || true
    fi
    set +e
    wait "$pitlane_pid"
    rc=$?
    set -e
    pitlane_pid=
    if [ "$rc" -eq 0 ] && grep -qE '"msg" *: *"shutdown complete"' "$PITLANE_LOG"; then
        ok "pitlane ($mode) SIGTERM: exit 0, shutdown complete"
    else
        not_ok "pitlane ($mode) SIGTERM: exit 0, shutdown complete (exit status $rc)"
        show_tail "$PITLANE_LOG"
    fi
}

# psql through pitlane / straight to PostgreSQL (TCP for both).
pl_psql() {
    "$PSQL" -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PITLANE_PORT" \
        -U pitlane -d pitlane "$@"
}
# direct_psql names itself (application_name) so that direct_backend_count
# can leave its backends out: PostgreSQL shows a backend until it has
# exited, a moment after psql, so a count taken right after another
# direct_psql (the sampler of test_txn_pgbench.sh, every 50 ms) could
# include that one's backend, which is not pitlane's.
direct_app=pitlane-compat-direct
direct_psql() {
    PGAPPNAME=$direct_app "$PSQL" -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$TESTPG_PORT" -U pitlane -d pitlane "$@"
}

# expect_eq WHAT EXPECTED ACTUAL: for use inside check functions.
expect_eq() {
    if [ "$2" != "$3" ]; then
        printf '%s: expected [%s], got [%s]\n' "$1" "$2" "$3"
        return 1
    fi
}

# Backends connected as pitlane now: client backends other than those of
# direct_psql (this one's, and earlier ones still exiting).
direct_backend_count() {
    direct_psql -At -c "select count(*) from pg_stat_activity
        where backend_type = 'client backend' and usename = 'pitlane'
          and application_name <> '$direct_app'"
}

compat_finish() {
    if [ "$compat_failed" -gt 0 ]; then
        echo "# $compat_failed check(s) failed"
        exit 1
    fi
    exit 0
}
