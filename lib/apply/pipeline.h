/*
 * apply/pipeline.h - the libpq pipeline to the target: a bounded queue of
 * statements whose results are read later, each handled by its own
 * completion.
 *
 * Statements are sent without waiting for their results (libpq pipeline
 * mode on a non-blocking connection).  Every statement sent has an item in
 * a bounded FIFO, and its result, which comes back in the same order, is
 * handed to the item's completion (as a libuv request carries its
 * callback): the code that queued the statement says what its result
 * means.  The pipeline itself knows only statements, syncs and flushes.
 *
 * libpq runs no COPY in pipeline mode, so a COPY leaves it: once every
 * queued statement has its result, wb_pipe_copy_begin exits pipeline mode
 * and starts the COPY, wb_pipe_copy_put streams its data (flushed and
 * bounded like statements), and wb_pipe_copy_end ends it, hands back its
 * result and enters pipeline mode again.  Nothing else is sent meanwhile.
 */
#ifndef WALBRIDGE_APPLY_PIPELINE_H
#define WALBRIDGE_APPLY_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/lsn.h"

#define WB_PIPE_MAX_ITEMS 16384 /* queued statements awaiting their result */

typedef struct wb_pipe_item wb_pipe_item;

/*
 * A statement's completion: called with its result (a PGRES_FATAL_ERROR
 * one included; the completion turns it into err) in queue order.
 * Returns 0, or a negative WB_E* with err set, which ends the reading:
 * the applier is not used after an error but closed.
 */
typedef int (*wb_pipe_done)(const wb_pipe_item *it, PGresult *res,
                            wb_error *err);

struct wb_pipe_item {
    wb_pipe_done done;
    void *ctx; /* the owner's state */
    void *arg; /* the owner's details of this statement, or NULL */
    /* What it was for, to name in errors (strings of the configuration,
     * which outlives the queue; NULL: none). */
    const char *mapping, *schema, *table;
    wb_lsn lsn;
    /* The owner's own values (an op kind, a row count). */
    int kind;
    uint64_t n;
    size_t bytes; /* parameter bytes, counted in flight until the result */
};

typedef struct wb_pipe {
    PGconn *conn;     /* borrowed */
    bool on;          /* in pipeline mode */
    bool copying;     /* out of it, in a COPY FROM STDIN */
    bool want_write;  /* libpq has unsent output */
    bool expect_null; /* a NULL result ends the previous statement */
    size_t head, n;
    size_t inflight_bytes; /* parameter bytes of the queued statements */
    /* Parameter bytes queued since libpq's output buffer was last seen
     * empty (PQflush returned 0): bounds what libpq shifts (apply/flow.h). */
    size_t unsent_bytes;
    /* Items ever queued and ever answered: a caller's mark (the first
     * after its statements) is passed once answered reaches it. */
    uint64_t pushed, answered;
    /* Called about every 100 ms while a wait below blocks (NULL: none):
     * the owner's other connection still has to answer its server. */
    void (*waiting)(void *ud);
    void *waiting_ud;
    wb_pipe_item items[WB_PIPE_MAX_ITEMS];
} wb_pipe;

/* Before the first statement: enter pipeline mode (once). */
void wb_pipe_start(wb_pipe *p);

/* Queue a statement (text with parameters, a prepared one, or a
 * preparation) with it (copied) as its completion.  0 or WB_ECONN, with
 * what (NULL: a default) saying what could not be sent.  Past the bound of
 * libpq's unsent output this also tries a flush, which never waits. */
int wb_pipe_send(wb_pipe *p, const char *sql, int nparams,
                 const char *const *params, const wb_pipe_item *it,
                 const char *what, wb_error *err);
int wb_pipe_send_prepared(wb_pipe *p, const char *name, int nparams,
                          const char *const *params, const wb_pipe_item *it,
                          const char *what, wb_error *err);
/* The same with parameters given with lengths and formats (1: binary), as
 * PQsendQueryPrepared takes them. */
int wb_pipe_send_prepared_bin(wb_pipe *p, const char *name, int nparams,
                              const char *const *params, const int *lengths,
                              const int *formats, const wb_pipe_item *it,
                              const char *what, wb_error *err);
int wb_pipe_prepare(wb_pipe *p, const char *name, const char *sql, int ntypes,
                    const Oid *types, const wb_pipe_item *it, wb_error *err);
/* End a unit of work: the server runs what came before, and an error
 * skips statements only up to here. */
int wb_pipe_sync(wb_pipe *p, wb_error *err);
/* Ask the server to send the results it holds (without a sync). */
int wb_pipe_flush_request(wb_pipe *p, wb_error *err);
/* A failure to send: err from the connection, WB_ECONN. */
int wb_pipe_send_failed(wb_pipe *p, const char *what, wb_error *err);

/* Send queued output: 0 all sent, 1 more to send (wait for writable),
 * or WB_ECONN. */
int wb_pipe_flush(wb_pipe *p, wb_error *err);
/* Read the results that arrived and run their completions; 0 or the
 * first failure. */
int wb_pipe_consume(wb_pipe *p, wb_error *err);
/* Ask for the results held by the server and send what libpq buffers. */
int wb_pipe_kick(wb_pipe *p, wb_error *err);
/* Block until libpq's output buffer is written to the socket (reading
 * results meanwhile, so that the server never waits on us); WB_ECONN
 * after timeout_ms. */
int wb_pipe_wait_sent(wb_pipe *p, int timeout_ms, wb_error *err);
/* Block until every queued statement has its result; WB_ECONN when the
 * target sends none for timeout_ms (a hang, not a slow queue). */
int wb_pipe_wait(wb_pipe *p, int timeout_ms, wb_error *err);

/*
 * Start sql, a COPY ... FROM STDIN, out of pipeline mode.  Every queued
 * statement must have its result already (wb_pipe_wait after a sync).
 * *failed: NULL when the server waits for the data (p->copying), else its
 * error result (the caller clears it; pipeline mode is back on).  WB_ECONN
 * when the target is lost or silent for timeout_ms.
 */
int wb_pipe_copy_begin(wb_pipe *p, const char *sql, int timeout_ms,
                       PGresult **failed, wb_error *err);
/* Queue COPY data: counted as unsent output, flushed (without waiting)
 * past the same bound as statements.  0 or WB_ECONN. */
int wb_pipe_copy_put(wb_pipe *p, const char *data, size_t len, wb_error *err);
/*
 * End the COPY (abort: with an error instead, so that the server discards
 * it) and wait for its result, in *res (the caller clears it); pipeline
 * mode is on again.  WB_ECONN when the target is lost or silent for
 * timeout_ms.
 */
int wb_pipe_copy_end(wb_pipe *p, const char *abort, int timeout_ms,
                     PGresult **res, wb_error *err);

static inline size_t wb_pipe_queued(const wb_pipe *p)
{
    return p->n;
}

#endif
