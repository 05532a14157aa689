#!/usr/bin/env bash
# COPY through pitlane in both pool modes: 100000 rows in with COPY FROM
# STDIN, out with COPY TO STDOUT (text and binary) compared by md5 with the
# input and with the same COPY made straight to PostgreSQL; a failing COPY,
# a COPY rolled back, and a client that goes away in the middle of a COPY
# all leave the pool healthy.
# shellcheck disable=SC2317 # check functions are called through check()
set -euo pipefail
# shellcheck source=tests/compat/lib.sh
. "$(dirname "$0")/lib.sh"

ROWS=100000

md5() { md5sum | cut -d' ' -f1; }

copy_in() {
    local out
    out=$(pl_psql -c "copy $table from stdin" <"$data") || return 1
    expect_eq "psql reply" "COPY $ROWS" "$out" || return 1
    out=$(direct_psql -At -c "select count(*) from $table") || return 1
    expect_eq "rows in table" "$ROWS" "$out"
}

copy_out_text() {
    local via direct input
    input=$(md5 <"$data")
    via=$(pl_psql -c "copy (select * from $table order by id) to stdout" | md5) || return 1
    direct=$(direct_psql -c "copy (select * from $table order by id) to stdout" | md5) || return 1
    expect_eq "md5 straight from PostgreSQL vs input" "$input" "$direct" || return 1
    expect_eq "md5 through pitlane vs input" "$input" "$via"
}

copy_out_binary() {
    local via direct
    via=$(pl_psql -c "copy (select * from $table order by id) to stdout (format binary)" | md5) || return 1
    direct=$(direct_psql -c "copy (select * from $table order by id) to stdout (format binary)" | md5) || return 1
    expect_eq "binary md5 through pitlane vs direct" "$direct" "$via"
}

copy_in_error() {
    local out rc
    # a bad value near the middle: the COPY fails with 22P02
    set +e
    out=$(awk -F'\t' -v OFS='\t' '{ $1 = NR == 50000 ? "oops" : $1 + 2000000; print }' "$data" |
        pl_psql -v VERBOSITY=verbose -c "copy $table from stdin" 2>&1)
    rc=$?
    set -e
    printf '%s\n' "$out"
    [ "$rc" -ne 0 ] || { echo "COPY with a bad row succeeded"; return 1; }
    grep -q 22P02 <<<"$out" || { echo "no 22P02 error"; return 1; }
    out=$(pl_psql -At -c "select count(*) from $table") || return 1
    expect_eq "rows after the failed COPY" "$ROWS" "$out"
}

copy_in_rollback() {
    local out
    out=$({
        printf 'begin;\ncopy %s from stdin;\n' "$table"
        awk -F'\t' -v OFS='\t' 'NR <= 1000 { $1 = $1 + 1000000; print }' "$data"
        printf '\\.\nselect count(*) from %s;\nrollback;\nselect count(*) from %s;\n' \
            "$table" "$table"
    } | pl_psql -qAt) || return 1
    expect_eq "count inside, count after rollback" "$((ROWS + 1000))
$ROWS" "$out"
}

copy_out_abandoned() {
    local out
    # the reader stops after 64 kB; psql dies or drains, either way the
    # client goes away while its COPY is in flight
    pl_psql -c "copy (select g, repeat('x', 200) from generate_series(1, 1000000) g) to stdout" 2>/dev/null |
        head -c 65536 >/dev/null || true
    out=$(pl_psql -At -c "select count(*) from $table") || return 1
    expect_eq "rows, after an abandoned COPY" "$ROWS" "$out"
}

compat_setup
data=$compat_work/copy.tsv
# id, text with escapes (tab, backslash) and non-ASCII, numeric, nullable int
awk -v n="$ROWS" 'BEGIN {
    for (i = 1; i <= n; i++)
        printf "%d\trow %d \\t tab \\\\ bs \303\244\303\266\303\274 %s\t%.2f\t%s\n",
            i, i, (i % 3 ? "x" : "yyyyyyyyyyyyyyyyyyyy"), i * 1.25,
            (i % 7 ? i * 3 : "\\N")
}' >"$data"

for mode in session transaction; do
    table=copy_$mode
    direct_psql -q -c "create table $table (id int primary key, s text, n numeric, m int)"
    pitlane_start "$mode" DB_POOL_MAX=4 DB_POOL_MIN=1
    check "copy ($mode): $ROWS rows in with COPY FROM STDIN" copy_in
    check "copy ($mode): COPY TO STDOUT text md5 equals input and direct" copy_out_text
    check "copy ($mode): COPY TO STDOUT binary md5 equals direct" copy_out_binary
    check "copy ($mode): COPY with a bad row fails with 22P02, pool healthy" copy_in_error
    check "copy ($mode): COPY inside a rolled-back transaction" copy_in_rollback
    check "copy ($mode): client gone in the middle of COPY OUT, pool healthy" copy_out_abandoned
    pitlane_stop "$mode"
done
compat_finish
