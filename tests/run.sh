#!/usr/bin/env bash
# The whole test suite: build the plain tree (build/) and the ASan+UBSan
# tree (build-asan/), run the C unit tests and the end-to-end pytest suite
# against each, then the libFuzzer harnesses (build-fuzz/). Extra arguments
# go to pytest (e.g. -k interrupt).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

build() {
    local dir=$1; shift
    cmake -S . -B "$dir" -DAKG_TESTS=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}

build build
build build-asan -DAKG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

# Sanitizer reports go to files, so that one in any process (router,
# zygote, worker) fails the run. The embedded interpreter keeps its
# allocations until exit by design: tests/lsan.supp names it.
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
# handle_segv=0: a cell that segfaults on purpose must die of SIGSEGV.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:handle_segv=0:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

for dir in build build-asan; do
    echo "== unit tests ($dir)"
    (cd "$dir" && ctest --output-on-failure)
    echo "== integration tests ($dir)"
    [ "$dir" = build-asan ] && export AKG_SANITIZED=1
    AKG_BUILD_DIR="$PWD/$dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
done

# libFuzzer: every regression input, then FUZZ_SECONDS (default 30) of
# fuzzing per harness; a long run is documented in the README.
echo "== fuzzing (tests/fuzz/run.sh)"
tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"

if compgen -G "$reports/*" >/dev/null; then
    echo "== sanitizer reports:"
    cat "$reports"/*
    exit 1
fi
echo "== all tests passed (plain and ASan+UBSan builds, fuzzing)"
