/*
 * sync.c - the initial copy (see sync.h).
 *
 * Flow of one table: source/tablecopy.c reads its rows under the slot's
 * snapshot, decode/copyrow.c makes each a tuple, dispatch.c routes it to
 * the mappings being copied and queues their target operations on the
 * applier; every chunk ends with the sync state of those mappings and a
 * transaction end for the applier's batching (apply.h), so the batch that
 * commits a chunk's rows also commits how far the copy got.
 *
 * The copy runs before the stream starts, on the run loop's thread: it
 * waits on the source (a blocking read of the COPY) and, when the target
 * falls behind, on the applier (wb_apply_make_room), as a streamed
 * transaction's replay does.  Between chunks it asks the caller whether
 * to stop.
 */
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/pgarray.h"
#include "decode/copyrow.h"
#include "decode/relcache.h"
#include "source/tablecopy.h"
#include "sync.h"

/* A chunk ends its transaction, and with it the COPY of its rows: as long
 * as the applier's longest COPY (64000 rows, apply/setrun.h), so that no
 * COPY is cut short; each end is a wait for the target. */
#define CHUNK_ROWS     64000
#define CHUNK_BYTES    ((size_t)8 * 1024 * 1024)
#define ROOM_WAIT_MS   (10 * 60 * 1000)
#define SETTLE_MS      (10 * 60 * 1000)
#define PROGRESS_EVERY 10000 /* ms between progress lines */

bool wb_sync_wanted(const wb_config *cfg)
{
    for (size_t i = 0; i < cfg->nmappings; i++)
        if (cfg->mappings[i].enabled && cfg->mappings[i].initial_copy)
            return true;
    return false;
}

int wb_sync_start(const wb_config *cfg, wb_apply *a, wb_lsn lsn,
                  int64_t commit_time, wb_error *err)
{
    const char *rel = wb_apply_sync_rel(a);
    wb_strbuf sql = {0};
    char l[WB_LSN_BUFLEN];
    int rc = 0;

    if (!rel)
        return wb_error_set(err, WB_EINVAL,
                            "the sync state table is not set "
                            "up");
    if (wb_syncstate_sql_start(&sql, rel) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    wb_lsn_format(lsn, l);
    for (size_t i = 0; i < cfg->nmappings && rc == 0; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled)
            continue;
        const char *p[5] = {cfg->source.slot, m->name, m->digest,
                            wb_sync_kind_name(m->initial_copy
                                                  ? WB_SYNC_COPYING
                                                  : WB_SYNC_SKIPPED),
                            l};
        rc = wb_apply_batch_stmt(a, sql.data, 5, p, lsn, err);
    }
    wb_strbuf_free(&sql);
    if (rc == 0)
        rc = wb_apply_txn_done(a, lsn, commit_time, true, err);
    if (rc == 0)
        rc = wb_apply_close_batch(a, err);
    if (rc == 0)
        rc = wb_apply_settle(a, SETTLE_MS, err);
    return rc;
}

/* One source table being copied, and the mappings it feeds. */
typedef struct table_copy {
    const wb_config_table *from;
    size_t nmaps;
    const wb_config_mapping **maps;
    int64_t *done_rows; /* per mapping: rows the stored state says */
} table_copy;

typedef struct copier {
    wb_dispatch *d;
    wb_apply *a;
    wb_tablecopy *tc;
    wb_relcache *relcache;
    wb_arena *table_arena;
    /* Rows are decoded into one, the last row kept in the other (its key
     * is the cursor where a chunk ends, even after the COPY's trailer). */
    wb_arena *row_arena, *last_arena;
    wb_strbuf advance_sql; /* wb_syncstate_sql_advance's */
    wb_strbuf cursor;      /* the last row's key, a text[] literal */
    wb_lsn lsn;
    int64_t commit_time;
    bool binary;
    bool commit_times; /* the source tracks them (a policy may need them) */
    const char *slot;
    wb_error *err;
    /* progress lines */
    int64_t started_ms, last_line_ms;
    uint64_t total_rows;
} copier;

/* The key of row t, the last one read, as a text[] literal into
 * x->cursor (empty when the table has no ordering key).  Made only where
 * a chunk ends: a binary copy whose key walbridge can give the text of
 * does not read the key's text with every row (tablecopy.h). */
static int note_cursor(copier *x, const wb_tablecopy_rel *tr, const wb_tuple *t)
{
    return wb_tablecopy_cursor(tr, x->binary, t, x->last_arena, &x->cursor,
                               x->err);
}

/* End a chunk: the sync state of each mapping of the table, then a
 * transaction end for the applier (which closes the batch when due). */
