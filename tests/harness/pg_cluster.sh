#!/usr/bin/env bash
# tests/harness/pg_cluster.sh - a private, throwaway PostgreSQL server.
#
#   pg_cluster.sh start STATE_DIR   initdb + start; writes STATE_DIR/env.sh
#   pg_cluster.sh stop STATE_DIR    stop, keep STATE_DIR/postgresql.log,
#                                   remove the server's temp dir
#
# The server lives in a short temp dir (/tmp/wbpg.XXXXXX: unix socket paths
# are limited to 107 bytes), listens only on a unix socket in that dir (so
# port 5432 never clashes with another server) and trusts local users.
# Both commands are idempotent: stop with nothing running exits 0, start
# stops a cluster still running from the same STATE_DIR first.
#
# As root, initdb/pg_ctl/postgres run as the `postgres` OS user (they refuse
# to run as root); otherwise as the current user.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/harness/deps.sh
source "$HERE/deps.sh"

log() { printf 'pg_cluster: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
}

PG_OSUSER=""
# Run a PostgreSQL server program as the right OS user, from a directory
# that user can read (initdb warns about an unreadable cwd).
as_pg() {
    if [[ -n "$PG_OSUSER" ]]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u "$PG_OSUSER" -- "$@")
        else
            (cd / && setpriv --reuid="$PG_OSUSER" --regid="$PG_OSUSER" --init-groups -- "$@")
        fi
    else
        "$@"
    fi
}

pick_osuser() {
    if [[ "$(id -u)" -eq 0 ]]; then
        PG_OSUSER=${WB_PG_OSUSER:-postgres}
        id -u "$PG_OSUSER" >/dev/null 2>&1 ||
            die "running as root, but there is no '$PG_OSUSER' OS user to run the server as (set WB_PG_OSUSER or run as a normal user)"
        command -v runuser >/dev/null 2>&1 || command -v setpriv >/dev/null 2>&1 ||
            die "running as root, but neither runuser nor setpriv is available"
    fi
}

# Read WB_PG_TMPDIR, WB_PG_DATA, WB_PG_LOG, WB_PG_BINDIR from STATE_DIR/env.sh
# without touching our own environment.
read_state() {
    local envfile=$1
    STATE_TMPDIR="" STATE_DATA="" STATE_LOG="" STATE_BINDIR=""
    [[ -f "$envfile" ]] || return 1
    # shellcheck disable=SC1090
    eval "$(
        # shellcheck source=/dev/null
        source "$envfile" >/dev/null 2>&1
        printf 'STATE_TMPDIR=%q STATE_DATA=%q STATE_LOG=%q STATE_BINDIR=%q\n' \
            "${WB_PG_TMPDIR:-}" "${WB_PG_DATA:-}" "${WB_PG_LOG:-}" "${WB_PG_BINDIR:-}"
    )"
}

postmaster_pid() {
    local data=$1
    [[ -f "$data/postmaster.pid" ]] || return 1
    head -n 1 "$data/postmaster.pid"
}

