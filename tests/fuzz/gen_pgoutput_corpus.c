/*
 * gen_pgoutput_corpus.c - write the seed corpus of fuzz_pgoutput.
 *
 *   cc -std=c11 -o gen tests/fuzz/gen_pgoutput_corpus.c
 *   ./gen tests/fuzz/corpus/pgoutput
 *
 * (or build the gen_pgoutput_corpus target of a -DWB_FUZZ=ON build).  The
 * output is deterministic, so the committed corpus can be regenerated and
 * diffed.  Standalone on purpose: no walbridge headers, no libraries.
 *
 * Every corpus file is what fuzz_pgoutput reads: a sequence of frames, each
 * a 4-byte big-endian length followed by that many bytes of one CopyData
 * message.  The messages are XLogData ('w', 25-byte header, then exactly one
 * pgoutput message) and primary keepalives ('k'), laid out as documented in
 * lib/decode/pgoutput.c and lib/source/copydata.c; the values mirror
 * tests/unit/test_pgoutput.c.  Files are kept well under 4 KiB.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- byte builder ---------------------------------------------------- */

typedef struct bb {
    unsigned char buf[4096];
    size_t len;
} bb;

static void put_bytes(bb *b, const void *p, size_t n)
{
    if (b->len + n > sizeof(b->buf)) {
        fprintf(stderr, "gen_pgoutput_corpus: byte builder overflow\n");
        exit(1);
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
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static void put_str(bb *b, const char *s)
{
    put_bytes(b, s, strlen(s) + 1);
}

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

/* ---- framing ---------------------------------------------------------- */

#define LSN1 UINT64_C(0x00000016B374D848)
#define LSN2 UINT64_C(0x00000016B374D8F0)
#define TS1  INT64_C(775000123456789) /* 2024-07-24 in PG-epoch us */

/* The corpus file being built. */
static bb file;
static uint64_t wal_pos = LSN1;

/* One frame: length prefix, then the CopyData bytes. */
static void frame(const bb *copydata)
{
    put_u32(&file, (uint32_t)copydata->len);
    put_bytes(&file, copydata->buf, copydata->len);
}

/* XLogData carrying one pgoutput message. */
static void xlogdata(const bb *payload)
{
    bb m = {{0}, 0};
    put_u8(&m, 'w');
    put_u64(&m, wal_pos);
    put_u64(&m, wal_pos + payload->len);
    put_u64(&m, (uint64_t)TS1);
    put_bytes(&m, payload->buf, payload->len);
    wal_pos += 0x40;
    frame(&m);
}

static void keepalive(uint64_t wal_end, int reply)
{
    bb m = {{0}, 0};
    put_u8(&m, 'k');
    put_u64(&m, wal_end);
    put_u64(&m, (uint64_t)TS1 + 1000);
    put_u8(&m, (uint8_t)reply);
    frame(&m);
}

static const char *outdir;
static int nfiles;

static void write_file(const char *name)
{
    char path[4096];
    FILE *f;

    if (file.len > 4096) {
        fprintf(stderr, "gen_pgoutput_corpus: %s is %zu bytes (> 4 KiB)\n",
                name, file.len);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(file.buf, 1, file.len, f) != file.len || fclose(f) != 0) {
        fprintf(stderr, "gen_pgoutput_corpus: cannot write %s: %s\n", path,
                strerror(errno));
        exit(1);
    }
    nfiles++;
    file.len = 0;
    wal_pos = LSN1;
}

/* ---- pgoutput messages (see lib/decode/pgoutput.c for the layouts)
 * ------------ */

#define STREAM_XID 7777u
#define SUBXID     7781u

/* [xid] prefix of R, Y, I, U, D, T and M inside a streamed block. */
static void put_xid(bb *b, int in_stream)
{
    if (in_stream)
        put_u32(b, SUBXID);
}

static void m_begin(uint32_t xid)
{
    bb b = {{0}, 0};
    put_u8(&b, 'B');
    put_u64(&b, LSN2);
    put_u64(&b, (uint64_t)TS1);
    put_u32(&b, xid);
    xlogdata(&b);
}

static void m_commit(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'C');
    put_u8(&b, 0);
    put_u64(&b, LSN1);
    put_u64(&b, LSN2);
    put_u64(&b, (uint64_t)TS1);
    xlogdata(&b);
}

static void m_origin(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'O');
    put_u64(&b, UINT64_C(0x0000000100000028));
    put_str(&b, "pg_16401");
    xlogdata(&b);
}

