#!/usr/bin/env bash
# test_types: values of every built-in type family round-trip exactly
# through a mapping portal.types_src -> public.types_dst (identical tables,
# every column mapped, key id -> id): insert, update every column, delete.
#
# Values travel as text, so the output settings of the walsender and the
# input settings of the apply session must agree.  The database defaults
# are set to everything that would break an unpinned walbridge:
#   TimeZone America/Los_Angeles (historic LMT offsets, DST gaps/overlaps),
#   DateStyle 'SQL, DMY' (day/month swapped, zone abbreviations like LMT
#   that do not parse), IntervalStyle sql_standard, extra_float_digits 0
#   (floats printed with 15/6 significant digits: lossy), bytea_output escape.
# The mapping copies every column into one of its own type, so walbridge
# reads values in binary format (source.binary: auto) and hands them to
# each type's receive function.  Run again as test_types_text
# (WB_TEST_VARIANT=text, source.binary: off) with values as text, read by
# the types' input functions, and as test_types_copy and
# test_types_copy_text, where every run of inserts goes by COPY ... FROM
# STDIN in the binary or the text format.
# Length-limited types (char(n), char(n)[], bpchar, varchar(n),
# numeric(p,s), bit(n)) must arrive whole whatever statements walbridge
# writes them with.  bit(n) lives in a table of its own, written in runs of
# its own.
# walbridge must pin its own settings on both connections: the comparison
# (full outer join on id, IS NOT DISTINCT FROM per column, output text per
# column and ::text of the whole row, with extra_float_digits=3) catches a
# lossy or misparsed value, and a trigger on the target records the
# settings of the session that really writes the rows.
source "$(dirname "$0")/lib.sh"

CFG=$WB_WORK/walbridge.yaml

echo "-- set-up: types, source and target tables, test data (schema testdata is not published)"
wb_psql <<'SQL'
CREATE TYPE portal.wbt_mood AS ENUM ('sad', 'ok', 'happy', 'très "happy", ok');
CREATE DOMAIN portal.wbt_code AS text CHECK (VALUE ~ '^[A-Z]{2,5}$');
CREATE TYPE portal.wbt_addr AS (street text, zip int, tags text[], amount numeric);

CREATE TABLE portal.types_src (
    id              int PRIMARY KEY,
    c_bool          boolean,
    c_int2          smallint,
    c_int4          integer,
    c_int8          bigint,
    c_oid           oid,
    c_numeric       numeric,
    c_numeric_s     numeric(30,10),
    c_float4        real,
    c_float8        double precision,
    c_money         money,
    c_char          char(10),
    c_varchar       varchar(20),
    c_text          text,
    c_name          name,
    c_char1         "char",
    c_bytea         bytea,
    c_date          date,
    c_time          time,
    c_timetz        timetz,
    c_timestamp     timestamp,
    c_timestamptz   timestamptz,
    c_interval      interval,
    c_json          json,
    c_jsonb         jsonb,
    c_xml           xml,
    c_uuid          uuid,
    c_enum          portal.wbt_mood,
    c_domain        portal.wbt_code,
    c_composite     portal.wbt_addr,
    c_int_arr       int[],
    c_text_arr      text[],
    c_int_arr2d     int[][],
    c_float4_arr    real[],
    c_float8_arr    double precision[],
    c_tstz_arr      timestamptz[],
    c_interval_arr  interval[],
    c_int4range     int4range,
    c_tstzrange     tstzrange,
    c_numrange      numrange,
    c_daterange     daterange,
    c_multirange    int4multirange,
    c_inet          inet,
    c_cidr          cidr,
    c_macaddr       macaddr,
    c_macaddr8      macaddr8,
    c_varbit        varbit,
    c_point         point,
    c_box           box,
    c_polygon       polygon,
    c_circle        circle,
    c_lseg          lseg,
    c_path          path,
    c_line          line,
    c_tsvector      tsvector,
    c_tsquery       tsquery,
    c_pg_lsn        pg_lsn,
    c_char_arr      char(10)[],
    c_bpchar        bpchar
);
CREATE TABLE public.types_dst (LIKE portal.types_src INCLUDING ALL);
-- bit(n) in a table of its own, written in runs of its own (see the end).
CREATE TABLE portal.bits_src (id int PRIMARY KEY, c_bit bit(12), c_bit_arr bit(4)[], c_varbit5 varbit(5));
CREATE TABLE public.bits_dst (LIKE portal.bits_src INCLUDING ALL);

