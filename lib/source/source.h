/*
 * source/source.h - the replication connection (replication=database).
 *
 * Owns everything that talks to the walsender: publication and slot
 * set-up, START_REPLICATION, reading CopyData without blocking and sending
 * standby status updates.  It never decides what to confirm: the run loop
 * passes the flush position, which it derives from durably stored progress.
 */
#ifndef WB_SOURCE_SOURCE_H
#define WB_SOURCE_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "common/error.h"
#include "common/lsn.h"

typedef struct wb_source wb_source;

typedef struct wb_slot_info {
    bool exists;
    bool created;            /* created by this call */
    wb_lsn consistent_point; /* when created */
    wb_lsn confirmed_flush;  /* when it existed */
    int active_pid;          /* 0 when inactive */
    char snapshot[64];       /* created with export: the snapshot's name,
                                valid while this connection runs no other
                                command (sync.h) */
} wb_slot_info;

/* Connect, IDENTIFY_SYSTEM, learn the server version (>= 14 required). */
int wb_source_open(const wb_config *cfg, wb_source **out, wb_error *err);
void wb_source_close(wb_source *s);

const char *wb_source_system_id(const wb_source *s);
uint32_t wb_source_timeline(const wb_source *s);

/* Create the publication FOR TABLES IN SCHEMA ... when it is missing. */
int wb_source_ensure_publication(wb_source *s, wb_error *err);

/*
 * Look the slot up; create it (pgoutput) when it is missing, creation is
 * allowed and nothing is stored (stored is WB_INVALID_LSN).  export: the
 * new slot exports its snapshot (info->snapshot), which other sessions
 * may import (SET TRANSACTION SNAPSHOT) until this connection runs its
 * next command; otherwise none is made.  A missing slot with stored
 * progress is WB_ESTATE: recreating it would silently skip every change
 * in between.
 */
int wb_source_ensure_slot(wb_source *s, wb_lsn stored, bool export,
                          wb_slot_info *info, wb_error *err);

/*
 * Write a transactional logical message and return the LSN just past it:
 * every transaction committed before this call ends before that LSN.  Used
 * by --until now.
 */
int wb_source_until_marker(wb_source *s, wb_lsn *lsn, wb_error *err);

/* START_REPLICATION at startpos (0: the slot's confirmed_flush_lsn). */
int wb_source_start(wb_source *s, wb_lsn startpos, wb_error *err);

/* Ask wb_source_start for values in binary format (pgoutput's binary
 * option), as check/binary.h chose. */
void wb_source_set_binary(wb_source *s, bool binary);

int wb_source_socket(const wb_source *s);

/* Read what the socket has (PQconsumeInput).  WB_ECONN on failure. */
int wb_source_consume(wb_source *s, wb_error *err);

/*
 * Next CopyData message without blocking: > 0 its length (*buf to be freed
 * with wb_source_freemem), 0 none buffered, or WB_ECONN (stream ended or
 * failed) with err.
 */
int wb_source_read(wb_source *s, char **buf, wb_error *err);
void wb_source_freemem(char *buf);

/*
 * Queue a standby status update reporting flush as written, flushed and
 * applied.  Returns 0 when sent, 1 when bytes remain to be written (wait for
 * the socket to become writable and call wb_source_flush), or WB_ECONN.
 */
int wb_source_send_status(wb_source *s, wb_lsn flush, bool reply_requested,
                          wb_error *err);
int wb_source_flush(wb_source *s, wb_error *err);

/*
 * End the stream cleanly: CopyDone, then drain the server's remaining data
 * and results for at most timeout_ms.  Data still arriving is discarded (it
 * was never confirmed, so the server sends it again next time).
 */
int wb_source_stop(wb_source *s, int timeout_ms, wb_error *err);

#endif
