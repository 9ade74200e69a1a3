#!/usr/bin/env bash
# test_initial_copy: the rows a source table held when walbridge created its
# slot are copied through the mappings, under the slot's exported snapshot,
# and the stream takes over exactly where the snapshot ends.
#   a. check, before the slot exists, says what will be copied;
#   b. with Heroku Connect's stand-in and the reverse mapping: every copied
#      row reaches salesforce.account once (one _trigger_log INSERT each),
#      nothing comes back to portal.users, a second run applies nothing;
#      sync_state says done, with the row count, and check says so too;
#   c. with a writer updating, inserting and deleting portal.users during
#      the copy (each change a fresh phone from testlog.seq): the target
#      ends equal to the source, no (key, phone) is ever written twice and,
#      per key, every value written is newer than the one before (no older
#      value over a newer one);
#   d. kill -9 and SIGTERM in the middle of a copy: the rows in the target
#      are exactly the ones sync_state counts (each chunk's rows commit
#      with its state), the next run and check report the copy as
#      interrupted;
#   e. initial_copy: false copies nothing and is recorded as skipped; a
#      mapping added to an existing slot is reported as never copied while
#      its source has rows.
source "$(dirname "$0")/lib.sh"

q() { wb_psql -c "$1"; }
state() { q "SELECT state || ':' || rows_copied FROM walbridge.sync_state WHERE slot = '$1' AND mapping = '$2'"; }

echo "-- set-up: change audit, Heroku Connect stand-in, 20000 users"
wb_setup_change_audit
wb_psql -f "$WB_SOURCE_DIR/tests/harness/heroku_connect.sql" >/dev/null
wb_psql <<'SQL'
ALTER TABLE portal.users ADD COLUMN IF NOT EXISTS salesforce_id varchar(18);
ALTER TABLE salesforce.account REPLICA IDENTITY FULL;
INSERT INTO portal.users (email, first_name, last_name, phone, status)
SELECT 'user' || g || '@example.com', 'First' || g, E'Last\t' || g,
       nextval('testlog.seq')::text, 'active'
FROM generate_series(1, 20000) g;
SQL
q "TRUNCATE testlog.source_log" >/dev/null

# ---------------------------------------------------------------- a, b
CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
cat >>"$CFG" <<'EOF'
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

echo "-- a. check before the slot exists"
rc=0
wb_exec "$WB_WORK/check.a" 60 check -c "$CFG" || rc=$?
assert_eq "$rc" 0 "check exits 0"
assert_contains "$WB_WORK/check.a" \
    "mapping \"users_to_accounts\": the existing rows of \"portal.users\" will be copied when the slot is created" \
    "check says the rows will be copied"

echo "-- b. first run: the copy, with Connect's triggers and the reverse mapping"
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "mapping \"users_to_accounts\": copied 20000 rows of \"portal.users\"" \
    "run logs the rows copied"
wb_assert_synced "after the copy: target equals mapped source"
assert_eq "$(state "$WB_SLOT" users_to_accounts)" "done:20000" "sync_state: users_to_accounts done, 20000 rows"
assert_eq "$(state "$WB_SLOT" accounts_to_users)" "done:0" "sync_state: accounts_to_users done (its source was empty)"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE action = 'INSERT' AND table_name = 'account'")" 20000 \
    "Connect's trigger saw each copied row once (20000 INSERTs logged)"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE action <> 'INSERT'")" 0 \
    "and nothing else"
assert_eq "$(q "SELECT count(*) FROM testlog.source_log")" 0 "no echo: portal.users was not written"
assert_eq "$(q "SELECT count(*) FROM (SELECT id FROM testlog.target_audit GROUP BY id HAVING count(*) > 1) d")" 0 \
    "each account written once"
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" ": 0 transactions applied, " "a second run applies nothing"
assert_not_contains "$WB_WORK/run.$WB_RUN_N.log" "copying the existing rows" "and copies nothing"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log")" 20000 "the trigger log did not grow"
rc=0
wb_exec "$WB_WORK/check.b" 60 check -c "$CFG" || rc=$?
assert_eq "$rc" 0 "check exits 0"
assert_contains "$WB_WORK/check.b" "mapping \"users_to_accounts\": existing rows copied (20000 rows, finished " \
    "check reports the copy done"
rc=0
wb_exec "$WB_WORK/status.b" 30 status -c "$CFG" --json || rc=$?
assert_eq "$rc" 0 "status exits 0"
assert_eq "$(jq -c '[.mappings[] | [.name, .initial_copy, .rows_copied, .same_definition]]' "$WB_WORK/status.b.stdout")" \
    '[["users_to_accounts","done",20000,true],["accounts_to_users","done",0,true]]' \
    "status --json: each mapping's copy state and rows"
wb_exec "$WB_WORK/status.b2" 30 status -c "$CFG" || rc=$?
assert_contains "$WB_WORK/status.b2.stdout" "  users_to_accounts              done (20000 rows, " \
    "status: the copy state in words"

