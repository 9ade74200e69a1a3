/*
 * source/spool.c - per-transaction spool files for streamed transactions.
 *
 * Record format: Int32 length (host order, the file never leaves the
 * process) followed by the raw pgoutput message.  A subtransaction abort
 * truncates the file at the offset where that subtransaction's first
 * message was written: later subtransactions of the same top-level
 * transaction started after it, so they are cut too, which is what an
 * abort of a parent subtransaction means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/spool.h"

#define MAX_RECORD ((size_t)1100 * 1024 * 1024)

typedef struct subxact {
    uint32_t subxid;
    long offset;
} subxact;

typedef struct spool_txn {
    uint32_t xid;
    FILE *f;
    bool flag;
    subxact *subs;
    size_t nsubs, capsubs;
} spool_txn;

struct wb_spool {
    char dir[512];
    spool_txn *txns;
    size_t ntxns, max_open;
    char *buf;
    size_t bufcap;
};

wb_spool *wb_spool_create(const char *dir, size_t max_open, wb_error *err)
{
    wb_spool *sp = calloc(1, sizeof(*sp));
    if (!sp ||
        !(sp->txns = calloc(max_open ? max_open : 1, sizeof(spool_txn)))) {
        free(sp);
        wb_error_set(err, WB_ENOMEM, "out of memory");
        return NULL;
    }
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    snprintf(sp->dir, sizeof(sp->dir), "%s", dir && *dir ? dir : "/tmp");
    sp->max_open = max_open ? max_open : 1;
    return sp;
}

static void drop(wb_spool *sp, size_t i)
{
    if (sp->txns[i].f)
        fclose(sp->txns[i].f);
    free(sp->txns[i].subs);
    sp->txns[i] = sp->txns[--sp->ntxns];
    memset(&sp->txns[sp->ntxns], 0, sizeof(spool_txn));
}

void wb_spool_clear(wb_spool *sp)
{
    while (sp && sp->ntxns)
        drop(sp, 0);
}

void wb_spool_destroy(wb_spool *sp)
{
    if (!sp)
        return;
    wb_spool_clear(sp);
    free(sp->txns);
    free(sp->buf);
    free(sp);
}

size_t wb_spool_open_count(const wb_spool *sp)
{
    return sp->ntxns;
}

static spool_txn *find(wb_spool *sp, uint32_t xid, size_t *idx)
{
    for (size_t i = 0; i < sp->ntxns; i++)
        if (sp->txns[i].xid == xid) {
            if (idx)
                *idx = i;
            return &sp->txns[i];
        }
    return NULL;
}

static spool_txn *get(wb_spool *sp, uint32_t xid, wb_error *err)
{
    spool_txn *t = find(sp, xid, NULL);
    if (t)
        return t;
    if (sp->ntxns == sp->max_open) {
        wb_error_set(err, WB_ELIMIT,
                     "more than %zu streamed transactions in progress",
                     sp->max_open);
        return NULL;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/walbridge-stream-%u-XXXXXX", sp->dir, xid);
    int fd = mkstemp(path);
    if (fd < 0) {
        wb_error_set(err, WB_EIO, "could not create spool file in \"%s\": %s",
                     sp->dir, strerror(errno));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        close(fd);
        wb_error_set(err, WB_EIO, "could not open spool file: %s",
                     strerror(errno));
        return NULL;
    }
    t = &sp->txns[sp->ntxns++];
    memset(t, 0, sizeof(*t));
    t->xid = xid;
    t->f = f;
    return t;
}

int wb_spool_append(wb_spool *sp, uint32_t xid, uint32_t subxid,
                    const char *msg, size_t len, wb_error *err)
{
    spool_txn *t = get(sp, xid, err);
    if (!t)
        return err ? err->code : WB_EIO;
    if (len > MAX_RECORD)
        return wb_error_set(err, WB_ELIMIT, "streamed message too large");
    if (fseek(t->f, 0, SEEK_END) != 0)
        return wb_error_set(err, WB_EIO, "could not seek spool file: %s",
                            strerror(errno));
    if (subxid != xid &&
        (t->nsubs == 0 || t->subs[t->nsubs - 1].subxid != subxid)) {
        bool seen = false;
        for (size_t i = 0; i < t->nsubs && !seen; i++)
            seen = t->subs[i].subxid == subxid;
        if (!seen) {
            if (t->nsubs == t->capsubs) {
                size_t cap = t->capsubs ? t->capsubs * 2 : 16;
                subxact *n = realloc(t->subs, cap * sizeof(*n));
                if (!n)
                    return wb_error_set(err, WB_ENOMEM, "out of memory");
                t->subs = n;
                t->capsubs = cap;
            }
            t->subs[t->nsubs++] = (subxact){subxid, ftell(t->f)};
        }
    }
    uint32_t n = (uint32_t)len;
    if (fwrite(&n, sizeof(n), 1, t->f) != 1 ||
        (len && fwrite(msg, len, 1, t->f) != 1))
        return wb_error_set(err, WB_EIO, "could not write spool file: %s",
                            strerror(errno));
    return 0;
}

int wb_spool_set_flag(wb_spool *sp, uint32_t xid, bool flag, wb_error *err)
{
    spool_txn *t = get(sp, xid, err);
    if (!t)
        return err ? err->code : WB_EIO;
    t->flag = flag;
    return 0;
}

bool wb_spool_is_flagged(const wb_spool *sp, uint32_t xid)
{
    for (size_t i = 0; i < sp->ntxns; i++)
        if (sp->txns[i].xid == xid)
            return sp->txns[i].flag;
    return false;
}

int wb_spool_abort(wb_spool *sp, uint32_t xid, uint32_t subxid, wb_error *err)
{
    size_t idx;
    spool_txn *t = find(sp, xid, &idx);
    if (!t)
        return 0;
    if (subxid == xid) {
        drop(sp, idx);
        return 0;
    }
    for (size_t i = 0; i < t->nsubs; i++) {
        if (t->subs[i].subxid != subxid)
            continue;
        if (fflush(t->f) != 0 || ftruncate(fileno(t->f), t->subs[i].offset))
            return wb_error_set(err, WB_EIO,
                                "could not truncate spool file: %s",
                                strerror(errno));
        t->nsubs = i;
        return 0;
    }
    return 0; /* the subtransaction wrote nothing */
}

