/*
 * test_syncstate.c - the sync state's statement text (syncstate.c): the
 * words of its states, the advance that fails the transaction unless the
 * row holds the count it expects, and the start that resets a row.
 */
#include <string.h>

#include "common/strbuf.h"
#include "syncstate.h"
#include "wbtest.h"

static void test_kinds(void)
{
    WB_CHECK_STR_EQ(wb_sync_kind_name(WB_SYNC_COPYING), "copying");
    WB_CHECK_STR_EQ(wb_sync_kind_name(WB_SYNC_DONE), "done");
    WB_CHECK_STR_EQ(wb_sync_kind_name(WB_SYNC_SKIPPED), "skipped");
    WB_CHECK_STR_EQ(wb_sync_kind_name((wb_sync_kind)42), "");
    for (int k = WB_SYNC_COPYING; k <= WB_SYNC_SKIPPED; k++)
        WB_CHECK_INT_EQ(wb_sync_kind_parse(wb_sync_kind_name((wb_sync_kind)k)),
                        k);
    WB_CHECK_INT_EQ(wb_sync_kind_parse("resync"), WB_SYNC_NONE);
}

static void test_advance_guard(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_syncstate_sql_advance(&b, "\"walbridge\".sync_state"),
                    0);
    WB_CHECK_STR_EQ(
        b.data,
        "WITH u AS (UPDATE \"walbridge\".sync_state SET key_cursor = "
        "$3::text[], rows_copied = $4::bigint, state = $5, finished_at = CASE "
        "WHEN $5 = 'done' THEN now() END, updated_at = now() WHERE slot = $1 "
        "AND mapping = $2 AND state = 'copying' AND rows_copied = $6::bigint "
        "RETURNING 1) SELECT (CASE WHEN EXISTS (SELECT 1 FROM u) THEN '1' "
        "ELSE 'walbridge: the previous copy batch was not committed' "
        "END)::int");
    wb_strbuf_free(&b);
}

static void test_start_resets(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_syncstate_sql_start(&b, "\"w\".sync_state"), 0);
    WB_CHECK_STR_CONTAINS(b.data, "INSERT INTO \"w\".sync_state (slot, "
                                  "mapping, digest, state, snapshot_lsn, ");
    WB_CHECK_STR_CONTAINS(b.data, "VALUES ($1, $2, $3, $4, $5::pg_lsn, NULL, "
                                  "0, now(), NULL, now())");
    /* A new slot starts every mapping over: no cursor, no rows. */
    WB_CHECK_STR_CONTAINS(b.data, "ON CONFLICT (slot, mapping) DO UPDATE");
    WB_CHECK_STR_CONTAINS(b.data, "key_cursor = NULL, rows_copied = 0");
    wb_strbuf_free(&b);
}

static void test_create_and_read(void)
{
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_syncstate_sql_create(&b, "\"w\".sync_state"), 0);
    WB_CHECK_STR_CONTAINS(b.data, "CREATE TABLE IF NOT EXISTS "
                                  "\"w\".sync_state (");
    WB_CHECK_STR_CONTAINS(b.data, "PRIMARY KEY (slot, mapping))");
    wb_strbuf_reset(&b);
    WB_CHECK_INT_EQ(wb_syncstate_sql_read(&b, "\"w\".sync_state"), 0);
    WB_CHECK_STR_EQ(b.data, "SELECT mapping, digest, state, snapshot_lsn, "
                            "key_cursor::text, rows_copied, started_at, "
                            "finished_at FROM \"w\".sync_state WHERE slot = "
                            "$1 ORDER BY mapping");
    wb_strbuf_free(&b);
}

static void test_rows_find(void)
{
    wb_sync_row r[2] = {{.mapping = "a"}, {.mapping = "b"}};
    wb_sync_rows rows = {2, r};
    WB_CHECK(wb_sync_rows_find(&rows, "b") == &r[1]);
    WB_CHECK(wb_sync_rows_find(&rows, "c") == NULL);
}

int main(void)
{
    WB_RUN(test_kinds);
    WB_RUN(test_advance_guard);
    WB_RUN(test_start_resets);
    WB_RUN(test_create_and_read);
    WB_RUN(test_rows_find);
    return wbtest_summary();
}
