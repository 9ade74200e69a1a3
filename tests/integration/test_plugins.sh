#!/usr/bin/env bash
# test_plugins: the example C plugins of tests/plugins end to end, both in
# one configuration, loaded from a path relative to the config file:
#   split_name     public.customers.name -> salesforce.contact (firstname,
#                  lastname, split at the last space; email copied)
#   derive_status  portal.users (status, email) -> salesforce.account.status__c
# 1. inserts, updates (one moving a key, one for a target row that is
#    missing), deletes: the target rows are exactly the expected ones;
# 2. derive_status with fail_on: a transaction that also holds valid
#    changes fails on one of them: exit 4 with the plugin's message, the
#    relation, the column and the transaction's LSN; nothing of it (nor of
#    the transaction after it) reaches the target, the stored position and
#    the slot do not move, and a rerun fails the same way;
# 3. with fail_on removed, a rerun applies both transactions exactly once;
# 4. `walbridge check` refuses a plugin built for another ABI (exit 3),
#    naming both versions and the file position.
source "$(dirname "$0")/lib.sh"

: "${WB_PLUGIN_DIR:?WB_PLUGIN_DIR is not set: run through ctest (tests/CMakeLists.txt passes the build dir of tests/plugins)}"
for p in split_name derive_status bad_abi; do
    [[ -f "$WB_PLUGIN_DIR/libwb_$p.so" ]] || fail "plugin $WB_PLUGIN_DIR/libwb_$p.so is not built"
done
mkdir -p "$WB_WORK/plugins"
cp "$WB_PLUGIN_DIR"/libwb_split_name.so "$WB_PLUGIN_DIR"/libwb_derive_status.so \
   "$WB_PLUGIN_DIR"/libwb_bad_abi.so "$WB_WORK/plugins/"

lsn_le() { [[ "$(wb_psql -c "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" == t ]]; }

echo "-- set-up: the target columns the plugins write, and an audit of every target write"
# salesforce.contact and account.status__c come with schemas/salesforce.sql.
wb_psql <<'SQL'
CREATE SCHEMA testlog;  -- not published
CREATE TABLE testlog.target_audit (n bigserial PRIMARY KEY, tbl text, op text, key text, val text);
CREATE FUNCTION testlog.audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record; v text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF TG_TABLE_NAME = 'contact' THEN
    v := concat_ws('/', coalesce(r.firstname, '-'), coalesce(r.lastname, '-'));
  ELSE
    v := r.status__c;
  END IF;
  INSERT INTO testlog.target_audit (tbl, op, key, val)
    VALUES (TG_TABLE_NAME, left(TG_OP, 1), r.external_id__c, v);
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON salesforce.contact
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
SQL
audit_count() { wb_psql -c "SELECT count(*) FROM testlog.target_audit"; }
audit_since() {
    wb_psql -c "SELECT coalesce(string_agg(tbl || ':' || op || ':' || key || ':' || coalesce(val, '<null>'), ',' ORDER BY n), '')
                FROM testlog.target_audit WHERE n > $1"
}

# Every contact and account row, all columns the plugins may write.
contacts() {
    wb_psql -c "SELECT coalesce(string_agg(concat_ws('|', external_id__c, coalesce(firstname, '<null>'),
                    coalesce(lastname, '<null>'), coalesce(email, '<null>')), ',' ORDER BY external_id__c::int), '')
                FROM salesforce.contact"
}
accounts() {
    wb_psql -c "SELECT coalesce(string_agg(concat_ws('|', external_id__c, coalesce(status__c, '<null>')), ','
                    ORDER BY external_id__c::int), '')
                FROM salesforce.account"
}
# The plugins write only their own columns: everything else stays NULL.
assert_only_plugin_columns() {
    assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.account WHERE num_nonnulls(sfid, name, firstname,
        lastname, personemail, phone, systemmodstamp, isdeleted, _hc_lastop, _hc_err) > 0")" 0 \
        "$1: derive_status wrote no account column but external_id__c and status__c"
    assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.contact WHERE num_nonnulls(sfid, leadsource,
        accountid, systemmodstamp, isdeleted, _hc_lastop, _hc_err) > 0")" 0 \
        "$1: split_name wrote no contact column but the key, names and email"
}
TARGET_MD5="SELECT md5((SELECT coalesce(string_agg(t::text, ',' ORDER BY id), '') FROM salesforce.contact t)
                    || (SELECT coalesce(string_agg(t::text, ',' ORDER BY id), '') FROM salesforce.account t))"

