/*
 * router.c - the built-in declarative mapping: source change -> target ops.
 *
 * Pure code: it reads the change and the configuration and writes only into
 * the arena it is given, so every rule below is unit-tested without a
 * server (tests/unit/test_router.c).
 *
 * Why the rules are what they are:
 * - insert becomes an upsert on the target key: after a crash between the
 *   target commit and the slot feedback nothing is re-sent (progress is in
 *   the target transaction), but a target row may already exist for other
 *   reasons (it was created by another writer, or the mapping was added
 *   later), and converging beats failing.
 * - update matches on the OLD key so that a key change moves the target
 *   row instead of creating a second one.  The old key is only trusted from
 *   columns the source actually sent in its old tuple: a 'K' tuple carries
 *   replica-identity columns and sends every other column as 'n', which must
 *   not be mistaken for a NULL key.
 * - unchanged TOAST values ('u') are left out of the SET list (or taken from
 *   a full old tuple), never written as NULL.
 */
#include <stdlib.h>
#include <string.h>

#include "walbridge/log.h"
#include "walbridge/mapping.h"

typedef struct route_mapping {
    const wb_config_mapping *m;
} route_mapping;

struct wb_router {
    const wb_config *cfg;
    size_t nmaps;
    route_mapping *maps; /* enabled mappings only */
};

wb_router *wb_router_create(const wb_config *cfg, wb_error *err)
{
    wb_router *r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    r->cfg = cfg;
    r->maps = calloc(cfg->nmappings ? cfg->nmappings : 1, sizeof(*r->maps));
    if (!r->maps)
        goto oom;
    for (size_t i = 0; i < cfg->nmappings; i++)
        if (cfg->mappings[i].enabled)
            r->maps[r->nmaps++].m = &cfg->mappings[i];
    return r;
oom:
    free(r);
    wb_error_set(err, WB_ENOMEM, "out of memory creating the router");
    return NULL;
}

void wb_router_destroy(wb_router *r)
{
    if (!r)
        return;
    free(r->maps);
    free(r);
}

static bool same_rel(const wb_config_table *t, const char *nsp,
                     const char *rel)
{
    return strcmp(t->schema, nsp) == 0 && strcmp(t->table, rel) == 0;
}

bool wb_router_is_mapped(wb_router *r, const char *nspname,
                         const char *relname)
{
    for (size_t i = 0; i < r->nmaps; i++)
        if (same_rel(&r->maps[i].m->from, nspname, relname))
            return true;
    return false;
}

static int find_col(const wb_pgoutput_relation *rel, const char *name)
{
    for (int i = 0; i < rel->natts; i++)
        if (strcmp(rel->atts[i].name, name) == 0)
            return i;
    return -1;
}

static int data_error(wb_error *err, const wb_change *c, const char *column,
                      const char *fmt, const char *a, const char *b)
{
    wb_error_set(err, WB_EDATA, fmt, a, b);
    wb_error_relation(err, c->rel->nspname, c->rel->relname);
    if (column)
        wb_error_column(err, column);
    wb_error_lsn(err, c->lsn);
    return WB_EDATA;
}

/* Resolve every mapped source column against the relation as sent. */
static int resolve(const wb_config_mapping *m, const wb_change *c, int *keyidx,
                   int *colidx, wb_error *err)
{
    for (size_t i = 0; i < m->nkeys; i++) {
        keyidx[i] = find_col(c->rel, m->keys[i].from);
        if (keyidx[i] < 0)
            return data_error(err, c, m->keys[i].from,
                              "key column \"%s\" of mapping \"%s\" is not "
                              "published for the source relation",
                              m->keys[i].from, m->name);
    }
    for (size_t i = 0; i < m->ncolumns; i++) {
        colidx[i] = find_col(c->rel, m->columns[i].from);
        if (colidx[i] < 0)
            return data_error(err, c, m->columns[i].from,
                              "column \"%s\" of mapping \"%s\" is not "
                              "published for the source relation",
                              m->columns[i].from, m->name);
    }
    return 0;
}

