/*
 * test_pgoutput.c - the pgoutput decoder against hand-built byte vectors
 * that follow the documented layout (protocol-logicalrep-message-formats),
 * one or more per message type, plus the hostile cases: every prefix of
 * every valid message, trailing bytes, unknown types and markers, and length
 * fields that promise more than the message holds.
 *
 * Every decode reads from a heap copy of exactly the message's length, so
 * under AddressSanitizer any read past the end is caught, not just reported
 * as a wrong value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/copydata.h"
#include "decode/pgoutput.h"
#include "wbtest.h"

/* ---- byte builder ---------------------------------------------------- */

typedef struct bb {
    unsigned char buf[1024];
    size_t len;
} bb;

static void put_bytes(bb *b, const void *p, size_t n)
{
    if (b->len + n > sizeof(b->buf)) {
        fprintf(stderr, "test byte builder overflow\n");
        abort();
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put_u8(bb *b, uint8_t v)
{
    put_bytes(b, &v, 1);
}

static void put_u16(bb *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(b, p, 2);
}

static void put_u32(bb *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(b, p, 4);
}

static void put_u64(bb *b, uint64_t v)
{
    unsigned char p[8];
    wb_put_be64(p, v);
    put_bytes(b, p, 8);
}

/* String: the bytes and the NUL. */
static void put_str(bb *b, const char *s)
{
    put_bytes(b, s, strlen(s) + 1);
}

/* Tuple column values. */
static void put_null(bb *b)
{
    put_u8(b, 'n');
}

static void put_unchanged(bb *b)
{
    put_u8(b, 'u');
}

static void put_text(bb *b, const char *s)
{
    put_u8(b, 't');
    put_u32(b, (uint32_t)strlen(s));
    put_bytes(b, s, strlen(s));
}

static void put_binary(bb *b, const void *p, uint32_t n)
{
    put_u8(b, 'b');
    put_u32(b, n);
    put_bytes(b, p, n);
}

/* ---- decoding helpers ------------------------------------------------ */

static wb_arena *arena;
static wb_error err;

/*
 * Decode the first len bytes of b from an exact-size heap copy.  The copy
 * is freed before returning, which is safe because the decoder copies
 * everything it keeps into the arena (checked by the tests reading values
 * afterwards under ASan).
 */
static int decode_n(const bb *b, size_t len, bool in_stream, wb_pgoutput_msg *m)
{
    char *copy = malloc(len ? len : 1);
    int rc;

    memcpy(copy, b->buf, len);
    wb_arena_reset(arena);
    wb_error_clear(&err);
    rc = wb_pgoutput_decode(copy, len, in_stream, arena, m, &err);
    /* Poison the input so that aliasing it would show up as garbage. */
    memset(copy, 0xEE, len);
    free(copy);
    return rc;
}

static int decode(const bb *b, bool in_stream, wb_pgoutput_msg *m)
{
    return decode_n(b, b->len, in_stream, m);
}

/* ---- valid vectors ------------------------------------------------------ */

#define LSN1 UINT64_C(0x00000016B374D848)
#define LSN2 UINT64_C(0x00000016B374D8F0)
#define TS1  INT64_C(775000123456789) /* 2024-07-24 in PG-epoch us */
#define LSN3 UINT64_C(0x00000016B374DA10)
#define TS2  INT64_C(775000123999999)
#define GID  "wb:'2pc' \"gr\xc3\xbc\xc3\x9f\""

/* Text values that must round-trip untouched. */
static const char TXT_QUOTES[] = "O'Brien said \"hi\"; \\ back\tslash";
static const char TXT_UTF8[] = "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac "
                               "\xf0\x9f\x98\x80";
static const char TXT_BINISH[] = "\x01\x02\x7f\x80\xfe\xff\r\n";
static const unsigned char BIN_VAL[] = {0x00, 0x00, 0x00, 0x2a, 0x00, 0xff};

static void v_begin(bb *b)
{
    put_u8(b, 'B');
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
    put_u32(b, 4000000001u);
}

static void v_commit(bb *b)
{
    put_u8(b, 'C');
    put_u8(b, 0);
    put_u64(b, LSN1);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
}

static void v_origin(bb *b)
{
    put_u8(b, 'O');
    put_u64(b, UINT64_C(0x0000000100000028));
    put_str(b, "pg_16401");
}

static void relation_body(bb *b)
{
    put_u32(b, 16385);
    put_str(b, "sales");
    put_str(b, "order \"items\"");
    put_u8(b, 'i');
    put_u16(b, 3);
    put_u8(b, 1);
    put_str(b, "id");
    put_u32(b, 20);
    put_u32(b, 0xffffffffu); /* typmod -1 */
    put_u8(b, 1);
    put_str(b, "line_no");
    put_u32(b, 23);
    put_u32(b, 0xffffffffu);
    put_u8(b, 0);
    put_str(b, "pr\xc3\xa9"
               "cis");
    put_u32(b, 1700);
    put_u32(b, (12 << 16 | 2) + 4); /* numeric(12,2) */
}

static void v_relation(bb *b)
{
    put_u8(b, 'R');
    relation_body(b);
}

static void v_type(bb *b)
{
    put_u8(b, 'Y');
    put_u32(b, 16390);
    put_str(b, "public");
    put_str(b, "mood");
}

static void insert_body(bb *b)
{
    put_u32(b, 16385);
    put_u8(b, 'N');
    put_u16(b, 7);
    put_text(b, "42");
    put_null(b);
    put_unchanged(b);
    put_text(b, TXT_QUOTES);
    put_text(b, TXT_UTF8);
    put_text(b, TXT_BINISH);
    put_text(b, "");
}

static void v_insert(bb *b)
{
    put_u8(b, 'I');
    insert_body(b);
}

static void v_insert_binary(bb *b)
{
    put_u8(b, 'I');
    put_u32(b, 16386);
    put_u8(b, 'N');
    put_u16(b, 2);
    put_binary(b, BIN_VAL, sizeof(BIN_VAL));
    put_binary(b, "", 0);
}

static void update_key_body(bb *b)
{
    put_u32(b, 16385);
    put_u8(b, 'K');
    put_u16(b, 3);
    put_text(b, "1");
    put_null(b);
    put_null(b);
    put_u8(b, 'N');
    put_u16(b, 3);
    put_text(b, "2");
    put_text(b, "x");
    put_unchanged(b);
}

static void v_update_key(bb *b)
{
    put_u8(b, 'U');
    update_key_body(b);
}

static void v_update_old(bb *b)
{
    put_u8(b, 'U');
    put_u32(b, 16387);
    put_u8(b, 'O');
    put_u16(b, 2);
    put_text(b, "7");
    put_text(b, "before");
    put_u8(b, 'N');
    put_u16(b, 2);
    put_text(b, "7");
    put_text(b, "after");
}

static void v_update_plain(bb *b)
{
    put_u8(b, 'U');
    put_u32(b, 16385);
    put_u8(b, 'N');
    put_u16(b, 2);
    put_text(b, "5");
    put_null(b);
}

static void delete_body(bb *b)
{
    put_u32(b, 16385);
    put_u8(b, 'K');
    put_u16(b, 3);
    put_text(b, "99");
    put_null(b);
    put_null(b);
}

static void v_delete_key(bb *b)
{
    put_u8(b, 'D');
    delete_body(b);
}

static void v_delete_old(bb *b)
{
    put_u8(b, 'D');
    put_u32(b, 16387);
    put_u8(b, 'O');
    put_u16(b, 2);
    put_text(b, "7");
    put_text(b, "gone");
}

static void truncate_body(bb *b)
{
    put_u32(b, 2);
    put_u8(b, WB_TRUNCATE_CASCADE | WB_TRUNCATE_RESTART_SEQS);
    put_u32(b, 16385);
    put_u32(b, 16999);
}

static void v_truncate(bb *b)
{
    put_u8(b, 'T');
    truncate_body(b);
}

static void message_body(bb *b)
{
    put_u8(b, WB_MESSAGE_TRANSACTIONAL);
    put_u64(b, LSN1);
    put_str(b, "walbridge.test");
    put_u32(b, 7);
    put_bytes(b, "ab\0cd\"e", 7);
}

static void v_message(bb *b)
{
    put_u8(b, 'M');
    message_body(b);
}

static void v_stream_start(bb *b)
{
    put_u8(b, 'S');
    put_u32(b, 7777);
    put_u8(b, 1);
}

static void v_stream_stop(bb *b)
{
    put_u8(b, 'E');
}

static void v_stream_commit(bb *b)
{
    put_u8(b, 'c');
    put_u32(b, 7777);
    put_u8(b, 0);
    put_u64(b, LSN1);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
}

static void v_stream_abort_v2(bb *b)
{
    put_u8(b, 'A');
    put_u32(b, 7777);
    put_u32(b, 7780);
}

static void v_stream_abort_v4(bb *b)
{
    v_stream_abort_v2(b);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
}

/* Two-phase messages: every field a different value, to catch swaps. */
static void v_begin_prepare(bb *b)
{
    put_u8(b, 'b');
    put_u64(b, LSN1);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
    put_u32(b, 4000000002u);
    put_str(b, GID);
}

static void prepare_body(bb *b)
{
    put_u8(b, 0);
    put_u64(b, LSN1);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
    put_u32(b, 4000000002u);
    put_str(b, GID);
}

static void v_prepare(bb *b)
{
    put_u8(b, 'P');
    prepare_body(b);
}

static void v_commit_prepared(bb *b)
{
    put_u8(b, 'K');
    put_u8(b, 0);
    put_u64(b, LSN2);
    put_u64(b, LSN3);
    put_u64(b, (uint64_t)TS2);
    put_u32(b, 4000000002u);
    put_str(b, GID);
}

static void v_rollback_prepared(bb *b)
{
    put_u8(b, 'r');
    put_u8(b, 0);
    put_u64(b, LSN2);
    put_u64(b, LSN3);
    put_u64(b, (uint64_t)TS1);
    put_u64(b, (uint64_t)TS2);
    put_u32(b, 4000000002u);
    put_str(b, GID);
}

static void v_stream_prepare(bb *b)
{
    put_u8(b, 'p');
    prepare_body(b);
}

/* An empty GID still has its NUL. */
static void v_prepare_empty_gid(bb *b)
{
    put_u8(b, 'P');
    put_u8(b, 0);
    put_u64(b, LSN1);
    put_u64(b, LSN2);
    put_u64(b, (uint64_t)TS1);
    put_u32(b, 1);
    put_str(b, "");
}

#define STREAM_XID 7781u

static void v_s_relation(bb *b)
{
    put_u8(b, 'R');
    put_u32(b, STREAM_XID);
    relation_body(b);
}

static void v_s_type(bb *b)
{
    put_u8(b, 'Y');
    put_u32(b, STREAM_XID);
    put_u32(b, 16390);
    put_str(b, "");
    put_str(b, "int4");
}

static void v_s_insert(bb *b)
{
    put_u8(b, 'I');
    put_u32(b, STREAM_XID);
    insert_body(b);
}

static void v_s_update(bb *b)
{
    put_u8(b, 'U');
    put_u32(b, STREAM_XID);
    update_key_body(b);
}

static void v_s_delete(bb *b)
{
    put_u8(b, 'D');
    put_u32(b, STREAM_XID);
    delete_body(b);
}

static void v_s_truncate(bb *b)
{
    put_u8(b, 'T');
    put_u32(b, STREAM_XID);
    truncate_body(b);
}

static void v_s_message(bb *b)
{
    put_u8(b, 'M');
    put_u32(b, STREAM_XID);
    message_body(b);
}

typedef struct vector {
    const char *name;
    void (*build)(bb *b);
    bool in_stream;
    /* A shorter prefix that is itself a valid message (0: none). */
    size_t valid_prefix;
} vector;

static const vector vectors[] = {
    {"begin", v_begin, false, 0},
    {"commit", v_commit, false, 0},
    {"origin", v_origin, false, 0},
    {"relation", v_relation, false, 0},
    {"type", v_type, false, 0},
    {"insert", v_insert, false, 0},
    {"insert_binary", v_insert_binary, false, 0},
    {"update_key", v_update_key, false, 0},
    {"update_old", v_update_old, false, 0},
    {"update_plain", v_update_plain, false, 0},
    {"delete_key", v_delete_key, false, 0},
    {"delete_old", v_delete_old, false, 0},
    {"truncate", v_truncate, false, 0},
    {"message", v_message, false, 0},
    {"stream_start", v_stream_start, false, 0},
    {"stream_stop", v_stream_stop, false, 0},
    {"stream_commit", v_stream_commit, false, 0},
    {"stream_abort_v2", v_stream_abort_v2, false, 0},
    /* Without its v4 tail, a v4 abort is a valid v2 abort. */
    {"stream_abort_v4", v_stream_abort_v4, false, 9},
    {"begin_prepare", v_begin_prepare, false, 0},
    {"prepare", v_prepare, false, 0},
    {"prepare_empty_gid", v_prepare_empty_gid, false, 0},
    {"commit_prepared", v_commit_prepared, false, 0},
    {"rollback_prepared", v_rollback_prepared, false, 0},
    {"stream_prepare", v_stream_prepare, false, 0},
    /* The two-phase messages have no [xid]: in_stream changes nothing. */
    {"s_begin_prepare", v_begin_prepare, true, 0},
    {"s_prepare", v_prepare, true, 0},
    {"s_commit_prepared", v_commit_prepared, true, 0},
    {"s_rollback_prepared", v_rollback_prepared, true, 0},
    {"s_stream_prepare", v_stream_prepare, true, 0},
    {"s_relation", v_s_relation, true, 0},
    {"s_type", v_s_type, true, 0},
    {"s_insert", v_s_insert, true, 0},
    {"s_update", v_s_update, true, 0},
    {"s_delete", v_s_delete, true, 0},
    {"s_truncate", v_s_truncate, true, 0},
    {"s_message", v_s_message, true, 0},
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static bb build(void (*fn)(bb *))
{
    bb b;
    b.len = 0;
    fn(&b);
    return b;
}

/* ---- round trips ----------------------------------------------------------
 */

static void check_text(const wb_tuple_value *v, const char *expect)
{
    WB_CHECK_INT_EQ(v->kind, 't');
    WB_CHECK_INT_EQ(v->len, strlen(expect));
    WB_CHECK_STR_EQ(v->data, expect);
}

static void test_begin_commit(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_begin);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'B');
    WB_CHECK(!m.has_xid);
    WB_CHECK_U64_EQ(m.u.begin.final_lsn, LSN2);
    WB_CHECK_INT_EQ(m.u.begin.commit_time, TS1);
    WB_CHECK_U64_EQ(m.u.begin.xid, 4000000001u);
    WB_CHECK_INT_EQ(err.code, 0);

    /* in_stream does not change Begin: it has no streamed xid. */
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(!m.has_xid);
    WB_CHECK_U64_EQ(m.u.begin.xid, 4000000001u);

    b = build(v_commit);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'C');
    WB_CHECK_INT_EQ(m.u.commit.flags, 0);
    WB_CHECK_U64_EQ(m.u.commit.commit_lsn, LSN1);
    WB_CHECK_U64_EQ(m.u.commit.end_lsn, LSN2);
    WB_CHECK_INT_EQ(m.u.commit.commit_time, TS1);

    /* A negative timestamp (before 2000) survives the decode. */
    b.len = 0;
    put_u8(&b, 'C');
    put_u8(&b, 0);
    put_u64(&b, 1);
    put_u64(&b, UINT64_MAX);
    put_u64(&b, (uint64_t)INT64_C(-86400000000));
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_U64_EQ(m.u.commit.end_lsn, UINT64_MAX);
    WB_CHECK_INT_EQ(m.u.commit.commit_time, INT64_C(-86400000000));

    /* Commit flags are unused; a set bit means a layout we do not know. */
    b = build(v_commit);
    b.buf[1] = 1;
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Commit message: "
                                 "unrecognized flags 1 at offset 1");
}

