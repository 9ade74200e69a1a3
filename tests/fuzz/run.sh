#!/usr/bin/env bash
# tests/fuzz/run.sh [FUZZER...] - build and run the libFuzzer targets (for
# CI and by hand).
#
#   FUZZER    any of pgoutput config pgarray spool expr copyrow (default: all, in
#             that order)
#
# Each fuzzer runs a fixed number of executions (libFuzzer -runs) from a
# fixed -seed, not for a fixed time: the same inputs are tried on a slow
# machine as on a fast one, so a CI result does not depend on the machine.
# The default counts (RUNS below) keep the whole stage, build included, to
# about three minutes on a 2-core machine; the summary line of each fuzzer
# prints the executions done, the rate and the coverage reached.
#
# Installs what is missing first (apt-get as root, else sudo): the build
# dependencies of tests/harness/deps.sh (without the PostgreSQL server, which
# fuzzing does not need), clang, and the libFuzzer/sanitizer runtime, which
# on Debian/Ubuntu is the separate package libclang-rt-<N>-dev (clang only
# recommends it, so `apt-get install --no-install-recommends clang` leaves
# -fsanitize=fuzzer unable to link).
#
# Then configures its own build directory (build-fuzz; clang, -DWB_FUZZ=ON
# -DWB_TESTS=OFF), builds fuzz_<name> for each FUZZER, and runs each over a
# copy of its corpus (tests/fuzz/corpus/<name>) in a temporary directory, so
# the source tree is never written to, with -rss_limit_mb=512 and
# -malloc_limit_mb=256: an allocation sized from a hostile length field
# fails the run.  Exits non-zero when any fuzzer finds a crash, leak,
# timeout or out-of-memory; then the reproducer is in
# build-fuzz/fuzz-artifacts/ (also printed as hex) and the full log in
# build-fuzz/fuzz-logs/.  A reproducer belongs in the corpus once the bug
# is fixed: the normal build replays every corpus file as a ctest test
# (fuzz.replay.<name>, label fuzz-replay), also under ASan in build-asan/.
#
# Environment:
#   WB_FUZZ_RUNS        executions per fuzzer instead of the defaults (e.g.
#                       2000000 to fuzz longer locally)
#   WB_FUZZ_SEED        libFuzzer -seed (default 1)
#   WB_FUZZ_CC          compiler (default clang)
#   WB_FUZZ_BUILD_DIR   build directory (default <source>/build-fuzz)
#   WB_FUZZ_ARGS        extra libFuzzer flags (e.g. -max_total_time=600)
#   WB_FUZZ_CORPUS_OUT  a directory: the grown corpus of each fuzzer is
#                       copied to DIR/<name>/ afterwards (a CI artifact)
#
# Growing the committed corpus (keep only inputs that reach new code):
#   WB_FUZZ_RUNS=1000000 WB_FUZZ_SEED=$RANDOM WB_FUZZ_CORPUS_OUT=/tmp/grown \
#       tests/fuzz/run.sh spool
#   build-fuzz/fuzz/fuzz_spool -merge=1 -use_counters=0 \
#       tests/fuzz/corpus/spool /tmp/grown/spool
# -merge=1 adds to the first directory only those inputs of the others that
# cover new edges, minimised and named by their SHA-1; -use_counters=0 makes
# an edge count once, not once per hit count, which keeps the corpus to a
# few dozen files per target instead of hundreds.  Check that the new files
# replay (ctest -L fuzz-replay in build/ and build-asan/), keep the corpora
# small (a few hundred files of a few KB in all), and commit them.  The
# hand-written seeds come from gen_pgoutput_corpus.c and gen_seed_corpus.py.
set -euo pipefail

ALL=(pgoutput config pgarray spool expr copyrow)
# Default executions per fuzzer, and the largest input each is given.
declare -A RUNS=([pgoutput]=200000 [config]=40000 [pgarray]=300000
    [spool]=60000 [expr]=30000 [copyrow]=30000)
