/*
 * test_names.c - walbridge's own objects, quoted (common/names.c).
 */
#include <string.h>

#include "common/names.h"
#include "wbtest.h"

static wb_strbuf b;

static const char *text(int rc)
{
    WB_CHECK_INT_EQ(rc, 0);
    return wb_strbuf_str(&b);
}

static void test_own_tables(void)
{

    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(
        text(wb_names_rel(&b, "Wal \"Bridge\"", WB_OWN_PENDING_LINK)),
        "\"Wal \"\"Bridge\"\"\".pending_link");
    wb_strbuf_reset(&b);
    WB_CHECK_STR_EQ(text(wb_names_create_schema(&b, "Wal \"Bridge\"")),
                    "CREATE SCHEMA IF NOT EXISTS \"Wal \"\"Bridge\"\"\"");
}

int main(void)
{
    WB_RUN(test_own_tables);
    wb_strbuf_free(&b);
    return wbtest_summary();
}