/* Relation 16385 sales."order \"items\"" (id int8 key, line_no int4 key,
 * précis numeric(12,2)); replident 'i'. */
static void m_relation(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'R');
    put_xid(&b, in_stream);
    put_u32(&b, 16385);
    put_str(&b, "sales");
    put_str(&b, "order \"items\"");
    put_u8(&b, 'i');
    put_u16(&b, 3);
    put_u8(&b, 1);
    put_str(&b, "id");
    put_u32(&b, 20);
    put_u32(&b, 0xffffffffu);
    put_u8(&b, 1);
    put_str(&b, "line_no");
    put_u32(&b, 23);
    put_u32(&b, 0xffffffffu);
    put_u8(&b, 0);
    put_str(&b, "pr\xc3\xa9"
                "cis");
    put_u32(&b, 1700);
    put_u32(&b, (12 << 16 | 2) + 4);
    xlogdata(&b);
}

/* A second relation with the given replica identity and two columns. */
static void m_relation2(uint32_t relid, char replident, const char *nsp,
                        const char *rel)
{
    bb b = {{0}, 0};
    put_u8(&b, 'R');
    put_u32(&b, relid);
    put_str(&b, nsp);
    put_str(&b, rel);
    put_u8(&b, (uint8_t)replident);
    put_u16(&b, 2);
    put_u8(&b, 1);
    put_str(&b, "id");
    put_u32(&b, 23);
    put_u32(&b, 0xffffffffu);
    put_u8(&b, 0);
    put_str(&b, "note");
    put_u32(&b, 25);
    put_u32(&b, 0xffffffffu);
    xlogdata(&b);
}

/* Small relation relid s.t<relid> (c int4 key). */
static void m_relation_small(uint32_t relid)
{
    char name[32];
    bb b = {{0}, 0};
    snprintf(name, sizeof(name), "t%u", (unsigned)relid);
    put_u8(&b, 'R');
    put_u32(&b, relid);
    put_str(&b, "s");
    put_str(&b, name);
    put_u8(&b, 'd');
    put_u16(&b, 1);
    put_u8(&b, 1);
    put_str(&b, "c");
    put_u32(&b, 23);
    put_u32(&b, 0xffffffffu);
    xlogdata(&b);
}

static void m_insert_one(uint32_t relid, const char *v)
{
    bb b = {{0}, 0};
    put_u8(&b, 'I');
    put_u32(&b, relid);
    put_u8(&b, 'N');
    put_u16(&b, 1);
    put_text(&b, v);
    xlogdata(&b);
}

/* Relation with no columns (CREATE TABLE t ()). */
static void m_relation_empty(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'R');
    put_u32(&b, 16400);
    put_str(&b, "");
    put_str(&b, "empty");
    put_u8(&b, 'n');
    put_u16(&b, 0);
    xlogdata(&b);
}

static void m_type(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'Y');
    put_xid(&b, in_stream);
    put_u32(&b, 16390);
    put_str(&b, in_stream ? "" : "public");
    put_str(&b, "mood");
    xlogdata(&b);
}

static void m_insert(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'I');
    put_xid(&b, in_stream);
    put_u32(&b, 16385);
    put_u8(&b, 'N');
    put_u16(&b, 7);
    put_text(&b, "42");
    put_null(&b);
    put_unchanged(&b);
    put_text(&b, "O'Brien said \"hi\"; \\ back\tslash");
    put_text(&b, "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac "
                 "\xf0\x9f\x98\x80");
    put_text(&b, "\x01\x02\x7f\x80\xfe\xff\r\n");
    put_text(&b, "");
    xlogdata(&b);
}

static void m_insert_row(uint32_t relid, const char *id, const char *note)
{
    bb b = {{0}, 0};
    put_u8(&b, 'I');
    put_u32(&b, relid);
    put_u8(&b, 'N');
    put_u16(&b, 2);
    put_text(&b, id);
    if (note)
        put_text(&b, note);
    else
        put_null(&b);
    xlogdata(&b);
}

