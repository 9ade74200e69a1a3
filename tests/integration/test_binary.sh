#!/usr/bin/env bash
# test_binary: values in binary format, end to end, and every way back to
# text.  The mapping copies each column into one of its own type, so
# walbridge asks pgoutput for binary values (source.binary: auto).
#   a. 3000 rows inserted in one transaction (a binary COPY), then updates
#      and deletes of some (binary parameters, binary arrays): the target
#      equals the source; the log says binary values were streamed.
#      a2. The same with set statements (binary arrays: a table without
#      array columns, runs shorter than COPY's), varchar into text.
#   b. TOAST: an update that leaves a large value unchanged (the source
#      does not send it) keeps it on the target.
#   c. a COPY run that meets a row another writer inserted first rolls back
#      to its savepoint and is applied as an upsert: the target ends as
#      the source, the other writer's own column kept.
#   d. exactly once under kill -9 and a terminated walsender: while
#      transactions flow, walbridge is killed and its walsender terminated
#      a few times; every row is inserted on the target exactly once (a
#      trigger's log, which commits with the rows, has each id once).
#   e. a column changes type mid-stream on both sides (ALTER ... TYPE):
#      the stream is read again as text, and every row arrives.
#   f. a change the target refuses: the stretch is read again as text, and
#      the error (exit 4) is the one text values give.
#   h. (run before g) a configuration reload: the stream is started again
#      and the format chosen again, binary.
#   g. a mapping that computes values keeps the stream in text, and run
#      and walbridge check say why; so does source.binary: off.
source "$(dirname "$0")/lib.sh"

q() { wb_psql -c "$1"; }
stopsum() {
    sed -n 's/.* \([0-9]*\) rows by COPY (\([0-9]*\) COPY runs.*/\1 \2/p' "$@" |
        awk '{r += $1; f += $2} END {print r + 0 "/" f + 0}'
}

wb_psql <<'SQL'
CREATE TABLE portal.bin_src (
    id int PRIMARY KEY, name text, n numeric, at timestamptz, tags int[],
    span interval, big text);
CREATE TABLE public.bin_dst (
    id int PRIMARY KEY, name text, n numeric, at timestamptz, tags int[],
    span interval, big text, owner text DEFAULT 'walbridge');
CREATE TABLE portal.flat_src (
    id bigint PRIMARY KEY, name varchar(40), n numeric(12,3), at timestamptz,
    span interval, flag bool, u uuid, b bytea, d date);
CREATE TABLE public.flat_dst (LIKE portal.flat_src INCLUDING ALL);
ALTER TABLE public.flat_dst ALTER COLUMN name TYPE text;
CREATE SCHEMA testlog;
CREATE TABLE testlog.writes (op text, id int);
CREATE FUNCTION testlog.log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testlog.writes VALUES (TG_OP, NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER log_write AFTER INSERT ON public.bin_dst
  FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
SQL

CFG=$WB_WORK/binary.yaml
cat >"$CFG" <<EOF
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
target:
  conninfo: ""
mappings:
  - name: bin
    from: portal.bin_src
    to: public.bin_dst
    key: { id: id }
    columns: { name: name, n: n, at: at, tags: tags, span: span, big: big }
  - name: flat
    from: portal.flat_src
    to: public.flat_dst
    key: { id: id }
    columns: { name: name, n: n, at: at, span: span, flag: flag, u: u, b: b, d: d }
EOF
wb_run_until "$CFG"

COLS="id, name, n, at, tags, span, big"
DIFF="SELECT count(*) FROM (
  (SELECT $COLS FROM portal.bin_src EXCEPT ALL SELECT $COLS FROM public.bin_dst)
  UNION ALL
  (SELECT $COLS FROM public.bin_dst EXCEPT ALL SELECT $COLS FROM portal.bin_src)) d"
synced() { # MSG
    assert_eq "$(q "$DIFF")" 0 "$1: the target equals the source"
}
lastlog() { echo "$WB_WORK/run.$WB_RUN_N.log"; }

echo "-- a. inserts by binary COPY, updates and deletes with binary values"
wb_psql <<'SQL'
INSERT INTO portal.bin_src
SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'name ' || g || E'\t\\ é' END,
       g * 1.5 - 0.25, '2026-01-01 00:00+05'::timestamptz + g * interval '1 min',
       ARRAY[g, NULL, -g], make_interval(days => g, secs => g / 10.0), NULL
FROM generate_series(1, 3000) g;
SQL
q "UPDATE portal.bin_src SET n = -n, name = name || '!' WHERE id % 3 = 0" >/dev/null
q "DELETE FROM portal.bin_src WHERE id % 10 = 0" >/dev/null
wb_run_until "$CFG"
synced "a"
assert_contains "$(lastlog)" "binary values" "a: the stream carried binary values"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "3000/0" "a: the 3000 inserts went by COPY"
assert_eq "$(q "SELECT count(*) FROM testlog.writes")" 3000 "a: the row trigger fired once per insert"

