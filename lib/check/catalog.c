/*
 * check/catalog.c - the configuration checked against the live catalog (see
 * walbridge/catalog.h).
 *
 * Per mapping, one query per database reads everything the checks need
 * about the mapping's relations: whether schema and table exist, relkind,
 * replica identity, publication membership, the columns with their types
 * (format_type for messages, typcategory for the conversion rule), the
 * unique and replica identity indexes with their key columns, and the
 * pg_cast entries into the columns' types.  The checks themselves run here,
 * in C, so that every problem can point at its own node of the file.
 *
 * Types of two databases are compared by OID only when both come from the
 * same database (or are built-in types whose OIDs are fixed), otherwise by
 * name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conn.h"
#include "config/expr_ast.h"
#include "common/pgarray.h"
#include "check/catalog.h"

enum { SRC = 0, TGT = 1 };

/* Column rows, index rows, ... of the catalog query: see CATALOG_SQL. */
typedef struct col {
    const char *name;
    const char *type;    /* format_type with typmod, for messages */
    const char *typname; /* format_type without typmod, for comparing */
    char cat;            /* pg_type.typcategory */
    unsigned long oid;
} col;

typedef struct idx {
    const char *name;
    const char *flags; /* u unique, p partial, r replica identity, k primary,
                          d deferrable, v not valid */
    size_t ncols;
    const char **cols; /* key columns; NULL for an expression */
} idx;

typedef struct cast {
    unsigned long target, source;
    const char *source_name;
} cast;

typedef struct rel {
    const wb_config_table *t;
    int side;
    bool nsp_exists, exists;
    char relkind, replident;
    int in_pub; /* 1 yes, 0 no, -1 the publication does not exist */
    size_t ncols, nidx;
    col *cols;
    idx *idx;
} rel;

/* A value's type, as far as it is known before it reaches the target. */
typedef struct vtype {
    bool known;
    int side; /* whose OID: SRC, TGT, or -1 built-in (fixed OID) */
    unsigned long oid;
    const char *name;  /* format_type without typmod */
    const char *shown; /* with typmod */
    char cat;
} vtype;

#define MAX_SEEN 256

typedef struct check {
    const wb_config *cfg;
    const wb_config_mapping *m;
    wb_catalog_report_fn report;
    void *arg;
    int problems;
    bool same_db;
    PGconn *conn[2];
    PGresult *res[2];
    size_t ncasts[2];
    cast *casts[2];
    size_t nrels;
    rel *rels;
    /* (name, position) pairs already reported missing, so that a column
     * named twice at one place (a filter) is reported once. */
    size_t nseen;
    struct {
        const char *name;
        int line, col;
    } seen[MAX_SEEN];
} check;

