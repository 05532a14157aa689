#!/usr/bin/env bash
# psql through pitlane in both pool modes: simple queries, several statements
# in one query, errors inside transactions, ParameterStatus values, connection
# churn and concurrent clients on a small pool.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

POOL_MAX=4

select_one() {
    local out
    out=$(pl_psql -At -c 'select 1') || return 1
    expect_eq "select 1" 1 "$out"
}

multi_statement() {
    local out
    # one Query message with three statements: psql 15 prints each result
    out=$(pl_psql -At -c "select 1; select 'two'; select 3") || return 1
    expect_eq "three results" "1
two
3" "$out"
}

many_rows() {
    local out
    out=$(pl_psql -At -c 'select count(*), sum(g) from generate_series(1, 200000) g') || return 1
    expect_eq "count|sum" "200000|20000100000" "$out"
}

rows_out() {
    local n
    n=$(pl_psql -At -c "select g, repeat('x', 100) from generate_series(1, 50000) g" | wc -l) || return 1
    expect_eq "rows" 50000 "$n"
}

error_in_transaction() {
    local out
    out=$(pl_psql -At -v ON_ERROR_STOP=0 2>&1 <<'SQL'
\set VERBOSITY verbose
begin;
select 1/0;
select 'after error';
rollback;
select 'recovered';
SQL
) || return 1
    printf '%s\n' "$out"
    grep -q '22012' <<<"$out" || { echo "no division_by_zero error"; return 1; }
    grep -q '25P02' <<<"$out" || { echo "no in_failed_sql_transaction error"; return 1; }
    grep -qx 'recovered' <<<"$out" || { echo "no result after rollback"; return 1; }
}

error_exit_status() {
    # a failing statement makes psql exit 1 with the server's message
    local out rc
    set +e
    out=$(pl_psql -At -c 'select * from no_such_table' 2>&1)
    rc=$?
    set -e
    printf '%s\n' "$out"
    expect_eq "psql exit status" 1 "$rc" || return 1
    grep -q 'relation "no_such_table" does not exist' <<<"$out"
}

transaction_commit() {
    local out
    out=$(pl_psql -qAt <<'SQL'
begin;
create table if not exists psql_t (id int, mode text);
insert into psql_t select g, current_setting('application_name') from generate_series(1, 10) g;
commit;
select count(*) from psql_t;
drop table psql_t;
SQL
) || return 1
    expect_eq "rows committed" 10 "$out"
}

parameter_status() {
    local via direct
    via=$(pl_psql -At -c '\echo :SERVER_VERSION_NUM :ENCODING' -c 'show server_version') || return 1
    direct=$(direct_psql -At -c '\echo :SERVER_VERSION_NUM :ENCODING' -c 'show server_version') || return 1
    expect_eq "server_version_num, client_encoding, server_version" "$direct" "$via"
}

churn() {
    local i out
    for i in $(seq 1 30); do
        out=$(pl_psql -At -c "select $i") || return 1
        expect_eq "connection $i" "$i" "$out" || return 1
    done
}

concurrent() {
    local pids=() i fail=0 n
    for i in $(seq 1 10); do
        pl_psql -At -c 'select pg_sleep(0.2)' -c "select $i" >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || fail=1
    done
    [ "$fail" -eq 0 ] || { echo "a concurrent client failed"; return 1; }
    n=$(direct_backend_count) || return 1
    echo "backends after: $n"
    if [ "${PITLANE_COMPAT_DIRECT:-0}" != 1 ] && [ "$n" -gt "$POOL_MAX" ]; then
        echo "more than $POOL_MAX backends: $n"
        return 1
    fi
}

compat_setup
for mode in session transaction; do
    pitlane_start "$mode" DB_POOL_MAX=$POOL_MAX DB_POOL_MIN=1 \
        DB_CONNECT_TIMEOUT_MS=20000
    check "psql ($mode): select 1" select_one
    check "psql ($mode): three statements in one query" multi_statement
    check "psql ($mode): aggregate over 200000 rows" many_rows
    check "psql ($mode): 50000 rows out" rows_out
    check "psql ($mode): error inside a transaction, then rollback" error_in_transaction
    check "psql ($mode): failing statement gives exit 1 and the message" error_exit_status
    check "psql ($mode): transaction commits" transaction_commit
    check "psql ($mode): ParameterStatus values match PostgreSQL" parameter_status
    check "psql ($mode): 30 connections one after another" churn
    check "psql ($mode): 10 concurrent clients on pool max $POOL_MAX" concurrent
    pitlane_stop "$mode"
done
compat_finish
