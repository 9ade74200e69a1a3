#!/usr/bin/env bash
# test_skip_unchanged_types: skip_unchanged on columns whose type has no
# equality operator (json, point).  ROW(c) IS DISTINCT FROM ROW(v) does not
# even parse on them ("operator does not exist: json = json"), so such
# columns are compared by their text:
#   a. inserts (set-based upserts) and updates (row statements) of a
#      mapping with skip_unchanged: true arrive; an update that leaves the
#      json and point values as they were (and n) writes nothing, one that
#      changes the json is written, and so is one that only respaces it
#      (json is compared by its text);
#   b. an online re-sync of that mapping (its rows go in with
#      skip_unchanged) repairs planted drift in the json and point columns,
#      and leaves the rows already right unwritten.
source "$(dirname "$0")/lib.sh"

wb_psql <<'SQL'
CREATE TABLE portal.docs (id integer PRIMARY KEY, doc json, pt point, n integer);
CREATE TABLE salesforce.docs (id serial PRIMARY KEY, external_id__c varchar(20) UNIQUE,
                              doc__c json, pt__c point, n__c integer);
SQL
CFG=$WB_WORK/walbridge.yaml
wb_config_mappings "$CFG" <<'EOF'
mappings:
  - name: docs
    from: portal.docs
    to: salesforce.docs
    key: { id: external_id__c }
    columns: { doc: doc__c, pt: pt__c, n: n__c }
    skip_unchanged: true
EOF
xmin() { wb_psql -c "SELECT xmin::text FROM salesforce.docs WHERE external_id__c = '$1'"; }
row() { wb_psql -c "SELECT doc__c::text || '|' || pt__c::text || '|' || n__c FROM salesforce.docs WHERE external_id__c = '$1'"; }

echo "-- a. inserts and updates"
wb_run_until "$CFG"
wb_psql -c "INSERT INTO portal.docs SELECT g, json_build_object('a', g), point(g, g), g FROM generate_series(1, 40) g"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM salesforce.docs")" 40 "every row arrived (json and point columns, skip_unchanged)"
assert_eq "$(row 7)" '{"a" : 7}|(7,7)|7' "their values"
before=$(xmin 7)
wb_psql -c "UPDATE portal.docs SET n = n WHERE id = 7"
wb_run_until "$CFG"
assert_eq "$(xmin 7)" "$before" "an update that changes nothing mapped writes nothing"
wb_psql -c "UPDATE portal.docs SET doc = '{\"a\": 70}' WHERE id = 7"
wb_run_until "$CFG"
assert_eq "$(row 7)" '{"a": 70}|(7,7)|7' "an update of the json column is written"
wb_psql -c "UPDATE portal.docs SET doc = '{\"a\":   70}' WHERE id = 7"
wb_run_until "$CFG"
assert_eq "$(row 7)" '{"a":   70}|(7,7)|7' "json compares by its text: other whitespace is a change, and is written"

echo "-- b. an online re-sync repairs drift in them"
wb_psql -c "UPDATE salesforce.docs SET doc__c = '{\"a\": -1}' WHERE external_id__c IN ('1', '2');
            UPDATE salesforce.docs SET pt__c = point(0, 0) WHERE external_id__c = '3'"
kept=$(xmin 10)
wb_start_bg "$CFG"
pid=$WB_BG_PID
rc=0
wb_exec "$WB_WORK/resync" 60 resync -c "$CFG" --mapping docs || rc=$?
assert_eq "$rc" 0 "walbridge resync exits 0"
wb_stop_bg "$pid"
assert_eq "$(row 1)|$(row 2)|$(row 3)" '{"a" : 1}|(1,1)|1|{"a" : 2}|(2,2)|2|{"a" : 3}|(3,3)|3' \
    "the drifted json and point values are the source's again"
assert_eq "$(xmin 10)" "$kept" "a row already right was not written"
assert_not_contains "$WB_LOG" "operator does not exist" "no statement compared json or point with ="
assert_eq "$(wb_psql -c "SELECT count(*) FROM portal.docs s FULL JOIN salesforce.docs t ON t.external_id__c = s.id::text
                         WHERE s.id IS NULL OR t.id IS NULL OR t.doc__c::text IS DISTINCT FROM s.doc::text
                            OR NOT t.pt__c ~= s.pt OR t.n__c IS DISTINCT FROM s.n")" 0 \
    "the target equals the mapped source"
echo "PASS: test_skip_unchanged_types ($WB_CHECKS checks)"
