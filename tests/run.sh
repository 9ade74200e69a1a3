#!/usr/bin/env bash
# tests/run.sh - THE test command (CI runs it through .ci/run).
#
# 1. installs missing build/test dependencies (apt-get as root, else sudo)
# 2. builds build/ with -DWB_WERROR=ON and runs every ctest test (unit and
#    integration: the integration fixture starts a private PostgreSQL)
# 3. builds build-asan/ with -DWB_SANITIZE=ON -DWB_WERROR=ON and runs every
#    test again under AddressSanitizer (with leak detection) and UBSan, but
#    the text-value reruns of test_toast and test_copy (see below)
# 4. runs each libFuzzer target for a fixed number of executions
#    (tests/fuzz/run.sh)
# Exits non-zero if anything failed; the last line is a one-line summary.
# tests/mutate.sh (do the tests catch deliberate bugs?) is not part of the
# default run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
T0=$SECONDS

# shellcheck source=tests/harness/deps.sh
source "$ROOT/tests/harness/deps.sh"

echo "== dependencies"
if ! wb_ensure_deps; then
    echo "tests/run.sh: FAIL: missing dependencies (see above)"
    exit 1
fi
if ! WB_PG_BINDIR=$(wb_pg_bindir); then
    echo "tests/run.sh: FAIL: PostgreSQL server programs not found"
    exit 1
fi
export WB_PG_BINDIR
echo "PostgreSQL: $WB_PG_BINDIR ($("$WB_PG_BINDIR/postgres" --version))"
echo "cmake: $(cmake --version | head -n 1); gcc: $(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"

JOBS=$(nproc 2>/dev/null || echo 2)
SUMMARY=()
FAILED=0

# If ctest is interrupted, its cleanup fixture may not run: stop any test
# server left behind (a no-op when it is already stopped).
stop_leftover_servers() {
    local d
    for d in build build-asan; do
        if [[ -f "$ROOT/$d/pgtest/env.sh" ]]; then
            bash "$ROOT/tests/harness/pg_cluster.sh" stop "$ROOT/$d/pgtest" >/dev/null 2>&1 || true
        fi
    done
}
trap stop_leftover_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build_and_test NAME DIR CMAKE_ARGS... : configure, build, run all tests
# (but those matching $CTEST_EXCLUDE, a ctest -E regex, when set).
build_and_test() {
    local name=$1 dir=$2
    local -a exclude=()
    [[ -n ${CTEST_EXCLUDE:-} ]] && exclude=(-E "$CTEST_EXCLUDE")
    shift 2
    echo
    echo "== $name: configure and build $dir"
    if ! cmake -S "$ROOT" -B "$ROOT/$dir" "$@" || ! cmake --build "$ROOT/$dir" -j "$JOBS"; then
        SUMMARY+=("$name: build FAILED")
        FAILED=1
        return 0
    fi
    echo
    echo "== $name: ctest ($dir)"
    # One more test than CPUs: the integration tests spend much of their
    # time waiting on PostgreSQL (the slow ones serialise themselves).
    if ctest --test-dir "$ROOT/$dir" --output-on-failure --no-tests=error -j "$((JOBS + 1))" "${exclude[@]}"; then
        SUMMARY+=("$name: build ok, tests ok")
    else
        SUMMARY+=("$name: build ok, tests FAILED")
        FAILED=1
    fi
}

build_and_test "build" build -DWB_TESTS=ON -DWB_WERROR=ON -DWB_SANITIZE=OFF

export ASAN_OPTIONS=detect_leaks=1
# The sanitizers look for memory errors, which a shorter three-writer run
# reaches as well (the plain run keeps the default 60 s).
export WB_CONVERGENCE_SECONDS=${WB_CONVERGENCE_SECONDS_ASAN:-30}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The text-value reruns of the two slowest tests (about 4 minutes under the
# sanitizers) are left to the plain run: their C paths, text values in
# TOAST and COPY runs, also run under the sanitizers in test_types_text,
# test_exactly_once_text and test_alter_table_text.
CTEST_EXCLUDE='integration\.test_(toast|copy)_text$' \
    build_and_test "asan" build-asan -DWB_TESTS=ON -DWB_SANITIZE=ON -DWB_WERROR=ON
unset ASAN_OPTIONS UBSAN_OPTIONS WB_CONVERGENCE_SECONDS

# 4. the libFuzzer targets, a fixed number of executions each from a fixed
#    seed, under ASan/UBSan (tests/fuzz/run.sh; its corpora were already
#    replayed by ctest above).  WB_FUZZ_RUNS=N runs N executions per target
#    instead of the defaults; WB_FUZZ_RUNS=0 skips fuzzing (said in the
#    summary).
FUZZ_RUNS=${WB_FUZZ_RUNS:-}
if [[ $FUZZ_RUNS != 0 ]]; then
    echo
    echo "== fuzz: ${FUZZ_RUNS:-the default number of} executions per fuzzer"
    if WB_FUZZ_RUNS=$FUZZ_RUNS bash "$ROOT/tests/fuzz/run.sh"; then
        SUMMARY+=("fuzz: ${FUZZ_RUNS:-default} executions each, no crash")
    else
        SUMMARY+=("fuzz: FAILED")
        FAILED=1
    fi
else
    SUMMARY+=("fuzz: not run (WB_FUZZ_RUNS=0)")
fi

echo
line=$(
    IFS=';'
    echo "${SUMMARY[*]}"
)
line=${line//;/; }
if ((FAILED)); then
    echo "tests/run.sh: FAIL ($line) in $((SECONDS - T0))s"
    exit 1
fi
echo "tests/run.sh: PASS ($line) in $((SECONDS - T0))s"
