/*
 * source/tablecopy.h - reading whole source tables under the slot's
 * exported snapshot, for the initial copy (sync.h).
 *
 * The replication connection exports a snapshot when it creates the slot
 * (source.h); this module opens an ordinary connection to the source,
 * imports that snapshot into a REPEATABLE READ, READ ONLY transaction
 * (SET TRANSACTION SNAPSHOT) and reads each table with COPY ... TO STDOUT,
 * so that every row is seen exactly as it was at the slot's consistent
 * point: what the stream sends next begins right after it.  Each table is
 * described the way the walsender's Relation message describes it (the
 * columns it sends: not dropped, not generated; replica identity flags),
 * so that its rows go through the same router as streamed ones.  Rows
 * come ordered by the table's primary key (else its replica identity
 * index), whose text the caller keeps as the copy's cursor.
 */
#ifndef WB_SOURCE_TABLECOPY_H
#define WB_SOURCE_TABLECOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/lsn.h"
#include "common/strbuf.h"
#include "config/config.h"
#include "decode/pgoutput.h"

typedef struct wb_tablecopy wb_tablecopy;

/* A table as the copy reads it. */
typedef struct wb_tablecopy_rel {
    wb_pgoutput_relation rel; /* as a Relation message would give it */
    char relkind;
    uint64_t reltuples; /* the planner's estimate (0: unknown) */
    size_t norder;      /* the key rows come ordered by (0: none): the
                           replica identity index under REPLICA IDENTITY
                           USING INDEX, else the primary key */
    uint16_t *order;    /* its columns, as indexes into rel.atts */
    const char **types; /* each column's type (format_type) */
    /* Set by the caller before starting: each row also carries the
     * commit time of its last writer (wb_tablecopy_row_commit_time), for
     * a conflict policy by commit time. */
    bool commit_times;
    /* Set by wb_tablecopy_describe (wb_tablecopy_local_cursor_ok): the
     * cursor can be made from the binary key values, so a binary copy
     * leaves the key's text columns out and wb_tablecopy_cursor makes the
     * cursor where the caller needs one (a chunk's end). */
    bool local_cursor;
} wb_tablecopy_rel;

/* The columns of a row read with r in this format: the table's, then in
 * binary the key's text (the cursor's; not with local_cursor), then the
 * commit time if asked. */
uint16_t wb_tablecopy_ncols(const wb_tablecopy_rel *r, bool binary);
/* Can wb_tablecopy_cursor make r's cursor from binary key values alone?
 * Yes when every key column is of a type whose binary value is its text
 * (text, varchar, bpchar) or one common/bintext.h gives the text of. */
bool wb_tablecopy_local_cursor_ok(const wb_tablecopy_rel *r);
/*
 * The key of row t, read with r in this format, as a text[] literal
 * (the cursor wb_tablecopy_start_chunk takes) into out, reset first;
 * empty when r has no ordering key.  arena holds the text of binary
 * values made on the way.  0, or with err: WB_ENOMEM or WB_ELIMIT (out's),
 * WB_EPROTO when a binary key value could not be given its text (a value
 * of the wrong length, or arena out of room), naming the column.
 */
int wb_tablecopy_cursor(const wb_tablecopy_rel *r, bool binary,
                        const wb_tuple *t, wb_arena *arena, wb_strbuf *out,
                        wb_error *err);
/* A row's last writer's commit time (PG epoch microseconds), or fallback
 * when r did not ask for it or the server does not know it (a frozen row,
 * one older than track_commit_timestamp). */
int64_t wb_tablecopy_row_commit_time(const wb_tablecopy_rel *r, bool binary,
                                     const wb_tuple *t, int64_t fallback);
/* Does the source keep commit times (track_commit_timestamp)? */
int wb_tablecopy_tracks_commit_times(wb_tablecopy *tc, bool *on, wb_error *err);

/*
 * Connect to the source (conninfo; an ordinary session) and, with a
 * snapshot (the
 * name CREATE_REPLICATION_SLOT returned), import it into a REPEATABLE
 * READ, READ ONLY transaction.  WB_ECONN, or WB_ESTATE when the snapshot
 * cannot be imported (its exporting session ran another command or
 * ended).  Without one, the caller opens its own transactions (the
 * online re-sync's chunks, resync.h).
 */
