/*
 * resync.c - the online re-sync (see resync.h).
 *
 * One job per mapping, run one after the other; one chunk read while the
 * one before it is applied:
 *
 *   main thread                     thread pool (read_chunk)
 *   start_next ───────────────────► low watermark (non-transactional
 *                                   message), BEGIN REPEATABLE READ,
 *                                   COPY (... WHERE key > cursor ORDER BY
 *                                   key LIMIT n), COMMIT; rows decoded
 *   chunk_read ◄───────────────────
 *   high watermark (on the same connection: the rows are in memory before
 *   the stream can deliver it)
 *   stream: low watermark seen ─► every change of the table marks its keys
 *   stream: high watermark seen ─► the chunk goes to the pump, and the
 *   next one is read meanwhile
 *   pump (after each loop turn, between source transactions): unmarked
 *   rows routed 500 at a time, the stream's changes going between them and
 *   still marking keys; the sync state's advance with the last slice
 *
 * The thread pool's work touches only the chunk and its own connections;
 * everything it needs from the configuration is copied before it starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "decode/copyrow.h"
#include "decode/relcache.h"
#include "resync.h"
#include "source/tablecopy.h"
#include "syncstate.h"

#define CHUNK_ROWS     16000
#define CHUNK_MIN_ROWS 100
#define CHUNK_BYTES    ((size_t)4 * 1024 * 1024) /* in memory; two at once */
#define ROOM_WAIT_MS   (10 * 60 * 1000)
#define PROGRESS_EVERY 10000 /* ms between progress lines */

/* A key as bytes: per column its kind, length and value. */
typedef struct key {
    uint64_t hash;
    uint32_t len;
    const char *bytes;
} key;

/* A set of keys (open addressing; grows). */
typedef struct keyset {
    size_t n, cap;
    key *slots;
} keyset;

typedef struct row {
    wb_tuple tup;
    key k;
    int64_t commit_time; /* its last writer's, or 0: the chunk's read time */
} row;

/* One mapping being re-synced. */
typedef struct job {
    char *mapping;
    char *schema, *table; /* its source */
    char *cursor;         /* text[] literal of the last key stored, or NULL */
    char *started;        /* its sync state's started_at ("" unknown) */
    int64_t rows;         /* rows stored as read */
    int64_t dropped;      /* rows left to the stream (changed meanwhile) */
    bool by_commit_time;  /* its conflict policy weighs commit times */
    bool said_untracked;  /* ... and the source does not track them */
    bool described;
    wb_arena *arena; /* the table's description */
    wb_tablecopy_rel rel;
    uint64_t rel_version;
    /* the stream's relation version whose key positions are below */
    uint64_t stream_version;
    int stream_pos[32]; /* -1: a key column the stream's relation lacks */
    struct job *next;
} job;

enum {
    CHUNK_NONE = 0,
    CHUNK_READING,
    CHUNK_WAITING,
    CHUNK_EXPORT, /* a table without a key: export at the next boundary */
    CHUNK_BLOCKED /* ... exported: copy when the stream gets there */
};

/* A chunk past its high watermark, applied a slice at a time (pump)
 * while the next one is read: its rows, and the keys the stream changed
 * since they were read. */
typedef struct applying {
    bool on;
    bool void_chunk; /* a truncate or an unreadable key meanwhile */
    uint64_t no;
    wb_arena *arena; /* the rows' values */
    row *rows;
    size_t nrows, next; /* next: the first row not routed yet */
    long limit;         /* it was read with */
    size_t bytes;
    char *cursor; /* its last key (in arena); NULL: no rows */
    keyset marked;
    wb_arena *mark_arena;
    wb_lsn hw;
    int64_t read_time;
    /* The applier's marks after the last two slices: one slice waits at
     * the target while the other runs. */
    uint64_t slice_end[2];
} applying;

#define SETTLE_MS (60 * 1000)

#define PING_MS       100  /* a held loop offers the stream an answer */
#define EXPORT_SAY_MS 3000 /* a snapshot export this slow is logged */

struct wb_resync {
    uv_loop_t *loop;
    wb_resync_fail_fn fail;
    void (*ping)(void *ud);
    void *ud;
    char secret[33];
    wb_relcache *relcache; /* generations for the tables' descriptions */

    /* the session */
    wb_dispatch *d;
    wb_apply *a;
    bool binary;
    char *src_conninfo, *tgt_conninfo, *schema, *slot;
    wb_tablecopy *tc; /* the chunk reader's source connection */
    PGcancel *cancel; /* its cancel handle, for the main thread */
    PGconn *tgt;      /* the job finder's target connection */

    job *jobs; /* the first runs */
    bool refresh_wanted;
    /* Jobs finished in this session, "mapping\x1fstarted_at": until its
     * last batch commits, a refresh still reads the finished job's row as
     * copying, and must not start it again. */
    char **finished;
    size_t nfinished;

    /* the chunk of jobs (one at a time) */
    int state;
    bool in_pool;
    uv_work_t work;
    bool work_refresh; /* the pool's work is a refresh, not a chunk */
    uint64_t chunk_no;
    long limit;
    bool window;     /* its low watermark went by in the stream */
    bool void_chunk; /* a truncate or an unreadable key in its window */
    wb_lsn lw, hw;
    int64_t read_time;
    int64_t t_start, t_read; /* wb_clock_ms(): chunk started, read */
    wb_arena *chunk_arena;
    row *rows;
    size_t nrows, caprows;
    size_t bytes;
    char *read_cursor; /* the key it starts after (NULL: the first) */
    long read_limit;   /* its rows at most */
    bool hw_seen;      /* its high watermark went by while the one before it was
                          still being applied */
    char *last_cursor; /* in chunk_arena */
    keyset marked;
    wb_arena *mark_arena;
    /* The chunk's snapshot (pg_current_snapshot(), low 32 bits). */
    uint32_t snap_xmin, snap_xmax;
    uint32_t *snap_xip;
    size_t snap_nxip;
    /* Keys of the table changed by transactions the stream delivered,
     * with their xid, until a chunk's snapshot sees the transaction: a
     * commit written before a low watermark may still be invisible to
     * the chunk's snapshot (commit records come before visibility). */
    struct logged {
        uint32_t xid;
        key k;
    } * log;
    size_t nlog, caplog;
    wb_arena *log_arena;
    int rc;
    wb_error err;
    wb_sync_rows found; /* a refresh's result */

