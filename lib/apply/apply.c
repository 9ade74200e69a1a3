/*
 * apply/apply.c - target writes with prepared statements, and stored progress.
 *
 * One target transaction per source transaction (issue 4 batches several).
 * Every statement is prepared once per operation shape (kind, target,
 * key columns, set columns) and cached; the statement text is sqlgen.c's
 * (identifiers always quoted, every value a text parameter, never spliced
 * into SQL).  The session keeps Heroku Connect's triggers working: no
 * session_replication_role = replica, nothing that would make walbridge's
 * writes invisible to the triggers on the target tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "apply/apply.h"
#include "progress.h"
#include "common/clock.h"
#include "common/conn.h"
#include "apply/link.h"
#include "common/pgarray.h"
#include "check/startup_int.h"
#include "common/log.h"

#define MAX_STATEMENTS      512
#define STMT_BUCKETS        1031 /* prime, > 2 x MAX_STATEMENTS */
#define SQL_MAX             (64 * 1024)
#define MAX_ITEMS           16384 /* queued statements awaiting their result */
#define ITEM_CASTS          8     /* target-side casts an item can name */
#define DATEARRAYOID        1182 /* date[] (pg_type.h is not a client header) */
#define MAX_INFLIGHT_BYTES  ((size_t)8 * 1024 * 1024) /* keeps RSS < 32 MiB */
#define MAX_BATCH_BYTES     ((size_t)16 * 1024 * 1024)
#define FLUSH_REQUEST_EVERY 256
#define FLUSH_QUERY_MS      50
#define RUN_MAX_ROWS        1000
#define RUN_MAX_BYTES       ((size_t)4 * 1024 * 1024)
#define RUN_MAX_COLS        256
#define RUN_KEYSET          4096 /* > 2 x keys per run (old and new) */

typedef struct stmt {
    char *key;
    uint64_t hash;
    char name[24];
} stmt;

typedef enum item_kind {
    IT_BEGIN = 1,
    IT_PREPARE,
    IT_OP,
    IT_COMMIT,
    IT_ROLLBACK,
    IT_SYNC,
    IT_LOCAL_LSN,    /* WAL insert position right after a COMMIT */
    IT_FLUSH_LSN,    /* the target's WAL flush position */
    IT_LINK_NOTE,    /* a pending key link noted or forgotten */
    IT_LINK_RESOLVE, /* pending key links resolved */
    IT_OTHER
} item_kind;

/* A target column's type, for the casts of set-based statements. */
typedef struct coltype {
    char *schema, *table, *column, *type;
} coltype;

/*
 * A run: consecutive operations of one shape on distinct keys, collected
 * as one text[] per parameter and sent as a single statement over
 * unnest(); see flush_run.
 */
typedef struct run {
    bool active;
    char key[1024];     /* the row statement's shape key */
    wb_target_op shape; /* kind, target, column names (config strings) */
    const char *cols[RUN_MAX_COLS];
    const char *casts[RUN_MAX_COLS]; /* a cast on the target ("date"), or
                                        NULL */
    size_t ncols, nkeys, nset;
    wb_strbuf arr[RUN_MAX_COLS];
    size_t nrows, bytes;
    wb_lsn last_lsn;
    uint64_t keyset[RUN_KEYSET]; /* hashes of key values in the run */
} run;

/* What a queued statement was, to read its result in context. */
typedef struct item {
    item_kind kind;
    wb_op_kind op;
    bool warn_missing;   /* update without insert fallback: warn on 0 rows */
    const char *mapping; /* config strings: live as long as the config */
    const char *schema;
    const char *table;
    wb_lsn lsn;     /* op: source commit LSN; commit: batch end_lsn */
    bool set_based; /* op: a run of rows in one statement */
    size_t rows;
    char row[96];  /* row op: its key, for errors ("k=v, ...") */
    uint64_t txns; /* commit: source transactions in the batch */
    size_t bytes;  /* op: parameter bytes */
    const wb_config_conflict *conflict; /* op: a conflict statement */
    bool counted; /* op: its one row is the count of rows written */
    const char *from_schema, *from_table;
    int64_t commit_time;
    /* row op: its parameters that the target casts, and their columns
     * (config strings), to name the column when PostgreSQL rejects a value
     * ("parameter $n" in the error's context): see note_casts. */
    int cast_param[ITEM_CASTS];
    const char *cast_col[ITEM_CASTS];
} item;

struct wb_apply {
    PGconn *conn;
    const wb_config *cfg;
    wb_progress_mode mode;
    wb_progress *progress; /* the stored position (progress.h) */
    stmt *buckets[STMT_BUCKETS];
    size_t nstmts;
    uint64_t stmt_seq;

    bool pipeline;    /* in pipeline mode (after set-up) */
    bool want_write;  /* libpq has unsent output */
    bool expect_null; /* a NULL result ends the previous statement */
    item items[MAX_ITEMS];
    size_t head, nitems;
    size_t inflight_bytes;

    bool in_txn;      /* a batch (target transaction) is open */
    wb_lsn batch_end; /* end_lsn of the last complete source txn in it */
    int64_t batch_time;
    uint64_t batch_txns;
    size_t batch_bytes;
    int64_t batch_opened_ms;
    uint64_t max_batch_txns;
    int64_t batch_latency_ms;
    size_t commits_out;   /* batch COMMITs sent, result not yet read */
    wb_lsn last_sent_end; /* end_lsn stored by the last COMMIT sent */

    coltype *coltypes; /* of every mapping target, read at open */
    size_t ncoltypes;
    bool set_based;       /* target.set_based */
    wb_lsn rowmode_until; /* apply row by row up to this LSN (pinpointing) */
    bool set_failed;      /* a set-based statement failed */
    run *run;

    bool flush_query_out; /* an IT_FLUSH_LSN is in flight */
    int64_t last_flush_query_ms;
    wb_apply_stats stats;
    uint64_t pending_written; /* rows written by results not yet committed */
    uint64_t pending_conflicts;
    bool track_cts; /* target's track_commit_timestamp */
    wb_link *links; /* lookups whose misses are retried (apply/link.h) */
    size_t nlinks;
    char *pending_rel; /* quoted progress_schema.pending_link */
    char *clock_rel;   /* quoted progress_schema.column_clock, or NULL */
    wb_strbuf karr;    /* a key as a text[] literal (clock) */
    wb_strbuf cols, vals, ucols, uvals; /* clock_change's arrays */
    uint64_t pending_linked, pending_noted;
    unsigned cfg_gen; /* bumped by a reload: statements built from
                         mapping settings (conflict, links) are keyed
                         on it, so none outlives its configuration */
};

/* FNV-1a: statement shapes are short strings. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void free_stmts(wb_apply *a)
{
    for (size_t i = 0; i < STMT_BUCKETS; i++) {
        if (a->buckets[i]) {
            free(a->buckets[i]->key);
            free(a->buckets[i]);
            a->buckets[i] = NULL;
        }
    }
    a->nstmts = 0;
}

static int exec_ok(wb_apply *a, const char *sql, int nparams,
                   const char *const *params, ExecStatusType want,
                   PGresult **out, const char *what, wb_error *err)
{
    return wb_conn_expect(
        a->conn,
        PQexecParams(a->conn, sql, nparams, NULL, params, NULL, NULL, 0), want,
        out, what, err);
}

/* Run one statement built by a wb_sql_* function (no parameters). */
static int exec_built(wb_apply *a, wb_strbuf *sql, const char *what,
                      wb_error *err)
{
    int rc = sql->err ? wb_error_set(err, WB_ENOMEM, "out of memory")
                      : exec_ok(a, sql->data, 0, NULL, PGRES_COMMAND_OK, NULL,
                                what, err);
    wb_strbuf_free(sql);
    return rc;
}

/*
 * Read, for every column of every mapping target, the OID of the array
 * type of its type: set-based statements declare their parameters with
 * it, so each array element is read by the column type's own input
 * function, without a typmod, and the assignment to the column applies
 * the typmod exactly as for a row statement ("value too long" rather
 * than the silent truncation of an explicit cast to varchar(n) or
 * character).  Columns that are arrays themselves have no array type
 * ("0") and are applied row by row: unnest would flatten them.  A target that
 * does not exist is skipped: its first row statement will report it properly.
 */
static int load_coltypes(wb_apply *a, wb_error *err)
{
    for (size_t m = 0; m < a->cfg->nmappings; m++)
        for (size_t k = 0; k < a->cfg->mappings[m].nto; k++) {
            const wb_config_table *t = &a->cfg->mappings[m].tos[k];
            bool seen = false;
            for (size_t i = 0; i < a->ncoltypes && !seen; i++)
                seen = strcmp(a->coltypes[i].schema, t->schema) == 0 &&
                       strcmp(a->coltypes[i].table, t->table) == 0;
            if (seen)
                continue;
            const char *p[2] = {t->schema, t->table};
            PGresult *res;
            int rc = exec_ok(a,
                             "SELECT a.attname, t.typarray FROM pg_attribute a "
                             "JOIN pg_type t ON t.oid = a.atttypid "
                             "JOIN pg_class c ON c.oid = a.attrelid "
                             "JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = $1 AND c.relname = $2 "
                             "AND a.attnum > 0 AND NOT a.attisdropped",
                             2, p, PGRES_TUPLES_OK, &res,
                             "could not read the target's column types", err);
            if (rc)
                return rc;
            int n = PQntuples(res);
            coltype *ct = realloc(a->coltypes,
                                  (a->ncoltypes + (size_t)n + 1) * sizeof(*ct));
            if (!ct) {
                PQclear(res);
                return wb_error_set(err, WB_ENOMEM, "out of memory");
            }
            a->coltypes = ct;
            for (int i = 0; i < n; i++) {
                coltype *c = &a->coltypes[a->ncoltypes];
                c->schema = strdup(t->schema);
                c->table = strdup(t->table);
                c->column = strdup(PQgetvalue(res, i, 0));
                c->type = strdup(PQgetvalue(res, i, 1));
                a->ncoltypes++;
                if (!c->schema || !c->table || !c->column || !c->type) {
                    PQclear(res);
                    return wb_error_set(err, WB_ENOMEM, "out of memory");
                }
            }
            PQclear(res);
        }
    return 0;
}

