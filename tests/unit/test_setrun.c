/*
 * test_setrun.c - which operations may join a set-based run, and the key
 * set that cuts a run at a repeated key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/setrun.h"
#include "wbtest.h"

static wb_op_value keys[1] = {{"id", "1", NULL}};
static wb_op_value set[2] = {{"id", "1", NULL}, {"a", "x", NULL}};

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
    op.insert_if_missing = true;
    return op;
}

static void setup(wb_setrun *s)
{
    memset(s, 0, sizeof(*s));
    s->enabled = true;
    WB_CHECK_INT_EQ(wb_setrun_add_coltype(s, "s", "t", "id", "1016", 20), 0);
    WB_CHECK_INT_EQ(wb_setrun_add_coltype(s, "s", "t", "a", "1009", 25), 0);
    /* An array column has no array type: row by row. */
    WB_CHECK_INT_EQ(wb_setrun_add_coltype(s, "s", "t", "tags", "0", 1009), 0);
}

static void test_coltype(void)
{
    wb_setrun s;
    setup(&s);
    WB_CHECK_STR_EQ(wb_setrun_coltype(&s, "s", "t", "a"), "1009");
    WB_CHECK(wb_setrun_coltype(&s, "s", "t", "tags") == NULL);
    WB_CHECK(wb_setrun_coltype(&s, "s", "other", "a") == NULL);
    wb_setrun_free(&s);
}

/* Many tables' columns: every one found by its three names, each name's
 * boundary counted ("ab"."c" is not "a"."bc"), past the index's growth. */
static void test_coltype_many(void)
{
    wb_setrun s;
    char t[16], c[16], ty[16];
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 25; j++) {
            snprintf(t, sizeof(t), "t%d", i);
            snprintf(c, sizeof(c), "c%d", j);
            snprintf(ty, sizeof(ty), "%d", 1000 + i * 25 + j);
            WB_CHECK_INT_EQ(wb_setrun_add_coltype(&s, "s", t, c, ty, 25), 0);
        }
    WB_CHECK_INT_EQ(wb_setrun_add_coltype(&s, "ab", "c", "d", "7", 25), 0);
    WB_CHECK_INT_EQ(wb_setrun_add_coltype(&s, "s2", "t0", "c0", "9", 25), 0);
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 25; j++) {
            snprintf(t, sizeof(t), "t%d", i);
            snprintf(c, sizeof(c), "c%d", j);
            snprintf(ty, sizeof(ty), "%d", 1000 + i * 25 + j);
            const char *got = wb_setrun_coltype(&s, "s", t, c);
            WB_CHECK(got && strcmp(got, ty) == 0);
        }
    WB_CHECK_STR_EQ(wb_setrun_coltype(&s, "ab", "c", "d"), "7");
    WB_CHECK_STR_EQ(wb_setrun_coltype(&s, "s2", "t0", "c0"), "9");
    WB_CHECK(wb_setrun_coltype(&s, "a", "bc", "d") == NULL);
    WB_CHECK(wb_setrun_coltype(&s, "s", "t0", "c25") == NULL);
    WB_CHECK(wb_setrun_coltype(&s, "s", "t40", "c0") == NULL);
    wb_setrun_free(&s);
    WB_CHECK(wb_setrun_coltype(&s, "s", "t0", "c0") == NULL);
}

static void test_eligible(void)
{
    wb_setrun s;
    setup(&s);
    wb_target_op op = base(WB_OP_UPSERT);
    WB_CHECK(wb_setrun_eligible(&s, &op, 100));
    op.kind = WB_OP_DELETE;
    WB_CHECK(wb_setrun_eligible(&s, &op, 100));
    op.kind = WB_OP_UPDATE;
    WB_CHECK(wb_setrun_eligible(&s, &op, 100));
    /* An update without its insert fallback, or not setting the key. */
    op.insert_if_missing = false;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    op = base(WB_OP_UPDATE);
    op.set = set + 1;
    op.nset = 0;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    op = base(WB_OP_TRUNCATE);
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));

    /* Row statements only for what sets cannot do (yet). */
    wb_config_conflict cf;
    memset(&cf, 0, sizeof(cf));
    op = base(WB_OP_UPDATE);
    op.skip_unchanged = true;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    op = base(WB_OP_UPSERT);
    op.has_lookup = true;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    op = base(WB_OP_UPSERT);
    op.conflict = &cf;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    op = base(WB_OP_UPSERT);
    op.nkeys = 0;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));

    /* An upsert that writes only rows that differ (a re-sync's) is one. */
    op = base(WB_OP_UPSERT);
    op.skip_unchanged = true;
    WB_CHECK(wb_setrun_eligible(&s, &op, 100));

    /* A column without a known array type. */
    wb_op_value arr[2] = {{"id", "1", NULL}, {"tags", "{a}", NULL}};
    op = base(WB_OP_UPSERT);
    op.set = arr;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    WB_CHECK(wb_setrun_has_array(&s, &op));
    /* ... unless COPY may take it: inserts only (unnest would flatten it,
     * COPY does not). */
    s.copy_min_rows = 1000;
    WB_CHECK(wb_setrun_eligible(&s, &op, 100));
    op.kind = WB_OP_DELETE;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    s.copy_min_rows = 0;
    /* An unknown column never. */
    wb_op_value unknown[2] = {{"id", "1", NULL}, {"nope", "x", NULL}};
    op = base(WB_OP_UPSERT);
    op.set = unknown;
    s.copy_min_rows = 1000;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    WB_CHECK(!wb_setrun_has_array(&s, &op));
    s.copy_min_rows = 0;

    /* Row mode up to an LSN (pinpointing a failed set), and off. */
    op = base(WB_OP_UPSERT);
    s.rowmode_until = 100;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 100));
    WB_CHECK(wb_setrun_eligible(&s, &op, 101));
    s.enabled = false;
    WB_CHECK(!wb_setrun_eligible(&s, &op, 101));
    wb_setrun_free(&s);
}