static const wb_tuple_value *tuple_col(const wb_tuple *t, int idx)
{
    if (!t || idx < 0 || idx >= t->ncols)
        return NULL;
    return &t->cols[idx];
}

/*
 * The value the old tuple really carries for idx, or NULL when the old
 * tuple does not tell (absent, or a 'K' tuple and a non-identity column).
 */
static const wb_tuple_value *old_col(const wb_change *c, int idx)
{
    const wb_tuple_value *v = tuple_col(c->oldtup, idx);
    if (!v || v->kind == WB_TUPLE_UNCHANGED)
        return NULL;
    if (c->oldkind == 'K' &&
        !(c->rel->atts[idx].flags & WB_PGO_COLUMN_KEY))
        return NULL;
    return v;
}

/* Key value as text; NULL, unchanged or binary values are data errors. */
static int key_text(const wb_change *c, const wb_config_mapping *m,
                    size_t k, const wb_tuple_value *v, const char **out,
                    wb_error *err)
{
    const char *col = m->keys[k].from;
    if (!v)
        return data_error(err, c, col,
                          "key column \"%s\" of mapping \"%s\" is not in the "
                          "old tuple sent by the source",
                          col, m->name);
    if (v->kind == WB_TUPLE_NULL)
        return data_error(err, c, col,
                          "null value in key column \"%s\" of mapping \"%s\"",
                          col, m->name);
    if (v->kind != WB_TUPLE_TEXT)
        return data_error(err, c, col,
                          "key column \"%s\" of mapping \"%s\" has no value "
                          "in the change",
                          col, m->name);
    *out = v->data;
    return 0;
}

static int value_text(const wb_change *c, const wb_config_mapping *m,
                      const char *col, const wb_tuple_value *v,
                      const char **out, bool *present, wb_error *err)
{
    *present = true;
    switch (v->kind) {
    case WB_TUPLE_NULL:
        *out = NULL;
        return 0;
    case WB_TUPLE_TEXT:
        *out = v->data;
        return 0;
    case WB_TUPLE_UNCHANGED:
        *present = false;
        return 0;
    default:
        return data_error(err, c, col,
                          "column \"%s\" of mapping \"%s\" arrived in binary "
                          "format, which is not supported",
                          col, m->name);
    }
}