static int end_chunk(copier *x, table_copy *tcp, int64_t rows, bool done)
{
    char now[24], before[24];
    int rc;

    snprintf(now, sizeof(now), "%lld", (long long)rows);
    for (size_t i = 0; i < tcp->nmaps; i++) {
        snprintf(before, sizeof(before), "%lld", (long long)tcp->done_rows[i]);
        const char *p[6] = {
            x->slot,
            tcp->maps[i]->name,
            x->cursor.len ? x->cursor.data : NULL,
            now,
            wb_sync_kind_name(done ? WB_SYNC_DONE : WB_SYNC_COPYING),
            before};
        if ((rc = wb_apply_batch_stmt(x->a, x->advance_sql.data, 6, p, x->lsn,
                                      x->err)) != 0)
            return rc;
        tcp->done_rows[i] = rows;
    }
    if ((rc = wb_apply_txn_done(x->a, x->lsn, x->commit_time, true, x->err)))
        return rc;
    return wb_apply_flush(x->a, x->err) < 0 ? WB_ECONN : 0;
}

static void progress_line(copier *x, const wb_tablecopy_rel *tr, int64_t rows,
                          bool force)
{
    int64_t now = wb_clock_ms();
    if (!force && now - x->last_line_ms < PROGRESS_EVERY)
        return;
    x->last_line_ms = now;
    double secs = (double)(now - x->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)x->total_rows / secs : 0;
    if (tr->reltuples > 0 && (uint64_t)rows < tr->reltuples)
        wb_log(WB_LOG_INFO,
               "copying \"%s.%s\": %lld of about %llu rows (%.0f%%), %.0f "
               "rows/s",
               tr->rel.nspname, tr->rel.relname, (long long)rows,
               (unsigned long long)tr->reltuples,
               100.0 * (double)rows / (double)tr->reltuples, rate);
    else
        wb_log(WB_LOG_INFO, "copying \"%s.%s\": %lld rows, %.0f rows/s",
               tr->rel.nspname, tr->rel.relname, (long long)rows, rate);
}

/* Copy one source table to its mappings. */
static int copy_table(copier *x, table_copy *tcp, wb_sync_stop_fn stop,
                      void *ud)
{
    wb_tablecopy_rel tr;
    wb_copyrow_reader rd;
    int64_t rows = 0, chunk_rows = 0;
    size_t chunk_bytes = 0;
    int rc;

    wb_arena_reset(x->table_arena);
    if ((rc = wb_tablecopy_describe(x->tc, tcp->from, x->table_arena, &tr,
                                    x->err)) != 0)
        return rc;
    wb_relcache_entry *e = wb_relcache_update(x->relcache, &tr.rel, x->err);
    if (!e)
        return x->err->code ? x->err->code : WB_ENOMEM;
    for (size_t i = 0; i < tcp->nmaps && x->commit_times; i++)
        tr.commit_times = tr.commit_times ||
                          wb_conflict_by_commit_time(&tcp->maps[i]->conflict);
    if ((rc = wb_tablecopy_start(x->tc, &tr, x->binary, x->err)) != 0)
        return rc;
    wb_copyrow_init(&rd, x->binary, wb_tablecopy_ncols(&tr, x->binary));
    wb_strbuf_reset(&x->cursor);
    /* The last row read: its key is the cursor where a chunk ends. */
    wb_tuple t = {0};
    for (;;) {
        char *buf;
        bool row;
        int n = wb_tablecopy_read(x->tc, &buf, x->err);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        wb_tuple next;
        wb_arena_reset(x->row_arena);
        rc = wb_copyrow_decode(&rd, buf, (size_t)n, x->row_arena, &next, &row,
                               x->err);
        wb_tablecopy_freemem(buf);
        if (rc) {
            wb_error_relation(x->err, tr.rel.nspname, tr.rel.relname);
            return rc;
        }
        if (!row)
            continue;
        t = next;
        wb_arena *spare = x->last_arena;
        x->last_arena = x->row_arena;
        x->row_arena = spare;
        /* A policy by commit time weighs the row's own commit against
         * the target's, not the copy's time. */
        int64_t commit_time =
            wb_tablecopy_row_commit_time(&tr, x->binary, &t, x->commit_time);
        wb_tuple cols = t;
        cols.ncols = tr.rel.natts; /* the rest is the copy's own */
        if (wb_apply_backlogged(x->a) &&
            (rc = wb_apply_make_room(x->a, ROOM_WAIT_MS, x->err)) != 0)
            return rc;
        wb_copied_row cr = {&tr.rel,    e->generation, &cols,       tcp->maps,
                            tcp->nmaps, x->lsn,        commit_time, false};
        if ((rc = wb_dispatch_copied_row(x->d, &cr)) != 0)
            return rc;
        rows++;
        x->total_rows++;
        chunk_bytes += (size_t)n;
        if (++chunk_rows >= CHUNK_ROWS || chunk_bytes >= CHUNK_BYTES) {
            if ((rc = note_cursor(x, &tr, &t)) != 0 ||
                (rc = end_chunk(x, tcp, rows, false)) != 0)
                return rc;
            chunk_rows = 0;
            chunk_bytes = 0;
            progress_line(x, &tr, rows, false);
            if (stop && stop(ud))
                return wb_error_set(x->err, WB_ECANCELED,
                                    "the initial copy was stopped");
        }
    }
    if (rows > 0 && (rc = note_cursor(x, &tr, &t)) != 0)
        return rc;
    if ((rc = end_chunk(x, tcp, rows, true)) != 0)
        return rc;
    if (tr.norder == 0 && rows > 0)
        wb_log(WB_LOG_INFO,
               "table \"%s.%s\" has no primary key or replica identity "
               "index: its rows were copied in no particular order, so an "
               "interrupted copy could not have resumed from a key",
               tr.rel.nspname, tr.rel.relname);
    for (size_t i = 0; i < tcp->nmaps; i++)
        wb_log(WB_LOG_INFO, "mapping \"%s\": copied %lld rows of \"%s.%s\"",
               tcp->maps[i]->name, (long long)rows, tr.rel.nspname,
               tr.rel.relname);
    return 0;
}

