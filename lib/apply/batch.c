/*
 * apply/batch.c - batches: source transactions grouped into one target
 * transaction, which also stores the position of the last of them.
 *
 * A batch opens with BEGIN and walbridge's marker, takes the statements
 * of whole source transactions, and closes with the stored position
 * (progress.h), COMMIT and a pipeline sync: by count
 * (target.batch_max_txns), size or age (target.batch_latency), or when
 * the source is idle.  Only a COMMIT whose result says so makes its
 * position durable (with synchronous_commit off, once the target's WAL is
 * flushed past it).
 */
#include <stdlib.h>
#include <string.h>

#include "apply/apply_int.h"
#include "apply/sqlgen.h"
#include "common/clock.h"

#define MAX_BATCH_BYTES ((size_t)16 * 1024 * 1024)
#define FLUSH_QUERY_MS  50

static int send_plain(wb_apply *a, const char *sql, int nparams,
                      const char *const *params, wb_error *err)
{
    wb_pipe_item it = {.done = wb_apply_plain_done, .ctx = a};
    return wb_pipe_send(&a->pipe, sql, nparams, params, &it, NULL, err);
}

int wb_apply_open_batch(wb_apply *a, wb_error *err)
{
    wb_apply_batch *b = &a->batch;
    int rc;
    if (b->open)
        return 0;
    wb_pipe_start(&a->pipe);
    if ((rc = send_plain(a, "BEGIN", 0, NULL, err)) != 0)
        return rc;
    b->open = true;
    b->txns = 0;
    b->bytes = 0;
    b->end = WB_INVALID_LSN;
    b->opened_ms = wb_clock_ms();
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
    rc = send_plain(a, WB_SQL_MARKER, 1, p, err);
    if (rc || b->commits_out == 0 || b->last_sent_end == WB_INVALID_LSN)
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
    wb_progress_guard_stmt(a->progress, b->last_sent_end, &g);
    return send_plain(a, g.sql, g.nparams, g.params, err);
}

int wb_apply_batch_stmt(wb_apply *a, const char *sql, int nparams,
                        const char *const *params, wb_lsn lsn, wb_error *err)
{
    int rc;
    /* A run of rows still gathering (setrun.c) is sent first: a run's
     * COPY may be open on the connection. */
    if ((rc = wb_apply_open_batch(a, err)) != 0 ||
        (rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    wb_pipe_item it = wb_apply_item(a, wb_apply_plain_done, NULL, lsn);
    return wb_pipe_send(&a->pipe, sql, nparams, params, &it, NULL, err);
}

/* A COMMIT's result: its batch's position is committed (durable with
 * synchronous_commit on), its results count; it->lsn the batch's end,
 * it->n its source transactions. */
static int commit_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    a->batch.commits_out--;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_fail(a, it, res,
                             "could not commit the target transaction", false,
                             NULL, false, err);
    /* An aborted transaction "commits" as ROLLBACK with status OK. */
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        return wb_error_set(err, WB_ESQL, "target transaction was rolled back");
    wb_progress_committed(a->progress, it->lsn);
    a->stats.txns += it->n;
    a->stats.rows_written += a->pending.written;
    a->stats.conflicts += a->pending.conflicts;
    a->stats.links_resolved += a->pending.linked;
    a->stats.links_pending += a->pending.noted;
    a->stats.rows_copied += a->pending.copied;
    a->stats.copy_fallbacks += a->pending.copy_fallbacks;
    memset(&a->pending, 0, sizeof(a->pending));
    return 0;
}

static int rollback_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_plain_done(it, res, err);
    memset(&a->pending, 0, sizeof(a->pending));
    return 0;
}

/* The WAL position read from the target, or WB_EPROTO. */
static int wal_position(PGresult *res, wb_lsn *lsn, wb_error *err)
{
    if (PQntuples(res) != 1 || wb_lsn_parse(PQgetvalue(res, 0, 0), lsn) != 0)
        return wb_error_set(err, WB_EPROTO,
                            "invalid WAL position from the target");
    return 0;
}

/* synchronous_commit off: the WAL insert position right after the COMMIT
 * of the batch ending at it->lsn. */
static int local_lsn_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    wb_lsn local;
    int rc;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_plain_done(it, res, err);
    if ((rc = wal_position(res, &local, err)) != 0)
        return rc;
    wb_progress_committed_at(a->progress, local, it->lsn);
    return 0;
}

