/*
 * apply/apply.c - the applier's entry: open, close, reconfigure, and a row
 * operation (wb_apply_op), which joins a set run or is sent as one prepared
 * statement in the open batch.
 *
 * Source transactions are grouped into batches, one target transaction
 * each (apply/batch.c), which store their position in the same transaction
 * (progress.h).  Every statement is prepared once per operation shape and
 * cached (apply/stmtcache.c); the statement text is sqlgen.c's
 * (identifiers always quoted, every value a text parameter, never spliced
 * into SQL).  The session keeps Heroku Connect's triggers working: no
 * session_replication_role = replica, nothing that would make walbridge's
 * writes invisible to the triggers on the target tables.  The rooms are
 * listed in apply/apply_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "apply/apply_int.h"
#include "common/value.h"
#include "apply/flow.h"
#include "apply/sqlgen.h"
#include "check/startup.h"
#include "common/conn.h"
#include "common/log.h"

#define FLUSH_REQUEST_EVERY 256

int wb_apply_exec(wb_apply *a, const char *sql, int nparams,
                  const char *const *params, ExecStatusType want,
                  PGresult **out, const char *what, wb_error *err)
{
    return wb_conn_expect(
        a->conn,
        PQexecParams(a->conn, sql, nparams, NULL, params, NULL, NULL, 0), want,
        out, what, err);
}

int wb_apply_exec_built(wb_apply *a, wb_strbuf *sql, const char *what,
                        wb_error *err)
{
    int rc = sql->err ? wb_error_set(err, WB_ENOMEM, "out of memory")
                      : wb_apply_exec(a, sql->data, 0, NULL, PGRES_COMMAND_OK,
                                      NULL, what, err);
    wb_strbuf_free(sql);
    return rc;
}

int wb_apply_own_table(wb_apply *a, const char *name, const char *what,
                       char **rel, wb_error *err)
{
    wb_strbuf r = {0}, sql = {0};
    char msg[160];

    wb_names_rel(&r, a->cfg->target.progress_schema, name);
    if (r.err || !(*rel = strdup(r.data))) {
        wb_strbuf_free(&r);
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    wb_strbuf_free(&r);
    snprintf(msg, sizeof(msg), "could not create the schema of %s", what);
    wb_names_create_schema(&sql, a->cfg->target.progress_schema);
    return wb_apply_exec_built(a, &sql, msg, err);
}

/* The sync state table (syncstate.h), and the slot's rows in it as the
 * session starts. */
static int setup_sync(wb_apply *a, wb_error *err)
{
    wb_strbuf sql = {0};
    int rc;

    if ((rc = wb_apply_own_table(a, WB_OWN_SYNC_STATE, "the sync state",
                                 &a->sync_rel, err)) != 0)
        return rc;
    wb_syncstate_sql_create(&sql, a->sync_rel);
    if ((rc = wb_apply_exec_built(
             a, &sql, "could not create the sync state table", err)) != 0)
        return rc;
    return wb_syncstate_read(a->conn, a->cfg, &a->sync_rows, err);
}

/* Connect, pin the session, run the start-up checks of the target
 * session and set up what the configuration needs on it. */
static int open_session(wb_apply *a, const wb_config *cfg, wb_error *err)
{
    const char *conninfo = wb_config_target_conninfo(cfg);
    int rc;

    a->conn = wb_conn_open(conninfo, false, "walbridge", "target", err);
    if (!a->conn)
        return err ? err->code : WB_ECONN;
    a->pipe.conn = a->conn;
    /* With synchronous_commit on, COMMIT means durable.  With off (faster
     * commits), a batch only counts as durable once the target's WAL flush
     * position passes its commit: see progress.h. */
    rc = wb_apply_exec(a,
                       cfg->target.synchronous_commit
                           ? "SET synchronous_commit = on"
                           : "SET synchronous_commit = off",
                       0, NULL, PGRES_COMMAND_OK, NULL,
                       "could not configure the target session", err);
    if (rc)
        return rc;
    /* The start-up checks of the target session (check/startup.h), on
     * every connect: they also say where progress goes and whether commit
     * timestamps are tracked, and refuse before anything is created. */
    wb_startup s = {.cfg = cfg, .target = a->conn};
    if ((rc = wb_startup_run(&s, WB_STARTUP_TARGET | WB_STARTUP_RULES, err)))
        return rc;
    a->mode = s.mode;
    a->cf.track_cts = s.track_cts;
    if ((rc = wb_progress_open(a->conn, cfg, a->mode,
                               cfg->target.synchronous_commit, &a->progress,
                               err)) != 0 ||
        (rc = wb_apply_setup_links(a, err)) != 0 ||
        (rc = wb_apply_setup_clock(a, err)) != 0 ||
        (rc = setup_sync(a, err)) != 0)
        return rc;
    a->set.enabled = cfg->target.set_based;
    a->set.copy_min_rows = cfg->target.copy_min_rows;
    if (a->set.enabled && (rc = wb_apply_load_coltypes(a, err)) != 0)
        return rc;
    a->batch.max_txns = cfg->target.batch_max_txns;
    a->batch.latency_ms = cfg->target.batch_latency_ms;
    return 0;
}

