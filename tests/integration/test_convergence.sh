#!/usr/bin/env bash
# test_convergence: three writers on overlapping rows, walbridge in the
# middle, and at the end every mapped pair is equal and holds, per column,
# the value of the last committed writer.
#
# For about WB_CONVERGENCE_SECONDS (default 60: PHP and Rails are paced,
# and run until each has committed 150 x that many transactions, a count,
# so a slow machine runs longer instead of failing; Connect runs until
# they are done), concurrently:
#   - the PHP portal (tests/harness/writers.py php) edits portal.users,
#   - the Rails API (writers.py rails) edits public.customers,
#   - Heroku Connect (tests/harness/hc_simulator.py) syncs every NEW
#     _trigger_log row (writes back sfid and systemmodstamp) and injects
#     edits "from Salesforce" into salesforce.account and salesforce.contact,
# all on small hot sets, so the same rows are edited from both sides at the
# same time; walbridge runs in the background (stopped and started again
# halfway) with two bidirectional
# pairs, portal.users <-> salesforce.account and public.customers <->
# salesforce.contact, each direction with conflict: last_writer_wins by
# commit time (the README's "Three writers").
#
# Then quiescence (writers stopped; Connect syncs until idle, walbridge
# applies everything committed, until a round changes nothing), and:
#   a'. per pair and column, the value on both sides is the one of the last
#      committed writer: of the writers' changes of that column on either
#      side, the one with the highest commit LSN (read by a test_decoding
#      slot of the test's own, so the order is the server's, not walbridge's);
#   a. every mapped pair is equal, column for column (also the columns no
#      writer changed), and every user is linked to its account's sfid;
#   b. walbridge's writes are bounded: its row writes over the writers' row
#      changes (no ping-pong) is printed and must be at most 1;
#   c. every walbridge write into salesforce.* has its _trigger_log row
#      (same transaction, record, action; created NEW) and was PENDING;
#   d. every writer committed its count of transactions (rates are printed,
#      for information only);
#   e. the last rounds were quiet: nothing written, nothing logged.
source "$(dirname "$0")/lib.sh"

SECS=${WB_CONVERGENCE_SECONDS:-60}
wb_need_python
DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
H=$WB_SOURCE_DIR/tests/harness
q() { wb_psql -c "$1"; }
jv() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
stopsum() {  # stopsum WHAT LOG...: sum of "N WHAT" over the stop lines
    local what=$1
    shift
    grep -h 'stopped at' "$@" | sed -n "s/.* \([0-9]*\) $what.*/\1/p" | awk '{s += $1} END {print s + 0}'
}
sync_idle() {  # sync_idle OUT: Connect syncs until its log stays empty
    timeout -k 5 180 "$PY" "$H/hc_simulator.py" sync --until-idle --idle 0.5 --duration 150 --seed 7 \
        --dsn "$DSN" >"$1" 2>"$1.err" || { cat "$1" "$1.err" >&2; fail "hc_simulator.py sync failed"; }
}

echo "-- set-up: Heroku Connect stand-in, replica identity, audit"
wb_psql -f "$WB_SOURCE_DIR/tests/harness/heroku_connect.sql"
wb_psql -f "$WB_SOURCE_DIR/schemas/bidirectional.sql"
wb_psql <<'SQL'
CREATE SCHEMA testlog;
CREATE TABLE testlog.audit (n bigserial PRIMARY KEY, tbl text, op text, id integer, txid bigint,
    app text, lastop text, old jsonb, new jsonb);
