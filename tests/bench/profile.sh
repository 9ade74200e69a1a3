#!/usr/bin/env bash
# tests/bench/profile.sh - where the time of a benchmark case goes (perf).
#
#   ./tests/bench/profile.sh [bulk|backlog|steady|copy] [N]
#     bulk     one transaction of N inserts (default 1000000), then
#              `walbridge run --until now`
#     backlog  N single-row UPDATE transactions (default 100000, pgbench, 4
#              clients), then `walbridge run --until now`
#     steady   walbridge streaming while pgbench (4 clients) runs N
#              seconds (default 20)
#     copy     the initial copy of N rows (default 2000000): the first
#              `walbridge run --until now`, which creates the slot
#   backlog and steady update random rows of 1000000, as run.sh does.
#
# Starts the benchmark's two private clusters (same settings as run.sh),
# identity mapping bench.items -> the target cluster, and records the
# whole machine with `perf record -a -g` during the measured part.  Prints
# each process's share of all samples (with its role: walbridge, target
# backend, walsender, source backends) and the top symbols (self time) of
# walbridge, its target backend and its walsender; for the target backend
# also inclusive time from DWARF call graphs (PostgreSQL has no frame
# pointers).  Writes build-profile/<case>/.  Needs perf and root (or
# kernel.perf_event_paranoid <= 0).  WB_BIN: walbridge binary (default:
# build it, Release with frame pointers, in build-profile/bin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/harness/deps.sh
source "$ROOT/tests/harness/deps.sh"
CASE=${1:-bulk}
case "$CASE" in
bulk) N=${2:-1000000} ;;
backlog) N=${2:-100000} ;;
steady) N=${2:-20} ;;
copy) N=${2:-2000000} ;;
*)
    echo "usage: $0 [bulk|backlog|steady|copy] [N]" >&2
    exit 2
    ;;
esac
BINOUT=$ROOT/build-profile
OUT=$BINOUT/$CASE
WORK=$OUT/work
rm -rf "$OUT"
BINDIR=$(wb_pg_bindir)
mkdir -p "$OUT"
say() { printf '[profile] %s\n' "$*" >&2; }

if [[ -z "${WB_BIN:-}" ]]; then
    say "building walbridge (Release, frame pointers) in $BINOUT/bin"
    cmake -S "$ROOT" -B "$BINOUT/bin" -DCMAKE_BUILD_TYPE=Release -DWB_TESTS=OFF \
        -DCMAKE_C_FLAGS="-fno-omit-frame-pointer -g" >/dev/null
    cmake --build "$BINOUT/bin" -j "$(nproc)" --target walbridge >/dev/null
    WB_BIN=$BINOUT/bin/walbridge
fi

as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        (cd / && runuser -u "${WB_PG_OSUSER:-postgres}" -- "$@")
    else
        "$@"
    fi
}
state_get() { (source "$WORK/$1/env.sh" && printf '%s\n' "${!2}"); }
cleanup() {
    set +e
    for c in src tgt; do "$ROOT/tests/harness/pg_cluster.sh" stop "$WORK/$c" >/dev/null 2>&1; done
}
trap cleanup EXIT
start_cluster() {
    "$ROOT/tests/harness/pg_cluster.sh" start "$WORK/$1" 2>"$WORK.$1.log"
    local data log
    data=$(state_get "$1" WB_PG_DATA)
    log=$(state_get "$1" WB_PG_LOG)
    cat >>"$data/postgresql.conf" <<EOF
shared_buffers = 1GB
max_wal_size = 16GB
min_wal_size = 1GB
checkpoint_timeout = 30min
fsync = off
EOF
    as_pg "$BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 120 -m fast restart >/dev/null
}
mkdir -p "$WORK"
start_cluster src
start_cluster tgt
SRC_HOST=$(state_get src PGHOST)
TGT_HOST=$(state_get tgt PGHOST)
export PGUSER=postgres PGPORT=5432
q() {
    local host=$1 db=$2
    shift 2
    PGOPTIONS='-c client_min_messages=warning' "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -h "$host" -d "$db" "$@"
}
DDL="CREATE SCHEMA bench;
CREATE TABLE bench.items (id bigint PRIMARY KEY, payload text,
    n integer NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());"
