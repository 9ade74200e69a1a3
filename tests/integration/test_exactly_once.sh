#!/usr/bin/env bash
# test_exactly_once: kill -9 walbridge at random moments while a pgbench
# writer changes portal.users; after a final `run --until now` every source
# change must have been applied to salesforce.account exactly once.
#
# Every application of a change is distinguishable: each change sets phone to
# a fresh nextval('testlog.seq').  A trigger on the source logs (op, id,
# phone) of every row change, a trigger on the target logs (op,
# external_id__c, phone) of every row walbridge writes; both logs live in the
# unpublished schema testlog.  The two must be equal as multisets: a change
# lost shows up as a missing audit row, a change applied twice (e.g. a
# transaction replayed after a crash) as a surplus one, a half-applied
# multi-statement transaction as either.
source "$(dirname "$0")/lib.sh"

CLIENTS=${WB_EO_CLIENTS:-4}
TX_PER_CLIENT=${WB_EO_TX_PER_CLIENT:-2600}   # 4 x 2600 = 10,400 transactions
RATE=${WB_EO_RATE:-500}                      # tx/s in total: ~21 s of writing
MIN_KILLS=${WB_EO_MIN_KILLS:-10}
MIN_TX=${WB_EO_MIN_TX:-10000}
DEADLINE=${WB_EO_DEADLINE:-150}              # seconds for the kill phase

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

echo "-- set-up: logging triggers on source and target (schema testlog is not published)"
wb_setup_change_audit

echo "-- first run creates the slot, then preload 500 users"
wb_run_until "$CFG"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone, status)
            SELECT 'user' || g || '@example.com', 'First' || g, 'Last' || g,
                   nextval('testlog.seq')::text, 'active'
            FROM generate_series(1, 500) g"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.account")" 500 "preload arrived (500 rows)"
wb_assert_synced "preload: target equals mapped source"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.target_audit WHERE op = 'I'")" 500 \
    "target audit trigger fires for walbridge's writes (500 inserts logged)"
wb_psql -c "TRUNCATE testlog.source_log, testlog.target_audit"

# ---------------------------------------------------------------- the writer
# Clients never touch each other's rows (id % clients = client_id), so there
# are no lock waits or deadlocks; every change sets a fresh phone.
W=$WB_WORK/writer
mkdir -p "$W"
pick="SELECT id FROM portal.users WHERE id % :nc = :client_id ORDER BY random()"
cat >"$W/update2.sql" <<EOF
UPDATE portal.users SET phone = nextval('testlog.seq')::text, updated_at = now()
  WHERE id IN ($pick LIMIT 2);
EOF
cat >"$W/insert.sql" <<'EOF'
INSERT INTO portal.users (email, first_name, last_name, phone)
  VALUES ('c' || :client_id || '@example.com', 'Inserted', 'By client ' || :client_id,
          nextval('testlog.seq')::text);
EOF
cat >"$W/delete.sql" <<EOF
DELETE FROM portal.users WHERE id = ($pick LIMIT 1);
EOF
cat >"$W/multi.sql" <<EOF
BEGIN;
UPDATE portal.users SET phone = nextval('testlog.seq')::text WHERE id IN ($pick LIMIT 3);
INSERT INTO portal.users (email, first_name, last_name, phone)
  VALUES ('m' || :client_id || '@example.com', 'Multi', 'Tx', nextval('testlog.seq')::text)
  RETURNING id AS new_id \gset
UPDATE portal.users SET phone = nextval('testlog.seq')::text, last_name = 'Tx updated' WHERE id = :new_id;
UPDATE portal.users SET phone = nextval('testlog.seq')::text, email = 'm2@example.com' WHERE id = :new_id;
DELETE FROM portal.users WHERE id = ($pick LIMIT 1);
UPDATE portal.users SET phone = nextval('testlog.seq')::text WHERE id IN ($pick LIMIT 2);
END;
EOF

