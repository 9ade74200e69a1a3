/*
 * apply/link.c - SQL for pending key links (see apply/link.h for the why).
 *
 * Text in pending_link is matched against typed columns through
 * jsonb_populate_record(NULL::<table>, ...): the column's own type does the
 * conversion, so no type name is spliced into SQL and the comparison
 * stays indexable (the converted value is computed once per pending row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/link.h"
#include "common/error.h"

static void add(wb_strbuf *b, const char *s)
{
    wb_strbuf_add(b, s);
}
static void ident(wb_strbuf *b, const char *s)
{
    wb_strbuf_append_ident(b, s);
}
static void lit(wb_strbuf *b, const char *s)
{
    wb_strbuf_append_literal(b, s);
}

static void rel(wb_strbuf *b, const char *schema, const char *table)
{
    wb_strbuf_append_rel(b, schema, table);
}

/* (jsonb_populate_record(NULL::schema.table,
 *                        jsonb_build_object('col', <text>))).col */
static void typed(wb_strbuf *b, const char *schema, const char *table,
                  const char *col, const char *text_sql)
{
    add(b, "(jsonb_populate_record(NULL::");
    rel(b, schema, table);
    add(b, ", jsonb_build_object(");
    lit(b, col);
    add(b, ", ");
    add(b, text_sql);
    add(b, "))).");
    ident(b, col);
}

/* The parent is there and linked: EXISTS (... match = <text> AND col IS
 * NOT NULL). */
static void resolvable(wb_strbuf *b, const wb_link *l, const char *text_sql,
                       bool typed_param)
{
    const wb_expr *e = l->e;
    add(b, "EXISTS (SELECT 1 FROM ");
    rel(b, e->lookup.schema, e->lookup.table);
    add(b, " l WHERE l.");
    ident(b, e->lookup.match);
    add(b, " = ");
    if (typed_param)
        add(b, text_sql);
    else
        typed(b, e->lookup.schema, e->lookup.table, e->lookup.match, text_sql);
    add(b, " AND l.");
    ident(b, e->lookup.column);
    add(b, " IS NOT NULL)");
}

/* The pending rows of this link's target column. */
static void which(wb_strbuf *b, const wb_link *l, const char *alias)
{
    add(b, alias);
    add(b, "target_schema = ");
    lit(b, l->m->to.schema);
    add(b, " AND ");
    add(b, alias);
    add(b, "target_table = ");
    lit(b, l->m->to.table);
    add(b, " AND ");
    add(b, alias);
    add(b, "target_column = ");
    lit(b, l->column);
}

int wb_link_collect(const wb_config *cfg, wb_link **out, size_t *n)
{
    size_t k = 0;
    *out = NULL;
    *n = 0;
    for (int pass = 0; pass < 2; pass++) {
        k = 0;
        for (size_t i = 0; i < cfg->nmappings; i++) {
            const wb_config_mapping *m = &cfg->mappings[i];
            if (!m->enabled || m->plugin.path)
                continue;
            for (size_t v = 0; v < m->nvalues; v++) {
                if (m->values[v].expr->kind != WB_EXPR_LOOKUP)
                    continue;
                if (pass == 1) {
                    memset(&(*out)[k], 0, sizeof((*out)[k]));
                    (*out)[k].m = m;
                    (*out)[k].e = m->values[v].expr;
                    (*out)[k].column = m->values[v].to;
                }
                k++;
            }
        }
        if (pass == 0) {
            if (k == 0)
                return 0;
            if (!(*out = calloc(k, sizeof(**out))))
                return WB_ENOMEM;
        }
    }
    *n = k;
    return 0;
}

int wb_link_create_sql(const char *pending_rel, wb_strbuf *b)
{
    return wb_strbuf_append_fmt(
        b,
        "CREATE TABLE IF NOT EXISTS %s ("
        "target_schema text NOT NULL, target_table text NOT NULL, "
        "target_column text NOT NULL, key_values text[] NOT NULL, "
        "mapping text NOT NULL, lookup_table text NOT NULL, "
        "match_value text NOT NULL, source_lsn pg_lsn NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (target_schema, target_table, target_column, "
        "key_values))",
        pending_rel);
}

int wb_link_note_sql(const char *pending_rel, const wb_link *l, wb_strbuf *b)
{
    char lt[512];
    const wb_expr *e = l->e;

    snprintf(lt, sizeof(lt), "%s.%s", e->lookup.schema, e->lookup.table);
    add(b, "WITH d AS (DELETE FROM ");
    add(b, pending_rel);
    add(b, " p WHERE ");
    which(b, l, "p.");
    add(b, " AND p.key_values = $1::text[] AND ($2::text IS NULL OR ");
    resolvable(b, l, "$4", true);
    add(b, ") RETURNING 1) INSERT INTO ");
    add(b, pending_rel);
    add(b, " (target_schema, target_table, target_column, key_values, "
           "mapping, lookup_table, match_value, source_lsn) SELECT ");
    lit(b, l->m->to.schema);
    add(b, ", ");
    lit(b, l->m->to.table);
    add(b, ", ");
    lit(b, l->column);
    add(b, ", $1::text[], ");
    lit(b, l->m->name);
    add(b, ", ");
    lit(b, lt);
    add(b, ", $2::text, $3::pg_lsn WHERE $2::text IS NOT NULL AND NOT ");
    resolvable(b, l, "$4", true);
    add(b, " ON CONFLICT (target_schema, target_table, target_column, "
           "key_values) DO UPDATE SET mapping = EXCLUDED.mapping, "
           "lookup_table = EXCLUDED.lookup_table, "
           "match_value = EXCLUDED.match_value, "
           "source_lsn = EXCLUDED.source_lsn");
    return b->err;
}

int wb_link_resolve_sql(const char *pending_rel, const wb_link *l, wb_strbuf *b)
{
    const wb_config_mapping *m = l->m;
    const wb_expr *e = l->e;

    add(b, "WITH r AS (DELETE FROM ");
    add(b, pending_rel);
    add(b, " p WHERE ");
    which(b, l, "p.");
    add(b, " AND ");
    resolvable(b, l, "p.match_value", false);
    add(b, " RETURNING p.key_values, p.match_value) UPDATE ");
    rel(b, m->to.schema, m->to.table);
    add(b, " AS t SET ");
    ident(b, l->column);
    add(b, " = (SELECT l.");
    ident(b, e->lookup.column);
    add(b, " FROM ");
    rel(b, e->lookup.schema, e->lookup.table);
    add(b, " l WHERE l.");
    ident(b, e->lookup.match);
    add(b, " = ");
    typed(b, e->lookup.schema, e->lookup.table, e->lookup.match,
          "r.match_value");
    add(b, ") FROM r WHERE ");
    for (size_t k = 0; k < m->nkeys; k++) {
        char elem[48];
        snprintf(elem, sizeof(elem), "r.key_values[%zu]", k + 1);
        if (k)
            add(b, " AND ");
        add(b, "t.");
        ident(b, m->keys[k].to);
        add(b, " = ");
        typed(b, m->to.schema, m->to.table, m->keys[k].to, elem);
    }
    /* Only a link still missing: a later write of the child wins. */
    add(b, " AND t.");
    ident(b, l->column);
    add(b, " IS NULL");
    return b->err;
}
