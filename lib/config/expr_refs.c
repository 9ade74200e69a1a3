/*
 * config/expr_refs.c - number the source columns a mapping's expressions
 * read (wb_mapping_number_refs).
 *
 * Every column a mapping's values and filter name gets one index into
 * wb_config_mapping.refs, in first-use order, stored in the tree
 * (wb_expr.ref, wb_filter_operand.ref).  The built-in mapping resolves each
 * index to the relation's column position once per relation version, so a
 * change is evaluated without looking a name up.
 */
#include <string.h>

#include "config/expr_ast.h"

/* The mapping being numbered; cap is the room in m->refs. */
typedef struct refs {
    wb_config_mapping *m;
    size_t cap;
    wb_arena *arena;
} refs;

/* The index of column name, added at the end when new. */
static int ref_of(refs *r, const char *name, int *out)
{
    wb_config_mapping *m = r->m;
    for (size_t i = 0; i < m->nrefs; i++)
        if (strcmp(m->refs[i], name) == 0) {
            *out = (int)i;
            return 0;
        }
    if (m->nrefs == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        char **bigger = wb_arena_alloc(r->arena, cap * sizeof(*bigger));
        if (!bigger)
            return WB_ENOMEM;
        if (m->nrefs)
            memcpy(bigger, m->refs, m->nrefs * sizeof(*bigger));
        m->refs = bigger;
        r->cap = cap;
    }
    m->refs[m->nrefs] = (char *)name;
    *out = (int)m->nrefs++;
    return 0;
}

static int refs_expr(refs *r, wb_expr *e)
{
    int rc;
    if (!e)
        return 0;
    if (e->kind == WB_EXPR_COLUMN && (rc = ref_of(r, e->name, &e->ref)))
        return rc;
    for (size_t i = 0; i < e->nargs; i++)
        if ((rc = refs_expr(r, e->args[i])) != 0)
            return rc;
    return 0;
}

static int refs_operand(refs *r, wb_filter_operand *o)
{
    return o->is_column ? ref_of(r, o->text, &o->ref) : 0;
}

static int refs_filter(refs *r, wb_filter *f)
{
    int rc;
    if (!f)
        return 0;
    if ((rc = refs_filter(r, f->left)) || (rc = refs_filter(r, f->right)))
        return rc;
    if ((rc = refs_operand(r, &f->lhs)) || (rc = refs_operand(r, &f->rhs)))
        return rc;
    return 0;
}

int wb_mapping_number_refs(wb_config_mapping *m, wb_arena *arena)
{
    refs r = {m, 0, arena};
    int rc;
    m->nrefs = 0;
    m->refs = NULL;
    for (size_t i = 0; i < m->nvalues; i++)
        if ((rc = refs_expr(&r, m->values[i].expr)) != 0)
            return rc;
    if ((rc = refs_filter(&r, m->filter)) != 0)
        return rc;
    return 0;
}
