/*
 * derive_status.c - example mapping plugin: one target column derived from
 * two source columns.
 *
 *   - name: users_status
 *     from: portal.users
 *     to: salesforce.account
 *     plugin:
 *       path: libwb_derive_status.so
 *       config:
 *         status: status                # source columns read
 *         email: email
 *         to: status__c                 # the target column written
 *         key: { id: external_id__c }   # source column: target column
 *         fail_on: frozen               # optional: a status value that is
 *                                       # refused (an error), for tests
 *
 * The derived value (the source's status compared as written):
 *   status active and an email that is not NULL or empty -> Active
 *   status active without an email                        -> Pending
 *   status banned                                         -> Suspended
 *   status NULL                                           -> NULL
 *   any other status                                      -> Inactive
 *
 * insert -> upsert of key + the derived column; update -> update by the
 * (old) key, inserting key + derived column when the row is missing;
 * delete -> the target row is kept and marked: status "Deleted" (an update
 * that inserts nothing).  The plugin owns only that column: other mappings
 * may write the rest of the row.
 *
 * A status equal to fail_on is a data error naming the status column:
 * walbridge stops at that transaction (exit 4) without applying any of it.
 *
 * Build: cc -shared -fPIC -I include tests/plugins/derive_status.c \
 *           -o derive_status.so
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "walbridge/plugin.h"

#include "example_util.h"

#define PLUGIN "derive_status"

typedef struct state {
    char *mapping, *schema, *table;
    char *status, *email, *to, *fail_on;
    char *key_from, *key_to;
    int valid;
    uint32_t relid;
    uint64_t version;
    int status_idx, email_idx, key_idx;
} state;

static void free_state(state *st)
{
    if (!st)
        return;
    free(st->mapping);
    free(st->schema);
    free(st->table);
    free(st->status);
    free(st->email);
    free(st->to);
    free(st->fail_on);
    free(st->key_from);
    free(st->key_to);
    free(st);
}

static char *dup(const char *s)
{
    size_t n;
    char *d;
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if ((d = malloc(n)) != NULL)
        memcpy(d, s, n);
    return d;
}

static int derive_init(wb_plugin_init *args, void **out)
{
    static const char *const known[] = {"status", "email",   "to",
                                        "key",    "fail_on", NULL};
    const wb_plugin_node *cfg = args->config, *key, *fail_on;
    const char *status, *email, *to;
    state *st;

    if (args->nto != 1)
        return cfg_fail(args, NULL,
                        "plugin %s writes exactly one table, mapping \"%s\" "
                        "lists %zu in \"to\"",
                        PLUGIN, args->mapping, args->nto);
    if (!cfg || cfg->kind != WB_PLUGIN_NODE_MAPPING)
        return cfg_fail(args, cfg,
                        "plugin %s needs a config map with status, email, to "
                        "and key",
                        PLUGIN);
    if (cfg_known_keys(args, PLUGIN, cfg, known) ||
        cfg_scalar(args, PLUGIN, cfg, "status", 0, &status) ||
        cfg_scalar(args, PLUGIN, cfg, "email", 0, &email) ||
        cfg_scalar(args, PLUGIN, cfg, "to", 0, &to) ||
        cfg_colmap(args, PLUGIN, cfg, "key", 0, &key))
        return -1;
    if (key->n != 1)
        return cfg_fail(args, key,
                        "\"key\" of plugin %s must be one source column: "
                        "target column pair",
                        PLUGIN);
    /* fail_on may be any scalar, even an empty one; not a map or list. */
    fail_on = cfg_get(cfg, "fail_on");
    if (fail_on && (fail_on->kind != WB_PLUGIN_NODE_SCALAR || !fail_on->value))
        return cfg_fail(args, fail_on,
                        "\"fail_on\" of plugin %s must be a status value",
                        PLUGIN);

    st = calloc(1, sizeof(*st));
    if (!st)
        return cfg_fail(args, NULL, "out of memory");
    st->mapping = dup(args->mapping);
    st->schema = dup(args->to_schemas[0]);
    st->table = dup(args->to_tables[0]);
    st->status = dup(status);
    st->email = dup(email);
    st->to = dup(to);
    st->key_from = dup(key->keys[0]);
    st->key_to = dup(key->items[0].value);
    st->fail_on = fail_on ? dup(fail_on->value) : NULL;
    if (!st->mapping || !st->schema || !st->table || !st->status ||
        !st->email || !st->to || !st->key_from || !st->key_to ||
        (fail_on && !st->fail_on)) {
        free_state(st);
        return cfg_fail(args, NULL, "out of memory");
    }
    if (st->fail_on)
        args->host->log(NULL, WB_PLUGIN_LOG_WARNING,
                        "a status of \"%s\" will stop walbridge (fail_on)",
                        st->fail_on);
    *out = st;
    return 0;
}

