/*
 * test_plugin.c - the plugin ABI end to end without a server: the example
 * plugins of tests/plugins (built as shared objects into WB_PLUGIN_DIR) are
 * loaded by wb_router_create from a configuration parsed by
 * wb_config_load_buffer, fed hand-built changes, and their operations
 * checked as the applier would receive them.  Also the loader's refusals:
 * another ABI version, no entry symbol, a missing file, and a plugin config
 * that init() rejects, each with the file:line:column of the YAML node.
 *
 * The config's name is WB_PLUGIN_DIR/plugins.yaml, so the relative plugin
 * paths below also test that they are taken from the config's directory.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "common/log.h"
#include "map/router.h"
#include "wbtest.h"

#ifndef WB_PLUGIN_DIR
#error "WB_PLUGIN_DIR must name the directory of the example plugins"
#endif
#define CFG_NAME WB_PLUGIN_DIR "/plugins.yaml"

/* Lines 1-3; mappings start on line 4. */
#define HEAD                                                                   \
    "source:\n"                                                                \
    "  conninfo: host=src\n"                                                   \
    "mappings:\n"

static const char both[] =
    HEAD "  - name: customers_to_contacts\n" /* 4 */
         "    from: public.customers\n"
         "    to: salesforce.contact\n"
         "    plugin:\n"
         "      path: libwb_split_name.so\n" /* 8 */
         "      config:\n"
         "        source: name\n"
         "        first: firstname\n"
         "        last: lastname\n"
         "        key: { id: external_id__c }\n"
         "        columns: { email: email }\n"
         "  - name: users_status\n"
         "    from: portal.users\n"
         "    to: [salesforce.account]\n"
         "    plugin:\n"
         "      path: libwb_derive_status.so\n"
         "      config: { status: status, email: email, to: status__c,\n"
         "                key: { id: external_id__c }, fail_on: frozen }\n";

/* public.customers as the source describes it (id is the identity). */
static wb_pgoutput_column cust_atts[] = {
    {WB_PGO_COLUMN_KEY, "id", 20, -1},
    {0, "email", 1043, -1},
    {0, "name", 1043, -1},
    {0, "created_at", 1114, -1},
    {0, "updated_at", 1114, -1},
};
static wb_pgoutput_relation customers = {16400, "public", "customers",
                                         'd',   5,        cust_atts};

static wb_pgoutput_column user_atts[] = {
    {WB_PGO_COLUMN_KEY, "id", 23, -1},
    {0, "email", 1043, -1},
    {0, "first_name", 1043, -1},
    {0, "status", 1043, -1},
};
static wb_pgoutput_relation users = {16384, "portal", "users",
                                     'd',   4,        user_atts};

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

typedef struct fixture {
    wb_config *cfg;
    wb_router *r;
    wb_arena *a;
    wb_error err;
} fixture;

static int open_fixture(fixture *f, const char *yaml)
{
    memset(f, 0, sizeof(*f));
    wb_error_clear(&f->err);
    if (wb_config_load_buffer(yaml, strlen(yaml), CFG_NAME, &f->cfg, &f->err) !=
        0) {
        printf("  config: %s (line %d col %d)\n", f->err.message, f->err.line,
               f->err.col);
        return -1;
    }
    f->r = wb_router_create(f->cfg, &f->err);
    f->a = wb_arena_create(0, 0);
    if (!f->r)
        printf("  router: %s / %s\n", f->err.message, f->err.detail);
    return f->r ? 0 : -1;
}

static void close_fixture(fixture *f)
{
    wb_router_destroy(f->r);
    wb_config_free(f->cfg);
    wb_arena_destroy(f->a);
}

static int route(fixture *f, const wb_change *c, wb_target_op **ops,
                 size_t *nops)
{
    wb_error_clear(&f->err);
    wb_arena_reset(f->a);
    return wb_router_route(f->r, c, f->a, ops, nops, &f->err);
}

/* The value of target column col in v; *found says whether it is there. */
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

/* ------------------------------------------------------------ split_name */