int wb_apply_open(const wb_config *cfg, wb_apply **out, wb_error *err)
{
    wb_apply *a = calloc(1, sizeof(*a));
    int rc;

    if (!a)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    a->cfg = cfg;
    a->stmts.plain = (wb_pipe_item){.done = wb_apply_plain_done, .ctx = a};
    if ((rc = open_session(a, cfg, err)) != 0) {
        wb_apply_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void wb_apply_close(wb_apply *a)
{
    if (!a)
        return;
    if (a->conn)
        PQfinish(a->conn);
    wb_stmt_cache_free(&a->stmts);
    wb_setrun_free(&a->set);
    wb_progress_close(a->progress);
    wb_apply_conflicts_free(&a->cf);
    wb_apply_links_free(&a->lk);
    wb_sync_rows_free(&a->sync_rows);
    free(a->sync_rel);
    free(a);
}

const wb_sync_rows *wb_apply_sync_rows(const wb_apply *a)
{
    return &a->sync_rows;
}

const char *wb_apply_sync_rel(const wb_apply *a)
{
    return a->sync_rel;
}

wb_progress *wb_apply_progress(const wb_apply *a)
{
    return a->progress;
}

void wb_apply_get_stats(const wb_apply *a, wb_apply_stats *out)
{
    if (!a) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = a->stats;
    out->statements_prepared = a->stmts.prepared;
}

int wb_apply_reconfigure(wb_apply *a, const wb_config *cfg, wb_error *err)
{
    int rc;

    /* The start-up rules against this session's facts: a reload must not
     * bring in what a start would refuse. */
    wb_startup s = {.cfg = cfg, .mode = a->mode, .track_cts = a->cf.track_cts};
    if ((rc = wb_startup_run(&s, WB_STARTUP_RULES, err)) != 0)
        return rc;
    if (wb_apply_clock_needed(cfg) && !a->cf.clock_rel) {
        wb_error_set(err, WB_ECONFIG,
                     "the reloaded configuration resolves conflicts by commit "
                     "time, but the column clock was not set up at start");
        wb_error_hint(err, "Restart walbridge to use the new policy.");
        return WB_ECONFIG;
    }
    if ((rc = wb_apply_reconfigure_links(a, cfg, err)) != 0)
        return rc;
    /* The run names columns in the old configuration's strings. */
    if ((rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    a->cfg = cfg;
    a->cfg_gen++;
    return 0;
}

bool wb_apply_set_failed(const wb_apply *a)
{
    return a->set.failed;
}

void wb_apply_set_rowmode_until(wb_apply *a, wb_lsn lsn)
{
    a->set.rowmode_until = lsn;
}

/* ------------------------------------------------------ results, errors */

const char *wb_apply_op_verb(wb_op_kind k)
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

wb_pipe_item wb_apply_item(wb_apply *a, wb_pipe_done done,
                           const wb_config_mapping *m, wb_lsn lsn)
{
    wb_pipe_item it = {.done = done, .ctx = a, .lsn = lsn};
    if (m) {
        it.mapping = m->name;
        it.schema = m->to.schema;
        it.table = m->to.table;
    }
    return it;
}

/*
 * The column of a value cast on the target that PostgreSQL rejected: a
 * parameter that does not read as its type fails when the statement binds
 * it, and the error's context then says "... parameter $n ...".  NULL
 * when it is no such error.
 */
static const char *cast_column(const wb_apply_row *r, const PGresult *res)
{
    const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const char *at = ctx ? strstr(ctx, "parameter $") : NULL;
    if (!at || !r->cast_col[0])
        return NULL;
    long n = strtol(at + strlen("parameter $"), NULL, 10);
    for (size_t i = 0; i < WB_APPLY_ITEM_CASTS && r->cast_col[i]; i++)
        if (r->cast_param[i] == n)
            return r->cast_col[i];
    return NULL;
}

int wb_apply_fail(wb_apply *a, const wb_pipe_item *it, PGresult *res,
                  const char *what, bool data, const wb_apply_row *row,
                  bool set_based, wb_error *err)
{
    int code = wb_conn_lost(a->conn, res) ? WB_ECONN
               : data                     ? WB_EDATA
                                          : WB_ESQL;

    wb_conn_result_error(err, code, a->conn, res, what);
    if (row && row->row[0] && !(err && err->detail[0]))
        wb_error_detail(err, "The target row is %s.", row->row);
    if (set_based && code == WB_EDATA) {
        /* Which row?  The run is applied again row by row to tell. */
        a->set.failed = true;
        wb_error_detail(err,
                        "A set-based statement of %zu rows failed; "
                        "the batch is applied again row by row.",
                        (size_t)it->n);
    }
    if (it->schema)
        wb_error_relation(err, it->schema, it->table);
    const char *col = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
    if (!col && row)
        col = cast_column(row, res);
    if (col)
        wb_error_column(err, col);
    if (it->lsn)
        wb_error_lsn(err, it->lsn);
    return code;
}

int wb_apply_plain_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    if (PQresultStatus(res) != PGRES_FATAL_ERROR)
        return 0;
    return wb_apply_fail(it->ctx, it, res, "target statement failed", false,
                         NULL, false, err);
}

/* A preparation's completion: it->kind says whether of a set run. */
static int prep_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    char what[320];
    if (PQresultStatus(res) != PGRES_FATAL_ERROR)
        return 0;
    snprintf(what, sizeof(what),
             "could not prepare a statement on \"%s.%s\" for mapping \"%s\"",
             it->schema, it->table, it->mapping);
    return wb_apply_fail(it->ctx, it, res, what, true, NULL, it->kind != 0,
                         err);
}

wb_pipe_item wb_apply_prep_item(wb_apply *a, const char *mapping,
                                const char *schema, const char *table,
                                wb_lsn lsn, bool set_based)
{
    return (wb_pipe_item){.done = prep_done,
                          .ctx = a,
                          .mapping = mapping,
                          .schema = schema,
                          .table = table,
                          .lsn = lsn,
                          .kind = set_based};
}

int wb_apply_row_fail(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    const wb_apply_row *r = it->arg;
    char what[320];
    snprintf(what, sizeof(what), "could not %s \"%s.%s\" for mapping \"%s\"",
             wb_apply_op_verb(r->op), it->schema, it->table, it->mapping);
    return wb_apply_fail(it->ctx, it, res, what, true, r, false, err);
}

void wb_apply_warn_missing(const wb_pipe_item *it)
{
    char lsnbuf[WB_LSN_BUFLEN];
    wb_log(WB_LOG_WARNING,
           "row to update not found in \"%s.%s\" for mapping \"%s\" at %s",
           it->schema, it->table, it->mapping, wb_lsn_format(it->lsn, lsnbuf));
}

/* A row statement's result: the rows it wrote. */
static int row_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    const wb_apply_row *r = it->arg;

    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_row_fail(it, res, err);
    if (r->counted)
        a->pending.written +=
            PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    else
        a->pending.written += strtoull(PQcmdTuples(res), NULL, 10);
    if (r->warn_missing && strcmp(PQcmdTuples(res), "0") == 0)
        wb_apply_warn_missing(it);
    return 0;
}

/* -------------------------------------------------------- row operations */

/* The statement of a row of op's shape. */
typedef struct row_sql {
    const wb_target_op *op;
    bool track_cts;
    const char *clock_rel;
    const wb_setrun *set; /* its target columns' types (text_cmp) */
} row_sql;

static int build_row_sql(const void *arg, wb_strbuf *sql)
{
    const row_sql *rs = arg;
    if (rs->op->conflict) {
        wb_sql_conflict_shape c =
            wb_sql_conflict_layout(rs->op, rs->track_cts, rs->clock_rel);
        return wb_sql_conflict(sql, &c);
    }
    /* skip_unchanged compares columns without equality by their text; a
     * shape's answer is the same every time (its target's column types),
     * so it is worked out only when its statement is built. */
    const wb_target_op *op = rs->op;
    uint64_t text_cmp = 0;
    if (op->skip_unchanged) {
        const char *cols[64];
        size_t n = op->nset < 64 ? op->nset : 64;
        for (size_t i = 0; i < n; i++)
            cols[i] = op->set[i].column;
        text_cmp =
            wb_setrun_text_cmp(rs->set, op->schema, op->table, cols, 0, n);
    }
    return wb_sql_row(sql, op, text_cmp);
}

/* Find or queue the prepared statement for op's shape. */
static int get_stmt(wb_apply *a, const wb_target_op *op, const char **name,
                    wb_lsn lsn, wb_error *err)
{
    char keybuf[1024];
    char *key = wb_stmt_shape_key(op, a->cfg_gen, keybuf, sizeof(keybuf));
    row_sql rs = {op, a->cf.track_cts, a->cf.clock_rel, &a->set};
    wb_pipe_item prep =
        wb_apply_prep_item(a, op->mapping, op->schema, op->table, lsn, false);
    wb_stmt_ctx ctx = {&prep, 0, NULL};
    if (!key)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    int rc = wb_stmt_get(&a->stmts, &a->pipe, key, build_row_sql, &rs, &ctx,
                         name, err);
    if (key != keybuf)
        free(key);
    return rc;
}

/*
 * Which parameters of op's row statement the target casts (in wb_apply_op's
 * order: an upsert's keys then set, else set then keys, then a conflict
 * update's old values), so wb_apply_fail can name the column of a value
 * that PostgreSQL rejects.  Keys are never cast (they are source columns).
 * A row with more than WB_APPLY_ITEM_CASTS casts names the column of the
 * first ones only; the error is the same, with relation and LSN.
 */
static void note_casts(wb_apply_row *r, const wb_target_op *op)
{
    int first = op->kind == WB_OP_UPSERT ? (int)op->nkeys + 1 : 1;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!op->conflict || op->kind != WB_OP_UPDATE)
                break;
            first = (int)(op->nset + op->nkeys) + 1;
        }
        for (size_t i = 0; i < op->nset && n < WB_APPLY_ITEM_CASTS; i++)
            if (op->set[i].lookup && op->set[i].lookup->cast) {
                r->cast_param[n] = first + (int)i;
                r->cast_col[n++] = op->set[i].column;
            }
    }
}

