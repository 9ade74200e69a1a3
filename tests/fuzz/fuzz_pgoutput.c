/*
 * fuzz_pgoutput.c - libFuzzer target for the replication stream decoders:
 * CopyData framing (lib/source/copydata.c), pgoutput (lib/decode/pgoutput.c)
 * and the relation cache (lib/decode/relcache.c).
 *
 * Input: a sequence of frames, each a 4-byte big-endian length and that
 * many bytes of one CopyData message (a length past the end of the input is
 * cut to what remains).  For every frame, as the replication loop does:
 *
 *   - wb_copydata_parse on an exact-size heap copy of the message, so that
 *     ASan sees any read past its end;
 *   - for XLogData, wb_pgoutput_decode of the payload twice: once with the
 *     stream state tracked so far (toggled by Stream Start / Stream Stop)
 *     and once with the opposite, so both layouts get decoded everywhere;
 *   - the copy is poisoned and freed before the results are looked at, so
 *     a decoded value that aliases the input instead of the arena shows up;
 *   - every decoded string and tuple value is read in full (len bytes, plus
 *     the NUL the decoder promises), so ASan catches a lie in a length;
 *   - Relation messages (of the tracked state) go into a wb_relcache, and
 *     Insert/Update/Delete/Truncate look their relations up and read the
 *     cached entry (which must have survived the arena resets).
 *
 * The per-message arena is limited to 1 MiB and reset after every frame,
 * like the real per-message arena; hitting the limit must give WB_ENOMEM,
 * never a crash.  Since inputs are at most a few dozen KiB, the payload is
 * decoded a third time (tracked stream state) into a tight arena of 4 KiB,
 * which runs out on bigger messages: that decode must then fail with
 * WB_ENOMEM and otherwise agree exactly with the first one (same result,
 * same error message, same decoded values).  Documented invariants of the
 * API are checked with CHECK(), which aborts, so libFuzzer reports a
 * violation as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "source/copydata.h"
#include "common/error.h"
#include "decode/pgoutput.h"
#include "decode/relcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_LIMIT ((size_t)1024 * 1024)
#define TIGHT_BLOCK 256
#define TIGHT_LIMIT 4096

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_pgoutput: invariant failed: %s (%s:%d)\n",   \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

static wb_arena *arena; /* 1 MiB: the per-message arena */
static wb_arena *tight; /* 4 KiB: to reach the out-of-memory paths */
static volatile unsigned sink;

/* Read n bytes one by one (ASan checks every access). */
static void touch(const void *p, size_t n)
{
    const volatile unsigned char *c = p;
    unsigned s = 0;

    if (n)
        CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        s += c[i];
    sink += s;
}

static void touch_str(const char *s)
{
    CHECK(s != NULL);
    touch(s, strlen(s) + 1);
}

/* An error report must be filled in and terminated. */
static void check_error(const wb_error *err, int rc)
{
    CHECK(err->code == rc);
    CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    CHECK(err->message[0] != '\0');
}

static void touch_tuple(const wb_tuple *t)
{
    if (t->ncols)
        CHECK(t->cols != NULL);
    for (unsigned i = 0; i < t->ncols; i++) {
        const wb_tuple_value *v = &t->cols[i];
        switch (v->kind) {
        case WB_TUPLE_NULL:
        case WB_TUPLE_UNCHANGED:
            CHECK(v->data == NULL);
            CHECK(v->len == 0);
            break;
        case WB_TUPLE_TEXT:
        case WB_TUPLE_BINARY:
            /* len bytes of data and the NUL the decoder adds. */
            CHECK(v->data != NULL);
            touch(v->data, v->len);
            CHECK(v->data[v->len] == '\0');
            break;
        default:
            CHECK(!"unknown tuple value kind");
        }
    }
}

static void touch_relation(const wb_pgoutput_relation *rel)
{
    touch_str(rel->nspname);
    touch_str(rel->relname);
    CHECK(rel->replident == 'd' || rel->replident == 'n' ||
          rel->replident == 'f' || rel->replident == 'i');
    if (rel->natts)
        CHECK(rel->atts != NULL);
    for (unsigned i = 0; i < rel->natts; i++) {
        touch(&rel->atts[i].flags, 1);
        touch_str(rel->atts[i].name);
    }
}

