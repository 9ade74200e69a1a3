/*
 * check/catalog.h - the configuration checked against the live catalog.
 *
 * A mapping that names a missing column, a type that cannot take the value,
 * a key without the unique index INSERT ... ON CONFLICT needs, or a source
 * whose replica identity does not carry the old key would otherwise fail on
 * the first change that touches it, possibly days after the start, with the
 * stream stopped.  These checks run before anything is written, by
 * `walbridge check` and at the start of `walbridge run` (one of the
 * start-up checks of check/startup.h), and report every problem at
 * once, each at the file:line:column of the node to fix.
 *
 * For every enabled mapping:
 *   - the source and target schemas and tables exist (and are tables);
 *   - every source column that key, columns, values and filter read exists
 *     on the source table; every target column written (key, columns,
 *     values, soft-delete columns) and the lookup tables and columns exist
 *     on the target;
 *   - the value's type converts to the target column's: values travel as
 *     text, so the same type, a target of string category, the same type
 *     category or a pg_cast entry are accepted;
 *   - when the mapping inserts or updates, a unique index or constraint
 *     with exactly the key's target columns and no predicate exists;
 *   - when it handles updates or deletes, the source's replica identity
 *     carries every source key column (or is FULL);
 *   - the source table is in source.publication when that exists, or in
 *     source.schemas when walbridge is going to create it.
 * Plugin mappings only have their from and to tables checked.
 *
 * One catalog query per mapping and database, over an ordinary connection;
 * names are always parameters.
 */
#ifndef WB_CHECK_CATALOG_H
#define WB_CHECK_CATALOG_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "config/config.h"
#include "common/error.h"
#include "common/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Receives one problem (level WB_LOG_ERROR, code WB_ECATALOG) with its
 * message, hint and position (cfg->path, line, column).  problem is valid
 * only during the call.  The same signature as wb_graph_report_fn, so one
 * function can serve both.
 */
typedef void (*wb_catalog_report_fn)(void *arg, wb_log_level level,
                                     const wb_error *problem);

/*
 * Check cfg's enabled mappings against the catalogs of source (source
 * tables, replica identity, publication) and target (target and lookup
 * tables); target may be NULL or equal to source when both are one
 * database.  Both are ordinary (not replication) connections, idle, not in
 * pipeline mode.  Every problem goes to report (may be NULL).  Returns the
 * number of problems (>= 0), or a negative WB_E* (WB_ECONN, WB_ESQL,
 * WB_ENOMEM) with err filled when a catalog query failed.
 */
int wb_catalog_check(PGconn *source, PGconn *target, const wb_config *cfg,
                     wb_catalog_report_fn report, void *arg, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