declare -A MAX_LEN=([pgoutput]=65536 [config]=16384 [pgarray]=8192
    [spool]=16384 [expr]=8192 [copyrow]=4096)

usage() {
    echo "usage: $0 [${ALL[*]}]" >&2
    exit 2
}

fuzzers=("$@")
((${#fuzzers[@]} > 0)) || fuzzers=("${ALL[@]}")
for f in "${fuzzers[@]}"; do
    [[ -n ${RUNS[$f]:-} ]] || usage
done
if [[ -n ${WB_FUZZ_RUNS:-} ]]; then
    [[ $WB_FUZZ_RUNS =~ ^[1-9][0-9]*$ ]] || {
        echo "$0: WB_FUZZ_RUNS must be a positive number of executions" >&2
        exit 2
    }
fi
seed=${WB_FUZZ_SEED:-1}
[[ $seed =~ ^[0-9]+$ ]] || usage

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${WB_FUZZ_BUILD_DIR:-$src/build-fuzz}
cc=${WB_FUZZ_CC:-clang}

log() { printf 'fuzz: %s\n' "$*" >&2; }

# shellcheck source=SCRIPTDIR/../harness/deps.sh
source "$src/tests/harness/deps.sh"

# ---- dependencies ----------------------------------------------------------

apt_updated=0
apt_install() {
    local -a sudo=()
    if ! command -v apt-get >/dev/null 2>&1; then
        log "apt-get not found; install these packages (or their equivalents) by hand: $*"
        return 1
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            log "not root and sudo is not available; as root run: apt-get update && apt-get install -y $*"
            return 1
        fi
    fi
    log "installing: $*"
    if ((!apt_updated)); then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
        apt_updated=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# Can $cc compile and link a libFuzzer target with ASan and UBSan?
libfuzzer_links() {
    local d rc
    d=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$d/t.c"
    "$cc" -fsanitize=fuzzer,address,undefined "$d/t.c" -o "$d/t" >"$d/log" 2>&1
    rc=$?
    rm -rf "$d"
    return $rc
}

ensure_fuzz_deps() {
    local -a missing=()
    local p major

    # Build dependencies, as tests/harness/deps.sh lists them, minus the
    # server (and gcc: the fuzz build uses clang).
    while IFS= read -r p; do
        [[ -n $p && $p != postgresql && $p != gcc ]] && missing+=("$p")
    done < <(wb_missing_packages)
    command -v "$cc" >/dev/null 2>&1 || missing+=(clang)
    if ((${#missing[@]} > 0)); then
        apt_install "${missing[@]}" || return 1
    fi
    if ! command -v "$cc" >/dev/null 2>&1; then
        log "$cc not found (set WB_FUZZ_CC to a clang with libFuzzer)"
        return 1
    fi
    if ! libfuzzer_links; then
        major=$("$cc" -dumpversion | cut -d. -f1)
        log "$cc cannot link -fsanitize=fuzzer: the runtime libclang-rt-$major-dev is missing"
        apt_install "libclang-rt-$major-dev" || return 1
        if ! libfuzzer_links; then
            log "$cc still cannot link -fsanitize=fuzzer after installing libclang-rt-$major-dev"
            return 1
        fi
    fi
}

ensure_fuzz_deps

# ---- build -------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/walbridge-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "configuring $build ($("$cc" --version | head -n1))"
CC=$cc cmake -S "$src" -B "$build" -DWB_FUZZ=ON -DWB_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 || {
    cat "$tmp/configure.log" >&2
    log "configure failed"
    exit 1
}
targets=()
for f in "${fuzzers[@]}"; do
    targets+=(--target "fuzz_$f")
done
cmake --build "$build" "${targets[@]}" -j"$(nproc 2>/dev/null || echo 2)"

# ---- run -----------------------------------------------------------------------

rm -rf "$build/fuzz-logs" "$build/fuzz-artifacts"
mkdir -p "$build/fuzz-logs" "$build/fuzz-artifacts"

# A smaller quarantine than ASan's 256 MB keeps the RSS mostly the
# fuzzer's own, so -rss_limit_mb measures the code under test.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# "stat::name: value" from libFuzzer's -print_final_stats output.
final_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n1; }

failed=0
summaries=()

run_fuzzer() {
    local name=$1
    local bin=$build/fuzz/fuzz_$name work=$tmp/$name
    local runs=${WB_FUZZ_RUNS:-${RUNS[$name]}} max_len=${MAX_LEN[$name]}
    local -a args=()
    local rc nseed execs eps added rss covline cov ft corp a n t0
    local -a extra=()

    mkdir -p "$work/corpus" "$work/artifacts"
    cp -R "$src/tests/fuzz/corpus/$name/." "$work/corpus/"
    nseed=$(find "$work/corpus" -type f | wc -l)
    if [[ -f $src/tests/fuzz/$name.dict ]]; then
        args+=("-dict=$src/tests/fuzz/$name.dict")
    fi
    # shellcheck disable=SC2206 # word splitting of the extra flags is wanted
    extra=(${WB_FUZZ_ARGS:-})

    log "running fuzz_$name: $runs executions (seed $seed) over $nseed corpus inputs"
    t0=$SECONDS
    set +e
    "$bin" -runs="$runs" -seed="$seed" -max_len="$max_len" -rss_limit_mb=512 \
        -malloc_limit_mb=256 -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "${args[@]}" "${extra[@]}" \
        "$work/corpus" >"$work/log" 2>&1
    rc=$?
    set -e
    cp "$work/log" "$build/fuzz-logs/fuzz_$name.log"
    if [[ -n ${WB_FUZZ_CORPUS_OUT:-} ]]; then
        mkdir -p "$WB_FUZZ_CORPUS_OUT/$name"
        cp -R "$work/corpus/." "$WB_FUZZ_CORPUS_OUT/$name/"
    fi

    execs=$(final_stat number_of_executed_units "$work/log")
    eps=$(final_stat average_exec_per_sec "$work/log")
    added=$(final_stat new_units_added "$work/log")
    rss=$(final_stat peak_rss_mb "$work/log")
    covline=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$work/log" | tail -n1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$covline")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$covline")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$covline")

    n=$(find "$work/artifacts" -type f | wc -l)
    if ((rc != 0 || n > 0)); then
        failed=1
        summaries+=("fuzz_$name: FAILED (exit $rc) after ${execs:-?} executions; log: $build/fuzz-logs/fuzz_$name.log")
        log "fuzz_$name FAILED (exit $rc); end of the log:"
        tail -n 80 "$work/log" >&2
        for a in "$work/artifacts"/*; do
            [[ -f $a ]] || continue
            cp "$a" "$build/fuzz-artifacts/"
            log "reproducer $build/fuzz-artifacts/$(basename "$a") ($(wc -c <"$a") bytes), hex:"
            od -An -tx1 -v "$a" | tr -d ' \n' | fold -w 128 >&2
            echo >&2
            log "reproduce with: $bin $build/fuzz-artifacts/$(basename "$a")"
        done
    elif [[ ${execs:-} != "$runs" ]]; then
        # -runs counts the corpus replay too; fewer means it stopped early.
        failed=1
        summaries+=("fuzz_$name: FAILED: ${execs:-no} executions of $runs; log: $build/fuzz-logs/fuzz_$name.log")
    else
        summaries+=("fuzz_$name: ok, $execs executions in $((SECONDS - t0))s (${eps:-?}/s), cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?} (from $nseed, +${added:-?} new), peak rss ${rss:-?} MB")
    fi
}

for f in "${fuzzers[@]}"; do
    run_fuzzer "$f"
done

printf '%s\n' "${summaries[@]}"
exit $failed
