/*
 * resync.h - the online re-sync: a mapping's source table copied again, in
 * key order and in chunks, while the stream goes on.
 *
 * The design is DBLog's (Netflix; Debezium's incremental snapshots): for
 * each chunk, a low watermark is written into the WAL as a
 * non-transactional logical message, which the stream decodes at its own
 * position; the chunk's rows are read (key > cursor, in key order, a
 * bounded number); a high watermark follows.  Every streamed change of
 * the table that the stream delivers between the two watermarks marks its
 * key: the chunk's row for that key may be older than what the stream
 * carries, and is dropped.  When the stream reaches the high watermark,
 * the surviving rows are routed like copied rows (wb_dispatch_copied_row:
 * only to the mappings being re-synced) into the applier's open batch,
 * together with the sync state's new cursor (syncstate.h) and the stream
 * position, so the chunk, its cursor and the position commit together.
 *
 * Watermarks carry a secret made for each run, so that a message another
 * session writes with the same prefix is ignored; after a restart, the
 * old run's watermarks still in the stream are ignored the same way, and
 * the chunk is read again from the stored cursor.
 *
 * Jobs: every enabled mapping whose sync state is `copying` when a session
 * starts (an initial copy that was interrupted, or `walbridge resync`),
 * and those `walbridge resync` requests while walbridge runs (it writes
 * the state, then a wake-up message into the stream).  One source table
 * at a time, one chunk at a time; a chunk is read on libuv's thread pool
 * on connections of its own, so the stream is never held up by it.
 */
#ifndef WALBRIDGE_RESYNC_H
#define WALBRIDGE_RESYNC_H

#include <stdbool.h>

#include <uv.h>

#include "apply/apply.h"
#include "common/error.h"
#include "decode/pgoutput.h"
#include "dispatch.h"
#include "map/change.h"
#include "syncstate.h"

/* The prefixes of walbridge's non-transactional messages. */
#define WB_RESYNC_WATERMARK "walbridge.watermark"
#define WB_RESYNC_WAKE      "walbridge.resync"

typedef struct wb_resync wb_resync;

/* A failure of the re-sync's own work (reading a chunk): the loop ends
 * the session with it. */
typedef void (*wb_resync_fail_fn)(void *ud, const wb_error *err);

/* NULL with err when out of memory or no secret can be made. */
wb_resync *wb_resync_create(uv_loop_t *loop, wb_resync_fail_fn fail, void *ud,
                            wb_error *err);
void wb_resync_destroy(wb_resync *r);

/*
 * The session streams: start the jobs of rows (the sync state as the
 * applier's session started; NULL when this session's initial copy just
 * wrote it), reading values in binary format when the session does.  d
 * and a are borrowed until wb_resync_end_session.
 */
int wb_resync_start_session(wb_resync *r, wb_dispatch *d, wb_apply *a,
                            bool binary, const wb_sync_rows *rows,
                            wb_error *err);
/* The session ends: wait for a chunk being read (cancelled) and forget
 * the chunk; jobs start again from the stored state next session. */
void wb_resync_end_session(wb_resync *r);

/* A job is running (for --until now: not done until it is). */
bool wb_resync_busy(const wb_resync *r);

/* dispatch.h's hooks: a row change of any relation (only those of the
 * table being re-synced matter) in the transaction xid, and a
 * non-transactional message of walbridge's (a watermark, or a wake-up). */
void wb_resync_row_change(wb_resync *r, const wb_change *c, uint32_t xid);
/*
 * A table without a primary key or replica identity index cannot be paged
 * by key: its mapping is re-synced whole, under the snapshot of a
 * temporary slot, when the stream reaches that slot's consistent point.
 * The loop calls this before it applies a source transaction that commits
 * at lsn (Begin, Stream Commit) and, with the walsender's position, while
 * the stream is idle; once lsn is there, the table is copied now, the
 * stream waiting (the blocking variant), and lsn is stored with the rows.
 * 0, or the copy's error.
 */
int wb_resync_reached(wb_resync *r, wb_lsn lsn, wb_error *err);
/* Called often (about every 100 ms) while the re-sync holds the loop
 * (a snapshot's export, a blocking copy): the caller answers the
 * walsender when an answer is due (its wal_sender_timeout). */
void wb_resync_set_ping(wb_resync *r, void (*ping)(void *ud));
/*
 * A chunk past its high watermark is applied a slice at a time, the next
 * one once the target has answered the last: call this between source
 * transactions whenever the loop turns (results may have arrived).  0 or
 * the applier's error.
 */
int wb_resync_pump(wb_resync *r, wb_error *err);
int wb_resync_message(wb_resync *r, const wb_pgoutput_message *m,
                      wb_error *err);

#endif
