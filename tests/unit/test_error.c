/*
 * test_error.c - the error report.
 */
#include <string.h>

#include "common/error.h"
#include "wbtest.h"

static void test_error_fields(void)
{
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_error_set(&err, WB_EDATA, "bad \"%s\"", "x"), WB_EDATA);
    wb_error_relation(&err, "portal", "users");
    wb_error_column(&err, "id");
    wb_error_lsn(&err, 0x10);
    wb_error_position(&err, "f.yaml", 3, 4);
    WB_CHECK_STR_EQ(err.message, "bad \"x\"");
    WB_CHECK_STR_EQ(err.relation, "portal.users");
    WB_CHECK_STR_EQ(err.column, "id");
    WB_CHECK_INT_EQ(err.line, 3);
    WB_CHECK_INT_EQ(err.col, 4);
    WB_CHECK_INT_EQ(wb_error_set(NULL, WB_EIO, "x"), WB_EIO);
    WB_CHECK_STR_EQ(wb_err_name(WB_ESTATE), "WB_ESTATE");
    WB_CHECK_STR_EQ(wb_strerror(WB_ECONFIG), "invalid configuration");
}

int main(void)
{
    WB_RUN(test_error_fields);
    return wbtest_summary();
}
