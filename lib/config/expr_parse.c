/*
 * config/expr_parse.c - value expressions ("values:") read from YAML into
 * the trees of config/expr_ast.h.
 *
 * A scalar names a source column; a map names exactly one function by its
 * key, with that function's modifiers beside it ({ split: email, sep: "@",
 * part: 2 }).  Everything the language forbids is refused here, at load
 * time, with the node's position: unknown functions and modifiers, two
 * functions in one map, nesting deeper than MAX_EXPR_DEPTH, and the two
 * functions that only the target can compute (a cast to date, a lookup)
 * anywhere but as the whole expression of a target column.  map/expr.c
 * evaluates the trees per change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"

#define MAX_EXPR_DEPTH 32

/* The functions, by their key; kinds[] and mods[] are in the same order. */
static const char *const expr_fns[] = {"const",  "lower", "upper", "trim",
                                       "concat", "split", "cast",  "coalesce",
                                       "map",    "lookup"};
#define N_EXPR_FNS (sizeof(expr_fns) / sizeof(expr_fns[0]))

static const wb_expr_kind kinds[N_EXPR_FNS] = {
    WB_EXPR_CONST,  WB_EXPR_LOWER, WB_EXPR_UPPER, WB_EXPR_TRIM,
    WB_EXPR_CONCAT, WB_EXPR_SPLIT, WB_EXPR_CAST,  WB_EXPR_COALESCE,
    WB_EXPR_MAP,    WB_EXPR_LOOKUP};

/* Modifiers each function accepts besides its own key. */
static const char *const mods[N_EXPR_FNS][3] = {
    {NULL},        {NULL},        {NULL},
    {NULL},        {"sep", NULL}, {"sep", "part", NULL},
    {"to", NULL},  {NULL},        {"values", "else", NULL},
    {"from", NULL}};

/* One function map being read: its node, function and modifiers. */
typedef struct call {
    const yaml_node_t *n;      /* the map */
    const yaml_node_t *fnkey;  /* the function's key */
    const yaml_node_t *arg;    /* the function's value */
    const yaml_node_t *mod[3]; /* by mods[fn] index; NULL: absent */
    size_t fn;                 /* index into expr_fns */
    bool top;                  /* the whole expression of a target column */
    int depth;
} call;

static wb_expr *new_expr(wb_yaml_loader *ld, wb_expr_kind kind,
                         const yaml_node_t *n)
{
    wb_expr *e = wb_arena_alloc(ld->arena, sizeof(*e));
    if (e) {
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->ref = -1;
        e->pos = node_pos(n);
    }
    return e;
}

static int parse_expr(wb_yaml_loader *ld, const yaml_node_t *n, bool top,
                      int depth, wb_expr **out);

/* A list of expressions (concat, coalesce). */
static int expr_list(wb_yaml_loader *ld, const yaml_node_t *v, const char *fn,
                     int depth, wb_expr *e)
{
    size_t k = 0;
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0) {
        wb_yaml_fail(ld, v, "\"%s\" takes a non-empty list of expressions", fn);
        wb_error_hint(ld->err, "Write %s: [first_name, last_name].", fn);
        return WB_ECONFIG;
    }
    e->nargs = seq_len(v);
    e->args = wb_arena_alloc(ld->arena, e->nargs * sizeof(*e->args));
    if (!e->args)
        return wb_yaml_nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        int rc =
            parse_expr(ld, node_of(ld, *it), false, depth + 1, &e->args[k]);
        if (rc)
            return rc;
    }
    return 0;
}

static int expr_args(wb_yaml_loader *ld, wb_expr *e, size_t n)
{
    e->nargs = n;
    e->args = wb_arena_alloc(ld->arena, n * sizeof(*e->args));
    if (!e->args)
        return wb_yaml_nomem(ld);
    memset(e->args, 0, n * sizeof(*e->args));
    return 0;
}

/* A nullable scalar text (const:, map values): NULL for YAML null. */
static int get_text_or_null(wb_yaml_loader *ld, const yaml_node_t *v,
                            const char *key, char **out)
{
    if (v->type != YAML_SCALAR_NODE)
        return wb_yaml_fail(ld, v, "\"%s\" must be a scalar value", key);
    if (is_null(v)) {
        *out = NULL;
        return 0;
    }
    return wb_yaml_expand(ld, v, key, out);
}

