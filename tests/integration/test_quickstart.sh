#!/usr/bin/env bash
# test_quickstart: deploy/quickstart.sh --demo (non-interactive, WB_BIN
# preset so it does not build) exits 0, shows every change arriving, and
# leaves nothing behind.  It starts its own throwaway server.
source "$(dirname "$0")/lib.sh"

OUT=$WB_WORK/quickstart.out
QS=$WB_SOURCE_DIR/deploy/quickstart.sh
[[ -f "$QS" ]] || fail "$QS not found"

echo "-- running deploy/quickstart.sh --demo"
rc=0
# Not the test server's environment: the quickstart brings its own.
env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u WB_PG_STATE -u WALBRIDGE_SOURCE \
    -u WALBRIDGE_TARGET WB_BIN="$WB_BIN" \
    timeout -k 10 300 bash "$QS" --demo </dev/null >"$OUT" 2>&1 || rc=$?
if ((rc != 0)); then
    echo "----- quickstart output -----" >&2
    cat "$OUT" >&2
    echo "-----" >&2
    ((rc == 124)) && fail "quickstart did not finish within 300 s"
    fail "quickstart exited $rc"
fi
ok "quickstart --demo exits 0"

assert_contains "$OUT" "ada@example.com" "output shows the inserted row in salesforce.account"
assert_contains "$OUT" "-> arrived: 2 inserts" "inserts arrived"
assert_contains "$OUT" "ada.lovelace@example.org" "output shows the updated email"
assert_contains "$OUT" "-> arrived: update" "update arrived"
assert_contains "$OUT" "-> arrived: delete" "delete arrived"
assert_contains "$OUT" "quickstart: all changes arrived in salesforce.account" "demo completed"
assert_not_contains "$OUT" "Press Ctrl-C" "--demo does not wait for Ctrl-C"

state=$(sed -n 's/^quickstart: state dir \(.*\)$/\1/p' "$OUT" | head -n 1)
[[ -n "$state" ]] || fail "quickstart did not print its state dir"
[[ ! -e "$state" ]] || fail "quickstart left its state dir $state behind"
ok "quickstart removed its state dir ($state)"
pghost=$(sed -n 's/^WALBRIDGE_SOURCE="host=\([^ ]*\) .*/\1/p' "$OUT" | head -n 1)
[[ -n "$pghost" ]] || fail "quickstart did not print WALBRIDGE_SOURCE"
[[ ! -e "$pghost" ]] || fail "quickstart left its server dir $pghost behind (server still running?)"
ok "quickstart stopped its server and removed $pghost"
