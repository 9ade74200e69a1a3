/*
 * test_config.c - the YAML configuration: values, defaults, environment
 * substitution, and for every class of error the exact file:line:column and
 * a message naming the offending key or value.
 *
 * Most tests use wb_config_load_buffer with the name "config.yaml"; one
 * loads a temporary file, one the shipped deploy/walbridge.example.yaml, and
 * one a missing file.  Every loaded config is freed, so that a run under
 * ASan/LeakSanitizer also checks that no success or error path leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/expr_ast.h"
#include "config/config.h"
#include "walbridge/plugin.h"
#include "wbtest.h"

#define NAME "config.yaml"

/* A valid source section (lines 1-2) and mappings section (5 lines). */
#define SRC                                                                    \
    "source:\n"                                                                \
    "  conninfo: host=src\n"
#define MAPS                                                                   \
    "mappings:\n"                                                              \
    "  - name: m\n"                                                            \
    "    from: a.b\n"                                                          \
    "    to: c.d\n"                                                            \
    "    key: {id: id}\n"

/* The example from the design, verbatim. */
static const char example[] =
    "source:\n"
    "  conninfo: \"${WALBRIDGE_SOURCE}\"        # any libpq conninfo or URI\n"
    "  slot: walbridge\n"
    "  publication: walbridge\n"
    "  schemas: [portal, public, salesforce]\n"
    "target:\n"
    "  conninfo: \"${WALBRIDGE_TARGET:-}\"      # empty: same database as "
    "the source, separate connection\n"
    "mappings:\n"
    "  - name: users_to_accounts\n"
    "    from: portal.users\n"
    "    to: salesforce.account\n"
    "    key: { id: external_id__c }          # source column: target "
    "column\n"
    "    columns: { email: personemail, first_name: firstname, last_name: "
    "lastname, phone: phone }\n";

static int load(const char *yaml, wb_config **cfg, wb_error *err)
{
    return wb_config_load_buffer(yaml, strlen(yaml), NAME, cfg, err);
}

/*
 * Expect load to fail with code at line:col and a message containing
 * needle; err receives the report for further checks.
 */
#define CHECK_FAILS(yaml, err, code_, line_, col_, needle)                     \
    do {                                                                       \
        wb_config *cf_ = NULL;                                                 \
        int rc_ = load((yaml), &cf_, &(err));                                  \
        WB_CHECK_INT_EQ(rc_, (code_));                                         \
        WB_CHECK(cf_ == NULL);                                                 \
        WB_CHECK_INT_EQ((err).code, (code_));                                  \
        WB_CHECK_STR_EQ((err).file, NAME);                                     \
        WB_CHECK_INT_EQ((err).line, (line_));                                  \
        WB_CHECK_INT_EQ((err).col, (col_));                                    \
        WB_CHECK_STR_CONTAINS((err).message, (needle));                        \
        wb_config_free(cf_);                                                   \
    } while (0)

/* ------------------------------------------------------------------ */
/* values and defaults                                                 */
/* ------------------------------------------------------------------ */

static void check_example_values(const wb_config *c)
{
    const wb_config_mapping *m;

    WB_CHECK_STR_EQ(c->source.conninfo, "host=src.example dbname=app");
    WB_CHECK_STR_EQ(c->source.slot, "walbridge");
    WB_CHECK_STR_EQ(c->source.publication, "walbridge");
    WB_CHECK_INT_EQ(c->source.nschemas, 3);
    if (c->source.nschemas == 3) {
        WB_CHECK_STR_EQ(c->source.schemas[0], "portal");
        WB_CHECK_STR_EQ(c->source.schemas[1], "public");
        WB_CHECK_STR_EQ(c->source.schemas[2], "salesforce");
    }
    WB_CHECK(c->source.create_publication);
    WB_CHECK(c->source.create_slot);
    WB_CHECK_INT_EQ(c->source.status_interval_ms, 10000);

    WB_CHECK_STR_EQ(c->target.conninfo, "");
    WB_CHECK_INT_EQ(c->target.progress, WB_PROGRESS_AUTO);
    WB_CHECK_STR_EQ(c->target.origin, "walbridge_walbridge");
    WB_CHECK_STR_EQ(c->target.progress_schema, "walbridge");
    WB_CHECK_STR_EQ(c->target.progress_table, "progress");
    WB_CHECK_STR_EQ(c->log.level, "info");
    WB_CHECK(!c->source.streaming);
    WB_CHECK_INT_EQ(c->target.batch_max_txns, 1000);
    WB_CHECK_INT_EQ(c->target.batch_latency_ms, 10);

    WB_CHECK_INT_EQ(c->nmappings, 1);
    if (c->nmappings != 1)
        return;
    m = &c->mappings[0];
    WB_CHECK_STR_EQ(m->name, "users_to_accounts");
    WB_CHECK(m->enabled);
    WB_CHECK_STR_EQ(m->from.schema, "portal");
    WB_CHECK_STR_EQ(m->from.table, "users");
    WB_CHECK_STR_EQ(m->to.schema, "salesforce");
    WB_CHECK_STR_EQ(m->to.table, "account");
    WB_CHECK_INT_EQ(m->nkeys, 1);
    if (m->nkeys == 1) {
        WB_CHECK_STR_EQ(m->keys[0].from, "id");
        WB_CHECK_STR_EQ(m->keys[0].to, "external_id__c");
    }
    WB_CHECK_INT_EQ(m->ncolumns, 4);
    if (m->ncolumns == 4) {
        WB_CHECK_STR_EQ(m->columns[0].from, "email");
        WB_CHECK_STR_EQ(m->columns[0].to, "personemail");
        WB_CHECK_STR_EQ(m->columns[1].from, "first_name");
        WB_CHECK_STR_EQ(m->columns[1].to, "firstname");
        WB_CHECK_STR_EQ(m->columns[2].from, "last_name");
        WB_CHECK_STR_EQ(m->columns[2].to, "lastname");
        WB_CHECK_STR_EQ(m->columns[3].from, "phone");
        WB_CHECK_STR_EQ(m->columns[3].to, "phone");
    }
    WB_CHECK_INT_EQ(m->on_delete.action, WB_ON_DELETE_DELETE);
    WB_CHECK_INT_EQ(m->on_truncate, WB_ON_TRUNCATE_IGNORE);
}

static void test_example(void)
{
    wb_config *c = NULL;
    wb_error err;
    const wb_config_mapping *m;

    setenv("WALBRIDGE_SOURCE", "host=src.example dbname=app", 1);
    unsetenv("WALBRIDGE_TARGET");
    WB_CHECK_INT_EQ(load(example, &c, &err), 0);
    WB_CHECK_INT_EQ(err.code, 0);
    if (!c)
        return;
    WB_CHECK_STR_EQ(c->path, NAME);
    check_example_values(c);

    /* Positions kept for later (catalog) errors. */
    m = &c->mappings[0];
    WB_CHECK_INT_EQ(m->pos.line, 9);
    WB_CHECK_INT_EQ(m->pos.col, 5);
    WB_CHECK_INT_EQ(m->from.pos.line, 10);
    WB_CHECK_INT_EQ(m->from.pos.col, 11);
    WB_CHECK_INT_EQ(m->to.pos.line, 11);
    WB_CHECK_INT_EQ(m->to.pos.col, 9);
    WB_CHECK_INT_EQ(m->keys[0].pos.line, 12);
    WB_CHECK_INT_EQ(m->keys[0].pos.col, 12);
    WB_CHECK_INT_EQ(m->columns[0].pos.line, 13);
    WB_CHECK_INT_EQ(m->columns[0].pos.col, 16);
    WB_CHECK_INT_EQ(m->columns[1].pos.line, 13);
    WB_CHECK_INT_EQ(m->columns[1].pos.col, 36);
    wb_config_free(c);

    /* WALBRIDGE_TARGET set: used. */
    setenv("WALBRIDGE_TARGET", "host=tgt", 1);
    c = NULL;
    WB_CHECK_INT_EQ(load(example, &c, &err), 0);
    if (c)
        WB_CHECK_STR_EQ(c->target.conninfo, "host=tgt");
    wb_config_free(c);
    unsetenv("WALBRIDGE_TARGET");
    unsetenv("WALBRIDGE_SOURCE");
}