int wb_spool_replay(wb_spool *sp, uint32_t xid, wb_spool_cb cb, void *ud,
                    bool *flag, wb_error *err)
{
    size_t idx;
    int rc = 0;
    spool_txn *t = find(sp, xid, &idx);
    struct stat st;
    off_t left; /* bytes of the file not read yet */

    if (flag)
        *flag = t ? t->flag : false;
    if (!t)
        return 0;
    if (fflush(t->f) != 0 || fseek(t->f, 0, SEEK_SET) != 0 ||
        fstat(fileno(t->f), &st) != 0) {
        rc = wb_error_set(err, WB_EIO, "could not rewind spool file: %s",
                          strerror(errno));
        goto out;
    }
    left = st.st_size;
    for (;;) {
        uint32_t n;
        if (fread(&n, sizeof(n), 1, t->f) != 1) {
            if (ferror(t->f))
                rc = wb_error_set(err, WB_EIO, "could not read spool file");
            break;
        }
        left -= (off_t)sizeof(n);
        /* A length beyond the end of the file (a damaged file) must not
         * size an allocation. */
        if ((off_t)n > left) {
            rc = wb_error_set(err, WB_EIO, "spool file truncated");
            break;
        }
        left -= (off_t)n;
        if (n > sp->bufcap) {
            char *b = realloc(sp->buf, n);
            if (!b) {
                rc = wb_error_set(err, WB_ENOMEM, "out of memory");
                break;
            }
            sp->buf = b;
            sp->bufcap = n;
        }
        if (n && fread(sp->buf, n, 1, t->f) != 1) {
            rc = wb_error_set(err, WB_EIO, "spool file truncated");
            break;
        }
        if ((rc = cb(ud, sp->buf, n)) != 0)
            break;
    }
out:
    drop(sp, idx);
    /* The largest record's buffer is not kept beyond the replay. */
    if (sp->bufcap > (size_t)1 << 20) {
        free(sp->buf);
        sp->buf = NULL;
        sp->bufcap = 0;
    }
    return rc;
}
