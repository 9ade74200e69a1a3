/*
 * source/copydata.h - the streaming replication CopyData framing.
 *
 * Inside the CopyBoth stream started by START_REPLICATION, every CopyData
 * message begins with one type byte (protocol-replication.html):
 *
 *   'w' XLogData (server -> client)
 *       Int64 walStart, Int64 walEnd, Int64 sendTime (PG epoch, us),
 *       then the output plugin's payload (for pgoutput: one message).
 *   'k' Primary keepalive (server -> client)
 *       Int64 walEnd (the walsender's sentPtr), Int64 sendTime,
 *       Byte1 replyRequested.
 *   'r' Standby status update (client -> server), 34 bytes
 *       Int64 write, Int64 flush, Int64 apply, Int64 clientTime,
 *       Byte1 replyRequested.
 *
 * Parsing is pure and bounds-checked: bytes in, struct out; the payload
 * pointer aliases the input buffer.
 */
#ifndef WB_SOURCE_COPYDATA_H
#define WB_SOURCE_COPYDATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/lsn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WB_XLOGDATA_HEADER_LEN 25
#define WB_KEEPALIVE_LEN       18
#define WB_STATUS_UPDATE_LEN   34

typedef struct wb_copydata {
    char type;           /* 'w' or 'k' */
    wb_lsn wal_start;    /* 'w' only */
    wb_lsn wal_end;      /* 'w' and 'k' */
    int64_t send_time;   /* PG epoch microseconds */
    int reply_requested; /* 'k' only */
    const char *payload; /* 'w' only: aliases the input */
    size_t payload_len;
} wb_copydata;

/*
 * Parse one CopyData message.  Returns 0, or WB_EPROTO with err filled when
 * the type is unknown or the message is shorter than its fixed part.
 */
int wb_copydata_parse(const char *buf, size_t len, wb_copydata *out,
                      wb_error *err);

/* Encode a standby status update into out (WB_STATUS_UPDATE_LEN bytes). */
void wb_copydata_status_update(char out[WB_STATUS_UPDATE_LEN], wb_lsn write,
                               wb_lsn flush, wb_lsn apply, int64_t now_pg,
                               int reply_requested);

/* Big-endian helpers shared by the protocol code. */
static inline uint64_t wb_be64(const unsigned char *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) |
           ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}
static inline uint32_t wb_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint16_t wb_be16(const unsigned char *p)
{
    return (uint16_t)(((uint16_t)p[0] << 8) | (uint16_t)p[1]);
}
static inline void wb_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

#ifdef __cplusplus
}
#endif
#endif
