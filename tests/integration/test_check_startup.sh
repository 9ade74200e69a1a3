#!/usr/bin/env bash
# test_check_startup: `walbridge check` runs every start-up check that
# `walbridge run` runs (one list, lib/check/startup.c).  For each refusal run
# makes at start, check refuses first with the same exit code and the same
# FATAL, DETAIL and HINT lines, and run indeed refuses the same way before
# it creates anything (no slot, origin, progress schema):
#   - conflict by commit_time with progress: table            exit 3
#   - conflict by commit_time, progress: auto, for a role that
#     may not use replication origins (so progress would be a table)  exit 3
#   - progress: origin for that role                           exit 6
#   - a conflict policy on a source without REPLICA IDENTITY FULL  exit 6
#   - conflict by commit_time with track_commit_timestamp off  exit 3
#   - ... off on the source only (target on another server): check and
#     run warn, and the initial copy's rows carry the time they were read
# and with every prerequisite met, check exits 0 and run applies.  A role
# without origin privileges gets a progress table from check's prediction
# and from run alike; a reload is held to the same rules as a start.  The
# replication state (here: a missing slot) is checked by run only.
# Its own server: track_commit_timestamp is changed (a restart).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

cd "$WB_WORK"
# The shared server keeps track_commit_timestamp on: the last case's target.
SHARED_HOST=$PGHOST SHARED_PORT=$PGPORT
wbc_start
wbc_switch