static void m_insert_binary(void)
{
    static const unsigned char val[] = {0x00, 0x00, 0x00, 0x2a, 0x00, 0xff};
    bb b = {{0}, 0};
    put_u8(&b, 'I');
    put_u32(&b, 16386);
    put_u8(&b, 'N');
    put_u16(&b, 2);
    put_binary(&b, val, sizeof(val));
    put_binary(&b, "", 0);
    xlogdata(&b);
}

/* Update with the key of the old row ('K'). */
static void m_update_key(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'U');
    put_xid(&b, in_stream);
    put_u32(&b, 16385);
    put_u8(&b, 'K');
    put_u16(&b, 3);
    put_text(&b, "1");
    put_null(&b);
    put_null(&b);
    put_u8(&b, 'N');
    put_u16(&b, 3);
    put_text(&b, "2");
    put_text(&b, "x");
    put_unchanged(&b);
    xlogdata(&b);
}

/* Update with the full old row ('O', REPLICA IDENTITY FULL). */
static void m_update_old(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'U');
    put_u32(&b, 16387);
    put_u8(&b, 'O');
    put_u16(&b, 2);
    put_text(&b, "7");
    put_text(&b, "before");
    put_u8(&b, 'N');
    put_u16(&b, 2);
    put_text(&b, "7");
    put_text(&b, "after");
    xlogdata(&b);
}

/* Update without an old tuple (key unchanged). */
static void m_update_plain(uint32_t relid)
{
    bb b = {{0}, 0};
    put_u8(&b, 'U');
    put_u32(&b, relid);
    put_u8(&b, 'N');
    put_u16(&b, 2);
    put_text(&b, "5");
    put_null(&b);
    xlogdata(&b);
}

static void m_delete_key(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'D');
    put_xid(&b, in_stream);
    put_u32(&b, 16385);
    put_u8(&b, 'K');
    put_u16(&b, 3);
    put_text(&b, "99");
    put_null(&b);
    put_null(&b);
    xlogdata(&b);
}

static void m_delete_old(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'D');
    put_u32(&b, 16387);
    put_u8(&b, 'O');
    put_u16(&b, 2);
    put_text(&b, "7");
    put_text(&b, "gone");
    xlogdata(&b);
}

static void m_truncate(int in_stream)
{
    bb b = {{0}, 0};
    put_u8(&b, 'T');
    put_xid(&b, in_stream);
    put_u32(&b, 2);
    put_u8(&b, 1 | 2); /* cascade, restart identity */
    put_u32(&b, 16385);
    put_u32(&b, 16999);
    xlogdata(&b);
}

static void m_message(int in_stream, uint8_t flags)
{
    bb b = {{0}, 0};
    put_u8(&b, 'M');
    put_xid(&b, in_stream);
    put_u8(&b, flags);
    put_u64(&b, LSN1);
    put_str(&b, "walbridge.test");
    put_u32(&b, 7);
    put_bytes(&b, "ab\0cd\"e", 7);
    xlogdata(&b);
}

static void m_stream_start(uint8_t first)
{
    bb b = {{0}, 0};
    put_u8(&b, 'S');
    put_u32(&b, STREAM_XID);
    put_u8(&b, first);
    xlogdata(&b);
}

static void m_stream_stop(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'E');
    xlogdata(&b);
}

static void m_stream_commit(void)
{
    bb b = {{0}, 0};
    put_u8(&b, 'c');
    put_u32(&b, STREAM_XID);
    put_u8(&b, 0);
    put_u64(&b, LSN1);
    put_u64(&b, LSN2);
    put_u64(&b, (uint64_t)TS1);
    xlogdata(&b);
}

/* Stream Abort: v2 layout, or v4 (streaming=parallel) with lsn and time. */
static void m_stream_abort(uint32_t subxid, int v4)
{
    bb b = {{0}, 0};
    put_u8(&b, 'A');
    put_u32(&b, STREAM_XID);
    put_u32(&b, subxid);
    if (v4) {
        put_u64(&b, LSN2);
        put_u64(&b, (uint64_t)TS1);
    }
    xlogdata(&b);
}