static void test_origin(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_origin);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'O');
    WB_CHECK_U64_EQ(m.u.origin.origin_lsn, UINT64_C(0x0000000100000028));
    WB_CHECK_STR_EQ(m.u.origin.name, "pg_16401");
}

static void check_relation(const wb_pgoutput_relation *r)
{
    WB_CHECK_INT_EQ(r->relid, 16385);
    WB_CHECK_STR_EQ(r->nspname, "sales");
    WB_CHECK_STR_EQ(r->relname, "order \"items\"");
    WB_CHECK_INT_EQ(r->replident, 'i');
    WB_CHECK_INT_EQ(r->natts, 3);
    if (r->natts != 3 || !r->atts)
        return;
    WB_CHECK_INT_EQ(r->atts[0].flags, WB_PGO_COLUMN_KEY);
    WB_CHECK_STR_EQ(r->atts[0].name, "id");
    WB_CHECK_INT_EQ(r->atts[0].typoid, 20);
    WB_CHECK_INT_EQ(r->atts[0].typmod, -1);
    WB_CHECK_INT_EQ(r->atts[1].flags, WB_PGO_COLUMN_KEY);
    WB_CHECK_STR_EQ(r->atts[1].name, "line_no");
    WB_CHECK_INT_EQ(r->atts[1].typoid, 23);
    WB_CHECK_INT_EQ(r->atts[2].flags, 0);
    WB_CHECK_STR_EQ(r->atts[2].name, "pr\xc3\xa9"
                                     "cis");
    WB_CHECK_INT_EQ(r->atts[2].typoid, 1700);
    WB_CHECK_INT_EQ(r->atts[2].typmod, (12 << 16 | 2) + 4);
}

static void test_relation(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_relation);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'R');
    WB_CHECK(!m.has_xid);
    check_relation(&m.u.relation);

    /* pg_catalog is sent as ""; zero columns is legal. */
    b.len = 0;
    put_u8(&b, 'R');
    put_u32(&b, 1259);
    put_str(&b, "");
    put_str(&b, "t");
    put_u8(&b, 'n');
    put_u16(&b, 0);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_STR_EQ(m.u.relation.nspname, "");
    WB_CHECK_INT_EQ(m.u.relation.replident, 'n');
    WB_CHECK_INT_EQ(m.u.relation.natts, 0);
    WB_CHECK(m.u.relation.atts == NULL);

    /* Replica identity must be one of d, n, f, i. */
    b.buf[b.len - 3] = 'x';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "unknown replica identity \"x\"");
}

static void test_type(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_type);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'Y');
    WB_CHECK_INT_EQ(m.u.type.typoid, 16390);
    WB_CHECK_STR_EQ(m.u.type.nspname, "public");
    WB_CHECK_STR_EQ(m.u.type.typname, "mood");
}

static void check_insert_values(const wb_pgoutput_insert *ins)
{
    const wb_tuple *t = &ins->newtup;

    WB_CHECK_INT_EQ(ins->relid, 16385);
    WB_CHECK_INT_EQ(t->ncols, 7);
    if (t->ncols != 7 || !t->cols)
        return;
    check_text(&t->cols[0], "42");
    WB_CHECK_INT_EQ(t->cols[1].kind, WB_TUPLE_NULL);
    WB_CHECK(t->cols[1].data == NULL);
    WB_CHECK_INT_EQ(t->cols[1].len, 0);
    WB_CHECK_INT_EQ(t->cols[2].kind, WB_TUPLE_UNCHANGED);
    WB_CHECK(t->cols[2].data == NULL);
    check_text(&t->cols[3], TXT_QUOTES);
    check_text(&t->cols[4], TXT_UTF8);
    check_text(&t->cols[5], TXT_BINISH);
    WB_CHECK_MEM_EQ(t->cols[5].data, TXT_BINISH, sizeof(TXT_BINISH));
    /* An empty text value is "" with data, not NULL. */
    check_text(&t->cols[6], "");
    WB_CHECK(t->cols[6].data != NULL);
}