/* The column's array type OID as text, or NULL when unknown or none. */
static const char *coltype_of(const wb_apply *a, const char *schema,
                              const char *table, const char *column)
{
    for (size_t i = 0; i < a->ncoltypes; i++)
        if (strcmp(a->coltypes[i].column, column) == 0 &&
            strcmp(a->coltypes[i].table, table) == 0 &&
            strcmp(a->coltypes[i].schema, schema) == 0)
            return strcmp(a->coltypes[i].type, "0") == 0 ? NULL
                                                         : a->coltypes[i].type;
    return NULL;
}

/*
 * Lookups are retried when they miss (apply/link.h): collect them and make
 * sure the pending table exists.  Every link is due at start, so that the
 * first batch resolves what became resolvable while walbridge was down.
 */
/*
 * A table of walbridge's own in the progress schema (pending links, the
 * column clock): create the schema if need be and set *rel to the quoted
 * "schema.name" (malloc'd).  what names it in errors.
 */
static int own_table(wb_apply *a, const char *name, const char *what,
                     char **rel, wb_error *err)
{
    wb_strbuf r = {0}, sql = {0};
    char msg[160];

    wb_sql_own_rel(&r, a->cfg->target.progress_schema, name);
    if (r.err || !(*rel = strdup(r.data))) {
        wb_strbuf_free(&r);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    wb_strbuf_free(&r);
    snprintf(msg, sizeof(msg), "could not create the schema of %s", what);
    wb_sql_create_schema(&sql, a->cfg->target.progress_schema);
    return exec_built(a, &sql, msg, err);
}

static int setup_links(wb_apply *a, wb_error *err)
{
    wb_strbuf sql = {0};
    int rc;

    free(a->links);
    a->links = NULL;
    a->nlinks = 0;
    if (wb_link_collect(a->cfg, &a->links, &a->nlinks) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (a->nlinks == 0)
        return 0;
    if (!a->pending_rel &&
        (rc = own_table(a, WB_OWN_PENDING_LINK, "the pending links",
                        &a->pending_rel, err)) != 0)
        return rc;
    wb_link_create_sql(a->pending_rel, &sql);
    if ((rc = exec_built(a, &sql, "could not create the pending link table",
                         err)) != 0)
        return rc;
    for (size_t i = 0; i < a->nlinks; i++)
        a->links[i].due = true;
    return 0;
}

/*
 * The column clock, for last_writer_wins by commit time: per target row
 * and column, the commit LSN of the change that wrote its current value
 * (and the value's md5, to know it is still the current one).  Written by
 * walbridge's own conflict statements and, for changes of other writers,
 * as walbridge decodes them (wb_apply_clock_change).  Row timestamps alone
 * are not enough: a later write of one column makes the whole row look
 * newer, and an edit of another column made on the other side before it
 * would then lose on one side and win on the other.  The clock settles a
 * conflict in commit order, per column: a value walbridge has seen in the
 * stream before the incoming change is older than it; one it has not seen
 * yet comes from a later commit.
 */
static bool clock_needed(const wb_config *cfg)
{
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_conflict *c = &cfg->mappings[i].conflict;
        if (cfg->mappings[i].enabled &&
            c->resolve == WB_CONFLICT_LAST_WRITER_WINS && c->by_commit_time)
            return true;
    }
    return false;
}

static int setup_clock(wb_apply *a, wb_error *err)
{
    wb_strbuf sql = {0};
    int rc;
    if (!clock_needed(a->cfg) || a->clock_rel)
        return 0;
    if ((rc = own_table(a, WB_OWN_COLUMN_CLOCK, "the column clock",
                        &a->clock_rel, err)) != 0)
        return rc;
    wb_sql_clock_create(&sql, a->clock_rel);
    return exec_built(a, &sql, "could not create the column clock table", err);
}

/* A decoded change, recorded in the clock (apply/sqlgen.h). */
static int build_clock_sql(wb_apply *a, const void *arg, wb_strbuf *sql)
{
    (void)arg;
    return wb_sql_clock_change(sql, a->clock_rel);
}

int wb_apply_open(const wb_config *cfg, wb_apply **out, wb_error *err)
{
    const char *conninfo = cfg->target.conninfo && *cfg->target.conninfo
                               ? cfg->target.conninfo
                               : cfg->source.conninfo;
    wb_apply *a = calloc(1, sizeof(*a));
    int rc;

    if (!a)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    a->cfg = cfg;
    a->conn = wb_conn_open(conninfo, false, "walbridge", "target", err);
    if (!a->conn) {
        wb_apply_close(a);
        return err ? err->code : WB_ECONN;
    }
    /* With synchronous_commit on, COMMIT means durable.  With off (faster
     * commits), a batch only counts as durable once the target's WAL flush
     * position passes its commit: see IT_LOCAL_LSN / IT_FLUSH_LSN. */
    rc =
        exec_ok(a,
                cfg->target.synchronous_commit ? "SET synchronous_commit = on"
                                               : "SET synchronous_commit = off",
                0, NULL, PGRES_COMMAND_OK, NULL,
                "could not configure the target session", err);
    if (rc)
        goto fail;

    /* The start-up checks of the target session (check/startup_int.h), on every
     * connect: they also say where progress goes and whether commit
     * timestamps are tracked, and refuse before anything is created. */
    {
        wb_startup s = {.cfg = cfg, .target = a->conn};
        rc = wb_startup_run(&s, WB_STARTUP_TARGET | WB_STARTUP_RULES, err);
        if (rc)
            goto fail;
        a->mode = s.mode;
        a->track_cts = s.track_cts;
    }
    rc = wb_progress_open(a->conn, cfg, a->mode, cfg->target.synchronous_commit,
                          &a->progress, err);
    if (rc)
        goto fail;
    if ((rc = setup_links(a, err)) != 0)
        goto fail;
    if ((rc = setup_clock(a, err)) != 0)
        goto fail;
    a->set_based = cfg->target.set_based;
    if (a->set_based && (rc = load_coltypes(a, err)) != 0)
        goto fail;
    a->max_batch_txns = cfg->target.batch_max_txns;
    a->batch_latency_ms = cfg->target.batch_latency_ms;
    *out = a;
    return 0;
fail:
    wb_apply_close(a);
    return rc;
}

void wb_apply_close(wb_apply *a)
{
    if (!a)
        return;
    if (a->conn)
        PQfinish(a->conn);
    free_stmts(a);
    for (size_t i = 0; i < a->ncoltypes; i++) {
        free(a->coltypes[i].schema);
        free(a->coltypes[i].table);
        free(a->coltypes[i].column);
        free(a->coltypes[i].type);
    }
    free(a->coltypes);
    if (a->run)
        for (size_t i = 0; i < RUN_MAX_COLS; i++)
            wb_strbuf_free(&a->run->arr[i]);
    free(a->run);
    wb_progress_close(a->progress);
    free(a->pending_rel);
    free(a->clock_rel);
    wb_strbuf_free(&a->karr);
    wb_strbuf_free(&a->cols);
    wb_strbuf_free(&a->vals);
    wb_strbuf_free(&a->ucols);
    wb_strbuf_free(&a->uvals);
    free(a->links);
    free(a);
}

wb_progress *wb_apply_progress(const wb_apply *a)
{
    return a->progress;
}

void wb_apply_get_stats(const wb_apply *a, wb_apply_stats *out)
{
    if (a)
        *out = a->stats;
    else
        memset(out, 0, sizeof(*out));
}

/*
 * The cache key: every part of the op that changes the statement text.
 * Built in buf when it fits (the common case: no allocation per change),
 * else malloc'd; NULL when out of memory.
 */
/* Append s and then sep; the caller sized the buffer. */
static size_t key_put(char *k, size_t len, const char *s, char sep)
{
    size_t n = strlen(s);
    memcpy(k + len, s, n);
    k[len + n] = sep;
    return len + n + 1;
}

static size_t lookup_len(const wb_op_value *v)
{
    const wb_plugin_lookup *l = v->lookup;
    return !l        ? 0
           : l->cast ? strlen(l->cast) + 3
                     : strlen(l->schema) + strlen(l->table) + strlen(l->match) +
                           strlen(l->column) + 5;
}

/* column, then @schema.table.match.column for a lookup or ::type for a
 * cast on the target, then \x1e */
static size_t key_col(char *k, size_t len, const wb_op_value *v)
{
    const wb_plugin_lookup *l = v->lookup;
    if (!l)
        return key_put(k, len, v->column, '\x1e');
    if (l->cast) {
        len = key_put(k, len, v->column, ':');
        k[len++] = ':';
        return key_put(k, len, l->cast, '\x1e');
    }
    len = key_put(k, len, v->column, '@');
    len = key_put(k, len, l->schema, '.');
    len = key_put(k, len, l->table, '.');
    len = key_put(k, len, l->match, '.');
    return key_put(k, len, l->column, '\x1e');
}

/* Built for every change (perf: five snprintf calls a row were a fifth of
 * walbridge's CPU in the bulk case), so by plain copies. */
static char *shape_key(const wb_target_op *op, unsigned gen, char *buf,
                       size_t buflen)
{
    size_t n = 64 + strlen(op->schema) + strlen(op->table) +
               (op->conflict ? strlen(op->mapping) + 8 : 0);
    for (size_t i = 0; i < op->nkeys; i++)
        n += strlen(op->keys[i].column) + 1 + lookup_len(&op->keys[i]);
    for (size_t i = 0; i < op->nset; i++)
        n += strlen(op->set[i].column) + 1 + lookup_len(&op->set[i]);
    char *k = n <= buflen ? buf : malloc(n);
    if (!k)
        return NULL;
    /* "<kind><i|-><s|->\x1f<schema>\x1f<table>\x1f<key>\x1e...\x1f<set>\x1e..."
     */
    size_t len = 0;
    k[len++] = (char)('0' + (int)op->kind);
    k[len++] = op->insert_if_missing ? 'i' : '-';
    k[len++] = op->skip_unchanged ? 's' : '-';
    k[len++] = op->conflict ? 'C' : '-';
    k[len++] = '\x1f';
    if (op->conflict) { /* the policy and owners: the mapping's, as of */
        char g[16];     /* this configuration */
        snprintf(g, sizeof(g), "%u", gen % 100000u);
        len = key_put(k, len, g, '\x1f');
        len = key_put(k, len, op->mapping, '\x1f');
    }
    len = key_put(k, len, op->schema, '\x1f');
    len = key_put(k, len, op->table, '\x1f');
    for (size_t i = 0; i < op->nkeys; i++)
        len = key_col(k, len, &op->keys[i]);
    k[len++] = '\x1f';
    for (size_t i = 0; i < op->nset; i++)
        len = key_col(k, len, &op->set[i]);
    k[len] = '\0';
    return k;
}

/* ------------------------------------------------------------------ */
/* pipelined execution                                                 */
/* ------------------------------------------------------------------ */

/*
 * Everything below runs in libpq pipeline mode on a non-blocking
 * connection: statements are queued without waiting for their results, and
 * every queued statement has an item in a bounded FIFO so that its result,
 * which comes back in the same order, can be matched to what it was (for
 * errors: mapping, target relation, source LSN; for commits: the position
 * that becomes durable).
 */

static void ensure_pipeline(wb_apply *a)
{
    if (a->pipeline)
        return;
    PQsetnonblocking(a->conn, 1);
    PQenterPipelineMode(a->conn);
    a->pipeline = true;
}

static item *push(wb_apply *a, item_kind kind)
{
    item *it = &a->items[(a->head + a->nitems) % MAX_ITEMS];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    a->nitems++;
    return it;
}

static int send_failed(wb_apply *a, const char *what, wb_error *err)
{
    return wb_conn_result_error(err, WB_ECONN, a->conn, NULL, what);
}

static int send_simple(wb_apply *a, item_kind kind, const char *sql,
                       int nparams, const char *const *params, wb_error *err)
{
    if (!PQsendQueryParams(a->conn, sql, nparams, NULL, params, NULL, NULL, 0))
        return send_failed(a, "could not send to the target", err);
    push(a, kind);
    return 0;
}

/* Open the target transaction of a batch: BEGIN (+ marker message). */
static int open_batch(wb_apply *a, wb_error *err)
{
    int rc;
    if (a->in_txn)
        return 0;
    ensure_pipeline(a);
    if ((rc = send_simple(a, IT_BEGIN, "BEGIN", 0, NULL, err)) != 0)
        return rc;
    a->in_txn = true;
    a->batch_txns = 0;
    a->batch_bytes = 0;
    a->batch_end = WB_INVALID_LSN;
    a->batch_opened_ms = wb_clock_ms();
    /*
     * Every batch starts with walbridge's marker message.  Without an
     * origin it is how walbridge recognises its own transactions when they
     * come back through the slot.  In both modes it guarantees that the
     * transaction has an xid and writes WAL before COMMIT: a transaction
     * without an xid writes no commit record (so the origin progress set
     * up in it would be lost), and one whose only WAL is its commit record
     * is never waited for, whatever synchronous_commit says.  Batches whose
     * changes all turned out to be no-ops (a delete of a row already gone)
     * or that only store a position would otherwise not be durable.
     */
    const char *p[1] = {wb_progress_origin_name(a->progress)};
    rc = send_simple(a, IT_OTHER, WB_SQL_MARKER, 1, p, err);
    if (rc || a->commits_out == 0 || a->last_sent_end == WB_INVALID_LSN)
        return rc;
    /*
     * The previous batch's COMMIT has been sent but its result not read.
     * If that batch failed (a deadlock, say), the server goes on with this
     * one after the pipeline sync, and committing it would store a position
     * past the rolled-back batch: its changes would be skipped on the
     * retry.  So this batch first checks that the previous one's position
     * is stored, and fails (rolls back) otherwise.  The first error read is
     * the previous batch's own.
     */
    wb_progress_stmt g;
    wb_progress_guard_stmt(a->progress, a->last_sent_end, &g);
    return send_simple(a, IT_OTHER, g.sql, g.nparams, g.params, err);
}

/* What a statement is for: names errors of its preparation. */
typedef struct stmt_ctx {
    const char *mapping, *schema, *table;
    wb_lsn lsn;
    bool set_based;
    int ntypes; /* parameter types, or 0: inferred by the server */
    const Oid *types;
} stmt_ctx;

typedef int (*sql_builder)(wb_apply *a, const void *arg, wb_strbuf *sql);

/*
 * Find the prepared statement cached under key, or build its SQL with
 * build(arg) and queue its preparation.  The cache is bounded: when full
 * it starts over (DEALLOCATE ALL is queued like any statement, so
 * ordering is kept).  *name lives as long as the cache entry.
 */
static int cached_stmt(wb_apply *a, const char *key, sql_builder build,
                       const void *arg, const stmt_ctx *ctx, const char **name,
                       wb_error *err)
{
    uint64_t h = hash_str(key);
    size_t slot;
    int rc;

    *name = NULL;
    for (slot = h % STMT_BUCKETS; a->buckets[slot];
         slot = (slot + 1) % STMT_BUCKETS) {
        if (a->buckets[slot]->hash == h &&
            strcmp(a->buckets[slot]->key, key) == 0) {
            *name = a->buckets[slot]->name;
            return 0;
        }
    }
    if (a->nstmts == MAX_STATEMENTS) {
        if ((rc = send_simple(a, IT_OTHER, "DEALLOCATE ALL", 0, NULL, err)))
            return rc;
        free_stmts(a);
        slot = h % STMT_BUCKETS;
    }
    wb_strbuf sql = {.limit = SQL_MAX - 1}; /* and its NUL */
    stmt *s = calloc(1, sizeof(*s));
    if (!s || !(s->key = strdup(key))) {
        free(s);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if ((rc = build(a, arg, &sql)) != 0) {
        wb_strbuf_free(&sql);
        free(s->key);
        free(s);
        if (rc == WB_ENOMEM)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        wb_error_set(err, WB_EDATA, "statement for mapping \"%s\" too long",
                     ctx->mapping);
        wb_error_relation(err, ctx->schema, ctx->table);
        wb_error_lsn(err, ctx->lsn);
        return WB_EDATA;
    }
    s->hash = h;
    snprintf(s->name, sizeof(s->name), "wb_%llu",
             (unsigned long long)++a->stmt_seq);
    if (!PQsendPrepare(a->conn, s->name, sql.data, ctx->ntypes, ctx->types)) {
        wb_strbuf_free(&sql);
        free(s->key);
        free(s);
        return send_failed(a, "could not send a statement to the target", err);
    }
    item *it = push(a, IT_PREPARE);
    it->mapping = ctx->mapping;
    it->schema = ctx->schema;
    it->table = ctx->table;
    it->lsn = ctx->lsn;
    it->set_based = ctx->set_based;
    wb_log(WB_LOG_DEBUG, "prepared %s: %s", s->name, sql.data);
    wb_strbuf_free(&sql);
    a->buckets[slot] = s;
    a->nstmts++;
    a->stats.statements_prepared++;
    *name = s->name;
    return 0;
}

static int build_row_sql(wb_apply *a, const void *arg, wb_strbuf *sql)
{
    const wb_target_op *op = arg;
    if (op->conflict) {
        wb_sql_conflict_shape c =
            wb_sql_conflict_layout(op, a->track_cts, a->clock_rel);
        return wb_sql_conflict(sql, &c);
    }
    return wb_sql_row(sql, op);
}

static int build_note_sql(wb_apply *a, const void *l, wb_strbuf *sql)
{
    return wb_link_note_sql(a->pending_rel, l, sql);
}

static int build_resolve_sql(wb_apply *a, const void *l, wb_strbuf *sql)
{
    return wb_link_resolve_sql(a->pending_rel, l, sql);
}

/* The statement of link l (note or resolve), prepared on first use. */
static int link_stmt(wb_apply *a, const wb_link *l, bool resolve,
                     const char **name, wb_lsn lsn, wb_error *err)
{
    char key[512];
    stmt_ctx ctx = {l->m->name, l->m->to.schema, l->m->to.table, lsn, false, 0,
                    NULL};
    snprintf(key, sizeof(key), "%c%u\x1f%s\x1f%s", resolve ? 'R' : 'N',
             a->cfg_gen, l->m->name, l->column);
    return cached_stmt(a, key, resolve ? build_resolve_sql : build_note_sql, l,
                       &ctx, name, err);
}

static wb_link *find_link(wb_apply *a, const char *mapping, const char *column)
{
    for (size_t i = 0; i < a->nlinks; i++)
        if (strcmp(a->links[i].m->name, mapping) == 0 &&
            strcmp(a->links[i].column, column) == 0)
            return &a->links[i];
    return NULL;
}

/*
 * After a write with lookups: note each lookup's outcome (a miss becomes
 * a pending link, a hit forgets an older one), in the same transaction.
 */
static int note_links(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                      wb_error *err)
{
    wb_strbuf keys = {0};
    char lsnbuf[WB_LSN_BUFLEN];
    int rc = 0;

    if (!a->nlinks || op->kind == WB_OP_DELETE)
        return 0;
    /* The child's key as it is after the write. */
    const wb_op_value *kv = op->kind == WB_OP_UPSERT ? op->keys : op->set;
    for (size_t k = 0; k < op->nkeys && rc == 0; k++)
        rc = wb_pgarray_add(&keys, kv[k].value);
    if (rc == 0)
        rc = wb_pgarray_finish(&keys);
    if (rc)
        goto out;
    wb_lsn_format(lsn, lsnbuf);
    for (size_t j = 0; j < op->nset && rc == 0; j++) {
        const char *name;
        wb_link *l;
        if (!op->set[j].lookup || !op->set[j].lookup->table ||
            !(l = find_link(a, op->mapping, op->set[j].column)))
            continue;
        if ((rc = link_stmt(a, l, false, &name, lsn, err)) != 0)
            break;
        const char *p[4] = {keys.data, op->set[j].value, lsnbuf,
                            op->set[j].value};
        if (!PQsendQueryPrepared(a->conn, name, 4, p, NULL, NULL, 0)) {
            rc = send_failed(a, "could not send a change to the target", err);
            break;
        }
        item *it = push(a, IT_LINK_NOTE);
        it->mapping = op->mapping;
        it->schema = op->schema;
        it->table = op->table;
        it->lsn = lsn;
    }
out:
    if (rc == WB_ENOMEM || rc == WB_ELIMIT)
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
    wb_strbuf_free(&keys);
    return rc;
}

/* Resolve the due links in the open batch (close_batch). */
static int resolve_links(wb_apply *a, wb_error *err)
{
    for (size_t i = 0; i < a->nlinks; i++) {
        wb_link *l = &a->links[i];
        const char *name;
        int rc;
        if (!l->due)
            continue;
        if ((rc = link_stmt(a, l, true, &name, a->batch_end, err)) != 0)
            return rc;
        if (!PQsendQueryPrepared(a->conn, name, 0, NULL, NULL, NULL, 0))
            return send_failed(a, "could not send a statement to the target",
                               err);
        item *it = push(a, IT_LINK_RESOLVE);
        it->mapping = l->m->name;
        it->schema = l->m->to.schema;
        it->table = l->m->to.table;
        it->lsn = a->batch_end;
        l->due = false;
    }
    return 0;
}

int wb_apply_lookup_changed(wb_apply *a, const char *schema, const char *table,
                            bool *due, wb_error *err)
{
    *due = false;
    for (size_t i = 0; i < a->nlinks; i++) {
        wb_link *l = &a->links[i];
        if (strcmp(l->e->lookup.schema, schema) == 0 &&
            strcmp(l->e->lookup.table, table) == 0)
            l->due = *due = true;
    }
    return *due ? open_batch(a, err) : 0;
}

/* The clock entries of one mapping for a change of its target table. */
static int clock_one(wb_apply *a, const wb_clock_write *w, bool *wrote,
                     wb_error *err)
{
    const wb_config_mapping *m = w->mapping;
    size_t ncols = 0;
    int rc = 0;

    wb_strbuf_reset(&a->karr);
    wb_strbuf_reset(&a->cols);
    wb_strbuf_reset(&a->vals);
    wb_strbuf_reset(&a->ucols);
    wb_strbuf_reset(&a->uvals);
    for (size_t k = 0; k < w->nkeys && rc == 0; k++)
        rc = wb_pgarray_add(&a->karr, w->keys[k]);
    for (size_t j = 0; j < w->ncols && rc == 0; j++) {
        bool same = w->same[j];
        if ((rc = wb_pgarray_add(same ? &a->ucols : &a->cols, w->cols[j])) == 0)
            rc = wb_pgarray_add(same ? &a->uvals : &a->vals, w->vals[j]);
        ncols++;
    }
    if (rc == 0 && ncols) {
        if ((rc = wb_pgarray_finish(&a->karr)) == 0 &&
            (rc = wb_pgarray_finish(&a->cols)) == 0 &&
            (rc = wb_pgarray_finish(&a->vals)) == 0 &&
            (rc = wb_pgarray_finish(&a->ucols)) == 0)
            rc = wb_pgarray_finish(&a->uvals);
    }
    if (rc)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (!ncols)
        return 0;
    if ((rc = open_batch(a, err)) != 0)
        return rc;
    const char *name;
    stmt_ctx ctx = {m->name, m->to.schema, m->to.table, w->lsn, false, 0, NULL};
    if ((rc = cached_stmt(a,
                          "K\x1f"
                          "clock",
                          build_clock_sql, NULL, &ctx, &name, err)) != 0)
        return rc;
    char tbl[512], lsnbuf[WB_LSN_BUFLEN];
    snprintf(tbl, sizeof(tbl), "%s.%s", m->to.schema, m->to.table);
    const char *p[7] = {
        tbl,          a->karr.data, wb_lsn_format(w->lsn, lsnbuf),
        a->cols.data, a->vals.data, a->ucols.data,
        a->uvals.data};
    if (!PQsendQueryPrepared(a->conn, name, 7, p, NULL, NULL, 0))
        return send_failed(a, "could not send a statement to the target", err);
    item *it = push(a, IT_OTHER);
    it->mapping = m->name;
    it->schema = m->to.schema;
    it->table = m->to.table;
    it->lsn = w->lsn;
    *wrote = true;
    return 0;
}

int wb_apply_clock_change(wb_apply *a, const wb_clock_write *w, bool *wrote,
                          wb_error *err)
{
    *wrote = false;
    if (!a->clock_rel)
        return 0;
    return clock_one(a, w, wrote, err);
}

int wb_apply_reconfigure(wb_apply *a, const wb_config *cfg, wb_error *err)
{
    const wb_config *old = a->cfg;
    wb_link *links = NULL;
    size_t nlinks = 0;
    int rc;

    /* The start-up rules against this session's facts: a reload must not
     * bring in what a start would refuse. */
    wb_startup s = {.cfg = cfg, .mode = a->mode, .track_cts = a->track_cts};
    if ((rc = wb_startup_run(&s, WB_STARTUP_RULES, err)) != 0)
        return rc;
    a->cfg = cfg;
    if (wb_link_collect(cfg, &links, &nlinks) != 0) {
        a->cfg = old;
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if (clock_needed(cfg) && !a->clock_rel) {
        free(links);
        a->cfg = old;
        wb_error_set(err, WB_ECONFIG,
                     "the reloaded configuration resolves conflicts by commit "
                     "time, but the column clock was not set up at start");
        wb_error_hint(err, "Restart walbridge to use the new policy.");
        return WB_ECONFIG;
    }
    if (nlinks && !a->pending_rel) {
        free(links);
        a->cfg = old;
        wb_error_set(err, WB_ECONFIG,
                     "the reloaded configuration has lookups, but the pending "
                     "link table was not set up at start");
        wb_error_hint(err, "Restart walbridge to use the new lookups.");
        return WB_ECONFIG;
    }
    free(a->links);
    a->links = links;
    a->nlinks = nlinks;
    for (size_t i = 0; i < nlinks; i++)
        a->links[i].due = true;
    a->cfg_gen++;
    return 0;
}

/* Find or queue the prepared statement for op's shape. */
static int get_stmt(wb_apply *a, const wb_target_op *op, const char **name,
                    wb_lsn lsn, wb_error *err)
{
    char keybuf[1024];
    char *key = shape_key(op, a->cfg_gen, keybuf, sizeof(keybuf));
    stmt_ctx ctx = {op->mapping, op->schema, op->table, lsn, false, 0, NULL};
    if (!key)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    int rc = cached_stmt(a, key, build_row_sql, op, &ctx, name, err);
    if (key != keybuf)
        free(key);
    return rc;
}

/* ------------------------------------------------------------------ */
/* set-based runs                                                      */
/* ------------------------------------------------------------------ */

/*
 * Consecutive operations of one shape (same kind, target and columns) on
 * distinct keys are independent of their order, so they can be sent as
 * one statement over unnest() of one text[] per column: far fewer
 * statements for bulk loads and backlogs.  Row triggers still fire once
 * per row, in source order for inserts.  A run is cut at a repeated key
 * (the same row twice in one statement would be an error for ON CONFLICT
 * and ambiguous for UPDATE ... FROM), a change of shape, 1000 rows, 4 MiB,
 * and before anything else is queued.  When a set statement fails, the
 * batch is applied again row by row so the error names the exact row
 * (wb_apply_set_failed / wb_apply_set_rowmode_until).
 */

static bool run_eligible(const wb_apply *a, const wb_target_op *op, wb_lsn lsn)
{
    if (!a->set_based || lsn <= a->rowmode_until)
        return false;
    /* Row statements only: the set statements compare nothing and look
     * nothing up (yet); a cast on the target is a date[] parameter. */
    if (op->skip_unchanged || op->has_lookup || op->conflict)
        return false;
    if (op->nkeys + op->nset > RUN_MAX_COLS || op->nkeys == 0)
        return false;
    switch (op->kind) {
    case WB_OP_UPSERT:
    case WB_OP_DELETE:
        break;
    case WB_OP_UPDATE:
        if (!op->insert_if_missing || op->nset < op->nkeys)
            return false;
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < op->nkeys; i++)
        if (!coltype_of(a, op->schema, op->table, op->keys[i].column))
            return false;
    for (size_t i = 0; i < op->nset; i++)
        if (!coltype_of(a, op->schema, op->table, op->set[i].column))
            return false;
    return true;
}

static uint64_t hash_key(const wb_op_value *v, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = v[i].value ? v[i].value : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ (v[i].value ? 0x1f : 0x1e)) * 1099511628211ULL;
    }
    return h ? h : 1;
}

/* Add h to the run's key set; false when it is there already (a hash
 * collision only ends the run early, which is always safe). */
static bool keyset_add(run *r, uint64_t h)
{
    for (size_t i = h % RUN_KEYSET;; i = (i + 1) % RUN_KEYSET) {
        if (r->keyset[i] == h)
            return false;
        if (r->keyset[i] == 0) {
            r->keyset[i] = h;
            return true;
        }
    }
}

static int build_set_sql_cb(wb_apply *a, const void *arg, wb_strbuf *sql)
{
    const run *r = arg;
    wb_sql_set s = {&r->shape, r->cols, r->casts, r->ncols, r->nkeys, r->nset};
    (void)a;
    return wb_sql_set_run(sql, &s);
}

/* Send the run as one statement (or nothing when empty). */
static int flush_run(wb_apply *a, wb_error *err)
{
    run *r = a->run;
    const char *params[RUN_MAX_COLS];
    char key[1100];
    int rc;

    if (!r || !r->active || r->nrows == 0)
        return 0;
    snprintf(key, sizeof(key), "S\x1f%s", r->key);
    Oid types[RUN_MAX_COLS];
    /* A value cast on the target is sent in a date[]: date_in reads each
     * element (a bad one fails the statement, and the batch is applied
     * again row by row, which names the row and column); sql_cast hands
     * the date to the column as the row statement does. */
    for (size_t i = 0; i < r->ncols; i++)
        types[i] = r->casts[i]
                       ? DATEARRAYOID
                       : (Oid)strtoul(coltype_of(a, r->shape.schema,
                                                 r->shape.table, r->cols[i]),
                                      NULL, 10);
    stmt_ctx ctx = {r->shape.mapping,
                    r->shape.schema,
                    r->shape.table,
                    r->last_lsn,
                    true,
                    (int)r->ncols,
                    types};
    const char *name;
    if ((rc = cached_stmt(a, key, build_set_sql_cb, r, &ctx, &name, err)))
        return rc;
    for (size_t i = 0; i < r->ncols; i++) {
        if ((rc = wb_pgarray_finish(&r->arr[i])) != 0)
            return wb_error_set(err, rc, "set-based run too large");
        params[i] = r->arr[i].data;
    }
    if (!PQsendQueryPrepared(a->conn, name, (int)r->ncols, params, NULL, NULL,
                             0))
        return send_failed(a, "could not send changes to the target", err);
    item *it = push(a, IT_OP);
    it->op = r->shape.kind;
    it->mapping = r->shape.mapping;
    it->schema = r->shape.schema;
    it->table = r->shape.table;
    it->lsn = r->last_lsn;
    it->set_based = true;
    it->counted = r->shape.kind == WB_OP_UPDATE;
    it->rows = r->nrows;
    it->bytes = r->bytes;
    a->inflight_bytes += r->bytes;
    a->stats.ops += r->nrows;
    a->stats.set_statements++;
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_reset(&r->arr[i]);
    memset(r->keyset, 0, sizeof(r->keyset));
    r->nrows = r->bytes = 0;
    r->active = false;
    if (!PQsendFlushRequest(a->conn))
        return send_failed(a, "could not send a flush request", err);
    return 0;
}

/* Drop the run without sending it (its batch is being rolled back). */
static void discard_run(wb_apply *a)
{
    run *r = a->run;
    if (!r || !r->active)
        return;
    for (size_t i = 0; i < r->ncols; i++)
        wb_strbuf_reset(&r->arr[i]);
    memset(r->keyset, 0, sizeof(r->keyset));
    r->nrows = r->bytes = 0;
    r->active = false;
}

/*
 * Add op to the run (flushing the current run first when op cannot join
 * it).  *added false: op is not eligible and must go row by row.
 */
static int run_add(wb_apply *a, const wb_target_op *op, wb_lsn lsn, bool *added,
                   wb_error *err)
{
    char keybuf[1024];
    int rc;

    *added = false;
    if (!run_eligible(a, op, lsn))
        return flush_run(a, err);
    char *key = shape_key(op, a->cfg_gen, keybuf, sizeof(keybuf));
    if (!key)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (key != keybuf) { /* too long to keep: row by row */
        free(key);
        return flush_run(a, err);
    }
    if (!a->run && !(a->run = calloc(1, sizeof(run))))
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    run *r = a->run;

    /* The key values this op touches: old (match) and new (written). */
    const wb_op_value *newkeys = op->kind == WB_OP_UPDATE ? op->set : op->keys;
    uint64_t hk = hash_key(op->keys, op->nkeys);
    uint64_t hn = hash_key(newkeys, op->nkeys);
    size_t bytes = 0;
    for (size_t i = 0; i < op->nkeys; i++)
        bytes += (op->keys[i].value ? strlen(op->keys[i].value) : 0) + 8;
    for (size_t i = 0; i < op->nset; i++)
        bytes += (op->set[i].value ? strlen(op->set[i].value) : 0) + 8;

    if (r->active) {
        bool same = strcmp(r->key, key) == 0;
        bool fits =
            r->nrows < RUN_MAX_ROWS && r->bytes + bytes <= RUN_MAX_BYTES;
        /* A repeated key ends the run before this op. */
        bool fresh = same && fits && keyset_add(r, hk) &&
                     (hn == hk || keyset_add(r, hn));
        if (!fresh) {
            if ((rc = flush_run(a, err)) != 0)
                return rc;
        }
    }
    if (!r->active) {
        snprintf(r->key, sizeof(r->key), "%s", key);
        r->shape = *op;
        r->nkeys = op->nkeys;
        r->nset = op->nset;
        r->ncols = 0;
        memset(r->casts, 0, sizeof(r->casts));
        if (op->kind == WB_OP_UPDATE) {
            for (size_t i = 0; i < op->nset; i++)
                r->casts[i] =
                    op->set[i].lookup ? op->set[i].lookup->cast : NULL;
            for (size_t i = 0; i < op->nset; i++)
                r->cols[r->ncols++] = op->set[i].column;
            for (size_t i = 0; i < op->nkeys; i++)
                r->cols[r->ncols++] = op->keys[i].column;
        } else {
            for (size_t i = 0; i < op->nset; i++)
                r->casts[op->nkeys + i] =
                    op->set[i].lookup ? op->set[i].lookup->cast : NULL;
            for (size_t i = 0; i < op->nkeys; i++)
                r->cols[r->ncols++] = op->keys[i].column;
            for (size_t i = 0; i < op->nset; i++)
                r->cols[r->ncols++] = op->set[i].column;
        }
        r->active = true;
        keyset_add(r, hk);
        if (hn != hk)
            keyset_add(r, hn);
    }
    /* Values in the run's column order. */
    size_t c = 0;
    if (op->kind == WB_OP_UPDATE) {
        for (size_t i = 0; i < op->nset; i++)
            rc = wb_pgarray_add(&r->arr[c++], op->set[i].value);
        for (size_t i = 0; i < op->nkeys; i++)
            rc = rc ? rc : wb_pgarray_add(&r->arr[c++], op->keys[i].value);
    } else {
        rc = 0;
        for (size_t i = 0; i < op->nkeys; i++)
            rc = rc ? rc : wb_pgarray_add(&r->arr[c++], op->keys[i].value);
        for (size_t i = 0; i < op->nset; i++)
            rc = rc ? rc : wb_pgarray_add(&r->arr[c++], op->set[i].value);
    }
    if (rc)
        return wb_error_set(err, rc, "out of memory building a set-based run");
    r->nrows++;
    r->bytes += bytes;
    r->last_lsn = lsn;
    a->batch_bytes += bytes;
    *added = true;
    return 0;
}

bool wb_apply_set_failed(const wb_apply *a)
{
    return a->set_failed;
}

void wb_apply_set_rowmode_until(wb_apply *a, wb_lsn lsn)
{
    a->rowmode_until = lsn;
}

/*
 * Which parameters of op's row statement the target casts (in wb_apply_op's
 * order: an upsert's keys then set, else set then keys, then a conflict
 * update's old values), so item_error can name the column of a value that
 * PostgreSQL rejects.  Keys are never cast (they are source columns).  A
 * row with more than ITEM_CASTS casts names the column of the first ones
 * only; the error is the same, with relation and LSN.
 */
static void note_casts(item *it, const wb_target_op *op)
{
    int first = op->kind == WB_OP_UPSERT ? (int)op->nkeys + 1 : 1;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!op->conflict || op->kind != WB_OP_UPDATE)
                break;
            first = (int)(op->nset + op->nkeys) + 1;
        }
        for (size_t i = 0; i < op->nset && n < ITEM_CASTS; i++)
            if (op->set[i].lookup && op->set[i].lookup->cast) {
                it->cast_param[n] = first + (int)i;
                it->cast_col[n++] = op->set[i].column;
            }
    }
}