/* ---- the corpus ---------------------------------------------------------- */

/* mkdir -p */
static void make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path)) {
        fprintf(stderr, "gen_pgoutput_corpus: bad directory name\n");
        exit(1);
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "gen_pgoutput_corpus: cannot create %s: %s\n", path,
                    strerror(errno));
            exit(1);
        }
        path[i] = dir[i];
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    make_dirs(outdir);

    /* One message of each type on its own (plus its Relation where the
     * message refers to one, so the relcache lookup hits). */
    m_begin(4000000001u);
    write_file("begin");
    m_commit();
    write_file("commit");
    m_origin();
    write_file("origin");
    m_relation(0);
    write_file("relation");
    m_relation_empty();
    write_file("relation_no_columns");
    m_type(0);
    write_file("type");
    m_relation(0);
    m_insert(0);
    write_file("insert_text");
    m_relation2(16386, 'd', "public", "blobs");
    m_insert_binary();
    write_file("insert_binary");
    m_relation(0);
    m_update_key(0);
    write_file("update_key");
    m_relation2(16387, 'f', "portal", "Notes");
    m_update_old();
    write_file("update_old");
    m_relation2(16385, 'd', "public", "users");
    m_update_plain(16385);
    write_file("update_plain");
    m_relation(0);
    m_delete_key(0);
    write_file("delete_key");
    m_relation2(16387, 'f', "portal", "Notes");
    m_delete_old();
    write_file("delete_old");
    m_truncate(0);
    write_file("truncate");
    m_message(0, 1);
    write_file("message_transactional");
    m_message(0, 0);
    write_file("message_plain");
    keepalive(LSN2, 0);
    keepalive(LSN2 + 8, 1);
    write_file("keepalive");

    /* A whole transaction, as a walsender sends it. */
    keepalive(LSN1, 0);
    m_begin(1001);
    m_origin();
    m_relation(0);
    m_type(0);
    m_insert(0);
    m_update_key(0);
    m_delete_key(0);
    m_commit();
    keepalive(LSN2, 1);
    write_file("txn_full");

    /* ALTER TABLE mid-stream: the relation is replaced, then used. */
    m_begin(1002);
    m_relation2(16385, 'd', "public", "users");
    m_insert_row(16385, "1", "first");
    m_relation(0);
    m_insert(0);
    m_relation2(16388, 'n', "salesforce", "account");
    m_insert_row(16388, "2", NULL);
    m_update_plain(16388);
    m_truncate(0);
    m_commit();
    write_file("txn_relation_replaced");

    /* Enough relations to make the relation cache grow (64 slots at 3/4
     * load), one of them replaced afterwards, and rows for some. */
    for (uint32_t r = 0; r < 55; r++)
        m_relation_small(20000 + r * 7);
    m_insert_one(20000, "1");
    m_relation2(20000 + 54 * 7, 'f', "s", "replaced");
    m_insert_one(20000 + 30 * 7, "2");
    m_update_plain(20000 + 54 * 7);
    write_file("relcache_grow");

    /* Streamed transaction: every type that carries a subxact xid. */
    m_stream_start(1);
    m_relation(1);
    m_type(1);
    m_insert(1);
    m_update_key(1);
    m_delete_key(1);
    m_truncate(1);
    m_message(1, 1);
    m_stream_stop();
    m_stream_start(0);
    m_insert(1);
    m_stream_stop();
    m_stream_commit();
    write_file("stream_commit");

    /* Streamed subtransaction aborted (v2 layout) and whole transaction
     * aborted (v4 layout). */
    m_stream_start(1);
    m_relation(1);
    m_insert(1);
    m_stream_stop();
    m_stream_abort(SUBXID, 0);
    m_stream_abort(STREAM_XID, 1);
    write_file("stream_abort");

    /* The stream control messages alone. */
    m_stream_start(1);
    m_stream_stop();
    write_file("stream_start_stop");
    m_stream_abort(SUBXID, 0);
    write_file("stream_abort_v2");
    m_stream_abort(STREAM_XID, 1);
    write_file("stream_abort_v4");

    printf("wrote %d files to %s\n", nfiles, outdir);
    return 0;
}