int wb_tablecopy_open(const char *conninfo, const char *snapshot,
                      wb_tablecopy **out, wb_error *err);
void wb_tablecopy_close(wb_tablecopy *tc);
/*
 * A fresh snapshot of the source that matches a position of the stream,
 * for a table that cannot be re-synced in chunks: a temporary logical
 * slot (name) created with an exported snapshot on a replication
 * connection of its own, *repl, which must stay open and idle until the
 * snapshot is imported (wb_tablecopy_open), then be closed (the slot goes
 * with it).  Every transaction that commits before *consistent_point is
 * in the snapshot, none after.  Creating the slot waits for every
 * transaction running in the cluster to end, however long: waiting(ud),
 * if not NULL, is called about every 100 ms meanwhile.  WB_ECONN, WB_ESQL
 * (no REPLICATION privilege, no free slot), WB_EPROTO.
 */
int wb_tablecopy_export(const char *conninfo, const char *name, PGconn **repl,
                        char *snapshot, size_t snaplen,
                        wb_lsn *consistent_point, void (*waiting)(void *ud),
                        void *ud, wb_error *err);

/* A cancel handle (PQgetCancel) for another thread to stop a statement
 * with (PQcancel); freed by the caller with PQfreeCancel. */
PGcancel *wb_tablecopy_cancel_handle(wb_tablecopy *tc);

/* BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY (no statement
 * timeout), and COMMIT. */
int wb_tablecopy_begin(wb_tablecopy *tc, wb_error *err);
int wb_tablecopy_commit(wb_tablecopy *tc, wb_error *err);

/* In a transaction begun with wb_tablecopy_begin, as its first
 * statement: its snapshot, pg_current_snapshot()'s text (xmin:xmax:xip),
 * malloc'd into *out. */
int wb_tablecopy_snapshot(wb_tablecopy *tc, char **out, wb_error *err);

/* Write a non-transactional logical message (prefix, content) into the
 * WAL, decoded at its own position in the stream: *lsn is where.  With
 * flush, the WAL is flushed past it before this returns, so the stream
 * delivers it at once (outside a transaction only). */
int wb_tablecopy_watermark(wb_tablecopy *tc, const char *prefix,
                           const char *content, bool flush, wb_lsn *lsn,
                           wb_error *err);

/*
 * Describe table t under the snapshot, in arena.  WB_ECATALOG when it
 * does not exist.
 */
int wb_tablecopy_describe(wb_tablecopy *tc, const wb_config_table *t,
                          wb_arena *arena, wb_tablecopy_rel *out,
                          wb_error *err);

/*
 * Start reading r: COPY (SELECT columns FROM [ONLY] table ORDER BY key)
 * TO STDOUT, in binary format when binary.  In binary format the key's
 * columns follow once more as text (for the cursor, unless
 * r->local_cursor), then the commit time if asked: rows have
 * wb_tablecopy_ncols fields.
 */
int wb_tablecopy_start(wb_tablecopy *tc, const wb_tablecopy_rel *r, bool binary,
                       wb_error *err);
/* The same, from the row after cursor (a text[] literal of the key's
 * values; NULL: the first row) and at most limit rows (0: all). */
int wb_tablecopy_start_chunk(wb_tablecopy *tc, const wb_tablecopy_rel *r,
                             bool binary, const char *cursor, long limit,
                             wb_error *err);
/* That statement's text (pure; unit-tested). */
int wb_tablecopy_sql(wb_strbuf *sql, const wb_tablecopy_rel *r, bool binary,
                     const char *cursor, long limit);

/*
 * The next row's CopyData message, waiting for it: > 0 its length (*buf
 * freed with wb_tablecopy_freemem), 0 when the table has been read, or
 * WB_ECONN / WB_ESQL with err.
 */
int wb_tablecopy_read(wb_tablecopy *tc, char **buf, wb_error *err);
void wb_tablecopy_freemem(char *buf);

#endif