static void test_insert(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_insert);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'I');
    WB_CHECK(!m.has_xid);
    check_insert_values(&m.u.insert);
}

static void test_insert_binary(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_insert_binary);
    const wb_tuple *t = &m.u.insert.newtup;

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.insert.relid, 16386);
    WB_CHECK_INT_EQ(t->ncols, 2);
    if (t->ncols != 2)
        return;
    WB_CHECK_INT_EQ(t->cols[0].kind, WB_TUPLE_BINARY);
    WB_CHECK_INT_EQ(t->cols[0].len, sizeof(BIN_VAL));
    /* Embedded NULs are kept; a NUL is still added after the data. */
    WB_CHECK_MEM_EQ(t->cols[0].data, BIN_VAL, sizeof(BIN_VAL));
    WB_CHECK_INT_EQ(t->cols[0].data[sizeof(BIN_VAL)], 0);
    WB_CHECK_INT_EQ(t->cols[1].kind, WB_TUPLE_BINARY);
    WB_CHECK_INT_EQ(t->cols[1].len, 0);
    WB_CHECK_STR_EQ(t->cols[1].data, "");
}

static void check_update_key(const wb_pgoutput_update *u)
{
    WB_CHECK_INT_EQ(u->relid, 16385);
    WB_CHECK_INT_EQ(u->oldkind, 'K');
    WB_CHECK_INT_EQ(u->oldtup.ncols, 3);
    WB_CHECK_INT_EQ(u->newtup.ncols, 3);
    if (u->oldtup.ncols != 3 || u->newtup.ncols != 3)
        return;
    check_text(&u->oldtup.cols[0], "1");
    WB_CHECK_INT_EQ(u->oldtup.cols[1].kind, 'n');
    WB_CHECK_INT_EQ(u->oldtup.cols[2].kind, 'n');
    check_text(&u->newtup.cols[0], "2");
    check_text(&u->newtup.cols[1], "x");
    WB_CHECK_INT_EQ(u->newtup.cols[2].kind, 'u');
}

static void test_update(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_update_key);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'U');
    check_update_key(&m.u.update);

    b = build(v_update_old);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.update.relid, 16387);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 'O');
    WB_CHECK_INT_EQ(m.u.update.oldtup.ncols, 2);
    WB_CHECK_INT_EQ(m.u.update.newtup.ncols, 2);
    if (m.u.update.oldtup.ncols == 2 && m.u.update.newtup.ncols == 2) {
        check_text(&m.u.update.oldtup.cols[0], "7");
        check_text(&m.u.update.oldtup.cols[1], "before");
        check_text(&m.u.update.newtup.cols[0], "7");
        check_text(&m.u.update.newtup.cols[1], "after");
    }

    b = build(v_update_plain);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 0);
    WB_CHECK_INT_EQ(m.u.update.oldtup.ncols, 0);
    WB_CHECK_INT_EQ(m.u.update.newtup.ncols, 2);
    if (m.u.update.newtup.ncols == 2) {
        check_text(&m.u.update.newtup.cols[0], "5");
        WB_CHECK_INT_EQ(m.u.update.newtup.cols[1].kind, 'n');
    }

    /* After an old tuple, only 'N' may follow. */
    b = build(v_update_key);
    b.buf[1 + 4 + 1 + 2 + 6 + 1 + 1] = 'K';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message,
                    "invalid pgoutput Update message: expected new tuple "
                    "marker \"N\", got \"K\" at offset 16");

    /* An unknown marker in place of K/O/N. */
    b = build(v_update_plain);
    b.buf[5] = 'X';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Update message: unknown "
                                 "tuple marker \"X\" at offset 5");
}

static void test_delete(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_delete_key);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'D');
    WB_CHECK_INT_EQ(m.u.del.relid, 16385);
    WB_CHECK_INT_EQ(m.u.del.oldkind, 'K');
    WB_CHECK_INT_EQ(m.u.del.oldtup.ncols, 3);
    if (m.u.del.oldtup.ncols == 3) {
        check_text(&m.u.del.oldtup.cols[0], "99");
        WB_CHECK_INT_EQ(m.u.del.oldtup.cols[1].kind, 'n');
        WB_CHECK_INT_EQ(m.u.del.oldtup.cols[2].kind, 'n');
    }

    b = build(v_delete_old);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.del.oldkind, 'O');
    WB_CHECK_INT_EQ(m.u.del.oldtup.ncols, 2);
    if (m.u.del.oldtup.ncols == 2)
        check_text(&m.u.del.oldtup.cols[1], "gone");

    /* Delete never carries a new tuple. */
    b = build(v_delete_key);
    b.buf[5] = 'N';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "invalid pgoutput Delete message");
    WB_CHECK_STR_CONTAINS(err.message, "got \"N\" at offset 5");
}

static void test_truncate(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_truncate);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'T');
    WB_CHECK_INT_EQ(m.u.truncate.nrelids, 2);
    WB_CHECK_INT_EQ(m.u.truncate.flags, 3);
    WB_CHECK(m.u.truncate.flags & WB_TRUNCATE_CASCADE);
    WB_CHECK(m.u.truncate.flags & WB_TRUNCATE_RESTART_SEQS);
    if (m.u.truncate.nrelids == 2) {
        WB_CHECK_INT_EQ(m.u.truncate.relids[0], 16385);
        WB_CHECK_INT_EQ(m.u.truncate.relids[1], 16999);
    }

    b.len = 0;
    put_u8(&b, 'T');
    put_u32(&b, 0);
    put_u8(&b, 0);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.truncate.nrelids, 0);
    WB_CHECK_INT_EQ(m.u.truncate.flags, 0);
}

static void check_message(const wb_pgoutput_message *msg)
{
    WB_CHECK_INT_EQ(msg->flags, WB_MESSAGE_TRANSACTIONAL);
    WB_CHECK_U64_EQ(msg->lsn, LSN1);
    WB_CHECK_STR_EQ(msg->prefix, "walbridge.test");
    WB_CHECK_INT_EQ(msg->len, 7);
    WB_CHECK(msg->content != NULL);
    if (msg->content) {
        WB_CHECK_MEM_EQ(msg->content, "ab\0cd\"e", 8);
    }
}

static void test_message(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_message);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'M');
    check_message(&m.u.message);

    /* Non-transactional, empty content. */
    b.len = 0;
    put_u8(&b, 'M');
    put_u8(&b, 0);
    put_u64(&b, 5);
    put_str(&b, "p");
    put_u32(&b, 0);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.message.flags, 0);
    WB_CHECK_INT_EQ(m.u.message.len, 0);
    WB_CHECK_STR_EQ(m.u.message.content, "");
}

static void test_streamed_changes(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_s_relation);

    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    check_relation(&m.u.relation);

    b = build(v_s_type);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    WB_CHECK_INT_EQ(m.u.type.typoid, 16390);
    WB_CHECK_STR_EQ(m.u.type.nspname, "");
    WB_CHECK_STR_EQ(m.u.type.typname, "int4");

    b = build(v_s_insert);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    check_insert_values(&m.u.insert);

    b = build(v_s_update);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    check_update_key(&m.u.update);

    b = build(v_s_delete);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    WB_CHECK_INT_EQ(m.u.del.oldkind, 'K');
    WB_CHECK_INT_EQ(m.u.del.relid, 16385);

    b = build(v_s_truncate);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    WB_CHECK_INT_EQ(m.u.truncate.nrelids, 2);
    WB_CHECK_INT_EQ(m.u.truncate.flags, 3);
    if (m.u.truncate.nrelids == 2)
        WB_CHECK_INT_EQ(m.u.truncate.relids[1], 16999);

    b = build(v_s_message);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, STREAM_XID);
    check_message(&m.u.message);

    /* The same bytes outside a block are misread, and must not pass. */
    b = build(v_s_insert);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    /* And a plain message inside a block lacks its xid. */
    b = build(v_insert);
    WB_CHECK_INT_EQ(decode(&b, true, &m), WB_EPROTO);
}

static void test_stream_control(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_stream_start);

    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'S');
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, 7777);
    WB_CHECK_INT_EQ(m.u.stream_start.first_segment, 1);
    b.buf[5] = 0;
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.u.stream_start.first_segment, 0);

    b = build(v_stream_stop);
    WB_CHECK_INT_EQ(decode(&b, true, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'E');
    WB_CHECK(!m.has_xid);

    b = build(v_stream_commit);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'c');
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, 7777);
    WB_CHECK_INT_EQ(m.u.stream_commit.flags, 0);
    WB_CHECK_U64_EQ(m.u.stream_commit.commit_lsn, LSN1);
    WB_CHECK_U64_EQ(m.u.stream_commit.end_lsn, LSN2);
    WB_CHECK_INT_EQ(m.u.stream_commit.commit_time, TS1);

    b = build(v_stream_abort_v2);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.type, 'A');
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, 7777);
    WB_CHECK_INT_EQ(m.u.stream_abort.subxid, 7780);
    WB_CHECK(!m.u.stream_abort.has_abort_info);
    WB_CHECK_U64_EQ(m.u.stream_abort.abort_lsn, 0);

    b = build(v_stream_abort_v4);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_INT_EQ(m.xid, 7777);
    WB_CHECK_INT_EQ(m.u.stream_abort.subxid, 7780);
    WB_CHECK(m.u.stream_abort.has_abort_info);
    WB_CHECK_U64_EQ(m.u.stream_abort.abort_lsn, LSN2);
    WB_CHECK_INT_EQ(m.u.stream_abort.abort_time, TS1);

    /* A partial v4 tail is an error, not a v2 abort with junk. */
    WB_CHECK_INT_EQ(decode_n(&b, 9 + 8, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "Stream Abort");
    WB_CHECK_INT_EQ(decode_n(&b, 9 + 3, false, &m), WB_EPROTO);
}

