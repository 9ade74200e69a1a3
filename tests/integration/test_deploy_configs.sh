#!/usr/bin/env bash
# test_deploy_configs: the example configurations are valid, for the JSON
# Schema and for walbridge itself, and the schema and the loader agree.
#   (a) every deploy/walbridge*.yaml and every ```yaml block of README.md
#       validates against schemas/walbridge.schema.json (python3-jsonschema,
#       python3-yaml); a set of edge cases the loader accepts (${VAR} in
#       booleans, durations and counts, yes/On, null sections ...) validates
#       too, and a set of deliberately wrong configurations is rejected, each
#       at the expected place, so that a schema that accepts everything fails
#       this test;
#   (b) `walbridge check -c FILE` exits 0 for every deploy/walbridge*.yaml
#       and README block (WALBRIDGE_SOURCE = the test database, where lib.sh
#       loaded schemas/all.sql, so the examples also match the catalog; a
#       column the catalog lacks must give exit 6, which proves it looked),
#       0 for the accepted edge cases and 3 (invalid configuration) for
#       every wrong one.
# Any other deploy/*.yaml must be listed in NOT_CONFIGS below: a new
# configuration cannot escape validation by its name.
source "$(dirname "$0")/lib.sh"

SCHEMA=$WB_SOURCE_DIR/schemas/walbridge.schema.json
VALIDATE=$WB_SOURCE_DIR/tests/integration/validate_schema.py
README=$WB_SOURCE_DIR/README.md
NOT_CONFIGS=(docker-compose.yaml kubernetes.yaml)
# The README must keep at least this many YAML examples (the mapping
# language section has most of them): a broken extraction finds fewer.
README_MIN_BLOCKS=9

# shellcheck source=tests/harness/deps.sh
source "$WB_SOURCE_DIR/tests/harness/deps.sh"
PY=$(wb_python_for_tests) ||
    fail "no python3 with the modules jsonschema and yaml (Debian: python3-jsonschema python3-yaml; tests/harness/deps.sh installs them)"
echo "python: $PY (jsonschema $("$PY" -c 'import importlib.metadata as m; print(m.version("jsonschema"))' 2>/dev/null || echo '?'))"
[[ -f "$SCHEMA" ]] || fail "$SCHEMA is missing"
"$PY" -c 'import json, sys, jsonschema; jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$SCHEMA" ||
    fail "$SCHEMA is not a valid draft 2020-12 JSON Schema"
ok "schemas/walbridge.schema.json is a valid draft 2020-12 schema"

export WALBRIDGE_SOURCE="host=$PGHOST port=$PGPORT user=postgres dbname=$WB_DB"
unset WALBRIDGE_TARGET

# validate OUT ARGS...: run the validator, output to OUT; returns its code.
validate() {
    local out=$1 rc=0
    shift
    "$PY" "$VALIDATE" "$SCHEMA" "$@" >"$out" 2>&1 || rc=$?
    return "$rc"
}

# check_config FILE EXPECTED_RC WHAT [WORD]: walbridge check -c FILE exits
# EXPECTED_RC (and its stderr contains WORD).
check_config() {
    local file=$1 expected=$2 what=$3 word=${4:-} rc=0 out
    out=$WB_WORK/check.$(basename "$file").err
    wb_exec "$out" 60 check -c "$file" || rc=$?
    if [[ "$rc" != "$expected" ]]; then
        echo "----- $file -----" >&2
        cat "$file" >&2
        echo "----- walbridge check -c $file: stderr -----" >&2
        cat "$out" "$out.stdout" >&2
        echo "-----" >&2
        fail "walbridge check -c $(basename "$file") ($what): exit code $rc, expected $expected"
    fi
    ok "walbridge check -c $(basename "$file") ($what): exit code $rc"
    if [[ -n "$word" ]]; then
        assert_contains "$out" "$word" "walbridge check -c $(basename "$file"): the error mentions $word"
    fi
}

