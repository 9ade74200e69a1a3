/*
 * test_copytext.c - COPY text rows: escapes, NULL, the end marker, limits.
 */
#include <string.h>

#include "common/copytext.h"
#include "common/error.h"
#include "wbtest.h"

static void test_escapes(void)
{
    wb_strbuf b = {0};
    const char *row1[] = {"plain", NULL, "\\N", "a\tb\nc\rd\\e", ""};
    const char *row2[] = {"\\.", "end\\"};
    WB_CHECK_INT_EQ(wb_copytext_row(&b, row1, 5), 0);
    WB_CHECK_INT_EQ(wb_copytext_row(&b, row2, 2), 0);
    /* NULL is \N; the text "\N" is not.  "\." alone would end the data. */
    WB_CHECK_STR_EQ(b.data, "plain\t\\N\t\\\\N\ta\\tb\\nc\\rd\\\\e\t\n"
                            "\\\\.\tend\\\\\n");
    wb_strbuf_free(&b);
}

static void test_utf8_untouched(void)
{
    wb_strbuf b = {0};
    const char *row[] = {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac {\"a\": [1]}"};
    WB_CHECK_INT_EQ(wb_copytext_row(&b, row, 1), 0);
    WB_CHECK_STR_EQ(b.data, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac {\"a\": [1]}\n");
    wb_strbuf_free(&b);
}

static void test_limit(void)
{
    wb_strbuf b = {0};
    b.limit = 16;
    const char *row[] = {"0123456789"};
    WB_CHECK_INT_EQ(wb_copytext_row(&b, row, 1), 0);
    WB_CHECK_INT_EQ(wb_copytext_row(&b, row, 1), WB_ELIMIT);
    WB_CHECK(b.len <= 16);
    wb_strbuf_free(&b);
}

int main(void)
{
    WB_RUN(test_escapes);
    WB_RUN(test_utf8_untouched);
    WB_RUN(test_limit);
    return wbtest_summary();
}
