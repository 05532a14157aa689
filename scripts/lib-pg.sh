# shellcheck shell=bash
# lib-pg.sh: start and stop a throwaway PostgreSQL for pitlane's scripts and
# compat tests. Source it from bash; it sets no shell options of its own.
#
#   pg_start DIR   initdb into DIR/data (superuser "pitlane", trust auth,
#                  UTF8, C locale), database "pitlane" created, listening on
#                  127.0.0.1 on a free port and on a unix socket in DIR/sock.
#                  Returns once the server accepts connections (pg_ctl -w, no
#                  fixed sleeps). Exports for the caller:
#                    TESTPG_DIR      DIR
#                    TESTPG_DATA     DIR/data
#                    TESTPG_HOST     127.0.0.1
#                    TESTPG_PORT     the TCP port (same port for the socket)
#                    TESTPG_SOCKDIR  DIR/sock
#                    TESTPG_LOG      DIR/postgresql.log
#                    TESTPG_USER     pitlane
#                    TESTPG_DB       pitlane
#   pg_stop DIR    fast shutdown (immediate if that fails); DIR is kept.
#   pg_psql ARGS   psql straight to the throwaway server (not via pitlane).
#   pg_mktemp      print a new temporary directory usable by the server user.
#   pg_ensure_user make sure the unprivileged user exists (when root).
#
# PostgreSQL refuses to run as root. When EUID is 0 the server runs as the
# system user $PG_TEST_USER (default pitlane-test, created with useradd
# --system when missing) through runuser; DIR is chown'ed to it. As a normal
# user the server runs as that user.
#
# Free port: a random port in 20000-32767 (below Linux's ephemeral range, so
# outgoing connections rarely take it) that python3 can bind right now (a
# /dev/tcp probe when there is no python3); if the postmaster still fails to
# start (the port was taken in between), pg_start retries with another port.
#
# Binaries come from PG_BINDIR (default /usr/lib/postgresql/15/bin).

: "${PG_BINDIR:=/usr/lib/postgresql/15/bin}"
: "${PG_TEST_USER:=pitlane-test}"
export PG_BINDIR PG_TEST_USER

pg__log() { printf 'lib-pg: %s\n' "$*" >&2; }

pg_ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id -u "$PG_TEST_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin \
            "$PG_TEST_USER" 2>/dev/null || true
        if ! id -u "$PG_TEST_USER" >/dev/null 2>&1; then
            pg__log "cannot create system user $PG_TEST_USER"
            return 1
        fi
    fi
}

# Run a command as the server's user (the unprivileged user when root).
pg_as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_TEST_USER" -- "$@"
    else
        "$@"
    fi
}

pg_mktemp() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/pitlane-pg.XXXXXX") || return 1
    if [ "$(id -u)" -eq 0 ]; then
        pg_ensure_user || return 1
        chown "$PG_TEST_USER:" "$d" || return 1
    fi
    printf '%s\n' "$d"
}

pg__port_free() {
    local p=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$p" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
    else
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

pg_free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12768))
        if pg__port_free "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
        : "$i"
    done
    pg__log "no free TCP port found"
    return 1
}

pg_start() {
    local dir=${1:?pg_start DIR}
    local data port attempt
    if [ ! -x "$PG_BINDIR/initdb" ]; then
        pg__log "no $PG_BINDIR/initdb: install postgresql-15 (scripts/deps)"
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    data=$dir/data
    if [ "$(id -u)" -eq 0 ]; then
        pg_ensure_user || return 1
        chown "$PG_TEST_USER:" "$dir" || return 1
        if ! runuser -u "$PG_TEST_USER" -- test -w "$dir"; then
            pg__log "$dir is not reachable by user $PG_TEST_USER (a parent directory is private); use pg_mktemp"
            return 1
        fi
    fi
    # The unix socket path must stay under 107 bytes.
    if [ $((${#dir} + 24)) -gt 107 ]; then
        pg__log "$dir is too long for a unix socket path"
        return 1
    fi
    (
        cd "$dir" || exit 1
        pg_as_user mkdir -p "$dir/sock" || exit 1
        pg_as_user "$PG_BINDIR/initdb" -D "$data" -U pitlane --auth=trust \
            --encoding=UTF8 --locale=C --no-sync --no-instructions \
            >"$dir/initdb.log" 2>&1 || exit 1
        pg_as_user tee -a "$data/postgresql.conf" >/dev/null <<CONF || exit 1

# throwaway test server (scripts/lib-pg.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
CONF
    ) || {
        pg__log "initdb failed; its log:"
        tail -n 30 "$dir/initdb.log" >&2 2>/dev/null
        return 1
    }
    for attempt in 1 2 3 4 5; do
        port=$(pg_free_port) || return 1
        if (cd "$dir" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$data" \
                -l "$dir/postgresql.log" -o "-p $port" -w -t 120 start \
                >"$dir/pg_ctl.log" 2>&1); then
            export TESTPG_DIR=$dir TESTPG_DATA=$data TESTPG_HOST=127.0.0.1 \
                TESTPG_PORT=$port TESTPG_SOCKDIR=$dir/sock \
                TESTPG_LOG=$dir/postgresql.log TESTPG_USER=pitlane \
                TESTPG_DB=pitlane
            if ! "$PG_BINDIR/createdb" -h "$dir/sock" -p "$port" -U pitlane \
                    -w pitlane >>"$dir/pg_ctl.log" 2>&1; then
                pg__log "createdb failed:"
                tail -n 20 "$dir/pg_ctl.log" >&2
                pg_stop "$dir"
                return 1
            fi
            return 0
        fi
        pg__log "PostgreSQL did not start on port $port (attempt $attempt)"
        : "$attempt"
    done
    pg__log "giving up; server log:"
    tail -n 30 "$dir/postgresql.log" >&2 2>/dev/null
    return 1
}

pg_stop() {
    local dir=${1:?pg_stop DIR}
    [ -f "$dir/data/postmaster.pid" ] || return 0
    (cd "$dir" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w \
        -t 60 stop >/dev/null 2>&1) && return 0
    (cd "$dir" && pg_as_user "$PG_BINDIR/pg_ctl" -D "$dir/data" \
        -m immediate -w -t 30 stop >/dev/null 2>&1) && return 0
    pg__log "could not stop PostgreSQL in $dir"
    return 1
}

pg_psql() {
    "$PG_BINDIR/psql" -X -w -v ON_ERROR_STOP=1 -h "$TESTPG_SOCKDIR" \
        -p "$TESTPG_PORT" -U pitlane -d pitlane "$@"
}

# pl_alive PID: true while PID runs. Unlike kill -0 it is false for a child
# that has exited but not been waited for yet (a zombie).
pl_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $st in
    Z* | "") return 1 ;;
    esac
    return 0
}
