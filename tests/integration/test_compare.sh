#!/usr/bin/env bash
# test_compare: `walbridge compare` reports what a mapping's target lacks,
# has too many of, or holds differently from what the mapping produces from
# its source, and tells drift from changes still on their way.
#   a. after the initial copy: no differences, exit 0 (text and --json);
#   b. planted drift (3 target rows deleted, 2 rows added with a key, one
#      without a key as Salesforce would create, 4 rows changed, one of
#      them in two columns) while walbridge streams: exactly 3 missing, 2
#      extra, 4 different, persistent, the first keys with the columns
#      that differ, exit 7; `resync --dry-run` prints the same;
#   c. walbridge stopped with SIGSTOP (the slot stays active, nothing is
#      applied) and 5 source rows changed: compare cannot confirm anything
#      (everything reported in flight, exit 0, it says walbridge did not
#      catch up); after SIGCONT the 5 are applied and only the planted
#      drift is left (which also needs walbridge to store its position
#      when compare's message arrives: --wait 15 is shorter than the
#      lazy store's minute);
#   d. with a writer updating, inserting and deleting other rows all the
#      time: still exactly the planted drift as persistent;
#   f. `walbridge resync` repairs missing and different rows: compare then
#      reports only the extra rows (the re-sync deletes nothing);
#      `resync --delete-extra` deletes those two and not the row without a
#      key; with walbridge stopped, one pass then finds nothing;
#   e. a mapping with a lookup, a target-side date cast, a value map and a
#      column owned by the target: compared as the applier writes them;
#   g. usage errors.
#   h. (buckets variant) a target in a database of its own: planted drift
#      found by per-bucket sums; a target column of a type the source's
#      database lacks: every row staged through walbridge's router instead.
#   Run twice (tests/CMakeLists.txt): as is, the default mapping's projection
#   is worked out by one SQL statement over the source table (same
#   database, columns only); WB_TEST_VARIANT=buckets names the target by a
#   connection string of its own, as for another database: both sides are
#   summed up per bucket of keys and only the buckets that differ are
#   staged and joined.  The mapping of e. (values) is staged through
#   walbridge's router in both.
source "$(dirname "$0")/lib.sh"

PROJECTION=sql
[[ ${WB_TEST_VARIANT:-} == buckets ]] && PROJECTION=buckets
# write_config FILE [SLOT]: lib.sh's configuration; in the buckets variant
# the target's connection string is spelled out.
write_config() {
    wb_write_config "$@"
    if [[ $PROJECTION == buckets ]]; then
        sed -i "s|^  conninfo: \"\"\$|  conninfo: \"host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB application_name=wbt_buckets\"|" "$1"
        grep -q application_name=wbt_buckets "$1" || fail "the buckets variant's target conninfo was not set"
    fi
}

q() { wb_psql -c "$1"; }

echo "-- set-up: 2000 users"
wb_setup_change_audit
wb_psql <<'SQL'
INSERT INTO portal.users (email, first_name, last_name, phone, status)
SELECT 'user' || g || '@example.com', 'First' || g, 'Last' || g,
       nextval('testlog.seq')::text, 'active'
FROM generate_series(1, 2000) g;
SQL
CFG=$WB_WORK/walbridge.yaml
write_config "$CFG"
wb_run_until "$CFG"
wb_assert_synced "after the initial copy"

# compare_json OUT ARGS...: walbridge compare --json; sets CRC.
compare_run() {
    local out=$1
    shift
    CRC=0
    wb_exec "$out" 120 compare -c "$CFG" "$@" || CRC=$?
}
counts() { # persistent or in_flight counts of the first mapping: m/e/d
    jq -r ".mappings[0].$2 | \"\(.missing)/\(.extra)/\(.different)\"" "$1.stdout"
}

