/*
 * map/expr.c - evaluation of the declarative mapping's value expressions
 * and row filters, per change.
 *
 * The trees come from the configuration (config/expr_ast.h, parsed at load
 * time in lib/config/); evaluation is pure: no I/O, results in the memory
 * given, so it is unit-tested without a server.
 *
 * Comparison rules: values travel as text, so the column's type decides:
 * numeric types compare as numbers, bool as truth values, everything else
 * byte by byte (C collation; documented, since the server's collation may
 * order differently).  NULL makes a comparison unknown, as in SQL.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "map/cast.h"

/* ------------------------------------------------------------------ */
/* expression evaluation                                               */
/* ------------------------------------------------------------------ */

static const wb_plugin_value null_value = {WB_PLUGIN_VALUE_NULL, NULL};
static const wb_plugin_value absent_value = {WB_PLUGIN_VALUE_ABSENT, NULL};

/* The value of the column with index ref in the mapping's refs[]. */
static const wb_plugin_value *ref_value(const wb_eval_row *row, int ref)
{
    const wb_plugin_value *v = ref >= 0 ? row->values[ref] : NULL;
    return v ? v : &absent_value;
}

static bool is_value(const wb_plugin_value *v)
{
    return v->kind == WB_PLUGIN_VALUE_NULL || v->kind == WB_PLUGIN_VALUE_TEXT;
}

static int case_map(const char *s, bool upper, const wb_eval_mem *arena,
                    wb_plugin_value *out)
{
    /* ASCII only: multi-byte UTF-8 sequences pass through unchanged, which
     * never splits a character (documented: use the target's lower() in a
     * trigger for full Unicode case mapping). */
    char *d = m_strdup(arena, s);
    if (!d)
        return WB_ENOMEM;
    for (char *p = d; *p; p++)
        *p = (char)(upper ? toupper((unsigned char)*p)
                          : tolower((unsigned char)*p));
    return text_out(arena, out, d);
}