q "$SRC_HOST" postgres -c 'CREATE DATABASE bench'
q "$TGT_HOST" postgres -c 'CREATE DATABASE wbtarget'
q "$SRC_HOST" bench -c "$DDL" -c 'CREATE PUBLICATION bench_pub FOR TABLES IN SCHEMA bench'
q "$TGT_HOST" wbtarget -c "$DDL"
cat >"$WORK/wb.yaml" <<EOF
source:
  conninfo: "host=$SRC_HOST port=5432 user=postgres dbname=bench"
  slot: wb_profile
  publication: bench_pub
  schemas: [bench]
  create_publication: false
target:
  conninfo: "host=$TGT_HOST port=5432 user=postgres dbname=wbtarget"
mappings:
  - name: items
    from: bench.items
    to: bench.items
    key: { id: id }
    columns: { payload: payload, n: n, updated_at: updated_at }
EOF
# The slot and a stored position (copy: created by the measured run).
[[ $CASE == copy ]] || "$WB_BIN" run -c "$WORK/wb.yaml" --until now 2>>"$WORK/wb.log"
printf '%s\n' '\set id random(1, 1000000)' \
    'UPDATE bench.items SET n = n + 1, updated_at = clock_timestamp() WHERE id = :id;' \
    >"$WORK/update.sql"
chmod a+r "$WORK/update.sql"
load_rows() {
    q "$SRC_HOST" bench -c "INSERT INTO bench.items (id, payload, n, updated_at)
        SELECT g, md5(g::text) || md5((g + 1)::text), 0, clock_timestamp()
          FROM generate_series(1, $1) g"
}
run_pgbench() {
    "$BINDIR/pgbench" -n -h "$SRC_HOST" -U postgres -c 4 -j 2 -f "$WORK/update.sql" "$@" bench
}
if [[ $CASE == bulk || $CASE == copy ]]; then
    say "loading one transaction of $N rows"
    load_rows "$N"
else
    load_rows 1000000
    "$WB_BIN" run -c "$WORK/wb.yaml" --until now 2>>"$WORK/wb.log"
fi
if [[ $CASE == backlog ]]; then
    say "pgbench: $N single-row UPDATE transactions, nothing consuming"
    run_pgbench -t $((N / 4)) >"$WORK/pgbench.log" 2>&1
fi
q "$SRC_HOST" bench -c CHECKPOINT
q "$TGT_HOST" postgres -c CHECKPOINT

XACT_SQL="SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
TGT_X0=$(q "$TGT_HOST" wbtarget -c "$XACT_SQL")
WB=""
if [[ $CASE == steady ]]; then
    "$WB_BIN" run -c "$WORK/wb.yaml" 2>>"$WORK/wb.log" &
    WB=$!
    sleep 1
    SRC_X0=$(q "$SRC_HOST" bench -c "$XACT_SQL")
    TGT_X0=$(q "$TGT_HOST" wbtarget -c "$XACT_SQL")
    say "pgbench ${N}s with walbridge streaming, under perf record -a -g (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    perf record -a -g -F 499 -o "$OUT/perf.data" -- \
        "$BINDIR/pgbench" -n -h "$SRC_HOST" -U postgres -c 4 -j 2 -f "$WORK/update.sql" \
        -T "$N" bench >"$WORK/pgbench.log" 2>&1 &
    PERF=$!
else
    say "walbridge run --until now under perf record -a -g (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    perf record -a -g -F 499 -o "$OUT/perf.data" -- \
        /usr/bin/time -v -o "$OUT/time.txt" "$WB_BIN" run -c "$WORK/wb.yaml" --until now \
        2>>"$WORK/wb.log" &
    PERF=$!
