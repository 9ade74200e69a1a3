/*
 * run.h - the replication pipeline: source -> decoder -> router
 * -> applier, driven by a libuv loop.
 *
 * Progress rule (the whole point): the position reported to the source as
 * flushed is always a position that is durably stored in the target, in
 * the same transaction as the rows it covers.  Keepalive positions and
 * transactions that map to nothing are stored (in a small progress-only
 * transaction) before they are ever reported, so the slot's
 * confirmed_flush_lsn can never pass the stored position.
 */
#ifndef WALBRIDGE_RUN_H
#define WALBRIDGE_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wb_run_opts {
    /* Apply everything committed at the source before the run started,
     * then stop cleanly. */
    bool until_now;
} wb_run_opts;

typedef struct wb_run_stats {
    uint64_t txns_applied;   /* source transactions that wrote to the target */
    uint64_t txns_skipped;   /* own echoes, already applied, nothing mapped */
    uint64_t changes;        /* row changes routed */
    uint64_t ops;            /* target operations executed */
    uint64_t rows_written;   /* target rows written, in committed batches
                                of sessions that ended (the current
                                session's are in the applier) */
    uint64_t conflicts;      /* rows a conflict policy decided */
    uint64_t links_pending;  /* lookups that missed, noted to retry */
    uint64_t links_resolved; /* children linked once their parent was */
    uint64_t rows_copied;    /* inserts sent by COPY (committed) */
    uint64_t copy_fallbacks; /* COPY runs applied again as upserts */
    wb_lsn start_lsn;        /* stored position at start */
    wb_lsn final_lsn;        /* stored position at exit */
} wb_run_stats;

/*
 * Run until SIGINT/SIGTERM (or, with until_now, until caught up).  Installs
 * its own signal handlers for the duration.  Returns 0 after a clean stop
 * (open target transaction rolled back, final position stored and reported),
 * or a negative WB_E* with err filled (not logged: the caller logs it once).
 * stats may be NULL.
 */
int wb_run(const wb_config *cfg, const wb_run_opts *opts, wb_run_stats *stats,
           wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
