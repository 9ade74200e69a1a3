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
 *
 * A run of inserts without a target-side cast may be longer (64000 rows,
 * still 4 MiB): once it has target.copy_min_rows rows it is streamed with
 * COPY (apply/copyrun.c), and only sent as a set statement when COPY
 * fails.  So a run keeps its rows' values until it is sent (rows below).
 * Each COPY starts and ends with a wait for the target (libpq has no COPY
 * in pipeline mode), during which the target's backend waits in turn:
 * with 16000 rows a COPY, an initial copy of narrow rows ran about a
 * tenth slower (README, "Initial copy" under the benchmark).
 */
#ifndef WALBRIDGE_APPLY_SETRUN_H
#define WALBRIDGE_APPLY_SETRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/lsn.h"
#include "map/router.h"

#include "common/strbuf.h"

#define WB_RUN_MAX_COLS      256
#define WB_RUN_MAX_ROWS      1000
#define WB_RUN_MAX_COPY_ROWS 64000
#define WB_RUN_MAX_BYTES     ((size_t)4 * 1024 * 1024)
#define WB_RUN_KEYSET        262144 /* > 2 x keys per run (old and new) */
/* A full key set would never find a free slot: keep it over twice the
 * longest run's keys, with room to spare for probing. */
_Static_assert(WB_RUN_KEYSET >= 3 * WB_RUN_MAX_COPY_ROWS,
               "the key set of a run must outgrow its longest run");
/* Silence from the target that means a hang, when a run waits for it
 * (the queue's room, a COPY's start or end). */
#define WB_RUN_WAIT_MS 60000

/* A target column's array type, for the parameters of set statements. */
typedef struct wb_coltype {
    char *schema, *table, *column, *type;
    uint32_t oid; /* the column's own type (a binary array's elements) */
} wb_coltype;

typedef struct wb_setrun_run wb_setrun_run;

typedef struct wb_setrun {
    bool enabled;           /* target.set_based */
    uint32_t copy_min_rows; /* target.copy_min_rows (0: no COPY) */
    char **nocopy;          /* schema, 0x1f, table: targets where COPY failed
                               other than on a row already there */
    size_t nnocopy;
    wb_lsn rowmode_until; /* apply row by row up to this LSN (pinpointing) */
    bool failed;          /* a set-based statement failed */
    wb_coltype *coltypes; /* of every mapping target, read at open */
    size_t ncoltypes;
    uint32_t *index; /* over coltypes, by name (setrun.c) */
    size_t index_cap;
    wb_setrun_run *run; /* the run being collected (allocated once) */
} wb_setrun;

/* Record a column's array type OID as text ("0": none, an array column)
 * and its type's OID; WB_ENOMEM. */
int wb_setrun_add_coltype(wb_setrun *s, const char *schema, const char *table,
                          const char *column, const char *type, uint32_t oid);
/* The column's type OID, or 0 when unknown. */
uint32_t wb_setrun_coltype_oid(const wb_setrun *s, const char *schema,
                               const char *table, const char *column);
/* The column's array type OID as text, or NULL when unknown or none. */
const char *wb_setrun_coltype(const wb_setrun *s, const char *schema,
                              const char *table, const char *column);
/* The columns of schema.table among cols[from..n) (bit i for cols[i],
 * below 64) whose type lacks an equality operator: skip_unchanged compares
 * them as text (apply/sqlgen.h's text_cmp).  0 when their types are not
 * known (set-based statements off). */
uint64_t wb_setrun_text_cmp(const wb_setrun *s, const char *schema,
                            const char *table, const char *const *cols,
                            size_t from, size_t n);
/* May op, of a transaction at lsn, join a run? */
bool wb_setrun_eligible(const wb_setrun *s, const wb_target_op *op, wb_lsn lsn);
/* Has op an array column (eligible only as an insert, for COPY)? */
bool wb_setrun_has_array(const wb_setrun *s, const wb_target_op *op);
void wb_setrun_free(wb_setrun *s);

/* A run's key set: hashes of the key values in it.  A slot holds 48 bits
 * of a hash and the generation (run) that put it there, and counts only
 * in its generation: emptying the set for the next run costs nothing
 * however large the set is (most runs are one row), and 8 bytes a slot
 * keep it small (2 MiB). */
typedef struct wb_setrun_keyset {
    uint16_t gen; /* 0: a zeroed set, taken as 1 */
    uint64_t slot[WB_RUN_KEYSET];
} wb_setrun_keyset;
/* binary: the values have common/value.h's header (wb_target_op.binary),
 * and their bytes are hashed by length. */
uint64_t wb_setrun_key_hash(const wb_op_value *v, size_t n, bool binary);
/* Add h; false when it is there already (a hash collision only ends the
 * run early, which is always safe). */
bool wb_setrun_keyset_add(wb_setrun_keyset *ks, uint64_t h);
/* Start loading h's slot into the CPU's cache: the set (2 MiB) is larger
 * than the cache closest to the CPU, and a copy adds a key per row. */
static inline void wb_setrun_keyset_prefetch(const wb_setrun_keyset *ks,
                                             uint64_t h)
{
    __builtin_prefetch(&ks->slot[h % WB_RUN_KEYSET], 1);
}
/* Empty the set. */
void wb_setrun_keyset_clear(wb_setrun_keyset *ks);

/* The run being collected.  Its rows are kept one after another in rows:
 * the change's LSN (a wb_lsn's bytes), then each value as a flag byte
 * ('n' SQL NULL, 'v' a value) and, after 'v', the text with its NUL, or
 * in a binary run the value with its header (common/value.h) and NUL.  A
 * set statement's arrays, a COPY's data and row statements are all built
 * from them, and a failed COPY is sent again another way. */
struct wb_setrun_run {
    bool active;
    char key[1024];     /* the row statement's shape key */
    wb_target_op shape; /* kind, target, column names (config strings) */
    const char *cols[WB_RUN_MAX_COLS];
    const char *casts[WB_RUN_MAX_COLS]; /* a cast on the target ("date"),
                                           or NULL */
    size_t ncols, nkeys, nset;
    uint64_t text_cmp; /* skip_unchanged compares these as text */
    wb_strbuf rows;
    size_t nrows, bytes;
    wb_lsn last_lsn;
    wb_setrun_keyset keyset;
    wb_strbuf arr[WB_RUN_MAX_COLS]; /* a set statement's parameters */
    bool copy;                      /* inserts without a cast: COPY may
                                       take them (copyrun.c) */
    bool rows_only;                 /* an array column: COPY, or row by
                                       row, never unnest */
    bool binary;                    /* every value is binary (ops with
                                       the binary flag): binary arrays,
                                       COPY (FORMAT binary) */
    size_t copied_rows, copied_off; /* rows (and bytes of rows) already
                                       given to the open COPY */
    wb_strbuf chunk;                /* COPY data not yet handed to libpq */
};

/* The LSN and values of the row at *off in r->rows (vals: r->ncols of
 * them); *off moves to the next row. */
wb_lsn wb_setrun_next_row(const wb_setrun_run *r, size_t *off,
                          const char **vals);
/* Has COPY failed on schema.table other than on a row already there? */
bool wb_setrun_nocopy(const wb_setrun *s, const char *schema,
                      const char *table);
/* Remember that it has; WB_ENOMEM. */
int wb_setrun_add_nocopy(wb_setrun *s, const char *schema, const char *table);

#endif
