#!/usr/bin/env bash
# tests/format.sh - the C sources against .clang-format (clang-format 14,
# Debian 12's).
#
#   tests/format.sh           reformat every tracked .c/.h in place
#   tests/format.sh --check   change nothing; list the files that differ
#                             and exit 1 if any does (ctest: lint.format)
# Without clang-format it fails: a check that cannot run is not a pass.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if ! command -v clang-format >/dev/null 2>&1; then
    echo "format: clang-format not found (tests/run.sh installs it)" >&2
    exit 1
fi
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null ||
    find cmd lib include tests -name '*.[ch]')
if [[ ${1:-} == --check ]]; then
    # One process for all files (one per file took 20 s of the suite's
    # CPU); each file that differs is named in its diagnostics.
    out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
    mapfile -t bad < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' <<<"$out" | sort -u)
    if ((rc != 0 && ${#bad[@]} == 0)); then
        echo "format: clang-format failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    if ((${#bad[@]})); then
        echo "format: ${#bad[@]} file(s) differ from .clang-format" \
            "(run tests/format.sh):" >&2
        printf '  %s\n' "${bad[@]}" >&2
        exit 1
    fi
    echo "format: ${#files[@]} files match .clang-format"
    exit 0
fi
clang-format -i "${files[@]}"
