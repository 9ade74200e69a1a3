/*
 * test_tablecopy.c - the COPY statement that reads a source table for the
 * initial copy and the re-sync's chunks (source/tablecopy.c): columns,
 * ONLY, the key's text columns of a binary copy (or the cursor made
 * from its binary key values), the cursor's row comparison with its
 * casts, the order and the limit.
 */
#include <string.h>

#include "common/arena.h"
#include "common/strbuf.h"
#include "common/value.h"
#include "source/tablecopy.h"
#include "wbtest.h"

static wb_pgoutput_column atts[] = {
    {WB_PGO_COLUMN_KEY, "id", 23, -1},
    {0, "na\"me", 25, -1},
    {WB_PGO_COLUMN_KEY, "region", 25, -1},
};
static const char *types[] = {"integer", "text", "text"};
static uint16_t order[] = {2, 0}; /* (region, id) */

static wb_tablecopy_rel rel(void)
{
    wb_tablecopy_rel r;
    memset(&r, 0, sizeof(r));
    r.rel.nspname = "My Schema";
    r.rel.relname = "t";
    r.rel.natts = 3;
    r.rel.atts = atts;
    r.relkind = 'r';
    r.norder = 2;
    r.order = order;
    r.types = types;
    return r;
}

static void test_whole_table(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, false, NULL, 0), 0);
    WB_CHECK_STR_EQ(b.data, "COPY (SELECT \"id\", \"na\"\"me\", \"region\" "
                            "FROM ONLY \"My Schema\".\"t\" ORDER BY \"My "
                            "Schema\".\"t\".\"region\", \"My "
                            "Schema\".\"t\".\"id\") TO STDOUT");
    wb_strbuf_free(&b);
}

/* Binary: the key's columns again as text, for the cursor; a partitioned
 * table without ONLY. */
static void test_binary_partitioned(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    r.relkind = 'p';
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, true, NULL, 0), 0);
    WB_CHECK_STR_EQ(b.data, "COPY (SELECT \"id\", \"na\"\"me\", \"region\", "
                            "\"region\"::text, \"id\"::text FROM \"My "
                            "Schema\".\"t\" ORDER BY \"My "
                            "Schema\".\"t\".\"region\", \"My "
                            "Schema\".\"t\".\"id\") TO STDOUT WITH (FORMAT "
                            "binary)");
    wb_strbuf_free(&b);
}

/* A chunk: after the cursor (a quoted text[] literal, each element cast
 * to its column's type), at most limit rows. */
static void test_chunk(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, false, "{\"it's\",42}", 500), 0);
    WB_CHECK_STR_EQ(
        b.data,
        "COPY (SELECT \"id\", \"na\"\"me\", \"region\" FROM ONLY \"My "
        "Schema\".\"t\" WHERE (\"My Schema\".\"t\".\"region\", \"My "
        "Schema\".\"t\".\"id\") > (('{\"it''s\",42}'::text[])[1]::text, "
        "('{\"it''s\",42}'::text[])[2]::integer) ORDER BY \"My "
        "Schema\".\"t\".\"region\", \"My Schema\".\"t\".\"id\" LIMIT 500) TO "
        "STDOUT");
    wb_strbuf_free(&b);
}

/* No key: no order, no cursor. */
static void test_no_key(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    r.norder = 0;
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, false, "{1}", 0), 0);
    WB_CHECK_STR_EQ(b.data, "COPY (SELECT \"id\", \"na\"\"me\", \"region\" "
                            "FROM ONLY \"My Schema\".\"t\") TO STDOUT");
    wb_strbuf_free(&b);
}

/* A policy by commit time: each row's last writer's commit time, in PG
 * epoch microseconds, after the key's text columns. */