    applying ap;

    int64_t last_line_ms, started_ms;
    bool warned_forged;

    /* A table without a key, copied whole (CHUNK_BLOCKED): the snapshot
     * exported with a temporary slot whose consistent point is block_at;
     * the copy runs when the stream gets there, the stream waiting. */
    bool block_wanted; /* the pool found no key */
    PGconn *block_repl;
    char block_snapshot[64];
    wb_lsn block_at;
};

/* ----------------------------------------------------------------- keys */

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The key of values vals[0..n) (NULL entries: SQL NULL) in arena.  false
 * when out of memory. */
static bool make_key(wb_arena *arena, const wb_tuple_value *const *vals,
                     size_t n, key *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += 5 + (vals[i]->kind == 't' || vals[i]->kind == 'b' ? vals[i]->len
                                                                 : 0);
    char *p = wb_arena_alloc(arena, len ? len : 1);
    if (!p)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const wb_tuple_value *v = vals[i];
        uint32_t l = v->kind == 't' || v->kind == 'b' ? v->len : 0;
        p[o++] = v->kind == 'b' ? 't' : v->kind; /* one format per stream */
        memcpy(p + o, &l, 4);
        o += 4;
        if (l)
            memcpy(p + o, v->data, l);
        o += l;
    }
    out->bytes = p;
    out->len = (uint32_t)len;
    out->hash = fnv(p, len);
    return true;
}

static bool key_eq(const key *a, const key *b)
{
    return a->hash == b->hash && a->len == b->len &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

static bool keyset_has(const keyset *s, const key *k)
{
    if (!s->cap)
        return false;
    for (size_t i = k->hash & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i].bytes)
            return false;
        if (key_eq(&s->slots[i], k))
            return true;
    }
}

static bool keyset_add(keyset *s, const key *k)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        key *slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i].bytes)
                continue;
            size_t j = s->slots[i].hash & (cap - 1);
            while (slots[j].bytes)
                j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t i = k->hash & (s->cap - 1);
    while (s->slots[i].bytes) {
        if (key_eq(&s->slots[i], k))
            return true;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = *k;
    s->n++;
    return true;
}

