/*
 * map/builtin.c - the built-in declarative mapping, as a plugin.
 *
 * It is registered through the same struct wb_plugin as external plugins
 * (plugin.h), gets its wb_config_mapping through wb_plugin_init.builtin and
 * emits through host->emit, so the ABI is exercised by every change
 * walbridge applies.
 *
 * Why the rules are what they are:
 * - insert becomes an upsert on the target key: after a crash between the
 *   target commit and the slot feedback nothing is re-sent (progress is in
 *   the target transaction), but a target row may already exist for other
 *   reasons (it was created by another writer, or the mapping was added
 *   later), and converging beats failing.
 * - update matches on the OLD key so that a key change moves the target
 *   row instead of creating a second one.  The old key is only trusted from
 *   columns the source actually sent in its old tuple (ABSENT otherwise).
 * - unchanged TOAST values are left out of the SET list (or taken from a
 *   full old row), never written as NULL; an expression that reads one is
 *   left out the same way.
 * - filters: an insert that does not pass writes nothing; an update whose
 *   new row does not pass means the row left the filter (or never was in
 *   it), so on_filter_out (by default on_delete) is applied to the target
 *   row by key, which is idempotent when there was no such row.  Only the
 *   new row is needed, so DEFAULT replica identity suffices.
 *
 * Column positions are resolved once per relation version (a new Relation
 * message), not per change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/builtin.h"
#include "map/expr.h"
#include "map/router.h"

typedef struct plan {
    uint32_t relid;
    uint64_t version; /* 0: none yet */
    int *keyidx;      /* nkeys */
    int *colidx;      /* ncolumns */
    int *refidx;      /* nrefs */
    uint32_t *reftypes;
} plan;

typedef struct state {
    const wb_config_mapping *m;
    plan plan;
    wb_plugin_lookup *lookups; /* nvalues; used where the value is a lookup
                                  or a date cast (worked out on the target) */
} state;

static void builtin_fini(void *p)
{
    state *st = p;
    if (!st)
        return;
    free(st->plan.keyidx);
    free(st->plan.colidx);
    free(st->plan.refidx);
    free(st->plan.reftypes);
    free(st->lookups);
    free(st);
}

static int builtin_init(wb_plugin_init *args, void **out)
{
    const wb_config_mapping *m = args->builtin;
    state *st;
    size_t nk, nc, nr;

    if (!m) {
        snprintf(args->errbuf, args->errbuf_size,
                 "the built-in mapping needs its configuration");
        return -1;
    }
    nk = m->nkeys ? m->nkeys : 1;
    nc = m->ncolumns ? m->ncolumns : 1;
    nr = m->nrefs ? m->nrefs : 1;
    st = calloc(1, sizeof(*st));
    if (!st)
        goto oom;
    st->m = m;
    st->plan.keyidx = calloc(nk, sizeof(int));
    st->plan.colidx = calloc(nc, sizeof(int));
    st->plan.refidx = calloc(nr, sizeof(int));
    st->plan.reftypes = calloc(nr, sizeof(uint32_t));
    st->lookups = calloc(m->nvalues ? m->nvalues : 1, sizeof(*st->lookups));
    if (!st->plan.keyidx || !st->plan.colidx || !st->plan.refidx ||
        !st->plan.reftypes || !st->lookups)
        goto oom;
    for (size_t i = 0; i < m->nvalues; i++) {
        const wb_expr *e = m->values[i].expr;
        if (e->kind == WB_EXPR_LOOKUP) {
            st->lookups[i].schema = e->lookup.schema;
            st->lookups[i].table = e->lookup.table;
            st->lookups[i].match = e->lookup.match;
            st->lookups[i].column = e->lookup.column;
        } else if (e->kind == WB_EXPR_CAST && e->cast_to == WB_CAST_DATE) {
            /* Only ever the whole expression (the configuration
             * refuses a date cast anywhere else): its value is the
             * text to cast, which the target casts. */
            st->lookups[i].cast = "date";
        }
    }
    *out = st;
    return 0;
oom:
    builtin_fini(st);
    snprintf(args->errbuf, args->errbuf_size, "out of memory");
    return -1;
}

/* l when the target works the value out (a lookup or a date cast). */
static const wb_plugin_lookup *on_target(const wb_plugin_lookup *l)
{
    return l->table || l->cast ? l : NULL;
}

