/*
 * compare_sql.c - the text of `walbridge compare`'s statements (compare.h):
 * the stage the projection is copied into, the join of the projection
 * with the target that keeps the differences, and the delete of confirmed
 * extra rows.  Pure: no connection, unit-tested (tests/unit/test_compare.c).
 * Identifiers are always quoted; types come from the target's catalog
 * (format_type), as the applier's statements use them (sqlgen.c).
 */
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "compare.h"
#include "map/router.h"

static const char *const kind_names[WB_COMPARE_NKINDS] = {"missing", "extra",
                                                          "different"};

const char *wb_compare_kind_name(wb_compare_kind k)
{
    return (unsigned)k < WB_COMPARE_NKINDS ? kind_names[k] : "?";
}

/* ------------------------------------------------------ statement text */

int wb_compare_sql_stage(wb_strbuf *b, const char *stage, size_t ncols)
{
    wb_strbuf_add(b, "CREATE TEMPORARY TABLE ");
    wb_strbuf_append_ident(b, stage);
    wb_strbuf_add(b, " (");
    for (size_t i = 0; i < ncols; i++)
        wb_strbuf_append_fmt(b, "%sc%zu pg_catalog.text", i ? ", " : "", i + 1);
    wb_strbuf_add(b, ")");
    return b->err;
}

/* Types whose values have no equality operator: compared as text (the
 * applier's skip_unchanged knows them by OID: apply/sqlgen.h). */
static bool no_equality(const char *type)
{
    static const char *const t[] = {"json",   "xml",   "point",
                                    "json[]", "xml[]", "point[]"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(type, t[i]) == 0)
            return true;
    return false;
}

/* The projected value of column i, typed as the target column: a cast of
 * the stage's text, or the applier's lookup or target-side cast. */
static void projected(wb_strbuf *b, const wb_compare_shape *s, size_t i)
{
    const wb_compare_col *c = &s->cols[i];
    const wb_plugin_lookup *l = c->lookup;
    if (s->from_table) {
        /* The source column's text, read by the target column's input:
         * what the stream's text value does. */
        wb_strbuf_add(b, "CAST((s.");
        wb_strbuf_append_ident(b, c->src);
        wb_strbuf_append_fmt(b, ")::pg_catalog.text AS %s)", c->type);
    } else if (!l) {
        wb_strbuf_append_fmt(b, "CAST(s.c%zu AS %s)", i + 1, c->type);
    } else if (l->cast) {
        /* As sqlgen.c: the cast's own input, then the column's. */
        wb_strbuf_append_fmt(b, "CAST(CAST(CAST(s.c%zu AS pg_catalog.", i + 1);
        wb_strbuf_add(b, l->cast);
        wb_strbuf_append_fmt(b, ") AS pg_catalog.text) AS %s)", c->type);
    } else {
        wb_strbuf_add(b, "(SELECT ");
        wb_strbuf_append_ident(b, l->column);
        wb_strbuf_add(b, " FROM ");
        wb_strbuf_append_rel(b, l->schema, l->table);
        wb_strbuf_add(b, " WHERE ");
        wb_strbuf_append_ident(b, l->match);
        wb_strbuf_append_fmt(b, " = CAST(s.c%zu AS %s))", i + 1,
                             c->match_type ? c->match_type : "pg_catalog.text");
    }
}

/* p.pN or t.tN, as text when the type has no equality. */
static void side(wb_strbuf *b, const wb_compare_shape *s, char alias, size_t i)
{
    bool text = no_equality(s->cols[i].type);
    wb_strbuf_append_fmt(b, "%s%c.%c%zu%s", text ? "(" : "", alias, alias,
                         i + 1, text ? ")::pg_catalog.text" : "");
}

static size_t key_count(const wb_compare_shape *s)
{
    size_t n = 0;
    while (n < s->ncols && s->cols[n].key)
        n++;
    return n;
}

/* Column i of a bucket query's row: the source's, cast as the join casts
 * it (alias s), or the target's own. */
static void bucket_value(wb_strbuf *b, const wb_compare_shape *s, bool source,
                         size_t i)
{
    if (source)
        projected(b, s, i);
    else
        wb_strbuf_append_ident(b, s->cols[i].name);
}

