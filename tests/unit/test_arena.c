/*
 * test_arena.c - the bump allocator: alignment, large allocations, the hard
 * limit (the defence against hostile length fields) and reset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "wbtest.h"

static void test_create_defaults(void)
{
    wb_arena *a = wb_arena_create(0, 0);

    WB_CHECK(a != NULL);
    if (!a)
        return;
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 8192);
    wb_arena_destroy(a);
    wb_arena_destroy(NULL); /* allowed */
}

static void test_alignment(void)
{
    wb_arena *a = wb_arena_create(1024, 0);
    int misaligned = 0;

    for (size_t size = 0; size < 200; size++) {
        char *p = wb_arena_alloc(a, size);
        if (!p || ((uintptr_t)p % 16) != 0)
            misaligned++;
        if (p && size)
            memset(p, 0xAB, size); /* ASan checks the bytes are ours */
    }
    WB_CHECK_INT_EQ(misaligned, 0);

    /* Good enough for the strictest scalar types. */
    long double *ld = wb_arena_alloc(a, sizeof(long double) * 3);
    uint64_t *u = wb_arena_alloc(a, sizeof(uint64_t));
    WB_CHECK(ld && (uintptr_t)ld % _Alignof(long double) == 0);
    WB_CHECK(u && (uintptr_t)u % _Alignof(uint64_t) == 0);
    wb_arena_destroy(a);
}

static void test_allocations_distinct(void)
{
    wb_arena *a = wb_arena_create(256, 0);
    char *p[100];
    int bad = 0;

    /* Fill each allocation with its index and check none overlap. */
    for (int i = 0; i < 100; i++) {
        p[i] = wb_arena_alloc(a, 37);
        if (!p[i]) {
            bad++;
            continue;
        }
        memset(p[i], i, 37);
    }
    for (int i = 0; i < 100; i++)
        for (int j = 0; p[i] && j < 37; j++)
            if (p[i][j] != (char)i)
                bad++;
    WB_CHECK_INT_EQ(bad, 0);
    /* 100 x 48 bytes do not fit one 256-byte block: more were added. */
    WB_CHECK(wb_arena_footprint(a) > 256);
    wb_arena_destroy(a);
}

static void test_large_allocation(void)
{
    wb_arena *a = wb_arena_create(1024, 0);
    size_t big = 5 * 1024 * 1024;
    char *small1 = wb_arena_alloc(a, 16);
    char *p = wb_arena_alloc(a, big);

    WB_CHECK(small1 != NULL);
    WB_CHECK(p != NULL);
    if (p) {
        WB_CHECK_INT_EQ((uintptr_t)p % 16, 0);
        memset(p, 'x', big);
        WB_CHECK_INT_EQ(p[big - 1], 'x');
    }
    /* The big one got a block of its own, sized for it. */
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 1024 + big);
    /* Later small allocations still work. */
    char *small2 = wb_arena_alloc(a, 16);
    WB_CHECK(small2 != NULL);
    wb_arena_destroy(a);
}

static void test_limit(void)
{
    size_t limit = 64 * 1024;
    wb_arena *a = wb_arena_create(4096, limit);
    size_t got = 0;

    WB_CHECK(a != NULL);
    if (!a)
        return;
    /* A single allocation past the limit fails and changes nothing. */
    WB_CHECK(wb_arena_alloc(a, limit + 1) == NULL);
    WB_CHECK(wb_arena_alloc(a, (size_t)0x7fffffff) == NULL);
    WB_CHECK(wb_arena_alloc(a, SIZE_MAX) == NULL);     /* overflow */
    WB_CHECK(wb_arena_alloc(a, SIZE_MAX - 8) == NULL); /* rounds over */
    WB_CHECK(wb_arena_strndup(a, "x", SIZE_MAX) == NULL);
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 4096);

    /* Many small allocations stop at the limit, never beyond. */
    while (wb_arena_alloc(a, 1000) != NULL) {
        got += 1000;
        if (got > 2 * limit)
            break;
    }
    WB_CHECK(got < limit);
    WB_CHECK(got > limit / 2);
    WB_CHECK(wb_arena_footprint(a) <= limit);
    WB_CHECK(wb_arena_alloc(a, 1000) == NULL);

    /* After reset the arena is usable again. */
    wb_arena_reset(a);
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 4096);
    WB_CHECK(wb_arena_alloc(a, 1000) != NULL);
    wb_arena_destroy(a);
}

static void test_block_larger_than_limit(void)
{
    /* block_size is clamped to the limit rather than failing. */
    wb_arena *a = wb_arena_create(1 << 20, 4096);

    WB_CHECK(a != NULL);
    if (!a)
        return;
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 4096);
    WB_CHECK(wb_arena_alloc(a, 4096) != NULL);
    WB_CHECK(wb_arena_alloc(a, 1) == NULL);
    wb_arena_destroy(a);
}

static void test_reset(void)
{
    wb_arena *a = wb_arena_create(1024, 0);
    char *first = wb_arena_alloc(a, 100);

    for (int i = 0; i < 50; i++)
        WB_CHECK(wb_arena_alloc(a, 500) != NULL);
    WB_CHECK(wb_arena_footprint(a) > 1024);
    wb_arena_reset(a);
    /* Only the first block is kept, and it is reused from the start. */
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 1024);
    char *again = wb_arena_alloc(a, 100);
    WB_CHECK(again == first);

    /* Repeated reset cycles do not grow the footprint. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 20; i++)
            WB_CHECK(wb_arena_alloc(a, 300) != NULL);
        wb_arena_reset(a);
        WB_CHECK_INT_EQ(wb_arena_footprint(a), 1024);
    }
    wb_arena_reset(a); /* reset of an empty arena is fine */
    WB_CHECK_INT_EQ(wb_arena_footprint(a), 1024);
    wb_arena_destroy(a);
}

static void test_strdup(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    char *s = wb_arena_strdup(a, "h\xc3\xa9llo \"w\"");
    char *n = wb_arena_strndup(a, "abcdef", 3);
    char *z = wb_arena_strndup(a, "ignored", 0);
    char *b = wb_arena_strndup(a, "a\0b", 3);

    WB_CHECK_STR_EQ(s, "h\xc3\xa9llo \"w\"");
    WB_CHECK_STR_EQ(n, "abc");
    WB_CHECK_STR_EQ(z, "");
    /* strndup copies embedded NULs and still terminates. */
    WB_CHECK(b != NULL);
    if (b) {
        WB_CHECK_MEM_EQ(b, "a\0b", 4);
    }
    wb_arena_destroy(a);
}

int main(void)
{
    WB_RUN(test_create_defaults);
    WB_RUN(test_alignment);
    WB_RUN(test_allocations_distinct);
    WB_RUN(test_large_allocation);
    WB_RUN(test_limit);
    WB_RUN(test_block_larger_than_limit);
    WB_RUN(test_reset);
    WB_RUN(test_strdup);
    return wbtest_summary();
}
