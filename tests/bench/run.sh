#!/usr/bin/env bash
# tests/bench/run.sh - the walbridge benchmark (not part of the test suite).
#
#   ./tests/bench/run.sh            full run (about 10-15 minutes on 2 cores)
#   ./tests/bench/run.sh --quick    smaller sizes (about 2-3 minutes)
#   options: --keep (keep the work dir with every log), -h/--help
#
# It starts two private PostgreSQL clusters (tests/harness/pg_cluster.sh):
# "source" (database bench) and "target" (databases wbtarget, for walbridge,
# and native, for PostgreSQL's own subscription), runs each consumer ALONE on
# the same workload, and prints one table with absolute figures, ratios and
# the targets of the issue (reported, never asserted), plus the machine.
# Written to tests/bench/results/latest.{md,json,png}.
#
# Consumers: walbridge (`run --until now`, or in the background for the
# steady state), the native subscription (CREATE SUBSCRIPTION ... copy_data
# off, streaming off), and pg_recvlogical with pgoutput to /dev/null (the
# decode ceiling).  Each one gets its own slot, created before the workload,
# so all of them decode exactly the same WAL.  Cases:
#   bulk      one transaction inserting BULK_ROWS rows
#   backlog   BACKLOG_TXNS single-row UPDATE transactions (pgbench, 4
#             clients) written while the consumers are stopped; catch-up time
#   steady    pgbench 4 clients for STEADY_SECS: source tps with nothing /
#             walbridge / the native subscription / trigger + NOTIFY attached;
#             lag from the source UPDATE to the target row (p50, p99),
#             also at a fixed rate (pgbench -R) after each consumer's run
#   big       one transaction of BIG_ROWS rows: walbridge's peak RSS and CPU
#   copy_id   the initial copy of COPY_ROWS rows into the target cluster,
#             beside psql COPY TO | psql COPY FROM and the native
#             subscription with copy_data, COPY_ROUNDS rounds interleaved
#   resync_id `walbridge resync` of RESYNC_ROWS bench.items rows while
#             pgbench updates them at RESYNC_RATE tps: its rate (beside
#             copy_id's) and the stream's lag before and during it
#   compare_portal  `walbridge compare` of COPY_PORTAL_ROWS portal.users
#             against salesforce.account, beside one FULL JOIN query; once
#             worked out by SQL (same database, columns only), once across
#             databases (the target named by its own connection string:
#             per-bucket sums of both sides)
#   copy_portal  the initial copy of COPY_PORTAL_ROWS portal.users into
#             salesforce.account, beside one INSERT ... SELECT ... ON CONFLICT
# bulk and backlog run for three mappings: identity bench.items -> the
# target cluster (comparable with the native subscription), the same
# bench.items through expressions (a rename, upper(), a concatenation and a
# cast) into bench.items_expr of the target cluster, and the example mapping
# portal.users -> salesforce.account within the source database.  The
# expression mapping is one more consumer of the identity cases' workload,
# on its own slot, so it decodes the same WAL; no PostgreSQL tool runs
# expressions, so its figures stand beside the identity ones of the same run.
#
# Environment:
#   WB_BIN             use this walbridge binary (default: build it, Release,
#                      in build-bench/)
#   WB_BENCH_FSYNC     fsync setting of both clusters (default off: this
#                      measures CPU and round trips, not the disk; "on" for
#                      a machine with a fast disk)
#   WB_BENCH_BULK_ROWS, WB_BENCH_BACKLOG_TXNS, WB_BENCH_STEADY_SECS,
#   WB_BENCH_BIG_ROWS, WB_BENCH_COPY_ROWS, WB_BENCH_COPY_PORTAL_ROWS,
#   WB_BENCH_RESYNC_ROWS, WB_BENCH_RESYNC_RATE
#                      override the sizes
#   WB_BENCH_COPY_ROUNDS  rounds of copy_id (default 3; quick: 1)
#   WB_BENCH_RESYNC_ROUNDS  re-syncs of resync_id (default 3; quick: 1)
#   WB_BENCH_RATE      tps of the fixed-rate lag run (default 2000, the
#                      rate of issue 13's lag target)
#   WB_BENCH_OUT       output directory (default tests/bench/results)
#   WB_BENCH_BASELINE  a second walbridge to compare in the same run: a
#                      binary, or a git revision of this repository (built,
#                      Release, in build-bench-baseline/<commit>/).  It runs
#                      the identity bulk and backlog cases after walbridge,
#                      on its own slot and target database, and the report
#                      adds a table "walbridge vs baseline" (e.g.
#                      WB_BENCH_BASELINE=main~3 after a refactoring).  Not
#                      the portal cases: there each consumer writes into the
#                      source database, so the second one would also decode
#                      the first one's writes
#   WB_BENCH_CASES     the cases to run, of: bulk_id bulk_expr backlog_id
#                      backlog_expr steady bulk_portal backlog_portal big
#                      copy_id copy_portal resync_id compare_portal
#                      (default: all).  A backlog case updates the rows its
#                      bulk case inserted (bulk_id, bulk_expr): name that
#                      one too, before it
#   WB_BENCH_TARGET_YAML  extra keys for walbridge's target section, one
#                      per line, e.g. "batch_latency: 0ms" (default: none,
#                      walbridge's defaults)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
# shellcheck source=tests/harness/deps.sh
source "$ROOT/tests/harness/deps.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

MODE=full
KEEP=0
for arg in "$@"; do
    case "$arg" in
    --quick) MODE=quick ;;
    --keep) KEEP=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "bench: unknown argument '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

if [[ $MODE == quick ]]; then
    BULK_ROWS=${WB_BENCH_BULK_ROWS:-200000}
    BACKLOG_TXNS=${WB_BENCH_BACKLOG_TXNS:-20000}
    STEADY_SECS=${WB_BENCH_STEADY_SECS:-10}
    BIG_ROWS=${WB_BENCH_BIG_ROWS:-1000000}
    COPY_ROWS=${WB_BENCH_COPY_ROWS:-1000000}
    COPY_ROUNDS=${WB_BENCH_COPY_ROUNDS:-1}
    RESYNC_ROUNDS=${WB_BENCH_RESYNC_ROUNDS:-1}
    COPY_PORTAL_ROWS=${WB_BENCH_COPY_PORTAL_ROWS:-200000}
    RESYNC_ROWS=${WB_BENCH_RESYNC_ROWS:-200000}
else
    BULK_ROWS=${WB_BENCH_BULK_ROWS:-1000000}
    BACKLOG_TXNS=${WB_BENCH_BACKLOG_TXNS:-100000}
    STEADY_SECS=${WB_BENCH_STEADY_SECS:-30}
    BIG_ROWS=${WB_BENCH_BIG_ROWS:-5000000}
    COPY_ROWS=${WB_BENCH_COPY_ROWS:-10000000}
    COPY_ROUNDS=${WB_BENCH_COPY_ROUNDS:-3}
    RESYNC_ROUNDS=${WB_BENCH_RESYNC_ROUNDS:-3}
    COPY_PORTAL_ROWS=${WB_BENCH_COPY_PORTAL_ROWS:-1000000}
    RESYNC_ROWS=${WB_BENCH_RESYNC_ROWS:-1000000}
fi
# The re-sync's stream: the issue's 500 tps, and how long the lag is
# measured without the re-sync.
RESYNC_RATE=${WB_BENCH_RESYNC_RATE:-500}
RESYNC_SECS=$(((STEADY_SECS + 1) / 2))
CLIENTS=4
# The fixed-rate run after each steady consumer run, for latency.
RATE=${WB_BENCH_RATE:-2000}
RATE_SECS=$(((STEADY_SECS + 1) / 2))
FSYNC=${WB_BENCH_FSYNC:-off}
OUT=${WB_BENCH_OUT:-$BENCH/results}
# Indented for the target section of the generated configurations.
TARGET_YAML=$(printf '%s\n' "${WB_BENCH_TARGET_YAML:-}" | sed -e '/^[[:space:]]*$/d' -e 's/^/  /')
# Deadlines (seconds): every wait is bounded.
T_CONSUMER=${WB_BENCH_TIMEOUT:-1500} # one consumer catching up on one case
T_SHORT=60

