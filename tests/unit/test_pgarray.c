/*
 * test_pgarray.c - array literals: quoting, NULL, limits.
 */
#include <string.h>

#include "pgarray_int.h"
#include "walbridge/error.h"
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

int main(void)
{
    WB_RUN(test_quoting);
    WB_RUN(test_limit);
    return wbtest_summary();
}
