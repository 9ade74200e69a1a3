#!/usr/bin/env bash
# test_graceful_restart: walbridge confirms to the server (the slot's
# confirmed_flush_lsn) only positions it has stored in the target, and a
# SIGTERM stops it with exit code 0 and the two equal, so a restart neither
# loses nor repeats a change.
#
# walbridge streams with status_interval 200ms.  The slot's
# confirmed_flush_lsn is compared with the stored position (sampled slot
# first: walbridge stores, then confirms) over and over:
#   1. while mapped changes stream in;
#   2. while the published tables are idle and WAL still advances (an
#      unpublished table, pg_logical_emit_message, pg_switch_wal): the
#      walsender's keepalives then carry positions walbridge has not
#      stored.  After each small write the check waits until the walsender
#      has sent past it and walbridge has answered twice, so a walbridge
#      that confirmed a keepalive position without storing it is caught in
#      the act, not by luck.  A write of more than 1 MB must then move
#      both (walbridge stores idle positions lazily, and confirms them
#      after storing);
#   3. while walbridge's target transaction is blocked by a row lock held
#      by another session and WAL advances: the blocked change is neither
#      stored nor confirmed until the lock goes;
#   4. after SIGTERM: exit 0, stored = confirmed_flush_lsn.
# Then a restart writes nothing again, a new change arrives once, a second
# streaming run and SIGTERM keep the positions equal, and the source's
# changes equal walbridge's target writes as multisets (none lost, none
# applied twice).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
wbc_config_set "$CFG" status_interval 200ms

# "N/D": target row count / number of keys where target and mapped source differ.
STATE_SQL="SELECT (SELECT count(*) FROM salesforce.account) || '/' || (SELECT count(*) FROM ($WB_DIFF_SQL) d)"

echo "-- set-up: change audit (schema testlog), unpublished schema busy"
wb_setup_change_audit
wb_psql <<'SQL'
CREATE SCHEMA busy;  -- not in the publication (portal, public, salesforce)
CREATE TABLE busy.filler (id bigserial PRIMARY KEY, v text);
SQL
audit_writes() { wb_psql -c "SELECT count(*) FROM testlog.target_audit"; }

echo "-- create the slot"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = '$WB_PUB' AND schemaname = 'busy'")" 0 \
    "set-up: schema busy is not published"
if [[ -n "$(wb_psql -c "SELECT 1 FROM pg_replication_origin WHERE roname = 'walbridge_$WB_SLOT'")" ]]; then
    STORED_SQL="SELECT s.remote_lsn FROM pg_replication_origin_status s
                JOIN pg_replication_origin o ON o.roident = s.local_id WHERE o.roname = 'walbridge_$WB_SLOT'"
else
    STORED_SQL="SELECT end_lsn FROM walbridge.progress WHERE slot = '$WB_SLOT'"
fi

# check_positions WHERE: one psql session reads the slot's
# confirmed_flush_lsn FIRST, then the stored position (walbridge stores,
# then confirms: the other order could pair a confirmation with a stored
# position read before it was stored).  Fails when the slot is confirmed
# past the stored position.  Sets CONF STORED (LSN text), CONF_I STORED_I.
NSAMPLES=0
check_positions() {
    local out
    out=$(wb_psql -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" \
        -c "$STORED_SQL")
    read -r CONF STORED <<<"$(tr '\n' ' ' <<<"$out")"
    [[ -n "$CONF" && -n "$STORED" ]] || fail "$1: cannot read the slot and the stored position (got '$out')"
    CONF_I=$(wb_lsn_int "$CONF")
    STORED_I=$(wb_lsn_int "$STORED")
    NSAMPLES=$((NSAMPLES + 1))
    ((CONF_I <= STORED_I)) ||
        fail "$1: the slot's confirmed_flush_lsn $CONF is ahead of the stored position $STORED (confirmed before stored)"
}
# wait_state SECONDS SQL EXPECTED DESCRIPTION: wb_wait_sql, checking the
# positions at every poll.
wait_state() {
    local secs=$1 sql=$2 expected=$3 desc=$4 got deadline
    deadline=$((SECONDS + secs))
    while :; do
        check_positions "$desc"
        got=$(wb_psql -c "$sql" 2>&1) || true
        [[ "$got" == "$expected" ]] && break
        ((SECONDS < deadline)) || fail "$desc: still '$got' after ${secs}s (expected '$expected')"
        wb_bg_check_alive
        sleep 0.1
    done
    ok "$desc (= '$got'; confirmed $CONF <= stored $STORED at every poll)"
}

echo "-- 1. streaming walbridge, mapped changes arrive"
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
wait_state 180 "$STATE_SQL" "19/0" "changes arrive while walbridge streams (19 rows, 0 differences)"
LAST_MAPPED=$(wb_psql -c "SELECT pg_current_wal_lsn()")

echo "-- 2. published tables idle, WAL advances: keepalive positions"
for i in 1 2 3 4; do
    case $i in
    1) wb_psql -c "INSERT INTO busy.filler (v) SELECT md5(g::text) FROM generate_series(1, 200) g" ;;
    2) # Not flushed by itself: the next commit that wrote WAL flushes it.
       wb_psql -c "SELECT pg_logical_emit_message(false, 'wbt', 'not for walbridge')" \
           -c "INSERT INTO busy.filler (v) VALUES ('after the message')" >/dev/null ;;
    3) wb_psql -c "SELECT pg_switch_wal()" >/dev/null
       wb_psql -c "INSERT INTO busy.filler (v) VALUES ('after the switch')" ;;
    4) wb_psql -c "SELECT pg_logical_emit_message(true, 'wbt', 'transactional, not for walbridge')" >/dev/null ;;
    esac
    x=$(wb_psql -c "SELECT pg_current_wal_lsn()")
    wb_wait_replied_after "$x" "idle write $i"
    check_positions "idle write $i"
    ok "idle write $i (WAL at $x): confirmed $CONF <= stored $STORED"
