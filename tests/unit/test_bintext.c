/*
 * test_bintext.c - the text form of binary values: exactly what the
 * types' output functions print, and nothing for a wrong length.
 */
#include <string.h>

#include "common/arena.h"
#include "common/bintext.h"
#include "common/value.h"
#include "wbtest.h"

static const char *text(wb_arena *a, uint32_t typ, const char *b, uint32_t n)
{
    const char *v = wb_bintext(a, typ, wb_value_copy(a, b, n, true));
    if (v) { /* the result is a value too: marked binary, length known */
        WB_CHECK(wb_value_binary(v));
        WB_CHECK_INT_EQ(wb_value_len(v), strlen(v));
    }
    return v;
}

static void test_forms(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    WB_CHECK_STR_EQ(text(a, 23, "\0\0\0\x2a", 4), "42");
    WB_CHECK_STR_EQ(text(a, 23, "\x80\0\0\0", 4), "-2147483648");
    WB_CHECK_STR_EQ(text(a, 21, "\xff\xfe", 2), "-2");
    WB_CHECK_STR_EQ(text(a, 20, "\x7f\xff\xff\xff\xff\xff\xff\xff", 8),
                    "9223372036854775807");
    WB_CHECK_STR_EQ(text(a, 20, "\x80\0\0\0\0\0\0\0", 8),
                    "-9223372036854775808");
    WB_CHECK_STR_EQ(text(a, 26, "\xff\xff\xff\xff", 4), "4294967295");
    WB_CHECK_STR_EQ(text(a, 16, "\1", 1), "t");
    WB_CHECK_STR_EQ(text(a, 16, "\0", 1), "f");
    WB_CHECK_STR_EQ(text(a, 2950,
                         "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9"
                         "\xbd\x38\x0a\x11",
                         16),
                    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    wb_arena_destroy(a);
}

static void test_refused(void)
{
    wb_arena *a = wb_arena_create(0, 0);
    WB_CHECK(text(a, 23, "\0\0\0", 3) == NULL); /* wrong length */
    WB_CHECK(text(a, 20, "\0\0\0\0", 4) == NULL);
    WB_CHECK(text(a, 1700, "\0\0\0\0", 4) == NULL); /* numeric: no */
    WB_CHECK(!wb_bintext_supported(1184));          /* timestamptz */
    WB_CHECK(!wb_bintext_supported(701));           /* float8 */
    WB_CHECK(wb_bintext_supported(23) && wb_bintext_supported(2950));
    wb_arena_destroy(a);
}

int main(void)
{
    WB_RUN(test_forms);
    WB_RUN(test_refused);
    return wbtest_summary();
}
