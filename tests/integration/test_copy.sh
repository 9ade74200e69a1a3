#!/usr/bin/env bash
# test_copy: runs of inserts go by COPY and end exactly as the upsert would.
#   a. 5000 rows inserted in one transaction, values that COPY's text
#      format must escape (tab, newline, carriage return, backslash, "\.",
#      the text "\N"), SQL NULL, non-ASCII text, numerics, time zones,
#      jsonb, an array column: the target equals the source, the stop line
#      counts 5000 rows by COPY, and the target's row trigger fired once
#      per row.
#   b. a COPY that meets rows another writer inserted first: the same
#      transaction goes, on a second slot, through a configuration without
#      COPY (copy_min_rows: 0) into a twin table seeded alike; both targets
#      end identical (mapped columns from the source, the other writer's
#      own column kept) and their triggers saw the same writes: the rows
#      of the failed COPY left no trace.
#   c. a target that refuses COPY (as row-level security does) gets its
#      rows by the upsert, with one warning, and COPY is not tried again.
#   d. a load far larger than what libpq may hold unsent (256 KiB): the
#      source pauses and resumes while a COPY stays open (no result comes
#      back to wake it), and every row arrives.
#   e. the target backend is terminated while a COPY is open: walbridge
#      reconnects, and every row arrives, inserted exactly once (the row
#      trigger's log, which commits with the rows, has each id once).
# The mappings copy columns into their own types, so COPY goes in its
# binary format; test_copy_text (WB_TEST_VARIANT=text) runs it all again
# with text values, in COPY's text format with its escapes.
source "$(dirname "$0")/lib.sh"

q() { wb_psql -c "$1"; }
# stopsum LOG...: "rows by COPY/COPY runs applied again", summed over logs.
stopsum() {
    sed -n 's/.* \([0-9]*\) rows by COPY (\([0-9]*\) COPY runs.*/\1 \2/p' "$@" |
        awk '{r += $1; f += $2} END {print r + 0 "/" f + 0}'
}

wb_psql <<'SQL'
CREATE TABLE portal.bulk_src (
    id int PRIMARY KEY, name text, n numeric, at timestamptz, doc jsonb, tags text[]);
CREATE TABLE public.bulk_dst (
    id int PRIMARY KEY, name text, n numeric, at timestamptz, doc jsonb, tags text[],
    owner text DEFAULT 'walbridge');
CREATE TABLE public.bulk_dst0 (LIKE public.bulk_dst INCLUDING ALL);
CREATE SCHEMA testlog;
CREATE TABLE testlog.writes (tbl text, op text, id int, name text);
CREATE FUNCTION testlog.log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testlog.writes VALUES (TG_TABLE_NAME, TG_OP, NEW.id, NEW.name);
  RETURN NULL;
END $$;
CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON public.bulk_dst
  FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON public.bulk_dst0
  FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
SQL

mapping() { # NAME TO
    cat <<EOF
  - name: $1
    from: portal.bulk_src
    to: $2
    key: { id: id }
    columns: { name: name, n: n, at: at, doc: doc, tags: tags }
EOF
}
CFG=$WB_WORK/copy.yaml
wb_write_config "$CFG"
mapping bulk public.bulk_dst >>"$CFG"
CFG0=$WB_WORK/nocopy.yaml
wb_write_config "$CFG0" "${WB_SLOT}_nocopy"
mapping bulk0 public.bulk_dst0 >>"$CFG0"
sed -i 's/^  conninfo: ""$/  conninfo: ""\n  copy_min_rows: 0/' "$CFG0"
grep -q 'copy_min_rows: 0' "$CFG0" || fail "could not turn COPY off in $CFG0"
wb_run_until "$CFG"
wb_run_until "$CFG0"

# Rows of a table (mapped columns and owner) that differ from the source.
DIFF="SELECT count(*) FROM (
  (SELECT id, name, n, at, doc, tags FROM portal.bulk_src EXCEPT ALL SELECT id, name, n, at, doc, tags FROM %s)
  UNION ALL
  (SELECT id, name, n, at, doc, tags FROM %s EXCEPT ALL SELECT id, name, n, at, doc, tags FROM portal.bulk_src)) d"