done
assert_eq "$(audit_writes)" "$(wb_psql -c "SELECT count(*) FROM testlog.source_log")" \
    "nothing written to the target for the unpublished writes"
echo "   more than 1 MB of unpublished WAL: walbridge stores the idle position, then confirms it"
wb_psql -c "INSERT INTO busy.filler (v) SELECT repeat(md5(g::text), 4) FROM generate_series(1, 12000) g"
BIG=$(wb_psql -c "SELECT pg_current_wal_lsn()")
(($(wb_lsn_int "$BIG") - $(wb_lsn_int "$LAST_MAPPED") > 1024 * 1024)) || fail "set-up: the big write made less than 1 MB of WAL"
wait_state 180 "SELECT confirmed_flush_lsn >= '$BIG' FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t \
    "the slot is confirmed past the unpublished WAL ($BIG)"

echo "-- 3. walbridge's target transaction blocked by a row lock while WAL advances"
wb_sess_open L
wb_sess_run L "BEGIN; SELECT 1 FROM salesforce.account WHERE external_id__c = '1' FOR UPDATE;"
wb_psql -c "UPDATE portal.users SET phone = 'blocked' WHERE id = 1"
BLOCKED=$(wb_psql -c "SELECT pg_current_wal_lsn()")
wait_state 180 "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()
                 AND backend_type = 'client backend' AND application_name NOT LIKE 'wbt\\_%'
                 AND wait_event_type = 'Lock'" t "walbridge's apply waits for the row lock"
for i in 1 2; do
    wb_psql -c "INSERT INTO busy.filler (v) SELECT md5(g::text) FROM generate_series(1, 200) g"
    x=$(wb_psql -c "SELECT pg_current_wal_lsn()")
    wb_wait_replied_after "$x" "blocked, write $i"
    check_positions "blocked, write $i"
    ((CONF_I < $(wb_lsn_int "$BLOCKED"))) ||
        fail "blocked, write $i: the slot is confirmed ($CONF) past the change whose target transaction is blocked ($BLOCKED)"
    ok "blocked, write $i: confirmed $CONF <= stored $STORED, both before the blocked change ($BLOCKED)"
done
wb_sess_run L "ROLLBACK;"
wb_sess_close L
wait_state 180 "SELECT phone FROM salesforce.account WHERE external_id__c = '1'" "blocked" \
    "the blocked change arrives once the lock is gone"

echo "-- 4. SIGTERM"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on SIGTERM"
wb_wait_server_released 30
stored=$(wb_stored_lsn "$WB_SLOT")
confirmed=$(wb_slot_confirmed_lsn "$WB_SLOT")
[[ -n "$stored" ]] || fail "no stored position: neither replication origin walbridge_$WB_SLOT nor walbridge.progress has one"
[[ -n "$confirmed" ]] || fail "slot $WB_SLOT has no confirmed_flush_lsn"
echo "stored position $stored, slot confirmed_flush_lsn $confirmed; $NSAMPLES samples of both while streaming"
assert_eq "$stored" "$confirmed" "stored position equals the slot's confirmed_flush_lsn after SIGTERM"

echo "-- restart with --until now: nothing is written again"
W0=$(audit_writes)
N0=$(wb_psql -c "SELECT coalesce(max(n), 0) FROM testlog.target_audit")
wb_run_until "$CFG"
assert_eq "$(audit_writes)" "$W0" "no row written to salesforce.account by the restarted walbridge"
assert_eq "$(wb_psql -c "$STATE_SQL")" "19/0" "target still equals the mapped source"

echo "-- positive control: one new change is written exactly once"
wb_psql -c "UPDATE portal.users SET phone = 'after restart' WHERE id = 1"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT string_agg(op || ':' || id || ':' || phone, ',') FROM testlog.target_audit WHERE n > $N0")" \
    "U:1:after restart" "exactly one audited write for the one new change"

echo "-- cycle 2: streaming again after a graceful stop, SIGTERM again"
wb_start_bg "$CFG"
wb_psql -c "UPDATE portal.users SET phone = 'cycle 2' WHERE id = 3"
wait_state 180 "SELECT phone FROM salesforce.account WHERE external_id__c = '3'" "cycle 2" \
    "change made during the second streaming run arrives"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on the second SIGTERM"
wb_wait_server_released 30
assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$(wb_slot_confirmed_lsn "$WB_SLOT")" \
    "stored position equals confirmed_flush_lsn after the second SIGTERM"
assert_eq "$(audit_writes)" "$((W0 + 2))" "two audited writes since the first restart (one per change)"
assert_eq "$(wb_psql -c "$STATE_SQL")" "19/0" "final state: target equals the mapped source"
ndiff=$(wb_psql -c "SELECT count(*) FROM ($MULTISET_DIFF) d")
if [[ "$ndiff" != 0 ]]; then
    wb_psql_table -c "SELECT * FROM ($MULTISET_DIFF) d ORDER BY id, phone LIMIT 30" >&2 || true
    fail "source changes and target writes differ as multisets ($ndiff rows)"
fi
ok "source changes = target writes as multisets ($(audit_writes) each): nothing lost, nothing applied twice"
