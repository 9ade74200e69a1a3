/*
 * test_stmtcache.c - the shape key of a row statement: everything that
 * changes the statement's text is in it, nothing else (values are not).
 */
#include <stdlib.h>
#include <string.h>

#include "apply/stmtcache.h"
#include "wbtest.h"

static wb_op_value keys[1] = {{"id", "1", NULL}};
static wb_op_value set[2] = {{"a", "x", NULL}, {"b", "y", NULL}};

static wb_target_op base(wb_op_kind kind)
{
    wb_target_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.mapping = "m";
    op.schema = "s";
    op.table = "t";
    op.keys = keys;
    op.nkeys = 1;
    op.set = set;
    op.nset = 2;
    return op;
}

static void test_key_text(void)
{
    char buf[256];
    wb_target_op op = base(WB_OP_UPSERT);
    char *k = wb_stmt_shape_key(&op, 7, buf, sizeof(buf));
    WB_CHECK(k == buf);
    char want[64];
    snprintf(want, sizeof(want),
             "%c---\x1fs\x1ft\x1fid\x1e\x1f"
             "a\x1e"
             "b\x1e",
             '0' + (int)WB_OP_UPSERT);
    WB_CHECK_STR_EQ(k, want);
}

static void test_key_shape_only(void)
{
    char b1[256], b2[256];
    wb_target_op op = base(WB_OP_UPDATE);
    char *k1 = wb_stmt_shape_key(&op, 0, b1, sizeof(b1));
    /* Another value: the same statement. */
    wb_op_value set2[2] = {{"a", "other", NULL}, {"b", NULL, NULL}};
    op.set = set2;
    WB_CHECK_STR_EQ(wb_stmt_shape_key(&op, 0, b2, sizeof(b2)), k1);
    /* Flags, kind and columns change it. */
    op.insert_if_missing = true;
    WB_CHECK(strcmp(wb_stmt_shape_key(&op, 0, b2, sizeof(b2)), k1) != 0);
    op.insert_if_missing = false;
    op.skip_unchanged = true;
    WB_CHECK(strcmp(wb_stmt_shape_key(&op, 0, b2, sizeof(b2)), k1) != 0);
    op.skip_unchanged = false;
    op.nset = 1;
    WB_CHECK(strcmp(wb_stmt_shape_key(&op, 0, b2, sizeof(b2)), k1) != 0);
    op.nset = 2;
    op.kind = WB_OP_DELETE;
    WB_CHECK(strcmp(wb_stmt_shape_key(&op, 0, b2, sizeof(b2)), k1) != 0);
}

static void test_key_lookup_and_cast(void)
{
    char b1[256], b2[256];
    wb_plugin_lookup l = {"ls", "lt", "ext", "sfid", NULL};
    wb_plugin_lookup c = {NULL, NULL, NULL, NULL, "date"};
    wb_target_op op = base(WB_OP_UPSERT);
    char *plain = wb_stmt_shape_key(&op, 0, b1, sizeof(b1));
    wb_op_value s2[2] = {{"a", "x", &l}, {"b", "y", &c}};
    op.set = s2;
    char *k = wb_stmt_shape_key(&op, 0, b2, sizeof(b2));
    WB_CHECK(strcmp(k, plain) != 0);
    WB_CHECK_STR_CONTAINS(k, "a@ls.lt.ext.sfid\x1e");
    WB_CHECK_STR_CONTAINS(k, "b::date\x1e");
}

/* A conflict statement is built from the mapping's settings as of the
 * configuration: the generation is in its key, and only then. */
static void test_key_generation(void)
{
    char b1[256], b2[256];
    wb_config_conflict cf;
    memset(&cf, 0, sizeof(cf));
    wb_target_op op = base(WB_OP_UPSERT);
    WB_CHECK_STR_EQ(wb_stmt_shape_key(&op, 1, b1, sizeof(b1)),
                    wb_stmt_shape_key(&op, 2, b2, sizeof(b2)));
    op.conflict = &cf;
    WB_CHECK(strcmp(wb_stmt_shape_key(&op, 1, b1, sizeof(b1)),
                    wb_stmt_shape_key(&op, 2, b2, sizeof(b2))) != 0);
}

/* Too long for the caller's buffer: malloc'd. */
static void test_key_long(void)
{
    char small[8];
    wb_target_op op = base(WB_OP_UPSERT);
    char *k = wb_stmt_shape_key(&op, 0, small, sizeof(small));
    WB_CHECK(k != NULL && k != small);
    char big[256];
    WB_CHECK_STR_EQ(k, wb_stmt_shape_key(&op, 0, big, sizeof(big)));
    free(k);
}

int main(void)
{
    WB_RUN(test_key_text);
    WB_RUN(test_key_shape_only);
    WB_RUN(test_key_lookup_and_cast);
    WB_RUN(test_key_generation);
    WB_RUN(test_key_long);
    return wbtest_summary();
}
