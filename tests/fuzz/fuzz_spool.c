/*
 * fuzz_spool.c - libFuzzer target for the spool of streamed transactions
 * (lib/source/spool.c): appends, subtransaction aborts, flags, replays, and raw
 * bytes written straight into a transaction's spool file.
 *
 * The input is a program of operations on a few transactions (top-level
 * xids 1000..1003, each with three possible subxids), run against the spool
 * and against a model of it kept here (the list of records each open
 * transaction holds).  A replay must hand back exactly the records the
 * model holds, in order, with the flag set; a subtransaction abort cuts the
 * records from that subtransaction's first one on (see source/spool.h).
 *
 * A "raw" operation appends arbitrary bytes, or replaces the whole file
 * with them, bypassing the record framing: the spool file is then
 * arbitrary bytes, and its replay must end cleanly (0, or WB_EIO with a
 * message), hand back only bytes that are in the file, drop the
 * transaction, and leak nothing.  This is why lib/source/spool.c is included
 * here rather than linked: the harness needs the transaction's FILE, and routes
 * the spool's allocations through a check that none is larger than what the
 * fuzz input could legitimately need (a length read from a corrupt file must
 * not become a gigabyte allocation).
 *
 * Operations (one byte each, then their operands; a missing operand byte
 * reads as 0):
 *   0 append  txn sub len16 bytes     3 replay   txn stop
 *   1 abort   txn sub                 4 raw      txn mode len16 bytes
 *   2 flag    txn on                  5 clear
 * The first byte of the input picks the spool: an odd byte, a directory
 * that does not exist (every new transaction fails with WB_EIO).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/spool.h"

/* Larger than any record or table a fuzz input can make. */
#define MAX_ALLOC ((size_t)1 << 20)

static void *checked_realloc(void *p, size_t n)
{
    if (n > MAX_ALLOC) {
        fprintf(stderr, "fuzz_spool: realloc of %zu bytes\n", n);
        abort();
    }
    return realloc(p, n);
}

/* The headers are in already, so only spool.c's own calls are renamed. */
#define realloc(p, n) checked_realloc(p, n)
#include "../../lib/source/spool.c"
#undef realloc

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_spool: invariant failed: %s (%s:%d)\n",      \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define NTXN      4
#define MAX_OPEN  3 /* < NTXN: the limit on open transactions is reached */
#define MAX_RECS  512
#define STOP_CODE (-77) /* what the replay callback returns to stop */

typedef struct rec {
    uint32_t subxid;
    const uint8_t *data; /* into the fuzz input */
    size_t len;
} rec;

typedef struct model_txn {
    bool open, flag, raw; /* raw: the file holds arbitrary bytes */
    size_t nrecs;
    rec recs[MAX_RECS];
} model_txn;

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static model_txn model[NTXN];

