#!/usr/bin/env bash
# test_check_catalog: `walbridge check` and `walbridge run` check the
# configuration against the live catalog.  A file with one deliberate
# mismatch of each kind exits 6 with every problem at its file:line:column
# and with a hint; `run` refuses it the same way and writes nothing; a
# matching file exits 0; a bad YAML file and a mapping cycle without
# skip_unchanged are file errors (exit 3); an allowed cycle is logged.
source "$(dirname "$0")/lib.sh"

cd "$WB_WORK"

# schemas/all.sql has its own portal.orders and salesforce.order__c (for the
# deploy/ examples); this test's mismatches are written against these.
wb_psql <<SQL
DROP TABLE portal.orders, salesforce.order__c;
CREATE TABLE portal.events (id int PRIMARY KEY, note text);
ALTER TABLE portal.events REPLICA IDENTITY NOTHING;
CREATE TABLE portal.orders (id serial PRIMARY KEY, user_id int, amount numeric(12,2), status text);
CREATE TABLE salesforce.order__c (id serial PRIMARY KEY, external_id__c varchar(255) UNIQUE,
                                  account__c varchar(18), amount__c numeric(18,2));
CREATE PUBLICATION $WB_PUB FOR TABLE portal.users, portal.events, portal.orders, salesforce.account;
SQL

# header FILE: the source and target sections, lines 1-9 (the positions in
# the files below count on it).
header() {
    cat >"$1" <<EOF
# $WB_TEST_SCRIPT (line 1)
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
target:
  conninfo: ""
mappings:
EOF
}

# ---------------------------------------------------------------- mismatches
header bad.yaml
cat >>bad.yaml <<'EOF'
  - name: missing_table
    from: portal.nope
    to: salesforce.account
    key: { id: external_id__c }
  - name: missing_column
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { emial: personemail, created_at: isdeleted }
    filter: "statuz = 'active'"
  - name: key_without_unique_index
    from: portal.users
    to: salesforce.account
    key: { id: name }
  - name: key_not_in_identity
    from: portal.users
    to: salesforce.account
    key: { email: external_id__c }
  - name: identity_nothing
    from: portal.events
    to: salesforce.account
    key: { id: external_id__c }
  - name: orders
    from: portal.orders
    to: salesforce.order__c
    key: { id: external_id__c }
    values:
      account__c: { lookup: { table: salesforce.account, match: external_id__c, column: sfidd }, from: user_id }
      amount__c: { cast: status, to: date }
  - name: not_published
    from: public.customers
    to: salesforce.account
    key: { id: external_id__c }
EOF
[[ "$(wc -l <bad.yaml)" == 42 ]] || fail "bad.yaml: expected 42 lines"

# Each problem: position, the words of its message, and a word of its hint.
PROBLEMS=(
    '11:11|mapping "missing_table": source table "portal.nope" does not exist|Create the table'
    '18:16|mapping "missing_column": source column "emial" does not exist in table "portal.users"|Columns of "portal.users": id, email'
    '18:36|mapping "missing_column": source column "created_at" (timestamp without time zone) cannot be converted to column "isdeleted" (boolean)|{cast: ...}'
    '19:13|mapping "missing_column": source column "statuz" does not exist|Columns of "portal.users"'
    '23:12|mapping "key_without_unique_index": no unique index on target table "salesforce.account" has exactly the key columns (name)|CREATE UNIQUE INDEX ON salesforce.account (name);'
    '27:12|mapping "key_not_in_identity": key column "email" is not in the replica identity of source table "portal.users" (index "users_pkey")|ALTER TABLE portal.users REPLICA IDENTITY FULL;'
    '29:11|mapping "identity_nothing": source table "portal.events" has REPLICA IDENTITY NOTHING|ALTER TABLE portal.events REPLICA IDENTITY FULL;'
    '37:21|mapping "orders": lookup column "sfidd" does not exist in table "salesforce.account"|Columns of "salesforce.account"'
    '38:20|mapping "orders": the value (date) cannot be converted to column "amount__c" (numeric(18,2))|{cast: ...}'
    '40:11|mapping "not_published": source table "public.customers" is not in publication "'"$WB_PUB"'"|ALTER PUBLICATION '"$WB_PUB"' ADD TABLE public.customers;'
)

