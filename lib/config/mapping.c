/*
 * config/mapping.c - the mapping compiler: each entry of "mappings" read
 * into a wb_config_mapping (config/config.h).
 *
 * A mapping's keys are not settings (config/settings.h): they are checked
 * against mapping_keys here, and what they hold is compiled, not copied:
 * tables are split and unquoted, value expressions become trees
 * (expr_parse.c), the filter is parsed (wb_filter_parse), and the source
 * columns both read are numbered once (wb_mapping_number_refs), so that
 * nothing is parsed per change.  What can be checked without a server is
 * checked here: target columns written once, names distinct, keys that a
 * plugin does not take; the catalogs are checked later (check/catalog.c).
 */
#include <stdio.h>
#include <string.h>

#include "config/load.h"
#include "walbridge/plugin.h"

#define MAX_PLUGIN_DEPTH 32

/*
 * A map of source column -> target column (key: or columns:).  to_pos
 * receives where each target column was written.
 */
static int get_colmap(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      const char *mctx, bool required, wb_config_colmap **out,
                      size_t *nout, wb_config_pos **to_pos)
{
    char ctx[256];
    size_t n, k = 0;
    wb_yaml_dup *items;
    const wb_yaml_dup *first, *second;
    wb_config_colmap *cols;

    snprintf(ctx, sizeof(ctx), "\"%s\" of %s", key, mctx);
    *out = NULL;
    *nout = 0;
    *to_pos = NULL;
    if (!required && is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE) {
        wb_yaml_fail(ld, v,
                     "\"%s\" must be a map of source column to target column",
                     key);
        wb_error_hint(ld->err, "Write %s: { source_column: target_column }.",
                      key);
        return WB_ECONFIG;
    }
    n = map_len(v);
    if (n == 0) {
        if (!required)
            return 0;
        wb_yaml_fail(ld, v, "\"%s\" must map at least one column in %s", key,
                     mctx);
        wb_error_hint(ld->err, "Write %s: { source_column: target_column }.",
                      key);
        return WB_ECONFIG;
    }
    cols = wb_arena_alloc(ld->arena, n * sizeof(*cols));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    *to_pos = wb_arena_alloc(ld->arena, n * sizeof(**to_pos));
    if (!cols || !items || !*to_pos)
        return wb_yaml_nomem(ld);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++, k++) {
        const yaml_node_t *kn = node_of(ld, p->key);
        const yaml_node_t *vn = node_of(ld, p->value);
        int rc;

        if (kn->type != YAML_SCALAR_NODE)
            return wb_yaml_fail(ld, kn, "keys in %s must be column names", ctx);
        rc = wb_yaml_parse_name(ld, kn, "column", sval(kn), slen(kn),
                                &cols[k].from);
        if (rc)
            return rc;
        if (vn->type != YAML_SCALAR_NODE || is_null(vn))
            return wb_yaml_fail(ld, vn,
                                "target column for \"%s\" in %s must be a "
                                "string",
                                cols[k].from, ctx);
        rc = wb_yaml_name(ld, vn, key, "column", &cols[k].to);
        if (rc)
            return rc;
        cols[k].pos = node_pos(kn);
        (*to_pos)[k] = node_pos(vn);
        items[k].s = cols[k].from;
        items[k].pos = cols[k].pos;
        items[k].order = k;
    }
    if (wb_yaml_find_dup(items, n, &first, &second)) {
        wb_yaml_fail_at(ld, second->pos.line, second->pos.col,
                        "duplicate key \"%s\" in %s", second->s, ctx);
        wb_error_detail(ld->err, "It was first given at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    *out = cols;
    *nout = n;
    return 0;
}

enum {
    MAP_NAME,
    MAP_ENABLED,
    MAP_FROM,
    MAP_TO,
    MAP_OPERATIONS,
    MAP_KEY,
    MAP_COLUMNS,
    MAP_VALUES,
    MAP_FILTER,
    MAP_ON_DELETE,
    MAP_ON_FILTER_OUT,
    MAP_ON_TRUNCATE,
    MAP_SKIP_UNCHANGED,
    MAP_PLUGIN,
    MAP_CONFLICT,
    MAP_INITIAL_COPY,
    MAP_NKEYS
};
static const char *const mapping_keys[MAP_NKEYS] = {
    "name",           "enabled",   "from",          "to",
    "operations",     "key",       "columns",       "values",
    "filter",         "on_delete", "on_filter_out", "on_truncate",
    "skip_unchanged", "plugin",    "conflict",      "initial_copy"};

/* Target columns must be distinct across key:, columns: and values:. */
static int check_targets(wb_yaml_loader *ld, wb_config_mapping *m,
                         const wb_config_pos *key_pos,
                         const wb_config_pos *col_pos)
{
    size_t n = m->nkeys + m->ncolumns + m->nvalues;
    wb_yaml_dup *items =
        wb_arena_alloc(ld->arena, (n ? n : 1) * sizeof(*items));
    const wb_yaml_dup *first, *second;

    if (!items)
        return wb_yaml_nomem(ld);
    for (size_t i = 0; i < m->nkeys; i++) {
        items[i].s = m->keys[i].to;
        items[i].pos = key_pos[i];
        items[i].order = i;
    }
    for (size_t i = 0; i < m->ncolumns; i++) {
        items[m->nkeys + i].s = m->columns[i].to;
        items[m->nkeys + i].pos = col_pos[i];
        items[m->nkeys + i].order = m->nkeys + i;
    }
    for (size_t i = 0; i < m->nvalues; i++) {
        size_t j = m->nkeys + m->ncolumns + i;
        items[j].s = m->values[i].to;
        items[j].pos = m->values[i].pos;
        items[j].order = j;
    }
    if (wb_yaml_find_dup(items, n, &first, &second)) {
        wb_yaml_fail_at(
            ld, second->pos.line, second->pos.col,
            "target column \"%s\" is mapped more than once in mapping "
            "\"%s\"",
            second->s, m->name);
        wb_error_detail(ld->err, "It was first mapped at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}

/* values: { target_column: expression, ... }; soft-delete columns too
 * (then only constants are allowed). */
static int get_values(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      bool consts_only, wb_config_value **out, size_t *nout)
{
    size_t k = 0;
    wb_config_value *vals;

    *out = NULL;
    *nout = 0;
    if (is_null(v))
        return 0;
    if (v->type != YAML_MAPPING_NODE) {
        wb_yaml_fail(ld, v, "\"%s\" must be a map of target column to %s", key,
                     consts_only ? "value" : "expression");
        return WB_ECONFIG;
    }
    vals = wb_arena_alloc(ld->arena, (map_len(v) + 1) * sizeof(*vals));
    if (!vals)
        return wb_yaml_nomem(ld);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++, k++) {
        const yaml_node_t *kn = node_of(ld, p->key);
        const yaml_node_t *vn = node_of(ld, p->value);
        int rc;
        if (kn->type != YAML_SCALAR_NODE)
            return wb_yaml_fail(ld, kn, "keys in \"%s\" must be column names",
                                key);
        rc = wb_yaml_parse_name(ld, kn, "column", sval(kn), slen(kn),
                                &vals[k].to);
        if (rc)
            return rc;
        vals[k].pos = node_pos(kn);
        for (size_t j = 0; j < k; j++)
            if (strcmp(vals[j].to, vals[k].to) == 0) {
                wb_yaml_fail(ld, kn, "duplicate key \"%s\" in \"%s\"",
                             vals[k].to, key);
                wb_error_detail(ld->err, "It was first given at line %d.",
                                vals[j].pos.line);
                return WB_ECONFIG;
            }
        if (consts_only)
            rc = wb_expr_parse_const(ld, vn, key, &vals[k].expr);
        else
            rc = wb_expr_parse(ld, vn, &vals[k].expr);
        if (rc)
            return rc;
    }
    *out = vals;
    *nout = k;
    return 0;
}

/* on_delete / on_filter_out: delete | ignore | { soft: { col: value } } */
static int get_delete(wb_yaml_loader *ld, const yaml_node_t *v, const char *key,
                      wb_config_delete *out)
{
    static const char *const actions[] = {"delete", "ignore"};
    size_t idx;
    int rc;

    memset(out, 0, sizeof(*out));
    out->pos = node_pos(v);
    if (v->type == YAML_MAPPING_NODE) {
        static const char *const soft_keys[] = {"soft"};
        const yaml_node_t *sv;
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "\"%s\"", key);
        if ((rc = wb_yaml_keys(ld, v, ctx, soft_keys, 1, &sv)) != 0)
            return rc;
        if (!sv)
            return wb_yaml_missing(ld, v, ctx, "soft");
        out->action = WB_ON_DELETE_SOFT;
        if ((rc = get_values(ld, sv, "soft", true, &out->soft, &out->nsoft)))
            return rc;
        if (out->nsoft == 0) {
            wb_yaml_fail(ld, sv, "\"soft\" must set at least one column");
            wb_error_hint(ld->err, "Write %s: { soft: { isdeleted: true } }.",
                          key);
            return WB_ECONFIG;
        }
        return 0;
    }
    if ((rc = wb_yaml_enum(ld, v, key, actions, 2, &idx)) != 0) {
        wb_error_hint(ld->err, "Use delete, ignore, or { soft: { column: "
                               "value } } to mark the row instead.");
        return rc;
    }
    out->action = idx == 0 ? WB_ON_DELETE_DELETE : WB_ON_DELETE_IGNORE;
    return 0;
}

/* operations: [insert, update, delete] */
static int get_operations(wb_yaml_loader *ld, const yaml_node_t *v,
                          unsigned *out)
{
    static const char *const ops[] = {"insert", "update", "delete"};
    *out = 0;
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0) {
        wb_yaml_fail(ld, v, "\"operations\" must be a non-empty list");
        wb_error_hint(ld->err, "Write operations: [insert, update] for a "
                               "mapping that never deletes.");
        return WB_ECONFIG;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        const yaml_node_t *e = node_of(ld, *it);
        size_t idx;
        int rc = wb_yaml_enum(ld, e, "operations", ops, 3, &idx);
        if (rc)
            return rc;
        if (*out & (1u << idx))
            return wb_yaml_fail(ld, e, "duplicate operation \"%s\"", ops[idx]);
        *out |= 1u << idx;
    }
    return 0;
}

/* to: schema.table, or a list of them. */
static int get_tos(wb_yaml_loader *ld, const yaml_node_t *v,
                   wb_config_mapping *m)
{
    size_t k = 0;
    if (v->type == YAML_SCALAR_NODE) {
        char *s;
        int rc;
        m->nto = 1;
        m->tos = wb_arena_alloc(ld->arena, sizeof(*m->tos));
        if (!m->tos)
            return wb_yaml_nomem(ld);
        if ((rc = wb_yaml_string(ld, v, "to", &s)) != 0)
            return rc;
        return wb_yaml_table(ld, v, "to", s, &m->tos[0]);
    }
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0)
        return wb_yaml_fail(ld, v,
                            "\"to\" must be a table name or a non-empty list "
                            "of them");
    m->nto = seq_len(v);
    m->tos = wb_arena_alloc(ld->arena, m->nto * sizeof(*m->tos));
    if (!m->tos)
        return wb_yaml_nomem(ld);
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        char *s;
        int rc;
        if ((rc = wb_yaml_string(ld, e, "to", &s)) != 0 ||
            (rc = wb_yaml_table(ld, e, "to", s, &m->tos[k])) != 0)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (strcmp(m->tos[j].schema, m->tos[k].schema) == 0 &&
                strcmp(m->tos[j].table, m->tos[k].table) == 0)
                return wb_yaml_fail(ld, e,
                                    "table \"%s.%s\" is listed twice in "
                                    "\"to\"",
                                    m->tos[k].schema, m->tos[k].table);
    }
    return 0;
}

