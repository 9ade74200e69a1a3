/*
 * fuzz_expr.c - libFuzzer target for value expressions and row filters
 * evaluated over arbitrary column values (lib/map/expr.c).
 *
 * The input describes a row, a value expression and a filter:
 *
 *   - six columns c0..c5, each TEXT, NULL, unchanged TOAST, absent or not
 *     in the row at all, with a type OID (untyped, bool, the numeric types,
 *     text, date) and a value that is arbitrary bytes (so also invalid
 *     UTF-8), or a short pattern repeated out to up to 16 KiB;
 *   - an expression tree built from the bytes that follow, of every kind
 *     the loader produces, within the loader's own rules (split has a
 *     non-empty sep and a part in [-1000, 1000] other than 0, a map has at
 *     least one entry and no duplicate keys, lookup only at the top, ...),
 *     so that it is a tree a configuration could hold;
 *   - the rest: filter text, parsed with wb_filter_parse.
 *
 * Column indexes are numbered by wb_mapping_number_refs, as the loader
 * does.
 *
 * Checked: evaluation returns 0, WB_EDATA (with a message) or WB_ENOMEM;
 * the result is NULL, text that can be read, or unchanged/absent only when
 * a column read is; evaluating again gives the same result; an arena too
 * small may only turn the result into WB_ENOMEM; and per function, what it
 * promises (lower/upper keep the length and change ASCII only, trim leaves
 * no blank at either end, concat's length, split's part, coalesce's first
 * non-NULL, the value map, every cast's output format).  A filter that
 * parses evaluates to one of the four results (CANNOT naming a column whose
 * value is unchanged or absent) or WB_EDATA, and NOT (filter) evaluates to
 * its negation in three-valued logic.  A filter that does not parse fails
 * with WB_ECONFIG, a message and an offset inside the text.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/expr.h"
#include "common/arena.h"
#include "common/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/*
 * ASan's strstr wrapper measures the whole haystack on every call, which
 * makes split's walk over a long value quadratic under ASan only (glibc's
 * strstr stops at the match).  Without this, a long value with many
 * separators takes minutes per input.
 */