static bool same_table(const wb_config_table *a, const wb_config_table *b)
{
    return strcmp(a->schema, b->schema) == 0 && strcmp(a->table, b->table) == 0;
}

/* The tables to copy, each once, with the mappings that read it, in the
 * order of their first mapping. */
static int plan_tables(const wb_config *cfg, table_copy **out, size_t *n)
{
    table_copy *t = calloc(cfg->nmappings ? cfg->nmappings : 1, sizeof(*t));
    size_t nt = 0;
    if (!t)
        return WB_ENOMEM;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled || !m->initial_copy)
            continue;
        size_t j = 0;
        while (j < nt && !same_table(t[j].from, &m->from))
            j++;
        if (j == nt) {
            t[nt].from = &m->from;
            t[nt].maps = calloc(cfg->nmappings, sizeof(*t[nt].maps));
            t[nt].done_rows = calloc(cfg->nmappings, sizeof(int64_t));
            nt++;
            if (!t[j].maps || !t[j].done_rows) {
                *out = t;
                *n = nt;
                return WB_ENOMEM;
            }
        }
        t[j].maps[t[j].nmaps++] = m;
    }
    *out = t;
    *n = nt;
    return 0;
}

static void free_tables(table_copy *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].maps);
        free(t[i].done_rows);
    }
    free(t);
}

/* Rows copied for a mapping resolving conflicts by commit time carry
 * their own (pg_xact_commit_timestamp(xmin)) when the source tracks them;
 * else the copy's time, said once. */
static int commit_times(copier *x, const wb_config *cfg)
{
    const wb_config_mapping *m = NULL;
    for (size_t i = 0; i < cfg->nmappings && !m; i++)
        if (cfg->mappings[i].enabled && cfg->mappings[i].initial_copy &&
            wb_conflict_by_commit_time(&cfg->mappings[i].conflict))
            m = &cfg->mappings[i];
    if (!m)
        return 0;
    int rc = wb_tablecopy_tracks_commit_times(x->tc, &x->commit_times, x->err);
    if (rc == 0 && !x->commit_times)
        wb_log(WB_LOG_INFO,
               "mapping \"%s\" resolves conflicts by commit time, but the "
               "source does not track commit timestamps: copied rows carry "
               "the copy's time",
               m->name);
    return rc;
}

