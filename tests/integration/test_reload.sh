#!/usr/bin/env bash
# test_reload: SIGHUP reloads the mappings of a running walbridge between
# source transactions.  An invalid file, a changed connection or slot
# setting, a plugin that cannot be loaded and a mapping that does not match
# the catalog are each refused with a message (file:line:column where there
# is one), and the previous configuration stays in force.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
ORIG=$WB_WORK/orig.yaml
cp "$CFG" "$ORIG"

acct() { wb_psql -c "SELECT $2 FROM salesforce.account WHERE external_id__c = '$1'"; }
# wait_log N TEXT: until TEXT occurs at least N times in the walbridge log.
wait_log() {
    local n=$1 text=$2 deadline=$((SECONDS + 30))
    while (($(grep -cF -- "$text" "$WB_LOG" || true) < n)); do
        ((SECONDS < deadline)) || fail "\"$text\" did not appear $n time(s) in the log within 30 s"
        wb_bg_check_alive
        sleep 0.1
    done
    ok "log shows \"$text\" ($n)"
}

wb_start_bg "$CFG"
wb_wait_sql 30 "SELECT active FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t "the slot is active"

echo "-- the initial mapping"
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (1, 'a@x', 'Ada', 'L', '1')"
wb_wait_sql 30 "SELECT firstname FROM salesforce.account WHERE external_id__c = '1'" Ada "row 1 mapped with first_name -> firstname"

echo "-- a changed mapping is taken on SIGHUP"
sed -i 's/first_name: firstname/first_name: name/' "$CFG"
kill -HUP "$WB_BG_PID"
wait_log 1 'reloaded configuration'
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (2, 'b@x', 'Bob', 'M', '2')"
wb_wait_sql 30 "SELECT coalesce(name, '-') || '|' || coalesce(firstname, '-') FROM salesforce.account WHERE external_id__c = '2'" \
    "Bob|-" "row 2 mapped with the reloaded first_name -> name"

echo "-- an invalid file is refused; the reloaded mapping stays in force"
printf 'mappings:\n  - name: [oops\n' >>"$CFG"
kill -HUP "$WB_BG_PID"
wait_log 1 'previous configuration stays in force'
assert_contains "$WB_LOG" "walbridge.yaml:" "the refusal names the file"
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (3, 'c@x', 'Cy', 'N', '3')"
wb_wait_sql 30 "SELECT coalesce(name, '-') FROM salesforce.account WHERE external_id__c = '3'" Cy \
    "row 3 still mapped by the last good configuration"

echo "-- a changed slot is refused: it needs a restart"
sed -e "s/slot: $WB_SLOT/slot: other_slot/" "$ORIG" >"$CFG"
kill -HUP "$WB_BG_PID"
wait_log 1 'configuration reload refused: "source.slot" changed'
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (4, 'd@x', 'Di', 'O', '4')"
wb_wait_sql 30 "SELECT coalesce(name, '-') FROM salesforce.account WHERE external_id__c = '4'" Di \
    "row 4 still mapped by the last good configuration"

echo "-- a plugin that cannot be loaded is refused"
cp "$ORIG" "$CFG"
cat >>"$CFG" <<'EOF'
  - name: broken_plugin
    from: public.customers
    to: salesforce.account
    plugin: { path: /nonexistent/plugin.so }
EOF
kill -HUP "$WB_BG_PID"
wait_log 1 'could not load plugin "/nonexistent/plugin.so"'
wait_log 2 'previous configuration stays in force'

echo "-- a mapping that does not match the catalog is refused"
sed -e 's/phone: phone/phone: no_such_column/' "$ORIG" >"$CFG"
kill -HUP "$WB_BG_PID"
wait_log 3 'previous configuration stays in force'
assert_contains "$WB_LOG" 'no_such_column' "the refusal names the missing column"

echo "-- back to the original file: reloaded again, every change applied once"
cp "$ORIG" "$CFG"
kill -HUP "$WB_BG_PID"
wait_log 2 'reloaded configuration'
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (5, 'e@x', 'Eve', 'P', '5')"
wb_wait_sql 30 "SELECT firstname FROM salesforce.account WHERE external_id__c = '5'" Eve "row 5 mapped by the original mapping"
wb_bg_check_alive
rc=0
wb_stop_bg || rc=$?
assert_eq "$rc" 0 "walbridge stops cleanly after the reloads"
assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.account")" 5 "five rows, one per insert"
