/*
 * apply/copyrun.c - long runs of inserts streamed with COPY.
 *
 * A run of inserts sent as a set statement (setrun.c) pays for ON
 * CONFLICT, a third of the target's time in the benchmark's profile, and
 * for reading each text[] parameter twice (array_in, then every element's
 * own input function).  COPY ... FROM STDIN does neither, and the server
 * inserts the rows while walbridge decodes the next ones.
 *
 * It is optimistic: the run goes in behind a savepoint, without ON
 * CONFLICT.  When a row is already there (another writer inserted it), the
 * COPY fails with a unique violation, the transaction goes back to the
 * savepoint, and the run is sent as the upsert it would have been without
 * COPY, so the target ends exactly as it would have.  Any other failure
 * takes the same way back (the set statement, or the row statements of a
 * run with an array column, then report the error as they always do)
 * and, unless it is one of the data (a bad value, a broken constraint),
 * COPY is not tried on that target again (row-level security, say,
 * refuses COPY but not INSERT).  A lost connection is retried as any is.
 * Row triggers fire once per row, as for INSERT.
 *
 * A run of binary values (wb_target_op.binary) goes in COPY's binary
 * format (common/pgbinary.h), the rest in its text format
 * (common/copytext.h): either way each value reaches its column's
 * receive or input function as the source sent it.
 *
 * libpq runs no COPY in pipeline mode: starting one waits for every
 * statement in flight (one round trip, plus one for the COPY itself),
 * which is why only runs of at least target.copy_min_rows rows take it.
 * Once open, the COPY stays open for the rest of the run (up to
 * WB_RUN_MAX_COPY_ROWS rows or WB_RUN_MAX_BYTES of values, which the run
 * keeps for the way back) and its data goes out in CHUNK_BYTES chunks as
 * the rows come, bounded in libpq like statements (apply/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "apply/apply_int.h"
#include "apply/sqlgen.h"
#include "common/conn.h"
#include "common/copytext.h"
#include "common/pgbinary.h"
#include "common/log.h"

/* COPY data goes out every 16 KiB: the target's backend parses a chunk
 * while walbridge builds the next, and waits less for the first bytes
 * of it.  In paired runs of a 3M-row initial copy, 16 KiB beat 64 KiB in
 * five rounds of five (by 4% at the median) and 256 KiB lost to both. */
#define CHUNK_BYTES ((size_t)16 * 1024)

/* Queue a statement of the run's whose result is only checked. */
static int send_plain(wb_apply *a, const wb_setrun_run *r, const char *sql,
                      wb_error *err)
{
    wb_pipe_item it = {.done = wb_apply_plain_done,
                       .ctx = a,
                       .mapping = r->shape.mapping,
                       .schema = r->shape.schema,
                       .table = r->shape.table,
                       .lsn = r->last_lsn};
    return wb_pipe_send(&a->pipe, sql, 0, NULL, &it, NULL, err);
}

/* Back to the savepoint: the COPY's rows are gone, the batch's earlier
 * writes stay. */
static int back_to_savepoint(wb_apply *a, const wb_setrun_run *r, wb_error *err)
{
    int rc = send_plain(a, r, WB_SQL_COPY_ROLLBACK, err);
    return rc ? rc : send_plain(a, r, WB_SQL_COPY_RELEASE, err);
}

/* A COPY failed (res): the connection is gone (WB_ECONN, err set: it is
 * retried as any lost connection), or a row is already there, or not.
 * Log it, and keep COPY off a target that refuses it for reasons other
 * than the data. */
