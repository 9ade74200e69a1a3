/*
 * apply/link.c - pending key links (see apply/link.h for the why): their
 * SQL, and noting and resolving them in the applier's batches.
 *
 * Text in pending_link is matched against typed columns through
 * jsonb_populate_record(NULL::<table>, ...): the column's own type does the
 * conversion, so no type name is spliced into SQL and the comparison
 * stays indexable (the converted value is computed once per pending row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply_int.h"
#include "apply/link.h"
#include "apply/sqlgen.h"
#include "common/log.h"
#include "common/pgarray.h"
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

/* ------------------------------------------------- in the applier */

void wb_apply_links_free(wb_apply_links *lk)
{
    free(lk->links);
    free(lk->pending_rel);
    lk->links = NULL;
    lk->pending_rel = NULL;
    lk->n = 0;
}

/*
 * Lookups are retried when they miss: collect them and make sure the
 * pending table exists.  Every link is due at start, so that the first
 * batch resolves what became resolvable while walbridge was down.
 */
int wb_apply_setup_links(wb_apply *a, wb_error *err)
{
    wb_apply_links *lk = &a->lk;
    wb_strbuf sql = {0};
    int rc;

    free(lk->links);
    lk->links = NULL;
    lk->n = 0;
    if (wb_link_collect(a->cfg, &lk->links, &lk->n) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (lk->n == 0)
        return 0;
    if (!lk->pending_rel &&
        (rc = wb_apply_own_table(a, WB_OWN_PENDING_LINK, "the pending links",
                                 &lk->pending_rel, err)) != 0)
        return rc;
    wb_link_create_sql(lk->pending_rel, &sql);
    if ((rc = wb_apply_exec_built(
             a, &sql, "could not create the pending link table", err)) != 0)
        return rc;
    for (size_t i = 0; i < lk->n; i++)
        lk->links[i].due = true;
    return 0;
}

int wb_apply_reconfigure_links(wb_apply *a, const wb_config *cfg, wb_error *err)
{
    wb_link *links = NULL;
    size_t n = 0;

    if (wb_link_collect(cfg, &links, &n) != 0)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (n && !a->lk.pending_rel) {
        free(links);
        wb_error_set(err, WB_ECONFIG,
                     "the reloaded configuration has lookups, but the pending "
                     "link table was not set up at start");
        wb_error_hint(err, "Restart walbridge to use the new lookups.");
        return WB_ECONFIG;
    }
    free(a->lk.links);
    a->lk.links = links;
    a->lk.n = n;
    for (size_t i = 0; i < n; i++)
        links[i].due = true;
    return 0;
}

typedef struct link_sql {
    const char *rel;
    const wb_link *l;
} link_sql;

static int build_note_sql(const void *arg, wb_strbuf *sql)
{
    const link_sql *ls = arg;
    return wb_link_note_sql(ls->rel, ls->l, sql);
}

static int build_resolve_sql(const void *arg, wb_strbuf *sql)
{
    const link_sql *ls = arg;
    return wb_link_resolve_sql(ls->rel, ls->l, sql);
}

/* The statement of link l (note or resolve), prepared on first use. */
static int link_stmt(wb_apply *a, const wb_link *l, bool resolve,
                     const char **name, wb_lsn lsn, wb_error *err)
{
    char key[512];
    link_sql ls = {a->lk.pending_rel, l};
    wb_pipe_item prep = wb_apply_prep_item(a, l->m->name, l->m->to.schema,
                                           l->m->to.table, lsn, false);
    wb_stmt_ctx ctx = {&prep, 0, NULL};
    snprintf(key, sizeof(key), "%c%u\x1f%s\x1f%s", resolve ? 'R' : 'N',
             a->cfg_gen, l->m->name, l->column);
    return wb_stmt_get(&a->stmts, &a->pipe, key,
                       resolve ? build_resolve_sql : build_note_sql, &ls, &ctx,
                       name, err);
}

static wb_link *find_link(wb_apply *a, const char *mapping, const char *column)
{
    for (size_t i = 0; i < a->lk.n; i++)
        if (strcmp(a->lk.links[i].m->name, mapping) == 0 &&
            strcmp(a->lk.links[i].column, column) == 0)
            return &a->lk.links[i];
    return NULL;
}

/* A pending link noted (or an older one forgotten). */
static int note_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_plain_done(it, res, err);
    a->pending.noted += strtoull(PQcmdTuples(res), NULL, 10);
    return 0;
}

