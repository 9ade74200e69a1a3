#!/usr/bin/env bash
# test_streaming: `streaming: true` with a tiny logical_decoding_work_mem for
# walbridge's walsender (64kB, passed through the source conninfo's options),
# so that every large transaction is sent while it is still in progress, in
# chunks, interleaved with others, and possibly aborted afterwards.
#   a. a 20k-row transaction with ROLLBACK TO SAVEPOINT after the
#      subtransaction was streamed (also a released inner savepoint rolled
#      back with its parent) arrives complete, minus the rolled-back parts;
#   b. a large aborted transaction that was streamed leaves no trace;
#   c. two large transactions from two sessions, streamed interleaved,
#      both arrive; nothing of either is visible on the target before its
#      commit (checked while walbridge holds both in its spool), and the
#      first to commit arrives while the other is still open;
#   d. kill -9 walbridge while a big streamed transaction is open, then
#      twice while it is being applied after its commit (held up by a row
#      lock on the target, so the kill lands inside the target
#      transaction): the target never holds part of it, and after a final
#      --until now the target equals the source.
# Every row change sets phone to a fresh nextval('testlog.seq'); triggers
# log every source change and every write walbridge makes to the target
# (schema testlog is not published), and the two logs must be equal as
# multisets at the end: no change lost, none applied twice, nothing of a
# rolled-back (sub)transaction applied.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
SPOOL=$WB_WORK/spool
mkdir -p "$SPOOL"
cat >"$CFG" <<EOF
# written by $WB_TEST_SCRIPT
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB options='-c logical_decoding_work_mem=64kB'"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
  streaming: true
  spool_dir: "$SPOOL"
target:
  conninfo: ""
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
EOF

echo "-- set-up: logging triggers on source and target, helper functions (schema testlog)"
wb_setup_change_audit
wb_psql <<'SQL'

