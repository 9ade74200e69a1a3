#!/usr/bin/env bash
# test_links: a child whose parent is not linked yet is retried, not dropped.
#
# portal.orders -> salesforce.order__c looks the account's sfid up
# (account__c).  Orders written before Heroku Connect (the simulator) has
# given their account an sfid get account__c NULL and a pending link
# (walbridge.pending_link, in the same target transaction).  When the sfids
# arrive (a change of salesforce.account reaching walbridge), the links
# are resolved: every order gets its account's sfid, no order is written
# twice or duplicated, the link writes are queued for Salesforce like any
# walbridge write (NEW _trigger_log rows), and nothing stays pending.
# Also: an order whose account is linked already gets its sfid at once
# (nothing pending); an order moved to another, not yet linked, account
# replaces its pending link; a link is never applied over a value written
# later; and pending links survive a restart.
source "$(dirname "$0")/lib.sh"

wb_need_python
SIM_DSN="host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
sim_sync() {
    timeout -k 5 120 "$PY" "$WB_SOURCE_DIR/tests/harness/hc_simulator.py" sync --until-idle \
        --idle 0.3 --duration 60 --seed 5 --dsn "$SIM_DSN" >"$WB_WORK/sim.json" 2>"$WB_WORK/sim.err" ||
        { cat "$WB_WORK/sim.json" "$WB_WORK/sim.err" >&2; fail "hc_simulator.py sync failed"; }
    echo "hc_simulator sync: $(cat "$WB_WORK/sim.json")"
}
q() { wb_psql -c "$1"; }
stopv() { grep 'stopped at' "$WB_WORK/run.$WB_RUN_N.log" | tail -n 1 | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
pending() { q "SELECT count(*) FROM walbridge.pending_link"; }

wb_psql -f "$WB_SOURCE_DIR/tests/harness/heroku_connect.sql"
CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
cat >>"$CFG" <<'EOF'
  - name: orders_to_order__c
    from: portal.orders
    to: salesforce.order__c
    key: { id: external_id__c }
    columns: { total: amount__c }
    values:
      account__c:
        lookup: { table: salesforce.account, match: external_id__c, column: sfid }
        from: user_id
EOF
wb_run_until "$CFG"   # slot, publication, pending table

echo "-- orders of accounts Connect has not synced yet"
wb_psql <<'SQL'
INSERT INTO portal.users (email, first_name, last_name)
SELECT 'u' || g || '@example.com', 'F' || g, 'L' || g FROM generate_series(1, 20) g;
INSERT INTO portal.orders (user_id, total) SELECT 1 + (g % 20), g FROM generate_series(1, 60) g;
SQL
wb_run_until "$CFG"
assert_eq "$(q "SELECT count(*) FROM salesforce.order__c WHERE account__c IS NULL")" 60 \
    "60 orders written, account__c NULL (no sfid yet)"
assert_eq "$(pending)" 60 "60 pending links"
assert_eq "$(stopv 'links pending')" 60 "the stop line counts 60 links noted"
wb_exec "$WB_WORK/status.out" 30 status -c "$CFG" || fail "walbridge status failed"
assert_contains "$WB_WORK/status.out.stdout" "pending key links:    60 (oldest"
wb_exec "$WB_WORK/status.json" 30 status -c "$CFG" --json || fail "walbridge status --json failed"
assert_contains "$WB_WORK/status.json.stdout" '"pending_links":60,'
assert_eq "$(q "SELECT count(*) FROM walbridge.pending_link p JOIN portal.orders o ON p.key_values = ARRAY[o.id::text]
               WHERE p.match_value = o.user_id::text AND p.mapping = 'orders_to_order__c'
                 AND p.target_table = 'order__c' AND p.target_column = 'account__c'")" 60 \
    "each pending link names its order, column and account"

echo "-- pending links survive a restart; a new account for order 1 replaces its link"
q "INSERT INTO portal.users (id, email) VALUES (1000, 'late@example.com')" >/dev/null
q "UPDATE portal.orders SET user_id = 1000 WHERE id = 1" >/dev/null
wb_run_until "$CFG"
assert_eq "$(pending)" 60 "still 60 pending (one replaced)"
assert_eq "$(q "SELECT match_value FROM walbridge.pending_link WHERE key_values = ARRAY['1']")" 1000 \
    "order 1's link now waits for account 1000"

echo "-- Connect assigns the sfids: the links are resolved"
sim_sync
q "TRUNCATE salesforce._trigger_log" >/dev/null
wb_run_until "$CFG"
assert_eq "$(stopv 'linked later')" 60 "60 orders linked once their accounts had sfids"
assert_eq "$(pending)" 0 "nothing pending"
assert_eq "$(q "SELECT count(*) FROM salesforce.order__c o JOIN portal.orders po ON o.external_id__c = po.id::text
               JOIN salesforce.account a ON a.external_id__c = po.user_id::text
               WHERE o.account__c = a.sfid")" 60 "every order carries its account's sfid"
assert_eq "$(q "SELECT count(*) FROM salesforce.order__c")" 60 "no duplicate orders"
assert_eq "$(q "SELECT count(*) FROM salesforce._trigger_log WHERE table_name = 'order__c' AND action = 'UPDATE'
               AND state = 'NEW' AND (\"values\"::jsonb) ? 'account__c'")" 60 \
    "60 NEW UPDATE log rows for order__c carry account__c (queued for Salesforce)"

echo "-- an order of a linked account gets the sfid at once"
q "INSERT INTO portal.orders (user_id, total) VALUES (2, 5)" >/dev/null
wb_run_until "$CFG"
assert_eq "$(stopv 'links pending')" 0 "no link noted"
assert_eq "$(q "SELECT (o.account__c = a.sfid)::text FROM salesforce.order__c o, salesforce.account a
               WHERE o.external_id__c = '61' AND a.external_id__c = '2'")" true "order 61 linked when written"

echo "-- moving an order to a linked account forgets its pending link"
q "INSERT INTO portal.users (id, email) VALUES (1001, 'later@example.com')" >/dev/null
q "INSERT INTO portal.orders (id, user_id, total) VALUES (500, 1001, 7)" >/dev/null
wb_run_until "$CFG"
assert_eq "$(pending)" 1 "order 500 waits for account 1001"
q "UPDATE portal.orders SET user_id = 2 WHERE id = 500" >/dev/null
wb_run_until "$CFG"
assert_eq "$(pending)" 0 "moving order 500 to a linked account forgot its pending link"

echo "-- a link never overwrites a value written later"
q "INSERT INTO portal.users (id, email) VALUES (1002, 'later2@example.com')" >/dev/null
q "INSERT INTO portal.orders (id, user_id, total) VALUES (501, 1002, 8)" >/dev/null
wb_run_until "$CFG"
assert_eq "$(pending)" 1 "order 501 waits for account 1002"
# Someone else (a sales rep, in Salesforce) sets the order's account meanwhile.
q "UPDATE salesforce.order__c SET account__c = '001MANUAL000000AAA' WHERE external_id__c = '501'" >/dev/null
sim_sync
wb_run_until "$CFG"
assert_eq "$(pending)" 0 "the link was resolved once account 1002 got its sfid"
assert_eq "$(q "SELECT account__c FROM salesforce.order__c WHERE external_id__c = '501'")" 001MANUAL000000AAA \
    "and did not overwrite the value written in the meantime"