/* The shipped example file parses to the same values. */
static void test_example_file(void)
{
    char path[4096];
    const char *suffix = "tests/unit/test_config.c";
    const char *here = __FILE__;
    size_t n = strlen(here), sl = strlen(suffix);
    wb_config *c = NULL;
    wb_error err;
    int rc;

    if (n >= sl && strcmp(here + n - sl, suffix) == 0)
        snprintf(path, sizeof(path), "%.*sdeploy/walbridge.example.yaml",
                 (int)(n - sl), here);
    else
        snprintf(path, sizeof(path), "deploy/walbridge.example.yaml");
    setenv("WALBRIDGE_SOURCE", "host=src.example dbname=app", 1);
    unsetenv("WALBRIDGE_TARGET");
    rc = wb_config_load(path, &c, &err);
    WB_CHECK_INT_EQ(rc, 0);
    if (rc)
        printf("  %s:%d:%d: %s\n", err.file, err.line, err.col, err.message);
    if (c) {
        WB_CHECK_STR_EQ(c->path, path);
        check_example_values(c);
    }
    wb_config_free(c);
    unsetenv("WALBRIDGE_SOURCE");
}

static void test_minimal_defaults(void)
{
    wb_config *c = NULL;
    wb_error err;

    WB_CHECK_INT_EQ(load(SRC MAPS, &c, &err), 0);
    if (!c)
        return;
    WB_CHECK_STR_EQ(c->source.conninfo, "host=src");
    WB_CHECK_STR_EQ(c->source.slot, "walbridge");
    WB_CHECK_STR_EQ(c->source.publication, "walbridge");
    WB_CHECK_INT_EQ(c->source.nschemas, 3);
    if (c->source.nschemas == 3) {
        WB_CHECK_STR_EQ(c->source.schemas[0], "portal");
        WB_CHECK_STR_EQ(c->source.schemas[1], "public");
        WB_CHECK_STR_EQ(c->source.schemas[2], "salesforce");
    }
    WB_CHECK(c->source.create_publication);
    WB_CHECK(c->source.create_slot);
    WB_CHECK_INT_EQ(c->source.status_interval_ms, 10000);
    WB_CHECK_STR_EQ(c->target.conninfo, "");
    WB_CHECK_INT_EQ(c->target.progress, WB_PROGRESS_AUTO);
    WB_CHECK_STR_EQ(c->target.origin, "walbridge_walbridge");
    WB_CHECK_STR_EQ(c->target.progress_schema, "walbridge");
    WB_CHECK_STR_EQ(c->target.progress_table, "progress");
    WB_CHECK_STR_EQ(c->log.level, "info");
    WB_CHECK_INT_EQ(c->nmappings, 1);
    WB_CHECK_INT_EQ(c->mappings[0].ncolumns, 0);
    WB_CHECK(c->mappings[0].columns == NULL);
    WB_CHECK_INT_EQ(c->mappings[0].nkeys, 1);
    WB_CHECK_INT_EQ(c->mappings[0].pos.line, 4);
    WB_CHECK_INT_EQ(c->mappings[0].pos.col, 5);
    wb_config_free(c);
}