/* ---- two-phase commit (protocol v3) ----------------------------------- */

static void test_two_phase(void)
{
    wb_pgoutput_msg m;
    bb b = build(v_begin_prepare);

    for (int s = 0; s < 2; s++) {
        bool in_stream = s == 1;

        b = build(v_begin_prepare);
        WB_CHECK_INT_EQ(decode(&b, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_BEGIN_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.xid, 0);
        WB_CHECK_U64_EQ(m.u.begin_prepare.prepare_lsn, LSN1);
        WB_CHECK_U64_EQ(m.u.begin_prepare.end_lsn, LSN2);
        WB_CHECK_INT_EQ(m.u.begin_prepare.prepare_time, TS1);
        WB_CHECK_U64_EQ(m.u.begin_prepare.xid, 4000000002u);
        WB_CHECK_STR_EQ(m.u.begin_prepare.gid, GID);

        b = build(v_prepare);
        WB_CHECK_INT_EQ(decode(&b, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.prepare.flags, 0);
        WB_CHECK_U64_EQ(m.u.prepare.prepare_lsn, LSN1);
        WB_CHECK_U64_EQ(m.u.prepare.end_lsn, LSN2);
        WB_CHECK_INT_EQ(m.u.prepare.prepare_time, TS1);
        WB_CHECK_U64_EQ(m.u.prepare.xid, 4000000002u);
        WB_CHECK_STR_EQ(m.u.prepare.gid, GID);

        b = build(v_commit_prepared);
        WB_CHECK_INT_EQ(decode(&b, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_COMMIT_PREPARED);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.commit_prepared.flags, 0);
        WB_CHECK_U64_EQ(m.u.commit_prepared.commit_lsn, LSN2);
        WB_CHECK_U64_EQ(m.u.commit_prepared.end_lsn, LSN3);
        WB_CHECK_INT_EQ(m.u.commit_prepared.commit_time, TS2);
        WB_CHECK_U64_EQ(m.u.commit_prepared.xid, 4000000002u);
        WB_CHECK_STR_EQ(m.u.commit_prepared.gid, GID);

        b = build(v_rollback_prepared);
        WB_CHECK_INT_EQ(decode(&b, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_ROLLBACK_PREPARED);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.rollback_prepared.flags, 0);
        WB_CHECK_U64_EQ(m.u.rollback_prepared.prepare_end_lsn, LSN2);
        WB_CHECK_U64_EQ(m.u.rollback_prepared.rollback_end_lsn, LSN3);
        WB_CHECK_INT_EQ(m.u.rollback_prepared.prepare_time, TS1);
        WB_CHECK_INT_EQ(m.u.rollback_prepared.rollback_time, TS2);
        WB_CHECK_U64_EQ(m.u.rollback_prepared.xid, 4000000002u);
        WB_CHECK_STR_EQ(m.u.rollback_prepared.gid, GID);

        b = build(v_stream_prepare);
        WB_CHECK_INT_EQ(decode(&b, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_STREAM_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.stream_prepare.flags, 0);
        WB_CHECK_U64_EQ(m.u.stream_prepare.prepare_lsn, LSN1);
        WB_CHECK_U64_EQ(m.u.stream_prepare.end_lsn, LSN2);
        WB_CHECK_INT_EQ(m.u.stream_prepare.prepare_time, TS1);
        WB_CHECK_U64_EQ(m.u.stream_prepare.xid, 4000000002u);
        WB_CHECK_STR_EQ(m.u.stream_prepare.gid, GID);
    }

    b = build(v_prepare_empty_gid);
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK(m.u.prepare.gid != NULL);
    WB_CHECK_STR_EQ(m.u.prepare.gid, "");
    WB_CHECK_INT_EQ(m.u.prepare.xid, 1);

    /* Extreme values survive: negative times, all-ones LSNs and xid. */
    b.len = 0;
    put_u8(&b, 'r');
    put_u8(&b, 0);
    put_u64(&b, UINT64_MAX);
    put_u64(&b, 1);
    put_u64(&b, (uint64_t)INT64_C(-86400000000));
    put_u64(&b, (uint64_t)INT64_MIN);
    put_u32(&b, UINT32_MAX);
    put_str(&b, "g");
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_U64_EQ(m.u.rollback_prepared.prepare_end_lsn, UINT64_MAX);
    WB_CHECK_U64_EQ(m.u.rollback_prepared.rollback_end_lsn, 1);
    WB_CHECK_INT_EQ(m.u.rollback_prepared.prepare_time, INT64_C(-86400000000));
    WB_CHECK_INT_EQ(m.u.rollback_prepared.rollback_time, INT64_MIN);
    WB_CHECK_U64_EQ(m.u.rollback_prepared.xid, UINT32_MAX);
    WB_CHECK_STR_EQ(m.u.rollback_prepared.gid, "g");

    /* A GID of GIDSIZE - 1 = 199 bytes, the longest PostgreSQL allows. */
    {
        char gid[200];
        memset(gid, 'G', sizeof(gid) - 1);
        gid[sizeof(gid) - 1] = '\0';
        b.len = 0;
        put_u8(&b, 'K');
        put_u8(&b, 0);
        put_u64(&b, LSN2);
        put_u64(&b, LSN3);
        put_u64(&b, (uint64_t)TS2);
        put_u32(&b, 9);
        put_str(&b, gid);
        WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
        WB_CHECK_INT_EQ(strlen(m.u.commit_prepared.gid), 199);
        WB_CHECK_STR_EQ(m.u.commit_prepared.gid, gid);
    }

    /* Flags are unused in P, K, r and p; a set bit is rejected. */
    b = build(v_prepare);
    b.buf[1] = 1;
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Prepare message: "
                                 "unrecognized flags 1 at offset 1");
    b = build(v_commit_prepared);
    b.buf[1] = 0x80;
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Commit Prepared message: "
                                 "unrecognized flags 128 at offset 1");
    b = build(v_rollback_prepared);
    b.buf[1] = 2;
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Rollback Prepared "
                                 "message: unrecognized flags 2 at offset 1");
    b = build(v_stream_prepare);
    b.buf[1] = 0xff;
    WB_CHECK_INT_EQ(decode(&b, true, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Stream Prepare message: "
                                 "unrecognized flags 255 at offset 1");

    /* Begin Prepare has no flags: its first byte is the prepare_lsn. */
    b = build(v_begin_prepare);
    b.buf[1] = 0xff;
    WB_CHECK_INT_EQ(decode(&b, false, &m), 0);
    WB_CHECK_U64_EQ(m.u.begin_prepare.prepare_lsn,
                    LSN1 | UINT64_C(0xff00000000000000));

    /* Errors name the message, the field and the offset. */
    b = build(v_begin_prepare);
    WB_CHECK_INT_EQ(decode_n(&b, 1 + 8 + 8 + 8 + 4, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Begin Prepare message: "
                                 "unterminated string gid at offset 29");
    WB_CHECK_INT_EQ(decode_n(&b, 1 + 8 + 3, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Begin Prepare message: "
                                 "truncated end_lsn: need 8 bytes, 3 remain "
                                 "at offset 9");
    b = build(v_rollback_prepared);
    WB_CHECK_INT_EQ(decode_n(&b, 30, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Rollback Prepared "
                                 "message: truncated rollback_time: need 8 "
                                 "bytes, 4 remain at offset 26");
    WB_CHECK_INT_EQ(decode_n(&b, 36, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Rollback Prepared "
                                 "message: truncated xid: need 4 bytes, 2 "
                                 "remain at offset 34");
    b = build(v_commit_prepared);
    WB_CHECK_INT_EQ(decode_n(&b, 1, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Commit Prepared message: "
                                 "truncated flags: need 1 bytes, 0 remain "
                                 "at offset 1");
    b = build(v_stream_prepare);
    put_bytes(&b, "\0\0", 2);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Stream Prepare message: "
                                 "2 trailing bytes at offset 48");
    /* A NUL inside the GID ends it; what follows is trailing garbage. */
    b = build(v_prepare);
    b.buf[30 + 3] = '\0';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "invalid pgoutput Prepare message: ");
    WB_CHECK_STR_CONTAINS(err.message, "trailing bytes at offset 34");
}

/* ---- recorded from PostgreSQL 15 ---------------------------------------- */

/*
 * Payloads captured from a PostgreSQL 15.18 server with
 * pg_logical_slot_peek_binary_changes(slot, NULL, NULL, 'proto_version', ...,
 * 'publication_names', 'p', 'messages', 'true') after:
 *   CREATE TYPE mood AS ENUM (...);
 *   CREATE TABLE t (id int PRIMARY KEY, name text, m mood, big text);
 *     -- big has STORAGE EXTERNAL and held a 3000-byte value
 *   CREATE TABLE tf (id int, v text) REPLICA IDENTITY FULL;
 *   parent/child with a foreign key, TRUNCATE ... RESTART IDENTITY CASCADE;
 *   a 4000-row transaction with a rolled-back savepoint, decoded with
 *   proto_version 2, streaming on, binary true, logical_decoding_work_mem
 *   64kB (hence 'b' values and the S/E/A/c messages).
 */
typedef struct recorded {
    const char *name;
    const char *hex;
    bool in_stream;
} recorded;

static const recorded pg15[] = {
    {"begin", "4200000000015418f80003040641794558000002dd", false},
    {"type", "59000040017075626c6963006d6f6f6400", false},
    {"relation",
     "52000040077075626c69630074006400040169640000000017ffffffff006e616d6500"
     "00000019ffffffff006d0000004001ffffffff006269670000000019ffffffff",
     false},
    {"insert",
     "49000040074e0004740000000133740000001e4f27427269656e202271222067"
     "72c3bcc39f20e697a5e69cac20f09f988074000000026f6b6e",
     false},
    {"message",
     "4d0100000000015418f877622e707265666978000000000d68656c6c6f"
     "206d657373616765",
     false},
    {"commit", "430000000000015418f800000000015419280003040641794558", false},
    {"update_toast",
     "55000040074e0004740000000131740000000772656e616d65647400000005686170"
     "707975",
     false},
    {"update_key",
     "55000040074b00047400000001326e6e6e4e0004740000000231306e6e6e", false},
    {"delete_key", "44000040074b0004740000000231306e6e6e", false},
    {"update_full",
     "550000400e4f00027400000001317400000001614e0002740000000131740000000162",
     false},
    {"delete_full", "440000400e4f0002740000000131740000000162", false},
    {"truncate", "540000000203000040140000401a", false},
    {"message_nontx",
     "4d000000000001542ab877622e6e6f6e747800000000056e6f6e7478", false},
    {"update_binary",
     "550000400e4f00026200000004000000016200000001614e00026200000004000000"
     "01620000000162",
     false},
    {"stream_start", "53000002e601", false},
    {"stream_relation",
     "52000002e6000040227075626c69630073006400020169640000000017ffffffff00"
     "7061640000000019ffffffff",
     true},
    {"stream_insert_binary",
     "49000002e8000040224e000262000000040000138862000000046c617374", true},
    {"stream_stop", "45", true},
    {"stream_abort", "41000002e6000002e7", false},
    {"stream_commit",
     "63000002e60000000000016200200000000001620058000304064179aa12", false},
};
#define NPG15 (sizeof(pg15) / sizeof(pg15[0]))

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static bb from_hex(const char *hex)
{
    bb b;
    b.len = 0;
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2)
        put_u8(&b, (uint8_t)(hexval(hex[i]) * 16 + hexval(hex[i + 1])));
    return b;
}

static int decode_recorded(const char *name, wb_pgoutput_msg *m)
{
    for (size_t i = 0; i < NPG15; i++) {
        if (strcmp(pg15[i].name, name) == 0) {
            bb b = from_hex(pg15[i].hex);
            return decode(&b, pg15[i].in_stream, m);
        }
    }
    return -999;
}

static void test_recorded_pg15(void)
{
    wb_pgoutput_msg m;
    const wb_tuple *t;

    WB_CHECK_INT_EQ(decode_recorded("begin", &m), 0);
    WB_CHECK_U64_EQ(m.u.begin.final_lsn, UINT64_C(0x15418F8));
    WB_CHECK_INT_EQ(m.u.begin.commit_time, INT64_C(848849844913496));
    WB_CHECK_INT_EQ(m.u.begin.xid, 733);

    WB_CHECK_INT_EQ(decode_recorded("type", &m), 0);
    WB_CHECK_INT_EQ(m.u.type.typoid, 16385);
    WB_CHECK_STR_EQ(m.u.type.nspname, "public");
    WB_CHECK_STR_EQ(m.u.type.typname, "mood");

    WB_CHECK_INT_EQ(decode_recorded("relation", &m), 0);
    WB_CHECK_INT_EQ(m.u.relation.relid, 16391);
    WB_CHECK_STR_EQ(m.u.relation.nspname, "public");
    WB_CHECK_STR_EQ(m.u.relation.relname, "t");
    WB_CHECK_INT_EQ(m.u.relation.replident, 'd');
    WB_CHECK_INT_EQ(m.u.relation.natts, 4);
    if (m.u.relation.natts == 4) {
        WB_CHECK_STR_EQ(m.u.relation.atts[0].name, "id");
        WB_CHECK_INT_EQ(m.u.relation.atts[0].flags, WB_PGO_COLUMN_KEY);
        WB_CHECK_INT_EQ(m.u.relation.atts[0].typoid, 23);
        WB_CHECK_INT_EQ(m.u.relation.atts[0].typmod, -1);
        WB_CHECK_STR_EQ(m.u.relation.atts[1].name, "name");
        WB_CHECK_INT_EQ(m.u.relation.atts[1].flags, 0);
        WB_CHECK_INT_EQ(m.u.relation.atts[1].typoid, 25);
        WB_CHECK_STR_EQ(m.u.relation.atts[2].name, "m");
        WB_CHECK_INT_EQ(m.u.relation.atts[2].typoid, 16385); /* the enum */
        WB_CHECK_STR_EQ(m.u.relation.atts[3].name, "big");
    }

    WB_CHECK_INT_EQ(decode_recorded("insert", &m), 0);
    t = &m.u.insert.newtup;
    WB_CHECK_INT_EQ(m.u.insert.relid, 16391);
    WB_CHECK_INT_EQ(t->ncols, 4);
    if (t->ncols == 4) {
        check_text(&t->cols[0], "3");
        check_text(&t->cols[1], "O'Brien \"q\" gr\xc3\xbc\xc3\x9f "
                                "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
        check_text(&t->cols[2], "ok");
        WB_CHECK_INT_EQ(t->cols[3].kind, WB_TUPLE_NULL);
    }

    WB_CHECK_INT_EQ(decode_recorded("message", &m), 0);
    WB_CHECK_INT_EQ(m.u.message.flags, WB_MESSAGE_TRANSACTIONAL);
    WB_CHECK_U64_EQ(m.u.message.lsn, UINT64_C(0x15418F8));
    WB_CHECK_STR_EQ(m.u.message.prefix, "wb.prefix");
    WB_CHECK_INT_EQ(m.u.message.len, 13);
    WB_CHECK_STR_EQ(m.u.message.content, "hello message");

    WB_CHECK_INT_EQ(decode_recorded("commit", &m), 0);
    WB_CHECK_INT_EQ(m.u.commit.flags, 0);
    WB_CHECK_U64_EQ(m.u.commit.commit_lsn, UINT64_C(0x15418F8));
    WB_CHECK_U64_EQ(m.u.commit.end_lsn, UINT64_C(0x1541928));
    WB_CHECK_INT_EQ(m.u.commit.commit_time, INT64_C(848849844913496));

    /* UPDATE t SET name = ... left the external TOAST value unchanged. */
    WB_CHECK_INT_EQ(decode_recorded("update_toast", &m), 0);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 0);
    t = &m.u.update.newtup;
    WB_CHECK_INT_EQ(t->ncols, 4);
    if (t->ncols == 4) {
        check_text(&t->cols[1], "renamed");
        check_text(&t->cols[2], "happy");
        WB_CHECK_INT_EQ(t->cols[3].kind, WB_TUPLE_UNCHANGED);
    }

    /* UPDATE t SET id = 10 WHERE id = 2: the key changed, so K is sent. */
    WB_CHECK_INT_EQ(decode_recorded("update_key", &m), 0);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 'K');
    WB_CHECK_INT_EQ(m.u.update.oldtup.ncols, 4);
    WB_CHECK_INT_EQ(m.u.update.newtup.ncols, 4);
    if (m.u.update.oldtup.ncols == 4 && m.u.update.newtup.ncols == 4) {
        check_text(&m.u.update.oldtup.cols[0], "2");
        WB_CHECK_INT_EQ(m.u.update.oldtup.cols[1].kind, 'n');
        check_text(&m.u.update.newtup.cols[0], "10");
    }

    WB_CHECK_INT_EQ(decode_recorded("delete_key", &m), 0);
    WB_CHECK_INT_EQ(m.u.del.oldkind, 'K');
    if (m.u.del.oldtup.ncols == 4)
        check_text(&m.u.del.oldtup.cols[0], "10");

    WB_CHECK_INT_EQ(decode_recorded("update_full", &m), 0);
    WB_CHECK_INT_EQ(m.u.update.relid, 16398);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 'O');
    if (m.u.update.oldtup.ncols == 2 && m.u.update.newtup.ncols == 2) {
        check_text(&m.u.update.oldtup.cols[1], "a");
        check_text(&m.u.update.newtup.cols[1], "b");
    }

    WB_CHECK_INT_EQ(decode_recorded("delete_full", &m), 0);
    WB_CHECK_INT_EQ(m.u.del.oldkind, 'O');
    if (m.u.del.oldtup.ncols == 2)
        check_text(&m.u.del.oldtup.cols[1], "b");

    WB_CHECK_INT_EQ(decode_recorded("truncate", &m), 0);
    WB_CHECK_INT_EQ(m.u.truncate.nrelids, 2);
    WB_CHECK_INT_EQ(m.u.truncate.flags,
                    WB_TRUNCATE_CASCADE | WB_TRUNCATE_RESTART_SEQS);
    if (m.u.truncate.nrelids == 2) {
        WB_CHECK_INT_EQ(m.u.truncate.relids[0], 16404);
        WB_CHECK_INT_EQ(m.u.truncate.relids[1], 16410);
    }

    WB_CHECK_INT_EQ(decode_recorded("message_nontx", &m), 0);
    WB_CHECK_INT_EQ(m.u.message.flags, 0);
    WB_CHECK_STR_EQ(m.u.message.prefix, "wb.nontx");
    WB_CHECK_STR_EQ(m.u.message.content, "nontx");

    /* binary=true: int4 as 4 big-endian bytes, text as its raw bytes. */
    WB_CHECK_INT_EQ(decode_recorded("update_binary", &m), 0);
    WB_CHECK_INT_EQ(m.u.update.oldkind, 'O');
    if (m.u.update.newtup.ncols == 2) {
        const wb_tuple_value *v = &m.u.update.newtup.cols[0];
        WB_CHECK_INT_EQ(v->kind, WB_TUPLE_BINARY);
        WB_CHECK_INT_EQ(v->len, 4);
        WB_CHECK_MEM_EQ(v->data, "\0\0\0\1", 4);
        WB_CHECK_INT_EQ(m.u.update.newtup.cols[1].kind, WB_TUPLE_BINARY);
        WB_CHECK_STR_EQ(m.u.update.newtup.cols[1].data, "b");
    }

    WB_CHECK_INT_EQ(decode_recorded("stream_start", &m), 0);
    WB_CHECK_INT_EQ(m.xid, 742);
    WB_CHECK_INT_EQ(m.u.stream_start.first_segment, 1);

    WB_CHECK_INT_EQ(decode_recorded("stream_relation", &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, 742);
    WB_CHECK_STR_EQ(m.u.relation.relname, "s");
    WB_CHECK_INT_EQ(m.u.relation.natts, 2);

    /* The row inserted after ROLLBACK TO sp carries the new subxact xid. */
    WB_CHECK_INT_EQ(decode_recorded("stream_insert_binary", &m), 0);
    WB_CHECK(m.has_xid);
    WB_CHECK_INT_EQ(m.xid, 744);
    WB_CHECK_INT_EQ(m.u.insert.relid, 16418);
    if (m.u.insert.newtup.ncols == 2) {
        WB_CHECK_MEM_EQ(m.u.insert.newtup.cols[0].data, "\0\0\x13\x88", 4);
        WB_CHECK_STR_EQ(m.u.insert.newtup.cols[1].data, "last");
    }

    WB_CHECK_INT_EQ(decode_recorded("stream_stop", &m), 0);
    WB_CHECK_INT_EQ(m.type, WB_PGO_STREAM_STOP);

    /* The rolled-back savepoint, sent outside any Start/Stop block. */
    WB_CHECK_INT_EQ(decode_recorded("stream_abort", &m), 0);
    WB_CHECK_INT_EQ(m.xid, 742);
    WB_CHECK_INT_EQ(m.u.stream_abort.subxid, 743);
    WB_CHECK(!m.u.stream_abort.has_abort_info);

    WB_CHECK_INT_EQ(decode_recorded("stream_commit", &m), 0);
    WB_CHECK_INT_EQ(m.xid, 742);
    WB_CHECK_U64_EQ(m.u.stream_commit.commit_lsn, UINT64_C(0x1620020));
    WB_CHECK_U64_EQ(m.u.stream_commit.end_lsn, UINT64_C(0x1620058));
}

/*
 * An Origin message, recorded from the same PostgreSQL 15.18 server after
 *   SELECT pg_replication_origin_session_setup('wb_probe_origin');
 *   BEGIN;
 *   SELECT pg_replication_origin_xact_setup('0/1234ABCD', ...);
 *   INSERT INTO public.origin_probe VALUES (1, 'x');
 *   COMMIT;
 * It arrives as its own message right after Begin; this is how walbridge
 * recognises its own writes coming back.
 */
static void test_recorded_origin(void)
{
    static const char *hex =
        "4f000000001234abcd77625f70726f62655f6f726967696e00";
    unsigned char buf[64];
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        buf[i] = (unsigned char)v;
    }
    wb_arena *a = wb_arena_create(0, 64 * 1024);
    wb_pgoutput_msg m;
    WB_CHECK_INT_EQ(
        wb_pgoutput_decode((const char *)buf, n, false, a, &m, NULL), 0);
    WB_CHECK_INT_EQ(m.type, WB_PGO_ORIGIN);
    WB_CHECK_U64_EQ(m.u.origin.origin_lsn, 0x1234ABCDULL);
    WB_CHECK_STR_EQ(m.u.origin.name, "wb_probe_origin");
    for (size_t len = 0; len < n; len++) {
        wb_arena_reset(a);
        WB_CHECK_INT_EQ(
            wb_pgoutput_decode((const char *)buf, len, false, a, &m, NULL),
            WB_EPROTO);
    }
    wb_arena_destroy(a);
}

static void test_recorded_prefixes_and_trailing(void)
{
    for (size_t v = 0; v < NPG15; v++) {
        bb b = from_hex(pg15[v].hex);
        wb_pgoutput_msg m;
        int bad = 0;

        for (size_t len = 0; len < b.len; len++) {
            int rc = decode_n(&b, len, pg15[v].in_stream, &m);
            if (rc != WB_EPROTO) {
                printf("  %s: prefix of %zu/%zu bytes: rc %d\n", pg15[v].name,
                       len, b.len, rc);
                bad++;
            }
        }
        put_u8(&b, 'x');
        if (decode(&b, pg15[v].in_stream, &m) != WB_EPROTO)
            bad++;
        WB_CHECK_INT_EQ(bad, 0);
    }
}

/* ---- recorded from PostgreSQL 15: two-phase commit ----------------------- */

/*
 * Payloads captured from a PostgreSQL 15.18 server (wal_level logical,
 * max_prepared_transactions 10) with
 *   pg_logical_slot_peek_binary_changes('s', NULL, NULL, 'proto_version', '3',
 *       'publication_names', 'p', 'two_phase', 'on', 'streaming', 'on')
 * run with logical_decoding_work_mem = 64kB, on a slot made by
 * pg_create_logical_replication_slot('s', 'pgoutput', false, true), after:
 *   CREATE TABLE t2pc (id int PRIMARY KEY, v text);
 *   CREATE PUBLICATION p FOR TABLE t2pc;
 *   BEGIN; INSERT 1 row; PREPARE TRANSACTION 'wb gid ''q'' grüß';
 *   COMMIT PREPARED 'wb gid ''q'' grüß';                    -- xid 727
 *   BEGIN; INSERT 1 row; PREPARE TRANSACTION 'wb_rollback';
 *   ROLLBACK PREPARED 'wb_rollback';                         -- xid 728
 *   BEGIN; INSERT 4000 rows; PREPARE TRANSACTION 'wb_big';
 *   COMMIT PREPARED 'wb_big';      -- xid 729, streamed: S/E blocks, then p
 * lsn and xid are the function's lsn and xid columns for that row.  The
 * record positions were checked with pg_walinspect's
 * pg_get_wal_records_info: PREPARE 727 at 0/15438F0..0/15439F8,
 * COMMIT_PREPARED at 0/15439F8..0/1543A40, PREPARE 728 at
 * 0/1543AC8..0/1543BC8, ABORT_PREPARED at 0/1543BC8..0/1543C08, PREPARE 729
 * at 0/15EA308..0/15EA400, COMMIT_PREPARED at 0/15EA400..0/15EA440, and the
 * timestamps below are the ones it printed for those records.
 */
typedef struct recorded_2pc {
    const char *name;
    wb_lsn lsn;   /* lsn column */
    uint32_t xid; /* xid column */
    const char *hex;
} recorded_2pc;

static const recorded_2pc pg15_2pc[] = {
    {"begin_prepare", UINT64_C(0x1543808), 727,
     "6200000000015438f000000000015439f800030406bb1c1ae7000002d777622067"
     "696420277127206772c3bcc39f00"},
    {"prepare", UINT64_C(0x15439F8), 727,
     "500000000000015438f000000000015439f800030406bb1c1ae7000002d7776220"
     "67696420277127206772c3bcc39f00"},
    {"commit_prepared", UINT64_C(0x1543A40), 727,
     "4b0000000000015439f80000000001543a4000030406bb1c2838000002d7776220"
     "67696420277127206772c3bcc39f00"},
    {"begin_prepare_rb", UINT64_C(0x1543A40), 728,
     "620000000001543ac80000000001543bc800030406bb1c36e9000002d877625f72"
     "6f6c6c6261636b00"},
    {"prepare_rb", UINT64_C(0x1543BC8), 728,
     "50000000000001543ac80000000001543bc800030406bb1c36e9000002d877625f"
     "726f6c6c6261636b00"},
    {"rollback_prepared", UINT64_C(0x1543C08), 728,
     "72000000000001543bc80000000001543c0800030406bb1c36e900030406bb1c47"
     "76000002d877625f726f6c6c6261636b00"},
    {"stream_prepare", UINT64_C(0x15EA400), 729,
     "700000000000015ea30800000000015ea40000030406bb1c8812000002d977625f"
     "62696700"},
    {"commit_prepared_big", UINT64_C(0x15EA440), 729,
     "4b0000000000015ea40000000000015ea44000030406bb1c954a000002d977625f"
     "62696700"},
};
#define NPG15_2PC (sizeof(pg15_2pc) / sizeof(pg15_2pc[0]))

static const recorded_2pc *find_2pc(const char *name)
{
    for (size_t i = 0; i < NPG15_2PC; i++)
        if (strcmp(pg15_2pc[i].name, name) == 0)
            return &pg15_2pc[i];
    return NULL;
}

/* Decode a recorded two-phase payload; in_stream must make no difference. */
static int decode_2pc(const recorded_2pc *rec, bool in_stream,
                      wb_pgoutput_msg *m)
{
    bb b;
    if (!rec)
        return -999;
    b = from_hex(rec->hex);
    return decode(&b, in_stream, m);
}

#define GID_727 "wb gid 'q' gr\xc3\xbc\xc3\x9f"

static void test_recorded_pg15_2pc(void)
{
    const recorded_2pc *rec;
    wb_pgoutput_msg m;

    for (int s = 0; s < 2; s++) {
        bool in_stream = s == 1;

        /* The committed one: b (lsn column: the txn's first record), P, K. */
        rec = find_2pc("begin_prepare");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_BEGIN_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_U64_EQ(m.u.begin_prepare.prepare_lsn, UINT64_C(0x15438F0));
        WB_CHECK_U64_EQ(m.u.begin_prepare.end_lsn, UINT64_C(0x15439F8));
        WB_CHECK_INT_EQ(m.u.begin_prepare.prepare_time,
                        INT64_C(848851885628135));
        WB_CHECK_INT_EQ(m.u.begin_prepare.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.begin_prepare.gid, GID_727);
        /* Decoding starts at the transaction's first record. */
        WB_CHECK(rec->lsn < m.u.begin_prepare.prepare_lsn);

        rec = find_2pc("prepare");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.prepare.flags, 0);
        WB_CHECK_U64_EQ(m.u.prepare.prepare_lsn, UINT64_C(0x15438F0));
        WB_CHECK_U64_EQ(m.u.prepare.end_lsn, UINT64_C(0x15439F8));
        WB_CHECK_U64_EQ(m.u.prepare.end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.prepare.prepare_time, INT64_C(848851885628135));
        WB_CHECK_INT_EQ(m.u.prepare.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.prepare.gid, GID_727);

        rec = find_2pc("commit_prepared");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_COMMIT_PREPARED);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.commit_prepared.flags, 0);
        /* COMMIT PREPARED was the next record after the PREPARE. */
        WB_CHECK_U64_EQ(m.u.commit_prepared.commit_lsn, UINT64_C(0x15439F8));
        WB_CHECK_U64_EQ(m.u.commit_prepared.end_lsn, UINT64_C(0x1543A40));
        WB_CHECK_U64_EQ(m.u.commit_prepared.end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.commit_prepared.commit_time,
                        INT64_C(848851885631544));
        WB_CHECK_INT_EQ(m.u.commit_prepared.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.commit_prepared.gid, GID_727);

        /* The rolled-back one: b, P, r. */
        rec = find_2pc("begin_prepare_rb");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_BEGIN_PREPARE);
        WB_CHECK_U64_EQ(m.u.begin_prepare.prepare_lsn, UINT64_C(0x1543AC8));
        WB_CHECK_U64_EQ(m.u.begin_prepare.end_lsn, UINT64_C(0x1543BC8));
        WB_CHECK_INT_EQ(m.u.begin_prepare.prepare_time,
                        INT64_C(848851885635305));
        WB_CHECK_INT_EQ(m.u.begin_prepare.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.begin_prepare.gid, "wb_rollback");
        WB_CHECK(rec->lsn < m.u.begin_prepare.prepare_lsn);

        rec = find_2pc("prepare_rb");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_PREPARE);
        WB_CHECK_INT_EQ(m.u.prepare.flags, 0);
        WB_CHECK_U64_EQ(m.u.prepare.prepare_lsn, UINT64_C(0x1543AC8));
        WB_CHECK_U64_EQ(m.u.prepare.end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.prepare.prepare_time, INT64_C(848851885635305));
        WB_CHECK_INT_EQ(m.u.prepare.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.prepare.gid, "wb_rollback");

        rec = find_2pc("rollback_prepared");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_ROLLBACK_PREPARED);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.rollback_prepared.flags, 0);
        /* It repeats the Prepare's end and time, then gives its own. */
        WB_CHECK_U64_EQ(m.u.rollback_prepared.prepare_end_lsn,
                        find_2pc("prepare_rb")->lsn);
        WB_CHECK_U64_EQ(m.u.rollback_prepared.rollback_end_lsn,
                        UINT64_C(0x1543C08));
        WB_CHECK_U64_EQ(m.u.rollback_prepared.rollback_end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.rollback_prepared.prepare_time,
                        INT64_C(848851885635305));
        WB_CHECK_INT_EQ(m.u.rollback_prepared.rollback_time,
                        INT64_C(848851885639542));
        WB_CHECK_INT_EQ(m.u.rollback_prepared.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.rollback_prepared.gid, "wb_rollback");

        /* The streamed one: p after its last Stream Stop, then K. */
        rec = find_2pc("stream_prepare");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_STREAM_PREPARE);
        WB_CHECK(!m.has_xid);
        WB_CHECK_INT_EQ(m.u.stream_prepare.flags, 0);
        WB_CHECK_U64_EQ(m.u.stream_prepare.prepare_lsn, UINT64_C(0x15EA308));
        WB_CHECK_U64_EQ(m.u.stream_prepare.end_lsn, UINT64_C(0x15EA400));
        WB_CHECK_U64_EQ(m.u.stream_prepare.end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.stream_prepare.prepare_time,
                        INT64_C(848851885656082));
        WB_CHECK_INT_EQ(m.u.stream_prepare.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.stream_prepare.gid, "wb_big");

        rec = find_2pc("commit_prepared_big");
        WB_CHECK_INT_EQ(decode_2pc(rec, in_stream, &m), 0);
        WB_CHECK_INT_EQ(m.type, WB_PGO_COMMIT_PREPARED);
        WB_CHECK_INT_EQ(m.u.commit_prepared.flags, 0);
        WB_CHECK_U64_EQ(m.u.commit_prepared.commit_lsn,
                        find_2pc("stream_prepare")->lsn);
        WB_CHECK_U64_EQ(m.u.commit_prepared.end_lsn, UINT64_C(0x15EA440));
        WB_CHECK_U64_EQ(m.u.commit_prepared.end_lsn, rec->lsn);
        WB_CHECK_INT_EQ(m.u.commit_prepared.commit_time,
                        INT64_C(848851885659466));
        WB_CHECK_INT_EQ(m.u.commit_prepared.xid, rec->xid);
        WB_CHECK_STR_EQ(m.u.commit_prepared.gid, "wb_big");
    }
}