static void check_names(const char *full, const char *first, const char *last)
{
    fixture f;
    wb_tuple_value v[] = {T("42"), T("ada@example.com"), T(full), T("t"),
                          T("t")};
    wb_tuple nt = {5, v};
    wb_change c = {WB_CHANGE_INSERT,
                   &customers,
                   0,
                   NULL,
                   &nt,
                   0x100,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;
    int found;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    if (nops == 1) {
        WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPSERT);
        WB_CHECK_STR_EQ(ops[0].mapping, "customers_to_contacts");
        WB_CHECK_STR_EQ(ops[0].schema, "salesforce");
        WB_CHECK_STR_EQ(ops[0].table, "contact");
        WB_CHECK_INT_EQ(ops[0].nkeys, 1);
        WB_CHECK_STR_EQ(ops[0].keys[0].column, "external_id__c");
        WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
        WB_CHECK_INT_EQ(ops[0].nset, 3);
        WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "firstname", &found),
                        first);
        WB_CHECK_INT_EQ(found, 1); /* NULL is written, not left out */
        WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "lastname", &found),
                        last);
        WB_CHECK_INT_EQ(found, 1);
        WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "email", &found),
                        "ada@example.com");
        WB_CHECK(!ops[0].insert_if_missing && !ops[0].skip_unchanged &&
                 !ops[0].has_lookup);
    }
    close_fixture(&f);
}

static void test_split_at_last_space(void)
{
    check_names("Ada Lovelace", "Ada", "Lovelace");
    check_names("Ada King Lovelace", "Ada King", "Lovelace");
    check_names("  Ada   Lovelace  ", "Ada", "Lovelace");
    check_names("Jean-Luc Picard", "Jean-Luc", "Picard");
    check_names("Zoë Ångström", "Zoë", "Ångström");
}

static void test_split_one_word_is_last_name(void)
{
    check_names("Cher", NULL, "Cher");
    check_names("  Cher ", NULL, "Cher");
    check_names("", NULL, NULL);
    check_names("   ", NULL, NULL);
}

static void test_split_null_name(void)
{
    fixture f;
    wb_tuple_value v[] = {T("7"), N, N, T("t"), T("t")};
    wb_tuple nt = {5, v};
    wb_change c = {WB_CHANGE_INSERT,
                   &customers,
                   0,
                   NULL,
                   &nt,
                   0x100,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;
    int found;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK(find(ops[0].set, ops[0].nset, "firstname", &found) == NULL);
    WB_CHECK_INT_EQ(found, 1);
    WB_CHECK(find(ops[0].set, ops[0].nset, "lastname", &found) == NULL);
    WB_CHECK_INT_EQ(found, 1);
    WB_CHECK(find(ops[0].set, ops[0].nset, "email", &found) == NULL);
    WB_CHECK_INT_EQ(found, 1);
    close_fixture(&f);
}

static void test_split_update_key_change(void)
{
    fixture f;
    /* 'K' old tuple: the identity only. */
    wb_tuple_value ov[] = {T("42"), N, N, N, N};
    wb_tuple_value nv[] = {T("43"), T("e@x"), T("Grace Hopper"), T("t"),
                           T("t")};
    wb_tuple ot = {5, ov}, nt = {5, nv};
    wb_change c = {WB_CHANGE_UPDATE,
                   &customers,
                   'K',
                   &ot,
                   &nt,
                   0x200,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;
    int found;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK_STR_EQ(ops[0].keys[0].column, "external_id__c");
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42"); /* the row as it was */
    WB_CHECK_INT_EQ(ops[0].nset, 4);
    WB_CHECK_STR_EQ(ops[0].set[0].column, "external_id__c"); /* key first */
    WB_CHECK_STR_EQ(ops[0].set[0].value, "43");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "firstname", &found),
                    "Grace");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "lastname", &found),
                    "Hopper");
    WB_CHECK(ops[0].insert_if_missing);
    close_fixture(&f);
}

static void test_split_update_unchanged_toast(void)
{
    fixture f;
    wb_tuple_value nv[] = {T("42"), T("new@x"), U, T("t"), T("t")};
    wb_tuple nt = {5, nv};
    wb_change c = {WB_CHANGE_UPDATE,
                   &customers,
                   0,
                   NULL,
                   &nt,
                   0x200,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;
    int found;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    /* The names are left out (the target keeps them), never NULLed, and a
     * missing row is not inserted from a partial set. */
    find(ops[0].set, ops[0].nset, "firstname", &found);
    WB_CHECK_INT_EQ(found, 0);
    find(ops[0].set, ops[0].nset, "lastname", &found);
    WB_CHECK_INT_EQ(found, 0);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "email", &found), "new@x");
    WB_CHECK(!ops[0].insert_if_missing);
    close_fixture(&f);
}

