/*
 * arena_names.c - a plugin that allocates everything it emits, the target
 * schema, table and column names included, from the per-message arena with
 * host->strdup(), as walbridge/plugin.h allows ("everything a plugin
 * returns from map() is allocated with host->alloc()/host->strdup() ...
 * valid until the operations are queued").  It guards the host against
 * keeping those names past the message (the applier combines consecutive
 * operations of one shape from several messages into one statement).
 *
 * public.customers -> the mapping's one "to" table: id -> external_id__c,
 * email -> email; no config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walbridge/plugin.h"

typedef struct state {
    char schema[64], table[64];
} state;

static int arena_init(wb_plugin_init *args, void **out)
{
    state *st;
    if (args->nto != 1 || strlen(args->to_schemas[0]) >= 64 ||
        strlen(args->to_tables[0]) >= 64) {
        snprintf(args->errbuf, args->errbuf_size,
                 "plugin arena_names writes exactly one table");
        return -1;
    }
    if (!(st = calloc(1, sizeof(*st)))) {
        snprintf(args->errbuf, args->errbuf_size, "out of memory");
        return -1;
    }
    strcpy(st->schema, args->to_schemas[0]);
    strcpy(st->table, args->to_tables[0]);
    *out = st;
    return 0;
}

static const char *text_of(const wb_plugin_change *c,
                           const wb_plugin_value *row,
                           const wb_plugin_host *host, const char *name)
{
    const wb_plugin_value *v = host->value(c, row, name);
    return v && v->kind == WB_PLUGIN_VALUE_TEXT ? v->text : NULL;
}

static int arena_map(void *p, const wb_plugin_change *c,
                     const wb_plugin_host *host, void *ctx)
{
    const state *st = p;
    wb_plugin_col *keys = host->alloc(ctx, sizeof(*keys));
    wb_plugin_col *set = host->alloc(ctx, 2 * sizeof(*set));
    wb_plugin_op op;
    const char *id = text_of(c, c->op == 'D' ? c->oldv : c->newv, host, "id");

    if (!keys || !set)
        return host->error(ctx, NULL, "out of memory");
    if (!id)
        return host->error(ctx, "id", "no value for key column \"id\"");
    /* host->alloc does not zero: lookup must be NULL for a plugin. */
    memset(keys, 0, sizeof(*keys));
    memset(set, 0, 2 * sizeof(*set));
    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.schema = host->strdup(ctx, st->schema);
    op.table = host->strdup(ctx, st->table);
    keys[0].column = host->strdup(ctx, "external_id__c");
    keys[0].value = host->strdup(ctx, id);
    op.nkeys = 1;
    op.keys = keys;
    if (c->op == 'D') {
        op.kind = WB_PLUGIN_DELETE;
    } else {
        set[0].column = host->strdup(ctx, "email");
        set[0].value = text_of(c, c->newv, host, "email");
        op.kind = WB_PLUGIN_UPSERT;
        op.nset = 1;
        op.set = set;
    }
    if (!op.schema || !op.table || !keys[0].column || !keys[0].value ||
        (op.nset && !set[0].column))
        return host->error(ctx, NULL, "out of memory");
    return host->emit(ctx, &op);
}

static const wb_plugin plugin = {
    .abi_version = WB_PLUGIN_ABI_VERSION,
    .size = sizeof(wb_plugin),
    .name = "arena_names",
    .version = "1.0",
    .init = arena_init,
    .map = arena_map,
    .fini = free,
};

const wb_plugin *walbridge_plugin(void);
const wb_plugin *walbridge_plugin(void)
{
    return &plugin;
}
