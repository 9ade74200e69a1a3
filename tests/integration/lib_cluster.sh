# shellcheck shell=bash
# tests/integration/lib_cluster.sh - helpers for tests that need their own
# PostgreSQL server (they restart it, change server-wide settings or need
# special settings).  Source it AFTER lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/lib_cluster.sh"
#   wbc_start          # initdb + start a private cluster (tests/harness/pg_cluster.sh)
#   wbc_switch         # move the test database to it (drops the one lib.sh made
#                      # on the shared server, re-points PGHOST/PGPORT/WB_PG_*)
#
# After wbc_switch every lib.sh helper (wb_psql, wb_write_config, wb_run_until,
# wb_drop_db...) talks to the private server.  On exit the background
# processes are stopped first, then the private server (its log tail is
# printed on failure), then lib.sh's own exit handler runs.
#
# Also defined here, for the tests that source this file:
#   wbc_pg_ctl ARGS...        pg_ctl -D <data dir> ARGS, as the server's OS user
#   wbc_set NAME VALUE        ALTER SYSTEM SET NAME = 'VALUE' + pg_reload_conf()
#   wbc_config_set FILE KEY VALUE   add "KEY: VALUE" to the source: section
#   wb_lsn_int LSN            print an LSN (X/Y) as a decimal integer
#   wbc_elapsed_ms T0_NS      milliseconds since T0_NS (from `date +%s%N`)

WBC_STATE=""
WBC_STARTED=0
WBC_OSUSER=""
WBC_HARNESS=$WB_SOURCE_DIR/tests/harness/pg_cluster.sh

# The same rule as pg_cluster.sh: as root, server programs run as postgres.
if [[ "$(id -u)" -eq 0 ]]; then
    WBC_OSUSER=${WB_PG_OSUSER:-postgres}
fi

wbc_as_pg() {
    if [[ -n "$WBC_OSUSER" ]]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u "$WBC_OSUSER" -- "$@")
        else
            (cd / && setpriv --reuid="$WBC_OSUSER" --regid="$WBC_OSUSER" --init-groups -- "$@")
        fi
    else
        "$@"
    fi
}

wbc_pg_ctl() {
    [[ -n "${WB_PG_DATA:-}" ]] || fail "wbc_pg_ctl: WB_PG_DATA is not set"
    wbc_as_pg "$WB_PG_BINDIR/pg_ctl" -D "$WB_PG_DATA" "$@"
}

# Stop background walbridge runs and other tracked processes (what lib.sh's
# exit handler does first), while the server is still up.
wbc_stop_processes() {
    local p deadline
    for p in "${WB_OTHER_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    WB_OTHER_PIDS=()
    for p in "${WB_BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    deadline=$((SECONDS + 30))
    for p in "${WB_BG_PIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    WB_BG_PIDS=()
}

wbc_on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    wbc_stop_processes
    if ((WBC_STARTED)); then
        if ((rc != 0)) && [[ -n "${WB_PG_LOG:-}" && -f "$WB_PG_LOG" ]]; then
            echo "----- private server log ($WB_PG_LOG, last 80 lines) -----" >&2
            tail -n 80 "$WB_PG_LOG" >&2
            echo "----- end of private server log -----" >&2
        fi
        bash "$WBC_HARNESS" stop "$WBC_STATE" >/dev/null 2>&1 ||
            echo "WARNING: could not stop the private cluster in $WBC_STATE" >&2
        WBC_STARTED=0
    fi
    # lib.sh's handler: drops the database (a no-op once the private server
    # is gone), prints the walbridge log on failure, PASS/FAIL, exits rc.
    (exit "$rc")
    wb_on_exit
}
trap wbc_on_exit EXIT

# wbc_start: a private cluster with its state in the work dir.
wbc_start() {
    WBC_STATE=$WB_WORK/pgstate
    mkdir -p "$WBC_STATE"
    WBC_STARTED=1
    echo "-- starting a private PostgreSQL cluster (state $WBC_STATE)"
    bash "$WBC_HARNESS" start "$WBC_STATE" >"$WB_WORK/pg_cluster.start.log" 2>&1 || {
        cat "$WB_WORK/pg_cluster.start.log" >&2
        fail "could not start a private cluster with $WBC_HARNESS"
    }
}

# wbc_switch: the test database now lives on the private cluster.
wbc_switch() {
    ((WBC_STARTED)) || fail "wbc_switch before wbc_start"
    wb_drop_db >/dev/null 2>&1 || true
    # shellcheck source=/dev/null
    source "$WBC_STATE/env.sh"
    echo "-- test database $WB_DB moved to the private server $PGHOST"
    wb_create_db
}

# wbc_set NAME VALUE: server-wide setting on the private cluster.
wbc_set() {
    ((WBC_STARTED)) || fail "wbc_set on the shared server"
    wb_psql_admin -c "ALTER SYSTEM SET $1 = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
}

# wbc_config_set FILE KEY VALUE: add KEY: VALUE to the source: section of a
# config written by wb_write_config.
wbc_config_set() {
    local file=$1 key=$2 value=$3 tmp
    tmp=$(mktemp "$WB_WORK/cfg.XXXXXX")
    awk -v k="$key" -v v="$value" '{ print } /^source:/ { print "  " k ": " v }' "$file" >"$tmp"
    mv "$tmp" "$file"
    grep -q "^  $key: $value\$" "$file" || fail "wbc_config_set: $key not set in $file"
}

wb_lsn_int() {
    local lsn=$1
    [[ "$lsn" =~ ^([0-9A-Fa-f]+)/([0-9A-Fa-f]+)$ ]] || fail "not an LSN: '$lsn'"
    printf '%d\n' $(((16#${BASH_REMATCH[1]} << 32) | 16#${BASH_REMATCH[2]}))
}

wbc_elapsed_ms() {
    local t0=$1 now
    now=$(date +%s%N)
    printf '%d\n' $(((now - t0) / 1000000))
}