int wb_apply_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn, wb_error *err)
{
    const char *name;
    size_t n = op->nkeys + 2 * op->nset + 4;
    const char *params[n];
    char flags[op->nkeys + op->nset + 1], stamp[32], lsnbuf[WB_LSN_BUFLEN];
    size_t p = 0, bytes = 0;
    int rc;

    if (a->nitems + 8 > MAX_ITEMS)
        return wb_error_set(err, WB_ELIMIT, "apply queue full");
    if ((rc = open_batch(a, err)) != 0)
        return rc;
    bool added;
    if ((rc = run_add(a, op, lsn, &added, err)) != 0 || added)
        return rc;
    if ((rc = get_stmt(a, op, &name, lsn, err)) != 0)
        return rc;
    if (op->kind == WB_OP_UPSERT) {
        for (size_t i = 0; i < op->nkeys; i++)
            params[p++] = op->keys[i].value;
        for (size_t i = 0; i < op->nset; i++)
            params[p++] = op->set[i].value;
    } else if (op->kind != WB_OP_TRUNCATE) {
        for (size_t i = 0; i < op->nset; i++)
            params[p++] = op->set[i].value;
        for (size_t i = 0; i < op->nkeys; i++)
            params[p++] = op->keys[i].value;
    }
    if (op->conflict) {
        size_t f = 0;
        if (op->kind == WB_OP_UPDATE) {
            for (size_t i = 0; i < op->nset; i++) {
                const wb_op_value *o = op->old ? &op->old[i] : NULL;
                bool known = o && o->column;
                params[p++] = known ? o->value : NULL;
                flags[f++] =
                    !known ? 'u'
                    : (o->value == NULL) != (op->set[i].value == NULL) ||
                            (o->value &&
                             strcmp(o->value, op->set[i].value) != 0)
                        ? 'c'
                        : 'n';
            }
        } else {
            for (size_t i = 0; i < op->nkeys + op->nset; i++)
                flags[f++] = 'i';
        }
        flags[f] = '\0';
        params[p++] = flags;
        if (op->conflict->resolve == WB_CONFLICT_LAST_WRITER_WINS) {
            if (op->conflict->by_commit_time) {
                snprintf(stamp, sizeof(stamp), "%lld",
                         (long long)op->commit_time);
                params[p++] = stamp;
            } else {
                params[p++] = op->stamp;
            }
            if (op->conflict->by_commit_time && a->clock_rel) {
                rc = 0;
                const wb_op_value *kv =
                    op->kind == WB_OP_UPSERT ? op->keys : op->set;
                wb_strbuf_reset(&a->karr);
                for (size_t k = 0; k < op->nkeys && rc == 0; k++)
                    rc = wb_pgarray_add(&a->karr, kv[k].value);
                if (rc == 0)
                    rc = wb_pgarray_finish(&a->karr);
                if (rc)
                    return wb_error_set(err, WB_ENOMEM, "out of memory");
                params[p++] = a->karr.data;
                params[p++] = wb_lsn_format(lsn, lsnbuf);
            }
        }
    }
    for (size_t i = 0; i < p; i++)
        bytes += params[i] ? strlen(params[i]) : 0;
    if (!PQsendQueryPrepared(a->conn, name, (int)p, params, NULL, NULL, 0))
        return send_failed(a, "could not send a change to the target", err);
    item *it = push(a, IT_OP);
    it->op = op->kind;
    it->mapping = op->mapping;
    it->schema = op->schema;
    it->table = op->table;
    it->lsn = lsn;
    it->warn_missing = op->kind == WB_OP_UPDATE && !op->insert_if_missing;
    it->conflict = op->conflict;
    it->counted = wb_sql_counted(op);
    it->from_schema = op->from_schema;
    it->from_table = op->from_table;
    it->commit_time = op->commit_time;
    note_casts(it, op);
    for (size_t i = 0, w0 = 0; i < op->nkeys && w0 < sizeof(it->row); i++) {
        int w = snprintf(it->row + w0, sizeof(it->row) - w0, "%s%s=%s",
                         i ? ", " : "", op->keys[i].column,
                         op->keys[i].value ? op->keys[i].value : "NULL");
        if (w < 0)
            break;
        w0 += (size_t)w;
    }
    it->bytes = bytes;
    a->inflight_bytes += bytes;
    a->batch_bytes += bytes;
    a->stats.ops++;
    if (op->has_lookup && (rc = note_links(a, op, lsn, err)) != 0)
        return rc;
    /* Keep results flowing back during a long transaction: without a
     * Flush or Sync the server keeps them in its output buffer. */
    if (a->stats.ops % FLUSH_REQUEST_EVERY == 0 && !PQsendFlushRequest(a->conn))
        return send_failed(a, "could not send a flush request", err);
    return 0;
}