/* The plugin's YAML as a wb_plugin_node tree in the arena. */
static int plugin_tree(wb_yaml_loader *ld, const yaml_node_t *n, int depth,
                       wb_plugin_node *out)
{
    size_t k = 0;
    int rc;

    if (depth > MAX_PLUGIN_DEPTH)
        return wb_yaml_fail(ld, n, "plugin configuration is nested too deeply");
    memset(out, 0, sizeof(*out));
    out->line = node_pos(n).line;
    out->col = node_pos(n).col;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        char *s = NULL;
        out->kind = WB_PLUGIN_NODE_SCALAR;
        if (!is_null(n) && (rc = wb_yaml_expand(ld, n, "config", &s)) != 0)
            return rc;
        out->value = s;
        return 0;
    }
    case YAML_SEQUENCE_NODE: {
        wb_plugin_node *items;
        out->kind = WB_PLUGIN_NODE_SEQUENCE;
        out->n = seq_len(n);
        items = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*items));
        if (!items)
            return wb_yaml_nomem(ld);
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++, k++)
            if ((rc = plugin_tree(ld, node_of(ld, *it), depth + 1,
                                  &items[k])) != 0)
                return rc;
        out->items = items;
        return 0;
    }
    case YAML_MAPPING_NODE: {
        wb_plugin_node *items;
        const char **keys;
        out->kind = WB_PLUGIN_NODE_MAPPING;
        out->n = map_len(n);
        items = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*items));
        keys = wb_arena_alloc(ld->arena, (out->n + 1) * sizeof(*keys));
        if (!items || !keys)
            return wb_yaml_nomem(ld);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++, k++) {
            const yaml_node_t *kn = node_of(ld, p->key);
            if (kn->type != YAML_SCALAR_NODE)
                return wb_yaml_fail(ld, kn,
                                    "keys in a plugin's configuration must "
                                    "be strings");
            keys[k] = wb_arena_strndup(ld->arena, sval(kn), slen(kn));
            if (!keys[k])
                return wb_yaml_nomem(ld);
            for (size_t j = 0; j < k; j++)
                if (strcmp(keys[j], keys[k]) == 0)
                    return wb_yaml_fail(ld, kn,
                                        "duplicate key \"%s\" in plugin "
                                        "configuration",
                                        keys[k]);
            if ((rc = plugin_tree(ld, node_of(ld, p->value), depth + 1,
                                  &items[k])) != 0)
                return rc;
        }
        out->keys = keys;
        out->items = items;
        return 0;
    }
    default:
        return wb_yaml_fail(ld, n, "unsupported node in plugin configuration");
    }
}