echo "-- the configurations in deploy/"
CONFIGS=()
for f in "$WB_SOURCE_DIR"/deploy/*.yaml "$WB_SOURCE_DIR"/deploy/*.yml; do
    [[ -e "$f" ]] || continue
    base=$(basename "$f")
    if [[ "$base" == walbridge*.yaml ]]; then
        CONFIGS+=("$f")
        continue
    fi
    known=0
    for n in "${NOT_CONFIGS[@]}"; do [[ "$n" == "$base" ]] && known=1; done
    ((known)) || fail "deploy/$base is neither a walbridge configuration (name it walbridge*.yaml) nor listed in NOT_CONFIGS of $0"
done
for want in walbridge.example.yaml walbridge.three-schemas.yaml; do
    [[ -f "$WB_SOURCE_DIR/deploy/$want" ]] || fail "deploy/$want is missing"
done
((${#CONFIGS[@]} >= 2)) || fail "found only ${#CONFIGS[@]} deploy/walbridge*.yaml"
ok "${#CONFIGS[@]} configurations: ${CONFIGS[*]##*/}"
for f in "${CONFIGS[@]}"; do
    first=$(head -n 1 "$f")
    assert_eq "$first" "# yaml-language-server: \$schema=../schemas/walbridge.schema.json" \
        "deploy/$(basename "$f") names the schema for editors on its first line"
done

echo "-- (a) the JSON Schema accepts the examples"
rc=0
validate "$WB_WORK/deploy.out" "${CONFIGS[@]}" || rc=$?
cat "$WB_WORK/deploy.out"
((rc == 0)) || fail "deploy/ configurations do not validate against the schema (exit $rc)"
assert_eq "$(grep -c '^valid ' "$WB_WORK/deploy.out")" "${#CONFIGS[@]}" "every deploy/walbridge*.yaml validates"

mkdir -p "$WB_WORK/readme"
rc=0
validate "$WB_WORK/readme.out" --readme "$README" --write-dir "$WB_WORK/readme" || rc=$?
cat "$WB_WORK/readme.out"
((rc == 0)) || fail "README.md's YAML examples do not validate against the schema (exit $rc)"
assert_ge "$(grep -c '^valid ' "$WB_WORK/readme.out")" "$README_MIN_BLOCKS" "README.md's YAML examples validate"

# ---------------------------------------------------------------- edge cases
CASES=$WB_WORK/cases
mkdir -p "$CASES"
# has_key TEXT KEY: TEXT has a line starting with KEY: (not indented).
has_key() { printf '%s\n' "$1" | grep -qE "^$2:"; }
# write_case NAME MAPPING_TEXT [SECTIONS]: a minimal valid configuration
# whose single mapping gets MAPPING_TEXT (indented under it; from, to and
# key are added unless given) and whose source gets SECTIONS (which may
# also open target: and log:).
write_case() {
    local name=$1 extra=$2 sections=${3:-}
    {
        echo "source:"
        echo "  conninfo: \"\${WALBRIDGE_SOURCE}\""
        printf '%s\n' "$sections" | grep -qE '^  slot:' || echo "  slot: $WB_SLOT"
        echo "  publication: $WB_PUB"
        if [[ -n "$sections" ]]; then
            printf '%s\n' "$sections"
        fi
        echo "mappings:"
        echo "  - name: $name"
        has_key "$extra" from || echo "    from: portal.users"
        has_key "$extra" to || echo "    to: salesforce.account"
        has_key "$extra" key || has_key "$extra" plugin || [[ "$extra" == *'# no key'* ]] ||
            echo "    key: { id: external_id__c }"
        if [[ -n "$extra" ]]; then
            printf '%s\n' "$extra" | sed 's/^/    /'
        fi
    } >"$CASES/$name.yaml"
}

# Accepted by the loader, so they must be accepted by the schema.
GOOD=()
good() {
    write_case "$@"
    GOOD+=("$CASES/$1.yaml")
}
export WB_T_ENABLED=yes WB_T_INTERVAL=2s WB_T_TXNS=50 WB_T_LEVEL=debug WB_T_PART=-1
good g_minimal ""
good g_env_values 'enabled: "${WB_T_ENABLED}"
skip_unchanged: "${WB_T_SKIP:-false}"
values:
  lastname: { split: last_name, sep: " ", part: "${WB_T_PART}" }' \
'  status_interval: "${WB_T_INTERVAL}"
  create_slot: "${WB_T_CREATE:-true}"
target:
  batch_max_txns: "${WB_T_TXNS}"
  batch_latency: "${WB_T_LATENCY:-5ms}"
log:
  level: "${WB_T_LEVEL}"'
good g_yaml11_booleans 'enabled: On
skip_unchanged: NO' \
'  create_publication: yes
  streaming: "False"
target:
  synchronous_commit: off
  set_based: TRUE'
good g_numbers_and_case 'on_truncate: IGNORE
on_delete: Delete
operations: [Insert, update]' \
'  status_interval: 250
target:
  progress: Table
  batch_max_txns: 1
  batch_latency: 0
log:
  level: WARNING'
