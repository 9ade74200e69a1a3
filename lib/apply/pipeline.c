/*
 * apply/pipeline.c - the libpq pipeline to the target (see apply/pipeline.h).
 */
#include <poll.h>
#include <string.h>

#include "apply/flow.h"
#include "apply/pipeline.h"
#include "common/clock.h"
#include "common/conn.h"

void wb_pipe_start(wb_pipe *p)
{
    if (p->on)
        return;
    PQsetnonblocking(p->conn, 1);
    PQenterPipelineMode(p->conn);
    p->on = true;
}

/* bytes more were queued in libpq.  Once its buffer holds more than its
 * bound (apply/flow.h) a flush is tried at once, without waiting: what
 * the socket does not take leaves the applier backlogged until it does.
 * 0 or WB_ECONN. */
static int queued_bytes(wb_pipe *p, size_t bytes, wb_error *err)
{
    p->unsent_bytes += bytes;
    if (p->unsent_bytes < WB_FLOW_MAX_UNSENT_BYTES)
        return 0;
    int r = wb_pipe_flush(p, err);
    return r < 0 ? r : 0;
}

/* A statement was queued in libpq: its item joins the queue. */
static int push(wb_pipe *p, const wb_pipe_item *it, wb_error *err)
{
    if (p->copying) /* a caller forgot to end its COPY: a bug */
        return wb_error_set(err, WB_EPROTO,
                            "internal error: a statement was queued during "
                            "COPY");
    p->items[(p->head + p->n) % WB_PIPE_MAX_ITEMS] = *it;
    p->n++;
    p->pushed++;
    p->inflight_bytes += it->bytes;
    return queued_bytes(p, it->bytes, err);
}

int wb_pipe_send_failed(wb_pipe *p, const char *what, wb_error *err)
{
    return wb_conn_result_error(err, WB_ECONN, p->conn, NULL, what);
}

int wb_pipe_send(wb_pipe *p, const char *sql, int nparams,
                 const char *const *params, const wb_pipe_item *it,
                 const char *what, wb_error *err)
{
    if (!PQsendQueryParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0))
        return wb_pipe_send_failed(
            p, what ? what : "could not send to the target", err);
    return push(p, it, err);
}

int wb_pipe_send_prepared(wb_pipe *p, const char *name, int nparams,
                          const char *const *params, const wb_pipe_item *it,
                          const char *what, wb_error *err)
{
    if (!PQsendQueryPrepared(p->conn, name, nparams, params, NULL, NULL, 0))
        return wb_pipe_send_failed(
            p, what ? what : "could not send a change to the target", err);
    return push(p, it, err);
}

int wb_pipe_send_prepared_bin(wb_pipe *p, const char *name, int nparams,
                              const char *const *params, const int *lengths,
                              const int *formats, const wb_pipe_item *it,
                              const char *what, wb_error *err)
{
    if (!PQsendQueryPrepared(p->conn, name, nparams, params, lengths, formats,
                             0))
        return wb_pipe_send_failed(
            p, what ? what : "could not send a change to the target", err);
    return push(p, it, err);
}

int wb_pipe_prepare(wb_pipe *p, const char *name, const char *sql, int ntypes,
                    const Oid *types, const wb_pipe_item *it, wb_error *err)
{
    if (!PQsendPrepare(p->conn, name, sql, ntypes, types))
        return wb_pipe_send_failed(
            p, "could not send a statement to the target", err);
    return push(p, it, err);
}

static int sync_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    (void)it;
    if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
        return wb_error_set(err, WB_EPROTO,
                            "unexpected result for a pipeline sync");
    return 0;
}

int wb_pipe_sync(wb_pipe *p, wb_error *err)
{
    wb_pipe_item it = {.done = sync_done};
    if (!PQpipelineSync(p->conn))
        return wb_pipe_send_failed(p, "could not send a pipeline sync", err);
    return push(p, &it, err);
}

int wb_pipe_flush_request(wb_pipe *p, wb_error *err)
{
    if (!PQsendFlushRequest(p->conn))
        return wb_pipe_send_failed(p, "could not send a flush request", err);
    return 0;
}

