#!/usr/bin/env bash
# test_conflicts: the conflict policies of a mapping, one target table per
# policy, all fed from one source table, against a real server
# (track_commit_timestamp = on, see tests/harness/pg_cluster.sh).
#
# Scenarios, each on its own row:
#   row 1  the target's column a is edited by another writer, then the
#          source edits a: a conflict, the source is the newer write;
#   row 2  the source edits a, then another writer edits the target's a:
#          a conflict, the target is the newer write;
#   row 3  the target's b is edited, the source edits a: no conflict (each
#          side changed its own column), both edits survive everywhere;
#   row 4  the source's update changes only a column no mapping reads:
#          nothing is written (no row version, no trigger);
#   row 5  owners: c is owned by the target in cf_src_wins (never written
#          by an update) and b by the source in cf_tgt_wins (written even
#          though the target wins everything else).
# Expected per policy (a: the value of column a on rows 1 and 2):
#   last_writer_wins by commit time   row 1 source, row 2 target
#   last_writer_wins by column        the same, by the modstamp columns
#   source_wins                       row 1 source, row 2 source
#   target_wins                       row 1 target, row 2 target
# and every conflict (two per policy) is counted and logged with both
# origins.  Also: a bad owners column and last_writer_wins by commit time
# without a replication origin are refused with a clear error.
source "$(dirname "$0")/lib.sh"

# An audit of every row version written into the targets, by session.
wb_psql <<'SQL'
CREATE TABLE public.cf_audit (n bigserial PRIMARY KEY, tbl text, op text, ext text, app text);
CREATE OR REPLACE FUNCTION testlog_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.cf_audit (tbl, op, ext, app)
  VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.ext ELSE NEW.ext END,
          current_setting('application_name'));
  RETURN NULL;
END $$;
SQL

wb_psql <<'SQL'
CREATE TABLE portal.cf_src (id integer PRIMARY KEY, a text, b text, c text,
                            other text, modstamp timestamptz DEFAULT clock_timestamp());
