/*
 * progress.h - the stored position: where it lives, what it is, when it is
 * durable.
 *
 * Exactly-once rests on one rule: the source position (the Commit
 * message's end_lsn) is written in the same target transaction as the
 * rows, through a replication origin (pg_replication_origin_xact_setup,
 * WAL-logged inside the commit record, as PostgreSQL's apply worker does)
 * or, where the role may not use origins, an upsert into a progress table.
 * Either both the rows and the position are durable, or neither.  This
 * module is that position's one home (as PostgreSQL's origin.c): setting
 * up the origin or the table, reading what is stored, the statement that
 * stores it in a batch (sent by apply/batch.c in the batch's transaction;
 * its text is progress_sql.c's), the check that the source is still the
 * cluster the position belongs to, where to resume from, and, with
 * synchronous_commit off, which committed positions the target has
 * flushed.  Used by the applier, the run loop and `walbridge status`.
 */
#ifndef WALBRIDGE_PROGRESS_H
#define WALBRIDGE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/lsn.h"
#include "common/strbuf.h"
#include "config/config.h"

typedef struct wb_progress wb_progress;

/*
 * Set up progress storage on conn (the applier's target session, borrowed:
 * it must outlive *out): mode is origin (created when missing, attached to
 * the session) or table (created when missing), as the start-up checks
 * decided.  sync_commit: target.synchronous_commit (see the ring below).
 * Returns 0 or WB_ECONN / WB_ESQL / WB_ESTATE (origin in use by another
 * process) / WB_ENOMEM with err.
 */
int wb_progress_open(PGconn *conn, const wb_config *cfg, wb_progress_mode mode,
                     bool sync_commit, wb_progress **out, wb_error *err);
void wb_progress_close(wb_progress *p);

/* The mode in use (origin or table, never auto). */
wb_progress_mode wb_progress_get_mode(const wb_progress *p);
/* The origin's name (target.origin), also in the marker message of every
 * batch in both modes. */
const char *wb_progress_origin_name(const wb_progress *p);
/* Origin mode: our origin's id as text ("" in table mode), which names
 * walbridge's own writes in conflict logs. */
const char *wb_progress_origin_id(const wb_progress *p);

/*
 * Read the stored position: the highest of the origin's durable progress
 * and the progress table's row for the slot.  *lsn is WB_INVALID_LSN when
 * nothing is stored.
 */
int wb_progress_stored_lsn(wb_progress *p, wb_lsn *lsn, wb_error *err);

/*
 * The same, for `walbridge status` on a session of its own: never
 * attaches to the origin (a running walbridge holds it), and a missing
 * origin or table, or a privilege missing, only leaves that part unknown.
 * *where is "origin", "table" or "" (nothing stored).
 */
void wb_progress_peek(PGconn *conn, const wb_config *cfg, wb_lsn *lsn,
                      const char **where);

/*
 * Compare the source's system identifier and timeline with the ones stored
 * for this slot (recording them the first time).  A different system means
 * the slot name now points at another cluster; a different timeline means
 * a failover happened: both are WB_ESTATE, never silently continued.
 * When the role may not create the identity table, the check is skipped
 * with a warning (returns 0).
 */
int wb_progress_check_source(wb_progress *p, const char *system_id,
                             uint32_t timeline, wb_error *err);

/*
 * A statement of the batch's transaction, with its parameters (which
 * point into the struct itself: do not copy it).
 */
typedef struct wb_progress_stmt {
    const char *sql;
    int nparams;
    const char *params[3];
    char lsn[WB_LSN_BUFLEN];
    char ts[32];
} wb_progress_stmt;

/* Store end (and its source commit time, microseconds since the
 * PostgreSQL epoch) when the open transaction commits. */
void wb_progress_store_stmt(const wb_progress *p, wb_lsn end,
                            int64_t commit_time, wb_progress_stmt *s);
/* Fail (abort the open transaction) unless end is stored: a batch sent
 * while the previous one's COMMIT awaits its result checks that it
 * committed (apply/batch.c). */
void wb_progress_guard_stmt(const wb_progress *p, wb_lsn end,
                            wb_progress_stmt *s);

/*
 * Where to resume, given the stored position and the slot as the source
 * reports it (after waiting for a previous walsender of ours to let go).
 * A slot just created starts at its consistent point, which is stored
 * (*store) so that later checks have a base; a slot still active belongs
 * to someone else (WB_ESTATE); with nothing stored an existing slot starts
 * at its confirmed_flush_lsn, stored likewise (with a warning); a slot
 * that confirmed more than is stored has lost the changes in between
 * (WB_ESTATE: never resumed from).  Pure apart from that warning.
 */
typedef struct wb_progress_slot {
    bool created;
    wb_lsn consistent_point; /* when created */
    wb_lsn confirmed_flush;  /* when it existed */
    int active_pid;          /* 0 when inactive */
} wb_progress_slot;
int wb_progress_resume(const char *slot_name, wb_lsn stored,
                       const wb_progress_slot *slot, wb_lsn *start, bool *store,
                       wb_error *err);

