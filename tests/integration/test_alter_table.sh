#!/usr/bin/env bash
# test_alter_table: schema changes on the source table while walbridge
# streams (portal.users -> salesforce.account, the default mapping).
#   - ADD COLUMN (unmapped; also one with a volatile default, which rewrites
#     the table), RENAME of an unmapped column, type changes of mapped
#     columns (varchar(100) -> text, varchar(100) -> varchar(200), and the
#     key int -> bigint, a rewrite): changes keep arriving, values intact,
#     and the rewrites write nothing to the target.
#   - DROP of a mapped column (phone), then a write: walbridge stops with
#     exit code 4 and an error naming portal.users, "phone" and the LSN of
#     the failing transaction; the stored position and the slot stay before
#     it, nothing of it reaches the target, and a restart fails the same
#     way (nothing skipped).  Re-adding the column does not help the change
#     that was written without it (the source describes the table as it was
#     then); with the mapping fixed the failed change is applied, exactly
#     once, and later changes follow.  While the column is missing, a
#     restart is refused by the start-up catalog check (exit 6).
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

# "rows/differences" of salesforce.account against the mapped portal.users.
STATE_SQL="SELECT (SELECT count(*) FROM salesforce.account) || '/' || (SELECT count(*) FROM ($WB_DIFF_SQL) d)"
target_row() {
    wb_psql -c "SELECT concat_ws('|', external_id__c, personemail, firstname, lastname, coalesce(phone, '<null>'))
                FROM salesforce.account WHERE external_id__c = '$1'"
}
lsn_le() { [[ "$(wb_psql -c "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" == t ]]; }

echo "-- set-up: audit of every write walbridge makes to salesforce.account (schema testlog is not published)"
wb_psql <<'SQL'
CREATE SCHEMA testlog;
CREATE TABLE testlog.target_audit (n bigserial PRIMARY KEY, op text, id text, email text, phone text);
CREATE FUNCTION testlog.audit_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO testlog.target_audit (op, id, email, phone) VALUES ('D', OLD.external_id__c, OLD.personemail, OLD.phone);
  ELSE
    INSERT INTO testlog.target_audit (op, id, email, phone) VALUES (left(TG_OP, 1), NEW.external_id__c, NEW.personemail, NEW.phone);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit_target AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit_target();
SQL
audit_count() { wb_psql -c "SELECT count(*) FROM testlog.target_audit"; }

echo "-- create the slot; start walbridge in the background"
wb_run_until "$CFG"
wb_start_bg "$CFG"
wb_psql <<'SQL'
INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES
  (1, 'one@example.com', 'One', 'First', '111'),
  (2, 'two@example.com', 'Two', 'Second', '222'),
  (3, 'three@example.com', 'Three', 'Third', '333');
SQL
wb_wait_sql 60 "$STATE_SQL" "3/0" "initial rows arrive while streaming"

echo "-- 1. ADD COLUMN (unmapped), then keep writing"
wb_psql -c "ALTER TABLE portal.users ADD COLUMN nickname text"
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone, nickname)
            VALUES (4, 'four@example.com', 'Four', 'Fourth', '444', 'quattro')" \
        -c "UPDATE portal.users SET phone = '111-a', nickname = 'uno' WHERE id = 1"
wb_wait_sql 60 "$STATE_SQL" "4/0" "after ADD COLUMN: insert and update arrive (4 rows, 0 differences)"
assert_eq "$(target_row 1)" "1|one@example.com|One|First|111-a" "row 1 updated after ADD COLUMN"

echo "-- 1b. ADD COLUMN with a volatile default (rewrites the table): the rewrite writes nothing to the target"
n0=$(audit_count)
wb_psql -c "ALTER TABLE portal.users ADD COLUMN token text DEFAULT md5(random()::text)"
assert_eq "$(wb_psql -c "SELECT count(DISTINCT token) FROM portal.users")" 4 "every source row got its own token (the table was rewritten)"
wb_psql -c "UPDATE portal.users SET phone = '222-b' WHERE id = 2"
wb_wait_sql 60 "SELECT phone FROM salesforce.account WHERE external_id__c = '2'" "222-b" "after the rewrite: update arrives"
assert_eq "$(wb_psql -c "SELECT string_agg(op || ':' || id || ':' || phone, ',' ORDER BY n) FROM testlog.target_audit WHERE n > $n0")" \
    "U:2:222-b" "the only target write since the rewrite is the update (the rewrite itself was not replicated)"

echo "-- 2. RENAME an unmapped column"
wb_psql -c "ALTER TABLE portal.users RENAME COLUMN nickname TO alias"
wb_psql -c "INSERT INTO portal.users (id, email, first_name, last_name, phone, alias)
            VALUES (5, 'five@example.com', 'Five', 'Fifth', '555', 'cinque')" \
        -c "UPDATE portal.users SET email = 'three@example.org', alias = 'tre' WHERE id = 3"
wb_wait_sql 60 "$STATE_SQL" "5/0" "after RENAME COLUMN: insert and update arrive (5 rows, 0 differences)"
assert_eq "$(target_row 3)" "3|three@example.org|Three|Third|333" "row 3 updated after RENAME COLUMN"

echo "-- 3. type changes of mapped columns: first_name varchar(100) -> text, last_name -> varchar(200), id int -> bigint (rewrite)"
wb_psql -c "ALTER TABLE portal.users ALTER COLUMN first_name TYPE text" \
        -c "ALTER TABLE portal.users ALTER COLUMN last_name TYPE varchar(200)" \
        -c "ALTER TABLE portal.users ALTER COLUMN id TYPE bigint"
assert_eq "$(wb_psql -c "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attname)
    FROM pg_attribute WHERE attrelid = 'portal.users'::regclass AND attname IN ('id', 'first_name', 'last_name')")" \
    "text,bigint,character varying(200)" "source column types changed (first_name, id, last_name)"
wb_psql <<'SQL'
INSERT INTO portal.users (id, email, first_name, last_name, phone)
  VALUES (3000000000, 'big@example.com', 'Ünïcode ''q'' "dq"', E'Back\\slash', '+1 (555) 0100');
UPDATE portal.users SET first_name = 'Zoë', last_name = 'Ångström' WHERE id = 4;
SQL
wb_wait_sql 60 "$STATE_SQL" "6/0" "after the type changes: insert and update arrive (6 rows, 0 differences)"
assert_eq "$(target_row 3000000000)" "3000000000|big@example.com|Ünïcode 'q' \"dq\"|Back\\slash|+1 (555) 0100" \
    "bigint key beyond int4 and awkward text arrive intact"
assert_eq "$(target_row 4)" "4|four@example.com|Zoë|Ångström|444" "non-ASCII values intact after the type change"
wb_assert_synced "target equals the mapped source before the DROP"

echo "-- 4. DROP a mapped column (phone), then write: walbridge must stop with exit code 4"
wb_wait_sql 60 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$WB_SLOT' AND active" 1 "walbridge is streaming"
# Let every position so far be stored before taking the baseline.
sleep 1
stored_before=$(wb_stored_lsn "$WB_SLOT")
audit_before=$(audit_count)
target_before=$(wb_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM salesforce.account t")
log_start=$(wc -l <"$WB_LOG")
bg_pid=$WB_BG_PID
wb_psql -c "ALTER TABLE portal.users DROP COLUMN phone"
lsn_lo=$(wb_psql -c "SELECT pg_current_wal_insert_lsn()")
wb_psql <<'SQL'
BEGIN;
INSERT INTO portal.users (id, email, first_name, last_name) VALUES (7, 'seven@example.com', 'Seven', 'Seventh');
UPDATE portal.users SET email = 'one@example.org' WHERE id = 1;
COMMIT;
SQL
lsn_hi=$(wb_psql -c "SELECT pg_current_wal_insert_lsn()")
# A later transaction: it must wait behind the failed one.
wb_psql -c "UPDATE portal.users SET email = 'two@example.org' WHERE id = 2"
echo "failing transaction committed between $lsn_lo and $lsn_hi; stored position before: $stored_before"

deadline=$((SECONDS + 60))
while kill -0 "$bg_pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "walbridge did not stop within 60 s of a change it cannot map"
    sleep 0.2
done
rc=0
wait "$bg_pid" || rc=$?
wb_forget_bg "$bg_pid"
assert_eq "$rc" 4 "walbridge stopped on its own with exit code 4"
BGLOG=$WB_WORK/dropped.log
tail -n +"$((log_start + 1))" "$WB_LOG" >"$BGLOG"
assert_contains "$BGLOG" 'portal.users' "the error names the relation portal.users"
assert_contains "$BGLOG" '"phone"' "the error names the column \"phone\""
fail_lsn=$(grep -o 'LSN [0-9A-F]*/[0-9A-F]*' "$BGLOG" | tail -n 1 | cut -d' ' -f2)
[[ -n "$fail_lsn" ]] || { cat "$BGLOG" >&2; fail "the error names no LSN"; }
if lsn_le "$lsn_lo" "$fail_lsn" && lsn_le "$fail_lsn" "$lsn_hi"; then
    ok "the error names LSN $fail_lsn, the failing transaction's (between $lsn_lo and $lsn_hi)"
else
    cat "$BGLOG" >&2
    fail "the error's LSN $fail_lsn is not the failing transaction's (between $lsn_lo and $lsn_hi)"
fi
grep -E 'ERROR|FATAL|DETAIL|HINT|CONTEXT' "$BGLOG" | sed 's/^/    walbridge: /'
wb_wait_server_released 30

stored_after=$(wb_stored_lsn "$WB_SLOT")
confirmed_after=$(wb_slot_confirmed_lsn "$WB_SLOT")
echo "stored position before $stored_before, after $stored_after; slot confirmed_flush_lsn $confirmed_after"
if lsn_le "$stored_before" "$stored_after" && lsn_le "$stored_after" "$fail_lsn"; then
    ok "the stored position ($stored_after) did not move past the failing transaction ($fail_lsn)"
else
    fail "stored position $stored_after is past the failing transaction $fail_lsn (or before $stored_before)"
fi
lsn_le "$confirmed_after" "$fail_lsn" ||
    fail "the slot confirmed $confirmed_after, past the failing transaction $fail_lsn"
ok "the slot's confirmed_flush_lsn ($confirmed_after) is not past the failing transaction"
assert_eq "$(audit_count)" "$audit_before" "nothing was written to the target by the failing transaction"
assert_eq "$(wb_psql -c "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM salesforce.account t")" "$target_before" \
    "target rows unchanged"

echo "-- 5. restart with the same configuration: refused before streaming, the mapping names a dropped column"
# The start-up catalog check sees the mapping no longer fits the table
# (exit 6) before anything is streamed or written; nothing is skipped.
rc=0
wb_exec "$WB_WORK/retry.log" 120 run -c "$CFG" --until now || rc=$?
assert_eq "$rc" 6 "walbridge run --until now exits 6 (configuration does not match the database)"
assert_contains "$WB_WORK/retry.log" 'source column "phone" does not exist in table "portal.users"' \
    "the error names the dropped column"
assert_contains "$WB_WORK/retry.log" "$(basename "$CFG"):" "the error names the configuration file"
assert_eq "$(wb_stored_lsn "$WB_SLOT")" "$stored_after" "the stored position did not move"

echo "-- 6. re-add the column at the source: the change written without it still cannot be mapped"
wb_psql -c "ALTER TABLE portal.users ADD COLUMN phone varchar(40)"
rc=0
wb_exec "$WB_WORK/readded.log" 120 run -c "$CFG" --until now || rc=$?
assert_eq "$rc" 4 "with phone re-added, walbridge still exits 4 (the source describes the table as of that transaction)"
assert_contains "$WB_WORK/readded.log" "LSN $fail_lsn" "same LSN $fail_lsn"
assert_eq "$(audit_count)" "$audit_before" "still nothing written to the target"

echo "-- 7. fix the configuration (phone no longer mapped): the failed change is applied, exactly once"
FIXED=$WB_WORK/fixed.yaml
sed 's/, phone: phone }/ }/' "$CFG" >"$FIXED"
grep -q 'phone' "$FIXED" && fail "could not remove phone from the mapping in $FIXED"
wb_psql -c "UPDATE portal.users SET phone = '333-c', email = 'three@example.net' WHERE id = 3"
wb_run_until "$FIXED"
assert_eq "$(target_row 7)" "7|seven@example.com|Seven|Seventh|<null>" "the failed transaction's insert arrived"
assert_eq "$(target_row 1 | cut -d'|' -f2)" "one@example.org" "the failed transaction's update arrived"
assert_eq "$(target_row 2 | cut -d'|' -f2)" "two@example.org" "the transaction after it arrived"
assert_eq "$(target_row 3 | cut -d'|' -f2,5)" "three@example.net|333" "the change after re-adding phone arrived (phone not mapped: target keeps 333)"
assert_eq "$(wb_psql -c "SELECT string_agg(op || ':' || id || ':' || email, ',' ORDER BY n) FROM testlog.target_audit WHERE n > $audit_before")" \
    "I:7:seven@example.com,U:1:one@example.org,U:2:two@example.org,U:3:three@example.net" \
    "target writes since the failure: each change exactly once, in commit order"

echo "-- 8. map phone again: new values arrive, the tables converge"
wb_psql -c "UPDATE portal.users SET phone = 'p-' || id"
wb_run_until "$CFG"
wb_assert_synced "target equals the mapped source (phone included) after the fix"
stored_end=$(wb_stored_lsn "$WB_SLOT")
lsn_le "$fail_lsn" "$stored_end" || fail "stored position $stored_end did not pass the failed transaction $fail_lsn"
ok "the stored position ($stored_end) is now past the failed transaction"

wb_assert_format