static void test_all_options(void)
{
    static const char yaml[] =
        "source:\n"
        "  conninfo: postgresql://u@src/app\n"
        "  slot: cdc_1\n"
        "  publication: MyPub\n"
        "  schemas:\n"
        "    - sales\n"
        "    - Crm\n"
        "  create_publication: no\n"
        "  create_slot: Off\n"
        "  status_interval: 250ms\n"
        "target:\n"
        "  conninfo: host=tgt\n"
        "  progress: TABLE\n"
        "  progress_schema: ops\n"
        "  progress_table: wb_progress\n"
        "log:\n"
        "  level: Debug\n"
        "mappings:\n"
        "  - name: orders\n"
        "    enabled: false\n"
        "    from: Sales.Orders\n"
        "    to: '\"Crm\".\"Order.Lines\"'\n"
        "    key: {order_id: OrderId, line_no: \"LineNo\"}\n"
        "    columns: {}\n"
        "    on_delete: ignore\n"
        "    on_truncate: truncate\n"
        "  - name: customers\n"
        "    from: sales.customers\n"
        "    to: crm.customers\n"
        "    key:\n"
        "      id: id\n"
        "    columns:\n"
        "      id: legacy_id\n"
        "      Name: \"FullName\"\n";
    wb_config *c = NULL;
    wb_error err;
    const wb_config_mapping *m;

    WB_CHECK_INT_EQ(load(yaml, &c, &err), 0);
    if (!c) {
        printf("  %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    WB_CHECK_STR_EQ(c->source.conninfo, "postgresql://u@src/app");
    WB_CHECK_STR_EQ(c->source.slot, "cdc_1");
    WB_CHECK_STR_EQ(c->source.publication, "MyPub"); /* literal */
    WB_CHECK_INT_EQ(c->source.nschemas, 2);
    WB_CHECK_STR_EQ(c->source.schemas[0], "sales");
    WB_CHECK_STR_EQ(c->source.schemas[1], "Crm"); /* literal */
    WB_CHECK(!c->source.create_publication);
    WB_CHECK(!c->source.create_slot);
    WB_CHECK_INT_EQ(c->source.status_interval_ms, 250);
    WB_CHECK_STR_EQ(c->target.conninfo, "host=tgt");
    WB_CHECK_INT_EQ(c->target.progress, WB_PROGRESS_TABLE);
    WB_CHECK_STR_EQ(c->target.origin, "walbridge_cdc_1"); /* from slot */
    WB_CHECK_STR_EQ(c->target.progress_schema, "ops");
    WB_CHECK_STR_EQ(c->target.progress_table, "wb_progress");
    WB_CHECK_STR_EQ(c->log.level, "debug");

    WB_CHECK_INT_EQ(c->nmappings, 2);
    m = &c->mappings[0];
    WB_CHECK_STR_EQ(m->name, "orders");
    WB_CHECK(!m->enabled);
    WB_CHECK_STR_EQ(m->from.schema, "sales"); /* folded */
    WB_CHECK_STR_EQ(m->from.table, "orders");
    WB_CHECK_STR_EQ(m->to.schema, "Crm"); /* quoted: kept */
    WB_CHECK_STR_EQ(m->to.table, "Order.Lines");
    WB_CHECK_INT_EQ(m->nkeys, 2);
    WB_CHECK_STR_EQ(m->keys[0].from, "order_id");
    WB_CHECK_STR_EQ(m->keys[0].to, "OrderId"); /* columns: not folded */
    WB_CHECK_STR_EQ(m->keys[1].from, "line_no");
    WB_CHECK_STR_EQ(m->keys[1].to, "LineNo");
    WB_CHECK_INT_EQ(m->ncolumns, 0);
    WB_CHECK_INT_EQ(m->on_delete.action, WB_ON_DELETE_IGNORE);
    WB_CHECK_INT_EQ(m->on_truncate, WB_ON_TRUNCATE_TRUNCATE);

    m = &c->mappings[1];
    WB_CHECK_STR_EQ(m->name, "customers");
    WB_CHECK(m->enabled);
    WB_CHECK_INT_EQ(m->pos.line, 27);
    WB_CHECK_INT_EQ(m->nkeys, 1);
    WB_CHECK_INT_EQ(m->keys[0].pos.line, 31);
    WB_CHECK_INT_EQ(m->keys[0].pos.col, 7);
    /* A source column may be both key and column. */
    WB_CHECK_INT_EQ(m->ncolumns, 2);
    WB_CHECK_STR_EQ(m->columns[0].from, "id");
    WB_CHECK_STR_EQ(m->columns[0].to, "legacy_id");
    WB_CHECK_STR_EQ(m->columns[1].from, "Name");
    WB_CHECK_STR_EQ(m->columns[1].to, "FullName");
    WB_CHECK_INT_EQ(m->columns[1].pos.line, 34);
    WB_CHECK_INT_EQ(m->on_delete.action, WB_ON_DELETE_DELETE);
    wb_config_free(c);
}

/* Optional sections may be left empty (null). */
static void test_null_optional_sections(void)
{
    wb_config *c = NULL;
    wb_error err;

    WB_CHECK_INT_EQ(load(SRC "target:\nlog:\n" MAPS "    columns:\n", &c, &err),
                    0);
    if (c) {
        WB_CHECK_STR_EQ(c->target.conninfo, "");
        WB_CHECK_STR_EQ(c->log.level, "info");
        WB_CHECK_INT_EQ(c->mappings[0].ncolumns, 0);
    }
    wb_config_free(c);
}

/* ------------------------------------------------------------------ */
/* environment substitution                                            */
/* ------------------------------------------------------------------ */

static void test_env_substitution(void)
{
    static const char yaml[] =
        "source:\n"
        "  conninfo: host=${WB_T_HOST} port=${WB_T_PORT:-5432} pw=a$$b$c\n"
        "  slot: '${WB_T_SLOT:-s1}'\n"
        "  publication: \"${WB_T_EMPTY:-pub_default}\"\n"
        "  create_slot: ${WB_T_BOOL:-false}\n"
        "  status_interval: ${WB_T_IVAL}\n"
        "target:\n"
        "  conninfo: \"${WB_T_EMPTY}\"\n"
        "  origin: ${WB_T_HOST:-unused}_origin\n" MAPS;
    wb_config *c = NULL;
    wb_error err;

    setenv("WB_T_HOST", "db1", 1);
    unsetenv("WB_T_PORT");
    unsetenv("WB_T_SLOT");
    setenv("WB_T_EMPTY", "", 1);
    unsetenv("WB_T_BOOL");
    setenv("WB_T_IVAL", "2s", 1);
    WB_CHECK_INT_EQ(load(yaml, &c, &err), 0);
    if (!c) {
        printf("  %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    WB_CHECK_STR_EQ(c->source.conninfo, "host=db1 port=5432 pw=a$b$c");
    WB_CHECK_STR_EQ(c->source.slot, "s1");
    /* :- also replaces an empty value */
    WB_CHECK_STR_EQ(c->source.publication, "pub_default");
    WB_CHECK(!c->source.create_slot);
    WB_CHECK_INT_EQ(c->source.status_interval_ms, 2000);
    /* ${VAR} with VAR set but empty is empty, not an error */
    WB_CHECK_STR_EQ(c->target.conninfo, "");
    WB_CHECK_STR_EQ(c->target.origin, "db1_origin");
    wb_config_free(c);

    /* The environment variable is read at load time. */
    setenv("WB_T_PORT", "6543", 1);
    c = NULL;
    WB_CHECK_INT_EQ(load(yaml, &c, &err), 0);
    if (c)
        WB_CHECK_STR_EQ(c->source.conninfo, "host=db1 port=6543 pw=a$b$c");
    wb_config_free(c);

    unsetenv("WB_T_HOST");
    unsetenv("WB_T_PORT");
    unsetenv("WB_T_EMPTY");
    unsetenv("WB_T_IVAL");
}

static void test_env_unset(void)
{
    wb_error err;

    unsetenv("WB_T_UNSET");
    CHECK_FAILS("source:\n"
                "  conninfo: host=x\n"
                "  slot: \"${WB_T_UNSET}\"\n" MAPS,
                err, WB_ECONFIG, 3, 9, "WB_T_UNSET");
    WB_CHECK_STR_EQ(err.message,
                    "environment variable \"WB_T_UNSET\" is not set");
    WB_CHECK_STR_CONTAINS(err.hint, "${WB_T_UNSET:-default}");

    /* In a nested value: a target column. */
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    to: c.d\n"
                    "    key: {id: \"${WB_T_UNSET}\"}\n",
                err, WB_ECONFIG, 7, 15, "\"WB_T_UNSET\" is not set");

    /* The source conninfo of the example without WALBRIDGE_SOURCE. */
    unsetenv("WALBRIDGE_SOURCE");
    CHECK_FAILS(example, err, WB_ECONFIG, 2, 13,
                "environment variable \"WALBRIDGE_SOURCE\" is not set");

    /* Keys are not substituted: "${X}" as a key is just unknown. */
    CHECK_FAILS(SRC "  ${WB_T_UNSET}: x\n" MAPS, err, WB_ECONFIG, 3, 3,
                "unknown key \"${WB_T_UNSET}\" in \"source\"");
}

static void test_env_bad_references(void)
{
    wb_error err;

    CHECK_FAILS("source:\n  conninfo: host=${WB_T_HOST\n" MAPS, err, WB_ECONFIG,
                2, 13, "unterminated \"${\"");
    WB_CHECK_STR_CONTAINS(err.message, "conninfo");
    CHECK_FAILS("source:\n  conninfo: ${1X}\n" MAPS, err, WB_ECONFIG, 2, 13,
                "invalid environment variable reference \"${1X}\"");
    CHECK_FAILS("source:\n  conninfo: ${}\n" MAPS, err, WB_ECONFIG, 2, 13,
                "invalid environment variable reference \"${}\"");
    CHECK_FAILS("source:\n  conninfo: ${A:b}\n" MAPS, err, WB_ECONFIG, 2, 13,
                "invalid environment variable reference \"${A:b}\"");
    CHECK_FAILS("source:\n  conninfo: ${A-b}\n" MAPS, err, WB_ECONFIG, 2, 13,
                "invalid environment variable reference");
}

static void test_conninfo_empty(void)
{
    wb_error err;

    CHECK_FAILS("source:\n  conninfo: \"\"\n" MAPS, err, WB_ECONFIG, 2, 13,
                "source conninfo is empty");
    WB_CHECK_STR_EQ(err.message, "source conninfo is empty");

    setenv("WB_T_EMPTY", "", 1);
    CHECK_FAILS("source:\n  conninfo: ${WB_T_EMPTY}\n" MAPS, err, WB_ECONFIG, 2,
                13, "source conninfo is empty");
    unsetenv("WB_T_EMPTY");

    /* A null value is not a string (libyaml puts it after the colon). */
    CHECK_FAILS("source:\n  conninfo:\n" MAPS, err, WB_ECONFIG, 2, 12,
                "\"conninfo\" must be a string");
}

/* ------------------------------------------------------------------ */
/* structural errors                                                   */
/* ------------------------------------------------------------------ */

static void test_unknown_keys(void)
{
    wb_error err;

    CHECK_FAILS("sorce:\n  conninfo: x\n" MAPS, err, WB_ECONFIG, 1, 1,
                "unknown key \"sorce\"");
    WB_CHECK_STR_EQ(err.message, "unknown key \"sorce\" at the top level");
    WB_CHECK_STR_CONTAINS(err.hint, "Did you mean \"source\"?");
    WB_CHECK_STR_CONTAINS(err.hint, "source, target, mappings, log");

    CHECK_FAILS(SRC "  slots: s1\n" MAPS, err, WB_ECONFIG, 3, 3,
                "unknown key \"slots\" in \"source\"");
    WB_CHECK_STR_EQ(err.message, "unknown key \"slots\" in \"source\"");
    WB_CHECK_STR_CONTAINS(err.hint, "Did you mean \"slot\"?");
    WB_CHECK_STR_CONTAINS(err.hint, "conninfo, slot, publication, schemas");

    CHECK_FAILS(SRC "target:\n  conn_info: x\n" MAPS, err, WB_ECONFIG, 4, 3,
                "unknown key \"conn_info\" in \"target\"");
    CHECK_FAILS(SRC "log:\n  levle: debug\n" MAPS, err, WB_ECONFIG, 4, 3,
                "unknown key \"levle\" in \"log\"");

    /* Inside a mapping entry, named by its name. */
    CHECK_FAILS(SRC MAPS "    colums: {a: b}\n", err, WB_ECONFIG, 8, 5,
                "unknown key \"colums\" in mapping \"m\"");
    WB_CHECK_STR_CONTAINS(err.hint, "Did you mean \"columns\"?");

    /* Without a name, by its position in the list. */
    CHECK_FAILS(SRC "mappings:\n"
                    "  - from: a.b\n"
                    "    tables: x\n",
                err, WB_ECONFIG, 5, 5,
                "unknown key \"tables\" in \"mappings\" entry 1");

    /* A key that is not a string. */
    CHECK_FAILS(SRC "  [a, b]: x\n" MAPS, err, WB_ECONFIG, 3, 3,
                "keys in \"source\" must be strings");
}

static void test_wrong_types(void)
{
    wb_error err;

    CHECK_FAILS("source: host=x\n" MAPS, err, WB_ECONFIG, 1, 9,
                "\"source\" must be a map");
    CHECK_FAILS(SRC "  slot: [a, b]\n" MAPS, err, WB_ECONFIG, 3, 9,
                "\"slot\" must be a string");
    WB_CHECK_STR_EQ(err.message, "\"slot\" must be a string");
    CHECK_FAILS(SRC "  slot:\n" MAPS, err, WB_ECONFIG, 3, 8,
                "\"slot\" must be a string");
    CHECK_FAILS(SRC "  schemas: portal\n" MAPS, err, WB_ECONFIG, 3, 12,
                "\"schemas\" must be a list of strings");
    CHECK_FAILS(SRC "  schemas: [a, {b: c}]\n" MAPS, err, WB_ECONFIG, 3, 16,
                "\"schemas\" must be a list of strings");
    CHECK_FAILS(SRC "  schemas: []\n" MAPS, err, WB_ECONFIG, 3, 12,
                "\"schemas\" must not be empty");
    CHECK_FAILS(SRC "  create_slot: {a: 1}\n" MAPS, err, WB_ECONFIG, 3, 16,
                "\"create_slot\" must be a boolean");
    CHECK_FAILS(SRC "target: [x]\n" MAPS, err, WB_ECONFIG, 3, 9,
                "\"target\" must be a map");
    CHECK_FAILS(SRC "log: debug\n" MAPS, err, WB_ECONFIG, 3, 6,
                "\"log\" must be a map");
    CHECK_FAILS(SRC "mappings: {name: m}\n", err, WB_ECONFIG, 3, 11,
                "\"mappings\" must be a list");
    WB_CHECK_STR_EQ(err.message, "\"mappings\" must be a list");
    CHECK_FAILS(SRC "mappings:\n", err, WB_ECONFIG, 3, 10,
                "\"mappings\" must be a list");
    CHECK_FAILS(SRC "mappings: []\n", err, WB_ECONFIG, 3, 11,
                "\"mappings\" must not be empty");
    CHECK_FAILS(SRC "mappings:\n  - users\n", err, WB_ECONFIG, 4, 5,
                "each entry of \"mappings\" must be a map");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    to: c.d\n"
                    "    key: id\n",
                err, WB_ECONFIG, 7, 10,
                "\"key\" must be a map of source column to target column");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    to: c.d\n"
                    "    key: {}\n",
                err, WB_ECONFIG, 7, 10,
                "\"key\" must map at least one column in mapping \"m\"");
    CHECK_FAILS(SRC MAPS "    columns: [a, b]\n", err, WB_ECONFIG, 8, 14,
                "\"columns\" must be a map of source column to target column");
    CHECK_FAILS(SRC MAPS "    columns: {a: [b]}\n", err, WB_ECONFIG, 8, 18,
                "target column for \"a\"");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: [m]\n"
                    "    from: a.b\n"
                    "    to: c.d\n"
                    "    key: {id: id}\n",
                err, WB_ECONFIG, 4, 11, "\"name\" must be a string");
}

