/*
 * test_graph.c - cycles in the mapping graph, on hand-built configurations.
 */
#include <stdlib.h>
#include <string.h>

#include "check/graph.h"
#include "wbtest.h"

#define MAXM 80

static wb_config cfg;
static wb_config_mapping maps[MAXM];
static char names[MAXM][32];

/* One finding as the callback saw it. */
typedef struct finding {
    wb_log_level level;
    wb_error err;
} finding;

static finding found[256];
static int nfound;

static void collect(void *arg, wb_log_level level, const wb_error *problem)
{
    (void)arg;
    if (nfound < (int)(sizeof(found) / sizeof(found[0])))
        found[nfound++] = (finding){level, *problem};
}

static void reset(void)
{
    memset(&cfg, 0, sizeof(cfg));
    memset(maps, 0, sizeof(maps));
    cfg.path = "walbridge.yaml";
    cfg.mappings = maps;
    nfound = 0;
}

/* Append mapping "from" -> "to" (both "schema.table" literals split at the
 * dot); line is its position in the imaginary file. */
static wb_config_mapping *add(const char *fs, const char *ft, const char *ts,
                              const char *tt, bool skip_unchanged)
{
    wb_config_mapping *m = &maps[cfg.nmappings];
    snprintf(names[cfg.nmappings], sizeof(names[0]), "m%zu", cfg.nmappings);
    m->name = names[cfg.nmappings];
    m->enabled = true;
    m->from = (wb_config_table){(char *)fs, (char *)ft, {0, 0}};
    m->to = (wb_config_table){(char *)ts, (char *)tt, {0, 0}};
    m->nto = 1;
    m->tos = &m->to;
    m->skip_unchanged = skip_unchanged;
    m->pos = (wb_config_pos){10 + 6 * (int)cfg.nmappings, 5};
    cfg.nmappings++;
    return m;
}

static int errors_reported(void)
{
    int n = 0;
    for (int i = 0; i < nfound; i++)
        n += found[i].level == WB_LOG_ERROR;
    return n;
}

static void test_no_cycle(void)
{
    reset();
    add("portal", "users", "salesforce", "account", false);
    add("portal", "users", "salesforce", "contact", false);
    add("salesforce", "account", "public", "customers", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 0);
    WB_CHECK_INT_EQ(nfound, 0);
}

static void test_two_cycle_without_skip(void)
{
    reset();
    add("portal", "users", "salesforce", "account", true);
    add("salesforce", "account", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 1);
    WB_CHECK_INT_EQ(nfound, 1);
    WB_CHECK_INT_EQ(found[0].level, WB_LOG_ERROR);
    WB_CHECK_STR_EQ(found[0].err.message,
                    "cycle in the mapping graph: portal.users -> "
                    "salesforce.account -> portal.users");
    /* Positioned at the mapping that needs the fix. */
    WB_CHECK_STR_EQ(found[0].err.file, "walbridge.yaml");
    WB_CHECK_INT_EQ(found[0].err.line, 16);
    WB_CHECK_INT_EQ(found[0].err.col, 5);
    WB_CHECK_STR_CONTAINS(found[0].err.detail, "\"m0\" (walbridge.yaml:10:5)");
    WB_CHECK_STR_CONTAINS(found[0].err.detail,
                          "\"m1\" (walbridge.yaml:16:5, no skip_unchanged)");
    WB_CHECK_STR_CONTAINS(found[0].err.hint, "skip_unchanged: true");
}

static void test_cycle_allowed_with_skip(void)
{
    reset();
    add("portal", "users", "salesforce", "account", true);
    add("salesforce", "account", "portal", "users", true);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 0);
    /* Reported once, as information. */
    WB_CHECK_INT_EQ(nfound, 1);
    WB_CHECK_INT_EQ(found[0].level, WB_LOG_INFO);
    WB_CHECK_STR_CONTAINS(found[0].err.message, "(allowed:");
    WB_CHECK_INT_EQ(found[0].err.line, 10);
    WB_CHECK_STR_EQ(found[0].err.hint, "");
}

