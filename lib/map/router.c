/*
 * map/router.c - the plugin host: source change -> mapping plugins -> target
 * ops.
 *
 * Every enabled mapping is an instance of a plugin: the built-in declarative
 * mapping (lib/map/builtin.c) or a shared object (lib/map/loader.c), both
 * behind the same struct wb_plugin.  The router turns the decoder's change into
 * the ABI's wb_plugin_change once per change (lib/map/change.c), calls each
 * instance whose "from" is the change's relation, and checks what comes back
 * (a target the mapping did not declare, an op without a key) before it
 * reaches the applier.
 *
 * Pure: no I/O; everything returned lives in the per-message arena given,
 * so the rules are unit-tested without a server (tests/unit/test_router.c,
 * tests/unit/test_plugin.c).
 *
 * Host-level rules, the same for every plugin:
 * - truncate is decided here from on_truncate, for each "to" table: plugins
 *   see row changes only;
 * - operations: (insert/update/delete) filters changes before the plugin;
 * - an unchanged TOAST value is passed as WB_PLUGIN_VALUE_UNCHANGED and a
 *   column a 'K' old tuple does not carry as WB_PLUGIN_VALUE_ABSENT, never
 *   as a NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bintext.h"
#include "common/log.h"

#include "map/builtin.h"
#include "map/change.h"
#include "map/loader.h"
#include "map/router.h"

typedef struct instance {
    const wb_config_mapping *m;
    const wb_plugin *p;
    void *state;
    wb_plugin_handle *h; /* NULL: built in */
    /* External plugins: the target column names they emitted, copied.  The
     * applier keeps the names of an operation past the message (a
     * set-based run collects operations of one shape from many messages),
     * but a plugin may allocate them in the per-message arena. */
    char **names;
    size_t nnames, capnames;
    /* Binary values (wb_router_set_binary): the source types of the
     * mapping's key and column sources, and the relation version last
     * found to have them. */
    bool bin;
    uint32_t *bin_types; /* nkeys then ncolumns */
    uint8_t *bin_text;   /* the same: 1 = write the value's text form */
    bool bin_any_text;
    bool bin_checked;
    uint32_t bin_relid;
    uint64_t bin_version;
} instance;

struct wb_router {
    const wb_config *cfg;
    size_t n;
    instance *inst; /* enabled mappings only, in file order */
    bool binary;    /* some instance's values come in binary format */
};

/* map()'s ctx: where emitted ops go and where an error is recorded. */
typedef struct emit_ctx {
    instance *in;
    const wb_change *c;
    wb_arena *arena;
    wb_target_op *ops;
    size_t nops, cap;
    wb_error *err;
    bool failed;
    const wb_plugin_change *pc; /* the change as map() got it */
} emit_ctx;

/* ------------------------------------------------------------------ */
/* host callbacks                                                      */
/* ------------------------------------------------------------------ */

/* init() has no ctx to pass (ABI 1): it gets args->host, and calls it
 * with ctx NULL.  log() then names the mapping whose init() runs; the
 * callbacks that only make sense in map() fail instead of crashing. */
static const char *init_mapping;

static void *host_alloc(void *ctx, size_t size)
{
    if (!ctx)
        return NULL;
    return wb_arena_alloc(((emit_ctx *)ctx)->arena, size ? size : 1);
}

static char *host_strdup(void *ctx, const char *s)
{
    if (!ctx || !s)
        return NULL;
    return wb_arena_strdup(((emit_ctx *)ctx)->arena, s);
}

static int record(emit_ctx *x, const char *column, const char *fmt, va_list ap)
{
    const wb_change *c = x->c;
    if (!x->failed) {
        wb_error_vset(x->err, WB_EDATA, fmt, ap);
        wb_error_relation(x->err, c->rel->nspname, c->rel->relname);
        if (column)
            wb_error_column(x->err, column);
        wb_error_lsn(x->err, c->lsn);
        if (x->in->h)
            wb_error_detail(x->err,
                            "Reported by plugin \"%s\" %s of mapping "
                            "\"%s\".",
                            x->in->p->name,
                            x->in->p->version ? x->in->p->version : "",
                            x->in->m->name);
        x->failed = true;
    }
    return -1;
}