static void derive_fini(void *p)
{
    free_state(p);
}

static int plan(state *st, const wb_plugin_change *c,
                const wb_plugin_host *host, void *ctx)
{
    const char *missing = NULL;
    if (st->valid && st->relid == c->relid && st->version == c->rel_version)
        return 0;
    st->valid = 0;
    if ((st->status_idx = col_index(c, st->status)) < 0)
        missing = st->status;
    else if ((st->email_idx = col_index(c, st->email)) < 0)
        missing = st->email;
    else if ((st->key_idx = col_index(c, st->key_from)) < 0)
        missing = st->key_from;
    if (missing)
        return host->error(ctx, missing,
                           "column \"%s\" read by mapping \"%s\" is not "
                           "published for the source relation",
                           missing, st->mapping);
    st->relid = c->relid;
    st->version = c->rel_version;
    st->valid = 1;
    return 0;
}

/* The derived value (static text or NULL), or -1 after an error. */
static int derive(const state *st, const wb_plugin_change *c,
                  const wb_plugin_host *host, void *ctx, const char **out)
{
    const wb_plugin_value *s = current_value(c, st->status_idx);
    const wb_plugin_value *e = current_value(c, st->email_idx);

    if (!is_known(s) || !is_known(e)) {
        const char *col = !is_known(s) ? st->status : st->email;
        host->error(ctx, col,
                    "mapping \"%s\" derives \"%s\" from column \"%s\", whose "
                    "value the source did not send",
                    st->mapping, st->to, col);
        host->hint(ctx, "Set REPLICA IDENTITY FULL on the source table, so "
                        "that unchanged TOASTed values are sent.");
        return -1;
    }
    if (s->kind == WB_PLUGIN_VALUE_NULL) {
        *out = NULL;
        return 0;
    }
    if (st->fail_on && strcmp(s->text, st->fail_on) == 0) {
        host->error(ctx, st->status,
                    "status \"%s\" is refused by mapping \"%s\" (fail_on)",
                    s->text, st->mapping);
        host->hint(ctx, "Remove fail_on from the plugin's config to map "
                        "this value.");
        return -1;
    }
    if (strcmp(s->text, "active") == 0)
        *out = e->kind == WB_PLUGIN_VALUE_TEXT && e->text[0] ? "Active"
                                                             : "Pending";
    else if (strcmp(s->text, "banned") == 0)
        *out = "Suspended";
    else
        *out = "Inactive";
    return 0;
}

static int derive_map(void *p, const wb_plugin_change *c,
                      const wb_plugin_host *host, void *ctx)
{
    state *st = p;
    wb_plugin_col *keys, *set;
    wb_plugin_op op;
    const char *value;

    if (plan(st, c, host, ctx) != 0)
        return -1;
    keys = host->alloc(ctx, sizeof(*keys));
    set = host->alloc(ctx, 2 * sizeof(*set));
    if (!keys || !set)
        return host->error(ctx, NULL, "out of memory");
    keys[0].column = st->key_to;
    keys[0].lookup = NULL;
    if (key_value(c, st->key_idx, c->op != 'I', st->mapping, host, ctx,
                  &keys[0].value) != 0)
        return -1;

    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.schema = st->schema;
    op.table = st->table;
    op.nkeys = 1;
    op.keys = keys;
    op.set = set;

    if (c->op == 'D') {
        /* Keep the row, mark it; nothing to mark when it is not there. */
        set[0] = (wb_plugin_col){st->to, "Deleted", NULL};
        op.kind = WB_PLUGIN_UPDATE;
        op.nset = 1;
        return host->emit(ctx, &op);
    }
    if (derive(st, c, host, ctx, &value) != 0)
        return -1;
    if (c->op == 'I') {
        set[0] = (wb_plugin_col){st->to, value, NULL};
        op.kind = WB_PLUGIN_UPSERT;
        op.nset = 1;
    } else {
        set[0].column = st->key_to;
        set[0].lookup = NULL;
        if (key_value(c, st->key_idx, 0, st->mapping, host, ctx,
                      &set[0].value) != 0)
            return -1;
        set[1] = (wb_plugin_col){st->to, value, NULL};
        op.kind = WB_PLUGIN_UPDATE;
        op.nset = 2;
        op.flags = WB_PLUGIN_OP_INSERT_IF_MISSING;
    }
    return host->emit(ctx, &op);
}

static const wb_plugin plugin = {
    .abi_version = WB_PLUGIN_ABI_VERSION,
    .size = sizeof(wb_plugin),
    .name = PLUGIN,
    .version = "1.0",
    .init = derive_init,
    .map = derive_map,
    .fini = derive_fini,
};

const wb_plugin *walbridge_plugin(void);
const wb_plugin *walbridge_plugin(void)
{
    return &plugin;
}
