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

#include "map/expr.h"

/* ------------------------------------------------------------------ */
/* expression evaluation                                               */
/* ------------------------------------------------------------------ */

static void *m_alloc(const wb_eval_mem *m, size_t n)
{
    return m->alloc(m->ctx, n ? n : 1);
}

static char *m_strndup(const wb_eval_mem *m, const char *s, size_t n)
{
    char *d = m_alloc(m, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *m_strdup(const wb_eval_mem *m, const char *s)
{
    return m_strndup(m, s, strlen(s));
}

static const wb_plugin_value null_value = {WB_PLUGIN_VALUE_NULL, NULL};
static const wb_plugin_value absent_value = {WB_PLUGIN_VALUE_ABSENT, NULL};

/* The value of the column with index ref in the mapping's refs[]. */
static const wb_plugin_value *ref_value(const wb_eval_row *row, int ref)
{
    const wb_plugin_value *v = ref >= 0 ? row->slot[ref] : NULL;
    return v ? v : &absent_value;
}

static bool is_value(const wb_plugin_value *v)
{
    return v->kind == WB_PLUGIN_VALUE_NULL || v->kind == WB_PLUGIN_VALUE_TEXT;
}

static int text_out(const wb_eval_mem *arena, wb_plugin_value *out, char *s)
{
    if (!s)
        return WB_ENOMEM;
    out->kind = WB_PLUGIN_VALUE_TEXT;
    out->text = s;
    return 0;
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

/* PostgreSQL's isspace() test in its input functions (the C locale's). */
static bool pg_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

static int data_fail(wb_error *err, const wb_expr *e, const char *fmt,
                     const char *a, const char *b)
{
    wb_error_set(err, WB_EDATA, fmt, a, b);
    for (; e; e = e->nargs ? e->args[0] : NULL)
        if (e->kind == WB_EXPR_COLUMN) {
            wb_error_column(err, e->name);
            break;
        }
    return WB_EDATA;
}

/*
 * s as a truth value exactly as PostgreSQL's boolin reads it (bool.c,
 * parse_bool_with_len): surrounding whitespace is ignored, and any prefix
 * of true, false, yes, no, and of on and off from two letters, in any
 * case, or 1 or 0.  1 true, 0 false, -1 not a boolean.
 */
static int parse_bool(const char *s)
{
    static const struct {
        const char *word;
        size_t min; /* shortest accepted prefix */
        int value;
    } words[] = {{"true", 1, 1}, {"false", 1, 0}, {"yes", 1, 1}, {"no", 1, 0},
                 {"on", 2, 1},   {"off", 2, 0},   {"1", 1, 1},   {"0", 1, 0}};
    while (pg_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && pg_space(s[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (n >= words[i].min && n <= strlen(words[i].word) &&
            strncasecmp(s, words[i].word, n) == 0)
            return words[i].value;
    return -1;
}

/*
 * s as PostgreSQL 15's int4in / int8in read it (numutils.c,
 * pg_strtoint32/64): whitespace, one sign, decimal digits (no
 * underscores, no 0x: those came in PostgreSQL 16), whitespace.  The
 * result is printed as int4out / int8out would.
 */
static int cast_int(const wb_expr *e, const char *s, bool big,
                    const wb_eval_mem *arena, wb_plugin_value *out,
                    wb_error *err)
{
    const char *type = big ? "bigint" : "integer";
    const char *p = s;
    bool neg = false;
    /* Accumulated as a negative number, whose range is the larger. */
    int64_t v = 0, min = big ? INT64_MIN : INT32_MIN;
    char buf[32];

    while (pg_space(*p))
        p++;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!isdigit((unsigned char)*p))
        return data_fail(err, e, "invalid input syntax for type %s: \"%s\"",
                         type, s);
    for (; isdigit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (v < (min + d) / 10)
            return data_fail(err, e, "value \"%s\" is out of range for type %s",
                             s, type);
        v = v * 10 - d;
    }
    while (pg_space(*p))
        p++;
    if (*p)
        return data_fail(err, e, "invalid input syntax for type %s: \"%s\"",
                         type, s);
    if (!neg && v == min)
        return data_fail(err, e, "value \"%s\" is out of range for type %s", s,
                         type);
    snprintf(buf, sizeof(buf), "%lld", (long long)(neg ? v : -v));
    return text_out(arena, out, m_strdup(arena, buf));
}

/* numeric's limits (numeric.c): the weight of the first nonzero base-10000
 * digit is an int16, the display scale 14 bits. */
#define NUMERIC_WEIGHT_MAX 32767
#define NUMERIC_DSCALE_MAX 0x3FFF

/*
 * s as PostgreSQL 15's numeric_in reads it (set_var_from_str), printed as
 * numeric_out prints it: NaN and the infinities in the spellings float8in
 * takes; else a sign, digits with at most one decimal point (at least one
 * digit right after the sign or point), an exponent read by strtol (so it
 * may itself start with whitespace and a sign), whitespace around.  The
 * display scale is the digits after the point less the exponent, at least
 * 0; zero has no sign.  '1e3' is 1000, '-0' is 0, '1.50' stays 1.50.
 */
static int cast_numeric(const wb_expr *e, const char *s,
                        const wb_eval_mem *arena, wb_plugin_value *out,
                        wb_error *err)
{
    static const struct {
        const char *word;
        const char *value;
    } special[] = {{"NaN", "NaN"},
                   {"Infinity", "Infinity"},
                   {"+Infinity", "Infinity"},
                   {"-Infinity", "-Infinity"},
                   {"inf", "Infinity"},
                   {"+inf", "Infinity"},
                   {"-inf", "-Infinity"}};
    const char *p = s, *digits;
    bool neg = false, point = false;
    long dweight = -1, dscale = 0, ndigits = 0;

    while (pg_space(*p))
        p++;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        size_t n = strlen(special[i].word);
        if (strncasecmp(p, special[i].word, n) != 0)
            continue;
        for (p += n; pg_space(*p); p++)
            ;
        if (*p)
            goto syntax;
        out->kind = WB_PLUGIN_VALUE_TEXT;
        out->text = special[i].value;
        return 0;
    }
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p == '.') {
        point = true;
        p++;
    }
    if (!isdigit((unsigned char)*p))
        goto syntax;
    digits = p;
    for (;; p++) {
        if (isdigit((unsigned char)*p)) {
            ndigits++;
            if (point)
                dscale++;
            else
                dweight++;
        } else if (*p == '.' && !point) {
            point = true;
        } else if (*p == '.') {
            goto syntax;
        } else {
            break;
        }
    }
    if (*p == 'e' || *p == 'E') {
        char *end;
        long x = strtol(p + 1, &end, 10);
        if (end == p + 1)
            goto syntax;
        p = end;
        if (x >= INT32_MAX / 2 || x <= -(INT32_MAX / 2))
            goto overflow;
        dweight += x;
        dscale -= x;
        if (dscale < 0)
            dscale = 0;
    }
    while (pg_space(*p))
        p++;
    if (*p)
        goto syntax;

    /* The digits without the point; digit k (0-based) stands at the
     * decimal position dweight - k. */
    char *d = m_alloc(arena, (size_t)ndigits + 1);
    if (!d)
        return WB_ENOMEM;
    long nd = 0, first = -1;
    for (const char *q = digits; nd < ndigits; q++)
        if (isdigit((unsigned char)*q)) {
            if (first < 0 && *q != '0')
                first = nd;
            d[nd++] = *q;
        }
    if (dscale > NUMERIC_DSCALE_MAX)
        goto overflow;
    if (first < 0) {
        neg = false; /* zero has no sign */
    } else {
        long top = dweight - first; /* position of the first nonzero */
        long w = top >= 0 ? top / 4 : -((-top - 1) / 4 + 1);
        if (w > NUMERIC_WEIGHT_MAX)
            goto overflow;
    }
    /* Integer part: positions top..0 without leading zeros, else "0";
     * then dscale fraction digits, zero where no digit was written. */
    long hi = first >= 0 && dweight - first >= 0 ? dweight - first : 0;
    size_t cap = (size_t)hi + (size_t)dscale + 4;
    char *t = m_alloc(arena, cap), *o = t;
    if (!t)
        return WB_ENOMEM;
    if (neg)
        *o++ = '-';
    for (long pos = hi; pos >= -dscale; pos--) {
        long k = dweight - pos; /* index of the digit at pos */
        if (pos == -1)
            *o++ = '.';
        *o++ = k >= 0 && k < ndigits ? d[k] : '0';
    }
    *o = '\0';
    return text_out(arena, out, t);
syntax:
    return data_fail(err, e, "invalid input syntax for type %s: \"%s\"",
                     "numeric", s);
overflow:
    return data_fail(err, e, "value overflows numeric format%s%s", "", "");
}

static int cast(const wb_expr *e, const char *s, const wb_eval_mem *arena,
                wb_plugin_value *out, wb_error *err)
{
    switch (e->cast_to) {
    case WB_CAST_TEXT:
        return text_out(arena, out, m_strdup(arena, s));
    case WB_CAST_INTEGER:
    case WB_CAST_BIGINT:
        return cast_int(e, s, e->cast_to == WB_CAST_BIGINT, arena, out, err);
    case WB_CAST_NUMERIC:
        return cast_numeric(e, s, arena, out, err);
    case WB_CAST_BOOLEAN: {
        int b = parse_bool(s);
        if (b < 0)
            return data_fail(err, e, "invalid input syntax for type %s: \"%s\"",
                             "boolean", s);
        out->kind = WB_PLUGIN_VALUE_TEXT;
        out->text = b ? "true" : "false";
        return 0;
    }
    case WB_CAST_DATE:
        /* PostgreSQL's date input (DateStyle, BC, time zones, Julian
         * days, 'epoch', 'infinity'...) is not redone here: the value
         * passes unchanged and the applier casts it in the statement on
         * the target (config.c allows a date cast only as the whole
         * expression of a target column, where nothing else reads it). */
        out->kind = WB_PLUGIN_VALUE_TEXT;
        out->text = s;
        return 0;
    }
    return wb_error_set(err, WB_EINVAL, "unknown cast type %d",
                        (int)e->cast_to);
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

    switch (e->kind) {
    case WB_EXPR_LOWER:
    case WB_EXPR_UPPER:
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            break;
        return case_map(vals[0].text, e->kind == WB_EXPR_UPPER, arena, out);
    case WB_EXPR_TRIM: {
        const char *s = vals[0].text;
        size_t n;
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            break;
        while (trim_char(*s))
            s++;
        n = strlen(s);
        while (n && trim_char(s[n - 1]))
            n--;
        return text_out(arena, out, m_strndup(arena, s, n));
    }
    case WB_EXPR_CONCAT: {
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
                break;
        }
        d = m_alloc(arena, len + 1);
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
        return text_out(arena, out, d);
    }
    case WB_EXPR_SPLIT: {
        const char *s = vals[0].text, *sep = e->sep;
        size_t seplen = strlen(sep), nparts = 1;
        const char *p;
        int want;
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            break;
        for (p = s; (p = strstr(p, sep)) != NULL; p += seplen)
            nparts++;
        want = e->part > 0 ? e->part : (int)nparts + e->part + 1;
        if (want < 1 || (size_t)want > nparts)
            break; /* no such part: NULL */
        p = s;
        for (int i = 1; i < want; i++)
            p = strstr(p, sep) + seplen;
        const char *end = strstr(p, sep);
        return text_out(
            arena, out,
            m_strndup(arena, p, end ? (size_t)(end - p) : strlen(p)));
    }
    case WB_EXPR_CAST:
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            break;
        return cast(e, vals[0].text, arena, out, err);
    case WB_EXPR_MAP:
        for (size_t i = 0; i < e->nmap; i++) {
            bool hit = vals[0].kind == WB_PLUGIN_VALUE_NULL
                           ? e->map_from[i] == NULL
                           : e->map_from[i] &&
                                 strcmp(e->map_from[i], vals[0].text) == 0;
            if (hit) {
                out->kind =
                    e->map_to[i] ? WB_PLUGIN_VALUE_TEXT : WB_PLUGIN_VALUE_NULL;
                out->text = e->map_to[i];
                return 0;
            }
        }
        /* NULL maps to NULL unless listed: else: is for unknown codes. */
        if (vals[0].kind == WB_PLUGIN_VALUE_NULL)
            break;
        if (e->nargs > 1)
            return wb_expr_eval(e->args[1], row, arena, out, err);
        return data_fail(err, e,
                         "value \"%s\" has no entry in the value "
                         "map%s",
                         vals[0].text, "");
    case WB_EXPR_LOOKUP:
        /* The match value; the applier turns it into a subquery. */
        *out = vals[0];
        return 0;
    default:
        return wb_error_set(err, WB_EINVAL, "unknown expression kind %d",
                            (int)e->kind);
    }
    *out = null_value;
    return 0;
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
        int x = parse_bool(a), y = parse_bool(b);
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

static int eval(fctx *c, const wb_filter *f, int *res)
{
    const char *a, *b;
    int rc, l, r, cmp;

    switch (f->kind) {
    case WB_FILTER_AND:
    case WB_FILTER_OR: {
        bool is_and = f->kind == WB_FILTER_AND;
        if ((rc = eval(c, f->left, &l)) != 0)
            return rc;
        /* Short-circuit as SQL may: FALSE AND x, TRUE OR x. */
        if (l == (is_and ? WB_FILTER_FALSE : WB_FILTER_TRUE)) {
            *res = l;
            return 0;
        }
        if ((rc = eval(c, f->right, &r)) != 0)
            return rc;
        if (l == WB_FILTER_CANNOT || r == WB_FILTER_CANNOT) {
            /* Still decided when the other side settles it. */
            if (r == (is_and ? WB_FILTER_FALSE : WB_FILTER_TRUE))
                *res = r;
            else
                *res = WB_FILTER_CANNOT;
            return 0;
        }
        if (r == (is_and ? WB_FILTER_FALSE : WB_FILTER_TRUE))
            *res = r;
        else if (l == WB_FILTER_UNKNOWN || r == WB_FILTER_UNKNOWN)
            *res = WB_FILTER_UNKNOWN;
        else
            *res = l;
        return 0;
    }
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
        if ((rc = operand_text(c, &f->lhs, &a)) != 0) {
            *res = rc;
            return 0;
        }
        if (!a) {
            *res = WB_FILTER_UNKNOWN;
            return 0;
        }
        l = parse_bool(a);
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
    case WB_FILTER_CMP:
        if ((rc = operand_text(c, &f->lhs, &a)) != 0 ||
            (rc = operand_text(c, &f->rhs, &b)) != 0) {
            *res = rc;
            return 0;
        }
        if (!a || !b) {
            *res = WB_FILTER_UNKNOWN;
            return 0;
        }
        {
            uint32_t t = operand_type(c, &f->lhs);
            if (!t)
                t = operand_type(c, &f->rhs);
            if ((rc = compare(c, &f->lhs, t, a, b, &cmp)) != 0)
                return rc;
        }
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
    case WB_FILTER_IN: {
        bool saw_null = false;
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
