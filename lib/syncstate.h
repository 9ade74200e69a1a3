/*
 * syncstate.h - how far each mapping's copy of existing rows went: the
 * sync state, stored on the target beside the stored position (progress.h).
 *
 * One row per slot and mapping in target.progress_schema's sync_state:
 * the mapping's definition digest (config.h), its state, the snapshot's
 * LSN, the key cursor (the source key of the last row copied, as text),
 * the rows read so far, and when it started and finished.  Each change of
 * a row is a statement of the applier's batch (apply.h,
 * wb_apply_batch_stmt), so it commits with the rows it covers: a copy is
 * never marked further than the rows that reached the target.  Every
 * update names the row count it expects to find, and fails the batch when
 * the row says otherwise: a batch that follows one the target rolled back
 * cannot commit a cursor past the lost rows (the same guard as the stored
 * position's, progress.h).
 *
 * The statements' text is built here by pure functions (unit-tested in
 * tests/unit/test_syncstate.c); reading is done by whoever holds a
 * connection (the applier at session start, `walbridge status`).
 */
#ifndef WALBRIDGE_SYNCSTATE_H
#define WALBRIDGE_SYNCSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/error.h"
#include "common/lsn.h"
#include "common/strbuf.h"
#include "config/config.h"

#define WB_OWN_SYNC_STATE "sync_state"

typedef enum wb_sync_kind {
    WB_SYNC_NONE = 0, /* no row: never copied */
    WB_SYNC_COPYING,  /* a copy started and has not finished */
    WB_SYNC_DONE,     /* every row of the snapshot was copied */
    WB_SYNC_SKIPPED   /* initial_copy: false when the slot was created */
} wb_sync_kind;

/* The stored word of a kind ("copying", ...), and back (NONE if unknown). */
const char *wb_sync_kind_name(wb_sync_kind k);
wb_sync_kind wb_sync_kind_parse(const char *s);

/* One mapping's row. */
typedef struct wb_sync_row {
    char *mapping;
    char digest[17];
    wb_sync_kind kind;
    wb_lsn snapshot_lsn;
    char *cursor; /* text[] literal, or NULL */
    int64_t rows;
    char *started_at, *finished_at; /* text, or NULL */
} wb_sync_row;

typedef struct wb_sync_rows {
    size_t n;
    wb_sync_row *rows;
} wb_sync_rows;

void wb_sync_rows_free(wb_sync_rows *r);
/* The row of mapping name, or NULL. */
const wb_sync_row *wb_sync_rows_find(const wb_sync_rows *r, const char *name);

/* CREATE TABLE IF NOT EXISTS rel (...); rel quoted. */
int wb_syncstate_sql_create(wb_strbuf *b, const char *rel);
/* $1 slot: every row of the slot, as wb_syncstate_read wants them. */
int wb_syncstate_sql_read(wb_strbuf *b, const char *rel);
/*
 * A copy starts (or a mapping is recorded as skipped): $1 slot, $2
 * mapping, $3 digest, $4 state, $5 snapshot LSN.  The row is replaced:
 * cursor NULL, no rows, started now.
 */
int wb_syncstate_sql_start(wb_strbuf *b, const char *rel);
/*
 * A copy goes on: $1 slot, $2 mapping, $3 cursor (text[]), $4 rows now,
 * $5 state ('copying' or 'done'), $6 rows expected before.  Fails the
 * transaction (an invalid integer) unless a copying row with $6 rows is
 * there.
 */
int wb_syncstate_sql_advance(wb_strbuf *b, const char *rel);

/*
 * Read the slot's rows on conn (idle, not in a pipeline).  A missing
 * table is no rows.  0, or WB_ESQL / WB_ECONN / WB_ENOMEM with err.
 */
int wb_syncstate_read(PGconn *conn, const wb_config *cfg, wb_sync_rows *out,
                      wb_error *err);
/* The same for a schema and slot given apart (from a thread that must not
 * read a configuration a reload may free). */
int wb_syncstate_read_slot(PGconn *conn, const char *schema, const char *slot,
                           wb_sync_rows *out, wb_error *err);

#endif