/* Pending links resolved: the child rows filled. */
static int resolve_done(const wb_pipe_item *it, PGresult *res, wb_error *err)
{
    wb_apply *a = it->ctx;
    if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        return wb_apply_plain_done(it, res, err);
    uint64_t n = strtoull(PQcmdTuples(res), NULL, 10);
    a->pending.written += n;
    a->pending.linked += n;
    if (n)
        wb_log(WB_LOG_DEBUG, "linked %llu rows of \"%s.%s\" for mapping \"%s\"",
               (unsigned long long)n, it->schema, it->table, it->mapping);
    return 0;
}

/*
 * After a write with lookups: note each lookup's outcome (a miss becomes
 * a pending link, a hit forgets an older one), in the same transaction.
 */
int wb_apply_note_links(wb_apply *a, const wb_target_op *op, wb_lsn lsn,
                        wb_error *err)
{
    wb_strbuf keys = {0};
    char lsnbuf[WB_LSN_BUFLEN];
    int rc = 0;

    if (!a->lk.n || op->kind == WB_OP_DELETE)
        return 0;
    /* The child's key as it is after the write. */
    const wb_op_value *kv = op->kind == WB_OP_UPSERT ? op->keys : op->set;
    for (size_t k = 0; k < op->nkeys && rc == 0; k++)
        rc = wb_pgarray_add(&keys, kv[k].value);
    if (rc == 0)
        rc = wb_pgarray_finish(&keys);
    if (rc)
        goto out;
    wb_lsn_format(lsn, lsnbuf);
    wb_pipe_item it = {.done = note_done,
                       .ctx = a,
                       .mapping = op->mapping,
                       .schema = op->schema,
                       .table = op->table,
                       .lsn = lsn};
    for (size_t j = 0; j < op->nset && rc == 0; j++) {
        const char *name;
        wb_link *l;
        if (!op->set[j].lookup || !op->set[j].lookup->table ||
            !(l = find_link(a, op->mapping, op->set[j].column)))
            continue;
        if ((rc = link_stmt(a, l, false, &name, lsn, err)) != 0)
            break;
        const char *p[4] = {keys.data, op->set[j].value, lsnbuf,
                            op->set[j].value};
        rc = wb_pipe_send_prepared(&a->pipe, name, 4, p, &it, NULL, err);
    }
out:
    if (rc == WB_ENOMEM || rc == WB_ELIMIT)
        rc = wb_error_set(err, WB_ENOMEM, "out of memory");
    wb_strbuf_free(&keys);
    return rc;
}

int wb_apply_resolve_links(wb_apply *a, wb_error *err)
{
    for (size_t i = 0; i < a->lk.n; i++) {
        wb_link *l = &a->lk.links[i];
        const char *name;
        int rc;
        if (!l->due)
            continue;
        if ((rc = link_stmt(a, l, true, &name, a->batch.end, err)) != 0)
            return rc;
        wb_pipe_item it = wb_apply_item(a, resolve_done, l->m, a->batch.end);
        if ((rc = wb_pipe_send_prepared(
                 &a->pipe, name, 0, NULL, &it,
                 "could not send a statement to the target", err)) != 0)
            return rc;
        l->due = false;
    }
    return 0;
}

int wb_apply_lookup_changed(wb_apply *a, const char *schema, const char *table,
                            bool *due, wb_error *err)
{
    *due = false;
    for (size_t i = 0; i < a->lk.n; i++) {
        wb_link *l = &a->lk.links[i];
        if (strcmp(l->e->lookup.schema, schema) == 0 &&
            strcmp(l->e->lookup.table, table) == 0)
            l->due = *due = true;
    }
    return *due ? wb_apply_open_batch(a, err) : 0;
}
