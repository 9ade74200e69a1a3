#!/usr/bin/env bash
# test_heroku_connect: walbridge next to (a stand-in for) Heroku Connect.
#
# tests/harness/heroku_connect.sql installs Connect's triggers on the
# salesforce tables, tests/harness/hc_simulator.py plays Connect's sessions
# (xmlbinary = 'hex').  Checked:
#   0. the stand-in itself: ordinary writes are queued (PENDING, a NEW log
#      row), Connect's are not (SYNCED, no log row), TRUNCATE is not logged,
#      hc_install adds a later table;
#   a. walbridge's apply session leaves the triggers working: every write it
#      makes into salesforce.account has a NEW _trigger_log row (same txid,
#      record, action) and the row says PENDING; its session has
#      session_replication_role = origin and xmlbinary = base64;
#   b. the simulator's write-back (sfid, systemmodstamp, SYNCED) and its
#      injected Salesforce-side edits are not logged;
#   c. with the reverse mapping salesforce.account -> portal.users
#      (skip_unchanged on both, as the cycle requires) the sfid Connect
#      assigned reaches portal.users.salesforce_id, injected edits reach
#      portal.users, and then the system is quiescent: another run applies
#      nothing and the trigger log does not grow (no ping-pong).
# An ALWAYS trigger (fires whatever session_replication_role says) audits
# every row write to salesforce.account and portal.users with the writer's
# session settings, in the unpublished schema testlog.
source "$(dirname "$0")/lib.sh"

wb_need_python
SIM_DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
SIM_N=0
SIM_OUT=""
# sim MODE ARGS...: run the simulator; its JSON line goes to $SIM_OUT.
sim() {
    SIM_N=$((SIM_N + 1))
    SIM_OUT=$WB_WORK/sim.$SIM_N.json
    timeout -k 5 120 "$PY" "$WB_SOURCE_DIR/tests/harness/hc_simulator.py" "$@" --dsn "$SIM_DSN" \
        >"$SIM_OUT" 2>"$SIM_OUT.err" \
        || { cat "$SIM_OUT" "$SIM_OUT.err" >&2; fail "hc_simulator.py $* failed"; }
    echo "hc_simulator $1: $(cat "$SIM_OUT")"
}
# simv KEY: a number from the last simulator run's JSON.
simv() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SIM_OUT" "$1"; }
# applied: "N transactions applied" of the last wb_run_until.
applied() {
    local n
    n=$(sed -n 's/.*stopped at [^:]*: \([0-9]*\) transactions applied.*/\1/p' "$WB_WORK/run.$WB_RUN_N.log" | tail -n 1)
    [[ -n "$n" ]] || fail "no 'transactions applied' line in $WB_WORK/run.$WB_RUN_N.log"
    printf '%s\n' "$n"
}
q() { wb_psql -c "$1"; }
# wb_assert_synced over the linked accounts only: records created in
# Salesforce (no external_id__c) have no portal user.
WB_DIFF_SQL=${WB_DIFF_SQL/FULL JOIN salesforce.account t/FULL JOIN (SELECT * FROM salesforce.account WHERE external_id__c IS NOT NULL) t}
[[ "$WB_DIFF_SQL" == *"WHERE external_id__c IS NOT NULL) t"* ]] || fail "could not restrict WB_DIFF_SQL to linked accounts"
log_rows() { q "SELECT count(*) FROM salesforce._trigger_log"; }

echo "-- set-up: the Heroku Connect stand-in, the audit trigger, portal.users.salesforce_id"
wb_psql -f "$WB_SOURCE_DIR/tests/harness/heroku_connect.sql"
wb_psql <<'SQL'
ALTER TABLE portal.users ADD COLUMN IF NOT EXISTS salesforce_id varchar(18); -- schemas/portal.sql has it
-- The reverse mapping's key (external_id__c) must reach walbridge in the old
-- tuple of updates: it is not the primary key.
ALTER TABLE salesforce.account REPLICA IDENTITY FULL;
-- The reverse key external_id__c (varchar) -> portal.users.id (integer)
-- needs no cast: a string is accepted as any type's input.
CREATE SCHEMA testlog;
CREATE TABLE testlog.audit (n bigserial PRIMARY KEY, tbl text, op text, id integer, txid bigint,
    app text, srr text, xmlbinary text, lastop text);
