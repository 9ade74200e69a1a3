#!/usr/bin/env bash
# test_toast: unchanged TOASTed values are never written as NULL (or as
# anything else).  pgoutput sends an out-of-line value that an UPDATE did not
# change as 'u' (unchanged) instead of its bytes; walbridge must leave such a
# column alone on the target (REPLICA IDENTITY DEFAULT) or take it from the
# full old row (REPLICA IDENTITY FULL).
#
# Two source tables, portal.docs (identity DEFAULT) and portal.docs_full
# (identity FULL), each mapped to a target in public, hold 1 MB and 50 MB
# values of random md5 text (not compressible, so stored out of line).  After
# each step the target's big values are compared with the source by length
# and md5, and the small column must have changed where the source changed.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml
MB50=${WB_TOAST_BIG_MB:-50}

echo "-- set-up: source tables (DEFAULT and FULL identity), targets, write audit on the targets"
wb_psql <<'SQL'
CREATE TABLE portal.docs      (id int PRIMARY KEY, small text, big text, note text);
CREATE TABLE portal.docs_full (id int PRIMARY KEY, small text, big text, note text);
ALTER TABLE portal.docs_full REPLICA IDENTITY FULL;
CREATE TABLE public.docs_dst      (id int PRIMARY KEY, small text, big text, note text);
CREATE TABLE public.docs_full_dst (id int PRIMARY KEY, small text, big text, note text);

-- Random hex: pglz cannot shrink it, so it is stored out of line (TOAST).
-- Values above 1 MB repeat a random 1 MB block: pglz (4 KB history) and
-- lz4 (64 KB) find nothing to compress either, and it is much faster.
CREATE FUNCTION public.rand_text(bytes int) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN bytes <= 1048576 THEN b ELSE repeat(b, bytes / 1048576) END
  FROM (SELECT string_agg(md5(random()::text || g::text), '') AS b
        FROM generate_series(1, least(bytes, 1048576) / 32) g) r
$$;

CREATE SCHEMA testlog;  -- not published
-- One row per INSERT walbridge makes into a target, and per UPDATE whose
-- SET list names the big column (a trigger "UPDATE OF big" fires exactly
-- then, whatever the values).
CREATE TABLE testlog.writes (n bigserial PRIMARY KEY, tbl text, op text, id int);
CREATE FUNCTION testlog.log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testlog.writes (tbl, op, id) VALUES (TG_TABLE_NAME, TG_OP, NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER a_ins AFTER INSERT ON public.docs_dst FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
CREATE TRIGGER a_ins AFTER INSERT ON public.docs_full_dst FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
CREATE TRIGGER b_upd_big AFTER UPDATE OF big ON public.docs_dst FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
CREATE TRIGGER b_upd_big AFTER UPDATE OF big ON public.docs_full_dst FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
SQL

cat >"$CFG" <<EOF
# written by $WB_TEST_SCRIPT
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal]   # the targets in public are not published: no echo of 50 MB writes
$(wb_variant_source_keys)
target:
  conninfo: ""
mappings:
  - name: docs
    from: portal.docs
    to: public.docs_dst
    key: { id: id }
    columns: { small: small, big: big }
  - name: docs_full
    from: portal.docs_full
    to: public.docs_full_dst
    key: { id: id }
    columns: { small: small, big: big }
EOF

# assert_docs SRC DST MSG: the target equals the source row for row (full
# outer join on id; small, length(big) and big compared).
assert_docs() {
    local n diff="SELECT coalesce(s.id, t.id) AS id, s.small AS src_small, t.small AS tgt_small,
                  octet_length(s.big) AS src_len, octet_length(t.big) AS tgt_len, md5(s.big) AS src_md5, md5(t.big) AS tgt_md5
           FROM $1 s FULL JOIN $2 t ON t.id = s.id
           WHERE s.id IS NULL OR t.id IS NULL OR s.small IS DISTINCT FROM t.small
              OR octet_length(s.big) IS DISTINCT FROM octet_length(t.big) OR s.big IS DISTINCT FROM t.big"
    n=$(wb_psql -c "SELECT count(*) FROM ($diff) d")
    if [[ "$n" != 0 ]]; then
        wb_psql_table -c "$diff ORDER BY 1" >&2 || true
        fail "$3: $n rows of $2 differ from $1"
    fi
    ok "$3 ($2 = $1: $(wb_psql -c "SELECT string_agg(id || ':' || coalesce(small, '<null>') || ':' ||
        coalesce(round(octet_length(big) / 1048576.0, 1) || 'MB', '<null>'), ' ' ORDER BY id) FROM $2"))"
}
# What the target holds for one row: "small:length(big):md5(big)".
row() {
    wb_psql -c "SELECT coalesce(small, '<null>') || ':' || coalesce(octet_length(big)::text, '<null>') || ':' ||
                       coalesce(md5(big), '<null>') FROM $1 WHERE id = $2"
}
# "length(big):md5(big)" of one row.
bigfp() {
    wb_psql -c "SELECT coalesce(octet_length(big)::text, '<null>') || ':' || coalesce(md5(big), '<null>') FROM $1 WHERE id = $2"
}
# UPDATEs walbridge made since the last TRUNCATE whose SET listed big.
big_updates() {
    wb_psql -c "SELECT count(*) FROM testlog.writes WHERE tbl = '$1' AND op = 'UPDATE'"
}

