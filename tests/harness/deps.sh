# shellcheck shell=bash
# tests/harness/deps.sh - shared by tests/run.sh, deploy/quickstart.sh and
# tests/harness/pg_cluster.sh.  Source it; it only defines functions.
#
#   wb_pg_bindir        print PostgreSQL's server bin directory (initdb,
#                       pg_ctl, postgres, psql, pgbench) or fail
#   wb_python_for_tests print a python3 that has jsonschema and yaml or fail
#   wb_missing_packages print the Debian packages needed to build and test
#                       walbridge that are not installed (one a line)
#   wb_ensure_deps      install the missing packages (apt-get as root, else
#                       sudo), running `apt-get update` only if one is missing

wb_deps_log() { printf '%s\n' "$*" >&2; }

# A directory is a usable PostgreSQL bin dir if it has the server programs
# and the clients the tests use.
wb_pg_bindir_ok() {
    local d=$1 p
    [[ -n "$d" && -d "$d" ]] || return 1
    for p in initdb pg_ctl postgres psql pgbench; do
        [[ -x "$d/$p" ]] || return 1
    done
}

wb_pg_bindir() {
    local d
    if [[ -n "${WB_PG_BINDIR:-}" ]]; then
        if wb_pg_bindir_ok "$WB_PG_BINDIR"; then
            printf '%s\n' "$WB_PG_BINDIR"
            return 0
        fi
        wb_deps_log "WB_PG_BINDIR=$WB_PG_BINDIR does not contain initdb, pg_ctl, postgres, psql and pgbench"
        return 1
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if wb_pg_bindir_ok "$d"; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    # Debian/Ubuntu layout, newest major version first.
    while IFS= read -r d; do
        if wb_pg_bindir_ok "$d"; then
            printf '%s\n' "$d"
            return 0
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
    for d in /usr/pgsql-*/bin /usr/local/pgsql/bin; do
        if wb_pg_bindir_ok "$d"; then
            printf '%s\n' "$d"
            return 0
        fi
    done
    wb_deps_log "cannot find the PostgreSQL server programs (initdb, pg_ctl, postgres, psql, pgbench):" \
        "tried pg_config --bindir and /usr/lib/postgresql/*/bin; install the PostgreSQL server" \
        "(Debian: apt-get install postgresql) or set WB_PG_BINDIR"
    return 1
}

# Print a python3 that can import jsonschema and yaml (the one on PATH,
# else Debian's /usr/bin/python3), or fail.
wb_python_for_tests() {
    local py
    for py in python3 /usr/bin/python3; do
        if command -v "$py" >/dev/null 2>&1 &&
            "$py" -c 'import jsonschema, yaml, psycopg2' >/dev/null 2>&1; then
            command -v "$py"
            return 0
        fi
    done
    return 1
}

wb_missing_packages() {
    local have_pkgconfig=1
    command -v pkg-config >/dev/null 2>&1 || { have_pkgconfig=0; echo pkg-config; }
    if ((have_pkgconfig)); then
        pkg-config --exists libpq || echo libpq-dev
        pkg-config --exists yaml-0.1 || echo libyaml-dev
        pkg-config --exists libuv || echo libuv1-dev
    else
        echo libpq-dev
        echo libyaml-dev
        echo libuv1-dev
    fi
    command -v cmake >/dev/null 2>&1 || echo cmake
    command -v gcc >/dev/null 2>&1 || echo gcc
    command -v make >/dev/null 2>&1 || echo make
    # tests/format.sh (ctest lint.format): the tree against .clang-format.
    command -v clang-format >/dev/null 2>&1 || echo clang-format
    wb_pg_bindir >/dev/null 2>&1 || echo postgresql
    # Used by the integration tests (test_status validates JSON with both;
    # test_deploy_configs validates the example configurations against
    # schemas/walbridge.schema.json with jsonschema, reading YAML with yaml).
    command -v jq >/dev/null 2>&1 || echo jq
    command -v python3 >/dev/null 2>&1 || echo python3
    # Debian's packages serve Debian's interpreter, which may not be the
    # python3 first on PATH (pyenv ...): see wb_python_for_tests.  The
    # schema test needs jsonschema and yaml, the Heroku Connect simulator
    # (tests/harness/hc_simulator.py) psycopg2.
    if ! wb_python_for_tests >/dev/null 2>&1; then
        /usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 || echo python3-jsonschema
        /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || echo python3-yaml
        /usr/bin/python3 -c 'import psycopg2' >/dev/null 2>&1 || echo python3-psycopg2
    fi
    return 0
}

wb_ensure_deps() {
    local -a missing=() sudo=()
    mapfile -t missing < <(wb_missing_packages)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    wb_deps_log "walbridge: missing build/test dependencies: ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        wb_deps_log "walbridge: apt-get not found; install these packages (or their equivalents) by hand: ${missing[*]}"
        return 1
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            wb_deps_log "walbridge: not root and sudo is not available; as root run:" \
                "apt-get update && apt-get install -y ${missing[*]}"
            return 1
        fi
    fi
    wb_deps_log "walbridge: installing: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
    mapfile -t missing < <(wb_missing_packages)
    if ((${#missing[@]} != 0)); then
        wb_deps_log "walbridge: still missing after apt-get install: ${missing[*]}"
        return 1
    fi
}