diff_rows() { q "$(printf "$DIFF" "$1" "$1")"; }

echo "-- a. 5000 rows in one transaction, by COPY"
wb_psql <<'SQL'
INSERT INTO portal.bulk_src
SELECT g,
       CASE g % 9 WHEN 0 THEN E'tab\there' WHEN 1 THEN E'line\nbreak\r\n' WHEN 2 THEN E'back\\slash\\'
                  WHEN 3 THEN E'\\.' WHEN 4 THEN E'\\N' WHEN 5 THEN NULL WHEN 6 THEN 'été € 日本'
                  WHEN 7 THEN '' ELSE 'plain ' || g END,
       g * 1.5 - 0.001,
       timestamptz '2024-03-10 01:30:00 America/Los_Angeles' + g * interval '17 minutes',
       jsonb_build_object('g', g, 's', E'a\tb\\c'),
       ARRAY['x' || g, NULL, E'q"\\t']
FROM generate_series(1, 5000) g;
SQL
wb_run_until "$CFG"
assert_eq "$(diff_rows public.bulk_dst)" 0 "target equals the source, every awkward value included"
assert_eq "$(q "SELECT count(*) FROM public.bulk_dst")" 5000 "5000 rows"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "5000/0" "the stop line counts 5000 rows by COPY, none applied again"
assert_eq "$(q "SELECT count(*) || '/' || count(DISTINCT id) FROM testlog.writes WHERE tbl = 'bulk_dst' AND op = 'INSERT'")" \
    "5000/5000" "the row trigger fired once per row"
assert_eq "$(q "SELECT count(*) FROM public.bulk_dst WHERE owner = 'walbridge'")" 5000 "unmapped column got its default"
wb_run_until "$CFG0"
assert_eq "$(diff_rows public.bulk_dst0)" 0 "without COPY: the twin target equals the source too"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "0/0" "copy_min_rows 0: nothing by COPY"

echo "-- b. COPY meets rows another writer inserted: same end as the upsert"
for t in bulk_dst bulk_dst0; do
    q "INSERT INTO public.$t (id, name, owner) VALUES (6001, 'theirs', 'app'), (7500, 'theirs', 'app'), (9000, 'theirs', 'app')" >/dev/null
done
q "TRUNCATE testlog.writes" >/dev/null
q "INSERT INTO portal.bulk_src SELECT g, 'second ' || g, g, now(), '{}', '{}' FROM generate_series(6001, 8000) g" >/dev/null
wb_run_until "$CFG"
COPY_LOG=$WB_WORK/run.$WB_RUN_N.log
wb_run_until "$CFG0"
got=$(stopsum "$COPY_LOG")
[[ "${got#*/}" -ge 1 ]] || fail "no COPY run was applied again as an upsert ($got)"
ok "a COPY run met a row already there and was applied again as an upsert ($got)"
assert_eq "$(q "SELECT count(*) FROM ((TABLE public.bulk_dst EXCEPT ALL TABLE public.bulk_dst0)
                                      UNION ALL (TABLE public.bulk_dst0 EXCEPT ALL TABLE public.bulk_dst)) d")" 0 \
    "the target written by COPY equals the one written by the upsert, column for column"
assert_eq "$(q "SELECT string_agg(id || ':' || name || ':' || owner, ',' ORDER BY id) FROM public.bulk_dst WHERE id IN (6001, 7500, 9000)")" \
    "6001:second 6001:app,7500:second 7500:app,9000:theirs:app" \
    "rows already there: mapped columns from the source, the other writer's column kept"
assert_eq "$(diff_rows "(SELECT * FROM public.bulk_dst WHERE id <> 9000) t")" 0 "every source row arrived"
assert_eq "$(q "SELECT count(*) FROM ((SELECT op, id, name FROM testlog.writes WHERE tbl = 'bulk_dst' EXCEPT ALL
                                       SELECT op, id, name FROM testlog.writes WHERE tbl = 'bulk_dst0')
                                      UNION ALL
                                      (SELECT op, id, name FROM testlog.writes WHERE tbl = 'bulk_dst0' EXCEPT ALL
                                       SELECT op, id, name FROM testlog.writes WHERE tbl = 'bulk_dst')) d")" 0 \
    "the triggers saw the same writes on both: the failed COPY's rows left no trace"
