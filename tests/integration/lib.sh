# shellcheck shell=bash
# tests/integration/lib.sh - sourced by every tests/integration/test_*.sh.
#
# Environment (set by tests/CMakeLists.txt):
#   WB_PG_STATE    state dir of the cluster started by the `pg` fixture
#                  (tests/harness/pg_cluster.sh start); its env.sh is required
#   WB_BIN         the walbridge binary (default: build/walbridge)
#   WB_SOURCE_DIR  the source tree (default: derived from this file)
# Optional:
#   WB_LOG_LEVEL   passed to every walbridge run as --log-level
#   WB_KEEP=1      keep the test database and work dir (debugging)
#
# Each test gets a fresh database wbt_<name> (from test_<name>.sh) with
# schemas/ loaded, a slot and publication of the same name, and a work dir.
# On exit a trap stops background walbridge processes, drops the slot(s),
# replication origins and the database, and on failure prints the walbridge
# log.  Integration tests never skip: a missing server is a failure.
set -euo pipefail

WB_TEST_SCRIPT=$(basename "$0" .sh)
WB_TEST_NAME=${WB_TEST_SCRIPT#test_}
# A script run again another way (tests/CMakeLists.txt sets the variant)
# gets a database, slot and work dir of its own.
WB_TEST_NAME=$WB_TEST_NAME${WB_TEST_VARIANT:+_$WB_TEST_VARIANT}
# Slot names allow lower-case letters, digits and underscore only.
WB_TEST_NAME=$(printf '%s' "$WB_TEST_NAME" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_' '_')
WB_DB=wbt_${WB_TEST_NAME}
WB_SLOT=$WB_DB
WB_PUB=$WB_DB
WB_SLOTS=("$WB_SLOT")
WB_BG_PIDS=()
WB_OTHER_PIDS=()
WB_BG_PID=""
WB_BG_RC=0
WB_RUN_N=0
WB_WORK=""
WB_LOG=""
WB_CHECKS=0

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
ok() {
    WB_CHECKS=$((WB_CHECKS + 1))
    printf 'ok %d - %s\n' "$WB_CHECKS" "$*"
}

# assert_eq ACTUAL EXPECTED MSG
assert_eq() {
    local actual=$1 expected=$2 msg=${3:-values}
    if [[ "$actual" == "$expected" ]]; then
        ok "$msg (= '$actual')"
    else
        printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$msg" "$expected" "$actual" >&2
        exit 1
    fi
}

# assert_ge ACTUAL MIN MSG (integers)
assert_ge() {
    local actual=$1 min=$2 msg=${3:-value}
    [[ "$actual" =~ ^-?[0-9]+$ ]] || fail "$msg: '$actual' is not an integer"
    if ((actual >= min)); then
        ok "$msg ($actual >= $min)"
    else
        printf 'FAIL: %s\n  expected: >= %s\n  actual:   %s\n' "$msg" "$min" "$actual" >&2
        exit 1
    fi
}

# assert_contains HAYSTACK_FILE NEEDLE MSG  /  assert_not_contains ...
assert_contains() {
    local file=$1 needle=$2 msg=${3:-output contains "$2"}
    if grep -qF -- "$needle" "$file"; then
        ok "$msg"
    else
        echo "----- $file -----" >&2
        cat "$file" >&2 || true
        echo "-----" >&2
        fail "$msg: '$needle' not found in $file"
    fi
}
assert_not_contains() {
    local file=$1 needle=$2 msg=${3:-output does not contain "$2"}
    if grep -qF -- "$needle" "$file"; then
        echo "----- $file -----" >&2
        cat "$file" >&2 || true
        echo "-----" >&2
        fail "$msg: '$needle' found in $file"
    else
        ok "$msg"
    fi
}

# ---------------------------------------------------------------- environment

if [[ -z "${WB_PG_STATE:-}" ]]; then
    fail "WB_PG_STATE is not set: run the integration tests through ctest (the 'pg' fixture starts the server), or set WB_PG_STATE to a dir given to tests/harness/pg_cluster.sh start"
fi
if [[ ! -f "$WB_PG_STATE/env.sh" ]]; then
    fail "$WB_PG_STATE/env.sh is missing: the test server is not running (did integration.setup fail? see tests/harness/pg_cluster.sh)"
fi
# shellcheck source=/dev/null
source "$WB_PG_STATE/env.sh"
: "${PGHOST:?env.sh did not set PGHOST}" "${WB_PG_LOG:?env.sh did not set WB_PG_LOG}"

WB_SOURCE_DIR=${WB_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WB_BIN=${WB_BIN:-$WB_SOURCE_DIR/build/walbridge}
[[ -x "$WB_BIN" ]] || fail "walbridge binary not found or not executable: $WB_BIN (set WB_BIN)"
command -v psql >/dev/null || fail "psql not on PATH (env.sh should have added $WB_PG_BINDIR)"

# ---------------------------------------------------------------- SQL helpers

# psql against the test database, quiet, unaligned, tuples only.
# wb_need_python: set PY to a python3 with psycopg2, jsonschema and yaml
# (the harness scripts' modules; tests/harness/deps.sh installs them), or
# fail: a test never skips silently.
wb_need_python() {
    # shellcheck source=tests/harness/deps.sh
    source "$WB_SOURCE_DIR/tests/harness/deps.sh"
    PY=$(wb_python_for_tests) ||
        fail "no python3 with psycopg2, jsonschema and yaml (Debian: python3-psycopg2 python3-jsonschema python3-yaml; tests/harness/deps.sh installs them)"
}

wb_psql() {
    PGOPTIONS="-c client_min_messages=warning" PGCLIENTENCODING=UTF8 PGAPPNAME=wbt_psql psql -X -v ON_ERROR_STOP=1 -qAt -d "$WB_DB" "$@"
}
# The same against the maintenance database.
wb_psql_admin() {
    PGOPTIONS="-c client_min_messages=warning" PGAPPNAME=wbt_psql psql -X -v ON_ERROR_STOP=1 -qAt -d postgres "$@"
}
# Human-readable table output (for failure reports and demos).
wb_psql_table() {
    PGOPTIONS="-c client_min_messages=warning" PGCLIENTENCODING=UTF8 PGAPPNAME=wbt_psql psql -X -v ON_ERROR_STOP=1 -q -P pager=off -P null="<null>" -d "$WB_DB" "$@"
}

# Slot names are validated ([a-z0-9_]), so they can be inlined in SQL.
wb_check_ident() {
    [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || fail "bad identifier '$1'"
}

# Terminate whatever uses the test database's slots, then drop the slots,
# the database and walbridge's replication origins (cluster-wide objects
# that outlive the database).  Errors are reported and ignored.
wb_drop_db() {
    local s origins="" deadline
    for s in "${WB_SLOTS[@]}"; do
        wb_check_ident "$s"
        origins+="${origins:+,}'walbridge_$s'"
    done
    wb_psql_admin -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                      WHERE database = '$WB_DB' AND active_pid IS NOT NULL" >/dev/null || true
    deadline=$((SECONDS + 15))
    while ((SECONDS < deadline)); do
        [[ "$(wb_psql_admin -c "SELECT count(*) FROM pg_replication_slots
              WHERE database = '$WB_DB' AND active" 2>/dev/null || echo 0)" == 0 ]] && break
        sleep 0.2
    done
    wb_psql_admin -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                      WHERE database = '$WB_DB'" >/dev/null || true
    wb_psql_admin -c "DROP DATABASE IF EXISTS $WB_DB WITH (FORCE)" || true
    wb_psql_admin -c "DO \$\$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT roname FROM pg_replication_origin WHERE roname IN ($origins) LOOP
            BEGIN
              PERFORM pg_replication_origin_drop(r.roname);
            EXCEPTION WHEN others THEN
              RAISE WARNING 'could not drop replication origin %: %', r.roname, SQLERRM;
            END;
          END LOOP;
        END \$\$" || true
}

wb_create_db() {
    wb_check_ident "$WB_DB"
    wb_drop_db
    wb_psql_admin -c "CREATE DATABASE $WB_DB" || fail "cannot create database $WB_DB"
    wb_psql -f "$WB_SOURCE_DIR/schemas/all.sql" || fail "cannot load schemas/all.sql into $WB_DB"
}

# wb_wait_sql SECONDS SQL EXPECTED DESCRIPTION
# Poll until SQL (one value) returns EXPECTED; fail at the deadline.
wb_wait_sql() {
    local secs=$1 sql=$2 expected=$3 desc=$4 got="" deadline
    deadline=$((SECONDS + secs))
    while :; do
        got=$(wb_psql -c "$sql" 2>&1) || true
        if [[ "$got" == "$expected" ]]; then
            ok "$desc (= '$got')"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            printf 'FAIL: %s: still %s after %ss (expected %s)\n' "$desc" "'$got'" "$secs" "'$expected'" >&2
            exit 1
        fi
        wb_bg_check_alive
        sleep 0.2
    done
}

# The mapped view of the source next to the target: rows that differ.
WB_DIFF_SQL="
SELECT coalesce(s.k, t.external_id__c) AS key,
       CASE WHEN s.k IS NULL THEN 'only in target'
            WHEN t.external_id__c IS NULL THEN 'only in source'
            ELSE 'differs' END AS problem,
       s.email, t.personemail, s.first_name, t.firstname,
       s.last_name, t.lastname, s.phone AS src_phone, t.phone AS tgt_phone
FROM (SELECT id::text AS k, email, first_name, last_name, phone FROM portal.users) s
FULL JOIN salesforce.account t ON t.external_id__c = s.k
WHERE s.k IS NULL OR t.external_id__c IS NULL
   OR (s.email, s.first_name, s.last_name, s.phone)
      IS DISTINCT FROM (t.personemail, t.firstname, t.lastname, t.phone)"

# wb_assert_synced MSG: salesforce.account equals the mapped portal.users,
# row for row (full outer join on the key, all mapped columns compared
# with IS NOT DISTINCT FROM).
wb_assert_synced() {
    local msg=${1:-target equals mapped source} n src tgt
    n=$(wb_psql -c "SELECT count(*) FROM ($WB_DIFF_SQL) d")
    src=$(wb_psql -c "SELECT count(*) FROM portal.users")
    tgt=$(wb_psql -c "SELECT count(*) FROM salesforce.account")
    if [[ "$n" != 0 ]]; then
        echo "rows: portal.users=$src salesforce.account=$tgt, differing keys: $n (first 20):" >&2
        wb_psql_table -c "$WB_DIFF_SQL ORDER BY 1 LIMIT 20" >&2 || true
        fail "$msg"
    fi
    ok "$msg ($src source rows, $tgt target rows, 0 differences)"
}

# wb_assert_compare_clean FILE MSG: `walbridge compare` of every mapping of
# FILE finds nothing, persistent or in flight (lib/compare.c).
wb_assert_compare_clean() {
    local file=$1 msg=$2 rc=0 out
    WB_COMPARE_N=$((${WB_COMPARE_N:-0} + 1))
    out=$WB_WORK/compare.$WB_COMPARE_N
    wb_exec "$out" 300 compare -c "$file" --json || rc=$?
    if [[ $rc != 0 ]] || [[ "$(jq -r '[.mappings[] | .persistent[], .in_flight[]] | add' "$out.stdout")" != 0 ]]; then
        cat "$out" "$out.stdout" >&2
        fail "$msg: compare exited $rc"
    fi
    ok "$msg ($(jq -r '[.mappings[] | "\(.mapping): \(.source_rows) rows"] | join(", ")' "$out.stdout"), no differences)"
}

# ------------------------------------------------------------ progress / slot

# wb_stored_lsn SLOT: walbridge's stored position for SLOT: the replication
# origin walbridge_<slot> if it exists, else walbridge.progress.
wb_stored_lsn() {
    local slot=${1:-$WB_SLOT} lsn
    wb_check_ident "$slot"
    lsn=$(wb_psql -c "SELECT s.remote_lsn FROM pg_replication_origin_status s
                      JOIN pg_replication_origin o ON o.roident = s.local_id
                      WHERE o.roname = 'walbridge_$slot'")
    if [[ -z "$lsn" && "$(wb_psql -c "SELECT to_regclass('walbridge.progress') IS NOT NULL")" == t ]]; then
        lsn=$(wb_psql -c "SELECT end_lsn FROM walbridge.progress WHERE slot = '$slot'")
    fi
    printf '%s\n' "$lsn"
}

wb_slot_confirmed_lsn() {
    local slot=${1:-$WB_SLOT}
    wb_check_ident "$slot"
    wb_psql -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'"
}

# Wait until no walbridge connection to the test database is left on the
# server (slot inactive, no client/walsender backend other than ours).
# After a kill -9 the server notices the closed sockets on its own.
wb_wait_server_released() {
    local secs=${1:-30} deadline n
    deadline=$((SECONDS + secs))
    while :; do
        n=$(wb_psql_admin -c "SELECT (SELECT count(*) FROM pg_replication_slots
                                      WHERE database = '$WB_DB' AND active)
                                   + (SELECT count(*) FROM pg_stat_activity
                                      WHERE datname = '$WB_DB' AND pid <> pg_backend_pid()
                                        AND backend_type IN ('client backend', 'walsender')
                                        AND coalesce(application_name, '') NOT LIKE 'wbt\\_%')")
        [[ "$n" == 0 ]] && return 0
        if ((SECONDS >= deadline)); then
            wb_psql_admin -P pager=off -c "SELECT pid, backend_type, application_name, state, query
                FROM pg_stat_activity WHERE datname = '$WB_DB'" >&2 || true
            fail "walbridge's server connections to $WB_DB still exist ${secs}s after it stopped"
        fi
        sleep 0.1
    done
}

# ------------------------------------------------------------ walbridge runs

# wb_write_config FILE [SLOT]
# wb_variant_source_keys: extra source keys of the test's variant
# (WB_TEST_VARIANT=text: values as text, source.binary: off; the default
# configurations read binary values).
wb_variant_source_keys() {
    [[ "${WB_TEST_VARIANT:-}" == *text ]] && echo "  binary: off"
    return 0
}

# wb_assert_format: every walbridge run of the test streamed text values
# (variant text), or some streamed binary values (the others).
wb_assert_format() {
    local all bin
    all=$(grep -c 'streaming from slot' "$WB_LOG" || true)
    bin=$(grep -c 'streaming from slot.*, binary values' "$WB_LOG" || true)
    if [[ "${WB_TEST_VARIANT:-}" == *text ]]; then
        assert_eq "$bin/$((all > 0))" "0/1" "variant text: every run streamed text values"
    else
        assert_ge "$bin" 1 "runs streamed binary values"
    fi
}

wb_write_config() {
    local file=$1 slot=${2:-$WB_SLOT} s known=0
    wb_check_ident "$slot"
    for s in "${WB_SLOTS[@]}"; do [[ "$s" == "$slot" ]] && known=1; done
    ((known)) || WB_SLOTS+=("$slot")
    cat >"$file" <<EOF
# written by tests/integration/lib.sh for $WB_TEST_SCRIPT
source:
  conninfo: "host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
  slot: $slot
  publication: $WB_PUB
  schemas: [portal, public, salesforce]
$(wb_variant_source_keys)
target:
  conninfo: ""
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
EOF
}

# wb_config_mappings FILE [SLOT]: FILE as wb_write_config writes it, with
# the mappings section read from stdin instead of the default mapping.
wb_config_mappings() {
    local file=$1
    wb_write_config "$@"
    sed -i '/^mappings:/,$d' "$file"
    cat >>"$file"
}

wb_log_level_args() {
    if [[ -n "${WB_LOG_LEVEL:-}" ]]; then
        printf '%s\n' --log-level "$WB_LOG_LEVEL"
    fi
}

# wb_exec OUT SECONDS ARGS...: run walbridge ARGS with a timeout (stdin
# /dev/null); stderr goes to OUT, stdout to OUT.stdout, both are appended to
# the test's walbridge log.  Prints nothing; returns walbridge's exit code
# (124: timed out).
wb_exec() {
    local out=$1 secs=$2 rc=0
    shift 2
    {
        printf '\n===== %s: walbridge' "$(date -u '+%H:%M:%S')"
        printf ' %q' "$@"
        printf '\n'
    } >>"$WB_LOG"
    timeout -k 10 "$secs" "$WB_BIN" "$@" >"$out.stdout" 2>"$out" </dev/null || rc=$?
    {
        cat "$out"
        if [[ -s "$out.stdout" ]]; then
            echo "----- stdout:"
            cat "$out.stdout"
        fi
        echo "===== exit code $rc"
    } >>"$WB_LOG"
    return "$rc"
}

# wb_run_until FILE [ARGS...]: walbridge run -c FILE --until now; the test
# fails on a non-zero exit or after 120 s.
wb_run_until() {
    local file=$1 rc=0 out
    shift
    WB_RUN_N=$((WB_RUN_N + 1))
    out=$WB_WORK/run.$WB_RUN_N.log
    local -a extra
    mapfile -t extra < <(wb_log_level_args)
    wb_exec "$out" 120 run -c "$file" --until now "${extra[@]}" "$@" || rc=$?
    if ((rc != 0)); then
        echo "----- walbridge run --until now (run $WB_RUN_N) output -----" >&2
        cat "$out" "$out.stdout" >&2
        echo "-----" >&2
        if ((rc == 124)); then
            fail "walbridge run -c $file --until now did not finish within 120 s"
        fi
        fail "walbridge run -c $file --until now exited $rc"
    fi
    echo "walbridge run --until now: exit 0 (run $WB_RUN_N)"
}

# wb_start_bg FILE [ARGS...]: walbridge run -c FILE in the background;
# sets WB_BG_PID.
wb_start_bg() {
    local file=$1
    shift
    local -a extra
    mapfile -t extra < <(wb_log_level_args)
    printf '\n===== %s: walbridge run -c %s (background)\n' "$(date -u '+%H:%M:%S')" "$file" >>"$WB_LOG"
    "$WB_BIN" run -c "$file" "${extra[@]}" "$@" >>"$WB_LOG" 2>&1 </dev/null &
    WB_BG_PID=$!
    WB_BG_PIDS+=("$WB_BG_PID")
}

wb_forget_bg() {
    local pid=$1 p
    local -a keep=()
    for p in "${WB_BG_PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
    WB_BG_PIDS=("${keep[@]}")
}

wb_bg_alive() { kill -0 "${1:-$WB_BG_PID}" 2>/dev/null; }

# Fail if a background walbridge exited on its own.
wb_bg_check_alive() {
    local p rc
    for p in "${WB_BG_PIDS[@]}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            rc=0
            wait "$p" || rc=$?
            wb_forget_bg "$p"
            fail "background walbridge (pid $p) exited on its own with code $rc"
        fi
    done
}

# wb_stop_bg [PID]: SIGTERM, wait (60 s, then SIGKILL); sets WB_BG_RC and
# returns walbridge's exit code: use `rc=0; wb_stop_bg || rc=$?`.
wb_stop_bg() {
    local pid=${1:-$WB_BG_PID} rc=0 deadline
    [[ -n "$pid" ]] || fail "wb_stop_bg: no background walbridge"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "walbridge (pid $pid) did not exit within 60 s of SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || rc=$?
    wb_forget_bg "$pid"
    echo "===== background walbridge pid $pid stopped with SIGTERM: exit code $rc" >>"$WB_LOG"
    # shellcheck disable=SC2034 # for callers
    WB_BG_RC=$rc
    return "$rc"
}

# wb_kill9_bg [PID]: SIGKILL and reap.
wb_kill9_bg() {
    local pid=${1:-$WB_BG_PID}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    wb_forget_bg "$pid"
    echo "===== $(date -u '+%H:%M:%S.%N'): background walbridge pid $pid killed with SIGKILL" >>"$WB_LOG"
}

# wb_track_pid PID: another background process (a writer...) to kill on exit.
wb_track_pid() { WB_OTHER_PIDS+=("$1"); }
# wb_untrack_pid PID: that process has been reaped; not to be killed on exit.
wb_untrack_pid() {
    local p
    local -a keep=()
    for p in "${WB_OTHER_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    WB_OTHER_PIDS=("${keep[@]}")
}

# --------------------------------------------------------------------- exit

wb_on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    local p
    for p in "${WB_OTHER_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    for p in "${WB_BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    local deadline=$((SECONDS + 30))
    for p in "${WB_BG_PIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    WB_BG_PIDS=()
    if [[ "${WB_KEEP:-0}" != 1 ]]; then
        wb_drop_db >/dev/null 2>&1
    else
        echo "WB_KEEP=1: keeping database $WB_DB"
    fi
    if ((rc != 0)); then
        if [[ -n "$WB_LOG" && -s "$WB_LOG" ]]; then
            local lines
            lines=$(wc -l <"$WB_LOG")
            echo "----- walbridge log ($WB_LOG, $lines lines; last 300) -----" >&2
            tail -n 300 "$WB_LOG" >&2
            echo "----- end of walbridge log -----" >&2
        fi
        [[ -n "$WB_WORK" ]] && echo "work dir kept: $WB_WORK" >&2
        echo "FAIL: $WB_TEST_SCRIPT (exit code $rc)" >&2
    else
        if [[ -n "$WB_WORK" && -d "$WB_WORK" && "${WB_KEEP:-0}" != 1 ]]; then
            rm -rf -- "$WB_WORK"
        fi
        echo "PASS: $WB_TEST_SCRIPT ($WB_CHECKS checks)"
    fi
    exit "$rc"
}
trap wb_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wb_setup_change_audit: the exactly-once instrument.  A trigger on
# portal.users logs every source row change (op, id, phone) in
# testlog.source_log, one on salesforce.account every write walbridge makes
# (op, external_id__c, phone) in testlog.target_audit; schema testlog is
# not published.  Compared as multisets, the two show a change lost or
# applied twice even where the final rows converge.  testlog.seq gives
# writers a fresh phone per change, so every application is distinct.
wb_setup_change_audit() {
    wb_psql <<'SQL'
CREATE SCHEMA testlog;
CREATE SEQUENCE testlog.seq;
CREATE TABLE testlog.source_log (n bigserial PRIMARY KEY, op text NOT NULL, id text, phone text);
CREATE TABLE testlog.target_audit (n bigserial PRIMARY KEY, op text NOT NULL, id text, phone text);
CREATE FUNCTION testlog.log_source() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO testlog.source_log (op, id, phone) VALUES ('D', OLD.id::text, OLD.phone);
  ELSE
    INSERT INTO testlog.source_log (op, id, phone) VALUES (left(TG_OP, 1), NEW.id::text, NEW.phone);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_log_source AFTER INSERT OR UPDATE OR DELETE ON portal.users
  FOR EACH ROW EXECUTE FUNCTION testlog.log_source();
CREATE FUNCTION testlog.audit_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO testlog.target_audit (op, id, phone) VALUES ('D', OLD.external_id__c, OLD.phone);
  ELSE
    INSERT INTO testlog.target_audit (op, id, phone) VALUES (left(TG_OP, 1), NEW.external_id__c, NEW.phone);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_audit_target AFTER INSERT OR UPDATE OR DELETE ON salesforce.account
  FOR EACH ROW EXECUTE FUNCTION testlog.audit_target();
SQL
}

# wb_users_writer DIR MIN SCRIPT@WEIGHT...: pgbench in the background (3
# clients, 300 tx/s, until killed) changing portal.users rows whose id is
# above MIN (a SQL expression; 0 for all), each change a fresh phone from
# testlog.seq (wb_setup_change_audit).  Scripts: update (3 rows), insert,
# delete, rekey (a new primary key, id + 1000000), forge (a watermark with
# a wrong secret, resync.h).  Sets WB_WRITER_PID; wb_users_writer_stop
# ends it.
# A row is picked as the first of the client's rows at or after a random
# point of the key range (nine times in ten below the re-keyed ids, once in
# ten among them, if any), through the primary key: ORDER BY random() read
# and sorted the whole table at every transaction, a core's worth of server
# time at 300 tx/s on 60,000 rows.
wb_users_writer() {
    local dir=$1 min=$2 w
    shift 2
    mkdir -p "$dir"
    # The point: lo + (hi - lo) * r / 1000, or, with re-keyed rows, nine
    # times in ten lo + (hi - lo) * r / 900 and else a point among them.
    local from="(SELECT CASE WHEN :r >= 900 AND top >= 1000000 THEN 1000000 + (top - 1000000) * (:r - 900) / 100
                             WHEN top >= 1000000 THEN lo + (hi - lo) * :r / 900
                             ELSE lo + (hi - lo) * :r / 1000 END
                 FROM (SELECT ($min)::bigint AS lo,
                              (SELECT max(id) FROM portal.users WHERE id < 1000000) AS hi,
                              (SELECT max(id) FROM portal.users) AS top) b)"
    local pick="SELECT id FROM portal.users WHERE id % :nc = :client_id AND id > ($min) AND id >= $from ORDER BY id"
    cat >"$dir/update.sql" <<EOF
\set r random(0, 999)
UPDATE portal.users SET phone = nextval('testlog.seq')::text WHERE id IN ($pick LIMIT 3);
EOF
    cat >"$dir/insert.sql" <<'EOF'
INSERT INTO portal.users (email, first_name, last_name, phone)
  VALUES ('w' || :client_id || '@example.com', 'W', 'W', nextval('testlog.seq')::text);
EOF
    cat >"$dir/delete.sql" <<EOF
\set r random(0, 999)
DELETE FROM portal.users WHERE id = ($pick LIMIT 1);
EOF
    cat >"$dir/rekey.sql" <<EOF
\set r random(0, 999)
UPDATE portal.users SET id = id + 1000000, phone = nextval('testlog.seq')::text
  WHERE id = ($pick LIMIT 1) AND id < 1000000;
EOF
    cat >"$dir/forge.sql" <<'EOF'
SELECT pg_logical_emit_message(false, 'walbridge.watermark', md5(random()::text) || ' H 1');
EOF
    local -a args=()
    for w in "$@"; do args+=(-f "$dir/${w%@*}.sql@${w#*@}"); done
    PGAPPNAME=wbt_writer pgbench -n -c 3 -j 3 -T 600 -R 300 -D nc=3 "${args[@]}" \
        "$WB_DB" >"$dir/pgbench.log" 2>&1 &
    WB_WRITER_PID=$!
    wb_track_pid "$WB_WRITER_PID"
}
wb_users_writer_stop() {
    kill "$WB_WRITER_PID"
    wait "$WB_WRITER_PID" 2>/dev/null || true
    wb_untrack_pid "$WB_WRITER_PID"
}

# The two logs of wb_setup_change_audit compared as multisets, both ways
# (EXCEPT ALL keeps duplicates): a 'missing' row is a source change never
# applied, a 'surplus' row one applied twice (or never made).  Empty means
# exactly once.
MULTISET_DIFF="
(SELECT 'missing' AS problem, op, id, phone FROM
   (SELECT op, id, phone FROM testlog.source_log
    EXCEPT ALL SELECT op, id, phone FROM testlog.target_audit) m)
UNION ALL
(SELECT 'surplus' AS problem, op, id, phone FROM
   (SELECT op, id, phone FROM testlog.target_audit
    EXCEPT ALL SELECT op, id, phone FROM testlog.source_log) x)"

# ------------------------------------------------- sessions held open (FIFOs)
# A psql session that stays open between statements (a transaction holding
# a lock, a transaction left in progress), fed through a FIFO in the work
# dir.  Its output goes to $WB_WORK/sess.NAME.out; the exit trap ends it.
declare -A WB_SESS_FD WB_SESS_PID WB_SESS_N
# wb_sess_open NAME
wb_sess_open() {
    local name=$1 fd
    mkfifo "$WB_WORK/sess.$name.in"
    PGOPTIONS="-c client_min_messages=warning" PGCLIENTENCODING=UTF8 PGAPPNAME="wbt_sess_$name" \
        psql -X -v ON_ERROR_STOP=1 -qAt -d "$WB_DB" <"$WB_WORK/sess.$name.in" >"$WB_WORK/sess.$name.out" 2>&1 &
    WB_SESS_PID[$name]=$!
    wb_track_pid "$!"
    exec {fd}>"$WB_WORK/sess.$name.in"
    WB_SESS_FD[$name]=$fd
    WB_SESS_N[$name]=0
}
# wb_sess_run NAME SQL: run SQL in session NAME and wait until it is done
# (120 s ceiling: a hang, not a speed limit).
wb_sess_run() {
    local name=$1 sql=$2 n deadline
    n=$((WB_SESS_N[$name] + 1))
    WB_SESS_N[$name]=$n
    printf '%s\n\\echo __done_%s\n' "$sql" "$n" >&"${WB_SESS_FD[$name]}"
    deadline=$((SECONDS + 120))
    until grep -qx "__done_$n" "$WB_WORK/sess.$name.out"; do
        if ! kill -0 "${WB_SESS_PID[$name]}" 2>/dev/null; then
            cat "$WB_WORK/sess.$name.out" >&2
            fail "session $name exited"
        fi
        ((SECONDS < deadline)) || fail "session $name: statement did not finish within 120 s"
        sleep 0.05
    done
}
# wb_sess_close NAME: quit the session; fails if psql reported an error.
wb_sess_close() {
    local name=$1 fd
    fd=${WB_SESS_FD[$name]}
    printf '\\q\n' >&"$fd"
    exec {fd}>&-
    wait "${WB_SESS_PID[$name]}" || fail "session $name exited with an error: $(cat "$WB_WORK/sess.$name.out")"
    wb_untrack_pid "${WB_SESS_PID[$name]}"
}

# wb_wait_file SECONDS FILE NEEDLE DESCRIPTION: wait until FILE contains
# NEEDLE (a fixed string); fail at the deadline (a ceiling for hangs).
wb_wait_file() {
    local secs=$1 file=$2 needle=$3 desc=$4 deadline
    deadline=$((SECONDS + secs))
    until grep -qF -- "$needle" "$file" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "----- $file -----" >&2
            cat "$file" >&2 || true
            fail "$desc: '$needle' not in $file after ${secs}s"
        fi
        sleep 0.1
    done
    ok "$desc"
}

# wb_walsender_sql EXPR: EXPR over pg_stat_replication r for the walsender
# of the test's slot, false when there is none.
wb_walsender_sql() {
    printf "SELECT coalesce((SELECT %s FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '%s'), false)" "$1" "$WB_SLOT"
}

# wb_wait_replied_after LSN DESCRIPTION: the walsender of the slot has sent
# past LSN, and walbridge has since sent two status updates (the first may
# have been on its way already): whatever walbridge makes of the messages up
# to LSN, keepalives included, the server has been told.
wb_wait_replied_after() {
    local lsn=$1 desc=$2 t i
    wb_wait_sql 60 "$(wb_walsender_sql "r.sent_lsn >= '$lsn'")" t "$desc: the walsender has sent past $lsn"
    for i in 1 2; do
        t=$(wb_psql -c "SELECT clock_timestamp()")
        wb_wait_sql 60 "$(wb_walsender_sql "r.reply_time > '$t'::timestamptz")" t \
            "$desc: walbridge sent status update $i after that"
    done
}

# ------------------------------------------------------------------- set-up

WB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/wbt_${WB_TEST_NAME}.XXXXXX")
WB_LOG=$WB_WORK/walbridge.log
: >"$WB_LOG"
echo "== $WB_TEST_SCRIPT: database $WB_DB, slot $WB_SLOT, server $PGHOST, walbridge $WB_BIN"
echo "== work dir $WB_WORK"
wb_create_db

