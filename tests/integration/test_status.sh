#!/usr/bin/env bash
# test_status: `walbridge status -c FILE` (text) and `--json` (one object)
# report the real slot, stored position, lag and publication, compared with
# what the server says, at five moments:
#   1. before the first run: slot and publication missing, nothing stored (exit 0)
#   2. after a run: slot exists and is inactive, stored = confirmed_flush_lsn,
#      the publication lists portal.users
#   3. while walbridge streams: active_pid = the walsender's pid; with a
#      change held up for at least 3 s (a row lock on the target),
#      lag_seconds is the walsender's own flush_lag, and >= 3 s
#   4. walbridge stopped with changes pending: lag_bytes > 0, and exactly
#      current_lsn - stored_lsn, lag_seconds null (no walsender: the server
#      has no figure); after catching up stored = confirmed again
#   5. the slot advanced past the stored position: both reported as they are
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

command -v jq >/dev/null || fail "jq is not installed (apt-get install -y jq)"

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
wbc_config_set "$CFG" status_interval 200ms
OUT=$WB_WORK/status
HOLD=3
N=0

# status_text / status_json: run `walbridge status`, exit code must be 0;
# the JSON must parse (jq) and be one object.
status_text() {
    local rc=0
    N=$((N + 1))
    wb_exec "$OUT.$N" 30 status -c "$CFG" || rc=$?
    if ((rc != 0)); then
        cat "$OUT.$N" "$OUT.$N.stdout" >&2
        fail "walbridge status exited $rc"
    fi
    TXT=$OUT.$N.stdout
    echo "walbridge status:"
    sed 's/^/    | /' "$TXT"
}
status_json() {
    local rc=0
    N=$((N + 1))
    wb_exec "$OUT.$N" 30 status -c "$CFG" --json || rc=$?
    if ((rc != 0)); then
        cat "$OUT.$N" "$OUT.$N.stdout" >&2
        fail "walbridge status --json exited $rc"
    fi
    JSON=$OUT.$N.stdout
    echo "walbridge status --json:"
    sed 's/^/    | /' "$JSON"
    if ! jq -e 'type == "object"' "$JSON" >/dev/null; then
        fail "walbridge status --json did not print one JSON object"
    fi
    [[ $(wc -l <"$JSON") == 1 ]] || fail "walbridge status --json printed more than one line"
    python3 -m json.tool "$JSON" >/dev/null || fail "python3 -m json.tool rejects the output"
    ok "status --json: exit 0, one valid JSON object (jq and python3 json.tool)"
}
# j [JQ OPTIONS] FILTER: a field of the last JSON status, compact (strings without quotes).
j() { jq -r "$@" "$JSON"; }
# assert_text_line REGEX MSG: a line of the last text status matches REGEX.
assert_text_line() {
    if grep -qE -- "$1" "$TXT"; then
        ok "$2"
    else
        cat "$TXT" >&2
        fail "$2: no line matches /$1/"
    fi
}
# The keys every status object has (cmd/walbridge/main.c print_status_json).
KEYS='["active_pid","confirmed_flush_lsn","current_lsn","lag_bytes","lag_seconds","publication","publication_exists","publication_tables","restart_lsn","safe_wal_size","slot","slot_exists","stored_in","stored_lsn","wal_status"]'

# ------------------------------------------------------------------ 1
echo "-- 1. before the first run: no slot, no publication, nothing stored"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")" 0 "set-up: slot does not exist"
status_text
assert_text_line "^slot: +$WB_SLOT \(missing\)$" "text: slot reported missing"
assert_text_line "^stored position: +\(none\)$" "text: no stored position"
assert_text_line "^publication: +$WB_PUB \(missing\)$" "text: publication reported missing"
status_json
assert_eq "$(jq -c --argjson want "$KEYS" '$want - keys' "$JSON")" "[]" "json: the object has every status key"
assert_eq "$(j .slot)" "$WB_SLOT" "json: slot"
assert_eq "$(j .slot_exists)" false "json: slot_exists"
assert_eq "$(j '[.active_pid, .confirmed_flush_lsn, .restart_lsn, .wal_status, .stored_lsn, .stored_in, .lag_bytes] | map(. == null) | all')" \
    true "json: active_pid, confirmed_flush_lsn, restart_lsn, wal_status, stored_lsn, stored_in, lag_bytes are null"
