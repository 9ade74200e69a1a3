#!/usr/bin/env bash
# tests/bench/profile.sh - where the time of the bulk identity case goes.
#
#   ./tests/bench/profile.sh [ROWS]     default 1000000
#
# Starts the benchmark's two private clusters (same settings as run.sh),
# loads one transaction of ROWS inserts into bench.items, then runs
# `walbridge run --until now` (identity mapping into the target cluster)
# under a system-wide `perf record -g`, and prints the top symbols (self
# time) of walbridge, of the target backend it writes through and of the
# walsender, plus each process's share of all samples.  Writes
# build-profile/{perf.data,report-*.txt}.  Needs perf and root (or
# kernel.perf_event_paranoid <= 0).  WB_BIN: walbridge binary (default:
# build it, Release with frame pointers, in build-profile/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/harness/deps.sh
source "$ROOT/tests/harness/deps.sh"
ROWS=${1:-1000000}
OUT=$ROOT/build-profile
WORK=$OUT/work
BINDIR=$(wb_pg_bindir)
mkdir -p "$OUT"
say() { printf '[profile] %s\n' "$*" >&2; }

if [[ -z "${WB_BIN:-}" ]]; then
    say "building walbridge (Release, frame pointers) in $OUT/bin"
    cmake -S "$ROOT" -B "$OUT/bin" -DCMAKE_BUILD_TYPE=Release -DWB_TESTS=OFF \
        -DCMAKE_C_FLAGS="-fno-omit-frame-pointer -g" >/dev/null
    cmake --build "$OUT/bin" -j "$(nproc)" --target walbridge >/dev/null
    WB_BIN=$OUT/bin/walbridge
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
"$WB_BIN" run -c "$WORK/wb.yaml" --until now 2>>"$WORK/wb.log" # slot + stored position
say "loading one transaction of $ROWS rows"
q "$SRC_HOST" bench -c "INSERT INTO bench.items (id, payload, n, updated_at)
    SELECT g, md5(g::text) || md5((g + 1)::text), 0, clock_timestamp()
      FROM generate_series(1, $ROWS) g"
q "$SRC_HOST" bench -c CHECKPOINT
q "$TGT_HOST" postgres -c CHECKPOINT

say "walbridge run --until now under perf record -a -g (load: $(cut -d' ' -f1-3 /proc/loadavg))"
perf record -a -g -F 499 -o "$OUT/perf.data" -- \
    /usr/bin/time -v -o "$OUT/time.txt" "$WB_BIN" run -c "$WORK/wb.yaml" --until now \
    2>>"$WORK/wb.log" &
PERF=$!
# The walsender and the apply backend, by application name, while they run.
WS="" BE="" WB=""
for _ in $(seq 1 100); do
    # perf -> /usr/bin/time -> walbridge
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
wait "$PERF"
if [[ -n "$BEPERF" ]]; then
    kill -INT "$BEPERF" 2>/dev/null || true
    wait "$BEPERF" || true
    perf report -i "$OUT/perf-backend.data" --children --sort sym --stdio -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | sed -n 1,60p >"$OUT/report-BE-inclusive.txt"
fi
say "walsender $WS, target backend $BE, walbridge $WB; $(grep -E 'Elapsed|Maximum resident' "$OUT/time.txt" | tr -s ' ' | tr '\n' ';')"
echo "walsender=$WS backend=$BE walbridge=$WB rows=$ROWS" >"$OUT/pids.txt"
perf report -i "$OUT/perf.data" --sort comm,pid -n --stdio --no-children -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -n 1,15p >"$OUT/report-processes.txt"
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
