#!/usr/bin/env bash
# test_fail_loud: walbridge refuses to stream, quickly and loudly, when the
# replication state cannot be trusted:
#   (d) the source identity recorded in walbridge.source_identity no longer
#       matches (timeline, then system identifier)
#   (b) the slot's confirmed_flush_lsn is ahead of the stored position
#   (a) the slot was dropped while progress is stored (it must not be
#       recreated)
#   (c) the slot was invalidated (wal_status = lost); on a private cluster
#       with max_slot_wal_keep_size = 1MB
# In every case: `walbridge run` (streaming mode) exits with code 5 at the
# first attempt: no "reconnecting in" line in its log (a walbridge that
# retried instead would print one, and keep running into the 120 s ceiling
# that only catches a hang), a message
# naming the slot and the positions or values involved, and nothing written
# to the target (no row change on salesforce.account, stored position
# unchanged).  (a), (b) and (d) run on the shared server, (c) on its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
OUT=""

# The target audit: every row walbridge writes to salesforce.account.
setup_audit() {
    wb_psql <<'SQL'
CREATE SCHEMA testlog;  -- not published
CREATE TABLE testlog.target_writes (n bigserial PRIMARY KEY, op text, key text, phone text);
CREATE FUNCTION testlog.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO testlog.target_writes (op, key, phone) VALUES (TG_OP, OLD.external_id__c, OLD.phone);
  ELSE
    INSERT INTO testlog.target_writes (op, key, phone) VALUES (TG_OP, NEW.external_id__c, NEW.phone);
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION testlog.audit_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testlog.target_writes (op) VALUES ('statement ' || TG_OP);
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON salesforce.account
  FOR EACH STATEMENT EXECUTE FUNCTION testlog.audit_stmt();
CREATE TRIGGER zz_audit_rows AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
SQL
}
# Every row change (op, key, phone) and every statement ("statement OP", even
# one that changes no row) on salesforce.account is logged.
target_writes() { wb_psql -c "SELECT count(*) FROM testlog.target_writes"; }

# run_expect_state CASE: `walbridge run -c CFG` must exit 5 without retrying.
run_expect_state() {
    local name=$1 t0 rc=0 ms
    OUT=$WB_WORK/case_$name.log
    t0=$(date +%s%N)
    wb_exec "$OUT" 120 run -c "$CFG" --log-level info || rc=$?
    ms=$(wbc_elapsed_ms "$t0")
    echo "walbridge run exited with code $rc after $ms ms; stderr:"
    sed 's/^/    | /' "$OUT"
    if ((rc == 124)); then
        fail "($name) walbridge was still running after 120 s (retrying instead of failing?)"
    fi
    assert_eq "$rc" 5 "($name) exit code 5 (replication state inconsistent)"
    assert_not_contains "$OUT" "reconnecting in" "($name) no retry: walbridge stopped at the first attempt"
    assert_contains "$OUT" "FATAL:" "($name) the error is logged as FATAL"
    assert_contains "$OUT" "\"$WB_SLOT\"" "($name) the message names the slot \"$WB_SLOT\""
}

# assert_untouched CASE WRITES_BEFORE STORED_BEFORE
assert_untouched() {
    local name=$1 writes=$2 stored=$3
    assert_eq "$(target_writes)" "$writes" "($name) nothing written to salesforce.account (audit rows)"
    assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$stored" "($name) stored position unchanged"
    wb_wait_server_released 15
}

setup_audit
echo "-- first run: creates the publication, the slot and the stored position"
wb_run_until "$CFG"
S0=$(wb_stored_lsn "$WB_SLOT")
[[ -n "$S0" ]] || fail "no stored position after the first run"
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$S0" "after the first run: confirmed_flush_lsn = stored position"
assert_eq "$(wb_psql -c "SELECT count(*) FROM walbridge.source_identity WHERE slot = '$WB_SLOT'")" 1 \
    "the source identity is recorded for the slot"

echo "-- mapped changes while walbridge is stopped (pending for every case)"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'fl' || g || '@example.com', 'F' || g, 'L' || g, 'p' || g FROM generate_series(1, 3) g"
S=$(wb_stored_lsn "$WB_SLOT")
W=$(target_writes)
assert_eq "$W" 0 "no target writes yet"

# ------------------------------------------------------------------ (d)
tl=$(wb_psql -c "SELECT timeline FROM walbridge.source_identity WHERE slot = '$WB_SLOT'")
real_tl=$(wb_psql -c "SELECT timeline_id FROM pg_control_checkpoint()")
sysid=$(wb_psql -c "SELECT system_identifier FROM walbridge.source_identity WHERE slot = '$WB_SLOT'")
real_sysid=$(wb_psql -c "SELECT system_identifier FROM pg_control_system()")
assert_eq "$tl" "$real_tl" "recorded timeline is the server's"
assert_eq "$sysid" "$real_sysid" "recorded system identifier is the server's"

