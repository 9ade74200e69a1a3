#!/usr/bin/env bash
# test_casts: { cast: E, to: T } gives what PostgreSQL gives, or its error.
# - integer, bigint, numeric, boolean, text (evaluated by walbridge):
#   wb_cast_compare casts several hundred tricky inputs both ways, by
#   walbridge and by SELECT CAST($1 AS T)::text on this server, and
#   compares value by value (text, or error message);
# - date (cast by the target, in walbridge's statement): a real walbridge
#   run copies dates with BC, infinity, epoch, time zones, Julian days,
#   timestamps ... into text, date, varchar and timestamptz columns,
#   set-based and row by row (skip_unchanged), each compared with
#   CAST(d AS date) on the server, as assigned to the column;
#   a value that is no date stops walbridge with PostgreSQL's error naming
#   the relation, the column and the LSN, the position left before it;
# - a date cast inside another expression is refused when the file loads.
source "$(dirname "$0")/lib.sh"

echo "-- C casts against the server's input and output functions"
[[ -x "${WB_CAST_COMPARE:-}" ]] || fail "WB_CAST_COMPARE is not set to the wb_cast_compare binary (tests/CMakeLists.txt)"
out=$WB_WORK/compare.out
rc=0
"$WB_CAST_COMPARE" "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB" >"$out" 2>&1 || rc=$?
cat "$out"
assert_eq "$rc" 0 "walbridge's casts give what PostgreSQL's give, value by value"
summary=$(tail -n 1 "$out")
[[ "$summary" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] || fail "unexpected summary: $summary"
assert_ge "${BASH_REMATCH[1]}" 400 "inputs compared"

echo "-- dates through a real walbridge run"
wb_psql <<'SQL'
CREATE TABLE portal.cast_dates (id integer PRIMARY KEY, d text);
CREATE TABLE salesforce.cast_set (
    id             serial PRIMARY KEY,
    external_id__c varchar(20) UNIQUE,
    d_text__c      text,
    d_date__c      date,
    d_vc__c        varchar(13),
    d_ts__c        timestamptz
);
CREATE TABLE salesforce.cast_row (
    id             serial PRIMARY KEY,
    external_id__c varchar(20) UNIQUE,
    d_text__c      text,
    d_date__c      date,
    d_vc__c        varchar(13),
    d_ts__c        timestamptz
);
SQL

CFG=$WB_WORK/walbridge.yaml
wb_config_mappings "$CFG" <<'EOF'
mappings:
  - name: dates_set
    from: portal.cast_dates
    to: salesforce.cast_set
    key: { id: external_id__c }
    values:
      d_text__c: { cast: d, to: date }
      d_date__c: { cast: d, to: date }
      d_vc__c: { cast: d, to: date }
      d_ts__c: { cast: d, to: date }
  - name: dates_row
    from: portal.cast_dates
    to: salesforce.cast_row
    key: { id: external_id__c }
    skip_unchanged: true
    values:
      d_text__c: { cast: d, to: date }
      d_date__c: { cast: d, to: date }
      d_vc__c: { cast: d, to: date }
      d_ts__c: { cast: d, to: date }
EOF
wb_run_until "$CFG"

# Dates as PostgreSQL reads them (DateStyle ISO, MDY; TimeZone of the
# server): the expected values below are the server's own CAST.
wb_psql <<'SQL'
INSERT INTO portal.cast_dates (id, d) VALUES
  (1, '2024-02-29'), (2, '0044-03-15 BC'), (3, 'infinity'), (4, '-infinity'),
  (5, 'epoch'), (6, '2024-01-01 23:30:00-08'), (7, '2024-01-01T10:00:00Z'),
  (8, '20240101'), (9, 'Jan 8 1999'), (10, 'J2451187'),
  (11, '2024-06-30 12:34:56.789+05:30'), (12, '1/8/1999'), (13, ' 2024-02-29 '),
  (14, '08-Jan-99'), (15, '0001-01-01 BC'), (16, '4713-11-24 BC'),
  (17, '294276-12-31'), (18, 'January 8, 99 BC'), (19, '2024-01-01 America/New_York'),
  (20, '2024-02-29 24:00:00'), (21, NULL), (22, '1999.008'),
  (23, 'Sat Jan 08 1999'), (24, '2024-12-31 allballs');
SQL
wb_run_until "$CFG"
for t in cast_set cast_row; do
    got=$(wb_psql -c "SELECT count(*) FROM salesforce.$t")
    assert_eq "$got" 24 "$t: every row arrived"
    diff=$(wb_psql -c "SELECT s.id || ': ' || coalesce(s.d, 'NULL') || ' -> ' ||
                              coalesce(t.d_text__c, 'NULL') || ' / ' || coalesce(t.d_date__c::text, 'NULL')
                       FROM portal.cast_dates s
                       JOIN salesforce.$t t ON t.external_id__c = s.id::text
                       WHERE t.d_text__c IS DISTINCT FROM CAST(s.d AS date)::text
                          OR t.d_date__c IS DISTINCT FROM CAST(s.d AS date)
                          OR t.d_vc__c IS DISTINCT FROM CAST(s.d AS date)::text
                          OR t.d_ts__c IS DISTINCT FROM CAST(s.d AS date)::timestamptz")
    assert_eq "$diff" "" "$t: text, date, varchar and timestamptz columns hold CAST(d AS date), as assigned"
done
assert_eq "$(wb_psql -c "SELECT d_text__c || '|' || d_date__c FROM salesforce.cast_row WHERE external_id__c = '2'")" \
    "0044-03-15 BC|0044-03-15 BC" "a BC date stays BC"
assert_eq "$(wb_psql -c "SELECT d_text__c FROM salesforce.cast_set WHERE external_id__c = '3'")" \
    "infinity" "infinity stays infinity"

echo "-- skip_unchanged compares the cast value with the column's"
before=$(wb_psql -c "SELECT xmin::text FROM salesforce.cast_row WHERE external_id__c = '1'")
wb_psql -c "UPDATE portal.cast_dates SET d = '2024-02-29 00:00' WHERE id = 1"
wb_psql -c "UPDATE portal.cast_dates SET d = '0044-03-16 BC' WHERE id = 2"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT xmin::text FROM salesforce.cast_row WHERE external_id__c = '1'")" \
    "$before" "an update to another spelling of the same date writes nothing"
assert_eq "$(wb_psql -c "SELECT d_text__c || '|' || d_date__c FROM salesforce.cast_row WHERE external_id__c = '2'")" \
    "0044-03-16 BC|0044-03-16 BC" "an update to another date is written"

echo "-- a value that is no date stops walbridge with PostgreSQL's error"
for t in set row; do
    sed -i "/name: dates_row/,\$d" "$CFG"
    [[ $t == row ]] && sed -i 's/^    to: salesforce.cast_set$/    to: salesforce.cast_set\n    skip_unchanged: true/' "$CFG"
    stored=$(wb_stored_lsn)
    wb_psql -c "INSERT INTO portal.cast_dates VALUES (100, '2024-02-31')"
    out=$WB_WORK/bad.$t.log
    rc=0
    wb_exec "$out" 120 run -c "$CFG" --until now || rc=$?
    cat "$out"
    assert_eq "$rc" 4 "$t: exit code 4 (data error)"
    assert_contains "$out" 'date/time field value out of range: "2024-02-31"' "$t: PostgreSQL's message"
    assert_contains "$out" 'salesforce.cast_set' "$t: the relation is named"
    assert_contains "$out" 'column "d_text__c"' "$t: the column is named"
    assert_contains "$out" 'LSN 0/' "$t: the LSN is named"
    assert_eq "$(wb_stored_lsn)" "$stored" "$t: the stored position did not move"
    assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.cast_set WHERE external_id__c = '100'")" 0 \
        "$t: nothing of the failed transaction was applied"
    wb_psql -c "DELETE FROM portal.cast_dates WHERE id = 100"
    # The stream still holds the bad insert (and now its delete): move on
    # past both with a mapping that does not cast.
    cp "$CFG" "$CFG.cast"
    sed -i 's/d_text__c: { cast: d, to: date }/d_text__c: d/; /d_[a-z]*__c: { cast: d, to: date }/d' "$CFG"
    wb_run_until "$CFG"
    mv "$CFG.cast" "$CFG"
done

echo "-- a date cast inside another expression is refused when the file loads"
n=0
for expr in '{ lower: { cast: d, to: date } }' \
    '{ lookup: { table: salesforce.cast_row, match: d_date__c, column: d_text__c }, from: { cast: d, to: date } }'; do
    n=$((n + 1))
    BAD=$WB_WORK/nested$n.yaml
    wb_write_config "$BAD"
    sed -i '/^mappings:/,$d' "$BAD"
    cat >>"$BAD" <<EOF
mappings:
  - name: nested
    from: portal.cast_dates
    to: salesforce.cast_set
    key: { id: external_id__c }
    values:
      d_text__c: $expr
EOF
    out=$WB_WORK/nested$n.log
    rc=0
    wb_exec "$out" 60 check -c "$BAD" --offline || rc=$?
    cat "$out"
    assert_eq "$rc" 3 "$expr: exit code 3 (invalid configuration)"
    # file:line:column of the "cast" key
    pos=$(awk '/d_text__c:/ { print NR ":" index($0, "cast: d") }' "$BAD")
    assert_contains "$out" "nested$n.yaml:$pos: a cast to date must be the whole expression of a target column" \
        "$expr: the file, line and column, and why"
    assert_contains "$out" 'Cast the whole expression instead' "$expr: a hint says what to do"
done

echo "PASS: test_casts ($WB_CHECKS checks)"