static void test_missing_required(void)
{
    wb_error err;

    CHECK_FAILS("source:\n  slot: s\n" MAPS, err, WB_ECONFIG, 2, 3,
                "missing required key \"conninfo\" in \"source\"");
    WB_CHECK_STR_EQ(err.message,
                    "missing required key \"conninfo\" in \"source\"");
    CHECK_FAILS("# no source\n" MAPS, err, WB_ECONFIG, 2, 1,
                "missing required key \"source\"");
    CHECK_FAILS(SRC, err, WB_ECONFIG, 1, 1,
                "missing required key \"mappings\"");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    to: c.d\n"
                    "    key: {id: id}\n",
                err, WB_ECONFIG, 4, 5,
                "missing required key \"from\" in mapping \"m\"");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    key: {id: id}\n",
                err, WB_ECONFIG, 4, 5,
                "missing required key \"to\" in mapping \"m\"");
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    to: c.d\n",
                err, WB_ECONFIG, 4, 5,
                "missing required key \"key\" in mapping \"m\"");
    CHECK_FAILS(SRC MAPS "  - from: a.b\n"
                         "    to: c.d\n"
                         "    key: {id: id}\n",
                err, WB_ECONFIG, 8, 5,
                "missing required key \"name\" in \"mappings\" entry 2");
}

static void test_duplicates(void)
{
    wb_error err;

    /* The second occurrence is reported. */
    CHECK_FAILS(SRC "  slot: a\n  slot: b\n" MAPS, err, WB_ECONFIG, 4, 3,
                "duplicate key \"slot\" in \"source\"");
    WB_CHECK_STR_CONTAINS(err.detail, "line 3");
    CHECK_FAILS(SRC MAPS SRC, err, WB_ECONFIG, 8, 1,
                "duplicate key \"source\" at the top level");
    CHECK_FAILS(SRC MAPS "    to: e.f\n", err, WB_ECONFIG, 8, 5,
                "duplicate key \"to\" in mapping \"m\"");
    CHECK_FAILS(SRC MAPS "    columns:\n"
                         "      a: x\n"
                         "      b: y\n"
                         "      a: z\n",
                err, WB_ECONFIG, 11, 7,
                "duplicate key \"a\" in \"columns\" of mapping \"m\"");
    CHECK_FAILS(SRC "  schemas: [a, b, a]\n" MAPS, err, WB_ECONFIG, 3, 19,
                "duplicate schema \"a\"");

    /* Mapping names are unique across mappings. */
    CHECK_FAILS(SRC MAPS "  - name: n\n"
                         "    from: a.b\n"
                         "    to: e.f\n"
                         "    key: {id: id}\n"
                         "  - name: m\n"
                         "    from: a.b\n"
                         "    to: g.h\n"
                         "    key: {id: id}\n",
                err, WB_ECONFIG, 12, 11, "duplicate mapping name \"m\"");
    WB_CHECK_STR_EQ(err.message, "duplicate mapping name \"m\"");
    WB_CHECK_STR_CONTAINS(err.detail, "line 4");

    /* A target column mapped twice, across key and columns. */
    CHECK_FAILS(SRC MAPS "    columns: {email: mail, ident: id}\n", err,
                WB_ECONFIG, 8, 35,
                "target column \"id\" is mapped more than once in mapping "
                "\"m\"");
    CHECK_FAILS(SRC MAPS "    columns: {email: mail, other: mail}\n", err,
                WB_ECONFIG, 8, 35, "target column \"mail\"");
}

static void test_source_column_in_key_and_columns(void)
{
    wb_config *c = NULL;
    wb_error err;

    WB_CHECK_INT_EQ(load(SRC MAPS "    columns: {id: legacy_id}\n", &c, &err),
                    0);
    if (c) {
        WB_CHECK_STR_EQ(c->mappings[0].keys[0].from, "id");
        WB_CHECK_STR_EQ(c->mappings[0].keys[0].to, "id");
        WB_CHECK_STR_EQ(c->mappings[0].columns[0].from, "id");
        WB_CHECK_STR_EQ(c->mappings[0].columns[0].to, "legacy_id");
    }
    wb_config_free(c);
}

/* ------------------------------------------------------------------ */
/* values                                                              */
/* ------------------------------------------------------------------ */

static void test_slot_names(void)
{
    char yaml[512], name[80];
    wb_config *c = NULL;
    wb_error err;

    CHECK_FAILS(SRC "  slot: Walbridge\n" MAPS, err, WB_ECONFIG, 3, 9,
                "invalid replication slot name \"Walbridge\"");
    WB_CHECK_STR_CONTAINS(err.hint, "lower case letters, numbers, and the "
                                    "underscore");
    CHECK_FAILS(SRC "  slot: wal-bridge\n" MAPS, err, WB_ECONFIG, 3, 9,
                "invalid replication slot name \"wal-bridge\"");
    CHECK_FAILS(SRC "  slot: \"\"\n" MAPS, err, WB_ECONFIG, 3, 9,
                "replication slot name \"\" is too short");

    memset(name, 'a', 64);
    name[64] = '\0';
    snprintf(yaml, sizeof(yaml), SRC "  slot: %s\n" MAPS, name);
    CHECK_FAILS(yaml, err, WB_ECONFIG, 3, 9, "is too long");

    name[63] = '\0'; /* 63 characters: the longest allowed */
    snprintf(yaml, sizeof(yaml), SRC "  slot: %s\n" MAPS, name);
    WB_CHECK_INT_EQ(load(yaml, &c, &err), 0);
    if (c)
        WB_CHECK_INT_EQ(strlen(c->source.slot), 63);
    wb_config_free(c);

    c = NULL;
    WB_CHECK_INT_EQ(load(SRC "  slot: 123\n" MAPS, &c, &err), 0);
    if (c) {
        WB_CHECK_STR_EQ(c->source.slot, "123");
        WB_CHECK_STR_EQ(c->target.origin, "walbridge_123");
    }
    wb_config_free(c);
}

/* Load a config whose only mapping reads from `from`. */
static int load_from(const char *from, wb_config **c, wb_error *err)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             SRC "mappings:\n"
                 "  - name: m\n"
                 "    from: %s\n"
                 "    to: c.d\n"
                 "    key: {id: id}\n",
             from);
    return load(yaml, c, err);
}

#define CHECK_TABLE_OK(from_, schema_, table_)                                 \
    do {                                                                       \
        wb_config *ct_ = NULL;                                                 \
        wb_error et_;                                                          \
        WB_CHECK_INT_EQ(load_from((from_), &ct_, &et_), 0);                    \
        if (ct_) {                                                             \
            WB_CHECK_STR_EQ(ct_->mappings[0].from.schema, (schema_));          \
            WB_CHECK_STR_EQ(ct_->mappings[0].from.table, (table_));            \
            WB_CHECK_INT_EQ(ct_->mappings[0].from.pos.line, 5);                \
            WB_CHECK_INT_EQ(ct_->mappings[0].from.pos.col, 11);                \
        } else {                                                               \
            printf("  %s\n", et_.message);                                     \
        }                                                                      \
        wb_config_free(ct_);                                                   \
    } while (0)

