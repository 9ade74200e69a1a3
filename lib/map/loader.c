/*
 * map/loader.c - load an external mapping plugin.
 *
 * RTLD_NOW so that a plugin with an unresolved symbol fails at start (and in
 * `walbridge check`), not in the middle of a transaction; RTLD_LOCAL so that
 * two plugins cannot see, or clash over, each other's symbols.  The ABI check
 * reads only the first two members before trusting anything else: a plugin
 * built for another ABI may have a different layout after them.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map/loader.h"

struct wb_plugin_handle {
    void *dl;
    const wb_plugin *p;
};

/* The smallest wb_plugin that has every callback of ABI 1 (for the
 * message; the test is WB_PLUGIN_HAS(p, fini)). */
#define MIN_PLUGIN_SIZE (offsetof(wb_plugin, fini) + sizeof(void (*)(void)))

static int load_fail(wb_error *err, const wb_config_mapping *m,
                     const char *config_path, const char *fmt, const char *a,
                     const char *b)
{
    wb_error_set(err, WB_ECONFIG, fmt, a, b);
    wb_error_position(err, config_path, m->plugin.pos.line, m->plugin.pos.col);
    return WB_ECONFIG;
}

int wb_plugin_load(const wb_config_mapping *m, const char *config_path,
                   wb_plugin_handle **out, wb_error *err)
{
    const char *path = m->plugin.path;
    char full[4096];
    wb_plugin_handle *h;
    wb_plugin_entry_fn entry;
    const wb_plugin *p;
    void *dl;

    *out = NULL;
    if (path[0] != '/') {
        /* Relative to the config file's directory; "./" when it has none,
         * since dlopen would search LD_LIBRARY_PATH for a bare name. */
        const char *slash = config_path ? strrchr(config_path, '/') : NULL;
        int dirlen = slash ? (int)(slash - config_path) : 1;
        int n = snprintf(full, sizeof(full), "%.*s/%s", dirlen,
                         slash ? config_path : ".", path);
        if (n < 0 || (size_t)n >= sizeof(full))
            return load_fail(err, m, config_path,
                             "plugin path \"%s\" is too long%s", path, "");
        path = full;
    }
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        load_fail(err, m, config_path,
                  "could not load plugin \"%s\" of "
                  "mapping \"%s\"",
                  path, m->name);
        wb_error_detail(err, "%s", dlerror());
        return WB_ECONFIG;
    }
    *(void **)&entry = dlsym(dl, WB_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        load_fail(err, m, config_path,
                  "plugin \"%s\" does not export "
                  "\"%s\"",
                  path, WB_PLUGIN_ENTRY_SYMBOL);
        wb_error_hint(err, "A plugin exports const wb_plugin "
                           "*walbridge_plugin(void); see "
                           "walbridge/plugin.h.");
        dlclose(dl);
        return WB_ECONFIG;
    }
    p = entry();
    if (!p || p->abi_version != WB_PLUGIN_ABI_VERSION) {
        char got[32];
        snprintf(got, sizeof(got), "%u", p ? (unsigned)p->abi_version : 0u);
        load_fail(err, m, config_path,
                  "plugin \"%s\" was built for plugin "
                  "ABI version %s",
                  path, got);
        wb_error_detail(err, "This walbridge speaks plugin ABI version %d.",
                        WB_PLUGIN_ABI_VERSION);
        wb_error_hint(err, "Rebuild the plugin against this walbridge's "
                           "walbridge/plugin.h.");
        dlclose(dl);
        return WB_ECONFIG;
    }
    if (!WB_PLUGIN_HAS(p, fini) || !p->init || !p->map || !p->name) {
        load_fail(err, m, config_path,
                  "plugin \"%s\" returned an "
                  "incomplete wb_plugin%s",
                  path, "");
        wb_error_detail(err,
                        "size %u (at least %zu expected); name, init "
                        "and map are required.",
                        (unsigned)p->size, (size_t)MIN_PLUGIN_SIZE);
        dlclose(dl);
        return WB_ECONFIG;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        dlclose(dl);
        return wb_error_set(err, WB_ENOMEM, "out of memory loading a plugin");
    }
    h->dl = dl;
    h->p = p;
    *out = h;
    return 0;
}

const wb_plugin *wb_plugin_get(const wb_plugin_handle *h)
{
    return h->p;
}

void wb_plugin_unload(wb_plugin_handle *h)
{
    if (!h)
        return;
    dlclose(h->dl);
    free(h);
}
