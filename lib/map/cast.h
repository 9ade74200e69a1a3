/*
 * map/cast.h - casts and the evaluator's memory helpers, shared by
 * map/expr.c and map/cast.c (internal to lib/map/).
 */
#ifndef WALBRIDGE_CAST_H
#define WALBRIDGE_CAST_H

#include <string.h>

#include "map/expr.h"

/* Allocation in the evaluator's memory (never size 0). */
static inline void *m_alloc(const wb_eval_mem *m, size_t n)
{
    return m->alloc(m->ctx, n ? n : 1);
}

static inline char *m_strndup(const wb_eval_mem *m, const char *s, size_t n)
{
    char *d = m_alloc(m, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static inline char *m_strdup(const wb_eval_mem *m, const char *s)
{
    return m_strndup(m, s, strlen(s));
}

/* s (NULL: out of memory) as the text result. */
static inline int text_out(const wb_eval_mem *arena, wb_plugin_value *out,
                           char *s)
{
    if (!s)
        return WB_ENOMEM;
    out->kind = WB_PLUGIN_VALUE_TEXT;
    out->text = s;
    return 0;
}

/*
 * s cast to e->cast_to as PostgreSQL would, into *out (text in mem).  A
 * value the type does not take is WB_EDATA with PostgreSQL's message and
 * the column e reads.
 */
int wb_cast(const wb_expr *e, const char *s, const wb_eval_mem *mem,
            wb_plugin_value *out, wb_error *err);

/* s as a truth value as boolin reads it: 1 true, 0 false, -1 neither. */
int wb_cast_parse_bool(const char *s);

/* WB_EDATA with the message fmt (a, b) and the column e (or its first
 * argument, down) reads. */
int wb_cast_data_fail(wb_error *err, const wb_expr *e, const char *fmt,
                      const char *a, const char *b);

#endif