#define CHECK_TABLE_BAD(from_, detail_)                                        \
    do {                                                                       \
        wb_config *ct_ = NULL;                                                 \
        wb_error et_;                                                          \
        WB_CHECK_INT_EQ(load_from((from_), &ct_, &et_), WB_ECONFIG);           \
        WB_CHECK(ct_ == NULL);                                                 \
        WB_CHECK_INT_EQ(et_.line, 5);                                          \
        WB_CHECK_INT_EQ(et_.col, 11);                                          \
        WB_CHECK_STR_CONTAINS(et_.message, "invalid table name");              \
        WB_CHECK_STR_CONTAINS(et_.message, "in \"from\"");                     \
        WB_CHECK_STR_CONTAINS(et_.detail, (detail_));                          \
        wb_config_free(ct_);                                                   \
    } while (0)

static void test_table_names(void)
{
    wb_config *c = NULL;
    wb_error err;

    CHECK_TABLE_OK("portal.users", "portal", "users");
    CHECK_TABLE_OK("Portal.USERS", "portal", "users");
    CHECK_TABLE_OK("_s1.t$2", "_s1", "t$2");
    CHECK_TABLE_OK("'\"My Schema\".\"Odd.Name\"'", "My Schema", "Odd.Name");
    CHECK_TABLE_OK("'\"a\"\"b\".\"C\"'", "a\"b", "C");
    CHECK_TABLE_OK("'public.\"Users\"'", "public", "Users");

    CHECK_TABLE_BAD("users", "schema is missing");
    WB_CHECK_INT_EQ(load_from("users", &c, &err), WB_ECONFIG);
    WB_CHECK_STR_EQ(err.message, "invalid table name \"users\" in \"from\"");
    CHECK_TABLE_BAD("a.b.c", "Too many dotted names");
    CHECK_TABLE_BAD("'\"\".b'", "quoted identifier is empty");
    CHECK_TABLE_BAD("'\"abc.b'", "not terminated");
    CHECK_TABLE_BAD("'a .b'", "Unexpected character");
    CHECK_TABLE_BAD(".b", "empty");
    CHECK_TABLE_BAD("a.", "empty");
    CHECK_TABLE_BAD("a-b.c", "Unexpected character");
    CHECK_TABLE_BAD("1a.b", "must start with a letter");
    CHECK_TABLE_BAD("\"\"", "empty");
    CHECK_TABLE_BAD("a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                    "bbbbbbbbb",
                    "longer than 63 bytes");

    /* "to" gets the same treatment, at its own position. */
    CHECK_FAILS(SRC "mappings:\n"
                    "  - name: m\n"
                    "    from: a.b\n"
                    "    to: account\n"
                    "    key: {id: id}\n",
                err, WB_ECONFIG, 6, 9,
                "invalid table name \"account\" in \"to\"");
}

static void test_column_names(void)
{
    wb_config *c = NULL;
    wb_error err;

    /* Literal, not folded; a leading double quote means a quoted name. */
    WB_CHECK_INT_EQ(load(SRC MAPS "    columns:\n"
                                  "      FirstName: First Name\n"
                                  "      '\"Last\"\"Name\"': LAST\n",
                         &c, &err),
                    0);
    if (c) {
        WB_CHECK_STR_EQ(c->mappings[0].columns[0].from, "FirstName");
        WB_CHECK_STR_EQ(c->mappings[0].columns[0].to, "First Name");
        WB_CHECK_STR_EQ(c->mappings[0].columns[1].from, "Last\"Name");
        WB_CHECK_STR_EQ(c->mappings[0].columns[1].to, "LAST");
    }
    wb_config_free(c);

    CHECK_FAILS(SRC MAPS "    columns: {\"\": x}\n", err, WB_ECONFIG, 8, 15,
                "invalid column name \"\"");
    CHECK_FAILS(SRC MAPS "    columns: {a: \"\"}\n", err, WB_ECONFIG, 8, 18,
                "invalid column name \"\"");
    CHECK_FAILS(SRC MAPS "    columns: {'\"a': b}\n", err, WB_ECONFIG, 8, 15,
                "invalid column name \"\"a\"");
}

static void test_booleans(void)
{
    static const char *const yes[] = {"true", "True", "YES", "on", "On"};
    static const char *const no[] = {"false", "FALSE", "no", "No", "off"};
    char yaml[512];
    wb_error err;

    for (size_t i = 0; i < 5; i++) {
        wb_config *c = NULL;
        snprintf(yaml, sizeof(yaml),
                 SRC "  create_slot: %s\n  create_publication: %s\n" MAPS,
                 yes[i], no[i]);
        WB_CHECK_INT_EQ(load(yaml, &c, &err), 0);
        if (c) {
            WB_CHECK(c->source.create_slot);
            WB_CHECK(!c->source.create_publication);
        }
        wb_config_free(c);
    }
    CHECK_FAILS(SRC "  create_slot: maybe\n" MAPS, err, WB_ECONFIG, 3, 16,
                "invalid boolean value \"maybe\" for \"create_slot\"");
    WB_CHECK_STR_EQ(err.message,
                    "invalid boolean value \"maybe\" for \"create_slot\"");
    CHECK_FAILS(SRC "  create_slot: 1\n" MAPS, err, WB_ECONFIG, 3, 16,
                "invalid boolean value \"1\"");
    CHECK_FAILS(SRC MAPS "    enabled: y\n", err, WB_ECONFIG, 8, 14,
                "invalid boolean value \"y\" for \"enabled\"");
}

static void test_parse_duration(void)
{
    static const struct {
        const char *s;
        uint32_t ms;
    } good[] = {{"0", 0},       {"250ms", 250},
                {"1500", 1500}, {"10s", 10000},
                {"2m", 120000}, {"1h", 3600000},
                {"60s", 60000}, {"4294967295", 4294967295u}};
    static const char *const bad[] = {
        "",     "ms",  "10x",   "-1",         "1.5s",     " 10s",
        "10 s", "10S", "10sec", "4294967296", "4294968s", "99999999999h"};
    uint32_t ms;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ms = 7;
        WB_CHECK_INT_EQ(wb_config_parse_duration_ms(good[i].s, &ms), 0);
        WB_CHECK_U64_EQ(ms, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 7;
        WB_CHECK_INT_EQ(wb_config_parse_duration_ms(bad[i], &ms), WB_EINVAL);
        WB_CHECK_INT_EQ(ms, 7); /* untouched */
    }
    WB_CHECK_INT_EQ(wb_config_parse_duration_ms(NULL, &ms), WB_EINVAL);
}

static void test_status_interval(void)
{
    wb_config *c = NULL;
    wb_error err;

    WB_CHECK_INT_EQ(load(SRC "  status_interval: 100ms\n" MAPS, &c, &err), 0);
    if (c)
        WB_CHECK_INT_EQ(c->source.status_interval_ms, 100);
    wb_config_free(c);
    c = NULL;
    WB_CHECK_INT_EQ(load(SRC "  status_interval: 1m\n" MAPS, &c, &err), 0);
    if (c)
        WB_CHECK_INT_EQ(c->source.status_interval_ms, 60000);
    wb_config_free(c);

    CHECK_FAILS(SRC "  status_interval: 50ms\n" MAPS, err, WB_ECONFIG, 3, 20,
                "\"status_interval\" must be between 100ms and 60s");
    WB_CHECK_STR_CONTAINS(err.detail, "50ms");
    CHECK_FAILS(SRC "  status_interval: 61s\n" MAPS, err, WB_ECONFIG, 3, 20,
                "\"status_interval\" must be between 100ms and 60s");
    CHECK_FAILS(SRC "  status_interval: ten seconds\n" MAPS, err, WB_ECONFIG, 3,
                20, "invalid duration \"ten seconds\" for \"status_interval\"");
    WB_CHECK_STR_CONTAINS(err.hint, "10s");
}

static void test_enums(void)
{
    wb_config *c = NULL;
    wb_error err;

    CHECK_FAILS(SRC "target:\n  progress: sometimes\n" MAPS, err, WB_ECONFIG, 4,
                13, "invalid value \"sometimes\" for \"progress\"");
    WB_CHECK_STR_CONTAINS(err.hint, "auto, origin, table");
    CHECK_FAILS(SRC "log:\n  level: verbose\n" MAPS, err, WB_ECONFIG, 4, 10,
                "invalid value \"verbose\" for \"level\"");
    WB_CHECK_STR_CONTAINS(err.hint, "debug, info, warning, error");
    CHECK_FAILS(SRC MAPS "    on_delete: soft\n", err, WB_ECONFIG, 8, 16,
                "invalid value \"soft\" for \"on_delete\"");
    CHECK_FAILS(SRC MAPS "    on_truncate: delete\n", err, WB_ECONFIG, 8, 18,
                "invalid value \"delete\" for \"on_truncate\"");

    WB_CHECK_INT_EQ(load(SRC "target:\n  progress: origin\n  origin: o1\n"
                             "log:\n  level: WARNING\n" MAPS,
                         &c, &err),
                    0);
    if (c) {
        WB_CHECK_INT_EQ(c->target.progress, WB_PROGRESS_ORIGIN);
        WB_CHECK_STR_EQ(c->target.origin, "o1");
        WB_CHECK_STR_EQ(c->log.level, "warning");
    }
    wb_config_free(c);
}

