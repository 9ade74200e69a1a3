/*
 * test_relcache.c - relation cache: deep copies, in-place replacement with
 * generations and user data release, pointer stability across growth, and
 * the 1,000,000-entry limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/pgoutput.h"
#include "decode/relcache.h"
#include "wbtest.h"

static int freed_count;
static void *freed_last;

static void count_free(void *user)
{
    freed_count++;
    freed_last = user;
}

static void test_empty(void)
{
    wb_relcache *rc = wb_relcache_create();

    WB_CHECK(rc != NULL);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 0);
    WB_CHECK(wb_relcache_lookup(rc, 16384) == NULL);
    WB_CHECK(wb_relcache_lookup(rc, 0) == NULL);
    wb_relcache_destroy(rc);
    wb_relcache_destroy(NULL);
}

static void test_deep_copy(void)
{
    wb_relcache *rc = wb_relcache_create();
    char nsp[] = "public", rel[] = "acc\xc3\xb6unt", c0[] = "id",
         c1[] = "na\"me", c2[] = "balance";
    wb_pgoutput_column cols[3] = {
        {WB_PGO_COLUMN_KEY, c0, 23, -1},
        {0, c1, 25, -1},
        {0, c2, 1700, 655366},
    };
    wb_pgoutput_relation r = {16385, nsp, rel, 'd', 3, cols};
    wb_error err;
    wb_relcache_entry *e;

    wb_error_clear(&err);
    e = wb_relcache_update(rc, &r, &err);
    WB_CHECK(e != NULL);
    if (!e) {
        wb_relcache_destroy(rc);
        return;
    }
    /* Scribble over the source: the cache must not notice. */
    memset(nsp, 'X', strlen(nsp));
    memset(rel, 'X', strlen(rel));
    memset(c0, 'X', strlen(c0));
    memset(c1, 'X', strlen(c1));
    memset(c2, 'X', strlen(c2));
    cols[0].typoid = 0;
    cols[2].flags = 7;

    WB_CHECK(e->rel.atts != cols);
    WB_CHECK_INT_EQ(e->rel.relid, 16385);
    WB_CHECK_STR_EQ(e->rel.nspname, "public");
    WB_CHECK_STR_EQ(e->rel.relname, "acc\xc3\xb6unt");
    WB_CHECK_INT_EQ(e->rel.replident, 'd');
    WB_CHECK_INT_EQ(e->rel.natts, 3);
    WB_CHECK_STR_EQ(e->rel.atts[0].name, "id");
    WB_CHECK_INT_EQ(e->rel.atts[0].flags, WB_PGO_COLUMN_KEY);
    WB_CHECK_INT_EQ(e->rel.atts[0].typoid, 23);
    WB_CHECK_INT_EQ(e->rel.atts[0].typmod, -1);
    WB_CHECK_STR_EQ(e->rel.atts[1].name, "na\"me");
    WB_CHECK_INT_EQ(e->rel.atts[1].flags, 0);
    WB_CHECK_INT_EQ(e->rel.atts[1].typoid, 25);
    WB_CHECK_STR_EQ(e->rel.atts[2].name, "balance");
    WB_CHECK_INT_EQ(e->rel.atts[2].flags, 0);
    WB_CHECK_INT_EQ(e->rel.atts[2].typmod, 655366);
    WB_CHECK(e->generation > 0);
    WB_CHECK(e->user == NULL);
    WB_CHECK(e->user_free == NULL);
    WB_CHECK(wb_relcache_lookup(rc, 16385) == e);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 1);
    wb_relcache_destroy(rc);
}

static void test_zero_columns_and_null_names(void)
{
    wb_relcache *rc = wb_relcache_create();
    wb_pgoutput_relation r = {7, "", "empty", 'n', 0, NULL};
    wb_relcache_entry *e = wb_relcache_update(rc, &r, NULL);

    WB_CHECK(e != NULL);
    if (e) {
        WB_CHECK_INT_EQ(e->rel.natts, 0);
        WB_CHECK(e->rel.atts == NULL);
        /* "" (pg_catalog on the wire) is kept as sent. */
        WB_CHECK_STR_EQ(e->rel.nspname, "");
        WB_CHECK_STR_EQ(e->rel.relname, "empty");
    }

    /* NULL names are stored as "", never as NULL. */
    wb_pgoutput_column col = {0, NULL, 25, -1};
    wb_pgoutput_relation r2 = {8, NULL, NULL, 'f', 1, &col};
    e = wb_relcache_update(rc, &r2, NULL);
    WB_CHECK(e != NULL);
    if (e) {
        WB_CHECK_STR_EQ(e->rel.nspname, "");
        WB_CHECK_STR_EQ(e->rel.relname, "");
        WB_CHECK_STR_EQ(e->rel.atts[0].name, "");
    }

    /* natts without a column array is a caller bug. */
    wb_pgoutput_relation bad = {9, "s", "t", 'd', 2, NULL};
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK(wb_relcache_update(rc, &bad, &err) == NULL);
    WB_CHECK_INT_EQ(err.code, WB_EINVAL);
    WB_CHECK(wb_relcache_update(rc, NULL, NULL) == NULL);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 2);
    wb_relcache_destroy(rc);
}