echo "-- a2. set statements over binary arrays (no array column, runs below COPY's 1000 rows)"
wb_psql <<'SQL' >/dev/null
INSERT INTO portal.flat_src
SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'flat ' || g END, g / 7.0,
       CASE WHEN g % 6 = 0 THEN NULL ELSE '2000-02-29 12:00+01'::timestamptz - g * interval '1 day' END,
       make_interval(months => g, secs => -g), g % 2 = 0, md5(g::text)::uuid,
       decode(lpad(to_hex(g), 8, '0') || '00ff', 'hex'), '2024-02-29'::date + g
FROM generate_series(1, 900) g;
UPDATE portal.flat_src SET n = -n, flag = NOT flag, b = NULL WHERE id % 2 = 1;
DELETE FROM portal.flat_src WHERE id % 9 = 0;
SQL
wb_run_until "$CFG"
FLAT="id, name, n, at, span, flag, u, b, d"
assert_eq "$(q "SELECT count(*) FROM (
  (SELECT $FLAT FROM portal.flat_src EXCEPT ALL SELECT $FLAT FROM public.flat_dst)
  UNION ALL (SELECT $FLAT FROM public.flat_dst EXCEPT ALL SELECT $FLAT FROM portal.flat_src)) d")/$(q "SELECT count(*) FROM public.flat_dst")" \
    "0/800" "a2: the target equals the source (varchar copied into text)"
assert_contains "$(lastlog)" "binary values" "a2: binary values"
# A binary statement the target refused would be applied again as text
# and hide here: none was.
assert_not_contains "$WB_LOG" "reading the stream again" "a-a2: no stretch was read again as text"

echo "-- b. an unchanged TOAST value stays"
q "UPDATE portal.bin_src SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g) WHERE id = 1" >/dev/null
wb_run_until "$CFG"
q "UPDATE portal.bin_src SET n = 42 WHERE id = 1" >/dev/null
wb_run_until "$CFG"
assert_eq "$(q "SELECT length(big) || '/' || n FROM public.bin_dst WHERE id = 1")" "128000/42" \
    "b: the large value kept, the changed one written"
synced "b"

echo "-- c. a COPY run that meets another writer's row"
q "INSERT INTO public.bin_dst (id, name, owner) VALUES (3500, 'theirs', 'other')" >/dev/null
q "TRUNCATE testlog.writes" >/dev/null
q "INSERT INTO portal.bin_src (id, name, n) SELECT g, 'late ' || g, g FROM generate_series(3001, 4000) g" >/dev/null
wb_run_until "$CFG"
synced "c"
assert_eq "$(stopsum "$WB_WORK/run.$WB_RUN_N.log")" "0/1" "c: the COPY run was applied again as an upsert"
assert_eq "$(q "SELECT owner FROM public.bin_dst WHERE id = 3500")" other "c: the other writer's column kept"
assert_eq "$(q "SELECT count(*) FROM testlog.writes")" 999 \
    "c: the failed COPY left no trigger writes (999 inserts, one update)"

echo "-- d. exactly once under kill -9 and a terminated walsender"
# Updates are logged too: an insert or update applied twice (a replayed
# transaction) would add a write.
wb_psql <<'SQL' >/dev/null
TRUNCATE testlog.writes;
DROP TRIGGER log_write ON public.bin_dst;
CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON public.bin_dst
  FOR EACH ROW EXECUTE FUNCTION testlog.log_write();
SQL
kills=0
for round in 1 2 3 4 5 6; do
    wb_start_bg "$CFG"
    for i in 1 2 3 4 5; do
        base=$((100000 + (round * 5 + i) * 1000))
        q "INSERT INTO portal.bin_src (id, name, n, at, tags) SELECT g, 'd' || g, g / 3.0, now(), ARRAY[g] FROM generate_series($base, $base + 799) g" >/dev/null
        q "UPDATE portal.bin_src SET n = n + 1 WHERE id BETWEEN $base AND $base + 99" >/dev/null
    done
    sleep 0.$((RANDOM % 5 + 2))
    if ((round % 3 == 0)); then
        q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$WB_SLOT' AND active_pid IS NOT NULL" >/dev/null
        sleep 0.5
        wb_bg_check_alive
        wb_stop_bg || true
    else
        kill -9 "$WB_BG_PID"
        wait "$WB_BG_PID" 2>/dev/null || true
        wb_forget_bg "$WB_BG_PID"
        kills=$((kills + 1))
        wb_wait_server_released
    fi
done
wb_run_until "$CFG"
synced "d"
assert_eq "$kills" 4 "d: walbridge was killed 4 times"
assert_eq "$(q "SELECT count(*) FILTER (WHERE op = 'INSERT') || '/' || count(DISTINCT id) FILTER (WHERE op = 'INSERT') || '/' || count(*) FILTER (WHERE op = 'UPDATE') FROM testlog.writes")" \
    "24000/24000/3000" "d: every insert and update applied exactly once"
assert_not_contains "$WB_LOG" "reading the stream again" "d: no stretch fell back to text"