# write_config FILE [FAIL_ON]
write_config() {
    local file=$1 fail_on=${2:-}
    wb_write_config "$file"
    # Replace the default mapping by the two plugin mappings.
    sed -i '/^mappings:/,$d' "$file"
    cat >>"$file" <<EOF
mappings:
  - name: customers_to_contacts
    from: public.customers
    to: salesforce.contact
    plugin:
      path: plugins/libwb_split_name.so   # relative to this file
      config:
        source: name
        first: firstname
        last: lastname
        key: { id: external_id__c }
        columns: { email: email }
        on_delete: delete
  - name: users_status
    from: portal.users
    to: [salesforce.account]
    plugin:
      path: plugins/libwb_derive_status.so
      config:
        status: status
        email: email
        to: status__c
        key: { id: external_id__c }
EOF
    if [[ -n "$fail_on" ]]; then
        printf '        fail_on: %s\n' "$fail_on" >>"$file"
    fi
}

CFG=$WB_WORK/walbridge.yaml
write_config "$CFG"

echo "-- walbridge check loads both plugins"
rc=0
wb_exec "$WB_WORK/check.log" 30 check -c "$CFG" || rc=$?
assert_eq "$rc" 0 "walbridge check -c with both plugins exits 0"

echo "-- first run: slot and publication; nothing to apply"
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.1.log" 'uses plugin "split_name" 1.0' "the log names the split_name plugin and its version"
assert_contains "$WB_WORK/run.1.log" 'uses plugin "derive_status" 1.0' "the log names the derive_status plugin and its version"

echo "-- 1a. inserts"
wb_psql <<'SQL'
INSERT INTO public.customers (id, email, name, created_at, updated_at) VALUES
  (1, 'ada@example.com', 'Ada King Lovelace', now(), now()),
  (2, 'cher@example.com', 'Cher', now(), now()),
  (3, NULL, NULL, now(), now()),
  (4, 'grace@example.com', '  Grace   Hopper ', now(), now()),
  (5, 'zoe@example.com', 'Zoë Ångström', now(), now());
INSERT INTO portal.users (id, email, first_name, last_name, status) VALUES
  (1, 'u1@example.com', 'U', 'One', 'active'),
  (2, NULL, 'U', 'Two', 'active'),
  (3, 'u3@example.com', 'U', 'Three', 'banned'),
  (4, 'u4@example.com', 'U', 'Four', NULL),
  (5, 'u5@example.com', 'U', 'Five', 'inactive');
SQL
wb_run_until "$CFG"
assert_eq "$(contacts)" \
    "1|Ada King|Lovelace|ada@example.com,2|<null>|Cher|cher@example.com,3|<null>|<null>|<null>,4|Grace|Hopper|grace@example.com,5|Zoë|Ångström|zoe@example.com" \
    "contacts after the inserts: split at the last space, one word is the last name, NULL stays NULL"
assert_eq "$(accounts)" "1|Active,2|Pending,3|Suspended,4|<null>,5|Inactive" \
    "accounts after the inserts: the derived status"
assert_only_plugin_columns "after the inserts"

echo "-- 1b. updates (a key change; a target row that is missing), deletes"
# The target lost account 4: the update must insert it (insert-if-missing).
wb_psql -c "DELETE FROM salesforce.account WHERE external_id__c = '4'"
wb_psql <<'SQL'
UPDATE public.customers SET name = 'Ada Lovelace' WHERE id = 1;
UPDATE public.customers SET id = 20, name = 'Cher Sarkisian' WHERE id = 2;
UPDATE public.customers SET email = 'grace@navy.mil' WHERE id = 4;
DELETE FROM public.customers WHERE id = 3;
UPDATE portal.users SET email = 'u2@example.com' WHERE id = 2;
UPDATE portal.users SET status = 'active' WHERE id = 3;
UPDATE portal.users SET status = 'banned' WHERE id = 4;
DELETE FROM portal.users WHERE id = 5;
SQL
wb_run_until "$CFG"
assert_eq "$(contacts)" \
    "1|Ada|Lovelace|ada@example.com,4|Grace|Hopper|grace@navy.mil,5|Zoë|Ångström|zoe@example.com,20|Cher|Sarkisian|cher@example.com" \
    "contacts after the updates and the delete (2 moved to 20, 3 deleted)"
assert_eq "$(accounts)" "1|Active,2|Active,3|Active,4|Suspended,5|Deleted" \
    "accounts after the updates and the delete (4 re-inserted, 5 marked Deleted)"
assert_only_plugin_columns "after the updates"

