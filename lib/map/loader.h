/*
 * map/loader.h - loading external mapping plugins (dlopen); the built-in
 * declarative mapping is registered through the same wb_plugin struct
 * (map/builtin.h, walbridge/plugin.h).
 */
#ifndef WB_MAP_LOADER_H
#define WB_MAP_LOADER_H

#include "config/config.h"
#include "common/error.h"
#include "walbridge/plugin.h"

typedef struct wb_plugin_handle wb_plugin_handle;

/*
 * dlopen the plugin of mapping m (m->plugin.path; a relative path is taken
 * from the directory of config_path), find WB_PLUGIN_ENTRY_SYMBOL and check
 * the ABI version and struct size.  On failure returns WB_ECONFIG with err
 * naming the path and the config position of plugin.path.
 */
int wb_plugin_load(const wb_config_mapping *m, const char *config_path,
                   wb_plugin_handle **out, wb_error *err);
const wb_plugin *wb_plugin_get(const wb_plugin_handle *h);
/* dlclose; NULL is allowed.  Call fini on every state first. */
void wb_plugin_unload(wb_plugin_handle *h);

#endif