echo "-- first run creates the publication and the slot"
wb_run_until "$CFG"

echo "-- step 1: insert rows with a 1 MB and a ${MB50} MB value (plus a NULL and a small inline value)"
t0=$SECONDS
for tbl in portal.docs portal.docs_full; do
    wb_psql <<SQL
INSERT INTO $tbl (id, small, big) VALUES (1, 'a', rand_text(1024 * 1024));
INSERT INTO $tbl (id, small, big) VALUES (2, 'b', rand_text($MB50 * 1024 * 1024));
INSERT INTO $tbl (id, small, big) VALUES (3, 'c', NULL), (4, 'd', 'tiny inline value'),
                                         (5, 'e', rand_text(1024 * 1024));
SQL
done
echo "generated the source values in $((SECONDS - t0))s"
assert_eq "$(wb_psql -c "SELECT octet_length(big) FROM portal.docs WHERE id = 2")" "$((MB50 * 1024 * 1024))" \
    "source row 2 holds a ${MB50} MB value"
for tbl in portal.docs portal.docs_full; do
    toast=$(wb_psql -c "SELECT reltoastrelid::regclass FROM pg_class WHERE oid = '$tbl'::regclass")
    chunks=$(wb_psql -c "SELECT count(*) FROM $toast")
    # ~(1+50+1) MB / ~2 KB per chunk: the values live out of line.
    assert_ge "$chunks" "$(((MB50 + 2) * 500))" "$tbl: the big values are stored out of line ($toast chunks)"
    assert_eq "$(wb_psql -c "SELECT pg_column_size(big) >= octet_length(big) FROM $tbl WHERE id = 2")" t \
        "$tbl: the ${MB50} MB value is not compressed"
done
t0=$SECONDS
wb_run_until "$CFG"
echo "applied the inserts in $((SECONDS - t0))s"
assert_docs portal.docs public.docs_dst "identity DEFAULT: inserts arrive"
assert_docs portal.docs_full public.docs_full_dst "identity FULL: inserts arrive"
wb_psql -c "TRUNCATE testlog.writes"

echo "-- step 2: UPDATE only the small column (unchanged TOAST values arrive as 'u')"
# The source's big values (length:md5), unchanged until step 4.
d1=$(bigfp portal.docs 1) d2=$(bigfp portal.docs 2)
f1=$(bigfp portal.docs_full 1) f2=$(bigfp portal.docs_full 2)
for tbl in portal.docs portal.docs_full; do
    wb_psql -c "UPDATE $tbl SET small = small || '-2' WHERE id IN (1, 2, 5)"
done
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT string_agg(small, ',' ORDER BY id) FROM public.docs_dst WHERE id IN (1, 2, 5)")" \
    "a-2,b-2,e-2" "identity DEFAULT: the small column changed on the target"
assert_eq "$(wb_psql -c "SELECT string_agg(small, ',' ORDER BY id) FROM public.docs_full_dst WHERE id IN (1, 2, 5)")" \
    "a-2,b-2,e-2" "identity FULL: the small column changed on the target"
assert_eq "$(bigfp public.docs_dst 1) $(bigfp public.docs_dst 2)" "$d1 $d2" \
    "identity DEFAULT: 1 MB and ${MB50} MB values on the target still equal the source's (length:md5)"
assert_eq "$(bigfp public.docs_full_dst 1) $(bigfp public.docs_full_dst 2)" "$f1 $f2" \
    "identity FULL: 1 MB and ${MB50} MB values on the target still equal the source's (length:md5)"
assert_docs portal.docs public.docs_dst "identity DEFAULT: target equals source after small-only updates"
assert_docs portal.docs_full public.docs_full_dst "identity FULL: target equals source after small-only updates"
assert_eq "$(big_updates docs_dst)" 0 \
    "identity DEFAULT: walbridge left the unchanged big column out of its UPDATEs"