echo "-- (d1) recorded timeline $((tl + 1)), the source is on timeline $tl"
wb_psql -c "UPDATE walbridge.source_identity SET timeline = timeline + 1 WHERE slot = '$WB_SLOT'"
run_expect_state d1
assert_contains "$OUT" "timeline" "(d1) the message is about the timeline"
assert_contains "$OUT" "from $((tl + 1)) to $tl" "(d1) the message has both timelines (recorded $((tl + 1)), actual $tl)"
assert_untouched d1 "$W" "$S"
wb_psql -c "UPDATE walbridge.source_identity SET timeline = $tl WHERE slot = '$WB_SLOT'"

echo "-- (d2) recorded system identifier 1, the source is $real_sysid"
wb_psql -c "UPDATE walbridge.source_identity SET system_identifier = '1' WHERE slot = '$WB_SLOT'"
run_expect_state d2
assert_contains "$OUT" "system identifier" "(d2) the message is about the system identifier"
assert_contains "$OUT" "system 1;" "(d2) the message has the recorded system identifier 1"
assert_contains "$OUT" "system $real_sysid" "(d2) the message has the actual system identifier $real_sysid"
assert_untouched d2 "$W" "$S"
wb_psql -c "UPDATE walbridge.source_identity SET system_identifier = '$sysid' WHERE slot = '$WB_SLOT'"

echo "-- (d) positive control: identity restored, the 3 pending inserts are applied"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.target_writes WHERE key IS NOT NULL")" 3 \
    "(d) control: 3 row writes audited once the identity matches"
wb_assert_synced "(d) control: target equals the mapped source"

# ------------------------------------------------------------------ (b)
echo "-- (b) mapped changes while stopped, then the slot is advanced past them"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone) VALUES ('b@example.com', 'B', 'B', 'pb')"
wb_psql -c "UPDATE portal.users SET phone = 'changed while stopped' WHERE email = 'fl1@example.com'"
S=$(wb_stored_lsn "$WB_SLOT")
W=$(target_writes)
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$S" "(b) before the advance: confirmed_flush_lsn = stored ($S)"
wb_psql -c "SELECT pg_replication_slot_advance('$WB_SLOT', pg_current_wal_lsn())" >/dev/null
C=$(wb_slot_confirmed_lsn "$WB_SLOT")
echo "stored position $S, slot confirmed_flush_lsn advanced to $C"
(($(wb_lsn_int "$C") > $(wb_lsn_int "$S"))) || fail "(b) set-up: confirmed_flush_lsn $C is not ahead of $S"
ok "(b) set-up: confirmed_flush_lsn $C is ahead of the stored position $S"
run_expect_state b
assert_contains "$OUT" "$C" "(b) the message has the slot's confirmed_flush_lsn $C"
assert_contains "$OUT" "$S" "(b) the message has the stored position $S"
assert_untouched b "$W" "$S"
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$C" "(b) the slot was left alone (confirmed_flush_lsn still $C)"

# ------------------------------------------------------------------ (a)
echo "-- (a) the slot is dropped while progress is stored"
wb_psql -c "SELECT pg_drop_replication_slot('$WB_SLOT')" >/dev/null
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone) VALUES ('a@example.com', 'A', 'A', 'pa')"
W=$(target_writes)
run_expect_state a
assert_contains "$OUT" "does not exist" "(a) the message says the slot does not exist"
assert_contains "$OUT" "$S" "(a) the message has the stored position $S"
assert_eq "$(wb_psql_admin -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")" 0 \
    "(a) the slot was not recreated"
assert_untouched a "$W" "$S"

# ------------------------------------------------------------------ (c)
echo "-- (c) an invalidated slot, on a private cluster with max_slot_wal_keep_size = 1MB"
wbc_start
wbc_switch
wb_write_config "$CFG"
setup_audit
wbc_set max_slot_wal_keep_size 1MB
assert_eq "$(wb_psql -c "SHOW max_slot_wal_keep_size")" "1MB" "(c) private cluster: max_slot_wal_keep_size = 1MB"
wb_run_until "$CFG"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'c' || g || '@example.com', 'C' || g, 'C' || g, 'pc' || g FROM generate_series(1, 3) g"
S=$(wb_stored_lsn "$WB_SLOT")
W=$(target_writes)
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$S" "(c) confirmed_flush_lsn = stored ($S) before the WAL is removed"
wb_psql -c "CREATE TABLE testlog.filler (n int)"
status=""
for i in $(seq 1 20); do
    wb_psql -c "INSERT INTO testlog.filler VALUES ($i)" -c "SELECT pg_switch_wal()" -c "CHECKPOINT" >/dev/null
    status=$(wb_psql -c "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")
    [[ "$status" == lost ]] && break
done
assert_eq "$status" lost "(c) set-up: the slot's wal_status is lost after $i WAL switches and checkpoints"
C=$(wb_slot_confirmed_lsn "$WB_SLOT")
run_expect_state c
assert_contains "$OUT" "invalidated" "(c) the message says the slot was invalidated"
assert_contains "$OUT" "$S" "(c) the message has the stored position $S"
assert_untouched c "$W" "$S"
assert_eq "$(wb_psql -c "SELECT string_agg(wal_status || ' ' || confirmed_flush_lsn, ',')
                         FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")" \
    "lost $C" "(c) the invalidated slot was left alone (one slot, still lost, confirmed_flush_lsn $C)"
