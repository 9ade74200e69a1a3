#!/usr/bin/env bash
# test_resync: `walbridge resync` copies a mapping's source again while
# walbridge streams (low and high watermarks around each chunk, resync.h).
#   a. a slot created with initial_copy: false leaves salesforce.account
#      empty; with walbridge streaming and a writer updating, inserting,
#      deleting and re-keying portal.users (each change a fresh phone from
#      testlog.seq), `walbridge resync` fills it: at the end the target
#      equals the source, no (key, value) is written twice and, per key,
#      every value written is newer than the one before; watermarks forged
#      by another session and a column added meanwhile change nothing;
#   b. kill -9 in the middle of a re-sync: the next start goes on from the
#      stored cursor, and the target ends equal to the source with no row
#      written twice;
#   c. a mapping whose source has no key (no primary key, no replica
#      identity index) is re-synced by the blocking variant: the whole
#      table copied under the snapshot of a temporary slot once the stream
#      reaches its consistent point, the stream waiting meanwhile; with a
#      writer updating, inserting and deleting its rows throughout, the
#      target ends equal to the source and compare agrees; while the
#      stream waits for a slow target (several seconds;
#      wal_sender_timeout 2 s, status_interval 500ms) walbridge keeps
#      answering the walsender: no timeout, no reconnect;
#      kill -9 while it runs, and the next start does it again (the
#      temporary slot went with the killed walbridge);
#   d. a composite key of text with a collation ("C": 'B' < 'a' < 'b'), an
#      enum (in its declared order) and an integer is paged through in
#      order: every row arrives once.
source "$(dirname "$0")/lib.sh"

q() { wb_psql -c "$1"; }
state() { q "SELECT state || ':' || rows_copied FROM walbridge.sync_state WHERE slot = '$WB_SLOT' AND mapping = '$1'"; }

echo "-- set-up: change audit, 60000 users, a slot without a copy"
wb_setup_change_audit
q "INSERT INTO portal.users (email, first_name, last_name, phone, status)
   SELECT 'u' || g || '@example.com', 'F' || g, 'L' || g, nextval('testlog.seq')::text, 'active'
   FROM generate_series(1, 60000) g" >/dev/null
CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
echo "    initial_copy: false" >>"$CFG"
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM salesforce.account")" 0 "initial_copy: false copied nothing"
q "TRUNCATE testlog.source_log, testlog.target_audit" >/dev/null

# ---------------------------------------------------------------- a
echo "-- a. resync while streaming, with a writer and forged watermarks"
wb_start_bg "$CFG"
BG=$WB_BG_PID
wb_users_writer "$WB_WORK/writer" 0 update@60 insert@15 delete@10 rekey@10 forge@5
wb_wait_sql 30 "SELECT count(*) > 100 FROM testlog.source_log" t "the writer is writing"
# A column added while the re-sync runs (the stream's relation changes
# shape between chunks).
( wb_wait_sql 60 "SELECT rows_copied >= 20000 FROM walbridge.sync_state WHERE slot = '$WB_SLOT'
                  AND mapping = 'users_to_accounts'" t "the re-sync is under way" >/dev/null &&
  q "ALTER TABLE portal.users ADD COLUMN added_meanwhile text DEFAULT 'x'" >/dev/null ) &
ALTER=$!
# On a terminal (script(1) gives it one) resync draws a progress bar.
rc=0
timeout -k 10 300 script -qefc "$(printf '%q ' "$WB_BIN" resync -c "$CFG" --mapping users_to_accounts)" \
    /dev/null >"$WB_WORK/resync.a" 2>&1 </dev/null || rc=$?
