#!/usr/bin/env bash
# test_mapping: changes to portal.users arrive in salesforce.account with the
# mapped columns (id -> external_id__c, email -> personemail, first_name ->
# firstname, last_name -> lastname, phone -> phone): insert, update, key
# change, delete; awkward values survive byte for byte; an unmapped table is
# ignored; a run with nothing new writes nothing; with a reverse mapping
# (a -> b, b -> a) walbridge's own writes are not mapped back.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

# Every write to salesforce.account changes a row's xmin (even an UPDATE
# that sets the same values), so this fingerprint detects "nothing written".
FINGERPRINT_SQL="SELECT count(*) || ':' || coalesce(md5(string_agg(
    t.ctid::text || '/' || t.xmin::text || '/' || t::text, ',' ORDER BY t.id)), '-')
  FROM salesforce.account t"

count_target() { wb_psql -c "SELECT count(*) FROM salesforce.account"; }
target_has() { wb_psql -c "SELECT count(*) FROM salesforce.account WHERE external_id__c = '$1'"; }

echo "-- first run creates the publication and the slot; nothing to apply yet"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$WB_SLOT' AND plugin = 'pgoutput'")" 1 \
    "slot $WB_SLOT exists (pgoutput)"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_publication WHERE pubname = '$WB_PUB'")" 1 \
    "publication $WB_PUB exists"
assert_eq "$(count_target)" 0 "target is empty"