echo "-- a. no differences after the copy"
compare_run "$WB_WORK/a"
assert_eq "$CRC" 0 "compare exits 0"
assert_contains "$WB_WORK/a.stdout" "mapping users_to_accounts -> salesforce.account: 2000 source rows; no differences" \
    "compare says so"
compare_run "$WB_WORK/a2" --json
assert_eq "$CRC" 0 "compare --json exits 0"
assert_eq "$(jq -r '.mappings[0].source_rows, .persistent, .mappings[0].passes, .mappings[0].projection' "$WB_WORK/a2.stdout" | tr '\n' ' ')" \
    "2000 0 1 $PROJECTION " "--json: 2000 source rows, nothing persistent, one pass, projection by $PROJECTION"

echo "-- b. planted drift, walbridge streaming"
wb_start_bg "$CFG"
RUN_PID=$WB_BG_PID
wb_wait_sql 30 "SELECT active FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t "walbridge streams"
ID0=$(q "SELECT min(id) FROM portal.users")
wb_psql <<SQL
DELETE FROM salesforce.account WHERE external_id__c IN ('$((ID0 + 10))', '$((ID0 + 11))', '$((ID0 + 1500))');
INSERT INTO salesforce.account (external_id__c, personemail, firstname, lastname)
  VALUES ('900001', 'ghost1@example.com', 'G', 'G'), ('900002', 'ghost2@example.com', 'G', 'G');
INSERT INTO salesforce.account (personemail, firstname, lastname)
  VALUES ('salesforce-own@example.com', 'S', 'S');
UPDATE salesforce.account SET personemail = 'drift@example.com'
  WHERE external_id__c IN ('$((ID0 + 20))', '$((ID0 + 21))', '$((ID0 + 22))');
UPDATE salesforce.account SET personemail = 'drift2@example.com', phone = NULL
  WHERE external_id__c = '$((ID0 + 23))';
SQL
compare_run "$WB_WORK/b" --json
assert_eq "$CRC" 7 "compare exits 7 on persistent differences"
assert_eq "$(counts "$WB_WORK/b" persistent)" "3/2/4" "persistent: 3 missing, 2 extra, 4 different"
assert_eq "$(counts "$WB_WORK/b" in_flight)" "0/0/0" "nothing in flight"
assert_eq "$(jq -r '.caught_up, .streaming, .mappings[0].passes' "$WB_WORK/b.stdout" | tr '\n' ' ')" \
    "true true 2 " "walbridge caught up with both passes"
assert_eq "$(jq -c '[.mappings[0].keys[] | select(.kind == "different") | [.key, .columns]]' "$WB_WORK/b.stdout")" \
    "[[\"(external_id__c)=($((ID0 + 20)))\",[\"personemail\"]],[\"(external_id__c)=($((ID0 + 21)))\",[\"personemail\"]],[\"(external_id__c)=($((ID0 + 22)))\",[\"personemail\"]],[\"(external_id__c)=($((ID0 + 23)))\",[\"personemail\",\"phone\"]]]" \
    "the different keys, in key order, with the columns that differ"
assert_eq "$(jq -c '[.mappings[0].keys[] | select(.kind != "different") | [.kind, .key]]' "$WB_WORK/b.stdout")" \
    "[[\"missing\",\"(external_id__c)=($((ID0 + 10)))\"],[\"missing\",\"(external_id__c)=($((ID0 + 11)))\"],[\"missing\",\"(external_id__c)=($((ID0 + 1500)))\"],[\"extra\",\"(external_id__c)=(900001)\"],[\"extra\",\"(external_id__c)=(900002)\"]]" \
    "the missing and extra keys (the row without a key is not counted)"