static int find_col(const wb_plugin_change *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    return -1;
}

/* Resolve every source column the mapping reads, for this relation version. */
static int make_plan(state *st, const wb_plugin_change *c,
                     const wb_plugin_host *host, void *ctx)
{
    const wb_config_mapping *m = st->m;
    plan *p = &st->plan;

    if (p->version == c->rel_version && p->relid == c->relid)
        return 0;
    p->version = 0;
    for (size_t i = 0; i < m->nkeys; i++)
        if ((p->keyidx[i] = find_col(c, m->keys[i].from)) < 0)
            return host->error(ctx, m->keys[i].from,
                               "key column \"%s\" of mapping \"%s\" is not "
                               "published for the source relation",
                               m->keys[i].from, m->name);
    for (size_t i = 0; i < m->ncolumns; i++)
        if ((p->colidx[i] = find_col(c, m->columns[i].from)) < 0)
            return host->error(ctx, m->columns[i].from,
                               "column \"%s\" of mapping \"%s\" is not "
                               "published for the source relation",
                               m->columns[i].from, m->name);
    for (size_t i = 0; i < m->nrefs; i++) {
        if ((p->refidx[i] = find_col(c, m->refs[i])) < 0)
            return host->error(ctx, m->refs[i],
                               "column \"%s\" read by mapping \"%s\" is not "
                               "published for the source relation",
                               m->refs[i], m->name);
        p->reftypes[i] = c->type_oids[p->refidx[i]];
    }
    p->relid = c->relid;
    p->version = c->rel_version;
    return 0;
}

static bool is_value(const wb_plugin_value *v)
{
    return v &&
           (v->kind == WB_PLUGIN_VALUE_NULL || v->kind == WB_PLUGIN_VALUE_TEXT);
}

/* The value of column idx as the row now is: the new value, or the full old
 * row's when the new one is an unchanged TOAST value. */
static const wb_plugin_value *current(const wb_plugin_change *c, int idx)
{
    const wb_plugin_value *v = &c->newv[idx];
    if (v->kind == WB_PLUGIN_VALUE_UNCHANGED && c->oldv &&
        is_value(&c->oldv[idx]))
        return &c->oldv[idx];
    return v;
}

/* The old value the source really sent for idx, or NULL. */
static const wb_plugin_value *old_of(const wb_plugin_change *c, int idx)
{
    return c->oldv && is_value(&c->oldv[idx]) ? &c->oldv[idx] : NULL;
}

/* Key value as text; NULL, unchanged or absent values are data errors. */
static int key_text(const state *st, size_t k, const wb_plugin_value *v,
                    bool from_old, const char **out, const wb_plugin_host *host,
                    void *ctx)
{
    const char *col = st->m->keys[k].from;
    if (!v || v->kind == WB_PLUGIN_VALUE_ABSENT) {
        if (from_old)
            return host->error(ctx, col,
                               "key column \"%s\" of mapping \"%s\" is not "
                               "in the old tuple sent by the source",
                               col, st->m->name);
        return host->error(ctx, col,
                           "key column \"%s\" of mapping \"%s\" has no value "
                           "in the change",
                           col, st->m->name);
    }
    if (v->kind == WB_PLUGIN_VALUE_NULL)
        return host->error(ctx, col,
                           "null value in key column \"%s\" of mapping \"%s\"",
                           col, st->m->name);
    if (v->kind != WB_PLUGIN_VALUE_TEXT)
        return host->error(ctx, col,
                           "key column \"%s\" of mapping \"%s\" has no value "
                           "in the change",
                           col, st->m->name);
    *out = v->text;
    return 0;
}

/* The target key of the row as it was (old key when sent, else new). */
static int old_key(const state *st, const wb_plugin_change *c,
                   wb_plugin_col *keys, bool delete_hint,
                   const wb_plugin_host *host, void *ctx)
{
    const wb_config_mapping *m = st->m;
    for (size_t k = 0; k < m->nkeys; k++) {
        int idx = st->plan.keyidx[k];
        const wb_plugin_value *v = old_of(c, idx);
        bool from_old = c->op == 'D';
        if (!v && !from_old)
            v = current(c, idx);
        keys[k].column = m->keys[k].to;
        keys[k].lookup = NULL;
        if (key_text(st, k, v, from_old, &keys[k].value, host, ctx) != 0) {
            if (delete_hint)
                host->hint(ctx, "Use key columns covered by the source "
                                "table's replica identity, or set REPLICA "
                                "IDENTITY FULL on it.");
            return -1;
        }
    }
    return 0;
}

