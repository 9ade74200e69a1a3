/*
 * decode/pgoutput.h - decoder for the pgoutput logical replication
 * protocol (the relation cache it needs is decode/relcache.h).
 *
 * Mirrors PostgreSQL's logicalproto.h / proto.c: one struct and one
 * bounds-checked reader per message.  The wire layout of every message is
 * documented in lib/decode/pgoutput.c.  The decoder is pure: bytes in, a
 * wb_pgoutput_msg out, nothing else touched, so it can be unit-tested with
 * recorded byte vectors and fuzzed.
 *
 * Lifetimes: strings and tuple values in a decoded message live in the arena
 * passed to wb_pgoutput_decode (the per-message arena); they die at the next
 * wb_arena_reset.  Tuple values ('t' and 'b') are copied with the header of
 * common/value.h in front (length and format) and a NUL after, so text can
 * be passed to libpq as a text parameter directly and binary with its
 * length.  The relation cache deep
 * copies what it keeps.
 */
#ifndef WB_DECODE_PGOUTPUT_H
#define WB_DECODE_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/lsn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message type bytes (logicalproto.h LogicalRepMsgType). */
typedef enum wb_pgoutput_msgtype {
    WB_PGO_BEGIN = 'B',
    WB_PGO_COMMIT = 'C',
    WB_PGO_ORIGIN = 'O',
    WB_PGO_RELATION = 'R',
    WB_PGO_TYPE = 'Y',
    WB_PGO_INSERT = 'I',
    WB_PGO_UPDATE = 'U',
    WB_PGO_DELETE = 'D',
    WB_PGO_TRUNCATE = 'T',
    WB_PGO_MESSAGE = 'M',
    WB_PGO_STREAM_START = 'S',
    WB_PGO_STREAM_STOP = 'E',
    WB_PGO_STREAM_COMMIT = 'c',
    WB_PGO_STREAM_ABORT = 'A',
    /* Two-phase commit (protocol v3 with two_phase on). */
    WB_PGO_BEGIN_PREPARE = 'b',
    WB_PGO_PREPARE = 'P',
    WB_PGO_COMMIT_PREPARED = 'K',
    WB_PGO_ROLLBACK_PREPARED = 'r',
    WB_PGO_STREAM_PREPARE = 'p'
} wb_pgoutput_msgtype;

/* Tuple value kinds (TupleData). */
#define WB_TUPLE_NULL      'n'
#define WB_TUPLE_UNCHANGED 'u' /* unchanged TOAST value: no data follows */
#define WB_TUPLE_TEXT      't'
#define WB_TUPLE_BINARY    'b'

typedef struct wb_tuple_value {
    char kind;        /* WB_TUPLE_* */
    uint32_t len;     /* bytes of data, without the added NUL */
    const char *data; /* 't'/'b': arena copy (common/value.h); else NULL */
} wb_tuple_value;

typedef struct wb_tuple {
    uint16_t ncols;
    wb_tuple_value *cols;
} wb_tuple;

typedef struct wb_pgoutput_begin {
    wb_lsn final_lsn;    /* LSN of the commit record */
    int64_t commit_time; /* PG epoch microseconds */
    uint32_t xid;
} wb_pgoutput_begin;

typedef struct wb_pgoutput_commit {
    uint8_t flags;
    wb_lsn commit_lsn;
    wb_lsn end_lsn; /* end of the commit record: the progress position */
    int64_t commit_time;
} wb_pgoutput_commit;

typedef struct wb_pgoutput_origin {
    wb_lsn origin_lsn;
    const char *name;
} wb_pgoutput_origin;

#define WB_PGO_COLUMN_KEY 1 /* column flag: part of the replica identity */

typedef struct wb_pgoutput_column {
    uint8_t flags;
    const char *name;
    uint32_t typoid;
    int32_t typmod;
} wb_pgoutput_column;

typedef struct wb_pgoutput_relation {
    uint32_t relid;
    const char *nspname; /* "" on the wire means pg_catalog; kept as sent */
    const char *relname;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint16_t natts;
    wb_pgoutput_column *atts;
} wb_pgoutput_relation;

typedef struct wb_pgoutput_type {
    uint32_t typoid;
    const char *nspname;
    const char *typname;
} wb_pgoutput_type;

typedef struct wb_pgoutput_insert {
    uint32_t relid;
    wb_tuple newtup;
} wb_pgoutput_insert;

typedef struct wb_pgoutput_update {
    uint32_t relid;
    char oldkind;    /* 0 (no old tuple), 'K' (key) or 'O' (full old row) */
    wb_tuple oldtup; /* valid when oldkind != 0 */
    wb_tuple newtup;
} wb_pgoutput_update;

typedef struct wb_pgoutput_delete {
    uint32_t relid;
    char oldkind; /* 'K' or 'O' */
    wb_tuple oldtup;
} wb_pgoutput_delete;

#define WB_TRUNCATE_CASCADE      1
#define WB_TRUNCATE_RESTART_SEQS 2

typedef struct wb_pgoutput_truncate {
    uint32_t nrelids;
    uint8_t flags; /* WB_TRUNCATE_* */
    uint32_t *relids;
} wb_pgoutput_truncate;

#define WB_MESSAGE_TRANSACTIONAL 1