assert_eq "$(q "SELECT count(*) FILTER (WHERE op = 'INSERT') || '/' || count(*) FILTER (WHERE op = 'UPDATE') FROM testlog.writes WHERE tbl = 'bulk_dst'")" \
    "1998/2" "1998 inserts and 2 updates, each once"

echo "-- c. a target that refuses COPY gets its rows by the upsert, with one warning"
# Row-level security refuses COPY FROM but not INSERT, for roles subject to
# it; the superuser of this test is not, so a trigger refuses COPY alike
# (feature_not_supported, not an error of the data).
wb_psql <<'SQL'
CREATE FUNCTION testlog.no_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_query() ~* '^\s*COPY' THEN
    RAISE EXCEPTION 'COPY refused by this target' USING ERRCODE = 'feature_not_supported';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER no_copy BEFORE INSERT ON public.bulk_dst FOR EACH ROW EXECUTE FUNCTION testlog.no_copy();
SQL
q "INSERT INTO portal.bulk_src SELECT g, 'third ' || g, g, now(), '{}', '{}' FROM generate_series(10001, 13000) g" >/dev/null
# A delete between the two loads ends the first run: two runs of inserts.
q "DELETE FROM portal.bulk_src WHERE id = 1" >/dev/null
q "INSERT INTO portal.bulk_src SELECT g, 'fourth ' || g, g, now(), '{}', '{}' FROM generate_series(20001, 23000) g" >/dev/null
wb_run_until "$CFG"
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "COPY refused by this target; applying its rows without COPY from now on"
assert_eq "$(grep -c 'WARNING' "$WB_WORK/run.$WB_RUN_N.log")" 1 "one warning: the second run did not try COPY"
assert_eq "$(diff_rows "(SELECT * FROM public.bulk_dst WHERE id <> 9000) t")" 0 "every source row arrived, by the upsert"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "0/0" "nothing by COPY"

echo "-- d. 300000 rows, a COPY after another, the source paused and resumed while they are open"
q "DROP TRIGGER no_copy ON public.bulk_dst" >/dev/null
# A target slower than walbridge (a row trigger with some work), so that
# COPY data piles up in libpq and the source pauses again and again.
wb_psql <<'SQL'
CREATE FUNCTION testlog.slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM md5(md5(md5(NEW.name)));
  RETURN NEW;
END $$;
CREATE TRIGGER slow BEFORE INSERT ON public.bulk_dst0 FOR EACH ROW EXECUTE FUNCTION testlog.slow();
SQL
CFGD=$WB_WORK/copy_d.yaml
wb_write_config "$CFGD" "${WB_SLOT}_d"
mapping bulk_d public.bulk_dst0 >>"$CFGD"
wb_run_until "$CFGD" # the slot
q "INSERT INTO portal.bulk_src SELECT g, repeat('x', 60) || g, g, now(), jsonb_build_object('g', g), ARRAY['a', 'b']
   FROM generate_series(100001, 400000) g" >/dev/null