/* Delete, ignore or soft-delete the target row with keys. */
static int remove_row(const state *st, const wb_config_delete *how,
                      wb_plugin_col *keys, const wb_plugin_host *host,
                      void *ctx)
{
    const wb_config_mapping *m = st->m;
    wb_plugin_op op;

    if (how->action == WB_ON_DELETE_IGNORE)
        return 0;
    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.schema = m->to.schema;
    op.table = m->to.table;
    op.nkeys = m->nkeys;
    op.keys = keys;
    if (how->action == WB_ON_DELETE_DELETE) {
        op.kind = WB_PLUGIN_DELETE;
        return host->emit(ctx, &op);
    }
    wb_plugin_col *set = host->alloc(ctx, how->nsoft * sizeof(*set));
    if (!set)
        return host->error(ctx, NULL, "out of memory routing a change");
    for (size_t i = 0; i < how->nsoft; i++) {
        set[i].column = how->soft[i].to;
        set[i].value = how->soft[i].expr->name;
        set[i].lookup = NULL;
    }
    op.kind = WB_PLUGIN_UPDATE;
    op.nset = how->nsoft;
    op.set = set;
    op.flags = m->skip_unchanged ? WB_PLUGIN_OP_SKIP_UNCHANGED : 0;
    return host->emit(ctx, &op);
}

/* One change on its way through the mapping: what the steps of
 * builtin_map share. */
typedef struct build {
    const state *st;
    const wb_config_mapping *m;
    const wb_plugin_change *c;
    const wb_plugin_host *host;
    void *ctx;
    wb_plugin_col *keys, *set;
    size_t nset;
    bool complete;        /* every mapped column known: may insert */
    wb_plugin_col *oldc;  /* conflict: set's old values, or NULL */
    wb_eval_row row, old; /* what values and filter read (old: oldc only) */
} build;

/* A row for the evaluator: vals by the mapping's column references. */
static wb_eval_row eval_row(const wb_plugin_value *const *vals,
                            const uint32_t *types)
{
    wb_eval_row row;
    row.values = vals;
    row.types = types;
    return row;
}

/* The row the values and the filter read: the row as it now is. */
static int read_new_row(build *b)
{
    const wb_config_mapping *m = b->m;
    const plan *pl = &b->st->plan;
    const wb_plugin_value **vals = NULL;

    if (m->nrefs) {
        vals = b->host->alloc(b->ctx, m->nrefs * sizeof(*vals));
        if (!vals)
            return b->host->error(b->ctx, NULL,
                                  "out of memory routing a change");
        for (size_t i = 0; i < m->nrefs; i++)
            vals[i] = current(b->c, pl->refidx[i]);
    }
    b->row = eval_row(vals, pl->reftypes);
    return 0;
}

/*
 * With a conflict policy, an update's old values, to tell a target column
 * someone else changed from one this change moves on (NULL column: not
 * known): b->oldc gets room for them and b->old the old row, unless the
 * old row was outside the filter, and so has no mapped old state on the
 * target to compare with.
 */
static int read_old_row(build *b)
{
    static const wb_plugin_value absent = {WB_PLUGIN_VALUE_ABSENT, NULL};
    const wb_config_mapping *m = b->m;
    const plan *pl = &b->st->plan;
    const wb_plugin_value **vals;

    if (m->conflict.resolve == WB_CONFLICT_NONE || b->c->op != 'U' ||
        !b->c->oldv)
        return 0;
    b->oldc = b->host->alloc(b->ctx, (m->nkeys + m->ncolumns + m->nvalues + 1) *
                                         sizeof(*b->oldc));
    vals = b->host->alloc(b->ctx, (m->nrefs + 1) * sizeof(*vals));
    if (!b->oldc || !vals)
        return b->host->error(b->ctx, NULL, "out of memory routing a change");
    for (size_t i = 0; i < m->nrefs; i++) {
        const wb_plugin_value *ov = old_of(b->c, pl->refidx[i]);
        vals[i] = ov ? ov : &absent;
    }
    b->old = eval_row(vals, pl->reftypes);
    if (m->filter) {
        wb_error e;
        const char *column = NULL;
        int result = 0;
        wb_error_clear(&e);
        if (wb_filter_eval(m->filter, &b->old, &result, &column, &e) != 0 ||
            result != WB_FILTER_TRUE)
            b->oldc = NULL;
    }
    return 0;
}

