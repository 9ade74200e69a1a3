/*
 * sync.h - the initial copy: the rows the source tables held when
 * walbridge created its slot, through the same mappings as every change
 * after it.
 *
 * When walbridge creates its slot and some enabled mapping has
 * initial_copy (the default), the slot exports its snapshot (source.h).
 * Before the stream starts, each source table that such mappings read is
 * read once under that snapshot (source/tablecopy.h), its rows decoded
 * as the stream's inserts are (decode/copyrow.h) and handed to the
 * dispatcher (wb_dispatch_copied_row), which routes them, only to the
 * mappings being copied, through the same router, plugins, filters and
 * conflict policies, onto the same applier: copied rows carry walbridge's
 * origin and marker like all its writes, so no reverse mapping sends them
 * back.  Then the stream starts at the slot's consistent point, which the
 * snapshot is exactly as of: nothing is missed, nothing applied twice.
 *
 * Rows go in chunks (a bounded number of rows or bytes); each chunk ends
 * with the sync state of its mappings (syncstate.h: rows read, the key of
 * the last) in the same target transaction as its rows.  A mapping is
 * marked done in the transaction of its table's last rows.
 */
#ifndef WALBRIDGE_SYNC_H
#define WALBRIDGE_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "apply/apply.h"

#include "common/error.h"
#include "common/lsn.h"
#include "config/config.h"
#include "dispatch.h"
#include "syncstate.h"

/* Does some enabled mapping of cfg copy existing rows? */
bool wb_sync_wanted(const wb_config *cfg);

/*
 * The slot was just created at lsn (its consistent point; commit_time the
 * moment it was): record every enabled mapping as copying (initial_copy)
 * or skipped in the sync state, and store lsn as the stored position, in
 * one target transaction, and wait for it.  0 or the applier's error.
 */
int wb_sync_start(const wb_config *cfg, wb_apply *a, wb_lsn lsn,
                  int64_t commit_time, wb_error *err);

/* Asked between chunks: true to stop (a signal arrived). */
typedef bool (*wb_sync_stop_fn)(void *ud);

/*
 * Copy every table of the mappings wb_sync_start recorded as copying,
 * under snapshot (exported at lsn), in binary format when binary (the
 * session's value format), through d (whose session's applier is a).
 * Returns 0 once every such mapping is done and committed, WB_ECANCELED
 * when stop said so (complete chunks are committed), or the first error
 * (the open batch is left to the caller to roll back).
 */
int wb_sync_copy(wb_dispatch *d, wb_apply *a, const char *snapshot, wb_lsn lsn,
                 int64_t commit_time, bool binary, wb_sync_stop_fn stop,
                 void *ud, wb_error *err);

/*
 * Before walbridge creates its slot: may the source role read (SELECT)
 * every table the mappings that copy existing rows read?  src is an
 * ordinary connection to the source as that role.  0, WB_ECONFIG naming
 * the first table it may not read (the GRANT in the hint), or the
 * connection's error.
 */
int wb_sync_check_access(const wb_config *cfg, PGconn *src, wb_error *err);

/* Does the configuration's slot exist?  src: an ordinary connection to
 * the source.  0, or the connection's error. */
int wb_sync_slot_exists(const wb_config *cfg, PGconn *src, bool *exists,
                        wb_error *err);

/*
 * `walbridge check`: what the initial copy will do, or did, for each
 * enabled mapping, one INFO (or WARNING) line each: copied when the slot
 * is created (and the access check above: its error is returned), done,
 * interrupted, never copied while its source has rows, skipped.  src and
 * tgt are ordinary connections.
 */
int wb_sync_check(const wb_config *cfg, PGconn *src, PGconn *tgt,
                  wb_error *err);

/*
 * A session on a slot that existed: warn about the enabled mappings that
 * copy existing rows and were never copied, or were copied under another
 * definition (digest); nothing when all are done.  A copy that was
 * interrupted goes on as an online re-sync (resync.h), which says so.
 */
void wb_sync_report(const wb_config *cfg, const wb_sync_rows *rows);

#endif