/*
 * Every strict prefix of every recorded two-phase payload fails with an error
 * naming the message, and so does the payload plus one byte.
 */
static void test_recorded_2pc_prefixes_and_trailing(void)
{
    for (size_t v = 0; v < NPG15_2PC; v++) {
        bb b = from_hex(pg15_2pc[v].hex);
        char expect[128];
        wb_pgoutput_msg m;
        int bad = 0;

        snprintf(expect, sizeof(expect), "invalid pgoutput %s message: ",
                 wb_pgoutput_msgtype_name((char)b.buf[0]));
        for (size_t len = 0; len < b.len; len++) {
            for (int s = 0; s < 2; s++) {
                int rc = decode_n(&b, len, s == 1, &m);
                const char *want = len ? expect : "empty pgoutput message";
                if (rc != WB_EPROTO || err.code != WB_EPROTO ||
                    strncmp(err.message, want, strlen(want)) != 0) {
                    printf("  %s: prefix of %zu/%zu bytes: rc %d (%s)\n",
                           pg15_2pc[v].name, len, b.len, rc, err.message);
                    bad++;
                }
            }
        }
        WB_CHECK_INT_EQ(bad, 0);

        put_u8(&b, 'x');
        snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect),
                 "1 trailing bytes at offset %zu", b.len - 1);
        WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
        WB_CHECK_STR_EQ(err.message, expect);
        WB_CHECK_INT_EQ(decode(&b, true, &m), WB_EPROTO);
        WB_CHECK_STR_EQ(err.message, expect);
    }
}

