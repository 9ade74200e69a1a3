/*
 * example_util.h - helpers shared by the example plugins (header only, so
 * that each plugin stays one shared object built from one .c file).
 *
 * Configuration checks report a message (lower case, no period) and the
 * offending node through wb_plugin_init.errbuf/errnode; walbridge adds the
 * file:line:column of that node.
 */
#ifndef WB_EXAMPLE_UTIL_H
#define WB_EXAMPLE_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "walbridge/plugin.h"

static inline int cfg_fail(wb_plugin_init *args, const wb_plugin_node *at,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int cfg_fail(wb_plugin_init *args, const wb_plugin_node *at,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (args->errbuf && args->errbuf_size)
        vsnprintf(args->errbuf, args->errbuf_size, fmt, ap);
    va_end(ap);
    /* errnode was appended to wb_plugin_init: only set it when the host's
     * struct has it. */
    if (WB_PLUGIN_HAS(args, errnode))
        args->errnode = at;
    return -1;
}

/* Every key of map must be one of known[]; known ends with NULL. */
static inline int cfg_known_keys(wb_plugin_init *args, const char *plugin,
                                 const wb_plugin_node *map,
                                 const char *const *known)
{
    for (size_t i = 0; i < map->n; i++) {
        size_t k = 0;
        while (known[k] && strcmp(known[k], map->keys[i]) != 0)
            k++;
        if (!known[k])
            return cfg_fail(args, &map->items[i],
                            "unknown key \"%s\" in the configuration of "
                            "plugin %s",
                            map->keys[i], plugin);
    }
    return 0;
}

static inline const wb_plugin_node *cfg_get(const wb_plugin_node *map,
                                            const char *key)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return &map->items[i];
    return NULL;
}

/* A required (or, with optional, possibly absent) non-empty scalar. */
static inline int cfg_scalar(wb_plugin_init *args, const char *plugin,
                             const wb_plugin_node *map, const char *key,
                             int optional, const char **out)
{
    const wb_plugin_node *n = cfg_get(map, key);
    *out = NULL;
    if (!n) {
        if (optional)
            return 0;
        return cfg_fail(args, map,
                        "the configuration of plugin %s has no \"%s\"", plugin,
                        key);
    }
    if (n->kind != WB_PLUGIN_NODE_SCALAR || !n->value || !n->value[0])
        return cfg_fail(args, n,
                        "\"%s\" in the configuration of plugin %s must be "
                        "a non-empty name",
                        key, plugin);
    *out = n->value;
    return 0;
}

/* A required map of source column: target column, at least one pair. */
static inline int cfg_colmap(wb_plugin_init *args, const char *plugin,
                             const wb_plugin_node *map, const char *key,
                             int optional, const wb_plugin_node **out)
{
    const wb_plugin_node *n = cfg_get(map, key);
    *out = NULL;
    if (!n) {
        if (optional)
            return 0;
        return cfg_fail(args, map,
                        "the configuration of plugin %s has no \"%s\"", plugin,
                        key);
    }
    if (n->kind != WB_PLUGIN_NODE_MAPPING || (n->n == 0 && !optional))
        return cfg_fail(args, n,
                        "\"%s\" in the configuration of plugin %s must be a "
                        "map of source column: target column",
                        key, plugin);
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i].kind != WB_PLUGIN_NODE_SCALAR || !n->items[i].value ||
            !n->items[i].value[0] || !n->keys[i][0])
            return cfg_fail(args, &n->items[i],
                            "\"%s\" in the configuration of plugin %s must "
                            "be a map of source column: target column",
                            key, plugin);
    *out = n;
    return 0;
}

/* Position of column name in the change, or -1. */
static inline int col_index(const wb_plugin_change *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    return -1;
}

/* A value the source really sent (text or NULL). */
static inline int is_known(const wb_plugin_value *v)
{
    return v &&
           (v->kind == WB_PLUGIN_VALUE_TEXT || v->kind == WB_PLUGIN_VALUE_NULL);
}

/* The column as the row now is: the new value, or a full old row's when
 * the new one is an unchanged TOAST value. */
static inline const wb_plugin_value *current_value(const wb_plugin_change *c,
                                                   int idx)
{
    const wb_plugin_value *v = &c->newv[idx];
    if (v->kind == WB_PLUGIN_VALUE_UNCHANGED && c->oldv &&
        is_known(&c->oldv[idx]))
        return &c->oldv[idx];
    return v;
}

/* Text of key column idx (from the old row when the source sent it, for
 * updates and deletes; else the new row).  A NULL or missing key value is an
 * error naming the column. */
static inline int key_value(const wb_plugin_change *c, int idx, int old,
                            const char *mapping, const wb_plugin_host *host,
                            void *ctx, const char **out)
{
    const wb_plugin_value *v = NULL;
    if (old && c->oldv && is_known(&c->oldv[idx]))
        v = &c->oldv[idx];
    else if (c->newv)
        v = current_value(c, idx);
    if (v && v->kind == WB_PLUGIN_VALUE_NULL)
        return host->error(ctx, c->names[idx],
                           "null value in key column \"%s\" of mapping "
                           "\"%s\"",
                           c->names[idx], mapping);
    if (!v || v->kind != WB_PLUGIN_VALUE_TEXT) {
        host->error(ctx, c->names[idx],
                    "key column \"%s\" of mapping \"%s\" has no value in "
                    "the change",
                    c->names[idx], mapping);
        host->hint(ctx, "Use key columns covered by the source table's "
                        "replica identity, or set REPLICA IDENTITY FULL on "
                        "it.");
        return -1;
    }
    *out = v->text;
    return 0;
}

#endif