T_START=$SECONDS
say() { printf '[bench %4ds] %s\n' "$((SECONDS - T_START))" "$*" >&2; }
die() {
    printf '[bench] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- set-up --

ensure_bench_deps() {
    local -a pkgs=() sudo=()
    wb_ensure_deps || die "missing build dependencies (see above)"
    [[ -x /usr/bin/time ]] || pkgs+=(time)
    command -v gnuplot >/dev/null 2>&1 || pkgs+=(gnuplot-nox)
    command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
    command -v cc >/dev/null 2>&1 || pkgs+=(gcc)
    ((${#pkgs[@]})) || return 0
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing: ${pkgs[*]} (install them as root)"
        sudo=(sudo)
    fi
    say "installing ${pkgs[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null ||
        say "WARNING: could not install ${pkgs[*]}"
    [[ -x /usr/bin/time ]] || die "/usr/bin/time (package time) is required"
    command -v python3 >/dev/null 2>&1 || die "python3 is required for the report"
}

ensure_bench_deps
BINDIR=$(wb_pg_bindir) || die "PostgreSQL server programs not found"
[[ -x $BINDIR/pg_recvlogical ]] || die "pg_recvlogical not found in $BINDIR"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3

if [[ -z "${WB_BIN:-}" ]]; then
    say "building walbridge (Release) in $ROOT/build-bench"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DWB_TESTS=OFF >/dev/null
    cmake --build "$ROOT/build-bench" -j "$(nproc)" --target walbridge >/dev/null
    WB_BIN=$ROOT/build-bench/walbridge
fi
[[ -x "$WB_BIN" ]] || die "walbridge binary not found: $WB_BIN"

# The baseline (WB_BENCH_BASELINE): a binary as is, or a revision built
# from `git archive` of it (cached by commit).
BASE_BIN=
BASE_LABEL=
if [[ -n "${WB_BENCH_BASELINE:-}" ]]; then
    if [[ -f "$WB_BENCH_BASELINE" && -x "$WB_BENCH_BASELINE" ]]; then
        BASE_BIN=$(cd "$(dirname "$WB_BENCH_BASELINE")" && pwd)/$(basename "$WB_BENCH_BASELINE")
        BASE_LABEL=$BASE_BIN
    else
        base_rev=$(git -C "$ROOT" rev-parse --verify --quiet "$WB_BENCH_BASELINE^{commit}") ||
            die "WB_BENCH_BASELINE: neither an executable nor a git revision: $WB_BENCH_BASELINE"
        base_dir=$ROOT/build-bench-baseline/${base_rev:0:12}
        if [[ ! -x $base_dir/build/walbridge ]]; then
            say "building the baseline ${base_rev:0:12} (Release) in $base_dir"
            rm -rf "$base_dir"
            mkdir -p "$base_dir/src"
            git -C "$ROOT" archive "$base_rev" | tar -x -C "$base_dir/src"
            cmake -S "$base_dir/src" -B "$base_dir/build" -DCMAKE_BUILD_TYPE=Release \
                -DWB_TESTS=OFF >/dev/null || die "could not configure the baseline"
            cmake --build "$base_dir/build" -j "$(nproc)" --target walbridge >/dev/null ||
                die "could not build the baseline"
        fi
        BASE_BIN=$base_dir/build/walbridge
        BASE_LABEL="$WB_BENCH_BASELINE (${base_rev:0:12})"
    fi
fi

WORK=$(mktemp -d /tmp/wbbench.XXXXXX)
chmod 755 "$WORK"
RESULTS=$WORK/results.tsv
: >"$RESULTS"
BG_PIDS=()
CLUSTERS=()
OK=0

# The script's own stderr, for the cleanup: a signal can run it inside a
# command whose output is redirected to a log.
exec 9>&2

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    exec 2>&9
    local pid
    for pid in "${BG_PIDS[@]}"; do
        [[ -n "$pid" ]] || continue
        # Children first (walbridge under /usr/bin/time), then the process.
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${BG_PIDS[@]}"; do
        [[ -n "$pid" ]] || continue
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    local c
    for c in "${CLUSTERS[@]}"; do
        "$ROOT/tests/harness/pg_cluster.sh" stop "$WORK/$c" >/dev/null 2>&1
    done
    if ((rc != 0 || !OK)); then
        echo "bench: FAILED (exit $rc); logs kept in $WORK" >&2
        ((rc)) || rc=1
    elif ((KEEP)); then
        echo "bench: work dir kept in $WORK" >&2
    else
        rm -rf -- "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2046 # pkg-config prints several words
cc -O2 -Wall -Wextra -o "$WORK/notify_listener" "$BENCH/notify_listener.c" \
    $(pkg-config --cflags libpq) $(pkg-config --libs libpq) ||
    die "could not build notify_listener"

# bg_done PID: PID was waited for; never signal it again (it may be reused).
bg_done() {
    local i
    for i in "${!BG_PIDS[@]}"; do
        [[ "${BG_PIDS[$i]}" == "$1" ]] && unset 'BG_PIDS[i]'
    done
    return 0
}

# fg CMD...: run CMD and wait for it, interruptibly: a TERM/INT to this
# script runs the cleanup at once (which stops CMD) instead of after CMD.
fg() {
    local pid rc=0
    "$@" &
    pid=$!
    BG_PIDS+=("$pid")
    wait "$pid" || rc=$?
    bg_done "$pid"
    return "$rc"
}

# record KEY VALUE: one raw figure for the report.
record() {
    printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
}

fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

# ------------------------------------------------------------- clusters --

as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        (cd / && runuser -u "${WB_PG_OSUSER:-postgres}" -- "$@")
    else
        "$@"
    fi
}

# state_get CLUSTER VAR: a variable of the cluster's env.sh (pg_cluster.sh).
state_get() {
    # shellcheck source=/dev/null
    (source "$WORK/$1/env.sh" && printf '%s\n' "${!2}")
}

start_cluster() {
    local name=$1
    CLUSTERS+=("$name")
    "$ROOT/tests/harness/pg_cluster.sh" start "$WORK/$name" 2>"$WORK/$name.start.log" ||
        {
            cat "$WORK/$name.start.log" >&2
            die "could not start the $name cluster"
        }
    local data log
    data=$(state_get "$name" WB_PG_DATA)
    log=$(state_get "$name" WB_PG_LOG)
    # Benchmark settings: room for a 5M-row transaction without checkpoints
    # in the middle of a measurement.
    cat >>"$data/postgresql.conf" <<EOF

# ---- tests/bench/run.sh ----
shared_buffers = 1GB
max_wal_size = 16GB
min_wal_size = 1GB
checkpoint_timeout = 30min
fsync = $FSYNC
log_connections = off
log_min_duration_statement = -1
# The subscription launcher starts at most one apply worker per this
# interval (default 5s): without this, enabling a subscription shortly
# after the previous case's one was started waits up to 5 s.
wal_retrieve_retry_interval = 100ms
EOF
    as_pg "$BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 120 -m fast restart >/dev/null ||
        die "could not restart the $name cluster with the benchmark settings"
}

say "mode $MODE: bulk $BULK_ROWS rows, backlog $BACKLOG_TXNS txns, steady ${STEADY_SECS}s x $CLIENTS clients, big $BIG_ROWS rows; fsync=$FSYNC"
say "work dir $WORK"
start_cluster src
start_cluster tgt
SRC_HOST=$(state_get src PGHOST)
TGT_HOST=$(state_get tgt PGHOST)
export PGUSER=postgres PGPORT=5432
unset PGHOST PGDATABASE

PM_PIDS=("$(head -n 1 "$(state_get src WB_PG_DATA)/postmaster.pid")"
    "$(head -n 1 "$(state_get tgt WB_PG_DATA)/postmaster.pid")")
SRC_CONN="host=$SRC_HOST port=5432 user=postgres dbname=bench"
WBT_CONN="host=$TGT_HOST port=5432 user=postgres dbname=wbtarget"

# psql_at HOST DB [psql args...]: quiet, unaligned, stop on error.
psql_at() {
    local host=$1 db=$2
    shift 2
    PGAPPNAME=bench PGOPTIONS='-c client_min_messages=warning' \
        "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -h "$host" -d "$db" "$@"
}
src() { psql_at "$SRC_HOST" bench "$@"; }
wbt() { psql_at "$TGT_HOST" wbtarget "$@"; }
wbb() { psql_at "$TGT_HOST" wbbase "$@"; }
nat() { psql_at "$TGT_HOST" native "$@"; }

psql_at "$SRC_HOST" postgres -c 'CREATE DATABASE bench'
psql_at "$TGT_HOST" postgres -c 'CREATE DATABASE wbtarget' -c 'CREATE DATABASE native'
[[ -z $BASE_BIN ]] || psql_at "$TGT_HOST" postgres -c 'CREATE DATABASE wbbase'

BENCH_DDL="
CREATE SCHEMA bench;
CREATE TABLE bench.items (
    id          bigint PRIMARY KEY,
    payload     text,
    n           integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE bench.marker (id integer PRIMARY KEY, v bigint NOT NULL);
INSERT INTO bench.marker VALUES (1, 0);
"
# Target-side helpers: the lag recorder (a trigger, attached only during the
# steady state) and a bounded wait for a replication origin's progress.
TARGET_DDL="
CREATE SCHEMA benchlag;
CREATE TABLE benchlag.lag (ms float8 NOT NULL);
CREATE FUNCTION benchlag.record() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO benchlag.lag
        VALUES (extract(epoch FROM clock_timestamp() - NEW.updated_at) * 1000);
    RETURN NULL;
END \$\$;
CREATE FUNCTION benchlag.wait_origin(o text, want pg_lsn, timeout_s float8)
RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    r pg_lsn;
BEGIN
    LOOP
        SELECT remote_lsn INTO r FROM pg_replication_origin_status
         WHERE external_id = o;
        IF r IS NOT NULL AND r >= want THEN
            RETURN extract(epoch FROM clock_timestamp() - t0);
        END IF;
        IF clock_timestamp() - t0 > make_interval(secs => timeout_s) THEN
            RAISE EXCEPTION 'origin % did not reach % within % s (at %)',
                o, want, timeout_s, r;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END \$\$;
"
src -c "$BENCH_DDL" -f "$ROOT/schemas/all.sql" \
    -c 'CREATE TABLE portal.bench_marker (id integer PRIMARY KEY, v bigint NOT NULL);
        INSERT INTO portal.bench_marker VALUES (1, 0);' \
    -c 'CREATE PUBLICATION bench_pub FOR TABLES IN SCHEMA bench' \
    -c 'CREATE PUBLICATION portal_pub FOR TABLES IN SCHEMA portal'
# The target of the expression mapping (bulk_expr, backlog_expr): what
# wb_config's expr mapping computes from bench.items.
EXPR_DDL="
CREATE TABLE bench.items_expr (
    item_id     bigint PRIMARY KEY,
    body        text,
    code        text,
    label       text,
    n           bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL
);
"
wbt -c "$BENCH_DDL" -c "$TARGET_DDL" -c "$EXPR_DDL"
nat -c "$BENCH_DDL" -c "$TARGET_DDL"
[[ -z $BASE_BIN ]] || wbb -c "$BENCH_DDL" -c "$TARGET_DDL"

# ------------------------------------------------------------- consumers --

# The streaming cases create each slot before their workload, on tables
# that earlier cases filled: their mappings copy nothing (initial_copy:
# false); the copy cases set WB_COPY=true.
# wb_config FILE SLOT KIND [TARGET-CONNINFO]: KIND identity (bench.items ->
# target cluster; its database wbtarget unless given), expr (bench.items ->
# bench.items_expr of wbtarget through expressions; verify_expr computes the
# same in SQL) or portal (portal.users -> salesforce.account, same database).
wb_config() {
    local file=$1 slot=$2 kind=$3 tconn=${4:-$WBT_CONN} copy=${WB_COPY:-false}
    if [[ $kind == identity || $kind == expr ]]; then
        cat >"$file" <<EOF
source:
  conninfo: "$SRC_CONN"
  slot: $slot
  publication: bench_pub
  schemas: [bench]
  create_publication: false
target:
  conninfo: "$tconn"
$TARGET_YAML
mappings:
EOF
        if [[ $kind == identity ]]; then
            cat >>"$file" <<EOF
  - name: items
    from: bench.items
    to: bench.items
    key: { id: id }
    columns: { payload: payload, n: n, updated_at: updated_at }
    initial_copy: $copy
EOF
        else
            cat >>"$file" <<EOF
  - name: items_expr
    from: bench.items
    to: bench.items_expr
    key: { id: item_id }
    columns: { payload: body, updated_at: updated_at }
    values:
      code: { upper: payload }
      label: { concat: [{ const: item }, id, n], sep: "-" }
      n: { cast: n, to: bigint }
    initial_copy: $copy
EOF
        fi
    else
        cat >"$file" <<EOF
source:
  conninfo: "$SRC_CONN"
  slot: $slot
  publication: portal_pub
  schemas: [portal]
  create_publication: false
target:
  conninfo: "${4:-}"
$TARGET_YAML
mappings:
  - name: users_to_accounts
    from: portal.users
    to: salesforce.account
    key: { id: external_id__c }
    columns: { email: personemail, first_name: firstname, last_name: lastname, phone: phone }
    initial_copy: $copy
EOF
    fi
    "$WB_BIN" check -c "$file" >/dev/null 2>&1 || {
        "$WB_BIN" check -c "$file" >&2 || true
        die "invalid walbridge configuration $file"
    }
}

# Create walbridge's slot (and stored position) before the workload: a first
# `run --until now` creates them and stops at once.
wb_prepare() {
    local cfg=$1 log=$2
    fg timeout -k 5 "$T_SHORT" "$WB_BIN" run -c "$cfg" --until now >>"$log" 2>&1 ||
        die "walbridge could not create its slot (see $log)"
}

# wb_timed CASE CFG LOG [WHO BIN]: time `walbridge run --until now` under
# /usr/bin/time -v; records CASE.WHO.{secs,rss_kb,cpu_s,changes} (WHO wb,
# or wb0 for the baseline binary).
wb_timed() {
    local case=$1 cfg=$2 log=$3 who=${4:-wb} bin=${5:-$WB_BIN}
    local tv=$WORK/$1.$who.time t0 t1 rc=0
    sampler_start "$case.$who"
    t0=$EPOCHREALTIME
    fg /usr/bin/time -v -o "$tv" timeout -k 10 "$T_CONSUMER" \
        "$bin" run -c "$cfg" --until now >>"$log" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    sampler_stop "$case.$who"
    ((rc == 0)) || {
        tail -n 20 "$log" >&2
        die "walbridge ($who) failed on $case (exit $rc; see $log)"
    }
    record "$case.$who.secs" "$(fsub "$t1" "$t0")"
    time_v_record "$case.$who" "$tv"
    local changes
    changes=$(grep -o '[0-9]* changes routed' "$log" | tail -n 1 | awk '{print $1}')
    record "$case.$who.changes" "${changes:-0}"
}

# The baseline on the identity cases: its own slot (created before the
# workload, as every consumer's) and target database wbbase.
# base_prepare CASE: writes $WORK/CASE.wb0.yaml; no-op without a baseline.
base_prepare() {
    [[ -n $BASE_BIN ]] || return 0
    local c=$1
    WB_BIN=$BASE_BIN wb_config "$WORK/$c.wb0.yaml" "wb0_$c" identity \
        "host=$TGT_HOST port=5432 user=postgres dbname=wbbase"
    fg timeout -k 5 "$T_SHORT" "$BASE_BIN" run -c "$WORK/$c.wb0.yaml" --until now \
        >>"$WORK/$c.wb0.log" 2>&1 || die "the baseline could not create its slot"
}
# base_timed CASE: the baseline's run, after walbridge's, checked as
# walbridge's is.
base_timed() {
    [[ -n $BASE_BIN ]] || return 0
    local c=$1
    checkpoint_both
    say "  walbridge baseline"
    wb_timed "$c" "$WORK/$c.wb0.yaml" "$WORK/$c.wb0.log" wb0 "$BASE_BIN"
    verify_identity "$c" wb0 wbb
    src -c "SELECT pg_drop_replication_slot('wb0_$c')" >/dev/null
}

# sampler_start NAME / sampler_stop PREFIX: CPU seconds and run-queue wait
# (runnable, but no CPU free) of the consumer and of the server processes
# (walsender, target backend, apply worker, other) during one consumer run,
# recorded as PREFIX.pgcpu.<category> and PREFIX.rqwait.<category>.
SAMPLER_PID=""
sampler_start() {
    SAMPLER_OUT=$WORK/$1.cpu.json
    "$PY" "$BENCH/cpu_sampler.py" run "$SAMPLER_OUT" "$$" "${PM_PIDS[@]}" &
    SAMPLER_PID=$!
    BG_PIDS+=("$SAMPLER_PID")
    sleep 0.3 # the first sample sets the baseline of the running processes
}
sampler_stop() {
    local prefix=$1 cat cpu wait
    kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" || true
    bg_done "$SAMPLER_PID"
    SAMPLER_PID=""
    [[ -f $SAMPLER_OUT ]] || return 0
    while read -r cat cpu wait; do
        record "$prefix.pgcpu.$cat" "$cpu"
        record "$prefix.rqwait.$cat" "$wait"
    done < <("$PY" "$BENCH/cpu_sampler.py" summary "$SAMPLER_OUT")
}

# time_v_record PREFIX FILE: peak RSS and CPU from GNU time -v output.
time_v_record() {
    local prefix=$1 f=$2
    record "$prefix.rss_kb" "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$f")"
    record "$prefix.cpu_s" "$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$f")"
}

recv_prepare() {
    local slot=$1
    "$BINDIR/pg_recvlogical" -h "$SRC_HOST" -d bench -S "$slot" -P pgoutput \
        --create-slot >/dev/null 2>&1 || die "could not create slot $slot"
}

# recv_timed CASE SLOT PUB ENDLSN: pgoutput to /dev/null until ENDLSN.
recv_timed() {
    local case=$1 slot=$2 pub=$3 endlsn=$4 t0 t1 rc=0
    sampler_start "$case.recv"
    t0=$EPOCHREALTIME
    fg timeout -k 5 "$T_CONSUMER" "$BINDIR/pg_recvlogical" -h "$SRC_HOST" -d bench \
        -S "$slot" --start --endpos="$endlsn" -F 0 -s 1 \
        -o proto_version=3 -o "publication_names=$pub" \
        -f /dev/null >"$WORK/$case.recv.log" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    sampler_stop "$case.recv"
    ((rc == 0)) || {
        cat "$WORK/$case.recv.log" >&2
        die "pg_recvlogical failed on $case (exit $rc)"
    }
    record "$case.recv.secs" "$(fsub "$t1" "$t0")"
    src -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
}

# native_prepare NAME [enabled]: a subscription in database native, with its
# slot created now (so it decodes the same WAL as the others).
native_prepare() {
    local name=$1 enabled=${2:-false}
    nat -c "CREATE SUBSCRIPTION $name CONNECTION '$SRC_CONN'
            PUBLICATION bench_pub
            WITH (copy_data = false, create_slot = true, slot_name = '$name',
                  streaming = off, enabled = $enabled)" >/dev/null ||
        die "CREATE SUBSCRIPTION $name failed"
}

native_origin() { nat -c "SELECT 'pg_' || oid FROM pg_subscription WHERE subname = '$1'"; }

native_drop() {
    local name=$1
    nat -c "ALTER SUBSCRIPTION $name DISABLE" >/dev/null
    nat -c "DROP SUBSCRIPTION $name" >/dev/null
}

# native_timed CASE NAME ENDLSN: enable, wait until the origin passed ENDLSN.
native_timed() {
    local case=$1 name=$2 endlsn=$3 origin t0 t1
    origin=$(native_origin "$name")
    sampler_start "$case.native"
    t0=$EPOCHREALTIME
    nat -c "ALTER SUBSCRIPTION $name ENABLE" >/dev/null
    fg nat -c "SELECT benchlag.wait_origin('$origin', '$endlsn', $T_CONSUMER)" >/dev/null ||
        die "the native subscription did not catch up on $case"
    t1=$EPOCHREALTIME
    sampler_stop "$case.native"
    record "$case.native.secs" "$(fsub "$t1" "$t0")"
    native_drop "$name"
}

# end_marker SCHEMA: write one last published change after the workload and
# print a position that every workload commit ends before and the marker
# ends after (the consumers' finish line).
end_marker() {
    local tbl=$1 lsn
    lsn=$(src -c 'SELECT pg_current_wal_insert_lsn()')
    src -c "UPDATE $tbl SET v = v + 1 WHERE id = 1" >/dev/null
    echo "$lsn"
}

checkpoint_both() {
    src -c CHECKPOINT
    psql_at "$TGT_HOST" postgres -c CHECKPOINT
}

# items_digest DB-FUNC [WHERE]: count and sums of bench.items.
items_digest() {
    "$1" -c "SELECT count(*) || '/' || coalesce(sum(n), 0) || '/' || coalesce(sum(hashtext(payload)), 0)
             || '/' || coalesce(max(updated_at)::text, '-') FROM bench.items WHERE ${2:-true}"
}

# verify_identity CASE WHO DB-FUNC [WHERE]: the target table (or the rows
# matching WHERE) equals the source one.
verify_identity() {
    local case=$1 who=$2 fn=$3 where=${4:-true} s t
    s=$(items_digest src "$where")
    t=$(items_digest "$fn" "$where")
    if [[ "$s" == "$t" ]]; then
        record "$case.$who.verified" ok
    else
        say "WARNING: $case: $who's target differs from the source ($t vs $s)"
        record "$case.$who.verified" "MISMATCH"
    fi
}

# verify_expr CASE: bench.items_expr holds what the expression mapping
# computes from every bench.items row, computed here in SQL on the source.
verify_expr() {
    local case=$1 s t
    s=$(src -c "SELECT count(*) || '/' || coalesce(sum(hashtext(payload)), 0)
                || '/' || coalesce(sum(hashtext(upper(payload))), 0)
                || '/' || coalesce(sum(hashtext(concat_ws('-', 'item', id, n))), 0)
                || '/' || coalesce(sum(n), 0) || '/' || coalesce(max(updated_at)::text, '-')
                FROM bench.items")
    t=$(wbt -c "SELECT count(*) || '/' || coalesce(sum(hashtext(body)), 0)
                || '/' || coalesce(sum(hashtext(code)), 0)
                || '/' || coalesce(sum(hashtext(label)), 0)
                || '/' || coalesce(sum(n), 0) || '/' || coalesce(max(updated_at)::text, '-')
                FROM bench.items_expr")
    if [[ "$s" == "$t" ]]; then
        record "$case.wb.verified" ok
    else
        say "WARNING: $case: bench.items_expr differs from the expressions on the source ($t vs $s)"
        record "$case.wb.verified" "MISMATCH"
    fi
}

# verify_portal CASE [WHO]: salesforce.account holds every portal.users row.
verify_portal() {
    local case=$1 who=${2:-wb} bad
    bad=$(src -c "SELECT (SELECT count(*) FROM portal.users u
                          LEFT JOIN salesforce.account a ON a.external_id__c = u.id::text
                          WHERE a.id IS NULL OR a.phone IS DISTINCT FROM u.phone
                             OR a.personemail IS DISTINCT FROM u.email)")
    if [[ "$bad" == 0 ]]; then
        record "$case.$who.verified" ok
    else
        say "WARNING: $case: $bad rows of portal.users differ in salesforce.account ($who)"
        record "$case.$who.verified" "MISMATCH"
    fi
}

# pgbench_run LOGFILE ARGS...: run pgbench against the source, print tps.
pgbench_run() {
    local log=$1
    shift
    fg timeout -k 10 "$T_CONSUMER" "$BINDIR/pgbench" -h "$SRC_HOST" -n -r "$@" bench \
        >"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        die "pgbench failed (see $log)"
    }
}
pgbench_tps() { awk '/^tps = / {print $3; exit}' "$1"; }
pgbench_txns() { awk -F': ' '/number of transactions actually processed/ {split($2, a, "/"); print a[1]}' "$1"; }

cat >"$WORK/update_items.sql" <<'EOF'
\set id random(1, :nrows)
UPDATE bench.items SET n = n + 1, updated_at = clock_timestamp() WHERE id = :id;
EOF
cat >"$WORK/update_users.sql" <<'EOF'
\set id random(1, :nrows)
\set p random(1000000, 9999999)
UPDATE portal.users SET phone = '+1-555-' || :p, updated_at = now() WHERE id = :id;
EOF

# ------------------------------------------------------------------ cases --

# want CASE: CASE is one of the cases to run (WB_BENCH_CASES).
want() { [[ " $CASES " == *" $1 "* ]]; }

# expr_prepare CASE: walbridge's slot (and stored position) for the
# expression mapping of CASE (bulk_expr, backlog_expr), created before the
# workload; no-op unless CASE is to run.
expr_prepare() {
    want "$1" || return 0
    wb_config "$WORK/$1.yaml" "wb_$1" expr
    wb_prepare "$WORK/$1.yaml" "$WORK/$1.wb.log"
}
# expr_timed CASE: the expression mapping's run on the same WAL, after the
# identity consumers', checked against the expressions computed in SQL.
expr_timed() {
    want "$1" || return 0
    checkpoint_both
    say "  walbridge, expression mapping"
    wb_timed "$1" "$WORK/$1.yaml" "$WORK/$1.wb.log"
    verify_expr "$1"
    src -c "SELECT pg_drop_replication_slot('wb_$1')" >/dev/null
}

# bulk_items: one transaction of BULK_ROWS inserts into bench.items, for
# the identity consumers (bulk_id) and the expression mapping (bulk_expr),
# each the only one running at a time.
case_bulk_items() {
    local c=bulk_id cfg=$WORK/bulk_id.yaml log=$WORK/bulk_id.wb.log endlsn
    say "bulk, bench.items: one transaction inserting $BULK_ROWS rows"
    if want bulk_id; then
        wb_config "$cfg" wb_bulk_id identity
        wb_prepare "$cfg" "$log"
        base_prepare bulk_id
        native_prepare nat_bulk_id
        recv_prepare recv_bulk_id
    fi
    expr_prepare bulk_expr
    fg src -c "INSERT INTO bench.items (id, payload, n, updated_at)
            SELECT g, md5(g::text) || md5((g + 1)::text), 0, clock_timestamp()
              FROM generate_series(1, $BULK_ROWS) g"
    endlsn=$(end_marker bench.marker)
    if want bulk_id; then
        record $c.rows "$BULK_ROWS"
        checkpoint_both
        say "  pg_recvlogical"
        recv_timed $c recv_bulk_id bench_pub "$endlsn"
        checkpoint_both
        say "  native subscription"
        native_timed $c nat_bulk_id "$endlsn"
        verify_identity $c native nat
        checkpoint_both
        say "  walbridge, identity"
        wb_timed $c "$cfg" "$log"
        verify_identity $c wb wbt
        src -c "SELECT pg_drop_replication_slot('wb_bulk_id')" >/dev/null
        base_timed $c
    fi
    want bulk_expr && record bulk_expr.rows "$BULK_ROWS"
    expr_timed bulk_expr
}

# backlog_items: BACKLOG_TXNS single-row updates of bench.items while
# nobody consumes, for the identity consumers (backlog_id) and the
# expression mapping (backlog_expr).
case_backlog_items() {
    local c=backlog_id cfg=$WORK/backlog_id.yaml log=$WORK/backlog_id.wb.log endlsn
    local pglog=$WORK/backlog_items.pgbench.log
    say "backlog, bench.items: $BACKLOG_TXNS single-row UPDATE transactions (pgbench, $CLIENTS clients)"
    if want backlog_id; then
        wb_config "$cfg" wb_backlog_id identity
        wb_prepare "$cfg" "$log"
        base_prepare backlog_id
        native_prepare nat_backlog_id
        recv_prepare recv_backlog_id
    fi
    expr_prepare backlog_expr
    pgbench_run "$pglog" -c "$CLIENTS" -j 2 -t $((BACKLOG_TXNS / CLIENTS)) \
        -D nrows="$BULK_ROWS" -f "$WORK/update_items.sql"
    endlsn=$(end_marker bench.marker)
    local cc
    for cc in backlog_id backlog_expr; do
        want $cc || continue
        record $cc.txns "$(pgbench_txns "$pglog")"
        record $cc.source_tps "$(pgbench_tps "$pglog")"
    done
    if want backlog_id; then
        checkpoint_both
        say "  pg_recvlogical"
        recv_timed $c recv_backlog_id bench_pub "$endlsn"
        checkpoint_both
        say "  native subscription"
        native_timed $c nat_backlog_id "$endlsn"
        verify_identity $c native nat
        checkpoint_both
        say "  walbridge, identity"
        wb_timed $c "$cfg" "$log"
        verify_identity $c wb wbt
        src -c "SELECT pg_drop_replication_slot('wb_backlog_id')" >/dev/null
        base_timed $c
    fi
    expr_timed backlog_expr
}

case_bulk_portal() {
    local c=bulk_portal cfg=$WORK/bulk_portal.yaml log=$WORK/bulk_portal.wb.log endlsn
    say "bulk, portal.users -> salesforce.account: one transaction inserting $BULK_ROWS rows"
    wb_config "$cfg" wb_bulk_portal portal
    wb_prepare "$cfg" "$log"
    recv_prepare recv_bulk_portal
    fg src -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'user' || g || '@example.com', 'First' || g % 1000,
                   'Last' || g % 7919, '+1-555-' || (1000000 + g)
              FROM generate_series(1, $BULK_ROWS) g"
    endlsn=$(end_marker portal.bench_marker)
    record $c.rows "$BULK_ROWS"
    checkpoint_both
    say "  pg_recvlogical"
    recv_timed $c recv_bulk_portal portal_pub "$endlsn"
    checkpoint_both
    say "  walbridge"
    wb_timed $c "$cfg" "$log"
    verify_portal $c
    src -c "SELECT pg_drop_replication_slot('wb_bulk_portal')" >/dev/null
}

case_backlog_portal() {
    local c=backlog_portal cfg=$WORK/backlog_portal.yaml log=$WORK/backlog_portal.wb.log endlsn
    say "backlog, portal.users -> salesforce.account: $BACKLOG_TXNS single-row UPDATE transactions"
    wb_config "$cfg" wb_backlog_portal portal
    wb_prepare "$cfg" "$log"
    recv_prepare recv_backlog_portal
    pgbench_run "$WORK/$c.pgbench.log" -c "$CLIENTS" -j 2 -t $((BACKLOG_TXNS / CLIENTS)) \
        -D nrows="$BULK_ROWS" -f "$WORK/update_users.sql"
    endlsn=$(end_marker portal.bench_marker)
    record $c.txns "$(pgbench_txns "$WORK/$c.pgbench.log")"
    record $c.source_tps "$(pgbench_tps "$WORK/$c.pgbench.log")"
    checkpoint_both
    say "  pg_recvlogical"
    recv_timed $c recv_backlog_portal portal_pub "$endlsn"
    checkpoint_both
    say "  walbridge"
    wb_timed $c "$cfg" "$log"
    verify_portal $c
    src -c "SELECT pg_drop_replication_slot('wb_backlog_portal')" >/dev/null
}

# lagged_start CASE CFG LOG SLOT: the lag trigger on the target's
# bench.items, then walbridge run in the background under /usr/bin/time
# (its pid in LAGGED_PID) until it streams SLOT.
lagged_start() {
    local case=$1 cfg=$2 log=$3 slot=$4
    wbt -c 'CREATE TRIGGER lag AFTER INSERT OR UPDATE ON bench.items
                FOR EACH ROW EXECUTE FUNCTION benchlag.record()'
    /usr/bin/time -v -o "$WORK/$case.wb.time" "$WB_BIN" run -c "$cfg" >"$log" 2>&1 &
    LAGGED_PID=$!
    BG_PIDS+=("$LAGGED_PID")
    wait_slot_active "$slot"
}

# lagged_stop CASE LOG: SIGTERM to that walbridge, its exit checked, its
# peak RSS and CPU recorded (CASE.wb.*), the lag trigger dropped.
lagged_stop() {
    local case=$1 log=$2 wpid rc=0
    wpid=$(pgrep -P "$LAGGED_PID" | head -n 1 || true)
    [[ -n "$wpid" ]] && kill -TERM "$wpid"
    timeout "$T_SHORT" tail --pid="$LAGGED_PID" -f /dev/null || die "walbridge did not stop"
    wait "$LAGGED_PID" || rc=$?
    bg_done "$LAGGED_PID"
    ((rc == 0)) || die "walbridge ($case) exited $rc (see $log)"
    time_v_record "$case.wb" "$WORK/$case.wb.time"
    wbt -c 'DROP TRIGGER lag ON bench.items'
}

# lag_stats FUNC PREFIX: p50/p99/max of the recorded lag, then clear it.
lag_stats() {
    local fn=$1 prefix=$2 row
    row=$("$fn" -F ' ' -c "SELECT count(*),
            round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
            round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
            round(max(ms)::numeric, 2) FROM benchlag.lag")
    read -r n p50 p99 mx <<<"$row"
    record "$prefix.lag_n" "$n"
    record "$prefix.lag_p50_ms" "${p50:-}"
    record "$prefix.lag_p99_ms" "${p99:-}"
    record "$prefix.lag_max_ms" "${mx:-}"
    "$fn" -c 'TRUNCATE benchlag.lag'
}

steady_pgbench() {
    local variant=$1
    pgbench_run "$WORK/steady.$variant.pgbench.log" -c "$CLIENTS" -j 2 -T "$STEADY_SECS" \
        -D nrows="$BULK_ROWS" -f "$WORK/update_items.sql"
    record "steady.$variant.tps" "$(pgbench_tps "$WORK/steady.$variant.pgbench.log")"
    record "steady.$variant.txns" "$(pgbench_txns "$WORK/steady.$variant.pgbench.log")"
}

steady_reset() {
    src -c 'VACUUM (ANALYZE) bench.items'
    checkpoint_both
}

# wait_slot_active SLOT: a consumer is streaming from SLOT.
wait_slot_active() {
    local slot=$1 deadline=$((SECONDS + T_SHORT))
    while [[ "$(src -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" != t ]]; do
        ((SECONDS < deadline)) || die "no consumer became active on slot $slot"
        sleep 0.1
    done
}

# steady_rate_lag VARIANT DB-FUNC ORIGIN: the consumer's lag at a fixed,
# modest rate (pgbench -R), where a consumer that keeps up shows its latency
# rather than its backlog.
steady_rate_lag() {
    local variant=$1 fn=$2 origin=$3 endlsn
    pgbench_run "$WORK/steady.$variant.rate.pgbench.log" -c "$CLIENTS" -j 2 -T "$RATE_SECS" \
        -R "$RATE" -D nrows="$BULK_ROWS" -f "$WORK/update_items.sql"
    record "steady.$variant.rate_tps" "$(pgbench_tps "$WORK/steady.$variant.rate.pgbench.log")"
    endlsn=$(end_marker bench.marker)
    record "steady.$variant.rate_drain_secs" \
        "$("$fn" -c "SELECT round(benchlag.wait_origin('$origin', '$endlsn', $T_CONSUMER)::numeric, 3)")"
    lag_stats "$fn" "steady.$variant.rate"
}

case_steady() {
    local endlsn origin since
    say "steady state: pgbench $CLIENTS clients x ${STEADY_SECS}s, UPDATE of one random row of $BULK_ROWS;"
    say "  lag also at a fixed $RATE tps for ${RATE_SECS}s"
    record steady.secs "$STEADY_SECS"
    record steady.clients "$CLIENTS"
    record steady.rate "$RATE"
    record steady.rate_secs "$RATE_SECS"

    say "  nothing attached (1 of 2)"
    steady_reset
    steady_pgbench none1

    say "  trigger + NOTIFY (row trigger calling pg_notify(row_to_json(NEW)), one listener)"
    steady_reset
    src -c "CREATE FUNCTION bench.notify_row() RETURNS trigger LANGUAGE plpgsql AS \$\$
            BEGIN PERFORM pg_notify('bench', row_to_json(NEW)::text); RETURN NULL; END \$\$;
            CREATE TRIGGER notify_row AFTER INSERT OR UPDATE ON bench.items
                FOR EACH ROW EXECUTE FUNCTION bench.notify_row();"
    local ready=$WORK/listener.ready lpid rc=0
    rm -f "$ready"
    "$WORK/notify_listener" "$SRC_CONN" bench "$ready" "$T_CONSUMER" \
        >"$WORK/listener.out" 2>"$WORK/listener.err" &
    lpid=$!
    BG_PIDS+=("$lpid")
    local deadline=$((SECONDS + T_SHORT))
    while [[ ! -f $ready ]]; do
        kill -0 "$lpid" 2>/dev/null || die "notify_listener exited: $(cat "$WORK/listener.err")"
        ((SECONDS < deadline)) || die "notify_listener did not start"
        sleep 0.05
    done
    steady_pgbench notify
    local t0 t1
    t0=$EPOCHREALTIME
    src -c "SELECT pg_notify('bench', '__end__')" >/dev/null
    wait "$lpid" || rc=$?
    bg_done "$lpid"
    t1=$EPOCHREALTIME
    ((rc == 0)) || die "notify_listener did not finish (exit $rc): $(cat "$WORK/listener.err")"
    record steady.notify.drain_secs "$(fsub "$t1" "$t0")"
    record steady.notify.received "$(sed -n 's/^received=\([0-9]*\).*/\1/p' "$WORK/listener.out")"
    src -c 'DROP TRIGGER notify_row ON bench.items; DROP FUNCTION bench.notify_row()'

    say "  native subscription"
    steady_reset
    nat -c 'CREATE TRIGGER lag AFTER INSERT OR UPDATE ON bench.items
                FOR EACH ROW EXECUTE FUNCTION benchlag.record();
            ALTER TABLE bench.items ENABLE ALWAYS TRIGGER lag;'
    native_prepare nat_steady true
    wait_slot_active nat_steady
    since=$(src -c 'SELECT clock_timestamp()')
    steady_pgbench native
    endlsn=$(end_marker bench.marker)
    origin=$(native_origin nat_steady)
    record steady.native.drain_secs \
        "$(nat -c "SELECT round(benchlag.wait_origin('$origin', '$endlsn', $T_CONSUMER)::numeric, 3)")"
    lag_stats nat steady.native
    steady_rate_lag native nat "$origin"
    native_drop nat_steady
    nat -c 'DROP TRIGGER lag ON bench.items'
    # Only the rows written while this consumer was attached are comparable.
    verify_identity steady native nat "updated_at >= '$since'"

    say "  walbridge"
    steady_reset
    local cfg=$WORK/steady.yaml log=$WORK/steady.wb.log changes
    wb_config "$cfg" wb_steady identity
    lagged_start steady "$cfg" "$log" wb_steady
    since=$(src -c 'SELECT clock_timestamp()')
    steady_pgbench wb
    endlsn=$(end_marker bench.marker)
    record steady.wb.drain_secs \
        "$(wbt -c "SELECT round(benchlag.wait_origin('walbridge_wb_steady', '$endlsn', $T_CONSUMER)::numeric, 3)")"
    lag_stats wbt steady.wb
    steady_rate_lag wb wbt walbridge_wb_steady
    lagged_stop steady "$log"
    changes=$(grep -o '[0-9]* changes routed' "$log" | tail -n 1 | awk '{print $1}')
    record steady.wb.changes "${changes:-0}"
    verify_identity steady wb wbt "updated_at >= '$since'"
    src -c "SELECT pg_drop_replication_slot('wb_steady')" >/dev/null

    say "  nothing attached (2 of 2)"
    steady_reset
    steady_pgbench none2
    record steady.none.tps "$(awk -v a="$(pgbench_tps "$WORK/steady.none1.pgbench.log")" \
        -v b="$(pgbench_tps "$WORK/steady.none2.pgbench.log")" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
}

case_big() {
    local c=big cfg=$WORK/big.yaml log=$WORK/big.wb.log
    say "big transaction: walbridge alone on one transaction of $BIG_ROWS rows"
    wb_config "$cfg" wb_big identity
    wb_prepare "$cfg" "$log"
    fg src -c "INSERT INTO bench.items (id, payload, n, updated_at)
            SELECT g, md5(g::text) || md5((g + 1)::text), 0, clock_timestamp()
              FROM generate_series($BULK_ROWS + 1, $BULK_ROWS + $BIG_ROWS) g"
    end_marker bench.marker >/dev/null
    record $c.rows "$BIG_ROWS"
    checkpoint_both
    wb_timed $c "$cfg" "$log"
    verify_identity $c wb wbt "id > $BULK_ROWS"
    src -c "SELECT pg_drop_replication_slot('wb_big')" >/dev/null
}

# copy_id: the initial copy of COPY_ROWS rows of bench.items into the
# target cluster, beside the pgcopydb-style baseline (psql COPY TO | psql
# COPY FROM into the same empty table) and the native subscription with
# copy_data (until its table is ready).  bench.items is refilled to
# COPY_ROWS rows first; each consumer starts from an empty target table.
# On a shared VM one run of each varies by a quarter from run to run (the
# target backend's CPU time for the same rows did, 11.7-16.7 s for 10M), so
# the three run COPY_ROUNDS times, interleaved, each round starting with
# the next of them; the report gives each one's median, and each round's
# walbridge/native ratio.  The CPU breakdown is the last round's.
copy_pipe() {
    local c=$1 r=$2 t0 t1
    wbt -c "TRUNCATE bench.items"
    checkpoint_both
    say "  round $r: psql COPY TO | psql COPY FROM"
    t0=$EPOCHREALTIME
    fg bash -c "set -o pipefail; PGAPPNAME=bench '$BINDIR/psql' -X -q -h '$SRC_HOST' -d bench \
            -c 'COPY bench.items TO STDOUT' |
        PGAPPNAME=bench '$BINDIR/psql' -X -q -h '$TGT_HOST' -d wbtarget \
            -c 'COPY bench.items FROM STDIN'" || die "the psql COPY pipe failed"
    t1=$EPOCHREALTIME
    record "$c.pipe.r$r.secs" "$(fsub "$t1" "$t0")"
    verify_identity $c "pipe.r$r" wbt
    wbt -c "TRUNCATE bench.items"
}
copy_native() {
    local c=$1 r=$2 t0 t1 n=0
    nat -c "TRUNCATE bench.items"
    checkpoint_both
    say "  round $r: native subscription, copy_data"
    sampler_start "$c.native"
    t0=$EPOCHREALTIME
    nat -c "CREATE SUBSCRIPTION nat_copy CONNECTION '$SRC_CONN' PUBLICATION copy_pub
            WITH (copy_data = true, slot_name = 'nat_copy', streaming = off)" >/dev/null ||
        die "CREATE SUBSCRIPTION nat_copy failed"
    until [[ "$(nat -c "SELECT count(*) = 1 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel")" == t ]]; do
        sleep 0.1
        n=$((n + 1))
        ((n < T_CONSUMER * 10)) || die "the native subscription's copy did not finish"
    done
    t1=$EPOCHREALTIME
    sampler_stop "$c.native"
    record "$c.native.r$r.secs" "$(fsub "$t1" "$t0")"
    verify_identity $c "native.r$r" nat
    native_drop nat_copy
    nat -c "TRUNCATE bench.items"
}
copy_wb() {
    local c=$1 r=$2 cfg=$WORK/copy_id.yaml log=$WORK/copy_id.wb.log
    # A slot (and so an origin and a sync state) of its own per round.
    wbt -c "TRUNCATE bench.items"
    checkpoint_both
    say "  round $r: walbridge"
    WB_COPY=true wb_config "$cfg" "wb_copy_id_r$r" identity
    sed -i 's/^  publication: bench_pub$/  publication: copy_pub/' "$cfg"
    wb_timed $c "$cfg" "$log"
    record "$c.wb.r$r.secs" "$(last_record "$c.wb.secs")"
    record "$c.wb.r$r.rss_kb" "$(last_record "$c.wb.rss_kb")"
    verify_identity $c "wb.r$r" wbt
    src -c "SELECT pg_drop_replication_slot('wb_copy_id_r$r')" >/dev/null
    wbt -c "TRUNCATE bench.items" \
        -c "DELETE FROM walbridge.sync_state WHERE slot = 'wb_copy_id_r$r'" \
        -c "SELECT pg_replication_origin_drop('walbridge_wb_copy_id_r$r')" >/dev/null
}
# last_record KEY: the value recorded last under KEY.
last_record() {
    grep -P "^${1//./\\.}\t" "$RESULTS" | tail -n 1 | cut -f2
}
# copy_median CASE WHO: the median of the rounds' seconds (copy_id's,
# resync_id's).
copy_median() {
    grep -P "^$1\\.$2\\.r[0-9]+\\.secs\\t" "$RESULTS" | cut -f2 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
case_copy_id() {
    local c=copy_id r i who
    local -a order=(pipe native wb)
    say "initial copy, bench.items: $COPY_ROWS rows, identity, $COPY_ROUNDS rounds"
    fg src -c "TRUNCATE bench.items" -c "INSERT INTO bench.items (id, payload, n, updated_at)
            SELECT g, md5(g::text) || md5((g + 1)::text), 0, clock_timestamp()
              FROM generate_series(1, $COPY_ROWS) g" -c "VACUUM ANALYZE bench.items"
    record $c.rows "$COPY_ROWS"
    record $c.rounds "$COPY_ROUNDS"
    src -c "CREATE PUBLICATION copy_pub FOR TABLE bench.items" >/dev/null
    for ((r = 1; r <= COPY_ROUNDS; r++)); do
        for ((i = 0; i < 3; i++)); do
            who=${order[$(((r - 1 + i) % 3))]}
            "copy_$who" $c $r
        done
    done
    for who in pipe native wb; do
        record "$c.$who.secs" "$(copy_median $c $who)"
    done
    # Walbridge's peak RSS: the highest of its rounds'.
    record "$c.wb.rss_kb" "$(grep -P "^$c\\.wb\\.r[0-9]+\\.rss_kb\\t" "$RESULTS" | cut -f2 | sort -n | tail -n 1)"
    src -c "DROP PUBLICATION copy_pub" >/dev/null
}

# copy_portal: the initial copy of portal.users -> salesforce.account
# within the source database, beside one INSERT ... SELECT ... ON CONFLICT
# doing the same mapping, each into an empty salesforce.account.
case_copy_portal() {
    local c=copy_portal cfg=$WORK/copy_portal.yaml log=$WORK/copy_portal.wb.log t0 t1
    say "initial copy, portal.users -> salesforce.account: $COPY_PORTAL_ROWS rows"
    fg src -c "TRUNCATE portal.users CASCADE" -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'user' || g || '@example.com', 'First' || g % 1000,
                   'Last' || g % 7919, '+1-555-' || (1000000 + g)
              FROM generate_series(1, $COPY_PORTAL_ROWS) g" -c "VACUUM ANALYZE portal.users"
    record $c.rows "$COPY_PORTAL_ROWS"
    src -c "TRUNCATE salesforce.account"
    checkpoint_both
    say "  INSERT ... SELECT ... ON CONFLICT"
    t0=$EPOCHREALTIME
    fg src -c "INSERT INTO salesforce.account (external_id__c, personemail, firstname, lastname, phone)
               SELECT id::text, email, first_name, last_name, phone FROM portal.users
               ON CONFLICT (external_id__c) DO UPDATE SET personemail = EXCLUDED.personemail,
                 firstname = EXCLUDED.firstname, lastname = EXCLUDED.lastname, phone = EXCLUDED.phone"
    t1=$EPOCHREALTIME
    record "$c.sql.secs" "$(fsub "$t1" "$t0")"
    verify_portal $c sql
    src -c "TRUNCATE salesforce.account"
    checkpoint_both
    say "  walbridge"
    WB_COPY=true wb_config "$cfg" wb_copy_portal portal
    wb_timed $c "$cfg" "$log"
    verify_portal $c
    src -c "SELECT pg_drop_replication_slot('wb_copy_portal')" >/dev/null
}

# resync_id: `walbridge resync` of RESYNC_ROWS bench.items rows (identity,
# into the target cluster, which already holds the same rows) while
# walbridge streams pgbench's single-row UPDATEs at a fixed RESYNC_RATE tps:
# the re-sync's rate, and the stream's lag (source UPDATE to target row)
# before and during the re-sync.  Walbridge's peak RSS over it all.
case_resync_id() {
    local c=resync_id cfg=$WORK/resync_id.yaml log=$WORK/resync_id.wb.log
    local pgpid rc=0 t0 t1 r endlsn
    say "re-sync, bench.items: $RESYNC_ROWS rows while pgbench updates them at $RESYNC_RATE tps"
    fg src -c "TRUNCATE bench.items" -c "INSERT INTO bench.items (id, payload, n, updated_at)
            SELECT g, md5(g::text) || md5((g + 1)::text), 0, timestamptz '2026-01-01'
              FROM generate_series(1, $RESYNC_ROWS) g" -c "VACUUM ANALYZE bench.items"
    wbt -c "TRUNCATE bench.items" -c "INSERT INTO bench.items (id, payload, n, updated_at)
            SELECT g, md5(g::text) || md5((g + 1)::text), 0, timestamptz '2026-01-01'
              FROM generate_series(1, $RESYNC_ROWS) g" -c "VACUUM ANALYZE bench.items"
    record $c.rows "$RESYNC_ROWS"
    record $c.rate "$RESYNC_RATE"
    checkpoint_both
    wb_config "$cfg" wb_resync_id identity
    lagged_start $c "$cfg" "$log" wb_resync_id
    say "  the stream alone, ${RESYNC_SECS}s"
    pgbench_run "$WORK/resync_id.before.pgbench.log" -c 2 -j 2 -T "$RESYNC_SECS" \
        -R "$RESYNC_RATE" -D nrows="$RESYNC_ROWS" -f "$WORK/update_items.sql"
    endlsn=$(end_marker bench.marker)
    wbt -c "SELECT benchlag.wait_origin('walbridge_wb_resync_id', '$endlsn', $T_CONSUMER)" >/dev/null
    lag_stats wbt $c.before
    say "  the stream and the re-sync"
    "$BINDIR/pgbench" -h "$SRC_HOST" -n -c 2 -j 2 -T "$T_CONSUMER" -R "$RESYNC_RATE" \
        -D nrows="$RESYNC_ROWS" -f "$WORK/update_items.sql" bench >"$WORK/resync_id.during.pgbench.log" 2>&1 &
    pgpid=$!
    BG_PIDS+=("$pgpid")
    sleep 2
    wbt -c 'TRUNCATE benchlag.lag'
    # RESYNC_ROUNDS re-syncs one after the other (the target stays equal),
    # the stream going on: the median rate, and the lag over them all.
    for ((r = 1; r <= RESYNC_ROUNDS; r++)); do
        say "  re-sync, round $r"
        t0=$EPOCHREALTIME
        fg timeout -k 10 "$T_CONSUMER" "$WB_BIN" resync -c "$cfg" --mapping items \
            >>"$WORK/resync_id.resync.log" 2>&1 || rc=$?
        t1=$EPOCHREALTIME
        ((rc == 0)) || die "walbridge resync failed (exit $rc; see $WORK/resync_id.resync.log)"
        record "$c.wb.r$r.secs" "$(fsub "$t1" "$t0")"
    done
    record "$c.rounds" "$RESYNC_ROUNDS"
    record "$c.wb.secs" "$(copy_median $c wb)"
    lag_stats wbt $c.during
    kill -TERM "$pgpid" 2>/dev/null || true
    wait "$pgpid" 2>/dev/null || true
    bg_done "$pgpid"
    endlsn=$(end_marker bench.marker)
    wbt -c "SELECT benchlag.wait_origin('walbridge_wb_resync_id', '$endlsn', $T_CONSUMER)" >/dev/null
    lagged_stop $c "$log"
    verify_identity $c wb wbt
    src -c "SELECT pg_drop_replication_slot('wb_resync_id')" >/dev/null
}

# compare_portal: `walbridge compare` of portal.users -> salesforce.account
# (COPY_PORTAL_ROWS rows, target filled by SQL, no difference), beside one
# FULL JOIN query finding the same differences.  Peak RSS of the compare.
case_compare_portal() {
    local c=compare_portal cfg=$WORK/compare_portal.yaml out=$WORK/compare_portal.json t0 t1 rc=0
    local tv=$WORK/compare_portal.wb.time
    say "compare, portal.users -> salesforce.account: $COPY_PORTAL_ROWS rows"
    fg src -c "TRUNCATE portal.users CASCADE" -c "INSERT INTO portal.users (email, first_name, last_name, phone)
            SELECT 'user' || g || '@example.com', 'First' || g % 1000,
                   'Last' || g % 7919, '+1-555-' || (1000000 + g)
              FROM generate_series(1, $COPY_PORTAL_ROWS) g" -c "TRUNCATE salesforce.account" \
        -c "INSERT INTO salesforce.account (external_id__c, personemail, firstname, lastname, phone)
            SELECT id::text, email, first_name, last_name, phone FROM portal.users" \
        -c "VACUUM ANALYZE portal.users, salesforce.account"
    record $c.rows "$COPY_PORTAL_ROWS"
    checkpoint_both
    say "  one FULL JOIN query"
    t0=$EPOCHREALTIME
    fg src -c "SELECT count(*) FROM (SELECT id::text AS k, email, first_name, last_name, phone
                 FROM portal.users) p FULL JOIN salesforce.account t ON t.external_id__c = p.k
               WHERE p.k IS NULL OR t.external_id__c IS NULL
                  OR (p.email, p.first_name, p.last_name, p.phone) IS DISTINCT FROM
                     (t.personemail, t.firstname, t.lastname, t.phone)" >/dev/null
    t1=$EPOCHREALTIME
    record "$c.sql.secs" "$(fsub "$t1" "$t0")"
    say "  walbridge compare"
    wb_config "$cfg" wb_compare_portal portal
    sampler_start "$c.wb"
    t0=$EPOCHREALTIME
    fg /usr/bin/time -v -o "$tv" timeout -k 10 "$T_CONSUMER" \
        "$WB_BIN" compare -c "$cfg" --json >"$out" 2>>"$WORK/compare_portal.wb.log" || rc=$?
    t1=$EPOCHREALTIME
    sampler_stop "$c.wb"
    ((rc == 0)) || die "walbridge compare failed or found differences (exit $rc; see $out)"
    [[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["mappings"][0]["source_rows"])' "$out")" == "$COPY_PORTAL_ROWS" ]] ||
        die "walbridge compare did not read $COPY_PORTAL_ROWS rows (see $out)"
    record "$c.wb.secs" "$(fsub "$t1" "$t0")"
    time_v_record "$c.wb" "$tv"
    # The same across databases (the target named by a connection string
    # of its own): per-bucket sums on both sides.
    say "  walbridge compare, across databases (buckets)"
    wb_config "$cfg" wb_compare_portal portal "$SRC_CONN application_name=wb_buckets"
    tv=$WORK/compare_portal.buckets.time
    t0=$EPOCHREALTIME
    fg /usr/bin/time -v -o "$tv" timeout -k 10 "$T_CONSUMER" \
        "$WB_BIN" compare -c "$cfg" --json >"$out" 2>>"$WORK/compare_portal.wb.log" || rc=$?
    t1=$EPOCHREALTIME
    ((rc == 0)) || die "walbridge compare (buckets) failed or found differences (exit $rc; see $out)"
    grep -q '"projection":"buckets"' "$out" || die "walbridge compare did not sum buckets up (see $out)"
    record "$c.buckets.secs" "$(fsub "$t1" "$t0")"
    time_v_record "$c.buckets" "$tv"
}

# ------------------------------------------------------------------- main --

record meta.mode "$MODE"
record meta.date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
record meta.nproc "$(nproc)"
record meta.cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
record meta.ram_kb "$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
record meta.kernel "$(uname -sr)"
record meta.pg_version "$("$BINDIR/postgres" --version)"
record meta.wb_version "$("$WB_BIN" --version 2>&1 | head -n 1)"
record meta.wb_commit "$(cd "$ROOT" && { git rev-parse --short HEAD 2>/dev/null || echo unknown; } )$(cd "$ROOT" && git diff --quiet HEAD -- lib include cmd CMakeLists.txt 2>/dev/null || echo '+local changes')"
record meta.fsync "$FSYNC"
[[ -z $BASE_BIN ]] || record meta.baseline "$BASE_LABEL"
[[ -z $BASE_BIN ]] || record meta.baseline_version "$("$BASE_BIN" --version 2>&1 | head -n 1)"
record meta.clients "$CLIENTS"
record meta.wb_target_yaml "$(printf '%s' "${WB_BENCH_TARGET_YAML:-}" | tr '\n' ';')"
# Other work on the machine skews every figure: keep the load with them.
record meta.loadavg_start "$(cut -d ' ' -f 1-3 /proc/loadavg)"

record meta.cases "${WB_BENCH_CASES:-all}"
CASES=${WB_BENCH_CASES:-bulk_id bulk_expr backlog_id backlog_expr steady bulk_portal backlog_portal big copy_id copy_portal resync_id compare_portal}
# bulk_id and bulk_expr share one workload (so do backlog_id and
# backlog_expr): it runs once, where the first of them is named.
RAN=" "
for c in $CASES; do
    case $c in
    bulk_id | bulk_expr)
        [[ $RAN == *" bulk "* ]] || case_bulk_items
        RAN+="bulk "
        ;;
    backlog_id | backlog_expr)
        [[ $RAN == *" backlog "* ]] || case_backlog_items
        RAN+="backlog "
        ;;
    steady) case_steady ;;
    bulk_portal) case_bulk_portal ;;
    backlog_portal) case_backlog_portal ;;
    big) case_big ;;
    copy_id) case_copy_id ;;
    copy_portal) case_copy_portal ;;
    compare_portal) case_compare_portal ;;
    resync_id) case_resync_id ;;
    *) die "WB_BENCH_CASES: unknown case $c" ;;
    esac
done

record meta.runtime_s "$((SECONDS - T_START))"
record meta.loadavg_end "$(cut -d ' ' -f 1-3 /proc/loadavg)"
say "writing the report"
mkdir -p "$OUT"
"$PY" "$BENCH/report.py" "$RESULTS" "$OUT" || die "report failed"
cp -f "$RESULTS" "$WORK/results.tsv.keep" 2>/dev/null || true
cat "$OUT/latest.md"
OK=1
say "done: $OUT/latest.md, latest.json, latest.png"