/* Queue the stored position, COMMIT and a sync for the open batch. */
static int close_batch(wb_apply *a, wb_error *err)
{
    int rc;

    if (!a->in_txn)
        return 0;
    if (a->batch_end == WB_INVALID_LSN) {
        /* Nothing complete in it (a stop in the middle): roll it back. */
        return wb_apply_rollback_batch(a, err);
    }
    if ((rc = flush_run(a, err)) != 0)
        return rc;
    if ((rc = resolve_links(a, err)) != 0)
        return rc;
    wb_progress_stmt ps;
    wb_progress_store_stmt(a->progress, a->batch_end, a->batch_time, &ps);
    rc = send_simple(a, IT_OTHER, ps.sql, ps.nparams, ps.params, err);
    if (rc)
        return rc;
    if (!PQsendQueryParams(a->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
        return send_failed(a, "could not send COMMIT", err);
    item *it = push(a, IT_COMMIT);
    a->commits_out++;
    a->last_sent_end = a->batch_end;
    it->lsn = a->batch_end;
    it->txns = a->batch_txns;
    if (!wb_progress_sync_commit(a->progress)) {
        rc = send_simple(a, IT_LOCAL_LSN, "SELECT pg_current_wal_insert_lsn()",
                         0, NULL, err);
        if (rc)
            return rc;
        a->items[(a->head + a->nitems - 1) % MAX_ITEMS].lsn = a->batch_end;
    }
    if (!PQpipelineSync(a->conn))
        return send_failed(a, "could not send a pipeline sync", err);
    push(a, IT_SYNC);
    a->in_txn = false;
    a->batch_end = WB_INVALID_LSN;
    return wb_apply_flush(a, err) < 0 ? WB_ECONN : 0;
}

int wb_apply_rollback_batch(wb_apply *a, wb_error *err)
{
    if (!a->in_txn)
        return 0;
    discard_run(a);
    a->in_txn = false;
    a->batch_end = WB_INVALID_LSN;
    if (!PQsendQueryParams(a->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0))
        return send_failed(a, "could not send ROLLBACK", err);
    push(a, IT_ROLLBACK);
    if (!PQpipelineSync(a->conn))
        return send_failed(a, "could not send a pipeline sync", err);
    push(a, IT_SYNC);
    return wb_apply_flush(a, err) < 0 ? WB_ECONN : 0;
}

bool wb_apply_batch_due(const wb_apply *a)
{
    return a->in_txn && a->batch_end != WB_INVALID_LSN &&
           (a->batch_txns >= a->max_batch_txns ||
            a->batch_bytes >= MAX_BATCH_BYTES ||
            wb_clock_ms() - a->batch_opened_ms >= a->batch_latency_ms);
}

int wb_apply_txn_done(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                      bool wrote, wb_error *err)
{
    if (!a->in_txn) {
        if (!wrote)
            return 0;
        return wb_error_set(err, WB_EINVAL, "transaction end without begin");
    }
    if (end_lsn > a->batch_end) {
        a->batch_end = end_lsn;
        a->batch_time = commit_time;
    }
    if (wrote)
        a->batch_txns++;
    if (wb_apply_batch_due(a))
        return close_batch(a, err);
    /* Sent by the run loop once the messages at hand are handled: one
     * write per round, not one per transaction. */
    return 0;
}

int64_t wb_apply_batch_due_in_ms(const wb_apply *a)
{
    if (!a->in_txn || a->batch_end == WB_INVALID_LSN)
        return -1;
    int64_t left = a->batch_opened_ms + a->batch_latency_ms - wb_clock_ms();
    return left > 0 ? left : 0;
}

int wb_apply_source_idle(wb_apply *a, wb_error *err)
{
    if (!a->in_txn || a->batch_end == WB_INVALID_LSN || a->commits_out > 0)
        return 0;
    /* Only when caught up: while catching up on a backlog the source also
     * runs dry between the walsender's sends, and committing each time
     * made batches 4x smaller (profile.sh backlog: 515 instead of 139
     * target commits for 100k transactions) for no gain in lag.  The
     * clocks of the two hosts are compared: a skew only moves the choice
     * between this and the latency timer, both correct. */
    if (wb_pgtime_now() - a->batch_time > a->batch_latency_ms * 1000)
        return 0;
    return close_batch(a, err);
}

/* synchronous_commit off: ask how far the target's WAL is flushed. */
static int query_flush(wb_apply *a, bool force, wb_error *err)
{
    int rc;
    if (wb_progress_sync_commit(a->progress) || a->flush_query_out ||
        (wb_progress_unflushed(a->progress) == 0 && !force) ||
        (!force && wb_clock_ms() - a->last_flush_query_ms < FLUSH_QUERY_MS))
        return 0;
    rc = send_simple(a, IT_FLUSH_LSN, "SELECT pg_current_wal_flush_lsn()", 0,
                     NULL, err);
    if (rc)
        return rc;
    a->flush_query_out = true;
    a->last_flush_query_ms = wb_clock_ms();
    if (!a->in_txn) {
        if (!PQpipelineSync(a->conn))
            return send_failed(a, "could not send a pipeline sync", err);
        push(a, IT_SYNC);
    } else if (!PQsendFlushRequest(a->conn)) {
        return send_failed(a, "could not send a flush request", err);
    }
    return wb_apply_flush(a, err) < 0 ? WB_ECONN : 0;
}

int wb_apply_tick(wb_apply *a, wb_error *err)
{
    int rc;
    if (wb_apply_batch_due(a) && (rc = close_batch(a, err)) != 0)
        return rc;
    return a->pipeline ? query_flush(a, false, err) : 0;
}

int wb_apply_make_durable(wb_apply *a, int timeout_ms, wb_error *err)
{
    int rc;
    if (wb_progress_unflushed(a->progress) == 0)
        return 0;
    /* A commit with synchronous_commit on flushes the WAL up to its own
     * record, so everything committed before it is then durable too.  It
     * must write WAL before COMMIT to be waited for: the marker does. */
    const char *p[1] = {wb_progress_origin_name(a->progress)};
    ensure_pipeline(a);
    if ((rc = send_simple(a, IT_OTHER, "BEGIN", 0, NULL, err)) != 0 ||
        (rc = send_simple(a, IT_OTHER, "SET LOCAL synchronous_commit = on", 0,
                          NULL, err)) != 0 ||
        (rc = send_simple(a, IT_OTHER, WB_SQL_MARKER, 1, p, err)) != 0 ||
        (rc = send_simple(a, IT_OTHER, "COMMIT", 0, NULL, err)) != 0)
        return rc;
    if (!PQpipelineSync(a->conn))
        return send_failed(a, "could not send a pipeline sync", err);
    push(a, IT_SYNC);
    if ((rc = wb_apply_drain(a, timeout_ms, err)) != 0)
        return rc;
    if ((rc = query_flush(a, true, err)) != 0)
        return rc;
    return wb_apply_drain(a, timeout_ms, err);
}

int wb_apply_close_batch(wb_apply *a, wb_error *err)
{
    return close_batch(a, err);
}

int wb_apply_store_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                            wb_error *err)
{
    int rc;
    if (a->in_txn) {
        /* Rides along with the open batch. */
        if (end_lsn > a->batch_end) {
            a->batch_end = end_lsn;
            a->batch_time = commit_time;
        }
        return 0;
    }
    if ((rc = open_batch(a, err)) != 0)
        return rc;
    a->batch_end = end_lsn;
    a->batch_time = commit_time;
    return close_batch(a, err);
}

int wb_apply_flush(wb_apply *a, wb_error *err)
{
    if (!a->pipeline)
        return 0;
    int r = PQflush(a->conn);
    if (r < 0)
        return send_failed(a, "could not send to the target", err);
    a->want_write = r == 1;
    return r;
}

static const char *op_verb(wb_op_kind k)
{
    switch (k) {
    case WB_OP_UPSERT:
        return "upsert into";
    case WB_OP_UPDATE:
        return "update";
    case WB_OP_DELETE:
        return "delete from";
    case WB_OP_TRUNCATE:
        return "truncate";
    }
    return "write";
}

/*
 * The column of a value cast on the target that PostgreSQL rejected: a
 * parameter that does not read as its type fails when the statement binds
 * it, and the error's context then says "... parameter $n ...".  NULL
 * when it is no such error.
 */
static const char *cast_column(const item *it, const PGresult *res)
{
    const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const char *at = ctx ? strstr(ctx, "parameter $") : NULL;
    if (!at || !it->cast_col[0])
        return NULL;
    long n = strtol(at + strlen("parameter $"), NULL, 10);
    for (size_t i = 0; i < ITEM_CASTS && it->cast_col[i]; i++)
        if (it->cast_param[i] == n)
            return it->cast_col[i];
    return NULL;
}

/* Turn the failed result of it into err. */
static int item_error(wb_apply *a, const item *it, PGresult *res, wb_error *err)
{
    char what[320];
    int code = wb_conn_lost(a->conn, res) ? WB_ECONN : WB_EDATA;

    switch (it->kind) {
    case IT_OP:
        snprintf(what, sizeof(what),
                 "could not %s \"%s.%s\" for mapping \"%s\"", op_verb(it->op),
                 it->schema, it->table, it->mapping);
        break;
    case IT_PREPARE:
        snprintf(what, sizeof(what),
                 "could not prepare a statement on \"%s.%s\" for mapping "
                 "\"%s\"",
                 it->schema, it->table, it->mapping);
        break;
    case IT_COMMIT:
        snprintf(what, sizeof(what), "could not commit the target transaction");
        if (code == WB_EDATA)
            code = WB_ESQL;
        break;
    default:
        snprintf(what, sizeof(what), "target statement failed");
        if (code == WB_EDATA)
            code = WB_ESQL;
        break;
    }
    wb_conn_result_error(err, code, a->conn, res, what);
    if (it->row[0] && !(err && err->detail[0]))
        wb_error_detail(err, "The target row is %s.", it->row);
    if (it->set_based && code == WB_EDATA) {
        /* Which row?  The run is applied again row by row to tell. */
        a->set_failed = true;
        wb_error_detail(err,
                        "A set-based statement of %zu rows failed; "
                        "the batch is applied again row by row.",
                        it->rows);
    }
    if (it->schema)
        wb_error_relation(err, it->schema, it->table);
    const char *col = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
    if (!col)
        col = cast_column(it, res);
    if (col)
        wb_error_column(err, col);
    if (it->lsn)
        wb_error_lsn(err, it->lsn);
    return code;
}

static const char *policy_name(const wb_config_conflict *c)
{
    switch (c->resolve) {
    case WB_CONFLICT_TARGET_WINS:
        return "target_wins";
    case WB_CONFLICT_LAST_WRITER_WINS:
        return c->by_commit_time ? "last_writer_wins by commit time"
                                 : "last_writer_wins by column";
    default:
        return "source_wins";
    }
}

/* "2026-12-02 19:00:01.123456+00" from PG epoch microseconds. */
static void format_pg_time(int64_t us, char *buf, size_t n)
{
    time_t secs = (time_t)(us / 1000000 + WB_PG_EPOCH_OFFSET_US / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    gmtime_r(&secs, &tm);
    size_t w = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + w, n - w, ".%06ld+00", frac);
}

/*
 * The one row of a conflict statement: written, found, the conflicting
 * columns, those of them the incoming change won, the target row's last
 * commit time and origin.  Conflicts are logged here, where both sides are
 * known: the incoming change (source relation, commit, LSN) and the row it
 * met (who wrote it last, when).  No values: they may be personal data.
 */
static int conflict_result(wb_apply *a, const item *it, PGresult *res,
                           wb_error *err)
{
    char lsnbuf[WB_LSN_BUFLEN], inc[40], who[64];
    const char *roident = wb_progress_origin_id(a->progress);

    if (PQntuples(res) != 1 || PQnfields(res) != 6)
        return wb_error_set(err, WB_EPROTO,
                            "unexpected result of a conflict statement on "
                            "\"%s.%s\"",
                            it->schema, it->table);
    a->pending_written += strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
        if (it->warn_missing)
            wb_log(WB_LOG_WARNING,
                   "row to update not found in \"%s.%s\" for mapping \"%s\" "
                   "at %s",
                   it->schema, it->table, it->mapping,
                   wb_lsn_format(it->lsn, lsnbuf));
        return 0;
    }
    const char *cols = PQgetvalue(res, 0, 2);
    if (!cols[0])
        return 0;
    const char *won = PQgetvalue(res, 0, 3);
    a->pending_conflicts++;
    format_pg_time(it->commit_time, inc, sizeof(inc));
    if (PQgetisnull(res, 0, 5))
        snprintf(who, sizeof(who), "%s",
                 a->track_cts ? "an unknown writer (no commit timestamp)"
                              : "an unknown writer (track_commit_timestamp "
                                "is off)");
    else if (strcmp(PQgetvalue(res, 0, 5), "0") == 0)
        snprintf(who, sizeof(who), "a local session");
    else if (roident[0] && strcmp(PQgetvalue(res, 0, 5), roident) == 0)
        snprintf(who, sizeof(who), "walbridge (origin \"%s\")",
                 wb_progress_origin_name(a->progress));
    else
        snprintf(who, sizeof(who), "replication origin %s",
                 PQgetvalue(res, 0, 5));
    wb_error e;
    wb_error_clear(&e);
    wb_error_set(&e, 0,
                 "conflict on \"%s.%s\" for mapping \"%s\": column(s) %s "
                 "changed on both sides",
                 it->schema, it->table, it->mapping, cols);
    wb_error_detail(&e,
                    "The target row is %s.  The incoming change comes from "
                    "\"%s.%s\", committed at %s (LSN %s); the target row was "
                    "last written by %s at %s.  Resolved by %s: %s%s.",
                    it->row, it->from_schema, it->from_table, inc,
                    wb_lsn_format(it->lsn, lsnbuf), who,
                    PQgetisnull(res, 0, 4) ? "an unknown time"
                                           : PQgetvalue(res, 0, 4),
                    policy_name(it->conflict),
                    !won[0]                  ? "kept the target's values"
                    : strcmp(won, cols) == 0 ? "wrote the incoming values"
                                             : "wrote the incoming values of ",
                    !won[0] || strcmp(won, cols) == 0 ? "" : won);
    wb_error_relation(&e, it->schema, it->table);
    wb_error_lsn(&e, it->lsn);
    wb_log_error(WB_LOG_INFO, &e);
    return 0;
}