/* ---- hostile input ---------------------------------------------------- */

static void test_every_prefix_fails(void)
{
    for (size_t v = 0; v < NVECTORS; v++) {
        bb b = build(vectors[v].build);
        wb_pgoutput_msg m;
        int bad = 0;

        /* The full message is valid... */
        WB_CHECK_INT_EQ(decode(&b, vectors[v].in_stream, &m), 0);
        /* ...and no strict prefix is. */
        for (size_t len = 0; len < b.len; len++) {
            int rc = decode_n(&b, len, vectors[v].in_stream, &m);
            if (len && len == vectors[v].valid_prefix) {
                if (rc != 0)
                    bad++;
                continue;
            }
            if (rc != WB_EPROTO || err.code != WB_EPROTO ||
                err.message[0] == '\0') {
                printf("  %s: prefix of %zu/%zu bytes: rc %d (%s)\n",
                       vectors[v].name, len, b.len, rc, err.message);
                bad++;
            }
        }
        WB_CHECK_INT_EQ(bad, 0);
    }
}

static void test_trailing_garbage(void)
{
    for (size_t v = 0; v < NVECTORS; v++) {
        bb b = build(vectors[v].build);
        wb_pgoutput_msg m;

        put_u8(&b, 0);
        WB_CHECK_INT_EQ(decode(&b, vectors[v].in_stream, &m), WB_EPROTO);
        WB_CHECK_INT_EQ(err.code, WB_EPROTO);
        /* A v2 abort plus bytes reads as a truncated v4 tail. */
        if (vectors[v].build != v_stream_abort_v2)
            WB_CHECK_STR_CONTAINS(err.message, "1 trailing bytes at offset");
    }

    bb b = build(v_commit);
    wb_pgoutput_msg m;
    put_bytes(&b, "xyz", 3);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Commit message: 3 "
                                 "trailing bytes at offset 26");
    b = build(v_stream_stop);
    put_u8(&b, 'x');
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Stream Stop message: 1 "
                                 "trailing bytes at offset 1");
}

