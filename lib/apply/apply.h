/*
 * apply/apply.h - the applier: target writes, on one ordinary connection,
 * in batches that carry the stored position (progress.h) in the same
 * target transaction as their rows.
 */
#ifndef WALBRIDGE_APPLY_INT_H
#define WALBRIDGE_APPLY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"

#include "map/router.h"

typedef struct wb_apply wb_apply;

/*
 * Connect to the target (cfg->target.conninfo, or the source's when empty),
 * pin the session (synchronous_commit as target.synchronous_commit says),
 * run the start-up checks of the target session (check/startup.h:
 * TARGET and RULES) and set up progress storage (progress.h: origin or
 * table; in auto mode an origin when the role may), the pending link table
 * and the column clock when the mappings need them.  Returns 0 or WB_ECONN /
 * WB_ESQL / WB_ESTATE (origin in use by another process) / a start-up check's
 * refusal (WB_ECONFIG, WB_ECATALOG) with err.
 */
int wb_apply_open(const wb_config *cfg, wb_apply **out, wb_error *err);
void wb_apply_close(wb_apply *a);

/* The stored position of this target session (progress.h): read it,
 * check the source's identity against it.  Lives as long as the applier. */
struct wb_progress *wb_apply_progress(const wb_apply *a);

/*
 * Applying runs in libpq pipeline mode: the calls below queue statements
 * and return at once; results are read by wb_apply_consume when the
 * target socket is readable (the run loop polls wb_apply_socket).  Source
 * transactions are grouped into batches, one target transaction each,
 * closed by count (target.batch_max_txns), size or age
 * (target.batch_latency); the batch stores the end_lsn of its last source
 * transaction.  Errors of queued statements surface from wb_apply_consume
 * or wb_apply_drain with the statement's mapping, relation and LSN.
 */

/*
 * Queue one operation (opening a batch when none is open).  lsn is the
 * source commit LSN, for errors.  WB_ELIMIT when the queue is full (the
 * caller stops reading the source before that: wb_apply_backlogged).
 */
int wb_apply_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn, wb_error *err);

/*
 * A source transaction ended at end_lsn.  wrote: it queued operations (a
 * batch is open).  Transactions that wrote nothing may also be passed when
 * a batch is open: their position rides along.  Closes the batch when due.
 */
int wb_apply_txn_done(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                      bool wrote, wb_error *err);

/* Close the open batch if its latency bound has passed (timer).  Only
 * between source transactions: the batch must hold whole ones. */
int wb_apply_tick(wb_apply *a, wb_error *err);
/*
 * The source has nothing more to read and no transaction is open: close
 * the open batch now (waiting for batch_latency then only adds lag: at a
 * low rate, every transaction would wait the whole 10 ms) if it holds
 * complete transactions and
 * - the last of them committed at the source less than batch_latency ago:
 *   caught up, not catching up on a backlog, which is left to the count,
 *   size and latency bounds;
 * - no earlier batch's COMMIT still awaits its result.  Meanwhile the
 *   batch keeps growing (group commit); the caller asks again when results
 *   arrive, so the number of target commits follows the target's pace, not
 *   the source's; the latency timer still bounds it.
 * The batch is closed exactly as by the latency timer: its stored position
 * goes in the same transaction, and only confirmed commits are reported.
 */
int wb_apply_source_idle(wb_apply *a, wb_error *err);
/* Close the open batch now (commit what is complete, or roll back). */
int wb_apply_close_batch(wb_apply *a, wb_error *err);
/* Roll back the open batch (a source transaction was cut off). */
int wb_apply_rollback_batch(wb_apply *a, wb_error *err);
/* Milliseconds until the open batch is due by age (0: now), or -1 when
 * there is no batch holding a complete transaction. */
int64_t wb_apply_batch_due_in_ms(const wb_apply *a);

/*
 * Store a position with no rows: joins the open batch, or is committed in
 * a batch of its own.  Durable once wb_apply_durable_lsn reaches it.
 */
int wb_apply_store_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                            wb_error *err);

/*
 * Queue one statement of walbridge's own (the sync state's, syncstate.h)
 * in the open batch, opening one if need be, so that it commits with the
 * rows around it; its result is only checked (a failure fails the batch
 * as a row's would: WB_ESQL with what).  The caller then counts a
 * transaction that wrote (wb_apply_txn_done).
 */
int wb_apply_batch_stmt(wb_apply *a, const char *sql, int nparams,
                        const char *const *params, wb_lsn lsn, wb_error *err);
/* The sync state table, quoted, and the slot's rows in it when the
 * session started. */