int wb_sync_copy(wb_dispatch *d, wb_apply *a, const char *snapshot, wb_lsn lsn,
                 int64_t commit_time, bool binary, wb_sync_stop_fn stop,
                 void *ud, wb_error *err)
{
    const wb_config *cfg = wb_dispatch_config(d);
    copier x = {.d = d,
                .a = a,
                .lsn = lsn,
                .commit_time = commit_time,
                .binary = binary,
                .slot = cfg->source.slot,
                .err = err};
    table_copy *tables = NULL;
    size_t ntables = 0;
    char l[WB_LSN_BUFLEN];
    int rc;

    if (!wb_apply_sync_rel(a))
        return wb_error_set(err, WB_EINVAL,
                            "the sync state table is not set up");
    x.relcache = wb_relcache_create();
    x.table_arena = wb_arena_create(64 * 1024, 0);
    x.row_arena = wb_arena_create(64 * 1024, 0);
    x.last_arena = wb_arena_create(64 * 1024, 0);
    if (!x.relcache || !x.table_arena || !x.row_arena || !x.last_arena ||
        wb_syncstate_sql_advance(&x.advance_sql, wb_apply_sync_rel(a)) != 0 ||
        plan_tables(cfg, &tables, &ntables) != 0) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = wb_tablecopy_open(cfg->source.conninfo, snapshot, &x.tc, err)) !=
            0 ||
        (rc = commit_times(&x, cfg)) != 0)
        goto out;
    wb_log(WB_LOG_INFO,
           "copying the existing rows of %zu table%s as of %s (%s values)",
           ntables, ntables == 1 ? "" : "s", wb_lsn_format(lsn, l),
           binary ? "binary" : "text");
    x.started_ms = x.last_line_ms = wb_clock_ms();
    for (size_t i = 0; i < ntables && rc == 0; i++)
        rc = copy_table(&x, &tables[i], stop, ud);
    if (rc == 0 || rc == WB_ECANCELED) {
        /* Commit what is complete (a stop ends at a chunk's end). */
        int rc2 = wb_apply_close_batch(a, err);
        if (rc2 == 0)
            rc2 = wb_apply_settle(a, SETTLE_MS, err);
        if (rc2)
            rc = rc2;
    }
    if (rc == 0) {
        double secs = (double)(wb_clock_ms() - x.started_ms) / 1000.0;
        wb_log(WB_LOG_INFO,
               "initial copy done: %llu rows of %zu table%s in %.1f s",
               (unsigned long long)x.total_rows, ntables,
               ntables == 1 ? "" : "s", secs);
    }
out:
    wb_tablecopy_close(x.tc);
    free_tables(tables, ntables);
    wb_strbuf_free(&x.advance_sql);
    wb_strbuf_free(&x.cursor);
    wb_arena_destroy(x.row_arena);
    wb_arena_destroy(x.last_arena);
    wb_arena_destroy(x.table_arena);
    wb_relcache_destroy(x.relcache);
    return rc;
}

void wb_sync_report(const wb_config *cfg, const wb_sync_rows *rows)
{
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled || !m->initial_copy)
            continue;
        const wb_sync_row *r = wb_sync_rows_find(rows, m->name);
        if (!r || r->kind == WB_SYNC_SKIPPED)
            wb_log(WB_LOG_WARNING,
                   "mapping \"%s\" was never copied: rows that \"%s.%s\" "
                   "held before walbridge's slot was created have not "
                   "reached \"%s.%s\" (walbridge resync --mapping %s "
                   "copies them)",
                   m->name, m->from.schema, m->from.table, m->to.schema,
                   m->to.table, m->name);
        else if (r->kind == WB_SYNC_DONE && strcmp(r->digest, m->digest) != 0)
            wb_log(WB_LOG_WARNING,
                   "mapping \"%s\" was copied under another definition: "
                   "target rows that no change touched since still hold "
                   "what the old definition made of them (walbridge resync "
                   "--mapping %s copies them again)",
                   m->name, m->name);
        /* A copy left at "copying" goes on as an online re-sync from its
         * cursor (resync.h), which logs it. */
    }
}

int wb_sync_check_access(const wb_config *cfg, PGconn *src, wb_error *err)
{
    table_copy *tables = NULL;
    size_t n = 0;
    int rc = 0;

    if (plan_tables(cfg, &tables, &n) != 0) {
        free_tables(tables, n);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const wb_config_table *t = tables[i].from;
        const char *p[2] = {t->schema, t->table};
        PGresult *res;
        /* A missing table is the catalog check's to report. */
        rc = wb_conn_expect(
            src,
            PQexecParams(src,
                         "SELECT has_table_privilege(c.oid, 'SELECT') FROM "
                         "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace "
                         "n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
                         "AND c.relname = $2",
                         2, NULL, p, NULL, NULL, 0),
            PGRES_TUPLES_OK, &res, "could not check the copy's privileges",
            err);
        if (rc)
            break;
        bool denied = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f';
        PQclear(res);
        if (!denied)
            continue;
        wb_error_set(err, WB_ECONFIG,
                     "permission denied to copy the existing rows of "
                     "\"%s.%s\"",
                     t->schema, t->table);
        wb_error_detail(err,
                        "Mapping \"%s\" copies them when walbridge creates "
                        "its slot (initial_copy), which reads the table.",
                        tables[i].maps[0]->name);
        wb_error_hint(err,
                      "GRANT SELECT ON \"%s\".\"%s\" TO \"%s\"; or set "
                      "initial_copy: false on the mappings that read it.",
                      t->schema, t->table, PQuser(src));
        wb_error_relation(err, t->schema, t->table);
        rc = WB_ECONFIG;
    }
    free_tables(tables, n);
    return rc;
}