static int note_failure(wb_apply *a, const wb_setrun_run *r,
                        const PGresult *res, wb_error *err)
{
    if (wb_conn_lost(a->conn, res))
        return wb_conn_result_error(err, WB_ECONN, a->conn, res,
                                    "lost the target connection during COPY");
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (state && strcmp(state, "23505") == 0) {
        a->pending.copy_fallbacks++;
        wb_log(WB_LOG_DEBUG,
               "a row of the COPY into \"%s.%s\" (mapping \"%s\") is already "
               "there: applying its %zu rows as an upsert",
               r->shape.schema, r->shape.table, r->shape.mapping, r->nrows);
        return 0;
    }
    bool data =
        state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
    wb_log(WB_LOG_WARNING, "COPY into \"%s.%s\" (mapping \"%s\") failed: %s%s",
           r->shape.schema, r->shape.table, r->shape.mapping,
           msg ? msg : "no message",
           data ? "; applying its rows as a set statement"
                : "; applying its rows without COPY from now on");
    if (!data &&
        wb_setrun_add_nocopy(&a->set, r->shape.schema, r->shape.table) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    return 0;
}

/* Open the run's COPY behind a savepoint, once the statements before it
 * have their results.  When the target refuses it, the run stays a set
 * run (r->copy false). */
static int begin(wb_apply *a, wb_setrun_run *r, wb_error *err)
{
    wb_strbuf sql = {0};
    PGresult *failed;
    int rc;

    if ((rc = send_plain(a, r, WB_SQL_COPY_SAVEPOINT, err)) != 0 ||
        (rc = wb_pipe_sync(&a->pipe, err)) != 0 ||
        (rc = wb_pipe_wait(&a->pipe, WB_RUN_WAIT_MS, err)) != 0)
        return rc;
    if ((rc = wb_sql_copy_in(&sql, r->shape.schema, r->shape.table, r->cols,
                             r->ncols, r->binary)) != 0) {
        wb_strbuf_free(&sql);
        return wb_error_set(err, rc, "could not build a COPY statement");
    }
    rc = wb_pipe_copy_begin(&a->pipe, sql.data, WB_RUN_WAIT_MS, &failed, err);
    wb_strbuf_free(&sql);
    if (rc == 0 && !failed && r->binary &&
        (rc = wb_pgbin_copy_header(&r->chunk)) != 0)
        return wb_error_set(err, rc, "out of memory building COPY data");
    if (rc || !failed)
        return rc;
    r->copy = false;
    rc = note_failure(a, r, failed, err);
    PQclear(failed);
    return rc ? rc : back_to_savepoint(a, r, err);
}

/* Hand the chunk to libpq. */
static int put_chunk(wb_apply *a, wb_setrun_run *r, wb_error *err)
{
    if (r->chunk.len == 0)
        return 0;
    int rc = wb_pipe_copy_put(&a->pipe, r->chunk.data, r->chunk.len, err);
    wb_strbuf_reset(&r->chunk);
    return rc;
}

int wb_apply_copy_feed(wb_apply *a, wb_error *err)
{
    wb_setrun_run *r = a->set.run;
    const char *vals[WB_RUN_MAX_COLS];
    int rc;

    if (!a->pipe.copying && (rc = begin(a, r, err)) != 0)
        return rc;
    if (!a->pipe.copying)
        return 0; /* refused: the run goes as a set statement */
    for (; r->copied_rows < r->nrows; r->copied_rows++) {
        wb_setrun_next_row(r, &r->copied_off, vals);
        rc = r->binary ? wb_pgbin_copy_row(&r->chunk, vals, r->ncols)
                       : wb_copytext_row(&r->chunk, vals, r->ncols);
        if (rc != 0)
            return wb_error_set(err, rc, "out of memory building COPY data");
    }
    return r->chunk.len >= CHUNK_BYTES ? put_chunk(a, r, err) : 0;
}

int wb_apply_copy_finish(wb_apply *a, wb_error *err)
{
    wb_setrun_run *r = a->set.run;
    PGresult *res;
    int rc;

    if ((rc = wb_apply_copy_feed(a, err)) != 0)
        return rc;
    if (!a->pipe.copying)
        return wb_apply_run_send(a, err);
    if (r->binary && (rc = wb_pgbin_copy_trailer(&r->chunk)) != 0)
        return wb_error_set(err, rc, "out of memory building COPY data");
    if ((rc = put_chunk(a, r, err)) != 0 ||
        (rc = wb_pipe_copy_end(&a->pipe, NULL, WB_RUN_WAIT_MS, &res, err)) != 0)
        return rc;
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        a->pending.written += strtoull(PQcmdTuples(res), NULL, 10);
        a->pending.copied += r->nrows;
        a->stats.ops += r->nrows;
        PQclear(res);
        rc = send_plain(a, r, WB_SQL_COPY_RELEASE, err);
        wb_apply_run_reset(a);
        return rc;
    }
    rc = note_failure(a, r, res, err);
    PQclear(res);
    if (rc || (rc = back_to_savepoint(a, r, err)) != 0)
        return rc;
    return wb_apply_run_send(a, err);
}

int wb_apply_copy_abort(wb_apply *a, wb_error *err)
{
    PGresult *res = NULL;
    int rc = wb_pipe_copy_end(&a->pipe, "the batch is rolled back",
                              WB_RUN_WAIT_MS, &res, err);
    PQclear(res);
    return rc;
}