static int get_plugin(wb_yaml_loader *ld, const yaml_node_t *v,
                      wb_config_mapping *m)
{
    static const char *const plugin_keys[] = {"path", "config"};
    const yaml_node_t *pv[2];
    int rc;

    if (v->type != YAML_MAPPING_NODE)
        return wb_yaml_fail(ld, v,
                            "\"plugin\" must be a map with path and config");
    if ((rc = wb_yaml_keys(ld, v, "\"plugin\"", plugin_keys, 2, pv)) != 0)
        return rc;
    if (!pv[0])
        return wb_yaml_missing(ld, v, "\"plugin\"", "path");
    m->plugin.pos = node_pos(pv[0]);
    if ((rc = wb_yaml_string(ld, pv[0], "path", &m->plugin.path)) != 0)
        return rc;
    if (m->plugin.path[0] == '\0')
        return wb_yaml_fail(ld, pv[0], "plugin path is empty");
    if (pv[1]) {
        m->plugin.config = wb_arena_alloc(ld->arena, sizeof(wb_plugin_node));
        if (!m->plugin.config)
            return wb_yaml_nomem(ld);
        return plugin_tree(ld, pv[1], 0, m->plugin.config);
    }
    return 0;
}

/* A key that only the built-in mapping understands, given to a plugin. */
static int not_for_plugin(wb_yaml_loader *ld, const yaml_node_t *v,
                          const char *key)
{
    wb_yaml_fail(ld, v, "\"%s\" cannot be used with \"plugin\"", key);
    wb_error_detail(ld->err, "The plugin decides which target columns it "
                             "writes.");
    wb_error_hint(ld->err, "Pass what the plugin needs under "
                           "plugin.config.");
    return WB_ECONFIG;
}

