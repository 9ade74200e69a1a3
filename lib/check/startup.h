/*
 * check/startup.h - the start-up checks of `walbridge run`, in one list
 * (startup.c), for run, the applier and `walbridge check`.
 *
 * `walbridge run` runs every check of the list before it writes anything,
 * `walbridge check` runs the same list, so a configuration run would refuse
 * at start is refused by check first, with the same message and code.  run
 * refuses to start on: a forbidden mapping cycle (WB_ECONFIG); a mapping
 * that does not match the catalogs (WB_ECATALOG, see check/catalog.h;
 * replica identity included); progress: origin for a role that may not use
 * replication origins (WB_ECATALOG); last_writer_wins by commit time with
 * track_commit_timestamp off on the target, or with progress in a table
 * (WB_ECONFIG).  It warns, without refusing, when a source on another
 * server does not track commit timestamps for such a mapping (copied rows
 * then carry the time they were read).  The replication state (publication,
 * slot, stored position, source identity: WB_ESTATE) is not in the list: run
 * checks it after the list, on the walsender connection and against what it
 * stored.
 *
 * A check belongs to a class, by what it needs:
 *
 *   FILE     the file alone (the mapping graph); also `check --offline`;
 *   CATALOG  ordinary connections to source and target (the mappings
 *            against the catalogs, replica identity included);
 *   TARGET   the target session: reads what the other checks and the
 *            applier need from it (wb_startup.mode, .track_cts);
 *   RULES    the mappings against those facts, no query.
 *
 * run calls FILE|CATALOG before it connects the applier (at first start
 * and, without TARGET and RULES, on reload) and TARGET|RULES on the
 * applier's own session each time it connects, so a server restarted
 * with other settings is checked again; a reload runs RULES against the
 * session's facts.  The order of the list is the order of the refusals.
 */
#ifndef WB_CHECK_STARTUP_H
#define WB_CHECK_STARTUP_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "config/config.h"
#include "common/error.h"

enum {
    WB_STARTUP_FILE = 1u << 0,
    WB_STARTUP_CATALOG = 1u << 1,
    WB_STARTUP_TARGET = 1u << 2,
    WB_STARTUP_RULES = 1u << 3,
    WB_STARTUP_ALL = 0xfu
};

typedef struct wb_startup {
    const wb_config *cfg;
    PGconn *source;        /* ordinary connections, idle, not pipelined: */
    PGconn *target;        /* CATALOG needs both, TARGET the target only */
    wb_progress_mode mode; /* set by TARGET: origin or table, never auto */
    bool track_cts;        /* set by TARGET: track_commit_timestamp */
} wb_startup;

/*
 * Run the checks of the given classes, in list order, and stop at the
 * first that refuses: 0, or its WB_E* code with err (message, detail,
 * hint, file position).  Checks that report several problems (graph,
 * catalog) log each through wb_log as found; err is then their summary.
 * RULES without TARGET reads s->mode and s->track_cts as given.
 */
int wb_startup_run(wb_startup *s, unsigned classes, wb_error *err);

/*
 * The same over connections of its own (source.conninfo, and
 * target.conninfo unless empty or equal), opened only when a CATALOG or
 * TARGET check is asked for and closed before returning.
 */
int wb_startup_verify_classes(const wb_config *cfg, unsigned classes,
                              wb_error *err);

/*
 * Every check (WB_STARTUP_ALL), or with offline only those that need no
 * connection (FILE): what `walbridge check` runs.  Returns 0 or the code
 * run would stop with; err holds the message to log (for graph and
 * catalog: their summary, each problem having been logged as found).
 */
int wb_startup_verify(const wb_config *cfg, bool offline, wb_error *err);

#endif
