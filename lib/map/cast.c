/*
 * map/cast.c - the casts of the mapping language ({ cast: x, to: type }),
 * exactly as PostgreSQL 15's input and output functions do them.
 *
 * A cast here must give the text the target would have stored had it cast
 * the value itself, or the error it would have raised, or rows would
 * differ by where the cast ran: integer and bigint as int4in/int8in,
 * numeric as numeric_in/numeric_out, boolean as boolin.  A date cast is
 * left to the target.  tests/harness/cast_compare.c compares these with a
 * live server (test_casts.sh).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "map/cast.h"

/* PostgreSQL's isspace() test in its input functions (the C locale's). */
static bool pg_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

int wb_cast_data_fail(wb_error *err, const wb_expr *e, const char *fmt,
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
int wb_cast_parse_bool(const char *s)
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
        return wb_cast_data_fail(
            err, e, "invalid input syntax for type %s: \"%s\"", type, s);
    for (; isdigit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (v < (min + d) / 10)
            return wb_cast_data_fail(
                err, e, "value \"%s\" is out of range for type %s", s, type);
        v = v * 10 - d;
    }
    while (pg_space(*p))
        p++;
    if (*p)
        return wb_cast_data_fail(
            err, e, "invalid input syntax for type %s: \"%s\"", type, s);
    if (!neg && v == min)
        return wb_cast_data_fail(
            err, e, "value \"%s\" is out of range for type %s", s, type);
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
    return wb_cast_data_fail(err, e, "invalid input syntax for type %s: \"%s\"",
                             "numeric", s);
overflow:
    return wb_cast_data_fail(err, e, "value overflows numeric format%s%s", "",
                             "");
}

int wb_cast(const wb_expr *e, const char *s, const wb_eval_mem *arena,
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
        int b = wb_cast_parse_bool(s);
        if (b < 0)
            return wb_cast_data_fail(err, e,
                                     "invalid input syntax for type %s: \"%s\"",
                                     "boolean", s);
        out->kind = WB_PLUGIN_VALUE_TEXT;
        out->text = b ? "true" : "false";
        return 0;
    }
    case WB_CAST_DATE:
        /* PostgreSQL's date input (DateStyle, BC, time zones, Julian
         * days, 'epoch', 'infinity'...) is not redone here: the value
         * passes unchanged and the applier casts it in the statement on
         * the target (expr_parse.c allows a date cast only as the whole
         * expression of a target column, where nothing else reads it). */
        out->kind = WB_PLUGIN_VALUE_TEXT;
        out->text = s;
        return 0;
    }
    return wb_error_set(err, WB_EINVAL, "unknown cast type %d",
                        (int)e->cast_to);
}