const char *__asan_default_options(void)
{
    return "intercept_strstr=0";
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_expr: invariant failed: %s (%s:%d)\n",       \
                    #cond, __FILE__, __LINE__);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define NCOLS     6
#define MAX_DEPTH 10  /* below the loader's 32 */
#define MAX_NODES 200 /* keeps one input's evaluation cheap */
#define MISSING   4   /* column kind: no pointer in the row at all */

static const char *const col_names[NCOLS + 1] = {"c0", "c1", "c2", "c3",
                                                 "c4", "c5", "c6"};
static const uint32_t type_oids[] = {0,  16,  20,  21,   23,
                                     25, 700, 701, 1700, 1082};

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

typedef struct column_in {
    int kind; /* wb_plugin_value_kind, or MISSING */
    uint32_t type;
    wb_plugin_value v;
    char *text; /* malloc'ed */
} column_in;

static column_in cols[NCOLS];
/* tree: the expression, filter and row; eval: the result checked;
 * scratch: the oracles' own evaluations (an oracle that runs out of it
 * proves nothing and is skipped); tight: too small on purpose. */
static wb_arena *tree_arena, *eval_arena, *scratch_arena, *tight_arena;

static uint8_t u8(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Up to max bytes of the input as a string (a NUL byte ends it early). */
static char *take_str(input *in, size_t max)
{
    size_t n = u8(in) % (max + 1);
    char *s;
    if (n > in->n)
        n = in->n;
    s = wb_arena_strndup(tree_arena, (const char *)in->p, n);
    CHECK(s != NULL);
    in->p += n;
    in->n -= n;
    return s;
}

/* A string, or NULL (SQL NULL) for a length byte of 255. */
static char *take_str_or_null(input *in)
{
    if (in->n && in->p[0] == 255) {
        in->p++;
        in->n--;
        return NULL;
    }
    return take_str(in, 48);
}

/* One column: kind, type, and value (long values repeat a pattern). */
static void take_column(input *in, column_in *c)
{
    uint8_t k = u8(in), len;
    size_t n;

    c->kind = k % 5;
    c->type = type_oids[(k / 5) % (sizeof(type_oids) / sizeof(type_oids[0]))];
    c->text = NULL;
    c->v.kind = c->kind == MISSING ? WB_PLUGIN_VALUE_ABSENT
                                   : (wb_plugin_value_kind)c->kind;
    c->v.text = NULL;
    if (c->kind != WB_PLUGIN_VALUE_TEXT)
        return;
    len = u8(in);
    if (len < 250) {
        n = len < in->n ? len : in->n;
        c->text = malloc(n + 1);
        CHECK(c->text != NULL);
        memcpy(c->text, in->p, n);
        c->text[n] = '\0';
        in->p += n;
        in->n -= n;
    } else {
        /* A long value: a short pattern (NUL bytes made 0xC0, an invalid
         * UTF-8 byte) repeated out to 1..16 KiB, past the arena's block
         * size and PostgreSQL's TOAST threshold (larger makes every input
         * that carries one slow, for no new code reached). */
        size_t plen = u8(in) % 8 + 1, total = ((size_t)u8(in) % 16 + 1) * 1024;
        uint8_t pat[8];
        for (size_t i = 0; i < plen; i++) {
            pat[i] = u8(in);
            if (!pat[i])
                pat[i] = 0xC0;
        }
        c->text = malloc(total + 1);
        CHECK(c->text != NULL);
        for (size_t i = 0; i < total; i++)
            c->text[i] = (char)pat[i % plen];
        c->text[total] = '\0';
    }
    c->v.text = c->text;
}

static wb_expr *new_expr(wb_expr_kind kind)
{
    wb_expr *e = wb_arena_alloc(tree_arena, sizeof(*e));
    CHECK(e != NULL);
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->ref = -1;
    return e;
}

static void new_args(wb_expr *e, size_t n)
{
    e->nargs = n;
    e->args = wb_arena_alloc(tree_arena, n * sizeof(*e->args));
    CHECK(e->args != NULL);
}

static wb_expr *gen(input *in, int depth, bool top, int *budget)
{
    uint8_t op = u8(in) % 11;
    wb_expr *e;

    if (depth >= MAX_DEPTH || --*budget <= 0)
        op %= 2;
    if (op == 10 && !top)
        op = 0; /* lookup: the whole expression of a column only */
    switch (op) {
    case 0:
        e = new_expr(WB_EXPR_COLUMN);
        e->name = (char *)col_names[u8(in) % (NCOLS + 1)];
        return e;
    case 1:
        e = new_expr(WB_EXPR_CONST);
        e->name = take_str_or_null(in);
        return e;
    case 2:
    case 3:
    case 4:
        e = new_expr(op == 2   ? WB_EXPR_LOWER
                     : op == 3 ? WB_EXPR_UPPER
                               : WB_EXPR_TRIM);
        new_args(e, 1);
        e->args[0] = gen(in, depth + 1, false, budget);
        return e;
    case 5:
    case 8: {
        size_t n = u8(in) % 10 + 1; /* more than 8: vals on the arena */
        e = new_expr(op == 5 ? WB_EXPR_CONCAT : WB_EXPR_COALESCE);
        if (op == 5 && (u8(in) & 1))
            e->sep = take_str(in, 4);
        new_args(e, n);
        for (size_t i = 0; i < n; i++)
            e->args[i] = gen(in, depth + 1, false, budget);
        return e;
    }
    case 6: {
        int8_t part = (int8_t)u8(in);
        e = new_expr(WB_EXPR_SPLIT);
        e->sep = take_str(in, 3);
        if (!e->sep[0])
            e->sep = ",";
        e->part = part ? part : (u8(in) & 1 ? 1000 : -1000);
        new_args(e, 1);
        e->args[0] = gen(in, depth + 1, false, budget);
        return e;
    }
    case 7:
        e = new_expr(WB_EXPR_CAST);
        e->cast_to = (wb_cast_type)(u8(in) % 6 + 1);
        /* As the config loader: a date cast only as a whole expression. */
        if (e->cast_to == WB_CAST_DATE && !top)
            e->cast_to = WB_CAST_TEXT;
        new_args(e, 1);
        e->args[0] = gen(in, depth + 1, false, budget);
        return e;
    case 9: {
        size_t want = u8(in) % 4 + 1;
        bool has_else = u8(in) & 1;
        e = new_expr(WB_EXPR_MAP);
        e->map_from = wb_arena_alloc(tree_arena, want * sizeof(char *));
        e->map_to = wb_arena_alloc(tree_arena, want * sizeof(char *));
        CHECK(e->map_from && e->map_to);
        for (size_t i = 0; i < want; i++) {
            char *from = take_str_or_null(in), *to = take_str_or_null(in);
            bool dup = false;
            for (size_t j = 0; j < e->nmap && !dup; j++)
                dup = (!from && !e->map_from[j]) ||
                      (from && e->map_from[j] &&
                       strcmp(from, e->map_from[j]) == 0);
            if (dup)
                continue; /* the loader rejects duplicate keys */
            e->map_from[e->nmap] = from;
            e->map_to[e->nmap++] = to;
        }
        new_args(e, has_else ? 2 : 1);
        e->args[0] = gen(in, depth + 1, false, budget);
        if (has_else)
            e->args[1] = gen(in, depth + 1, false, budget);
        return e;
    }
    default:
        e = new_expr(WB_EXPR_LOOKUP);
        e->lookup.schema = "public";
        e->lookup.table = "t";
        e->lookup.match = "k";
        e->lookup.column = "v";
        new_args(e, 1);
        e->args[0] = gen(in, depth + 1, false, budget);
        return e;
    }
}

/* The column a name refers to, or NULL (not one of the row's). */
static column_in *col_of(const char *name)
{
    for (int i = 0; i < NCOLS; i++)
        if (strcmp(name, col_names[i]) == 0)
            return &cols[i];
    return NULL;
}

/* The value kind reading name gives (absent when not in the row). */
static int kind_of(const char *name)
{
    column_in *c = col_of(name);
    return c && c->kind != MISSING ? c->kind : WB_PLUGIN_VALUE_ABSENT;
}

/* Does e read a column whose value has this kind? */
static bool reads_kind(const wb_expr *e, int kind)
{
    if (e->kind == WB_EXPR_COLUMN)
        return kind_of(e->name) == kind;
    for (size_t i = 0; i < e->nargs; i++)
        if (reads_kind(e->args[i], kind))
            return true;
    return false;
}

typedef struct row {
    const wb_plugin_value **value;
    uint32_t *types;
    wb_eval_row r;
} row;

/* The row as the built-in mapping hands it over: ref -> value by name. */
static void build_row(row *rw, const wb_config_mapping *m)
{
    size_t n = m->nrefs ? m->nrefs : 1;
    rw->value = wb_arena_alloc(tree_arena, n * sizeof(*rw->value));
    rw->types = wb_arena_alloc(tree_arena, n * sizeof(*rw->types));
    CHECK(rw->value && rw->types);
    for (size_t i = 0; i < m->nrefs; i++) {
        column_in *c = col_of(m->refs[i]);
        rw->value[i] = c && c->kind != MISSING ? &c->v : NULL;
        rw->types[i] = c ? c->type : 0;
    }
    rw->r.values = rw->value;
    rw->r.types = rw->types;
}

static void *arena_alloc(void *ctx, size_t size)
{
    return wb_arena_alloc(ctx, size);
}

typedef struct result {
    int rc;
    wb_plugin_value v;
    wb_error err;
} result;

static result eval(const wb_expr *e, const row *rw, wb_arena *a)
{
    wb_eval_mem mem = {arena_alloc, a};
    result r;
    memset(&r, 0, sizeof(r));
    r.v.kind = (wb_plugin_value_kind)99; /* must be overwritten */
    wb_error_clear(&r.err);
    r.rc = wb_expr_eval(e, &rw->r, &mem, &r.v, &r.err);
    return r;
}

static bool same_value(const wb_plugin_value *a, const wb_plugin_value *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind != WB_PLUGIN_VALUE_TEXT)
        return true;
    return strcmp(a->text, b->text) == 0;
}

static bool trim_char(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What the function at the top of e promises about its text result r. */
static void check_function(const wb_expr *e, const row *rw, const result *r)
{
    const char *s = r->v.text;
    size_t n = strlen(s);
    result a0;

    if (e->nargs == 0)
        return;
    wb_arena_reset(scratch_arena);
    a0 = eval(e->args[0], rw, scratch_arena);
    if (a0.rc == WB_ENOMEM)
        return;
    switch (e->kind) {
    case WB_EXPR_LOWER:
    case WB_EXPR_UPPER:
        CHECK(a0.rc == 0 && a0.v.kind == WB_PLUGIN_VALUE_TEXT);
        CHECK(strlen(a0.v.text) == n);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)a0.v.text[i];
            if (c >= 0x80)
                CHECK((unsigned char)s[i] == c); /* UTF-8 left alone */
            else
                CHECK(s[i] ==
                      (e->kind == WB_EXPR_LOWER ? tolower(c) : toupper(c)));
        }
        break;
    case WB_EXPR_TRIM:
        CHECK(a0.rc == 0 && a0.v.kind == WB_PLUGIN_VALUE_TEXT);
        CHECK(n == 0 || (!trim_char(s[0]) && !trim_char(s[n - 1])));
        CHECK(strstr(a0.v.text, s) != NULL);
        break;
    case WB_EXPR_SPLIT:
        CHECK(a0.rc == 0 && a0.v.kind == WB_PLUGIN_VALUE_TEXT);
        CHECK(strstr(s, e->sep) == NULL);
        CHECK(strstr(a0.v.text, s) != NULL);
        break;
    case WB_EXPR_CONCAT: {
        size_t want = 0, ntext = 0, seplen = e->sep ? strlen(e->sep) : 0;
        for (size_t i = 0; i < e->nargs; i++) {
            result ai = eval(e->args[i], rw, scratch_arena);
            if (ai.rc == WB_ENOMEM)
                return;
            CHECK(ai.rc == 0);
            CHECK(ai.v.kind == WB_PLUGIN_VALUE_TEXT ||
                  ai.v.kind == WB_PLUGIN_VALUE_NULL);
            if (ai.v.kind == WB_PLUGIN_VALUE_TEXT) {
                want += strlen(ai.v.text);
                ntext++;
            }
        }
        CHECK(ntext > 0);
        CHECK(n == want + seplen * (ntext - 1));
        break;
    }
    case WB_EXPR_CAST:
        CHECK(a0.rc == 0 && a0.v.kind == WB_PLUGIN_VALUE_TEXT);
        switch (e->cast_to) {
        case WB_CAST_TEXT:
            CHECK(strcmp(s, a0.v.text) == 0);
            break;
        case WB_CAST_INTEGER:
        case WB_CAST_BIGINT: {
            char *end;
            long long v;
            errno = 0;
            v = strtoll(s, &end, 10);
            CHECK(n > 0 && *end == '\0' && errno == 0);
            if (e->cast_to == WB_CAST_INTEGER)
                CHECK(v >= INT32_MIN && v <= INT32_MAX);
            break;
        }
        case WB_CAST_NUMERIC: {
            char *end;
            (void)strtod(s, &end);
            CHECK(n > 0 && *end == '\0');
            break;
        }
        case WB_CAST_BOOLEAN:
            CHECK(strcmp(s, "true") == 0 || strcmp(s, "false") == 0);
            break;
        case WB_CAST_DATE:
            /* Passed on unchanged: the target's date input decides. */
            CHECK(strcmp(s, a0.v.text) == 0);
            break;
        }
        break;
    default:
        break;
    }
}

