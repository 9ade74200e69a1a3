/*
 * split_name.c - example mapping plugin: one full-name column becomes a
 * first and a last name.
 *
 *   - name: customers_to_contacts
 *     from: public.customers
 *     to: salesforce.contact
 *     plugin:
 *       path: libwb_split_name.so
 *       config:
 *         source: name                  # the full name (source column)
 *         first: firstname              # target columns
 *         last: lastname
 *         key: { id: external_id__c }   # source column: target column
 *         columns: { email: email }     # optional, copied as they are
 *         on_delete: delete             # delete (default) | ignore
 *
 * The name is split at its LAST space, after trimming blanks at both ends:
 * "Ada King Lovelace" -> "Ada King" / "Lovelace".  A single word is the last
 * name (Salesforce requires LastName, not FirstName): "Cher" -> NULL /
 * "Cher".  A NULL or blank name gives NULL / NULL.
 *
 * insert -> upsert on the key; update -> update by the (old) key, key first
 * in the set list, inserting the row when it is missing (only when every
 * column is known: an unchanged TOAST value is left out and the row is not
 * inserted from a partial set); delete -> delete by key, or nothing.
 *
 * Build: cc -shared -fPIC -I include tests/plugins/split_name.c \
 *           -o split_name.so
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "walbridge/plugin.h"

#include "example_util.h"

#define PLUGIN "split_name"

typedef struct colpair {
    char *from, *to;
} colpair;

typedef struct state {
    char *mapping, *schema, *table;
    char *source, *first, *last;
    size_t nkeys, ncols;
    colpair *keys, *cols;
    int delete_rows;
    /* Column positions for (relid, version); valid == 0: none yet. */
    int valid;
    uint32_t relid;
    uint64_t version;
    int name_idx;
    int *key_idx, *col_idx;
} state;

static void free_state(state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nkeys; i++) {
        free(st->keys[i].from);
        free(st->keys[i].to);
    }
    for (size_t i = 0; i < st->ncols; i++) {
        free(st->cols[i].from);
        free(st->cols[i].to);
    }
    free(st->keys);
    free(st->cols);
    free(st->key_idx);
    free(st->col_idx);
    free(st->mapping);
    free(st->schema);
    free(st->table);
    free(st->source);
    free(st->first);
    free(st->last);
    free(st);
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Copy a validated column map; -1 when out of memory. */
static int copy_pairs(const wb_plugin_node *n, colpair **out, size_t *nout,
                      int **idx)
{
    size_t cnt = n ? n->n : 0;
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    *idx = calloc(cnt ? cnt : 1, sizeof(**idx));
    if (!*out || !*idx)
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        (*out)[i].from = dup(n->keys[i]);
        (*out)[i].to = dup(n->items[i].value);
        *nout = i + 1;
        if (!(*out)[i].from || !(*out)[i].to)
            return -1;
    }
    return 0;
}

static int split_init(wb_plugin_init *args, void **out)
{
    static const char *const known[] = {"source",  "first",     "last", "key",
                                        "columns", "on_delete", NULL};
    const wb_plugin_node *cfg = args->config, *keys, *cols;
    const char *source, *first, *last, *on_delete;
    state *st;

    if (args->nto != 1)
        return cfg_fail(args, NULL,
                        "plugin %s writes exactly one table, mapping \"%s\" "
                        "lists %zu in \"to\"",
                        PLUGIN, args->mapping, args->nto);
    if (!cfg || cfg->kind != WB_PLUGIN_NODE_MAPPING)
        return cfg_fail(args, cfg,
                        "plugin %s needs a config map with source, first, "
                        "last and key",
                        PLUGIN);
    if (cfg_known_keys(args, PLUGIN, cfg, known) ||
        cfg_scalar(args, PLUGIN, cfg, "source", 0, &source) ||
        cfg_scalar(args, PLUGIN, cfg, "first", 0, &first) ||
        cfg_scalar(args, PLUGIN, cfg, "last", 0, &last) ||
        cfg_colmap(args, PLUGIN, cfg, "key", 0, &keys) ||
        cfg_colmap(args, PLUGIN, cfg, "columns", 1, &cols) ||
        cfg_scalar(args, PLUGIN, cfg, "on_delete", 1, &on_delete))
        return -1;
    if (on_delete && strcmp(on_delete, "delete") != 0 &&
        strcmp(on_delete, "ignore") != 0)
        return cfg_fail(args, cfg_get(cfg, "on_delete"),
                        "on_delete of plugin %s must be delete or ignore, "
                        "not \"%s\"",
                        PLUGIN, on_delete);

    st = calloc(1, sizeof(*st));
    if (!st)
        return cfg_fail(args, NULL, "out of memory");
    st->delete_rows = !on_delete || strcmp(on_delete, "delete") == 0;
    st->mapping = dup(args->mapping);
    st->schema = dup(args->to_schemas[0]);
    st->table = dup(args->to_tables[0]);
    st->source = dup(source);
    st->first = dup(first);
    st->last = dup(last);
    if (!st->mapping || !st->schema || !st->table || !st->source ||
        !st->first || !st->last ||
        copy_pairs(keys, &st->keys, &st->nkeys, &st->key_idx) != 0 ||
        copy_pairs(cols, &st->cols, &st->ncols, &st->col_idx) != 0) {
        free_state(st);
        return cfg_fail(args, NULL, "out of memory");
    }
    *out = st;
    return 0;
}

static void split_fini(void *p)
{
    free_state(p);
}

static int missing_column(const state *st, const char *col,
                          const wb_plugin_host *host, void *ctx)
{
    return host->error(ctx, col,
                       "column \"%s\" read by mapping \"%s\" is not "
                       "published for the source relation",
                       col, st->mapping);
}