static int handle_result(wb_apply *a, item *it, PGresult *res, wb_error *err)
{
    ExecStatusType st = PQresultStatus(res);
    char lsnbuf[WB_LSN_BUFLEN];

    if (st == PGRES_FATAL_ERROR)
        return item_error(a, it, res, err);
    if (st == PGRES_PIPELINE_ABORTED)
        return wb_error_set(err, WB_ESQL,
                            "target pipeline aborted before the failing "
                            "statement was reported");
    switch (it->kind) {
    case IT_SYNC:
        if (st != PGRES_PIPELINE_SYNC)
            return wb_error_set(err, WB_EPROTO,
                                "unexpected result for a pipeline sync");
        return 0;
    case IT_COMMIT:
        /* An aborted transaction "commits" as ROLLBACK with status OK. */
        if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
            return wb_error_set(err, WB_ESQL,
                                "target transaction was rolled back");
        wb_progress_committed(a->progress, it->lsn);
        a->stats.txns += it->txns;
        a->stats.rows_written += a->pending_written;
        a->stats.conflicts += a->pending_conflicts;
        a->stats.links_resolved += a->pending_linked;
        a->stats.links_pending += a->pending_noted;
        a->pending_written = a->pending_conflicts = 0;
        a->pending_linked = a->pending_noted = 0;
        return 0;
    case IT_ROLLBACK:
        a->pending_written = a->pending_conflicts = 0;
        a->pending_linked = a->pending_noted = 0;
        return 0;
    case IT_LINK_NOTE:
        a->pending_noted += strtoull(PQcmdTuples(res), NULL, 10);
        return 0;
    case IT_LINK_RESOLVE: {
        uint64_t n = strtoull(PQcmdTuples(res), NULL, 10);
        a->pending_written += n;
        a->pending_linked += n;
        if (n)
            wb_log(WB_LOG_DEBUG,
                   "linked %llu rows of \"%s.%s\" for mapping \"%s\"",
                   (unsigned long long)n, it->schema, it->table, it->mapping);
        return 0;
    }
    case IT_LOCAL_LSN: {
        wb_lsn local;
        if (PQntuples(res) != 1 ||
            wb_lsn_parse(PQgetvalue(res, 0, 0), &local) != 0)
            return wb_error_set(err, WB_EPROTO,
                                "invalid WAL position from the target");
        wb_progress_committed_at(a->progress, local, it->lsn);
        return 0;
    }
    case IT_FLUSH_LSN: {
        wb_lsn flushed;
        a->flush_query_out = false;
        if (PQntuples(res) != 1 ||
            wb_lsn_parse(PQgetvalue(res, 0, 0), &flushed) != 0)
            return wb_error_set(err, WB_EPROTO,
                                "invalid WAL position from the target");
        wb_progress_flushed(a->progress, flushed);
        return 0;
    }
    case IT_OP:
        a->inflight_bytes -= it->bytes;
        if (it->conflict)
            return conflict_result(a, it, res, err);
        if (it->counted)
            a->pending_written +=
                PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10)
                                    : 0;
        else
            a->pending_written += strtoull(PQcmdTuples(res), NULL, 10);
        if (it->warn_missing && strcmp(PQcmdTuples(res), "0") == 0)
            wb_log(WB_LOG_WARNING,
                   "row to update not found in \"%s.%s\" for mapping \"%s\" "
                   "at %s",
                   it->schema, it->table, it->mapping,
                   wb_lsn_format(it->lsn, lsnbuf));
        return 0;
    default:
        return 0;
    }
}