cat "$WB_WORK/resync.a" >>"$WB_LOG"
wait "$ALTER" || fail "the column was not added during the re-sync"
[[ "$rc" == 0 ]] || cat "$WB_WORK/resync.a" >&2
assert_eq "$rc" 0 "walbridge resync exits 0"
assert_contains "$WB_WORK/resync.a" "re-sync of mapping \"users_to_accounts\" done:" "resync waited until it was done"
assert_contains "$WB_WORK/resync.a" "users_to_accounts [#" "on a terminal it drew a progress bar"
assert_contains "$WB_WORK/resync.a" "rows/s, ETA " "with the rate and the time left"
B=$(q "SELECT count(*) FROM testlog.source_log")
wb_wait_sql 30 "SELECT count(*) > $B + 200 FROM testlog.source_log" t "the writer went on after the re-sync"
wb_users_writer_stop
wb_bg_check_alive
wb_stop_bg "$BG"
wb_run_until "$CFG"
assert_contains "$WB_LOG" "re-syncing mapping \"users_to_accounts\" from \"portal.users\"" "run took the job"
assert_contains "$WB_LOG" "ignored a watermark that is not this run's" "forged watermarks were ignored"
wb_assert_synced "after the re-sync and the writer: target equals mapped source"
wb_assert_compare_clean "$CFG" "compare agrees"
DUPS="SELECT id, phone FROM testlog.target_audit WHERE op <> 'D' GROUP BY id, phone HAVING count(*) > 1"
if [[ "$(q "SELECT count(*) FROM ($DUPS) d")" != 0 ]]; then
    wb_psql_table -c "SELECT 'target' AS side, a.n, a.op, a.id, a.phone FROM testlog.target_audit a
                      WHERE a.id IN (SELECT id FROM ($DUPS) d LIMIT 5)
                      UNION ALL
                      SELECT 'source', s.n, s.op, s.id, s.phone FROM testlog.source_log s
                      WHERE s.id IN (SELECT id FROM ($DUPS) d LIMIT 5) ORDER BY 4, 1, 2" >&2 || true
fi
assert_eq "$(q "SELECT count(*) FROM ($DUPS) d")" 0 "no (key, value) written twice"
assert_eq "$(q "SELECT count(*) FROM (SELECT phone::bigint AS p,
                       lag(phone::bigint) OVER (PARTITION BY id ORDER BY n) AS prev
                FROM testlog.target_audit WHERE op <> 'D') d WHERE p <= prev")" 0 \
    "per key, every value written is newer than the one before"
assert_ge "$(q "SELECT count(*) FROM testlog.source_log WHERE op = 'U'")" 300 "the writer's updates were many"
assert_eq "$(state users_to_accounts | cut -d: -f1)" done "sync_state: done"
rc=0
wb_exec "$WB_WORK/status.a" 30 status -c "$CFG" --json || rc=$?
assert_eq "$(jq -r '.mappings[0].initial_copy' "$WB_WORK/status.a.stdout")" done "status: done"

# ---------------------------------------------------------------- b
echo "-- b. kill -9 in the middle of a re-sync, then go on from the cursor"
q "INSERT INTO portal.users (email, first_name, last_name, phone, status)
   SELECT 'b' || g || '@example.com', 'B' || g, 'B', nextval('testlog.seq')::text, 'active'
   FROM generate_series(1, 50000) g" >/dev/null
wb_run_until "$CFG"
q "TRUNCATE salesforce.account, testlog.target_audit" >/dev/null
wb_start_bg "$CFG"
BG=$WB_BG_PID
rc=0
wb_exec "$WB_WORK/resync.b" 60 resync -c "$CFG" --mapping users_to_accounts --no-wait || rc=$?
assert_eq "$rc" 0 "walbridge resync --no-wait exits 0"
wb_wait_sql 120 "SELECT rows_copied >= 30000 FROM walbridge.sync_state WHERE slot = '$WB_SLOT' AND mapping = 'users_to_accounts'" t \
    "the re-sync is under way"
rc=0
wb_exec "$WB_WORK/status.b" 30 status -c "$CFG" --json || rc=$?
assert_eq "$rc" 0 "status exits 0 during the re-sync"
assert_eq "$(jq -r '.mappings[] | select(.name == "users_to_accounts") |
                    [.initial_copy, .rows_copied >= 30000, .rows_per_s > 0, .estimated_rows > 0, .eta_s >= 0] | join(" ")' \
             "$WB_WORK/status.b.stdout")" \
    "copying true true true true" "status --json: the re-sync's rows, rate, estimated size and ETA"
