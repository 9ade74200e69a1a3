#!/usr/bin/env bash
# test_cli: --version, --help, usage errors (exit 2), and no password in the
# output, whether the connection fails or succeeds, for key=value and URI
# conninfo, literal or from ${WALBRIDGE_SOURCE}.
source "$(dirname "$0")/lib.sh"

SECRET=s3cr3tXYZ
OUT=$WB_WORK/out

# expect_rc EXPECTED DESCRIPTION ARGS...: run walbridge ARGS, check the exit code.
expect_rc() {
    local expected=$1 desc=$2 rc=0
    shift 2
    wb_exec "$OUT" 60 "$@" || rc=$?
    if [[ "$rc" != "$expected" ]]; then
        echo "----- stderr -----" >&2
        cat "$OUT" >&2
        echo "----- stdout -----" >&2
        cat "$OUT.stdout" >&2
        if ((rc == 124)); then
            fail "$desc: walbridge $* did not exit within 60 s (expected exit code $expected; is it retrying the connection?)"
        fi
        fail "$desc: walbridge $* exited $rc, expected $expected"
    fi
    ok "$desc: exit code $expected"
}

echo "-- --version"
version=$(sed -n 's/^project(walbridge VERSION \([0-9][0-9.]*\).*/\1/p' "$WB_SOURCE_DIR/CMakeLists.txt")
[[ -n "$version" ]] || fail "cannot read the project version from CMakeLists.txt"
expect_rc 0 "--version" --version
assert_contains "$OUT.stdout" "$version" "--version prints the version $version on stdout"

echo "-- --help"
expect_rc 0 "--help" --help
grep -qw run "$OUT.stdout" || { cat "$OUT.stdout" >&2; fail "--help does not list the run command"; }
grep -qw check "$OUT.stdout" || { cat "$OUT.stdout" >&2; fail "--help does not list the check command"; }
ok "--help lists run and check on stdout"

echo "-- usage errors"
expect_rc 2 "unknown subcommand" frobnicate
[[ -s "$OUT" ]] || fail "unknown subcommand: nothing on stderr"
ok "unknown subcommand: a message on stderr"
expect_rc 2 "run without -c" run
expect_rc 2 "run without -c (with --until now)" run --until now

echo "-- the password never appears in the output"
CFG=$WB_WORK/walbridge.yaml
# write_cfg CONNINFO: the test's config with another source conninfo.
write_cfg() {
    wb_write_config "$CFG"
    local conninfo=$1 tmp
    tmp=$(mktemp "$WB_WORK/cfg.XXXXXX")
    awk -v c="$conninfo" '/^  conninfo: "host=/ { print "  conninfo: \"" c "\""; next } { print }' "$CFG" >"$tmp"
    mv "$tmp" "$CFG"
    grep -qF -- "$SECRET" "$CFG" || fail "write_cfg: the config does not contain the password"
}

# no_secret DESC: neither stdout nor stderr of the last run has the password.
no_secret() {
    if grep -qF -- "$SECRET" "$OUT" "$OUT.stdout"; then
        grep -F -- "$SECRET" "$OUT" "$OUT.stdout" >&2
        fail "$1: the password appears in walbridge's output"
    fi
    ok "$1: the password is not in the output"
}

BADPORT=1 # no server there: the connection fails
declare -A CONN=(
    [kv_ok]="host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB password=$SECRET"
    [kv_bad]="host=$PGHOST port=$BADPORT user=postgres dbname=$WB_DB password=$SECRET"
    [uri_ok]="postgresql://postgres:$SECRET@/$WB_DB?host=$PGHOST&port=$PGPORT"
    [uri_bad]="postgresql://postgres:$SECRET@/$WB_DB?host=$PGHOST&port=$BADPORT"
)

for form in kv uri; do
    write_cfg "${CONN[${form}_bad]}"
    expect_rc 1 "$form conninfo, connection fails" run -c "$CFG" --until now --log-level debug
    [[ -s "$OUT" ]] || fail "$form conninfo, connection fails: no error message on stderr"
    no_secret "$form conninfo, connection fails"

    write_cfg "${CONN[${form}_ok]}"
    expect_rc 0 "$form conninfo, check" check -c "$CFG"
    no_secret "$form conninfo, check"
    expect_rc 0 "$form conninfo, successful run --until now" run -c "$CFG" --until now --log-level debug
    no_secret "$form conninfo, successful run"
done

echo "-- conninfo from \${WALBRIDGE_SOURCE}"
wb_write_config "$CFG"
tmp=$(mktemp "$WB_WORK/cfg.XXXXXX")
awk '/^  conninfo: "host=/ { print "  conninfo: \"${WALBRIDGE_SOURCE}\""; next } { print }' "$CFG" >"$tmp"
mv "$tmp" "$CFG"
export WALBRIDGE_SOURCE=${CONN[kv_bad]}
expect_rc 1 "\${WALBRIDGE_SOURCE}, connection fails" run -c "$CFG" --until now --log-level debug
no_secret "\${WALBRIDGE_SOURCE}, connection fails"
export WALBRIDGE_SOURCE=${CONN[uri_ok]}
expect_rc 0 "\${WALBRIDGE_SOURCE}, successful run" run -c "$CFG" --until now --log-level debug
no_secret "\${WALBRIDGE_SOURCE}, successful run"
unset WALBRIDGE_SOURCE