/* Look a relation up as the router does and read the cached entry. */
static void use_relation(wb_relcache *rc, uint32_t relid, const wb_tuple *t)
{
    wb_relcache_entry *e = wb_relcache_lookup(rc, relid);

    if (!e)
        return;
    CHECK(e->rel.relid == relid);
    CHECK(e->generation >= 1);
    touch_relation(&e->rel);
    /* Pair tuple columns with attributes as far as both go. */
    if (t) {
        unsigned n = t->ncols < e->rel.natts ? t->ncols : e->rel.natts;
        for (unsigned i = 0; i < n; i++)
            sink += (unsigned)strlen(e->rel.atts[i].name) +
                    (unsigned)t->cols[i].len;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool tuple_eq(const wb_tuple *a, const wb_tuple *b)
{
    if (a->ncols != b->ncols)
        return false;
    for (unsigned i = 0; i < a->ncols; i++) {
        const wb_tuple_value *x = &a->cols[i], *y = &b->cols[i];
        if (x->kind != y->kind || x->len != y->len ||
            (x->data == NULL) != (y->data == NULL))
            return false;
        if (x->data && memcmp(x->data, y->data, x->len + 1) != 0)
            return false;
    }
    return true;
}

/* Two successful decodes of the same bytes must agree on every field. */
static bool msg_eq(const wb_pgoutput_msg *a, const wb_pgoutput_msg *b)
{
    if (a->type != b->type || a->has_xid != b->has_xid ||
        (a->has_xid && a->xid != b->xid))
        return false;
    switch (a->type) {
    case WB_PGO_BEGIN:
        return a->u.begin.final_lsn == b->u.begin.final_lsn &&
               a->u.begin.commit_time == b->u.begin.commit_time &&
               a->u.begin.xid == b->u.begin.xid;
    case WB_PGO_COMMIT:
        return a->u.commit.flags == b->u.commit.flags &&
               a->u.commit.commit_lsn == b->u.commit.commit_lsn &&
               a->u.commit.end_lsn == b->u.commit.end_lsn &&
               a->u.commit.commit_time == b->u.commit.commit_time;
    case WB_PGO_ORIGIN:
        return a->u.origin.origin_lsn == b->u.origin.origin_lsn &&
               str_eq(a->u.origin.name, b->u.origin.name);
    case WB_PGO_RELATION: {
        const wb_pgoutput_relation *x = &a->u.relation, *y = &b->u.relation;
        if (x->relid != y->relid || !str_eq(x->nspname, y->nspname) ||
            !str_eq(x->relname, y->relname) || x->replident != y->replident ||
            x->natts != y->natts)
            return false;
        for (unsigned i = 0; i < x->natts; i++)
            if (x->atts[i].flags != y->atts[i].flags ||
                !str_eq(x->atts[i].name, y->atts[i].name) ||
                x->atts[i].typoid != y->atts[i].typoid ||
                x->atts[i].typmod != y->atts[i].typmod)
                return false;
        return true;
    }
    case WB_PGO_TYPE:
        return a->u.type.typoid == b->u.type.typoid &&
               str_eq(a->u.type.nspname, b->u.type.nspname) &&
               str_eq(a->u.type.typname, b->u.type.typname);
    case WB_PGO_INSERT:
        return a->u.insert.relid == b->u.insert.relid &&
               tuple_eq(&a->u.insert.newtup, &b->u.insert.newtup);
    case WB_PGO_UPDATE:
        return a->u.update.relid == b->u.update.relid &&
               a->u.update.oldkind == b->u.update.oldkind &&
               (!a->u.update.oldkind ||
                tuple_eq(&a->u.update.oldtup, &b->u.update.oldtup)) &&
               tuple_eq(&a->u.update.newtup, &b->u.update.newtup);
    case WB_PGO_DELETE:
        return a->u.del.relid == b->u.del.relid &&
               a->u.del.oldkind == b->u.del.oldkind &&
               tuple_eq(&a->u.del.oldtup, &b->u.del.oldtup);
    case WB_PGO_TRUNCATE:
        return a->u.truncate.nrelids == b->u.truncate.nrelids &&
               a->u.truncate.flags == b->u.truncate.flags &&
               (a->u.truncate.nrelids == 0 ||
                memcmp(a->u.truncate.relids, b->u.truncate.relids,
                       a->u.truncate.nrelids * sizeof(uint32_t)) == 0);
    case WB_PGO_MESSAGE:
        return a->u.message.flags == b->u.message.flags &&
               a->u.message.lsn == b->u.message.lsn &&
               str_eq(a->u.message.prefix, b->u.message.prefix) &&
               a->u.message.len == b->u.message.len &&
               memcmp(a->u.message.content, b->u.message.content,
                      a->u.message.len + 1) == 0;
    case WB_PGO_STREAM_START:
        return a->u.stream_start.first_segment ==
               b->u.stream_start.first_segment;
    case WB_PGO_STREAM_STOP:
        return true;
    case WB_PGO_STREAM_COMMIT:
        return a->u.stream_commit.flags == b->u.stream_commit.flags &&
               a->u.stream_commit.commit_lsn == b->u.stream_commit.commit_lsn &&
               a->u.stream_commit.end_lsn == b->u.stream_commit.end_lsn &&
               a->u.stream_commit.commit_time == b->u.stream_commit.commit_time;
    case WB_PGO_STREAM_ABORT:
        return a->u.stream_abort.subxid == b->u.stream_abort.subxid &&
               a->u.stream_abort.has_abort_info ==
                   b->u.stream_abort.has_abort_info &&
               (!a->u.stream_abort.has_abort_info ||
                (a->u.stream_abort.abort_lsn == b->u.stream_abort.abort_lsn &&
                 a->u.stream_abort.abort_time == b->u.stream_abort.abort_time));
    case WB_PGO_BEGIN_PREPARE:
        return a->u.begin_prepare.prepare_lsn ==
                   b->u.begin_prepare.prepare_lsn &&
               a->u.begin_prepare.end_lsn == b->u.begin_prepare.end_lsn &&
               a->u.begin_prepare.prepare_time ==
                   b->u.begin_prepare.prepare_time &&
               a->u.begin_prepare.xid == b->u.begin_prepare.xid &&
               strcmp(a->u.begin_prepare.gid, b->u.begin_prepare.gid) == 0;
    case WB_PGO_PREPARE:
        return a->u.prepare.prepare_lsn == b->u.prepare.prepare_lsn &&
               a->u.prepare.end_lsn == b->u.prepare.end_lsn &&
               a->u.prepare.prepare_time == b->u.prepare.prepare_time &&
               a->u.prepare.xid == b->u.prepare.xid &&
               strcmp(a->u.prepare.gid, b->u.prepare.gid) == 0;
    case WB_PGO_STREAM_PREPARE:
        return a->u.stream_prepare.prepare_lsn ==
                   b->u.stream_prepare.prepare_lsn &&
               a->u.stream_prepare.end_lsn == b->u.stream_prepare.end_lsn &&
               a->u.stream_prepare.xid == b->u.stream_prepare.xid &&
               strcmp(a->u.stream_prepare.gid, b->u.stream_prepare.gid) == 0;
    case WB_PGO_COMMIT_PREPARED:
        return a->u.commit_prepared.commit_lsn ==
                   b->u.commit_prepared.commit_lsn &&
               a->u.commit_prepared.end_lsn == b->u.commit_prepared.end_lsn &&
               a->u.commit_prepared.xid == b->u.commit_prepared.xid &&
               strcmp(a->u.commit_prepared.gid, b->u.commit_prepared.gid) == 0;
    case WB_PGO_ROLLBACK_PREPARED:
        return a->u.rollback_prepared.prepare_end_lsn ==
                   b->u.rollback_prepared.prepare_end_lsn &&
               a->u.rollback_prepared.rollback_end_lsn ==
                   b->u.rollback_prepared.rollback_end_lsn &&
               a->u.rollback_prepared.xid == b->u.rollback_prepared.xid &&
               strcmp(a->u.rollback_prepared.gid, b->u.rollback_prepared.gid) ==
                   0;
    default:
        return false;
    }
}

/* Messages that carry a subtransaction xid inside a streamed block. */
static bool has_stream_xid(char type)
{
    return type == 'R' || type == 'Y' || type == 'I' || type == 'U' ||
           type == 'D' || type == 'T' || type == 'M';
}

/*
 * Read everything of a successfully decoded message.  primary: decoded with
 * the tracked stream state; only those results feed the relation cache.
 */
static void use_message(const wb_pgoutput_msg *m, bool in_stream, bool primary,
                        wb_relcache *rc)
{
    wb_error err;

    CHECK(strcmp(wb_pgoutput_msgtype_name(m->type), "unknown") != 0);
    if (m->type == 'S' || m->type == 'c' || m->type == 'A')
        CHECK(m->has_xid);
    else if (has_stream_xid(m->type))
        CHECK(m->has_xid == in_stream);
    else
        CHECK(!m->has_xid);

    switch (m->type) {
    case WB_PGO_BEGIN:
    case WB_PGO_STREAM_START:
    case WB_PGO_STREAM_STOP:
        break;
    case WB_PGO_COMMIT:
        CHECK(m->u.commit.flags == 0);
        break;
    case WB_PGO_STREAM_COMMIT:
        CHECK(m->u.stream_commit.flags == 0);
        break;
    case WB_PGO_STREAM_ABORT:
        if (!m->u.stream_abort.has_abort_info)
            CHECK(m->u.stream_abort.abort_lsn == 0 &&
                  m->u.stream_abort.abort_time == 0);
        break;
    case WB_PGO_ORIGIN:
        touch_str(m->u.origin.name);
        break;
    case WB_PGO_RELATION:
        touch_relation(&m->u.relation);
        if (primary) {
            wb_relcache_entry *e;
            wb_error_clear(&err);
            e = wb_relcache_update(rc, &m->u.relation, &err);
            if (!e) {
                CHECK(err.code == WB_ENOMEM || err.code == WB_ELIMIT);
                check_error(&err, err.code);
                break;
            }
            /* A deep copy with the same content. */
            CHECK(e == wb_relcache_lookup(rc, m->u.relation.relid));
            CHECK(e->rel.relid == m->u.relation.relid);
            CHECK(e->rel.natts == m->u.relation.natts);
            CHECK(e->rel.replident == m->u.relation.replident);
            CHECK(strcmp(e->rel.nspname, m->u.relation.nspname) == 0);
            CHECK(strcmp(e->rel.relname, m->u.relation.relname) == 0);
            CHECK(e->rel.relname != m->u.relation.relname);
            for (unsigned i = 0; i < e->rel.natts; i++) {
                CHECK(strcmp(e->rel.atts[i].name, m->u.relation.atts[i].name) ==
                      0);
                CHECK(e->rel.atts[i].typoid == m->u.relation.atts[i].typoid);
                CHECK(e->rel.atts[i].typmod == m->u.relation.atts[i].typmod);
                CHECK(e->rel.atts[i].flags == m->u.relation.atts[i].flags);
            }
        }
        break;
    case WB_PGO_TYPE:
        touch_str(m->u.type.nspname);
        touch_str(m->u.type.typname);
        break;
    case WB_PGO_INSERT:
        touch_tuple(&m->u.insert.newtup);
        use_relation(rc, m->u.insert.relid, &m->u.insert.newtup);
        break;
    case WB_PGO_UPDATE:
        CHECK(m->u.update.oldkind == 0 || m->u.update.oldkind == 'K' ||
              m->u.update.oldkind == 'O');
        if (m->u.update.oldkind)
            touch_tuple(&m->u.update.oldtup);
        touch_tuple(&m->u.update.newtup);
        use_relation(rc, m->u.update.relid, &m->u.update.newtup);
        break;
    case WB_PGO_DELETE:
        CHECK(m->u.del.oldkind == 'K' || m->u.del.oldkind == 'O');
        touch_tuple(&m->u.del.oldtup);
        use_relation(rc, m->u.del.relid, &m->u.del.oldtup);
        break;
    case WB_PGO_TRUNCATE:
        if (m->u.truncate.nrelids)
            CHECK(m->u.truncate.relids != NULL);
        touch(m->u.truncate.relids,
              (size_t)m->u.truncate.nrelids * sizeof(uint32_t));
        for (uint32_t i = 0; i < m->u.truncate.nrelids; i++)
            use_relation(rc, m->u.truncate.relids[i], NULL);
        break;
    case WB_PGO_MESSAGE:
        touch_str(m->u.message.prefix);
        CHECK(m->u.message.content != NULL);
        touch(m->u.message.content, m->u.message.len);
        CHECK(m->u.message.content[m->u.message.len] == '\0');
        break;
    case WB_PGO_BEGIN_PREPARE:
        touch_str(m->u.begin_prepare.gid);
        break;
    case WB_PGO_PREPARE:
        CHECK(m->u.prepare.flags == 0);
        touch_str(m->u.prepare.gid);
        break;
    case WB_PGO_STREAM_PREPARE:
        CHECK(m->u.stream_prepare.flags == 0);
        touch_str(m->u.stream_prepare.gid);
        break;
    case WB_PGO_COMMIT_PREPARED:
        CHECK(m->u.commit_prepared.flags == 0);
        touch_str(m->u.commit_prepared.gid);
        break;
    case WB_PGO_ROLLBACK_PREPARED:
        CHECK(m->u.rollback_prepared.flags == 0);
        touch_str(m->u.rollback_prepared.gid);
        break;
    default:
        CHECK(!"decoder accepted an unknown message type");
    }
}

/* One CopyData message. */
static void one_message(const uint8_t *data, size_t len, bool *in_stream,
                        wb_relcache *rc)
{
    char *copy = malloc(len ? len : 1);
    wb_copydata cd;
    wb_pgoutput_msg msgs[3];
    int rcs[3] = {-1, -1, -1};
    wb_error err, errs[3];
    int r;

    CHECK(copy != NULL);
    if (len)
        memcpy(copy, data, len);

    wb_error_clear(&err);
    r = wb_copydata_parse(copy, len, &cd, &err);
    if (r != 0) {
        CHECK(r == WB_EPROTO);
        check_error(&err, r);
        free(copy);
        return;
    }
    CHECK(len >= 1 && cd.type == copy[0]);
    if (cd.type == 'k') {
        char su[WB_STATUS_UPDATE_LEN];
        CHECK(len == WB_KEEPALIVE_LEN);
        CHECK(cd.payload == NULL && cd.payload_len == 0);
        /* Answer it as the source loop would. */
        wb_copydata_status_update(su, cd.wal_end, cd.wal_end, cd.wal_end,
                                  cd.send_time, cd.reply_requested);
        CHECK(su[0] == 'r');
        CHECK(wb_be64((const unsigned char *)su + 1) == cd.wal_end);
        CHECK(wb_be64((const unsigned char *)su + 25) ==
              (uint64_t)cd.send_time);
        CHECK(su[33] == (cd.reply_requested ? 1 : 0));
        free(copy);
        return;
    }
    CHECK(cd.type == 'w');
    CHECK(len >= WB_XLOGDATA_HEADER_LEN);
    CHECK(cd.payload == copy + WB_XLOGDATA_HEADER_LEN);
    CHECK(cd.payload_len == len - WB_XLOGDATA_HEADER_LEN);

    /* [0]: the tracked stream state, [1]: the other one, [2]: the tracked
     * state again, in the tight arena. */
    for (int i = 0; i < 3; i++) {
        bool st = i == 1 ? !*in_stream : *in_stream;
        wb_error_clear(&errs[i]);
        rcs[i] = wb_pgoutput_decode(cd.payload, cd.payload_len, st,
                                    i == 2 ? tight : arena, &msgs[i], &errs[i]);
        if (rcs[i] != 0) {
            CHECK(rcs[i] == WB_EPROTO || rcs[i] == WB_ENOMEM);
            check_error(&errs[i], rcs[i]);
        }
    }
    CHECK(wb_arena_footprint(arena) <= ARENA_LIMIT);
    CHECK(wb_arena_footprint(tight) <= TIGHT_LIMIT);
    /* Less memory can only make the decode fail earlier, for lack of it. */
    if (rcs[2] != rcs[0])
        CHECK(rcs[2] == WB_ENOMEM);
    else if (rcs[0] == WB_EPROTO)
        CHECK(strcmp(errs[0].message, errs[2].message) == 0);

    /* Nothing decoded may point into the input. */
    memset(copy, 0xEE, len);
    free(copy);

    for (int i = 0; i < 2; i++)
        if (rcs[i] == 0)
            use_message(&msgs[i], i == 0 ? *in_stream : !*in_stream, i == 0,
                        rc);
    if (rcs[2] == 0)
        CHECK(msg_eq(&msgs[0], &msgs[2]));

    if (rcs[0] == 0) {
        if (msgs[0].type == WB_PGO_STREAM_START)
            *in_stream = true;
        else if (msgs[0].type == WB_PGO_STREAM_STOP)
            *in_stream = false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_relcache *rc;
    bool in_stream = false;

    if (!arena) {
        arena = wb_arena_create(0, ARENA_LIMIT);
        tight = wb_arena_create(TIGHT_BLOCK, TIGHT_LIMIT);
        CHECK(arena != NULL && tight != NULL);
    }
    rc = wb_relcache_create();
    CHECK(rc != NULL);

    while (size >= 4) {
        size_t len = wb_be32(data);
        data += 4;
        size -= 4;
        if (len > size)
            len = size;
        one_message(data, len, &in_stream, rc);
        wb_arena_reset(arena);
        wb_arena_reset(tight);
        data += len;
        size -= len;
    }

    wb_relcache_destroy(rc);
    return 0;
}