typedef struct wb_pgoutput_message {
    uint8_t flags; /* WB_MESSAGE_TRANSACTIONAL */
    wb_lsn lsn;
    const char *prefix;
    uint32_t len;
    const char *content; /* arena copy with a trailing NUL */
} wb_pgoutput_message;

/*
 * Stream control messages.  Their top-level xid is in wb_pgoutput_msg.xid
 * (has_xid is true for S, c and A); Stream Stop ('E') has no fields.
 */
typedef struct wb_pgoutput_stream_start {
    uint8_t first_segment; /* 1 for the first block of this xid */
} wb_pgoutput_stream_start;

typedef struct wb_pgoutput_stream_commit {
    uint8_t flags;
    wb_lsn commit_lsn;
    wb_lsn end_lsn; /* end of the commit record: the progress position */
    int64_t commit_time;
} wb_pgoutput_stream_commit;

typedef struct wb_pgoutput_stream_abort {
    uint32_t subxid;     /* == xid when the whole transaction aborted */
    bool has_abort_info; /* v4 with streaming=parallel: the two below */
    wb_lsn abort_lsn;
    int64_t abort_time;
} wb_pgoutput_stream_abort;

/*
 * Two-phase commit messages (protocol v3, two_phase on).  Each carries the
 * top-level xid and the GID in its own struct; wb_pgoutput_msg.has_xid stays
 * false for them, in or out of a streamed block.  gid is an arena copy.
 */
typedef struct wb_pgoutput_begin_prepare {
    wb_lsn prepare_lsn;   /* LSN of the PREPARE record */
    wb_lsn end_lsn;       /* end of the PREPARE record */
    int64_t prepare_time; /* PG epoch microseconds */
    uint32_t xid;
    const char *gid;
} wb_pgoutput_begin_prepare;

typedef struct wb_pgoutput_prepare {
    uint8_t flags;
    wb_lsn prepare_lsn; /* LSN of the PREPARE record */
    wb_lsn end_lsn;     /* end of the PREPARE record: the progress position */
    int64_t prepare_time;
    uint32_t xid;
    const char *gid;
} wb_pgoutput_prepare;

typedef struct wb_pgoutput_commit_prepared {
    uint8_t flags;
    wb_lsn commit_lsn; /* LSN of the COMMIT PREPARED record */
    wb_lsn end_lsn;    /* end of that record: the progress position */
    int64_t commit_time;
    uint32_t xid;
    const char *gid;
} wb_pgoutput_commit_prepared;

typedef struct wb_pgoutput_rollback_prepared {
    uint8_t flags;
    wb_lsn prepare_end_lsn;  /* end of the PREPARE record */
    wb_lsn rollback_end_lsn; /* end of the ROLLBACK PREPARED record: the
                              * progress position */
    int64_t prepare_time;
    int64_t rollback_time;
    uint32_t xid;
    const char *gid;
} wb_pgoutput_rollback_prepared;

/* Sent after the last Stream Stop of a streamed prepared transaction. */
typedef struct wb_pgoutput_stream_prepare {
    uint8_t flags;
    wb_lsn prepare_lsn; /* LSN of the PREPARE record */
    wb_lsn end_lsn;     /* end of the PREPARE record: the progress position */
    int64_t prepare_time;
    uint32_t xid;
    const char *gid;
} wb_pgoutput_stream_prepare;

typedef struct wb_pgoutput_msg {
    char type; /* wb_pgoutput_msgtype */
    /*
     * R, Y, I, U, D, T and M inside a streamed block: the leading subxact
     * xid.  S, c and A: the streamed top-level xid.  Otherwise unset (the
     * two-phase messages keep their xid in their own struct).
     */
    bool has_xid;
    uint32_t xid;
    union {
        wb_pgoutput_begin begin;
        wb_pgoutput_commit commit;
        wb_pgoutput_origin origin;
        wb_pgoutput_relation relation;
        wb_pgoutput_type type;
        wb_pgoutput_insert insert;
        wb_pgoutput_update update;
        wb_pgoutput_delete del;
        wb_pgoutput_truncate truncate;
        wb_pgoutput_message message;
        wb_pgoutput_stream_start stream_start;
        wb_pgoutput_stream_commit stream_commit;
        wb_pgoutput_stream_abort stream_abort;
        wb_pgoutput_begin_prepare begin_prepare;
        wb_pgoutput_prepare prepare;
        wb_pgoutput_commit_prepared commit_prepared;
        wb_pgoutput_rollback_prepared rollback_prepared;
        wb_pgoutput_stream_prepare stream_prepare;
    } u;
} wb_pgoutput_msg;

/*
 * Decode one pgoutput message (the payload of an XLogData CopyData).
 * in_stream tells whether the message sits inside a Stream Start/Stop block,
 * where R, Y, I, U, D, T and M carry a leading Int32 xid.  Allocates only from
 * arena.  Returns 0; WB_EPROTO when the message is truncated, has trailing
 * bytes, an unknown type or an impossible field (err names the message type
 * and byte offset); WB_ENOMEM when the arena is exhausted.
 */
int wb_pgoutput_decode(const char *buf, size_t len, bool in_stream,
                       wb_arena *arena, wb_pgoutput_msg *out, wb_error *err);

/* Human-readable name of a message type ("Insert"); "unknown" otherwise. */
const char *wb_pgoutput_msgtype_name(char type);

#ifdef __cplusplus
}
#endif
#endif