good g_null_sections 'columns:
values:' \
'target:
log:'
good g_expressions 'columns: { first_name: firstname }
values:
  name: { concat: [{ trim: first_name }, { upper: last_name }] }
  personemail: { coalesce: [{ lower: email }, { const: null }] }
  phone: { map: { cast: phone, to: text }, values: { "": ~, "n/a": null }, else: phone }
  status__c: { map: status, values: { active: Active } , else: { const: 1 } }
  lastname: { split: last_name, sep: "-", part: 2 }
  accountsource: { const: true }
  sfid: { lookup: { table: salesforce.account, match: external_id__c, column: sfid }, from: { cast: id, to: text } }'
good g_soft_and_filter 'filter: "status IN ('"'active'"', '"'trial'"') AND NOT (email IS NULL OR phone = '"''"')"
on_delete: { soft: { isdeleted: true, _hc_lastop: DELETED } }
on_filter_out: ignore'
good g_conflict 'columns: { email: personemail, phone: phone }
operations: [insert]   # updates would need REPLICA IDENTITY FULL on portal.users
conflict:
  resolve: last_writer_wins
  by: { source: updated_at, target: systemmodstamp }
  owners: { source: [personemail], target: [phone] }'
good g_quoted_names 'from: '"'"'"portal"."users"'"'"'
to: SALESFORCE.Account
key: { id: external_id__c }'

# Each wrong configuration: NAME, the JSON path the schema must reject it
# at, a text walbridge's message must contain (so that check rejects it for
# the same reason), the mapping text and the source sections.
BAD=()
bad() {
    local name=$1 path=$2 word=$3
    write_case "$name" "$4" "${5:-}"
    BAD+=("$name|$path|$word")
}
bad b_unknown_source_key "/source" '"slots"' "" '  slots: 2'
bad b_unknown_mapping_key "/mappings/0" '"filters"' 'filters: "id > 1"'
bad b_unknown_function "/mappings/0/values/personemail" 'no function' 'values: { personemail: { lowercase: email } }'
bad b_two_functions "/mappings/0/values/personemail" 'two functions' 'values: { personemail: { lower: email, trim: email } }'
bad b_nested_lookup "/mappings/0/values/sfid" '"lookup"' 'values: { sfid: { lower: { lookup: { table: salesforce.account, match: external_id__c, column: sfid }, from: id } } }'
bad b_lookup_no_from "/mappings/0/values/sfid" '"from"' 'values: { sfid: { lookup: { table: salesforce.account, match: external_id__c, column: sfid } } }'
bad b_split_no_part "/mappings/0/values/lastname" '"part"' 'values: { lastname: { split: last_name, sep: " " } }'
bad b_split_part_zero "/mappings/0/values/lastname" '"part"' 'values: { lastname: { split: last_name, sep: " ", part: 0 } }'
bad b_cast_unknown_type "/mappings/0/values/name" '"varchar"' 'values: { name: { cast: id, to: varchar } }'
bad b_map_no_values "/mappings/0/values/status__c" '"values"' 'values: { status__c: { map: status, else: status } }'
bad b_const_not_scalar "/mappings/0/values/name" '"const"' 'values: { name: { const: [a, b] } }'
bad b_null_expression "/mappings/0/values/name" 'expression' 'values: { name: }'
bad b_empty_soft "/mappings/0/on_delete" '"soft"' 'on_delete: { soft: {} }'
bad b_soft_expression "/mappings/0/on_delete" '"soft"' 'on_delete: { soft: { isdeleted: { const: true } } }'
bad b_delete_word "/mappings/0/on_delete" '"remove"' 'on_delete: remove'
bad b_operation "/mappings/0/operations/1" '"upsert"' 'operations: [insert, upsert]'
bad b_builtin_two_targets "/mappings/0/to" 'one table' 'to: [salesforce.account, salesforce.contact]'
bad b_plugin_with_key "/mappings/0" '"key"' 'to: [salesforce.account]
key: { id: external_id__c }
plugin: { path: plugins/none.so }'
bad b_filter_out_no_filter "/mappings/0" '"filter"' 'on_filter_out: delete'
bad b_no_key "/mappings/0" '"key"' '# no key
columns: { email: personemail }'
bad b_boolean "/mappings/0/enabled" '"maybe"' 'enabled: maybe'
bad b_duration "/source/status_interval" '"10 seconds"' "" '  status_interval: 10 seconds'
bad b_duration_range "/target/batch_latency" '"batch_latency"' "" 'target:
  batch_latency: 20000'