/* How messages name entry (0-based) of "mappings" before its name is
 * read: by its name when it has a plain one. */
static void entry_ctx(wb_yaml_loader *ld, const yaml_node_t *map, size_t entry,
                      char *ctx, size_t size)
{
    snprintf(ctx, size, "\"mappings\" entry %zu", entry + 1);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        const yaml_node_t *val = node_of(ld, p->value);
        if (k->type == YAML_SCALAR_NODE && strcmp(sval(k), "name") == 0 &&
            val->type == YAML_SCALAR_NODE && !is_null(val) &&
            !memchr(sval(val), '\0', slen(val))) {
            snprintf(ctx, size, "mapping \"%.100s\"", sval(val));
            break;
        }
    }
}

/* The required keys, and the plugin: a mapping with "plugin" takes none of
 * the built-in mapping's keys. */
static int load_required(wb_yaml_loader *ld, const yaml_node_t *map,
                         const yaml_node_t *const *v, const char *ctx,
                         wb_config_mapping *m)
{
    static const int builtin_only[] = {
        MAP_KEY,       MAP_COLUMNS,       MAP_VALUES,         MAP_FILTER,
        MAP_ON_DELETE, MAP_ON_FILTER_OUT, MAP_SKIP_UNCHANGED, MAP_CONFLICT};

    if (!v[MAP_FROM])
        return wb_yaml_missing(ld, map, ctx, "from");
    if (!v[MAP_TO])
        return wb_yaml_missing(ld, map, ctx, "to");
    if (!v[MAP_PLUGIN]) {
        if (!v[MAP_KEY])
            return wb_yaml_missing(ld, map, ctx, "key");
        return 0;
    }
    for (size_t i = 0; i < sizeof(builtin_only) / sizeof(int); i++)
        if (v[builtin_only[i]])
            return not_for_plugin(ld, v[builtin_only[i]],
                                  mapping_keys[builtin_only[i]]);
    return get_plugin(ld, v[MAP_PLUGIN], m);
}