compare_run "$WB_WORK/b2"
assert_eq "$CRC" 7 "text: exits 7"
assert_contains "$WB_WORK/b2.stdout" "2000 source rows; 3 missing, 2 extra, 4 different" "text: the counts"
assert_contains "$WB_WORK/b2.stdout" "  different (external_id__c)=($((ID0 + 23))): personemail, phone" "text: a key and its columns"
rc=0
wb_exec "$WB_WORK/b3" 120 resync -c "$CFG" --mapping users_to_accounts --dry-run --json || rc=$?
assert_eq "$rc" 7 "resync --dry-run exits 7"
assert_eq "$(counts "$WB_WORK/b3" persistent)" "3/2/4" "resync --dry-run reports the same"
assert_eq "$(q "SELECT state FROM walbridge.sync_state WHERE mapping = 'users_to_accounts'")" "done" \
    "and requests no re-sync"

echo "-- c. walbridge stopped (SIGSTOP): nothing can be confirmed"
kill -STOP "$RUN_PID"
q "UPDATE portal.users SET first_name = 'Changed' WHERE id BETWEEN $ID0 + 100 AND $ID0 + 104" >/dev/null
compare_run "$WB_WORK/c" --json --wait 2
C2RC=0
wb_exec "$WB_WORK/c2" 120 compare -c "$CFG" --wait 1 || C2RC=$?
kill -CONT "$RUN_PID"
assert_eq "$CRC" 0 "compare exits 0: no difference is confirmed"
assert_eq "$(counts "$WB_WORK/c" persistent)" "0/0/0" "nothing persistent"
assert_eq "$(counts "$WB_WORK/c" in_flight)" "3/2/9" "in flight: the planted drift and the 5 changes not applied"
assert_eq "$(jq -r '.caught_up, .streaming' "$WB_WORK/c.stdout" | tr '\n' ' ')" "false true " \
    "walbridge streams the slot but did not catch up"
assert_eq "$C2RC" 0 "text: exit 0"
assert_contains "$WB_WORK/c2.stdout" "walbridge did not catch up in time" "text: says why"
compare_run "$WB_WORK/c3" --json --wait 15
assert_eq "$CRC" 7 "after SIGCONT: exit 7"
assert_eq "$(counts "$WB_WORK/c3" persistent)" "3/2/4" "only the planted drift is left"
assert_eq "$(jq -r '.caught_up' "$WB_WORK/c3.stdout")" "true" "walbridge stored a position past compare's message"

echo "-- d. a writer changes other rows all the time"
wb_users_writer "$WB_WORK/writer" "$ID0 + 1600" update@70 insert@20 delete@10
wb_wait_sql 30 "SELECT count(*) > 100 FROM testlog.source_log" t "the writer is writing"
compare_run "$WB_WORK/d" --json
assert_eq "$CRC" 7 "compare exits 7"
assert_eq "$(counts "$WB_WORK/d" persistent)" "3/2/4" "persistent: exactly the planted drift"
wb_users_writer_stop

echo "-- f. resync repairs what is missing or different, and deletes nothing"
rc=0
wb_exec "$WB_WORK/f" 120 resync -c "$CFG" --mapping users_to_accounts || rc=$?
assert_eq "$rc" 0 "resync exits 0"
compare_run "$WB_WORK/f2" --json
assert_eq "$CRC" 7 "compare exits 7"
assert_eq "$(counts "$WB_WORK/f2" persistent)" "0/2/0" "only the 2 extra rows are left"
rc=0
wb_exec "$WB_WORK/f3" 120 resync -c "$CFG" --mapping users_to_accounts --delete-extra --json || rc=$?
assert_eq "$rc" 0 "resync --delete-extra exits 0"
assert_eq "$(jq -r '.mappings[0].deleted' "$WB_WORK/f3.stdout")" 2 "it deleted the 2 extra rows"
assert_eq "$(q "SELECT count(*) FROM salesforce.account WHERE external_id__c IN ('900001', '900002')")" 0 \
    "they are gone"
assert_eq "$(q "SELECT count(*) FROM salesforce.account WHERE external_id__c IS NULL")" 1 \
    "the row without a key (Salesforce's own) is still there"