static void test_self_mapping(void)
{
    wb_config *c = NULL;
    wb_error err;
    static const char same[] = SRC "mappings:\n"
                                   "  - name: loop\n"
                                   "    from: a.b\n"
                                   "    to: A.B\n"
                                   "    key: {id: id}\n";

    /* Same database (target conninfo empty) and same table: a loop. */
    CHECK_FAILS(same, err, WB_ECONFIG, 6, 9,
                "mapping \"loop\" writes to its own source table \"a.b\"");
    /* Another target database: allowed. */
    WB_CHECK_INT_EQ(load(SRC "target:\n  conninfo: host=other\n"
                             "mappings:\n"
                             "  - name: loop\n"
                             "    from: a.b\n"
                             "    to: a.b\n"
                             "    key: {id: id}\n",
                         &c, &err),
                    0);
    wb_config_free(c);
}

/* ------------------------------------------------------------------ */
/* YAML level                                                          */
/* ------------------------------------------------------------------ */

static void test_yaml_syntax(void)
{
    wb_error err;

    CHECK_FAILS("source: conninfo: x\n", err, WB_ECONFIG, 1, 17,
                "mapping values are not allowed");
    WB_CHECK_STR_EQ(err.message, "invalid YAML: mapping values are not "
                                 "allowed in this context");

    /* A tab used for indentation. */
    CHECK_FAILS("source:\n\tconninfo: x\n" MAPS, err, WB_ECONFIG, 2, 1,
                "invalid YAML: found character that cannot start any token");
    WB_CHECK_STR_CONTAINS(err.hint, "tabs");

    /* An unclosed flow sequence: reported where the input ends, or at the
     * first token that cannot continue it. */
    CHECK_FAILS(SRC "  schemas: [unclosed\n", err, WB_ECONFIG, 4, 1,
                "invalid YAML: did not find expected ',' or ']'");
    WB_CHECK_STR_CONTAINS(err.detail, "line 3, column 12");
    CHECK_FAILS(SRC "  schemas: [unclosed\n" MAPS, err, WB_ECONFIG, 4, 9,
                "invalid YAML: did not find expected ',' or ']'");

    CHECK_FAILS(SRC "  slot: \"unterminated\n", err, WB_ECONFIG, 4, 1,
                "invalid YAML: found unexpected end of stream");

    /* Not UTF-8. */
    CHECK_FAILS(SRC "  slot: \xff\n" MAPS, err, WB_ECONFIG, 3, 9,
                "invalid YAML: invalid leading UTF-8 octet");

    /* A second document would be ignored: rejected. */
    CHECK_FAILS(SRC MAPS "---\n" SRC, err, WB_ECONFIG, 8, 1,
                "must contain a single YAML document");
}

static void test_empty_and_not_a_map(void)
{
    wb_error err;

    CHECK_FAILS("", err, WB_ECONFIG, 1, 1, "configuration file is empty");
    CHECK_FAILS("# nothing here\n\n", err, WB_ECONFIG, 1, 1,
                "configuration file is empty");
    CHECK_FAILS("---\n", err, WB_ECONFIG, 1, 1, "configuration file is empty");
    CHECK_FAILS("- source\n- mappings\n", err, WB_ECONFIG, 1, 1,
                "configuration must be a map");
    CHECK_FAILS("\n\nhello\n", err, WB_ECONFIG, 1, 1,
                "configuration must be a map");
}

static void test_aliases(void)
{
    wb_error err;

    CHECK_FAILS("source: &s\n  conninfo: x\ntarget: *s\n" MAPS, err, WB_ECONFIG,
                1, 9, "anchors and aliases are not supported");
    /* A self-referencing node must not loop. */
    CHECK_FAILS(SRC "  schemas: &l [a, *l]\n" MAPS, err, WB_ECONFIG, 3, 12,
                "anchors and aliases are not supported");
    CHECK_FAILS("&r [*r]\n", err, WB_ECONFIG, 1, 1,
                "anchors and aliases are not supported");
    CHECK_FAILS(SRC "  slot: *nowhere\n" MAPS, err, WB_ECONFIG, 3, 9,
                "invalid YAML: found undefined alias");
}

static void test_nul_in_value(void)
{
    wb_error err;

    CHECK_FAILS(SRC "  slot: \"a\\0b\"\n" MAPS, err, WB_ECONFIG, 3, 9,
                "contains a NUL character");
}

/* ------------------------------------------------------------------ */
/* files and buffers                                                   */
/* ------------------------------------------------------------------ */

static void test_load_file(void)
{
    static const char yaml[] = SRC "  slot: from_file\n" MAPS;
    char path[] = "/tmp/walbridge-test-config-XXXXXX";
    wb_config *c = NULL;
    wb_error err;
    int fd = mkstemp(path);

    WB_CHECK(fd >= 0);
    if (fd < 0)
        return;
    WB_CHECK_INT_EQ(write(fd, yaml, sizeof(yaml) - 1),
                    (long long)sizeof(yaml) - 1);
    close(fd);
    WB_CHECK_INT_EQ(wb_config_load(path, &c, &err), 0);
    if (c) {
        WB_CHECK_STR_EQ(c->path, path);
        WB_CHECK_STR_EQ(c->source.slot, "from_file");
        WB_CHECK_STR_EQ(c->mappings[0].name, "m");
    }
    wb_config_free(c);

    /* Errors in a file carry the file's path. */
    fd = open(path, O_WRONLY | O_TRUNC);
    WB_CHECK(fd >= 0);
    if (fd >= 0) {
        static const char bad[] = SRC "  slots: x\n" MAPS;
        WB_CHECK_INT_EQ(write(fd, bad, sizeof(bad) - 1),
                        (long long)sizeof(bad) - 1);
        close(fd);
        c = NULL;
        WB_CHECK_INT_EQ(wb_config_load(path, &c, &err), WB_ECONFIG);
        WB_CHECK(c == NULL);
        WB_CHECK_STR_EQ(err.file, path);
        WB_CHECK_INT_EQ(err.line, 3);
        WB_CHECK_INT_EQ(err.col, 3);
        WB_CHECK_STR_EQ(err.message, "unknown key \"slots\" in \"source\"");
    }
    unlink(path);
}

static void test_missing_file(void)
{
    wb_config *c = NULL;
    wb_error err;

    WB_CHECK_INT_EQ(wb_config_load("/nonexistent/walbridge.yaml", &c, &err),
                    WB_EIO);
    WB_CHECK(c == NULL);
    WB_CHECK_INT_EQ(err.code, WB_EIO);
    WB_CHECK_STR_EQ(err.message, "could not open configuration file "
                                 "\"/nonexistent/walbridge.yaml\": No such "
                                 "file or directory");
    WB_CHECK_STR_EQ(err.file, "/nonexistent/walbridge.yaml");

    /* A directory cannot be read. */
    WB_CHECK_INT_EQ(wb_config_load("/tmp", &c, &err), WB_EIO);
    WB_CHECK_STR_CONTAINS(err.message,
                          "could not read configuration file \"/tmp\"");
}

static void test_too_large(void)
{
    size_t n = (size_t)4 * 1024 * 1024 + 1;
    char *buf = malloc(n);
    char path[] = "/tmp/walbridge-test-config-XXXXXX";
    wb_config *c = NULL;
    wb_error err;
    int fd;

    WB_CHECK(buf != NULL);
    if (!buf)
        return;
    memset(buf, '#', n);
    WB_CHECK_INT_EQ(wb_config_load_buffer(buf, n, NAME, &c, &err), WB_ECONFIG);
    WB_CHECK(c == NULL);
    WB_CHECK_STR_CONTAINS(err.message, "is too large");
    WB_CHECK_STR_EQ(err.file, NAME);

    fd = mkstemp(path);
    WB_CHECK(fd >= 0);
    if (fd >= 0) {
        WB_CHECK_INT_EQ(write(fd, buf, n), (long long)n);
        close(fd);
        WB_CHECK_INT_EQ(wb_config_load(path, &c, &err), WB_ECONFIG);
        WB_CHECK(c == NULL);
        WB_CHECK_STR_CONTAINS(err.message, "is too large");
        WB_CHECK_STR_CONTAINS(err.detail, "4194305 bytes");
        unlink(path);
    }
    free(buf);
}