CREATE FUNCTION testlog.audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  INSERT INTO testlog.audit (tbl, op, id, txid, app, srr, xmlbinary, lastop)
  VALUES (TG_TABLE_NAME, TG_OP, (to_jsonb(r) ->> 'id')::integer, txid_current(),
          current_setting('application_name'), current_setting('session_replication_role'),
          current_setting('xmlbinary'), to_jsonb(r) ->> '_hc_lastop');
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
ALTER TABLE salesforce.account ENABLE ALWAYS TRIGGER zz_audit;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON portal.users
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
ALTER TABLE portal.users ENABLE ALWAYS TRIGGER zz_audit;
SQL
assert_eq "$(q "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger
               WHERE tgrelid = 'salesforce.account'::regclass AND tgname LIKE 'hc\_%'")" \
    "hc_account_logger,hc_account_status" "stand-in triggers installed on salesforce.account"
assert_eq "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'salesforce._trigger_log'::regclass")" 0 \
    "no trigger on salesforce._trigger_log"

echo "-- 0. the stand-in itself"
q "INSERT INTO salesforce.account (external_id__c, name, phone, _hc_err) VALUES ('probe', 'Probe', '1', 'old error')" >/dev/null
q "UPDATE salesforce.account SET phone = '2' WHERE external_id__c = 'probe'" >/dev/null
assert_eq "$(q "SELECT _hc_lastop || '/' || coalesce(_hc_err, '<null>') FROM salesforce.account WHERE external_id__c = 'probe'")" \
    "PENDING/<null>" "ordinary session: PENDING, _hc_err cleared"
