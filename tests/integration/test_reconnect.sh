#!/usr/bin/env bash
# test_reconnect: walbridge survives losing either connection and a crash of
# the server, reconnects with capped backoff, and still applies every change
# exactly once.  Runs on its own cluster (it restarts the server).
#
# While a writer commits small mapped transactions continuously, the running
# walbridge loses:
#   1. its walsender          (pg_terminate_backend, pid from pg_stat_replication)
#   2. its apply backend      (pg_terminate_backend, pid from pg_stat_activity)
#   3. the whole server       (pg_ctl restart -m immediate)
# and, once the writer has stopped and all that was checked, its apply
# backend again at a chosen moment, with the same checks:
#   4. in the middle of a statement (a target trigger sleeps)
#   5. between transactions (then one change is made)
# After each of 1-3: walbridge is still running, its log shows a reconnect
# ("reconnecting in N ms (attempt K)") and a new stream, a new walsender
# serves the slot and the target moves again.  Finally (SIGTERM, then
# `run --until now`) the multiset of source changes (trigger log on
# portal.users) equals the multiset of target writes (trigger audit on
# salesforce.account): nothing lost, nothing applied twice.
#
# Backoff: every "reconnecting in N ms (attempt K)" line must satisfy
# N <= min(30000, 250 * 2^(K-1)) and N >= half of that (lib/run.c: capped,
# jittered exponential backoff).  What walbridge announces is checked
# against what it does by a second walbridge, running alongside, whose
# source is a socket the test listens on: it answers every connection as a
# server that is starting up (FATAL 57P03) and records when each attempt
# came.  That walbridge must reach the 30 s cap (attempt 9) with
# consecutive attempt numbers, make one connection per attempt, and make
# attempt K+1 no earlier than the delay it announced for attempt K after
# attempt K was refused (a lower bound: a fast machine cannot pass a
# walbridge that retries sooner than it says, and a slow one only waits
# longer); it stops cleanly (exit 0) on SIGTERM.
#
# Pace: no check depends on the machine's speed.  The writer's progress is
# waited for by counts (WB_RC_CHANGES source changes before each event and
# after the last), with ceilings that only catch a hang.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_cluster.sh"

CAP_MS=30000
BASE_MS=250
CHANGES=${WB_RC_CHANGES:-100}   # source changes written before each event and after the last
wb_need_python

wbc_start
wbc_switch

CFG=$WB_WORK/walbridge.yaml
wb_write_config "$CFG"

echo "-- the unreachable walbridge: same config, its source a socket that refuses (starting up)"
# refuse.py SOCKET OUT: accept connections on the unix socket SOCKET, read
# the startup packet (declining SSL and GSS encryption requests), answer
# FATAL 57P03 and close; append "ACCEPTED REFUSED" to OUT for every
# connection (epoch seconds; REFUSED is taken just before the refusal is
# sent, so the client cannot have seen it earlier).
cat >"$WB_WORK/refuse.py" <<'EOF'
import socket, struct, sys, time

