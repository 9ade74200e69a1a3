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

#include "map/router.h"

#include "map/expr.h"
#include "map/loader.h"

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
            /* Only ever the whole expression (config.c): its value is the
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

static int builtin_map(void *p, const wb_plugin_change *c,
                       const wb_plugin_host *host, void *ctx)
{
    state *st = p;
    const wb_config_mapping *m = st->m;
    const plan *pl = &st->plan;
    wb_plugin_col *keys, *set;
    const wb_plugin_value **slots = NULL;
    wb_eval_row row;
    wb_plugin_op op;
    size_t nset = 0;
    bool complete = true;
    wb_plugin_col *oldc = NULL; /* conflict: set's old values */
    const wb_plugin_value **oslots = NULL;
    wb_eval_row orow;

    if (make_plan(st, c, host, ctx) != 0)
        return -1;
    keys = host->alloc(ctx, (m->nkeys + 1) * sizeof(*keys));
    set = host->alloc(ctx,
                      (m->nkeys + m->ncolumns + m->nvalues + 1) * sizeof(*set));
    if (!keys || !set)
        return host->error(ctx, NULL, "out of memory routing a change");

    if (c->op == 'D') {
        if (m->on_delete.action == WB_ON_DELETE_IGNORE)
            return 0;
        if (old_key(st, c, keys, true, host, ctx) != 0)
            return -1;
        return remove_row(st, &m->on_delete, keys, host, ctx);
    }

    /* The row the values and the filter read, by slot. */
    if (m->nrefs) {
        slots = host->alloc(ctx, m->nrefs * sizeof(*slots));
        if (!slots)
            return host->error(ctx, NULL, "out of memory routing a change");
        for (size_t i = 0; i < m->nrefs; i++)
            slots[i] = current(c, pl->refidx[i]);
    }
    row.slot = slots;
    row.types = pl->reftypes;
    if (m->conflict.resolve != WB_CONFLICT_NONE && c->op == 'U' && c->oldv) {
        /* Old values, to tell a target column someone else changed from
         * one this change moves on (NULL column: not known). */
        static const wb_plugin_value absent = {WB_PLUGIN_VALUE_ABSENT, NULL};
        oldc = host->alloc(ctx, (m->nkeys + m->ncolumns + m->nvalues + 1) *
                                    sizeof(*oldc));
        oslots = host->alloc(ctx, (m->nrefs + 1) * sizeof(*oslots));
        if (!oldc || !oslots)
            return host->error(ctx, NULL, "out of memory routing a change");
        for (size_t i = 0; i < m->nrefs; i++) {
            const wb_plugin_value *ov = old_of(c, pl->refidx[i]);
            oslots[i] = ov ? ov : &absent;
        }
        orow.slot = oslots;
        orow.types = pl->reftypes;
        if (m->filter) {
            /* A row that was outside the filter has no mapped old state on
             * the target to compare with. */
            wb_error e;
            const char *column = NULL;
            int result = 0;
            wb_error_clear(&e);
            if (wb_filter_eval(m->filter, &orow, &result, &column, &e) != 0 ||
                result != WB_FILTER_TRUE)
                oldc = NULL;
        }
    }

    if (m->filter) {
        wb_error e;
        const char *column = NULL;
        int result;
        wb_error_clear(&e);
        if (wb_filter_eval(m->filter, &row, &result, &column, &e) != 0)
            return host->error(ctx, e.column[0] ? e.column : NULL, "%s",
                               e.message);
        if (result == WB_FILTER_CANNOT)
            return host->error(ctx, column,
                               "filter of mapping \"%s\" reads column \"%s\", "
                               "whose value the source did not send",
                               m->name, column);
        if (result != WB_FILTER_TRUE) {
            /* Nothing to do needs no key: the row may be outside the filter
             * just because its key is NULL (a record created by another
             * writer, such as Salesforce through Heroku Connect). */
            if (c->op == 'I' || m->on_filter_out.action == WB_ON_DELETE_IGNORE)
                return 0;
            if (old_key(st, c, keys, false, host, ctx) != 0)
                return -1;
            return remove_row(st, &m->on_filter_out, keys, host, ctx);
        }
    }

    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.schema = m->to.schema;
    op.table = m->to.table;
    op.nkeys = m->nkeys;
    op.keys = keys;
    if (c->op == 'I') {
        op.kind = WB_PLUGIN_UPSERT;
        for (size_t k = 0; k < m->nkeys; k++) {
            keys[k].column = m->keys[k].to;
            keys[k].lookup = NULL;
            if (key_text(st, k, &c->newv[pl->keyidx[k]], false, &keys[k].value,
                         host, ctx) != 0)
                return -1;
        }
    } else {
        op.kind = WB_PLUGIN_UPDATE;
        for (size_t k = 0; k < m->nkeys; k++) {
            int idx = pl->keyidx[k];
            const wb_plugin_value *nv = current(c, idx);
            const wb_plugin_value *ov = old_of(c, idx);
            const char *newv, *oldv;
            if (key_text(st, k, nv, false, &newv, host, ctx) != 0)
                return -1;
            oldv = newv;
            if (ov && key_text(st, k, ov, true, &oldv, host, ctx) != 0)
                return -1;
            keys[k] = (wb_plugin_col){m->keys[k].to, oldv, NULL};
            if (oldc)
                oldc[nset] =
                    (wb_plugin_col){ov ? m->keys[k].to : NULL, oldv, NULL};
            set[nset++] = (wb_plugin_col){m->keys[k].to, newv, NULL};
        }
    }

    for (size_t i = 0; i < m->ncolumns; i++) {
        const wb_plugin_value *v = current(c, pl->colidx[i]);
        if (!is_value(v)) {
            complete = false; /* left out of SET: the target keeps it */
            continue;
        }
        if (oldc) {
            const wb_plugin_value *ov = old_of(c, pl->colidx[i]);
            oldc[nset] = (wb_plugin_col){ov ? m->columns[i].to : NULL,
                                         ov ? ov->text : NULL, NULL};
        }
        set[nset++] = (wb_plugin_col){m->columns[i].to, v->text, NULL};
    }
    for (size_t i = 0; i < m->nvalues; i++) {
        const wb_expr *e = m->values[i].expr;
        wb_plugin_value v;
        wb_error err;
        wb_error_clear(&err);
        /* A lookup's value is its match value; the target resolves it. */
        wb_eval_mem mem = {host->alloc, ctx};
        int rc = wb_expr_eval(e, &row, &mem, &v, &err);
        if (rc == WB_ENOMEM)
            return host->error(ctx, NULL, "out of memory routing a change");
        if (rc != 0)
            return host->error(ctx, err.column[0] ? err.column : NULL,
                               "%s in value of \"%s\" of mapping \"%s\"",
                               err.message, m->values[i].to, m->name);
        if (!is_value(&v)) {
            complete = false;
            continue;
        }
        if (oldc) {
            /* The old row through the same expression; any failure (a
             * value the source did not send, one that does not convert)
             * only makes the old value unknown. */
            wb_plugin_value ov;
            wb_error oerr;
            wb_error_clear(&oerr);
            if (wb_expr_eval(e, &orow, &mem, &ov, &oerr) == 0 && is_value(&ov))
                oldc[nset] = (wb_plugin_col){m->values[i].to, ov.text, NULL};
            else
                oldc[nset] = (wb_plugin_col){NULL, NULL, NULL};
            oldc[nset].lookup = on_target(&st->lookups[i]);
        }
        set[nset++] = (wb_plugin_col){m->values[i].to, v.text,
                                      on_target(&st->lookups[i])};
    }
    op.nset = nset;
    op.set = set;
    op.old = op.kind == WB_PLUGIN_UPDATE ? oldc : NULL;
    if (m->skip_unchanged)
        op.flags |= WB_PLUGIN_OP_SKIP_UNCHANGED;
    if (op.kind == WB_PLUGIN_UPDATE && complete)
        op.flags |= WB_PLUGIN_OP_INSERT_IF_MISSING;
    if (op.kind == WB_PLUGIN_UPDATE && nset == 0)
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