kill -KILL "$BG"
wait "$BG" 2>/dev/null || true
wb_forget_bg "$BG"
st=$(state users_to_accounts)
n=$(q "SELECT count(*) FROM salesforce.account")
assert_eq "$st" "copying:$n" "after kill -9: sync_state counts exactly the rows in the target"
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "re-syncing mapping \"users_to_accounts\" from \"portal.users\" while streaming after its stored cursor ($n rows stored)" \
    "the next start goes on from the stored cursor"
wb_assert_synced "after the resumed re-sync: target equals mapped source"
wb_assert_compare_clean "$CFG" "compare agrees"
assert_eq "$(q "SELECT count(*) FROM (SELECT id FROM testlog.target_audit GROUP BY id HAVING count(*) > 1) d")" 0 \
    "no row written twice across the kill"
assert_eq "$(state users_to_accounts | cut -d: -f1)" done "sync_state: done"

# ---------------------------------------------------------------- c
echo "-- c. a source without a key: the blocking variant, with a writer"
q "CREATE TABLE portal.nokey (a integer, b text);
   INSERT INTO portal.nokey SELECT g, 'x' || g FROM generate_series(1, 20000) g;
   ALTER TABLE portal.nokey REPLICA IDENTITY FULL;
   -- Not unique, so no key for walbridge: it lets the writer find a row
   -- without reading the whole table at every transaction.
   CREATE INDEX ON portal.nokey (a);
   CREATE SEQUENCE portal.nokey_seq START 100000;
   CREATE TABLE salesforce.nokey (a integer PRIMARY KEY, b text)" >/dev/null
cat >>"$CFG" <<'EOF'
  - name: nokey
    from: portal.nokey
    to: salesforce.nokey
    key: { a: a }
    columns: { b: b }
    initial_copy: false
EOF
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM salesforce.nokey")" 20000 "the rows inserted since the slot exists were streamed"
q "DELETE FROM salesforce.nokey WHERE a % 4 = 0; UPDATE salesforce.nokey SET b = 'drift' WHERE a % 7 = 0" >/dev/null
# The stream waits while the table is copied and its rows are applied,
# and the walsender gives up on a client silent for wal_sender_timeout:
# walbridge goes on sending its status meanwhile, every half second whatever
# status_interval is (the default 10 s here).  The walsender waits 2 s,
# and a target trigger makes the copy's rows take several seconds to
# apply, the source paused behind them.
# (pg_sleep sleeps whole milliseconds: 1 ms for every third row, ~7 s.)
q "CREATE FUNCTION testlog.slow_nokey() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN IF NEW.a % 3 = 0 THEN PERFORM pg_sleep(0.001); END IF; RETURN NEW; END \$\$;
   CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON salesforce.nokey
   FOR EACH ROW EXECUTE FUNCTION testlog.slow_nokey()" >/dev/null
CFGC=$WB_WORK/walbridge_c.yaml
sed "s|^\(  conninfo: \"host=[^\"]*\)\"\$|\1 options='-c wal_sender_timeout=2s'\"|" "$CFG" >"$CFGC"
grep -q "wal_sender_timeout=2s" "$CFGC" || fail "the source's conninfo did not get its wal_sender_timeout"
TIMEOUTS0=$(grep -c "terminating walsender process due to replication timeout" "$WB_PG_LOG" || true)
RECONNECTS0=$(grep -c "reconnecting in" "$WB_LOG" || true)
wb_start_bg "$CFGC"
BG=$WB_BG_PID
mkdir -p "$WB_WORK/nokey"
# A row: the first at or after a random point, among the first 20,000
# rows four times in five, else among the inserted ones.
NOKEY_PICK="(SELECT a FROM portal.nokey WHERE a >= (SELECT CASE WHEN :r <= 20000 OR top < 100000 THEN :r % 20000
             ELSE 100000 + (top - 100000) * (:r - 20000) / 5000 END FROM (SELECT max(a) AS top FROM portal.nokey) m)
             ORDER BY a LIMIT 1)"
