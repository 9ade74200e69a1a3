#!/usr/bin/env bash
# test_graceful_restart: SIGTERM stops a streaming walbridge with exit code 0
# and leaves its stored position equal to the slot's confirmed_flush_lsn; a
# restart then writes nothing again, and new changes still arrive once.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

# "N/D": target row count / number of keys where target and mapped source differ.
STATE_SQL="SELECT (SELECT count(*) FROM salesforce.account) || '/' || (SELECT count(*) FROM ($WB_DIFF_SQL) d)"

echo "-- create the slot"
wb_run_until "$CFG"

echo "-- cycle 1: streaming walbridge, changes arrive, SIGTERM"
wb_start_bg "$CFG"
wb_psql <<'SQL'
INSERT INTO portal.users (email, first_name, last_name, phone)
  SELECT 'g' || g || '@example.com', 'First' || g, 'Last' || g, 'p' || g
  FROM generate_series(1, 20) g;
UPDATE portal.users SET phone = 'updated ' || id WHERE id % 3 = 0;
DELETE FROM portal.users WHERE id IN (2, 4);
BEGIN;
UPDATE portal.users SET email = 'tx@example.com' WHERE id = 5;
INSERT INTO portal.users (email, first_name, last_name, phone) VALUES ('late@example.com', 'Late', 'Comer', NULL);
COMMIT;
SQL
wb_wait_sql 60 "$STATE_SQL" "19/0" "changes arrive while walbridge streams (19 rows, 0 differences)"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on SIGTERM"
wb_wait_server_released 30

stored=$(wb_stored_lsn "$WB_SLOT")
confirmed=$(wb_slot_confirmed_lsn "$WB_SLOT")
[[ -n "$stored" ]] || fail "no stored position: neither replication origin walbridge_$WB_SLOT nor walbridge.progress has one"
[[ -n "$confirmed" ]] || fail "slot $WB_SLOT has no confirmed_flush_lsn"
echo "stored position $stored, slot confirmed_flush_lsn $confirmed"
assert_eq "$stored" "$confirmed" "stored position equals the slot's confirmed_flush_lsn after SIGTERM"

echo "-- restart with --until now: nothing is written again"
wb_psql <<'SQL'
CREATE SCHEMA testlog;  -- not published
CREATE TABLE testlog.account_writes (n bigserial PRIMARY KEY, op text, key text, phone text,
                                          at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION testlog.audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO testlog.account_writes (op, key, phone) VALUES (TG_OP, OLD.external_id__c, OLD.phone);
  ELSE
    INSERT INTO testlog.account_writes (op, key, phone) VALUES (TG_OP, NEW.external_id__c, NEW.phone);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_account AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit_account();
SQL
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.account_writes")" 0 \
    "no row written to salesforce.account by the restarted walbridge"
assert_eq "$(wb_psql -c "$STATE_SQL")" "19/0" "target still equals the mapped source"

echo "-- positive control: one new change is written exactly once"
wb_psql -c "UPDATE portal.users SET phone = 'after restart' WHERE id = 1"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT string_agg(op || ':' || key || ':' || phone, ',') FROM testlog.account_writes")" \
    "UPDATE:1:after restart" "exactly one audited write for the one new change"

echo "-- cycle 2: streaming again after a graceful stop, SIGTERM again"
wb_start_bg "$CFG"
wb_psql -c "UPDATE portal.users SET phone = 'cycle 2' WHERE id = 3"
wb_wait_sql 60 "SELECT phone FROM salesforce.account WHERE external_id__c = '3'" "cycle 2" \
    "change made during the second streaming run arrives"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on the second SIGTERM"
wb_wait_server_released 30
assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$(wb_slot_confirmed_lsn "$WB_SLOT")" \
    "stored position equals confirmed_flush_lsn after the second SIGTERM"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.account_writes")" 2 \
    "two audited writes in total (one per change since the first restart)"
assert_eq "$(wb_psql -c "$STATE_SQL")" "19/0" "final state: target equals the mapped source"
