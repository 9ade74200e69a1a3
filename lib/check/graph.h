/*
 * check/graph.h - cycles in the mapping graph.
 *
 * The tables of the enabled mappings form a directed graph: an edge from a
 * mapping's "from" table to each of its "to" tables.  A cycle
 * (portal.users -> salesforce.account -> portal.users) means a change can
 * come back to the table it started from.  walbridge never maps its own
 * writes again, but another writer's write-back (Heroku Connect's) does come
 * back; the echo ends only when the mapping that receives it writes nothing
 * for an update that changes nothing, which is what skip_unchanged does (and
 * a conflict policy, which writes only the columns whose value differs).  So
 * a cycle is allowed only when every mapping on it sets one of them.
 *
 * Pure: reads the configuration only, never connects.
 */
#ifndef WB_CHECK_GRAPH_H
#define WB_CHECK_GRAPH_H

#include "config/config.h"
#include "common/error.h"
#include "common/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many cycles are listed one by one; mappings on further
 * cycles are still reported, one message per mapping. */
#define WB_GRAPH_MAX_CYCLES 64

/*
 * Receives one finding: WB_LOG_ERROR for a cycle that is not allowed,
 * WB_LOG_INFO for an allowed one.  problem carries the message, a detail
 * naming every mapping on the cycle with its file:line:column, a hint, and
 * the position (cfg->path) of the first mapping on the cycle that lacks
 * skip_unchanged (or of the cycle's first mapping when it is allowed).
 * problem is valid only during the call.
 */
typedef void (*wb_graph_report_fn)(void *arg, wb_log_level level,
                                   const wb_error *problem);

/*
 * Report every elementary cycle of the enabled mappings' graph through
 * report (which may be NULL: then only the count is wanted), each once,
 * starting at the table that comes first in the file.  Two mappings on the
 * same edge make two cycles.  Returns the number of problems reported at
 * WB_LOG_ERROR (0: no cycle, or only allowed ones), or WB_ENOMEM.
 */
int wb_graph_check(const wb_config *cfg, wb_graph_report_fn report, void *arg);

#ifdef __cplusplus
}
#endif
#endif