/* The bucket of a row (see wb_compare_sql_buckets). */
static void bucket_of(wb_strbuf *b, const wb_compare_shape *s, bool source,
                      size_t nkeys, unsigned nbuckets)
{
    wb_strbuf_add(b, s->pg_hash
                         ? "(pg_catalog.hashtext(ROW("
                         : "(('x' || pg_catalog.left(pg_catalog.md5(ROW(");
    for (size_t i = 0; i < nkeys; i++) {
        wb_strbuf_add(b, i ? ", " : "");
        bucket_value(b, s, source, i);
    }
    wb_strbuf_append_fmt(b,
                         s->pg_hash ? ")::pg_catalog.text) & %u)"
                                    : ")::pg_catalog.text), 8))::pg_catalog."
                                      "bit(32)::pg_catalog.int4 & %u)",
                         nbuckets - 1);
}

int wb_compare_sql_buckets(wb_strbuf *b, const wb_compare_shape *s, bool source,
                           unsigned nbuckets)
{
    size_t nkeys = key_count(s);
    if (nkeys == 0 || nbuckets == 0 || (nbuckets & (nbuckets - 1)) ||
        (source && !s->from_table))
        return WB_EINVAL;
    wb_strbuf_add(b, "SELECT wb_bucket, pg_catalog.count(*), "
                     "pg_catalog.bit_xor(wb_hash) FROM (SELECT ");
    bucket_of(b, s, source, nkeys, nbuckets);
    wb_strbuf_add(b, s->pg_hash ? " AS wb_bucket, pg_catalog.hashtextextended("
                                  "ROW("
                                : " AS wb_bucket, ('x' || pg_catalog.left("
                                  "pg_catalog.md5(ROW(");
    bool any = false;
    for (size_t i = 0; i < s->ncols; i++) {
        if (!s->cols[i].key && !s->cols[i].compared)
            continue;
        wb_strbuf_add(b, any ? ", " : "");
        bucket_value(b, s, source, i);
        any = true;
    }
    wb_strbuf_add(b, s->pg_hash ? ")::pg_catalog.text, 0) AS wb_hash FROM ONLY "
                                : ")::pg_catalog.text), 16))::pg_catalog."
                                  "bit(64)::pg_catalog.int8 AS wb_hash FROM "
                                  "ONLY ");
    if (source) {
        wb_strbuf_append_rel(b, s->from_schema, s->from_table);
        wb_strbuf_add(b, " s");
    } else {
        wb_strbuf_append_rel(b, s->schema, s->table);
        for (size_t i = 0; i < nkeys; i++) {
            wb_strbuf_add(b, i ? " AND " : " WHERE ");
            wb_strbuf_append_ident(b, s->cols[i].name);
            wb_strbuf_add(b, " IS NOT NULL");
        }
    }
    wb_strbuf_add(b, ") x GROUP BY wb_bucket ORDER BY wb_bucket");
    return b->err;
}

int wb_compare_sql_bucket_rows(wb_strbuf *b, const wb_compare_shape *s,
                               const char *buckets, unsigned nbuckets)
{
    size_t nkeys = key_count(s);
    if (nkeys == 0 || !s->from_table || nbuckets == 0 ||
        (nbuckets & (nbuckets - 1)))
        return WB_EINVAL;
    wb_strbuf_add(b, "COPY (SELECT ");
    for (size_t i = 0; i < s->ncols; i++) {
        wb_strbuf_add(b, i ? ", (s." : "(s.");
        wb_strbuf_append_ident(b, s->cols[i].src);
        wb_strbuf_add(b, ")::pg_catalog.text");
    }
    wb_strbuf_add(b, " FROM ONLY ");
    wb_strbuf_append_rel(b, s->from_schema, s->from_table);
    wb_strbuf_add(b, " s WHERE ");
    bucket_of(b, s, true, nkeys, nbuckets);
    wb_strbuf_add(b, " = ANY (CAST(");
    wb_strbuf_append_literal(b, buckets);
    wb_strbuf_add(b, " AS pg_catalog.int4[]))) TO STDOUT");
    return b->err;
}