/* Resolve column positions once per relation version. */
static int plan(state *st, const wb_plugin_change *c,
                const wb_plugin_host *host, void *ctx)
{
    if (st->valid && st->relid == c->relid && st->version == c->rel_version)
        return 0;
    st->valid = 0;
    if ((st->name_idx = col_index(c, st->source)) < 0)
        return missing_column(st, st->source, host, ctx);
    for (size_t i = 0; i < st->nkeys; i++)
        if ((st->key_idx[i] = col_index(c, st->keys[i].from)) < 0)
            return missing_column(st, st->keys[i].from, host, ctx);
    for (size_t i = 0; i < st->ncols; i++)
        if ((st->col_idx[i] = col_index(c, st->cols[i].from)) < 0)
            return missing_column(st, st->cols[i].from, host, ctx);
    st->relid = c->relid;
    st->version = c->rel_version;
    st->valid = 1;
    return 0;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Split name into *first and *last (arena copies; NULL for SQL NULL). */
static int split(const char *name, const wb_plugin_host *host, void *ctx,
                 const char **first, const char **last)
{
    const char *b = name, *e, *sp;
    char *f, *l;

    *first = *last = NULL;
    if (!name)
        return 0;
    while (*b && is_blank(*b))
        b++;
    e = b + strlen(b);
    while (e > b && is_blank(e[-1]))
        e--;
    if (e == b)
        return 0;
    for (sp = e - 1; sp > b && *sp != ' '; sp--)
        ;
    if (*sp != ' ') { /* one word: the last name */
        l = host->alloc(ctx, (size_t)(e - b) + 1);
        if (!l)
            return -1;
        memcpy(l, b, (size_t)(e - b));
        l[e - b] = '\0';
        *last = l;
        return 0;
    }
    l = host->alloc(ctx, (size_t)(e - sp));
    if (!l)
        return -1;
    memcpy(l, sp + 1, (size_t)(e - sp - 1));
    l[e - sp - 1] = '\0';
    while (sp > b && is_blank(sp[-1]))
        sp--;
    f = host->alloc(ctx, (size_t)(sp - b) + 1);
    if (!f)
        return -1;
    memcpy(f, b, (size_t)(sp - b));
    f[sp - b] = '\0';
    *first = f;
    *last = l;
    return 0;
}

static int split_map(void *p, const wb_plugin_change *c,
                     const wb_plugin_host *host, void *ctx)
{
    state *st = p;
    wb_plugin_col *keys, *set;
    wb_plugin_op op;
    size_t nset = 0;
    int complete = 1;

    if (plan(st, c, host, ctx) != 0)
        return -1;
    keys = host->alloc(ctx, st->nkeys * sizeof(*keys));
    set = host->alloc(ctx, (st->nkeys + 2 + st->ncols) * sizeof(*set));
    if (!keys || !set)
        return host->error(ctx, NULL, "out of memory");

    memset(&op, 0, sizeof(op));
    op.size = sizeof(op);
    op.schema = st->schema;
    op.table = st->table;
    op.nkeys = st->nkeys;
    op.keys = keys;

    /* The key of the row as it was: the old key on update and delete. */
    for (size_t k = 0; k < st->nkeys; k++) {
        keys[k].column = st->keys[k].to;
        keys[k].lookup = NULL;
        if (key_value(c, st->key_idx[k], c->op != 'I', st->mapping, host, ctx,
                      &keys[k].value) != 0)
            return -1;
    }
    if (c->op == 'D') {
        if (!st->delete_rows)
            return 0;
        op.kind = WB_PLUGIN_DELETE;
        return host->emit(ctx, &op);
    }

    if (c->op == 'U') {
        /* insert-if-missing: the first set entries are the key, with the
         * new values (a key change moves the row). */
        for (size_t k = 0; k < st->nkeys; k++) {
            set[nset].column = st->keys[k].to;
            set[nset].lookup = NULL;
            if (key_value(c, st->key_idx[k], 0, st->mapping, host, ctx,
                          &set[nset].value) != 0)
                return -1;
            nset++;
        }
    }
    {
        const wb_plugin_value *v = current_value(c, st->name_idx);
        if (is_known(v)) {
            const char *first, *last;
            if (split(v->text, host, ctx, &first, &last) != 0)
                return host->error(ctx, NULL, "out of memory");
            set[nset++] = (wb_plugin_col){st->first, first, NULL};
            set[nset++] = (wb_plugin_col){st->last, last, NULL};
        } else {
            complete = 0; /* unchanged TOAST: the target keeps its names */
        }
    }
    for (size_t i = 0; i < st->ncols; i++) {
        const wb_plugin_value *v = current_value(c, st->col_idx[i]);
        if (!is_known(v)) {
            complete = 0;
            continue;
        }
        set[nset++] = (wb_plugin_col){st->cols[i].to, v->text, NULL};
    }
    op.nset = nset;
    op.set = set;
    if (c->op == 'I') {
        op.kind = WB_PLUGIN_UPSERT;
    } else {
        op.kind = WB_PLUGIN_UPDATE;
        if (complete)
            op.flags |= WB_PLUGIN_OP_INSERT_IF_MISSING;
    }
    return host->emit(ctx, &op);
}

static const wb_plugin plugin = {
    .abi_version = WB_PLUGIN_ABI_VERSION,
    .size = sizeof(wb_plugin),
    .name = PLUGIN,
    .version = "1.0",
    .init = split_init,
    .map = split_map,
    .fini = split_fini,
};

const wb_plugin *walbridge_plugin(void);
const wb_plugin *walbridge_plugin(void)
{
    return &plugin;
}