# ---------------------------------------------------------------- c
echo "-- c. a writer changes portal.users while a new slot copies it"
SLOT_C=${WB_SLOT}_c
CFG_C=$WB_WORK/c.yaml
wb_write_config "$CFG_C" "$SLOT_C"
q "TRUNCATE salesforce.account, salesforce._trigger_log, testlog.source_log, testlog.target_audit" >/dev/null
# 50000 more users: the copy takes long enough for the writer to overlap it.
q "INSERT INTO portal.users (email, first_name, last_name, phone, status)
   SELECT 'more' || g || '@example.com', 'More' || g, 'M', nextval('testlog.seq')::text, 'active'
   FROM generate_series(1, 50000) g" >/dev/null
wb_users_writer "$WB_WORK/writer" "SELECT max(id) - 70000 FROM portal.users" \
    update@70 insert@20 delete@10
wb_wait_sql 30 "SELECT count(*) > 100 FROM testlog.source_log" t "the writer is writing"
wb_start_bg "$CFG_C"
C_PID=$WB_BG_PID
wb_wait_sql 120 "SELECT count(*) > 0 FROM walbridge.sync_state WHERE slot = '$SLOT_C' AND state = 'done'" t \
    "the copy finished while the writer wrote"
B=$(q "SELECT count(*) FROM testlog.source_log")
wb_wait_sql 30 "SELECT count(*) > $B + 300 FROM testlog.source_log" t "the writer went on after the copy"
wb_users_writer_stop
wb_stop_bg "$C_PID"
wb_run_until "$CFG_C"
wb_assert_synced "after the copy and the writer: target equals mapped source"
wb_assert_compare_clean "$CFG_C" "compare agrees"
DUPS="SELECT id, phone FROM testlog.target_audit WHERE op <> 'D' GROUP BY id, phone HAVING count(*) > 1"
if [[ "$(q "SELECT count(*) FROM ($DUPS) d")" != 0 ]]; then
    echo "----- keys written twice with one value: their target writes and source changes" >&2
    wb_psql_table -c "SELECT 'target' AS side, a.n, a.op, a.id, a.phone FROM testlog.target_audit a
                      WHERE a.id IN (SELECT id FROM ($DUPS) d LIMIT 5)
                      UNION ALL
                      SELECT 'source', s.n, s.op, s.id, s.phone FROM testlog.source_log s
                      WHERE s.id IN (SELECT id FROM ($DUPS) d LIMIT 5) ORDER BY 4, 1, 2" >&2 || true
    grep -E "copying|copied|initial copy|streaming|stopped|resuming|WARNING|reading the stream" "$WB_LOG" >&2 || true
fi
assert_eq "$(q "SELECT count(*) FROM ($DUPS) d")" 0 \
    "no (key, value) written twice: no row both copied and streamed, no change applied twice"
assert_eq "$(q "SELECT count(*) FROM (SELECT phone::bigint AS p,
                       lag(phone::bigint) OVER (PARTITION BY id ORDER BY n) AS prev
                FROM testlog.target_audit WHERE op <> 'D') d WHERE p <= prev")" 0 \
    "per key, every value written is newer than the one before"
assert_ge "$(q "SELECT count(*) FROM testlog.source_log WHERE op = 'U'")" 300 "the writer's updates were many"
COPIED_C=$(q "SELECT rows_copied FROM walbridge.sync_state WHERE slot = '$SLOT_C' AND mapping = 'users_to_accounts'")
assert_ge "$COPIED_C" 69000 "the copy read the snapshot's rows ($COPIED_C)"

# ---------------------------------------------------------------- d
echo "-- d. kill -9, then SIGTERM, in the middle of a copy"
q "INSERT INTO portal.users (email, first_name, last_name, phone, status)
   SELECT 'big' || g || '@example.com', 'Big' || g, 'B', nextval('testlog.seq')::text, 'active'
   FROM generate_series(1, 200000) g" >/dev/null