echo "-- 2. derive_status with fail_on: frozen; a transaction with valid changes and one it refuses"
BAD=$WB_WORK/fail_on.yaml
write_config "$BAD" frozen
stored_before=$(wb_stored_lsn "$WB_SLOT")
confirmed_before=$(wb_slot_confirmed_lsn "$WB_SLOT")
[[ -n "$stored_before" ]] || fail "no stored position before the failing transaction"
assert_eq "$confirmed_before" "$stored_before" "before: the slot's confirmed_flush_lsn is the stored position"
audit_before=$(audit_count)
md5_before=$(wb_psql -c "$TARGET_MD5")
lsn_lo=$(wb_psql -c "SELECT pg_current_wal_insert_lsn()")
wb_psql <<'SQL'
BEGIN;
INSERT INTO public.customers (id, email, name, created_at, updated_at)
  VALUES (6, 'alan@example.com', 'Alan Mathison Turing', now(), now());
UPDATE portal.users SET email = NULL WHERE id = 1;
INSERT INTO portal.users (id, email, first_name, last_name, status) VALUES (6, 'u6@example.com', 'U', 'Six', 'active');
UPDATE portal.users SET status = 'frozen' WHERE id = 2;
UPDATE public.customers SET name = 'Grace Brewster Hopper' WHERE id = 4;
COMMIT;
SQL
lsn_hi=$(wb_psql -c "SELECT pg_current_wal_insert_lsn()")
# A later transaction: it must wait behind the failed one.
wb_psql -c "UPDATE public.customers SET name = 'Zoe Angstrom' WHERE id = 5"
echo "failing transaction committed between $lsn_lo and $lsn_hi; stored position $stored_before"

rc=0
OUT=$WB_WORK/failed.log
wb_exec "$OUT" 120 run -c "$BAD" --until now || rc=$?
echo "walbridge run exited $rc; stderr:"
sed 's/^/    | /' "$OUT"
assert_eq "$rc" 4 "walbridge run --until now exits 4 (a change could not be mapped)"
assert_contains "$OUT" 'status "frozen" is refused by mapping "users_status" (fail_on)' "the error is the plugin's message"
assert_contains "$OUT" 'portal.users' "the error names the relation portal.users"
assert_contains "$OUT" '"status"' "the error names the column \"status\""
assert_contains "$OUT" 'plugin "derive_status" 1.0' "the error names the plugin and its version"
assert_contains "$OUT" 'WARNING:  mapping "users_status": a status of "frozen" will stop walbridge (fail_on)' \
    "init() logged through the host (ctx NULL), prefixed with the mapping"
fail_lsn=$(grep -o 'LSN [0-9A-F]*/[0-9A-F]*' "$OUT" | tail -n 1 | cut -d' ' -f2)
[[ -n "$fail_lsn" ]] || fail "the error names no LSN"
if lsn_le "$lsn_lo" "$fail_lsn" && lsn_le "$fail_lsn" "$lsn_hi"; then
    ok "the error names LSN $fail_lsn, the failing transaction's (between $lsn_lo and $lsn_hi)"
else
    fail "the error's LSN $fail_lsn is not the failing transaction's (between $lsn_lo and $lsn_hi)"
fi
wb_wait_server_released 30
assert_eq "$(audit_count)" "$audit_before" "nothing of the failing transaction (or the one after it) was written to the target"
assert_eq "$(wb_psql -c "$TARGET_MD5")" "$md5_before" "salesforce.contact and salesforce.account rows unchanged"
assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$stored_before" "the stored position did not move"
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$confirmed_before" "the slot's confirmed_flush_lsn did not move"
rc=0
wb_exec "$WB_WORK/status.log" 30 status -c "$BAD" --json || rc=$?
assert_eq "$rc" 0 "walbridge status --json exits 0"
assert_eq "$(jq -r .stored_lsn "$WB_WORK/status.log.stdout")" "$stored_before" "status --json: stored_lsn is still $stored_before"

echo "-- 2b. a rerun with the same configuration fails the same way (nothing was skipped)"
rc=0
wb_exec "$WB_WORK/failed2.log" 120 run -c "$BAD" --until now || rc=$?
assert_eq "$rc" 4 "the rerun exits 4 again"
assert_contains "$WB_WORK/failed2.log" "LSN $fail_lsn" "the rerun names the same LSN $fail_lsn"
assert_eq "$(audit_count)" "$audit_before" "still nothing written to the target"
assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$stored_before" "the stored position still did not move"