const char *wb_apply_sync_rel(const wb_apply *a);
const struct wb_sync_rows *wb_apply_sync_rows(const wb_apply *a);
/* Read available results; 0 or the first failure (err filled). */
int wb_apply_consume(wb_apply *a, wb_error *err);
/* Send queued output: 0 all sent, 1 more to send (wait for writable). */
int wb_apply_flush(wb_apply *a, wb_error *err);
/*
 * A set-based statement failed (the error came from wb_apply_consume):
 * the caller should apply the batch again row by row, on a new session,
 * with wb_apply_set_rowmode_until(err->lsn), so that the error names the
 * row.  Row mode ends after that LSN.
 */
bool wb_apply_set_failed(const wb_apply *a);
void wb_apply_set_rowmode_until(wb_apply *a, wb_lsn lsn);

/* Drain, then make committed batches durable: with synchronous_commit
 * off, a small transaction committed with synchronous_commit on flushes
 * the WAL before it, and the target's flush position is read.  Everything
 * sent is then committed and durable, or an error says why not. */
int wb_apply_settle(wb_apply *a, int timeout_ms, wb_error *err);

/* Ask the server to send the results it holds (before waiting on them);
 * during a run's COPY only send its data, leaving the COPY open. */
int wb_apply_kick(wb_apply *a, wb_error *err);
/*
 * Pacing a caller's own writes behind the stream's (resync.c applies a
 * chunk in slices): send everything queued so far (the open run
 * included) and ask for its results; *mark is passed (wb_apply_passed)
 * once the target has answered all of it, whatever was queued after.
 */
int wb_apply_mark(wb_apply *a, uint64_t *mark, wb_error *err);
/* fn(ud) is called about every 100 ms while the applier blocks waiting
 * for the target (make_room, drain, a COPY's start or end): the source's
 * walsender still wants its status meanwhile. */
void wb_apply_on_wait(wb_apply *a, void (*fn)(void *ud), void *ud);
bool wb_apply_passed(const wb_apply *a, uint64_t mark);

/* Block until every queued statement has its result (a run's COPY is
 * ended first); WB_ECONN when the target sends none for timeout_ms (a
 * hang, not a slow queue). */
int wb_apply_drain(wb_apply *a, int timeout_ms, wb_error *err);

int wb_apply_socket(const wb_apply *a);
bool wb_apply_wants_write(const wb_apply *a);
/* Highest end_lsn whose batch the target confirmed committed (durable). */
wb_lsn wb_apply_durable_lsn(const wb_apply *a);
/* A batch is open or statements await results. */
bool wb_apply_busy(const wb_apply *a);
/* Back-pressure (apply/flow.h): stop reading the source at backlogged,
 * resume at drained_enough. */
bool wb_apply_backlogged(const wb_apply *a);
bool wb_apply_drained_enough(const wb_apply *a);
/* For a caller that cannot stop reading (a streamed transaction's
 * replay): when backlogged, block until libpq's output is sent, or, when
 * the server side is full, until every result is in (wb_apply_drain).
 * 0, or WB_ECONN on a timeout (timeout_ms). */
int wb_apply_make_room(wb_apply *a, int timeout_ms, wb_error *err);

/*
 * A change of schema.table reached walbridge.  If that is the lookup table
 * of some mapping, its pending links (apply/link.h) are resolved when the
 * batch closes: the batch is opened if need be and *due set, and the
 * caller counts the transaction as one that wrote, so that the batch is
 * committed.  A parent's sfid arriving is such a change.
 */
int wb_apply_lookup_changed(wb_apply *a, const char *schema, const char *table,
                            bool *due, wb_error *err);
/*
 * A change of another writer (decoded from the stream) of a table that a
 * last_writer_wins-by-commit-time mapping writes, as the router saw it
 * (map/router.h): record in the column clock which columns it wrote and
 * when (its commit LSN), in the open batch (opened if need be; *wrote then
 * true, and the caller counts the transaction as writing).  Nothing when
 * the target has no clock table.
 */
int wb_apply_clock_change(wb_apply *a, const wb_clock_write *w, bool *wrote,
                          wb_error *err);
/* A reloaded configuration (same connection and slot settings): conflict
 * checks and links are taken from cfg, which must outlive the applier. */
int wb_apply_reconfigure(wb_apply *a, const wb_config *cfg, wb_error *err);

/* Counters for logs and tests. */
typedef struct wb_apply_stats {
    uint64_t txns;
    uint64_t ops;
    uint64_t statements_prepared;
    uint64_t set_statements; /* set-based statements sent */
    uint64_t rows_written;   /* target rows inserted, updated or deleted,
                                in committed batches */
    uint64_t conflicts;      /* rows where a conflict policy decided */
    uint64_t links_pending;  /* lookups that missed: noted to retry */
    uint64_t links_resolved; /* child rows linked later */
    uint64_t rows_copied;    /* inserts sent by COPY, in committed batches */
    uint64_t copy_fallbacks; /* COPY runs that met a row already there and
                                were applied again as upserts */
} wb_apply_stats;
void wb_apply_get_stats(const wb_apply *a, wb_apply_stats *out);

#endif
