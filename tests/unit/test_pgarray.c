/*
 * test_pgarray.c - array literals: quoting, NULL, limits.
 */
#include <string.h>

#include "common/pgarray.h"
#include "common/error.h"
#include "wbtest.h"

static void test_quoting(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "plain"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, NULL), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "NULL"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "a\"b\\c"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, ""), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "{x, y}"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "end\\"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_finish(&b), 0);
    WB_CHECK_STR_EQ(b.data, "{\"plain\",NULL,\"NULL\",\"a\\\"b\\\\c\",\"\","
                            "\"{x, y}\",\"end\\\\\"}");
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(b.len, 0);
    WB_CHECK_INT_EQ(wb_pgarray_finish(&b), 0);
    WB_CHECK_STR_EQ(b.data, "{}");
    wb_strbuf_free(&b);
}

static void test_limit(void)
{
    wb_strbuf b = {0};
    b.limit = 16;
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "0123456789"), 0);
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, "0123456789"), WB_ELIMIT);
    WB_CHECK(b.len <= 16);
    WB_CHECK(b.cap <= 17);
    wb_strbuf_free(&b);
}

/*
 * An append of exactly limit bytes to a non-empty buffer: the bound check
 * once computed limit - n - 1, which wrapped around, let it through and
 * wrote past the buffer (found by tests/fuzz/fuzz_pgarray).  A literal of
 * exactly limit bytes fits.
 */
static void test_limit_exact(void)
{
    wb_strbuf b = {0};
    b.limit = 1;
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, ""), WB_ELIMIT); /* "{" fits, '"' not */
    WB_CHECK(b.len <= 1);
    WB_CHECK(b.cap <= 2);
    wb_strbuf_free(&b);

    b.limit = 4;
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, ""), 0);
    WB_CHECK_INT_EQ(wb_pgarray_finish(&b), 0);
    WB_CHECK_STR_EQ(b.data, "{\"\"}");
    WB_CHECK_INT_EQ(wb_pgarray_add(&b, NULL), WB_ELIMIT);
    WB_CHECK(b.len == 4 && b.cap <= 5);
    wb_strbuf_free(&b);
}

int main(void)
{
    WB_RUN(test_quoting);
    WB_RUN(test_limit);
    WB_RUN(test_limit_exact);
    return wbtest_summary();
}
