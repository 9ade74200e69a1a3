/*
 * test_copydata.c - CopyData framing: XLogData and keepalive parsing, the
 * standby status update encoding, and every way a frame can be short.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/copydata.h"
#include "wbtest.h"

static size_t build_xlogdata(unsigned char *buf, uint64_t start, uint64_t end,
                             int64_t t, const char *payload, size_t plen)
{
    buf[0] = 'w';
    wb_put_be64(buf + 1, start);
    wb_put_be64(buf + 9, end);
    wb_put_be64(buf + 17, (uint64_t)t);
    memcpy(buf + 25, payload, plen);
    return 25 + plen;
}

static void build_keepalive(unsigned char *buf, uint64_t end, int64_t t,
                            int reply)
{
    buf[0] = 'k';
    wb_put_be64(buf + 1, end);
    wb_put_be64(buf + 9, (uint64_t)t);
    buf[17] = (unsigned char)reply;
}

static void test_xlogdata(void)
{
    unsigned char buf[64];
    wb_copydata cd;
    wb_error err;
    size_t n =
        build_xlogdata(buf, UINT64_C(0x16B374D848), UINT64_C(0x16B374D900),
                       INT64_C(777000111222), "I\0\0\0\1", 5);

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse((const char *)buf, n, &cd, &err), 0);
    WB_CHECK_INT_EQ(cd.type, 'w');
    WB_CHECK_U64_EQ(cd.wal_start, UINT64_C(0x16B374D848));
    WB_CHECK_U64_EQ(cd.wal_end, UINT64_C(0x16B374D900));
    WB_CHECK_INT_EQ(cd.send_time, INT64_C(777000111222));
    WB_CHECK_INT_EQ(cd.payload_len, 5);
    WB_CHECK(cd.payload == (const char *)buf + 25); /* aliases the input */
    WB_CHECK_MEM_EQ(cd.payload, "I\0\0\0\1", 5);
    WB_CHECK_INT_EQ(err.code, 0);
}

static void test_xlogdata_empty_payload(void)
{
    unsigned char buf[32];
    wb_copydata cd;
    size_t n = build_xlogdata(buf, 1, 2, 3, "", 0);

    WB_CHECK_INT_EQ(n, WB_XLOGDATA_HEADER_LEN);
    WB_CHECK_INT_EQ(wb_copydata_parse((const char *)buf, n, &cd, NULL), 0);
    WB_CHECK_INT_EQ(cd.payload_len, 0);
    WB_CHECK_U64_EQ(cd.wal_start, 1);
    WB_CHECK_U64_EQ(cd.wal_end, 2);
    WB_CHECK_INT_EQ(cd.send_time, 3);
}

static void test_xlogdata_high_bits(void)
{
    /* All-ones LSN and a negative time survive the big-endian decode. */
    unsigned char buf[32];
    wb_copydata cd;
    size_t n = build_xlogdata(buf, UINT64_MAX, UINT64_C(0x8000000000000001),
                              INT64_C(-5), "x", 1);

    WB_CHECK_INT_EQ(wb_copydata_parse((const char *)buf, n, &cd, NULL), 0);
    WB_CHECK_U64_EQ(cd.wal_start, UINT64_MAX);
    WB_CHECK_U64_EQ(cd.wal_end, UINT64_C(0x8000000000000001));
    WB_CHECK_INT_EQ(cd.send_time, -5);
}

static void test_xlogdata_truncated(void)
{
    unsigned char buf[32];
    wb_copydata cd;
    wb_error err;
    int bad = 0;

    build_xlogdata(buf, 1, 2, 3, "", 0);
    for (size_t len = 1; len < WB_XLOGDATA_HEADER_LEN; len++) {
        wb_error_clear(&err);
        if (wb_copydata_parse((const char *)buf, len, &cd, &err) != WB_EPROTO ||
            err.code != WB_EPROTO)
            bad++;
    }
    WB_CHECK_INT_EQ(bad, 0);
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse((const char *)buf, 24, &cd, &err),
                    WB_EPROTO);
    WB_CHECK_STR_EQ(err.message,
                    "XLogData message too short: 24 bytes, expected at least "
                    "25");
}