static void test_split_delete(void)
{
    static const char ignore[] = HEAD
        "  - name: m\n"
        "    from: public.customers\n"
        "    to: salesforce.contact\n"
        "    plugin:\n"
        "      path: libwb_split_name.so\n"
        "      config: { source: name, first: firstname, last: lastname,\n"
        "                key: { id: external_id__c }, on_delete: ignore }\n";
    fixture f;
    wb_tuple_value ov[] = {T("42"), N, N, N, N};
    wb_tuple ot = {5, ov};
    wb_change c = {WB_CHANGE_DELETE,
                   &customers,
                   'K',
                   &ot,
                   NULL,
                   0x300,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_DELETE);
    WB_CHECK_STR_EQ(ops[0].table, "contact");
    WB_CHECK_STR_EQ(ops[0].keys[0].column, "external_id__c");
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "42");
    WB_CHECK_INT_EQ(ops[0].nset, 0);
    close_fixture(&f);

    if (open_fixture(&f, ignore) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 0);
    close_fixture(&f);
}

static void test_split_null_key_names_column(void)
{
    fixture f;
    wb_tuple_value v[] = {N, T("e@x"), T("Ada Lovelace"), T("t"), T("t")};
    wb_tuple nt = {5, v};
    wb_change c = {WB_CHANGE_INSERT,
                   &customers,
                   0,
                   NULL,
                   &nt,
                   0x1234,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), WB_EDATA);
    WB_CHECK_INT_EQ(f.err.code, WB_EDATA);
    WB_CHECK(strstr(f.err.message, "null value in key column \"id\"") != NULL);
    WB_CHECK_STR_EQ(f.err.column, "id");
    WB_CHECK_STR_EQ(f.err.relation, "public.customers");
    WB_CHECK_U64_EQ(f.err.lsn, 0x1234);
    WB_CHECK(strstr(f.err.detail, "plugin \"split_name\" 1.0") != NULL);
    WB_CHECK(strstr(f.err.detail, "\"customers_to_contacts\"") != NULL);
    close_fixture(&f);
}

/* Positions are cached per relation version: a new Relation message with
 * the columns in another order (a column dropped and re-added) is followed. */
static void test_split_follows_relation_version(void)
{
    wb_pgoutput_column atts2[] = {
        {WB_PGO_COLUMN_KEY, "id", 20, -1},
        {0, "created_at", 1114, -1},
        {0, "updated_at", 1114, -1},
        {0, "name", 1043, -1},
        {0, "email", 1043, -1},
    };
    wb_pgoutput_relation rel2 = {16400, "public", "customers", 'd', 5, atts2};
    fixture f;
    wb_tuple_value v1[] = {T("1"), T("a@x"), T("Ada Lovelace"), T("t"), T("t")};
    wb_tuple_value v2[] = {T("2"), T("t"), T("t"), T("Alan Turing"), T("b@x")};
    wb_tuple t1 = {5, v1}, t2 = {5, v2};
    wb_change c1 = {WB_CHANGE_INSERT,
                    &customers,
                    0,
                    NULL,
                    &t1,
                    0x100,
                    0,
                    0,
                    1,
                    NULL,
                    0,
                    false};
    wb_change c2 = {
        WB_CHANGE_INSERT, &rel2, 0, NULL, &t2, 0x200, 0, 0, 2, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;
    int found;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c1, &ops, &nops), 0);
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "lastname", &found),
                    "Lovelace");
    WB_CHECK_INT_EQ(route(&f, &c2, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "2");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "firstname", &found), "Alan");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "lastname", &found),
                    "Turing");
    WB_CHECK_STR_EQ(find(ops[0].set, ops[0].nset, "email", &found), "b@x");
    close_fixture(&f);
}

/* --------------------------------------------------------- derive_status */

