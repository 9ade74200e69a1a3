#!/usr/bin/env bash
# test_mapping_language: the declarative mapping language end to end against
# a real server: computed values (concat, trim, lower, cast, value map), a
# lookup that translates a key through another table (an order's user_id
# becomes that account's sfid), a row filter (rows leaving it on update are
# deleted, rows entering it are inserted), soft deletes, insert/update-only
# mappings, and skip_unchanged (an update that changes no mapped value
# writes no row version).
source "$(dirname "$0")/lib.sh"

wb_psql <<'SQL'
CREATE TABLE portal.lang_orders (
    id      integer PRIMARY KEY,
    user_id integer NOT NULL,
    total   numeric(12, 2),
    status  char(1)
);
CREATE TABLE salesforce.lang_order__c (
    id             serial PRIMARY KEY,
    external_id__c varchar(255) UNIQUE,
    account__c     varchar(18),
    amount__c      numeric,
    status__c      varchar(20)
);
SQL

CFG=$WB_WORK/walbridge.yaml
# The language's mappings instead of the default one.
wb_config_mappings "$CFG" <<'EOF'
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { phone: phone }
    values:
      name: { concat: [{ trim: first_name }, { trim: last_name }], sep: " " }
      firstname: { trim: first_name }
      personemail: { lower: { trim: email } }
    filter: "status <> 'banned'"
    on_delete: { soft: { isdeleted: true } }
    on_filter_out: delete
    skip_unchanged: true
  - name: orders
    from: portal.lang_orders
    to: salesforce.lang_order__c
    operations: [insert, update]
    key: { id: external_id__c }
    values:
      account__c:
        lookup: { table: salesforce.account, match: external_id__c, column: sfid }
        from: user_id
      amount__c: { cast: total, to: numeric }
      status__c: { map: status, values: { N: New, P: Paid, S: Shipped }, else: { const: Other } }
EOF

acct() { wb_psql -c "SELECT $2 FROM salesforce.account WHERE external_id__c = '$1'"; }
order() { wb_psql -c "SELECT $2 FROM salesforce.lang_order__c WHERE external_id__c = '$1'"; }

wb_run_until "$CFG"

echo "-- computed values; a row outside the filter is not copied"
wb_psql <<'SQL'
INSERT INTO portal.users (id, email, first_name, last_name, phone, status) VALUES
  (1, '  Ada@Example.COM ', ' Ada ', 'Lovelace', '1', 'active'),
  (2, 'bob@example.com', 'Bob', 'Banned', '2', 'banned');
SQL
wb_run_until "$CFG"
assert_eq "$(acct 1 "name || '|' || firstname || '|' || personemail || '|' || phone")" \
    "Ada Lovelace|Ada|ada@example.com|1" "account 1: concat, trim, lower(trim()) and a plain column"
assert_eq "$(acct 2 "count(*)")" 0 "account 2 (status banned) is filtered out"

echo "-- a lookup translates user_id into the account's sfid; value map and cast"
wb_psql -c "UPDATE salesforce.account SET sfid = '001A000000000001' WHERE external_id__c = '1'"
wb_psql <<'SQL'
INSERT INTO portal.lang_orders VALUES (10, 1, 12.50, 'P'), (11, 2, 7, 'X'), (12, 1, NULL, NULL);
SQL
wb_run_until "$CFG"
assert_eq "$(order 10 "account__c || '|' || amount__c || '|' || status__c")" \
    "001A000000000001|12.50|Paid" "order 10: account__c is account 1's sfid, amount cast, status mapped"
assert_eq "$(order 11 "coalesce(account__c, '(null)') || '|' || status__c")" "(null)|Other" \
    "order 11: no linked account yet gives NULL; an unmapped status takes else"
assert_eq "$(order 12 "(amount__c IS NULL)::text || '|' || (status__c IS NULL)::text")" "true|true" \
    "order 12: NULL stays NULL through cast and map"

echo "-- skip_unchanged: an update that changes no mapped value writes nothing"
before=$(acct 1 "xmin::text || ctid::text")
wb_psql -c "UPDATE portal.users SET updated_at = now() + interval '1 day', email = 'ADA@example.com' WHERE id = 1"
wb_run_until "$CFG"
assert_eq "$(acct 1 "xmin::text || ctid::text")" "$before" \
    "account 1 has the same row version (lower(email) and the other values did not change)"
wb_psql -c "UPDATE portal.users SET phone = '11' WHERE id = 1"
wb_run_until "$CFG"
assert_eq "$(acct 1 "phone")" 11 "a real change is still applied"
[[ "$(acct 1 "xmin::text || ctid::text")" != "$before" ]] || fail "the real change wrote no new row version"
ok "a real change writes a new row version"

echo "-- leaving and entering the filter on update"
wb_psql <<'SQL'
UPDATE portal.users SET status = 'banned' WHERE id = 1;
UPDATE portal.users SET status = 'active' WHERE id = 2;
SQL
wb_run_until "$CFG"
assert_eq "$(acct 1 "count(*)")" 0 "account 1 deleted when its user left the filter (on_filter_out: delete)"
assert_eq "$(acct 2 "name || '|' || personemail")" "Bob Banned|bob@example.com" \
    "account 2 inserted when its user entered the filter"

echo "-- soft delete; an update-only order mapping ignores deletes"
wb_psql <<'SQL'
DELETE FROM portal.users WHERE id = 2;
DELETE FROM portal.lang_orders WHERE id = 10;
UPDATE portal.lang_orders SET status = 'S' WHERE id = 11;
SQL
wb_run_until "$CFG"
assert_eq "$(acct 2 "isdeleted::text || '|' || name")" "true|Bob Banned" \
    "account 2 kept and marked isdeleted = true (soft delete)"
assert_eq "$(order 10 "count(*)")" 1 "order 10 kept: the mapping's operations exclude delete"
assert_eq "$(order 11 "status__c")" "Shipped" "order 11 updated"

echo "-- a value that does not convert stops walbridge, naming relation, column and LSN"
sed -i 's/amount__c: { cast: total, to: numeric }/amount__c: { cast: status, to: integer }/' "$CFG"
stored=$(wb_stored_lsn)
wb_psql -c "INSERT INTO portal.lang_orders VALUES (13, 1, 1, 'N')"
out=$WB_WORK/bad.log
rc=0
wb_exec "$out" 60 run -c "$CFG" --until now || rc=$?
assert_eq "$rc" 4 "exit code 4 for a value that does not convert"
assert_contains "$out" 'invalid input syntax for type integer: "N"' "the message is PostgreSQL's, naming the value"
assert_contains "$out" 'portal.lang_orders' "the relation is named"
assert_contains "$out" 'status' "the column is named"
assert_contains "$out" 'LSN 0/' "the LSN is named"
assert_eq "$(wb_stored_lsn)" "$stored" "the stored position did not move"
assert_eq "$(order 13 "count(*)")" 0 "nothing of the failed transaction was applied"
