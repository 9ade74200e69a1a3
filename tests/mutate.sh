#!/usr/bin/env bash
# tests/mutate.sh - do the tests catch the bugs they are there for?
# Not part of the default run (tests/run.sh): run it by hand.
#
#   tests/mutate.sh [-k] [-l] [--baseline] [-j N] [NAME...]
#
# Each tests/mutations/NAME.patch is a small deliberate bug in lib/ with a
# header naming the tests that must catch it ("# tests: test_a test_b";
# integration scripts by name, unit tests as unit.test_x).  For each
# mutation (all, or the NAMEs given) this script applies the patch to a
# scratch copy of the checked-out tree (the working tree, uncommitted
# changes included), rebuilds, runs the named tests with the pg fixture,
# reverse-applies the patch, and classifies the mutation:
#   caught        some named test failed
#   MISSED        every named test passed: the bug went unnoticed
#   stale         the patch no longer applies (or touches more than lib/)
#   build-failed  the mutated tree did not build
#   error         the test set-up failed (the fixture), nothing was judged
#   unproven      only tests that --baseline saw fail without a mutation
#                 failed
# One scratch build serves all mutations (the patch is reverse-applied and
# the build is incremental).  A table with timings is printed at the end;
# the exit status is non-zero unless every mutation was caught.
#
#   -k, --keep      keep the scratch dir (printed), with the test logs
#   -l, --list      list the mutations and their tests, then exit
#   --baseline      first run every named test on the unmutated copy: a
#                   test that fails without a mutation proves nothing, so
#                   its failure alone makes a mutation "unproven"
#   -j N            ctest parallelism (default 1: the tests are heavy)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MUT_DIR=$ROOT/tests/mutations
KEEP=0
LIST=0
BASELINE=0
JOBS=1
NAMES=()

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    -k | --keep) KEEP=1 ;;
    -l | --list) LIST=1 ;;
    --baseline) BASELINE=1 ;;
    -j) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage; JOBS=$2; shift ;;
    -j[1-9]*) JOBS=${1#-j} ;;
    -h | --help) usage ;;
    -*) echo "mutate.sh: unknown option $1" >&2; usage ;;
    *) NAMES+=("${1%.patch}") ;;
    esac
    shift
done