static void check_status(const char *status, const char *email,
                         const char *expected)
{
    fixture f;
    wb_tuple_value v[] = {
        T("5"), email ? (wb_tuple_value)T(email) : (wb_tuple_value)N, T("F"),
        status ? (wb_tuple_value)T(status) : (wb_tuple_value)N};
    wb_tuple nt = {4, v};
    wb_change c = {
        WB_CHANGE_INSERT, &users, 0, NULL, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_target_op *ops;
    size_t nops;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    /* Only the mapping from portal.users runs. */
    WB_CHECK_INT_EQ(nops, 1);
    if (nops == 1) {
        WB_CHECK_STR_EQ(ops[0].mapping, "users_status");
        WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPSERT);
        WB_CHECK_STR_EQ(ops[0].schema, "salesforce");
        WB_CHECK_STR_EQ(ops[0].table, "account");
        WB_CHECK_STR_EQ(ops[0].keys[0].column, "external_id__c");
        WB_CHECK_STR_EQ(ops[0].keys[0].value, "5");
        WB_CHECK_INT_EQ(ops[0].nset, 1);
        WB_CHECK_STR_EQ(ops[0].set[0].column, "status__c");
        WB_CHECK_STR_EQ(ops[0].set[0].value, expected);
    }
    close_fixture(&f);
}

static void test_derive_status_values(void)
{
    check_status("active", "a@x", "Active");
    check_status("active", NULL, "Pending");
    check_status("active", "", "Pending");
    check_status("banned", "a@x", "Suspended");
    check_status("inactive", "a@x", "Inactive");
    check_status(NULL, "a@x", NULL);
}