/* The keys every mapping reads: enabled, from, to, operations,
 * on_truncate, initial_copy. */
static int load_common(wb_yaml_loader *ld, const yaml_node_t *const *v,
                       wb_config_mapping *m)
{
    static const char *const truncates[] = {"ignore", "truncate"};
    size_t idx = 0;
    char *s;
    int rc;

    if (v[MAP_ENABLED]) {
        rc = wb_yaml_bool(ld, v[MAP_ENABLED], "enabled", &m->enabled);
        if (rc)
            return rc;
    }
    if (v[MAP_INITIAL_COPY]) {
        rc = wb_yaml_bool(ld, v[MAP_INITIAL_COPY], "initial_copy",
                          &m->initial_copy);
        if (rc)
            return rc;
    }
    if ((rc = wb_yaml_string(ld, v[MAP_FROM], "from", &s)) != 0 ||
        (rc = wb_yaml_table(ld, v[MAP_FROM], "from", s, &m->from)) != 0)
        return rc;
    if ((rc = get_tos(ld, v[MAP_TO], m)) != 0)
        return rc;
    if (!m->plugin.path && m->nto != 1) {
        wb_yaml_fail(ld, v[MAP_TO],
                     "a mapping without \"plugin\" writes exactly "
                     "one table");
        wb_error_hint(ld->err, "Write one mapping per target table; several "
                               "mappings may read the same \"from\" table.");
        return WB_ECONFIG;
    }
    m->to = m->tos[0];
    if (v[MAP_OPERATIONS] &&
        (rc = get_operations(ld, v[MAP_OPERATIONS], &m->operations)) != 0)
        return rc;
    if (v[MAP_ON_TRUNCATE]) {
        rc = wb_yaml_enum(ld, v[MAP_ON_TRUNCATE], "on_truncate", truncates, 2,
                          &idx);
        if (rc)
            return rc;
        m->on_truncate =
            idx == 0 ? WB_ON_TRUNCATE_IGNORE : WB_ON_TRUNCATE_TRUNCATE;
    }
    return 0;
}

/* filter: the text parsed by wb_filter_parse; a syntax error points into
 * the text. */
