/*
 * decode/pgoutput.c - decoder for the pgoutput logical replication protocol
 * (protocol versions 1 to 4, PostgreSQL 14 to 17).
 *
 * One CopyData 'w' payload holds exactly one message: a type byte followed
 * by the fields below.  Integers are big-endian, String is NUL-terminated,
 * LSNs are Int64 and timestamps are Int64 microseconds since 2000-01-01 UTC.
 * [xid] is an Int32 subtransaction xid present only inside a Stream Start /
 * Stream Stop block (the caller's in_stream flag).
 *
 *   B  Begin          Int64 final_lsn, Int64 commit_time, Int32 xid
 *   C  Commit         Int8 flags (0), Int64 commit_lsn, Int64 end_lsn,
 *                     Int64 commit_time
 *   O  Origin         Int64 origin_lsn, String name
 *   R  Relation       [xid] Int32 relid, String nspname, String relname,
 *                     Int8 replident ('d', 'n', 'f', 'i'), Int16 natts,
 *                     natts x (Int8 flags (1 = key), String name,
 *                              Int32 typoid, Int32 typmod)
 *   Y  Type           [xid] Int32 typoid, String nspname, String typname
 *   I  Insert         [xid] Int32 relid, 'N', TupleData
 *   U  Update         [xid] Int32 relid, optional ('K' or 'O', TupleData),
 *                     'N', TupleData
 *   D  Delete         [xid] Int32 relid, 'K' or 'O', TupleData
 *   T  Truncate       [xid] Int32 nrelids, Int8 flags (1 = cascade,
 *                     2 = restart identity), nrelids x Int32 relid
 *   M  Message        [xid] Int8 flags (1 = transactional), Int64 lsn,
 *                     String prefix, Int32 len, len bytes
 *   S  Stream Start   Int32 xid, Int8 first_segment
 *   E  Stream Stop    (nothing)
 *   c  Stream Commit  Int32 xid, Int8 flags (0), Int64 commit_lsn,
 *                     Int64 end_lsn, Int64 commit_time
 *   A  Stream Abort   Int32 xid, Int32 subxid, and only with v4 and
 *                     streaming=parallel: Int64 abort_lsn, Int64 abort_time
 *   b  Begin Prepare  Int64 prepare_lsn, Int64 end_lsn, Int64 prepare_time,
 *                     Int32 xid, String gid
 *   P  Prepare        Int8 flags (0), Int64 prepare_lsn, Int64 end_lsn,
 *                     Int64 prepare_time, Int32 xid, String gid
 *   K  Commit Prepared
 *                     Int8 flags (0), Int64 commit_lsn, Int64 end_lsn,
 *                     Int64 commit_time, Int32 xid, String gid
 *   r  Rollback Prepared
 *                     Int8 flags (0), Int64 prepare_end_lsn,
 *                     Int64 rollback_end_lsn, Int64 prepare_time,
 *                     Int64 rollback_time, Int32 xid, String gid
 *   p  Stream Prepare Int8 flags (0), Int64 prepare_lsn, Int64 end_lsn,
 *                     Int64 prepare_time, Int32 xid, String gid
 *
 *   TupleData         Int16 ncols, ncols x one of
 *                       'n'                        NULL
 *                       'u'                        unchanged TOAST, no data
 *                       't' Int32 len, len bytes   text output
 *                       'b' Int32 len, len bytes   binary (typsend) output
 *
 * The two-phase messages (b, P, K, r, p) exist from protocol v3 and are sent
 * only with two_phase on.  Their xid is the top-level one and sits after the
 * LSNs, never in the [xid] position, so in_stream does not change them;
 * Stream Prepare is sent after the last Stream Stop of its transaction.
 * Decoding them is all this file does: walbridge never enables two_phase,
 * and its runner still refuses them.
 *
 * Every read goes through a small bounds-checked reader, so a truncated or
 * hostile message can only produce WB_EPROTO.  Counts and lengths are
 * checked against the bytes that remain before anything is allocated, so a
 * corrupt length can never turn into a large allocation; the arena's limit
 * is the second line of defence.  A message must be consumed exactly:
 * trailing bytes mean we misunderstood the layout, and silently ignoring
 * them could apply wrong data.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "source/copydata.h"
#include "common/value.h"
#include "decode/pgoutput.h"

/* Bounds-checked cursor over one message. */
typedef struct reader {
    const unsigned char *buf;
    size_t len;
    size_t off;
    char type; /* message type byte, for error messages */
    wb_arena *arena;
    wb_error *err;
} reader;