static void test_keyset(void)
{
    wb_setrun_keyset *ks = calloc(1, sizeof(*ks));
    wb_op_value a[2] = {{"k1", "1", NULL}, {"k2", "2", NULL}};
    wb_op_value b[2] = {{"k1", "12", NULL}, {"k2", NULL, NULL}};
    wb_op_value c[2] = {{"k1", "12", NULL}, {"k2", "", NULL}};
    uint64_t ha = wb_setrun_key_hash(a, 2, false);
    uint64_t hb = wb_setrun_key_hash(b, 2, false);
    uint64_t hc = wb_setrun_key_hash(c, 2, false);
    WB_CHECK(ha != 0 && hb != 0);
    /* NULL and '' are different keys; so are ("1","2") and ("12",NULL). */
    WB_CHECK(hb != hc);
    WB_CHECK(ha != hb);
    WB_CHECK(wb_setrun_keyset_add(ks, ha));
    WB_CHECK(wb_setrun_keyset_add(ks, hb));
    /* A repeated key: the run must end before it. */
    WB_CHECK(!wb_setrun_keyset_add(ks, ha));
    WB_CHECK_U64_EQ(wb_setrun_key_hash(a, 2, false), ha);
    /* Colliding slots probe on. */
    WB_CHECK(wb_setrun_keyset_add(ks, ha + WB_RUN_KEYSET));
    WB_CHECK(!wb_setrun_keyset_add(ks, ha + WB_RUN_KEYSET));
    /* Cleared (by generation, not by writing every slot): all new again,
     * the probed slot included. */
    wb_setrun_keyset_clear(ks);
    WB_CHECK(wb_setrun_keyset_add(ks, ha + WB_RUN_KEYSET));
    WB_CHECK(wb_setrun_keyset_add(ks, ha));
    WB_CHECK(!wb_setrun_keyset_add(ks, ha));
    /* The generation wrapping around empties it for real. */
    ks->gen = UINT16_MAX;
    WB_CHECK(wb_setrun_keyset_add(ks, hb));
    wb_setrun_keyset_clear(ks);
    WB_CHECK(wb_setrun_keyset_add(ks, hb));
    WB_CHECK(wb_setrun_keyset_add(ks, ha));
    /* The longest run's keys, old and new, all fit (a full set would
     * probe forever). */
    wb_setrun_keyset_clear(ks);
    bool all = true;
    for (uint64_t i = 1; i <= 2 * WB_RUN_MAX_COPY_ROWS; i++)
        all = all && wb_setrun_keyset_add(ks, i * UINT64_C(0x9E3779B97F4A7C15));
    WB_CHECK(all);
    WB_CHECK(!wb_setrun_keyset_add(ks, 7 * UINT64_C(0x9E3779B97F4A7C15)));
    free(ks);
}

static void test_nocopy(void)
{
    wb_setrun s = {0};
    WB_CHECK(!wb_setrun_nocopy(&s, "a", "b"));
    WB_CHECK_INT_EQ(wb_setrun_add_nocopy(&s, "a", "b.c"), 0);
    WB_CHECK(wb_setrun_nocopy(&s, "a", "b.c"));
    /* "a.b" + "c" spells the same text; it is another table. */
    WB_CHECK(!wb_setrun_nocopy(&s, "a.b", "c"));
    WB_CHECK(!wb_setrun_nocopy(&s, "a", "b"));
    wb_setrun_free(&s);
}

int main(void)
{
    WB_RUN(test_coltype);
    WB_RUN(test_coltype_many);
    WB_RUN(test_eligible);
    WB_RUN(test_keyset);
    WB_RUN(test_nocopy);
    return wbtest_summary();
}