CREATE FUNCTION testlog.audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  INSERT INTO testlog.audit (tbl, op, id, txid, app, lastop, old, new)
  VALUES (TG_TABLE_NAME, TG_OP, (to_jsonb(r) ->> 'id')::integer, txid_current(),
          current_setting('application_name'), to_jsonb(r) ->> '_hc_lastop',
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
          CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
  RETURN NULL;
END $$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['portal.users', 'public.customers', 'salesforce.account', 'salesforce.contact'] LOOP
    EXECUTE format('CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION testlog.audit()', t);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_audit', t);
  END LOOP;
END $$;
SQL
assert_eq "$(q "SHOW track_commit_timestamp")" on "track_commit_timestamp is on (last_writer_wins by commit_time)"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
sed -i '/^mappings:/,$d' "$CFG"
cat >>"$CFG" <<'EOF'
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
    conflict: { resolve: last_writer_wins, by: commit_time }
  - name: accounts_to_users
    from: salesforce.account
    to: portal.users
    operations: [insert, update]
    key: { external_id__c: id }
    columns: { sfid: salesforce_id, personemail: email, firstname: first_name, lastname: last_name, phone: phone }
    filter: "external_id__c IS NOT NULL"
    on_delete: ignore
    on_filter_out: ignore
    conflict: { resolve: last_writer_wins, by: commit_time }
  - name: customers_to_contacts
    from: public.customers
    to: salesforce.contact
    key: { id: external_id__c }
    columns: { email: email, name: lastname }
    conflict: { resolve: last_writer_wins, by: commit_time }
  - name: contacts_to_customers
    from: salesforce.contact
    to: public.customers
    operations: [update]
    key: { external_id__c: id }
    columns: { email: email, lastname: name }
    filter: "external_id__c IS NOT NULL"
    on_delete: ignore
    on_filter_out: ignore
    conflict: { resolve: last_writer_wins, by: commit_time }
EOF
wb_run_until "$CFG" >/dev/null   # slot and publication
wb_psql <<'SQL'
INSERT INTO portal.users (email, first_name, last_name, phone)
SELECT 'user' || g || '@example.com', 'First' || g, 'Last' || g, '555-' || g FROM generate_series(1, 300) g;
INSERT INTO public.customers (email, name, created_at, updated_at)
SELECT 'cust' || g || '@example.com', 'Customer ' || g, now(), now() FROM generate_series(1, 300) g;
SQL
wb_run_until "$CFG"
sync_idle "$WB_WORK/seed_sync.json"
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM portal.users u JOIN salesforce.account a ON a.external_id__c = u.id::text
               WHERE u.salesforce_id = a.sfid")" 300 "seeded: 300 users linked to their accounts' sfids"
assert_eq "$(q "SELECT count(*) FROM salesforce.contact WHERE sfid IS NOT NULL")" 300 "seeded: 300 contacts synced"
q "TRUNCATE testlog.audit, salesforce._trigger_log" >/dev/null
# The commit order of everything from here on, as the server wrote it: a
# test_decoding slot of the test's own (dropped with the database).
ORDER_SLOT=${WB_SLOT}_order
WB_SLOTS+=("$ORDER_SLOT")
q "SELECT 1 FROM pg_create_logical_replication_slot('$ORDER_SLOT', 'test_decoding')" >/dev/null
L0=$(q "SELECT pg_current_wal_lsn()")
ACC0=$(q "SELECT max(id) FROM salesforce.account")
LOG0=$(wc -l <"$WB_LOG")
after_log() { tail -n +$((LOG0 + 1)) "$WB_LOG" >"$WB_WORK/after.log"; echo "$WB_WORK/after.log"; }

echo "-- the hammer: PHP and Rails, $((150 * SECS)) transactions each (~$SECS s), and Heroku Connect (sync + injected Salesforce edits)"
wb_start_bg "$CFG"
BG=$WB_BG_PID
sleep 1
declare -A OUT PIDS COUNT
# PHP and Rails run until each has committed its count (rate x SECS);
# Connect (sync and the injected edits, which wait for walbridge's row
# locks more than the apps do) runs until they are done.  CEIL is a
# duration that only a hung writer reaches.
CEIL=$((SECS * 5 + 60))
start_writer() {  # start_writer NAME CMD...
    local name=$1
    shift
    OUT[$name]=$WB_WORK/w.$name.json
    timeout -k 5 $((CEIL + 60)) "$@" --dsn "$DSN" >"${OUT[$name]}" 2>"${OUT[$name]}.err" &
    PIDS[$name]=$!
    wb_track_pid "${PIDS[$name]}"
}
T0=$SECONDS
COUNT[php]=$((150 * SECS)) COUNT[rails]=$((150 * SECS))
start_writer php "$PY" "$H/writers.py" php --max-txns "${COUNT[php]}" --duration "$CEIL" --rate 150 --hot 20 --seed 1
start_writer rails "$PY" "$H/writers.py" rails --max-txns "${COUNT[rails]}" --duration "$CEIL" --rate 150 --hot 20 --seed 2
HC_STOP=$WB_WORK/connect.stop
start_writer sync "$PY" "$H/hc_simulator.py" sync --stop-file "$HC_STOP" --duration "$CEIL" --seed 7 --batch 20
start_writer inj_account "$PY" "$H/hc_simulator.py" inject --table account --columns phone,personemail \
    --stop-file "$HC_STOP" --duration "$CEIL" --rate 60 --new-ratio 0.05 --hot 20 --seed 11
start_writer inj_contact "$PY" "$H/hc_simulator.py" inject --table contact --columns email \
    --stop-file "$HC_STOP" --duration "$CEIL" --rate 40 --new-ratio 0 --hot 20 --seed 12
# Halfway, walbridge is stopped and started again under the load (a
# deploy): nothing may be lost or applied twice across it.
sleep $((SECS / 2))
wb_bg_check_alive "$BG"
rc=0
wb_stop_bg "$BG" || rc=$?
assert_eq "$rc" 0 "walbridge stopped cleanly on SIGTERM in the middle of the hammer"
sleep 2
wb_start_bg "$CFG"
BG=$WB_BG_PID
for name in php rails sync inj_account inj_contact; do
    if [[ $name == sync ]]; then touch "$HC_STOP"; fi
    wait "${PIDS[$name]}" || { cat "${OUT[$name]}" "${OUT[$name]}.err" >&2; fail "writer $name failed"; }
    echo "$name: $(cat "${OUT[$name]}")"
done
HAMMER_S=$((SECONDS - T0))
wb_bg_check_alive "$BG"
rc=0
wb_stop_bg "$BG" || rc=$?
assert_eq "$rc" 0 "the background walbridge stopped cleanly on SIGTERM"

echo "-- quiescence"
T1=$SECONDS
ROUND=0
QUIET=0
SYNCED_Q=0
while :; do
    ROUND=$((ROUND + 1))
    ((ROUND <= 12)) || fail "not quiescent after 12 rounds"
    audit_before=$(q "SELECT count(*) FROM testlog.audit")
    sync_idle "$WB_WORK/q.$ROUND.json"
    synced=$(jv "$WB_WORK/q.$ROUND.json" synced)
    SYNCED_Q=$((SYNCED_Q + synced))
    wb_run_until "$CFG" >/dev/null
    written=$(stopsum 'rows written' "$WB_WORK/run.$WB_RUN_N.log")
    echo "round $ROUND: Connect synced $synced, walbridge wrote $written rows"
    if ((synced == 0 && written == 0)) &&
        [[ "$(q "SELECT count(*) FROM testlog.audit")" == "$audit_before" ]]; then
        QUIET=$((QUIET + 1))
        ((QUIET >= 2)) && break
    else
        QUIET=0
    fi
done
QUIESCE_S=$((SECONDS - T1))
ok "quiescent after $ROUND rounds ($QUIESCE_S s): two rounds in a row wrote nothing"

echo "-- a'. per pair and column, the last committed writer's value won"
# Commit LSNs from the test's test_decoding slot, per transaction.
q "CREATE TABLE testlog.commit_order AS
   SELECT xid::text::bigint AS xid, max(lsn) AS lsn
   FROM pg_logical_slot_get_changes('$ORDER_SLOT', NULL, NULL, 'skip-empty-xacts', '1')
   WHERE data LIKE 'COMMIT%' GROUP BY 1" >/dev/null
q "SELECT pg_drop_replication_slot('$ORDER_SLOT')" >/dev/null
# Every change of a mapped column by a writer (not walbridge), on either
# side of a pair, as (pair, key, column on the source side, value, commit
# LSN); the last of each (pair, key, column) by commit LSN is the one that
# must have won on both sides.
LAST_SQL="
WITH m(pair, stbl, ttbl, scol, tcol) AS (VALUES
   ('users', 'users', 'account', 'email', 'personemail'), ('users', 'users', 'account', 'first_name', 'firstname'),
   ('users', 'users', 'account', 'last_name', 'lastname'), ('users', 'users', 'account', 'phone', 'phone'),
   ('users', 'users', 'account', 'salesforce_id', 'sfid'),
   ('customers', 'customers', 'contact', 'email', 'email'), ('customers', 'customers', 'contact', 'name', 'lastname')),
w AS (
  SELECT m.pair, m.scol, m.tcol, a.tbl = m.stbl AS at_source, a.app, a.n, c.lsn,
         CASE WHEN a.tbl = m.stbl THEN a.new ->> 'id' ELSE a.new ->> 'external_id__c' END AS k,
         a.new ->> (CASE WHEN a.tbl = m.stbl THEN m.scol ELSE m.tcol END) AS v,
         a.old ->> (CASE WHEN a.tbl = m.stbl THEN m.scol ELSE m.tcol END) AS was
  FROM testlog.audit a
  JOIN m ON a.tbl IN (m.stbl, m.ttbl)
  LEFT JOIN testlog.commit_order c ON c.xid = a.txid
  WHERE a.app <> 'walbridge' AND a.op IN ('INSERT', 'UPDATE')),
ranked AS (
  SELECT w.*, row_number() OVER p AS rn,
         bool_or(at_source) OVER p AND bool_or(NOT at_source) OVER p AS contended
  FROM w WHERE k IS NOT NULL AND v IS DISTINCT FROM was
  WINDOW p AS (PARTITION BY pair, k, scol ORDER BY lsn DESC, n DESC
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
SELECT l.pair, l.k, l.scol, l.app AS last_writer, l.lsn, l.contended, l.v AS expected,
       coalesce(to_jsonb(u) ->> l.scol, to_jsonb(c) ->> l.scol) AS source_value,
       coalesce(to_jsonb(a) ->> l.tcol, to_jsonb(t) ->> l.tcol) AS target_value
FROM ranked l
LEFT JOIN portal.users u ON l.pair = 'users' AND u.id::text = l.k
LEFT JOIN salesforce.account a ON l.pair = 'users' AND a.external_id__c = l.k
LEFT JOIN public.customers c ON l.pair = 'customers' AND c.id::text = l.k
LEFT JOIN salesforce.contact t ON l.pair = 'customers' AND t.external_id__c = l.k
WHERE l.rn = 1"
assert_eq "$(q "SELECT count(*) FROM testlog.audit a WHERE app <> 'walbridge'
               AND NOT EXISTS (SELECT 1 FROM testlog.commit_order c WHERE c.xid = a.txid)")" 0 \
    "every writer change has its commit LSN (test_decoding)"
read -r NCOLS NCONT < <(q "SELECT count(*), count(*) FILTER (WHERE contended) FROM ($LAST_SQL) x" | tr '|' ' ')
echo "pair columns changed by the writers: $NCOLS, of which changed on both sides: $NCONT"
assert_ge "$NCONT" 10 "columns contended (changed by writers on both sides of a pair)"
LOST_SQL="SELECT * FROM ($LAST_SQL) x WHERE expected IS DISTINCT FROM source_value OR expected IS DISTINCT FROM target_value"
n=$(q "SELECT count(*) FROM ($LOST_SQL) d")
if [[ "$n" != 0 ]]; then
    wb_psql_table -c "$LOST_SQL ORDER BY pair, k, scol LIMIT 20" >&2
fi
assert_eq "$n" 0 "pair columns whose value is not the last committed writer's ($NCOLS checked, $NCONT contended)"

echo "-- a. every mapped pair is equal"
DIFF_USERS="SELECT u.id FROM portal.users u FULL JOIN
  (SELECT * FROM salesforce.account WHERE external_id__c IS NOT NULL) a ON a.external_id__c = u.id::text
  WHERE u.id IS NULL OR a.id IS NULL
     OR (u.email, u.first_name, u.last_name, u.phone, u.salesforce_id)
        IS DISTINCT FROM (a.personemail, a.firstname, a.lastname, a.phone, a.sfid)"
DIFF_CUST="SELECT c.id FROM public.customers c FULL JOIN
  (SELECT * FROM salesforce.contact WHERE external_id__c IS NOT NULL) t ON t.external_id__c = c.id::text
  WHERE c.id IS NULL OR t.id IS NULL OR (c.email, c.name) IS DISTINCT FROM (t.email, t.lastname)"
for pair in USERS CUST; do
    sql=DIFF_$pair
    n=$(q "SELECT count(*) FROM (${!sql}) d")
    if [[ "$n" != 0 ]]; then
        if [[ $pair == USERS ]]; then
            wb_psql_table -c "SELECT u.id, u.email, a.personemail, u.first_name, a.firstname, u.last_name, a.lastname,
                                     u.phone, a.phone, u.salesforce_id, a.sfid
                              FROM portal.users u FULL JOIN salesforce.account a ON a.external_id__c = u.id::text
                              WHERE u.id IN (${!sql}) ORDER BY 1 LIMIT 20" >&2
        else
            wb_psql_table -c "SELECT c.id, c.email, t.email, c.name, t.lastname FROM public.customers c
                              FULL JOIN salesforce.contact t ON t.external_id__c = c.id::text
                              WHERE c.id IN (${!sql}) ORDER BY 1 LIMIT 20" >&2
        fi
    fi
    if [[ "$n" != 0 ]]; then
        first=$(q "SELECT min(id) FROM (${!sql}) d")
        echo "who wrote row $first (testlog.audit, oldest first):" >&2
        wb_psql_table -c "SELECT n, tbl, op, id, txid, app, lastop FROM testlog.audit
                          WHERE (tbl IN ('users', 'customers') AND id = $first)
                             OR (tbl IN ('account', 'contact') AND id IN
                                 (SELECT id FROM salesforce.account WHERE external_id__c = '$first'
                                  UNION SELECT id FROM salesforce.contact WHERE external_id__c = '$first'))
                          ORDER BY n LIMIT 60" >&2
    fi
    assert_eq "$n" 0 "$pair: differing pairs"
done
USERS=$(q "SELECT count(*) FROM portal.users")
CUSTS=$(q "SELECT count(*) FROM public.customers")
assert_eq "$(q "SELECT count(*) FROM portal.users WHERE salesforce_id IS NULL")" 0 \
    "all $USERS users linked to their account's sfid"
ok "$USERS users = their accounts, $CUSTS customers = their contacts"

echo "-- b. bounded: walbridge's row writes against the writers' row changes"
WRITER_ROWS=0
for name in php rails; do WRITER_ROWS=$((WRITER_ROWS + $(jv "${OUT[$name]}" rows_changed))); done
INJ_ROWS=$(($(jv "${OUT[inj_account]}" injected_updates) + $(jv "${OUT[inj_account]}" injected_inserts) +
            $(jv "${OUT[inj_contact]}" injected_updates)))
# Connect's write-backs change a mapped column once per new account (the
# sfid, mapped to portal.users.salesforce_id); systemmodstamp is unmapped.
SFIDS=$(q "SELECT count(*) FROM salesforce.account WHERE id > $ACC0 AND external_id__c IS NOT NULL")
WRITER_TOTAL=$((WRITER_ROWS + INJ_ROWS + SFIDS))
WB_ROWS=$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge'")
AFTER=$(after_log)
WB_STOP_ROWS=$(stopsum 'rows written' "$AFTER")
RATIO=$("$PY" -c "print(round($WB_ROWS / $WRITER_TOTAL, 3))")
CONFLICTS=$(stopsum conflicts "$AFTER")
LOGGED_CONFLICTS=$(grep -c 'LOG:  conflict on' "$AFTER" || true)
echo "writer row changes: php+rails $WRITER_ROWS, Salesforce edits $INJ_ROWS, Connect write-backs $SFIDS = $WRITER_TOTAL"
echo "walbridge row writes: $WB_ROWS audited ($WB_STOP_ROWS by its stop lines); ratio $RATIO"
assert_eq "$WB_STOP_ROWS" "$WB_ROWS" "walbridge's 'rows written' equals the audited row versions"
"$PY" -c "import sys; sys.exit(0 if $WB_ROWS <= $WRITER_TOTAL else 1)" ||
    fail "walbridge wrote more rows ($WB_ROWS) than the writers changed ($WRITER_TOTAL): ping-pong"
ok "ratio of walbridge's row writes to writer row changes: $RATIO (<= 1)"
assert_ge "$CONFLICTS" 1 "conflicts were met and settled (the hot sets overlap)"
# A batch rolled back (a deadlock with Connect's sync) is applied again, and
# its conflicts are logged again; the counter counts committed ones.
assert_ge "$LOGGED_CONFLICTS" "$CONFLICTS" "every counted conflict was logged"

echo "-- c. every walbridge write into salesforce.* was queued for Salesforce"
SF_WRITES=$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl IN ('account', 'contact')")
assert_ge "$SF_WRITES" 100 "walbridge wrote into salesforce.* during the run"
assert_eq "$(q "SELECT count(*) FROM (
                  SELECT a.txid, a.tbl, a.id, a.op, count(*) AS n FROM testlog.audit a
                  WHERE a.app = 'walbridge' AND a.tbl IN ('account', 'contact') GROUP BY 1, 2, 3, 4) w
               WHERE n <> (SELECT count(*) FROM salesforce._trigger_log l
                           WHERE l.txid = w.txid AND l.table_name = w.tbl AND l.record_id = w.id
                             AND l.action = w.op)")" 0 \
    "each of the $SF_WRITES writes has its own _trigger_log row (same transaction, table, record, action)"
assert_eq "$(q "SELECT count(*) FROM testlog.audit WHERE app = 'walbridge' AND tbl IN ('account', 'contact')
               AND lastop IS DISTINCT FROM 'PENDING'")" 0 "... and left the row PENDING"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE state NOT IN ('NEW', 'SUCCESS')")" 0 \
    "log rows are NEW (created so by the trigger) or SUCCESS (synced since)"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log l WHERE l.txid IN
               (SELECT txid FROM testlog.audit WHERE app LIKE 'hc\_simulator%')")" 0 \
    "no log row for Connect's own writes"

echo "-- d. every writer committed its count (rates for information only)"
for name in php rails; do
    assert_ge "$(jv "${OUT[$name]}" txns)" "${COUNT[$name]}" "$name committed its ${COUNT[$name]} transactions"
done
for name in sync inj_account inj_contact; do
    assert_ge "$(jv "${OUT[$name]}" txns)" 1 "Connect's $name committed transactions during the hammer"
done
TPS=0
for name in php rails sync inj_account inj_contact; do
    TPS=$("$PY" -c "print(round($TPS + $(jv "${OUT[$name]}" tps), 1))")
done

LAG=$(q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$L0')")
echo "SUMMARY: ${HAMMER_S}s hammer; writers $TPS tps" \
     "(php $(jv "${OUT[php]}" tps), rails $(jv "${OUT[rails]}" tps), sync $(jv "${OUT[sync]}" tps)," \
     "inject $(jv "${OUT[inj_account]}" tps)+$(jv "${OUT[inj_contact]}" tps));" \
     "writer row changes $WRITER_TOTAL, walbridge row writes $WB_ROWS, ratio $RATIO;" \
     "conflicts $CONFLICTS; quiescent in $ROUND rounds / ${QUIESCE_S}s (Connect synced $SYNCED_Q more);" \
     "WAL $LAG bytes; $USERS user pairs and $CUSTS customer pairs equal"