ALTER TABLE portal.cf_src REPLICA IDENTITY FULL;
CREATE FUNCTION portal.cf_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.modstamp := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER cf_touch BEFORE UPDATE ON portal.cf_src FOR EACH ROW EXECUTE FUNCTION portal.cf_touch();
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['cf_lww', 'cf_col', 'cf_src_wins', 'cf_tgt_wins'] LOOP
    EXECUTE format('CREATE TABLE salesforce.%I (id serial PRIMARY KEY, ext varchar UNIQUE,
                    a text, b text, c text, modstamp timestamptz)', t);
    EXECUTE format('CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON salesforce.%I
                    FOR EACH ROW EXECUTE FUNCTION testlog_audit()', t);
  END LOOP;
END $$;
SQL
CFG=$WB_WORK/walbridge.yaml
wb_config_mappings "$CFG" <<'EOF'
mappings:
  - name: lww
    from: portal.cf_src
    to: salesforce.cf_lww
    key: { id: ext }
    columns: { a: a, b: b, c: c }
    conflict: { resolve: last_writer_wins, by: commit_time }
  - name: col
    from: portal.cf_src
    to: salesforce.cf_col
    key: { id: ext }
    columns: { a: a, b: b, c: c }
    conflict: { resolve: last_writer_wins, by: { source: modstamp, target: modstamp } }
  - name: src_wins
    from: portal.cf_src
    to: salesforce.cf_src_wins
    key: { id: ext }
    columns: { a: a, b: b, c: c }
    conflict: { resolve: source_wins, owners: { target: [c] } }
  - name: tgt_wins
    from: portal.cf_src
    to: salesforce.cf_tgt_wins
    key: { id: ext }
    columns: { a: a, b: b, c: c }
    conflict: { resolve: target_wins, owners: { source: [b] } }
EOF
TARGETS=(cf_lww cf_col cf_src_wins cf_tgt_wins)
q() { wb_psql -c "$1"; }
tq() { q "SELECT $3 FROM salesforce.$1 WHERE ext = '$2'"; }
# other TABLE ID SET: another writer (a plain session) edits a target row;
# the by-column policy reads modstamp, so such a writer sets it.
other() { q "UPDATE salesforce.$1 SET $3, modstamp = clock_timestamp() WHERE ext = '$2'" >/dev/null; }
stopline() { grep 'stopped at' "$WB_WORK/run.$WB_RUN_N.log" | tail -n 1; }
stopv() { stopline | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }

wb_run_until "$CFG"   # creates the publication and the slot
echo "-- inserts into empty targets: no conflict"
q "INSERT INTO portal.cf_src (id, a, b, c, other)
   SELECT g, 'a' || g, 'b' || g, 'c' || g, 'o' FROM generate_series(1, 5) g" >/dev/null
wb_run_until "$CFG"
assert_eq "$(stopv 'rows written')" 20 "5 rows into 4 targets written"
assert_eq "$(stopv conflicts)" 0 "no conflict on insert into empty targets"
for t in "${TARGETS[@]}"; do
    assert_eq "$(q "SELECT string_agg(ext || a || b || c, ',' ORDER BY ext) FROM salesforce.$t")" \
        "1a1b1c1,2a2b2c2,3a3b3c3,4a4b4c4,5a5b5c5" "$t: inserted as the source"
done
q "TRUNCATE public.cf_audit" >/dev/null

echo "-- concurrent edits"
for t in "${TARGETS[@]}"; do
    other "$t" 1 "a = 'T1'"            # row 1: the target first ...
    other "$t" 3 "b = 'T3'"            # row 3: the target's own column
    other "$t" 5 "b = 'T5', c = 'T5'"  # row 5: owners
done
q "UPDATE portal.cf_src SET a = 'S1' WHERE id = 1" >/dev/null    # ... then the source
q "UPDATE portal.cf_src SET a = 'S2' WHERE id = 2" >/dev/null    # row 2: the source first ...
for t in "${TARGETS[@]}"; do other "$t" 2 "a = 'T2'"; done          # ... then the target
q "UPDATE portal.cf_src SET a = 'S3' WHERE id = 3" >/dev/null
q "UPDATE portal.cf_src SET other = 'x' WHERE id = 4" >/dev/null
q "UPDATE portal.cf_src SET b = 'S5', c = 'S5' WHERE id = 5" >/dev/null
q "TRUNCATE public.cf_audit" >/dev/null
wb_run_until "$CFG"
LOG=$WB_WORK/run.$WB_RUN_N.log
echo "$(stopline)"

row() { tq "$1" "$2" "a || '/' || b || '/' || c"; }
for t in cf_lww cf_col; do
    assert_eq "$(row $t 1)" "S1/b1/c1" "$t row 1: the source's later edit wins"
    assert_eq "$(row $t 2)" "T2/b2/c2" "$t row 2: the target's later edit is kept"
done
assert_eq "$(row cf_src_wins 1)" "S1/b1/c1" "source_wins row 1: incoming"
assert_eq "$(row cf_src_wins 2)" "S2/b2/c2" "source_wins row 2: incoming, although older"
assert_eq "$(row cf_tgt_wins 1)" "T1/b1/c1" "target_wins row 1: the target's"
assert_eq "$(row cf_tgt_wins 2)" "T2/b2/c2" "target_wins row 2: the target's"
for t in "${TARGETS[@]}"; do
    assert_eq "$(row "$t" 3)" "S3/T3/c3" "$t row 3: the source's a and the target's b both survive"
done
assert_eq "$(q "SELECT count(*) FROM public.cf_audit WHERE ext = '4'")" 0 \
    "row 4: an update of an unmapped column wrote no row version in any target"
# row 5: b and c conflict (both sides changed them).  Owners decide first.
assert_eq "$(row cf_src_wins 5)" "a5/S5/T5" "source_wins row 5: c is the target's (owners.target), b the source's"
assert_eq "$(row cf_tgt_wins 5)" "a5/S5/T5" "target_wins row 5: b is the source's (owners.source), c the target's"
assert_eq "$(row cf_lww 5)" "a5/S5/S5" "last_writer_wins row 5: the source's later edit of b and c"

# Conflicts: rows 1 and 2 in every target, row 5 in every target.
assert_eq "$(stopv conflicts)" 12 "12 conflicts counted (rows 1, 2 and 5 in 4 targets)"
assert_eq "$(grep -c 'conflict on "salesforce\.' "$LOG")" 12 "12 conflicts logged"
assert_contains "$LOG" 'conflict on "salesforce.cf_lww" for mapping "lww": column(s) a changed on both sides'
assert_contains "$LOG" 'DETAIL:  The target row is ext=2. The incoming change comes from "portal.cf_src", committed at'
assert_contains "$LOG" 'the target row was last written by a local session at'
assert_contains "$LOG" 'Resolved by last_writer_wins by commit time: kept the target'"'"'s values.'
assert_contains "$LOG" 'conflict on "salesforce.cf_src_wins" for mapping "src_wins": column(s) a'
assert_contains "$LOG" 'Resolved by source_wins: wrote the incoming values.'
assert_contains "$LOG" 'Resolved by target_wins: wrote the incoming values of b.'
assert_contains "$LOG" 'for mapping "tgt_wins": column(s) b, c changed on both sides'
assert_not_contains "$LOG" "'S1'"
# Rows written: row 1 in lww, col, src_wins (3); row 2 in src_wins (1);
# row 3 everywhere (4); row 5 in all four (4) = 12.
assert_eq "$(stopv 'rows written')" 12 "rows written: only where something changed"
assert_eq "$(q "SELECT count(*) FROM public.cf_audit WHERE app = 'walbridge'")" 12 \
    "one row version per row written (audited)"

echo "-- rows walbridge wrote last are not in conflict"
q "TRUNCATE public.cf_audit" >/dev/null
q "UPDATE portal.cf_src SET a = 'again' || id WHERE id IN (1, 3)" >/dev/null
wb_run_until "$CFG"
# Only target_wins row 1 conflicts again: its target still holds its own
# value of a (T1), which is neither the source's old (S1) nor new value.
assert_eq "$(stopv conflicts)" 1 "no conflict where walbridge wrote the row last; target_wins row 1 again"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" 'conflict on "salesforce.cf_tgt_wins" for mapping "tgt_wins": column(s) a changed'
assert_contains "$WB_WORK/run.$WB_RUN_N.log" 'the target row was last written by a local session'
q "UPDATE portal.cf_src SET other = 'y' WHERE id IN (1, 3)" >/dev/null
assert_eq "$(row cf_lww 3)" "again3/T3/c3" "lww row 3 follows the source"
assert_eq "$(row cf_tgt_wins 1)" "T1/b1/c1" "target_wins row 1: still the target's (a was in conflict)"
assert_eq "$(row cf_tgt_wins 3)" "again3/T3/c3" "target_wins row 3: a was never in conflict, follows"
wb_run_until "$CFG"
assert_eq "$(stopv 'rows written')" 0 "an update of an unmapped column writes nothing"

echo "-- refused configurations"
BAD=$WB_WORK/bad.yaml
sed 's/owners: { target: \[c\] }/owners: { target: [nope] }/' "$CFG" >"$BAD"
wb_exec "$WB_WORK/bad.out" 30 check --offline -c "$BAD" && fail "a bad owners column was accepted"
assert_contains "$WB_WORK/bad.out" 'column "nope" in "owners" is not written by mapping "src_wins"'
assert_contains "$WB_WORK/bad.out" "$BAD:$(grep -n 'nope' "$BAD" | cut -d: -f1):"
BAD2=$WB_WORK/bad2.yaml
sed 's/^  conninfo: ""$/  conninfo: ""\n  progress: table/' "$CFG" >"$BAD2"
grep -q 'progress: table' "$BAD2" || fail "could not write $BAD2"
rc=0
wb_exec "$WB_WORK/bad2.out" 30 run -c "$BAD2" --until now || rc=$?
assert_eq "$rc" 3 "last_writer_wins by commit time without an origin: exit 3 (configuration)"
assert_contains "$WB_WORK/bad2.out" 'mapping "lww" resolves conflicts by commit time, which needs progress in a replication origin'
BAD3=$WB_WORK/bad3.yaml
q "CREATE TABLE portal.cf_plain (id integer PRIMARY KEY, a text)" >/dev/null
sed 's/from: portal.cf_src$/from: portal.cf_plain/; /columns: { a: a, b: b, c: c }/s/.*/    columns: { a: a }/' "$CFG" |
    sed '/owners/s/, owners: {[^}]*}//' >"$BAD3"
rc=0
wb_exec "$WB_WORK/bad3.out" 30 check -c "$BAD3" || rc=$?
assert_eq "$rc" 6 "conflict on a source without REPLICA IDENTITY FULL: exit 6 (catalog)"
assert_contains "$WB_WORK/bad3.out" 'mapping "lww": source table "portal.cf_plain" needs REPLICA IDENTITY FULL for "conflict"'
assert_contains "$WB_WORK/bad3.out" 'ALTER TABLE portal.cf_plain REPLICA IDENTITY FULL;'
assert_contains "$WB_WORK/bad3.out" "$BAD3:$(grep -n -m1 'conflict: { resolve: last_writer_wins, by: commit_time }' "$BAD3" | cut -d: -f1):"

echo "-- re-synced rows meet other writers' edits: each policy decides, by the row's own commit"
# Row 6: the targets' edit is newer than the source row.  Row 7: the
# source row is newer than the targets' edit; its update carries
# walbridge's own marker, so the stream skips it and only the re-sync
# brings it.  The stream has read the targets' edits (the column clock
# knows their values): for a re-synced row, not in commit order with the
# stream, the clock must not decide; the row's commit time does.
q "INSERT INTO portal.cf_src (id, a, b, c) VALUES (6, 'S6', 'b6', 'c6'), (7, 'S7', 'b7', 'c7')" >/dev/null
wb_run_until "$CFG"
for t in "${TARGETS[@]}"; do
    other "$t" 6 "a = 'T6'"
    other "$t" 7 "a = 'T7'"
done
wb_psql -c "BEGIN" -c "SELECT pg_logical_emit_message(true, 'walbridge', 'walbridge_$WB_SLOT')" \
    -c "UPDATE portal.cf_src SET a = 'S7new' WHERE id = 7" -c "COMMIT" >/dev/null
wb_run_until "$CFG"
assert_eq "$(row cf_src_wins 7)" "T7/b7/c7" "the stream skipped the marked update of row 7"
wb_start_bg "$CFG"
BG=$WB_BG_PID
for m in lww col src_wins tgt_wins; do
    rc=0
    wb_exec "$WB_WORK/resync.$m" 120 resync -c "$CFG" --mapping "$m" || rc=$?
    assert_eq "$rc" 0 "resync --mapping $m exits 0"
done
wb_stop_bg "$BG"
for t in cf_lww cf_col; do
    assert_eq "$(tq $t 6 a)" T6 "$t row 6 re-synced: the target's newer edit is kept"
    assert_eq "$(tq $t 7 a)" S7new "$t row 7 re-synced: the source's newer row wins"
done
assert_eq "$(tq cf_src_wins 6 a)/$(tq cf_src_wins 7 a)" S6/S7new "cf_src_wins re-synced: the source's values"
assert_eq "$(tq cf_tgt_wins 6 a)/$(tq cf_tgt_wins 7 a)" T6/T7 "cf_tgt_wins re-synced: the target's values"

echo "-- the initial copy meets other writers' rows: last_writer_wins by the row's own commit"
# A new slot copies portal.cf_ic into a target that already has rows: row
# 1 edited on the target after the source row's last write (kept), row 2
# on the target before the source's (overwritten).
q "CREATE TABLE portal.cf_ic (id integer PRIMARY KEY, a text);
   ALTER TABLE portal.cf_ic REPLICA IDENTITY FULL;
   CREATE TABLE salesforce.cf_ic (id serial PRIMARY KEY, ext varchar UNIQUE, a text, modstamp timestamptz);
   INSERT INTO salesforce.cf_ic (ext, a) VALUES ('2', 'T2')" >/dev/null
q "INSERT INTO portal.cf_ic VALUES (1, 'S1'), (2, 'S2')" >/dev/null
q "INSERT INTO salesforce.cf_ic (ext, a) VALUES ('1', 'T1')" >/dev/null
ICCFG=$WB_WORK/ic.yaml
wb_write_config "$ICCFG" "${WB_SLOT}_ic"
sed -i '/^mappings:/,$d' "$ICCFG"
cat >>"$ICCFG" <<'EOF'
mappings:
  - name: ic
    from: portal.cf_ic
    to: salesforce.cf_ic
    key: { id: ext }
    columns: { a: a }
    conflict: { resolve: last_writer_wins, by: commit_time }
EOF
wb_run_until "$ICCFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" 'mapping "ic": copied 2 rows of "portal.cf_ic"' "the new slot copied the table"
assert_eq "$(q "SELECT string_agg(ext || '=' || a, ',' ORDER BY ext) FROM salesforce.cf_ic")" "1=T1,2=S2" \
    "copied rows: the target's newer row 1 kept, its older row 2 overwritten"

echo "-- a target transaction rolled back for concurrency's sake is retried, not fatal"
# Another writer holds the row walbridge must write; walbridge's session
# gives up waiting after 200 ms (lock_timeout: SQLSTATE 55P03, as a
# deadlock would be 40P01), rolls the batch back and applies it again.
# One source transaction a batch, and 20 more after the blocked one: their
# batches are already in the pipeline when the first fails, and must not
# commit (they would store a position past the failed batch, whose change
# the retry would then skip).
LOCKCFG=$WB_WORK/lock.yaml
sed "s|^  conninfo: \"\"$|  conninfo: \"host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB options='-c lock_timeout=200'\"\n  batch_max_txns: 1|" "$CFG" >"$LOCKCFG"
grep -q lock_timeout "$LOCKCFG" || fail "could not write $LOCKCFG"
grep -q 'batch_max_txns: 1' "$LOCKCFG" || fail "could not write $LOCKCFG"
q "UPDATE portal.cf_src SET a = 'locked' WHERE id = 4" >/dev/null
q "INSERT INTO portal.cf_src (id, a) SELECT g, 'later' FROM generate_series(100, 119) g" >/dev/null
for i in $(seq 100 119); do q "UPDATE portal.cf_src SET b = 'later$i' WHERE id = $i" >/dev/null; done
# The other writer holds the row until walbridge has demonstrably run into
# it (its lock timeout is logged), however long walbridge takes to get there.
wb_sess_open L
wb_sess_run L "BEGIN; SELECT 1 FROM salesforce.cf_lww WHERE ext = '4' FOR UPDATE;"
assert_eq "$(q "SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE c.relname = 'cf_lww' AND l.mode = 'RowShareLock' AND l.granted
                  AND a.application_name = 'wbt_sess_L'")" t "the other writer holds the row"
LOCKRUN=$WB_WORK/lock_run.log
wb_exec "$LOCKRUN" 300 run -c "$LOCKCFG" --until now &
RUNNER=$!
wb_track_pid "$RUNNER"
wb_wait_file 240 "$LOCKRUN" 'canceling statement due to lock timeout' \
    "walbridge ran into the held row and gave up waiting (lock_timeout)"
wb_sess_run L "COMMIT;"
wb_sess_close L
rc=0
wait "$RUNNER" || rc=$?
wb_untrack_pid "$RUNNER"
if ((rc != 0)); then
    cat "$LOCKRUN" >&2
    fail "walbridge run --until now with the held row exited $rc (124: it did not finish within 300 s)"
fi
ok "walbridge run --until now finished (exit 0) once the row was released"
assert_contains "$LOCKRUN" 'reconnecting in'
assert_eq "$(row cf_lww 4)" "locked/b4/c4" "applied once the lock was released"
assert_eq "$(q "SELECT count(*) FROM public.cf_audit WHERE ext = '4' AND tbl = 'cf_lww' AND app = 'walbridge'")" 1 \
    "written exactly once (the rolled-back attempt left nothing)"
assert_eq "$(q "SELECT count(*) FROM salesforce.cf_lww WHERE ext::int BETWEEN 100 AND 119 AND b = 'later' || ext")" 20 \
    "the 20 later transactions applied too"
assert_eq "$(q "SELECT count(*) FROM public.cf_audit WHERE ext::int BETWEEN 100 AND 119 AND tbl = 'cf_lww'")" 40 \
    "each of them once (20 inserts, 20 updates)"
