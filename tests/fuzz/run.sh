#!/usr/bin/env bash
# tests/fuzz/run.sh [TARGET...]: builds each libFuzzer target with clang
# (-fsanitize=fuzzer,address,undefined) straight from the sources it needs,
# into a temporary directory, and runs it briefly on its seed corpus in
# tests/fuzz/corpus/TARGET. Prints "ok - fuzz TARGET" or "not ok - fuzz
# TARGET" per target (with the tail of its log on failure) and exits
# non-zero when any target failed to build or found a crash.
#
# Environment: FUZZ_RUNS (executions per target, default 3000),
# FUZZ_MAX_TIME (seconds per target at most, default 20), FUZZ_CC
# (default clang), FUZZ_KEEP=1 keeps the work directory (new inputs,
# crash artifacts). The committed corpora are only read: new inputs go to
# the work directory.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
runs=${FUZZ_RUNS:-3000}
max_time=${FUZZ_MAX_TIME:-20}
cc=${FUZZ_CC:-clang}
all_targets=(frame startup scram authfile hba config saslprep admin_parse peer handoff dbconf srvlogin buf)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/pitlane-fuzz.XXXXXX")
if [ "${FUZZ_KEEP:-}" = 1 ]; then
    echo "# work directory: $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# The pure modules each target links, and their libraries.
sources_of() {
    case $1 in
    frame | startup) echo src/proto.c ;;
    scram) echo src/auth.c src/saslprep.c ;;
    saslprep) echo src/saslprep.c ;;
    authfile) echo src/authfile.c src/errlist.c ;;
    hba) echo src/hba.c src/errlist.c ;;
    config) echo src/config.c src/config_ini.c src/dbconf.c ;;
    dbconf) echo src/dbconf.c ;;
    admin_parse) echo src/admin_parse.c ;;
    peer) echo src/peer.c ;;
    handoff) echo src/handoff.c src/params.c src/proto.c ;;
    srvlogin) echo src/srvlogin.c src/auth.c src/saslprep.c src/params.c src/proto.c ;;
    buf) echo src/buf.c src/relay.c src/proto.c ;;
    *) return 1 ;;
    esac
}
libs_of() {
    case $1 in
    scram | saslprep | srvlogin) echo -lcrypto -lidn -lunistring ;;
    config) echo -linih ;;
    esac
}

# shellcheck disable=SC2054 # the commas belong to -fsanitize=
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -Wall -Wextra -Werror -I"$top/src")

failed=0
fail() { # NAME LOG WHY
    echo "not ok - fuzz $1 ($3)"
    if [ -s "$2" ]; then
        tail -n 40 "$2" | sed 's/^/#   /'
    fi
    failed=$((failed + 1))
}

# A compiler without libFuzzer fails every target, saying why.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" >"$work/probe.log" 2>&1; then
    for t in "${targets[@]}"; do
        fail "$t" "$work/probe.log" "$cc -fsanitize=fuzzer does not work: install clang and libclang-rt-dev"
    done
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "${targets[@]}"; do
    log=$work/$t.log
    src=$top/tests/fuzz/fuzz_$t.c
    corpus=$top/tests/fuzz/corpus/$t
    if ! mods=$(sources_of "$t") || [ ! -f "$src" ]; then
        fail "$t" /dev/null "no such target"
        continue
    fi
    if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
        fail "$t" /dev/null "seed corpus tests/fuzz/corpus/$t is missing or empty"
        continue
    fi
    # shellcheck disable=SC2046,SC2086 # lists of files and flags
    if ! (cd "$top" && "$cc" "${cflags[@]}" "$src" $mods $(libs_of "$t") \
        -o "$work/fuzz_$t") >"$log" 2>&1; then
        fail "$t" "$log" "build failed"
        continue
    fi
    mkdir -p "$work/$t.new"
    if "$work/fuzz_$t" -runs="$runs" -max_total_time="$max_time" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/$t-" "$work/$t.new" "$corpus" \
        >>"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        echo "ok - fuzz $t (${execs:-?} executions)"
    else
        fail "$t" "$log" "crash or sanitizer report"
        for a in "$work/$t-"*; do
            [ -e "$a" ] && echo "#   artifact: $a (base64: $(base64 -w0 "$a" | head -c 400))"
        done
    fi
done

[ "$failed" -eq 0 ]