ROLE=wbt_norigin
wb_psql <<SQL
CREATE TABLE portal.cf_src (id integer PRIMARY KEY, a text);
ALTER TABLE portal.cf_src REPLICA IDENTITY FULL;
CREATE TABLE portal.cf_plain (id integer PRIMARY KEY, a text);
CREATE TABLE salesforce.cf_tgt (id serial PRIMARY KEY, ext varchar UNIQUE, a text);
-- May stream and read, but not use replication origins (their functions
-- are not granted to PUBLIC).
CREATE ROLE $ROLE LOGIN REPLICATION;
-- What it needs to run with progress in a table (README "Roles and
-- privileges"); the publication is made here, as it needs a superuser.
GRANT CREATE ON DATABASE $WB_DB TO $ROLE;
GRANT USAGE ON SCHEMA portal, salesforce TO $ROLE;
GRANT ALL ON salesforce.cf_tgt, salesforce.cf_tgt_id_seq TO $ROLE;
-- The initial copy reads the source table (revoked for one case below).
GRANT SELECT ON portal.cf_src TO $ROLE;
CREATE PUBLICATION $WB_PUB FOR TABLES IN SCHEMA portal, salesforce;
SQL
assert_eq "$(wb_psql -c "SELECT has_function_privilege('$ROLE', 'pg_replication_origin_create(text)', 'EXECUTE')")" f \
    "role $ROLE may not create replication origins"

# config FILE SLOT USER PROGRESS FROM CONFLICT: one mapping "lww"; the
# conflict line is line 16.
config() {
    local file=$1 slot=$2 user=$3 progress=$4 from=$5 conflict=$6 s known=0
    for s in "${WB_SLOTS[@]}"; do [[ "$s" == "$slot" ]] && known=1; done
    ((known)) || WB_SLOTS+=("$slot")
    cat >"$file" <<EOF
# $WB_TEST_SCRIPT
source:
  conninfo: "host=$PGHOST port=$PGPORT user=$user dbname=$WB_DB"
  slot: $slot
  publication: $WB_PUB
  schemas: [portal, salesforce]
target:
  conninfo: ""
  progress: $progress
mappings:
  - name: lww
    from: $from
    to: salesforce.cf_tgt
    key: { id: ext }
    columns: { a: a }
    conflict: $conflict
EOF
}
LWW='{ resolve: last_writer_wins, by: commit_time }'

# refusal OUT: the lines of the refusal, without time stamp and PID: every
# ERROR and FATAL line with the DETAIL, HINT and CONTEXT lines after it.
refusal() {
    sed -n 's/^[0-9-]* [0-9:.]* UTC \[[0-9]*\] //p' "$1" |
        awk '/^(ERROR|FATAL):/ { p = 1 } /^(LOG|INFO|WARNING|DEBUG):/ { p = 0 } p'
}

# nothing_created SLOT: no slot, no origin for SLOT, no progress schema.
nothing_created() {
    assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1'")" 0 \
        "no replication slot $1 was created"
    assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_origin WHERE roname = 'walbridge_$1'")" 0 \
        "no replication origin walbridge_$1 was created"
    assert_eq "$(wb_psql -c "SELECT to_regnamespace('walbridge') IS NULL")" t \
        "no progress schema was created"
}

# same_refusal NAME FILE CODE MESSAGE: check and run both exit CODE, check's
# FATAL line ends in MESSAGE, and run refuses with exactly check's lines.
same_refusal() {
    local name=$1 file=$2 code=$3 msg=$4 rc
    echo "-- $name"
    rc=0
    wb_exec "$WB_WORK/check.$name.err" 60 check -c "$file" || rc=$?
    assert_eq "$rc" "$code" "$name: walbridge check exits $code"
    assert_contains "$WB_WORK/check.$name.err" "$msg" "$name: check says why"
    assert_not_contains "$WB_WORK/check.$name.err" "matches the database" \
        "$name: check does not call the file valid"
    rc=0
    wb_exec "$WB_WORK/run.$name.err" 60 run -c "$file" --until now || rc=$?
    assert_eq "$rc" "$code" "$name: walbridge run exits $code too"
    refusal "$WB_WORK/check.$name.err" >"$WB_WORK/check.$name.refusal"
    refusal "$WB_WORK/run.$name.err" >"$WB_WORK/run.$name.refusal"
    [[ -s "$WB_WORK/check.$name.refusal" ]] || fail "$name: no refusal lines in check's output"
    if ! diff -u "$WB_WORK/check.$name.refusal" "$WB_WORK/run.$name.refusal" >&2; then
        fail "$name: run's refusal differs from check's (diff above)"
    fi
    ok "$name: run refuses with check's lines ($(wc -l <"$WB_WORK/check.$name.refusal") lines)"
}

config table.yaml "$WB_SLOT" postgres table portal.cf_src "$LWW"
same_refusal commit_time_table table.yaml 3 \
    "table.yaml:16:48: mapping \"lww\" resolves conflicts by commit time, which needs progress in a replication origin"
nothing_created "$WB_SLOT"

# auto: origins when the role may use them; this role may not, so progress
# would go to a table, which commit time cannot work with.
config auto_norigin.yaml "$WB_SLOT" "$ROLE" auto portal.cf_src "$LWW"
same_refusal commit_time_auto_no_origin auto_norigin.yaml 3 \
    "mapping \"lww\" resolves conflicts by commit time, which needs progress in a replication origin"
nothing_created "$WB_SLOT"

config origin_norigin.yaml "$WB_SLOT" "$ROLE" origin portal.cf_src '{ resolve: source_wins }'
same_refusal origin_without_privilege origin_norigin.yaml 6 \
    "role \"$ROLE\" may not use replication origins, but target.progress is \"origin\""
assert_contains "$WB_WORK/check.origin_without_privilege.err" \
    "HINT:  GRANT EXECUTE ON FUNCTION pg_replication_origin_oid(text), pg_replication_origin_create(text), pg_replication_origin_session_setup(text) TO \"$ROLE\";" \
    "origin_without_privilege: the hint has the GRANT"
nothing_created "$WB_SLOT"

config identity.yaml "$WB_SLOT" postgres auto portal.cf_plain '{ resolve: source_wins }'
same_refusal identity_not_full identity.yaml 6 \
    "identity.yaml:16:15: mapping \"lww\": source table \"portal.cf_plain\" needs REPLICA IDENTITY FULL for \"conflict\""
assert_contains "$WB_WORK/check.identity_not_full.err" "HINT:  ALTER TABLE portal.cf_plain REPLICA IDENTITY FULL;" \
    "identity_not_full: the hint has the ALTER TABLE"
nothing_created "$WB_SLOT"

# The initial copy reads the source table under the slot's snapshot: a
# role that may not SELECT it is refused before the slot is created.
wb_psql -c "REVOKE SELECT ON portal.cf_src FROM $ROLE"
config copy_noselect.yaml "$WB_SLOT" "$ROLE" auto portal.cf_src '{ resolve: source_wins }'
same_refusal copy_without_select copy_noselect.yaml 3 \
    "permission denied to copy the existing rows of \"portal.cf_src\""
assert_contains "$WB_WORK/check.copy_without_select.err" \
    "HINT:  GRANT SELECT ON \"portal\".\"cf_src\" TO \"$ROLE\"; or set initial_copy: false on the mappings that read it." \
    "copy_without_select: the hint has the GRANT"
nothing_created "$WB_SLOT"
wb_psql -c "GRANT SELECT ON portal.cf_src TO $ROLE"

# The same role with progress: auto and a policy that needs no origin: its
# position goes to a table; check passes it (run would too).
config auto_table.yaml "$WB_SLOT" "$ROLE" auto portal.cf_src '{ resolve: source_wins }'
rc=0
wb_exec "$WB_WORK/check.auto_table.err" 60 check -c auto_table.yaml || rc=$?
[[ "$rc" == 0 ]] || cat "$WB_WORK/check.auto_table.err" >&2
assert_eq "$rc" 0 "progress: auto without origin privileges, no commit-time policy: check exits 0"
# And run agrees: it keeps its position in a table (a slot of its own,
# so that the cases above and below still find nothing created).
SLOT4=${WB_SLOT}_table
config run_table.yaml "$SLOT4" "$ROLE" auto portal.cf_src '{ resolve: source_wins }'
wb_run_until run_table.yaml
assert_contains "$WB_WORK/run.$WB_RUN_N.log" "role may not use replication origins, storing progress in table" \
    "run with that role stores its position in a table"
assert_eq "$(wb_psql -c "SELECT count(*) FROM walbridge.progress WHERE slot = '$SLOT4'")" 1 \
    "the position is in walbridge.progress"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_origin WHERE roname = 'walbridge_$SLOT4'")" 0 \
    "and no replication origin was created"
# compare runs as the same role (README "Roles and privileges"): SELECT on
# the source and target tables, a temporary table on the target, and, with
# walbridge stopped, a look into the slot (REPLICATION).
rc=0
wb_exec "$WB_WORK/compare.role" 60 compare -c run_table.yaml --json || rc=$?
[[ "$rc" == 0 ]] || cat "$WB_WORK/compare.role" >&2
assert_eq "$rc" 0 "compare as $ROLE: exit 0"
wb_psql -c "INSERT INTO salesforce.cf_tgt (ext, a) VALUES ('planted', 'x')" >/dev/null
rc=0
wb_exec "$WB_WORK/compare.role2" 60 compare -c run_table.yaml --json || rc=$?
assert_eq "$rc" 7 "compare as $ROLE finds a planted row (exit 7)"
assert_eq "$(jq -r '.mappings[0].persistent.extra, .caught_up' "$WB_WORK/compare.role2.stdout" | tr '\n' ' ')" \
    "1 true " "as persistent: the role may look into its slot"
wb_psql -c "DELETE FROM salesforce.cf_tgt WHERE ext = 'planted'" >/dev/null
# A reload meets the same rules as a start, against the running session:
# commit time cannot come in while progress is in a table.
wb_start_bg run_table.yaml
wb_wait_sql 30 "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT4'" t "the slot is active"
config run_table.yaml "$SLOT4" "$ROLE" auto portal.cf_src "$LWW"
kill -HUP "$WB_BG_PID"
deadline=$((SECONDS + 30))
until grep -qF 'The previous configuration stays in force.' "$WB_LOG"; do
    ((SECONDS < deadline)) || fail "the reload was neither refused nor logged within 30 s"
    wb_bg_check_alive
    sleep 0.1
done
assert_contains "$WB_LOG" \
    "ERROR:  run_table.yaml:16:48: mapping \"lww\" resolves conflicts by commit time, which needs progress in a replication origin" \
    "a reload bringing in commit time is refused with the start-up message"
rc=0
wb_stop_bg || rc=$?
assert_eq "$rc" 0 "walbridge stops cleanly after the refused reload"
wb_psql -c "SELECT pg_drop_replication_slot('$SLOT4')" >/dev/null
wb_psql -c "DROP SCHEMA walbridge CASCADE" >/dev/null

echo "-- every prerequisite met: check exits 0, run starts and applies"
config good.yaml "$WB_SLOT" postgres auto portal.cf_src "$LWW"
rc=0
wb_exec "$WB_WORK/check.good.err" 60 check -c good.yaml || rc=$?
[[ "$rc" == 0 ]] || cat "$WB_WORK/check.good.err" >&2
assert_eq "$rc" 0 "walbridge check -c good.yaml exits 0"
assert_contains "$WB_WORK/check.good.err" "configuration file \"good.yaml\" is valid and matches the database: 1 mapping" \
    "check says the file matches the database"
wb_run_until good.yaml # creates the slot
wb_psql -c "INSERT INTO portal.cf_src VALUES (1, 'one')"
wb_run_until good.yaml
assert_eq "$(wb_psql -c "SELECT a FROM salesforce.cf_tgt WHERE ext = '1'")" one "run with good.yaml applies the change"

# The replication state is run's to check, after the list, not check's
# (the README says so): a slot that does not exist and may not be created.
echo "-- replication state: checked by run only"
SLOT3=${WB_SLOT}_state
config state.yaml "$SLOT3" postgres auto portal.cf_src "$LWW"
wbc_config_set state.yaml create_slot false
rc=0
wb_exec "$WB_WORK/check.state.err" 60 check -c state.yaml || rc=$?
assert_eq "$rc" 0 "a missing slot that may not be created: check exits 0"
rc=0
wb_exec "$WB_WORK/run.state.err" 60 run -c state.yaml --until now || rc=$?
assert_eq "$rc" 5 "run exits 5 (replication state)"
assert_contains "$WB_WORK/run.state.err" "FATAL:  replication slot \"$SLOT3\" does not exist" \
    "run names the missing slot"

echo "-- track_commit_timestamp off (server restarted)"
wbc_set track_commit_timestamp off
wbc_pg_ctl -w -t 60 restart -l "$WB_PG_LOG" >/dev/null || fail "could not restart the private server"
assert_eq "$(wb_psql -c "SHOW track_commit_timestamp")" off "track_commit_timestamp is off"
# A slot of its own, so that nothing this run could create is there yet.
SLOT2=${WB_SLOT}_cts
config cts.yaml "$SLOT2" postgres auto portal.cf_src "$LWW"
wb_psql -c "UPDATE portal.cf_src SET a = 'two' WHERE id = 1"
same_refusal commit_time_untracked cts.yaml 3 \
    "cts.yaml:16:48: mapping \"lww\" resolves conflicts by commit time, but track_commit_timestamp is off on the target"
assert_contains "$WB_WORK/check.commit_time_untracked.err" \
    "HINT:  ALTER SYSTEM SET track_commit_timestamp = on, then restart the server." \
    "commit_time_untracked: the hint says how to turn it on"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT2'")" 0 \
    "no replication slot $SLOT2 was created"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_origin WHERE roname = 'walbridge_$SLOT2'")" 0 \
    "no replication origin walbridge_$SLOT2 was created"
# The running configuration's slot: run refuses it the same way on restart,
# with the change still unapplied.
same_refusal commit_time_untracked_restart good.yaml 3 \
    "good.yaml:16:48: mapping \"lww\" resolves conflicts by commit time, but track_commit_timestamp is off on the target"
assert_eq "$(wb_psql -c "SELECT a FROM salesforce.cf_tgt WHERE ext = '1'")" one "the refused run applied nothing"

echo "-- track_commit_timestamp off on the source only: a warning, and copied rows carry the time they were read"
TDB=${WB_DB}_t
tpsql() { PGAPPNAME=wbt_check_startup psql -X -qAt -v ON_ERROR_STOP=1 -h "$SHARED_HOST" -p "$SHARED_PORT" -U postgres "$@"; }
tpsql -d postgres -c "DROP DATABASE IF EXISTS $TDB" -c "CREATE DATABASE $TDB" >/dev/null
tpsql -d "$TDB" -c "CREATE SCHEMA salesforce" \
    -c "CREATE TABLE salesforce.cf_tgt (id serial PRIMARY KEY, ext varchar UNIQUE, a text)" >/dev/null
# A target edit newer than the source row's last change ('two', above):
# by their own commit times it would stay; a row read without one carries
# the copy's time, newer still, and wins.
tpsql -d "$TDB" -c "INSERT INTO salesforce.cf_tgt (ext, a) VALUES ('1', 'target edit')" >/dev/null
SLOT4=${WB_SLOT}_src_cts
config src_cts.yaml "$SLOT4" postgres origin portal.cf_src "$LWW"
sed -i "s|^  conninfo: \"\"$|  conninfo: \"host=$SHARED_HOST port=$SHARED_PORT user=postgres dbname=$TDB\"|" src_cts.yaml
grep -q "dbname=$TDB" src_cts.yaml || fail "src_cts.yaml: no target conninfo"
WARN="src_cts.yaml:16:48: mapping \"lww\" resolves conflicts by commit time, but track_commit_timestamp is off on the source"
rc=0
wb_exec "$WB_WORK/check.src_cts.err" 60 check -c src_cts.yaml || rc=$?
assert_eq "$rc" 0 "source without commit timestamps: check exits 0"
assert_contains "$WB_WORK/check.src_cts.err" "WARNING:  $WARN" "check warns, naming the mapping's conflict line"
assert_contains "$WB_WORK/check.src_cts.err" "DETAIL:  Rows copied by the initial copy or a re-sync carry the time they were read" \
    "and says what it costs"
rc=0
wb_exec "$WB_WORK/run.src_cts.err" 60 run -c src_cts.yaml --until now || rc=$?
assert_eq "$rc" 0 "run copies and streams"
assert_contains "$WB_WORK/run.src_cts.err" "WARNING:  $WARN" "run warns the same way"
assert_contains "$WB_WORK/run.src_cts.err" "mapping \"lww\" resolves conflicts by commit time, but the source does not track commit timestamps: copied rows carry the copy's time" \
    "the initial copy says its rows carry the copy's time"
assert_eq "$(tpsql -d "$TDB" -c "SELECT string_agg(ext || '=' || a, ',' ORDER BY ext) FROM salesforce.cf_tgt")" \
    "$(wb_psql -c "SELECT string_agg(id || '=' || a, ',' ORDER BY id) FROM portal.cf_src")" \
    "the copied rows arrived on the other server, the copy's time winning over a newer target edit"
wb_psql -c "SELECT pg_drop_replication_slot('$SLOT4')" >/dev/null
tpsql -d postgres -c "DROP DATABASE $TDB WITH (FORCE)" >/dev/null