static int host_error(void *ctx, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int host_error(void *ctx, const char *column, const char *fmt, ...)
{
    va_list ap;
    if (!ctx)
        return -1;
    va_start(ap, fmt);
    record(ctx, column, fmt, ap);
    va_end(ap);
    return -1;
}

static int emit_fail(emit_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int emit_fail(emit_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(x, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

static void host_log(void *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(void *ctx, int level, const char *fmt, ...)
{
    emit_ctx *x = ctx;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wb_log(level <= WB_PLUGIN_LOG_DEBUG  ? WB_LOG_DEBUG
           : level == WB_PLUGIN_LOG_INFO ? WB_LOG_INFO
                                         : WB_LOG_WARNING,
           "mapping \"%s\": %s",
           x              ? x->in->m->name
           : init_mapping ? init_mapping
                          : "",
           msg);
}

static void host_hint(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void host_hint(void *ctx, const char *fmt, ...)
{
    emit_ctx *x = ctx;
    char msg[256];
    va_list ap;
    if (!x)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wb_error_hint(x->err, "%s", msg);
}

static const wb_plugin_value *host_value(const wb_plugin_change *c,
                                         const wb_plugin_value *row,
                                         const char *name)
{
    if (!row)
        return NULL;
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return &row[i];
    return NULL;
}

static const wb_config_table *declared_target(const wb_config_mapping *m,
                                              const char *schema,
                                              const char *table)
{
    for (size_t i = 0; i < m->nto; i++)
        if (strcmp(m->tos[i].schema, schema) == 0 &&
            strcmp(m->tos[i].table, table) == 0)
            return &m->tos[i];
    return NULL;
}

/* The instance's copy of column name s (made on first use); NULL when out
 * of memory.  A plugin writes a handful of columns: a linear search. */
static const char *intern_name(instance *in, const char *s)
{
    char *copy;
    for (size_t i = 0; i < in->nnames; i++)
        if (strcmp(in->names[i], s) == 0)
            return in->names[i];
    if (in->nnames == in->capnames) {
        size_t cap = in->capnames ? 2 * in->capnames : 16;
        char **names = realloc(in->names, cap * sizeof(*names));
        if (!names)
            return NULL;
        in->names = names;
        in->capnames = cap;
    }
    if (!(copy = strdup(s)))
        return NULL;
    in->names[in->nnames++] = copy;
    return copy;
}

/* cols copied into the arena with interned column names. */
static wb_op_value *own_cols(emit_ctx *x, const wb_plugin_col *cols, size_t n)
{
    wb_op_value *v = wb_arena_alloc(x->arena, (n ? n : 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = cols[i];
        if (!(v[i].column = intern_name(x->in, cols[i].column)))
            return NULL;
    }
    return v;
}

static int grow_ops(emit_ctx *x)
{
    size_t cap = x->cap ? 2 * x->cap : 4;
    wb_target_op *ops = wb_arena_alloc(x->arena, cap * sizeof(*ops));
    if (!ops) {
        emit_fail(x, "out of memory routing a change");
        if (x->err)
            x->err->code = WB_ENOMEM;
        return -1;
    }
    if (x->nops)
        memcpy(ops, x->ops, x->nops * sizeof(*ops));
    x->ops = ops;
    x->cap = cap;
    return 0;
}

static int check_cols(emit_ctx *x, const wb_plugin_col *cols, size_t n,
                      bool *lookup)
{
    for (size_t i = 0; i < n; i++) {
        if (!cols[i].column || !cols[i].column[0])
            return emit_fail(x,
                             "mapping \"%s\" emitted an operation with "
                             "an unnamed column",
                             x->in->m->name);
        if (cols[i].lookup) {
            if (x->in->h)
                return emit_fail(x,
                                 "mapping \"%s\" emitted a lookup, which "
                                 "plugin ABI %d reserves for the "
                                 "built-in mapping",
                                 x->in->m->name, WB_PLUGIN_ABI_VERSION);
            /* A target-side cast needs no link and may go set-based. */
            if (cols[i].lookup->table)
                *lookup = true;
        }
    }
    return 0;
}

/*
 * What the applier needs to settle conflicts (mapping's conflict:): the
 * old values (built-in mapping only: conflict is refused for plugins by
 * the configuration), the source row's last_writer_wins column and where
 * the change comes from.
 */
static int set_conflict(emit_ctx *x, const wb_plugin_op *op, wb_target_op *t)
{
    const wb_config_conflict *cf = &x->in->m->conflict;
    t->conflict = cf;
    t->commit_time = x->c->commit_time;
    t->unordered = x->c->only != NULL;
    t->from_schema = x->in->m->from.schema;
    t->from_table = x->in->m->from.table;
    if (t->kind == WB_OP_UPDATE && WB_PLUGIN_HAS(op, old))
        t->old = op->old;
    if (cf->by_source && x->pc) {
        const wb_plugin_value *v =
            host_value(x->pc, x->pc->newv, cf->by_source);
        if (!v)
            return emit_fail(x,
                             "column \"%s\" of \"conflict\" in mapping "
                             "\"%s\" is not published for the source "
                             "relation",
                             cf->by_source, x->in->m->name);
        if (v->kind == WB_PLUGIN_VALUE_UNCHANGED && x->pc->oldv)
            v = host_value(x->pc, x->pc->oldv, cf->by_source);
        if (v->kind == WB_PLUGIN_VALUE_TEXT)
            t->stamp = v->text;
        else if (v->kind != WB_PLUGIN_VALUE_NULL)
            return emit_fail(x,
                             "column \"%s\" of \"conflict\" in mapping "
                             "\"%s\" has no value in the change",
                             cf->by_source, x->in->m->name);
    }
    return 0;
}

/* The source type of in's column written into target column col, when
 * it goes there in its text form (wb_router_set_binary), else 0. */
static uint32_t text_form(const instance *in, const char *col)
{
    const wb_config_mapping *m = in->m;
    for (size_t k = 0; k < m->nkeys + m->ncolumns; k++)
        if (in->bin_text[k] &&
            strcmp(k < m->nkeys ? m->keys[k].to : m->columns[k - m->nkeys].to,
                   col) == 0)
            return in->bin_types[k];
    return 0;
}

/* Give t's binary values that go into text columns their text form
 * (common/bintext.h), in copies of its arrays. */
static int to_text(emit_ctx *x, wb_target_op *t)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? t->nset : t->nkeys;
        wb_op_value *v = pass ? t->set : t->keys, *copy = NULL;
        for (size_t i = 0; i < n; i++) {
            uint32_t typ = v[i].value ? text_form(x->in, v[i].column) : 0;
            if (!typ)
                continue;
            if (!copy) {
                if (!(copy = wb_arena_alloc(x->arena, n * sizeof(*copy))))
                    return emit_fail(x, "out of memory routing a change");
                memcpy(copy, v, n * sizeof(*copy));
            }
            if (!(copy[i].value = wb_bintext(x->arena, typ, v[i].value)))
                return emit_fail(x,
                                 "column \"%s\" of mapping \"%s\" has no "
                                 "text form walbridge can write",
                                 v[i].column, x->in->m->name);
        }
        if (copy && pass)
            t->set = copy;
        else if (copy)
            t->keys = copy;
    }
    return 0;
}

static int host_emit(void *ctx, const wb_plugin_op *op)
{
    emit_ctx *x = ctx;
    const wb_config_mapping *m;
    const wb_config_table *to;
    wb_target_op *t;
    bool lookup = false;

    if (!x)
        return -1;
    m = x->in->m;
    if (!op || !WB_PLUGIN_HAS(op, flags))
        return emit_fail(x,
                         "mapping \"%s\" emitted an operation of unknown "
                         "size",
                         m->name);
    if (!op->schema || !op->table ||
        !(to = declared_target(m, op->schema, op->table)))
        return emit_fail(x,
                         "mapping \"%s\" wrote to \"%s.%s\", which is not "
                         "in its \"to\" list",
                         m->name, op->schema ? op->schema : "",
                         op->table ? op->table : "");
    if (op->kind < WB_PLUGIN_UPSERT || op->kind > WB_PLUGIN_DELETE)
        return emit_fail(x,
                         "mapping \"%s\" emitted an operation of unknown "
                         "kind %d",
                         m->name, (int)op->kind);
    if (op->nkeys == 0 || !op->keys)
        return emit_fail(x,
                         "mapping \"%s\" emitted an operation on "
                         "\"%s.%s\" without a key",
                         m->name, op->schema, op->table);
    if (op->kind != WB_PLUGIN_DELETE && op->nset && !op->set)
        return emit_fail(x,
                         "mapping \"%s\" emitted set columns without "
                         "values",
                         m->name);
    if (op->kind == WB_PLUGIN_UPDATE && op->nset == 0)
        return emit_fail(x,
                         "mapping \"%s\" emitted an update that sets no "
                         "column",
                         m->name);
    if (check_cols(x, op->keys, op->nkeys, &lookup) ||
        check_cols(x, op->set, op->kind == WB_PLUGIN_DELETE ? 0 : op->nset,
                   &lookup))
        return -1;
    if ((op->flags & WB_PLUGIN_OP_INSERT_IF_MISSING) &&
        op->kind == WB_PLUGIN_UPDATE) {
        bool ok = op->nset >= op->nkeys;
        for (size_t i = 0; ok && i < op->nkeys; i++)
            ok = strcmp(op->set[i].column, op->keys[i].column) == 0;
        if (!ok)
            return emit_fail(x,
                             "mapping \"%s\" emitted an insert-if-missing "
                             "update whose first set columns are not its "
                             "key",
                             m->name);
    }
    if (x->nops == x->cap && grow_ops(x) != 0)
        return -1;
    t = &x->ops[x->nops++];
    memset(t, 0, sizeof(*t));
    t->kind = op->kind == WB_PLUGIN_UPSERT   ? WB_OP_UPSERT
              : op->kind == WB_PLUGIN_UPDATE ? WB_OP_UPDATE
                                             : WB_OP_DELETE;
    t->mapping = m->name;
    /* Names that live as long as the router (see instance.names): the
     * configuration's for the table, copies for an external plugin's
     * columns.  The built-in mapping's are the configuration's already. */
    t->schema = to->schema;
    t->table = to->table;
    t->nkeys = op->nkeys;
    t->nset = op->kind == WB_PLUGIN_DELETE ? 0 : op->nset;
    if (x->in->h) {
        t->keys = own_cols(x, op->keys, op->nkeys);
        t->set = t->nset ? own_cols(x, op->set, t->nset) : NULL;
        if (!t->keys || (t->nset && !t->set)) {
            x->nops--;
            emit_fail(x, "out of memory routing a change");
            if (x->err)
                x->err->code = WB_ENOMEM;
            return -1;
        }
    } else {
        t->keys = (wb_op_value *)op->keys;
        t->set = (wb_op_value *)op->set;
    }
    t->insert_if_missing = op->kind == WB_PLUGIN_UPDATE &&
                           (op->flags & WB_PLUGIN_OP_INSERT_IF_MISSING);
    t->skip_unchanged = op->kind != WB_PLUGIN_DELETE &&
                        ((op->flags & WB_PLUGIN_OP_SKIP_UNCHANGED) ||
                         x->c->rewrite_only_changed);
    t->has_lookup = lookup;
    t->binary = x->in->bin;
    if (x->in->bin_any_text && to_text(x, t) != 0)
        return -1;
    if (m->conflict.resolve != WB_CONFLICT_NONE && t->kind != WB_OP_DELETE)
        return set_conflict(x, op, t);
    return 0;
}

static const wb_plugin_host host = {
    .abi_version = WB_PLUGIN_ABI_VERSION,
    .size = sizeof(wb_plugin_host),
    .alloc = host_alloc,
    .strdup = host_strdup,
    .emit = host_emit,
    .error = host_error,
    .log = host_log,
    .value = host_value,
    .hint = host_hint,
};

/* ------------------------------------------------------------------ */
/* instances                                                           */
/* ------------------------------------------------------------------ */

/* Forget what set_binary set: values are read as text again. */
static void forget_binary(instance *in)
{
    free(in->bin_types);
    free(in->bin_text);
    in->bin_types = NULL;
    in->bin_text = NULL;
    in->bin_any_text = false; /* else emit reads bin_text */
    in->bin = false;
}

static void fini_instance(instance *in)
{
    if (in->p && in->p->fini && in->state)
        in->p->fini(in->state);
    in->state = NULL;
    wb_plugin_unload(in->h);
    in->h = NULL;
    forget_binary(in);
    for (size_t i = 0; i < in->nnames; i++)
        free(in->names[i]);
    free(in->names);
    in->names = NULL;
    in->nnames = in->capnames = 0;
}

static int init_instance(const wb_config *cfg, const wb_config_mapping *m,
                         instance *in, wb_error *err)
{
    const char *schemas[64], *tables[64];
    char msg[400] = "";
    wb_plugin_init args;
    int rc;

    in->m = m;
    if (m->plugin.path) {
        if ((rc = wb_plugin_load(m, cfg->path, &in->h, err)) != 0)
            return rc;
        in->p = wb_plugin_get(in->h);
    } else {
        in->p = wb_builtin_plugin();
    }
    if (m->nto > 64)
        return wb_error_set(err, WB_ECONFIG,
                            "mapping \"%s\" lists more than 64 tables in "
                            "\"to\"",
                            m->name);
    for (size_t i = 0; i < m->nto; i++) {
        schemas[i] = m->tos[i].schema;
        tables[i] = m->tos[i].table;
    }
    memset(&args, 0, sizeof(args));
    args.size = sizeof(args);
    args.mapping = m->name;
    args.from_schema = m->from.schema;
    args.from_table = m->from.table;
    args.nto = m->nto;
    args.to_schemas = schemas;
    args.to_tables = tables;
    args.config = m->plugin.config;
    args.host = &host;
    args.builtin = m->plugin.path ? NULL : m;
    args.errbuf = msg;
    args.errbuf_size = sizeof(msg);
    init_mapping = m->name;
    rc = in->p->init(&args, &in->state);
    init_mapping = NULL;
    if (rc != 0) {
        const wb_plugin_node *at = args.errnode;
        wb_error_set(err, WB_ECONFIG, "%s",
                     msg[0] ? msg
                            : "plugin failed "
                              "to initialise");
        wb_error_detail(err, "Reported by plugin \"%s\" %s of mapping \"%s\".",
                        in->p->name, in->p->version ? in->p->version : "",
                        m->name);
        wb_error_position(err, cfg->path, at ? at->line : m->pos.line,
                          at ? at->col : m->pos.col);
        in->state = NULL;
        return WB_ECONFIG;
    }
    if (in->h)
        wb_log(WB_LOG_INFO, "mapping \"%s\" uses plugin \"%s\" %s", m->name,
               in->p->name, in->p->version ? in->p->version : "");
    return 0;
}

wb_router *wb_router_create(const wb_config *cfg, wb_error *err)
{
    wb_router *r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    r->cfg = cfg;
    r->inst = calloc(cfg->nmappings ? cfg->nmappings : 1, sizeof(*r->inst));
    if (!r->inst)
        goto oom;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        if (!cfg->mappings[i].enabled)
            continue;
        if (init_instance(cfg, &cfg->mappings[i], &r->inst[r->n], err) != 0) {
            fini_instance(&r->inst[r->n]);
            wb_router_destroy(r);
            return NULL;
        }
        r->n++;
    }
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
    for (size_t i = 0; i < r->n; i++)
        fini_instance(&r->inst[i]);
    free(r->inst);
    free(r);
}

void wb_router_set_text(wb_router *r)
{
    for (size_t i = 0; i < r->n; i++)
        forget_binary(&r->inst[i]);
    r->binary = false;
}

void wb_router_inherit_binary(wb_router *r, const wb_router *from)
{
    r->binary = from->binary;
}

int wb_router_set_binary(wb_router *r, const wb_config_mapping *m,
                         const uint32_t *types, const uint8_t *text)
{
    for (size_t i = 0; i < r->n; i++) {
        instance *in = &r->inst[i];
        if (in->m != m)
            continue;
        if (in->h)
            return WB_EINVAL; /* plugins get text (ABI 1) */
        size_t n = m->nkeys + m->ncolumns;
        uint32_t *t = malloc((n ? n : 1) * sizeof(*t));
        uint8_t *x = calloc(n ? n : 1, 1);
        if (!t || !x) {
            free(t);
            free(x);
            return WB_ENOMEM;
        }
        memcpy(t, types, n * sizeof(*t));
        if (text)
            memcpy(x, text, n);
        free(in->bin_types);
        free(in->bin_text);
        in->bin_types = t;
        in->bin_text = x;
        in->bin_any_text = false;
        for (size_t k = 0; k < n; k++)
            in->bin_any_text = in->bin_any_text || x[k];
        in->bin = true;
        in->bin_checked = false;
        r->binary = true;
        return 0;
    }
    return WB_EINVAL;
}

/* Does change's relation still give in's key and column sources the types
 * binary values were chosen for?  Checked once per relation version. */
static int check_binary(instance *in, const wb_change *c, wb_error *err)
{
    const wb_pgoutput_relation *rel = c->rel;
    if (!in->bin) {
        wb_error_set(err, WB_EFORMAT,
                     "mapping \"%s\" cannot read values in binary format",
                     in->m->name);
        wb_error_lsn(err, c->lsn);
        return WB_EFORMAT;
    }
    if (in->bin_checked && in->bin_relid == rel->relid &&
        in->bin_version == c->rel_version)
        return 0;
    const wb_config_mapping *m = in->m;
    for (size_t i = 0; i < m->nkeys + m->ncolumns; i++) {
        const char *col =
            i < m->nkeys ? m->keys[i].from : m->columns[i - m->nkeys].from;
        int a = 0;
        while (a < rel->natts && strcmp(rel->atts[a].name, col) != 0)
            a++;
        if (a < rel->natts && rel->atts[a].typoid == in->bin_types[i])
            continue;
        wb_error_set(err, WB_EFORMAT,
                     "column \"%s\" of relation \"%s.%s\" changed type "
                     "since binary values were chosen",
                     col, rel->nspname, rel->relname);
        wb_error_relation(err, rel->nspname, rel->relname);
        wb_error_column(err, col);
        wb_error_lsn(err, c->lsn);
        return WB_EFORMAT;
    }
    in->bin_checked = true;
    in->bin_relid = rel->relid;
    in->bin_version = c->rel_version;
    return 0;
}

static bool same_rel(const wb_config_table *t, const char *nsp, const char *rel)
{
    return strcmp(t->schema, nsp) == 0 && strcmp(t->table, rel) == 0;
}

bool wb_router_is_mapped(wb_router *r, const char *nspname, const char *relname)
{
    for (size_t i = 0; i < r->n; i++)
        if (same_rel(&r->inst[i].m->from, nspname, relname))
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* routing                                                             */
/* ------------------------------------------------------------------ */

static int route_truncate(const instance *in, const wb_change *c, emit_ctx *x)
{
    const wb_config_mapping *m = in->m;
    if (m->on_truncate != WB_ON_TRUNCATE_TRUNCATE) {
        wb_log(WB_LOG_WARNING,
               "ignoring truncate of \"%s.%s\" for mapping \"%s\" "
               "(on_truncate: ignore)",
               c->rel->nspname, c->rel->relname, m->name);
        return 0;
    }
    for (size_t i = 0; i < m->nto; i++) {
        wb_target_op *t;
        if (x->nops == x->cap && grow_ops(x) != 0)
            return WB_ENOMEM;
        t = &x->ops[x->nops++];
        memset(t, 0, sizeof(*t));
        t->kind = WB_OP_TRUNCATE;
        t->mapping = m->name;
        t->schema = m->tos[i].schema;
        t->table = m->tos[i].table;
    }
    return 0;
}

/* Is m one of the mappings a copied row goes to? */
static bool wanted(const wb_change *c, const wb_config_mapping *m)
{
    for (size_t i = 0; i < c->nonly; i++)
        if (c->only[i] == m)
            return true;
    return false;
}

static unsigned op_bit(wb_change_kind k)
{
    return k == WB_CHANGE_INSERT   ? WB_MAP_OP_INSERT
           : k == WB_CHANGE_UPDATE ? WB_MAP_OP_UPDATE
                                   : WB_MAP_OP_DELETE;
}

int wb_router_route(wb_router *r, const wb_change *change, wb_arena *arena,
                    wb_target_op **ops, size_t *nops, wb_error *err)
{
    emit_ctx x = {NULL, change, arena, NULL, 0, 0, err, false, NULL};
    wb_plugin_change pc;
    bool made = false;
    int rc;

    *ops = NULL;
    *nops = 0;
    for (size_t i = 0; i < r->n; i++) {
        instance *in = &r->inst[i];
        if (!same_rel(&in->m->from, change->rel->nspname, change->rel->relname))
            continue;
        if (change->only && !wanted(change, in->m))
            continue;
        x.in = in;
        if (change->kind == WB_CHANGE_TRUNCATE) {
            if (route_truncate(in, change, &x) != 0)
                return WB_ENOMEM;
            continue;
        }
        if (!(in->m->operations & op_bit(change->kind)))
            continue;
        if (r->binary && (rc = check_binary(in, change, err)) != 0)
            return rc;
        if (!made) {
            if ((rc = wb_change_for_plugin(change, r->binary, arena, &pc,
                                           err)) != 0)
                return rc;
            made = true;
        }
        x.pc = &pc;
        rc = in->p->map(in->state, &pc, &host, &x);
        if (rc != 0 || x.failed) {
            if (!x.failed)
                emit_fail(&x, "mapping \"%s\" failed without a message",
                          in->m->name);
            return err ? (err->code ? err->code : WB_EDATA) : WB_EDATA;
        }
    }
    *ops = x.ops;
    *nops = x.nops;
    return 0;
}

/* ------------------------------------------------------------------ */
/* what the applier needs of the source row                           */
/* ------------------------------------------------------------------ */

static bool same_tuple_value(const wb_tuple_value *x, const wb_tuple_value *y)
{
    return x->kind == y->kind &&
           (x->kind != WB_TUPLE_TEXT ||
            (x->len == y->len && memcmp(x->data, y->data, x->len) == 0));
}

static int att_of(const wb_pgoutput_relation *rel, const char *name)
{
    for (int i = 0; i < rel->natts; i++)
        if (strcmp(rel->atts[i].name, name) == 0)
            return i;
    return -1;
}

/*
 * The clock write of one mapping for a change of its target table, or
 * *w untouched (returns 0) when there is nothing to record: no usable
 * key, or no column of the mapping written.
 */
static int clock_write(const wb_config_mapping *m, const wb_change *c,
                       wb_arena *arena, wb_clock_write *w, bool *made)
{
    const wb_pgoutput_relation *rel = c->rel;
    const wb_tuple *nt = c->newtup;
    const wb_tuple *ot = c->oldkind == 'O' ? c->oldtup : NULL;
    size_t maxcols = m->ncolumns + m->nvalues;

    *made = false;
    memset(w, 0, sizeof(*w));
    w->mapping = m;
    w->lsn = c->lsn;
    w->nkeys = m->nkeys;
    w->keys = wb_arena_alloc(arena, (m->nkeys ? m->nkeys : 1) * sizeof(char *));
    w->cols = wb_arena_alloc(arena, (maxcols ? maxcols : 1) * sizeof(char *));
    w->vals = wb_arena_alloc(arena, (maxcols ? maxcols : 1) * sizeof(char *));
    w->same = wb_arena_alloc(arena, (maxcols ? maxcols : 1) * sizeof(bool));
    if (!w->keys || !w->cols || !w->vals || !w->same)
        return WB_ENOMEM;
    for (size_t k = 0; k < m->nkeys; k++) {
        int i = att_of(rel, m->keys[k].to);
        if (i < 0 || i >= nt->ncols || nt->cols[i].kind != WB_TUPLE_TEXT)
            return 0; /* no usable key: nothing to record */
        w->keys[k] = nt->cols[i].data;
    }
    for (size_t j = 0; j < maxcols; j++) {
        const char *col =
            j < m->ncolumns ? m->columns[j].to : m->values[j - m->ncolumns].to;
        int i = att_of(rel, col);
        if (i < 0 || i >= nt->ncols)
            continue;
        const wb_tuple_value *v = &nt->cols[i];
        if (v->kind == WB_TUPLE_UNCHANGED || v->kind == WB_TUPLE_BINARY)
            continue;
        w->cols[w->ncols] = col;
        w->vals[w->ncols] = v->kind == WB_TUPLE_TEXT ? v->data : NULL;
        w->same[w->ncols] =
            ot && i < ot->ncols && same_tuple_value(v, &ot->cols[i]);
        w->ncols++;
    }
    *made = w->ncols > 0;
    return 0;
}

/*
 * Inserts and updates of another writer to a table that a
 * last_writer_wins-by-commit-time mapping writes (built-in mappings only:
 * a plugin's writes are its own) are recorded in the column clock.
 */
static int clock_writes(wb_router *r, const wb_change *c, wb_arena *arena,
                        wb_routed *out)
{
    const wb_config *cfg = r->cfg;

    if (!c->newtup ||
        (c->kind != WB_CHANGE_INSERT && c->kind != WB_CHANGE_UPDATE))
        return 0;
    for (size_t i = 0; i < cfg->nmappings; i++) {
        const wb_config_mapping *m = &cfg->mappings[i];
        wb_clock_write w;
        bool made;
        int rc;
        if (!m->enabled || m->plugin.path ||
            m->conflict.resolve != WB_CONFLICT_LAST_WRITER_WINS ||
            !m->conflict.by_commit_time ||
            !same_rel(&m->to, c->rel->nspname, c->rel->relname))
            continue;
        if ((rc = clock_write(m, c, arena, &w, &made)) != 0)
            return rc;
        if (!made)
            continue;
        if (!out->clock) {
            out->clock = wb_arena_alloc(arena, cfg->nmappings * sizeof(w));
            if (!out->clock)
                return WB_ENOMEM;
        }
        out->clock[out->nclock++] = w;
    }
    return 0;
}

int wb_router_route_change(wb_router *r, const wb_change *c, wb_arena *arena,
                           wb_routed *out, wb_error *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (c->kind != WB_CHANGE_TRUNCATE) {
        out->changed_schema = c->rel->nspname;
        out->changed_table = c->rel->relname;
        /* A copied row is no other writer's change: the clock keeps
         * what it had (nothing, for a row written before the slot). */
        if (!c->only && (rc = clock_writes(r, c, arena, out)) != 0)
            return wb_error_set(err, rc, "out of memory");
    }
    out->mapped = wb_router_is_mapped(r, c->rel->nspname, c->rel->relname);
    if (!out->mapped)
        return 0;
    return wb_router_route(r, c, arena, &out->ops, &out->nops, err);
}
