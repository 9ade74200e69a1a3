/*
 * map/expr.h - row filters and value expressions of the declarative mapping.
 *
 * Parsing of filter text happens once, at configuration load; evaluation
 * runs per change and is pure (no I/O, results in the arena given), so both
 * are unit-tested without a server (tests/unit/test_expr.c).
 *
 * Columns are referred to by slot: the loader numbers the distinct source
 * columns a mapping's values and filter read (wb_config_mapping.refs), and
 * the built-in mapping resolves slots to the relation's column positions
 * once per relation version, not per change.
 */
#ifndef WALBRIDGE_EXPR_INT_H
#define WALBRIDGE_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "config/config.h"
#include "common/error.h"
#include "walbridge/plugin.h"

#include "config/expr_ast.h"

/*
 * Parse filter text into *out (arena).  On a syntax error returns WB_ECONFIG
 * with err's message set (no position) and *offset the byte offset in text
 * where the problem is.
 */
int wb_filter_parse(const char *text, wb_arena *arena, wb_filter **out,
                    int *offset, wb_error *err);

/*
 * Number the column references of m's values, filter and soft-delete
 * values into m->refs / m->nrefs (slots).  WB_ENOMEM or 0.
 */
int wb_mapping_assign_slots(wb_config_mapping *m, wb_arena *arena);

/* A row as the evaluator sees it: one value per slot. */
typedef struct wb_eval_row {
    const wb_plugin_value *const *slot; /* slot -> value (NULL: absent) */
    const uint32_t *types;              /* slot -> type OID (0: unknown) */
} wb_eval_row;

/* Where evaluation allocates (the per-message arena, through the plugin
 * host's alloc in the built-in mapping). */
typedef struct wb_eval_mem {
    void *(*alloc)(void *ctx, size_t size);
    void *ctx;
} wb_eval_mem;

/*
 * Evaluate e on row.  *out is NULL/TEXT, or UNCHANGED when e reads an
 * unchanged TOAST value (the target column is then left alone), or ABSENT
 * when it reads a column the row does not carry.  A value that cannot be
 * converted (cast, map without else) is WB_EDATA with err's message and
 * column set; WB_ENOMEM when the arena is exhausted.
 */
int wb_expr_eval(const wb_expr *e, const wb_eval_row *row,
                 const wb_eval_mem *mem, wb_plugin_value *out, wb_error *err);

/* Filter results (SQL's three-valued logic). */
#define WB_FILTER_FALSE   0
#define WB_FILTER_TRUE    1
#define WB_FILTER_UNKNOWN 2
/* A column the filter needs is unchanged TOAST or absent: cannot tell. */
#define WB_FILTER_CANNOT 3

/*
 * Evaluate f on row into *result (WB_FILTER_*); *column names the column
 * when the result is WB_FILTER_CANNOT.  WB_EDATA when a literal does not
 * compare with the column's type (err says which).
 */
int wb_filter_eval(const wb_filter *f, const wb_eval_row *row, int *result,
                   const char **column, wb_error *err);

#endif