static void test_derive_status_update_and_delete(void)
{
    fixture f;
    wb_tuple_value nv[] = {T("5"), T("a@x"), T("F"), T("banned")};
    wb_tuple_value ov[] = {T("5"), N, N, N};
    wb_tuple nt = {4, nv}, ot = {4, ov};
    wb_change u = {
        WB_CHANGE_UPDATE, &users, 0, NULL, &nt, 0x100, 0, 0, 1, NULL, 0, false};
    wb_change d = {WB_CHANGE_DELETE,
                   &users,
                   'K',
                   &ot,
                   NULL,
                   0x200,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &u, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "5");
    WB_CHECK_INT_EQ(ops[0].nset, 2);
    WB_CHECK_STR_EQ(ops[0].set[0].column, "external_id__c");
    WB_CHECK_STR_EQ(ops[0].set[0].value, "5");
    WB_CHECK_STR_EQ(ops[0].set[1].column, "status__c");
    WB_CHECK_STR_EQ(ops[0].set[1].value, "Suspended");
    WB_CHECK(ops[0].insert_if_missing);

    WB_CHECK_INT_EQ(route(&f, &d, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    WB_CHECK_INT_EQ(ops[0].kind, WB_OP_UPDATE);
    WB_CHECK_STR_EQ(ops[0].keys[0].value, "5");
    WB_CHECK_INT_EQ(ops[0].nset, 1);
    WB_CHECK_STR_EQ(ops[0].set[0].column, "status__c");
    WB_CHECK_STR_EQ(ops[0].set[0].value, "Deleted");
    WB_CHECK(!ops[0].insert_if_missing); /* mark, never create */
    close_fixture(&f);
}

static void test_derive_status_fail_on(void)
{
    fixture f;
    wb_tuple_value v[] = {T("5"), T("a@x"), T("F"), T("frozen")};
    wb_tuple nt = {4, v};
    wb_change c = {WB_CHANGE_UPDATE,
                   &users,
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
    wb_target_op *ops;
    size_t nops;

    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), WB_EDATA);
    WB_CHECK_INT_EQ(nops, 0);
    WB_CHECK_STR_EQ(f.err.message, "status \"frozen\" is refused by mapping "
                                   "\"users_status\" (fail_on)");
    WB_CHECK_STR_EQ(f.err.column, "status");
    WB_CHECK_STR_EQ(f.err.relation, "portal.users");
    WB_CHECK_U64_EQ(f.err.lsn, 0xABCDEF);
    WB_CHECK(strstr(f.err.detail, "plugin \"derive_status\"") != NULL);
    WB_CHECK(strstr(f.err.hint, "fail_on") != NULL);
    /* The next change is mapped again: the failure left no state behind. */
    v[3] = (wb_tuple_value)T("active");
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    close_fixture(&f);
}

/* A plugin may allocate its target and column names in the per-message
 * arena; the applier keeps an operation's names past the message (a
 * set-based run spans messages), so what the router hands on must not
 * point into the arena. */
static void test_emitted_names_outlive_the_message(void)
{
    static const char yaml[] =
        HEAD "  - name: arena\n"
             "    from: public.customers\n"
             "    to: salesforce.contact\n"
             "    plugin: { path: libwb_arena_names.so }\n";
    fixture f;
    wb_tuple_value v[] = {T("9"), T("e@x"), T("n"), T("t"), T("t")};
    wb_tuple nt = {5, v};
    wb_change c = {WB_CHANGE_INSERT,
                   &customers,
                   0,
                   NULL,
                   &nt,
                   0x100,
                   0,
                   0,
                   1,
                   NULL,
                   0,
                   false};
    wb_target_op *ops;
    size_t nops;
    const char *schema, *table, *key, *col;

    if (open_fixture(&f, yaml) != 0) {
        WB_CHECK(!"fixture");
        return;
    }
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK_INT_EQ(nops, 1);
    if (nops != 1) {
        close_fixture(&f);
        return;
    }
    schema = ops[0].schema;
    table = ops[0].table;
    key = ops[0].keys[0].column;
    col = ops[0].set[0].column;
    /* The next message overwrites the arena. */
    wb_arena_reset(f.a);
    for (int i = 0; i < 64; i++) {
        char *p = wb_arena_alloc(f.a, 1024);
        if (p)
            memset(p, 0, 1024); /* a failure then shows "" */
    }
    WB_CHECK_STR_EQ(schema, "salesforce");
    WB_CHECK_STR_EQ(table, "contact");
    WB_CHECK_STR_EQ(key, "external_id__c");
    WB_CHECK_STR_EQ(col, "email");
    /* The same names the next time: one copy per mapping, not per op. */
    WB_CHECK_INT_EQ(route(&f, &c, &ops, &nops), 0);
    WB_CHECK(nops == 1 && ops[0].set[0].column == col &&
             ops[0].keys[0].column == key);
    close_fixture(&f);
}

static char logged[512];

static void capture(void *ud, wb_log_level level, const char *msg,
                    const wb_error *err)
{
    (void)ud;
    (void)err;
    if (level == WB_LOG_WARNING)
        snprintf(logged, sizeof(logged), "%s", msg);
}

/* init() has no ctx: it logs through args->host with ctx NULL, and the
 * line names the mapping (derive_status warns about fail_on). */
static void test_init_logs_without_ctx(void)
{
    fixture f;
    logged[0] = '\0';
    wb_log_set_sink(capture, NULL);
    if (open_fixture(&f, both) != 0) {
        WB_CHECK(!"fixture");
    } else {
        WB_CHECK_STR_EQ(logged, "mapping \"users_status\": a status of "
                                "\"frozen\" will stop walbridge (fail_on)");
        close_fixture(&f);
    }
    wb_log_set_sink(NULL, NULL);
}

/* ------------------------------------------------------ loader refusals */

/* Load yaml; the router must fail with WB_ECONFIG at line:col of CFG_NAME,
 * with needle in the message. */
static void expect_refused(const char *yaml, int line, int col,
                           const char *needle, wb_error *err)
{
    wb_config *cfg = NULL;
    wb_router *r;

    wb_error_clear(err);
    if (wb_config_load_buffer(yaml, strlen(yaml), CFG_NAME, &cfg, err) != 0) {
        WBTEST_FAIL_("config did not load: %s", err->message);
        return;
    }
    r = wb_router_create(cfg, err);
    WB_CHECK(r == NULL);
    wb_router_destroy(r);
    WB_CHECK_INT_EQ(err->code, WB_ECONFIG);
    if (!strstr(err->message, needle))
        WBTEST_FAIL_("message \"%s\" does not contain \"%s\"", err->message,
                     needle);
    WB_CHECK_STR_EQ(err->file, CFG_NAME);
    WB_CHECK_INT_EQ(err->line, line);
    WB_CHECK_INT_EQ(err->col, col);
    wb_config_free(cfg);
}

#define ONE_PLUGIN(path, config)                                               \
    HEAD "  - name: m\n"                                                       \
         "    from: public.customers\n"                                        \
         "    to: salesforce.contact\n"                                        \
         "    plugin:\n"                                                       \
         "      path: " path "\n" /* line 8, the value at column 13 */         \
         "      config:\n" config

#define SPLIT_OK                                                               \
    "        source: name\n"                                                   \
    "        first: firstname\n"                                               \
    "        last: lastname\n"

static void test_abi_mismatch_names_both_versions(void)
{
    wb_error err;
    expect_refused(ONE_PLUGIN("libwb_bad_abi.so", "        x: 1\n"), 8, 13,
                   "built for plugin ABI version 2", &err);
    WB_CHECK(strstr(err.message, "libwb_bad_abi.so") != NULL);
    WB_CHECK(strstr(err.detail, "speaks plugin ABI version 1") != NULL);
    WB_CHECK(strstr(err.hint, "Rebuild the plugin") != NULL);
}

static void test_no_entry_symbol(void)
{
    wb_error err;
    expect_refused(ONE_PLUGIN("libwb_no_entry.so", "        x: 1\n"), 8, 13,
                   "does not export \"walbridge_plugin\"", &err);
}

static void test_missing_file(void)
{
    wb_error err;
    expect_refused(ONE_PLUGIN("no/such/plugin.so", "        x: 1\n"), 8, 13,
                   "could not load plugin", &err);
    /* Relative to the config file's directory, not the working directory. */
    WB_CHECK(strstr(err.message, WB_PLUGIN_DIR "/no/such/plugin.so") != NULL);
}

static void test_bad_config_position(void)
{
    wb_error err;
    /* An unknown key: the position of its value. */
    expect_refused(ONE_PLUGIN("libwb_split_name.so",
                              SPLIT_OK "        key: { id: external_id__c }\n"
                                       "        frist: firstname\n"),
                   14, 16, "unknown key \"frist\"", &err);
    WB_CHECK(strstr(err.detail, "plugin \"split_name\" 1.0 of mapping \"m\"") !=
             NULL);
    /* A missing key: the position of the config map. */
    expect_refused(ONE_PLUGIN("libwb_split_name.so", SPLIT_OK), 10, 9,
                   "has no \"key\"", &err);
    /* A bad value. */
    expect_refused(ONE_PLUGIN("libwb_split_name.so",
                              SPLIT_OK "        key: { id: external_id__c }\n"
                                       "        on_delete: soft\n"),
                   14, 20,
                   "on_delete of plugin split_name must be delete or "
                   "ignore, not \"soft\"",
                   &err);
    /* A key that is not a map. */
    expect_refused(
        ONE_PLUGIN("libwb_split_name.so", SPLIT_OK "        key: id\n"), 13, 14,
        "\"key\" in the configuration of plugin split_name", &err);
    /* derive_status: key must be one pair. */
    expect_refused(ONE_PLUGIN("libwb_derive_status.so",
                              "        status: status\n"
                              "        email: email\n"
                              "        to: status__c\n"
                              "        key: { id: a, email: b }\n"),
                   13, 14, "must be one source column: target column pair",
                   &err);
}

int main(void)
{
    wb_log_set_level(WB_LOG_WARNING);
    WB_RUN(test_split_at_last_space);
    WB_RUN(test_split_one_word_is_last_name);
    WB_RUN(test_split_null_name);
    WB_RUN(test_split_update_key_change);
    WB_RUN(test_split_update_unchanged_toast);
    WB_RUN(test_split_delete);
    WB_RUN(test_split_null_key_names_column);
    WB_RUN(test_split_follows_relation_version);
    WB_RUN(test_derive_status_values);
    WB_RUN(test_derive_status_update_and_delete);
    WB_RUN(test_derive_status_fail_on);
    WB_RUN(test_emitted_names_outlive_the_message);
    WB_RUN(test_init_logs_without_ctx);
    WB_RUN(test_abi_mismatch_names_both_versions);
    WB_RUN(test_no_entry_symbol);
    WB_RUN(test_missing_file);
    WB_RUN(test_bad_config_position);
    return wbtest_summary();
}