# expect_problems OUT [FILE]: every problem of PROBLEMS in OUT as an ERROR
# line with its position in FILE (bad.yaml), followed (before the next
# ERROR) by its HINT; and no other ERROR line.
expect_problems() {
    local out=$1 f=${2:-bad.yaml} p pos msg hint line n
    for p in "${PROBLEMS[@]}"; do
        IFS='|' read -r pos msg hint <<<"$p"
        line=$(grep -nF -- "ERROR:  $f:$pos: $msg" "$out" | head -n 1 | cut -d: -f1)
        if [[ -z "$line" ]]; then
            cat "$out" >&2
            fail "no ERROR line '$f:$pos: $msg'"
        fi
        # The lines that belong to this ERROR: up to the next ERROR/FATAL.
        if ! awk -v from="$line" 'NR > from && / (ERROR|FATAL|LOG|INFO):  / { exit } NR > from { print }' "$out" |
            grep -F -- "HINT:  " | grep -qF -- "$hint"; then
            cat "$out" >&2
            fail "the ERROR at $f:$pos has no HINT containing '$hint'"
        fi
        ok "$f:$pos reported, with hint '$hint'"
    done
    n=$(grep -c ' ERROR:  ' "$out" || true)
    assert_eq "$n" "${#PROBLEMS[@]}" "exactly the deliberate problems are reported"
    assert_contains "$out" "FATAL:  configuration file \"$f\" does not match the database: ${#PROBLEMS[@]} problems" \
        "the summary counts them"
}

echo "-- check: every mismatch, exit 6"
rc=0
wb_exec "$WB_WORK/check.bad.err" 60 check -c bad.yaml || rc=$?
assert_eq "$rc" 6 "walbridge check -c bad.yaml exits 6 (configuration does not match the database)"
expect_problems "$WB_WORK/check.bad.err"

echo "-- check with a target connection of its own: the same problems"
# Another conninfo for the same database: walbridge opens two connections
# and compares types across them by name, as for two databases.
awk -v t="  conninfo: \"host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB application_name=wbt_target\"" \
    'NR == 8 { print t; next } { print }' bad.yaml >bad2.yaml
rc=0
wb_exec "$WB_WORK/check.bad2.err" 60 check -c bad2.yaml || rc=$?
assert_eq "$rc" 6 "walbridge check -c bad2.yaml (separate target connection) exits 6"
expect_problems "$WB_WORK/check.bad2.err" bad2.yaml

echo "-- run: the same problems, exit 6, nothing written"
rc=0
wb_exec "$WB_WORK/run.bad.err" 60 run -c bad.yaml --until now || rc=$?
assert_eq "$rc" 6 "walbridge run -c bad.yaml exits 6"
expect_problems "$WB_WORK/run.bad.err"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_slots WHERE database = '$WB_DB'")" 0 \
    "run created no replication slot"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_origin WHERE roname = 'walbridge_$WB_SLOT'")" 0 \
    "run created no replication origin"
assert_eq "$(wb_psql -c "SELECT to_regnamespace('walbridge') IS NULL")" t \
    "run created no progress schema"
assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.account")" 0 \
    "run wrote no rows"

# ------------------------------------------------------------------ matching
header good.yaml
cat >>good.yaml <<'EOF'
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
    values:
      name: { concat: [first_name, last_name], sep: " " }
    filter: "status IN ('active', 'trial')"
    on_delete: { soft: { isdeleted: true } }
  - name: orders
    from: portal.orders
    to: salesforce.order__c
    key: { id: external_id__c }
    values:
      account__c: { lookup: { table: salesforce.account, match: external_id__c, column: sfid }, from: user_id }
      amount__c: amount
  - name: events_insert_only
    from: portal.events
    to: salesforce.account
    operations: [insert]
    key: { id: external_id__c }
    values: { name: { cast: note, to: text } }
EOF