static void test_disabled_mapping_breaks_cycle(void)
{
    reset();
    add("portal", "users", "salesforce", "account", false);
    add("salesforce", "account", "portal", "users", false)->enabled = false;
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 0);
    WB_CHECK_INT_EQ(nfound, 0);
}

static void test_self_loop(void)
{
    reset();
    add("portal", "users", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 1);
    WB_CHECK_STR_EQ(found[0].err.message,
                    "cycle in the mapping graph: portal.users -> portal.users");
}

static void test_three_cycle_and_a_tail(void)
{
    reset();
    add("public", "customers", "portal", "users", false); /* tail, no cycle */
    add("portal", "users", "salesforce", "account", true);
    add("salesforce", "account", "salesforce", "contact", true);
    add("salesforce", "contact", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 1);
    WB_CHECK_INT_EQ(nfound, 1);
    /* Starts at the table that comes first in the file among the cycle's. */
    WB_CHECK_STR_EQ(found[0].err.message,
                    "cycle in the mapping graph: portal.users -> "
                    "salesforce.account -> salesforce.contact -> portal.users");
    WB_CHECK_INT_EQ(found[0].err.line, 28); /* m3 */
    WB_CHECK(strstr(found[0].err.detail, "\"m0\"") == NULL);
}

static void test_parallel_mappings_make_two_cycles(void)
{
    reset();
    add("portal", "users", "salesforce", "account", true);
    add("portal", "users", "salesforce", "account", false);
    add("salesforce", "account", "portal", "users", true);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 1);
    WB_CHECK_INT_EQ(nfound, 2);
    WB_CHECK_INT_EQ(errors_reported(), 1);
    int err_i = found[0].level == WB_LOG_ERROR ? 0 : 1;
    WB_CHECK_STR_CONTAINS(found[err_i].err.detail, "\"m1\"");
    WB_CHECK(strstr(found[err_i].err.detail, "\"m0\"") == NULL);
    WB_CHECK_STR_CONTAINS(found[1 - err_i].err.detail, "\"m0\"");
}

static void test_two_cycles_through_one_table(void)
{
    reset();
    add("portal", "users", "salesforce", "account", false);
    add("salesforce", "account", "portal", "users", false);
    add("portal", "users", "public", "customers", false);
    add("public", "customers", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 2);
    WB_CHECK_INT_EQ(nfound, 2);
    WB_CHECK_STR_CONTAINS(found[0].err.message, "salesforce.account");
    WB_CHECK_STR_CONTAINS(found[1].err.message, "public.customers");
}

static void test_plugin_with_several_targets(void)
{
    static wb_config_table tos[2] = {{"salesforce", "contact", {0, 0}},
                                     {"salesforce", "account", {0, 0}}};
    reset();
    wb_config_mapping *p =
        add("portal", "users", "salesforce", "contact", false);
    p->nto = 2;
    p->tos = tos;
    p->plugin.path = "plugins/split.so";
    add("salesforce", "account", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, collect, NULL), 1);
    WB_CHECK_STR_EQ(found[0].err.message,
                    "cycle in the mapping graph: portal.users -> "
                    "salesforce.account -> portal.users");
    /* The first mapping on the cycle without skip_unchanged: the plugin. */
    WB_CHECK_INT_EQ(found[0].err.line, 10);
}

static void test_without_tos_list(void)
{
    /* A configuration built before "to" became a list: to alone counts. */
    reset();
    add("portal", "users", "salesforce", "account", false)->tos = NULL;
    maps[0].nto = 0;
    add("salesforce", "account", "portal", "users", false);
    WB_CHECK_INT_EQ(wb_graph_check(&cfg, NULL, NULL), 1);
}

