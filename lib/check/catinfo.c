/*
 * check/catinfo.c - what the catalogs say about a mapping's relations (see
 * check/catinfo.h): one query per database, its rows turned into
 * relations, columns, indexes and casts.
 *
 * Types of two databases are compared by OID only when both come from the
 * same database (or are built-in types whose OIDs are fixed), otherwise by
 * name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/catinfo.h"
#include "common/conn.h"
#include "common/pgarray.h"
#include "common/strbuf.h"

enum { SRC = WB_CATINFO_SRC, TGT = WB_CATINFO_TGT };

typedef wb_catinfo_rel rel; /* as in catalog.c */

/* Column rows ('c'), index key rows ('i'), relation rows ('r') and casts
 * ('x'), ordered by kind, relation (ord: position in the parameters),
 * index name and position. */
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

int wb_catinfo_reserve(wb_catinfo *ci, size_t n)
{
    ci->rels = calloc(n, sizeof(*ci->rels));
    if (!ci->rels)
        return WB_ENOMEM;
    ci->caprels = n;
    return 0;
}

wb_catinfo_rel *wb_catinfo_find_rel(const wb_catinfo *ci, int side,
                                    const char *schema, const char *table)
{
    for (size_t i = 0; i < ci->nrels; i++)
        if (ci->rels[i].side == side &&
            strcmp(ci->rels[i].t->schema, schema) == 0 &&
            strcmp(ci->rels[i].t->table, table) == 0)
            return &ci->rels[i];
    return NULL;
}

int wb_catinfo_add(wb_catinfo *ci, int side, const wb_config_table *t)
{
    if (wb_catinfo_find_rel(ci, side, t->schema, t->table))
        return 0;
    if (ci->nrels >= ci->caprels)
        return WB_ENOMEM;
    rel *r = &ci->rels[ci->nrels++];
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->side = side;
    r->in_pub = -1;
    return 0;
}

static const char *val(PGresult *res, int row, int f)
{
    return PQgetisnull(res, row, f) ? NULL : PQgetvalue(res, row, f);
}

/* Run the query for the n relations of order on conn[db]; its result is
 * ci->res[db]. */
static int query(wb_catinfo *ci, int db, rel *const *order, size_t n,
                 const char *pub, const char *mapping, wb_error *err)
{
    PGconn *conn = ci->conn[db];
    wb_strbuf schemas = {0}, tables = {0};
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = wb_pgarray_add(&schemas, order[i]->t->schema)) == 0)
            rc = wb_pgarray_add(&tables, order[i]->t->table);
    if (rc == 0)
        rc = wb_pgarray_finish(&schemas);
    if (rc == 0)
        rc = wb_pgarray_finish(&tables);
    if (rc) {
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
    } else {
        const char *params[3] = {schemas.data, tables.data, pub};
        PGresult *res =
            PQexecParams(conn, CATALOG_SQL, 3, NULL, params, NULL, NULL, 0);
        char what[300];
        snprintf(what, sizeof(what),
                 "could not read the catalog for mapping \"%s\"", mapping);
        rc =
            wb_conn_expect(conn, res, PGRES_TUPLES_OK, &ci->res[db], what, err);
    }
    wb_strbuf_free(&schemas);
    wb_strbuf_free(&tables);
    return rc;
}

/* First pass over the rows: how many columns, indexes and casts, and room
 * for them. */
static int size_rows(wb_catinfo *ci, int db, rel *const *order, size_t n,
                     wb_error *err)
{
    PGresult *res = ci->res[db];
    int rows = PQntuples(res);
    size_t nx = 0;

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
        order[i]->cols = calloc(order[i]->ncols + 1, sizeof(wb_catinfo_col));
        order[i]->idx = calloc(order[i]->nidx + 1, sizeof(wb_catinfo_idx));
        if (!order[i]->cols || !order[i]->idx)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
        order[i]->ncols = order[i]->nidx = 0;
    }
    ci->casts[db] = calloc(nx + 1, sizeof(wb_catinfo_cast));
    if (!ci->casts[db])
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    return 0;
}

/* One index key row: a new index at its first column. */
static int fill_index(rel *r, PGresult *res, int i, wb_error *err)
{
    if (atoi(PQgetvalue(res, i, K_SEQ)) == 1) {
        wb_catinfo_idx *x = &r->idx[r->nidx++];
        x->name = PQgetvalue(res, i, K_GROUP);
        x->flags = PQgetvalue(res, i, K_B);
        /* INDEX_MAX_KEYS is 32: enough for any index. */
        x->cols = calloc(33, sizeof(*x->cols));
        if (!x->cols)
            return wb_error_set(err, WB_ENOMEM, "out of memory");
    }
    if (r->nidx > 0 && r->idx[r->nidx - 1].ncols < 32) {
        wb_catinfo_idx *x = &r->idx[r->nidx - 1];
        x->cols[x->ncols++] = val(res, i, K_A);
    }
    return 0;
}