# events_insert_only: REPLICA IDENTITY NOTHING is fine for a mapping that
# never needs an old key.
echo "-- a matching configuration: exit 0, and run starts"
rc=0
wb_exec "$WB_WORK/check.good.err" 60 check -c good.yaml || rc=$?
[[ "$rc" == 0 ]] || cat "$WB_WORK/check.good.err" >&2
assert_eq "$rc" 0 "walbridge check -c good.yaml exits 0"
assert_not_contains "$WB_WORK/check.good.err" "ERROR:" "no problem reported for good.yaml"
assert_contains "$WB_WORK/check.good.err" "matches the database" "check says the file matches the database"
wb_run_until good.yaml # creates the slot: changes count from here
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name) VALUES ('ada@example.com', 'Ada', 'Lovelace')"
wb_run_until good.yaml
assert_eq "$(wb_psql -c "SELECT name FROM salesforce.account")" "Ada Lovelace" "run with good.yaml applies the change"

# ------------------------------------------------------------- file errors
echo "-- a bad YAML file: exit 3"
header syntax.yaml
cat >>syntax.yaml <<'EOF'
  - name: users_to_accounts
    from: portal.users
    to: [salesforce.account
EOF
rc=0
wb_exec "$WB_WORK/check.syntax.err" 60 check -c syntax.yaml || rc=$?
assert_eq "$rc" 3 "walbridge check -c syntax.yaml exits 3"
assert_contains "$WB_WORK/check.syntax.err" "syntax.yaml:" "the YAML error has a position"

# cycle FILE SKIP: portal.users -> salesforce.account -> portal.users.
cycle() {
    header "$1"
    cat >>"$1" <<EOF
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail }
    skip_unchanged: $2
  - name: accounts_to_users
    from: salesforce.account
    to: portal.users
    key: { id: id }
    columns: { personemail: email }
    skip_unchanged: $2
EOF
}

echo "-- a cycle without skip_unchanged: exit 3"
cycle cycle.yaml false
rc=0
wb_exec "$WB_WORK/check.cycle.err" 60 check -c cycle.yaml || rc=$?
assert_eq "$rc" 3 "walbridge check -c cycle.yaml exits 3 (a file error)"
assert_contains "$WB_WORK/check.cycle.err" \
    "ERROR:  cycle.yaml:10:5: cycle in the mapping graph: portal.users -> salesforce.account -> portal.users" \
    "the cycle is reported at the first mapping without skip_unchanged"
assert_contains "$WB_WORK/check.cycle.err" '"accounts_to_users" (cycle.yaml:16:5, no skip_unchanged)' \
    "the detail names every mapping on the cycle with its position"
assert_contains "$WB_WORK/check.cycle.err" 'HINT:  Set "skip_unchanged: true" on every mapping of the cycle' \
    "the hint says how to end the echoes"
rc=0
wb_exec "$WB_WORK/run.cycle.err" 60 run -c cycle.yaml --until now || rc=$?
assert_eq "$rc" 3 "walbridge run -c cycle.yaml exits 3"

echo "-- a cycle where every mapping sets skip_unchanged: allowed, logged"
cycle cycle_ok.yaml true
rc=0
wb_exec "$WB_WORK/check.cycle_ok.err" 60 check -c cycle_ok.yaml || rc=$?
[[ "$rc" == 0 ]] || cat "$WB_WORK/check.cycle_ok.err" >&2
assert_eq "$rc" 0 "walbridge check -c cycle_ok.yaml exits 0"
assert_contains "$WB_WORK/check.cycle_ok.err" "(allowed: every mapping on it sets skip_unchanged or conflict)" \
    "the allowed cycle is logged"
assert_eq "$(grep -c 'cycle in the mapping graph' "$WB_WORK/check.cycle_ok.err")" 1 \
    "the allowed cycle is logged once"

echo "-- --offline: the file and the graph only"
rc=0
wb_exec "$WB_WORK/check.offline.err" 60 check --offline -c bad.yaml || rc=$?
assert_eq "$rc" 0 "walbridge check --offline -c bad.yaml exits 0 (no catalog)"
rc=0
wb_exec "$WB_WORK/check.offline_cycle.err" 60 check --offline -c cycle.yaml || rc=$?
assert_eq "$rc" 3 "walbridge check --offline -c cycle.yaml still exits 3"
