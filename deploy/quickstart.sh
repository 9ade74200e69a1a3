#!/usr/bin/env bash
# deploy/quickstart.sh - see walbridge work in two minutes.
#
#   ./deploy/quickstart.sh           interactive: run the demo, then keep
#                                    walbridge and the server running until
#                                    Ctrl-C so you can try changes with psql
#   ./deploy/quickstart.sh --demo    run the demo and exit (also the mode
#                                    when stdin is not a terminal)
#
# It installs missing build dependencies (apt-get; as root or via sudo),
# builds walbridge (skipped when WB_BIN points at a binary), starts a
# throwaway PostgreSQL server in a temp dir (tests/harness/pg_cluster.sh),
# creates the database walbridge_demo with the example schemas (schemas/),
# runs walbridge with deploy/walbridge.example.yaml and makes a few changes
# in portal.users, showing each one arrive in salesforce.account.
# Everything is stopped and removed on exit, also on Ctrl-C.
#
# Environment: WB_BIN (use this binary, do not build), WB_EXAMPLE_CONFIG
# (another config template; default deploy/walbridge.example.yaml).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB=walbridge_demo
WAIT_SECS=60

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

DEMO=0
for arg in "$@"; do
    case "$arg" in
    --demo) DEMO=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument '$arg'" >&2
        echo "usage: $0 [--demo]" >&2
        exit 2
        ;;
    esac
done
[[ -t 0 ]] || DEMO=1

say() { printf '\n== %s\n' "$*"; }
die() {
    printf 'quickstart: ERROR: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=tests/harness/deps.sh
source "$ROOT/tests/harness/deps.sh"
say "checking dependencies"
wb_ensure_deps || die "missing dependencies (see above)"
PG_BINDIR=$(wb_pg_bindir) || die "PostgreSQL server programs not found"
echo "PostgreSQL: $PG_BINDIR"

if [[ -z "${WB_BIN:-}" ]]; then
    say "building walbridge in $ROOT/build"
    cmake -S "$ROOT" -B "$ROOT/build" >/dev/null
    cmake --build "$ROOT/build" -j "$(nproc)" --target walbridge
    WB_BIN=$ROOT/build/walbridge
fi
[[ -x "$WB_BIN" ]] || die "walbridge binary not found: $WB_BIN"
echo "walbridge: $WB_BIN ($("$WB_BIN" --version 2>&1 | head -n 1))"

TEMPLATE=${WB_EXAMPLE_CONFIG:-$ROOT/deploy/walbridge.example.yaml}
[[ -f "$TEMPLATE" ]] || die "example configuration not found: $TEMPLATE"

STATE=$(mktemp -d /tmp/wbqs.XXXXXX)
WB_PID=""
WB_LOG=$STATE/walbridge.log

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n "$WB_PID" ]] && kill -0 "$WB_PID" 2>/dev/null; then
        kill -TERM "$WB_PID" 2>/dev/null
        local deadline=$((SECONDS + 30))
        while kill -0 "$WB_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$WB_PID" 2>/dev/null
        wait "$WB_PID" 2>/dev/null
    fi
    if ((rc != 0)) && [[ -s "$WB_LOG" ]]; then
        echo "----- walbridge log (last 50 lines) -----" >&2
        tail -n 50 "$WB_LOG" >&2
        echo "-----" >&2
    fi
    bash "$ROOT/tests/harness/pg_cluster.sh" stop "$STATE/pg" >/dev/null 2>&1 ||
        echo "quickstart: stopping the server failed" >&2
    rm -rf -- "$STATE"
    echo "quickstart: stopped walbridge and the server, removed $STATE"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "quickstart: state dir $STATE"

say "starting a throwaway PostgreSQL server"
bash "$ROOT/tests/harness/pg_cluster.sh" start "$STATE/pg"
# shellcheck source=/dev/null
source "$STATE/pg/env.sh"