/* Second pass: fill in.  Rows come ordered by kind, relation, index and
 * position, so an index's columns are consecutive. */
static int fill_rows(wb_catinfo *ci, int db, rel *const *order, size_t n,
                     wb_error *err)
{
    PGresult *res = ci->res[db];
    int rows = PQntuples(res);

    for (int i = 0; i < rows; i++) {
        const char *k = PQgetvalue(res, i, K_KIND);
        int ord = atoi(PQgetvalue(res, i, K_ORD));
        rel *r = ord >= 1 && (size_t)ord <= n ? order[ord - 1] : NULL;
        if (*k == 'x') {
            wb_catinfo_cast *x = &ci->casts[db][ci->ncasts[db]++];
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
            wb_catinfo_col *cl = &r->cols[r->ncols++];
            cl->name = PQgetvalue(res, i, K_A);
            cl->type = PQgetvalue(res, i, K_B);
            cl->cat = PQgetvalue(res, i, K_C)[0];
            cl->oid = strtoul(PQgetvalue(res, i, K_D), NULL, 10);
            cl->typname = PQgetvalue(res, i, K_E);
        } else if (*k == 'i') {
            int rc = fill_index(r, res, i, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int wb_catinfo_load(wb_catinfo *ci, int db, unsigned sides,
                    const char *publication, const char *mapping, wb_error *err)
{
    rel **order = calloc(ci->nrels + 1, sizeof(*order));
    size_t n = 0;
    int rc;

    if (!order)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    for (size_t i = 0; i < ci->nrels; i++)
        if (sides & (1u << ci->rels[i].side))
            order[n++] = &ci->rels[i];
    /* Publication membership is a question about source tables. */
    rc = query(ci, db, order, n, (sides & (1u << SRC)) ? publication : NULL,
               mapping, err);
    if (rc == 0)
        rc = size_rows(ci, db, order, n, err);
    if (rc == 0)
        rc = fill_rows(ci, db, order, n, err);
    free(order);
    return rc;
}

void wb_catinfo_reset(wb_catinfo *ci)
{
    for (size_t i = 0; i < ci->nrels; i++) {
        for (size_t j = 0; j < ci->rels[i].nidx; j++)
            free(ci->rels[i].idx[j].cols);
        free(ci->rels[i].cols);
        free(ci->rels[i].idx);
    }
    free(ci->rels);
    ci->rels = NULL;
    ci->nrels = ci->caprels = 0;
    for (int s = 0; s < 2; s++) {
        PQclear(ci->res[s]);
        ci->res[s] = NULL;
        free(ci->casts[s]);
        ci->casts[s] = NULL;
        ci->ncasts[s] = 0;
    }
}

const wb_catinfo_col *wb_catinfo_find_col(const wb_catinfo_rel *r,
                                          const char *name)
{
    for (size_t i = 0; r && i < r->ncols; i++)
        if (strcmp(r->cols[i].name, name) == 0)
            return &r->cols[i];
    return NULL;
}

/* A relation that exists and is usable: its problems are reported once,
 * by the caller's check of the relation; columns of an unusable one are
 * not checked. */
bool wb_catinfo_usable(const wb_catinfo_rel *r)
{
    return r && r->exists &&
           (r->relkind == 'r' || r->relkind == 'p' ||
            (r->side == TGT &&
             (r->relkind == 'v' || r->relkind == 'm' || r->relkind == 'f')));
}

wb_catinfo_type wb_catinfo_col_type(const wb_catinfo_col *cl, int side)
{
    wb_catinfo_type v = {true, side, cl->oid, cl->typname, cl->type, cl->cat};
    return v;
}

wb_catinfo_type wb_catinfo_builtin(unsigned long oid, const char *name,
                                   char cat)
{
    wb_catinfo_type v = {true, -1, oid, name, name, cat};
    return v;
}

bool wb_catinfo_convertible(const wb_catinfo *ci, wb_catinfo_type v,
                            const wb_catinfo_col *to, int side)
{
    bool oids_comparable = v.side == -1 || v.side == side || ci->same_db;
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
    int db = ci->same_db ? 0 : side;
    for (size_t i = 0; i < ci->ncasts[db]; i++) {
        const wb_catinfo_cast *x = &ci->casts[db][i];
        if (x->target == to->oid &&
            (oids_comparable ? x->source == v.oid
                             : strcmp(x->source_name, v.name) == 0))
            return true;
    }
    return false;
}