static int route_one(const wb_config_mapping *m, const wb_change *c,
                     wb_arena *arena, wb_target_op *op, bool *emit,
                     wb_error *err)
{
    int keyidx[m->nkeys ? m->nkeys : 1];
    int colidx[m->ncolumns ? m->ncolumns : 1];
    int rc;

    *emit = false;
    memset(op, 0, sizeof(*op));
    op->mapping = m->name;
    op->schema = m->to.schema;
    op->table = m->to.table;

    if (c->kind == WB_CHANGE_TRUNCATE) {
        if (m->on_truncate == WB_ON_TRUNCATE_TRUNCATE) {
            op->kind = WB_OP_TRUNCATE;
            *emit = true;
        } else {
            wb_log(WB_LOG_WARNING,
                   "ignoring truncate of \"%s.%s\" for mapping \"%s\" "
                   "(on_truncate: ignore)",
                   c->rel->nspname, c->rel->relname, m->name);
        }
        return 0;
    }
    if (c->kind == WB_CHANGE_DELETE && m->on_delete == WB_ON_DELETE_IGNORE)
        return 0;

    if ((rc = resolve(m, c, keyidx, colidx, err)) != 0)
        return rc;

    op->keys = wb_arena_alloc(arena, sizeof(wb_op_value) * (m->nkeys + 1));
    op->set = wb_arena_alloc(arena, sizeof(wb_op_value) *
                                        (m->nkeys + m->ncolumns + 1));
    if (!op->keys || !op->set)
        return wb_error_set(err, WB_ENOMEM, "out of memory routing a change");

    switch (c->kind) {
    case WB_CHANGE_INSERT:
        op->kind = WB_OP_UPSERT;
        for (size_t k = 0; k < m->nkeys; k++) {
            const char *v;
            rc = key_text(c, m, k, tuple_col(c->newtup, keyidx[k]), &v, err);
            if (rc)
                return rc;
            op->keys[op->nkeys++] = (wb_op_value){m->keys[k].to, v};
        }
        break;
    case WB_CHANGE_UPDATE:
        op->kind = WB_OP_UPDATE;
        op->insert_if_missing = true;
        for (size_t k = 0; k < m->nkeys; k++) {
            const wb_tuple_value *nv = tuple_col(c->newtup, keyidx[k]);
            const wb_tuple_value *ov = old_col(c, keyidx[k]);
            const char *newv, *oldv;
            /* An unchanged (TOASTed) key keeps its old value. */
            if (nv && nv->kind == WB_TUPLE_UNCHANGED)
                nv = ov;
            if ((rc = key_text(c, m, k, nv, &newv, err)) != 0)
                return rc;
            oldv = newv;
            if (ov && (rc = key_text(c, m, k, ov, &oldv, err)) != 0)
                return rc;
            op->keys[op->nkeys++] = (wb_op_value){m->keys[k].to, oldv};
            op->set[op->nset++] = (wb_op_value){m->keys[k].to, newv};
        }
        break;
    case WB_CHANGE_DELETE:
        op->kind = WB_OP_DELETE;
        for (size_t k = 0; k < m->nkeys; k++) {
            const char *v;
            rc = key_text(c, m, k, old_col(c, keyidx[k]), &v, err);
            if (rc) {
                wb_error_hint(err, "Use key columns covered by the source "
                                   "table's replica identity, or set REPLICA "
                                   "IDENTITY FULL on it.");
                return rc;
            }
            op->keys[op->nkeys++] = (wb_op_value){m->keys[k].to, v};
        }
        *emit = true;
        return 0;
    default:
        return wb_error_set(err, WB_EINVAL, "unknown change kind %d",
                            (int)c->kind);
    }

    for (size_t i = 0; i < m->ncolumns; i++) {
        const wb_tuple_value *v = tuple_col(c->newtup, colidx[i]);
        const char *text;
        bool present;
        if (!v)
            return data_error(err, c, m->columns[i].from,
                              "column \"%s\" of mapping \"%s\" is missing "
                              "from the new tuple",
                              m->columns[i].from, m->name);
        if (v->kind == WB_TUPLE_UNCHANGED && c->oldkind == 'O') {
            const wb_tuple_value *ov = old_col(c, colidx[i]);
            if (ov)
                v = ov; /* REPLICA IDENTITY FULL: the old row has it */
        }
        rc = value_text(c, m, m->columns[i].from, v, &text, &present, err);
        if (rc)
            return rc;
        if (!present) {
            /* Left out of SET: the target keeps its value. */
            op->insert_if_missing = false;
            continue;
        }
        op->set[op->nset++] = (wb_op_value){m->columns[i].to, text};
    }
    *emit = true;
    return 0;
}

int wb_router_route(wb_router *r, const wb_change *change, wb_arena *arena,
                    wb_target_op **ops, size_t *nops, wb_error *err)
{
    size_t n = 0;
    wb_target_op *out = NULL;

    *ops = NULL;
    *nops = 0;
    for (size_t i = 0; i < r->nmaps; i++) {
        const wb_config_mapping *m = r->maps[i].m;
        bool emit;
        int rc;
        if (!same_rel(&m->from, change->rel->nspname, change->rel->relname))
            continue;
        if (!out) {
            out = wb_arena_alloc(arena, sizeof(*out) * (r->nmaps - i));
            if (!out)
                return wb_error_set(err, WB_ENOMEM,
                                    "out of memory routing a change");
        }
        if ((rc = route_one(m, change, arena, &out[n], &emit, err)) != 0)
            return rc;
        if (emit)
            n++;
    }
    *ops = out;
    *nops = n;
    return 0;
}