q() { PGAPPNAME=quickstart psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB" "$@"; }
show() {
    PGAPPNAME=quickstart psql -X -v ON_ERROR_STOP=1 -q -P pager=off -P null='(null)' -d "$DB" -c \
        "SELECT external_id__c, firstname, lastname, personemail, phone
         FROM salesforce.account ORDER BY length(external_id__c), external_id__c"
}

say "creating database $DB with the schemas portal, public, salesforce"
PGAPPNAME=quickstart psql -X -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE DATABASE $DB"
PGOPTIONS="-c client_min_messages=warning" q -f "$ROOT/schemas/all.sql"

say "starting walbridge with $TEMPLATE"
export WALBRIDGE_SOURCE="host=$PGHOST port=$PGPORT user=postgres dbname=$DB"
unset WALBRIDGE_TARGET
echo "WALBRIDGE_SOURCE=\"$WALBRIDGE_SOURCE\""
cp "$TEMPLATE" "$STATE/walbridge.yaml"
"$WB_BIN" check -c "$STATE/walbridge.yaml"
"$WB_BIN" run -c "$STATE/walbridge.yaml" >"$WB_LOG" 2>&1 </dev/null &
WB_PID=$!

walbridge_alive() {
    if ! kill -0 "$WB_PID" 2>/dev/null; then
        local rc=0
        wait "$WB_PID" || rc=$?
        WB_PID=""
        die "walbridge exited with code $rc (log: $WB_LOG)"
    fi
}

# wait_for DESCRIPTION SQL EXPECTED
wait_for() {
    local desc=$1 sql=$2 expected=$3 got="" deadline=$((SECONDS + WAIT_SECS))
    while :; do
        got=$(q -c "$sql" 2>&1) || true
        [[ "$got" == "$expected" ]] && break
        walbridge_alive
        ((SECONDS < deadline)) || die "$desc: no result after ${WAIT_SECS}s (got '$got', expected '$expected')"
        sleep 0.2
    done
}

# Changes are captured from the moment the replication slot exists.
wait_for "walbridge creates its replication slot" \
    "SELECT count(*) > 0 FROM pg_replication_slots WHERE database = '$DB'" t
echo "walbridge is running (pid $WB_PID, log $WB_LOG)"

say "step 1: insert two users into portal.users"
mapfile -t ids < <(q <<'SQL'
INSERT INTO portal.users (email, first_name, last_name, phone) VALUES
  ('ada@example.com', 'Ada', 'Lovelace', '+44 20 7946 0001'),
  ('grace@example.com', 'Grace', 'Hopper', '+1 202 555 0102')
RETURNING id;
SQL
)
((${#ids[@]} == 2)) || die "insert returned ${#ids[@]} ids"
ada=${ids[0]} grace=${ids[1]}
wait_for "the two inserts arrive" \
    "SELECT count(*) FROM salesforce.account WHERE external_id__c IN ('$ada', '$grace')" 2
show
echo "-> arrived: 2 inserts (portal.users id -> salesforce.account external_id__c)"

say "step 2: update Ada's phone and email"
q -c "UPDATE portal.users SET phone = '+44 20 7946 0999', email = 'ada.lovelace@example.org' WHERE id = $ada"
wait_for "the update arrives" \
    "SELECT phone || ' ' || personemail FROM salesforce.account WHERE external_id__c = '$ada'" \
    "+44 20 7946 0999 ada.lovelace@example.org"
show
echo "-> arrived: update"

say "step 3: delete Grace"
q -c "DELETE FROM portal.users WHERE id = $grace"
wait_for "the delete arrives" \
    "SELECT count(*) FROM salesforce.account WHERE external_id__c = '$grace'" 0
show
echo "-> arrived: delete"
echo
echo "quickstart: all changes arrived in salesforce.account"

if ((DEMO)); then
    exit 0
fi

cat <<EOF

walbridge and the server are still running. In another terminal, connect with
  $PG_BINDIR/psql -h $PGHOST -p $PGPORT -U postgres $DB
and try for example
  INSERT INTO portal.users (email, first_name, last_name) VALUES ('you@example.com', 'Your', 'Name');
  SELECT external_id__c, firstname, lastname, personemail FROM salesforce.account;
walbridge's log: $WB_LOG
Press Ctrl-C to stop walbridge and the server and remove everything.
EOF
trap 'echo; exit 0' INT
while kill -0 "$WB_PID" 2>/dev/null; do
    sleep 1
done
# Ctrl-C reaches walbridge too (same process group): a graceful stop (exit
# code 0) is the normal end; anything else is an error.
rc=0
wait "$WB_PID" || rc=$?
WB_PID=""
((rc == 0)) || die "walbridge exited with code $rc (log: $WB_LOG)"
echo "walbridge stopped"
