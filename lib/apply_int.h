/*
 * apply_int.h - the applier: target writes and stored progress, on one
 * ordinary connection.
 *
 * Exactly-once rests on one rule: the source position (the Commit message's
 * end_lsn) is written in the same target transaction as the rows, through a
 * replication origin (pg_replication_origin_xact_setup, WAL-logged inside
 * the commit record, as PostgreSQL's apply worker does) or, where the role
 * may not use origins, an upsert into a progress table.  Either both the
 * rows and the position are durable, or neither.
 */
#ifndef WALBRIDGE_APPLY_INT_H
#define WALBRIDGE_APPLY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "walbridge/config.h"
#include "walbridge/error.h"
#include "walbridge/lsn.h"
#include "walbridge/mapping.h"

typedef struct wb_apply wb_apply;

/* Prefix of the transactional logical message that marks walbridge's own
 * transactions when no replication origin can be used. */
#define WB_APPLY_MARKER_PREFIX "walbridge"

/*
 * Connect to the target (cfg->target.conninfo, or the source's when empty),
 * pin the session (synchronous_commit on) and set up progress storage:
 * origin (created when missing, attached to the session) or table (created
 * when missing).  In auto mode an origin is used when the role may.
 * Returns 0 or WB_ECONN / WB_ESQL / WB_ESTATE (origin in use by another
 * process) with err.
 */
int wb_apply_open(const wb_config *cfg, wb_apply **out, wb_error *err);
void wb_apply_close(wb_apply *a);

/* The progress mode actually in use (origin or table, never auto). */
wb_progress_mode wb_apply_mode(const wb_apply *a);

/*
 * Read the stored position: the highest of the origin's durable progress
 * and the progress table's row for the slot.  *lsn is WB_INVALID_LSN when
 * nothing is stored.
 */
int wb_apply_stored_lsn(wb_apply *a, wb_lsn *lsn, wb_error *err);

/* Is a target transaction open? */
bool wb_apply_in_txn(const wb_apply *a);

/*
 * Open the target transaction for one source transaction (and, in table
 * mode, write the marker message first).  Idempotent while open.
 */
int wb_apply_begin(wb_apply *a, wb_error *err);

/*
 * Execute one operation inside the open transaction.  lsn is only used for
 * errors.  A failing statement returns WB_EDATA with the server's message,
 * the target relation and lsn in err; the transaction must then be rolled
 * back.
 */
int wb_apply_op(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                wb_error *err);

/*
 * Store end_lsn (and the source commit time) and commit.  Returns 0 only when
 * the server confirmed COMMIT (synchronous_commit on: durable).
 */
int wb_apply_commit(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                    wb_error *err);

/* Roll back the open transaction, if any.  Never fails the caller. */
void wb_apply_rollback(wb_apply *a);

/*
 * Store a position with no rows in its own transaction: for source
 * transactions that mapped to nothing and idle keepalive positions.
 */
int wb_apply_store_progress(wb_apply *a, wb_lsn end_lsn, int64_t commit_time,
                            wb_error *err);

/*
 * Compare the source's system identifier and timeline with the ones stored
 * for this slot (recording them the first time).  A different system means
 * the slot name now points at another cluster; a different timeline means
 * a failover happened: both are WB_ESTATE, never silently continued.
 * When the role may not create the identity table, the check is skipped
 * with a warning (returns 0).
 */
int wb_apply_check_source(wb_apply *a, const char *system_id,
                          uint32_t timeline, wb_error *err);

/* Counters for logs and tests. */
typedef struct wb_apply_stats {
    uint64_t txns;
    uint64_t ops;
    uint64_t statements_prepared;
} wb_apply_stats;
void wb_apply_get_stats(const wb_apply *a, wb_apply_stats *out);

#endif