static const char CATALOG_SQL[] =
    "WITH req AS ("
    " SELECT r.ord::int AS ord, r.nsp, r.rel"
    " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(nsp, rel, ord)"
    "), r AS ("
    " SELECT req.ord, req.nsp, req.rel, n.oid AS nspoid, c.oid AS reloid,"
    "  c.relkind, c.relreplident"
    " FROM req"
    " LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = req.nsp"
    " LEFT JOIN pg_catalog.pg_class c"
    "  ON c.relnamespace = n.oid AND c.relname = req.rel"
    "), atts AS ("
    " SELECT r.ord, a.attnum, a.attname, a.atttypid, a.atttypmod"
    " FROM r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.reloid"
    " WHERE a.attnum > 0 AND NOT a.attisdropped"
    ") "
    "SELECT 'c' AS k, atts.ord, '' AS g, atts.attnum::int AS s,"
    " atts.attname::text AS a,"
    " pg_catalog.format_type(atts.atttypid, atts.atttypmod) AS b,"
    " t.typcategory::text AS c, atts.atttypid::text AS d,"
    " pg_catalog.format_type(atts.atttypid, NULL) AS e"
    " FROM atts JOIN pg_catalog.pg_type t ON t.oid = atts.atttypid "
    "UNION ALL "
    "SELECT 'i', r.ord, ic.relname::text, k.n::int, a.attname::text,"
    " concat(CASE WHEN i.indisunique THEN 'u' END,"
    "  CASE WHEN i.indpred IS NOT NULL THEN 'p' END,"
    "  CASE WHEN i.indisreplident THEN 'r' END,"
    "  CASE WHEN i.indisprimary THEN 'k' END,"
    "  CASE WHEN NOT i.indimmediate THEN 'd' END,"
    "  CASE WHEN NOT i.indisvalid THEN 'v' END),"
    " NULL, NULL, NULL"
    " FROM r JOIN pg_catalog.pg_index i ON i.indrelid = r.reloid"
    " JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY"
    "  AS k(attnum, n)"
    " LEFT JOIN pg_catalog.pg_attribute a"
    "  ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
    " WHERE k.n <= i.indnkeyatts AND (i.indisunique OR i.indisreplident) "
    "UNION ALL "
    "SELECT 'r', r.ord, '', 0, (r.nspoid IS NOT NULL)::text, r.relkind::text,"
    " r.relreplident::text,"
    " (SELECT (EXISTS (SELECT FROM pg_catalog.pg_publication_tables pt"
    "   WHERE pt.pubname = $3 AND pt.schemaname = r.nsp"
    "   AND pt.tablename = r.rel))::text"
    "  FROM pg_catalog.pg_publication p WHERE p.pubname = $3),"
    " NULL"
    " FROM r "
    "UNION ALL "
    "SELECT DISTINCT 'x', 0, '', 0, c.casttarget::text, c.castsource::text,"
    " pg_catalog.format_type(c.castsource, NULL), NULL, NULL"
    " FROM pg_catalog.pg_cast c"
    " WHERE c.casttarget IN (SELECT atttypid FROM atts) "
    "ORDER BY 1, 2, 3, 4";

enum { K_KIND, K_ORD, K_GROUP, K_SEQ, K_A, K_B, K_C, K_D, K_E };

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

/* -------------------------------------------------------- catalog query */

static rel *find_rel(check *c, int side, const char *schema, const char *table)
{
    for (size_t i = 0; i < c->nrels; i++)
        if (c->rels[i].side == side &&
            strcmp(c->rels[i].t->schema, schema) == 0 &&
            strcmp(c->rels[i].t->table, table) == 0)
            return &c->rels[i];
    return NULL;
}

static int add_rel(check *c, size_t cap, int side, const wb_config_table *t)
{
    if (find_rel(c, side, t->schema, t->table))
        return 0;
    if (c->nrels >= cap)
        return WB_ENOMEM;
    rel *r = &c->rels[c->nrels++];
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->side = side;
    r->in_pub = -1;
    return 0;
}

/* Lookup tables live on the target; they may sit at any depth. */
static size_t count_lookups(const wb_expr *e)
{
    size_t n = e && e->kind == WB_EXPR_LOOKUP;
    for (size_t i = 0; e && i < e->nargs; i++)
        n += count_lookups(e->args[i]);
    return n;
}