/*
 * Positions that need no target rows (the loop's, run.c): the end of the
 * latest source transaction that wrote nothing (pending: an echo of our
 * own writes, nothing mapped) and the walsender's position while no
 * transaction is open (keepalive).  They are stored by a small
 * progress-only batch: pending at the next status interval, keepalive
 * lazily (>= 1 MiB ahead or once a minute) so that an idle source does not
 * pin WAL and a quiet one does not get a transaction per tick.  Returns
 * the position to store now, or WB_INVALID_LSN; force (stopping): any
 * that moved.
 */
typedef struct wb_progress_idle {
    wb_lsn pending, keepalive;
    wb_lsn stored;       /* durably stored */
    int64_t now_ms;      /* wb_clock_ms() */
    int64_t last_ms;     /* when one was last stored */
    int64_t interval_ms; /* source.status_interval */
} wb_progress_idle;
wb_lsn wb_progress_idle_due(const wb_progress_idle *in, bool force);

/*
 * Durability.  With synchronous_commit on, a COMMIT's success means its
 * position is durable.  With off (faster commits), a batch only counts as
 * durable once the target's WAL flush position passes its commit record:
 * the applier reads the WAL insert position right after each COMMIT and,
 * from time to time, the flush position, and this ring (local commit
 * position -> the batch's end_lsn, oldest first) turns the one into the
 * other.
 */
#define WB_PROGRESS_RING 4096
typedef struct wb_progress_ring {
    struct {
        wb_lsn local; /* target WAL position at or past the commit record */
        wb_lsn end;   /* the batch's source end_lsn */
    } e[WB_PROGRESS_RING];
    size_t head, n;
    wb_lsn durable; /* end of the last batch known durable */
} wb_progress_ring;

/* A batch whose commit record ends before local was committed.  The
 * applier stops reading the source well before the ring is full
 * (wb_progress_unflushed). */
void wb_progress_ring_push(wb_progress_ring *r, wb_lsn local, wb_lsn end);
/* The target's WAL is flushed up to flushed: the batches committed before
 * it are durable.  Returns the durable position. */
wb_lsn wb_progress_ring_flushed(wb_progress_ring *r, wb_lsn flushed);

/* A batch ending at end committed (its COMMIT succeeded). */
void wb_progress_committed(wb_progress *p, wb_lsn end);
/* synchronous_commit off: its commit record ends before local. */
void wb_progress_committed_at(wb_progress *p, wb_lsn local, wb_lsn end);
/* synchronous_commit off: the target's WAL is flushed up to flushed. */
void wb_progress_flushed(wb_progress *p, wb_lsn flushed);
/* Highest end_lsn of a batch known committed and durable. */
wb_lsn wb_progress_durable(const wb_progress *p);
/* Committed batches not known durable yet (0 with synchronous_commit). */
size_t wb_progress_unflushed(const wb_progress *p);
bool wb_progress_sync_commit(const wb_progress *p);

/* ------------------------------------------------------ statement text */
/* Pure (progress_sql.c), each returning the buffer's error. */

/* Replication origins ($1: the origin name): its oid (NULL when missing),
 * create it, attach this session to it. */
#define WB_PROGRESS_SQL_ORIGIN_OID    "SELECT pg_replication_origin_oid($1)"
#define WB_PROGRESS_SQL_ORIGIN_CREATE "SELECT pg_replication_origin_create($1)"
#define WB_PROGRESS_SQL_ORIGIN_SESSION                                         \
    "SELECT pg_replication_origin_session_setup($1)"
/* The attached origin's durable progress. */
#define WB_PROGRESS_SQL_ORIGIN_SESSION_PROGRESS                                \
    "SELECT pg_replication_origin_session_progress(true)"
/* Any origin's ($1) durable progress, without attaching to it. */
#define WB_PROGRESS_SQL_ORIGIN_PROGRESS                                        \
    "SELECT pg_replication_origin_progress($1, true)"

/* Origin mode: the position ($1) and source commit time ($2, microseconds
 * since the epoch) that COMMIT stores. */
#define WB_PROGRESS_SQL_ORIGIN_XACT_SETUP                                      \
    "SELECT pg_replication_origin_xact_setup($1::pg_lsn, " WB_PG_EPOCH_SQL     \
    " + $2::bigint * interval '1 microsecond')"

/* Origin mode: fails unless the stored position is at least $1. */
#define WB_PROGRESS_SQL_ORIGIN_GUARD                                           \
    "SELECT (CASE WHEN pg_replication_origin_session_progress(false) >= "      \
    "$1::pg_lsn THEN '1' ELSE 'walbridge: the previous batch was not "         \
    "committed' END)::int"

/* The progress table rel (quoted "schema"."table"): create it; upsert
 * ($1 slot, $2 end_lsn, $3 commit time in microseconds since the epoch);
 * the guard ($1 end_lsn, $2 slot) that fails unless that position is
 * stored; read the slot's ($1) position. */
int wb_progress_sql_create(wb_strbuf *b, const char *rel);
int wb_progress_sql_store(wb_strbuf *b, const char *rel);
int wb_progress_sql_guard(wb_strbuf *b, const char *rel);
int wb_progress_sql_read(wb_strbuf *b, const char *rel);

/* The source identity table (in "schema"): create, read ($1 slot), record
 * ($1 slot, $2 system identifier, $3 timeline). */
int wb_progress_sql_identity_create(wb_strbuf *b, const char *schema);
int wb_progress_sql_identity_read(wb_strbuf *b, const char *schema);
int wb_progress_sql_identity_insert(wb_strbuf *b, const char *schema);

#endif
