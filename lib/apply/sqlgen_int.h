/*
 * apply/sqlgen_int.h - what the statement text builders (apply/sqlgen.c,
 * apply/sqlgen_conflict.c) share: the sticky-error helpers, each false
 * once the buffer has failed, and the SQL of one value.
 */
#ifndef WALBRIDGE_APPLY_SQLGEN_INT_H
#define WALBRIDGE_APPLY_SQLGEN_INT_H

#include <stdbool.h>

#include "apply/sqlgen.h"
#include "common/error.h"

static inline bool add(wb_strbuf *b, const char *s)
{
    return wb_strbuf_add(b, s) == 0;
}

static inline bool ident(wb_strbuf *b, const char *id)
{
    return wb_strbuf_append_ident(b, id) == 0;
}

static inline bool lit(wb_strbuf *b, const char *s)
{
    return wb_strbuf_append_literal(b, s) == 0;
}

static inline bool pnum(wb_strbuf *b, int n)
{
    return wb_strbuf_append_param(b, n) == 0;
}

static inline bool add_rel(wb_strbuf *b, const wb_target_op *op)
{
    return wb_strbuf_append_rel(b, op->schema, op->table) == 0;
}

/* The buffer's error, or WB_EINVAL when a builder refused the shape. */
static inline int done(wb_strbuf *b, bool ok)
{
    return b->err ? b->err : ok ? 0 : WB_EINVAL;
}

/*
 * The SQL for one value of op as parameter $n: the parameter, the subquery
 * of a lookup, or the cast on the target (see sqlgen.c).
 */
bool wb_sql_value(wb_strbuf *buf, const wb_target_op *op, const wb_op_value *v,
                  int n);

#endif