/* Does the source table hold any row?  -1 when it cannot be read. */
static int has_rows(PGconn *src, const wb_config_table *t)
{
    wb_strbuf sql = {0};
    wb_strbuf_add(&sql, "SELECT EXISTS (SELECT 1 FROM ");
    wb_strbuf_append_rel(&sql, t->schema, t->table);
    wb_strbuf_add(&sql, ")");
    if (sql.err)
        return -1;
    PGresult *res = PQexec(src, sql.data);
    wb_strbuf_free(&sql);
    int v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                ? PQgetvalue(res, 0, 0)[0] == 't'
                : -1;
    PQclear(res);
    return v;
}

int wb_sync_slot_exists(const wb_config *cfg, PGconn *src, bool *exists,
                        wb_error *err)
{
    const char *p[1] = {cfg->source.slot};
    PGresult *res;
    int rc = wb_conn_expect(
        src,
        PQexecParams(src,
                     "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE "
                     "slot_name = $1",
                     1, NULL, p, NULL, NULL, 0),
        PGRES_TUPLES_OK, &res, "could not look up the replication slot", err);
    if (rc)
        return rc;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

int wb_sync_check(const wb_config *cfg, PGconn *src, PGconn *tgt, wb_error *err)
{
    wb_sync_rows rows;
    bool slot_exists;
    int rc;

    if ((rc = wb_sync_slot_exists(cfg, src, &slot_exists, err)) != 0)
        return rc;
    if (!slot_exists) {
        if ((rc = wb_sync_check_access(cfg, src, err)) != 0)
            return rc;
        for (size_t i = 0; i < cfg->nmappings; i++) {
            const wb_config_mapping *m = &cfg->mappings[i];
            if (m->enabled)
                wb_log(WB_LOG_INFO,
                       m->initial_copy
                           ? "mapping \"%s\": the existing rows of "
                             "\"%s.%s\" will be copied when the slot is "
                             "created"
                           : "mapping \"%s\": the existing rows of "
                             "\"%s.%s\" will not be copied "
                             "(initial_copy: false)",
                       m->name, m->from.schema, m->from.table);
        }
        return 0;
    }
    if ((rc = wb_syncstate_read(tgt, cfg, &rows, err)) != 0)
        return rc;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        if (!m->enabled)
            continue;
        const wb_sync_row *r = wb_sync_rows_find(&rows, m->name);
        int k = r ? (int)r->kind : WB_SYNC_NONE;
        if (k == WB_SYNC_DONE && strcmp(r->digest, m->digest) == 0)
            wb_log(WB_LOG_INFO,
                   "mapping \"%s\": existing rows copied (%lld rows, "
                   "finished %s)",
                   m->name, (long long)r->rows,
                   r->finished_at ? r->finished_at : "");
        else if (k == WB_SYNC_DONE)
            wb_log(WB_LOG_WARNING,
                   "mapping \"%s\": existing rows were copied under another "
                   "definition of the mapping",
                   m->name);
        else if (k == WB_SYNC_COPYING)
            wb_log(WB_LOG_WARNING,
                   "mapping \"%s\": copying, %lld rows so far (an "
                   "interrupted copy, or a re-sync: walbridge run goes on "
                   "with it from its cursor)",
                   m->name, (long long)r->rows);
        else if (!m->initial_copy)
            wb_log(WB_LOG_INFO,
                   "mapping \"%s\": existing rows not copied "
                   "(initial_copy: false)",
                   m->name);
        else if ((k = has_rows(src, &m->from)) != 0)
            wb_log(WB_LOG_WARNING,
                   "mapping \"%s\": never copied, and \"%s.%s\" %s", m->name,
                   m->from.schema, m->from.table,
                   k > 0 ? "has rows that may predate the slot"
                         : "could not be read to tell whether it has rows");
        else
            wb_log(WB_LOG_INFO,
                   "mapping \"%s\": never copied (its source "
                   "is empty)",
                   m->name);
    }
    wb_sync_rows_free(&rows);
    return 0;
}