/* coalesce: the first argument that is not NULL, evaluated lazily. */
static void check_coalesce(const wb_expr *e, const row *rw, const result *r)
{
    wb_arena_reset(scratch_arena);
    for (size_t i = 0; i < e->nargs; i++) {
        result ai = eval(e->args[i], rw, scratch_arena);
        if (ai.rc == WB_ENOMEM)
            return;
        if (ai.rc) {
            CHECK(r->rc == ai.rc);
            return;
        }
        if (ai.v.kind != WB_PLUGIN_VALUE_NULL) {
            CHECK(r->rc == 0 && same_value(&r->v, &ai.v));
            return;
        }
    }
    CHECK(r->rc == 0 && r->v.kind == WB_PLUGIN_VALUE_NULL);
}

/* map: a listed value gives its entry (NULL only when listed). */
static void check_map(const wb_expr *e, const row *rw, const result *r)
{
    result a0;
    wb_arena_reset(scratch_arena);
    a0 = eval(e->args[0], rw, scratch_arena);
    if (a0.rc || (a0.v.kind != WB_PLUGIN_VALUE_TEXT &&
                  a0.v.kind != WB_PLUGIN_VALUE_NULL))
        return;
    for (size_t i = 0; i < e->nmap; i++) {
        bool hit =
            a0.v.kind == WB_PLUGIN_VALUE_NULL
                ? !e->map_from[i]
                : e->map_from[i] && strcmp(e->map_from[i], a0.v.text) == 0;
        if (hit) {
            CHECK(r->rc == 0);
            if (e->map_to[i])
                CHECK(r->v.kind == WB_PLUGIN_VALUE_TEXT &&
                      strcmp(r->v.text, e->map_to[i]) == 0);
            else
                CHECK(r->v.kind == WB_PLUGIN_VALUE_NULL);
            return;
        }
    }
    if (a0.v.kind == WB_PLUGIN_VALUE_NULL)
        CHECK(r->rc == 0 && r->v.kind == WB_PLUGIN_VALUE_NULL);
    else if (e->nargs == 1)
        CHECK(r->rc == WB_EDATA);
}