/* The details of op's statement that its result and errors need. */
static wb_apply_row *note_row(wb_apply *a, const wb_target_op *op)
{
    wb_apply_row *r = &a->rows[a->row_next++ % WB_PIPE_MAX_ITEMS];
    memset(r, 0, sizeof(*r));
    r->op = op->kind;
    r->warn_missing = op->kind == WB_OP_UPDATE && !op->insert_if_missing;
    r->conflict = op->conflict;
    r->counted = wb_sql_counted(op);
    r->from_schema = op->from_schema;
    r->from_table = op->from_table;
    r->commit_time = op->commit_time;
    note_casts(r, op);
    for (size_t i = 0, w0 = 0; i < op->nkeys && w0 < sizeof(r->row); i++) {
        const char *v = op->keys[i].value;
        int w = snprintf(r->row + w0, sizeof(r->row) - w0, "%s%s=%s",
                         i ? ", " : "", op->keys[i].column,
                         !v                                 ? "NULL"
                         : op->binary && wb_value_binary(v) ? "(binary)"
                                                            : v);
        if (w < 0)
            break;
        w0 += (size_t)w;
    }
    return r;
}

int wb_apply_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn, wb_error *err)
{
    int rc;

    if (wb_pipe_queued(&a->pipe) + 8 > WB_PIPE_MAX_ITEMS)
        return wb_error_set(err, WB_ELIMIT, "apply queue full");
    if ((rc = wb_apply_open_batch(a, err)) != 0)
        return rc;
    bool added;
    if ((rc = wb_apply_run_add(a, op, lsn, &added, err)) != 0 || added)
        return rc;
    return wb_apply_row_send(a, op, lsn, err);
}