static int add_lookups(check *c, size_t cap, const wb_expr *e,
                       wb_config_table *tmp, size_t *ntmp)
{
    if (!e)
        return 0;
    if (e->kind == WB_EXPR_LOOKUP && e->lookup.schema && e->lookup.table) {
        wb_config_table *t = &tmp[(*ntmp)++];
        t->schema = e->lookup.schema;
        t->table = e->lookup.table;
        t->pos = e->pos;
        int rc = add_rel(c, cap, TGT, t);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < e->nargs; i++) {
        int rc = add_lookups(c, cap, e->args[i], tmp, ntmp);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *val(PGresult *res, int row, int f)
{
    return PQgetisnull(res, row, f) ? NULL : PQgetvalue(res, row, f);
}

/* Run the query for the relations of the given sides on conn and fill
 * them in; sides is a bit set (1 << SRC, 1 << TGT). */
static int load(check *c, int slot, unsigned sides, wb_error *err)
{
    PGconn *conn = c->conn[slot];
    wb_strbuf schemas = {0}, tables = {0};
    int rc = 0;
    rel **order = calloc(c->nrels + 1, sizeof(*order));
    size_t n = 0;

    if (!order)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nrels; i++) {
        if (!(sides & (1u << c->rels[i].side)))
            continue;
        order[n++] = &c->rels[i];
        if ((rc = wb_pgarray_add(&schemas, c->rels[i].t->schema)) != 0 ||
            (rc = wb_pgarray_add(&tables, c->rels[i].t->table)) != 0)
            break;
    }
    if (rc == 0)
        rc = wb_pgarray_finish(&schemas);
    if (rc == 0)
        rc = wb_pgarray_finish(&tables);
    if (rc) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    {
        /* Publication membership is a question about source tables. */
        const char *pub =
            (sides & (1u << SRC)) ? c->cfg->source.publication : NULL;
        const char *params[3] = {schemas.data, tables.data, pub};
        PGresult *res =
            PQexecParams(conn, CATALOG_SQL, 3, NULL, params, NULL, NULL, 0);
        char what[300];
        format_msg(what, sizeof(what),
                   "could not read the catalog for mapping \"%s\"", c->m->name);
        rc = wb_conn_expect(conn, res, PGRES_TUPLES_OK, &c->res[slot], what,
                            err);
        if (rc)
            goto out;
    }
    PGresult *res = c->res[slot];
    int rows = PQntuples(res);
    size_t nx = 0;
    /* First pass: sizes. */
    for (int i = 0; i < rows; i++) {
        const char *k = PQgetvalue(res, i, K_KIND);
        int ord = atoi(PQgetvalue(res, i, K_ORD));
        rel *r = ord >= 1 && (size_t)ord <= n ? order[ord - 1] : NULL;
        if (*k == 'x')
            nx++;
        else if (!r)
            continue;
        else if (*k == 'c')
            r->ncols++;
        else if (*k == 'i' && atoi(PQgetvalue(res, i, K_SEQ)) == 1)
            r->nidx++;
    }
    for (size_t i = 0; i < n; i++) {
        order[i]->cols = calloc(order[i]->ncols + 1, sizeof(col));
        order[i]->idx = calloc(order[i]->nidx + 1, sizeof(idx));
        if (!order[i]->cols || !order[i]->idx) {
            rc = wb_error_set(err, WB_ENOMEM, "out of memory");
            goto out;
        }
        order[i]->ncols = order[i]->nidx = 0;
    }
    c->casts[slot] = calloc(nx + 1, sizeof(cast));
    if (!c->casts[slot]) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    /* Second pass: fill in.  Rows come ordered by kind, relation, index and
     * position, so an index's columns are consecutive. */
    for (int i = 0; i < rows; i++) {
        const char *k = PQgetvalue(res, i, K_KIND);
        int ord = atoi(PQgetvalue(res, i, K_ORD));
        rel *r = ord >= 1 && (size_t)ord <= n ? order[ord - 1] : NULL;
        if (*k == 'x') {
            cast *x = &c->casts[slot][c->ncasts[slot]++];
            x->target = strtoul(PQgetvalue(res, i, K_A), NULL, 10);
            x->source = strtoul(PQgetvalue(res, i, K_B), NULL, 10);
            x->source_name = PQgetvalue(res, i, K_C);
        } else if (!r) {
            continue;
        } else if (*k == 'r') {
            const char *kind = val(res, i, K_B), *ident = val(res, i, K_C);
            const char *pub = val(res, i, K_D);
            r->nsp_exists = strcmp(PQgetvalue(res, i, K_A), "true") == 0;
            r->exists = kind != NULL;
            r->relkind = kind ? kind[0] : 0;
            r->replident = ident ? ident[0] : 0;
            r->in_pub = !pub ? -1 : strcmp(pub, "true") == 0;
        } else if (*k == 'c') {
            col *cl = &r->cols[r->ncols++];
            cl->name = PQgetvalue(res, i, K_A);
            cl->type = PQgetvalue(res, i, K_B);
            cl->cat = PQgetvalue(res, i, K_C)[0];
            cl->oid = strtoul(PQgetvalue(res, i, K_D), NULL, 10);
            cl->typname = PQgetvalue(res, i, K_E);
        } else if (*k == 'i') {
            int seq = atoi(PQgetvalue(res, i, K_SEQ));
            if (seq == 1) {
                idx *x = &r->idx[r->nidx++];
                x->name = PQgetvalue(res, i, K_GROUP);
                x->flags = PQgetvalue(res, i, K_B);
                /* INDEX_MAX_KEYS is 32: enough for any index. */
                x->cols = calloc(33, sizeof(*x->cols));
                if (!x->cols) {
                    rc = wb_error_set(err, WB_ENOMEM, "out of memory");
                    goto out;
                }
            }
            if (r->nidx > 0 && r->idx[r->nidx - 1].ncols < 32) {
                idx *x = &r->idx[r->nidx - 1];
                x->cols[x->ncols++] = val(res, i, K_A);
            }
        }
    }
out:
    free(order);
    wb_strbuf_free(&schemas);
    wb_strbuf_free(&tables);
    return rc;
}

static void free_rels(check *c)
{
    for (size_t i = 0; i < c->nrels; i++) {
        for (size_t j = 0; j < c->rels[i].nidx; j++)
            free(c->rels[i].idx[j].cols);
        free(c->rels[i].cols);
        free(c->rels[i].idx);
    }
    free(c->rels);
    c->rels = NULL;
    c->nrels = 0;
    for (int s = 0; s < 2; s++) {
        PQclear(c->res[s]);
        c->res[s] = NULL;
        free(c->casts[s]);
        c->casts[s] = NULL;
        c->ncasts[s] = 0;
    }
    c->nseen = 0;
}

/* ------------------------------------------------------------- checks */

static const col *find_col(const rel *r, const char *name)
{
    for (size_t i = 0; r && i < r->ncols; i++)
        if (strcmp(r->cols[i].name, name) == 0)
            return &r->cols[i];
    return NULL;
}

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

/* A relation that exists and is usable: its problems are reported once,
 * by check_rel; columns of an unusable one are not checked. */
static bool usable(const rel *r)
{
    return r && r->exists &&
           (r->relkind == 'r' || r->relkind == 'p' ||
            (r->side == TGT &&
             (r->relkind == 'v' || r->relkind == 'm' || r->relkind == 'f')));
}

/* The column name of r (which is usable), or a report of its absence. */
static const col *need_col(check *c, const rel *r, const char *name,
                           wb_config_pos pos, const char *role)
{
    const col *cl = find_col(r, name);
    char hint[256] = "";

    if (cl || !usable(r))
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
    } else if (!usable(r)) {
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

static vtype col_type(const col *cl, int side)
{
    vtype v = {true, side, cl->oid, cl->typname, cl->type, cl->cat};
    return v;
}

static vtype builtin(unsigned long oid, const char *name, char cat)
{
    vtype v = {true, -1, oid, name, name, cat};
    return v;
}

static vtype text_type(void)
{
    return builtin(25, "text", 'S');
}

/* The type of the value an expression produces; unknown for literals,
 * which the target parses in whatever type the column has. */
static vtype expr_type(check *c, const wb_expr *e)
{
    vtype unknown = {0};
    const rel *src = find_rel(c, SRC, c->m->from.schema, c->m->from.table);
    if (!e)
        return unknown;
    switch (e->kind) {
    case WB_EXPR_COLUMN: {
        const col *cl = find_col(src, e->name);
        return cl ? col_type(cl, SRC) : unknown;
    }
    case WB_EXPR_CONST:
        return unknown;
    case WB_EXPR_CAST:
        switch (e->cast_to) {
        case WB_CAST_TEXT:
            return text_type();
        case WB_CAST_INTEGER:
            return builtin(23, "integer", 'N');
        case WB_CAST_BIGINT:
            return builtin(20, "bigint", 'N');
        case WB_CAST_NUMERIC:
            return builtin(1700, "numeric", 'N');
        case WB_CAST_BOOLEAN:
            return builtin(16, "boolean", 'B');
        case WB_CAST_DATE:
            return builtin(1082, "date", 'D');
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
        const rel *lr = find_rel(c, TGT, e->lookup.schema, e->lookup.table);
        const col *cl = usable(lr) && e->lookup.column
                            ? find_col(lr, e->lookup.column)
                            : NULL;
        return cl ? col_type(cl, TGT) : unknown;
    }
    default:
        return text_type();
    }
}

/* May a value of type v be written into column to (of side)? */
static bool convertible(const check *c, vtype v, const col *to, int side)
{
    bool oids_comparable = v.side == -1 || v.side == side || c->same_db;
    if (!v.known)
        return true;
    if ((oids_comparable && v.oid == to->oid) ||
        strcmp(v.name, to->typname) == 0)
        return true;
    /* Values travel as text: any string type takes any value's text, and
     * a string is the input of any type (external ids kept as varchar on
     * one side and integer on the other); a string that does not parse
     * fails when applied, naming the row. */
    if (to->cat == 'S' || v.cat == 'S' || v.cat == to->cat)
        return true;
    int slot = c->same_db ? 0 : side;
    for (size_t i = 0; i < c->ncasts[slot]; i++) {
        const cast *x = &c->casts[slot][i];
        if (x->target == to->oid &&
            (oids_comparable ? x->source == v.oid
                             : strcmp(x->source_name, v.name) == 0))
            return true;
    }
    return false;
}

static void check_conversion(check *c, vtype v, const char *what, const col *to,
                             const rel *tr, wb_config_pos pos, const char *hint)
{
    if (!to || convertible(c, v, to, tr->side))
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
        const rel *lr = find_rel(c, TGT, e->lookup.schema, e->lookup.table);
        wb_config_table t = {e->lookup.schema, e->lookup.table, e->pos};
        if (lr && !usable(lr) && !seen_before(c, "\x01lookup", e->pos))
            check_rel(c, lr, &t, "lookup");
        if (usable(lr)) {
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
        const rel *lr = find_rel(c, TGT, e->lookup.schema, e->lookup.table);
        const col *lc = usable(lr) && e->lookup.column
                            ? find_col(lr, e->lookup.column)
                            : NULL;
        const col *mc = usable(lr) && e->lookup.match
                            ? find_col(lr, e->lookup.match)
                            : NULL;
        char what[300];
        if (lc) {
            format_msg(what, sizeof(what), "lookup column \"%s.%s.%s\"",
                       lr->t->schema, lr->t->table, lc->name);
            check_conversion(c, col_type(lc, TGT), what, to, tgt, e->pos,
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
            check_conversion(c, col_type(from, SRC), what, to, tgt,
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
        if (!find_col(tgt, m->keys[i].to))
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
        if (!find_col(src, kc) || in_list(ri->cols, ri->ncols, kc))
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
    size_t cap = 1 + nto + nlookups;
    c->rels = calloc(cap, sizeof(*c->rels));
    tmp = calloc(nlookups + 1, sizeof(*tmp));
    if (!c->rels || !tmp) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    rc = add_rel(c, cap, SRC, &m->from);
    for (size_t i = 0; rc == 0 && i < nto; i++)
        rc = add_rel(c, cap, TGT, &tos[i]);
    for (size_t i = 0; rc == 0 && builtin_map && i < m->nvalues; i++)
        rc = add_lookups(c, cap, m->values[i].expr, tmp, &ntmp);
    if (rc) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
        goto out;
    }
    if (c->same_db)
        rc = load(c, 0, (1u << SRC) | (1u << TGT), err);
    else if ((rc = load(c, SRC, 1u << SRC, err)) == 0)
        rc = load(c, TGT, 1u << TGT, err);
    if (rc)
        goto out;

    rel *src = find_rel(c, SRC, m->from.schema, m->from.table);
    rel *tgt = find_rel(c, TGT, tos[0].schema, tos[0].table);
    check_rel(c, src, &m->from, "source");
    for (size_t i = 0; i < nto; i++) {
        const rel *t = find_rel(c, TGT, tos[i].schema, tos[i].table);
        /* The same table twice in a plugin's list: reported once. */
        if (t->t == &tos[i])
            check_rel(c, t, &tos[i], "target");
    }
    if (usable(src))
        check_publication(c, src);
    if (!builtin_map)
        goto out;
    if (!usable(src) || !usable(tgt) || tgt->relkind == 'v' ||
        tgt->relkind == 'm' || tgt->relkind == 'f') {
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
    free_rels(c);
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
    c.conn[SRC] = source;
    c.conn[TGT] = target ? target : source;
    c.same_db = c.conn[TGT] == source;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        if (!cfg->mappings[i].enabled)
            continue;
        int rc = check_mapping(&c, &cfg->mappings[i], err);
        if (rc)
            return rc;
    }
    return c.problems;
}
