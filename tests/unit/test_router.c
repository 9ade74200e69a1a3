/*
 * test_router.c - the built-in mapping rules, without a server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/value.h"
#include "map/router.h"
#include "wbtest.h"

static wb_config_colmap keys[] = {{"id", "external_id__c", {0, 0}}};
static wb_config_colmap cols[] = {{"email", "personemail", {0, 0}},
                                  {"first_name", "firstname", {0, 0}},
                                  {"bio", "description", {0, 0}}};
static wb_config_mapping maps[1];
static wb_config cfg;

static wb_pgoutput_column atts[] = {
    {WB_PGO_COLUMN_KEY, "id", 23, -1}, {0, "email", 25, -1},
    {0, "first_name", 25, -1},         {0, "bio", 25, -1},
    {0, "unmapped", 25, -1},
};
static wb_pgoutput_relation rel = {16384, "portal", "users", 'd', 5, atts};

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    memset(maps, 0, sizeof(maps));
    maps[0].name = "users_to_accounts";
    maps[0].enabled = true;
    maps[0].from = (wb_config_table){"portal", "users", {0, 0}};
    maps[0].to = (wb_config_table){"salesforce", "account", {0, 0}};
    maps[0].nto = 1;
    maps[0].tos = &maps[0].to;
    maps[0].operations = WB_MAP_OP_ALL;
    maps[0].nkeys = 1;
    maps[0].keys = keys;
    maps[0].ncolumns = 3;
    maps[0].columns = cols;
    cfg.nmappings = 1;
    cfg.mappings = maps;
}

#define T(s)                                                                   \
    {                                                                          \
        WB_TUPLE_TEXT, (uint32_t)strlen(s), s                                  \
    }
#define N                                                                      \
    {                                                                          \
        WB_TUPLE_NULL, 0, NULL                                                 \
    }
#define U                                                                      \
    {                                                                          \
        WB_TUPLE_UNCHANGED, 0, NULL                                            \
    }

static const char *find(const wb_op_value *v, size_t n, const char *col,
                        int *found)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].column, col) == 0) {
            *found = 1;
            return v[i].value;
        }
    *found = 0;
    return NULL;
}

static void test_insert_is_upsert(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_tuple_value v[] = {T("42"), T("o'hara@x"), N, T("bio"), T("x")};
    wb_tuple nt = {5, v};
    wb_change c = {
        WB_CHANGE_INSERT, &rel, 0, NULL, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;
    int found;

    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPSERT);
    WB_CHECK_STR_EQ(ops[0].schema, "salesforce");
    WB_CHECK_STR_EQ(ops[0].table, "account");
    WB_CHECK_INT_EQ(ops[0].nkeys, 1);
    WB_CHECK_STR_EQ(ops[0].keys[0].column, "external_id__c");
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    WB_CHECK_INT_EQ(ops[0].nset, 3);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "personemail", &found),
                    "o'hara@x");
    WB_CHECK(find(ops[0].set, ops[0].nset, "firstname", &found) == NULL);
    WB_CHECK_INT_EQ(found, 1); /* NULL is written as NULL, not left out */
    WB_CHECK(find(ops[0].set, ops[0].nset, "unmapped", &found) == NULL);
    WB_CHECK_INT_EQ(found, 0);
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_update_key_change_uses_old_key(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    /* 'K' tuple: identity column set, others sent as 'n'. */
    wb_tuple_value ov[] = {T("42"), N, N, N, N};
    wb_tuple_value nv[] = {T("43"), T("e"), T("f"), U, T("x")};
    wb_tuple ot = {5, ov}, nt = {5, nv};
    wb_change c = {
        WB_CHANGE_UPDATE, &rel, 'K', &ot, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;
    int found;

    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    WB_CHECK_STR_EQ(ops[0].set[0].column, "external_id__c");
    WB_CHECK_STR_EQ(ops[0].set[0].value, "43");
    /* The 'n' of the K tuple for email must not be read as NULL. */
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "personemail", &found), "e");
    /* Unchanged TOAST: left out of SET, never NULL. */
    find(ops[0].set, ops[0].nset, "description", &found);
    WB_CHECK_INT_EQ(found, 0);
    WB_CHECK(!ops[0].insert_if_missing);
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_update_without_old_tuple(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_tuple_value nv[] = {T("7"), T("e"), T("f"), T("b"), N};
    wb_tuple nt = {5, nv};
    wb_change c = {
        WB_CHANGE_UPDATE, &rel, 0, NULL, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;

    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "7");
    WB_CHECK_STR_EQ(ops[0].set[0].value, "7");
    WB_CHECK_INT_EQ(ops[0].nset, 4);
    WB_CHECK(ops[0].insert_if_missing);
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_full_identity_fills_unchanged(void)
{
    setup();
    wb_pgoutput_relation full = rel;
    full.replident = 'f';
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_tuple_value ov[] = {T("7"), T("e"), T("f"), T("long bio"), N};
    wb_tuple_value nv[] = {T("7"), T("e2"), T("f"), U, N};
    wb_tuple ot = {5, ov}, nt = {5, nv};
    wb_change c = {
        WB_CHANGE_UPDATE, &full, 'O', &ot, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;
    int found;

    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "description", &found),
                    "long bio");
    WB_CHECK_INT_EQ(found, 1);
    WB_CHECK(ops[0].insert_if_missing);
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_delete_and_policies(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_tuple_value ov[] = {T("9"), N, N, N, N};
    wb_tuple ot = {5, ov};
    wb_change c = {
        WB_CHANGE_DELETE, &rel, 'K', &ot, NULL, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;

    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_DELETE);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "9");

    maps[0].on_delete.action = WB_ON_DELETE_IGNORE;
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 0);

    wb_change t = {WB_CHANGE_TRUNCATE,
                   &rel,
                   0,
                   NULL,
                   NULL,
                   0x100,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    WB_CHECK_INT_EQ(wb_router_route(r, &t, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 0); /* on_truncate: ignore is the default */
    maps[0].on_truncate = WB_ON_TRUNCATE_TRUNCATE;
    WB_CHECK_INT_EQ(wb_router_route(r, &t, a, &ops, &nops, NULL), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_TRUNCATE);
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_errors_name_relation_column_lsn(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_target_op *ops;
    size_t nops;
    wb_error err;

    /* NULL key on insert. */
    wb_tuple_value v[] = {N, T("e"), T("f"), T("b"), N};
    wb_tuple nt = {5, v};
    wb_change c = {WB_CHANGE_INSERT,
                   &rel,
                   0,
                   NULL,
                   &nt,
                   0xABCDEF,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_CONTAINS(err.message, "null value in key column \"id\"");
    WB_CHECK_STR_EQ(err.relation, "portal.users");
    WB_CHECK_STR_EQ(err.column, "id");
    WB_CHECK_U64_EQ(err.lsn, 0xABCDEF);

    /* Delete whose key is not in the replica identity. */
    wb_pgoutput_column atts2[5];
    memcpy(atts2, atts, sizeof(atts2));
    atts2[0].flags = 0;
    atts2[1].flags = WB_PGO_COLUMN_KEY;
    wb_pgoutput_relation rel2 = rel;
    rel2.atts = atts2;
    wb_tuple_value ov[] = {N, T("e"), N, N, N};
    wb_tuple ot = {5, ov};
    wb_change d = {
        WB_CHANGE_DELETE, &rel2, 'K', &ot, NULL, 0x10, 0, 0, 1, NULL, 0, false};
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &d, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_CONTAINS(err.message, "not in the old tuple");
    WB_CHECK_STR_CONTAINS(err.hint, "REPLICA IDENTITY FULL");

    /* A mapped column dropped from the source. */
    wb_pgoutput_relation rel3 = rel;
    rel3.natts = 3; /* no "bio" */
    /* A new Relation message comes with a new version. */
    wb_change e = {
        WB_CHANGE_INSERT, &rel3, 0, NULL, &nt, 0x10, 0, 0, 2, NULL, 0, false};
    wb_tuple_value v3[] = {T("1"), T("e"), T("f")};
    wb_tuple nt3 = {3, v3};
    e.newtup = &nt3;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &e, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_EQ(err.column, "bio");
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

static void test_unmapped_and_disabled(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    WB_CHECK(wb_router_is_mapped(r, "portal", "users"));
    WB_CHECK(!wb_router_is_mapped(r, "public", "users"));
    WB_CHECK(!wb_router_is_mapped(r, "portal", "orders"));
    wb_router_destroy(r);
    maps[0].enabled = false;
    r = wb_router_create(&cfg, NULL);
    WB_CHECK(!wb_router_is_mapped(r, "portal", "users"));
    wb_router_destroy(r);
}

/* ---- the mapping language, from YAML --------------------------------- */

static const char lang_yaml[] =
    "source: {conninfo: x}\n"
    "mappings:\n"
    "  - name: users\n"
    "    from: portal.users\n"
    "    to: salesforce.account\n"
    "    key: {id: external_id__c}\n"
    "    columns: {email: personemail}\n"
    "    values:\n"
    "      name: {concat: [first_name, last_name], sep: \" \"}\n"
    "      leadsource: {const: Portal}\n"
    "      status__c: {map: status, values: {active: Active}, else: {const: "
    "Other}}\n"
    "    filter: \"status <> 'banned'\"\n"
    "    on_delete: {soft: {isdeleted: true}}\n"
    "    on_filter_out: delete\n"
    "    skip_unchanged: true\n"
    "  - name: orders\n"
    "    from: portal.users\n"
    "    to: salesforce.order__c\n"
    "    operations: [insert]\n"
    "    key: {id: external_id__c}\n"
    "    values:\n"
    "      account__c: {lookup: {table: salesforce.account, match: "
    "external_id__c, column: sfid}, from: id}\n";

static wb_pgoutput_column latts[] = {
    {WB_PGO_COLUMN_KEY, "id", 23, -1},
    {0, "email", 25, -1},
    {0, "first_name", 25, -1},
    {0, "last_name", 25, -1},
    {0, "status", 25, -1},
};
static wb_pgoutput_relation lrel = {16390, "portal", "users", 'd', 5, latts};

static void test_language(void)
{
    wb_config *c = NULL;
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_config_load_buffer(lang_yaml, strlen(lang_yaml),
                                          "lang.yaml", &c, &err),
                    0);
    if (!c) {
        fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    wb_router *r = wb_router_create(c, &err);
    wb_arena *a = wb_arena_create(0, 0);
    wb_target_op *ops;
    size_t nops;
    int found;

    /* insert: the row passes the filter; values computed. */
    wb_tuple_value v[] = {T("7"), T("m@x"), T("Mary"), T("Smith"), T("active")};
    wb_tuple nt = {5, v};
    wb_change ins = {
        WB_CHANGE_INSERT, &lrel, 0, NULL, &nt, 0x200, 0, 0, 1, NULL, 0, false};
    WB_CHECK_INT_EQ(wb_router_route(r, &ins, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 2);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPSERT);
    WB_CHECK(ops[0].skip_unchanged);
    WB_CHECK(!ops[0].has_lookup);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "name", &found),
                    "Mary Smith");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "leadsource", &found),
                    "Portal");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "status__c", &found),
                    "Active");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "personemail", &found),
                    "m@x");
    /* the second mapping: a lookup, carrying the match value */
    WB_CHECK_STR_EQ(ops[1].table, "order__c");
    WB_CHECK(ops[1].has_lookup);
    WB_CHECK_INT_EQ(ops[1].nset, 1);
    WB_CHECK_STR_EQ(ops[1].set[0].column, "account__c");
    WB_CHECK_STR_EQ(ops[1].set[0].value, "7");
    WB_CHECK(ops[1].set[0].lookup != NULL);
    if (ops[1].set[0].lookup) {
        WB_CHECK_STR_EQ(ops[1].set[0].lookup->table, "account");
        WB_CHECK_STR_EQ(ops[1].set[0].lookup->match, "external_id__c");
        WB_CHECK_STR_EQ(ops[1].set[0].lookup->column, "sfid");
    }

    /* an unmapped status takes else:; an insert that fails the filter
     * writes nothing. */
    v[4] = (wb_tuple_value)T("trial");
    WB_CHECK_INT_EQ(wb_router_route(r, &ins, a, &ops, &nops, &err), 0);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "status__c", &found),
                    "Other");
    v[4] = (wb_tuple_value)T("banned");
    WB_CHECK_INT_EQ(wb_router_route(r, &ins, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1); /* only orders, which has no filter */
    WB_CHECK_STR_EQ(ops[0].mapping, "orders");

    /* update out of the filter: on_filter_out (delete) by key; the insert-
     * only mapping ignores updates. */
    wb_change upd = {
        WB_CHANGE_UPDATE, &lrel, 0, NULL, &nt, 0x300, 0, 0, 1, NULL, 0, false};
    WB_CHECK_INT_EQ(wb_router_route(r, &upd, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_DELETE);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "7");

    /* an update with an unchanged TOAST last_name leaves "name" alone and
     * so cannot insert a missing row */
    v[4] = (wb_tuple_value)T("active");
    v[3] = (wb_tuple_value)U;
    WB_CHECK_INT_EQ(wb_router_route(r, &upd, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK(!ops[0].insert_if_missing);
    (void)find(ops[0].set, ops[0].nset, "name", &found);
    WB_CHECK_INT_EQ(found, 0);
    (void)find(ops[0].set, ops[0].nset, "leadsource", &found);
    WB_CHECK_INT_EQ(found, 1);

    /* delete: soft, by setting isdeleted */
    wb_tuple_value ov[] = {T("7"), N, N, N, N};
    wb_tuple ot = {5, ov};
    wb_change del = {WB_CHANGE_DELETE,
                     &lrel,
                     'K',
                     &ot,
                     NULL,
                     0x400,
                     0,
                     0,
                     1,
                     NULL,
                     0,
                     false};
    WB_CHECK_INT_EQ(wb_router_route(r, &del, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK(!ops[0].insert_if_missing);
    WB_CHECK_INT_EQ(ops[0].nset, 1);
    WB_CHECK_STR_EQ(ops[0].set[0].column, "isdeleted");
    WB_CHECK_STR_EQ(ops[0].set[0].value, "true");
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "7");

    /* a filter that reads an unchanged TOAST value cannot be decided */
    wb_tuple_value tv[] = {T("7"), T("m@x"), T("Mary"), T("Smith"), U};
    wb_tuple tt = {5, tv};
    wb_change upd2 = {
        WB_CHANGE_UPDATE, &lrel, 0, NULL, &tt, 0x500, 0, 0, 1, NULL, 0, false};
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &upd2, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_CONTAINS(err.message, "reads column \"status\"");
    WB_CHECK_STR_EQ(err.column, "status");
    WB_CHECK_U64_EQ(err.lsn, 0x500);

    wb_arena_destroy(a);
    wb_router_destroy(r);
    wb_config_free(c);
}

/* The reverse mapping next to Heroku Connect: accounts created in
 * Salesforce have no external id, so they are outside the filter; an update
 * of one (Salesforce edited it) with on_filter_out: ignore writes nothing
 * and needs no key, while one with on_filter_out: delete still needs it. */
static const char *reverse_yaml = "source: {conninfo: x}\n"
                                  "mappings:\n"
                                  "  - name: accounts_to_users\n"
                                  "    from: salesforce.account\n"
                                  "    to: portal.users\n"
                                  "    key: {external_id__c: id}\n"
                                  "    columns: {sfid: salesforce_id}\n"
                                  "    filter: \"external_id__c IS NOT NULL\"\n"
                                  "    on_delete: ignore\n"
                                  "    on_filter_out: ignore\n"
                                  "    skip_unchanged: true\n";

static wb_pgoutput_column ratts[] = {
    {WB_PGO_COLUMN_KEY, "id", 23, -1},
    {WB_PGO_COLUMN_KEY, "external_id__c", 1043, -1},
    {WB_PGO_COLUMN_KEY, "sfid", 1043, -1},
};
static wb_pgoutput_relation rrel = {16400, "salesforce", "account", 'f',
                                    3,     ratts};

static void test_filter_out_ignore_needs_no_key(void)
{
    wb_config *c = NULL;
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_config_load_buffer(reverse_yaml, strlen(reverse_yaml),
                                          "reverse.yaml", &c, &err),
                    0);
    if (!c) {
        fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    wb_router *r = wb_router_create(c, &err);
    wb_arena *a = wb_arena_create(0, 0);
    wb_target_op *ops;
    size_t nops;

    wb_tuple_value ov[] = {T("9"), N, T("001000000000009AAA")};
    wb_tuple_value nv[] = {T("9"), N, T("001000000000009AAA")};
    wb_tuple ot = {3, ov}, nt = {3, nv};
    wb_change upd = {
        WB_CHANGE_UPDATE, &rrel, 'O', &ot, &nt, 0x600, 0, 0, 1, NULL, 0, false};
    WB_CHECK_INT_EQ(wb_router_route(r, &upd, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 0);

    /* the same with on_filter_out: delete needs the (NULL) key */
    c->mappings[0].on_filter_out.action = WB_ON_DELETE_DELETE;
    wb_router_destroy(r);
    r = wb_router_create(c, &err);
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &upd, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_CONTAINS(err.message, "null value in key column");

    wb_arena_destroy(a);
    wb_router_destroy(r);
    wb_config_free(c);
}

/* conflict: an update carries each set column's old value, through the
 * same expressions; unknown without the old row or when the old row was
 * outside the filter; inserts carry none. */
static const char conflict_yaml[] =
    "source: {conninfo: x}\n"
    "mappings:\n"
    "  - name: users\n"
    "    from: portal.users\n"
    "    to: salesforce.account\n"
    "    key: {id: external_id__c}\n"
    "    columns: {email: personemail}\n"
    "    values:\n"
    "      name: {concat: [first_name, last_name], sep: \" \"}\n"
    "      src: {const: Portal}\n"
    "    filter: \"status <> 'banned'\"\n"
    "    conflict: {resolve: last_writer_wins, by: {source: status, target: "
    "status__c}}\n";

static const char *old_of_col(const wb_target_op *op, const char *col,
                              int *known)
{
    *known = -1;
    for (size_t i = 0; op->old && i < op->nset; i++)
        if (strcmp(op->set[i].column, col) == 0) {
            *known = op->old[i].column != NULL;
            return op->old[i].value;
        }
    return NULL;
}

static void test_conflict_old_values(void)
{
    wb_config *c = NULL;
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_config_load_buffer(conflict_yaml, strlen(conflict_yaml),
                                          "conflict.yaml", &c, &err),
                    0);
    if (!c) {
        fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.message);
        return;
    }
    wb_router *r = wb_router_create(c, &err);
    wb_arena *a = wb_arena_create(0, 0);
    wb_pgoutput_relation full = lrel;
    full.replident = 'f';
    wb_target_op *ops;
    size_t nops;
    int known;

    wb_tuple_value ov[] = {T("7"), T("m@x"), T("Mary"), T("Smith"),
                           T("active")};
    wb_tuple_value nv[] = {T("7"), T("m@x"), T("Maria"), T("Smith"),
                           T("trial")};
    wb_tuple ot = {5, ov}, nt = {5, nv};
    wb_change up = {WB_CHANGE_UPDATE,
                    &full,
                    'O',
                    &ot,
                    &nt,
                    0x300,
                    42,
                    0,
                    1,
                    NULL,
                    0,
                    false};
    WB_CHECK_INT_EQ(wb_router_route(r, &up, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK(ops[0].conflict == &c->mappings[0].conflict);
    WB_CHECK(ops[0].old != NULL);
    WB_CHECK_STR_EQ(ops[0].stamp, "trial");
    WB_CHECK_INT_EQ(ops[0].commit_time, 42);
    WB_CHECK_STR_EQ(ops[0].from_table, "users");
    WB_CHECK_STR_EQ(old_of_col(&ops[0], "name", &known), "Mary Smith");
    WB_CHECK_INT_EQ(known, 1);
    WB_CHECK_STR_EQ(old_of_col(&ops[0], "personemail", &known), "m@x");
    WB_CHECK_INT_EQ(known, 1);
    WB_CHECK_STR_EQ(old_of_col(&ops[0], "src", &known), "Portal");
    WB_CHECK_STR_EQ(old_of_col(&ops[0], "external_id__c", &known), "7");
    WB_CHECK_INT_EQ(known, 1);

    /* The old row was outside the filter: nothing to compare with. */
    wb_tuple_value bv[] = {T("7"), T("m@x"), T("Mary"), T("Smith"),
                           T("banned")};
    wb_tuple bt = {5, bv};
    wb_change back = {WB_CHANGE_UPDATE,
                      &full,
                      'O',
                      &bt,
                      &nt,
                      0x300,
                      42,
                      0,
                      1,
                      NULL,
                      0,
                      false};
    WB_CHECK_INT_EQ(wb_router_route(r, &back, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK(ops[0].old == NULL);

    /* No old row (DEFAULT identity): unknown. */
    wb_change noold = {
        WB_CHANGE_UPDATE, &lrel, 0, NULL, &nt, 0x300, 42, 0, 1, NULL, 0, false};
    WB_CHECK_INT_EQ(wb_router_route(r, &noold, a, &ops, &nops, &err), 0);
    WB_CHECK(ops[0].old == NULL);
    WB_CHECK(ops[0].conflict != NULL);

    /* Insert: a conflict op without old values. */
    wb_change ins = {
        WB_CHANGE_INSERT, &full, 0, NULL, &nt, 0x300, 42, 0, 1, NULL, 0, false};
    WB_CHECK_INT_EQ(wb_router_route(r, &ins, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPSERT);
    WB_CHECK(ops[0].old == NULL);
    WB_CHECK(ops[0].conflict != NULL);

    wb_arena_destroy(a);
    wb_router_destroy(r);
    wb_config_free(c);
}

/*
 * Another writer's change of a table that a last_writer_wins-by-commit-time
 * mapping writes: the router's output names the columns written, their
 * values and whether the old row had them (the column clock), and the
 * relation (lookup tables), so that the applier reads no decoder struct.
 */
static void test_clock_write_for_target_changes(void)
{
    setup();
    maps[0].conflict.resolve = WB_CONFLICT_LAST_WRITER_WINS;
    maps[0].conflict.by_commit_time = true;
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    wb_pgoutput_column tatts[] = {
        {WB_PGO_COLUMN_KEY, "external_id__c", 25, -1},
        {0, "personemail", 25, -1},
        {0, "firstname", 25, -1},
        {0, "description", 25, -1},
    };
    wb_pgoutput_relation target = {16390, "salesforce", "account", 'f',
                                   4,     tatts};
    wb_tuple_value ov[] = {T("42"), T("old@x"), T("Ann"), T("bio")};
    wb_tuple_value nv[] = {T("42"), T("new@x"), T("Ann"), U};
    wb_tuple ot = {4, ov}, nt = {4, nv};
    wb_change c = {WB_CHANGE_UPDATE,
                   &target,
                   'O',
                   &ot,
                   &nt,
                   0x500,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_routed out;

    WB_CHECK_INT_EQ(wb_router_route_change(r, &c, a, &out, NULL), 0);
    WB_CHECK(!out.mapped);
    WB_CHECK_U64_EQ(out.nops, 0);
    WB_CHECK_STR_EQ(out.changed_schema, "salesforce");
    WB_CHECK_STR_EQ(out.changed_table, "account");
    WB_CHECK_U64_EQ(out.nclock, 1);
    if (out.nclock == 1) {
        const wb_clock_write *w = &out.clock[0];
        WB_CHECK(w->mapping == &maps[0]);
        WB_CHECK_U64_EQ(w->lsn, 0x500);
        WB_CHECK_U64_EQ(w->nkeys, 1);
        WB_CHECK_STR_EQ(w->keys[0], "42");
        /* description is unchanged TOAST: not written, not recorded. */
        WB_CHECK_U64_EQ(w->ncols, 2);
        WB_CHECK_STR_EQ(w->cols[0], "personemail");
        WB_CHECK_STR_EQ(w->vals[0], "new@x");
        WB_CHECK(!w->same[0]);
        WB_CHECK_STR_EQ(w->cols[1], "firstname");
        WB_CHECK_STR_EQ(w->vals[1], "Ann");
        WB_CHECK(w->same[1]);
    }

    /* No usable key (NULL): nothing to record. */
    wb_tuple_value kv[] = {N, T("new@x"), T("Ann"), T("bio")};
    wb_tuple kt = {4, kv};
    wb_change k = {WB_CHANGE_INSERT,
                   &target,
                   0,
                   NULL,
                   &kt,
                   0x600,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    WB_CHECK_INT_EQ(wb_router_route_change(r, &k, a, &out, NULL), 0);
    WB_CHECK_U64_EQ(out.nclock, 0);
    WB_CHECK_STR_EQ(out.changed_table, "account");

    /* A truncate changes no row: no lookup note, no clock. */
    wb_change t = {WB_CHANGE_TRUNCATE,
                   &target,
                   0,
                   NULL,
                   NULL,
                   0x700,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    WB_CHECK_INT_EQ(wb_router_route_change(r, &t, a, &out, NULL), 0);
    WB_CHECK(out.changed_table == NULL);
    WB_CHECK_U64_EQ(out.nclock, 0);
    wb_router_destroy(r);

    /* Without by_commit_time there is no clock to keep. */
    maps[0].conflict.by_commit_time = false;
    r = wb_router_create(&cfg, NULL);
    WB_CHECK_INT_EQ(wb_router_route_change(r, &c, a, &out, NULL), 0);
    WB_CHECK_U64_EQ(out.nclock, 0);
    wb_router_destroy(r);
    wb_arena_destroy(a);
}

/* Binary values: passed on unconverted in ops with the binary flag, as
 * long as the relation keeps the types they were chosen for. */
static void test_binary_values(void)
{
    setup();
    wb_router *r = wb_router_create(&cfg, NULL);
    wb_arena *a = wb_arena_create(0, 0);
    const char *id = wb_value_copy(a, "\0\0\0\x2a", 4, true);
    const char *email = wb_value_copy(a, "m@x", 3, true);
    wb_tuple_value v[] = {{WB_TUPLE_BINARY, 4, id},
                          {WB_TUPLE_BINARY, 3, email},
                          N,
                          {WB_TUPLE_BINARY, 3, email},
                          T("x")};
    wb_tuple nt = {5, v};
    wb_change c = {
        WB_CHANGE_INSERT, &rel, 0, NULL, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;
    wb_error err;

    /* A router reading text refuses binary values. */
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, &err), WB_EDATA);
    WB_CHECK_STR_CONTAINS(err.message, "binary format");

    /* The types of the key then the columns (id, email, first_name, bio). */
    uint32_t types[] = {23, 25, 25, 25};
    WB_CHECK_INT_EQ(wb_router_set_binary(r, &maps[0], types, NULL), 0);
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK(ops[0].binary);
    WB_CHECK(ops[0].keys[0].value == id); /* the decoder's, unconverted */
    WB_CHECK_INT_EQ(wb_value_len(ops[0].keys[0].value), 4);

    /* A column that changed type: read the stream again as text. */
    wb_pgoutput_column atts2[5];
    memcpy(atts2, atts, sizeof(atts2));
    atts2[1].typoid = 1043;
    wb_pgoutput_relation rel2 = rel;
    rel2.atts = atts2;
    wb_change c2 = c;
    c2.rel = &rel2;
    c2.rel_version = 2;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_router_route(r, &c2, a, &ops, &nops, &err), WB_EFORMAT);
    WB_CHECK_STR_EQ(err.column, "email");
    WB_CHECK_STR_CONTAINS(err.message, "changed type");

    /* id (integer) goes into a text column in its text form. */
    uint8_t text[] = {1, 0, 0, 0};
    WB_CHECK_INT_EQ(wb_router_set_binary(r, &maps[0], types, text), 0);
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, &err), 0);
    WB_CHECK(ops[0].binary);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    WB_CHECK(wb_value_binary(ops[0].keys[0].value));
    WB_CHECK(ops[0].set[0].value == email); /* the rest unconverted */

    /* Back to text (walbridge reads the stream again as text after a
     * binary statement failed): binary values are refused, text ones
     * go as they are, none converted (a stale "text form" flag made
     * routing read the freed conversion table). */
    wb_router_set_text(r);
    WB_CHECK_INT_EQ(wb_router_route(r, &c, a, &ops, &nops, NULL), WB_EDATA);
    wb_tuple_value tv[] = {T("42"), T("m@x"), N, T("m@x"), T("x")};
    wb_tuple tt = {5, tv};
    wb_change ct = c;
    ct.newtup = &tt;
    WB_CHECK_INT_EQ(wb_router_route(r, &ct, a, &ops, &nops, &err), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK(!ops[0].binary);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    wb_arena_destroy(a);
    wb_router_destroy(r);
}

int main(void)
{
    WB_RUN(test_conflict_old_values);
    WB_RUN(test_insert_is_upsert);
    WB_RUN(test_update_key_change_uses_old_key);
    WB_RUN(test_update_without_old_tuple);
    WB_RUN(test_full_identity_fills_unchanged);
    WB_RUN(test_delete_and_policies);
    WB_RUN(test_errors_name_relation_column_lsn);
    WB_RUN(test_unmapped_and_disabled);
    WB_RUN(test_language);
    WB_RUN(test_filter_out_ignore_needs_no_key);
    WB_RUN(test_clock_write_for_target_changes);
    WB_RUN(test_binary_values);
    return wbtest_summary();
}