int wb_apply_row_send(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                      wb_error *err)
{
    const char *name;
    size_t n = op->nkeys + 2 * op->nset + 4;
    const char *params[n];
    char flags[op->nkeys + op->nset + 1], stamp[32], lsnbuf[WB_LSN_BUFLEN];
    size_t p = 0, bytes = 0;
    int rc;

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
    if (op->conflict &&
        (rc = wb_apply_conflict_params(a, op, lsn, params, &p, flags, stamp,
                                       lsnbuf, err)) != 0)
        return rc;
    /* Binary values (op->binary) go with their lengths and formats. */
    int lengths[op->binary ? p + 1 : 1], formats[op->binary ? p + 1 : 1];
    for (size_t i = 0; i < p; i++) {
        const char *v = params[i];
        size_t len = !v ? 0 : op->binary ? wb_value_len(v) : strlen(v);
        if (op->binary) {
            lengths[i] = (int)len;
            formats[i] = v && wb_value_binary(v);
        }
        bytes += len;
    }
    wb_pipe_item it = {.done = op->conflict ? wb_apply_conflict_done : row_done,
                       .ctx = a,
                       .arg = note_row(a, op),
                       .mapping = op->mapping,
                       .schema = op->schema,
                       .table = op->table,
                       .lsn = lsn,
                       .bytes = bytes};
    if ((rc = op->binary
                  ? wb_pipe_send_prepared_bin(&a->pipe, name, (int)p, params,
                                              lengths, formats, &it, NULL, err)
                  : wb_pipe_send_prepared(&a->pipe, name, (int)p, params, &it,
                                          NULL, err)) != 0)
        return rc;
    a->batch.bytes += bytes;
    a->stats.ops++;
    if (op->has_lookup && (rc = wb_apply_note_links(a, op, lsn, err)) != 0)
        return rc;
    /* Keep results flowing back during a long transaction: without a
     * Flush or Sync the server keeps them in its output buffer. */
    if (a->stats.ops % FLUSH_REQUEST_EVERY == 0)
        return wb_pipe_flush_request(&a->pipe, err);
    return 0;
}

