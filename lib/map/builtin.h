/*
 * map/builtin.h - the built-in declarative mapping (key, columns, values,
 * filter, on_delete ...), as a plugin behind the same struct wb_plugin as
 * external ones (walbridge/plugin.h).
 */
#ifndef WB_MAP_BUILTIN_H
#define WB_MAP_BUILTIN_H

#include "walbridge/plugin.h"

/*
 * The built-in plugin: static, never unloaded.  Its init() takes the
 * mapping's wb_config_mapping in wb_plugin_init.builtin.
 */
const wb_plugin *wb_builtin_plugin(void);

#endif