if ((${#NAMES[@]} == 0)); then
    for p in "$MUT_DIR"/*.patch; do
        [[ -e $p ]] || { echo "mutate.sh: no patches in $MUT_DIR" >&2; exit 2; }
        NAMES+=("$(basename "$p" .patch)")
    done
fi

# tests_of NAME: the tests named in the patch header, one per line.
tests_of() {
    sed -n 's/^# *tests: *//p' "$MUT_DIR/$1.patch" | tr -s ' \t' '\n' | sed '/^$/d'
}

for n in "${NAMES[@]}"; do
    [[ -f $MUT_DIR/$n.patch ]] || { echo "mutate.sh: no mutation \"$n\" ($MUT_DIR/$n.patch)" >&2; exit 2; }
    [[ -n $(tests_of "$n") ]] || { echo "mutate.sh: $n.patch names no tests (# tests: ...)" >&2; exit 2; }
done

if ((LIST)); then
    for n in "${NAMES[@]}"; do
        printf '%-30s %s\n' "$n" "$(tests_of "$n" | tr '\n' ' ')"
    done
    exit 0
fi

# ------------------------------------------------------------ scratch copy
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/wb-mutate.XXXXXX")
SRC=$SCRATCH/src
BUILD=$SCRATCH/build
LOGS=$SCRATCH/logs
mkdir -p "$SRC" "$LOGS"

cleanup() {
    # A ctest interrupted before its cleanup fixture leaves the server up.
    if [[ -f $BUILD/pgtest/env.sh ]]; then
        bash "$ROOT/tests/harness/pg_cluster.sh" stop "$BUILD/pgtest" >/dev/null 2>&1 || true
    fi
    if ((KEEP)); then
        echo "mutate.sh: scratch dir kept: $SCRATCH (logs in $LOGS)"
    else
        rm -rf "$SCRATCH"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The working tree as it is: tracked files (with their uncommitted changes)
# and untracked ones that are not ignored; no build dirs, no .git.
echo "== copying $ROOT to $SRC"
(
    cd "$ROOT"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            # (tracked files deleted in the working tree are left out)
            if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
        done |
        tar --null -T - -cf -
) | tar -xf - -C "$SRC"
# Its own (empty) repository anchors git apply at $SRC, wherever TMPDIR is.
git init -q "$SRC"
echo "   $(cd "$SRC" && find . -type f | wc -l) files (HEAD $(git -C "$ROOT" rev-parse --short HEAD)$(
    [[ -n $(git -C "$ROOT" status --porcelain) ]] && echo ", with uncommitted changes"))"

# patch_ok NAME: the patch touches files under lib/ only.
patch_ok() {
    local f bad=0
    while read -r f; do
        [[ $f == lib/* ]] || { echo "   $1.patch touches $f (only lib/ may be mutated)"; bad=1; }
    done < <(git apply --numstat "$MUT_DIR/$1.patch" | cut -f3)
    return "$bad"
}

build() {
    cmake --build "$BUILD" -j 2 >>"$1" 2>&1
}

echo "== configuring the scratch build (WB_TESTS=ON, WB_WERROR=ON)"
T=$SECONDS
if ! cmake -S "$SRC" -B "$BUILD" -DWB_TESTS=ON -DWB_WERROR=ON -DWB_SANITIZE=OFF \
    >"$LOGS/configure.log" 2>&1 || ! build "$LOGS/build-unmutated.log"; then
    tail -n 30 "$LOGS/configure.log" "$LOGS/build-unmutated.log" 2>/dev/null >&2
    echo "mutate.sh: the unmutated tree does not build" >&2
    exit 1
fi
echo "   built in $((SECONDS - T))s"

# run_tests LOG TEST...: ctest with the pg fixture; prints the names of the
# tests that failed (or did not run), one per line.  Returns 3 if the
# fixture's setup failed.
run_tests() {
    local log=$1 re t
    shift
    re='integration\.setup|integration\.cleanup'
    for t in "$@"; do
        [[ $t == unit.* ]] && re+="|${t//./\\.}" || re+="|integration\\.$t"
    done
    rm -f "$BUILD/Testing/Temporary/LastTestsFailed.log"
    ctest --test-dir "$BUILD" -R "^($re)\$" --output-on-failure --no-tests=error \
        -j "$JOBS" >"$log" 2>&1 || true
    # Every named test must have been run: a name without a test is an error
    # of the patch header, never a silent pass.
    for t in "$@"; do
        [[ $t == unit.* ]] || t=integration.$t
        grep -qE "Test +#[0-9]+: $t \.+" "$log" ||
            { echo "NOT-FOUND:$t"; }
    done
    if [[ -f $BUILD/Testing/Temporary/LastTestsFailed.log ]]; then
        if grep -q ':integration\.setup$' "$BUILD/Testing/Temporary/LastTestsFailed.log"; then
            return 3
        fi
        sed -n 's/^[0-9]*://p' "$BUILD/Testing/Temporary/LastTestsFailed.log" |
            grep -v '^integration\.cleanup$' || true
    fi
    return 0
}

if ((BASELINE)); then
    mapfile -t ALL < <(for n in "${NAMES[@]}"; do tests_of "$n"; done | sort -u)
    echo "== baseline: ${ALL[*]} on the unmutated copy"
    T=$SECONDS
    rc=0
    BASE_FAILED=$(run_tests "$LOGS/baseline.log" "${ALL[@]}") || rc=$?
    if ((rc)) || grep -q '^NOT-FOUND:' <<<"$BASE_FAILED"; then
        echo "mutate.sh: the baseline run could not run the tests (log: $LOGS/baseline.log)" >&2
        KEEP=1
        exit 1
    fi
    if [[ -n $BASE_FAILED ]]; then
        # Their failures under a mutation prove nothing: "unproven".
        echo "   FAILED without a mutation: $(tr '\n' ' ' <<<"$BASE_FAILED")(log: $LOGS/baseline.log)"
    else
        echo "   all passed in $((SECONDS - T))s"
    fi
fi

RESULTS=()
BAD=0
BASE_FAILED=${BASE_FAILED:-}
for n in "${NAMES[@]}"; do
    mapfile -t TESTS < <(tests_of "$n")
    log=$LOGS/$n
    echo "== $n: ${TESTS[*]}"
    T0=$SECONDS
    build_s=-
    test_s=-
    detail=""
    if ! patch_ok "$n"; then
        result=stale
        detail="touches more than lib/"
    elif ! (cd "$SRC" && git apply --check "$MUT_DIR/$n.patch") >"$log.apply.log" 2>&1; then
        result=stale
        detail=$(head -n 1 "$log.apply.log")
    else
        (cd "$SRC" && git apply "$MUT_DIR/$n.patch")
        T=$SECONDS
        if ! build "$log.build.log"; then
            result=build-failed
            detail="see $log.build.log"
            build_s=$((SECONDS - T))
            grep -m 3 -E 'error' "$log.build.log" | sed 's/^/   /' || true
        else
            build_s=$((SECONDS - T))
            T=$SECONDS
            rc=0
            failed=$(run_tests "$log.test.log" "${TESTS[@]}") || rc=$?
            test_s=$((SECONDS - T))
            if ((rc == 3)); then
                result=error
                detail="the pg fixture did not start"
            elif grep -q '^NOT-FOUND:' <<<"$failed"; then
                result=error
                detail="no such test: $(sed -n 's/^NOT-FOUND://p' <<<"$failed" | tr '\n' ' ')"
            elif [[ -n $failed ]] && [[ -n $BASE_FAILED ]] &&
                [[ -z $(grep -vxF -f <(printf '%s\n' "$BASE_FAILED") <<<"$failed") ]]; then
                result=unproven
                detail="only tests that fail unmutated too failed: $(tr '\n' ' ' <<<"$failed")"
            elif [[ -n $failed ]]; then
                result=caught
                # The first failed check says whether it failed for the
                # right reason (compare with --baseline).
                why=$(grep -m 1 -E '^FAIL: ' "$log.test.log" | cut -c 7-100 || true)
                detail="$(tr '\n' ' ' <<<"${failed//integration./}")- ${why:-no FAIL line}"
            else
                result=MISSED
                detail="all passed"
            fi
        fi
        # Back to the unmutated tree for the next one.
        (cd "$SRC" && git apply -R "$MUT_DIR/$n.patch")
    fi
    [[ $result == caught ]] || BAD=1
    echo "   $result ($detail) build ${build_s}s, tests ${test_s}s"
    RESULTS+=("$(printf '%-30s %-13s %6s %7s %7s  %s' "$n" "$result" "$build_s" "$test_s" \
        "$((SECONDS - T0))" "$detail")")
done

echo
printf '%-30s %-13s %6s %7s %7s  %s\n' mutation result build_s tests_s total_s detail
for r in "${RESULTS[@]}"; do
    echo "$r"
done
if ((BAD)); then
    echo "mutate.sh: FAIL (not every mutation was caught)"
    exit 1
fi
echo "mutate.sh: PASS (every mutation was caught)"