echo "-- step 1: inserts with awkward values"
wb_psql <<'SQL'
INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES
  (1, 'plain@example.com', 'Ada', 'Lovelace', '+44 20 7946 0000'),
  (2, 'o''brien@example.com', 'Seán', 'O''Brien', '555-0102'),
  (3, 'dq"quote"@example.com', 'The "Boss"', 'Back\slash', NULL),
  (4, 'kanji@example.com', '漢字', 'Emoji 😀🎉 ünïcödé', ''),
  (5, NULL, 'ends with backslash\', E'line1\nline2\ttabbed\r\n', '\N'),
  (6, 'empty@example.com', '', 'NULL', NULL),
  (7, '\', E'\\\\', '  padded  ', E'\t');
SQL
# The source holds what we meant (guards against quoting mistakes here).
assert_eq "$(wb_psql -c "SELECT count(*) FROM portal.users WHERE
    (id = 3 AND phone IS NULL AND last_name = E'Back\\\\slash')
 OR (id = 4 AND phone = '' AND first_name = U&'\\6F22\\5B57')
 OR (id = 5 AND email IS NULL AND right(first_name, 1) = E'\\\\' AND last_name LIKE E'line1\\nline2\\t%' AND phone = E'\\\\N')
 OR (id = 6 AND first_name = '' AND last_name = 'NULL' AND phone IS NULL)")" 4 \
    "source rows hold the intended NULLs, empty strings, backslashes, newlines and non-ASCII"
wb_run_until "$CFG"
assert_eq "$(count_target)" 7 "7 rows in salesforce.account after the inserts"
wb_assert_synced "after inserts: every mapped column equal (IS NOT DISTINCT FROM)"
assert_eq "$(wb_psql -c "SELECT (phone IS NULL)::text || '/' || (personemail IS NULL)::text
    FROM salesforce.account WHERE external_id__c = '3'")" "true/false" "NULL stays NULL (key 3)"
assert_eq "$(wb_psql -c "SELECT phone = '' FROM salesforce.account WHERE external_id__c = '4'")" t \
    "empty string stays empty, not NULL (key 4)"
assert_eq "$(wb_psql -c "SELECT phone = E'\\\\N' AND firstname = E'ends with backslash\\\\'
    FROM salesforce.account WHERE external_id__c = '5'")" t \
    "'\\N' and a trailing backslash survive (key 5)"
assert_eq "$(wb_psql -c "SELECT firstname FROM salesforce.account WHERE external_id__c = '4'")" "漢字" \
    "non-ASCII text survives (key 4)"

echo "-- step 2: updates, and a multi-statement transaction"
wb_psql <<'SQL'
UPDATE portal.users SET email = 'ada@example.org', phone = NULL WHERE id = 1;
UPDATE portal.users SET first_name = '', last_name = E'multi\nline "quoted" \\ ''single''' WHERE id = 2;
UPDATE portal.users SET phone = 'was empty' WHERE id = 4;
UPDATE portal.users SET status = 'inactive' WHERE id = 6;  -- unmapped column only
BEGIN;
INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (8, 'tx@example.com', 'In', 'Tx', '1');
UPDATE portal.users SET phone = '2', first_name = 'Updated in tx' WHERE id = 8;
INSERT INTO portal.users (id, email, first_name, last_name, phone) VALUES (9, 'gone@example.com', 'Gone', 'Soon', '3');
DELETE FROM portal.users WHERE id = 9;
COMMIT;
SQL
wb_run_until "$CFG"
assert_eq "$(count_target)" 8 "8 rows after the updates (9 was inserted and deleted in one transaction)"
assert_eq "$(target_has 9)" 0 "row inserted and deleted in the same transaction is absent"
wb_assert_synced "after updates: every mapped column equal"

echo "-- step 3: key change (UPDATE portal.users SET id = ...)"
wb_psql <<'SQL'
UPDATE portal.users SET id = 102 WHERE id = 2;
UPDATE portal.users SET id = 107, phone = 'moved' WHERE id = 7;
SQL
wb_run_until "$CFG"
assert_eq "$(target_has 2)/$(target_has 102)" "0/1" "key 2 -> 102: old key gone, new key present"
assert_eq "$(target_has 7)/$(target_has 107)" "0/1" "key 7 -> 107 (with a column change): old key gone, new key present"
assert_eq "$(count_target)" 8 "still 8 rows after the key changes"
wb_assert_synced "after key changes: every mapped column equal"

echo "-- step 4: deletes"
wb_psql <<'SQL'
DELETE FROM portal.users WHERE id = 3;
DELETE FROM portal.users WHERE id IN (5, 107);
SQL
wb_run_until "$CFG"
assert_eq "$(target_has 3)$(target_has 5)$(target_has 107)" "000" "deleted rows (3, 5, 107) are gone from the target"
assert_eq "$(count_target)" 5 "5 rows after the deletes"
wb_assert_synced "after deletes: every mapped column equal"

echo "-- step 5: an unmapped table (public.customers) is ignored"
before=$(wb_psql -c "$FINGERPRINT_SQL")
wb_psql <<'SQL'
INSERT INTO public.customers (email, name, created_at, updated_at)
  VALUES ('rails@example.com', 'Rails Customer', now(), now()),
         ('other@example.com', 'Other', now(), now());
UPDATE public.customers SET name = 'Renamed' WHERE email = 'rails@example.com';
DELETE FROM public.customers WHERE email = 'other@example.com';
SQL
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "$FINGERPRINT_SQL")" "$before" "salesforce.account untouched by public.customers changes"

echo "-- step 6: a run with no source changes writes nothing"
wb_psql -c "UPDATE portal.users SET phone = 'last change' WHERE id = 1"
wb_run_until "$CFG"
wb_assert_synced "after the last change"
before=$(wb_psql -c "$FINGERPRINT_SQL")
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "$FINGERPRINT_SQL")" "$before" "second run with no source changes writes nothing"

