#!/usr/bin/env bash
# test_config_errors: bad configuration files are rejected with exit code 3
# and a FILE:LINE:COL: position, by `check` and by `run`, before any
# connection is made; a valid file passes `check --offline`.
source "$(dirname "$0")/lib.sh"

# A database name that nothing else uses: if walbridge ever connected with
# one of these configs, the server log (log_connections=on) would name it.
NOCONN=wbt_noconn_${RANDOM}_$$
PROBE=wbt_probe_${RANDOM}_$$

# write_config FILE: the valid configuration, 14 lines; see the line numbers
# in the comments (the broken variants below are derived from it).
write_config() {
    cat >"$1" <<EOF
# walbridge test configuration (line 1)
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$NOCONN"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
target:
  conninfo: ""
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
EOF
    [[ "$(wc -l <"$1")" == 14 ]] || fail "write_config: expected 14 lines"
}

# replace_line FILE LINENO TEXT
replace_line() {
    local file=$1 n=$2 text=$3 tmp
    tmp=$(mktemp "$WB_WORK/edit.XXXXXX")
    awk -v n="$n" -v t="$text" 'NR == n { print t; next } { print }' "$file" >"$tmp"
    mv "$tmp" "$file"
}

cd "$WB_WORK"

write_config valid.yaml

# (1) YAML syntax error: '@' cannot start a plain scalar (line 5, column 16;
# libyaml's problem and context marks are both there).
write_config syntax.yaml
replace_line syntax.yaml 5 "  publication: @$WB_PUB"

# (2a) unknown key "slots" in "source": the key at line 4, column 3.
write_config unknown.yaml
replace_line unknown.yaml 4 "  slots: $WB_SLOT"

# (2b) wrong type: "columns" must be a mapping; the sequence starts at
# line 14, column 14 (the '[').
write_config type.yaml
replace_line type.yaml 14 "    columns: [email, first_name, last_name, phone]"

# (2c) missing required key "from" in the second mapping: the mapping node
# starts at line 15, column 5 (after "  - ").
write_config missing.yaml
cat >>missing.yaml <<'EOF'
  - name: second
    to: salesforce.account
    key: { id: external_id__c }
EOF

expect_config_error() {
    local file=$1 pos=$2 what=$3 word=${4:-} sub rc out
    for sub in check run; do
        out=$WB_WORK/$sub.${file%.yaml}.err
        rc=0
        if [[ $sub == run ]]; then
            wb_exec "$out" 60 run -c "$file" --until now || rc=$?
        else
            wb_exec "$out" 60 check -c "$file" || rc=$?
        fi
        if [[ "$rc" != 3 ]]; then
            echo "----- stderr of walbridge $sub -c $file -----" >&2
            cat "$out" >&2
            fail "walbridge $sub -c $file ($what): exit code $rc, expected 3 (bad config)"
        fi
        ok "walbridge $sub -c $file ($what): exit code 3"
        assert_contains "$out" "$file:$pos:" "walbridge $sub -c $file: stderr reports the position $file:$pos"
        if [[ -n "$word" ]]; then
            assert_contains "$out" "$word" "walbridge $sub -c $file: stderr mentions $word"
        fi
    done
}

echo "-- (1) YAML syntax error"
expect_config_error syntax.yaml 5:16 "syntax error"
echo "-- (2) unknown key, wrong type, missing required key"
expect_config_error unknown.yaml 4:3 "unknown key" '"slots"'
expect_config_error type.yaml 14:14 "wrong type" "columns"
expect_config_error missing.yaml 15:5 "missing required key" '"from"'

# The file only: a plain check would connect to the database, which does
# not exist here (and must not be connected to).
echo "-- (4) the valid configuration passes check --offline"
rc=0
wb_exec "$WB_WORK/check.valid.err" 60 check --offline -c valid.yaml || rc=$?
if [[ "$rc" != 0 ]]; then
    cat "$WB_WORK/check.valid.err" >&2
    fail "walbridge check --offline -c valid.yaml: exit code $rc, expected 0"
fi
ok "walbridge check --offline -c valid.yaml: exit code 0"

echo "-- (3) no connection was made"
# First prove that a connection attempt to an unknown database is visible
# in the server log, so that the absence below means something.
if PGAPPNAME=wbt_psql psql -X -qAt -d "$PROBE" -c 'SELECT 1' >/dev/null 2>&1; then
    fail "psql could connect to database $PROBE, which should not exist"
fi
deadline=$((SECONDS + 10))
until grep -qF -- "$PROBE" "$WB_PG_LOG"; do
    ((SECONDS < deadline)) || fail "server log $WB_PG_LOG does not show the probe connection to $PROBE: the check below would prove nothing"
    sleep 0.1
done
ok "server log records a connection attempt to a missing database ($PROBE)"
grep -F -- "$PROBE" "$WB_PG_LOG" | head -n 3
if grep -F -- "$NOCONN" "$WB_PG_LOG" >"$WB_WORK/noconn.lines"; then
    cat "$WB_WORK/noconn.lines" >&2
    fail "the server log mentions $NOCONN: walbridge connected while checking/loading a configuration"
fi
ok "server log never mentions $NOCONN: check and run with bad configs made no connection"
