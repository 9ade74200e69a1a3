/*
 * source/spool.h - on-disk spool for streamed (in-progress) transactions.
 *
 * With `streaming` on, the walsender sends a large transaction in chunks
 * while it is still running, interleaved with others, and may abort it or
 * one of its subtransactions afterwards.  Nothing of it may reach the
 * target before its Stream Commit, so its messages are appended to a file
 * per top-level xid and replayed at commit, as PostgreSQL's apply worker
 * does (worker.c, stream_write_change / apply_spooled_messages).
 *
 * Files are unlinked right after creation: a crash leaves nothing behind,
 * and nothing needs to survive one (the server sends an uncommitted
 * transaction again from the start).
 */
#ifndef WB_SOURCE_SPOOL_H
#define WB_SOURCE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct wb_spool wb_spool;

/* dir NULL or "": $TMPDIR, else /tmp.  max_open bounds open transactions. */
wb_spool *wb_spool_create(const char *dir, size_t max_open, wb_error *err);
/* Close and drop every transaction; NULL allowed. */
void wb_spool_destroy(wb_spool *sp);
/* Forget every open transaction (after a reconnect). */
void wb_spool_clear(wb_spool *sp);

/* Number of transactions with spooled data not yet committed or aborted. */
size_t wb_spool_open_count(const wb_spool *sp);

/*
 * Append one message of (sub)transaction subxid of top-level xid.  The
 * first message of a subxid records where it starts, so that its abort can
 * cut it off.  WB_EIO on a write error (disk full), WB_ELIMIT when too many
 * transactions are open.
 */
int wb_spool_append(wb_spool *sp, uint32_t xid, uint32_t subxid,
                    const char *msg, size_t len, wb_error *err);

/* Mark a transaction (e.g. as walbridge's own echo); read back at replay. */
int wb_spool_set_flag(wb_spool *sp, uint32_t xid, bool flag, wb_error *err);

/* The flag of an open transaction (false when unknown). */
bool wb_spool_is_flagged(const wb_spool *sp, uint32_t xid);

/*
 * Stream Abort: subxid == xid drops the whole transaction, otherwise the
 * subtransaction's changes (and those of later subtransactions) are cut.
 * Unknown xids are not an error (nothing was spooled).
 */
int wb_spool_abort(wb_spool *sp, uint32_t xid, uint32_t subxid, wb_error *err);

/*
 * Replay the transaction in order through cb, then drop it.  cb returning
 * non-zero stops the replay with that code (the transaction is dropped in
 * any case: the server will send it again after a restart).  *flag gets
 * the flag set with wb_spool_set_flag.  Unknown xid: replays nothing.
 */
typedef int (*wb_spool_cb)(void *ud, const char *msg, size_t len);
int wb_spool_replay(wb_spool *sp, uint32_t xid, wb_spool_cb cb, void *ud,
                    bool *flag, wb_error *err);

#endif
