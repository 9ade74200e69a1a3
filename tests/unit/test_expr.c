/*
 * test_expr.c - row filters (parser and SQL three-valued evaluation) and
 * value expressions, without a server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/expr.h"
#include "common/arena.h"
#include "wbtest.h"

static wb_arena *arena;

static void *arena_alloc(void *ctx, size_t n)
{
    return wb_arena_alloc(ctx, n);
}

static wb_filter *parse(const char *text)
{
    wb_filter *f = NULL;
    int off = -1;
    wb_error err;
    wb_error_clear(&err);
    int rc = wb_filter_parse(text, arena, &f, &off, &err);
    if (rc != 0)
        fprintf(stderr, "  parse \"%s\": %s at %d\n", text, err.message, off);
    return rc == 0 ? f : NULL;
}

/* Parse error: returns the offset, checks the message. */
static int parse_error(const char *text, const char *needle)
{
    wb_filter *f = NULL;
    int off = -1;
    wb_error err;
    wb_error_clear(&err);
    WB_CHECK_INT_EQ(wb_filter_parse(text, arena, &f, &off, &err), WB_ECONFIG);
    WB_CHECK_STR_CONTAINS(err.message, needle);
    return off;
}

/* A row of named columns for the evaluator: values in m.refs order. */
typedef struct row {
    wb_config_mapping m;
    const wb_plugin_value *vals[8];
    uint32_t types[8];
    wb_eval_row er;
} row;

static wb_plugin_value T(const char *s)
{
    return (wb_plugin_value){WB_PLUGIN_VALUE_TEXT, s};
}
static const wb_plugin_value NUL = {WB_PLUGIN_VALUE_NULL, NULL};
static const wb_plugin_value UNCH = {WB_PLUGIN_VALUE_UNCHANGED, NULL};

/* Evaluate text on columns (name, type, value)...; returns WB_FILTER_*. */
static int eval_filter(const char *text, int n, const char *const *names,
                       const uint32_t *types, const wb_plugin_value *vals,
                       const char **column)
{
    row r;
    wb_error err;
    int result = -1;
    memset(&r, 0, sizeof(r));
    r.m.filter = parse(text);
    if (!r.m.filter)
        return -1;
    WB_CHECK_INT_EQ(wb_mapping_number_refs(&r.m, arena), 0);
    for (size_t s = 0; s < r.m.nrefs; s++) {
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], r.m.refs[s]) == 0) {
                r.vals[s] = &vals[i];
                r.types[s] = types[i];
            }
    }
    r.er.values = r.vals;
    r.er.types = r.types;
    wb_error_clear(&err);
    const char *col = NULL;
    int rc = wb_filter_eval(r.m.filter, &r.er, &result, &col, &err);
    if (column)
        *column = col;
    if (rc != 0) {
        fprintf(stderr, "  eval \"%s\": %s\n", text, err.message);
        return -rc * 100; /* distinct from every WB_FILTER_* */
    }
    return result;
}

static const char *const cols[] = {"status", "age", "email", "active", "note"};
static const uint32_t types[] = {25, 23, 25, 16, 25};

static void test_filter_parse_errors(void)
{
    WB_CHECK_INT_EQ(parse_error("status = ", "unexpected end"), 9);
    WB_CHECK_INT_EQ(parse_error("status = 'x", "unterminated string"), 9);
    WB_CHECK_INT_EQ(parse_error("(status = 'x'", "expected \")\""), 13);
    WB_CHECK_INT_EQ(parse_error("status IN 'a'", "expected \"(\""), 10);
    WB_CHECK_INT_EQ(parse_error("status IN (a)", "values, not columns"), 11);
    WB_CHECK_INT_EQ(parse_error("status = 'a' garbage", "unexpected text"), 13);
    WB_CHECK_INT_EQ(parse_error("age IS 5", "expected NULL"), 7);
    WB_CHECK_INT_EQ(parse_error("'a' = 'b'", "must read a column"), 0);
    WB_CHECK_INT_EQ(parse_error("", "empty"), 0);
    WB_CHECK_INT_EQ(parse_error("status = and", "expected a column"), 9);
    /* Nesting is bounded: no stack overflow on hostile input. */
    char deep[600];
    memset(deep, '(', 300);
    strcpy(deep + 300, "active");
    (void)parse_error(deep, "nested too deeply");
}

