/*
 * apply/flow.h - back-pressure: when the applier holds enough that the run
 * loop should stop reading the source, and when it may read again.  Pure
 * functions of the applier's load, so that the thresholds are tested
 * without a server.
 *
 * What the applier sent and the target has not answered sits in two
 * places, each bounded on its own:
 *  - at the server (written to the socket, result not read yet): bounded by
 *    statements and parameter bytes in flight (the queue's items, memory),
 *    with hysteresis: stop at the high mark, resume below half of it;
 *  - in libpq's output buffer (queued, not written yet): bounded by the
 *    parameter bytes queued since that buffer was last seen empty (a
 *    PQflush that returned 0).  libpq moves the unsent rest of its buffer
 *    to the start after every partial write, and tries a write after
 *    every message once 8 KiB are queued, so a backlog of megabytes there
 *    is copied again for every statement queued behind it (7-9% of
 *    walbridge's CPU on a bulk load into a slow target, measured with
 *    tests/bench/profile.sh; none when the target keeps up).  Kept to a
 *    few hundred KiB, the copies stay small; the socket's buffer and the
 *    server hold the rest.
 *    The pipeline tries a flush as soon as it passes the bound
 *    (apply/pipeline.c); the source waits only when the socket is full.
 */
#ifndef WALBRIDGE_APPLY_FLOW_H
#define WALBRIDGE_APPLY_FLOW_H

#include <stdbool.h>
#include <stddef.h>

/* Parameter bytes at the server: keeps walbridge's RSS under 32 MiB. */
#define WB_FLOW_MAX_INFLIGHT_BYTES ((size_t)8 * 1024 * 1024)
#define WB_FLOW_MAX_UNSENT_BYTES   ((size_t)256 * 1024)

typedef struct wb_flow_load {
    size_t queued;         /* statements awaiting their result */
    size_t max_queued;     /* the queue's capacity */
    size_t inflight_bytes; /* their parameter bytes */
    size_t unsent_bytes;   /* queued since libpq's buffer was last empty */
    size_t unflushed;      /* committed batches awaiting their WAL flush */
    size_t max_unflushed;  /* the capacity for those */
} wb_flow_load;

/* The server side is at a bound (queue, bytes in flight, batches awaiting
 * their WAL flush): only results free it. */
bool wb_flow_server_full(const wb_flow_load *l);
/* Stop reading the source: one of the bounds is reached. */
bool wb_flow_backlogged(const wb_flow_load *l);
/* Read it again: libpq's buffer was emptied into the socket and the
 * server side is below half its bounds. */
bool wb_flow_drained_enough(const wb_flow_load *l);
/* Only libpq's buffer is over its bound: waiting for the socket to take
 * it is enough, the server's results need not be awaited. */
bool wb_flow_only_unsent(const wb_flow_load *l);

#endif