/* The one function key of map c->n, into c->fn, c->fnkey and c->arg. */
static int find_function(wb_yaml_loader *ld, call *c)
{
    for (yaml_node_pair_t *p = c->n->data.mapping.pairs.start;
         p < c->n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return wb_yaml_fail(ld, k, "keys in an expression must be strings");
        for (size_t i = 0; i < N_EXPR_FNS; i++)
            if (strcmp(sval(k), expr_fns[i]) == 0) {
                if (c->fnkey) {
                    wb_yaml_fail(ld, k,
                                 "expression has two functions, \"%s\" and "
                                 "\"%s\"",
                                 sval(c->fnkey), sval(k));
                    wb_error_hint(ld->err, "Nest them: { lower: { trim: "
                                           "email } }.");
                    return WB_ECONFIG;
                }
                c->fnkey = k;
                c->fn = i;
                c->arg = node_of(ld, p->value);
            }
    }
    if (!c->fnkey) {
        char list[160];
        size_t used = 0;
        for (size_t i = 0; i < N_EXPR_FNS; i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                     i ? ", " : "", expr_fns[i]);
        wb_yaml_fail(ld, c->n, "expression names no function");
        wb_error_hint(ld->err, "Use one of: %s.", list);
        return WB_ECONFIG;
    }
    return 0;
}

/* The other keys of c->n: modifiers of the function, each at most once. */
static int find_modifiers(wb_yaml_loader *ld, call *c)
{
    const char *const *fnmods = mods[c->fn];
    for (yaml_node_pair_t *p = c->n->data.mapping.pairs.start;
         p < c->n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        size_t i;
        if (k == c->fnkey)
            continue;
        for (i = 0; fnmods[i]; i++)
            if (strcmp(sval(k), fnmods[i]) == 0)
                break;
        if (!fnmods[i]) {
            wb_yaml_fail(ld, k, "unknown key \"%s\" in \"%s\" expression",
                         sval(k), expr_fns[c->fn]);
            if (fnmods[0])
                wb_error_hint(ld->err, "\"%s\" takes: %s%s%s.", expr_fns[c->fn],
                              fnmods[0], fnmods[1] ? ", " : "",
                              fnmods[1] ? fnmods[1] : "");
            return WB_ECONFIG;
        }
        if (c->mod[i])
            return wb_yaml_fail(ld, k, "duplicate key \"%s\" in expression",
                                sval(k));
        c->mod[i] = node_of(ld, p->value);
    }
    return 0;
}

/* lower, upper, trim, cast: one argument; cast's "to". */
static int parse_unary(wb_yaml_loader *ld, const call *c, wb_expr *e)
{
    static const char *const types[] = {"text",    "integer", "bigint",
                                        "numeric", "boolean", "date"};
    size_t t;
    int rc;

    if ((rc = expr_args(ld, e, 1)) != 0 ||
        (rc = parse_expr(ld, c->arg, false, c->depth + 1, &e->args[0])) != 0)
        return rc;
    if (e->kind != WB_EXPR_CAST)
        return 0;
    if (!c->mod[0])
        return wb_yaml_missing(ld, c->n, "\"cast\" expression", "to");
    if ((rc = wb_yaml_enum(ld, c->mod[0], "to", types, 6, &t)) != 0)
        return rc;
    e->cast_to = (wb_cast_type)(t + 1);
    if (e->cast_to == WB_CAST_DATE && !c->top) {
        wb_yaml_fail(ld, c->fnkey,
                     "a cast to date must be the whole expression "
                     "of a target column");
        wb_error_detail(ld->err, "PostgreSQL's own date input decides a cast "
                                 "to date, in the statement on the target, "
                                 "so no other function can use its result.");
        wb_error_hint(ld->err, "Cast the whole expression instead, as in { "
                               "cast: { coalesce: [d, { const: 2000-01-01 "
                               "}] }, to: date }.");
        return WB_ECONFIG;
    }
    return 0;
}

/* split: one argument, "sep" (not empty) and "part" (1-based, < 0 from
 * the end). */