/* (SELECT k1, ..., kn FROM pg_temp.<recheck>) */
static void recheck_keys(wb_strbuf *b, const wb_compare_shape *s, size_t nkeys)
{
    wb_strbuf_add(b, "(SELECT ");
    for (size_t i = 0; i < nkeys; i++)
        wb_strbuf_append_fmt(b, "%sk%zu", i ? ", " : "", i + 1);
    wb_strbuf_add(b, " FROM ");
    wb_strbuf_append_rel(b, "pg_temp", s->recheck);
    wb_strbuf_add(b, ")");
}

int wb_compare_sql_diff(wb_strbuf *b, const wb_compare_shape *s,
                        const char *stage, const char *diff)
{
    size_t nkeys = key_count(s);
    wb_strbuf label = {0};
    if (nkeys == 0 || (s->buckets && s->from_table))
        return WB_EINVAL;

    wb_strbuf_add(b, "CREATE TEMPORARY TABLE ");
    wb_strbuf_append_ident(b, diff);
    wb_strbuf_add(b, " AS SELECT CASE WHEN t.wb_row IS NULL THEN 'missing' "
                     "WHEN p.wb_row IS NULL THEN 'extra' ELSE 'different' "
                     "END AS kind, ");
    /* The key as PostgreSQL's own messages show one: (a, b)=(1, x). */
    wb_strbuf_add(&label, "(");
    for (size_t i = 0; i < nkeys; i++) {
        wb_strbuf_add(&label, i ? ", " : "");
        wb_strbuf_add(&label, s->cols[i].name);
    }
    wb_strbuf_add(&label, ")=(");
    if (label.err) {
        wb_strbuf_free(&label);
        return label.err;
    }
    wb_strbuf_append_literal(b, label.data);
    wb_strbuf_free(&label);
    wb_strbuf_add(b, " || pg_catalog.concat_ws(', '");
    for (size_t i = 0; i < nkeys; i++)
        wb_strbuf_append_fmt(b, ", COALESCE(p.p%zu, t.t%zu)::pg_catalog.text",
                             i + 1, i + 1);
    wb_strbuf_add(b, ") || ')' AS key, CASE WHEN p.wb_row AND t.wb_row THEN "
                     "pg_catalog.concat_ws(', '");
    for (size_t i = nkeys; i < s->ncols; i++) {
        if (!s->cols[i].compared)
            continue;
        wb_strbuf_add(b, ", CASE WHEN ");
        side(b, s, 'p', i);
        wb_strbuf_add(b, " IS DISTINCT FROM ");
        side(b, s, 't', i);
        wb_strbuf_add(b, " THEN ");
        wb_strbuf_append_literal(b, s->cols[i].name);
        wb_strbuf_add(b, " END");
    }
    /* What the source row projects to, for the re-check (built for the
     * rows that differ only: a whole-row value per scanned row would
     * cost a third of the join). */
    wb_strbuf_add(b, ") ELSE '' END AS columns, CASE WHEN p.wb_row THEN ROW(");
    for (size_t i = 0; i < s->ncols; i++)
        wb_strbuf_append_fmt(b, "%sp.p%zu", i ? ", " : "", i + 1);
    wb_strbuf_add(b, ")::pg_catalog.text END AS wb_src, t.wb_xmin");
    for (size_t i = 0; i < nkeys; i++)
        wb_strbuf_append_fmt(b, ", COALESCE(p.p%zu, t.t%zu) AS k%zu", i + 1,
                             i + 1, i + 1);

    /* The projection, typed. */
    wb_strbuf_add(b, " FROM (SELECT true AS wb_row");
    for (size_t i = 0; i < s->ncols; i++) {
        wb_strbuf_add(b, ", ");
        projected(b, s, i);
        wb_strbuf_append_fmt(b, " AS p%zu", i + 1);
    }
    if (s->from_table) {
        wb_strbuf_add(b, " FROM ONLY ");
        wb_strbuf_append_rel(b, s->from_schema, s->from_table);
    } else {
        wb_strbuf_add(b, " FROM ");
        wb_strbuf_append_rel(b, "pg_temp", stage);
    }
    wb_strbuf_add(b, " s");
    if (s->recheck) {
        wb_strbuf_add(b, " WHERE (");
        for (size_t i = 0; i < nkeys; i++) {
            wb_strbuf_add(b, i ? ", " : "");
            projected(b, s, i);
        }
        wb_strbuf_add(b, ") IN ");
        recheck_keys(b, s, nkeys);
    }
    wb_strbuf_add(b, ") p");

    /* The target: rows with a whole key (another writer's rows without
     * one are nobody's projection). */
    wb_strbuf_add(b, s->extras ? " FULL JOIN" : " LEFT JOIN");
    wb_strbuf_add(b, " (SELECT true AS wb_row, xmin::pg_catalog.text AS "
                     "wb_xmin");
    for (size_t i = 0; i < s->ncols; i++) {
        wb_strbuf_add(b, ", ");
        wb_strbuf_append_ident(b, s->cols[i].name);
        wb_strbuf_append_fmt(b, " AS t%zu", i + 1);
    }
    wb_strbuf_add(b, " FROM ONLY ");
    wb_strbuf_append_rel(b, s->schema, s->table);
    for (size_t i = 0; i < nkeys; i++) {
        wb_strbuf_add(b, i ? " AND " : " WHERE ");
        wb_strbuf_append_ident(b, s->cols[i].name);
        wb_strbuf_add(b, " IS NOT NULL");
    }
    if (s->recheck) {
        wb_strbuf_add(b, " AND (");
        for (size_t i = 0; i < nkeys; i++) {
            wb_strbuf_add(b, i ? ", " : "");
            wb_strbuf_append_ident(b, s->cols[i].name);
        }
        wb_strbuf_add(b, ") IN ");
        recheck_keys(b, s, nkeys);
    }
    if (s->buckets) {
        wb_strbuf_add(b, " AND ");
        bucket_of(b, s, false, nkeys, s->nbuckets);
        wb_strbuf_add(b, " = ANY (CAST(");
        wb_strbuf_append_literal(b, s->buckets);
        wb_strbuf_add(b, " AS pg_catalog.int4[]))");
    }
    wb_strbuf_add(b, ") t ON ");
    for (size_t i = 0; i < nkeys; i++)
        wb_strbuf_append_fmt(b, "%sp.p%zu = t.t%zu", i ? " AND " : "", i + 1,
                             i + 1);

    wb_strbuf_add(b, " WHERE p.wb_row IS NULL OR t.wb_row IS NULL");
    bool any = false;
    for (size_t i = nkeys; i < s->ncols; i++) {
        if (!s->cols[i].compared)
            continue;
        wb_strbuf_add(b, any ? ", " : " OR ROW(");
        side(b, s, 'p', i);
        any = true;
    }
    if (any) {
        wb_strbuf_add(b, ") IS DISTINCT FROM ROW(");
        any = false;
        for (size_t i = nkeys; i < s->ncols; i++) {
            if (!s->cols[i].compared)
                continue;
            wb_strbuf_add(b, any ? ", " : "");
            side(b, s, 't', i);
            any = true;
        }
        wb_strbuf_add(b, ")");
    }
    return b->err;
}

int wb_compare_sql_delete(wb_strbuf *b, const char *schema, const char *table,
                          const char *const *keys, size_t nkeys)
{
    if (nkeys == 0)
        return WB_EINVAL;
    wb_strbuf_add(b, "DELETE FROM ONLY ");
    wb_strbuf_append_rel(b, schema, table);
    wb_strbuf_add(b, " t USING pg_temp.wb_compare_d2 d WHERE d.kind = 'extra' "
                     "AND EXISTS (SELECT 1 FROM pg_temp.wb_compare_d1 o WHERE "
                     "o.kind = d.kind AND o.key = d.key AND o.wb_xmin = "
                     "d.wb_xmin) AND t.xmin::pg_catalog.text = d.wb_xmin");
    for (size_t i = 0; i < nkeys; i++) {
        wb_strbuf_add(b, " AND t.");
        wb_strbuf_append_ident(b, keys[i]);
        wb_strbuf_append_fmt(b, " = d.k%zu", i + 1);
    }
    return b->err;
}
