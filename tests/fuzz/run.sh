#!/usr/bin/env bash
# Build the libFuzzer harnesses (build-fuzz/, clang-14) and run them:
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]
#
# For each harness (default: all five), first every regression input under
# tests/fuzz/regressions/<harness>/ is run once (no fuzzing), then the
# harness fuzzes for SECONDS (default 30) on a copy of its seed corpus
# (tests/fuzz/corpus/<harness>/), so the repository's corpus is never
# modified. Exits non-zero if any regression input or any fuzzing run
# crashes (a sanitizer report, a broken invariant, a timeout or running out
# of memory); the crashing inputs are kept under build-fuzz/fuzz-artifacts/.
#
# Environment:
#   FUZZ_ARGS     more libFuzzer flags for the fuzzing runs, e.g.
#                 "-fork=2 -ignore_crashes=1" for a long run on both cores
#   FUZZ_WORKDIR  keep the working corpora there (reused by the next run)
#                 instead of a temporary directory removed at the end
#
# Names listed in tests/fuzz/known-bugs (bugs found and not fixed yet) are
# passed to the fuzzing runs in AKG_FUZZ_KNOWN_BUGS, so fuzzing goes on past
# them; regression inputs run without it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
fuzzdir=$root/tests/fuzz
seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2; }
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_jmsg fuzz_zmtp fuzz_connfile fuzz_config fuzz_control)
build=$root/build-fuzz

echo "== building $build (clang-14, libFuzzer + ASan + UBSan)"
CC=clang-14 cmake -S . -B "$build" -DAKG_FUZZ=ON -DAKG_TESTS=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
known=$(sed -e 's/#.*//' "$fuzzdir/known-bugs" 2>/dev/null | awk 'NF {print $1}' | paste -sd, -)

if [ -n "${FUZZ_WORKDIR:-}" ]; then
    work=$FUZZ_WORKDIR
    mkdir -p "$work"
else
    work=$(mktemp -d /tmp/akg-fuzz.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

# crash-*, timeout-*, oom-*, leak-*: what libFuzzer writes for a failure
count_artifacts() { find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l; }

failed=0
summary=()
for h in "${harnesses[@]}"; do
    bin=$build/tests/fuzz/$h
    [ -x "$bin" ] || { echo "no harness $h" >&2; exit 2; }
    mkdir -p "$artifacts/$h"

    # Regression inputs: each must run clean.
    regress="none"
    if compgen -G "$fuzzdir/regressions/$h/*" >/dev/null; then
        pass=0 fail=0
        for input in "$fuzzdir/regressions/$h"/*; do
            log=$work/$h.regression.$(basename "$input").log
            if env -u AKG_FUZZ_KNOWN_BUGS "$bin" -timeout=10 -rss_limit_mb=2048 "$input" >"$log" 2>&1; then
                pass=$((pass + 1))
            else
                fail=$((fail + 1))
                echo "== $h: regression input $(basename "$input") FAILS:"
                grep -E "invariant broken|ERROR:|runtime error|SUMMARY|outlives|keeps the connection" "$log" | head -5 | sed 's/^/   /'
            fi
        done
        regress="$pass passed, $fail failed"
        [ "$fail" -eq 0 ] || failed=1
    fi

    # Fuzzing on a copy of the seed corpus.
    corpus=$work/$h/corpus
    mkdir -p "$corpus"
    cp -n "$fuzzdir/corpus/$h"/* "$corpus"/ 2>/dev/null || true
    dict=()
    [ -f "$fuzzdir/$h.dict" ] && dict=(-dict="$fuzzdir/$h.dict")
    log=$work/$h.log
    before=$(count_artifacts "$artifacts/$h")
    echo "== $h: fuzzing for ${seconds}s (log: $log)"
    set +e
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    AKG_FUZZ_KNOWN_BUGS="$known" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$h/" "${dict[@]}" ${FUZZ_ARGS:-} \
        "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # -fork=N prints no final stats: the last "#N: cov: ..." line counts
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+(/[0-9]+[bKMG]?b?)?' "$log" | tail -1 || true)
    result=ok
    new_artifacts=$(($(count_artifacts "$artifacts/$h") - before))
    if [ $rc -ne 0 ] || [ $new_artifacts -gt 0 ]; then # -fork with -ignore_crashes exits 0
        result="CRASH (exit $rc, $new_artifacts new crashing inputs)"
        failed=1
        cp "$log" "$artifacts/$h/fuzz-$(date +%Y%m%d-%H%M%S).log"
        echo "== $h: crashed (log kept under $artifacts/$h/); the end of its log:"
        grep -vE '^(#[0-9]+|INFO:|MS:|\s*$)' "$log" | tail -40 | sed 's/^/   /'
        if [ "$new_artifacts" -gt 0 ]; then
            echo "   crashing inputs: $(ls -t "$artifacts/$h" | grep -E '^(crash|timeout|oom|leak)-' | head -n "$new_artifacts" | sed "s|^|$artifacts/$h/|" | tr '\n' ' ')"
        else
            echo "   no crashing input written: see the log"
        fi
        echo "   minimize: $bin -minimize_crash=1 -runs=100000 -exact_artifact_path=OUT CRASH_FILE"
    fi
    echo "== $h: ${execs:-?} executions, ${cov:-no coverage line}, $result"
    summary+=("$(printf '%-14s %12s execs  %-40s regressions: %-20s %s' "$h" "${execs:-?}" "${cov:-?}" "$regress" "$result")")
done

echo
echo "== summary (${seconds}s per harness)"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
    echo "== FAILED: a harness crashed or a regression input fails (see above)"
    exit 1
fi
echo "== all harnesses ran clean"