for how in KILL TERM; do
    slot=${WB_SLOT}_$(tr '[:upper:]' '[:lower:]' <<<"$how")
    cfg=$WB_WORK/$how.yaml
    wb_write_config "$cfg" "$slot"
    q "TRUNCATE salesforce.account, testlog.target_audit" >/dev/null
    wb_start_bg "$cfg"
    pid=$WB_BG_PID
    wb_wait_sql 60 "SELECT coalesce((SELECT rows_copied FROM walbridge.sync_state WHERE slot = '$slot'), 0) >= 40000" t \
        "$how: the copy is under way"
    kill -"$how" "$pid"
    rc=0
    wait "$pid" || rc=$?
    wb_forget_bg "$pid"
    if [[ "$how" == KILL ]]; then
        assert_eq "$rc" 137 "kill -9: walbridge died"
    else
        assert_eq "$rc" 0 "SIGTERM: walbridge stopped cleanly"
        assert_contains "$WB_LOG" "received SIGTERM, stopping" "SIGTERM: the stop was noticed mid-copy"
    fi
    st=$(state "$slot" users_to_accounts)
    n=$(q "SELECT count(*) FROM salesforce.account")
    [[ "$st" == copying:* ]] || fail "$how: sync_state is '$st', not copying"
    assert_eq "${st#copying:}" "$n" "$how: sync_state counts exactly the rows in the target"
    total=$(q "SELECT count(*) FROM portal.users")
    ((n < total)) || fail "$how: the copy was not interrupted ($n of $total rows)"
    wb_exec "$WB_WORK/status.$how" 30 status -c "$cfg" --json || true
    assert_eq "$(jq -c '[.mappings[] | [.initial_copy, .rows_copied]]' "$WB_WORK/status.$how.stdout")" \
        "[[\"copying\",$n]]" "$how: status says copying, $n rows"
    rc=0
    wb_exec "$WB_WORK/check.$how" 60 check -c "$cfg" || rc=$?
    assert_contains "$WB_WORK/check.$how" \
        "WARNING:  mapping \"users_to_accounts\": copying, $n rows so far (an interrupted copy, or a re-sync: walbridge run goes on with it from its cursor)" \
        "$how: check reports the interrupted copy"
    wb_run_until "$cfg"
    assert_contains "$WB_WORK/run.$WB_RUN_N.log" \
        "re-syncing mapping \"users_to_accounts\" from \"portal.users\" while streaming after its stored cursor ($n rows stored)" \
        "$how: the next run goes on from the stored cursor"
    assert_eq "$(state "$slot" users_to_accounts)" "done:$(q "SELECT count(*) FROM portal.users")" \
        "$how: and finishes the copy"
    wb_assert_synced "$how: target equals mapped source"
    wb_assert_compare_clean "$cfg" "$how: compare agrees"
    assert_eq "$(q "SELECT count(*) FROM (SELECT id FROM testlog.target_audit WHERE op <> 'D'
                    GROUP BY id HAVING count(*) > 1) d")" 0 "$how: no row written twice"
done

# ---------------------------------------------------------------- e
echo "-- e. initial_copy: false, and a mapping added to an existing slot"
SLOT_E=${WB_SLOT}_e
CFG_E=$WB_WORK/e.yaml
wb_write_config "$CFG_E" "$SLOT_E"
echo "    initial_copy: false" >>"$CFG_E"
q "TRUNCATE salesforce.account" >/dev/null
rc=0
wb_exec "$WB_WORK/check.e" 60 check -c "$CFG_E" || rc=$?
assert_contains "$WB_WORK/check.e" "will not be copied (initial_copy: false)" "check: not to be copied"
wb_run_until "$CFG_E"
assert_eq "$(q "SELECT count(*) FROM salesforce.account")" 0 "initial_copy: false copies nothing"
assert_eq "$(state "$SLOT_E" users_to_accounts)" "skipped:0" "and is recorded as skipped"
wb_exec "$WB_WORK/status.e" 30 status -c "$CFG_E" --json || true
assert_eq "$(jq -r '.mappings[0].initial_copy' "$WB_WORK/status.e.stdout")" skipped "status says skipped"
sed -i 's/^    initial_copy: false$//' "$CFG_E"
cat >>"$CFG_E" <<'EOF'
  - name: users_to_contacts
    from: portal.users
    to: salesforce.contact
    key: { id: external_id__c }
    columns: { email: email }
EOF
rc=0
wb_exec "$WB_WORK/check.e2" 60 check -c "$CFG_E" || rc=$?
assert_contains "$WB_WORK/check.e2" \
    "WARNING:  mapping \"users_to_contacts\": never copied, and \"portal.users\" has rows that may predate the slot" \
    "check: a mapping added later is reported as never copied"
wb_run_until "$CFG_E"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "WARNING:  mapping \"users_to_contacts\" was never copied" \
    "run reports it too"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "(walbridge resync --mapping users_to_contacts copies them)" \
    "and says how to copy them"

# ---------------------------------------------------------------- f
echo "-- f. a row the target refuses in the middle of a copy stops walbridge"
q "CREATE TABLE portal.small (id integer PRIMARY KEY, name varchar(100));
   CREATE TABLE salesforce.small (id integer PRIMARY KEY, name varchar(40));
   INSERT INTO portal.small SELECT g, CASE WHEN g = 45000 THEN repeat('x', 50) ELSE 'n' || g END
   FROM generate_series(1, 50000) g" >/dev/null
SLOT_F=${WB_SLOT}_f
CFG_F=$WB_WORK/f.yaml
wb_write_config "$CFG_F" "$SLOT_F"
cat >>"$CFG_F" <<'EOF'
    enabled: false
  - name: small
    from: portal.small
    to: salesforce.small
    key: { id: id }
    columns: { name: name }
EOF
rc=0
wb_exec "$WB_WORK/run.f" 120 run -c "$CFG_F" --until now || rc=$?
assert_eq "$rc" 4 "a refused row stops the copy with the data error's exit code"
assert_contains "$WB_WORK/run.f" "value too long for type character varying(40)" "the error is the target's"
assert_contains "$WB_WORK/run.f" "HINT:  The next start goes on with the copy from its stored cursor" \
    "the hint says how the copy goes on"
assert_not_contains "$WB_WORK/run.f" "streaming from slot" "nothing was streamed"
st=$(state "$SLOT_F" small)
assert_eq "$st" "copying:$(q "SELECT count(*) FROM salesforce.small")" \
    "sync_state counts exactly the rows that reached the target"