/* Smallest encoding of one Relation column: flags, "", typoid, typmod. */
#define MIN_COLUMN_BYTES 10

static size_t remaining(const reader *r)
{
    return r->len - r->off;
}

/* Printable form of a type byte, for error messages. */
static void type_repr(char *buf, size_t n, unsigned char c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "\"%c\"", c);
    else
        snprintf(buf, n, "0x%02x", c);
}

/*
 * Report a malformed message: "invalid pgoutput Insert message: <what> at
 * offset N".  Always returns WB_EPROTO.
 */
static int fail(reader *r, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(reader *r, size_t off, const char *fmt, ...)
{
    char what[WB_ERR_MSGLEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return wb_error_set(r->err, WB_EPROTO,
                        "invalid pgoutput %s message: %s at offset %zu",
                        wb_pgoutput_msgtype_name(r->type), what, off);
}

static int nomem(reader *r, const char *what)
{
    return wb_error_set(r->err, WB_ENOMEM,
                        "out of memory decoding %s of pgoutput %s message "
                        "at offset %zu",
                        what, wb_pgoutput_msgtype_name(r->type), r->off);
}

static int need(reader *r, size_t n, const char *what)
{
    if (remaining(r) < n)
        return fail(r, r->off, "truncated %s: need %zu bytes, %zu remain", what,
                    n, remaining(r));
    return 0;
}

static int read_u8(reader *r, const char *what, uint8_t *out)
{
    int rc = need(r, 1, what);
    if (rc)
        return rc;
    *out = r->buf[r->off];
    r->off += 1;
    return 0;
}

static int read_u16(reader *r, const char *what, uint16_t *out)
{
    int rc = need(r, 2, what);
    if (rc)
        return rc;
    *out = wb_be16(r->buf + r->off);
    r->off += 2;
    return 0;
}

static int read_u32(reader *r, const char *what, uint32_t *out)
{
    int rc = need(r, 4, what);
    if (rc)
        return rc;
    *out = wb_be32(r->buf + r->off);
    r->off += 4;
    return 0;
}

static int read_u64(reader *r, const char *what, uint64_t *out)
{
    int rc = need(r, 8, what);
    if (rc)
        return rc;
    *out = wb_be64(r->buf + r->off);
    r->off += 8;
    return 0;
}

static int read_i64(reader *r, const char *what, int64_t *out)
{
    uint64_t v;
    int rc = read_u64(r, what, &v);
    if (rc)
        return rc;
    *out = (int64_t)v;
    return 0;
}

/* A NUL-terminated String, copied into the arena. */
static int read_string(reader *r, const char *what, const char **out)
{
    const unsigned char *start = r->buf + r->off;
    const unsigned char *nul = memchr(start, '\0', remaining(r));
    char *s;
    size_t n;

    if (!nul)
        return fail(r, r->off, "unterminated string %s", what);
    n = (size_t)(nul - start);
    s = wb_arena_strndup(r->arena, (const char *)start, n);
    if (!s)
        return nomem(r, what);
    *out = s;
    r->off += n + 1;
    return 0;
}

/*
 * len bytes copied into the arena with a trailing NUL.  The length comes from
 * the wire, so it is checked against what remains before allocating.
 */
static int read_bytes(reader *r, const char *what, uint32_t len,
                      const char **out)
{
    char *s;

    if (len > remaining(r))
        return fail(r, r->off,
                    "%s length %" PRIu32 " exceeds remaining %zu bytes", what,
                    len, remaining(r));
    s = wb_arena_strndup(r->arena, (const char *)r->buf + r->off, len);
    if (!s)
        return nomem(r, what);
    *out = s;
    r->off += len;
    return 0;
}

static int read_tuple(reader *r, const char *what, wb_tuple *t)
{
    uint16_t ncols;
    int rc;

    rc = read_u16(r, "tuple column count", &ncols);
    if (rc)
        return rc;
    /* Every column takes at least its kind byte. */
    if (ncols > remaining(r))
        return fail(r, r->off, "%s has %u columns but only %zu bytes remain",
                    what, (unsigned)ncols, remaining(r));
    t->ncols = ncols;
    t->cols = NULL;
    if (ncols == 0)
        return 0;
    t->cols = wb_arena_alloc(r->arena, (size_t)ncols * sizeof(*t->cols));
    if (!t->cols)
        return nomem(r, what);

    for (unsigned i = 0; i < ncols; i++) {
        wb_tuple_value *v = &t->cols[i];
        uint8_t kind;
        uint32_t len;
        size_t kind_off = r->off;
        char repr[16];

        rc = read_u8(r, "tuple column kind", &kind);
        if (rc)
            return rc;
        v->kind = (char)kind;
        v->len = 0;
        v->data = NULL;
        switch (kind) {
        case WB_TUPLE_NULL:
        case WB_TUPLE_UNCHANGED:
            break;
        case WB_TUPLE_TEXT:
        case WB_TUPLE_BINARY:
            rc = read_u32(r, "tuple column length", &len);
            if (rc)
                return rc;
            /* Column numbers in messages are 1-based, like attnums. */
            if (len > remaining(r))
                return fail(r, r->off,
                            "tuple column %u length %" PRIu32
                            " exceeds remaining %zu bytes",
                            i + 1, len, remaining(r));
            /* With common/value.h's header: a binary value may hold NUL
             * bytes, so its length travels with it. */
            v->data = wb_value_copy(r->arena, (const char *)r->buf + r->off,
                                    len, kind == WB_TUPLE_BINARY);
            if (!v->data)
                return nomem(r, "tuple column value");
            r->off += len;
            v->len = len;
            break;
        default:
            type_repr(repr, sizeof(repr), kind);
            return fail(r, kind_off, "tuple column %u has unknown kind %s",
                        i + 1, repr);
        }
    }
    return 0;
}

/* The 'N', 'K' or 'O' byte that introduces a tuple. */
static int read_tuple_marker(reader *r, uint8_t *out)
{
    return read_u8(r, "tuple marker", out);
}

static int read_begin(reader *r, wb_pgoutput_begin *b)
{
    int rc;
    if ((rc = read_u64(r, "final_lsn", &b->final_lsn)) ||
        (rc = read_i64(r, "commit_time", &b->commit_time)) ||
        (rc = read_u32(r, "xid", &b->xid)))
        return rc;
    return 0;
}

/*
 * The Int8 flags of Commit, Stream Commit and the two-phase messages.  No
 * flags are defined; a set bit is a layout we do not know.
 */
static int read_unused_flags(reader *r, uint8_t *flags)
{
    size_t flags_off = r->off;
    int rc;

    if ((rc = read_u8(r, "flags", flags)))
        return rc;
    if (*flags != 0)
        return fail(r, flags_off, "unrecognized flags %u", (unsigned)*flags);
    return 0;
}

/* Commit and Stream Commit share the tail after the xid. */
static int read_commit_fields(reader *r, uint8_t *flags, wb_lsn *commit_lsn,
                              wb_lsn *end_lsn, int64_t *commit_time)
{
    int rc;

    if ((rc = read_unused_flags(r, flags)))
        return rc;
    if ((rc = read_u64(r, "commit_lsn", commit_lsn)) ||
        (rc = read_u64(r, "end_lsn", end_lsn)) ||
        (rc = read_i64(r, "commit_time", commit_time)))
        return rc;
    return 0;
}

static int read_commit(reader *r, wb_pgoutput_commit *c)
{
    return read_commit_fields(r, &c->flags, &c->commit_lsn, &c->end_lsn,
                              &c->commit_time);
}

static int read_origin(reader *r, wb_pgoutput_origin *o)
{
    int rc;
    if ((rc = read_u64(r, "origin_lsn", &o->origin_lsn)) ||
        (rc = read_string(r, "origin name", &o->name)))
        return rc;
    return 0;
}

static int read_relation(reader *r, wb_pgoutput_relation *rel)
{
    size_t ident_off;
    uint8_t ident;
    char repr[16];
    int rc;

    if ((rc = read_u32(r, "relid", &rel->relid)) ||
        (rc = read_string(r, "namespace", &rel->nspname)) ||
        (rc = read_string(r, "relation name", &rel->relname)))
        return rc;
    ident_off = r->off;
    if ((rc = read_u8(r, "replica identity", &ident)))
        return rc;
    if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i') {
        type_repr(repr, sizeof(repr), ident);
        return fail(r, ident_off, "unknown replica identity %s", repr);
    }
    rel->replident = (char)ident;
    if ((rc = read_u16(r, "column count", &rel->natts)))
        return rc;
    if (rel->natts > remaining(r) / MIN_COLUMN_BYTES)
        return fail(r, r->off,
                    "relation has %u columns but only %zu bytes remain",
                    (unsigned)rel->natts, remaining(r));
    rel->atts = NULL;
    if (rel->natts == 0)
        return 0;
    rel->atts = wb_arena_alloc(r->arena, rel->natts * sizeof(*rel->atts));
    if (!rel->atts)
        return nomem(r, "columns");
    for (unsigned i = 0; i < rel->natts; i++) {
        wb_pgoutput_column *c = &rel->atts[i];
        uint32_t typmod;
        if ((rc = read_u8(r, "column flags", &c->flags)) ||
            (rc = read_string(r, "column name", &c->name)) ||
            (rc = read_u32(r, "column type", &c->typoid)) ||
            (rc = read_u32(r, "column typmod", &typmod)))
            return rc;
        /* typmod is a signed Int32 on the wire; -1 means "none". */
        c->typmod = (int32_t)typmod;
    }
    return 0;
}

static int read_type(reader *r, wb_pgoutput_type *t)
{
    int rc;
    if ((rc = read_u32(r, "type oid", &t->typoid)) ||
        (rc = read_string(r, "namespace", &t->nspname)) ||
        (rc = read_string(r, "type name", &t->typname)))
        return rc;
    return 0;
}

/* Expect a specific tuple marker and the tuple after it. */
static int read_new_tuple(reader *r, wb_tuple *t)
{
    size_t off = r->off;
    uint8_t marker;
    char repr[16];
    int rc;

    if ((rc = read_tuple_marker(r, &marker)))
        return rc;
    if (marker != 'N') {
        type_repr(repr, sizeof(repr), marker);
        return fail(r, off, "expected new tuple marker \"N\", got %s", repr);
    }
    return read_tuple(r, "new tuple", t);
}

static int read_insert(reader *r, wb_pgoutput_insert *ins)
{
    int rc;
    if ((rc = read_u32(r, "relid", &ins->relid)))
        return rc;
    return read_new_tuple(r, &ins->newtup);
}

static int read_update(reader *r, wb_pgoutput_update *upd)
{
    size_t off;
    uint8_t marker;
    char repr[16];
    int rc;

    if ((rc = read_u32(r, "relid", &upd->relid)))
        return rc;
    off = r->off;
    if ((rc = read_tuple_marker(r, &marker)))
        return rc;
    upd->oldkind = 0;
    switch (marker) {
    case 'K':
    case 'O':
        upd->oldkind = (char)marker;
        rc = read_tuple(r, marker == 'K' ? "key tuple" : "old tuple",
                        &upd->oldtup);
        if (rc)
            return rc;
        return read_new_tuple(r, &upd->newtup);
    case 'N':
        return read_tuple(r, "new tuple", &upd->newtup);
    default:
        type_repr(repr, sizeof(repr), marker);
        return fail(r, off, "unknown tuple marker %s", repr);
    }
}

static int read_delete(reader *r, wb_pgoutput_delete *del)
{
    size_t off;
    uint8_t marker;
    char repr[16];
    int rc;

    if ((rc = read_u32(r, "relid", &del->relid)))
        return rc;
    off = r->off;
    if ((rc = read_tuple_marker(r, &marker)))
        return rc;
    if (marker != 'K' && marker != 'O') {
        type_repr(repr, sizeof(repr), marker);
        return fail(r, off, "expected old tuple marker \"K\" or \"O\", got %s",
                    repr);
    }
    del->oldkind = (char)marker;
    return read_tuple(r, marker == 'K' ? "key tuple" : "old tuple",
                      &del->oldtup);
}

static int read_truncate(reader *r, wb_pgoutput_truncate *tr)
{
    int rc;

    if ((rc = read_u32(r, "relation count", &tr->nrelids)) ||
        (rc = read_u8(r, "flags", &tr->flags)))
        return rc;
    if (tr->nrelids > remaining(r) / 4)
        return fail(r, r->off,
                    "%" PRIu32 " relids need %zu bytes but %zu remain",
                    tr->nrelids, (size_t)tr->nrelids * 4, remaining(r));
    tr->relids = NULL;
    if (tr->nrelids == 0)
        return 0;
    tr->relids = wb_arena_alloc(r->arena, tr->nrelids * sizeof(uint32_t));
    if (!tr->relids)
        return nomem(r, "relids");
    for (uint32_t i = 0; i < tr->nrelids; i++)
        if ((rc = read_u32(r, "relid", &tr->relids[i])))
            return rc;
    return 0;
}

static int read_message(reader *r, wb_pgoutput_message *m)
{
    int rc;

    if ((rc = read_u8(r, "flags", &m->flags)) ||
        (rc = read_u64(r, "lsn", &m->lsn)) ||
        (rc = read_string(r, "prefix", &m->prefix)) ||
        (rc = read_u32(r, "content length", &m->len)))
        return rc;
    return read_bytes(r, "content", m->len, &m->content);
}

static int read_stream_start(reader *r, wb_pgoutput_msg *msg)
{
    int rc;
    if ((rc = read_u32(r, "xid", &msg->xid)) ||
        (rc = read_u8(r, "first_segment", &msg->u.stream_start.first_segment)))
        return rc;
    msg->has_xid = true;
    return 0;
}

static int read_stream_commit(reader *r, wb_pgoutput_msg *msg)
{
    wb_pgoutput_stream_commit *c = &msg->u.stream_commit;
    int rc;

    if ((rc = read_u32(r, "xid", &msg->xid)))
        return rc;
    msg->has_xid = true;
    return read_commit_fields(r, &c->flags, &c->commit_lsn, &c->end_lsn,
                              &c->commit_time);
}

static int read_stream_abort(reader *r, wb_pgoutput_msg *msg)
{
    wb_pgoutput_stream_abort *a = &msg->u.stream_abort;
    int rc;

    if ((rc = read_u32(r, "xid", &msg->xid)) ||
        (rc = read_u32(r, "subxid", &a->subxid)))
        return rc;
    msg->has_xid = true;
    /*
     * The message does not say whether the v4 fields follow: they are there
     * exactly when the subscriber asked for streaming=parallel.  So the
     * presence of more bytes decides; a partial tail is still an error.
     */
    a->has_abort_info = false;
    if (remaining(r) == 0)
        return 0;
    if ((rc = read_u64(r, "abort_lsn", &a->abort_lsn)) ||
        (rc = read_i64(r, "abort_time", &a->abort_time)))
        return rc;
    a->has_abort_info = true;
    return 0;
}

static int read_begin_prepare(reader *r, wb_pgoutput_begin_prepare *b)
{
    int rc;
    if ((rc = read_u64(r, "prepare_lsn", &b->prepare_lsn)) ||
        (rc = read_u64(r, "end_lsn", &b->end_lsn)) ||
        (rc = read_i64(r, "prepare_time", &b->prepare_time)) ||
        (rc = read_u32(r, "xid", &b->xid)) ||
        (rc = read_string(r, "gid", &b->gid)))
        return rc;
    return 0;
}

/* Prepare and Stream Prepare have the same layout. */
static int read_prepare_fields(reader *r, uint8_t *flags, wb_lsn *prepare_lsn,
                               wb_lsn *end_lsn, int64_t *prepare_time,
                               uint32_t *xid, const char **gid)
{
    int rc;
    if ((rc = read_unused_flags(r, flags)) ||
        (rc = read_u64(r, "prepare_lsn", prepare_lsn)) ||
        (rc = read_u64(r, "end_lsn", end_lsn)) ||
        (rc = read_i64(r, "prepare_time", prepare_time)) ||
        (rc = read_u32(r, "xid", xid)) || (rc = read_string(r, "gid", gid)))
        return rc;
    return 0;
}

static int read_prepare(reader *r, wb_pgoutput_prepare *p)
{
    return read_prepare_fields(r, &p->flags, &p->prepare_lsn, &p->end_lsn,
                               &p->prepare_time, &p->xid, &p->gid);
}

static int read_commit_prepared(reader *r, wb_pgoutput_commit_prepared *c)
{
    int rc;
    if ((rc = read_unused_flags(r, &c->flags)) ||
        (rc = read_u64(r, "commit_lsn", &c->commit_lsn)) ||
        (rc = read_u64(r, "end_lsn", &c->end_lsn)) ||
        (rc = read_i64(r, "commit_time", &c->commit_time)) ||
        (rc = read_u32(r, "xid", &c->xid)) ||
        (rc = read_string(r, "gid", &c->gid)))
        return rc;
    return 0;
}

static int read_rollback_prepared(reader *r, wb_pgoutput_rollback_prepared *rb)
{
    int rc;
    if ((rc = read_unused_flags(r, &rb->flags)) ||
        (rc = read_u64(r, "prepare_end_lsn", &rb->prepare_end_lsn)) ||
        (rc = read_u64(r, "rollback_end_lsn", &rb->rollback_end_lsn)) ||
        (rc = read_i64(r, "prepare_time", &rb->prepare_time)) ||
        (rc = read_i64(r, "rollback_time", &rb->rollback_time)) ||
        (rc = read_u32(r, "xid", &rb->xid)) ||
        (rc = read_string(r, "gid", &rb->gid)))
        return rc;
    return 0;
}

static int read_stream_prepare(reader *r, wb_pgoutput_stream_prepare *p)
{
    return read_prepare_fields(r, &p->flags, &p->prepare_lsn, &p->end_lsn,
                               &p->prepare_time, &p->xid, &p->gid);
}

/* Messages that carry the subtransaction xid inside a streamed block. */
static bool has_stream_xid(char type)
{
    return type == WB_PGO_RELATION || type == WB_PGO_TYPE ||
           type == WB_PGO_INSERT || type == WB_PGO_UPDATE ||
           type == WB_PGO_DELETE || type == WB_PGO_TRUNCATE ||
           type == WB_PGO_MESSAGE;
}

int wb_pgoutput_decode(const char *buf, size_t len, bool in_stream,
                       wb_arena *arena, wb_pgoutput_msg *out, wb_error *err)
{
    reader r;
    char repr[16];
    int rc;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0)
        return wb_error_set(err, WB_EPROTO, "empty pgoutput message");

    r.buf = (const unsigned char *)buf;
    r.len = len;
    r.off = 1;
    r.type = buf[0];
    r.arena = arena;
    r.err = err;
    out->type = buf[0];

    if (in_stream && has_stream_xid(r.type)) {
        if ((rc = read_u32(&r, "xid", &out->xid)))
            return rc;
        out->has_xid = true;
    }

    switch (r.type) {
    case WB_PGO_BEGIN:
        rc = read_begin(&r, &out->u.begin);
        break;
    case WB_PGO_COMMIT:
        rc = read_commit(&r, &out->u.commit);
        break;
    case WB_PGO_ORIGIN:
        rc = read_origin(&r, &out->u.origin);
        break;
    case WB_PGO_RELATION:
        rc = read_relation(&r, &out->u.relation);
        break;
    case WB_PGO_TYPE:
        rc = read_type(&r, &out->u.type);
        break;
    case WB_PGO_INSERT:
        rc = read_insert(&r, &out->u.insert);
        break;
    case WB_PGO_UPDATE:
        rc = read_update(&r, &out->u.update);
        break;
    case WB_PGO_DELETE:
        rc = read_delete(&r, &out->u.del);
        break;
    case WB_PGO_TRUNCATE:
        rc = read_truncate(&r, &out->u.truncate);
        break;
    case WB_PGO_MESSAGE:
        rc = read_message(&r, &out->u.message);
        break;
    case WB_PGO_STREAM_START:
        rc = read_stream_start(&r, out);
        break;
    case WB_PGO_STREAM_STOP:
        rc = 0;
        break;
    case WB_PGO_STREAM_COMMIT:
        rc = read_stream_commit(&r, out);
        break;
    case WB_PGO_STREAM_ABORT:
        rc = read_stream_abort(&r, out);
        break;
    case WB_PGO_BEGIN_PREPARE:
        rc = read_begin_prepare(&r, &out->u.begin_prepare);
        break;
    case WB_PGO_PREPARE:
        rc = read_prepare(&r, &out->u.prepare);
        break;
    case WB_PGO_COMMIT_PREPARED:
        rc = read_commit_prepared(&r, &out->u.commit_prepared);
        break;
    case WB_PGO_ROLLBACK_PREPARED:
        rc = read_rollback_prepared(&r, &out->u.rollback_prepared);
        break;
    case WB_PGO_STREAM_PREPARE:
        rc = read_stream_prepare(&r, &out->u.stream_prepare);
        break;
    default:
        type_repr(repr, sizeof(repr), (unsigned char)r.type);
        return wb_error_set(err, WB_EPROTO, "unknown pgoutput message type %s",
                            repr);
    }
    if (rc)
        return rc;
    if (r.off != r.len)
        return fail(&r, r.off, "%zu trailing bytes", remaining(&r));
    return 0;
}