assert_eq "$(j .publication)" "$WB_PUB" "json: publication"
assert_eq "$(j .publication_exists)" false "json: publication_exists"
assert_eq "$(j -c .publication_tables)" "[]" "json: publication_tables is empty"
cur=$(j .current_lsn)
now=$(wb_psql -c "SELECT pg_current_wal_lsn()")
(($(wb_lsn_int "$cur") > 0 && $(wb_lsn_int "$cur") <= $(wb_lsn_int "$now"))) ||
    fail "json: current_lsn '$cur' is not a position <= the server's $now"
ok "json: current_lsn $cur is the server's position (0 < $cur <= $now)"

# ------------------------------------------------------------------ 2
echo "-- 2. after a run: slot exists, stored = confirmed_flush_lsn"
wb_run_until "$CFG"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 's' || g || '@example.com', 'S' || g, 'T' || g, 'p' || g FROM generate_series(1, 5) g"
wb_run_until "$CFG"
wb_wait_server_released 15
wb_assert_synced "the 5 inserts arrived"
stored=$(wb_stored_lsn "$WB_SLOT")
read -r confirmed restart walst < <(wb_psql -F ' ' -c "SELECT confirmed_flush_lsn, restart_lsn, wal_status
                                                      FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")
mode=$(wb_psql -c "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = 'walbridge_$WB_SLOT')
                               THEN 'origin' ELSE 'table' END")
assert_eq "$stored" "$confirmed" "set-up: stored position = confirmed_flush_lsn"
status_json
assert_eq "$(j .slot_exists)" true "json: slot_exists"
assert_eq "$(j .active_pid)" null "json: active_pid is null (walbridge is not running)"
assert_eq "$(j .confirmed_flush_lsn)" "$confirmed" "json: confirmed_flush_lsn is the slot's"
assert_eq "$(j .restart_lsn)" "$restart" "json: restart_lsn is the slot's"
assert_eq "$(j .wal_status)" "$walst" "json: wal_status is the slot's"
assert_eq "$(j .stored_lsn)" "$stored" "json: stored_lsn is the stored position"
assert_eq "$(j .stored_lsn)" "$(j .confirmed_flush_lsn)" "json: stored_lsn equals confirmed_flush_lsn"
assert_eq "$(j .stored_in)" "$mode" "json: stored_in is where the position is stored"
assert_eq "$(j .publication_exists)" true "json: publication_exists"
pubtables=$(wb_psql -c "SELECT coalesce(json_agg(format('%I.%I', schemaname, tablename) ORDER BY 1), '[]')
                        FROM pg_publication_tables WHERE pubname = '$WB_PUB'")
assert_eq "$(j -c '.publication_tables | sort')" "$(jq -c 'sort' <<<"$pubtables")" \
    "json: publication_tables are the publication's tables"
assert_eq "$(j '.publication_tables | index("portal.users") != null')" true "json: publication_tables include portal.users"
assert_eq "$(j '.publication_tables | index("salesforce.account") != null')" true "json: publication_tables include salesforce.account"
assert_eq "$(j .lag_bytes)" "$(($(wb_lsn_int "$(j .current_lsn)") - $(wb_lsn_int "$stored")))" \
    "json: lag_bytes = current_lsn - stored_lsn"
status_text
assert_text_line "^slot: +$WB_SLOT$" "text: slot without (missing)"
assert_text_line "^active pid: +\(none\)$" "text: no active pid"
assert_text_line "^confirmed_flush_lsn: +$confirmed$" "text: confirmed_flush_lsn $confirmed"
assert_text_line "^stored position: +$stored \($mode\)$" "text: stored position $stored ($mode)"
assert_text_line "^publication: +$WB_PUB$" "text: publication without (missing)"
assert_text_line "^  portal\.users$" "text: portal.users listed"

# ------------------------------------------------------------------ 3
echo "-- 3. while walbridge runs: active_pid = the walsender's pid"
wb_start_bg "$CFG"
WS_SQL="SELECT string_agg(r.pid::text, ',') FROM pg_stat_replication r
        JOIN pg_stat_activity a ON a.pid = r.pid WHERE a.datname = '$WB_DB' AND a.backend_type = 'walsender'"
deadline=$((SECONDS + 30))
while :; do
    wspid=$(wb_psql -c "$WS_SQL")
    [[ "$wspid" =~ ^[0-9]+$ && "$(wb_psql -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'")" == "$wspid" ]] && break
    ((SECONDS < deadline)) || fail "no walsender for $WB_DB in pg_stat_replication after 30 s (got '$wspid')"
    wb_bg_check_alive
    sleep 0.2
done
echo "walsender of the running walbridge (pg_stat_replication): pid $wspid"
status_json
assert_eq "$(j .slot_exists)" true "json: slot_exists"
assert_eq "$(j .active_pid)" "$wspid" "json: active_pid is the walsender's pid in pg_stat_replication"
status_text
assert_text_line "^active pid: +$wspid$" "text: active pid $wspid"
wb_psql -c "UPDATE portal.users SET phone = 'while running' WHERE id = 1"
wb_wait_sql 30 "SELECT phone FROM salesforce.account WHERE external_id__c = '1'" "while running" \
    "walbridge still streams after two status calls"

# lag_seconds is the walsender's flush_lag.  Make it known: walbridge's
# target transaction is blocked by a row lock for at least HOLD seconds
# after walbridge has received the change (its apply is seen waiting), so
# the lag the server measures when walbridge confirms it is >= HOLD, on any
# machine.  Then status must report the server's own figure.
echo "-- 3b. a known lag: lag_seconds = pg_stat_replication.flush_lag >= ${HOLD}s"
wb_sess_open L
wb_sess_run L "BEGIN; SELECT 1 FROM salesforce.account WHERE external_id__c = '2' FOR UPDATE;"
# The walsender takes at most one lag sample a second: let a second pass
# after the last decoded commit so that the next one is sampled.
wb_wait_sql 60 "$(wb_walsender_sql "r.sent_lsn >= pg_current_wal_lsn()")" t "the walsender has sent everything"
t=$(wb_psql -c "SELECT clock_timestamp()")
wb_wait_sql 60 "SELECT clock_timestamp() >= '$t'::timestamptz + interval '1.1 s'" t "a second without decoded commits"
wb_psql -c "UPDATE portal.users SET phone = 'lagging' WHERE id = 2"
WRITE_LSN=$(wb_psql -c "SELECT pg_current_wal_lsn()")
wb_wait_sql 60 "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()
                 AND backend_type = 'client backend' AND application_name NOT LIKE 'wbt\\_%'
                 AND wait_event_type = 'Lock'" t "walbridge's apply waits for the row lock"
t=$(wb_psql -c "SELECT clock_timestamp()")
wb_wait_sql 60 "SELECT clock_timestamp() >= '$t'::timestamptz + interval '$HOLD s'" t "the lock held ${HOLD}s more"
wb_sess_run L "ROLLBACK;"
wb_sess_close L
wb_wait_sql 60 "SELECT confirmed_flush_lsn >= '$WRITE_LSN' FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t \
    "walbridge confirmed the blocked change"
FLAG_SQL="SELECT coalesce((SELECT extract(epoch FROM r.flush_lag)::text FROM pg_stat_replication r
                            JOIN pg_replication_slots s ON s.active_pid = r.pid
                           WHERE s.slot_name = '$WB_SLOT'), 'null')"
# flush_lag moves while status runs: while walbridge's confirmation stays
# behind the walsender's latest lag sample (walbridge confirms the echoes of
# its own writes lazily), the server interpolates a growing lag.  So read it
# before (f1) and after (f2) the status call: the status figure must lie
# between the two.  A new measurement in between can make it drop (f1 > f2):
# then ask again.
lag_s="" f1="" f2=""
deadline=$((SECONDS + 60))
while :; do
    f1=$(wb_psql -c "$FLAG_SQL")
    status_json
    f2=$(wb_psql -c "$FLAG_SQL")
    lag_s=$(j .lag_seconds)
    if [[ "$f1" != null && "$f2" != null ]] &&
        [[ "$(awk -v a="$f1" -v b="$f2" 'BEGIN { print (a <= b) ? "rising" : "dropped" }')" == rising ]]; then
        break
    fi
    ((SECONDS < deadline)) || fail "pg_stat_replication.flush_lag did not rise steadily across a status call in 60 s ('$f1', then '$f2')"
done
echo "pg_stat_replication.flush_lag: $f1 s before, $f2 s after; walbridge status lag_seconds: $lag_s"
[[ "$lag_s" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "json: lag_seconds is '$lag_s', not a number, while pg_stat_replication.flush_lag is $f1 s"
assert_eq "$(awk -v a="$lag_s" -v lo="$f1" -v hi="$f2" 'BEGIN { print (a >= lo - 0.0005 && a <= hi + 0.0005) ? "within" : "outside" }')" within \
    "json: lag_seconds ($lag_s) is the server's flush_lag (between $f1 and $f2, read before and after)"
# A logical walsender samples its lag at most once a second
# (WALSND_LOGICAL_LAG_TRACK_INTERVAL_MS): a commit decoded within a second
# before the held change (walbridge storing its position, under load) can
# take the sample, and a later commit's time then stands for the change,
# understating the hold by up to that second.
assert_eq "$(awk -v a="$lag_s" -v h="$HOLD" 'BEGIN { print (a >= h - 1) ? "yes" : "no" }')" yes \
    "json: lag_seconds ($lag_s) covers the ${HOLD}s the change was held up, less the walsender's 1 s sampling"
status_text
assert_text_line "^lag \(flush\): +[0-9]+\.[0-9]{3} s$" "text: lag (flush) in seconds"

rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on SIGTERM"
wb_wait_server_released 15

# ------------------------------------------------------------------ 4
echo "-- 4. walbridge stopped, changes pending: lag_bytes > 0"
stored=$(wb_stored_lsn "$WB_SLOT")
assert_eq "$(wb_slot_confirmed_lsn "$WB_SLOT")" "$stored" "set-up: stored = confirmed_flush_lsn after SIGTERM"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'p' || g || '@example.com', 'P' || g, 'Q' || g, repeat('9', 30) FROM generate_series(1, 200) g"
after=$(wb_psql -c "SELECT pg_current_wal_lsn()")
min_lag=$(($(wb_lsn_int "$after") - $(wb_lsn_int "$stored")))
status_json
later=$(wb_psql -c "SELECT pg_current_wal_lsn()")
max_lag=$(($(wb_lsn_int "$later") - $(wb_lsn_int "$stored")))
lag=$(j .lag_bytes)
echo "pending WAL: at least $min_lag bytes (stored $stored, position after the inserts $after), at most $max_lag"
assert_eq "$(j .stored_lsn)" "$stored" "json: stored_lsn unchanged while stopped"
assert_eq "$(j .active_pid)" null "json: active_pid null after the stop"
assert_eq "$(j .lag_seconds)" null "json: lag_seconds null: no walsender, so the server has no flush_lag"
assert_ge "$lag" 1 "json: lag_bytes > 0 with changes pending"
assert_ge "$lag" "$min_lag" "json: lag_bytes covers the pending inserts"
assert_ge "$max_lag" "$lag" "json: lag_bytes is not more than the WAL written since the stored position"
assert_eq "$lag" "$(($(wb_lsn_int "$(j .current_lsn)") - $(wb_lsn_int "$stored")))" \
    "json: lag_bytes = current_lsn - stored_lsn"
status_text
assert_text_line "^lag: +[1-9][0-9]* bytes$" "text: a positive lag in bytes"

echo "-- after catching up: stored = confirmed_flush_lsn, past the pending changes"
wb_run_until "$CFG"
wb_wait_server_released 15
wb_assert_synced "the pending inserts arrived"
status_json
assert_eq "$(j .stored_lsn)" "$(wb_slot_confirmed_lsn "$WB_SLOT")" "json: stored_lsn = the slot's confirmed_flush_lsn"
assert_eq "$(j .confirmed_flush_lsn)" "$(j .stored_lsn)" "json: confirmed_flush_lsn = stored_lsn"
assert_ge "$(wb_lsn_int "$(j .stored_lsn)")" "$(wb_lsn_int "$after")" "json: stored_lsn is past the pending changes ($after)"

# ------------------------------------------------------------------ 5
# The two positions must not be mixed up: make them differ (the slot
# confirmed past the stored position, the state walbridge refuses to run
# in, which is what status is for) and check each one and the lag.
echo "-- 5. slot advanced past the stored position: status tells them apart"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone) VALUES ('adv@example.com', 'A', 'D', 'V')"
stored=$(wb_stored_lsn "$WB_SLOT")
wb_psql -c "SELECT pg_replication_slot_advance('$WB_SLOT', pg_current_wal_lsn())" >/dev/null
confirmed=$(wb_slot_confirmed_lsn "$WB_SLOT")
(($(wb_lsn_int "$confirmed") > $(wb_lsn_int "$stored"))) || fail "set-up: confirmed_flush_lsn $confirmed is not past the stored position $stored"
echo "stored position $stored, slot confirmed_flush_lsn $confirmed"
status_json
assert_eq "$(j .confirmed_flush_lsn)" "$confirmed" "json: confirmed_flush_lsn is the advanced slot position"
assert_eq "$(j .stored_lsn)" "$stored" "json: stored_lsn is still the stored position"
assert_eq "$(j .lag_bytes)" "$(($(wb_lsn_int "$(j .current_lsn)") - $(wb_lsn_int "$stored")))" \
    "json: lag_bytes = current_lsn - stored_lsn (not - confirmed_flush_lsn)"
status_text
assert_text_line "^confirmed_flush_lsn: +$confirmed$" "text: confirmed_flush_lsn $confirmed"
assert_text_line "^stored position: +$stored \($mode\)$" "text: stored position $stored"
