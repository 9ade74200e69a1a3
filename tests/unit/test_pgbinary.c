/*
 * test_pgbinary.c - binary arrays and COPY binary rows, byte for byte
 * (layouts of array_recv and of COPY's binary format).
 */
#include <string.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/pgbinary.h"
#include "common/value.h"
#include "wbtest.h"

/* A value as the decoder makes it: header, bytes (NULs too), NUL. */
static const char *val(wb_arena *a, const char *bytes, uint32_t len)
{
    return wb_value_copy(a, bytes, len, true);
}

static void test_value_header(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    const char *v = wb_value_copy(a, "a\0b", 3, true);
    const char *t = wb_value_copy(a, "xyz", 3, false);
    WB_CHECK_INT_EQ(wb_value_len(v), 3);
    WB_CHECK(wb_value_binary(v));
    WB_CHECK_MEM_EQ(v, "a\0b\0", 4);
    WB_CHECK(!wb_value_binary(t));
    WB_CHECK_STR_EQ(t, "xyz");
    wb_arena_destroy(a);
}

static void test_array(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    wb_strbuf b = {0};
    wb_pgbin_array arr;
    WB_CHECK_INT_EQ(wb_pgbin_array_begin(&arr, &b, 23), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_add(&arr, val(a, "\0\0\0\x2a", 4)), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_add(&arr, NULL), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_finish(&arr), 0);
    static const char want[] = "\0\0\0\1"          /* ndim 1 */
                               "\0\0\0\1"          /* has nulls */
                               "\0\0\0\x17"        /* int4 */
                               "\0\0\0\2"          /* 2 elements */
                               "\0\0\0\1"          /* lower bound 1 */
                               "\0\0\0\4"          /* length 4 */
                               "\0\0\0\x2a"        /* 42 */
                               "\xff\xff\xff\xff"; /* NULL */
    WB_CHECK_INT_EQ(b.len, sizeof(want) - 1);
    WB_CHECK_MEM_EQ(b.data, want, sizeof(want) - 1);

    /* Without NULLs the flag is 0; an empty array has no dimension. */
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_pgbin_array_begin(&arr, &b, 25), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_add(&arr, val(a, "", 0)), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_finish(&arr), 0);
    WB_CHECK_MEM_EQ(b.data + 4, "\0\0\0\0", 4);
    WB_CHECK_MEM_EQ(b.data + 20, "\0\0\0\0", 4); /* '' has length 0 */
    WB_CHECK_INT_EQ(b.len, 24);
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_pgbin_array_begin(&arr, &b, 25), 0);
    WB_CHECK_INT_EQ(wb_pgbin_array_finish(&arr), 0);
    WB_CHECK_INT_EQ(b.len, 12);
    WB_CHECK_MEM_EQ(b.data, "\0\0\0\0\0\0\0\0\0\0\0\x19", 12);
    wb_strbuf_free(&b);
    wb_arena_destroy(a);
}

static void test_copy(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    wb_strbuf b = {0};
    const char *row[] = {val(a, "\0\1", 2), NULL, val(a, "", 0)};
    WB_CHECK_INT_EQ(wb_pgbin_copy_header(&b), 0);
    WB_CHECK_INT_EQ(wb_pgbin_copy_row(&b, row, 3), 0);
    WB_CHECK_INT_EQ(wb_pgbin_copy_trailer(&b), 0);
    static const char want[] = "PGCOPY\n\377\r\n\0"
                               "\0\0\0\0" /* flags */
                               "\0\0\0\0" /* header extension */
                               "\0\3"     /* 3 fields */
                               "\0\0\0\2\0\1"
                               "\xff\xff\xff\xff" /* NULL */
                               "\0\0\0\0"         /* empty */
                               "\xff\xff";        /* trailer */
    WB_CHECK_INT_EQ(b.len, sizeof(want) - 1);
    WB_CHECK_MEM_EQ(b.data, want, sizeof(want) - 1);
    wb_strbuf_free(&b);
    wb_arena_destroy(a);
}

static void test_limit(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    wb_strbuf b = {0};
    b.limit = 16;
    const char *row[] = {val(a, "0123456789", 10)};
    WB_CHECK_INT_EQ(wb_pgbin_copy_row(&b, row, 1), 0);
    WB_CHECK_INT_EQ(wb_pgbin_copy_row(&b, row, 1), WB_ELIMIT);
    WB_CHECK_INT_EQ(b.len, 16); /* nothing of the refused row */
    wb_strbuf_free(&b);
    wb_arena_destroy(a);
}

int main(void)
{
    WB_RUN(test_value_header);
    WB_RUN(test_array);
    WB_RUN(test_copy);
    WB_RUN(test_limit);
    return wbtest_summary();
}