echo "-- 3. fail_on removed: both transactions are applied, exactly once, in commit order"
wb_run_until "$CFG"
# Sorted: operations of one shape on distinct rows may be applied as one
# set-based statement, whose row triggers fire in no particular order.
assert_eq "$(audit_since "$audit_before" | tr ',' '\n' | sort | paste -sd,)" \
    "account:I:6:Active,account:U:1:Pending,account:U:2:Inactive,contact:I:6:Alan Mathison/Turing,contact:U:4:Grace Brewster/Hopper,contact:U:5:Zoe/Angstrom" \
    "target writes since the failure: each change exactly once"
assert_eq "$(contacts)" \
    "1|Ada|Lovelace|ada@example.com,4|Grace Brewster|Hopper|grace@navy.mil,5|Zoe|Angstrom|zoe@example.com,6|Alan Mathison|Turing|alan@example.com,20|Cher|Sarkisian|cher@example.com" \
    "contacts after the fix"
assert_eq "$(accounts)" "1|Pending,2|Inactive,3|Active,4|Suspended,5|Deleted,6|Active" "accounts after the fix"
assert_only_plugin_columns "after the fix"
stored_end=$(wb_stored_lsn "$WB_SLOT")
lsn_le "$fail_lsn" "$stored_end" || fail "stored position $stored_end did not pass the failed transaction $fail_lsn"
ok "the stored position ($stored_end) is now past the failed transaction ($fail_lsn)"
n=$(audit_count)
wb_run_until "$CFG"
assert_eq "$(audit_count)" "$n" "another run writes nothing (applied exactly once)"

echo "-- 4. a plugin that allocates its target and column names in the per-message arena"
# plugin.h allows it; the applier joins consecutive operations of one shape
# from several messages into one statement, so the host must not keep the
# plugin's pointers past the message.
ARENA=$WB_WORK/arena.yaml
cp "$WB_PLUGIN_DIR/libwb_arena_names.so" "$WB_WORK/plugins/"
wb_write_config "$ARENA"
sed -i '/^mappings:/,$d' "$ARENA"
cat >>"$ARENA" <<'EOF'
mappings:
  - name: arena
    from: public.customers
    to: salesforce.contact
    plugin:
      path: plugins/libwb_arena_names.so
EOF
# Names of other lengths in every message, so that each message's data
# lands where the previous message's names were.
n=0
for i in 101 102 103 104 105 106; do
    n=$(((n * 7 + 13) % 61))
    wb_psql -c "INSERT INTO public.customers (id, email, name, created_at, updated_at)
                VALUES ($i, 'c$i-' || repeat('x', 40) || '@example.com', repeat('n', $n) || ' ' || repeat('m', $n), now(), now())"
done
wb_run_until "$ARENA"
expected=""
for i in 101 102 103 104 105 106; do
    expected+="${expected:+,}$i=c$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@example.com"
done
assert_eq "$(wb_psql -c "SELECT string_agg(external_id__c || '=' || email, ',' ORDER BY external_id__c)
                         FROM salesforce.contact WHERE external_id__c::int > 100")" "$expected" \
    "six inserts in six transactions, all applied with the plugin's arena-allocated names"

echo "-- 5. walbridge check refuses a plugin built for another ABI"
ABI=$WB_WORK/bad_abi.yaml
wb_write_config "$ABI"
sed -i '/^mappings:/,$d' "$ABI"
cat >>"$ABI" <<'EOF'
mappings:
  - name: wrong_abi
    from: public.customers
    to: salesforce.contact
    plugin:
      path: plugins/libwb_bad_abi.so
      config: {}
EOF
line=$(grep -n 'path: plugins/libwb_bad_abi.so' "$ABI" | cut -d: -f1)
rc=0
wb_exec "$WB_WORK/check_abi.log" 30 check -c "$ABI" || rc=$?
sed 's/^/    | /' "$WB_WORK/check_abi.log"
assert_eq "$rc" 3 "walbridge check -c with the bad_abi plugin exits 3 (bad configuration)"
assert_contains "$WB_WORK/check_abi.log" "$ABI:$line:13: plugin \"$WB_WORK/plugins/libwb_bad_abi.so\" was built for plugin ABI version 2" \
    "the message names the file position, the plugin and its ABI version 2"
assert_contains "$WB_WORK/check_abi.log" "This walbridge speaks plugin ABI version 1." "the detail names walbridge's ABI version 1"
rc=0
wb_exec "$WB_WORK/run_abi.log" 60 run -c "$ABI" --until now || rc=$?
assert_eq "$rc" 3 "walbridge run with the bad_abi plugin exits 3 as well"
assert_contains "$WB_WORK/run_abi.log" "was built for plugin ABI version 2" "run gives the same message"