static int get_filter(wb_yaml_loader *ld, const yaml_node_t *fv,
                      wb_config_mapping *m)
{
    int offset = 0, col, rc;

    if ((rc = wb_yaml_string(ld, fv, "filter", &m->filter_text)) != 0)
        return rc;
    m->filter_pos = node_pos(fv);
    rc = wb_filter_parse(m->filter_text, ld->arena, &m->filter, &offset,
                         ld->err);
    if (rc != WB_ECONFIG)
        return rc;
    /* Exact for a one-line scalar (plus the opening quote of a quoted
     * one). */
    col = m->filter_pos.col + offset;
    if (fv->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
        fv->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        col++;
    wb_error_position(ld->err, ld->file, m->filter_pos.line, col);
    wb_error_detail(ld->err, "At offset %d of \"%.200s\".", offset + 1,
                    m->filter_text);
    wb_error_hint(ld->err, "Filters use =, <>, <, <=, >, >=, IN (...), IS "
                           "[NOT] NULL, AND, OR, NOT and parentheses; "
                           "text literals in single quotes.");
    return rc;
}

/* What a row becomes: key, columns, values (target columns distinct),
 * filter. */
static int load_columns(wb_yaml_loader *ld, const yaml_node_t *const *v,
                        const char *ctx, wb_config_mapping *m)
{
    wb_config_pos *key_pos = NULL, *col_pos = NULL;
    int rc;

    rc = get_colmap(ld, v[MAP_KEY], "key", ctx, true, &m->keys, &m->nkeys,
                    &key_pos);
    if (rc)
        return rc;
    if (v[MAP_COLUMNS]) {
        rc = get_colmap(ld, v[MAP_COLUMNS], "columns", ctx, false, &m->columns,
                        &m->ncolumns, &col_pos);
        if (rc)
            return rc;
    }
    if (v[MAP_VALUES]) {
        rc = get_values(ld, v[MAP_VALUES], "values", false, &m->values,
                        &m->nvalues);
        if (rc)
            return rc;
    }
    rc = check_targets(ld, m, key_pos, col_pos);
    if (rc)
        return rc;
    if (v[MAP_FILTER])
        return get_filter(ld, v[MAP_FILTER], m);
    return 0;
}

/* What happens besides: on_delete, on_filter_out, skip_unchanged,
 * conflict. */
static int load_policies(wb_yaml_loader *ld, const yaml_node_t *const *v,
                         wb_config_mapping *m)
{
    int rc;

    if (v[MAP_ON_DELETE]) {
        rc = get_delete(ld, v[MAP_ON_DELETE], "on_delete", &m->on_delete);
        if (rc)
            return rc;
    }
    m->on_filter_out = m->on_delete;
    if (v[MAP_ON_FILTER_OUT]) {
        if (!v[MAP_FILTER]) {
            wb_yaml_fail(ld, v[MAP_ON_FILTER_OUT],
                         "\"on_filter_out\" needs a "
                         "\"filter\"");
            return WB_ECONFIG;
        }
        rc = get_delete(ld, v[MAP_ON_FILTER_OUT], "on_filter_out",
                        &m->on_filter_out);
        if (rc)
            return rc;
    }
    if (v[MAP_SKIP_UNCHANGED]) {
        rc = wb_yaml_bool(ld, v[MAP_SKIP_UNCHANGED], "skip_unchanged",
                          &m->skip_unchanged);
        if (rc)
            return rc;
    }
    if (v[MAP_CONFLICT]) {
        if ((rc = wb_conflict_load(ld, v[MAP_CONFLICT], &m->conflict)) != 0)
            return rc;
        if ((rc = wb_conflict_check_columns(ld, m)) != 0)
            return rc;
    }
    return 0;
}

/* FNV-1a over n bytes. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The node's structure and scalars into h (aliases are refused earlier,
 * so the tree is finite). */
static uint64_t node_hash(wb_yaml_loader *ld, const yaml_node_t *n, uint64_t h)
{
    char tag = (char)('0' + n->type);
    h = fnv(h, &tag, 1);
    switch (n->type) {
    case YAML_SCALAR_NODE:
        h = fnv(h, n->data.scalar.value, n->data.scalar.length);
        return fnv(h, "", 1);
    case YAML_SEQUENCE_NODE:
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++)
            h = node_hash(ld, node_of(ld, *i), h);
        return fnv(h, "]", 1);
    case YAML_MAPPING_NODE:
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            h = node_hash(ld, node_of(ld, p->key), h);
            h = node_hash(ld, node_of(ld, p->value), h);
        }
        return fnv(h, "}", 1);
    default:
        return h;
    }
}

/*
 * What the mapping does, as a digest of its entry minus the keys that do
 * not change which target rows it produces (name, enabled, initial_copy):
 * the sync state (sync.h) records it, so that rows copied under another
 * definition are told apart.
 */