static void test_api_edges(void)
{
    wb_config *c = NULL;
    wb_error err;

    wb_config_free(NULL);
    WB_CHECK_INT_EQ(wb_config_load_buffer("x", 1, NAME, NULL, &err), WB_EINVAL);
    WB_CHECK_INT_EQ(wb_config_load(NULL, &c, &err), WB_EINVAL);
    /* err may be NULL. */
    WB_CHECK_INT_EQ(wb_config_load_buffer("", 0, NAME, &c, NULL), WB_ECONFIG);
    WB_CHECK(c == NULL);
    /* A NULL name still gives a file name in errors. */
    WB_CHECK_INT_EQ(wb_config_load_buffer("", 0, NULL, &c, &err), WB_ECONFIG);
    WB_CHECK(err.file[0] != '\0');
    /* The report of a failure is cleared by a later success. */
    WB_CHECK_INT_EQ(load(SRC MAPS, &c, &err), 0);
    WB_CHECK_INT_EQ(err.code, 0);
    WB_CHECK_STR_EQ(err.message, "");
    WB_CHECK_INT_EQ(err.line, 0);
    wb_config_free(c);
}

/* Streaming and batching keys: values, bounds and positions. */
static void test_streaming_and_batch_keys(void)
{
    static const char ok[] =
        "source:\n"
        "  conninfo: x\n"
        "  streaming: yes\n"
        "  spool_dir: /var/tmp\n"
        "target:\n"
        "  batch_max_txns: 5\n"
        "  batch_latency: 0ms\n"
        "mappings:\n"
        "  - {name: m, from: a.b, to: c.d, key: {id: id}}\n";
    wb_config *c = NULL;
    wb_error err;
    WB_CHECK_INT_EQ(load(ok, &c, &err), 0);
    if (c) {
        WB_CHECK(c->source.streaming);
        WB_CHECK_STR_EQ(c->source.spool_dir, "/var/tmp");
        WB_CHECK_INT_EQ(c->target.batch_max_txns, 5);
        WB_CHECK_INT_EQ(c->target.batch_latency_ms, 0);
        wb_config_free(c);
    }
    static const char bad_count[] =
        "source:\n"
        "  conninfo: x\n"
        "target:\n"
        "  batch_max_txns: 0\n"
        "mappings:\n"
        "  - {name: m, from: a.b, to: c.d, key: {id: id}}\n";
    c = NULL;
    WB_CHECK_INT_EQ(load(bad_count, &c, &err), WB_ECONFIG);
    WB_CHECK_STR_CONTAINS(err.message, "batch_max_txns");
    WB_CHECK_INT_EQ(err.line, 4);
    WB_CHECK_INT_EQ(err.col, 19);
    static const char bad_latency[] =
        "source:\n"
        "  conninfo: x\n"
        "target:\n"
        "  batch_latency: 11s\n"
        "mappings:\n"
        "  - {name: m, from: a.b, to: c.d, key: {id: id}}\n";
    WB_CHECK_INT_EQ(load(bad_latency, &c, &err), WB_ECONFIG);
    WB_CHECK_STR_CONTAINS(err.message, "batch_latency");
    WB_CHECK_INT_EQ(err.line, 4);
    static const char bad_stream[] =
        "source:\n"
        "  conninfo: x\n"
        "  streaming: maybe\n"
        "mappings:\n"
        "  - {name: m, from: a.b, to: c.d, key: {id: id}}\n";
    WB_CHECK_INT_EQ(load(bad_stream, &c, &err), WB_ECONFIG);
    WB_CHECK_STR_CONTAINS(err.message, "streaming");
    WB_CHECK_INT_EQ(err.line, 3);
    WB_CHECK_INT_EQ(err.col, 14);
}

/* The mapping language: every error names the line and column of the node
 * (for a filter, the character in the string). */
static void test_language_errors(void)
{
    wb_error err;
    wb_config *c = NULL;

    CHECK_FAILS(SRC MAPS "    values: {n: {concat: a}}\n", err, WB_ECONFIG, 8,
                26, "\"concat\" takes a non-empty list");
    CHECK_FAILS(SRC MAPS "    values: {n: {lower: a, upper: b}}\n", err,
                WB_ECONFIG, 8, 28, "two functions");
    CHECK_FAILS(SRC MAPS "    values: {n: {frobnicate: a}}\n", err, WB_ECONFIG,
                8, 17, "names no function");
    WB_CHECK_STR_CONTAINS(err.hint, "lookup");
    CHECK_FAILS(SRC MAPS "    values: {n: {trim: a, sep: x}}\n", err,
                WB_ECONFIG, 8, 27, "unknown key \"sep\" in \"trim\"");
    CHECK_FAILS(SRC MAPS "    values: {n: {split: a, sep: \" \"}}\n", err,
                WB_ECONFIG, 8, 17, "missing required key \"part\"");
    CHECK_FAILS(SRC MAPS "    values: {n: {split: a, sep: \" \", part: 0}}\n",
                err, WB_ECONFIG, 8, 44, "invalid \"part\"");
    CHECK_FAILS(SRC MAPS "    values: {n: {cast: a, to: money}}\n", err,
                WB_ECONFIG, 8, 31, "money");
    CHECK_FAILS(SRC MAPS "    values: {n: {map: a, values: {x: 1, x: 2}}}\n",
                err, WB_ECONFIG, 8, 41, "duplicate");
    CHECK_FAILS(SRC MAPS "    values: {n: {lower: {lookup: {table: s.t, "
                         "match: m, column: c}, from: a}}}\n",
                err, WB_ECONFIG, 8, 26, "\"lookup\" must be the whole");
    CHECK_FAILS(SRC MAPS "    values: {id: {const: 1}}\n", err, WB_ECONFIG, 8,
                14, "target column \"id\" is mapped more than once");
    /* filters: the column points at the offending character */
    CHECK_FAILS(SRC MAPS "    filter: status = \n", err, WB_ECONFIG, 8, 21,
                "syntax error in filter");
    CHECK_FAILS(SRC MAPS "    filter: \"a = 1 b\"\n", err, WB_ECONFIG, 8, 20,
                "unexpected text");
    WB_CHECK_STR_CONTAINS(err.detail, "offset 7");
    CHECK_FAILS(SRC MAPS "    filter: a IN (b)\n", err, WB_ECONFIG, 8, 19,
                "values, not columns");
    CHECK_FAILS(SRC MAPS "    on_filter_out: ignore\n", err, WB_ECONFIG, 8, 20,
                "needs a \"filter\"");
    CHECK_FAILS(SRC MAPS "    on_delete: {soft: {}}\n", err, WB_ECONFIG, 8, 23,
                "at least one column");
    CHECK_FAILS(SRC MAPS "    on_delete: purge\n", err, WB_ECONFIG, 8, 16,
                "purge");
    WB_CHECK_STR_CONTAINS(err.hint, "soft");
    CHECK_FAILS(SRC MAPS "    operations: [insert, insert]\n", err, WB_ECONFIG,
                8, 26, "duplicate operation");
    CHECK_FAILS(SRC MAPS "    operations: []\n", err, WB_ECONFIG, 8, 17,
                "non-empty list");
    CHECK_FAILS(SRC "mappings:\n  - name: m\n    from: a.b\n"
                    "    to: [c.d, e.f]\n    key: {id: id}\n",
                err, WB_ECONFIG, 6, 9, "exactly one table");
    CHECK_FAILS(SRC "mappings:\n  - name: m\n    from: a.b\n    to: c.d\n"
                    "    plugin: {path: x.so}\n    key: {id: id}\n",
                err, WB_ECONFIG, 8, 10, "cannot be used with \"plugin\"");

    /* A valid use of everything. */
    static const char ok[] =
        SRC "mappings:\n"
            "  - name: m\n"
            "    from: a.b\n"
            "    to: c.d\n"
            "    operations: [insert, update]\n"
            "    key: {id: id, k2: k2}\n"
            "    values:\n"
            "      n: {concat: [{trim: f}, l], sep: \" \"}\n"
            "      s: {map: st, values: {A: Active, ~: null}, else: st}\n"
            "      x: {lookup: {table: s.t, match: m, column: sfid}, from: f}\n"
            "    filter: \"st IN ('A', 'B') AND NOT f IS NULL\"\n"
            "    on_delete: {soft: {isdeleted: true, reason: ~}}\n"
            "    skip_unchanged: yes\n"
            "  - name: p\n"
            "    from: a.b\n"
            "    to: [c.e, c.f]\n"
            "    plugin:\n"
            "      path: lib/x.so\n"
            "      config: {a: [1, {b: ~}], c: \"${WB_TEST_UNSET:-dflt}\"}\n";
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(load(ok, &c, &err), 0);
    if (!c) {
        fprintf(stderr, "  %d:%d %s\n", err.line, err.col, err.message);
        return;
    }
    const wb_config_mapping *m = &c->mappings[0];
    WB_CHECK_INT_EQ(m->operations, WB_MAP_OP_INSERT | WB_MAP_OP_UPDATE);
    WB_CHECK_INT_EQ(m->nkeys, 2);
    WB_CHECK_INT_EQ(m->nvalues, 3);
    WB_CHECK_INT_EQ(m->values[0].expr->kind, WB_EXPR_CONCAT);
    WB_CHECK_STR_EQ(m->values[0].expr->sep, " ");
    WB_CHECK_INT_EQ(m->values[1].expr->nmap, 2);
    WB_CHECK(m->values[1].expr->map_from[1] == NULL);
    WB_CHECK(m->values[1].expr->map_to[1] == NULL);
    WB_CHECK_STR_EQ(m->values[2].expr->lookup.column, "sfid");
    WB_CHECK_INT_EQ(m->values[2].pos.line, 12);
    WB_CHECK(m->filter != NULL);
    WB_CHECK_INT_EQ(m->on_delete.action, WB_ON_DELETE_SOFT);
    WB_CHECK_INT_EQ(m->on_delete.nsoft, 2);
    WB_CHECK(m->on_delete.soft[1].expr->name == NULL);
    WB_CHECK_INT_EQ(m->on_filter_out.action, WB_ON_DELETE_SOFT);
    WB_CHECK(m->skip_unchanged);
    /* slots: f, l, st (first use order) */
    WB_CHECK_INT_EQ(m->nrefs, 3);
    if (m->nrefs == 3) {
        WB_CHECK_STR_EQ(m->refs[0], "f");
        WB_CHECK_STR_EQ(m->refs[1], "l");
        WB_CHECK_STR_EQ(m->refs[2], "st");
    }
    const wb_config_mapping *p = &c->mappings[1];
    WB_CHECK_INT_EQ(p->nto, 2);
    WB_CHECK_STR_EQ(p->tos[1].table, "f");
    WB_CHECK_STR_EQ(p->plugin.path, "lib/x.so");
    WB_CHECK(p->plugin.config != NULL);
    if (p->plugin.config) {
        const wb_plugin_node *n = p->plugin.config;
        WB_CHECK_INT_EQ(n->kind, WB_PLUGIN_NODE_MAPPING);
        WB_CHECK_INT_EQ(n->n, 2);
        WB_CHECK_STR_EQ(n->keys[1], "c");
        WB_CHECK_STR_EQ(n->items[1].value, "dflt");
        WB_CHECK_INT_EQ(n->items[0].kind, WB_PLUGIN_NODE_SEQUENCE);
        WB_CHECK(n->items[0].items[1].items[0].value == NULL);
        WB_CHECK_INT_EQ(n->items[0].line, 21);
    }
    wb_config_free(c);
}

