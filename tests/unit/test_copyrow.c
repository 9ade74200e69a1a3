/*
 * test_copyrow.c - rows of COPY ... TO STDOUT read back as tuples: text
 * escapes and NULL, binary header, rows and trailer, and malformed input.
 */
#include <string.h>

#include "common/arena.h"
#include "common/copytext.h"
#include "common/error.h"
#include "common/value.h"
#include "decode/copyrow.h"
#include "wbtest.h"

static wb_arena *arena;

/* Text rows written by walbridge's own COPY writer read back unchanged. */
static void test_text_roundtrip(void)
{
    const char *vals[] = {"plain",         NULL, "\\N",
                          "a\tb\nc\rd\\e", "",   "\xc3\xa9t\xc3\xa9"};
    wb_strbuf b = {0};
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;
    wb_error_clear(&err);

    WB_CHECK_INT_EQ(wb_copytext_row(&b, vals, 6), 0);
    wb_copyrow_init(&r, false, 6);
    WB_CHECK_INT_EQ(wb_copyrow_decode(&r, b.data, b.len, arena, &t, &row, &err),
                    0);
    WB_CHECK(row);
    WB_CHECK_INT_EQ(t.ncols, 6);
    for (int i = 0; i < 6; i++) {
        if (!vals[i]) {
            WB_CHECK_INT_EQ(t.cols[i].kind, WB_TUPLE_NULL);
            continue;
        }
        WB_CHECK_INT_EQ(t.cols[i].kind, WB_TUPLE_TEXT);
        WB_CHECK_STR_EQ(t.cols[i].data, vals[i]);
        WB_CHECK_INT_EQ(wb_value_len(t.cols[i].data), strlen(vals[i]));
        WB_CHECK(!wb_value_binary(t.cols[i].data));
    }
    wb_strbuf_free(&b);
}

/* Escapes the server may write, and the ones a reader must accept. */
static void test_text_escapes(void)
{
    const char line[] = "\\b\\f\\v\\101\\x41\\x4a\\q\t\\7x\n";
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;
    wb_error_clear(&err);

    wb_copyrow_init(&r, false, 2);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, line, sizeof(line) - 1, arena, &t, &row, &err),
        0);
    WB_CHECK_STR_EQ(t.cols[0].data, "\b\f\vAAJq");
    WB_CHECK_STR_EQ(t.cols[1].data, "\ax");
}

static void test_text_bad(void)
{
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;
    wb_error_clear(&err);

    wb_copyrow_init(&r, false, 3);
    WB_CHECK_INT_EQ(wb_copyrow_decode(&r, "a\tb\n", 4, arena, &t, &row, &err),
                    WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "2 columns, expected 3");
    WB_CHECK(!row);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, "a\tb\tc\td\n", 8, arena, &t, &row, &err),
        WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "more than 3 columns");
    WB_CHECK_INT_EQ(wb_copyrow_decode(&r, "a\tb\tc", 5, arena, &t, &row, &err),
                    WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "newline");
}

static size_t put16(unsigned char *p, int v)
{
    p[0] = (unsigned char)((v >> 8) & 0xff);
    p[1] = (unsigned char)(v & 0xff);
    return 2;
}

static size_t put32(unsigned char *p, long v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)((v >> (24 - 8 * i)) & 0xff);
    return 4;
}

static size_t header(unsigned char *p)
{
    memcpy(p, "PGCOPY\n\377\r\n\0", 11);
    put32(p + 11, 0);
    put32(p + 15, 0);
    return 19;
}

static void test_binary(void)
{
    unsigned char buf[128];
    size_t n = header(buf);
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;
    wb_error_clear(&err);

    /* First row: header, then (int4 7, NULL, bytea "a\0b"). */
    n += put16(buf + n, 3);
    n += put32(buf + n, 4);
    n += put32(buf + n, 7);
    n += put32(buf + n, -1);
    n += put32(buf + n, 3);
    memcpy(buf + n, "a\0b", 3);
    n += 3;
    wb_copyrow_init(&r, true, 3);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err), 0);
    WB_CHECK(row);
    WB_CHECK_INT_EQ(t.cols[0].kind, WB_TUPLE_BINARY);
    WB_CHECK_INT_EQ(wb_value_len(t.cols[0].data), 4);
    WB_CHECK(wb_value_binary(t.cols[0].data));
    WB_CHECK_MEM_EQ(t.cols[0].data, "\0\0\0\7", 4);
    WB_CHECK_INT_EQ(t.cols[1].kind, WB_TUPLE_NULL);
    WB_CHECK_INT_EQ(wb_value_len(t.cols[2].data), 3);
    WB_CHECK_MEM_EQ(t.cols[2].data, "a\0b", 3);

    /* A second header is not one. */
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err),
        WB_EPROTO);

    /* Trailer, then nothing more. */
    n = put16(buf, -1);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err), 0);
    WB_CHECK(!row && r.ended);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err),
        WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "after the trailer");
}

/* An empty table: header and trailer in one message. */
static void test_binary_empty(void)
{
    unsigned char buf[32];
    size_t n = header(buf);
    wb_copyrow_reader r;
    wb_tuple t;
    bool row = true;
    wb_error err;
    wb_error_clear(&err);

    n += put16(buf + n, -1);
    wb_copyrow_init(&r, true, 2);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err), 0);
    WB_CHECK(!row && r.ended);
}

static void test_binary_bad(void)
{
    unsigned char buf[64];
    size_t n;
    wb_copyrow_reader r;
    wb_tuple t;
    bool row;
    wb_error err;
    wb_error_clear(&err);

    wb_copyrow_init(&r, true, 1);
    WB_CHECK_INT_EQ(wb_copyrow_decode(&r, "PGCOPZ\n", 7, arena, &t, &row, &err),
                    WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "header");

    /* A field longer than the message. */
    n = header(buf);
    n += put16(buf + n, 1);
    n += put32(buf + n, 40);
    n += put32(buf + n, 1);
    wb_copyrow_init(&r, true, 1);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err),
        WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "cut short");

    /* The wrong number of fields. */
    n = header(buf);
    n += put16(buf + n, 2);
    wb_copyrow_init(&r, true, 1);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err),
        WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "2 columns, expected 1");

    /* Bytes after the last field. */
    n = header(buf);
    n += put16(buf + n, 1);
    n += put32(buf + n, 1);
    buf[n++] = 'x';
    buf[n++] = 'y';
    wb_copyrow_init(&r, true, 1);
    WB_CHECK_INT_EQ(
        wb_copyrow_decode(&r, (char *)buf, n, arena, &t, &row, &err),
        WB_EPROTO);
}

int main(void)
{
    arena = wb_arena_create(4096, 0);
    WB_RUN(test_text_roundtrip);
    WB_RUN(test_text_escapes);
    WB_RUN(test_text_bad);
    WB_RUN(test_binary);
    WB_RUN(test_binary_empty);
    WB_RUN(test_binary_bad);
    wb_arena_destroy(arena);
    return wbtest_summary();
}