const char *wb_pgoutput_msgtype_name(char type)
{
    switch (type) {
    case WB_PGO_BEGIN:
        return "Begin";
    case WB_PGO_COMMIT:
        return "Commit";
    case WB_PGO_ORIGIN:
        return "Origin";
    case WB_PGO_RELATION:
        return "Relation";
    case WB_PGO_TYPE:
        return "Type";
    case WB_PGO_INSERT:
        return "Insert";
    case WB_PGO_UPDATE:
        return "Update";
    case WB_PGO_DELETE:
        return "Delete";
    case WB_PGO_TRUNCATE:
        return "Truncate";
    case WB_PGO_MESSAGE:
        return "Message";
    case WB_PGO_STREAM_START:
        return "Stream Start";
    case WB_PGO_STREAM_STOP:
        return "Stream Stop";
    case WB_PGO_STREAM_COMMIT:
        return "Stream Commit";
    case WB_PGO_STREAM_ABORT:
        return "Stream Abort";
    case WB_PGO_BEGIN_PREPARE:
        return "Begin Prepare";
    case WB_PGO_PREPARE:
        return "Prepare";
    case WB_PGO_COMMIT_PREPARED:
        return "Commit Prepared";
    case WB_PGO_ROLLBACK_PREPARED:
        return "Rollback Prepared";
    case WB_PGO_STREAM_PREPARE:
        return "Stream Prepare";
    default:
        return "unknown";
    }
}