static uint8_t u8(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static size_t take(input *in, size_t want, const uint8_t **out)
{
    if (want > in->n)
        want = in->n;
    *out = in->p;
    in->p += want;
    in->n -= want;
    return want;
}

static uint32_t xid_of(int t)
{
    return 1000u + (uint32_t)t;
}

/* sel 0: the top-level transaction itself; else one of its subxids. */
static uint32_t subxid_of(int t, uint8_t sel)
{
    sel %= 4;
    return sel ? xid_of(t) + 10u * sel : xid_of(t);
}

static size_t open_in_model(void)
{
    size_t n = 0;
    for (int t = 0; t < NTXN; t++)
        n += model[t].open;
    return n;
}

static void model_drop(int t)
{
    memset(&model[t], 0, sizeof(model[t]));
}

static void check_error(const wb_error *err, int rc)
{
    CHECK(err->code == rc);
    CHECK(err->message[0] != '\0');
    CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
}

typedef struct replay_state {
    const model_txn *m; /* NULL: raw file, no expectation */
    size_t got, stop_at, bytes;
} replay_state;

static int replay_cb(void *ud, const char *msg, size_t len)
{
    replay_state *st = ud;
    volatile size_t sink = 0;

    if (len)
        CHECK(msg != NULL);
    /* Every byte handed out must be readable (ASan). */
    for (size_t i = 0; i < len; i++)
        sink += (unsigned char)msg[i];
    (void)sink;
    st->bytes += len;
    if (st->m) {
        CHECK(st->got < st->m->nrecs);
        CHECK(len == st->m->recs[st->got].len);
        if (len)
            CHECK(memcmp(msg, st->m->recs[st->got].data, len) == 0);
    }
    st->got++;
    return st->got == st->stop_at ? STOP_CODE : 0;
}

/* Size of the transaction's spool file, flushed. */
static long file_size(spool_txn *t)
{
    struct stat st;
    CHECK(fflush(t->f) == 0);
    CHECK(fstat(fileno(t->f), &st) == 0);
    return (long)st.st_size;
}

static void op_replay(wb_spool *sp, int t, uint8_t stop)
{
    uint32_t xid = xid_of(t);
    replay_state st = {model[t].raw ? NULL : &model[t], 0, stop % 8, 0};
    size_t before = wb_spool_open_count(sp);
    long fsize = -1;
    bool flag = !model[t].flag;
    wb_error err;
    int rc;

    if (model[t].open)
        fsize = file_size(find(sp, xid, NULL));
    wb_error_clear(&err);
    rc = wb_spool_replay(sp, xid, replay_cb, &st, &flag, &err);
    CHECK(flag == model[t].flag);
    if (!model[t].open) {
        CHECK(rc == 0 && st.got == 0);
    } else if (model[t].raw) {
        /* Arbitrary bytes: a clean end, and no byte that is not there.
         * No allocation may fail: every record fits in the small file. */
        if (rc == WB_EIO)
            check_error(&err, rc);
        else
            CHECK(rc == 0 || (rc == STOP_CODE && st.got == st.stop_at));
        CHECK(st.bytes + 4 * st.got <= (size_t)fsize);
    } else if (st.stop_at && st.stop_at <= model[t].nrecs) {
        CHECK(rc == STOP_CODE && st.got == st.stop_at);
    } else {
        CHECK(rc == 0 && st.got == model[t].nrecs);
    }
    /* Replayed or not, the transaction is gone. */
    CHECK(wb_spool_open_count(sp) == before - (model[t].open ? 1 : 0));
    CHECK(!wb_spool_is_flagged(sp, xid));
    CHECK(find(sp, xid, NULL) == NULL);
    model_drop(t);
}

/* A new transaction's file could not be made, or one too many is open. */
static void check_new_txn_failure(int rc, const wb_error *err, bool bad_dir)
{
    if (bad_dir) {
        CHECK(rc == WB_EIO);
    } else {
        CHECK(rc == WB_ELIMIT);
        CHECK(open_in_model() == MAX_OPEN);
    }
    check_error(err, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    bool bad_dir = u8(&in) & 1;
    wb_spool *sp;
    wb_error err;

    memset(model, 0, sizeof(model));
    wb_error_clear(&err);
    sp = wb_spool_create(bad_dir ? "/nonexistent/walbridge-fuzz" : NULL,
                         MAX_OPEN, &err);
    CHECK(sp != NULL);

    while (in.n) {
        uint8_t op = u8(&in) % 6;
        int t = u8(&in) % NTXN;
        uint32_t xid = xid_of(t);
        model_txn *m = &model[t];
        const uint8_t *bytes;
        size_t len;
        int rc;

        wb_error_clear(&err);
        switch (op) {
        case 0: { /* append */
            uint32_t sub = subxid_of(t, u8(&in));
            len = (size_t)u8(&in) << 8;
            len |= u8(&in);
            len = take(&in, len, &bytes);
            rc = wb_spool_append(sp, xid, sub, (const char *)bytes, len, &err);
            if (!m->open && rc) {
                check_new_txn_failure(rc, &err, bad_dir);
                break;
            }
            CHECK(rc == 0);
            m->open = true;
            if (m->nrecs < MAX_RECS)
                m->recs[m->nrecs++] = (rec){sub, bytes, len};
            else
                m->raw = true; /* more than the model keeps: no expectation */
            break;
        }
        case 1: { /* abort */
            uint32_t sub = subxid_of(t, u8(&in));
            rc = wb_spool_abort(sp, xid, sub, &err);
            CHECK(rc == 0);
            if (!m->open)
                break;
            if (sub == xid) {
                model_drop(t);
                CHECK(find(sp, xid, NULL) == NULL);
                break;
            }
            for (size_t i = 0; i < m->nrecs; i++)
                if (m->recs[i].subxid == sub) {
                    m->nrecs = i;
                    break;
                }
            break;
        }
        case 2: { /* flag */
            bool on = u8(&in) & 1;
            rc = wb_spool_set_flag(sp, xid, on, &err);
            if (!m->open && rc) {
                check_new_txn_failure(rc, &err, bad_dir);
                break;
            }
            CHECK(rc == 0);
            m->open = true;
            m->flag = on;
            CHECK(wb_spool_is_flagged(sp, xid) == on);
            break;
        }
        case 3: /* replay */
            op_replay(sp, t, u8(&in));
            break;
        case 4: { /* raw bytes into the file */
            bool replace = u8(&in) & 1;
            spool_txn *st = find(sp, xid, NULL);
            len = (size_t)u8(&in) << 8;
            len |= u8(&in);
            len = take(&in, len, &bytes);
            if (!st)
                break;
            CHECK(m->open);
            CHECK(fflush(st->f) == 0);
            if (replace)
                CHECK(ftruncate(fileno(st->f), 0) == 0);
            CHECK(fseek(st->f, 0, SEEK_END) == 0);
            if (len)
                CHECK(fwrite(bytes, len, 1, st->f) == 1);
            m->raw = true;
            break;
        }
        default: /* clear */
            wb_spool_clear(sp);
            CHECK(wb_spool_open_count(sp) == 0);
            memset(model, 0, sizeof(model));
            break;
        }
        CHECK(wb_spool_open_count(sp) == open_in_model());
        for (int k = 0; k < NTXN; k++)
            CHECK(wb_spool_is_flagged(sp, xid_of(k)) == model[k].flag);
    }

    /* Whatever is left must replay as the model says, then all is gone. */
    for (int t = 0; t < NTXN; t++)
        op_replay(sp, t, 0);
    CHECK(wb_spool_open_count(sp) == 0);
    wb_spool_destroy(sp);
    return 0;
}