static void mapping_digest(wb_yaml_loader *ld, const yaml_node_t *map,
                           wb_config_mapping *m)
{
    uint64_t h = 14695981039346656037ULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_of(ld, p->key);
        if (k->type == YAML_SCALAR_NODE &&
            (strcmp(sval(k), "name") == 0 || strcmp(sval(k), "enabled") == 0 ||
             strcmp(sval(k), "initial_copy") == 0))
            continue;
        h = node_hash(ld, k, h);
        h = node_hash(ld, node_of(ld, p->value), h);
    }
    snprintf(m->digest, sizeof(m->digest), "%016llx", (unsigned long long)h);
}

/* One entry of "mappings" (a map) into *m. */
static int load_mapping(wb_yaml_loader *ld, const yaml_node_t *map,
                        size_t entry, wb_config_mapping *m)
{
    const yaml_node_t *v[MAP_NKEYS];
    char ctx[160];
    int rc;

    entry_ctx(ld, map, entry, ctx, sizeof(ctx));
    rc = wb_yaml_keys(ld, map, ctx, mapping_keys, MAP_NKEYS, v);
    if (rc)
        return rc;
    if (!v[MAP_NAME])
        return wb_yaml_missing(ld, map, ctx, "name");

    m->pos = node_pos(map);
    mapping_digest(ld, map, m);
    m->enabled = true;
    m->initial_copy = true;
    m->operations = WB_MAP_OP_ALL;
    rc = wb_yaml_string(ld, v[MAP_NAME], "name", &m->name);
    if (rc)
        return rc;
    if (m->name[0] == '\0')
        return wb_yaml_fail(ld, v[MAP_NAME], "mapping name is empty");
    snprintf(ctx, sizeof(ctx), "mapping \"%.100s\"", m->name);

    if ((rc = load_required(ld, map, v, ctx, m)) != 0 ||
        (rc = load_common(ld, v, m)) != 0)
        return rc;
    if (m->plugin.path)
        return 0;
    if ((rc = load_columns(ld, v, ctx, m)) != 0 ||
        (rc = load_policies(ld, v, m)) != 0)
        return rc;
    if (wb_mapping_number_refs(m, ld->arena) != 0)
        return wb_yaml_nomem(ld);
    return 0;
}

int wb_mappings_load(wb_yaml_loader *ld, const yaml_node_t *seq, wb_config *cfg)
{
    size_t n, k = 0;
    wb_yaml_dup *items;
    const wb_yaml_dup *first, *second;

    if (seq->type != YAML_SEQUENCE_NODE)
        return wb_yaml_fail(ld, seq, "\"mappings\" must be a list");
    n = seq_len(seq);
    if (n == 0) {
        wb_yaml_fail(ld, seq, "\"mappings\" must not be empty");
        wb_error_hint(ld->err, "Add at least one mapping with name, from, "
                               "to and key.");
        return WB_ECONFIG;
    }
    cfg->mappings = wb_arena_alloc(ld->arena, n * sizeof(*cfg->mappings));
    items = wb_arena_alloc(ld->arena, n * sizeof(*items));
    if (!cfg->mappings || !items)
        return wb_yaml_nomem(ld);
    memset(cfg->mappings, 0, n * sizeof(*cfg->mappings));
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++, k++) {
        const yaml_node_t *e = node_of(ld, *it);
        int rc;
        if (e->type != YAML_MAPPING_NODE)
            return wb_yaml_fail(ld, e,
                                "each entry of \"mappings\" must be a map");
        rc = load_mapping(ld, e, k, &cfg->mappings[k]);
        if (rc)
            return rc;
        /* Where the name was written, for a duplicate report. */
        items[k].s = cfg->mappings[k].name;
        items[k].pos = cfg->mappings[k].pos;
        items[k].order = k;
        for (yaml_node_pair_t *p = e->data.mapping.pairs.start;
             p < e->data.mapping.pairs.top; p++)
            if (strcmp(sval(node_of(ld, p->key)), "name") == 0)
                items[k].pos = node_pos(node_of(ld, p->value));
        cfg->nmappings = k + 1;
    }
    if (wb_yaml_find_dup(items, n, &first, &second)) {
        wb_yaml_fail_at(ld, second->pos.line, second->pos.col,
                        "duplicate mapping name \"%s\"", second->s);
        wb_error_detail(ld->err, "A mapping with this name is at line %d.",
                        first->pos.line);
        return WB_ECONFIG;
    }
    return 0;
}
