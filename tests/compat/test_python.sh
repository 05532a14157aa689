#!/usr/bin/env bash
# Debian's python3-psycopg (both pool modes) and python3-asyncpg (session
# mode: asyncpg keeps named prepared statements, which transaction mode
# supports only from a later issue) through pitlane.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

# Debian's interpreter, where python3-psycopg and python3-asyncpg live.
PY=/usr/bin/python3
clients=$compat_top/tests/compat/clients.py

py() { "$PY" "$clients" "$1" "$PITLANE_PORT" "$mode"; }

compat_setup
for mode in session transaction; do
    pitlane_start "$mode" DB_POOL_MAX=4 DB_POOL_MIN=1
    check "psycopg ($mode): parameters, many rows, errors, rollback" py psycopg_queries
    check "psycopg ($mode): autocommit, simple query" py psycopg_autocommit
    check "psycopg ($mode): COPY in and out" py psycopg_copy
    if [ "$mode" = session ]; then
        check "psycopg ($mode): named prepared statements" py psycopg_prepared
        check "asyncpg ($mode): queries, COPY, transactions, prepared statements" py asyncpg_session
    fi
    pitlane_stop "$mode"
done
compat_finish