static void test_commit_times(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    r.commit_times = true;
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, true, NULL, 0), 0);
    WB_CHECK_STR_EQ(b.data,
                    "COPY (SELECT \"id\", \"na\"\"me\", \"region\", "
                    "\"region\"::text, \"id\"::text, (extract(epoch FROM "
                    "pg_catalog.pg_xact_commit_timestamp(xmin)) * 1000000 - "
                    "946684800000000)::int8 FROM ONLY \"My Schema\".\"t\" "
                    "ORDER BY \"My Schema\".\"t\".\"region\", \"My "
                    "Schema\".\"t\".\"id\") TO STDOUT WITH (FORMAT binary)");
    WB_CHECK_INT_EQ(wb_tablecopy_ncols(&r, true), 6);
    WB_CHECK_INT_EQ(wb_tablecopy_ncols(&r, false), 4);
    r.commit_times = false;
    WB_CHECK_INT_EQ(wb_tablecopy_ncols(&r, true), 5);
    wb_strbuf_free(&b);
}

/* The commit time read back: binary int8 (big-endian), text, NULL. */
static void test_row_commit_time(void)
{
    wb_tablecopy_rel r = rel();
    r.commit_times = true;
    static const char be[8] = {0, 3, 0x05, 0x0b, 0x6b, 0x1a, 0x2c, 0x4f};
    wb_tuple_value cols[6] = {{0}};
    wb_tuple t = {6, cols};
    cols[5] = (wb_tuple_value){WB_TUPLE_BINARY, 8, be};
    WB_CHECK(wb_tablecopy_row_commit_time(&r, true, &t, -1) ==
             (int64_t)0x0003050b6b1a2c4fLL);
    cols[3] = (wb_tuple_value){WB_TUPLE_TEXT, 15, "849989630881175"};
    t.ncols = 4;
    WB_CHECK(wb_tablecopy_row_commit_time(&r, false, &t, -1) ==
             849989630881175LL);
    cols[3] = (wb_tuple_value){WB_TUPLE_NULL, 0, NULL};
    WB_CHECK(wb_tablecopy_row_commit_time(&r, false, &t, -1) == -1);
    /* Not asked for: the fallback, whatever the row holds. */
    r.commit_times = false;
    cols[3] = (wb_tuple_value){WB_TUPLE_TEXT, 3, "123"};
    WB_CHECK(wb_tablecopy_row_commit_time(&r, false, &t, -1) == -1);
}

/* A binary copy whose key walbridge gives the text of itself: no text
 * columns; the commit time right after the table's columns. */
static void test_local_cursor_sql(void)
{
    wb_tablecopy_rel r = rel();
    wb_strbuf b = {0};
    WB_CHECK(wb_tablecopy_local_cursor_ok(&r)); /* text, integer */
    r.local_cursor = true;
    r.commit_times = true;
    WB_CHECK_INT_EQ(wb_tablecopy_sql(&b, &r, true, NULL, 0), 0);
    WB_CHECK_STR_EQ(b.data,
                    "COPY (SELECT \"id\", \"na\"\"me\", \"region\", "
                    "(extract(epoch FROM "
                    "pg_catalog.pg_xact_commit_timestamp(xmin)) * 1000000 - "
                    "946684800000000)::int8 FROM ONLY \"My Schema\".\"t\" "
                    "ORDER BY \"My Schema\".\"t\".\"region\", \"My "
                    "Schema\".\"t\".\"id\") TO STDOUT WITH (FORMAT binary)");
    WB_CHECK_INT_EQ(wb_tablecopy_ncols(&r, true), 4);
    static const char be[8] = {0, 0, 0, 0, 0, 0, 0, 7};
    char vbuf[WB_VALUE_HDR + 9];
    wb_tuple_value cols[4] = {{0}};
    wb_tuple t = {4, cols};
    cols[3] =
        (wb_tuple_value){WB_TUPLE_BINARY, 8, wb_value_put(vbuf, be, 8, true)};
    WB_CHECK(wb_tablecopy_row_commit_time(&r, true, &t, -1) == 7);
    wb_strbuf_free(&b);
    /* numeric has no text form walbridge makes: the server's text. */
    static wb_pgoutput_column natts[] = {{WB_PGO_COLUMN_KEY, "n", 1700, -1}};
    static uint16_t norder[] = {0};
    r = rel();
    r.rel.natts = 1;
    r.rel.atts = natts;
    r.norder = 1;
    r.order = norder;
    WB_CHECK(!wb_tablecopy_local_cursor_ok(&r));
}

