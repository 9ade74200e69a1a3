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

/* A statement was queued in libpq: its item joins the queue.  Once
 * libpq's buffer holds more than its bound (apply/flow.h) a flush is
 * tried at once, without waiting: what the socket does not take leaves
 * the applier backlogged until it does.  0 or WB_ECONN. */
static int push(wb_pipe *p, const wb_pipe_item *it, wb_error *err)
{
    p->items[(p->head + p->n) % WB_PIPE_MAX_ITEMS] = *it;
    p->n++;
    p->inflight_bytes += it->bytes;
    p->unsent_bytes += it->bytes;
    if (p->unsent_bytes < WB_FLOW_MAX_UNSENT_BYTES)
        return 0;
    int r = wb_pipe_flush(p, err);
    return r < 0 ? r : 0;
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
    if (!p->on) {
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
    if (!p->on)
        return 0;
    if (!PQconsumeInput(p->conn))
        return wb_conn_result_error(err, WB_ECONN, p->conn, NULL,
                                    "lost the target connection");
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
        struct pollfd pfd = {.fd = PQsocket(p->conn),
                             .events = POLLIN | POLLOUT};
        poll(&pfd, 1, (int)(left < 100 ? left : 100));
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
        struct pollfd pfd = {.fd = PQsocket(p->conn),
                             .events = (short)(POLLIN | (rc ? POLLOUT : 0))};
        poll(&pfd, 1, (int)(left < 100 ? left : 100));
        if ((rc = wb_pipe_consume(p, err)) != 0)
            return rc;
    }
    return 0;
}