wb_run_until "$CFGD"
# A COPY ends at 64000 rows or 4 MiB of values (these rows: about 23,000);
# the last run goes by COPY only if it has copy_min_rows (1000) rows.
sum=$(stopsum "$WB_WORK/run.$WB_RUN_N.log")
copied=${sum%/*}
((copied > 300000 - 1000 && copied <= 300000)) || fail "300000 rows, all but a last run under 1000 by COPY: $sum"
assert_eq "${sum#*/}" 0 "no COPY applied again as an upsert"
# Each COPY runs behind its own savepoint, so its rows share the xmin of
# one subtransaction: a COPY takes at most 64000 rows or 4 MiB, then the
# next.
# (A group under copy_min_rows is the last run's set statement.)
groups=$(q "SELECT count(*) FILTER (WHERE n >= 1000) || ' ' || max(n) || ' ' || string_agg(n::text, ',' ORDER BY x) FROM
            (SELECT xmin::text::bigint AS x, count(*) n FROM public.bulk_dst0
             WHERE id BETWEEN 100001 AND 400000 GROUP BY 1) c")
read -r ncopies maxn sizes <<<"$groups"
# These rows reach 4 MiB before 64000 rows: the byte bound ends each COPY.
((maxn < 64000 && maxn >= 16000 && ncopies >= copied / maxn)) ||
    fail "COPYs ended by the 4 MiB bound, under 64000 rows: rows per transaction $sizes"
ok "$copied rows in $ncopies COPYs, each ended by the 4 MiB bound under 64000 rows (rows per transaction: $sizes)"
assert_eq "$(q "SELECT count(*) FROM portal.bulk_src s JOIN public.bulk_dst0 t USING (id, name, n, at, doc, tags) WHERE s.id > 100000")" \
    300000 "every row arrived whole"

echo "-- e. the target backend terminated in the middle of a COPY"
q "TRUNCATE testlog.writes" >/dev/null
q "INSERT INTO portal.bulk_src SELECT g, 'fifth ' || g, g, now(), '{}', '{}' FROM generate_series(500001, 700000) g" >/dev/null
wb_start_bg "$CFGD"
# Polled until it lands: between two COPYs the backend runs other statements.
wb_wait_sql 60 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE query LIKE 'COPY %bulk_dst0%' AND state = 'active'
                  AND datname = current_database()" 1 \
    "a backend in the middle of a COPY into bulk_dst0 terminated"
wb_wait_sql 120 "SELECT count(*) FROM public.bulk_dst0 WHERE id > 500000" 200000 "all 200000 rows arrived after the reconnect"
rc=0
wb_stop_bg || rc=$?
assert_eq "$rc" 0 "walbridge stopped cleanly"
# libpq notices the closed connection on a read ("lost the target
# connection") or on a send (a statement, COPY data or the COPY's end),
# whichever comes first: either way it is a lost connection, retried, and
# not a target that refuses COPY.
grep -qE "lost the target connection|could not (send|send COPY data|end a COPY) (to|on) the target: server closed the connection" "$WB_LOG" ||
    fail "the terminated backend was not reported as a lost connection"
ok "the terminated backend was reported as a lost connection"
assert_not_contains "$WB_LOG" 'COPY into "public.bulk_dst0"' "and not taken for a target refusing COPY"
assert_contains "$WB_LOG" "reconnecting in"
assert_eq "$(q "SELECT count(*) || '/' || count(DISTINCT id) FROM testlog.writes WHERE tbl = 'bulk_dst0' AND id > 500000")" \
    "200000/200000" "each row inserted exactly once"
assert_eq "$(q "SELECT count(*) FROM portal.bulk_src s JOIN public.bulk_dst0 t USING (id, name, n, at, doc, tags) WHERE s.id > 500000")" \
    200000 "every row arrived whole"

echo "-- f. narrow rows: a COPY ends at 64000 rows, well under 4 MiB"
q "CREATE TABLE portal.narrow_src (id int PRIMARY KEY, n int);
   CREATE TABLE public.narrow_dst (id int PRIMARY KEY, n int)" >/dev/null
CFGF=$WB_WORK/copy_f.yaml
wb_write_config "$CFGF" "${WB_SLOT}_f"
cat >>"$CFGF" <<'EOF'
  - name: narrow
    from: portal.narrow_src
    to: public.narrow_dst
    key: { id: id }
    columns: { n: n }
EOF
wb_run_until "$CFGF" # the slot
q "INSERT INTO portal.narrow_src SELECT g, g FROM generate_series(1, 150000) g" >/dev/null
wb_run_until "$CFGF"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "150000/0" "150000 narrow rows by COPY"
assert_eq "$(q "SELECT string_agg(n::text, ',' ORDER BY x) FROM
               (SELECT xmin::text::bigint AS x, count(*) n FROM public.narrow_dst GROUP BY 1) c")" \
    "64000,64000,22000" "COPYs of 64000 rows, then the rest"

wb_assert_format