static bool trim_char(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Evaluate every argument; *special is set to the first non-value
 * (unchanged/absent) met, which then becomes the result. */
static int eval_args(const wb_expr *e, const wb_eval_row *row,
                     const wb_eval_mem *arena, wb_plugin_value *vals,
                     const wb_plugin_value **special, wb_error *err)
{
    *special = NULL;
    for (size_t i = 0; i < e->nargs; i++) {
        int rc = wb_expr_eval(e->args[i], row, arena, &vals[i], err);
        if (rc)
            return rc;
        if (!is_value(&vals[i]) && !*special)
            *special = &vals[i];
    }
    return 0;
}

/* SQL NULL into *out; for the functions whose NULL argument gives NULL. */
static int null_out(wb_plugin_value *out)
{
    *out = null_value;
    return 0;
}

/* btrim(s) of spaces, tabs and newlines. */
static int eval_trim(const wb_plugin_value *arg, const wb_eval_mem *mem,
                     wb_plugin_value *out)
{
    const char *s = arg->text;
    size_t n;
    if (arg->kind == WB_PLUGIN_VALUE_NULL)
        return null_out(out);
    while (trim_char(*s))
        s++;
    n = strlen(s);
    while (n && trim_char(s[n - 1]))
        n--;
    return text_out(mem, out, m_strndup(mem, s, n));
}

/* The text arguments joined by sep; NULL ones skipped; all NULL: NULL. */
static int eval_concat(const wb_expr *e, const wb_plugin_value *vals,
                       const wb_eval_mem *mem, wb_plugin_value *out)
{
    size_t len = 0, seplen = e->sep ? strlen(e->sep) : 0, used = 0;
    bool any = false;
    char *d;
    for (size_t i = 0; i < e->nargs; i++)
        if (vals[i].kind == WB_PLUGIN_VALUE_TEXT)
            len += strlen(vals[i].text) + seplen;
    if (len == 0) {
        bool all_null = true;
        for (size_t i = 0; i < e->nargs; i++)
            all_null = all_null && vals[i].kind == WB_PLUGIN_VALUE_NULL;
        if (all_null)
            return null_out(out);
    }
    d = m_alloc(mem, len + 1);
    if (!d)
        return WB_ENOMEM;
    for (size_t i = 0; i < e->nargs; i++) {
        size_t n;
        if (vals[i].kind != WB_PLUGIN_VALUE_TEXT)
            continue;
        if (any && seplen) {
            memcpy(d + used, e->sep, seplen);
            used += seplen;
        }
        n = strlen(vals[i].text);
        memcpy(d + used, vals[i].text, n);
        used += n;
        any = true;
    }
    d[used] = '\0';
    return text_out(mem, out, d);
}

/* Part e->part of arg split on e->sep; no such part: NULL. */
static int eval_split(const wb_expr *e, const wb_plugin_value *arg,
                      const wb_eval_mem *mem, wb_plugin_value *out)
{
    const char *s = arg->text, *sep = e->sep, *p, *end;
    size_t seplen = strlen(sep), nparts = 1;
    int want;
    if (arg->kind == WB_PLUGIN_VALUE_NULL)
        return null_out(out);
    for (p = s; (p = strstr(p, sep)) != NULL; p += seplen)
        nparts++;
    want = e->part > 0 ? e->part : (int)nparts + e->part + 1;
    if (want < 1 || (size_t)want > nparts)
        return null_out(out);
    p = s;
    for (int i = 1; i < want; i++)
        p = strstr(p, sep) + seplen;
    end = strstr(p, sep);
    return text_out(mem, out,
                    m_strndup(mem, p, end ? (size_t)(end - p) : strlen(p)));
}

/* The value map: arg looked up; a miss is else: (args[1]) or an error. */
static int eval_map(const wb_expr *e, const wb_plugin_value *arg,
                    const wb_eval_row *row, const wb_eval_mem *mem,
                    wb_plugin_value *out, wb_error *err)
{
    for (size_t i = 0; i < e->nmap; i++) {
        bool hit =
            arg->kind == WB_PLUGIN_VALUE_NULL
                ? e->map_from[i] == NULL
                : e->map_from[i] && strcmp(e->map_from[i], arg->text) == 0;
        if (hit) {
            out->kind =
                e->map_to[i] ? WB_PLUGIN_VALUE_TEXT : WB_PLUGIN_VALUE_NULL;
            out->text = e->map_to[i];
            return 0;
        }
    }
    /* NULL maps to NULL unless listed: else: is for unknown codes. */
    if (arg->kind == WB_PLUGIN_VALUE_NULL)
        return null_out(out);
    if (e->nargs > 1)
        return wb_expr_eval(e->args[1], row, mem, out, err);
    return wb_cast_data_fail(err, e,
                             "value \"%s\" has no entry in the value "
                             "map%s",
                             arg->text, "");
}

/* A function of e on its evaluated arguments vals (all values). */
static int eval_function(const wb_expr *e, const wb_eval_row *row,
                         const wb_plugin_value *vals, const wb_eval_mem *mem,
                         wb_plugin_value *out, wb_error *err)
{
    switch (e->kind) {
    case WB_EXPR_LOWER:
    case WB_EXPR_UPPER:
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            return null_out(out);
        return case_map(vals[0].text, e->kind == WB_EXPR_UPPER, mem, out);
    case WB_EXPR_TRIM:
        return eval_trim(&vals[0], mem, out);
    case WB_EXPR_CONCAT:
        return eval_concat(e, vals, mem, out);
    case WB_EXPR_SPLIT:
        return eval_split(e, &vals[0], mem, out);
    case WB_EXPR_CAST:
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            return null_out(out);
        return wb_cast(e, vals[0].text, mem, out, err);
    case WB_EXPR_MAP:
        return eval_map(e, &vals[0], row, mem, out, err);
    case WB_EXPR_LOOKUP:
        /* The match value; the applier turns it into a subquery. */
        *out = vals[0];
        return 0;
    default:
        return wb_error_set(err, WB_EINVAL, "unknown expression kind %d",
                            (int)e->kind);
    }
}

int wb_expr_eval(const wb_expr *e, const wb_eval_row *row,
                 const wb_eval_mem *arena, wb_plugin_value *out, wb_error *err)
{
    wb_plugin_value stack[8], *vals = stack;
    const wb_plugin_value *special;
    int rc;

    switch (e->kind) {
    case WB_EXPR_COLUMN:
        *out = *ref_value(row, e->ref);
        return 0;
    case WB_EXPR_CONST:
        out->kind = e->name ? WB_PLUGIN_VALUE_TEXT : WB_PLUGIN_VALUE_NULL;
        out->text = e->name;
        return 0;
    case WB_EXPR_COALESCE:
        /* Lazy: a later argument may be unchanged without mattering. */
        for (size_t i = 0; i < e->nargs; i++) {
            if ((rc = wb_expr_eval(e->args[i], row, arena, out, err)) != 0)
                return rc;
            if (out->kind != WB_PLUGIN_VALUE_NULL)
                return 0;
        }
        *out = null_value;
        return 0;
    default:
        break;
    }

    if (e->nargs > sizeof(stack) / sizeof(stack[0])) {
        vals = m_alloc(arena, e->nargs * sizeof(*vals));
        if (!vals)
            return WB_ENOMEM;
    }
    if (e->kind == WB_EXPR_MAP) {
        /* Only the mapped value is needed first; else: only on a miss. */
        if ((rc = wb_expr_eval(e->args[0], row, arena, &vals[0], err)) != 0)
            return rc;
        special = is_value(&vals[0]) ? NULL : &vals[0];
    } else if ((rc = eval_args(e, row, arena, vals, &special, err)) != 0) {
        return rc;
    }
    if (special) {
        *out = *special;
        return 0;
    }
    return eval_function(e, row, vals, arena, out, err);
}

/* ------------------------------------------------------------------ */
/* filter evaluation                                                   */
/* ------------------------------------------------------------------ */

static bool numeric_type(uint32_t oid)
{
    switch (oid) {
    case 20:   /* int8 */
    case 21:   /* int2 */
    case 23:   /* int4 */
    case 26:   /* oid */
    case 700:  /* float4 */
    case 701:  /* float8 */
    case 1700: /* numeric */
        return true;
    default:
        return false;
    }
}

#define BOOLOID 16

typedef struct fctx {
    const wb_eval_row *row;
    const char **column;
    wb_error *err;
} fctx;

/* The text of operand o (NULL: SQL NULL); CANNOT when it is unknown. */
static int operand_text(fctx *c, const wb_filter_operand *o, const char **text)
{
    if (!o->is_column) {
        *text = o->text;
        return 0;
    }
    const wb_plugin_value *v = ref_value(c->row, o->ref);
    if (!is_value(v)) {
        *c->column = o->text;
        return WB_FILTER_CANNOT;
    }
    *text = v->text;
    return 0;
}

static uint32_t operand_type(const fctx *c, const wb_filter_operand *o)
{
    return o->is_column && o->ref >= 0 && c->row->types ? c->row->types[o->ref]
                                                        : 0;
}

/* Compare a and b under type; *out <0, 0, >0.  WB_EDATA on a mismatch. */
static int compare(fctx *c, const wb_filter_operand *lhs, uint32_t type,
                   const char *a, const char *b, int *out)
{
    if (numeric_type(type)) {
        char *ea, *eb;
        long double x = strtold(a, &ea), y = strtold(b, &eb);
        if (ea == a || *ea || eb == b || *eb) {
            wb_error_set(c->err, WB_EDATA,
                         "filter compares numeric column \"%s\" with "
                         "\"%s\", which is not a number",
                         lhs->text, ea == a || *ea ? a : b);
            wb_error_column(c->err, lhs->text);
            return WB_EDATA;
        }
        *out = x < y ? -1 : x > y ? 1 : 0;
        return 0;
    }
    if (type == BOOLOID) {
        int x = wb_cast_parse_bool(a), y = wb_cast_parse_bool(b);
        if (x < 0 || y < 0) {
            wb_error_set(c->err, WB_EDATA,
                         "filter compares boolean column \"%s\" with "
                         "\"%s\", which is not a boolean",
                         lhs->text, x < 0 ? a : b);
            wb_error_column(c->err, lhs->text);
            return WB_EDATA;
        }
        *out = x - y;
        return 0;
    }
    *out = strcmp(a, b);
    return 0;
}

static int eval(fctx *c, const wb_filter *f, int *res);

/* AND, OR in SQL's three-valued logic, with CANNOT (a column unknown)
 * decided when the other side settles it. */
static int eval_logic(fctx *c, const wb_filter *f, int *res)
{
    bool is_and = f->kind == WB_FILTER_AND;
    int settles = is_and ? WB_FILTER_FALSE : WB_FILTER_TRUE;
    int rc, l, r;

    if ((rc = eval(c, f->left, &l)) != 0)
        return rc;
    /* Short-circuit as SQL may: FALSE AND x, TRUE OR x. */
    if (l == settles) {
        *res = l;
        return 0;
    }
    if ((rc = eval(c, f->right, &r)) != 0)
        return rc;
    if (l == WB_FILTER_CANNOT || r == WB_FILTER_CANNOT)
        *res = r == settles ? r : WB_FILTER_CANNOT;
    else if (r == settles)
        *res = r;
    else if (l == WB_FILTER_UNKNOWN || r == WB_FILTER_UNKNOWN)
        *res = WB_FILTER_UNKNOWN;
    else
        *res = l;
    return 0;
}

/* lhs op rhs. */
static int eval_cmp(fctx *c, const wb_filter *f, int *res)
{
    const char *a, *b;
    uint32_t t;
    int rc, l, cmp;

    if ((rc = operand_text(c, &f->lhs, &a)) != 0 ||
        (rc = operand_text(c, &f->rhs, &b)) != 0) {
        *res = rc;
        return 0;
    }
    if (!a || !b) {
        *res = WB_FILTER_UNKNOWN;
        return 0;
    }
    t = operand_type(c, &f->lhs);
    if (!t)
        t = operand_type(c, &f->rhs);
    if ((rc = compare(c, &f->lhs, t, a, b, &cmp)) != 0)
        return rc;
    switch (f->cmp) {
    case WB_CMP_EQ:
        l = cmp == 0;
        break;
    case WB_CMP_NE:
        l = cmp != 0;
        break;
    case WB_CMP_LT:
        l = cmp < 0;
        break;
    case WB_CMP_LE:
        l = cmp <= 0;
        break;
    case WB_CMP_GT:
        l = cmp > 0;
        break;
    default:
        l = cmp >= 0;
        break;
    }
    *res = l ? WB_FILTER_TRUE : WB_FILTER_FALSE;
    return 0;
}

/* lhs [NOT] IN (list): a NULL in the list makes a miss unknown. */
static int eval_in(fctx *c, const wb_filter *f, int *res)
{
    bool saw_null = false;
    const char *a;
    int rc, cmp;

    if ((rc = operand_text(c, &f->lhs, &a)) != 0) {
        *res = rc;
        return 0;
    }
    if (!a) {
        *res = WB_FILTER_UNKNOWN;
        return 0;
    }
    for (size_t i = 0; i < f->nlist; i++) {
        if (!f->list[i].text) {
            saw_null = true;
            continue;
        }
        if ((rc = compare(c, &f->lhs, operand_type(c, &f->lhs), a,
                          f->list[i].text, &cmp)) != 0)
            return rc;
        if (cmp == 0) {
            *res = f->negated ? WB_FILTER_FALSE : WB_FILTER_TRUE;
            return 0;
        }
    }
    *res = saw_null ? WB_FILTER_UNKNOWN
                    : (f->negated ? WB_FILTER_TRUE : WB_FILTER_FALSE);
    return 0;
}

/* A boolean column alone, or TRUE/FALSE. */
static int eval_bool(fctx *c, const wb_filter *f, int *res)
{
    const char *a;
    int rc, l;

    if ((rc = operand_text(c, &f->lhs, &a)) != 0) {
        *res = rc;
        return 0;
    }
    if (!a) {
        *res = WB_FILTER_UNKNOWN;
        return 0;
    }
    l = wb_cast_parse_bool(a);
    if (l < 0) {
        wb_error_set(c->err, WB_EDATA,
                     "filter uses column \"%s\" as a condition, but its "
                     "value \"%s\" is not a boolean",
                     f->lhs.text, a);
        wb_error_column(c->err, f->lhs.text);
        return WB_EDATA;
    }
    *res = l ? WB_FILTER_TRUE : WB_FILTER_FALSE;
    return 0;
}

static int eval(fctx *c, const wb_filter *f, int *res)
{
    const char *a;
    int rc, l;

    switch (f->kind) {
    case WB_FILTER_AND:
    case WB_FILTER_OR:
        return eval_logic(c, f, res);
    case WB_FILTER_NOT:
        if ((rc = eval(c, f->left, &l)) != 0)
            return rc;
        *res = l == WB_FILTER_TRUE    ? WB_FILTER_FALSE
               : l == WB_FILTER_FALSE ? WB_FILTER_TRUE
                                      : l;
        return 0;
    case WB_FILTER_ISNULL:
        if ((rc = operand_text(c, &f->lhs, &a)) != 0) {
            *res = rc;
            return 0;
        }
        *res = (a == NULL) != f->negated ? WB_FILTER_TRUE : WB_FILTER_FALSE;
        return 0;
    case WB_FILTER_BOOL:
        return eval_bool(c, f, res);
    case WB_FILTER_CMP:
        return eval_cmp(c, f, res);
    case WB_FILTER_IN:
        return eval_in(c, f, res);
    }
    return wb_error_set(c->err, WB_EINVAL, "unknown filter node %d",
                        (int)f->kind);
}

int wb_filter_eval(const wb_filter *f, const wb_eval_row *row, int *result,
                   const char **column, wb_error *err)
{
    fctx c = {row, column, err};
    *column = NULL;
    return eval(&c, f, result);
}
