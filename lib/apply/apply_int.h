/*
 * apply/apply_int.h - the applier's rooms and the state each one owns.
 *
 * The applier (apply/apply.h) is one object on one target connection,
 * built of rooms, one job each:
 *   pipeline.c   the libpq pipeline: queue, send, results to completions
 *   flow.c       back-pressure: when the source should wait (pure)
 *   stmtcache.c  prepared statements by shape
 *   apply.c      open, close, reconfigure; a row operation (wb_apply_op)
 *   setrun.c     runs of rows sent as one set-based statement
 *   copyrun.c    long runs of inserts streamed with COPY instead
 *   batch.c      batches: one target transaction over several source
 *                transactions, closed with the stored position (progress.h)
 *   conflict.c   conflict statements' results and logs; the column clock
 *   link.c       key links: pending lookups noted and resolved
 * (apply.c also sets up the sync state table, syncstate.h, whose
 * statements batch.c queues for the initial copy, sync.h.)
 *   sqlgen.c, sqlgen_conflict.c   the statements' text (pure)
 * Each room keeps its state in its own member of struct wb_apply below and
 * queues statements with a completion of its own; this header is shared
 * by the rooms only.
 */
#ifndef WALBRIDGE_APPLY_APPLY_INT_H
#define WALBRIDGE_APPLY_APPLY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "apply/apply.h"
#include "apply/link.h"
#include "apply/pipeline.h"
#include "apply/setrun.h"
#include "apply/stmtcache.h"
#include "progress.h"
#include "syncstate.h"

#define WB_APPLY_ROW_TEXT   96 /* a row's key for errors ("k=v, ...") */
#define WB_APPLY_ITEM_CASTS 8  /* target-side casts a row can name */

/* A row statement in flight: what its result and errors need beyond the
 * pipeline item (which names mapping, relation and LSN). */
typedef struct wb_apply_row {
    wb_op_kind op;
    bool warn_missing;                  /* update without insert fallback:
                                           warn on 0 rows */
    bool counted;                       /* its one row is the count of rows
                                           written */
    const wb_config_conflict *conflict; /* a conflict statement */
    const char *from_schema, *from_table;
    int64_t commit_time;
    char row[WB_APPLY_ROW_TEXT];
    /* its parameters that the target casts, and their columns (config
     * strings), to name the column when PostgreSQL rejects a value
     * ("parameter $n" in the error's context): see note_casts. */
    int cast_param[WB_APPLY_ITEM_CASTS];
    const char *cast_col[WB_APPLY_ITEM_CASTS];
} wb_apply_row;

/* Results read but not committed yet: counted into wb_apply_stats when
 * their batch commits, dropped when it rolls back. */
typedef struct wb_apply_tally {
    uint64_t written, conflicts, linked, noted;
    uint64_t copied, copy_fallbacks; /* copyrun.c */
} wb_apply_tally;

/* batch.c: the open target transaction. */
typedef struct wb_apply_batch {
    bool open;  /* a batch (target transaction) is open */
    wb_lsn end; /* end_lsn of the last complete source txn in it */
    int64_t time;
    uint64_t txns;
    size_t bytes;
    int64_t opened_ms;
    uint64_t max_txns;
    int64_t latency_ms;
    size_t commits_out;   /* batch COMMITs sent, result not yet read */
    wb_lsn last_sent_end; /* end_lsn stored by the last COMMIT sent */
    bool flush_query_out; /* a WAL flush position query is in flight */
    int64_t last_flush_query_ms;
} wb_apply_batch;

/* conflict.c: conflict policies' facts and the column clock. */
typedef struct wb_apply_conflicts {
    bool track_cts;  /* target's track_commit_timestamp */
    char *clock_rel; /* quoted progress_schema.column_clock, or NULL */
    wb_strbuf karr;  /* a key as a text[] literal */
    wb_strbuf cols, vals, ucols, uvals; /* a clock change's arrays */
} wb_apply_conflicts;

/* link.c: lookups whose misses are retried. */
typedef struct wb_apply_links {
    wb_link *links;
    size_t n;
    char *pending_rel; /* quoted progress_schema.pending_link */
} wb_apply_links;

struct wb_apply {
    PGconn *conn;
    const wb_config *cfg;
    wb_progress_mode mode;
    wb_progress *progress;
    unsigned cfg_gen; /* bumped by a reload: statements built from
                         mapping settings (conflict, links) are keyed
                         on it, so none outlives its configuration */
    wb_apply_stats stats;
    wb_apply_tally pending;
    wb_stmt_cache stmts;
    wb_setrun set;
    wb_apply_batch batch;
    wb_apply_conflicts cf;
    wb_apply_links lk;
    /* The sync state (syncstate.h): its quoted table and the slot's rows
     * as the session started. */
    char *sync_rel;
    wb_sync_rows sync_rows;
    /* Row statements in flight, reused round robin: never more than the
     * pipeline's items. */
    uint64_t row_next;
    wb_apply_row rows[WB_PIPE_MAX_ITEMS];
    wb_pipe pipe;
};

/* ------------------------------------------------------------ apply.c */

/* A blocking statement before the pipeline starts (set-up). */
int wb_apply_exec(wb_apply *a, const char *sql, int nparams,
                  const char *const *params, ExecStatusType want,
                  PGresult **out, const char *what, wb_error *err);
/* The same for a statement built by a wb_sql_* function, freed. */
int wb_apply_exec_built(wb_apply *a, wb_strbuf *sql, const char *what,
                        wb_error *err);
