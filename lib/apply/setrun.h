/*
 * apply/setrun.h - runs of rows sent as one set-based statement.
 *
 * Consecutive operations of one shape (same kind, target and columns) on
 * distinct keys are independent of their order, so they can be sent as
 * one statement over unnest() of one typed array per column: far fewer
 * statements for bulk loads and backlogs.  Row triggers still fire once
 * per row, in source order for inserts.  A run is cut at a repeated key
 * (the same row twice in one statement would be an error for ON CONFLICT
 * and ambiguous for UPDATE ... FROM), a change of shape, 1000 rows, 4 MiB,
 * and before anything else is queued.  When a set statement fails, the
 * batch is applied again row by row so the error names the exact row
 * (wb_apply_set_failed / wb_apply_set_rowmode_until).
 */
#ifndef WALBRIDGE_APPLY_SETRUN_H
#define WALBRIDGE_APPLY_SETRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/lsn.h"
#include "map/router.h"

#define WB_RUN_MAX_COLS 256
#define WB_RUN_KEYSET   4096 /* > 2 x keys per run (old and new) */

/* A target column's array type, for the parameters of set statements. */
typedef struct wb_coltype {
    char *schema, *table, *column, *type;
} wb_coltype;

typedef struct wb_setrun_run wb_setrun_run;

typedef struct wb_setrun {
    bool enabled;         /* target.set_based */
    wb_lsn rowmode_until; /* apply row by row up to this LSN (pinpointing) */
    bool failed;          /* a set-based statement failed */
    wb_coltype *coltypes; /* of every mapping target, read at open */
    size_t ncoltypes;
    wb_setrun_run *run; /* the run being collected (allocated once) */
} wb_setrun;

/* Record a column's array type OID as text ("0": none, an array column);
 * WB_ENOMEM. */
int wb_setrun_add_coltype(wb_setrun *s, const char *schema, const char *table,
                          const char *column, const char *type);
/* The column's array type OID as text, or NULL when unknown or none. */
const char *wb_setrun_coltype(const wb_setrun *s, const char *schema,
                              const char *table, const char *column);
/* May op, of a transaction at lsn, join a run? */
bool wb_setrun_eligible(const wb_setrun *s, const wb_target_op *op, wb_lsn lsn);
void wb_setrun_free(wb_setrun *s);

/* A run's key set: hashes of the key values in it (never 0). */
typedef struct wb_setrun_keyset {
    uint64_t h[WB_RUN_KEYSET];
} wb_setrun_keyset;
uint64_t wb_setrun_key_hash(const wb_op_value *v, size_t n);
/* Add h; false when it is there already (a hash collision only ends the
 * run early, which is always safe). */
bool wb_setrun_keyset_add(wb_setrun_keyset *ks, uint64_t h);

#endif