/* synchronous_commit off: how far the target's WAL is flushed. */
static int flush_lsn_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    wb_lsn flushed;
    int rc;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_plain_done(it, res, err);
    a->batch.flush_query_out = false;
    if ((rc = wal_position(res, &flushed, err)) != 0)
        return rc;
    wb_progress_flushed(a->progress, flushed);
    return 0;
}

/* Queue the stored position, COMMIT and a sync for the open batch. */
static int close_batch(wb_apply *a, wb_error *err)
{
    wb_apply_batch *b = &a->batch;
    int rc;

    if (!b->open)
        return 0;
    if (b->end == WB_INVALID_LSN) {
        /* Nothing complete in it (a stop in the middle): roll it back. */
        return wb_apply_rollback_batch(a, err);
    }
    if ((rc = wb_apply_run_flush(a, err)) != 0)
        return rc;
    if ((rc = wb_apply_resolve_links(a, err)) != 0)
        return rc;
    wb_progress_stmt ps;
    wb_progress_store_stmt(a->progress, b->end, b->time, &ps);
    if ((rc = send_plain(a, ps.sql, ps.nparams, ps.params, err)) != 0)
        return rc;
    wb_pipe_item it = {
        .done = commit_done, .ctx = a, .lsn = b->end, .n = b->txns};
    if ((rc = wb_pipe_send(&a->pipe, "COMMIT", 0, NULL, &it,
                           "could not send COMMIT", err)) != 0)
        return rc;
    b->commits_out++;
    b->last_sent_end = b->end;
    if (!wb_progress_sync_commit(a->progress)) {
        it = (wb_pipe_item){.done = local_lsn_done, .ctx = a, .lsn = b->end};
        if ((rc = wb_pipe_send(&a->pipe, "SELECT pg_current_wal_insert_lsn()",
                               0, NULL, &it, NULL, err)) != 0)
            return rc;
    }
    if ((rc = wb_pipe_sync(&a->pipe, err)) != 0)
        return rc;
    b->open = false;
    b->end = WB_INVALID_LSN;
    return wb_pipe_flush(&a->pipe, err) < 0 ? WB_ECONN : 0;
}

int wb_apply_rollback_batch(wb_apply *a, wb_error *err)
{
    int rc;
    if (!a->batch.open)
        return 0;
    if ((rc = wb_apply_run_discard(a, err)) != 0)
        return rc;
    a->batch.open = false;
    a->batch.end = WB_INVALID_LSN;
    wb_pipe_item it = {.done = rollback_done, .ctx = a};
    if ((rc = wb_pipe_send(&a->pipe, "ROLLBACK", 0, NULL, &it,
                           "could not send ROLLBACK", err)) != 0 ||
        (rc = wb_pipe_sync(&a->pipe, err)) != 0)
        return rc;
    return wb_pipe_flush(&a->pipe, err) < 0 ? WB_ECONN : 0;
}

/* The open batch holds complete transactions and is full or old. */
static bool batch_due(const wb_apply *a)
{
    const wb_apply_batch *b = &a->batch;
    return b->open && b->end != WB_INVALID_LSN &&
           (b->txns >= b->max_txns || b->bytes >= MAX_BATCH_BYTES ||
            wb_clock_ms() - b->opened_ms >= b->latency_ms);
}

int wb_apply_txn_done(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                      bool wrote, wb_error *err)
{
    wb_apply_batch *b = &a->batch;
    if (!b->open) {
        if (!wrote)
            return 0;
        return wb_error_set(err, WB_EINVAL, "transaction end without begin");
    }
    /* A re-sync's chunk ends at its high watermark, which the stream
     * may have passed while the chunk was applied in slices: the stored
     * position never goes back behind a batch already sent. */
    if (end_lsn < b->last_sent_end)
        end_lsn = b->last_sent_end;
    if (end_lsn > b->end) {
        b->end = end_lsn;
        b->time = commit_time;
    }
    if (wrote)
        b->txns++;
    if (batch_due(a))
        return close_batch(a, err);
    /* Sent by the run loop once the messages at hand are handled: one
     * write per round, not one per transaction. */
    return 0;
}

int64_t wb_apply_batch_due_in_ms(const wb_apply *a)
{
    const wb_apply_batch *b = &a->batch;
    if (!b->open || b->end == WB_INVALID_LSN)
        return -1;
    int64_t left = b->opened_ms + b->latency_ms - wb_clock_ms();
    return left > 0 ? left : 0;
}