/* A table of walbridge's own in the progress schema (common/names.h):
 * create the schema if need be and set *rel to the quoted "schema".name
 * (malloc'd).  what names it in errors. */
int wb_apply_own_table(wb_apply *a, const char *name, const char *what,
                       char **rel, wb_error *err);

/*
 * Turn the failed result of it into err: what failed, the relation, the
 * column and the LSN.  data: a statement of a row (its failure is
 * WB_EDATA, else WB_ESQL; WB_ECONN when the connection is gone either
 * way); row: a row statement's details, or NULL; set_based: a set-based
 * statement (row mode then tells which row).  Returns the code.
 */
int wb_apply_fail(wb_apply *a, const wb_pipe_item *it, PGresult *res,
                  const char *what, bool data, const wb_apply_row *row,
                  bool set_based, wb_error *err);
/* The failed result of a row statement (it->arg its wb_apply_row). */
int wb_apply_row_fail(const wb_pipe_item *it, PGresult *res, wb_error *err);
/* The completion of a statement whose result is only checked. */
int wb_apply_plain_done(const wb_pipe_item *it, PGresult *res, wb_error *err);
/* A pipeline item of a's with that completion, about mapping m's target
 * (m may be NULL) at lsn. */
wb_pipe_item wb_apply_item(wb_apply *a, wb_pipe_done done,
                           const wb_config_mapping *m, wb_lsn lsn);
/* "upsert into", "update", ...: what failed, for errors. */
const char *wb_apply_op_verb(wb_op_kind k);
/* Warn about an update that found no row. */
void wb_apply_warn_missing(const wb_pipe_item *it);
/* The preparation's item of a statement about mapping/schema/table at
 * lsn (set_based: of a set run). */
wb_pipe_item wb_apply_prep_item(wb_apply *a, const char *mapping,
                                const char *schema, const char *table,
                                wb_lsn lsn, bool set_based);

/* ----------------------------------------------------------- setrun.c */

/* Read the array types of every mapping target's columns (set_based). */
int wb_apply_load_coltypes(wb_apply *a, wb_error *err);
/* Add op to the run (sending the current run first when op cannot join
 * it).  *added false: op is not eligible and must go row by row. */
int wb_apply_run_add(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                     bool *added, wb_error *err);
/* Send the run (nothing when empty): by COPY when it is long enough and
 * COPY takes it, else as one set statement. */
int wb_apply_run_flush(wb_apply *a, wb_error *err);
/* Send the run (not empty) without COPY: as one set statement, or row by
 * row when it has an array column. */
int wb_apply_run_send(wb_apply *a, wb_error *err);
/* Empty the run for the next one. */
void wb_apply_run_reset(wb_apply *a);
/* Drop the run without sending it (its batch is being rolled back),
 * aborting its COPY if one is open. */
int wb_apply_run_discard(wb_apply *a, wb_error *err);

/* ---------------------------------------------------------- copyrun.c */

/* The run (r->copy, at least target.copy_min_rows rows) grew: start its
 * COPY if need be and stream the rows not sent yet. */
int wb_apply_copy_feed(wb_apply *a, wb_error *err);
/* End the run's COPY (starting it if need be) and read its result; when
 * it failed, roll back to the savepoint taken before it and send the run
 * as a set statement (an upsert) instead.  The run is then empty. */
int wb_apply_copy_finish(wb_apply *a, wb_error *err);
/* Abort the open COPY (its batch is being rolled back). */
int wb_apply_copy_abort(wb_apply *a, wb_error *err);

/* ------------------------------------------------------------ apply.c */

/* Queue op's own row statement (not through a run). */
int wb_apply_row_send(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                      wb_error *err);

/* ------------------------------------------------------------ batch.c */

/* Open the target transaction of a batch if none is open. */
int wb_apply_open_batch(wb_apply *a, wb_error *err);

/* --------------------------------------------------------- conflict.c */

/* Set up the column clock at open when a mapping needs it. */
int wb_apply_setup_clock(wb_apply *a, wb_error *err);
bool wb_apply_clock_needed(const wb_config *cfg);
/* Append a conflict statement's parameters after the row's (params[*p]
 * on): old values, flags, stamp, clock key and LSN.  flags and stamp are
 * the caller's buffers (nkeys + nset + 1 and 32 bytes, lsnbuf
 * WB_LSN_BUFLEN). */
int wb_apply_conflict_params(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                             const char **params, size_t *p, char *flags,
                             char *stamp, char *lsnbuf, wb_error *err);
/* The completion of a conflict statement: counts and logs the conflict. */
int wb_apply_conflict_done(const wb_pipe_item *it, PGresult *res,
                           wb_error *err);
void wb_apply_conflicts_free(wb_apply_conflicts *cf);

/* ------------------------------------------------------------- link.c */

/* Collect the links of a->cfg and set up the pending table. */
int wb_apply_setup_links(wb_apply *a, wb_error *err);
/* Take the links of a reloaded cfg: WB_ECONFIG when it has lookups but
 * the pending table was not set up at start. */
int wb_apply_reconfigure_links(wb_apply *a, const wb_config *cfg,
                               wb_error *err);
/* After a write with lookups: note each lookup's outcome. */
int wb_apply_note_links(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                        wb_error *err);
/* Resolve the due links in the open batch (before it closes). */
int wb_apply_resolve_links(wb_apply *a, wb_error *err);
void wb_apply_links_free(wb_apply_links *lk);

#endif