wb_stop_bg "$RUN_PID"
compare_run "$WB_WORK/f3" --json
assert_eq "$CRC" 0 "walbridge stopped, nothing differs: exit 0"
assert_eq "$(jq -r '.persistent, .mappings[0].passes' "$WB_WORK/f3.stdout" | tr '\n' ' ')" "0 1 " "clean in one pass"

echo "-- e. lookup, target-side date cast, value map, target-owned column"
wb_psql <<SQL
ALTER TABLE portal.orders REPLICA IDENTITY FULL;
UPDATE salesforce.account SET sfid = 'SF' || external_id__c;
INSERT INTO portal.orders (user_id, total, status, created_at)
SELECT $ID0 + g % 50, g * 1.25, (ARRAY['N', 'P', 'S', 'C'])[1 + g % 4],
       timestamp '2024-01-01 10:30' + g * interval '7 hours'
FROM generate_series(1, 300) g;
SQL
CFG=$WB_WORK/e.yaml
write_config "$CFG" "${WB_SLOT}_e"
cat >>"$CFG" <<'EOF'
    enabled: false
  - name: orders_to_order__c
    from: portal.orders
    to: salesforce.order__c
    key: { id: external_id__c }
    columns: { total: amount__c }
    values:
      name: { concat: [{ const: PO- }, id] }
      status__c:
        map: status
        values: { "N": New, "P": Paid, "S": Shipped, "C": Cancelled }
      order_date__c: { cast: created_at, to: date }
      account__c:
        lookup: { table: salesforce.account, match: external_id__c, column: sfid }
        from: user_id
    conflict:
      owners:
        target: [status__c]
EOF
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM salesforce.order__c WHERE account__c LIKE 'SF%' AND order_date__c IS NOT NULL")" 300 \
    "300 orders copied, with the account looked up and the date cast"
compare_run "$WB_WORK/e1" --json
assert_eq "$CRC" 0 "compare exits 0"
assert_eq "$(jq -r '.mappings[0].source_rows, .persistent' "$WB_WORK/e1.stdout" | tr '\n' ' ')" "300 0 " \
    "lookups, casts and maps compare equal to what the applier wrote"
OID=$(q "SELECT min(id) FROM portal.orders")
wb_psql <<SQL
UPDATE salesforce.order__c SET account__c = 'SFnobody' WHERE external_id__c = '$((OID + 1))';
UPDATE salesforce.order__c SET order_date__c = order_date__c + 1 WHERE external_id__c = '$((OID + 2))';
UPDATE salesforce.order__c SET status__c = 'Salesforce says' WHERE external_id__c = '$((OID + 3))';
SQL
compare_run "$WB_WORK/e2" --json
assert_eq "$CRC" 7 "compare exits 7"
assert_eq "$(jq -c '[.mappings[0].keys[] | [.kind, .key, .columns]]' "$WB_WORK/e2.stdout")" \
    "[[\"different\",\"(external_id__c)=($((OID + 1)))\",[\"account__c\"]],[\"different\",\"(external_id__c)=($((OID + 2)))\",[\"order_date__c\"]]]" \
    "the looked-up and the cast column differ; the target-owned status__c is not compared"

echo "-- g. usage"
rc=0
wb_exec "$WB_WORK/g1" 30 compare -c "$CFG" --mapping nosuch || rc=$?
assert_eq "$rc" 3 "an unknown mapping is a configuration error (exit 3)"
assert_contains "$WB_WORK/g1" 'no enabled mapping "nosuch"' "and says so"
rc=0
wb_exec "$WB_WORK/g2" 30 resync -c "$CFG" --mapping orders_to_order__c --dry-run --no-wait || rc=$?
assert_eq "$rc" 2 "resync --dry-run --no-wait is a usage error"
rc=0
wb_exec "$WB_WORK/g3" 30 resync -c "$CFG" --mapping orders_to_order__c --delete-extra --no-wait || rc=$?
assert_eq "$rc" 2 "resync --delete-extra --no-wait is a usage error"


