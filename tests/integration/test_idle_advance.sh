#!/usr/bin/env bash
# test_idle_advance: a busy database whose published tables are idle must not
# pin WAL.  walbridge streams with status_interval 500ms while a writer fills
# an UNPUBLISHED table (schema busy) until at least 15 samples are taken
# and both slot positions moved by more than 1 MB (counts and events: a
# slow machine takes longer, it does not fail; 180 s only catches a hang).
# Checks:
#   - the slot's confirmed_flush_lsn AND restart_lsn advance by > 1 MB
#   - sampled every ~0.5 s: never confirmed_flush_lsn > stored position
#     (walbridge may only confirm what it has durably stored), and neither
#     position ever moves backwards
#   - nothing is written to salesforce.account
#   - after SIGTERM (exit 0): stored == confirmed_flush_lsn, and both are past
#     the end of the writer's WAL (the graceful stop stores the final position)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

MIN_SAMPLES=${WB_IA_MIN_SAMPLES:-15}
MAX_WRITE_SECS=${WB_IA_MAX_WRITE_SECS:-180}
MB=$((1024 * 1024))

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"
wbc_config_set "$CFG" status_interval 500ms

echo "-- set-up: unpublished schema busy, audit trigger on salesforce.account"
wb_psql <<'SQL'
CREATE SCHEMA busy;     -- not in the publication (portal, public, salesforce)
CREATE TABLE busy.filler (id bigserial PRIMARY KEY, v text);
CREATE SCHEMA testlog;
CREATE TABLE testlog.target_writes (n bigserial PRIMARY KEY, op text);
CREATE FUNCTION testlog.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO testlog.target_writes (op) VALUES (TG_LEVEL || ' ' || TG_OP);
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON salesforce.account
  FOR EACH STATEMENT EXECUTE FUNCTION testlog.audit();
CREATE TRIGGER zz_audit_rows AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit();
SQL

echo "-- first run creates the slot"
wb_run_until "$CFG"
assert_eq "$(wb_psql -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = '$WB_PUB' AND schemaname = 'busy'")" 0 \
    "set-up: schema busy is not in publication $WB_PUB"
if [[ -n "$(wb_psql -c "SELECT 1 FROM pg_replication_origin WHERE roname = 'walbridge_$WB_SLOT'")" ]]; then
    STORED_SQL="SELECT s.remote_lsn FROM pg_replication_origin_status s
                JOIN pg_replication_origin o ON o.roident = s.local_id WHERE o.roname = 'walbridge_$WB_SLOT'"
    echo "progress is stored in replication origin walbridge_$WB_SLOT"
else
    STORED_SQL="SELECT end_lsn FROM walbridge.progress WHERE slot = '$WB_SLOT'"
    echo "progress is stored in walbridge.progress"
fi
SLOT_SQL="SELECT confirmed_flush_lsn || ' ' || coalesce(restart_lsn::text, '-') FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'"

# sample: one psql session reads the slot FIRST, then the stored position
# (walbridge stores, then confirms: reading in the other order could see a
# confirmation newer than the stored position it read a moment before).
# Sets CONF RESTART STORED (LSN text) and CONF_I RESTART_I STORED_I.
sample() {
    local out
    out=$(wb_psql -c "$SLOT_SQL" -c "$STORED_SQL")
    read -r CONF RESTART STORED <<<"$(tr '\n' ' ' <<<"$out")"
    [[ -n "$CONF" && -n "$RESTART" && -n "$STORED" && "$RESTART" != - ]] ||
        fail "cannot sample the slot and stored position (got '$out')"
    CONF_I=$(wb_lsn_int "$CONF")
    RESTART_I=$(wb_lsn_int "$RESTART")
    STORED_I=$(wb_lsn_int "$STORED")
}

echo "-- walbridge streams in the background (status_interval 500ms)"
wb_start_bg "$CFG"
wb_wait_sql 30 "SELECT active FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" t "the slot is active"
sample
C0=$CONF_I R0=$RESTART_I
START_LSN=$(wb_psql -c "SELECT pg_current_wal_lsn()")
echo "start: confirmed_flush_lsn $CONF, restart_lsn $RESTART, stored $STORED, current $START_LSN"
(( CONF_I <= STORED_I )) || fail "at start: confirmed_flush_lsn $CONF > stored $STORED"

# The writer: 500-row transactions (~80 kB of WAL each) into busy.filler
# until STOP exists.
STOP=$WB_WORK/writer.stop
(
    while [[ ! -e "$STOP" ]]; do
        wb_psql -c "INSERT INTO busy.filler (v) SELECT repeat(md5(g::text), 3) FROM generate_series(1, 500) g" ||
            exit 1
        sleep 0.05
    done
) &
WRITER=$!
wb_track_pid "$WRITER"
T0=$SECONDS