static void test_listing_is_bounded(void)
{
    /* A complete graph on 6 tables has far more than WB_GRAPH_MAX_CYCLES
     * elementary cycles; the listing stops, the verdict does not. */
    static const char *tn[6] = {"a", "b", "c", "d", "e", "f"};
    reset();
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            if (i != j)
                add("s", tn[i], "s", tn[j], true);
    maps[29].skip_unchanged = false; /* f -> e, on cycles listed late */
    int rc = wb_graph_check(&cfg, collect, NULL);
    WB_CHECK(rc >= 1);
    WB_CHECK_INT_EQ(errors_reported(), rc);
    int named = 0;
    for (int i = 0; i < nfound; i++)
        if (found[i].level == WB_LOG_ERROR &&
            (strstr(found[i].err.detail, "\"m29\"") ||
             strstr(found[i].err.message, "\"m29\"")))
            named++;
    WB_CHECK(named >= 1);
    WB_CHECK(nfound <= WB_GRAPH_MAX_CYCLES + 30);
}

static void test_parsed_configuration(void)
{
    /* Through the real loader: positions are those of the file. */
    static const char yaml[] = "source:\n"
                               "  conninfo: \"dbname=x\"\n"
                               "mappings:\n"
                               "  - name: users_to_accounts\n"
                               "    from: portal.users\n"
                               "    to: salesforce.account\n"
                               "    key: { id: external_id__c }\n"
                               "    skip_unchanged: true\n"
                               "  - name: accounts_to_users\n"
                               "    from: salesforce.account\n"
                               "    to: portal.users\n"
                               "    key: { external_id__c: id }\n";
    wb_config *c = NULL;
    wb_error err;
    wb_error_clear(&err);
    nfound = 0;
    int rc = wb_config_load_buffer(yaml, sizeof(yaml) - 1, "w.yaml", &c, &err);
    WB_CHECK_INT_EQ(rc, 0);
    if (rc) {
        printf("  %s\n", err.message);
        return;
    }
    WB_CHECK_INT_EQ(wb_graph_check(c, collect, NULL), 1);
    WB_CHECK_STR_EQ(found[0].err.file, "w.yaml");
    WB_CHECK_INT_EQ(found[0].err.line, 9);
    WB_CHECK_INT_EQ(found[0].err.col, 5);
    WB_CHECK_STR_CONTAINS(found[0].err.detail,
                          "\"users_to_accounts\" (w.yaml:4:5)");
    c->mappings[1].skip_unchanged = true;
    nfound = 0;
    WB_CHECK_INT_EQ(wb_graph_check(c, collect, NULL), 0);
    WB_CHECK_INT_EQ(nfound, 1);
    wb_config_free(c);
}

/* Into another database, bench.items -> bench.items is a copy, not a loop
 * (the identity mapping of the benchmark); into the same one it is. */
static void test_other_target_database(void)
{
    static const char yaml[] = "source:\n"
                               "  conninfo: \"dbname=src\"\n"
                               "target:\n"
                               "  conninfo: \"dbname=tgt\"\n"
                               "mappings:\n"
                               "  - name: items\n"
                               "    from: bench.items\n"
                               "    to: bench.items\n"
                               "    key: { id: id }\n";
    wb_config *c = NULL;
    wb_error err;
    wb_error_clear(&err);
    nfound = 0;
    WB_CHECK_INT_EQ(
        wb_config_load_buffer(yaml, sizeof(yaml) - 1, "o.yaml", &c, &err), 0);
    if (!c)
        return;
    WB_CHECK_INT_EQ(wb_graph_check(c, collect, NULL), 0);
    WB_CHECK_INT_EQ(nfound, 0);
    c->target.conninfo[0] = '\0'; /* the same database */
    WB_CHECK_INT_EQ(wb_graph_check(c, collect, NULL), 1);
    wb_config_free(c);
}

int main(void)
{
    WB_RUN(test_no_cycle);
    WB_RUN(test_two_cycle_without_skip);
    WB_RUN(test_cycle_allowed_with_skip);
    WB_RUN(test_disabled_mapping_breaks_cycle);
    WB_RUN(test_self_loop);
    WB_RUN(test_three_cycle_and_a_tail);
    WB_RUN(test_parallel_mappings_make_two_cycles);
    WB_RUN(test_two_cycles_through_one_table);
    WB_RUN(test_plugin_with_several_targets);
    WB_RUN(test_without_tos_list);
    WB_RUN(test_listing_is_bounded);
    WB_RUN(test_parsed_configuration);
    WB_RUN(test_other_target_database);
    return wbtest_summary();
}