/*
 * The filter against the new row.  *done when the change ends here: an
 * insert that does not pass writes nothing, an update whose row left the
 * filter gets on_filter_out; the result is then the change's.
 */
static int filter_new_row(build *b, bool *done)
{
    const wb_config_mapping *m = b->m;
    wb_error e;
    const char *column = NULL;
    int result;

    *done = false;
    if (!m->filter)
        return 0;
    wb_error_clear(&e);
    *done = true;
    if (wb_filter_eval(m->filter, &b->row, &result, &column, &e) != 0)
        return b->host->error(b->ctx, e.column[0] ? e.column : NULL, "%s",
                              e.message);
    if (result == WB_FILTER_CANNOT)
        return b->host->error(b->ctx, column,
                              "filter of mapping \"%s\" reads column \"%s\", "
                              "whose value the source did not send",
                              m->name, column);
    if (result == WB_FILTER_TRUE) {
        *done = false;
        return 0;
    }
    /* Nothing to do needs no key: the row may be outside the filter just
     * because its key is NULL (a record created by another writer, such
     * as Salesforce through Heroku Connect). */
    if (b->c->op == 'I' || m->on_filter_out.action == WB_ON_DELETE_IGNORE)
        return 0;
    if (old_key(b->st, b->c, b->keys, false, b->host, b->ctx) != 0)
        return -1;
    return remove_row(b->st, &m->on_filter_out, b->keys, b->host, b->ctx);
}

/* An insert's key: the new row's. */
static int insert_keys(build *b)
{
    const wb_config_mapping *m = b->m;
    for (size_t k = 0; k < m->nkeys; k++) {
        b->keys[k].column = m->keys[k].to;
        b->keys[k].lookup = NULL;
        if (key_text(b->st, k, &b->c->newv[b->st->plan.keyidx[k]], false,
                     &b->keys[k].value, b->host, b->ctx) != 0)
            return -1;
    }
    return 0;
}

/* An update matches the old key and sets the new one, first in set. */
static int update_keys(build *b)
{
    const wb_config_mapping *m = b->m;
    for (size_t k = 0; k < m->nkeys; k++) {
        int idx = b->st->plan.keyidx[k];
        const wb_plugin_value *nv = current(b->c, idx);
        const wb_plugin_value *ov = old_of(b->c, idx);
        const char *newv, *oldv;
        if (key_text(b->st, k, nv, false, &newv, b->host, b->ctx) != 0)
            return -1;
        oldv = newv;
        if (ov && key_text(b->st, k, ov, true, &oldv, b->host, b->ctx) != 0)
            return -1;
        b->keys[k] = (wb_plugin_col){m->keys[k].to, oldv, NULL};
        if (b->oldc)
            b->oldc[b->nset] =
                (wb_plugin_col){ov ? m->keys[k].to : NULL, oldv, NULL};
        b->set[b->nset++] = (wb_plugin_col){m->keys[k].to, newv, NULL};
    }
    return 0;
}

/* columns: copied as they are; a value the source did not send is left
 * out of SET (the target keeps it). */
static void add_columns(build *b)
{
    const wb_config_mapping *m = b->m;
    for (size_t i = 0; i < m->ncolumns; i++) {
        int idx = b->st->plan.colidx[i];
        const wb_plugin_value *v = current(b->c, idx);
        if (!is_value(v)) {
            b->complete = false;
            continue;
        }
        if (b->oldc) {
            const wb_plugin_value *ov = old_of(b->c, idx);
            b->oldc[b->nset] = (wb_plugin_col){ov ? m->columns[i].to : NULL,
                                               ov ? ov->text : NULL, NULL};
        }
        b->set[b->nset++] = (wb_plugin_col){m->columns[i].to, v->text, NULL};
    }
}

/* values: each expression over the row (a lookup's value is its match
 * value; the target resolves it). */