fi
# The processes, while they run: walbridge (perf -> time -> walbridge),
# its walsender and its target backend by application name.
WS="" BE=""
for _ in $(seq 1 100); do
    TIMEPID=$(pgrep -P "$PERF" | head -n 1 || true)
    [[ -n "$WB" || -z "$TIMEPID" ]] || WB=$(pgrep -P "$TIMEPID" walbridge || true)
    WS=$(q "$SRC_HOST" bench -c "SELECT pid FROM pg_stat_replication WHERE application_name = 'walbridge' LIMIT 1" || true)
    BE=$(q "$TGT_HOST" wbtarget -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'walbridge' AND backend_type = 'client backend' LIMIT 1" || true)
    [[ -n "$WS" && -n "$BE" && -n "$WB" ]] && break
    sleep 0.1
done
# The target backend once more, with DWARF call graphs (PostgreSQL is
# built without frame pointers): inclusive time per function.
BEPERF=""
if [[ -n "$BE" ]]; then
    perf record --call-graph dwarf,16384 -F 199 -p "$BE" -o "$OUT/perf-backend.data" \
        >/dev/null 2>&1 &
    BEPERF=$!
fi
SB=""
if [[ $CASE == steady ]]; then
    sleep 2 # pgbench is connected
    SB=$(q "$SRC_HOST" bench -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'pgbench'" || true)
fi
wait "$PERF" || true
if [[ $CASE == steady ]]; then
    sleep 2 # the tail of the stream applied
    kill -TERM "$WB"
    wait "$WB" || true
    # Target commits per source commit: how full the batches were.
    SRC_X1=$(q "$SRC_HOST" bench -c "$XACT_SQL")
    TGT_X1=$(q "$TGT_HOST" wbtarget -c "$XACT_SQL")
    say "commits: source $((SRC_X1 - SRC_X0)), target $((TGT_X1 - TGT_X0)) (source txns per target commit: $(((SRC_X1 - SRC_X0) / (TGT_X1 - TGT_X0 > 0 ? TGT_X1 - TGT_X0 : 1))))"
fi
if [[ $CASE == backlog ]]; then
    TGT_X1=$(q "$TGT_HOST" wbtarget -c "$XACT_SQL")
    say "target commits for the $N source transactions: $((TGT_X1 - TGT_X0))"
fi
if [[ -n "$BEPERF" ]]; then
    kill -INT "$BEPERF" 2>/dev/null || true
    wait "$BEPERF" || true
    perf report -i "$OUT/perf-backend.data" --children --sort sym --stdio -g none 2>/dev/null |
        grep -v "^#" | grep -v "^$" | sed -n 1,200p >"$OUT/report-BE-inclusive.txt"
fi
say "walsender $WS, target backend $BE, walbridge $WB${SB:+, source backends $SB}"
[[ ! -f $OUT/time.txt ]] || say "$(grep -E 'Elapsed|Maximum resident|User time|System time' "$OUT/time.txt" | tr -s ' \t' ' ' | tr '\n' ';')"
[[ ! -f $WORK/pgbench.log ]] || say "pgbench: $(grep -E '^tps' "$WORK/pgbench.log" | head -n 1)"
echo "case=$CASE n=$N walsender=$WS backend=$BE walbridge=$WB source_backends=$SB" >"$OUT/pids.txt"
perf report -i "$OUT/perf.data" --sort comm,pid -n --stdio --no-children -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -n 1,15p |
    awk -v wb="$WB" -v be="$BE" -v ws="$WS" -v sb=",$SB," '{
        split($4, p, ":"); r = ""
        if (p[1] == wb) r = "walbridge"; else if (p[1] == be) r = "target backend"
        else if (p[1] == ws) r = "walsender"; else if (index(sb, "," p[1] ",")) r = "source backend"
        print $0 (r != "" ? "  <- " r : "") }' >"$OUT/report-processes.txt"
perf script -i "$OUT/perf.data" -F pid,time,ip,sym,dso >"$OUT/script.txt" 2>/dev/null
for who in WB BE WS; do
    pid=${!who}
    [[ -n "$pid" ]] || continue
    python3 "$ROOT/tests/bench/perf_top.py" "$pid" 40 <"$OUT/script.txt" >"$OUT/report-$who.txt"
done
cat "$OUT/report-processes.txt"
for who in WB BE WS; do
    [[ -f "$OUT/report-$who.txt" ]] || continue
    echo "== $who"
    sed -n 1,25p "$OUT/report-$who.txt"
done
if [[ -f "$OUT/report-BE-inclusive.txt" ]]; then
    echo "== BE, inclusive (children)"
    sed -n 1,40p "$OUT/report-BE-inclusive.txt"
fi