echo "-- e. a column changes type mid-stream"
q "INSERT INTO portal.bin_src (id, name, tags) VALUES (5001, 'before', '{1,2}')" >/dev/null
q "ALTER TABLE portal.bin_src ALTER COLUMN tags TYPE bigint[]" >/dev/null
q "ALTER TABLE public.bin_dst ALTER COLUMN tags TYPE bigint[]" >/dev/null
q "INSERT INTO portal.bin_src (id, name, tags) VALUES (5002, 'after', '{9000000000}')" >/dev/null
wb_run_until "$CFG"
synced "e"
assert_contains "$(lastlog)" 'reading the stream again with values as text: column "tags" of relation "portal.bin_src" changed type' \
    "e: the old type was noticed and the stream read again as text"
q "INSERT INTO portal.bin_src (id, name, tags) VALUES (5003, 'next run', '{1}')" >/dev/null
wb_run_until "$CFG"
synced "e, next run"
assert_contains "$(lastlog)" "binary values" "e: the next run reads binary values again"

echo "-- f. a change the target refuses is reported with its key in text"
q "ALTER TABLE public.bin_dst ADD CONSTRAINT small_n CHECK (n < 1000000)" >/dev/null
q "INSERT INTO portal.bin_src (id, name, n) VALUES (6001, 'too big', 5000000)" >/dev/null
rc=0
wb_exec "$WB_WORK/run.f.log" 120 run -c "$CFG" --until now || rc=$?
assert_eq "$rc" 4 "f: walbridge stops with the data error's exit code"
assert_contains "$WB_WORK/run.f.log" "reading the stream again with values as text" \
    "f: the failing stretch was read again as text"
assert_contains "$WB_WORK/run.f.log" 'could not upsert into "public.bin_dst" for mapping "bin"' \
    "f: the error names the target and the mapping"
assert_contains "$WB_WORK/run.f.log" "Failing row contains (6001, too big, 5000000," \
    "f: and the row"
assert_not_contains "$WB_WORK/run.f.log" "(binary)" "f: no binary value in the error"
q "ALTER TABLE public.bin_dst DROP CONSTRAINT small_n" >/dev/null
wb_run_until "$CFG"
synced "f, after the fix"

echo "-- h. a reload: the next session chooses the format again"
wb_start_bg "$CFG"
wb_wait_sql 30 "SELECT active FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t "h: the slot is active"
sed -i 's/^    columns: { name: name, n: n, at: at, span: span, flag: flag, u: u, b: b, d: d }$/    columns: { name: name, n: n, at: at, span: span, flag: flag, u: u, b: b }/' "$CFG"
kill -HUP "$WB_BG_PID"
deadline=$((SECONDS + 30))
until grep -qF "reloaded configuration" "$WB_LOG"; do
    ((SECONDS < deadline)) || fail "h: the configuration was not reloaded within 30 s"
    wb_bg_check_alive
    sleep 0.1
done
q "INSERT INTO portal.flat_src (id, name, d) VALUES (7001, 'after reload', '2030-01-01')" >/dev/null
wb_wait_sql 30 "SELECT name || coalesce(d::text, '-') FROM public.flat_dst WHERE id = 7001" "after reload-" \
    "h: the reloaded mapping applies (d no longer mapped)"
wb_stop_bg
assert_contains "$WB_LOG" 'reading the stream again: mapping "flat" cannot read values in binary format' \
    "h: the router of the reloaded configuration asked for the stream again"
assert_eq "$(sed -n '/reloaded configuration/,$p' "$WB_LOG" | grep -c 'streaming from slot.*binary values')" 1 \
    "h: and got binary values again"

echo "-- g. computed values and source.binary: off keep text"
sed 's/^    columns: { name: name, n: n, at: at, tags: tags, span: span, big: big }$/    columns: { n: n, at: at, tags: tags, span: span, big: big }\n    values: { name: { concat: [name, name] } }/' "$CFG" >"$WB_WORK/expr.yaml"
grep -q concat "$WB_WORK/expr.yaml" || fail "could not write expr.yaml"
wb_run_until "$WB_WORK/expr.yaml"
assert_contains "$(lastlog)" 'values are read as text: mapping "bin" computes values' \
    "g: a mapping with values reads text, and says why"
wb_exec "$WB_WORK/check.expr.log" 60 check -c "$WB_WORK/expr.yaml" || fail "check -c expr.yaml failed"
assert_contains "$WB_WORK/check.expr.log" 'values will be read as text: mapping "bin" computes values' \
    "g: walbridge check tells the same"
wb_exec "$WB_WORK/check.bin.log" 60 check -c "$CFG" || fail "check -c $CFG failed"
assert_contains "$WB_WORK/check.bin.log" "values will be read in binary format" \
    "g: walbridge check tells when values will be binary"
sed 's/^  schemas: \[portal, public, salesforce\]$/&\n  binary: off/' "$CFG" >"$WB_WORK/off.yaml"
wb_run_until "$WB_WORK/off.yaml"
assert_contains "$(lastlog)" "text values" "g: source.binary: off reads text"
assert_not_contains "$(lastlog)" "values are read as text" "g: off needs no reason logged"