echo "-- writing to busy.filler, sampling every 0.5 s, until $MIN_SAMPLES samples and > 1 MB of slot movement"
n=0 checkpoints=0 conf_adv=0 restart_adv=0
prev_conf=$C0 prev_stored=$STORED_I
while :; do
    sleep 0.5
    wb_bg_check_alive
    kill -0 "$WRITER" 2>/dev/null || fail "the writer stopped by itself"
    sample
    n=$((n + 1))
    if ((CONF_I > STORED_I)); then
        fail "sample $n (t=$((SECONDS - T0))s): confirmed_flush_lsn $CONF is ahead of the stored position $STORED"
    fi
    ((CONF_I >= prev_conf)) || fail "sample $n: confirmed_flush_lsn moved backwards to $CONF"
    ((STORED_I >= prev_stored)) || fail "sample $n: stored position moved backwards to $STORED"
    prev_conf=$CONF_I prev_stored=$STORED_I
    conf_adv=$((CONF_I - C0)) restart_adv=$((RESTART_I - R0))
    if ((n % 6 == 1)); then
        printf '  t=%2ds confirmed %-11s restart %-11s stored %-11s (+%d / +%d bytes)\n' \
            $((SECONDS - T0)) "$CONF" "$RESTART" "$STORED" "$conf_adv" "$restart_adv"
    fi
    # restart_lsn moves only at xl_running_xacts records (bgwriter: every
    # 15 s; checkpoints), to a point before the oldest transaction then in
    # progress.  A CHECKPOINT every ~5 s makes that independent of timing;
    # it cannot move the slot by itself: only walbridge's confirmations do.
    if ((n % 10 == 0 && restart_adv <= MB)); then
        wb_psql -c "CHECKPOINT"
        checkpoints=$((checkpoints + 1))
    fi
    if ((n >= MIN_SAMPLES && conf_adv > MB && restart_adv > MB)); then
        break
    fi
    if ((SECONDS - T0 >= MAX_WRITE_SECS)); then
        wb_psql_table -c "SELECT slot_name, active, active_pid, restart_lsn, confirmed_flush_lsn, wal_status
                          FROM pg_replication_slots WHERE slot_name = '$WB_SLOT'" >&2 || true
        fail "after $MAX_WRITE_SECS s of writing: confirmed_flush_lsn advanced $conf_adv bytes, restart_lsn $restart_adv bytes (need > $MB each)"
    fi
done
touch "$STOP"
writer_rc=0
wait "$WRITER" || writer_rc=$?
wb_untrack_pid "$WRITER"
assert_eq "$writer_rc" 0 "the writer ran without errors"
END_LSN=$(wb_psql -c "SELECT pg_current_wal_lsn()")
written=$(($(wb_lsn_int "$END_LSN") - $(wb_lsn_int "$START_LSN")))
rows=$(wb_psql -c "SELECT count(*) FROM busy.filler")
echo "writer: $rows rows into busy.filler in $((SECONDS - T0)) s, $written bytes of WAL ($START_LSN .. $END_LSN); $n samples, $checkpoints CHECKPOINTs"
assert_ge "$written" $((4 * MB)) "the writer produced several MB of WAL"
assert_ge "$n" "$MIN_SAMPLES" "positions sampled at least $MIN_SAMPLES times"
ok "in all $n samples: confirmed_flush_lsn <= stored position, neither moved backwards"
assert_ge "$conf_adv" $((MB + 1)) "confirmed_flush_lsn advanced by > 1 MB ($CONF)"
assert_ge "$restart_adv" $((MB + 1)) "restart_lsn advanced by > 1 MB ($RESTART)"

echo "-- the walsender reaches the end of the writer's WAL, then SIGTERM"
wb_wait_sql 30 "SELECT r.sent_lsn >= '$END_LSN' FROM pg_stat_replication r
                JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '$WB_SLOT'" t \
    "the walsender has sent past $END_LSN"
sleep 1.5
sample
((CONF_I <= STORED_I)) || fail "before SIGTERM: confirmed_flush_lsn $CONF is ahead of the stored position $STORED"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on SIGTERM"
wb_wait_server_released 30
stored=$(wb_stored_lsn "$WB_SLOT")
confirmed=$(wb_slot_confirmed_lsn "$WB_SLOT")
assert_eq "$stored" "$confirmed" "after SIGTERM: stored position = confirmed_flush_lsn"
assert_ge "$(wb_lsn_int "$stored")" "$(wb_lsn_int "$END_LSN")" \
    "after SIGTERM: the stored position $stored is past the end of the writer's WAL $END_LSN"
assert_eq "$(wb_psql -c "SELECT count(*) FROM testlog.target_writes")" 0 \
    "nothing was written to salesforce.account"