echo "-- step 7: walbridge's own writes are not mapped again (a reverse mapping that would echo)"
# A pair of mappings echo_a -> echo_b and echo_b -> echo_a: walbridge's
# write into echo_b comes back through the slot and the reverse mapping
# matches it.  The cycle needs skip_unchanged, so the reverse mapping also
# carries a column the forward one does not write (echo_b.b_stamp, set by
# echo_b's default, as Connect's systemmodstamp is): mapped back, the echo
# would change echo_a.from_b, which skip_unchanged does not stop.  Only the
# echo filter (walbridge's origin on its transactions) keeps it out of
# echo_a.  An audit trigger on echo_a records every row version written.
wb_psql <<'SQL'
CREATE TABLE public.echo_a (id integer PRIMARY KEY, v text, from_b text);
CREATE TABLE public.echo_b (id integer PRIMARY KEY, v text, b_stamp text DEFAULT 'set in echo_b');
CREATE TABLE public.echo_a_audit (n bigserial PRIMARY KEY, op text, id integer, v text, app text);
CREATE FUNCTION public.echo_a_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.echo_a_audit (op, id, v, app)
  VALUES (TG_OP, NEW.id, NEW.v, current_setting('application_name'));
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE ON public.echo_a
  FOR EACH ROW EXECUTE FUNCTION public.echo_a_audit();
SQL
ECHO_CFG=$WB_WORK/echo.yaml
cp "$CFG" "$ECHO_CFG"
cat >>"$ECHO_CFG" <<'EOF'
  - name: echo_a_to_b
    from: public.echo_a
    to: public.echo_b
    key: { id: id }
    columns: { v: v }
    skip_unchanged: true
  - name: echo_b_to_a
    from: public.echo_b
    to: public.echo_a
    key: { id: id }
    columns: { v: v, b_stamp: from_b }
    skip_unchanged: true
EOF
wb_psql -c "INSERT INTO public.echo_a (id, v) VALUES (1, 'written once')"
A_ROW=$(wb_psql -c "SELECT xmin || '/' || ctid FROM public.echo_a WHERE id = 1")
# Run 1 applies the writer's change: echo_a -> echo_b.
wb_run_until "$ECHO_CFG"
RUN1=$WB_RUN_N
assert_eq "$(wb_psql -c "SELECT v || '/' || b_stamp FROM public.echo_b WHERE id = 1")" "written once/set in echo_b" \
    "echo_b has the writer's change (and its own b_stamp)"
# Everything up to here, walbridge's echo_b write included, lies before L.
L=$(wb_psql -c "SELECT pg_current_wal_lsn()")
# Run 2 (if run 1 did not get there before it stopped) reads walbridge's
# own echo_b write back from the slot: the reverse mapping echo_b -> echo_a
# matches it, and the echo filter must drop it.
wb_run_until "$ECHO_CFG"
stored=$(wb_stored_lsn)
assert_eq "$(wb_psql -c "SELECT '$stored'::pg_lsn >= '$L'::pg_lsn")" t \
    "walbridge stored a position ($stored) past its own echo_b write (before $L): it has read the echo"
# counted WHAT: the sum of "N WHAT" over the stop lines of runs 1 and 2.
counted() {
    grep -h 'stopped at' "$WB_WORK/run.$RUN1.log" "$WB_WORK/run.$WB_RUN_N.log" |
        sed -n "s/.* \([0-9]*\) $1.*/\1/p" | awk '{s += $1} END {print s + 0}'
}
grep -h 'stopped at' "$WB_WORK/run.$RUN1.log" "$WB_WORK/run.$WB_RUN_N.log"
assert_eq "$(wb_psql -c "SELECT count(*) || ' write(s): ' || string_agg(op || ' by ' || app, ', ' ORDER BY n)
                         FROM public.echo_a_audit")" "1 write(s): INSERT by wbt_psql" \
    "echo_a was written once, by the writer: walbridge's echo_b write was not mapped back"
assert_eq "$(wb_psql -c "SELECT xmin || '/' || ctid || '/' || coalesce(from_b, '<null>') FROM public.echo_a WHERE id = 1")" \
    "$A_ROW/<null>" "echo_a's row version is the writer's (xmin, ctid unchanged; from_b still NULL)"
assert_eq "$(counted 'transactions applied')/$(counted 'changes routed')" 1/1 \
    "walbridge's counters over runs 1 and 2: 1 transaction applied, 1 change routed (the writer's; the echo was dropped)"
wb_assert_synced "final state"