-- Insert users lo..hi; every change gets a fresh phone.
CREATE FUNCTION testlog.ins(lo int, hi int, tag text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO portal.users (id, email, first_name, last_name, phone)
  SELECT g, 'u' || g || '@example.com', 'F' || g, tag, nextval('testlog.seq')::text
  FROM generate_series(lo, hi) g
$$;
CREATE FUNCTION testlog.upd(lo int, hi int, tag text) RETURNS void LANGUAGE sql AS $$
  UPDATE portal.users SET last_name = tag, phone = nextval('testlog.seq')::text WHERE id BETWEEN lo AND hi
$$;
SQL

# "rows/differences" of salesforce.account against the mapped portal.users.
STATE_SQL="SELECT (SELECT count(*) FROM salesforce.account) || '/' || (SELECT count(*) FROM ($WB_DIFF_SQL) d)"
target_count() { wb_psql -c "SELECT count(*) FROM salesforce.account WHERE external_id__c::bigint BETWEEN $1 AND $2"; }
stream_txns() {
    wb_psql -c "SELECT coalesce((SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '$WB_SLOT'), 0)"
}
# Open spool files of the running walbridge (they are unlinked on creation).
spool_files() {
    local f n=0
    for f in /proc/"$WB_BG_PID"/fd/*; do
        [[ "$(readlink "$f" 2>/dev/null)" == "$SPOOL"/walbridge-stream-* ]] && n=$((n + 1))
    done
    echo "$n"
}
# Wait until walbridge's walsender has decoded all WAL written so far: every
# change beyond the 64kB budget of an open transaction has been streamed.
# The WAL of an open transaction is only sent once flushed, and the WAL
# writer leaves a partial page alone (and hibernates when idle): a small
# committed transaction flushes everything before it.
wait_decoded() {
    local lsn
    lsn=$(wb_psql -c "SELECT pg_current_wal_insert_lsn()")
    wb_psql -c "SELECT txid_current()" >/dev/null
    wb_wait_sql 60 "SELECT coalesce((SELECT r.sent_lsn >= '$lsn' FROM pg_stat_replication r
                     JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '$WB_SLOT'), false)" \
        t "$1: walsender has decoded up to $lsn"
}
# wait_spool N MSG: walbridge holds N open spool files.
wait_spool() {
    local deadline=$((SECONDS + 30))
    while [[ "$(spool_files)" != "$1" ]]; do
        wb_bg_check_alive
        ((SECONDS < deadline)) || fail "$2: walbridge holds $(spool_files) spool files, expected $1"
        sleep 0.1
    done
    ok "$2 ($1 open spool files in $SPOOL)"
}

# Sessions held open between statements: wb_sess_open/run/close (lib.sh).

echo "-- first run creates the publication and the slot; then walbridge streams in the background"
wb_run_until "$CFG"
wb_start_bg "$CFG"
wb_psql -c "SELECT testlog.ins(1, 10, 'warm-up')"
wb_wait_sql 60 "$STATE_SQL" "10/0" "walbridge is streaming (10 warm-up rows arrived)"
wb_psql -c "DELETE FROM portal.users"
wb_wait_sql 60 "$STATE_SQL" "0/0" "warm-up rows deleted"
T0=$SECONDS

echo "-- a. 20k rows, ROLLBACK TO SAVEPOINT after the subtransaction was streamed"
st0=$(stream_txns)
wb_sess_open a
wb_sess_run a "BEGIN;
SELECT testlog.ins(1, 10000, 'main');
SAVEPOINT s1;
SELECT testlog.ins(10001, 15000, 'rolled back');
SELECT testlog.upd(1, 2000, 'rolled back');
DELETE FROM portal.users WHERE id BETWEEN 2001 AND 2100;"
wait_decoded "savepoint s1 written"
wait_spool 1 "walbridge spools the open transaction"
assert_ge "$(stream_txns)" "$((st0 + 1))" "the open transaction was streamed (pg_stat_replication_slots.stream_txns)"
wb_sess_run a "ROLLBACK TO SAVEPOINT s1;
SELECT testlog.ins(15001, 20000, 'after rollback');
SAVEPOINT p;
SAVEPOINT x;
SELECT testlog.upd(15001, 17000, 'x rolled back');
RELEASE SAVEPOINT x;
SELECT testlog.upd(17001, 19000, 'p rolled back');"
wait_decoded "savepoints p and x written"
wb_sess_run a "ROLLBACK TO SAVEPOINT p;
SAVEPOINT s2;
SELECT testlog.upd(1, 100, 'kept');
RELEASE SAVEPOINT s2;
SAVEPOINT s3;
SELECT testlog.ins(20001, 21000, 'rolled back at the end');
ROLLBACK TO SAVEPOINT s3;
COMMIT;"
wb_sess_close a
wb_wait_sql 120 "$STATE_SQL" "15000/0" "the transaction arrived: 15000 rows, 0 differences"
assert_eq "$(target_count 1 10000)/$(target_count 10001 15000)/$(target_count 15001 20000)/$(target_count 20001 21000)" \
    "10000/0/5000/0" "rows 1-10000 and 15001-20000 present, the rolled-back inserts absent"
assert_eq "$(wb_psql -c "SELECT string_agg(lastname || ':' || n, ',' ORDER BY lastname) FROM
    (SELECT lastname, count(*) n FROM salesforce.account GROUP BY 1) s")" \
    "after rollback:5000,kept:100,main:9900" "last names: nothing of s1, x or p, 100 'kept'"
assert_eq "$(target_count 2001 2100)" 100 "rows deleted inside the rolled-back savepoint are still there"
wait_spool 0 "the spool file is gone after the commit"

echo "-- b. a large streamed transaction that aborts leaves no trace"
st0=$(stream_txns)
audit0=$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")
wb_sess_open b
wb_sess_run b "BEGIN;
SELECT testlog.ins(100001, 120000, 'aborted');
SELECT testlog.upd(1, 1000, 'aborted');
DELETE FROM portal.users WHERE id BETWEEN 1001 AND 1100;"
wait_decoded "aborted transaction written"
wait_spool 1 "walbridge spools the open transaction"
assert_ge "$(stream_txns)" "$((st0 + 1))" "the transaction was streamed"
wb_sess_run b "ROLLBACK;"
wb_sess_close b
wait_spool 0 "the spool file is dropped on Stream Abort"
wb_psql -c "SELECT testlog.upd(1, 1, 'sentinel')"
wb_wait_sql 60 "SELECT lastname FROM salesforce.account WHERE external_id__c = '1'" "sentinel" "a later change arrives"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")" "$((audit0 + 1))" \
    "the only target write since the abort is the sentinel"
wb_wait_sql 10 "$STATE_SQL" "15000/0" "target unchanged by the aborted transaction (15000 rows, 0 differences)"

echo "-- c. two large transactions from two sessions, streamed interleaved; nothing visible before commit"
st0=$(stream_txns)
audit0=$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")
wb_sess_open A
wb_sess_open B
wb_sess_run A "BEGIN; SELECT testlog.ins(200001, 205000, 'A');"
wb_sess_run B "BEGIN; SELECT testlog.ins(300001, 305000, 'B');"
wb_sess_run A "SELECT testlog.upd(200001, 202000, 'A2'); SELECT testlog.ins(205001, 210000, 'A');"
wb_sess_run B "SELECT testlog.upd(300001, 302000, 'B2'); SELECT testlog.ins(305001, 310000, 'B');
            DELETE FROM portal.users WHERE id BETWEEN 303001 AND 303100;"
wait_decoded "both transactions written"
wait_spool 2 "walbridge spools both open transactions"
assert_ge "$(stream_txns)" "$((st0 + 2))" "both transactions were streamed"
# Decided by an event, not by waiting a while: a small change committed
# after the streamed chunks of A and B were sent reaches the target only
# once walbridge has handled every message before it in the stream, those
# chunks included (messages are handled in order, target batches commit in
# order).  Anything of A or B that walbridge applied early is visible by then.
wb_psql -c "SELECT testlog.upd(1, 1, 'sentinel c')"
wb_wait_sql 120 "SELECT lastname FROM salesforce.account WHERE external_id__c = '1'" "sentinel c" \
    "a change committed after the streamed chunks arrives (walbridge has handled the chunks)"
assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.account")/$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")" \
    "15000/$((audit0 + 1))" "nothing of either open transaction on the target, only the sentinel (rows/writes)"
wait_spool 2 "walbridge still spools both open transactions"
wb_sess_run B "COMMIT;"
wb_wait_sql 120 "SELECT count(*) FROM salesforce.account WHERE external_id__c::bigint BETWEEN 300001 AND 310000" 9900 \
    "B arrives after its commit (9900 rows)"
assert_eq "$(target_count 200001 210000)" 0 "A, still open, is not on the target"
# (walbridge's own writes of B come back through the slot as one more
# streamed transaction for a moment; A's spool file stays.)
wait_spool 1 "A is still spooled"
wb_sess_run A "COMMIT;"
wb_sess_close A
wb_sess_close B
wb_wait_sql 120 "$STATE_SQL" "34900/0" "A arrives after its commit: 34900 rows, 0 differences"
assert_eq "$(wb_psql -c "SELECT count(*) FILTER (WHERE lastname = 'A2') || '/' || count(*) FILTER (WHERE lastname = 'B2') FROM salesforce.account")" \
    "2000/2000" "updates inside both transactions applied"
echo "scenarios a-c took $((SECONDS - T0))s"

echo "-- d. kill -9 while a big transaction is streamed, and while it is applied"
T0=$SECONDS
kill_info() {
    wb_psql -c "SELECT coalesce(string_agg(backend_type || ':' || state, ','), 'none') FROM pg_stat_activity
                WHERE datname = current_database() AND application_name NOT LIKE 'wbt\\_%' AND pid <> pg_backend_pid()
                  AND backend_type IN ('client backend', 'walsender')"
}
# walbridge's apply session waits for a row lock held by session L: it is
# inside the target transaction of the big source transaction, after its
# 20000 inserts, at one of its updates (the row of key 3000).
BLOCKED_SQL="SELECT count(*) > 0 FROM pg_stat_activity
    WHERE datname = current_database() AND application_name NOT LIKE 'wbt\\_%'
      AND backend_type = 'client backend' AND wait_event_type = 'Lock'"
lock_row() { wb_sess_run L "BEGIN; SELECT 1 FROM salesforce.account WHERE external_id__c = '3000' FOR UPDATE;"; }
# kill9_while_applying N: wait until walbridge's apply is blocked in the
# middle of the transaction, kill -9 walbridge, release the lock.  The
# orphaned server session then runs whatever walbridge had already sent
# (the whole batch, COMMIT included, when it was pipelined): so the target
# holds either none or all of the transaction, never a part of it.
kill9_while_applying() {
    wb_wait_sql 60 "$BLOCKED_SQL" t "kill -9 #$1: walbridge's apply is blocked inside the transaction"
    echo "kill -9 #$1 (walbridge's sessions: $(kill_info); target rows: $(wb_psql -c "SELECT count(*) FROM salesforce.account"))"
    wb_kill9_bg "$WB_BG_PID"
    wb_sess_run L "ROLLBACK;"
    wb_wait_server_released 30
    local n
    n=$(wb_psql -c "SELECT count(*) FROM salesforce.account")
    if [[ "$n" == 34900 || "$n" == 63900 ]]; then
        ok "kill -9 #$1: the target holds none or all of the interrupted transaction ($n rows)"
    else
        fail "kill -9 #$1: the target holds part of the interrupted transaction ($n rows, expected 34900 or 63900)"
    fi
}
st0=$(stream_txns)
wb_sess_open d
wb_sess_run d "BEGIN; SELECT testlog.ins(400001, 420000, 'D'); SELECT testlog.upd(1, 5000, 'D');"
wait_decoded "open transaction written"
wait_spool 1 "walbridge spools the open transaction"
echo "kill -9 #1 with the transaction open and streamed (walbridge's sessions: $(kill_info))"
wb_kill9_bg "$WB_BG_PID"
wb_wait_server_released 30
wb_start_bg "$CFG"
wb_sess_run d "SELECT testlog.upd(400001, 410000, 'D2'); SELECT testlog.ins(420001, 430000, 'D');
            DELETE FROM portal.users WHERE id BETWEEN 5001 AND 6000;"
wait_decoded "more changes after the restart"
wait_spool 1 "the restarted walbridge spools the whole open transaction again"
wb_sess_open L
lock_row
wb_sess_run d "COMMIT;"
wb_sess_close d
kill9_while_applying 2
if [[ "$(wb_psql -c "SELECT count(*) FROM salesforce.account")" == 34900 ]]; then
    lock_row
    wb_start_bg "$CFG"
    kill9_while_applying 3
else
    echo "(the orphaned session committed the transaction: no second kill while applying)"
fi
wb_sess_close L
wb_start_bg "$CFG"
wb_wait_sql 120 "$STATE_SQL" "63900/0" "after the kills the transaction arrives: 63900 rows, 0 differences"
assert_ge "$(stream_txns)" "$((st0 + 1))" "the transaction was streamed"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge stops cleanly on SIGTERM"
wb_wait_server_released 30
echo "scenario d took $((SECONDS - T0))s"

echo "-- final run --until now"
wb_run_until "$CFG"
wb_assert_synced "target rows equal the mapped source rows"
src_changes=$(wb_psql -c "SELECT count(*) FROM testlog.source_log")
tgt_changes=$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")
ndiff=$(wb_psql -c "SELECT count(*) FROM ($MULTISET_DIFF) d")
if [[ "$ndiff" != 0 ]]; then
    echo "source changes: $src_changes, target writes: $tgt_changes, differing (op, id, phone): $ndiff" >&2
    wb_psql_table -c "SELECT problem, op, count(*) FROM ($MULTISET_DIFF) d GROUP BY 1, 2 ORDER BY 1, 2" >&2 || true
    wb_psql_table -c "SELECT * FROM ($MULTISET_DIFF) d ORDER BY id::bigint, phone LIMIT 30" >&2 || true
    fail "source changes and target writes differ as multisets"
fi
ok "multiset of source changes equals multiset of target writes ($src_changes = $tgt_changes: nothing lost, nothing applied twice, nothing rolled back applied)"