static void test_unknown_type(void)
{
    wb_pgoutput_msg m;
    bb b = {.len = 0};

    put_u8(&b, 'Z');
    put_u32(&b, 1);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "unknown pgoutput message type \"Z\"");

    b.buf[0] = 0;
    WB_CHECK_INT_EQ(decode(&b, true, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "unknown pgoutput message type 0x00");

    /* Two-phase messages are decoded: 5 bytes are a truncated one. */
    b.buf[0] = 'b';
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Begin Prepare message: "
                                 "truncated prepare_lsn: need 8 bytes, 4 "
                                 "remain at offset 1");

    WB_CHECK_INT_EQ(decode_n(&b, 0, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "empty pgoutput message");

    /* A NULL error report is allowed. */
    WB_CHECK_INT_EQ(wb_pgoutput_decode("Z", 1, false, arena, &m, NULL),
                    WB_EPROTO);
}

static void test_unknown_tuple_kind(void)
{
    wb_pgoutput_msg m;
    bb b = {.len = 0};

    put_u8(&b, 'I');
    put_u32(&b, 1);
    put_u8(&b, 'N');
    put_u16(&b, 2);
    put_null(&b);
    put_u8(&b, 'x');
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Insert message: tuple "
                                 "column 2 has unknown kind \"x\" at offset 9");
}