int wb_apply_consume(wb_apply *a, wb_error *err)
{
    if (!a->pipeline)
        return 0;
    if (!PQconsumeInput(a->conn))
        return wb_conn_result_error(err, WB_ECONN, a->conn, NULL,
                                    "lost the target connection");
    while (a->nitems > 0 && !PQisBusy(a->conn)) {
        PGresult *res = PQgetResult(a->conn);
        if (!res) {
            /* The end of one statement's results. */
            if (a->expect_null) {
                a->expect_null = false;
                continue;
            }
            break;
        }
        item *it = &a->items[a->head];
        a->head = (a->head + 1) % MAX_ITEMS;
        a->nitems--;
        if (it->kind == IT_COMMIT)
            a->commits_out--;
        a->expect_null = PQresultStatus(res) != PGRES_PIPELINE_SYNC;
        int rc = handle_result(a, it, res, err);
        PQclear(res);
        if (rc)
            return rc;
    }
    return 0;
}

int wb_apply_drain(wb_apply *a, int timeout_ms, wb_error *err)
{
    int64_t deadline = wb_clock_ms() + timeout_ms;
    int rc;

    /* Whatever is queued without a Sync must be asked for. */
    if ((rc = wb_apply_kick(a, err)) != 0)
        return rc;
    size_t left_items = a->nitems;
    while (a->nitems > 0) {
        /* The ceiling is on silence, not on the whole queue: a long queue
         * on a busy target takes as long as it takes.  Giving up while
         * results still come in would close the connection under batches
         * the server goes on to commit, uncounted and reported as lost. */
        if (a->nitems < left_items) {
            left_items = a->nitems;
            deadline = wb_clock_ms() + timeout_ms;
        }
        int64_t left = deadline - wb_clock_ms();
        if (left <= 0)
            return wb_error_set(err, WB_ECONN,
                                "timed out waiting for the target");
        if ((rc = wb_apply_flush(a, err)) < 0)
            return rc;
        struct pollfd pfd = {.fd = PQsocket(a->conn),
                             .events = (short)(POLLIN | (rc ? POLLOUT : 0))};
        poll(&pfd, 1, (int)(left < 100 ? left : 100));
        if ((rc = wb_apply_consume(a, err)) != 0)
            return rc;
    }
    return 0;
}