int wb_pipe_flush(wb_pipe *p, wb_error *err)
{
    if (!p->on && !p->copying) {
        /* Blocking mode: libpq sent everything before returning. */
        p->unsent_bytes = 0;
        return 0;
    }
    int r = PQflush(p->conn);
    if (r < 0)
        return wb_pipe_send_failed(p, "could not send to the target", err);
    p->want_write = r == 1;
    if (r == 0)
        p->unsent_bytes = 0;
    return r;
}

int wb_pipe_consume(wb_pipe *p, wb_error *err)
{
    if (!p->on && !p->copying)
        return 0;
    if (!PQconsumeInput(p->conn))
        return wb_conn_result_error(err, WB_ECONN, p->conn, NULL,
                                    "lost the target connection");
    /* During a COPY the server sends nothing but an early error, read
     * into libpq (so the socket stops polling readable) and reported by
     * the COPY's end. */
    if (p->copying)
        return 0;
    while (p->n > 0 && !PQisBusy(p->conn)) {
        PGresult *res = PQgetResult(p->conn);
        if (!res) {
            /* The end of one statement's results. */
            if (p->expect_null) {
                p->expect_null = false;
                continue;
            }
            break;
        }
        /* The entry is reused only once the queue wraps around, after the
         * completion has run. */
        const wb_pipe_item *it = &p->items[p->head];
        p->head = (p->head + 1) % WB_PIPE_MAX_ITEMS;
        p->n--;
        p->answered++;
        p->inflight_bytes -= it->bytes;
        ExecStatusType st = PQresultStatus(res);
        p->expect_null = st != PGRES_PIPELINE_SYNC;
        int rc = st == PGRES_PIPELINE_ABORTED
                     ? wb_error_set(err, WB_ESQL,
                                    "target pipeline aborted before the "
                                    "failing statement was reported")
                     : it->done(it, res, err);
        PQclear(res);
        if (rc)
            return rc;
    }
    return 0;
}

int wb_pipe_kick(wb_pipe *p, wb_error *err)
{
    int rc;
    if (!p->on || p->n == 0)
        return 0;
    /* The server holds results in its output buffer until a Sync or a
     * Flush; ask for them, and send whatever libpq still buffers. */
    if ((rc = wb_pipe_flush_request(p, err)) != 0)
        return rc;
    return wb_pipe_flush(p, err) < 0 ? WB_ECONN : 0;
}

/* Wait up to 100 ms (at most left) for the socket, then let the owner
 * answer its other connection: every blocking wait below goes through
 * here.  > 0: the socket is ready. */
static int wait_socket(wb_pipe *p, bool out, int64_t left)
{
    struct pollfd pfd = {.fd = PQsocket(p->conn),
                         .events = (short)(POLLIN | (out ? POLLOUT : 0))};
    int r = poll(&pfd, 1, (int)(left < 100 ? left : 100));
    if (p->waiting)
        p->waiting(p->waiting_ud);
    return r;
}

int wb_pipe_wait_sent(wb_pipe *p, int timeout_ms, wb_error *err)
{
    int64_t deadline = wb_clock_ms() + timeout_ms;
    int rc;

    while ((rc = wb_pipe_flush(p, err)) != 0) {
        if (rc < 0)
            return rc;
        int64_t left = deadline - wb_clock_ms();
        if (left <= 0)
            return wb_error_set(err, WB_ECONN,
                                "timed out sending to the target");
        wait_socket(p, true, left);
        if ((rc = wb_pipe_consume(p, err)) != 0)
            return rc;
    }
    return 0;
}

