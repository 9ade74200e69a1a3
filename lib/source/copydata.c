/*
 * source/copydata.c - the CopyData framing of a streaming replication
 * connection.
 *
 * Layouts (all integers big-endian, times in PostgreSQL-epoch microseconds):
 *
 *   'w' XLogData       Byte1 'w', Int64 walStart, Int64 walEnd,
 *                      Int64 sendTime, payload...           (>= 25 bytes)
 *   'k' keepalive      Byte1 'k', Int64 walEnd, Int64 sendTime,
 *                      Byte1 replyRequested                  (== 18 bytes)
 *   'r' status update  Byte1 'r', Int64 write, Int64 flush, Int64 apply,
 *                      Int64 clientTime, Byte1 replyRequested (== 34 bytes)
 *
 * A keepalive must be exactly 18 bytes, like walreceiver.c requires: a
 * different length means we and the server disagree about the protocol, and
 * guessing which bytes are which would corrupt the progress we report.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "source/copydata.h"

/* Printable form of a type byte for error messages. */
static void type_repr(char *buf, size_t n, unsigned char c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "\"%c\"", c);
    else
        snprintf(buf, n, "0x%02x", c);
}

int wb_copydata_parse(const char *buf, size_t len, wb_copydata *out,
                      wb_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    char repr[16];

    memset(out, 0, sizeof(*out));
    if (len == 0 || buf == NULL)
        return wb_error_set(err, WB_EPROTO, "empty CopyData message");

    switch (p[0]) {
    case 'w':
        if (len < WB_XLOGDATA_HEADER_LEN)
            return wb_error_set(err, WB_EPROTO,
                                "XLogData message too short: %zu bytes, "
                                "expected at least %d",
                                len, WB_XLOGDATA_HEADER_LEN);
        out->type = 'w';
        out->wal_start = wb_be64(p + 1);
        out->wal_end = wb_be64(p + 9);
        out->send_time = (int64_t)wb_be64(p + 17);
        out->payload = buf + WB_XLOGDATA_HEADER_LEN;
        out->payload_len = len - WB_XLOGDATA_HEADER_LEN;
        return 0;
    case 'k':
        if (len < WB_KEEPALIVE_LEN)
            return wb_error_set(err, WB_EPROTO,
                                "keepalive message too short: %zu bytes, "
                                "expected %d",
                                len, WB_KEEPALIVE_LEN);
        if (len > WB_KEEPALIVE_LEN)
            return wb_error_set(err, WB_EPROTO,
                                "keepalive message too long: %zu bytes, "
                                "expected %d",
                                len, WB_KEEPALIVE_LEN);
        out->type = 'k';
        out->wal_end = wb_be64(p + 1);
        out->send_time = (int64_t)wb_be64(p + 9);
        out->reply_requested = p[17] != 0;
        return 0;
    default:
        type_repr(repr, sizeof(repr), p[0]);
        return wb_error_set(err, WB_EPROTO, "unknown CopyData message type %s",
                            repr);
    }
}

void wb_copydata_status_update(char out[WB_STATUS_UPDATE_LEN], wb_lsn write,
                               wb_lsn flush, wb_lsn apply, int64_t now_pg,
                               int reply_requested)
{
    unsigned char *p = (unsigned char *)out;

    p[0] = 'r';
    wb_put_be64(p + 1, write);
    wb_put_be64(p + 9, flush);
    wb_put_be64(p + 17, apply);
    wb_put_be64(p + 25, (uint64_t)now_pg);
    p[33] = reply_requested ? 1 : 0;
}