static void test_filter_three_valued(void)
{
    wb_plugin_value v[] = {T("active"), T("42"), NUL, T("t"), T("x")};
#define F(text) eval_filter(text, 5, cols, types, v, NULL)
    WB_CHECK_INT_EQ(F("status = 'active'"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("status <> 'active'"), WB_FILTER_FALSE);
    WB_CHECK_INT_EQ(F("'active' = status"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("status IN ('trial', 'active')"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("status NOT IN ('trial', 'active')"), WB_FILTER_FALSE);
    /* NULL: comparisons are unknown, and unknown does not pass. */
    WB_CHECK_INT_EQ(F("email = 'a'"), WB_FILTER_UNKNOWN);
    WB_CHECK_INT_EQ(F("NOT email = 'a'"), WB_FILTER_UNKNOWN);
    WB_CHECK_INT_EQ(F("email IS NULL"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("email IS NOT NULL"), WB_FILTER_FALSE);
    WB_CHECK_INT_EQ(F("email = 'a' OR status = 'active'"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("email = 'a' AND status = 'active'"), WB_FILTER_UNKNOWN);
    WB_CHECK_INT_EQ(F("email = 'a' AND status = 'gone'"), WB_FILTER_FALSE);
    /* x NOT IN (..., NULL) is never true in SQL. */
    WB_CHECK_INT_EQ(F("status NOT IN ('a', NULL)"), WB_FILTER_UNKNOWN);
    WB_CHECK_INT_EQ(F("status IN ('active', NULL)"), WB_FILTER_TRUE);
    /* Numbers compare as numbers for numeric columns: 42 > 9. */
    WB_CHECK_INT_EQ(F("age > 9"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("age >= 42.0 AND age <= 42"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("age < -1"), WB_FILTER_FALSE);
    WB_CHECK_INT_EQ(F("age = 'x'"), -WB_EDATA * 100);
    /* Booleans alone and against TRUE/FALSE. */
    WB_CHECK_INT_EQ(F("active"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("NOT active"), WB_FILTER_FALSE);
    WB_CHECK_INT_EQ(F("active = true"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("active = FALSE"), WB_FILTER_FALSE);
    /* Text compares by bytes: '9' > '42'. */
    WB_CHECK_INT_EQ(F("note > 'w'"), WB_FILTER_TRUE);
    /* Precedence: AND binds tighter than OR; parentheses override. */
    WB_CHECK_INT_EQ(F("status = 'x' AND age = 1 OR active"), WB_FILTER_TRUE);
    WB_CHECK_INT_EQ(F("status = 'x' AND (age = 1 OR active)"), WB_FILTER_FALSE);
    /* Quoted identifiers and doubled quotes. */
    WB_CHECK_INT_EQ(F("\"status\" = 'active'"), WB_FILTER_TRUE);
#undef F
    wb_plugin_value q[] = {T("o'hara"), T("1"), NUL, T("f"), T("")};
    WB_CHECK_INT_EQ(eval_filter("status = 'o''hara'", 5, cols, types, q, NULL),
                    WB_FILTER_TRUE);
}

static void test_filter_unchanged_toast(void)
{
    wb_plugin_value v[] = {T("active"), T("1"), NUL, T("t"), UNCH};
    const char *col = NULL;
    WB_CHECK_INT_EQ(eval_filter("note = 'x'", 5, cols, types, v, &col),
                    WB_FILTER_CANNOT);
    WB_CHECK_STR_EQ(col, "note");
    /* Decided without the unknown column: no need to know it. */
    WB_CHECK_INT_EQ(
        eval_filter("status = 'gone' AND note = 'x'", 5, cols, types, v, NULL),
        WB_FILTER_FALSE);
    WB_CHECK_INT_EQ(
        eval_filter("note = 'x' OR active", 5, cols, types, v, NULL),
        WB_FILTER_TRUE);
    /* A column the row does not carry at all. */
    WB_CHECK_INT_EQ(eval_filter("missing = 1", 5, cols, types, v, &col),
                    WB_FILTER_CANNOT);
    WB_CHECK_STR_EQ(col, "missing");
}

/* ---- expressions ------------------------------------------------- */

static wb_expr *col(const char *name, int ref)
{
    wb_expr *e = wb_arena_alloc(arena, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->kind = WB_EXPR_COLUMN;
    e->name = (char *)name;
    e->ref = ref;
    return e;
}

static wb_expr *cnst(const char *text)
{
    wb_expr *e = col(NULL, -1);
    e->kind = WB_EXPR_CONST;
    e->name = (char *)text;
    return e;
}

static wb_expr *fn(wb_expr_kind kind, wb_expr *a, wb_expr *b)
{
    wb_expr *e = col(NULL, -1);
    e->kind = kind;
    e->nargs = b ? 2 : 1;
    e->args = wb_arena_alloc(arena, 2 * sizeof(*e->args));
    e->args[0] = a;
    e->args[1] = b;
    return e;
}

/* refs: 0 first, 1 last, 2 email, 3 code, 4 bio(unchanged), 5 null */
static const wb_plugin_value *refv[6];
static wb_eval_row erow = {refv, NULL};

static const char *ev(const wb_expr *e, int *kind)
{
    wb_plugin_value out = {WB_PLUGIN_VALUE_ABSENT, NULL};
    wb_eval_mem mem = {arena_alloc, arena};
    wb_error err;
    wb_error_clear(&err);
    int rc = wb_expr_eval(e, &erow, &mem, &out, &err);
    if (rc) {
        *kind = rc;
        return err.message[0] ? wb_arena_strdup(arena, err.message) : NULL;
    }
    *kind = (int)out.kind;
    return out.text;
}

#define CHECK_TEXT(e, want)                                                    \
    do {                                                                       \
        int k_;                                                                \
        const char *t_ = ev((e), &k_);                                         \
        WB_CHECK_INT_EQ(k_, WB_PLUGIN_VALUE_TEXT);                             \
        WB_CHECK_STR_EQ(t_ ? t_ : "(null)", (want));                           \
    } while (0)
#define CHECK_KIND(e, want)                                                    \
    do {                                                                       \
        int k_;                                                                \
        (void)ev((e), &k_);                                                    \
        WB_CHECK_INT_EQ(k_, (want));                                           \
    } while (0)

static void test_expressions(void)
{
    static wb_plugin_value v[6];
    v[0] = T("  Mary ");
    v[1] = T("O'Hara");
    v[2] = T(" Mary.OHara@Example.COM\n");
    v[3] = T("P");
    v[4] = UNCH;
    v[5] = NUL;
    for (int i = 0; i < 6; i++)
        refv[i] = &v[i];

    CHECK_TEXT(fn(WB_EXPR_TRIM, col("first", 0), NULL), "Mary");
    CHECK_TEXT(fn(WB_EXPR_LOWER, fn(WB_EXPR_TRIM, col("email", 2), NULL), NULL),
               "mary.ohara@example.com");
    CHECK_TEXT(fn(WB_EXPR_UPPER, col("last", 1), NULL), "O'HARA");
    CHECK_KIND(fn(WB_EXPR_LOWER, col("n", 5), NULL), WB_PLUGIN_VALUE_NULL);
    CHECK_TEXT(cnst("Portal"), "Portal");
    CHECK_KIND(cnst(NULL), WB_PLUGIN_VALUE_NULL);

    /* concat: NULL parts skipped, separator only between present parts. */
    wb_expr *c = fn(WB_EXPR_CONCAT, fn(WB_EXPR_TRIM, col("first", 0), NULL),
                    col("n", 5));
    c->sep = " ";
    CHECK_TEXT(c, "Mary");
    c->args[1] = col("last", 1);
    CHECK_TEXT(c, "Mary O'Hara");
    wb_expr *allnull = fn(WB_EXPR_CONCAT, col("n", 5), col("n", 5));
    CHECK_KIND(allnull, WB_PLUGIN_VALUE_NULL);
    /* An unchanged TOAST input makes the result unchanged: the target
     * column is then left alone, never overwritten with a partial value. */
    CHECK_KIND(fn(WB_EXPR_CONCAT, col("first", 0), col("bio", 4)),
               WB_PLUGIN_VALUE_UNCHANGED);

    /* split: 1-based, negative from the end, a missing part is NULL. */
    static wb_plugin_value full = {WB_PLUGIN_VALUE_TEXT, "Mary Ann O'Hara"};
    refv[0] = &full;
    wb_expr *s = fn(WB_EXPR_SPLIT, col("first", 0), NULL);
    s->sep = " ";
    s->part = 1;
    CHECK_TEXT(s, "Mary");
    s->part = -1;
    CHECK_TEXT(s, "O'Hara");
    s->part = 2;
    CHECK_TEXT(s, "Ann");
    s->part = 4;
    CHECK_KIND(s, WB_PLUGIN_VALUE_NULL);
    refv[0] = &v[0];

    /* coalesce is lazy: an unchanged later argument does not matter. */
    wb_expr *co = fn(WB_EXPR_COALESCE, col("n", 5), cnst("n/a"));
    CHECK_TEXT(co, "n/a");
    wb_expr *lazy = fn(WB_EXPR_COALESCE, col("last", 1), col("bio", 4));
    CHECK_TEXT(lazy, "O'Hara");

    /* value maps */
    wb_expr *m = fn(WB_EXPR_MAP, col("code", 3), NULL);
    char *from[] = {"N", "P", NULL};
    char *to[] = {"New", "Paid", "Unknown"};
    m->nmap = 3;
    m->map_from = from;
    m->map_to = to;
    CHECK_TEXT(m, "Paid");
    m->args[0] = col("n", 5);
    CHECK_TEXT(m, "Unknown"); /* null: a listed key */
    static wb_plugin_value x = {WB_PLUGIN_VALUE_TEXT, "X"};
    refv[3] = &x;
    m->args[0] = col("code", 3);
    int k;
    const char *msg = ev(m, &k);
    WB_CHECK_INT_EQ(k, WB_EDATA);
    WB_CHECK_STR_CONTAINS(msg, "value \"X\" has no entry");
    wb_expr *me = fn(WB_EXPR_MAP, col("code", 3), cnst("Other"));
    me->nmap = 3;
    me->map_from = from;
    me->map_to = to;
    CHECK_TEXT(me, "Other");
    refv[3] = &v[3];

    /* casts read and print values as PostgreSQL 15's input and output
     * functions do (the same cases, and more, are compared with a real
     * server by tests/integration/test_casts.sh); a value that does not
     * read is a data error naming the column, with PostgreSQL's message */
    static const struct {
        wb_cast_type to;
        const char *in, *out; /* out NULL: error */
        const char *msg;      /* for an error */
    } cases[] = {
        {WB_CAST_INTEGER, " 0042 ", "42", NULL},
        {WB_CAST_INTEGER, "+7", "7", NULL},
        {WB_CAST_INTEGER, "-0", "0", NULL},
        {WB_CAST_INTEGER, "\t-2147483648\n", "-2147483648", NULL},
        {WB_CAST_INTEGER, "2147483647", "2147483647", NULL},
        {WB_CAST_INTEGER, "2147483648", NULL,
         "value \"2147483648\" is out of range for type integer"},
        {WB_CAST_INTEGER, "-2147483649", NULL,
         "value \"-2147483649\" is out of range for type integer"},
        {WB_CAST_INTEGER, "1e3", NULL,
         "invalid input syntax for type integer: \"1e3\""},
        {WB_CAST_INTEGER, "0x1A", NULL,
         "invalid input syntax for type integer: \"0x1A\""},
        {WB_CAST_INTEGER, "1_000", NULL,
         "invalid input syntax for type integer: \"1_000\""},
        {WB_CAST_INTEGER, "", NULL,
         "invalid input syntax for type integer: \"\""},
        {WB_CAST_INTEGER, "- 1", NULL,
         "invalid input syntax for type integer: \"- 1\""},
        {WB_CAST_INTEGER, "99999999999x", NULL,
         "value \"99999999999x\" is out of range for type integer"},
        {WB_CAST_BIGINT, "3000000000", "3000000000", NULL},
        {WB_CAST_BIGINT, "-9223372036854775808", "-9223372036854775808", NULL},
        {WB_CAST_BIGINT, "9223372036854775808", NULL,
         "value \"9223372036854775808\" is out of range for type bigint"},
        {WB_CAST_NUMERIC, " 0042 ", "42", NULL},
        {WB_CAST_NUMERIC, "1e3", "1000", NULL},
        {WB_CAST_NUMERIC, "-0", "0", NULL},
        {WB_CAST_NUMERIC, "-0.00", "0.00", NULL},
        {WB_CAST_NUMERIC, "1.50", "1.50", NULL},
        {WB_CAST_NUMERIC, "1.5e-3", "0.0015", NULL},
        {WB_CAST_NUMERIC, ".5", "0.5", NULL},
        {WB_CAST_NUMERIC, "5.", "5", NULL},
        {WB_CAST_NUMERIC, "+12.345E+2", "1234.5", NULL},
        {WB_CAST_NUMERIC, "1e 3", "1000", NULL}, /* strtol's exponent */
        {WB_CAST_NUMERIC, " nan ", "NaN", NULL},
        {WB_CAST_NUMERIC, "-INF", "-Infinity", NULL},
        {WB_CAST_NUMERIC, "+infinity", "Infinity", NULL},
        {WB_CAST_NUMERIC, "infinit", NULL,
         "invalid input syntax for type numeric: \"infinit\""},
        {WB_CAST_NUMERIC, "1.2.3", NULL,
         "invalid input syntax for type numeric: \"1.2.3\""},
        {WB_CAST_NUMERIC, "1e", NULL,
         "invalid input syntax for type numeric: \"1e\""},
        {WB_CAST_NUMERIC, ".", NULL,
         "invalid input syntax for type numeric: \".\""},
        {WB_CAST_NUMERIC, "0x1A", NULL,
         "invalid input syntax for type numeric: \"0x1A\""},
        {WB_CAST_NUMERIC, "1e131072", NULL, "value overflows numeric format"},
        {WB_CAST_NUMERIC, "1e-16384", NULL, "value overflows numeric format"},
        {WB_CAST_NUMERIC, "1e-16383", NULL,
         NULL}, /* fits: checked by length below */
        {WB_CAST_BOOLEAN, "YES", "true", NULL},
        {WB_CAST_BOOLEAN, " tr ", "true", NULL},
        {WB_CAST_BOOLEAN, "fal", "false", NULL},
        {WB_CAST_BOOLEAN, "of", "false", NULL},
        {WB_CAST_BOOLEAN, "ON", "true", NULL},
        {WB_CAST_BOOLEAN, "0", "false", NULL},
        {WB_CAST_BOOLEAN, "o", NULL,
         "invalid input syntax for type boolean: \"o\""},
        {WB_CAST_BOOLEAN, "truex", NULL,
         "invalid input syntax for type boolean: \"truex\""},
        {WB_CAST_BOOLEAN, "  Mary ", NULL,
         "invalid input syntax for type boolean: \"  Mary \""},
        {WB_CAST_TEXT, " as is ", " as is ", NULL},
        /* a date is cast by the target: the value passes unchanged */
        {WB_CAST_DATE, "0044-03-15 BC", "0044-03-15 BC", NULL},
    };
    static wb_plugin_value in = {WB_PLUGIN_VALUE_TEXT, NULL};
    wb_expr *ci = fn(WB_EXPR_CAST, col("first", 0), NULL);
    refv[0] = &in;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        in.text = cases[i].in;
        ci->cast_to = cases[i].to;
        if (cases[i].out) {
            CHECK_TEXT(ci, cases[i].out);
        } else if (cases[i].msg) {
            msg = ev(ci, &k);
            WB_CHECK_INT_EQ(k, WB_EDATA);
            WB_CHECK_STR_EQ(msg, cases[i].msg);
        } else {
            const char *t = ev(ci, &k);
            WB_CHECK_INT_EQ(k, WB_PLUGIN_VALUE_TEXT);
            WB_CHECK(t && strlen(t) == 16385 && strcmp(t + 16384, "1") == 0);
        }
    }
    /* the error names the column the value came from */
    {
        wb_error err;
        wb_plugin_value out;
        wb_eval_mem mem = {arena_alloc, arena};
        in.text = "abc";
        ci->cast_to = WB_CAST_INTEGER;
        wb_error_clear(&err);
        WB_CHECK_INT_EQ(wb_expr_eval(ci, &erow, &mem, &out, &err), WB_EDATA);
        WB_CHECK_STR_EQ(err.column, "first");
    }
    refv[0] = &v[0];
}

int main(void)
{
    arena = wb_arena_create(0, 0);
    WB_RUN(test_filter_parse_errors);
    WB_RUN(test_filter_three_valued);
    WB_RUN(test_filter_unchanged_toast);
    WB_RUN(test_expressions);
    wb_arena_destroy(arena);
    return wbtest_summary();
}