/* ------------------------------------------------------- the connection */

int wb_apply_flush(wb_apply *a, wb_error *err)
{
    return wb_pipe_flush(&a->pipe, err);
}

int wb_apply_consume(wb_apply *a, wb_error *err)
{
    return wb_pipe_consume(&a->pipe, err);
}

static wb_flow_load load(const wb_apply *a);

int wb_apply_kick(wb_apply *a, wb_error *err)
{
    int rc;
    if (a->pipe.copying) {
        /* An open COPY only needs its data sent: ending it here would cut
         * a bulk load into short COPYs at every pause of the source.
         * Unless the server side is full: only results free it, and none
         * come back during a COPY. */
        wb_flow_load l = load(a);
        if (!wb_flow_server_full(&l))
            return wb_pipe_flush(&a->pipe, err) < 0 ? WB_ECONN : 0;
    }
    if ((a->pipe.on || a->pipe.copying) &&
        (rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    return wb_pipe_kick(&a->pipe, err);
}

int wb_apply_mark(wb_apply *a, uint64_t *mark, wb_error *err)
{
    int rc = wb_apply_kick(a, err);
    *mark = a->pipe.pushed;
    return rc;
}

void wb_apply_on_wait(wb_apply *a, void (*fn)(void *ud), void *ud)
{
    a->pipe.waiting = fn;
    a->pipe.waiting_ud = ud;
}

bool wb_apply_passed(const wb_apply *a, uint64_t mark)
{
    return a->pipe.answered >= mark;
}

int wb_apply_drain(wb_apply *a, int timeout_ms, wb_error *err)
{
    int rc;
    if (a->pipe.copying && (rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    /* Whatever is queued without a Sync must be asked for. */
    if ((rc = wb_apply_kick(a, err)) != 0)
        return rc;
    return wb_pipe_wait(&a->pipe, timeout_ms, err);
}

int wb_apply_socket(const wb_apply *a)
{
    return PQsocket(a->conn);
}

bool wb_apply_wants_write(const wb_apply *a)
{
    return a->pipe.want_write;
}

wb_lsn wb_apply_durable_lsn(const wb_apply *a)
{
    return wb_progress_durable(a->progress);
}

bool wb_apply_busy(const wb_apply *a)
{
    /* Not idle while committed batches still wait for their WAL flush:
     * an idle position stored after them must not be reported first. */
    return a->batch.open || wb_pipe_queued(&a->pipe) > 0 ||
           wb_progress_unflushed(a->progress) > 0;
}

static wb_flow_load load(const wb_apply *a)
{
    return (wb_flow_load){.queued = wb_pipe_queued(&a->pipe),
                          .max_queued = WB_PIPE_MAX_ITEMS,
                          .inflight_bytes = a->pipe.inflight_bytes,
                          .unsent_bytes = a->pipe.unsent_bytes,
                          .unflushed = wb_progress_unflushed(a->progress),
                          .max_unflushed = WB_PROGRESS_RING};
}

bool wb_apply_backlogged(const wb_apply *a)
{
    wb_flow_load l = load(a);
    return wb_flow_backlogged(&l);
}

bool wb_apply_drained_enough(const wb_apply *a)
{
    wb_flow_load l = load(a);
    return wb_flow_drained_enough(&l);
}

int wb_apply_make_room(wb_apply *a, int timeout_ms, wb_error *err)
{
    wb_flow_load l = load(a);
    if (!wb_flow_backlogged(&l))
        return 0;
    /* A full libpq buffer needs only the socket; a full server side needs
     * its results, all of them (as the run loop's hysteresis would). */
    if (wb_flow_only_unsent(&l))
        return wb_pipe_wait_sent(&a->pipe, timeout_ms, err);
    return wb_apply_drain(a, timeout_ms, err);
}