cat >"$WB_WORK/nokey/update.sql" <<EOF
\set r random(1, 25000)
UPDATE portal.nokey SET b = 'u' || nextval('portal.nokey_seq') WHERE a = $NOKEY_PICK;
EOF
cat >"$WB_WORK/nokey/insert.sql" <<'EOF'
INSERT INTO portal.nokey VALUES (nextval('portal.nokey_seq'), 'i');
EOF
cat >"$WB_WORK/nokey/delete.sql" <<EOF
\set r random(1, 25000)
DELETE FROM portal.nokey WHERE a = $NOKEY_PICK;
EOF
PGAPPNAME=wbt_writer pgbench -n -c 2 -j 2 -T 600 -R 200 -f "$WB_WORK/nokey/update.sql@60" \
    -f "$WB_WORK/nokey/insert.sql@20" -f "$WB_WORK/nokey/delete.sql@20" "$WB_DB" \
    >"$WB_WORK/nokey/pgbench.log" 2>&1 &
WPID=$!
wb_track_pid "$WPID"
wb_wait_sql 30 "SELECT count(*) > 20 FROM portal.nokey WHERE b LIKE 'u%' OR b = 'i'" t "the writer is writing"
# A transaction of another database holds an xid: the snapshot waits for
# it to end (as a slot's creation does), the stream with it.  It ends 5 s
# after walbridge said so, twice the walsender's timeout.
PGAPPNAME=wbt_hold PGOPTIONS="-c client_min_messages=warning" psql -X -qAt -d postgres \
    -c "BEGIN" -c "SELECT pg_current_xact_id()" -c "SELECT pg_sleep(60)" -c "COMMIT" \
    >/dev/null 2>&1 &
HOLD=$!
wb_track_pid "$HOLD"
wb_wait_sql 10 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND application_name = 'wbt_hold'" t \
    "a transaction of another database holds an xid"
(
    for _ in $(seq 900); do
        grep -q "waiting for the transactions running in the source's cluster" "$WB_LOG" && break
        sleep 0.1
    done
    sleep 5
    wb_psql_admin -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'wbt_hold'" >/dev/null
) &
UNHOLD=$!
wb_track_pid "$UNHOLD"
rc=0
T0=$SECONDS
wb_exec "$WB_WORK/resync.c" 120 resync -c "$CFG" --mapping nokey || rc=$?
wait "$HOLD" "$UNHOLD" 2>/dev/null || true
wb_untrack_pid "$HOLD"
wb_untrack_pid "$UNHOLD"
assert_eq "$rc" 0 "the re-sync of a table without a key finishes"
assert_ge "$((SECONDS - T0))" 4 "the re-sync took longer than the walsender's timeout twice over"
assert_contains "$WB_LOG" "table \"portal.nokey\" has no primary key or replica identity index: mapping \"nokey\" is re-synced by copying the whole table under a snapshot of " \
    "walbridge says it copies the table whole, the stream waiting"
assert_contains "$WB_LOG" "re-sync of mapping \"nokey\": waiting for the transactions running in the source's cluster to end before taking a snapshot of \"portal.nokey\", the stream waiting too" \
    "it says that the snapshot waits for a long transaction"
assert_contains "$WB_LOG" "re-sync of mapping \"nokey\" done: " "and that it is done"
assert_eq "$(($(grep -c "terminating walsender process due to replication timeout" "$WB_PG_LOG" || true) - TIMEOUTS0))/$(($(grep -c "reconnecting in" "$WB_LOG" || true) - RECONNECTS0))" \
    0/0 "while the stream waited, walbridge answered the walsender: no timeout, no reconnect"