static int parse_split(wb_yaml_loader *ld, const call *c, wb_expr *e)
{
    char *s, *end;
    long part;
    int rc;

    if ((rc = expr_args(ld, e, 1)) != 0 ||
        (rc = parse_expr(ld, c->arg, false, c->depth + 1, &e->args[0])) != 0)
        return rc;
    if (!c->mod[0])
        return wb_yaml_missing(ld, c->n, "\"split\" expression", "sep");
    if (!c->mod[1])
        return wb_yaml_missing(ld, c->n, "\"split\" expression", "part");
    if ((rc = wb_yaml_string(ld, c->mod[0], "sep", &e->sep)) != 0)
        return rc;
    if (e->sep[0] == '\0')
        return wb_yaml_fail(ld, c->mod[0],
                            "\"sep\" of \"split\" must not be empty");
    if ((rc = wb_yaml_string(ld, c->mod[1], "part", &s)) != 0)
        return rc;
    part = strtol(s, &end, 10);
    if (end == s || *end || part == 0 || part < -1000 || part > 1000) {
        wb_yaml_fail(ld, c->mod[1], "invalid \"part\" \"%s\" for \"split\"", s);
        wb_error_hint(ld->err, "Use 1 for the first part, -1 for the "
                               "last.");
        return WB_ECONFIG;
    }
    e->part = (int)part;
    return 0;
}

/* map: one argument, "values" (source value -> target value, null allowed
 * on both sides, sources distinct), "else" an optional second argument. */
static int parse_map(wb_yaml_loader *ld, const call *c, wb_expr *e)
{
    const yaml_node_t *vals = c->mod[0];
    size_t k = 0;
    int rc;

    if ((rc = expr_args(ld, e, c->mod[1] ? 2 : 1)) != 0 ||
        (rc = parse_expr(ld, c->arg, false, c->depth + 1, &e->args[0])) != 0)
        return rc;
    if (c->mod[1] &&
        (rc = parse_expr(ld, c->mod[1], false, c->depth + 1, &e->args[1])) != 0)
        return rc;
    if (!vals)
        return wb_yaml_missing(ld, c->n, "\"map\" expression", "values");
    if (vals->type != YAML_MAPPING_NODE || map_len(vals) == 0) {
        wb_yaml_fail(ld, vals,
                     "\"values\" of \"map\" must be a non-empty map "
                     "of source value to target value");
        wb_error_hint(ld->err, "Write values: { A: Active, I: Inactive "
                               "}.");
        return WB_ECONFIG;
    }
    e->nmap = map_len(vals);
    e->map_from = wb_arena_alloc(ld->arena, e->nmap * sizeof(char *));
    e->map_to = wb_arena_alloc(ld->arena, e->nmap * sizeof(char *));
    if (!e->map_from || !e->map_to)
        return wb_yaml_nomem(ld);
    for (yaml_node_pair_t *p = vals->data.mapping.pairs.start;
         p < vals->data.mapping.pairs.top; p++, k++) {
        const yaml_node_t *kn = node_of(ld, p->key);
        if ((rc = get_text_or_null(ld, kn, "values", &e->map_from[k])) ||
            (rc = get_text_or_null(ld, node_of(ld, p->value), "values",
                                   &e->map_to[k])))
            return rc;
        for (size_t j = 0; j < k; j++)
            if ((e->map_from[j] == NULL && e->map_from[k] == NULL) ||
                (e->map_from[j] && e->map_from[k] &&
                 strcmp(e->map_from[j], e->map_from[k]) == 0))
                return wb_yaml_fail(ld, kn,
                                    "duplicate value \"%s\" in value map",
                                    e->map_from[k] ? e->map_from[k] : "null");
    }
    return 0;
}

/* lookup: { table, match, column } and "from", the value matched; only as
 * the whole expression of a target column. */
static int parse_lookup(wb_yaml_loader *ld, const call *c, wb_expr *e)
{
    static const char *const lk_keys[] = {"table", "match", "column"};
    const yaml_node_t *lv[3], *arg = c->arg;
    wb_config_table t;
    char *s;
    int rc;

    if (!c->top) {
        wb_yaml_fail(ld, c->fnkey,
                     "\"lookup\" must be the whole expression of a "
                     "target column");
        wb_error_detail(ld->err, "A lookup is resolved by the target "
                                 "when the row is written, so no other "
                                 "function can use its result.");
        return WB_ECONFIG;
    }
    if (arg->type != YAML_MAPPING_NODE)
        return wb_yaml_fail(ld, arg,
                            "\"lookup\" must be a map with table, match "
                            "and column");
    if ((rc = wb_yaml_keys(ld, arg, "\"lookup\"", lk_keys, 3, lv)) != 0)
        return rc;
    for (int i = 0; i < 3; i++)
        if (!lv[i])
            return wb_yaml_missing(ld, arg, "\"lookup\"", lk_keys[i]);
    if (!c->mod[0])
        return wb_yaml_missing(ld, c->n, "\"lookup\" expression", "from");
    if ((rc = wb_yaml_string(ld, lv[0], "table", &s)) != 0 ||
        (rc = wb_yaml_table(ld, lv[0], "table", s, &t)) != 0)
        return rc;
    e->lookup.schema = t.schema;
    e->lookup.table = t.table;
    if ((rc = wb_yaml_name(ld, lv[1], "match", "column", &e->lookup.match)) ||
        (rc = wb_yaml_name(ld, lv[2], "column", "column", &e->lookup.column)))
        return rc;
    if ((rc = expr_args(ld, e, 1)) != 0)
        return rc;
    return parse_expr(ld, c->mod[0], false, c->depth + 1, &e->args[0]);
}

