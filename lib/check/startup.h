/*
 * check/startup.h - every start-up check of `walbridge run`, for
 * `walbridge check`.
 *
 * run refuses to start on: a forbidden mapping cycle (WB_ECONFIG); a
 * mapping that does not match the catalogs (WB_ECATALOG, see
 * walbridge/catalog.h; replica identity included); progress: origin for a
 * role that may not use replication origins (WB_ECATALOG); last_writer_wins
 * by commit time with track_commit_timestamp off on the target, or with
 * progress in a table (WB_ECONFIG).  wb_startup_verify runs that same list
 * (lib/check/startup.c), in the same order, and stops at the first refusal. The
 * replication state (publication, slot, stored position, source identity:
 * WB_ESTATE) is not in it: run checks it after the list, on the walsender
 * connection and against what it stored.
 */
#ifndef WALBRIDGE_STARTUP_H
#define WALBRIDGE_STARTUP_H

#include <stdbool.h>

#include "config/config.h"
#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run every start-up check over connections of its own (closed before
 * returning), or with offline only those that need no connection (the
 * mapping graph).  Problems of the graph and catalog checks are logged
 * through wb_log as found.  Returns 0 or the code run would stop with;
 * err holds the message to log (for graph and catalog: their summary).
 */
int wb_startup_verify(const wb_config *cfg, bool offline, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