assert_eq "$(q "SELECT string_agg(action || ':' || state || ':' || ((\"values\"::jsonb) ? 'name')::text
                                  || ':' || ((\"values\"::jsonb) ->> 'phone'), ',' ORDER BY id)
               FROM salesforce._trigger_log")" \
    "INSERT:NEW:true:1,UPDATE:NEW:false:2" "insert logs every column, update only the changed ones"
q "SET xmlbinary = 'hex'; UPDATE salesforce.account SET sfid = '001000000000001AAA', _hc_err = 'x' WHERE external_id__c = 'probe'" >/dev/null
assert_eq "$(q "SELECT _hc_lastop || '/' || _hc_err || '/' || (SELECT count(*) FROM salesforce._trigger_log)
               FROM salesforce.account WHERE external_id__c = 'probe'")" \
    "SYNCED/x/2" "Connect session (xmlbinary = hex): SYNCED, not logged"
q "DELETE FROM salesforce.account WHERE external_id__c = 'probe'" >/dev/null
assert_eq "$(q "SELECT action || ':' || sfid || ':' || record_id::text || ':' || (\"values\" IS NULL)::text
               FROM salesforce._trigger_log ORDER BY id DESC LIMIT 1")" \
    "DELETE:001000000000001AAA:$(q "SELECT max(record_id) FROM salesforce._trigger_log"):true" \
    "delete logged with the record's id and sfid"
q "CREATE TABLE salesforce.hc_probe (id serial PRIMARY KEY, sfid varchar(18), name text,
                                     _hc_lastop varchar(32), _hc_err text);
   SELECT salesforce.hc_install('salesforce.hc_probe');
   INSERT INTO salesforce.hc_probe (name) VALUES ('later table');" >/dev/null
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE table_name = 'hc_probe' AND action = 'INSERT'")" 1 \
    "hc_install adds a table created later"
q "TRUNCATE salesforce.hc_probe" >/dev/null
assert_eq "$(log_rows)" 4 "TRUNCATE is not logged"
q "DROP TABLE salesforce.hc_probe; TRUNCATE salesforce._trigger_log, testlog.audit" >/dev/null

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

echo "-- a. walbridge's writes into salesforce.account are queued for Salesforce"
wb_run_until "$CFG"   # creates the publication and the slot
wb_psql <<'SQL'
INSERT INTO portal.users (email, first_name, last_name, phone)
SELECT 'user' || g || '@example.com', 'First' || g, 'Last' || g, '555-' || g
FROM generate_series(1, 200) g;
UPDATE portal.users SET phone = 'upd-' || id WHERE id % 4 = 0;
UPDATE portal.users SET email = 'again' || id || '@example.com' WHERE id % 8 = 0;
DELETE FROM portal.users WHERE id IN (199, 200);
SQL
for i in $(seq 1 20); do q "UPDATE portal.users SET first_name = 'Single$i' WHERE id = $i" >/dev/null; done
wb_run_until "$CFG"
wb_assert_synced "forward mapping applied"
WB_WRITES=$(q "SELECT count(*) FROM testlog.audit WHERE tbl = 'account' AND app = 'walbridge'")
assert_eq "$WB_WRITES" 297 "walbridge's row writes into salesforce.account (audited)"
assert_eq "$(sed -n 's/.*stopped at .* \([0-9]*\) rows written.*/\1/p' "$WB_WORK/run.$WB_RUN_N.log" | tail -n 1)" \
    "$WB_WRITES" "its stop line counts the same rows written (set-based, row, update-or-insert)"
assert_eq "$(q "SELECT count(*) FROM testlog.audit WHERE tbl = 'account' AND app <> 'walbridge'")" 0 \
    "every audited write into salesforce.account is walbridge's (application_name)"
assert_eq "$(q "SELECT string_agg(DISTINCT srr || '/' || xmlbinary, ',') FROM testlog.audit WHERE app = 'walbridge'")" \
    "origin/base64" "walbridge's session: session_replication_role = origin, xmlbinary = base64"
assert_eq "$(q "SELECT count(*) FROM testlog.audit a WHERE a.app = 'walbridge' AND NOT EXISTS (
                  SELECT 1 FROM salesforce._trigger_log l
                  WHERE l.txid = a.txid AND l.record_id = a.id AND l.action = a.op AND l.state = 'NEW')")" 0 \
    "every walbridge write has a NEW _trigger_log row (same txid, record, action)"
LOGGED=$(log_rows)
assert_eq "$LOGGED" "$WB_WRITES" "one _trigger_log row per walbridge write, no more"
assert_eq "$(q "SELECT count(*) FILTER (WHERE _hc_lastop = 'PENDING' AND _hc_err IS NULL) || '/' || count(*)
               FROM salesforce.account")" "198/198" "every account row PENDING"

echo "-- b. Connect's write-back is not logged"
# One log row a transaction here (the sync rate is printed, for information).
sim sync --until-idle --duration 60 --seed 7 --batch 1
assert_eq "$(simv synced)" "$LOGGED" "simulator synced every NEW log row"
assert_eq "$(simv txns)" "$LOGGED" "one transaction per log row (--batch 1)"
assert_eq "$(simv sfids_assigned)" 198 "an sfid assigned to each of the 198 accounts"
SYNC_TPS=$(simv busy_tps)   # information only: rates belong in tests/bench
assert_eq "$(log_rows)" "$LOGGED" "write-back added no _trigger_log row"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log
               WHERE state = 'SUCCESS' AND processed_at IS NOT NULL AND processed_tx IS NOT NULL")" "$LOGGED" \
    "every log row SUCCESS with processed_at and processed_tx"
assert_eq "$(q "SELECT count(*) FROM salesforce.account
               WHERE _hc_lastop = 'SYNCED' AND systemmodstamp IS NOT NULL
                 AND sfid ~ '^0015g0[0-9A-Za-z]{9}[A-Z0-5]{3}$'")" 198 \
    "every account SYNCED, with a systemmodstamp and an 18-character sfid"
assert_eq "$(q "SELECT count(*) FROM testlog.audit a JOIN salesforce._trigger_log l ON l.txid = a.txid
               WHERE a.app LIKE 'hc\_simulator%'")" 0 "no log row carries a simulator transaction"
assert_eq "$(q "SELECT string_agg(DISTINCT xmlbinary || '/' || lastop, ',') FROM testlog.audit WHERE app LIKE 'hc\_simulator%'")" \
    "hex/SYNCED" "simulator sessions run with xmlbinary = hex and write SYNCED"
SFIDS_BEFORE=$(q "SELECT md5(string_agg(id || '=' || sfid, ',' ORDER BY id)) FROM salesforce.account")
sim sync --until-idle --idle 0.3 --duration 30 --seed 99
assert_eq "$(simv synced)" 0 "a second sync finds nothing to do"

echo "-- b. edits coming from Salesforce"
# A count, not a rate: 600 transactions flat out; --duration is only a
# ceiling that catches a hang (the rate is printed, for information).
sim inject --max-txns 600 --duration 100 --rate 0 --seed 11 --new-ratio 0.1 --columns phone
INJ_TXNS=$(simv txns)
INJ_UPD=$(simv injected_updates)
INJ_INS=$(simv injected_inserts)
INJ_TPS=$(simv tps)
assert_eq "$INJ_TXNS" 600 "all 600 injected transactions committed (not cut by the ceiling)"
assert_eq "$((INJ_UPD + INJ_INS))" 600 "... each an update of a synced record or a new record"
assert_eq "$(log_rows)" "$LOGGED" "injected edits added no _trigger_log row"
assert_eq "$(q "SELECT count(*) FROM salesforce.account WHERE external_id__c IS NULL AND sfid IS NOT NULL
               AND _hc_lastop = 'SYNCED'")" "$INJ_INS" "records created in Salesforce arrived SYNCED, with an sfid"
assert_eq "$(q "SELECT md5(string_agg(id || '=' || sfid, ',' ORDER BY id)) FROM salesforce.account
               WHERE external_id__c IS NOT NULL")" "$SFIDS_BEFORE" "sfids are stable (assigned once per record)"

echo "-- c. reverse mapping salesforce.account -> portal.users: the sfid comes back, then quiet"
CFG2=$WB_WORK/walbridge2.yaml
cp "$CFG" "$CFG2"
cat >>"$CFG2" <<'EOF'
    skip_unchanged: true
  - name: accounts_to_users
    from: salesforce.account
    to: portal.users
    operations: [insert, update]
    key: { external_id__c: id }
    columns: { sfid: salesforce_id, personemail: email, firstname: first_name, lastname: last_name, phone: phone }
    filter: "external_id__c IS NOT NULL"
    on_delete: ignore
    on_filter_out: ignore
    skip_unchanged: true
EOF
q "TRUNCATE testlog.audit" >/dev/null
wb_run_until "$CFG2"
C1=$(applied)
echo "run with the reverse mapping: $C1 transactions applied"
assert_eq "$(q "SELECT count(*) FROM portal.users u JOIN salesforce.account a ON a.external_id__c = u.id::text
               WHERE u.salesforce_id IS NOT DISTINCT FROM a.sfid AND u.salesforce_id IS NOT NULL")" 198 \
    "the sfid reached portal.users.salesforce_id for all 198 users"
wb_assert_synced "portal.users equals salesforce.account after the Salesforce-side edits"
assert_eq "$(q "SELECT count(*) FROM portal.users")" 198 "records created in Salesforce made no portal user"
assert_eq "$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl = 'account'")" 0 \
    "walbridge wrote nothing into salesforce.account (its portal writes are not mapped again)"
assert_eq "$(log_rows)" "$LOGGED" "no new _trigger_log row"
PORTAL_WRITES=$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl = 'users'")
echo "walbridge row writes into portal.users: $PORTAL_WRITES"

quiet_round() {  # quiet_round LABEL: sync + run; asserts nothing was written anywhere
    local label=$1 before_log before_audit
    before_log=$(log_rows)
    before_audit=$(q "SELECT count(*) FROM testlog.audit")
    sim sync --until-idle --idle 0.3 --duration 30 --seed 7
    assert_eq "$(simv synced)" 0 "$label: nothing for Connect to sync"
    wb_run_until "$CFG2"
    assert_eq "$(applied)" 0 "$label: walbridge applied 0 transactions"
    assert_eq "$(q "SELECT count(*) FROM testlog.audit")" "$before_audit" "$label: no row written anywhere"
    assert_eq "$(log_rows)" "$before_log" "$label: _trigger_log did not grow"
}
quiet_round "quiescent after the sfid came back"

echo "-- c. a portal-side change goes round once: walbridge -> Connect write-back -> ends at skip_unchanged"
q "TRUNCATE testlog.audit" >/dev/null
q "UPDATE portal.users SET email = 'round' || id || '@example.com' WHERE id <= 30" >/dev/null
wb_run_until "$CFG2"
R1=$(applied)
assert_eq "$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl = 'account'")" 30 \
    "walbridge updated 30 accounts"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE state = 'NEW'")" 30 "30 NEW log rows"
sim sync --until-idle --duration 30 --seed 7
SYNCED2=$(simv synced)
assert_eq "$SYNCED2" 30 "Connect synced the 30 changes (write-back of systemmodstamp)"
assert_eq "$(simv sfids_assigned)" 0 "no sfid assigned twice"
wb_run_until "$CFG2"
R2=$(applied)
echo "the write-back's run: $R2 transactions applied (changes routed, all unchanged)"
assert_eq "$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl = 'users'")" 0 \
    "the write-back changed no portal.users row (skip_unchanged)"
wb_assert_synced "portal.users equals salesforce.account after the round"
quiet_round "quiescent after the round"

TOTAL_LOG=$(log_rows)
echo "SUMMARY: trigger-log rows $TOTAL_LOG (walbridge writes into salesforce.account in a: $WB_WRITES);" \
     "synced $LOGGED + $SYNCED2 (sync tps $SYNC_TPS); injected $INJ_UPD updates + $INJ_INS inserts" \
     "in $INJ_TXNS txns ($INJ_TPS tps); applied: reverse run $C1 txns ($PORTAL_WRITES portal row writes)," \
     "round $R1 + $R2 txns, quiet runs 0"