int wb_apply_kick(wb_apply *a, wb_error *err)
{
    int rc;
    if (a->pipeline && (rc = flush_run(a, err)) != 0)
        return rc;
    if (!a->pipeline || a->nitems == 0)
        return 0;
    /* The server holds results in its output buffer until a Sync or a
     * Flush; ask for them, and send whatever libpq still buffers. */
    if (!PQsendFlushRequest(a->conn))
        return send_failed(a, "could not send a flush request", err);
    return wb_apply_flush(a, err) < 0 ? WB_ECONN : 0;
}

int wb_apply_socket(const wb_apply *a)
{
    return PQsocket(a->conn);
}
bool wb_apply_wants_write(const wb_apply *a)
{
    return a->want_write;
}
wb_lsn wb_apply_durable_lsn(const wb_apply *a)
{
    return wb_progress_durable(a->progress);
}
bool wb_apply_busy(const wb_apply *a)
{
    /* Not idle while committed batches still wait for their WAL flush:
     * an idle position stored after them must not be reported first. */
    return a->in_txn || a->nitems > 0 || wb_progress_unflushed(a->progress) > 0;
}

bool wb_apply_backlogged(const wb_apply *a)
{
    return a->nitems >= MAX_ITEMS / 2 ||
           a->inflight_bytes >= MAX_INFLIGHT_BYTES ||
           wb_progress_unflushed(a->progress) >= WB_PROGRESS_RING - 64;
}

bool wb_apply_drained_enough(const wb_apply *a)
{
    return a->nitems < MAX_ITEMS / 4 &&
           a->inflight_bytes < MAX_INFLIGHT_BYTES / 2;
}