int wb_pipe_wait(wb_pipe *p, int timeout_ms, wb_error *err)
{
    int64_t deadline = wb_clock_ms() + timeout_ms;
    size_t left_items = p->n;
    int rc;

    while (p->n > 0) {
        /* The ceiling is on silence, not on the whole queue: a long queue
         * on a busy target takes as long as it takes.  Giving up while
         * results still come in would close the connection under batches
         * the server goes on to commit, uncounted and reported as lost. */
        if (p->n < left_items) {
            left_items = p->n;
            deadline = wb_clock_ms() + timeout_ms;
        }
        int64_t left = deadline - wb_clock_ms();
        if (left <= 0)
            return wb_error_set(err, WB_ECONN,
                                "timed out waiting for the target");
        if ((rc = wb_pipe_flush(p, err)) < 0)
            return rc;
        wait_socket(p, rc != 0, left);
        if ((rc = wb_pipe_consume(p, err)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ COPY */

/* Out of pipeline mode: send what libpq holds and read until it has a
 * result (or, during COPY, is ready for data).  The deadline is on
 * silence: it moves whenever the socket is ready. */
static int wait_ready(wb_pipe *p, int timeout_ms, wb_error *err)
{
    int64_t deadline = wb_clock_ms() + timeout_ms;
    for (;;) {
        int f = PQflush(p->conn);
        if (f < 0)
            return wb_pipe_send_failed(p, "could not send to the target", err);
        if (f == 0 && !PQisBusy(p->conn))
            return 0;
        int64_t left = deadline - wb_clock_ms();
        if (left <= 0)
            return wb_error_set(err, WB_ECONN,
                                "timed out waiting for the target");
        if (wait_socket(p, f != 0, left) > 0)
            deadline = wb_clock_ms() + timeout_ms;
        if (!PQconsumeInput(p->conn))
            return wb_conn_result_error(err, WB_ECONN, p->conn, NULL,
                                        "lost the target connection");
    }
}

/* Read the results left (up to libpq's NULL), dropping them. */
static int drop_results(wb_pipe *p, int timeout_ms, wb_error *err)
{
    for (;;) {
        int rc = wait_ready(p, timeout_ms, err);
        if (rc)
            return rc;
        PGresult *res = PQgetResult(p->conn);
        if (!res)
            return 0;
        PQclear(res);
    }
}

/* res is the result of a COPY (or of its start): read the rest up to
 * libpq's NULL, hand res over in *out and go back into pipeline mode. */
static int hand_over(wb_pipe *p, PGresult *res, int timeout_ms, PGresult **out,
                     wb_error *err)
{
    int rc = drop_results(p, timeout_ms, err);
    if (rc) {
        PQclear(res);
        return rc;
    }
    if (!res)
        return wb_error_set(err, WB_EPROTO, "no result for COPY");
    *out = res;
    p->copying = false;
    p->unsent_bytes = 0;
    p->want_write = false;
    if (!PQenterPipelineMode(p->conn))
        return wb_pipe_send_failed(p, "could not re-enter pipeline mode", err);
    p->on = true;
    return 0;
}

int wb_pipe_copy_begin(wb_pipe *p, const char *sql, int timeout_ms,
                       PGresult **failed, wb_error *err)
{
    int rc;
    *failed = NULL;
    if (p->n > 0 || p->copying)
        return wb_error_set(err, WB_EPROTO,
                            "internal error: COPY with statements in flight");
    if (p->expect_null && (rc = drop_results(p, timeout_ms, err)) != 0)
        return rc;
    p->expect_null = false;
    if (p->on && !PQexitPipelineMode(p->conn))
        return wb_pipe_send_failed(p, "could not leave pipeline mode for COPY",
                                   err);
    p->on = false;
    if (!PQsendQuery(p->conn, sql))
        return wb_pipe_send_failed(p, "could not send COPY to the target", err);
    if ((rc = wait_ready(p, timeout_ms, err)) != 0)
        return rc;
    PGresult *res = PQgetResult(p->conn);
    if (res && PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        p->copying = true;
        return 0;
    }
    return hand_over(p, res, timeout_ms, failed, err);
}

int wb_pipe_copy_put(wb_pipe *p, const char *data, size_t len, wb_error *err)
{
    if (PQputCopyData(p->conn, data, (int)len) != 1)
        return wb_pipe_send_failed(p, "could not send COPY data to the target",
                                   err);
    return queued_bytes(p, len, err);
}

int wb_pipe_copy_end(wb_pipe *p, const char *abort, int timeout_ms,
                     PGresult **res, wb_error *err)
{
    int r, rc;
    *res = NULL;
    /* 0: a non-blocking connection had no room for the message yet. */
    while ((r = PQputCopyEnd(p->conn, abort)) == 0)
        if ((rc = wb_pipe_wait_sent(p, timeout_ms, err)) != 0)
            return rc;
    if (r < 0)
        return wb_pipe_send_failed(p, "could not end a COPY on the target",
                                   err);
    p->copying = false;
    if ((rc = wait_ready(p, timeout_ms, err)) != 0)
        return rc;
    return hand_over(p, PQgetResult(p->conn), timeout_ms, res, err);
}
