#!/usr/bin/env bash
# Smoke test of scripts/bench: `scripts/bench --quick` (select-only, -M
# extended, 10 clients, 3 s per target, scale 1, no memory case) must exit 0,
# print its table header and a pitlane row whose run succeeded, and write a
# CSV with a pitlane row; the floor forwarder (scripts/bench-floor.c, built
# by the script) must have run too, with a CPU figure. Then `--quick --tls
# --targets pitlane,pgbouncer` (clients with sslmode=require) must exit 0
# with a pitlane row that succeeded. The figures are printed as TAP comments, never
# asserted: this only keeps the benchmark from rotting. scripts/bench starts
# its own throwaway PostgreSQL and PgBouncer (as the unprivileged user
# pitlane-test when root).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
: "${PITLANE_BIN:=$top/src/pitlane}"
name="bench smoke"

if [ ! -x "$PITLANE_BIN" ]; then
    echo "not ok - $name: pitlane binary $PITLANE_BIN missing (build first)"
    exit 1
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/pitlane-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT

rc=0
PITLANE_BIN=$PITLANE_BIN timeout -k 10 300 "$top/scripts/bench" --quick \
    --csv "$out/bench.csv" >"$out/stdout" 2>"$out/stderr" </dev/null || rc=$?

sed 's/^/# /' "$out/stdout"

tls_rc=0
PITLANE_BIN=$PITLANE_BIN timeout -k 10 300 "$top/scripts/bench" --quick --tls \
    --targets pitlane,pgbouncer --csv "$out/tls.csv" >"$out/tls.stdout" \
    2>"$out/tls.stderr" </dev/null || tls_rc=$?
sed 's/^/# /' "$out/tls.stdout"

reason=
if [ "$rc" -ne 0 ]; then
    reason="scripts/bench --quick exited with status $rc"
elif ! grep -qE '^script +mode +clients +target +tps +lat_avg_ms +lat_p99_ms' "$out/stdout"; then
    reason="no table header"
elif ! grep -qE '^select +extended +10 +pitlane ' "$out/stdout"; then
    reason="no pitlane row"
elif ! grep -qE '^select +extended +10 +pitlane +[0-9.]+ .* ok$' "$out/stdout"; then
    reason="the pitlane run failed: $(grep -E '^select +extended +10 +pitlane ' "$out/stdout" | sed -E 's/.* (failed: )/\1/')"
elif ! grep -qE '^pgbench,select,extended,10,pitlane,ok,' "$out/bench.csv" 2>/dev/null; then
    reason="no pitlane row in the CSV"
elif ! grep -qE '^pgbench,select,extended,10,floor,ok,[0-9.]+,([^,]*,){3}[0-9.]+,' "$out/bench.csv"; then
    reason="no floor row with its CPU in the CSV: $(grep -E '^pgbench,select,extended,10,floor,' "$out/bench.csv" || echo none)"
elif [ "$tls_rc" -ne 0 ]; then
    reason="scripts/bench --quick --tls exited with status $tls_rc"
    cp "$out/tls.stderr" "$out/stderr"
elif ! grep -qE '^select +extended +10 +pitlane +[0-9.]+ .* ok$' "$out/tls.stdout"; then
    reason="the pitlane run with --tls failed"
    cp "$out/tls.stderr" "$out/stderr"
fi

if [ -z "$reason" ]; then
    echo "ok - $name"
    exit 0
fi
echo "not ok - $name: $reason"
echo "# --- last lines of scripts/bench's stderr"
tail -n 25 "$out/stderr" | sed 's/^/#   /'
exit 1