sleep 1
kill "$WPID"
wait "$WPID" 2>/dev/null || true
wb_untrack_pid "$WPID"
wb_bg_check_alive
wb_stop_bg "$BG"
q "DROP TRIGGER slow ON salesforce.nokey" >/dev/null
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM portal.nokey n FULL JOIN salesforce.nokey s USING (a)
                WHERE n.a IS NULL OR s.a IS NULL OR n.b IS DISTINCT FROM s.b")" 0 \
    "the target equals the source (the writer's changes before, during and after the copy)"
rc=0
wb_exec "$WB_WORK/compare.c" 120 compare -c "$CFG" --mapping nokey --json || rc=$?
assert_eq "$rc" 0 "compare exits 0"
assert_eq "$(jq -r '.mappings[0].source_rows == '"$(q "SELECT count(*) FROM portal.nokey")"', .persistent' "$WB_WORK/compare.c.stdout" | tr '\n' ' ')" \
    "true 0 " "compare agrees"
echo "-- c2. kill -9 while the blocking variant runs, then start again"
q "UPDATE salesforce.nokey SET b = 'drift again' WHERE a % 3 = 0" >/dev/null
wb_start_bg "$CFG"
BG=$WB_BG_PID
rc=0
wb_exec "$WB_WORK/resync.c2" 60 resync -c "$CFG" --mapping nokey --no-wait || rc=$?
assert_eq "$rc" 0 "the re-sync is requested"
N0=$(grep -c "is re-synced by copying the whole table" "$WB_LOG" || true)
for _ in $(seq 1 300); do
    (($(grep -c "is re-synced by copying the whole table" "$WB_LOG" || true) > N0)) && break
    sleep 0.02
done
kill -KILL "$BG"
wait "$BG" 2>/dev/null || true
wb_forget_bg "$BG"
wb_wait_sql 30 "SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name LIKE 'walbridge_copy_%'" t \
    "the temporary slot went with the killed walbridge"
wb_run_until "$CFG"
assert_eq "$(q "SELECT state FROM walbridge.sync_state WHERE slot = '$WB_SLOT' AND mapping = 'nokey'")" done \
    "the next start finishes the re-sync"
assert_eq "$(q "SELECT count(*) FROM portal.nokey n FULL JOIN salesforce.nokey s USING (a)
                WHERE n.a IS NULL OR s.a IS NULL OR n.b IS DISTINCT FROM s.b")" 0 \
    "and the target equals the source"

# ---------------------------------------------------------------- d
echo "-- d. a composite key of text with a collation, an enum and an integer"
q "CREATE TYPE portal.kind AS ENUM ('zeta', 'alpha', 'mid');
   CREATE TABLE portal.ck (region text COLLATE \"C\", kind portal.kind, n integer, v text,
                           PRIMARY KEY (region, kind, n));
   CREATE TABLE salesforce.ck (region text COLLATE \"C\", kind portal.kind, n integer, v text,
                               PRIMARY KEY (region, kind, n));
   INSERT INTO portal.ck SELECT r, k, g, 'v' || g
   FROM unnest(ARRAY['b', 'B', 'a', 'Ä', 'é']) r, unnest(enum_range(NULL::portal.kind)) k,
        generate_series(1, 1700) g" >/dev/null
cat >>"$CFG" <<'EOF'
  - name: ck
    from: portal.ck
    to: salesforce.ck
    key: { region: region, kind: kind, n: n }
    columns: { v: v }
    initial_copy: false
EOF
sed -i '/^  - name: nokey$/,/^    initial_copy: false$/d' "$CFG"
wb_run_until "$CFG"
rc=0
wb_exec "$WB_WORK/resync.d" 60 resync -c "$CFG" --mapping ck --no-wait || rc=$?
assert_eq "$rc" 0 "the re-sync of the composite key is requested"
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "re-sync of mapping \"ck\" done: 25500 rows read" \
    "run pages through the composite key in order (25500 rows, two chunks)"
assert_eq "$(q "SELECT count(*) FROM (SELECT * FROM portal.ck EXCEPT SELECT * FROM salesforce.ck) d")" 0 \
    "every row arrived"
assert_eq "$(q "SELECT count(*) FROM salesforce.ck")" 25500 "and none twice"
