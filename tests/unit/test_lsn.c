/*
 * test_lsn.c - LSN text form and PostgreSQL timestamps.
 */
#include <string.h>

#include "common/lsn.h"
#include "common/error.h"
#include "wbtest.h"

static void test_lsn_roundtrip(void)
{
    char buf[WB_LSN_BUFLEN];
    wb_lsn v;
    WB_CHECK_INT_EQ(wb_lsn_parse("16/B374D848", &v), 0);
    WB_CHECK_U64_EQ(v, 0x16B374D848ULL);
    WB_CHECK_STR_EQ(wb_lsn_format(v, buf), "16/B374D848");
    WB_CHECK_INT_EQ(wb_lsn_parse("0/0", &v), 0);
    WB_CHECK_U64_EQ(v, 0);
    WB_CHECK_INT_EQ(wb_lsn_parse("FFFFFFFF/FFFFFFFF", &v), 0);
    WB_CHECK_STR_EQ(wb_lsn_format(v, buf), "FFFFFFFF/FFFFFFFF");
    WB_CHECK_INT_EQ(wb_lsn_parse("a/b", &v), 0);
    WB_CHECK_U64_EQ(v, 0xA0000000BULL);
}

static void test_lsn_rejects_garbage(void)
{
    wb_lsn v = 7;
    const char *bad[] = {"",     "/",    "1/",          "/1",   "1/2x",
                         "x1/2", "1//2", "100000000/0", "1 /2", "-1/2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        WB_CHECK_INT_EQ(wb_lsn_parse(bad[i], &v), WB_EINVAL);
    WB_CHECK_U64_EQ(v, 7);
    WB_CHECK_INT_EQ(wb_lsn_parse(NULL, &v), WB_EINVAL);
}

static void test_pgtime(void)
{
    /* 2000-01-01 00:00:00 UTC is Unix 946684800. */
    WB_CHECK_INT_EQ(wb_pgtime_to_unix_us(0), 946684800LL * 1000000);
    WB_CHECK_INT_EQ(wb_unix_us_to_pgtime(946684800LL * 1000000), 0);
    WB_CHECK(wb_pgtime_now() > 0);
}

int main(void)
{
    WB_RUN(test_lsn_roundtrip);
    WB_RUN(test_lsn_rejects_garbage);
    WB_RUN(test_pgtime);
    return wbtest_summary();
}