echo "identity FULL: UPDATEs that listed big (value taken from the old row): $(big_updates docs_full_dst)"
wb_psql -c "TRUNCATE testlog.writes"

echo "-- step 3: key change (UPDATE id) with an unchanged TOAST value, with and without another change"
for tbl in portal.docs portal.docs_full; do
    wb_psql -c "UPDATE $tbl SET id = 101 WHERE id = 1" \
            -c "UPDATE $tbl SET id = 102, small = 'moved' WHERE id = 2"
done
wb_run_until "$CFG"
for dst in public.docs_dst public.docs_full_dst; do
    assert_eq "$(wb_psql -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM $dst")" "3,4,5,101,102" \
        "$dst: keys 1 and 2 moved to 101 and 102 (no duplicate, no leftover)"
done
assert_eq "$(bigfp public.docs_dst 101)" "$d1" "identity DEFAULT: the 1 MB value moved with key 1 -> 101"
assert_eq "$(row public.docs_dst 102)" "moved:$d2" \
    "identity DEFAULT: key 2 -> 102 with small changed, the ${MB50} MB value kept"
assert_eq "$(bigfp public.docs_full_dst 101) $(row public.docs_full_dst 102)" "$f1 moved:$f2" \
    "identity FULL: both values moved with their keys"
assert_docs portal.docs public.docs_dst "identity DEFAULT: target equals source after key changes"
assert_docs portal.docs_full public.docs_full_dst "identity FULL: target equals source after key changes"
assert_eq "$(big_updates docs_dst)" 0 "identity DEFAULT: the key changes did not write the big column"
wb_psql -c "TRUNCATE testlog.writes"

echo "-- step 4: one transaction changes big, then small twice (the later updates see the new value as 'u')"
for tbl in portal.docs portal.docs_full; do
    wb_psql <<SQL
BEGIN;
UPDATE $tbl SET big = rand_text(1024 * 1024) WHERE id = 5;
UPDATE $tbl SET small = 'tx-1' WHERE id = 5;
UPDATE $tbl SET small = 'tx-2' WHERE id = 5;
UPDATE $tbl SET small = 'tx-2', note = 'unmapped' WHERE id = 101;
UPDATE $tbl SET big = NULL WHERE id = 4;
UPDATE $tbl SET big = rand_text(2 * 1024 * 1024) WHERE id = 3;
UPDATE $tbl SET small = 'c-4' WHERE id = 3;
COMMIT;
SQL
done
wb_run_until "$CFG"
assert_docs portal.docs public.docs_dst "identity DEFAULT: target equals source after a transaction mixing big and small updates"
assert_docs portal.docs_full public.docs_full_dst "identity FULL: target equals source after a transaction mixing big and small updates"
assert_eq "$(wb_psql -c "SELECT small || ':' || octet_length(big) FROM public.docs_dst WHERE id = 3")" "c-4:$((2 * 1024 * 1024))" \
    "identity DEFAULT: NULL -> 2 MB value, then a small-only update: the 2 MB value stays"
wb_psql -c "TRUNCATE testlog.writes"

echo "-- step 5: a row missing on the target, then a small-only update at the source"
wb_psql -c "DELETE FROM public.docs_dst WHERE id = 5" -c "DELETE FROM public.docs_full_dst WHERE id = 5"
for tbl in portal.docs portal.docs_full; do
    wb_psql -c "UPDATE $tbl SET small = 'after target delete' WHERE id = 5"
done
wb_run_until "$CFG"
# DEFAULT: the big value is unknown ('u'), so the row must not be inserted
# with a NULL (or any made-up) big value.
assert_eq "$(wb_psql -c "SELECT count(*) FROM public.docs_dst WHERE id = 5")" 0 \
    "identity DEFAULT: the missing row is not re-created without its TOAST value"
# FULL: the old row carries every value, so the row is re-created complete.
assert_eq "$(row public.docs_full_dst 5)" "$(wb_psql -c "SELECT 'after target delete:' || octet_length(big) || ':' || md5(big) FROM portal.docs_full WHERE id = 5")" \
    "identity FULL: the missing row is re-created with the value from the old row"
assert_eq "$(wb_psql -c "SELECT count(*) FROM public.docs_dst WHERE big IS NULL AND id <> 4")/$(wb_psql -c "SELECT count(*) FROM public.docs_full_dst WHERE big IS NULL AND id <> 4")" \
    "0/0" "no target row has a NULL big value except row 4 (NULL at the source)"

wb_assert_format