static void test_keepalive(void)
{
    unsigned char buf[WB_KEEPALIVE_LEN];
    wb_copydata cd;

    build_keepalive(buf, UINT64_C(0xABCDEF0123), INT64_C(123456789), 1);
    WB_CHECK_INT_EQ(
        wb_copydata_parse((const char *)buf, sizeof(buf), &cd, NULL), 0);
    WB_CHECK_INT_EQ(cd.type, 'k');
    WB_CHECK_U64_EQ(cd.wal_end, UINT64_C(0xABCDEF0123));
    WB_CHECK_INT_EQ(cd.send_time, 123456789);
    WB_CHECK_INT_EQ(cd.reply_requested, 1);
    WB_CHECK(cd.payload == NULL);
    WB_CHECK_INT_EQ(cd.payload_len, 0);
    WB_CHECK_U64_EQ(cd.wal_start, 0);

    build_keepalive(buf, 42, 0, 0);
    WB_CHECK_INT_EQ(
        wb_copydata_parse((const char *)buf, sizeof(buf), &cd, NULL), 0);
    WB_CHECK_U64_EQ(cd.wal_end, 42);
    WB_CHECK_INT_EQ(cd.reply_requested, 0);
}

static void test_keepalive_bad_length(void)
{
    unsigned char buf[WB_KEEPALIVE_LEN + 4];
    wb_copydata cd;
    wb_error err;
    int bad = 0;

    build_keepalive(buf, 42, 7, 1);
    for (size_t len = 1; len < WB_KEEPALIVE_LEN; len++) {
        if (wb_copydata_parse((const char *)buf, len, &cd, NULL) != WB_EPROTO)
            bad++;
    }
    WB_CHECK_INT_EQ(bad, 0);

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse((const char *)buf, 12, &cd, &err),
                    WB_EPROTO);
    WB_CHECK_INT_EQ(err.code, WB_EPROTO);
    WB_CHECK_STR_EQ(err.message,
                    "keepalive message too short: 12 bytes, expected 18");

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(
        wb_copydata_parse((const char *)buf, sizeof(buf), &cd, &err),
        WB_EPROTO);
    WB_CHECK_STR_EQ(err.message,
                    "keepalive message too long: 22 bytes, expected 18");
}

static void test_empty_and_unknown(void)
{
    wb_copydata cd;
    wb_error err;

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse("", 0, &cd, &err), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "empty CopyData message");

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse("r0123456789", 11, &cd, &err), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "unknown CopyData message type \"r\"");

    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_copydata_parse("\x01", 1, &cd, &err), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "unknown CopyData message type 0x01");

    /* err may be NULL: only the code comes back. */
    WB_CHECK_INT_EQ(wb_copydata_parse("Z", 1, &cd, NULL), WB_EPROTO);
}

static void test_status_update(void)
{
    char out[WB_STATUS_UPDATE_LEN];
    const unsigned char *p = (const unsigned char *)out;

    memset(out, 0x55, sizeof(out));
    wb_copydata_status_update(out, UINT64_C(0x0102030405060708),
                              UINT64_C(0x1112131415161718),
                              UINT64_C(0x2122232425262728), INT64_C(-2), 1);
    WB_CHECK_INT_EQ(out[0], 'r');
    WB_CHECK_U64_EQ(wb_be64(p + 1), UINT64_C(0x0102030405060708));
    WB_CHECK_U64_EQ(wb_be64(p + 9), UINT64_C(0x1112131415161718));
    WB_CHECK_U64_EQ(wb_be64(p + 17), UINT64_C(0x2122232425262728));
    WB_CHECK_INT_EQ((int64_t)wb_be64(p + 25), -2);
    WB_CHECK_INT_EQ(p[33], 1);
    /* Big-endian on the wire, byte by byte. */
    WB_CHECK_INT_EQ(p[1], 0x01);
    WB_CHECK_INT_EQ(p[8], 0x08);
    WB_CHECK_INT_EQ(p[32], 0xfe);

    /* Any non-zero reply_requested becomes 1. */
    wb_copydata_status_update(out, 0, 0, 0, 0, 7);
    WB_CHECK_INT_EQ(p[33], 1);
    wb_copydata_status_update(out, 0, 0, 0, 0, 0);
    WB_CHECK_INT_EQ(p[33], 0);
    WB_CHECK_U64_EQ(wb_be64(p + 9), 0);
}

int main(void)
{
    WB_RUN(test_xlogdata);
    WB_RUN(test_xlogdata_empty_payload);
    WB_RUN(test_xlogdata_high_bits);
    WB_RUN(test_xlogdata_truncated);
    WB_RUN(test_keepalive);
    WB_RUN(test_keepalive_bad_length);
    WB_RUN(test_empty_and_unknown);
    WB_RUN(test_status_update);
    return wbtest_summary();
}