CREATE SCHEMA testdata;
CREATE TABLE testdata.vals (LIKE portal.types_src INCLUDING ALL);
CREATE TABLE testdata.apply_settings (n bigserial PRIMARY KEY, op text, settings text);
CREATE FUNCTION testdata.record_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testdata.apply_settings (op, settings) VALUES (TG_OP,
    concat_ws(' | ', current_setting('DateStyle'), current_setting('IntervalStyle'),
              current_setting('extra_float_digits'), current_setting('TimeZone'),
              current_setting('client_encoding')));
  RETURN NULL;
END $$;
CREATE TRIGGER record_settings AFTER INSERT OR UPDATE ON public.types_dst
  FOR EACH ROW EXECUTE FUNCTION testdata.record_settings();
SQL

# The test data is written in a session with fixed settings (ISO input is
# unambiguous anyway); the database defaults set below only apply to the
# sessions that start afterwards, walbridge's among them.
wb_psql <<'SQL'
SET datestyle = 'ISO, YMD'; SET intervalstyle = postgres; SET timezone = 'America/Los_Angeles';
SELECT setseed(0.4242);
-- variant 1: extremes
INSERT INTO testdata.vals VALUES (1,
  true, -32768, -2147483648, 9223372036854775807, 4294967295,
  ('-' || repeat('98765432', 50) || '.' || repeat('0123456789', 50) || '1')::numeric,
  12345678901234567890.0123456789,
  0.1, 3.141592653589793,
  '-92233720368547758.08',
  'ab', 'x y  ',
  (SELECT string_agg(chr(19968 + (random() * 20000)::int), '') FROM generate_series(1, 1750000)),
  'Näme with spaces', '\300',
  (SELECT string_agg(set_byte('\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g),
  '0044-03-15 BC', '24:00:00', '23:59:59.999999-15:59',
  '294276-12-31 23:59:59.999999',
  '2024-03-10 01:59:59.999999-08',                        -- 1 us before the LA spring-forward gap
  '-178000000 years -11 mons -29 days -23:59:59.999999',
  E'{"a": 1,   "a" : 2,\n  "b": [1, 2 ,3], "c": "\\u00e9\\n"  }',
  '{"nested": {"x": [1, 2.50, null, true]}, "big": 1e400, "s": "é😀 \"q\""}',
  '<root a="1"><!-- c --><x>&amp;&lt;</x></root>',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'très "happy", ok', 'ABCDE',
  ROW(E'1 "Main" St, Apt \\ 2', 12345, ARRAY['a,b', NULL, ''], 1.50)::portal.wbt_addr,
  '{1,NULL,-2147483648,2147483647}',
  ARRAY['a,b', 'c"d', NULL, 'NULL', '', E'back\\slash', '{}', ' spaced ', 'ü', E'new\nline'],
  '{{1,2,3},{4,NULL,6}}',
  '{0.1,1e-45,3.4028235e38,-0,NaN,Infinity,1.17549435e-38}',
  '{0.1,1e-300,Infinity,-Infinity,-0,NaN,2.2250738585072014e-308,5e-324,1.7976931348623157e308,0.30000000000000004}',
  ARRAY['2024-11-03 01:30:00-07', '2024-11-03 01:30:00-08', '2024-03-10 03:00:00-07',
        'infinity', '-infinity', '1850-01-01 00:00:00+00', '4714-11-24 00:00:00+00 BC',
        '2000-01-01 00:00:00.000001+00']::timestamptz[],
  -- all-negative day/time intervals: sql_standard prints '-1 2:03:04',
  -- which IntervalStyle postgres reads as -1 days +02:03:04
  ARRAY['1 year 2 mons -3 days +04:05:06.789', '-1 days +02:03:04', '-1 days -02:03:04', '1 mon -1 sec',
        '@ 1 century', '00:00:00.000001', '-00:00:00.000001', '-1 years -2 mons -3 days -04:05:06']::interval[],
  '[1,10)', '[2024-03-10 01:00:00-08,infinity)', '(,5.50]', '[2000-01-01,)', '{[1,3), [5,7)}',
  '192.168.1.5/24', '2001:db8::/32', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  B'1',
  '(0.1,1e-300)', '(1,1),(0,0)', '((0,0),(1,0.5),(0.3333333333333333,1))', '<(0,0),0.1>',
  '[(0,0),(1,1)]', '[(0,0),(1,1),(2,0)]', '{1,-1,0.1}',
  'a fat:1A cat:2B sat:3,4C', 'fat & (rat | !cat)', 'FFFFFFFF/FFFFFFFF',
  '{ab,"c d",NULL}', 'unlimited bpchar  ');

-- variant 2: the other extremes, empties, NaN
INSERT INTO testdata.vals VALUES (2,
  false, 32767, 2147483647, -9223372036854775808, 0,
  'NaN', -0.0000000001,
  '-0', 1e-300,
  '92233720368547758.07',
  'ü', '',
  E'multi\nline\ttab "quoted" \\backslash ''single'' 漢字 \u00a0',
  'x', 'a',
  '\x',
  'infinity', '00:00:00.000001', '12:34:56.789+05:45',
  '2000-02-29 12:34:56.789012',
  '2024-11-03 01:30:00-07',                               -- first 01:30 (PDT)
  '1 year 2 mons -3 days +04:05:06.789',
  '  {"k":"v" ,"k":"w"}  ',
  '[1, "two", {"three": 3.000}, -0, 1e-5]',
  'plain text content',
  '00000000-0000-0000-0000-000000000000',
  'sad', 'ZZ',
  ROW(NULL, 0, '{}'::text[], NULL)::portal.wbt_addr,
  '{}',
  '[0:2]={x,y,z}',
  '{{1,2},{3,4}}',
  '{}', '{}', '{}', '{}',
  'empty', 'empty', 'empty', 'empty', '{}',
  '::ffff:1.2.3.4', '10.0.0.0/8', 'ff:ff:ff:ff:ff:ff', '00:00:00:ff:fe:00:00:00',
  B'',
  '(-1.5,NaN)', '(-1,-1),(-2,-2)', '((1,1))', '<(1e-300,2),3>',
  '[(0.1,0.2),(0.3,0.4)]', '((0,0),(1,1))', '{0,1,-3.5}',
  '', 'a:* <-> b', '0/0',
  '{}', 'x');

-- variant 3: more edge values (becomes all NULL in the update)
INSERT INTO testdata.vals VALUES (3,
  true, 0, 0, 0, 1,
  '1.500', 0,
  'Infinity', 'NaN',
  '0',
  ' lead', 'ünïcödé 漢字',
  'short',
  'y', E'\\',
  '\x00',
  '5874897-12-31', '12:00', '00:00:00+15:59',
  'infinity',
  '2024-11-03 01:30:00-08',                               -- second 01:30 (PST)
  'P-1Y-2M3DT-4H-5M-6.5S',
  'null',
  'null',
  '<a/>',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'happy', 'QQQ',
  ROW('', NULL, ARRAY[NULL]::text[], 'NaN')::portal.wbt_addr,
  '{0}',
  '{""}',
  '{{NULL}}',
  '{-0}', '{-0}', '{"1850-01-01 00:00:00+00"}', '{-178000000 years}',
  '[-2147483648,2147483647)', '(-infinity,2024-11-03 01:30:00-08]', '[NaN,NaN]', '(,)', '{[1,2), [3,4), [5,6)}',
  '0.0.0.0/0', '::/0', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff:ff:ff',
  B'10101010101010101010101010101010101',
  '(0,0)', '(0,0),(0,0)', '((0,0),(0,0))', '<(0,0),0>',
  '[(0,0),(0,0)]', '[(1,2)]', '{1,0,0}',
  'single', '!x', '16/B374D848',
  '{" lead"}', 'multi word');

-- variant 4: every column NULL
INSERT INTO testdata.vals (id) VALUES (4);

-- variants 11..14: the values the update writes into rows 1..4
INSERT INTO testdata.vals VALUES (11,
  false, 1, -1, -1, 2,
  (repeat('1', 1000) || '.' || repeat('9', 1000))::numeric, -99999999999999999999.9999999999,
  3.4028235e38, 2.2250738585072014e-308,
  '1234.56',
  '          ', 'tab	end',
  E'line1\r\nline2 \\N NULL',
  'another name', 'Z',
  '\xdeadbeef00ff',
  '4714-11-24 BC', '23:59:59.999999', '00:00:00-15:59',
  '4713-01-01 00:00:00 BC',
  '2024-03-10 03:00:00-07',                               -- first instant after the gap
  '-1 days +02:03:04',
  '{}',
  '{}',
  '<?xml version="1.0"?><doc>ü</doc>',
  '123e4567-e89b-12d3-a456-426614174000',
  'ok', 'AB',
  ROW('x', -1, ARRAY['"'], -0.0)::portal.wbt_addr,
  '[-5:-4]={1,2}',
  ARRAY[E'\t', '"', '\', ',', '{', '}', ' '],
  '{{{1,2}},{{3,4}}}',
  '{NaN}', '{-Infinity}', '{infinity}', '{"@ 1 century"}',
  '[0,1)', '[1850-01-01 00:00:00+00,1850-01-01 00:00:01+00)', '[0.1,0.2)', '[0044-03-15 BC,0044-03-16 BC)', '{[0,1)}',
  '10.1.2.3', '192.168.0.0/16', '01:02:03:04:05:06', '01:02:03:04:05:06:07:08',
  B'0',
  '(1e300,-1e-300)', '(3,4),(1,2)', '((0,0),(0,1),(1,1),(1,0))', '<(5,5),1e300>',
  '[(-1,-1),(1e-300,1e300)]', '((1,1),(2,2),(3,3))', '{-1,1,0}',
  'x:1 y:2', 'x | y', '1/1',
  '{xyz}', 'other');

INSERT INTO testdata.vals VALUES (12,
  true, 7, 7, 7, 7,
  '-Infinity', 1.0000000001,
  1e-45, 'Infinity',
  '-0.01',
  'z', 'quote''s',
  'sm',
  'n2', 'q',
  '\x5c',
  '2000-02-29', '00:00:00', '24:00:00+00',
  '1999-12-31 23:59:59.999999',
  '1850-01-01 00:00:00+00',                               -- LMT offset -07:52:58 in LA
  'P1Y2M3DT4H5M6.000001S',
  '"just a string"',
  '{"a": {"b": {"c": [[], {}]}}}',
  'x',
  '11111111-2222-3333-4444-555555555555',
  'très "happy", ok', 'HELLO',
  ROW('multi
line', 2147483647, ARRAY['NULL'], 1e-20)::portal.wbt_addr,
  '{1}',
  '{NULL}',
  '{{1},{2}}',
  '{0.30000000000000004}', '{0.30000000000000004}', '{"2024-11-03 08:30:00+00"}', '{"1 mon -1 sec"}',
  '[5,6)', '[,)', '[-1e-20,1e20]', '[2024-03-10,2024-11-03)', '{[-10,-5), [100,200)}',
  'fe80::1/64', '2001:db8:1234::/48', 'aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff:00:11',
  B'0000000000',
  '(Infinity,-Infinity)', '(1e-300,1e-300),(-1e-300,-1e-300)', '((1,2),(3,4),(5,6))', '<(1,1),0.30000000000000004>',
  '[(1,2),(3,4)]', '[(0,0),(0.1,0.2)]', '{0.30000000000000004,1,2}',
  'fat:1,2,3 rat:4', 'fat <2> rat', '0/1',
  '{"",NULL}', 'zz  ');

INSERT INTO testdata.vals (id) VALUES (13);

INSERT INTO testdata.vals VALUES (14,
  true, 42, 42, 42, 42,
  '0.000000000000000000000000000000000000000000000001', 42,
  -3.4028235e38, -1.7976931348623157e308,
  '0.01',
  'abcdefghij', 'twenty chars exactly',
  (SELECT string_agg(chr(256 + (random() * 5000)::int), '') FROM generate_series(1, 2600000)),
  'long name ' || repeat('n', 53), 'b',
  '\x0102030405',
  '1970-01-01', '13:14:15.161718', '13:14:15.161718+01',
  '1970-01-01 00:00:00',
  '2024-11-03 01:59:59.999999-07',                        -- 1 us before the LA fall-back
  '-3 days -04:05:06.000001',
  '1.5e400',
  '{"z": 1, "a": 2, "m": [true, false, null]}',
  '<a xmlns="urn:x"><b/>text</a>',
  '99999999-0000-4000-8000-000000000000',
  'sad', 'WXYZ',
  ROW('last', 1, ARRAY['x', 'y'], 3.14159265358979323846264338327950288)::portal.wbt_addr,
  '{-1,-2,-3}',
  ARRAY['only'],
  '{{7,8},{9,10},{11,12}}',
  '{1.5,-2.5}', '{1.5,-2.5}', '{"2024-03-10 10:00:00+00"}', '{"-00:00:00.000001"}',
  '(,5)', '(2024-11-03 08:30:00+00,2024-11-03 09:30:00+00)', '(1,2)', '[1970-01-01,1970-01-02]', '{(,0), [1,)}',
  '255.255.255.255/32', '0.0.0.0/32', '12:34:56:78:9a:bc', '12:34:56:78:9a:bc:de:f0',
  B'11',
  '(1,2)', '(10,10),(5,5)', '((0,0),(10,0),(10,10))', '<(1,2),3>',
  '[(0,0),(3,4)]', '[(0,0)]', '{2,3,4}',
  'zzz', 'zzz:*', '0/FFFFFFFF',
  '{abcdefghij}', 'last bpchar');
SQL

COLS=()
while IFS= read -r c; do COLS+=("$c"); done < <(wb_psql -c "SELECT attname FROM pg_attribute
    WHERE attrelid = 'portal.types_src'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum")
echo "columns besides id (${#COLS[@]}): ${COLS[*]}"
((${#COLS[@]} == 58)) || fail "expected 58 value columns, found ${#COLS[@]}"

# Types without a (meaningful) equality operator are compared as text only.
TEXT_ONLY=" c_json c_xml c_point c_box c_polygon c_circle c_lseg c_path c_line "

# Sanity of the test data itself: non-NULL variants have no NULL column,
# and every column of variant k differs from variant k+10 (the update
# really changes every column of every row).
nonnull_expr=""
changed_expr=""
for c in "${COLS[@]}"; do
    nonnull_expr+="${nonnull_expr:+ + }(v.$c IS NULL)::int"
    changed_expr+="${changed_expr:+ + }(a.$c::text IS NOT DISTINCT FROM b.$c::text)::int"
done
assert_eq "$(wb_psql -c "SELECT string_agg(id || ':' || ($nonnull_expr), ',' ORDER BY id) FROM testdata.vals v")" \
    "1:0,2:0,3:0,4:58,11:0,12:0,13:58,14:0" "test data: variants 1-3, 11, 12, 14 have no NULL column; 4 and 13 are all NULL"
assert_eq "$(wb_psql -c "SELECT string_agg(a.id || ':' || ($changed_expr), ',' ORDER BY a.id)
    FROM testdata.vals a JOIN testdata.vals b ON b.id = a.id + 10")" \
    "1:0,2:0,3:0,4:0" "test data: every column of variant k differs from variant k+10"
assert_eq "$(wb_psql -c "SELECT length(c_text) || '/' || octet_length(c_text) FROM testdata.vals WHERE id = 1")" \
    "1750000/5250000" "test data: variant 1 text is 5,250,000 bytes of 3-byte characters"
assert_eq "$(wb_psql -c "SELECT octet_length(c_bytea) || '/' || (SELECT count(DISTINCT get_byte(c_bytea, i)) FROM generate_series(0, 255) i)
    FROM testdata.vals WHERE id = 1")" "256/256" "test data: bytea holds all 256 byte values"

# Mapping: key id -> id, every other column to the same name (and the
# bit(n) table likewise).
{
    cat <<EOF
# written by $WB_TEST_SCRIPT
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
  slot: $WB_SLOT
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
$([[ "${WB_TEST_VARIANT:-}" == *text ]] && echo "  binary: off")
target:
  conninfo: ""
$([[ "${WB_TEST_VARIANT:-}" == copy* ]] && echo "  copy_min_rows: 1")
mappings:
  - name: types
    from: portal.types_src
    to: public.types_dst
    key: { id: id }
    columns:
EOF
    for c in "${COLS[@]}"; do printf '      %s: %s\n' "$c" "$c"; done
    cat <<EOF
  - name: bits
    from: portal.bits_src
    to: public.bits_dst
    key: { id: id }
    columns: { c_bit: c_bit, c_bit_arr: c_bit_arr, c_varbit5: c_varbit5 }
EOF
} >"$CFG"

# diff_sql SRC DST COL...: the rows of SRC and DST (full outer join on id)
# that differ, one row per id with the differing columns.
diff_sql() {
    local src=$1 dst=$2 c cond cmp=""
    shift 2
    for c in "$@"; do
        # format('%s') calls the type's output function (a cast to text
        # would not for xml, whose stored text can carry a declaration that
        # xml_out drops: the text protocol never carries it, nor does
        # PostgreSQL's own logical replication).
        cond="(s.$c IS NULL) <> (t.$c IS NULL) OR format('%s', s.$c) <> format('%s', t.$c)"
        [[ "$TEXT_ONLY" == *" $c "* ]] || cond="s.$c IS DISTINCT FROM t.$c OR $cond"
        cmp+="    CASE WHEN $cond THEN '$c' END,"$'\n'
    done
    printf '%s' "
SELECT coalesce(s.id, t.id) AS id,
       CASE WHEN s.id IS NULL THEN 'only in target'
            WHEN t.id IS NULL THEN 'only in source'
            WHEN (s.*)::text IS DISTINCT FROM (t.*)::text THEN 'row text differs'
            ELSE 'column differs' END AS problem,
       array_to_string(array_remove(ARRAY[
${cmp}    NULL], NULL), ', ') AS differing_columns
FROM $src s FULL JOIN $dst t ON t.id = s.id
WHERE s.id IS NULL OR t.id IS NULL OR (s.*)::text IS DISTINCT FROM (t.*)::text
   OR cardinality(array_remove(ARRAY[
${cmp}    NULL], NULL)) > 0"
}
DIFF_SQL=$(diff_sql portal.types_src public.types_dst "${COLS[@]}")

# Compared with the most precise text settings.
CMP_SET="SET extra_float_digits = 3; SET datestyle = ISO; SET intervalstyle = postgres; SET timezone = UTC;"

# assert_synced MSG EXPECTED_ROWS [SRC DST DIFF NCOLS]
assert_types_synced() {
    local msg=$1 expected_rows=$2 srct=${3:-portal.types_src} dstt=${4:-public.types_dst}
    local diff=${5:-$DIFF_SQL} ncols=${6:-${#COLS[@]}} n src tgt
    src=$(wb_psql -c "SELECT count(*) FROM $srct")
    tgt=$(wb_psql -c "SELECT count(*) FROM $dstt")
    n=$(wb_psql -c "$CMP_SET" -c "SELECT count(*) FROM ($diff) d")
    if [[ "$n" != 0 ]]; then
        echo "rows: source=$src target=$tgt, differing ids: $n" >&2
        wb_psql_table -c "$CMP_SET" -c "$diff ORDER BY 1" >&2 || true
        fail "$msg"
    fi
    assert_eq "$src/$tgt" "$expected_rows/$expected_rows" "$msg: row counts (source/target)"
    ok "$msg: all $ncols columns of all $src rows equal (IS NOT DISTINCT FROM and output text per column, ::text of the whole row)"
}

assert_apply_settings() {
    local got
    got=$(wb_psql -c "SELECT string_agg(DISTINCT regexp_replace(settings, '^ISO, [A-Z]+', 'ISO'), ' / ') FROM testdata.apply_settings")
    assert_eq "$got" "ISO | postgres | 3 | UTC | UTF8" \
        "$1: walbridge's apply session writes with DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, TimeZone UTC, UTF8"
}

echo "-- database defaults that break unpinned text round trips"
wb_psql -c "ALTER DATABASE $WB_DB SET timezone = 'America/Los_Angeles'" \
        -c "ALTER DATABASE $WB_DB SET datestyle = 'SQL, DMY'" \
        -c "ALTER DATABASE $WB_DB SET intervalstyle = 'sql_standard'" \
        -c "ALTER DATABASE $WB_DB SET extra_float_digits = 0" \
        -c "ALTER DATABASE $WB_DB SET bytea_output = 'escape'"
assert_eq "$(wb_psql -c "SELECT current_setting('TimeZone') || ' | ' || current_setting('DateStyle') || ' | ' ||
    current_setting('IntervalStyle') || ' | ' || current_setting('extra_float_digits') || ' | ' || current_setting('bytea_output')")" \
    "America/Los_Angeles | SQL, DMY | sql_standard | 0 | escape" "new sessions get the non-default database settings"
# What an unpinned session would print (shows why the pins matter).
echo "an unpinned session prints: float8 $(wb_psql -c "SELECT c_float8 FROM testdata.vals WHERE id = 1"), " \
     "timestamptz $(wb_psql -c "SELECT c_timestamptz FROM testdata.vals WHERE id = 12"), " \
     "interval $(wb_psql -c "SELECT c_interval FROM testdata.vals WHERE id = 2")"

echo "-- first run creates the publication and the slot"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM public.types_dst")" 0 "target is empty"

echo "-- step 1: insert rows 1-4 (variants 1-4)"
wb_psql -c "INSERT INTO portal.types_src SELECT * FROM testdata.vals WHERE id <= 4"
wb_run_until "$CFG"
assert_types_synced "after insert" 4
assert_apply_settings "after insert"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testdata.apply_settings WHERE op = 'INSERT'")" 4 \
    "4 rows written by walbridge (trigger on the target)"

echo "-- spot checks against literals (independent of the source table)"
SPOT=$(wb_psql -c "$CMP_SET" -c "SELECT concat_ws(' ',
    c_float8 = 3.141592653589793::float8, c_float8::text,
    c_float4::text, c_numeric::text = '-' || repeat('98765432', 50) || '.' || repeat('0123456789', 50) || '1',
    md5(c_text) = (SELECT md5(c_text) FROM testdata.vals WHERE id = 1), octet_length(c_text),
    c_bytea = (SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g),
    c_timestamptz::text, c_date::text, c_char1::text, c_float8_arr[5]::text)
  FROM public.types_dst WHERE id = 1")
assert_eq "$SPOT" "t 3.141592653589793 0.1 t t 5250000 t 2024-03-10 09:59:59.999999+00 0044-03-15 BC \\300 -0" \
    "target row 1: float8 pi, float4 0.1, 400+501-digit numeric, 5 MB text, 256-byte bytea, timestamptz, BC date, \"char\", -0"
SPOT=$(wb_psql -c "$CMP_SET" -c "SELECT concat_ws(' ', c_numeric::text, c_float4::text, c_int4range::text, c_json::text)
  FROM public.types_dst WHERE id = 2")
assert_eq "$SPOT" "NaN -0 empty   {\"k\":\"v\" ,\"k\":\"w\"}  " \
    "target row 2: numeric NaN, float4 -0, empty range, json with whitespace and duplicate keys verbatim"
SPOT=$(wb_psql -c "$CMP_SET" -c "SELECT concat_ws(' ', c_timestamptz::text, c_numeric::text, c_jsonb::text, (c_jsonb IS NULL)::text)
  FROM public.types_dst WHERE id = 3")
assert_eq "$SPOT" "2024-11-03 09:30:00+00 1.500 null false" \
    "target row 3: second 01:30 of the LA fall-back (PST), numeric scale kept, jsonb null is not SQL NULL"

echo "-- step 2: update every column of every row (1-3 -> variants 11-13, NULL row 4 -> variant 14)"
set_list=""
for c in "${COLS[@]}"; do set_list+="${set_list:+, }$c = v.$c"; done
wb_psql -c "UPDATE portal.types_src s SET $set_list FROM testdata.vals v WHERE v.id = s.id + 10"
src_row=""
val_row=""
for c in "${COLS[@]}"; do src_row+="${src_row:+, }s.$c"; val_row+="${val_row:+, }v.$c"; done
assert_eq "$(wb_psql -c "SELECT count(*) FROM portal.types_src s JOIN testdata.vals v ON v.id = s.id + 10
    WHERE ROW($src_row)::text IS NOT DISTINCT FROM ROW($val_row)::text")" 4 "source rows 1-4 now hold variants 11-14"
wb_run_until "$CFG"
assert_types_synced "after update" 4
assert_apply_settings "after update"
SPOT=$(wb_psql -c "$CMP_SET" -c "SELECT concat_ws(' ', c_timestamptz::text, c_interval::text, c_float4::text, c_tsvector::text)
  FROM public.types_dst WHERE id = 2")
assert_eq "$SPOT" "1850-01-01 00:00:00+00 1 year 2 mons 3 days 04:05:06.000001 1e-45 'fat':1,2,3 'rat':4" \
    "target row 2: LMT-era timestamptz, ISO 8601 interval input, float4 denormal, tsvector"
assert_eq "$(wb_psql -c "SELECT num_nulls(VARIADIC ARRAY[$(printf 'c_%s::text,' bool int2 numeric text bytea json | sed 's/,$//')]) FROM public.types_dst WHERE id = 3")" \
    6 "target row 3 became NULL in the update"
assert_eq "$(wb_psql -c "SELECT octet_length(c_text) > 5000000 AND md5(c_text) = (SELECT md5(c_text) FROM testdata.vals WHERE id = 14) FROM public.types_dst WHERE id = 4")" \
    t "target row 4: NULL -> another 5 MB text, byte for byte"

echo "-- step 3: delete two rows, update one column of another"
wb_psql -c "DELETE FROM portal.types_src WHERE id IN (1, 3)" \
        -c "UPDATE portal.types_src SET c_numeric = 'Infinity', c_interval = '-1 days +02:03:04' WHERE id = 4"
wb_run_until "$CFG"
assert_types_synced "after delete" 2
assert_eq "$(wb_psql -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.types_dst")" "2,4" \
    "target holds rows 2 and 4"

echo "-- bit(n): insert and update in runs of their own (a value the target refused would make walbridge"
echo "   apply the whole batch again another way, which must not hide how the other types travel)"
BITS_DIFF=$(diff_sql portal.bits_src public.bits_dst c_bit c_bit_arr c_varbit5)
wb_psql -c "INSERT INTO portal.bits_src VALUES (1, B'101010101010', '{1010,0001}', B'10101'),
                                               (2, B'000000000001', '{}', B''), (3, B'111111111111', NULL, B'1')"
wb_run_until "$CFG"
assert_types_synced "bit(n) after insert" 3 portal.bits_src public.bits_dst "$BITS_DIFF" 3
wb_psql -c "UPDATE portal.bits_src SET c_bit = ~c_bit, c_bit_arr = '{1111}', c_varbit5 = B'0'"
wb_run_until "$CFG"
assert_types_synced "bit(n) after update" 3 portal.bits_src public.bits_dst "$BITS_DIFF" 3

if [[ "${WB_TEST_VARIANT:-}" == copy* ]]; then
    # Rows 1-4 and bits 1-3 were inserted by COPY, none by the upsert.
    assert_eq "$(cat "$WB_WORK"/run.*.log | sed -n 's/.* \([0-9]*\) rows by COPY (\([0-9]*\) COPY.*/\1+\2/p' |
                 awk -F+ '{r += $1; f += $2} END {print r "/" f}')" "7/0" \
        "variant copy: the 7 inserted rows went by COPY, no COPY fell back"
fi

# Every run read the values in the format the variant asks for, and none
# had to read a stretch again as text (binary values all accepted).
format=binary
[[ "${WB_TEST_VARIANT:-}" == *text ]] && format=text
streamed=$(cat "$WB_WORK"/run.*.log | grep -c 'streaming from slot')
assert_eq "$(cat "$WB_WORK"/run.*.log | grep -c "streaming from slot.*, $format values")/$((streamed > 0))" \
    "$streamed/1" "every run streamed $format values"
assert_eq "$(cat "$WB_WORK"/run.*.log | grep -c 'reading the stream again')" "0" \
    "no stretch was read again as text"

# No run logged a warning or error: every value was accepted as sent (a
# statement the target refuses and walbridge retries another way is a bug
# even when the retry gets the values right).
cat "$WB_WORK"/run.*.log >"$WB_WORK/all_runs.log"
assert_not_contains "$WB_WORK/all_runs.log" "WARNING" "no walbridge run logged a WARNING"
assert_not_contains "$WB_WORK/all_runs.log" "ERROR" "no walbridge run logged an ERROR"
