/*
 * apply/sqlgen.h - the text of walbridge's statements on the target.
 *
 * Pure functions: each takes the statement's shape (the op, its column
 * lists, the parameter numbers) and appends the text to a wb_strbuf; no
 * connection, no applier state, so that tests/unit/test_sqlgen.c can
 * assert the exact text of every shape.  The applier's rooms prepare and
 * send them.
 * Identifiers are always quoted and values are always parameters; the
 * only literals are names (of columns and tables) that the statements
 * compare or store as text.  Each returns the buffer's error: 0,
 * WB_ENOMEM, WB_ELIMIT (past the buffer's limit), or WB_EINVAL for a
 * shape that has no such statement.
 *
 * The statements of the stored position (progress and source identity)
 * are progress.h's; the names of walbridge's own tables common/names.h's.
 */
#ifndef WALBRIDGE_SQLGEN_INT_H
#define WALBRIDGE_SQLGEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/names.h"
#include "common/strbuf.h"
#include "map/router.h"

/* The message that starts every batch ($1: the origin name), with
 * common/names.h's WB_MARKER_PREFIX. */
#define WB_SQL_MARKER                                                          \
    "SELECT pg_logical_emit_message(true, '" WB_MARKER_PREFIX "', $1)"

/* The pending links (rel: wb_names_rel's WB_OWN_PENDING_LINK): how many
 * and the age in seconds of the oldest.  Their DDL and statements are
 * link.c's. */
int wb_sql_pending_summary(wb_strbuf *b, const char *rel);

/* The column clock (rel: WB_OWN_COLUMN_CLOCK): create it; record a decoded
 * change ($1 table as 'schema.table', $2 key as text[], $3 commit LSN, $4
 * and $5 the columns it changed and their values, $6 and $7 those it left
 * alone, recorded only when the clock has nothing for them). */
int wb_sql_clock_create(wb_strbuf *b, const char *rel);
int wb_sql_clock_change(wb_strbuf *b, const char *rel);

/* --------------------------------------------------------- row writes */

/*
 * The statement for one row of op's shape: upsert (INSERT .. ON
 * CONFLICT), update, update-or-insert (insert_if_missing: one statement of
 * two CTEs that returns the rows written, see wb_sql_counted), delete,
 * truncate.  Parameters in order: upsert keys then set; update set then
 * keys; delete keys.  A lookup value is a subquery on its parameter, a
 * cast on the target goes through the column's own type.
 */
int wb_sql_row(wb_strbuf *b, const wb_target_op *op, uint64_t text_cmp);
/*
 * Does a column of this type (its OID) lack an equality operator (json,
 * xml, point, and arrays of them: the types compare_sql.c compares as
 * text too)?  skip_unchanged's comparisons then compare its text
 * (text_cmp: bit i for set entry i, below 64): ROW(c) IS DISTINCT FROM
 * ROW(v) fails on such a column ("operator does not exist: json = json").
 */
bool wb_sql_typoid_lacks_equality(uint32_t typoid);
/* Does op's row statement return the rows written as its one row (rather
 * than in its command tag)? */
bool wb_sql_counted(const wb_target_op *op);

/*
 * The parameter layout of a row statement of a mapping with a conflict
 * policy (see sqlgen_conflict.c): for an update its set list (keys first), for
 * an upsert the keys and then the set list, m columns.
 */
typedef struct wb_sql_conflict_shape {
    const wb_target_op *op;
    bool track_cts;    /* track_commit_timestamp is on at the target */
    size_t m;          /* columns */
    int keyp;          /* first key parameter */
    int oldp;          /* first old-value parameter, 0: none */
    int flagp, stampp; /* stampp 0: none */
    const char *clock; /* column clock table (commit-time policy), or NULL */
    int karrp, lsnp;   /* clock: the key as text[], the change's commit LSN */
} wb_sql_conflict_shape;

/* The layout for op (op->conflict set); clock_rel the column clock or
 * NULL when there is none. */
wb_sql_conflict_shape wb_sql_conflict_layout(const wb_target_op *op,
                                             bool track_cts,
                                             const char *clock_rel);
/* The conflict statement: reads the row (locked), decides per column,
 * writes, and returns what it found (one row). */
int wb_sql_conflict(wb_strbuf *b, const wb_sql_conflict_shape *c);

/*
 * A set run: rows of one shape as one statement over unnest() of one
 * typed array parameter per column ($1..$ncols, in cols order).  op gives
 * kind (upsert, delete, or update with insert_if_missing), schema and
 * table; cols are upsert and delete: keys then set, update: set (its first
 * nkeys the new key values) then the old keys; casts[i] names a cast on
 * the target for cols[i] (casts may be NULL: none).
 */
typedef struct wb_sql_set {
    const wb_target_op *op;
    const char *const *cols;
    const char *const *casts;
    size_t ncols, nkeys, nset;
    uint64_t text_cmp; /* bit i: column i compared as text (see above) */
} wb_sql_set;

int wb_sql_set_run(wb_strbuf *b, const wb_sql_set *r);

/* COPY "schema"."table" ("col", ...) FROM STDIN: a run of inserts
 * (apply/copyrun.c), in COPY's text format, or with binary in its binary
 * format (WITH (FORMAT binary)). */
int wb_sql_copy_in(wb_strbuf *b, const char *schema, const char *table,
                   const char *const *cols, size_t ncols, bool binary);
/* The savepoint a COPY runs behind, to go back to when it fails. */
#define WB_SQL_COPY_SAVEPOINT "SAVEPOINT walbridge_copy"
#define WB_SQL_COPY_ROLLBACK  "ROLLBACK TO SAVEPOINT walbridge_copy"
#define WB_SQL_COPY_RELEASE   "RELEASE SAVEPOINT walbridge_copy"

#endif