static void check_expr(const wb_expr *e, const row *rw)
{
    result r = eval(e, rw, eval_arena), again, tight;

    CHECK(r.rc == 0 || r.rc == WB_EDATA || r.rc == WB_ENOMEM);
    if (r.rc == WB_EDATA) {
        CHECK(r.err.code == WB_EDATA && r.err.message[0] != '\0');
    } else if (r.rc == 0) {
        switch (r.v.kind) {
        case WB_PLUGIN_VALUE_TEXT:
            CHECK(r.v.text != NULL);
            (void)strlen(r.v.text);
            check_function(e, rw, &r);
            break;
        case WB_PLUGIN_VALUE_NULL:
            break;
        case WB_PLUGIN_VALUE_UNCHANGED:
        case WB_PLUGIN_VALUE_ABSENT:
            /* Only passed through from a column read. */
            CHECK(reads_kind(e, r.v.kind));
            break;
        default:
            CHECK(!"result of an unknown kind");
        }
    }
    if (r.rc != WB_ENOMEM && e->kind == WB_EXPR_COALESCE)
        check_coalesce(e, rw, &r);
    else if (r.rc != WB_ENOMEM && e->kind == WB_EXPR_MAP)
        check_map(e, rw, &r);

    /* Pure: the same again. */
    wb_arena_reset(scratch_arena);
    again = eval(e, rw, scratch_arena);
    CHECK(again.rc == r.rc);
    if (r.rc == 0)
        CHECK(same_value(&again.v, &r.v));
    else
        CHECK(strcmp(again.err.message, r.err.message) == 0);

    /* Less memory can only end it early, with WB_ENOMEM. */
    tight = eval(e, rw, tight_arena);
    if (tight.rc != r.rc)
        CHECK(tight.rc == WB_ENOMEM);
    else if (r.rc == 0)
        CHECK(same_value(&tight.v, &r.v));
    wb_arena_reset(tight_arena);
}