def recvn(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(16)
out = open(sys.argv[2], "a", buffering=1)
err = (b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0")
while True:
    c, _ = srv.accept()
    accepted = time.time()
    c.settimeout(10)
    try:
        while True:
            n, = struct.unpack("!I", recvn(c, 4))
            body = recvn(c, n - 4)
            if n == 8 and struct.unpack("!I", body)[0] in (80877103, 80877104):
                c.sendall(b"N")   # no SSL, no GSS encryption: send the startup packet
                continue
            break
        refused = time.time()
        c.sendall(b"E" + struct.pack("!I", len(err) + 4) + err)
    except (OSError, EOFError):
        refused = time.time()
    c.close()
    out.write("%.6f %.6f\n" % (accepted, refused))
EOF
mkdir "$WB_WORK/refuse"
ATTEMPTS=$WB_WORK/refuse/attempts
: >"$ATTEMPTS"
"$PY" "$WB_WORK/refuse.py" "$WB_WORK/refuse/.s.PGSQL.$PGPORT" "$ATTEMPTS" 2>"$WB_WORK/refuse/stderr" &
wb_track_pid $!
for _ in $(seq 1 100); do [[ -S "$WB_WORK/refuse/.s.PGSQL.$PGPORT" ]] && break; sleep 0.1; done
[[ -S "$WB_WORK/refuse/.s.PGSQL.$PGPORT" ]] || { cat "$WB_WORK/refuse/stderr" >&2; fail "the refusing listener did not start"; }
BAD_CFG=$WB_WORK/unreachable.yaml
sed "s|conninfo: \"host=[^ ]* |conninfo: \"host=$WB_WORK/refuse |" "$CFG" >"$BAD_CFG"
grep -q "host=$WB_WORK/refuse " "$BAD_CFG" || fail "could not write $BAD_CFG"
BAD_LOG=$WB_WORK/unreachable.log
"$WB_BIN" run -c "$BAD_CFG" >"$BAD_LOG" 2>&1 </dev/null &
BAD_PID=$!
wb_track_pid "$BAD_PID"
BAD_T0=$SECONDS

echo "-- set-up: logging triggers on source and target (schema testlog is not published)"
wb_setup_change_audit

echo "-- first run creates the slot; preload 300 users"
wb_run_until "$CFG"
wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'u' || g || '@example.com', 'F' || g, 'L' || g, nextval('testlog.seq')::text
            FROM generate_series(1, 300) g"
wb_run_until "$CFG"
wb_assert_synced "preload arrived"
wb_psql -c "TRUNCATE testlog.source_log, testlog.target_audit"

# ---------------------------------------------------------------- the writer
# One client (no lock waits), one psql per transaction so that it carries on
# after the server restart; every change sets a fresh phone.  A transaction
# cut by the restart either committed (and is in source_log) or not.
# Failures are expected only around the restart: the test writes "restart"
# to $PHASE for that time, and the writer records the phase before and after
# each failed transaction in failures.log.  It counts its commits in oks.
W=$WB_WORK/writer
mkdir -p "$W"
pick="SELECT id FROM portal.users ORDER BY random()"
cat >"$W/0.sql" <<EOF
UPDATE portal.users SET phone = nextval('testlog.seq')::text WHERE id IN ($pick LIMIT 2);
EOF
cat >"$W/1.sql" <<'EOF'
INSERT INTO portal.users (email, first_name, last_name, phone)
  VALUES ('w@example.com', 'Writer', 'Insert', nextval('testlog.seq')::text);
EOF
cat >"$W/2.sql" <<EOF
DELETE FROM portal.users WHERE id = ($pick LIMIT 1);
EOF
cat >"$W/3.sql" <<EOF
BEGIN;
UPDATE portal.users SET phone = nextval('testlog.seq')::text WHERE id IN ($pick LIMIT 3);
INSERT INTO portal.users (email, first_name, last_name, phone)
  VALUES ('m@example.com', 'Multi', 'Tx', nextval('testlog.seq')::text)
  RETURNING id AS new_id \gset
UPDATE portal.users SET phone = nextval('testlog.seq')::text, last_name = 'Tx updated' WHERE id = :new_id;
DELETE FROM portal.users WHERE id = ($pick LIMIT 1);
COMMIT;
EOF
STOP=$W/stop
PHASE=$W/phase
echo run >"$PHASE"
: >"$W/failures.log"
(
    okn=0 errn=0
    while [[ ! -e "$STOP" ]]; do
        r=$((RANDOM % 10))
        f=$W/0.sql
        ((r >= 5)) && f=$W/1.sql
        ((r == 7)) && f=$W/2.sql
        ((r >= 8)) && f=$W/3.sql
        before=$(<"$PHASE")
        if PGCONNECT_TIMEOUT=3 wb_psql -f "$f" >/dev/null 2>>"$W/errors.log"; then
            okn=$((okn + 1))
            echo "$okn" >"$W/oks"
        else
            errn=$((errn + 1))
            echo "$before $(<"$PHASE")" >>"$W/failures.log"
            sleep 0.1
        fi
        sleep 0.01
    done
    echo "$okn $errn" >"$W/counts"
) &
WRITER=$!
wb_track_pid "$WRITER"

echo "-- walbridge streams in the background"
wb_start_bg "$CFG"
T0=$SECONDS
WS_SQL="SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_replication
        WHERE application_name = 'walbridge' AND state = 'streaming'"
APPLY_SQL="SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
           WHERE datname = '$WB_DB' AND application_name = 'walbridge' AND backend_type = 'client backend'"
AUDIT_SQL="SELECT count(*) FROM testlog.target_audit"

# wait_true SECS SQL DESC: poll until SQL returns t (server errors tolerated).
wait_true() { wb_wait_sql "$1" "$2" t "$3"; }
# wait_changes: until the writer has made $CHANGES more source changes
# (counted from the last call; the ceiling only catches a stalled writer).
SRC_MARK=0
wait_changes() {
    SRC_MARK=$((SRC_MARK + CHANGES))
    wait_true 300 "SELECT count(*) >= $SRC_MARK FROM testlog.source_log" \
        "the writer made $CHANGES more source changes (>= $SRC_MARK in all)"
}
# writer_oks: the writer's commits so far.
writer_oks() { local n=0; [[ -s "$W/oks" ]] && n=$(<"$W/oks"); echo "${n:-0}"; }

# wait_recovered EVENT OLD_WALSENDER OLD_APPLY AUDIT_BEFORE LOG_LINES_BEFORE:
# a new walsender streams, a new apply backend exists, the target moves, and
# walbridge's log has a reconnect and a new stream since the event.
wait_recovered() {
    local ev=$1 old_ws=$2 old_apply=$3 audit=$4 lines=$5 t0=$SECONDS new
    wait_true 60 "SELECT count(*) = 1 AND min(pid) <> $old_ws FROM pg_stat_replication
                  WHERE application_name = 'walbridge' AND state = 'streaming'" \
        "($ev) a new walsender streams for walbridge"
    wait_true 30 "SELECT count(*) = 1 AND min(pid) <> $old_apply FROM pg_stat_activity
                  WHERE datname = '$WB_DB' AND application_name = 'walbridge' AND backend_type = 'client backend'" \
        "($ev) walbridge has a new apply backend"
    wait_true 30 "SELECT count(*) > $audit + 10 FROM testlog.target_audit" \
        "($ev) changes reach the target again (> $audit + 10 audited writes)"
    echo "($ev) recovered in $((SECONDS - t0)) s"
    wb_bg_check_alive
    ok "($ev) walbridge (pid $WB_BG_PID) is still running"
    new=$(tail -n +"$((lines + 1))" "$WB_LOG")
    grep -qE 'reconnecting in [0-9]+ ms \(attempt [0-9]+\)' <<<"$new" ||
        { echo "$new" >&2; fail "($ev) no 'reconnecting in N ms' line in walbridge's log since the event"; }
    ok "($ev) the log shows a reconnect: $(grep -oE 'reconnecting in [0-9]+ ms \(attempt [0-9]+\)' <<<"$new" | paste -sd, -)"
    grep -qF 'streaming from slot' <<<"$new" ||
        { echo "$new" >&2; fail "($ev) no new 'streaming from slot' line in walbridge's log since the event"; }
    ok "($ev) the log shows a new stream"
}

wait_true 30 "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'walbridge' AND state = 'streaming'" \
    "walbridge streams (pg_stat_replication, application_name walbridge)"
wait_true 60 "SELECT count(*) > 20 FROM testlog.target_audit" "the writer's changes reach the target"

# ------------------------------------------------------------ 1. walsender
wait_changes
ws=$(wb_psql -c "$WS_SQL")
apply=$(wb_psql -c "$APPLY_SQL")
[[ "$ws" =~ ^[0-9]+$ ]] || fail "expected one walsender for walbridge, got '$ws'"
[[ "$apply" =~ ^[0-9]+$ ]] || fail "expected one apply backend (application_name walbridge, client backend), got '$apply'"
ok "walbridge's backends: walsender $ws (pg_stat_replication), apply $apply (client backend, application_name walbridge)"
audit=$(wb_psql -c "$AUDIT_SQL")
lines=$(wc -l <"$WB_LOG")
echo "-- 1. t=$((SECONDS - T0))s: pg_terminate_backend($ws), the walsender (target audit: $audit)"
assert_eq "$(wb_psql -c "SELECT pg_terminate_backend($ws)")" t "(1) walsender $ws terminated"
wait_recovered 1 "$ws" "$apply" "$audit" "$lines"

# ------------------------------------------------------------ 2. apply backend
wait_changes
ws=$(wb_psql -c "$WS_SQL")
apply=$(wb_psql -c "$APPLY_SQL")
[[ "$ws" =~ ^[0-9]+$ && "$apply" =~ ^[0-9]+$ ]] || fail "expected one walsender and one apply backend, got '$ws' and '$apply'"
audit=$(wb_psql -c "$AUDIT_SQL")
lines=$(wc -l <"$WB_LOG")
echo "-- 2. t=$((SECONDS - T0))s: pg_terminate_backend($apply), the apply backend (target audit: $audit)"
assert_eq "$(wb_psql -c "SELECT pg_terminate_backend($apply)")" t "(2) apply backend $apply terminated"
wait_recovered 2 "$ws" "$apply" "$audit" "$lines"

# ------------------------------------------------------------ 3. server crash
wait_changes
ws=$(wb_psql -c "$WS_SQL")
apply=$(wb_psql -c "$APPLY_SQL")
[[ "$ws" =~ ^[0-9]+$ && "$apply" =~ ^[0-9]+$ ]] || fail "expected one walsender and one apply backend, got '$ws' and '$apply'"
audit=$(wb_psql -c "$AUDIT_SQL")
lines=$(wc -l <"$WB_LOG")
pm_before=$(head -n 1 "$WB_PG_DATA/postmaster.pid")
echo "-- 3. t=$((SECONDS - T0))s: pg_ctl restart -m immediate (postmaster $pm_before, target audit: $audit)"
echo restart >"$PHASE"
wbc_pg_ctl restart -m immediate -w -t 60 -l "$WB_PG_LOG" >"$WB_WORK/pg_ctl.restart.log" 2>&1 || {
    cat "$WB_WORK/pg_ctl.restart.log" >&2
    fail "(3) pg_ctl restart -m immediate failed"
}
pm_after=$(head -n 1 "$WB_PG_DATA/postmaster.pid")
[[ "$pm_after" != "$pm_before" ]] || fail "(3) the postmaster pid did not change ($pm_before)"
ok "(3) the server was restarted in immediate mode (postmaster $pm_before -> $pm_after)"
wait_recovered 3 "$ws" "$apply" "$audit" "$lines"
# The writer is serial: once it has committed twice since the server came
# back, the second transaction started after the restart and every one the
# restart cut is over.  Failures from here on are failures.
oks=$(writer_oks)
deadline=$((SECONDS + 120))
until (($(writer_oks) >= oks + 2)); do
    ((SECONDS < deadline)) || fail "(3) the writer committed nothing for 120 s after the restart"
    sleep 0.1
done
echo run >"$PHASE"

# ------------------------------------------------------------ final catch-up
wait_changes
touch "$STOP"
wait "$WRITER" || true
read -r wr_ok wr_err <"$W/counts" || fail "the writer left no counts"
echo "writer: $wr_ok transactions succeeded, $wr_err failed (the restart cuts some; errors in $W/errors.log)"
outside=$(grep -vc restart "$W/failures.log" || true)
if ((outside != 0)); then
    tail -n 20 "$W/errors.log" >&2
    fail "the writer failed $outside time(s) away from the server restart (phases before/after in $W/failures.log)"
fi
ok "the writer's $wr_err failed transactions all fell around the server restart"
rc=0
wb_stop_bg "$WB_BG_PID" || rc=$?
assert_eq "$rc" 0 "walbridge exits 0 on the final SIGTERM"
wb_wait_server_released 30
wb_run_until "$CFG"

echo "-- checks: every reconnect line, and the multisets of changes"
mapfile -t rec < <(grep -oE 'reconnecting in [0-9]+ ms \(attempt [0-9]+\)' "$WB_LOG" | sed -E 's/reconnecting in ([0-9]+) ms \(attempt ([0-9]+)\)/\1 \2/')
assert_ge "${#rec[@]}" 3 "walbridge's log has a reconnect line for each of the 3 events"
# check_backoff WHO: every "N K" in rec[] is within the capped backoff bounds.
check_backoff() {
    local who=$1 line n k hi
    for line in "${rec[@]}"; do
        read -r n k <<<"$line"
        hi=$((k >= 8 ? CAP_MS : BASE_MS << (k - 1)))
        ((hi > CAP_MS)) && hi=$CAP_MS
        ((n <= hi && n >= hi / 2)) ||
            fail "$who: 'reconnecting in $n ms (attempt $k)' is outside [$((hi / 2)), $hi] ms"
    done
    ok "$who: ${#rec[@]} delays within [d/2, d], d = min(${CAP_MS}, ${BASE_MS} x 2^(attempt-1)) ms: $(printf '%s\n' "${rec[@]}" | awk '{printf "%s%s ms (attempt %s)", (NR > 1 ? ", " : ""), $1, $2}')"
}
check_backoff "streaming walbridge"

# assert_exactly_once WHAT: target rows = mapped source rows, and the
# multiset of source changes = the multiset of target writes.
assert_exactly_once() {
    local what=$1 src tgt ndiff
    wb_assert_synced "$what: target rows equal the mapped source rows"
    src=$(wb_psql -c "SELECT count(*) FROM testlog.source_log")
    tgt=$(wb_psql -c "SELECT count(*) FROM testlog.target_audit")
    ndiff=$(wb_psql -c "SELECT count(*) FROM ($MULTISET_DIFF) d")
    if [[ "$ndiff" != 0 ]]; then
        echo "source changes: $src, target writes: $tgt, differing (op, id, phone): $ndiff" >&2
        wb_psql_table -c "SELECT problem, count(*) FROM ($MULTISET_DIFF) d GROUP BY 1 ORDER BY 1" >&2 || true
        wb_psql_table -c "SELECT * FROM ($MULTISET_DIFF) d ORDER BY id, phone LIMIT 30" >&2 || true
        fail "$what: source changes and target writes differ as multisets"
    fi
    ok "$what: multiset of source changes equals multiset of target writes ($src = $tgt, none lost or applied twice)"
}

src_changes=$(wb_psql -c "SELECT count(*) FROM testlog.source_log")
assert_ge "$src_changes" "$SRC_MARK" "source row changes logged during the test"
wb_psql_table -c "SELECT op, count(*) AS source_changes,
                         (SELECT count(*) FROM testlog.target_audit t WHERE t.op = s.op) AS target_writes
                  FROM testlog.source_log s GROUP BY op ORDER BY op"
assert_exactly_once "after 3 connection losses"

# ------------------------------------ 4, 5. apply backend, busy and idle
# Event 2 hits the apply backend at a random moment of the writer's run.
# These two pin the moment down, with no writer: (4) in the middle of a
# statement (a target trigger sleeps once), where the statement fails with
# FATAL 57P01; (5) between transactions, where the FATAL arrives unasked and
# the next statement finds the connection gone.  Both are a lost connection
# to retry (README), not a change that cannot be applied (exit 4) nor a
# runtime failure (exit 1).
wb_psql <<'SQL'
CREATE SEQUENCE testlog.slow_once;
CREATE FUNCTION testlog.slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.firstname = 'slow-apply' AND nextval('testlog.slow_once') = 1 THEN
    PERFORM pg_sleep(20);   -- only the first attempt (a sequence is not rolled back)
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER slow AFTER INSERT OR UPDATE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.slow();
SQL

# kill_apply EVENT busy|idle
kill_apply() {
    local ev=$1 mode=$2 lines apply rc name
    name=$mode-apply
    wb_start_bg "$CFG"
    wait_true 30 "SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'walbridge' AND state = 'streaming'" \
        "($ev) walbridge streams"
    lines=$(wc -l <"$WB_LOG")
    if [[ $mode == busy ]]; then
        name=slow-apply
        wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
                    VALUES ('$name@example.com', '$name', 'Busy', nextval('testlog.seq')::text)"
        wait_true 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$WB_DB' AND application_name = 'walbridge'
                      AND backend_type = 'client backend' AND state = 'active' AND wait_event = 'PgSleep'" \
            "($ev) the apply backend is inside the slow target trigger"
    else
        sleep 1
        wait_true 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$WB_DB' AND application_name = 'walbridge'
                      AND backend_type = 'client backend' AND state LIKE 'idle%'" \
            "($ev) the apply backend is idle"
    fi
    apply=$(wb_psql -c "$APPLY_SQL")
    [[ "$apply" =~ ^[0-9]+$ ]] || fail "($ev) expected one apply backend, got '$apply'"
    assert_eq "$(wb_psql -c "SELECT pg_terminate_backend($apply)")" t "($ev) apply backend $apply terminated ($mode)"
    sleep 1
    if [[ $mode == idle ]]; then
        wb_psql -c "INSERT INTO portal.users (email, first_name, last_name, phone)
                    VALUES ('$name@example.com', '$name', 'Idle', nextval('testlog.seq')::text)"
        sleep 1
    fi
    if ! wb_bg_alive "$WB_BG_PID"; then
        rc=0
        wait "$WB_BG_PID" || rc=$?
        wb_forget_bg "$WB_BG_PID"
        tail -n +"$((lines + 1))" "$WB_LOG" >&2
        fail "($ev) walbridge exited with code $rc after its apply backend was terminated ($mode), instead of reconnecting"
    fi
    wait_true 30 "SELECT count(*) = 1 FROM salesforce.account WHERE firstname = '$name'" \
        "($ev) the change arrives after the reconnect"
    new=$(tail -n +"$((lines + 1))" "$WB_LOG")
    grep -qE 'reconnecting in [0-9]+ ms' <<<"$new" || { echo "$new" >&2; fail "($ev) no reconnect in walbridge's log"; }
    ok "($ev) the log shows a reconnect: $(grep -oE 'reconnecting in [0-9]+ ms \(attempt [0-9]+\)' <<<"$new" | paste -sd, -)"
    rc=0
    wb_stop_bg "$WB_BG_PID" || rc=$?
    assert_eq "$rc" 0 "($ev) walbridge exits 0 on SIGTERM"
    wb_wait_server_released 30
}
echo "-- 4. the apply backend is terminated in the middle of a statement"
kill_apply 4 busy
echo "-- 5. the apply backend is terminated between transactions, then a change arrives"
kill_apply 5 idle
wb_run_until "$CFG"
assert_exactly_once "after events 4 and 5"

# Attempt 9 is the first whose range shows the cap unambiguously: capped
# [15000, 30000] ms, uncapped [32000, 64000] ms.  Its line is logged some
# 250+500+...+16000 + 30000 ms = 61.75 s after the start at most (~46 s on
# average); the ceiling only catches a walbridge that hangs.
echo "-- the unreachable walbridge reaches the backoff cap (attempt 9)"
deadline=$((BAD_T0 + 240))
while ! grep -qE 'reconnecting in [0-9]+ ms \(attempt (9|[1-9][0-9]+)\)' "$BAD_LOG"; do
    kill -0 "$BAD_PID" 2>/dev/null || { cat "$BAD_LOG" >&2; fail "the unreachable walbridge exited by itself"; }
    ((SECONDS < deadline)) || { cat "$BAD_LOG" >&2; fail "the unreachable walbridge did not log attempt 9 within 240 s"; }
    sleep 0.5
done
kill -TERM "$BAD_PID"
rc=0
wait "$BAD_PID" || rc=$?
echo "unreachable walbridge ran $((SECONDS - BAD_T0)) s; its log:"
sed 's/^/    | /' "$BAD_LOG" | tail -n 12
assert_eq "$rc" 0 "the unreachable walbridge exits 0 on SIGTERM while waiting to reconnect"
assert_contains "$BAD_LOG" "the database system is starting up" "the unreachable walbridge reports the server's refusal"
mapfile -t rec < <(grep -oE 'reconnecting in [0-9]+ ms \(attempt [0-9]+\)' "$BAD_LOG" | sed -E 's/reconnecting in ([0-9]+) ms \(attempt ([0-9]+)\)/\1 \2/')
attempts=$(printf '%s\n' "${rec[@]}" | awk '{print $2}' | paste -sd' ')
assert_eq "$attempts" "$(seq -s ' ' 1 "${#rec[@]}")" "unreachable walbridge: attempts numbered 1, 2, 3... without reset"
check_backoff "unreachable walbridge"
capped=$(printf '%s\n' "${rec[@]}" | awk -v c=$CAP_MS '$2 >= 9 && $1 >= c / 2 && $1 <= c' | wc -l)
assert_ge "$capped" 1 "unreachable walbridge: attempt 9 waits between $((CAP_MS / 2)) and $CAP_MS ms (capped; uncapped would be 32000..64000)"

# What it did against what it said.  Attempt K is connection K to the
# listener; "reconnecting in N_K ms (attempt K)" follows its refusal, which
# walbridge cannot have seen before the listener sent it.  So attempt K+1
# comes at least N_K ms after attempt K was refused, however fast or slow
# the machine: a lower bound only (a slow machine merely waits longer).
# libuv's timers count whole milliseconds (its clock is truncated to the
# millisecond), so an attempt may come up to 1 ms before the delay's end.
mapfile -t acc < <(cat "$ATTEMPTS")
K=${#rec[@]}
((${#acc[@]} == K || ${#acc[@]} == K + 1)) || {
    cat "$ATTEMPTS" >&2
    fail "unreachable walbridge: ${#acc[@]} connections to the listener for $K announced reconnects (expected one connection per attempt)"
}
ok "unreachable walbridge: one connection per attempt (${#acc[@]} connections, $K reconnects announced)"
printf '%s\n' "${rec[@]}" >"$WB_WORK/refuse/announced"
# Shown: the first 12 intervals, and any others that came too soon (at
# most 20): a walbridge that does not wait makes hundreds of thousands.
report=$(
    awk -v n="${#acc[@]}" '
            FNR == NR { d[FNR] = $1; next }
            { a[FNR] = $1; r[FNR] = $2 }
            END {
                bad = 0
                for (k = 1; k < n; k++) {
                    gap = (a[k + 1] - r[k]) * 1000
                    soon = gap < d[k] - 1
                    if (soon) bad++
                    if (k <= 12 || (soon && bad <= 20))
                        printf "attempt %d: announced %d ms; attempt %d came %.1f ms after its refusal: %s\n",
                            k, d[k], k + 1, gap, (soon ? "TOO SOON" : "ok")
                }
                printf "checked %d\n", bad
            }' "$WB_WORK/refuse/announced" "$ATTEMPTS")
grep -v '^checked' <<<"$report" | sed 's/^/    /'
[[ "$(tail -n 1 <<<"$report")" == "checked 0" ]] ||
    fail "unreachable walbridge: an attempt came sooner after the previous refusal than the delay announced for it"
ok "unreachable walbridge: every attempt K+1 came at least the announced N_K ms after attempt K was refused ($((${#acc[@]} - 1)) intervals)"