echo "-- writer: pgbench, $CLIENTS clients x $TX_PER_CLIENT transactions at ~$RATE tx/s"
PGAPPNAME=wbt_writer pgbench -n -c "$CLIENTS" -j "$CLIENTS" -t "$TX_PER_CLIENT" \
    -R "$RATE" -D nc="$CLIENTS" \
    -f "$W/update2.sql@55" -f "$W/insert.sql@10" -f "$W/delete.sql@5" -f "$W/multi.sql@30" \
    "$WB_DB" >"$W/pgbench.log" 2>&1 &
WRITER=$!
wb_track_pid "$WRITER"
WRITER_T0=$SECONDS

# ------------------------------------------------------------ kill -9 loop
kills=0
deadline=$((SECONDS + DEADLINE))
sleeps=""
wb_start_bg "$CFG"
while :; do
    if ! kill -0 "$WRITER" 2>/dev/null && ((kills >= MIN_KILLS)); then
        break
    fi
    if ((SECONDS >= deadline)); then
        tail -n 20 "$W/pgbench.log" >&2 || true
        fail "kill phase did not finish within ${DEADLINE}s ($kills kills)"
    fi
    ms=$((200 + RANDOM % 1301))
    sleeps+="${sleeps:+ }$ms"
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    # walbridge must still be running: it never exits on its own here.
    if ! wb_bg_alive "$WB_BG_PID"; then
        rc=0
        wait "$WB_BG_PID" || rc=$?
        wb_forget_bg "$WB_BG_PID"
        fail "walbridge (restart $kills) exited on its own with code $rc"
    fi
    wb_kill9_bg "$WB_BG_PID"
    kills=$((kills + 1))
    # The server notices the dead connections by itself; wait for the slot
    # (and the origin's session) to be released before restarting.
    wb_wait_server_released 30
    wb_start_bg "$CFG"
done
wb_kill9_bg "$WB_BG_PID"
kills=$((kills + 1))
wb_wait_server_released 30
echo "kill -9 sent $kills times after sleeps of (ms): $sleeps"

writer_rc=0
wait "$WRITER" || writer_rc=$?
echo "writer finished after $((SECONDS - WRITER_T0))s with exit code $writer_rc"
grep -E '^(number of (transactions actually processed|failed transactions)|tps)' "$W/pgbench.log" || true
if ((writer_rc != 0)); then
    cat "$W/pgbench.log" >&2
    fail "pgbench exited with code $writer_rc"
fi
committed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/pgbench.log")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$W/pgbench.log")
committed=$((${committed:-0} - ${failed:-0}))

echo "-- final run --until now"
wb_run_until "$CFG"

# ---------------------------------------------------------------- checks
assert_ge "$kills" "$MIN_KILLS" "walbridge was killed with SIGKILL at least $MIN_KILLS times"
assert_ge "$committed" "$MIN_TX" "writer committed at least $MIN_TX transactions"
src_changes=$(wb_psql -c "SELECT count(*) FROM testlog.source_log")
assert_ge "$src_changes" "$MIN_TX" "source row changes logged"
wb_psql_table -c "SELECT op, count(*) AS source_changes,
                         (SELECT count(*) FROM testlog.target_audit t WHERE t.op = s.op) AS target_writes
                  FROM testlog.source_log s GROUP BY op ORDER BY op"

wb_assert_synced "(a) target rows equal the mapped source rows"

# Multiset difference both ways (EXCEPT ALL keeps duplicates and treats
# NULLs as equal): "missing" = a source change never applied, "surplus" = a
# write with no source change (a change applied twice, or a spurious write).
ndiff=$(wb_psql -c "SELECT count(*) FROM ($MULTISET_DIFF) d")
tgt_changes=$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")
if [[ "$ndiff" != 0 ]]; then
    echo "source changes: $src_changes, target writes: $tgt_changes, differing (op, id, phone): $ndiff" >&2
    wb_psql_table -c "SELECT problem, count(*) FROM ($MULTISET_DIFF) d GROUP BY 1 ORDER BY 1" >&2 || true
    echo "first 30 differing rows:" >&2
    wb_psql_table -c "SELECT * FROM ($MULTISET_DIFF) d ORDER BY id, phone LIMIT 30" >&2 || true
    fail "(b) source changes and target writes differ as multisets"
fi
ok "(b) multiset of source changes equals multiset of target writes ($src_changes = $tgt_changes, no change lost or applied twice)"

wb_assert_format