static int negate(int res)
{
    return res == WB_FILTER_TRUE    ? WB_FILTER_FALSE
           : res == WB_FILTER_FALSE ? WB_FILTER_TRUE
                                    : res;
}

/* Does f read a column of this name as an operand? */
static bool filter_reads(const wb_filter *f, const char *name)
{
    if (!f)
        return false;
    if ((f->lhs.is_column && strcmp(f->lhs.text, name) == 0) ||
        (f->rhs.is_column && strcmp(f->rhs.text, name) == 0))
        return true;
    return filter_reads(f->left, name) || filter_reads(f->right, name);
}

static void check_filter(const char *text, const wb_filter *f, const row *rw)
{
    wb_error err, err2;
    const char *column = NULL, *column2 = NULL;
    int res = -1, res2 = -1, rc, rc2, offset;
    wb_filter *neg;
    wb_config_mapping m2;
    row rw2;
    size_t len = strlen(text);
    char *ntext = wb_arena_alloc(tree_arena, len + 8);

    wb_error_clear(&err);
    rc = wb_filter_eval(f, &rw->r, &res, &column, &err);
    if (rc) {
        CHECK(rc == WB_EDATA && err.code == WB_EDATA && err.message[0]);
    } else {
        CHECK(res >= WB_FILTER_FALSE && res <= WB_FILTER_CANNOT);
        if (res == WB_FILTER_CANNOT) {
            int k;
            CHECK(column != NULL && filter_reads(f, column));
            k = kind_of(column);
            CHECK(k == WB_PLUGIN_VALUE_UNCHANGED ||
                  k == WB_PLUGIN_VALUE_ABSENT);
        }
    }

    /* NOT (text): the negation, in three-valued logic. */
    CHECK(ntext != NULL);
    snprintf(ntext, len + 8, "NOT (%s)", text);
    wb_error_clear(&err2);
    if (wb_filter_parse(ntext, tree_arena, &neg, &offset, &err2) != 0) {
        /* Only two more levels of nesting can be too many. */
        CHECK(strstr(err2.message, "nested too deeply") != NULL);
        return;
    }
    memset(&m2, 0, sizeof(m2));
    m2.filter = neg;
    CHECK(wb_mapping_number_refs(&m2, tree_arena) == 0);
    build_row(&rw2, &m2);
    wb_error_clear(&err2);
    rc2 = wb_filter_eval(neg, &rw2.r, &res2, &column2, &err2);
    CHECK(rc2 == rc);
    if (rc) {
        CHECK(strcmp(err.message, err2.message) == 0);
        return;
    }
    CHECK(res2 == negate(res));
    if (res == WB_FILTER_CANNOT)
        CHECK(strcmp(column, column2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    wb_config_mapping m;
    wb_config_value v;
    wb_filter *f = NULL;
    wb_error err;
    row rw;
    int budget = MAX_NODES, offset = -1, rc;
    char *text;

    if (!tree_arena) {
        tree_arena = wb_arena_create(0, 64u << 20);
        eval_arena = wb_arena_create(0, 64u << 20);
        scratch_arena = wb_arena_create(0, 64u << 20);
        tight_arena = wb_arena_create(64, 512);
        CHECK(tree_arena && eval_arena && scratch_arena && tight_arena);
    }

    for (int i = 0; i < NCOLS; i++)
        take_column(&in, &cols[i]);
    memset(&v, 0, sizeof(v));
    v.to = "target";
    v.expr = gen(&in, 0, true, &budget);

    /* The rest is filter text. */
    text = wb_arena_strndup(tree_arena, (const char *)in.p, in.n);
    CHECK(text != NULL);
    wb_error_clear(&err);
    rc = wb_filter_parse(text, tree_arena, &f, &offset, &err);
    if (rc) {
        CHECK(rc == WB_ECONFIG && err.code == WB_ECONFIG && err.message[0]);
        CHECK(offset >= 0 && (size_t)offset <= strlen(text));
        f = NULL;
    }

    memset(&m, 0, sizeof(m));
    m.nvalues = 1;
    m.values = &v;
    m.filter = f;
    CHECK(wb_mapping_number_refs(&m, tree_arena) == 0);
    build_row(&rw, &m);

    check_expr(v.expr, &rw);
    if (f)
        check_filter(text, f, &rw);

    for (int i = 0; i < NCOLS; i++)
        free(cols[i].text);
    wb_arena_reset(tree_arena);
    wb_arena_reset(eval_arena);
    wb_arena_reset(scratch_arena);
    return 0;
}