server_running() {
    local data=$1 pid
    pid=$(postmaster_pid "$data" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

do_stop() {
    local state=$1
    if ! read_state "$state/env.sh"; then
        log "no cluster recorded in $state (nothing to stop)"
        return 0
    fi
    local bindir=$STATE_BINDIR data=$STATE_DATA tmp=$STATE_TMPDIR
    [[ -n "$bindir" && -x "$bindir/pg_ctl" ]] || bindir=$(wb_pg_bindir)
    if [[ -n "$data" ]] && server_running "$data"; then
        log "stopping server in $data"
        if ! as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2; then
            log "fast shutdown failed; trying immediate"
            as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2 || true
        fi
        if server_running "$data"; then
            local pid
            pid=$(postmaster_pid "$data")
            log "server (pid $pid) still running; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            local deadline=$((SECONDS + 30))
            while kill -0 "$pid" 2>/dev/null; do
                ((SECONDS < deadline)) || die "server pid $pid did not exit"
                sleep 0.2
            done
        fi
    else
        log "server in ${data:-?} is not running"
    fi
    if [[ -n "$STATE_LOG" && -f "$STATE_LOG" ]]; then
        cp -f "$STATE_LOG" "$state/postgresql.log"
        log "server log kept in $state/postgresql.log"
    fi
    # Only ever remove a directory this script created.
    if [[ -n "$tmp" && "$tmp" == /tmp/wbpg.* && -d "$tmp" ]]; then
        rm -rf -- "$tmp"
    fi
    rm -f -- "$state/env.sh"
    return 0
}

print_log_tail() {
    local logfile=$1
    if [[ -f "$logfile" ]]; then
        echo "----- last 60 lines of $logfile -----" >&2
        tail -n 60 "$logfile" >&2 || true
        echo "----- end of server log -----" >&2
    else
        echo "(no server log at $logfile)" >&2
    fi
}

do_start() {
    local state=$1
    do_stop "$state"

    local bindir
    bindir=$(wb_pg_bindir) || die "PostgreSQL server programs not found"
    local version
    version=$("$bindir/postgres" --version 2>/dev/null || echo "postgres ?")
    log "using $bindir ($version)"

    local tmp data sock logdir logfile
    tmp=$(mktemp -d /tmp/wbpg.XXXXXX)
    data=$tmp/data
    sock=$tmp
    logdir=$tmp/log
    logfile=$logdir/postgresql.log
    mkdir -p "$logdir"
    : >"$logfile"
    chmod 755 "$tmp"
    if [[ -n "$PG_OSUSER" ]]; then
        chown -R "$PG_OSUSER:" "$tmp"
    fi

    # Write env.sh first so that a failed start is still cleaned up by stop.
    write_env "$state" "$tmp" "$data" "$logfile" "$bindir" "$sock"

    local initlog=$tmp/initdb.log
    if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$initlog" 2>&1; then
        log "initdb with --locale=C.UTF-8 failed; retrying with --no-locale"
        cat "$initlog" >&2 || true
        rm -rf -- "$data"
        if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
            --no-locale >"$initlog" 2>&1; then
            cat "$initlog" >&2 || true
            do_stop "$state" || true
            die "initdb failed"
        fi
    fi

    cat >>"$data/postgresql.conf" <<EOF

# ---- walbridge test cluster (tests/harness/pg_cluster.sh) ----
wal_level = logical
track_commit_timestamp = on
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
listen_addresses = ''
unix_socket_directories = '$sock'
port = 5432
fsync = off
full_page_writes = off
synchronous_commit = on
log_connections = on
log_replication_commands = on
log_line_prefix = '%m [%p] %q%a '
log_min_messages = warning
EOF

    log "starting server (data $data, socket dir $sock)"
    if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >&2; then
        log "ERROR: the server did not start"
        print_log_tail "$logfile"
        do_stop "$state" >/dev/null 2>&1 || true
        exit 1
    fi

    # It must accept connections from us (as our user, via the socket).
    local deadline=$((SECONDS + 30)) ok=0
    while ((SECONDS < deadline)); do
        if PGAPPNAME=pg_cluster "$bindir/psql" -X -qAt -h "$sock" -p 5432 -U postgres \
            -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
            ok=1
            break
        fi
        sleep 0.2
    done
    if ((!ok)); then
        log "ERROR: the server started but does not accept connections on $sock"
        PGAPPNAME=pg_cluster "$bindir/psql" -X -qAt -h "$sock" -p 5432 -U postgres \
            -d postgres -c 'SELECT 1' >&2 || true
        print_log_tail "$logfile"
        do_stop "$state" >/dev/null 2>&1 || true
        exit 1
    fi
    local wal_level
    wal_level=$(PGAPPNAME=pg_cluster "$bindir/psql" -X -qAt -h "$sock" -p 5432 -U postgres \
        -d postgres -c 'SHOW wal_level')
    [[ "$wal_level" == logical ]] || die "wal_level is '$wal_level', expected logical"
    log "server is up: PGHOST=$sock PGPORT=5432; env in $state/env.sh"
}

write_env() {
    local state=$1 tmp=$2 data=$3 logfile=$4 bindir=$5 sock=$6
    mkdir -p "$state"
    {
        echo "# written by tests/harness/pg_cluster.sh start; removed by stop"
        printf 'export PGHOST=%q\n' "$sock"
        echo 'export PGPORT=5432'
        echo 'export PGUSER=postgres'
        echo 'export PGDATABASE=postgres'
        printf 'export WB_PG_TMPDIR=%q\n' "$tmp"
        printf 'export WB_PG_DATA=%q\n' "$data"
        printf 'export WB_PG_LOG=%q\n' "$logfile"
        printf 'export WB_PG_BINDIR=%q\n' "$bindir"
        # shellcheck disable=SC2016 # $PATH expands when env.sh is sourced
        printf 'export PATH=%q:"$PATH"\n' "$bindir"
    } >"$state/env.sh.new"
    mv -f "$state/env.sh.new" "$state/env.sh"
}

main() {
    (($# == 2)) || usage
    local cmd=$1 state=$2
    [[ -n "$state" ]] || usage
    mkdir -p "$state"
    state=$(cd "$state" && pwd)
    pick_osuser
    case "$cmd" in
    start) do_start "$state" ;;
    stop) do_stop "$state" ;;
    *) usage ;;
    esac
}

main "$@"