if [[ $PROJECTION == buckets ]]; then
    echo "-- h. a target in a database of its own"
    FAR=${WB_DB}_far
    wb_check_ident "$FAR"
    farq() { PGOPTIONS="-c client_min_messages=warning" psql -X -v ON_ERROR_STOP=1 -qAt -d "$FAR" "$@"; }
    wb_psql_admin -c "DROP DATABASE IF EXISTS $FAR" -c "CREATE DATABASE $FAR" >/dev/null
    MOODS=$(q "SELECT string_agg(DISTINCT quote_literal(status), ', ') FROM portal.users")
    farq -c "CREATE SCHEMA far;
             CREATE TYPE far.mood AS ENUM ($MOODS);
             CREATE TABLE far.acc (external_id__c text PRIMARY KEY, personemail text,
                                   lastname character varying(80));
             CREATE TABLE far.moody (external_id__c text PRIMARY KEY, personemail text,
                                     status far.mood)"
    wb_psql -c "COPY (SELECT id, email, last_name FROM portal.users) TO STDOUT" | farq -c "COPY far.acc FROM STDIN"
    wb_psql -c "COPY (SELECT id, email, status FROM portal.users) TO STDOUT" | farq -c "COPY far.moody FROM STDIN"
    NUSERS=$(q "SELECT count(*) FROM portal.users")
    FARCFG=$WB_WORK/far.yaml
    sed -n '/^source:/,/^target:/p' "$CFG" >"$FARCFG"
    cat >>"$FARCFG" <<YAML
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$FAR"
mappings:
  - name: far_acc
    from: portal.users
    to: far.acc
    key: { id: external_id__c }
    columns: { email: personemail, last_name: lastname }
  - name: far_moody
    from: portal.users
    to: far.moody
    key: { id: external_id__c }
    columns: { email: personemail, status: status }
YAML
    # Nothing of portal.users left in the slot: the re-check is not held
    # back by changes on their way.
    wb_run_until "$CFG"
    FIRST=$(q "SELECT min(id) FROM portal.users")
    farq -c "DELETE FROM far.acc WHERE external_id__c = '$FIRST';
             UPDATE far.acc SET lastname = 'drift' WHERE external_id__c IN ('$((FIRST + 1))', '$((FIRST + 2))');
             INSERT INTO far.acc VALUES ('far-only', 'x@example.com', 'x')"
    CFG_SAVED=$CFG
    CFG=$FARCFG
    compare_run "$WB_WORK/h1" --mapping far_acc --json
    assert_eq "$CRC" 7 "across databases: compare exits 7"
    assert_eq "$(jq -r '.mappings[0] | [.projection, .source_rows] | join(" ")' "$WB_WORK/h1.stdout")" \
        "buckets $NUSERS" "the sums per bucket were compared, every source row counted"
    assert_eq "$(counts "$WB_WORK/h1" persistent)" "1/1/2" "the planted drift: 1 missing, 1 extra, 2 different"
    assert_eq "$(jq -c '[.mappings[0].keys[] | select(.kind == "different") | .columns] | unique' "$WB_WORK/h1.stdout")" \
        '[["lastname"]]' "the different rows name the column"
    compare_run "$WB_WORK/h2" --mapping far_moody --json
    assert_eq "$CRC" 0 "a column of a type only the target's database has: compare exits 0"
    assert_eq "$(jq -r '.mappings[0] | [.projection, .source_rows] | join(" ")' "$WB_WORK/h2.stdout")" \
        "stage $NUSERS" "every row went through walbridge instead"
    assert_contains "$WB_WORK/h2" "the source's database cannot work out the projection" "and it said why"
    CFG=$CFG_SAVED
    wb_psql_admin -c "DROP DATABASE $FAR" >/dev/null
fi