static void test_replace(void)
{
    wb_relcache *rc = wb_relcache_create();
    wb_pgoutput_column v1[2] = {{1, "id", 23, -1}, {0, "a", 25, -1}};
    wb_pgoutput_column v2[3] = {
        {1, "id", 20, -1}, {0, "a", 25, -1}, {0, "added", 16, -1}};
    wb_pgoutput_relation r1 = {42, "s", "t", 'd', 2, v1};
    wb_pgoutput_relation r2 = {42, "s2", "t_renamed", 'f', 3, v2};
    int plan = 0, plan2 = 0;
    wb_relcache_entry *e1, *e2;

    freed_count = 0;
    freed_last = NULL;
    e1 = wb_relcache_update(rc, &r1, NULL);
    WB_CHECK(e1 != NULL);
    if (!e1) {
        wb_relcache_destroy(rc);
        return;
    }
    e1->user = &plan;
    e1->user_free = count_free;
    uint64_t g1 = e1->generation;

    e2 = wb_relcache_update(rc, &r2, NULL);
    /* Same entry, new contents, new generation, user data released. */
    WB_CHECK(e2 == e1);
    WB_CHECK_INT_EQ(freed_count, 1);
    WB_CHECK(freed_last == &plan);
    WB_CHECK(e2->user == NULL);
    WB_CHECK(e2->user_free == NULL);
    uint64_t g2 = e2->generation;
    WB_CHECK(g2 > g1);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 1);
    WB_CHECK_STR_EQ(e2->rel.nspname, "s2");
    WB_CHECK_STR_EQ(e2->rel.relname, "t_renamed");
    WB_CHECK_INT_EQ(e2->rel.replident, 'f');
    WB_CHECK_INT_EQ(e2->rel.natts, 3);
    WB_CHECK_STR_EQ(e2->rel.atts[2].name, "added");
    WB_CHECK_INT_EQ(e2->rel.atts[0].typoid, 20);

    /* Replacement without user data calls nothing. */
    WB_CHECK(wb_relcache_update(rc, &r1, NULL) == e1);
    WB_CHECK_INT_EQ(freed_count, 1);
    WB_CHECK(e1->generation > g2);
    WB_CHECK_INT_EQ(e1->rel.natts, 2);
    WB_CHECK_STR_EQ(e1->rel.relname, "t");

    /* destroy releases user data that is still attached. */
    e1->user = &plan2;
    e1->user_free = count_free;
    wb_relcache_destroy(rc);
    WB_CHECK_INT_EQ(freed_count, 2);
    WB_CHECK(freed_last == &plan2);
}

static void test_many_and_stable_pointers(void)
{
    enum { N = 20000 };
    wb_relcache *rc = wb_relcache_create();
    wb_relcache_entry **ptrs = calloc(N, sizeof(*ptrs));
    wb_pgoutput_column col = {1, "id", 23, -1};
    char name[32];
    int bad = 0;

    /* Sequential OIDs plus a spread, as in a real catalog. */
    for (uint32_t i = 0; i < N; i++) {
        uint32_t relid = i % 2 ? 16384 + i : 0x80000000u + i * 7919u;
        wb_pgoutput_relation r = {relid, "public", name, 'd', 1, &col};
        snprintf(name, sizeof(name), "t%u", (unsigned)i);
        ptrs[i] = wb_relcache_update(rc, &r, NULL);
        if (!ptrs[i])
            bad++;
    }
    WB_CHECK_INT_EQ(bad, 0);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), N);

    /* The table grew many times; every early pointer is still right. */
    for (uint32_t i = 0; i < N; i++) {
        uint32_t relid = i % 2 ? 16384 + i : 0x80000000u + i * 7919u;
        wb_relcache_entry *e = wb_relcache_lookup(rc, relid);
        snprintf(name, sizeof(name), "t%u", (unsigned)i);
        if (e != ptrs[i] || !e || e->rel.relid != relid ||
            strcmp(e->rel.relname, name) != 0)
            bad++;
    }
    WB_CHECK_INT_EQ(bad, 0);
    WB_CHECK(wb_relcache_lookup(rc, 16384) == NULL); /* i == 0 is even */
    WB_CHECK(wb_relcache_lookup(rc, 1) == NULL);
    free(ptrs);
    wb_relcache_destroy(rc);
}

static void test_limit(void)
{
    wb_relcache *rc = wb_relcache_create();
    wb_pgoutput_relation r = {0, "s", "t", 'd', 0, NULL};
    wb_error err;
    int bad = 0;

    for (uint32_t i = 1; i <= 1000000; i++) {
        r.relid = i;
        if (!wb_relcache_update(rc, &r, NULL))
            bad++;
    }
    WB_CHECK_INT_EQ(bad, 0);
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 1000000);

    wb_error_clear(&err);
    r.relid = 1000001;
    WB_CHECK(wb_relcache_update(rc, &r, &err) == NULL);
    WB_CHECK_INT_EQ(err.code, WB_ELIMIT);
    WB_CHECK_STR_CONTAINS(err.message, "1000000");
    WB_CHECK(wb_relcache_lookup(rc, 1000001) == NULL);

    /* A full cache still accepts replacements of known relids. */
    r.relid = 500000;
    r.relname = "t2";
    uint64_t before = wb_relcache_lookup(rc, 500000)->generation;
    wb_relcache_entry *e = wb_relcache_update(rc, &r, NULL);
    WB_CHECK(e != NULL);
    if (e) {
        WB_CHECK_STR_EQ(e->rel.relname, "t2");
        WB_CHECK(e->generation > before);
    }
    WB_CHECK_INT_EQ(wb_relcache_count(rc), 1000000);
    wb_relcache_destroy(rc);
}

int main(void)
{
    WB_RUN(test_empty);
    WB_RUN(test_deep_copy);
    WB_RUN(test_zero_columns_and_null_names);
    WB_RUN(test_replace);
    WB_RUN(test_many_and_stable_pointers);
    WB_RUN(test_limit);
    return wbtest_summary();
}
