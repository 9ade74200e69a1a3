/*
 * test_binary.c - when values may travel in binary format
 * (check/binary.c's decision, from catalog rows given here).
 */
#include <stdio.h>
#include <string.h>

#include "check/binary.h"
#include "config/config.h"
#include "wbtest.h"

static wb_config *load(const char *mappings)
{
    char yaml[2048];
    wb_config *c = NULL;
    wb_error err;
    snprintf(yaml, sizeof(yaml), "source: {conninfo: x}\nmappings:\n%s",
             mappings);
    wb_error_clear(&err);
    if (wb_config_load_buffer(yaml, strlen(yaml), "t.yaml", &c, &err) != 0)
        fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.message);
    return c;
}

static const char copy_yaml[] = "  - name: m\n"
                                "    from: portal.users\n"
                                "    to: public.users\n"
                                "    key: {id: id}\n"
                                "    columns: {email: email, mood: mood}\n";

/* Source and target columns: id int4, email text, mood a user enum. */
static const wb_binary_col src[] = {
    {"portal", "users", "id", 23, true, true, "integer"},
    {"portal", "users", "email", 25, true, true, "text"},
    {"portal", "users", "mood", 16400, true, true, "portal.mood"},
    {"portal", "users", "unmapped", 600, true, true, "point"},
};
static const wb_binary_col tgt[] = {
    {"public", "users", "id", 23, true, true, "integer"},
    {"public", "users", "email", 25, true, true, "text"},
    {"public", "users", "mood", 16400, true, true, "portal.mood"},
};

static void test_copying_mapping(void)
{
    wb_config *c = load(copy_yaml);
    wb_binary_plan p;
    WB_CHECK(c != NULL);
    if (!c)
        return;
    /* One database: a user type's OID is the same type on both sides. */
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, tgt, 3, true, &p), 0);
    WB_CHECK(p.binary);
    WB_CHECK_INT_EQ(p.nmappings, 1);
    WB_CHECK(p.types && p.types[0] && p.types[0][0] == 23 &&
             p.types[0][1] == 25 && p.types[0][2] == 16400);
    wb_binary_plan_free(&p);

    /* Another database: the enum's OID means nothing there. */
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, tgt, 3, false, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_CONTAINS(p.reason, "not built in");
    WB_CHECK(p.types == NULL);

    /* Another type on the target. */
    wb_binary_col t2[3];
    memcpy(t2, tgt, sizeof(t2));
    t2[0].typoid = 20;
    t2[0].type = "bigint";
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, t2, 3, true, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_CONTAINS(p.reason, "copies column \"id\" (type integer) "
                                    "into column \"id\" of another type "
                                    "(bigint)");

    /* text into varchar: the same characters in both formats. */
    memcpy(t2, tgt, sizeof(t2));
    t2[1].typoid = 1043;
    t2[1].type = "character varying";
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, t2, 3, true, &p), 0);
    WB_CHECK(p.binary);
    wb_binary_plan_free(&p);

    /* integer into varchar: in its text form, which the router writes. */
    memcpy(t2, tgt, sizeof(t2));
    t2[0].typoid = 1043;
    t2[0].type = "character varying";
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, t2, 3, true, &p), 0);
    WB_CHECK(p.binary);
    WB_CHECK(p.text && p.text[0] && p.text[0][0] == 1 && p.text[0][1] == 0);
    wb_binary_plan_free(&p);
    /* ... but not a type whose text form depends on settings. */
    wb_binary_col s2[4];
    memcpy(s2, src, sizeof(s2));
    s2[0].typoid = 1184;
    s2[0].type = "timestamp with time zone";
    WB_CHECK_INT_EQ(wb_binary_decide(c, s2, 4, t2, 3, true, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_CONTAINS(p.reason, "another type (character varying)");

    /* No binary format; a column not found. */
    memcpy(t2, tgt, sizeof(t2));
    t2[1].has_recv = false;
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, t2, 3, true, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_CONTAINS(p.reason, "no binary format");
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, tgt, 2, true, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_CONTAINS(p.reason, "\"mood\" of mapping \"m\" was not found");

    /* source.binary: off. */
    c->source.binary = WB_BINARY_OFF;
    WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, tgt, 3, true, &p), 0);
    WB_CHECK(!p.binary);
    WB_CHECK_STR_EQ(p.reason, "source.binary is off");
    wb_config_free(c);
}

/* Every mapping feature that reads values as text keeps the stream text. */
static void test_text_features(void)
{
    static const struct {
        const char *extra, *why;
    } cases[] = {
        {"    values: {email: {const: x}}\n", "computes values"},
        {"    filter: \"id > 0\"\n", "has a filter"},
        {"    conflict: {resolve: last_writer_wins, by: commit_time}\n",
         "resolves conflicts"},
        {"    on_delete: {soft: {email: gone}}\n", "soft-deletes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char m[1024];
        snprintf(m, sizeof(m),
                 "  - name: m\n    from: portal.users\n    to: public.users\n"
                 "    key: {id: id}\n%s",
                 cases[i].extra);
        wb_config *c = load(m);
        wb_binary_plan p;
        WB_CHECK(c != NULL);
        if (!c)
            continue;
        WB_CHECK_INT_EQ(wb_binary_decide(c, src, 4, tgt, 3, true, &p), 0);
        WB_CHECK(!p.binary);
        WB_CHECK_STR_CONTAINS(p.reason, cases[i].why);
        wb_config_free(c);
    }
}

int main(void)
{
    WB_RUN(test_copying_mapping);
    WB_RUN(test_text_features);
    return wbtest_summary();
}