static void keyset_clear(keyset *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

/* ----------------------------------------------------------- life cycle */

wb_resync *wb_resync_create(uv_loop_t *loop, wb_resync_fail_fn fail, void *ud,
                            wb_error *err)
{
    unsigned char raw[16];
    wb_resync *r = calloc(1, sizeof(*r));
    if (!r || !(r->relcache = wb_relcache_create())) {
        free(r);
        wb_error_set(err, WB_ENOMEM, "out of memory");
        return NULL;
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        wb_relcache_destroy(r->relcache);
        free(r);
        wb_error_set(err, WB_EIO, "could not make the watermarks' secret");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(r->secret + 2 * i, 3, "%02x", raw[i]);
    r->loop = loop;
    r->fail = fail;
    r->ud = ud;
    return r;
}

static void free_job(job *j)
{
    free(j->mapping);
    free(j->schema);
    free(j->table);
    free(j->cursor);
    free(j->started);
    wb_arena_destroy(j->arena);
    free(j);
}

static void forget_chunk(wb_resync *r)
{
    r->state = CHUNK_NONE;
    r->window = false;
    r->void_chunk = false;
    r->nrows = 0;
    r->bytes = 0;
    r->hw_seen = false;
    free(r->read_cursor);
    r->read_cursor = NULL;
    r->last_cursor = NULL;
    free(r->rows);
    r->rows = NULL;
    r->caprows = 0;
    wb_arena_destroy(r->chunk_arena);
    r->chunk_arena = NULL;
    keyset_clear(&r->marked);
    wb_arena_destroy(r->mark_arena);
    r->mark_arena = NULL;
    free(r->snap_xip);
    r->snap_xip = NULL;
    r->snap_nxip = 0;
}

static void forget_applying(wb_resync *r)
{
    free(r->ap.rows);
    wb_arena_destroy(r->ap.arena);
    keyset_clear(&r->ap.marked);
    wb_arena_destroy(r->ap.mark_arena);
    memset(&r->ap, 0, sizeof(r->ap));
}

static void clear_log(wb_resync *r)
{
    free(r->log);
    r->log = NULL;
    r->nlog = r->caplog = 0;
    wb_arena_destroy(r->log_arena);
    r->log_arena = NULL;
}

static void unblock(wb_resync *r)
{
    r->block_wanted = false;
    if (r->block_repl)
        PQfinish(r->block_repl); /* the temporary slot goes with it */
    r->block_repl = NULL;
    r->block_snapshot[0] = '\0';
    r->block_at = WB_INVALID_LSN;
}

void wb_resync_set_ping(wb_resync *r, void (*ping)(void *ud))
{
    r->ping = ping;
}

void wb_resync_end_session(wb_resync *r)
{
    /* A chunk being read: cancel its statement and wait for the pool. */
    if (r->in_pool && r->cancel) {
        char buf[128];
        PQcancel(r->cancel, buf, sizeof(buf));
    }
    while (r->in_pool)
        uv_run(r->loop, UV_RUN_ONCE);
    forget_chunk(r);
    forget_applying(r);
    unblock(r);
    clear_log(r);
    while (r->jobs) {
        job *j = r->jobs;
        r->jobs = j->next;
        free_job(j);
    }
    for (size_t i = 0; i < r->nfinished; i++)
        free(r->finished[i]);
    free(r->finished);
    r->finished = NULL;
    r->nfinished = 0;
    if (r->cancel)
        PQfreeCancel(r->cancel);
    r->cancel = NULL;
    wb_tablecopy_close(r->tc);
    r->tc = NULL;
    if (r->tgt)
        PQfinish(r->tgt);
    r->tgt = NULL;
    wb_sync_rows_free(&r->found);
    free(r->src_conninfo);
    free(r->tgt_conninfo);
    free(r->schema);
    free(r->slot);
    r->src_conninfo = r->tgt_conninfo = r->schema = r->slot = NULL;
    r->d = NULL;
    r->a = NULL;
    r->refresh_wanted = false;
}

void wb_resync_destroy(wb_resync *r)
{
    if (!r)
        return;
    wb_resync_end_session(r);
    wb_relcache_destroy(r->relcache);
    free(r);
}

bool wb_resync_busy(const wb_resync *r)
{
    return r->jobs != NULL || r->in_pool || r->refresh_wanted;
}

/* ----------------------------------------------------------------- jobs */

static const wb_config_mapping *mapping_named(const wb_resync *r,
                                              const char *name)
{
    const wb_config *cfg = wb_dispatch_config(r->d);
    for (size_t i = 0; i < cfg->nmappings; i++)
        if (cfg->mappings[i].enabled &&
            strcmp(cfg->mappings[i].name, name) == 0)
            return &cfg->mappings[i];
    return NULL;
}

static bool has_job(const wb_resync *r, const char *name)
{
    for (const job *j = r->jobs; j; j = j->next)
        if (strcmp(j->mapping, name) == 0)
            return true;
    return false;
}

/* Add the jobs of rows (copying, of enabled mappings, not there yet). */
static bool finished(const wb_resync *r, const char *mapping,
                     const char *started)
{
    size_t n = strlen(mapping);
    for (size_t i = 0; i < r->nfinished; i++)
        if (strncmp(r->finished[i], mapping, n) == 0 &&
            r->finished[i][n] == '\x1f' &&
            strcmp(r->finished[i] + n + 1, started ? started : "") == 0)
            return true;
    return false;
}

/* A job is done: remember it (see finished), and drop it. */
static int job_done(wb_resync *r, job *j)
{
    size_t n = strlen(j->mapping) + strlen(j->started) + 2;
    char *f = malloc(n);
    char **a = realloc(r->finished, (r->nfinished + 1) * sizeof(*a));
    if (a)
        r->finished = a;
    if (!f || !a) {
        free(f);
        return WB_ENOMEM;
    }
    snprintf(f, n, "%s\x1f%s", j->mapping, j->started);
    r->finished[r->nfinished++] = f;
    r->jobs = j->next;
    free_job(j);
    return 0;
}

static int add_jobs(wb_resync *r, const wb_sync_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        const wb_sync_row *s = &rows->rows[i];
        const wb_config_mapping *m;
        if (s->kind != WB_SYNC_COPYING || has_job(r, s->mapping) ||
            finished(r, s->mapping, s->started_at) ||
            !(m = mapping_named(r, s->mapping)))
            continue;
        job *j = calloc(1, sizeof(*j));
        if (!j)
            return WB_ENOMEM;
        j->mapping = strdup(m->name);
        j->schema = strdup(m->from.schema);
        j->table = strdup(m->from.table);
        j->cursor = s->cursor ? strdup(s->cursor) : NULL;
        j->started = strdup(s->started_at ? s->started_at : "");
        j->rows = s->rows;
        j->by_commit_time = wb_conflict_by_commit_time(&m->conflict);
        j->arena = wb_arena_create(16 * 1024, 0);
        if (!j->mapping || !j->schema || !j->table || !j->arena ||
            !j->started || (s->cursor && !j->cursor)) {
            free_job(j);
            return WB_ENOMEM;
        }
        /* At the end, so jobs run in the order found. */
        job **p = &r->jobs;
        while (*p)
            p = &(*p)->next;
        *p = j;
        wb_log(WB_LOG_INFO,
               "re-syncing mapping \"%s\" from \"%s.%s\" while streaming%s "
               "(%lld rows stored)",
               j->mapping, j->schema, j->table,
               j->cursor ? " after its stored cursor" : "", (long long)j->rows);
    }
    return 0;
}

static void start_next(wb_resync *r);

/* ----------------------------------------------------- the pool's work */

/* xid a precedes b, modulo 2^32 (TransactionIdPrecedes). */
static bool xid_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* Was xid committed for the chunk's snapshot (pg_visible_in_snapshot)? */
static bool visible(const wb_resync *r, uint32_t xid)
{
    if (xid_before(xid, r->snap_xmin))
        return true;
    if (!xid_before(xid, r->snap_xmax))
        return false;
    for (size_t i = 0; i < r->snap_nxip; i++)
        if (r->snap_xip[i] == xid)
            return false;
    return true;
}

/* Thread pool: the chunk transaction's snapshot, as its first statement
 * (REPEATABLE READ: the COPY that follows sees exactly it). */
static int read_snapshot(wb_resync *r)
{
    char *text = NULL;
    int rc = wb_tablecopy_snapshot(r->tc, &text, &r->err);
    if (rc)
        return rc;
    /* xmin:xmax:xip,xip,... as 64-bit numbers; the stream's xids are 32. */
    unsigned long long a, b;
    int n = 0;
    if (sscanf(text, "%llu:%llu:%n", &a, &b, &n) < 2) {
        free(text);
        return wb_error_set(&r->err, WB_EPROTO, "invalid snapshot \"%s\"",
                            text);
    }
    r->snap_xmin = (uint32_t)a;
    r->snap_xmax = (uint32_t)b;
    size_t cap = 0;
    for (const char *p = text + n; *p;) {
        char *end;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p)
            break;
        if (r->snap_nxip == cap) {
            cap = cap ? cap * 2 : 16;
            uint32_t *xip = realloc(r->snap_xip, cap * sizeof(*xip));
            if (!xip) {
                free(text);
                return wb_error_set(&r->err, WB_ENOMEM, "out of memory");
            }
            r->snap_xip = xip;
        }
        r->snap_xip[r->snap_nxip++] = (uint32_t)x;
        p = *end == ',' ? end + 1 : end;
    }
    free(text);
    return 0;
}

/* A mapping resolving conflicts by commit time: its rows carry their own
 * (pg_xact_commit_timestamp(xmin)) when the source tracks them, else the
 * time they were read, said once (on the main thread). */
static void said_untracked(job *j, bool tracked)
{
    if (!j->by_commit_time || tracked || j->said_untracked)
        return;
    j->said_untracked = true;
    wb_log(WB_LOG_INFO,
           "mapping \"%s\" resolves conflicts by commit time, but the "
           "source does not track commit timestamps: re-synced rows carry "
           "the time they were read",
           j->mapping);
}

/* Thread pool: read the chunk of the first job (or, for a refresh, the
 * sync state).  Only the chunk's fields and its own connections. */
