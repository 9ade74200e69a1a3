/*
 * map/expr.h - evaluation of the declarative mapping's row filters and value
 * expressions.
 *
 * The trees are parsed once, at configuration load (config/expr_ast.h);
 * evaluation runs per change and is pure (no I/O, results in the memory
 * given), so both are unit-tested without a server (tests/unit/test_expr.c).
 *
 * Columns are referred to by index: the loader numbers the distinct source
 * columns a mapping's values and filter read (wb_config_mapping.refs,
 * wb_mapping_number_refs), and the built-in mapping resolves those indexes
 * to the relation's column positions once per relation version, not per
 * change.
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

/* A row as the evaluator sees it: one value per index of the mapping's
 * refs[]. */
typedef struct wb_eval_row {
    const wb_plugin_value *const *values; /* ref -> value (NULL: absent) */
    const uint32_t *types;                /* ref -> type OID (0: unknown) */
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