/* conflict: the policies, by, owners, and their errors at line:col. */
static void test_conflict(void)
{
    wb_config *c = NULL;
    wb_error err;
#define CMAP                                                                   \
    SRC "mappings:\n  - name: m\n    from: a.b\n    to: c.d\n"                 \
        "    key: {id: ext}\n    columns: {x: x, y: y}\n"
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(load(CMAP, &c, &err), 0);
    if (c)
        WB_CHECK_INT_EQ(c->mappings[0].conflict.resolve, WB_CONFLICT_NONE);
    wb_config_free(c);
    c = NULL;

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(load(CMAP "    conflict:\n"
                              "      resolve: Last_Writer_Wins\n"
                              "      by: {source: upd}\n"
                              "      owners: {source: [x], target: [y]}\n",
                         &c, &err),
                    0);
    if (c) {
        const wb_config_conflict *cf = &c->mappings[0].conflict;
        WB_CHECK_INT_EQ(cf->resolve, WB_CONFLICT_LAST_WRITER_WINS);
        WB_CHECK(!cf->by_commit_time);
        WB_CHECK_STR_EQ(cf->by_source, "upd");
        WB_CHECK_STR_EQ(cf->by_target, "upd"); /* target defaults to source */
        WB_CHECK_INT_EQ(cf->nsource_owns, 1);
        WB_CHECK_INT_EQ(cf->ntarget_owns, 1);
        if (cf->ntarget_owns == 1) {
            WB_CHECK_STR_EQ(cf->target_owns[0], "y");
            WB_CHECK_INT_EQ(cf->target_owns_pos[0].line, 12);
        }
        WB_CHECK_INT_EQ(cf->by_pos.line, 11);
    }
    wb_config_free(c);
    c = NULL;

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(load(CMAP "    conflict: {resolve: last_writer_wins, by: "
                              "commit_time}\n",
                         &c, &err),
                    0);
    if (c) {
        WB_CHECK(c->mappings[0].conflict.by_commit_time);
        WB_CHECK(c->mappings[0].conflict.by_source == NULL);
    }
    wb_config_free(c);
    c = NULL;

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(load(CMAP "    conflict: {}\n", &c, &err), 0);
    if (c) /* the default policy */
        WB_CHECK_INT_EQ(c->mappings[0].conflict.resolve,
                        WB_CONFLICT_SOURCE_WINS);
    wb_config_free(c);

    CHECK_FAILS(CMAP "    conflict: {resolve: newest}\n", err, WB_ECONFIG, 9,
                25, "invalid value \"newest\" for \"resolve\"");
    CHECK_FAILS(CMAP "    conflict: {resolve: last_writer_wins}\n", err,
                WB_ECONFIG, 9, 15, "\"by\"");
    CHECK_FAILS(CMAP "    conflict: {resolve: target_wins, by: commit_time}\n",
                err, WB_ECONFIG, 9, 42, "applies to last_writer_wins only");
    CHECK_FAILS(CMAP "    conflict: {resolve: last_writer_wins, by: mtime}\n",
                err, WB_ECONFIG, 9, 47, "invalid value \"mtime\" for \"by\"");
    CHECK_FAILS(
        CMAP "    conflict: {owners: {target: [x, nope]}}\n", err, WB_ECONFIG,
        9, 37, "column \"nope\" in \"owners\" is not written by mapping \"m\"");
    CHECK_FAILS(CMAP "    conflict: {owners: {target: [ext]}}\n", err,
                WB_ECONFIG, 9, 34, "key column \"ext\" cannot have an owner");
    CHECK_FAILS(CMAP "    conflict: {owners: {source: [x], target: [x]}}\n",
                err, WB_ECONFIG, 9, 47, "owned by both source and target");
    CHECK_FAILS(CMAP "    conflict: {policy: source_wins}\n", err, WB_ECONFIG,
                9, 16, "\"policy\"");
    CHECK_FAILS(SRC "mappings:\n  - name: m\n    from: a.b\n    to: c.d\n"
                    "    plugin: {path: x.so}\n    conflict: {}\n",
                err, WB_ECONFIG, 8, 15, "cannot be used with \"plugin\"");
#undef CMAP
}

int main(void)
{
    WB_RUN(test_streaming_and_batch_keys);
    WB_RUN(test_example);
    WB_RUN(test_example_file);
    WB_RUN(test_minimal_defaults);
    WB_RUN(test_all_options);
    WB_RUN(test_null_optional_sections);
    WB_RUN(test_env_substitution);
    WB_RUN(test_env_unset);
    WB_RUN(test_env_bad_references);
    WB_RUN(test_conninfo_empty);
    WB_RUN(test_unknown_keys);
    WB_RUN(test_wrong_types);
    WB_RUN(test_missing_required);
    WB_RUN(test_duplicates);
    WB_RUN(test_source_column_in_key_and_columns);
    WB_RUN(test_slot_names);
    WB_RUN(test_table_names);
    WB_RUN(test_column_names);
    WB_RUN(test_booleans);
    WB_RUN(test_parse_duration);
    WB_RUN(test_status_interval);
    WB_RUN(test_enums);
    WB_RUN(test_self_mapping);
    WB_RUN(test_yaml_syntax);
    WB_RUN(test_empty_and_not_a_map);
    WB_RUN(test_aliases);
    WB_RUN(test_nul_in_value);
    WB_RUN(test_load_file);
    WB_RUN(test_missing_file);
    WB_RUN(test_too_large);
    WB_RUN(test_api_edges);
    WB_RUN(test_language_errors);
    WB_RUN(test_conflict);
    return wbtest_summary();
}