static void read_chunk(uv_work_t *w)
{
    wb_resync *r = w->data;
    job *j = r->jobs;
    char content[128];
    wb_copyrow_reader rd;
    int rc;

    wb_error_clear(&r->err);
    if (r->work_refresh) {
        if (!r->tgt)
            r->tgt = wb_conn_open(r->tgt_conninfo, false, "walbridge resync",
                                  "target", &r->err);
        r->rc = r->tgt ? wb_syncstate_read_slot(r->tgt, r->schema, r->slot,
                                                &r->found, &r->err)
                       : (r->err.code ? r->err.code : WB_ECONN);
        return;
    }
    if (!r->tc) {
        if ((rc = wb_tablecopy_open(r->src_conninfo, NULL, &r->tc, &r->err)) !=
            0)
            goto out;
        r->cancel = wb_tablecopy_cancel_handle(r->tc);
    }
    if (!j->described) {
        wb_config_table t = {.schema = j->schema, .table = j->table};
        if ((rc = wb_tablecopy_describe(r->tc, &t, j->arena, &j->rel,
                                        &r->err)) != 0 ||
            (j->by_commit_time &&
             (rc = wb_tablecopy_tracks_commit_times(r->tc, &j->rel.commit_times,
                                                    &r->err)) != 0))
            goto out;
        j->described = true;
    }
    if (j->rel.norder == 0) {
        /* No key to page by: the main thread takes it from here. */
        r->block_wanted = true;
        goto out;
    }
    snprintf(content, sizeof(content), "%s L %llu", r->secret,
             (unsigned long long)r->chunk_no);
    if ((rc = wb_tablecopy_watermark(r->tc, WB_RESYNC_WATERMARK, content, false,
                                     &r->lw, &r->err)) != 0 ||
        (rc = wb_tablecopy_begin(r->tc, &r->err)) != 0 ||
        (rc = read_snapshot(r)) != 0 ||
        (rc =
             wb_tablecopy_start_chunk(r->tc, &j->rel, r->binary, r->read_cursor,
                                      r->read_limit, &r->err)) != 0)
        goto out;
    wb_copyrow_init(&rd, r->binary, wb_tablecopy_ncols(&j->rel, r->binary));
    for (;;) {
        char *buf;
        int n = wb_tablecopy_read(r->tc, &buf, &r->err);
        if (n <= 0) {
            rc = n;
            break;
        }
        wb_tuple t;
        bool isrow;
        rc = wb_copyrow_decode(&rd, buf, (size_t)n, r->chunk_arena, &t, &isrow,
                               &r->err);
        wb_tablecopy_freemem(buf);
        if (rc)
            break;
        if (!isrow)
            continue;
        if (r->nrows == r->caprows) {
            size_t cap = r->caprows ? r->caprows * 2 : 1024;
            row *rows = realloc(r->rows, cap * sizeof(*rows));
            if (!rows) {
                rc = wb_error_set(&r->err, WB_ENOMEM, "out of memory");
                break;
            }
            r->rows = rows;
            r->caprows = cap;
        }
        row *rw = &r->rows[r->nrows++];
        const wb_tuple_value *kv[32];
        for (size_t k = 0; k < j->rel.norder; k++)
            kv[k] = &t.cols[j->rel.order[k]];
        if (!make_key(r->chunk_arena, kv, j->rel.norder, &rw->k)) {
            rc = wb_error_set(&r->err, WB_ENOMEM, "out of memory");
            break;
        }
        rw->tup = t; /* with the key's text columns, if read, for the cursor */
        rw->commit_time =
            wb_tablecopy_row_commit_time(&j->rel, r->binary, &t, 0);
        /* What the row takes here, not on the wire: its values, their
         * descriptors and its key (many narrow columns cost more than
         * their bytes). */
        r->bytes += (size_t)n + sizeof(*rw) + rw->k.len +
                    (size_t)t.ncols * sizeof(wb_tuple_value);
    }
    if (rc == 0 && r->nrows) {
        /* The cursor: the last row's key, as text. */
        /* The rows' keys are marked from their own columns; the key's
         * text is only this cursor. */
        wb_strbuf cur = {0};
        rc = wb_tablecopy_cursor(&j->rel, r->binary, &r->rows[r->nrows - 1].tup,
                                 r->chunk_arena, &cur, &r->err);
        r->last_cursor = rc == 0 && cur.data
                             ? wb_arena_strdup(r->chunk_arena, cur.data)
                             : NULL;
        wb_strbuf_free(&cur);
        if (rc == 0 && !r->last_cursor)
            rc = wb_error_set(&r->err, WB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->nrows; i++)
        r->rows[i].tup.ncols = j->rel.rel.natts;
    if (rc == 0)
        rc = wb_tablecopy_commit(r->tc, &r->err);
out:
    r->rc = rc;
    if (rc)
        wb_error_relation(&r->err, j->schema, j->table);
}

/* Main thread: the chunk is in memory; write the high watermark. */
static void chunk_read(uv_work_t *w, int status)
{
    wb_resync *r = w->data;
    char content[128];
    (void)status;

    r->in_pool = false;
    if (!r->d) /* the session ended meanwhile */
        return;
    if (r->work_refresh) {
        r->work_refresh = false;
        int rc = r->rc ? r->rc : add_jobs(r, &r->found);
        wb_sync_rows_free(&r->found);
        if (rc) {
            if (rc == WB_ENOMEM)
                wb_error_set(&r->err, rc, "out of memory");
            r->fail(r->ud, &r->err);
            return;
        }
        start_next(r);
        return;
    }
    if (r->rc == 0 && r->jobs && r->jobs->described)
        said_untracked(r->jobs, r->jobs->rel.commit_times);
    if (r->rc == 0 && r->block_wanted) {
        r->block_wanted = false;
        r->state = CHUNK_EXPORT;
        return;
    }
    if (r->rc == 0) {
        snprintf(content, sizeof(content), "%s H %llu", r->secret,
                 (unsigned long long)r->chunk_no);
        r->rc = wb_tablecopy_watermark(r->tc, WB_RESYNC_WATERMARK, content,
                                       true, &r->hw, &r->err);
    }
    if (r->rc) {
        if (!r->err.code)
            wb_error_set(&r->err, r->rc, "the re-sync failed");
        r->fail(r->ud, &r->err);
        return;
    }
    r->read_time = wb_pgtime_now();
    r->t_read = wb_clock_ms();
    r->state = CHUNK_WAITING;
}

/* Read the first job's next chunk, or look for new jobs. */
static void start_next(wb_resync *r)
{
    if (r->in_pool || r->state != CHUNK_NONE || !r->d)
        return;
    if (r->refresh_wanted) {
        r->refresh_wanted = false;
        r->work_refresh = true;
    } else if (!r->jobs || (r->ap.on && (r->ap.void_chunk ||
                                         (long)r->ap.nrows < r->ap.limit))) {
        /* No job; or the chunk being applied ends its job, or is to be
         * read again: the next read waits for it. */
        return;
    } else {
        /* The chunk being applied, if any, is the one before this. */
        const char *after = r->ap.on ? r->ap.cursor : r->jobs->cursor;
        forget_chunk(r);
        r->chunk_arena = wb_arena_create(64 * 1024, 0);
        r->mark_arena = wb_arena_create(16 * 1024, 0);
        r->read_cursor = after ? strdup(after) : NULL;
        r->read_limit = r->limit;
        if (!r->chunk_arena || !r->mark_arena || (after && !r->read_cursor)) {
            wb_error_set(&r->err, WB_ENOMEM, "out of memory");
            r->fail(r->ud, &r->err);
            return;
        }
        r->chunk_no++;
        r->state = CHUNK_READING;
        r->t_start = wb_clock_ms();
    }
    r->work.data = r;
    r->in_pool = true;
    if (uv_queue_work(r->loop, &r->work, read_chunk, chunk_read) != 0) {
        r->in_pool = false;
        wb_error_set(&r->err, WB_EIO, "could not start reading a chunk");
        r->fail(r->ud, &r->err);
    }
}

int wb_resync_start_session(wb_resync *r, wb_dispatch *d, wb_apply *a,
                            bool binary, const wb_sync_rows *rows,
                            wb_error *err)
{
    const wb_config *cfg = wb_dispatch_config(d);
    const char *tci = wb_config_target_conninfo(cfg);
    r->d = d;
    r->a = a;
    r->binary = binary;
    r->limit = CHUNK_ROWS;
    r->src_conninfo = strdup(cfg->source.conninfo);
    r->tgt_conninfo = strdup(tci);
    r->schema = strdup(cfg->target.progress_schema);
    r->slot = strdup(cfg->source.slot);
    if (!r->src_conninfo || !r->tgt_conninfo || !r->schema || !r->slot ||
        (rows && add_jobs(r, rows) != 0))
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    r->started_ms = r->last_line_ms = wb_clock_ms();
    start_next(r);
    return 0;
}

/* ------------------------------------------------------------ the stream */

/* Remember (xid, key) of a change before the low watermark. */
static bool log_key(wb_resync *r, uint32_t xid, const wb_tuple_value *const *kv,
                    size_t n)
{
    if (!r->log_arena && !(r->log_arena = wb_arena_create(16 * 1024, 0)))
        return false;
    if (r->nlog == r->caplog) {
        size_t cap = r->caplog ? r->caplog * 2 : 256;
        struct logged *log = realloc(r->log, cap * sizeof(*log));
        if (!log)
            return false;
        r->log = log;
        r->caplog = cap;
    }
    if (!kv)
        memset(&r->log[r->nlog].k, 0, sizeof(key));
    else if (!make_key(r->log_arena, kv, n, &r->log[r->nlog].k))
        return false;
    r->log[r->nlog++].xid = xid;
    return true;
}

void wb_resync_row_change(wb_resync *r, const wb_change *c, uint32_t xid)
{
    job *j = r->jobs;
    if (r->state == CHUNK_EXPORT || r->state == CHUNK_BLOCKED)
        return; /* the copy runs at a position: nothing to mark */
    if (!j || strcmp(c->rel->nspname, j->schema) != 0 ||
        strcmp(c->rel->relname, j->table) != 0)
        return;
    /* Two chunks may watch: the one being applied (every change marks
     * its key: the stream carries a newer value than the chunk) and the
     * one being read (before its window: logged, in case its snapshot
     * did not see the transaction yet; in it: logged and marked). */
    bool applied = r->ap.on && !r->ap.void_chunk;
    bool read = !r->void_chunk;
    bool before = r->state == CHUNK_NONE || !r->window;
    if (!applied && !read)
        return;
    if (!j->described) {
        /* The table's key is not known yet (the first chunk describes
         * it; none is applied yet): the transaction alone is logged; if
         * the chunk's snapshot did not see it, the chunk is read again. */
        if (!log_key(r, xid, NULL, 0))
            r->void_chunk = true;
        return;
    }
    if (c->kind == WB_CHANGE_TRUNCATE) {
        r->void_chunk = r->ap.void_chunk = true;
        return;
    }
    if (j->stream_version != c->rel_version) {
        for (size_t k = 0; k < j->rel.norder; k++) {
            const char *name = j->rel.rel.atts[j->rel.order[k]].name;
            j->stream_pos[k] = -1;
            for (uint16_t i = 0; i < c->rel->natts; i++)
                if (strcmp(c->rel->atts[i].name, name) == 0)
                    j->stream_pos[k] = i;
        }
        j->stream_version = c->rel_version;
    }
    const wb_tuple *tups[2] = {c->newtup, c->oldtup};
    for (int t = 0; t < 2; t++) {
        const wb_tuple_value *kv[32];
        key k;
        if (!tups[t])
            continue;
        for (size_t i = 0; i < j->rel.norder; i++) {
            int p = j->stream_pos[i];
            if (p < 0 || p >= tups[t]->ncols ||
                tups[t]->cols[p].kind == WB_TUPLE_UNCHANGED) {
                /* A key the stream does not show: the chunks cannot tell
                 * which of their rows are stale. */
                r->void_chunk = r->ap.void_chunk = true;
                return;
            }
            kv[i] = &tups[t]->cols[p];
        }
        if (applied && (!make_key(r->ap.mark_arena, kv, j->rel.norder, &k) ||
                        !keyset_add(&r->ap.marked, &k)))
            r->ap.void_chunk = true;
        if (!read || r->void_chunk)
            continue;
        /* Every change is logged: its transaction may still be invisible
         * to the snapshot of this chunk or of a later one (a commit goes
         * to the WAL before it becomes visible, and under load the gap
         * lasted long enough here to span chunks); in the window it is
         * marked as well. */
        if (!log_key(r, xid, kv, j->rel.norder) ||
            (!before && (!make_key(r->mark_arena, kv, j->rel.norder, &k) ||
                         !keyset_add(&r->marked, &k))))
            r->void_chunk = true;
    }
}

/*
 * A chunk is applied in slices of 500 rows, at most two at the target at a
 * time (one runs while the next waits), while the next chunk is read: the
 * stream's transactions go between the slices, waiting for a slice or two
 * rather than the whole chunk (a 10,000-row chunk held the stream ~40 ms;
 * in tests/bench, 500-row slices kept the rise of the lag p99 at 500 tps
 * under 10 ms at the same rate, 1000-row ones did not).  Keys the stream
 * changes meanwhile are still marked (wb_resync_row_change) and their rows
 * dropped: the window of a chunk closes when its last row is routed, not at its
 * high watermark.  A row routed earlier goes before the change in the applier's
 * order, so neither overwrites a newer value.  The slices may commit in the
 * stream's batches; the sync state's advance goes with the last one, so a
 * crash in between reads the chunk again (and the one read meanwhile,
 * which starts after it).
 */
#define SLICE_ROWS 500 /* half a set statement's rows (apply/setrun.h) */

static int finish_chunk(wb_resync *r, wb_error *err);

static void log_reread(const job *j)
{
    wb_log(WB_LOG_INFO,
           "re-sync of mapping \"%s\": reading a chunk again (the table "
           "changed in a way its rows cannot be checked against)",
           j->mapping);
}

/* The job's mapping went away (a reload): its re-sync stops. */
static void drop_job(wb_resync *r)
{
    job *j = r->jobs;
    wb_log(WB_LOG_WARNING,
           "mapping \"%s\" is no longer enabled: its re-sync stops",
           j->mapping);
    r->jobs = j->next;
    free_job(j);
}

/*
 * The read chunk's high watermark, and the chunk before it applied: check
 * it, hand it to the pump, and read the next one meanwhile.
 */
static int apply_chunk(wb_resync *r, wb_error *err)
{
    job *j = r->jobs;

    if (!mapping_named(r, j->mapping)) {
        drop_job(r);
        forget_chunk(r);
        return 0;
    }
    if (r->void_chunk) {
        log_reread(j);
        forget_chunk(r);
        return 0;
    }
    if (!j->rel_version) {
        wb_relcache_entry *e =
            wb_relcache_update(r->relcache, &j->rel.rel, err);
        if (!e)
            return err->code ? err->code : WB_ENOMEM;
        j->rel_version = e->generation;
    }
    /* Changes delivered before the low watermark whose transaction the
     * chunk's snapshot did not see yet: the stream has applied them, the
     * chunk holds the value before them. */
    /* Visibility only grows: an entry the snapshot saw is dropped, one it
     * did not see stays for the next chunk's. */
    size_t unseen = 0, logged = r->nlog;
    bool unknown = false;
    for (size_t i = 0; i < logged; i++) {
        if (visible(r, r->log[i].xid))
            continue;
        if (!r->log[i].k.bytes)
            unknown = true; /* a key not known: read the chunk again */
        else if (!keyset_add(&r->marked, &r->log[i].k))
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        r->log[unseen++] = r->log[i];
    }
    r->nlog = unseen;
    if (unseen == 0)
        clear_log(r);
    if (unknown) {
        wb_log(WB_LOG_DEBUG,
               "re-sync of mapping \"%s\": reading chunk %llu "
               "again (a change its snapshot missed, of a key "
               "not known yet)",
               j->mapping, (unsigned long long)r->chunk_no);
        forget_chunk(r);
        return 0;
    }
    int64_t t_hw = wb_clock_ms();
    wb_log(WB_LOG_DEBUG,
           "re-sync chunk %llu of mapping \"%s\": %zu rows, %zu keys marked, "
           "%zu changes logged (%zu of them not yet visible to the chunk), "
           "snapshot %u:%u (%zu running); read in %lld ms, high watermark "
           "%lld ms later",
           (unsigned long long)r->chunk_no, j->mapping, r->nrows, r->marked.n,
           logged, unseen, r->snap_xmin, r->snap_xmax, r->snap_nxip,
           (long long)(r->t_read - r->t_start), (long long)(t_hw - r->t_read));
    /* The chunk moves to the pump; its marks go on there. */
    r->ap = (applying){.on = true,
                       .no = r->chunk_no,
                       .arena = r->chunk_arena,
                       .rows = r->rows,
                       .nrows = r->nrows,
                       .limit = r->read_limit,
                       .bytes = r->bytes,
                       .cursor = r->last_cursor,
                       .marked = r->marked,
                       .mark_arena = r->mark_arena,
                       .hw = r->hw,
                       .read_time = r->read_time};
    r->chunk_arena = r->mark_arena = NULL;
    r->rows = NULL;
    r->caprows = 0;
    r->marked = (keyset){0};
    forget_chunk(r);
    start_next(r);
    return wb_resync_pump(r, err);
}

int wb_resync_pump(wb_resync *r, wb_error *err)
{
    applying *ap = &r->ap;
    int rc;

    if (!r->d || !ap->on || wb_dispatch_in_txn(r->d) ||
        (ap->slice_end[0] && !wb_apply_passed(r->a, ap->slice_end[0])))
        return 0;
    job *j = r->jobs;
    const wb_config_mapping *m = mapping_named(r, j->mapping);
    if (!m || ap->void_chunk) {
        /* Rows routed already stay (they were current when routed); the
         * cursor did not move.  The chunk read meanwhile starts after
         * this one: it goes too. */
        if (m)
            log_reread(j);
        forget_applying(r);
        if (r->in_pool || (r->state == CHUNK_WAITING && !r->hw_seen)) {
            /* At its high watermark, apply_chunk forgets it (and drops
             * the job if its mapping is gone). */
            r->void_chunk = true;
            return 0;
        }
        forget_chunk(r);
        if (!m)
            drop_job(r);
        start_next(r);
        return 0;
    }
    const wb_config_mapping *only[1] = {m};
    size_t routed = 0;
    for (; ap->next < ap->nrows && routed < SLICE_ROWS; ap->next++) {
        row *rw = &ap->rows[ap->next];
        if (keyset_has(&ap->marked, &rw->k)) {
            j->dropped++;
            continue;
        }
        if (wb_apply_backlogged(r->a) &&
            (rc = wb_apply_make_room(r->a, ROOM_WAIT_MS, err)) != 0)
            return rc;
        wb_copied_row cr = {&j->rel.rel,
                            j->rel_version,
                            &rw->tup,
                            only,
                            1,
                            ap->hw,
                            rw->commit_time ? rw->commit_time : ap->read_time,
                            true};
        if ((rc = wb_dispatch_copied_row(r->d, &cr)) != 0)
            return rc;
        routed++;
    }
    if (ap->next < ap->nrows) {
        ap->slice_end[0] = ap->slice_end[1];
        return wb_apply_mark(r->a, &ap->slice_end[1], err);
    }
    if ((rc = finish_chunk(r, err)) != 0)
        return rc;
    forget_applying(r);
    /* The next chunk's high watermark may have gone by meanwhile. */
    if (r->hw_seen) {
        r->hw_seen = false;
        if ((rc = apply_chunk(r, err)) != 0)
            return rc;
    }
    start_next(r);
    return 0;
}

/* The chunk's last slice is routed: its sync state goes with it. */
static int finish_chunk(wb_resync *r, wb_error *err)
{
    const applying *ap = &r->ap;
    job *j = r->jobs;
    char now[24], before[24];
    int rc;

    bool done = (long)ap->nrows < ap->limit;
    int64_t total = j->rows + (int64_t)ap->nrows;
    const char *cursor = ap->cursor ? ap->cursor : j->cursor;
    wb_strbuf sql = {0};
    snprintf(now, sizeof(now), "%lld", (long long)total);
    snprintf(before, sizeof(before), "%lld", (long long)j->rows);
    const char *p[6] = {
        r->slot,
        j->mapping,
        cursor,
        now,
        wb_sync_kind_name(done ? WB_SYNC_DONE : WB_SYNC_COPYING),
        before};
    if (wb_syncstate_sql_advance(&sql, wb_apply_sync_rel(r->a)) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    rc = wb_apply_batch_stmt(r->a, sql.data, 6, p, ap->hw, err);
    wb_strbuf_free(&sql);
    if (rc || (rc = wb_apply_txn_done(r->a, ap->hw, ap->read_time, true, err)))
        return rc;
    j->rows = total;
    if (ap->cursor) {
        char *c = strdup(ap->cursor);
        if (!c)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        free(j->cursor);
        j->cursor = c;
    }
    /* Keep a chunk's rows within the byte bound. */
    if (ap->nrows && ap->bytes > CHUNK_BYTES) {
        long l =
            (long)((double)ap->limit * (double)CHUNK_BYTES / (double)ap->bytes);
        r->limit = l < CHUNK_MIN_ROWS ? CHUNK_MIN_ROWS : l;
    }
    int64_t t = wb_clock_ms();
    if (done) {
        wb_log(WB_LOG_INFO,
               "re-sync of mapping \"%s\" done: %lld rows read, %lld left to "
               "the stream (changed while read)",
               j->mapping, (long long)j->rows, (long long)j->dropped);
        if (job_done(r, j) != 0)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
    } else if (t - r->last_line_ms >= PROGRESS_EVERY) {
        r->last_line_ms = t;
        wb_log(WB_LOG_INFO, "re-syncing mapping \"%s\": %lld rows read",
               j->mapping, (long long)j->rows);
    }
    return 0;
}

/*
 * The stream got to the snapshot's position: every transaction that
 * commits before it is applied, none after.  Copy the table whole, its
 * rows routed to the re-synced mapping like copied rows (unchanged ones
 * written nothing), the stream waiting; the sync state goes done with the
 * last rows; position at is stored with them (the stream is there).
 */
static int copy_blocked(wb_resync *r, wb_lsn at, wb_error *err)
{
    job *j = r->jobs;
    const wb_config_mapping *m = mapping_named(r, j->mapping);
    wb_tablecopy *tc = NULL;
    wb_tablecopy_rel tr;
    wb_copyrow_reader rd;
    wb_arena *arena = wb_arena_create(64 * 1024, 0);
    wb_arena *row_arena = wb_arena_create(64 * 1024, 0);
    int64_t rows = 0, t0 = wb_clock_ms(), pinged = t0;
    int rc;

    if (!arena || !row_arena) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if (!m) {
        rc = wb_error_set(err, WB_ESTATE, "mapping \"%s\" is gone", j->mapping);
        goto out;
    }
    wb_config_table t = {.schema = j->schema, .table = j->table};
    if ((rc = wb_tablecopy_open(r->src_conninfo, r->block_snapshot, &tc,
                                err)) != 0)
        goto out;
    unblock(r); /* imported: the slot may go */
    if ((rc = wb_tablecopy_describe(tc, &t, arena, &tr, err)) != 0)
        goto out;
    wb_relcache_entry *e = wb_relcache_update(r->relcache, &tr.rel, err);
    if (!e) {
        rc = err->code ? err->code : WB_ENOMEM;
        goto out;
    }
    if (j->by_commit_time &&
        (rc = wb_tablecopy_tracks_commit_times(tc, &tr.commit_times, err)) != 0)
        goto out;
    said_untracked(j, tr.commit_times);
    if ((rc = wb_tablecopy_start(tc, &tr, r->binary, err)) != 0)
        goto out;
    wb_copyrow_init(&rd, r->binary, wb_tablecopy_ncols(&tr, r->binary));
    const wb_config_mapping *only[1] = {m};
    /* A row without its own commit time carries the copy's, read once:
     * the whole table is read under one snapshot. */
    int64_t now_pg = wb_pgtime_now();
    for (;;) {
        char *buf;
        wb_tuple tup;
        bool isrow;
        int n = wb_tablecopy_read(tc, &buf, err);
        if (n < 0) {
            rc = n;
            goto out;
        }
        if (n == 0)
            break;
        wb_arena_reset(row_arena);
        rc = wb_copyrow_decode(&rd, buf, (size_t)n, row_arena, &tup, &isrow,
                               err);
        wb_tablecopy_freemem(buf);
        if (rc)
            goto out;
        if (!isrow)
            continue;
        if (wb_apply_backlogged(r->a) &&
            (rc = wb_apply_make_room(r->a, ROOM_WAIT_MS, err)) != 0)
            goto out;
        wb_copied_row cr = {
            &tr.rel,
            e->generation,
            &tup,
            only,
            1,
            at,
            wb_tablecopy_row_commit_time(&tr, r->binary, &tup, now_pg),
            true};
        tup.ncols = tr.rel.natts;
        if ((rc = wb_dispatch_copied_row(r->d, &cr)) != 0)
            goto out;
        rows++;
        int64_t now = wb_clock_ms();
        if (r->ping && now - pinged >= PING_MS) {
            r->ping(r->ud);
            pinged = now;
        }
    }
    if ((rc = wb_tablecopy_commit(tc, err)) != 0)
        goto out;
    char now_s[24], before[24];
    snprintf(now_s, sizeof(now_s), "%lld", (long long)rows);
    snprintf(before, sizeof(before), "%lld", (long long)j->rows);
    const char *p[6] = {
        r->slot, j->mapping, NULL, now_s, wb_sync_kind_name(WB_SYNC_DONE),
        before};
    wb_strbuf sql = {0};
    if (wb_syncstate_sql_advance(&sql, wb_apply_sync_rel(r->a)) != 0) {
        wb_strbuf_free(&sql);
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    rc = wb_apply_batch_stmt(r->a, sql.data, 6, p, at, err);
    wb_strbuf_free(&sql);
    if (rc ||
        (rc = wb_apply_txn_done(r->a, at, wb_pgtime_now(), true, err)) != 0)
        goto out;
    wb_log(WB_LOG_INFO,
           "re-sync of mapping \"%s\" done: %lld rows copied whole in %.1f "
           "s",
           j->mapping, (long long)rows, (double)(wb_clock_ms() - t0) / 1000.0);
    if (job_done(r, j) != 0) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        j = NULL;
        goto out;
    }
    j = NULL;
    clear_log(r);
    r->state = CHUNK_NONE;
out:
    if (rc && j)
        wb_error_relation(err, j->schema, j->table);
    wb_tablecopy_close(tc);
    wb_arena_destroy(arena);
    wb_arena_destroy(row_arena);
    return rc;
}

typedef struct {
    wb_resync *r;
    int64_t since;
    bool said;
} export_wait;

/* Creating the slot waits for every transaction running in the source's
 * cluster to end, in any database: the stream waits with it, still
 * answering the walsender, and a long wait is said once, since the lag
 * grows meanwhile. */
static void export_waiting(void *ud)
{
    export_wait *w = ud;
    int64_t now = wb_clock_ms();
    if (w->r->ping)
        w->r->ping(w->r->ud);
    if (!w->said && now - w->since >= EXPORT_SAY_MS) {
        w->said = true;
        wb_log(WB_LOG_INFO,
               "re-sync of mapping \"%s\": waiting for the transactions "
               "running in the source's cluster to end before taking a "
               "snapshot of \"%s.%s\", the stream waiting too",
               w->r->jobs->mapping, w->r->jobs->schema, w->r->jobs->table);
    }
}

/*
 * Between two source transactions: export the snapshot now, the stream
 * applying nothing meanwhile, so that every transaction it applied
 * commits before the slot's consistent point and wb_resync_reached()
 * stops it there.  walbridge's own batch is committed first: creating a
 * slot waits for every transaction running in the cluster, the target's
 * included when it is the same one.
 */
static int export_now(wb_resync *r, wb_error *err)
{
    char a[WB_LSN_BUFLEN], name[64];
    job *j = r->jobs;
    int rc;
    if ((rc = wb_apply_close_batch(r->a, err)) != 0 ||
        (rc = wb_apply_settle(r->a, SETTLE_MS, err)) != 0)
        return rc;
    snprintf(name, sizeof(name), "walbridge_copy_%d", (int)getpid());
    export_wait w = {r, wb_clock_ms(), false};
    if (r->ping) /* connecting may take a while too */
        r->ping(r->ud);
    if ((rc = wb_tablecopy_export(r->src_conninfo, name, &r->block_repl,
                                  r->block_snapshot, sizeof(r->block_snapshot),
                                  &r->block_at, export_waiting, &w, err)) !=
        0) {
        wb_error_relation(err, j->schema, j->table);
        return rc;
    }
    r->state = CHUNK_BLOCKED;
    wb_log(WB_LOG_INFO,
           "table \"%s.%s\" has no primary key or replica identity "
           "index: mapping \"%s\" is re-synced by copying the whole "
           "table under a snapshot of %s, the stream waiting meanwhile",
           j->schema, j->table, j->mapping, wb_lsn_format(r->block_at, a));
    return 0;
}

int wb_resync_reached(wb_resync *r, wb_lsn lsn, wb_error *err)
{
    int rc;
    if (r->d && r->state == CHUNK_EXPORT && (rc = export_now(r, err)) != 0)
        return rc;
    if (!r->d || r->state != CHUNK_BLOCKED || lsn == WB_INVALID_LSN ||
        lsn < r->block_at)
        return 0;
    rc = copy_blocked(r, lsn, err);
    if (rc == 0)
        start_next(r);
    return rc;
}

int wb_resync_message(wb_resync *r, const wb_pgoutput_message *m, wb_error *err)
{
    char secret[33], kind;
    unsigned long long no;
    int rc;

    if (!r->d)
        return 0;
    if (strcmp(m->prefix, WB_RESYNC_WAKE) == 0) {
        /* `walbridge resync` wrote a state: look for it (a forged wake-up
         * costs one read of the sync state). */
        if (strcmp(m->content, r->slot) == 0) {
            r->refresh_wanted = true;
            start_next(r);
        }
        return 0;
    }
    if (strcmp(m->prefix, WB_RESYNC_WATERMARK) != 0)
        return 0;
    if (sscanf(m->content, "%32s %c %llu", secret, &kind, &no) != 3 ||
        strcmp(secret, r->secret) != 0) {
        if (!r->warned_forged)
            wb_log(WB_LOG_INFO, "ignored a watermark that is not this run's "
                                "(an earlier run's, or written by another "
                                "session)");
        r->warned_forged = true;
        return 0;
    }
    if (r->state == CHUNK_NONE || no != r->chunk_no)
        return 0;
    if (kind == 'L') {
        r->window = true;
        return 0;
    }
    if (kind != 'H' || r->state != CHUNK_WAITING)
        return 0;
    if (!r->window) {
        /* Both watermarks are this chunk's and in order in the WAL; a low
         * one not seen means the stream started between them. */
        forget_chunk(r);
        start_next(r);
        return 0;
    }
    if (r->ap.on) {
        /* The chunk before it is still being applied: this one waits,
         * its window open (pump). */
        r->hw_seen = true;
        return 0;
    }
    if ((rc = apply_chunk(r, err)) == 0)
        start_next(r);
    return rc;
}