/* A function map (c->n): find the function and its modifiers, then read
 * what that function takes. */
static int parse_call(wb_yaml_loader *ld, call *c, wb_expr **out)
{
    wb_expr *e;
    int rc;

    if ((rc = find_function(ld, c)) != 0 || (rc = find_modifiers(ld, c)) != 0)
        return rc;
    e = new_expr(ld, kinds[c->fn], c->fnkey);
    if (!e)
        return wb_yaml_nomem(ld);
    *out = e;
    switch (e->kind) {
    case WB_EXPR_CONST:
        return get_text_or_null(ld, c->arg, "const", &e->name);
    case WB_EXPR_LOWER:
    case WB_EXPR_UPPER:
    case WB_EXPR_TRIM:
    case WB_EXPR_CAST:
        return parse_unary(ld, c, e);
    case WB_EXPR_CONCAT:
        if ((rc = expr_list(ld, c->arg, "concat", c->depth, e)) != 0)
            return rc;
        if (c->mod[0])
            return wb_yaml_string(ld, c->mod[0], "sep", &e->sep);
        return 0;
    case WB_EXPR_COALESCE:
        return expr_list(ld, c->arg, "coalesce", c->depth, e);
    case WB_EXPR_SPLIT:
        return parse_split(ld, c, e);
    case WB_EXPR_MAP:
        return parse_map(ld, c, e);
    case WB_EXPR_LOOKUP:
        return parse_lookup(ld, c, e);
    default:
        return wb_yaml_fail(ld, c->n, "unknown expression");
    }
}

/* An expression at nesting depth (0: the whole expression of a target
 * column, which top says). */
static int parse_expr(wb_yaml_loader *ld, const yaml_node_t *n, bool top,
                      int depth, wb_expr **out)
{
    call c = {.n = n, .fn = N_EXPR_FNS, .top = top, .depth = depth};
    wb_expr *e;
    int rc;

    if (depth > MAX_EXPR_DEPTH)
        return wb_yaml_fail(ld, n, "expression is nested too deeply");
    if (n->type == YAML_SCALAR_NODE) {
        if (is_null(n)) {
            wb_yaml_fail(ld, n, "an expression must not be empty");
            wb_error_hint(ld->err, "Name a source column, or write "
                                   "{ const: null } for NULL.");
            return WB_ECONFIG;
        }
        e = new_expr(ld, WB_EXPR_COLUMN, n);
        if (!e)
            return wb_yaml_nomem(ld);
        rc = wb_yaml_name(ld, n, "values", "column", &e->name);
        *out = e;
        return rc;
    }
    if (n->type != YAML_MAPPING_NODE) {
        wb_yaml_fail(ld, n, "an expression must be a column name or a map");
        wb_error_hint(ld->err, "Write { concat: [first_name, last_name], "
                               "sep: \" \" }, { const: text } ...");
        return WB_ECONFIG;
    }
    return parse_call(ld, &c, out);
}

int wb_expr_parse(wb_yaml_loader *ld, const yaml_node_t *n, wb_expr **out)
{
    return parse_expr(ld, n, true, 0, out);
}

int wb_expr_parse_const(wb_yaml_loader *ld, const yaml_node_t *n,
                        const char *key, wb_expr **out)
{
    *out = new_expr(ld, WB_EXPR_CONST, n);
    if (!*out)
        return wb_yaml_nomem(ld);
    return get_text_or_null(ld, n, key, &(*out)->name);
}