bad b_table_name "/mappings/0/from" '"users"' 'from: users'
bad b_filter_list "/mappings/0/filter" '"filter"' "filter: [id > 1]"
bad b_conflict_policy "/mappings/0/conflict/resolve" '"newest_wins"' 'conflict: { resolve: newest_wins }'
bad b_conflict_no_by "/mappings/0/conflict" '"by"' 'conflict: { resolve: last_writer_wins }'
bad b_conflict_by_not_lww "/mappings/0/conflict/by" '"by"' 'conflict: { resolve: target_wins, by: commit_time }'
bad b_conflict_owners_key "/mappings/0/conflict/owners" '"sources"' 'conflict: { owners: { sources: [phone] } }'
bad b_slot_name "/source/slot" '"Walbridge-1"' "" '  slot: Walbridge-1'
# A top-level key nobody reads (a typo of mappings) is not ignored.
write_case b_top_level_key ""
echo "mapping: []" >>"$CASES/b_top_level_key.yaml"
BAD+=("b_top_level_key|/|\"mapping\"")
echo "-- (a) edge cases the loader accepts validate"
rc=0
validate "$WB_WORK/good.out" "${GOOD[@]}" || rc=$?
cat "$WB_WORK/good.out"
((rc == 0)) || fail "the schema rejects configurations walbridge accepts (exit $rc; see above)"
assert_eq "$(grep -c '^valid ' "$WB_WORK/good.out")" "${#GOOD[@]}" "all ${#GOOD[@]} accepted edge cases validate"

echo "-- (a) wrong configurations are rejected by the schema"
for c in "${BAD[@]}"; do
    IFS='|' read -r name path _ <<<"$c"
    rc=0
    validate "$WB_WORK/$name.out" "$CASES/$name.yaml" || rc=$?
    if ((rc != 1)); then
        echo "----- $CASES/$name.yaml -----" >&2
        cat "$CASES/$name.yaml" >&2
        echo "----- validator output -----" >&2
        cat "$WB_WORK/$name.out" >&2
        fail "schema: $name: validator exit code $rc, expected 1 (invalid)"
    fi
    # At PATH or below it (jsonschema versions differ on where some errors
    # are reported, e.g. a false schema under if/then).
    if ! grep -qF -e "invalid $CASES/$name.yaml: $path:" -e "invalid $CASES/$name.yaml: ${path%/}/" "$WB_WORK/$name.out"; then
        echo "----- $CASES/$name.yaml -----" >&2
        cat "$CASES/$name.yaml" >&2
        echo "----- validator output -----" >&2
        cat "$WB_WORK/$name.out" >&2
        fail "schema: $name: rejected, but not at (or below) $path"
    fi
    ok "schema rejects $name at $path: $(sed -n 's/^invalid [^:]*: [^:]*: //p' "$WB_WORK/$name.out" | head -n 1 | cut -c1-100)"
done

echo "-- (b) walbridge check accepts the examples (against the test database's catalog)"
for f in "${CONFIGS[@]}"; do
    check_config "$f" 0 "deploy/$(basename "$f")"
done
# The README's "Three writers" examples (conflict:) need what
# schemas/bidirectional.sql sets, as the README says.
wb_psql -f "$WB_SOURCE_DIR/schemas/bidirectional.sql" >/dev/null
n=0
for f in "$WB_WORK"/readme/readme_*.yaml; do
    [[ -e "$f" ]] || fail "the validator wrote no README blocks to $WB_WORK/readme"
    if grep -q '"plugin"' "$f"; then
        # The plugin's shared object named in the README does not exist.
        b=${f##*readme_}; echo "not checked with walbridge (names a plugin): README.md:${b%.yaml}"
        continue
    fi
    check_config "$f" 0 "README.md block at line $(basename "$f" .yaml | sed 's/readme_//')"
    n=$((n + 1))
done
assert_ge "$n" "$((README_MIN_BLOCKS - 2))" "README blocks checked by walbridge"

echo "-- (b) walbridge check compares with the catalog (so the examples' exit 0 means they match it)"
write_case c_no_such_column 'columns: { nosuch: phone }'
rc=0
validate "$WB_WORK/catalog.out" "$CASES/c_no_such_column.yaml" || rc=$?
((rc == 0)) || { cat "$WB_WORK/catalog.out" >&2; fail "the schema rejects c_no_such_column, which only the catalog can refuse"; }
check_config "$CASES/c_no_such_column.yaml" 6 "a source column the catalog does not have" '"nosuch"'

echo "-- (b) walbridge check agrees with the schema on the edge cases"
for f in "${GOOD[@]}"; do
    check_config "$f" 0 "accepted edge case"
done
for c in "${BAD[@]}"; do
    IFS='|' read -r name _ word <<<"$c"
    check_config "$CASES/$name.yaml" 3 "wrong configuration" "$word"
done