static void test_unterminated_string(void)
{
    wb_pgoutput_msg m;
    bb b = {.len = 0};

    put_u8(&b, 'Y');
    put_u32(&b, 16390);
    put_str(&b, "public");
    put_bytes(&b, "mood", 4); /* no NUL */
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Type message: "
                                 "unterminated string type name at offset 12");
}

/* The example from the design: which column, how long, how much is left. */
static void test_column_length_message(void)
{
    wb_pgoutput_msg m;
    bb b = {.len = 0};

    put_u8(&b, 'I');
    put_u32(&b, 16385);
    put_u8(&b, 'N');
    put_u16(&b, 3);
    put_text(&b, "ab");
    put_null(&b);
    put_u8(&b, 't');
    put_u32(&b, 900);
    put_bytes(&b, "only twelve!", 12);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_EQ(err.message,
                    "invalid pgoutput Insert message: tuple column 3 length "
                    "900 exceeds remaining 12 bytes at offset 21");
}

/*
 * Length and count fields that promise far more than the message holds must
 * fail as protocol errors before anything is allocated from them: the arena
 * limit is small, so trying to allocate would show up as WB_ENOMEM.
 */
static void test_huge_lengths(void)
{
    wb_arena *small = wb_arena_create(4096, 64 * 1024);
    wb_pgoutput_msg m;
    bb b;
    int rc;

    /* 't' of 0x7fffffff bytes with 5 present. */
    b.len = 0;
    put_u8(&b, 'I');
    put_u32(&b, 1);
    put_u8(&b, 'N');
    put_u16(&b, 1);
    put_u8(&b, 't');
    put_u32(&b, 0x7fffffffu);
    put_bytes(&b, "hello", 5);
    wb_error_clear(&err);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "length 2147483647 exceeds remaining "
                                       "5 bytes");
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);

    /* The same for 0xffffffff, which is negative as an Int32. */
    b.buf[9] = 0xff;
    wb_arena_reset(small);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);

    /* 'b' with a huge length. */
    b.buf[8] = 'b';
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);

    /* Message content length. */
    b.len = 0;
    put_u8(&b, 'M');
    put_u8(&b, 1);
    put_u64(&b, 1);
    put_str(&b, "p");
    put_u32(&b, 0xfffffff0u);
    put_bytes(&b, "abc", 3);
    wb_arena_reset(small);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "invalid pgoutput Message message: "
                                       "content length 4294967280 exceeds "
                                       "remaining 3 bytes at offset 16");
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);

    /* Truncate with 2^32-1 relids. */
    b.len = 0;
    put_u8(&b, 'T');
    put_u32(&b, 0xffffffffu);
    put_u8(&b, 0);
    put_u32(&b, 16385);
    wb_arena_reset(small);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "4294967295 relids");
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);

    /* Relation claiming 65535 columns. */
    b.len = 0;
    put_u8(&b, 'R');
    put_u32(&b, 1);
    put_str(&b, "s");
    put_str(&b, "t");
    put_u8(&b, 'd');
    put_u16(&b, 65535);
    put_u8(&b, 1);
    put_str(&b, "id");
    put_u32(&b, 23);
    put_u32(&b, 0xffffffffu);
    wb_arena_reset(small);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "relation has 65535 columns");
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);

    /* Tuple claiming 65535 columns. */
    b.len = 0;
    put_u8(&b, 'I');
    put_u32(&b, 1);
    put_u8(&b, 'N');
    put_u16(&b, 65535);
    put_null(&b);
    put_null(&b);
    wb_arena_reset(small);
    rc = wb_pgoutput_decode((const char *)b.buf, b.len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_EPROTO);
    WB_CHECK_STR_EQ(err.message, "invalid pgoutput Insert message: new tuple "
                                 "has 65535 columns but only 2 bytes remain "
                                 "at offset 8");
    WB_CHECK_INT_EQ(wb_arena_footprint(small), 4096);
    wb_arena_destroy(small);
}

static void test_ncols_larger_than_data(void)
{
    wb_pgoutput_msg m;
    bb b = {.len = 0};

    /* 3 columns announced, 2 present: plausible count, data runs out. */
    put_u8(&b, 'D');
    put_u32(&b, 16385);
    put_u8(&b, 'K');
    put_u16(&b, 3);
    put_text(&b, "1");
    put_null(&b);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message, "invalid pgoutput Delete message");

    /* Old tuple of an Update with more columns than bytes. */
    b.len = 0;
    put_u8(&b, 'U');
    put_u32(&b, 16385);
    put_u8(&b, 'O');
    put_u16(&b, 10);
    put_null(&b);
    put_u8(&b, 'N');
    put_u16(&b, 1);
    put_null(&b);
    WB_CHECK_INT_EQ(decode(&b, false, &m), WB_EPROTO);
    WB_CHECK_STR_CONTAINS(err.message,
                          "old tuple has 10 columns but only 5 bytes remain");
}

/* A value that is really present but exceeds the arena: out of memory. */
static void test_arena_exhausted(void)
{
    wb_arena *small = wb_arena_create(1024, 4096);
    bb big; /* only the header; the value is appended in msg below */
    wb_pgoutput_msg m;
    char *payload;
    char *msg;
    size_t n = 8000, len;
    int rc;

    big.len = 0;
    put_u8(&big, 'I');
    put_u32(&big, 1);
    put_u8(&big, 'N');
    put_u16(&big, 1);
    put_u8(&big, 't');
    put_u32(&big, (uint32_t)n);
    len = big.len + n;
    msg = malloc(len);
    payload = msg + big.len;
    memcpy(msg, big.buf, big.len);
    memset(payload, 'v', n);
    wb_error_clear(&err);
    rc = wb_pgoutput_decode(msg, len, false, small, &m, &err);
    WB_CHECK_INT_EQ(rc, WB_ENOMEM);
    WB_CHECK_INT_EQ(err.code, WB_ENOMEM);
    WB_CHECK_STR_CONTAINS(err.message, "Insert");

    /* With a large enough arena the same bytes decode. */
    wb_arena_reset(arena);
    rc = wb_pgoutput_decode(msg, len, false, arena, &m, &err);
    WB_CHECK_INT_EQ(rc, 0);
    WB_CHECK_INT_EQ(m.u.insert.newtup.cols[0].len, n);
    WB_CHECK_INT_EQ(m.u.insert.newtup.cols[0].data[n - 1], 'v');
    WB_CHECK_INT_EQ(m.u.insert.newtup.cols[0].data[n], 0);
    WB_CHECK(m.u.insert.newtup.cols[0].data != payload); /* a copy */
    free(msg);
    wb_arena_destroy(small);
}

static void test_msgtype_name(void)
{
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('B'), "Begin");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('C'), "Commit");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('O'), "Origin");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('R'), "Relation");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('Y'), "Type");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('I'), "Insert");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('U'), "Update");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('D'), "Delete");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('T'), "Truncate");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('M'), "Message");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('S'), "Stream Start");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('E'), "Stream Stop");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('c'), "Stream Commit");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('A'), "Stream Abort");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('b'), "Begin Prepare");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('P'), "Prepare");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('K'), "Commit Prepared");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('r'), "Rollback Prepared");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('p'), "Stream Prepare");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name(WB_PGO_BEGIN_PREPARE),
                    "Begin Prepare");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name(WB_PGO_STREAM_PREPARE),
                    "Stream Prepare");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('Z'), "unknown");
    WB_CHECK_STR_EQ(wb_pgoutput_msgtype_name('\0'), "unknown");
}

int main(void)
{
    arena = wb_arena_create(0, 0);
    if (!arena)
        return 2;
    WB_RUN(test_begin_commit);
    WB_RUN(test_origin);
    WB_RUN(test_relation);
    WB_RUN(test_type);
    WB_RUN(test_insert);
    WB_RUN(test_insert_binary);
    WB_RUN(test_update);
    WB_RUN(test_delete);
    WB_RUN(test_truncate);
    WB_RUN(test_message);
    WB_RUN(test_streamed_changes);
    WB_RUN(test_stream_control);
    WB_RUN(test_two_phase);
    WB_RUN(test_recorded_pg15);
    WB_RUN(test_recorded_origin);
    WB_RUN(test_recorded_prefixes_and_trailing);
    WB_RUN(test_recorded_pg15_2pc);
    WB_RUN(test_recorded_2pc_prefixes_and_trailing);
    WB_RUN(test_every_prefix_fails);
    WB_RUN(test_trailing_garbage);
    WB_RUN(test_unknown_type);
    WB_RUN(test_unknown_tuple_kind);
    WB_RUN(test_unterminated_string);
    WB_RUN(test_column_length_message);
    WB_RUN(test_huge_lengths);
    WB_RUN(test_ncols_larger_than_data);
    WB_RUN(test_arena_exhausted);
    WB_RUN(test_msgtype_name);
    wb_arena_destroy(arena);
    return wbtest_summary();
}