/* The cursor from a row: binary key values (a text key as it came, an
 * integer's decimal text), quoted as text[] elements; from the key's
 * text columns otherwise; NULL as NULL; a value of the wrong length
 * refused. */
static void test_cursor(void)
{
    wb_tablecopy_rel r = rel();
    wb_arena *arena = wb_arena_create(1024, 0);
    wb_strbuf b = {0};
    wb_error err;
    char v0[WB_VALUE_HDR + 5], v2[WB_VALUE_HDR + 16], v3[WB_VALUE_HDR + 8];
    static const char id[4] = {0, 0, 1, 0}; /* 256 */
    wb_tuple_value cols[5] = {{0}};
    wb_tuple t = {3, cols};

    r.local_cursor = true;
    cols[0] =
        (wb_tuple_value){WB_TUPLE_BINARY, 4, wb_value_put(v0, id, 4, true)};
    cols[2] = (wb_tuple_value){WB_TUPLE_BINARY, 9,
                               wb_value_put(v2, "it's \"x\"", 9, true)};
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, true, &t, arena, &b, &err), 0);
    WB_CHECK_STR_EQ(b.data, "{\"it's \\\"x\\\"\",\"256\"}");
    cols[2] = (wb_tuple_value){WB_TUPLE_NULL, 0, NULL};
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, true, &t, arena, &b, &err), 0);
    WB_CHECK_STR_EQ(b.data, "{NULL,\"256\"}");
    cols[0] =
        (wb_tuple_value){WB_TUPLE_BINARY, 2, wb_value_put(v0, id, 2, true)};
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, true, &t, arena, &b, &err),
                    WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "key column \"id\"");
    WB_CHECK_STR_EQ(err.relation, "My Schema.t");
    /* Without local_cursor: the key's text columns after the table's. */
    r.local_cursor = false;
    t.ncols = 5;
    cols[3] =
        (wb_tuple_value){WB_TUPLE_BINARY, 2, wb_value_put(v3, "eu", 2, true)};
    cols[4] =
        (wb_tuple_value){WB_TUPLE_BINARY, 3, wb_value_put(v2, "257", 3, true)};
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, true, &t, arena, &b, &err), 0);
    WB_CHECK_STR_EQ(b.data, "{\"eu\",\"257\"}");
    /* Text format: the columns themselves; no key, no cursor. */
    t.ncols = 3;
    cols[0] = (wb_tuple_value){WB_TUPLE_TEXT, 2, "12"};
    cols[2] = (wb_tuple_value){WB_TUPLE_TEXT, 2, "us"};
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, false, &t, arena, &b, &err), 0);
    WB_CHECK_STR_EQ(b.data, "{\"us\",\"12\"}");
    r.norder = 0;
    WB_CHECK_INT_EQ(wb_tablecopy_cursor(&r, false, &t, arena, &b, &err), 0);
    WB_CHECK_INT_EQ((int)b.len, 0);
    wb_strbuf_free(&b);
    wb_arena_destroy(arena);
}

int main(void)
{
    WB_RUN(test_whole_table);
    WB_RUN(test_binary_partitioned);
    WB_RUN(test_chunk);
    WB_RUN(test_no_key);
    WB_RUN(test_commit_times);
    WB_RUN(test_row_commit_time);
    WB_RUN(test_local_cursor_sql);
    WB_RUN(test_cursor);
    return wbtest_summary();
}