static int add_values(build *b)
{
    const wb_config_mapping *m = b->m;
    wb_eval_mem mem = {b->host->alloc, b->ctx};

    for (size_t i = 0; i < m->nvalues; i++) {
        const wb_expr *e = m->values[i].expr;
        const wb_plugin_lookup *on = on_target(&b->st->lookups[i]);
        wb_plugin_value v;
        wb_error err;
        wb_error_clear(&err);
        int rc = wb_expr_eval(e, &b->row, &mem, &v, &err);
        if (rc == WB_ENOMEM)
            return b->host->error(b->ctx, NULL,
                                  "out of memory routing a change");
        if (rc != 0)
            return b->host->error(b->ctx, err.column[0] ? err.column : NULL,
                                  "%s in value of \"%s\" of mapping \"%s\"",
                                  err.message, m->values[i].to, m->name);
        if (!is_value(&v)) {
            b->complete = false;
            continue;
        }
        if (b->oldc) {
            /* The old row through the same expression; any failure (a
             * value the source did not send, one that does not convert)
             * only makes the old value unknown. */
            wb_plugin_value ov;
            wb_error oerr;
            wb_error_clear(&oerr);
            if (wb_expr_eval(e, &b->old, &mem, &ov, &oerr) == 0 &&
                is_value(&ov))
                b->oldc[b->nset] =
                    (wb_plugin_col){m->values[i].to, ov.text, NULL};
            else
                b->oldc[b->nset] = (wb_plugin_col){NULL, NULL, NULL};
            b->oldc[b->nset].lookup = on;
        }
        b->set[b->nset++] = (wb_plugin_col){m->values[i].to, v.text, on};
    }
    return 0;
}

static int builtin_map(void *p, const wb_plugin_change *c,
                       const wb_plugin_host *host, void *ctx)
{
    state *st = p;
    const wb_config_mapping *m = st->m;
    build b = {.st = st, .m = m, .c = c, .host = host, .ctx = ctx};
    wb_plugin_op op;
    bool done;
    int rc;

    if (make_plan(st, c, host, ctx) != 0)
        return -1;
    b.keys = host->alloc(ctx, (m->nkeys + 1) * sizeof(*b.keys));
    b.set = host->alloc(ctx, (m->nkeys + m->ncolumns + m->nvalues + 1) *
                                 sizeof(*b.set));
    if (!b.keys || !b.set)
        return host->error(ctx, NULL, "out of memory routing a change");
    if (c->op == 'D') {
        if (m->on_delete.action == WB_ON_DELETE_IGNORE)
            return 0;
        if (old_key(st, c, b.keys, true, host, ctx) != 0)
            return -1;
        return remove_row(st, &m->on_delete, b.keys, host, ctx);
    }
    if (read_new_row(&b) != 0 || read_old_row(&b) != 0)
        return -1;
    rc = filter_new_row(&b, &done);
    if (done)
        return rc;

    b.complete = true;
    rc = c->op == 'I' ? insert_keys(&b) : update_keys(&b);
    if (rc != 0)
        return -1;
    add_columns(&b);
    if (add_values(&b) != 0)
        return -1;
    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.kind = c->op == 'I' ? WB_PLUGIN_UPSERT : WB_PLUGIN_UPDATE;
    op.schema = m->to.schema;
    op.table = m->to.table;
    op.nkeys = m->nkeys;
    op.keys = b.keys;
    op.nset = b.nset;
    op.set = b.set;
    op.old = op.kind == WB_PLUGIN_UPDATE ? b.oldc : NULL;
    if (m->skip_unchanged)
        op.flags |= WB_PLUGIN_OP_SKIP_UNCHANGED;
    if (op.kind == WB_PLUGIN_UPDATE && b.complete)
        op.flags |= WB_PLUGIN_OP_INSERT_IF_MISSING;
    if (op.kind == WB_PLUGIN_UPDATE && b.nset == 0)
        return 0;
    return host->emit(ctx, &op);
}

static const wb_plugin builtin = {
    .abi_version = WB_PLUGIN_ABI_VERSION,
    .size = sizeof(wb_plugin),
    .name = "builtin",
    .version = WB_VERSION,
    .init = builtin_init,
    .map = builtin_map,
    .fini = builtin_fini,
};

const wb_plugin *wb_builtin_plugin(void)
{
    return &builtin;
}