int wb_apply_source_idle(wb_apply *a, wb_error *err)
{
    const wb_apply_batch *b = &a->batch;
    if (!b->open || b->end == WB_INVALID_LSN || b->commits_out > 0)
        return 0;
    /* Only when caught up: while catching up on a backlog the source also
     * runs dry between the walsender's sends, and committing each time
     * made batches 4x smaller (profile.sh backlog: 515 instead of 139
     * target commits for 100k transactions) for no gain in lag.  The
     * clocks of the two hosts are compared: a skew only moves the choice
     * between this and the latency timer, both correct. */
    if (wb_pgtime_now() - b->time > b->latency_ms * 1000)
        return 0;
    return close_batch(a, err);
}

/* synchronous_commit off: ask how far the target's WAL is flushed. */
static int query_flush(wb_apply *a, bool force, wb_error *err)
{
    wb_apply_batch *b = &a->batch;
    int rc;
    if (wb_progress_sync_commit(a->progress) || b->flush_query_out ||
        (wb_progress_unflushed(a->progress) == 0 && !force) ||
        (!force && wb_clock_ms() - b->last_flush_query_ms < FLUSH_QUERY_MS))
        return 0;
    wb_pipe_item it = {.done = flush_lsn_done, .ctx = a};
    if ((rc = wb_pipe_send(&a->pipe, "SELECT pg_current_wal_flush_lsn()", 0,
                           NULL, &it, NULL, err)) != 0)
        return rc;
    b->flush_query_out = true;
    b->last_flush_query_ms = wb_clock_ms();
    rc = b->open ? wb_pipe_flush_request(&a->pipe, err)
                 : wb_pipe_sync(&a->pipe, err);
    if (rc)
        return rc;
    return wb_pipe_flush(&a->pipe, err) < 0 ? WB_ECONN : 0;
}

int wb_apply_tick(wb_apply *a, wb_error *err)
{
    int rc;
    if (batch_due(a) && (rc = close_batch(a, err)) != 0)
        return rc;
    return a->pipe.on ? query_flush(a, false, err) : 0;
}

/* synchronous_commit off: make every committed batch durable now and
 * wait for the target to confirm; no-op when on. */
static int make_durable(wb_apply *a, int timeout_ms, wb_error *err)
{
    int rc;
    if (wb_progress_unflushed(a->progress) == 0)
        return 0;
    /* A commit with synchronous_commit on flushes the WAL up to its own
     * record, so everything committed before it is then durable too.  It
     * must write WAL before COMMIT to be waited for: the marker does. */
    const char *p[1] = {wb_progress_origin_name(a->progress)};
    wb_pipe_start(&a->pipe);
    if ((rc = send_plain(a, "BEGIN", 0, NULL, err)) != 0 ||
        (rc = send_plain(a, "SET LOCAL synchronous_commit = on", 0, NULL,
                         err)) != 0 ||
        (rc = send_plain(a, WB_SQL_MARKER, 1, p, err)) != 0 ||
        (rc = send_plain(a, "COMMIT", 0, NULL, err)) != 0 ||
        (rc = wb_pipe_sync(&a->pipe, err)) != 0)
        return rc;
    if ((rc = wb_apply_drain(a, timeout_ms, err)) != 0)
        return rc;
    if ((rc = query_flush(a, true, err)) != 0)
        return rc;
    return wb_apply_drain(a, timeout_ms, err);
}

int wb_apply_settle(wb_apply *a, int timeout_ms, wb_error *err)
{
    int rc = wb_apply_drain(a, timeout_ms, err);
    return rc ? rc : make_durable(a, timeout_ms, err);
}

int wb_apply_close_batch(wb_apply *a, wb_error *err)
{
    return close_batch(a, err);
}

int wb_apply_store_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                            wb_error *err)
{
    wb_apply_batch *b = &a->batch;
    int rc;
    if (b->open) {
        /* Rides along with the open batch. */
        if (end_lsn > b->end) {
            b->end = end_lsn;
            b->time = commit_time;
        }
        return 0;
    }
    if ((rc = wb_apply_open_batch(a, err)) != 0)
        return rc;
    b->end = end_lsn;
    b->time = commit_time;
    return close_batch(a, err);
}
