/*
 * check/catalog.c - the configuration checked against the live catalog (see
 * check/catalog.h).
 *
 * Per mapping, check/catinfo.c reads what the catalogs say about the
 * mapping's relations (one query per database); the checks themselves run
 * here, in C, so that every problem can point at its own node of the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check/catalog.h"
#include "check/catinfo.h"
#include "common/strbuf.h"
#include "config/expr_ast.h"

enum { SRC = WB_CATINFO_SRC, TGT = WB_CATINFO_TGT };

/* Short names for what check/catinfo.h read, used on every line here. */
typedef wb_catinfo_rel rel;
typedef wb_catinfo_col col;
typedef wb_catinfo_idx idx;
typedef wb_catinfo_type vtype;

#define MAX_SEEN 256

typedef struct check {
    const wb_config *cfg;
    const wb_config_mapping *m;
    wb_catalog_report_fn report;
    void *arg;
    int problems;
    wb_catinfo ci; /* the current mapping's relations */
    /* (name, position) pairs already reported missing, so that a column
     * named twice at one place (a filter) is reported once. */
    size_t nseen;
    struct {
        const char *name;
        int line, col;
    } seen[MAX_SEEN];
} check;

/* ------------------------------------------------------------ reporting */

static void problem(check *c, wb_config_pos pos, const char *detail,
                    const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void problem(check *c, wb_config_pos pos, const char *detail,
                    const char *hint, const char *fmt, ...)
{
    wb_error p;
    va_list ap;

    wb_error_clear(&p);
    va_start(ap, fmt);
    wb_error_vset(&p, WB_ECATALOG, fmt, ap);
    va_end(ap);
    if (detail && *detail)
        wb_error_detail(&p, "%s", detail);
    if (hint && *hint)
        wb_error_hint(&p, "%s", hint);
    wb_error_position(&p, c->cfg->path, pos.line, pos.col);
    c->problems++;
    if (c->report)
        c->report(c->arg, WB_LOG_ERROR, &p);
}

/* Keywords that cannot be column or table names unquoted (the reserved
 * ones a real schema is likely to use). */
static const char *const reserved[] = {
    "all",      "analyse",    "analyze",    "and",    "any",     "array",
    "as",       "asc",        "both",       "case",   "cast",    "check",
    "collate",  "column",     "constraint", "create", "default", "desc",
    "distinct", "do",         "else",       "end",    "except",  "false",
    "for",      "foreign",    "from",       "grant",  "group",   "having",
    "in",       "into",       "leading",    "limit",  "not",     "null",
    "offset",   "on",         "only",       "or",     "order",   "placing",
    "primary",  "references", "select",     "table",  "then",    "to",
    "trailing", "true",       "union",      "unique", "user",    "using",
    "when",     "where",      "window",     "with"};

/* An identifier as it must be written in SQL (quoted only when needed),
 * for the statements suggested in hints. */
static const char *hint_ident(const char *s, char *buf, size_t len)
{
    bool plain = (*s >= 'a' && *s <= 'z') || *s == '_';
    for (const char *p = s; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '$';
    for (size_t i = 0; plain && i < sizeof(reserved) / sizeof(reserved[0]); i++)
        plain = strcmp(s, reserved[i]) != 0;
    if (plain) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    size_t n = 0;
    if (len < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[n++] = '"';
    for (; *s && n + 3 < len; s++) {
        if (*s == '"')
            buf[n++] = '"';
        buf[n++] = *s;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* schema.table for SQL in hints. */
static const char *hint_rel(const wb_config_table *t, char *buf, size_t len)
{
    char a[160], b[160];
    snprintf(buf, len, "%s.%s", hint_ident(t->schema, a, sizeof(a)),
             hint_ident(t->table, b, sizeof(b)));
    return buf;
}

/* snprintf through a va_list: the messages are cut where they must be,
 * and the compiler's truncation analysis (which cannot know the names are
 * short) stays quiet. */
static void format_msg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void format_msg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Lookup tables live on the target; they may sit at any depth. */
static size_t count_lookups(const wb_expr *e)
{
    size_t n = e && e->kind == WB_EXPR_LOOKUP;
    for (size_t i = 0; e && i < e->nargs; i++)
        n += count_lookups(e->args[i]);
    return n;
}

static int add_lookups(check *c, const wb_expr *e, wb_config_table *tmp,
                       size_t *ntmp)
{
    if (!e)
        return 0;
    if (e->kind == WB_EXPR_LOOKUP && e->lookup.schema && e->lookup.table) {
        wb_config_table *t = &tmp[(*ntmp)++];
        t->schema = e->lookup.schema;
        t->table = e->lookup.table;
        t->pos = e->pos;
        int rc = wb_catinfo_add(&c->ci, TGT, t);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < e->nargs; i++) {
        int rc = add_lookups(c, e->args[i], tmp, ntmp);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------- checks */

static bool seen_before(check *c, const char *name, wb_config_pos pos)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen[i].line == pos.line && c->seen[i].col == pos.col &&
            strcmp(c->seen[i].name, name) == 0)
            return true;
    if (c->nseen < MAX_SEEN) {
        c->seen[c->nseen].name = name;
        c->seen[c->nseen].line = pos.line;
        c->seen[c->nseen].col = pos.col;
        c->nseen++;
    }
    return false;
}

/* The column name of r (which is usable), or a report of its absence. */
static const col *need_col(check *c, const rel *r, const char *name,
                           wb_config_pos pos, const char *role)
{
    const col *cl = wb_catinfo_find_col(r, name);
    char hint[256] = "";

    if (cl || !wb_catinfo_usable(r))
        return cl;
    if (seen_before(c, name, pos))
        return NULL;
    for (size_t i = 0; i < r->ncols && !hint[0]; i++)
        if (strcasecmp(r->cols[i].name, name) == 0)
            format_msg(hint, sizeof(hint),
                       "Perhaps you meant \"%s\": column names are "
                       "case-sensitive.",
                       r->cols[i].name);
    if (!hint[0]) {
        wb_strbuf h = {0};
        wb_strbuf_append_fmt(&h, "Columns of \"%s.%s\": ", r->t->schema,
                             r->t->table);
        for (size_t i = 0; i < r->ncols; i++) {
            if (h.len + strlen(r->cols[i].name) + 8 >= sizeof(hint)) {
                wb_strbuf_add(&h, ", ...");
                break;
            }
            wb_strbuf_append_fmt(&h, "%s%s", i ? ", " : "", r->cols[i].name);
        }
        wb_strbuf_add(&h, ".");
        format_msg(hint, sizeof(hint), "%s", wb_strbuf_str(&h));
        wb_strbuf_free(&h);
    }
    problem(c, pos, NULL, hint,
            "mapping \"%s\": %s column \"%s\" does not exist in table "
            "\"%s.%s\"",
            c->m->name, role, name, r->t->schema, r->t->table);
    return NULL;
}

/* Report a missing schema or table, or one that is not a table. */
static void check_rel(check *c, const rel *r, const wb_config_table *t,
                      const char *role)
{
    char hint[256];
    if (!r->nsp_exists) {
        format_msg(hint, sizeof(hint),
                   "Create the schema, or correct the name (quote it in the "
                   "file to keep upper case).");
        problem(c, t->pos, NULL, hint,
                "mapping \"%s\": schema \"%s\" of %s table \"%s.%s\" does not "
                "exist",
                c->m->name, t->schema, role, t->schema, t->table);
    } else if (!r->exists) {
        format_msg(hint, sizeof(hint),
                   "Create the table, or correct the name (quote it in the "
                   "file to keep upper case).");
        problem(c, t->pos, NULL, hint,
                "mapping \"%s\": %s table \"%s.%s\" does not exist", c->m->name,
                role, t->schema, t->table);
    } else if (!wb_catinfo_usable(r)) {
        problem(c, t->pos, NULL,
                r->side == SRC ? "Only tables can be published." : NULL,
                "mapping \"%s\": %s relation \"%s.%s\" is not a table",
                c->m->name, role, t->schema, t->table);
    } else if (strcmp(role, "target") == 0 && r->relkind != 'r' &&
               r->relkind != 'p') {
        problem(c, t->pos, NULL,
                "walbridge writes with INSERT ... ON CONFLICT, UPDATE and "
                "DELETE, which need a table.",
                "mapping \"%s\": target relation \"%s.%s\" is not a table",
                c->m->name, t->schema, t->table);
    }
}

static vtype text_type(void)
{
    return wb_catinfo_builtin(25, "text", 'S');
}

/* The type of the value an expression produces; unknown for literals,
 * which the target parses in whatever type the column has. */
static vtype expr_type(check *c, const wb_expr *e)
{
    vtype unknown = {0};
    const rel *src =
        wb_catinfo_find_rel(&c->ci, SRC, c->m->from.schema, c->m->from.table);
    if (!e)
        return unknown;
    switch (e->kind) {
    case WB_EXPR_COLUMN: {
        const col *cl = wb_catinfo_find_col(src, e->name);
        return cl ? wb_catinfo_col_type(cl, SRC) : unknown;
    }
    case WB_EXPR_CONST:
        return unknown;
    case WB_EXPR_CAST:
        switch (e->cast_to) {
        case WB_CAST_TEXT:
            return text_type();
        case WB_CAST_INTEGER:
            return wb_catinfo_builtin(23, "integer", 'N');
        case WB_CAST_BIGINT:
            return wb_catinfo_builtin(20, "bigint", 'N');
        case WB_CAST_NUMERIC:
            return wb_catinfo_builtin(1700, "numeric", 'N');
        case WB_CAST_BOOLEAN:
            return wb_catinfo_builtin(16, "boolean", 'B');
        case WB_CAST_DATE:
            return wb_catinfo_builtin(1082, "date", 'D');
        }
        return unknown;
    case WB_EXPR_COALESCE: {
        /* One known type if every known argument has it, else text. */
        vtype r = unknown;
        for (size_t i = 0; i < e->nargs; i++) {
            vtype a = expr_type(c, e->args[i]);
            if (!a.known)
                continue;
            if (!r.known)
                r = a;
            else if (strcmp(r.name, a.name) != 0)
                return text_type();
        }
        return r;
    }
    case WB_EXPR_MAP:
        /* The mapped values are literals; only else: can bring a type. */
        return e->nargs > 1 ? expr_type(c, e->args[1]) : unknown;
    case WB_EXPR_LOOKUP: {
        const rel *lr =
            wb_catinfo_find_rel(&c->ci, TGT, e->lookup.schema, e->lookup.table);
        const col *cl = wb_catinfo_usable(lr) && e->lookup.column
                            ? wb_catinfo_find_col(lr, e->lookup.column)
                            : NULL;
        return cl ? wb_catinfo_col_type(cl, TGT) : unknown;
    }
    default:
        return text_type();
    }
}

static void check_conversion(check *c, vtype v, const char *what, const col *to,
                             const rel *tr, wb_config_pos pos, const char *hint)
{
    if (!to || wb_catinfo_convertible(&c->ci, v, to, tr->side))
        return;
    problem(c, pos, NULL, hint,
            "mapping \"%s\": %s (%s) cannot be converted to column \"%s\" "
            "(%s) of table \"%s.%s\"",
            c->m->name, what, v.shown, to->name, to->type, tr->t->schema,
            tr->t->table);
}

/* Every source column an expression reads, and its lookups' columns. */
static void check_expr_columns(check *c, const rel *src, const wb_expr *e)
{
    if (!e)
        return;
    if (e->kind == WB_EXPR_COLUMN && e->name)
        need_col(c, src, e->name, e->pos, "source");
    if (e->kind == WB_EXPR_LOOKUP && e->lookup.schema && e->lookup.table) {
        const rel *lr =
            wb_catinfo_find_rel(&c->ci, TGT, e->lookup.schema, e->lookup.table);
        wb_config_table t = {e->lookup.schema, e->lookup.table, e->pos};
        if (lr && !wb_catinfo_usable(lr) &&
            !seen_before(c, "\x01lookup", e->pos))
            check_rel(c, lr, &t, "lookup");
        if (wb_catinfo_usable(lr)) {
            if (e->lookup.match)
                need_col(c, lr, e->lookup.match, e->pos, "lookup");
            if (e->lookup.column)
                need_col(c, lr, e->lookup.column, e->pos, "lookup");
        }
    }
    for (size_t i = 0; i < e->nargs; i++)
        check_expr_columns(c, src, e->args[i]);
}

static void check_filter_operand(check *c, const rel *src,
                                 const wb_filter_operand *o)
{
    if (o->is_column && o->text)
        need_col(c, src, o->text, c->m->filter_pos, "source");
}

static void check_filter(check *c, const rel *src, const wb_filter *f)
{
    if (!f)
        return;
    check_filter(c, src, f->left);
    check_filter(c, src, f->right);
    switch (f->kind) {
    case WB_FILTER_CMP:
        check_filter_operand(c, src, &f->lhs);
        check_filter_operand(c, src, &f->rhs);
        break;
    case WB_FILTER_IN:
        check_filter_operand(c, src, &f->lhs);
        for (size_t i = 0; i < f->nlist; i++)
            check_filter_operand(c, src, &f->list[i]);
        break;
    case WB_FILTER_ISNULL:
    case WB_FILTER_BOOL:
        check_filter_operand(c, src, &f->lhs);
        break;
    default:
        break;
    }
}

static const char CONVERT_HINT[] =
    "Values travel as text: add a {cast: ...} in \"values\", or change the "
    "column's type.";

/* values: and the soft-delete columns. */
static void check_value(check *c, const rel *src, const rel *tgt,
                        const wb_config_value *v)
{
    const col *to = v->to ? need_col(c, tgt, v->to, v->pos, "target") : NULL;
    const wb_expr *e = v->expr;

    check_expr_columns(c, src, e);
    if (!e || !to)
        return;
    if (e->kind == WB_EXPR_LOOKUP) {
        const rel *lr =
            wb_catinfo_find_rel(&c->ci, TGT, e->lookup.schema, e->lookup.table);
        const col *lc = wb_catinfo_usable(lr) && e->lookup.column
                            ? wb_catinfo_find_col(lr, e->lookup.column)
                            : NULL;
        const col *mc = wb_catinfo_usable(lr) && e->lookup.match
                            ? wb_catinfo_find_col(lr, e->lookup.match)
                            : NULL;
        char what[300];
        if (lc) {
            format_msg(what, sizeof(what), "lookup column \"%s.%s.%s\"",
                       lr->t->schema, lr->t->table, lc->name);
            check_conversion(c, wb_catinfo_col_type(lc, TGT), what, to, tgt,
                             e->pos,
                             "Look up a column of a convertible type, or "
                             "change the column's type.");
        }
        if (mc && e->nargs > 0) {
            vtype from = expr_type(c, e->args[0]);
            format_msg(what, sizeof(what), "the lookup value");
            check_conversion(c, from, what, mc, lr, e->pos, CONVERT_HINT);
        }
        return;
    }
    vtype t = expr_type(c, e);
    char what[300];
    if (e->kind == WB_EXPR_COLUMN)
        format_msg(what, sizeof(what), "source column \"%s\"", e->name);
    else
        format_msg(what, sizeof(what), "the value");
    check_conversion(c, t, what, to, tgt, e->pos, CONVERT_HINT);
}

static void check_pairs(check *c, const rel *src, const rel *tgt,
                        const wb_config_colmap *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const col *from =
            need_col(c, src, pairs[i].from, pairs[i].pos, "source");
        const col *to = need_col(c, tgt, pairs[i].to, pairs[i].pos, "target");
        if (from && to) {
            char what[300];
            format_msg(what, sizeof(what), "source column \"%s\"", from->name);
            check_conversion(c, wb_catinfo_col_type(from, SRC), what, to, tgt,
                             pairs[i].pos,
                             "Values travel as text: map it in \"values\" "
                             "with a {cast: ...}, or change the column's "
                             "type.");
        }
    }
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* INSERT ... ON CONFLICT (key) needs a unique index with exactly the key's
 * columns, no predicate, checked immediately, valid (PostgreSQL's
 * infer_arbiter_indexes). */
static void check_target_key(check *c, const rel *tgt)
{
    const wb_config_mapping *m = c->m;
    const char *keys[32];
    size_t nk = 0;
    const idx *near = NULL;

    for (size_t i = 0; i < m->nkeys; i++) {
        if (!wb_catinfo_find_col(tgt, m->keys[i].to))
            return; /* reported as missing already */
        if (!in_list(keys, nk, m->keys[i].to) && nk < 32)
            keys[nk++] = m->keys[i].to;
    }
    if (nk == 0)
        return;
    for (size_t i = 0; i < tgt->nidx; i++) {
        const idx *x = &tgt->idx[i];
        bool same = strchr(x->flags, 'u') && x->ncols == nk;
        for (size_t j = 0; same && j < x->ncols; j++)
            same = x->cols[j] && in_list(keys, nk, x->cols[j]);
        if (!same)
            continue;
        if (!strchr(x->flags, 'p') && !strchr(x->flags, 'd') &&
            !strchr(x->flags, 'v'))
            return;
        near = x;
    }
    char detail[300] = "", hint[256];
    char rb[400], ib[160];
    wb_strbuf cols = {0}, sqlcols = {0}; /* cut to 199 bytes where used */
    for (size_t i = 0; i < nk; i++) {
        wb_strbuf_append_fmt(&cols, "%s%s", i ? ", " : "", keys[i]);
        wb_strbuf_append_fmt(&sqlcols, "%s%s", i ? ", " : "",
                             hint_ident(keys[i], ib, sizeof(ib)));
    }
    if (near)
        format_msg(detail, sizeof(detail),
                   "Index \"%s\" has these columns but is %s.", near->name,
                   strchr(near->flags, 'p')   ? "partial (WHERE ...)"
                   : strchr(near->flags, 'd') ? "deferrable"
                                              : "not valid");
    format_msg(hint, sizeof(hint),
               "INSERT ... ON CONFLICT needs one: CREATE UNIQUE INDEX ON %s "
               "(%.199s);",
               hint_rel(&tgt->t[0], rb, sizeof(rb)), wb_strbuf_str(&sqlcols));
    problem(c, m->keys[0].pos, detail, hint,
            "mapping \"%s\": no unique index on target table \"%s.%s\" has "
            "exactly the key columns (%.199s)",
            m->name, tgt->t->schema, tgt->t->table, wb_strbuf_str(&cols));
    wb_strbuf_free(&cols);
    wb_strbuf_free(&sqlcols);
}

/* Deletes and key changes need the old key, which the source sends only
 * for its replica identity columns (all of them under FULL). */
static void check_replica_identity(check *c, const rel *src)
{
    const wb_config_mapping *m = c->m;
    const idx *ri = NULL;
    char rb[400], hint[256], ib[160];

    if (src->replident == 'f')
        return;
    for (size_t i = 0; i < src->nidx && !ri; i++)
        if (strchr(src->idx[i].flags, src->replident == 'd' ? 'k' : 'r'))
            ri = &src->idx[i];
    hint_rel(src->t, rb, sizeof(rb));
    if (src->replident == 'n' || !ri) {
        const char *why =
            src->replident == 'n' ? "has REPLICA IDENTITY NOTHING"
            : src->replident == 'd'
                ? "has no primary key, so its replica identity is empty"
                : "has lost its replica identity index";
        format_msg(hint, sizeof(hint),
                   "ALTER TABLE %s REPLICA IDENTITY FULL; (or add a primary "
                   "key on the key columns)",
                   rb);
        problem(c, m->from.pos,
                "The mapping handles updates or deletes: the source sends "
                "no old key for them and refuses them once the table is "
                "published.",
                hint, "mapping \"%s\": source table \"%s.%s\" %s", m->name,
                src->t->schema, src->t->table, why);
        return;
    }
    /* A unique index on the source that holds the whole key could be the
     * identity instead of FULL. */
    const idx *better = NULL;
    for (size_t i = 0; i < src->nidx && !better; i++) {
        const idx *x = &src->idx[i];
        bool ok = strchr(x->flags, 'u') && !strchr(x->flags, 'p') &&
                  !strchr(x->flags, 'd') && !strchr(x->flags, 'v');
        for (size_t k = 0; ok && k < m->nkeys; k++)
            ok = in_list(x->cols, x->ncols, m->keys[k].from);
        for (size_t j = 0; ok && j < x->ncols; j++)
            ok = x->cols[j] != NULL;
        if (ok)
            better = x;
    }
    for (size_t k = 0; k < m->nkeys; k++) {
        const char *kc = m->keys[k].from;
        if (!wb_catinfo_find_col(src, kc) || in_list(ri->cols, ri->ncols, kc))
            continue;
        if (better)
            format_msg(hint, sizeof(hint),
                       "ALTER TABLE %s REPLICA IDENTITY USING INDEX %s; (its "
                       "columns must be NOT NULL) or REPLICA IDENTITY FULL;",
                       rb, hint_ident(better->name, ib, sizeof(ib)));
        else
            format_msg(hint, sizeof(hint),
                       "ALTER TABLE %s REPLICA IDENTITY FULL; or key the "
                       "mapping on the identity columns.",
                       rb);
        problem(c, m->keys[k].pos,
                "Deletes and key changes need the old key, which the source "
                "sends only for replica identity columns.",
                hint,
                "mapping \"%s\": key column \"%s\" is not in the replica "
                "identity of source table \"%s.%s\" (index \"%s\")",
                m->name, kc, src->t->schema, src->t->table, ri->name);
    }
}

/*
 * conflict: the policy compares the target with the mapped OLD row, which
 * the source sends in full only with REPLICA IDENTITY FULL; and the
 * last_writer_wins columns must exist on their sides.
 */
static void check_conflict(check *c, const rel *src, const rel *tgt)
{
    const wb_config_mapping *m = c->m;
    const wb_config_conflict *cf = &m->conflict;
    char rb[400], hint[480];

    if (cf->resolve == WB_CONFLICT_NONE)
        return;
    if (cf->by_source) {
        need_col(c, src, cf->by_source, cf->by_pos, "source");
        need_col(c, tgt, cf->by_target, cf->by_pos, "target");
    }
    if (!(m->operations & WB_MAP_OP_UPDATE) || src->replident == 'f')
        return;
    hint_rel(src->t, rb, sizeof(rb));
    format_msg(hint, sizeof(hint), "ALTER TABLE %s REPLICA IDENTITY FULL;", rb);
    problem(c, cf->pos,
            "A conflict policy compares the target row with the source's "
            "old row, to tell a column another writer changed from one "
            "this change moves on; the source sends the whole old row only "
            "with REPLICA IDENTITY FULL.",
            hint,
            "mapping \"%s\": source table \"%s.%s\" needs REPLICA "
            "IDENTITY FULL for \"conflict\"",
            m->name, src->t->schema, src->t->table);
}

static void check_publication(check *c, const rel *src)
{
    const wb_config *cfg = c->cfg;
    const wb_config_mapping *m = c->m;
    char hint[256], rb[400], pb[160];

    if (src->in_pub == 1)
        return;
    if (src->in_pub == 0) {
        format_msg(hint, sizeof(hint), "ALTER PUBLICATION %s ADD TABLE %s;",
                   hint_ident(cfg->source.publication, pb, sizeof(pb)),
                   hint_rel(src->t, rb, sizeof(rb)));
        problem(c, m->from.pos,
                "Changes of a table outside the publication never reach "
                "walbridge.",
                hint,
                "mapping \"%s\": source table \"%s.%s\" is not in "
                "publication \"%s\"",
                m->name, src->t->schema, src->t->table,
                cfg->source.publication);
        return;
    }
    /* No publication yet: walbridge creates it for source.schemas (a
     * missing one that it may not create stops the start on its own). */
    if (!cfg->source.create_publication)
        return;
    for (size_t i = 0; i < cfg->source.nschemas; i++)
        if (strcmp(cfg->source.schemas[i], src->t->schema) == 0)
            return;
    format_msg(hint, sizeof(hint), "Add \"%s\" to source.schemas.",
               src->t->schema);
    problem(c, m->from.pos, NULL, hint,
            "mapping \"%s\": schema \"%s\" is not in source.schemas, so "
            "publication \"%s\" will not include table \"%s.%s\"",
            m->name, src->t->schema, cfg->source.publication, src->t->schema,
            src->t->table);
}

static size_t tos_of(const wb_config_mapping *m, const wb_config_table **out)
{
    if (m->nto > 0 && m->tos) {
        *out = m->tos;
        return m->nto;
    }
    *out = &m->to;
    return 1;
}

static int check_mapping(check *c, const wb_config_mapping *m, wb_error *err)
{
    const wb_config_table *tos;
    size_t nto = tos_of(m, &tos);
    size_t nlookups = 0, ntmp = 0;
    wb_config_table *tmp = NULL;
    bool builtin_map = m->plugin.path == NULL;
    int rc = 0;

    c->m = m;
    if (builtin_map)
        for (size_t i = 0; i < m->nvalues; i++)
            nlookups += count_lookups(m->values[i].expr);
    rc = wb_catinfo_reserve(&c->ci, 1 + nto + nlookups);
    tmp = calloc(nlookups + 1, sizeof(*tmp));
    if (rc || !tmp) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    rc = wb_catinfo_add(&c->ci, SRC, &m->from);
    for (size_t i = 0; rc == 0 && i < nto; i++)
        rc = wb_catinfo_add(&c->ci, TGT, &tos[i]);
    for (size_t i = 0; rc == 0 && builtin_map && i < m->nvalues; i++)
        rc = add_lookups(c, m->values[i].expr, tmp, &ntmp);
    if (rc) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    const char *pub = c->cfg->source.publication;
    if (c->ci.same_db)
        rc = wb_catinfo_load(&c->ci, 0, (1u << SRC) | (1u << TGT), pub, m->name,
                             err);
    else if ((rc = wb_catinfo_load(&c->ci, SRC, 1u << SRC, pub, m->name,
                                   err)) == 0)
        rc = wb_catinfo_load(&c->ci, TGT, 1u << TGT, pub, m->name, err);
    if (rc)
        goto out;

    rel *src = wb_catinfo_find_rel(&c->ci, SRC, m->from.schema, m->from.table);
    rel *tgt = wb_catinfo_find_rel(&c->ci, TGT, tos[0].schema, tos[0].table);
    check_rel(c, src, &m->from, "source");
    for (size_t i = 0; i < nto; i++) {
        const rel *t =
            wb_catinfo_find_rel(&c->ci, TGT, tos[i].schema, tos[i].table);
        /* The same table twice in a plugin's list: reported once. */
        if (t->t == &tos[i])
            check_rel(c, t, &tos[i], "target");
    }
    if (wb_catinfo_usable(src))
        check_publication(c, src);
    if (!builtin_map)
        goto out;
    if (!wb_catinfo_usable(src) || !wb_catinfo_usable(tgt) ||
        tgt->relkind == 'v' || tgt->relkind == 'm' || tgt->relkind == 'f') {
        /* Without both tables, every column would be reported missing;
         * the lookups can still be checked. */
        for (size_t i = 0; i < m->nvalues; i++)
            check_expr_columns(c, NULL, m->values[i].expr);
        goto out;
    }
    check_pairs(c, src, tgt, m->keys, m->nkeys);
    check_pairs(c, src, tgt, m->columns, m->ncolumns);
    for (size_t i = 0; i < m->nvalues; i++)
        check_value(c, src, tgt, &m->values[i]);
    check_filter(c, src, m->filter);
    const wb_config_delete *dels[2] = {&m->on_delete, &m->on_filter_out};
    for (int d = 0; d < 2; d++) {
        if (dels[d]->action != WB_ON_DELETE_SOFT)
            continue;
        /* on_filter_out defaults to a copy of on_delete: check it once. */
        if (d == 1 && m->on_delete.action == WB_ON_DELETE_SOFT &&
            (dels[1]->soft == dels[0]->soft ||
             (dels[1]->pos.line == dels[0]->pos.line &&
              dels[1]->pos.col == dels[0]->pos.col)))
            continue;
        for (size_t i = 0; i < dels[d]->nsoft; i++)
            check_value(c, src, tgt, &dels[d]->soft[i]);
    }
    if (m->operations & (WB_MAP_OP_INSERT | WB_MAP_OP_UPDATE))
        check_target_key(c, tgt);
    if ((m->operations & WB_MAP_OP_UPDATE) ||
        ((m->operations & WB_MAP_OP_DELETE) &&
         m->on_delete.action != WB_ON_DELETE_IGNORE))
        check_replica_identity(c, src);
    check_conflict(c, src, tgt);
out:
    wb_catinfo_reset(&c->ci);
    c->nseen = 0;
    free(tmp);
    return rc;
}

int wb_catalog_check(PGconn *source, PGconn *target, const wb_config *cfg,
                     wb_catalog_report_fn report, void *arg, wb_error *err)
{
    check c;
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    c.report = report;
    c.arg = arg;
    c.ci.conn[SRC] = source;
    c.ci.conn[TGT] = target ? target : source;
    c.ci.same_db = c.ci.conn[TGT] == source;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        if (!cfg->mappings[i].enabled)
            continue;
        int rc = check_mapping(&c, &cfg->mappings[i], err);
        if (rc)
            return rc;
    }
    return c.problems;
}
