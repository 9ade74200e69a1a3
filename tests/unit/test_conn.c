/*
 * test_conn.c - connection strings are logged without secrets.
 */
#include <string.h>

#include "common/conn.h"
#include "wbtest.h"

static void test_redact(void)
{
    char out[512];
    wb_conninfo_redact("host=/tmp port=5433 dbname=app user=sync "
                       "password=s3cr3t sslmode=require",
                       out, sizeof(out));
    WB_CHECK_STR_EQ(out, "host=/tmp port=5433 dbname=app user=sync "
                         "sslmode=require");
    wb_conninfo_redact("postgresql://sync:s3cr3t@db.example:6432/app", out,
                       sizeof(out));
    WB_CHECK(strstr(out, "s3cr3t") == NULL);
    WB_CHECK_STR_CONTAINS(out, "host=db.example");
    WB_CHECK_STR_CONTAINS(out, "dbname=app");
    wb_conninfo_redact("password='unterminated", out, sizeof(out));
    WB_CHECK_STR_EQ(out, "(invalid connection string)");
    wb_conninfo_redact("password=s3cr3t", out, sizeof(out));
    WB_CHECK_STR_EQ(out, "(defaults)");
    /* Truncation never cuts into the middle of a value silently past len. */
    char small[12];
    wb_conninfo_redact("host=averyveryverylonghost dbname=x", small,
                       sizeof(small));
    WB_CHECK(strlen(small) < sizeof(small));
}

int main(void)
{
    WB_RUN(test_redact);
    return wbtest_summary();
}
